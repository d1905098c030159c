/// The Thrift compact protocol, as Parquet uses it for its footer and page headers: enough to read the structs
/// Parquet defines (skipping fields it does not know) and to write them. Every length read is checked against the
/// bytes that are left, so a lying length costs an error, not an allocation.
struct CompactReader {
    /// Compact protocol type ids (the low nibble of a field header).
    enum Kind: UInt8 {
        case stop = 0, boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7, binary = 8
        case list = 9, set = 10, map = 11, structure = 12
    }

    let bytes: [UInt8]
    private(set) var position: Int
    private var depth = 0
    /// What the bytes are, for messages (`footer`, `page header`).
    let what: String

    init(_ bytes: [UInt8], at position: Int = 0, what: String) {
        self.bytes = bytes
        self.position = position
        self.what = what
    }

    func error(_ message: String) -> ParquetError { ParquetError(.corrupt, "\(what): \(message)") }

    mutating func byte() throws(ParquetError) -> UInt8 {
        guard position < bytes.count else { throw error("ends early (at byte \(position))") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw error("varint longer than 10 bytes") }
        }
    }

    mutating func i64() throws(ParquetError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func i32() throws(ParquetError) -> Int32 {
        let v = try i64()
        guard let r = Int32(exactly: v) else { throw error("i32 out of range (\(v))") }
        return r
    }

    mutating func double() throws(ParquetError) -> Double {
        guard bytes.count - position >= 8 else { throw error("ends inside a double") }
        var bits: UInt64 = 0
        for k in 0..<8 { bits |= UInt64(bytes[position + k]) << (8 * UInt64(k)) }
        position += 8
        return Double(bitPattern: bits)
    }

    mutating func binary() throws(ParquetError) -> ArraySlice<UInt8> {
        let n = try varint()
        guard n <= UInt64(bytes.count - position) else {
            throw error("a binary field of \(n) bytes, with \(bytes.count - position) left")
        }
        defer { position += Int(n) }
        return bytes[position..<position + Int(n)]
    }

    mutating func string() throws(ParquetError) -> String {
        let b = try binary()
        return String(decoding: b, as: UTF8.self)
    }

    /// A list or set header: element count and type. The count is checked against the bytes left (every element
    /// takes at least one byte).
    mutating func listHeader() throws(ParquetError) -> (count: Int, kind: UInt8) {
        let h = try byte()
        var count = UInt64(h >> 4)
        if count == 15 { count = try varint() }
        guard count <= UInt64(bytes.count - position) else {
            throw error("a list of \(count) elements, with \(bytes.count - position) bytes left")
        }
        return (Int(count), h & 0x0f)
    }

    /// Reads the fields of a struct up to its STOP, calling `field` with each id and type; `field` reads the value
    /// or returns false to have it skipped.
    mutating func readStruct(
        _ field: (inout CompactReader, Int16, UInt8) throws(ParquetError) -> Bool
    ) throws(ParquetError) {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 32 else { throw error("structs nested more than 32 deep") }
        var last: Int16 = 0
        while true {
            let h = try byte()
            let kind = h & 0x0f
            if kind == 0 { return }
            let delta = h >> 4
            let id: Int16
            if delta == 0 {
                let v = try i64()
                guard let i = Int16(exactly: v) else { throw error("field id out of range") }
                id = i
            } else {
                id = last &+ Int16(delta)
            }
            last = id
            if try !field(&self, id, kind) { try skip(kind) }
        }
    }

    /// Skips a value of type `kind`.
    mutating func skip(_ kind: UInt8) throws(ParquetError) {
        switch Kind(rawValue: kind) {
        case .boolTrue, .boolFalse: return
        case .byte: _ = try byte()
        case .i16, .i32, .i64: _ = try varint()
        case .double: _ = try double()
        case .binary: _ = try binary()
        case .list, .set:
            let (n, k) = try listHeader()
            depth += 1
            defer { depth -= 1 }
            guard depth <= 32 else { throw error("lists nested more than 32 deep") }
            for _ in 0..<n { try skipElement(k) }
        case .map:
            let n = try varint()
            guard n <= UInt64(bytes.count - position) else { throw error("a map of \(n) entries") }
            if n == 0 { return }
            let kinds = try byte()
            depth += 1
            defer { depth -= 1 }
            guard depth <= 32 else { throw error("maps nested more than 32 deep") }
            for _ in 0..<n {
                try skipElement(kinds >> 4)
                try skipElement(kinds & 0x0f)
            }
        case .structure: try readStruct { _, _, _ in false }
        case .stop, nil: throw error("unknown field type \(kind)")
        }
    }

    /// Skips a list element (booleans in lists take a byte each).
    private mutating func skipElement(_ kind: UInt8) throws(ParquetError) {
        if kind == Kind.boolTrue.rawValue || kind == Kind.boolFalse.rawValue {
            _ = try byte()
        } else {
            try skip(kind)
        }
    }

    /// Reads a list of `kind` elements with `element`.
    mutating func list<T>(
        of kind: Kind, _ element: (inout CompactReader) throws(ParquetError) -> T
    ) throws(ParquetError) -> [T] {
        let (n, k) = try listHeader()
        guard k == kind.rawValue || (n == 0) else { throw error("a list of type \(k), expected \(kind.rawValue)") }
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }

    /// The value of a field of type `kind`, after checking that the field has that type.
    mutating func expect(_ kind: Kind, _ actual: UInt8, _ name: String) throws(ParquetError) {
        let same =
            actual == kind.rawValue
            || (kind == .boolTrue && actual == Kind.boolFalse.rawValue)
        guard same else { throw error("field \(name) has type \(actual), expected \(kind.rawValue)") }
    }
}

