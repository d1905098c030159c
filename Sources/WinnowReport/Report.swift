import Foundation
import WinnowCore
import WinnowShards

/// A dataset report: the figures of one or more output directories (parts of a run, or a merged index), rolled up
/// into what people read (`index.html`), what programs read (`summary.json`), a dataset card (`README.md`) and the
/// EU AI Act training-content summary (`ai-act-summary.json` and `.md`). Every number on the page is in
/// summary.json; every number in summary.json comes from `ReportFigures`, which comes from `GROUP BY` queries.
public struct Report {
    /// What the user adds: the provider's own answers to the AI Act template, and whether the provider is an SME.
    public struct Options {
        /// The AI Act template's provider-side answers (`provider_name`, `model_name`...), from `--provider FILE`.
        public var provider: [String: Any] = [:]
        /// An SME lists the top 5 % of domains, at most 1,000, instead of the top 10 %.
        public var sme = false
        /// Rows in the page's top-domain charts and summary.json's top lists.
        public var top = 20
        /// When the report is made.
        public var now = Date()
        public init() {}
    }

    /// One registrable domain's counts.
    public struct DomainRow: Equatable {
        public var domain: String
        public var counts: ReportFigures.HostCounts
    }

    public let figures: ReportFigures
    public let options: Options
    /// The output directories read.
    public let sources: [String]
    /// Every registrable domain, by bytes downloaded (most first; ties by name).
    public let domains: [DomainRow]
    /// The top domains by kept stored bytes and by kept samples (`options.top` each), and the AI Act list.
    public let topByKeptBytes: [DomainRow], topByKept: [DomainRow]
    public let aiActDomains: (share: String, total: Int, rows: [DomainRow])

    /// Reads the figures of each directory and adds them up.
    public init(directories: [String], options: Options = Options()) throws {
        var total = ReportFigures()
        for d in directories { total = total + (try IndexReader(directory: d).reportFigures()) }
        self.init(figures: total, sources: directories, options: options)
    }

    public init(figures: ReportFigures, sources: [String], options: Options = Options()) {
        self.figures = figures
        self.options = options
        self.sources = sources
        let psl = Domains()
        var byDomain: [String: ReportFigures.HostCounts] = [:]
        for (host, c) in figures.hosts {
            let d = psl.registrable(host)
            byDomain[d] = (byDomain[d] ?? .init()) + c
        }
        let all = byDomain.map { DomainRow(domain: $0.key, counts: $0.value) }
        domains = all.sorted { ($0.counts.bytes, $1.domain) > ($1.counts.bytes, $0.domain) }
        topByKeptBytes = Report.top(all, by: \.keptBytes, limit: options.top)
        topByKept = Report.top(all, by: \.kept, limit: options.top)
        aiActDomains = Report.aiActList(all, sme: options.sme)
    }

    // MARK: Figures derived from ReportFigures

    /// Candidates left after each stage, in pipeline order, with what the stage dropped.
    public var funnel: [(stage: String, dropped: Int, remaining: Int)] {
        var left = figures.candidates
        var out: [(String, Int, Int)] = [("candidates", 0, left)]
        for (stage, reasons) in Report.byStage(figures.droppedByReason) {
            let n = reasons.reduce(0) { $0 + $1.count }
            left -= n
            out.append((stage, n, left))
        }
        return out
    }

    /// Dropped counts by the stage that recorded them, in pipeline order (an unknown code goes under "other"),
    /// most first within a stage.
    public static func byStage(_ reasons: [String: Int]) -> [(stage: String, reasons: [(code: String, count: Int)])] {
        var groups: [String: [(code: String, count: Int)]] = [:]
        for (code, n) in reasons {
            groups[ReasonCode.lookup(code)?.stage.rawValue ?? "other", default: []].append((code, n))
        }
        let order = ReasonCode.Stage.allCases.map(\.rawValue) + ["other"]
        return order.compactMap { stage in
            groups[stage].map { (stage, $0.sorted { ($0.count, $1.code) > ($1.count, $0.code) }) }
        }
    }

    /// Domains ranked by a measure, most first, ties by name; only those with a non-zero measure.
    static func top(_ rows: [DomainRow], by measure: KeyPath<ReportFigures.HostCounts, Int>, limit: Int) -> [DomainRow]
    {
        Array(
            rows.filter { $0.counts[keyPath: measure] > 0 }
                .sorted { ($0.counts[keyPath: measure], $1.domain) > ($1.counts[keyPath: measure], $0.domain) }
                .prefix(limit))
    }

