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
    /// Input bytes in all, as far as known (a remote input's size is known once its transfer starts).
    public var bytesTotal: Int64 = 0
    /// Each remote input's bytes received and size (nil until its server says), in input order.
    public var remoteInputs: [RemoteInputProgress] = []
    /// Outcomes a previous, stopped run of this output had committed (counted in `kept` and `dropped` too).
    public var resumed = 0
    /// Whether the run has an embed stage, and the samples it has embedded.
    public var embedStage = false
    public var embedded = 0
    /// When the parse stage and the fetch stage finished (seconds since the start), so that their rates stop there.
    public var parseDoneAt: Double?
    public var fetchDoneAt: Double?

    /// Counters at zero.
    public init() {}

    /// The candidates the run will have in all: the count once the inputs are read, else an estimate from the input
    /// bytes read so far (nil before there is one).
    public var expectedCandidates: Int? {
        if parseDoneAt != nil { return parsed }
        guard bytesTotal > 0, bytesRead > 0 else { return nil }
        return Int(Double(parsed) * Double(bytesTotal) / Double(bytesRead))
    }

    /// Outcomes written so far (kept or dropped), and the fraction of the expected candidates they are.
    public var fractionDone: Double? {
        guard let total = expectedCandidates, total > 0 else { return nil }
        return min(1, Double(kept + dropped) / Double(total))
    }

    /// Seconds left at the rate outcomes have been written in this process (nil until there is a rate).
    public func secondsLeft(elapsed: Double) -> Double? {
        guard let total = expectedCandidates, elapsed > 0.25 else { return nil }
        let doneHere = kept + dropped - resumed
        guard doneHere > 0 else { return nil }
        return Double(max(0, total - kept - dropped)) / (Double(doneHere) / elapsed)
    }
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
    /// Raised to stop the run gracefully (by default the process-wide flag that SIGINT and SIGTERM raise).
    public let stop: StopFlag
    /// How far past the oldest unwritten candidate the parse stage may read: the writer holds what arrives out of
    /// order until the gap before it is filled, so that it writes (and decides duplicates) in input order.
    public static let reorderWindow = 65536
    /// How many bytes of stored images the writer may hold out of order before the parse stage waits.
    public static let reorderBytes = 256 << 20

    /// Prepares a run over `inputs` (restricted to part `part.index` of `part.count`, by input file) into `output`.
    public init(
        config: PipelineConfig, inputs: [String], output: String, part: (index: Int, count: Int)? = nil,
        stop: StopFlag = StopSignal.flag
    ) {
        self.config = config
        self.output = output
        self.stop = stop
        let sorted = inputs.sorted()
        if let p = part {
            // Input file i belongs to part i mod N: parts share nothing, so each runs (and fails) alone.
            self.inputs = sorted.enumerated().filter { $0.offset % p.count == p.index }.map(\.element)
        } else {
            self.inputs = sorted
        }
    }

    /// Claims `output` for a run (`OutputDirectory.claim`): a directory Winnow did not write is refused untouched;
    /// a finished run is refused unless `overwrite`; an unfinished run of the same settings and inputs is resumed,
    /// one of other settings refused unless `overwrite`. Returns whether the run resumes, and a message to show
    /// when something was removed.
    public static func prepareOutput(
        _ output: String, overwrite: Bool, command: String = "run", config: PipelineConfig? = nil,
        inputs: [String] = []
    ) throws -> (resuming: Bool, message: String?) {
        let (dir, message) = try OutputDirectory.claim(
            output, command: command, settings: config?.manifestSettings ?? [:], inputs: inputs, overwrite: overwrite)
        return (dir.resuming, message)
    }

    /// Checks what a bad setting or argument would stop the run on, without creating anything: the inputs exist
    /// and are readable, the model directory exists, the `--against` directories exist, the registry opens. (The
    /// run itself loads them; this lets a command refuse before it claims an output directory.)
    public func validate() throws {
        _ = try CandidateReader(
            paths: inputs, extractor: WATExtractor(), lists: config.lists,
            remote: RemoteFiles(settings: config.remoteSettings))
        if let m = config.embed.model {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: m, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw WinnowError(.io, "\(m): no such model directory")
            }
        }
        for dir in config.dedup.against {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw WinnowError(.usage, "\(dir): --against needs a Winnow output or a folder of images")
            }
        }
        _ = try OptOutGate.forRun(config)
        if config.fetch.spawning { _ = try SpawningRegistry(url: config.fetch.spawningURL, settings: config.fetch) }
    }

    /// Runs the pipeline to the end. Throws only when the whole run cannot go on (unreadable input, disk errors), or
    /// with `.interrupted` when `stop` was raised: everything written is then committed, the open shard closed short.
    /// With `resume`, continues the unfinished run in `output` (claimed as resuming): committed shards and outcomes
    /// are kept as they are, their candidates skipped, and the rest processed; `note` hears what was found.
    /// With `retry` (reason codes, `http_4xx`/`http_5xx`), fetches again the samples of the finished run in `output`
    /// that were dropped for one of those reasons, instead of reading inputs: what now passes goes into new shards,
    /// and their rows are updated in place (attempts added up); the rest of the output stays as it is.
    public func run(
        progress: ProgressSink?, resume: Bool = false, retry: Set<String>? = nil, note: ((String) -> Void)? = nil
    ) throws {
        let reader =
            retry != nil
            ? nil
            : try CandidateReader(
                paths: inputs, extractor: WATExtractor(titleFallback: config.titleFallback), lists: config.lists,
                remote: RemoteFiles(settings: config.remoteSettings))
        // The embed stage's model is loaded before anything runs: a bad checkpoint stops the run at once.
        let encoder = try config.embed.model.map {
            try CLIPEncoder(
                directory: $0, threads: config.embed.threads > 0 ? config.embed.threads : nil,
                precision: config.embed.precision)
        }
        // Everything that can fail on a bad setting is opened before the index is created: the dedup references and
        // the opt-out registry.
        let deduplicator = try Deduplicator(settings: config.dedup)
        let gate = try OptOutGate.forRun(config)
        // Spawning's Do-Not-Train registry, when the pipeline asks for it (its key must be set before anything runs).
        let spawning =
            config.fetch.spawning ? try SpawningRegistry(url: config.fetch.spawningURL, settings: config.fetch) : nil
        let writer =
            retry != nil
            ? try ShardWriter(retrying: output, samplesPerShard: config.samplesPerShard)
            : try ShardWriter(directory: output, samplesPerShard: config.samplesPerShard, resume: resume)
        writer.embeddingType = config.embed.dtype
        writer.writesParquet = config.writeParquet
        if let reader { try writer.setSavedColumns(reader.savedColumns) }
        // A resumed run does not read again the inputs it had read to their end: those before the last input with
        // committed rows (rows are committed in input order). A remote input is not downloaded twice.
        // Only when every committed row names one of the inputs (candidate files carry the WAT's name instead).
        var skippedRows = 0
        var skippedInputs: [String] = []
        var partialInput = ""
        if resume, let reader, writer.committed.samples > 0 {
            let rows = try writer.rowsByInput()
            if Set(rows.keys).isSubset(of: Set(inputs)), let last = inputs.lastIndex(where: { rows[$0] != nil }),
                last > 0
            {
                skippedInputs = Array(inputs[..<last])
                skippedRows = skippedInputs.reduce(0) { $0 + (rows[$1] ?? 0) }
                partialInput = inputs[last]
                reader.skipFirstInputs = last
            }
        }
        // The input errors committed so far stay for the inputs not read again; the others are found again.
        if resume && retry == nil { try writer.deleteInputErrors(keeping: skippedInputs) }
        let committed = writer.committed
        // A retry's work: the dropped rows to fetch again, in row order.
        let retryRows = try retry.map { try writer.droppedRows(reasons: $0) } ?? []
        if let retry {
            note?(
                "\(output): fetching again \(Words.count(retryRows.count, "sample")) dropped as \(retry.sorted().joined(separator: ", "))"
                    + (writer.removedUncommitted.isEmpty
                        ? "" : " (removed \(writer.removedUncommitted.joined(separator: ", ")) of a stopped retry)"))
        } else if resume {
            let removed = writer.removedUncommitted
            note?(
                "\(output): resuming: \(Words.count(committed.shards, "shard")) and \(Words.count(committed.samples, "outcome")) committed; "
                    + (removed.isEmpty
                        ? "no shard was open"
                        : "the unfinished shard (\(removed.joined(separator: ", "))) and its candidates will be redone")
            )
            counters.withLock {
                $0.resumed = committed.samples
                $0.kept = committed.kept
                $0.dropped = committed.samples - committed.kept
            }
        }
        if let encoder {
            // Absolute, so that query --similar-text finds it from any directory.
            try writer.setRun("embed_model", URL(fileURLWithPath: encoder.directory).standardizedFileURL.path)
            if let t = config.embed.minSimilarity { try writer.setRun("min_similarity", String(t)) }
        }
        if retry == nil {
            try writer.setRun("pipeline", config.name)
            try writer.setRun("inputs", inputs.joined(separator: "\n"))
            try writer.setRun("started", ISO8601DateFormatter().string(from: Date()))
            try writer.setRun("crawler", Runner.crawlerDescription(config))
        }
        counters.withLock {
            $0.bytesTotal = reader?.totalBytes ?? 0
            $0.embedStage = encoder != nil
        }
        // Rows are written in input order from `first` on: after what a resumed run committed; a retry's from 0.
        let first = retry == nil ? committed.samples : 0

        let workers =
            config.imageWorkers > 0 ? config.imageWorkers : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let toFetch = BoundedQueue<Sample>(capacity: 2048)
        let toImage = BoundedQueue<Sample>(capacity: 256)
        let fromImage = BoundedQueue<Sample>(capacity: 256, producers: workers)
        // With an embed stage, it sits between the image workers and the writer.
        let toWrite = encoder == nil ? fromImage : BoundedQueue<Sample>(capacity: 256)
        let inputErrors = Mutex<[RecordError]>([])
        // The input errors found so far go into each commit, so that a resumed run keeps those of the inputs it
        // does not read again.
        func writeInputErrors() throws {
            for e in inputErrors.withLock({ errors in
                defer { errors = [] }; return errors
            }) {
                try writer.writeInputError(inputFile: e.path, offset: e.offset, code: e.code, message: e.message)
            }
        }
        writer.beforeCommit = writeInputErrors
        defer { writer.beforeCommit = nil }  // the closure holds the writer
        let failure = Mutex<WinnowError?>(nil)
        let start = Date()
        let group = DispatchGroup()

        // Parse: read candidates, apply the candidate filters (a dropped candidate still flows on, to get its row).
        // Duplicates are judged against --against outputs too: their hashes, and their (url, caption) keys.
        // A resumed run decides duplicates against what it kept before it was stopped, as if never stopped.
        if committed.kept > 0 { deduplicator.remember(try writer.keptHashes()) }
        let window = ReorderWindow(
            start: retry == nil ? committed.samples : 0, size: Runner.reorderWindow, bytes: Runner.reorderBytes)
        if !config.dedup.against.isEmpty {
            try writer.setRun("dedup_against", config.dedup.against.joined(separator: "\n"))
        }
        // The opt-out registry: URLs and keys before download, images after hashing.
        if let gate {
            try writer.setRun("optout_registry", gate.path)
            try writer.setRun("optout_entries", String(gate.matcher.count))
        }
        let filter = CandidateFilter(settings: config.parse)
        if config.parse.dedupURLCaption { for k in deduplicator.againstKeys { filter.remember(k) } }
        // The (url, caption) keys the skipped inputs' rows gave the filter, as reading them again would.
        if config.parse.dedupURLCaption && !skippedInputs.isEmpty {
            let before = [ReasonCode.pageOptout, .urlTooLong, .captionTooShort, .extensionDropped].map(\.rawValue)
            for k in try writer.keys(exceptInput: partialInput, notDroppedFor: before) {
                if let h = UInt64(k, radix: 16) { filter.remember(h) }
            }
        }
        if !skippedInputs.isEmpty {
            note?(
                "\(output): resuming after \(Words.count(skippedInputs.count, "input")) read to the end (\(Words.count(skippedRows, "row"))): not read again"
            )
        }
        let parseState = Handoff((reader, filter, spawning))
        let firstSeq = skippedRows
        let spawningBatch = max(1, min(config.fetch.spawningBatch, SpawningRegistry.maxBatch))
        spawn(group) { [self] in
            let (reader, filter, spawning) = parseState.value
            // With Spawning's registry, samples are held in batches and its answer applied before they go on.
            var held: [Sample] = []
            func flushHeld() {
                guard let spawning, !held.isEmpty else { return }
                // Stopped: the held samples are not written, and a resumed run reads them again.
                if stop.isRaised {
                    held.removeAll()
                    return
                }
                let urls = held.filter(\.isKept).map(\.candidate.url)
                var answers: [String: Bool] = [:]
                var unreachable: String?
                if !urls.isEmpty {
                    do {
                        answers = try spawning.optedOut(urls)
                    } catch {
                        unreachable = (error as? WinnowError)?.message ?? "\(error)"
                    }
                }
                for var s in held {
                    if s.isKept {
                        if let why = unreachable {
                            s.drop(.spawningUnreachable, why)
                            counters.withLock { $0.parseDropped += 1 }
                        } else if answers[s.candidate.url] == true {
                            s.drop(.spawningRegistry, "\(spawning.url) lists \(s.candidate.url)")
                            counters.withLock { $0.parseDropped += 1 }
                        }
                    }
                    toFetch.push(s)
                }
                held.removeAll(keepingCapacity: true)
            }
            func pushChecked(_ s: Sample) {
                guard spawning != nil else {
                    toFetch.push(s)
                    return
                }
                held.append(s)
                if held.count >= spawningBatch { flushHeld() }
            }
            defer {
                flushHeld()
                toFetch.producerDone()
                counters.withLock { $0.parseDoneAt = Date().timeIntervalSince(start) }
            }
            guard let reader else {
                // A retry: the rows, as they were read (no filter: they passed it), through the registry again.
                for (seq, row) in retryRows.enumerated() {
                    guard !stop.isRaised, window.admit(seq) else { break }
                    var s = Sample(candidate: row.candidate, seq: seq)
                    if let hit = gate?.check(candidate: row.candidate) {
                        s.drop(.optOutRegistry, hit.detail)
                        counters.withLock { $0.parseDropped += 1 }
                    }
                    counters.withLock { $0.parsed += 1 }
                    pushChecked(s)
                }
                return
            }
            var seq = firstSeq
            counters.withLock { $0.parsed += firstSeq }
            /// Remote inputs' progress, and the total bytes as far as known.
            func updateInputProgress(_ reader: CandidateReader) {
                let remote = reader.remoteProgress
                let total = reader.totalBytes
                counters.withLock {
                    $0.bytesTotal = total
                    $0.remoteInputs = remote
                }
            }
            do {
                reading: while let event = try reader.next() {
                    if stop.isRaised { break }
                    switch event {
                    case .candidate(let c):
                        defer { seq += 1 }
                        // Committed by the run this one resumes: passed by (the filter still sees it, to remember
                        // its (url, caption) key as that run's filter did).
                        if seq < committed.samples {
                            _ = filter.check(c)
                            counters.withLock {
                                $0.parsed += 1
                                $0.bytesRead = reader.bytesRead
                            }
                            continue
                        }
                        // Wait while the writer is a window's width behind: memory stays bounded.
                        guard window.admit(seq) else { break reading }
                        var s = Sample(candidate: c, seq: seq)
                        if let r = filter.check(c) {
                            s.drop(r)
                            counters.withLock { $0.parseDropped += 1 }
                        } else if let hit = gate?.check(candidate: c) {
                            s.drop(.optOutRegistry, hit.detail)
                            counters.withLock { $0.parseDropped += 1 }
                        }
                        counters.withLock {
                            $0.parsed += 1
                            $0.bytesRead = reader.bytesRead
                        }
                        if seq & 1023 == 0 { updateInputProgress(reader) }
                        pushChecked(s)
                    case .skipped(let e):
                        inputErrors.withLock { $0.append(e) }
                        counters.withLock { $0.inputErrors += 1 }
                        updateInputProgress(reader)
                    }
                }
                counters.withLock { $0.bytesRead = reader.bytesRead }
                updateInputProgress(reader)
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
            defer {
                toImage.producerDone()
                counters.withLock { $0.fetchDoneAt = Date().timeIntervalSince(start) }
            }
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
                    let candidates = batch.filter(\.isKept).count
                    let dropped = stage.process(&batch)
                    counters.withLock {
                        $0.embedDropped += dropped
                        $0.embedded += candidates
                    }
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

        // Write (this thread), in input order: samples arrive in completion order and wait in `pending` until the
        // ones before them are written. Then duplicates (identical bytes, PDQ near-duplicates), shards and index.
        var writeError: Error?
        var pending: [Int: Sample] = [:]
        var pendingBytes = 0
        var next = first
        while let arrived = toWrite.pop() {
            if stop.isRaised { break }
            if writeError != nil { continue }  // keep draining so that no producer blocks forever
            pending[arrived.seq] = arrived
            pendingBytes += arrived.stored?.count ?? 0
            while var s = pending.removeValue(forKey: next) {
                pendingBytes -= s.stored?.count ?? 0
                next += 1
                if s.isKept, let (hit, how) = gate?.check(sample: s) {
                    s.drop(.optOutRegistry, "\(hit.requestID) \(how) \(hit.value)")
                }
                deduplicator.apply(&s)
                do {
                    try writer.write(
                        s, replacing: retry == nil ? nil : (retryRows[s.seq].id, retryRows[s.seq].attempts))
                    counters.withLock { if s.isKept { $0.kept += 1 } else { $0.dropped += 1 } }
                } catch {
                    writeError = error
                    window.cancel()
                    break
                }
            }
            window.advance(to: next, heldBytes: pendingBytes)
        }
        if stop.isRaised {
            // Graceful stop: keep the last commit, drop the open shard, and let the other stages wind down on
            // their own (the fetcher's transfers end within its timeout) without waiting for them.
            window.cancel()
            for q in [toFetch, toImage, fromImage, toWrite] { q.cancel() }
            // What was written (every candidate before `next`, in order) is committed, the open shard closed short.
            do { try writer.stopCommitting() } catch { writer.abandon() }
            done.withLock { $0 = true }
            throw WinnowError(
                .interrupted,
                "stopped by \(StopSignal.name(stop.signal)): \(output) keeps its last commit (\(Words.count(writer.shardsWritten, "shard")) and \(Words.count(writer.committedSamples, "outcome"))); rerun the same command to resume"
            )
        }
        done.withLock { $0 = true }
        group.wait()
        if let e = writeError ?? failure.withLock({ $0 }) { throw e }
        if !pending.isEmpty {
            throw WinnowError(
                .io, "internal: \(pending.count) samples never reached the writer after candidate \(next)")
        }
        if !fetcherObject.circuitReports.isEmpty {
            try writer.setRun("circuit_breakers", fetcherObject.circuitReports.joined(separator: "\n"))
        }
        if !fetcherObject.ignoredSignals.isEmpty {
            try writer.setRun("ignored_signals", fetcherObject.ignoredSignals.joined(separator: "\n"))
            for line in fetcherObject.ignoredSignals { note?("\(output): " + line) }
        }
        if !fetcherObject.watchdogReports.isEmpty {
            try writer.setRun("watchdog", fetcherObject.watchdogReports.joined(separator: "\n"))
        }
        if let retry {
            let c = counters.withLock { $0 }
            try writer.appendRun(
                "retried",
                "\(ISO8601DateFormatter().string(from: Date())): \(retry.sorted().joined(separator: ",")): \(retryRows.count) fetched again, \(c.kept) now kept"
            )
            try writer.finish()
            progress?.finish(c, elapsed: Date().timeIntervalSince(start))
            return
        }
        for line in reader?.notes ?? [] { note?(line) }
        let parseCounts = reader?.counters.counts ?? [:]
        if !parseCounts.isEmpty,
            let d = try? JSONSerialization.data(withJSONObject: parseCounts, options: [.sortedKeys])
        {
            try writer.setRun("parse_counters", String(decoding: d, as: UTF8.self))
        }
        try writeInputErrors()
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

/// The writer's side of input order: the parse stage may read `size` candidates past the oldest one not yet written
/// (and waits while the writer holds more than `bytes` of images out of order); the writer moves the window on.
final class ReorderWindow: @unchecked Sendable {
    // @unchecked Sendable: every field is read and written only while holding `lock`.
    private let lock = NSCondition()
    private var next: Int
    private var held = 0
    private var cancelled = false
    private let size: Int
    private let bytes: Int

    init(start: Int, size: Int, bytes: Int) {
        next = start
        self.size = size
        self.bytes = bytes
    }

    /// Waits until candidate `seq` may enter; false once cancelled.
    func admit(_ seq: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        while !cancelled && (seq >= next + size || (held > bytes && seq > next)) { lock.wait() }
        return !cancelled
    }

    /// The writer has written everything before `next` and holds `heldBytes` of images out of order.
    func advance(to next: Int, heldBytes: Int) {
        lock.lock()
        let moved = next != self.next || (held > bytes && heldBytes <= bytes)
        self.next = next
        held = heldBytes
        if moved { lock.broadcast() }
        lock.unlock()
    }

    /// Lets every waiter go, refused.
    func cancel() {
        lock.lock()
        cancelled = true
        lock.broadcast()
        lock.unlock()
    }
}

extension Runner {
    /// The run's crawler as the dataset report and the AI Act summary describe it (run property `crawler`, JSON):
    /// its user agent, the robots.txt tokens it obeys, the signals it honours for which purpose, and its politeness.
    static func crawlerDescription(_ config: PipelineConfig) -> String {
        let f = config.fetch
        var honoured: [String] = []
        if f.honourRobotsTxt {
            honoured += ["robots.txt (RFC 9309)", "robots.txt Content-Usage", "robots.txt Content-Signal"]
        }
        if f.honourTDMRep { honoured.append("TDMRep (tdmrep.json, tdm-reservation header)") }
        if f.honourAiTxt { honoured.append("ai.txt") }
        if f.honourHeaderOptOuts { honoured += ["X-Robots-Tag", "Content-Usage header"] }
        if config.parse.honourPageOptOuts { honoured.append("page meta robots / tdm-reservation") }
        if config.image.honourDataMining { honoured.append("IPTC/XMP plus:DataMining") }
        if config.image.honourC2PA { honoured.append("C2PA/CAWG training-and-data-mining assertion") }
        if f.spawning { honoured.append("Spawning Do-Not-Train registry") }
        if config.optOutEnabled && config.optOutRegistry != nil { honoured.append("Winnow opt-out registry") }
        let o: [String: Any] = [
            "user_agent": f.userAgent, "robots_tokens": f.robotsTokens, "purpose": f.purpose.rawValue,
            "signals_honoured": honoured, "per_host_concurrency": f.perHostConcurrency,
            "per_host_min_interval_seconds": f.perHostMinInterval, "retries": f.retries,
            "timeout_seconds": f.timeoutSeconds, "max_bytes": f.maxBytes,
            "address_guard": "private, loopback, link-local and reserved addresses refused",
        ]
        let d = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data()
        return String(decoding: d, as: UTF8.self)
    }
}
