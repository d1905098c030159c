internal import CKernels

extension QuantizedGEMM {
    /// A linear layer `y = x · Wᵀ` in int8: the weights quantised once, symmetrically per output channel (scale
    /// max|W_j| / 127), and each input row at run time, asymmetrically (its range, zero included, over 0...255 on
    /// the VNNI and portable paths, 0...127 on AVX2, whose VPMADDUBSW needs 7 bits); the products summed exactly in
    /// int32 and scaled back to float.
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
        /// stride `inputStride`, default the layer's inputs) into `output` (row stride the layer's outputs): each
        /// row quantised, multiplied and scaled back four rows at a time in C (`winnow_qlinear`), nothing allocated
        /// beyond four rows' codes and sums.
        public func apply(
            _ input: UnsafePointer<Float>, rows: Int, inputStride: Int? = nil, into output: UnsafeMutablePointer<Float>,
            accumulate: Bool, path: Path = .best
        ) {
            weights.packed.withUnsafeBufferPointer { packed in
                scales.withUnsafeBufferPointer { s in
                    sums.withUnsafeBufferPointer { w in
                        winnow_qlinear(
                            input, inputStride ?? weights.k, rows, weights.k, packed.baseAddress, weights.n,
                            s.baseAddress, w.baseAddress, output, weights.n, accumulate ? 1 : 0, path.rawValue)
                    }
                }
            }
        }
    }
}
