import Foundation
import WinnowCore

/// Writes samples to webdataset tar shards (`00000.tar`...: `KEY.jpg`, `KEY.txt`, `KEY.json`) and every outcome to the
/// index. The index is built as `index.sqlite.partial` and renamed to `index.sqlite` by `finish()`, so an index under
/// its final name always belongs to a finished run. Not thread-safe: the pipeline's writer thread owns it.
///
/// Resumable: the partial index commits when a shard is finished (its tar synced and renamed into place, its
/// embedding files written), together with the rows of every sample written so far, and, while no shard is open,
/// every 1,000 rows. So what is committed is always a prefix of the samples in the order they were written, and a
/// shard is committed exactly when its rows are. A writer opened with `resume` keeps that prefix, removes the files
/// of the shard that was not committed, and continues after it: a kill costs at most one shard's worth of samples.
public final class ShardWriter {
    /// Output directory.
    public let directory: String
    /// Samples per shard.
    public let samplesPerShard: Int
    private let index: ShardIndex
    private var tar: TarWriter?
    private var shardNumber = 0
    private var inShard = 0
    private var sinceCommit = 0
    /// Shards finished so far.
    public private(set) var shardsWritten = 0
    /// What a resumed writer found committed (all zero for a new one): sample rows, shards, kept samples.
    public private(set) var committed = (samples: 0, shards: 0, kept: 0)
    /// Sample rows committed so far (a resumed writer's included).
    public private(set) var committedSamples = 0
    private var written = 0
    /// Files of an uncommitted shard that a resumed writer removed.
    public private(set) var removedUncommitted: [String] = []
    /// Element type of the per-shard embedding files.
    public var embeddingType: NPY.DType = .float16
    private var imageRows: [Float] = []
    private var textRows: [Float] = []
    private var embeddingWidth = 0
    private var retrying = false
    /// Whether each shard gets its `NNNNN.parquet` of sample metadata (pipeline `write.parquet`).
    public var writesParquet = true

    /// Final path of the index in `directory`.
    public static func indexPath(_ directory: String) -> String {
        (directory as NSString).appendingPathComponent("index.sqlite")
    }

    /// Opens the partial index of `directory` (which must hold no finished run): a new one, or with `resume` the one
    /// a killed or stopped run left, keeping what it committed.
    public init(directory: String, samplesPerShard: Int, resume: Bool = false) throws {
        self.directory = directory
        self.samplesPerShard = max(1, samplesPerShard)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let partial = ShardWriter.indexPath(directory) + ".partial"
        let resuming = resume && FileManager.default.fileExists(atPath: partial)
        if !resuming {
            for suffix in ["", "-journal", "-wal", "-shm"] {
                try? FileManager.default.removeItem(atPath: partial + suffix)
            }
        }
        // Opening recovers the last commit (SQLite rolls back what a kill left half-written).
        index = try ShardIndex(path: partial)
        // Write-ahead log, synced at checkpoints only: a commit costs no fsync, and a kill (not a power loss)
        // loses nothing committed; after a power loss the index may go back a few commits, whose shards are then
        // uncommitted files and are redone, never half-read. A larger page cache keeps the b-tree pages of its
        // indexes in memory (bounded: 16 MiB) instead of rewriting them.
        try index.db.execute("PRAGMA journal_mode = WAL")
        try index.db.execute("PRAGMA synchronous = NORMAL")
        try index.db.execute("PRAGMA cache_size = -16384")
        if resuming {
            let c = try index.committedCounts()
            committed = (c.samples, c.shards, c.kept)
            committedSamples = c.samples
            written = c.samples
            shardNumber = c.nextShard
            shardsWritten = c.shards
            savedColumns = try SampleTable.savedColumns(index)
            // Input errors are committed with the shards (`beforeCommit`); the resumed run deletes those of the
            // inputs it reads again (`deleteInputErrors(keeping:)`).
            removedUncommitted = try ShardWriter.removeUncommitted(directory, from: shardNumber)
        } else if resume {
            // Killed before its index existed: whatever shard file it began is not committed.
            removedUncommitted = try ShardWriter.removeUncommitted(directory, from: 0)
        }
        try index.db.execute("BEGIN")
    }

