internal import CDeflate
internal import CZlib
import Foundation
import WinnowCore

/// The size of the file at `path`, following symbolic links (FileManager's attributes describe the link itself), or 0
/// when it cannot be read.
package func fileSize(atPath path: String) -> Int64 {
    var st = stat()
    return stat(path, &st) == 0 ? Int64(st.st_size) : 0
}

/// Reads a gzip file one member at a time with libdeflate (about twice zlib's speed), for Common Crawl's layout of
/// one member per record. Memory is the read buffer plus the largest member, whatever the file size.
/// Not thread-safe: one reader per thread.
final class MemberReader {
    let path: String
    private let source: any ByteStream
    private let decompressor: OpaquePointer
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var fill = 0  // bytes of file data in the buffer
    private var cursor = 0  // next member's position in the buffer
    private var bufferFileOffset: Int64 = 0  // file offset of buffer[0]
    private var eof = false
    private var output: UnsafeMutableRawPointer
    private var outputCapacity: Int
    /// Members starting at or after this file offset belong to another reader.
    let endOffset: Int64
    /// Largest decompressed member accepted.
    let maxMember: Int

    /// Opens `path` to read the members that start in `range` (the whole file by default).
    convenience init(path: String, range: Range<Int64>? = nil, maxMember: Int = 1 << 30) throws {
        let file = try FileStream(path: path)
        if let start = range?.lowerBound, start > 0 { file.seek(to: start) }
        try self.init(stream: file, name: path, range: range, maxMember: maxMember)
    }

    /// Reads the members of `stream` (the input named `name`) that start in `range`, whose first byte is the
    /// stream's next.
    init(stream: any ByteStream, name: String, range: Range<Int64>? = nil, maxMember: Int = 1 << 30) throws {
        self.path = name
        self.maxMember = maxMember
        source = stream
        guard let d = libdeflate_alloc_decompressor() else {
            throw WinnowError(.io, "libdeflate_alloc_decompressor failed")
        }
        decompressor = d
        capacity = 8 << 20
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        outputCapacity = 4 << 20
        output = UnsafeMutableRawPointer.allocate(byteCount: outputCapacity, alignment: 64)
        endOffset = range?.upperBound ?? Int64.max
        if let start = range?.lowerBound, start > 0 { bufferFileOffset = start }
    }

    deinit {
        libdeflate_free_decompressor(decompressor)
        buffer.deallocate()
        output.deallocate()
    }

    /// File bytes consumed so far.
    var position: Int64 { bufferFileOffset + Int64(cursor) }

    /// Moves unread bytes to the front and reads more; grows the buffer when a member fills it. False at EOF.
    private func refill(grow: Bool) throws -> Bool {
        if eof { return false }
        if cursor > 0 {
            memmove(buffer, buffer + cursor, fill - cursor)
            fill -= cursor
            bufferFileOffset += Int64(cursor)
            cursor = 0
        }
        if grow && fill == capacity {
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
            bigger.copyMemory(from: buffer, byteCount: fill)
            buffer.deallocate()
            buffer = bigger
            capacity *= 2
        }
        // A file's read fills the buffer at once; a stream's (a remote input) gives what has arrived: take at least
        // 1 MB, so that members are read as bytes come rather than after 8 MB.
        var added = 0
        while fill < capacity && added < 1 << 20 {
            let n = try source.read(into: buffer + fill, count: capacity - fill)
            if n == 0 {
                eof = true
                break
            }
            fill += n
            added += n
        }
        return added > 0
    }

    /// Result of reading one member.
    enum Member {
        /// A member at `offset` and its decompressed bytes (valid until the next call).
        case data(offset: Int64, UnsafeRawBufferPointer)
        /// Bytes at `offset` that are not a valid member; the reader has skipped to the next member start.
        case corrupt(offset: Int64, message: String)
    }

