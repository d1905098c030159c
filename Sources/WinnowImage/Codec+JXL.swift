internal import CJXL

/// What a JPEG XL codestream's header says, read without decoding any pixel.
struct JXLHeader {
    /// Width and height as stored (before orientation).
    var width = 0
    var height = 0
    /// EXIF-style orientation (1-8) from the codestream (the authority in JPEG XL; an Exif box is not read).
    var orientation = 1
    /// An alpha channel is present.
    var hasAlpha = false
    /// Samples are in XYB (lossy VarDCT, usually), converted to the colour space asked for on decoding.
    var xyb = false
    /// More than one frame.
    var animated = false
}

/// One libjxl decoder over bytes the caller keeps alive (all of them given at once). Not thread-safe, so not
/// Sendable: one per decode.
final class JXLDecoder {
    let decoder: OpaquePointer

    /// A decoder over `bytes`, subscribed to basic info alone or, with `pixels`, to the colour encoding and the first
    /// full frame too. Orientation is left to the caller (`JxlDecoderSetKeepOrientation`), as for the other formats.
    init(_ bytes: UnsafeBufferPointer<UInt8>, pixels: Bool) throws(ImageError) {
        guard let d = JxlDecoderCreate(nil) else {
            throw ImageError(.decodeError, "JPEG XL: JxlDecoderCreate failed")
        }
        decoder = d
        try check(winnow_jxl_subscribe(d, pixels ? 1 : 0), "subscribing")
        try check(JxlDecoderSetKeepOrientation(d, 1), "keeping the orientation")
        // The input is not closed: with all of it given, a decoder that asks for more has met the end of a file cut
        // short (a closed one says only JXL_DEC_ERROR).
        try check(JxlDecoderSetInput(d, bytes.baseAddress, bytes.count), "input")
    }

    deinit { JxlDecoderDestroy(decoder) }

    /// Runs the decoder to its next event. All input is given, so needing more means the file ends early.
    /// The corresponding C function is `JxlDecoderProcessInput`.
    func next() throws(ImageError) -> JxlDecoderStatus {
        let status = JxlDecoderProcessInput(decoder)
        try check(status, "decoding")
        return status
    }

    /// The basic info, once `next` has returned `JXL_DEC_BASIC_INFO`.
    func basicInfo() throws(ImageError) -> JXLHeader {
        var info = JxlBasicInfo()
        try check(JxlDecoderGetBasicInfo(decoder, &info), "basic info")
        var h = JXLHeader()
        (h.width, h.height) = (Int(info.xsize), Int(info.ysize))
        h.orientation = (1...8).contains(Int(info.orientation.rawValue)) ? Int(info.orientation.rawValue) : 1
        h.hasAlpha = info.alpha_bits != 0
        h.xyb = info.uses_original_profile == 0
        h.animated = info.have_animation != 0
        return h
    }

    /// Throws for an error status: `truncated_image` when the decoder needs more input than the file has,
    /// `decode_error` for a malformed file.
    func check(_ status: JxlDecoderStatus, _ what: String) throws(ImageError) {
        if status == JXL_DEC_NEED_MORE_INPUT {
            throw ImageError(.truncatedImage, "JPEG XL: the file ends before the image does (\(what))")
        }
        if status == JXL_DEC_ERROR { throw ImageError(.decodeError, "JPEG XL: malformed (\(what))") }
    }
}

extension Codec {
    /// The metadata box inside a JPEG XL `brob` box (its 4-byte type, then brotli): the inner type and its payload,
    /// at most `cap` bytes of it; nil when it is not brotli or is larger. The corresponding C function is
    /// `BrotliDecoderDecompressStream`.
    static func brotliBox(_ payload: UnsafeBufferPointer<UInt8>, cap: Int = 4 << 20) -> (String, [UInt8])? {
        guard payload.count > 4, let base = payload.baseAddress else { return nil }
        let type = String(decoding: payload[0..<4], as: UTF8.self)
        var out = [UInt8](repeating: 0, count: cap)
        var length = 0
        let status = out.withUnsafeMutableBufferPointer { o in
            winnow_brotli_decode(base + 4, payload.count - 4, o.baseAddress, cap, &length)
        }
        guard status == 0 else { return nil }
        out.removeSubrange(length...)
        return (type, out)
    }

    /// The codestream header of a JPEG XL (size, orientation, alpha, XYB, animation), without decoding pixels.
    static func jxlHeader(_ bytes: [UInt8]) throws(ImageError) -> JXLHeader {
        try bytes.withUnsafeBufferPointer { b throws(ImageError) in
            let d = try JXLDecoder(b, pixels: false)
            guard try d.next() == JXL_DEC_BASIC_INFO else {
                throw ImageError(.decodeError, "JPEG XL: no basic info")
            }
            return try d.basicInfo()
        }
    }

