import Foundation
import WinnowSampleWeb

/// A local stand-in for Spawning's registry API (v2 URL query): a POST of newline-separated URLs with
/// `Authorization: API KEY`, answered `{"urls": [{"url": ..., "optOut": ...}]}`: a URL is opted out when it contains
/// one of `optedOut`. `failures` answers 503 to that many requests first; a wrong key gets 401. Logs each request's
/// URL count.
public final class SpawningFake: @unchecked Sendable {
    // @unchecked Sendable: the mutable state is only touched under `lock`.
    private let lock = NSLock()
    private var server: LoopbackServer?
    private let key: String
    private let optedOut: [String]
    private var failures: Int
    private var batches: [Int] = []

    public init(key: String, optedOut: [String], failures: Int = 0) {
        self.key = key
        self.optedOut = optedOut
        self.failures = failures
    }

    public var port: UInt16 { server?.port ?? 0 }
    public var url: String { "http://127.0.0.1:\(port)/api/v2/query/urls/" }
    /// The number of URLs of each request answered 200, in order.
    public var requestSizes: [Int] { lock.withLock { batches } }

    public func start() throws {
        let s = LoopbackServer { [self] fd in handle(fd) }
        server = s
        try s.start()
    }

    public func stop() { server?.stop() }

    private func handle(_ fd: Int32) {
        defer { close(fd) }
        guard let request = LoopbackRequest.read(fd) else { return }
        let head = request.head + "\r\n"
        let body = String(decoding: request.body, as: UTF8.self)
        func answer(_ status: String, _ text: String) {
            let bytes = Array(
                "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(text.utf8.count)\r\nConnection: close\r\n\r\n\(text)"
                    .utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        guard head.hasPrefix("POST "), head.contains("\r\nAuthorization: API \(key)\r\n") else {
            answer("401 Unauthorized", #"{"detail": "bad key"}"#)
            return
        }
        let fail: Bool = lock.withLock {
            if failures > 0 {
                failures -= 1
                return true
            }
            return false
        }
        if fail {
            answer("503 Service Unavailable", "{}")
            return
        }
        let urls = body.split(separator: "\n").map(String.init)
        lock.withLock { batches.append(urls.count) }
        let items = urls.map { u -> [String: Any] in ["url": u, "optOut": optedOut.contains { u.contains($0) }] }
        let json = (try? JSONSerialization.data(withJSONObject: ["urls": items])) ?? Data("{}".utf8)
        answer("200 OK", String(decoding: json, as: UTF8.self))
    }
}
