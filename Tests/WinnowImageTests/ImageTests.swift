import Foundation
import Testing
import WinnowCore
import WinnowImage
import WinnowTestSupport

/// A smooth test picture: gradients, so that resampling errors show.
func gradient(_ w: Int, _ h: Int) -> RGBImage {
    var p = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
        for x in 0..<w {
            let i = (y * w + x) * 3
            p[i] = UInt8(x * 255 / max(1, w - 1))
            p[i + 1] = UInt8(y * 255 / max(1, h - 1))
            p[i + 2] = 128
        }
    }
    return RGBImage(width: w, height: h, pixels: p)
}

func meanAbsoluteError(_ a: RGBImage, _ b: RGBImage) -> Double {
    zip(a.pixels, b.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(a.pixels.count)
}

/// `bytes` through the image stage with `settings`.
func processed(_ bytes: [UInt8], _ settings: ImageSettings) -> Sample {
    var s = sample(bytes)
    ImageProcessor(settings: settings).process(&s)
    return s
}

func sample(_ bytes: [UInt8]) -> Sample {
    var s = Sample(
        candidate: Candidate(
            url: "http://a.test/x", caption: "c", pageURL: "", provenance: Provenance(inputFile: "f", recordOffset: 0)))
    s.original = bytes
    return s
}

@Suite struct CodecTests {
    /// The clip-tiny fixture's images decode to exactly the pixels its reference records (Pillow with libjpeg-turbo
    /// and libpng, alpha composited over white): progressive and 4:2:2 JPEG, CMYK with Adobe polarity, RGBA, grey,
    /// and a palette with tRNS. EXIF orientation is not applied here (the reference keeps stored pixels too).
    @Test func clipTinyImagesDecodeToTheReferencePixels() throws {
        let dir = TestSupport.shared("clip-tiny")
        let json = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: dir + "/reference.json")))
        let images = try #require(
            ((json as? [String: Any])?["preprocessing"] as? [String: Any])?["images"] as? [[String: Any]])
        #expect(images.count == 10)
        for entry in images {
            let file = try #require(entry["file"] as? String)
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/" + file)))
            let header = try Codec.dimensions(bytes)
            let image: RGBImage
            switch header.format {
            case .jpeg: image = try Codec.decodeJPEG(bytes)
            case .png: image = try Codec.decodePNG(bytes)
            case .webp: image = try Codec.decodeWebP(bytes)
            case .gif, .avif, .jxl: Issue.record("\(file): unexpected \(header.format)"); continue
            }
            #expect(image.width == entry["width"] as? Int && image.height == entry["height"] as? Int, "\(file)")
            #expect(
                SHA256.hexDigest(image.pixels) == entry["decoded_composited_on_white_hwc_sha256"] as? String,
                "\(file)")
        }
    }

    @Test func jpegRoundTripAndHeader() throws {
        let image = gradient(320, 200)
        let jpeg = try Codec.encodeJPEG(image, quality: 95)
        let header = try Codec.dimensions(jpeg)
        #expect(header.format == .jpeg && header.width == 320 && header.height == 200)
        let decoded = try Codec.decodeJPEG(jpeg)
        #expect(decoded.width == 320 && decoded.height == 200)
        #expect(meanAbsoluteError(decoded, image) < 2)
        let quarter = try Codec.decodeJPEG(jpeg, scaleDenominator: 4)
        #expect(quarter.width == 80 && quarter.height == 50)
        // A caller's size stands in for reading the header again; one smaller than the header's is an error, never a
        // write past the buffer.
        let known = try Codec.decodeJPEGCountingWarnings(jpeg, scaleDenominator: 2, size: (320, 200))
        #expect(known.image.width == 160 && known.image.height == 100 && known.warnings == 0)
        let error = #expect(throws: ImageError.self) {
            try Codec.decodeJPEGCountingWarnings(jpeg, size: (100, 50))
        }
        #expect(error?.code.rawValue == "decode_error")
    }

    @Test func pngRoundTripIsExact() throws {
        let image = gradient(33, 17)
        let png = try Codec.encodePNG(image)
        #expect(try Codec.dimensions(png).format == .png)
        #expect(try Codec.decodePNG(png) == image)
    }

    @Test func corruptAndTruncatedInputsAreErrorsNotCrashes() throws {
        let jpeg = try Codec.encodeJPEG(gradient(64, 64), quality: 90)
        #expect(throws: ImageError.self) { try Codec.decodeJPEG(Array(jpeg.prefix(20))) }
        var garbage = jpeg
        for i in stride(from: 200, to: garbage.count - 2, by: 7) { garbage[i] = 0xff }
        _ = try? Codec.decodeJPEG(garbage)  // must return or throw, never crash
        let png = try Codec.encodePNG(gradient(64, 64))
        #expect(throws: ImageError.self) { try Codec.decodePNG(Array(png.prefix(60))) }
        let error = #expect(throws: ImageError.self) { try Codec.dimensions(Array("<html>".utf8)) }
        #expect(error?.code.rawValue == "not_image")
    }
}

