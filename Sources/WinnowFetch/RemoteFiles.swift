internal import CCurl
import Foundation
import Synchronization
import WinnowCore

/// How inputs over HTTP(S) are read (`input.remote` in a pipeline, `--input-*` options).
public struct RemoteSettings: Sendable, Equatable {
    /// Sent as `User-Agent`.
    public var userAgent = FetchSettings().userAgent
    /// Address ranges let through the address guard (tests: 127.0.0.0/8).
    public var allowedRanges: [CIDR] = []
    /// A transfer that receives no byte for this long, while the reader waits for one, is dropped and resumed.
    public var stallSeconds = 60.0
    /// Seconds to wait for a connection.
    public var connectTimeoutSeconds = 30.0
    /// Attempts after the first, for one input (each resumes where the last stopped).
    public var retries = 8
    /// The first wait between attempts; doubled at each attempt, up to `maxBackoffSeconds`.
    public var backoffSeconds = 1.0
    /// The longest wait between attempts (and the longest `Retry-After` honoured).
    public var maxBackoffSeconds = 120.0
    /// One input gives up after this many seconds of failed attempts and waits (time spent receiving bytes does not
    /// count).
    public var deadlineSeconds = 1800.0
    /// `HOST:PORT:ADDRESS:PORT` mappings (libcurl's CONNECT_TO), as for image fetches.
    public var connectTo: [String] = []
    /// CA bundle for HTTPS (the system's by default).
    public var caFile: String?

    public init() {}
}

/// Remote inputs read with libcurl: streams that resume a dropped transfer with a Range request (If-Range on the
/// first response's ETag or Last-Modified: a changed file is read again from its start), back off between attempts,
/// honour Retry-After on 429 and 503, drop a stalled transfer, and pass every connection through the address guard.
public final class RemoteFiles: RemoteInputs, @unchecked Sendable {
    // @unchecked Sendable: `settings` and `guardian` are immutable; `state` is behind its mutex.
    public let settings: RemoteSettings
    let guardian: AddressGuard
    private let state = Mutex<[String: (received: Int64, size: Int64?)]>([:])

    public init(settings: RemoteSettings) {
        self.settings = settings
        guardian = AddressGuard(allowed: settings.allowedRanges)
    }

    public func open(_ url: String) throws -> any ByteStream { HTTPStream(url: url, files: self, range: nil) }

    public func read(_ url: String, range: Range<Int64>) throws -> [UInt8] {
        if range.isEmpty { return [] }
        let s = HTTPStream(url: url, files: self, range: range)
        let bytes = try s.read(upTo: range.count)
        guard bytes.count == range.count else {
            throw WinnowError(
                .network, "\(url): bytes \(range.lowerBound)-\(range.upperBound - 1): \(bytes.count) received")
        }
        return bytes
    }

    public func size(_ url: String) throws -> Int64 {
        // The first byte's response says the whole size (Content-Range: bytes 0-0/SIZE, or a 200's Content-Length).
        let s = HTTPStream(url: url, files: self, range: 0..<1)
        _ = try s.read(upTo: 1)
        guard let size = s.size else {
            throw WinnowError(.network, "\(url): the server does not say the file's size (needed to read Parquet)")
        }
        return size
    }

    public func progress(_ url: String) -> (received: Int64, size: Int64?) {
        state.withLock { $0[url] ?? (0, nil) }
    }

    func report(_ url: String, received: Int64, size: Int64?) {
        state.withLock { $0[url] = (received, size ?? $0[url]?.size) }
    }
}

/// One remote resource (or a byte range of it) as a stream. Pull-driven: `read` runs libcurl's multi interface
/// until bytes arrive, so a transfer moves only as fast as its reader, with a bounded buffer.
final class HTTPStream: ByteStream {
    let url: String
    fileprivate let files: RemoteFiles
    private var settings: RemoteSettings { files.settings }
    /// A fixed range (Parquet), or the whole resource.
    private let range: Range<Int64>?
    private var start: Int64 { range?.lowerBound ?? 0 }

    /// Body bytes received in order, from `start` (what the next attempt resumes after).
    private var delivered: Int64 = 0
    /// The resource's size, once a response said it.
    private(set) var size: Int64?
    /// The first response's ETag (or, without one, Last-Modified), which a resumed response must match.
    private var validator: String?
    private var buffer: [UInt8] = []
    private var bufferPosition = 0
    /// The reader's memory that `read` offers, and how much of it is filled.
    private var direct: UnsafeMutableRawBufferPointer?
    private var directFill = 0
    private var finished = false
    private var failedSeconds = 0.0
    private var attempts = 0
    private var deliveredAtLastBegin: Int64 = 0

