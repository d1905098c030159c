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

/// Resampling: an area (box) filter when shrinking, which averages every source pixel an output pixel covers,
/// and bilinear interpolation when enlarging.
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

    /// The largest JPEG DCT scale denominator (8, 4, 2 or 1) whose output still covers what `mode` needs.
    public static func jpegScaleDenominator(width: Int, height: Int, size: Int, mode: ResizeMode) -> Int {
        let side: Int
        switch mode {
        case .no: return 1
        case .keepRatio, .centerCrop: side = min(width, height)
        case .keepRatioLargest, .border: side = max(width, height)
        }
        for d in [8, 4, 2] where (side + d - 1) / d >= size { return d }
        return 1
    }

    /// Applies `mode` to `image`. A centre crop only computes the pixels it keeps.
    public static func apply(_ image: RGBImage, size: Int, mode: ResizeMode, upscale: Bool) -> RGBImage {
        let (w, h) = scaledSize(width: image.width, height: image.height, size: size, mode: mode, upscale: upscale)
        switch mode {
        case .centerCrop:
            let side = min(w, h, size)
            let window = Window(x: (w - side) / 2, y: (h - side) / 2, width: side, height: side)
            if w == image.width && h == image.height {
                return crop(image, x: window.x, y: window.y, width: side, height: side)
            }
            return resize(image, width: w, height: h, window: window)
        case .border:
            let out = (w == image.width && h == image.height) ? image : resize(image, width: w, height: h)
            return pad(out, to: max(out.width, out.height, size))
        default:
            return (w == image.width && h == image.height) ? image : resize(image, width: w, height: h)
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
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        resize(image, width: width, height: height, window: Window(x: 0, y: 0, width: width, height: height))
    }

    /// Resamples `image` to `width` x `height` and returns the `window` of the result, computing only its pixels.
    ///
    /// Separable: a vertical pass per output row accumulates the source rows it covers (contiguous, vectorised) over
    /// just the columns the window needs, then a horizontal pass reads that one float row, a pixel at a time as a
    /// 4-lane vector (r, g, b and the next pixel's r, which is ignored).
    public static func resize(_ image: RGBImage, width: Int, height: Int, window: Window) -> RGBImage {
        precondition(
            window.x >= 0 && window.y >= 0 && window.x + window.width <= width
                && window.y + window.height <= height, "window outside the resized image")
        let xs = PaddedTaps(weights(from: image.width, to: width), sourceCount: image.width)
        let ys = FlatTaps(weights(from: image.height, to: height))
        let outWidth = window.width
        let outHeight = window.height
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        guard outWidth > 0 && outHeight > 0 else { return RGBImage(width: outWidth, height: outHeight, pixels: out) }
        // Source columns the window reads.
        let tapCount = xs.count
        let firstColumn = xs.start[window.x]
        let lastWindowX = window.x + outWidth - 1
        let endColumn = xs.start[lastWindowX] + xs.count
        let spanFloats = (endColumn - firstColumn) * 3
        // One spare float so that the last pixel's 4-lane load stays inside the row.
        var row = [Float](repeating: 0, count: spanFloats + 1)
        var integerRow = [UInt16](repeating: 0, count: spanFloats)
        let inStride = image.width * 3
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                row.withUnsafeMutableBufferPointer { rowBuffer in
                    integerRow.withUnsafeMutableBufferPointer { integerBuffer in
                        let acc = rowBuffer.baseAddress!
                        let sums = integerBuffer.baseAddress!
                        xs.withPointers { xStart, xWeight in
                            ys.withPointers { yStart, yCount, yOffset, yWeight in
                                for oy in 0..<outHeight {
                                    let y = window.y + oy
                                    let base = src.baseAddress! + firstColumn * 3
                                    // Vertical: the first tap sets, the others add. Area taps between the first and
                                    // the last all weigh 1/scale: for large reductions those rows are summed as
                                    // integers (8 lanes a vector, no conversion) and scaled once.
                                    let count = yCount[y]
                                    let weight = yWeight + yOffset[y]
                                    let first = base + yStart[y] * inStride
                                    for i in 0..<spanFloats { acc[i] = Float(first[i]) * weight[0] }
                                    var k = 1
                                    if count - 2 >= 2 && count - 2 <= 257 {
                                        let a = first + inStride
                                        for i in 0..<spanFloats { sums[i] = UInt16(a[i]) }
                                        for r in 2..<(count - 1) {
                                            let line = first + r * inStride
                                            for i in 0..<spanFloats { sums[i] &+= UInt16(line[i]) }
                                        }
                                        let wk = weight[1]
                                        for i in 0..<spanFloats { acc[i] += Float(sums[i]) * wk }
                                        k = count - 1
                                    }
                                    while k < count {
                                        let line = first + k * inStride
                                        let wk = weight[k]
                                        for i in 0..<spanFloats { acc[i] += Float(line[i]) * wk }
                                        k += 1
                                    }
                                    // Horizontal.
                                    let o = dst.baseAddress! + oy * outWidth * 3
                                    let raw = UnsafeRawPointer(acc)
                                    for ox in 0..<outWidth {
                                        let x = window.x + ox
                                        var p = (xStart[x] - firstColumn) * 3 * MemoryLayout<Float>.stride
                                        let w = xWeight + x * tapCount
                                        var sum = SIMD4<Float>(repeating: 0)
                                        for t in 0..<tapCount {
                                            sum += raw.loadUnaligned(fromByteOffset: p, as: SIMD4<Float>.self) * w[t]
                                            p += 3 * MemoryLayout<Float>.stride
                                        }
                                        // Weights are non-negative and sum to 1, so the sum lies in [0, 255] up to
                                        // rounding. Round to nearest by adding 1.5 * 2^23: the integer lands in the low
                                        // mantissa bits (no float-to-int conversion, which Swift checks lane by lane).
                                        let bits = unsafeBitCast(sum + 12_582_912, to: SIMD4<UInt32>.self) & 0x3ff
                                        o[3 * ox] = UInt8(truncatingIfNeeded: min(bits[0], 255))
                                        o[3 * ox + 1] = UInt8(truncatingIfNeeded: min(bits[1], 255))
                                        o[3 * ox + 2] = UInt8(truncatingIfNeeded: min(bits[2], 255))
                                    }
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

        init(_ taps: [Tap]) {
            for t in taps {
                start.append(t.start)
                count.append(t.weights.count)
                offset.append(weight.count)
                weight.append(contentsOf: t.weights)
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
        var start: [Int] = []
        var weight: [Float] = []
        let count: Int

        init(_ taps: [Tap], sourceCount n: Int) {
            count = min(n, taps.map(\.weights.count).max() ?? 1)
            for t in taps {
                let s = min(t.start, n - count)
                start.append(s)
                var w = [Float](repeating: 0, count: count)
                for (k, v) in t.weights.enumerated() { w[t.start - s + k] = v }
                weight.append(contentsOf: w)
            }
        }

        func withPointers<R>(_ body: (UnsafePointer<Int>, UnsafePointer<Float>) -> R) -> R {
            start.withUnsafeBufferPointer { s in
                weight.withUnsafeBufferPointer { w in body(s.baseAddress!, w.baseAddress!) }
            }
        }
    }

    struct Tap {
        var start: Int
        var weights: [Float]
    }

    /// Per output index, the source indices and weights (summing to 1).
    static func weights(from n: Int, to m: Int) -> [Tap] {
        let scale = Double(n) / Double(m)
        var taps: [Tap] = []
        taps.reserveCapacity(m)
        for j in 0..<m {
            if scale >= 1 {
                // Area: output pixel j covers [j*scale, (j+1)*scale) of the source.
                let lo = Double(j) * scale
                let hi = min(Double(n), lo + scale)
                let first = Int(lo)
                let last = min(n - 1, Int((hi - 1e-9).rounded(.down)))
                var w: [Float] = []
                for i in first...last {
                    let overlap = min(hi, Double(i + 1)) - max(lo, Double(i))
                    w.append(Float(overlap / scale))
                }
                taps.append(Tap(start: first, weights: w))
            } else {
                // Bilinear, sampling at pixel centres.
                let c = (Double(j) + 0.5) * scale - 0.5
                let i0 = max(0, min(n - 1, Int(c.rounded(.down))))
                let i1 = min(n - 1, i0 + 1)
                let f = Float(max(0, min(1, c - Double(i0))))
                taps.append(i1 == i0 ? Tap(start: i0, weights: [1]) : Tap(start: i0, weights: [1 - f, f]))
            }
        }
        return taps
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
