/// Variable-length byte strings in one buffer: value i is `data[starts[i]..<ends[i]]`. One allocation for a whole
/// column instead of one per value; a PLAIN page is decompressed straight into `data` and its values are read where
/// they lie (between their length prefixes), without another copy.
public struct ByteArrays: Sendable, Equatable {
    /// The bytes of the values (and whatever lies between them).
    public var data: [UInt8] = []
    /// Where each value starts in `data`.
    public var starts: [Int] = []
    /// Where each value ends in `data`.
    public var ends: [Int] = []

    /// An empty list.
    public init() {}

    /// The number of values.
    public var count: Int { starts.count }

    /// Value `i`'s bytes.
    public subscript(i: Int) -> ArraySlice<UInt8> { data[starts[i]..<ends[i]] }

    /// Value `i` as text (invalid UTF-8 is replaced by U+FFFD).
    public func string(_ i: Int) -> String {
        data.withUnsafeBufferPointer { b in
            String(decoding: UnsafeBufferPointer(rebasing: b[starts[i]..<ends[i]]), as: UTF8.self)
        }
    }

    /// Value `i` as text if it is valid UTF-8, else nil.
    public func validString(_ i: Int) -> String? {
        data.withUnsafeBufferPointer { b in
            String(validating: UnsafeBufferPointer(rebasing: b[starts[i]..<ends[i]]), as: UTF8.self)
        }
    }

    /// Adds a value.
    public mutating func append<C: Collection<UInt8>>(_ bytes: C) {
        starts.append(data.count)
        data.append(contentsOf: bytes)
        ends.append(data.count)
    }

    /// Adds a value from raw memory.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        starts.append(data.count)
        data.append(contentsOf: bytes)
        ends.append(data.count)
    }

    /// Adds the value at `range` of `data` (bytes already there).
    mutating func appendInPlace(_ start: Int, _ end: Int) {
        starts.append(start)
        ends.append(end)
    }

    /// Makes room for `values` more values of `bytes` in all, growing geometrically (a page at a time would
    /// otherwise copy the whole column again for every page).
    mutating func reserve(values: Int, bytes: Int) {
        if starts.capacity < starts.count + values {
            let n = max(starts.count + values, 2 * starts.capacity)
            starts.reserveCapacity(n)
            ends.reserveCapacity(n)
        }
        if data.capacity < data.count + bytes { data.reserveCapacity(max(data.count + bytes, 2 * data.capacity)) }
    }
}

/// Bounds-checked little-endian reads over a page's bytes; `what` names the part for messages.
struct PageBytes {
    let base: UnsafeRawBufferPointer
    var position: Int
    let end: Int

    init(_ base: UnsafeRawBufferPointer, from: Int = 0, to: Int? = nil) {
        self.base = base
        position = from
        end = to ?? base.count
    }

    var remaining: Int { end - position }

    mutating func take(_ n: Int, _ what: String) throws(ParquetError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else {
            throw ParquetError(.corrupt, "\(what): needs \(n) bytes, \(remaining) left in the page")
        }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: base[position..<position + n])
    }

    /// Reads `count` PLAIN strings (a 4-byte length, then the bytes) into `bytes` as offsets into this page, which
    /// `bytes` holds as its data; `what` names them in errors.
    mutating func plainStrings(_ count: Int, into bytes: inout ByteArrays, _ what: String) throws(ParquetError) {
        guard count >= 0, count <= remaining / 4 else {
            throw ParquetError(.corrupt, "\(count) \(what) in \(remaining) bytes")
        }
        bytes.reserve(values: count, bytes: 0)
        for _ in 0..<count {
            let n = Int(try u32("PLAIN string length"))
            let start = position
            _ = try take(n, "PLAIN string")
            bytes.appendInPlace(start, start + n)
        }
    }

    mutating func byte(_ what: String) throws(ParquetError) -> UInt8 {
        guard position < end else { throw ParquetError(.corrupt, "\(what): the page ends early") }
        defer { position += 1 }
        return base[position]
    }

    mutating func u32(_ what: String) throws(ParquetError) -> UInt32 {
        let b = try take(4, what)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    mutating func varint(_ what: String) throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte(what)
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw ParquetError(.corrupt, "\(what): a varint longer than 10 bytes") }
        }
    }

    mutating func zigzag(_ what: String) throws(ParquetError) -> Int64 {
        let v = try varint(what)
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }
}

/// The RLE / bit-packing hybrid (definition levels, dictionary indices, RLE booleans).
struct HybridDecoder {
    var bytes: PageBytes
    let bitWidth: Int

    init(_ bytes: PageBytes, bitWidth: Int) throws(ParquetError) {
        guard bitWidth >= 0 && bitWidth <= 32 else {
            throw ParquetError(.corrupt, "an RLE bit width of \(bitWidth)")
        }
        self.bytes = bytes
        self.bitWidth = bitWidth
    }

