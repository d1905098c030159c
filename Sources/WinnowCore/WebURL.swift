import Foundation

/// An http(s) URL parsed and serialised per the WHATWG URL Standard (the special-scheme parts of it): relative
/// references resolved against a base, backslashes as slashes, dot segments removed, hosts through the host parser
/// (IDNA per UTS #46, IPv4 in any notation, IPv6), default ports removed, path and query percent-encoded. The
/// fragment is dropped; other schemes are rejected.
public struct WebURL: Sendable, Equatable {
    /// `http` or `https`.
    public var scheme: String
    /// Percent-encoded `user:password`, `user` or `:password`; empty when both are.
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

    /// Why a reference could not become an http(s) URL. The raw values are the `url_<code>` parse counters.
    public enum Failure: String, Error, Sendable, CaseIterable {
        case empty, scheme, noBase = "no_base", host, port, ipv4, ipv6, idna

        /// One line saying what the code means, for reports and docs/formats.md.
        public var summary: String {
            switch self {
            case .empty: "the URL is empty and there is no base"
            case .scheme: "not an http or https URL"
            case .noBase: "a relative reference without a base URL"
            case .host: "the host is empty or holds a forbidden code point"
            case .port: "the port is not a number up to 65535"
            case .ipv4: "the host ends in a number but is not a valid IPv4 address"
            case .ipv6: "the bracketed host is not a valid IPv6 address"
            case .idna: "the host is not a valid internationalised domain name (UTS #46)"
            }
        }
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
        if let colon = b.firstIndex(of: 0x3a), colon > 0, isAlpha(b[0]),
            b[1..<colon].allSatisfy({ isAlpha($0) || isDigit($0) || $0 == 0x2b || $0 == 0x2d || $0 == 0x2e })
        {
            let scheme = String(decoding: b[0..<colon], as: UTF8.self).lowercased()
            guard scheme == "http" || scheme == "https" else { throw .scheme }
            var rest = b[(colon + 1)...]
            // "Special relative or authority state": against a base of the same scheme, what follows the colon is
            // a reference like any other ("http:/x" is path-absolute, "http:x" path-relative). Otherwise
            // ("special authority slashes state") any slashes, of either kind and in any number, are skipped.
            if let base, base.scheme == scheme { return try reference(rest, base: base) }
            while let f = rest.first, isSlash(f) { rest = rest.dropFirst() }
            return try absolute(scheme: scheme, rest)
        }
        guard let base else { throw .noBase }
        return try reference(b[...], base: base)
    }

    /// Convenience: the serialised URL, or nil.
    public static func resolve(_ input: String, against base: WebURL?) -> String? {
        try? parse(input, base: base).href
    }

    typealias Bytes = ArraySlice<UInt8>

    /// A reference without scheme resolved against `base` ("relative state"): two slashes of either kind start
    /// an authority (and any more are skipped), anything else is a path, query or nothing.
    private static func reference(_ input: Bytes, base: WebURL) throws(Failure) -> WebURL {
        var rest = input
        if rest.count >= 2, isSlash(rest[rest.startIndex]), isSlash(rest[rest.startIndex + 1]) {
            while let f = rest.first, isSlash(f) { rest = rest.dropFirst() }
            return try absolute(scheme: base.scheme, rest)
        }
        return try relative(rest, base: base)
    }

    /// An authority (userinfo, host, port), then a path and query: `input` starts after the slashes.
    private static func absolute(scheme: String, _ input: Bytes) throws(Failure) -> WebURL {
        let end = input.firstIndex { isSlash($0) || $0 == 0x3f } ?? input.endIndex
        var authority = input[input.startIndex..<end]
        var userinfo = ""
        if let at = authority.lastIndex(of: 0x40) {
            // Everything before the last '@' is credentials ('@'s before it percent-encoded); an empty username
            // or password is not serialised.
            let credentials = authority[authority.startIndex..<at]
            let colon = credentials.firstIndex(of: 0x3a)
            let username = percentEncode(credentials[credentials.startIndex..<(colon ?? at)], set: .userinfo)
            let password = colon.map { percentEncode(credentials[($0 + 1)...], set: .userinfo) } ?? ""
            userinfo = password.isEmpty ? username : username + ":" + password
            authority = authority[(at + 1)...]
        }
        // The host ends at the first ':' outside brackets; the port is digits, leading zeros and all.
        var insideBrackets = false
        var colon: Int?
        for k in authority.indices {
            let c = authority[k]
            if c == 0x5b { insideBrackets = true }
            if c == 0x5d { insideBrackets = false }
            if c == 0x3a && !insideBrackets {
                colon = k
                break
            }
        }
        let hostPart = authority[authority.startIndex..<(colon ?? authority.endIndex)]
        guard !hostPart.isEmpty else { throw .host }
        var port: Int?
        if let colon {
            let digits = authority[(colon + 1)...]
            if !digits.isEmpty {
                var p = 0
                for c in digits {
                    guard isDigit(c) else { throw .port }
                    p = p * 10 + Int(c - 0x30)
                    guard p <= 65535 else { throw .port }
                }
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

    // MARK: Percent-encoding

    enum EncodeSet {
        case path, query, userinfo

        @inline(__always) func contains(_ c: UInt8) -> Bool {
            if c < 0x21 || c > 0x7e || c == 0x22 || c == 0x23 || c == 0x3c || c == 0x3e { return true }
            switch self {
            case .query: return c == 0x27
            case .path: return c == 0x3f || c == 0x5e || c == 0x60 || c == 0x7b || c == 0x7d
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

    static func isAlpha(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isSlash(_ c: UInt8) -> Bool { c == 0x2f || c == 0x5c }
}
