import Foundation
import WinnowCore
import WinnowDedup
import WinnowImage
import WinnowOptOut

/// The opt-out registry as a run (and `winnow optout`) consults it: URLs, URL prefixes, domains, URL hashes and
/// sample keys before download; image hashes (MD5, SHA-1, SHA-256 of the bytes, PDQ within each entry's threshold,
/// also inside a border and mirrored) after it. Safe to call from any thread.
public final class OptOutGate: Sendable {
    /// The registry's path.
    public let path: String
    /// The exact entries, in memory.
    public let matcher: RegistryMatcher
    private let pdq: HammingIndex
    private let pdqLabels: [(threshold: Int, requestID: String, hash: String)]
    private let pdqRadius: Int

    /// Loads the registry at `path` (with `request`, only that request's entries).
    public init(path: String, request: String? = nil) throws {
        self.path = path
        matcher = try Registry(path: path, create: false).matcher(request: request)
        var index = HammingIndex()
        var labels: [(threshold: Int, requestID: String, hash: String)] = []
        for e in matcher.pdqEntries {
            guard let h = PDQ(hex: e.hash) else { continue }
            index.insert(Hash256(words: h.words))
            labels.append((min(31, e.threshold), e.requestID, e.hash))
        }
        pdq = index
        pdqLabels = labels
        pdqRadius = labels.map(\.threshold).max() ?? 0
    }

    /// The registry a run uses: the one named, else the default one when it exists, else none.
    public static func forRun(_ config: PipelineConfig) throws -> OptOutGate? {
        guard config.optOutEnabled else { return nil }
        if let p = config.optOutRegistry { return try OptOutGate(path: p) }
        let p = Registry.defaultPath()
        return FileManager.default.fileExists(atPath: p) ? try OptOutGate(path: p) : nil
    }

    /// The entry a candidate matches before download: its key (url + caption) or its URL.
    public func check(candidate c: Candidate) -> OptOutHit? { check(key: c.key, url: c.url) }

    /// The entry a sample key or its URL matches.
    public func check(key: String, url: String) -> OptOutHit? { matcher.match(key: key) ?? matcher.match(url: url) }

    /// The entry a hashed image matches, with how (`sha256`, `pdq 4`).
    public func check(md5: String?, sha1: String?, sha256: String?, pdqHashes: [String]) -> (
        hit: OptOutHit, how: String
    )? {
        if let h = matcher.match(md5: md5, sha1: sha1, sha256: sha256) { return (h, h.kind.rawValue) }
        guard !pdqLabels.isEmpty else { return nil }
        var best: (id: Int, distance: Int)?
        for hex in pdqHashes {
            guard let p = PDQ(hex: hex) else { continue }
            // Nearest within the largest threshold, then the entry's own threshold decides.
            if let m = pdq.nearest(Hash256(words: p.words), radius: pdqRadius), m.distance <= pdqLabels[m.id].threshold,
                best.map({ m.distance < $0.distance }) ?? true
            {
                best = m
            }
        }
        guard let b = best else { return nil }
        let l = pdqLabels[b.id]
        return (OptOutHit(kind: .pdq, value: l.hash, requestID: l.requestID), "pdq \(b.distance)")
    }

    /// The entry a processed sample matches after download and hashing.
    public func check(sample s: Sample) -> (hit: OptOutHit, how: String)? {
        let hashes = [s.image?.pdq, s.image?.pdqTrimmed, s.image?.pdqMirrored].compactMap { $0 }
        return check(md5: s.md5, sha1: s.sha1, sha256: s.sha256, pdqHashes: hashes)
    }
}
