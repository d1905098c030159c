import Foundation
import Testing
import WinnowCore
import WinnowSQLite
import WinnowShards
import WinnowTestSupport

@testable import WinnowReport

/// Issue 26: every figure of summary.json equals an independent SQL query over the index; the report of the parts
/// of a run equals the report of their merged index.
@Suite struct ReportTests {
    /// Hosts of the synthetic index: `cdn.` and `www.` subdomains roll up into their registrable domain.
    static let hosts =
        (0..<20).map { "site\($0).example" } + ["cdn.site0.example", "www.site1.example", "img.shop.co.uk"]

    /// An output directory of `n` samples from `seed`: a mix of hosts, sizes, captions, similarities, reasons,
    /// duplicates and page signals, with two domains tied in bytes.
    static func makeIndex(_ dir: String, seed: Int, n: Int) throws {
        let w = try ShardWriter(directory: dir, samplesPerShard: 50)
        try w.setRun("inputs", "crawl-data/CC-MAIN-2024-10/segments/x/wat/part-\(seed).warc.wat.gz")
        try w.setRun("started", "2026-12-0\(seed)T10:00:00Z")
        try w.setRun("min_similarity", "0.28")
        try w.setRun(
            "crawler",
            #"{"user_agent":"WinnowBot/test","robots_tokens":["WinnowBot","CCBot"],"purpose":"train-ai","signals_honoured":["robots.txt (RFC 9309)","X-Robots-Tag"]}"#
        )
        var firstKept: [Int: String] = [:]
        let reasons: [ReasonCode] = [
            .robotsTxt, .xRobotsTag, .http(404), .fileTooSmall, .lowSimilarity, .captionTooShort,
        ]
        for i in 0..<n {
            let k = seed * 10_000 + i
            let host = hosts[(k * 7 + i / 3) % hosts.count]
            let caption = String(repeating: "word ", count: 1 + (k * 13) % 40)
            var s = Sample(
                candidate: Candidate(
                    url: "https://\(host)/img/\(k).jpg", caption: caption, pageURL: "https://\(host)/",
                    provenance: Provenance(
                        inputFile: "part-\(seed)", recordOffset: Int64(i), pageDate: "2024-02-\(10 + k % 15)T00:00:00Z"),
                    optOutSignals: k % 17 == 0 ? ["meta-robots:noai"] : []))
            s.originalSize = 1000 + (k * 37) % 5000
            s.fetch = FetchInfo(
                httpStatus: 200, contentType: k % 5 == 0 ? "image/png; q=1" : "image/jpeg", finalURL: nil, attempts: 1)
            s.similarity = Float(((k * 29) % 100)) / 100 - 0.195  // never on a bin edge
            var image = ImageInfo(
                originalFormat: "jpeg", originalWidth: 50 + (k * 61) % 3000, originalHeight: 40 + (k * 43) % 2000,
                storedWidth: 10, storedHeight: 10)
            image.hasC2PA = k % 23 == 0
            s.image = image
            s.stored = Array(repeating: UInt8(k % 251), count: 100 + (k * 11) % 900)
            s.sha256 = String(format: "%064x", k)
            if k % 9 == 4 {
                s.drop(reasons[(k / 9) % reasons.count], "test")
                s.stored = nil
                if (k / 9) % reasons.count < 2 { s.originalSize = 0 }  // opt-outs: not downloaded
            } else if k % 11 == 3, let original = firstKept[k % 4] {
                s.drop(.duplicateSHA256, original)
                s.duplicateOf = original
                s.stored = nil
            } else if firstKept[k % 4] == nil {
                firstKept[k % 4] = s.candidate.key
            }
            try w.write(s)
        }
        try w.setRun("finished", "2026-12-0\(seed)T11:00:00Z")
        try w.finish()
    }

    func rows(_ db: Connection, _ sql: String) throws -> [Row] { try db.query(sql) }

