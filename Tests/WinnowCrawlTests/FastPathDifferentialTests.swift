import Foundation
import Testing
import WinnowCore

@testable import WinnowCrawl

/// The C fast path (`WebURL.fastHref`, `WebURL.fastParse`) against the full WHATWG parser: whenever the fast path
/// answers, it must give what `WebURL.parse` gives (and the parser must accept the input).
@Suite struct FastPathDifferentialTests {
    /// Checks one reference against one base; returns whether the fast path answered.
    static func agree(_ input: String, base: WebURL?) -> Bool {
        guard let fast = WebURL.fastHref(input, base: base) else { return false }
        let full = try? WebURL.parse(input, base: base).href
        #expect(fast == full, "\(input.debugDescription) against \(base?.href ?? "none")")
        return true
    }

    /// Checks an absolute URL through `fastParse` too (fields and all).
    static func agreeParsed(_ input: String) -> Bool {
        guard let fast = WebURL.fastParse(input) else { return false }
        #expect(fast == (try? WebURL.parse(input)), "\(input.debugDescription)")
        return true
    }

    @Test func realLinksAndPageURLs() throws {
        var pages = 0
        var links = 0
        var answered = 0
        try WATFastPathTests.forEachRealRecord { json in
            guard let record = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
                let envelope = record["Envelope"] as? [String: Any],
                var page = (envelope["WARC-Header-Metadata"] as? [String: Any])?["WARC-Target-URI"] as? String
            else { return }
            if page.hasPrefix("<") && page.hasSuffix(">") { page = String(page.dropFirst().dropLast()) }
            pages += 1
            if Self.agree(page, base: nil) { answered += 1 }
            _ = Self.agreeParsed(page)
            let base = try? WebURL.parse(page)
            let html =
                ((envelope["Payload-Metadata"] as? [String: Any])?["HTTP-Response-Metadata"] as? [String: Any])?[
                    "HTML-Metadata"] as? [String: Any]
            for case let link as [String: Any] in html?["Links"] as? [Any] ?? [] {
                guard let url = link["url"] as? String else { continue }
                links += 1
                if Self.agree(url, base: base) { answered += 1 }
            }
        }
        #expect(pages > 150)
        #expect(links > 1000)
        #expect(answered > links / 2, "\(answered) of \(links + pages)")
    }

    /// Hosts whose meaning the WHATWG rules change beyond lower-casing, and plain ones beside them.
    static let hosts = [
        "a.test", "A.Test", "0x7f.1", "0xa", "0XA", "a.0xa", "0xa.test", "foo.0x", "0x", "foo.0xg", "017700000001",
        "1.2", "1.2.3.4", "4294967296", "1.2.3.4.5", "a.1b", "0x.0x.0x.0x", "0xffffffff", "xn--bcher-kva.test",
        "XN--ls8h.test", "a.xn--pokxncvks", "xn--abc-", "a.Xn--wca", "xn--a.test", "axn--b.test", "b\u{FC}cher.test",
        "ex\u{AD}ample.test", "a\u{200B}b.test", "\u{FF41}.test", "a%41.test", "u:@a.test", ":@a.test", ":p@a.test",
        "u@a.test", "[::1]", "[::127.0.0.1]", "[::FFFF:0:1]", "a.test:00080", "a.test:0000000000080", "a.test:0",
        "a.test:", ".", "..", "a.test.", ".a.test", "a..test", "a_b.test", "-a.test", "",
    ]

    /// Ways to write a reference to a host.
    static let forms = [
        "http://H/x.png", "HTTPS://H", "https://H?q=1", "//H/p/i.png?q", "http:/H/x.png", "http:H/x.png",
        "https:/H/x.png", "https:H", "http:\\\\H\\x.png", "/\\H/x.png", "\\\\H/x.png", "http:///H/x.png", "http:",
    ]

    static let bases = ["http://example.org/foo/bar", "https://a.test/d/", "http://u:p@b.test:8080/x?q"]

    @Test func generatedReferences() throws {
        var answered = 0
        var parsed = 0
        let bases = try Self.bases.map { try WebURL.parse($0) }
        for host in Self.hosts {
            for form in Self.forms {
                let input = form.replacingOccurrences(of: "H", with: host)
                if Self.agree(input, base: nil) { answered += 1 }
                if Self.agreeParsed(input) { parsed += 1 }
                for base in bases where Self.agree(input, base: base) { answered += 1 }
            }
        }
        // Relative references (no host) against every base.
        for input in [
            "x.png", "/x.png", "a/b.png?q", "http:x.png", "http:/x.png", "HTTP:x", "?q", "./x", ":x", "a^b.png",
            "/a^b.png", "x.png?q=^", "http://a.test/a^b", "http://a.test/x?^", "/aaaaaaaaaaaaaaaaaaaaaa^b.png",
        ] {
            for base in bases where Self.agree(input, base: base) { answered += 1 }
        }
        // The fast path still takes the plain cases.
        #expect(answered > 50)
        #expect(parsed > 5)
    }
}
