import Foundation
import Testing

@testable import WinnowCore

/// `WebURL` against the WHATWG URL Standard, rule by rule (http and https only; the fragment is dropped).
@Suite struct WebURLTests {
    static let base = "http://example.org/foo/bar"

    static func href(_ input: String, _ base: String?) throws -> String {
        let b = try base.map { try WebURL.parse($0) }
        return try WebURL.parse(input, base: b).href
    }

    @Test(arguments: [
        ("http://EXAMPLE.test:80/a/./b/../c", nil as String?, "http://example.test/a/c"),
        ("https://a.test:443/x", nil, "https://a.test/x"),
        ("http://a.test:8080", nil, "http://a.test:8080/"),
        ("//cdn.test/i.png", "https://a.test/p/q.html", "https://cdn.test/i.png"),
        ("/i.png?x=[1]", "https://a.test/p/q.html", "https://a.test/i.png?x=[1]"),
        ("i.png", "https://a.test/p/q.html", "https://a.test/p/i.png"),
        ("?v=2", "https://a.test/p/q.html?v=1", "https://a.test/p/q.html?v=2"),
        ("..\\img\\x.png", "https://a.test/p/q/r.html", "https://a.test/p/img/x.png"),
        ("http:rel.png", "http://a.test/dir/page", "http://a.test/dir/rel.png"),
        ("https://a.test/caf\u{E9} au lait.jpg", nil, "https://a.test/caf%C3%A9%20au%20lait.jpg"),
        ("https://a.test/q?name=caf\u{E9}'s", nil, "https://a.test/q?name=caf%C3%A9%27s"),
        ("  http://a.test/\ta\nb  ", nil, "http://a.test/ab"),
        ("http://user:p@ss@a.test/", nil, "http://user:p%40ss@a.test/"),
        ("http://a.test/%2e%2E/x", nil, "http://a.test/x"),
        ("", "http://a.test/p?q#f", "http://a.test/p?q"),
        // '^' is in the path percent-encode set (not the query's).
        ("http://a.test/a^b?c^d", nil, "http://a.test/a%5Eb?c^d"),
    ])
    func resolves(input: String, base: String?, expected: String) throws {
        #expect(try Self.href(input, base) == expected)
    }

    /// "Special relative or authority state": after `http:` against an http base, the rest is an ordinary
    /// reference; against another scheme or no base, every slash and backslash after the colon is skipped.
    @Test(arguments: [
        ("http:/example.com/", base, "http://example.org/example.com/"),
        ("http:example.com/", base, "http://example.org/foo/example.com/"),
        ("http:", base + "?q", "http://example.org/foo/bar?q"),
        ("http:/", base, "http://example.org/"),
        ("http:?x", base, "http://example.org/foo/bar?x"),
        ("HTTP:/x", base, "http://example.org/x"),
        ("http:\\example.com/", base, "http://example.org/example.com/"),
        ("http://example.com/", base, "http://example.com/"),
        ("http:\\\\example.com\\x", base, "http://example.com/x"),
        ("http:/\\example.com/", base, "http://example.com/"),
        ("http:\\/example.com/", base, "http://example.com/"),
        ("http:///example.com/", base, "http://example.com/"),
        ("/\\example.com/", base, "http://example.com/"),
        ("\\\\example.com/", base, "http://example.com/"),
        ("https:/example.com/", base, "https://example.com/"),
        ("https:example.com", base, "https://example.com/"),
        ("https:\\\\\\example.com", base, "https://example.com/"),
        ("http:/example.com/", "https://example.org/", "http://example.com/"),
        ("http:/example.com/", nil, "http://example.com/"),
        ("http:example.com", nil, "http://example.com/"),
        ("http:\\\\\\/example.com", nil, "http://example.com/"),
    ])
    func schemeWithoutSlashes(input: String, base: String?, expected: String) throws {
        #expect(try Self.href(input, base) == expected)
    }

    /// "Ends in a number": then the IPv4 parser decides, and its failure is the host's.
    @Test(arguments: [
        ("0xffffffff", "255.255.255.255"), ("0x.0x.0x.0x", "0.0.0.0"), ("0x", "0.0.0.0"), ("0X7F.1", "127.0.0.1"),
        ("1.2", "1.0.0.2"), ("1.2.3", "1.2.0.3"), ("0300.0250.0.1", "192.168.0.1"), ("017700000001", "127.0.0.1"),
        ("1.0x0a.0.010", "1.10.0.8"), ("4294967295", "255.255.255.255"), ("1.2.3.4.", "1.2.3.4"),
        ("3232235777", "192.168.1.1"), ("%30x7f.1", "127.0.0.1"), ("0.0.0x100", "0.0.1.0"),
        (
            "\u{FF10}\u{FF38}\u{FF43}\u{FF10}\u{FF0E}\u{FF10}\u{FF12}\u{FF15}\u{FF10}\u{FF0E}\u{FF10}\u{FF11}",
            "192.168.0.1"
        ),
        // Not ending in a number: a domain.
        ("foo.0xg", "foo.0xg"), ("1.2.3.a", "1.2.3.a"), ("a.1b", "a.1b"), ("0x1g", "0x1g"), ("0xa.com", "0xa.com"),
    ])
    func ipv4(host: String, expected: String) throws {
        #expect(try WebURL.parse("http://\(host)/").host == expected)
    }

