import Foundation
import Testing
import WinnowCore
import WinnowParquet
import WinnowSQLite
import WinnowSampleWeb
import WinnowShards
import WinnowTestSupport

/// One run of the demo pipeline over a sample web, shared by the tests below (each works on its own copy).
enum OptOutFixture {
    struct Base: Sendable {
        let web: String
        let manifest: SampleWeb.Manifest
        let output: String
        let runArgs: [String]
    }

    static let base: Result<Base, Error> = Result {
        // 24 pages: two WAT files, so that a run can be split in two parts.
        let web = try TestSupport.sampleWeb(pages: 24)
        // The server lives as long as the test process: future runs in the tests fetch from it too.
        let server = StaticServer(root: web.dir)
        try server.start()
        keepAlive.append(server)
        var args =
            ["run", TestSupport.packageRoot + "/pipelines/demo.json", "--input"]
            + web.manifest.watFiles.map { "\(web.dir)/\($0)" }
        for c in server.connectTo(sites: web.manifest.sites) { args += ["--connect-to", c] }
        let out = TestSupport.temporaryDirectory("optout-base")
        let r = try TestSupport.run(winnow, args + ["--output", out])
        guard r.status == 0 else { throw WinnowError(.io, "base run failed: \(r.stderr)") }
        return Base(web: web.dir, manifest: web.manifest, output: out, runArgs: args)
    }
    nonisolated(unsafe) static var keepAlive: [StaticServer] = []  // written once, under the static's lazy init

    /// A fresh copy of the base run.
    static func copy() throws -> String {
        let b = try base.get()
        let dir = TestSupport.temporaryDirectory("optout-copy")
        try FileManager.default.removeItem(atPath: dir)
        try FileManager.default.copyItem(atPath: b.output, toPath: dir)
        return dir
    }
}

func sha256(ofFile path: String) throws -> String {
    SHA256.hexDigest([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
}

/// Every file of an output directory (shards, embeddings) with its checksum.
func checksums(_ dir: String) throws -> [String: String] {
    var out: [String: String] = [:]
    for sub in ["", "img_emb", "text_emb"] {
        let d = sub.isEmpty ? dir : dir + "/" + sub
        for n in (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []
        where n.hasSuffix(".tar") || n.hasSuffix(".npy") || n.hasSuffix(".parquet") {
            out[(sub.isEmpty ? "" : sub + "/") + n] = try sha256(ofFile: d + "/" + n)
        }
    }
    return out
}

/// The image embedding row of every kept sample, by key.
func imageEmbeddings(_ dir: String) throws -> [String: [Float]] {
    let db = try Connection(path: dir + "/index.sqlite", readOnly: true)
    var out: [String: [Float]] = [:]
    var files: [String: NPY.Array] = [:]
    for r in try db.query("SELECT key, shard, embedding_row FROM samples WHERE status = 'kept'") {
        let shard = (r.string("shard") ?? "") as NSString
        let path = "\(dir)/img_emb/img_emb_\(shard.deletingPathExtension).npy"
        if files[path] == nil {
            files[path] = try NPY.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), name: path)
        }
        let a = try #require(files[path])
        let row = Int(try #require(r.int("embedding_row")))
        out[r.string("key") ?? ""] = Array(a.values[(row * a.shape[1])..<((row + 1) * a.shape[1])])
    }
    return out
}

/// An output directory is whole: every shard holds exactly its kept samples (by the index), where the index says,
/// with the shard table's checksum; every embedding file has exactly one row per kept sample.
func expectConsistent(_ dir: String) throws {
    let db = try Connection(path: dir + "/index.sqlite", readOnly: true)
    #expect(try db.query("SELECT 1 FROM pending_renames").isEmpty)
    for s in try db.query("SELECT name, samples, bytes, sha256 FROM shards") {
        let name = s.string("name") ?? ""
        let path = dir + "/" + name
        #expect(try sha256(ofFile: path) == s.string("sha256"), "\(name) checksum")
        let members = try TarReader.members(path: path)
        let kept = try db.query(
            "SELECT key, offset, size, embedding_row FROM samples WHERE status = 'kept' AND shard = ?1", [name])
        #expect(kept.count == Int(s.int("samples") ?? -1))
        #expect(Set(members.map { String($0.name.prefix { $0 != "." }) }) == Set(kept.compactMap { $0.string("key") }))
        for k in kept {
            let m = members.first { $0.offset == k.int("offset") ?? -1 }
            #expect(m?.name.hasPrefix((k.string("key") ?? "") + ".") == true && m?.size == Int(k.int("size") ?? -1))
        }
        let rows = kept.compactMap { $0.int("embedding_row") }.sorted()
        #expect(rows == (0..<Int64(rows.count)).map { $0 })
        // The shard's Parquet holds its kept samples, in tar order: removed ones left it with the tar.
        let table = try ParquetFile(path: "\(dir)/\((name as NSString).deletingPathExtension).parquet")
        let keys = try table.read(rowGroup: 0, columns: [try #require(table.column(named: "key"))])[0]
        guard case .bytes(let k) = keys.values else { throw TestSupportError("key column type") }
        let inOrder = kept.sorted { ($0.int("offset") ?? 0) < ($1.int("offset") ?? 0) }.compactMap { $0.string("key") }
        #expect((0..<k.count).map { k.string($0) } == inOrder, "\(name): Parquet keys")
        let npy = "\(dir)/img_emb/img_emb_\((name as NSString).deletingPathExtension).npy"
        let a = try NPY.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: npy))), name: npy)
        #expect(a.shape[0] == rows.count)
    }
}

