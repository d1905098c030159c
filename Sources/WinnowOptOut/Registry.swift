import Foundation
import WinnowCore
import WinnowSQLite

/// A removal request as filed: who asked, why, and what it names.
public struct OptOutRequest: Sendable, Equatable {
    /// `R000001`, ...: allocated in filing order.
    public var id: String
    /// When it was filed (ISO 8601, UTC).
    public var filed: String
    /// Who asked (a rights holder, an organisation, a maintainer).
    public var requester: String
    /// Why, in their words.
    public var reason: String
    /// What was given on the command line (`--url ...`, `--image FILE (sha256 ...)`, `--hash-list FILE`).
    public var subject: String
    /// How many entries it added.
    public var entries: Int
}

/// One thing a request names.
public struct OptOutEntry: Sendable, Equatable {
    /// What kind of thing.
    public var kind: EntryKind
    /// The value in normalised form.
    public var value: String
    /// For PDQ entries: the largest Hamming distance that matches.
    public var threshold: Int?

    /// Creates an entry.
    public init(kind: EntryKind, value: String, threshold: Int? = nil) {
        self.kind = kind
        self.value = value
        self.threshold = threshold
    }

    /// An entry from user input: checked and normalised, with a message naming the value when it is malformed.
    public static func parse(_ kind: EntryKind, _ text: String, threshold: Int? = nil) throws -> OptOutEntry {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch kind {
        case .url, .urlPrefix:
            guard let n = OptOutURL.normalize(t), t.lowercased().hasPrefix("http") else {
                throw WinnowError(.usage, "\(t.debugDescription) is not an http(s) URL")
            }
            return OptOutEntry(kind: kind, value: n)
        case .domain:
            guard let d = OptOutURL.domain(t) else {
                throw WinnowError(.usage, "\(t.debugDescription) is not a domain name (like example.com)")
            }
            return OptOutEntry(kind: kind, value: d)
        case .key:
            guard t.count == 16, t.utf8.allSatisfy({ isHex($0) }) else {
                throw WinnowError(.usage, "\(t.debugDescription) is not a sample key (16 hex digits)")
            }
            return OptOutEntry(kind: kind, value: t.lowercased())
        default:
            let h = t.lowercased()
            guard let n = kind.hexLength, h.utf8.count == n, h.utf8.allSatisfy({ isHex($0) }) else {
                let name = kind.rawValue.replacingOccurrences(of: "url_", with: "").uppercased()
                throw WinnowError(
                    .usage, "\(t.debugDescription) is not a hex \(name) (\(kind.hexLength ?? 0) hex digits)")
            }
            return OptOutEntry(kind: kind, value: h, threshold: threshold)
        }
    }

    static func isHex(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
            || ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "f"))
    }
}

/// A sample a request matched in an output directory, as shown for review.
public struct OptOutMatch: Sendable, Equatable {
    /// The output directory.
    public var directory: String
    /// The sample key.
    public var key: String
    /// The sample URL.
    public var url: String
    /// How it matched: `url`, `domain`, `sha256`, `pdq 12`, `clip 0.934`, ...
    public var match: String

    /// Creates a match.
    public init(directory: String, key: String, url: String, match: String) {
        self.directory = directory
        self.key = key
        self.url = url
        self.match = match
    }
}

/// The opt-out registry database. Not thread-safe: one per thread (the matcher it builds is).
public final class Registry {
    /// Schema migrations, applied in order by `PRAGMA user_version`.
    static let migrations = [
        """
        CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            filed TEXT NOT NULL,
            requester TEXT NOT NULL,
            reason TEXT NOT NULL,
            subject TEXT NOT NULL,
            entries INTEGER NOT NULL
        );
        CREATE TABLE entries (
            fingerprint INTEGER NOT NULL,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            request_id TEXT NOT NULL,
            threshold INTEGER
        );
        CREATE INDEX entries_fingerprint ON entries (fingerprint);
        CREATE INDEX entries_request ON entries (request_id);
        CREATE TABLE matches (
            request_id TEXT NOT NULL,
            directory TEXT NOT NULL,
            key TEXT NOT NULL,
            url TEXT NOT NULL,
            match TEXT NOT NULL
        );
        CREATE INDEX matches_request ON matches (request_id);
        """
    ]

