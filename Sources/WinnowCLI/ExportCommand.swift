import Foundation
import WinnowCore
import WinnowShards

enum ExportCommand {
    static let command = WinnowCLI.Command(
        name: "export", summary: "the whole index of an output directory as Parquet or JSON Lines",
        about: """
            Usage: winnow export DIR --output FILE [--format parquet|jsonl]

            Writes every candidate of DIR's index, kept and dropped, one row each in row order, for analysis in
            DuckDB, pandas or Spark: the columns of the shards' NNNNN.parquet (key, url, caption, status: success
            or dropped, error_message, reason, sizes, hashes, similarity, provenance, opt-out evidence, removals)
            and the saved input columns. FILE is written as FILE.partial and renamed when complete.
            """,
        options: [
            .value("output", "FILE", "where to write (required)"),
            .value("format", "F", "parquet (zstd) or jsonl (default: by FILE's extension, else parquet)"),
        ],
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "export", options: command.options)
        let dir = try a.positionals(["DIR"], command: "export")[0]
        guard let output = a.value("output") else { throw UsageError("winnow export: --output FILE is required") }
        let format = a.value("format") ?? (output.lowercased().hasSuffix(".jsonl") ? "jsonl" : "parquet")
        guard ["parquet", "jsonl"].contains(format) else {
            throw UsageError("winnow export: --format expects parquet or jsonl, got \(format.debugDescription)")
        }
        let n = try SampleTable.export(directory: dir, format: format, output: output)
        WinnowCLI.note("winnow export: \(Words.count(n, "row")) of \(dir) written to \(output)")
    }
}
