internal import CAVIF

/// What an AVIF's container says about its primary image, read by libavif's parser without decoding any AV1.
struct AVIFHeader {
    /// Width and height as stored (before `irot`/`imir`).
    var width = 0
    var height = 0
    /// Bits a sample: 8, 10 or 12.
    var depth = 8
    /// Chroma samples per luma sample, in quarters: 8 for 4:4:4, 4 for 4:2:2, 2 for 4:2:0, 0 for monochrome.
    var chromaQuarters = 2
    /// An alpha plane (auxiliary image) is present.
    var hasAlpha = false
    /// The `irot` and `imir` properties as the EXIF orientation (1-8) that displays the image the same way.
    var orientation = 1
    /// The XMP packet, if the file has one.
    var xmp: [UInt8] = []
}

/// One libavif decoder over bytes the caller keeps alive. Not thread-safe, so not Sendable: one per decode.
final class AVIFDecoder {
    let decoder: UnsafeMutablePointer<avifDecoder>

    /// A decoder over `bytes`, parsed (the container only: no AV1 is decoded and no plane allocated). The primary
    /// item is chosen, so that an image sequence gives the still image it carries; a sequence without one gives its
    /// first frame. `maxPixels` is handed to libavif and dav1d, which refuse larger images and frames whatever the
    /// container says; nil, to read the header alone, sets no limit.
    /// The corresponding C functions are `avifDecoderSetIOMemory` and `avifDecoderParse`.
    init(_ bytes: UnsafeBufferPointer<UInt8>, maxPixels: Int?) throws(ImageError) {
        guard let d = avifDecoderCreate() else { throw ImageError(.decodeError, "AVIF: avifDecoderCreate failed") }
        decoder = d
        d.pointee.maxThreads = 1  // a worker per core already
        d.pointee.ignoreExif = 1  // HEIF displays by irot/imir; Exif orientation must not be applied again
        // Reading the header alone (nil), the limits are the caller's to apply: the header says what it says.
        // libavif 0.11 accepts no size limit above its default of 16384 x 16384, so the limit is clamped there.
        d.pointee.imageSizeLimit = UInt32(clamping: max(1, min(maxPixels ?? Int.max, 16384 * 16384)))
        d.pointee.imageDimensionLimit = maxPixels == nil ? 0 : 65536
        try check(avifDecoderSetIOMemory(d, bytes.baseAddress, bytes.count))
        try check(avifDecoderSetSource(d, AVIF_DECODER_SOURCE_PRIMARY_ITEM))
        let primary = avifDecoderParse(d)
        if primary == AVIF_RESULT_OK { return }
        let message = diagnostic
        // No primary item: an image sequence that is only a track.
        if avifDecoderSetSource(d, AVIF_DECODER_SOURCE_TRACKS) == AVIF_RESULT_OK
            || avifDecoderParse(d) == AVIF_RESULT_OK
        {
            return
        }
        // libavif 0.11 says BMFF_PARSE_FAILED for most files that end early: its boxes tell.
        let truncated = primary == AVIF_RESULT_TRUNCATED_DATA || AVIFDecoder.boxesOverrun(bytes)
        try check(truncated ? AVIF_RESULT_TRUNCATED_DATA : primary, diagnostic: message)
    }

    /// Whether the top-level boxes run past the end of `bytes` (a file cut short).
    static func boxesOverrun(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i + 8 <= b.count {
            var size = Int(ImageMetadata.be32(b, i))
            if size == 1 {
                guard i + 16 <= b.count else { return true }
                size = Int(ImageMetadata.be32(b, i + 12)) | Int(ImageMetadata.be32(b, i + 8)) << 32
            } else if size == 0 {
                return false  // to the end, wherever it is
            }
            guard size >= 8 else { return false }  // malformed, not short
            if size > b.count - i { return true }
            i += size
        }
        return i < b.count  // a box header cut short
    }

