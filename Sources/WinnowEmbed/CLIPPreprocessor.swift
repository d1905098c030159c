import WinnowCore

/// Turns an RGB image into the CLIP pixel tensor exactly as transformers 5's `CLIPImageProcessorPil` does: the short
/// side to `shortestEdge` with Pillow's bicubic (two uint8 passes, horizontal first, 22-bit fixed-point weights), the
/// long side to `int(shortestEdge * long / short)`, a centre crop at `floor((size - crop) / 2)`, then
/// `(x / 255 - mean) / std` per channel. Alpha is the decoder's business (composited over white, as transformers 5
/// does). Only the pixels the crop keeps are computed.
public struct CLIPPreprocessor: Sendable, Equatable {
    /// Target of the short side (`size.shortest_edge`).
    public var shortestEdge: Int
    /// Crop side (`crop_size`), which must equal the model's `image_size`.
    public var cropSize: Int
    /// Per-channel mean (`image_mean`).
    public var mean: [Float]
    /// Per-channel standard deviation (`image_std`).
    public var std: [Float]

    /// OpenAI CLIP's values (224, 224, and its mean and standard deviation).
    public init(
        shortestEdge: Int = 224, cropSize: Int = 224, mean: [Float] = [0.48145466, 0.4578275, 0.40821073],
        std: [Float] = [0.26862954, 0.26130258, 0.27577711]
    ) {
        self.shortestEdge = shortestEdge
        self.cropSize = cropSize
        self.mean = mean
        self.std = std
    }

    /// Reads a `preprocessor_config.json`; anything this implementation would not reproduce is an error naming the
    /// field.
    public init(path: String) throws(WinnowError) {
        let o = try readJSONObject(path)
        func side(_ key: String, _ inner: [String]) throws(WinnowError) -> Int? {
            guard let value = o[key] else { return nil }
            if let n = value as? Int { return n }
            if let dict = value as? [String: Any] {
                let sides = inner.compactMap { dict[$0] as? Int }
                if !sides.isEmpty && sides.allSatisfy({ $0 == sides[0] }) { return sides[0] }
            }
            throw WinnowError(.config, "\(path): \(key) \(value) is not supported (a square crop, a shortest edge)")
        }
        if let resample = o["resample"] as? Int, resample != 3 {
            throw WinnowError(.config, "\(path): resample \(resample) is not supported; Winnow resizes bicubic (3)")
        }
        for flag in ["do_resize", "do_center_crop", "do_rescale", "do_normalize"] {
            if let on = o[flag] as? Bool, !on {
                throw WinnowError(.config, "\(path): \(flag) false is not supported")
            }
        }
        if let factor = o["rescale_factor"] as? Double, abs(factor - 1.0 / 255) > 1e-9 {
            throw WinnowError(.config, "\(path): rescale_factor \(factor) is not supported (1/255)")
        }
        var p = CLIPPreprocessor()
        if let s = try side("size", ["shortest_edge", "height"]) { p.shortestEdge = s }
        if let s = try side("crop_size", ["height", "width"]) { p.cropSize = s }
        for key in ["image_mean", "image_std"] {
            guard let value = o[key] else { continue }
            guard let list = value as? [Double], list.count == 3 else {
                throw WinnowError(.config, "\(path): \(key) must be three numbers")
            }
            let floats = list.map { Float($0) }
            if key == "image_mean" { p.mean = floats } else { p.std = floats }
        }
        if p.std.contains(where: { $0 <= 0 }) {
            throw WinnowError(.config, "\(path): image_std must be positive")
        }
        guard p.shortestEdge >= p.cropSize else {
            throw WinnowError(
                .config, "\(path): shortest edge \(p.shortestEdge) is smaller than the crop \(p.cropSize)")
        }
        self = p
    }

    /// The mean and standard deviation of OpenCLIP's `preprocess_cfg` (OpenAI's when absent), at `imageSize`.
    /// open_clip's own pipeline differs in details this one does not copy: the crop offset is rounded half to even
    /// and images become RGB after resizing (see docs: alpha and palette images).
    public init(openCLIPPath path: String, imageSize: Int) throws(WinnowError) {
        let root = try readJSONObject(path)
        self.init(shortestEdge: imageSize, cropSize: imageSize)
        guard let cfg = root["preprocess_cfg"] as? [String: Any] else { return }
        for key in ["mean", "std"] {
            guard let value = cfg[key] else { continue }
            guard let list = value as? [Double], list.count == 3, key == "mean" || list.allSatisfy({ $0 > 0 }) else {
                throw WinnowError(.config, "\(path): preprocess_cfg.\(key) must be three (positive) numbers")
            }
            if key == "mean" { mean = list.map { Float($0) } } else { std = list.map { Float($0) } }
        }
        if let mode = cfg["interpolation"] as? String, mode != "bicubic" {
            throw WinnowError(.config, "\(path): preprocess_cfg.interpolation \"\(mode)\" is not supported (bicubic)")
        }
        if let mode = cfg["resize_mode"] as? String, mode != "shortest" {
            throw WinnowError(.config, "\(path): preprocess_cfg.resize_mode \"\(mode)\" is not supported (shortest)")
        }
    }

