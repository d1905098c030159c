import Foundation
import WinnowCore
import WinnowEmbed
import WinnowImage
import WinnowPipeline
import WinnowShards

enum QueryCommand {
    static let command = WinnowCLI.Command(
        name: "query", summary: "find samples in output directories' indexes, by field, caption text or CLIP",
        about: """
            Usage: winnow query DIR... [CONDITIONS] [--limit N] [--json]
                   winnow query DIR... (--similar-text TEXT | --similar-image FILE) [--k N] [--model DIR] [CONDITIONS]

            CONDITIONS are the options from --key to --semantic-duplicates below; a sample must meet them all.

            --similar-text / --similar-image rank the kept samples by the cosine of their CLIP image embedding with
            the text's or image's embedding (an exact scan of every stored embedding), best first; the model is
            --model DIR, else the one the run used. Several DIRs are searched as one (parts of a partitioned run).
            Prints a table, or one JSON object per line with --json.
            """,
        options: [
            .value("key", "K", "the sample with this key"),
            .value("url", "U", "samples of this image URL"),
            .value("domain", "D", "samples whose image URL's host is D or one of its subdomains"),
            .value("status", "kept|dropped", "samples with this outcome"),
            .value("reason", "CODE", "samples dropped for this reason (see 'winnow stats')"),
            .value(
                "caption", "QUERY", "full-text search of captions (SQLite FTS5: words, \"phrases\", AND/OR/NOT, pre*)"),
            .value("caption-contains", "TEXT", "substring of the caption"),
            .value("min-similarity", "X", "samples whose image-text cosine (from the embed stage) is at least X"),
            .value("max-similarity", "X", "samples whose image-text cosine (from the embed stage) is at most X"),
            .value("min-width", "N", "original image width at least N"),
            .value("min-height", "N", "original image height at least N"),
            .value("max-width", "N", "original image width at most N"),
            .value("max-height", "N", "original image height at most N"),
            .value("duplicate-of", "KEY", "the samples dropped as duplicates of KEY (exact, PDQ or semantic)"),
            .flag("semantic-duplicates", "the samples 'winnow dedup' found to be semantic duplicates"),
            .value("limit", "N", "print at most N samples (default 50)"),
            .flag("json", "one JSON object per line instead of a table"),
            .value("similar-text", "TEXT", "rank the kept samples by CLIP similarity to this text"),
            .value("similar-image", "FILE", "rank the kept samples by CLIP similarity to this image"),
            .value("k", "N", "with --similar-*: how many samples (default 10)"),
            .value("model", "DIR", "with --similar-*: the CLIP model (default: the one the run used)"),
        ],
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "query", options: command.options)
        let dirs = a.positionals
        if dirs.isEmpty { throw UsageError("winnow query: missing DIR (see 'winnow query --help')") }
        var q = IndexReader.Query()
        q.key = a.value("key")
        q.url = a.value("url")
        q.domain = a.value("domain")
        q.captionMatch = a.value("caption")
        q.captionContains = a.value("caption-contains")
        q.status = a.value("status")
        if let s = q.status, s != "kept" && s != "dropped" {
            throw UsageError("winnow query: --status expects kept or dropped, got \(s.debugDescription)")
        }
        q.reason = a.value("reason")
        q.duplicateOf = a.value("duplicate-of")
        q.semanticDuplicates = a.flags.contains("semantic-duplicates")
        func number(_ name: String) throws -> Double? {
            guard let v = a.value(name) else { return nil }
            guard let d = Double(v) else { throw UsageError("winnow query: --\(name) expects a number, got \(v)") }
            return d
        }
        q.minSimilarity = try number("min-similarity")
        q.maxSimilarity = try number("max-similarity")
        q.minWidth = try a.int("min-width", command: "query", min: 0)
        q.minHeight = try a.int("min-height", command: "query", min: 0)
        q.maxWidth = try a.int("max-width", command: "query", min: 0)
        q.maxHeight = try a.int("max-height", command: "query", min: 0)
        q.limit = try a.int("limit", command: "query", min: 0) ?? 50
        let readers = try dirs.map { try IndexReader(directory: $0) }

