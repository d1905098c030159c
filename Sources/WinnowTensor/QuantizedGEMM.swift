internal import CKernels

/// Integer matrix products for int8 linear layers (issue 27: int8 CLIP): the weights packed once as signed bytes,
/// the activations as unsigned bytes, exact 32-bit sums out; scales and zero points stay with the caller. The C
/// kernels (CKernels/winnow_qgemm.c) are chosen at run time: AVX512-VNNI, AVX2, or portable C, each giving the
/// same integers (AVX2 needs every activation at most 127, as fbgemm's 7-bit activations on AVX2 are).
public enum QuantizedGEMM {
    /// A kernel path.
    public enum Path: Int32, Sendable, CaseIterable {
        case best = 0, portable = 1, avx2 = 2, avx512VNNI = 3
    }

    /// The path `.best` takes on this CPU.
    public static var bestPath: Path { Path(rawValue: winnow_qgemm_best_path()) ?? .portable }

    /// Weights of an n x k layer (one row per output channel), packed for the kernels.
    public struct Weights: Sendable {
        public let n: Int, k: Int
        let packed: [Int8]

        /// Packs `rows` (n x k, row-major).
        public init(_ rows: [Int8], n: Int, k: Int) {
            precondition(rows.count == n * k, "weights are not n x k")
            self.n = n
            self.k = k
            var p = [Int8](repeating: 0, count: winnow_qgemm_packed_size(n, k))
            rows.withUnsafeBufferPointer { b in
                p.withUnsafeMutableBufferPointer { winnow_qgemm_pack(b.baseAddress, k, n, k, $0.baseAddress) }
            }
            packed = p
        }
    }

    /// C (m x n) = A (m x k unsigned bytes, row-major) times the weights transposed, exactly in 32-bit integers.
    public static func multiply(_ a: [UInt8], m: Int, _ w: Weights, path: Path = .best) -> [Int32] {
        precondition(a.count == m * w.k, "activations are not m x k")
        var c = [Int32](repeating: 0, count: m * w.n)
        a.withUnsafeBufferPointer { pa in
            w.packed.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer {
                    winnow_qgemm_u8s8(
                        pa.baseAddress, w.k, pb.baseAddress, w.n, w.k, m, $0.baseAddress, w.n, path.rawValue)
                }
            }
        }
        return c
    }
}
