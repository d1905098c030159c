import Foundation

/// A column's physical type.
public enum ParquetType: Int32, Sendable {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7

    /// The format's name (`BYTE_ARRAY`...).
    public var name: String {
        switch self {
        case .boolean: "BOOLEAN"
        case .int32: "INT32"
        case .int64: "INT64"
        case .int96: "INT96"
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .byteArray: "BYTE_ARRAY"
        case .fixedLenByteArray: "FIXED_LEN_BYTE_ARRAY"
        }
    }
}

/// A top-level field of a file's schema.
public struct ParquetColumn: Sendable, Equatable {
    /// The field's name.
    public var name: String
    /// Its physical type (nil for a nested field).
    public var type: ParquetType?
    /// A BYTE_ARRAY annotated as text (UTF8 / STRING / JSON / ENUM).
    public var isString: Bool
    /// Whether it may be null.
    public var isOptional: Bool
    /// Nil if Winnow can read it; else why not (a list, a struct, a map).
    public var unsupported: String?
    /// The index of its column chunk in each row group (leaf order).
    var leaf: Int
    var typeLength: Int

    /// A short description: `URL (BYTE_ARRAY string, optional)`.
    public var summary: String {
        guard let type else { return "\(name) (\(unsupported ?? "nested"))" }
        return "\(name) (\(type.name)\(isString ? " string" : "")\(isOptional ? ", optional" : ""))"
    }
}

/// One column of one row group: a value per row, nulls holding a zero or empty placeholder.
public struct ColumnValues: Sendable {
    /// The values, by physical type.
    public enum Values: Sendable {
        case boolean([Bool])
        case int32([Int32])
        case int64([Int64])
        case float([Float])
        case double([Double])
        /// BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY and INT96.
        case bytes(ByteArrays)
    }
    /// A value per row.
    public var values: Values
    /// Per row, whether it is null; nil when no row is.
    public var nulls: [Bool]?
    /// The number of rows.
    public var count: Int

    /// Whether row `i` is null.
    public func isNull(_ i: Int) -> Bool { nulls?[i] ?? false }
}

/// A Parquet file open for reading: its footer is read and checked on open; `read(rowGroup:columns:)` reads the
/// chunks of the columns asked for in one row group, so memory is bounded by a row group's chunks, whatever the
/// file's size.
public final class ParquetFile {
    /// The path given.
    public let path: String
    /// The top-level fields, in schema order.
    public let columns: [ParquetColumn]
    /// The rows of each row group.
    public let rowGroupRows: [Int]
    /// What wrote the file (`parquet-cpp-arrow version 16.1.0`), when it says.
    public let createdBy: String?
    private let meta: FileMeta
    /// Reads `count` bytes at an offset: from the local file, or (a remote file) by a range request.
    private let readAt: (Int64, Int) throws(ParquetError) -> [UInt8]
    private let size: Int64
    private let footerStart: Int64

    /// The most rows Winnow reads from one row group at once (far above what writers make: pyarrow's default is
    /// 1,048,576), so that a lying count cannot make it allocate without bound.
    public static let maxRowGroupRows = 1 << 26

