import Foundation
import WinnowCore
import WinnowShards

extension Report {
    /// Hugging Face's size category for `n` samples (`1K<n<10K`...).
    static func sizeCategory(_ n: Int) -> String {
        let steps: [(Int, String)] = [
            (1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
            (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
            (10_000_000_000, "1B<n<10B"),
        ]
        return steps.first { n < $0.0 }?.1 ?? "n>10B"
    }

    /// README.md: a dataset card in the Hugging Face layout, YAML front matter first. What only the dataset's
    /// maker can say is left as a marked blank (`[provider: ...]`), or taken from `--provider FILE`.
    public func datasetCard() -> String {
        let f = figures
        func provided(_ key: String, _ blank: String) -> String {
            (options.provider[key] as? String).map { $0 } ?? "[provider: \(blank)]"
        }
        let name = provided("dataset_name", "dataset name")
        var sourceDatasets = crawls.map { "commoncrawl/\($0)" }
        if sourceDatasets.isEmpty { sourceDatasets = ["original"] }
        let yamlList = { (xs: [String]) in xs.map { "- \(Report.yamlScalar($0))" }.joined(separator: "\n") }
        let license = provided("license", "license of the compiled dataset")
        var lines: [String] = [
            "---",
            "pretty_name: \(Report.yamlScalar(name))",
            "license: \(options.provider["license"] == nil ? "other" : Report.yamlScalar(license))",
            "size_categories:",
            yamlList([Report.sizeCategory(f.kept)]),
            "task_categories:",
            yamlList(["text-to-image", "image-to-text", "zero-shot-image-classification"]),
            "source_datasets:",
            yamlList(sourceDatasets),
            "tags:",
            yamlList(["image-text-pairs", "web-crawl", "webdataset", "winnow"]),
            "---",
            "",
            "# Dataset card for \(name)",
            "",
            "## Dataset description",
            "",
            "\(Words.grouped(f.kept)) image-text pairs collected from the web by Winnow, kept of "
                + "\(Words.grouped(f.candidates)) candidates (\(Words.bytes(f.keptStoredBytes)) of images, "
                + "\(Words.bytes(f.shardBytes)) in \(Words.count(f.shards, "shard"))). "
                + provided("description", "what the dataset is for, who made it, contact"),
            "",
            "## Dataset structure",
            "",
            "WebDataset tar shards (`NNNNN.tar`), each sample a set of files sharing its key: the image "
                + "(`.jpg`/`.png`/`.webp`), its caption (`.txt`) and its metadata (`.json`), with a Parquet table "
                + "per shard (`NNNNN.parquet`) and a SQLite index (`index.sqlite`) holding one row per candidate, kept "
                + "or not, with the reason it was dropped.",
            "",
            "| field | meaning |",
            "|---|---|",
        ]
        let fields: [(String, String)] = [
            ("key", "the sample's key in the shards"), ("url", "the image's URL"),
            ("caption", "the alt text or caption it was linked with"), ("page_url", "the page that linked it"),
            ("width, height", "the stored image's size"),
            ("original_width, original_height", "the downloaded image's size"),
            ("sha256, md5, sha1", "hashes of the downloaded bytes (removal lists match on them)"),
            ("pdq", "Meta's PDQ perceptual hash of the image"),
            ("similarity", "CLIP image-text cosine, when the run had a CLIP filter"),
            ("opt_out_signals, data_mining, c2pa, c2pa_training", "opt-out evidence the page and the file carried"),
            ("http_status, content_type", "what the server answered"),
        ]
        lines += fields.map { "| `\($0.0)` | \($0.1) |" }
        lines += [
            "",
            "## Dataset creation",
            "",
            "### Curation rationale",
            "",
            provided("curation_rationale", "why the dataset was made and for which models"),
            "",
            "### Source data",
            "",
            "- Inputs: "
                + (f.runs.flatMap { ($0["inputs"] ?? "").split(separator: "\n").map(String.init) }.prefix(10)
                    .map { "`\($0)`" }.joined(separator: ", "))
                + (inputCount > 10 ? " and \(inputCount - 10) more" : ""),
            "- Common Crawl crawls: " + (crawls.isEmpty ? "none named in the inputs" : crawls.joined(separator: ", ")),
            "- Collected: " + (f.runPeriod.map { "\($0.lowerBound) to \($0.upperBound)" } ?? "not recorded"),
            "- Pages captured: " + (f.pageDates.map { "\($0.lowerBound) to \($0.upperBound)" } ?? "not recorded"),
            "- Domains: \(Words.grouped(domains.count)); the largest by kept bytes: "
                + topByKeptBytes.prefix(5).map { "\($0.domain) (\(Words.bytes($0.counts.keptBytes)))" }
                .joined(separator: ", "),
            "",
            "### Data collection and processing",
            "",
            "Each candidate went through Winnow's stages in order; what each kept out:",
            "",
            "| stage | dropped | left |",
            "|---|---|---|",
        ]
        lines += funnel.map { "| \($0.stage) | \(Words.grouped($0.dropped)) | \(Words.grouped($0.remaining)) |" }
        lines += [
            "",
            "Reasons, with what each means, are in the report (`index.html`, `summary.json`).",
            "",
            "## Opt-out handling",
            "",
            "Winnow honoured the opt-out signals below before downloading, or on the image's own metadata; "
                + "each dropped sample is kept in the index with the rule that excluded it.",
            "",
            "| signal | read from | samples kept out |",
            "|---|---|---|",
        ]
        let optOut = optOutReasons
        lines +=
            optOut.isEmpty
            ? ["| none triggered | | 0 |"]
            : optOut.map { "| `\($0.code)` | \($0.source) | \(Words.grouped($0.count)) |" }
        lines += [
            "",
            "Removal requests applied after the run: \(Words.count(f.removedByRequest.values.reduce(0, +), "sample")) removed "
                + "by \(Words.count(f.audit.count, "apply", "applies")) (the audit log is `optout-audit.jsonl`).",
            "",
            "## Personal and sensitive information",
            "",
            provided("personal_information", "what was done about faces, names, personal data and unsafe content"),
            "",
            "## Known limitations",
            "",
            "- Captions are the web's alt texts: noisy, sometimes unrelated to the image"
                + (threshold.map { "; a CLIP filter at similarity \($0) removed the worst" } ?? "") + ".",
            "- Opt-out signals are read as the sites stated them when fetched; C2PA manifests are read without "
                + "validating their signatures.",
            "- Images can change or disappear at their URLs after collection; the hashes identify what was stored.",
            "- " + provided("limitations", "biases and other limitations known to the maker"),
            "",
        ]
        return lines.joined(separator: "\n")
    }

    private var inputCount: Int { figures.runs.reduce(0) { $0 + ($1["inputs"] ?? "").split(separator: "\n").count } }

    /// A YAML string scalar: plain when it can only be read as that string (an ASCII letter first, then letters,
    /// digits, spaces and `_./-<`, no trailing space, not a word YAML 1.1 reads as a boolean or null), double-quoted
    /// otherwise, with backslash, quote and every control character escaped, so no value can end the front matter.
    static func yamlScalar(_ s: String) -> String {
        let reserved: Set<String> = ["y", "n", "yes", "no", "true", "false", "on", "off", "null"]
        func letter(_ u: Unicode.Scalar) -> Bool { ("a"..."z").contains(u) || ("A"..."Z").contains(u) }
        let plain =
            s.unicodeScalars.first.map(letter) == true
            && s.unicodeScalars.allSatisfy {
                letter($0) || ("0"..."9").contains($0) || " _./-<".unicodeScalars.contains($0)
            }
            && !s.hasSuffix(" ") && !reserved.contains(s.lowercased())
        if plain { return s }
        var out = "\""
        for u in s.unicodeScalars {
            switch u.value {
            case 0x5c: out += "\\\\"
            case 0x22: out += "\\\""
            case 0x0a: out += "\\n"
            case 0x09: out += "\\t"
            case 0..<0x20, 0x7f, 0x80..<0xa0, 0x2028, 0x2029: out += String(format: "\\u%04X", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
