internal import CGIF
internal import CJPEG
internal import CPNG
internal import CPNGDeflate
internal import CWebP

/// Decoding (JPEG, PNG, WebP, GIF, AVIF, JPEG XL) and encoding (JPEG, PNG, WebP) through the system libraries.
public enum Codec {
    /// Width and height from the file header, without decoding pixels.
    public static func dimensions(_ bytes: [UInt8]) throws(ImageError) -> (format: ImageFormat, width: Int, height: Int)
    {
        guard let format = ImageFormat.sniff(bytes) else {
            if let brand = ImageFormat.otherHEIFBrand(bytes) {
                throw ImageError(.unsupportedFormat, "HEIF (\(brand)) that is not AVIF")
            }
            throw ImageError(.notImage, "bytes are not a JPEG, PNG, WebP, GIF, AVIF or JPEG XL image")
        }
        switch format {
        case .jpeg:
            var w: Int32 = 0
            var h: Int32 = 0
            var n: Int32 = 0
            var err = [CChar](repeating: 0, count: 256)
            let rc = bytes.withUnsafeBufferPointer { b in
                winnow_jpeg_read_header(b.baseAddress, b.count, &w, &h, &n, &err, err.count)
            }
            if rc != 0 { throw ImageError(.decodeError, "JPEG header: \(text(err))") }
            return (.jpeg, Int(w), Int(h))
        case .png:
            guard let (w, h) = pngSize(bytes) else { throw ImageError(.decodeError, "PNG without an IHDR chunk") }
            return (.png, w, h)
        case .webp:
            var w: Int32 = 0
            var h: Int32 = 0
            let ok = bytes.withUnsafeBufferPointer { WebPGetInfo($0.baseAddress, $0.count, &w, &h) }
            guard ok != 0 else { throw ImageError(.decodeError, "WebP: bad header") }
            return (.webp, Int(w), Int(h))
        case .gif:
            // The logical screen size, little-endian after "GIF87a"/"GIF89a".
            guard bytes.count >= 10 else { throw ImageError(.decodeError, "GIF: no logical screen descriptor") }
            return (.gif, Int(bytes[6]) | Int(bytes[7]) << 8, Int(bytes[8]) | Int(bytes[9]) << 8)
        case .avif:
            let header = try avifHeader(bytes)
            return (.avif, header.width, header.height)
        case .jxl:
            let header = try jxlHeader(bytes)
            return (.jxl, header.width, header.height)
        }
    }

    /// Decodes any supported format at full size (alpha composited over white, EXIF orientation not applied), after
    /// checking from the header that it has at most `maxPixels` pixels.
    public static func decode(_ bytes: [UInt8], maxPixels: Int = 89_478_484) throws(ImageError) -> RGBImage {
        let header = try dimensions(bytes)
        guard header.width > 0, header.height > 0 else {
            throw ImageError(.decodeError, "header says \(header.width)x\(header.height)")
        }
        let (pixels, overflow) = header.width.multipliedReportingOverflow(by: header.height)
        guard !overflow && pixels <= maxPixels else {
            throw ImageError(.tooManyPixels, "\(header.width)x\(header.height) is over \(maxPixels) pixels")
        }
        switch header.format {
        case .jpeg: return try decodeJPEG(bytes)
        case .png: return try decodePNG(bytes)
        case .webp: return try decodeWebP(bytes)
        case .gif: return try decodeGIF(bytes, maxPixels: maxPixels)
        case .avif: return try decodeAVIF(bytes, maxPixels: maxPixels)
        case .jxl: return try decodeJXL(bytes, maxPixels: maxPixels)
        }
    }

    /// Decodes a JPEG, scaled down in the DCT by 1/`scaleDenominator` (1, 2, 4 or 8).
    public static func decodeJPEG(_ bytes: [UInt8], scaleDenominator: Int = 1) throws(ImageError) -> RGBImage {
        try decodeJPEGCountingWarnings(bytes, scaleDenominator: scaleDenominator).image
    }