    /// libavif's diagnostic for the last failure, or empty.
    var diagnostic: String {
        withUnsafeBytes(of: decoder.pointee.diag.error) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    deinit { avifDecoderDestroy(decoder) }

    /// The image the decoder is on (container values after `init`, decoded planes after `decodeFirst`).
    var image: avifImage { decoder.pointee.image.pointee }

    /// The container's account of the image.
    var header: AVIFHeader {
        let i = image
        var h = AVIFHeader()
        (h.width, h.height, h.depth) = (Int(i.width), Int(i.height), Int(i.depth))
        switch i.yuvFormat {
        case AVIF_PIXEL_FORMAT_YUV444: h.chromaQuarters = 8
        case AVIF_PIXEL_FORMAT_YUV422: h.chromaQuarters = 4
        case AVIF_PIXEL_FORMAT_YUV400: h.chromaQuarters = 0
        default: h.chromaQuarters = 2
        }
        h.hasAlpha = decoder.pointee.alphaPresent != 0
        let rotated = i.transformFlags & AVIF_TRANSFORM_IROT.rawValue != 0
        let mirrored = i.transformFlags & AVIF_TRANSFORM_IMIR.rawValue != 0
        h.orientation = AVIFDecoder.orientation(
            angle: rotated ? Int(i.irot.angle) : 0, mirror: mirrored ? Int(i.imir.mode) : nil)
        if i.xmp.size > 0, let data = i.xmp.data {
            h.xmp = Array(UnsafeBufferPointer(start: data, count: i.xmp.size))
        }
        return h
    }

    /// Decodes the first image's AV1 (colour and alpha planes). The corresponding C function is
    /// `avifDecoderNextImage`.
    func decodeFirst() throws(ImageError) {
        try check(avifDecoderNextImage(decoder))
    }

    /// The EXIF orientation (1-8) that shows an image as `irot` (`angle` x 90 degrees anti-clockwise) and then `imir`
    /// (`mirror` 0: top and bottom exchanged, 1: left and right) do; ISO/IEC 23008-12 applies rotation first.
    static func orientation(angle: Int, mirror: Int?) -> Int {
        let table = [
            [1, 4, 2],  // no rotation: as stored, flipped vertically, mirrored
            [8, 5, 7],  // 90 anti-clockwise
            [3, 2, 4],  // 180
            [6, 7, 5],  // 270 anti-clockwise (90 clockwise)
        ]
        let column = mirror.map { $0 == 0 ? 1 : 2 } ?? 0
        return table[angle & 3][column]
    }

    /// Throws for any result but OK: `truncated_image` when the data ends early, `unsupported_format` for what this
    /// libavif cannot decode, `decode_error` otherwise, with libavif's words and its diagnostic.
    func check(_ result: avifResult, diagnostic: String? = nil) throws(ImageError) {
        guard result != AVIF_RESULT_OK else { return }
        var message = "AVIF: " + String(cString: avifResultToString(result))
        let diagnostic = diagnostic ?? self.diagnostic
        if !diagnostic.isEmpty { message += " (\(diagnostic))" }
        // libavif 0.11 refuses a size over its limit as a parse failure; the reason is the size.
        if result == AVIF_RESULT_BMFF_PARSE_FAILED && diagnostic.contains("dimensions are too large") {
            throw ImageError(.tooManyPixels, message)
        }
        switch result {
        case AVIF_RESULT_TRUNCATED_DATA: throw ImageError(.truncatedImage, message)
        case AVIF_RESULT_UNSUPPORTED_DEPTH, AVIF_RESULT_NOT_IMPLEMENTED, AVIF_RESULT_NO_CODEC_AVAILABLE:
            throw ImageError(.unsupportedFormat, message)
        default: throw ImageError(.decodeError, message)
        }
    }
}

extension Codec {
    /// The container's account of an AVIF (size, depth, chroma, alpha, orientation, XMP), without decoding AV1.
    static func avifHeader(_ bytes: [UInt8]) throws(ImageError) -> AVIFHeader {
        try bytes.withUnsafeBufferPointer { b throws(ImageError) in try AVIFDecoder(b, maxPixels: nil).header }
    }

