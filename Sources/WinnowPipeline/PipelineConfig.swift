import Foundation
import WinnowCore
import WinnowCrawl
import WinnowEmbed
import WinnowFetch
import WinnowImage

/// A pipeline configuration (pipelines/*.json, schema in schemas/pipeline.schema.json): the settings of each stage.
public struct PipelineConfig: Sendable {
    /// Name of the pipeline.
    public var name = "default"
    /// Parse stage settings.
    public var parse = CandidateFilterSettings()
    /// Use `title` as caption when `alt` is empty.
    public var titleFallback = false
    /// How URL lists are read (format, URL and caption columns).
    public var lists = URLListOptions()
    /// Fetch stage settings.
    public var fetch = FetchSettings()
    /// How inputs named by http(s) URLs are transferred (pipeline `input.stall_seconds` ...).
    public var inputTransfer = InputTransfer()
    /// Image stage settings.
    public var image = ImageSettings()
    /// Duplicate removal: identical bytes, PDQ near-duplicates, other outputs to dedup against.
    public var dedup = DedupSettings()
    /// Samples per tar shard.
    public var samplesPerShard = 1000
    /// Whether each shard gets its `NNNNN.parquet` of sample metadata.
    public var writeParquet = true
    /// Image worker threads (0: one per core).
    public var imageWorkers = 0
    /// Embed stage settings (off unless a model is named).
    public var embed = EmbedSettings()
    /// The opt-out registry to consult: nil means the default one, when it exists.
    public var optOutRegistry: String?
    /// Whether to consult a registry at all.
    public var optOutEnabled = true

    /// Defaults.
    public init() {}

    /// Settings that change how fast a run goes, not what it produces: a run may be resumed with other values.
    static let speedOnlySettings: Set<String> = [
        "image_workers", "embed.threads", "embed.batch_size", "fetch.concurrency", "image.decode_memory_mb",
        "fetch.origins_in_memory", "input_transfer.stall_seconds", "input_transfer.retries",
        "input_transfer.backoff_seconds", "input_transfer.deadline_seconds",
    ]

    /// How remote inputs are read: the input section's transfer settings, with the fetch stage's user agent,
    /// address guard openings, CONNECT_TO mappings and CA bundle.
    public var remoteSettings: RemoteSettings {
        var r = RemoteSettings()
        r.userAgent = fetch.userAgent
        r.allowedRanges = fetch.allowedRanges
        r.connectTo = fetch.connectTo
        r.caFile = fetch.caFile
        r.stallSeconds = inputTransfer.stallSeconds
        r.retries = inputTransfer.retries
        r.backoffSeconds = inputTransfer.backoffSeconds
        r.deadlineSeconds = inputTransfer.deadlineSeconds
        return r
    }

    /// Every setting that decides what a run produces, by its path (`fetch.timeout_seconds`), with its value: what an
    /// output directory's manifest records, so that a resume with other settings is refused naming what differs.
    public var manifestSettings: [String: String] {
        var out: [String: String] = [:]
        PipelineConfig.flatten(self, prefix: "", into: &out)
        return out.filter { !PipelineConfig.speedOnlySettings.contains($0.key) }
    }

    private static func flatten(_ value: Any, prefix: String, into out: inout [String: String]) {
        let m = Mirror(reflecting: value)
        let structured = (m.displayStyle == .struct || m.displayStyle == .class) && !m.children.isEmpty
        guard structured else {
            out[prefix] = describe(value)
            return
        }
        for child in m.children {
            guard let label = child.label else { continue }
            let name = snakeCase(label)
            flatten(child.value, prefix: prefix.isEmpty ? name : prefix + "." + name, into: &out)
        }
    }

    /// `timeoutSeconds` as `timeout_seconds`, `decodeMemoryMB` as `decode_memory_mb`: the pipeline files' style.
    static func snakeCase(_ name: String) -> String {
        var out = ""
        let chars = Array(name)
        for (i, c) in chars.enumerated() {
            if c.isUppercase && i > 0 && (chars[i - 1].isLowercase || (i + 1 < chars.count && chars[i + 1].isLowercase))
            {
                out.append("_")
            }
            out.append(Character(c.lowercased()))
        }
        return out
    }