@Suite(.serialized) struct OptOutCLITests {
    func registry() -> String { TestSupport.temporaryDirectory("registry") + "/optout.sqlite" }

    func kept(_ dir: String, _ sql: String) throws -> [Row] {
        try Connection(path: dir + "/index.sqlite", readOnly: true).query(
            "SELECT key, url, md5, sha256, shard FROM samples WHERE status = 'kept' AND \(sql) ORDER BY id")
    }

    /// The whole cycle: file requests of every form, see what they match, apply them, query the result, and run
    /// again against the registry.
    @Test func fileMatchApplyQueryAndRunAgain() throws {
        let base = try OptOutFixture.base.get()
        let dir = try OptOutFixture.copy()
        let reg = registry()
        let site = try #require(base.manifest.sites.first)
        let onSite = try kept(dir, "url LIKE 'http://\(site)/%'")
        #expect(!onSite.isEmpty)
        let others = try kept(dir, "url NOT LIKE 'http://\(site)/%'")
        #expect(others.count >= 3)

        let f1 = try TestSupport.run(
            winnow,
            [
                "optout", "file", dir, "--domain", site, "--reason", "The site owner opts out", "--requester",
                "Site Owner",
                "--registry", reg,
            ])
        #expect(f1.status == 0, "\(f1.stderr)")
        #expect(f1.stdout.hasPrefix("R000001: 1 entry; \(onSite.count) samples of \(dir) match"))
        let byKey = others[0].string("key") ?? ""
        let bySHA = others[1].string("sha256") ?? ""
        let byMD5 = others[2].string("md5") ?? ""
        let f2 = try TestSupport.run(
            winnow,
            [
                "optout", "file", dir, "--key", byKey, "--sha256", bySHA, "--reason", "mine", "--requester",
                "An Artist",
                "--registry", reg, "--json",
            ])
        #expect(f2.status == 0, "\(f2.stderr)")
        let lines = f2.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(lines.first?["request"] as? String == "R000002" && lines.first?["matches"] as? Int == 2)
        #expect(Set(lines.dropFirst().compactMap { $0["match"] as? String }) == ["key", "sha256"])
        let list = TestSupport.temporaryDirectory() + "/list.txt"
        try "# supplied list\n\(byMD5.uppercased())  image.jpg\n\(String(repeating: "0", count: 40))\n".write(
            toFile: list, atomically: true, encoding: .utf8)
        let f3 = try TestSupport.run(
            winnow,
            [
                "optout", "file", dir, "--hash-list", list, "--reason", "list", "--requester", "A Hotline",
                "--registry", reg,
            ])
        #expect(
            f3.status == 0 && f3.stdout.hasPrefix("R000003: 2 entries; 1 sample of \(dir) matches"),
            "\(f3.stdout) \(f3.stderr)")

