import Foundation
import Synchronization
import WinnowCore

/// How far a remote input's transfer is.
public struct RemoteInputProgress: Sendable, Equatable {
    public var url: String
    /// Bytes received.
    public var received: Int64
    /// Its size, once its server said.
    public var size: Int64?
}

/// What reading the input yields: candidates, and the records that had to be skipped.
public enum CrawlEvent: Sendable {
    case candidate(Candidate)
    case skipped(RecordError)
}

/// Reads candidates from any mix of inputs: WAT files (gzip per record, single member, or plain; CRLF or LF-only),
/// candidate JSON Lines written by `winnow parse`, and plain URL lists (one URL per line). The kind is sniffed from
/// the content. Files with one gzip member per record are read with libdeflate and, with `threads` > 1, split into
/// parts read in parallel; with one thread the order of the input is kept. The calling thread is one of the
/// `threads`: it reads its share of such files a member at a time inside `next()`, and `threads` - 1 worker threads
/// the rest. (Handing every candidate to another thread cost a fifth of the read: mostly the consumer freeing,
/// under the allocator's lock, what the reader allocated.)
public final class CandidateReader: @unchecked Sendable {
    // @unchecked Sendable: the worker threads share only `work`, `progress`, the queues and `counterTotals`, each
    // guarded by its own lock; everything else is touched by the consuming thread alone.
    private let paths: [String]
    private let extractor: WATExtractor
    private let threads: Int
    private let listOptions: URLListOptions
    /// Reads the inputs named by http(s) URLs.
    private let remote: (any RemoteInputs)?
    /// The inputs named by http(s) URLs.
    private let remotePaths: [String]
    private let localBytes: Int64
    /// Total size of the inputs in bytes, as far as known (a remote input's once its transfer says), for progress
    /// and ETA.
    public var totalBytes: Int64 {
        localBytes + remotePaths.reduce(0) { $0 + (remote?.progress($1).size ?? 0) }
    }
    /// Each remote input's bytes received and size (when known), in input order, for progress.
    public var remoteProgress: [RemoteInputProgress] {
        remotePaths.compactMap { u in
            remote.map {
                let p = $0.progress(u); return RemoteInputProgress(url: u, received: p.received, size: p.size)
            }
        }
    }
    /// The input columns carried to the output (`URLListOptions.saveColumns`), with their output names and types,
    /// when the inputs declare types (Parquet); empty otherwise.
    public let savedColumns: [SavedColumn]
    /// The inputs that are Parquet files.
    private let parquetPaths: Set<String>
    private let queue: BoundedQueue<EventBatch>
    private let work = Mutex<[WorkItem]>([])
    private let progress = Mutex<[Int: Int64]>([:])
    private let counterTotals = Mutex(ParseCounters())
    private let noteList = Mutex<[String]>([])
    private var batch: [CrawlEvent] = []  // from a worker, in reverse order (see Output.flush)
    /// The events of the member the calling thread read last.
    private let ownEvents = EventBuffer()
    private var started = false
    /// Leading inputs not to read (a resumed run's inputs that its committed rows show were read to their end).
    /// Set before the first `next()`.
    public var skipFirstInputs = 0

    enum WorkItem: Sendable {
        case members(path: String, range: Range<Int64>, id: Int)
        case stream(path: String, id: Int)
        /// Row groups of a Parquet file.
        case parquet(path: String, groups: Range<Int>, id: Int)
        /// An input read over the network (any kind, told by its content), from its first byte to its last.
        case remote(path: String, id: Int)

        /// A part of a local file that the calling thread may read in turn (not a whole stream).
        var isLocalParts: Bool {
            switch self {
            case .members, .parquet: true
            case .stream, .remote: false
            }
        }
    }

