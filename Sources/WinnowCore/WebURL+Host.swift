/// The WHATWG host parser for special schemes: IPv6 in brackets, otherwise a domain (percent-decoded, IDNA to
/// ASCII) that is an IPv4 address when it ends in a number.
extension WebURL {
    /// The serialised host of `raw` (not empty).
    static func parseHost(_ raw: Bytes) throws(Failure) -> String {
        if raw.first == 0x5b {
            guard raw.last == 0x5d, raw.count >= 2 else { throw .ipv6 }
            return "[" + serializeIPv6(try parseIPv6(raw.dropFirst().dropLast())) + "]"
        }
        // Most hosts are plain lower-case ASCII: one pass says whether anything beyond lower-casing applies.
        var plain = true
        var upper = false
        for c in raw {
            if c >= 0x41 && c <= 0x5a {
                upper = true
            } else if !((c >= 0x61 && c <= 0x7a) || isDigit(c) || c == 0x2d || c == 0x2e || c == 0x5f) {
                plain = false
                break
            }
        }
        var domain: [UInt8]
        if plain {
            domain = upper ? raw.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 } : Array(raw)
        } else {
            domain = raw.contains(0x25) ? percentDecode(raw) : Array(raw)
            if domain.allSatisfy({ $0 < 0x80 }) {
                domain = domain.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 }
            } else {
                // Invalid UTF-8 decodes to U+FFFD, which IDNA disallows.
                do {
                    domain = Array(try IDNA.toASCII(String(decoding: domain, as: UTF8.self)).utf8)
                } catch {
                    throw .idna
                }
            }
        }
        // ASCII labels that claim to be Punycode are decoded and validated (the spec's ASCII shortcut covers only
        // domains without them).
        if hasPunycodeLabel(domain) {
            do {
                domain = Array(try IDNA.toASCII(String(decoding: domain, as: UTF8.self)).utf8)
            } catch {
                throw .idna
            }
        }
        if !plain {
            for c in domain where isForbiddenInDomain(c) { throw .host }
        }
        if endsInNumber(domain) { return try parseIPv4(domain[...]) }
        return String(decoding: domain, as: UTF8.self)
    }

    /// A forbidden domain code point (all are ASCII): C0 controls, space, `# % / : < > ? @ [ \ ] ^ |`, DEL.
    static func isForbiddenInDomain(_ c: UInt8) -> Bool {
        switch c {
        case 0...0x20, 0x23, 0x25, 0x2f, 0x3a, 0x3c, 0x3e, 0x3f, 0x40, 0x5b, 0x5c, 0x5d, 0x5e, 0x7c, 0x7f: true
        default: false
        }
    }

    /// Whether a label of the (lower-cased) domain starts with `xn--`.
    static func hasPunycodeLabel(_ d: [UInt8]) -> Bool {
        var k = 0
        while k + 4 <= d.count {
            if d[k] == 0x78 && d[k + 1] == 0x6e && d[k + 2] == 0x2d && d[k + 3] == 0x2d { return true }
            guard let dot = d[k...].firstIndex(of: 0x2e) else { return false }
            k = dot + 1
        }
        return false
    }

    /// The "ends in a number" checker: the last label (the one before a trailing dot) is all digits, or `0x`
    /// and hex digits.
    static func endsInNumber(_ d: [UInt8]) -> Bool {
        var end = d.count
        if end > 0 && d[end - 1] == 0x2e {
            if end == 1 { return false }
            end -= 1
        }
        let start = d[..<end].lastIndex(of: 0x2e).map { $0 + 1 } ?? 0
        let last = d[start..<end]
        if !last.isEmpty && last.allSatisfy(isDigit) { return true }
        return last.count >= 2 && last.first == 0x30 && (last[start + 1] == 0x78 || last[start + 1] == 0x58)
            && last.dropFirst(2).allSatisfy(isHexDigit)
    }

    /// The IPv4 parser: 1 to 4 dot-separated numbers (decimal, 0x hex or 0-prefixed octal), all but the last
    /// up to 255, the last filling the remaining bytes; one trailing dot allowed. Dotted decimal out.
    static func parseIPv4(_ host: ArraySlice<UInt8>) throws(Failure) -> String {
        var parts = host.split(separator: 0x2e, omittingEmptySubsequences: false)
        if parts.count > 1 && parts.last?.isEmpty == true { parts.removeLast() }
        guard parts.count <= 4 else { throw .ipv4 }
        var numbers: [UInt64] = []
        for p in parts {
            guard let n = ipv4Number(p) else { throw .ipv4 }
            numbers.append(n)
        }
        for n in numbers.dropLast() where n > 255 { throw .ipv4 }
        guard let last = numbers.last, last < UInt64(1) << (8 * UInt64(5 - numbers.count)) else { throw .ipv4 }
        var value = last
        for (k, n) in numbers.dropLast().enumerated() { value += n << (8 * UInt64(3 - k)) }
        return "\(value >> 24 & 255).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)"
    }

    /// The IPv4 number parser: nil for an empty part or a digit outside the radix. Saturates far above 2^32,
    /// which is out of range anyway.
    static func ipv4Number(_ s: ArraySlice<UInt8>) -> UInt64? {
        if s.isEmpty { return nil }
        var t = s
        var radix: UInt64 = 10
        if t.count >= 2 && t.first == 0x30 && (t[t.startIndex + 1] == 0x78 || t[t.startIndex + 1] == 0x58) {
            t = t.dropFirst(2)
            radix = 16
        } else if t.count >= 2 && t.first == 0x30 {
            t = t.dropFirst()
            radix = 8
        }
        var value: UInt64 = 0
        for c in t {
            guard let d = hexValue(c), d < radix else { return nil }
            value = min(value * radix + d, 1 << 40)
        }
        return value
    }

    static func isHexDigit(_ c: UInt8) -> Bool { hexValue(c) != nil }

    static func hexValue(_ c: UInt8) -> UInt64? {
        switch c {
        case 0x30...0x39: UInt64(c - 0x30)
        case 0x61...0x66: UInt64(c - 0x61 + 10)
        case 0x41...0x46: UInt64(c - 0x41 + 10)
        default: nil
        }
    }

    /// The IPv6 parser: eight 16-bit pieces, `::` compressing a run of zeros, an optional dotted IPv4 tail.
    static func parseIPv6(_ input: ArraySlice<UInt8>) throws(Failure) -> [UInt16] {
        let b = Array(input)
        var address = [UInt16](repeating: 0, count: 8)
        var piece = 0
        var compress: Int?
        var p = 0
        func at(_ k: Int) -> UInt8? { k < b.count ? b[k] : nil }
        if at(p) == 0x3a {
            guard at(p + 1) == 0x3a else { throw .ipv6 }
            p += 2
            piece += 1
            compress = piece
        }
        while let c = at(p) {
            guard piece < 8 else { throw .ipv6 }
            if c == 0x3a {
                guard compress == nil else { throw .ipv6 }
                p += 1
                piece += 1
                compress = piece
                continue
            }
            var value: UInt16 = 0
            var length = 0
            while length < 4, let d = at(p).flatMap(hexValue) {
                value = value << 4 | UInt16(d)
                p += 1
                length += 1
            }
            if at(p) == 0x2e {
                // An IPv4 address in the last two pieces.
                guard length > 0, piece <= 6 else { throw .ipv6 }
                p -= length
                var seen = 0
                while at(p) != nil {
                    if seen > 0 {
                        guard at(p) == 0x2e, seen < 4 else { throw .ipv6 }
                        p += 1
                    }
                    guard let first = at(p), isDigit(first) else { throw .ipv6 }
                    var number: Int?
                    while let d = at(p), isDigit(d) {
                        if number == 0 { throw .ipv6 }
                        number = (number ?? 0) * 10 + Int(d - 0x30)
                        guard let n = number, n <= 255 else { throw .ipv6 }
                        p += 1
                    }
                    address[piece] = address[piece] << 8 | UInt16(number ?? 0)
                    seen += 1
                    if seen == 2 || seen == 4 { piece += 1 }
                }
                guard seen == 4 else { throw .ipv6 }
                break
            } else if at(p) == 0x3a {
                p += 1
                guard at(p) != nil else { throw .ipv6 }
            } else if at(p) != nil {
                throw .ipv6
            }
            address[piece] = value
            piece += 1
        }
        if let compress {
            var swaps = piece - compress
            piece = 7
            while piece != 0 && swaps > 0 {
                address.swapAt(piece, compress + swaps - 1)
                piece -= 1
                swaps -= 1
            }
        } else if piece != 8 {
            throw .ipv6
        }
        return address
    }

    /// The IPv6 serializer: lower-case hex pieces, the first longest run of two or more zero pieces as `::`.
    static func serializeIPv6(_ address: [UInt16]) -> String {
        var best: (start: Int, length: Int)?
        var k = 0
        while k < 8 {
            guard address[k] == 0 else {
                k += 1
                continue
            }
            var end = k
            while end < 8 && address[end] == 0 { end += 1 }
            if end - k > 1 && end - k > (best?.length ?? 0) { best = (k, end - k) }
            k = end
        }
        var out = ""
        var i = 0
        while i < 8 {
            if let best, i == best.start {
                out += i == 0 ? "::" : ":"
                i += best.length
                continue
            }
            out += String(address[i], radix: 16)
            if i != 7 { out += ":" }
            i += 1
        }
        return out
    }
}
