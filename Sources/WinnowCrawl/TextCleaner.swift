internal import CScan
import Foundation

/// Caption and URL clean-up: HTML entities decoded, runs of white space collapsed to one space. Works on UTF-8
/// bytes (every entity delimiter is ASCII, and Unicode's white space characters are matched by their encodings):
/// the parse stage runs it on every link of every page.
public enum TextCleaner {
    /// Decodes HTML entities and collapses runs of white space (Unicode's White_Space characters) to one space,
    /// leading and trailing white space removed.
    public static func clean(_ s: String) -> String {
        // Fast path: text without entities, controls, doubled, leading or trailing spaces, or a byte that may begin
        // a non-ASCII white space character (U+0085, U+00A0: C2; U+1680: E1; U+2000-U+205F: E2; U+3000: E3) needs
        // nothing: the rest of UTF-8 (accents, CJK, emoji) is kept as it is.
        var input = s
        // ok: the base address of a non-empty buffer
        let plain = input.withUTF8 { b in b.isEmpty || winnow_text_is_clean(b.baseAddress!, b.count) != 0 }
        if plain { return s }
        return input.withUTF8 { b in
            var decoded: [UInt8] = []
            if b.contains(0x26) {
                decoded.reserveCapacity(b.count)
                decode(b, into: &decoded)
            } else {
                decoded = Array(b)
            }
            return decoded.withUnsafeBufferPointer { collapse($0) }
        }
    }

    /// Decodes named entities (the common ones) and numeric character references.
    public static func decodeEntities(_ s: String) -> String {
        guard hasByte(s, 0x26) else { return s }
        var input = s
        return input.withUTF8 { b in
            var out: [UInt8] = []
            out.reserveCapacity(b.count)
            decode(b, into: &out)
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Appends `b` to `out` with its entities decoded. An entity is `&name;` with at most ten bytes of name; one that
    /// is not known is kept as it is.
    private static func decode(_ b: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        let n = b.count
        var i = 0
        while i < n {
            let c = b[i]
            if c == 0x26 {
                var semi = i + 1
                let limit = min(n, i + 12)
                while semi < limit && b[semi] != 0x3b { semi += 1 }
                if semi < limit, let scalar = entity(UnsafeBufferPointer(rebasing: b[(i + 1)..<semi])) {
                    for s in scalar.unicodeScalars { UTF8.encode(s) { out.append($0) } }
                    i = semi + 1
                    continue
                }
            }
            out.append(c)
            i += 1
        }
    }

    /// The text of the entity called `name` (the bytes between `&` and `;`), or nil.
    private static func entity(_ name: UnsafeBufferPointer<UInt8>) -> String? {
        // "&amp;" is most of the entities in URLs: no string is built for it.
        if name.count == 3 && name[0] == 0x61 && name[1] == 0x6d && name[2] == 0x70 { return "&" }
        guard let first = name.first else { return nil }
        let text = String(decoding: name, as: UTF8.self)
        if first == 0x23 {
            let hex = name.count > 1 && (name[1] == 0x78 || name[1] == 0x58)
            let value = hex ? UInt32(text.dropFirst(2), radix: 16) : UInt32(text.dropFirst())
            return value.flatMap(Unicode.Scalar.init).map { String(Character($0)) }
        }
        return named[text]
    }

    /// `b` with every run of white space (Unicode's White_Space, what `Character.isWhitespace` tests) made one space,
    /// none at either end. The corresponding C function is `winnow_text_collapse`.
    private static func collapse(_ b: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: b.count) { out in
            guard let from = b.baseAddress, let to = out.baseAddress else { return 0 }
            return winnow_text_collapse(from, b.count, to)
        }
    }

    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "copy": "©", "reg": "®",
        "trade": "™", "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”",
        "laquo": "«", "raquo": "»", "eacute": "é", "egrave": "è", "aacute": "á", "agrave": "à", "oacute": "ó",
        "uacute": "ú", "iacute": "í", "ntilde": "ñ", "ccedil": "ç", "uuml": "ü", "ouml": "ö", "auml": "ä", "szlig": "ß",
        "Eacute": "É", "Uuml": "Ü", "Ouml": "Ö", "Auml": "Ä", "deg": "°", "middot": "·", "bull": "•", "euro": "€",
        "pound": "£", "yen": "¥", "times": "×", "shy": "\u{AD}", "zwnj": "\u{200C}", "zwj": "\u{200D}",
    ].merging(latin1Entities) { a, _ in a }

    /// The HTML 4 names of U+00A0...U+00FF, in order.
    private static let latin1Entities: [String: String] = {
        let names = [
            "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf", "laquo", "not",
            "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot", "cedil", "sup1",
            "ordm", "raquo", "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc", "Atilde", "Auml",
            "Aring", "AElig", "Ccedil", "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH",
            "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc",
            "Uuml", "Yacute", "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig",
            "ccedil", "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
            "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc", "uuml",
            "yacute", "thorn", "yuml",
        ]
        var d: [String: String] = [:]
        for (i, n) in names.enumerated() {
            if let scalar = Unicode.Scalar(UInt32(0xA0 + i)) { d[n] = String(Character(scalar)) }
        }
        return d
    }()

}
