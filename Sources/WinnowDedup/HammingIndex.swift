import WinnowTensor

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

    /// 32-bit chunk `k` (bits 32k to 32k + 31).
    @inline(__always) func chunk32(_ k: Int) -> UInt32 {
        let word = k < 4 ? (k < 2 ? a : b) : (k < 6 ? c : d)
        return UInt32(truncatingIfNeeded: word >> UInt64(32 * (k % 2)))
    }
}

/// Multi-index hashing (Norouzi, Punjani and Fleet, 2012) over 256-bit hashes, for Hamming radius up to 31: the hash
/// is cut into 8 chunks of 32 bits. Two hashes within distance r differ in at most r / 8 bits (3 at radius 31) in some
/// chunk, so a query looks, in each chunk's table, at the entries whose chunk is that close to its own.
///
/// A table sorts the hashes by their chunk's top `directoryBits` bits (buckets of 16-32 hashes, found through an
/// array of offsets) and stores, per hash, a bit-packed entry: its id and the chunk's next `checkBits` bits. A query
/// reads the buckets whose top bits differ from its own in at most 3 bits (1,160 of them at 10M hashes), drops the
/// entries whose check bits already differ too much, and compares the rest with the query in full (the scans are C
/// kernels in WinnowTensor: POPCNT and prefetching). Memory: 32 bytes a hash, 29 bits of entry per table (8 tables:
/// 29 bytes) and the offsets (1-2 bytes), 63 bytes at most up to 2^29 hashes (ids wider than 29 bits widen the
/// entries); 62.7 at 10M hashes, where a query takes one to two milliseconds.
///
/// Hashes are appended; the tables are rebuilt (a counting sort, linear in the size) when the hashes added since the
/// last build pass a sixteenth of the total, and those are scanned directly until then. Not thread-safe for writes.
public struct HammingIndex: Sendable {
    /// The largest radius the chunking guarantees to find everything within.
    public static let maxRadius = 31
    private static let tables = 8
    /// Bits of an entry: the id, and check bits in the rest. 8 tables of 29 bits keep a hash within 64 bytes with
    /// the offsets (up to 2 bytes a hash) and the hash itself (32).
    private static let entryBits = 29

    /// How the tables are cut, fixed at each build from the number of hashes.
    struct Layout: Equatable, Sendable, CustomStringConvertible {
        /// Top bits of a chunk that pick its bucket.
        var directoryBits: Int
        /// Bits of an entry that hold the id.
        var idBits: Int
        /// Bits of the chunk after the directory's, kept in the entry to filter before reading the hash.
        var checkBits: Int
        /// Bits of an entry (id and check bits).
        var width: Int { idBits + checkBits }
        var description: String { "\(directoryBits) directory, \(idBits) id, \(checkBits) check bits" }

        /// The layout for `count` hashes: buckets of 16-32 on average, ids as wide as needed, the rest check bits.
        init(count: Int) {
            let log = count > 1 ? Int.bitWidth - (count - 1).leadingZeroBitCount : 1
            directoryBits = min(24, max(0, log - 5))
            idBits = max(1, log)
            checkBits = max(0, min(HammingIndex.entryBits - idBits, 32 - directoryBits))
        }

        /// A layout given outright (tests use it to reach the large-index cases with few hashes).
        init(directoryBits: Int, idBits: Int, checkBits: Int) {
            (self.directoryBits, self.idBits, self.checkBits) = (directoryBits, idBits, checkBits)
        }
    }

    private var hashes: [Hash256] = []
    private var layout = Layout(count: 0)
    /// A fixed layout, for tests; nil chooses one from the number of hashes at each build.
    private var fixedLayout: Layout?
    /// Per table, bucket b's entries are entries `offsets[t][b] ..< offsets[t][b + 1]` of `packed[t]`.
    private var offsets: [[UInt32]] = []
    /// Per table, the entries, `layout.width` bits each from bit 0, with 8 bytes of padding for unaligned loads.
    private var packed: [[UInt8]] = []
    /// Hashes below this id are in the tables.
    private var built = 0
    /// For each allowance 0...3, the buckets a query reads around its own (`Self.buckets`), fixed with the layout.
    private var probes: [[(flips: Int, left: UInt8)]] = []

