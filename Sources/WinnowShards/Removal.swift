import Foundation
import WinnowCore
import WinnowSQLite

/// Removes samples from a finished output directory: what `winnow optout apply` does once it knows what matched.
///
/// Each affected shard (and its embedding files) is rewritten without the removed samples to `.partial` files and
/// synced; one index transaction then moves the remaining samples' offsets, marks the removed ones with their request
/// and time, updates the shard checksums, and records the renames and the audit entry it still owes; the renames
/// and the audit append follow, and the owed rows are deleted last. A kill before the commit leaves the directory as
/// it was (stray `.partial` files are removed by the next apply); a kill after it is rolled forward by the next
/// apply (`recover`). Shards without removed samples are not touched.
public enum Removal {
    /// A sample to remove and why.
    public struct Request: Sendable, Equatable {
        /// The sample key.
        public var key: String
        /// The request id that removes it.
        public var requestID: String
        /// How it matched (`R000001 domain example.com`, `R000002 pdq 6`): recorded as the reason detail.
        public var detail: String

        /// Creates a removal.
        public init(key: String, requestID: String, detail: String) {
            self.key = key
            self.requestID = requestID
            self.detail = detail
        }
    }

    /// A removed sample, as the audit log records it.
    public struct Removed: Sendable, Equatable, Codable {
        /// Sample key.
        public var key: String
        /// Its URL.
        public var url: String
        /// The shard it was in.
        public var shard: String
        /// The request that removed it.
        public var request: String
        /// How it matched.
        public var match: String
    }

    /// A rewritten shard, as the audit log records it.
    public struct ShardChange: Sendable, Equatable, Codable {
        /// Shard file name.
        public var shard: String
        /// SHA-256 and size before and after, and its sample count before and after.
        public var sha256Before: String, sha256After: String
        /// Bytes before and after.
        public var bytesBefore: Int, bytesAfter: Int
        /// Samples before and after.
        public var samplesBefore: Int, samplesAfter: Int

        enum CodingKeys: String, CodingKey {
            case shard
            case sha256Before = "sha256_before", sha256After = "sha256_after"
            case bytesBefore = "bytes_before", bytesAfter = "bytes_after"
            case samplesBefore = "samples_before", samplesAfter = "samples_after"
        }
    }

    /// One apply, as appended to `optout-audit.jsonl`.
    public struct AuditEntry: Sendable, Equatable, Codable {
        /// Unique id of this apply.
        public var applyID: String
        /// When (ISO 8601, UTC).
        public var time: String
        /// The output directory.
        public var directory: String
        /// The requests involved: id -> who asked and why (`requester`, `reason`, `subject`).
        public var requests: [String: [String: String]]
        /// What was removed.
        public var removed: [Removed]
        /// The shards rewritten.
        public var shards: [ShardChange]

        enum CodingKeys: String, CodingKey {
            case applyID = "apply_id", time, directory, requests, removed, shards
        }
    }

    /// The audit log of an output directory: one JSON object per line, appended, never rewritten.
    public static func auditLogPath(_ directory: String) -> String {
        (directory as NSString).appendingPathComponent("optout-audit.jsonl")
    }

    /// Finishes an apply that was killed after its commit (renames, audit entry) and removes the `.partial` files
    /// of one killed before it. Returns what it did, for the user, or nil when there was nothing to do.
    @discardableResult
    public static func recover(directory: String) throws -> String? {
        let index = try ShardIndex(path: ShardWriter.indexPath(directory))
        return try recover(directory: directory, index: index)
    }

    static func recover(directory: String, index: ShardIndex) throws -> String? {
        let db = index.db
        let renames = try db.query("SELECT partial, final FROM pending_renames ORDER BY partial")
        let audits = try db.query("SELECT apply_id, entry FROM pending_audit ORDER BY id")
        var finished = 0
        for r in renames {
            let partial = (directory as NSString).appendingPathComponent(r.string("partial") ?? "")
            let final = (directory as NSString).appendingPathComponent(r.string("final") ?? "")
            if FileManager.default.fileExists(atPath: partial) {
                guard rename(partial, final) == 0 else {
                    throw WinnowError(.io, "\(final): rename failed: \(String(cString: strerror(errno)))")
                }
                TarWriter.syncDirectory(of: final)
                finished += 1
                crashPoint("apply.renamed-one")
            }
        }
        for a in audits {
            try appendAudit(directory: directory, applyID: a.string("apply_id") ?? "", line: a.string("entry") ?? "")
        }
        crashPoint("apply.audited")
        if !renames.isEmpty || !audits.isEmpty {
            try db.transaction {
                try db.execute("DELETE FROM pending_renames; DELETE FROM pending_audit")
            }
        }
        // Partial files no committed apply owes: left by an apply killed before its commit.
        var stray = 0
        for p in partialFiles(directory) {
            try FileManager.default.removeItem(atPath: p)
            stray += 1
        }
        if renames.isEmpty && audits.isEmpty && stray == 0 { return nil }
        if renames.isEmpty && audits.isEmpty {
            return "\(directory): removed \(stray) partial files of an apply that was interrupted before it committed"
        }
        return "\(directory): finished an interrupted apply (\(finished) renames, \(audits.count) audit entries)"
    }

