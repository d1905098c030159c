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
    public var hex: String { words.reversed().map { String(format: "%04x", $0) }.joined() }

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
        // One plane of floats, filtered in place: 4 bytes a pixel (`bytesNeeded`) on top of the image's 3.
        var a = [Float](unsafeUninitializedCapacity: rows * cols) { buffer, count in
            image.pixels.withUnsafeBufferPointer { p in
                for y in 0..<rows {
                    let row = p.baseAddress! + ((window.y + y) * image.width + window.x) * 3
                    let out = buffer.baseAddress! + y * cols
                    for x in 0..<cols {
                        let r = Float(row[3 * x])
                        let g = Float(row[3 * x + 1])
                        let bl = Float(row[3 * x + 2])
                        out[x] = 0.299 * r + 0.587 * g + 0.114 * bl
                    }
                }
            }
            count = rows * cols
        }
        let alongRows = (cols + 2 * 64 - 1) / (2 * 64)
        let alongCols = (rows + 2 * 64 - 1) / (2 * 64)
        a.withUnsafeMutableBufferPointer { plane in
            for _ in 0..<2 {
                boxRowsInPlace(plane.baseAddress!, rows, cols, alongRows)
                boxColumnsInPlace(plane.baseAddress!, rows, cols, alongCols)
            }
        }
        // Decimate to 64x64 at the centres of the blocks.
        var small = [Float](repeating: 0, count: 64 * 64)
        for i in 0..<64 {
            let si = Int((Double(i) + 0.5) * Double(rows) / 64)
            for j in 0..<64 {
                let sj = Int((Double(j) + 0.5) * Double(cols) / 64)
                small[i * 64 + j] = a[si * cols + sj]
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
        // DCT: D (16x64) * A * D^T.
        let d = PDQ.dct
        var t = [Float](repeating: 0, count: 16 * 64)
        for i in 0..<16 {
            for j in 0..<64 {
                var s: Float = 0
                for k in 0..<64 { s += d[i * 64 + k] * small[k * 64 + j] }
                t[i * 64 + j] = s
            }
        }
        var c = [Float](repeating: 0, count: 256)
        for i in 0..<16 {
            for j in 0..<16 {
                var s: Float = 0
                for k in 0..<64 { s += t[i * 64 + k] * d[j * 64 + k] }
                c[i * 16 + j] = s
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
        let median = c.sorted()[127]
        var words = [UInt16](repeating: 0, count: 16)
        for k in 0..<256 where c[k] > median { words[k >> 4] |= 1 << UInt16(k & 15) }
        return PDQ(words: words, quality: quality)
    }

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

    /// `box` along every row, four rows at a time in the lanes of a vector (the same operations in the same order
    /// for each value, so the result is the scalar one bit for bit; the four chains of adds overlap).
    static func boxRows(
        _ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ rows: Int, _ cols: Int,
        _ window: Int
    ) {
        var i = 0
        while i + 4 <= rows {
            let r = (input + i * cols, input + (i + 1) * cols, input + (i + 2) * cols, input + (i + 3) * cols)
            let o = (output + i * cols, output + (i + 1) * cols, output + (i + 2) * cols, output + (i + 3) * cols)
            func load(_ j: Int) -> SIMD4<Float> { SIMD4(r.0[j], r.1[j], r.2[j], r.3[j]) }
            func store(_ j: Int, _ v: SIMD4<Float>) {
                o.0[j] = v[0]
                o.1[j] = v[1]
                o.2[j] = v[2]
                o.3[j] = v[3]
            }
            let half = (window + 2) / 2
            var sum = SIMD4<Float>(repeating: 0)
            var covered: Float = 0
            var right = 0
            var left = 0
            var out = 0
            for _ in 0..<(half - 1) {
                sum += load(right)
                covered += 1
                right += 1
            }
            for _ in 0..<(window - half + 1) {
                sum += load(right)
                covered += 1
                right += 1
                store(out, sum / covered)
                out += 1
            }
            for _ in 0..<max(0, cols - window) {
                sum += load(right)
                sum -= load(left)
                right += 1
                left += 1
                store(out, sum / covered)
                out += 1
            }
            for _ in 0..<(half - 1) {
                sum -= load(left)
                covered -= 1
                left += 1
                store(out, sum / covered)
                out += 1
            }
            i += 4
        }
        while i < rows {
            box(input + i * cols, output + i * cols, cols, 1, window)
            i += 1
        }
    }

    /// Bytes `hashWithMirror` allocates for a `width` x `height` image: its float plane, and the rows the in-place
    /// passes keep.
    public static func bytesNeeded(width: Int, height: Int) -> Int {
        4 * width * height + 4 * width * (4 + (height + 127) / 128 + 1)
    }

    /// `boxRows` writing over its input: each group of four rows is copied out first and filtered back in, in the
    /// groups `boxRows` makes, so the result is the same bit for bit.
    static func boxRowsInPlace(_ data: UnsafeMutablePointer<Float>, _ rows: Int, _ cols: Int, _ window: Int) {
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 4 * cols)
        defer { scratch.deallocate() }
        var i = 0
        while i < rows {
            let n = min(4, rows - i)
            scratch.update(from: data + i * cols, count: n * cols)
            boxRows(scratch, data + i * cols, n, cols, window)
            i += n
        }
    }

    /// `boxColumns` writing over its input. Writing output row `out` destroys input row `out`, which the window's
    /// trailing edge (`left`, never more than `window` rows behind) still has to subtract: it is kept in a ring of
    /// `window + 1` rows first. The same operations in the same order as `boxColumns`, so the same result.
    static func boxColumnsInPlace(_ data: UnsafeMutablePointer<Float>, _ rows: Int, _ cols: Int, _ window: Int) {
        let half = (window + 2) / 2
        let ringRows = window + 1
        let ring = UnsafeMutablePointer<Float>.allocate(capacity: ringRows * cols)
        let sum = UnsafeMutablePointer<Float>.allocate(capacity: cols)
        defer {
            ring.deallocate()
            sum.deallocate()
        }
        sum.initialize(repeating: 0, count: cols)
        var covered: Float = 0
        var right = 0
        var left = 0
        var out = 0
        func input(_ row: Int) -> UnsafeMutablePointer<Float> {
            row < out ? ring + (row % ringRows) * cols : data + row * cols
        }
        func emit() {
            let o = data + out * cols
            (ring + (out % ringRows) * cols).update(from: o, count: cols)
            for j in 0..<cols { o[j] = sum[j] / covered }
            out += 1
        }
        for _ in 0..<(half - 1) {
            let r = input(right)
            for j in 0..<cols { sum[j] += r[j] }
            covered += 1
            right += 1
        }
        for _ in 0..<(window - half + 1) {
            let r = input(right)
            for j in 0..<cols { sum[j] += r[j] }
            covered += 1
            right += 1
            emit()
        }
        for _ in 0..<max(0, rows - window) {
            let r = input(right)
            let l = input(left)
            for j in 0..<cols {
                sum[j] += r[j]
                sum[j] -= l[j]
            }
            right += 1
            left += 1
            emit()
        }
        for _ in 0..<(half - 1) {
            let l = input(left)
            for j in 0..<cols { sum[j] -= l[j] }
            covered -= 1
            left += 1
            emit()
        }
    }

    /// `box` down every column at once, a row at a time: running sums for all columns, contiguous and vectorised,
    /// and for each value the same operations in the same order as `box` on that column.
    static func boxColumns(
        _ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ rows: Int, _ cols: Int,
        _ window: Int
    ) {
        let half = (window + 2) / 2
        var sums = [Float](repeating: 0, count: cols)
        sums.withUnsafeMutableBufferPointer { sp in
            let sum = sp.baseAddress!
            var covered: Float = 0
            var right = 0
            var left = 0
            var out = 0
            func emit() {
                let o = output + out * cols
                for j in 0..<cols { o[j] = sum[j] / covered }
                out += 1
            }
            for _ in 0..<(half - 1) {
                let r = input + right * cols
                for j in 0..<cols { sum[j] += r[j] }
                covered += 1
                right += 1
            }
            for _ in 0..<(window - half + 1) {
                let r = input + right * cols
                for j in 0..<cols { sum[j] += r[j] }
                covered += 1
                right += 1
                emit()
            }
            for _ in 0..<max(0, rows - window) {
                let r = input + right * cols
                let l = input + left * cols
                for j in 0..<cols {
                    sum[j] += r[j]
                    sum[j] -= l[j]
                }
                right += 1
                left += 1
                emit()
            }
            for _ in 0..<(half - 1) {
                let l = input + left * cols
                for j in 0..<cols { sum[j] -= l[j] }
                covered -= 1
                left += 1
                emit()
            }
        }
    }

    /// One box-filter pass of `window` over `n` values `stride` apart, the window growing in from the start and
    /// shrinking out at the end (each output divided by the values it actually covers).
    static func box(
        _ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ n: Int, _ stride: Int,
        _ window: Int
    ) {
        // The window is at most n (it is about n / 128), so the four phases below add up to n outputs.
        let half = (window + 2) / 2
        var sum: Float = 0
        var covered: Float = 0
        var right = input
        var left = input
        var out = output
        for _ in 0..<(half - 1) {  // fill, no output yet
            sum += right.pointee
            covered += 1
            right += stride
        }
        for _ in 0..<(window - half + 1) {  // growing window
            sum += right.pointee
            covered += 1
            right += stride
            out.pointee = sum / covered
            out += stride
        }
        for _ in 0..<max(0, n - window) {  // full window, sliding
            sum += right.pointee
            sum -= left.pointee
            right += stride
            left += stride
            out.pointee = sum / covered
            out += stride
        }
        for _ in 0..<(half - 1) {  // shrinking window
            sum -= left.pointee
            covered -= 1
            left += stride
            out.pointee = sum / covered
            out += stride
        }
    }
}
