import Foundation
import Testing
import WinnowCore

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hexDigest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hexDigest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hexDigest(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func incrementalEqualsOneShot() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let h = Digest(.sha256)
        h.update(Array(data[0..<3]))
        h.update(Array(data[3..<130]))
        h.update(Array(data[130...]))
        #expect(hex(h.finalize()) == SHA256.hexDigest(data))
    }

    @Test func sha1AndMD5MatchTheirStandards() {
        // FIPS 180 and RFC 1321 test vectors.
        #expect(DigestAlgorithm.sha1.hexDigest(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(MD5.hexDigest([]) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(
            MD5.hexDigest(Array("The quick brown fox jumps over the lazy dog".utf8))
                == "9e107d9d372bb6826bd81d3542a419d6")
    }
}

@Suite struct CandidateTests {
    @Test func keyIsStableAndDependsOnURLAndCaption() {
        let a = Candidate.key(url: "http://a.test/x.jpg", caption: "a cat")
        #expect(a == Candidate.key(url: "http://a.test/x.jpg", caption: "a cat"))
        #expect(a != Candidate.key(url: "http://a.test/x.jpg", caption: "a dog"))
        #expect(a.count == 16 && a.allSatisfy { $0.isHexDigit })
    }

    @Test func jsonIsFlatAndRoundTrips() throws {
        let c = Candidate(
            url: "http://a.test/x.jpg", caption: "a cat", pageURL: "http://a.test/",
            provenance: Provenance(inputFile: "f.wat.gz", recordOffset: 42, recordID: "<urn:uuid:1>", pageDate: "2024"),
            optOutSignals: ["meta-robots:noai"])
        let data = try JSONEncoder().encode(c)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["record_offset"] as? Int == 42)
        #expect(object["page_url"] as? String == "http://a.test/")
        #expect(try JSONDecoder().decode(Candidate.self, from: data) == c)
    }

    @Test func urlOnlyJSONGetsAKey() throws {
        let c = try JSONDecoder().decode(Candidate.self, from: Data(#"{"url":"http://a.test/y.png"}"#.utf8))
        #expect(c.key == Candidate.key(url: "http://a.test/y.png", caption: ""))
    }
}

@Suite struct SampleTests {
    @Test func firstDropWinsAndReleasesBytes() {
        var s = Sample(
            candidate: Candidate(
                url: "http://a.test/x.jpg", caption: "c", pageURL: "",
                provenance: Provenance(inputFile: "f", recordOffset: 0)))
        s.original = [1, 2, 3]
        s.drop(.http(404), "gone")
        s.drop(.timeout)
        #expect(s.outcome == .dropped(Reason(.http(404), "gone")))
        #expect(s.original == nil)
        #expect(s.outcome.status == "dropped")
    }
}

/// `winnow parse`'s candidate lines, written directly in key order: the same text as a `JSONObject` of the same
/// members (which sorts), with every optional member and extra members falling between, before and after its own.
@Suite struct CandidateJSONLineTests {
    static func reference(_ c: Candidate, extra: [(String, String)]) -> [UInt8] {
        var m = JSONObject()
        m.add("caption", c.caption)
        m.add("input_file", c.provenance.inputFile)
        m.add("key", c.key)
        m.add("laion_hash", c.laionHash)
        m.add("opt_out_signals", c.optOutSignals)
        m.add("page_url", c.pageURL)
        m.add("record_offset", Int(c.provenance.recordOffset))
        m.add("uid", c.cc2datasetUID)
        m.add("url", c.url)
        m.add("url_attribute", c.urlAttribute)
        if let d = c.provenance.pageDate { m.add("page_date", d) }
        if let r = c.provenance.recordID { m.add("record_id", r) }
        if !c.columns.isEmpty { m.add(json: "columns", ColumnValue.jsonObject(c.columns)) }
        for (k, v) in extra { m.add(k, v) }
        return m.utf8()
    }

    @Test func sameTextAsSortedObject() throws {
        let extras: [[(String, String)]] = [
            [], [("dropped", "caption_too_short")], [("zz", "last"), ("a", "first"), ("key_", "mid\"n")],
            [("record_p", "x")],
        ]
        for (i, extra) in extras.enumerated() {
            for full in [false, true] {
                var c = Candidate(
                    url: "http://a.test/\(i)/x.jpg?q=\"1\"", caption: full ? "caf\u{e9} \n\u{1}" : "",
                    pageURL: full ? "http://a.test/p" : "",
                    provenance: Provenance(
                        inputFile: "in \"\(i)\".wat", recordOffset: full ? -5 : Int64(i) << 40,
                        recordID: full ? "<urn:uuid:1>" : nil, pageDate: full ? "2024-01-01T00:00:00Z" : nil),
                    optOutSignals: full ? ["meta-robots:noai", "x\"y"] : [])
                if full { c.columns = ["similarity": .double(0.25), "hash": .int(-3), "n": .null] }
                var out: [UInt8] = Array("prefix".utf8)
                c.appendJSONLine(to: &out, extra: extra)
                #expect(out == Array("prefix".utf8) + Self.reference(c, extra: extra))
                #expect(c.jsonLineUTF8(extra: extra) == Self.reference(c, extra: extra))
                _ = try JSONSerialization.jsonObject(with: Data(c.jsonLineUTF8(extra: extra)))
            }
        }
        // The integers at their limits.
        let c = Candidate(
            url: "http://a.test/", caption: "", pageURL: "",
            provenance: Provenance(inputFile: "f", recordOffset: Int64.min))
        #expect(c.jsonLineUTF8() == Self.reference(c, extra: []))
    }
}

/// The hand-written JSON of the per-sample lines and `.json` members: exact text, and what a JSON parser reads back.
@Suite struct JSONObjectTests {
    @Test func membersAreSortedAndEscaped() {
        var o = JSONObject()
        o.add("url", "http://a.test/x?q=\"1\"&b=\\")
        o.add("caption", "tab\there\nnew \u{1} line caf\u{e9} \u{1F600}")
        o.add("count", 3)
        o.add("offset", Int64(-7))
        o.add("signals", ["meta-robots:noai", "a\"b"])
        o.add("empty", [String]())
        #expect(
            o.text()
                == #"{"caption":"tab\there\nnew \u0001 line café 😀","count":3,"empty":[],"offset":-7,"#
                + #""signals":["meta-robots:noai","a\"b"],"url":"http://a.test/x?q=\"1\"&b=\\"}"#)
        #expect(JSONObject().text() == "{}")
        #expect(JSONText.quote("\r/") == #""\r/""#)
    }

    @Test func parsersReadBackWhatWasWritten() throws {
        var rng = SplitMix64(seed: 3)
        let pieces = ["a", "\"", "\\", "\n", "\t", "\r", "\u{0}", "\u{1f}", "é", "€", "😀", "/", " ", "\u{7f}"]
        for _ in 0..<500 {
            var o = JSONObject()
            var expected: [String: String] = [:]
            for k in 0..<Int(rng.next() % 6) {
                let value = (0..<Int(rng.next() % 12)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }
                    .joined()
                o.add("k\(k)", value)
                expected["k\(k)"] = value
            }
            let back = try JSONSerialization.jsonObject(with: Data(o.utf8())) as? [String: String]
            #expect(back == expected)
        }
    }
}

/// Issue 27: SHA-256, MD5 and SHA-1 in one pass give what each gives alone, at every block boundary, and the known
/// digests of the empty input and "abc" (FIPS 180-4 and RFC 1321 test vectors).
@Suite struct ContentDigestsTests {
    @Test func onePassEqualsEachAlone() {
        var rng = UInt64(0x9e37_79b9_7f4a_7c15)
        for size in [0, 1, 55, 56, 63, 64, 65, 65_535, 65_536, 65_537, 200_003] {
            let bytes = (0..<size).map { _ in
                rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: rng >> 33)
            }
            let d = contentDigests(bytes)
            #expect(d.sha256 == DigestAlgorithm.sha256.hexDigest(bytes), "\(size)")
            #expect(d.md5 == DigestAlgorithm.md5.hexDigest(bytes), "\(size)")
            #expect(d.sha1 == DigestAlgorithm.sha1.hexDigest(bytes), "\(size)")
        }
        let empty = contentDigests([])
        #expect(empty.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(empty.md5 == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(empty.sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        let abc = contentDigests(Array("abc".utf8))
        #expect(abc.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(abc.md5 == "900150983cd24fb0d6963f7d28e17f72")
        #expect(abc.sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }
}
