import Foundation

/// UTS #46 ToASCII as the WHATWG URL Standard's "domain to ASCII" calls it: CheckHyphens, UseSTD3ASCIIRules,
/// Transitional_Processing and VerifyDnsLength false; CheckBidi and CheckJoiners true. The tables are generated
/// (UTS46Data.swift, scripts/gen_uts46.py).
enum IDNA {
    /// Why a domain is not a valid IDNA domain.
    enum Failure: Error, Equatable {
        /// A code point that UTS #46 disallows, before or after mapping (noncharacters, U+FFFD...).
        case disallowed
        /// An `xn--` label that is not Punycode, or decodes to nothing new.
        case punycode
        /// A label that breaks a validity criterion: not NFC, a leading combining mark, a decoded label that is
        /// mapped or starts with `xn--`.
        case label
        /// ZWJ or ZWNJ where CheckJoiners does not allow them.
        case joiner
        /// An RTL domain whose labels break RFC 5893's bidi rules.
        case bidi
        /// Nothing left.
        case empty
    }

    /// `domain` (Unicode) to ASCII: mapped, normalised, validated, non-ASCII labels Punycode-encoded.
    static func toASCII(_ domain: String) throws(Failure) -> String {
        // 1. Map.
        var mapped: [Unicode.Scalar] = []
        mapped.reserveCapacity(domain.unicodeScalars.count)
        var ascii = true
        for s in domain.unicodeScalars {
            let k = mappingTable.index(s.value)
            switch mappingTable.codes[k] {
            case Code.valid: mapped.append(s)
            case Code.ignored: continue
            case Code.shift: mapped.append(Unicode.Scalar(UInt32(Int32(s.value) + mappingTable.values[k]))!)
            case Code.pairs:
                mapped.append((s.value - mappingTable.starts[k]) % 2 == 0 ? Unicode.Scalar(s.value + 1)! : s)
            case Code.mapped: mapped.append(contentsOf: mappingTable.mapping(k))
            default: throw .disallowed
            }
            if let last = mapped.last, !last.isASCII { ascii = false }
        }
        // 2. Normalise (NFC); ASCII already is.
        var text = String(String.UnicodeScalarView(mapped))
        if !ascii { text = text.precomposedStringWithCanonicalMapping }
        // 3. Break into labels; 4. convert and validate each.
        var labels: [[Unicode.Scalar]] = []
        var out: [String] = []
        for part in text.unicodeScalars.split(separator: ".", omittingEmptySubsequences: false) {
            var label = Array(part)
            if label.count >= 4 && label[0] == "x" && label[1] == "n" && label[2] == "-" && label[3] == "-" {
                guard label.allSatisfy(\.isASCII), let decoded = Punycode.decode(label.dropFirst(4)),
                    !decoded.isEmpty, !decoded.allSatisfy(\.isASCII)
                else { throw .punycode }
                label = decoded
                let nfc = String(String.UnicodeScalarView(label)).precomposedStringWithCanonicalMapping
                guard nfc.unicodeScalars.elementsEqual(label) else { throw .label }
                guard !(label.count >= 4 && label[0] == "x" && label[1] == "n" && label[2] == "-" && label[3] == "-")
                else { throw .label }
            }
            try validate(label)
            labels.append(label)
            // 5. Non-ASCII labels to Punycode.
            if label.allSatisfy(\.isASCII) {
                out.append(String(String.UnicodeScalarView(label)))
            } else {
                guard let p = Punycode.encode(label) else { throw .punycode }
                out.append("xn--" + p)
            }
        }
        try checkBidi(labels)
        let result = out.joined(separator: ".")
        if result.isEmpty { throw .empty }
        return result
    }

    /// The validity criteria that hold for every label: no leading combining mark, only valid code points
    /// (deviations are valid in nontransitional processing), CheckJoiners.
    private static func validate(_ label: [Unicode.Scalar]) throws(Failure) {
        guard let first = label.first else { return }
        switch first.properties.generalCategory {
        case .spacingMark, .nonspacingMark, .enclosingMark: throw .label
        default: break
        }
        for (k, s) in label.enumerated() {
            if s.isASCII { continue }
            guard mappingTable.codes[mappingTable.index(s.value)] == Code.valid else { throw .label }
            if s.value == 0x200C || s.value == 0x200D {
                guard joinerAllowed(label, at: k) else { throw .joiner }
            }
        }
    }

