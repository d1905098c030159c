import Foundation
import WinnowCore
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
            print(String(decoding: try e.encode(s), as: UTF8.self))
        } else {
            print(render(s, title: "Winnow output \(dir)"))
        }
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
        for (reason, n) in s.droppedByReason.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
            lines.append(row(reason, n, indent: 4))
        }
        lines.append(row("input records skipped", s.inputErrors))
        lines.append(row("shards", s.shards))
        func text(_ name: String, _ value: String) -> String {
            "  " + name.padding(toLength: 24, withPad: " ", startingAt: 0) + value
        }
        let bytes: String = Words.bytes(s.shardBytes)
        lines.append(text("shard bytes", "\(bytes) (\(Words.grouped(s.shardBytes)) bytes)"))
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