    /// Checks that every local input exists and is readable (a clear error naming it if not); reads nothing yet.
    /// Inputs named by http(s) URLs are read with `remote` (an input that cannot be read is recorded as a skipped
    /// record with code `input_unreadable`, and the other inputs are read).
    public init(
        paths: [String], extractor: WATExtractor = WATExtractor(), threads: Int = 1,
        lists: URLListOptions = URLListOptions(), remote: (any RemoteInputs)? = nil
    ) throws {
        if let f = lists.format, !URLListOptions.formats.contains(f) {
            throw WinnowError(
                .usage, "unknown input format \(f.debugDescription) (known: txt, csv, tsv, jsonl, parquet)")
        }
        self.listOptions = lists
        self.paths = paths
        self.extractor = extractor
        self.threads = max(1, threads)
        var total: Int64 = 0
        var parquet: Set<String> = []
        var saved: [SavedColumn]?
        var notes: [String] = []
        var remotePaths: [String] = []
        for p in paths {
            if InputLocation.isRemote(p) {
                guard remote != nil else {
                    throw WinnowError(.usage, "\(p): inputs over HTTP(S) are not available to this command")
                }
                remotePaths.append(p)
                continue
            }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
                throw WinnowError(.io, "\(p): no such input file")
            }
            if isDir.boolValue { throw WinnowError(.io, "\(p): is a directory, expected a WAT file or URL list") }
            guard FileManager.default.isReadableFile(atPath: p) else { throw WinnowError(.io, "\(p): not readable") }
            total += fileSize(atPath: p)
            // A Parquet input's columns are checked now, before anything is written.
            if ParquetInput.isParquet(path: p, format: lists.format) {
                let input = try ParquetInput(path: p, options: lists)
                parquet.insert(p)
                notes += input.notes
                if saved == nil { saved = input.savedColumns }
            }
        }
        localBytes = total
        self.remote = remote
        self.remotePaths = remotePaths
        parquetPaths = parquet
        // Text inputs' column types are learnt from their values by the writer.
        savedColumns = saved ?? []

