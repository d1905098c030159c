import Foundation
import Synchronization
import WinnowCore
import WinnowSQLite

/// A registry entry that matched.
public struct OptOutHit: Sendable, Equatable {
    /// What kind of entry matched.
    public var kind: EntryKind
    /// The entry's value.
    public var value: String
    /// The request that filed it.
    public var requestID: String

    /// Creates a hit.
    public init(kind: EntryKind, value: String, requestID: String) {
        self.kind = kind
        self.value = value
        self.requestID = requestID
    }

    /// The reason detail recorded on a dropped or removed sample: `R000003 domain example.com`.
    public var detail: String { "\(requestID) \(kind.rawValue) \(value)" }
}

/// The registry in memory, for lookups from any thread: a fingerprint set of every exact entry (URLs, domains, hashes,
/// keys), URL prefixes by host, and the PDQ entries. A fingerprint hit is confirmed against the database (hits are
/// rare, misses never touch it), so a lookup costs one or a few probes.
public final class RegistryMatcher: Sendable {
    private let set: FingerprintSet
    private let kinds: Set<EntryKind>
    private let prefixes: [String: [(prefix: String, requestID: String)]]
    /// The PDQ entries: hash (hex), largest matching distance, request.
    public let pdqEntries: [(hash: String, threshold: Int, requestID: String)]
    private let confirm: Mutex<Statement>
    /// Entries in the registry.
    public let count: Int

    init(registry: Registry) throws {
        let db = registry.db
        var kinds = Set<EntryKind>()
        for r in try db.query("SELECT DISTINCT kind FROM entries") {
            if let k = EntryKind(rawValue: r.string("kind") ?? "") { kinds.insert(k) }
        }
        self.kinds = kinds
        let total = Int(try db.query("SELECT count(*) AS n FROM entries")[0].int("n") ?? 0)
        count = total
        var set = FingerprintSet(capacity: total)
        try db.prepare("SELECT fingerprint FROM entries WHERE kind NOT IN ('url_prefix', 'pdq')").forEachInt64 {
            set.insert(UInt64(bitPattern: $0))
        }
        self.set = set
        var prefixes: [String: [(prefix: String, requestID: String)]] = [:]
        var pdq: [(hash: String, threshold: Int, requestID: String)] = []
        for r in try db.query(
            "SELECT kind, value, request_id, threshold FROM entries WHERE kind IN ('url_prefix', 'pdq')")
        {
            let value = r.string("value") ?? ""
            let id = r.string("request_id") ?? ""
            if r.string("kind") == "pdq" {
                pdq.append((value, Int(r.int("threshold") ?? 31), id))
            } else if let host = OptOutURL.hostOfNormalized(value) {
                prefixes[host, default: []].append((value, id))
            }
        }
        self.prefixes = prefixes
        pdqEntries = pdq
        // A connection of its own (read-only), so that lookups from other threads never share the registry's.
        let own = try Connection(path: registry.path, readOnly: true)
        confirm = Mutex(
            try own.prepare(
                "SELECT request_id FROM entries WHERE fingerprint = ?1 AND kind = ?2 AND value = ?3 ORDER BY rowid LIMIT 1"
            ))
    }

    /// Whether the registry has no entries at all (runs skip the lookups then).
    public var isEmpty: Bool { count == 0 }

    /// Whether the registry has entries of any of these kinds.
    public func has(_ any: EntryKind...) -> Bool { any.contains { kinds.contains($0) } }

    /// The exact entry of this kind and value, if filed.
    public func lookup(_ kind: EntryKind, _ value: String) -> OptOutHit? {
        guard set.contains(kind.fingerprint(value)) else { return nil }
        return confirmed(kind, value)
    }

    private func confirmed(_ kind: EntryKind, _ value: String) -> OptOutHit? {
        let fp = Int64(bitPattern: kind.fingerprint(value))
        let id: String? = confirm.withLock { stmt in
            // A registry that cannot be read back here would let an opted-out sample through: report it as a hit
            // with the error, which drops the sample with a reason a person will read.
            do {
                try stmt.bind([fp, kind.rawValue, value])
                return try stmt.step()?.string("request_id")
            } catch {
                return "registry error: \(error)"
            }
        }
        return id.map { OptOutHit(kind: kind, value: value, requestID: $0) }
    }

    /// The entry a URL matches, checked before it is fetched: the URL itself, a prefix of it, its host or a parent
    /// domain, or a hash of the URL string.
    public func match(url: String) -> OptOutHit? {
        guard !isEmpty, has(.url, .urlPrefix, .domain, .urlMD5, .urlSHA1, .urlSHA256) else { return nil }
        if has(.url, .urlPrefix, .domain) {
            guard let n = OptOutURL.normalize(url) else { return nil }
            if has(.url), let h = lookup(.url, n) { return h }
            if has(.domain, .urlPrefix), let host = OptOutURL.hostOfNormalized(n) {
                if has(.domain) {
                    // The host, then each parent domain: a.b.example.com, b.example.com, example.com, com.
                    var d = Substring(host)
                    while true {
                        if let h = lookup(.domain, String(d)) { return h }
                        guard let dot = d.firstIndex(of: ".") else { break }
                        d = d[d.index(after: dot)...]
                    }
                }
                if let list = prefixes[host], let p = list.first(where: { n.hasPrefix($0.prefix) }) {
                    return OptOutHit(kind: .urlPrefix, value: p.prefix, requestID: p.requestID)
                }
            }
        }
        let bytes = Array(url.utf8)
        for (kind, algorithm) in [(EntryKind.urlMD5, DigestAlgorithm.md5), (.urlSHA1, .sha1), (.urlSHA256, .sha256)]
        where has(kind) {
            if let h = lookup(kind, algorithm.hexDigest(bytes)) { return h }
        }
        return nil
    }

    /// The entry an image's hashes match (MD5, SHA-1, SHA-256 of its bytes as fetched, lowercase hex).
    public func match(md5: String?, sha1: String?, sha256: String?) -> OptOutHit? {
        guard !isEmpty else { return nil }
        for (kind, value) in [(EntryKind.sha256, sha256), (.md5, md5), (.sha1, sha1)] where has(kind) {
            if let v = value, let h = lookup(kind, v) { return h }
        }
        return nil
    }

    /// The entry a sample key matches.
    public func match(key: String) -> OptOutHit? {
        guard has(.key) else { return nil }
        return lookup(.key, key)
    }
}
