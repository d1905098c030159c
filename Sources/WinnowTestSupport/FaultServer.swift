import Foundation
import WinnowCore
import WinnowCrawl
import WinnowSampleWeb

/// An HTTP server on 127.0.0.1 that misbehaves on purpose, one way per path, so that tests can check the fetcher's
/// outcome for each kind of trouble the web has.
///
/// `/ok.jpg` a valid small JPEG-looking body; `/drip` one byte a second; `/stall` headers then silence;
/// `/reset` half a body then a TCP reset; `/truncated` a Content-Length longer than the body; `/short-length` a
/// Content-Length shorter than what follows; `/huge-length` a Content-Length of 10 GB; `/endless` a body without
/// end and without length; `/loop` a redirect to itself; `/burst/N` 503 to the first N requests, then the body;
/// `/gzip-bomb` a gzip body that inflates to 64 MB; `/html` text/html with status 200; `/huge-header` one header line
/// of 10 MB; `/header-flood` 100,000 header lines; `/503` always 503; `/429-long` 429 with `Retry-After: 3600`;
/// `/flaky/N/ANY` 503 to the first N requests of all such paths together, then a small PNG (`pngBody`); `/chain/N` N redirects.
public final class FaultServer: @unchecked Sendable {
    // @unchecked Sendable: `burstCounts` is only touched under `lock`; `server` is Sendable.
    private let lock = NSLock()
    private var burstCounts: [String: Int] = [:]
    private var server: LoopbackServer?
    /// The port it listens on.
    public var port: UInt16 { server?.port ?? 0 }
    /// The body `/ok.jpg` serves.
    public static let okBody: [UInt8] = [0xff, 0xd8, 0xff, 0xe0] + [UInt8](repeating: 0x42, count: 2000)

    /// The image `/flaky/N/...` serves once it stops failing: 8 x 8 pixels, decodable.
    public static let pngBody = FlatPNG.make(width: 8, height: 8, depth: 8, pixel: [200, 100, 50])

    /// A server not yet started.
    public init() {}

    /// `http://127.0.0.1:PORT` + path.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Binds to an ephemeral port on 127.0.0.1 and starts serving.
    public func start() throws {
        let s = LoopbackServer { [self] fd in handle(fd) }
        server = s
        try s.start()
    }

    /// Stops accepting.
    public func stop() { server?.stop() }

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    private func head(_ status: String, _ headers: [String]) -> [UInt8] {
        Array(("HTTP/1.1 \(status)\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n").utf8)
    }