        queue = BoundedQueue<EventBatch>(capacity: 8 * self.threads, producers: self.threads - 1)
        noteList.withLock { $0 = notes }
    }

    /// Input bytes read so far.
    public var bytesRead: Int64 { progress.withLock { $0.values.reduce(0, +) } }

    /// Links and captions skipped or repaired inside records, by reason (complete once `next()` returned nil).
    public var counters: ParseCounters { counterTotals.withLock { $0 } }

    /// What the reader decided that the user should know, one line each (a URL list's caption column found by its
    /// name).
    public var notes: [String] { noteList.withLock { $0 } }

    /// The next event, or nil when every input is done. Throws when an input cannot be read at all.
    public func next() throws -> CrawlEvent? {
        if !started { try start() }
        while true {
            if let e = ownEvents.take() { return e }
            if let e = batch.popLast() { return e }
            if try !refill() { return nil }
        }
    }

    private func start() throws {
        started = true
        var items: [WorkItem] = []
        // Skipped inputs count as read (a local one's size; a remote one's is not asked for).
        let skipped = paths.prefix(skipFirstInputs).reduce(Int64(0)) {
            $0 + (InputLocation.isRemote($1) ? 0 : fileSize(atPath: $1))
        }
        progress.withLock { $0[-1] = skipped }
        for p in paths.dropFirst(skipFirstInputs) {
            let id = items.count
            if InputLocation.isRemote(p) {
                items.append(.remote(path: p, id: id))
                continue
            }
            if parquetPaths.contains(p) {
                // Row groups, read on the calling thread (one thread) or split between threads like gzip members.
                let groups = try ParquetInput(path: p, options: listOptions).rowGroups
                let parts = threads > 1 ? min(groups, 4 * threads) : 1
                for k in 0..<max(1, parts) {
                    let range = (groups * k / max(1, parts))..<(groups * (k + 1) / max(1, parts))
                    items.append(.parquet(path: p, groups: range, id: id + k))
                }
                continue
            }
            if try MemberReader.isMemberPerRecord(path: p) {
                // Four parts a thread, taken in turn by whichever thread is free: the caller's thread also takes
                // the workers' events, so equal halves would leave a worker idle at the end.
                let ranges = threads > 1 ? try MemberReader.split(path: p, parts: 4 * threads) : [0..<Int64.max]
                for (k, r) in ranges.enumerated() { items.append(.members(path: p, range: r, id: id + k)) }
            } else {
                items.append(.stream(path: p, id: id))
            }
        }
        work.withLock { $0 = items.reversed() }
        for _ in 1..<threads {
            let t = Thread { [self] in worker(queue) }
            t.stackSize = 4 << 20
            t.start()
        }
    }

    /// What the calling thread is reading itself.
    private struct Own {
        var members: (reader: MemberReader, path: String, id: Int, range: Range<Int64>)?
        /// A Parquet file's row groups still to read, the one being read and its next row.
        var parquet: (input: ParquetInput, groups: Range<Int>, id: Int, group: ParquetInput.Group?, next: Int)?
        var count = 0
        /// With one thread, a stream input (WARC, URL list) is read by a thread of its own, in turn.
        var stream: BoundedQueue<EventBatch>?
        /// When `members` are a remote input's: what its read remembers across restarts.
        var remote: RemoteRead?
    }
    private var own = Own()
    private var ownCounters = ParseCounters()
    private var ownPage = WATPage()

    /// Fills `batch` or `ownEvents`; false when every input is done. Events that worker threads have ready come first, so that
    /// they never wait on a full queue; then a member of the caller's own share; then, with nothing of its own
    /// left, the caller waits for the workers.
    private func refill() throws -> Bool {
        while true {
            if threads > 1, case (let b?, _) = queue.tryPop() { return try take(b) }
            if try readOwnMember() { return true }
            if readOwnParquet() { return true }
            if let q = own.stream {
                guard let b = q.pop() else {
                    own.stream = nil
                    continue
                }
                return try take(b)
            }
            // With one thread, items are taken in order; with more, the caller takes only member files (stream
            // inputs are read by the workers).
            let item = work.withLock { items -> WorkItem? in
                if threads == 1 { return items.popLast() }
                guard let i = items.lastIndex(where: { $0.isLocalParts }) else {
                    return nil
                }
                return items.remove(at: i)
            }
            switch item {
            case .members(let path, let range, let id):
                own.members = (try MemberReader(path: path, range: range), path, id, range)
                own.count = 0
            case .parquet(let path, let groups, let id):
                own.parquet = (try ParquetInput(path: path, options: listOptions), groups, id, nil, 0)
            case .remote(let path, let id)
            where threads == 1 && !ParquetInput.isParquet(path: path, format: listOptions.format):
                // A remote WAT with a member per record is read on this thread, as a local one is (handing every
                // candidate to another thread costs a fifth of the read); other kinds by a thread of their own.
                let remote = self.remote!  // ok: remote items exist only with `remote`
                let opened: Opened
                do {
                    opened = try open(remote: path, remote)
                } catch let e as InputChanged {
                    // Changed before anything was given: read from its start by a thread of its own.
                    _ = RemoteRead(url: path).changed(e, notes: noteList)
                    own.stream = readInThread(item!)  // ok: this case has an item
                    continue
                } catch {
                    ownEvents.append(RemoteRead(url: path).failed(error, remote: remote))
                    return true
                }
                if !opened.head.starts(with: Array("PAR1".utf8)) && MemberReader.isMemberPerRecord(head: opened.head) {
                    own.members = (try MemberReader(stream: opened.stream, name: path), path, id, 0..<Int64.max)
                    own.remote = RemoteRead(url: path)
                    own.count = 0
                } else {
                    let q = BoundedQueue<EventBatch>(capacity: 8, producers: 1)
                    let t = Thread { [self] in
                        defer { q.producerDone() }
                        var out = Output(queue: q)
                        var local = ParseCounters()
                        readRemote(path, id, &out, &local, opened: opened)
                        out.flush()
                        counterTotals.withLock { $0.merge(local) }
                    }
                    t.stackSize = 4 << 20
                    t.start()
                    own.stream = q
                }
            case .stream, .remote:
                own.stream = readInThread(item!)  // ok: this case has an item
            case nil:
                if threads == 1 { return false }
                guard let b = queue.pop() else { return false }
                return try take(b)
            }
        }
    }

    /// Starts a thread that reads `item` alone; its events come through the queue returned.
    private func readInThread(_ item: WorkItem) -> BoundedQueue<EventBatch> {
        let q = BoundedQueue<EventBatch>(capacity: 8, producers: 1)
        let t = Thread { [self] in read(item, into: q) }
        t.stackSize = 4 << 20
        t.start()
        return q
    }

    private func take(_ b: EventBatch) throws -> Bool {
        switch b {
        case .events(let events): batch = events
        case .failure(let e): throw e
        }
        return true
    }

    /// Reads one member of the caller's own share into `ownEvents`; false when it has none left.
    private func readOwnMember() throws -> Bool {
        while let m = own.members {
            let member: MemberReader.Member?
            do {
                member = try m.reader.next()
            } catch {
                own.members = nil
                guard let r = own.remote, let remote else { throw error }
                // A remote input: read again if it changed, else recorded as not read to its end.
                if let changed = error as? InputChanged {
                    if let gaveUp = r.changed(changed, notes: noteList) {
                        ownEvents.append(gaveUp)
                    } else {
                        do {
                            let o = try open(remote: m.path, remote)
                            guard MemberReader.isMemberPerRecord(head: o.head) else {
                                throw WinnowError(.format, "\(m.path): no longer a WAT with a member per record")
                            }
                            own.members = (try MemberReader(stream: o.stream, name: m.path), m.path, m.id, m.range)
                            continue
                        } catch {
                            ownEvents.append(r.failed(error, remote: remote))
                        }
                    }
                } else {
                    ownEvents.append(r.failed(error, remote: remote))
                }
                own.remote = nil
                counterTotals.withLock { $0.merge(ownCounters) }
                ownCounters = ParseCounters()
                return true
            }
            guard let member else {
                own.members = nil
                if own.remote != nil, let remote {
                    let received = remote.progress(m.path).received
                    progress.withLock { $0[m.id] = received }
                } else {
                    let size = fileSize(atPath: m.path)
                    progress.withLock { $0[m.id] = min(m.range.upperBound, size) - m.range.lowerBound }
                }
                own.remote = nil
                counterTotals.withLock { $0.merge(ownCounters) }
                ownCounters = ParseCounters()
                return false
            }
            if let r = own.remote {
                try process(member, path: m.path, &ownCounters, ownPage) { (e: consuming CrawlEvent) in
                    if r.passes(e) { ownEvents.append(e) }
                }
            } else {
                try process(member, path: m.path, &ownCounters, ownPage) { ownEvents.append($0) }
            }
            own.count += 1
            if own.count & 63 == 0 {
                let consumed = m.reader.position - m.range.lowerBound
                progress.withLock { $0[m.id] = consumed }
            }
            if ownEvents.isEmpty { continue }
            return true
        }
        return false
    }

    /// Reads the next rows (256) of the caller's Parquet share into `ownEvents`, decoding a row group when the last
    /// one is done; false when it has none left.
    private func readOwnParquet() -> Bool {
        while var p = own.parquet {
            if let group = p.group, p.next < group.rows {
                let end = min(group.rows, p.next + 256)
                p.input.read(group, rows: p.next..<end) { (e: consuming CrawlEvent) in ownEvents.append(e) }
                p.next = end
                own.parquet = p
                if !ownEvents.isEmpty { return true }
                continue
            }
            if let group = p.group { parquetProgress(p.input, group.index, p.id) }
            p.group = nil
            guard let g = p.groups.first else {
                own.parquet = nil
                return false
            }
            p.groups = (g + 1)..<p.groups.upperBound
            switch p.input.decode(group: g) {
            case .success(let group):
                p.group = group
                p.next = 0
                own.parquet = p
            case .failure(let e):
                own.parquet = p
                parquetProgress(p.input, g, p.id)
                ownEvents.append(.skipped(e))
                return true
            }
        }
        return false
    }

    /// Counts row group `g` of a Parquet input as read.
    private func parquetProgress(_ input: ParquetInput, _ g: Int, _ id: Int) {
        let done = input.bytes(through: g) - (g == 0 ? 0 : input.bytes(through: g - 1))
        progress.withLock { $0[id, default: 0] += done }
    }

    /// A thread that reads one stream input into `queue`, for the one-thread mode.
    private func read(_ item: WorkItem, into queue: BoundedQueue<EventBatch>) {
        defer { queue.producerDone() }
        var out = Output(queue: queue)
        var local = ParseCounters()
        read(item, &out, &local)
        out.flush()
        counterTotals.withLock { $0.merge(local) }
    }

    /// A worker thread's life: work items into `queue` until there are none left.
    private func worker(_ queue: BoundedQueue<EventBatch>) {
        defer { queue.producerDone() }
        var out = Output(queue: queue)
        var local = ParseCounters()
        while let item = work.withLock({ $0.popLast() }) { read(item, &out, &local) }
        out.flush()
        counterTotals.withLock { $0.merge(local) }
    }

    /// Reads one work item into `out`; a failure to read it goes to the queue.
    private func read(_ item: WorkItem, _ out: inout Output, _ counters: inout ParseCounters) {
        do {
            switch item {
            case .members(let path, let range, let id): try readMembers(path, range, id, &out, &counters)
            case .stream(let path, let id): try readStream(path, id, &out, &counters)
            case .remote(let path, let id): readRemote(path, id, &out, &counters)
            case .parquet(let path, let groups, let id):
                let input = try ParquetInput(path: path, options: listOptions)
                for g in groups {
                    input.read(group: g) { (e: consuming CrawlEvent) in out.add(e) }
                    parquetProgress(input, g, id)
                }
            }
        } catch {
            out.flush()
            out.queue.push(.failure((error as? WinnowError) ?? WinnowError(.io, "\(error)")))
        }
    }

    /// The events of one gzip member: the candidates of its records, and what had to be skipped.
    private func process(
        _ member: MemberReader.Member, path: String, _ counters: inout ParseCounters, _ page: WATPage,
        _ emit: (consuming CrawlEvent) -> Void
    ) throws {
        switch member {
        case .corrupt(let offset, let message):
            emit(.skipped(RecordError(code: "corrupt_gzip", path: path, offset: offset, message: message)))
        case .data(let offset, let bytes):
            try RecordSplitter.records(in: bytes) { headers, block, error in
                if let e = error {
                    emit(.skipped(RecordError(code: e.code, path: path, offset: offset, message: e.message)))
                    return
                }
                do {
                    try extractor.extract(
                        fields: headers, block: block, offset: offset, inputFile: path, counters: &counters,
                        page: page
                    ) { (c: consuming Candidate) in emit(.candidate(consume c)) }
                } catch let e as RecordError {
                    emit(.skipped(e))
                }
            }
        }
    }

    private func readMembers(
        _ path: String, _ range: Range<Int64>, _ id: Int, _ out: inout Output, _ counters: inout ParseCounters
    ) throws {
        let reader = try MemberReader(path: path, range: range)
        var n = 0
        let page = WATPage()
        while let member = try reader.next() {
            try process(member, path: path, &counters, page) { out.add($0) }
            n += 1
            if n & 63 == 0 {
                let consumed = reader.position - range.lowerBound
                progress.withLock { $0[id] = consumed }
            }
        }
        let size = fileSize(atPath: path)
        progress.withLock { $0[id] = min(range.upperBound, size) - range.lowerBound }
    }

    private func readStream(_ path: String, _ id: Int, _ out: inout Output, _ counters: inout ParseCounters) throws {
        try readStream(path, id, &counters, remote: nil, head: nil) { out.add($0) }
        let size = fileSize(atPath: path)
        progress.withLock { $0[id] = size }
    }

    /// Reads a WARC, URL list or candidate file: the local file at `path`, or `remote`, a stream whose first bytes
    /// are `head`.
    private func readStream(
        _ path: String, _ id: Int, _ counters: inout ParseCounters, remote: PeekStream?, head raw: [UInt8]?,
        _ emit: (consuming CrawlEvent) -> Void
    ) throws {
        let sniff =
            try raw.map { try DecompressingReader(stream: MemoryStream($0), name: path) }
            ?? DecompressingReader(path: path)
        var head: [UInt8] = []
        while head.count < 16 {
            do {
                if !(try sniff.read(into: &head, max: 64)) { break }
            } catch { break }
        }
        let start = head.drop(while: {
            $0 == 0x0d || $0 == 0x0a || $0 == 0x20 || $0 == 0xef || $0 == 0xbb || $0 == 0xbf
        })
        if start.starts(with: Array("WARC/".utf8)) {
            let reader = try remote.map { try WARCReader(stream: $0, name: path) } ?? WARCReader(path: path)
            while true {
                do {
                    guard let record = try reader.next() else { break }
                    do {
                        try record.block.withUnsafeBytes { block in
                            try extractor.extract(
                                headers: record.headers, block: block, offset: record.offset, inputFile: path,
                                counters: &counters
                            ) { (c: consuming Candidate) in emit(.candidate(consume c)) }
                        }
                    } catch let e as RecordError {
                        emit(.skipped(e))
                    }
                } catch let e as RecordError {
                    emit(.skipped(e))
                    // A corrupt gzip stream cannot be resynchronised: the rest of this file is lost, and said so.
                    if e.code == "corrupt_gzip" || e.code == "truncated_record" { break }
                }
                progress.withLock { $0[id] = reader.fileBytesConsumed }
            }
        } else {
            var lists = URLListReader(path: path, options: listOptions)
            lists.note = { [self] line in noteList.withLock { $0.append(line) } }
            try lists.read(
                stream: remote, firstByte: start.first,
                progress: { consumed in progress.withLock { $0[id] = consumed } }
            ) { emit($0) }
        }
    }

    /// Reads a remote input: its kind told by its first bytes, then the same readers as a local file's, streaming.
    /// A transfer that fails for good is recorded as a skipped record naming the URL and why; one whose file changed
    /// mid-way is read again from its start, without giving again the candidates it gave (by key).
    private func readRemote(
        _ url: String, _ id: Int, _ out: inout Output, _ counters: inout ParseCounters, opened: Opened? = nil
    ) {
        guard let remote else { return }
        let state = RemoteRead(url: url)
        var first = opened
        while true {
            do {
                try readRemoteOnce(url, id, remote, &counters, opened: first, state: state) { e in
                    if state.passes(e) { out.add(e) }
                }
                return
            } catch let e as InputChanged {
                first = nil
                if let gaveUp = state.changed(e, notes: noteList) {
                    out.add(gaveUp)
                    return
                }
            } catch {
                out.add(state.failed(error, remote: remote))
                return
            }
        }
    }

    /// A remote input opened: its stream and first bytes.
    struct Opened: @unchecked Sendable {
        // @unchecked Sendable: handed once to the thread that reads it, never shared.
        let stream: PeekStream
        let head: [UInt8]
    }

    /// What a remote input's read remembers across restarts: the keys of the candidates given (an array: an append
    /// a candidate, cheaper than a set, and sorted only if the file has to be read again); after a restart, each
    /// key given is passed by once (the same link twice in a file is two candidates).
    final class RemoteRead {
        let url: String
        private var given: [UInt64] = []
        /// After a restart: the keys given before it, sorted, and which of them were passed by already.
        private var before: [UInt64] = []
        private var passed: [Bool] = []
        private var restarts = 0

        init(url: String) { self.url = url }

        /// Whether candidates are remembered for a restart (not for Parquet, read by ranges, never restarted).
        var tracking = true
        /// The skipped records given (by offset and code), passed by after a restart.
        private var givenErrors: Set<String> = []

        /// Whether `e` is to be given (not a candidate or skipped record given before a restart).
        func passes(_ e: CrawlEvent) -> Bool {
            if !tracking { return true }
            if case .skipped(let r) = e {
                let id = "\(r.offset) \(r.code)"
                let new = givenErrors.insert(id).inserted
                return restarts == 0 || new
            }
            guard case .candidate(let c) = e else { return true }
            if restarts > 0 && !before.isEmpty {
                // The first not yet passed of the equal keys.
                var lo = 0
                var hi = before.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if before[mid] < c.hash64 { lo = mid + 1 } else { hi = mid }
                }
                while lo < before.count && before[lo] == c.hash64 {
                    if !passed[lo] {
                        passed[lo] = true
                        return false
                    }
                    lo += 1
                }
            }
            given.append(c.hash64)
            return true
        }

        /// The file changed: read it again (a note says so), or give up after three times (the event to record).
        func changed(_ e: InputChanged, notes: borrowing Mutex<[String]>) -> CrawlEvent? {
            restarts += 1
            if restarts > 3 {
                return .skipped(
                    RecordError(
                        code: "input_unreadable", path: url, offset: 0,
                        message: "\(e.message); changed \(restarts) times while being read, given up"))
            }
            // What was given before this restart (and before earlier ones) is passed by on the new read.
            before = (before + given).sorted()
            passed = [Bool](repeating: false, count: before.count)
            given = []
            notes.withLock {
                $0.append(
                    "\(url): \(e.message); read again from its first byte (\(Words.count(before.count, "candidate")) already given are not given again)"
                )
            }
            return nil
        }

        /// The input could not be read (to its end): the event that records why.
        func failed(_ error: any Error, remote: any RemoteInputs) -> CrawlEvent {
            let message = (error as? WinnowError)?.message ?? (error as? RecordError)?.message ?? "\(error)"
            return .skipped(
                RecordError(
                    code: "input_unreadable", path: url, offset: remote.progress(url).received, message: message))
        }
    }

    /// Opens a remote input and looks at its first bytes.
    private func open(remote url: String, _ remote: any RemoteInputs) throws -> Opened {
        let stream = PeekStream(try remote.open(url))
        return Opened(stream: stream, head: try stream.peek(256 << 10))
    }

    private func readRemoteOnce(
        _ url: String, _ id: Int, _ remote: any RemoteInputs, _ counters: inout ParseCounters, opened: Opened?,
        state: RemoteRead? = nil, _ emit: (consuming CrawlEvent) -> Void
    ) throws {
        if opened == nil && ParquetInput.isParquet(path: url, format: listOptions.format) {
            state?.tracking = false
            try readRemoteParquet(url, id, remote, emit)
            return
        }
        let o = try opened ?? open(remote: url, remote)
        let (stream, head) = (o.stream, o.head)
        if head.starts(with: Array("PAR1".utf8)) {
            state?.tracking = false
            try readRemoteParquet(url, id, remote, emit)
            return
        }
        if MemberReader.isMemberPerRecord(head: head) {
            let reader = try MemberReader(stream: stream, name: url)
            let page = WATPage()
            var n = 0
            while let member = try reader.next() {
                try process(member, path: url, &counters, page, emit)
                n += 1
                if n & 63 == 0 {
                    let consumed = reader.position
                    progress.withLock { $0[id] = consumed }
                }
            }
        } else {
            try readStream(url, id, &counters, remote: stream, head: head, emit)
        }
        let received = remote.progress(url).received
        progress.withLock { $0[id] = received }
    }

    private func readRemoteParquet(
        _ url: String, _ id: Int, _ remote: any RemoteInputs, _ emit: (consuming CrawlEvent) -> Void
    ) throws {
        let input = try ParquetInput(path: url, options: listOptions, remote: remote)
        noteList.withLock { $0 += input.notes }
        for g in 0..<input.rowGroups {
            // A transfer that failed for good ends the input (recorded once), as for a stream.
            switch input.decode(group: g) {
            case .failure(let e):
                emit(.skipped(e))
                if e.code == "input_unreadable" { return }
            case .success(let group):
                input.read(group, rows: 0..<group.rows) { (e: consuming CrawlEvent) in emit(e) }
            }
            parquetProgress(input, g, id)
        }
    }

    /// Events of one worker, pushed in batches.
    struct Output {
        let queue: BoundedQueue<EventBatch>
        var events: [CrawlEvent] = []

        mutating func add(_ e: consuming CrawlEvent) {
            events.append(e)
            if events.count >= 256 { flush() }
        }

        mutating func flush() {
            if events.isEmpty { return }
            // Reversed here, where the array is not shared, so that the consumer moves each event out with
            // popLast rather than copying it (a candidate holds several reference-counted strings).
            events.reverse()
            queue.push(.events(events))
            events = []
            events.reserveCapacity(256)
        }
    }
}

