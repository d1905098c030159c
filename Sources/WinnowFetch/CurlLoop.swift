internal import CCurl
import Foundation
import WinnowCore

/// What libcurl reports of a transfer that ended.
struct CurlCompletion {
    /// libcurl's result: CURLE_OK, or why the transfer failed.
    var code: CURLcode
    /// The last response's status code (0 when none came).
    var status = 0
    var contentType: String?
    var effectiveURL: String?
    /// `1.1`, `2`...; nil when no response came.
    var httpVersion: String?
    /// Where a redirect points, resolved by libcurl against the URL requested (not followed by it).
    var redirect: String?
    /// A libcurl call about the ended transfer failed: what it reports above cannot be trusted.
    var failure: CurlError?

    var ok: Bool { code == CURLE_OK }
}

/// The libcurl side of fetching: one multi handle, its share of DNS answers and TLS sessions, the header lists every
/// request carries, and the easy handles of the transfers in flight. Starting a transfer sets every option, and
/// reading an ended one asks every info, through the one funnel (`Curl.check`, `EasyHandle`): a call libcurl
/// refuses is a typed `CurlError` naming it. It decides nothing about politeness or opt-outs.
/// Not thread-safe: the fetch loop owns it.
final class CurlLoop {
    private let settings: FetchSettings
    private let multi: UnsafeMutableRawPointer
    private let share: UnsafeMutableRawPointer
    private var connectTo: UnsafeMutablePointer<curl_slist>?
    /// The image formats WinnowImage decodes, so that servers that negotiate send one it can read.
    private let accept: UnsafeMutablePointer<curl_slist>?
    /// The transfers in flight, by easy handle.
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]

    /// Creates the multi handle and its share; throws when libcurl refuses any part of them (then nothing can be
    /// fetched, and the fetcher says so on every sample).
    init(settings: FetchSettings) throws(CurlError) {
        self.settings = settings
        guard let multi = curl_multi_init() else {
            throw CurlError(call: "curl_multi_init", code: 0, message: "no multi handle (out of memory?)")
        }
        guard let share = curl_share_init() else {
            curl_multi_cleanup(multi)
            throw CurlError(call: "curl_share_init", code: 0, message: "no share handle (out of memory?)")
        }
        self.multi = multi
        self.share = share
        accept = curl_slist_append(
            nil, "Accept: image/avif,image/jxl,image/webp,image/png,image/jpeg,image/gif,*/*;q=0.8")
        for entry in settings.connectTo { connectTo = curl_slist_append(connectTo, entry) }
        try Curl.check(
            winnow_share_setopt_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue)), "share DNS")
        try Curl.check(
            winnow_share_setopt_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue)),
            "share SSL sessions")
        // The per-host connection limit is politeness: without it nothing is fetched.
        try Curl.check(
            winnow_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, settings.perHostConcurrency),
            "CURLMOPT_MAX_HOST_CONNECTIONS")
    }

    deinit {
        for easy in active.keys {
            curl_multi_remove_handle(multi, easy)
            curl_easy_cleanup(easy)
        }
        curl_multi_cleanup(multi)
        curl_share_cleanup(share)
        curl_slist_free_all(connectTo)
        curl_slist_free_all(accept)
    }

    /// How many transfers are in flight.
    var count: Int { active.count }

    /// Starts `t` on a new easy handle with every option set (its attempt counted, its per-attempt state reset).
    /// Throws, leaving no handle behind, when libcurl refuses any call.
    func start(_ t: Transfer) throws(CurlError) {
        guard let easy = curl_easy_init() else {
            throw CurlError(call: "curl_easy_init", code: 0, message: "no easy handle (out of memory?)")
        }
        t.attempts += 1
        t.startedAt = Date()
        t.body.removeAll(keepingCapacity: true)
        t.refused = nil
        t.tooLarge = false
        t.headerBytes = 0
        t.headerLines = 0
        t.headersTooLarge = false
        t.headers.removeAll()
        t.headersChecked = false
        t.optOut = nil
        let ctx = Unmanaged.passUnretained(t).toOpaque()
        let o = EasyHandle(easy: easy)
        do throws(CurlError) {
            try o.set(CURLOPT_URL, t.url)
            try o.set(share: share)
            try o.set(CURLOPT_PROTOCOLS_STR, "http,https")
            try o.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
            // An image's redirects are followed by the fetcher, one hop at a time, each checked against its own
            // origin's opt-outs before it is requested. A policy document's are followed by libcurl (RFC 9309
            // 2.3.1.2).
            try o.set(CURLOPT_FOLLOWLOCATION, t.policyDoc == nil ? 0 : 1)
            try o.set(CURLOPT_MAXREDIRS, settings.maxRedirects)
            try o.set(CURLOPT_TIMEOUT_MS, Int(settings.timeoutSeconds * 1000))
            try o.set(CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeoutSeconds * 1000))
            try o.set(CURLOPT_LOW_SPEED_LIMIT, settings.lowSpeedBytesPerSecond)
            try o.set(CURLOPT_LOW_SPEED_TIME, settings.lowSpeedSeconds)
            try o.set(CURLOPT_MAXFILESIZE_LARGE, offset: curl_off_t(settings.maxBytes))
            try o.set(CURLOPT_USERAGENT, settings.userAgent)
            // Any encoding curl can decode; the write callback sees decoded bytes, so max_bytes caps the
            // decompressed size too (a gzip bomb is cut off at the cap).
            try o.set(CURLOPT_ACCEPT_ENCODING, "")
            try o.set(CURLOPT_NOSIGNAL, 1)
            try o.set(CURLOPT_DNS_CACHE_TIMEOUT, settings.dnsCacheSeconds)
            if let c = connectTo { try o.set(CURLOPT_CONNECT_TO, list: c) }
            if t.policyDoc == nil, let a = accept { try o.set(CURLOPT_HTTPHEADER, list: a) }
            if let ca = settings.caFile { try o.set(CURLOPT_CAINFO, ca) }
            try o.set(CURLOPT_WRITEFUNCTION, callback: writeCallback)
            try o.set(CURLOPT_HEADERFUNCTION, callback: headerCallback)
            try o.set(CURLOPT_HEADERDATA, pointer: ctx)
            try o.set(CURLOPT_WRITEDATA, pointer: ctx)
            try o.set(openSocket: openSocketCallback)
            try o.set(CURLOPT_OPENSOCKETDATA, pointer: ctx)
            try o.set(CURLOPT_PRIVATE, pointer: ctx)
            try Curl.check(curl_multi_add_handle(multi, easy), "curl_multi_add_handle")
        } catch {
            curl_easy_cleanup(easy)
            throw error
        }
        active[easy] = t
    }

    /// Lets libcurl move every transfer on, then hands each one that ended to `done`, its handle already freed.
    /// Throws when the multi handle itself fails (nothing in flight can go on then).
    func perform(_ done: (Transfer, CurlCompletion) -> Void) throws(CurlError) {
        var running: Int32 = 0
        try Curl.check(curl_multi_perform(multi, &running), "curl_multi_perform")
        var left: Int32 = 0
        while let msg = curl_multi_info_read(multi, &left) {
            if msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle {
                complete(easy, msg.pointee.data.result, done)
            }
        }
    }

    /// The watchdog: libcurl enforces each transfer's deadline, and anything running longer than `limit` seconds
    /// anyway is ended here as timed out, so that no run can hang on one transfer. Returns what it ended.
    @discardableResult
    func expire(olderThan limit: Double, _ done: (Transfer, CurlCompletion) -> Void) -> [Transfer] {
        let now = Date()
        let late = active.filter { now.timeIntervalSince($0.value.startedAt) > limit }
        for easy in late.keys { complete(easy, CURLE_OPERATION_TIMEDOUT, done) }
        return Array(late.values)
    }

    /// Ends every transfer in flight (the multi handle failed), handing each to `done` with `CURLE_FAILED_INIT`.
    func abandonAll(_ done: (Transfer, CurlCompletion) -> Void) {
        for easy in active.keys { complete(easy, CURLE_FAILED_INIT, done) }
    }

    /// Waits up to `milliseconds` for activity on any transfer's sockets.
    func wait(milliseconds: Int32) throws(CurlError) {
        var fds: Int32 = 0
        try Curl.check(curl_multi_poll(multi, nil, 0, milliseconds, &fds), "curl_multi_poll")
    }

    private func complete(
        _ easy: UnsafeMutableRawPointer, _ code: CURLcode, _ done: (Transfer, CurlCompletion) -> Void
    ) {
        guard let t = active.removeValue(forKey: easy) else { return }
        let h = EasyHandle(easy: easy)
        var c = CurlCompletion(code: code)
        do throws(CurlError) {
            c.status = try h.info(CURLINFO_RESPONSE_CODE, "CURLINFO_RESPONSE_CODE")
            c.contentType = try h.info(string: CURLINFO_CONTENT_TYPE, "CURLINFO_CONTENT_TYPE")
            c.effectiveURL = try h.info(string: CURLINFO_EFFECTIVE_URL, "CURLINFO_EFFECTIVE_URL")
            c.httpVersion = httpVersionName(try h.info(CURLINFO_HTTP_VERSION, "CURLINFO_HTTP_VERSION"))
            c.redirect = try h.info(string: CURLINFO_REDIRECT_URL, "CURLINFO_REDIRECT_URL")
        } catch {
            c.failure = error
        }
        // Removing a handle the multi handle holds cannot fail but for a programming error; it is freed either way.
        _ = curl_multi_remove_handle(multi, easy)
        curl_easy_cleanup(easy)
        done(t, c)
    }
}

