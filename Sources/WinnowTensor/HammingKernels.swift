internal import CKernels

/// Hamming-distance scans over 256-bit hashes stored as four `UInt64` words each, for the perceptual-hash index:
/// POPCNT (chosen at run time) and software prefetching, in `CKernels`.
public enum HammingKernels {
    /// Whether this CPU takes the POPCNT path.
    public static var usesPOPCNT: Bool { winnow_hamming_have_popcnt() != 0 }

    /// Keeps at the front of `ids`, in order, those whose hash (`hashes[4 * id] ..< hashes[4 * id + 4]`) is within
    /// `radius` of the four words at `query`, and writes each kept one's distance to `distances`; returns how many
    /// were kept; `radius` below 256. The corresponding C function is `winnow_hamming_filter`.
    public static func filter(
        hashes: UnsafePointer<UInt64>, ids: UnsafeMutablePointer<UInt32>, count: Int, query: UnsafePointer<UInt64>,
        radius: Int, distances: UnsafeMutablePointer<UInt8>
    ) -> Int {
        precondition(radius >= 0 && radius < 256, "radius outside 0...255")
        return winnow_hamming_filter(hashes, ids, count, query, Int32(radius), distances)
    }

    /// The closest of hashes `range` to `query` (the first among equals), by a full scan; nil for an empty range.
    /// The corresponding C function is `winnow_hamming_nearest`.
    public static func nearest(
        hashes: UnsafePointer<UInt64>, range: Range<Int>, query: UnsafePointer<UInt64>
    ) -> (id: Int, distance: Int)? {
        guard !range.isEmpty else { return nil }
        var best = 0
        let distance = winnow_hamming_nearest(hashes, range.lowerBound, range.upperBound, query, &best)
        return (best, Int(distance))
    }

    /// Appends to `out` the id of every bit-packed entry (`width` bits each, the id in the low `idBits`, check bits
    /// above) of buckets `starts[b] ..< ends[b]` whose check bits differ from `check` in at most `allowance[b]`
    /// bits; returns the number appended. `packed` must be readable 8 bytes past its last entry. The corresponding
    /// C function is `winnow_hamming_scan_buckets`.
    public static func scanBuckets(
        packed: UnsafeRawPointer, starts: UnsafePointer<UInt32>, ends: UnsafePointer<UInt32>,
        allowance: UnsafePointer<UInt8>, count: Int, width: Int, idBits: Int, check: UInt64,
        out: UnsafeMutablePointer<UInt32>
    ) -> Int {
        winnow_hamming_scan_buckets(
            packed.assumingMemoryBound(to: UInt8.self), starts, ends, allowance, count, UInt32(width), UInt32(idBits),
            check, out)
    }
}
