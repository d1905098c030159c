import Foundation

/// A column of a file to write.
public struct ParquetField: Sendable, Equatable {
    /// What its values are.
    public enum Kind: String, Sendable {
        /// UTF-8 text (BYTE_ARRAY with the STRING logical type).
        case string
        case int32, int64, float, double, boolean
    }
    /// The column's name.
    public var name: String
    /// Its type.
    public var kind: Kind
    /// Whether it may hold nulls.
    public var optional: Bool

    /// A column.
    public init(_ name: String, _ kind: Kind, optional: Bool = true) {
        self.name = name
        self.kind = kind
        self.optional = optional
    }
}

/// One value of a row to write.
public enum ParquetValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
}

/// Writes a Parquet file that pyarrow, DuckDB and Spark read: flat columns, PLAIN values, RLE definition levels, data
/// pages v1 of at most about 1 MiB, row groups of `rowGroupRows` rows. The file is written as `PATH.partial` and
/// renamed to `PATH` (after an fsync) by `finish()`, so a file under its final name is always whole.
public final class ParquetWriter {
    /// The final path.
    public let path: String
    /// The columns.
    public let fields: [ParquetField]
    private let codec: ParquetCodec
    private let rowGroupRows: Int
    private let createdBy: String
    private var fd: Int32
    private var offset: Int64 = 0
    private var columns: [ColumnBuffer]
    private var buffered = 0
    private var rowGroups: [[UInt8]] = []  // each a RowGroup struct, compact-encoded
    private var rows: Int64 = 0

    /// The largest page written (uncompressed), before the next page starts.
    static let pageBytes = 1 << 20

    /// Starts `PATH.partial`.
    public init(
        path: String, fields: [ParquetField], codec: ParquetCodec = .snappy, rowGroupRows: Int = 65_536,
        createdBy: String = "winnow"
    ) throws(ParquetError) {
        precondition(!fields.isEmpty, "a Parquet file needs a column")
        self.path = path
        self.fields = fields
        self.codec = codec
        self.rowGroupRows = max(1, rowGroupRows)
        self.createdBy = createdBy
        columns = fields.map { ColumnBuffer(field: $0) }
        fd = open(path + ".partial", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ParquetError(.io, "\(path).partial: cannot create (\(String(cString: strerror(errno))))")
        }
        try write(Array("PAR1".utf8))
    }

    deinit { if fd >= 0 { abandon() } }

    /// Adds a row: a value per field, in order (an `.int` is written to a double column as a double).
    public func append(_ row: [ParquetValue]) throws(ParquetError) {
        precondition(row.count == columns.count, "a row of \(row.count) values for \(columns.count) columns")
        for (i, v) in row.enumerated() {
            if !columns[i].add(v) {
                throw ParquetError(
                    .corrupt, "\(path): column \(fields[i].name) (\(fields[i].kind.rawValue)) cannot hold \(v)")
            }
        }
        buffered += 1
        if buffered >= rowGroupRows { try flushRowGroup() }
    }

    /// Writes the buffered rows and the footer, fsyncs, and renames the file into place (unless `renaming` is false:
    /// then the caller renames `PATH.partial`, as an opt-out removal does with the shards it rewrites).
    public func finish(renaming: Bool = true) throws(ParquetError) {
        if buffered > 0 { try flushRowGroup() }
        var w = CompactWriter()
        w.i32(1, 1)  // version
        w.list(2, .structure, count: fields.count + 1)
        w.beginElement()
        w.string(4, "schema")
        w.i32(5, Int32(fields.count))
        w.end()
        for f in fields {
            w.beginElement()
            w.i32(1, ColumnBuffer.physical(f.kind).rawValue)
            w.i32(3, f.optional ? 1 : 0)
            w.string(4, f.name)
            if f.kind == .string {
                w.i32(6, 0)  // converted type UTF8
                w.begin(10)  // logical type STRING
                w.begin(1)
                w.end()
                w.end()
            }
            w.end()
        }
        w.i64(3, rows)
        w.list(4, .structure, count: rowGroups.count)
        for g in rowGroups { w.raw(g) }
        w.string(6, createdBy)
        w.end()
        let footer = w.bytes
        try write(footer)
        let n = UInt32(footer.count)
        try write([UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)] + Array("PAR1".utf8))
        guard fsync(fd) == 0, close(fd) == 0 else {
            fd = -1
            throw ParquetError(.io, "\(path).partial: fsync failed (\(String(cString: strerror(errno))))")
        }
        fd = -1
        guard renaming else { return }
        guard rename(path + ".partial", path) == 0 else {
            throw ParquetError(.io, "\(path): rename failed (\(String(cString: strerror(errno))))")
        }
    }

    /// Stops without a file: the partial one is removed.
    public func abandon() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(path + ".partial")
    }

    private func write(_ bytes: [UInt8]) throws(ParquetError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw ParquetError(.io, "\(path).partial: write failed (\(String(cString: strerror(errno))))")
            }
            done += n
        }
        offset += Int64(bytes.count)
    }

    private func flushRowGroup() throws(ParquetError) {
        var group = CompactWriter()
        group.beginElement()
        group.list(1, .structure, count: columns.count)
        var total: Int64 = 0
        for (i, f) in fields.enumerated() {
            let start = offset
            var uncompressed: Int64 = 0
            for page in columns[i].pages(rows: buffered) {
                let body = page.levels + page.values
                let compressed = codec.compress(body)
                var h = CompactWriter()
                h.i32(1, 0)  // DATA_PAGE
                h.i32(2, Int32(body.count))
                h.i32(3, Int32(compressed.count))
                h.begin(5)
                h.i32(1, Int32(page.count))
                h.i32(2, 0)  // PLAIN
                h.i32(3, 3)  // RLE
                h.i32(4, 3)  // RLE
                h.end()
                h.end()
                try write(h.bytes)
                try write(compressed)
                uncompressed += Int64(h.bytes.count + body.count)
            }
            total += uncompressed
            group.beginElement()
            group.i64(2, start)  // file_offset
            group.begin(3)
            group.i32(1, ColumnBuffer.physical(f.kind).rawValue)
            group.list(2, .i32, count: 2)
            group.i32Element(0)
            group.i32Element(3)
            group.list(3, .binary, count: 1)
            group.stringElement(f.name)
            group.i32(4, codec.rawValue)
            group.i64(5, Int64(buffered))
            group.i64(6, uncompressed)
            group.i64(7, offset - start)
            group.i64(9, start)
            group.end()
            group.end()
            columns[i].clear()
        }
        group.i64(2, total)
        group.i64(3, Int64(buffered))
        group.end()
        rowGroups.append(group.bytes)
        rows += Int64(buffered)
        buffered = 0
    }
}