@Suite struct ResizeTests {
    @Test(arguments: [
        (ResizeMode.keepRatio, 400, 200, 100, (200, 100)), (.keepRatioLargest, 400, 200, 100, (100, 50)),
        (.centerCrop, 400, 200, 100, (100, 100)), (.border, 400, 200, 100, (100, 100)),
        (.no, 400, 200, 100, (400, 200)),
        (.keepRatio, 80, 60, 100, (80, 60)),
    ])
    func modesGiveImg2datasetSizes(mode: ResizeMode, w: Int, h: Int, size: Int, expected: (Int, Int)) {
        let out = Resizer.apply(gradient(w, h), size: size, mode: mode, upscale: false)
        #expect(out.width == expected.0 && out.height == expected.1)
    }

    @Test func areaFilterKeepsFlatColoursAndMeans() {
        let flat = RGBImage(width: 97, height: 61, fill: (10, 200, 77))
        #expect(Resizer.resize(flat, width: 13, height: 9) == RGBImage(width: 13, height: 9, fill: (10, 200, 77)))
        let g = gradient(300, 300)
        let small = Resizer.resize(g, width: 30, height: 30)
        let back = Resizer.resize(small, width: 300, height: 300)
        #expect(meanAbsoluteError(back, g) < 3)
    }

    @Test func integerReductionsAreBlockMeans() {
        let g = gradient(64, 48)
        let out = Resizer.resize(g, width: 16, height: 12)
        for y in 0..<12 {
            for x in 0..<16 {
                for c in 0..<3 {
                    var sum = 0
                    for dy in 0..<4 {
                        for dx in 0..<4 { sum += Int(g.pixels[((4 * y + dy) * 64 + 4 * x + dx) * 3 + c]) }
                    }
                    let mean = Double(sum) / 16
                    #expect(abs(Double(out.pixels[(y * 16 + x) * 3 + c]) - mean) <= 0.5 + 1e-3)
                }
            }
        }
    }

    @Test func aWindowIsTheSameAsResizingThenCropping() {
        let g = gradient(331, 217)
        for (w, h) in [(120, 79), (40, 26), (500, 328)] {
            let full = Resizer.resize(g, width: w, height: h)
            let window = Resizer.Window(x: w / 5, y: h / 4, width: w / 2, height: h / 3)
            let part = Resizer.resize(g, width: w, height: h, window: window)
            #expect(part == Resizer.crop(full, x: window.x, y: window.y, width: window.width, height: window.height))
        }
    }

    @Test func borderPadsWithWhite() {
        let out = Resizer.apply(
            RGBImage(width: 100, height: 50, fill: (0, 0, 0)), size: 100, mode: .border, upscale: false)
        #expect(Array(out.pixels[0..<3]) == [255, 255, 255])
        #expect(Array(out.pixels[(50 * 100 + 50) * 3..<(50 * 100 + 50) * 3 + 3]) == [0, 0, 0])
    }

    @Test func dctScaleCoversTheTarget() {
        #expect(Resizer.jpegScaleDenominator(width: 2048, height: 1536, size: 256, mode: .centerCrop) == 4)
        #expect(Resizer.jpegScaleDenominator(width: 2048, height: 1536, size: 256, mode: .keepRatioLargest) == 8)
        #expect(Resizer.jpegScaleDenominator(width: 300, height: 300, size: 256, mode: .keepRatio) == 1)
    }
}

@Suite struct ProcessorTests {
    var settings: ImageSettings {
        var s = ImageSettings()
        s.minBytes = 100
        s.imageSize = 64
        s.resizeMode = .centerCrop
        return s
    }

    @Test func processesAJPEG() throws {
        var s = sample(try Codec.encodeJPEG(gradient(300, 200), quality: 90))
        ImageProcessor(settings: settings).process(&s)
        #expect(s.isKept)
        #expect(s.image?.storedWidth == 64 && s.image?.storedHeight == 64 && s.image?.originalWidth == 300)
        #expect(try Codec.dimensions(s.stored ?? []).width == 64)
        #expect(s.sha256?.count == 64 && s.original == nil)
    }

    @Test func refusesBombsBeforeDecoding() throws {
        // A PNG header claiming 100000 x 100000 pixels, with no pixel data at all.
        var png = try Codec.encodePNG(gradient(8, 8))
        for (i, b) in [0x00, 0x01, 0x86, 0xa0, 0x00, 0x01, 0x86, 0xa0].enumerated() { png[16 + i] = UInt8(b) }
        var s = sample(png)
        var st = settings
        st.minBytes = 0
        ImageProcessor(settings: st).process(&s)
        #expect(s.outcome.reason?.code == "too_many_pixels")
    }

    @Test(arguments: [
        ("not_image", Array("<html>not an image</html>".utf8) + [UInt8](repeating: 32, count: 200)),
        ("file_too_small", [0xff, 0xd8, 0xff]),
    ])
    func badBytesGetAReason(code: String, bytes: [UInt8]) {
        var s = sample(bytes)
        ImageProcessor(settings: settings).process(&s)
        #expect(s.outcome.reason?.code == code)
    }

