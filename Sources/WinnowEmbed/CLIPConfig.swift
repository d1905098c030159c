import Foundation
import WinnowCore
import WinnowTensor

/// One tower's shape, from `text_config` or `vision_config` of a Hugging Face `CLIPModel` config.json. Missing
/// keys take transformers' defaults for that tower.
public struct CLIPTowerConfig: Sendable, Equatable {
    /// Width of the residual stream (`hidden_size`).
    public var hidden: Int
    /// MLP width (`intermediate_size`).
    public var intermediate: Int
    /// Attention heads (`num_attention_heads`); `hidden` must divide by it.
    public var heads: Int
    /// Encoder layers (`num_hidden_layers`).
    public var layers: Int
    /// MLP activation (`hidden_act`).
    public var activation: Kernels.Activation
    /// LayerNorm epsilon (`layer_norm_eps`).
    public var eps: Float
}

/// A Hugging Face `CLIPModel` config.json: both towers and the projection size.
public struct CLIPConfig: Sendable, Equatable {
    /// The text transformer.
    public var text: CLIPTowerConfig
    /// The vision transformer.
    public var vision: CLIPTowerConfig
    /// Width of both embeddings (`projection_dim`).
    public var projection: Int
    /// Token vocabulary size (`text_config.vocab_size`).
    public var vocabulary: Int
    /// Text positions (`text_config.max_position_embeddings`, 77 for every CLIP).
    public var contextLength: Int
    /// The id the text tower pools at (`text_config.eos_token_id`); 2 means "the largest id" (old conversions).
    public var eosTokenID: Int
    /// Input side in pixels (`vision_config.image_size`).
    public var imageSize: Int
    /// Patch side in pixels (`vision_config.patch_size`).
    public var patchSize: Int

    /// Patches a side.
    public var gridSide: Int { imageSize / patchSize }

