import Foundation
import WinnowCore
internal import WinnowParquet

/// A Parquet input (LAION, DataComp or img2dataset metadata; a Spark job's output): a candidate per row with a URL,
/// read a row group at a time and only the columns needed (URL, caption, saved columns). A row's `record_offset` is
/// its row number in the file. A row group that cannot be read is one skipped record (`corrupt_row_group`, at its
/// first row) and the rest of the file is read on.
struct ParquetInput {
    let path: String
    private let file: ParquetFile
    private let url: ParquetColumn
    private let caption: ParquetColumn?
    private let saved: [(name: String, column: ParquetColumn)]
    /// What the reader chose for the user (a column found by its name).
    let notes: [String]
    /// The saved columns, as the output has them.
    let savedColumns: [SavedColumn]
    /// What the rows share (the file), held once for all of them.
    let page: Candidate.Page

    /// Whether `path` is to be read as Parquet: `format` says so, or its name ends in `.parquet`, or its first
    /// bytes are the magic `PAR1` (whatever its name).
    static func isParquet(path: String, format: String?) -> Bool {
        if format == "parquet" { return true }
        if format != nil { return false }
        if path.lowercased().hasSuffix(".parquet") { return true }
        if InputLocation.isRemote(path) { return false }  // told by its first bytes once its stream is open
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        return (try? h.read(upToCount: 4)) == Data("PAR1".utf8)
    }

    /// Opens `path` and finds its columns; throws one line naming the file and what is wrong (a missing column with
    /// the names present).
    init(path: String, options: URLListOptions, remote: (any RemoteInputs)? = nil) throws {
        self.path = path
        let file: ParquetFile
        do {
            if InputLocation.isRemote(path) {
                guard let remote else { throw WinnowError(.usage, "\(path): remote inputs are not available here") }
                // Range requests: the footer, then only the column chunks asked for.
                let size = try remote.size(path)
                file = try ParquetFile(name: path, size: size) { (offset, count) throws(ParquetError) in
                    do {
                        return try remote.read(path, range: offset..<(offset + Int64(count)))
                    } catch {
                        throw ParquetError(.io, (error as? WinnowError)?.message ?? "\(error)")
                    }
                }
            } else {
                file = try ParquetFile(path: path)
            }
        } catch let error as ParquetError {
            throw WinnowError(
                .format, error.code == .notParquet ? "\(error.message) (read as --input-format parquet)" : error.message
            )
        }
        let names = file.columns.map(\.name)
        let present = "columns: \(names.joined(separator: ", "))"
        var notes: [String] = []
        func find(_ name: String, _ option: String) throws -> ParquetColumn {
            guard let c = file.column(named: name) else {
                throw WinnowError(
                    .format, "\(path): no column \(name.debugDescription) (\(present)); choose one with \(option)")
            }
            if let why = c.unsupported {
                throw WinnowError(.format, "\(path): column \(name.debugDescription) is \(why), not read")
            }
            return c
        }
        // img2dataset's default is `url`; LAION's files say `URL`: the default finds either, and says so.
        var urlName = options.urlColumn
        if file.column(named: urlName) == nil && urlName == "url",
            let other = names.first(where: { $0.lowercased() == "url" })
        {
            urlName = other
            notes.append("\(path): URLs from column \(other.debugDescription) (choose another with --url-col)")
        }
        let url = try find(urlName, "--url-col")
        self.url = url
        guard url.type == .byteArray else {
            throw WinnowError(
                .format, "\(path): the URL column \(urlName.debugDescription) holds \(url.summary), not text")
        }
        let caption: ParquetColumn?
        if let name = options.captionColumn {
            caption = try find(name, "--caption-col")
        } else if let name = URLListOptions.captionNames.first(where: { file.column(named: $0)?.type == .byteArray }) {
            caption = file.column(named: name)
            notes.append("\(path): captions from column \(name.debugDescription) (choose another with --caption-col)")
        } else {
            caption = nil
        }
        self.caption = caption
        if let caption, caption.type != .byteArray {
            throw WinnowError(.format, "\(path): the caption column holds \(caption.summary), not text")
        }
        var saved: [(String, ParquetColumn)] = []
        var columns: [SavedColumn] = []
        for name in options.saveColumns {
            let c = try find(name, "--save-additional-columns")
            let out = ColumnValue.outputName(name)
            saved.append((out, c))
            columns.append(SavedColumn(name: out, kind: ParquetInput.kind(c)))
        }
        self.file = file
        self.page = URLListReader.page(path)
        self.saved = saved
        self.savedColumns = columns
        self.notes = notes
    }

    /// The output type of a column.
    static func kind(_ c: ParquetColumn) -> String {
        switch c.type {
        case .boolean: "boolean"
        case .int32: "int32"
        case .int64: "int64"
        case .float: "float"
        case .double: "double"
        default: "string"
        }
    }

    /// The number of row groups.
    var rowGroups: Int { file.rowGroupRows.count }

    /// How far into the file (in bytes, in proportion to rows) the end of row group `g` is: for progress.
    func bytes(through g: Int) -> Int64 {
        let rows = file.rowGroupRows.prefix(g + 1).reduce(0, +)
        return fileSize(atPath: path) * Int64(rows) / Int64(max(1, file.rowCount))
    }

    /// A row group's columns, decoded: its rows are emitted a slice at a time, so that only a slice's candidates
    /// are alive at once.
    struct Group {
        let index: Int
        let first: Int
        let rows: Int
        let chunks: [ColumnValues]
    }