    /// Opens `path` and reads its footer. Throws a `ParquetError` naming the file and what is wrong.
    public convenience init(path: String) throws(ParquetError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ParquetError(.io, "\(path): cannot open (\(String(cString: strerror(errno))))")
        }
        let file = Descriptor(fd)
        var st = stat()
        fstat(fd, &st)
        try self.init(name: path, size: Int64(st.st_size)) { (offset, count) throws(ParquetError) in
            try ParquetFile.pread(file.fd, at: offset, count: count)
        }
    }

    /// Opens the Parquet file named `name` (a path or URL, for messages) of `size` bytes, whose bytes `read` gives
    /// (`count` bytes at an offset; a remote file's by range requests), and reads its footer.
    public init(name: String, size: Int64, read: @escaping (Int64, Int) throws(ParquetError) -> [UInt8])
        throws(ParquetError)
    {
        self.path = name
        self.size = size
        readAt = read
        do throws(ParquetError) {
            guard size >= 12 else { throw ParquetError(.notParquet, "\(size) bytes: too short to be Parquet") }
            let head = try read(0, 4)
            let tail = try read(size - 8, 8)
            guard head == Array("PAR1".utf8) else {
                throw ParquetError(.notParquet, "does not start with the Parquet magic PAR1")
            }
            guard tail[4...] == Array("PAR1".utf8)[...] else {
                throw ParquetError(
                    .corrupt,
                    "does not end with the Parquet magic PAR1 (truncated, or still being written?)")
            }
            let length = Int64(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
            guard length > 0, length <= size - 12 else {
                throw ParquetError(.corrupt, "a footer of \(length) bytes in a file of \(size)")
            }
            footerStart = size - 8 - length
            var reader = CompactReader(try read(footerStart, Int(length)), what: "footer")
            meta = try FileMeta.read(&reader)
            (columns, rowGroupRows) = try ParquetFile.check(meta, footerStart: footerStart)
            createdBy = meta.createdBy
        } catch {
            throw error.prefixed(name)
        }
    }

    /// An open file descriptor, closed with its last user.
    private final class Descriptor {
        let fd: Int32
        init(_ fd: Int32) { self.fd = fd }
        deinit { close(fd) }
    }

    /// The number of rows.
    public var rowCount: Int { rowGroupRows.reduce(0, +) }

    /// The column named `name` (exactly), or nil.
    public func column(named name: String) -> ParquetColumn? { columns.first { $0.name == name } }

    /// The top-level fields and the number of rows of each row group, after checking that the footer holds together.
    private static func check(_ meta: FileMeta, footerStart: Int64) throws(ParquetError) -> ([ParquetColumn], [Int]) {
        guard let root = meta.schema.first else { throw ParquetError(.corrupt, "the footer has no schema") }
        var columns: [ParquetColumn] = []
        var next = 1
        var leaf = 0
        /// The number of leaves under the element at `next` (advancing past it and its children).
        func walk(depth: Int) throws(ParquetError) -> Int {
            guard depth < 64 else { throw ParquetError(.corrupt, "a schema nested more than 64 deep") }
            guard next < meta.schema.count else { throw ParquetError(.corrupt, "the schema ends inside a group") }
            let e = meta.schema[next]
            next += 1
            let children = Int(e.numChildren ?? 0)
            guard children >= 0, children <= meta.schema.count - next else {
                throw ParquetError(.corrupt, "a schema group of \(children) children")
            }
            if children == 0 && e.type == nil { throw ParquetError(.corrupt, "schema field \(e.name) has no type") }
            var leaves = children == 0 ? 1 : 0
            for _ in 0..<children { leaves += try walk(depth: depth + 1) }
            return leaves
        }
        let fields = Int(root.numChildren ?? 0)
        guard fields >= 0, fields < meta.schema.count else {
            throw ParquetError(.corrupt, "a schema root of \(fields) fields in \(meta.schema.count) elements")
        }
        for _ in 0..<fields {
            let at = next
            let leaves = try walk(depth: 1)
            let e = meta.schema[at]
            var column = ParquetColumn(
                name: e.name, type: nil, isString: false, isOptional: e.repetition == 1, unsupported: nil,
                leaf: leaf, typeLength: Int(e.typeLength ?? 0))
            if (e.numChildren ?? 0) > 0 {
                column.unsupported = e.convertedType == 3 || e.logicalType == 3 ? "a list" : "a nested group"
            } else if e.repetition == 2 {
                column.unsupported = "a repeated field"
            } else if let t = e.type.flatMap(ParquetType.init(rawValue:)) {
                column.type = t
                // UTF8 (converted type 0), ENUM (4), JSON (19); logical STRING (1), ENUM (4), JSON (12).
                column.isString =
                    t == .byteArray
                    && ([0, 4, 19].contains(e.convertedType ?? -1) || [1, 4, 12].contains(e.logicalType ?? -1))
                if t == .fixedLenByteArray && (column.typeLength <= 0 || column.typeLength > 1 << 20) {
                    throw ParquetError(.corrupt, "column \(e.name): a fixed length of \(column.typeLength)")
                }
            } else {
                throw ParquetError(.corrupt, "column \(e.name): unknown physical type \(e.type ?? -1)")
            }
            columns.append(column)
            leaf += leaves
        }
        guard next == meta.schema.count else { throw ParquetError(.corrupt, "schema elements outside the root") }
        var rows: [Int] = []
        for (g, group) in meta.rowGroups.enumerated() {
            guard group.columns.count == leaf else {
                throw ParquetError(
                    .corrupt, "row group \(g) has \(group.columns.count) column chunks, the schema \(leaf) columns")
            }
            guard group.numRows >= 0, group.numRows <= Int64(maxRowGroupRows) else {
                throw ParquetError(
                    .unsupported, "row group \(g) has \(group.numRows) rows (Winnow reads at most \(maxRowGroupRows))")
            }
            rows.append(Int(group.numRows))
        }
        return (columns, rows)
    }

    /// Reads `columns` of row group `group`: one `ColumnValues` each, in the order asked.
    public func read(rowGroup group: Int, columns wanted: [ParquetColumn]) throws(ParquetError) -> [ColumnValues] {
        var out: [ColumnValues] = []
        for c in wanted {
            do {
                out.append(try readChunk(group: group, column: c))
            } catch {
                throw error.prefixed("\(path): row group \(group), column \(c.name)")
            }
        }
        return out
    }

    private func readChunk(group: Int, column c: ParquetColumn) throws(ParquetError) -> ColumnValues {
        guard let type = c.type else { throw ParquetError(.unsupported, "\(c.unsupported ?? "nested"): not read") }
        let m = meta.rowGroups[group].columns[c.leaf]
        guard m.type == type.rawValue else {
            throw ParquetError(.corrupt, "the chunk's type \(m.type) is not the schema's \(type.rawValue)")
        }
        guard let codec = ParquetCodec(rawValue: m.codec) else {
            throw ParquetError(.unsupported, "codec \(Names.codec(m.codec)) (Winnow reads SNAPPY, ZSTD, GZIP, none)")
        }
        let rows = rowGroupRows[group]
        if rows == 0 {
            return ChunkDecoder(type: type, typeLength: c.typeLength, optional: c.isOptional, rows: 0).finish()
        }
        var start = m.dataPageOffset
        if let d = m.dictionaryPageOffset, d > 0, d < start { start = d }
        let length = m.totalCompressedSize
        guard start >= 4, length > 0, start <= footerStart, length <= footerStart - start else {
            throw ParquetError(.corrupt, "a chunk at \(start) of \(length) bytes, past the data (\(footerStart) bytes)")
        }
        let bytes = try readAt(start, Int(length))
        guard m.numValues == Int64(rows) else {
            throw ParquetError(.corrupt, "\(m.numValues) values in a chunk of \(rows) rows")
        }
        var decoder = ChunkDecoder(type: type, typeLength: c.typeLength, optional: c.isOptional, rows: rows)
        // Room for the values at once (bounded: the size is the file's word), instead of growing page by page.
        decoder.reserve(bytes: Int(min(max(0, m.totalUncompressedSize), 1 << 28)))
        var position = 0
        while decoder.rowsRead < rows {
            guard position < bytes.count else {
                throw ParquetError(.corrupt, "the chunk ends after \(decoder.rowsRead) of \(rows) values")
            }
            var r = CompactReader(bytes, at: position, what: "page header at byte \(start + Int64(position))")
            let header = try PageHeader.read(&r)
            position = r.position
            let size = Int(header.compressedSize)
            guard size >= 0, size <= bytes.count - position else {
                throw ParquetError(.corrupt, "a page of \(size) bytes, \(bytes.count - position) left in the chunk")
            }
            let payload = bytes[position..<position + size]
            position += size
            try decoder.page(header, payload, codec: codec)
        }
        return decoder.finish()
    }

    static func pread(_ fd: Int32, at offset: Int64, count: Int) throws(ParquetError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes {
                Glibc.pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw ParquetError(
                    n == 0 ? .corrupt : .io,
                    n == 0
                        ? "ends early (at byte \(offset + Int64(done)))"
                        : "read failed (\(String(cString: strerror(errno))))")
            }
            done += n
        }
        return out
    }
}

