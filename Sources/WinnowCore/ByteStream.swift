import Foundation

/// The bytes an input is read from, in order: a local file (`FileStream`) or a transfer over HTTP(S) (a
/// `RemoteInputs`' stream). The readers of every input kind read through this, so that a remote input goes into the
/// same readers as a local file, with no temporary copy.
public protocol ByteStream: AnyObject {
    /// Reads up to `count` bytes into `buffer`; how many, 0 at the end of the input. Throws a `WinnowError` naming the
    /// input when it cannot be read (a remote input's transfer failed for good), or `InputChanged`.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int
}

extension ByteStream {
    /// Reads up to `count` bytes (fewer only at the end of the input).
    public func read(upTo count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        try out.withUnsafeMutableBytes { b in
            while done < count {
                let n = try read(into: b.baseAddress! + done, count: count - done)  // ok: count > 0 here
                if n == 0 { break }
                done += n
            }
        }
        out.removeSubrange(done...)
        return out
    }
}

/// A local file as a `ByteStream`.
public final class FileStream: ByteStream {
    /// The file's path (for messages).
    public let path: String
    private let fd: Int32

    /// Opens `path` for reading.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw WinnowError(.io, "\(path): cannot open: \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Moves to byte `offset` of the file.
    public func seek(to offset: Int64) { lseek(fd, off_t(offset), SEEK_SET) }

    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw WinnowError(.io, "\(path): read failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// Bytes in memory as a stream.
public final class MemoryStream: ByteStream {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        let n = min(count, bytes.count - position)
        if n > 0 {
            // ok: n > 0, so the array has storage
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
        }
        position += n
        return n
    }
}

/// A stream whose first bytes can be looked at before they are read (to tell an input's kind from its content
/// when it cannot be opened twice, as a remote one cannot without a second request).
public final class PeekStream: ByteStream {
    private let base: any ByteStream
    private var head: [UInt8] = []
    private var headPosition = 0

    public init(_ base: any ByteStream) { self.base = base }

    /// The first `count` bytes of the stream (fewer if it is shorter), without consuming them. Only before the first
    /// read.
    public func peek(_ count: Int) throws -> [UInt8] {
        precondition(headPosition == 0, "peek after read")
        if head.count < count { head += try base.read(upTo: count - head.count) }
        return Array(head.prefix(count))
    }

    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        if headPosition < head.count {
            let n = min(count, head.count - headPosition)
            head.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + headPosition, byteCount: n) }  // ok: n > 0
            headPosition += n
            if headPosition == head.count {
                head = []
                headPosition = Int.max
            }
            return n
        }
        return try base.read(into: buffer, count: count)
    }
}

/// Inputs named by an `http://` or `https://` URL, read over the network. Given to the reader by whoever holds a
/// network client (`winnow` gives libcurl's, with its address guard, retries and resume: WinnowFetch's
/// `RemoteFiles`), so that the readers hold no network code.
public protocol RemoteInputs: Sendable {
    /// The whole resource as a stream (a dropped transfer resumed from the last byte received, where the server
    /// lets it). Throws `InputChanged` from `read` when the resource changed mid-way and the stream had to restart
    /// from its first byte.
    func open(_ url: String) throws -> any ByteStream
    /// Bytes `range` of the resource (for Parquet, whose footer comes first and whose column chunks are read
    /// alone).
    func read(_ url: String, range: Range<Int64>) throws -> [UInt8]
    /// The resource's size in bytes.
    func size(_ url: String) throws -> Int64
    /// Bytes received so far of `url`, and its size once known (for progress).
    func progress(_ url: String) -> (received: Int64, size: Int64?)
}

/// A remote input that changed between the attempts of one read (its ETag or Last-Modified differ): what was read
/// of it before belongs to another version. The stream starts again from the resource's first byte; the reader
/// skips what it already gave.
public struct InputChanged: Error, Sendable, CustomStringConvertible {
    public let url: String
    public let message: String
    public init(url: String, message: String) {
        self.url = url
        self.message = message
    }
    public var description: String { "\(url): \(message)" }
}

/// Where an input lives.
public enum InputLocation {
    /// Whether `input` names a remote resource (`http://` or `https://`, any case).
    public static func isRemote(_ input: String) -> Bool {
        let lower = input.prefix(8).lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://")
    }

    /// Common Crawl's public HTTPS endpoint, the default base of a paths file's relative paths.
    public static let commonCrawlBase = "https://data.commoncrawl.org/"

    /// The address an input is read from: `s3://commoncrawl/KEY` is Common Crawl's public bucket, served (without
    /// credentials) at `https://data.commoncrawl.org/KEY`; `s3://BUCKET/KEY` of another public bucket is
    /// `https://BUCKET.s3.amazonaws.com/KEY`. Other inputs are returned as they are.
    public static func resolve(_ input: String) -> String {
        guard input.lowercased().hasPrefix("s3://") else { return input }
        let rest = input.dropFirst(5)
        let bucket = rest.prefix(while: { $0 != "/" })
        let key = rest.dropFirst(bucket.count + 1)
        if bucket == "commoncrawl" { return commonCrawlBase + key }
        return "https://\(bucket).s3.amazonaws.com/\(key)"
    }

    /// A path of a paths file (`crawl-data/CC-MAIN-2024-10/segments/.../x.warc.wat.gz`) as an input: an absolute URL
    /// (http, https, s3) or absolute local path stays as it is; a relative path is joined to `base`.
    public static func join(_ path: String, base: String) -> String {
        let lower = path.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("s3://") {
            return resolve(path)
        }
        if path.hasPrefix("/") { return path }
        let b = resolve(base)
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        if isRemote(b) { return b.hasSuffix("/") ? b + relative : b + "/" + relative }
        return (b as NSString).appendingPathComponent(relative)
    }
}