    /// An empty index.
    public init() {}

    /// An empty index whose tables are always cut as `layout` says (for tests).
    init(layout: Layout) { fixedLayout = layout }

    /// The number of hashes.
    public var count: Int { hashes.count }

    /// Bytes held by the hashes and tables.
    public var memoryBytes: Int {
        hashes.capacity * MemoryLayout<Hash256>.stride + offsets.reduce(0) { $0 + $1.capacity * 4 }
            + packed.reduce(0) { $0 + $1.capacity }
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
        precondition(hashes.count + more.count < Int(UInt32.max), "more hashes than 32-bit ids")
        hashes.append(contentsOf: more)
        rebuild()
    }

    /// Rebuilds the tables over every hash.
    public mutating func rebuild() {
        let n = hashes.count
        let layout = fixedLayout ?? Layout(count: n)
        precondition(n <= 1 << layout.idBits, "ids wider than the layout's")
        let width = layout.width
        let bucketShift = 32 - layout.directoryBits
        let checkShift = bucketShift - layout.checkBits
        let checkMask = (UInt64(1) << UInt64(layout.checkBits)) - 1
        let buckets = 1 << layout.directoryBits
        var newOffsets: [[UInt32]] = []
        var newPacked: [[UInt8]] = []
        // The old tables are released first, so a rebuild never holds two generations of them.
        offsets = []
        packed = []
        hashes.withUnsafeBufferPointer { all in
            for t in 0..<Self.tables {
                var counts = [UInt32](repeating: 0, count: buckets + 1)
                var table = [UInt8](repeating: 0, count: (n * width + 7) / 8 + 8)
                counts.withUnsafeMutableBufferPointer { counts in
                    for h in all { counts[Int(h.chunk32(t) >> UInt32(bucketShift)) + 1] += 1 }
                    for b in 0..<buckets { counts[b + 1] += counts[b] }
                    var next = Array(counts)
                    table.withUnsafeMutableBytes { bytes in
                        next.withUnsafeMutableBufferPointer { next in
                            for (id, h) in all.enumerated() {
                                let chunk = h.chunk32(t)
                                let bucket = Int(chunk >> UInt32(bucketShift))
                                let slot = Int(next[bucket])
                                next[bucket] += 1
                                let check = (UInt64(chunk) >> UInt64(checkShift)) & checkMask
                                let entry = UInt64(id) | check << UInt64(layout.idBits)
                                let bit = slot * width
                                let at = bit >> 3
                                let word = bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                                bytes.storeBytes(of: word | entry << UInt64(bit & 7), toByteOffset: at, as: UInt64.self)
                            }
                        }
                    }
                }
                newOffsets.append(counts)
                newPacked.append(table)
            }
        }
        offsets = newOffsets
        packed = newPacked
        self.layout = layout
        probes = (0...Self.maxRadius / Self.tables).map {
            Self.buckets(directoryBits: layout.directoryBits, allowance: $0)
        }
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
    ///
    /// In three passes, each a loop of independent loads (so the processor keeps many cache misses in flight): the
    /// bucket bounds of every table, then the entries of those buckets (ids that pass the check bits), then the
    /// candidates' hashes, compared in full.
    private func matches(_ query: Hash256, radius: Int) -> [(id: Int, distance: Int)] {
        // A match differs in at most radius / 8 bits in some chunk (three at radius 31).
        let allowance = radius / Self.tables
        let layout = self.layout
        let bucketShift = 32 - layout.directoryBits
        let masks = built > 0 ? probes[allowance] : []
        let perTable = masks.count
        var starts = [UInt32](repeating: 0, count: perTable * Self.tables)
        var ends = starts
        let left = masks.map(\.left)
        var total = 0
        for t in 0..<Self.tables where built > 0 {
            let own = Int(query.chunk32(t) >> UInt32(bucketShift))
            offsets[t].withUnsafeBufferPointer { bounds in
                for (m, mask) in masks.enumerated() {
                    let b = own ^ mask.flips
                    starts[t * perTable + m] = bounds[b]
                    ends[t * perTable + m] = bounds[b + 1]
                    total += Int(bounds[b + 1] - bounds[b])
                }
            }
        }
        let checkShift = UInt64(bucketShift - layout.checkBits)
        let checkMask = (UInt64(1) << UInt64(layout.checkBits)) - 1
        // Nothing in reach: no buffers to set up (an empty one need not have an address to hand the kernels).
        guard total + count - built > 0 else { return [] }
        // Not zeroed first: only the first n are ever read.
        var candidates = [UInt32](unsafeUninitializedCapacity: total + count - built) { out, initialized in
            var n = 0
            starts.withUnsafeBufferPointer { starts in
                ends.withUnsafeBufferPointer { ends in
                    left.withUnsafeBufferPointer { left in
                        for t in 0..<Self.tables where built > 0 {
                            n += packed[t].withUnsafeBytes { bytes in
                                HammingKernels.scanBuckets(
                                    packed: bytes.baseAddress!, starts: starts.baseAddress! + t * perTable,
                                    ends: ends.baseAddress! + t * perTable, allowance: left.baseAddress!,
                                    count: perTable, width: layout.width, idBits: layout.idBits,
                                    check: (UInt64(query.chunk32(t)) >> checkShift) & checkMask,
                                    out: out.baseAddress! + n)
                            }
                        }
                    }
                }
            }
            // Hashes added since the last build: compared directly.
            for id in built..<count {
                out[n] = UInt32(id)
                n += 1
            }
            initialized = n
        }
        let n = candidates.count
        guard n > 0 else { return [] }
        var distances = [UInt8](repeating: 0, count: n)
        let words = [query.a, query.b, query.c, query.d]
        let kept = hashes.withUnsafeBytes { all in
            candidates.withUnsafeMutableBufferPointer { ids in
                distances.withUnsafeMutableBufferPointer { distances in
                    words.withUnsafeBufferPointer { words in
                        HammingKernels.filter(
                            hashes: all.baseAddress!.assumingMemoryBound(to: UInt64.self), ids: ids.baseAddress!,
                            count: n, query: words.baseAddress!, radius: radius, distances: distances.baseAddress!)
                    }
                }
            }
        }
        // A match is reached from every chunk within the allowance: keep one of each.
        var found = (0..<kept).map { (id: Int(candidates[$0]), distance: Int(distances[$0])) }
        found.sort { $0.id < $1.id }
        var unique: [(id: Int, distance: Int)] = []
        unique.reserveCapacity(found.count)
        for f in found where unique.last?.id != f.id { unique.append(f) }
        return unique
    }

    /// The buckets to read around a chunk's own: the masks of up to `allowance` (at most 3) of `directoryBits` bits,
    /// each with the bits its entries' check bits may still differ in (`allowance` less the bits the mask flips).
    private static func buckets(directoryBits: Int, allowance: Int) -> [(flips: Int, left: UInt8)] {
        func probe(_ flips: Int, _ count: Int) -> (flips: Int, left: UInt8) { (flips, UInt8(allowance - count)) }
        var masks = [probe(0, 0)]
        guard allowance >= 1 else { return masks }
        for i in 0..<directoryBits {
            masks.append(probe(1 << i, 1))
            guard allowance >= 2 else { continue }
            for j in 0..<i {
                masks.append(probe(1 << i | 1 << j, 2))
                guard allowance >= 3 else { continue }
                for k in 0..<j { masks.append(probe(1 << i | 1 << j | 1 << k, 3)) }
            }
        }
        return masks
    }
}