    @Test func smallImagesAndAspectRatios() throws {
        var st = settings
        st.minSide = 32
        st.minBytes = 0
        var tiny = sample(try Codec.encodePNG(gradient(16, 16)))
        ImageProcessor(settings: st).process(&tiny)
        #expect(tiny.outcome.reason?.code == "image_too_small")
        var wide = sample(try Codec.encodePNG(gradient(1100, 40)))
        ImageProcessor(settings: st).process(&wide)
        #expect(wide.outcome.reason?.code == "aspect_ratio")
    }

    @Test func truncatedJPEGIsRecordedNotCrashed() throws {
        let jpeg = try Codec.encodeJPEG(gradient(300, 200), quality: 90)
        let half = Array(jpeg.prefix(jpeg.count / 2))
        #expect(processed(half, settings).outcome.reason?.code == "truncated_image")
        // By option, libjpeg's partial decode is kept (grey below where the data ends).
        var st = settings
        st.allowTruncated = true
        let t = processed(half, st)
        #expect(t.isKept && t.image?.storedWidth == 64)
        let (_, warnings) = try Codec.decodeJPEGCountingWarnings(half)
        #expect(warnings > 0)
        #expect(try Codec.decodeJPEGCountingWarnings(jpeg).warnings == 0)
    }
}

@Suite struct WebPTests {
    @Test func webpRoundTripHeaderAndProcessing() throws {
        let image = gradient(200, 120)
        let webp = try Codec.encodeWebP(image, quality: 90)
        #expect(ImageFormat.sniff(webp) == .webp)
        let header = try Codec.dimensions(webp)
        #expect(header.width == 200 && header.height == 120)
        let decoded = try Codec.decodeWebP(webp)
        #expect(decoded.width == 200 && meanAbsoluteError(decoded, image) < 4)
        var s = sample(webp)
        var settings = ImageSettings()
        settings.minBytes = 0
        settings.imageSize = 64
        settings.resizeMode = .centerCrop
        ImageProcessor(settings: settings).process(&s)
        #expect(s.isKept && s.image?.originalFormat == "webp" && s.storedExtension == "jpg")
        #expect(throws: ImageError.self) { try Codec.decodeWebP(Array(webp.prefix(30))) }
    }
}

/// A PNG chunk with its CRC-32 (ISO 3309, as PNG defines it).
func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    var crc: UInt32 = 0xffff_ffff
    for b in body {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
    }
    crc ^= 0xffff_ffff
    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    return be(UInt32(data.count)) + body + be(crc)
}

/// An XMP packet with a PLUS DataMining value, written as an attribute the way Adobe tools and exiftool write it.
func xmpPacket(_ value: String) -> [UInt8] {
    Array(
        """
        <?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF \
        xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" \
        xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" \
        plus:DataMining="http://ns.useplus.org/ldf/vocab/\(value)"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>
        """.utf8)
}

