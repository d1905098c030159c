import Foundation
import WinnowCore
import WinnowShards

/// The EU AI Office's template for the public summary of training content (Article 53(1)(d) AI Act), filled
/// where the index knows the answer (`source: index`), described from Winnow's own behaviour (`source: winnow`),
/// and left blank for the model provider otherwise (`source: provider`, `value: null`) unless `--provider FILE`
/// gives the answer. The layout and every key are those of schemas/ai-act-summary.schema.json; docs/ai-act-summary.md
/// says where each answer comes from.
extension Report {
    static let templateName =
        "Template for the Public Summary of Training Content for general-purpose AI models (Article 53(1)(d) AI Act), annex to Commission explanatory notice C(2025) 5235 final of 24 July 2025"

    /// A template item: `value` with where it came from.
    private func field(_ value: Any?, _ source: String, note: String? = nil) -> [String: Any] {
        var o: [String: Any] = ["value": value ?? NSNull(), "source": source]
        if let note { o["note"] = note }
        return o
    }

    /// An item only the provider can answer: its answer from `--provider FILE` under `key`, else a blank.
    private func provider(_ key: String, note: String? = nil) -> [String: Any] {
        if let v = options.provider[key], !(v is NSNull) { return field(v, "provider", note: note) }
        return field(nil, "provider", note: note)
    }

    private func sizeRange(images n: Int) -> String {
        n < 1_000_000
            ? "Less than 1 million images"
            : n <= 1_000_000_000 ? "1 million to 1 billion images" : "More than 1 billion images"
    }

    /// The captions' UTF-8 bytes are not in the figures; their characters are (caption lengths): an upper bound on
    /// tokens for a byte-level tokenizer is their bytes, and characters times 4 bounds those.
    private var captionCharacters: Int { figures.captionLengths.reduce(0) { $0 + $1.key * $1.value } }

    private func tokenRange(_ upperBound: Int) -> String {
        upperBound < 1_000_000_000 ? "Less than 1 billion tokens" : "1 billion to 10 trillion tokens"
    }

    /// Protocol names and where they are checked, by reason code.
    static let protocols: [(code: String, protocol: String, where: String)] = [
        ("page_optout", "meta robots noai/noimageai/noindex, tdm-reservation meta", "the linking page, at parse"),
        ("robots_txt", "robots.txt (RFC 9309) for the tokens in 2.3", "origin /robots.txt, before download"),
        (
            "robots_unreachable", "robots.txt unreachable: complete disallow (RFC 9309)",
            "origin /robots.txt, before download"
        ),
        (
            "robots_content_usage", "robots.txt Content-Usage (IETF AI Preferences)",
            "origin /robots.txt, before download"
        ),
        ("content_signal", "robots.txt Content-Signal (Content Signals Policy)", "origin /robots.txt, before download"),
        ("tdmrep", "TDMRep (W3C)", "origin /.well-known/tdmrep.json, before download"),
        ("ai_txt", "ai.txt (Spawning)", "origin /ai.txt, before download"),
        ("x_robots_tag", "X-Robots-Tag noai/noimageai/noindex/noimageindex", "image response header"),
        ("tdm_reservation", "tdm-reservation: 1 (TDMRep)", "image response header"),
        ("content_usage", "Content-Usage (IETF AI Preferences)", "image response header"),
        ("xmp_data_mining", "IPTC/XMP plus:DataMining", "the image file"),
        (
            "c2pa_training_mining", "C2PA/CAWG training-and-data-mining assertion",
            "the image file's active C2PA manifest"
        ),
        ("spawning_registry", "Spawning Do-Not-Train registry", "Spawning's API, before download"),
        (
            "spawning_unreachable", "Spawning Do-Not-Train registry unreachable: not downloaded",
            "Spawning's API, before download"
        ),
        ("opt_out_registry", "Winnow opt-out registry (URL, prefix, domain, key, hashes)", "before download"),
    ]

