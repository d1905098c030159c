/// MurmurHash3 x64 128 (seed 0), the hash LAION-5B's metadata carries as `hash`: `mmh3.hash64(url + text)[0]`.
public enum Murmur3 {
    /// The first 64 bits of MurmurHash3_x64_128(`bytes`, seed 0).
    public static func hash64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let c1: UInt64 = 0x87c3_7b91_1142_53d5
        let c2: UInt64 = 0x4cf5_ad43_2745_937f
        var h1 = seed
        var h2 = seed
        let n = bytes.count
        let blocks = n / 16
        @inline(__always) func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
        @inline(__always) func fmix(_ k: UInt64) -> UInt64 {
            var k = k
            k ^= k >> 33
            k &*= 0xff51_afd7_ed55_8ccd
            k ^= k >> 33
            k &*= 0xc4ce_b9fe_1a85_ec53
            k ^= k >> 33
            return k
        }
        for i in 0..<blocks {
            var k1 = bytes.loadUnaligned(fromByteOffset: i * 16, as: UInt64.self).littleEndian
            var k2 = bytes.loadUnaligned(fromByteOffset: i * 16 + 8, as: UInt64.self).littleEndian
            k1 &*= c1
            k1 = rotl(k1, 31)
            k1 &*= c2
            h1 ^= k1
            h1 = rotl(h1, 27)
            h1 &+= h2
            h1 = h1 &* 5 &+ 0x52dc_e729
            k2 &*= c2
            k2 = rotl(k2, 33)
            k2 &*= c1
            h2 ^= k2
            h2 = rotl(h2, 31)
            h2 &+= h1
            h2 = h2 &* 5 &+ 0x3849_5ab5
        }
        let tail = blocks * 16
        var k1: UInt64 = 0
        var k2: UInt64 = 0
        let rest = n & 15
        // The last 1-15 bytes, zero-padded to 16 and read as two little-endian words.
        var padded: (UInt64, UInt64) = (0, 0)
        if rest > 0 {
            withUnsafeMutableBytes(of: &padded) {
                $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[tail..<n]))
            }
        }
        if rest > 8 {
            k2 = UInt64(littleEndian: padded.1)
            k2 &*= c2
            k2 = rotl(k2, 33)
            k2 &*= c1
            h2 ^= k2
        }
        if rest > 0 {
            k1 = UInt64(littleEndian: padded.0)
            k1 &*= c1
            k1 = rotl(k1, 31)
            k1 &*= c2
            h1 ^= k1
        }
        h1 ^= UInt64(n)
        h2 ^= UInt64(n)
        h1 &+= h2
        h2 &+= h1
        h1 = fmix(h1)
        h2 = fmix(h2)
        h1 &+= h2
        return h1
    }

    /// `hash64` of a string's UTF-8 bytes.
    public static func hash64(_ s: String) -> UInt64 {
        var s = s
        return s.withUTF8 { hash64(UnsafeRawBufferPointer($0)) }
    }

    /// `hash64` of the UTF-8 bytes of `a` followed by `b`, without building the joined string on the heap.
    public static func hash64(_ a: String, _ b: String) -> UInt64 {
        var a = a
        var b = b
        return a.withUTF8 { pa in
            b.withUTF8 { pb in
                withUnsafeTemporaryAllocation(byteCount: pa.count + pb.count, alignment: 8) { buffer in
                    buffer.copyMemory(from: UnsafeRawBufferPointer(pa))
                    let tail = UnsafeMutableRawBufferPointer(rebasing: buffer[pa.count...])
                    tail.copyMemory(from: UnsafeRawBufferPointer(pb))
                    return hash64(UnsafeRawBufferPointer(buffer))
                }
            }
        }
    }
}
