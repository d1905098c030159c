import WinnowCore

/// One WARC record: its header fields and its block.
public struct WARCRecord: Sendable {
    /// Offset of the record in the file (of its gzip member when the file is one member per record).
    public var offset: Int64
    /// Header fields in order, names as written.
    public var headers: [(String, String)]
    /// The record block (Content-Length bytes).
    public var block: [UInt8]

    /// The first header of that name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0.lowercased() == lower }?.1
    }

    /// `WARC-Type`.
    public var type: String { header("WARC-Type") ?? "" }
}

/// A problem with one record: the reader skips it (or stops the file, if it cannot resynchronise) and reports it.
public struct RecordError: Error, Sendable, CustomStringConvertible {
    /// Stable reason code (`bad_warc_header`, `corrupt_gzip`, `truncated_record`...).
    public var code: String
    /// Input file.
    public var path: String
    /// Offset of the record.
    public var offset: Int64
    /// What is wrong.
    public var message: String

    public var description: String { "\(path) at offset \(offset): \(message)" }

    /// Input text quoted for a message: at most `limit` characters of it, so that a message never echoes a whole
    /// binary file's worth of bytes.
    public static func excerpt(_ text: String, limit: Int = 60) -> String {
        guard text.count > limit else { return text.debugDescription }
        return String(text.prefix(limit)).debugDescription + "... (\(text.utf8.count) bytes)"
    }
}

/// Streams WARC records from a WARC or WAT file: gzip with one member per record (Common Crawl), one member for the
/// whole file, or uncompressed; CRLF or LF-only line endings.
public final class WARCReader {
    private let reader: DecompressingReader
    private var buffer: [UInt8] = []
    private var position = 0
    /// Decompressed offset of buffer[0].
    private var bufferStart: Int64 = 0
    private var finished = false
    /// The input path.
    public var path: String { reader.path }
    /// Bytes of the input file consumed so far.
    public var fileBytesConsumed: Int64 { reader.fileBytesConsumed }

    /// Opens `path`. Throws if it cannot be read.
    public init(path: String) throws {
        reader = try DecompressingReader(path: path)
    }

    /// Reads `stream`, the input named `name` (a path or URL, for messages).
    public init(stream: any ByteStream, name: String) throws {
        reader = try DecompressingReader(stream: stream, name: name)
    }

    private func more() throws -> Bool {
        if finished { return false }
        if position > 1 << 20 {
            buffer.removeFirst(position)
            bufferStart += Int64(position)
            position = 0
        }
        do {
            if try reader.read(into: &buffer) { return true }
        } catch let error as WinnowError where error.code == .format {
            // Damaged data (a network or disk failure is the caller's, as it is).
            finished = true
            throw RecordError(
                code: "corrupt_gzip", path: path, offset: reader.members.last?.file ?? 0, message: error.message)
        }
        finished = true
        return false
    }

    /// Reads the next line (without its CR LF or LF) starting at `position`; nil at the end of input.
    private func readLine() throws -> [UInt8]? {
        var scanFrom = position
        while true {
            if let nl = buffer[scanFrom...].firstIndex(of: 0x0a) {
                var end = nl
                if end > position && buffer[end - 1] == 0x0d { end -= 1 }
                let line = Array(buffer[position..<end])
                position = nl + 1
                return line
            }
            // more() may compact the buffer: remember how far we scanned relative to `position`.
            let scanned = buffer.count - position
            if !(try more()) {
                if position < buffer.count {
                    let line = Array(buffer[position...])
                    position = buffer.count
                    return line
                }
                return nil
            }
            scanFrom = position + scanned
        }
    }

    /// The next record, or nil at the end. A record whose header is malformed throws a `RecordError`; the reader
    /// then skips to the next `WARC/` line, so calling `next()` again goes on.
    public func next() throws -> WARCRecord? {
        // Skip blank lines between records.
        var line: [UInt8]
        var recordStart: Int64
        repeat {
            recordStart = bufferStart + Int64(position)
            guard let l = try readLine() else { return nil }
            line = l
        } while line.isEmpty
        let offset = reader.fileOffset(ofDecompressed: recordStart)
        guard line.starts(with: Array("WARC/".utf8)) else {
            try resync()
            throw RecordError(
                code: "bad_warc_header", path: path, offset: offset,
                message:
                    "expected a WARC/1.x version line, found \(String(decoding: line.prefix(40), as: UTF8.self).debugDescription)"
            )
        }
        var headers: [(String, String)] = []
        while true {
            guard let l = try readLine() else {
                throw RecordError(
                    code: "truncated_record", path: path, offset: offset, message: "file ends inside a WARC header")
            }
            if l.isEmpty { break }
            guard let colon = l.firstIndex(of: 0x3a) else {
                try resync()
                throw RecordError(
                    code: "bad_warc_header", path: path, offset: offset,
                    message:
                        "header line without a colon: \(String(decoding: l.prefix(60), as: UTF8.self).debugDescription)"
                )
            }
            let name = String(decoding: l[..<colon], as: UTF8.self).trimmingWhitespace()
            let value = String(decoding: l[(colon + 1)...], as: UTF8.self).trimmingWhitespace()
            headers.append((name, value))
        }
        guard let lengthText = headers.first(where: { $0.0.lowercased() == "content-length" })?.1,
            let length = Int(lengthText), length >= 0
        else {
            try resync()
            throw RecordError(
                code: "bad_warc_header", path: path, offset: offset, message: "missing or invalid Content-Length")
        }
        while buffer.count - position < length {
            if !(try more()) {
                throw RecordError(
                    code: "truncated_record", path: path, offset: offset,
                    message: "file ends inside a record block (Content-Length \(length))")
            }
        }
        let block = Array(buffer[position..<(position + length)])
        position += length
        return WARCRecord(offset: offset, headers: headers, block: block)
    }

    /// Skips to the next line that starts a record.
    private func resync() throws {
        while true {
            let save = position
            guard let l = try readLine() else { return }
            if l.starts(with: Array("WARC/".utf8)) {
                position = save
                return
            }
        }
    }
}

extension String {
    /// The string without leading and trailing whitespace (spaces, tabs, newlines).
    func trimmingWhitespace() -> String {
        let u = utf8
        // ASCII fast path: nothing to trim, or only ASCII whitespace at the ends.
        if let f = u.first, let l = u.last, f > 0x20 && f < 0x80 && l > 0x20 && l < 0x80 { return self }
        let scalars = unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, scalars[start].properties.isWhitespace { start = scalars.index(after: start) }
        while end > start, scalars[scalars.index(before: end)].properties.isWhitespace {
            end = scalars.index(before: end)
        }
        return String(scalars[start..<end])
    }
}
