import Foundation
import WinnowCore
import WinnowSQLite

/// Counts of an output directory, read from its index: what `winnow stats` and the run summary print.
public struct IndexStats: Sendable, Equatable, Codable {
    /// Index rows (one per candidate).
    public var candidates: Int
    /// Candidates whose download succeeded (kept, or dropped after the download).
    public var fetched: Int
    /// Samples kept and written to shards.
    public var kept: Int
    /// Samples dropped.
    public var dropped: Int
    /// Dropped samples by reason code.
    public var droppedByReason: [String: Int]
    /// Input records skipped as malformed.
    public var inputErrors: Int
    /// Shard files.
    public var shards: Int
    /// Bytes in shard files.
    public var shardBytes: Int
    /// Bytes of stored images.
    public var imageBytes: Int
    /// Origins whose circuit breaker opened during the run: how often, the state at the end, the last reason.
    public var circuitBreakers: [String] = []
    /// The opt-out registry the run consulted, and how many entries it held then (nil: none was consulted).
    public var optOutRegistry: String?
    /// Entries of that registry.
    public var optOutEntries: Int?
    /// Inputs that could not be read at all or to their end (a remote input whose transfer failed for good): their
    /// `input_unreadable` rows in input_errors.
    public var unreadableInputs: [String] = []

    enum CodingKeys: String, CodingKey {
        case candidates, fetched, kept, dropped
        case circuitBreakers = "circuit_breakers"
        case optOutRegistry = "optout_registry"
        case optOutEntries = "optout_entries"
        case droppedByReason = "dropped_by_reason"
        case inputErrors = "input_errors"
        case shards
        case shardBytes = "shard_bytes"
        case imageBytes = "image_bytes"
        case unreadableInputs = "unreadable_inputs"
    }
}

/// Read-only access to an output directory's index and shards.
public final class IndexReader {
    /// The output directory.
    public let directory: String
    private let index: ShardIndex

