import Foundation
import WinnowShards

enum QueryCommand {
    static let command = WinnowCLI.Command(
        name: "query", summary: "find samples in an output directory's index",
        help: """
            Usage: winnow query DIR [--key K] [--url U] [--caption-contains TEXT] [--status kept|dropped]
                                    [--reason CODE] [--limit N] [--json]

            Prints matching index rows (all conditions must hold) as a table, or one JSON object per line with --json.
            """,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(
            args, command: "query", options: ["key", "url", "caption-contains", "status", "reason", "limit"],
            flags: ["json"])
        let dir = try a.positionals(["DIR"], command: "query")[0]
        var q = IndexReader.Query()
        q.key = a.value("key")
        q.url = a.value("url")
        q.captionContains = a.value("caption-contains")
        q.status = a.value("status")
        if let s = q.status, s != "kept" && s != "dropped" {
            throw UsageError("winnow query: --status expects kept or dropped, got \(s.debugDescription)")
        }
        q.reason = a.value("reason")
        q.limit = try a.int("limit", command: "query", min: 0) ?? 50
        let rows = try IndexReader(directory: dir).find(q)
        if a.flags.contains("json") {
            for r in rows {
                let d = try JSONSerialization.data(withJSONObject: r, options: [.sortedKeys])
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

    static func table(_ rows: [[String: String]]) -> String {
        // The similarity column appears when the run had an embed stage.
        let similarity = rows.contains { $0["similarity"] != nil }
        let columns = ["key", "status", "reason", "size"] + (similarity ? ["similarity"] : []) + ["caption", "url"]
        let cells: [[String]] = rows.map { r in
            let size = r["stored_width"].map { "\($0)x\(r["stored_height"] ?? "?")" } ?? ""
            let score = r["similarity"].flatMap(Double.init).map { String(format: "%.3f", $0) } ?? ""
            return [r["key"] ?? "", r["status"] ?? "", r["reason"] ?? "", size] + (similarity ? [score] : []) + [
                clip(r["caption"] ?? "", 40), clip(r["url"] ?? "", 60),
            ]
        }
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
