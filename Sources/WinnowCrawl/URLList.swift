import Foundation
import WinnowCore

/// How URL lists are read, named as img2dataset names them (`input_format`, `url_col`, `caption_col`).
public struct URLListOptions: Sendable, Equatable {
    /// `txt`, `csv`, `tsv`, `jsonl`, or nil to decide by the file name (`.csv`, `.tsv`, `.jsonl`/`.json`, else
    /// text; `.gz` allowed on all) and, for JSON Lines, by the content.
    public var format: String?
    /// Column (or JSON key) holding the URL.
    public var urlColumn = "url"
    /// Column (or JSON key) holding the caption; nil for none (JSON Lines fall back to `caption`).
    public var captionColumn: String?
    /// Input columns carried into each sample's `.json`, the index and the output Parquet (img2dataset's
    /// `save_additional_columns`), as their input names.
    public var saveColumns: [String] = []

    /// img2dataset's defaults.
    public init(
        format: String? = nil, urlColumn: String = "url", captionColumn: String? = nil, saveColumns: [String] = []
    ) {
        self.format = format
        self.urlColumn = urlColumn
        self.captionColumn = captionColumn
        self.saveColumns = saveColumns
    }

    /// The formats understood (Parquet is also found by its magic bytes, whatever the name).
    public static let formats: Set<String> = ["txt", "csv", "tsv", "jsonl", "parquet"]

    /// Column names taken as the caption when none is given, in order (img2dataset users' usual ones).
    public static let captionNames = ["caption", "text", "TEXT", "alt"]

    func format(for path: String, firstByte: UInt8?) -> String {
        if let f = format { return f }
        var name = path.lowercased()
        if name.hasSuffix(".gz") { name.removeLast(3) }
        if name.hasSuffix(".csv") { return "csv" }
        if name.hasSuffix(".tsv") { return "tsv" }
        if name.hasSuffix(".jsonl") || name.hasSuffix(".json") || firstByte == UInt8(ascii: "{") { return "jsonl" }
        return "txt"
    }
}

/// Reads one URL list into events: a candidate per row with a usable URL, a skipped record (file, byte offset,
/// reason) per row without one.
struct URLListReader {
    let path: String
    let options: URLListOptions
    /// What the rows of the list share (its file), held once.
    let page: Candidate.Page

    init(path: String, options: URLListOptions) {
        self.path = path
        self.options = options
        page = URLListReader.page(path)
    }

    /// Hears what the reader decided for the user to know (a caption column found by its name).
    var note: (String) -> Void = { _ in }

