import Foundation
import WinnowCore

/// Writes samples to webdataset tar shards (`00000.tar`...: `KEY.jpg`, `KEY.txt`, `KEY.json`) and every outcome to the
/// index. The index is built as `index.sqlite.partial` and renamed to `index.sqlite` by `finish()`, so an index under
/// its final name always belongs to a finished run. Not thread-safe: the pipeline's writer thread owns it.
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
    /// Element type of the per-shard embedding files.
    public var embeddingType: NPY.DType = .float16
    private var imageRows: [Float] = []
    private var textRows: [Float] = []
    private var embeddingWidth = 0

    /// Final path of the index in `directory`.
    public static func indexPath(_ directory: String) -> String {
        (directory as NSString).appendingPathComponent("index.sqlite")
    }

    /// Prepares `directory` (which must hold no finished run) and opens the partial index.
    public init(directory: String, samplesPerShard: Int) throws {
        self.directory = directory
        self.samplesPerShard = max(1, samplesPerShard)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let partial = ShardWriter.indexPath(directory) + ".partial"
        for suffix in ["", "-journal", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: partial + suffix) }
        index = try ShardIndex(path: partial)
        // The index is built under a .partial name and renamed into place only when the run finishes (after an
        // fsync), so a crash leaves nothing half-written under the final name: no rollback journal is needed while
        // it grows, nor a sync per commit. A larger page cache keeps the b-tree pages of its indexes in memory
        // (bounded: 16 MiB) instead of rewriting them.
        try index.db.execute("PRAGMA journal_mode = OFF")
        try index.db.execute("PRAGMA synchronous = OFF")
        try index.db.execute("PRAGMA cache_size = -16384")
        try index.db.execute("BEGIN")
    }

    /// Sets a run property in the index.
    public func setRun(_ name: String, _ value: String) throws { try index.setRun(name, value) }

    /// Records an input record that had to be skipped (it yields no candidate, so it has no sample row).
    public func writeInputError(inputFile: String, offset: Int64, code: String, message: String) throws {
        try index.addInputError(inputFile: inputFile, offset: offset, code: code, message: message)
    }

    /// Writes one sample: its files if kept, its outcome row always.
    public func write(_ s: Sample) throws {
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
        try index.add(s, location: location, embeddingRow: row)
        sinceCommit += 1
        if inShard >= samplesPerShard { try closeShard() }
        if sinceCommit >= 1000 {
            try index.db.execute("COMMIT; BEGIN")
            sinceCommit = 0
        }
    }

    private func closeShard() throws {
        guard let t = tar else { return }
        let digest = try t.finish()
        if embeddingWidth > 0 && !imageRows.isEmpty {
            let paths = try ShardWriter.embeddingPaths(directory, shard: (t.path as NSString).lastPathComponent)
            let n = imageRows.count / embeddingWidth
            try ShardWriter.writeAtomically(
                NPY.encode(imageRows, shape: [n, embeddingWidth], dtype: embeddingType), to: paths.image)
            try ShardWriter.writeAtomically(
                NPY.encode(textRows, shape: [n, embeddingWidth], dtype: embeddingType), to: paths.text)
            imageRows.removeAll(keepingCapacity: true)
            textRows.removeAll(keepingCapacity: true)
        }
        try index.addShard(
            name: (t.path as NSString).lastPathComponent, samples: inShard, bytes: t.size, sha256: digest)
        tar = nil
        inShard = 0
        shardNumber += 1
        shardsWritten += 1
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
        // The captions' full-text index is built once, at the end: cheaper than a trigger per row.
        try index.db.execute("INSERT INTO samples_fts (samples_fts) VALUES ('rebuild')")
        try index.db.execute("COMMIT")
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
            if let h = i.pdq { m.add("pdq", h) }
            if let q = i.pdqQuality { m.add("pdq_quality", q) }
            if let t = i.pdqTrimmed { m.add("pdq_trimmed", t) }
        }
        if let f = s.fetch {
            m.add("http_status", f.httpStatus)
            if let ct = f.contentType { m.add("content_type", ct) }
            if let v = f.httpVersion { m.add("http_version", v) }
        }
        return Array(m.text().utf8)
    }
}
