import Testing
import WinnowCore

/// RFC 9651 Dictionary parsing: the RFC's own examples, every bare item type, and what must fail the whole field.
@Suite struct StructuredFieldTests {
    typealias SF = StructuredField

    @Test func dictionariesOfTheRFC() throws {
        let d = try #require(SF.dictionary(#"en="Applepie", da=:w4ZibGV0w6ZydGU=:"#))
        #expect(d.map(\.key) == ["en", "da"])
        #expect(d[0].member == .item(SF.Item(.string("Applepie"))))
        #expect(d[1].member == .item(SF.Item(.bytes(Array("Æbletærte".utf8)))))
        // A key alone is true; parameters on it and on values.
        let e = try #require(SF.dictionary("a=?0, b, c; foo=bar"))
        #expect(e[0].member == .item(SF.Item(.boolean(false))))
        #expect(e[1].member == .item(SF.Item(.boolean(true))))
        #expect(e[2].member == .item(SF.Item(.boolean(true), parameters: [("foo", .token("bar"))])))
        // Inner lists.
        let f = try #require(SF.dictionary("rating=1.5, feelings=(joy sadness);x=1"))
        #expect(f[0].member == .item(SF.Item(.decimal(1.5))))
        #expect(f[1].member == .innerList([SF.Item(.token("joy")), SF.Item(.token("sadness"))], [("x", .integer(1))]))
        // A repeated key: the last value, at the first place.
        let g = try #require(SF.dictionary("a=1, b=2, a=3"))
        #expect(g.map(\.key) == ["a", "b"] && g[0].member == .item(SF.Item(.integer(3))))
        // aipref's use: tokens y and n, spaces and tabs after commas.
        let h = try #require(SF.dictionary("train-ai=n,\tsearch=y , train-genai=n;x=\"why\""))
        #expect(h.map(\.key) == ["train-ai", "search", "train-genai"])
        #expect(h[1].member == .item(SF.Item(.token("y"))))
    }

    @Test func emptyIsAnEmptyDictionary() {
        #expect(SF.dictionary("")?.isEmpty == true)
        #expect(SF.dictionary("   ")?.isEmpty == true)
    }

    @Test func everyBareItemType() throws {
        #expect(SF.item("-42") == SF.Item(.integer(-42)))
        #expect(SF.item("4.5") == SF.Item(.decimal(4.5)))
        #expect(SF.item(#""a \"b\" \\c""#) == SF.Item(.string(#"a "b" \c"#)))
        #expect(SF.item("foo123/456:x") == SF.Item(.token("foo123/456:x")))
        #expect(SF.item("*foo") == SF.Item(.token("*foo")))
        #expect(SF.item("?1") == SF.Item(.boolean(true)))
        #expect(SF.item("@1659578233") == SF.Item(.date(1_659_578_233)))
        #expect(
            SF.item(#"%"This is intended for display to %c3%bcsers.""#)
                == SF.Item(.displayString("This is intended for display to üsers.")))
        #expect(SF.item("999999999999999") == SF.Item(.integer(999_999_999_999_999)))
    }

    @Test(arguments: [
        "a=", "a=1,", "a=1,,b=2", "A=1", "1a=2", "a=1 b=2", "a=\"unterminated", "a=\"\u{7f}\"", "a=\"\\x\"",
        "a=?2", "a=1.", "a=1.2345", "a=1234567890123.5", "a=1234567890123456", "a=(1 2", "a=(1,2)", "a=:not base64!:",
        "a=%\"%C3\"", "a=%\"%c3\"", "a=@1.5", "a;=1", "a=1;B=2", "a=é",
    ])
    func invalidFieldsFailWhole(text: String) {
        #expect(SF.dictionary(text) == nil, "\(text)")
    }
}
