internal import CScan
import Foundation

/// A record's JSON bytes and what the reader reads from them: the text of string slices that the C walk
/// (`winnow_wat_scan`) found, and key comparisons. Also the Swift face of CScan's byte scans, for tests.
struct JSONScanner {
    /// A string value's raw bytes (between the quotes, escapes not yet decoded).
    struct Slice {
        var start: Int
        var end: Int
        var hasEscapes: Bool
        static let empty = Slice(start: 0, end: 0, hasEscapes: false)
        var isEmpty: Bool { end <= start }
    }

    let p: UnsafePointer<UInt8>
    let count: Int

    init(_ buffer: UnsafeRawBufferPointer) {
        p = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)  // ok: callers pass non-empty records
        count = buffer.count
    }

    /// The string that starts just after an opening quote at `i`: its end (the closing quote), or nil when it is not
    /// closed. The corresponding C function is `winnow_json_string_end`.
    func stringEnd(from i: Int) -> (end: Int, hasEscapes: Bool)? {
        var escapes: Int32 = 0
        let end = winnow_json_string_end(p, i, count, &escapes)
        return end < count ? (end, escapes != 0) : nil
    }

    /// The container scan from `i` (inside an object or array) with the instruction set `isa` (0 bytes, 1 SSE2, 2
    /// AVX2, 3 AVX-512): the index after its closing bracket, or nil; with `found`, the elements that may be image
    /// links. The corresponding C function is `winnow_json_scan_using`.
    func scan(from i: Int, isa: Int32, found: inout [Int]?) -> Int? {
        guard found != nil else {
            let end = winnow_json_scan_using(isa, p, i, count, nil, 0, nil)
            return end < 0 ? nil : end
        }
        var room = 16
        while true {
            var starts = [Int](repeating: 0, count: room)
            var n = 0
            let end = starts.withUnsafeMutableBufferPointer {
                winnow_json_scan_using(isa, p, i, count, $0.baseAddress, room, &n)
            }
            if end == -2 {
                room *= 2
                continue
            }
            found = Array(starts.prefix(n))
            return end < 0 ? nil : end
        }
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

    /// Whether the slice's raw bytes may say "no" in any case: false only when they hold no escape and no such pair.
    func mayHoldNo(_ s: Slice) -> Bool {
        if s.hasEscapes { return true }
        var k = s.start
        while k + 1 < s.end {
            if p[k] | 0x20 == 0x6e && p[k + 1] | 0x20 == 0x6f { return true }
            k += 1
        }
        return false
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