/// Decodes the pages of one column chunk into values, in order.
struct ChunkDecoder {
    let type: ParquetType
    let typeLength: Int
    let optional: Bool
    let rows: Int
    private(set) var rowsRead = 0
    /// The non-null values, dense.
    private var dense = Dense()
    private var dictionary: Dense?
    /// The dictionary's strings are in `dense.bytes.data` (its entries say where).
    private var dictionaryInPlace = false
    /// Per row, null or not (only if the column is optional).
    private var nulls: [Bool] = []
    private var anyNull = false

    init(type: ParquetType, typeLength: Int, optional: Bool, rows: Int) {
        self.type = type
        self.typeLength = type == .int96 ? 12 : typeLength
        self.optional = optional
        self.rows = rows
        if optional { nulls.reserveCapacity(rows) }
    }

    /// Reserves room for the values: `bytes` of variable-length values, a value per row.
    mutating func reserve(bytes: Int) {
        switch type {
        case .byteArray, .fixedLenByteArray, .int96: dense.bytes.reserve(values: rows, bytes: bytes)
        default: break
        }
    }

    /// Values of one physical type, dense.
    struct Dense {
        var bools: [Bool] = []
        var ints32: [Int32] = []
        var ints64: [Int64] = []
        var floats: [Float] = []
        var doubles: [Double] = []
        var bytes = ByteArrays()

