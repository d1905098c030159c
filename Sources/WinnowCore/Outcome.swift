/// Why a sample was dropped: a stable machine-readable code and a human detail.
public struct Reason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Stable code, e.g. `http_404`, `caption_too_short`, `duplicate_sha256`: one of `ReasonCode`'s.
    public private(set) var code: String
    /// Human-readable detail (the URL, the error text...).
    public var detail: String

    /// Creates a reason from the closed vocabulary.
    public init(_ code: ReasonCode, _ detail: String = "") {
        self.code = code.rawValue
        self.detail = detail
    }

    /// The same reason with another detail.
    public func with(detail: String) -> Reason {
        var r = self
        r.detail = detail
        return r
    }

    /// The vocabulary's entry for the code (nil for a code stored by another version).
    public var kind: ReasonCode? { ReasonCode.lookup(code) }

    public var description: String { detail.isEmpty ? code : "\(code): \(detail)" }
}

/// The one outcome each candidate gets.
public enum Outcome: Sendable, Equatable {
    case kept
    case dropped(Reason)

    /// `kept` or `dropped`.
    public var status: String {
        switch self {
        case .kept: return "kept"
        case .dropped: return "dropped"
        }
    }

    /// The drop reason, if any.
    public var reason: Reason? {
        if case .dropped(let r) = self { return r }
        return nil
    }
}

/// What the fetch stage learned about a download.
public struct FetchInfo: Sendable, Equatable {
    /// HTTP status of the last response (0 when none came).
    public var httpStatus: Int
    /// `Content-Type` of the response.
    public var contentType: String?
    /// URL after redirects.
    public var finalURL: String?
    /// Number of attempts made.
    public var attempts: Int
    /// HTTP version of the last response (`1.0`, `1.1`, `2`, `3`), nil when none came.
    public var httpVersion: String?

    /// Creates fetch information.
    public init(httpStatus: Int, contentType: String?, finalURL: String?, attempts: Int, httpVersion: String? = nil) {
        self.httpStatus = httpStatus
        self.contentType = contentType
        self.finalURL = finalURL
        self.attempts = attempts
        self.httpVersion = httpVersion
    }
}

/// What the image stage learned and produced.
public struct ImageInfo: Sendable, Equatable {
    /// Format of the downloaded bytes (`jpeg`, `png`).
    public var originalFormat: String
    /// Width of the downloaded image.
    public var originalWidth: Int
    /// Height of the downloaded image.
    public var originalHeight: Int
    /// Width of the stored image.
    public var storedWidth: Int
    /// Height of the stored image.
    public var storedHeight: Int
    /// EXIF orientation of the original (1-8); stored images are turned upright.
    public var exifOrientation = 1
    /// The IPTC `plus:DataMining` value in the image's XMP, if any.
    public var dataMining: String?
    /// The image carries a C2PA manifest.
    public var hasC2PA = false
    /// What the C2PA manifest's training-and-data-mining assertion says, e.g. `cawg.training-mining:
    /// cawg.ai_training=allowed, cawg.data_mining=allowed`, or `unreadable: WHY`; nil without one.
    public var c2paTraining: String?
    /// PDQ perceptual hash of the decoded, upright image (64 hex digits), and its quality (0-100; below 50 the hash
    /// is not to be trusted).
    public var pdq: String?
    /// PDQ quality.
    public var pdqQuality: Int?
    /// PDQ of the image inside a uniform border (frame, letterbox, padding), when it has one: what dedup also
    /// matches, since a border moves the whole-image hash far.
    public var pdqTrimmed: String?
    /// PDQ of the left-right mirror image (not stored: dedup also matches mirrored copies with it).
    public var pdqMirrored: String?

    /// Creates image information.
    public init(originalFormat: String, originalWidth: Int, originalHeight: Int, storedWidth: Int, storedHeight: Int) {
        self.originalFormat = originalFormat
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
        self.storedWidth = storedWidth
        self.storedHeight = storedHeight
    }
}

/// A candidate on its way through the pipeline, with what each stage added. Every candidate becomes exactly one
/// `Sample`, kept or dropped, so the index has one row per candidate.
public struct Sample: Sendable {
    /// The candidate.
    public var candidate: Candidate
    /// Kept so far, or dropped with the reason; later stages pass dropped samples through untouched.
    public var outcome: Outcome = .kept
    /// Downloaded bytes (released once the image stage is done with them).
    public var original: [UInt8]?
    /// Size of the downloaded bytes.
    public var originalSize: Int = 0
    /// SHA-256 of the downloaded bytes, hex.
    public var sha256: String?
    /// MD5 of the downloaded bytes, hex (removal hash lists are often MD5).
    public var md5: String?
    /// SHA-1 of the downloaded bytes, hex.
    public var sha1: String?
    /// Fetch information.
    public var fetch: FetchInfo?
    /// Image information.
    public var image: ImageInfo?
    /// The bytes to store in the shard.
    public var stored: [UInt8]?
    /// Extension of the stored image (`jpg`, `png`).
    public var storedExtension: String = "jpg"
    /// For duplicates: the key of the kept sample this one duplicates.
    public var duplicateOf: String?
    /// Cosine similarity of the image's and the caption's CLIP embeddings, when the embed stage ran.
    public var similarity: Float?
    /// The image's unit-length CLIP embedding (kept samples, when the embed stage ran).
    public var imageEmbedding: [Float]?
    /// The caption's unit-length CLIP embedding (kept samples, when the embed stage ran).
    public var textEmbedding: [Float]?

    /// The candidate's position in the run's input (0, 1, 2...: the order the inputs are read in): the writer
    /// commits in this order, which makes duplicate choices and resuming independent of download timing.
    public var seq = 0

    /// Starts a sample for a candidate.
    public init(candidate: Candidate, seq: Int = 0) {
        self.candidate = candidate
        self.seq = seq
    }

    /// True while no stage has dropped the sample.
    public var isKept: Bool { outcome == .kept }

    /// Drops the sample with a reason (the first drop wins).
    public mutating func drop(_ code: ReasonCode, _ detail: String = "") { drop(Reason(code, detail)) }

    /// Drops the sample with a reason (the first drop wins).
    public mutating func drop(_ reason: Reason) {
        if isKept {
            outcome = .dropped(reason)
            original = nil
            stored = nil
            imageEmbedding = nil
            textEmbedding = nil
        }
    }
}
