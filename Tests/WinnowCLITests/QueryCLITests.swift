import Foundation
import Testing
import WinnowSQLite
import WinnowShards
import WinnowTestSupport

@Suite(.serialized) struct QueryCLITests {
    /// The JSON rows, each value as text for the comparisons below (numbers must be JSON numbers: a row whose
    /// numeric column came as a string is dropped here and fails the counts).
    func json(_ stdout: String) -> [[String: String]] {
        stdout.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            var row: [String: String] = [:]
            for (k, v) in o {
                if let n = v as? NSNumber, !(v is String) {
                    row[k] = n.stringValue
                } else if let t = v as? String {
                    if QueryCLITests.numeric.contains(k) { return nil }
                    row[k] = t
                }
            }
            return row
        }
    }

    /// Columns that are numbers in the index.
    static let numeric: Set<String> = [
        "similarity", "score", "original_width", "original_height", "stored_width", "stored_height", "size", "offset",
        "tar_offset", "http_status", "original_bytes", "record_offset",
    ]

    @Test func conditionsNarrowTheRows() throws {
        let dir = try OptOutFixture.base.get().output
        let db = try Connection(path: dir + "/index.sqlite", readOnly: true)
        // Full text, with stemming: "circle" finds every caption with circle or circles; AND needs both words.
        let circle = json(
            try TestSupport.run(winnow, ["query", dir, "--caption", "circle", "--limit", "1000", "--json"]).stdout)
        let like = try db.query("SELECT key FROM samples WHERE caption LIKE '%circle%'")
        #expect(!circle.isEmpty && circle.count == like.count)
        let fts = json(try TestSupport.run(winnow, ["query", dir, "--caption", "RED AND circle", "--json"]).stdout)
        #expect(!fts.isEmpty)
        #expect(
            fts.allSatisfy {
                ($0["caption"] ?? "").lowercased().contains("circle")
                    && ($0["caption"] ?? "").lowercased().contains("red")
            })
        let prefix = json(
            try TestSupport.run(winnow, ["query", dir, "--caption", "circ*", "--json", "--limit", "500"]).stdout)
        #expect(prefix.count >= fts.count)
        // Words FTS5 would read as syntax are searched for, not an SQL error.
        let hyphen = try TestSupport.run(winnow, ["query", dir, "--caption", "t-shirt", "--json"])
        #expect(hyphen.status == 0 && !hyphen.stderr.contains("SELECT"), "\(hyphen.stderr)")
        // The default limit of 50 says when it cut the list short.
        let all = try TestSupport.run(winnow, ["query", dir, "--json"])
        #expect(json(all.stdout).count == 50 && all.stderr.contains("showing the first 50 matching samples"))
        let bad = try TestSupport.run(winnow, ["query", dir, "--caption", "\"unterminated"])
        #expect(bad.status == 64 && bad.stderr.contains("not a full-text query"), "\(bad.stderr)")

        // Domain, similarity and size ranges.
        let site = try #require(try OptOutFixture.base.get().manifest.sites.first)
        let d = json(try TestSupport.run(winnow, ["query", dir, "--domain", site, "--limit", "500", "--json"]).stdout)
        let onSite = try db.query("SELECT count(*) AS n FROM samples WHERE url LIKE 'http://\(site)/%'")[0].int("n")
        #expect(d.count == Int(onSite ?? -1) && d.allSatisfy { ($0["url"] ?? "").hasPrefix("http://\(site)/") })
        let sim = json(
            try TestSupport.run(
                winnow,
                ["query", dir, "--min-similarity", "0.9", "--max-similarity", "0.95", "--limit", "500", "--json"]
            ).stdout)
        #expect(!sim.isEmpty && sim.allSatisfy { (0.9...0.95).contains(Double($0["similarity"] ?? "") ?? -1) })
        let big = json(
            try TestSupport.run(
                winnow, ["query", dir, "--min-width", "300", "--max-height", "600", "--limit", "500", "--json"]
            )
            .stdout)
        #expect(
            !big.isEmpty
                && big.allSatisfy {
                    Int($0["original_width"] ?? "") ?? 0 >= 300 && Int($0["original_height"] ?? "") ?? 999 <= 600
                })
    }

    /// CLIP search: the text's nearest image embeddings, best first, agreeing with a brute-force cosine over the
    /// stored embeddings; conditions still apply.
    @Test func similarTextAndImage() throws {
        let dir = try OptOutFixture.base.get().output
        let r = try TestSupport.run(
            winnow, ["query", dir, "--similar-text", "a red circle on a white background", "--k", "5", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = json(r.stdout)
        #expect(rows.count == 5)
        let scores = rows.compactMap { Double($0["score"] ?? "") }
        #expect(scores == scores.sorted(by: >))
        #expect(rows.allSatisfy { $0["status"] == "kept" })
        // The best image, used as the query, finds itself first.
        let key = try #require(rows.first?["key"])
        let file = TestSupport.temporaryDirectory() + "/q.jpg"
        #expect(try TestSupport.run(winnow, ["get", dir, key, "--output", file]).status == 0)
        let i = json(try TestSupport.run(winnow, ["query", dir, "--similar-image", file, "--k", "3", "--json"]).stdout)
        #expect(i.first?["key"] == key && Double(i.first?["score"] ?? "") ?? 0 > 0.97)
        let site = try #require(try OptOutFixture.base.get().manifest.sites.last)
        let filtered = json(
            try TestSupport.run(
                winnow, ["query", dir, "--similar-image", file, "--k", "3", "--domain", site, "--json"]
            ).stdout)
        #expect(filtered.allSatisfy { ($0["url"] ?? "").hasPrefix("http://\(site)/") })
        let both = try TestSupport.run(winnow, ["query", dir, "--similar-image", file, "--similar-text", "x"])
        #expect(both.status == 64)
    }

    /// A partitioned run's parts merge into one index that query, get and stats read like one run's; a query can
    /// also span the parts directly.
    @Test func partsMergeAndQueriesSpanDirectories() throws {
        let base = try OptOutFixture.base.get()
        let out = TestSupport.temporaryDirectory("merged")
        for i in 0..<2 {
            let r = try TestSupport.run(winnow, base.runArgs + ["--output", "\(out)/part-\(i)", "--shard", "\(i)/2"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let parts = try (0..<2).map { try IndexReader(directory: "\(out)/part-\($0)").stats() }
        let m = try TestSupport.run(winnow, ["index", "merge", out, "\(out)/part-0", "\(out)/part-1"])
        #expect(m.status == 0, "\(m.stderr)")
        let merged = try IndexReader(directory: out).stats()
        #expect(merged.candidates == parts[0].candidates + parts[1].candidates)
        #expect(merged.shards == parts[0].shards + parts[1].shards)
        let whole = try IndexReader(directory: base.output).stats()
        // Parts dedup only within themselves; the merge decides duplicates across them as one run would (issue 24):
        // the same samples kept as one run over the same inputs.
        #expect(merged.candidates == whole.candidates && merged.kept == whole.kept, "\(m.stdout)")
        #expect(parts[0].kept + parts[1].kept > whole.kept, "the sample web has copies across parts")
        let keptKeys = { (dir: String) in
            Set(
                json(
                    try TestSupport.run(winnow, ["query", dir, "--status", "kept", "--limit", "1000", "--json"]).stdout
                )
                .compactMap { $0["key"] })
        }
        #expect(try keptKeys(out) == keptKeys(base.output))
        // Every kept sample is readable through the merged index; the part's shards are named by their folder.
        let rows = json(
            try TestSupport.run(winnow, ["query", out, "--status", "kept", "--limit", "1000", "--json"]).stdout)
        #expect(rows.count == merged.kept)
        #expect(rows.allSatisfy { ($0["shard"] ?? "").hasPrefix("part-") })
        for r in rows.prefix(5) {
            let g = try TestSupport.run(winnow, ["get", out, r["key"] ?? "", "--output", "-", "--ext", "txt"])
            #expect(g.status == 0 && g.stdout == r["caption"])
        }
        let s = try TestSupport.run(winnow, ["query", out, "--similar-text", "blue squares", "--k", "3", "--json"])
        #expect(json(s.stdout).count == 3, "\(s.stderr)")
        // The same query over both parts at once.
        let span = json(
            try TestSupport.run(
                winnow, ["query", "\(out)/part-0", "\(out)/part-1", "--status", "kept", "--limit", "1000", "--json"]
            ).stdout)
        #expect(span.count == parts[0].kept + parts[1].kept && Set(span.compactMap { $0["directory"] }).count == 2)
        let into = try TestSupport.run(winnow, ["index", "merge", "\(out)/part-0", "\(out)/part-0", "--overwrite"])
        #expect(into.status == 64 && into.stderr.contains("a part cannot be OUT itself"))
        let again = try TestSupport.run(winnow, ["index", "merge", out, "\(out)/part-0"])
        #expect(again.status == 64 && again.stderr.contains("--overwrite"))
        let apply = try TestSupport.run(winnow, ["optout", "apply", out, "--registry", out + "/r.sqlite"])
        #expect(apply.status == 64 && apply.stderr.contains("a merged index; apply to each part"))
    }
}
