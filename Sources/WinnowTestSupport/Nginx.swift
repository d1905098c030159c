import Foundation

/// nginx (Debian's package) serving a directory on 127.0.0.1 for tests that need a production HTTP server: HTTP/2
/// over TLS with a throwaway self-signed certificate, which our own loopback servers do not speak.
public final class Nginx {
    /// The port it listens on.
    public let port: Int
    /// The certificate (also the CA file to trust) when serving TLS.
    public let certificate: String?
    /// Its prefix directory: config, pid, logs.
    public let prefix: String
    private let process: Process

    /// The nginx binary, or nil if it is not installed (scripts/setup.sh installs it for the tests).
    public static var binary: String? {
        for p in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        where FileManager.default.isExecutableFile(atPath: p) {
            return p
        }
        return nil
    }

    /// Starts nginx serving `root`; with `tlsHost`, over TLS + HTTP/2 with a certificate for that name.
    public init(root: String, tlsHost: String? = nil) throws {
        guard let binary = Nginx.binary else {
            throw TestSupportError("nginx is not installed (run scripts/setup.sh, which installs it for the tests)")
        }
        prefix = TestSupport.temporaryDirectory("nginx")
        try FileManager.default.createDirectory(atPath: prefix + "/logs", withIntermediateDirectories: true)
        if let host = tlsHost {
            let r = try TestSupport.run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=\(host)",
                    "-addext", "subjectAltName=DNS:\(host)", "-keyout", prefix + "/key.pem", "-out",
                    prefix + "/cert.pem",
                ])
            guard r.status == 0 else { throw TestSupportError("openssl req failed: \(r.stderr)") }
            certificate = prefix + "/cert.pem"
        } else {
            certificate = nil
        }
        var lastError = ""
        for _ in 0..<5 {
            let p = try Nginx.freePort()
            try Nginx.config(prefix: prefix, root: root, port: p, tls: tlsHost != nil)
                .write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
            // In the foreground (`daemon off`), as our child: Foundation's Process learns that a child ended when
            // a descriptor the child holds closes, which a daemon would keep open for ever.
            let log = prefix + "/logs/start.log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["-p", prefix + "/", "-e", prefix + "/logs/error.log", "-c", prefix + "/nginx.conf"]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            try handle.close()
            // Ready once the port accepts connections; gone if it could not bind.
            for _ in 0..<250 where process.isRunning && !Nginx.accepts(port: p) { usleep(20_000) }
            if process.isRunning && Nginx.accepts(port: p) {
                self.port = p
                self.process = process
                return
            }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            lastError = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            usleep(200_000)  // most likely the port was taken between the probe and nginx's bind
        }
        throw TestSupportError("nginx did not start: \(lastError)")
    }

    /// Stops nginx (SIGTERM: its fast shutdown) and waits for it.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// The access log's lines (written as requests finish; nginx buffers nothing here).
    public func accessLog() -> [String] {
        ((try? String(contentsOfFile: prefix + "/logs/access.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    static func config(prefix: String, root: String, port: Int, tls: Bool) -> String {
        let user = getuid() == 0 ? "user root;" : ""
        let listen = tls ? "listen 127.0.0.1:\(port) ssl http2;" : "listen 127.0.0.1:\(port);"
        let certs =
            tls ? "ssl_certificate \(prefix)/cert.pem;\n        ssl_certificate_key \(prefix)/key.pem;" : ""
        return """
            \(user)
            worker_processes 1;
            daemon off;
            pid \(prefix)/nginx.pid;
            error_log \(prefix)/logs/error.log warn;
            events { worker_connections 256; }
            http {
                include /etc/nginx/mime.types;
                default_type application/octet-stream;
                log_format winnow '$request $status $server_protocol';
                access_log \(prefix)/logs/access.log winnow;
                client_body_temp_path \(prefix)/client_body;
                proxy_temp_path \(prefix)/proxy;
                fastcgi_temp_path \(prefix)/fastcgi;
                uwsgi_temp_path \(prefix)/uwsgi;
                scgi_temp_path \(prefix)/scgi;
                server {
                    \(listen)
                    \(certs)
                    root \(root);
                    location / { try_files $uri =404; }
                }
            }

            """
    }

    /// A port that was free a moment ago.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket: errno \(errno)") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(fd, p, len) == 0 && getsockname(fd, p, &len) == 0
            }
        }
        guard ok else { throw TestSupportError("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// A test environment problem (a missing tool, a server that did not start).
public struct TestSupportError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
