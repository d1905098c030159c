import Foundation
import WinnowCore
internal import WinnowParquet
import WinnowSQLite

/// The per-sample metadata as a table: the `NNNNN.parquet` beside each shard (img2dataset writes one per shard; its
/// readers filter on `status == "success"`), and `winnow export` of the whole index, kept and dropped. Both come
/// from the index, so that what they say is what the index says, and an opt-out removal that rewrites a shard
/// rewrites its table too.
public enum SampleTable {
    /// Column name, type, and the SQL that gives it from the `samples` table.
    static let columns: [(name: String, kind: ParquetField.Kind, sql: String)] = [
        ("key", .string, "key"),
        ("url", .string, "url"),
        ("caption", .string, "caption"),
        // img2dataset's words for a kept sample; a dropped one says why in reason and error_message.
        ("status", .string, "CASE status WHEN 'kept' THEN 'success' ELSE 'dropped' END"),
        (
            "error_message", .string,
            "CASE WHEN status = 'kept' THEN NULL WHEN coalesce(reason_detail, '') = '' THEN reason ELSE reason || ': ' || reason_detail END"
        ),
        ("reason", .string, "reason"),
        ("width", .int64, "stored_width"),
        ("height", .int64, "stored_height"),
        ("original_width", .int64, "original_width"),
        ("original_height", .int64, "original_height"),
        ("original_format", .string, "original_format"),
        ("original_bytes", .int64, "original_bytes"),
        ("sha256", .string, "sha256"),
        ("md5", .string, "md5"),
        ("sha1", .string, "sha1"),
        ("pdq", .string, "pdq"),
        ("pdq_quality", .int64, "pdq_quality"),
        ("pdq_trimmed", .string, "pdq_trimmed"),
        ("similarity", .double, "similarity"),
        ("hash", .int64, "laion_hash"),
        ("uid", .string, "uid"),
        ("page_url", .string, "page_url"),
        ("input_file", .string, "input_file"),
        ("record_offset", .int64, "record_offset"),
        ("record_id", .string, "record_id"),
        ("page_date", .string, "page_date"),
        ("http_status", .int64, "http_status"),
        ("http_version", .string, "http_version"),
        ("content_type", .string, "content_type"),
        ("attempts", .int64, "attempts"),
        ("opt_out_signals", .string, "opt_out_signals"),
        ("data_mining", .string, "data_mining"),
        ("c2pa", .boolean, "c2pa"),
        ("c2pa_training", .string, "c2pa_training"),
        ("exif_orientation", .int64, "exif_orientation"),
        ("duplicate_of", .string, "duplicate_of"),
        ("semantic_duplicate_of", .string, "semantic_duplicate_of"),
        ("semantic_similarity", .double, "semantic_similarity"),
        ("removed_by", .string, "removed_by"),
        ("removed_at", .string, "removed_at"),
        ("shard", .string, "shard"),
    ]

    /// The names of the table's columns, saved input columns last.
    public static func columnNames(saved: [SavedColumn]) -> [String] { columns.map(\.name) + saved.map(\.name) }

    /// The saved input columns an index records (run property `saved_columns`).
    public static func savedColumns(_ index: ShardIndex) throws -> [SavedColumn] {
        guard let text = try index.run("saved_columns") else { return [] }
        return (try? JSONDecoder().decode([SavedColumn].self, from: Data(text.utf8))) ?? []
    }

    /// Writes the rows of `samples` that `condition` selects, in row order (`ORDER BY`), as Parquet to `path`
    /// (through `path.partial`; renamed into place unless `renaming` is false). Returns the number of rows.
    @discardableResult
    static func writeParquet(
        _ db: Connection, where condition: String, _ arguments: [SQLiteBindable] = [], orderBy: String = "id",
        saved: [SavedColumn], to path: String, codec: String = "snappy", renaming: Bool = true
    ) throws -> Int {
        let fields =
            columns.map { ParquetField($0.name, $0.kind, optional: $0.name != "key" && $0.name != "status") }
            + saved.map { ParquetField($0.name, kind($0.kind)) }
        let writer = try ParquetWriter(
            path: path, fields: fields, codec: ParquetCodec(name: codec) ?? .snappy, rowGroupRows: 65_536,
            createdBy: "winnow")
        var n = 0
        do {
            try forEachRow(db, where: condition, arguments, orderBy: orderBy, saved: saved) { values in
                try writer.append(values)
                n += 1
            }
            try writer.finish(renaming: renaming)
        } catch {
            writer.abandon()
            throw (error as? ParquetError).map { WinnowError(.io, $0.message) } ?? error
        }
        return n
    }