    /// Reads the list from `stream` when given (a remote input), else from the file at `path`.
    func read(
        stream: (any ByteStream)? = nil, firstByte: UInt8?, progress: (Int64) -> Void, _ emit: (CrawlEvent) -> Void
    ) throws {
        let format = options.format(for: path, firstByte: firstByte)
        let lines = try stream.map { try LineReader(stream: $0, name: path) } ?? LineReader(path: path)
        var header: [String]?
        var urlIndex = 0
        var captionIndex: Int?
        var savedIndices: [(name: String, index: Int)] = []
        var pending = ""
        var pendingOffset: Int64 = 0
        while let (line, offset) = try lines.next() {
            progress(lines.fileBytesConsumed)
            switch format {
            case "jsonl":
                let text = line.trimmingWhitespace()
                if text.isEmpty { continue }
                emit(jsonRow(text, offset: offset))
            case "csv", "tsv":
                // A quoted CSV field may hold newlines: gather lines until the quotes balance.
                if pending.isEmpty { pendingOffset = offset } else { pending += "\n" }
                pending += line.hasSuffix("\r") ? String(line.dropLast()) : line
                if format == "csv" && pending.utf8.reduce(0, { $0 + ($1 == 0x22 ? 1 : 0) }) % 2 == 1 { continue }
                let row =
                    format == "csv"
                    ? CSV.fields(pending)
                    : pending.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                pending = ""
                if header == nil {
                    header = row.map { $0.trimmingWhitespace() }
                    guard let u = header!.firstIndex(of: options.urlColumn) else {  // ok: set just above
                        throw WinnowError(
                            .format,
                            "\(path): no column \(options.urlColumn.debugDescription) in the header (\(row.joined(separator: ", "))); choose one with --url-col"
                        )
                    }
                    urlIndex = u
                    for name in options.saveColumns {
                        guard let k = header!.firstIndex(of: name) else {  // ok: set above
                            throw WinnowError(
                                .format,
                                "\(path): no column \(name.debugDescription) in the header (\(row.joined(separator: ", "))); check --save-additional-columns"
                            )
                        }
                        savedIndices.append((ColumnValue.outputName(name), k))
                    }
                    if let c = options.captionColumn {
                        guard let ci = header!.firstIndex(of: c) else {  // ok: set above
                            throw WinnowError(
                                .format,
                                "\(path): no column \(c.debugDescription) in the header; choose one with --caption-col")
                        }
                        captionIndex = ci
                    } else if let name = URLListOptions.captionNames.first(where: { header?.contains($0) == true }) {
                        captionIndex = header?.firstIndex(of: name)
                        note(
                            "\(path): captions from column \(name.debugDescription) (choose another with --caption-col)"
                        )
                    }
                    continue
                }
                if row.count == 1 && row[0].isEmpty { continue }
                guard urlIndex < row.count else {
                    emit(
                        .skipped(
                            RecordError(
                                code: "bad_row", path: path, offset: pendingOffset,
                                message: "row has \(row.count) fields, the URL column is number \(urlIndex + 1)")))
                    continue
                }
                var event = candidate(
                    url: row[urlIndex], caption: captionIndex.flatMap { $0 < row.count ? row[$0] : nil } ?? "",
                    offset: pendingOffset)
                if !savedIndices.isEmpty, case .candidate(var c) = event {
                    for (name, k) in savedIndices { c.columns[name] = k < row.count ? .string(row[k]) : .null }
                    event = .candidate(c)
                }
                emit(event)
            default:
                let text = line.trimmingWhitespace()
                if text.isEmpty || text.hasPrefix("#") { continue }
                // A URL, optionally followed by a tab and a caption.
                let fields = text.split(separator: "\t", maxSplits: 1).map(String.init)
                emit(candidate(url: fields[0], caption: fields.count > 1 ? fields[1] : "", offset: offset))
            }
        }
        if !pending.isEmpty {
            emit(
                .skipped(
                    RecordError(
                        code: "bad_row", path: path, offset: pendingOffset,
                        message: "unterminated quoted field at the end of the file")))
        }
    }

    private func candidate(url raw: String, caption: String, offset: Int64) -> CrawlEvent {
        URLListReader.candidate(url: raw, caption: caption, page: page, offset: offset)
    }

    /// The page the rows of the input at `path` share: no page URL, no signals, the file.
    static func page(_ path: String) -> Candidate.Page {
        Candidate.Page(pageURL: "", provenance: Provenance(inputFile: path, recordOffset: 0), optOutSignals: [])
    }

    /// The candidate of a row's URL and caption, or the skipped record of a URL that is not http(s).
    static func candidate(url raw: String, caption: String, page: Candidate.Page, offset: Int64) -> CrawlEvent {
        let path = page.provenance.inputFile
        let url = RawBytes.percentEncoded(raw.trimmingWhitespace())
        let caption = RawBytes.replaced(caption)
        guard let resolved = URLNormalizer.resolve(url, against: nil) else {
            return .skipped(
                RecordError(
                    code: "bad_url", path: path, offset: offset,
                    message: "not an http(s) URL: \(RecordError.excerpt(url))"))
        }
        return .candidate(
            Candidate(url: resolved, caption: TextCleaner.clean(caption), page: page, recordOffset: offset))
    }

