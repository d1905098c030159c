import Foundation
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowShards

/// One owner of an output directory (issue 20): Winnow writes only into an empty or new directory, or one it wrote
/// (manifest, or an index from before the manifest), and removes nothing it did not write.
@Suite struct OutputDirectoryTests {
    let fm = FileManager.default

    func make(_ names: [String]) -> String {
        let dir = TestSupport.temporaryDirectory()
        for n in names {
            let path = dir + "/" + n
            try? fm.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            #expect(fm.createFile(atPath: path, contents: Data("x".utf8)))
        }
        return dir
    }

    func contents(_ dir: String) -> [String] { ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    @Test func someoneElsesFilesAreRefusedAndKept() throws {
        // An img2dataset output, and a folder of bare tars (names Winnow would use for its own shards).
        for names in [
            ["00000.tar", "00000.parquet", "00000_stats.json", "stats.json"], ["00000.tar", "00001.tar", "00002.tar"],
        ] {
            let dir = make(names)
            for overwrite in [false, true] {
                #expect {
                    try OutputDirectory.claim(
                        dir, command: "run", settings: ["a": "1"], inputs: [], overwrite: overwrite)
                } throws: { error in
                    let e = error as? WinnowError
                    return e?.code == .usage && e?.message.hasPrefix("\(dir): not a Winnow output directory") == true
                        && e?.message.contains("00000.tar") == true
                }
            }
            #expect(contents(dir) == names.sorted())
        }
        let file = make(["f"]) + "/f"
        #expect(throws: WinnowError.self) {
            try OutputDirectory.claim(file, command: "run", settings: [:], inputs: [], overwrite: true)
        }
    }

    @Test func aNewDirectoryGetsAManifest() throws {
        let dir = TestSupport.temporaryDirectory() + "/new/out"
        let (_, message) = try OutputDirectory.claim(
            dir, command: "run", settings: ["name": "A"], inputs: ["a.wat.gz"], overwrite: false)
        #expect(message == nil)
        let m = try #require(try OutputDirectory.manifest(dir))
        #expect(m.command == "run" && m.inputs == ["a.wat.gz"] && m.formatVersion == 1)
        #expect(m.settingsDigest == SHA256.hexDigest(Array("name=A\n".utf8)) && m.settings == ["name": "A"])
        #expect(contents(dir) == ["winnow.json"])
        // Empty directories are fine too.
        let empty = TestSupport.temporaryDirectory()
        _ = try OutputDirectory.claim(empty, command: "run", settings: [:], inputs: [], overwrite: false)
        #expect(contents(empty) == ["winnow.json"])
    }

    @Test func onlyWinnowsFilesAreRemoved() throws {
        let run = [
            "winnow.json", "00000.tar", "00001.tar.partial", "index.sqlite.partial", "policies.sqlite",
            "img_emb/img_emb_00000.npy", "text_emb/text_emb_00000.npy.partial", "optout-audit.jsonl", "notes.txt",
            "img_emb/mine.npy", "0.tar", "backup.tar",
        ]
        // A killed run: its shards, index and embedding files go; its policy cache, the audit log and the user's
        // files stay.
        let killed = make(run)
        let (_, message) = try OutputDirectory.claim(
            killed, command: "run", settings: [:], inputs: [], overwrite: false)
        #expect(
            message?.contains("found an unfinished run") == true && message?.contains("removed its 5 files") == true)
        #expect(
            contents(killed) == [
                "0.tar", "backup.tar", "img_emb", "notes.txt", "optout-audit.jsonl", "policies.sqlite", "text_emb",
                "winnow.json",
            ])
        #expect(contents(killed + "/img_emb") == ["mine.npy"])
        // A finished run: refused without --overwrite; with it, its policy cache goes too.
        let finished = make(run + ["index.sqlite"])
        let before = contents(finished)
        #expect(throws: WinnowError.self) {
            try OutputDirectory.claim(finished, command: "run", settings: [:], inputs: [], overwrite: false)
        }
        #expect(contents(finished) == before)
        _ = try OutputDirectory.claim(finished, command: "run", settings: [:], inputs: [], overwrite: true)
        #expect(!contents(finished).contains("policies.sqlite") && contents(finished).contains("notes.txt"))
        // A directory an older Winnow wrote (an index, no manifest) is still Winnow's.
        let legacy = make(["index.sqlite", "00000.tar", "notes.txt"])
        _ = try OutputDirectory.claim(legacy, command: "run", settings: [:], inputs: [], overwrite: true)
        #expect(contents(legacy) == ["notes.txt", "winnow.json"])
    }

    /// An unfinished run is resumed by the same command, settings and inputs (nothing removed), and refused with
    /// other ones, the message naming what differs; `--overwrite` starts it over.
    @Test func anUnfinishedRunIsResumedOnlyAsItWas() throws {
        let dir = TestSupport.temporaryDirectory()
        let settings = ["fetch.timeout_seconds": "30.0", "name": "A"]
        _ = try OutputDirectory.claim(dir, command: "run", settings: settings, inputs: ["a.txt"], overwrite: false)
        for name in ["index.sqlite.partial", "00000.tar", "00001.tar.partial", "notes.txt"] {
            #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data([1])))
        }
        let before = contents(dir)
        let (same, message) = try OutputDirectory.claim(
            dir, command: "run", settings: settings, inputs: ["a.txt"], overwrite: false)
        #expect(same.resuming && message == nil && contents(dir) == before)
        func refusal(_ command: String, _ s: [String: String], _ inputs: [String]) -> String {
            do {
                _ = try OutputDirectory.claim(dir, command: command, settings: s, inputs: inputs, overwrite: false)
                return "claimed"
            } catch {
                return "\(error)"
            }
        }
        var other = settings
        other["fetch.timeout_seconds"] = "10.0"
        #expect(
            refusal("run", other, ["a.txt"]).contains(
                "other settings (fetch.timeout_seconds: 30.0 then, 10.0 now); rerun it as it was to resume, or pass --overwrite"
            ))
        #expect(refusal("run", settings, ["b.txt"]).contains("other inputs (a.txt then, b.txt now)"))
        #expect(
            refusal("fetch", settings, ["a.txt"]).contains("another command ('winnow run' then, 'winnow fetch' now)"))
        #expect(contents(dir) == before)
        let (over, _) = try OutputDirectory.claim(
            dir, command: "run", settings: other, inputs: ["a.txt"], overwrite: true)
        #expect(!over.resuming && contents(dir) == ["notes.txt", "winnow.json"])
        #expect(try OutputDirectory.manifest(dir)?.settings == other)
    }

    /// A `winnow.json` that is not Winnow's manifest (a user's file of that name) does not make a directory Winnow's:
    /// refused, nothing removed.
    @Test func anotherProgramsWinnowJSONIsNotAManifest() throws {
        let dir = make(["00000.tar", "00001.tar", "README"])
        try Data(#"{"name": "my pipeline"}"#.utf8).write(to: URL(fileURLWithPath: dir + "/winnow.json"))
        let before = contents(dir)
        #expect(throws: WinnowError.self) {
            try OutputDirectory.claim(dir, command: "run", settings: [:], inputs: [], overwrite: false)
        }
        #expect(throws: WinnowError.self) {
            try OutputDirectory.claim(dir, command: "run", settings: [:], inputs: [], overwrite: true)
        }
        #expect(contents(dir) == before)
    }

    /// A manifest with nothing written beside it (a run refused or killed before its index existed) holds no work:
    /// other settings take the directory afresh.
    @Test func aManifestAloneIsNotARun() throws {
        let dir = TestSupport.temporaryDirectory()
        _ = try OutputDirectory.claim(dir, command: "run", settings: ["a": "1"], inputs: ["x"], overwrite: false)
        #expect(FileManager.default.createFile(atPath: dir + "/policies.sqlite", contents: Data([1])))
        let (d, _) = try OutputDirectory.claim(
            dir, command: "run", settings: ["a": "2"], inputs: ["y"], overwrite: false)
        let m = try OutputDirectory.manifest(dir)
        #expect(!d.resuming && m?.settings == ["a": "2"])
    }

    /// `winnow index merge OUT OUT/part-*`: OUT holds only Winnow output directories, and is taken.
    @Test func aDirectoryOfPartsIsWinnows() throws {
        let out = make(["part-1/index.sqlite"])
        _ = try OutputDirectory.claim(out + "/part-0", command: "run", settings: [:], inputs: [], overwrite: false)
        _ = try OutputDirectory.claim(out, command: "index merge", settings: [:], inputs: [], overwrite: false)
        #expect(contents(out) == ["part-0", "part-1", "winnow.json"])
        let mixed = make(["part-0/index.sqlite", "other/file.txt"])
        #expect(throws: WinnowError.self) {
            try OutputDirectory.claim(mixed, command: "index merge", settings: [:], inputs: [], overwrite: false)
        }
    }
}

/// Caption searches that FTS5 would read as syntax are searched for instead (issue 21: `--caption "t-shirt"` gave
/// SQLite's "no such column: shirt" with the whole statement).
@Suite struct FullTextQueryTests {
    @Test(arguments: [
        ("t-shirt", #""t-shirt""#), ("red AND circle", "red AND circle"), ("circ*", "circ*"),
        ("(red OR blue) NOT green", "(red OR blue) NOT green"), (#""a b" c-d"#, #""a b" "c-d""#),
        ("don't", #""don't""#), ("c++ caf\u{E9}", "\"c++\" caf\u{E9}"), ("caption:red", #""caption:red""#),
        (#"say "hi"#, #"say "hi"#),
    ])
    func quoting(input: String, expected: String) {
        #expect(IndexReader.fullTextQuery(input) == expected)
    }
}
