import Foundation
import Synchronization
import WinnowCore

/// The one gate to an output directory: before a run writes anything, it claims the directory here. A directory is
/// Winnow's when it holds Winnow's manifest (`winnow.json`, written when Winnow creates or first claims it) or, for
/// directories written before the manifest existed, an index (`index.sqlite`, or the `.partial` one of a killed
/// run). A non-empty directory that is not Winnow's is refused, and nothing in it is touched. In Winnow's own
/// directories only the files Winnow writes are ever removed: shards, their embedding files, the index, the policy
/// cache of a replaced run; never another file, and never the opt-out audit log.
public struct OutputDirectory: Sendable {
    /// The manifest's file name.
    public static let manifestName = "winnow.json"
    /// The manifest's format version.
    public static let formatVersion = 1

    /// What a manifest records: which Winnow command made the directory, with what settings and inputs.
    public struct Manifest: Codable, Sendable, Equatable {
        /// `format_version`.
        public var formatVersion: Int
        /// The command (`run`, `fetch`, `index merge`).
        public var command: String
        /// SHA-256 of the settings the run was made with.
        public var settingsDigest: String
        /// The inputs, as given.
        public var inputs: [String]
        /// When the directory was claimed (ISO 8601).
        public var created: String
        /// The settings, by name (what a resume compares, to name what differs).
        public var settings: [String: String]?
        /// When the command finished (ISO 8601), for outputs without an index (`winnow parse --output DIR`).
        public var finished: String?

        enum CodingKeys: String, CodingKey {
            case formatVersion = "format_version"
            case command
            case settingsDigest = "settings_digest"
            case inputs, created, settings, finished
        }
    }

    /// The directory.
    public let path: String
    /// Whether the claim continues an unfinished run of the same command, settings and inputs (the writer then
    /// keeps what that run committed).
    public let resuming: Bool

