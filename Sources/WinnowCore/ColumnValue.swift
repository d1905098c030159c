/// A value of an input column that a candidate carries to the output (`--save-additional-columns`, as img2dataset
/// names it): LAION's `similarity` or `punsafe`, DataComp's `uid`. Typed as the input typed it, so that the output
/// Parquet gives it back with the same type.
public enum ColumnValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)

    /// The value as JSON text (`null` for a double that is not finite).
    public var json: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(d) : "null"
        case .string(let s): return JSONText.quote(s)
        }
    }

    /// The names a saved column may not take in the output, because Winnow writes fields of those names itself (in
    /// the sample's `.json`, the shard's Parquet and `winnow export`): such a column is saved as `source_NAME`.
    public static let reservedNames: Set<String> = [
        "key", "hash", "uid", "url", "caption", "page_url", "status", "error_message", "reason", "reason_detail",
        "input_file", "record_offset", "record_id", "page_date", "sha256", "md5", "sha1", "original_bytes", "width",
        "height", "original_width", "original_height", "original_format", "exif_orientation", "data_mining", "c2pa",
        "c2pa_training", "pdq", "pdq_quality", "pdq_trimmed", "similarity", "http_status", "content_type",
        "http_version",
        "opt_out_signals", "duplicate_of", "shard", "attempts", "semantic_duplicate_of", "semantic_similarity",
        "removed_by", "removed_at", "url_attribute", "laion_hash", "stored_bytes",
    ]

    /// The output name of a saved input column.
    public static func outputName(_ column: String) -> String {
        reservedNames.contains(column) ? "source_" + column : column
    }

    /// A JSON object of named values, keys sorted.
    public static func jsonObject(_ values: [String: ColumnValue]) -> String {
        "{"
            + values.sorted { $0.key < $1.key }.map { JSONText.quote($0.key) + ":" + $0.value.json }.joined(
                separator: ",")
            + "}"
    }

    // JSON: null, a boolean, a number (an integer if it is one), or a string.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else {
            self = .null  // an array or object: not a column value
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): if d.isFinite { try c.encode(d) } else { try c.encodeNil() }
        case .string(let s): try c.encode(s)
        }
    }
}

/// A saved input column as the output has it: its output name and its type.
public struct SavedColumn: Sendable, Codable, Equatable {
    /// The name in the output (`ColumnValue.outputName` of the input's).
    public var name: String
    /// `string`, `int64`, `int32`, `double`, `float` or `boolean`.
    public var kind: String

    /// A saved column.
    public init(name: String, kind: String) {
        self.name = name
        self.kind = kind
    }
}
