import WinnowCore

/// Settings of the image stage (names as img2dataset's where they mean the same).
public struct ImageSettings: Sendable, Equatable {
    /// Decode, resize and re-encode; when false, store the downloaded bytes as they are (after the checks).
    public var process = true
    /// Target size in pixels.
    public var imageSize = 256
    /// How to fit the target size.
    public var resizeMode: ResizeMode = .keepRatio
    /// Enlarge images smaller than the target.
    /// The filter for shrinking (img2dataset's `downscale_interpolation`): area, as img2dataset, or bicubic.
    public var downscaleFilter: ResampleFilter = .area
    public var upscale = false
    /// Stored format: `jpg`, `png` or `webp`.
    public var encodeFormat = "jpg"
    /// JPEG quality.
    public var encodeQuality = 95
    /// Minimum size of the downloaded file in bytes (LAION: 5 KB).
    public var minBytes = 5 * 1024
    /// Minimum width and height of the original image.
    public var minSide = 0
    /// Largest number of pixels decoded (LAION: 89,478,484): larger images are refused before any allocation.
    public var maxPixels = 89_478_484
    /// Largest ratio of the longer to the shorter side.
    public var maxAspectRatio = 10.0
    /// Also hash the original bytes with MD5 and SHA-1 (the forms removal hash lists come in); SHA-256 always.
    public var md5AndSHA1 = true
    /// Turn images upright as their EXIF orientation says.
    public var applyOrientation = true
    /// Drop images whose XMP `plus:DataMining` prohibits AI/ML training (`xmp_data_mining`).
    public var honourDataMining = true
    /// Keep JPEGs with corrupt or truncated data, decoded as far as they go (the rest grey); by default they are
    /// dropped as `truncated_image`.
    public var allowTruncated = false
    /// Store the downloaded bytes themselves when re-encoding would change nothing else: same format as
    /// `encodeFormat`, no resize, crop or pad, upright (an image with alpha keeps it then).
    public var keepOriginalIfUnchanged = false
    /// Compute the PDQ perceptual hash of every decoded image (near-duplicates, image opt-outs).
    public var pdq = true
    /// Decode GIFs (their first frame); LAION dropped GIF, so by default they are `unsupported_format`.
    public var decodeGIF = false

    /// Default settings.
    public init() {}
}

/// The image stage: hashes the downloaded bytes, checks the header, decodes, resizes and re-encodes.
/// Pure and thread-safe: one instance serves all workers.
public struct ImageProcessor: Sendable {
    /// The settings.
    public let settings: ImageSettings

    /// Creates a processor.
    public init(settings: ImageSettings) {
        self.settings = settings
    }

