import Foundation
import WinnowCore
import WinnowSQLite

extension ShardIndex {
    /// Writes `DIR/index.sqlite` over the finished outputs `parts` (`winnow index merge`): their rows, shards (named
    /// `prefix` + name, the part's path relative to DIR), input errors and run properties (as the first part
    /// recorded them; `started` and `finished` the parts' earliest and latest, `merged_at` when merged), built as
    /// `index.sqlite.partial` and renamed into place. Returns the number of rows.
    /// `beforeCommit` sees the merged index before it is renamed into place (to resolve duplicates across parts).
    public static func merge(
        into directory: String, parts: [(directory: String, prefix: String)],
        beforeCommit: (ShardIndex) throws -> Void = { _ in }
    ) throws -> Int {
        let partial = ShardWriter.indexPath(directory) + ".partial"
        for suffix in ["", "-journal", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: partial + suffix) }
        let index = try ShardIndex(path: partial)
        let db = index.db
        do {
            let columns = try db.query("PRAGMA table_info(samples)").compactMap { $0.string("name") }.filter {
                $0 != "id"
            }
            let list = columns.joined(separator: ", ")
            let select = columns.map { $0 == "shard" ? "CASE WHEN shard IS NULL THEN NULL ELSE ?1 || shard END" : $0 }
                .joined(separator: ", ")
            var inputs: [String] = []
            var started: [String] = []
            var finished: [String] = []
            for p in parts {
                try db.run("ATTACH DATABASE ?1 AS part", [ShardWriter.indexPath(p.directory)])
                try db.transaction {
                    try db.run(
                        "INSERT INTO samples (\(list)) SELECT \(select) FROM part.samples ORDER BY id", [p.prefix])
                    try db.run(
                        "INSERT INTO shards (name, samples, bytes, sha256) SELECT ?1 || name, samples, bytes, sha256 FROM part.shards",
                        [p.prefix])
                    try db.execute(
                        "INSERT INTO input_errors (input_file, record_offset, code, message) SELECT input_file, record_offset, code, message FROM part.input_errors"
                    )
                    if let v = try db.query("SELECT value FROM part.run WHERE name = 'inputs'").first?.string("value") {
                        inputs.append(v)
                    }
                    for (name, into) in [("started", 0), ("finished", 1)] {
                        if let v = try db.query("SELECT value FROM part.run WHERE name = ?1", [name]).first?.string(
                            "value")
                        {
                            if into == 0 { started.append(v) } else { finished.append(v) }
                        }
                    }
                    // The run's settings (pipeline, embed model, registry...) as the first part recorded them.
                    try db.execute(
                        "INSERT OR IGNORE INTO run (name, value) SELECT name, value FROM part.run WHERE name NOT IN ('inputs', 'started', 'finished')"
                    )
                }
                try db.execute("DETACH DATABASE part")
            }
            try db.transaction {
                try index.setRun("merged_from", parts.map(\.directory).joined(separator: "\n"))
                try index.setRun("inputs", inputs.joined(separator: "\n"))
                // The collection period is the parts': the earliest start, the latest finish (ISO 8601 UTC sorts).
                if let s = started.min() { try index.setRun("started", s) }
                try index.setRun("finished", finished.max() ?? ISO8601DateFormatter().string(from: Date()))
                try index.setRun("merged_at", ISO8601DateFormatter().string(from: Date()))
                try db.execute("INSERT INTO samples_fts (samples_fts) VALUES ('rebuild')")
            }
            try beforeCommit(index)
            let n = Int(try db.query("SELECT count(*) AS n FROM samples")[0].int("n") ?? 0)
            db.close()
            try ShardWriter.commitPartialIndex(directory)
            return n
        } catch let e as SQLiteError {
            throw WinnowError(.database, "\(partial): \(e)")
        }
    }

    /// What the duplicate decisions across parts need of a row.
    public struct DedupRow: Sendable {
        public var id: Int
        public var key: String
        public var kept: Bool
        public var reason: String?
        public var sha256: String?
        public var pdq: String?
        public var pdqQuality: Int
        public var pdqTrimmed: String?
        public var inputFile: String
    }

    /// Every row, in row order, with what duplicate decisions need.
    public func dedupRows() throws -> [DedupRow] {
        try db.query(
            "SELECT id, key, status, reason, sha256, pdq, pdq_quality, pdq_trimmed, input_file FROM samples ORDER BY id"
        ).map {
            DedupRow(
                id: Int($0.int("id") ?? 0), key: $0.string("key") ?? "", kept: $0.string("status") == "kept",
                reason: $0.string("reason"), sha256: $0.string("sha256"), pdq: $0.string("pdq"),
                pdqQuality: Int($0.int("pdq_quality") ?? 0), pdqTrimmed: $0.string("pdq_trimmed"),
                inputFile: $0.string("input_file") ?? "")
        }
    }

    /// Points each duplicate at a kept sample: a `duplicate_of` naming a sample that is itself a duplicate (its
    /// part kept it; the merge dropped it) follows that one's `duplicate_of`, a few steps at most.
    public func repointDuplicates() throws {
        for _ in 0..<8 {
            try db.execute(
                """
                UPDATE samples SET duplicate_of = (SELECT d.duplicate_of FROM samples d WHERE d.key = samples.duplicate_of
                    AND d.status = 'dropped' AND d.duplicate_of IS NOT NULL LIMIT 1)
                WHERE duplicate_of IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM samples k WHERE k.key = samples.duplicate_of AND k.status = 'kept')
                    AND EXISTS (SELECT 1 FROM samples d WHERE d.key = samples.duplicate_of AND d.status = 'dropped'
                        AND d.duplicate_of IS NOT NULL AND d.duplicate_of != samples.duplicate_of)
                """)
            if db.changes == 0 { return }
        }
    }

    /// Marks row `id` a duplicate (of `of`, when known): dropped with `code` and `detail`. Its files stay where they
    /// are; what reads the index as kept no longer sees it.
    public func markDuplicate(id: Int, code: String, detail: String, of: String?) throws {
        try db.run(
            "UPDATE samples SET status = 'dropped', reason = ?1, reason_detail = ?2, duplicate_of = coalesce(?3, duplicate_of) WHERE id = ?4",
            [code, detail, of, id])
    }
}
