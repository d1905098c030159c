import Foundation
import WinnowCore
import WinnowCrawl
import WinnowFetch
import WinnowImage
import WinnowPipeline
import WinnowShards

enum RunCommand {
    static let command = WinnowCLI.Command(
        name: "run", summary: "run a pipeline: parse, fetch, image, dedup, write shards and index",
        about: """
            Usage: winnow run INPUT... [--pipeline FILE] --output DIR [options]

            Streams every candidate of the inputs through the pipeline's stages and writes webdataset tar shards
            (00000.tar: KEY.jpg, KEY.txt, KEY.json) and DIR/index.sqlite, one row per candidate with its outcome.

            Inputs: Common Crawl WAT files (.warc.wat.gz, one gzip member per record, single member, or plain),
            candidate JSON Lines from 'winnow parse', or URL lists (one URL per line); plain or gzipped. An input may
            be an http(s) URL (s3://commoncrawl/KEY too), streamed and resumed where it breaks; --input-list reads a
            paths file of them (Common Crawl's wat.paths.gz). An input that cannot be read is recorded, the others
            are read, and the exit status is 3. Without
            --pipeline, Winnow's default settings apply (schemas/pipeline.schema.json). The older form
            'winnow run PIPELINE.json --input FILE...' is still accepted: with --input and without --pipeline, the
            first argument is the pipeline.

            Progress goes to the terminal, or as JSON Lines to stdout when it is not a terminal; a summary ends the run.

            Resuming: a run that was killed or stopped is continued by running the same command again (same
            pipeline settings and inputs): committed shards stay as they are and their samples are not fetched again;
            a kill costs at most the open shard's samples. SIGINT or SIGTERM stops a run gracefully (exit 130 or 143)
            after its last commit; a second signal stops it at once, which is just as safe to resume.
            """,
        options: [
            inputOption,
            .value(
                "pipeline", "FILE", "the pipeline config (default: Winnow's defaults, schemas/pipeline.schema.json)"),
            .value("output", "DIR", "output directory (must not hold a finished run)"),
            .value("shard", "I/N", "run part I (0-based) of N: input file k belongs to part k mod N"),
            .flag("overwrite", "replace a finished or unfinished run in DIR"),
            retryOption,
        ] + fetchOptions + [
            .multi(
                "against", "DIR",
                "count the images of these Winnow outputs or image folders as already seen: identical bytes, PDQ "
                    + "near-duplicates and (outputs) their (url, caption) keys are dropped with the match as "
                    + "duplicate_of (dedup across runs, or keeping an evaluation set out)"),
            .value(
                "registry", "FILE",
                "the opt-out registry to consult (default: the pipeline's optout.registry, else "
                    + "$WINNOW_OPTOUT_REGISTRY or ~/.local/share/winnow/optout.sqlite if it exists): what it names "
                    + "is dropped as opt_out_registry, URLs before download"),
        ] + listOptions + imageOptions + transferOptions,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "run", options: command.options)
        let (inputs, pipeline) = inputsAndPipeline(a, command: "run")
        let retry = try parseRetry(a.value("retry"), command: "run")
        if inputs.isEmpty && a.all("input-list").isEmpty && retry == nil {
            throw UsageError("winnow run: missing INPUT (see 'winnow run --help')")
        }
        guard let output = a.value("output") else { throw UsageError("winnow run: --output DIR is required") }
        let part = try parsePart(a.value("shard"), command: "run")
        var config = try pipeline.map { try PipelineConfig.load(path: $0) } ?? PipelineConfig()
        try applyFetchOverrides(&config, a, command: "run")
        try applyInputOptions(&config, a, command: "run")
        config.dedup.against += a.all("against")
        if !config.dedup.against.isEmpty && !config.dedup.exact && !config.dedup.perceptual
            && !config.parse.dedupURLCaption
        {
            throw UsageError(
                "winnow run: --against does nothing with every dedup off in \(pipeline ?? "the default settings") (dedup.exact, dedup.perceptual, parse.dedup_url_caption)"
            )
        }
        if let r = a.value("registry") { config.optOutRegistry = r }
        try execute(
            config: config, inputs: expandInputs(inputs, a, config: config), output: output, part: part,
            overwrite: a.flags.contains("overwrite"),
            retry: retry)
    }

    /// `--input FILE...` of `run`, `fetch` and `parse`: another spelling of INPUT... (the two add up).
    static let inputOption = Option.multi("input", "FILE", "input files, as INPUT... (the two may be combined)")

    /// The inputs and the pipeline file of `run`, `fetch` and `parse`: `CMD INPUT... --pipeline FILE`, with
    /// `--input FILE...` adding inputs. `run` also takes its older `run PIPELINE.json --input FILE...`: without
    /// `--pipeline`, its first positional argument is the pipeline when `--input` is given, or when it is the only
    /// one, ends in `.json` and `--retry` is given (`run PIPELINE.json --retry transient --output DIR` named no input).
    static func inputsAndPipeline(_ a: Arguments, command: String) -> (inputs: [String], pipeline: String?) {
        var positionals = a.positionals
        var pipeline = a.value("pipeline")
        if command == "run", pipeline == nil, let first = positionals.first {
            let legacyRetry =
                a.value("retry") != nil && a.all("input").isEmpty && positionals.count == 1 && first.hasSuffix(".json")
            if !a.all("input").isEmpty || legacyRetry {
                pipeline = first
                positionals.removeFirst()
            }
        }
        return (positionals + a.all("input"), pipeline)
    }

    /// `--retry`, for `run` and `fetch`.
    static let retryOption = Option.value(
        "retry", "REASON,...",
        "on a finished DIR: fetch again the samples dropped for these reasons (codes such as timeout or http_503, "
            + "http_5xx for a class, or 'transient': connect, timeout, connection_reset, truncated, network, dns, "
            + "http_429, http_5xx, host_circuit_open, robots_unreachable, spawning_unreachable); what now passes goes into new shards and "
            + "its row is updated (attempts add up); INPUT may be left out")

    /// Where `run` and `fetch` may connect.
    static let fetchOptions: [Option] = [
        .multi(
            "connect-to", "H:P:H2:P2", "send connections for host H port P to H2:P2 (libcurl CONNECT_TO)"),
        .multi("allow-range", "CIDR", "also allow fetching from these address ranges (e.g. 127.0.0.0/8)"),
    ]

    /// The reasons that `transient` stands for: failures that another try, later, may not have.
    static let transientReasons: Set<String> = [
        "connect", "timeout", "connection_reset", "truncated", "network", "dns", "http_429", "http_5xx",
        "host_circuit_open", "robots_unreachable", "spawning_unreachable",
    ]

    /// `--retry REASON[,REASON...]`: reason codes, `http_4xx`/`http_5xx`, or `transient`.
    static func parseRetry(_ text: String?, command: String) throws -> Set<String>? {
        guard let text else { return nil }
        var reasons: Set<String> = []
        for r in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !r.isEmpty {
            if r == "transient" {
                reasons.formUnion(transientReasons)
            } else if r.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) {
                reasons.insert(r)
            } else {
                throw UsageError(
                    "winnow \(command): --retry expects reason codes (timeout, http_503, http_5xx, ...) or 'transient', got \(r.debugDescription)"
                )
            }
        }
        if reasons.isEmpty { throw UsageError("winnow \(command): --retry expects at least one reason") }
        return reasons
    }

    /// `I/N` with 0 <= I < N.
    static func parsePart(_ text: String?, command: String) throws -> (index: Int, count: Int)? {
        guard let t = text else { return nil }
        let p = t.split(separator: "/")
        guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]), n >= 1, i >= 0, i < n else {
            throw UsageError("winnow \(command): --shard expects I/N with 0 <= I < N, got \(t.debugDescription)")
        }
        return (i, n)
    }

    /// The inputs given on the command line, with those of `--input-list` paths files appended, each at the address
    /// it is read from (`s3://commoncrawl/...` over HTTPS).
    static func expandInputs(_ inputs: [String], _ a: Arguments, config: PipelineConfig) throws -> [String] {
        let remote = RemoteFiles(settings: config.remoteSettings)
        var out = inputs.map { InputLocation.resolve($0) }
        for list in a.all("input-list") {
            out += try PathsFile.inputs(list, base: a.value("base-url"), remote: remote)
        }
        return out
    }

    /// How URL lists are read: options of every command that reads inputs.
    static let listOptions: [Option] = [
        .multi(
            "input-list", "FILE|URL",
            "also read the inputs this paths file lists, one a line, plain or .gz (Common Crawl's wat.paths.gz); "
                + "local or over HTTP(S)"),
        .value(
            "base-url", "URL",
            "resolve the relative paths of --input-list against this (default: https://data.commoncrawl.org/ for "
                + "crawl-data/ paths, else the paths file's folder)"),
        .value(
            "input-format", "F",
            "txt, csv, tsv, jsonl or parquet (default: Parquet by its magic bytes, the others by file name; .gz allowed)"
        ),
        .value("url-col", "NAME", "column or JSON key of the URL (default: url; Parquet: also URL)"),
        .value(
            "caption-col", "NAME",
            "column or JSON key of the caption (default: the first of caption, text, TEXT, alt that is present)"),
        .value(
            "save-additional-columns", "COL,...",
            "input columns carried into each sample's .json, the index and the shards' Parquet (a name Winnow uses itself becomes source_NAME)"
        ),
    ]

    /// Image stage settings under img2dataset's names (also with underscores), over the pipeline's: `run` only.
    static let imageOptions: [Option] = [
        .value("image-size", "N", "side of the stored images in pixels (image.image_size)"),
        .value(
            "resize-mode", "MODE",
            "\(ResizeMode.allCases.map(\.rawValue).joined(separator: ", ")) (image.resize_mode)"),
        .value("encode-quality", "Q", "JPEG and WebP quality, 1 to 100 (image.encode_quality)"),
        .value("encode-format", "jpg|png|webp", "format of the stored images (image.encode_format)"),
    ]

    /// Download settings under img2dataset's names (also with underscores), over the pipeline's: `run` and `fetch`.
    static let transferOptions: [Option] = [
        .value("timeout", "S", "seconds a transfer may take (fetch.timeout)"),
        .value("retries", "N", "how many times a sample is tried again after a failure that may pass (fetch.retries)"),
        .value("thread-count", "N", "transfers in flight (fetch.concurrency)"),
        .value("user-agent", "UA", "the User-Agent header (fetch.user_agent)"),
    ]

    static func applyInputOptions(_ config: inout PipelineConfig, _ a: Arguments, command: String) throws {
        if let f = a.value("input-format") {
            guard URLListOptions.formats.contains(f) else {
                throw UsageError(
                    "winnow \(command): --input-format expects txt, csv, tsv, jsonl or parquet, got \(f.debugDescription)"
                )
            }
            config.lists.format = f
        }
        if let u = a.value("url-col") { config.lists.urlColumn = u }
        if let c = a.value("caption-col") { config.lists.captionColumn = c }
        if let s = a.value("save-additional-columns") {
            config.lists.saveColumns = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
        if let n = try a.int("image-size", command: command, min: 1) { config.image.imageSize = n }
        if let m = a.value("resize-mode") {
            guard let mode = ResizeMode(rawValue: m) else {
                throw UsageError(
                    "winnow \(command): --resize-mode expects one of \(ResizeMode.allCases.map(\.rawValue).joined(separator: ", ")), got \(m.debugDescription)"
                )
            }
            config.image.resizeMode = mode
        }
        if let q = try a.int("encode-quality", command: command, min: 1) {
            guard q <= 100 else { throw UsageError("winnow \(command): --encode-quality expects 1 to 100, got \(q)") }
            config.image.encodeQuality = q
        }
        if let f = a.value("encode-format") {
            guard ["jpg", "png", "webp"].contains(f) else {
                throw UsageError(
                    "winnow \(command): --encode-format expects jpg, png or webp, got \(f.debugDescription)")
            }
            config.image.encodeFormat = f
        }
        if let t = a.value("timeout") {
            guard let seconds = Double(t), seconds > 0 else {
                throw UsageError("winnow \(command): --timeout expects seconds, got \(t.debugDescription)")
            }
            config.fetch.timeoutSeconds = seconds
        }
        if let r = try a.int("retries", command: command, min: 0) { config.fetch.retries = r }
        if let c = try a.int("thread-count", command: command, min: 1) { config.fetch.concurrency = c }
        if let u = a.value("user-agent") { config.fetch.userAgent = u }
    }

    static func applyFetchOverrides(_ config: inout PipelineConfig, _ a: Arguments, command: String) throws {
        config.fetch.connectTo += a.all("connect-to")
        for r in a.all("allow-range") {
            guard let c = CIDR(r) else {
                throw UsageError(
                    "winnow \(command): --allow-range expects an address range like 127.0.0.0/8, got \(r.debugDescription)"
                )
            }
            config.fetch.allowedRanges.append(c)
        }
    }

    /// Runs the pipeline with progress and prints the summary; returns the stats read back from the index.
    @discardableResult
    static func execute(
        config: PipelineConfig, inputs: [String], output: String, part: (index: Int, count: Int)?, overwrite: Bool,
        humanSummary: Bool? = nil, command: String = "run", retry: Set<String>? = nil
    ) throws -> IndexStats {
        let runner = Runner(config: config, inputs: inputs, output: output, part: part)
        // Bad inputs or settings are refused before anything is created.
        if retry == nil { try runner.validate() }
        // The part's own inputs: each part of a job array has its own directory and manifest.
        var resuming = false
        if retry != nil {
            if overwrite { throw UsageError("winnow \(command): --retry and --overwrite do not go together") }
            _ = try OutputDirectory.claimForRetry(
                output, command: command, settings: config.manifestSettings,
                inputs: inputs.isEmpty ? nil : runner.inputs)
        } else {
            let claim = try Runner.prepareOutput(
                output, overwrite: overwrite, command: command, config: config, inputs: runner.inputs)
            if let message = claim.message { WinnowCLI.note(message) }
            resuming = claim.resuming
        }
        if let p = part, runner.inputs.isEmpty {
            WinnowCLI.note(
                "winnow: part \(p.index)/\(p.count) has no input files (\(inputs.count) inputs); writing an empty run")
        }
        let start = Date()
        // Ctrl-C, Slurm's time limit, preemption: commit, say how to resume, exit 130 / 143.
        StopSignal.install()
        try runner.run(progress: defaultProgress(), resume: resuming, retry: retry) { WinnowCLI.note($0) }
        let stats = try IndexReader(directory: output).stats()
        printSummary(
            stats, output: output, elapsed: Date().timeIntervalSince(start), human: humanSummary ?? (isatty(1) != 0))
        if let line = allDroppedHint(stats) { WinnowCLI.note("winnow \(command): " + line) }
        if !stats.unreadableInputs.isEmpty {
            // The run is finished with what could be read; the rest is named, with how to read it later.
            let n = stats.unreadableInputs.count
            throw WinnowError(
                .incomplete,
                "\(WinnowCLI.count(n, "input")) could not be read to the end (\(stats.unreadableInputs.prefix(3).joined(separator: ", "))\(n > 3 ? ", ..." : "")): the reasons are in \(output)/index.sqlite's input_errors (code input_unreadable); run them again into another directory and merge with 'winnow index'"
            )
        }
        // Inputs where nothing at all parses are an input error, not an empty success.
        if stats.candidates == 0 && stats.inputErrors > 0 {
            throw WinnowError(
                .format,
                "nothing in the inputs could be read (\(WinnowCLI.count(stats.inputErrors, "record")) skipped, listed in \(output)/index.sqlite's input_errors); are they WARC, WAT, candidate JSON Lines or URL list files?"
            )
        }
        return stats
    }

    /// When one reason dropped every candidate, that in plain words, with what to change.
    static func allDroppedHint(_ s: IndexStats) -> String? {
        guard s.kept == 0, s.candidates > 0, let (reason, n) = s.droppedByReason.max(by: { $0.value < $1.value }),
            n == s.candidates
        else { return nil }
        let hints = [
            "caption_too_short":
                "the candidates have no captions, or short ones: name the caption column with --caption-col, or set parse.min_caption_length in the pipeline",
            "address_refused":
                "their hosts resolve to private or loopback addresses, which are refused: allow a range with --allow-range CIDR",
            "robots_txt": "their sites' robots.txt disallow Winnow's tokens (fetch.robots_tokens)",
            "dns": "their host names do not resolve (is this machine offline?)",
            "connect": "their servers refuse connections (is this machine offline?)",
            "duplicate_url_caption": "every (url, caption) pair was seen before (--against, or repeated input)",
        ]
        return "all \(WinnowCLI.count(n, "candidate")) were dropped as \(reason)"
            + (hints[reason].map { ": " + $0 } ?? "")
    }

    static func printSummary(_ s: IndexStats, output: String, elapsed: Double, human: Bool) {
        let index = (output as NSString).appendingPathComponent("index.sqlite")
        if !human {
            var o: [String: Any] = [
                "event": "summary", "candidates": s.candidates, "fetched": s.fetched, "kept": s.kept,
                "dropped": s.dropped,
                "dropped_by_reason": s.droppedByReason, "input_errors": s.inputErrors, "shards": s.shards,
                "shard_bytes": s.shardBytes, "output": output, "index": index,
                "circuit_breakers": s.circuitBreakers,
            ]
            if let r = s.optOutRegistry {
                o["optout_registry"] = r
                o["optout_entries"] = s.optOutEntries ?? 0
            }
            o["elapsed_s"] = (elapsed * 10).rounded() / 10
            o["peak_rss_mb"] = ProcessMemory.peakResidentBytes >> 20
            if let d = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) {
                writeLine(String(decoding: d, as: UTF8.self))
            }
            return
        }
        print(StatsCommand.render(s, title: String(format: "Run finished in %.1f s", elapsed)))
        print("  output       \(output)")
        print("  index        \(index)")
        print("  peak RSS     \(ProcessMemory.peakResidentBytes >> 20) MiB")
    }
}