@Suite struct MetadataTests {
    @Test func exifOrientationIsReadAndApplied() throws {
        let bytes = try [UInt8](
            Data(
                contentsOf: URL(
                    fileURLWithPath: TestSupport.shared("clip-tiny/images/10_exif_orientation6_320x240.jpg"))))
        #expect(ImageMetadata.scan(bytes, format: .jpeg).orientation == 6)
        var st = ImageSettings()
        st.minBytes = 0
        st.resizeMode = .no
        var s = sample(bytes)
        ImageProcessor(settings: st).process(&s)
        // Stored upright: 240 wide, 320 high.
        #expect(s.image?.exifOrientation == 6 && s.image?.storedWidth == 240 && s.image?.storedHeight == 320)
        let stored = try Codec.dimensions(try #require(s.stored))
        #expect(stored.width == 240 && stored.height == 320)
    }

    @Test func orientationsMoveTheCorners() {
        // 3x2 image whose pixels are numbered: turning it must land each corner where EXIF says.
        let img = RGBImage(width: 3, height: 2, pixels: (0..<6).flatMap { [UInt8($0), 0, 0] })
        func firstRow(_ o: Int) -> [UInt8] {
            let r = Resizer.orient(img, o)
            return (0..<r.width).map { r.pixels[3 * $0] }
        }
        #expect(firstRow(1) == [0, 1, 2])
        #expect(firstRow(2) == [2, 1, 0])
        #expect(firstRow(3) == [5, 4, 3])
        #expect(firstRow(4) == [3, 4, 5])
        #expect(firstRow(5) == [0, 3])
        #expect(firstRow(6) == [3, 0])
        #expect(firstRow(7) == [5, 2])
        #expect(firstRow(8) == [2, 5])
        #expect(Resizer.orient(img, 6).width == 2 && Resizer.orient(img, 6).height == 3)
    }

    @Test func dataMiningInJPEGPNGAndWebPXMP() throws {
        let picture = gradient(64, 48)
        let jpeg = try Codec.encodeJPEG(picture, quality: 90)
        let xmp = xmpPacket("DMI-PROHIBITED-AIMLTRAINING")
        let app1 = Array("http://ns.adobe.com/xap/1.0/\0".utf8) + xmp
        let n = app1.count + 2
        let jpegXMP = [0xff, 0xd8, 0xff, 0xe1, UInt8(n >> 8), UInt8(n & 0xff)] + app1 + jpeg[2...]
        let png = try Codec.encodePNG(picture)
        let itxt = pngChunk("iTXt", Array("XML:com.adobe.xmp".utf8) + [0, 0, 0, 0, 0] + xmp)
        let pngXMP = Array(png[0..<33]) + itxt + Array(png[33...])  // after the 8-byte signature and IHDR
        let webp = try Codec.encodeWebP(picture, quality: 80)
        var xmpChunk = Array("XMP ".utf8) + [UInt8(xmp.count & 0xff), UInt8(xmp.count >> 8 & 0xff), 0, 0] + xmp
        if xmp.count % 2 == 1 { xmpChunk.append(0) }
        var webpXMP = Array(webp) + xmpChunk  // a simple-format file plus a chunk: enough for the scanner
        let riff = UInt32(webpXMP.count - 8)
        for k in 0..<4 { webpXMP[4 + k] = UInt8(riff >> (8 * UInt32(k)) & 0xff) }
        for (bytes, format) in [(jpegXMP, ImageFormat.jpeg), (pngXMP, .png), (webpXMP, .webp)] {
            let m = ImageMetadata.scan(bytes, format: format)
            #expect(m.dataMining == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING", "\(format)")
            #expect(m.dataMiningProhibited)
        }
        // The default pipeline keeps such images out; the JPEG and PNG still decode (libjpeg and libpng skip XMP).
        var st = ImageSettings()
        st.minBytes = 0
        for bytes in [jpegXMP, pngXMP] {
            #expect(processed(bytes, st).outcome.reason?.code == "xmp_data_mining")
            var allowed = st
            allowed.honourDataMining = false
            let t = processed(bytes, allowed)
            #expect(t.isKept && t.image?.dataMining?.hasSuffix("DMI-PROHIBITED-AIMLTRAINING") == true)
        }
        // Allowed and unspecified values are recorded, not obeyed as a prohibition.
        for v in ["DMI-ALLOWED", "DMI-UNSPECIFIED"] {
            let a1 = Array("http://ns.adobe.com/xap/1.0/\0".utf8) + xmpPacket(v)
            let len = a1.count + 2
            let bytes = [0xff, 0xd8, 0xff, 0xe1, UInt8(len >> 8), UInt8(len & 0xff)] + a1 + jpeg[2...]
            let m = ImageMetadata.scan(bytes, format: .jpeg)
            #expect(m.dataMining?.hasSuffix(v) == true && !m.dataMiningProhibited)
        }
    }

    @Test func c2paManifestsAreNoted() throws {
        let jpeg = try Codec.encodeJPEG(gradient(32, 32), quality: 90)
        // APP11 with a JUMBF box labelled c2pa (content abridged: the scanner only notes presence).
        let jumbf = Array("JP".utf8) + [0, 1, 0, 0, 0, 1] + Array("jumb".utf8) + Array("jumdc2pa".utf8)
        let n = jumbf.count + 2
        let signed = [0xff, 0xd8, 0xff, 0xeb, UInt8(n >> 8), UInt8(n & 0xff)] + jumbf + jpeg[2...]
        #expect(ImageMetadata.scan(signed, format: .jpeg).hasC2PA)
        #expect(!ImageMetadata.scan(jpeg, format: .jpeg).hasC2PA)
        let png = try Codec.encodePNG(gradient(8, 8))
        let withCaBX = Array(png[0..<33]) + pngChunk("caBX", [0, 0, 0, 8] + Array("jumb".utf8)) + Array(png[33...])
        #expect(ImageMetadata.scan(withCaBX, format: .png).hasC2PA)
    }

    @Test func originalBytesAreKeptWhenNothingChanges() throws {
        let small = try Codec.encodeJPEG(gradient(64, 48), quality: 80)
        var st = ImageSettings()
        st.minBytes = 0
        st.resizeMode = .keepRatio
        st.keepOriginalIfUnchanged = true
        var s = sample(small)
        ImageProcessor(settings: st).process(&s)
        #expect(s.stored == small && s.image?.storedWidth == 64)
        // A centre crop, another format, or the option off: re-encoded.
        var crop = st
        crop.resizeMode = .centerCrop
        var c = sample(small)
        ImageProcessor(settings: crop).process(&c)
        #expect(c.stored != small && c.image?.storedWidth == 48 && c.image?.storedHeight == 48)
        var png = st
        png.encodeFormat = "png"
        var p = sample(small)
        ImageProcessor(settings: png).process(&p)
        #expect(p.storedExtension == "png")
        #expect(Resizer.leavesUnchanged(width: 256, height: 256, size: 256, mode: .border, upscale: false))
        #expect(!Resizer.leavesUnchanged(width: 600, height: 400, size: 256, mode: .keepRatio, upscale: false))
        #expect(!Resizer.leavesUnchanged(width: 300, height: 200, size: 256, mode: .keepRatio, upscale: true))
    }

    @Test func md5AndSHA1OfTheOriginal() throws {
        let bytes = try Codec.encodeJPEG(gradient(40, 30), quality: 90)
        var st = ImageSettings()
        st.minBytes = 0
        var s = sample(bytes)
        ImageProcessor(settings: st).process(&s)
        #expect(s.md5 == DigestAlgorithm.md5.hexDigest(bytes) && s.md5?.count == 32)
        #expect(s.sha1 == DigestAlgorithm.sha1.hexDigest(bytes) && s.sha1?.count == 40)
        // The PDQ of the decoded image rides along.
        #expect(s.image?.pdq == PDQ.hash(try Codec.decodeJPEG(bytes)).hex && s.image?.pdqQuality != nil)
    }
}

/// Fixtures made by scripts/make_image_fixtures.py.
func fixture(_ name: String) throws -> [UInt8] {
    try [UInt8](
        Data(contentsOf: URL(fileURLWithPath: TestSupport.packageRoot + "/Tests/WinnowImageTests/Fixtures/" + name)))
}

@Suite struct GIFTests {
    func pixel(_ i: RGBImage, _ x: Int, _ y: Int) -> [UInt8] {
        Array(i.pixels[(y * i.width + x) * 3..<(y * i.width + x) * 3 + 3])
    }