    /// Decodes row group `g`, or gives the skipped record that stands for its rows when it cannot be read.
    func decode(group g: Int) -> Result<Group, RecordError> {
        let first = file.rowGroupRows.prefix(g).reduce(0, +)
        let rows = file.rowGroupRows[g]
        let wanted = [url] + (caption.map { [$0] } ?? []) + saved.map(\.column)
        do {
            return .success(
                Group(index: g, first: first, rows: rows, chunks: try file.read(rowGroup: g, columns: wanted)))
        } catch {
            // A remote file that cannot be read (the transfer failed for good) is not a corrupt row group.
            if error.code == .io && InputLocation.isRemote(path) {
                return .failure(
                    RecordError(
                        code: "input_unreadable", path: path, offset: Int64(first),
                        message: ParquetInput.dropPath(error.message, path) + " (at row group \(g))"))
            }
            return .failure(
                RecordError(
                    code: "corrupt_row_group", path: path, offset: Int64(first),
                    message: ParquetInput.dropPath(error.message, path)
                        + "; its \(rows) rows (\(first) to \(first + rows - 1)) are skipped"))
        }
    }

    /// Reads row group `g`: a candidate or a skipped record per row.
    func read(group g: Int, _ emit: (consuming CrawlEvent) -> Void) {
        switch decode(group: g) {
        case .failure(let e): emit(.skipped(e))
        case .success(let group): read(group, rows: 0..<group.rows, emit)
        }
    }

    /// Reads `rows` of a decoded row group: a candidate or a skipped record per row.
    func read(_ group: Group, rows: Range<Int>, _ emit: (consuming CrawlEvent) -> Void) {
        let chunks = group.chunks
        let first = group.first
        guard case .bytes(let urls) = chunks[0].values else { return }
        var captions = ByteArrays()
        if caption != nil, case .bytes(let b) = chunks[1].values { captions = b }
        // Hoisted out of the loop: each access to a chunk in the array would retain and release its storage.
        let urlNulls = chunks[0].nulls
        let captionNulls = caption != nil ? chunks[1].nulls : nil
        let hasCaption = caption != nil
        let savedChunks = Array(chunks.suffix(saved.count))
        let file = path
        let page = self.page
        let scratch = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: WebURL.scratchSize(4096))
        defer { scratch.deallocate() }
        urls.data.withUnsafeBufferPointer { urlData in
            urls.starts.withUnsafeBufferPointer { urlStarts in
                urls.ends.withUnsafeBufferPointer { urlEnds in
                    captions.data.withUnsafeBufferPointer { captionData in
                        captions.starts.withUnsafeBufferPointer { captionStarts in
                            captions.ends.withUnsafeBufferPointer { captionEnds in
                                for i in rows {
                                    let row = Int64(first + i)
                                    if urlNulls?[i] == true {
                                        emit(
                                            .skipped(
                                                RecordError(
                                                    code: "null_url", path: file, offset: row,
                                                    message:
                                                        "row \(row): the URL column \(url.name.debugDescription) is null"
                                                )))
                                        continue
                                    }
                                    var captionText = ""
                                    var captionRaw = false
                                    if hasCaption && captionNulls?[i] != true {
                                        let b = UnsafeBufferPointer(
                                            rebasing: captionData[captionStarts[i]..<captionEnds[i]])
                                        if let s = String(validating: b, as: UTF8.self) {
                                            captionText = s
                                        } else {
                                            captionText = RawBytes.decode(ArraySlice(b))
                                            captionRaw = true
                                        }
                                    }
                                    var event: CrawlEvent
                                    // The common case, a clean absolute URL, without building a WebURL (as the WAT reader).
                                    let bytes = UnsafeBufferPointer(rebasing: urlData[urlStarts[i]..<urlEnds[i]])
                                    if let href = WebURL.fastHref(bytes: bytes, scratch: scratch) {
                                        event = .candidate(
                                            Candidate(
                                                url: href,
                                                caption: TextCleaner.clean(
                                                    captionRaw ? RawBytes.replaced(captionText) : captionText),
                                                page: page, recordOffset: row))
                                    } else {
                                        let text =
                                            String(validating: bytes, as: UTF8.self)
                                            ?? RawBytes.decode(ArraySlice(bytes))
                                        event = URLListReader.candidate(
                                            url: text, caption: captionText, page: page, offset: row)
                                    }
                                    if !savedChunks.isEmpty, case .candidate(var c) = event {
                                        for (k, chunk) in savedChunks.enumerated() {
                                            c.columns[saved[k].name] = ParquetInput.value(
                                                chunk, i, isString: saved[k].column.isString)
                                        }
                                        event = .candidate(c)
                                    }
                                    emit(consume event)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A message without the file's name in front (the record error names it).
    static func dropPath(_ message: String, _ path: String) -> String {
        message.hasPrefix(path + ": ") ? String(message.dropFirst(path.count + 2)) : message
    }

    /// Row `i` of a column as a saved value (binary that is not text is saved as hex).
    static func value(_ chunk: ColumnValues, _ i: Int, isString: Bool) -> ColumnValue {
        if chunk.isNull(i) { return .null }
        switch chunk.values {
        case .boolean(let v): return .bool(v[i])
        case .int32(let v): return .int(Int64(v[i]))
        case .int64(let v): return .int(v[i])
        case .float(let v): return .double(Double(v[i]))
        case .double(let v): return .double(v[i])
        case .bytes(let v): return .string(v.validString(i) ?? (isString ? v.string(i) : hex(v[i])))
        }
    }
}