        func count(_ type: ParquetType) -> Int {
            switch type {
            case .boolean: bools.count
            case .int32: ints32.count
            case .int64: ints64.count
            case .float: floats.count
            case .double: doubles.count
            case .byteArray, .fixedLenByteArray, .int96: bytes.count
            }
        }
    }

    mutating func page(_ h: PageHeader, _ payload: ArraySlice<UInt8>, codec: ParquetCodec) throws(ParquetError) {
        switch PageHeader.Kind(rawValue: h.type) {
        case .dictionary:
            guard dictionary == nil else { throw ParquetError(.corrupt, "a second dictionary page") }
            guard h.encoding == 0 || h.encoding == 2 else {
                throw ParquetError(.unsupported, "a dictionary page in \(Names.encoding(h.encoding))")
            }
            if type == .byteArray {
                // Strings: the dictionary goes into the column's buffer once, and each value found through it is
                // where its entry is (`dictionaryInPlace`), not a copy.
                let base = dense.bytes.data.count
                try codec.decompress(payload, size: Int(h.uncompressedSize), appendingTo: &dense.bytes.data)
                let count = Int(h.numValues)
                let data = dense.bytes.data
                var d = Dense()
                try withRaw(data) { (raw) throws(ParquetError) in
                    var p = PageBytes(raw, from: base, to: raw.count)
                    try p.plainStrings(count, into: &d.bytes, "dictionary strings")
                }
                dictionary = d
                dictionaryInPlace = true
                return
            }
            let bytes = try codec.decompress(payload, size: Int(h.uncompressedSize))
            var d = Dense()
            try withRaw(bytes) { (raw) throws(ParquetError) in
                var p = PageBytes(raw)
                try ChunkDecoder.plain(type, typeLength, &p, count: Int(h.numValues), into: &d)
            }
            dictionary = d
        case .data:
            let count = Int(h.numValues)
            guard count >= 0, count <= rows - rowsRead else {
                throw ParquetError(.corrupt, "a page of \(count) values, \(rows - rowsRead) rows left")
            }
            if type == .byteArray && h.encoding == 0 {
                // PLAIN strings: decompressed into the column's buffer and read where they lie.
                let base = dense.bytes.data.count
                try codec.decompress(payload, size: Int(h.uncompressedSize), appendingTo: &dense.bytes.data)
                try plainInPlace(from: base, levels: optional, count: count)
                rowsRead += count
                return
            }
            let bytes = try codec.decompress(payload, size: Int(h.uncompressedSize))
            try withRaw(bytes) { (raw) throws(ParquetError) in
                var p = PageBytes(raw)
                var present = count
                if optional {
                    guard h.definitionLevelEncoding == 3 else {
                        throw ParquetError(
                            .unsupported, "definition levels in \(Names.encoding(h.definitionLevelEncoding))")
                    }
                    let length = Int(try p.u32("definition levels"))
                    let levels = try p.take(length, "definition levels")
                    present = try readLevels(PageBytes(levels), count: count)
                }
                try values(h.encoding, &p, count: present)
            }
            rowsRead += count
        case .dataV2:
            let count = Int(h.numValues)
            guard count >= 0, count <= rows - rowsRead else {
                throw ParquetError(.corrupt, "a page of \(count) values, \(rows - rowsRead) rows left")
            }
            let repLength = Int(h.repetitionLevelsLength)
            let defLength = Int(h.definitionLevelsLength)
            guard repLength >= 0, defLength >= 0, repLength + defLength <= payload.count else {
                throw ParquetError(
                    .corrupt, "levels of \(repLength) + \(defLength) bytes in a page of \(payload.count)")
            }
            let levelsEnd = payload.startIndex + repLength + defLength
            var present = count
            if optional {
                try withRaw(payload) { (raw) throws(ParquetError) in
                    present = try readLevels(PageBytes(raw, from: repLength, to: repLength + defLength), count: count)
                }
            } else if defLength > 0 {
                throw ParquetError(.corrupt, "definition levels in a page of a required column")
            }
            let rest = payload[levelsEnd...]
            if type == .byteArray && h.encoding == 0 {
                let base = dense.bytes.data.count
                if h.isCompressed {
                    try codec.decompress(
                        rest, size: Int(h.uncompressedSize) - repLength - defLength, appendingTo: &dense.bytes.data)
                } else {
                    dense.bytes.data.append(contentsOf: rest)
                }
                try plainInPlace(from: base, levels: false, count: present)
                rowsRead += count
                return
            }
            let bytes =
                h.isCompressed
                ? try codec.decompress(rest, size: Int(h.uncompressedSize) - repLength - defLength)
                : Array(rest)
            try withRaw(bytes) { (raw) throws(ParquetError) in
                var p = PageBytes(raw)
                try values(h.encoding, &p, count: present)
            }
            rowsRead += count
        case .index:
            return
        case nil:
            throw ParquetError(.corrupt, "a page of unknown type \(h.type)")
        }
    }

