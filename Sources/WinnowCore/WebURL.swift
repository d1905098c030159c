import Foundation

/// An http(s) URL parsed and serialised per the WHATWG URL Standard (the special-scheme parts of it): relative
/// references resolved against a base, backslashes as slashes, dot segments removed, host lower-cased and IDN hosts
/// to punycode, IPv4 in any notation normalised, default ports removed, path and query percent-encoded.
public struct WebURL: Sendable, Equatable {
    /// `http` or `https`.
    public var scheme: String
    /// Percent-encoded `user:password`, if any.
    public var userinfo: String
    /// ASCII host (punycode for IDN, dotted decimal for IPv4, `[...]` for IPv6).
    public var host: String
    /// Port, nil when default.
    public var port: Int?
    /// Path, starting with `/`, percent-encoded.
    public var path: String
    /// Query without `?`, percent-encoded; nil when absent.
    public var query: String?

    /// A URL from its parts, taken as they are (already normalised and encoded).
    public init(scheme: String, userinfo: String, host: String, port: Int?, path: String, query: String?) {
        self.scheme = scheme
        self.userinfo = userinfo
        self.host = host
        self.port = port
        self.path = path
        self.query = query
    }

    /// Why a reference could not become an http(s) URL.
    public enum Failure: String, Error, Sendable {
        case empty, scheme, noBase = "no_base", host, port
    }

    /// The serialised URL (without fragment).
    public var href: String {
        var s = scheme + "://"
        if !userinfo.isEmpty { s += userinfo + "@" }
        s += host
        if let p = port { s += ":\(p)" }
        s += path
        if let q = query { s += "?" + q }
        return s
    }

    /// Parses `input` against `base`. Only http and https results are accepted.
    public static func parse(_ input: String, base: WebURL? = nil) throws(Failure) -> WebURL {
        // Works on UTF-8 bytes: every delimiter is ASCII, and non-ASCII bytes only ever get percent-encoded
        // (or, in a host, IDNA-mapped).
        var b = Array(input.utf8)
        // Leading and trailing C0 controls and spaces are stripped; tabs and newlines anywhere are removed.
        var lo = 0
        var hi = b.count
        while lo < hi && b[lo] <= 0x20 { lo += 1 }
        while hi > lo && b[hi - 1] <= 0x20 { hi -= 1 }
        if lo > 0 || hi < b.count { b = Array(b[lo..<hi]) }
        if b.contains(where: { $0 == 0x09 || $0 == 0x0a || $0 == 0x0d }) {
            b.removeAll { $0 == 0x09 || $0 == 0x0a || $0 == 0x0d }
        }
        // The fragment never matters for fetching: drop it first.
        if let hash = b.firstIndex(of: 0x23) { b.removeSubrange(hash...) }
        if b.isEmpty {
            guard let base else { throw .empty }
            return base
        }
        var rest = b[...]
        var scheme: String?
        if let colon = b.firstIndex(of: 0x3a), colon > 0, isAlpha(b[0]),
            b[1..<colon].allSatisfy({ isAlpha($0) || isDigit($0) || $0 == 0x2b || $0 == 0x2d || $0 == 0x2e })
        {
            scheme = String(decoding: b[0..<colon], as: UTF8.self).lowercased()
            rest = b[(colon + 1)...]
        }
        if let s = scheme {
            guard s == "http" || s == "https" else { throw .scheme }
            if let base, base.scheme == s, rest.first.map(isSlash) != true {
                return try relative(rest, base: base)
            }
            while let f = rest.first, isSlash(f) { rest = rest.dropFirst() }
            return try absolute(scheme: s, rest)
        }
        guard let base else { throw .noBase }
        if rest.count >= 2, isSlash(rest[rest.startIndex]), isSlash(rest[rest.startIndex + 1]) {
            while let f = rest.first, isSlash(f) { rest = rest.dropFirst() }
            return try absolute(scheme: base.scheme, rest)
        }
        return try relative(rest, base: base)
    }

    /// Convenience: the serialised URL, or nil.
    public static func resolve(_ input: String, against base: WebURL?) -> String? {
        try? parse(input, base: base).href
    }

    typealias Bytes = ArraySlice<UInt8>