    /// RFC 5892's CONTEXTJ rules for the ZWNJ or ZWJ at `k`.
    private static func joinerAllowed(_ label: [Unicode.Scalar], at k: Int) -> Bool {
        if k > 0 && label[k - 1].properties.canonicalCombiningClass == .virama { return true }
        guard label[k].value == 0x200C else { return false }
        // ZWNJ: (L|D) T* ZWNJ T* (R|D).
        func joining(_ s: Unicode.Scalar) -> UInt8 { joiningTable.codes[joiningTable.index(s.value)] }
        var before = k - 1
        while before >= 0 && joining(label[before]) == Joining.transparent { before -= 1 }
        guard before >= 0, joining(label[before]) == Joining.left || joining(label[before]) == Joining.dual else {
            return false
        }
        var after = k + 1
        while after < label.count && joining(label[after]) == Joining.transparent { after += 1 }
        return after < label.count && (joining(label[after]) == Joining.right || joining(label[after]) == Joining.dual)
    }

    /// CheckBidi: when any label holds an R, AL or AN character, every label must meet RFC 5893's six rules.
    private static func checkBidi(_ labels: [[Unicode.Scalar]]) throws(Failure) {
        func bidi(_ s: Unicode.Scalar) -> UInt8 { bidiTable.codes[bidiTable.index(s.value)] }
        let rtl: Set<UInt8> = [Bidi.r, Bidi.al, Bidi.an]
        guard labels.contains(where: { $0.contains { !$0.isASCII && rtl.contains(bidi($0)) } }) else { return }
        for label in labels where !label.isEmpty {
            let classes = label.map(bidi)
            let last = classes.lastIndex { $0 != Bidi.nsm }.map { classes[$0] }
            switch classes[0] {
            case Bidi.r, Bidi.al:
                let allowed: Set<UInt8> = [
                    Bidi.r, Bidi.al, Bidi.an, Bidi.en, Bidi.es, Bidi.cs, Bidi.et, Bidi.on, Bidi.bn, Bidi.nsm,
                ]
                guard classes.allSatisfy(allowed.contains),
                    let last, [Bidi.r, Bidi.al, Bidi.en, Bidi.an].contains(last),
                    !(classes.contains(Bidi.en) && classes.contains(Bidi.an))
                else { throw .bidi }
            case Bidi.l:
                let allowed: Set<UInt8> = [Bidi.l, Bidi.en, Bidi.es, Bidi.cs, Bidi.et, Bidi.on, Bidi.bn, Bidi.nsm]
                guard classes.allSatisfy(allowed.contains), let last, last == Bidi.l || last == Bidi.en else {
                    throw .bidi
                }
            default:
                throw .bidi
            }
        }
    }

    // MARK: Tables

    /// Codes of the mapping table (see scripts/gen_uts46.py).
    enum Code {
        static let valid = UInt8(ascii: "V"), disallowed = UInt8(ascii: "X"), ignored = UInt8(ascii: "I")
        static let shift = UInt8(ascii: "S"), pairs = UInt8(ascii: "P"), mapped = UInt8(ascii: "M")
    }

    /// Bidi_Class codes.
    enum Bidi {
        static let l = UInt8(ascii: "L"), r = UInt8(ascii: "R"), al = UInt8(ascii: "A"), an = UInt8(ascii: "N")
        static let en = UInt8(ascii: "E"), es = UInt8(ascii: "S"), cs = UInt8(ascii: "C"), et = UInt8(ascii: "T")
        static let on = UInt8(ascii: "O"), bn = UInt8(ascii: "B"), nsm = UInt8(ascii: "M")
    }

    /// Joining_Type codes.
    enum Joining {
        static let left = UInt8(ascii: "L"), dual = UInt8(ascii: "D"), right = UInt8(ascii: "R")
        static let transparent = UInt8(ascii: "T")
    }

    static let mappingTable = RangeTable(UTS46Data.mapping)
    static let bidiTable = RangeTable(UTS46Data.bidi)
    static let joiningTable = RangeTable(UTS46Data.joining)

    /// Sorted code point ranges, each with a code and a value, parsed once from a generated token string.
    struct RangeTable: Sendable {
        /// First code point of each range, ascending; a range ends where the next begins.
        var starts: [UInt32] = []
        var codes: [UInt8] = []
        /// `S`: the delta; `M`: offset in `pool` times 32 plus the mapping's length.
        var values: [Int32] = []
        var pool: [Unicode.Scalar] = []

