import Foundation
import WinnowCore
import WinnowCrawl
import WinnowFetch
import WinnowPipeline
import WinnowShards

enum ParseCommand {
    static let command = WinnowCLI.Command(
        name: "parse", summary: "extract image candidates from WAT files or URL lists",
        about: """
            Usage: winnow parse INPUT... [--pipeline FILE] --output DIR|- [--all]

            Reads Common Crawl WAT files (gzip per record, single member, or plain) and URL lists, local or over
            HTTP(S) (--input-list: a paths file such as Common Crawl's wat.paths.gz), and writes the
            candidates that pass the pipeline's parse filters (caption length, URL length, extensions, page opt-outs,
            (url, caption) dedup) as JSON Lines: key, url, caption, page_url, opt_out_signals, url_attribute,
            laion_hash (LAION-5B's `hash`), uid (cc2dataset's md5(alt + url)), input_file, record_offset, record_id,
            page_date. '--output -' writes to stdout; a directory gets
            candidates-00000.jsonl, ... (100,000 a file) that 'winnow fetch' and 'winnow run' read.
            Malformed records are skipped and reported on stderr with file and offset.

            Into a directory, a parse that was killed or stopped is resumed by the same command: the candidate files
            it finished stay as they are, and their candidates are not written again.
            """,
        options: [
            RunCommand.inputOption,
            .value("pipeline", "FILE", "take the parse settings from this pipeline config (default: LAION's filters)"),
            .value("output", "DIR|-", "directory of candidate files, or - for stdout"),
            .flag("all", "also write dropped candidates, with a \"dropped\" field giving the reason"),
            .value("threads", "N", "read with N threads (default: one per core); 1 keeps the input's order"),
            .value("per-file", "N", "candidates per file in DIR (default 100,000)"),
            .flag("overwrite", "replace what a previous parse wrote in DIR"),
        ] + RunCommand.fetchOptions + RunCommand.listOptions,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(
            args, command: "parse", options: command.options,
            ignored: (RunCommand.transferOptions + RunCommand.imageOptions).map(\.name),
            why: "parse reads inputs and writes candidates; 'winnow fetch' and 'winnow run' download")
        let (given, pipeline) = RunCommand.inputsAndPipeline(a, command: "parse")
        if given.isEmpty && a.all("input-list").isEmpty {
            throw UsageError("winnow parse: missing INPUT (see 'winnow parse --help')")
        }
        guard let output = a.value("output") else { throw UsageError("winnow parse: --output DIR|- is required") }
        var config = try pipeline.map { try PipelineConfig.load(path: $0) } ?? PipelineConfig()
        try RunCommand.applyFetchOverrides(&config, a, command: "parse")
        try RunCommand.applyInputOptions(&config, a, command: "parse")
        let inputs = try RunCommand.expandInputs(given, a, config: config)
        let threads = try a.int("threads", command: "parse", min: 1) ?? ProcessInfo.processInfo.activeProcessorCount
        let reader = try CandidateReader(
            paths: inputs, extractor: WATExtractor(titleFallback: config.titleFallback), threads: threads,
            lists: config.lists, remote: RemoteFiles(settings: config.remoteSettings))
        let filter = CandidateFilter(settings: config.parse)
        let perFile = try a.int("per-file", command: "parse", min: 1) ?? CandidateSink.defaultPerFile
        let writeAll = a.flags.contains("all")
        var resuming = false
        if output != "-" {
            var settings = config.manifestSettings
            settings["parse.all"] = String(writeAll)
            settings["parse.per_file"] = String(perFile)
            let (dir, message) = try OutputDirectory.claim(
                output, command: "parse", settings: settings, inputs: inputs, overwrite: a.flags.contains("overwrite"))
            if let message { WinnowCLI.note(message) }
            resuming = dir.resuming
        }
        let sink = try CandidateSink(output: output, perFile: perFile, resume: resuming)
        if resuming {
            WinnowCLI.note(
                "\(output): resuming: \(Words.count(sink.committedFiles, "candidate file")) (\(Words.count(sink.committedCount, "candidate"))) committed"
            )
            // What the stopped parse wrote counts as seen by the (url, caption) filter, as it did then.
            if config.parse.dedupURLCaption { for k in sink.committedKeys { filter.remember(k) } }
        }
        StopSignal.install()
        var kept = 0
        var dropped: [String: Int] = [:]
        var skipped = 0
        // Per input: candidates read, and skipped records by code; only the first few skips are printed.
        var read: [String: Int] = [:]
        var skips: [String: [String: Int]] = [:]
        while let event = try reader.next() {
            if StopSignal.flag.isRaised {
                throw WinnowError(
                    .interrupted,
                    "stopped by \(StopSignal.name(StopSignal.flag.signal)): \(output) keeps its finished candidate files; rerun the same command to resume"
                )
            }
            switch event {
            case .candidate(let c):
                read[c.provenance.inputFile, default: 0] += 1
                // Written by the parse this one resumes.
                if sink.alreadyWritten(c) { continue }
                let reason = filter.check(c)
                if let r = reason { dropped[r.code, default: 0] += 1 } else { kept += 1 }
                if reason != nil && !a.flags.contains("all") { continue }
                try sink.write(c, extra: reason.map { [("dropped", $0.description)] } ?? [])
            case .skipped(let e):
                skipped += 1
                let seen = skips[e.path, default: [:]].values.reduce(0, +)
                skips[e.path, default: [:]][e.code, default: 0] += 1
                if seen < ParseCommand.shownSkips { WinnowCli.warn("skipped record: \(e) [\(e.code)]") }
            }
        }
        try sink.finish()
        if output != "-" { try OutputDirectory.markFinished(output) }
        for line in reader.notes { WinnowCLI.note("winnow parse: " + line) }
        var unreadable: [String] = []
        for (path, codes) in skips.sorted(by: { $0.key < $1.key }) {
            let n = codes.values.reduce(0, +)
            let byCode = codes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            if read[path, default: 0] == 0 && codes["input_unreadable"] == nil {
                unreadable.append(path)
                WinnowCli.warn(
                    "\(path): nothing in it could be read (\(n) records skipped: \(byCode)); is it a WARC, WAT, candidate JSON Lines or URL list file?"
                )
            } else if n > ParseCommand.shownSkips {
                WinnowCli.warn("\(path): \(n - ParseCommand.shownSkips) more records skipped (in all: \(byCode))")
            }
        }
        var summary = "parse: \(kept) candidates kept"
        for (code, n) in dropped.sorted(by: { $0.key < $1.key }) { summary += ", \(n) \(code)" }
        if skipped > 0 { summary += ", \(skipped) records skipped" }
        for (code, n) in reader.counters.counts.sorted(by: { $0.key < $1.key }) { summary += ", \(n) links \(code)" }
        WinnowCLI.note(summary)
        // A remote input whose transfer failed for good: what was read is written, the exit status says the rest.
        let failed = skips.filter { $0.value["input_unreadable", default: 0] > 0 }.keys.sorted()
        if !failed.isEmpty {
            throw WinnowError(
                .incomplete,
                "\(Words.count(failed.count, "input")) could not be read to the end: \(failed.prefix(3).joined(separator: ", "))\(failed.count > 3 ? ", ..." : "") (reasons above)"
            )
        }
        // An input where nothing at all parses is an input error, not an empty success.
        if kept == 0 && dropped.isEmpty && !unreadable.isEmpty && unreadable.count == Set(inputs).count {
            throw WinnowError(
                .format,
                "no input could be read (\(unreadable.count == 1 ? unreadable[0] : "\(unreadable.count) files"))")
        }
    }

