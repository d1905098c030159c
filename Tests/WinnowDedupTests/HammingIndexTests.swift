import Testing
import WinnowCore

@testable import WinnowDedup

/// Repeatable random hashes.
struct Random {
    var generator: SplitMix64
    init(state: UInt64) { generator = SplitMix64(seed: state) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func hash() -> Hash256 { Hash256(next(), next(), next(), next()) }
    /// `h` with `n` distinct random bits flipped.
    mutating func flip(_ h: Hash256, _ n: Int) -> Hash256 {
        var words = [h.a, h.b, h.c, h.d]
        var bits = Set<Int>()
        while bits.count < n { bits.insert(Int(next() % 256)) }
        for bit in bits { words[bit / 64] ^= 1 << UInt64(bit % 64) }
        return Hash256(words[0], words[1], words[2], words[3])
    }
}

@Suite struct HammingIndexTests {
    /// Against a full scan, for radii where a chunk may differ in no bit (0-15) or in one (16-31), with hashes both
    /// in the tables and appended since.
    @Test func findsExactlyWhatAScanFinds() {
        var rng = Random(state: 1)
        var index = HammingIndex()
        var all: [Hash256] = []
        let bases = (0..<300).map { _ in rng.hash() }
        // Each base with neighbours at many distances, some past 31.
        for base in bases {
            for d in [0, 1, 2, 7, 15, 16, 17, 24, 30, 31, 32, 40] {
                all.append(d == 0 ? base : rng.flip(base, d))
            }
        }
        index.insert(contentsOf: Array(all.prefix(3000)))
        for h in all.dropFirst(3000) { index.insert(h) }
        #expect(index.count == all.count)
        for radius in [0, 5, 15, 16, 23, 31] {
            for q in 0..<40 {
                let query = q % 2 == 0 ? rng.flip(bases[q], Int(rng.next() % 20)) : rng.hash()
                let expected = all.enumerated().compactMap { i, h in
                    h.distance(to: query) <= radius ? (i, h.distance(to: query)) : nil
                }
                let got = index.search(query, radius: radius)
                #expect(got.map(\.id) == expected.map(\.0), "radius \(radius), query \(q)")
                #expect(got.map(\.distance) == expected.map(\.1))
                let nearest = index.nearest(query, radius: radius)
                let best = expected.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
                #expect(nearest?.id == best?.0 && nearest?.distance == best?.1)
            }
        }
    }

    /// The cuts a large index gets (wide directories, ids that leave few or no check bits, or no directory at all),
    /// forced on a few thousand hashes, still find exactly what a scan finds.
    @Test(arguments: [
        HammingIndex.Layout(directoryBits: 16, idBits: 28, checkBits: 2),
        HammingIndex.Layout(directoryBits: 19, idBits: 24, checkBits: 6),
        HammingIndex.Layout(directoryBits: 12, idBits: 32, checkBits: 0),
        HammingIndex.Layout(directoryBits: 0, idBits: 13, checkBits: 17),
        HammingIndex.Layout(directoryBits: 2, idBits: 13, checkBits: 30),
    ])
    func largeIndexLayoutsFindWhatAScanFinds(layout: HammingIndex.Layout) {
        var rng = Random(state: 2)
        var index = HammingIndex(layout: layout)
        var all: [Hash256] = []
        let bases = (0..<200).map { _ in rng.hash() }
        for base in bases {
            for d in [0, 3, 8, 16, 24, 29, 31, 33] { all.append(d == 0 ? base : rng.flip(base, d)) }
        }
        index.insert(contentsOf: all)
        for radius in [0, 7, 8, 15, 16, 24, 31] {
            for q in 0..<30 {
                let query = q % 3 == 2 ? rng.hash() : rng.flip(bases[q], Int(rng.next() % 8))
                let expected = all.indices.filter { all[$0].distance(to: query) <= radius }
                #expect(index.search(query, radius: radius).map(\.id) == expected, "radius \(radius), query \(q)")
            }
        }
    }

    /// An empty index, and a query whose buckets are all empty, find nothing; the one hash is found from itself.
    @Test func queriesWithNothingInReach() {
        var index = HammingIndex()
        #expect(index.search(Hash256(0, 0, 0, 0), radius: 31).isEmpty)
        index.insert(contentsOf: [Hash256(0, 0, 0, 0)])
        let far = Hash256(~0, ~0, ~0, ~0)
        #expect(index.search(far, radius: 31).isEmpty)
        // Every bucket a far query reads is empty.
        var wide = HammingIndex(layout: .init(directoryBits: 8, idBits: 4, checkBits: 8))
        wide.insert(contentsOf: [Hash256(0, 0, 0, 0)])
        #expect(wide.search(far, radius: 31).isEmpty)
        #expect(wide.search(Hash256(0, 0, 0, 0), radius: 31).map(\.id) == [0])
        #expect(index.nearest(Hash256(1, 0, 0, 0), radius: 0) == nil)
        #expect(index.nearest(Hash256(1, 0, 0, 0), radius: 1)?.distance == 1)
    }

    /// The layout chosen for the size keeps the index within 64 bytes a hash (the hash itself is 32).
    @Test func staysWithin64BytesAHash() {
        var rng = Random(state: 3)
        for n in [5_000, 70_000, 131_073] {
            var index = HammingIndex()
            index.insert(contentsOf: (0..<n).map { _ in rng.hash() })
            #expect(index.memoryBytes <= 64 * n, "\(n) hashes: \(index.memoryBytes) bytes")
        }
    }

    @Test func pdqWordsMapToBits() {
        var words = [UInt16](repeating: 0, count: 16)
        words[0] = 1
        words[5] = 0x8000
        words[15] = 0x0100
        let h = Hash256(words: words)
        #expect(h.a == 1 && h.b == 0x8000 << 16 && h.c == 0 && h.d == 0x0100 << 48)
        #expect(h.distance(to: Hash256(0, 0, 0, 0)) == 3)
    }
}
