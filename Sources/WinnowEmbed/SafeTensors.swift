import Foundation
import WinnowCore

/// A `.safetensors` file: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
/// and byte range, then the raw little-endian data. The file is memory-mapped; tensors are converted to float32 when
/// read, and the pages of a tensor read are handed back to the kernel (`release`), so that loading a checkpoint never
/// holds the whole file and its floats at once.
public struct SafeTensors: @unchecked Sendable {
    // @unchecked: `map` is an immutable, private, read-only memory map, only ever read.

    /// One tensor's entry in the header.
    public struct Entry: Sendable {
        /// `F32`, `F16` or `BF16` (others are listed but cannot be read as floats).
        public var dtype: String
        /// Dimensions, outermost first.
        public var shape: [Int]
        /// Byte range within the data section.
        public var range: Range<Int>
    }

    /// The file's path, for messages.
    public let path: String
    /// Every tensor by name.
    public let entries: [String: Entry]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    private let map: FileMap
    private let dataStart: Int

    /// A private read-only mapping of a whole file, unmapped when the last copy of its `SafeTensors` goes.
    final class FileMap: @unchecked Sendable {
        let base: UnsafeRawPointer
        let count: Int

        init(path: String) throws(WinnowError) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw WinnowError(.io, "\(path): cannot read: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                throw WinnowError(.io, "\(path): cannot read: \(String(cString: strerror(errno)))")
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw WinnowError(.io, "\(path): not a regular file") }
            count = Int(st.st_size)
            guard count >= 8 else { throw WinnowError(.format, "\(path): not a safetensors file (\(count) bytes)") }
            guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
                throw WinnowError(.io, "\(path): cannot map: \(String(cString: strerror(errno)))")
            }
            base = UnsafeRawPointer(p)
        }

        /// Drops the whole pages inside `range` from memory; read again, they come back from the file.
        func release(_ range: Range<Int>) {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let start = (range.lowerBound + page - 1) / page * page
            let end = range.upperBound / page * page
            guard end > start else { return }
            _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
        }

        deinit { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// Maps and indexes `path`; a malformed header is an error naming the file and what is wrong.
    public init(path: String) throws(WinnowError) {
        self.path = path
        let map = try FileMap(path: path)
        let headerLength = Int(truncatingIfNeeded: UInt64(littleEndian: map.base.loadUnaligned(as: UInt64.self)))
        guard headerLength > 1, headerLength <= map.count - 8, headerLength < 100_000_000 else {
            throw WinnowError(.format, "\(path): safetensors header length \(headerLength) does not fit the file")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(bytes: map.base + 8, count: headerLength)) } catch {
            throw WinnowError(.format, "\(path): safetensors header is not JSON: \(error.localizedDescription)")
        }
        guard let header = json as? [String: Any] else {
            throw WinnowError(.format, "\(path): safetensors header is not a JSON object")
        }
        let dataLength = map.count - 8 - headerLength
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = v as? String }
                continue
            }
            guard let object = value as? [String: Any], let dtype = object["dtype"] as? String,
                let shape = object["shape"] as? [Int], let offsets = object["data_offsets"] as? [Int],
                offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataLength
            else { throw WinnowError(.format, "\(path): tensor \(name): malformed header entry") }
            let count = shape.reduce(1, *)
            if let size = Self.elementSize(dtype), count * size != offsets[1] - offsets[0] {
                throw WinnowError(
                    .format,
                    "\(path): tensor \(name): shape \(shape) of \(dtype) needs \(count * size) bytes, header gives "
                        + "\(offsets[1] - offsets[0])")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
        self.map = map
        self.dataStart = 8 + headerLength
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "F64", "I64", "U64": return 8
        case "I8", "U8", "BOOL": return 1
        default: return nil
        }
    }

    /// The tensor `name` as float32, checked against `shape` when one is given.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws(WinnowError) -> [Float] {
        guard let entry = entries[name] else { throw WinnowError(.format, "\(path): no tensor named \(name)") }
        if let expected, expected != entry.shape {
            throw WinnowError(
                .format, "\(path): tensor \(name) has shape \(entry.shape), the config implies \(expected)")
        }
        let count = entry.shape.reduce(1, *)
        let start = dataStart + entry.range.lowerBound
        guard ["F32", "F16", "BF16"].contains(entry.dtype) else {
            throw WinnowError(.format, "\(path): tensor \(name) is \(entry.dtype); Winnow reads F32, F16 and BF16")
        }
        defer { map.release(start..<(start + entry.range.count)) }
        do {
            let bytes = UnsafeRawBufferPointer(start: map.base + start, count: entry.range.count)
            func u16(_ i: Int) -> UInt16 {
                UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            }
            switch entry.dtype {
            case "F32":
                return (0..<count).map {
                    Float(
                        bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                }
            case "F16": return (0..<count).map { Float(Float16(bitPattern: u16($0))) }
            default: return (0..<count).map { Float(bitPattern: UInt32(u16($0)) << 16) }  // BF16
            }
        }
    }

    /// The bytes of a safetensors file holding `tensors` as F32, in the given order.
    public static func encode(_ tensors: [(name: String, shape: [Int], values: [Float])]) -> [UInt8] {
        var header: [String] = []
        var offset = 0
        for t in tensors {
            precondition(t.shape.reduce(1, *) == t.values.count, "shape does not match the values")
            let shape = t.shape.map(String.init).joined(separator: ",")
            header.append(
                "\(JSONText.quote(t.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + 4 * t.values.count)]}"
            )
            offset += 4 * t.values.count
        }
        var json = Array(("{" + header.joined(separator: ",") + "}").utf8)
        while json.count % 8 != 0 { json.append(0x20) }  // data aligned to 8 bytes, as the reference writer does
        var out: [UInt8] = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        out += json
        out.reserveCapacity(out.count + offset)
        for t in tensors { for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } } }
        return out
    }
}
