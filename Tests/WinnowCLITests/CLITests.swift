import Foundation
import Testing
import WinnowCore
import WinnowSQLite
import WinnowSampleWeb
import WinnowShards
import WinnowTestSupport

let winnow = TestSupport.winnowBinary

@Suite struct HelpAndUsageTests {
    @Test(arguments: [
        "demo", "run", "parse", "fetch", "query", "get", "stats", "embed", "dedup", "hash", "optout", "index",
        "sample-web",
    ])
    func everyCommandHasHelp(command: String) throws {
        let r = try TestSupport.run(winnow, [command, "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("Usage: winnow \(command)"))
    }

    @Test func overviewListsCommands() throws {
        let r = try TestSupport.run(winnow, ["--help"])
        #expect(r.status == 0)
        for c in [
            "demo", "run", "parse", "fetch", "query", "get", "stats", "embed", "dedup", "hash", "optout", "index",
            "sample-web",
        ] {
            #expect(r.stdout.contains("  \(c) "))
        }
    }

    @Test(arguments: [
        ([String](), "Usage: winnow COMMAND"), (["frobnicate"], "unknown command"), (["run"], "missing INPUT"),
        (["run", "p.json", "--bogus"], "unknown option --bogus"), (["query"], "missing DIR"),
        (["run", "p.json", "--input", "x", "--output", "o", "--shard", "3/2"], "--shard expects I/N"),
        (["sample-web", "--output", "o", "--pages", "many"], "--pages expects a whole number"),
        (["get", "d", "k"], "--output FILE is required"),
    ])
    func usageErrorsExit64WithOneLine(args: [String], message: String) throws {
        let r = try TestSupport.run(winnow, args)
        #expect(r.status == 64)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        if !args.isEmpty { #expect(r.stderr.split(separator: "\n").count == 1) }
    }

    @Test func failuresExit1NamingTheInput() throws {
        let r = try TestSupport.run(winnow, ["stats", "/no/such/dir"])
        #expect(r.status == 1)
        #expect(r.stderr == "winnow stats: /no/such/dir: no such output directory\n")
        let bad = TestSupport.temporaryDirectory() + "/bad.json"
        try Data(#"{"fetch": {"retries": -1}}"#.utf8).write(to: URL(fileURLWithPath: bad))
        let c = try TestSupport.run(winnow, ["run", bad, "--input", "x", "--output", TestSupport.temporaryDirectory()])
        #expect(c.status == 1)
        #expect(c.stderr.contains("bad.json: fetch.retries: must be at least 0"))
        // A trailing comma (which Foundation's reader accepts) is named with its line and column, and nothing is
        // created.
        let comma = TestSupport.temporaryDirectory() + "/comma.json"
        try Data("{\n  \"fetch\": {\"retries\": 1,}\n}\n".utf8).write(to: URL(fileURLWithPath: comma))
        let out = TestSupport.temporaryDirectory() + "/never"
        let t = try TestSupport.run(winnow, ["run", comma, "--input", "x", "--output", out])
        #expect(t.status == 1 && t.stderr == "winnow run: \(comma):2:26: not valid JSON: a trailing comma before '}'\n")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}

@Suite(.serialized) struct PipelineCLITests {
    let web: (dir: String, manifest: SampleWeb.Manifest)
    let server: StaticServer

    init() throws {
        web = try TestSupport.sampleWeb(pages: 8)
        server = StaticServer(root: web.dir)
        try server.start()
    }

    var runArgs: [String] {
        var a =
            ["run", TestSupport.packageRoot + "/pipelines/demo.json", "--input"]
            + web.manifest.watFiles.map { "\(web.dir)/\($0)" }
        for c in server.connectTo(sites: web.manifest.sites) { a += ["--connect-to", c] }
        return a
    }

    @Test func runQueryGetStats() throws {
        let out = TestSupport.temporaryDirectory("cli-out")
        let r = try TestSupport.run(winnow, runArgs + ["--output", out])
        #expect(r.status == 0, "\(r.stderr)")
        // stdout is a pipe: progress and the summary come as JSON Lines.
        let events = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let summary = try #require(events.last)
        #expect(summary["event"] as? String == "summary")
        let stats = try IndexReader(directory: out).stats()
        #expect(summary["kept"] as? Int == stats.kept && summary["candidates"] as? Int == stats.candidates)
        #expect(events.dropLast().allSatisfy { $0["event"] as? String == "progress" })

        let again = try TestSupport.run(winnow, runArgs + ["--output", out])
        #expect(again.status == 64)
        #expect(again.stderr.contains("already holds a finished run"))

        let q = try TestSupport.run(winnow, ["query", out, "--status", "kept", "--limit", "1", "--json"])
        let row = try #require(try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as? [String: Any])
        let key = try #require(row["key"] as? String)
        // Numbers are JSON numbers.
        #expect(row["size"] is Int && row["original_width"] is Int)
        let table = try TestSupport.run(winnow, ["query", out, "--key", key])
        #expect(table.stdout.hasPrefix("key") && table.stdout.contains(key))
        let file = TestSupport.temporaryDirectory() + "/x.jpg"
        let g = try TestSupport.run(winnow, ["get", out, key, "--output", file])
        #expect(g.status == 0)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(bytes.prefix(3) == [0xff, 0xd8, 0xff])
        #expect(bytes.count == row["size"] as? Int)
        let caption = try TestSupport.run(winnow, ["get", out, key, "--output", "-", "--ext", "txt"])
        #expect(caption.stdout == row["caption"] as? String)
        let s = try TestSupport.run(winnow, ["stats", out, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as? [String: Any])
        #expect(json["kept"] as? Int == stats.kept && json["shards"] as? Int == stats.shards)
        let missing = try TestSupport.run(winnow, ["get", out, "0000000000000000", "--output", file])
        // A key that does not exist is a failure (1), not a usage error (64).
        #expect(missing.status == 1 && missing.stderr.contains("no sample with that key"))

        // The report of the run: its files, the provider's answers taken from --provider, bad input in one line.
        let reportDir = TestSupport.temporaryDirectory("cli-report")
        let provider = reportDir + "-provider.json"
        try Data(#"{"provider_name_and_contact": "Example Lab, data@example.org"}"#.utf8)
            .write(to: URL(fileURLWithPath: provider))
        let rep = try TestSupport.run(winnow, ["report", out, "--output", reportDir, "--provider", provider, "--sme"])
        #expect(rep.status == 0, "\(rep.stderr)")
        for f in ["index.html", "summary.json", "README.md", "ai-act-summary.json", "ai-act-summary.md"] {
            #expect(FileManager.default.fileExists(atPath: reportDir + "/" + f), "\(f)")
        }
        let ai = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: reportDir + "/ai-act-summary.json")))
                as? [String: Any])
        let p11 = (ai["section_1"] as? [String: Any])?["1_1_provider"] as? [String: Any]
        #expect(
            (p11?["a_provider_name_and_contact"] as? [String: Any])?["value"] as? String
                == "Example Lab, data@example.org")
        let top = ((ai["section_2"] as? [String: Any])?["2_3_crawled_data"] as? [String: Any])?["g_top_domains"]
        #expect(((top as? [String: Any])?["value"] as? [String: Any])?["share"] as? String == "top 5%")
        let noOutput = try TestSupport.run(winnow, ["report", out])
        #expect(noOutput.status == 64 && noOutput.stderr.contains("--output"))
        let noDir = try TestSupport.run(winnow, ["report", "/no/such/dir", "--output", reportDir])
        #expect(
            noDir.status == 1 && noDir.stderr.split(separator: "\n").count == 1 && noDir.stderr.contains("/no/such/dir")
        )
        try Data("[1, 2]".utf8).write(to: URL(fileURLWithPath: provider))
        let badProvider = try TestSupport.run(winnow, ["report", out, "--output", reportDir, "--provider", provider])
        #expect(badProvider.status == 1 && badProvider.stderr.contains("not a JSON object"))
    }

    /// `winnow embed --shards` adds what the embed stage writes to a finished run: per-shard .npy files with one row
    /// per kept sample, and each sample's similarity and row in the index.
    @Test func embedShardsOfAFinishedRun() throws {
        let out = TestSupport.temporaryDirectory("cli-embed")
        let r = try TestSupport.run(winnow, runArgs + ["--output", out])
        #expect(r.status == 0, "\(r.stderr)")
        let e = try TestSupport.run(
            winnow, ["embed", "--model", TestSupport.shared("clip-tiny/model"), "--shards", out, "--dtype", "float32"])
        #expect(e.status == 0, "\(e.stderr)")
        let db = try Connection(path: out + "/index.sqlite", readOnly: true)
        let kept = try db.query(
            "SELECT shard, similarity, embedding_row FROM samples WHERE status = 'kept' ORDER BY shard, offset")
        #expect(!kept.isEmpty && kept.allSatisfy { $0.double("similarity") != nil })
        var perShard: [String: Int] = [:]
        for row in kept {
            let shard = row.string("shard") ?? ""
            #expect(row.int("embedding_row") == Int64(perShard[shard, default: 0]))
            perShard[shard, default: 0] += 1
        }
        for (shard, n) in perShard {
            let number = (shard as NSString).deletingPathExtension
            let npy = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out + "/img_emb/img_emb_\(number).npy")))
            #expect(npy.count == 128 + n * 24 * 4, "\(shard): \(n) float32 rows of 24")
        }
    }

    /// `winnow dedup` (SemDeDup over the embed stage's embeddings): every sample with embeddings gets a cluster; each
    /// duplicate points at a kept, non-duplicate sample of its cluster at cosine >= 1 - epsilon. The sample web
    /// draws the same scenes many times, so the bundled encoder finds duplicates.
    @Test func semanticDedupOfARun() throws {
        let out = TestSupport.temporaryDirectory("cli-dedup")
        #expect(try TestSupport.run(winnow, runArgs + ["--output", out]).status == 0)
        let r = try TestSupport.run(winnow, ["dedup", out, "--epsilon", "0.1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Int])
        let db = try Connection(path: out + "/index.sqlite", readOnly: true)
        let rows = try db.query(
            "SELECT key, semantic_cluster, semantic_duplicate_of, semantic_similarity FROM samples "
                + "WHERE embedding_row IS NOT NULL")
        #expect(rows.count == summary["samples"] && rows.allSatisfy { $0.int("semantic_cluster") != nil })
        let byKey = Dictionary(uniqueKeysWithValues: rows.map { ($0.string("key") ?? "", $0) })
        let duplicates = rows.filter { $0.string("semantic_duplicate_of") != nil }
        #expect(duplicates.count == summary["duplicates"] && duplicates.count > 0)
        for d in duplicates {
            let kept = try #require(byKey[d.string("semantic_duplicate_of") ?? ""])
            #expect(kept.string("semantic_duplicate_of") == nil)
            #expect(kept.int("semantic_cluster") == d.int("semantic_cluster"))
            #expect((d.double("semantic_similarity") ?? 0) >= 0.9)
        }
        let plain = TestSupport.temporaryDirectory("cli-no-embed")
        let noEmbed = TestSupport.temporaryDirectory() + "/no-embed.json"
        try Data(#"{"write": {"samples_per_shard": 50}}"#.utf8).write(to: URL(fileURLWithPath: noEmbed))
        var args = runArgs
        args[1] = noEmbed
        #expect(try TestSupport.run(winnow, args + ["--output", plain, "--allow-range", "127.0.0.0/8"]).status == 0)
        let none = try TestSupport.run(winnow, ["dedup", plain])
        #expect(none.status == 64 && none.stderr.contains("no sample has embeddings"), "\(none.stderr)")
    }

    @Test func parseWritesCandidateLines() throws {
        let r = try TestSupport.run(winnow, ["parse", "\(web.dir)/\(web.manifest.watFiles[0])", "--output", "-"])
        #expect(r.status == 0)
        let rows = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(!rows.isEmpty)
        for key in ["key", "url", "caption", "page_url", "input_file", "record_offset", "record_id", "page_date"] {
            #expect(rows.allSatisfy { $0[key] != nil }, "\(key)")
        }
        #expect(r.stderr.contains("candidates kept"))
    }

    @Test func parseToADirectoryThenRunFromIt() throws {
        let dir = TestSupport.temporaryDirectory("candidates")
        let p = try TestSupport.run(
            winnow, ["parse"] + web.manifest.watFiles.map { "\(web.dir)/\($0)" } + ["--output", dir, "--threads", "2"])
        #expect(p.status == 0, "\(p.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files == ["candidates-00000.jsonl", "winnow.json"])
        let lines = try String(contentsOfFile: "\(dir)/\(files[0])", encoding: .utf8).split(separator: "\n")
        let out = TestSupport.temporaryDirectory("from-candidates")
        var args = [
            "run", TestSupport.packageRoot + "/pipelines/demo.json", "--input", "\(dir)/\(files[0])", "--output", out,
        ]
        for c in server.connectTo(sites: web.manifest.sites) { args += ["--connect-to", c] }
        let r = try TestSupport.run(winnow, args)
        #expect(r.status == 0, "\(r.stderr)")
        let stats = try IndexReader(directory: out).stats()
        #expect(stats.candidates == lines.count)
        #expect(stats.kept > 0)
        // Provenance survives the round trip: rows point at the WAT records, not at the candidate file.
        let q = try TestSupport.run(winnow, ["query", out, "--limit", "1", "--json"])
        #expect(q.stdout.contains("sample-web-00000.warc.wat.gz"))
    }

    @Test func img2datasetNamedOptionsOverrideThePipeline() throws {
        let out = TestSupport.temporaryDirectory("img2dataset-options")
        let r = try TestSupport.run(
            winnow,
            runArgs + [
                "--output", out, "--image_size", "64", "--resize_mode", "center_crop", "--encode-format", "png",
                "--retries", "0",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let q = try TestSupport.run(winnow, ["query", out, "--status", "kept", "--limit", "1", "--json"])
        let row = try #require(try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as? [String: Any])
        #expect(
            row["stored_width"] as? Int == 64 && row["stored_height"] as? Int == 64
                && row["stored_ext"] as? String == "png")
        let bad = try TestSupport.run(winnow, runArgs + ["--output", out + "-bad", "--resize_mode", "stretch"])
        #expect(bad.status == 64 && bad.stderr.contains("--resize-mode expects one of"))
    }

    /// SIGKILL at any moment never leaves a corrupt tar or index under a final name; the same command then resumes.
    @Test(arguments: [0.05, 0.3, 0.8, 1.5])
    func killAtAnyMomentThenRerun(delay: Double) throws {
        let out = TestSupport.temporaryDirectory("kill")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: winnow)
        p.arguments = runArgs + ["--output", out]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: delay)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        for n in names where n.hasSuffix(".tar") { _ = try TarReader.members(path: "\(out)/\(n)") }
        if names.contains("index.sqlite") { _ = try IndexReader(directory: out).stats() }
        let r = try TestSupport.run(winnow, runArgs + ["--output", out])
        if names.contains("index.sqlite") {
            #expect(r.status == 64)  // it had finished before the kill: a finished run is never overwritten silently
        } else {
            #expect(r.status == 0, "\(r.stderr)")
            if names.contains("index.sqlite.partial") {
                #expect(r.stderr.contains("resuming: "), "\(r.stderr)")
            }
            let stats = try IndexReader(directory: out).stats()
            #expect(stats.candidates == web.manifest.imageLinks)
            for n in try FileManager.default.contentsOfDirectory(atPath: out) where n.hasSuffix(".tar") {
                _ = try TarReader.members(path: "\(out)/\(n)")
            }
        }
    }
}

/// A directory of someone else's shards given as `--output` is refused with one line, and nothing in it changes.
@Suite struct ForeignOutputCLITests {
    @Test func fetchRefusesAnImg2datasetFolder() throws {
        let dir = TestSupport.temporaryDirectory()
        let names = ["00000.tar", "00000.parquet", "00000_stats.json"]
        for n in names { #expect(FileManager.default.createFile(atPath: dir + "/" + n, contents: Data("x".utf8))) }
        let list = TestSupport.temporaryDirectory() + "/urls.txt"
        try Data("http://127.0.0.1:1/a.jpg\n".utf8).write(to: URL(fileURLWithPath: list))
        for extra in [[], ["--overwrite"]] {
            let r = try TestSupport.run(winnow, ["fetch", list, "--output", dir] + extra)
            #expect(r.status == 64, "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("not a Winnow output directory"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == names.sorted())
    }

    /// An output that cannot be created: one line with the path and the system's reason, no Foundation dump.
    @Test func uncreatableOutputsAreNamedInOneLine() throws {
        let file = TestSupport.temporaryDirectory() + "/afile"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let list = TestSupport.temporaryDirectory() + "/urls.txt"
        try Data("http://127.0.0.1:1/a.jpg\n".utf8).write(to: URL(fileURLWithPath: list))
        for (output, message) in [
            ("/proc/winnow-out", "/proc/winnow-out: cannot create the directory: No such file or directory"),
            (file + "/sub", "\(file): cannot create the directory: a file of that name exists"),
            (file, "\(file): exists and is not a directory"),
        ] {
            let r = try TestSupport.run(winnow, ["fetch", list, "--output", output])
            #expect(r.status != 0 && r.stderr == "winnow fetch: \(message)\n", "\(output): \(r.stderr)")
        }
    }
}

/// Progress a scheduler's log can show (issue 20): with stdout a pipe, JSON progress lines arrive while the run is
/// going, not all at once at exit; the last one is not repeated.
@Suite struct ProgressCLITests {
    @Test func progressLinesArriveWhileTheRunGoesOn() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        let list = TestSupport.temporaryDirectory() + "/urls.txt"
        // Transfers that stall: the run lasts until their timeout (6 s).
        try Data(
            (0..<3).map { server.url("/stall?\($0)") + "\ta photo of a red circle on a white background\n" }.joined()
                .utf8
        ).write(
            to: URL(fileURLWithPath: list))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: winnow)
        p.arguments = [
            "fetch", list, "--output", TestSupport.temporaryDirectory() + "/out", "--allow-range", "127.0.0.0/8",
            "--timeout", "6", "--retries", "0",
        ]
        var env = ProcessInfo.processInfo.environment
        env["WINNOW_OPTOUT_REGISTRY"] = TestSupport.temporaryDirectory() + "/none.sqlite"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        let start = Date()
        try p.run()
        // The first line, read from the pipe while the process runs.
        var firstLine = Data()
        while !firstLine.contains(0x0a) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            firstLine.append(chunk)
        }
        let firstAt = Date()
        #expect(String(decoding: firstLine, as: UTF8.self).hasPrefix(#"{"bytes_read""#))
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        // The transfers stall until their 6 s timeout, so the run cannot end sooner: a first line that came only
        // with the others at exit would be less than a moment before the end.
        let first = firstAt.timeIntervalSince(start)
        let total = Date().timeIntervalSince(start)
        print(String(format: "first progress line after %.2f s of a %.2f s run", first, total))
        #expect(total - first > 3, "the first progress line came only at the end")
        let lines = String(decoding: firstLine + rest, as: UTF8.self).split(separator: "\n").map(String.init)
        let progress = lines.filter { $0.contains(#""event":"progress""#) }
        #expect(lines.last?.contains(#""event":"summary""#) == true)
        // No two progress lines carry the same counters.
        let counters = progress.map {
            $0.replacingOccurrences(of: #""elapsed_s":[0-9.]+,"#, with: "", options: .regularExpression)
        }
        #expect(Set(counters).count == counters.count, "\(progress)")
    }
}

/// An input where nothing parses is an input error with one summary line (issue 21): per-record messages are
/// capped and counted, and none echoes more than a short excerpt of the input.
@Suite struct GarbageInputCLITests {
    @Test func garbageIsAnInputErrorInFewLines() throws {
        var rng = SplitMix64(seed: 21)
        let bytes = (0..<300_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let path = TestSupport.temporaryDirectory() + "/garbage.wat.gz"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let p = try TestSupport.run(winnow, ["parse", path, "--output", "-"])
        let lines = p.stderr.split(separator: "\n")
        #expect(p.status == 1 && p.stdout.isEmpty)
        #expect(lines.count <= 8, "\(lines.count) lines")
        #expect(lines.allSatisfy { $0.utf8.count < 600 })
        #expect(p.stderr.contains("\(path): nothing in it could be read (") && p.stderr.contains("bad_url"))
        #expect(lines.last == "winnow parse: no input could be read (\(path))")
        let out = TestSupport.temporaryDirectory() + "/out"
        let r = try TestSupport.run(
            winnow, ["run", TestSupport.packageRoot + "/pipelines/demo.json", "--input", path, "--output", out])
        #expect(r.status == 1 && r.stderr.contains("winnow run: nothing in the inputs could be read ("), "\(r.stderr)")
    }
}