    /// Removes the shard files numbered `from` or more (and their embedding files): a shard renamed into place
    /// whose commit did not happen, or the partial file of an open one.
    static func removeUncommitted(_ directory: String, from first: Int) throws -> [String] {
        var removed: [String] = []
        for n in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let number = OutputDirectory.shardFileNumber(n), number >= first else { continue }
            try FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(n))
            removed.append(n)
        }
        _ = try OutputDirectory.removeEmbeddingFiles(directory) { $0 >= first }
        return removed.sorted()
    }

    /// Opens the finished index of `directory` to fetch again what failed (`winnow run --retry`): new shards are
    /// numbered after the last one, rows are updated in place (`write(_:replacing:)`), and each shard commits with
    /// its rows as in a run, so a killed retry keeps what it committed and can be run again.
    public init(retrying directory: String, samplesPerShard: Int) throws {
        self.directory = directory
        self.samplesPerShard = max(1, samplesPerShard)
        retrying = true
        index = try ShardIndex(path: ShardWriter.indexPath(directory))
        // A rollback journal: the index stays a single file that read-only readers open as it is.
        try index.db.execute("PRAGMA journal_mode = DELETE")
        try index.db.execute("PRAGMA synchronous = NORMAL")
        let c = try index.committedCounts()
        committed = (c.samples, c.shards, c.kept)
        committedSamples = c.samples
        shardNumber = c.nextShard
        shardsWritten = c.shards
        savedColumns = try SampleTable.savedColumns(index)
        removedUncommitted = try ShardWriter.removeUncommitted(directory, from: shardNumber)
        try index.db.execute("BEGIN")
    }

    /// The rows dropped for one of `reasons` (codes, or `http_4xx` / `http_5xx`), with their ids and attempts.
    public func droppedRows(reasons: Set<String>) throws -> [(id: Int, candidate: Candidate, attempts: Int)] {
        try index.droppedRows(reasons: reasons)
    }

    /// Stops early, keeping everything written so far: the open shard is finished as it is (fewer samples) and
    /// committed with its rows, so that a stop always makes progress (a run whose shards fill more slowly than its
    /// time limit would otherwise lose its open shard at every stop). The index stays partial: a rerun resumes.
    public func stopCommitting() throws {
        if tar != nil { try closeShard() } else { try commit() }
        try index.db.execute("COMMIT")
        index.db.close()
    }

    /// Stops without finishing: the open shard's partial file is removed and whatever is not committed is rolled
    /// back, so that the directory holds exactly the last commit (for a graceful stop; a rerun resumes from there).
    public func abandon() {
        if let t = tar {
            t.close()
            unlink(t.path + ".partial")
            tar = nil
        }
        try? index.db.execute("ROLLBACK")
        index.db.close()
    }

    /// Records the input columns the samples carry (`--save-additional-columns`): their output names and types, for
    /// the shards' Parquet files and `winnow export`.
    public func setSavedColumns(_ columns: [SavedColumn]) throws {
        guard !columns.isEmpty else { return }
        savedColumns = columns
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try index.setRun("saved_columns", String(decoding: try encoder.encode(columns), as: UTF8.self))
    }

    private var savedColumns: [SavedColumn] = []

    /// Adds the columns a sample carries that no input declared (a candidate file, a JSON Lines list), typed by
    /// their first value that is not null.
    private func learnColumns(_ columns: [String: ColumnValue]) throws {
        var added: [SavedColumn] = []
        for (name, value) in columns.sorted(by: { $0.key < $1.key })
        where !savedColumns.contains(where: { $0.name == name }) {
            switch value {
            case .null: continue
            case .bool: added.append(SavedColumn(name: name, kind: "boolean"))
            case .int: added.append(SavedColumn(name: name, kind: "int64"))
            case .double: added.append(SavedColumn(name: name, kind: "double"))
            case .string: added.append(SavedColumn(name: name, kind: "string"))
            }
        }
        if !added.isEmpty { try setSavedColumns(savedColumns + added) }
    }

    /// Sets a run property in the index.
    public func setRun(_ name: String, _ value: String) throws { try index.setRun(name, value) }

    /// Adds a line to a run property (a log such as `retried`).
    public func appendRun(_ name: String, _ line: String) throws {
        try index.setRun(name, (try index.run(name)).map { $0 + "\n" + line } ?? line)
    }

    /// Records an input record that had to be skipped (it yields no candidate, so it has no sample row).
    public func writeInputError(inputFile: String, offset: Int64, code: String, message: String) throws {
        try index.addInputError(inputFile: inputFile, offset: offset, code: code, message: message)
    }

    /// Writes one sample: its files if kept, its outcome row always (a new row, or with `replacing` the row of a
    /// retried sample, whose earlier attempts are added to this one's).
    public func write(_ s: Sample, replacing: (id: Int, attempts: Int)? = nil) throws {
        if s.candidate.columns.count > savedColumns.count {
            try learnColumns(s.candidate.columns)
        }
        var location: (shard: String, tarOffset: Int64, offset: Int64, size: Int)?
        var row: Int?
        if s.isKept, let stored = s.stored {
            if tar == nil {
                let name = String(format: "%05d.tar", shardNumber)
                tar = try TarWriter(path: (directory as NSString).appendingPathComponent(name))
            }
            let name = ((tar!.path) as NSString).lastPathComponent  // ok: set just above
            let key = s.candidate.key
            let image = try tar!.add(name: "\(key).\(s.storedExtension)", data: stored)
            try tar!.add(name: "\(key).txt", data: Array(s.candidate.caption.utf8))
            try tar!.add(name: "\(key).json", data: ShardWriter.metadata(s))
            location = (name, image.header, image.data, stored.count)
            inShard += 1
            if let i = s.imageEmbedding, let t = s.textEmbedding {
                precondition(
                    i.count == t.count && (embeddingWidth == 0 || i.count == embeddingWidth), "embedding width")
                embeddingWidth = i.count
                row = imageRows.count / i.count
                imageRows += i
                textRows += t
            }
        }
        if let r = replacing {
            try index.update(id: r.id, s, location: location, embeddingRow: row, priorAttempts: r.attempts)
        } else {
            try index.add(s, location: location, embeddingRow: row)
            written += 1
        }
        sinceCommit += 1
        if inShard >= samplesPerShard {
            try closeShard()
        } else if tar == nil && sinceCommit >= 1000 {
            try commit()
        }
    }

    /// Runs inside each commit's transaction, before it commits (the run writes the input errors found so far).
    public var beforeCommit: (() throws -> Void)?

    private func commit() throws {
        try beforeCommit?()
        try index.db.execute("COMMIT; BEGIN")
        committedSamples = written
        sinceCommit = 0
    }

    /// Committed rows of each input file.
    public func rowsByInput() throws -> [String: Int] { try index.rowsByInput() }

    /// The keys of the committed rows not of `input` whose reason is none of `reasons`.
    public func keys(exceptInput input: String, notDroppedFor reasons: [String]) throws -> [String] {
        try index.keys(exceptInput: input, notDroppedFor: reasons)
    }

    /// Deletes the committed input errors of every input but `inputs` (a resumed run reads those again).
    public func deleteInputErrors(keeping inputs: [String]) throws { try index.deleteInputErrors(keeping: inputs) }

    /// The kept samples' hashes committed so far, in the order they were written.
    public func keptHashes() throws -> [(
        key: String, sha256: String?, pdq: String?, pdqQuality: Int, pdqTrimmed: String?
    )] {
        try index.keptHashes()
    }

    private func closeShard() throws {
        guard let t = tar else { return }
        let digest = try t.finish()
        CrashPoint.reached("shard-renamed")
        let shard = (t.path as NSString).lastPathComponent
        if writesParquet {
            // From the rows written in this transaction: what the index will say once it commits.
            try SampleTable.writeShard(index, directory: directory, shard: shard)
            CrashPoint.reached("parquet-written")
        }
        if embeddingWidth > 0 && !imageRows.isEmpty {
            let paths = try ShardWriter.embeddingPaths(directory, shard: (t.path as NSString).lastPathComponent)
            let n = imageRows.count / embeddingWidth
            try ShardWriter.writeAtomically(
                NPY.encode(imageRows, shape: [n, embeddingWidth], dtype: embeddingType), to: paths.image)
            try ShardWriter.writeAtomically(
                NPY.encode(textRows, shape: [n, embeddingWidth], dtype: embeddingType), to: paths.text)
            imageRows.removeAll(keepingCapacity: true)
            textRows.removeAll(keepingCapacity: true)
            CrashPoint.reached("embeddings-written")
        }
        try index.addShard(
            name: (t.path as NSString).lastPathComponent, samples: inShard, bytes: t.size, sha256: digest)
        tar = nil
        inShard = 0
        shardNumber += 1
        shardsWritten += 1
        try commit()
        CrashPoint.reached("index-committed")
    }

    /// The folders of the per-shard embedding files, as clip-retrieval lays them out.
    public static let embeddingFolders = ["img_emb", "text_emb"]

    /// Where shard `NNNNN.tar`'s embeddings go, creating the folders: `DIR/img_emb/img_emb_NNNNN.npy` and
    /// `DIR/text_emb/text_emb_NNNNN.npy`, one row per kept sample that has embeddings, in the order of the index's
    /// `embedding_row`.
    public static func embeddingPaths(_ directory: String, shard: String) throws -> (image: String, text: String) {
        let paths = embeddingFiles(directory, shard: shard)
        for p in [paths.image, paths.text] {
            try FileManager.default.createDirectory(
                atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        return paths
    }

    /// Where shard `NNNNN.tar`'s embedding files are (without creating anything). A shard named with a folder
    /// (`part-1/00000.tar`, in a merged index) has them in that folder's `img_emb` and `text_emb`.
    public static func embeddingFiles(_ directory: String, shard: String) -> (image: String, text: String) {
        let folder = (shard as NSString).deletingLastPathComponent
        let base = folder.isEmpty ? directory : (directory as NSString).appendingPathComponent(folder)
        let number = ((shard as NSString).lastPathComponent as NSString).deletingPathExtension
        let paths = embeddingFolders.map {
            ((base as NSString).appendingPathComponent($0) as NSString).appendingPathComponent("\($0)_\(number).npy")
        }
        return (paths[0], paths[1])
    }

    /// Writes `bytes` to `path.partial`, fsyncs, and renames it to `path`.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let partial = path + ".partial"
        try writeSynced(bytes, to: partial)
        if rename(partial, path) != 0 { throw WinnowError(.io, "\(path): rename failed (errno \(errno))") }
    }

    /// Writes `bytes` to `path` (created or truncated) and fsyncs it.
    public static func writeSynced(_ bytes: [UInt8], to partial: String) throws {
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw WinnowError(.io, "\(partial): cannot create (errno \(errno))") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n <= 0 {
                close(fd)
                throw WinnowError(.io, "\(partial): write failed (errno \(errno))")
            }
            written += n
        }
        guard fsync(fd) == 0, close(fd) == 0 else {
            throw WinnowError(.io, "\(partial): fsync failed (errno \(errno))")
        }
    }

    /// Closes the last shard, commits, and renames the index into place.
    public func finish() throws {
        try closeShard()
        if retrying {
            try index.db.execute("COMMIT")
            index.db.close()
            return
        }
        // The captions' full-text index is built once, at the end: cheaper than a trigger per row.
        try index.db.execute("INSERT INTO samples_fts (samples_fts) VALUES ('rebuild')")
        try index.db.execute("COMMIT")
        // Back to a rollback journal: readers of the finished index (read-only ones too) need no -wal or -shm.
        try index.db.execute("PRAGMA journal_mode = DELETE")
        index.db.close()
        try ShardWriter.commitPartialIndex(directory)
    }

    /// Syncs `DIR/index.sqlite.partial` and renames it to `DIR/index.sqlite`.
    public static func commitPartialIndex(_ directory: String) throws {
        let final = ShardWriter.indexPath(directory)
        let fd = open(final + ".partial", O_RDONLY)
        guard fd >= 0, fsync(fd) == 0 else {
            if fd >= 0 { close(fd) }
            throw WinnowError(.io, "\(final).partial: fsync failed (errno \(errno))")
        }
        close(fd)
        if rename(final + ".partial", final) != 0 { throw WinnowError(.io, "\(final): rename failed") }
        TarWriter.syncDirectory(of: final)
    }

    /// The sample's `.json` member: what img2dataset writes, plus provenance.
    static func metadata(_ s: Sample) -> [UInt8] {
        let c = s.candidate
        var m = JSONObject()
        m.add("key", c.key)
        m.add("hash", Int(c.laionHash))  // LAION-5B's `hash`, to join with its metadata
        m.add("uid", c.cc2datasetUID)  // cc2dataset's `uid`
        m.add("url", c.url)
        m.add("caption", c.caption)
        m.add("page_url", c.pageURL)
        m.add("status", "success")
        m.add("input_file", c.provenance.inputFile)
        m.add("record_offset", Int(c.provenance.recordOffset))
        m.add("sha256", s.sha256 ?? "")
        if let h = s.md5 { m.add("md5", h) }
        if let h = s.sha1 { m.add("sha1", h) }
        m.add("original_bytes", s.originalSize)
        if let id = c.provenance.recordID { m.add("record_id", id) }
        if let d = c.provenance.pageDate { m.add("page_date", d) }
        if let i = s.image {
            m.add("width", i.storedWidth)
            m.add("height", i.storedHeight)
            m.add("original_width", i.originalWidth)
            m.add("original_height", i.originalHeight)
            m.add("original_format", i.originalFormat)
            if i.exifOrientation != 1 { m.add("exif_orientation", i.exifOrientation) }
            if let d = i.dataMining { m.add("data_mining", d) }
            if i.hasC2PA { m.add("c2pa", 1) }
            if let t = i.c2paTraining { m.add("c2pa_training", t) }
            if let h = i.pdq { m.add("pdq", h) }
            if let q = i.pdqQuality { m.add("pdq_quality", q) }
            if let t = i.pdqTrimmed { m.add("pdq_trimmed", t) }
        }
        if let sim = s.similarity { m.add("similarity", (Double(sim) * 1e6).rounded() / 1e6) }
        for (name, value) in c.columns { m.add(json: name, value.json) }
        if let f = s.fetch {
            m.add("http_status", f.httpStatus)
            if let ct = f.contentType { m.add("content_type", ct) }
            if let v = f.httpVersion { m.add("http_version", v) }
        }
        return Array(m.text().utf8)
    }
}