    // The current attempt.
    private var multi: UnsafeMutableRawPointer?
    private var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var connectList: UnsafeMutablePointer<curl_slist>?
    fileprivate var status = 0
    fileprivate var headers: [(String, String)] = []
    fileprivate var headerBytes = 0
    fileprivate var refused: String?
    fileprivate var checked = false
    /// Bytes of a 200 response to drop: the server ignored the Range of a resumed request but sent the same file.
    fileprivate var skip: Int64 = 0
    /// Why the attempt's body was refused (a changed file, a bad range), when it was.
    fileprivate var verdict: Verdict?
    private var requestedFrom: Int64 = 0
    /// A range read that has all its bytes (its transfer is stopped: a server that ignored the range would send on).
    fileprivate var rangeComplete = false

    enum Verdict {
        case changed(String)
        case retry(String)
        case fail(String)
    }

    init(url: String, files: RemoteFiles, range: Range<Int64>?) {
        self.url = url
        self.files = files
        self.range = range
    }

    deinit { endAttempt() }

    func read(into target: UnsafeMutableRawPointer, count: Int) throws -> Int {
        if bufferPosition == buffer.count {
            // Nothing held: the body goes straight into the reader's memory (what does not fit is held).
            buffer.removeAll(keepingCapacity: true)
            bufferPosition = 0
            if finished || count == 0 { return 0 }
            direct = UnsafeMutableRawBufferPointer(start: target, count: count)
            directFill = 0
            defer { direct = nil }
            while directFill == 0 && buffer.isEmpty {
                if finished { return 0 }
                try pump()
            }
            if directFill > 0 { return directFill }
        }
        let n = min(count, buffer.count - bufferPosition)
        buffer.withUnsafeBytes { target.copyMemory(from: $0.baseAddress! + bufferPosition, byteCount: n) }  // ok: n > 0
        bufferPosition += n
        return n
    }

    /// Body bytes in order: into the reader's memory while `read` offers it, the rest held in `buffer`.
    private func store(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) {
        delivered += Int64(bytes.count)
        var bytes = bytes
        if let d = direct, directFill < d.count, !bytes.isEmpty {
            let n = min(bytes.count, d.count - directFill)
            // ok: both hold bytes (n > 0)
            (d.baseAddress! + directFill).copyMemory(from: bytes.base.baseAddress! + bytes.startIndex, byteCount: n)
            directFill += n
            bytes = bytes.dropFirst(n)
        }
        if !bytes.isEmpty { buffer.append(contentsOf: bytes) }
    }

    /// Runs the transfer until it gives body bytes or ends; starts, resumes and retries attempts as needed.
    private func pump() throws {
        if easy == nil { try begin() }
        var lastByte = Date()
        while buffer.isEmpty && directFill == 0 {
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            if !buffer.isEmpty || directFill > 0 { break }
            var left: Int32 = 0
            if let msg = curl_multi_info_read(multi, &left), msg.pointee.msg == CURLMSG_DONE {
                let result = msg.pointee.data.result
                try attemptEnded(result)
                if finished { break }
                lastByte = Date()
                continue
            }
            if Date().timeIntervalSince(lastByte) > settings.stallSeconds {
                try retry(after: "no byte for \(Int(settings.stallSeconds)) s (stalled)")
                lastByte = Date()
                continue
            }
            curl_multi_poll(multi, nil, 0, 100, nil)
        }
        files.report(url, received: start + delivered, size: size)
    }

