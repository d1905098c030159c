import Testing
import WinnowCore
import WinnowTensor

@Suite struct HammingKernelTests {
    /// 2,000 hashes of four words, with many near the query.
    static func hashes(_ rng: inout SplitMix64, near query: [UInt64]) -> [UInt64] {
        var words: [UInt64] = []
        for i in 0..<2000 {
            for w in 0..<4 {
                // Every third hash is the query with a few random bits flipped in each word.
                let flips = (0..<Int(rng.next() % 6)).reduce(UInt64(0)) { m, _ in m | 1 << (rng.next() % 64) }
                words.append(i % 3 == 0 ? query[w] ^ flips : rng.next())
            }
        }
        return words
    }

    static func distance(_ all: [UInt64], _ id: Int, _ q: [UInt64]) -> Int {
        (0..<4).reduce(0) { $0 + (all[4 * id + $1] ^ q[$1]).nonzeroBitCount }
    }

    @Test func filterAndNearestAgreeWithAScan() {
        var rng = SplitMix64(seed: 5)
        let query = (0..<4).map { _ in rng.next() }
        let all = Self.hashes(&rng, near: query)
        for radius in [0, 5, 12, 31, 130] {
            var ids = (0..<2000).map { UInt32($0 * 7 % 2000) }
            let order = ids
            var distances = [UInt8](repeating: 0, count: ids.count)
            let kept = all.withUnsafeBufferPointer { h in
                query.withUnsafeBufferPointer { q in
                    HammingKernels.filter(
                        hashes: h.baseAddress!, ids: &ids, count: ids.count, query: q.baseAddress!, radius: radius,
                        distances: &distances)
                }
            }
            let expected = order.filter { Self.distance(all, Int($0), query) <= radius }
            #expect(Array(ids[0..<kept]) == expected, "radius \(radius)")
            #expect(distances[0..<kept].map(Int.init) == expected.map { Self.distance(all, Int($0), query) })
        }
        for range in [0..<2000, 1..<2000, 500..<501, 7..<7] {
            let got = all.withUnsafeBufferPointer { h in
                query.withUnsafeBufferPointer { q in
                    HammingKernels.nearest(hashes: h.baseAddress!, range: range, query: q.baseAddress!)
                }
            }
            let best = range.min { Self.distance(all, $0, query) < Self.distance(all, $1, query) }
            #expect(got?.id == best && got?.distance == best.map { Self.distance(all, $0, query) })
        }
    }

    /// Entries packed 29 bits wide (a 20-bit id, 9 check bits) in three buckets: those whose check bits are within
    /// each bucket's allowance come back, in order.
    @Test func scanBucketsKeepsEntriesWithinTheAllowance() {
        var rng = SplitMix64(seed: 9)
        let width = 29
        let idBits = 20
        let entries = (0..<300).map { i in UInt64(i * 3) | (rng.next() % 512) << UInt64(idBits) }
        var packed = [UInt8](repeating: 0, count: (entries.count * width + 7) / 8 + 8)
        for (slot, entry) in entries.enumerated() {
            for bit in 0..<width where entry >> UInt64(bit) & 1 == 1 {
                let at = slot * width + bit
                packed[at / 8] |= 1 << UInt8(at % 8)
            }
        }
        let check: UInt64 = 0b1_0110_0101
        let starts: [UInt32] = [0, 120, 250]
        let ends: [UInt32] = [100, 120, 300]
        let allowance: [UInt8] = [3, 1, 0]
        var out = [UInt32](repeating: 0, count: entries.count)
        let n = packed.withUnsafeBytes { bytes in
            HammingKernels.scanBuckets(
                packed: bytes.baseAddress!, starts: starts, ends: ends, allowance: allowance, count: 3, width: width,
                idBits: idBits, check: check, out: &out)
        }
        var expected: [UInt32] = []
        for b in 0..<3 {
            for slot in Int(starts[b])..<Int(ends[b])
            where ((entries[slot] >> UInt64(idBits)) ^ check).nonzeroBitCount <= allowance[b] {
                expected.append(UInt32(slot * 3))
            }
        }
        #expect(Array(out[0..<n]) == expected)
        #expect(expected.count > 10)
    }
}