    /// How many skipped records of one input are printed one by one; the rest are counted.
    static let shownSkips = 5

}

private enum WinnowCli {
    static func warn(_ s: String) { WinnowCLI.note("winnow parse: " + s) }
}

/// Candidate JSON Lines to stdout, or to DIR/candidates-NNNNN.jsonl files written atomically (`.partial`, synced,
/// renamed). Resumable: a sink opened with `resume` keeps the finished files, removes a partial one, and knows
/// which candidates they hold (by input file, record offset and key, counted: the same link twice in a record is
/// two candidates), so that a resumed parse writes each candidate once whatever order its threads read in.
final class CandidateSink {
    private let directory: String?
    private var buffer: [UInt8] = []
    private var inFile = 0
    private var fileNumber = 0
    private let perFile: Int
    static let defaultPerFile = 100_000
    /// Candidates the stopped parse wrote, by identity, with how many times.
    private var written: [UInt64: Int] = [:]
    /// Files and candidates the stopped parse finished.
    private(set) var committedFiles = 0
    private(set) var committedCount = 0
    /// The (url, caption) keys of those candidates.
    private(set) var committedKeys: [UInt64] = []

    init(output: String, perFile: Int = CandidateSink.defaultPerFile, resume: Bool = false) throws {
        self.perFile = perFile
        if output == "-" {
            directory = nil
            return
        }
        directory = output
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw WinnowError(.io, "\(output): cannot create the directory: \(SystemError.reason(error))")
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []).sorted()
        for n in names where n.hasSuffix(".partial") && OutputDirectory.candidateFileNumber(n) != nil {
            try FileManager.default.removeItem(atPath: (output as NSString).appendingPathComponent(n))
        }
        guard resume else { return }
        for n in names where !n.hasSuffix(".partial") && OutputDirectory.candidateFileNumber(n) != nil {
            let path = (output as NSString).appendingPathComponent(n)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw WinnowError(.io, "\(path): cannot read")
            }
            for line in data.split(separator: 0x0a) where !line.isEmpty {
                guard let c = try? JSONDecoder().decode(Candidate.self, from: line) else {
                    throw WinnowError(.format, "\(path): a line is not a candidate (written by another program?)")
                }
                written[CandidateSink.identity(c), default: 0] += 1
                // A line --all wrote for a candidate dropped before the (url, caption) check: its key was never
                // remembered by the filter, so it is not now.
                // (Read a second time only for the lines that have the field.)
                let dropped =
                    line.firstRange(of: Array(#""dropped""#.utf8)) == nil
                    ? nil : (try? JSONSerialization.jsonObject(with: line) as? [String: Any])?["dropped"] as? String
                let code = dropped.map { String($0.prefix { $0 != ":" }) }
                if code.map({ !CandidateFilter.dropsBeforeKeyCheck.contains($0) }) ?? true {
                    committedKeys.append(c.hash64)
                }
                committedCount += 1
            }
            committedFiles += 1
            fileNumber = max(fileNumber, (OutputDirectory.candidateFileNumber(n) ?? 0) + 1)
        }
    }

