import Foundation
import Synchronization
import WinnowCore
import WinnowSQLite

/// Every figure a dataset report shows, read from an index by plain `GROUP BY` queries (`IndexReader.reportFigures`).
/// Figures add up: the figures of several parts of a run, `+`-ed, are those of their merged index (histograms have
/// fixed bins, per-host counts are summed, periods widen). Per-host counts are what domain lists are rolled up from.
public struct ReportFigures: Sendable, Equatable {
    /// Rows (one per candidate), kept, dropped, and downloaded (kept or dropped after the download).
    public var candidates = 0, kept = 0, dropped = 0, fetched = 0
    /// Bytes downloaded (original files, kept or not), and of the kept samples as downloaded and as stored.
    public var fetchedBytes = 0, keptOriginalBytes = 0, keptStoredBytes = 0
    /// Shard files and their bytes.
    public var shards = 0, shardBytes = 0
    /// Dropped rows by reason code.
    public var droppedByReason: [String: Int] = [:]
    /// Input records skipped, by code (`malformed_record`, `input_unreadable`...).
    public var inputErrors: [String: Int] = [:]
    /// Per URL host (as the index writes it, port removed): rows, kept, downloaded bytes, kept stored bytes.
    public var hosts: [String: HostCounts] = [:]
    /// Kept samples by the original image's width, height, and aspect-ratio bin (`aspectBins`).
    public var widths: [Int: Int] = [:], heights: [Int: Int] = [:]
    public var aspect: [Int: Int] = [:]
    /// Kept samples by caption length in characters.
    public var captionLengths: [Int: Int] = [:]
    /// Samples the embed stage scored, by similarity bin (`similarityBin`), kept and dropped apart.
    public var similarityKept: [Int: Int] = [:], similarityDropped: [Int: Int] = [:]
    /// Kept samples and their stored bytes by the served MIME type (parameters removed; the format read when none).
    public var contentTypes: [String: HostCounts] = [:]
    /// Exact and perceptual duplicate clusters (a kept sample and the rows `duplicate_of` it) by size; the same for
    /// semantic duplicates.
    public var duplicateClusters: [Int: Int] = [:], semanticClusters: [Int: Int] = [:]
    /// Page-level opt-out signals found on candidates (`opt_out_signals`), by signal, with how many were kept.
    public var pageSignals: [String: HostCounts] = [:]
    /// What images said of themselves: rows with an XMP plus:DataMining value, a C2PA manifest, a C2PA
    /// training-mining assertion (`samples`: all rows; `kept`: those kept).
    public var imageSignals: [String: HostCounts] = [:]
    /// Kept samples later removed by an opt-out request (`removed_by`), by request.
    public var removedByRequest: [String: Int] = [:]
    /// The range of the crawled pages' capture dates (`page_date`), and of the runs (started, finished).
    public var pageDates: ClosedRange<String>?
    public var runPeriod: ClosedRange<String>?
    /// Run properties of each part (`pipeline`, `inputs`, `embed_model`, `min_similarity`, `crawler`...).
    public var runs: [[String: String]] = []
    /// Opt-out applies from each part's audit log.
    public var audit: [AuditFigures] = []

    /// Counts of one host, content type or signal.
    /// Rows, kept rows, bytes downloaded (kept or not), kept bytes as stored, kept bytes as downloaded.
    public struct HostCounts: Sendable, Equatable {
        public var samples = 0, kept = 0, bytes = 0, keptBytes = 0, keptOriginalBytes = 0
        public init(samples: Int = 0, kept: Int = 0, bytes: Int = 0, keptBytes: Int = 0, keptOriginalBytes: Int = 0) {
            self.samples = samples
            self.kept = kept
            self.bytes = bytes
            self.keptBytes = keptBytes
            self.keptOriginalBytes = keptOriginalBytes
        }
        public static func + (a: HostCounts, b: HostCounts) -> HostCounts {
            HostCounts(
                samples: a.samples + b.samples, kept: a.kept + b.kept, bytes: a.bytes + b.bytes,
                keptBytes: a.keptBytes + b.keptBytes, keptOriginalBytes: a.keptOriginalBytes + b.keptOriginalBytes)
        }
    }

    /// One `winnow optout apply`, as its audit log line records it.
    public struct AuditFigures: Sendable, Equatable {
        public var applyID: String, time: String
        public var requests: Int, removed: Int, shardsRewritten: Int
        /// Removed samples by how they matched (`md5`, `sha256`, `pdq`, `url`, `domain`, `key`...: the match's
        /// first word).
        public var removedByMatch: [String: Int]
    }

