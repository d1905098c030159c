internal import CZlib
import Foundation
import WinnowCore

/// Reads a file that may be gzip (any number of members), or plain, as one stream of decompressed bytes, and
/// remembers where each gzip member starts so that records can be reported by their offset in the file.
final class DecompressingReader {
    let path: String
    private let source: any ByteStream
    private var stream = z_stream()
    private var input: [UInt8] = []
    private var inputPosition = 0
    /// Offset in the file of `input[0]`.
    private var inputFileOffset: Int64 = 0
    private(set) var isGzip = false
    private var needReset = false
    private var atEOF = false
    private var inMember = false
    /// Decompressed bytes produced so far.
    private(set) var totalOut: Int64 = 0
    /// (decompressed offset, file offset) of each gzip member's start; for plain files, one entry (0, 0).
    private(set) var members: [(out: Int64, file: Int64)] = []
    /// File bytes consumed so far (for progress).
    var fileBytesConsumed: Int64 { inputFileOffset + Int64(inputPosition) }

    convenience init(path: String) throws {
        try self.init(stream: FileStream(path: path), name: path)
    }

    /// Reads `stream`, the input named `name` (a path or URL, for messages).
    init(stream source: any ByteStream, name: String) throws {
        self.path = name
        self.source = source
        try fill()
        isGzip = input.count >= 2 && input[0] == 0x1f && input[1] == 0x8b
        if isGzip {
            guard winnow_inflate_init2(&stream, 15 + 16) == Z_OK else {
                throw WinnowError(.format, "\(path): zlib inflateInit2 failed")
            }
        } else {
            members.append((0, 0))
        }
    }

    deinit {
        if isGzip { inflateEnd(&stream) }
    }

    private func fill() throws {
        inputFileOffset += Int64(inputPosition)
        input.removeFirst(inputPosition)
        inputPosition = 0
        let chunk = try source.read(upTo: 1 << 20)
        if chunk.isEmpty { atEOF = true } else { input.append(contentsOf: chunk) }
    }

    /// Appends up to about `max` decompressed bytes to `out`; returns false at the end of the file.
    /// Throws on a corrupt or truncated gzip stream, naming the file offset of the member.
    func read(into out: inout [UInt8], max: Int = 1 << 18) throws -> Bool {
        if !isGzip {
            if inputPosition >= input.count {
                if atEOF { return false }
                try fill()
                if input.isEmpty { return false }
            }
            let n = Swift.min(max, input.count - inputPosition)
            out.append(contentsOf: input[inputPosition..<(inputPosition + n)])
            inputPosition += n
            totalOut += Int64(n)
            return true
        }
        while true {
            if inputPosition >= input.count {
                if atEOF {
                    if inMember {
                        throw WinnowError(
                            .format, "\(path): truncated gzip member at offset \(members.last?.file ?? 0)")
                    }
                    return false
                }
                try fill()
                continue
            }
            if !inMember {
                if needReset {
                    inflateReset(&stream)
                    needReset = false
                }
                members.append((totalOut, fileBytesConsumed))
                inMember = true
            }
            let start = out.count
            out.reserveCapacity(start + max)
            var produced = 0
            var rc: Int32 = Z_OK
            var consumed = 0
            var tmp = [UInt8](repeating: 0, count: max)
            input.withUnsafeMutableBufferPointer { inp in
                tmp.withUnsafeMutableBufferPointer { outp in
                    stream.next_in = inp.baseAddress! + inputPosition
                    stream.avail_in = UInt32(inp.count - inputPosition)
                    stream.next_out = outp.baseAddress!
                    stream.avail_out = UInt32(max)
                    rc = inflate(&stream, Z_NO_FLUSH)
                    consumed = inp.count - inputPosition - Int(stream.avail_in)
                    produced = max - Int(stream.avail_out)
                }
            }
            inputPosition += consumed
            out.append(contentsOf: tmp[0..<produced])
            totalOut += Int64(produced)
            if rc == Z_STREAM_END {
                inMember = false
                needReset = true
                // Skip zero padding some writers leave between members.
                while true {
                    if inputPosition >= input.count {
                        if atEOF { break }
                        try fill()
                        continue
                    }
                    if input[inputPosition] == 0 { inputPosition += 1 } else { break }
                }
                if produced > 0 { return true }
                continue
            }
            if rc != Z_OK && rc != Z_BUF_ERROR {
                let message = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw WinnowError(
                    .format, "\(path): corrupt gzip data in member at offset \(members.last?.file ?? 0): \(message)")
            }
            if produced > 0 { return true }
        }
    }

    /// File offset of the gzip member holding decompressed offset `position` (the position itself for plain files).
    func fileOffset(ofDecompressed position: Int64) -> Int64 {
        if !isGzip { return position }
        var lo = 0
        var hi = members.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if members[mid].out <= position { lo = mid } else { hi = mid - 1 }
        }
        guard !members.isEmpty else { return 0 }
        let m = members[lo]
        // A member that starts exactly at the record is Common Crawl's layout: report the member's offset.
        // Inside a multi-record member, report the offset in the decompressed stream.
        return m.out == position ? m.file : position
    }
}

/// Writes gzip members: one per `writeMember` call, as Common Crawl does for each WARC record.
public enum Gzip {
    /// Compresses `bytes` as one complete gzip member.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        guard winnow_deflate_init2(&stream, level, 15 + 16) == Z_OK else {
            throw WinnowError(.format, "zlib deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        var input = bytes
        let bound = Int(deflateBound(&stream, UInt(bytes.count))) + 32
        var out = [UInt8](repeating: 0, count: bound)
        var rc: Int32 = Z_OK
        var written = 0
        input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { outp in
                stream.next_in = inp.baseAddress
                stream.avail_in = UInt32(inp.count)
                stream.next_out = outp.baseAddress
                stream.avail_out = UInt32(outp.count)
                rc = deflate(&stream, Z_FINISH)
                written = outp.count - Int(stream.avail_out)
            }
        }
        guard rc == Z_STREAM_END else { throw WinnowError(.format, "zlib deflate failed (\(rc))") }
        return Array(out[0..<written])
    }

    /// Decompresses all members of gzip data (for tests and small files).
    public static func decompress(path: String) throws -> [UInt8] {
        let reader = try DecompressingReader(path: path)
        var out: [UInt8] = []
        while try reader.read(into: &out) {}
        return out
    }
}