    /// Decodes `count` values, calling `emit(value, repeat)` for runs (bit-packed values come with repeat 1).
    mutating func decode(
        _ count: Int, _ what: String, _ emit: (UInt32, Int) throws(ParquetError) -> Void
    ) throws(ParquetError) {
        var left = count
        while left > 0 {
            let header = try bytes.varint(what)
            if header & 1 == 0 {
                let run = header >> 1
                guard run > 0 else { throw ParquetError(.corrupt, "\(what): an RLE run of length 0") }
                let width = (bitWidth + 7) / 8
                let raw = try bytes.take(width, what)
                var value: UInt32 = 0
                for k in 0..<width { value |= UInt32(raw[k]) << (8 * UInt32(k)) }
                if bitWidth < 32 && value >> UInt32(bitWidth) != 0 {
                    throw ParquetError(.corrupt, "\(what): an RLE value wider than \(bitWidth) bits")
                }
                let n = Int(min(run, UInt64(left)))
                try emit(value, n)
                left -= n
            } else {
                let groups = header >> 1
                guard groups <= UInt64(bytes.remaining + 1) else {
                    throw ParquetError(.corrupt, "\(what): \(groups) bit-packed groups in \(bytes.remaining) bytes")
                }
                let values = Int(groups) * 8
                // The last group may be cut short at the page's end when it holds only padding.
                let byteCount = min(Int(groups) * bitWidth, bytes.remaining)
                let packed = try bytes.take(byteCount, what)
                let n = min(values, left)
                guard n * bitWidth <= byteCount * 8 else {
                    throw ParquetError(.corrupt, "\(what): bit-packed values past the page's end")
                }
                if bitWidth == 0 {
                    try emit(0, n)
                } else {
                    let mask: UInt64 = bitWidth == 32 ? 0xffff_ffff : (1 << UInt64(bitWidth)) - 1
                    var bit = 0
                    for _ in 0..<n {
                        let byte = bit >> 3
                        var word: UInt64 = 0
                        for k in 0..<min(8, byteCount - byte) { word |= UInt64(packed[byte + k]) << (8 * UInt64(k)) }
                        try emit(UInt32((word >> UInt64(bit & 7)) & mask), 1)
                        bit += bitWidth
                    }
                }
                left -= n
            }
        }
    }
}

/// DELTA_BINARY_PACKED integers (also the lengths inside the DELTA_*_BYTE_ARRAY encodings).
enum DeltaBinaryPacked {
    /// Decodes every value of one encoded run, leaving `bytes` after it.
    static func decode(_ bytes: inout PageBytes, _ what: String, limit: Int) throws(ParquetError) -> [Int64] {
        let blockSize = try bytes.varint(what)
        let miniblocks = try bytes.varint(what)
        let total = try bytes.varint(what)
        var value = try bytes.zigzag(what)
        guard blockSize > 0, blockSize % 128 == 0, blockSize <= 1 << 16, miniblocks > 0, miniblocks <= blockSize,
            blockSize % miniblocks == 0, (blockSize / miniblocks) % 32 == 0
        else {
            throw ParquetError(.corrupt, "\(what): a DELTA_BINARY_PACKED block of \(blockSize) in \(miniblocks)")
        }
        guard total <= UInt64(limit) else {
            throw ParquetError(.corrupt, "\(what): \(total) delta-encoded values where at most \(limit) fit")
        }
        let perMiniblock = Int(blockSize / miniblocks)
        var out: [Int64] = []
        out.reserveCapacity(Int(total))
        if total == 0 { return out }
        out.append(value)
        while out.count < Int(total) {
            let minDelta = try bytes.zigzag(what)
            let widths = try bytes.take(Int(miniblocks), what)
            for m in 0..<Int(miniblocks) {
                if out.count >= Int(total) { break }
                let width = Int(widths[m])
                guard width <= 64 else { throw ParquetError(.corrupt, "\(what): a miniblock of width \(width)") }
                let packed = try bytes.take(perMiniblock * width / 8, what)
                let n = min(perMiniblock, Int(total) - out.count)
                var bit = 0
                for _ in 0..<n {
                    var delta: UInt64 = 0
                    if width > 0 {
                        // Up to 64 bits starting anywhere in a byte: read 9 bytes' worth.
                        var got = 0
                        var b = bit >> 3
                        var shift = bit & 7
                        while got < width {
                            let chunk = UInt64(packed[b]) >> UInt64(shift)
                            delta |= chunk << UInt64(got)
                            got += 8 - shift
                            shift = 0
                            b += 1
                        }
                        if width < 64 { delta &= (1 << UInt64(width)) - 1 }
                    }
                    value = value &+ minDelta &+ Int64(bitPattern: delta)
                    out.append(value)
                    bit += width
                }
            }
        }
        return out
    }
}
