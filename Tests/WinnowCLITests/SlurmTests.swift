import Foundation
import Testing
import WinnowSQLite
import WinnowSampleWeb
import WinnowShards
import WinnowTestSupport

/// Issue 24: the cluster path on a real Slurm (Debian's slurmctld and slurmd, started by scripts/slurm/start.sh
/// and stopped by PID): deploy/slurm/submit.sh runs an array of 4 parts over the sample web's WAT files and the
/// merge after them; one running task is requeued part way (it resumes its part). The merged index keeps exactly
/// the samples one run over the same inputs keeps, each once, and every shard reads.
@Suite(.serialized) struct SlurmTests {
    /// Runs a shell command with the Slurm client pointed at `conf`; returns stdout.
    static func shell(_ command: String, conf: String) throws -> (status: Int32, out: String, err: String) {
        let r = try TestSupport.run("/bin/bash", ["-c", command], environment: ["SLURM_CONF": conf])
        return (r.status, r.stdout, r.stderr)
    }

    /// A job's fields from `scontrol show job` (the first record: for an array, a task).
    static func job(_ id: String, conf: String) throws -> [String: String] {
        let r = try shell("scontrol show job \(id) --oneliner", conf: conf)
        var fields: [String: String] = [:]
        for word in r.out.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let kv = word.split(separator: "=", maxSplits: 1)
            if kv.count == 2 && fields[String(kv[0])] == nil { fields[String(kv[0])] = String(kv[1]) }
        }
        return fields
    }

    @Test func arrayOfFourWithARequeueThenMergeKeepsWhatOneRunKeeps() throws {
        let slurm = TestSupport.temporaryDirectory("slurm")
        let start = try TestSupport.run("/bin/bash", [TestSupport.packageRoot + "/scripts/slurm/start.sh", slurm])
        try #require(start.status == 0, "\(start.stderr)")
        defer { _ = try? TestSupport.run("/bin/bash", [TestSupport.packageRoot + "/scripts/slurm/stop.sh", slurm]) }
        let conf = slurm + "/slurm.conf"

        let web = try TestSupport.sampleWeb(pages: 16)
        let server = StaticServer(root: web.dir)
        try server.start()
        defer { server.stop() }
        // The sample web's crawl is one WAT file; parts are sets of whole input files, so its candidates (as
        // 'winnow parse' writes them) are cut into five files in order, as a crawl comes in many files.
        let work = TestSupport.temporaryDirectory("slurm-run")
        let parsed = try TestSupport.run(
            TestSupport.winnowBinary,
            ["parse"] + web.manifest.watFiles.map { "\(web.dir)/\($0)" } + ["--output", "-", "--all"])
        try #require(parsed.status == 0, "\(parsed.stderr)")
        let lines = parsed.stdout.split(separator: "\n")
        let per = (lines.count + 4) / 5
        var inputs: [String] = []
        for k in 0..<5 {
            let path = work + "/candidates-\(k).jsonl"
            try lines.dropFirst(k * per).prefix(per).joined(separator: "\n").write(
                toFile: path, atomically: true, encoding: .utf8)
            inputs.append(path)
        }
        try inputs.joined(separator: "\n").write(toFile: work + "/inputs.txt", atomically: true, encoding: .utf8)
        let pipeline = TestSupport.packageRoot + "/pipelines/demo.json"
        let connect = server.connectTo(sites: web.manifest.sites).flatMap { ["--connect-to", $0] }

        // The reference: one run over the same inputs.
        let one = try TestSupport.run(
            TestSupport.winnowBinary, ["run"] + inputs + ["--pipeline", pipeline, "--output", work + "/one"] + connect)
        try #require(one.status == 0, "\(one.stderr)")

        // The array and the merge, through the script users run.
        let out = work + "/cluster"
        let submit = try TestSupport.run(
            "/bin/bash",
            [TestSupport.packageRoot + "/deploy/slurm/submit.sh", pipeline, work + "/inputs.txt", out, "4"],
            environment: [
                "SLURM_CONF": conf, "WINNOW": TestSupport.winnowBinary, "WINNOW_ARGS": connect.joined(separator: " "),
            ])
        try #require(submit.status == 0, "\(submit.stderr)")
        let ids = Dictionary(
            uniqueKeysWithValues: submit.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
                let w = line.split(separator: " ")
                return w.count == 2 ? (String(w[0]), String(w[1])) : nil
            })
        let array = try #require(ids["array"])
        let merge = try #require(ids["merge"])

        // Requeue a task while it runs: it is stopped part way and runs again, resuming its part.
        var requeued: String?
        let deadline = Date().addingTimeInterval(60)
        while requeued == nil && Date() < deadline {
            for task in 0..<4 {
                let id = "\(array)_\(task)"
                if try SlurmTests.job(id, conf: conf)["JobState"] == "RUNNING" {
                    // Let it write something first (its log shows progress), then requeue it.
                    usleep(400_000)
                    let r = try SlurmTests.shell("scontrol requeue \(id)", conf: conf)
                    if r.status == 0 {
                        requeued = id
                        break
                    }
                }
            }
            if requeued == nil { usleep(100_000) }
        }
        #expect(requeued != nil, "no task was caught running")

        // Wait for the merge (bounded).
        var state = ""
        let end = Date().addingTimeInterval(150)
        while Date() < end {
            state = try SlurmTests.job(merge, conf: conf)["JobState"] ?? ""
            if ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"].contains(state) { break }
            usleep(300_000)
        }
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: out + ".logs")) ?? []
        let logText = logs.sorted().map { name in
            "== \(name)\n" + ((try? String(contentsOfFile: out + ".logs/" + name, encoding: .utf8)) ?? "")
        }.joined(separator: "\n")
        try #require(state == "COMPLETED", "merge job \(state)\n\(logText)")
        if let id = requeued {
            let fields = try SlurmTests.job(id, conf: conf)
            #expect(fields["JobState"] == "COMPLETED" && (Int(fields["Restarts"] ?? "0") ?? 0) >= 1, "\(fields)")
            // The requeued task ran the same command again, which resumed its part.
            let task = id.split(separator: "_").last.map(String.init) ?? ""
            let log = (try? String(contentsOfFile: out + ".logs/part-\(task).log", encoding: .utf8)) ?? ""
            #expect(log.contains("/part-\(task): resuming: "), "\(log)")
        }

        // The merged index keeps what one run keeps, each sample once; every shard reads.
        func kept(_ dir: String) throws -> [String] {
            let db = try Connection(path: dir + "/index.sqlite", readOnly: true)
            return try db.query("SELECT key FROM samples WHERE status = 'kept' ORDER BY key").compactMap {
                $0.string("key")
            }
        }
        let clusterKept = try kept(out)
        #expect(clusterKept == (try kept(work + "/one")))
        #expect(Set(clusterKept).count == clusterKept.count)
        let db = try Connection(path: out + "/index.sqlite", readOnly: true)
        for row in try db.query("SELECT name FROM shards") {
            let name = try #require(row.string("name"))
            _ = try TarReader.members(path: out + "/" + name)
        }
        #expect(
            try IndexReader(directory: out).stats().candidates
                == (try IndexReader(directory: work + "/one").stats().candidates))
    }
}
