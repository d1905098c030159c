import Foundation
import WinnowCore

/// One shard's embedding file (`img_emb/img_emb_NNNNN.npy` or `text_emb/...`), read and checked against what the
/// index says of it: the one reader of these files for search, semantic dedup and opt-out removal.
public struct EmbeddingFile {
    /// Its path.
    public let path: String
    /// The file's bytes.
    public let bytes: [UInt8]
    /// Rows, columns.
    public let shape: (rows: Int, width: Int)
    /// Element type.
    public let dtype: NPY.DType
    /// Where the elements start in `bytes`.
    public let dataOffset: Int

    /// Reads the file of `shard` in `folder` (`img_emb` or `text_emb`) of `directory`: a 2-D matrix, `width` wide
    /// when given, with every row in `rows` (the rows the index names). Errors name the file and what is wrong.
    public static func read(
        _ directory: String, shard: String, folder: String = "img_emb", rows: [Int], width: Int? = nil
    ) throws -> EmbeddingFile {
        let files = ShardWriter.embeddingFiles(directory, shard: shard)
        let path = folder == "text_emb" ? files.text : files.image
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WinnowError(.io, "\(path): cannot read (the index says shard \(shard) has embeddings)")
        }
        let bytes = [UInt8](data)
        let header = try NPY.header(bytes, name: path)
        guard header.shape.count == 2, header.shape[1] > 0 else {
            throw WinnowError(.format, "\(path): not a 2-D embedding matrix (shape \(header.shape))")
        }
        if let w = width, w != header.shape[1] {
            throw WinnowError(.format, "\(path): \(header.shape[1])-wide embeddings; the others are \(w)")
        }
        if let bad = rows.first(where: { $0 < 0 || $0 >= header.shape[0] }) {
            throw WinnowError(.format, "\(path): the index names row \(bad); the file has \(header.shape[0])")
        }
        return EmbeddingFile(
            path: path, bytes: bytes, shape: (header.shape[0], header.shape[1]), dtype: header.dtype,
            dataOffset: header.dataOffset)
    }

    /// Every element, as Float.
    public func values() throws -> [Float] { try NPY.decode(bytes, name: path).values }

    /// The rows `rows` (in that order), as Float.
    public func rows(_ rows: [Int]) throws -> [Float] {
        let all = try values()
        var out: [Float] = []
        out.reserveCapacity(rows.count * shape.width)
        for r in rows { out += all[(r * shape.width)..<((r + 1) * shape.width)] }
        return out
    }
}
