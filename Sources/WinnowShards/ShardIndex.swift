import Foundation
import WinnowCore
import WinnowSQLite

/// The SQLite index of an output directory: one row per candidate with its outcome, and where kept samples are.
/// Schema changes are migrations applied in order by `PRAGMA user_version`; schemas/index.sql mirrors them.
public final class ShardIndex {
    /// Migrations: entry i takes the schema from version i to i + 1.
    public static let migrations: [String] = [
        #"""
        -- Winnow shard index, schema version 1 (PRAGMA user_version = 1).
        -- One row per candidate, kept or dropped. Kept rows say where their files are in the tar shards.
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('kept', 'dropped')),
            reason TEXT,
            reason_detail TEXT,
            url TEXT NOT NULL,
            caption TEXT NOT NULL,
            page_url TEXT NOT NULL,
            input_file TEXT,
            record_offset INTEGER,
            record_id TEXT,
            page_date TEXT,
            opt_out_signals TEXT,
            http_status INTEGER,
            content_type TEXT,
            attempts INTEGER,
            original_format TEXT,
            original_width INTEGER,
            original_height INTEGER,
            original_bytes INTEGER,
            stored_width INTEGER,
            stored_height INTEGER,
            stored_bytes INTEGER,
            stored_ext TEXT,
            sha256 TEXT,
            duplicate_of TEXT,
            shard TEXT,
            tar_offset INTEGER,
            offset INTEGER,
            size INTEGER
        );
        CREATE INDEX samples_key ON samples (key);
        CREATE INDEX samples_url ON samples (url);
        CREATE INDEX samples_outcome ON samples (status, reason);
        CREATE INDEX samples_sha256 ON samples (sha256);
        CREATE TABLE shards (
            name TEXT PRIMARY KEY,
            samples INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL
        );
        CREATE TABLE run (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE input_errors (
            id INTEGER PRIMARY KEY,
            input_file TEXT NOT NULL,
            record_offset INTEGER NOT NULL,
            code TEXT NOT NULL,
            message TEXT NOT NULL
        );
        """#,
        #"""
        -- Version 2: the hashes that join with published metadata (LAION-5B's `hash`, cc2dataset's `uid`).
        ALTER TABLE samples ADD COLUMN laion_hash INTEGER;
        ALTER TABLE samples ADD COLUMN uid TEXT;
        CREATE INDEX samples_laion_hash ON samples (laion_hash);
        """#,
        #"""
        -- Version 3: the HTTP version each image came over (1.1, 2, ...).
        ALTER TABLE samples ADD COLUMN http_version TEXT;
        """#,
        #"""
        -- Version 4: MD5 and SHA-1 of the original bytes (the forms removal hash lists come in), and what the file
        -- says about itself: EXIF orientation, XMP plus:DataMining, C2PA manifest present.
        ALTER TABLE samples ADD COLUMN md5 TEXT;
        ALTER TABLE samples ADD COLUMN sha1 TEXT;
        ALTER TABLE samples ADD COLUMN exif_orientation INTEGER;
        ALTER TABLE samples ADD COLUMN data_mining TEXT;
        ALTER TABLE samples ADD COLUMN c2pa INTEGER;
        CREATE INDEX samples_md5 ON samples (md5);
        CREATE INDEX samples_sha1 ON samples (sha1);
        """#,
        #"""
        -- Version 5: the PDQ perceptual hash of the decoded image (64 hex digits) and its quality (0-100).
        ALTER TABLE samples ADD COLUMN pdq TEXT;
        ALTER TABLE samples ADD COLUMN pdq_quality INTEGER;
        """#,
        #"""
        -- Version 6: the CLIP image-text cosine similarity of every sample the embed stage saw, and for kept samples
        -- the row of their embeddings in the shard's img_emb/img_emb_NNNNN.npy and text_emb/text_emb_NNNNN.npy.
        ALTER TABLE samples ADD COLUMN similarity REAL;
        ALTER TABLE samples ADD COLUMN embedding_row INTEGER;
        """#,
        #"""
        -- Version 7: the PDQ of the image inside a uniform border (frame, letterbox, padding), when it has one.
        ALTER TABLE samples ADD COLUMN pdq_trimmed TEXT;
        """#,
        #"""
        -- Version 8: semantic near-duplicates (winnow dedup: SemDeDup over the CLIP image embeddings): the sample's
        -- k-means cluster and, for a duplicate, the key of the kept sample it duplicates and their cosine.
        ALTER TABLE samples ADD COLUMN semantic_cluster INTEGER;
        ALTER TABLE samples ADD COLUMN semantic_duplicate_of TEXT;
        ALTER TABLE samples ADD COLUMN semantic_similarity REAL;
        """#,
        #"""
        -- Version 9: opt-out removals (winnow optout apply): the request that removed a kept sample and when, and the
        -- renames and audit entry an interrupted apply still owes; the captions' full-text index (FTS5, Porter stemming: circle finds circles).
        ALTER TABLE samples ADD COLUMN removed_by TEXT;
        ALTER TABLE samples ADD COLUMN removed_at TEXT;
        CREATE TABLE pending_renames (partial TEXT PRIMARY KEY, final TEXT NOT NULL);
        CREATE TABLE pending_audit (id INTEGER PRIMARY KEY, apply_id TEXT NOT NULL, entry TEXT NOT NULL);
        CREATE VIRTUAL TABLE samples_fts USING fts5(caption, content='samples', content_rowid='id', tokenize='porter unicode61');
        INSERT INTO samples_fts (samples_fts) VALUES ('rebuild');
        """#,
        #"""
        -- Version 10: the input columns a run saved with each sample (--save-additional-columns), as a JSON object
        -- by output name; their names and types are in the run property saved_columns.
        ALTER TABLE samples ADD COLUMN saved_columns TEXT;
        """#,
        #"""
        -- Version 11: what the image's C2PA training-and-data-mining assertion says (cawg.training-mining: ...).
        ALTER TABLE samples ADD COLUMN c2pa_training TEXT;
        """#,
    ]

    /// The database.
    public let db: Connection
    private var insert: Statement?
    private var replace: Statement?

    /// Opens (creating and migrating, unless `readOnly`) the index at `path`.
    public init(path: String, readOnly: Bool = false) throws {
        if readOnly && !FileManager.default.fileExists(atPath: path) {
            throw WinnowError(
                .io, "\(path): no index here (is this a Winnow output directory, and did the run finish?)")
        }
        do {
            db = try Connection(path: path, readOnly: readOnly)
            let version = try db.userVersion
            if version > ShardIndex.migrations.count {
                throw WinnowError(
                    .database,
                    "\(path): index schema version \(version) is newer than this winnow (\(ShardIndex.migrations.count))"
                )
            }
            if !readOnly && version < ShardIndex.migrations.count {
                try db.transaction {
                    for v in version..<ShardIndex.migrations.count {
                        try db.execute(ShardIndex.migrations[v])
                        try db.execute("PRAGMA user_version = \(v + 1)")
                    }
                }
            }
            if readOnly && version == 0 { throw WinnowError(.database, "\(path): not a Winnow index (user_version 0)") }
        } catch let e as SQLiteError {
            throw WinnowError(.database, "\(path): \(e)")
        }
    }

    /// The columns of a sample's row, in the order `values(of:)` gives them.
    static let sampleColumns = [
        "key", "status", "reason", "reason_detail", "url", "caption", "page_url", "input_file", "record_offset",
        "record_id", "page_date", "opt_out_signals", "http_status", "content_type", "attempts", "original_format",
        "original_width", "original_height", "original_bytes", "stored_width", "stored_height", "stored_bytes",
        "stored_ext", "sha256", "duplicate_of", "shard", "tar_offset", "offset", "size", "laion_hash", "uid",
        "http_version", "md5", "sha1", "exif_orientation", "data_mining", "c2pa", "pdq", "pdq_quality", "similarity",
        "embedding_row", "pdq_trimmed", "saved_columns", "c2pa_training",
    ]

    /// The row of one sample, column by column (`sampleColumns`).
    static func values(
        of s: Sample, location: (shard: String, tarOffset: Int64, offset: Int64, size: Int)?, embeddingRow: Int?,
        priorAttempts: Int
    ) -> [SQLiteBindable] {
        let c = s.candidate
        let kept = location != nil
        let attempts = s.fetch.map { $0.attempts + priorAttempts } ?? (priorAttempts > 0 ? priorAttempts : nil)
        return [
            c.key, s.outcome.status, s.outcome.reason?.code, s.outcome.reason?.detail, c.url, c.caption, c.pageURL,
            c.provenance.inputFile, Int(c.provenance.recordOffset), c.provenance.recordID, c.provenance.pageDate,
            c.optOutSignals.isEmpty ? nil : c.optOutSignals.joined(separator: ","), s.fetch?.httpStatus,
            s.fetch?.contentType, attempts, s.image?.originalFormat, s.image?.originalWidth,
            s.image?.originalHeight, s.originalSize > 0 ? s.originalSize : nil, kept ? s.image?.storedWidth : nil,
            kept ? s.image?.storedHeight : nil, kept ? s.stored?.count : nil, kept ? s.storedExtension : nil, s.sha256,
            s.duplicateOf, location?.shard, location.map { Int($0.tarOffset) }, location.map { Int($0.offset) },
            location?.size, c.laionHash, c.cc2datasetUID, s.fetch?.httpVersion, s.md5, s.sha1, s.image?.exifOrientation,
            s.image?.dataMining, s.image.map { $0.hasC2PA ? 1 : 0 }, s.image?.pdq, s.image?.pdqQuality,
            s.similarity.map { (Double($0) * 1e6).rounded() / 1e6 }, embeddingRow, s.image?.pdqTrimmed,
            c.columns.isEmpty ? nil : ColumnValue.jsonObject(c.columns), s.image?.c2paTraining,
        ]
    }

    /// Adds the outcome row of one sample; `location` is where its files went in a shard.
    public func add(
        _ s: Sample, location: (shard: String, tarOffset: Int64, offset: Int64, size: Int)?, embeddingRow: Int? = nil
    ) throws {
        if insert == nil {
            let columns = ShardIndex.sampleColumns
            insert = try db.prepare(
                "INSERT INTO samples (\(columns.joined(separator: ", "))) VALUES (\(columns.indices.map { "?\($0 + 1)" }.joined(separator: ", ")))"
            )
        }
        // ok: prepared just above
        try insert!.run(ShardIndex.values(of: s, location: location, embeddingRow: embeddingRow, priorAttempts: 0))
    }

    /// Replaces the outcome of row `id` with a new attempt's (`winnow run --retry`): attempts add up.
    public func update(
        id: Int, _ s: Sample, location: (shard: String, tarOffset: Int64, offset: Int64, size: Int)?,
        embeddingRow: Int?, priorAttempts: Int
    ) throws {
        if replace == nil {
            let columns = ShardIndex.sampleColumns
            replace = try db.prepare(
                "UPDATE samples SET \(columns.enumerated().map { "\($1) = ?\($0 + 1)" }.joined(separator: ", ")) WHERE id = ?\(columns.count + 1)"
            )
        }
        try replace!.run(  // ok: prepared just above
            ShardIndex.values(of: s, location: location, embeddingRow: embeddingRow, priorAttempts: priorAttempts)
                + [id])
    }

    /// The rows dropped for one of `reasons` (a reason code, or a pattern such as `http_5xx`), in row order, as
    /// candidates to fetch again, with their row ids and the attempts made so far.
    public func droppedRows(reasons: Set<String>) throws -> [(id: Int, candidate: Candidate, attempts: Int)] {
        // Only the rows asked for are read (a finished crawl has millions of dropped rows): the codes themselves,
        // and an HTTP class as the statuses it covers.
        let codes = reasons.filter { !$0.hasSuffix("xx") }.sorted()
        let classes = reasons.filter { $0.hasPrefix("http_") && $0.hasSuffix("xx") }.map { String($0.dropLast(2)) }
        var conditions =
            codes.isEmpty ? [] : ["reason IN (\(codes.indices.map { "?\($0 + 1)" }.joined(separator: ", ")))"]
        let args: [SQLiteBindable] = codes + classes
        for k in classes.indices {
            conditions.append("(reason LIKE ?\(codes.count + k + 1) || '__' AND length(reason) = 8)")
        }
        guard !conditions.isEmpty else { return [] }
        return try db.query(
            """
            SELECT id, reason, url, caption, page_url, input_file, record_offset, record_id, page_date, opt_out_signals,
            attempts, saved_columns FROM samples WHERE status = 'dropped' AND (\(conditions.joined(separator: " OR "))) ORDER BY id
            """, args
        ).compactMap { row in
            guard let reason = row.string("reason"), ShardIndex.matches(reason, reasons) else { return nil }
            var c = Candidate(
                url: row.string("url") ?? "", caption: row.string("caption") ?? "",
                pageURL: row.string("page_url") ?? "",
                provenance: Provenance(
                    inputFile: row.string("input_file") ?? "", recordOffset: row.int("record_offset") ?? 0,
                    recordID: row.string("record_id"), pageDate: row.string("page_date")),
                optOutSignals: row.string("opt_out_signals").map { $0.split(separator: ",").map(String.init) } ?? [])
            if let saved = row.string("saved_columns") {
                c.columns = (try? JSONDecoder().decode([String: ColumnValue].self, from: Data(saved.utf8))) ?? [:]
            }
            return (Int(row.int("id") ?? 0), c, Int(row.int("attempts") ?? 0))
        }
    }

    /// Whether reason code `code` is one of `reasons`: a code itself, or `http_4xx` / `http_5xx` for its class.
    static func matches(_ code: String, _ reasons: Set<String>) -> Bool {
        if reasons.contains(code) { return true }
        if code.hasPrefix("http_"), code.count == 8 {
            return reasons.contains("http_" + code.dropFirst(5).prefix(1) + "xx")
        }
        return false
    }

    /// What is committed: sample rows, shards and kept samples, and the number the next shard takes.
    public func committedCounts() throws -> (samples: Int, shards: Int, kept: Int, nextShard: Int) {
        let samples = Int(try db.query("SELECT count(*) AS n FROM samples").first?.int("n") ?? 0)
        let kept = Int(try db.query("SELECT count(*) AS n FROM samples WHERE status = 'kept'").first?.int("n") ?? 0)
        let names = try db.query("SELECT name FROM shards").compactMap { $0.string("name") }
        let next = names.compactMap { OutputDirectory.shardNumber($0) }.max().map { $0 + 1 } ?? 0
        return (samples, names.count, kept, next)
    }

    /// The hashes of the kept samples, in the order they were written: what duplicate decisions are made against.
    public func keptHashes() throws -> [(
        key: String, sha256: String?, pdq: String?, pdqQuality: Int, pdqTrimmed: String?
    )] {
        try db.query("SELECT key, sha256, pdq, pdq_quality, pdq_trimmed FROM samples WHERE status = 'kept' ORDER BY id")
            .map {
                (
                    $0.string("key") ?? "", $0.string("sha256"), $0.string("pdq"), Int($0.int("pdq_quality") ?? 0),
                    $0.string("pdq_trimmed")
                )
            }
    }

    /// How many rows each input file has in the index.
    public func rowsByInput() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for r in try db.query("SELECT input_file, count(*) AS n FROM samples GROUP BY input_file") {
            if let f = r.string("input_file") { out[f] = Int(r.int("n") ?? 0) }
        }
        return out
    }

    /// The keys of the rows not of `input` whose reason is none of `reasons` (one scan).
    public func keys(exceptInput input: String, notDroppedFor reasons: [String]) throws -> [String] {
        let placeholders = reasons.indices.map { "?\($0 + 2)" }.joined(separator: ", ")
        return try db.query(
            "SELECT key FROM samples WHERE coalesce(input_file, '') <> ?1 AND coalesce(reason, '') NOT IN (\(placeholders))",
            ([input] + reasons).map { $0 as any SQLiteBindable }
        ).compactMap { $0.string("key") }
    }

    /// Deletes the input errors of every input but `inputs`.
    public func deleteInputErrors(keeping inputs: [String]) throws {
        if inputs.isEmpty {
            try db.execute("DELETE FROM input_errors")
            return
        }
        let placeholders = inputs.indices.map { "?\($0 + 1)" }.joined(separator: ", ")
        try db.run(
            "DELETE FROM input_errors WHERE input_file NOT IN (\(placeholders))",
            inputs.map { $0 as any SQLiteBindable })
    }

    /// Records a finished shard.
    public func addShard(name: String, samples: Int, bytes: Int64, sha256: String) throws {
        try db.run(
            "INSERT OR REPLACE INTO shards (name, samples, bytes, sha256) VALUES (?1, ?2, ?3, ?4)",
            [name, samples, Int(bytes), sha256])
    }

    /// Records an input record that had to be skipped.
    public func addInputError(inputFile: String, offset: Int64, code: String, message: String) throws {
        try db.run(
            "INSERT INTO input_errors (input_file, record_offset, code, message) VALUES (?1, ?2, ?3, ?4)",
            [inputFile, Int(offset), code, message])
    }

    /// A run property, if set.
    public func run(_ name: String) throws -> String? {
        try db.query("SELECT value FROM run WHERE name = ?1", [name]).first?.string("value")
    }

    /// Sets a run property (pipeline, inputs, times...).
    public func setRun(_ name: String, _ value: String) throws {
        try db.run("INSERT OR REPLACE INTO run (name, value) VALUES (?1, ?2)", [name, value])
    }
}
