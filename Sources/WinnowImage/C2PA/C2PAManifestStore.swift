import Foundation

/// What a C2PA manifest store says about training and data mining: the training-and-data-mining assertion of its
/// active manifest (the last manifest in the store, C2PA 2.1 section 11.1.4), in its CAWG form
/// (`cawg.training-mining`, entries `cawg.ai_training`, `cawg.ai_generative_training`, `cawg.ai_inference`,
/// `cawg.data_mining`) or its older C2PA 1.x form (`c2pa.training-mining`, entries `c2pa.*`). Each entry's `use`
/// is `allowed`, `notAllowed` or `constrained`.
///
/// The manifest's signature is not validated: the assertion is read as a stated preference, as a robots.txt line
/// is. Only the store's structure (JUMBF boxes) and the assertion's CBOR (or JSON) are read.
public struct C2PATrainingMining: Sendable, Equatable {
    /// The assertion's label as stored (`cawg.training-mining`, `c2pa.training-mining`, maybe with `__N`).
    public var label: String
    /// Each entry's name (`cawg.ai_training`...) and `use` value, in the order stored.
    public var entries: [(name: String, use: String)]

    public static func == (a: C2PATrainingMining, b: C2PATrainingMining) -> Bool {
        a.label == b.label && a.entries.elementsEqual(b.entries) { $0.name == $1.name && $0.use == $1.use }
    }

    /// Largest training-mining assertion read (real ones are under 1 KiB).
    public static let maxAssertionBytes = 64 * 1024

    /// The entries (without their `cawg.`/`c2pa.` prefix) that speak for each purpose of a run, as the vocabulary
    /// of `optout.purpose` names them. Building a training set is data mining as well as training, so `data_mining`
    /// speaks for every purpose; `ai_generative_training` for training, as LAION-style sets train generative models.
    public static func entries(forPurpose purpose: String) -> [String] {
        switch purpose {
        case "train-ai": ["ai_training", "ai_generative_training", "data_mining"]
        case "ai-use": ["ai_inference", "data_mining"]
        default: ["data_mining"]
        }
    }

    /// The first entry for `purpose` whose use is `notAllowed` or `constrained` (a constraint no machine can read
    /// counts as not allowed), as `name=use`; nil when the assertion allows the purpose or does not speak of it.
    public func denial(purpose: String) -> String? {
        let wanted = Set(C2PATrainingMining.entries(forPurpose: purpose))
        for e in entries {
            guard let dot = e.name.firstIndex(of: "."), wanted.contains(String(e.name[e.name.index(after: dot)...]))
            else { continue }
            if e.use == "notAllowed" || e.use == "constrained" { return "\(e.name)=\(e.use)" }
        }
        return nil
    }

    /// The training-mining assertion of the active manifest in a manifest store (a whole `jumb` box), or nil when
    /// the store has none. Throws when the bytes are not a C2PA manifest store or the assertion cannot be read.
    public static func read(store: UnsafeBufferPointer<UInt8>) throws(C2PAError) -> C2PATrainingMining? {
        let root: JUMBFBox
        do { root = try JUMBFBox.parse(store) } catch { throw C2PAError(message: error.description) }
        return try read(root: root, bytes: store)
    }

    /// As `read(store:)`, for a store given as its superbox's contents (JPEG XL's `jumb` box).
    public static func read(storeContents: UnsafeBufferPointer<UInt8>) throws(C2PAError) -> C2PATrainingMining? {
        let root: JUMBFBox
        do { root = try JUMBFBox.parseContents(storeContents) } catch { throw C2PAError(message: error.description) }
        return try read(root: root, bytes: storeContents)
    }

    static func read(root: JUMBFBox, bytes: UnsafeBufferPointer<UInt8>) throws(C2PAError) -> C2PATrainingMining? {
        guard root.typeCode == "c2pa" || root.label == "c2pa" else {
            throw C2PAError(message: "the JUMBF box is not a C2PA manifest store (label \(root.label ?? "none"))")
        }
        // Standard (c2ma) and update (c2um) manifests; the active one is the last.
        guard let active = root.superboxes.last(where: { $0.typeCode == "c2ma" || $0.typeCode == "c2um" }) else {
            throw C2PAError(message: "the manifest store holds no manifest")
        }
        guard let assertions = active.superboxes.first(where: { $0.label == "c2pa.assertions" }) else {
            throw C2PAError(message: "the active manifest \(active.label ?? "") has no assertion store")
        }
        for a in assertions.superboxes {
            guard let label = a.label else { continue }
            let base = label.split(separator: "__", maxSplits: 1).first.map(String.init) ?? label
            guard base == "cawg.training-mining" || base == "c2pa.training-mining" else { continue }
            return try assertion(a, label: label, bytes: bytes)
        }
        return nil
    }

    private static func assertion(
        _ a: JUMBFBox, label: String, bytes: UnsafeBufferPointer<UInt8>
    ) throws(C2PAError) -> C2PATrainingMining {
        for child in a.children {
            guard case .content(let type, let payload) = child else { continue }
            let body = UnsafeBufferPointer(rebasing: bytes[payload])
            // A training-mining assertion is a few hundred bytes; a huge one is refused before it is decoded.
            guard body.count <= C2PATrainingMining.maxAssertionBytes else {
                throw C2PAError(
                    message: "assertion \(label) is \(body.count) bytes, over \(C2PATrainingMining.maxAssertionBytes)")
            }
            let value: CBOR
            switch type {
            case "cbor":
                do { value = try CBOR.decode(body) } catch {
                    throw C2PAError(message: "assertion \(label): \(error.description)")
                }
            case "json":
                guard let v = JSONLite.parse(body) else { throw C2PAError(message: "assertion \(label): invalid JSON") }
                value = v
            default: continue
            }
            guard case .map(let pairs) = value["entries"] ?? .null else {
                throw C2PAError(message: "assertion \(label) has no entries map")
            }
            var entries: [(String, String)] = []
            for (k, v) in pairs {
                guard let name = k.text else { continue }
                // An entry is a map with `use`; a bare string is read as the use too (seen in early writers).
                guard let use = v["use"]?.text ?? v.text else { continue }
                entries.append((name, use))
            }
            return C2PATrainingMining(label: label, entries: entries)
        }
        throw C2PAError(message: "assertion \(label) has no CBOR or JSON content box")
    }
}

/// Why a C2PA manifest store could not be read.
public struct C2PAError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// C2PA's JSON assertions read into the same item type as CBOR (objects as maps with text keys, numbers as floats).
enum JSONLite {
    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> CBOR? {
        guard let any = try? JSONSerialization.jsonObject(with: Data(b), options: [.fragmentsAllowed]) else {
            return nil
        }
        return item(any)
    }

    private static func item(_ any: Any) -> CBOR {
        switch any {
        case let s as String: return .text(s)
        case let d as [String: Any]: return .map(d.keys.sorted().map { (CBOR.text($0), item(d[$0]!)) })
        case let a as [Any]: return .array(a.map(item))
        case let n as NSNumber: return .float(n.doubleValue)  // booleans too: no entry's use is one
        default: return .null
        }
    }
}
