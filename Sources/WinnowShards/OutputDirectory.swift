import Foundation
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

        enum CodingKeys: String, CodingKey {
            case formatVersion = "format_version"
            case command
            case settingsDigest = "settings_digest"
            case inputs, created
        }
    }

    /// The directory.
    public let path: String

    /// Claims `path` for `command`: creates it (or takes an empty one) and writes the manifest. An existing Winnow
    /// directory with a finished run (an index) is refused unless `overwrite`, which removes that run's files; an
    /// unfinished run's files are removed and the run starts clean. Returns the directory and a message to show
    /// when something was removed.
    public static func claim(
        _ path: String, command: String, settings: String, inputs: [String], overwrite: Bool
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
                "\(path): not a Winnow output directory (no \(manifestName); holds \(names.count) \(names.count == 1 ? "entry" : "entries"): \(shown)); Winnow writes only into an empty or new directory, and removes nothing it did not write"
            )
        }
        let finished = names.contains("index.sqlite")
        if finished && !overwrite {
            throw WinnowError(
                .usage,
                "\(path): already holds a finished run (index.sqlite); choose another --output or pass --overwrite")
        }
        // The files of a previous run: a finished one replaced (with its policy cache, so the new run asks the
        // sites again), or what a killed one left.
        var removed = 0
        for n in names where isRunFile(n) || (finished && isPolicyCache(n)) {
            try fm.removeItem(atPath: (path as NSString).appendingPathComponent(n))
            removed += 1
        }
        for folder in ShardWriter.embeddingFolders {
            let dir = (path as NSString).appendingPathComponent(folder)
            for n in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where isEmbeddingFile(n, folder: folder) {
                try fm.removeItem(atPath: (dir as NSString).appendingPathComponent(n))
                removed += 1
            }
        }
        try makeDirectory(path)
        let manifest = Manifest(
            formatVersion: formatVersion, command: command, settingsDigest: SHA256.hexDigest(Array(settings.utf8)),
            inputs: inputs, created: ISO8601DateFormatter().string(from: Date()))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try ShardWriter.writeAtomically(
            Array(try encoder.encode(manifest)) + [0x0a], to: (path as NSString).appendingPathComponent(manifestName))
        let message: String?
        if finished {
            message = "\(path): removed the previous run (--overwrite)"
        } else if removed > 0 {
            message = "\(path): found an unfinished run (killed?); removed its \(removed) files and starting clean"
        } else {
            message = nil
        }
        return (OutputDirectory(path: path), message)
    }

    /// The manifest of `path`, if it has one.
    public static func manifest(_ path: String) throws -> Manifest? {
        let file = (path as NSString).appendingPathComponent(manifestName)
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw WinnowError(.format, "\(file): not a Winnow manifest (\(OutputDirectory.reason(error)))")
        }
    }

    /// Whether `path` is a directory Winnow wrote: it holds the manifest, or an index (finished or partial).
    public static func isWinnowOutput(_ path: String) -> Bool {
        let fm = FileManager.default
        return [manifestName, "index.sqlite", "index.sqlite.partial"].contains {
            fm.fileExists(atPath: (path as NSString).appendingPathComponent($0))
        }
    }

    /// Shards (`NNNNN.tar`), their partial files, and the index with SQLite's side files.
    static func isRunFile(_ name: String) -> Bool {
        if name.hasPrefix("index.sqlite") {
            let rest = name.dropFirst("index.sqlite".count)
            return ["", ".partial", "-journal", "-wal", "-shm", ".partial-journal", ".partial-wal", ".partial-shm"]
                .contains(String(rest))
        }
        var base = Substring(name)
        if base.hasSuffix(".partial") { base = base.dropLast(".partial".count) }
        guard base.hasSuffix(".tar") else { return false }
        let number = base.dropLast(4)
        return number.count >= 5 && number.allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func isPolicyCache(_ name: String) -> Bool {
        ["policies.sqlite", "policies.sqlite-journal", "policies.sqlite-wal", "policies.sqlite-shm"].contains(name)
    }

    /// `img_emb_NNNNN.npy` in `img_emb` (and the same in `text_emb`), or its partial file.
    static func isEmbeddingFile(_ name: String, folder: String) -> Bool {
        var base = Substring(name)
        if base.hasSuffix(".partial") { base = base.dropLast(".partial".count) }
        guard base.hasPrefix(folder + "_"), base.hasSuffix(".npy") else { return false }
        let number = base.dropFirst(folder.count + 1).dropLast(4)
        return number.count >= 5 && number.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Creates `path` and its missing parents with mkdir(2), so that a failure names the folder and the system's
    /// reason in one line (Foundation's error says "error 512" for a parent that is a file).
    static func makeDirectory(_ path: String) throws {
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

    /// The operating system's reason in an error, without Foundation's dump.
    static func reason(_ error: Error) -> String {
        let e = error as NSError
        if let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return e.localizedDescription
    }
}