/// Writes the Thrift compact protocol.
struct CompactWriter {
    private(set) var bytes: [UInt8] = []
    private var lastField: [Int16] = [0]

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func zigzag(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    private mutating func fieldHeader(_ id: Int16, _ kind: CompactReader.Kind) {
        let last = lastField[lastField.count - 1]
        let delta = id - last
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | kind.rawValue)
        } else {
            bytes.append(kind.rawValue)
            zigzag(Int64(id))
        }
        lastField[lastField.count - 1] = id
    }

    mutating func i32(_ id: Int16, _ v: Int32) {
        fieldHeader(id, .i32)
        zigzag(Int64(v))
    }

    mutating func i64(_ id: Int16, _ v: Int64) {
        fieldHeader(id, .i64)
        zigzag(v)
    }

    mutating func bool(_ id: Int16, _ v: Bool) { fieldHeader(id, v ? .boolTrue : .boolFalse) }

    mutating func binary(_ id: Int16, _ v: [UInt8]) {
        fieldHeader(id, .binary)
        varint(UInt64(v.count))
        bytes += v
    }

    mutating func string(_ id: Int16, _ v: String) { binary(id, Array(v.utf8)) }

    /// Starts a struct field; its fields follow, then `end()`.
    mutating func begin(_ id: Int16) {
        fieldHeader(id, .structure)
        lastField.append(0)
    }

    /// Ends a struct (the field begun with `begin`, a list element begun with `beginElement`, or the top level).
    mutating func end() {
        bytes.append(0)
        lastField.removeLast()
        if lastField.isEmpty { lastField = [0] }
    }

    /// Starts a list field of `count` elements of `kind`.
    mutating func list(_ id: Int16, _ kind: CompactReader.Kind, count: Int) {
        fieldHeader(id, .list)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | kind.rawValue)
        } else {
            bytes.append(0xf0 | kind.rawValue)
            varint(UInt64(count))
        }
    }

    /// Starts a struct element of a list; its fields follow, then `end()`.
    mutating func beginElement() { lastField.append(0) }

    /// Bytes encoded elsewhere (a list element written by another writer).
    mutating func raw(_ encoded: [UInt8]) { bytes += encoded }

    /// A string element of a list.
    mutating func stringElement(_ v: String) {
        varint(UInt64(v.utf8.count))
        bytes += Array(v.utf8)
    }

    /// An i32 element of a list.
    mutating func i32Element(_ v: Int32) { zigzag(Int64(v)) }
}