        init(_ text: String) {
            for token in text.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x0a }) {
                guard let c = token.firstIndex(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }),
                    let start = UInt32(String(decoding: token[..<c], as: UTF8.self), radix: 16)
                else { preconditionFailure("bad token in generated IDNA table") }
                let payload = String(decoding: token[token.index(after: c)...], as: UTF8.self)
                starts.append(start)
                codes.append(token[c])
                switch token[c] {
                case Code.shift where payload.first != nil:
                    values.append(Int32(payload) ?? 0)
                case Code.mapped:
                    let scalars = payload.split(separator: ".").compactMap { UInt32($0, radix: 16) }
                        .compactMap(Unicode.Scalar.init)
                    values.append(Int32(pool.count * 32 + scalars.count))
                    pool.append(contentsOf: scalars)
                default:
                    values.append(0)
                }
            }
        }

        /// The index of the range holding `cp` (binary search).
        func index(_ cp: UInt32) -> Int {
            var lo = 0
            var hi = starts.count
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if starts[mid] <= cp { lo = mid } else { hi = mid }
            }
            return lo
        }

        /// The mapping of an `M` range.
        func mapping(_ k: Int) -> ArraySlice<Unicode.Scalar> {
            let v = Int(values[k])
            return pool[(v / 32)..<(v / 32 + v % 32)]
        }
    }
}

/// Punycode (RFC 3492) of one label.
enum Punycode {
    private static let base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700

    private static func adapt(_ delta: Int, _ count: Int, _ first: Bool) -> Int {
        var d = first ? delta / damp : delta / 2
        d += d / count
        var k = 0
        while d > ((base - tmin) * tmax) / 2 {
            d /= base - tmin
            k += base
        }
        return k + (base - tmin + 1) * d / (d + skew)
    }

    /// The Punycode of a label (without `xn--`); nil on overflow.
    static func encode(_ input: [Unicode.Scalar]) -> String? {
        var n = 128
        var delta = 0
        var bias = 72
        var output = input.filter { $0.isASCII }.map { Character($0) }
        let b = output.count
        var h = b
        if b > 0 { output.append("-") }
        func digit(_ d: Int) -> Character { Character(Unicode.Scalar(UInt8(d < 26 ? 97 + d : 22 + d))) }
        let codes = input.map { Int($0.value) }
        while h < codes.count {
            guard let m = codes.filter({ $0 >= n }).min() else { return nil }
            let (mul, overflow) = (m - n).multipliedReportingOverflow(by: h + 1)
            if overflow { return nil }
            delta += mul
            n = m
            for c in codes {
                if c < n { delta += 1 }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tmin : (k >= bias + tmax ? tmax : k - bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, h + 1, h == b)
                    delta = 0
                    h += 1
                }
            }
            delta += 1
            n += 1
        }
        return String(output)
    }

    /// The label a Punycode string (without `xn--`) encodes; nil when it is not valid Punycode.
    static func decode(_ input: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar]? {
        let limit = Int(Int32.max)
        var output: [Unicode.Scalar] = []
        var rest = input[...]
        if let delimiter = input.lastIndex(of: "-") {
            output = Array(input[input.startIndex..<delimiter])
            guard output.allSatisfy(\.isASCII) else { return nil }
            // The delimiter is consumed only when basic code points come before it.
            if !output.isEmpty { rest = input[(delimiter + 1)...] }
        }
        var n = 128
        var i = 0
        var bias = 72
        var p = rest.startIndex
        while p < rest.endIndex {
            let old = i
            var w = 1
            var k = base
            while true {
                guard p < rest.endIndex else { return nil }
                let c = rest[p].value
                p += 1
                let digit: Int
                switch c {
                case 0x61...0x7a: digit = Int(c) - 0x61
                case 0x41...0x5a: digit = Int(c) - 0x41
                case 0x30...0x39: digit = Int(c) - 0x30 + 26
                default: return nil
                }
                guard digit <= (limit - i) / w else { return nil }
                i += digit * w
                let t = k <= bias ? tmin : (k >= bias + tmax ? tmax : k - bias)
                if digit < t { break }
                guard w <= limit / (base - t) else { return nil }
                w *= base - t
                k += base
            }
            let count = output.count + 1
            bias = adapt(i - old, count, old == 0)
            guard i / count <= limit - n else { return nil }
            n += i / count
            i %= count
            guard let scalar = Unicode.Scalar(UInt32(n)) else { return nil }
            output.insert(scalar, at: i)
            i += 1
        }
        return output
    }
}
