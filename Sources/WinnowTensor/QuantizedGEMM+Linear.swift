extension QuantizedGEMM {
    /// A linear layer `y = x · Wᵀ` in int8: the weights quantised once, symmetrically per output channel (scale
    /// max|W_j| / 127), and each input row at run time, asymmetrically to 7 bits (its range, zero included, over
    /// 0...127, so every kernel path takes it); the products summed exactly in int32 and scaled back to float.
    public struct Linear: Sendable {
        public let weights: Weights
        /// Per output channel: the weights' scale, and the sum of its quantised weights (for the zero point).
        let scales: [Float]
        let sums: [Int32]

        /// Quantises `weight` (`outputs` x `inputs`, row-major, as checkpoints store a linear layer).
        public init(weight: [Float], inputs: Int, outputs: Int) {
            precondition(weight.count == inputs * outputs, "weight is not outputs x inputs")
            var q = [Int8](repeating: 0, count: weight.count)
            var scales = [Float](repeating: 1, count: outputs)
            var sums = [Int32](repeating: 0, count: outputs)
            for j in 0..<outputs {
                let row = weight[(j * inputs)..<((j + 1) * inputs)]
                let top = row.reduce(Float(0)) { max($0, abs($1)) }
                let scale = top > 0 ? top / 127 : 1
                scales[j] = scale
                var sum: Int32 = 0
                for (t, w) in row.enumerated() {
                    let v = Int8(max(-127, min(127, (w / scale).rounded())))
                    q[j * inputs + t] = v
                    sum += Int32(v)
                }
                sums[j] = sum
            }
            weights = Weights(q, n: outputs, k: inputs)
            self.scales = scales
            self.sums = sums
        }

        /// Bytes the layer keeps: the packed weights and two numbers per output channel.
        public var residentBytes: Int { weights.packed.count + 8 * weights.n }

        /// `output = input · Wᵀ`, or `output += input · Wᵀ` when `accumulate`, for `rows` rows of `input` (row
        /// stride `inputStride`, default the layer's inputs) into `output` (row stride the layer's outputs).
        public func apply(
            _ input: UnsafePointer<Float>, rows: Int, inputStride: Int? = nil, into output: UnsafeMutablePointer<Float>,
            accumulate: Bool, path: Path = .best
        ) {
            let k = weights.k
            let n = weights.n
            let stride = inputStride ?? k
            var q = [UInt8](unsafeUninitializedCapacity: rows * k) { _, count in count = rows * k }
            var rowScale = [Float](repeating: 1, count: rows)
            var zero = [Int32](repeating: 0, count: rows)
            q.withUnsafeMutableBufferPointer { qb in
                for r in 0..<rows {
                    let x = input + r * stride
                    let (lo, hi) = QuantizedGEMM.range(x, k)
                    let scale = hi > lo ? (hi - lo) / 127 : 1
                    let zp = max(0, min(127, (-lo / scale).rounded(.toNearestOrEven)))
                    rowScale[r] = scale
                    zero[r] = Int32(zp)
                    QuantizedGEMM.quantize(x, k, inverseScale: 1 / scale, zeroPoint: zp, into: qb.baseAddress! + r * k)
                }
            }
            let c = QuantizedGEMM.multiply(q, m: rows, weights, path: path)
            c.withUnsafeBufferPointer { cb in
                scales.withUnsafeBufferPointer { s in
                    sums.withUnsafeBufferPointer { w in
                        for r in 0..<rows {
                            let out = output + r * n
                            let row = cb.baseAddress! + r * n
                            let rs = rowScale[r]
                            let zp = zero[r]
                            if accumulate {
                                for j in 0..<n { out[j] += rs * s[j] * Float(row[j] &- zp &* w[j]) }
                            } else {
                                for j in 0..<n { out[j] = rs * s[j] * Float(row[j] &- zp &* w[j]) }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension QuantizedGEMM {
    /// The smallest and largest of `count` floats, zero included.
    @inline(__always)
    static func range(_ x: UnsafePointer<Float>, _ count: Int) -> (Float, Float) {
        var lo: Float = 0
        var hi: Float = 0
        for t in 0..<count {
            let v = x[t]
            lo = v < lo ? v : lo
            hi = v > hi ? v : hi
        }
        return (lo, hi)
    }

    /// `count` floats to 7-bit codes: round(x / scale) + zero point, clamped to 0...127.
    @inline(__always)
    static func quantize(
        _ x: UnsafePointer<Float>, _ count: Int, inverseScale: Float, zeroPoint: Float,
        into q: UnsafeMutablePointer<UInt8>
    ) {
        for t in 0..<count {
            var code = (x[t] * inverseScale).rounded(.toNearestOrEven) + zeroPoint
            code = code < 0 ? 0 : code
            code = code > 127 ? 127 : code
            q[t] = UInt8(code)
        }
    }
}
