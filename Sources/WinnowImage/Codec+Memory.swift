internal import CJPEG
internal import CWebP

extension Codec {
    /// The most bytes decoding these bytes allocates at once, the decoded image included, from the header alone
    /// (no pixel is decoded): what the image stage reserves from its `DecodeBudget`. `jpegScale` is the DCT scale
    /// denominator the JPEG will be decoded at. Estimates from what each decoder is known to hold (`n` pixels out):
    /// - JPEG: 3n, and for a multi-scan (progressive) file the coefficients of the whole image at full size
    ///   (`winnow_jpeg_whole_image_bytes`), whatever the scale;
    /// - PNG: 3n for 16-bit files read a row at a time; otherwise 7n (RGBA inflated, then turned into an RGB copy
    ///   of its own size) and the compressed data when its IDAT chunks have to be joined;
    /// - WebP: 3n lossy without alpha; 8n lossless or with alpha (libwebp's ARGB plane and the RGBA output); 16n for
    ///   an animation (canvas, previous canvas, frame, RGB);
    /// - GIF: 6n (giflib's canvas and its copy);
    /// - AVIF: dav1d's planes at their depth and chroma, alpha included, n more, and the RGB(A) output
    ///   (`avifBytesNeeded`);
    /// - JPEG XL: 8n, 12n lossless with alpha, 40n lossy with alpha, 16n more for an animation (`jxlBytesNeeded`).
    public static func decodeBytesNeeded(
        _ bytes: [UInt8], format: ImageFormat, width: Int, height: Int, jpegScale: Int = 1
    ) -> Int {
        let d = max(1, jpegScale)
        switch format {
        case .jpeg:
            let n = ((width + d - 1) / d) * ((height + d - 1) / d)
            let whole = bytes.withUnsafeBufferPointer { winnow_jpeg_whole_image_bytes($0.baseAddress, $0.count) }
            return 3 * n + Int(whole)
        case .png:
            let n = width * height
            if bytes.count > 24 && bytes[24] == 16 && !declaresColourSpace(png: bytes) { return 3 * n + 16 * width }
            return 7 * n + bytes.count
        case .webp:
            let n = width * height
            var features = WebPBitstreamFeatures()
            let status = bytes.withUnsafeBufferPointer { WebPGetFeatures($0.baseAddress, $0.count, &features) }
            guard status == VP8_STATUS_OK else { return 16 * n }
            if features.has_animation != 0 { return 16 * n }
            return features.has_alpha != 0 || features.format == 2 ? 8 * n : 3 * n
        case .gif:
            return 6 * width * height
        case .avif:
            return avifBytesNeeded(bytes, width: width, height: height)
        case .jxl:
            return jxlBytesNeeded(bytes, width: width, height: height)
        }
    }
}
