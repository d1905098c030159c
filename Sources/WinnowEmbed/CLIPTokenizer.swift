import Foundation
import WinnowCore

/// CLIP's byte-level BPE tokenizer, read from a checkpoint's `vocab.json` and `merges.txt`.
///
/// Text cleaning follows transformers 5's `CLIPTokenizer` (the Rust tokenizers library, and transformers 4's
/// `CLIPTokenizerFast`): literal `<|startoftext|>` / `<|endoftext|>` become their ids; the rest is put in Unicode NFC,
/// every run of whitespace becomes one space, and each character is lower-cased on its own. OpenAI's and open_clip's
/// tokenizer first run ftfy and unescape HTML entities, so they differ on mojibake, curly quotes, ligatures, control
/// characters and `&amp;`-style entities; Winnow does not imitate that (captions from Winnow's parse stage have
/// their entities decoded already).
public struct CLIPTokenizer: Sendable {
    /// `<|startoftext|>`.
    public let startID: Int32
    /// `<|endoftext|>`, also the padding.
    public let endID: Int32
    /// Sequence length with both special tokens (77).
    public let contextLength: Int
    /// Number of entries in `vocab.json`.
    public let vocabularySize: Int
    private let byteIDs: [Int32]  // a byte as a symbol inside a word
    private let byteEndIDs: [Int32]  // a byte as the last symbol of a word (`</w>`)
    private let merges: [UInt64: Merge]

    private struct Merge: Sendable {
        let rank: Int32
        let id: Int32
    }

    private static let specials = ["<|startoftext|>", "<|endoftext|>"]

