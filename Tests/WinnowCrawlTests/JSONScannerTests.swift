import Foundation
import Testing
import WinnowCore

@testable import WinnowCrawl

/// The scanner's SIMD string and container scans against a byte-at-a-time statement of the same rules, on inputs
/// whose quotes, backslash runs and brackets fall anywhere across the 16-byte blocks.
struct JSONScannerTests {
    /// Index just after the bracket closing the container that `i` is inside, or nil; and the offsets of the
    /// elements the `Links` scan lists: each '{' at depth 1 that starts `{"path":"IMG@/src"` or does not start
    /// `{"path":"` (or is too close to the end to tell).
    static func reference(_ b: [UInt8], from start: Int) -> (end: Int?, found: [Int]) {
        let image = Array(#"{"path":"IMG@/src""#.utf8)
        let path = Array(#"{"path":""#.utf8)
        var found: [Int] = []
        var depth = 1
        var i = start
        var inString = false
        while i < b.count {
            let c = b[i]
            if inString {
                if c == 0x5c {
                    i += 2
                    continue
                }
                if c == 0x22 { inString = false }
            } else if c == 0x22 {
                inString = true
            } else if c == 0x7b || c == 0x5b {
                if c == 0x7b && depth == 1
                    && (i + 18 > b.count || Array(b[i..<i + 18]) == image || Array(b[i..<i + 9]) != path)
                {
                    found.append(i)
                }
                depth += 1
            } else if c == 0x7d || c == 0x5d {
                depth -= 1
                if depth == 0 { return (i + 1, found) }
            }
            i += 1
        }
        return (nil, found)
    }

    /// The scan with instruction set `isa` (0 bytes, 1 SSE2, 2 AVX2, 3 AVX-512): where the skip ends, and what the
    /// `Links` scan lists.
    static func scan(_ b: [UInt8], from start: Int, isa: Int32) -> (end: Int?, found: [Int]) {
        b.withUnsafeBytes { raw -> (Int?, [Int]) in
            let s = JSONScanner(raw)
            var none: [Int]? = nil
            var found: [Int]? = []
            let skipped = s.scan(from: start, isa: isa, found: &none)
            let listed = s.scan(from: start, isa: isa, found: &found)
            #expect(skipped == listed)
            return (skipped, found ?? [])
        }
    }

    /// The byte loop, SSE2, AVX2 and AVX-512 (where the CPU has them) against the reference, on random nested inputs full of
    /// quotes, backslash runs and brackets that fall anywhere across the 64-byte blocks, with link objects of every
    /// kind among them.
    @Test func scansAgreeWithTheReference() {
        let pieces = [
            "\"", "\\", "\\\\", "\\\"", "{", "}", "[", "]", "\"a{b}\"", "\"[\\\"]\"", "x", "0123456789abcdef", ",", ":",
            " ", "é", "\"\\\\\"", "\"\"", #"{"path":"IMG@/src","url":"a.jpg"}"#, #"{"path":"A@/href","url":"b"}"#,
            #"{"url":"c.jpg","path":"IMG@/src"}"#, #"{"path":"IMG@/src""#, #"{"path":"#,
            String(repeating: "y", count: 40), "\"\\\\\\\\\\\"\"", "}]", "]]", "}}",
        ]
        var rng = SplitMix64(seed: 9)
        var agreed = 0
        var listed = 0
        for _ in 0..<20000 {
            // Opening brackets first, so that many inputs run past several 64-byte blocks before they close.
            var s = String(repeating: "[", count: Int(rng.next() % 12))
            for _ in 0..<Int(rng.next() % 160) { s += pieces[Int(rng.next() % UInt64(pieces.count))] }
            let bytes = Array(s.utf8)
            let expected = Self.reference(bytes, from: 0)
            for isa: Int32 in [0, 1, 2, 3] {
                let got = Self.scan(bytes, from: 0, isa: isa)
                #expect(got.end == expected.end, "isa \(isa): \(s.debugDescription)")
                if got.end != nil {
                    #expect(got.found == expected.found, "isa \(isa): \(s.debugDescription)")
                }
            }
            if expected.end != nil {
                agreed += 1
                listed += expected.found.count
            }
        }
        #expect(agreed > 2000)
        #expect(listed > 2000)
    }

    @Test func stringsEndAtTheFirstUnescapedQuote() throws {
        for (text, content, escapes) in [
            ("\"abc\"", "abc", false), ("\"a\\\"b\"", "a\\\"b", true), ("\"a\\\\\"", "a\\\\", true),
            (
                "\"\(String(repeating: "x", count: 40))\\\\\\\"y\"", String(repeating: "x", count: 40) + "\\\\\\\"y",
                true
            ),
        ] {
            let bytes = Array(text.utf8)
            let found = bytes.withUnsafeBytes { JSONScanner($0).stringEnd(from: 1) }
            let (end, hasEscapes) = try #require(found)
            #expect(String(decoding: bytes[1..<end], as: UTF8.self) == content)
            #expect(hasEscapes == escapes)
        }
        for unterminated in ["\"abc", "\"abc\\\"", "\"" + String(repeating: "y", count: 33) + "\\"] {
            let bytes = Array(unterminated.utf8)
            #expect(
                bytes.withUnsafeBytes { JSONScanner($0).stringEnd(from: 1) } == nil, "\(unterminated.debugDescription)")
        }
    }
}

/// The `Links` scan: image links are found whatever the order of their keys, everything else is stepped over.
struct WATLinksTests {
    static func urls(_ links: [String]) throws -> [String] {
        let json =
            #"{"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response","WARC-Target-URI":"http://a.test/d/p.html"},"#
            + #""Payload-Metadata":{"HTTP-Response-Metadata":{"HTML-Metadata":{"Links":["#
            + links.joined(separator: ",") + "]}}}}}"
        let headers = [("WARC-Type", "metadata"), ("Content-Type", "application/json")]
        var counters = ParseCounters()
        var out: [String] = []
        try Array(json.utf8).withUnsafeBytes { block in
            try WATExtractor().extract(
                headers: headers, block: block, offset: 0, inputFile: "t.wat", counters: &counters
            ) {
                out.append($0.url)
            }
        }
        return out
    }