    /// ai-act-summary.json.
    public func aiActSummary() -> [String: Any] {
        let f = figures
        let fromCommonCrawl = !crawls.isEmpty
        let crawler = self.crawler
        let contentTypes = f.contentTypes.keys.sorted().map {
            [
                "content_type": $0, "samples": f.contentTypes[$0]?.kept ?? 0,
                "bytes": f.contentTypes[$0]?.keptOriginalBytes ?? 0,
            ]
                as [String: Any]
        }
        let ai = aiActDomains
        let none = "This dataset contributes none."
        // Section 1.
        let textBound = captionCharacters * 4
        let modalities: [String: Any] = [
            "text": [
                "size": field(
                    [
                        "present": f.kept > 0, "count": NSNull(), "unit": "tokens",
                        "size_range": f.kept > 0 ? tokenRange(textBound) : NSNull(),
                        "alternative_size":
                            "\(Words.grouped(f.kept)) captions, \(Words.grouped(captionCharacters)) characters",
                    ] as [String: Any], "index",
                    note:
                        "Winnow does not tokenize; the range follows from the captions' characters (at most 4 UTF-8 bytes each, at most one token per byte for a byte-level tokenizer). The provider adds the text of its other training data."
                ),
                "types_of_content": field(
                    f.kept > 0 ? "Alt text and captions of images on public web pages" : nil, "winnow"),
            ],
            "image": [
                "size": field(
                    [
                        "present": f.kept > 0, "count": f.kept, "unit": "images",
                        "size_range": f.kept > 0 ? sizeRange(images: f.kept) : NSNull(),
                    ] as [String: Any], "index", note: "Kept samples of this dataset."),
                "types_of_content": field(
                    f.kept > 0
                        ? "Images linked from public web pages: " + f.contentTypes.keys.sorted().joined(separator: ", ")
                        : nil,
                    "winnow",
                    note:
                        "Winnow does not classify images (photographs, artworks, diagrams...); the provider may refine."
                ),
            ],
            "audio": [
                "size": field(
                    ["present": false, "count": NSNull(), "unit": "hours", "size_range": NSNull()] as [String: Any],
                    "index", note: "None in this dataset."),
                "types_of_content": provider("audio_types_of_content"),
            ],
            "video": [
                "size": field(
                    ["present": false, "count": NSNull(), "unit": "hours", "size_range": NSNull()] as [String: Any],
                    "index", note: "None in this dataset."),
                "types_of_content": provider("video_types_of_content"),
            ],
            "other": [
                "name": provider("other_modality_name"),
                "size": field(
                    ["present": false, "count": NSNull(), "size_range": NSNull()] as [String: Any], "index",
                    note: "None in this dataset."),
                "types_of_content": provider("other_types_of_content"),
            ],
        ]
        let section1: [String: Any] = [
            "1_1_provider": [
                "a_provider_name_and_contact": provider("provider_name_and_contact"),
                "b_authorised_representative": provider(
                    "authorised_representative", note: "Only for providers established outside the Union (Article 54)."),
            ],
            "1_2_model": [
                "a_versioned_model_names": provider("versioned_model_names"),
                "b_model_dependencies": provider("model_dependencies"),
                "c_date_placed_on_market": provider("date_placed_on_market"),
            ],
            "1_3_modalities_size_characteristics": [
                "a_modalities": modalities,
                "b_latest_acquisition_date": field(
                    f.runPeriod?.upperBound, "index",
                    note: "When the last run finished (run property finished); every image was downloaded before it."),
                "c_continuous_training": provider("continuous_training"),
                "d_linguistic_characteristics": provider(
                    "linguistic_characteristics", note: "Winnow does not identify caption languages."),
                "e_other_characteristics": provider("other_characteristics"),
                "f_additional_comments": provider("section_1_comments"),
            ],
        ]
        // Section 2.
        let inputs = f.runs.flatMap { ($0["inputs"] ?? "").split(separator: "\n").map(String.init) }
        let publicSets: [[String: Any]] = crawls.map { c in
            [
                "name": "Common Crawl \(c)", "link": "https://data.commoncrawl.org/crawl-data/\(c)/index.html",
                "description":
                    "\(Words.count(inputs.filter { $0.contains(c) }.count, "input file")); \(Words.grouped(f.candidates)) candidate image links (URL and alt text) "
                    + (f.pageDates.map { "from pages captured \($0.lowerBound) to \($0.upperBound), " } ?? "")
                    + "\(Words.grouped(f.kept)) kept",
            ]
        }
        var names: [[String: Any]] = []
        if let ua = crawler["user_agent"] as? String { names.append(["identifier": ua, "kind": "user_agent"]) }
        for t in crawler["robots_tokens"] as? [String] ?? [] {
            names.append(["identifier": t, "kind": "robots_token"])
        }
        var politeness: [String: Any] = [:]
        for k in ["per_host_concurrency", "per_host_min_interval_seconds", "retries", "timeout_seconds", "max_bytes"] {
            if let v = crawler[k] { politeness[k] = v }
        }
        let behaviour: [String: Any]? =
            crawler.isEmpty
            ? nil
            : [
                "description":
                    "Downloads only the image URLs found in its inputs; asks each origin's robots.txt, /.well-known/tdmrep.json and /ai.txt before its first download there, and skips what they reserve (an unreachable robots.txt means complete disallow); checks every redirect hop the same way before requesting it; stops a download whose response headers reserve it; reads the opt-out metadata inside each file; refuses private and reserved addresses; keeps per-host concurrency limits, honours Retry-After and backs off on errors. It does not log in, solve captchas or get past paywalls.",
                "opt_outs_honoured": crawler["signals_honoured"] as? [String] ?? [],
                "politeness": politeness,
            ]
        let crawled: [String: Any] = [
            "used": field(f.fetched > 0, "index", note: "Winnow downloaded the images itself (winnow run)."),
            "a_crawler_names": field(
                names.isEmpty ? nil : names, names.isEmpty ? "provider" : "index",
                note: names.isEmpty ? "The runs recorded no crawler settings (made by an older winnow)." : nil),
            "b_purposes": provider(
                "crawler_purposes",
                note: "The runs declared the AI Preferences purpose "
                    + ((crawler["purpose"] as? String) ?? "train-ai")
                    + " (optout.purpose); the provider states what the crawl was for."),
            "c_behaviour": field(
                behaviour, behaviour == nil ? "provider" : "winnow",
                note: behaviour == nil
                    ? "The runs recorded no crawler settings (made by an older winnow)."
                    : "Composed from the runs' settings (run property crawler)."),
            "d_collection_period": field(
                ["from": f.runPeriod?.lowerBound ?? NSNull(), "to": f.runPeriod?.upperBound ?? NSNull()]
                    as [String: Any],
                "index",
                note: "Run properties started and finished."
                    + (f.pageDates.map {
                        " The pages that linked the images were captured from \($0.lowerBound) to \($0.upperBound)."
                    } ?? "")),
            "e_content_and_sources": field(
                [
                    "description":
                        "Images linked from public web pages"
                        + (fromCommonCrawl ? " in Common Crawl " + crawls.joined(separator: ", ") : "")
                        + ", downloaded from their own servers; \(Words.count(ai.total, "registrable domain")) with kept samples.",
                    "content_types": contentTypes,
                ] as [String: Any], "index", note: "Content-Type of kept samples; bytes as downloaded (original_bytes)."
            ),
            "f_modalities": field(f.kept > 0 ? ["image"] : [], "index"),
            "g_top_domains": field(
                [
                    "basis": "bytes", "share": ai.share, "sme": options.sme, "total_domains": ai.total,
                    "total_bytes": f.keptOriginalBytes,
                    "domains": ai.rows.map {
                        ["domain": $0.domain, "bytes": $0.counts.keptOriginalBytes, "samples": $0.counts.kept]
                            as [String: Any]
                    },
                ] as [String: Any], "index",
                note:
                    "Kept samples' downloaded bytes by registrable domain (Public Suffix List) of the image URL; \(ai.share) of \(Words.count(ai.total, "domain")), rounded up, domains tied with the last one included."
            ),
            "h_additional_comments": provider("crawled_data_comments"),
        ]
        let section2: [String: Any] = [
            "2_1_public_datasets": [
                "used": field(
                    fromCommonCrawl, "index",
                    note: fromCommonCrawl
                        ? "The runs' inputs are Common Crawl files (run property inputs)."
                        : "No Common Crawl input is named in the runs' inputs."),
                "a_modalities": field(
                    fromCommonCrawl ? ["text"] : [], "index",
                    note:
                        "Common Crawl supplied the image URLs and their alt text; the images were downloaded by Winnow (2.3)."
                ),
                "b_large_datasets": field(
                    publicSets, "index",
                    note: "Whether each is large depends on all public data the model used; the provider decides."),
                "c_other_datasets_description": provider("other_public_datasets"),
                "d_additional_comments": provider("public_datasets_comments"),
            ],
            "2_2_private_datasets": [
                "2_2_1_licensed_datasets": [
                    "used": provider("licensed_datasets_used", note: none),
                    "a_modalities": provider("licensed_datasets_modalities"),
                ],
                "2_2_2_other_private_datasets": [
                    "used": provider("other_private_datasets_used", note: none),
                    "a_modalities": provider("other_private_datasets_modalities"),
                    "b_known_datasets": provider("other_private_known_datasets"),
                    "c_other_datasets_description": provider("other_private_datasets_description"),
                    "d_additional_comments": provider("private_datasets_comments"),
                ],
            ],
            "2_3_crawled_data": crawled,
            "2_4_user_data": [
                "used_model_interactions": provider("user_data_model_interactions", note: none),
                "used_other_services": provider("user_data_other_services", note: none),
                "a_services_description": provider("user_data_services"),
                "b_modalities": provider("user_data_modalities"),
                "c_additional_comments": provider("user_data_comments"),
            ],
            "2_5_synthetic_data": [
                "used": provider(
                    "synthetic_data_used", note: "This dataset contributes none (Winnow generates no content)."),
                "a_modalities": provider("synthetic_data_modalities"),
                "b_market_models": provider("synthetic_data_market_models"),
                "c_other_models": provider("synthetic_data_other_models"),
                "d_additional_comments": provider("synthetic_data_comments"),
            ],
            "2_6_other_sources": [
                "used": provider("other_sources_used", note: none),
                "a_description": provider("other_sources"),
                "b_additional_comments": provider("other_sources_comments"),
            ],
        ]
        // Section 3.
        var protocols: [[String: Any]] = Report.protocols.compactMap { p in
            let n = f.droppedByReason[p.code] ?? 0
            // A protocol that was honoured is listed even when it removed nothing; one not honoured is not.
            guard n > 0 || honoured(p.code, crawler) else { return nil }
            return ["protocol": p.protocol, "where": p.where, "samples_removed": n]
        }
        let registryAfter = f.audit.reduce(0) { sum, a in
            sum + a.removedByMatch.filter { !Report.contentHashes.contains($0.key) }.values.reduce(0, +)
        }
        if !f.audit.isEmpty {
            protocols.append([
                "protocol": "Winnow opt-out registry (URL, prefix, domain, key)",
                "where": "after the run (winnow optout apply, optout-audit.jsonl)", "samples_removed": registryAfter,
            ])
        }
        let byHash = f.audit.reduce(0) { sum, a in
            sum + a.removedByMatch.filter { Report.contentHashes.contains($0.key) }.values.reduce(0, +)
        }
        let section3: [String: Any] = [
            "3_1_tdm_reservations": [
                "a_code_of_practice_signatory": provider("code_of_practice_signatory"),
                "b_measures": field(
                    [
                        "description":
                            "Every candidate is checked before download against the page's own opt-out signals, its origin's robots.txt, TDMRep and ai.txt (and the registries configured); during download against the response's opt-out headers; after download against the opt-out metadata in the file. A reserved sample is never stored; it stays in the index with the rule that excluded it."
                            + (f.audit.isEmpty
                                ? "" : " Removal requests filed after the run were applied to the dataset."),
                        "protocols": protocols,
                    ] as [String: Any], "index",
                    note:
                        "Counts are candidates dropped with each reason code; the provider adds the measures for its other data and its copyright policy."
                ),
                "c_additional_comments": provider("tdm_comments"),
            ],
            "3_2_illegal_content_removal": [
                "a_measures": field(
                    [
                        "description":
                            "Removal hash lists (MD5, SHA-1 or SHA-256 of the downloaded bytes, PDQ perceptual hashes) filed in Winnow's removal registry are matched against every kept sample, and the matches are removed from the shards (winnow optout apply).",
                        "measures": [
                            [
                                "measure": "hash list",
                                "detail": "winnow optout file --hash-list, applied with winnow optout apply",
                                "samples_removed": byHash,
                            ] as [String: Any]
                        ],
                    ] as [String: Any], "index",
                    note:
                        "Winnow does not judge content illegal; it reports the removals requested by hash. The provider adds its own measures (blocklists, classifiers)."
                )
            ],
            "3_3_other_information": [
                "a_other_information": field(otherInformation, "index")
            ],
        ]
        return [
            "$schema": "https://winnow.dev/schemas/ai-act-summary.schema.json",
            "template": Report.templateName,
            "generated_by": "winnow report",
            "generated_at": Report.iso(options.now),
            "scope":
                "The dataset in \(sources.joined(separator: ", ")) (\(Words.grouped(f.kept)) samples), built by Winnow. Everything marked source provider is for the model provider to fill, for the whole of the model's training data.",
            "summary_version": provider("summary_version"),
            "last_update": provider("last_update"),
            "section_1": section1,
            "section_2": section2,
            "section_3": section3,
        ]
    }