        // Bad requests: clear messages, nothing filed.
        for (args, message, status) in [
            (["--key", "0123456789abcdef"], "--key 0123456789abcdef: no sample with that key in", Int32(1)),
            (["--md5", "12345"], "--md5: \"12345\" is not a hex MD5 (32 hex digits)", 64),
            (["--url", "not a url"], "is not an http(s) URL", 64), ([], "name what to remove", 64),
        ] {
            let r = try TestSupport.run(
                winnow, ["optout", "file", dir] + args + ["--reason", "r", "--requester", "q", "--registry", reg])
            #expect(r.status == status && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        let noReason = try TestSupport.run(winnow, ["optout", "file", dir, "--domain", "a.example", "--registry", reg])
        #expect(noReason.status == 64 && noReason.stderr.contains("--reason TEXT is required"))
        let none = try TestSupport.run(
            winnow,
            [
                "optout", "file", dir, "--domain", "nowhere.example", "--reason", "r", "--requester", "q", "--registry",
                reg,
            ])
        #expect(none.status == 0 && none.stderr.contains("nothing in \(dir) matches; R000004 is recorded"))
        let bad = try TestSupport.run(winnow, ["optout", "show", "R000099", "--registry", reg])
        #expect(bad.status == 1 && bad.stderr.contains("\"R000099\": no such request"))
        let shown = try TestSupport.run(winnow, ["optout", "show", "R000002", "--registry", reg])
        #expect(shown.stdout.contains("by An Artist") && shown.stdout.contains("2 samples matched when filed"))
        let listed = try TestSupport.run(winnow, ["optout", "list", "--registry", reg, "--json"])
        #expect(listed.stdout.split(separator: "\n").count == 4)

        // Apply: affected shards rewritten, the others untouched, embeddings kept for the rest, an audit line.
        let before = try checksums(dir)
        let embeddingsBefore = try imageEmbeddings(dir)
        let removedKeys = Set((onSite + [others[0], others[1], others[2]]).compactMap { $0.string("key") })
        let affected = Set((onSite + [others[0], others[1], others[2]]).compactMap { $0.string("shard") })
        let a = try TestSupport.run(winnow, ["optout", "apply", dir, "--registry", reg])
        #expect(a.status == 0, "\(a.stderr)")
        let shardCount = affected.count == 1 ? "1 shard" : "\(affected.count) shards"
        #expect(a.stdout.hasPrefix("removed \(removedKeys.count) samples from \(shardCount)"))
        try expectConsistent(dir)
        let after = try checksums(dir)
        for (file, sum) in before {
            let shard =
                file.hasSuffix(".tar")
                ? file
                : file.hasSuffix(".parquet")
                    ? file.replacingOccurrences(of: ".parquet", with: ".tar")
                    : String(file.split(separator: "_").last ?? "").replacingOccurrences(of: ".npy", with: ".tar")
            #expect((after[file] == sum) == !affected.contains(shard), "\(file)")
        }
        let embeddingsAfter = try imageEmbeddings(dir)
        #expect(Set(embeddingsAfter.keys) == Set(embeddingsBefore.keys).subtracting(removedKeys))
        #expect(embeddingsAfter.allSatisfy { embeddingsBefore[$0.key] == $0.value })
        let db = try Connection(path: dir + "/index.sqlite", readOnly: true)
        let removedRows = try db.query(
            "SELECT key, removed_by, reason_detail FROM samples WHERE reason = 'opt_out_removed'")
        #expect(Set(removedRows.compactMap { $0.string("key") }) == removedKeys)
        #expect(removedRows.first { $0.string("key") == byKey }?.string("removed_by") == "R000002")
        let audit = try String(contentsOfFile: dir + "/optout-audit.jsonl", encoding: .utf8)
        let entries = audit.split(separator: "\n")
        #expect(entries.count == 1)
        let entry = try #require(try JSONSerialization.jsonObject(with: Data(entries[0].utf8)) as? [String: Any])
        #expect((entry["removed"] as? [Any])?.count == removedKeys.count)
        let shards = try #require(entry["shards"] as? [[String: Any]])
        for s in shards {
            let name = try #require(s["shard"] as? String)
            #expect(s["sha256_before"] as? String == before[name] && s["sha256_after"] as? String == after[name])
        }
        #expect(((entry["requests"] as? [String: [String: String]])?["R000001"])?["requester"] == "Site Owner")

        // Query and get see the new state.
        let q = try TestSupport.run(winnow, ["query", dir, "--reason", "opt_out_removed", "--limit", "1000", "--json"])
        #expect(q.stdout.split(separator: "\n").count == removedKeys.count)
        let gone = try TestSupport.run(winnow, ["get", dir, byKey, "--output", "-"])
        #expect(gone.status == 64 && gone.stderr.contains("was dropped (opt_out_removed)"))
        let survivor = try #require(others.last?.string("key"))
        let got = try TestSupport.run(winnow, ["get", dir, survivor, "--output", "-", "--ext", "json"])
        #expect(got.status == 0 && got.stdout.contains("\"key\":\"\(survivor)\""))

        // Idempotent: a second apply changes nothing.
        let again = try TestSupport.run(winnow, ["optout", "apply", dir, "--registry", reg])
        #expect(again.status == 0 && again.stdout.hasPrefix("0 samples of \(dir) match"))
        #expect(try checksums(dir) == after)
        #expect(try String(contentsOfFile: dir + "/optout-audit.jsonl", encoding: .utf8) == audit)

        // A future run consults the registry: the domain is never fetched, the hashed images are not kept.
        let out = TestSupport.temporaryDirectory("optout-rerun")
        let r = try TestSupport.run(winnow, base.runArgs + ["--output", out, "--registry", reg])
        #expect(r.status == 0, "\(r.stderr)")
        let rerun = try Connection(path: out + "/index.sqlite", readOnly: true)
        #expect(try rerun.query("SELECT 1 FROM samples WHERE status = 'kept' AND url LIKE 'http://\(site)/%'").isEmpty)
        let blocked = try rerun.query(
            "SELECT key, http_status, reason_detail FROM samples WHERE reason = 'opt_out_registry'")
        let blockedKeys = Set(blocked.compactMap { $0.string("key") })
        #expect(removedKeys.isSubset(of: blockedKeys))
        for b in blocked where b.string("reason_detail")?.contains(" domain ") == true {
            #expect(b.int("http_status") == nil, "a domain opt-out is checked before the download")
        }
        #expect(
            blocked.contains {
                $0.string("key") == others[1].string("key") && $0.string("reason_detail")?.contains("sha256") == true
            })
        #expect(
            blocked.contains {
                $0.string("key") == others[2].string("key") && $0.string("reason_detail")?.contains("md5") == true
            })
    }

    /// An image request: its look matched through the CLIP embeddings of DIR (the stored copy is re-encoded and
    /// resized, so its bytes differ); a dry run files nothing, and a bad model stops the request before it is filed.
    @Test func imageRequestMatchesBySimilarity() throws {
        let dir = try OptOutFixture.base.get().output
        let reg = registry()
        let key = try #require(try kept(dir, "1").first?.string("key"))
        let file = TestSupport.temporaryDirectory() + "/mine.jpg"
        #expect(try TestSupport.run(winnow, ["get", dir, key, "--output", file]).status == 0)
        let common = ["--image", file, "--reason", "my picture", "--requester", "Its Author", "--registry", reg]
        let dry = try TestSupport.run(
            winnow, ["optout", "file", dir, "--clip-threshold", "0.98", "--dry-run", "--json"] + common)
        #expect(dry.status == 0, "\(dry.stderr)")
        let lines = dry.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(lines.first?["request"] as? String == "(dry run)")
        let own = lines.dropFirst().first { $0["key"] as? String == key }
        let how = try #require(own?["match"] as? String)
        #expect(how.hasPrefix("clip ") && Double(how.dropFirst(5)) ?? 0 >= 0.98, "\(how)")
        #expect(!FileManager.default.fileExists(atPath: reg))
        let bad = try TestSupport.run(
            winnow, ["optout", "file", dir, "--clip-threshold", "0.9", "--model", "/no/such/model"] + common)
        #expect(bad.status != 0 && bad.stderr.contains("/no/such/model"))
        #expect(!FileManager.default.fileExists(atPath: reg))
        let filed = try TestSupport.run(winnow, ["optout", "file", dir, "--clip-threshold", "0.98"] + common)
        #expect(filed.status == 0 && filed.stdout.hasPrefix("R000001: "), "\(filed.stderr)")
        let shown = try TestSupport.run(winnow, ["optout", "show", "R000001", "--registry", reg, "--json"])
        #expect(shown.stdout.contains("\"kind\":\"key\"") && shown.stdout.contains(key))
    }

    /// An apply killed at each step leaves a directory the next apply finishes; the result is the same as an
    /// uninterrupted apply, with one audit line.
    @Test(arguments: ["apply.partials-written", "apply.committed", "apply.renamed-one", "apply.audited"])
    func killDuringApplyThenRerun(point: String) throws {
        let base = try OptOutFixture.base.get()
        let dir = try OptOutFixture.copy()
        let reg = registry()
        let site = try #require(base.manifest.sites.last)
        let f = try TestSupport.run(
            winnow, ["optout", "file", dir, "--domain", site, "--reason", "r", "--requester", "q", "--registry", reg])
        #expect(f.status == 0, "\(f.stderr)")
        let before = try checksums(dir)
        let killed = try TestSupport.run(
            winnow, ["optout", "apply", dir, "--registry", reg], environment: ["WINNOW_CRASH_AT": point])
        #expect(killed.status == 137, "\(point): \(killed.stderr)")
        if point == "apply.partials-written" {
            // Killed before its commit: the directory is as it was, apart from .partial files.
            #expect(try checksums(dir) == before)
            _ = try IndexReader(directory: dir).stats()
        } else if point != "apply.audited" {
            let q = try TestSupport.run(winnow, ["query", dir, "--limit", "1"])
            #expect(q.status == 64 && q.stderr.contains("an opt-out apply was interrupted"), "\(q.stderr)")
        }
        let r = try TestSupport.run(winnow, ["optout", "apply", dir, "--registry", reg])
        #expect(r.status == 0, "\(r.stderr)")
        try expectConsistent(dir)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(!names.contains { $0.hasSuffix(".partial") })
        let audit = try String(contentsOfFile: dir + "/optout-audit.jsonl", encoding: .utf8)
        #expect(audit.split(separator: "\n").count == 1)
        #expect(try kept(dir, "url LIKE 'http://\(site)/%'").isEmpty)
    }
}