    /// Decodes a JPEG XL (its first frame, composed on the canvas, for an animation) to 8-bit RGB, alpha composited
    /// over white; orientation not applied (`ImageMetadata.orientation` says how). XYB images (lossy) are rendered
    /// in sRGB, which libjxl converts to; other images' samples are taken as stored, ICC profile left alone, as the
    /// other decoders Winnow uses do. The size is checked against `maxPixels` before any pixel buffer is allocated.
    /// The corresponding C functions are `JxlDecoderProcessInput` and `JxlDecoderSetImageOutBuffer`.
    public static func decodeJXL(_ bytes: [UInt8], maxPixels: Int = 89_478_484) throws(ImageError) -> RGBImage {
        try bytes.withUnsafeBufferPointer { b throws(ImageError) in
            let d = try JXLDecoder(b, pixels: true)
            var header = JXLHeader()
            var grey = false
            // Up to the point where the decoder wants somewhere to put the pixels (a handful of events).
            var ready = false
            for _ in 0..<16 where !ready {
                let status = try d.next()
                if status == JXL_DEC_BASIC_INFO {
                    header = try d.basicInfo()
                    let (w, h) = (header.width, header.height)
                    guard w > 0, h > 0, w.multipliedReportingOverflow(by: h).partialValue <= maxPixels else {
                        throw ImageError(.tooManyPixels, "\(w)x\(h) is over \(maxPixels) pixels")
                    }
                    var info = JxlBasicInfo()
                    _ = JxlDecoderGetBasicInfo(d.decoder, &info)
                    grey = info.num_color_channels == 1
                } else if status == JXL_DEC_COLOR_ENCODING {
                    if header.xyb {
                        var srgb = winnow_jxl_srgb(grey ? 1 : 0)
                        try d.check(JxlDecoderSetPreferredColorProfile(d.decoder, &srgb), "asking for sRGB")
                    }
                } else if status == JXL_DEC_NEED_IMAGE_OUT_BUFFER {
                    ready = true
                } else if status == JXL_DEC_SUCCESS || status == JXL_DEC_FULL_IMAGE {
                    throw ImageError(.decodeError, "JPEG XL: no image")
                }
            }
            guard ready else { throw ImageError(.decodeError, "JPEG XL: no image") }
            let (w, h) = (header.width, header.height)
            let channels = header.hasAlpha ? 4 : 3
            var format = winnow_jxl_format_u8(UInt32(channels))
            var size = 0
            try d.check(JxlDecoderImageOutBufferSize(d.decoder, &format, &size), "output size")
            guard size == w * h * channels else {
                throw ImageError(.decodeError, "JPEG XL: an output of \(size) bytes for \(w)x\(h)")
            }
            var failure: ImageError?
            let pixels = filled(size) { out in
                do throws(ImageError) {
                    try d.check(
                        JxlDecoderSetImageOutBuffer(d.decoder, &format, out.baseAddress, size), "output buffer")
                    // The events subscribed to are all seen by now but the first frame's end.
                    for _ in 0..<16 {
                        if try d.next() == JXL_DEC_FULL_IMAGE { return true }
                    }
                    throw ImageError(.decodeError, "JPEG XL: the first frame does not end")
                } catch {
                    failure = error
                    return false
                }
            }
            guard let pixels else { throw failure ?? ImageError(.decodeError, "JPEG XL: cannot decode") }
            if !header.hasAlpha { return RGBImage(width: w, height: h, pixels: pixels) }
            return pixels.withUnsafeBufferPointer { overWhite($0.baseAddress!, width: w, height: h) }
        }
    }

    /// What decoding a JPEG XL holds at once, from its header (see `decodeBytesNeeded`): libjxl's frame in float
    /// planes and its output. Measured on 4000x3000 files (pixels out included): 5.8 bytes a pixel lossy, 3.3
    /// lossless, 4.4 lossless with alpha, 36.7 lossy (XYB) with alpha; estimated 8, 8, 12 and 40, and 16 more for
    /// an animation (the canvas kept between frames).
    static func jxlBytesNeeded(_ bytes: [UInt8], width: Int, height: Int) -> Int {
        let n = width * height
        guard let header = try? jxlHeader(bytes) else { return 40 * n }
        let frame = header.hasAlpha ? (header.xyb ? 40 : 12) : 8
        return n * (frame + (header.animated ? 16 : 0))
    }
}
