import Foundation
import WinnowCore
import WinnowDedup
import WinnowImage
import WinnowShards

/// The run's duplicate decisions, made in arrival order on the writer thread: identical bytes (SHA-256) and
/// perceptual near-duplicates (PDQ within the threshold, hashes of quality at least the minimum only), against
/// what this run kept so far and against other outputs or folders of images named with `--against` (a dataset
/// already built, or an evaluation set to keep out). The first sample of a group is kept; the others are dropped
/// with the kept one as `duplicate_of`.
final class Deduplicator {
    private let settings: DedupSettings
    private var firstBySHA: [String: String] = [:]
    private var pdq = HammingIndex()
    private var labels: [String] = []
    /// `(url, caption)` keys of the `--against` outputs, for the parse stage's key check.
    private(set) var againstKeys: [UInt64] = []
    /// How many hashes came from `--against`.
    private(set) var againstCount = 0

    init(settings: DedupSettings) throws {
        self.settings = settings
        for dir in settings.against { try load(dir) }
        againstCount = firstBySHA.count + pdq.count
    }

    /// Marks `s` as a duplicate if it is one; otherwise remembers it.
    func apply(_ s: inout Sample) {
        guard s.isKept else { return }
        if let d = decide(
            key: s.candidate.key, sha256: s.sha256, pdq: s.image?.pdq, pdqTrimmed: s.image?.pdqTrimmed,
            pdqMirrored: s.image?.pdqMirrored, quality: s.image?.pdqQuality ?? 0)
        {
            s.duplicateOf = d.of
            s.drop(d.code, d.detail)
        }
    }

    /// Whether a kept sample with these hashes duplicates one seen before: the reason code, its detail and the key
    /// (label) of the one it duplicates; when it does not, the sample is remembered.
    func decide(
        key: String, sha256: String?, pdq: String?, pdqTrimmed: String?, pdqMirrored: String?, quality: Int
    ) -> (code: ReasonCode, detail: String, of: String)? {
        if settings.exact, let sha = sha256, let first = firstBySHA[sha] {
            return (.duplicateSHA256, "same bytes as \(first)", first)
        }
        // The whole image's PDQ, and the PDQ inside its border when it has one.
        var hashes: [Hash256] = []
        if settings.perceptual, quality >= settings.pdqMinQuality {
            hashes = [pdq, pdqTrimmed].compactMap { $0.flatMap { PDQ(hex: $0) } }.map { Hash256(words: $0.words) }
            // A mirrored copy matches through the mirror image's hash (queried, not stored).
            let mirrored =
                settings.matchMirrored
                ? [pdqMirrored].compactMap { $0.flatMap { PDQ(hex: $0) } }.map { Hash256(words: $0.words) } : []
            let best = (hashes + mirrored).compactMap { self.pdq.nearest($0, radius: settings.pdqThreshold) }.min {
                $0.distance < $1.distance || ($0.distance == $1.distance && $0.id < $1.id)
            }
            if let m = best {
                return (.nearDuplicatePDQ, "PDQ distance \(m.distance) to \(labels[m.id])", labels[m.id])
            }
        }
        if settings.exact, let sha = sha256 { firstBySHA[sha] = key }
        for h in hashes {
            self.pdq.insert(h)
            labels.append(key)
        }
        return nil
    }

    /// Remembers kept samples (in the order they were kept), labelled by `label(key)`: those of an `--against`
    /// output, or what a resumed run committed before it was stopped, so that its decisions are those of a run
    /// that was never stopped.
    func remember(
        _ rows: [(key: String, sha256: String?, pdq: String?, pdqQuality: Int, pdqTrimmed: String?)],
        label: (String) -> String = { $0 }
    ) {
        var hashes: [Hash256] = []
        for row in rows {
            let l = label(row.key)
            if settings.exact, let sha = row.sha256, firstBySHA[sha] == nil { firstBySHA[sha] = l }
            if settings.perceptual && row.pdqQuality >= settings.pdqMinQuality {
                for hex in [row.pdq, row.pdqTrimmed].compactMap({ $0 }) {
                    guard let p = PDQ(hex: hex) else { continue }
                    hashes.append(Hash256(words: p.words))
                    labels.append(l)
                }
            }
        }
        pdq.insert(contentsOf: hashes)
    }

    /// Loads a Winnow output (its kept samples' hashes and keys, labelled `DIR:KEY`) or a folder of images
    /// (hashed here, labelled by path).
    private func load(_ dir: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WinnowError(.usage, "\(dir): --against needs a Winnow output or a folder of images")
        }
        if FileManager.default.fileExists(atPath: ShardWriter.indexPath(dir)) {
            let index = try ShardIndex(path: ShardWriter.indexPath(dir), readOnly: true)
            let rows = try index.keptHashes()
            remember(rows) { "\(dir):\($0)" }
            againstKeys += rows.compactMap { UInt64($0.key, radix: 16) }
            return
        }
        var hashes: [Hash256] = []
        let files = (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).sorted()
        for name in files {
            let path = (dir as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), ImageFormat.sniff([UInt8](data)) != nil
            else { continue }
            let bytes = [UInt8](data)
            if firstBySHA[SHA256.hexDigest(bytes)] == nil { firstBySHA[SHA256.hexDigest(bytes)] = path }
            guard let image = try? Codec.decode(bytes) else { continue }
            let p = PDQ.hash(image)
            if p.quality >= settings.pdqMinQuality {
                hashes.append(Hash256(words: p.words))
                labels.append(path)
                if let inner = PDQ.borderTrimmed(image) {
                    hashes.append(Hash256(words: PDQ.hash(inner).words))
                    labels.append(path)
                }
            }
        }
        pdq.insert(contentsOf: hashes)
    }
}
