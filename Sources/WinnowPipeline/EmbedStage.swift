import Foundation
import WinnowCore
import WinnowEmbed
import WinnowImage

/// The embed stage: CLIP embeddings of each kept sample's stored image and its caption, their cosine similarity on
/// the sample (and so in the index), and the similarity filter. The stored image is what is embedded, as
/// clip-retrieval embeds the images of a webdataset.
struct EmbedStage: Sendable {
    let encoder: CLIPEncoder
    let settings: EmbedSettings

    /// Embeds the kept samples of `batch` in place; returns how many it dropped.
    func process(_ batch: inout [Sample]) -> Int {
        var dropped = 0
        var indices: [Int] = []
        var images: [(pixels: [UInt8], width: Int, height: Int)] = []
        for i in batch.indices where batch[i].isKept {
            guard let bytes = batch[i].stored else { continue }
            do {
                let image = try Codec.decode(bytes)
                images.append((image.pixels, image.width, image.height))
                indices.append(i)
            } catch {
                batch[i].drop(.embedError, "the stored image does not decode: \(error)")
                dropped += 1
            }
        }
        guard !indices.isEmpty else { return dropped }
        let d = encoder.dimension
        let imageRows = encoder.embedImages(images)
        let textRows = encoder.embedTexts(indices.map { batch[$0].candidate.caption })
        for (k, i) in indices.enumerated() {
            let image = Array(imageRows[(k * d)..<((k + 1) * d)])
            let text = Array(textRows[(k * d)..<((k + 1) * d)])
            var cosine: Float = 0
            for j in 0..<d { cosine += image[j] * text[j] }
            batch[i].similarity = cosine
            if let threshold = settings.minSimilarity, Double(cosine) < threshold {
                batch[i].drop(.lowSimilarity, String(format: "image-caption cosine %.4f < %.4f", cosine, threshold))
                dropped += 1
            } else {
                batch[i].imageEmbedding = image
                batch[i].textEmbedding = text
            }
        }
        return dropped
    }
}
