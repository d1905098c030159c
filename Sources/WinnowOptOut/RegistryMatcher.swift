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
    // One set per kind: the few URLs and domains a URL lookup probes sit in small tables that stay in cache,
    // apart from millions of image hashes.
    private let sets: [FingerprintSet]
    private let kinds: Set<EntryKind>
    // Which lookups a URL needs, decided once: the hot path allocates nothing for kinds the registry lacks.
    private let hasURL: Bool, hasDomain: Bool, hasPrefix: Bool, hasURLHash: Bool, hasImageHash: Bool, hasKey: Bool
    /// Bit n set: some domain entry has n labels (`example.com` has 2). A host is probed only at the suffixes with
    /// such a count: most lists hold two- and three-label domains, so most URLs need one or two probes, not one
    /// per label.
    private let domainLabels: UInt64
    /// URL prefixes by the fingerprint of their host.
    private let prefixes: [UInt64: [(prefix: String, requestID: String)]]
    /// The PDQ entries: hash (hex), largest matching distance, request.
    public let pdqEntries: [(hash: String, threshold: Int, requestID: String)]
    private let confirm: Mutex<Statement>
    /// Entries in the registry.
    public let count: Int

    init(registry: Registry, request: String?) throws {
        let db = registry.db
        // One request's entries only (what `optout file` reports it matches), or all of them.
        let scope = request == nil ? "" : " AND request_id = ?1"
        let args: [SQLiteBindable] = request.map { [$0] } ?? []
        var kinds = Set<EntryKind>()
        for r in try db.query("SELECT DISTINCT kind FROM entries WHERE 1\(scope)", args) {
            if let k = EntryKind(rawValue: r.string("kind") ?? "") { kinds.insert(k) }
        }
        self.kinds = kinds
        hasURL = kinds.contains(.url)
        hasDomain = kinds.contains(.domain)
        hasPrefix = kinds.contains(.urlPrefix)
        hasURLHash = !kinds.isDisjoint(with: [.urlMD5, .urlSHA1, .urlSHA256])
        hasImageHash = !kinds.isDisjoint(with: [.md5, .sha1, .sha256])
        hasKey = kinds.contains(.key)
        let total = Int(try db.query("SELECT count(*) AS n FROM entries WHERE 1\(scope)", args)[0].int("n") ?? 0)
        count = total
        var counts = [Int](repeating: 0, count: EntryKind.allCases.count)
        for r in try db.query("SELECT kind, count(*) AS n FROM entries WHERE 1\(scope) GROUP BY kind", args) {
            if let k = EntryKind(rawValue: r.string("kind") ?? "") { counts[k.ordinal] = Int(r.int("n") ?? 0) }
        }
        var sets = counts.map { FingerprintSet(capacity: $0) }
        let ordinalSQL =
            "CASE kind "
            + EntryKind.allCases.map { "WHEN '\($0.rawValue)' THEN \($0.ordinal)" }.joined(separator: " ")
            + " ELSE -1 END"
        try db.prepare(
            "SELECT fingerprint, \(ordinalSQL) FROM entries WHERE kind NOT IN ('url_prefix', 'pdq')\(scope)"
        )
        .forEachInt64Pair(args) { fp, kind in
            if kind >= 0 { sets[Int(kind)].insert(UInt64(bitPattern: fp)) }
        }
        self.sets = sets
        var prefixes: [UInt64: [(prefix: String, requestID: String)]] = [:]
        var pdq: [(hash: String, threshold: Int, requestID: String)] = []
        for r in try db.query(
            "SELECT kind, value, request_id, threshold FROM entries WHERE kind IN ('url_prefix', 'pdq')\(scope)", args)
        {
            let value = r.string("value") ?? ""
            let id = r.string("request_id") ?? ""
            if r.string("kind") == "pdq" {
                pdq.append((value, Int(r.int("threshold") ?? 31), id))
            } else if let host = OptOutURL.hostOfNormalized(value) {
                prefixes[EntryKind.urlPrefix.fingerprint(host), default: []].append((value, id))
            }
        }
        self.prefixes = prefixes
        pdqEntries = pdq
        var labels: UInt64 = 0
        if hasDomain {
            // Labels = dots + 1, counted by SQLite over the domain entries.
            for r in try db.query(
                "SELECT DISTINCT length(value) - length(replace(value, '.', '')) + 1 AS n FROM entries WHERE kind = 'domain'\(scope)",
                args)
            {
                labels |= 1 << UInt64(min(63, max(1, Int(r.int("n") ?? 1))))
            }
        }
        domainLabels = labels
        // A connection of its own (read-only), so that lookups from other threads never share the registry's.
        let own = try Connection(path: registry.path, readOnly: true)
        confirm = Mutex(
            try own.prepare(
                "SELECT request_id FROM entries WHERE fingerprint = ?1 AND kind = ?2 AND value = ?3"
                    + (request.map { " AND request_id = '\($0.replacingOccurrences(of: "'", with: "''"))'" } ?? "")
                    + " ORDER BY rowid LIMIT 1"
            ))
    }

    /// The exact entry of this kind and value, if filed.
    public func lookup(_ kind: EntryKind, _ value: String) -> OptOutHit? {
        guard sets[kind.ordinal].contains(kind.fingerprint(value)) else { return nil }
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
        guard hasURL || hasDomain || hasPrefix || hasURLHash else { return nil }
        var n = url
        // Most URLs are in normal form already: their own bytes are probed, with no new string.
        if !n.withUTF8({ OptOutURL.isNormalized($0) }) { n = OptOutURL.normalize(url) ?? "" }
        if hasURL || hasDomain || hasPrefix, !n.isEmpty {
            // Fingerprints of the URL and of each domain suffix of its host, on the bytes; a String is made only
            // to confirm a probe that hit.
            var hit: (EntryKind, Int, Int)?
            let urls = sets[EntryKind.url.ordinal]
            let domains = sets[EntryKind.domain.ordinal]
            n.withUTF8 { b in
                let raw = UnsafeRawBufferPointer(b)
                if hasURL, urls.contains(EntryKind.url.fingerprint(bytes: raw)) {
                    hit = (.url, 0, b.count)
                    return
                }
                guard hasDomain || hasPrefix, let (start, end) = OptOutURL.hostRange(b) else { return }
                if hasDomain {
                    var s = start
                    var labels = 1
                    for i in start..<end where b[i] == UInt8(ascii: ".") { labels += 1 }
                    while s < end {
                        if domainLabels & (1 << UInt64(min(63, labels))) != 0,
                            domains.contains(
                                EntryKind.domain.fingerprint(bytes: UnsafeRawBufferPointer(rebasing: raw[s..<end])))
                        {
                            hit = (.domain, s, end)
                            return
                        }
                        while s < end && b[s] != UInt8(ascii: ".") { s += 1 }
                        s += 1
                        labels -= 1
                    }
                }
                if hasPrefix,
                    prefixes[EntryKind.urlPrefix.fingerprint(bytes: UnsafeRawBufferPointer(rebasing: raw[start..<end]))]
                        != nil
                {
                    hit = (.urlPrefix, start, end)
                }
            }
            if let (kind, lo, hi) = hit {
                let u = n.utf8
                let value = String(
                    Substring(u[u.index(u.startIndex, offsetBy: lo)..<u.index(u.startIndex, offsetBy: hi)]))
                if kind == .urlPrefix {
                    if let p = prefixes[EntryKind.urlPrefix.fingerprint(value)]?.first(where: { n.hasPrefix($0.prefix) }
                    ) {
                        return OptOutHit(kind: .urlPrefix, value: p.prefix, requestID: p.requestID)
                    }
                } else if let h = confirmed(kind, value) ?? slowMatch(normalized: n) {
                    // Unconfirmed: a fingerprint collision, after which the checks it cut short run one by one.
                    return h
                }
            }
        }
        guard hasURLHash else { return nil }
        let bytes = Array(url.utf8)
        for (kind, algorithm) in [(EntryKind.urlMD5, DigestAlgorithm.md5), (.urlSHA1, .sha1), (.urlSHA256, .sha256)]
        where kinds.contains(kind) {
            if let h = lookup(kind, algorithm.hexDigest(bytes)) { return h }
        }
        return nil
    }

    /// Every check of `match(url:)` one by one with Strings: taken only after a probe hit that did not confirm.
    private func slowMatch(normalized n: String) -> OptOutHit? {
        if hasURL, let h = lookup(.url, n) { return h }
        guard let host = OptOutURL.hostOfNormalized(n) else { return nil }
        if hasDomain {
            var d = Substring(host)
            while true {
                if let h = lookup(.domain, String(d)) { return h }
                guard let dot = d.firstIndex(of: ".") else { break }
                d = d[d.index(after: dot)...]
            }
        }
        if hasPrefix, let p = prefixes[EntryKind.urlPrefix.fingerprint(host)]?.first(where: { n.hasPrefix($0.prefix) })
        {
            return OptOutHit(kind: .urlPrefix, value: p.prefix, requestID: p.requestID)
        }
        return nil
    }

    /// The entry an image's hashes match (MD5, SHA-1, SHA-256 of its bytes as fetched, lowercase hex).
    public func match(md5: String?, sha1: String?, sha256: String?) -> OptOutHit? {
        guard hasImageHash else { return nil }
        if let v = sha256, kinds.contains(.sha256), let h = lookup(.sha256, v) { return h }
        if let v = md5, kinds.contains(.md5), let h = lookup(.md5, v) { return h }
        if let v = sha1, kinds.contains(.sha1), let h = lookup(.sha1, v) { return h }
        return nil
    }

    /// The entry a sample key matches.
    public func match(key: String) -> OptOutHit? {
        guard hasKey else { return nil }
        return lookup(.key, key)
    }
}
