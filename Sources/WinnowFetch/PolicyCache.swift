import Foundation
import WinnowCore
import WinnowSQLite

/// Fetched opt-out documents (robots.txt, tdmrep.json, ai.txt) by origin, with their fetch time, in SQLite: a later
/// run within `maxAge` uses them instead of asking the site again (RFC 9309 asks not to use a robots.txt older
/// than 24 hours). The fetcher's event loop reads it; what it stores is written by a thread of the cache's own, in
/// batches (one transaction each), so that no disk write waits on the loop. A stored answer is seen by `lookup` at
/// once; `flush` waits until everything stored is on disk (the fetcher flushes at the end of its run).
public final class PolicyCache: @unchecked Sendable {
    // @unchecked Sendable: `db` is used by the caller's thread only; the writer has its own connection and lock.
    private let db: Connection
    private let writer: Writer
    /// How long a cached document is used.
    public let maxAge: TimeInterval
    /// The database file.
    public let path: String

    /// Opens (creating) the cache at `path`.
    public init(path: String, maxAge: TimeInterval = 24 * 3600) throws {
        self.path = path
        self.maxAge = maxAge
        do {
            db = try Connection(path: path)
            // Write-ahead logging: the loop's reads go on while the writer commits.
            _ = try? db.query("PRAGMA journal_mode=WAL")
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS policies (
                    origin TEXT NOT NULL,
                    document TEXT NOT NULL,
                    status INTEGER NOT NULL,
                    failure TEXT,
                    body BLOB NOT NULL,
                    fetched_at REAL NOT NULL,
                    PRIMARY KEY (origin, document)
                )
                """)
            writer = Writer(try Connection(path: path))
        } catch {
            throw WinnowError(.database, "\(path): cannot open the policy cache: \(error)")
        }
    }

    deinit { writer.stop() }

    /// A cached answer: HTTP status (0 when the server could not be reached), failure code, body, fetch time.
    public struct Entry: Sendable, Equatable {
        /// HTTP status, 0 for a network failure.
        public var status: Int
        /// The network failure's reason code (`dns`, `connect`...), if any.
        public var failure: String?
        /// The document.
        public var body: [UInt8]
        /// When it was fetched.
        public var fetchedAt: Date
    }

    /// The fresh entry for `origin` and `document` (its path), or nil.
    public func lookup(origin: String, document: String, now: Date = Date()) -> Entry? {
        if let e = writer.pending(Key(origin: origin, document: document)) {
            return now.timeIntervalSince(e.fetchedAt) < maxAge ? e : nil
        }
        guard
            let row = try? db.query(
                "SELECT status, failure, body, fetched_at FROM policies WHERE origin = ?1 AND document = ?2",
                [origin, document]
            ).first
        else { return nil }
        guard case .real(let at) = row["fetched_at"] else { return nil }
        let fetched = Date(timeIntervalSince1970: at)
        guard now.timeIntervalSince(fetched) < maxAge else { return nil }
        var body: [UInt8] = []
        if case .blob(let b) = row["body"] { body = b }
        return Entry(
            status: Int(row.int("status") ?? 0), failure: row.string("failure"), body: body, fetchedAt: fetched)
    }

    /// Stores an answer: seen by `lookup` at once, written by the cache's thread (errors are ignored: the cache only
    /// saves requests).
    public func store(origin: String, document: String, entry: Entry) {
        writer.add(Key(origin: origin, document: document), entry)
    }

    /// Waits until everything stored is written.
    public func flush() { writer.flush() }

    struct Key: Hashable {
        let origin: String
        let document: String
    }

    /// The thread that writes stored answers, a batch per transaction.
    private final class Writer: @unchecked Sendable {
        // @unchecked Sendable: `waiting`, `busy` and `stopped` are only touched under `condition`; `db` only by
        // the thread.
        private let db: Connection
        private let condition = NSCondition()
        private var waiting: [Key: Entry] = [:]
        private var busy = false
        private var stopped = false
        private var started = false

        init(_ db: Connection) { self.db = db }

        func pending(_ key: Key) -> Entry? {
            condition.lock()
            defer { condition.unlock() }
            return waiting[key]
        }

        func add(_ key: Key, _ entry: Entry) {
            condition.lock()
            waiting[key] = entry
            if !started {
                started = true
                let t = Thread { [self] in loop() }
                t.name = "winnow-policy-cache"
                t.start()
            }
            condition.broadcast()
            condition.unlock()
        }

        func flush() {
            condition.lock()
            while started && (!waiting.isEmpty || busy) {
                condition.broadcast()
                condition.wait()
            }
            condition.unlock()
        }

        func stop() {
            flush()
            condition.lock()
            stopped = true
            condition.broadcast()
            condition.unlock()
        }

        private func loop() {
            while true {
                condition.lock()
                while !stopped && waiting.isEmpty { condition.wait() }
                if stopped && waiting.isEmpty {
                    condition.unlock()
                    return
                }
                let batch = waiting
                busy = true
                condition.unlock()
                try? db.execute("BEGIN")
                for (k, e) in batch {
                    try? db.run(
                        "INSERT OR REPLACE INTO policies (origin, document, status, failure, body, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        [
                            k.origin, k.document, e.status, e.failure, SQLiteValue.blob(e.body),
                            e.fetchedAt.timeIntervalSince1970,
                        ])
                }
                try? db.execute("COMMIT")
                condition.lock()
                // What was stored again meanwhile stays for the next batch.
                for (k, e) in batch where waiting[k] == e { waiting[k] = nil }
                busy = false
                condition.broadcast()
                condition.unlock()
            }
        }
    }
}