    static func partialFiles(_ directory: String) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for dir in [directory]
            + ShardWriter.embeddingFolders.map({ (directory as NSString).appendingPathComponent($0) })
        {
            for n in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where n.hasSuffix(".partial") {
                if n.hasPrefix("index.sqlite") { continue }
                out.append((dir as NSString).appendingPathComponent(n))
            }
        }
        return out.sorted()
    }

    private static func appendAudit(directory: String, applyID: String, line: String) throws {
        let path = auditLogPath(directory)
        // Already appended by the run that was killed before deleting its owed row: not twice.
        if let existing = FileManager.default.contents(atPath: path),
            String(decoding: existing, as: UTF8.self).contains("\"apply_id\":\"\(applyID)\"")
        {
            return
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WinnowError(.io, "\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count, fsync(fd) == 0 else {
            throw WinnowError(.io, "\(path): append failed: \(String(cString: strerror(errno)))")
        }
    }

    /// A kill at a named point, for the tests of recovery: `WINNOW_CRASH_AT=apply.committed` stops the process
    /// there as SIGKILL would (no cleanup, no buffers flushed).
    static func crashPoint(_ name: String) {
        if ProcessInfo.processInfo.environment["WINNOW_CRASH_AT"] == name { _exit(137) }
    }

    /// Removes `requests` (keys of kept samples) from `directory`. Keys that are not kept there (already removed,
    /// dropped, unknown) are skipped. `requestInfo` describes each request for the audit log.
    public static func apply(
        directory: String, requests: [Request], requestInfo: [String: [String: String]]
    ) throws -> (entry: AuditEntry?, recovered: String?) {
        let index = try ShardIndex(path: ShardWriter.indexPath(directory))
        let db = index.db
        let recovered = try recover(directory: directory, index: index)

        // What is kept here, of what was asked.
        var byKey: [String: Request] = [:]
        for r in requests where byKey[r.key] == nil { byKey[r.key] = r }
        var rows: [String: [Row]] = [:]  // shard -> kept rows of that shard, all of them
        var hit: Set<String> = []
        for r in try db.query(
            "SELECT id, key, url, shard, tar_offset, offset, embedding_row FROM samples WHERE status = 'kept' AND shard IS NOT NULL"
        ) {
            guard let key = r.string("key"), let shard = r.string("shard") else { continue }
            if byKey[key] != nil { hit.insert(shard) }
            rows[shard, default: []].append(r)
        }
        if hit.isEmpty { return (nil, recovered) }

        let now = ISO8601DateFormatter().string(from: Date())
        var removed: [Removed] = []
        var changes: [ShardChange] = []
        var updates: [(id: Int64, tarOffset: Int64, offset: Int64, row: Int?)] = []
        var renames: [(partial: String, final: String)] = []
        var removedIDs: [(id: Int64, request: Request)] = []
        for shard in hit.sorted() {
            let path = (directory as NSString).appendingPathComponent(shard)
            let shardRows = rows[shard] ?? []
            let gone = Set(shardRows.compactMap { r in r.string("key").flatMap { byKey[$0] != nil ? $0 : nil } })
            let before = try shardInfo(db, shard)
            let rewrite = try rewriteTar(path: path, removing: gone)
            // Offsets move by what was cut before them; embedding rows are renumbered in their old order.
            var newRow: [Int64: Int] = [:]
            var next = 0
            for r in shardRows.sorted(by: { ($0.int("embedding_row") ?? -1) < ($1.int("embedding_row") ?? -1) }) {
                guard let key = r.string("key"), !gone.contains(key), r.int("embedding_row") != nil else { continue }
                newRow[r.int("id") ?? 0] = next
                next += 1
            }
            for r in shardRows {
                guard let id = r.int("id"), let key = r.string("key") else { continue }
                if let req = byKey[key] {
                    removedIDs.append((id, req))
                    removed.append(
                        Removed(
                            key: key, url: r.string("url") ?? "", shard: shard, request: req.requestID,
                            match: req.detail))
                    continue
                }
                guard let tarOffset = r.int("tar_offset"), let offset = r.int("offset"),
                    let shift = rewrite.shift[tarOffset]
                else {
                    throw WinnowError(
                        .format, "\(path): sample \(key) is not where the index says (\(r.int("tar_offset") ?? -1))")
                }
                updates.append((id, tarOffset - shift, offset - shift, newRow[id]))
            }
            renames.append((shard + ".partial", shard))
            try rewriteEmbeddings(
                directory: directory, shard: shard, rows: shardRows, removing: gone, renames: &renames)
            changes.append(
                ShardChange(
                    shard: shard, sha256Before: before.sha256, sha256After: rewrite.sha256, bytesBefore: before.bytes,
                    bytesAfter: rewrite.bytes, samplesBefore: before.samples, samplesAfter: before.samples - gone.count)
            )
        }
        crashPoint("apply.partials-written")

        let entry = AuditEntry(
            applyID: UUID().uuidString.lowercased(), time: now, directory: directory,
            requests: requestInfo.filter { id, _ in removed.contains { $0.request == id } }, removed: removed,
            shards: changes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = String(decoding: try encoder.encode(entry), as: UTF8.self)
        try db.transaction {
            for (id, req) in removedIDs {
                try db.run(
                    """
                    UPDATE samples SET status = 'dropped', reason = 'opt_out_removed', reason_detail = ?1, removed_by = ?2,
                    removed_at = ?3, shard = NULL, tar_offset = NULL, offset = NULL, size = NULL, embedding_row = NULL
                    WHERE id = ?4
                    """, [req.detail, req.requestID, now, Int(id)])
            }
            let move = try db.prepare(
                "UPDATE samples SET tar_offset = ?1, offset = ?2, embedding_row = ?3 WHERE id = ?4")
            for u in updates { try move.run([Int(u.tarOffset), Int(u.offset), u.row, Int(u.id)]) }
            for c in changes {
                try db.run(
                    "UPDATE shards SET samples = ?1, bytes = ?2, sha256 = ?3 WHERE name = ?4",
                    [c.samplesAfter, c.bytesAfter, c.sha256After, c.shard])
            }
            // A shard's Parquet metadata is written again from the updated rows: removed samples leave it too.
            for c in changes
            where FileManager.default.fileExists(atPath: SampleTable.parquetPath(directory, shard: c.shard)) {
                try SampleTable.writeShard(index, directory: directory, shard: c.shard, renaming: false)
                let name = (c.shard as NSString).deletingPathExtension + ".parquet"
                renames.append((name + ".partial", name))
            }
            for r in renames {
                try db.run("INSERT INTO pending_renames (partial, final) VALUES (?1, ?2)", [r.partial, r.final])
            }
            try db.run("INSERT INTO pending_audit (apply_id, entry) VALUES (?1, ?2)", [entry.applyID, line])
        }
        crashPoint("apply.committed")
        _ = try recover(directory: directory, index: index)
        return (entry, recovered)
    }

    private static func shardInfo(_ db: Connection, _ shard: String) throws -> (
        sha256: String, bytes: Int, samples: Int
    ) {
        guard let r = try db.query("SELECT sha256, bytes, samples FROM shards WHERE name = ?1", [shard]).first else {
            throw WinnowError(.database, "shard \(shard) is not in the index's shard table")
        }
        return (r.string("sha256") ?? "", Int(r.int("bytes") ?? 0), Int(r.int("samples") ?? 0))
    }

    /// Copies the tar at `path` to `path.partial` without the members of `removing` (a member's key is its name up
    /// to the first dot, as webdataset groups them), byte for byte otherwise, and syncs it. Returns, for each
    /// header offset kept, how far it moved back, and the new file's checksum and size.
    static func rewriteTar(path: String, removing: Set<String>) throws -> (
        shift: [Int64: Int64], sha256: String, bytes: Int
    ) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WinnowError(.io, "\(path): cannot read the shard")
        }
        let bytes = [UInt8](data)
        let members = try TarReader.members(bytes: bytes, path: path)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var shift: [Int64: Int64] = [:]
        for m in members {
            let header = Int(m.offset) - 512
            let end = Int(m.offset) + (m.size + 511) / 512 * 512
            let base = (m.name as NSString).lastPathComponent
            let key = String(base.prefix { $0 != "." })
            if removing.contains(key) { continue }
            shift[Int64(header)] = Int64(header - out.count)
            out += bytes[header..<end]
        }
        out += [UInt8](repeating: 0, count: 1024)
        try ShardWriter.writeSynced(out, to: path + ".partial")
        return (shift, SHA256.hexDigest(out), out.count)
    }

    private static func rewriteEmbeddings(
        directory: String, shard: String, rows: [Row], removing: Set<String>,
        renames: inout [(partial: String, final: String)]
    ) throws {
        let keep = rows.filter { r in r.string("key").map { !removing.contains($0) } ?? false }
            .compactMap { $0.int("embedding_row").map { Int($0) } }.sorted()
        let paths = ShardWriter.embeddingFiles(directory, shard: shard)
        for (folder, path) in zip(ShardWriter.embeddingFolders, [paths.image, paths.text])
        where FileManager.default.fileExists(atPath: path) {
            let file = try EmbeddingFile.read(directory, shard: shard, folder: folder, rows: keep)
            try ShardWriter.writeSynced(
                NPY.encode(try file.rows(keep), shape: [keep.count, file.shape.width], dtype: file.dtype),
                to: path + ".partial")
            let relative = String(path.dropFirst(directory.count).drop { $0 == "/" })
            renames.append((relative + ".partial", relative))
        }
    }
}
