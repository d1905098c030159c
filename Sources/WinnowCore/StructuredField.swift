import Foundation

/// RFC 9651 Structured Field Values for HTTP: the parser for Dictionary fields (`Content-Usage: train-ai=n,
/// search=y`), items with parameters and inner lists, and every bare item type (integer, decimal, string, token, byte
/// sequence, boolean, date, display string). Strict, as the RFC asks: any error fails the whole field (nil), which the
/// caller then ignores and records; nothing is guessed.
public enum StructuredField {
    /// A bare item.
    public enum BareItem: Sendable, Equatable {
        case integer(Int64)
        case decimal(Double)
        case string(String)
        case token(String)
        case bytes([UInt8])
        case boolean(Bool)
        case date(Int64)
        case displayString(String)
    }

    /// Parameters, in order (a repeated key keeps its first place and its last value).
    public typealias Parameters = [(key: String, value: BareItem)]

    /// An item with its parameters.
    public struct Item: Sendable, Equatable {
        public var value: BareItem
        public var parameters: Parameters

        public init(_ value: BareItem, parameters: Parameters = []) {
            self.value = value
            self.parameters = parameters
        }

        public static func == (a: Item, b: Item) -> Bool {
            a.value == b.value && a.parameters.elementsEqual(b.parameters) { $0.key == $1.key && $0.value == $1.value }
        }
    }

    /// A dictionary member: an item, or an inner list of items with the list's parameters.
    public enum Member: Sendable, Equatable {
        case item(Item)
        case innerList([Item], Parameters)

        public static func == (a: Member, b: Member) -> Bool {
            switch (a, b) {
            case (.item(let x), .item(let y)): return x == y
            case (.innerList(let x, let p), .innerList(let y, let q)):
                return x == y && p.elementsEqual(q) { $0.key == $1.key && $0.value == $1.value }
            default: return false
            }
        }
    }

    /// Parses a Dictionary field value (several field lines joined with ", " first, as HTTP combines them). Nil when
    /// it is not a valid Dictionary.
    public static func dictionary(_ text: String) -> [(key: String, member: Member)]? {
        var p = Parser(Array(text.utf8))
        p.skipSpaces()
        let d = p.dictionary()
        p.skipSpaces()
        guard let d, p.atEnd else { return nil }
        return d
    }

    /// Parses an Item field value. Nil when invalid.
    public static func item(_ text: String) -> Item? {
        var p = Parser(Array(text.utf8))
        p.skipSpaces()
        let i = p.item()
        p.skipSpaces()
        guard let i, p.atEnd else { return nil }
        return i
    }

    struct Parser {
        let b: [UInt8]
        var i = 0

        init(_ bytes: [UInt8]) { b = bytes }

        var atEnd: Bool { i >= b.count }
        var peek: UInt8? { i < b.count ? b[i] : nil }

        mutating func skipSpaces() { while let c = peek, c == 0x20 { i += 1 } }
        mutating func skipOWS() { while let c = peek, c == 0x20 || c == 0x09 { i += 1 } }

        static func isLCAlpha(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7a }
        static func isAlpha(_ c: UInt8) -> Bool { isLCAlpha(c) || (c >= 0x41 && c <= 0x5a) }
        static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        static func isTChar(_ c: UInt8) -> Bool {
            isAlpha(c) || isDigit(c) || Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }

        mutating func dictionary() -> [(key: String, member: Member)]? {
            var out: [(key: String, member: Member)] = []
            while !atEnd {
                guard let key = key() else { return nil }
                let member: Member
                if peek == 0x3d {
                    i += 1
                    guard let m = itemOrInnerList() else { return nil }
                    member = m
                } else {
                    guard let params = parameters() else { return nil }
                    member = .item(Item(.boolean(true), parameters: params))
                }
                if let k = out.firstIndex(where: { $0.key == key }) {
                    out[k].member = member
                } else {
                    out.append((key, member))
                }
                skipOWS()
                if atEnd { return out }
                guard peek == 0x2c else { return nil }
                i += 1
                skipOWS()
                if atEnd { return nil }  // a trailing comma
            }
            return out
        }

        mutating func itemOrInnerList() -> Member? {
            if peek == 0x28 {
                guard let (items, params) = innerList() else { return nil }
                return .innerList(items, params)
            }
            return item().map { .item($0) }
        }

        mutating func innerList() -> ([Item], Parameters)? {
            guard peek == 0x28 else { return nil }
            i += 1
            var items: [Item] = []
            while !atEnd {
                skipSpaces()
                if peek == 0x29 {
                    i += 1
                    guard let params = parameters() else { return nil }
                    return (items, params)
                }
                guard let it = item() else { return nil }
                items.append(it)
                guard let c = peek, c == 0x20 || c == 0x29 else { return nil }
            }
            return nil
        }

        mutating func item() -> Item? {
            guard let v = bareItem(), let params = parameters() else { return nil }
            return Item(v, parameters: params)
        }

