/// MurmurHash3 x64 128 (seed 0), the hash LAION-5B's metadata carries as `hash`: `mmh3.hash64(url + text)[0]`.
public enum Murmur3 {
    /// The first 64 bits of MurmurHash3_x64_128(`bytes`, seed 0).
    public static func hash64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        hash64(bytes, UnsafeRawBufferPointer(start: nil, count: 0), seed: seed)
    }

    /// The first 64 bits of MurmurHash3_x64_128 of `a` followed by `b` (seed 0), read where they are: the 16-byte
    /// block that straddles them is the only one assembled.
    public static func hash64(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let c1: UInt64 = 0x87c3_7b91_1142_53d5
        let c2: UInt64 = 0x4cf5_ad43_2745_937f
        var h1 = seed
        var h2 = seed
        let n = a.count + b.count
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
        @inline(__always) func block(_ k1: UInt64, _ k2: UInt64) {
            var k1 = k1
            var k2 = k2
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
        var i = 0
        while i + 16 <= a.count {
            block(
                a.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian,
                a.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self).littleEndian)
            i += 16
        }
        // The rest of `a` and the start of `b`, as the next block or as the tail.
        var staged: (UInt64, UInt64) = (0, 0)
        let restOfA = a.count - i
        var j = 0
        var tail = 0  // bytes in `staged` that are the tail (a partial block)
        withUnsafeMutableBytes(of: &staged) { s in
            if restOfA > 0 { s.copyMemory(from: UnsafeRawBufferPointer(rebasing: a[i...])) }
            let fill = min(16 - restOfA, b.count)
            if restOfA > 0 && fill > 0 {
                UnsafeMutableRawBufferPointer(rebasing: s[restOfA..<(restOfA + fill)]).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: b[..<fill]))
            }
            if restOfA > 0 {
                j = fill
                tail = restOfA + fill
            }
        }
        if tail == 16 {
            block(UInt64(littleEndian: staged.0), UInt64(littleEndian: staged.1))
            staged = (0, 0)
            tail = 0
        }
        if tail == 0 {
            while j + 16 <= b.count {
                block(
                    b.loadUnaligned(fromByteOffset: j, as: UInt64.self).littleEndian,
                    b.loadUnaligned(fromByteOffset: j + 8, as: UInt64.self).littleEndian)
                j += 16
            }
            tail = b.count - j
            if tail > 0 {
                withUnsafeMutableBytes(of: &staged) {
                    $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[j...]))
                }
            }
        }
        // The last 1-15 bytes, zero-padded to 16 and read as two little-endian words.
        if tail > 8 {
            var k2 = UInt64(littleEndian: staged.1)
            k2 &*= c2
            k2 = rotl(k2, 33)
            k2 &*= c1
            h2 ^= k2
        }
        if tail > 0 {
            var k1 = UInt64(littleEndian: staged.0)
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
        return a.withUTF8 { pa in b.withUTF8 { pb in hash64(UnsafeRawBufferPointer(pa), UnsafeRawBufferPointer(pb)) } }
    }
}
