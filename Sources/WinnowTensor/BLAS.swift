internal import CBLAS

/// Matrix products on OpenBLAS, row-major throughout.
public enum BLAS {
    /// `c = alpha * op(a) * op(b) + beta * c` with `op(a)` `m` x `k` and `op(b)` `k` x `n`; `transA`/`transB` read
    /// the stored matrix transposed, `lda`/`ldb`/`ldc` are the stored row strides in elements.
    /// The corresponding C function is `cblas_sgemm`.
    @inline(__always)
    public static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        winnow_sgemm(
            transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c,
            Int32(ldc))
    }

    /// The number of threads OpenBLAS uses for one call. The corresponding C function is `openblas_get_num_threads`.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }

    /// The kernel family OpenBLAS chose for this CPU at load time ("Haswell", "SkylakeX"...).
    /// The corresponding C function is `openblas_get_corename`.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
