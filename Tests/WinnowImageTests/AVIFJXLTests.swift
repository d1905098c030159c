import Foundation
import Testing
import WinnowCore
import WinnowImage

/// Peak signal-to-noise ratio of `a` against `reference` in dB (infinity when equal); -1 when the sizes differ.
func psnr(_ a: RGBImage, _ reference: RGBImage) -> Double {
    guard a.width == reference.width, a.height == reference.height else { return -1 }
    let squared = zip(a.pixels, reference.pixels).reduce(0.0) { sum, p in
        let d = Double(p.0) - Double(p.1)
        return sum + d * d
    }
    if squared == 0 { return .infinity }
    return 10 * log10(255 * 255 / (squared / Double(a.pixels.count)))
}

/// The AVIF and JPEG XL fixtures of scripts/gen_avif_jxl_fixtures.py against the reference pixels it wrote (the
/// source the encoders were given, composited over white or turned where the file says so). Thresholds: exact for
/// lossless files; 35 dB near-lossless (quantiser at most 6 of 63); 30 dB lossy.
@Suite struct AVIFJXLTests {
    static let reference = "avif_jxl_reference_64x48.png"
    static let overWhite = "avif_jxl_reference_alpha_over_white_64x48.png"

    @Test(arguments: [
        ("avif_yuv420_8bit_64x48.avif", reference, 30.0),
        ("avif_yuv444_10bit_64x48.avif", reference, 35.0),
        ("avif_yuv420_12bit_limited_64x48.avif", reference, 30.0),
        ("avif_lossless_identity_64x48.avif", reference, Double.infinity),
        ("avif_alpha_yuv444_8bit_64x48.avif", overWhite, 35.0),
        ("avif_sequence_3frames_64x48.avif", reference, 30.0),
        ("jxl_lossless_64x48.jxl", reference, Double.infinity),
        ("jxl_lossy_d1_xyb_64x48.jxl", reference, 30.0),
        ("jxl_alpha_lossless_64x48.jxl", overWhite, Double.infinity),
    ])
    func decodesToTheReferencePixels(file: String, reference: String, minimumPSNR: Double) throws {
        let bytes = try fixture(file)
        let header = try Codec.dimensions(bytes)
        #expect(header.format == (file.hasSuffix(".avif") ? .avif : .jxl))
        #expect(header.width == 64 && header.height == 48)
        let image = try Codec.decode(bytes)
        let expected = try Codec.decodePNG(try fixture(reference))
        let dB = psnr(image, expected)
        #expect(dB >= minimumPSNR, "\(file): \(dB) dB")
    }

    @Test func theSequenceGivesItsFirstFrameNotAnother() throws {
        // Frame 2 is the negative of frame 1: far from the reference if the wrong frame were decoded.
        let image = try Codec.decodeAVIF(try fixture("avif_sequence_3frames_64x48.avif"))
        let negative = RGBImage(
            width: 64, height: 48, pixels: try Codec.decodePNG(try fixture(Self.reference)).pixels.map { 255 - $0 })
        #expect(psnr(image, negative) < 15)
    }

    @Test(arguments: [
        ("avif_irot1_imir0_64x48.avif", "avif_jxl_reference_irot1_imir0_48x64.png", 5, 30.0),
        ("jxl_orientation6_lossless_64x48.jxl", "avif_jxl_reference_orientation6_48x64.png", 6, Double.infinity),
    ])
    func orientationIsReadAndApplied(file: String, reference: String, orientation: Int, minimumPSNR: Double) throws {
        let bytes = try fixture(file)
        let format = try Codec.dimensions(bytes).format
        #expect(ImageMetadata.scan(bytes, format: format).orientation == orientation)
        let upright = Resizer.orient(try Codec.decode(bytes), orientation)
        let dB = psnr(upright, try Codec.decodePNG(try fixture(reference)))
        #expect(dB >= minimumPSNR, "\(file): \(dB) dB")
        // Through the image stage: turned before resizing, the original size and orientation recorded.
        var settings = ImageSettings()
        settings.minBytes = 0
        settings.imageSize = 64
        let s = processed(bytes, settings)
        #expect(s.isKept && s.image?.exifOrientation == orientation && s.image?.originalWidth == 64)
        #expect(s.image?.storedWidth == 48 && s.image?.storedHeight == 64 && s.storedExtension == "jpg")
    }

    @Test func storedAsTheEncodeFormatNeverAsAnOriginalUnderAnotherName() throws {
        for file in ["avif_yuv420_8bit_64x48.avif", "jxl_lossless_64x48.jxl"] {
            let bytes = try fixture(file)
            var settings = ImageSettings()
            settings.minBytes = 0
            settings.imageSize = 64
            settings.keepOriginalIfUnchanged = true  // nothing to resize, upright: only the format differs
            for format in ["jpg", "png", "webp"] {
                settings.encodeFormat = format
                let s = processed(bytes, settings)
                #expect(s.isKept && s.storedExtension == format && s.stored != bytes, "\(file) as \(format)")
                #expect(try Codec.dimensions(s.stored ?? []).format != .avif, "\(file) as \(format)")
            }
            // Not processing stores the download under its own extension.
            settings.process = false
            let kept = processed(bytes, settings)
            #expect(kept.stored == bytes && kept.storedExtension == (file.hasSuffix(".avif") ? "avif" : "jxl"))
            #expect(kept.image?.originalFormat == (file.hasSuffix(".avif") ? "avif" : "jxl"))
        }
    }