    @Test(arguments: [
        "4294967296", "256.0.0.1", "1.256.0.0", "1.2.3.4.5", "1.2.3.4.5.", "1.2.3.08", "09.1", "0x100000000",
        "foo.1.2.3.4", "foo.0x4", "foo.09", "1..2", "0..0x300", "0xffffffff1", "1.2.3.0x100", "💩.123", "a.0x",
        "0999999999999999999", "foo.0XFfFfFfFfFfFfFfFfFfAcE123",
    ])
    func ipv4Failures(host: String) {
        #expect(throws: WebURL.Failure.ipv4) { try WebURL.parse("http://\(host)/") }
    }

    /// UTS #46 as WHATWG uses it: ignored code points removed, mapped ones mapped, nontransitional, NFC, Punycode;
    /// `xn--` labels decoded and checked.
    @Test(arguments: [
        ("ex\u{AD}ample.com", "example.com"), ("a\u{200B}b.com", "ab.com"),
        ("GOO\u{200B}\u{2060}\u{FEFF}goo.com", "googoo.com"), ("\u{FF45}\u{FF58}AMPLE.\u{FF43}om", "example.com"),
        ("\u{212A}.test", "k.test"), ("a\u{3002}b\u{FF0E}c\u{FF61}d", "a.b.c.d"), ("fa\u{DF}.de", "xn--fa-hia.de"),
        ("b\u{FC}cher.test", "xn--bcher-kva.test"), ("bu\u{308}cher.test", "xn--bcher-kva.test"),
        ("\u{4F8B}\u{3048}.\u{30C6}\u{30B9}\u{30C8}", "xn--r8jz45g.xn--zckzah"), ("XN--LS8H.test", "xn--ls8h.test"),
        ("xn--bcher-kva.test", "xn--bcher-kva.test"), ("\u{1F4A9}", "xn--ls8h"),
        ("\u{915}\u{94D}\u{200D}\u{937}", "xn--11b2ezcw70k"), ("\u{5D0}1.com", "xn--1-zhc.com"),
        ("%E2%80%8Ba.test", "a.test"), ("a_b.test", "a_b.test"), ("-a-.test", "-a-.test"), ("ab--c.test", "ab--c.test"),
    ])
    func idna(host: String, expected: String) throws {
        #expect(try WebURL.parse("https://\(host)/").host == expected)
    }

    @Test(arguments: [
        String(Unicode.Scalar(0xFDD0)!) + "zyx.com", "%ef%b7%90zyx.com", "\u{FFFD}", "%EF%BF%BD", "%ff.com",
        "a.b.c.xn--pokxncvks",
        "10.0.0.XN--pokxncvks", "xn--abc-", "xn--", "xn--wca.test", "\u{301}a.com", "a\u{200D}b.com", "a\u{200C}b.com",
        "a\u{5D0}.com", "\u{5D0}a.com", "1.\u{5D0}", "\u{AD}", "xn--xn--a-ecp.test", "xn--ls8h\u{E9}.test",
    ])
    func idnaFailures(host: String) {
        #expect(throws: WebURL.Failure.idna) { try WebURL.parse("https://\(host)/") }
    }

    /// Forbidden domain code points, after percent-decoding and mapping, and hosts left empty.
    @Test(arguments: [
        "http://a b.test/", "http://a%20b.test/", "http://%zz.test/", "http://a\u{FF1C}b/", "http://a%3Cb/",
        "http://a^b/", "http://a|b/", "http://a%00b/", "http:///", "http://@/", "http://user@/x", "http://:80/",
        "http:", "https:/", "http://a]b/",
    ])
    func hostFailures(input: String) {
        #expect(throws: WebURL.Failure.host) { try WebURL.parse(input) }
    }

    @Test(arguments: [
        ("https://test:@test", "https://test@test/"), ("https://:@test", "https://test/"),
        ("https://:p@test", "https://:p@test/"), ("http://u:p@a:0080/", "http://u:p@a/"),
        ("http://a@b@c/", "http://a%40b@c/"), ("http://a:b@c:d@e/", "http://a:b%40c%3Ad@e/"),
        ("http://a:00080/", "http://a/"), ("http://a:0000000000080/", "http://a/"), ("http://a:0/", "http://a:0/"),
        ("https://a:443", "https://a/"), ("https://a:80", "https://a:80/"), ("http://a:65535", "http://a:65535/"),
        ("http://a:/", "http://a/"), ("http://./", "http://./"), ("http://../", "http://../"),
        ("http://.a/", "http://.a/"), ("http://a.b./x", "http://a.b./x"),
    ])
    func serialises(input: String, expected: String) throws {
        #expect(try WebURL.parse(input).href == expected)
    }