    /// The database file.
    public let path: String
    let db: Connection

    /// Where the registry lives unless a command or pipeline names one: `$WINNOW_OPTOUT_REGISTRY`, else
    /// `$XDG_DATA_HOME/winnow/optout.sqlite`, else `~/.local/share/winnow/optout.sqlite`.
    public static func defaultPath(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let p = environment["WINNOW_OPTOUT_REGISTRY"], !p.isEmpty { return p }
        let data =
            environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) as NSString).appendingPathComponent(".local/share")
        return ((data as NSString).appendingPathComponent("winnow") as NSString).appendingPathComponent("optout.sqlite")
    }

    /// Opens the registry at `path`; `create` makes it (and its folder) when missing, otherwise a missing registry
    /// is an error that names the path.
    public init(path: String, create: Bool) throws {
        self.path = path
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            guard create else {
                throw WinnowError(
                    .usage, "\(path): no opt-out registry here (file a request first, or pass --registry)")
            }
            try? fm.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        do {
            db = try Connection(path: path)
            let version = try db.userVersion
            if version > Registry.migrations.count {
                throw WinnowError(
                    .database,
                    "\(path): registry schema \(version) is newer than this winnow (\(Registry.migrations.count))")
            }
            if version < Registry.migrations.count {
                try db.transaction {
                    for v in version..<Registry.migrations.count {
                        try db.execute(Registry.migrations[v])
                        try db.execute("PRAGMA user_version = \(v + 1)")
                    }
                }
            }
        } catch let e as SQLiteError {
            throw WinnowError(.database, "\(path): not an opt-out registry (\(e.message))")
        }
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as SQLiteError { throw WinnowError(.database, "\(path): \(e)") }
    }

    /// Files a request with its entries in one transaction and returns it with its new id.
    public func file(requester: String, reason: String, subject: String, entries: [OptOutEntry]) throws -> OptOutRequest
    {
        try wrap {
            // A big hash list grows the fingerprint index at random places: keep its pages in memory meanwhile.
            if entries.count > 100_000 { try db.execute("PRAGMA cache_size = -524288") }
            defer { try? db.execute("PRAGMA cache_size = -2000") }
            return try db.transaction {
                let next = (try db.query("SELECT coalesce(max(rowid), 0) + 1 AS n FROM requests")[0].int("n")) ?? 1
                let id = String(format: "R%06lld", next)
                let filed = ISO8601DateFormatter().string(from: Date())
                try insert(entries, id: id)
                try db.run(
                    "INSERT INTO requests (id, filed, requester, reason, subject, entries) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    [id, filed, requester, reason, subject, entries.count])
                return OptOutRequest(
                    id: id, filed: filed, requester: requester, reason: reason, subject: subject, entries: entries.count
                )
            }
        }
    }

    /// Records what a request matched in an output directory (shown by `optout show`).
    public func recordMatches(_ id: String, _ matches: [OptOutMatch]) throws {
        try wrap {
            try db.transaction {
                let insert = try db.prepare(
                    "INSERT INTO matches (request_id, directory, key, url, match) VALUES (?1, ?2, ?3, ?4, ?5)")
                for m in matches { try insert.run([id, m.directory, m.key, m.url, m.match]) }
            }
        }
    }

    private static func request(_ r: Row) -> OptOutRequest {
        OptOutRequest(
            id: r.string("id") ?? "", filed: r.string("filed") ?? "", requester: r.string("requester") ?? "",
            reason: r.string("reason") ?? "", subject: r.string("subject") ?? "", entries: Int(r.int("entries") ?? 0))
    }

    /// Every request, in filing order.
    public func requests() throws -> [OptOutRequest] {
        try wrap { try db.query("SELECT * FROM requests ORDER BY rowid").map(Registry.request) }
    }

    /// One request; a usage error naming the id when there is none.
    public func request(_ id: String) throws -> OptOutRequest {
        try wrap {
            guard let r = try db.query("SELECT * FROM requests WHERE id = ?1", [id]).first else {
                throw WinnowError(.notFound, "\(id.debugDescription): no such request in \(path)")
            }
            return Registry.request(r)
        }
    }

    /// The first `limit` entries of a request.
    public func entries(of id: String, limit: Int = 100) throws -> [OptOutEntry] {
        try wrap {
            try db.query(
                "SELECT kind, value, threshold FROM entries WHERE request_id = ?1 ORDER BY rowid LIMIT ?2", [id, limit]
            ).compactMap { r in
                EntryKind(rawValue: r.string("kind") ?? "").map {
                    OptOutEntry(kind: $0, value: r.string("value") ?? "", threshold: r.int("threshold").map { Int($0) })
                }
            }
        }
    }

    /// What a request matched when it was filed.
    public func matches(of id: String) throws -> [OptOutMatch] {
        try wrap {
            try db.query("SELECT * FROM matches WHERE request_id = ?1 ORDER BY rowid", [id]).map { r in
                OptOutMatch(
                    directory: r.string("directory") ?? "", key: r.string("key") ?? "", url: r.string("url") ?? "",
                    match: r.string("match") ?? "")
            }
        }
    }

    /// Reads a hash list: one hex MD5, SHA-1 or SHA-256 per line (the kind is told by the length; `md5sum`-style
    /// lines `HASH  NAME` are accepted, blank lines and `#` comments skipped), of URLs (`ofURLs`) or of image
    /// bytes. A malformed line stops the import with its file and line number.
    public static func readHashList(path: String, ofURLs: Bool) throws -> [OptOutEntry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WinnowError(.io, "\(path): cannot read the hash list")
        }
        var out: [OptOutEntry] = []
        let kinds: [Int: EntryKind] =
            ofURLs ? [32: .urlMD5, 40: .urlSHA1, 64: .urlSHA256] : [32: .md5, 40: .sha1, 64: .sha256]
        // Lines end at LF, CR or CRLF (a list saved on Windows or an old Mac is read line by line, not as one).
        try TextLines.forEach(TextLines.droppingByteOrderMark([UInt8](data)[...])) { raw, line in
            let text = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty || text.hasPrefix("#") { return }
            let token = String(text.prefix { !$0.isWhitespace })
            guard let kind = kinds[token.utf8.count], let e = try? OptOutEntry.parse(kind, token) else {
                throw WinnowError(
                    .format,
                    "\(path):\(line): \(String(token.prefix(80)).debugDescription) is not a hex MD5, SHA-1 or SHA-256 (32, 40 or 64 hex digits)"
                )
            }
            out.append(e)
        }
        if out.isEmpty { throw WinnowError(.format, "\(path): the hash list has no hashes") }
        return out
    }

    /// Builds the matcher runs and `optout apply` consult: every entry's fingerprint in memory; with `request`,
    /// that request's entries only.
    public func matcher(request: String? = nil) throws -> RegistryMatcher {
        try wrap { try RegistryMatcher(registry: self, request: request) }
    }

    /// Adds entries to a request already filed (the samples `optout file --clip-threshold` found similar).
    public func add(_ entries: [OptOutEntry], to id: String) throws {
        guard !entries.isEmpty else { return }
        try wrap {
            try db.transaction {
                try insert(entries, id: id)
                try db.run("UPDATE requests SET entries = entries + ?1 WHERE id = ?2", [entries.count, id])
            }
        }
    }

    private func insert(_ entries: [OptOutEntry], id: String) throws {
        let insert = try db.prepare(
            "INSERT INTO entries (fingerprint, kind, value, request_id, threshold) VALUES (?1, ?2, ?3, ?4, ?5)")
        for e in entries {
            try insert.run([Int64(bitPattern: e.kind.fingerprint(e.value)), e.kind.rawValue, e.value, id, e.threshold])
        }
    }
}