extension EasyHandle {
    /// A long info of the handle. The corresponding C function is `curl_easy_getinfo`.
    func info(_ i: CURLINFO, _ name: String) throws(CurlError) -> Int {
        var v = 0
        try Curl.check(winnow_easy_getinfo_long(easy, i, &v), "getinfo \(name)")
        return v
    }

    /// A string info of the handle (nil when libcurl has none).
    func info(string i: CURLINFO, _ name: String) throws(CurlError) -> String? {
        var v: UnsafeMutablePointer<CChar>?
        try Curl.check(winnow_easy_getinfo_string(easy, i, &v), "getinfo \(name)")
        return v.map { String(cString: $0) }
    }
}

/// libcurl header callback: keeps the current response's header lines (a new status line starts a new response).
private let headerCallback: winnow_write_callback = { data, size, count, userdata in
    guard let userdata, let data else { return 0 }
    let t = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    // A header flood ends the transfer (returning less than `n` makes libcurl stop with a write error).
    t.headerBytes += n
    t.headerLines += 1
    if t.headerBytes > t.maxHeaderBytes || t.headerLines > 1_000 {
        t.headersTooLarge = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: n) { p in
        let bytes = UnsafeBufferPointer(start: p, count: n)
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0d || b == 0x0a }
        if n >= 5 && bytes[0] == 0x48 && bytes[1] == 0x54 && bytes[2] == 0x54 && bytes[3] == 0x50 && bytes[4] == 0x2f {
            // "HTTP/": a new response (after a redirect or a 100 Continue) starts its headers afresh.
            t.headers.removeAll()
            let parts = bytes.split(separator: 0x20, maxSplits: 2)
            t.status = parts.count > 1 ? Int(String(decoding: parts[1], as: UTF8.self)) ?? 0 : 0
        } else if let colon = bytes.firstIndex(of: 0x3a) {
            var start = colon + 1
            var end = n
            while start < end && isSpace(bytes[start]) { start += 1 }
            while end > start && isSpace(bytes[end - 1]) { end -= 1 }
            t.headers.append(
                (
                    String(decoding: bytes[..<colon], as: UTF8.self),
                    String(decoding: bytes[start..<end], as: UTF8.self)
                ))
        }
    }
    return n
}

