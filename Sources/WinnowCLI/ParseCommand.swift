import Foundation
import WinnowCore
import WinnowCrawl
import WinnowPipeline

enum ParseCommand {
    static let command = WinnowCLI.Command(
        name: "parse", summary: "extract image candidates from WAT files or URL lists",
        help: """
            Usage: winnow parse INPUT... --output DIR|- [--pipeline FILE] [--all]

            Reads Common Crawl WAT files (gzip per record, single member, or plain) and URL lists, and writes the
            candidates that pass the pipeline's parse filters (caption length, URL length, extensions, page opt-outs,
            (url, caption) dedup) as JSON Lines: key, url, caption, page_url, opt_out_signals, url_attribute,
            laion_hash (LAION-5B's `hash`), uid (cc2dataset's md5(alt + url)), input_file, record_offset, record_id,
            page_date. '--output -' writes to stdout; a directory gets
            candidates-00000.jsonl, ... (100,000 a file) that 'winnow fetch' and 'winnow run' read.
            Malformed records are skipped and reported on stderr with file and offset.

            Options:
              --pipeline FILE   take the parse settings from this pipeline config (default: LAION's filters)
              --all             also write dropped candidates, with a "dropped" field giving the reason
              --threads N       read with N threads (default: one per core); 1 keeps the input's order
            \(RunCommand.inputHelp)
            """,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(
            args, command: "parse", options: Set(["output", "pipeline", "threads"]).union(RunCommand.inputOptions),
            flags: ["all"])
        let inputs = a.positionals
        if inputs.isEmpty { throw UsageError("winnow parse: missing INPUT (see 'winnow parse --help')") }
        guard let output = a.value("output") else { throw UsageError("winnow parse: --output DIR|- is required") }
        var config = try a.value("pipeline").map { try PipelineConfig.load(path: $0) } ?? PipelineConfig()
        try RunCommand.applyInputOptions(&config, a, command: "parse")
        let threads = try a.int("threads", command: "parse", min: 1) ?? ProcessInfo.processInfo.activeProcessorCount
        let reader = try CandidateReader(
            paths: inputs, extractor: WATExtractor(titleFallback: config.titleFallback), threads: threads,
            lists: config.lists)
        let filter = CandidateFilter(settings: config.parse)
        let sink = try CandidateSink(output: output)
        var kept = 0
        var dropped: [String: Int] = [:]
        var skipped = 0
        // Per input: candidates read, and skipped records by code; only the first few skips are printed.
        var read: [String: Int] = [:]
        var skips: [String: [String: Int]] = [:]
        while let event = try reader.next() {
            switch event {
            case .candidate(let c):
                read[c.provenance.inputFile, default: 0] += 1
                let reason = filter.check(c)
                if let r = reason { dropped[r.code, default: 0] += 1 } else { kept += 1 }
                if reason != nil && !a.flags.contains("all") { continue }
                try sink.write(c.jsonLineUTF8(extra: reason.map { [("dropped", $0.description)] } ?? []))
            case .skipped(let e):
                skipped += 1
                let seen = skips[e.path, default: [:]].values.reduce(0, +)
                skips[e.path, default: [:]][e.code, default: 0] += 1
                if seen < ParseCommand.shownSkips { WinnowCli.warn("skipped record: \(e) [\(e.code)]") }
            }
        }
        try sink.finish()
        var unreadable: [String] = []
        for (path, codes) in skips.sorted(by: { $0.key < $1.key }) {
            let n = codes.values.reduce(0, +)
            let byCode = codes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            if read[path, default: 0] == 0 {
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

/// Candidate JSON Lines to stdout, or to DIR/candidates-NNNNN.jsonl files written atomically.
final class CandidateSink {
    private let directory: String?
    private var buffer = Data()
    private var inFile = 0
    private var fileNumber = 0
    static let perFile = 100_000

    init(output: String) throws {
        if output == "-" {
            directory = nil
        } else {
            directory = output
            do {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            } catch {
                throw WinnowError(.io, "\(output): cannot create directory: \(error.localizedDescription)")
            }
        }
    }

    func write(_ line: [UInt8]) throws {
        buffer.append(contentsOf: line)
        buffer.append(0x0a)
        inFile += 1
        if directory == nil {
            if buffer.count > 1 << 16 { flush() }
        } else if inFile >= CandidateSink.perFile {
            try closeFile()
        }
    }

    private func flush() {
        FileHandle.standardOutput.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private func closeFile() throws {
        guard let dir = directory, inFile > 0 else { return }
        let path = (dir as NSString).appendingPathComponent(String(format: "candidates-%05d.jsonl", fileNumber))
        do {
            try buffer.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw WinnowError(.io, "\(path): cannot write: \(error.localizedDescription)")
        }
        buffer.removeAll(keepingCapacity: true)
        inFile = 0
        fileNumber += 1
    }

    func finish() throws {
        if directory == nil { flush() } else { try closeFile() }
    }
}
