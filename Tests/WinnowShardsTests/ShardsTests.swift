import Foundation
import Testing
import WinnowCore
import WinnowSQLite
import WinnowTestSupport

@testable import WinnowShards

func keptSample(_ n: Int) -> Sample {
    var s = Sample(
        candidate: Candidate(
            url: "http://a.test/\(n).jpg", caption: "caption \(n)", pageURL: "http://a.test/",
            provenance: Provenance(inputFile: "in.wat.gz", recordOffset: Int64(n))))
    s.stored = Array(repeating: UInt8(n), count: 700 + n)
    s.originalSize = 1000
    s.sha256 = String(repeating: "a", count: 64)
    s.image = ImageInfo(originalFormat: "jpeg", originalWidth: 10, originalHeight: 10, storedWidth: 5, storedHeight: 5)
    return s
}

@Suite struct TarTests {
    @Test func writesUstarThatReadsBack() throws {
        let dir = TestSupport.temporaryDirectory()
        let w = try TarWriter(path: dir + "/x.tar")
        let a = try w.add(name: "k.jpg", data: Array(repeating: 7, count: 513))
        try w.add(name: "k.txt", data: Array("hello".utf8))
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.tar"), "nothing under the final name before finish")
        _ = try w.finish()
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.tar.partial"))
        let members = try TarReader.members(path: dir + "/x.tar")
        #expect(members.map(\.name) == ["k.jpg", "k.txt"])
        #expect(members[0].offset == a.data && members[0].size == 513)
        #expect(try TarReader.read(path: dir + "/x.tar", offset: members[1].offset, size: 5) == Array("hello".utf8))
        // What GNU tar says about it is the real test of the format.
        let listing = try TestSupport.run("/bin/tar", ["-tvf", dir + "/x.tar"])
        #expect(listing.status == 0)
        #expect(listing.stdout.contains("k.jpg") && listing.stdout.contains("513"))
    }

    @Test func truncatedTarIsDetected() throws {
        let dir = TestSupport.temporaryDirectory()
        let w = try TarWriter(path: dir + "/x.tar")
        try w.add(name: "k.jpg", data: Array(repeating: 7, count: 2000))
        _ = try w.finish()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/x.tar"))
        try bytes.prefix(1500).write(to: URL(fileURLWithPath: dir + "/cut.tar"))
        #expect(throws: WinnowError.self) { try TarReader.members(path: dir + "/cut.tar") }
    }
}

@Suite struct IndexTests {
    @Test func schemaFileMatchesTheMigrations() throws {
        let file = try String(contentsOfFile: TestSupport.packageRoot + "/schemas/index.sql", encoding: .utf8)
        #expect(
            file.trimmingCharacters(in: .whitespacesAndNewlines)
                == ShardIndex.migrations.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func writerRollsShardsAndIndexesEveryOutcome() throws {
        let dir = TestSupport.temporaryDirectory()
        let w = try ShardWriter(directory: dir, samplesPerShard: 2)
        for n in 0..<5 { try w.write(keptSample(n)) }
        var dropped = keptSample(9)
        dropped.drop(.http(404), "gone")
        try w.write(dropped)
        #expect(!FileManager.default.fileExists(atPath: dir + "/index.sqlite"))
        try w.finish()
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == [
                "00000.parquet", "00000.tar", "00001.parquet", "00001.tar", "00002.parquet", "00002.tar",
                "index.sqlite",
            ])
        let r = try IndexReader(directory: dir)
        let s = try r.stats()
        #expect(
            s.candidates == 6 && s.kept == 5 && s.dropped == 1 && s.shards == 3 && s.droppedByReason == ["http_404": 1])
        let files = try r.files(key: keptSample(3).candidate.key)
        #expect(files.map(\.name).map { ($0 as NSString).pathExtension } == ["jpg", "txt", "json"])
        #expect(files[0].bytes == keptSample(3).stored)
        #expect(String(decoding: files[1].bytes, as: UTF8.self) == "caption 3")
        var q = IndexReader.Query()
        q.captionContains = "caption 4"
        #expect(try r.find(q).map { $0["key"] } == [keptSample(4).candidate.key])
        q = IndexReader.Query()
        q.captionContains = "%"
        #expect(try r.find(q).isEmpty, "LIKE wildcards in the text are literal")
        #expect(throws: WinnowError.self) { try r.files(key: dropped.candidate.key) }
        #expect(throws: WinnowError.self) { try r.files(key: "0000000000000000") }
        let db = try Connection(path: dir + "/index.sqlite", readOnly: true)
        #expect(try db.userVersion == ShardIndex.migrations.count)
    }

    @Test func missingIndexIsAClearError() {
        let error = #expect(throws: WinnowError.self) { try IndexReader(directory: TestSupport.temporaryDirectory()) }
        #expect(error?.message.contains("no index here") == true)
    }
}

@Suite struct IndexUpgradeTests {
    /// An index written before version 9 is brought up to date when first read: its captions become searchable.
    @Test func olderIndexGainsFullTextSearchWhenRead() throws {
        let dir = TestSupport.temporaryDirectory("old-index")
        let db = try Connection(path: dir + "/index.sqlite")
        for v in 0..<8 { try db.execute(ShardIndex.migrations[v]) }
        try db.execute("PRAGMA user_version = 8")
        try db.run(
            "INSERT INTO samples (key, status, url, caption, page_url) VALUES (?1, 'kept', ?2, ?3, ?4)",
            ["00000000000000aa", "http://a.example/1.jpg", "Two red circles", "http://a.example/"])
        db.close()
        let reader = try IndexReader(directory: dir)
        var q = IndexReader.Query()
        q.captionMatch = "circle"
        #expect(try reader.find(q).map { $0["key"] } == ["00000000000000aa"])
        #expect(try Connection(path: dir + "/index.sqlite", readOnly: true).userVersion == ShardIndex.migrations.count)
    }
}

/// The report's scan takes a URL's host as the fetcher does: userinfo, port, query and fragment are not part of it.
@Suite struct ReportScanTests {
    func host(_ url: String) -> String {
        Array(url.utf8).withUnsafeBufferPointer {
            IndexReader.withoutPort(String(decoding: RowScan.host($0), as: UTF8.self))
        }
    }

    @Test func hostsAreTheFetchersHosts() {
        #expect(host("http://www.google.com:80@evil.example/a.jpg") == "evil.example")
        #expect(host("https://user:pw@cdn.site.example:8443/x?y=1") == "cdn.site.example")
        #expect(host("http://a.example?q=http://b.example/") == "a.example")
        #expect(host("http://a.example#frag") == "a.example")
        #expect(host("http://[::1]:8080/x") == "[::1]")
        #expect(host("https://plain.example/") == "plain.example")
    }
}