    private func handle(_ fd: Int32) {
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while request.firstRange(of: [13, 10, 13, 10]) == nil {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 {
                close(fd)
                return
            }
            request += chunk[0..<n]
        }
        let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self)
        let target = line.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        // The query only tells requests apart.
        let path = String(target.prefix { $0 != "?" })
        let jpegType = "Content-Type: image/jpeg"
        switch path {
        case "/ok.jpg":
            _ = send(
                fd,
                head("200 OK", [jpegType, "Content-Length: \(FaultServer.okBody.count)", "Connection: close"])
                    + FaultServer.okBody)
        case "/drip":
            guard send(fd, head("200 OK", [jpegType, "Content-Length: 100000", "Connection: close"])) else { break }
            for _ in 0..<60 {
                if !send(fd, [0x42]) { break }
                Thread.sleep(forTimeInterval: 1)
            }
        case "/stall":
            _ = send(fd, head("200 OK", [jpegType, "Content-Length: 100000", "Connection: close"]))
            Thread.sleep(forTimeInterval: 60)
        case "/reset":
            _ = send(fd, head("200 OK", [jpegType, "Content-Length: 100000"]) + [UInt8](repeating: 0x42, count: 5000))
            var l = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        case "/truncated":
            _ = send(
                fd,
                head("200 OK", [jpegType, "Content-Length: 10000", "Connection: close"])
                    + [UInt8](repeating: 0x42, count: 4000))
        case "/short-length":
            _ = send(
                fd,
                head("200 OK", [jpegType, "Content-Length: 10", "Connection: close"])
                    + [UInt8](repeating: 0x42, count: 100_000))
        case "/huge-length":
            _ = send(
                fd,
                head("200 OK", [jpegType, "Content-Length: 10000000000", "Connection: close"])
                    + [UInt8](repeating: 0x42, count: 1000))
        case "/endless":
            guard send(fd, head("200 OK", [jpegType, "Connection: close"])) else { break }
            let block = [UInt8](repeating: 0x42, count: 65536)
            for _ in 0..<2000 where send(fd, block) {}
        case "/loop":
            _ = send(fd, head("302 Found", ["Location: /loop", "Content-Length: 0"]))
        case "/gzip-bomb":
            let bomb = (try? Gzip.compress([UInt8](repeating: 0, count: 64 << 20), level: 9)) ?? []
            _ = send(
                fd,
                head(
                    "200 OK",
                    [jpegType, "Content-Encoding: gzip", "Content-Length: \(bomb.count)", "Connection: close"]) + bomb)
        case "/huge-header":
            // One header line of 10 MB.
            _ = send(
                fd,
                Array("HTTP/1.1 200 OK\r\n\(jpegType)\r\nX-Filler: ".utf8) + [UInt8](repeating: 0x61, count: 10 << 20)
                    + Array("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        case "/header-flood":
            // 100,000 short header lines.
            var out = Array("HTTP/1.1 200 OK\r\n\(jpegType)\r\n".utf8)
            for k in 0..<100_000 { out += Array("X-H\(k): v\r\n".utf8) }
            _ = send(fd, out + Array("Content-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        case "/html":
            let page = Array("<html><body>not an image</body></html>".utf8)
            _ = send(
                fd,
                head("200 OK", ["Content-Type: text/html", "Content-Length: \(page.count)", "Connection: close"]) + page
            )
        case "/503":
            _ = send(fd, head("503 Service Unavailable", ["Content-Length: 0", "Connection: close"]))
        case "/429-long":
            _ = send(
                fd, head("429 Too Many Requests", ["Retry-After: 3600", "Content-Length: 0", "Connection: close"]))
        default:
            let parts = path.split(separator: "/")
            if parts.count == 3, parts[0] == "flaky", let n = Int(parts[1]) {
                // 503 to the first N requests of all /flaky/N/... paths together, then the body.
                let seen = lock.withLock { () -> Int in
                    burstCounts["flaky/\(n)", default: 0] += 1
                    return burstCounts["flaky/\(n)", default: 0]
                }
                let ok = head(
                    "200 OK",
                    ["Content-Type: image/png", "Content-Length: \(FaultServer.pngBody.count)", "Connection: close"])
                _ = send(
                    fd,
                    seen <= n
                        ? head("503 Service Unavailable", ["Content-Length: 0", "Connection: close"])
                        : ok + FaultServer.pngBody)
            } else if parts.count == 2, parts[0] == "chain", let n = Int(parts[1]) {
                // A chain of N redirects, then the body.
                _ = send(
                    fd,
                    n > 0
                        ? head("302 Found", ["Location: /chain/\(n - 1)", "Content-Length: 0", "Connection: close"])
                        : head(
                            "200 OK", [jpegType, "Content-Length: \(FaultServer.okBody.count)", "Connection: close"])
                            + FaultServer.okBody)
            } else if path.hasPrefix("/burst/"), let n = Int(path.dropFirst("/burst/".count)) {
                let seen = lock.withLock { () -> Int in
                    burstCounts[path, default: 0] += 1
                    return burstCounts[path, default: 0]
                }
                if seen <= n {
                    _ = send(fd, head("503 Service Unavailable", ["Content-Length: 0", "Connection: close"]))
                } else {
                    _ = send(
                        fd,
                        head("200 OK", [jpegType, "Content-Length: \(FaultServer.okBody.count)", "Connection: close"])
                            + FaultServer.okBody)
                }
            } else {
                _ = send(fd, head("404 Not Found", ["Content-Length: 0", "Connection: close"]))
            }
        }
        close(fd)
    }
}
