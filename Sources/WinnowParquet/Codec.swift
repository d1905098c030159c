internal import CSnappy
internal import CZlib
internal import CZstd

/// A page compression codec (`CompressionCodec`), on the system libraries.
public enum ParquetCodec: Int32, Sendable, CaseIterable {
    case uncompressed = 0
    case snappy = 1
    case gzip = 2
    case zstd = 6

    /// The codec's name as pyarrow spells it (`snappy`, `zstd`, `gzip`, `none`).
    public var name: String {
        switch self {
        case .uncompressed: "none"
        case .snappy: "snappy"
        case .gzip: "gzip"
        case .zstd: "zstd"
        }
    }

    /// The codec of a name (`none` or `uncompressed`, `snappy`, `gzip`, `zstd`), case-insensitive.
    public init?(name: String) {
        switch name.lowercased() {
        case "none", "uncompressed": self = .uncompressed
        case "snappy": self = .snappy
        case "gzip": self = .gzip
        case "zstd": self = .zstd
        default: return nil
        }
    }

    /// The largest page Winnow decompresses: a bound on what a lying header can make it allocate.
    static let maxPageSize = 512 << 20

    /// Decompresses a page of `size` bytes (the size its header states; anything else is corrupt).
    func decompress(_ input: ArraySlice<UInt8>, size: Int) throws(ParquetError) -> [UInt8] {
        var out: [UInt8] = []
        try decompress(input, size: size, appendingTo: &out)
        return out
    }

    /// Decompresses a page of `size` bytes onto the end of `out` (a column's values are read where they land).
    func decompress(_ input: ArraySlice<UInt8>, size: Int, appendingTo out: inout [UInt8]) throws(ParquetError) {
        guard size >= 0, size <= ParquetCodec.maxPageSize else {
            throw ParquetError(.corrupt, "a page of \(size) bytes uncompressed (more than 512 MiB)")
        }
        if self == .uncompressed {
            guard input.count == size else {
                throw ParquetError(.corrupt, "an uncompressed page of \(input.count) bytes, its header says \(size)")
            }
            out.append(contentsOf: input)
            return
        }
        let base = out.count
        // Grown with a zeroed array (a memset) rather than a repeated element (a loop a byte at a time).
        out.append(contentsOf: [UInt8](repeating: 0, count: size))
        var produced = 0
        var failure: String?
        input.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { whole in
                let dst = UnsafeMutableRawBufferPointer(rebasing: whole[base...])
                let from = src.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!  // ok: an empty input's base
                let to = dst.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 1)!  // ok: as above
                switch self {
                case .snappy:
                    var length = 0
                    guard
                        snappy_uncompressed_length(from.assumingMemoryBound(to: CChar.self), src.count, &length)
                            == SNAPPY_OK, length == size
                    else {
                        failure = "snappy data that does not decode to the \(size) bytes its header says"
                        return
                    }
                    var n = size
                    if snappy_uncompress(
                        from.assumingMemoryBound(to: CChar.self), src.count, to.assumingMemoryBound(to: CChar.self), &n)
                        != SNAPPY_OK
                    {
                        failure = "corrupt snappy data"
                    }
                    produced = n
                case .zstd:
                    // A page may hold several frames (some writers flush mid-page); the one-shot call reads them all.
                    let n = ZSTD_decompress(to, size, from, src.count)
                    if ZSTD_isError(n) != 0 {
                        failure = "zstd: \(String(cString: ZSTD_getErrorName(n)))"
                    } else {
                        produced = n
                    }
                case .gzip:
                    (produced, failure) = inflateGzip(from, src.count, to, size)
                case .uncompressed: break
                }
            }
        }
        if let failure {
            out.removeSubrange(base...)
            throw ParquetError(.corrupt, failure)
        }
        guard produced == size else {
            out.removeSubrange(base...)
            throw ParquetError(.corrupt, "a page that decompresses to \(produced) bytes, its header says \(size)")
        }
    }

    /// Compresses a page.
    func compress(_ input: [UInt8]) -> [UInt8] {
        switch self {
        case .uncompressed:
            return input
        case .snappy:
            var n = snappy_max_compressed_length(input.count)
            var out = [UInt8](repeating: 0, count: n)
            let status = input.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    snappy_compress(
                        src.baseAddress?.assumingMemoryBound(to: CChar.self), src.count,
                        dst.baseAddress!.assumingMemoryBound(to: CChar.self), &n)  // ok: n > 0 for any input
                }
            }
            precondition(status == SNAPPY_OK, "snappy_compress into a buffer of its own maximum size")
            out.removeSubrange(n...)
            return out
        case .zstd:
            let bound = ZSTD_compressBound(input.count)
            var out = [UInt8](repeating: 0, count: bound)
            let n = input.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    ZSTD_compress(dst.baseAddress!, bound, src.baseAddress, src.count, 3)  // ok: bound > 0
                }
            }
            precondition(ZSTD_isError(n) == 0, "ZSTD_compress into ZSTD_compressBound bytes")
            out.removeSubrange(n...)
            return out
        case .gzip:
            return deflateGzip(input)
        }
    }
}

/// Inflates gzip (or zlib) data into exactly `capacity` bytes; several gzip members in a row are read on.
private func inflateGzip(
    _ src: UnsafeRawPointer, _ count: Int, _ dst: UnsafeMutableRawPointer, _ capacity: Int
) -> (Int, String?) {
    var produced = 0
    var consumed = 0
    while consumed < count {
        var s = z_stream()
        guard winnow_inflate_init2(&s, 15 + 32) == Z_OK else { return (produced, "zlib: inflateInit failed") }
        defer { inflateEnd(&s) }
        s.next_in = UnsafeMutablePointer(mutating: src.assumingMemoryBound(to: Bytef.self) + consumed)
        s.avail_in = uInt(count - consumed)
        s.next_out = dst.assumingMemoryBound(to: Bytef.self) + produced
        s.avail_out = uInt(capacity - produced)
        let status = inflate(&s, Z_FINISH)
        produced = capacity - Int(s.avail_out)
        consumed = count - Int(s.avail_in)
        if status != Z_STREAM_END {
            return (produced, "corrupt gzip data (zlib status \(status))")
        }
        if produced == capacity { break }
    }
    return (produced, nil)
}

/// A gzip stream (RFC 1952) of `input`, as pyarrow writes GZIP pages.
private func deflateGzip(_ input: [UInt8]) -> [UInt8] {
    var s = z_stream()
    precondition(winnow_deflate_init2(&s, 6, 15 + 16) == Z_OK, "deflateInit2")
    defer { deflateEnd(&s) }
    let bound = Int(deflateBound(&s, uLong(input.count))) + 32
    var out = [UInt8](repeating: 0, count: bound)
    var input = input
    let n = input.withUnsafeMutableBytes { src in
        out.withUnsafeMutableBytes { dst in
            s.next_in = src.baseAddress?.assumingMemoryBound(to: Bytef.self)
            s.avail_in = uInt(src.count)
            s.next_out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)  // ok: bound > 0
            s.avail_out = uInt(dst.count)
            let status = deflate(&s, Z_FINISH)
            precondition(status == Z_STREAM_END, "deflate into deflateBound bytes")
            return dst.count - Int(s.avail_out)
        }
    }
    out.removeSubrange(n...)
    return out
}
