import Foundation
import WinnowCore
import WinnowCrawl
import WinnowShards

/// Duplicates across the parts of a partitioned run (`--shard I/N`, then `winnow index merge`): each part decided
/// only against what it saw, so an image under other URLs in two parts is kept twice. In the merged index they are
/// decided again as one run over the same inputs decides them, in its order (input files sorted, then each file's
/// own order): repeated (url, caption) pairs, identical bytes, PDQ near-duplicates. The later copies are marked
/// dropped, with the one they duplicate; shards stay as they are.
public enum PartDuplicates {
    /// What was marked.
    public struct Counts: Sendable, Equatable {
        public var urlCaption = 0
        public var exact = 0
        public var perceptual = 0
        public var total: Int { urlCaption + exact + perceptual }

        /// None yet.
        public init() {}
    }

    /// Resolves the duplicates of `index` (a merged index) with the run's settings as its manifest records them.
    public static func resolve(_ index: ShardIndex, settings: [String: String]) throws -> Counts {
        var dedup = DedupSettings()
        dedup.exact = settings["dedup.exact"].map { $0 == "true" } ?? dedup.exact
        dedup.perceptual = settings["dedup.perceptual"].map { $0 == "true" } ?? dedup.perceptual
        dedup.matchMirrored = settings["dedup.match_mirrored"].map { $0 == "true" } ?? dedup.matchMirrored
        dedup.pdqThreshold = settings["dedup.pdq_threshold"].flatMap { Int($0) } ?? dedup.pdqThreshold
        dedup.pdqMinQuality = settings["dedup.pdq_min_quality"].flatMap { Int($0) } ?? dedup.pdqMinQuality
        dedup.against = []
        let urlCaption = settings["parse.dedup_url_caption"].map { $0 == "true" } ?? true
        let rows = try index.dedupRows()
        // One run's order: its inputs sorted, each read in order (row ids keep each part's order).
        let rank = Dictionary(
            uniqueKeysWithValues: Set(rows.map(\.inputFile)).sorted().enumerated().map { ($1, $0) })
        let ordered = rows.sorted { (rank[$0.inputFile] ?? 0, $0.id) < (rank[$1.inputFile] ?? 0, $1.id) }
        var counts = Counts()
        var seen: Set<String> = []
        let deduplicator = try Deduplicator(settings: dedup)
        try index.db.transaction {
            for row in ordered {
                var kept = row.kept
                if urlCaption && !CandidateFilter.dropsBeforeKeyCheck.contains(row.reason ?? "") {
                    if row.reason != "duplicate_url_caption" && !seen.insert(row.key).inserted {
                        try index.markDuplicate(
                            id: row.id, code: ReasonCode.duplicateURLCaption.rawValue, detail: row.key, of: nil)
                        counts.urlCaption += 1
                        kept = false
                    }
                }
                guard kept else { continue }
                if let d = deduplicator.decide(
                    key: row.key, sha256: row.sha256, pdq: row.pdq, pdqTrimmed: row.pdqTrimmed, pdqMirrored: nil,
                    quality: row.pdqQuality)
                {
                    try index.markDuplicate(
                        id: row.id, code: d.code.rawValue, detail: d.detail + " (in another part)", of: d.of)
                    if d.code == .duplicateSHA256 { counts.exact += 1 } else { counts.perceptual += 1 }
                }
            }
            if counts.total > 0 {
                try index.repointDuplicates()
                try index.setRun(
                    "merge_duplicates",
                    "\(counts.urlCaption) duplicate_url_caption, \(counts.exact) duplicate_sha256, \(counts.perceptual) near_duplicate_pdq"
                )
            }
        }
        return counts
    }
}