    /// The next member, or nil when the range or file is done.
    func next() throws -> Member? {
        while true {
            // Skip padding between members.
            while true {
                if cursor == fill {
                    if try !refill(grow: false) { return nil }
                    continue
                }
                if buffer.load(fromByteOffset: cursor, as: UInt8.self) == 0 { cursor += 1 } else { break }
            }
            if position >= endOffset { return nil }
            if fill - cursor < 1 << 16 && !eof { _ = try refill(grow: false) }
            var consumed = 0
            var produced = 0
            let rc = libdeflate_gzip_decompress_ex(
                decompressor, buffer + cursor, fill - cursor, output, outputCapacity, &consumed, &produced)
            switch rc {
            case LIBDEFLATE_SUCCESS:
                let offset = position
                cursor += consumed
                return .data(offset: offset, UnsafeRawBufferPointer(start: output, count: produced))
            case LIBDEFLATE_INSUFFICIENT_SPACE:
                guard outputCapacity < maxMember else {
                    return try corrupt("a member inflates to more than \(maxMember) bytes")
                }
                output.deallocate()
                outputCapacity *= 2
                output = UnsafeMutableRawPointer.allocate(byteCount: outputCapacity, alignment: 64)
            default:
                // Either the member runs past what is buffered (read more and retry) or it is damaged.
                if !eof {
                    _ = try refill(grow: true)
                    continue
                }
                return try corrupt(
                    rc == LIBDEFLATE_SHORT_OUTPUT ? "truncated gzip member" : "corrupt or truncated gzip member")
            }
        }
    }

    /// Reports the damaged member at the cursor and moves to the next valid member start.
    private func corrupt(_ message: String) throws -> Member {
        let offset = position
        cursor += 1
        while true {
            while cursor + 3 <= fill {
                let p = buffer.assumingMemoryBound(to: UInt8.self)
                if p[cursor] == 0x1f && p[cursor + 1] == 0x8b && p[cursor + 2] == 0x08
                    && MemberReader.startsWARC(UnsafeRawBufferPointer(start: p + cursor, count: fill - cursor))
                {
                    return .corrupt(offset: offset, message: "\(message) at offset \(offset)")
                }
                cursor += 1
            }
            if try !refill(grow: false) {
                cursor = fill
                return .corrupt(offset: offset, message: "\(message) at offset \(offset)")
            }
        }
    }

    /// Whether the file is gzip with one member per WARC record (Common Crawl's layout), judged by its first member.
    static func isMemberPerRecord(path: String) throws -> Bool {
        let r = try MemberReader(path: path, maxMember: 64 << 20)
        if r.fill == 0 { _ = try r.refill(grow: false) }
        guard r.fill >= 2,
            r.buffer.load(as: UInt8.self) == 0x1f, r.buffer.load(fromByteOffset: 1, as: UInt8.self) == 0x8b
        else { return false }
        guard case .data(_, let bytes) = try r.next() else { return false }
        var complete = 0
        var broken = false
        try RecordSplitter.records(in: bytes) { _, _, error in
            if error == nil { complete += 1 } else { broken = true }
        }
        return complete >= 1 && !broken
    }

    /// Whether `head`, the first bytes of an input, is gzip with one member per WARC record: its first member
    /// (which must lie within `head`) inflates to whole records.
    static func isMemberPerRecord(head: [UInt8]) -> Bool {
        guard head.count >= 2, head[0] == 0x1f, head[1] == 0x8b, let d = libdeflate_alloc_decompressor() else {
            return false
        }
        defer { libdeflate_free_decompressor(d) }
        var size = 1 << 20
        while size <= 64 << 20 {
            var out = [UInt8](repeating: 0, count: size)
            var consumed = 0
            var produced = 0
            let rc = head.withUnsafeBytes { h in
                out.withUnsafeMutableBytes { o in
                    libdeflate_gzip_decompress_ex(
                        d, h.baseAddress, h.count, o.baseAddress, o.count, &consumed, &produced)
                }
            }
            if rc == LIBDEFLATE_INSUFFICIENT_SPACE {
                size *= 4
                continue
            }
            guard rc == LIBDEFLATE_SUCCESS else { return false }
            var complete = 0
            var broken = false
            out.withUnsafeBytes { o in
                try? RecordSplitter.records(in: UnsafeRawBufferPointer(rebasing: o[..<produced])) { _, _, error in
                    if error == nil { complete += 1 } else { broken = true }
                }
            }
            return complete >= 1 && !broken
        }
        return false
    }