    @Test(arguments: ["avif_truncated_half.avif", "jxl_truncated_half.jxl"])
    func truncatedFilesAreRecorded(file: String) throws {
        let bytes = try fixture(file)
        var settings = ImageSettings()
        settings.minBytes = 0
        let s = processed(bytes, settings)
        #expect(s.outcome.reason?.code == "truncated_image", "\(file): \(String(describing: s.outcome.reason))")
        // No partial decode to keep: allow_truncated is for JPEG's.
        settings.allowTruncated = true
        #expect(processed(bytes, settings).outcome.reason?.code == "truncated_image")
        #expect(throws: ImageError.self) { try Codec.decode(bytes) }
        // Every prefix is an error or a decode, never a crash.
        let whole = try fixture(file.hasPrefix("avif") ? "avif_yuv420_8bit_64x48.avif" : "jxl_lossy_d1_xyb_64x48.jxl")
        for n in stride(from: 0, to: whole.count, by: 7) { _ = try? Codec.decode(Array(whole.prefix(n))) }
    }

    /// The offset of the payload of the `ispe` property (version and flags, then width and height, big-endian).
    func ispe(_ bytes: [UInt8]) throws -> Int {
        let at = try #require((0..<(bytes.count - 4)).first { bytes[$0..<($0 + 4)] == [0x69, 0x73, 0x70, 0x65] })
        return at + 8
    }

    @Test func lyingDimensionsAreRefusedBeforeDecodingOrCaught() throws {
        let avif = try fixture("avif_yuv420_8bit_64x48.avif")
        var settings = ImageSettings()
        settings.minBytes = 0
        // The container says 10000x10000: refused from the header, before any AV1 is decoded.
        var huge = avif
        let at = try ispe(avif)
        huge.replaceSubrange(at..<(at + 8), with: [0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10])
        #expect(try Codec.dimensions(huge).width == 10000)
        #expect(processed(huge, settings).outcome.reason?.code == "too_many_pixels")
        #expect(throws: ImageError.self) { try Codec.decodeAVIF(huge) }
        // 20000x20000 is past libavif's own limit (16384 x 16384 pixels): refused by its parser, for the same reason.
        huge.replaceSubrange(at..<(at + 8), with: [0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20])
        #expect(processed(huge, settings).outcome.reason?.code == "too_many_pixels")
        // The container says 64x40 or 64x56 while the AV1 frame is 64x48: libavif scales the frame to the container's
        // size (so the image is what the header said, and what the budget reserved), never a read past the planes.
        for rows in [40, 56] {
            var lying = avif
            lying.replaceSubrange(at..<(at + 8), with: [0, 0, 0, 64, 0, 0, 0, UInt8(rows)])
            let image = try Codec.decodeAVIF(lying)
            #expect(image.width == 64 && image.height == rows && image.pixels.count == 64 * rows * 3)
        }
        // JPEG XL: the limit applies to the codestream's size before any pixel buffer.
        let jxl = try fixture("jxl_lossless_64x48.jxl")
        settings.maxPixels = 64 * 48 - 1
        #expect(processed(jxl, settings).outcome.reason?.code == "too_many_pixels")
        #expect(processed(avif, settings).outcome.reason?.code == "too_many_pixels")
        let error = #expect(throws: ImageError.self) { try Codec.decodeJXL(jxl, maxPixels: 64 * 48 - 1) }
        #expect(error?.code.rawValue == "too_many_pixels")
    }

    @Test func otherHEIFAndGarbageAreReasonsNotCrashes() throws {
        var settings = ImageSettings()
        settings.minBytes = 0
        let heic =
            [0, 0, 0, 24] + Array("ftypheic".utf8) + [0, 0, 0, 0] + Array("mif1heic".utf8)
            + [UInt8](
                repeating: 0, count: 100)
        #expect(processed(heic, settings).outcome.reason?.code == "unsupported_format")
        // An AVIF ftyp and nothing that parses after it; a JPEG XL signature and noise.
        let ftyp = try fixture("avif_yuv420_8bit_64x48.avif").prefix(32)
        #expect(ftyp[3] == 32)
        let avif = Array(ftyp) + [0, 0, 0, 72] + Array("meta".utf8) + [UInt8](repeating: 0xee, count: 64)
        #expect(processed(avif, settings).outcome.reason?.code == "decode_error")
        let jxl = [0xff, 0x0a] + [UInt8](repeating: 0xff, count: 64)
        #expect(processed(jxl, settings).isKept == false)
    }