    /// Upper edges of the aspect-ratio (width / height) bins: bin i holds ratios below `aspectEdges[i]` and at or
    /// above the edge before it; the last bin holds the rest.
    public static let aspectEdges: [Double] = [0.25, 0.5, 0.67, 0.8, 0.95, 1.05, 1.25, 1.5, 2, 4]
    /// Similarity bins are 0.02 wide over [-1, 1]: bin b holds [b / 50 - 1, (b + 1) / 50 - 1).
    public static let similarityBinsPerUnit = 50.0

    /// The bin of a similarity.
    public static func similarityBin(_ s: Double) -> Int { Int(((s + 1) * similarityBinsPerUnit).rounded(.down)) }

    public init() {}

    /// The figures of two parts together.
    public static func + (a: ReportFigures, b: ReportFigures) -> ReportFigures {
        func sum<K>(_ x: [K: Int], _ y: [K: Int]) -> [K: Int] { x.merging(y, uniquingKeysWith: +) }
        func sum<K>(_ x: [K: HostCounts], _ y: [K: HostCounts]) -> [K: HostCounts] { x.merging(y, uniquingKeysWith: +) }
        func widen(_ x: ClosedRange<String>?, _ y: ClosedRange<String>?) -> ClosedRange<String>? {
            guard let x else { return y }
            guard let y else { return x }
            return min(x.lowerBound, y.lowerBound)...max(x.upperBound, y.upperBound)
        }
        var r = ReportFigures()
        r.candidates = a.candidates + b.candidates
        r.kept = a.kept + b.kept
        r.dropped = a.dropped + b.dropped
        r.fetched = a.fetched + b.fetched
        r.fetchedBytes = a.fetchedBytes + b.fetchedBytes
        r.keptOriginalBytes = a.keptOriginalBytes + b.keptOriginalBytes
        r.keptStoredBytes = a.keptStoredBytes + b.keptStoredBytes
        r.shards = a.shards + b.shards
        r.shardBytes = a.shardBytes + b.shardBytes
        r.droppedByReason = sum(a.droppedByReason, b.droppedByReason)
        r.inputErrors = sum(a.inputErrors, b.inputErrors)
        r.hosts = sum(a.hosts, b.hosts)
        r.widths = sum(a.widths, b.widths)
        r.heights = sum(a.heights, b.heights)
        r.aspect = sum(a.aspect, b.aspect)
        r.captionLengths = sum(a.captionLengths, b.captionLengths)
        r.similarityKept = sum(a.similarityKept, b.similarityKept)
        r.similarityDropped = sum(a.similarityDropped, b.similarityDropped)
        r.contentTypes = sum(a.contentTypes, b.contentTypes)
        r.duplicateClusters = sum(a.duplicateClusters, b.duplicateClusters)
        r.semanticClusters = sum(a.semanticClusters, b.semanticClusters)
        r.pageSignals = sum(a.pageSignals, b.pageSignals)
        r.imageSignals = sum(a.imageSignals, b.imageSignals)
        r.removedByRequest = sum(a.removedByRequest, b.removedByRequest)
        r.pageDates = widen(a.pageDates, b.pageDates)
        r.runPeriod = widen(a.runPeriod, b.runPeriod)
        r.runs = a.runs + b.runs
        r.audit = a.audit + b.audit
        return r
    }
}

