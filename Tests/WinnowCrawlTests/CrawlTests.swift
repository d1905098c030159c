import Foundation
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowCrawl

func readAll(
    _ paths: [String], extractor: WATExtractor = WATExtractor(), lists: URLListOptions = URLListOptions()
) throws -> (candidates: [Candidate], skipped: [RecordError]) {
    let reader = try CandidateReader(paths: paths, extractor: extractor, lists: lists)
    var candidates: [Candidate] = []
    var skipped: [RecordError] = []
    while let e = try reader.next() {
        switch e {
        case .candidate(let c): candidates.append(c)
        case .skipped(let r): skipped.append(r)
        }
    }
    return (candidates, skipped)
}

func expectedRows(_ name: String) throws -> [[String: String]] {
    let text = try String(
        contentsOfFile: TestSupport.shared("commoncrawl/expected/\(name).cc2dataset-image.jsonl"), encoding: .utf8)
    return try text.split(separator: "\n").map {
        try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] ?? [:]
    }
}

@Suite struct RealWATTests {
    @Test func pycommoncrawlHasItsImageLinks() throws {
        let (c, skipped) = try readAll([
            TestSupport.shared("commoncrawl/wat/pycommoncrawl-file1.crlf-restored.warc.wat.gz")
        ])
        #expect(skipped.isEmpty)
        #expect(c.count == 35)  // the README: 2 HTML pages, 35 IMG links
        #expect(c.filter { !$0.caption.isEmpty }.count == 10)  // 10 with alt
        #expect(Set(c.map(\.pageURL)) == ["http://013info.rs/vesti/hronika/pancevo-ubistvo-na-sodari"])
        // Whitespace around a relative URL is trimmed before it is resolved against the page.
        #expect(c.contains { $0.url == "http://013info.rs/sites/all/themes/nula_trinaest/img/logo-huge.png" })
        #expect(
            c.allSatisfy { $0.provenance.recordID?.hasPrefix("<urn:uuid:") == true && $0.provenance.pageDate != nil })
    }

    @Test func lfOnlySingleMemberFileGivesTheSameCandidates() throws {
        let crlf = try readAll([TestSupport.shared("commoncrawl/wat/pycommoncrawl-file1.crlf-restored.warc.wat.gz")])
            .candidates
        let lf = try readAll([TestSupport.shared("commoncrawl/wat/pycommoncrawl-file1.lf-only.warc.wat.gz")])
        #expect(lf.skipped.isEmpty)
        #expect(lf.candidates.map(\.key) == crlf.map(\.key))
    }

    @Test func uncompressedWATWithoutHTMLGivesNothingAndNoError() throws {
        let r = try readAll([TestSupport.shared("commoncrawl/wat/cbeams-well-formed.warc.wat")])
        #expect(r.candidates.isEmpty && r.skipped.isEmpty)
    }

    /// cc2dataset is a reference, not a gold standard: where it is right, we agree.
    @Test(arguments: [
        ("pycommoncrawl-file1.crlf-restored.warc.wat.gz", "derived_pycommoncrawl_file1.crlf-restored.warc.wat.gz"),
        (
            "generated_ia-web-commons_link-extraction-test.warc.wat.gz",
            "generated_ia-web-commons_link-extraction-test.warc.wat.gz"
        ),
        ("generated_whirlwind-python_whirlwind.warc.wat.gz", "generated_whirlwind-python_whirlwind.warc.wat.gz"),
        ("generated_resiliparse_warcfile.warc.wat.gz", "generated_resiliparse_warcfile.warc.wat.gz"),
    ])
    func agreesWithCC2Dataset(wat: String, expected: String) throws {
        let ours = try readAll([TestSupport.shared("commoncrawl/wat/\(wat)")]).candidates
        let pairs = Set(ours.map { "\($0.url) \($0.pageURL)" })
        for row in try expectedRows(expected) {
            let url = (row["url"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(
                pairs.contains("\(url) \(row["page_url"] ?? "")"),
                "cc2dataset's \(url) on \(row["page_url"] ?? "") is missing")
        }
    }

    /// cc2dataset's image_only rows are every IMG link, with or without alt: each one is among our candidates
    /// (same URL, same page) in every file, wget's bracketed page URLs unwrapped.
    @Test(arguments: [
        "derived_pycommoncrawl_file1.crlf-restored.warc.wat.gz:pycommoncrawl-file1.crlf-restored.warc.wat.gz",
        "generated_dolma_sample-0000.warc.wat.gz", "generated_dolma_sample-0001.warc.wat.gz",
        "generated_resiliparse_warcfile.warc.wat.gz", "generated_whirlwind-python_whirlwind.warc.wat.gz",
        "generated_ia-web-commons_link-extraction-test.warc.wat.gz",
    ])
    func everyImageOnlyRowIsACandidate(names: String) throws {
        let parts = names.split(separator: ":").map(String.init)
        let expectedName = parts[0]
        let wat = parts.count > 1 ? parts[1] : parts[0]
        let ours = try readAll([TestSupport.shared("commoncrawl/wat/\(wat)")]).candidates
        let pairs = Set(ours.map { "\($0.url) \($0.pageURL)" })
        let text = try String(
            contentsOfFile: TestSupport.shared("commoncrawl/expected/\(expectedName).cc2dataset-image_only.jsonl"),
            encoding: .utf8)
        var checked = 0
        for line in text.split(separator: "\n") {
            let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String] ?? [:]
            // WHATWG removes tabs and newlines inside URLs; cc2dataset keeps them.
            let raw = (row["url"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let url = String(
                String.UnicodeScalarView(raw.unicodeScalars.filter { $0 != "\r" && $0 != "\n" && $0 != "\t" }))
            let page = WATExtractor.stripAngles(row["page_url"] ?? "")
            // cc2dataset resolves relative URLs against the bracketed target, which gives nothing usable.
            if url.contains("<http") { continue }
            let found = pairs.contains("\(url) \(page)")
            #expect(found, "\(url) on \(page)")
            checked += 1
        }
        #expect(checked > 0)
    }

    /// wget writes `WARC-Target-URI: <https://...>`: cc2dataset keeps the brackets (and loses relative images); we strip them.
    @Test func wgetAngleBracketTargetsAreStripped() throws {
        let ours = try readAll([TestSupport.shared("commoncrawl/wat/generated_dolma_sample-0000.warc.wat.gz")])
            .candidates
        #expect(!ours.isEmpty)
        #expect(ours.allSatisfy { $0.pageURL.hasPrefix("http") })
        let pairs = Set(ours.map { "\($0.url) \($0.pageURL)" })
        for row in try expectedRows("generated_dolma_sample-0000.warc.wat.gz") {
            let page = WATExtractor.stripAngles(row["page_url"] ?? "")
            #expect(pairs.contains("\(row["url"] ?? "") \(page)"))
        }
    }

    @Test func recordOffsetsPointAtTheRecordsGzipMember() throws {
        let path = TestSupport.shared("commoncrawl/wat/pycommoncrawl-file1.crlf-restored.warc.wat.gz")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for c in try readAll([path]).candidates.prefix(3) {
            let tail = TestSupport.temporaryDirectory() + "/tail.gz"
            try Data(bytes[Int(c.provenance.recordOffset)...]).write(to: URL(fileURLWithPath: tail))
            let text = String(decoding: try Gzip.decompress(path: tail).prefix(4096), as: UTF8.self)
            #expect(text.hasPrefix("WARC/1.0\r\nWARC-Type: metadata"))
            #expect(text.contains(c.pageURL))
        }
    }
}

@Suite struct BadInputTests {
    func record(_ json: String) -> (headers: [(String, String)], block: [UInt8]) {
        (
            [("WARC-Type", "metadata"), ("WARC-Target-URI", "http://a.test/"), ("Content-Type", "application/json")],
            Array(json.utf8)
        )
    }

    let goodJSON = """
        {"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response","WARC-Target-URI":"http://a.test/p.html"},
        "Payload-Metadata":{"HTTP-Response-Metadata":{"HTML-Metadata":{"Head":{"Base":"http://a.test/img/"},
        "Links":[{"path":"IMG@/src","url":"x.jpg","alt":"a  red &amp; blue\\n circle"},{"path":"IMG@/src","alt":"no url"}]}}}}}
        """

    /// A request's or a metadata record's JSON is read only up to its WARC-Type: nothing after it is taken, so a
    /// fault there is not reported; the same fault in a response's JSON is.
    @Test func onlyResponsesAreReadPastTheirType() throws {
        let dir = TestSupport.temporaryDirectory()
        let path = dir + "/types.warc.wat.gz"
        let w = try WARCWriter(path: path)
        let broken = #"},"Payload-Metadata":{"HTTP-Response-Metadata":{"Entity-Length" "0"}}}}"#
        for type in ["request", "metadata", "response"] {
            let r = record(#"{"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"\#(type)""# + broken)
            try w.write(headers: r.headers, block: r.block)
        }
        // Common Crawl's order: the payload (with its type) first, the WARC header last. A request's or a metadata
        // record's payload type ends the read; a response's does not.
        let tail = #","Links":[{"path":"IMG@/src","url":"http://a.test/i.jpg","alt":"an image"}]"#
        for type in [
            "application/http; msgtype=request", "application/warc-fields", "application/http; msgtype=response",
        ] {
            let r = record(
                #"{"Envelope":{"Payload-Metadata":{"Actual-Content-Type":"\#(type)","HTTP-Response-Metadata":"#
                    + #"{"HTML-Metadata":{"Head":{}"# + tail + #"}}},"WARC-Header-Metadata":{"WARC-Type":"response"#
                    + (type.hasSuffix("response") ? #"","WARC-Target-URI":"http://a.test/"}}}"# : #"" "broken"#))
            try w.write(headers: r.headers, block: r.block)
        }
        try w.close()
        let (c, skipped) = try readAll([path])
        #expect(c.map(\.url) == ["http://a.test/i.jpg"])
        #expect(skipped.map(\.code) == ["bad_json"])
        #expect(skipped.first?.message.contains("expected ':'") == true)
    }

    @Test func malformedJSONSkipsOnlyThatRecord() throws {
        let dir = TestSupport.temporaryDirectory()
        let path = dir + "/bad.warc.wat.gz"
        let w = try WARCWriter(path: path)
        let r1 = record("{\"Envelope\": [not json")
        let badOffset = try w.write(headers: r1.headers, block: r1.block)
        let r2 = record(goodJSON)
        try w.write(headers: r2.headers, block: r2.block)
        try w.close()
        let (c, skipped) = try readAll([path])
        #expect(skipped.count == 1)
        #expect(skipped.first?.code == "bad_json")
        #expect(skipped.first?.offset == badOffset)
        #expect(skipped.first?.description.contains(path) == true)
        // The link without a url is skipped; <base> resolves the relative one; entities and whitespace are cleaned.
        #expect(c.map(\.url) == ["http://a.test/img/x.jpg"])
        #expect(c.first?.caption == "a red & blue circle")
    }

    @Test func truncatedGzipKeepsEarlierRecordsAndSaysWhere() throws {
        let dir = TestSupport.temporaryDirectory()
        let path = dir + "/t.warc.wat.gz"
        let w = try WARCWriter(path: path)
        let r = record(goodJSON)
        try w.write(headers: r.headers, block: r.block)
        let second = try w.write(headers: r.headers, block: r.block + Array(repeating: 32, count: 5000))
        try w.close()
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.removeLast(40)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (c, skipped) = try readAll([path])
        #expect(c.count == 1)
        #expect(skipped.count == 1)
        #expect(skipped.first?.message.contains("offset \(second)") == true)
    }

    @Test func headerWithoutContentLengthResynchronises() throws {
        let dir = TestSupport.temporaryDirectory()
        let path = dir + "/plain.warc.wat"
        let good =
            "WARC/1.0\r\nWARC-Type: metadata\r\nContent-Type: application/json\r\nContent-Length: \(goodJSON.utf8.count)\r\n\r\n\(goodJSON)\r\n\r\n"
        let text = "WARC/1.0\r\nWARC-Type: metadata\r\n\r\ngarbage\r\n\r\n" + good
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let (c, skipped) = try readAll([path])
        #expect(skipped.map(\.code) == ["bad_warc_header"])
        #expect(c.count == 1)
    }

    @Test func missingInputIsAClearError() {
        let error = #expect(throws: WinnowError.self) { try CandidateReader(paths: ["/no/such/file.wat.gz"]) }
        #expect(error?.message.contains("/no/such/file.wat.gz") == true)
    }
}

@Suite struct InputKindTests {
    @Test func urlListsAndCandidateLinesAreRead() throws {
        let dir = TestSupport.temporaryDirectory()
        try Data("http://a.test/1.jpg\n# comment\n\nnot a url\nhttps://B.test/2.png\n".utf8).write(
            to: URL(fileURLWithPath: dir + "/urls.txt"))
        let list = try readAll([dir + "/urls.txt"])
        #expect(list.candidates.map(\.url) == ["http://a.test/1.jpg", "https://b.test/2.png"])
        #expect(list.skipped.map(\.code) == ["bad_url"])
        try Data((#"{"url":"http://a.test/1.jpg","caption":"a red circle"}"# + "\n{oops\n").utf8).write(
            to: URL(fileURLWithPath: dir + "/c.jsonl"))
        let lines = try readAll([dir + "/c.jsonl"])
        #expect(lines.candidates.map(\.caption) == ["a red circle"])
        #expect(lines.skipped.map(\.code) == ["bad_json"])
    }
}

@Suite struct FilterTests {
    func candidate(_ url: String, _ caption: String, signals: [String] = []) -> Candidate {
        Candidate(
            url: url, caption: caption, pageURL: "http://a.test/",
            provenance: Provenance(inputFile: "f", recordOffset: 0), optOutSignals: signals)
    }

    @Test func laionFilters() {
        let f = CandidateFilter(settings: CandidateFilterSettings())
        #expect(f.check(candidate("http://a.test/x.jpg", "abcd"))?.code == "caption_too_short")
        // Code points, as Python's len counts them: four two-byte letters are too short, five are not.
        #expect(f.check(candidate("http://a.test/e.jpg", "éééé"))?.description == "caption_too_short: 4 characters")
        #expect(f.check(candidate("http://a.test/e.jpg", "ééééé")) == nil)
        #expect(f.check(candidate("http://a.test/e.jpg", "😀😀😀😀")) != nil)
        #expect(f.check(candidate("http://a.test/x.GIF?v=1", "a long caption"))?.code == "extension_dropped")
        #expect(
            f.check(candidate("http://a.test/" + String(repeating: "x", count: 2001), "a long caption"))?.code
                == "url_too_long")
        #expect(
            f.check(candidate("http://a.test/x.jpg", "a long caption", signals: ["meta-robots:noai"]))?.code
                == "page_optout")
        #expect(f.check(candidate("http://a.test/x.jpg", "a long caption")) == nil)
        #expect(f.check(candidate("http://a.test/x.jpg", "a long caption"))?.code == "duplicate_url_caption")
    }

    @Test func optOutSignalsFromMetasAndHeaders() {
        var s: [String] = []
        PageSignals.meta(name: "Robots", content: "index, NoAI", into: &s)
        PageSignals.meta(name: "tdm-reservation", content: "1", into: &s)
        PageSignals.meta(name: "tdm-policy", content: "https://a.test/policy.json", into: &s)
        PageSignals.header(name: "X-Robots-Tag", value: "noimageai", into: &s)
        PageSignals.header(name: "X-Robots-Tag", value: "otherbot: noai", into: &s)  // addressed to another crawler
        PageSignals.header(name: "x-robots-tag", value: "CCBot: noindex", into: &s)
        PageSignals.header(name: "TDM-Reservation", value: "1", into: &s)
        #expect(
            Set(s) == [
                "meta-robots:noai", "meta-tdm-reservation:1", "meta-tdm-policy:https://a.test/policy.json",
                "x-robots-tag:noimageai", "x-robots-tag:noindex", "header-tdm-reservation:1",
            ])
    }

    @Test func urlNormalization() {
        let base = "http://Example.test/a/b.html"
        #expect(URLNormalizer.resolve("  ../img/x y.jpg#frag ", against: base) == "http://example.test/img/x%20y.jpg")
        #expect(URLNormalizer.resolve("data:image/png;base64,xx", against: base) == nil)
        #expect(URLNormalizer.resolve("javascript:void(0)", against: base) == nil)
        #expect(URLNormalizer.resolve("ftp://a.test/x.jpg", against: base) == nil)
        #expect(
            URLNormalizer.resolve("HTTPS://A.test/x.jpg?a=1&amp;b=2", against: nil) == "https://a.test/x.jpg?a=1&b=2")
        #expect(URLExtension.of("http://a.test/x.JPEG?q=1") == "jpeg")
        #expect(URLExtension.of("http://a.test/dir.d/file") == "")
    }
}

/// WHATWG URL Standard behaviour (expected values as the standard's parser gives them).
@Suite struct JoinHashTests {
    /// Reference values from Python's mmh3 and hashlib (the libraries LAION and cc2dataset use).
    @Test func laionHashAndCC2DatasetUID() {
        #expect(Candidate.laionHash(url: "http://a.test/x.jpg", caption: "a red circle") == -1_071_780_879_762_411_982)
        #expect(
            Candidate.laionHash(
                url: "https://example.com/\u{E9}.jpg", caption: "\u{65E5}\u{672C}\u{8A9E}\u{306E}\u{8AAC}\u{660E}")
                == -8_074_651_393_628_381_081)
        #expect(Murmur3.hash64("foo") == UInt64(bitPattern: -2_129_773_440_516_405_919))
        #expect(Candidate.key(url: "http://a.test/x.jpg", caption: "a red circle") == "f12044f7e8b4ae32")
        #expect(MD5.hexDigest([]) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(MD5.hexDigest(Array("foo".utf8)) == "acbd18db4cc2f85cedef654fccc4a4d8")
    }

    /// Every tail length of MurmurHash3's 16-byte blocks: `mmh3.hash64(s[:n])[0]` (mmh3 5.3.1) for the first n
    /// letters of "abc...zabc...", n = 0...33.
    @Test func murmurTailsAgreeWithMMH3() {
        let expected: [Int64] = [
            0, -8839064797231613815, -7815133031266706642, -5434086359492102041, -5153323217664422577,
            2321271983248423864, -1982280103179862187, -6427428730009885543, -3708139591217214462,
            380484692874131812, -5277837174909203303, -6298899011365987070, -8145996112604765804,
            1605577856027523699, -7939682693950507552, -8449275918290243589, -4266531025627334877,
            8459014091212432983, 8642562632588429904, 1553948733687623048, 3533978973131760369, -3903098180127962820,
            -7671632165822793642, 4631964013369959310, 7247582695085976823, 8207752751930119695, 8402764170624191145,
            -614100390267679347, 4926729790753613276, 9188584601610278409, -3381424439564772478, 799163215706373015,
            -5213036865989332556, 8698916986538439966,
        ]
        let letters = Array((0..<40).map { UInt8(0x61 + $0 % 26) })
        for (n, value) in expected.enumerated() {
            let h = letters.withUnsafeBytes { Murmur3.hash64(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            #expect(Int64(bitPattern: h) == value, "length \(n)")
            // Split anywhere into two parts read where they lie (url and caption), the same hash.
            for cut in 0...n {
                let split = letters.withUnsafeBytes {
                    Murmur3.hash64(
                        UnsafeRawBufferPointer(rebasing: $0[0..<cut]), UnsafeRawBufferPointer(rebasing: $0[cut..<n]))
                }
                #expect(split == h, "length \(n) cut at \(cut)")
            }
        }
    }

    /// cc2dataset's uid is md5(alt + url): ours agrees wherever cleaning did not change the alt or the url.
    @Test func uidsAgreeWithCC2Dataset() throws {
        let files = [
            "generated_resiliparse_warcfile.warc.wat.gz", "generated_whirlwind-python_whirlwind.warc.wat.gz",
            "generated_ia-web-commons_link-extraction-test.warc.wat.gz",
        ]
        let ours = try readAll(files.map { TestSupport.shared("commoncrawl/wat/\($0)") }).candidates
        let uids = Set(ours.map(\.cc2datasetUID))
        var agreed = 0
        for row in try files.flatMap({ try expectedRows($0) }) {
            let alt = row["alt"] ?? ""
            guard alt == TextCleaner.clean(alt), !alt.isEmpty, !(row["page_url"] ?? "").hasPrefix("<") else { continue }
            #expect(uids.contains(row["uid"] ?? ""), "\(row)")
            agreed += 1
        }
        #expect(agreed >= 30)
    }
}

@Suite struct LazyAndParallelTests {
    @Test func srcsetAndPlaceholders() {
        #expect(LazyImage.largest(srcset: "a.jpg 480w, b.jpg 1080w, c.jpg 800w") == "b.jpg")
        #expect(LazyImage.largest(srcset: "a.jpg, b.jpg 2x") == "b.jpg")
        #expect(LazyImage.isPlaceholder("data:image/gif;base64,R0lGOD"))
        #expect(LazyImage.isPlaceholder("/img/blank.gif"))
        #expect(!LazyImage.isPlaceholder("/img/photo.jpg"))
    }

    @Test func lazyLoadingAttributesInTheWATAreUsedAndReported() throws {
        let dir = TestSupport.temporaryDirectory()
        let json = """
            {"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response","WARC-Target-URI":"http://a.test/p.html"},
            "Payload-Metadata":{"HTTP-Response-Metadata":{"HTML-Metadata":{"Links":[
            {"path":"IMG@/src","url":"data:image/gif;base64,R0lG","data-src":"/real.jpg","alt":"a lazy picture"},
            {"path":"IMG@/src","url":"spacer.gif","srcset":"s.jpg 100w, l.jpg 900w","alt":"a responsive picture"},
            {"path":"IMG@/src","alt":"no url at all"}]}}}}}
            """
        let w = try WARCWriter(path: dir + "/l.warc.wat.gz")
        try w.write(
            headers: [("WARC-Type", "metadata"), ("Content-Type", "application/json")], block: Array(json.utf8))
        try w.close()
        let reader = try CandidateReader(paths: [dir + "/l.warc.wat.gz"])
        var got: [Candidate] = []
        while let e = try reader.next() { if case .candidate(let c) = e { got.append(c) } }
        #expect(got.map(\.url) == ["http://a.test/real.jpg", "http://a.test/l.jpg"])
        #expect(got.map(\.urlAttribute) == ["data-src", "srcset"])
        #expect(reader.counters.counts["link_without_url"] == 1)
    }

    @Test func twoThreadsFindTheSameCandidatesAsOne() throws {
        // Large enough (> 4 MB) to be split: the replicated real samples.
        let dir = TestSupport.temporaryDirectory()
        let path = dir + "/big.warc.wat.gz"
        var data = Data()
        let fixtures = TestSupport.shared("commoncrawl/wat")
        let names = try FileManager.default.contentsOfDirectory(atPath: fixtures).filter { $0.hasPrefix("generated_") }
            .sorted()
        for _ in 0..<16 {
            for n in names { data.append(try Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/\(n)"))) }
        }
        try data.write(to: URL(fileURLWithPath: path))
        func keys(_ threads: Int, path: String = path) throws -> [String] {
            let r = try CandidateReader(paths: [path], threads: threads)
            var k: [String] = []
            while let e = try r.next() {
                if case .candidate(let c) = e { k.append("\(c.key)@\(c.provenance.recordOffset)") }
            }
            return k
        }
        let one = try keys(1)
        let two = try keys(2)
        #expect(one.count > 8000)
        #expect(one.sorted() == two.sorted())
        #expect(try MemberReader.split(path: path, parts: 2).count == 2)
        // A symbolic link to the file is split like the file (its size is the target's).
        let link = dir + "/link.warc.wat.gz"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        #expect(try MemberReader.split(path: link, parts: 2).count == 2)
        #expect(try keys(2, path: link).sorted() == one.sorted())
    }

    @Test func corruptMemberInTheMiddleIsSkippedAndReadingGoesOn() throws {
        let dir = TestSupport.temporaryDirectory()
        let path = dir + "/c.warc.wat.gz"
        let w = try WARCWriter(path: path)
        let json =
            #"{"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response","WARC-Target-URI":"http://a.test/"},"Payload-Metadata":{"HTTP-Response-Metadata":{"HTML-Metadata":{"Links":[{"path":"IMG@/src","url":"x.jpg","alt":"a picture here"}]}}}}}"#
        var offsets: [Int64] = []
        for _ in 0..<3 {
            offsets.append(
                try w.write(
                    headers: [("WARC-Type", "metadata"), ("Content-Type", "application/json")], block: Array(json.utf8))
            )
        }
        try w.close()
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for i in Int(offsets[1]) + 20..<Int(offsets[1]) + 40 { bytes[i] ^= 0x5a }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (c, skipped) = try readAll([path])
        #expect(c.count == 2)
        #expect(skipped.map(\.code) == ["corrupt_gzip"])
        #expect(skipped.first?.offset == offsets[1])
        #expect(c.map(\.provenance.recordOffset) == [offsets[0], offsets[2]])
    }
}

@Suite struct FastURLTests {
    /// The fast path must give exactly what the full WHATWG parser gives, or step aside.
    @Test func fastPathAgreesWithTheParserOnRealLinks() throws {
        let base = try WebURL.parse("https://Example.test/dir/page.html")
        var checked = 0
        let samples = [
            "http://A.test/x.jpg", "HTTPS://a.test", "https://a.test?q=1", "/img/a.png?x=1&y=2", "/a/./b.png",
            "http://a.test:80/x", "http://1.2.3.4/x", "http://a.test/x y.jpg", "/caf%C3%A9.png", "//cdn.test/x",
            "http://a.test/.hidden/x.png", "http://user@a.test/", "http://a.test./x", "/x.png#frag", "/%2E%2E/up.jpg",
            "/a/%2e/b.png", "/p%2e/x.jpg", "http://a.test/%2e%2E/x", "http://a.test/100%.jpg", "/q.png?x=%2e&y=%zz",
        ]
        let fixtures = try readAll([TestSupport.shared("commoncrawl/wat/generated_resiliparse_warcfile.warc.wat.gz")])
            .candidates.map(\.url)
        for input in samples + fixtures {
            if let fast = WebURL.fastHref(input, base: base) {
                #expect(fast == (try WebURL.parse(input, base: base)).href, "\(input)")
                checked += 1
            }
        }
        #expect(checked > 100)
        // The page URL's fast parse: the same WebURL as the parser's, fields and all.
        var parsed = 0
        for input in samples + fixtures + ["http://a.test?q=1", "HTTP://A.TEST", "https://a.test/p?"] {
            if let fast = WebURL.fastParse(input) {
                #expect(fast == (try WebURL.parse(input)), "\(input)")
                parsed += 1
            }
        }
        #expect(parsed > 100)
        // Scheme-relative and path-relative references against bases of every shape.
        let relative = [
            "img/a.png", "a.png?x=1&y=2", "a:b/c.png", "./a.png", "../a.png", "img/../a.png", "img/./a.png", "xy",
            "//CDN.test/x.png?q", "//cdn.test", "//cdn.test?q=1", "//cdn.test:8080/x", "//user@cdn.test/x",
            "//cdn.test./x", "//1.2.3.4/x", "mailto:x@y.test", "javascript:void(0)", "data:image/png;base64,AAAA",
            "?q=1", "#f", "a b.png", "é.png", "a\\b.png", "img/%41.png", "a.png#frag", "a.png?", ".hidden.png",
            "img/a.png?u=http://x.test/y", "IMG/A.PNG", "a//b.png", "a?b/../c", "%2e%2e/a.png", "img/%2E/a.png",
            "a%2ejpg", "q.jpg?x=%2e", "100%.png", "%zz/a.png",
        ]
        let bases = [
            "https://Example.test/dir/page.html", "http://a.test", "http://a.test/dir/", "http://u:p@a.test:8080/d/x?q",
            "https://a.test/d%C3%A9/x.html",
        ]
        var relativeChecked = 0
        for b in bases {
            let base = try WebURL.parse(b)
            for input in relative {
                if let fast = WebURL.fastHref(input, base: base) {
                    #expect(fast == (try WebURL.parse(input, base: base)).href, "\(input) against \(b)")
                    relativeChecked += 1
                }
            }
        }
        #expect(relativeChecked > 40)
        // What the fast path must step aside for, at every offset across its 16-byte blocks: dot segments, "%2e",
        // a query that ends the path, bytes it must not take.
        var shifted = 0
        for pad in 0..<40 {
            let a = String(repeating: "a", count: pad)
            for tail in [
                "/./x.png", "/../x.png", "/%2e/x", "/%2E%2e/x", "/.x.png", "?q=/./x", "?q=%2e", "/x y", "/x{y",
                "/x\u{7f}", "/é", "/x'y", "?q='", "/%41%zz", "/a/%2",
            ] {
                for input in ["/" + a + tail, a + tail, "http://a.test/" + a + tail] {
                    if let fast = WebURL.fastHref(input, base: base) {
                        #expect(fast == (try WebURL.parse(input, base: base)).href, "\(input)")
                        shifted += 1
                    }
                }
            }
            // Hosts of every length, with what the host scan must notice anywhere in them.
            for host in [
                a + "B.test", a + "b.test", a + "x1", a + "x.1", a + "x.test.", "a_" + a + ".test", a + "é.test",
            ] {
                for input in [
                    "http://" + host + "/p.jpg", "HTTPS://" + host, "//" + host + "?q", "http://" + host + ":81/",
                ] {
                    if let fast = WebURL.fastHref(input, base: base) {
                        #expect(fast == (try WebURL.parse(input, base: base)).href, "\(input)")
                        shifted += 1
                    }
                }
            }
        }
        #expect(shifted > 500)
        #expect(WebURL.fastHref("img/a.png", base: nil) == nil)
        #expect(WebURL.fastHref("//cdn.test/x", base: nil) == nil)
        #expect(WebURL.fastHref("/a/./b.png", base: base) == nil)
        #expect(WebURL.fastHref("http://a.test:80/x", base: base) == nil)
    }
}

@Suite struct FastListURLTests {
    /// A list's or a Parquet column's URL, from its bytes: what `URLNormalizer.resolve` (the full parser, after
    /// entities) gives, or nil. Non-ASCII paths and queries (percent-encoded first) are the common case in LAION.
    @Test func byteFastPathAgreesWithTheResolver() {
        let samples = [
            "https://example.com/wp-content/uploads/2014/09/wedding-Привет-611713cf411d83f0.jpg",
            "https://a.test/café/naïve.jpg?q=日本", "https://a.test/🐱.png", "https://a.test/x.jpg#é",
            "https://é.test/x.jpg", "http://A.TEST/X.JPG", "https://a.test/a b é.jpg", "https://a.test/é/../x.jpg",
            "https://a.test/x.jpg?a=1&amp;b=2", " https://a.test/x.jpg", "https://a.test/x.jpg ", "ftp://a.test/é",
            "https://a.test:8443/é.jpg", "https://a.test", "https:é", "https://a.test/%C3%A9.jpg", "img/é.png",
            "https://a.test/x'é.jpg?q='é'", "https://a.test/é%zz.jpg", "https://a.test/\u{7f}é",
        ]
        var fast = 0
        for s in samples {
            var bytes = Array(s.utf8)
            let got = bytes.withUnsafeMutableBufferPointer { WebURL.fastHref(bytes: UnsafeBufferPointer($0)) }
            if let got {
                #expect(got == URLNormalizer.resolve(s, against: nil), "\(s)")
                fast += 1
            }
        }
        #expect(fast >= 6)
        // Non-ASCII paths and queries take the fast path (the common case it is for).
        for s in [samples[0], samples[1], samples[2]] {
            var bytes = Array(s.utf8)
            #expect(
                bytes.withUnsafeMutableBufferPointer { WebURL.fastHref(bytes: UnsafeBufferPointer($0)) } != nil, "\(s)")
        }
        // A byte that is not UTF-8 is kept as %XX of itself, as RawBytes does for the full path.
        let raw: [UInt8] = Array("https://a.test/caf".utf8) + [0xe9] + Array(".png".utf8)
        #expect(raw.withUnsafeBufferPointer { WebURL.fastHref(bytes: $0) } == "https://a.test/caf%E9.png")
    }
}

@Suite struct ReaderThreadsTests {
    /// Every candidate and skip of a mix of inputs, identified by where it came from.
    static func events(_ paths: [String], threads: Int) throws -> [String] {
        let reader = try CandidateReader(paths: paths, threads: threads)
        var out: [String] = []
        while let e = try reader.next() {
            switch e {
            case .candidate(let c):
                out.append("\(c.provenance.inputFile) \(c.provenance.recordOffset) \(c.key) \(c.url)")
            case .skipped(let r): out.append("\(r.path) \(r.offset) skipped \(r.code)")
            }
        }
        return out
    }

    /// The caller's thread reads its share of member-per-record files inside next(), worker threads the rest; with
    /// one thread the input order is kept whatever the kinds of input, and more threads give the same events.
    @Test func threadsGiveTheSameEventsAndOneKeepsTheOrder() throws {
        let dir = TestSupport.temporaryDirectory()
        let list = dir + "/urls.txt"
        try "http://a.test/1.jpg\nnot a url\nhttp://a.test/2.jpg\n".write(
            toFile: list, atomically: true, encoding: .utf8)
        let paths = [
            TestSupport.shared("commoncrawl/wat/generated_dolma_sample-0000.warc.wat.gz"), list,
            TestSupport.shared("commoncrawl/wat/cbeams-well-formed.warc.wat"),
            TestSupport.shared("commoncrawl/wat/generated_resiliparse_warcfile.warc.wat.gz"),
        ]
        let separately = try paths.flatMap { try Self.events([$0], threads: 1) }
        #expect(separately.count > 300)
        #expect(try Self.events(paths, threads: 1) == separately)
        for threads in [2, 3] {
            #expect(try Self.events(paths, threads: threads).sorted() == separately.sorted(), "\(threads) threads")
        }
    }
}
