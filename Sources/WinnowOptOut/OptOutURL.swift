/// The URL forms the registry compares: scheme and host lowercased, the fragment and a default port dropped, an
/// empty path written as `/`. Works on bytes and allocates only the result: URL lookups run once per candidate.
public enum OptOutURL {
    /// The comparable form of `url`, or nil when it has no `scheme://host`.
    public static func normalize(_ url: String) -> String? {
        var s = url
        if let r = s.utf8.withContiguousStorageIfAvailable({ normalize(bytes: $0) }) { return r }
        s.makeContiguousUTF8()
        return s.utf8.withContiguousStorageIfAvailable { normalize(bytes: $0) } ?? nil
    }

    /// The lowercased host of `url` (no port, no userinfo), or nil.
    public static func host(_ url: String) -> String? {
        guard let n = normalize(url) else { return nil }
        return hostOfNormalized(n)
    }

    /// The host of a URL already in normalised form.
    public static func hostOfNormalized(_ n: String) -> String? {
        var s = n
        return s.withUTF8 { b -> String? in
            guard let (start, end) = hostRange(b) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
        }
    }

    /// Where the host is in a `scheme://[userinfo@]host[:port]/...` byte string.
    static func hostRange(_ b: UnsafeBufferPointer<UInt8>) -> (Int, Int)? {
        guard let authority = authorityStart(b) else { return nil }
        var end = authority
        while end < b.count, b[end] != UInt8(ascii: "/"), b[end] != UInt8(ascii: "?"), b[end] != UInt8(ascii: "#") {
            end += 1
        }
        var start = authority
        for i in authority..<end where b[i] == UInt8(ascii: "@") { start = i + 1 }
        var hostEnd = end
        if start < end, b[start] == UInt8(ascii: "[") {
            // An IPv6 literal keeps its brackets and its colons.
            var i = start
            while i < end, b[i] != UInt8(ascii: "]") { i += 1 }
            hostEnd = min(end, i + 1)
        } else {
            var i = start
            while i < end, b[i] != UInt8(ascii: ":") { i += 1 }
            hostEnd = i
        }
        return hostEnd > start ? (start, hostEnd) : nil
    }

    private static func authorityStart(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: ":") { break }
            let alpha = (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z")
            let other =
                (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "+")
                || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
            guard alpha || (i > 0 && other) else { return nil }
            i += 1
        }
        guard i > 0, i + 2 < b.count, b[i + 1] == UInt8(ascii: "/"), b[i + 2] == UInt8(ascii: "/") else { return nil }
        return i + 3
    }

    /// Whether `normalize` would return these bytes unchanged (most URLs of a crawl): then lookups use them as
    /// they are, without building a new string.
    static func isNormalized(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let authority = authorityStart(b), let (hostStart, hostEnd) = hostRange(b) else { return false }
        for i in 0..<authority where b[i] >= UInt8(ascii: "A") && b[i] <= UInt8(ascii: "Z") { return false }
        for i in hostStart..<hostEnd where b[i] >= UInt8(ascii: "A") && b[i] <= UInt8(ascii: "Z") { return false }
        var i = hostEnd
        while i < b.count, b[i] != UInt8(ascii: "/") {
            // A port (kept only when it is not the default), or a query right after the host: not normal.
            guard b[i] == UInt8(ascii: ":") || (b[i] >= UInt8(ascii: "0") && b[i] <= UInt8(ascii: "9")) else {
                return false
            }
            i += 1
        }
        guard i < b.count else { return false }
        let port = UnsafeBufferPointer(rebasing: b[hostEnd..<i])
        if port.count == 1 { return false }
        if port.count > 1 {
            let scheme = UnsafeBufferPointer(rebasing: b[0..<(authority - 3)])
            if (lowerEquals(scheme, "http") && lowerEquals(port, ":80"))
                || (lowerEquals(scheme, "https") && lowerEquals(port, ":443"))
            {
                return false
            }
        }
        for j in i..<b.count where b[j] == UInt8(ascii: "#") { return false }
        return true
    }

    static func normalize(bytes b: UnsafeBufferPointer<UInt8>) -> String? {
        guard let authority = authorityStart(b), let (hostStart, hostEnd) = hostRange(b) else { return nil }
        var end = b.count
        for i in authority..<b.count where b[i] == UInt8(ascii: "#") {
            end = i
            break
        }
        var authorityEnd = hostEnd
        while authorityEnd < end, b[authorityEnd] != UInt8(ascii: "/"), b[authorityEnd] != UInt8(ascii: "?") {
            authorityEnd += 1
        }
        let scheme = UnsafeBufferPointer(rebasing: b[0..<(authority - 3)])
        let isHTTP = scheme.count == 4 && lowerEquals(scheme, "http")
        let isHTTPS = scheme.count == 5 && lowerEquals(scheme, "https")
        // A port that is the scheme's default is dropped; any other is kept.
        let port = UnsafeBufferPointer(rebasing: b[hostEnd..<authorityEnd])
        let dropPort = (isHTTP && lowerEquals(port, ":80")) || (isHTTPS && lowerEquals(port, ":443")) || port.count == 1
        return String(unsafeUninitializedCapacity: end + 1) { out in
            var n = 0
            func put(_ c: UInt8) {
                out[n] = c
                n += 1
            }
            for i in 0..<authority { put(lower(b[i])) }
            for i in authority..<hostStart { put(b[i]) }
            for i in hostStart..<hostEnd { put(lower(b[i])) }
            if !dropPort { for i in hostEnd..<authorityEnd { put(b[i]) } }
            if authorityEnd == end || b[authorityEnd] != UInt8(ascii: "/") { put(UInt8(ascii: "/")) }
            for i in authorityEnd..<end { put(b[i]) }
            return n
        }
    }

    @inline(__always) static func lower(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
    }

    private static func lowerEquals(_ b: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        guard b.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for i in 0..<b.count where lower(b[i]) != p[i] { return false }
        return true
    }

    /// A domain as the registry stores it: lowercased, without a leading `*.` or `.` or a trailing dot; nil when it
    /// is not a host name (letters, digits, `-` and `.`, labels of 1-63 characters).
    public static func domain(_ text: String) -> String? {
        var d = Substring(text.lowercased())
        if d.hasPrefix("*.") { d = d.dropFirst(2) } else if d.hasPrefix(".") { d = d.dropFirst() }
        if d.hasSuffix(".") { d = d.dropLast() }
        let labels = d.split(separator: ".", omittingEmptySubsequences: false)
        guard !d.isEmpty, d.utf8.count <= 253,
            labels.allSatisfy({ l in
                !l.isEmpty && l.utf8.count <= 63
                    && l.utf8.allSatisfy { c in
                        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
                            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                            || c == UInt8(ascii: "-")
                    }
            })
        else { return nil }
        return String(d)
    }
}
