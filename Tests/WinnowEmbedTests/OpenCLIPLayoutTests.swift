import Foundation
import Testing
import WinnowCore
import WinnowEmbed
import WinnowTestSupport

/// The clip-tiny checkpoint rewritten in OpenCLIP's layout (key names, fused q/k/v, projections stored [in, out],
/// open_clip_config.json), following the key mapping of the fixture's README: it loads and computes the same
/// embeddings as the Hugging Face layout.
@Suite struct OpenCLIPLayoutTests {
    static func openCLIPCopy() throws -> String {
        let source = TestSupport.shared("clip-tiny/model")
        let hf = try SafeTensors(path: source + "/model.safetensors")
        var out: [(name: String, shape: [Int], values: [Float])] = []
        func copy(_ from: String, _ to: String) throws {
            out.append((to, hf.entries[from]?.shape ?? [], try hf.floats(from)))
        }
        func transpose(_ from: String, _ to: String) throws {
            let shape = try #require(hf.entries[from]?.shape)
            let v = try hf.floats(from)
            var t = [Float](repeating: 0, count: v.count)
            for r in 0..<shape[0] { for c in 0..<shape[1] { t[c * shape[0] + r] = v[r * shape[1] + c] } }
            out.append((to, [shape[1], shape[0]], t))
        }
        for (hfTower, ocTower) in [("vision_model", "visual.transformer"), ("text_model", "transformer")] {
            for i in 0..<3 {
                let p = "\(hfTower).encoder.layers.\(i)"
                let o = "\(ocTower).resblocks.\(i)"
                for w in ["weight", "bias"] {
                    try copy("\(p).layer_norm1.\(w)", "\(o).ln_1.\(w)")
                    try copy("\(p).layer_norm2.\(w)", "\(o).ln_2.\(w)")
                    try copy("\(p).self_attn.out_proj.\(w)", "\(o).attn.out_proj.\(w)")
                    try copy("\(p).mlp.fc1.\(w)", "\(o).mlp.c_fc.\(w)")
                    try copy("\(p).mlp.fc2.\(w)", "\(o).mlp.c_proj.\(w)")
                    let qkv = try ["q", "k", "v"].flatMap { try hf.floats("\(p).self_attn.\($0)_proj.\(w)") }
                    out.append(("\(o).attn.in_proj_\(w)", w == "weight" ? [144, 48] : [144], qkv))
                }
            }
        }
        try copy("vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight")
        try copy("vision_model.embeddings.class_embedding", "visual.class_embedding")
        try copy("vision_model.embeddings.position_embedding.weight", "visual.positional_embedding")
        for w in ["weight", "bias"] {
            try copy("vision_model.pre_layrnorm.\(w)", "visual.ln_pre.\(w)")
            try copy("vision_model.post_layernorm.\(w)", "visual.ln_post.\(w)")
            try copy("text_model.final_layer_norm.\(w)", "ln_final.\(w)")
        }
        try copy("text_model.embeddings.token_embedding.weight", "token_embedding.weight")
        try copy("text_model.embeddings.position_embedding.weight", "positional_embedding")
        try copy("logit_scale", "logit_scale")
        try transpose("visual_projection.weight", "visual.proj")
        try transpose("text_projection.weight", "text_projection")
        #expect(out.count == hf.entries.count - 2 * 3 * 2 * 2)  // q, k, v (weight, bias) fused into one per layer

        let dir = TestSupport.temporaryDirectory("open-clip")
        try Data(SafeTensors.encode(out)).write(to: URL(fileURLWithPath: dir + "/open_clip_model.safetensors"))
        let config = """
            {"model_cfg": {"embed_dim": 24, "quick_gelu": true,
              "vision_cfg": {"image_size": 224, "layers": 3, "width": 48, "head_width": 16, "patch_size": 32},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 48, "heads": 3, "layers": 3}},
             "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                                "std": [0.26862954, 0.26130258, 0.27577711]}}
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/open_clip_config.json"))
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.createSymbolicLink(
                atPath: dir + "/" + name, withDestinationPath: source + "/" + name)
        }
        return dir
    }

    @Test func sameEmbeddingsAsTheHuggingFaceLayout() throws {
        let openCLIP = try CLIPEncoder(directory: try Self.openCLIPCopy())
        let hf = try #require(ClipTiny.encoder)
        #expect(openCLIP.model.config == hf.model.config)
        #expect(openCLIP.preprocessor == hf.preprocessor)
        #expect(openCLIP.model.logitScale == hf.model.logitScale)
        let pixels = try ClipTiny.pixelTensors()
        #expect(openCLIP.model.encodeImages(pixels, count: 10) == hf.model.encodeImages(pixels, count: 10))
        let captions = ClipTiny.captions.map(ClipTiny.text)
        #expect(openCLIP.embedTexts(captions) == hf.embedTexts(captions))
    }

    @Test func unsupportedOpenCLIPTowersAreNamed() throws {
        let dir = TestSupport.temporaryDirectory("open-clip-timm")
        let config = #"{"model_cfg": {"embed_dim": 8, "vision_cfg": {"timm_model_name": "vit_base"}, "text_cfg": {}}}"#
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/open_clip_config.json"))
        let e = #expect(throws: WinnowError.self) { try CLIPModel(directory: dir) }
        #expect(e?.message.contains("model_cfg.vision_cfg.timm_model_name is not supported") == true)
    }
}
