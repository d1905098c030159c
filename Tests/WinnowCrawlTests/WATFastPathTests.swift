import Foundation
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowCrawl

/// The byte-level paths of the WAT reader (the page URL taken as it is, links turned into URL and caption in C)
/// against the full ones (WHATWG parser, entity decoder, Swift strings): the same candidates and counts, on every
/// record of the real samples and on generated links full of what the fast paths must hand over.
struct WATFastPathTests {
    static func extract(
        _ json: [UInt8], fast: Bool, titleFallback: Bool = false, fastLinks: inout Int
    ) throws -> ([Candidate], ParseCounters) {
        let page = WATPage()
        page.fastPaths = fast
        var counters = ParseCounters()
        var out: [Candidate] = []
        let headers = [("WARC-Type", "metadata"), ("Content-Type", "application/json")]
        try json.withUnsafeBytes { block in
            try WATExtractor(titleFallback: titleFallback).extract(
                header: { name in headers.first { $0.0 == name }?.1 }, block: block, offset: 7, inputFile: "t.wat",
                counters: &counters, page: page
            ) { out.append($0) }
        }
        fastLinks += page.fastLinks
        return (out, counters)
    }

    /// Checks that both paths agree on `json`; the number of candidates, and of links the C path took.
    static func expectSame(_ json: [UInt8], titleFallback: Bool = false) throws -> (Int, Int) {
        var fastLinks = 0
        let (fast, fastCounts) = try extract(json, fast: true, titleFallback: titleFallback, fastLinks: &fastLinks)
        let (full, fullCounts) = try extract(json, fast: false, titleFallback: titleFallback, fastLinks: &fastLinks)
        #expect(fast == full, "\(String(decoding: json.prefix(600), as: UTF8.self))")
        #expect(fastCounts == fullCounts)
        return (fast.count, fastLinks)
    }

    /// Calls `body` with the JSON of every WAT record of the real samples.
    static func forEachRealRecord(_ body: ([UInt8]) throws -> Void) throws {
        let dir = TestSupport.shared("commoncrawl/wat")
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where name.contains(".wat") {
            let text = try Gzip.decompress(path: dir + "/" + name)
            try text.withUnsafeBytes { raw in
                try RecordSplitter.records(in: raw) { fields, block, problem in
                    guard problem == nil, fields.value("Content-Type")?.hasPrefix("application/json") == true else {
                        return
                    }
                    try body(Array(block))
                }
            }
        }
    }

    @Test func realSamplesGiveTheSameCandidates() throws {
        var records = 0
        var candidates = 0
        var fastLinks = 0
        try Self.forEachRealRecord { json in
            records += 1
            for fallback in [false, true] {
                let (n, f) = try Self.expectSame(json, titleFallback: fallback)
                candidates += n
                fastLinks += f
            }
        }
        #expect(records > 150)
        #expect(candidates > 1000)
        // Most real links take the C path.
        #expect(fastLinks > candidates * 3 / 4, "\(fastLinks) of \(candidates)")
    }

