/// The closed vocabulary of why a candidate was dropped: every code a stage can record, with the stage that records
/// it and one line saying what it means (used by `winnow stats`, the docs, and a test that fails when a code is
/// not documented). Codes are constants (`ReasonCode.captionTooShort`), as swift-nio spells its HTTP statuses; an
/// HTTP status is `ReasonCode.http(404)`, of the class `http_4xx`.
public struct ReasonCode: Hashable, Sendable, CustomStringConvertible {
    /// The stage that records a reason, in pipeline order.
    public enum Stage: String, Sendable, CaseIterable, Comparable {
        case parse, optOut = "opt-out", fetch, image, embed, dedup, removal

        public static func < (a: Stage, b: Stage) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!  // ok: both are cases
        }
    }

    /// The code as stored in the index (`caption_too_short`, `http_404`).
    public let rawValue: String
    /// The stage that records it.
    public let stage: Stage
    /// What it means, in one line.
    public let summary: String

    private init(_ rawValue: String, _ stage: Stage, _ summary: String) {
        self.rawValue = rawValue
        self.stage = stage
        self.summary = summary
    }

    public var description: String { rawValue }

    public static func == (a: ReasonCode, b: ReasonCode) -> Bool { a.rawValue == b.rawValue }
    public func hash(into h: inout Hasher) { h.combine(rawValue) }

    // Parse: LAION's candidate filters.
    public static let pageOptout = ReasonCode(
        "page_optout", .parse, "the page carries an opt-out signal (robots noai/noimageai/noindex, tdm-reservation)")
    public static let urlTooLong = ReasonCode("url_too_long", .parse, "the URL is longer than parse.max_url_length")
    public static let captionTooShort = ReasonCode(
        "caption_too_short", .parse, "the caption is shorter than parse.min_caption_length")
    public static let extensionDropped = ReasonCode(
        "extension_dropped", .parse, "the URL's extension is in parse.drop_extensions (svg, gif)")
    public static let duplicateURLCaption = ReasonCode(
        "duplicate_url_caption", .parse, "the same (url, caption) pair came earlier in the input")

    // Opt-outs: the registry, and what the site says before and while the image is fetched.
    public static let optOutRegistry = ReasonCode(
        "opt_out_registry", .optOut, "an entry of the opt-out registry names the URL, domain, key or image")
    public static let robotsTxt = ReasonCode(
        "robots_txt", .optOut, "the site's robots.txt disallows the path for Winnow's tokens")
    public static let robotsUnreachable = ReasonCode(
        "robots_unreachable", .optOut, "robots.txt answered 5xx or 429: complete disallow for a while (RFC 9309)")
    public static let tdmrep = ReasonCode(
        "tdmrep", .optOut, "the site's /.well-known/tdmrep.json reserves text and data mining rights")
    public static let aiTxt = ReasonCode("ai_txt", .optOut, "the site's /ai.txt disallows the path")
    public static let xRobotsTag = ReasonCode(
        "x_robots_tag", .optOut, "the image's X-Robots-Tag header says noai, noimageai, noindex or noimageindex")
    public static let tdmReservation = ReasonCode(
        "tdm_reservation", .optOut, "the image's tdm-reservation: 1 header reserves mining rights")
    public static let contentUsage = ReasonCode(
        "content_usage", .optOut, "the image's Content-Usage header disallows the run's purpose (train-ai=n)")
    public static let spawningRegistry = ReasonCode(
        "spawning_registry", .optOut, "Spawning's Do-Not-Train registry lists the image's URL (fetch.spawning)")
    public static let spawningUnreachable = ReasonCode(
        "spawning_unreachable", .optOut,
        "Spawning's registry could not be asked about the URL, so it was not downloaded (transient: --retry)")
    public static let robotsContentUsage = ReasonCode(
        "robots_content_usage", .optOut,
        "a Content-Usage rule of the site's robots.txt disallows the run's purpose for the path (train-ai=n)")
    public static let contentSignal = ReasonCode(
        "content_signal", .optOut,
        "a Content-Signal line of the site's robots.txt disallows the run's purpose (ai-train=no)")
    public static let xmpDataMining = ReasonCode(
        "xmp_data_mining", .optOut, "the image's XMP plus:DataMining prohibits AI training")
    public static let c2paTrainingMining = ReasonCode(
        "c2pa_training_mining", .optOut,
        "the image's C2PA manifest says notAllowed or constrained to the run's purpose (cawg.training-mining)")

    // Fetch.
    public static let addressRefused = ReasonCode(
        "address_refused", .fetch, "the host resolves to a private, loopback or reserved address (see allow_ranges)")
    public static let urlInvalid = ReasonCode("url_invalid", .fetch, "the URL cannot be parsed")
    public static let badScheme = ReasonCode("bad_scheme", .fetch, "not an http or https URL")
    public static let redirectInvalid = ReasonCode(
        "redirect_invalid", .fetch, "a redirect's Location is missing or not an http(s) URL")
    public static let tooManyRedirects = ReasonCode(
        "too_many_redirects", .fetch, "more redirects than fetch.max_redirects")
    public static let dns = ReasonCode("dns", .fetch, "the host name does not resolve")
    public static let connect = ReasonCode("connect", .fetch, "the server refused or did not accept the connection")
    public static let timeout = ReasonCode("timeout", .fetch, "no complete answer within fetch.timeout")
    public static let connectionReset = ReasonCode("connection_reset", .fetch, "the connection broke mid-transfer")
    public static let truncated = ReasonCode("truncated", .fetch, "the body ended before its Content-Length")
    public static let tls = ReasonCode("tls", .fetch, "TLS failed (certificate or handshake)")
    public static let network = ReasonCode("network", .fetch, "another transport error")
    public static let headersTooLarge = ReasonCode(
        "headers_too_large", .fetch, "the response headers exceed fetch.max_header_bytes or 1,000 lines")
    public static let tooLarge = ReasonCode("too_large", .fetch, "the body exceeds fetch.max_bytes")
    public static let contentType = ReasonCode(
        "content_type", .fetch, "the server says the body is not an image (HTML, text...)")
    public static let hostCircuitOpen = ReasonCode(
        "host_circuit_open", .fetch, "the origin failed repeatedly and its circuit breaker is open")
    public static let fetchSetup = ReasonCode("fetch_setup", .fetch, "libcurl could not be set up for the transfer")
    /// HTTP answers other than 2xx, by class (the stored code is the status itself: `http_404`).
    public static let http4xx = ReasonCode("http_4xx", .fetch, "the server answered 4xx (http_404, http_403, ...)")
    public static let http5xx = ReasonCode("http_5xx", .fetch, "the server answered 5xx (http_500, http_503, ...)")

    /// The code of an HTTP status that is not a success (`http_404`), in its class's stage and meaning.
    public static func http(_ status: Int) -> ReasonCode {
        let cls = status >= 500 ? http5xx : http4xx
        return ReasonCode("http_\(status)", .fetch, cls.summary)
    }

    // Image.
    public static let fileTooSmall = ReasonCode("file_too_small", .image, "fewer bytes than image.min_bytes")
    public static let notImage = ReasonCode("not_image", .image, "the bytes are not an image format Winnow knows")
    public static let unsupportedFormat = ReasonCode(
        "unsupported_format", .image, "an image format that is not decoded (GIF unless image.decode_gif, SVG...)")
    public static let decodeError = ReasonCode("decode_error", .image, "the image does not decode")
    public static let truncatedImage = ReasonCode(
        "truncated_image", .image, "the image's data ends early (kept only with image.allow_truncated)")
    public static let tooManyPixels = ReasonCode("too_many_pixels", .image, "more pixels than image.max_pixels")
    public static let tooManyPixelsForBudget = ReasonCode(
        "too_many_pixels_for_budget", .image, "decoding would need more than image.decode_memory_mb")
    public static let imageTooSmall = ReasonCode(
        "image_too_small", .image, "the shorter side is below image.min_side")
    public static let aspectRatio = ReasonCode(
        "aspect_ratio", .image, "the aspect ratio is beyond image.max_aspect_ratio")
    public static let encodeError = ReasonCode("encode_error", .image, "the resized image could not be encoded")

    // Embed.
    public static let lowSimilarity = ReasonCode(
        "low_similarity", .embed, "the CLIP image-caption similarity is below embed.min_similarity")
    public static let embedError = ReasonCode("embed_error", .embed, "the stored image could not be embedded")

    // Dedup.
    public static let duplicateSHA256 = ReasonCode(
        "duplicate_sha256", .dedup, "the same bytes as a sample kept before (duplicate_of names it)")
    public static let nearDuplicatePDQ = ReasonCode(
        "near_duplicate_pdq", .dedup, "a PDQ near-duplicate of a sample kept before (duplicate_of names it)")

    // Removal after the run.
    public static let optOutRemoved = ReasonCode(
        "opt_out_removed", .removal,
        "removed from the written shards by 'winnow optout apply' (removed_by names the request)")

    /// Every code (HTTP statuses as their two classes).
    public static let all: [ReasonCode] = [
        pageOptout, urlTooLong, captionTooShort, extensionDropped, duplicateURLCaption, optOutRegistry, robotsTxt,
        robotsContentUsage, contentSignal, spawningRegistry, spawningUnreachable,
        robotsUnreachable, tdmrep, aiTxt, xRobotsTag, tdmReservation, contentUsage, xmpDataMining, c2paTrainingMining,
        addressRefused,
        urlInvalid, badScheme, redirectInvalid, tooManyRedirects, dns, connect, timeout, connectionReset, truncated,
        tls, network, headersTooLarge, tooLarge, contentType, hostCircuitOpen, fetchSetup, http4xx, http5xx,
        fileTooSmall, notImage, unsupportedFormat, decodeError, truncatedImage, tooManyPixels, tooManyPixelsForBudget,
        imageTooSmall, aspectRatio, encodeError, lowSimilarity, embedError, duplicateSHA256, nearDuplicatePDQ,
        optOutRemoved,
    ]

    private static let byCode = Dictionary(uniqueKeysWithValues: all.map { ($0.rawValue, $0) })

    /// The vocabulary's entry for a stored code (`http_404` is `http(404)`), or nil for a code it does not know (an
    /// index written by another version).
    public static func lookup(_ code: String) -> ReasonCode? {
        if let c = byCode[code] { return c }
        if code.hasPrefix("http_"), let status = Int(code.dropFirst(5)), (400...599).contains(status) {
            return http(status)
        }
        return nil
    }
}