    @Test func gifIsDroppedUnlessAsked() throws {
        let bytes = try fixture("gif_quadrants_40x20_interlaced.gif")
        #expect(try Codec.dimensions(bytes) == (.gif, 40, 20))
        var st = ImageSettings()
        st.minBytes = 0
        var s = sample(bytes)
        ImageProcessor(settings: st).process(&s)
        #expect(s.outcome.reason?.code == "unsupported_format")
        st.decodeGIF = true
        st.imageSize = 16
        st.resizeMode = .centerCrop
        var t = sample(bytes)
        ImageProcessor(settings: st).process(&t)
        #expect(t.isKept && t.image?.originalFormat == "gif" && t.image?.storedWidth == 16)
    }

    @Test func interlacedStillDecodes() throws {
        let i = try Codec.decodeGIF(try fixture("gif_quadrants_40x20_interlaced.gif"))
        #expect(i.width == 40 && i.height == 20)
        #expect(pixel(i, 0, 0) == [255, 0, 0] && pixel(i, 39, 0) == [0, 255, 0])
        #expect(pixel(i, 0, 19) == [0, 0, 255] && pixel(i, 39, 19) == [255, 255, 0])
        #expect(pixel(i, 5, 7) == [255, 0, 0] && pixel(i, 30, 12) == [255, 255, 0])
    }

    @Test func firstFrameWithTransparencyOverWhite() throws {
        let i = try Codec.decodeGIF(try fixture("gif_animated_2frames_red_transparent_40x20.gif"))
        #expect(i.width == 40 && i.height == 20)
        #expect(pixel(i, 0, 0) == [255, 255, 255], "the transparent red quadrant is white")
        #expect(pixel(i, 39, 0) == [0, 255, 0] && pixel(i, 39, 19) == [255, 255, 0], "frame 1, not the black frame 2")
    }

    @Test func truncatedGIFIsAnErrorNotACrash() throws {
        let error = #expect(throws: ImageError.self) { try Codec.decodeGIF(try fixture("gif_truncated_half.gif")) }
        #expect(error?.code.rawValue == "decode_error")
        #expect(throws: ImageError.self) { try Codec.decodeGIF(Array("GIF89a".utf8)) }
    }
}

@Suite struct FormatCornerTests {
    func near(_ i: RGBImage, _ x: Int, _ y: Int, _ rgb: [Int], tolerance: Int = 0) -> Bool {
        let o = (y * i.width + x) * 3
        return (0..<3).allSatisfy { abs(Int(i.pixels[o + $0]) - rgb[$0]) <= tolerance }
    }

    @Test func sixteenBitGreyPNG() throws {
        let i = try Codec.decodePNG(try fixture("png_grey16_40x20.png"))
        #expect(i.width == 40 && i.height == 20)
        #expect(near(i, 5, 5, [76, 76, 76]) && near(i, 39, 19, [226, 226, 226]))
    }

    @Test func losslessWebPWithAlpha() throws {
        let i = try Codec.decodeWebP(try fixture("webp_lossless_alpha_40x20.webp"))
        #expect(near(i, 0, 0, [255, 255, 255]), "the one transparent pixel is white")
        #expect(near(i, 1, 0, [255, 0, 0]) && near(i, 39, 19, [255, 255, 0]) && near(i, 0, 19, [0, 0, 255]))
    }