    /// Reads `directory/vocab.json` and `directory/merges.txt`; a missing symbol or a malformed merge line is an error
    /// naming the file and line.
    public init(directory: String, contextLength: Int = 77) throws(WinnowError) {
        let vocabPath = directory + "/vocab.json"
        let object = try readJSONObject(vocabPath)
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(object.count)
        for (token, value) in object {
            guard let id = value as? Int, id >= 0, id < Int(Int32.max) else {
                throw WinnowError(
                    .format, "\(vocabPath): token \(token.debugDescription) has id \(value), not an integer")
            }
            vocab[token] = Int32(id)
        }
        func id(_ symbol: String, _ place: String) throws(WinnowError) -> Int32 {
            guard let id = vocab[symbol] else {
                throw WinnowError(.format, "\(place): symbol \(symbol.debugDescription) is not in vocab.json")
            }
            return id
        }
        let byteSymbols = Self.byteSymbols()
        var byteIDs: [Int32] = []
        var byteEndIDs: [Int32] = []
        for s in byteSymbols {
            byteIDs.append(try id(s, vocabPath))
            byteEndIDs.append(try id(s + "</w>", vocabPath))
        }
        startID = try id(Self.specials[0], vocabPath)
        endID = try id(Self.specials[1], vocabPath)

        let mergesPath = directory + "/merges.txt"
        let text: String
        do { text = try String(contentsOfFile: mergesPath, encoding: .utf8) } catch {
            throw WinnowError(.io, "\(mergesPath): cannot read: \(SystemError.reason(error))")
        }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(vocab.count)
        var rank: Int32 = 0
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.hasPrefix("#version") || line.isEmpty { continue }
            let parts = line.split(separator: " ")
            let place = "\(mergesPath):\(lineNumber)"
            guard parts.count == 2 else {
                throw WinnowError(.format, "\(place): a merge line has two symbols separated by a space")
            }
            let a = try id(String(parts[0]), place)
            let b = try id(String(parts[1]), place)
            let merged = try id(String(parts[0]) + String(parts[1]), place)
            let key = UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
            if merges[key] == nil { merges[key] = Merge(rank: rank, id: merged) }
            rank += 1
        }
        self.byteIDs = byteIDs
        self.byteEndIDs = byteEndIDs
        self.merges = merges
        self.contextLength = contextLength
        self.vocabularySize = vocab.count
    }

    /// GPT-2's `bytes_to_unicode`: printable bytes stand for themselves, the other 68 become U+0100 onwards.
    static func byteSymbols() -> [String] {
        var symbols = [String](repeating: "", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                symbols[b] = String(Character(Unicode.Scalar(UInt8(b))))
            } else {
                symbols[b] = String(Character(Unicode.Scalar(next)!))
                next += 1
            }
        }
        return symbols
    }

    /// `contextLength` ids: start, the text's tokens (the first `contextLength - 2` of them), end, then end tokens as
    /// padding, as transformers pads.
    public func encode(_ text: String) -> [Int32] {
        var ids = tokens(text)
        if ids.count > contextLength - 2 { ids.removeLast(ids.count - (contextLength - 2)) }
        var result = [startID]
        result.reserveCapacity(contextLength)
        result += ids
        result.append(endID)
        while result.count < contextLength { result.append(endID) }
        return result
    }

    /// The text's tokens without start, end, truncation or padding.
    public func tokens(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        var chunk = ""
        var rest = Substring(text)
        while !rest.isEmpty {
            // Special tokens are found in the raw text, case-sensitively, before any cleaning.
            var found: (range: Range<Substring.Index>, id: Int32)? = nil
            for (i, special) in Self.specials.enumerated() {
                if let r = rest.range(of: special), found == nil || r.lowerBound < found!.range.lowerBound {
                    found = (r, i == 0 ? startID : endID)
                }
            }
            guard let found else {
                chunk = String(rest)
                break
            }
            encodeChunk(String(rest[..<found.range.lowerBound]), into: &ids)
            ids.append(found.id)
            rest = rest[found.range.upperBound...]
        }
        if !chunk.isEmpty { encodeChunk(chunk, into: &ids) }
        return ids
    }

    /// Cleans one piece of text without special tokens and appends its BPE tokens.
    private func encodeChunk(_ text: String, into ids: inout [Int32]) {
        if text.isEmpty { return }
        let scalars = Self.normalize(text)
        var i = 0
        var piece: [UInt8] = []
        while i < scalars.count {
            let s = scalars[i]
            let kind = Self.kind(s)
            piece.removeAll(keepingCapacity: true)
            var end = i + 1
            if s == "'", let length = Self.contraction(scalars, i) {
                end = i + length
            } else {
                switch kind {
                case .space:
                    i += 1
                    continue
                case .letter:
                    while end < scalars.count && Self.kind(scalars[end]) == .letter { end += 1 }
                case .number:
                    break
                case .other:
                    while end < scalars.count && Self.kind(scalars[end]) == .other { end += 1 }
                }
            }
            for j in i..<end { piece.append(contentsOf: String(scalars[j]).utf8) }
            bpe(piece, into: &ids)
            i = end
        }
    }

    private enum Kind { case space, letter, number, other }

    @inline(__always) private static func kind(_ s: Unicode.Scalar) -> Kind {
        if s.value < 128 {
            switch s.value {
            case 0x61...0x7a, 0x41...0x5a: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0d, 0x20: return .space
            default: return .other
            }
        }
        if s.properties.isWhitespace { return .space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The length of `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` at `i`, if one starts there.
    private static func contraction(_ s: [Unicode.Scalar], _ i: Int) -> Int? {
        guard i + 1 < s.count else { return nil }
        switch s[i + 1] {
        case "s", "t", "m", "d": return 2
        case "r" where i + 2 < s.count && s[i + 2] == "e": return 3
        case "v" where i + 2 < s.count && s[i + 2] == "e": return 3
        case "l" where i + 2 < s.count && s[i + 2] == "l": return 3
        default: return nil
        }
    }

    /// NFC, whitespace runs to one space, then each scalar's full lower-case mapping.
    static func normalize(_ text: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        var inSpace = false
        for s in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            if s.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            if s.value < 128 {
                out.append(s.value >= 0x41 && s.value <= 0x5a ? Unicode.Scalar(s.value + 32)! : s)
            } else if s.properties.changesWhenLowercased {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(s)
            }
        }
        return out
    }

    /// Byte-pair merges over one piece's bytes (the last marked as word end), lowest rank first.
    private func bpe(_ bytes: [UInt8], into ids: inout [Int32]) {
        guard !bytes.isEmpty else { return }
        var symbols = bytes.map { byteIDs[Int($0)] }
        symbols[symbols.count - 1] = byteEndIDs[Int(bytes[bytes.count - 1])]
        while symbols.count > 1 {
            var best: Merge? = nil
            var first: Int32 = 0
            var second: Int32 = 0
            for i in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))
                if let m = merges[key], best == nil || m.rank < best!.rank {
                    best = m
                    first = symbols[i]
                    second = symbols[i + 1]
                }
            }
            guard let best else { break }
            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i] == first && symbols[i + 1] == second {
                    merged.append(best.id)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        ids.append(contentsOf: symbols)
    }
}