    /// A candidate's identity: its input file, record offset and key.
    static func identity(_ c: Candidate) -> UInt64 {
        Murmur3.hash64(c.provenance.inputFile + "\u{0}" + String(c.provenance.recordOffset), c.key)
    }

    /// Whether the parse this one resumes wrote `c` (each written copy answers yes once).
    func alreadyWritten(_ c: Candidate) -> Bool {
        guard !written.isEmpty else { return false }
        let id = CandidateSink.identity(c)
        guard let n = written[id] else { return false }
        written[id] = n > 1 ? n - 1 : nil
        return true
    }

    func write(_ c: Candidate, extra: [(String, String)]) throws {
        c.appendJSONLine(to: &buffer, extra: extra)
        buffer.append(0x0a)
        inFile += 1
        if directory == nil {
            if buffer.count > 1 << 16 { flush() }
        } else if inFile >= perFile {
            try closeFile()
        }
    }

    private func flush() {
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    private func closeFile() throws {
        guard let dir = directory, inFile > 0 else { return }
        let path = (dir as NSString).appendingPathComponent(String(format: "candidates-%05d.jsonl", fileNumber))
        try ShardWriter.writeAtomically(buffer, to: path)
        CrashPoint.reached("candidates-written")
        buffer.removeAll(keepingCapacity: true)
        inFile = 0
        fileNumber += 1
    }

    func finish() throws {
        if directory == nil { flush() } else { try closeFile() }
    }
}