    /// `json` with white space of each kind JSON allows around every structural byte outside strings, as a
    /// pretty-printer would write it.
    static func spaced(_ json: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var inString = false
        var escaped = false
        for (k, c) in json.enumerated() {
            if inString {
                out.append(c)
                if escaped {
                    escaped = false
                } else if c == UInt8(ascii: "\\") {
                    escaped = true
                } else if c == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            let gap = Array([" ", "\n  ", "\t", "\r\n "][k % 4].utf8)
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: ","), UInt8(ascii: ":"):
                out.append(c)
                out += gap
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                out += gap
                out.append(c)
            default:
                if c == UInt8(ascii: "\"") { inString = true }
                out.append(c)
            }
        }
        return out
    }

    /// The walk's test for the usual case (no white space) leaves it to the slow one when there is some: every real
    /// record spaced out gives the candidates and counts of the compact one.
    @Test func spacedOutRecordsGiveTheSameCandidates() throws {
        var candidates = 0
        try Self.forEachRealRecord { json in
            var fastLinks = 0
            let (compact, compactCounts) = try Self.extract(json, fast: true, fastLinks: &fastLinks)
            let (spaced, spacedCounts) = try Self.extract(Self.spaced(json), fast: true, fastLinks: &fastLinks)
            #expect(spaced == compact)
            #expect(spacedCounts == compactCounts)
            candidates += compact.count
        }
        #expect(candidates > 500)
    }

    /// Raw bytes that are not UTF-8 in a URL (which the C path does not check: it takes ASCII URLs only) and in a
    /// `data:` URL (which it does check) are counted as the full path counts them.
    @Test func rawInvalidUTF8InURLsIsCountedAsByTheFullPath() throws {
        let head = Array(
            (#"{"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response","WARC-Target-URI":"http://a.test/d/p.html"},"#
                + #""Payload-Metadata":{"HTTP-Response-Metadata":{"HTML-Metadata":{"Links":[{"path":"IMG@/src","url":""#)
                .utf8)
        let tail = Array(#"","alt":"a caption"}]}}}}}"#.utf8)
        let cases: [([UInt8], String)] = [
            (Array("a".utf8) + [0xff] + Array(".jpg".utf8), "url_invalid_utf8"),
            (Array("http://x.test/".utf8) + [0xc3, 0x28], "url_invalid_utf8"),
            (Array("data:image/gif;".utf8) + [0xc3, 0x28], "url_invalid_utf8"),
            (Array("data:image/gif;ok".utf8), "url_data"),
        ]
        for (url, reason) in cases {
            var fastLinks = 0
            let (candidates, counts) = try Self.extract(head + url + tail, fast: true, fastLinks: &fastLinks)
            #expect(candidates.isEmpty)
            #expect(counts.counts == [reason: 1], "\(url)")
            _ = try Self.expectSame(head + url + tail)
        }
    }

    @Test func generatedLinksGiveTheSameCandidates() throws {
        let urls = [
            "a.jpg", "/abs/b.png", "//cdn.test/c.webp", "http://x.test/d.jpg", "HTTPS://UP.Test/E.JPG",
            "https://h.test",
            "https://h.test?q=1", "img/../f.jpg", "./g.jpg", "/h/./i.jpg", "?only=query", "#frag", "j k.jpg",
            "http://x.test:8080/p.jpg", "http://u:p@x.test/p.jpg", "http://1.2.3.4/p.jpg", "http://x.test./p.jpg",
            "http://münchen.test/ü.jpg", "data:image/gif;base64,R0lGOD", "javascript:void(0)", "ftp://x.test/a.jpg",
            "a.jpg?x=1&amp;y=2", "a.jpg?x=1&y=2", "a.jpg?x=1&copy;y", "a&#46;jpg", "a.jpg?w=1&h=2;3", "\\u002Fesc.jpg",
            "a\\/b.jpg", "\\\"q.jpg", " spaced.jpg ", "tab\\tin.jpg", "back\\\\slash.jpg", "mailto:a@b.test", "x:y.jpg",
            "http://x.test/%41%zz.jpg", "/" + String(repeating: "long/", count: 40) + "z.jpg", "", "\\ud800.jpg",
            "<http://angle.test/a.jpg>", "http://x.test/a.jpg\u{00A0}", "/p%2e/x.jpg", "/%2E%2E/up.jpg", "a%2ejpg",
            "q.jpg?x=%2e", "100%.jpg", "%zz/a.jpg", "http://x.test/%", "DATA:image/png;base64,xx", " data:x",
            "dat&amp;a:x",
        ]
        let alts = [
            "", "plain caption", "  padded  ", "multi   space\\ttab\\nnewline", "caf\\u00e9", "caf\u{e9} direct",
            "emoji \\ud83d\\ude00 pair", "lone \\ud800 surrogate", "bad \\uZZZZ hex", "amp &amp; entity",
            "eacute &eacute; entity", "numeric &#233; ref", "bare & ampersand", "semi &x; unknown",
            "nbsp\u{00A0}\u{00A0}between", "ideographic\u{3000}space", "\\\"quoted\\\" \\\\ \\/ slash",
            "\u{2028}line sep",
            "x", "    ", "\\u0000nul", String(repeating: "a caption longer than the first scratch ", count: 120),
        ]
        let lazy = [
            "", #","data-src":"lazy.jpg""#, #","srcset":"s1.jpg 1x, s2.jpg 2x""#,
            #","data-srcset":"a.jpg 100w, b.jpg 300w""#,
        ]
        let pages = [
            "http://page.test/dir/index.html", "https://PAGE.test/a/b?x=1", "http://page.test",
            "http://page.test/a&amp;b/",
            "<http://page.test/w/>", " http://page.test/sp/ ", "http://page.test:81/p/", "not a url",
            "http://page.test/d/x?y=/z/w", "http:\\/\\/page.test\\/esc\\/", "<https://Page.Test/a?b/c>", "<>",
            "<http://page.test/%2e/>",
        ]
        let bases = ["", #""Base":"http://base.test/sub/","#, #""Base":"../up/","#]
        var rng = SplitMix64(seed: 11)
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        var emitted = 0
        var fastLinks = 0
        for _ in 0..<600 {
            var links: [String] = []
            for _ in 0..<12 {
                var l = #"{"path":"IMG@/src""#
                if rng.next() % 8 != 0 { l += #","url":"\#(pick(urls))""# }
                if rng.next() % 3 != 0 { l += #","alt":"\#(pick(alts))""# }
                if rng.next() % 4 == 0 { l += #","title":"\#(pick(alts))""# }
                if rng.next() % 6 == 0 { l += pick(lazy) }
                links.append(l + "}")
            }
            var json = Array(
                (#"{"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response","WARC-Target-URI":"\#(pick(pages))"},"#
                    + #""Payload-Metadata":{"HTTP-Response-Metadata":{"HTML-Metadata":{"Head":{\#(pick(bases))"Title":"t"},"#
                    + #""Links":[\#(links.joined(separator: ","))]}}}}}"#).utf8)
            // Now and then a byte that is not UTF-8, in a URL or a caption.
            if rng.next() % 5 == 0, let at = json.lastIndex(of: 0x2e) { json.insert(0xff, at: at) }
            let (n, f) = try Self.expectSame(json, titleFallback: rng.next() % 2 == 0)
            emitted += n
            fastLinks += f
        }
        #expect(emitted > 3000)
        // Both paths are exercised.
        #expect(fastLinks > emitted / 10 && fastLinks < emitted * 9 / 10, "\(fastLinks) of \(emitted)")
    }
}
