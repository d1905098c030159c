import Foundation
import WinnowCore
import WinnowTensor

/// `y = x · Wᵀ + b` with `W` stored `[out, in]` row-major, as in the checkpoint.
struct Linear: Sendable {
    var weight: [Float]
    let bias: [Float]?
    let inputs: Int
    let outputs: Int
    /// The layer in int8 (`CLIPModel.Precision.int8`); its float weights are then dropped.
    var int8: QuantizedGEMM.Linear?

    init(weight: [Float], bias: [Float]?, inputs: Int, outputs: Int) {
        self.weight = weight
        self.bias = bias
        self.inputs = inputs
        self.outputs = outputs
    }

    /// Layers with fewer inputs stay float32 at int8 precision: their products are too small for the int8 kernels to
    /// gain anything, and each output averages the rounding of too few products (on the bundled 32- and 64-wide
    /// encoder, quantising them moved image-text similarities by up to 0.024; docs/BENCHMARKS.md). Every layer of a
    /// real CLIP (512 inputs and up) is quantised.
    static let int8MinimumInputs = 128

    /// The same layer with int8 weights, or itself when it has fewer than `int8MinimumInputs` inputs.
    func quantized() -> Linear {
        guard inputs >= Linear.int8MinimumInputs else { return self }
        var l = self
        l.int8 = QuantizedGEMM.Linear(weight: weight, inputs: inputs, outputs: outputs)
        l.weight = []
        return l
    }

    /// Bytes its weights take resident.
    var residentBytes: Int { (int8?.residentBytes ?? 4 * weight.count) + 4 * (bias?.count ?? 0) }

    /// `output = input · Wᵀ (+ output when accumulating)`, then `+ b` and `activation`.
    func apply(
        _ input: UnsafePointer<Float>, rows: Int, inputStride: Int? = nil, into output: UnsafeMutablePointer<Float>,
        accumulate: Bool = false, activation: Kernels.Activation = .identity
    ) {
        if let q = int8 {
            q.apply(input, rows: rows, inputStride: inputStride, into: output, accumulate: accumulate)
        } else {
            weight.withUnsafeBufferPointer { w in
                BLAS.sgemm(
                    transB: true, m: rows, n: outputs, k: inputs, a: input, lda: inputStride ?? inputs,
                    b: w.baseAddress!, ldb: inputs, beta: accumulate ? 1 : 0, c: output, ldc: outputs)
            }
        }
        if bias == nil && activation == .identity { return }
        if let bias {
            bias.withUnsafeBufferPointer {
                Kernels.biasActivation(output, rows: rows, cols: outputs, bias: $0.baseAddress!, activation: activation)
            }
        } else {
            Kernels.biasActivation(output, rows: rows, cols: outputs, bias: nil, activation: activation)
        }
    }
}

/// A LayerNorm's weight and bias.
struct LayerNorm: Sendable {
    let weight: [Float]
    let bias: [Float]
    let eps: Float

    func apply(
        _ input: UnsafePointer<Float>, rows: Int, inputStride: Int? = nil, into output: UnsafeMutablePointer<Float>
    ) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Kernels.layerNorm(
                    input, rows: rows, cols: weight.count, inputStride: inputStride, weight: w.baseAddress!,
                    bias: b.baseAddress!, eps: eps, output: output)
            }
        }
    }
}

/// One pre-LayerNorm transformer block; q, k and v are one matrix product.
struct EncoderLayer: Sendable {
    let norm1: LayerNorm
    let qkv: Linear
    let out: Linear
    let norm2: LayerNorm
    let fc1: Linear
    let fc2: Linear
}

/// A stack of encoder layers over a batch of equal-length sequences.
struct Transformer: Sendable {
    let layers: [EncoderLayer]
    let config: CLIPTowerConfig

