import Foundation
import WinnowSampleWeb

/// An HTTP/1.1 server on 127.0.0.1 that serves input files (WAT, WARC, lists, Parquet) with Range, If-Range and an
/// ETag, as a CDN does, and misbehaves on purpose, one way per path, so that tests can check how a remote input is
/// read through trouble. `/ok/NAME` serves file NAME; `/reset/O1,O2,.../NAME` resets the connection of its k-th
/// request once the file's byte Ok is sent (later requests are served); `/stall/O/NAME` goes silent for a minute at
/// byte O on its first request; `/busy/N/NAME` answers 503 with `Retry-After: 1` to its first N requests;
/// `/changed/O/NAME` resets at byte O on its first request and gives every later request another ETag (the file
/// "changed"); `/noranges/O/NAME` resets at byte O on its first request and ignores Range (always 200, whole file);
/// `/lying/NAME` says a Content-Length 1,000 bytes longer than the file and closes after the file; `/short/NAME` says
/// one 1,000 bytes shorter and sends the whole file; a name not served is 404.
public final class InputFaultServer: @unchecked Sendable {
    // @unchecked Sendable: `files`, `counts` and `log` are only touched under `lock`.
    private let lock = NSLock()
    private var files: [String: [UInt8]] = [:]
    private var counts: [String: Int] = [:]
    private var log: [String] = []
    private var server: LoopbackServer?

    public init() {}

    /// The port it listens on.
    public var port: UInt16 { server?.port ?? 0 }

    /// `http://127.0.0.1:PORT` + path.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Serves `bytes` as NAME.
    public func serve(_ name: String, _ bytes: [UInt8]) { lock.withLock { files[name] = bytes } }

    /// Every request so far: `PATH RANGE-HEADER` (an empty range when none was sent).
    public var requests: [String] { lock.withLock { log } }

    public func start() throws {
        let s = LoopbackServer { [self] fd in handle(fd) }
        server = s
        try s.start()
    }

    public func stop() { server?.stop() }

    private func handle(_ fd: Int32) {
        defer { close(fd) }
        guard let request = LoopbackRequest.read(fd, maxHead: 1 << 16) else { return }
        let target = request.target
        let rangeHeader = request.header("range")
        let ifRange = request.header("if-range")
        let parts = target.split(separator: "/").map(String.init)
        let (k, bytes): (Int, [UInt8]?) = lock.withLock {
            counts[target, default: 0] += 1
            log.append("\(target) \(rangeHeader ?? "")")
            return (counts[target]!, parts.last.flatMap { files[$0] })  // ok: set just above
        }
        guard let bytes, parts.count >= 2 else {
            send(fd, head("404 Not Found", ["Content-Length: 0", "Connection: close"]))
            return
        }
        let mode = parts[0]
        let argument = parts.count == 3 ? parts[1] : ""
        var etag = "\"v1\""
        if mode == "changed" && k > 1 { etag = "\"v\(k)\"" }
        if mode == "busy", k <= Int(argument) ?? 0 {
            send(fd, head("503 Service Unavailable", ["Retry-After: 1", "Content-Length: 0", "Connection: close"]))
            return
        }
        // The range asked for, unless If-Range names another version or the mode ignores ranges.
        var from = 0
        if let r = rangeHeader, r.hasPrefix("bytes="), mode != "noranges", ifRange == nil || ifRange == etag {
            from = Int(r.dropFirst(6).prefix { $0 != "-" }) ?? 0
            let lastText = r.split(separator: "-", omittingEmptySubsequences: false).last ?? ""
            if from >= bytes.count {
                send(
                    fd,
                    head(
                        "416 Range Not Satisfiable",
                        ["Content-Range: bytes */\(bytes.count)", "Content-Length: 0", "Connection: close"]))
                return
            }
            let last = min(bytes.count - 1, Int(lastText) ?? bytes.count - 1)
            send(
                fd,
                head(
                    "206 Partial Content",
                    [
                        "ETag: \(etag)", "Content-Range: bytes \(from)-\(last)/\(bytes.count)",
                        "Content-Length: \(last - from + 1)", "Connection: close",
                    ]))
            serveBody(fd, bytes, from: from, through: last, mode: mode, argument: argument, k: k)
            return
        }
        let length = mode == "lying" ? bytes.count + 1000 : mode == "short" ? bytes.count - 1000 : bytes.count
        send(fd, head("200 OK", ["ETag: \(etag)", "Content-Length: \(length)", "Connection: close"]))
        serveBody(fd, bytes, from: 0, through: bytes.count - 1, mode: mode, argument: argument, k: k)
    }

    /// Sends bytes `from...through`, breaking off where this request's mode says.
    private func serveBody(
        _ fd: Int32, _ bytes: [UInt8], from: Int, through last: Int, mode: String, argument: String, k: Int
    ) {
        var cut: Int?
        switch mode {
        case "reset":
            let offsets = argument.split(separator: ",").compactMap { Int($0) }
            if k <= offsets.count { cut = offsets[k - 1] }
        case "changed", "noranges", "stall":
            if k == 1 { cut = Int(argument) }
        default: break
        }
        guard let c = cut, c > from, c <= last else {
            send(fd, Array(bytes[from...last]))
            return
        }
        send(fd, Array(bytes[from..<c]))
        if mode == "stall" {
            Thread.sleep(forTimeInterval: 60)
            return
        }
        // A TCP reset: the client sees the connection die mid-body.
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
    }

    private func head(_ status: String, _ headers: [String]) -> [UInt8] {
        Array(("HTTP/1.1 \(status)\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n").utf8)
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return }
            sent += n
        }
    }
}
