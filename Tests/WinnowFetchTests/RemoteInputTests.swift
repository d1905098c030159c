import Foundation
import Testing
import WinnowCore
import WinnowCrawl
import WinnowFetch
import WinnowTestSupport

/// Inputs read over HTTP(S): the same candidates as from the same local files, through nginx and through a server
/// that resets, stalls, answers 503, changes the file's version and lies about its length.
@Suite(.serialized, .timeLimit(.minutes(2))) struct RemoteInputTests {
    /// Fast retries, so that every fault ends in seconds.
    static func remote(allowLoopback: Bool = true, configure: (inout RemoteSettings) -> Void = { _ in }) -> RemoteFiles
    {
        var s = RemoteSettings()
        if allowLoopback { s.allowedRanges = [CIDR("127.0.0.0/8")!] }  // ok: a valid range
        s.stallSeconds = 1
        s.backoffSeconds = 0.05
        s.retries = 5
        s.deadlineSeconds = 30
        configure(&s)
        return RemoteFiles(settings: s)
    }

    struct Read {
        var candidates: [String] = []
        var skipped: [RecordError] = []
        var notes: [String] = []
    }

    /// Every event of `paths`: each candidate as its JSON line with the input file left out (a URL is not a path).
    static func read(_ paths: [String], remote: RemoteFiles? = nil, threads: Int = 1) throws -> Read {
        let r = try CandidateReader(paths: paths, threads: threads, remote: remote)
        var out = Read()
        while let e = try r.next() {
            switch e {
            case .candidate(var c):
                c.provenance.inputFile = "-"
                out.candidates.append(c.jsonLine())
            case .skipped(let s): out.skipped.append(s)
            }
        }
        out.notes = r.notes
        return out
    }

    static let inputs = [
        "commoncrawl/wat/generated_dolma_sample-0000.warc.wat.gz",  // a member per record
        "commoncrawl/warc/dolma-wget-sample-0000.warc.gz",  // WARC
        "commoncrawl/warc/link-extraction-test.with-ids.warc",
    ]

    /// A folder served by nginx: the WAT and WARC fixtures, a URL list, a Parquet file and a paths file of them.
    static func web() throws -> (dir: String, names: [String]) {
        let dir = TestSupport.temporaryDirectory("remote-inputs")
        var names: [String] = []
        for i in inputs {
            let name = (i as NSString).lastPathComponent
            try FileManager.default.copyItem(atPath: TestSupport.shared(i), toPath: dir + "/" + name)
            names.append(name)
        }
        // A plain (not gzipped) WAT.
        let plain = try Gzip.decompress(
            path: TestSupport.shared("commoncrawl/wat/generated_ia-web-commons_link-extraction-test.warc.wat.gz"))
        #expect(FileManager.default.createFile(atPath: dir + "/plain.warc.wat", contents: Data(plain)))
        names.append("plain.warc.wat")
        try "url\tcaption\nhttp://a.test/1.jpg\thello\nhttp://b.test/2.png\tworld\n".write(
            toFile: dir + "/list.tsv", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            atPath: TestSupport.packageRoot + "/Tests/WinnowParquetTests/Fixtures/laion_like.parquet",
            toPath: dir + "/laion_like.parquet")
        names += ["list.tsv", "laion_like.parquet"]
        try FileManager.default.createDirectory(atPath: dir + "/crawl", withIntermediateDirectories: true)
        try (names.map { "../" + $0 }.joined(separator: "\n") + "\n").write(
            toFile: dir + "/crawl/inputs.paths", atomically: true, encoding: .utf8)
        return (dir, names)
    }

    @Test func nginxGivesTheSameCandidatesAsTheLocalFiles() throws {
        let (dir, names) = try Self.web()
        let nginx = try Nginx(root: dir)
        defer { nginx.stop() }
        let remote = Self.remote()
        for name in names {
            let local = try Self.read([dir + "/" + name])
            let url = "http://127.0.0.1:\(nginx.port)/\(name)"
            let over = try Self.read([url], remote: remote)
            #expect(!local.candidates.isEmpty || !local.skipped.isEmpty, "\(name)")
            #expect(over.candidates == local.candidates, "\(name)")
            #expect(over.skipped.count == local.skipped.count, "\(name): \(over.skipped)")
            // Streamed to the end (a Parquet file is read by ranges: its footer, then the column chunks).
            if !name.hasSuffix(".parquet") {
                #expect(remote.progress(url).received == Int64(fileSize(atPath: dir + "/" + name)), "\(name)")
            }
        }
        // A paths file over HTTP, its relative paths resolved against its own URL: the same inputs, in its order.
        let listed = try PathsFile.inputs(
            "http://127.0.0.1:\(nginx.port)/crawl/inputs.paths", base: nil, remote: remote)
        #expect(listed == names.map { "http://127.0.0.1:\(nginx.port)/crawl/../\($0)" })
        let all = try Self.read(listed, remote: remote)
        #expect(all.candidates == (try Self.read(names.map { dir + "/" + $0 })).candidates)
        // Two threads read remote inputs too (order aside).
        let two = try Self.read(listed, remote: remote, threads: 2)
        #expect(two.candidates.sorted() == all.candidates.sorted())
    }

    /// HTTPS (nginx with a throwaway certificate, trusted by its CA file): the same candidates.
    @Test func overTLS() throws {
        let (dir, names) = try Self.web()
        let nginx = try Nginx(root: dir, tlsHost: "inputs.test")
        defer { nginx.stop() }
        let remote = Self.remote {
            $0.connectTo = ["inputs.test:443:127.0.0.1:\(nginx.port)"]
            $0.caFile = nginx.certificate
        }
        let name = names[0]
        let over = try Self.read(["https://inputs.test/\(name)"], remote: remote)
        #expect(!over.candidates.isEmpty && over.skipped.isEmpty, "\(over.skipped)")
        #expect(over.candidates == (try Self.read([dir + "/" + name])).candidates)
        // A certificate nobody vouched for: recorded, not read.
        let untrusted = try Self.read(
            ["https://inputs.test/\(name)"],
            remote: Self.remote { $0.connectTo = ["inputs.test:443:127.0.0.1:\(nginx.port)"] })
        #expect(untrusted.candidates.isEmpty && untrusted.skipped.map(\.code) == ["input_unreadable"])
    }

    @Test func pathsFilesResolveCommonCrawlPathsAndS3() throws {
        let dir = TestSupport.temporaryDirectory("paths-file")
        let lines = [
            "crawl-data/CC-MAIN-2024-10/segments/1/wat/a.warc.wat.gz", "# a comment", "",
            "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/1/wat/b.warc.wat.gz", "/data/local.wat.gz",
            "more/c.wat.gz",
        ]
        let gz = try Gzip.compress(Array((lines.joined(separator: "\r\n") + "\n").utf8))
        #expect(FileManager.default.createFile(atPath: dir + "/wat.paths.gz", contents: Data(gz)))
        let cc = "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-10/segments/1/wat/"
        #expect(
            try PathsFile.inputs(dir + "/wat.paths.gz", base: nil, remote: nil) == [
                cc + "a.warc.wat.gz", cc + "b.warc.wat.gz", "/data/local.wat.gz", dir + "/more/c.wat.gz",
            ])
        #expect(
            try PathsFile.inputs(dir + "/wat.paths.gz", base: "http://127.0.0.1:8080/mirror", remote: nil)[0]
                == "http://127.0.0.1:8080/mirror/crawl-data/CC-MAIN-2024-10/segments/1/wat/a.warc.wat.gz")
        #expect(InputLocation.resolve("s3://other-bucket/k/x.gz") == "https://other-bucket.s3.amazonaws.com/k/x.gz")
        #expect(throws: WinnowError.self) { try PathsFile.inputs(dir + "/none.paths", base: nil, remote: nil) }
    }

    /// Each fault ends with the local file's candidates (each once), within the test's time.
    @Test(arguments: [
        "reset/20000,50000,80000", "stall/30000", "busy/2", "changed/40000", "noranges/30000", "lying", "short",
    ])
    func faultsEndWithTheRightCandidates(fault: String) throws {
        let name = "generated_dolma_sample-0000.warc.wat.gz"
        let path = TestSupport.shared("commoncrawl/wat/" + name)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let server = InputFaultServer()
        server.serve(name, bytes)
        try server.start()
        defer { server.stop() }
        let local = try Self.read([path])
        let started = Date()
        let over = try Self.read([server.url("/\(fault)/\(name)")], remote: Self.remote())
        #expect(Date().timeIntervalSince(started) < 30)
        if fault == "short" {
            // A Content-Length 1,000 bytes short: the file looks whole but its last member is cut, which is
            // recorded; the candidates before it are the local file's.
            #expect(!over.skipped.isEmpty, "\(server.requests)")
            #expect(Array(local.candidates.prefix(over.candidates.count)) == over.candidates)
            #expect(over.candidates.count <= local.candidates.count)
            return
        }
        #expect(over.candidates == local.candidates, "\(fault): \(over.skipped) \(server.requests)")
        #expect(over.skipped.isEmpty, "\(fault): \(over.skipped)")
        let requests = server.requests
        switch fault {
        case "reset/20000,50000,80000":
            // Resumed where each attempt stopped, with the first response's version.
            #expect(
                requests.map { $0.split(separator: " ", maxSplits: 1).last ?? "" }.suffix(3) == [
                    "bytes=20000-", "bytes=50000-", "bytes=80000-",
                ])
        case "changed/40000":
            #expect(over.notes.contains { $0.contains("changed while being read") }, "\(over.notes)")
        default:
            #expect(requests.count >= 2, "\(requests)")
        }
    }

    /// A file of ~9 MB (the WAT fixture 100 times: each candidate 100 times): faults after candidates were given.
    @Test(arguments: ["changed/6000000", "reset/3000000,6000000,8000000", "noranges/5000000"])
    func faultsMidWayThroughABigFile(fault: String) throws {
        let name = "big.warc.wat.gz"
        let one = [UInt8](
            try Data(
                contentsOf: URL(
                    fileURLWithPath: TestSupport.shared("commoncrawl/wat/generated_dolma_sample-0000.warc.wat.gz"))))
        let bytes = Array([[UInt8]](repeating: one, count: 100).joined())
        let dir = TestSupport.temporaryDirectory("big-remote")
        #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes)))
        let server = InputFaultServer()
        server.serve(name, bytes)
        try server.start()
        defer { server.stop() }
        let local = try Self.read([dir + "/" + name])
        let over = try Self.read([server.url("/\(fault)/\(name)")], remote: Self.remote())
        #expect(over.candidates.count == local.candidates.count)
        #expect(over.candidates == local.candidates, "\(fault): \(over.skipped) \(server.requests)")
        #expect(over.skipped.isEmpty)
        if fault.hasPrefix("changed") {
            // Read again from byte 0, the candidates already given passed by.
            #expect(over.notes.contains { $0.contains("already given are not given again") }, "\(over.notes)")
            #expect(!over.notes.contains { $0.contains("(0 candidates already given") }, "\(over.notes)")
        }
    }

    @Test func inputsThatCannotBeReadAreRecordedAndTheOthersRead() throws {
        let name = "generated_dolma_sample-0000.warc.wat.gz"
        let path = TestSupport.shared("commoncrawl/wat/" + name)
        let server = InputFaultServer()
        server.serve(name, [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        try server.start()
        defer { server.stop() }
        let local = try Self.read([path])
        // A 404, a server that never stops failing, and a good input after them.
        let out = try Self.read(
            [server.url("/missing/x.gz"), server.url("/busy/1000/\(name)"), server.url("/ok/\(name)")],
            remote: Self.remote())
        #expect(out.candidates == local.candidates)
        #expect(out.skipped.map(\.code) == ["input_unreadable", "input_unreadable"])
        #expect(out.skipped[0].message.contains("HTTP 404"), "\(out.skipped[0])")
        #expect(out.skipped[1].message.contains("HTTP 503") && out.skipped[1].message.contains("gave up"))
        // The address guard applies to inputs as to images.
        let refused = try Self.read([server.url("/ok/\(name)")], remote: Self.remote(allowLoopback: false))
        #expect(refused.candidates.isEmpty)
        #expect(refused.skipped.first?.message.contains("address refused") == true, "\(refused.skipped)")
    }
}