/// Events moved in at the back and out at the front, each moved once: an `Array` gives up only its last element
/// without a copy, and a candidate holds several reference-counted strings. Not thread-safe.
final class EventBuffer {
    private var base: UnsafeMutablePointer<CrawlEvent>
    private var capacity = 256
    private var count = 0
    private var taken = 0

    init() { base = .allocate(capacity: capacity) }

    deinit {
        (base + taken).deinitialize(count: count - taken)
        base.deallocate()
    }

    /// Whether every event added has been taken.
    var isEmpty: Bool { taken == count }

    func append(_ e: consuming CrawlEvent) {
        if count == capacity {
            let bigger = UnsafeMutablePointer<CrawlEvent>.allocate(capacity: 2 * capacity)
            bigger.moveInitialize(from: base + taken, count: count - taken)
            base.deallocate()
            base = bigger
            count -= taken
            taken = 0
            capacity *= 2
        }
        (base + count).initialize(to: e)
        count += 1
    }

    /// The oldest event not yet taken.
    func take() -> CrawlEvent? {
        guard taken < count else { return nil }
        let e = (base + taken).move()
        taken += 1
        if taken == count {
            taken = 0
            count = 0
        }
        return e
    }
}

/// The reader's queue from workers to the consumer.
enum EventBatch: Sendable {
    case events([CrawlEvent])
    case failure(WinnowError)
}

