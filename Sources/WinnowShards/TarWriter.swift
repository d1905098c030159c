import Foundation
import WinnowCore

/// Writes a POSIX ustar archive to `path.partial`; `finish()` writes the end blocks, fsyncs and renames it to `path`,
/// so a tar under its final name is always complete. Not thread-safe.
public final class TarWriter {
    /// Final path.
    public let path: String
    private var fd: Int32
    /// Bytes written so far.
    public private(set) var size: Int64 = 0
    private let digest = Digest(.sha256)

    /// Creates `path.partial`, replacing any leftover one.
    public init(path: String) throws {
        self.path = path
        fd = open(path + ".partial", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw WinnowError(.io, "\(path).partial: cannot create: \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Closes the partial file without finishing it (the caller removes it).
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Appends a member; returns (offset of its header, offset of its data).
    @discardableResult
    public func add(name: String, data: [UInt8]) throws -> (header: Int64, data: Int64) {
        let headerOffset = size
        try writeAll(TarWriter.header(name: name, size: data.count))
        let dataOffset = size
        try writeAll(data)
        let pad = (512 - data.count % 512) % 512
        if pad > 0 { try writeAll([UInt8](repeating: 0, count: pad)) }
        return (headerOffset, dataOffset)
    }

    /// Writes the two zero end blocks, fsyncs, renames into place. Returns the SHA-256 of the archive.
    public func finish() throws -> String {
        try writeAll([UInt8](repeating: 0, count: 1024))
        if fsync(fd) != 0 { throw WinnowError(.io, "\(path).partial: fsync failed") }
        if rename(path + ".partial", path) != 0 {
            throw WinnowError(.io, "\(path): rename failed: \(String(cString: strerror(errno)))")
        }
        TarWriter.syncDirectory(of: path)
        return hex(digest.finalize())
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        digest.update(bytes)
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WinnowError(.io, "\(path).partial: write failed: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
        size += Int64(bytes.count)
    }

    /// A ustar header block for a regular file. mtime is 0 so that the same samples give the same bytes.
    static func header(name: String, size: Int) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ at: Int, _ len: Int) {
            let b = Array(s.utf8.prefix(len))
            h.replaceSubrange(at..<(at + b.count), with: b)
        }
        func octal(_ v: Int, _ at: Int, _ len: Int) {
            let s = String(v, radix: 8)
            put(String(repeating: "0", count: max(0, len - 1 - s.count)) + s, at, len - 1)
        }
        put(name, 0, 100)
        octal(0o644, 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        octal(size, 124, 12)
        octal(0, 136, 12)
        put("        ", 148, 8)
        h[156] = UInt8(ascii: "0")
        put("ustar\u{0}", 257, 6)
        put("00", 263, 2)
        let sum = h.reduce(0) { $0 + Int($1) }
        let s = String(sum, radix: 8)
        put(String(repeating: "0", count: max(0, 6 - s.count)) + s, 148, 6)
        h[154] = 0
        h[155] = UInt8(ascii: " ")
        return h
    }

    static func syncDirectory(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 {
            fsync(dfd)
            Glibc.close(dfd)
        }
    }
}

/// Reads members of a ustar archive.
public enum TarReader {
    /// One member: name, data offset and size.
    public struct Member: Sendable, Equatable {
        /// Member name.
        public var name: String
        /// Offset of the data in the archive.
        public var offset: Int64
        /// Data size.
        public var size: Int
    }

    /// Lists the members of the archive at `path`, checking each header's checksum.
    public static func members(path: String) throws -> [Member] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WinnowError(.io, "\(path): cannot read")
        }
        return try members(bytes: [UInt8](data), path: path)
    }

    /// The members of a tar archive already in memory; `path` names it in errors.
    public static func members(bytes: [UInt8], path: String) throws -> [Member] {
        var out: [Member] = []
        var at = 0
        while at + 512 <= bytes.count {
            let h = Array(bytes[at..<(at + 512)])
            if h.allSatisfy({ $0 == 0 }) { return out }
            let stored = Int(parseOctal(h[148..<156]), radix: 8) ?? -1
            var copy = h
            copy.replaceSubrange(148..<156, with: [UInt8](repeating: 32, count: 8))
            guard stored == copy.reduce(0, { $0 + Int($1) }) else {
                throw WinnowError(.format, "\(path): bad tar header checksum at offset \(at)")
            }
            let name = String(decoding: h[0..<100].prefix(while: { $0 != 0 }), as: UTF8.self)
            guard let size = Int(parseOctal(h[124..<136]), radix: 8) else {
                throw WinnowError(.format, "\(path): bad size field at offset \(at)")
            }
            guard at + 512 + size <= bytes.count else {
                throw WinnowError(.format, "\(path): member \(name) runs past the end of the file")
            }
            out.append(Member(name: name, offset: Int64(at + 512), size: size))
            at += 512 + (size + 511) / 512 * 512
        }
        throw WinnowError(.format, "\(path): archive has no end blocks (truncated?)")
    }

    private static func parseOctal(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.filter { $0 >= 0x30 && $0 <= 0x37 }, as: UTF8.self)
    }

    /// Reads `size` bytes at `offset` of the file at `path`.
    public static func read(path: String, offset: Int64, size: Int) throws -> [UInt8] {
        guard let h = FileHandle(forReadingAtPath: path) else { throw WinnowError(.io, "\(path): cannot open") }
        defer { try? h.close() }
        try h.seek(toOffset: UInt64(offset))
        let data = try h.read(upToCount: size) ?? Data()
        guard data.count == size else {
            throw WinnowError(.format, "\(path): \(size) bytes at offset \(offset) run past the end of the file")
        }
        return [UInt8](data)
    }
}
