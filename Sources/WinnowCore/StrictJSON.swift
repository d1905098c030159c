/// A strict check of JSON text against RFC 8259's grammar, for files people write by hand (pipeline configs):
/// Foundation's reader accepts a trailing comma and other slips silently. It also refuses a key given twice in one
/// object, which JSON leaves undefined and which would otherwise let the later value win unnoticed. It only checks;
/// parsing stays Foundation's.
public enum StrictJSON {
    /// Where the text stops being JSON, and why (line and column count from 1; columns in bytes).
    public struct Failure: Error, Sendable, Equatable {
        /// The line.
        public var line: Int
        /// The column (bytes from the line's start, from 1).
        public var column: Int
        /// What is wrong there.
        public var message: String
    }

    /// Checks `bytes`; throws the first place where they are not one JSON value.
    public static func validate(_ bytes: [UInt8]) throws(Failure) {
        var p = Parser(b: bytes)
        try p.run()
    }

    struct Parser {
        let b: [UInt8]
        var i = 0
        var depth = 0

        func fail(_ message: String, at position: Int? = nil) -> Failure {
            let at = min(position ?? i, b.count)
            var line = 1
            var start = 0
            for k in 0..<at where b[k] == 0x0a {
                line += 1
                start = k + 1
            }
            return Failure(line: line, column: at - start + 1, message: message)
        }

        var here: String {
            guard i < b.count else { return "the end of the file" }
            let c = b[i]
            return c >= 0x21 && c < 0x7f
                ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x" + String(c, radix: 16, uppercase: true)
        }

        mutating func space() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0a || b[i] == 0x0d { i += 1 }
        }

        mutating func run() throws(Failure) {
            // A UTF-8 byte order mark is not JSON (RFC 8259 8.1 lets readers skip it; Foundation does).
            if b.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
            space()
            try value()
            space()
            if i < b.count { throw fail("\(here) after the end of the JSON value") }
        }

        mutating func value() throws(Failure) {
            guard i < b.count else { throw fail("a value is missing: the file ends") }
            switch b[i] {
            case 0x7b: try object()
            case 0x5b: try array()
            case 0x22: _ = try string()
            case 0x74: try literal("true")
            case 0x66: try literal("false")
            case 0x6e: try literal("null")
            case 0x2d, 0x30...0x39: try number()
            default: throw fail("expected a value, found \(here)")
            }
        }

        mutating func nest() throws(Failure) {
            depth += 1
            if depth > 256 { throw fail("nested more than 256 deep") }
        }

        mutating func object() throws(Failure) {
            try nest()
            i += 1
            space()
            var keys: Set<[UInt8]> = []
            if i < b.count && b[i] == 0x7d {
                i += 1
                depth -= 1
                return
            }
            while true {
                space()
                guard i < b.count, b[i] == 0x22 else {
                    if i < b.count && b[i] == 0x7d { throw fail("a trailing comma before '}'") }
                    throw fail("expected a member name in double quotes, found \(here)")
                }
                let at = i
                let key = try string()
                if !keys.insert(key).inserted {
                    throw fail(
                        "the member \(String(decoding: key, as: UTF8.self).debugDescription) is given twice", at: at)
                }
                space()
                guard i < b.count, b[i] == 0x3a else { throw fail("expected ':' after the member name, found \(here)") }
                i += 1
                space()
                try value()
                space()
                guard i < b.count else { throw fail("the object is not closed: the file ends") }
                if b[i] == 0x2c {
                    i += 1
                    continue
                }
                if b[i] == 0x7d {
                    i += 1
                    depth -= 1
                    return
                }
                throw fail("expected ',' or '}' after a member, found \(here)")
            }
        }

        mutating func array() throws(Failure) {
            try nest()
            i += 1
            space()
            if i < b.count && b[i] == 0x5d {
                i += 1
                depth -= 1
                return
            }
            while true {
                space()
                if i < b.count && b[i] == 0x5d { throw fail("a trailing comma before ']'") }
                try value()
                space()
                guard i < b.count else { throw fail("the array is not closed: the file ends") }
                if b[i] == 0x2c {
                    i += 1
                    continue
                }
                if b[i] == 0x5d {
                    i += 1
                    depth -= 1
                    return
                }
                throw fail("expected ',' or ']' after an element, found \(here)")
            }
        }

        /// A string's raw bytes between its quotes (escapes checked, not decoded).
        mutating func string() throws(Failure) -> [UInt8] {
            let start = i
            i += 1
            while i < b.count {
                let c = b[i]
                if c == 0x22 {
                    i += 1
                    return Array(b[(start + 1)..<(i - 1)])
                }
                if c < 0x20 { throw fail("a control character (0x\(String(c, radix: 16))) inside a string") }
                if c == 0x5c {
                    i += 1
                    guard i < b.count else { break }
                    switch b[i] {
                    case 0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74: i += 1
                    case 0x75:
                        guard i + 4 < b.count, b[(i + 1)...(i + 4)].allSatisfy(StrictJSON.isHex) else {
                            throw fail("\\u needs four hex digits")
                        }
                        i += 5
                    default: throw fail("an unknown escape \\\(here)")
                    }
                    continue
                }
                i += 1
            }
            throw fail("the string is not closed", at: start)
        }

        mutating func literal(_ word: String) throws(Failure) {
            let w = Array(word.utf8)
            guard b.count - i >= w.count, Array(b[i..<(i + w.count)]) == w else {
                throw fail("expected a value, found \(here)")
            }
            i += w.count
        }

        mutating func number() throws(Failure) {
            func digits() -> Int {
                let s = i
                while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
                return i - s
            }
            if b[i] == 0x2d { i += 1 }
            guard i < b.count, b[i] >= 0x30 && b[i] <= 0x39 else { throw fail("a number needs digits") }
            if b[i] == 0x30 {
                i += 1
                if i < b.count, b[i] >= 0x30 && b[i] <= 0x39 { throw fail("a number cannot start with 0") }
            } else {
                _ = digits()
            }
            if i < b.count && b[i] == 0x2e {
                i += 1
                if digits() == 0 { throw fail("expected digits after '.'") }
            }
            if i < b.count && (b[i] == 0x65 || b[i] == 0x45) {
                i += 1
                if i < b.count && (b[i] == 0x2b || b[i] == 0x2d) { i += 1 }
                if digits() == 0 { throw fail("expected digits in the exponent") }
            }
        }
    }

    static func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x66) }
}