    private func jsonRow(_ text: String, offset: Int64) -> CrawlEvent {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return .skipped(
                RecordError(code: "bad_json", path: path, offset: offset, message: "line is not a JSON object"))
        }
        // Candidates written by `winnow parse` keep their provenance and signals.
        if object["key"] != nil, object["url"] != nil, options.urlColumn == "url",
            var c = try? JSONDecoder().decode(Candidate.self, from: Data(text.utf8))
        {
            if c.provenance.inputFile.isEmpty { c.provenance = Provenance(inputFile: path, recordOffset: offset) }
            return .candidate(c)
        }
        guard let url = object[options.urlColumn] as? String else {
            return .skipped(
                RecordError(
                    code: "bad_json", path: path, offset: offset,
                    message: "no string \(options.urlColumn.debugDescription) in the object"))
        }
        let name =
            options.captionColumn ?? URLListOptions.captionNames.first { object[$0] is String } ?? "caption"
        let caption = object[name] as? String ?? ""
        let event = candidate(url: url, caption: caption, offset: offset)
        guard !options.saveColumns.isEmpty, case .candidate(var c) = event else { return event }
        // Typed as JSON types them (JSONSerialization's numbers do not say whether they were booleans).
        let values = (try? JSONDecoder().decode([String: ColumnValue].self, from: Data(text.utf8))) ?? [:]
        for name in options.saveColumns { c.columns[ColumnValue.outputName(name)] = values[name] ?? .null }
        return .candidate(c)
    }
}

/// RFC 4180 fields of one CSV record.
enum CSV {
    static func fields(_ line: String) -> [String] {
        var out: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(line)
        chars.append(",")
        var i = 0
        var fieldStart = true
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" {
                        field.append("\"")
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" && fieldStart {
                quoted = true
            } else if c == "," {
                out.append(field)
                field = ""
                fieldStart = true
                i += 1
                continue
            } else {
                field.append(c)
            }
            fieldStart = false
            i += 1
        }
        return out
    }
}

/// A paths file: one input a line (a path or URL), plain or gzipped, as Common Crawl lists a crawl's files
/// (`crawl-data/CC-MAIN-2024-10/wat.paths.gz`). Read from a local file or over HTTP(S).
public enum PathsFile {
    /// The inputs `source` lists, in its order. A relative path is joined to `base` when given; without it, a
    /// Common Crawl path (`crawl-data/...`) to `https://data.commoncrawl.org/`, and any other to the paths file's
    /// own folder (or URL). `s3://commoncrawl/KEY` is read at its HTTPS address. Blank lines and `#` comments are
    /// skipped.
    public static func inputs(_ source: String, base: String?, remote: (any RemoteInputs)?) throws -> [String] {
        let location = InputLocation.resolve(source)
        let lines: LineReader
        if InputLocation.isRemote(location) {
            guard let remote else { throw WinnowError(.usage, "\(source): cannot read a paths file over HTTP(S) here") }
            lines = try LineReader(stream: remote.open(location), name: location)
        } else {
            guard FileManager.default.isReadableFile(atPath: location) else {
                throw WinnowError(.io, "\(source): no such paths file")
            }
            lines = try LineReader(path: location)
        }
        let folder: String
        if InputLocation.isRemote(location) {
            folder = location.lastIndex(of: "/").map { String(location[...$0]) } ?? location
        } else {
            folder = (location as NSString).deletingLastPathComponent
        }
        var out: [String] = []
        while let (line, _) = try lines.next() {
            let path = line.trimmingWhitespace()
            if path.isEmpty || path.hasPrefix("#") { continue }
            let relativeBase = base ?? (path.hasPrefix("crawl-data/") ? InputLocation.commonCrawlBase : folder)
            out.append(InputLocation.join(path, base: relativeBase.isEmpty ? "." : relativeBase))
        }
        return out
    }
}
