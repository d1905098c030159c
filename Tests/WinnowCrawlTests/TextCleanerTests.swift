import Foundation
import Testing
import WinnowCore

@testable import WinnowCrawl

/// The byte-level clean-up against a plain Character-level statement of the same rules.
struct TextCleanerTests {
    /// Entities decoded one Character at a time: `&`, at most ten more characters, `;`.
    static func referenceDecode(_ s: String) -> String {
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "&", let semi = s[i...].prefix(12).firstIndex(of: ";") {
                let name = String(s[s.index(after: i)..<semi])
                var replacement: String?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    replacement = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map {
                        String(Character($0))
                    }
                } else if name.hasPrefix("#") {
                    replacement = UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
                } else {
                    replacement = TextCleaner.named[name]
                }
                if let r = replacement {
                    out += r
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }

    static func referenceClean(_ s: String) -> String {
        referenceDecode(s).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    @Test func examples() {
        #expect(TextCleaner.clean("  a \t b\n\nc  ") == "a b c")
        #expect(TextCleaner.clean("caf&eacute;&nbsp;&amp; bar") == "café & bar")
        #expect(TextCleaner.clean("x\u{3000}\u{2009}y\u{85}") == "x y")
        #expect(TextCleaner.clean("&#x1F600; &#128512;&#xD800;") == "😀 😀&#xD800;")
        #expect(TextCleaner.clean("&unknown; &toolongentityname; &amp") == "&unknown; &toolongentityname; &amp")
        #expect(TextCleaner.decodeEntities("a.jpg?w=1&amp;h=2&#38;q=3") == "a.jpg?w=1&h=2&q=3")
        #expect(TextCleaner.decodeEntities("no entities") == "no entities")
        #expect(TextCleaner.clean("plain caption") == "plain caption")
    }

    /// Random strings built from entities, white space of every kind and other text agree with the reference.
    @Test func agreesWithTheCharacterLevelRules() {
        let pieces = [
            "&amp;", "&lt;", "&nbsp;", "&eacute;", "&yuml;", "&#65;", "&#x41;", "&#X263A;", "&#0;", "&#xFFFFFFFF;",
            "&#;", "&;", "&", ";", "#", "x", "ab", "é", "日本", "😀", " ", "  ", "\t", "\n", "\r\n", "\u{A0}",
            "\u{85}", "\u{1680}", "\u{2000}", "\u{200A}", "\u{200B}", "\u{2028}", "\u{202F}", "\u{205F}", "\u{3000}",
            "\u{FEFF}", "\u{1C}", "&hellip", "&verylongnamehere;", "&Auml;", "&#1234567;",
        ]
        var rng = SplitMix64(seed: 42)
        for _ in 0..<5000 {
            var s = ""
            for _ in 0..<Int(rng.next() % 12) { s += pieces[Int(rng.next() % UInt64(pieces.count))] }
            #expect(TextCleaner.decodeEntities(s) == Self.referenceDecode(s), "\(s.debugDescription)")
            #expect(TextCleaner.clean(s) == Self.referenceClean(s), "\(s.debugDescription)")
        }
    }
}