        mutating func parameters() -> Parameters? {
            var out: Parameters = []
            while peek == 0x3b {
                i += 1
                skipSpaces()
                guard let key = key() else { return nil }
                var value = BareItem.boolean(true)
                if peek == 0x3d {
                    i += 1
                    guard let v = bareItem() else { return nil }
                    value = v
                }
                if let k = out.firstIndex(where: { $0.key == key }) {
                    out[k].value = value
                } else {
                    out.append((key, value))
                }
            }
            return out
        }

        mutating func key() -> String? {
            guard let c = peek, Parser.isLCAlpha(c) || c == 0x2a else { return nil }
            let start = i
            while let c = peek,
                Parser.isLCAlpha(c) || Parser.isDigit(c) || c == 0x5f || c == 0x2d || c == 0x2e || c == 0x2a
            {
                i += 1
            }
            return String(decoding: b[start..<i], as: UTF8.self)
        }

        mutating func bareItem() -> BareItem? {
            guard let c = peek else { return nil }
            switch c {
            case 0x2d, 0x30...0x39: return number()
            case 0x22: return string().map { .string($0) }
            case 0x2a, 0x41...0x5a, 0x61...0x7a: return token()
            case 0x3a: return byteSequence()
            case 0x3f:
                i += 1
                guard let v = peek, v == 0x30 || v == 0x31 else { return nil }
                i += 1
                return .boolean(v == 0x31)
            case 0x40:
                i += 1
                guard case .integer(let n)? = number() else { return nil }
                return .date(n)
            case 0x25: return displayString()
            default: return nil
            }
        }

        mutating func number() -> BareItem? {
            var sign: Int64 = 1
            if peek == 0x2d {
                sign = -1
                i += 1
            }
            guard let first = peek, Parser.isDigit(first) else { return nil }
            let start = i
            var dot: Int?
            while let c = peek {
                if Parser.isDigit(c) {
                    i += 1
                } else if c == 0x2e && dot == nil {
                    if i - start > 12 { return nil }
                    dot = i
                    i += 1
                } else {
                    break
                }
                if dot == nil && i - start > 15 { return nil }
                if dot != nil && i - start > 16 { return nil }
            }
            let text = String(decoding: b[start..<i], as: UTF8.self)
            if let d = dot {
                let fraction = i - d - 1
                guard fraction >= 1, fraction <= 3, let v = Double(text) else { return nil }
                return .decimal(Double(sign) * v)
            }
            guard let v = Int64(text) else { return nil }
            return .integer(sign * v)
        }

        mutating func string() -> String? {
            guard peek == 0x22 else { return nil }
            i += 1
            var out: [UInt8] = []
            while let c = peek {
                i += 1
                if c == 0x5c {
                    guard let e = peek, e == 0x22 || e == 0x5c else { return nil }
                    out.append(e)
                    i += 1
                } else if c == 0x22 {
                    return String(decoding: out, as: UTF8.self)
                } else if c < 0x20 || c > 0x7e {
                    return nil
                } else {
                    out.append(c)
                }
            }
            return nil
        }

        mutating func token() -> BareItem? {
            let start = i
            i += 1
            while let c = peek, Parser.isTChar(c) || c == 0x3a || c == 0x2f { i += 1 }
            return .token(String(decoding: b[start..<i], as: UTF8.self))
        }

        mutating func byteSequence() -> BareItem? {
            i += 1
            let start = i
            while let c = peek, c != 0x3a {
                guard Parser.isAlpha(c) || Parser.isDigit(c) || c == 0x2b || c == 0x2f || c == 0x3d else { return nil }
                i += 1
            }
            guard peek == 0x3a else { return nil }
            var text = String(decoding: b[start..<i], as: UTF8.self)
            i += 1
            // RFC 9651 4.2.7: parsers should not fail on missing padding.
            while text.utf8.count % 4 != 0 { text += "=" }
            guard let data = Data(base64Encoded: text) else { return nil }
            return .bytes([UInt8](data))
        }

        mutating func displayString() -> BareItem? {
            i += 1
            guard peek == 0x22 else { return nil }
            i += 1
            var out: [UInt8] = []
            func hex(_ c: UInt8) -> UInt8? {
                switch c {
                case 0x30...0x39: return c - 0x30
                case 0x61...0x66: return c - 0x61 + 10
                default: return nil
                }
            }
            while let c = peek {
                i += 1
                if c < 0x20 || c > 0x7e { return nil }
                if c == 0x25 {
                    guard i + 1 < b.count, let hi = hex(b[i]), let lo = hex(b[i + 1]) else { return nil }
                    out.append(hi << 4 | lo)
                    i += 2
                } else if c == 0x22 {
                    return String(validating: out, as: UTF8.self).map { .displayString($0) }
                } else {
                    out.append(c)
                }
            }
            return nil
        }
    }
}