    /// Removal matches by the content's own hash (3.2), as opposed to its URL, domain or key (3.1).
    static let contentHashes: Set<String> = ["md5", "sha1", "sha256", "pdq", "clip"]

    /// Whether the runs honoured the protocol of a reason code (from their recorded crawler settings).
    private func honoured(_ code: String, _ crawler: [String: Any]) -> Bool {
        let signals = (crawler["signals_honoured"] as? [String] ?? []).joined(separator: "\n").lowercased()
        switch code {
        case "page_optout": return signals.contains("page meta")
        case "robots_txt", "robots_unreachable": return signals.contains("robots.txt (rfc 9309)")
        case "robots_content_usage": return signals.contains("robots.txt content-usage")
        case "content_signal": return signals.contains("content-signal")
        case "tdmrep", "tdm_reservation": return signals.contains("tdmrep")
        case "ai_txt": return signals.contains("ai.txt")
        case "x_robots_tag": return signals.contains("x-robots-tag")
        case "content_usage": return signals.contains("content-usage header")
        case "xmp_data_mining": return signals.contains("datamining")
        case "c2pa_training_mining": return signals.contains("c2pa")
        case "spawning_registry", "spawning_unreachable": return signals.contains("spawning")
        case "opt_out_registry": return signals.contains("opt-out registry")
        default: return false
        }
    }

