internal import CScan
import Foundation

/// A forward-only JSON scanner over bytes that materialises only what it is asked for: values of keys nobody wants
/// are skipped without allocating. It is what makes WAT parsing run near decompression speed.
struct JSONScanner {
    /// A string value's raw bytes (between the quotes, escapes not yet decoded).
    struct Slice {
        var start: Int
        var end: Int
        var hasEscapes: Bool
        static let empty = Slice(start: 0, end: 0, hasEscapes: false)
        var isEmpty: Bool { end <= start }
    }

    struct Failure: Error {
        let message: String
        let position: Int
    }

    let p: UnsafePointer<UInt8>
    let count: Int
    var i = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        p = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        count = buffer.count
    }

    @inline(__always) mutating func skipWhitespace() {
        while i < count {
            let c = p[i]
            if c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 { i += 1 } else { return }
        }
    }

    @inline(__always) func fail(_ message: String) -> Failure { Failure(message: message, position: i) }

    /// Expects `c` (after whitespace) and steps over it.
    @inline(__always) mutating func expect(_ c: UInt8) throws(Failure) {
        skipWhitespace()
        guard i < count, p[i] == c else {
            throw fail("expected '\(Character(Unicode.Scalar(c)))'")
        }
        i += 1
    }

    /// Peeks at the next non-whitespace byte (0 at the end).
    @inline(__always) mutating func peek() -> UInt8 {
        skipWhitespace()
        return i < count ? p[i] : 0
    }

    /// Reads a string (the opening quote is next) as a slice.
    @inline(__always) mutating func string() throws(Failure) -> Slice {
        try expect(0x22)
        let start = i
        var escapes: Int32 = 0
        let end = winnow_json_string_end(p, start, count, &escapes)
        if end >= count {
            i = count
            throw fail("unterminated string")
        }
        i = end + 1
        return Slice(start: start, end: end, hasEscapes: escapes != 0)
    }

    /// Skips any value.
    mutating func skipValue() throws(Failure) {
        let c = peek()
        switch c {
        case 0x22: _ = try string()
        case 0x7b, 0x5b:
            i += 1
            try skipRestOfObject()
        default:
            // Numbers, true, false, null.
            let start = i
            while i < count {
                let b = p[i]
                if b == 0x2c || b == 0x7d || b == 0x5d || b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09 { break }
                i += 1
            }
            if i == start { throw fail("expected a value") }
        }
    }

    /// Skips to just after the `}` or `]` that closes the object or array the scanner is inside (strings and
    /// nesting respected).
    mutating func skipRestOfObject() throws(Failure) {
        let end = winnow_json_skip_container(p, i, count)
        if end < 0 {
            i = count
            throw fail("unterminated object or array")
        }
        i = end
    }

    /// Calls `body` for each key of the object that comes next; `body` must consume the value (or call skipValue).
    mutating func object(_ body: (inout JSONScanner, Slice) throws(Failure) -> Void) throws(Failure) {
        try expect(0x7b)
        if peek() == 0x7d {
            i += 1
            return
        }
        while true {
            let key = try string()
            try expect(0x3a)
            try body(&self, key)
            let c = peek()
            i += 1
            if c == 0x2c { continue }
            if c == 0x7d { return }
            i -= 1
            throw fail("expected ',' or '}' in an object")
        }
    }

    /// Calls `body` for each element of the array that comes next.
    mutating func array(_ body: (inout JSONScanner) throws(Failure) -> Void) throws(Failure) {
        try expect(0x5b)
        if peek() == 0x5d {
            i += 1
            return
        }
        while true {
            try body(&self)
            let c = peek()
            i += 1
            if c == 0x2c { continue }
            if c == 0x5d { return }
            i -= 1
            throw fail("expected ',' or ']' in an array")
        }
    }

    /// Whether the slice's raw bytes equal `key` (keys with escapes never match).
    @inline(__always) func equals(_ s: Slice, _ key: StaticString) -> Bool {
        let n = key.utf8CodeUnitCount
        guard !s.hasEscapes, s.end - s.start == n else { return false }
        return memcmp(p + s.start, key.utf8Start, n) == 0
    }

    /// Case-insensitive comparison with a lower-case ASCII key.
    @inline(__always) func equalsLower(_ s: Slice, _ key: StaticString) -> Bool {
        let n = key.utf8CodeUnitCount
        guard !s.hasEscapes, s.end - s.start == n else { return false }
        let k = key.utf8Start
        for j in 0..<n {
            var c = p[s.start + j]
            if c >= 0x41 && c <= 0x5a { c += 0x20 }
            if c != k[j] { return false }
        }
        return true
    }

    /// The string a slice holds, escapes decoded. Invalid UTF-8 is repaired (U+FFFD) and reported in `repaired`.
    func text(_ s: Slice, repaired: inout Bool) -> String {
        if !s.hasEscapes {
            let raw = UnsafeBufferPointer(start: p + s.start, count: s.end - s.start)
            // Most text is ASCII, which needs no validation (String(validating:) is not specialised: slow).
            if winnow_is_ascii(p + s.start, s.end - s.start) != 0 { return String(decoding: raw, as: UTF8.self) }
            if let valid = String(validating: raw, as: UTF8.self) { return valid }
            repaired = true
            return String(decoding: raw, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.end - s.start)
        var j = s.start
        while j < s.end {
            let c = p[j]
            if c != 0x5c {
                out.append(c)
                j += 1
                continue
            }
            guard j + 1 < s.end else { break }
            let e = p[j + 1]
            j += 2
            switch e {
            case 0x6e: out.append(0x0a)
            case 0x74: out.append(0x09)
            case 0x72: out.append(0x0d)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0c)
            case 0x75:
                var scalar = hex4(j, s.end)
                j += 4
                if scalar >= 0xD800 && scalar < 0xDC00, j + 6 <= s.end, p[j] == 0x5c, p[j + 1] == 0x75 {
                    let low = hex4(j + 2, s.end)
                    if low >= 0xDC00 && low < 0xE000 {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        j += 6
                    }
                }
                let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: out.append(e)  // \" \\ \/ and anything else taken literally
            }
        }
        if let valid = String(validating: out, as: UTF8.self) { return valid }
        repaired = true
        return String(decoding: out, as: UTF8.self)
    }

    private func hex4(_ at: Int, _ end: Int) -> UInt32 {
        guard at + 4 <= end else { return 0xFFFD }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = p[at + k]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: return 0xFFFD
            }
            v = v << 4 | d
        }
        return v
    }
}