    /// Reads and checks `path`; an unsupported or inconsistent field is an error naming it.
    public init(path: String) throws(WinnowError) {
        let object = try readJSONObject(path)
        if let type = object["model_type"] as? String, type != "clip" {
            throw WinnowError(.config, "\(path): model_type is \"\(type)\"; Winnow loads CLIP checkpoints (\"clip\")")
        }
        let text = object["text_config"] as? [String: Any] ?? [:]
        let vision = object["vision_config"] as? [String: Any] ?? [:]
        func int(_ dict: [String: Any], _ key: String, _ prefix: String, _ fallback: Int) throws(WinnowError) -> Int {
            guard let value = dict[key] else { return fallback }
            guard let number = value as? Int, number > 0 else {
                throw WinnowError(.config, "\(path): \(prefix)\(key) must be a positive integer, not \(value)")
            }
            return number
        }
        func tower(_ dict: [String: Any], _ prefix: String, hidden: Int, intermediate: Int, heads: Int)
            throws(WinnowError) -> CLIPTowerConfig
        {
            let actName = dict["hidden_act"] as? String ?? "quick_gelu"
            let activation: Kernels.Activation
            switch actName {
            case "quick_gelu": activation = .quickGELU
            case "gelu": activation = .gelu
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": activation = .geluTanh
            default:
                throw WinnowError(
                    .config,
                    "\(path): \(prefix)hidden_act \"\(actName)\" is not supported (quick_gelu, gelu, gelu_new, "
                        + "gelu_pytorch_tanh)")
            }
            let config = CLIPTowerConfig(
                hidden: try int(dict, "hidden_size", prefix, hidden),
                intermediate: try int(dict, "intermediate_size", prefix, intermediate),
                heads: try int(dict, "num_attention_heads", prefix, heads),
                layers: try int(dict, "num_hidden_layers", prefix, 12), activation: activation,
                eps: Float((dict["layer_norm_eps"] as? Double) ?? 1e-5))
            guard config.hidden % config.heads == 0 else {
                throw WinnowError(
                    .config,
                    "\(path): \(prefix)hidden_size \(config.hidden) is not a multiple of num_attention_heads "
                        + "\(config.heads)")
            }
            return config
        }
        self.text = try tower(text, "text_config.", hidden: 512, intermediate: 2048, heads: 8)
        self.vision = try tower(vision, "vision_config.", hidden: 768, intermediate: 3072, heads: 12)
        self.projection = try int(object, "projection_dim", "", 512)
        self.vocabulary = try int(text, "vocab_size", "text_config.", 49408)
        self.contextLength = try int(text, "max_position_embeddings", "text_config.", 77)
        self.eosTokenID = try int(text, "eos_token_id", "text_config.", 49407)
        self.imageSize = try int(vision, "image_size", "vision_config.", 224)
        self.patchSize = try int(vision, "patch_size", "vision_config.", 32)
        if let channels = vision["num_channels"] as? Int, channels != 3 {
            throw WinnowError(.config, "\(path): vision_config.num_channels is \(channels); CLIP images have 3")
        }
        guard imageSize % patchSize == 0 else {
            throw WinnowError(
                .config, "\(path): vision_config.image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
    }
}

extension CLIPConfig {
    /// Reads OpenCLIP's `open_clip_config.json` (`model_cfg`: `embed_dim`, `quick_gelu`, `vision_cfg`,
    /// `text_cfg`), with open_clip's defaults (heads of 64 channels in the vision tower, MLP ratio 4, erf GELU unless
    /// `quick_gelu`). Towers open_clip builds otherwise (timm or Hugging Face trunks, attention pooling) are refused,
    /// naming the field.
    public init(openCLIPPath path: String) throws(WinnowError) {
        let root = try readJSONObject(path)
        guard let model = root["model_cfg"] as? [String: Any], let vision = model["vision_cfg"] as? [String: Any],
            let text = model["text_cfg"] as? [String: Any]
        else { throw WinnowError(.config, "\(path): no model_cfg with vision_cfg and text_cfg") }
        for (key, cfg) in [("vision_cfg", vision), ("text_cfg", text)] {
            for unsupported in ["timm_model_name", "hf_model_name", "attentional_pool", "attn_pooler_heads"]
            where cfg[unsupported] != nil && !(cfg[unsupported] is NSNull) && (cfg[unsupported] as? Bool) != false {
                throw WinnowError(.config, "\(path): model_cfg.\(key).\(unsupported) is not supported")
            }
        }
        func int(_ dict: [String: Any], _ key: String, _ prefix: String, _ fallback: Int?) throws(WinnowError) -> Int {
            if let n = dict[key] as? Int, n > 0 { return n }
            if dict[key] == nil, let fallback { return fallback }
            throw WinnowError(.config, "\(path): model_cfg.\(prefix)\(key) must be a positive integer")
        }
        let activation: Kernels.Activation = (model["quick_gelu"] as? Bool) == true ? .quickGELU : .gelu
        let ratio = (vision["mlp_ratio"] as? Double) ?? 4
        let textRatio = (text["mlp_ratio"] as? Double) ?? 4
        let visionWidth = try int(vision, "width", "vision_cfg.", 768)
        let textWidth = try int(text, "width", "text_cfg.", 512)
        let headWidth = try int(vision, "head_width", "vision_cfg.", 64)
        guard visionWidth % headWidth == 0 else {
            throw WinnowError(.config, "\(path): model_cfg.vision_cfg.width is not a multiple of head_width")
        }
        let textHeads = try int(text, "heads", "text_cfg.", 8)
        guard textWidth % textHeads == 0 else {
            throw WinnowError(.config, "\(path): model_cfg.text_cfg.width is not a multiple of heads")
        }
        self.vision = CLIPTowerConfig(
            hidden: visionWidth, intermediate: Int(Double(visionWidth) * ratio), heads: visionWidth / headWidth,
            layers: try int(vision, "layers", "vision_cfg.", 12), activation: activation, eps: 1e-5)
        self.text = CLIPTowerConfig(
            hidden: textWidth, intermediate: Int(Double(textWidth) * textRatio), heads: textHeads,
            layers: try int(text, "layers", "text_cfg.", 12), activation: activation, eps: 1e-5)
        self.projection = try int(model, "embed_dim", "", nil)
        self.vocabulary = try int(text, "vocab_size", "text_cfg.", 49408)
        self.contextLength = try int(text, "context_length", "text_cfg.", 77)
        // open_clip pools at the largest id (argmax), which is the end token for CLIP's tokenizer.
        self.eosTokenID = self.vocabulary - 1
        self.imageSize = try int(vision, "image_size", "vision_cfg.", 224)
        self.patchSize = try int(vision, "patch_size", "vision_cfg.", 16)
        guard imageSize % patchSize == 0 else {
            throw WinnowError(.config, "\(path): model_cfg.vision_cfg.image_size is not a multiple of patch_size")
        }
    }
}

/// The JSON object in `path`, or an error naming the file.
func readJSONObject(_ path: String) throws(WinnowError) -> [String: Any] {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw WinnowError(.io, "\(path): cannot read: \(SystemError.reason(error))")
    }
    let json: Any
    do { json = try JSONSerialization.jsonObject(with: data) } catch {
        throw WinnowError(.format, "\(path): not valid JSON: \(error.localizedDescription)")
    }
    guard let object = json as? [String: Any] else { throw WinnowError(.format, "\(path): not a JSON object") }
    return object
}