    /// Runs every layer over `x` (`batch` sequences of `length` rows of `hidden`), in place. `causal` limits each
    /// position to itself and earlier ones. Only row `outputs[b]` of sequence `b` is read afterwards, so the last
    /// layer computes attention, projection and MLP for those rows alone (keys and values still come from every
    /// row); the other rows of `x` are left at the previous layer's values.
    func forward(
        _ x: UnsafeMutablePointer<Float>, batch: Int, length: Int, causal: Bool, outputs: [Int], scratch: Scratch
    ) {
        let d = config.hidden
        let rows = batch * length
        let heads = config.heads
        let headWidth = d / heads
        let scale = 1 / Float(headWidth).squareRoot()
        let normed = scratch.buffer(0, count: rows * d)
        let wide = scratch.buffer(1, count: rows * max(3 * d, config.intermediate))
        let context = scratch.buffer(2, count: rows * d)
        let scores = scratch.buffer(3, count: length * length)
        let picked = scratch.buffer(4, count: batch * d)
        for (index, layer) in layers.enumerated() {
            let last = index == layers.count - 1
            layer.norm1.apply(x, rows: rows, into: normed)
            layer.qkv.apply(normed, rows: rows, into: wide)
            for b in 0..<batch {
                let base = wide + b * length * 3 * d
                // All queries, or in the last layer the one row that is read afterwards.
                let first = last ? outputs[b] : 0
                let queries = last ? 1 : length
                let keys = causal && last ? first + 1 : length
                for h in 0..<heads {
                    let q = base + first * 3 * d + h * headWidth
                    let k = base + d + h * headWidth
                    let v = base + 2 * d + h * headWidth
                    BLAS.sgemm(
                        transB: true, m: queries, n: keys, k: headWidth, alpha: scale, a: q, lda: 3 * d, b: k,
                        ldb: 3 * d, c: scores, ldc: keys)
                    if causal && !last {
                        Kernels.softmaxRows(scores, rows: queries, cols: keys, ld: keys, causal: true)
                    } else {
                        Kernels.softmaxRows(scores, rows: queries, cols: keys, ld: keys)
                    }
                    let out = last ? context + b * d + h * headWidth : context + b * length * d + h * headWidth
                    BLAS.sgemm(
                        m: queries, n: headWidth, k: keys, a: scores, lda: keys, b: v, ldb: 3 * d, c: out, ldc: d)
                }
            }
            if last {
                for b in 0..<batch { (picked + b * d).update(from: x + (b * length + outputs[b]) * d, count: d) }
                layer.out.apply(context, rows: batch, into: picked, accumulate: true)
                layer.norm2.apply(picked, rows: batch, into: normed)
                layer.fc1.apply(normed, rows: batch, into: wide, activation: config.activation)
                layer.fc2.apply(wide, rows: batch, into: picked, accumulate: true)
                for b in 0..<batch { (x + (b * length + outputs[b]) * d).update(from: picked + b * d, count: d) }
            } else {
                layer.out.apply(context, rows: rows, into: x, accumulate: true)
                layer.norm2.apply(x, rows: rows, into: normed)
                layer.fc1.apply(normed, rows: rows, into: wide, activation: config.activation)
                layer.fc2.apply(wide, rows: rows, into: x, accumulate: true)
            }
        }
    }
}

/// A CLIP model: the vision transformer, the text transformer, their projections and the logit scale, loaded from
/// a Hugging Face checkpoint directory (config.json + model.safetensors) or OpenCLIP's key layout in the same file.
public final class CLIPModel: Sendable {
    /// The arithmetic of the towers' linear layers.
    public enum Precision: String, Sendable, CaseIterable {
        /// float32 throughout (OpenBLAS sgemm).
        case float32
        /// The encoder layers' linear layers (q/k/v, attention output, MLP) and the patch embedding in int8:
        /// weights per output channel, activations per token (per patch), int32 sums (`QuantizedGEMM`); LayerNorm,
        /// softmax, attention's products, the residual stream, the final projections and any linear layer with
        /// fewer than 128 inputs stay float32.
        case int8
    }

    /// The checkpoint's shape.
    public let config: CLIPConfig
    /// The linear layers' arithmetic.
    public let precision: Precision

    /// How many of the linear layers (encoder layers' and the patch embedding) run in int8 and in float32.
    public var linearLayers: (int8: Int, float32: Int) {
        let all = (vision.layers + text.layers).flatMap { [$0.qkv, $0.out, $0.fc1, $0.fc2] } + [patchEmbedding]
        let int8 = all.filter { $0.int8 != nil }.count
        return (int8, all.count - int8)
    }