    /// Claims `path` for `command`: creates it (or takes an empty one) and writes the manifest. An existing Winnow
    /// directory with a finished run (an index) is refused unless `overwrite`, which removes that run's files. An
    /// unfinished run made by the same command with the same settings and inputs is resumed (nothing is removed
    /// here: the writer keeps what it committed); with other settings or inputs it is refused, naming what differs,
    /// unless `overwrite`. What a run left without a manifest to compare with is removed and the run starts clean.
    /// Returns the directory and a message to show when something was removed.
    public static func claim(
        _ path: String, command: String, settings: [String: String], inputs: [String], overwrite: Bool
    ) throws -> (OutputDirectory, message: String?) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue {
            throw WinnowError(.usage, "\(path): exists and is not a directory")
        }
        let names = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted()
        // Winnow's: its manifest or an index; or only Winnow output directories inside (the parts a merge gathers).
        let ours =
            isWinnowOutput(path)
            || names.allSatisfy { isWinnowOutput((path as NSString).appendingPathComponent($0)) }
        if !names.isEmpty && !ours {
            let shown = names.prefix(4).joined(separator: ", ") + (names.count > 4 ? ", ..." : "")
            throw WinnowError(
                .usage,
                "\(path): not a Winnow output directory (no Winnow \(manifestName); holds \(names.count) \(names.count == 1 ? "entry" : "entries"): \(shown)); Winnow writes only into an empty or new directory, and removes nothing it did not write"
            )
        }
        // No two processes at once: the lock is taken before anything is read or removed.
        if fm.fileExists(atPath: path) { try lock(path) }
        let existing = (try? manifest(path)) ?? nil
        let finished = names.contains("index.sqlite") || existing?.finished != nil
        if finished && !overwrite {
            throw WinnowError(
                .usage,
                names.contains("index.sqlite")
                    ? "\(path): already holds a finished run (index.sqlite); choose another --output, pass --overwrite to replace it, or --retry REASON to fetch again what failed"
                    : "\(path): already holds a finished 'winnow \(existing?.command ?? command)' (\(manifestName)); choose another --output or pass --overwrite to replace it"
            )
        }
        let digest = digestOf(settings)
        // An unfinished run with its manifest: resumed when it is the same work, refused when it is other work.
        // (A manifest with nothing written beside it, say after a setting was refused, holds no work: taken afresh.)
        let started = names.contains { isRunFile($0) || ShardWriter.embeddingFolders.contains($0) }
        if !finished && !overwrite && started, let old = existing {
            if let difference = difference(old, command: command, settings: settings, digest: digest, inputs: inputs) {
                throw WinnowError(
                    .usage,
                    "\(path): holds an unfinished run \(difference); rerun it as it was to resume, or pass --overwrite to start over"
                )
            }
            try lock(path)
            return (OutputDirectory(path: path, resuming: true), nil)
        }
        // The files of a previous run: a finished one replaced (with its policy cache, so the new run asks the
        // sites again), an unfinished one replaced (--overwrite), or what a run without a manifest left.
        var removed = 0
        for n in names where isRunFile(n) || (finished && isPolicyCache(n)) {
            try fm.removeItem(atPath: (path as NSString).appendingPathComponent(n))
            removed += 1
        }
        removed += try removeEmbeddingFiles(path) { _ in true }
        try makeDirectory(path)
        try lock(path)
        let manifest = Manifest(
            formatVersion: formatVersion, command: command, settingsDigest: digest, inputs: inputs,
            created: ISO8601DateFormatter().string(from: Date()), settings: settings)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try ShardWriter.writeAtomically(
            Array(try encoder.encode(manifest)) + [0x0a], to: (path as NSString).appendingPathComponent(manifestName))
        let message: String?
        if finished {
            message = "\(path): removed the previous run (--overwrite)"
        } else if removed > 0 {
            message =
                overwrite
                ? "\(path): removed the unfinished run's \(removed) files (--overwrite)"
                : "\(path): found an unfinished run (killed?) without a manifest to resume by; removed its \(removed) files and starting clean"
        } else {
            message = nil
        }
        return (OutputDirectory(path: path, resuming: false), message)
    }

    /// Claims the finished run in `path` to fetch again what failed (`--retry`): it must be finished and made by the
    /// same command; its inputs, if given, must be the same; of the settings only the fetch stage's may differ (a
    /// longer timeout, more retries), since the images of the new shards must be made as the others were.
    public static func claimForRetry(
        _ path: String, command: String, settings: [String: String], inputs: [String]?
    ) throws -> OutputDirectory {
        let fm = FileManager.default
        guard fm.fileExists(atPath: ShardWriter.indexPath(path)) else {
            let unfinished = fm.fileExists(atPath: ShardWriter.indexPath(path) + ".partial")
            throw WinnowError(
                .usage,
                unfinished
                    ? "\(path): the run is not finished; rerun it without --retry to resume it, then retry"
                    : "\(path): no finished run to retry (no index.sqlite)")
        }
        guard let old = try manifest(path) else {
            throw WinnowError(
                .usage, "\(path): no \(manifestName) (written by an older Winnow); cannot tell how it was made")
        }
        var mine = settings
        var theirs = old.settings ?? [:]
        for k in Set(mine.keys).union(theirs.keys) where k.hasPrefix("fetch.") {
            mine[k] = nil
            theirs[k] = nil
        }
        var compared = old
        compared.settings = theirs
        if let difference = difference(
            compared, command: command, settings: mine, digest: old.settings == nil ? old.settingsDigest : "",
            inputs: inputs ?? old.inputs)
        {
            // (Without recorded settings only the command and inputs can be compared.)
            if old.settings != nil || !difference.contains("settings") {
                throw WinnowError(
                    .usage,
                    "\(path): holds a run \(difference); a retry uses the run's own settings (only fetch settings may change)"
                )
            }
        }
        try lock(path)
        return OutputDirectory(path: path, resuming: false)
    }

    /// Records in the manifest that the command finished (for outputs without an index, whose final name says so).
    public static func markFinished(_ path: String) throws {
        guard var m = try manifest(path) else { return }
        m.finished = ISO8601DateFormatter().string(from: Date())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try ShardWriter.writeAtomically(
            Array(try encoder.encode(m)) + [0x0a], to: (path as NSString).appendingPathComponent(manifestName))
    }

    /// SHA-256 of the settings, one `name=value` line each in name order.
    public static func digestOf(_ settings: [String: String]) -> String {
        SHA256.hexDigest(Array(settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined().utf8))
    }

    /// What makes `old` other work than this run, in words (`made with other settings (fetch.timeout_seconds: 30.0
    /// then, 10.0 now)`), or nil when it is the same work.
    static func difference(
        _ old: Manifest, command: String, settings: [String: String], digest: String, inputs: [String]
    ) -> String? {
        if old.command != command {
            return "made by another command ('winnow \(old.command)' then, 'winnow \(command)' now)"
        }
        if old.inputs != inputs {
            let gone = old.inputs.filter { !inputs.contains($0) }
            let new = inputs.filter { !old.inputs.contains($0) }
            var parts: [String] = []
            if let g = gone.first {
                parts.append("\(g) then" + (gone.count > 1 ? " (and \(gone.count - 1) more)" : ""))
            }
            if let n = new.first { parts.append("\(n) now" + (new.count > 1 ? " (and \(new.count - 1) more)" : "")) }
            if parts.isEmpty { parts.append("the same files in another order") }
            return "made from other inputs (\(parts.joined(separator: ", ")))"
        }
        guard old.settingsDigest != digest else { return nil }
        guard let before = old.settings else {
            return "made with other settings (settings digest \(old.settingsDigest.prefix(12)) then)"
        }
        let names = Set(before.keys).union(settings.keys).sorted()
        let changed = names.filter { before[$0] != settings[$0] }
        if changed.isEmpty { return nil }
        let shown = changed.prefix(3).map { "\($0): \(before[$0] ?? "unset") then, \(settings[$0] ?? "unset") now" }
        return
            "made with other settings (\(shown.joined(separator: "; "))\(changed.count > 3 ? "; and \(changed.count - 3) more" : ""))"
    }

    /// Removes the per-shard embedding files (and their partial files) for which `include` says yes, given the
    /// shard's number; returns how many.
    static func removeEmbeddingFiles(_ path: String, where include: (Int) -> Bool) throws -> Int {
        var removed = 0
        for folder in ShardWriter.embeddingFolders {
            let dir = (path as NSString).appendingPathComponent(folder)
            for n in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                guard let number = embeddingFileNumber(n, folder: folder), include(number) else { continue }
                try FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent(n))
                removed += 1
            }
        }
        return removed
    }

    /// The manifest of `path`, if it has one.
    public static func manifest(_ path: String) throws -> Manifest? {
        let file = (path as NSString).appendingPathComponent(manifestName)
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw WinnowError(.format, "\(file): not a Winnow manifest (\(SystemError.reason(error)))")
        }
    }

    /// Whether `path` is a directory Winnow wrote: it holds the manifest, or an index (finished or partial).
    /// A `winnow.json` counts only when it is Winnow's manifest (another program's file of that name does not make
    /// a directory Winnow's).
    public static func isWinnowOutput(_ path: String) -> Bool {
        let fm = FileManager.default
        if ["index.sqlite", "index.sqlite.partial"].contains(where: {
            fm.fileExists(atPath: (path as NSString).appendingPathComponent($0))
        }) {
            return true
        }
        return ((try? manifest(path)) ?? nil) != nil
    }

    /// Directories this process holds the lock of (claimed once, held until the process ends).
    private static let locks = Mutex<[String: Int32]>([:])

    /// Takes the directory's lock (flock on the directory itself), so that two Winnow processes never write one
    /// output at once (a user rerunning a command, a replacement pod started while the old one is stopping, a job
    /// requeued while the first copy still runs). Held until the process exits; taken again by this process at once.
    /// Takes the directory's lock for a command that edits a finished output in place (`winnow optout apply`).
    public static func lockForWriting(_ path: String) throws { try lock(path) }

    static func lock(_ path: String) throws {
        let key = URL(fileURLWithPath: path).standardizedFileURL.path
        try locks.withLock { held in
            if held[key] != nil { return }
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else {
                throw WinnowError(.io, "\(path): cannot open to lock it: \(String(cString: strerror(errno)))")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let busy = errno == EWOULDBLOCK
                close(fd)
                if busy {
                    throw WinnowError(
                        .usage,
                        "\(path): another winnow process is writing this directory (wait for it, or stop it: a rerun then resumes)"
                    )
                }
                // A filesystem without locks (some network mounts): go on unlocked rather than refuse.
                return
            }
            held[key] = fd
        }
    }

    /// Shards (`NNNNN.tar`), their partial files, and the index with SQLite's side files.
    static func isRunFile(_ name: String) -> Bool {
        if name.hasPrefix("index.sqlite") {
            let rest = name.dropFirst("index.sqlite".count)
            return ["", ".partial", "-journal", "-wal", "-shm", ".partial-journal", ".partial-wal", ".partial-shm"]
                .contains(String(rest))
        }
        return shardFileNumber(name) != nil || candidateFileNumber(name) != nil
    }

    /// The shard number of a shard's file: its tar or its Parquet metadata (`00012.parquet`, or partial: 12).
    static func shardFileNumber(_ name: String) -> Int? {
        shardNumber(name) ?? number(name, prefix: "", suffix: ".parquet")
    }

    /// The number of a shard file (`00012.tar` or `00012.tar.partial`: 12), or nil for any other name.
    public static func shardNumber(_ name: String) -> Int? { number(name, prefix: "", suffix: ".tar") }

    /// The number of a candidate file of `winnow parse --output DIR` (`candidates-00003.jsonl`, or its partial
    /// file: 3), or nil for any other name.
    public static func candidateFileNumber(_ name: String) -> Int? {
        number(name, prefix: "candidates-", suffix: ".jsonl")
    }

    /// The number of `PREFIX` + at least five digits + `SUFFIX`, with or without `.partial`: the names of the
    /// numbered files Winnow writes.
    static func number(_ name: String, prefix: String, suffix: String) -> Int? {
        var base = Substring(name)
        if base.hasSuffix(".partial") { base = base.dropLast(".partial".count) }
        guard base.hasPrefix(prefix), base.hasSuffix(suffix) else { return nil }
        let digits = base.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count >= 5 && digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    static func isPolicyCache(_ name: String) -> Bool {
        ["policies.sqlite", "policies.sqlite-journal", "policies.sqlite-wal", "policies.sqlite-shm"].contains(name)
    }

    /// The shard number of `img_emb_NNNNN.npy` in `img_emb` (and the same in `text_emb`), or of its partial file.
    static func embeddingFileNumber(_ name: String, folder: String) -> Int? {
        number(name, prefix: folder + "_", suffix: ".npy")
    }

    /// Creates `path` and its missing parents with mkdir(2), so that a failure names the folder and the system's
    /// reason in one line (Foundation's error says "error 512" for a parent that is a file).
    public static func makeDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { return }
            throw WinnowError(.io, "\(path): cannot create the directory: a file of that name exists")
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectory(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw WinnowError(.io, "\(path): cannot create the directory: \(String(cString: strerror(errno)))")
        }
    }

}