    /// Decodes a JPEG as `decodeJPEG` does, with the number of warnings libjpeg gave: more than zero means corrupt
    /// or truncated data, decoded as far as it went (the rest grey). `size`, when the caller has read the header
    /// already (`dimensions`), saves reading it again.
    public static func decodeJPEGCountingWarnings(
        _ bytes: [UInt8], scaleDenominator: Int = 1, size: (width: Int, height: Int)? = nil
    ) throws(ImageError) -> (image: RGBImage, warnings: Int) {
        // Decoded straight into the image's own array: its size follows from the header and the scale (a `size` that
        // does not match the header is an error from winnow_jpeg_decode, which checks that the output fits).
        var width = 0
        var height = 0
        if let size {
            (width, height) = size
        } else {
            let header = try dimensions(bytes)
            (width, height) = (header.width, header.height)
        }
        let d = max(1, scaleDenominator)
        let capacity = ((width + d - 1) / d) * ((height + d - 1) / d) * 3
        var w: Int32 = 0
        var h: Int32 = 0
        var warnings: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        var rc: Int32 = -1
        let pixels = [UInt8](unsafeUninitializedCapacity: max(1, capacity)) { buffer, count in
            rc = bytes.withUnsafeBufferPointer { b in
                winnow_jpeg_decode(
                    b.baseAddress, b.count, Int32(d), buffer.baseAddress, capacity, &w, &h, &warnings, &err,
                    err.count)
            }
            count = rc == 0 ? Int(w) * Int(h) * 3 : 0
        }
        guard rc == 0 else { throw ImageError(.decodeError, "JPEG: \(text(err))") }
        return (RGBImage(width: Int(w), height: Int(h), pixels: pixels), Int(warnings))
    }

    /// Decodes a PNG of any bit depth and colour type; alpha is composited over white. The common PNGs are inflated
    /// with libdeflate (`decodePNGFast`), the rest by libpng.
    public static func decodePNG(_ bytes: [UInt8]) throws(ImageError) -> RGBImage {
        if let fast = decodePNGFast(bytes) { return fast }
        return try decodePNGWithLibpng(bytes)
    }

