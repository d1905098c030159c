import WinnowCore
import WinnowTensor

/// SemDeDup (Abbas et al., 2023): spherical k-means over unit-length image embeddings, then within each cluster
/// every pair with cosine at least `1 - epsilon` is a duplicate pair, and of each group the member least similar to
/// its cluster's centroid is kept (the paper's choice: the least prototypical example carries the most information).
/// Distances are matrix products on OpenBLAS.
public struct SemanticDedup: Sendable {
    /// What happened to one embedding.
    public struct Outcome: Sendable, Equatable {
        /// Its k-means cluster.
        public var cluster: Int
        /// For a duplicate: the row it duplicates (kept), and their cosine.
        public var duplicateOf: Int?
        /// Cosine to `duplicateOf`.
        public var similarity: Float?
    }

    /// Pairs at cosine `1 - epsilon` or more are duplicates.
    public var epsilon: Float
    /// Number of clusters (0: about the square root of the number of embeddings).
    public var clusters: Int
    /// k-means iterations.
    public var iterations: Int
    /// The centroids are trained on at most this many embeddings (a uniform sample); all are then assigned.
    public var trainingSample: Int
    /// Seed of the sample and the initial centroids.
    public var seed: UInt64

    /// SemDeDup's defaults as the issue and the paper use them, scaled for one machine.
    public init(
        epsilon: Float = 0.05, clusters: Int = 0, iterations: Int = 20, trainingSample: Int = 200_000, seed: UInt64 = 1
    ) {
        self.epsilon = epsilon
        self.clusters = clusters
        self.iterations = iterations
        self.trainingSample = trainingSample
        self.seed = seed
    }

    /// Runs on `count` unit-length rows of `dimension` floats (row `i` at `i * dimension`).
    public func run(_ rows: [Float], count: Int, dimension d: Int) -> [Outcome] {
        precondition(rows.count == count * d, "rows do not match count x dimension")
        guard count > 0 else { return [] }
        var rng = SplitMix64(seed: seed)
        let k = max(1, min(count, clusters > 0 ? clusters : Int(Double(count).squareRoot().rounded())))
        // Training sample and initial centroids: distinct random rows.
        var sampleRows = Array(0..<count)
        if count > trainingSample {
            for i in 0..<trainingSample {
                let j = i + Int(rng.next() % UInt64(count - i))
                sampleRows.swapAt(i, j)
            }
            sampleRows = Array(sampleRows.prefix(trainingSample)).sorted()
        }
        let m = sampleRows.count
        var sample = [Float](repeating: 0, count: m * d)
        for (i, r) in sampleRows.enumerated() {
            for j in 0..<d { sample[i * d + j] = rows[r * d + j] }
        }
        var order = Array(0..<m)
        for i in 0..<k {
            let j = i + Int(rng.next() % UInt64(m - i))
            order.swapAt(i, j)
        }
        var centroids = [Float](repeating: 0, count: k * d)
        for c in 0..<k { for j in 0..<d { centroids[c * d + j] = sample[order[c] * d + j] } }
        for _ in 0..<iterations {
            let labels = assign(sample, count: m, dimension: d, centroids: centroids, k: k)
            var sums = [Float](repeating: 0, count: k * d)
            var sizes = [Int](repeating: 0, count: k)
            for i in 0..<m {
                let c = labels[i].cluster
                sizes[c] += 1
                for j in 0..<d { sums[c * d + j] += sample[i * d + j] }
            }
            for c in 0..<k {
                if sizes[c] == 0 {
                    // An empty cluster restarts at a random sample row.
                    let r = Int(rng.next() % UInt64(m))
                    for j in 0..<d { sums[c * d + j] = sample[r * d + j] }
                }
                sums.withUnsafeMutableBufferPointer { Kernels.normalize($0.baseAddress! + c * d, count: d) }
            }
            centroids = sums
        }
        let labels = assign(rows, count: count, dimension: d, centroids: centroids, k: k)
        var members = [[Int]](repeating: [], count: k)
        for i in 0..<count { members[labels[i].cluster].append(i) }
        var out = (0..<count).map { Outcome(cluster: labels[$0].cluster, duplicateOf: nil, similarity: nil) }
        let threshold = 1 - epsilon
        for c in 0..<k where members[c].count > 1 {
            // Least similar to the centroid first: the member kept of each group is the first one.
            let group = members[c].sorted {
                labels[$0].similarity < labels[$1].similarity
                    || (labels[$0].similarity == labels[$1].similarity && $0 < $1)
            }
            let n = group.count
            var block = [Float](repeating: 0, count: n * d)
            for (i, r) in group.enumerated() { for j in 0..<d { block[i * d + j] = rows[r * d + j] } }
            // Similarities in stripes of rows, so that a large cluster does not need an n x n matrix at once.
            let stripe = max(1, min(n, (64 << 20) / (4 * n)))
            var sims = [Float](repeating: 0, count: stripe * n)
            var start = 0
            while start < n {
                let rowsHere = min(stripe, n - start)
                Self.products(block, from: start, rows: rowsHere, against: block, count: n, dimension: d, into: &sims)
                for local in 0..<rowsHere {
                    let j = start + local
                    // The closest earlier member at the threshold or above; pointing at a kept one.
                    var best = -1
                    var bestSim: Float = -2
                    for i in 0..<j where sims[local * n + i] >= threshold && sims[local * n + i] > bestSim {
                        best = i
                        bestSim = sims[local * n + i]
                    }
                    if best >= 0 {
                        let representative = out[group[best]].duplicateOf ?? group[best]
                        out[group[j]].duplicateOf = representative
                        out[group[j]].similarity = bestSim
                    }
                }
                start += rowsHere
            }
        }
        return out
    }

    /// `out[i * count + j]` = row `from + i` of `a` · row `j` of `b` (rows of `dimension` floats), one product.
    private static func products(
        _ a: [Float], from: Int, rows: Int, against b: [Float], count: Int, dimension d: Int, into out: inout [Float]
    ) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    BLAS.sgemm(
                        transB: true, m: rows, n: count, k: d, a: ap.baseAddress! + from * d, lda: d,
                        b: bp.baseAddress!, ldb: d, c: op.baseAddress!, ldc: count)
                }
            }
        }
    }

    /// The nearest centroid of each row, and the cosine to it, in blocks of rows.
    private func assign(_ x: [Float], count: Int, dimension d: Int, centroids: [Float], k: Int) -> [(
        cluster: Int, similarity: Float
    )] {
        var out = [(cluster: Int, similarity: Float)](repeating: (0, 0), count: count)
        let blockRows = max(1, min(count, (32 << 20) / (4 * k)))
        var scores = [Float](repeating: 0, count: blockRows * k)
        var start = 0
        while start < count {
            let n = min(blockRows, count - start)
            Self.products(x, from: start, rows: n, against: centroids, count: k, dimension: d, into: &scores)
            for i in 0..<n {
                var best = 0
                var bestScore = scores[i * k]
                for c in 1..<max(1, k) where scores[i * k + c] > bestScore {
                    best = c
                    bestScore = scores[i * k + c]
                }
                out[start + i] = (best, bestScore)
            }
            start += n
        }
        return out
    }
}