/// libcurl write callback: appends to the transfer's body, aborting once it passes the size cap.
private let writeCallback: winnow_write_callback = { data, size, count, userdata in
    guard let userdata, let data else { return 0 }
    let t = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    // The body starts: the response's headers are complete, so an opt-out stops the download here.
    if !t.headersChecked {
        t.headersChecked = true
        if (200..<300).contains(t.status), let check = t.headerCheck, let reason = check(t.headers) {
            t.optOut = reason
            return 0
        }
        // Room for the whole body at once when its length is announced (a hint only: it may lie, or be encoded).
        if let length = t.headers.last(where: { $0.0.lowercased() == "content-length" }).flatMap({ Int($0.1) }),
            length > 0, length <= t.maxBytes
        {
            t.body.reserveCapacity(length)
        }
    }
    if t.body.count + n > t.maxBytes {
        // Keep what fits: a policy document is read up to its limit (its transfer allows one byte more, so that
        // the reader can tell whether the last line was cut).
        let room = t.maxBytes - t.body.count
        data.withMemoryRebound(to: UInt8.self, capacity: room) {
            t.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: room))
        }
        t.tooLarge = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: n) {
        t.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
    }
    return n
}

/// libcurl open-socket callback: refuses any address the guard refuses, on every connection (redirects included).
private let openSocketCallback: winnow_opensocket_callback = { clientp, purpose, address in
    guard let clientp, let address else { return CURL_SOCKET_BAD }
    let t = Unmanaged<Transfer>.fromOpaque(clientp).takeUnretainedValue()
    return t.guardian.openSocket(address, refused: &t.refused)
}

/// libcurl's CURLINFO_HTTP_VERSION as the version's usual name; nil when no response came.
func httpVersionName(_ v: Int) -> String? {
    switch v {
    case CURL_HTTP_VERSION_1_0: return "1.0"
    case CURL_HTTP_VERSION_1_1: return "1.1"
    case CURL_HTTP_VERSION_2_0: return "2"
    case CURL_HTTP_VERSION_3: return "3"
    default: return nil
    }
}
