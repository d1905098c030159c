internal import CScan
import Foundation
import WinnowCore

/// The WAT reader's fast path to a serialised URL: the clean common cases in C (`winnow_url_fast_href`), agreeing
/// with `WebURL.parse` on everything it accepts.
extension WebURL {
    /// The serialised URL for the common clean cases, without building a `WebURL`: an absolute http(s) URL, a
    /// scheme-relative one (`//host/...`) whose host is a plain lower-case-able name without port or userinfo (no
    /// `xn--` label for IDNA to check, no last label that may be an IPv4 number), or a path-absolute or
    /// path-relative reference, whose path and query need no encoding and hold no dot segments or backslashes. Nil
    /// means: use `parse`.
    public static func fastHref(_ original: String, base: WebURL?) -> String? {
        fastHref(original, prepared: base.map(Base.init))
    }

    /// A base URL with the prefixes that references resolved against it start with, made once for all the links
    /// of a page.
    struct Base {
        /// The origin (`scheme://[userinfo@]host[:port]`) and the base's path up to its last slash: what a
        /// path-relative reference is appended to. Its first `originLength` bytes are what a path-absolute one is.
        let directory: [UInt8]
        let originLength: Int
        /// The base's scheme is https.
        let secure: Bool

        init(_ url: WebURL) {
            var o = url.scheme + "://"
            if !url.userinfo.isEmpty { o += url.userinfo + "@" }
            o += url.host
            if let p = url.port { o += ":\(p)" }
            originLength = o.utf8.count
            if let slash = url.path.utf8.lastIndex(of: 0x2f) {
                directory = Array(o.utf8) + Array(url.path.utf8[...slash])
            } else {
                directory = Array(o.utf8) + [0x2f]
            }
            secure = url.scheme == "https"
        }

        /// Calls `body` with the base as `winnow_url_fast_href` takes it.
        func withC<R>(_ body: (UnsafePointer<winnow_url_base>) throws -> R) rethrows -> R {
            try directory.withUnsafeBufferPointer { d in
                var b = winnow_url_base(
                    origin: d.baseAddress, origin_length: originLength, directory: d.baseAddress,
                    directory_length: d.count, secure: secure ? 1 : 0)
                return try body(&b)
            }
        }
    }

    /// `fastHref` against a prepared base.
    static func fastHref(_ original: String, prepared base: Base?) -> String? {
        if let base { return base.withC { fastHref(original, cBase: $0) } }
        return fastHref(original, cBase: nil)
    }

    /// `fastHref` against a base as C takes it. The corresponding C function is `winnow_url_fast_href`.
    static func fastHref(_ original: String, cBase base: UnsafePointer<winnow_url_base>?) -> String? {
        var input = original
        return input.withUTF8 { b -> String? in
            guard b.count > 1, b.count < 4096, let start = b.baseAddress else { return nil }
            let room = b.count + 9 + (base.map { max($0.pointee.directory_length, $0.pointee.origin_length) } ?? 0)
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: room) { out -> String? in
                var same: Int32 = 0
                let n = winnow_url_fast_href(start, b.count, base, out.baseAddress, &same)
                if n < 0 { return nil }
                if same != 0 { return original }
                return String(decoding: UnsafeBufferPointer(start: out.baseAddress, count: n), as: UTF8.self)
            }
        }
    }

    /// `fastHref` of the raw bytes of a URL list's or a Parquet column's URL (no base): nil unless they are a clean
    /// absolute http(s) URL that the C fast path serialises, holding no `&` (an entity that the full path decodes).
    /// Bytes past the host that are not ASCII (a UTF-8 path, common in real lists) are percent-encoded first, one
    /// `%XX` per byte, as the WHATWG path and query percent-encode sets encode every code point above ASCII (and as
    /// `RawBytes` keeps a byte that is not UTF-8); a host that is not ASCII is left to the full parser (IDNA).
    static func fastHref(bytes b: UnsafeBufferPointer<UInt8>) -> String? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: scratchSize(b.count)) {
            fastHref(bytes: b, scratch: $0)
        }
    }

    /// The scratch space `fastHref(bytes:scratch:)` needs for `count` bytes.
    static func scratchSize(_ count: Int) -> Int { 6 * count + 16 }

    /// `fastHref(bytes:)` with scratch space of the caller's (`scratchSize` bytes), for a loop over many URLs.
    static func fastHref(bytes b: UnsafeBufferPointer<UInt8>, scratch: UnsafeMutableBufferPointer<UInt8>) -> String? {
        guard b.count > 1, b.count < 4096, let start = b.baseAddress, scratch.count >= scratchSize(b.count) else {
            return nil
        }
        if memchr(start, 0x26, b.count) != nil { return nil }
        // The first byte above ASCII, eight at a time.
        var firstHigh = -1
        var i = 0
        let raw = UnsafeRawPointer(start)
        while i + 8 <= b.count {
            let high = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080
            if high != 0 {
                firstHigh = i + high.trailingZeroBitCount / 8
                break
            }
            i += 8
        }
        if firstHigh < 0 {
            while i < b.count {
                if b[i] >= 0x80 {
                    firstHigh = i
                    break
                }
                i += 1
            }
        }
        var input = b
        if firstHigh >= 0 {
            // The path starts at the first slash after "scheme://".
            guard let scheme = b.firstIndex(of: 0x3a), scheme + 3 < b.count,
                let path = b[(scheme + 3)...].firstIndex(of: 0x2f), path < firstHigh
            else { return nil }
            let digits: StaticString = "0123456789ABCDEF"
            var n = 0
            for c in b {
                if c < 0x80 {
                    scratch[n] = c
                    n += 1
                } else {
                    scratch[n] = 0x25
                    scratch[n + 1] = digits.utf8Start[Int(c >> 4)]
                    scratch[n + 2] = digits.utf8Start[Int(c & 15)]
                    n += 3
                }
            }
            guard n < 4096 else { return nil }
            input = UnsafeBufferPointer(rebasing: scratch[..<n])
        }
        // The serialisation goes after the encoded input in the scratch space (at most 3n + 9 bytes).
        let out = scratch.baseAddress! + 3 * b.count  // ok: scratch.count was checked above
        var same: Int32 = 0
        let n = winnow_url_fast_href(input.baseAddress!, input.count, nil, out, &same)  // ok: count > 1
        if n < 0 { return nil }
        if same != 0 { return String(decoding: input, as: UTF8.self) }
        return String(decoding: UnsafeBufferPointer(start: out, count: n), as: UTF8.self)
    }

    /// The parsed form of an absolute http(s) URL that `fastHref` takes (plain host, no port or userinfo, nothing
    /// to encode or normalise in path and query), built from its serialisation without the full parser. Nil means:
    /// use `parse`.
    static func fastParse(_ input: String) -> WebURL? {
        guard let href = fastHref(input, prepared: nil) else { return nil }
        let u = href.utf8
        // fastHref's output is "http(s)://host/path[?query]": the path always there.
        let secure = u.count > 5 && u[u.index(u.startIndex, offsetBy: 4)] == 0x73
        let hostStart = u.index(u.startIndex, offsetBy: secure ? 8 : 7)
        guard let pathStart = u[hostStart...].firstIndex(of: 0x2f) else { return nil }
        let query = u[pathStart...].firstIndex(of: 0x3f)
        return WebURL(
            scheme: secure ? "https" : "http", userinfo: "", host: String(Substring(u[hostStart..<pathStart])),
            port: nil, path: String(Substring(u[pathStart..<(query ?? u.endIndex)])),
            query: query.map { String(Substring(u[u.index(after: $0)...])) })
    }
}
