internal import CResample

/// How images are fitted to `image_size`, as img2dataset names the modes.
public enum ResizeMode: String, Sendable, CaseIterable {
    /// Keep the image as it is.
    case no
    /// Resize so that the longer side is `size`, then pad to a `size` square with white.
    case border
    /// Resize so that the shorter side is `size`.
    case keepRatio = "keep_ratio"
    /// Resize so that the longer side is `size`.
    case keepRatioLargest = "keep_ratio_largest"
    /// Resize so that the shorter side is `size`, then crop the centre square.
    case centerCrop = "center_crop"
}

/// The filter used when shrinking.
public enum ResampleFilter: String, Sendable, CaseIterable {
    /// Averages every source pixel an output pixel covers (OpenCV's INTER_AREA, img2dataset's default): fastest.
    case area
    /// Cubic convolution (a = -0.5) stretched over the reduction, as Pillow's BICUBIC: sharper, within 40 dB PSNR
    /// of Pillow's LANCZOS on natural photographs where the area filter is not.
    case bicubic
}

/// Resampling: an area (box) filter or an antialiased bicubic when shrinking, bilinear interpolation when
/// enlarging.
public enum Resizer {
    /// The size `mode` scales a `width` x `height` image to before any crop or pad.
    public static func scaledSize(width: Int, height: Int, size: Int, mode: ResizeMode, upscale: Bool) -> (Int, Int) {
        let target: Double
        switch mode {
        case .no: return (width, height)
        case .keepRatio, .centerCrop: target = Double(size) / Double(min(width, height))
        case .keepRatioLargest, .border: target = Double(size) / Double(max(width, height))
        }
        if target >= 1 && !upscale { return (width, height) }
        return (max(1, Int((Double(width) * target).rounded())), max(1, Int((Double(height) * target).rounded())))
    }

    /// Whether `mode` leaves a `width` x `height` image exactly as it is (no resize, crop or pad).
    public static func leavesUnchanged(width: Int, height: Int, size: Int, mode: ResizeMode, upscale: Bool) -> Bool {
        let (w, h) = scaledSize(width: width, height: height, size: size, mode: mode, upscale: upscale)
        guard w == width && h == height else { return false }
        switch mode {
        case .centerCrop: return min(w, h, size) == w && w == h
        case .border: return max(w, h, size) == w && w == h
        default: return true
        }
    }

    /// The largest JPEG DCT scale denominator (8, 4, 2 or 1) whose output still covers what `mode` needs: at least
    /// the target size for the area filter, and twice it for the bicubic one, whose quality needs detail the DCT's
    /// own reduction removes.
    public static func jpegScaleDenominator(
        width: Int, height: Int, size: Int, mode: ResizeMode, filter: ResampleFilter = .area
    ) -> Int {
        let side: Int
        switch mode {
        case .no: return 1
        case .keepRatio, .centerCrop: side = min(width, height)
        case .keepRatioLargest, .border: side = max(width, height)
        }
        let needed = filter == .bicubic ? 2 * size : size
        for d in [8, 4, 2] where (side + d - 1) / d >= needed { return d }
        return 1
    }

    /// Applies `mode` to `image`. A centre crop only computes the pixels it keeps.
    public static func apply(
        _ image: RGBImage, size: Int, mode: ResizeMode, upscale: Bool, filter: ResampleFilter = .area
    ) -> RGBImage {
        let (w, h) = scaledSize(width: image.width, height: image.height, size: size, mode: mode, upscale: upscale)
        switch mode {
        case .centerCrop:
            let side = min(w, h, size)
            let window = Window(x: (w - side) / 2, y: (h - side) / 2, width: side, height: side)
            if w == image.width && h == image.height {
                return crop(image, x: window.x, y: window.y, width: side, height: side)
            }
            return resize(image, width: w, height: h, window: window, filter: filter)
        case .border:
            let out =
                (w == image.width && h == image.height) ? image : resize(image, width: w, height: h, filter: filter)
            return pad(out, to: max(out.width, out.height, size))
        default:
            return (w == image.width && h == image.height) ? image : resize(image, width: w, height: h, filter: filter)
        }
    }

    /// A rectangle of the resized image.
    public struct Window: Sendable, Equatable {
        public var x: Int
        public var y: Int
        public var width: Int
        public var height: Int

        /// Creates a window.
        public init(x: Int, y: Int, width: Int, height: Int) {
            self.x = x
            self.y = y
            self.width = width
            self.height = height
        }
    }

    /// Resamples `image` to `width` x `height`.
    public static func resize(_ image: RGBImage, width: Int, height: Int, filter: ResampleFilter = .area) -> RGBImage {
        resize(
            image, width: width, height: height, window: Window(x: 0, y: 0, width: width, height: height),
            filter: filter)
    }