    /// The AI Act list: the domains in the top 10 % of all domains by the size of the content scraped (an SME: the
    /// top 5 % or 1,000 domains, whichever is fewer), rounded up, with every domain tied with the last one included.
    /// The content is the training content: kept samples, their bytes as downloaded; the domains counted are
    /// those with a kept sample.
    static func aiActList(_ rows: [DomainRow], sme: Bool) -> (share: String, total: Int, rows: [DomainRow]) {
        let scraped = rows.filter { $0.counts.keptOriginalBytes > 0 }
            .sorted { ($0.counts.keptOriginalBytes, $1.domain) > ($1.counts.keptOriginalBytes, $0.domain) }
        let total = scraped.count
        let tenth = Int((Double(total) * 0.10).rounded(.up))
        let twentieth = Int((Double(total) * 0.05).rounded(.up))
        let wanted = sme ? min(twentieth, 1000) : tenth
        let share = sme ? (twentieth > 1000 ? "top 1000" : "top 5%") : "top 10%"
        guard wanted > 0 else { return (share, total, []) }
        let last = scraped[wanted - 1].counts.keptOriginalBytes
        let rows = scraped.prefix { $0.counts.keptOriginalBytes >= last }
        return (share, total, Array(rows))
    }

    /// Fixed-edge histogram of integer values: `[from, to)` bins, the last open-ended.
    static func histogram(_ values: [Int: Int], edges: [Int]) -> [(from: Int, to: Int?, count: Int)] {
        var out = zip([0] + edges, edges.map { Optional($0) } + [nil]).map { (from: $0, to: $1, count: 0) }
        for (v, n) in values {
            let i = edges.firstIndex { v < $0 } ?? edges.count
            out[i].count += n
        }
        return out
    }

    static let sideEdges = [64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 4096]
    static let captionEdges = [10, 20, 30, 40, 60, 80, 100, 150, 200, 300, 500, 1000]

    /// The similarity threshold the runs filtered at (the highest, when parts differ), if any.
    var threshold: Double? { figures.runs.compactMap { $0["min_similarity"].flatMap(Double.init) }.max() }

    /// The Common Crawl crawls the inputs came from (`CC-MAIN-2024-10`...), in order.
    var crawls: [String] {
        var found = Set<String>()
        for run in figures.runs {
            for input in (run["inputs"] ?? "").split(separator: "\n") {
                if let r = input.range(of: #"CC-MAIN-\d{4}-\d{2}"#, options: .regularExpression) {
                    found.insert(String(input[r]))
                }
            }
        }
        return found.sorted()
    }

    /// The crawler settings each run recorded (`crawler` run property), merged: the first run's, with any other
    /// user agent or token added.
    var crawler: [String: Any] {
        var out: [String: Any] = [:]
        for run in figures.runs {
            guard let text = run["crawler"],
                let c = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            else { continue }
            for (k, v) in c where out[k] == nil { out[k] = v }
        }
        return out
    }
}

extension Report {
    /// Writes every part of the report into `directory` (created if needed), each file through `name.partial` and a
    /// rename, so that a killed report never leaves a half-written file under its name.
    public func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ai = aiActSummary()
        let files: [(String, String)] = [
            ("summary.json", try Report.json(summary())),
            ("index.html", html()),
            ("README.md", datasetCard()),
            ("ai-act-summary.json", try Report.json(ai)),
            ("ai-act-summary.md", aiActMarkdown(ai)),
        ]
        for (name, text) in files {
            let path = (directory as NSString).appendingPathComponent(name)
            let partial = path + ".partial"
            guard FileManager.default.createFile(atPath: partial, contents: Data(text.utf8)) else {
                throw WinnowError(.io, "\(partial): cannot write")
            }
            let fd = open(partial, O_RDONLY)
            if fd >= 0 {
                fsync(fd)
                close(fd)
            }
            guard rename(partial, path) == 0 else {
                throw WinnowError(.io, "\(path): cannot rename into place (\(String(cString: strerror(errno))))")
            }
        }
    }

    /// Pretty JSON with sorted keys and a final newline.
    static func json(_ o: Any) throws -> String {
        do {
            let d = try JSONSerialization.data(
                withJSONObject: o, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return String(decoding: d, as: UTF8.self) + "\n"
        } catch {
            throw WinnowError(.format, "winnow report: a figure could not be written as JSON (\(error))")
        }
    }

    static func iso(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }
}
