import Foundation
import Testing
import WinnowCore
import WinnowTestSupport

/// `fetch.spawning`: a run asks the registry before download; what it lists is dropped and never requested; a run
/// without the key is refused before it creates anything; a registry that cannot be asked drops as transient.
@Suite(.serialized) struct SpawningCLITests {
    @Test func listedURLsAreDroppedBeforeDownload() throws {
        let web = try ResumeTests.makeWeb(images: 30, copies: 0, missing: 0)
        let (nginx, _) = try ResumeTests.serve(web)
        defer { nginx.stop() }
        let fake = SpawningFake(key: "sk", optedOut: ["/img/1.png", "/img/2.png", "/img/3.png"])
        try fake.start()
        defer { fake.stop() }
        let work = TestSupport.temporaryDirectory("spawning")
        try """
        {"parse": {"min_caption_length": 0}, "dedup": {"exact": false, "perceptual": false},
         "fetch": {"allow_ranges": ["127.0.0.0/8"], "retries": 0, "spawning": true,
                   "spawning_url": "\(fake.url)", "spawning_batch": 8},
         "image": {"min_bytes": 0, "min_side": 0}}
        """.write(toFile: work + "/p.json", atomically: true, encoding: .utf8)
        let r = try TestSupport.run(
            TestSupport.winnowBinary, ["run", web.list, "--pipeline", work + "/p.json", "--output", work + "/out"],
            environment: ["SPAWNING_OPTS_KEY": "sk"])
        #expect(r.status == 0, "\(r.stderr)")
        let stats = try TestSupport.run(TestSupport.winnowBinary, ["stats", work + "/out", "--json"])
        #expect(stats.stdout.contains(#""spawning_registry":3"#), "\(stats.stdout)")
        #expect(fake.requestSizes == [8, 8, 8, 6])
        let requested = nginx.accessLog().joined(separator: "\n")
        #expect(!requested.contains("/img/1.png ") && requested.contains("/img/4.png"))
        // Without the key: refused before the output directory is made.
        let noKey = try TestSupport.run(
            TestSupport.winnowBinary, ["run", web.list, "--pipeline", work + "/p.json", "--output", work + "/nokey"])
        #expect(noKey.status != 0 && noKey.stderr.contains("SPAWNING_OPTS_KEY"), "\(noKey.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/nokey"))
        // A key the registry refuses: nothing is downloaded, each sample dropped as spawning_unreachable.
        let refused = try TestSupport.run(
            TestSupport.winnowBinary, ["run", web.list, "--pipeline", work + "/p.json", "--output", work + "/refused"],
            environment: ["SPAWNING_OPTS_KEY": "bad"])
        let refusedStats = try TestSupport.run(TestSupport.winnowBinary, ["stats", work + "/refused", "--json"])
        #expect(refusedStats.stdout.contains(#""spawning_unreachable":30"#), "\(refused.stderr) \(refusedStats.stdout)")
    }
}
