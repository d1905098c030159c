/// A CBOR data item (RFC 8949), as C2PA stores its assertions and claims.
public indirect enum CBOR: Sendable, Equatable {
    case unsigned(UInt64)
    /// The negative integer -1 - n.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBOR])
    /// Pairs in the order written (keys may repeat in hostile input; `subscript` takes the first).
    case map([(key: CBOR, value: CBOR)])
    case tagged(UInt64, CBOR)
    case bool(Bool)
    case null
    case undefined
    case simple(UInt8)
    case float(Double)

    /// The value of the first member of a map whose key is the text `key`.
    public subscript(key: String) -> CBOR? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.key == .text(key) }?.value
    }

    /// The text of a text item, looking through tags.
    public var text: String? {
        switch self {
        case .text(let s): s
        case .tagged(_, let v): v.text
        default: nil
        }
    }

    public static func == (a: CBOR, b: CBOR) -> Bool {
        switch (a, b) {
        case (.unsigned(let x), .unsigned(let y)), (.negative(let x), .negative(let y)): x == y
        case (.bytes(let x), .bytes(let y)): x == y
        case (.text(let x), .text(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.map(let x), .map(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.tagged(let t, let x), .tagged(let u, let y)): t == u && x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.null, .null), (.undefined, .undefined): true
        case (.simple(let x), .simple(let y)): x == y
        case (.float(let x), .float(let y)): x == y || (x.isNaN && y.isNaN)
        default: false
        }
    }

    /// Why bytes are not one well-formed CBOR item.
    public struct DecodeError: Error, Equatable, CustomStringConvertible {
        public let offset: Int
        public let message: String
        public var description: String { "CBOR at byte \(offset): \(message)" }
    }

    /// Nesting deeper than this is refused (C2PA assertions nest a handful of levels).
    public static let maxDepth = 64
    /// Items (of any kind, nested ones included) one decode makes at most: each is a heap object of some 40 bytes,
    /// so a hostile array of a million one-byte integers would otherwise cost 40 times its size.
    public static let maxItems = 100_000

    /// Decodes the one item that `bytes` hold; bytes left over after it are an error. A declared length or count is
    /// checked against the bytes that remain, and at most `maxItems` items are made, so memory stays a small
    /// multiple of the input however it is built.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) throws(DecodeError) -> CBOR {
        var d = Decoder(b: bytes)
        let item = try d.item(depth: 0)
        guard d.i == bytes.count else { throw DecodeError(offset: d.i, message: "bytes after the item") }
        return item
    }

    /// Decodes the one item that `bytes` hold.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> CBOR {
        var result: Result<CBOR, DecodeError> = .failure(DecodeError(offset: 0, message: "empty"))
        bytes.withUnsafeBufferPointer { b in result = Result { () throws(DecodeError) in try decode(b) } }
        return try result.get()
    }

    private struct Decoder {
        let b: UnsafeBufferPointer<UInt8>
        var i = 0
        var made = 0

        func fail(_ message: String) -> DecodeError { DecodeError(offset: i, message: message) }

        mutating func byte() throws(DecodeError) -> UInt8 {
            guard i < b.count else { throw fail("ends inside an item") }
            defer { i += 1 }
            return b[i]
        }

        mutating func uint(_ n: Int) throws(DecodeError) -> UInt64 {
            guard b.count - i >= n else { throw fail("ends inside an item") }
            var v: UInt64 = 0
            for k in 0..<n { v = v << 8 | UInt64(b[i + k]) }
            i += n
            return v
        }

        /// The argument of an initial byte with additional information `info`; nil for indefinite length (31).
        mutating func argument(_ info: UInt8) throws(DecodeError) -> UInt64? {
            switch info {
            case 0..<24: return UInt64(info)
            case 24: return try uint(1)
            case 25: return try uint(2)
            case 26: return try uint(4)
            case 27: return try uint(8)
            case 31: return nil
            default: throw fail("reserved additional information \(info)")
            }
        }

        /// A length that the remaining bytes can hold, each element taking at least `unit` bytes.
        func length(_ n: UInt64, unit: Int) throws(DecodeError) -> Int {
            guard n <= UInt64(b.count - i) / UInt64(unit) else { throw fail("length \(n) runs past the end") }
            return Int(n)
        }

        mutating func item(depth: Int) throws(DecodeError) -> CBOR {
            guard depth < CBOR.maxDepth else { throw fail("nested deeper than \(CBOR.maxDepth)") }
            made += 1
            guard made <= CBOR.maxItems else { throw fail("more than \(CBOR.maxItems) items") }
            let start = i
            let initial = try byte()
            let major = initial >> 5
            let info = initial & 0x1f
            if major == 7 {
                switch info {
                case 20: return .bool(false)
                case 21: return .bool(true)
                case 22: return .null
                case 23: return .undefined
                case 24:
                    let v = try byte()
                    guard v >= 32 else { throw fail("simple value \(v) in two bytes") }
                    return .simple(v)
                case 25: return .float(Double(Float16(bitPattern: UInt16(try uint(2)))))
                case 26: return .float(Double(Float(bitPattern: UInt32(try uint(4)))))
                case 27: return .float(Double(bitPattern: try uint(8)))
                case 31: throw DecodeError(offset: start, message: "break outside an indefinite-length item")
                case 28, 29, 30: throw fail("reserved additional information \(info)")
                default: return .simple(info)
                }
            }
            let arg = try argument(info)
            switch major {
            case 0:
                guard let n = arg else { throw fail("indefinite-length integer") }
                return .unsigned(n)
            case 1:
                guard let n = arg else { throw fail("indefinite-length integer") }
                return .negative(n)
            case 2, 3:
                var out: [UInt8] = []
                if let n = arg {
                    let count = try length(n, unit: 1)
                    out.append(contentsOf: b[i..<(i + count)])
                    i += count
                } else {
                    // Indefinite length: definite-length chunks of the same major type, then a break.
                    while true {
                        guard i < b.count else { throw fail("ends inside an indefinite-length string") }
                        if b[i] == 0xff {
                            i += 1
                            break
                        }
                        let chunk = try byte()
                        guard chunk >> 5 == major, let n = try argument(chunk & 0x1f) else {
                            throw fail("a chunk of an indefinite-length string is not a definite string of its type")
                        }
                        let count = try length(n, unit: 1)
                        out.append(contentsOf: b[i..<(i + count)])
                        i += count
                    }
                }
                if major == 2 { return .bytes(out) }
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw DecodeError(offset: start, message: "text string is not UTF-8")
                }
                return .text(s)
            case 4:
                var items: [CBOR] = []
                if let n = arg {
                    let count = try length(n, unit: 1)
                    items.reserveCapacity(min(count, 64))
                    for _ in 0..<count { items.append(try item(depth: depth + 1)) }
                } else {
                    while try !atBreak() { items.append(try item(depth: depth + 1)) }
                }
                return .array(items)
            case 5:
                var pairs: [(key: CBOR, value: CBOR)] = []
                if let n = arg {
                    let count = try length(n, unit: 2)
                    pairs.reserveCapacity(min(count, 64))
                    for _ in 0..<count {
                        let k = try item(depth: depth + 1)
                        pairs.append((k, try item(depth: depth + 1)))
                    }
                } else {
                    while try !atBreak() {
                        let k = try item(depth: depth + 1)
                        pairs.append((k, try item(depth: depth + 1)))
                    }
                }
                return .map(pairs)
            default:  // 6: a tag
                guard let tag = arg else { throw fail("indefinite-length tag") }
                return .tagged(tag, try item(depth: depth + 1))
            }
        }

        /// Consumes a break (0xff) if one is next.
        mutating func atBreak() throws(DecodeError) -> Bool {
            guard i < b.count else { throw fail("ends inside an indefinite-length item") }
            if b[i] == 0xff {
                i += 1
                return true
            }
            return false
        }
    }
}