    /// Bytes the model's weights take resident: every tensor it keeps, int8 layers packed.
    public var residentBytes: Int {
        let norms = (vision.layers + text.layers).flatMap { [$0.norm1, $0.norm2] } + [preNorm, postNorm, finalNorm]
        let embeddings =
            4 * (classEmbedding.count + visionPositions.count + textPositions.count) + tokenEmbedding.bytes
        return encoderLinearBytes + patchEmbedding.residentBytes + visualProjection.residentBytes
            + textProjection.residentBytes + embeddings + norms.reduce(0) { $0 + 4 * ($1.weight.count + $1.bias.count) }
    }

    /// Bytes the encoder layers' linear weights take resident (int8: packed weights and per-channel scales).
    public var encoderLinearBytes: Int {
        (vision.layers + text.layers).reduce(0) {
            $0 + $1.qkv.residentBytes + $1.out.residentBytes + $1.fc1.residentBytes + $1.fc2.residentBytes
        }
    }
    /// `exp(logit_scale)` from the checkpoint: the factor from cosine to logit.
    public let logitScale: Float
    /// Threads a batch is split over. Each runs its share start to finish with single-threaded OpenBLAS calls, so
    /// the element-wise work is parallel too and no BLAS thread spins while another thread normalises.
    public let threads: Int
    /// Activation buffers, reused by the parts of successive batches.
    private let scratches = ScratchPool()
    let vision: Transformer
    let text: Transformer
    /// The patch convolution as a linear layer over flattened patches: [hidden, 3 * patch * patch], no bias.
    let patchEmbedding: Linear
    let classEmbedding: [Float]
    let visionPositions: [Float]  // [1 + grid², hidden]
    let preNorm: LayerNorm
    let postNorm: LayerNorm
    let visualProjection: Linear
    /// [vocabulary, hidden]: float32, or at int8 precision float16 (half of the text tower's largest tensor; a
    /// float16 rounding, relative 5e-4, is below the int8 layers' own).
    let tokenEmbedding: TokenTable
    let textPositions: [Float]  // [context, hidden]
    let finalNorm: LayerNorm
    let textProjection: Linear

    /// Loads `directory/config.json` and `directory/model.safetensors` (Hugging Face), or
    /// `directory/open_clip_config.json` and `directory/open_clip_model.safetensors` (OpenCLIP).
    public convenience init(directory: String, threads: Int? = nil, precision: Precision = .float32)
        throws(WinnowError)
    {
        let fm = FileManager.default
        if !fm.fileExists(atPath: directory + "/config.json"),
            fm.fileExists(atPath: directory + "/open_clip_config.json")
        {
            let config = try CLIPConfig(openCLIPPath: directory + "/open_clip_config.json")
            let tensors = try SafeTensors(path: directory + "/open_clip_model.safetensors")
            try self.init(config: config, tensors: tensors, threads: threads, precision: precision)
            return
        }
        let config = try CLIPConfig(path: directory + "/config.json")
        let tensors = try SafeTensors(path: directory + "/model.safetensors")
        try self.init(config: config, tensors: tensors, threads: threads, precision: precision)
    }

