import Foundation
import Testing
import WinnowCore
import WinnowSQLite
import WinnowShards
import WinnowTestSupport

/// Issue 20: a run can be killed at any moment and resumed by running the same command again. A web of 3,000
/// images on nginx; the same `winnow run` killed with SIGKILL at 20 random moments and at the three moments a random
/// kill rarely hits (a shard renamed into place but not committed, its embedding files written, the index just
/// committed), then stopped with SIGTERM and SIGINT, then run to the end. What it left must equal an uninterrupted
/// run's output, and no committed sample may be fetched again.
@Suite(.serialized) struct ResumeTests {
    static let images = 3000

    /// The web: distinct flat-colour PNGs, 24 byte-identical copies (exact duplicates: which copy is kept must not
    /// depend on timing), and 40 URLs that are missing (404). The list in `urls.jsonl`, with captions.
    static func makeWeb(images: Int, copies: Int = 24, missing: Int = 40) throws -> (
        root: String, list: String, paths: [String]
    ) {
        let root = TestSupport.temporaryDirectory("resume-web")
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/img", withIntermediateDirectories: true)
        var paths: [String] = []
        var rng = SplitMix64(seed: 20)
        for i in 0..<images {
            let path = "/img/\(i).png"
            let colour = [UInt16(i % 16 * 16), UInt16(i / 16 % 16 * 16), UInt16(i / 256 * 16)]
            let png = FlatPNG.make(width: 40 + i % 7, height: 40 + i % 5, depth: 8, pixel: colour)
            #expect(fm.createFile(atPath: root + path, contents: Data(png)))
            paths.append(path)
        }
        for i in 0..<copies {
            let original = Int(rng.next() % UInt64(images))
            let path = "/img/copy-\(i).png"
            try fm.copyItem(atPath: root + "/img/\(original).png", toPath: root + path)
            paths.insert(path, at: Int(rng.next() % UInt64(paths.count)))
        }
        for i in 0..<missing { paths.insert("/img/missing-\(i).png", at: Int(rng.next() % UInt64(paths.count))) }
        return (root, root + "/urls.jsonl", paths)
    }