/// Lines of a plain or gzipped text file, with the offset of each line.
final class LineReader {
    private let reader: DecompressingReader
    private var buffer: [UInt8] = []
    private var position = 0
    private var bufferStart: Int64 = 0
    let path: String
    var fileBytesConsumed: Int64 { reader.fileBytesConsumed }

    init(path: String) throws {
        self.path = path
        reader = try DecompressingReader(path: path)
    }

    /// Reads lines of `stream`, the input named `name`.
    init(stream: any ByteStream, name: String) throws {
        path = name
        reader = try DecompressingReader(stream: stream, name: name)
    }

    /// The next line (without its end) and its byte offset. Lines end at LF, CR or CRLF, in any mix, as in
    /// `TextLines` (a CRLF split between two reads is one end).
    func next() throws -> (String, Int64)? {
        var atEOF = false
        while true {
            if let end = buffer[position...].firstIndex(where: { $0 == 0x0a || $0 == 0x0d }),
                buffer[end] == 0x0a || end + 1 < buffer.count || atEOF
            {
                let offset = bufferStart + Int64(position)
                let line = text(buffer[position..<end], at: offset)
                position = end + 1
                if buffer[end] == 0x0d && position < buffer.count && buffer[position] == 0x0a { position += 1 }
                return (line, offset)
            }
            if atEOF {
                guard position < buffer.count else { return nil }
                let offset = bufferStart + Int64(position)
                let line = text(buffer[position...], at: offset)
                position = buffer.count
                return (line, offset)
            }
            if position > 0 {
                buffer.removeFirst(position)
                bufferStart += Int64(position)
                position = 0
            }
            if !(try reader.read(into: &buffer)) { atEOF = true }
        }
    }

