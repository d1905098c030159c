import Testing
import WinnowCore

@testable import WinnowImage

/// The resampler's C passes (CResample) against a plain double-precision evaluation of the same taps: every pixel
/// within one level, for widths that leave every tail of the vector loops, tap counts from 1 to hundreds, the
/// integer-sum path and its limit, the bicubic filter (whose negative lobes need the clamp) and enlarging.
@Suite struct ResampleKernelTests {
    /// Random pixels: the worst case for a wrong tap or offset.
    func noise(_ w: Int, _ h: Int, seed: UInt64) -> RGBImage {
        var rng = SplitMix64(seed: seed)
        return RGBImage(
            width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    func taps(_ n: Int, _ m: Int, _ filter: ResampleFilter) -> [(first: Int, weights: [Double])] {
        var out: [(Int, [Double])] = []
        Resizer.forEachTap(from: n, to: m, filter: filter) { _, first, w in out.append((first, w.map(Double.init))) }
        return out
    }

    func reference(_ image: RGBImage, _ width: Int, _ height: Int, _ filter: ResampleFilter) -> [Double] {
        let xs = taps(image.width, width, filter)
        let ys = taps(image.height, height, filter)
        var out = [Double](repeating: 0, count: width * height * 3)
        for oy in 0..<height {
            for ox in 0..<width {
                for c in 0..<3 {
                    var sum = 0.0
                    for (dy, wy) in ys[oy].weights.enumerated() {
                        for (dx, wx) in xs[ox].weights.enumerated() {
                            let i = ((ys[oy].first + dy) * image.width + xs[ox].first + dx) * 3 + c
                            sum += wy * wx * Double(image.pixels[i])
                        }
                    }
                    out[(oy * width + ox) * 3 + c] = min(255, max(0, sum))
                }
            }
        }
        return out
    }

    @Test(arguments: [
        (67, 45, 67, 45), (67, 45, 50, 31), (131, 97, 64, 48), (517, 301, 33, 70), (1031, 29, 97, 5),
        (700, 600, 2, 2), (95, 80, 190, 161), (33, 17, 1, 1), (16, 16, 15, 3),
    ])
    func passesMatchAPlainEvaluation(w: Int, h: Int, width: Int, height: Int) {
        let image = noise(w, h, seed: UInt64(w * 1000 + h))
        for filter in ResampleFilter.allCases {
            let out = Resizer.resize(image, width: width, height: height, filter: filter)
            let expected = reference(image, width, height, filter)
            var worst = 0.0
            for (a, b) in zip(out.pixels, expected) { worst = max(worst, abs(Double(a) - b)) }
            // Rounded to nearest: half a level, and float sums of up to hundreds of taps against doubles.
            #expect(worst <= 0.52, "\(w)x\(h) -> \(width)x\(height) \(filter): off by \(worst)")
        }
    }
}

/// PDQ's row step (CResample): the AVX2 path and the scalar path give the same bits as Swift's float expressions,
/// for lengths that leave every tail of the 8-pixel loop and its 2-pixel read margin, with one to three sample rows,
/// fresh and accumulating.
@Suite struct PDQRowKernelTests {
    /// Short windows keep up to 64 sample rows in progress (their samples share pixel rows): the decode budget's
    /// estimate counts them, in either orientation, while a photograph's estimate stays a few rows, not a plane.
    @Test func bytesNeededCountsShortWindows() {
        #expect(PDQ.Taps.slots(length: 1) == 64 && PDQ.Taps.slots(length: 2) == 32)
        #expect(PDQ.Taps.slots(length: 64) == 1 && PDQ.Taps.slots(length: 1200) == 2)
        #expect(PDQ.bytesNeeded(width: 1000, height: 1) >= 4 * 64 * 1000)
        #expect(PDQ.bytesNeeded(width: 1, height: 1000) >= 4 * 64 * 1000)
        #expect(PDQ.bytesNeeded(width: 1000, height: 2) >= 4 * 32 * 1000)
        let photo = PDQ.bytesNeeded(width: 1600, height: 1200)
        #expect(photo >= 4 * 2 * 1600 && photo < 4 * 1600 * 1200 / 50)  // 1200 rows: 2 in progress
    }

    /// The shortcuts the hash takes give what the plain forms give: slots from the spans alone, the median by
    /// selection, the hex digits by hand.
    @Test func shortcutsAgreeWithThePlainForms() {
        for n in Array(1...600) + [1023, 1024, 1025, 4097] {
            // The plain form: from the taps themselves, the least k with no overlap between samples k apart.
            let taps = PDQ.Taps(length: n)
            let plain = (1...64).first { k in (0..<(64 - k)).allSatisfy { taps.start[$0 + k] >= taps.end($0) } }
            #expect(PDQ.Taps.slots(length: n) == plain, "length \(n)")
        }
        var rng = SplitMix64(seed: 5)
        for round in 0..<200 {
            let values = (0..<256).map { _ in
                round % 3 == 0 ? Float(Int.random(in: -3...3, using: &rng)) : Float.random(in: -1...1, using: &rng)
            }
            let sorted = values.sorted()
            for k in [0, 1, 127, 128, 254, 255] { #expect(PDQ.smallest(k, of: values) == sorted[k]) }
        }
        let words = (0..<16).map { _ in UInt16.random(in: 0...UInt16.max, using: &rng) }
        let hash = PDQ(words: words, quality: 100)
        #expect(hash.hex == words.reversed().map { String(format: "%04x", $0) }.joined())
        #expect(PDQ(hex: hash.hex) == hash)
    }

    @Test func vectorAndScalarPathsAgreeBitForBit() {
        var rng = SplitMix64(seed: 27)
        for n in [1, 7, 8, 9, 10, 11, 17, 18, 64, 255, 1001] {
            let rgb = (0..<(3 * n)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let luma = (0..<n).map { i -> Float in
                0.299 * Float(rgb[3 * i]) + 0.587 * Float(rgb[3 * i + 1]) + 0.114 * Float(rgb[3 * i + 2])
            }
            for slots in 1...3 {
                let start = (0..<slots).map { _ in (0..<n).map { _ in Float.random(in: -100...100, using: &rng) } }
                let weights = (0..<slots).map { _ in Float.random(in: 0...0.1, using: &rng) }
                let fresh = (0..<slots).map { $0 % 2 == 0 }
                let expected = (0..<slots).map { s in
                    (0..<n).map { i in fresh[s] ? weights[s] * luma[i] : start[s][i] + weights[s] * luma[i] }
                }
                for vector in [true, false] {
                    var sums = start
                    PDQ.accumulate(rgb, into: &sums, weights: weights, fresh: fresh, vector: vector)
                    #expect(
                        sums.map { $0.map(\.bitPattern) } == expected.map { $0.map(\.bitPattern) },
                        "\(n) pixels, \(slots) rows, vector \(vector)")
                }
            }
        }
    }
}
