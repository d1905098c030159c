internal import CResample
import Foundation

/// PDQ, Meta's perceptual hash for near-duplicate images (256 bits and a quality score 0-100), as its paper and
/// reference implementation define it: BT.601 luma in float, two passes of row and column box filters (Jarosz) sized
/// for a 64x64 result, decimation at block centres, the 16x16 lowest non-DC frequencies of a DCT-II, and one bit per
/// coefficient above their median. Quality is the image-domain gradient of the 64x64 luma; below 50 the hash is not
/// to be trusted.
public struct PDQ: Sendable, Equatable {
    /// The 256 bits, as 16 words; bit k is word k / 16, bit k % 16.
    public var words: [UInt16]
    /// 0-100.
    public var quality: Int

    /// Creates a hash from its words.
    public init(words: [UInt16], quality: Int) {
        self.words = words
        self.quality = quality
    }

    /// Parses the 64-hex-digit text form (as `hex` writes it, and as PDQ hash lists carry it).
    public init?(hex text: String, quality: Int = 100) {
        let digits = Array(text.utf8)
        guard digits.count == 64 else { return nil }
        var words = [UInt16](repeating: 0, count: 16)
        for w in 0..<16 {
            let start = 4 * (15 - w)
            guard let v = UInt16(String(decoding: digits[start..<(start + 4)], as: UTF8.self), radix: 16) else {
                return nil
            }
            words[w] = v
        }
        self.init(words: words, quality: quality)
    }