    /// A line's text; the first without a UTF-8 byte order mark (Excel's "CSV UTF-8" starts with one, which would
    /// otherwise be part of the first column's name).
    private func text(_ bytes: ArraySlice<UInt8>, at offset: Int64) -> String {
        let line = offset == 0 ? TextLines.droppingByteOrderMark(bytes) : bytes
        if let valid = String(validating: line, as: UTF8.self) { return valid }
        return RawBytes.decode(line)
    }
}

/// Lines that are not valid UTF-8: each byte that is not part of a valid sequence is kept as a scalar of its own
/// (U+10FF00 + the byte, at the end of the last private-use plane), so that a URL can percent-encode the byte itself
/// (`%FF`: the address the list meant) and a caption can show U+FFFD, instead of every field losing it to U+FFFD.
enum RawBytes {
    static let base: UInt32 = 0x10FF00

    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        var out = String.UnicodeScalarView()
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var rest = bytes[...]
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                out.append(Unicode.UTF8.decode(encoded))
                rest = rest.dropFirst(encoded.count)
            case .error(let length):
                for b in rest.prefix(length) { out.append(Unicode.Scalar(base + UInt32(b))!) }  // ok: in range
                rest = rest.dropFirst(length)
            case .emptyInput:
                return String(out)
            }
        }
    }

    /// `text` with each kept byte percent-encoded (for URLs).
    static func percentEncoded(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value >= base }) else { return text }
        var out = ""
        for s in text.unicodeScalars {
            if s.value >= base && s.value <= base + 0xff {
                out += String(format: "%%%02X", s.value - base)
            } else {
                out.unicodeScalars.append(s)
            }
        }
        return out
    }

    /// `text` with each kept byte shown as U+FFFD (for captions).
    static func replaced(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value >= base }) else { return text }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars { out.append(s.value >= base && s.value <= base + 0xff ? "\u{FFFD}" : s) }
        return String(out)
    }
}