    /// Reads the PLAIN strings of a page decompressed onto `dense.bytes.data` at `base` (after its definition
    /// levels, for a v1 page of an optional column), recording where each lies.
    private mutating func plainInPlace(from base: Int, levels: Bool, count: Int) throws(ParquetError) {
        let data = dense.bytes.data
        try withRaw(data) { (raw) throws(ParquetError) in
            var p = PageBytes(raw, from: base, to: raw.count)
            var present = count
            if levels {
                let length = Int(try p.u32("definition levels"))
                let levelBytes = try p.take(length, "definition levels")
                present = try readLevels(PageBytes(levelBytes), count: count)
            }
            try p.plainStrings(present, into: &dense.bytes, "strings")
        }
    }

    /// Reads `count` definition levels (0 or 1), noting the nulls; returns how many values are present.
    private mutating func readLevels(_ bytes: PageBytes, count: Int) throws(ParquetError) -> Int {
        var d = try HybridDecoder(bytes, bitWidth: 1)
        var present = 0
        try d.decode(count, "definition levels") { (level, n) throws(ParquetError) in
            guard level <= 1 else { throw ParquetError(.corrupt, "definition level \(level) in a flat column") }
            if level == 0 { anyNull = true }
            nulls.append(contentsOf: repeatElement(level == 0, count: n))
            present += level == 1 ? n : 0
        }
        return present
    }