    /// Resamples `image` to `width` x `height` and returns the `window` of the result, computing only its pixels.
    ///
    /// Separable: a vertical pass per output row accumulates the source rows it covers over just the columns the
    /// window needs, then a horizontal pass reads that one float row, a pixel at a time as a 4-lane vector (r, g, b
    /// and the next pixel's r, which is ignored). Both passes are in C (CResample).
    public static func resize(
        _ image: RGBImage, width: Int, height: Int, window: Window, filter: ResampleFilter = .area
    ) -> RGBImage {
        precondition(
            window.x >= 0 && window.y >= 0 && window.x + window.width <= width
                && window.y + window.height <= height, "window outside the resized image")
        let xs = PaddedTaps(FlatTaps(from: image.width, to: width, filter: filter), sourceCount: image.width)
        let ys = FlatTaps(from: image.height, to: height, filter: filter)
        // The integer sums of the vertical pass need the area filter's equal middle weights.
        let uniformMiddle = filter == .area && image.height >= height
        let outWidth = window.width
        let outHeight = window.height
        // Every byte is written by the passes below: no need to zero it first.
        var out = [UInt8](unsafeUninitializedCapacity: outWidth * outHeight * 3) { _, count in
            count = outWidth * outHeight * 3
        }
        guard outWidth > 0 && outHeight > 0 else { return RGBImage(width: outWidth, height: outHeight, pixels: out) }
        // Source columns the window reads.
        let tapCount = xs.count
        let firstColumn = xs.start[window.x]
        let lastWindowX = window.x + outWidth - 1
        let endColumn = xs.start[lastWindowX] + xs.count
        let spanFloats = (endColumn - firstColumn) * 3
        // One spare float so that the last pixel's 4-lane load stays inside the row.
        var row = [Float](repeating: 0, count: spanFloats + 1)
        let inStride = image.width * 3
        // Per window column: the float index of its first tap in the row, and its padded weights.
        let offsets = (0..<outWidth).map { (xs.start[window.x + $0] - firstColumn) * 3 }
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                row.withUnsafeMutableBufferPointer { rowBuffer in
                    offsets.withUnsafeBufferPointer { offsetBuffer in
                        xs.weight.withUnsafeBufferPointer { xWeight in
                            ys.withPointers { yStart, yCount, yOffset, yWeight in
                                for oy in 0..<outHeight {
                                    let y = window.y + oy
                                    winnow_resample_vertical(
                                        src.baseAddress! + firstColumn * 3 + yStart[y] * inStride, inStride,
                                        yWeight + yOffset[y], yCount[y], spanFloats, rowBuffer.baseAddress!,
                                        uniformMiddle ? 1 : 0)
                                    winnow_resample_horizontal(
                                        rowBuffer.baseAddress!, offsetBuffer.baseAddress!,
                                        xWeight.baseAddress! + window.x * tapCount, tapCount, outWidth,
                                        dst.baseAddress! + oy * outWidth * 3, oy == outHeight - 1 ? 1 : 0)
                                }
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }

    /// Taps laid out flat (start, count, offset into one weight array), for the inner loops.
    struct FlatTaps {
        var start: [Int] = []
        var count: [Int] = []
        var offset: [Int] = []
        var weight: [Float] = []

        init(from n: Int, to m: Int, filter: ResampleFilter = .area) {
            start.reserveCapacity(m)
            count.reserveCapacity(m)
            offset.reserveCapacity(m)
            Resizer.forEachTap(from: n, to: m, filter: filter) { _, first, w in
                start.append(first)
                count.append(w.count)
                offset.append(weight.count)
                weight.append(contentsOf: w)
            }
        }

        func withPointers<R>(
            _ body: (UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Float>) -> R
        ) -> R {
            start.withUnsafeBufferPointer { s in
                count.withUnsafeBufferPointer { c in
                    offset.withUnsafeBufferPointer { o in
                        weight.withUnsafeBufferPointer { w in
                            body(s.baseAddress!, c.baseAddress!, o.baseAddress!, w.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// Taps padded with zero weights to one count for every output index, so that the horizontal inner loop runs
    /// the same number of times for each pixel (a variable count costs a branch miss a pixel). Taps near the end
    /// start earlier so that every tap stays inside the source.
    struct PaddedTaps {
        var start: [Int]
        var weight: [Float]
        let count: Int

        init(_ flat: FlatTaps, sourceCount n: Int) {
            let m = flat.start.count
            let c = min(n, flat.count.max() ?? 1)
            var start = [Int](repeating: 0, count: m)
            var weight = [Float](repeating: 0, count: m * c)
            for j in 0..<m {
                let first = flat.start[j]
                let s = min(first, n - c)
                start[j] = s
                for k in 0..<flat.count[j] { weight[j * c + first - s + k] = flat.weight[flat.offset[j] + k] }
            }
            self.start = start
            self.weight = weight
            count = c
        }

        func withPointers<R>(_ body: (UnsafePointer<Int>, UnsafePointer<Float>) -> R) -> R {
            start.withUnsafeBufferPointer { s in
                weight.withUnsafeBufferPointer { w in body(s.baseAddress!, w.baseAddress!) }
            }
        }
    }

    /// The most taps an output index can have.
    static func maxTaps(from n: Int, to m: Int, filter: ResampleFilter = .area) -> Int {
        if n < m { return 2 }
        if filter == .bicubic { return Int((4 * Double(n) / Double(m)).rounded(.up)) + 3 }
        return Int((Double(n) / Double(m)).rounded(.up)) + 1
    }

    /// Calls `body(j, first, weights)` for each output index `j` in order: the source indices `first...` it reads and
    /// their weights (summing to 1). Shrinking uses the area filter, enlarging bilinear interpolation.
    static func forEachTap(
        from n: Int, to m: Int, filter: ResampleFilter = .area, _ body: (Int, Int, UnsafeBufferPointer<Float>) -> Void
    ) {
        let scale = Double(n) / Double(m)
        var scratch = [Float](repeating: 0, count: maxTaps(from: n, to: m, filter: filter))
        scratch.withUnsafeMutableBufferPointer { w in
            for j in 0..<m {
                if scale >= 1 && filter == .bicubic {
                    // The cubic (a = -0.5) stretched by the scale, its window clipped to the source and the weights
                    // renormalised, as Pillow computes its BICUBIC taps.
                    let center = (Double(j) + 0.5) * scale
                    let support = 2 * scale
                    let lo = max(0, Int(center - support + 0.5))
                    let hi = min(n, Int(center + support + 0.5))
                    var total = 0.0
                    var raw = [Double](repeating: 0, count: hi - lo)
                    for i in lo..<hi {
                        let x = abs((Double(i) - center + 0.5) / scale)
                        let v = x < 1 ? (1.5 * x - 2.5) * x * x + 1 : (x < 2 ? ((-0.5 * x + 2.5) * x - 4) * x + 2 : 0)
                        raw[i - lo] = v
                        total += v
                    }
                    for i in lo..<hi { w[i - lo] = Float(raw[i - lo] / total) }
                    body(j, lo, UnsafeBufferPointer(rebasing: w[0..<(hi - lo)]))
                } else if scale >= 1 {
                    // Area: output pixel j covers [j*scale, (j+1)*scale) of the source.
                    let lo = Double(j) * scale
                    let hi = min(Double(n), lo + scale)
                    let first = Int(lo)
                    let last = min(n - 1, Int((hi - 1e-9).rounded(.down)))
                    for i in first...last {
                        let overlap = min(hi, Double(i + 1)) - max(lo, Double(i))
                        w[i - first] = Float(overlap / scale)
                    }
                    body(j, first, UnsafeBufferPointer(rebasing: w[0...(last - first)]))
                } else {
                    // Bilinear, sampling at pixel centres.
                    let c = (Double(j) + 0.5) * scale - 0.5
                    let i0 = max(0, min(n - 1, Int(c.rounded(.down))))
                    let i1 = min(n - 1, i0 + 1)
                    let f = Float(max(0, min(1, c - Double(i0))))
                    if i1 == i0 {
                        w[0] = 1
                        body(j, i0, UnsafeBufferPointer(rebasing: w[0..<1]))
                    } else {
                        w[0] = 1 - f
                        w[1] = f
                        body(j, i0, UnsafeBufferPointer(rebasing: w[0..<2]))
                    }
                }
            }
        }
    }

    /// The `width` x `height` region at (`x`, `y`).
    public static func crop(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for row in 0..<height {
            let s = ((y + row) * image.width + x) * 3
            out.replaceSubrange((row * width * 3)..<((row + 1) * width * 3), with: image.pixels[s..<(s + width * 3)])
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// Centres `image` on a white `side` x `side` square.
    public static func pad(_ image: RGBImage, to side: Int) -> RGBImage {
        var out = RGBImage(width: side, height: side, fill: (255, 255, 255))
        let x0 = (side - image.width) / 2
        let y0 = (side - image.height) / 2
        for row in 0..<image.height {
            let d = ((y0 + row) * side + x0) * 3
            let s = row * image.width * 3
            out.pixels.replaceSubrange(d..<(d + image.width * 3), with: image.pixels[s..<(s + image.width * 3)])
        }
        return out
    }
}
