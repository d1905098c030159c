import Foundation
import Testing

@testable import WinnowCore

@Suite struct WebURLTests {
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
        ("https://b\u{FC}cher.test/x.jpg", nil, "https://xn--bcher-kva.test/x.jpg"),
        ("https://\u{4F8B}\u{3048}.\u{30C6}\u{30B9}\u{30C8}/", nil, "https://xn--r8jz45g.xn--zckzah/"),
        ("http://0x7f.1/", nil, "http://127.0.0.1/"),
        ("http://3232235777/x", nil, "http://192.168.1.1/x"),
        ("http://[::FFFF:0:1]/", nil, "http://[::ffff:0.0.0.1]/"),
        ("  http://a.test/\ta\nb  ", nil, "http://a.test/ab"),
        ("http://user:p@ss@a.test/", nil, "http://user:p%40ss@a.test/"),
        ("http://a.test/%2e%2E/x", nil, "http://a.test/x"),
    ])
    func resolves(input: String, base: String?, expected: String) throws {
        let b = try base.map { try WebURL.parse($0) }
        #expect(try WebURL.parse(input, base: b).href == expected)
    }

    @Test(arguments: [
        ("mailto:x@a.test", WebURL.Failure.scheme), ("http://a b.test/", .host), ("http://a.test:99999/", .port),
        ("relative.png", .noBase), ("http:///", .host), ("http://a.test:8o/", .port),
    ])
    func rejects(input: String, failure: WebURL.Failure) {
        #expect(throws: failure) { try WebURL.parse(input) }
    }

    @Test func punycodeMatchesRFC3492() {
        // RFC 3492 section 7.1 (A) Arabic (Egyptian), and a simple German word.
        let arabic =
            "\u{0644}\u{064A}\u{0647}\u{0645}\u{0627}\u{0628}\u{062A}\u{0643}\u{0644}\u{0645}\u{0648}\u{0634}\u{0639}\u{0631}\u{0628}\u{064A}\u{061F}"
        #expect(Punycode.encode(Array(arabic.unicodeScalars)) == "egbpdaj6bu4bxfgehfvwxn")
        #expect(Punycode.encode(Array("m\u{FC}nchen".unicodeScalars)) == "mnchen-3ya")
    }
}
