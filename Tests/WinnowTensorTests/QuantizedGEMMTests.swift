import Foundation
import Testing
import WinnowCore

@testable import WinnowTensor

/// Issue 27: every int8 kernel path gives the scalar reference's integers exactly, on the inputs it accepts (AVX2:
/// activations at most 127; AVX512-VNNI and portable C: any byte), for shapes with ragged edges (k not a multiple
/// of 4, n not of 16, m not of 4) and ViT-B/32's own (768 -> 3072).
@Suite struct QuantizedGEMMTests {
    struct Rand {
        var s: UInt64
        mutating func next() -> UInt64 {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return s >> 33
        }
    }

    func reference(_ a: [UInt8], _ b: [Int8], m: Int, n: Int, k: Int) -> [Int32] {
        var c = [Int32](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Int32 = 0
                for t in 0..<k { s += Int32(a[i * k + t]) * Int32(b[j * k + t]) }
                c[i * n + j] = s
            }
        }
        return c
    }

    @Test func everyPathMatchesTheReference() {
        var r = Rand(s: 42)
        let paths = QuantizedGEMM.Path.allCases.filter { $0 != .best && $0.rawValue <= QuantizedGEMM.bestPath.rawValue }
        #expect(paths.contains(.portable))
        for (m, n, k) in [(1, 1, 1), (5, 37, 83), (4, 16, 4), (7, 33, 130), (16, 64, 768), (3, 3072, 768 / 8)] {
            // Extremes included: 0, 127 and 255 against -128 and 127, where the AVX2 pairs come nearest to int16's limit.
            let b = (0..<(n * k)).map { i in
                i % 97 == 0 ? Int8.min : i % 89 == 0 ? Int8.max : Int8(truncatingIfNeeded: r.next())
            }
            let full = (0..<(m * k)).map { i in i % 53 == 0 ? UInt8(255) : UInt8(truncatingIfNeeded: r.next()) }
            let seven = (0..<(m * k)).map { i in i % 53 == 0 ? UInt8(127) : UInt8(truncatingIfNeeded: r.next()) & 0x7f }
            let w = QuantizedGEMM.Weights(b, n: n, k: k)
            for path in paths {
                #expect(
                    QuantizedGEMM.multiply(seven, m: m, w, path: path) == reference(seven, b, m: m, n: n, k: k),
                    "\(path) \(m)x\(n)x\(k) 7-bit")
                if path != .avx2 {
                    #expect(
                        QuantizedGEMM.multiply(full, m: m, w, path: path) == reference(full, b, m: m, n: n, k: k),
                        "\(path) \(m)x\(n)x\(k) 8-bit")
                }
            }
            #expect(
                QuantizedGEMM.multiply(seven, m: m, w) == reference(seven, b, m: m, n: n, k: k), "best \(m)x\(n)x\(k)")
        }
    }

    /// A linear layer on float rows (`Linear.apply`, C's `winnow_qlinear`) on every path gives the bits of this
    /// plain Swift statement of its arithmetic: per-row 7-bit codes (range with zero included, round to nearest
    /// even), exact integer sums, the scales applied in the documented order; overwriting and accumulating, rows
    /// with a stride, ragged shapes, an all-zero row and an all-negative one.
    @Test func linearLayersOnEveryPathMatchTheirStatement() {
        var r = Rand(s: 9)
        let paths = QuantizedGEMM.Path.allCases.filter { $0 != .best && $0.rawValue <= QuantizedGEMM.bestPath.rawValue }
        func uniform() -> Float { Float(r.next() % 2_000_001) / 1_000_000 - 1 }
        for (m, n, k, stride) in [(1, 1, 1, 1), (6, 37, 83, 90), (4, 16, 4, 4), (9, 200, 768, 768)] {
            let weight = (0..<(n * k)).map { _ in uniform() * 0.05 }
            let layer = QuantizedGEMM.Linear(weight: weight, inputs: k, outputs: n)
            let qw = (0..<(n * k)).map { i -> Int32 in
                Int32((weight[i] / layer.scales[i / k]).rounded().clamped(-127, 127))
            }
            var x = (0..<(m * stride)).map { _ in uniform() * 3 }
            for t in 0..<k { x[t] = 0 }
            if m > 1 { for t in 0..<k { x[stride + t] = -abs(x[stride + t]) - 0.1 } }
            let start = (0..<(m * n)).map { _ in uniform() }
            // The statement: codes over 0...levels (255, or 127 on the AVX2 path).
            func expected(accumulate: Bool, levels: Float) -> [UInt32] {
                let codes = (0..<m).map { i -> (q: [Int32], scale: Float, zero: Int32) in
                    let row = x[(i * stride)..<(i * stride + k)]
                    let lo = min(0, row.min()!)
                    let hi = max(0, row.max()!)
                    let scale = hi > lo ? (hi - lo) / levels : 1
                    let zero = max(0, min(levels, (-lo / scale).rounded(.toNearestOrEven)))
                    let inverse = 1 / scale
                    let q = row.map { Int32(max(0, min(levels, ($0 * inverse).rounded(.toNearestOrEven) + zero))) }
                    return (q, scale, Int32(zero))
                }
                var out = accumulate ? start : [Float](repeating: 0, count: m * n)
                for i in 0..<m {
                    for j in 0..<n {
                        var c: Int32 = 0
                        for t in 0..<k { c &+= codes[i].q[t] &* qw[j * k + t] }
                        let v = codes[i].scale * layer.scales[j] * Float(c &- codes[i].zero &* layer.sums[j])
                        out[i * n + j] = accumulate ? out[i * n + j] + v : v
                    }
                }
                return out.map(\.bitPattern)
            }
            for path in paths {
                for accumulate in [false, true] {
                    var out = start
                    x.withUnsafeBufferPointer { xb in
                        out.withUnsafeMutableBufferPointer {
                            layer.apply(
                                xb.baseAddress!, rows: m, inputStride: stride, into: $0.baseAddress!,
                                accumulate: accumulate, path: path)
                        }
                    }
                    #expect(
                        out.map(\.bitPattern) == expected(accumulate: accumulate, levels: path == .avx2 ? 127 : 255),
                        "\(path) \(m)x\(n)x\(k) accumulate \(accumulate)")
                }
            }
        }
    }

    /// Non-finite activations stay in their row and give the same result on every path: a NaN is coded as 0 (the
    /// row's scale comes from its other values), so that row's outputs are finite and equal on every path; a row
    /// holding an infinity leaves the other rows exactly as they are without it.
    @Test func nonFiniteActivationsAreDefined() {
        let (m, n, k) = (3, 24, 40)
        let weight = (0..<(n * k)).map { Float(($0 * 7919) % 201 - 100) / 1000 }
        let layer = QuantizedGEMM.Linear(weight: weight, inputs: k, outputs: n)
        let clean = (0..<(m * k)).map { Float(($0 * 104_729) % 301 - 150) / 50 }
        var withNaN = clean
        withNaN[k + 3] = .nan
        var withInfinity = clean
        withInfinity[k + 9] = -.infinity
        let paths = QuantizedGEMM.Path.allCases.filter { $0 != .best && $0.rawValue <= QuantizedGEMM.bestPath.rawValue }
        func run(_ x: [Float], _ path: QuantizedGEMM.Path) -> [Float] {
            var out = [Float](repeating: 0, count: m * n)
            x.withUnsafeBufferPointer { xb in
                out.withUnsafeMutableBufferPointer {
                    layer.apply(xb.baseAddress!, rows: m, into: $0.baseAddress!, accumulate: false, path: path)
                }
            }
            return out
        }
        var nanRows: [QuantizedGEMM.Path: [Float]] = [:]
        for path in paths {
            let a = run(clean, path)
            let b = run(withNaN, path)
            let c = run(withInfinity, path)
            let finite = b[n..<(2 * n)].allSatisfy { $0.isFinite }
            #expect(finite, "\(path)")
            nanRows[path] = Array(b[n..<(2 * n)])
            for other in [b, c] {
                #expect(Array(a[0..<n]) == Array(other[0..<n]) && Array(a[(2 * n)...]) == Array(other[(2 * n)...]))
            }
        }
        // Paths with the same code width agree on the NaN row bit for bit (AVX2 codes 7 bits, the others 8).
        if let p = nanRows[.portable], let v = nanRows[.avx512VNNI] { #expect(p == v) }
    }

    /// The path chosen is the best this CPU's flags allow (/proc/cpuinfo), so the tests above ran the kernels it
    /// will use; the CI log says which.
    @Test func theBestPathFollowsTheCPUFlags() throws {
        let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = Set(
            info.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        let expected: QuantizedGEMM.Path =
            ProcessInfo.processInfo.environment["WINNOW_INT8_PATH"] != nil
            ? QuantizedGEMM.bestPath
            : flags.isSuperset(of: ["avx512f", "avx512bw", "avx512_vnni"])
                ? .avx512VNNI : flags.contains("avx2") ? .avx2 : .portable
        print("int8 GEMM: best path on this CPU is \(QuantizedGEMM.bestPath)")
        #expect(QuantizedGEMM.bestPath == expected, "flags \(flags.filter { $0.hasPrefix("avx") }.sorted())")
    }
}

extension Float {
    fileprivate func clamped(_ lo: Float, _ hi: Float) -> Float { Swift.max(lo, Swift.min(hi, self)) }
}
