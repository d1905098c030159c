import WinnowCore

/// What a registry entry names.
public enum EntryKind: String, CaseIterable, Sendable, Codable {
    /// One URL (compared in `OptOutURL` form).
    case url
    /// Every URL that starts with this (in `OptOutURL` form).
    case urlPrefix = "url_prefix"
    /// A host and its subdomains.
    case domain
    /// MD5 / SHA-1 / SHA-256 of a URL string, as hash lists give them (lowercase hex).
    case urlMD5 = "url_md5", urlSHA1 = "url_sha1", urlSHA256 = "url_sha256"
    /// MD5 / SHA-1 / SHA-256 of an image's bytes as fetched (lowercase hex).
    case md5, sha1, sha256
    /// A PDQ hash (64 hex digits); matches within the entry's threshold.
    case pdq
    /// A sample key: one (url, caption) pair, in any run.
    case key

    /// The kind's place in `allCases`. New kinds go at the end: the seeds below derive from it and fingerprints
    /// are stored in registries.
    var ordinal: Int { EntryKind.allCases.firstIndex(of: self) ?? 0 }

    /// The seed that keeps fingerprints of different kinds apart.
    var seed: UInt64 { UInt64(ordinal + 1) &* 0x9e37_79b9_7f4a_7c15 }

    /// The 64-bit fingerprint of a (normalised) value of this kind.
    public func fingerprint(_ value: String) -> UInt64 {
        var v = value
        return v.withUTF8 { fingerprint(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The fingerprint of a value given as UTF-8 bytes (no String is made: the URL lookups' hot path).
    @inline(__always) func fingerprint(bytes: UnsafeRawBufferPointer) -> UInt64 { Murmur3.hash64(bytes, seed: seed) }

    /// Hash kinds: the hex length each takes.
    var hexLength: Int? {
        switch self {
        case .urlMD5, .md5: 32
        case .urlSHA1, .sha1: 40
        case .urlSHA256, .sha256, .pdq: 64
        default: nil
        }
    }
}

/// A set of 64-bit fingerprints: open addressing with linear probing in a power-of-two table at most 2/3 full, so
/// that a lookup is one cache miss (plus a rare neighbour). Zero marks an empty slot, so 0 is stored as 1.
public struct FingerprintSet: Sendable {
    private var slots: [UInt64]
    private var mask: Int
    /// Fingerprints stored.
    public private(set) var count = 0

    /// An empty set sized for `capacity` fingerprints.
    public init(capacity: Int = 0) {
        var n = 16
        while n < capacity + capacity / 2 + 1 { n <<= 1 }
        slots = [UInt64](repeating: 0, count: n)
        mask = n - 1
    }

    @inline(__always) private static func slot(_ f: UInt64) -> UInt64 { f == 0 ? 1 : f }

    @inline(__always) private func start(_ f: UInt64) -> Int {
        // The fingerprints are hash outputs already; mixing once more guards against structured ones.
        Int(truncatingIfNeeded: (f &* 0x9e37_79b9_7f4a_7c15) >> 20) & mask
    }

    /// Adds a fingerprint.
    public mutating func insert(_ fingerprint: UInt64) {
        if (count + 1) * 3 > slots.count * 2 { grow() }
        let f = FingerprintSet.slot(fingerprint)
        var i = start(f)
        while true {
            let s = slots[i]
            if s == f { return }
            if s == 0 {
                slots[i] = f
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    /// Whether the fingerprint is in the set.
    @inline(__always) public func contains(_ fingerprint: UInt64) -> Bool {
        let f = FingerprintSet.slot(fingerprint)
        return slots.withUnsafeBufferPointer { p in
            var i = start(f)
            while true {
                let s = p[i]
                if s == f { return true }
                if s == 0 { return false }
                i = (i + 1) & mask
            }
        }
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        count = 0
        for s in old where s != 0 { insert(s) }
    }
}
