import Foundation
import Testing
import WinnowCore
import WinnowSQLite
import WinnowTestSupport

/// `winnow parse|run` with inputs over HTTP: paths files, the exit status of an input that cannot be read, and a
/// resumed run that does not download again what it had read.
@Suite(.serialized) struct RemoteInputCLITests {
    @Test func parseReadsURLsAndPathsFilesAndSaysWhichInputFailed() throws {
        let name = "generated_dolma_sample-0000.warc.wat.gz"
        let path = TestSupport.shared("commoncrawl/wat/" + name)
        let server = InputFaultServer()
        server.serve(name, [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        server.serve("inputs.paths", Array("ok/\(name)\nreset/30000/\(name)\n".utf8))
        try server.start()
        defer { server.stop() }
        let local = try TestSupport.run(TestSupport.winnowBinary, ["parse", path, "--output", "-"])
        try #require(local.status == 0, "\(local.stderr)")
        func withoutInput(_ out: String) -> [String] {
            out.split(separator: "\n").map {
                $0.replacingOccurrences(of: #""input_file":"[^"]*","#, with: "", options: .regularExpression)
            }
        }
        // Without --allow-range, the loopback server is refused, as for images: recorded, exit 3.
        let refused = try TestSupport.run(
            TestSupport.winnowBinary, ["parse", server.url("/ok/\(name)"), "--output", "-"])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("address refused"), "\(refused.stderr)")
        // A paths file over HTTP, its paths relative to it; one input resets mid-way and is resumed.
        let listed = try TestSupport.run(
            TestSupport.winnowBinary,
            [
                "parse", "--input-list", server.url("/ok/inputs.paths"), "--base-url", server.url("/"),
                "--allow-range", "127.0.0.0/8", "--output", "-", "--threads", "1",
            ])
        #expect(listed.status == 0, "\(listed.stderr)")
        // The second copy's candidates are dropped as duplicates of the first's, which equal the local read.
        #expect(withoutInput(listed.stdout) == withoutInput(local.stdout))
        #expect(listed.stderr.contains("duplicate_url_caption"), "\(listed.stderr)")
        // One good input and one missing: what could be read is written, the exit status and stderr say the rest.
        let mixed = try TestSupport.run(
            TestSupport.winnowBinary,
            [
                "parse", server.url("/ok/\(name)"), server.url("/ok/missing.gz"), "--allow-range", "127.0.0.0/8",
                "--output", "-", "--threads", "1",
            ])
        #expect(mixed.status == 3, "\(mixed.stderr)")
        #expect(withoutInput(mixed.stdout) == withoutInput(local.stdout))
        #expect(mixed.stderr.contains("missing.gz") && mixed.stderr.contains("HTTP 404"), "\(mixed.stderr)")
    }

    @Test func aResumedRunDoesNotDownloadFinishedInputsAgain() throws {
        let web = try ResumeTests.makeWeb(images: 100, copies: 4, missing: 4)
        let (nginx, _) = try ResumeTests.serve(web)
        defer { nginx.stop() }
        let work = TestSupport.temporaryDirectory("resume-remote")
        let pipeline = try ResumeTests.pipeline(work, perShard: 10)
        // The URL list in four parts, served over HTTP.
        let lines = try String(contentsOfFile: web.list, encoding: .utf8).split(separator: "\n")
        let server = InputFaultServer()
        let per = (lines.count + 3) / 4
        for k in 0..<4 {
            let part = lines[(k * per)..<min(lines.count, (k + 1) * per)]
            // The first part has a line that is not JSON: an input error, which must survive the resume.
            let bad = k == 0 ? "{not json\n" : ""
            server.serve("part-\(k).jsonl", Array((bad + part.joined(separator: "\n") + "\n").utf8))
        }
        try server.start()
        defer { server.stop() }
        let inputs = (0..<4).flatMap { ["--input", server.url("/ok/part-\($0).jsonl")] }
        let reference = work + "/reference"
        let r = try TestSupport.run(TestSupport.winnowBinary, ["run", pipeline, "--output", reference] + inputs)
        try #require(r.status == 0, "\(r.stderr)")

        // Killed at its 7th commit (70 rows: parts 0 and 1 whole, part 2 begun), then the same command again.
        let out = work + "/out"
        let args = ["run", pipeline, "--output", out] + inputs
        let p = try ResumeTests.launch(
            args, log: work + "/killed.log", environment: ["WINNOW_CRASH_AT": "index-committed:7"])
        p.waitUntilExit()
        let killedLog = (try? String(contentsOfFile: work + "/killed.log", encoding: .utf8)) ?? ""
        try #require(p.terminationReason == .uncaughtSignal, "\(killedLog)")
        let before = server.requests
        let resumed = try TestSupport.run(TestSupport.winnowBinary, args)
        try #require(resumed.status == 0, "\(resumed.stderr)")
        let again = server.requests.dropFirst(before.count).map {
            $0.split(separator: " ").first.map(String.init) ?? ""
        }
        #expect(!again.contains("/ok/part-0.jsonl") && !again.contains("/ok/part-1.jsonl"), "\(again)")
        #expect(again.contains("/ok/part-3.jsonl"), "\(again)")
        #expect(resumed.stderr.contains("2 inputs read to the end"), "\(resumed.stderr)")
        let same = try ResumeTests.sameOutput(reference, out)
        #expect(same.same && same.rows == lines.count)
        // The input error of the part not read again was committed with the shards, and is kept.
        func inputErrors(_ dir: String) throws -> [String] {
            try Connection(path: dir + "/index.sqlite", readOnly: true).query(
                "SELECT input_file, record_offset, code FROM input_errors ORDER BY input_file, record_offset"
            ).map { "\($0.string("input_file") ?? "") \($0.int("record_offset") ?? -1) \($0.string("code") ?? "")" }
        }
        #expect(try inputErrors(out) == inputErrors(reference))
        #expect(try inputErrors(out).count == 1)

        // A run with an input that cannot be read finishes the others, names it and exits 3.
        let mixed = try TestSupport.run(
            TestSupport.winnowBinary,
            [
                "run", pipeline, "--output", work + "/mixed", "--input", server.url("/ok/part-0.jsonl"), "--input",
                server.url("/busy/100/part-1.jsonl"),
            ])
        #expect(mixed.status == 3, "\(mixed.stderr)")
        #expect(mixed.stderr.contains("1 input could not be read to the end"), "\(mixed.stderr)")
        // Progress (JSON Lines, stdout not a terminal) gives each remote input's bytes received and size.
        let progress = mixed.stdout.split(separator: "\n").last { $0.contains("\"remote_inputs\"") } ?? ""
        #expect(progress.contains("part-0.jsonl") && progress.contains("\"size\""), "\(mixed.stdout)")
        let stats = try TestSupport.run(TestSupport.winnowBinary, ["stats", work + "/mixed", "--json"])
        #expect(stats.stdout.contains("part-1.jsonl"), "\(stats.stdout)")
    }
}
