import Foundation
import Testing
import WinnowTensor

/// A deterministic pseudo-random float in [-scale, scale).
func noise(_ i: Int, scale: Float = 1) -> Float {
    var x = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ 0x2545_F491_4F6C_DD1D
    x ^= x >> 29
    x = x &* 0xBF58_476D_1CE4_E5B9
    x ^= x >> 32
    return (Float(x % 1_000_000) / 500_000 - 1) * scale
}

@Suite struct KernelTests {
    @Test func expIsWithinTwoUlpOfFoundation() {
        var worst: Float = 0
        for i in 0..<20_000 {
            let x = Float(i - 10_000) / 10_000 * 87
            let got = Kernels.exp8(SIMD8(repeating: x))[0]
            let want = Float(Foundation.exp(Double(x)))
            worst = max(worst, abs(got - want) / want)
        }
        #expect(worst < 3e-7)
    }

    @Test func sgemmEqualsNaiveProduct() {
        let m = 37
        let n = 29
        let k = 53
        let a = (0..<(m * k)).map { noise($0) }
        let b = (0..<(n * k)).map { noise($0 + 7_777) }  // stored [n, k]: the product uses its transpose
        var c = [Float](repeating: 1, count: m * n)
        c.withUnsafeMutableBufferPointer { cp in
            BLAS.sgemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, beta: 1, c: cp.baseAddress!, ldc: n)
        }
        var worst: Float = 0
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 1
                for t in 0..<k { s += Double(a[i * k + t]) * Double(b[j * k + t]) }
                worst = max(worst, abs(Float(s) - c[i * n + j]))
            }
        }
        #expect(worst < 1e-4)
    }

    @Test func layerNormMatchesDefinition() {
        let cols = 45  // not a multiple of 8: the scalar tail is used
        let x = (0..<(3 * cols)).map { noise($0, scale: 3) + 2 }
        let w = (0..<cols).map { 1 + noise($0 + 100, scale: 0.1) }
        let b = (0..<cols).map { noise($0 + 200, scale: 0.05) }
        var y = [Float](repeating: 0, count: x.count)
        y.withUnsafeMutableBufferPointer {
            Kernels.layerNorm(x, rows: 3, cols: cols, weight: w, bias: b, eps: 1e-5, output: $0.baseAddress!)
        }
        for r in 0..<3 {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let mean = row.reduce(0, +) / Double(cols)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
            for c in 0..<cols {
                let want = (row[c] - mean) / (variance + 1e-5).squareRoot() * Double(w[c]) + Double(b[c])
                #expect(abs(Double(y[r * cols + c]) - want) < 1e-5)
            }
        }
    }

    @Test func causalSoftmaxZeroesTheFuture() {
        let n = 11
        var s = (0..<(n * n)).map { noise($0, scale: 5) }
        let original = s
        s.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: n, cols: n, ld: n, causal: true) }
        for r in 0..<n {
            let kept = original[(r * n)...(r * n + r)].map { Foundation.exp(Double($0)) }
            let total = kept.reduce(0, +)
            for c in 0..<n {
                let want = c <= r ? kept[c] / total : 0
                #expect(abs(Double(s[r * n + c]) - want) < 1e-6)
            }
        }
    }

    @Test func activationsMatchTheirDefinitions() {
        for activation in [Kernels.Activation.quickGELU, .gelu, .geluTanh] {
            let xs = (0..<13).map { Float($0 - 6) * 0.9 + 0.05 }
            var y = xs
            y.withUnsafeMutableBufferPointer {
                Kernels.biasActivation($0.baseAddress!, rows: 1, cols: xs.count, bias: nil, activation: activation)
            }
            for (i, x) in xs.enumerated() {
                let d = Double(x)
                let want: Double
                switch activation {
                case .quickGELU: want = d / (1 + Foundation.exp(-1.702 * d))
                case .gelu: want = 0.5 * d * (1 + Foundation.erf(d / 2.0.squareRoot()))
                case .geluTanh: want = 0.5 * d * (1 + Foundation.tanh(0.7978845608028654 * (d + 0.044715 * d * d * d)))
                case .identity: want = d
                }
                #expect(abs(Double(y[i]) - want) < 2e-6, "\(activation) at \(x)")
            }
        }
    }
}

@Suite struct CoreTypeTests {
    @Test func avx512KernelsOnlyWhereTheCPUHasThem() {
        let zen5: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"]
        #expect(BLAS.preferredCoreType(cpuFlags: zen5, detected: "Zen") == "SkylakeX")
        #expect(BLAS.preferredCoreType(cpuFlags: zen5, detected: "Haswell") == "SkylakeX")
        #expect(BLAS.preferredCoreType(cpuFlags: zen5, detected: "SkylakeX") == nil)
        #expect(BLAS.preferredCoreType(cpuFlags: zen5, detected: "SapphireRapids") == nil)
        // AVX2 only (this VM), or AVX-512 without BW/DQ/VL (Knights Landing): OpenBLAS's choice stands.
        #expect(BLAS.preferredCoreType(cpuFlags: ["avx2", "fma"], detected: "Zen") == nil)
        #expect(BLAS.preferredCoreType(cpuFlags: ["avx512f", "avx512cd"], detected: "Haswell") == nil)
    }

    @Test func cpuFlagsAreRead() {
        // Every x86-64 CPU has SSE2; elsewhere there is no /proc/cpuinfo flags line to test.
        #if arch(x86_64) && os(Linux)
            #expect(BLAS.cpuFlags().contains("sse2"))
        #endif
    }
}