    private static func absolute(scheme: String, _ input: Bytes) throws(Failure) -> WebURL {
        let end = input.firstIndex { isSlash($0) || $0 == 0x3f } ?? input.endIndex
        var authority = input[input.startIndex..<end]
        var userinfo = ""
        if let at = authority.lastIndex(of: 0x40) {
            let credentials = authority[authority.startIndex..<at]
            if let colon = credentials.firstIndex(of: 0x3a) {
                userinfo =
                    percentEncode(credentials[credentials.startIndex..<colon], set: .userinfo) + ":"
                    + percentEncode(credentials[(colon + 1)...], set: .userinfo)
            } else {
                userinfo = percentEncode(credentials, set: .userinfo)
            }
            authority = authority[(at + 1)...]
        }
        var hostPart = authority
        var port: Int?
        let closeBracket = authority.lastIndex(of: 0x5d)
        if let colon = authority.lastIndex(of: 0x3a), closeBracket.map({ colon > $0 }) ?? true {
            hostPart = authority[authority.startIndex..<colon]
            let digits = authority[(colon + 1)...]
            if !digits.isEmpty {
                guard digits.count <= 5, digits.allSatisfy(isDigit),
                    let p = Int(String(decoding: digits, as: UTF8.self)),
                    p <= 65535
                else { throw .port }
                port = p
            }
        }
        if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) { port = nil }
        let host = try parseHost(hostPart)
        var url = WebURL(scheme: scheme, userinfo: userinfo, host: host, port: port, path: "/", query: nil)
        let (pathPart, query) = splitQuery(input[end...])
        url.path = normalizePath(segments: splitPath(pathPart), base: [])
        url.query = query.map { percentEncode($0, set: .query) }
        return url
    }

    private static func relative(_ input: Bytes, base: WebURL) throws(Failure) -> WebURL {
        var url = base
        let (pathPart, query) = splitQuery(input)
        if pathPart.isEmpty {
            // "?q" keeps the base path.
            if query != nil { url.query = query.map { percentEncode($0, set: .query) } }
            return url
        }
        url.query = query.map { percentEncode($0, set: .query) }
        if isSlash(pathPart[pathPart.startIndex]) {
            url.path = normalizePath(segments: splitPath(pathPart), base: [])
        } else {
            // The base path is already encoded and normalised: its segments are kept as they are.
            var baseSegments = base.path.utf8.split(separator: 0x2f, omittingEmptySubsequences: false).dropFirst()
                .map { String(decoding: $0, as: UTF8.self) }
            if !baseSegments.isEmpty { baseSegments.removeLast() }
            url.path = normalizePath(segments: splitPath(pathPart), base: baseSegments)
        }
        return url
    }

    private static func splitQuery(_ s: Bytes) -> (Bytes, Bytes?) {
        guard let q = s.firstIndex(of: 0x3f) else { return (s, nil) }
        return (s[s.startIndex..<q], s[(q + 1)...])
    }

    /// Raw path segments of `/a/b\c` (leading slash dropped).
    private static func splitPath(_ s: Bytes) -> [Bytes] {
        var body = s
        if let f = body.first, isSlash(f) { body = body.dropFirst() }
        return body.split(omittingEmptySubsequences: false, whereSeparator: isSlash)
    }

    private static func isDot(_ s: Bytes) -> Bool {
        s.count == 1 ? s.first == 0x2e : (s.count == 3 && String(decoding: s, as: UTF8.self).lowercased() == "%2e")
    }

    private static func isDoubleDot(_ s: Bytes) -> Bool {
        guard s.count == 2 || s.count == 4 || s.count == 6 else { return false }
        let t = String(decoding: s, as: UTF8.self).lowercased()
        return t == ".." || t == ".%2e" || t == "%2e." || t == "%2e%2e"
    }

    private static func normalizePath(segments: [Bytes], base: [String]) -> String {
        var out = base
        for (n, raw) in segments.enumerated() {
            let last = n == segments.count - 1
            if isDot(raw) {
                if last { out.append("") }
                continue
            }
            if isDoubleDot(raw) {
                if !out.isEmpty { out.removeLast() }
                if last { out.append("") }
                continue
            }
            out.append(percentEncode(raw, set: .path))
        }
        return "/" + out.joined(separator: "/")
    }

    // MARK: Hosts

    private static func parseHost(_ raw: Bytes) throws(Failure) -> String {
        guard !raw.isEmpty else { throw .host }
        if raw.first == 0x5b {
            guard raw.last == 0x5d else { throw .host }
            let inner = String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
            var a = in6_addr()
            guard inet_pton(AF_INET6, inner, &a) == 1 else { throw .host }
            var buffer = [CChar](repeating: 0, count: 64)
            _ = inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count))
            return "["
                + String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) + "]"
        }
        // Fast path: a plain ASCII domain name (letters, digits, '-', '.', '_') that is not an IPv4 address.
        if let last = raw.last, !(last >= 0x30 && last <= 0x39), last != 0x2e,
            raw.allSatisfy({
                ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d
                    || $0 == 0x2e || $0 == 0x5f
            })
        {
            return String(decoding: raw.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 }, as: UTF8.self)
        }
        let decoded = raw.contains(0x25) ? percentDecode(raw) : Array(raw)
        let mapped: String
        if decoded.allSatisfy({ $0 < 0x80 }) {
            // The common case: ASCII, lower-cased.
            mapped = String(decoding: decoded.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 }, as: UTF8.self)
        } else {
            // IDNA (UTS 46 in its common cases): compatibility mapping, lower case, NFC, then punycode per label.
            guard let text = String(validating: decoded, as: UTF8.self) else { throw .host }
            mapped = text.precomposedStringWithCompatibilityMapping.lowercased().precomposedStringWithCanonicalMapping
                .replacingOccurrences(of: "\u{3002}", with: ".").replacingOccurrences(of: "\u{FF0E}", with: ".")
                .replacingOccurrences(of: "\u{FF61}", with: ".")
        }
        for c in mapped.utf8 {
            if c <= 0x20 || c == 0x7f || c == 0x23 || c == 0x25 || c == 0x2f || c == 0x3a || c == 0x3c || c == 0x3e
                || c == 0x3f || c == 0x40 || c == 0x5b || c == 0x5c || c == 0x5d || c == 0x5e || c == 0x7c
            {
                throw .host
            }
        }
        if let last = mapped.utf8.last, (last >= 0x30 && last <= 0x39) || last == 0x2e || mapped.utf8.contains(0x78) {
            if let v4 = parseIPv4(mapped) { return v4 }
        }
        var labels: [String] = []
        for label in mapped.split(separator: ".", omittingEmptySubsequences: false) {
            if label.utf8.allSatisfy({ $0 < 0x80 }) {
                labels.append(String(label))
            } else {
                guard let p = Punycode.encode(Array(label.unicodeScalars)) else { throw .host }
                labels.append("xn--" + p)
            }
        }
        let host = labels.joined(separator: ".")
        guard !host.isEmpty, host != "." else { throw .host }
        return host
    }

    /// WHATWG IPv4: 1 to 4 parts, decimal, 0x hex or 0-prefixed octal; nil if the last label is not numeric.
    static func parseIPv4(_ host: String) -> String? {
        var parts = host.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "" && parts.count > 1 { parts.removeLast() }
        guard let last = parts.last, number(last) != nil || last.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        guard parts.count <= 4 else { return nil }
        var numbers: [UInt64] = []
        for p in parts {
            guard let n = number(p) else { return nil }
            numbers.append(n)
        }
        for n in numbers.dropLast() where n > 255 { return nil }
        let lastLimit = UInt64(1) << (8 * UInt64(5 - numbers.count))
        guard numbers.last! < lastLimit else { return nil }  // ok: parts is not empty
        var value = numbers.last!  // ok: as above
        for (k, n) in numbers.dropLast().enumerated() { value += n << (8 * UInt64(3 - k)) }
        return "\(value >> 24 & 255).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)"
    }

    private static func number(_ s: String) -> UInt64? {
        if s.isEmpty { return nil }
        var t = Substring(s)
        var radix = 10
        if t.hasPrefix("0x") || t.hasPrefix("0X") {
            t = t.dropFirst(2)
            radix = 16
        } else if t.count > 1 && t.hasPrefix("0") {
            t = t.dropFirst()
            radix = 8
        }
        if t.isEmpty { return 0 }
        return UInt64(t, radix: radix)
    }

    // MARK: Percent-encoding

    enum EncodeSet {
        case path, query, userinfo

        @inline(__always) func contains(_ c: UInt8) -> Bool {
            if c < 0x21 || c > 0x7e || c == 0x22 || c == 0x23 || c == 0x3c || c == 0x3e { return true }
            switch self {
            case .query: return c == 0x27
            case .path: return c == 0x3f || c == 0x60 || c == 0x7b || c == 0x7d
            case .userinfo:
                return c == 0x3f || c == 0x60 || c == 0x7b || c == 0x7d || c == 0x2f || c == 0x3a || c == 0x3b
                    || c == 0x3d || c == 0x40 || c == 0x5b || c == 0x5c || c == 0x5d || c == 0x5e || c == 0x7c
            }
        }
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    static func percentEncode(_ s: Bytes, set: EncodeSet) -> String {
        if !s.contains(where: set.contains) { return String(decoding: s, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(s.count + 16)
        for c in s {
            if set.contains(c) {
                out.append(0x25)
                out.append(hexDigits[Int(c >> 4)])
                out.append(hexDigits[Int(c & 15)])
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func percentDecode(_ b: Bytes) -> [UInt8] {
        var out: [UInt8] = []
        var i = b.startIndex
        while i < b.endIndex {
            if b[i] == 0x25, i + 2 < b.endIndex,
                let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16)
            {
                out.append(v)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }

    private static func isAlpha(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) }
    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isSlash(_ c: UInt8) -> Bool { c == 0x2f || c == 0x5c }
}