    /// The fast path of `decodePNG`: the same pixels as libpng gives, or nil to ask libpng. The image data is
    /// inflated into the result's own buffer and turned into RGB in place, so the image is in memory once (RGBA
    /// once and then RGB: 7 bytes a pixel at the peak).
    /// The corresponding C functions are `winnow_png_fast_probe` and `winnow_png_fast_decode`.
    static func decodePNGFast(_ bytes: [UInt8]) -> RGBImage? {
        bytes.withUnsafeBufferPointer { b -> RGBImage? in
            var w: UInt32 = 0
            var h: UInt32 = 0
            var capacity = 0
            guard winnow_png_fast_probe(b.baseAddress, b.count, &w, &h, &capacity) != 0 else { return nil }
            let count = Int(w) * Int(h) * 3
            var ok = false
            let rgb = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
                ok = winnow_png_fast_decode(b.baseAddress, b.count, buffer.baseAddress, capacity) != 0
                initialized = ok ? count : 0
            }
            return ok ? RGBImage(width: Int(w), height: Int(h), pixels: trimmed(rgb)) : nil
        }
    }

    /// `decodePNG` through libpng, for every PNG: 16-bit files with no colour space a row at a time
    /// (`winnow_png16_decode_rgb`), the rest through libpng's simplified API.
    static func decodePNGWithLibpng(_ bytes: [UInt8]) throws(ImageError) -> RGBImage {
        if bytes.count > 24 && bytes[24] == 16 && !declaresColourSpace(png: bytes) {
            // 16-bit samples with no gAMA, sRGB, iCCP or cHRM: libpng's simplified API would take them as linear
            // light and brighten them on the way to 8-bit sRGB; browsers and Pillow read them as sRGB-encoded.
            // Each row goes to 8-bit RGB as it is read: the image never exists at 16 bits.
            guard let (w, h) = pngSize(bytes) else { throw ImageError(.decodeError, "PNG without an IHDR chunk") }
            var err = [CChar](repeating: 0, count: 256)
            var rc: Int32 = -1
            let rgb = filled(w * h * 3) { out in
                rc = bytes.withUnsafeBufferPointer {
                    winnow_png16_decode_rgb($0.baseAddress, $0.count, out.baseAddress, out.count, &err, err.count)
                }
                return rc == 0
            }
            if let rgb { return RGBImage(width: w, height: h, pixels: rgb) }
            if rc != -2 { throw ImageError(.decodeError, "PNG: \(text(err))") }
            // -2: IHDR byte 24 was not the bit depth after all (a chunk out of place); libpng's simplified API decides.
        }
        var image = winnow_png_image_new()
        let ok = bytes.withUnsafeBufferPointer { b in png_image_begin_read_from_memory(&image, b.baseAddress, b.count) }
        guard ok != 0 else { throw ImageError(.decodeError, "PNG: \(pngMessage(&image))") }
        defer { png_image_free(&image) }
        let w = Int(image.width)
        let h = Int(image.height)
        if winnow_png_image_has_alpha(&image) == 0 {
            // No alpha channel and no tRNS: libpng writes RGB straight into the result.
            image.format = winnow_png_format_rgb()
            let rgb = filled(w * h * 3) { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) != 0 }
            guard let rgb else { throw ImageError(.decodeError, "PNG: \(pngMessage(&image))") }
            return RGBImage(width: w, height: h, pixels: rgb)
        }
        // RGBA, composited over white in place (each RGB pixel lands at or before its RGBA one).
        image.format = winnow_png_format_rgba()
        let size = winnow_png_image_size(&image)
        var done: Int32 = 0
        let rgb = [UInt8](unsafeUninitializedCapacity: max(1, size)) { buffer, initialized in
            done = png_image_finish_read(&image, nil, buffer.baseAddress, 0, nil)
            if done != 0 { overWhiteInPlace(buffer.baseAddress!, pixels: w * h) }
            initialized = done != 0 ? w * h * 3 : 0
        }
        guard done != 0 else { throw ImageError(.decodeError, "PNG: \(pngMessage(&image))") }
        return RGBImage(width: w, height: h, pixels: trimmed(rgb))
    }

    /// Width and height from a PNG's IHDR.
    static func pngSize(_ bytes: [UInt8]) -> (Int, Int)? {
        guard bytes.count >= 24, bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
        func be32(_ i: Int) -> Int {
            Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        }
        return (be32(16), be32(20))
    }

    /// `pixels` in a buffer of its own size when it sits in a much larger one (a decoder's scratch), so that the
    /// image does not hold that memory for the rest of its life: the copy costs 3 bytes a pixel for a moment.
    static func trimmed(_ pixels: [UInt8]) -> [UInt8] {
        guard pixels.capacity - pixels.count > pixels.count / 8 else { return pixels }
        return [UInt8](unsafeUninitializedCapacity: pixels.count) { buffer, initialized in
            _ = buffer.initialize(from: pixels)
            initialized = pixels.count
        }
    }

    /// `overWhite` on RGBA in place: RGB pixel i is written over bytes 3i to 3i+2, which RGBA pixels i and before
    /// have already given up.
    static func overWhiteInPlace(_ p: UnsafeMutablePointer<UInt8>, pixels n: Int) {
        for i in 0..<n {
            let a = UInt32(p[4 * i + 3])
            let white = 255 * (255 - a) + 127
            let r = UInt8((UInt32(p[4 * i]) * a + white) / 255)
            let g = UInt8((UInt32(p[4 * i + 1]) * a + white) / 255)
            let b = UInt8((UInt32(p[4 * i + 2]) * a + white) / 255)
            p[3 * i] = r
            p[3 * i + 1] = g
            p[3 * i + 2] = b
        }
    }

    /// Whether a PNG says how its samples are encoded (gAMA, sRGB, iCCP or cHRM before its image data).
    static func declaresColourSpace(png bytes: [UInt8]) -> Bool {
        var i = 8
        while i + 8 <= bytes.count {
            let length = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            let type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            if ["gAMA", "sRGB", "iCCP", "cHRM"].contains(type) { return true }
            if type == "IDAT" || type == "IEND" || length < 0 { return false }
            i += 12 + length
        }
        return false
    }

    /// RGBA composited over white, in 8-bit sRGB as transformers' CLIP preprocessing does.
    static func overWhite(_ rgba: UnsafePointer<UInt8>, width: Int, height: Int) -> RGBImage {
        let n = width * height
        let rgb = filled(n * 3) { out in
            let o = out.baseAddress!
            for i in 0..<n {
                let a = UInt32(rgba[4 * i + 3])
                let white = 255 * (255 - a) + 127
                o[3 * i] = UInt8((UInt32(rgba[4 * i]) * a + white) / 255)
                o[3 * i + 1] = UInt8((UInt32(rgba[4 * i + 1]) * a + white) / 255)
                o[3 * i + 2] = UInt8((UInt32(rgba[4 * i + 2]) * a + white) / 255)
            }
            return true
        }
        return RGBImage(width: width, height: height, pixels: rgb ?? [])
    }

    /// `count` bytes written by `fill`, which writes every one of them when it returns true (nil otherwise). Not
    /// zeroed first: a decoder's output is written once, straight into the image.
    static func filled(_ count: Int, _ fill: (UnsafeMutableBufferPointer<UInt8>) -> Bool) -> [UInt8]? {
        var ok = false
        let bytes = [UInt8](unsafeUninitializedCapacity: max(1, count)) { buffer, initialized in
            let view = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
            ok = fill(view)
            initialized = ok ? count : 0
        }
        return ok ? bytes : nil
    }

    private static func pngMessage(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    /// Decodes a WebP (lossy or lossless, with or without alpha); alpha is composited over white.
    /// The corresponding C functions are `WebPGetFeatures`, `WebPDecodeRGBInto` and `WebPDecodeRGBA`.
    public static func decodeWebP(_ bytes: [UInt8]) throws(ImageError) -> RGBImage {
        var features = WebPBitstreamFeatures()
        let status = bytes.withUnsafeBufferPointer { WebPGetFeatures($0.baseAddress, $0.count, &features) }
        guard status == VP8_STATUS_OK, features.width > 0, features.height > 0 else {
            throw ImageError(.decodeError, "WebP: bad header")
        }
        if features.has_animation != 0 { return try decodeWebPFirstFrame(bytes) }
        let (w, h) = (Int(features.width), Int(features.height))
        if features.has_alpha == 0 {
            // No alpha: libwebp writes RGB straight into the result.
            let rgb = filled(w * h * 3) { out in
                bytes.withUnsafeBufferPointer {
                    WebPDecodeRGBInto($0.baseAddress, $0.count, out.baseAddress, out.count, Int32(w * 3))
                } != nil
            }
            guard let rgb else { throw ImageError(.decodeError, "WebP: cannot decode (corrupt data)") }
            return RGBImage(width: w, height: h, pixels: rgb)
        }
        var pw: Int32 = 0
        var ph: Int32 = 0
        guard let p = bytes.withUnsafeBufferPointer({ WebPDecodeRGBA($0.baseAddress, $0.count, &pw, &ph) }) else {
            throw ImageError(.decodeError, "WebP: cannot decode (corrupt data)")
        }
        defer { WebPFree(p) }
        return overWhite(p, width: Int(pw), height: Int(ph))
    }

    /// The first frame of an animated WebP on its canvas, alpha composited over white.
    /// The corresponding C functions are `WebPAnimDecoderNew` and `WebPAnimDecoderGetNext`.
    static func decodeWebPFirstFrame(_ bytes: [UInt8]) throws(ImageError) -> RGBImage {
        var options = WebPAnimDecoderOptions()
        guard WebPAnimDecoderOptionsInit(&options) != 0 else {
            throw ImageError(.decodeError, "WebP: libwebpdemux version mismatch")
        }
        options.color_mode = MODE_RGBA
        options.use_threads = 0
        let image: RGBImage? = bytes.withUnsafeBufferPointer { b in
            var data = WebPData(bytes: b.baseAddress, size: b.count)
            guard let decoder = WebPAnimDecoderNew(&data, &options) else { return nil }
            defer { WebPAnimDecoderDelete(decoder) }
            var info = WebPAnimInfo()
            var frame: UnsafeMutablePointer<UInt8>?
            var timestamp: Int32 = 0
            guard WebPAnimDecoderGetInfo(decoder, &info) != 0, info.canvas_width > 0, info.canvas_height > 0,
                WebPAnimDecoderGetNext(decoder, &frame, &timestamp) != 0, let frame
            else { return nil }
            return overWhite(frame, width: Int(info.canvas_width), height: Int(info.canvas_height))
        }
        guard let image else { throw ImageError(.decodeError, "WebP: cannot decode the animation's first frame") }
        return image
    }

    /// Decodes the first frame of a GIF (the only one of an animation) onto its logical screen; transparent and
    /// uncovered pixels are white. `maxPixels` bounds the allocation.
    public static func decodeGIF(_ bytes: [UInt8], maxPixels: Int = 89_478_484) throws(ImageError) -> RGBImage {
        var out: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0
        var h: Int32 = 0
        let rc = bytes.withUnsafeBufferPointer {
            winnow_gif_decode_first_frame($0.baseAddress, $0.count, maxPixels, &out, &w, &h)
        }
        guard rc == 0, let p = out else {
            throw ImageError(.decodeError, "GIF: \(String(cString: winnow_gif_error(rc)))")
        }
        defer { free(p) }
        return RGBImage(
            width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: p, count: Int(w) * Int(h) * 3)))
    }

    /// Encodes RGB to lossy WebP at `quality` (1-100). The corresponding C function is `WebPEncodeRGB`.
    public static func encodeWebP(_ image: RGBImage, quality: Int) throws(ImageError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        let size = image.pixels.withUnsafeBufferPointer {
            WebPEncodeRGB(
                $0.baseAddress, Int32(image.width), Int32(image.height), Int32(image.width * 3), Float(quality), &out)
        }
        guard size > 0, let p = out else { throw ImageError(.encodeError, "WebP: encoding failed") }
        defer { WebPFree(p) }
        return Array(UnsafeBufferPointer(start: p, count: size))
    }

    /// Encodes RGB to JPEG at `quality` (1-100).
    public static func encodeJPEG(_ image: RGBImage, quality: Int) throws(ImageError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = image.pixels.withUnsafeBufferPointer { p in
            winnow_jpeg_encode(
                p.baseAddress, Int32(image.width), Int32(image.height), Int32(quality), &out, &size, &err, err.count)
        }
        guard rc == 0, let p = out else { throw ImageError(.encodeError, "JPEG: \(text(err))") }
        defer { winnow_jpeg_free(p) }
        return Array(UnsafeBufferPointer(start: p, count: size))
    }

    /// Encodes RGB to PNG.
    public static func encodePNG(_ image: RGBImage) throws(ImageError) -> [UInt8] {
        var png = winnow_png_image_new()
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = winnow_png_format_rgb()
        var size = 0
        var ok = image.pixels.withUnsafeBytes { p in
            png_image_write_to_memory(&png, nil, &size, 0, p.baseAddress, 0, nil)
        }
        guard ok != 0 else { throw ImageError(.encodeError, "PNG: \(pngMessage(&png))") }
        var out = [UInt8](repeating: 0, count: size)
        ok = out.withUnsafeMutableBytes { o in
            image.pixels.withUnsafeBytes { p in
                png_image_write_to_memory(&png, o.baseAddress, &size, 0, p.baseAddress, 0, nil)
            }
        }
        guard ok != 0 else { throw ImageError(.encodeError, "PNG: \(pngMessage(&png))") }
        return Array(out[0..<size])
    }
}

/// The NUL-terminated text in a C buffer.
func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
