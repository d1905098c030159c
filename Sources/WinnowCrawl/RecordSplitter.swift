import Foundation

/// Splits decompressed bytes (one gzip member) into WARC records without copying their blocks.
enum RecordSplitter {
    /// Whether two bytes are the same ASCII letter in any case, or the same byte.
    @inline(__always) static func foldEqual(_ a: UInt8, _ b: UInt8) -> Bool {
        a == b || (a | 0x20 == b | 0x20 && a | 0x20 >= 0x61 && a | 0x20 <= 0x7a)
    }

    /// Whether the bytes at `p` equal the ASCII `key` in any case.
    @inline(__always) static func memcmpFold(_ p: UnsafePointer<UInt8>, _ key: StaticString) -> Bool {
        let k = key.utf8Start
        for j in 0..<key.utf8CodeUnitCount where !foldEqual(p[j], k[j]) { return false }
        return true
    }

    /// A non-negative decimal number of at most 18 digits, or nil.
    static func decimal(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !b.isEmpty, b.count <= 18 else { return nil }
        var v = 0
        for c in b {
            guard c >= 0x30 && c <= 0x39 else { return nil }
            v = v * 10 + Int(c - 0x30)
        }
        return v
    }

    struct Problem {
        let code: String
        let message: String
    }

    /// A record's header fields as byte ranges: strings are made only for the fields asked for.
    struct Fields {
        let base: UnsafePointer<UInt8>
        var ranges: [(name: Range<Int>, value: Range<Int>)] = []

        /// The bytes of the value of the first field named `name` (ASCII, any case).
        func valueBytes(_ name: StaticString) -> UnsafeBufferPointer<UInt8>? {
            let n = name.utf8CodeUnitCount
            for (k, v) in ranges where k.count == n && RecordSplitter.memcmpFold(base + k.lowerBound, name) {
                return UnsafeBufferPointer(start: base + v.lowerBound, count: v.count)
            }
            return nil
        }

        /// Whether the first field named `name` has exactly the value `expected`.
        func valueEquals(_ name: StaticString, _ expected: StaticString) -> Bool {
            guard let v = valueBytes(name), v.count == expected.utf8CodeUnitCount else { return false }
            return memcmp(v.baseAddress!, expected.utf8Start, v.count) == 0  // ok: count is the expected one, not 0
        }

        /// Whether the value of the first field named `name` starts with the lower-case ASCII `prefix`, in any case.
        func valueHasPrefixFold(_ name: StaticString, _ prefix: StaticString) -> Bool {
            let n = prefix.utf8CodeUnitCount
            guard let v = valueBytes(name), v.count >= n else { return false }
            let k = prefix.utf8Start
            for j in 0..<n where v[j] != k[j] && !(v[j] >= 0x41 && v[j] <= 0x5a && v[j] + 0x20 == k[j]) {
                return false
            }
            return true
        }

        /// The value of the first field named `name` (ASCII, any case).
        func value(_ name: String) -> String? {
            var name = name
            return name.withUTF8 { key -> String? in
                for (n, v) in ranges where n.count == key.count {
                    var same = true
                    for j in 0..<key.count where !RecordSplitter.foldEqual(base[n.lowerBound + j], key[j]) {
                        same = false
                        break
                    }
                    if same {
                        return String(
                            decoding: UnsafeBufferPointer(start: base + v.lowerBound, count: v.count), as: UTF8.self)
                    }
                }
                return nil
            }
        }
    }

    /// Calls `body` with each record's header fields and block, or with a problem (after which the member is
    /// abandoned).
    static func records(
        in bytes: UnsafeRawBufferPointer,
        _ body: (Fields, UnsafeRawBufferPointer, Problem?) throws -> Void
    ) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let n = bytes.count
        var i = 0
        // One array of field ranges for all the records of the member.
        var headers = Fields(base: base)
        headers.ranges.reserveCapacity(16)
        func line() -> (start: Int, end: Int)? {
            guard i < n else { return nil }
            let start = i
            let found = memchr(base + i, 0x0a, n - i)
            let nl = found.map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? n
            var end = nl
            if end > start && base[end - 1] == 0x0d { end -= 1 }
            i = min(n, nl + 1)
            return (start, end)
        }
        while true {
            while i < n && (base[i] == 0x0d || base[i] == 0x0a) { i += 1 }
            guard i < n else { return }
            guard let version = line() else { return }
            let v = UnsafeBufferPointer(start: base + version.start, count: version.end - version.start)
            guard v.count >= 5, memcmp(base + version.start, "WARC/", 5) == 0 else {
                let shown = String(decoding: v.prefix(40), as: UTF8.self)
                try body(
                    Fields(base: base), UnsafeRawBufferPointer(start: nil, count: 0),
                    Problem(
                        code: "bad_warc_header",
                        message: "expected a WARC/1.x version line, found \(shown.debugDescription)"))
                return
            }
            headers.ranges.removeAll(keepingCapacity: true)
            var length = -1
            while true {
                guard let l = line() else {
                    try body(
                        headers, UnsafeRawBufferPointer(start: nil, count: 0),
                        Problem(code: "truncated_record", message: "data ends inside a WARC header"))
                    return
                }
                if l.end == l.start { break }
                let text = UnsafeBufferPointer(start: base + l.start, count: l.end - l.start)
                guard let found = memchr(base + l.start, 0x3a, l.end - l.start) else {
                    try body(
                        headers, UnsafeRawBufferPointer(start: nil, count: 0),
                        Problem(
                            code: "bad_warc_header",
                            message:
                                "header line without a colon: \(String(decoding: text.prefix(60), as: UTF8.self).debugDescription)"
                        ))
                    return
                }
                var ns = l.start
                var ne = UnsafeRawPointer(found) - UnsafeRawPointer(base)
                var vs = ne + 1
                var ve = l.end
                while ns < ne && (base[ns] == 0x20 || base[ns] == 0x09) { ns += 1 }
                while ne > ns && (base[ne - 1] == 0x20 || base[ne - 1] == 0x09) { ne -= 1 }
                while vs < ve && (base[vs] == 0x20 || base[vs] == 0x09) { vs += 1 }
                while ve > vs && (base[ve - 1] == 0x20 || base[ve - 1] == 0x09) { ve -= 1 }
                headers.ranges.append((ns..<ne, vs..<ve))
                if length < 0 && ne - ns == 14 && memcmpFold(base + ns, "content-length") {
                    length = decimal(UnsafeBufferPointer(start: base + vs, count: ve - vs)) ?? -2
                }
            }
            guard length >= 0 else {
                try body(
                    headers, UnsafeRawBufferPointer(start: nil, count: 0),
                    Problem(code: "bad_warc_header", message: "missing or invalid Content-Length"))
                return
            }
            guard i + length <= n else {
                try body(
                    headers, UnsafeRawBufferPointer(start: nil, count: 0),
                    Problem(
                        code: "truncated_record",
                        message: "record block (Content-Length \(length)) runs past the end of its gzip member"))
                return
            }
            try body(headers, UnsafeRawBufferPointer(start: base + i, count: length), nil)
            i += length
        }
    }
}