    /// The test's pipeline; with `embed`, the clip-tiny checkpoint's embed stage (slow in a debug build: a few
    /// images a second), so that shards have embedding files.
    static func pipeline(_ dir: String, embed: Bool = false, perShard: Int = 40) throws -> String {
        let path = dir + "/pipeline.json"
        let model = TestSupport.shared("clip-tiny/model")
        try """
        {"name": "resume-test", "parse": {"min_caption_length": 0},
         "fetch": {"concurrency": 32, "timeout": 20, "retries": 0, "allow_ranges": ["127.0.0.0/8"]},
         "image": {"image_size": 32, "min_bytes": 0, "min_side": 0, "pdq": false},
         \(embed ? #""embed": {"model": "\#(model)", "batch_size": 8},"# : "")
         "write": {"samples_per_shard": \(perShard)}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Serves the web and writes its URL list; returns the server and each path's position in the list.
    static func serve(_ web: (root: String, list: String, paths: [String])) throws -> (Nginx, [String: Int]) {
        let nginx = try Nginx(root: web.root)
        var list = ""
        for (i, p) in web.paths.enumerated() {
            list += #"{"url": "http://127.0.0.1:\#(nginx.port)\#(p)", "caption": "flat colour number \#(i)"}"# + "\n"
        }
        try list.write(toFile: web.list, atomically: true, encoding: .utf8)
        return (nginx, Dictionary(uniqueKeysWithValues: web.paths.enumerated().map { ($1, $0) }))
    }

    /// What must be equal between an uninterrupted run and a resumed one: every candidate's outcome and place,
    /// and every shard's bytes.
    /// With `layout` false (after a graceful stop, which closes the open shard short), the shards may be cut at
    /// other places: then every candidate's outcome, and the kept samples in shard order, must be the same.
    static func sameOutput(_ reference: String, _ out: String, layout: Bool = true) throws -> (rows: Int, same: Bool) {
        let a = try Connection(path: reference + "/index.sqlite", readOnly: true)
        let b = try Connection(path: out + "/index.sqlite", readOnly: true)
        if !layout {
            let outcomes = "SELECT key, status, reason, duplicate_of FROM samples ORDER BY id"
            let kept = "SELECT key, size FROM samples WHERE status = 'kept' ORDER BY shard, offset"
            let same =
                try a.query(outcomes).map { "\($0.values)" } == b.query(outcomes).map { "\($0.values)" }
                && a.query(kept).map { "\($0.values)" } == b.query(kept).map { "\($0.values)" }
            return (try a.query(outcomes).count, same)
        }
        let query =
            "SELECT key, status, reason, shard, offset, size, embedding_row, similarity FROM samples ORDER BY id"
        let rowsA = try a.query(query).map { "\($0.values)" }
        let rowsB = try b.query(query).map { "\($0.values)" }
        let shards = "SELECT name, samples, bytes, sha256 FROM shards ORDER BY name"
        let shardsA = try a.query(shards).map { "\($0.values)" }
        let shardsB = try b.query(shards).map { "\($0.values)" }
        // Each shard's Parquet too, byte for byte.
        let tables = try a.query(shards).compactMap { $0.string("name") }.map {
            ($0 as NSString).deletingPathExtension + ".parquet"
        }
        let sameTables = tables.allSatisfy {
            FileManager.default.contentsEqual(atPath: reference + "/" + $0, andPath: out + "/" + $0)
        }
        return (rowsA.count, rowsA == rowsB && shardsA == shardsB && !shardsA.isEmpty && sameTables)
    }

    /// Python reads it all: tarfile, webdataset, numpy; the index agrees with the tars, each key in one tar.
    static func checkWithPython(_ out: String) throws {
        let python = TestSupport.packageRoot + "/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("\(python) is missing: run 'make interop' (make test does) before this test")
            return
        }
        let check = try TestSupport.run(
            python, ["scripts/check_shards.py", "--winnow", TestSupport.winnowBinary, "--output", out],
            cwd: TestSupport.packageRoot)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    /// Starts `winnow ARGS` with its output in files (nothing to read while it runs).
    static func launch(_ args: [String], log: String, environment: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.winnowBinary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["WINNOW_OPTOUT_REGISTRY"] = log + ".no-registry.sqlite"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        try handle.close()
        return p
    }

    /// The sample rows a stopped run committed (0 before its index exists).
    static func committed(_ out: String) throws -> Int {
        let partial = out + "/index.sqlite.partial"
        guard FileManager.default.fileExists(atPath: partial) else { return 0 }
        let db = try Connection(path: partial, readOnly: true)
        return Int(try db.query("SELECT count(*) AS n FROM samples").first?.int("n") ?? 0)
    }

    /// The image paths requested in access-log lines `from...`.
    static func requests(_ log: String, from: Int) -> [String] {
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        return lines.dropFirst(from).compactMap { line -> String? in
            let parts = line.split(separator: " ")
            guard parts.count >= 2, parts[1].hasPrefix("/img/") else { return nil }
            return String(parts[1])
        }
    }

    static func logLines(_ log: String) -> Int {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test func killedTwentyTimesThenResumedEqualsAnUninterruptedRun() throws {
        let web = try ResumeTests.makeWeb(images: ResumeTests.images)
        let (nginx, seqOf) = try ResumeTests.serve(web)
        defer { nginx.stop() }
        let accessLog = nginx.prefix + "/logs/access.log"
        let work = TestSupport.temporaryDirectory("resume")
        let pipeline = try ResumeTests.pipeline(work)

        // The reference: one run, never interrupted.
        let reference = work + "/reference"
        let started = Date()
        let r = try TestSupport.run(
            TestSupport.winnowBinary, ["run", pipeline, "--input", web.list, "--output", reference])
        try #require(r.status == 0, "\(r.stderr)")
        let duration = Date().timeIntervalSince(started)

        // The same command, killed again and again: first at the two moments a random kill rarely hits (the process
        // kills itself there), then at 20 random moments, spread so that the run never gets to its end.
        let out = work + "/out"
        let args = ["run", pipeline, "--input", web.list, "--output", out]
        var rng = SplitMix64(seed: 7)
        var kills = 0
        var crashes: [String] = []
        var refetchedCommitted: [String] = []
        var requestsByPath: [String: Int] = [:]
        var attempt = 0
        let crashPoints = ["shard-renamed:3", "parquet-written:2", "index-committed:4"]
        var finished = false
        while !finished && kills < 20 && attempt < 40 {
            attempt += 1
            let before = try ResumeTests.committed(out)
            let logStart = ResumeTests.logLines(accessLog)
            let log = work + "/run-\(attempt).log"
            let p: Process
            if crashes.count < crashPoints.count {
                let point = crashPoints[crashes.count]
                p = try ResumeTests.launch(args, log: log, environment: ["WINNOW_CRASH_AT": point])
                p.waitUntilExit()
                if p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL { crashes.append(point) }
            } else {
                p = try ResumeTests.launch(args, log: log)
                // Anywhere from start-up (before the index exists) to a share of what is left to do.
                let left = duration * Double(web.paths.count - before) / Double(web.paths.count)
                let u = Double(rng.next() % 1000) / 1000
                usleep(UInt32((0.05 + u * left / Double(20 - kills + 1)) * 1e6))
                if p.isRunning {
                    kill(p.processIdentifier, SIGKILL)
                    kills += 1
                }
                p.waitUntilExit()
            }
            finished = p.terminationStatus == 0 && p.terminationReason == .exit
            // No sample committed before this run started was requested again by it.
            for path in ResumeTests.requests(accessLog, from: logStart) {
                requestsByPath[path, default: 0] += 1
                if let seq = seqOf[path], seq < before { refetchedCommitted.append(path) }
            }
        }
        #expect(kills == 20)
        #expect(crashes == crashPoints)
        #expect(refetchedCommitted.isEmpty, "committed samples fetched again: \(refetchedCommitted.prefix(5))")

        // Then SIGTERM and SIGINT: exit 143 and 130 with a line saying how to resume.
        var stopped: [Int32] = []
        for (sig, status) in [(SIGTERM, Int32(143)), (SIGINT, Int32(130))] where !finished {
            let log = work + "/signal-\(sig).log"
            let logStart = ResumeTests.logLines(accessLog)
            let before = try ResumeTests.committed(out)
            let p = try ResumeTests.launch(args, log: log)
            let left = duration * Double(web.paths.count - before) / Double(web.paths.count)
            usleep(UInt32((0.1 + 0.2 * left) * 1e6))
            if p.isRunning { kill(p.processIdentifier, sig) }
            p.waitUntilExit()
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if p.terminationReason == .exit && p.terminationStatus == status {
                #expect(text.contains("stopped by \(sig == SIGTERM ? "SIGTERM" : "SIGINT")"), "\(text)")
                #expect(text.contains("rerun the same command to resume"), "\(text)")
                stopped.append(status)
            }
            finished = p.terminationStatus == 0 && p.terminationReason == .exit
            for path in ResumeTests.requests(accessLog, from: logStart) {
                requestsByPath[path, default: 0] += 1
                if let seq = seqOf[path], seq < before { refetchedCommitted.append(path) }
            }
        }
        #expect(stopped == [143, 130])
        // And to the end.
        if !finished {
            let last = try TestSupport.run(TestSupport.winnowBinary, args)
            try #require(last.status == 0, "\(last.stderr)")
            #expect(last.stderr.contains("resuming"))
        }
        #expect(refetchedCommitted.isEmpty)
        // Each URL fetched at most once per run that had it in flight (at most 1 + the kills and stops).
        let interruptions = kills + crashes.count + 2
        #expect(requestsByPath.values.allSatisfy { $0 <= 1 + interruptions })

        // The same output as the uninterrupted run: the same samples kept (the same copy of each duplicate), in
        // byte-identical shards, and the same outcome for every candidate.
        // (SIGTERM and SIGINT closed their open shard short: the layout differs, the samples and their order not.)
        let same = try ResumeTests.sameOutput(reference, out, layout: stopped.isEmpty)
        #expect(same.rows == web.paths.count && same.same)
        let stats = try IndexReader(directory: out).stats()
        #expect(stats.kept == ResumeTests.images)  // every distinct image once: of each duplicate pair, one copy
        #expect(stats.droppedByReason["duplicate_sha256"] == 24 && stats.droppedByReason["http_404"] == 40)
        try ResumeTests.checkWithPython(out)
    }

    /// With the embed stage: killed just after a shard's embedding files were written (before the commit), and
    /// once more mid-shard; the resumed output equals the uninterrupted one, embeddings and similarities included.
    @Test func killedAfterAnEmbeddingWriteThenResumed() throws {
        let web = try ResumeTests.makeWeb(images: 40, copies: 2, missing: 2)
        let (nginx, _) = try ResumeTests.serve(web)
        defer { nginx.stop() }
        let work = TestSupport.temporaryDirectory("resume-embed")
        let pipeline = try ResumeTests.pipeline(work, embed: true, perShard: 8)
        let reference = work + "/reference"
        let r = try TestSupport.run(
            TestSupport.winnowBinary, ["run", pipeline, "--input", web.list, "--output", reference])
        try #require(r.status == 0, "\(r.stderr)")
        let out = work + "/out"
        let args = ["run", pipeline, "--input", web.list, "--output", out]
        for point in ["embeddings-written:2", "shard-renamed:2"] {
            let p = try ResumeTests.launch(args, log: work + "/\(point).log", environment: ["WINNOW_CRASH_AT": point])
            p.waitUntilExit()
            #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL, "\(point)")
        }
        let last = try TestSupport.run(TestSupport.winnowBinary, args)
        try #require(last.status == 0, "\(last.stderr)")
        #expect(last.stderr.contains("resuming: 2 shards"), "\(last.stderr)")
        let same = try ResumeTests.sameOutput(reference, out)
        #expect(same.rows == 44 && same.same)
        try ResumeTests.checkWithPython(out)
    }
}

/// Issue 21: a run refused for a bad setting or input creates nothing (no debris for the next run to trip on).
@Suite struct ValidationDebrisTests {
    @Test func aRefusedRunCreatesNothing() throws {
        let dir = TestSupport.temporaryDirectory("debris")
        try "http://127.0.0.1:9/a.jpg\n".write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--registry", dir + "/none.sqlite"], "no opt-out registry here"),
            (["--against", dir + "/missing"], "--against needs a Winnow output"),
            (["--input", dir + "/missing.txt"], "no such input file"),
        ]
        for (extra, message) in cases {
            let out = dir + "/out"
            let r = try TestSupport.run(
                TestSupport.winnowBinary,
                [
                    "run", TestSupport.packageRoot + "/pipelines/demo.json", "--input", dir + "/urls.txt", "--output",
                    out,
                ]
                    + extra)
            #expect(r.status != 0 && r.stderr.contains(message), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(extra)")
        }
    }
}

/// Issue 20: `--retry transient` on a finished output fetches again what failed for a reason that may pass later,
/// against a server that fails some URLs first and serves them later.
@Suite struct RetryTests {
    @Test func retryTransientFetchesAgainWhatFailedAndLeavesTheRest() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        let dir = TestSupport.temporaryDirectory("retry")
        // Ten URLs of which the first five requests get 503; a 404 that stays one; a good one.
        var urls = (0..<10).map { server.url("/flaky/5/\($0)") }
        urls += [server.url("/missing.jpg"), server.url("/flaky/0/ok")]
        try urls.joined(separator: "\n").write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        // Identical bodies: exact dedup off, so that every success is kept.
        try #"{"name": "retry-test", "parse": {"min_caption_length": 0}, "dedup": {"exact": false}}"#.write(
            toFile: dir + "/p.json", atomically: true, encoding: .utf8)
        let out = dir + "/out"
        let common = [
            "--output", out, "--pipeline", dir + "/p.json", "--allow-range", "127.0.0.0/8", "--retries", "0",
        ]
        let first = try TestSupport.run(TestSupport.winnowBinary, ["fetch", dir + "/urls.txt"] + common)
        try #require(first.status == 0, "\(first.stderr)")
        let before = try IndexReader(directory: out).stats()
        #expect(before.kept == 6 && before.droppedByReason == ["http_503": 5, "http_404": 1])
        let shard0 = try Data(contentsOf: URL(fileURLWithPath: out + "/00000.tar"))

        // A retry must keep the run's own settings (fetch settings may change), and cannot overwrite.
        try #"{"name": "retry-test", "parse": {"min_caption_length": 0}, "dedup": {"exact": true}}"#.write(
            toFile: dir + "/other.json", atomically: true, encoding: .utf8)
        let other = try TestSupport.run(
            TestSupport.winnowBinary, ["fetch", "--retry", "transient"] + common + ["--pipeline", dir + "/other.json"])
        #expect(other.status == 64 && other.stderr.contains("only fetch settings may change"), "\(other.stderr)")
        let bad = try TestSupport.run(TestSupport.winnowBinary, ["fetch", "--retry", "Timeout!"] + common)
        #expect(bad.status == 64 && bad.stderr.contains("--retry expects reason codes"), "\(bad.stderr)")

        let retry = try TestSupport.run(
            TestSupport.winnowBinary, ["fetch", "--retry", "transient", "--timeout", "20"] + common)
        try #require(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stderr.contains("fetching again 5 samples dropped as"), "\(retry.stderr)")
        let after = try IndexReader(directory: out).stats()
        #expect(after.kept == 11 && after.droppedByReason == ["http_404": 1] && after.candidates == 12)
        #expect(after.shards == 2)
        // The first shard is untouched; the new one holds the five, and their rows say where, with 2 attempts.
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/00000.tar")) == shard0)
        let db = try Connection(path: out + "/index.sqlite", readOnly: true)
        let rows = try db.query("SELECT shard, attempts FROM samples WHERE shard = '00001.tar'")
        #expect(rows.count == 5 && rows.allSatisfy { $0.int("attempts") == 2 })
        let missing = try db.query("SELECT attempts, reason FROM samples WHERE url LIKE '%missing.jpg'")
        #expect(missing.first?.int("attempts") == 1 && missing.first?.string("reason") == "http_404")
        let members = try TarReader.members(path: out + "/00001.tar").map(\.name)
        #expect(members.count == 15)
        // Nothing left to retry: a second retry fetches nothing and changes nothing.
        let again = try TestSupport.run(TestSupport.winnowBinary, ["fetch", "--retry", "transient"] + common)
        #expect(again.status == 0 && again.stderr.contains("fetching again 0 samples"), "\(again.stderr)")
        #expect(try IndexReader(directory: out).stats().shards == 2)
        // An unfinished run is resumed, not retried.
        try FileManager.default.moveItem(atPath: out + "/index.sqlite", toPath: out + "/index.sqlite.partial")
        let unfinished = try TestSupport.run(TestSupport.winnowBinary, ["fetch", "--retry", "transient"] + common)
        #expect(unfinished.status == 64 && unfinished.stderr.contains("not finished"), "\(unfinished.stderr)")
    }
}

/// Issue 20: JSON Lines progress reaches a pipe while the run is going (a scheduler's log shows it), not at exit.
@Suite struct ProgressPipeTests {
    @Test func progressLinesArriveWhileTheRunGoes() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        let dir = TestSupport.temporaryDirectory("progress")
        // A URL that never answers keeps the run going until its timeout.
        try [server.url("/stall"), server.url("/flaky/0/a")].joined(separator: "\n").write(
            toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        try #"{"name": "progress-test", "parse": {"min_caption_length": 0}}"#.write(
            toFile: dir + "/p.json", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.winnowBinary)
        p.arguments = [
            "fetch", dir + "/urls.txt", "--output", dir + "/out", "--pipeline", dir + "/p.json", "--allow-range",
            "127.0.0.0/8", "--timeout", "4", "--retries", "0",
        ]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Read up to the first newline.
        var line: [UInt8] = []
        let fd = pipe.fileHandleForReading.fileDescriptor
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1 && byte != 0x0a { line.append(byte) }
        let runningWhenRead = p.isRunning
        _ = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""event":"progress""#), "\(text)")
        #expect(runningWhenRead, "the first progress line arrived only after the run ended")
        #expect(p.terminationStatus == 0)
        let stats = try IndexReader(directory: dir + "/out").stats()
        #expect(stats.kept == 1 && stats.droppedByReason == ["timeout": 1], "\(stats.droppedByReason)")
    }
}

/// Issue 20: `winnow parse --output DIR`, killed after its fourth candidate file and run again, writes every
/// candidate of the real Common Crawl samples exactly once (read with two threads: in no fixed order).
@Suite struct ParseResumeTests {
    static func identities(_ dir: String) throws -> [String] {
        var out: [String] = []
        for n in try FileManager.default.contentsOfDirectory(atPath: dir) where n.hasSuffix(".jsonl") {
            let text = try String(contentsOfFile: dir + "/" + n, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                out.append("\(o["input_file"] ?? "") \(o["record_offset"] ?? "") \(o["key"] ?? "")")
            }
        }
        return out.sorted()
    }

    @Test func killedParseResumesWritingEachCandidateOnce() throws {
        let wat = TestSupport.shared("commoncrawl/wat")
        let inputs = try FileManager.default.contentsOfDirectory(atPath: wat).sorted().map { wat + "/" + $0 }
        let dir = TestSupport.temporaryDirectory("parse-resume")
        let args = { (out: String) in
            ["parse"] + inputs + ["--output", out, "--all", "--threads", "2", "--per-file", "50"]
        }
        let reference = try TestSupport.run(TestSupport.winnowBinary, args(dir + "/reference"))
        try #require(reference.status == 0, "\(reference.stderr)")
        let p = try ResumeTests.launch(
            args(dir + "/out"), log: dir + "/killed.log", environment: ["WINNOW_CRASH_AT": "candidates-written:4"])
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        let resumed = try TestSupport.run(TestSupport.winnowBinary, args(dir + "/out"))
        try #require(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming: 4 candidate files (200 candidates) committed"), "\(resumed.stderr)")
        let a = try ParseResumeTests.identities(dir + "/reference")
        let b = try ParseResumeTests.identities(dir + "/out")
        #expect(a.count > 500 && a == b)
        // Finished: the same command is refused, other settings too; --overwrite starts over.
        let again = try TestSupport.run(TestSupport.winnowBinary, args(dir + "/out"))
        #expect(again.status == 64 && again.stderr.contains("already holds a finished 'winnow parse'"))
        let over = try TestSupport.run(TestSupport.winnowBinary, args(dir + "/out") + ["--overwrite"])
        let overwritten = try ParseResumeTests.identities(dir + "/out")
        #expect(over.status == 0 && overwritten == a)
    }
}

/// Issue 21: progress says how far the run is in candidates (the fetch stage's work, not the input bytes, which are
/// read long before) and when it should end.
@Suite struct ProgressETATests {
    @Test func jsonProgressHasPercentAndETA() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        let dir = TestSupport.temporaryDirectory("eta")
        // Twenty quick images, then one that never answers (until the 4 s timeout): most of the run is done early.
        let urls = (0..<20).map { server.url("/flaky/0/\($0)") } + [server.url("/stall")]
        try urls.joined(separator: "\n").write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        try #"{"name": "t", "dedup": {"exact": false}}"#.write(
            toFile: dir + "/p.json", atomically: true, encoding: .utf8)
        let r = try TestSupport.run(
            TestSupport.winnowBinary,
            [
                "fetch", dir + "/urls.txt", "--output", dir + "/out", "--pipeline", dir + "/p.json", "--allow-range",
                "127.0.0.0/8", "--timeout", "4", "--retries", "0",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let progress = lines.filter { $0["event"] as? String == "progress" }
        #expect(progress.contains { ($0["percent"] as? Double ?? 0) > 90 && $0["eta_s"] != nil }, "\(r.stdout)")
        #expect(progress.last?["percent"] as? Double == 100)
    }
}

/// Found in review: two processes on one output, and a stop before a shard fills.
@Suite struct OutputLockTests {
    static func stallingRun(_ dir: String, server: FaultServer) throws -> [String] {
        // Thirty quick images, then one that does not answer until the 20 s timeout.
        let urls = (0..<30).map { server.url("/flaky/0/\($0)") } + [server.url("/stall")]
        try urls.joined(separator: "\n").write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        try #"{"name": "t", "dedup": {"exact": false}, "write": {"samples_per_shard": 1000}}"#.write(
            toFile: dir + "/p.json", atomically: true, encoding: .utf8)
        return [
            "fetch", dir + "/urls.txt", "--output", dir + "/out", "--pipeline", dir + "/p.json", "--allow-range",
            "127.0.0.0/8", "--timeout", "20", "--retries", "0",
        ]
    }

    /// A second process on a directory another one is writing is refused, and changes nothing; so is an
    /// `optout apply` (which edits a finished output in place).
    @Test func aSecondProcessIsRefused() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        let dir = TestSupport.temporaryDirectory("lock")
        let args = try OutputLockTests.stallingRun(dir, server: server)
        let first = try ResumeTests.launch(args, log: dir + "/first.log")
        defer {
            if first.isRunning { kill(first.processIdentifier, SIGKILL) }
            first.waitUntilExit()
        }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: dir + "/out/index.sqlite.partial") {
            usleep(50_000)
        }
        let manifest = try Data(contentsOf: URL(fileURLWithPath: dir + "/out/winnow.json"))
        let second = try TestSupport.run(TestSupport.winnowBinary, args)
        #expect(second.status == 64 && second.stderr.contains("another winnow process is writing"), "\(second.stderr)")
        #expect(first.isRunning)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/out/winnow.json")) == manifest)
        // An index under its final name, so that apply gets as far as the lock (the run's own is still partial).
        try FileManager.default.copyItem(atPath: dir + "/out/index.sqlite.partial", toPath: dir + "/out/index.sqlite")
        let apply = try TestSupport.run(
            TestSupport.winnowBinary, ["optout", "apply", dir + "/out", "--registry", dir + "/none.sqlite"])
        #expect(apply.status == 64 && apply.stderr.contains("another winnow process is writing"), "\(apply.stderr)")
    }

    /// SIGTERM before the open shard is full still commits what was written: the next run starts after it.
    @Test func aStopCommitsTheOpenShard() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        let dir = TestSupport.temporaryDirectory("stop-commit")
        let args = try OutputLockTests.stallingRun(dir, server: server)
        let p = try ResumeTests.launch(args, log: dir + "/stopped.log")
        // Wait until the thirty are written (the progress line says kept 30), then stop.
        for _ in 0..<200 {
            let log = (try? String(contentsOfFile: dir + "/stopped.log", encoding: .utf8)) ?? ""
            if log.contains(#""kept":30"#) { break }
            usleep(50_000)
        }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let log = (try? String(contentsOfFile: dir + "/stopped.log", encoding: .utf8)) ?? ""
        #expect(p.terminationStatus == 143, "\(log)")
        #expect(log.contains("keeps its last commit (1 shard and 30 outcomes)"), "\(log)")
        #expect(FileManager.default.fileExists(atPath: dir + "/out/00000.tar"))
    }
}