extension IndexReader {
    /// The report's figures of this index: the samples table read once, split by row id over `threads` threads
    /// (each with its own connection), aggregated as it streams (memory bounded by the distinct hosts, reasons and
    /// duplicate clusters, never by rows); the small tables (shards, input errors, run) by plain queries, and the
    /// opt-out audit log. scripts/report_baseline.sql computes the same figures as GROUP BY queries.
    public func reportFigures(threads: Int = 2, minRowsPerThread: Int = 100_000) throws -> ReportFigures {
        var f = ReportFigures()
        func int(_ r: Row, _ c: String) -> Int { Int(r.int(c) ?? 0) }
        let shards = try q("SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM shards")[0]
        f.shards = int(shards, "n")
        f.shardBytes = int(shards, "b")
        for r in try q("SELECT code, count(*) AS n FROM input_errors GROUP BY code") {
            f.inputErrors[r.string("code") ?? "unknown"] = int(r, "n")
        }
        // Columns a read-only index made by an older winnow may lack (migrations 4, 6, 8, 9, 11) read as NULL.
        func column(_ name: String, _ expression: String? = nil) throws -> String {
            try hasColumn(name) ? expression ?? name : "NULL"
        }
        let sql = """
            SELECT url, status, reason, original_bytes, stored_bytes, original_width, original_height, length(caption),
                   \(try column("similarity")), content_type, original_format, duplicate_of,
                   \(try column("semantic_duplicate_of")), opt_out_signals,
                   \(try column("data_mining", "data_mining IS NOT NULL")), \(try column("c2pa", "c2pa = 1")),
                   \(try column("c2pa_training", "c2pa_training LIKE '%training-mining:%' AND c2pa_training NOT LIKE 'unreadable:%'")),
                   \(try column("removed_by")), page_date
            FROM samples WHERE id BETWEEN ?1 AND ?2
            """
        let bounds = try q("SELECT coalesce(min(id), 0) AS lo, coalesce(max(id), -1) AS hi FROM samples")[0]
        let (lo, hi) = (int(bounds, "lo"), int(bounds, "hi"))
        // Row ids count from 1 in an index Winnow wrote; ids spread wider than 2^40 (a hand-made index) are read by
        // one thread, so that no arithmetic below can overflow.
        let sane = lo >= -(1 << 40) && hi <= 1 << 40
        let rows = hi >= lo ? (sane ? hi - lo + 1 : 1) : 0
        let n = sane ? max(1, min(threads, rows / max(1, minRowsPerThread) + 1)) : 1
        let step = max(1, (rows + n - 1) / n)
        let path = ShardWriter.indexPath(directory)
        let results = Mutex<[Result<RowScan, SQLiteError>]>([])
        DispatchQueue.concurrentPerform(iterations: n) { k in
            var scan = RowScan()
            let result = Result { () throws(SQLiteError) -> RowScan in
                let c = try Connection(path: path, readOnly: true)
                defer { c.close() }
                let range = n == 1 ? [lo, hi] : [lo + k * step, min(hi, lo + (k + 1) * step - 1)]
                try c.prepare(sql).forEachRow(range) { scan.add($0) }
                return scan
            }
            results.withLock { $0.append(result) }
        }
        var total = RowScan()
        for r in results.withLock({ $0 }) {
            do { total.merge(try r.get()) } catch { throw WinnowError(.database, "\(path): \(error)") }
        }
        total.finish(into: &f)
        var run: [String: String] = [:]
        for r in try q("SELECT name, value FROM run") { run[r.string("name") ?? ""] = r.string("value") }
        if let a = run["started"], let b = run["finished"] ?? run["started"] { f.runPeriod = a...max(a, b) }
        run["directory"] = directory
        f.runs = [run]
        f.audit = try auditFigures()
        return f
    }

    /// `host:port` without the port (`[::1]:8080` -> `[::1]`).
    static func withoutPort(_ host: String) -> String {
        if host.hasPrefix("[") { return host.firstIndex(of: "]").map { String(host[...$0]) } ?? host }
        return host.firstIndex(of: ":").map { String(host[..<$0]) } ?? host
    }

    func hasColumn(_ name: String) throws -> Bool {
        try !q("SELECT 1 FROM pragma_table_info('samples') WHERE name = ?1", [name]).isEmpty
    }

    /// The applies recorded in the directory's opt-out audit log (none when it has no log). A line that does not
    /// parse is an error naming the log and the line.
    func auditFigures() throws -> [ReportFigures.AuditFigures] {
        let path = Removal.auditLogPath(directory)
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var out: [ReportFigures.AuditFigures] = []
        for (i, line) in text.split(separator: "\n").enumerated() where !line.isEmpty {
            guard let e = try? JSONDecoder().decode(Removal.AuditEntry.self, from: Data(line.utf8)) else {
                throw WinnowError(.format, "\(path): line \(i + 1) is not an audit entry")
            }
            out.append(
                .init(
                    applyID: e.applyID, time: e.time, requests: e.requests.count, removed: e.removed.count,
                    shardsRewritten: e.shards.count,
                    removedByMatch: e.removed.reduce(into: [:]) {
                        $0[String($1.match.split(separator: " ").first ?? ""), default: 0] += 1
                    }))
        }
        return out
    }
}