    /// Opens `directory/index.sqlite` read-only; a clear error if there is none.
    public init(directory: String) throws {
        self.directory = directory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw WinnowError(.io, "\(directory): no such output directory")
        }
        let path = ShardWriter.indexPath(directory)
        var index = try ShardIndex(path: path, readOnly: true)
        // An index written by an older winnow is brought up to date once (its captions' full-text index is built),
        // when the directory is writable; otherwise it is read as it is.
        if (try? index.db.userVersion) ?? 0 < ShardIndex.migrations.count, access(path, W_OK) == 0,
            access(directory, W_OK) == 0
        {
            index.db.close()
            // A migration that cannot be written (a read-only mount, a full disk) leaves the index as it was.
            _ = try? ShardIndex(path: path)
            index = try ShardIndex(path: path, readOnly: true)
        }
        self.index = index
        if try index.db.query("SELECT name FROM sqlite_master WHERE name = 'pending_renames'").first != nil,
            try index.db.query("SELECT 1 FROM pending_renames LIMIT 1").first != nil
        {
            throw WinnowError(
                .usage,
                "\(directory): an opt-out apply was interrupted; run 'winnow optout apply \(directory)' to finish it")
        }
    }

    /// A run property (`embed_model`, `pipeline`, ...), if recorded.
    public func runValue(_ name: String) throws -> String? {
        try q("SELECT value FROM run WHERE name = ?1", [name]).first?.string("value")
    }

    /// What the opt-out registry is matched against: a kept sample's key, URL and hashes.
    public struct KeptHashes: Sendable {
        /// Sample key, URL, and caption.
        public var key: String, url: String, caption: String
        /// Hex digests of the bytes as fetched, and the PDQ hashes (whole image, inside its border).
        public var md5: String?, sha1: String?, sha256: String?, pdq: [String]
    }

    /// Every kept sample's key, URL and hashes, in index order.
    public func keptHashes() throws -> [KeptHashes] {
        try q(
            "SELECT key, url, caption, md5, sha1, sha256, pdq, pdq_trimmed FROM samples WHERE status = 'kept' ORDER BY id"
        )
        .map { r in
            KeptHashes(
                key: r.string("key") ?? "", url: r.string("url") ?? "", caption: r.string("caption") ?? "",
                md5: r.string("md5"), sha1: r.string("sha1"), sha256: r.string("sha256"),
                pdq: [r.string("pdq"), r.string("pdq_trimmed")].compactMap { $0 })
        }
    }

    /// The status of each of `keys` that is in the index (absent keys are unknown here).
    public func statuses(of keys: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for k in keys {
            if let r = try q("SELECT status FROM samples WHERE key = ?1 ORDER BY status = 'kept' DESC LIMIT 1", [k])
                .first
            {
                out[k] = r.string("status")
            }
        }
        return out
    }

    /// Kept samples with embeddings, in shard and row order (see `ShardIndex.embeddedSamples`).
    public func embeddedSamples() throws -> [ShardIndex.EmbeddedSample] {
        do { return try index.embeddedSamples() } catch let e as SQLiteError {
            throw WinnowError(.database, "\(directory)/index.sqlite: \(e)")
        }
    }

    func q(_ sql: String, _ args: [SQLiteBindable] = []) throws -> [Row] {
        do { return try index.db.query(sql, args) } catch {
            throw WinnowError(.database, "\(directory)/index.sqlite: \(error)")
        }
    }

    /// Counts by outcome and reason, shards and bytes.
    public func stats() throws -> IndexStats {
        let totals = try q(
            """
            SELECT count(*) AS n, coalesce(sum(status = 'kept'), 0) AS kept,
                   coalesce(sum(status = 'dropped'), 0) AS dropped,
                   coalesce(sum(original_bytes IS NOT NULL), 0) AS fetched,
                   coalesce(sum(stored_bytes), 0) AS image_bytes
            FROM samples
            """)[0]
        var reasons: [String: Int] = [:]
        for r in try q("SELECT reason, count(*) AS n FROM samples WHERE status = 'dropped' GROUP BY reason") {
            reasons[r.string("reason") ?? "unknown"] = Int(r.int("n") ?? 0)
        }
        let shards = try q("SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM shards")[0]
        let errors = try q("SELECT count(*) AS n FROM input_errors")[0]
        return IndexStats(
            candidates: Int(totals.int("n") ?? 0), fetched: Int(totals.int("fetched") ?? 0),
            kept: Int(totals.int("kept") ?? 0),
            dropped: Int(totals.int("dropped") ?? 0), droppedByReason: reasons, inputErrors: Int(errors.int("n") ?? 0),
            shards: Int(shards.int("n") ?? 0), shardBytes: Int(shards.int("b") ?? 0),
            imageBytes: Int(totals.int("image_bytes") ?? 0),
            circuitBreakers: (try runValue("circuit_breakers"))?.split(separator: "\n").map(String.init) ?? [],
            optOutRegistry: try runValue("optout_registry"),
            optOutEntries: (try runValue("optout_entries")).flatMap { Int($0) },
            unreadableInputs: try q(
                "SELECT DISTINCT input_file FROM input_errors WHERE code = 'input_unreadable' ORDER BY input_file"
            ).compactMap { $0.string("input_file") })
    }

    /// What to look for.
    public struct Query: Sendable {
        /// Exact key.
        public var key: String?
        /// Exact URL.
        public var url: String?
        /// Substring of the caption (case-insensitive for ASCII).
        public var captionContains: String?
        /// `kept` or `dropped`.
        public var status: String?
        /// Drop reason code.
        public var reason: String?
        /// Host or parent domain of the image URL (`example.com` matches `cdn.example.com`).
        public var domain: String?
        /// An FTS5 full-text query over captions (`cat AND "black dog"`, `sunset*`).
        public var captionMatch: String?
        /// Image-text similarity range (inclusive).
        public var minSimilarity: Double?, maxSimilarity: Double?
        /// Original image size range in pixels (inclusive).
        public var minWidth: Int?, minHeight: Int?, maxWidth: Int?, maxHeight: Int?
        /// Duplicates of this key (exact or PDQ: `duplicate_of`; or semantic: `semantic_duplicate_of`).
        public var duplicateOf: String?
        /// Only samples `winnow dedup` found to be semantic duplicates of a kept one.
        public var semanticDuplicates = false
        /// Most rows returned.
        public var limit = 50

        /// An empty query (every row, up to the limit).
        public init() {}
    }

    /// Rows matching the query, in index order, each with its columns' typed values.
    public func find(_ query: Query) throws -> [IndexRow] {
        var conditions: [(sql: String, value: SQLiteBindable)] = []
        if let k = query.key { conditions.append(("key = ?", k)) }
        if let u = query.url { conditions.append(("url = ?", u)) }
        if let c = query.captionContains {
            let escaped = c.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
            conditions.append(("caption LIKE ? ESCAPE '\\'", "%\(escaped)%"))
        }
        if let m = query.captionMatch {
            guard try q("SELECT name FROM sqlite_master WHERE name = 'samples_fts'").first != nil else {
                throw WinnowError(
                    .usage, "\(directory): this index has no full-text index (written by an older winnow, read-only)")
            }
            conditions.append(
                ("id IN (SELECT rowid FROM samples_fts WHERE samples_fts MATCH ?)", IndexReader.fullTextQuery(m)))
        }
        if let s = query.status { conditions.append(("status = ?", s)) }
        if let r = query.reason { conditions.append(("reason = ?", r)) }
        if let k = query.duplicateOf { conditions.append(("(duplicate_of = ? OR semantic_duplicate_of = ?)", k)) }
        if query.semanticDuplicates { conditions.append(("semantic_duplicate_of IS NOT NULL AND 1 = ?", 1)) }
        // The domain as a URL's host is written (`Bücher.example` is `xn--bcher-kva.example`, `0x7f.1` 127.0.0.1).
        let domain = query.domain.map { (try? WebURL.parse("http://\($0)/"))?.host ?? $0.lowercased() }
        if let d = domain { conditions.append(("instr(lower(url), ?) > 0", d)) }
        if let v = query.minSimilarity { conditions.append(("similarity >= ?", v)) }
        if let v = query.maxSimilarity { conditions.append(("similarity <= ?", v)) }
        if let v = query.minWidth { conditions.append(("original_width >= ?", v)) }
        if let v = query.minHeight { conditions.append(("original_height >= ?", v)) }
        if let v = query.maxWidth { conditions.append(("original_width <= ?", v)) }
        if let v = query.maxHeight { conditions.append(("original_height <= ?", v)) }
        var clauses: [String] = []
        var args: [SQLiteBindable] = []
        for c in conditions {
            args.append(c.value)
            clauses.append(c.sql.replacingOccurrences(of: "?", with: "?\(args.count)"))  // each ? is this value
        }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        var out: [IndexRow] = []
        do {
            let stmt = try index.db.prepare("SELECT * FROM samples \(whereSQL) ORDER BY id")
            try stmt.bind(args)
            while out.count < query.limit, let row = try stmt.step() {
                // The domain is checked on the URL's host: the SQL only narrowed the rows down.
                if let d = domain {
                    guard let host = (try? WebURL.parse(row.string("url") ?? ""))?.host,
                        host == d || host.hasSuffix("." + d)
                    else { continue }
                }
                var r = IndexRow()
                for n in row.names where n != "id" {
                    switch row[n] {
                    case .null, .blob: continue
                    case let v: r.values[n] = v
                    }
                }
                out.append(r)
            }
        } catch let e {
            if query.captionMatch != nil && (e.message.contains("fts5") || e.message.contains("unterminated")) {
                throw WinnowError(
                    .usage,
                    "--caption \(query.captionMatch?.debugDescription ?? ""): not a full-text query (\(e.message))")
            }
            throw WinnowError(.database, "\(directory)/index.sqlite: \(e)")
        }
        return out
    }

    /// A caption search as FTS5 should read it: words, `"phrases"`, `AND`/`OR`/`NOT`, parentheses and a final `*` as
    /// FTS5 has them; any other word that holds characters FTS5 would read as syntax (`t-shirt`, where `-` is a
    /// column filter; `don't`; `c++`) quoted as a phrase, so that it is searched for instead of failing.
    public static func fullTextQuery(_ text: String) -> String {
        var out: [String] = []
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c.isWhitespace {
                i = text.index(after: i)
                continue
            }
            if c == "\"" {
                // A phrase the user quoted: kept as written, to its closing quote.
                var j = text.index(after: i)
                while j < text.endIndex && text[j] != "\"" { j = text.index(after: j) }
                if j < text.endIndex { j = text.index(after: j) }
                out.append(String(text[i..<j]))
                i = j
                continue
            }
            var j = i
            while j < text.endIndex && !text[j].isWhitespace && text[j] != "\"" { j = text.index(after: j) }
            var word = Substring(text[i..<j])
            i = j
            var open = ""
            var close = ""
            while word.first == "(" {
                open += "("
                word = word.dropFirst()
            }
            while word.last == ")" {
                close += ")"
                word = word.dropLast()
            }
            let core = word.hasSuffix("*") ? word.dropLast() : word
            let plain =
                !core.isEmpty
                && core.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || !$0.isASCII }
            if plain || ["AND", "OR", "NOT"].contains(word) || word.isEmpty {
                out.append(open + word + close)
            } else {
                out.append(open + "\"" + word.replacingOccurrences(of: "\"", with: "\"\"") + "\"" + close)
            }
        }
        return out.joined(separator: " ")
    }

    /// The files of a kept sample: member name -> bytes, read by offset from its shard.
    public func files(key: String) throws -> [(name: String, bytes: [UInt8])] {
        let rows = try q("SELECT shard, tar_offset FROM samples WHERE key = ?1 AND status = 'kept' LIMIT 1", [key])
        guard let row = rows.first, let shard = row.string("shard"), let tarOffset = row.int("tar_offset") else {
            let any = try q("SELECT status, reason FROM samples WHERE key = ?1 LIMIT 1", [key])
            if let r = any.first {
                throw WinnowError(
                    .usage, "\(key): sample was dropped (\(r.string("reason") ?? "no reason")); it has no files")
            }
            throw WinnowError(.notFound, "\(key): no sample with that key in \(directory)")
        }
        let path = (directory as NSString).appendingPathComponent(shard)
        var out: [(String, [UInt8])] = []
        var at = tarOffset
        // The sample's members are consecutive: read headers from its first one while the names carry its key.
        while true {
            let header = try TarReader.read(path: path, offset: at, size: 512)
            let name = String(decoding: header[0..<100].prefix(while: { $0 != 0 }), as: UTF8.self)
            guard name.hasPrefix(key + ".") else { break }
            let sizeText = String(decoding: header[124..<136].filter { $0 >= 0x30 && $0 <= 0x37 }, as: UTF8.self)
            guard let size = Int(sizeText, radix: 8) else {
                throw WinnowError(.format, "\(path): bad tar header at \(at)")
            }
            out.append((name, try TarReader.read(path: path, offset: at + 512, size: size)))
            at += 512 + Int64((size + 511) / 512 * 512)
        }
        return out
    }
}

/// One row of the index as a query returns it: column name -> typed value (integers, reals and text as SQLite holds
/// them; NULLs left out).
public struct IndexRow: Sendable, Equatable {
    /// The values by column name.
    public var values: [String: SQLiteValue] = [:]

    /// An empty row.
    public init() {}

    /// A column as text (numbers in their usual decimal form), for tables; setting one stores text.
    public subscript(_ name: String) -> String? {
        get {
            switch values[name] {
            case .text(let s): return s
            case .integer(let v): return String(v)
            case .real(let v): return String(v)
            default: return nil
            }
        }
        set { values[name] = newValue.map { .text($0) } }
    }

    /// A column as a number, if it holds one.
    public func number(_ name: String) -> Double? {
        switch values[name] {
        case .integer(let v): return Double(v)
        case .real(let v): return v
        default: return nil
        }
    }

    /// The row as a JSON object: numbers as JSON numbers, text as strings.
    public var json: [String: Any] {
        var o: [String: Any] = [:]
        for (k, v) in values {
            switch v {
            case .integer(let i): o[k] = i
            case .real(let d): o[k] = d
            case .text(let t): o[k] = t
            case .null, .blob: continue
            }
        }
        return o
    }
}
