import Foundation
import Testing
import WinnowCore
import WinnowSQLite
import WinnowShards
import WinnowTestSupport

@Suite struct EmbedCLITests {
    let model = TestSupport.shared("clip-tiny/model")

    /// `winnow embed` prints unit-length embeddings and the image x text cosines; the image's equals what the
    /// reference computes from the same file (transformers 5, Pillow preprocessing) within 1e-5.
    @Test func imagesAndTextsAsJSON() throws {
        let image = TestSupport.shared("clip-tiny/images/01_rgb_800x450.jpg")
        let r = try TestSupport.run(
            winnow, ["embed", "--model", model, "--image", image, "--text", "a red bicycle", "two cats"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["dimension"] as? Int == 24)
        let images = try #require(json["images"] as? [[String: Any]])
        let embedding = try #require(images.first?["embedding"] as? [Double])
        #expect(abs(embedding.map { $0 * $0 }.reduce(0, +) - 1) < 1e-5)
        let cosine = try #require(json["cosine"] as? [[Double]])
        #expect(cosine.count == 1 && cosine[0].count == 2)
        let reference = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: TestSupport.shared("clip-tiny/reference.json"))))
                as? [String: Any])
        let pil = try #require(
            ((reference["embeddings"] as? [String: Any])?["image"] as? [String: Any])?["hf_pil"] as? [String: Any])
        let expected = try #require((pil["image_embeds_normalized"] as? [[Double]])?.first)
        #expect(zip(embedding, expected).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    /// `--precision int8` runs the linear layers in int8: the same image's embedding stays within a cosine of 0.999
    /// of float32's on clip-tiny; a value it does not know is a usage error naming it.
    @Test func int8Precision() throws {
        let image = TestSupport.shared("clip-tiny/images/01_rgb_800x450.jpg")
        func embedding(_ extra: [String]) throws -> [Double] {
            let r = try TestSupport.run(winnow, ["embed", "--model", model, "--image", image] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try #require((json["images"] as? [[String: Any]])?.first?["embedding"] as? [Double])
        }
        let f = try embedding([])
        let q = try embedding(["--precision", "int8"])
        #expect(f != q, "int8 ran the float32 path")
        #expect(zip(f, q).map { $0 * $1 }.reduce(0, +) >= 0.999)
        let bad = try TestSupport.run(winnow, ["embed", "--model", model, "--image", image, "--precision", "int4"])
        #expect(bad.status == 64 && bad.stderr.contains("--precision must be float32 or int8"))
        // --dtype is the stored embeddings' type; asking it for int8 points to --precision.
        let stored = try TestSupport.run(winnow, ["embed", "--model", model, "--image", image, "--dtype", "int8"])
        #expect(stored.status == 64 && stored.stderr.contains("int8 arithmetic is --precision int8"))
    }

    /// `--compare-dtype int8` reports both precisions' agreement on the user's images and captions as one JSON object.
    @Test func compareDtype() throws {
        let r = try TestSupport.run(
            winnow,
            [
                "embed", "--model", model, "--compare-dtype", "int8", "--images",
                TestSupport.shared("clip-tiny/images"),
                "--text", "a red bicycle", "two cats", "--min-similarity", "0.1",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["images"] as? Int == 10 && json["texts"] as? Int == 2 && json["pairs"] as? Int == 20)
        let cosine = try #require(json["image_cosine"] as? [String: Double])
        #expect((cosine["mean"] ?? 0) >= 0.999 && (cosine["min"] ?? 0) > 0.99)
        let error = try #require(json["similarity_abs_error"] as? [String: Double])
        #expect((error["max"] ?? 1) < 0.05 && json["threshold"] as? Double == 0.1)
        #expect(json["decisions_differ"] is Int)
        let bad = try TestSupport.run(winnow, ["embed", "--model", model, "--compare-dtype", "int4", "--text", "x"])
        #expect(bad.status == 64 && bad.stderr.contains("--compare-dtype must be int8"))
        let none = try TestSupport.run(winnow, ["embed", "--model", model, "--compare-dtype", "int8", "--text", "x"])
        #expect(none.status == 64 && none.stderr.contains("needs --image"))
    }

    @Test func writesNpyFilesToADirectory() throws {
        let out = TestSupport.temporaryDirectory("embed-out")
        let r = try TestSupport.run(
            winnow, ["embed", "--model", model, "--text", "one", "two", "three", "--output", out, "--dtype", "float16"])
        #expect(r.status == 0, "\(r.stderr)")
        let npy = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out + "/texts.npy")))
        let header = String(decoding: npy[10..<min(npy.count, 128)], as: UTF8.self)
        #expect(header.contains("'<f2'") && header.contains("(3, 24)"))
        #expect(FileManager.default.fileExists(atPath: out + "/embeddings.json"))
    }

    @Test func badModelsAndInputsAreNamed() throws {
        let missing = try TestSupport.run(winnow, ["embed", "--model", "/no/model", "--text", "x"])
        #expect(missing.status == 1 && missing.stderr.contains("/no/model: no such model directory"))
        // A checkpoint whose config names an activation Winnow does not have.
        let dir = TestSupport.temporaryDirectory("bad-model")
        for name in ["model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json"] {
            try FileManager.default.createSymbolicLink(
                atPath: dir + "/" + name, withDestinationPath: model + "/" + name)
        }
        var config = try String(contentsOfFile: model + "/config.json", encoding: .utf8)
        config = config.replacingOccurrences(of: "\"quick_gelu\"", with: "\"relu\"")
        try config.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let bad = try TestSupport.run(winnow, ["embed", "--model", dir, "--text", "x"])
        #expect(bad.status == 1 && bad.stderr.contains("hidden_act \"relu\" is not supported"), "\(bad.stderr)")
        let notImage = try TestSupport.run(winnow, ["embed", "--model", model, "--image", model + "/config.json"])
        #expect(notImage.status == 1 && notImage.stderr.contains("config.json: not_image"))
        let neither = try TestSupport.run(winnow, ["embed", "--model", model])
        #expect(neither.status == 64)
    }
}

@Suite struct HashCLITests {
    /// `winnow hash` gives the byte digests and the PDQ the image stage computes; the reference PDQ of this image
    /// (pdqhash, in Tests/WinnowImageTests/Fixtures/pdq_reference.json) is matched by the image tests.
    @Test func hashesImagesAndNamesWhatIsNot() throws {
        let image = TestSupport.shared("clip-tiny/images/03_rgba_288x216.png")
        let notImage = TestSupport.shared("clip-tiny/model/config.json")
        let r = try TestSupport.run(winnow, ["hash", image, notImage])
        #expect(r.status == 1 && r.stderr.contains("1 of 2 files are not decodable images"))
        let lines = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(lines.count == 2)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: image)))
        #expect(lines[0]["sha256"] as? String == SHA256.hexDigest(bytes))
        #expect((lines[0]["pdq"] as? String)?.count == 64 && lines[0]["width"] as? Int == 288)
        #expect(lines[1]["error"] as? String != nil && lines[1]["sha256"] as? String != nil)
        #expect(try TestSupport.run(winnow, ["hash"]).status == 64)
    }
}