        var rows: [IndexRow] = []
        if a.value("similar-text") != nil || a.value("similar-image") != nil {
            rows = try similar(a, dirs: dirs, readers: readers, query: q)
        } else {
            for (i, r) in readers.enumerated() where rows.count < q.limit {
                var part = q
                part.limit = q.limit - rows.count
                rows += try r.find(part).map { row in
                    var row = row
                    if dirs.count > 1 { row["directory"] = dirs[i] }
                    return row
                }
            }
        }
        // The default limit says so when it cuts the list short.
        if a.value("limit") == nil && rows.count == q.limit {
            WinnowCLI.note("showing the first \(q.limit) matching samples; --limit N for more")
        }
        if a.flags.contains("json") {
            // Numbers as JSON numbers (`jq 'select(.similarity > 0.9)'` works), text as strings.
            for r in rows {
                let d = try JSONSerialization.data(withJSONObject: r.json, options: [.sortedKeys])
                print(String(decoding: d, as: UTF8.self))
            }
            return
        }
        if rows.isEmpty {
            WinnowCLI.note("no matching samples")
            return
        }
        print(table(rows))
    }

    /// The k kept samples nearest to a text or an image, filtered by the other conditions.
    static func similar(_ a: Arguments, dirs: [String], readers: [IndexReader], query: IndexReader.Query) throws
        -> [IndexRow]
    {
        if a.value("similar-text") != nil && a.value("similar-image") != nil {
            throw UsageError("winnow query: give --similar-text or --similar-image, not both")
        }
        let k = try a.int("k", command: "query", min: 1) ?? 10
        guard let model = try a.value("model") ?? readers[0].runValue("embed_model") else {
            throw UsageError("winnow query: --similar-* needs --model DIR (\(dirs[0]) was not embedded)")
        }
        if a.value("model") == nil && !FileManager.default.fileExists(atPath: model) {
            throw UsageError(
                "winnow query: \(dirs[0]) was embedded with the model \(model), which is not there from here; pass --model DIR"
            )
        }
        let encoder = try CLIPEncoder(directory: model)
        let vector: [Float]
        if let text = a.value("similar-text") {
            vector = encoder.embedTexts([text])
        } else {
            let image = try HashCommand.readImage(a.value("similar-image") ?? "")
            vector = encoder.embedImages([(image.pixels, image.width, image.height)])
        }
        let search = try EmbeddingSearch(directories: dirs)
        guard search.dimension == vector.count else {
            throw WinnowError(.usage, "\(model): \(vector.count)-wide embeddings; the index has \(search.dimension)")
        }
        // Ask for more while the other conditions filter some out.
        var want = k
        while true {
            let hits = search.nearest(vector, k: want)
            var rows: [IndexRow] = []
            for h in hits {
                var cond = query
                cond.key = h.key
                cond.status = "kept"
                cond.limit = 1
                guard var row = try readers[h.directory].find(cond).first else { continue }
                row.values["score"] = .real((Double(h.score) * 1e4).rounded() / 1e4)
                if dirs.count > 1 { row["directory"] = dirs[h.directory] }
                rows.append(row)
                if rows.count == k { return rows }
            }
            if hits.count < want { return rows }
            want *= 4
        }
    }

    static func table(_ rows: [IndexRow]) -> String {
        // The similarity column appears when the run had an embed stage.
        let similarity = rows.contains { $0["similarity"] != nil }
        // Which kept sample a duplicate duplicates, when any row is one.
        let duplicates = rows.contains { $0["duplicate_of"] != nil || $0["semantic_duplicate_of"] != nil }
        let scored = rows.contains { $0["score"] != nil }
        let many = rows.contains { $0["directory"] != nil }
        let columns =
            (many ? ["directory"] : []) + (scored ? ["score"] : []) + ["key", "status", "reason", "size"]
            + (similarity ? ["similarity"] : []) + (duplicates ? ["duplicate_of"] : []) + ["caption", "url"]
        let cells: [[String]] = rows.map { r in
            let size = r["stored_width"].map { "\($0)x\(r["stored_height"] ?? "?")" } ?? ""
            let sim = r.number("similarity").map { String(format: "%.3f", $0) } ?? ""
            let score = r.number("score").map { String(format: "%.4f", $0) } ?? ""
            return (many ? [r["directory"] ?? ""] : []) + (scored ? [score] : [])
                + [r["key"] ?? "", r["status"] ?? "", r["reason"] ?? "", size] + (similarity ? [sim] : [])
                + (duplicates ? [r["duplicate_of"] ?? r["semantic_duplicate_of"] ?? ""] : []) + [
                    clip(r["caption"] ?? "", 40), clip(r["url"] ?? "", 60),
                ]
        }
        return render(columns, cells)
    }

    /// A table: columns padded to their widest cell, two spaces apart.
    static func render(_ columns: [String], _ cells: [[String]]) -> String {
        var widths = columns.map(\.count)
        for c in cells { for (i, v) in c.enumerated() { widths[i] = max(widths[i], v.count) } }
        func line(_ v: [String]) -> String {
            v.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(columns)] + cells.map(line)).joined(separator: "\n")
    }

    static func clip(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }
}
