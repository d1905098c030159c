import Foundation
import Synchronization
import WinnowCore
import WinnowCrawl
import WinnowEmbed
import WinnowFetch
import WinnowImage
import WinnowOptOut
import WinnowShards

/// Live counters of a run, shared by the stage threads and the progress reporter.
public struct RunCounters: Sendable, Equatable {
    /// Candidates read from the input.
    public var parsed = 0
    /// Input records skipped as malformed.
    public var inputErrors = 0
    /// Candidates dropped by the parse filters.
    public var parseDropped = 0
    /// Downloads that succeeded.
    public var fetchedOK = 0
    /// Downloads that failed.
    public var fetchFailed = 0
    /// Samples through the image stage.
    public var imaged = 0
    /// Samples the embed stage dropped (similarity below the threshold, or a stored image that does not decode).
    public var embedDropped = 0
    /// Samples written to shards.
    public var kept = 0
    /// Samples recorded as dropped.
    public var dropped = 0
    /// Input bytes read.
    public var bytesRead: Int64 = 0
    /// Input bytes in all.
    public var bytesTotal: Int64 = 0
}

/// Where a run's progress goes.
public protocol ProgressSink: Sendable {
    /// Called about every half second with the counters and the seconds since the start.
    func update(_ counters: RunCounters, elapsed: Double)
    /// Called once at the end.
    func finish(_ counters: RunCounters, elapsed: Double)
}

/// Runs a pipeline over inputs: parse -> fetch -> image -> exact dedup -> shards + index. Stages run on their own
/// threads, joined by bounded queues, so the slowest stage sets the pace and memory stays bounded.
public final class Runner: Sendable {
    /// The configuration.
    public let config: PipelineConfig
    /// Inputs of this part.
    public let inputs: [String]
    /// Output directory.
    public let output: String
    private let counters = Mutex(RunCounters())

    /// Prepares a run over `inputs` (restricted to part `part.index` of `part.count`, by input file) into `output`.
    public init(config: PipelineConfig, inputs: [String], output: String, part: (index: Int, count: Int)? = nil) {
        self.config = config
        self.output = output
        let sorted = inputs.sorted()
        if let p = part {
            // Input file i belongs to part i mod N: parts share nothing, so each runs (and fails) alone.
            self.inputs = sorted.enumerated().filter { $0.offset % p.count == p.index }.map(\.element)
        } else {
            self.inputs = sorted
        }
    }

    /// Claims `output` for a run (`OutputDirectory.claim`): a directory Winnow did not write is refused untouched;
    /// a finished run is refused unless `overwrite`; what a killed run left is cleared. Returns a message to show
    /// when something was removed.
    public static func prepareOutput(
        _ output: String, overwrite: Bool, command: String = "run", config: PipelineConfig? = nil,
        inputs: [String] = []
    ) throws -> String? {
        try OutputDirectory.claim(
            output, command: command, settings: config.map { String(describing: $0) } ?? "", inputs: inputs,
            overwrite: overwrite
        ).message
    }