    private var otherInformation: String {
        let f = figures
        let dupes =
            (f.droppedByReason["duplicate_sha256"] ?? 0) + (f.droppedByReason["near_duplicate_pdq"] ?? 0)
        var parts = ["Exact duplicates (SHA-256) and PDQ near-duplicates removed: \(Words.count(dupes, "sample"))."]
        if let t = threshold {
            parts.append(
                "Samples whose CLIP image-caption similarity was below \(t) removed: \(Words.count(f.droppedByReason["low_similarity"] ?? 0, "sample"))."
            )
        }
        return parts.joined(separator: " ")
    }

    /// ai-act-summary.md: the same answers as a document people read, item by item, blanks marked.
    public func aiActMarkdown(_ summary: [String: Any]? = nil) -> String {
        let s = summary ?? aiActSummary()
        var lines = [
            "# Public summary of training content", "",
            "_\(Report.templateName)._", "",
            "Generated by `winnow report` on \(s["generated_at"] ?? ""). \(s["scope"] ?? "")", "",
            "Items marked **[provider]** are for the model provider to answer; `winnow report --provider FILE` fills them.",
            "",
        ]
        func render(_ key: String, _ item: Any, depth: Int) {
            guard let o = item as? [String: Any] else { return }
            let title = Report.itemTitle(key)
            if let source = o["source"] as? String, o.keys.contains("value") {
                let value = o["value"]
                let text: String =
                    value == nil || value is NSNull
                    ? (source == "provider" ? "**[provider]**" : "not known") : Report.markdownValue(value!)
                lines.append("- **\(title)**: \(text)" + ((o["note"] as? String).map { " _(\($0))_" } ?? ""))
                return
            }
            lines.append("")
            lines.append(String(repeating: "#", count: min(depth, 5)) + " " + title)
            lines.append("")
            for k in o.keys.sorted(by: Report.templateOrder) { render(k, o[k]!, depth: depth + 1) }
        }
        for k in ["summary_version", "last_update"] { render(k, s[k] ?? [:], depth: 2) }
        for k in ["section_1", "section_2", "section_3"] { render(k, s[k] ?? [:], depth: 2) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Items in the template's order: numbered keys by number, then lettered ones, `used` first.
    static func templateOrder(_ a: String, _ b: String) -> Bool {
        func rank(_ k: String) -> String { k.hasPrefix("used") ? "0" + k : k }
        return rank(a).localizedStandardCompare(rank(b)) == .orderedAscending
    }

    static func itemTitle(_ key: String) -> String {
        var parts = key.split(separator: "_").map(String.init)
        if key.hasPrefix("section_") { return "Section " + (parts.last ?? "") }
        var number: [String] = []
        while let p = parts.first, p.allSatisfy(\.isNumber) {
            number.append(p)
            parts.removeFirst()
        }
        var words = parts.joined(separator: " ")
        if let first = parts.first, first.count == 1, number.isEmpty {
            words = "(\(first)) " + parts.dropFirst().joined(separator: " ")
        }
        return (number.isEmpty ? "" : number.joined(separator: ".") + " ") + words.prefix(1).uppercased()
            + words.dropFirst()
    }

    /// Whether `v` is a boolean: a Swift Bool, or Foundation's (a JSON true or false). A JSON number 1 also casts
    /// to Bool on Linux, so the cast alone cannot tell.
    static func isBoolean(_ v: Any) -> Bool {
        type(of: v) == Bool.self || String(describing: type(of: v)).hasSuffix("Boolean")
    }

    static func markdownValue(_ v: Any) -> String {
        if isBoolean(v), let b = v as? Bool { return b ? "yes" : "no" }
        if type(of: v) != Bool.self, !(v is String), let n = v as? NSNumber { return n.stringValue }
        switch v {
        case let a as [Any]:
            if a.isEmpty { return "none" }
            return a.map { "\n  - " + markdownValue($0).replacingOccurrences(of: "\n", with: "\n    ") }.joined()
        case let d as [String: Any]:
            return d.keys.sorted().map {
                "\n  - \($0): " + markdownValue(d[$0]!).replacingOccurrences(of: "\n", with: "\n    ")
            }
            .joined()
        case is NSNull: return "none"
        default: return "\(v)"
        }
    }
}
