import Foundation
import WinnowCore
import WinnowDedup
import WinnowShards

enum DedupCommand {
    static let command = WinnowCLI.Command(
        name: "dedup", summary: "semantic near-duplicates of a finished run (SemDeDup over its CLIP embeddings)",
        about: """
            Usage: winnow dedup DIR [--epsilon E] [--clusters K] [--iterations N] [--json]

            SemDeDup over the image embeddings a run wrote (DIR/img_emb/*.npy, from the embed stage or
            'winnow embed --shards'): spherical k-means into K clusters (default: the square root of the number of
            samples), then within each cluster every pair with cosine at least 1 - E (default 0.05) is a duplicate
            pair, and of each group the sample least similar to the cluster's centroid is kept. Records for every
            sample its semantic_cluster and, for a duplicate, semantic_duplicate_of (the kept sample's key) and
            semantic_similarity in DIR/index.sqlite; the shards are not changed. Identical and PDQ near-duplicate
            images are removed during the run itself (the pipeline's dedup section).
            """,
        options: [
            .value("epsilon", "E", "pairs with cosine at least 1 - E are duplicates (0 < E < 1, default 0.05)"),
            .value("clusters", "K", "k-means clusters (default: the square root of the number of samples)"),
            .value("iterations", "N", "k-means iterations (default \(SemanticDedup().iterations))"),
            .flag("json", "print the counts as one JSON object"),
        ],
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "dedup", options: command.options)
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
        var first = 0
        while first < samples.count {
            let shard = samples[first].shard
            var end = first
            while end < samples.count && samples[end].shard == shard { end += 1 }
            let wanted = samples[first..<end].map(\.row)
            let file = try EmbeddingFile.read(dir, shard: shard, rows: wanted, width: dimension == 0 ? nil : dimension)
            dimension = file.shape.width
            rows += try file.rows(wanted)
            first = end
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
        let updates = zip(samples, outcomes).map { s, o in
            (id: s.id, cluster: o.cluster, duplicateOf: o.duplicateOf.map { samples[$0].key }, similarity: o.similarity)
        }
        let duplicates = updates.filter { $0.duplicateOf != nil }.count
        try index.setSemantics(
            updates, note: "epsilon \(settings.epsilon), clusters \(Set(outcomes.map(\.cluster)).count)")
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
