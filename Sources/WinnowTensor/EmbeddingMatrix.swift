internal import CKernels
import Dispatch
import Synchronization

/// Embeddings (one row each) held as float16 or float32, searched exactly: every row's dot product with the query,
/// then the k largest. For unit-length rows and query that is the cosine similarity. The scan streams the matrix once
/// (1M x 512 float16 is 1 GiB), split over threads; half floats are widened with F16C where the CPU has it.
public struct EmbeddingMatrix: Sendable {
    /// Width of a row.
    public let dimension: Int
    /// Whether rows are stored as float16 (else float32).
    public let half: Bool
    private var halves: [UInt16] = []
    private var floats: [Float] = []

    /// An empty matrix of `dimension`-wide rows.
    public init(dimension: Int, half: Bool) {
        self.dimension = dimension
        self.half = half
    }

    /// Rows stored.
    public var count: Int { dimension == 0 ? 0 : (half ? halves.count : floats.count) / dimension }

    /// Reserves room for `rows` rows.
    public mutating func reserve(rows: Int) {
        if half { halves.reserveCapacity(rows * dimension) } else { floats.reserveCapacity(rows * dimension) }
    }

    /// Appends rows given as little-endian IEEE half floats (the data of a float16 `.npy` file).
    public mutating func appendHalf(_ bytes: UnsafeRawBufferPointer) {
        precondition(half && bytes.count % (2 * dimension) == 0, "whole float16 rows")
        let n = bytes.count / 2
        let start = halves.count
        halves.append(contentsOf: repeatElement(0, count: n))
        halves.withUnsafeMutableBytes { dst in
            guard let to = dst.baseAddress, let from = bytes.baseAddress else { return }
            to.advanced(by: start * 2).copyMemory(from: from, byteCount: bytes.count)
        }
        #if _endian(big)
            for i in start..<halves.count { halves[i] = UInt16(littleEndian: halves[i]) }
        #endif
    }

    /// Appends rows of floats (rounded to float16 when the matrix is half).
    public mutating func append(_ values: [Float]) {
        precondition(values.count % max(1, dimension) == 0, "whole rows")
        if half { halves += values.map { Float16($0).bitPattern } } else { floats += values }
    }

    /// The `k` rows with the largest dot product with `query` (best first; ties by row), scanning with `threads`
    /// threads.
    public func nearest(_ query: [Float], k: Int, threads: Int = 1) -> [(row: Int, score: Float)] {
        precondition(query.count == dimension, "query width")
        let n = count
        guard n > 0, k > 0 else { return [] }
        var scores = [Float](repeating: 0, count: n)
        let parts = max(1, min(threads, n / 4096 + 1))
        let chunk = (n + parts - 1) / parts
        let d = dimension
        // Each thread scores its own rows: `scan(first row, row count, output)`.
        func split(_ scan: @Sendable (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
            scores.withUnsafeMutableBufferPointer { out in
                guard let base = out.baseAddress else { return }
                let o = SendablePointer(base)
                DispatchQueue.concurrentPerform(iterations: parts) { p in
                    let lo = p * chunk
                    let hi = min(n, lo + chunk)
                    if lo < hi { scan(lo, hi - lo, o.p + lo) }
                }
            }
        }
        query.withUnsafeBufferPointer { q in
            guard let qBase = q.baseAddress else { return }
            let qp = SendableConstPointer(qBase)
            if half {
                halves.withUnsafeBufferPointer { m in
                    guard let mBase = m.baseAddress else { return }
                    let mp = SendableConstPointer(mBase)
                    split { lo, count, out in winnow_dot_rows_f16(mp.p + lo * d, count, d, qp.p, out) }
                }
            } else {
                floats.withUnsafeBufferPointer { m in
                    guard let mBase = m.baseAddress else { return }
                    let mp = SendableConstPointer(mBase)
                    split { lo, count, out in winnow_dot_rows_f32(mp.p + lo * d, count, d, qp.p, out) }
                }
            }
        }
        return EmbeddingMatrix.top(scores, k: k)
    }

    /// The `k` largest scores with their indices, best first (ties: lower index first).
    static func top(_ scores: [Float], k: Int) -> [(row: Int, score: Float)] {
        var best: [(row: Int, score: Float)] = []
        best.reserveCapacity(k + 1)
        var floor = -Float.infinity
        for (i, s) in scores.enumerated() where best.count < k || s > floor {
            var at = best.count
            while at > 0 && best[at - 1].score < s { at -= 1 }
            best.insert((i, s), at: at)
            if best.count > k { best.removeLast() }
            if best.count == k { floor = best[k - 1].score }
        }
        return best
    }

    /// Reads every byte of the matrix once with `threads` threads and nothing else: the memory-speed limit a scan is
    /// measured against (winnow-bench). Returns a checksum so that the read is not optimised away.
    public func readAll(threads: Int) -> UInt64 {
        let parts = max(1, threads)
        let result = Mutex<UInt64>(0)
        func run(_ raw: UnsafeRawBufferPointer) {
            guard let base = raw.baseAddress else { return }
            let p = SendableRaw(base)
            let count = raw.count
            let chunk = (count / parts) & ~31
            DispatchQueue.concurrentPerform(iterations: parts) { i in
                let n = i == parts - 1 ? (count - i * chunk) & ~31 : chunk
                let x = winnow_read_all(p.p + i * chunk, n)
                result.withLock { $0 ^= x }
            }
        }
        if half { halves.withUnsafeBytes { run($0) } } else { floats.withUnsafeBytes { run($0) } }
        return result.withLock { $0 }
    }

    /// Whether the F16C + FMA scan is in use on this CPU.
    public static var usesF16C: Bool { winnow_kernels_have_f16c() != 0 }
}

// Raw pointers handed to the scan's worker threads: each writes a disjoint range of the output and only reads the
// inputs, which outlive the concurrentPerform call.
private struct SendablePointer: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
}

private struct SendableRaw: @unchecked Sendable {
    let p: UnsafeRawPointer
    init(_ p: UnsafeRawPointer) { self.p = p }
}

private struct SendableConstPointer<T>: @unchecked Sendable {
    let p: UnsafePointer<T>
    init(_ p: UnsafePointer<T>) { self.p = p }
}