    /// Runs the pipeline to the end. Throws only when the whole run cannot go on (unreadable input, disk errors).
    public func run(progress: ProgressSink?) throws {
        let reader = try CandidateReader(
            paths: inputs, extractor: WATExtractor(titleFallback: config.titleFallback), lists: config.lists)
        // The embed stage's model is loaded before anything runs: a bad checkpoint stops the run at once.
        let encoder = try config.embed.model.map {
            try CLIPEncoder(directory: $0, threads: config.embed.threads > 0 ? config.embed.threads : nil)
        }
        let writer = try ShardWriter(directory: output, samplesPerShard: config.samplesPerShard)
        writer.embeddingType = config.embed.dtype
        if let encoder {
            try writer.setRun("embed_model", encoder.directory)
            if let t = config.embed.minSimilarity { try writer.setRun("min_similarity", String(t)) }
        }
        try writer.setRun("pipeline", config.name)
        try writer.setRun("inputs", inputs.joined(separator: "\n"))
        try writer.setRun("started", ISO8601DateFormatter().string(from: Date()))
        counters.withLock { $0.bytesTotal = reader.totalBytes }

        let workers =
            config.imageWorkers > 0 ? config.imageWorkers : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let toFetch = BoundedQueue<Sample>(capacity: 2048)
        let toImage = BoundedQueue<Sample>(capacity: 256)
        let fromImage = BoundedQueue<Sample>(capacity: 256, producers: workers)
        // With an embed stage, it sits between the image workers and the writer.
        let toWrite = encoder == nil ? fromImage : BoundedQueue<Sample>(capacity: 256)
        let inputErrors = Mutex<[RecordError]>([])
        let failure = Mutex<WinnowError?>(nil)
        let start = Date()
        let group = DispatchGroup()

        // Parse: read candidates, apply the candidate filters (a dropped candidate still flows on, to get its row).
        // Duplicates are judged against --against outputs too: their hashes, and their (url, caption) keys.
        let deduplicator = try Deduplicator(settings: config.dedup)
        if !config.dedup.against.isEmpty {
            try writer.setRun("dedup_against", config.dedup.against.joined(separator: "\n"))
        }
        // The opt-out registry: URLs and keys before download, images after hashing.
        let gate = try OptOutGate.forRun(config)
        if let gate {
            try writer.setRun("optout_registry", gate.path)
            try writer.setRun("optout_entries", String(gate.matcher.count))
        }
        let filter = CandidateFilter(settings: config.parse)
        if config.parse.dedupURLCaption { for k in deduplicator.againstKeys { filter.remember(k) } }
        let parseState = Handoff((reader, filter))
        spawn(group) { [self] in
            let (reader, filter) = parseState.value
            defer { toFetch.producerDone() }
            do {
                while let event = try reader.next() {
                    switch event {
                    case .candidate(let c):
                        var s = Sample(candidate: c)
                        if let r = filter.check(c) {
                            s.drop(r.code, r.detail)
                            counters.withLock { $0.parseDropped += 1 }
                        } else if let hit = gate?.check(candidate: c) {
                            s.drop("opt_out_registry", hit.detail)
                            counters.withLock { $0.parseDropped += 1 }
                        }
                        counters.withLock {
                            $0.parsed += 1
                            $0.bytesRead = reader.bytesRead
                        }
                        toFetch.push(s)
                    case .skipped(let e):
                        inputErrors.withLock { $0.append(e) }
                        counters.withLock { $0.inputErrors += 1 }
                    }
                }
                counters.withLock { $0.bytesRead = reader.bytesRead }
            } catch {
                let e = (error as? WinnowError) ?? WinnowError(.io, "\(error)")
                failure.withLock { $0 = $0 ?? e }
            }
        }

        // Fetch: one libcurl event loop, many transfers.
        var fetchSettings = config.fetch
        // Opt-out documents are kept beside the output unless the pipeline names a shared cache.
        if fetchSettings.policyCachePath == nil {
            fetchSettings.policyCachePath = (output as NSString).appendingPathComponent("policies.sqlite")
        }
        let fetcherObject = Fetcher(settings: fetchSettings)
        let fetcherHandoff = Handoff(fetcherObject)
        spawn(group) { [self] in
            let fetcher = fetcherHandoff.value
            defer { toImage.producerDone() }
            fetcher.run(
                pull: { wait in
                    if wait {
                        if let s = toFetch.pop() { return .sample(s) }
                        return .finished
                    }
                    let (s, closed) = toFetch.tryPop()
                    if let s { return .sample(s) }
                    return closed ? .finished : .empty
                },
                emit: { s in
                    if s.fetch != nil {
                        counters.withLock { if s.isKept { $0.fetchedOK += 1 } else { $0.fetchFailed += 1 } }
                    }
                    toImage.push(s)
                })
        }

        // Image: decode, check, resize, encode on every core, all within one budget for decoded pixels.
        let processor = ImageProcessor(settings: config.image)
        for _ in 0..<workers {
            spawn(group) { [self] in
                defer { fromImage.producerDone() }
                while var s = toImage.pop() {
                    let wasKept = s.isKept
                    processor.process(&s)
                    if wasKept { counters.withLock { $0.imaged += 1 } }
                    fromImage.push(s)
                }
            }
        }

        // Embed: batches of what the image stage kept, in arrival order; the model splits each batch over the cores.
        if let encoder {
            let stage = EmbedStage(encoder: encoder, settings: config.embed)
            spawn(group) { [self] in
                defer { toWrite.producerDone() }
                while let first = fromImage.pop() {
                    var batch = [first]
                    while batch.count < config.embed.batchSize {
                        let (next, _) = fromImage.tryPop()
                        guard let next else { break }
                        batch.append(next)
                    }
                    let dropped = stage.process(&batch)
                    counters.withLock { $0.embedDropped += dropped }
                    for s in batch { toWrite.push(s) }
                }
            }
        }

        // Progress.
        let done = Mutex(false)
        if let p = progress {
            spawn(group) { [self] in
                while !done.withLock({ $0 }) {
                    Thread.sleep(forTimeInterval: 0.5)
                    p.update(counters.withLock { $0 }, elapsed: Date().timeIntervalSince(start))
                }
            }
        }

        // Write (this thread): duplicates (identical bytes, PDQ near-duplicates), then shards and index.
        var writeError: Error?
        while var s = toWrite.pop() {
            if writeError != nil { continue }  // keep draining so that no producer blocks forever
            if s.isKept, let (hit, how) = gate?.check(sample: s) {
                s.drop("opt_out_registry", "\(hit.requestID) \(how) \(hit.value)")
            }
            deduplicator.apply(&s)
            do {
                try writer.write(s)
                counters.withLock { if s.isKept { $0.kept += 1 } else { $0.dropped += 1 } }
            } catch {
                writeError = error
            }
        }
        done.withLock { $0 = true }
        group.wait()
        if let e = writeError ?? failure.withLock({ $0 }) { throw e }
        if !fetcherObject.circuitReports.isEmpty {
            try writer.setRun("circuit_breakers", fetcherObject.circuitReports.joined(separator: "\n"))
        }
        if !fetcherObject.watchdogReports.isEmpty {
            try writer.setRun("watchdog", fetcherObject.watchdogReports.joined(separator: "\n"))
        }
        let parseCounts = reader.counters.counts
        if !parseCounts.isEmpty,
            let d = try? JSONSerialization.data(withJSONObject: parseCounts, options: [.sortedKeys])
        {
            try writer.setRun("parse_counters", String(decoding: d, as: UTF8.self))
        }
        for e in inputErrors.withLock({ $0 }) {
            try writer.writeInputError(inputFile: e.path, offset: e.offset, code: e.code, message: e.message)
        }
        // What the decode budget held at most, beside the budget itself: how close the run came to it.
        try writer.setRun("decode_budget_peak_bytes", String(processor.budget.highWater))
        try writer.setRun("decode_budget_bytes", String(processor.budget.capacity))
        try writer.setRun("finished", ISO8601DateFormatter().string(from: Date()))
        try writer.finish()
        progress?.finish(counters.withLock { $0 }, elapsed: Date().timeIntervalSince(start))
    }

    /// The counters now.
    public var snapshot: RunCounters { counters.withLock { $0 } }

    private func spawn(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        let t = Thread {
            body()
            group.leave()
        }
        t.stackSize = 8 << 20
        t.start()
    }
}

/// This process's memory, as the kernel counts it.
public enum ProcessMemory {
    /// The peak resident set size so far, in bytes (getrusage's `ru_maxrss`, which Linux gives in KiB).
    public static var peakResidentBytes: Int {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024
    }
}

/// Moves a value that is not Sendable to the one thread that will use it.
struct Handoff<T>: @unchecked Sendable {
    // @unchecked Sendable: the creating thread never touches `value` again after handing it over.
    let value: T

    init(_ value: T) { self.value = value }
}