    /// Starts an attempt from `start + delivered`.
    private func begin() throws {
        endAttempt()
        let from = start + delivered
        // Only failures in a row count against the retries: an attempt that brought bytes starts the count again
        // (a long read may lose its connection many times while its reader is busy).
        if delivered > deliveredAtLastBegin { attempts = 0 }
        deliveredAtLastBegin = delivered
        if range == nil && delivered > 0 && validator == nil {
            throw InputChanged(
                url: url, message: "cannot resume at byte \(from): no ETag or Last-Modified to check the rest against")
        }
        requestedFrom = from
        status = 0
        rangeComplete = false
        headers = []
        headerBytes = 0
        refused = nil
        checked = false
        skip = 0
        verdict = nil
        guard let m = curl_multi_init(), let e = curl_easy_init() else {
            throw WinnowError(.network, "\(url): libcurl could not start a transfer")
        }
        multi = m
        easy = e
        let o = EasyHandle(easy: e)
        do throws(CurlError) {
            try o.set(CURLOPT_URL, url)
            try o.set(CURLOPT_PROTOCOLS_STR, "http,https")
            try o.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
            try o.set(CURLOPT_FOLLOWLOCATION, 1)
            try o.set(CURLOPT_MAXREDIRS, 5)
            try o.set(CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeoutSeconds * 1000))
            try o.set(CURLOPT_USERAGENT, settings.userAgent)
            try o.set(CURLOPT_NOSIGNAL, 1)
            try o.set(CURLOPT_BUFFERSIZE, 512 << 10)
            if let ca = settings.caFile { try o.set(CURLOPT_CAINFO, ca) }
            if !settings.connectTo.isEmpty {
                for c in settings.connectTo { connectList = curl_slist_append(connectList, c) }
                try o.set(CURLOPT_CONNECT_TO, list: connectList)
            }
            // A range: Parquet's, or a resumed transfer's (which If-Range ties to the version read so far).
            if range != nil || from > 0 {
                let last = range.map { String($0.upperBound - 1) } ?? ""
                headerList = curl_slist_append(headerList, "Range: bytes=\(from)-\(last)")
                if from > start || range == nil, let v = validator {
                    headerList = curl_slist_append(headerList, "If-Range: \(v)")
                }
                try o.set(CURLOPT_HTTPHEADER, list: headerList)
            }
            let ctx = Unmanaged.passUnretained(self).toOpaque()
            try o.set(CURLOPT_WRITEFUNCTION, callback: remoteWriteCallback)
            try o.set(CURLOPT_WRITEDATA, pointer: ctx)
            try o.set(CURLOPT_HEADERFUNCTION, callback: remoteHeaderCallback)
            try o.set(CURLOPT_HEADERDATA, pointer: ctx)
            try o.set(openSocket: remoteOpenSocketCallback)
            try o.set(CURLOPT_OPENSOCKETDATA, pointer: ctx)
            try Curl.check(curl_multi_add_handle(m, e), "curl_multi_add_handle")
        } catch {
            endAttempt()
            throw WinnowError(.network, "\(url): \(error)")
        }
        attempts += 1
    }

    private func endAttempt() {
        if let e = easy {
            curl_multi_remove_handle(multi, e)
            curl_easy_cleanup(e)
        }
        if let m = multi { curl_multi_cleanup(m) }
        if let h = headerList { curl_slist_free_all(h) }
        if let c = connectList { curl_slist_free_all(c) }
        easy = nil
        multi = nil
        headerList = nil
        connectList = nil
    }

    /// What the end of an attempt means: done, a retry, a changed file, or a failure.
    private func attemptEnded(_ result: CURLcode) throws {
        let status = self.status
        let headers = self.headers
        let verdict = self.verdict
        endAttempt()
        if rangeComplete {
            finished = true
            return
        }
        switch verdict {
        case .changed(let why)?:
            throw InputChanged(url: url, message: why)
        case .fail(let why)?:
            throw WinnowError(.network, "\(url): \(why)")
        case .retry(let why)?:
            return try retry(after: why)
        case nil: break
        }
        // An address the guard refused matters when no other address of the host served the request.
        if let r = refused, result != CURLE_OK {
            throw WinnowError(.network, "\(url): address refused: \(r) (see --allow-range)")
        }
        if result == CURLE_OK && (200..<300).contains(status) {
            let end = range?.upperBound ?? size
            if let end, start + delivered < end {
                return try retry(after: "the transfer ended at byte \(start + delivered) of \(end)")
            }
            finished = true
            return
        }
        if result == CURLE_OK || result == CURLE_WRITE_ERROR && status >= 300 {
            if status == 429 || status == 503 {
                let asked = Fetcher.retryAfter(headers)
                return try retry(after: "HTTP \(status)", wait: asked.map { min($0, settings.maxBackoffSeconds) })
            }
            // Asked to resume at the end: the file is whole (its first response overstated its length).
            if status == 416, range == nil,
                let cr = headers.last(where: { $0.0 == "content-range" })?.1, cr.hasPrefix("bytes */"),
                let total = Int64(cr.dropFirst(8)), start + delivered >= total
            {
                size = total
                finished = true
                return
            }
            if (500..<600).contains(status) || status == 408 { return try retry(after: "HTTP \(status)") }
            throw WinnowError(.network, "\(url): HTTP \(status)")
        }
        let message = String(cString: curl_easy_strerror(result))
        switch result {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_TOO_MANY_REDIRECTS,
            CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
            throw WinnowError(.network, "\(url): \(message)")
        default:
            try retry(after: message)
        }
    }

    /// Waits (backoff, or what the server asked) and lets the next `pump` start another attempt; throws when the
    /// attempts or the deadline are spent.
    private func retry(after why: String, wait asked: Double? = nil) throws {
        endAttempt()
        let backoff = min(settings.maxBackoffSeconds, settings.backoffSeconds * pow(2, Double(max(0, attempts - 1))))
        let wait = asked ?? backoff
        guard attempts <= settings.retries, failedSeconds + wait <= settings.deadlineSeconds else {
            throw WinnowError(
                .network,
                "\(url): \(why); gave up after \(Words.count(attempts, "attempt")) (at byte \(start + delivered)\(size.map { " of \($0)" } ?? ""))"
            )
        }
        failedSeconds += wait
        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
        try begin()
    }

    /// Checks a response before taking its body: returns false (and sets `verdict`) to refuse it.
    fileprivate func checkResponse() -> Bool {
        checked = true
        func header(_ name: String) -> String? { headers.last(where: { $0.0 == name })?.1 }
        guard (200..<300).contains(status) else { return false }
        // The version's validator: a strong ETag, else Last-Modified (If-Range takes no weak ETag).
        let tag = header("etag").flatMap { $0.hasPrefix("W/") ? nil : $0 } ?? header("last-modified")
        if status == 206 {
            // Content-Range: bytes FIRST-LAST/SIZE
            guard let cr = header("content-range"), cr.hasPrefix("bytes "),
                let first = Int64(cr.dropFirst(6).prefix(while: { $0 != "-" }))
            else {
                verdict = .retry("a 206 response without a usable Content-Range")
                return false
            }
            if let total = cr.split(separator: "/").last.flatMap({ Int64($0) }) { size = total }
            guard first == requestedFrom else {
                verdict = .retry("asked for byte \(requestedFrom), the server sent from \(first)")
                return false
            }
        } else {
            // A 200 to a Range request: the whole file. Before anything was taken that is only the bytes to skip;
            // after, it is the same file only if its validator says so (If-Range failed: it changed).
            if requestedFrom > 0 {
                guard delivered == 0 || (validator != nil && tag == validator) else {
                    verdict = .changed(
                        validator == nil || tag == nil
                            ? "sent again in full, with no ETag or Last-Modified to tell whether it changed"
                            : "changed while being read (\(validator ?? "") became \(tag ?? ""))")
                    return false
                }
                skip = requestedFrom
            }
            if let l = header("content-length").flatMap({ Int64($0) }) { size = l }
        }
        if delivered == 0 && validator == nil {
            validator = tag
        } else if let v = validator, let t = tag, t != v {
            verdict = .changed("changed while being read (\(v) became \(t))")
            return false
        }
        return true
    }

    /// Takes body bytes of the current attempt; false to stop the transfer (refused, or the range is complete).
    fileprivate func take(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        if !checked && !checkResponse() { return false }
        var bytes = p[...]
        if skip > 0 {
            let n = Int(min(skip, Int64(bytes.count)))
            skip -= Int64(n)
            bytes = bytes.dropFirst(n)
        }
        if let r = range {
            let room = max(0, Int(Int64(r.count) - delivered))
            if bytes.count >= room {
                store(bytes.prefix(room))
                rangeComplete = true
                return false
            }
        }
        store(bytes)
        return true
    }
}

