import Foundation
import Testing
import WinnowCore
import WinnowEmbed
import WinnowImage
import WinnowSQLite
import WinnowSampleWeb
import WinnowShards
import WinnowTestSupport

@testable import WinnowPipeline

@Suite struct ConfigTests {
    func load(_ json: String) throws -> PipelineConfig {
        let path = TestSupport.temporaryDirectory() + "/p.json"
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return try PipelineConfig.load(path: path)
    }

    @Test func pathsInAConfigAreRelativeToIt() {
        #expect(relativeToConfig("../models/m", "pipelines/demo.json") == "models/m")
        #expect(relativeToConfig("../models/m", "/srv/p/demo.json") == "/srv/models/m")
        #expect(relativeToConfig("/abs/m", "pipelines/demo.json") == "/abs/m")
        #expect(relativeToConfig("m", "demo.json") == "m")
        #expect(relativeToConfig("../../m", "a/demo.json") == "../m")
        #expect(relativeToConfig("./x/../m", "a/b/demo.json") == "a/b/m")
    }

    @Test func bundledPipelinesLoad() throws {
        let c = try PipelineConfig.load(path: TestSupport.packageRoot + "/pipelines/demo.json")
        #expect(c.name == "demo" && c.image.imageSize == 256 && c.samplesPerShard == 100)
        #expect(c.fetch.allowedRanges.map(\.description) == ["127.0.0.0/8"])
        for name in try FileManager.default.contentsOfDirectory(atPath: TestSupport.packageRoot + "/pipelines") {
            _ = try PipelineConfig.load(path: TestSupport.packageRoot + "/pipelines/" + name)
        }
    }