    /// The hash as 64 hex digits, most significant word first (the reference's text form).
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for w in words.reversed() {
            for shift in stride(from: 12, through: 0, by: -4) { out.append(digits[Int((w >> UInt16(shift)) & 15)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bits that differ.
    public func distance(to other: PDQ) -> Int {
        zip(words, other.words).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
    }

    /// The hash of `image`.
    public static func hash(_ image: RGBImage) -> PDQ { hashWithMirror(image).hash }

    /// The hash of `image`, and the hash of its left-right mirror image computed from the same DCT, as PDQ's
    /// reference derives its dihedral hashes: mirroring negates the coefficients of odd horizontal frequency. (Close
    /// to, not always equal to, hashing the mirrored pixels: the decimation grid is not exactly symmetric.)
    public static func hashWithMirror(_ image: RGBImage) -> (hash: PDQ, mirrored: PDQ) {
        hashWithMirror(image, window: Resizer.Window(x: 0, y: 0, width: image.width, height: image.height))
    }

    /// `hashWithMirror` of the `window` of `image`, without copying it out.
    public static func hashWithMirror(_ image: RGBImage, window: Resizer.Window) -> (hash: PDQ, mirrored: PDQ) {
        precondition(
            window.x >= 0 && window.y >= 0 && window.x + window.width <= image.width
                && window.y + window.height <= image.height, "window outside the image")
        let rows = window.height
        let cols = window.width
        // PDQ's filter (a box of about n / 128 pixels, twice along each axis) is linear and separable, and only its
        // 64 x 64 samples at the block centres are used: so each sample is a weighted sum of the luma around it,
        // row taps times column taps, computed a row of pixels at a time. One pass over the pixels, about one
        // multiply-add a pixel beyond the luma, where filtering the whole plane took five passes over floats; the
        // same samples as the reference's up to float rounding (the tests compare bits with it).
        let alongRows = Taps(length: cols)
        let alongCols = Taps(length: rows)
        var small = [Float](repeating: 0, count: 64 * 64)
        // The weighted sums of rows in progress: sample row i's rows add into slot i % slots
        // until its last one, when its 64 column sums are taken.
        let slots = Taps.slots(length: rows)
        var buffer = [Float](repeating: 0, count: slots * cols)
        let (from, to) = (alongRows.start[0], alongRows.end(63))
        var sums = [UnsafeMutablePointer<Float>?](repeating: nil, count: slots)
        var weights = [Float](repeating: 0, count: slots)
        var fresh = [Int32](repeating: 0, count: slots)
        image.pixels.withUnsafeBufferPointer { p in
            small.withUnsafeMutableBufferPointer { s in
                buffer.withUnsafeMutableBufferPointer { b in
                    var first = 0  // the first sample row whose taps reach this pixel row or beyond
                    for y in 0..<rows {
                        while first < 64 && alongCols.end(first) <= y { first += 1 }
                        guard first < 64, alongCols.start[first] <= y else { continue }
                        var n = 0
                        while first + n < 64 && alongCols.start[first + n] <= y {
                            let i = first + n
                            sums[n] = b.baseAddress! + (i % slots) * cols + from
                            weights[n] = alongCols.weight(i, at: y)
                            fresh[n] = y == alongCols.start[i] ? 1 : 0
                            n += 1
                        }
                        let row = p.baseAddress! + ((window.y + y) * image.width + window.x + from) * 3
                        winnow_luma_accumulate(row, to - from, sums, weights, fresh, Int32(n))
                        for i in first..<(first + n) where y == alongCols.end(i) - 1 {
                            let sum = b.baseAddress! + (i % slots) * cols
                            for j in 0..<64 { s[i * 64 + j] = alongRows.apply(j, sum) }
                        }
                    }
                }
            }
        }
        // Quality: the summed absolute steps between neighbours, in percent of full scale.
        var gradient = 0
        for i in 0..<63 {
            for j in 0..<64 { gradient += abs(Int((small[i * 64 + j] - small[(i + 1) * 64 + j]) * 100 / 255)) }
        }
        for i in 0..<64 {
            for j in 0..<63 { gradient += abs(Int((small[i * 64 + j] - small[i * 64 + j + 1]) * 100 / 255)) }
        }
        let quality = min(100, gradient / 90)
        // DCT: D (16x64) * A * D^T, each output a sum over k in increasing order; the loops run k outside the
        // output's columns so that the inner loop is over contiguous rows and vectorises.
        var t = [Float](repeating: 0, count: 16 * 64)
        var c = [Float](repeating: 0, count: 256)
        PDQ.dct.withUnsafeBufferPointer { d in
            PDQ.dctTransposed.withUnsafeBufferPointer { dt in
                small.withUnsafeBufferPointer { a in
                    t.withUnsafeMutableBufferPointer { t in
                        c.withUnsafeMutableBufferPointer { c in
                            for i in 0..<16 {
                                let ti = t.baseAddress! + i * 64
                                for k in 0..<64 {
                                    let w = d[i * 64 + k]
                                    let ak = a.baseAddress! + k * 64
                                    for j in 0..<64 { ti[j] += w * ak[j] }
                                }
                                let ci = c.baseAddress! + i * 16
                                for k in 0..<64 {
                                    let w = ti[k]
                                    let dk = dt.baseAddress! + k * 16
                                    for j in 0..<16 { ci[j] += w * dk[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Coefficient (i, j) has horizontal frequency j + 1: odd ones change sign in the mirror image.
        var mirrored = c
        for i in 0..<16 { for j in stride(from: 0, to: 16, by: 2) { mirrored[i * 16 + j] = -c[i * 16 + j] } }
        return (bits(c, quality), bits(mirrored, quality))
    }

    /// One bit per coefficient above their median.
    private static func bits(_ c: [Float], _ quality: Int) -> PDQ {
        // The median as Torben's method gives it for an even count: the 128th smallest value.
        let median = smallest(127, of: c)
        var words = [UInt16](repeating: 0, count: 16)
        for k in 0..<256 where c[k] > median { words[k >> 4] |= 1 << UInt16(k & 15) }
        return PDQ(words: words, quality: quality)
    }

    /// The value of rank `k` (0-based) among `values`, as `values.sorted()[k]` gives it, by selection
    /// (Hoare's quickselect, middle pivot) instead of a sort.
    static func smallest(_ k: Int, of values: [Float]) -> Float {
        var a = values
        return a.withUnsafeMutableBufferPointer { a in
            var (lo, hi) = (0, a.count - 1)
            while lo < hi {
                let pivot = a[(lo + hi) / 2]
                var (i, j) = (lo, hi)
                while i <= j {
                    while a[i] < pivot { i += 1 }
                    while a[j] > pivot { j -= 1 }
                    if i <= j {
                        a.swapAt(i, j)
                        i += 1
                        j -= 1
                    }
                }
                if k <= j {
                    hi = j
                } else if k >= i {
                    lo = i
                } else {
                    break
                }
            }
            return a[k]
        }
    }

    /// One row step as the hash takes it (`winnow_luma_accumulate`) on the CPU's vector path or the scalar one:
    /// `sums[s]` becomes `weights[s]` times the row's luma, or has it added unless `fresh[s]`.
    static func accumulate(
        _ rgb: [UInt8], into sums: inout [[Float]], weights: [Float], fresh: [Bool], vector: Bool = true
    ) {
        let n = rgb.count / 3
        guard n > 0 else { return }
        var pointers = [UnsafeMutablePointer<Float>?]()
        for _ in sums.indices { pointers.append(.allocate(capacity: n)) }
        defer { for p in pointers { p?.deallocate() } }
        for s in sums.indices { pointers[s]!.initialize(from: sums[s], count: n) }
        rgb.withUnsafeBufferPointer {
            winnow_luma_accumulate_on(
                $0.baseAddress!, n, pointers, weights, fresh.map { $0 ? 1 : 0 }, Int32(sums.count), vector ? 1 : 0)
        }
        for s in sums.indices { sums[s] = Array(UnsafeBufferPointer(start: pointers[s], count: n)) }
    }

    /// `dct` transposed: 64 rows of 16.
    static let dctTransposed: [Float] = (0..<(64 * 16)).map { dct[($0 % 16) * 64 + $0 / 16] }

    /// Rows 1-16 of the 64-point DCT-II (row 0, the mean, is left out).
    static let dct: [Float] = {
        var m = [Float](repeating: 0, count: 16 * 64)
        let scale = Float(sqrt(2.0 / 64.0))
        for i in 0..<16 {
            for j in 0..<64 {
                m[i * 64 + j] = scale * Float(cos(Double.pi / 2 / 64 * Double(i + 1) * Double(2 * j + 1)))
            }
        }
        return m
    }()

    /// Bytes `hashWithMirror` allocates for a `width` x `height` window, or its turned copy: the rows of sums in
    /// progress (two for windows at least 32 high; up to 64 for shorter ones, whose samples share pixel rows), the
    /// taps (about twice the length of each axis) and the 64 x 64 samples.
    public static func bytesNeeded(width: Int, height: Int) -> Int {
        let rows = max(Taps.slots(length: height) * width, Taps.slots(length: width) * height)
        return 4 * rows + 12 * (width + height) + 4 * 64 * 64
    }

    /// PDQ's filter along one axis of `length` pixels, sampled at the 64 block centres: the reference filters with
    /// a box of `window` = ceil(length / 128) pixels (output o averages inputs o - (window - half) ... o + half - 1,
    /// half = (window + 2) / 2, what of it lies inside the axis), twice, and keeps pixel floor((i + 0.5) * length
    /// / 64) for sample i. Sample i is therefore a weighted sum of the pixels from `start[i]` to `end(i)`, its
    /// weights the sum over the first box's inputs of their own box's weights, computed here in Double.
    struct Taps {
        var start: [Int] = []
        var count: [Int] = []
        var offset: [Int] = []
        var weights: [Float] = []

        /// The reference's box along `n` pixels: output o averages inputs `lo(o)...hi(o)`.
        struct Box {
            let n: Int
            let window: Int
            let half: Int
            init(_ n: Int) {
                self.n = n
                window = (n + 127) / 128
                half = (window + 2) / 2
            }
            func lo(_ o: Int) -> Int { max(0, o - (window - half)) }
            func hi(_ o: Int) -> Int { min(n - 1, o + half - 1) }
            /// Sample i's pixel, and the first and last pixels its taps reach.
            func sample(_ i: Int) -> (p: Int, first: Int, last: Int) {
                let p = Int((Double(i) + 0.5) * Double(n) / 64)
                return (p, lo(lo(p)), hi(hi(p)))
            }
        }

        /// How many samples' taps can be in progress at once along `length` pixels: the least k for which sample
        /// i + k starts after sample i ends, for every i. From the spans alone, without the weights.
        static func slots(length: Int) -> Int {
            let box = Box(length)
            let spans = (0..<64).map { box.sample($0) }
            var k = 1
            while (0..<(64 - k)).contains(where: { spans[$0 + k].first <= spans[$0].last }) { k += 1 }
            return k
        }

        init(length n: Int) {
            let box = Box(n)
            for i in 0..<64 {
                let (p, first, last) = box.sample(i)
                var w = [Double](repeating: 0, count: last - first + 1)
                let outer = 1 / Double(box.hi(p) - box.lo(p) + 1)
                for o in box.lo(p)...box.hi(p) {
                    let inner = outer / Double(box.hi(o) - box.lo(o) + 1)
                    for x in box.lo(o)...box.hi(o) { w[x - first] += inner }
                }
                start.append(first)
                count.append(w.count)
                offset.append(weights.count)
                weights += w.map { Float($0) }
            }
        }

        /// One past sample i's last pixel.
        func end(_ i: Int) -> Int { start[i] + count[i] }

        /// The weight of pixel `x` (inside sample i's taps) in sample i.
        func weight(_ i: Int, at x: Int) -> Float { weights[offset[i] + x - start[i]] }

        /// Sample i of a line of pixels.
        func apply(_ i: Int, _ line: UnsafePointer<Float>) -> Float {
            weights.withUnsafeBufferPointer { w in
                let base = w.baseAddress! + offset[i]
                let x = line + start[i]
                let n = count[i]
                var v = SIMD8<Float>()
                var k = 0
                while k &+ 8 <= n {
                    v +=
                        UnsafeRawPointer(base + k).loadUnaligned(as: SIMD8<Float>.self)
                        * UnsafeRawPointer(x + k).loadUnaligned(as: SIMD8<Float>.self)
                    k &+= 8
                }
                var s = v.sum()
                while k < n {
                    s += base[k] * x[k]
                    k &+= 1
                }
                return s
            }
        }
    }
}
