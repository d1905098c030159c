/// A 256-bit hash as four 64-bit words (bits 0-63 in `a`): PDQ's size.
public struct Hash256: Hashable, Sendable {
    /// Bits 0-63, 64-127, 128-191, 192-255.
    public var a: UInt64, b: UInt64, c: UInt64, d: UInt64

    /// Creates a hash from its four words.
    public init(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) {
        (self.a, self.b, self.c, self.d) = (a, b, c, d)
    }

    /// A hash from 16 16-bit words, word k holding bits 16k to 16k + 15 (PDQ's `words`).
    public init(words: [UInt16]) {
        precondition(words.count == 16, "a 256-bit hash has 16 words")
        var w = [UInt64](repeating: 0, count: 4)
        for k in 0..<16 { w[k / 4] |= UInt64(words[k]) << (16 * UInt64(k % 4)) }
        self.init(w[0], w[1], w[2], w[3])
    }

    /// Bits that differ.
    @inline(__always) public func distance(to o: Hash256) -> Int {
        (a ^ o.a).nonzeroBitCount + (b ^ o.b).nonzeroBitCount + (c ^ o.c).nonzeroBitCount
            + (d ^ o.d).nonzeroBitCount
    }

    /// 16-bit chunk `k` (bits 16k to 16k + 15).
    @inline(__always) func chunk(_ k: Int) -> Int {
        let word = k < 8 ? (k < 4 ? a : b) : (k < 12 ? c : d)
        return Int(truncatingIfNeeded: (word >> UInt64(16 * (k % 4))) & 0xffff)
    }
}

/// Multi-index hashing (Norouzi, Punjani and Fleet, 2012) over 256-bit hashes, for Hamming radius up to 31: the hash
/// is cut into 16 chunks of 16 bits, and each chunk has a table from its 65,536 values to the hashes that have it.
/// Two hashes within distance 31 differ in at most one bit in some chunk (16 chunks share 31 bits), so a query reads
/// 17 buckets a table (its own value and the 16 one-bit neighbours) and checks only those hashes in full.
///
/// Hashes are appended; the tables are rebuilt (a counting sort, linear in the size) when the hashes added since the
/// last build pass a sixteenth of the total, and those are scanned directly until then. Memory: 32 bytes a hash
/// plus 4 bytes per table, 96 bytes in all, plus 4 MiB of bucket offsets. Not thread-safe for writes.
public struct HammingIndex: Sendable {
    /// The largest radius the chunking guarantees to find everything within.
    public static let maxRadius = 31
    private static let chunks = 16
    private var hashes: [Hash256] = []
    /// Per table, bucket b's ids are `ids[t][offsets[t][b] ..< offsets[t][b + 1]]`.
    private var offsets: [[UInt32]] = []
    private var ids: [[UInt32]] = []
    /// Hashes below this id are in the tables.
    private var built = 0

    /// An empty index.
    public init() {}

    /// The number of hashes.
    public var count: Int { hashes.count }

    /// Bytes held by the hashes and tables.
    public var memoryBytes: Int {
        hashes.capacity * MemoryLayout<Hash256>.stride + offsets.reduce(0) { $0 + $1.capacity * 4 }
            + ids.reduce(0) { $0 + $1.capacity * 4 }
    }

    /// The hash with id `id` (ids count from 0 in order of insertion).
    public subscript(id: Int) -> Hash256 { hashes[id] }

    /// Appends `hash`; returns its id.
    @discardableResult
    public mutating func insert(_ hash: Hash256) -> Int {
        precondition(hashes.count < Int(UInt32.max), "more hashes than 32-bit ids")
        hashes.append(hash)
        if hashes.count - built > max(1024, hashes.count / 16) { rebuild() }
        return hashes.count - 1
    }

    /// Appends many hashes and builds the tables once.
    public mutating func insert(contentsOf more: [Hash256]) {
        hashes.append(contentsOf: more)
        rebuild()
    }

    /// Rebuilds the tables over every hash.
    public mutating func rebuild() {
        let n = hashes.count
        var newOffsets: [[UInt32]] = []
        var newIDs: [[UInt32]] = []
        for t in 0..<Self.chunks {
            var counts = [UInt32](repeating: 0, count: 65_537)
            for h in hashes { counts[h.chunk(t) + 1] += 1 }
            for b in 0..<65_536 { counts[b + 1] += counts[b] }
            var next = counts
            var table = [UInt32](repeating: 0, count: n)
            for (i, h) in hashes.enumerated() {
                let b = h.chunk(t)
                table[Int(next[b])] = UInt32(i)
                next[b] += 1
            }
            newOffsets.append(counts)
            newIDs.append(table)
        }
        offsets = newOffsets
        ids = newIDs
        built = n
    }

    /// Every hash within `radius` (at most `maxRadius`) of `query`, with its distance, in id order.
    public func search(_ query: Hash256, radius: Int) -> [(id: Int, distance: Int)] {
        precondition(radius >= 0 && radius <= Self.maxRadius, "radius outside 0...31")
        return matches(query, radius: radius)
    }

    /// The closest hash within `radius` (the lowest id among equals), if any.
    public func nearest(_ query: Hash256, radius: Int) -> (id: Int, distance: Int)? {
        precondition(radius >= 0 && radius <= Self.maxRadius, "radius outside 0...31")
        return matches(query, radius: radius).min {
            $0.distance < $1.distance || ($0.distance == $1.distance && $0.id < $1.id)
        }
    }

    /// Every hash within `radius` of `query`, once each, in id order.
    private func matches(_ query: Hash256, radius: Int) -> [(id: Int, distance: Int)] {
        // A match differs in at most radius / 16 bits in some chunk (one bit at radius 31).
        let perChunk = radius / Self.chunks
        var found: [(id: Int, distance: Int)] = []
        hashes.withUnsafeBufferPointer { all in
            if built > 0 {
                for t in 0..<Self.chunks {
                    let own = query.chunk(t)
                    ids[t].withUnsafeBufferPointer { table in
                        offsets[t].withUnsafeBufferPointer { bounds in
                            for probe in 0...(perChunk >= 1 ? 16 : 0) {
                                let value = probe == 0 ? own : own ^ (1 << (probe - 1))
                                // Loads and popcounts only, no data-dependent branch but the rare match: the
                                // processor keeps many of these cache misses in flight at once.
                                for slot in Int(bounds[value])..<Int(bounds[value + 1]) {
                                    let id = Int(table[slot])
                                    let distance = all[id].distance(to: query)
                                    if distance <= radius { found.append((id, distance)) }
                                }
                            }
                        }
                    }
                }
            }
            for id in built..<all.count {
                let distance = all[id].distance(to: query)
                if distance <= radius { found.append((id, distance)) }
            }
        }
        // A match is reached from every chunk within the allowance: keep one of each.
        found.sort { $0.id < $1.id }
        var unique: [(id: Int, distance: Int)] = []
        for f in found where unique.last?.id != f.id { unique.append(f) }
        return unique
    }
}