    @Test(arguments: [
        (#"{"fetch": {"timeout": "ten"}}"#, "fetch.timeout: expected a number"),
        (#"{"fetch": {"timout": 10}}"#, "unknown field \"fetch.timout\""),
        (#"{"image": {"resize_mode": "stretch"}}"#, "image.resize_mode"),
        (#"{"image": {"encode_quality": 101}}"#, "image.encode_quality: must be at most 100"),
        (#"{"fetch": {"allow_ranges": ["10.0.0.0/99"]}}"#, "fetch.allow_ranges"),
        (#"{"parse": {"honour_page_optouts": 1}}"#, "expected true or false"),
        (#"{"embed": {"min_similarity": 0.3}}"#, "embed.min_similarity needs embed.model"),
        (#"{"dedup": {"pdq_threshold": 40}}"#, "dedup.pdq_threshold: must be at most 31"),
        (#"{"image": {"downscale_interpolation": "lanczos"}}"#, "image.downscale_interpolation"),
        (#"{"dedup": {"against": "x"}}"#, "dedup.against: expected an array of strings"),
        (#"{"embed": {"model": "m", "dtype": "int8"}}"#, "embed.dtype"),
        (#"{"embed": {"model": "m", "min_similarity": 2}}"#, "embed.min_similarity"),
        (#"{"embed": {"model": "m", "dtype": "int8"}}"#, "for int8 arithmetic set embed.precision to \"int8\""),
        (#"{"embed": {"model": "m", "precision": "int4"}}"#, "embed.precision: \"int4\" is not float32 or int8"),
        (#"[1, 2]"#, "expected a JSON object"),
        (#"{"name": }"#, "not valid JSON"),
    ])
    func badConfigsNameTheFileAndField(json: String, message: String) {
        let error = #expect(throws: WinnowError.self) { try load(json) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("p.json") == true)
    }
}

@Suite struct QueueTests {
    @Test func boundedQueueDeliversEverythingInOrderAcrossThreads() {
        let q = BoundedQueue<Int>(capacity: 4)
        let t = Thread {
            for i in 0..<1000 { q.push(i) }
            q.producerDone()
        }
        t.start()
        var got: [Int] = []
        while let i = q.pop() { got.append(i) }
        #expect(got == Array(0..<1000))
    }

    /// Several producers and consumers on a tiny queue: every element arrives once, nobody waits for ever.
    @Test func manyProducersAndConsumers() {
        let q = BoundedQueue<Int>(capacity: 2, producers: 3)
        let out = BoundedQueue<Int>(capacity: 100_000, producers: 4)
        for p in 0..<3 {
            Thread {
                for i in 0..<20_000 { q.push(p * 20_000 + i) }
                q.producerDone()
            }.start()
        }
        for _ in 0..<4 {
            Thread {
                while let i = q.pop() { out.push(i) }
                out.producerDone()
            }.start()
        }
        var got: [Int] = []
        while let i = out.pop() { got.append(i) }
        #expect(got.sorted() == Array(0..<60_000))
    }
}

@Suite(.serialized) struct EndToEndTests {
    func config(_ server: StaticServer, _ sites: [String]) throws -> PipelineConfig {
        var c = try PipelineConfig.load(path: TestSupport.packageRoot + "/pipelines/demo.json")
        c.fetch.connectTo = server.connectTo(sites: sites)
        c.samplesPerShard = 20
        return c
    }

    @Test func sampleWebRunsEndToEnd() throws {
        let (web, manifest) = try TestSupport.sampleWeb(pages: 12)
        let server = StaticServer(root: web)
        try server.start()
        defer { server.stop() }
        let out = TestSupport.temporaryDirectory("out")
        let runner = Runner(
            config: try config(server, manifest.sites), inputs: manifest.watFiles.map { "\(web)/\($0)" }, output: out)
        try runner.run(progress: nil)
        let stats = try IndexReader(directory: out).stats()
        // Every candidate of the crawl has exactly one row.
        #expect(stats.candidates == manifest.imageLinks)
        #expect(stats.kept + stats.dropped == stats.candidates)
        #expect(stats.kept > 0)
        #expect(stats.droppedByReason["page_optout"] == manifest.optedOutLinks)
        #expect(stats.droppedByReason["duplicate_sha256", default: 0] > 0)
        #expect(stats.droppedByReason["http_404", default: 0] > 0)
        #expect(stats.droppedByReason["robots_txt", default: 0] == manifest.robotsDisallowed)
        #expect(stats.droppedByReason["x_robots_tag", default: 0] == manifest.headerOptOuts)
        #expect(stats.droppedByReason["content_usage", default: 0] == manifest.contentUsageHeaders)
        #expect(stats.droppedByReason["robots_content_usage", default: 0] == manifest.robotsContentUsage)
        #expect(stats.droppedByReason["content_signal", default: 0] == manifest.contentSignals)
        #expect(stats.droppedByReason["c2pa_training_mining", default: 0] == manifest.c2paTrainingMining)
        #expect(
            manifest.contentUsageHeaders > 0 && manifest.robotsContentUsage > 0 && manifest.contentSignals > 0
                && manifest.c2paTrainingMining > 0)
        let db = try Connection(path: out + "/index.sqlite", readOnly: true)
        let dupes = try db.query(
            "SELECT count(*) AS n FROM (SELECT sha256 FROM samples WHERE status = 'kept' GROUP BY sha256 HAVING count(*) > 1)"
        )
        #expect(dupes.first?.int("n") == 0, "no two kept samples have the same bytes")
        // The demo's CLIP filter (models/sample-web-clip): every alt text that does not describe its image is
        // dropped as low_similarity, and no true one is.
        var truth: [String: SampleWeb.Truth] = [:]
        for line in try String(contentsOfFile: web + "/truth.jsonl", encoding: .utf8).split(separator: "\n") {
            let t = try JSONDecoder().decode(SampleWeb.Truth.self, from: Data(line.utf8))
            truth[t.url] = t
        }
        let scored = try db.query("SELECT url, status, reason FROM samples WHERE similarity IS NOT NULL")
        #expect(scored.count > 20)
        var caught = 0
        for row in scored {
            let t = try #require(truth[row.string("url") ?? ""])
            let low = row.string("reason") == "low_similarity"
            #expect(low == (t.alt != t.caption), "\(t.alt) / \(t.caption)")
            if low { caught += 1 }
        }
        #expect(caught > 0 && stats.droppedByReason["low_similarity"] == caught)
        let kept = try db.query("SELECT key, shard, offset, size FROM samples WHERE status = 'kept'")
        for row in kept {
            let members = try TarReader.members(path: "\(out)/\(row.string("shard") ?? "")")
            #expect(
                members.contains {
                    $0.name.hasPrefix(row.string("key") ?? "-") && $0.offset == row.int("offset")
                        && Int64($0.size) == row.int("size")
                })
        }
    }

    /// The embed stage with the clip-tiny checkpoint: every kept sample has its similarity, its row in the shard's
    /// embedding files, and rows equal to a fresh embedding of its stored image and caption; samples under the
    /// threshold are dropped as low_similarity with their similarity recorded.
    @Test func embedStageWritesSimilaritiesAndEmbeddings() throws {
        let (web, manifest) = try TestSupport.sampleWeb(pages: 8)
        let server = StaticServer(root: web)
        try server.start()
        defer { server.stop() }
        let out = TestSupport.temporaryDirectory("out")
        var c = try config(server, manifest.sites)
        c.embed.model = TestSupport.shared("clip-tiny/model")
        c.embed.minSimilarity = 0.0
        c.embed.batchSize = 7
        try Runner(config: c, inputs: manifest.watFiles.map { "\(web)/\($0)" }, output: out).run(progress: nil)
        let db = try Connection(path: out + "/index.sqlite", readOnly: true)
        let low = try db.query("SELECT similarity FROM samples WHERE reason = 'low_similarity'")
        #expect(!low.isEmpty && low.allSatisfy { ($0.double("similarity") ?? 1) < 0 })
        let kept = try db.query(
            "SELECT key, caption, shard, offset, size, similarity, embedding_row FROM samples WHERE status = 'kept' "
                + "ORDER BY shard, offset")
        #expect(kept.count >= 4)
        let encoder = try CLIPEncoder(directory: TestSupport.shared("clip-tiny/model"))
        let d = encoder.dimension
        var files: [String: (NPY.Array, NPY.Array)] = [:]
        var rowsSeen: [String: Int] = [:]
        for row in kept {
            let shard = try #require(row.string("shard"))
            let similarity = try #require(row.double("similarity"))
            #expect(similarity >= 0)
            let number = (shard as NSString).deletingPathExtension
            if files[shard] == nil {
                func load(_ name: String) throws -> NPY.Array {
                    let path = out + "/\(name)/\(name)_\(number).npy"
                    return try NPY.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: path))), name: path)
                }
                files[shard] = (try load("img_emb"), try load("text_emb"))
            }
            let (images, texts) = try #require(files[shard])
            #expect(images.dtype == .float16 && images.shape.last == d)
            let r = Int(try #require(row.int("embedding_row")))
            #expect(r == rowsSeen[shard, default: 0], "rows follow the tar order")
            rowsSeen[shard] = r + 1
            let bytes = try TarReader.read(
                path: out + "/" + shard, offset: row.int("offset") ?? 0, size: Int(row.int("size") ?? 0))
            let image = try Codec.decode(bytes)
            let fresh = encoder.embedImages([(image.pixels, image.width, image.height)])
            let text = encoder.embedTexts([row.string("caption") ?? ""])
            var cosine: Float = 0
            for j in 0..<d {
                #expect(abs(images.values[r * d + j] - fresh[j]) < 2e-3)
                #expect(abs(texts.values[r * d + j] - text[j]) < 2e-3)
                cosine += fresh[j] * text[j]
            }
            #expect(abs(Double(cosine) - similarity) < 1e-4)
        }
        for (shard, n) in rowsSeen { #expect(files[shard]?.0.shape.first == n, "\(shard): one row per kept sample") }
    }

    /// `--against`: a folder of images (an evaluation set) keeps their exact copies and their near-duplicates
    /// (re-encoded at JPEG quality 60) out of the run; an earlier output keeps its samples out by key. (The sample
    /// web's flat drawings are hard for PDQ: rescaled, many move more than 31 bits; docs/BENCHMARKS.md measures
    /// PDQ on the near-duplicate benchmark.)
    @Test func dedupAgainstAFolderAndAnOutput() throws {
        let (web, manifest) = try TestSupport.sampleWeb(pages: 8)
        let server = StaticServer(root: web)
        try server.start()
        defer { server.stop() }
        var c = try config(server, manifest.sites)
        c.embed = EmbedSettings()  // not what this test is about
        let first = TestSupport.temporaryDirectory("first")
        try Runner(config: c, inputs: manifest.watFiles.map { "\(web)/\($0)" }, output: first).run(progress: nil)
        let db = try Connection(path: first + "/index.sqlite", readOnly: true)
        let kept = try db.query("SELECT key, url, pdq_quality FROM samples WHERE status = 'kept' ORDER BY id")
        #expect(kept.count > 10)

        // An "evaluation set": two kept images byte for byte, two re-encoded at JPEG quality 60.
        let eval = TestSupport.temporaryDirectory("eval")
        var copied: [String: String] = [:]
        var reencoded: [String: String] = [:]
        for (i, row) in kept.filter({ ($0.int("pdq_quality") ?? 0) >= 80 }).prefix(4).enumerated() {
            let url = row.string("url") ?? ""
            let path = web + "/sites/" + url.dropFirst("http://".count)
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            if i < 2 {
                try Data(bytes).write(to: URL(fileURLWithPath: eval + "/copy-\(i).bin"))
                copied[url] = row.string("key")
            } else {
                try Data(try Codec.encodeJPEG(try Codec.decode(bytes), quality: 60)).write(
                    to: URL(fileURLWithPath: eval + "/near-\(i).jpg"))
                reencoded[url] = row.string("key")
            }
        }
        #expect(copied.count == 2 && reencoded.count == 2)
        let second = TestSupport.temporaryDirectory("second")
        var withEval = c
        withEval.dedup.against = [eval]
        try Runner(config: withEval, inputs: manifest.watFiles.map { "\(web)/\($0)" }, output: second).run(
            progress: nil)
        let db2 = try Connection(path: second + "/index.sqlite", readOnly: true)
        for (url, _) in copied {
            let row = try #require(
                try db2.query("SELECT reason, duplicate_of FROM samples WHERE url = ?1", [url]).first)
            #expect(row.string("reason") == "duplicate_sha256" && row.string("duplicate_of")?.hasPrefix(eval) == true)
        }
        for (url, _) in reencoded {
            let row = try #require(
                try db2.query("SELECT reason, reason_detail, duplicate_of FROM samples WHERE url = ?1", [url]).first)
            #expect(row.string("reason") == "near_duplicate_pdq", "\(row.string("reason_detail") ?? "")")
            #expect(row.string("duplicate_of")?.hasPrefix(eval + "/near-") == true)
        }
        let stats2 = try IndexReader(directory: second).stats()
        #expect(stats2.kept == kept.count - 4)

        // Against the first output itself: every candidate it kept is already there, by its (url, caption) key.
        let third = TestSupport.temporaryDirectory("third")
        var withFirst = c
        withFirst.dedup.against = [first]
        try Runner(config: withFirst, inputs: manifest.watFiles.map { "\(web)/\($0)" }, output: third).run(
            progress: nil)
        #expect(try IndexReader(directory: third).stats().kept == 0)
        let db3 = try Connection(path: third + "/index.sqlite", readOnly: true)
        for row in kept {
            let r = try db3.query("SELECT reason FROM samples WHERE key = ?1", [row.string("key") ?? ""])
            #expect(r.first?.string("reason") == "duplicate_url_caption")
        }
    }

    @Test func partsAreDisjointAndCoverTheInput() {
        let inputs = (0..<7).map { "crawl/part-\($0).warc.wat.gz" }
        var seen: [String] = []
        for i in 0..<3 {
            let r = Runner(config: PipelineConfig(), inputs: inputs.reversed(), output: "unused", part: (i, 3))
            #expect(r.inputs == Runner(config: PipelineConfig(), inputs: inputs, output: "unused", part: (i, 3)).inputs)
            seen += r.inputs
        }
        #expect(seen.sorted() == inputs.sorted())
        #expect(Set(seen).count == inputs.count)
    }

    @Test func outputDirectoryRules() throws {
        let out = TestSupport.temporaryDirectory()
        try Data().write(to: URL(fileURLWithPath: out + "/00000.tar.partial"))
        try Data().write(to: URL(fileURLWithPath: out + "/index.sqlite.partial"))
        for folder in ["img_emb", "text_emb"] {
            try FileManager.default.createDirectory(atPath: out + "/" + folder, withIntermediateDirectories: true)
            try Data().write(to: URL(fileURLWithPath: out + "/\(folder)/\(folder)_00007.npy"))
        }
        let message = try Runner.prepareOutput(out, overwrite: false).message
        #expect(message?.contains("unfinished run") == true && message?.contains("removed its 4 files") == true)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: out).allSatisfy {
                $0.hasSuffix("_emb") || $0 == "winnow.json"
            })
        for folder in ["img_emb", "text_emb"] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/" + folder).isEmpty)
            try FileManager.default.removeItem(atPath: out + "/" + folder)
        }
        try Data().write(to: URL(fileURLWithPath: out + "/index.sqlite"))
        #expect(throws: WinnowError.self) { try Runner.prepareOutput(out, overwrite: false) }
        #expect(try Runner.prepareOutput(out, overwrite: true).message?.contains("removed") == true)
    }
}
