import Foundation
import Testing
import WinnowCore
import WinnowEmbed
import WinnowImage
import WinnowSampleWeb
import WinnowTestSupport

/// The bundled encoder (models/sample-web-clip), through Winnow's own loader and code: on a sample web drawn with a
/// seed it was not trained on, it separates each image's true caption from another scene's caption.
@Suite struct DefaultEncoderTests {
    static let directory = TestSupport.packageRoot + "/models/sample-web-clip"

    @Test func separatesMatchingFromMismatchedCaptionsOnHeldOutPairs() throws {
        let encoder = try CLIPEncoder(directory: Self.directory)
        let training = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: Self.directory + "/training.json"))) as? [String: Any])
        let threshold = try #require(training["threshold"] as? Double)
        // The demo pipeline filters at the threshold the training script chose.
        let demo = try String(contentsOfFile: TestSupport.packageRoot + "/pipelines/demo.json", encoding: .utf8)
        #expect(demo.contains("\"min_similarity\": \(threshold)"))

        let web = TestSupport.temporaryDirectory("held-out-web")
        try SampleWeb.generate(output: web, pages: 30, seed: 303)  // training used 101, its held-out set 202
        var files: Set<String> = []
        var pairs: [(image: RGBImage, caption: String, scene: String)] = []
        for line in try String(contentsOfFile: web + "/truth.jsonl", encoding: .utf8).split(separator: "\n") {
            let t = try JSONDecoder().decode(SampleWeb.Truth.self, from: Data(line.utf8))
            let file = web + "/sites/" + t.url.dropFirst("http://".count)
            guard files.insert(file).inserted, let bytes = FileManager.default.contents(atPath: file) else { continue }
            pairs.append(
                (try Codec.decode([UInt8](bytes)), t.caption, "\(t.shape) \(t.colour) \(t.count) \(t.background)"))
        }
        #expect(pairs.count > 80)
        let d = encoder.dimension
        let images = encoder.embedImages(pairs.map { ($0.image.pixels, $0.image.width, $0.image.height) })
        let texts = encoder.embedTexts(pairs.map(\.caption))
        func cosine(_ i: Int, _ j: Int) -> Float {
            (0..<d).reduce(0) { $0 + images[i * d + $1] * texts[j * d + $1] }
        }
        var rng = SplitMix64(seed: 9)
        var positives: [Float] = []
        var negatives: [Float] = []
        for i in pairs.indices {
            positives.append(cosine(i, i))
            var j = rng.int(pairs.count)
            while pairs[j].scene == pairs[i].scene { j = rng.int(pairs.count) }
            negatives.append(cosine(i, j))
        }
        // ROC AUC: the chance that a matching pair scores above a mismatched one.
        var wins = 0.0
        for p in positives {
            for n in negatives { wins += p > n ? 1 : (p == n ? 0.5 : 0) }
        }
        let auc = wins / Double(positives.count * negatives.count)
        #expect(auc >= 0.95, "held-out ROC AUC \(auc)")
        let kept = Double(positives.filter { Double($0) >= threshold }.count) / Double(positives.count)
        let dropped = Double(negatives.filter { Double($0) < threshold }.count) / Double(negatives.count)
        #expect(kept >= 0.9 && dropped >= 0.9, "at \(threshold): keeps \(kept) of matching, drops \(dropped) of others")
    }
}
