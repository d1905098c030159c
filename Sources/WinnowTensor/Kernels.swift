/// The element-wise kernels around the matrix products. Every function works on rows of `cols` floats, `ld` apart
/// where a row stride is taken; vectors of eight floats with a scalar tail for widths that are not a multiple of 8.
public enum Kernels {
    /// Activation functions of the CLIP configs Winnow supports (`hidden_act`).
    public enum Activation: String, Sendable {
        /// `x * sigmoid(1.702 x)` (OpenAI CLIP's `quick_gelu`).
        case quickGELU = "quick_gelu"
        /// `x * Φ(x)` with the exact error function (`gelu`).
        case gelu
        /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
        case geluTanh = "gelu_pytorch_tanh"
        /// No activation.
        case identity
    }

    /// LayerNorm of each of `rows` rows: `(x - mean) / sqrt(var + eps) * weight + bias`, biased variance, written
    /// to `output` (which may be `input`).
    public static func layerNorm(
        _ input: UnsafePointer<Float>, rows: Int, cols: Int, inputStride: Int? = nil, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, eps: Float, output: UnsafeMutablePointer<Float>, outputStride: Int? = nil
    ) {
        let ldi = inputStride ?? cols
        let ldo = outputStride ?? cols
        let vectors = cols / 8
        for r in 0..<rows {
            let x = input + r * ldi
            let y = output + r * ldo
            var sum8 = SIMD8<Float>()
            for v in 0..<vectors { sum8 += load8(x + 8 * v) }
            var sum = sum8.sum()
            for c in (vectors * 8)..<cols { sum += x[c] }
            let mean = sum / Float(cols)
            var sq8 = SIMD8<Float>()
            for v in 0..<vectors {
                let d = load8(x + 8 * v) - mean
                sq8 += d * d
            }
            var sq = sq8.sum()
            for c in (vectors * 8)..<cols {
                let d = x[c] - mean
                sq += d * d
            }
            let rstd = 1 / (sq / Float(cols) + eps).squareRoot()
            for v in 0..<vectors {
                let o = (load8(x + 8 * v) - mean) * rstd * load8(weight + 8 * v) + load8(bias + 8 * v)
                store8(o, y + 8 * v)
            }
            for c in (vectors * 8)..<cols { y[c] = (x[c] - mean) * rstd * weight[c] + bias[c] }
        }
    }

    /// Adds `bias` (`cols` floats) to each row of `x` and applies `activation`, in place.
    public static func biasActivation(
        _ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>?, activation: Activation
    ) {
        let vectors = cols / 8
        for r in 0..<rows {
            let row = x + r * cols
            for v in 0..<vectors {
                var value = load8(row + 8 * v)
                if let bias { value += load8(bias + 8 * v) }
                store8(activate8(value, activation), row + 8 * v)
            }
            for c in (vectors * 8)..<cols {
                var value = SIMD8<Float>(repeating: row[c])
                if let bias { value += bias[c] }
                row[c] = activate8(value, activation)[0]
            }
        }
    }

    /// `x += y` over `count` floats.
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        let vectors = count / 8
        for v in 0..<vectors { store8(load8(x + 8 * v) + load8(y + 8 * v), x + 8 * v) }
        for i in (vectors * 8)..<count { x[i] += y[i] }
    }

    /// Softmax of each row of `x` (`rows` rows of `cols`, `ld` apart), in place. With `causal`, row `i` keeps only
    /// its first `i + 1 + causalOffset` entries and the rest become 0 (a query attends to itself and earlier keys).
    public static func softmaxRows(
        _ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, causal: Bool = false
    ) {
        for r in 0..<rows {
            let row = x + r * ld
            let n = causal ? min(cols, r + 1) : cols
            let vectors = n / 8
            var max8 = SIMD8<Float>(repeating: -.infinity)
            for v in 0..<vectors {
                let value = load8(row + 8 * v)
                max8 = max8.replacing(with: value, where: value .> max8)
            }
            var m = max8.max()
            for c in (vectors * 8)..<n { m = Swift.max(m, row[c]) }
            var sum8 = SIMD8<Float>()
            for v in 0..<vectors {
                let e = exp8(load8(row + 8 * v) - m)
                store8(e, row + 8 * v)
                sum8 += e
            }
            var sum = sum8.sum()
            for c in (vectors * 8)..<n {
                let e = exp8(SIMD8<Float>(repeating: row[c] - m))[0]
                row[c] = e
                sum += e
            }
            let inverse = 1 / sum
            for v in 0..<vectors { store8(load8(row + 8 * v) * inverse, row + 8 * v) }
            for c in (vectors * 8)..<n { row[c] *= inverse }
            for c in n..<cols { row[c] = 0 }
        }
    }

    /// `x / ||x||₂` for one vector of `count` floats, in place; a zero vector stays zero.
    public static func normalize(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var s: Float = 0
        for i in 0..<count { s += x[i] * x[i] }
        guard s > 0 else { return }
        let inverse = 1 / s.squareRoot()
        for i in 0..<count { x[i] *= inverse }
    }

    /// The dot product of two vectors of `count` floats.
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var s: Float = 0
        for i in 0..<count { s += x[i] * y[i] }
        return s
    }

    // MARK: - Vector pieces

    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    @inline(__always) static func activate8(_ x: SIMD8<Float>, _ activation: Activation) -> SIMD8<Float> {
        switch activation {
        case .identity: return x
        case .quickGELU: return x / (1 + exp8(-1.702 * x))
        case .gelu: return 0.5 * x * (1 + erf8(x * 0.70710678118654752))
        case .geluTanh:
            let u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
            // tanh(u) = 1 - 2 / (exp(2u) + 1), which saturates correctly at both ends.
            return 0.5 * x * (2 - 2 / (exp8(2 * u) + 1))
        }
    }

    /// `exp(x)` for eight floats: range reduction by ln 2 in two parts and Cephes' degree-6 polynomial, within
    /// 2 ulp over the range where the result is a normal float; below -87.3 it returns about 1e-38, above 88.3
    /// about 3e38.
    @inline(__always) public static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Comparisons and selects, not the generic clamped/rounded/Int32 conversions, which Swift does not vectorise.
        var x = x.replacing(with: -87.3, where: x .< -87.3)
        x = x.replacing(with: 88.3, where: x .> 88.3)
        // Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
        let shifted = x * 1.44269504088896341 + 12_582_912
        let n = shifted - 12_582_912
        var r = x - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let bits = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    }

    /// `erf(x)` for eight floats (Abramowitz and Stegun 7.1.26, absolute error under 1.5e-7).
    @inline(__always) static func erf8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let negative = x .< 0
        let a = x.replacing(with: -x, where: negative)
        let t = 1 / (1 + 0.3275911 * a)
        var p = SIMD8<Float>(repeating: 1.061405429)
        p = p * t - 1.453152027
        p = p * t + 1.421413741
        p = p * t - 0.284496736
        p = p * t + 0.254829592
        let y = 1 - p * t * exp8(-a * a)
        return y.replacing(with: -y, where: negative)
    }
}
