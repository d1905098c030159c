import Foundation
import Testing
import WinnowCore
import WinnowSQLite
import WinnowShards
import WinnowTestSupport

/// Issue 21: the traps a newcomer met in the first hour, each fed to the built binary.
@Suite(.serialized) struct FirstHourTests {
    /// Splits a printed command line into words: spaces separate, double quotes group.
    static func words(_ line: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quoted = false
        var started = false
        for c in line {
            if c == "\"" {
                quoted.toggle()
                started = true
            } else if c == " " && !quoted {
                if started { out.append(current) }
                current = ""
                started = false
            } else {
                current.append(c)
                started = true
            }
        }
        if started { out.append(current) }
        return out
    }

    /// `winnow demo` from a directory outside the repository, then every command it prints, from there too; the
    /// demo consults a registry of its own, never the user's default one.
    @Test func demoFromAnywhereAndEveryCommandItPrints() throws {
        let cwd = TestSupport.temporaryDirectory("demo-cwd")
        let demo = try TestSupport.run(
            TestSupport.winnowBinary, ["demo", "--output", "d", "--pages", "12"], cwd: cwd)
        try #require(demo.status == 0, "\(demo.stderr)")
        let printed = demo.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix(TestSupport.winnowBinary + " ") }
        #expect(printed.count >= 8, "\(demo.stdout)")
        var ran: [String] = []
        for line in printed {
            let w = FirstHourTests.words(line)
            let r = try TestSupport.run(w[0], Array(w.dropFirst()), cwd: cwd)
            #expect(r.status == 0, "\(line)\n\(r.stderr)")
            ran.append(w[1])
        }
        #expect(Set(ran).isSuperset(of: ["stats", "query", "get", "embed", "optout"]))
        let out = cwd + "/d/out"
        // Duplicates are found by what they duplicate; the shards' .json carry LAION's hash, uid and similarity.
        let db = try Connection(path: out + "/index.sqlite", readOnly: true)
        let original = try #require(
            try db.query("SELECT duplicate_of FROM samples WHERE duplicate_of IS NOT NULL").first?.string(
                "duplicate_of"))
        let copies = try db.query("SELECT key FROM samples WHERE duplicate_of = ?1", [original]).count
        let q = try TestSupport.run(TestSupport.winnowBinary, ["query", out, "--duplicate-of", original, "--json"])
        #expect(q.status == 0 && q.stdout.split(separator: "\n").count == copies, "\(q.stdout)\(q.stderr)")
        #expect(q.stdout.contains(#""duplicate_of":"\#(original)""#))
        let kept = try #require(try db.query("SELECT key FROM samples WHERE status = 'kept'").first?.string("key"))
        let json = try TestSupport.run(TestSupport.winnowBinary, ["get", out, kept, "--ext", "json", "--output", "-"])
        for field in [#""hash":"#, #""uid":""#, #""similarity":"#] {
            #expect(json.stdout.contains(field), "\(field) in \(json.stdout)")
        }
        // The summary: sizes for people, and which registry was consulted.
        #expect(demo.stdout.contains(" KB (") || demo.stdout.contains(" MB ("), "\(demo.stdout)")
        #expect(demo.stdout.contains("opt-out registry"), "\(demo.stdout)")
        // Progress (JSON here: stdout is a pipe) shows the embed stage and the share done.
        #expect(demo.stdout.contains(#""embedded":"#) && demo.stdout.contains(#""percent":"#), "\(demo.stdout)")
        // The user's default registry opts a demo site out: the demo does not consult it.
        let userRegistry = cwd + "/user-registry.sqlite"
        let site = "shapes-gallery.test"
        let filed = try TestSupport.run(
            TestSupport.winnowBinary,
            [
                "optout", "file", "d/out", "--domain", site, "--reason", "test", "--requester", "test", "--registry",
                userRegistry,
            ], cwd: cwd)
        try #require(filed.status == 0, "\(filed.stderr)")
        let again = try TestSupport.run(
            TestSupport.winnowBinary, ["demo", "--output", "d2", "--pages", "12"], cwd: cwd,
            environment: ["WINNOW_OPTOUT_REGISTRY": userRegistry])
        try #require(again.status == 0, "\(again.stderr)")
        let stats = try IndexReader(directory: cwd + "/d2/out").stats()
        #expect(stats.droppedByReason["opt_out_registry"] == nil)
        #expect(stats.optOutRegistry == nil)
        #expect(!again.stdout.contains(userRegistry))
    }

    /// URL lists: a plain list keeps captionless images (img2dataset's behaviour); a csv's caption column is found
    /// by its name and said; a pipeline that asks for captions drops them, and the summary says why in words.
    @Test func urlListCaptions() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        let dir = TestSupport.temporaryDirectory("captions")
        let urls = (0..<4).map { server.url("/flaky/0/\($0)") }
        try urls.joined(separator: "\n").write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        try (["url,text"] + urls.map { $0 + ",a small orange square" }).joined(separator: "\n").write(
            toFile: dir + "/urls.csv", atomically: true, encoding: .utf8)
        // Identical bodies: exact dedup off.
        try #"{"name": "t", "dedup": {"exact": false}}"#.write(
            toFile: dir + "/p.json", atomically: true, encoding: .utf8)
        try #"{"name": "t", "parse": {"min_caption_length": 5}, "dedup": {"exact": false}}"#.write(
            toFile: dir + "/strict.json", atomically: true, encoding: .utf8)
        let common = ["--allow-range", "127.0.0.0/8", "--pipeline"]
        let plain = try TestSupport.run(
            TestSupport.winnowBinary, ["fetch", dir + "/urls.txt", "--output", dir + "/a"] + common + [dir + "/p.json"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(try IndexReader(directory: dir + "/a").stats().kept == 4)
        let csv = try TestSupport.run(
            TestSupport.winnowBinary, ["fetch", dir + "/urls.csv", "--output", dir + "/b"] + common + [dir + "/p.json"])
        #expect(csv.stderr.contains(#"captions from column "text""#), "\(csv.stderr)")
        let db = try Connection(path: dir + "/b/index.sqlite", readOnly: true)
        #expect(
            try db.query("SELECT caption FROM samples").allSatisfy { $0.string("caption") == "a small orange square" })
        let strict = try TestSupport.run(
            TestSupport.winnowBinary,
            ["fetch", dir + "/urls.txt", "--output", dir + "/c"] + common + [dir + "/strict.json"])
        #expect(
            strict.stderr.contains("all 4 candidates were dropped as caption_too_short: ")
                && strict.stderr.contains("--caption-col"), "\(strict.stderr)")
    }

    /// A URL list line with bytes that are not UTF-8 fetches the address it names (`%E9`), not U+FFFD's.
    @Test func nonUTF8URLBytesArePercentEncoded() throws {
        let dir = TestSupport.temporaryDirectory("bytes")
        var line = Array("http://127.0.0.1:9/caf".utf8) + [0xe9] + Array(".png\tcaf".utf8) + [0xe9]
        line += [0x0a]
        try Data(line).write(to: URL(fileURLWithPath: dir + "/urls.txt"))
        let r = try TestSupport.run(TestSupport.winnowBinary, ["parse", dir + "/urls.txt", "--output", "-"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("http://127.0.0.1:9/caf%E9.png"), "\(r.stdout)")
        #expect(r.stdout.contains("caf\u{FFFD}"), "\(r.stdout)")
    }

    /// Options a command would ignore are refused, naming why; so is --against with every dedup off.
    @Test func ignoredOptionsAreRefused() throws {
        let dir = TestSupport.temporaryDirectory("ignored")
        try "http://127.0.0.1:9/a.jpg\n".write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        let parse = try TestSupport.run(
            TestSupport.winnowBinary, ["parse", dir + "/urls.txt", "--output", "-", "--timeout", "3"])
        #expect(parse.status == 64 && parse.stderr.contains("--timeout has no effect here"), "\(parse.stderr)")
        let fetch = try TestSupport.run(
            TestSupport.winnowBinary, ["fetch", dir + "/urls.txt", "--output", dir + "/o", "--resize-mode", "border"])
        #expect(fetch.status == 64 && fetch.stderr.contains("--resize-mode has no effect here"), "\(fetch.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/o"))
        try #"{"name": "t", "parse": {"dedup_url_caption": false}, "dedup": {"exact": false, "perceptual": false}}"#
            .write(toFile: dir + "/nodedup.json", atomically: true, encoding: .utf8)
        let against = try TestSupport.run(
            TestSupport.winnowBinary,
            ["run", dir + "/nodedup.json", "--input", dir + "/urls.txt", "--output", dir + "/r", "--against", dir])
        #expect(against.status == 64 && against.stderr.contains("--against does nothing"), "\(against.stderr)")
    }

    /// Outputs that cannot be created (under a file, under /proc) give one line with the path and the system's
    /// reason, never Foundation's dump.
    @Test func unwritableOutputsAreOneLine() throws {
        let dir = TestSupport.temporaryDirectory("unwritable")
        #expect(FileManager.default.createFile(atPath: dir + "/file", contents: Data([1])))
        try "http://127.0.0.1:9/a.jpg\n".write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        let model = TestSupport.packageRoot + "/models/sample-web-clip"
        let cases: [[String]] = [
            ["sample-web", "--output", dir + "/file/web"],
            ["demo", "--output", "/proc/winnow-demo", "--pages", "2"],
            ["embed", "--model", model, "--text", "a circle", "--output", dir + "/file/emb"],
            ["parse", dir + "/urls.txt", "--output", dir + "/file/candidates"],
            ["fetch", dir + "/urls.txt", "--output", "/proc/winnow-out"],
        ]
        for args in cases {
            let r = try TestSupport.run(TestSupport.winnowBinary, args)
            let lines = r.stderr.split(separator: "\n")
            #expect(r.status == 1 && lines.count == 1, "\(args): \(r.stderr)")
            #expect(!r.stderr.contains("Error Domain") && !r.stderr.contains("NSCocoaErrorDomain"), "\(r.stderr)")
            #expect(r.stderr.contains("/file") || r.stderr.contains("/proc/"), "\(r.stderr)")
        }
    }
}
