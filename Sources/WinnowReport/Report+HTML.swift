import Foundation
import WinnowCore
import WinnowShards

extension Report {
    /// index.html: one self-contained page (inline CSS and SVG, one small inline script, nothing fetched).
    public func html() -> String {
        let f = figures
        var body: [String] = []
        body.append("<h1>Dataset report</h1>")
        body.append(
            "<p class=lede>\(Words.grouped(f.kept)) samples kept of \(Words.grouped(f.candidates)) candidates, "
                + "\(Words.bytes(f.shardBytes)) in \(Words.count(f.shards, "shard")). "
                + "Sources: \(sources.map { "<code>\(Report.escape($0))</code>" }.joined(separator: ", ")). "
                + "Made by <code>winnow report</code> on \(Report.iso(options.now)).</p>")

        body.append(section("Funnel", "What each stage kept out, in pipeline order."))
        body.append(
            HBar(
                rows: funnel.map {
                    (label: $0.stage, value: $0.remaining, note: $0.dropped > 0 ? "−\(Words.grouped($0.dropped))" : "")
                },
                format: Words.grouped
            ).svg)
        body.append("<h3>Reasons</h3>")
        var reasonRows = ["<tr><th>code</th><th>stage</th><th class=n>samples</th><th>what it means</th></tr>"]
        for (stage, reasons) in Report.byStage(f.droppedByReason) {
            for r in reasons {
                reasonRows.append(
                    "<tr><td><code>\(Report.escape(r.code))</code></td><td>\(stage)</td><td class=n>\(Words.grouped(r.count))</td><td>\(Report.escape(ReasonCode.lookup(r.code)?.summary ?? "not a reason this version knows"))</td></tr>"
                )
            }
        }
        body.append("<table>" + reasonRows.joined() + "</table>")

        body.append(
            section("Top domains", "Registrable domains (Public Suffix List), by kept bytes and by kept samples."))
        body.append("<div class=pair><div><h3>by kept bytes</h3>")
        body.append(
            HBar(
                rows: topByKeptBytes.map { ($0.domain, $0.counts.keptBytes, "") },
                format: Words.bytes
            ).svg)
        body.append("</div><div><h3>by kept samples</h3>")
        body.append(
            HBar(
                rows: topByKept.map { ($0.domain, $0.counts.kept, "") },
                format: Words.grouped
            ).svg)
        body.append("</div></div>")

        body.append(section("Images", "Original sizes and aspect ratios of the kept images."))
        func label(_ b: (from: Int, to: Int?, count: Int)) -> String { b.to.map { "<\($0)" } ?? "≥\(b.from)" }
        body.append("<div class=pair><div><h3>width (px)</h3>")
        body.append(
            Columns(bars: Report.histogram(f.widths, edges: Report.sideEdges).map { (label($0), $0.count) }).svg)
        body.append("</div><div><h3>height (px)</h3>")
        body.append(
            Columns(bars: Report.histogram(f.heights, edges: Report.sideEdges).map { (label($0), $0.count) }).svg)
        body.append("</div></div><h3>aspect ratio (width / height)</h3>")
        let aspectLabels = ReportFigures.aspectEdges.map { "<\($0)" } + ["≥\(ReportFigures.aspectEdges.last ?? 4)"]
        body.append(Columns(bars: aspectLabels.enumerated().map { ($1, f.aspect[$0] ?? 0) }).svg)

        body.append(section("Captions", "Length of the kept captions, in characters."))
        body.append(
            Columns(bars: Report.histogram(f.captionLengths, edges: Report.captionEdges).map { (label($0), $0.count) })
                .svg)

        body.append(section("CLIP similarity", similarityNote))
        if !f.similarityKept.isEmpty || !f.similarityDropped.isEmpty {
            body.append(SimilarityChart(kept: f.similarityKept, dropped: f.similarityDropped, threshold: threshold).svg)
        }

        body.append(section("Opt-out signals", "What each kind of signal kept out, grouped by where it is read."))
        let optOut = optOutReasons
        if optOut.isEmpty {
            body.append("<p>No sample was kept out by an opt-out signal.</p>")
        } else {
            body.append(
                HBar(rows: optOut.map { ("\($0.code) (\($0.source))", $0.count, "") }, format: Words.grouped).svg)
        }
        let signals =
            f.pageSignals.sorted { $0.key < $1.key }.map { ("page: " + $0.key, $0.value) }
            + f.imageSignals.sorted { $0.key < $1.key }.map { ("image: " + $0.key, $0.value) }
        if !signals.isEmpty {
            var rows = ["<tr><th>signal found</th><th class=n>samples</th><th class=n>kept</th></tr>"]
            for (name, c) in signals {
                rows.append(
                    "<tr><td>\(Report.escape(name))</td><td class=n>\(Words.grouped(c.samples))</td><td class=n>\(Words.grouped(c.kept))</td></tr>"
                )
            }
            body.append("<table>" + rows.joined() + "</table>")
        }

        body.append(section("Duplicates", "Clusters: a kept sample and the samples dropped as its duplicates."))
        for (title, m) in [
            ("exact and perceptual (SHA-256, PDQ)", f.duplicateClusters), ("semantic (CLIP)", f.semanticClusters),
        ] {
            let dupes = m.reduce(0) { $0 + ($1.key - 1) * $1.value }
            body.append(
                "<h3>\(title)</h3><p>\(Words.count(m.values.reduce(0, +), "cluster")), \(Words.count(dupes, "duplicate")) dropped.</p>"
            )
            if !m.isEmpty { body.append(Columns(bars: m.keys.sorted().map { ("\($0)", m[$0] ?? 0) }).svg) }
        }

        body.append(section("Removal requests", "Applied with <code>winnow optout apply</code>, from the audit log."))
        if f.audit.isEmpty && f.removedByRequest.isEmpty {
            body.append("<p>None applied.</p>")
        } else {
            var rows = [
                "<tr><th>apply</th><th>time</th><th class=n>requests</th><th class=n>removed</th><th class=n>shards rewritten</th></tr>"
            ]
            for a in f.audit {
                rows.append(
                    "<tr><td><code>\(Report.escape(a.applyID))</code></td><td>\(Report.escape(a.time))</td><td class=n>\(a.requests)</td><td class=n>\(a.removed)</td><td class=n>\(a.shardsRewritten)</td></tr>"
                )
            }
            body.append("<table>" + rows.joined() + "</table>")
        }

        body.append(section("Provenance and settings", "Inputs, crawls, collection period and each run's settings."))
        var prov: [(String, String)] = [
            ("collection period", f.runPeriod.map { "\($0.lowerBound) to \($0.upperBound)" } ?? "not recorded"),
            ("pages captured", f.pageDates.map { "\($0.lowerBound) to \($0.upperBound)" } ?? "not recorded"),
            ("Common Crawl crawls", crawls.isEmpty ? "none named in the inputs" : crawls.joined(separator: ", ")),
        ]
        for (k, v) in crawler.sorted(by: { $0.key < $1.key }) {
            prov.append(("crawler: " + k, "\(Report.describe(v))"))
        }
        for run in f.runs {
            let name = run["directory"] ?? ""
            for (k, v) in run.sorted(by: { $0.key < $1.key })
            where !["directory", "crawler", "circuit_breakers"].contains(k) {
                prov.append(("\(name): \(k)", k == "inputs" ? v.split(separator: "\n").joined(separator: ", ") : v))
            }
        }
        body.append(
            "<table>" + prov.map { "<tr><th>\(Report.escape($0.0))</th><td>\(Report.escape($0.1))</td></tr>" }.joined()
                + "</table>")

        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Dataset report</title>
            <style>
            body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1d2330}
            h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #d5dae3;padding-bottom:.2em}h3{margin:.8em 0 .3em;font-size:1em}
            .lede{color:#4a5263}.note{color:#5b6475;margin-top:0}
            table{border-collapse:collapse;margin:.5em 0;font-size:14px}td,th{padding:.25em .7em;border-bottom:1px solid #eceff4;text-align:left;vertical-align:top}
            .n{text-align:right;font-variant-numeric:tabular-nums}td:nth-child(2){white-space:nowrap}code{font-size:13px}
            .pair{display:block}svg{max-width:100%;height:auto}
            svg text{font:12px system-ui,sans-serif;fill:#1d2330}.bar{fill:#3f6fb5}.bar2{fill:#c9553d}.grid{stroke:#e3e7ee}
            </style></head>
            <body>
            \(body.joined(separator: "\n"))
            <script>
            // Marks the page as drawn: every chart is inline SVG, nothing is fetched (the test opens it headless).
            (function(){var n=document.querySelectorAll("svg").length;document.documentElement.setAttribute("data-charts",String(n));document.documentElement.setAttribute("data-rendered","ok");})();
            </script>
            </body></html>

            """
    }

    private var similarityNote: String {
        let f = figures
        let scored = f.similarityKept.values.reduce(0, +) + f.similarityDropped.values.reduce(0, +)
        guard scored > 0 else { return "The runs had no CLIP filter: no sample was scored." }
        let t = threshold.map { "threshold \($0) (dashed line)" } ?? "no threshold"
        return "Image-text cosine of \(Words.count(scored, "scored sample")); kept in blue, dropped in red; \(t)."
    }

    private func section(_ title: String, _ note: String) -> String {
        "<h2>\(title)</h2><p class=note>\(note)</p>"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    static func describe(_ v: Any) -> String {
        switch v {
        case let a as [Any]: return a.map { describe($0) }.joined(separator: ", ")
        case let d as [String: Any]:
            return d.sorted { $0.key < $1.key }.map { "\($0.key)=\(describe($0.value))" }.joined(separator: ", ")
        default: return "\(v)"
        }
    }
}

/// A horizontal bar chart: one labelled bar per row, its value at the end.
struct HBar {
    var rows: [(label: String, value: Int, note: String)]
    var format: (Int) -> String

    var svg: String {
        guard !rows.isEmpty else { return "<p>Nothing to show.</p>" }
        let labelWidth = 300.0
        let width = 860.0
        let barMax = width - labelWidth - 150
        let h = 22.0
        let top = Double(rows.map(\.value).max() ?? 1)
        let height = Int(h * Double(rows.count) + 6)
        var out = "<svg width=\"\(Int(width))\" height=\"\(height)\" viewBox=\"0 0 \(Int(width)) \(height)\" role=img>"
        for (i, r) in rows.enumerated() {
            let y = Double(i) * h + 3
            let w = top > 0 ? max(1, barMax * Double(r.value) / top) : 1
            let label = r.label.count > 44 ? String(r.label.prefix(43)) + "…" : r.label
            out +=
                "<text x=\"\(Int(labelWidth - 8))\" y=\"\(Int(y + 15))\" text-anchor=\"end\">\(Report.escape(label))</text>"
                + "<rect class=bar x=\"\(Int(labelWidth))\" y=\"\(Int(y + 3))\" width=\"\(String(format: "%.1f", w))\" height=\"\(Int(h - 6))\"><title>\(Report.escape(r.label)): \(format(r.value))</title></rect>"
                + "<text x=\"\(Int(labelWidth + w + 6))\" y=\"\(Int(y + 15))\">\(format(r.value)) \(Report.escape(r.note))</text>"
        }
        return out + "</svg>"
    }
}

/// A column chart (a histogram of fixed bins): one labelled column per bin.
struct Columns {
    var bars: [(label: String, count: Int)]

    var svg: String {
        guard bars.contains(where: { $0.count > 0 }) else { return "<p>Nothing to show.</p>" }
        let width = 860.0
        let height = 190.0
        let base = height - 34
        let slot = (width - 20) / Double(bars.count)
        let top = Double(bars.map(\.count).max() ?? 1)
        var out =
            "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=img>"
        out += "<line class=grid x1=\"10\" y1=\"\(Int(base))\" x2=\"\(Int(width - 10))\" y2=\"\(Int(base))\"/>"
        for (i, b) in bars.enumerated() {
            let x = 10 + Double(i) * slot
            let h = top > 0 ? (base - 20) * Double(b.count) / top : 0
            out +=
                "<rect class=bar x=\"\(String(format: "%.1f", x + 3))\" y=\"\(String(format: "%.1f", base - h))\" width=\"\(String(format: "%.1f", max(1, slot - 6)))\" height=\"\(String(format: "%.1f", h))\"><title>\(Report.escape(b.label)): \(Words.grouped(b.count))</title></rect>"
                + "<text x=\"\(String(format: "%.1f", x + slot / 2))\" y=\"\(Int(base + 16))\" text-anchor=\"middle\">\(Report.escape(b.label))</text>"
            if b.count > 0 {
                out +=
                    "<text x=\"\(String(format: "%.1f", x + slot / 2))\" y=\"\(String(format: "%.1f", base - h - 4))\" text-anchor=\"middle\">\(Words.grouped(b.count))</text>"
            }
        }
        return out + "</svg>"
    }
}

/// The similarity histogram: kept and dropped side by side in each 0.02 bin, the threshold as a dashed line.
struct SimilarityChart {
    var kept: [Int: Int], dropped: [Int: Int]
    var threshold: Double?

    var svg: String {
        let all = Set(kept.keys).union(dropped.keys)
        guard var lo = all.min(), var hi = all.max() else { return "" }
        if let t = threshold {
            let tb = ReportFigures.similarityBin(t)
            lo = min(lo, tb)
            hi = max(hi, tb)
        }
        lo -= 1
        hi += 1
        let width = 860.0
        let height = 220.0
        let base = height - 34
        let slot = (width - 40) / Double(hi - lo + 1)
        let top = Double(all.map { max(kept[$0] ?? 0, dropped[$0] ?? 0) }.max() ?? 1)
        var out =
            "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=img>"
        out += "<line class=grid x1=\"20\" y1=\"\(Int(base))\" x2=\"\(Int(width - 20))\" y2=\"\(Int(base))\"/>"
        func x(_ bin: Int) -> Double { 20 + Double(bin - lo) * slot }
        for b in lo...hi {
            for (i, (m, cls)) in [(kept, "bar"), (dropped, "bar2")].enumerated() {
                let n = m[b] ?? 0
                guard n > 0 else { continue }
                let h = (base - 20) * Double(n) / top
                let from = Double(b) / ReportFigures.similarityBinsPerUnit - 1
                out +=
                    "<rect class=\(cls) x=\"\(String(format: "%.1f", x(b) + Double(i) * slot / 2))\" y=\"\(String(format: "%.1f", base - h))\" width=\"\(String(format: "%.1f", max(1, slot / 2 - 1)))\" height=\"\(String(format: "%.1f", h))\"><title>\(i == 0 ? "kept" : "dropped") \(String(format: "%.2f", from))–\(String(format: "%.2f", from + 0.02)): \(Words.grouped(n))</title></rect>"
            }
            if (b - lo) % max(1, (hi - lo) / 8) == 0 {
                out +=
                    "<text x=\"\(String(format: "%.1f", x(b)))\" y=\"\(Int(base + 16))\" text-anchor=\"middle\">\(String(format: "%.2f", Double(b) / ReportFigures.similarityBinsPerUnit - 1))</text>"
            }
        }
        if let t = threshold {
            let tx = 20 + ((t + 1) * ReportFigures.similarityBinsPerUnit - Double(lo)) * slot
            out +=
                "<line x1=\"\(String(format: "%.1f", tx))\" y1=\"10\" x2=\"\(String(format: "%.1f", tx))\" y2=\"\(Int(base))\" stroke=\"#1d2330\" stroke-dasharray=\"5 4\"/>"
                + "<text x=\"\(String(format: "%.1f", tx + 4))\" y=\"20\">threshold \(t)</text>"
        }
        return out + "</svg>"
    }
}