    /// Decodes `count` non-null values in `encoding`.
    private mutating func values(_ encoding: Int32, _ p: inout PageBytes, count: Int) throws(ParquetError) {
        switch encoding {
        case 0:
            try ChunkDecoder.plain(type, typeLength, &p, count: count, into: &dense)
        case 2, 8:
            guard let dictionary else { throw ParquetError(.corrupt, "a dictionary-encoded page without a dictionary") }
            let width = Int(try p.byte("dictionary index width"))
            var d = try HybridDecoder(p, bitWidth: width)
            let size = dictionary.count(type)
            try gather(from: dictionary, count: count) { (emit) throws(ParquetError) in
                try d.decode(count, "dictionary indices") { (index, n) throws(ParquetError) in
                    guard Int(index) < size else {
                        throw ParquetError(.corrupt, "dictionary index \(index) of a dictionary of \(size)")
                    }
                    for _ in 0..<n { emit(Int(index)) }
                }
            }
        case 9 where type != .boolean && type != .byteArray && type != .int96:
            // BYTE_STREAM_SPLIT: byte k of every value, then byte k + 1 of every value...
            let width = type == .int32 || type == .float ? 4 : type == .fixedLenByteArray ? typeLength : 8
            guard count <= p.remaining / width else {
                throw ParquetError(.corrupt, "\(count) split values of \(width) bytes in \(p.remaining) bytes")
            }
            let raw = try p.take(count * width, "BYTE_STREAM_SPLIT values")
            var joined = [UInt8](repeating: 0, count: count * width)
            for i in 0..<count {
                for k in 0..<width { joined[i * width + k] = raw[k * count + i] }
            }
            try withRaw(joined) { (j) throws(ParquetError) in
                var q = PageBytes(j)
                try ChunkDecoder.plain(type, typeLength, &q, count: count, into: &dense)
            }
        case 3 where type == .boolean:
            let length = Int(try p.u32("RLE booleans"))
            var d = try HybridDecoder(PageBytes(try p.take(length, "RLE booleans")), bitWidth: 1)
            try d.decode(count, "RLE booleans") { (v, n) throws(ParquetError) in
                dense.bools.append(contentsOf: repeatElement(v != 0, count: n))
            }
        case 5 where type == .int32 || type == .int64:
            let v = try DeltaBinaryPacked.decode(&p, "DELTA_BINARY_PACKED", limit: count)
            guard v.count == count else { throw ParquetError(.corrupt, "\(v.count) delta values for \(count)") }
            if type == .int32 {
                dense.ints32 += v.map { Int32(truncatingIfNeeded: $0) }
            } else {
                dense.ints64 += v
            }
        case 6 where type == .byteArray:
            let lengths = try DeltaBinaryPacked.decode(&p, "DELTA_LENGTH_BYTE_ARRAY lengths", limit: count)
            guard lengths.count == count else {
                throw ParquetError(.corrupt, "\(lengths.count) lengths for \(count) values")
            }
            for n in lengths {
                guard n >= 0 else { throw ParquetError(.corrupt, "a negative length") }
                dense.bytes.append(try p.take(Int(n), "DELTA_LENGTH_BYTE_ARRAY data"))
            }
        case 7 where type == .byteArray || type == .fixedLenByteArray:
            let prefixes = try DeltaBinaryPacked.decode(&p, "DELTA_BYTE_ARRAY prefixes", limit: count)
            let lengths = try DeltaBinaryPacked.decode(&p, "DELTA_BYTE_ARRAY suffix lengths", limit: count)
            guard prefixes.count == count, lengths.count == count else {
                throw ParquetError(.corrupt, "\(prefixes.count) prefixes and \(lengths.count) suffixes for \(count)")
            }
            var previous: [UInt8] = []
            for i in 0..<count {
                let prefix = prefixes[i]
                let n = lengths[i]
                guard prefix >= 0, prefix <= previous.count, n >= 0 else {
                    throw ParquetError(.corrupt, "a prefix of \(prefix) after a value of \(previous.count) bytes")
                }
                var value = Array(previous[..<Int(prefix)])
                value += try p.take(Int(n), "DELTA_BYTE_ARRAY suffixes")
                dense.bytes.append(value)
                previous = value
            }
        default:
            throw ParquetError(.unsupported, "values in \(Names.encoding(encoding)) for \(type.name)")
        }
    }

    /// Appends dictionary entries chosen by `indices` (which calls its argument once per value).
    private mutating func gather(
        from d: Dense, count: Int, _ indices: ((Int) -> Void) throws(ParquetError) -> Void
    ) throws(ParquetError) {
        switch type {
        case .boolean: try indices { dense.bools.append(d.bools[$0]) }
        case .int32: try indices { dense.ints32.append(d.ints32[$0]) }
        case .int64: try indices { dense.ints64.append(d.ints64[$0]) }
        case .float: try indices { dense.floats.append(d.floats[$0]) }
        case .double: try indices { dense.doubles.append(d.doubles[$0]) }
        case .byteArray where dictionaryInPlace:
            dense.bytes.reserve(values: count, bytes: 0)
            let (starts, ends) = (d.bytes.starts, d.bytes.ends)
            try indices { i in dense.bytes.appendInPlace(starts[i], ends[i]) }
        case .byteArray, .fixedLenByteArray, .int96:
            dense.bytes.reserve(values: count, bytes: 0)
            let (starts, ends) = (d.bytes.starts, d.bytes.ends)
            try withRaw(d.bytes.data) { (src) throws(ParquetError) in
                try indices { i in
                    dense.bytes.append(UnsafeRawBufferPointer(rebasing: src[starts[i]..<ends[i]]))
                }
            }
        }
    }