/// The buffered values of one column.
struct ColumnBuffer {
    let field: ParquetField
    var nulls: [Bool] = []
    var values: [UInt8] = []
    /// Where each row's value ends in `values` (a null's is the previous end).
    var ends: [Int] = []
    var bools: [Bool] = []

    init(field: ParquetField) { self.field = field }

    static func physical(_ kind: ParquetField.Kind) -> ParquetType {
        switch kind {
        case .string: .byteArray
        case .int32: .int32
        case .int64: .int64
        case .float: .float
        case .double: .double
        case .boolean: .boolean
        }
    }

    /// Adds a value; false if the column cannot hold it.
    mutating func add(_ v: ParquetValue) -> Bool {
        if case .null = v {
            guard field.optional else { return false }
            nulls.append(true)
            ends.append(values.count)
            if field.kind == .boolean { bools.append(false) }
            return true
        }
        nulls.append(false)
        switch (field.kind, v) {
        case (.string, .string(let s)):
            let n = UInt32(s.utf8.count)
            values += [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
            values += s.utf8
        case (.int64, .int(let i)): append(UInt64(bitPattern: i), 8)
        case (.int32, .int(let i)):
            guard let x = Int32(exactly: i) else { return false }
            append(UInt64(UInt32(bitPattern: x)), 4)
        case (.double, .double(let d)): append(d.bitPattern, 8)
        case (.double, .int(let i)): append(Double(i).bitPattern, 8)
        case (.float, .double(let d)): append(UInt64(Float(d).bitPattern), 4)
        case (.float, .int(let i)): append(UInt64(Float(i).bitPattern), 4)
        case (.boolean, .bool(let b)): bools.append(b)
        default:
            nulls.removeLast()
            return false
        }
        ends.append(values.count)
        return true
    }

    private mutating func append(_ bits: UInt64, _ size: Int) {
        for k in 0..<size { values.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k)))) }
    }

    mutating func clear() {
        nulls.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        bools.removeAll(keepingCapacity: true)
    }

    /// The data pages of `rows` buffered rows: definition levels (bit-packed, with their length) and PLAIN values,
    /// each page ending once its values pass `ParquetWriter.pageBytes`.
    func pages(rows: Int) -> [(count: Int, levels: [UInt8], values: [UInt8])] {
        var out: [(Int, [UInt8], [UInt8])] = []
        var first = 0
        while first < rows {
            var last = first
            let start = first == 0 ? 0 : ends[first - 1]
            if field.kind == .boolean {
                last = min(rows, first + 8 * ParquetWriter.pageBytes)
            } else {
                while last < rows && ends[last] - start < ParquetWriter.pageBytes { last += 1 }
                if last == first && last < rows { last += 1 }
            }
            var levels: [UInt8] = []
            if field.optional {
                let n = last - first
                var packed = CompactWriter()
                packed.varint(UInt64((n + 7) / 8) << 1 | 1)
                var bits = [UInt8](repeating: 0, count: (n + 7) / 8)
                for i in 0..<n where !nulls[first + i] { bits[i >> 3] |= 1 << UInt8(i & 7) }
                let body = packed.bytes + bits
                let length = UInt32(body.count)
                levels = [
                    UInt8(length & 0xff), UInt8(length >> 8 & 0xff), UInt8(length >> 16 & 0xff), UInt8(length >> 24),
                ]
                levels += body
            }
            var page: [UInt8]
            if field.kind == .boolean {
                let present = (first..<last).filter { !nulls[$0] }
                page = [UInt8](repeating: 0, count: (present.count + 7) / 8)
                for (k, i) in present.enumerated() where bools[i] { page[k >> 3] |= 1 << UInt8(k & 7) }
            } else {
                page = Array(values[start..<(last == 0 ? 0 : ends[last - 1])])
            }
            out.append((last - first, levels, page))
            first = last
        }
        return out
    }
}