    /// Processes a sample that holds downloaded bytes; dropped samples pass through untouched.
    public func process(_ sample: inout Sample) {
        guard sample.isKept, let bytes = sample.original else { return }
        sample.sha256 = SHA256.hexDigest(bytes)
        if settings.md5AndSHA1 {
            sample.md5 = DigestAlgorithm.md5.hexDigest(bytes)
            sample.sha1 = DigestAlgorithm.sha1.hexDigest(bytes)
        }
        sample.originalSize = bytes.count
        if bytes.count < settings.minBytes {
            sample.drop("file_too_small", "\(bytes.count) bytes < \(settings.minBytes)")
            return
        }
        let header: (format: ImageFormat, width: Int, height: Int)
        do {
            header = try Codec.dimensions(bytes)
        } catch {
            sample.drop(error.code, error.message)
            return
        }
        if header.format == .gif && !settings.decodeGIF {
            sample.drop("unsupported_format", "gif (LAION dropped GIF; decode_gif keeps its first frame)")
            return
        }
        let (w, h) = (header.width, header.height)
        if w <= 0 || h <= 0 {
            sample.drop("decode_error", "image header says \(w)x\(h)")
            return
        }
        if w * h > settings.maxPixels {
            sample.drop("too_many_pixels", "\(w)x\(h) > \(settings.maxPixels) pixels")
            return
        }
        if Double(max(w, h)) / Double(min(w, h)) > settings.maxAspectRatio {
            sample.drop("aspect_ratio", "\(w)x\(h)")
            return
        }
        if min(w, h) < settings.minSide {
            sample.drop("image_too_small", "\(w)x\(h), minimum side \(settings.minSide)")
            return
        }
        let meta = ImageMetadata.scan(bytes, format: header.format)
        if settings.honourDataMining && meta.dataMiningProhibited {
            sample.drop("xmp_data_mining", "XMP plus:DataMining \(meta.dataMining ?? "")")
            return
        }
        func info(storedWidth: Int, storedHeight: Int) -> ImageInfo {
            var i = ImageInfo(
                originalFormat: header.format.rawValue, originalWidth: w, originalHeight: h, storedWidth: storedWidth,
                storedHeight: storedHeight)
            i.exifOrientation = meta.orientation
            i.dataMining = meta.dataMining
            i.hasC2PA = meta.hasC2PA
            return i
        }
        let unchanged =
            settings.keepOriginalIfUnchanged && header.format.fileExtension == settings.encodeFormat
            && (meta.orientation == 1 || !settings.applyOrientation)
            && Resizer.leavesUnchanged(
                width: w, height: h, size: settings.imageSize, mode: settings.resizeMode, upscale: settings.upscale)
        guard settings.process && !unchanged else {
            sample.image = info(storedWidth: w, storedHeight: h)
            sample.stored = bytes
            sample.storedExtension = header.format.fileExtension
            sample.original = nil
            return
        }
        do {
            let decoded: RGBImage
            switch header.format {
            case .jpeg:
                let d = Resizer.jpegScaleDenominator(
                    width: w, height: h, size: settings.imageSize, mode: settings.resizeMode,
                    filter: settings.downscaleFilter)
                let (image, warnings) = try Codec.decodeJPEGCountingWarnings(bytes, scaleDenominator: d, size: (w, h))
                if warnings > 0 && !settings.allowTruncated {
                    sample.drop("truncated_image", "JPEG with corrupt or missing data (\(warnings) libjpeg warnings)")
                    return
                }
                decoded = image
            case .png:
                decoded = try Codec.decodePNG(bytes)
            case .webp:
                decoded = try Codec.decodeWebP(bytes)
            case .gif:
                decoded = try Codec.decodeGIF(bytes, maxPixels: settings.maxPixels)
            }
            let upright = settings.applyOrientation ? Resizer.orient(decoded, meta.orientation) : decoded
            let perceptual = settings.pdq ? PDQ.hashWithMirror(upright) : nil
            let resized = Resizer.apply(
                upright, size: settings.imageSize, mode: settings.resizeMode, upscale: settings.upscale,
                filter: settings.downscaleFilter)
            if settings.encodeFormat == "png" {
                sample.stored = try Codec.encodePNG(resized)
                sample.storedExtension = "png"
            } else if settings.encodeFormat == "webp" {
                sample.stored = try Codec.encodeWebP(resized, quality: settings.encodeQuality)
                sample.storedExtension = "webp"
            } else {
                sample.stored = try Codec.encodeJPEG(resized, quality: settings.encodeQuality)
                sample.storedExtension = "jpg"
            }
            sample.image = info(storedWidth: resized.width, storedHeight: resized.height)
            sample.image?.pdq = perceptual?.hash.hex
            sample.image?.pdqQuality = perceptual?.hash.quality
            sample.image?.pdqMirrored = perceptual?.mirrored.hex
            if settings.pdq, let inner = PDQ.borderTrimmed(upright) { sample.image?.pdqTrimmed = PDQ.hash(inner).hex }
            sample.original = nil
        } catch {
            sample.drop(error.code, error.message)
        }
    }
}
