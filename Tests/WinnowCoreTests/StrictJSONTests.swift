import Testing

@testable import WinnowCore

/// RFC 8259's grammar, strictly: what Foundation's reader lets through is named with its line and column.
@Suite struct StrictJSONTests {
    func failure(_ text: String) -> StrictJSON.Failure? {
        do {
            try StrictJSON.validate(Array(text.utf8))
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        #"{}"#, #"[]"#, #" {"a": [1, -0.5, 2e10, 3E-2, true, false, null, "x\n\u00e9\"\\\/"], "b": {}} "#, "0", "\"s\"",
        "\u{FEFF}{\"a\": 1}", "{\"caf\u{E9}\": \"\u{65E5}\"}",
    ])
    func accepts(text: String) {
        #expect(failure(text) == nil, "\(text)")
    }

    @Test(arguments: [
        ("{\"a\": 1,}", 1, 9, "a trailing comma before '}'"),
        ("{\n  \"fetch\": {\"retries\": 1,},\n}", 2, 26, "a trailing comma before '}'"),
        ("[1, 2,]", 1, 7, "a trailing comma before ']'"),
        ("{\"a\": 1, \"a\": 2}", 1, 10, "the member \"a\" is given twice"),
        ("{a: 1}", 1, 2, "expected a member name in double quotes, found 'a'"),
        ("{\"a\" 1}", 1, 6, "expected ':' after the member name, found '1'"),
        ("{\"a\": 01}", 1, 8, "a number cannot start with 0"),
        ("{\"a\": 1.}", 1, 9, "expected digits after '.'"),
        ("{\"a\": .5}", 1, 7, "expected a value, found '.'"),
        ("{\"a\": tru}", 1, 7, "expected a value, found 't'"),
        ("{\"a\": \"x\ty\"}", 1, 9, "a control character (0x9) inside a string"),
        ("{\"a\": \"\\q\"}", 1, 9, "an unknown escape \\'q'"),
        ("{\"a\": \"\\u12G4\"}", 1, 9, "\\u needs four hex digits"),
        ("{\"a\": 1} x", 1, 10, "'x' after the end of the JSON value"),
        ("{\"a\": [1, 2}", 1, 12, "expected ',' or ']' after an element, found '}'"),
        ("{\"a\": \"open", 1, 7, "the string is not closed"),
        ("// comment\n{}", 1, 1, "expected a value, found '/'"),
        ("", 1, 1, "a value is missing: the file ends"),
    ])
    func refuses(text: String, line: Int, column: Int, message: String) {
        #expect(failure(text) == StrictJSON.Failure(line: line, column: column, message: message), "\(text)")
    }

    @Test func depthIsBounded() {
        #expect(
            failure(String(repeating: "[", count: 300) + String(repeating: "]", count: 300))?.message
                == "nested more than 256 deep")
    }
}
