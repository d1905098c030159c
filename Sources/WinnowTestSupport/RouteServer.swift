import Foundation
import WinnowSampleWeb

/// An HTTP/1.1 server on 127.0.0.1 that answers from a table of routes keyed by host and request target, and logs
/// every request it receives: for tests that must show a request was never sent (a disallowed redirect target), and
/// for files served byte for byte (robots.txt with CR, CRLF or a byte order mark). Fetchers reach its named hosts
/// through `connectTo`. One request per connection.
public final class RouteServer: @unchecked Sendable {
    // @unchecked Sendable: `routes` and `log` are only touched under `lock`; `server` is Sendable.
    private let lock = NSLock()
    private var routes: [String: Response] = [:]
    private var log: [String] = []
    private var headerLog: [String: [String]] = [:]
    private var server: LoopbackServer?

    /// What a route answers.
    public struct Response: Sendable {
        /// Status code.
        public var status: Int
        /// Header lines besides Content-Length and Connection.
        public var headers: [(String, String)]
        /// Body bytes, sent as they are.
        public var body: [UInt8]

        /// A response.
        public init(status: Int = 200, headers: [(String, String)] = [], body: [UInt8] = []) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        /// A redirect to `location`.
        public static func redirect(_ location: String, status: Int = 302) -> Response {
            Response(status: status, headers: [("Location", location)])
        }

        /// A small body served as `image/jpeg`.
        public static let image = Response(
            headers: [("Content-Type", "image/jpeg")],
            body: [0xff, 0xd8, 0xff, 0xe0] + [UInt8](repeating: 0x42, count: 500))
    }

    /// A server not yet started.
    public init() {}

    /// The port it listens on.
    public var port: UInt16 { server?.port ?? 0 }

    /// Sets what `GET http://host/target` answers (anything else: 404).
    public func route(_ host: String, _ target: String, _ response: Response) {
        lock.withLock { routes[host.lowercased() + " " + target] = response }
    }

    /// Every request received so far, as `host target`, in order.
    public var requests: [String] { lock.withLock { log } }

    /// The header lines of the last request for `host target`.
    public func headers(of request: String) -> [String] { lock.withLock { headerLog[request] ?? [] } }

    /// libcurl CONNECT_TO entries that send `hosts` (port 80) here.
    public func connectTo(_ hosts: [String]) -> [String] { hosts.map { "\($0):80:127.0.0.1:\(port)" } }

    /// Binds to an ephemeral port on 127.0.0.1 and starts serving.
    public func start() throws {
        let s = LoopbackServer { [self] fd in handle(fd) }
        server = s
        try s.start()
    }

    /// Stops accepting.
    public func stop() { server?.stop() }

    private func handle(_ fd: Int32) {
        defer { close(fd) }
        guard let request = LoopbackRequest.read(fd) else { return }
        let lines = request.lines
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2 else { return }
        var host = ""
        for line in lines.dropFirst() where line.lowercased().hasPrefix("host:") {
            host = line.dropFirst(5).trimmingCharacters(in: .whitespaces).lowercased()
            if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") { host = String(host[..<colon]) }
        }
        let key = host + " " + parts[1]
        let response = lock.withLock { () -> Response in
            log.append(key)
            headerLog[key] = lines.dropFirst().filter { !$0.isEmpty }
            return routes[key] ?? Response(status: 404, body: Array("not found\n".utf8))
        }
        var head =
            "HTTP/1.1 \(response.status) Status\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\n"
        for (k, v) in response.headers { head += "\(k): \(v)\r\n" }
        let out = Array((head + "\r\n").utf8) + response.body
        var sent = 0
        while sent < out.count {
            // ok: `out` holds at least the status line, so its base address exists.
            let n = out.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}
