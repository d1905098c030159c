import Foundation
import WinnowCore
import WinnowSQLite

/// Embeddings added to a finished output directory (`winnow embed --shards DIR`): what to embed, and where the
/// results go (the same files and columns the pipeline's embed stage writes).
extension ShardIndex {
    /// A kept sample's identity and where its image is.
    public struct KeptSample: Sendable {
        /// Row id in `samples`.
        public var id: Int64
        /// Sample key.
        public var key: String
        /// Caption.
        public var caption: String
        /// Shard file name (`00000.tar`).
        public var shard: String
        /// Offset of the image bytes in the shard.
        public var offset: Int64
        /// Size of the image bytes.
        public var size: Int
    }

    /// Every kept sample, shard by shard in shard order, in the order of the tar.
    public func keptSamples() throws -> [KeptSample] {
        try db.query(
            "SELECT id, key, caption, shard, offset, size FROM samples WHERE status = 'kept' AND shard IS NOT NULL "
                + "ORDER BY shard, offset"
        ).map { r in
            guard let id = r.int("id"), let key = r.string("key"), let shard = r.string("shard"),
                let offset = r.int("offset"), let size = r.int("size")
            else { throw WinnowError(.database, "a kept sample row lacks its shard location") }
            return KeptSample(
                id: id, key: key, caption: r.string("caption") ?? "", shard: shard, offset: offset, size: Int(size))
        }
    }

    /// Records a sample's similarity and its row in the shard's embedding files.
    public func setEmbedding(id: Int64, similarity: Float, row: Int?) throws {
        try db.run(
            "UPDATE samples SET similarity = ?1, embedding_row = ?2 WHERE id = ?3",
            [(Double(similarity) * 1e6).rounded() / 1e6, row, Int(id)])
    }

    /// Records the similarities and embedding rows of one shard's samples, in one transaction (after the shard's
    /// embedding files are in place).
    public func setEmbeddings(_ updates: [(id: Int64, similarity: Float, row: Int)]) throws {
        try db.transaction {
            for u in updates { try setEmbedding(id: u.id, similarity: u.similarity, row: u.row) }
        }
    }

    /// A kept sample with embeddings: where its row is.
    public struct EmbeddedSample: Sendable {
        /// Row id in `samples`.
        public var id: Int64
        /// Sample key.
        public var key: String
        /// Shard file name.
        public var shard: String
        /// Row in the shard's embedding files.
        public var row: Int
    }

    /// Every kept sample that has embeddings, shard by shard, in row order.
    public func embeddedSamples() throws -> [EmbeddedSample] {
        try db.query(
            "SELECT id, key, shard, embedding_row FROM samples WHERE status = 'kept' AND embedding_row IS NOT NULL "
                + "ORDER BY shard, embedding_row"
        ).map { r in
            guard let id = r.int("id"), let key = r.string("key"), let shard = r.string("shard"),
                let row = r.int("embedding_row")
            else { throw WinnowError(.database, "a sample row with embeddings lacks its shard") }
            return EmbeddedSample(id: id, key: key, shard: shard, row: Int(row))
        }
    }

    /// Records a sample's semantic cluster and, for a duplicate, what it duplicates.
    public func setSemantic(id: Int64, cluster: Int, duplicateOf: String?, similarity: Float?) throws {
        try db.run(
            "UPDATE samples SET semantic_cluster = ?1, semantic_duplicate_of = ?2, semantic_similarity = ?3 "
                + "WHERE id = ?4",
            [cluster, duplicateOf, similarity.map { (Double($0) * 1e6).rounded() / 1e6 }, Int(id)])
    }

    /// Records the semantic clusters and duplicates of a whole run, and how they were found (`note`, the run
    /// property `semantic_dedup`), in one transaction.
    public func setSemantics(
        _ outcomes: [(id: Int64, cluster: Int, duplicateOf: String?, similarity: Float?)], note: String
    ) throws {
        try db.transaction {
            for o in outcomes {
                try setSemantic(id: o.id, cluster: o.cluster, duplicateOf: o.duplicateOf, similarity: o.similarity)
            }
            try setRun("semantic_dedup", note)
        }
    }
}