    @Test func imageLinksInAnyShapeAreFound() throws {
        var links = [
            #"{"path":"A@/href","url":"/a.html","text":"{not [an] image\"}"}"#,
            #"{"path":"IMG@/src","url":"one.jpg","alt":"first"}"#,
            #"{"url":"two.jpg","path":"IMG@/src"}"#,
            #"{ "path" : "IMG@/src", "url" : "three.jpg" }"#,
            #"{"path":"IMG@/srcset","url":"no.jpg"}"#,
            #"{"path":"IMG@\/src","url":"escaped-path-is-not-matched.jpg"}"#,
            #""a string element""#, "17", #"{"path":"A@/href","url":"/x","extra":{"nested":["{"]}}"#,
            #"{"path":"IMG@/src","url":"four\u002Ejpg","alt":"a \"quoted\" \\ alt"}"#,
        ]
        let expected = ["one.jpg", "two.jpg", "three.jpg", "four.jpg"].map { "http://a.test/d/" + $0 }
        #expect(try Self.urls(links) == expected)
        // More image links than the scan's first buffer holds (256), between long anchors.
        links = (0..<700).map { k in
            k % 2 == 0
                ? #"{"path":"IMG@/src","url":"i\#(k).png"}"#
                : #"{"path":"A@/href","url":"/\#(String(repeating: "x", count: k % 90))"}"#
        }
        #expect(try Self.urls(links) == stride(from: 0, to: 700, by: 2).map { "http://a.test/d/i\($0).png" })
    }

    @Test func anUnterminatedLinksArrayIsBadJSON() {
        let json =
            #"{"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response"},"Payload-Metadata":{"HTTP-Response-Metadata":{"HTML-Metadata":{"Links":[{"path":"IMG@/src","url":"a.jpg"}"#
        var counters = ParseCounters()
        #expect(throws: RecordError.self) {
            try Array(json.utf8).withUnsafeBytes { block in
                try WATExtractor().extract(
                    headers: [("WARC-Type", "metadata"), ("Content-Type", "application/json")], block: block,
                    offset: 0, inputFile: "t.wat", counters: &counters
                ) { _ in }
            }
        }
    }
}
