import Foundation
import WinnowCore
import WinnowShards
import WinnowTensor

/// Exact nearest-neighbour search over the CLIP image embeddings of one or more output directories (their
/// `img_emb/img_emb_NNNNN.npy` files, rows named by the index's `embedding_row`), for `winnow query --similar-*`
/// and image opt-out requests. Rows stay float16 when the files are float16.
public final class EmbeddingSearch {
    /// A sample and its score.
    public struct Hit: Sendable, Equatable {
        /// Index of its directory in `directories`.
        public var directory: Int
        /// Sample key.
        public var key: String
        /// Cosine similarity to the query.
        public var score: Float
    }

    /// The directories searched.
    public let directories: [String]
    /// The rows, in load order.
    public private(set) var matrix: EmbeddingMatrix
    private var owners: [(directory: Int, key: String)] = []

    /// Loads every kept sample's image embedding from `directories`; an error names a directory without any.
    public init(directories: [String]) throws {
        self.directories = directories
        var matrix: EmbeddingMatrix?
        for (d, dir) in directories.enumerated() {
            let samples = try IndexReader(directory: dir).embeddedSamples()
            var byShard: [String: [ShardIndex.EmbeddedSample]] = [:]
            for s in samples { byShard[s.shard, default: []].append(s) }
            for shard in byShard.keys.sorted() {
                let entries = byShard[shard] ?? []
                let file = try EmbeddingFile.read(dir, shard: shard, rows: entries.map(\.row), width: matrix?.dimension)
                if matrix == nil {
                    matrix = EmbeddingMatrix(dimension: file.shape.width, half: file.dtype == .float16)
                }
                guard var m = matrix else { continue }
                matrix = nil  // one owner while rows are appended (no copy of the matrix)
                var names = [String](repeating: "", count: file.shape.rows)
                for s in entries { names[s.row] = s.key }
                if file.dtype == .float16 && m.half {
                    file.bytes.withUnsafeBytes {
                        m.appendHalf(UnsafeRawBufferPointer(rebasing: $0[file.dataOffset...]))
                    }
                } else {
                    m.append(try file.values())
                }
                owners += names.map { (d, $0) }
                matrix = m
            }
        }
        guard let m = matrix else {
            throw WinnowError(
                .usage,
                "\(directories.joined(separator: ", ")): no embeddings (run with an embed stage, or 'winnow embed --shards DIR')"
            )
        }
        self.matrix = m
    }

    /// Width of the embeddings.
    public var dimension: Int { matrix.dimension }

    /// Rows searched.
    public var count: Int { matrix.count }

    /// The `k` samples most similar to `query` (unit length), best first.
    public func nearest(_ query: [Float], k: Int, threads: Int = ProcessInfo.processInfo.activeProcessorCount)
        -> [Hit]
    {
        // Rows without a sample (removed since) are skipped: ask for a few more.
        var out: [Hit] = []
        var want = k
        while true {
            let found = matrix.nearest(query, k: want, threads: threads)
            out = found.compactMap { f in
                let o = owners[f.row]
                return o.key.isEmpty ? nil : Hit(directory: o.directory, key: o.key, score: f.score)
            }
            if out.count >= k || found.count < want { break }
            want *= 2
        }
        return Array(out.prefix(k))
    }

    /// Every sample whose similarity to `query` is at least `threshold`, best first.
    public func above(_ query: [Float], threshold: Float) -> [Hit] {
        var k = 64
        while true {
            let hits = nearest(query, k: k)
            if hits.count < k || (hits.last?.score ?? -2) < threshold { return hits.filter { $0.score >= threshold } }
            k *= 4
        }
    }
}