    /// Builds the model from `tensors`, checking every shape against `config`. `threads` defaults to the number of
    /// cores; with more than one, OpenBLAS is set (process-wide) to one thread per call.
    public init(
        config: CLIPConfig, tensors: SafeTensors, threads: Int? = nil, precision: Precision = .float32
    ) throws(WinnowError) {
        self.config = config
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        if self.threads > 1 { BLAS.threads = 1 }
        let v = config.vision
        let t = config.text
        // OpenCLIP names the same tensors differently, fuses q, k and v, and stores projections as [in, out].
        let openCLIP = tensors.entries["visual.conv1.weight"] != nil
        func norm(_ name: String, _ width: Int, _ eps: Float) throws(WinnowError) -> LayerNorm {
            LayerNorm(
                weight: try tensors.floats(name + ".weight", shape: [width]),
                bias: try tensors.floats(name + ".bias", shape: [width]), eps: eps)
        }
        func linear(_ name: String, _ inputs: Int, _ outputs: Int, bias: Bool = true) throws(WinnowError) -> Linear {
            Linear(
                weight: try tensors.floats(name + ".weight", shape: [outputs, inputs]),
                bias: bias ? try tensors.floats(name + ".bias", shape: [outputs]) : nil, inputs: inputs,
                outputs: outputs)
        }
        func projection(_ name: String, _ inputs: Int, _ outputs: Int) throws(WinnowError) -> Linear {
            guard openCLIP else { return try linear(name, inputs, outputs, bias: false) }
            let stored = try tensors.floats(name, shape: [inputs, outputs])
            var weight = [Float](repeating: 0, count: stored.count)
            for i in 0..<inputs { for o in 0..<outputs { weight[o * inputs + i] = stored[i * outputs + o] } }
            return Linear(weight: weight, bias: nil, inputs: inputs, outputs: outputs)
        }
        func layer(_ p: String, _ c: CLIPTowerConfig) throws(WinnowError) -> EncoderLayer {
            if openCLIP {
                return EncoderLayer(
                    norm1: try norm(p + ".ln_1", c.hidden, c.eps),
                    qkv: Linear(
                        weight: try tensors.floats(p + ".attn.in_proj_weight", shape: [3 * c.hidden, c.hidden]),
                        bias: try tensors.floats(p + ".attn.in_proj_bias", shape: [3 * c.hidden]), inputs: c.hidden,
                        outputs: 3 * c.hidden),
                    out: try linear(p + ".attn.out_proj", c.hidden, c.hidden),
                    norm2: try norm(p + ".ln_2", c.hidden, c.eps),
                    fc1: try linear(p + ".mlp.c_fc", c.hidden, c.intermediate),
                    fc2: try linear(p + ".mlp.c_proj", c.intermediate, c.hidden))
            }
            let q = try linear(p + ".self_attn.q_proj", c.hidden, c.hidden)
            let k = try linear(p + ".self_attn.k_proj", c.hidden, c.hidden)
            let v = try linear(p + ".self_attn.v_proj", c.hidden, c.hidden)
            return EncoderLayer(
                norm1: try norm(p + ".layer_norm1", c.hidden, c.eps),
                qkv: Linear(
                    weight: q.weight + k.weight + v.weight, bias: (q.bias ?? []) + (k.bias ?? []) + (v.bias ?? []),
                    inputs: c.hidden, outputs: 3 * c.hidden),
                out: try linear(p + ".self_attn.out_proj", c.hidden, c.hidden),
                norm2: try norm(p + ".layer_norm2", c.hidden, c.eps),
                fc1: try linear(p + ".mlp.fc1", c.hidden, c.intermediate),
                fc2: try linear(p + ".mlp.fc2", c.intermediate, c.hidden))
        }
        func inPrecision(_ l: EncoderLayer) -> EncoderLayer {
            guard precision == .int8 else { return l }
            return EncoderLayer(
                norm1: l.norm1, qkv: l.qkv.quantized(), out: l.out.quantized(), norm2: l.norm2,
                fc1: l.fc1.quantized(), fc2: l.fc2.quantized())
        }
        func transformer(_ prefix: String, _ c: CLIPTowerConfig) throws(WinnowError) -> Transformer {
            var layers: [EncoderLayer] = []
            // Each layer is quantised as soon as it is read, so that one layer's floats at most are held at once.
            for i in 0..<c.layers { layers.append(inPrecision(try layer("\(prefix).\(i)", c))) }
            if tensors.entries.keys.contains(where: { $0.hasPrefix("\(prefix).\(c.layers).") }) {
                throw WinnowError(
                    .format, "\(tensors.path): has more \(prefix) layers than the config's \(c.layers)")
            }
            return Transformer(layers: layers, config: c)
        }
        let patch = config.patchSize
        let grid = config.gridSide

        self.precision = precision
        vision = try transformer(openCLIP ? "visual.transformer.resblocks" : "vision_model.encoder.layers", v)
        text = try transformer(openCLIP ? "transformer.resblocks" : "text_model.encoder.layers", t)
        let patchLinear = Linear(
            weight: try tensors.floats(
                openCLIP ? "visual.conv1.weight" : "vision_model.embeddings.patch_embedding.weight",
                shape: [v.hidden, 3, patch, patch]), bias: nil, inputs: 3 * patch * patch, outputs: v.hidden)
        patchEmbedding = precision == .int8 ? patchLinear.quantized() : patchLinear
        classEmbedding = try tensors.floats(
            openCLIP ? "visual.class_embedding" : "vision_model.embeddings.class_embedding", shape: [v.hidden])
        visionPositions = try tensors.floats(
            openCLIP ? "visual.positional_embedding" : "vision_model.embeddings.position_embedding.weight",
            shape: [1 + grid * grid, v.hidden])
        preNorm = try norm(openCLIP ? "visual.ln_pre" : "vision_model.pre_layrnorm", v.hidden, v.eps)
        postNorm = try norm(openCLIP ? "visual.ln_post" : "vision_model.post_layernorm", v.hidden, v.eps)
        visualProjection = try projection(openCLIP ? "visual.proj" : "visual_projection", v.hidden, config.projection)
        let tokens = try tensors.floats(
            openCLIP ? "token_embedding.weight" : "text_model.embeddings.token_embedding.weight",
            shape: [config.vocabulary, t.hidden])
        tokenEmbedding = precision == .int8 ? .half(tokens.map { Float16($0) }) : .float(tokens)
        textPositions = try tensors.floats(
            openCLIP ? "positional_embedding" : "text_model.embeddings.position_embedding.weight",
            shape: [config.contextLength, t.hidden])
        finalNorm = try norm(openCLIP ? "ln_final" : "text_model.final_layer_norm", t.hidden, t.eps)
        textProjection = try projection("text_projection", t.hidden, config.projection)
        let scale = try tensors.floats("logit_scale")
        guard scale.count == 1 else {
            throw WinnowError(.format, "\(tensors.path): logit_scale has \(scale.count) values, not 1")
        }
        logitScale = Float(Foundation.exp(Double(scale[0])))
    }

