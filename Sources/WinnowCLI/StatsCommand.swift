import Foundation
import WinnowCore
import WinnowReport
import WinnowShards

enum StatsCommand {
    static let command = WinnowCLI.Command(
        name: "stats", summary: "counts by outcome and reason, shards and bytes of an output directory",
        about: """
            Usage: winnow stats DIR [--json]

            Reads DIR/index.sqlite: candidates, fetched, kept, dropped by reason, input records skipped, shards, bytes.
            """,
        options: [.flag("json", "print the counts as one JSON object")],
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "stats", options: command.options)
        let dir = try a.positionals(["DIR"], command: "stats")[0]
        let s = try IndexReader(directory: dir).stats()
        if a.flags.contains("json") {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            // The same counts grouped by stage, beside the index's own fields.
            var o = try JSONSerialization.jsonObject(with: try e.encode(s)) as? [String: Any] ?? [:]
            o["dropped_by_stage"] = Dictionary(
                uniqueKeysWithValues: byStage(s.droppedByReason).map {
                    ($0.stage, $0.reasons.reduce(0) { $0 + $1.count })
                })
            o["shard_bytes_human"] = Words.bytes(s.shardBytes)
            o["image_bytes_human"] = Words.bytes(s.imageBytes)
            let d = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
            print(String(decoding: d, as: UTF8.self))
        } else {
            print(render(s, title: "Winnow output \(dir)"))
        }
    }

    /// Dropped counts grouped by the stage that recorded them, as the report groups them.
    static func byStage(_ reasons: [String: Int]) -> [(stage: String, reasons: [(code: String, count: Int)])] {
        Report.byStage(reasons)
    }

    static func render(_ s: IndexStats, title: String) -> String {
        func row(_ name: String, _ value: Int, indent: Int = 2) -> String {
            String(repeating: " ", count: indent) + name.padding(toLength: 26 - indent, withPad: " ", startingAt: 0)
                + String(value)
        }
        var lines = [
            title, row("candidates", s.candidates), row("fetched", s.fetched), row("kept", s.kept),
            row("dropped", s.dropped),
        ]
        // By stage, in pipeline order, then by reason within it (most first).
        for (stage, reasons) in byStage(s.droppedByReason) {
            lines.append(row(stage, reasons.reduce(0) { $0 + $1.count }, indent: 4))
            for r in reasons { lines.append(row(r.code, r.count, indent: 6)) }
        }
        lines.append(row("input records skipped", s.inputErrors))
        lines.append(row("shards", s.shards))
        func text(_ name: String, _ value: String) -> String {
            "  " + name.padding(toLength: 24, withPad: " ", startingAt: 0) + value
        }
        for (i, input) in s.unreadableInputs.enumerated() {
            lines.append(text(i == 0 ? "inputs not read to the end" : "", input))
        }
        let bytes: String = Words.bytes(s.shardBytes)
        lines.append(text("shard bytes", "\(bytes) (\(Words.grouped(s.shardBytes)) bytes)"))
        lines.append(text("image bytes", "\(Words.bytes(s.imageBytes)) (\(Words.grouped(s.imageBytes)) bytes)"))
        if let r = s.optOutRegistry {
            let entries: String = s.optOutEntries.map { " (" + WinnowCLI.count($0, "entry", "entries") + ")" } ?? ""
            lines.append(text("opt-out registry", r + entries))
        } else {
            lines.append(text("opt-out registry", "none consulted"))
        }
        if !s.circuitBreakers.isEmpty {
            lines.append("  circuit breakers opened")
            lines += s.circuitBreakers.map { "    " + $0 }
        }
        return lines.joined(separator: "\n")
    }
}