    /// PLAIN values.
    static func plain(
        _ type: ParquetType, _ typeLength: Int, _ p: inout PageBytes, count: Int, into d: inout Dense
    ) throws(ParquetError) {
        guard count >= 0 else { throw ParquetError(.corrupt, "a negative value count") }
        func fixed<T>(_ size: Int, _ array: inout [T], _ load: (UnsafeRawBufferPointer, Int) -> T) throws(ParquetError)
        {
            guard count <= p.remaining / size else {
                throw ParquetError(.corrupt, "\(count) values of \(size) bytes in \(p.remaining) bytes")
            }
            let raw = try p.take(count * size, "PLAIN values")
            array.reserveCapacity(array.count + count)
            for i in 0..<count { array.append(load(raw, i * size)) }
        }
        switch type {
        case .boolean:
            guard count <= p.remaining * 8 else {
                throw ParquetError(.corrupt, "\(count) booleans in \(p.remaining) bytes")
            }
            let raw = try p.take((count + 7) / 8, "PLAIN booleans")
            for i in 0..<count { d.bools.append(raw[i >> 3] >> UInt8(i & 7) & 1 != 0) }
        case .int32:
            try fixed(4, &d.ints32) { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int32.self)) }
        case .int64:
            try fixed(8, &d.ints64) { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int64.self)) }
        case .float:
            try fixed(4, &d.floats) {
                Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt32.self)))
            }
        case .double:
            try fixed(8, &d.doubles) {
                Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt64.self)))
            }
        case .byteArray:
            // Each value takes at least its 4-byte length.
            guard count <= p.remaining / 4 else {
                throw ParquetError(.corrupt, "\(count) strings in \(p.remaining) bytes")
            }
            d.bytes.reserve(values: count, bytes: p.remaining - 4 * count)
            for _ in 0..<count {
                let n = Int(try p.u32("PLAIN string length"))
                d.bytes.append(try p.take(n, "PLAIN string"))
            }
        case .fixedLenByteArray, .int96:
            guard count <= p.remaining / typeLength else {
                throw ParquetError(.corrupt, "\(count) values of \(typeLength) bytes in \(p.remaining) bytes")
            }
            for _ in 0..<count { d.bytes.append(try p.take(typeLength, "PLAIN fixed-length value")) }
        }
    }

    /// The values, one per row, nulls filled with placeholders.
    consuming func finish() -> ColumnValues {
        let count = rowsRead
        guard anyNull else { return ColumnValues(values: ChunkDecoder.values(type, dense), nulls: nil, count: count) }
        func spread<T>(_ src: [T], _ zero: T) -> [T] {
            var out: [T] = []
            out.reserveCapacity(count)
            var k = 0
            for isNull in nulls {
                if isNull {
                    out.append(zero)
                } else {
                    out.append(src[k])
                    k += 1
                }
            }
            return out
        }
        var d = Dense()
        switch type {
        case .boolean: d.bools = spread(dense.bools, false)
        case .int32: d.ints32 = spread(dense.ints32, 0)
        case .int64: d.ints64 = spread(dense.ints64, 0)
        case .float: d.floats = spread(dense.floats, 0)
        case .double: d.doubles = spread(dense.doubles, 0)
        case .byteArray, .fixedLenByteArray, .int96:
            // A null is an empty value.
            d.bytes.data = dense.bytes.data
            d.bytes.starts.reserveCapacity(count)
            d.bytes.ends.reserveCapacity(count)
            var k = 0
            for isNull in nulls {
                if isNull {
                    d.bytes.appendInPlace(0, 0)
                } else {
                    d.bytes.appendInPlace(dense.bytes.starts[k], dense.bytes.ends[k])
                    k += 1
                }
            }
        }
        return ColumnValues(values: ChunkDecoder.values(type, d), nulls: nulls, count: count)
    }

    private static func values(_ type: ParquetType, _ d: Dense) -> ColumnValues.Values {
        switch type {
        case .boolean: .boolean(d.bools)
        case .int32: .int32(d.ints32)
        case .int64: .int64(d.ints64)
        case .float: .float(d.floats)
        case .double: .double(d.doubles)
        case .byteArray, .fixedLenByteArray, .int96: .bytes(d.bytes)
        }
    }
}

/// `withUnsafeBytes` for a body that throws `ParquetError` (the standard one rethrows an untyped error).
func withRaw<C: ContiguousBytes, R>(
    _ bytes: C, _ body: (UnsafeRawBufferPointer) throws(ParquetError) -> R
) throws(ParquetError) -> R {
    let result: Result<R, ParquetError> = bytes.withUnsafeBytes { raw in
        Result { () throws(ParquetError) -> R in try body(raw) }
    }
    return try result.get()
}