    /// Decodes an AVIF's primary image (an image sequence's still image, or its first frame) to 8-bit sRGB-encoded
    /// RGB, alpha composited over white; `irot`/`imir` not applied (`ImageMetadata.orientation` says how). 10- and
    /// 12-bit samples are rounded to 8 bits; YUV becomes RGB by the matrix and range the file declares (nclx or the
    /// AV1 sequence header), as every decoder Winnow uses, which leave an ICC profile and the transfer function
    /// alone. The size is checked against `maxPixels` before any plane is allocated, and the decoded frame against
    /// the container's size. The corresponding C functions are `avifDecoderNextImage` and `avifImageYUVToRGB`.
    public static func decodeAVIF(_ bytes: [UInt8], maxPixels: Int = 89_478_484) throws(ImageError) -> RGBImage {
        try bytes.withUnsafeBufferPointer { b throws(ImageError) in
            let d = try AVIFDecoder(b, maxPixels: maxPixels)
            let header = d.header
            let (w, h) = (header.width, header.height)
            guard w > 0, h > 0 else { throw ImageError(.decodeError, "AVIF: header says \(w)x\(h)") }
            guard w.multipliedReportingOverflow(by: h).partialValue <= maxPixels, w <= 65536, h <= 65536 else {
                throw ImageError(.tooManyPixels, "\(w)x\(h) is over \(maxPixels) pixels")
            }
            try d.decodeFirst()
            let image = d.image
            guard Int(image.width) == w, Int(image.height) == h else {
                throw ImageError(
                    .decodeError, "AVIF: the container says \(w)x\(h), the AV1 data \(image.width)x\(image.height)")
            }
            let alpha = image.alphaPlane != nil
            var rgb = avifRGBImage()
            avifRGBImageSetDefaults(&rgb, d.decoder.pointee.image)
            rgb.depth = 8
            rgb.format = alpha ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB
            rgb.rowBytes = UInt32(w * (alpha ? 4 : 3))
            var result = AVIF_RESULT_OK
            let pixels = filled(w * h * (alpha ? 4 : 3)) { out in
                rgb.pixels = out.baseAddress
                result = avifImageYUVToRGB(d.decoder.pointee.image, &rgb)
                return result == AVIF_RESULT_OK
            }
            guard let pixels else {
                try d.check(result)
                throw ImageError(.decodeError, "AVIF: YUV to RGB failed")
            }
            if !alpha { return RGBImage(width: w, height: h, pixels: pixels) }
            return pixels.withUnsafeBufferPointer { overWhite($0.baseAddress!, width: w, height: h) }
        }
    }

    /// What decoding an AVIF holds at once, from its container (see `decodeBytesNeeded`): dav1d's planes (1 or 2
    /// bytes a sample; luma, chroma and alpha), a pixel's worth of its padding and state, and the RGB output (RGBA
    /// and its RGB copy with alpha). Measured on 4000x3000 files: 5.1 bytes a pixel for 8-bit 4:2:0 (5.5 estimated),
    /// 16.0 for 10-bit 4:4:4 with alpha (16.0).
    static func avifBytesNeeded(_ bytes: [UInt8], width: Int, height: Int) -> Int {
        let n = width * height
        guard let header = try? avifHeader(bytes) else { return 16 * n }
        let sample = header.depth > 8 ? 2 : 1
        let planes = 4 + header.chromaQuarters + (header.hasAlpha ? 4 : 0)  // in quarters of a pixel
        return n * sample * planes / 4 + n + (header.hasAlpha ? 7 : 3) * n
    }

    /// libavif's own decode of an AVIF to YUV planes, nothing else: winnow-bench's baseline for `decodeAVIF`.
    /// The corresponding C function is `avifDecoderReadMemory`.
    package static func avifReadMemory(_ bytes: [UInt8]) -> Bool {
        guard let decoder = avifDecoderCreate() else { return false }
        defer { avifDecoderDestroy(decoder) }
        guard let image = avifImageCreateEmpty() else { return false }
        defer { avifImageDestroy(image) }
        let result = bytes.withUnsafeBufferPointer { avifDecoderReadMemory(decoder, image, $0.baseAddress, $0.count) }
        return result == AVIF_RESULT_OK
    }
}
