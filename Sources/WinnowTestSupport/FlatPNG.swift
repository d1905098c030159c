/// PNGs of one colour written without ever holding their pixels, so that a file of ninety megapixels is a few
/// megabytes: the hostile inputs of the image stage's memory tests and of `winnow-bench decode-peak`.
///
/// Each row is filtered with Sub (its first pixel, then zeros) and deflated by hand with the fixed Huffman codes:
/// the zeros go as matches of 258 bytes at distance 1.
public enum FlatPNG {
    /// A `width` x `height` PNG whose every pixel is `pixel`: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA)
    /// samples of `depth` 8 or 16 bits.
    public static func make(width: Int, height: Int, depth: Int, pixel: [UInt16]) -> [UInt8] {
        precondition(depth == 8 || depth == 16, "depth is 8 or 16")
        let colourType: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][pixel.count] ?? 0
        var first: [UInt8] = []
        for v in pixel {
            if depth == 16 { first.append(UInt8(v >> 8)) }
            first.append(UInt8(truncatingIfNeeded: v))
        }
        let zeros = first.count * (width - 1)
        let row = [1] + first  // then `zeros` zero bytes

        var bits = BitWriter()
        bits.write(1, 1)  // the final block
        bits.write(1, 2)  // fixed Huffman codes
        for _ in 0..<height {
            for b in row { bits.literal(b) }
            if zeros > 0 {
                bits.literal(0)
                // Length 258 (symbol 285, code 0xc5 in 8 bits), then distance 1 (code 0 in 5 bits).
                let match = BitWriter.reversed(0xc5, 8)
                for _ in 0..<((zeros - 1) / 258) { bits.write(match, 13) }
                for _ in 0..<((zeros - 1) % 258) { bits.literal(0) }
            }
        }
        bits.code(0, 7)  // end of block
        var zlib: [UInt8] = [0x78, 0x01] + bits.finish()
        // Adler-32 of the rows, a row at a time: A += sum, B += n * A + sum of (n - i) * x[i].
        let n = row.count + zeros
        var rowSum = 0
        var rowWeighted = 0
        for (i, b) in row.enumerated() {
            rowSum += Int(b)
            rowWeighted += (n - i) * Int(b)
        }
        var a = 1
        var b = 0
        for _ in 0..<height {
            b = (b + (n % 65521) * a + rowWeighted) % 65521
            a = (a + rowSum) % 65521
        }
        zlib += be32(b << 16 | a)

        var ihdr = be32(width) + be32(height)
        ihdr += [UInt8(depth), colourType, 0, 0, 0]
        return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + chunk("IHDR", ihdr) + chunk("IDAT", zlib)
            + chunk("IEND", [])
    }

    private static func be32(_ v: Int) -> [UInt8] {
        [
            UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8),
            UInt8(truncatingIfNeeded: v),
        ]
    }

    private static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return be32(body.count) + typed + be32(Int(crc32(typed)))
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        crcTable.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        }
        return c ^ 0xffff_ffff
    }

    /// Deflate's bit order: values least significant bit first, Huffman codes most significant bit first.
    private struct BitWriter {
        var out: [UInt8] = []
        var buffer: UInt64 = 0
        var count = 0

        mutating func write(_ value: UInt32, _ n: Int) {
            buffer |= UInt64(value) << UInt64(count)
            count += n
            while count >= 8 {
                out.append(UInt8(truncatingIfNeeded: buffer))
                buffer >>= 8
                count -= 8
            }
        }

        static func reversed(_ code: UInt32, _ n: Int) -> UInt32 {
            var r: UInt32 = 0
            for i in 0..<n { r |= ((code >> UInt32(i)) & 1) << UInt32(n - 1 - i) }
            return r
        }

        mutating func code(_ code: UInt32, _ n: Int) { write(BitWriter.reversed(code, n), n) }

        mutating func literal(_ b: UInt8) {
            if b < 144 { code(0x30 + UInt32(b), 8) } else { code(0x190 + UInt32(b) - 144, 9) }
        }

        mutating func finish() -> [UInt8] {
            if count > 0 { out.append(UInt8(truncatingIfNeeded: buffer)) }
            return out
        }
    }
}
