import Testing
import WinnowDedup

@Suite struct SemanticDedupTests {
    /// 3,000 random directions, 300 of them with a near-copy (cosine about 0.995) and 300 with a related vector
    /// (cosine about 0.85): the near-copies are found, one of each pair is kept, and nothing else is flagged.
    @Test func findsNearCopiesAndNothingElse() {
        var rng = Random(state: 3)
        let d = 32
        func gaussian() -> Float {
            // Sum of uniforms: close enough to normal for random directions.
            var s: Float = 0
            for _ in 0..<6 { s += Float(rng.next() % 10_000) / 10_000 }
            return s - 3
        }
        func unit(_ v: [Float]) -> [Float] {
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / n }
        }
        var rows: [[Float]] = (0..<3000).map { _ in unit((0..<d).map { _ in gaussian() }) }
        var pairs: [(Int, Int)] = []
        for i in 0..<300 {
            let noise = (0..<d).map { _ in gaussian() * 0.06 }
            rows.append(unit(zip(rows[i], noise).map { $0 + $1 }))
            pairs.append((i, rows.count - 1))
        }
        for i in 300..<600 {
            let noise = (0..<d).map { _ in gaussian() * 0.45 }
            rows.append(unit(zip(rows[i], noise).map { $0 + $1 }))
        }
        let flat = rows.flatMap { $0 }
        let out = SemanticDedup(epsilon: 0.05, clusters: 40).run(flat, count: rows.count, dimension: d)
        #expect(out.count == rows.count)
        var found = 0
        for (a, b) in pairs {
            if out[a].duplicateOf == b || out[b].duplicateOf == a { found += 1 }
            #expect(!(out[a].duplicateOf != nil && out[b].duplicateOf != nil), "one of each pair is kept")
        }
        #expect(found >= 285, "found \(found) of 300 planted pairs")
        let flagged = out.enumerated().filter { $0.element.duplicateOf != nil }
        #expect(flagged.count == found, "no pair but the planted ones is flagged")
        for (_, o) in flagged {
            #expect(
                (o.similarity ?? 0) >= 0.95 && out[o.duplicateOf!].duplicateOf == nil
                    && o.cluster == out[o.duplicateOf!].cluster)
        }
    }

    @Test func smallInputs() {
        #expect(SemanticDedup().run([], count: 0, dimension: 4).isEmpty)
        let one = SemanticDedup().run([1, 0, 0, 0], count: 1, dimension: 4)
        #expect(one.count == 1 && one[0].cluster == 0 && one[0].duplicateOf == nil)
        let same = SemanticDedup().run([1, 0, 0, 0, 1, 0, 0, 0], count: 2, dimension: 4)
        #expect(same[1].duplicateOf == 0 || same[0].duplicateOf == 1)
    }
}
