import Testing
import WinnowCore

@testable import WinnowTensor

struct EmbeddingMatrixTests {
    func randomRows(_ n: Int, _ d: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<(n * d)).map { _ in Float(rng.next() % 20001) / 10000 - 1 }
    }

    /// The reference: widen each half exactly (Swift's Float16) and sum in Double.
    func reference(_ rows: [Float], _ q: [Float], half: Bool) -> [Double] {
        let d = q.count
        return (0..<(rows.count / d)).map { i in
            (0..<d).reduce(0.0) { s, j in
                let v = half ? Float(Float16(rows[i * d + j])) : rows[i * d + j]
                return s + Double(v) * Double(q[j])
            }
        }
    }

    @Test(arguments: [true, false]) func scanMatchesTheReferenceAndRanksTheBest(half: Bool) {
        // 515 wide: the vector loop and its scalar tail both run; 9,001 rows: split over threads unevenly.
        let d = 515
        let n = 9001
        let rows = randomRows(n, d, seed: 3)
        let q = randomRows(1, d, seed: 4)
        var m = EmbeddingMatrix(dimension: d, half: half)
        m.append(Array(rows[0..<(5000 * d)]))
        m.append(Array(rows[(5000 * d)...]))
        #expect(m.count == n)
        let ref = reference(rows, q, half: half)
        let found = m.nearest(q, k: 10, threads: 3)
        let expected = ref.enumerated().sorted { $0.element > $1.element }.prefix(10)
        #expect(found.map(\.row) == expected.map(\.offset))
        for (f, e) in zip(found, expected) { #expect(abs(Double(f.score) - e.element) < 1e-3) }
        // All scores, through k = n.
        let all = m.nearest(q, k: n, threads: 2)
        #expect(all.count == n)
        #expect(all.allSatisfy { abs(Double($0.score) - ref[$0.row]) < 1e-3 })
    }

    @Test func halfRowsFromRawBytesAreReadLittleEndian() {
        var m = EmbeddingMatrix(dimension: 2, half: true)
        let bits: [UInt16] = [Float16(0.5).bitPattern, Float16(-2).bitPattern, Float16(1).bitPattern, 0]
        let bytes = bits.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        bytes.withUnsafeBytes { m.appendHalf($0) }
        let r = m.nearest([1, 1], k: 2)
        #expect(r.map(\.row) == [1, 0])
        #expect(r.map(\.score) == [1, -1.5])
    }

    @Test func topKeepsTheLowerIndexOnTies() {
        #expect(EmbeddingMatrix.top([1, 3, 3, 2], k: 2).map(\.row) == [1, 2])
        #expect(EmbeddingMatrix.top([], k: 2).isEmpty)
    }
}
