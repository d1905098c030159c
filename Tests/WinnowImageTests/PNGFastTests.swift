import Foundation
import Testing
import WinnowCore

@testable import WinnowImage

/// PNG files built byte by byte: any colour type, depth, filter and chunk order.
enum PNGMaker {
    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
    }

    /// A zlib stream of stored (uncompressed) deflate blocks.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var at = 0
        repeat {
            let n = min(65535, data.count - at)
            out.append(at + n == data.count ? 1 : 0)
            out += [UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
            out += data[at..<(at + n)]
            at += n
        } while at < data.count
        var a: UInt32 = 1
        var b: UInt32 = 0
        for x in data {
            a = (a + UInt32(x)) % 65521
            b = (b + a) % 65521
        }
        return out + be32(b << 16 | a)
    }

    static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return be32(UInt32(body.count)) + typed + be32(crc32(typed))
    }

    /// A PNG whose image data is `raw` (filter bytes included), split over `idats` IDAT chunks.
    static func png(
        width: Int, height: Int, depth: UInt8, colour: UInt8, raw: [UInt8], before: [[UInt8]] = [], idats: Int = 1,
        interlace: UInt8 = 0
    ) -> [UInt8] {
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [depth, colour, 0, 0, interlace])
        for c in before { out += c }
        let z = zlibStored(raw)
        let part = (z.count + idats - 1) / idats
        var at = 0
        while at < z.count {
            out += chunk("IDAT", Array(z[at..<min(z.count, at + part)]))
            at += part
        }
        return out + chunk("IEND", [])
    }
}

/// The libdeflate path against libpng on PNGs of every shape it takes, and the ones it must leave to libpng.
struct PNGFastTests {
    static func channels(_ colour: UInt8) -> Int { [1, 0, 3, 1, 2, 0, 4][Int(colour)] }

    @Test func givesLibpngsPixelsForEveryShapeItTakes() throws {
        var rng = SplitMix64(seed: 5)
        var taken = 0
        let shapes: [(UInt8, UInt8)] = [(0, 8), (2, 8), (3, 8), (3, 4), (3, 2), (3, 1), (4, 8), (6, 8)]
        for (colour, depth) in shapes {
            for (width, height) in [(1, 1), (7, 3), (33, 17), (64, 9)] {
                for withTRNS in [false, true] where !(withTRNS && (colour == 4 || colour == 6)) {
                    let rowBytes = (width * Self.channels(colour) * Int(depth) + 7) / 8
                    var raw: [UInt8] = []
                    for _ in 0..<height {
                        raw.append(UInt8(rng.next() % 5))  // every filter type
                        for _ in 0..<rowBytes { raw.append(UInt8(truncatingIfNeeded: rng.next())) }
                    }
                    var before: [[UInt8]] = [PNGMaker.chunk("tEXt", Array("Comment\0made by a test".utf8))]
                    if colour == 3 {
                        let entries = depth == 8 ? 256 : 1 << Int(depth)
                        before.append(
                            PNGMaker.chunk(
                                "PLTE", (0..<(entries * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
                        if withTRNS {
                            before.append(
                                PNGMaker.chunk(
                                    "tRNS", (0..<(entries / 2)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
                        }
                    } else if withTRNS {
                        // A key that the first row holds, so that some pixels turn transparent.
                        let key = Array(raw[1..<(1 + Self.channels(colour))])
                        before.append(PNGMaker.chunk("tRNS", key.flatMap { [0, $0] }))
                    }
                    let png = PNGMaker.png(
                        width: width, height: height, depth: depth, colour: colour, raw: raw, before: before,
                        idats: 1 + Int(rng.next() % 3))
                    let reference = try Codec.decodePNGWithLibpng(png)
                    let fast = Codec.decodePNGFast(png)
                    #expect(fast != nil, "colour \(colour) depth \(depth) \(width)x\(height) tRNS \(withTRNS)")
                    if let fast {
                        #expect(
                            fast == reference, "colour \(colour) depth \(depth) \(width)x\(height) tRNS \(withTRNS)")
                        taken += 1
                    }
                }
            }
        }
        #expect(taken >= 50)
        // libpng's own output, deflate-compressed over several IDAT chunks.
        var pixels: [UInt8] = []
        for _ in 0..<(300 * 200 * 3) { pixels.append(UInt8(truncatingIfNeeded: rng.next() % 7 * 40)) }
        let image = RGBImage(width: 300, height: 200, pixels: pixels)
        let encoded = try Codec.encodePNG(image)
        #expect(Codec.decodePNGFast(encoded) == image)
    }

    @Test func leavesTheRestToLibpng() throws {
        let raw = [UInt8](repeating: 0, count: 4 * (1 + 4 * 3))
        let plain = PNGMaker.png(width: 4, height: 4, depth: 8, colour: 2, raw: raw)
        #expect(Codec.decodePNGFast(plain) != nil)
        let gamma = PNGMaker.png(
            width: 4, height: 4, depth: 8, colour: 2, raw: raw, before: [PNGMaker.chunk("gAMA", PNGMaker.be32(100_000))]
        )
        #expect(Codec.decodePNGFast(gamma) == nil)
        let wide = PNGMaker.png(width: 4, height: 4, depth: 16, colour: 2, raw: [UInt8](repeating: 0, count: 4 * 25))
        #expect(Codec.decodePNGFast(wide) == nil)
        #expect(Codec.decodePNGFast(Array(plain.prefix(plain.count - 20))) == nil)
        // A bad CRC on the image data: libpng refuses it, and so the fast path must step aside.
        var corrupt = plain
        corrupt[corrupt.count - 16] ^= 0xff
        #expect(Codec.decodePNGFast(corrupt) == nil)
        #expect(throws: ImageError.self) { try Codec.decodePNG(corrupt) }
        // Too little image data.
        let short = PNGMaker.png(width: 4, height: 4, depth: 8, colour: 2, raw: Array(raw.prefix(30)))
        #expect(Codec.decodePNGFast(short) == nil)
        // Image data split by another chunk: libpng refuses it.
        let z = PNGMaker.zlibStored(raw)
        var split: [UInt8] = Array(plain.prefix(33))
        split += PNGMaker.chunk("IDAT", Array(z.prefix(10))) + PNGMaker.chunk("tEXt", Array("a\0b".utf8))
        split += PNGMaker.chunk("IDAT", Array(z.dropFirst(10))) + PNGMaker.chunk("IEND", [])
        #expect(Codec.decodePNGFast(split) == nil)
        #expect(throws: ImageError.self) { try Codec.decodePNG(split) }
        // Wider than libpng's limit of 1,000,000: refused by libpng, so not decoded by the fast path either.
        let tooWide = PNGMaker.png(
            width: 1_000_001, height: 1, depth: 8, colour: 0, raw: [UInt8](repeating: 0, count: 1_000_002))
        #expect(Codec.decodePNGFast(tooWide) == nil)
        #expect(throws: ImageError.self) { try Codec.decodePNG(tooWide) }
        // An unknown filter type.
        var badFilter = raw
        badFilter[0] = 9
        #expect(Codec.decodePNGFast(PNGMaker.png(width: 4, height: 4, depth: 8, colour: 2, raw: badFilter)) == nil)
    }
}
