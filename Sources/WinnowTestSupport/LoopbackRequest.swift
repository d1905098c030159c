import Foundation

/// One HTTP/1.1 request read from a test server's connection: the head (request line and header lines, without the
/// blank line) and, when it says a Content-Length, the body. Nil when the peer closes first or the head passes
/// `maxHead` bytes.
struct LoopbackRequest {
    let head: String
    let body: [UInt8]

    /// The request line's target (`/robots.txt`).
    var target: String { lines[0].split(separator: " ").dropFirst().first.map(String.init) ?? "/" }
    /// The request line and the header lines.
    var lines: [String] { head.components(separatedBy: "\r\n") }

    /// The value of header `name` (any case), if sent.
    func header(_ name: String) -> String? {
        let prefix = name.lowercased() + ":"
        return lines.dropFirst().first { $0.lowercased().hasPrefix(prefix) }.map {
            String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        }
    }

    static func read(_ fd: Int32, maxHead: Int = 1 << 20) -> LoopbackRequest? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headEnd: Int?
        var length = 0
        while true {
            if headEnd == nil, let r = bytes.firstRange(of: [13, 10, 13, 10]) {
                headEnd = r.lowerBound
                let head = String(decoding: bytes[..<r.lowerBound], as: UTF8.self)
                length = LoopbackRequest(head: head, body: []).header("content-length").flatMap { Int($0) } ?? 0
            }
            if let e = headEnd, bytes.count >= e + 4 + length {
                return LoopbackRequest(
                    head: String(decoding: bytes[..<e], as: UTF8.self), body: Array(bytes[(e + 4)..<(e + 4 + length)]))
            }
            if headEnd == nil && bytes.count > maxHead { return nil }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            bytes += chunk[0..<n]
        }
    }
}
