import Foundation
import WinnowPipeline

enum FetchCommand {
    static let command = WinnowCLI.Command(
        name: "fetch", summary: "download the images of candidates or URL lists into shards",
        help: """
            Usage: winnow fetch INPUT... --output DIR [--pipeline FILE] [--overwrite | --retry REASON,...]
                                [--connect-to H:P:H2:P2]... [--allow-range CIDR]...

            Downloads the images of candidate files from 'winnow parse', WAT files or URL lists, with many transfers at
            once, per-host limits, size and time caps, and no private addresses unless allowed. The downloaded bytes
            are stored as they are (no resizing) in tar shards, with DIR/index.sqlite giving each candidate's outcome.
            Options are those of 'winnow run'; --pipeline takes the fetch and parse settings from a config.
            \(RunCommand.inputHelp)
            """,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(
            args, command: "fetch",
            options: Set(["output", "pipeline", "shard", "retry"]).union(RunCommand.inputOptions),
            multi: ["connect-to", "allow-range"],
            flags: ["overwrite"])
        let inputs = a.positionals
        let retry = try RunCommand.parseRetry(a.value("retry"), command: "fetch")
        if inputs.isEmpty && retry == nil {
            throw UsageError("winnow fetch: missing INPUT (see 'winnow fetch --help')")
        }
        guard let output = a.value("output") else { throw UsageError("winnow fetch: --output DIR is required") }
        try RunCommand.refuseIgnored(
            a, RunCommand.imageOnlyOptions, command: "fetch",
            why: "fetch stores images as downloaded; 'winnow run' resizes and re-encodes")
        var config = try a.value("pipeline").map { try PipelineConfig.load(path: $0) } ?? PipelineConfig()
        config.image.process = false
        config.image.minBytes = 0
        try RunCommand.applyFetchOverrides(&config, a, command: "fetch")
        try RunCommand.applyInputOptions(&config, a, command: "fetch")
        let part = try RunCommand.parsePart(a.value("shard"), command: "fetch")
        try RunCommand.execute(
            config: config, inputs: inputs, output: output, part: part, overwrite: a.flags.contains("overwrite"),
            command: "fetch", retry: retry)
    }
}