    @Test func everyFigureEqualsAnIndependentQuery() throws {
        let dir = TestSupport.temporaryDirectory("report")
        try ReportTests.makeIndex(dir, seed: 1, n: 400)
        let report = try Report(directories: [dir])
        let s = report.summary()
        let db = try Connection(path: dir + "/index.sqlite", readOnly: true)
        func one(_ sql: String) throws -> Int { Int(try db.query(sql)[0].int("n") ?? -1) }

        let totals = try #require(s["totals"] as? [String: Any])
        #expect(totals["candidates"] as? Int == (try one("SELECT count(*) AS n FROM samples")))
        #expect(totals["kept"] as? Int == (try one("SELECT count(*) AS n FROM samples WHERE status = 'kept'")))
        #expect(totals["dropped"] as? Int == (try one("SELECT count(*) AS n FROM samples WHERE status = 'dropped'")))
        #expect(
            totals["fetched"] as? Int == (try one("SELECT count(*) AS n FROM samples WHERE original_bytes IS NOT NULL"))
        )
        #expect(totals["fetched_bytes"] as? Int == (try one("SELECT sum(original_bytes) AS n FROM samples")))
        #expect(
            totals["kept_stored_bytes"] as? Int
                == (try one("SELECT sum(stored_bytes) AS n FROM samples WHERE status = 'kept'")))
        #expect(totals["shard_bytes"] as? Int == (try one("SELECT sum(bytes) AS n FROM shards")))

        // Reasons, each with its stage and description; the funnel ends at the kept count.
        let reasons = try #require(s["reasons"] as? [[String: Any]])
        var byReason: [String: Int] = [:]
        for r in try rows(db, "SELECT reason, count(*) AS n FROM samples WHERE status = 'dropped' GROUP BY reason") {
            byReason[r.string("reason") ?? ""] = Int(r.int("n") ?? 0)
        }
        #expect(
            Dictionary(uniqueKeysWithValues: reasons.map { ($0["code"] as? String ?? "", $0["count"] as? Int ?? 0) })
                == byReason)
        #expect(reasons.allSatisfy { !($0["description"] as? String ?? "").isEmpty })
        let funnel = try #require(s["funnel"] as? [[String: Any]])
        #expect(funnel.last?["remaining"] as? Int == totals["kept"] as? Int)
        #expect(funnel.first?["remaining"] as? Int == totals["candidates"] as? Int)

        // Domains: the registrable domain of each URL's host, by kept stored bytes and by kept count.
        let domainSQL = """
            SELECT CASE WHEN host LIKE 'cdn.%' OR host LIKE 'www.%' OR host LIKE 'img.%' THEN substr(host, instr(host, '.') + 1) ELSE host END AS d,
                   sum(status = 'kept') AS kept, coalesce(sum(CASE WHEN status = 'kept' THEN stored_bytes END), 0) AS kb,
                   coalesce(sum(CASE WHEN status = 'kept' THEN original_bytes END), 0) AS ko
            FROM (SELECT substr(url, 9, instr(substr(url, 9), '/') - 1) AS host, status, stored_bytes, original_bytes FROM samples)
            GROUP BY d
            """
        let expected = try rows(db, domainSQL).map {
            (
                d: $0.string("d") ?? "", kept: Int($0.int("kept") ?? 0), kb: Int($0.int("kb") ?? 0),
                ko: Int($0.int("ko") ?? 0)
            )
        }
        #expect(expected.contains { $0.d == "shop.co.uk" }, "img.shop.co.uk rolls up to shop.co.uk, not co.uk")
        let domains = try #require(s["domains"] as? [String: Any])
        #expect(domains["total"] as? Int == expected.count)
        let byBytes = try #require(domains["by_kept_bytes"] as? [[String: Any]])
        let wantBytes = expected.filter { $0.kb > 0 }.sorted { ($0.kb, $1.d) > ($1.kb, $0.d) }.prefix(20)
        #expect(byBytes.map { $0["domain"] as? String ?? "" } == wantBytes.map(\.d))
        #expect(byBytes.map { $0["kept_bytes"] as? Int ?? 0 } == wantBytes.map(\.kb))
        let byCount = try #require(domains["by_kept_count"] as? [[String: Any]])
        let wantCount = expected.filter { $0.kept > 0 }.sorted { ($0.kept, $1.d) > ($1.kept, $0.d) }.prefix(20)
        #expect(byCount.map { $0["domain"] as? String ?? "" } == wantCount.map(\.d))

        // The AI Act list: top 10 % by kept bytes as downloaded, rounded up, ties with the last included.
        let ai = try #require(domains["ai_act"] as? [String: Any])
        let ranked = expected.filter { $0.ko > 0 }.sorted { ($0.ko, $1.d) > ($1.ko, $0.d) }
        let wanted = Int((Double(ranked.count) * 0.10).rounded(.up))
        let cutoff = ranked[wanted - 1].ko
        let list = try #require(ai["domains"] as? [[String: Any]])
        #expect(list.map { $0["domain"] as? String ?? "" } == ranked.filter { $0.ko >= cutoff }.map(\.d))
        #expect(ai["total_domains"] as? Int == ranked.count && ai["share"] as? String == "top 10%")

        // Histograms: fixed bins, counted by SQL.
        let sizes = try #require(s["image_sizes"] as? [String: Any])
        let widths = try #require(sizes["width"] as? [[String: Any]])
        for b in widths {
            let from = b["from"] as? Int ?? 0
            let to = b["to"] as? Int
            let sql =
                "SELECT count(*) AS n FROM samples WHERE status = 'kept' AND original_width >= \(from)"
                + (to.map { " AND original_width < \($0)" } ?? "")
            #expect(b["count"] as? Int == (try one(sql)), "width \(from)")
        }
        let aspect = try #require(sizes["aspect_ratio"] as? [[String: Any]])
        for b in aspect {
            let from = b["from"] as? Double ?? 0
            let to = b["to"] as? Double
            let sql =
                "SELECT count(*) AS n FROM samples WHERE status = 'kept' AND original_width * 1.0 / original_height >= \(from)"
                + (to.map { " AND original_width * 1.0 / original_height < \($0)" } ?? "")
            #expect(b["count"] as? Int == (try one(sql)), "aspect \(from)")
        }
        let captions = try #require(s["caption_lengths"] as? [[String: Any]])
        for b in captions {
            let from = b["from"] as? Int ?? 0
            let sql =
                "SELECT count(*) AS n FROM samples WHERE status = 'kept' AND length(caption) >= \(from)"
                + ((b["to"] as? Int).map { " AND length(caption) < \($0)" } ?? "")
            #expect(b["count"] as? Int == (try one(sql)), "caption \(from)")
        }
        let sim = try #require(s["similarity"] as? [String: Any])
        #expect(sim["threshold"] as? Double == 0.28)
        for (status, key) in [("kept", "kept"), ("dropped", "dropped")] {
            let binsOut = try #require(sim[key] as? [[String: Any]])
            #expect(
                binsOut.reduce(0) { $0 + ($1["count"] as? Int ?? 0) }
                    == (try one(
                        "SELECT count(*) AS n FROM samples WHERE similarity IS NOT NULL AND status = '\(status)'")))
            for b in binsOut {
                let from = b["from"] as? Double ?? 0
                let to = b["to"] as? Double ?? 0
                let n = try one(
                    "SELECT count(*) AS n FROM samples WHERE status = '\(status)' AND similarity >= \(from) - 1e-9 AND similarity < \(to) - 1e-9"
                )
                #expect(b["count"] as? Int == n, "similarity \(status) \(from)")
            }
        }

        // Content types (parameters removed), duplicate clusters, page and image signals.
        let types = try #require(s["content_types"] as? [[String: Any]])
        #expect(
            types.first { $0["type"] as? String == "image/png" }?["samples"] as? Int
                == (try one(
                    "SELECT count(*) AS n FROM samples WHERE status = 'kept' AND content_type LIKE 'image/png%'")))
        let dedup = try #require((s["dedup"] as? [String: Any])?["exact_and_perceptual"] as? [String: Any])
        #expect(dedup["clusters"] as? Int == (try one("SELECT count(DISTINCT duplicate_of) AS n FROM samples")))
        #expect(
            dedup["duplicates"] as? Int == (try one("SELECT count(*) AS n FROM samples WHERE duplicate_of IS NOT NULL"))
        )
        let optOut = try #require(s["opt_out"] as? [String: Any])
        let page = try #require(optOut["page_signals"] as? [[String: Any]])
        #expect(
            page.first?["samples"] as? Int
                == (try one("SELECT count(*) AS n FROM samples WHERE opt_out_signals = 'meta-robots:noai'")))
        let image = try #require(optOut["image_signals"] as? [[String: Any]])
        #expect(
            image.first { $0["signal"] as? String == "c2pa_manifest" }?["samples"] as? Int
                == (try one("SELECT count(*) AS n FROM samples WHERE c2pa = 1")))
        let byReasonOptOut = try #require(optOut["by_reason"] as? [[String: Any]])
        #expect(byReasonOptOut.map { $0["code"] as? String ?? "" }.sorted() == ["robots_txt", "x_robots_tag"])

        // Provenance: the crawl named in the inputs, the periods.
        let prov = try #require(s["provenance"] as? [String: Any])
        #expect(prov["crawls"] as? [String] == ["CC-MAIN-2024-10"])
        let period = try #require(prov["collection_period"] as? [String: Any])
        #expect(
            period["from"] as? String == "2026-12-01T10:00:00Z" && period["to"] as? String == "2026-12-01T11:00:00Z")
        let pages = try #require(prov["page_dates"] as? [String: Any])
        #expect(pages["from"] as? String == (try db.query("SELECT min(page_date) AS d FROM samples")[0].string("d")))
    }

    /// An index with no rows (a run whose inputs held no candidate) still gets a whole report, of zeros.
    @Test func anEmptyIndexIsReported() throws {
        let dir = TestSupport.temporaryDirectory("report-empty")
        try ReportTests.makeIndex(dir + "/out", seed: 6, n: 0)
        let report = try Report(directories: [dir + "/out"])
        try report.write(to: dir + "/report")
        let totals = try #require(report.summary()["totals"] as? [String: Any])
        #expect(totals["candidates"] as? Int == 0 && report.aiActDomains.rows.isEmpty)
        for f in ["index.html", "summary.json", "README.md", "ai-act-summary.json", "ai-act-summary.md"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/report/" + f), "\(f)")
        }
    }

    /// The scan split over threads gives what one thread gives.
    @Test func threadsDoNotChangeTheFigures() throws {
        let dir = TestSupport.temporaryDirectory("report-threads")
        try ReportTests.makeIndex(dir, seed: 5, n: 500)
        let r = try IndexReader(directory: dir)
        let one = try r.reportFigures(threads: 1)
        #expect(one.candidates == 500)
        for threads in [2, 3, 7] { #expect(try r.reportFigures(threads: threads, minRowsPerThread: 1) == one) }
    }

    /// The parts of a run, reported together, give the report of their merged index.
    @Test func partsAddUpToTheirMergedIndex() throws {
        let root = TestSupport.temporaryDirectory("report-parts")
        let a = root + "/part-a"
        let b = root + "/part-b"
        try ReportTests.makeIndex(a, seed: 2, n: 300)
        try ReportTests.makeIndex(b, seed: 3, n: 250)
        let merged = root + "/merged"
        try FileManager.default.createDirectory(atPath: merged, withIntermediateDirectories: true)
        _ = try ShardIndex.merge(into: merged, parts: [(a, "../part-a/"), (b, "../part-b/")])
        var parts = try Report(directories: [a, b]).summary()
        var whole = try Report(directories: [merged]).summary()
        for key in ["sources", "generated_at"] {
            parts[key] = nil
            whole[key] = nil
        }
        for s in [parts, whole] { #expect(s["provenance"] != nil) }
        let p = try #require(parts["provenance"] as? [String: Any])
        let w = try #require(whole["provenance"] as? [String: Any])
        #expect(try Report.json(p["collection_period"] ?? [:]) == Report.json(w["collection_period"] ?? [:]))
        #expect(try Report.json(p["crawls"] ?? []) == Report.json(w["crawls"] ?? []))
        parts["provenance"] = nil
        whole["provenance"] = nil
        #expect(try Report.json(parts) == Report.json(whole))
        #expect((parts["totals"] as? [String: Any])?["candidates"] as? Int == 550)
    }

    /// Values of the provider's that YAML would read as something else, or that would end the front matter, are
    /// quoted and escaped; JSON numbers print as numbers and booleans as yes/no in the Markdown summary.
    @Test func cardScalarsAndMarkdownValues() throws {
        #expect(Report.yamlScalar("My dataset v2") == "My dataset v2")
        for s in ["True", "no", "null", ">folded", "2024", "-x", "a: b", "line\n---\nend", "bell\u{7}", "trailing "] {
            let y = Report.yamlScalar(s)
            #expect(y.hasPrefix("\"") && y.hasSuffix("\"") && !y.contains("\n"), "\(s.debugDescription) -> \(y)")
        }
        #expect(Report.yamlScalar("line\n---") == #""line\n---""#)
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(#"{"retries": 1, "on": true, "zero": 0}"#.utf8))
                as? [String: Any])
        #expect(Report.markdownValue(json["retries"]!) == "1")
        #expect(Report.markdownValue(json["zero"]!) == "0")
        #expect(Report.markdownValue(json["on"]!) == "yes")
        #expect(Report.markdownValue(false) == "no" && Report.markdownValue(3) == "3")
    }

    /// SME: the top 5 % (rounded up), at most 1,000; the share is named.
    @Test func smeShare() throws {
        var f = ReportFigures()
        for i in 0..<30_000 {
            f.hosts["h\(i).example"] = .init(
                samples: 1, kept: 1, bytes: 10, keptBytes: 5, keptOriginalBytes: 30_000 - i)
        }
        var o = Report.Options()
        o.sme = true
        let sme = Report(figures: f, sources: ["x"], options: o).aiActDomains
        #expect(sme.share == "top 1000" && sme.rows.count == 1000 && sme.rows.first?.domain == "h0.example")
        var small = ReportFigures()
        for i in 0..<30 {
            small.hosts["h\(i).example"] = .init(samples: 1, kept: 1, keptOriginalBytes: i < 3 ? 100 : 1)
        }
        let s = Report(figures: small, sources: ["x"], options: o).aiActDomains
        #expect(s.share == "top 5%" && s.rows.count == 3, "ceil(5% of 30) = 2, and the third ties with the second")
    }
}
