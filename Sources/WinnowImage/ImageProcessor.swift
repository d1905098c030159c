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
    /// Drop images whose C2PA manifest's training-and-data-mining assertion says `notAllowed` or `constrained` for
    /// `purpose` (`c2pa_training_mining`).
    public var honourC2PA = true
    /// What the run's data is for (pipeline `optout.purpose`): which C2PA entries speak.
    public var purpose = UsagePurpose.trainAI
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
    /// MiB that all workers' decoded images may take at once (`DecodeBudget`): an image waits until its share is
    /// free; one that cannot fit even alone is decoded at a smaller DCT scale (JPEG) or dropped as
    /// `too_many_pixels_for_budget`. 640 MiB holds one image at the 89.5 Mpx limit.
    public var decodeMemoryMB = 640

    /// Default settings.
    public init() {}
}

/// The image stage: hashes the downloaded bytes, checks the header, decodes, resizes and re-encodes.
/// Thread-safe: one instance serves all workers, and they share its decode budget.
public struct ImageProcessor: Sendable {
    /// The settings.
    public let settings: ImageSettings
    /// What decoded images may take at once, over all the workers this processor serves.
    public let budget: DecodeBudget

    /// Creates a processor with a budget of `settings.decodeMemoryMB`, or `budget`.
    public init(settings: ImageSettings, budget: DecodeBudget? = nil) {
        self.settings = settings
        self.budget = budget ?? DecodeBudget(megabytes: settings.decodeMemoryMB)
    }

    /// The most bytes processing an image holds at once, from its header: the decode (`Codec.decodeBytesNeeded`),
    /// or after it the image and beside it PDQ's rows of sums or a turned copy, whichever is more; and the resized
    /// output with the resampler's rows.
    public func bytesNeeded(
        _ bytes: [UInt8], format: ImageFormat, width: Int, height: Int, jpegScale: Int = 1
    ) -> Int {
        let d = format == .jpeg ? max(1, jpegScale) : 1
        let (dw, dh) = ((width + d - 1) / d, (height + d - 1) / d)
        let hashing = settings.pdq ? PDQ.bytesNeeded(width: dw, height: dh) : 0
        let turning = settings.applyOrientation ? 3 * dw * dh : 0
        let after = 3 * dw * dh + max(hashing, turning)
        let decoding = Codec.decodeBytesNeeded(bytes, format: format, width: width, height: height, jpegScale: d)
        let output = 6 * settings.imageSize * settings.imageSize + 64 * (dw + dh)
        return max(decoding, after) + output
    }

    /// Processes a sample that holds downloaded bytes; dropped samples pass through untouched.
    public func process(_ sample: inout Sample) {
        guard sample.isKept, let bytes = sample.original else { return }
        if settings.md5AndSHA1 {
            (sample.sha256, sample.md5, sample.sha1) = contentDigests(bytes)
        } else {
            sample.sha256 = SHA256.hexDigest(bytes)
        }
        sample.originalSize = bytes.count
        if bytes.count < settings.minBytes {
            sample.drop(.fileTooSmall, "\(bytes.count) bytes < \(settings.minBytes)")
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
            sample.drop(.unsupportedFormat, "gif (LAION dropped GIF; decode_gif keeps its first frame)")
            return
        }
        let (w, h) = (header.width, header.height)
        if w <= 0 || h <= 0 {
            sample.drop(.decodeError, "image header says \(w)x\(h)")
            return
        }
        // A PNG header can say 2^32 - 1 on both sides: the product must not trap.
        let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
        if overflow || pixels > settings.maxPixels {
            sample.drop(.tooManyPixels, "\(w)x\(h) > \(settings.maxPixels) pixels")
            return
        }
        if Double(max(w, h)) / Double(min(w, h)) > settings.maxAspectRatio {
            sample.drop(.aspectRatio, "\(w)x\(h)")
            return
        }
        if min(w, h) < settings.minSide {
            sample.drop(.imageTooSmall, "\(w)x\(h), minimum side \(settings.minSide)")
            return
        }
        let meta = ImageMetadata.scan(bytes, format: header.format)
        if settings.honourDataMining && meta.dataMiningProhibited {
            sample.drop(.xmpDataMining, "XMP plus:DataMining \(meta.dataMining ?? "")")
            return
        }
        if settings.honourC2PA, let t = meta.c2paTraining, let why = t.denial(purpose: settings.purpose.rawValue) {
            sample.drop(.c2paTrainingMining, "C2PA \(t.label) \(why)")
            return
        }
        func info(storedWidth: Int, storedHeight: Int) -> ImageInfo {
            var i = ImageInfo(
                originalFormat: header.format.rawValue, originalWidth: w, originalHeight: h, storedWidth: storedWidth,
                storedHeight: storedHeight)
            i.exifOrientation = meta.orientation
            i.dataMining = meta.dataMining
            i.hasC2PA = meta.hasC2PA
            i.c2paTraining = meta.c2paSummary
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
        // Reserve what the decode will take from the run's budget: wait for it, or decode a JPEG at a smaller DCT
        // scale when even the whole budget is too little, or give up on the image.
        var jpegScale =
            header.format == .jpeg
            ? Resizer.jpegScaleDenominator(
                width: w, height: h, size: settings.imageSize, mode: settings.resizeMode,
                filter: settings.downscaleFilter) : 1
        var needed = bytesNeeded(bytes, format: header.format, width: w, height: h, jpegScale: jpegScale)
        while needed > budget.capacity && header.format == .jpeg && jpegScale < 8 {
            jpegScale *= 2
            needed = bytesNeeded(bytes, format: header.format, width: w, height: h, jpegScale: jpegScale)
        }
        guard budget.reserve(needed) else {
            sample.drop(
                .tooManyPixelsForBudget,
                "\(w)x\(h) \(header.format.rawValue) needs \(needed >> 20) MiB to decode and process; "
                    + "image.decode_memory_mb is \(budget.capacity >> 20)")
            return
        }
        defer { budget.release(needed) }
        do {
            var image: RGBImage
            switch header.format {
            case .jpeg:
                let (decoded, warnings) = try Codec.decodeJPEGCountingWarnings(
                    bytes, scaleDenominator: jpegScale, size: (w, h))
                if warnings > 0 && !settings.allowTruncated {
                    sample.drop(.truncatedImage, "JPEG with corrupt or missing data (\(warnings) libjpeg warnings)")
                    return
                }
                image = decoded
            case .png:
                image = try Codec.decodePNG(bytes)
            case .webp:
                image = try Codec.decodeWebP(bytes)
            case .gif:
                image = try Codec.decodeGIF(bytes, maxPixels: settings.maxPixels)
            case .avif:
                image = try Codec.decodeAVIF(bytes, maxPixels: settings.maxPixels)
            case .jxl:
                image = try Codec.decodeJXL(bytes, maxPixels: settings.maxPixels)
            }
            // Assigned over the decoded image, so that the two are never held together longer than the turn takes.
            if settings.applyOrientation { image = Resizer.orient(image, meta.orientation) }
            let upright = image
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
            if settings.pdq, let inner = PDQ.borderWindow(upright) {
                sample.image?.pdqTrimmed = PDQ.hashWithMirror(upright, window: inner).hash.hex
            }
            sample.original = nil
        } catch {
            sample.drop(error.code, error.message)
        }
    }
}