    @Test(arguments: [
        ("::127.0.0.1", "::7f00:1"), ("0:0:0:0:0:0:13.1.68.3", "::d01:4403"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"), ("::1", "::1"), ("1::", "1::"), ("ABCD::EF", "abcd::ef"),
        ("0:0:0:0:0:0:0:0", "::"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ("::ffff:192.168.0.1", "::ffff:c0a8:1"), ("::FFFF:0:1", "::ffff:0:1"), ("0001:0002::0003", "1:2::3"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
    ])
    func ipv6(address: String, expected: String) throws {
        #expect(try WebURL.parse("http://[\(address)]:8080/").host == "[\(expected)]")
    }

    @Test(arguments: [
        "::1", "1:2:3:4:5:6:7:8:9", "1::2::3", "::1.2.3", "::1.2.3.256", "::01.2.3.4", ":1", "1:", "g::", "::%31",
        "1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5:6:7", "12345::", "::1.2.3.4.5", "::.1.2.3", "", "::1 ",
    ])
    func ipv6Failures(address: String) {
        let input = address == "::1" ? "http://[::1/" : "http://[\(address)]/"
        #expect(throws: WebURL.Failure.ipv6) { try WebURL.parse(input) }
    }

    @Test(arguments: [
        ("mailto:x@a.test", WebURL.Failure.scheme), ("ws://a.test/", .scheme), ("http://a.test:99999/", .port),
        ("http://a.test:65536/", .port), ("relative.png", .noBase), ("http://a.test:8o/", .port),
        ("http://a:1:2/", .port), ("http://a: 1/", .port), ("", .empty),
    ])
    func rejects(input: String, failure: WebURL.Failure) {
        #expect(throws: failure) { try WebURL.parse(input) }
    }

    @Test func punycodeMatchesRFC3492() {
        // RFC 3492 section 7.1 (A) Arabic (Egyptian), and a simple German word; both ways.
        let arabic =
            "\u{0644}\u{064A}\u{0647}\u{0645}\u{0627}\u{0628}\u{062A}\u{0643}\u{0644}\u{0645}\u{0648}\u{0634}\u{0639}\u{0631}\u{0628}\u{064A}\u{061F}"
        for (text, code) in [(arabic, "egbpdaj6bu4bxfgehfvwxn"), ("m\u{FC}nchen", "mnchen-3ya"), ("abc", "abc-")] {
            #expect(Punycode.encode(Array(text.unicodeScalars)) == code)
            #expect(Punycode.decode(Array(code.unicodeScalars)[...]) == Array(text.unicodeScalars))
        }
        for bad in ["-abc", "99999999999", "a!", "abc-$"] {
            #expect(Punycode.decode(Array(bad.unicodeScalars)[...]) == nil, "\(bad)")
        }
    }

    /// The generated table: statuses of code points whose status every UTS #46 version agrees on.
    @Test func mappingTableStatuses() {
        let t = IDNA.mappingTable
        func code(_ cp: UInt32) -> UInt8 { t.codes[t.index(cp)] }
        #expect(code(0x61) == IDNA.Code.valid)
        #expect(code(0x41) == IDNA.Code.shift && t.values[t.index(0x41)] == 32)
        #expect(code(0xAD) == IDNA.Code.ignored && code(0x200B) == IDNA.Code.ignored)
        #expect(code(0xFDD0) == IDNA.Code.disallowed && code(0xFFFF) == IDNA.Code.disallowed)
        #expect(code(0x10FFFF) == IDNA.Code.disallowed)
        #expect(code(0xDF) == IDNA.Code.valid && code(0x200D) == IDNA.Code.valid)
        #expect(t.starts == t.starts.sorted() && t.starts.first == 0)
        // U+FDFA maps to 18 code points.
        #expect(code(0xFDFA) == IDNA.Code.mapped && t.mapping(t.index(0xFDFA)).count == 18)
    }

    /// Every failure is a `url_<code>` parse counter: docs/formats.md lists each one.
    @Test func failuresAreDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let formats = try String(contentsOf: root.appendingPathComponent("docs/formats.md"), encoding: .utf8)
        for f in WebURL.Failure.allCases {
            #expect(formats.contains("`url_\(f.rawValue)`"), "url_\(f.rawValue)")
            #expect(!f.summary.isEmpty)
        }
    }
}