    /// Image embeddings (not normalised), `count` rows of `config.projection`, for `count` preprocessed images laid
    /// out as `[count, 3, imageSize, imageSize]` float32.
    public func encodeImages(_ pixels: [Float], count: Int) -> [Float] {
        let plane = 3 * config.imageSize * config.imageSize
        precondition(pixels.count == count * plane, "pixel tensor does not match the image count")
        return splitBatch(count) { range in
            Array(pixels[(range.lowerBound * plane)..<(range.upperBound * plane)])
        } run: { part, n in
            encodeImageBatch(part, count: n)
        }
    }

    /// Runs `run` on up to `threads` consecutive parts of a batch of `count` and joins the rows in order.
    private func splitBatch<Input: Sendable>(
        _ count: Int, slice: (Range<Int>) -> Input, run: @Sendable (Input, Int) -> [Float]
    ) -> [Float] {
        let parts = min(threads, count)
        if parts <= 1 { return run(slice(0..<count), count) }
        let ranges = (0..<parts).map { p in (p * count / parts)..<((p + 1) * count / parts) }
        let inputs = ranges.map(slice)
        let results = PartResults(parts)
        // Parts write disjoint slots of `results`.
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            results.set(p, run(inputs[p], ranges[p].count))
        }
        return results.joined()
    }

    private func encodeImageBatch(_ pixels: [Float], count: Int) -> [Float] {
        let d = config.vision.hidden
        let side = config.imageSize
        let patch = config.patchSize
        let grid = config.gridSide
        let patches = grid * grid
        let length = 1 + patches
        let patchSize = 3 * patch * patch
        var result = [Float](repeating: 0, count: count * config.projection)
        guard count > 0 else { return result }
        scratches.with { scratch in
            // Patches as rows in (channel, row, column) order, the patch convolution's weight order: one product.
            let columns = scratch.buffer(5, count: count * patches * patchSize)
            pixels.withUnsafeBufferPointer { px in
                for b in 0..<count {
                    for py in 0..<grid {
                        for pxIndex in 0..<grid {
                            var o = ((b * patches) + py * grid + pxIndex) * patchSize
                            for c in 0..<3 {
                                for y in 0..<patch {
                                    let src = ((b * 3 + c) * side + py * patch + y) * side + pxIndex * patch
                                    (columns + o).update(from: px.baseAddress! + src, count: patch)
                                    o += patch
                                }
                            }
                        }
                    }
                }
            }
            let x = scratch.buffer(6, count: count * length * d)
            let embedded = scratch.buffer(7, count: count * patches * d)
            patchEmbedding.apply(columns, rows: count * patches, into: embedded)
            for b in 0..<count {
                let row0 = x + b * length * d
                for i in 0..<d { row0[i] = classEmbedding[i] + visionPositions[i] }
                for p in 0..<patches {
                    let row = row0 + (1 + p) * d
                    let e = embedded + (b * patches + p) * d
                    for i in 0..<d { row[i] = e[i] + visionPositions[(1 + p) * d + i] }
                }
            }
            preNorm.apply(x, rows: count * length, into: x)
            vision.forward(
                x, batch: count, length: length, causal: false, outputs: Array(repeating: 0, count: count),
                scratch: scratch)
            let pooled = scratch.buffer(8, count: count * d)
            postNorm.apply(x, rows: count, inputStride: length * d, into: pooled)
            result.withUnsafeMutableBufferPointer {
                visualProjection.apply(pooled, rows: count, into: $0.baseAddress!)
            }
        }
        return result
    }

    /// The position the text tower pools at: the first end token (or, for checkpoints whose config says
    /// `eos_token_id` 2, the first occurrence of the largest id, as transformers and open_clip do).
    public func poolingPosition(_ ids: [Int32]) -> Int {
        if config.eosTokenID == 2 {
            var best = 0
            for (i, id) in ids.enumerated() where id > ids[best] { best = i }
            return best
        }
        return ids.firstIndex(of: Int32(config.eosTokenID)) ?? (ids.count - 1)
    }

    /// Text embeddings (not normalised), one row of `config.projection` per token sequence. Each sequence has at
    /// most `config.contextLength` ids. Because of the causal mask nothing after the pooled position can change the
    /// result, so the batch runs only as far as its longest pooled position.
    public func encodeTexts(_ sequences: [[Int32]]) -> [Float] {
        splitBatch(sequences.count) {
            Array(sequences[$0])
        } run: { part, _ in
            encodeTextBatch(part)
        }
    }

    private func encodeTextBatch(_ sequences: [[Int32]]) -> [Float] {
        let d = config.text.hidden
        let count = sequences.count
        var result = [Float](repeating: 0, count: count * config.projection)
        guard count > 0 else { return result }
        let pools = sequences.map(poolingPosition)
        let length = pools.max()! + 1
        scratches.with { scratch in
            let x = scratch.buffer(6, count: count * length * d)
            for (b, ids) in sequences.enumerated() {
                precondition(ids.count <= config.contextLength, "token sequence longer than the context")
                for t in 0..<length {
                    let row = x + (b * length + t) * d
                    // Past a sequence's own end (shorter sequences in the batch) the rows are padding nobody reads.
                    let token = t < ids.count ? Int(ids[t]) : config.eosTokenID
                    precondition(token >= 0 && token < config.vocabulary, "token id outside the vocabulary")
                    switch tokenEmbedding {
                    case .float(let e): for i in 0..<d { row[i] = e[token * d + i] + textPositions[t * d + i] }
                    case .half(let e): for i in 0..<d { row[i] = Float(e[token * d + i]) + textPositions[t * d + i] }
                    }
                }
            }
            text.forward(x, batch: count, length: length, causal: true, outputs: pools, scratch: scratch)
            let pooled = scratch.buffer(8, count: count * d)
            for b in 0..<count { finalNorm.apply(x + (b * length + pools[b]) * d, rows: 1, into: pooled + b * d) }
            result.withUnsafeMutableBufferPointer { textProjection.apply(pooled, rows: count, into: $0.baseAddress!) }
        }
        return result
    }
}

/// One result slot per part of a batch, filled from `concurrentPerform`.
private final class PartResults: @unchecked Sendable {
    // @unchecked: each slot is written by exactly one iteration and read only after all have finished. The slots are
    // raw memory allocated once: writing one touches no shared Swift array (a `withUnsafeMutableBufferPointer` on a
    // shared array property from several threads is a simultaneous mutating access, which may copy the array and
    // lose another part's result).
    private let slots: UnsafeMutableBufferPointer<[Float]>

    init(_ count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [])
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    func set(_ index: Int, _ value: [Float]) { slots[index] = value }

    func joined() -> [Float] { slots.flatMap { $0 } }
}

/// The token embedding table at its stored width.
enum TokenTable: Sendable {
    case float([Float])
    case half([Float16])

    var bytes: Int {
        switch self {
        case .float(let e): 4 * e.count
        case .half(let e): 2 * e.count
        }
    }
}
