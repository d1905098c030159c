import Foundation
import WinnowCore
import WinnowDedup
import WinnowShards

enum DedupCommand {
    static let command = WinnowCLI.Command(
        name: "dedup", summary: "semantic near-duplicates of a finished run (SemDeDup over its CLIP embeddings)",
        help: """
            Usage: winnow dedup DIR [--epsilon E] [--clusters K] [--iterations N] [--json]

            SemDeDup over the image embeddings a run wrote (DIR/img_emb/*.npy, from the embed stage or
            'winnow embed --shards'): spherical k-means into K clusters (default: the square root of the number of
            samples), then within each cluster every pair with cosine at least 1 - E (default 0.05) is a duplicate
            pair, and of each group the sample least similar to the cluster's centroid is kept. Records for every
            sample its semantic_cluster and, for a duplicate, semantic_duplicate_of (the kept sample's key) and
            semantic_similarity in DIR/index.sqlite; the shards are not changed. Identical and PDQ near-duplicate
            images are removed during the run itself (the pipeline's dedup section).
            """,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(
            args, command: "dedup", options: ["epsilon", "clusters", "iterations"], flags: ["json"])
        let dir = try a.positionals(["DIR"], command: "dedup")[0]
        var settings = SemanticDedup()
        if let e = a.value("epsilon") {
            guard let v = Float(e), v > 0, v < 1 else {
                throw UsageError("winnow dedup: --epsilon expects a number between 0 and 1, got \(e.debugDescription)")
            }
            settings.epsilon = v
        }
        settings.clusters = try a.int("clusters", command: "dedup", min: 1) ?? 0
        settings.iterations = try a.int("iterations", command: "dedup", min: 1) ?? settings.iterations
        let indexPath = ShardWriter.indexPath(dir)
        guard FileManager.default.fileExists(atPath: indexPath) else {
            throw WinnowError(.io, "\(dir): no index.sqlite here (not a finished Winnow run)")
        }
        let start = Date()
        let index = try ShardIndex(path: indexPath)
        let samples = try index.embeddedSamples()
        guard !samples.isEmpty else {
            throw WinnowError(
                .usage, "\(dir): no sample has embeddings (run with an embed stage, or 'winnow embed --shards \(dir)')")
        }
        // The rows, shard by shard, as the index orders them.
        var rows: [Float] = []
        var dimension = 0
        var loaded: (shard: String, values: NPY.Array)?
        for s in samples {
            if loaded?.shard != s.shard {
                let path = try ShardWriter.embeddingPaths(dir, shard: s.shard).image
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw WinnowError(.io, "\(path): missing (the index says \(s.shard) has embeddings)")
                }
                let array = try NPY.decode([UInt8](data), name: path)
                guard array.shape.count == 2, dimension == 0 || array.shape[1] == dimension else {
                    throw WinnowError(.format, "\(path): shape \(array.shape), expected [rows, \(dimension)]")
                }
                dimension = array.shape[1]
                loaded = (s.shard, array)
            }
            guard let array = loaded?.values, s.row < array.shape[0] else {
                throw WinnowError(.format, "\(s.shard): embedding row \(s.row) is past the end of its file")
            }
            rows += array.values[(s.row * dimension)..<((s.row + 1) * dimension)]
        }
        // The clustering sees the samples in key order, so that its result does not depend on the order in which a
        // run happened to write them (downloads finish in any order).
        let order = samples.indices.sorted { samples[$0].key < samples[$1].key }
        var sorted = [Float]()
        sorted.reserveCapacity(rows.count)
        for k in order { sorted += rows[(k * dimension)..<((k + 1) * dimension)] }
        var placed = [SemanticDedup.Outcome?](repeating: nil, count: samples.count)
        for (position, o) in settings.run(sorted, count: samples.count, dimension: dimension).enumerated() {
            var outcome = o
            outcome.duplicateOf = o.duplicateOf.map { order[$0] }
            placed[order[position]] = outcome
        }
        let outcomes = placed.map { $0! }  // ok: `order` is a permutation, every position was filled
        try index.db.execute("BEGIN")
        var duplicates = 0
        for (s, o) in zip(samples, outcomes) {
            let of = o.duplicateOf.map { samples[$0].key }
            if of != nil { duplicates += 1 }
            try index.setSemantic(id: s.id, cluster: o.cluster, duplicateOf: of, similarity: o.similarity)
        }
        try index.setRun(
            "semantic_dedup", "epsilon \(settings.epsilon), clusters \(Set(outcomes.map(\.cluster)).count)")
        try index.db.execute("COMMIT")
        let seconds = Date().timeIntervalSince(start)
        if a.flags.contains("json") {
            var o = JSONObject()
            o.add("samples", samples.count)
            o.add("duplicates", duplicates)
            o.add("clusters", Set(outcomes.map(\.cluster)).count)
            print(o.text())
        } else {
            print(
                String(
                    format: "%d samples, %d clusters: %d semantic duplicates at cosine >= %.3f (%.1f s)", samples.count,
                    Set(outcomes.map(\.cluster)).count, duplicates, 1 - settings.epsilon, seconds))
        }
    }
}
