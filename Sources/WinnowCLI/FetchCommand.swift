import Foundation
import WinnowPipeline

enum FetchCommand {
    static let command = WinnowCLI.Command(
        name: "fetch", summary: "download the images of candidates or URL lists into shards",
        about: """
            Usage: winnow fetch INPUT... [--pipeline FILE] --output DIR [--overwrite | --retry REASON,...]
                                [--connect-to H:P:H2:P2]... [--allow-range CIDR]...

            Downloads the images of candidate files from 'winnow parse', WAT files or URL lists, with many transfers at
            once, per-host limits, size and time caps, and no private addresses unless allowed. The downloaded bytes
            are stored as they are (no resizing) in tar shards, with DIR/index.sqlite giving each candidate's outcome.
            Resuming and stopping work as for 'winnow run'.
            """,
        options: [
            RunCommand.inputOption,
            .value(
                "pipeline", "FILE",
                "take the fetch and parse settings from this pipeline config (default: Winnow's defaults)"),
            .value("output", "DIR", "output directory (must not hold a finished run)"),
            .value("shard", "I/N", "fetch part I (0-based) of N: input file k belongs to part k mod N"),
            .flag("overwrite", "replace a finished or unfinished run in DIR"),
            RunCommand.retryOption,
        ] + RunCommand.fetchOptions + RunCommand.listOptions + RunCommand.transferOptions,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(
            args, command: "fetch", options: command.options, ignored: RunCommand.imageOptions.map(\.name),
            why: "fetch stores images as downloaded; 'winnow run' resizes and re-encodes")
        let (inputs, pipeline) = RunCommand.inputsAndPipeline(a, command: "fetch")
        let retry = try RunCommand.parseRetry(a.value("retry"), command: "fetch")
        if inputs.isEmpty && a.all("input-list").isEmpty && retry == nil {
            throw UsageError("winnow fetch: missing INPUT (see 'winnow fetch --help')")
        }
        guard let output = a.value("output") else { throw UsageError("winnow fetch: --output DIR is required") }
        var config = try pipeline.map { try PipelineConfig.load(path: $0) } ?? PipelineConfig()
        config.image.process = false
        config.image.minBytes = 0
        try RunCommand.applyFetchOverrides(&config, a, command: "fetch")
        try RunCommand.applyInputOptions(&config, a, command: "fetch")
        let part = try RunCommand.parsePart(a.value("shard"), command: "fetch")
        try RunCommand.execute(
            config: config, inputs: RunCommand.expandInputs(inputs, a, config: config), output: output, part: part,
            overwrite: a.flags.contains("overwrite"),
            command: "fetch", retry: retry)
    }
}