    /// The size before the crop: short side `shortestEdge`, long side truncated.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        if width <= height {
            return (shortestEdge, shortestEdge * height / width)
        }
        return (shortestEdge * width / height, shortestEdge)
    }

    /// The `cropSize` x `cropSize` x 3 uint8 crop of an interleaved RGB image.
    public func crop(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        precondition(pixels.count == width * height * 3 && width > 0 && height > 0, "RGB buffer size")
        let size = resizedSize(width: width, height: height)
        let left = (size.width - cropSize) / 2
        let top = (size.height - cropSize) / 2
        let horizontal = BicubicTaps(input: width, output: size.width, first: left, count: cropSize)
        let vertical = BicubicTaps(input: height, output: size.height, first: top, count: cropSize)
        // Source rows the kept output rows read.
        let rowFirst = vertical.starts[0]
        let rowEnd = vertical.starts[cropSize - 1] + vertical.lengths[cropSize - 1]
        let crop = cropSize
        var temp = [UInt8](repeating: 0, count: (rowEnd - rowFirst) * crop * 3)
        pixels.withUnsafeBufferPointer { src in
            temp.withUnsafeMutableBufferPointer { dst in
                if width == size.width {
                    // Pillow skips a pass whose size does not change.
                    for y in rowFirst..<rowEnd {
                        for i in 0..<(crop * 3) { dst[(y - rowFirst) * crop * 3 + i] = src[(y * width + left) * 3 + i] }
                    }
                    return
                }
                for y in rowFirst..<rowEnd {
                    let row = src.baseAddress! + y * width * 3
                    let out = dst.baseAddress! + (y - rowFirst) * crop * 3
                    for x in 0..<crop {
                        let k = horizontal.weights(x)
                        let start = horizontal.starts[x]
                        var r: Int32 = 1 << 21
                        var g: Int32 = 1 << 21
                        var b: Int32 = 1 << 21
                        for (t, w) in k.enumerated() {
                            let p = row + (start + t) * 3
                            r &+= Int32(p[0]) &* w
                            g &+= Int32(p[1]) &* w
                            b &+= Int32(p[2]) &* w
                        }
                        out[3 * x] = clip8(r)
                        out[3 * x + 1] = clip8(g)
                        out[3 * x + 2] = clip8(b)
                    }
                }
            }
        }
        if height == size.height {
            return Array(temp[((top - rowFirst) * crop * 3)..<((top - rowFirst + crop) * crop * 3)])
        }
        var result = [UInt8](repeating: 0, count: crop * crop * 3)
        temp.withUnsafeBufferPointer { src in
            for y in 0..<crop {
                let k = vertical.weights(y)
                let start = vertical.starts[y] - rowFirst
                for i in 0..<(crop * 3) {
                    var s: Int32 = 1 << 21
                    for (t, w) in k.enumerated() { s &+= Int32(src[(start + t) * crop * 3 + i]) &* w }
                    result[y * crop * 3 + i] = clip8(s)
                }
            }
        }
        return result
    }

    /// Writes the `[3, cropSize, cropSize]` float32 tensor of an interleaved RGB image to `output`.
    public func tensor(_ pixels: [UInt8], width: Int, height: Int, into output: UnsafeMutablePointer<Float>) {
        let crop = self.crop(pixels, width: width, height: height)
        let plane = cropSize * cropSize
        for c in 0..<3 {
            let m = mean[c]
            let s = std[c]
            for i in 0..<plane {
                let x = Float(Double(crop[3 * i + c]) * (1.0 / 255.0))
                output[c * plane + i] = (x - m) / s
            }
        }
    }

    @inline(__always) private func clip8(_ v: Int32) -> UInt8 {
        UInt8(clamping: v >> 22)
    }
}

/// Pillow's bicubic (a = -0.5) taps for a range of output positions: for each, the first source index and the
/// weights in 22-bit fixed point.
struct BicubicTaps {
    var starts: [Int] = []
    var lengths: [Int] = []
    private var packed: [Int32] = []
    private var width = 0

    init(input: Int, output: Int, first: Int, count: Int) {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = 2 * filterScale
        width = Int(support.rounded(.up)) * 2 + 1
        packed = [Int32](repeating: 0, count: count * width)
        for i in 0..<count {
            let center = (Double(first + i) + 0.5) * scale
            let low = max(Int(center - support + 0.5), 0)
            let high = min(Int(center + support + 0.5), input)
            var w = [Double](repeating: 0, count: high - low)
            var total = 0.0
            for x in low..<high {
                let v = Self.cubic((Double(x) - center + 0.5) / filterScale)
                w[x - low] = v
                total += v
            }
            for t in 0..<w.count {
                let v = total != 0 ? w[t] / total : w[t]
                packed[i * width + t] = Int32(
                    v < 0 ? (-0.5 + v * 4_194_304).rounded(.towardZero) : (0.5 + v * 4_194_304).rounded(.towardZero))
            }
            starts.append(low)
            lengths.append(high - low)
        }
    }

    /// The fixed-point weights of output position `i` (relative to `first`).
    @inline(__always) func weights(_ i: Int) -> ArraySlice<Int32> {
        packed[(i * width)..<(i * width + lengths[i])]
    }

    static func cubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }
}
