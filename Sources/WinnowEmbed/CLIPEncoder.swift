import Foundation
import WinnowCore
import WinnowTensor

/// A CLIP checkpoint directory ready to embed: the model, its tokenizer and its image preprocessing.
public final class CLIPEncoder: Sendable {
    /// The towers.
    public let model: CLIPModel
    /// The BPE tokenizer.
    public let tokenizer: CLIPTokenizer
    /// The image preprocessing.
    public let preprocessor: CLIPPreprocessor
    /// The directory it was loaded from.
    public let directory: String

    /// Loads a Hugging Face CLIP checkpoint directory: config.json, model.safetensors, vocab.json, merges.txt and
    /// preprocessor_config.json (OpenAI's preprocessing when that file is absent). `threads`: see `CLIPModel`.
    public init(directory: String, threads: Int? = nil, precision: CLIPModel.Precision = .float32) throws(WinnowError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WinnowError(.io, "\(directory): no such model directory")
        }
        self.directory = directory
        model = try CLIPModel(directory: directory, threads: threads, precision: precision)
        tokenizer = try CLIPTokenizer(directory: directory, contextLength: model.config.contextLength)
        guard tokenizer.vocabularySize <= model.config.vocabulary else {
            throw WinnowError(
                .format,
                "\(directory)/vocab.json: \(tokenizer.vocabularySize) tokens, but the model embeds "
                    + "\(model.config.vocabulary)")
        }
        let preprocessorPath = directory + "/preprocessor_config.json"
        let openCLIPPath = directory + "/open_clip_config.json"
        let side = model.config.imageSize
        if FileManager.default.fileExists(atPath: preprocessorPath) {
            preprocessor = try CLIPPreprocessor(path: preprocessorPath)
        } else if FileManager.default.fileExists(atPath: openCLIPPath) {
            preprocessor = try CLIPPreprocessor(openCLIPPath: openCLIPPath, imageSize: side)
        } else {
            preprocessor = CLIPPreprocessor(shortestEdge: side, cropSize: side)
        }
        guard preprocessor.cropSize == model.config.imageSize else {
            throw WinnowError(
                .config,
                "\(preprocessorPath): crop_size \(preprocessor.cropSize) differs from vision_config.image_size "
                    + "\(model.config.imageSize)")
        }
    }

    /// Width of an embedding.
    public var dimension: Int { model.config.projection }

    /// Unit-length image embeddings of interleaved RGB images, `images.count` rows of `dimension`.
    public func embedImages(_ images: [(pixels: [UInt8], width: Int, height: Int)]) -> [Float] {
        let side = model.config.imageSize
        let plane = 3 * side * side
        var tensor = [Float](repeating: 0, count: images.count * plane)
        tensor.withUnsafeMutableBufferPointer { t in
            for (i, image) in images.enumerated() {
                preprocessor.tensor(
                    image.pixels, width: image.width, height: image.height, into: t.baseAddress! + i * plane)
            }
        }
        return Self.normalized(model.encodeImages(tensor, count: images.count), dimension: dimension)
    }

    /// Unit-length text embeddings, `texts.count` rows of `dimension`.
    public func embedTexts(_ texts: [String]) -> [Float] {
        Self.normalized(model.encodeTexts(texts.map(tokenizer.encode)), dimension: dimension)
    }

    /// Each `dimension`-wide row of `rows` scaled to unit length.
    public static func normalized(_ rows: [Float], dimension: Int) -> [Float] {
        var out = rows
        out.withUnsafeMutableBufferPointer { p in
            for r in 0..<(rows.count / dimension) {
                Kernels.normalize(p.baseAddress! + r * dimension, count: dimension)
            }
        }
        return out
    }
}
