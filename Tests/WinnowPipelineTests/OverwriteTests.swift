import Foundation
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowPipeline

/// Issue 30: `--overwrite` starts from what the sites say now, not from the replaced run's policy cache.
@Suite struct OverwriteTests {
    @Test func overwriteRemovesThePolicyCacheAndAKilledRunKeepsIt() throws {
        let dir = TestSupport.temporaryDirectory()
        let fm = FileManager.default
        for name in ["index.sqlite", "policies.sqlite", "policies.sqlite-wal", "00000.tar", "notes.txt"] {
            #expect(fm.createFile(atPath: dir + "/" + name, contents: Data([1])))
        }
        #expect(throws: WinnowError.self) { try Runner.prepareOutput(dir, overwrite: false) }
        _ = try Runner.prepareOutput(dir, overwrite: true)
        #expect(try fm.contentsOfDirectory(atPath: dir).sorted() == ["notes.txt", "winnow.json"])
        // A killed run (no index yet) is resumed: its cache stays for the rerun (its writer removes the shard it
        // had begun).
        for name in ["policies.sqlite", "00001.tar.partial"] {
            #expect(fm.createFile(atPath: dir + "/" + name, contents: Data([1])))
        }
        #expect(try Runner.prepareOutput(dir, overwrite: false).resuming)
        #expect(
            try fm.contentsOfDirectory(atPath: dir).sorted() == [
                "00001.tar.partial", "notes.txt", "policies.sqlite", "winnow.json",
            ])
    }
}