    /// A value as text; sets sorted, so that the same settings always read the same.
    private static func describe(_ value: Any) -> String {
        let m = Mirror(reflecting: value)
        switch m.displayStyle {
        case .set: return "[" + m.children.map { describe($0.value) }.sorted().joined(separator: ", ") + "]"
        case .collection: return "[" + m.children.map { describe($0.value) }.joined(separator: ", ") + "]"
        case .optional: return m.children.first.map { describe($0.value) } ?? "nil"
        default: return String(describing: value)
        }
    }

    /// Loads and validates a config file; errors name the file and the offending field.
    public static func load(path: String) throws -> PipelineConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WinnowError(.config, "\(path): cannot read pipeline config")
        }
        // Strict first: Foundation's reader takes a trailing comma or a key given twice without a word.
        do {
            try StrictJSON.validate([UInt8](data))
        } catch {
            throw WinnowError(.config, "\(path):\(error.line):\(error.column): not valid JSON: \(error.message)")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw WinnowError(.config, "\(path): not valid JSON: \(error.localizedDescription)")
        }
        guard let root = json as? [String: Any] else { throw WinnowError(.config, "\(path): expected a JSON object") }
        return try PipelineConfig(json: root, file: path)
    }

    /// Builds a config from parsed JSON.
    public init(json root: [String: Any], file: String) throws {
        let r = ConfigReader(file: file, path: "", object: root)
        try r.allow([
            "$schema", "name", "description", "input", "parse", "fetch", "image", "embed", "dedup", "write", "optout",
        ])
        name = try r.string("name") ?? name
        if let i = try r.section("input") {
            try i.allow([
                "format", "url_col", "caption_col", "save_additional_columns", "stall_seconds", "retries",
                "backoff_seconds", "deadline_seconds",
            ])
            inputTransfer.stallSeconds = try i.number("stall_seconds", min: 0.1) ?? inputTransfer.stallSeconds
            inputTransfer.retries = try i.int("retries", min: 0) ?? inputTransfer.retries
            inputTransfer.backoffSeconds = try i.number("backoff_seconds", min: 0) ?? inputTransfer.backoffSeconds
            inputTransfer.deadlineSeconds = try i.number("deadline_seconds", min: 0) ?? inputTransfer.deadlineSeconds
            if let f = try i.string("format") {
                guard URLListOptions.formats.contains(f) else {
                    throw WinnowError(
                        .config,
                        "\(file): input.format: \(f.debugDescription) is not one of txt, csv, tsv, jsonl, parquet")
                }
                lists.format = f
            }
            lists.urlColumn = try i.string("url_col") ?? lists.urlColumn
            lists.captionColumn = try i.string("caption_col") ?? lists.captionColumn
            lists.saveColumns = try i.strings("save_additional_columns") ?? lists.saveColumns
        }
        if let p = try r.section("parse") {
            try p.allow([
                "min_caption_length", "max_url_length", "drop_extensions", "honour_page_optouts", "dedup_url_caption",
                "title_fallback",
            ])
            if let n = try p.int("min_caption_length", min: 0) {
                parse.minCaptionLength = n
                parse.captionLengthForLists = true  // asked for: URL lists' captions are checked too
            }
            parse.maxURLLength = try p.int("max_url_length", min: 1) ?? parse.maxURLLength
            if let e = try p.strings("drop_extensions") { parse.dropExtensions = Set(e.map { $0.lowercased() }) }
            parse.honourPageOptOuts = try p.bool("honour_page_optouts") ?? parse.honourPageOptOuts
            parse.dedupURLCaption = try p.bool("dedup_url_caption") ?? parse.dedupURLCaption
            titleFallback = try p.bool("title_fallback") ?? titleFallback
        }
        if let f = try r.section("fetch") {
            try f.allow([
                "concurrency", "per_host_concurrency", "timeout", "connect_timeout", "max_bytes", "max_redirects",
                "retries",
                "user_agent", "ca_file", "dns_cache_timeout", "allow_ranges", "honour_robots_txt", "robots_tokens",
                "honour_header_optouts", "spawning", "spawning_url", "spawning_batch",
                "x_robots_tag_values", "per_host_min_interval", "circuit_breaker_failures", "max_retry_after",
                "honour_tdmrep", "honour_ai_txt", "policy_cache", "circuit_breaker_cooldown", "policy_retry_interval",
                "max_header_bytes",
            ])
            fetch.concurrency = try f.int("concurrency", min: 1) ?? fetch.concurrency
            fetch.perHostConcurrency = try f.int("per_host_concurrency", min: 1) ?? fetch.perHostConcurrency
            fetch.timeoutSeconds = try f.number("timeout", min: 0.1) ?? fetch.timeoutSeconds
            fetch.connectTimeoutSeconds = try f.number("connect_timeout", min: 0.1) ?? fetch.connectTimeoutSeconds
            fetch.maxBytes = try f.int("max_bytes", min: 1) ?? fetch.maxBytes
            fetch.maxRedirects = try f.int("max_redirects", min: 0) ?? fetch.maxRedirects
            fetch.retries = try f.int("retries", min: 0) ?? fetch.retries
            fetch.userAgent = try f.string("user_agent") ?? fetch.userAgent
            fetch.caFile = try f.string("ca_file") ?? fetch.caFile
            fetch.dnsCacheSeconds = try f.int("dns_cache_timeout", min: 0) ?? fetch.dnsCacheSeconds
            fetch.honourRobotsTxt = try f.bool("honour_robots_txt") ?? fetch.honourRobotsTxt
            fetch.honourTDMRep = try f.bool("honour_tdmrep") ?? fetch.honourTDMRep
            fetch.policyCachePath = try f.string("policy_cache") ?? fetch.policyCachePath
            fetch.honourAiTxt = try f.bool("honour_ai_txt") ?? fetch.honourAiTxt
            fetch.perHostMinInterval = try f.number("per_host_min_interval", min: 0) ?? fetch.perHostMinInterval
            fetch.circuitBreakerFailures = try f.int("circuit_breaker_failures", min: 1) ?? fetch.circuitBreakerFailures
            fetch.circuitBreakerCooldown =
                try f.number("circuit_breaker_cooldown", min: 0) ?? fetch.circuitBreakerCooldown
            fetch.policyRetrySeconds = try f.number("policy_retry_interval", min: 0) ?? fetch.policyRetrySeconds
            fetch.maxHeaderBytes = try f.int("max_header_bytes", min: 1024) ?? fetch.maxHeaderBytes
            fetch.maxRetryAfter = try f.number("max_retry_after", min: 0) ?? fetch.maxRetryAfter
            fetch.robotsTokens = try f.strings("robots_tokens") ?? fetch.robotsTokens
            fetch.honourHeaderOptOuts = try f.bool("honour_header_optouts") ?? fetch.honourHeaderOptOuts
            fetch.spawning = try f.bool("spawning") ?? fetch.spawning
            fetch.spawningURL = try f.string("spawning_url") ?? fetch.spawningURL
            fetch.spawningBatch =
                try f.int("spawning_batch", min: 1, max: SpawningRegistry.maxBatch) ?? fetch.spawningBatch
            if let v = try f.strings("x_robots_tag_values") { fetch.xRobotsTagValues = Set(v.map { $0.lowercased() }) }
            if let ranges = try f.strings("allow_ranges") {
                fetch.allowedRanges = try ranges.map { text in
                    guard let c = CIDR(text) else {
                        throw WinnowError(
                            .config,
                            "\(file): fetch.allow_ranges: \(text.debugDescription) is not an address range like 127.0.0.0/8"
                        )
                    }
                    return c
                }
            }
        }
        if let i = try r.section("image") {
            try i.allow([
                "process", "image_size", "resize_mode", "upscale", "encode_format", "encode_quality", "min_bytes",
                "min_side",
                "max_pixels", "max_aspect_ratio", "workers", "md5_and_sha1", "apply_orientation", "honour_data_mining",
                "honour_c2pa",
                "allow_truncated", "keep_original_if_unchanged", "decode_gif", "pdq", "downscale_interpolation",
                "decode_memory_mb",
            ])
            image.process = try i.bool("process") ?? image.process
            image.imageSize = try i.int("image_size", min: 1) ?? image.imageSize
            if let m = try i.string("resize_mode") {
                guard let mode = ResizeMode(rawValue: m) else {
                    throw WinnowError(
                        .config,
                        "\(file): image.resize_mode: \(m.debugDescription) is not one of \(ResizeMode.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                image.resizeMode = mode
            }
            image.upscale = try i.bool("upscale") ?? image.upscale
            if let f = try i.string("downscale_interpolation") {
                guard let filter = ResampleFilter(rawValue: f) else {
                    throw WinnowError(
                        .config, "\(file): image.downscale_interpolation: \(f.debugDescription) is not area or bicubic")
                }
                image.downscaleFilter = filter
            }
            if let e = try i.string("encode_format") {
                guard e == "jpg" || e == "png" || e == "webp" else {
                    throw WinnowError(
                        .config, "\(file): image.encode_format: \(e.debugDescription) is not jpg, png or webp")
                }
                image.encodeFormat = e
            }
            image.encodeQuality = try i.int("encode_quality", min: 1, max: 100) ?? image.encodeQuality
            image.minBytes = try i.int("min_bytes", min: 0) ?? image.minBytes
            image.minSide = try i.int("min_side", min: 0) ?? image.minSide
            image.maxPixels = try i.int("max_pixels", min: 1) ?? image.maxPixels
            image.decodeMemoryMB = try i.int("decode_memory_mb", min: 1, max: 1 << 30) ?? image.decodeMemoryMB
            image.maxAspectRatio = try i.number("max_aspect_ratio", min: 1) ?? image.maxAspectRatio
            image.md5AndSHA1 = try i.bool("md5_and_sha1") ?? image.md5AndSHA1
            image.applyOrientation = try i.bool("apply_orientation") ?? image.applyOrientation
            image.honourDataMining = try i.bool("honour_data_mining") ?? image.honourDataMining
            image.honourC2PA = try i.bool("honour_c2pa") ?? image.honourC2PA
            image.allowTruncated = try i.bool("allow_truncated") ?? image.allowTruncated
            image.keepOriginalIfUnchanged = try i.bool("keep_original_if_unchanged") ?? image.keepOriginalIfUnchanged
            image.decodeGIF = try i.bool("decode_gif") ?? image.decodeGIF
            image.pdq = try i.bool("pdq") ?? image.pdq
            imageWorkers = try i.int("workers", min: 0) ?? imageWorkers
        }
        if let e = try r.section("embed") {
            try e.allow(["model", "min_similarity", "batch_size", "dtype", "threads", "precision"])
            if let m = try e.string("model") {
                // A relative model path is relative to the pipeline file, so that a pipeline and its model travel
                // together.
                embed.model = relativeToConfig(m, file)
            }
            if let v = e.object["min_similarity"] {
                if !(v is NSNull) {
                    guard let t = try e.number("min_similarity", min: -1), t <= 1 else {
                        throw WinnowError(.config, "\(file): embed.min_similarity: must be between -1 and 1")
                    }
                    embed.minSimilarity = t
                }
            }
            embed.batchSize = try e.int("batch_size", min: 1, max: 4096) ?? embed.batchSize
            embed.threads = try e.int("threads", min: 0) ?? embed.threads
            if let d = try e.string("dtype") {
                guard let t = ["float16": NPY.DType.float16, "float32": .float32][d] else {
                    let hint =
                        d == "int8"
                        ? " (dtype is the stored embeddings' type; for int8 arithmetic set embed.precision to \"int8\")"
                        : ""
                    throw WinnowError(
                        .config, "\(file): embed.dtype: \(d.debugDescription) is not float16 or float32\(hint)")
                }
                embed.dtype = t
            }
            if let p = try e.string("precision") {
                guard let precision = CLIPModel.Precision(rawValue: p) else {
                    throw WinnowError(.config, "\(file): embed.precision: \(p.debugDescription) is not float32 or int8")
                }
                embed.precision = precision
            }
            if embed.model == nil && embed.minSimilarity != nil {
                throw WinnowError(.config, "\(file): embed.min_similarity needs embed.model")
            }
        }
        if let d = try r.section("dedup") {
            try d.allow(["exact", "perceptual", "pdq_threshold", "pdq_min_quality", "match_mirrored", "against"])
            dedup.matchMirrored = try d.bool("match_mirrored") ?? dedup.matchMirrored
            dedup.exact = try d.bool("exact") ?? dedup.exact
            dedup.perceptual = try d.bool("perceptual") ?? dedup.perceptual
            dedup.pdqThreshold = try d.int("pdq_threshold", min: 0, max: 31) ?? dedup.pdqThreshold
            dedup.pdqMinQuality = try d.int("pdq_min_quality", min: 0, max: 100) ?? dedup.pdqMinQuality
            dedup.against = try d.strings("against")?.map { relativeToConfig($0, file) } ?? dedup.against
        }
        if let o = try r.section("optout") {
            try o.allow(["registry", "enabled", "purpose"])
            if let p = try o.string("purpose") {
                guard let purpose = UsagePurpose(rawValue: p) else {
                    throw WinnowError(
                        .config,
                        "\(file): optout.purpose: \(p.debugDescription) is not one of \(UsagePurpose.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                fetch.purpose = purpose
                image.purpose = purpose
            }
            optOutRegistry = try o.string("registry").map { relativeToConfig($0, file) }
            optOutEnabled = try o.bool("enabled") ?? optOutEnabled
        }
        if let w = try r.section("write") {
            try w.allow(["samples_per_shard", "parquet"])
            samplesPerShard = try w.int("samples_per_shard", min: 1) ?? samplesPerShard
            writeParquet = try w.bool("parquet") ?? writeParquet
        }
    }
}

/// Duplicate removal within a run and against other datasets.
public struct DedupSettings: Sendable {
    /// Drop samples whose downloaded bytes equal an earlier sample's (SHA-256).
    public var exact = true
    /// Drop samples whose PDQ hash is within `pdqThreshold` bits of an earlier sample's.
    public var perceptual = true
    /// Hamming radius for PDQ near-duplicates (its authors recommend 31; at most 31).
    public var pdqThreshold = 31
    /// Also match a left-right mirrored copy (through the PDQ of the mirror image).
    public var matchMirrored = true
    /// PDQ hashes below this quality are neither matched nor remembered (its authors: 50).
    public var pdqMinQuality = 50
    /// Winnow outputs or folders of images whose images count as already seen (a dataset built before, or an
    /// evaluation set to keep out: decontamination).
    public var against: [String] = []

    /// Defaults.
    public init() {}
}

/// The embed stage: a CLIP checkpoint directory, and the image-text similarity filter.
public struct EmbedSettings: Sendable {
    /// Hugging Face CLIP checkpoint directory; nil turns the stage off.
    public var model: String?
    /// Samples whose image-caption cosine is below this are dropped (`low_similarity`); nil keeps all.
    public var minSimilarity: Double?
    /// Samples embedded together.
    public var batchSize = 32
    /// Element type of the per-shard `.npy` embedding files.
    public var dtype: NPY.DType = .float16
    /// Threads the model splits a batch over (0: one per core).
    public var threads = 0
    /// The towers' linear layers in float32 or int8 (`CLIPModel.Precision`; the stored embeddings' type is `dtype`).
    public var precision = CLIPModel.Precision.float32

    /// Off.
    public init() {}
}

/// `path` as named in the config `file`: absolute as it is, relative to the file's folder otherwise, with `.` and
/// `..` resolved (pipelines/../models/x is models/x).
func relativeToConfig(_ path: String, _ file: String) -> String {
    let base = (file as NSString).deletingLastPathComponent
    if path.hasPrefix("/") || base.isEmpty { return path }
    var parts: [Substring] = []
    for part in (base + "/" + path).split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == "..", let last = parts.last, last != ".." {
            parts.removeLast()
        } else {
            parts.append(part)
        }
    }
    let joined = parts.joined(separator: "/")
    return base.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
}

/// Typed access to one JSON object of a config, with errors that name the file and the field.
struct ConfigReader {
    let file: String
    let path: String
    let object: [String: Any]

    private func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func fail(_ key: String, _ what: String) -> WinnowError {
        WinnowError(.config, "\(file): \(field(key)): \(what)")
    }

    func allow(_ keys: Set<String>) throws {
        for k in object.keys.sorted() where !keys.contains(k) {
            throw WinnowError(
                .config,
                "\(file): unknown field \(field(k).debugDescription) (known: \(keys.sorted().joined(separator: ", ")))")
        }
    }

    func section(_ key: String) throws -> ConfigReader? {
        guard let v = object[key] else { return nil }
        guard let o = v as? [String: Any] else { throw fail(key, "expected an object") }
        return ConfigReader(file: file, path: field(key), object: o)
    }

    func string(_ key: String) throws -> String? {
        guard let v = object[key] else { return nil }
        guard let s = v as? String else { throw fail(key, "expected a string") }
        return s
    }

    func strings(_ key: String) throws -> [String]? {
        guard let v = object[key] else { return nil }
        guard let a = v as? [String] else { throw fail(key, "expected an array of strings") }
        return a
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = object[key] else { return nil }
        guard let n = v as? NSNumber, isBoolean(n) else { throw fail(key, "expected true or false") }
        return n.boolValue
    }

    func number(_ key: String, min: Double? = nil) throws -> Double? {
        guard let v = object[key] else { return nil }
        guard let n = v as? NSNumber, !isBoolean(n) else { throw fail(key, "expected a number") }
        if let m = min, n.doubleValue < m { throw fail(key, "must be at least \(m), got \(n.doubleValue)") }
        return n.doubleValue
    }

    func int(_ key: String, min: Int? = nil, max: Int? = nil) throws -> Int? {
        guard let d = try number(key) else { return nil }
        guard d == d.rounded(), abs(d) < 1e15 else { throw fail(key, "expected a whole number, got \(d)") }
        let i = Int(d)
        if let m = min, i < m { throw fail(key, "must be at least \(m), got \(i)") }
        if let m = max, i > m { throw fail(key, "must be at most \(m), got \(i)") }
        return i
    }
}

/// JSON `true`/`false` arrive as NSNumber too; only their dynamic type tells them from 1 and 0.
private func isBoolean(_ n: NSNumber) -> Bool {
    let t = String(describing: type(of: n))
    return t.contains("Boolean") || t == "Bool"
}

/// How inputs named by http(s) URLs are transferred: the pipeline's `input` section.
public struct InputTransfer: Sendable {
    /// Seconds without a byte, while the reader waits, before a transfer is dropped and resumed.
    public var stallSeconds = RemoteSettings().stallSeconds
    /// Attempts after the first, for one input.
    public var retries = RemoteSettings().retries
    /// The first wait between attempts, doubled at each (at most two minutes).
    public var backoffSeconds = RemoteSettings().backoffSeconds
    /// Seconds of failed attempts and waits after which an input is given up.
    public var deadlineSeconds = RemoteSettings().deadlineSeconds

    public init() {}
}
