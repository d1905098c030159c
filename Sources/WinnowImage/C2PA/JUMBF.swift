/// A JUMBF superbox (ISO/IEC 19566-5): its description box (type UUID, label) and its child boxes, each either
/// a superbox or a content box (a 4CC type and its payload's place in the bytes parsed).
public struct JUMBFBox: Sendable, Equatable {
    /// The description box's 16-byte type (C2PA's are ASCII 4CC + 0011-0010-8000-00AA00389B71).
    public var type: [UInt8]
    /// The label (toggle bit 1), or nil.
    public var label: String?
    /// The children in order.
    public var children: [Child]

    /// A child box.
    public enum Child: Sendable, Equatable {
        case superbox(JUMBFBox)
        /// A content box: its 4CC and the range of its payload in the parsed bytes.
        case content(type: String, payload: Range<Int>)
    }

    /// The 4CC that starts the type UUID (`c2pa`, `c2ma`, `c2as`, `cbor`, `json`...).
    public var typeCode: String { String(decoding: type.prefix(4), as: UTF8.self) }

    /// The child superboxes.
    public var superboxes: [JUMBFBox] {
        children.compactMap {
            if case .superbox(let b) = $0 { return b }
            return nil
        }
    }

    /// Why bytes are not a JUMBF superbox.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let offset: Int
        public let message: String
        public var description: String { "JUMBF at byte \(offset): \(message)" }
    }

    /// Superboxes nested deeper than this are refused (a C2PA store nests four levels).
    public static let maxDepth = 16

    /// Parses the one `jumb` box that `bytes` hold (header included; trailing bytes are an error).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(ParseError) -> JUMBFBox {
        guard let (type, payload, end) = try box(bytes, at: 0, limit: bytes.count) else {
            throw ParseError(offset: 0, message: "too short for a box header")
        }
        guard type == "jumb" else {
            throw ParseError(offset: 0, message: "box type \(type.debugDescription), not jumb")
        }
        guard end == bytes.count else { throw ParseError(offset: end, message: "bytes after the superbox") }
        return try superbox(bytes, payload, depth: 0)
    }

    /// Parses the contents of a `jumb` box (its description box and children) that fill `bytes`, as a JPEG XL
    /// `jumb` box holds them.
    public static func parseContents(_ bytes: UnsafeBufferPointer<UInt8>) throws(ParseError) -> JUMBFBox {
        try superbox(bytes, 0..<bytes.count, depth: 0)
    }

    /// The box at `at`: type, payload range and end, or nil when fewer than 8 bytes remain. A box that overruns
    /// `limit` is an error. An LBox of 0 runs to `limit`; of 1, a 64-bit XLBox follows the type.
    static func box(
        _ b: UnsafeBufferPointer<UInt8>, at: Int, limit: Int
    ) throws(ParseError) -> (String, Range<Int>, Int)? {
        guard limit - at >= 8 else { return nil }
        var size = Int(be(b, at, 4))
        let type = String(decoding: b[(at + 4)..<(at + 8)], as: UTF8.self)
        var header = 8
        if size == 1 {
            guard limit - at >= 16 else { throw ParseError(offset: at, message: "ends inside an XLBox") }
            let large = be(b, at + 8, 8)
            guard large <= UInt64(limit - at) else {
                throw ParseError(
                    offset: at, message: "box \(type.debugDescription) of \(large) bytes runs past its parent")
            }
            size = Int(large)
            header = 16
        } else if size == 0 {
            size = limit - at
        }
        guard size >= header else {
            throw ParseError(offset: at, message: "box length \(size) is shorter than its header")
        }
        guard size <= limit - at else {
            throw ParseError(offset: at, message: "box \(type.debugDescription) of \(size) bytes runs past its parent")
        }
        return (type, (at + header)..<(at + size), at + size)
    }

    static func be(_ b: UnsafeBufferPointer<UInt8>, _ at: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<n { v = v << 8 | UInt64(b[at + k]) }
        return v
    }

    private static func superbox(
        _ b: UnsafeBufferPointer<UInt8>, _ contents: Range<Int>, depth: Int
    ) throws(ParseError) -> JUMBFBox {
        guard depth < maxDepth else {
            throw ParseError(offset: contents.lowerBound, message: "nested deeper than \(maxDepth)")
        }
        guard let (dtype, d, afterDescription) = try box(b, at: contents.lowerBound, limit: contents.upperBound),
            dtype == "jumd"
        else { throw ParseError(offset: contents.lowerBound, message: "superbox does not start with a jumd box") }
        guard d.count >= 17 else { throw ParseError(offset: d.lowerBound, message: "jumd box shorter than 17 bytes") }
        var result = JUMBFBox(type: Array(b[d.lowerBound..<(d.lowerBound + 16)]), label: nil, children: [])
        let toggles = b[d.lowerBound + 16]
        if toggles & 0x02 != 0 {
            var end = d.lowerBound + 17
            while end < d.upperBound && b[end] != 0 { end += 1 }
            guard end < d.upperBound else {
                throw ParseError(offset: d.lowerBound, message: "jumd label is not terminated")
            }
            result.label = String(decoding: b[(d.lowerBound + 17)..<end], as: UTF8.self)
        }
        var at = afterDescription
        while at < contents.upperBound {
            guard let (type, payload, end) = try box(b, at: at, limit: contents.upperBound) else {
                throw ParseError(
                    offset: at, message: "\(contents.upperBound - at) stray bytes at the end of a superbox")
            }
            if type == "jumb" {
                result.children.append(.superbox(try superbox(b, payload, depth: depth + 1)))
            } else {
                result.children.append(.content(type: type, payload: payload))
            }
            at = end
        }
        return result
    }
}

/// Reassembles a JUMBF box that a JPEG carries in APP11 segments (ISO/IEC 19566-5 annex: each segment is
/// `JP`, a 2-byte box instance number En, a 4-byte packet sequence number Z from 1, then the box; a continuation
/// segment repeats the box's LBox and TBox (and XLBox) before its part of the payload).
public struct JPEGJUMBFAssembler: Sendable {
    private var parts: [UInt16: [(seq: UInt32, bytes: [UInt8])]] = [:]

    /// Creates an empty assembler.
    public init() {}

    /// Adds one APP11 segment's payload (after the marker and length); segments that are not JUMBF are ignored.
    public mutating func add(_ segment: UnsafeBufferPointer<UInt8>) {
        guard segment.count >= 16, segment[0] == 0x4a, segment[1] == 0x50 else { return }
        let instance = UInt16(segment[2]) << 8 | UInt16(segment[3])
        let seq = UInt32(JUMBFBox.be(segment, 4, 4))
        parts[instance, default: []].append((seq, Array(segment[8...])))
    }

    /// Whether no JUMBF segment was added.
    public var isEmpty: Bool { parts.isEmpty }

    /// The reassembled boxes, by instance number: parts in sequence order, each continuation's repeated header
    /// dropped. An instance with a missing or repeated sequence number is left out.
    public func boxes() -> [[UInt8]] {
        var out: [[UInt8]] = []
        for instance in parts.keys.sorted() {
            let ps = parts[instance]!.sorted { $0.seq < $1.seq }
            guard ps.enumerated().allSatisfy({ UInt32($0.offset + 1) == $0.element.seq }) else { continue }
            var box = ps[0].bytes
            let header = box.count >= 16 && box[0] == 0 && box[1] == 0 && box[2] == 0 && box[3] == 1 ? 16 : 8
            for p in ps.dropFirst() where p.bytes.count >= header { box.append(contentsOf: p.bytes[header...]) }
            out.append(box)
        }
        return out
    }
}