    /// Whether `bytes` start a gzip member whose content starts with a WARC version line.
    static func startsWARC(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var stream = z_stream()
        guard winnow_inflate_init2(&stream, 15 + 16) == Z_OK else { return false }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: 16)
        let rc = out.withUnsafeMutableBufferPointer { o -> Int32 in
            stream.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            stream.avail_in = UInt32(min(bytes.count, 1 << 16))
            stream.next_out = o.baseAddress
            stream.avail_out = 16
            return inflate(&stream, Z_SYNC_FLUSH)
        }
        guard rc == Z_OK || rc == Z_STREAM_END else { return false }
        return out.starts(with: Array("WARC/1.".utf8))
    }

    /// Splits a gzip file into `parts` byte ranges that each start at a member that begins a WARC record.
    static func split(path: String, parts: Int) throws -> [Range<Int64>] {
        let size = fileSize(atPath: path)
        guard parts > 1, size > 4 << 20, let h = FileHandle(forReadingAtPath: path) else { return [0..<Int64.max] }
        defer { try? h.close() }
        var starts: [Int64] = [0]
        for k in 1..<parts {
            var at = size * Int64(k) / Int64(parts)
            guard at > starts.last! else { continue }  // ok: starts is never empty
            try h.seek(toOffset: UInt64(at))
            var found: Int64?
            // Scan forward (at most 64 MB) for a member start.
            while found == nil, at < size, at - size * Int64(k) / Int64(parts) < 64 << 20 {
                let chunk = [UInt8](try h.read(upToCount: 1 << 20) ?? Data())
                if chunk.isEmpty { break }
                var i = 0
                while i + 3 <= chunk.count {
                    if chunk[i] == 0x1f && chunk[i + 1] == 0x8b && chunk[i + 2] == 0x08 {
                        try h.seek(toOffset: UInt64(at + Int64(i)))
                        let probe = [UInt8](try h.read(upToCount: 1 << 16) ?? Data())
                        if probe.withUnsafeBytes({ startsWARC($0) }) {
                            found = at + Int64(i)
                            break
                        }
                    }
                    i += 1
                }
                if found == nil {
                    at += Int64(max(1, chunk.count - 2))
                    try h.seek(toOffset: UInt64(at))
                }
            }
            if let f = found, f > starts.last! { starts.append(f) }  // ok: as above
        }
        var ranges: [Range<Int64>] = []
        for (i, s) in starts.enumerated() { ranges.append(s..<(i + 1 < starts.count ? starts[i + 1] : Int64.max)) }
        return ranges
    }
}

/// Raw decompression of a whole gzip file, the baseline the WAT reader is measured against (winnow-bench).
public enum RawInflate {
    /// Inflates every member with libdeflate, discarding the output; returns (members, decompressed bytes).
    public static func libdeflate(path: String) throws -> (members: Int, bytes: Int) {
        let r = try MemberReader(path: path)
        var members = 0
        var bytes = 0
        while let m = try r.next() {
            if case .data(_, let b) = m {
                members += 1
                bytes += b.count
            }
        }
        return (members, bytes)
    }

    /// Inflates the file with zlib's streaming inflate, discarding the output; returns decompressed bytes.
    public static func zlib(path: String) throws -> Int {
        let r = try DecompressingReader(path: path)
        var out: [UInt8] = []
        var total = 0
        while try r.read(into: &out, max: 1 << 20) {
            total += out.count
            out.removeAll(keepingCapacity: true)
        }
        return total
    }
}