    @Test func decodeBudgetEstimatesFollowTheHeader() throws {
        func needed(_ file: String) throws -> Int {
            let bytes = try fixture(file)
            let h = try Codec.dimensions(bytes)
            return Codec.decodeBytesNeeded(bytes, format: h.format, width: h.width, height: h.height)
        }
        let n = 64 * 48
        #expect(try needed("avif_yuv420_8bit_64x48.avif") == n * 6 / 4 + n + 3 * n)
        #expect(try needed("avif_yuv444_10bit_64x48.avif") == n * 2 * 3 + n + 3 * n)
        #expect(try needed("avif_alpha_yuv444_8bit_64x48.avif") == n * 4 + n + 7 * n)
        #expect(try needed("jxl_lossless_64x48.jxl") == 8 * n)
        #expect(try needed("jxl_alpha_lossless_64x48.jxl") == 12 * n)
    }

    @Test func xmpDataMiningAndC2PAAreRead() throws {
        let avif = try fixture("avif_xmp_dmi_prohibited_64x48.avif")
        let meta = ImageMetadata.scan(avif, format: .avif)
        #expect(meta.dataMining == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING")
        var settings = ImageSettings()
        settings.minBytes = 0
        #expect(processed(avif, settings).outcome.reason?.code == "xmp_data_mining")
        // C2PA in ISO BMFF: a top-level uuid box of the C2PA type, here after the media data.
        let uuid: [UInt8] = [
            0xd8, 0xfe, 0xc3, 0xd6, 0x1b, 0x0e, 0x48, 0x3c, 0x92, 0x97, 0x58, 0x28, 0x87, 0x7e, 0xc4, 0x81,
        ]
        let plain = try fixture("avif_yuv420_8bit_64x48.avif")
        let signed = plain + [0, 0, 0, 28] + Array("uuid".utf8) + uuid + [0, 0, 0, 0]
        #expect(ImageMetadata.scan(signed, format: .avif).hasC2PA)
        #expect(!ImageMetadata.scan(plain, format: .avif).hasC2PA)
        #expect(try Codec.decodeAVIF(signed).width == 64)
        // JPEG XL: the codestream in a container with an `xml ` box and a C2PA `jumb` box.
        let codestream = try fixture("jxl_lossless_64x48.jxl")
        func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
            let n = payload.count + 8
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + Array(type.utf8)
                + payload
        }
        let xmp = Array(#"<x:xmpmeta><rdf:Description plus:DataMining="DMI-PROHIBITED"/></x:xmpmeta>"#.utf8)
        let container =
            [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a]
            + box("ftyp", Array("jxl \0\0\0\0jxl ".utf8))
            + box("xml ", xmp) + box("jumb", box("jumd", Array("c2pa".utf8))) + box("jxlc", codestream)
        let jxlMeta = ImageMetadata.scan(container, format: .jxl)
        #expect(jxlMeta.dataMining == "DMI-PROHIBITED" && jxlMeta.hasC2PA)
        #expect(try Codec.dimensions(container).format == .jxl)
        #expect(psnr(try Codec.decodeJXL(container), try Codec.decodeJXL(codestream)) == .infinity)
        // The same boxes brotli-compressed in `brob` boxes (bytes from Python's brotli 1.2.1: the XMP above, and a
        // jumb box holding a jumd labelled c2pa); a brob that is not brotli is ignored.
        let xmpBrotli: [UInt8] = [
            0x1b, 0x49, 0x00, 0xf8, 0x8d, 0xd4, 0x5a, 0xad, 0x35, 0x6e, 0x7b, 0xdb, 0xe6, 0x0a, 0xbf, 0x98, 0xcb, 0xd3,
            0xf0, 0x0c, 0xa1, 0x0a, 0x87, 0x12, 0xe1, 0x28, 0x44, 0x12, 0x29, 0x70, 0x04, 0x69, 0x27, 0x02, 0xd1, 0x86,
            0x27, 0x4c, 0x1f, 0x7f, 0xdc, 0x58, 0x65, 0x4c, 0x6f, 0x6e, 0xac, 0x48, 0x43, 0xb1, 0x32, 0xf5, 0xf4, 0x3c,
            0x5d, 0x74, 0xb4, 0x29, 0x77, 0xc0, 0x04, 0x00,
        ]
        let jumbBrotli: [UInt8] = [
            0x8b, 0x05, 0x80, 0x00, 0x00, 0x00, 0x0c, 0x6a, 0x75, 0x6d, 0x64, 0x63, 0x32, 0x70, 0x61, 0x03,
        ]
        let head =
            [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a]
            + box("ftyp", Array("jxl \0\0\0\0jxl ".utf8))
        let compressed =
            head + box("brob", Array("xml ".utf8) + xmpBrotli) + box("brob", Array("jumb".utf8) + jumbBrotli)
            + box("jxlc", codestream)
        let brobMeta = ImageMetadata.scan(compressed, format: .jxl)
        #expect(brobMeta.dataMining == "DMI-PROHIBITED" && brobMeta.hasC2PA)
        let garbage = head + box("brob", Array("xml ".utf8) + [1, 2, 3, 4, 5]) + box("jxlc", codestream)
        let none = ImageMetadata.scan(garbage, format: .jxl)
        #expect(none.dataMining == nil && !none.hasC2PA)
        #expect(try Codec.decodeJXL(compressed).width == 64)
    }
}