    /// The rows as values of the table's columns, saved columns last.
    static func forEachRow(
        _ db: Connection, where condition: String, _ arguments: [SQLiteBindable], orderBy: String,
        saved: [SavedColumn], _ body: ([ParquetValue]) throws -> Void
    ) throws {
        let savedSQL = saved.map { c in
            // The saved values are a JSON object; json_extract gives each back with its JSON type.
            "json_extract(saved_columns, '$.\"" + c.name.replacingOccurrences(of: "\"", with: "") + "\"')"
        }
        let select = (columns.map(\.sql) + savedSQL).joined(separator: ", ")
        let statement = try db.prepare("SELECT \(select) FROM samples WHERE \(condition) ORDER BY \(orderBy)")
        try statement.bind(arguments)
        let kinds = columns.map(\.kind) + saved.map { kind($0.kind) }
        while let row = try statement.step() {
            try body(row.values.enumerated().map { i, v in value(v, kinds[i]) })
        }
    }

    static func kind(_ name: String) -> ParquetField.Kind { ParquetField.Kind(rawValue: name) ?? .string }

    /// A SQLite value as a value of a column of `kind` (numbers kept as numbers; anything else as its text).
    static func value(_ v: SQLiteValue, _ kind: ParquetField.Kind) -> ParquetValue {
        switch (v, kind) {
        case (.null, _): return .null
        case (.integer(let i), .boolean): return .bool(i != 0)
        case (.integer(let i), .int64), (.integer(let i), .int32): return .int(i)
        case (.integer(let i), .double), (.integer(let i), .float): return .double(Double(i))
        case (.real(let d), .double), (.real(let d), .float): return .double(d)
        case (.real(let d), .int64), (.real(let d), .int32):
            return d.rounded() == d && abs(d) < 9e18 ? .int(Int64(d)) : .null
        case (.integer(let i), .string): return .string(String(i))
        case (.real(let d), .string): return .string(String(d))
        case (.text(let s), .string): return .string(s)
        case (.text(let s), .boolean): return s == "true" ? .bool(true) : s == "false" ? .bool(false) : .null
        case (.text(let s), .int64), (.text(let s), .int32): return Int64(s).map { .int($0) } ?? .null
        case (.text(let s), .double), (.text(let s), .float): return Double(s).map { .double($0) } ?? .null
        case (.real(let d), .boolean): return .bool(d != 0)
        case (.blob(let b), _): return kind == .string ? .string(hex(b)) : .null
        }
    }

    /// The Parquet file of shard `NNNNN.tar`: `NNNNN.parquet` beside it (in the same folder).
    public static func parquetPath(_ directory: String, shard: String) -> String {
        ((directory as NSString).appendingPathComponent(shard) as NSString).deletingPathExtension + ".parquet"
    }

    /// Writes shard `shard`'s table from `index` (its kept samples, in tar order); for the writer and for
    /// removals.
    static func writeShard(_ index: ShardIndex, directory: String, shard: String, renaming: Bool = true) throws {
        try writeParquet(
            index.db, where: "shard = ?1 AND status = 'kept'", [shard], orderBy: "tar_offset",
            saved: try savedColumns(index), to: parquetPath(directory, shard: shard), renaming: renaming)
    }

    /// Writes the whole index of `directory` (every candidate, kept and dropped, in row order) to `output` as
    /// `parquet` or `jsonl` (one JSON object a line, the same columns). Returns the number of rows.
    public static func export(directory: String, format: String, output: String) throws -> Int {
        let index = try ShardIndex(path: ShardWriter.indexPath(directory), readOnly: true)
        let saved = try savedColumns(index)
        switch format {
        case "parquet":
            return try writeParquet(index.db, where: "1", saved: saved, to: output, codec: "zstd")
        case "jsonl":
            let names = columnNames(saved: saved)
            var out: [UInt8] = []
            let partial = output + ".partial"
            guard let file = FileHandle(forWritingAtPath: partial) ?? createFile(partial) else {
                throw WinnowError(.io, "\(partial): cannot create")
            }
            var n = 0
            do {
                try forEachRow(index.db, where: "1", [], orderBy: "id", saved: saved) { values in
                    var m = JSONObject()
                    for (k, v) in values.enumerated() {
                        switch v {
                        case .null: m.add(json: names[k], "null")
                        case .bool(let b): m.add(json: names[k], b ? "true" : "false")
                        case .int(let i): m.add(names[k], i)
                        case .double(let d): m.add(names[k], d)
                        case .string(let s): m.add(names[k], s)
                        }
                    }
                    out += m.utf8()
                    out.append(0x0a)
                    n += 1
                    if out.count >= 1 << 20 {
                        try file.write(contentsOf: out)
                        out.removeAll(keepingCapacity: true)
                    }
                }
                try file.write(contentsOf: out)
                try file.synchronize()
                try file.close()
            } catch {
                try? file.close()
                unlink(partial)
                throw error
            }
            guard rename(partial, output) == 0 else { throw WinnowError(.io, "\(output): rename failed") }
            return n
        default:
            throw WinnowError(.usage, "unknown export format \(format.debugDescription) (parquet or jsonl)")
        }
    }

    private static func createFile(_ path: String) -> FileHandle? {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { return nil }
        return FileHandle(forWritingAtPath: path)
    }
}