    @Test func progressiveAndGreyJPEG() throws {
        let p = try Codec.decodeJPEG(try fixture("jpeg_progressive_40x20.jpg"))
        #expect(near(p, 5, 5, [255, 0, 0], tolerance: 4) && near(p, 35, 15, [255, 255, 0], tolerance: 4))
        let g = try Codec.decodeJPEG(try fixture("jpeg_grey_40x20.jpg"))
        #expect(near(g, 5, 5, [76, 76, 76], tolerance: 3) && near(g, 35, 15, [226, 226, 226], tolerance: 3))
    }
}

@Suite struct MutationTests {
    /// Every fixture, with bytes flipped, runs of bytes overwritten and the tail cut, through the whole image stage
    /// (metadata walk, header parse, decoders, resize, encode): each one ends kept or with a reason, never a crash.
    /// (`make fuzz` runs the C decoders under libFuzzer; this covers the Swift around them.)
    @Test func mutatedFilesEndWithAReason() throws {
        let dir = TestSupport.packageRoot + "/Tests/WinnowImageTests/Fixtures"
        var inputs = try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { try fixture($0) }
        inputs.append(try Codec.encodeJPEG(gradient(64, 48), quality: 90))
        inputs.append(try Codec.encodePNG(gradient(64, 48)))
        var st = ImageSettings()
        st.minBytes = 0
        st.imageSize = 32
        st.decodeGIF = true
        st.allowTruncated = true
        let processor = ImageProcessor(settings: st)
        var rng = TestRandom(state: 11)
        var outcomes: [String: Int] = [:]
        for input in inputs {
            for round in 0..<150 {
                var b = input
                switch round % 3 {
                case 0:
                    for _ in 0..<(1 + Int(rng.next() % 8)) {
                        b[Int(rng.next() % UInt64(b.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                    }
                case 1:
                    let at = Int(rng.next() % UInt64(b.count))
                    for k in at..<min(b.count, at + 1 + Int(rng.next() % 16)) {
                        b[k] = UInt8(truncatingIfNeeded: rng.next())
                    }
                default:
                    b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
                }
                var s = sample(b)
                processor.process(&s)
                #expect(s.isKept || s.outcome.reason != nil)
                outcomes[s.outcome.reason?.code ?? "kept", default: 0] += 1
            }
        }
        // Both ends happen: some mutations still decode, others are refused with a reason.
        #expect((outcomes["kept"] ?? 0) > 0 && outcomes.count > 2, "\(outcomes)")
    }
}

/// A deterministic generator for the mutation test.
struct TestRandom {
    var generator: SplitMix64
    init(state: UInt64) { generator = SplitMix64(seed: state) }
    mutating func next() -> UInt64 { generator.next() }
}

@Suite struct PDQTests {
    /// Reference hashes computed by scripts/make_image_fixtures.py with the `pdqhash` package (Meta's C++ PDQ) on the
    /// same pixels (alpha composited over white, as the pipeline does).
    @Test func matchesTheReferenceImplementation() throws {
        let json = try JSONSerialization.jsonObject(with: Data(try fixture("pdq_reference.json")))
        let entries = try #require(json as? [[String: Any]])
        #expect(entries.count >= 10)
        for e in entries {
            let path = try #require(e["file"] as? String)
            let file = path.hasPrefix("clip-tiny/") ? TestSupport.shared(path) : TestSupport.packageRoot + "/" + path
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            let image: RGBImage
            switch try Codec.dimensions(bytes).format {
            case .jpeg: image = try Codec.decodeJPEG(bytes)
            case .png: image = try Codec.decodePNG(bytes)
            case .webp: image = try Codec.decodeWebP(bytes)
            case .gif: image = try Codec.decodeGIF(bytes)
            case .avif: image = try Codec.decodeAVIF(bytes)
            case .jxl: image = try Codec.decodeJXL(bytes)
            }
            let h = PDQ.hash(image)
            let reference = try #require(e["hash"] as? String)
            let distance = h.distance(to: try #require(PDQ(hex: reference)))
            #expect(distance == 0 && h.quality == e["quality"] as? Int, "\(path): \(distance) bits differ")
        }
    }

    @Test func nearDuplicatesAreNearAndOthersFar() throws {
        let bytes = try [UInt8](
            Data(contentsOf: URL(fileURLWithPath: TestSupport.shared("clip-tiny/images/01_rgb_800x450.jpg"))))
        let original = try Codec.decodeJPEG(bytes)
        let h = PDQ.hash(original)
        // Rescaled and re-encoded: within the recommended threshold (31).
        let small = try Codec.decodeJPEG(
            try Codec.encodeJPEG(Resizer.resize(original, width: 400, height: 225), quality: 60))
        #expect(h.distance(to: PDQ.hash(small)) <= 31)
        let other = try [UInt8](
            Data(contentsOf: URL(fileURLWithPath: TestSupport.shared("clip-tiny/images/08_large_1150x1750.jpg"))))
        #expect(h.distance(to: PDQ.hash(try Codec.decodeJPEG(other))) > 64)
    }
}

@Suite struct PDQBorderTests {
    /// A picture inside a frame, and inside letterbox bars, gives back exactly the picture, so its PDQ is the
    /// picture's; a picture without a border, or one that would lose more than half, is left alone.
    @Test func uniformBordersAreTrimmed() throws {
        let bytes = try [UInt8](
            Data(contentsOf: URL(fileURLWithPath: TestSupport.shared("clip-tiny/images/01_rgb_800x450.jpg"))))
        let picture = try Codec.decode(bytes)
        #expect(PDQ.borderTrimmed(picture) == nil)
        for (left, top, right, bottom, colour) in [
            (40, 40, 40, 40, UInt8(255)), (0, 60, 0, 90, UInt8(0)), (25, 0, 0, 0, UInt8(128)),
        ] {
            let w = picture.width + left + right
            let h = picture.height + top + bottom
            var framed = RGBImage(width: w, height: h, fill: (colour, colour, colour))
            for y in 0..<picture.height {
                for i in 0..<(picture.width * 3) {
                    framed.pixels[((top + y) * w + left) * 3 + i] = picture.pixels[y * picture.width * 3 + i]
                }
            }
            let inner = try #require(PDQ.borderTrimmed(framed), "border \(left) \(top) \(right) \(bottom)")
            #expect(inner == picture)
            #expect(PDQ.hash(inner) == PDQ.hash(picture))
            // Hashing the window in place (what the image stage does) reads the same pixels as the copy.
            let window = try #require(PDQ.borderWindow(framed))
            #expect(PDQ.hashWithMirror(framed, window: window).hash == PDQ.hash(picture))
            #expect(PDQ.hash(framed).distance(to: PDQ.hash(picture)) > 31, "why the trimmed hash is needed")
        }
        // Mostly one colour: trimming would keep less than half, so nothing is trimmed.
        var flat = RGBImage(width: 200, height: 200, fill: (10, 10, 10))
        for y in 90..<110 { for x in 90..<110 { flat.pixels[(y * 200 + x) * 3] = 250 } }
        #expect(PDQ.borderTrimmed(flat) == nil)
    }
}

@Suite struct PDQMirrorTests {
    /// The mirror hash, derived from the DCT, is (close to) the hash of the mirrored pixels, and far from the
    /// original's: what lets dedup match a flipped copy.
    @Test func mirrorHashMatchesTheMirroredImage() throws {
        for name in ["01_rgb_800x450.jpg", "08_large_1150x1750.jpg", "06_wide_1100x190_422.jpg"] {
            let image = try Codec.decode(
                [UInt8](Data(contentsOf: URL(fileURLWithPath: TestSupport.shared("clip-tiny/images/" + name)))))
            var flipped = image
            for y in 0..<image.height {
                for x in 0..<image.width {
                    for c in 0..<3 {
                        flipped.pixels[(y * image.width + x) * 3 + c] =
                            image.pixels[(y * image.width + image.width - 1 - x) * 3 + c]
                    }
                }
            }
            let (hash, mirrored) = PDQ.hashWithMirror(image)
            #expect(hash == PDQ.hash(image))
            let direct = PDQ.hash(flipped)
            #expect(mirrored.distance(to: direct) <= 16, "\(name): \(mirrored.distance(to: direct))")
            #expect(hash.distance(to: direct) > 31, "\(name)")
        }
    }
}

@Suite struct ResizeQualityTests {
    /// PSNR of two images of one size, over all channels, in dB.
    func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
        #expect(a.width == b.width && a.height == b.height)
        var squared = 0.0
        for (x, y) in zip(a.pixels, b.pixels) { squared += Double((Int(x) - Int(y)) * (Int(x) - Int(y))) }
        let mse = squared / Double(a.pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// Downscaling natural photographs (scikit-image's, made fixtures by scripts/make_natural_fixtures.py) with the
    /// bicubic filter comes within 40 dB PSNR of Pillow's LANCZOS on the same decoded pixels, from the full-size
    /// decode and from the DCT-scaled decode the image stage uses with it. The area filter equals OpenCV's
    /// INTER_AREA (img2dataset's), which measured 38.33, 40.32 and 43.15 dB on these three.
    @Test(arguments: [
        ("natural_astronaut_512x512", 160, 160, 38.33), ("natural_coffee_600x400", 300, 200, 40.32),
        ("natural_chelsea_451x300", 150, 100, 43.15),
    ])
    func downscalingIsCloseToPillowLanczos(stem: String, width: Int, height: Int, openCVArea: Double) throws {
        let jpeg = try fixture(stem + ".jpg")
        let reference = try Codec.decodePNG(try fixture("\(stem)_pillow_lanczos_\(width)x\(height).png"))
        let decoded = try Codec.decode(jpeg)
        let bicubic = psnr(Resizer.resize(decoded, width: width, height: height, filter: .bicubic), reference)
        #expect(bicubic >= 40, "\(stem): bicubic \(bicubic) dB")
        let area = psnr(Resizer.resize(decoded, width: width, height: height, filter: .area), reference)
        #expect(abs(area - openCVArea) < 0.05, "\(stem): area \(area) dB, OpenCV INTER_AREA \(openCVArea)")
        let header = try Codec.dimensions(jpeg)
        let scale = Resizer.jpegScaleDenominator(
            width: header.width, height: header.height, size: min(width, height), mode: .keepRatio, filter: .bicubic)
        let scaled = psnr(
            Resizer.resize(
                try Codec.decodeJPEG(jpeg, scaleDenominator: scale), width: width, height: height, filter: .bicubic),
            reference)
        #expect(scaled >= 40, "\(stem): bicubic after the 1/\(scale) DCT-scaled decode \(scaled) dB")
        print("PSNR \(stem): bicubic \(bicubic), area \(area), bicubic at 1/\(scale) \(scaled)")
    }
}

@Suite struct DownscaleSettingTests {
    /// `downscale_interpolation: bicubic` reaches the image stage: a natural photograph's 160 px centre crop is
    /// closer to Pillow's LANCZOS than the area filter's.
    @Test func theImageStageUsesTheConfiguredFilter() throws {
        let jpeg = try fixture("natural_astronaut_512x512.jpg")
        func stored(_ filter: ResampleFilter) throws -> RGBImage {
            var settings = ImageSettings()
            settings.imageSize = 160
            settings.resizeMode = .centerCrop
            settings.encodeFormat = "png"
            settings.downscaleFilter = filter
            var s = sample(jpeg)
            ImageProcessor(settings: settings).process(&s)
            return try Codec.decodePNG(try #require(s.stored))
        }
        let reference = try Codec.decodePNG(try fixture("natural_astronaut_512x512_pillow_lanczos_160x160.png"))
        let quality = ResizeQualityTests()
        let bicubic = quality.psnr(try stored(.bicubic), reference)
        let area = quality.psnr(try stored(.area), reference)
        #expect(bicubic >= 40 && bicubic > area + 3, "bicubic \(bicubic) dB, area \(area) dB")
    }
}

@Suite struct InterlacedPNGTests {
    /// Adam7-interlaced PNG (written by pypng; Pillow cannot write it): 8-bit RGB, and 16-bit grey with alpha
    /// (composited over white).
    @Test func interlacedPNGsDecode() throws {
        let rgb = try Codec.decodePNG(try fixture("png_interlaced_adam7_rgb_40x20.png"))
        #expect(rgb.width == 40 && rgb.height == 20)
        func at(_ im: RGBImage, _ x: Int, _ y: Int) -> [UInt8] {
            Array(im.pixels[((y * im.width + x) * 3)..<((y * im.width + x) * 3 + 3)])
        }
        #expect(at(rgb, 0, 0) == [255, 0, 0] && at(rgb, 39, 0) == [0, 255, 0])
        #expect(at(rgb, 0, 19) == [0, 0, 255] && at(rgb, 39, 19) == [255, 255, 0])
        let colours: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]]
        var quadrants: [UInt8] = []
        for y in 0..<20 {
            for x in 0..<40 { quadrants += colours[(y >= 10 ? 2 : 0) + (x >= 20 ? 1 : 0)] }
        }
        #expect(rgb.pixels == quadrants)
        let grey = try Codec.decodePNG(try fixture("png_interlaced_adam7_grey16_alpha_40x20.png"))
        // Opaque white on the left; transparent on the right becomes the white background.
        #expect(grey.pixels.allSatisfy { $0 == 255 })
    }
}

@Suite struct AnimatedWebPTests {
    /// An animated WebP gives its first frame (the quadrants, its transparent top rows over white); the second frame
    /// (black) is not mixed in. Cut short, it is an error, not a crash.
    @Test func firstFrameOfAnAnimation() throws {
        let bytes = try fixture("webp_animated_2frames_40x20.webp")
        let image = try Codec.decodeWebP(bytes)
        #expect(image.width == 40 && image.height == 20)
        func at(_ x: Int, _ y: Int) -> [UInt8] { Array(image.pixels[((y * 40 + x) * 3)..<((y * 40 + x) * 3 + 3)]) }
        #expect(at(0, 0) == [255, 255, 255] && at(39, 1) == [255, 255, 255])
        #expect(at(0, 5) == [255, 0, 0] && at(39, 5) == [0, 255, 0] && at(0, 19) == [0, 0, 255])
        #expect(at(39, 19) == [255, 255, 0])
        var s = sample(bytes)
        var settings = ImageSettings()
        settings.minBytes = 0
        settings.imageSize = 20
        ImageProcessor(settings: settings).process(&s)
        #expect(s.isKept, "\(s.outcome)")
        #expect(throws: ImageError.self) { try Codec.decodeWebP(Array(bytes.prefix(100))) }
    }
}