private let remoteWriteCallback: winnow_write_callback = { data, size, count, userdata in
    guard let userdata, let data else { return 0 }
    let s = Unmanaged<HTTPStream>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    let ok = data.withMemoryRebound(to: UInt8.self, capacity: n) { s.take(UnsafeBufferPointer(start: $0, count: n)) }
    return ok ? n : 0
}

private let remoteHeaderCallback: winnow_write_callback = { data, size, count, userdata in
    guard let userdata, let data else { return 0 }
    let s = Unmanaged<HTTPStream>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    s.headerBytes += n
    if s.headerBytes > 256 << 10 { return 0 }
    let line = data.withMemoryRebound(to: UInt8.self, capacity: n) {
        String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
    }
    if line.hasPrefix("HTTP/") {
        // A new response (after a redirect or a 100 Continue).
        s.headers = []
        s.checked = false
        let parts = line.split(separator: " ", maxSplits: 2)
        s.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
    } else if let colon = line.firstIndex(of: ":") {
        s.headers.append(
            (
                line[..<colon].lowercased(),
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            ))
    }
    return n
}

private let remoteOpenSocketCallback: winnow_opensocket_callback = { clientp, purpose, address in
    guard let clientp, let address else { return CURL_SOCKET_BAD }
    let s = Unmanaged<HTTPStream>.fromOpaque(clientp).takeUnretainedValue()
    return s.files.guardian.openSocket(address, refused: &s.refused)
}
