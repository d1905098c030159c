import Foundation
import Testing
import WinnowCore
import WinnowParquet
import WinnowSQLite
import WinnowTestSupport

/// Issue 22: LAION-style Parquet metadata in, Parquet metadata beside every shard and `winnow export` out, and a
/// clear line for every bad Parquet input; through the built binary against nginx on 127.0.0.1.
@Suite(.serialized) struct ParquetCLITests {
    static let fixtures = TestSupport.packageRoot + "/Tests/WinnowParquetTests/Fixtures"

    /// Flat-colour PNGs served by nginx, and a LAION-shaped metadata file of them: upper-case URL and TEXT, a float
    /// similarity, an int64 hash, a nullable float punsafe, a string NSFW; plus a row whose URL is null, one that is
    /// not http(s), and two that are missing (404). Row groups of 8 rows.
    static func laion(_ dir: String, images: Int) throws -> (Nginx, String, [String: (Double, Int64, Double?)]) {
        try FileManager.default.createDirectory(atPath: dir + "/web/img", withIntermediateDirectories: true)
        for i in 0..<images {
            let png = FlatPNG.make(
                width: 40 + i % 5, height: 40 + i % 3, depth: 8,
                pixel: [UInt16(i * 37 % 256), UInt16(i * 91 % 256), UInt16(i * 13 % 256)])
            #expect(FileManager.default.createFile(atPath: dir + "/web/img/\(i).png", contents: Data(png)))
        }
        let nginx = try Nginx(root: dir + "/web")
        let path = dir + "/part-00000.parquet"
        let w = try ParquetWriter(
            path: path,
            fields: [
                ParquetField("URL", .string), ParquetField("TEXT", .string), ParquetField("similarity", .double),
                ParquetField("hash", .int64), ParquetField("punsafe", .float), ParquetField("NSFW", .string),
            ], rowGroupRows: 8)
        var expected: [String: (Double, Int64, Double?)] = [:]
        for i in 0..<(images + 4) {
            let url: ParquetValue
            switch i {
            case images: url = .null
            case images + 1: url = .string("ftp://127.0.0.1/\(i).png")
            case images + 2, images + 3: url = .string("http://127.0.0.1:\(nginx.port)/img/missing-\(i).png")
            default: url = .string("http://127.0.0.1:\(nginx.port)/img/\(i).png")
            }
            let similarity = 0.25 + Double(i) / 1000
            let hash = Int64(i) * -7_000_000_000_003
            let punsafe: Double? = i % 3 == 0 ? nil : Double(Float(Double(i) / 100))
            if case .string(let u) = url { expected[u] = (similarity, hash, punsafe) }
            try w.append([
                url, i % 4 == 0 ? .null : .string("a flat colour square number \(i)"), .double(similarity),
                .int(hash), punsafe.map { .double($0) } ?? .null, .string(i % 2 == 0 ? "UNLIKELY" : "UNSURE"),
            ])
        }
        try w.finish()
        return (nginx, path, expected)
    }

    static func pipeline(_ dir: String) throws -> String {
        try #"""
        {"name": "parquet-test", "parse": {"min_caption_length": 0},
         "fetch": {"concurrency": 16, "timeout": 20, "retries": 0},
         "image": {"image_size": 32, "min_bytes": 0, "min_side": 0},
         "write": {"samples_per_shard": 7}}
        """#.write(toFile: dir + "/p.json", atomically: true, encoding: .utf8)
        return dir + "/p.json"
    }

    @Test func laionMetadataInParquetOutAndExported() throws {
        let dir = TestSupport.temporaryDirectory("parquet-cli")
        let (nginx, input, expected) = try Self.laion(dir, images: 20)
        defer { nginx.stop() }
        let out = dir + "/out"
        let r = try TestSupport.run(
            TestSupport.winnowBinary,
            [
                "fetch", input, "--output", out, "--pipeline", try Self.pipeline(dir), "--allow-range", "127.0.0.0/8",
                "--url-col", "URL", "--caption-col", "TEXT", "--save-additional-columns",
                "similarity,hash,punsafe,NSFW",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let db = try Connection(path: out + "/index.sqlite", readOnly: true)
        #expect(try db.query("SELECT count(*) AS n FROM samples WHERE status = 'kept'").first?.int("n") == 20)
        #expect(try db.query("SELECT count(*) AS n FROM samples").first?.int("n") == 22)
        let errors = try db.query("SELECT code, record_offset FROM input_errors ORDER BY record_offset")
        #expect(errors.map { $0.string("code") ?? "" } == ["null_url", "bad_url"])
        #expect(errors.first?.int("record_offset") == 20)  // the row number

        // Every shard has its Parquet, with the kept samples of its tar in order and the saved columns typed as the
        // input typed them (names Winnow uses itself are saved as source_NAME).
        let shards = try db.query("SELECT name FROM shards ORDER BY name").compactMap { $0.string("name") }
        #expect(shards.count == 3)
        var seen = 0
        for shard in shards {
            let f = try ParquetFile(path: out + "/" + (shard as NSString).deletingPathExtension + ".parquet")
            let names = f.columns.map(\.name)
            for c in ["key", "url", "caption", "status", "error_message", "width", "sha256", "source_similarity"] {
                #expect(names.contains(c), "\(c) in \(names)")
            }
            #expect(f.column(named: "source_hash")?.type == .int64)
            #expect(f.column(named: "punsafe")?.type == .float)
            #expect(f.column(named: "NSFW")?.isString == true)
            let columns = try ["key", "url", "status", "source_similarity", "source_hash", "punsafe"].map {
                try #require(f.column(named: $0))
            }
            let keys = try db.query(
                "SELECT key FROM samples WHERE shard = ?1 AND status = 'kept' ORDER BY tar_offset", [shard]
            ).compactMap { $0.string("key") }
            var rows = 0
            for g in 0..<f.rowGroupRows.count {
                let chunks = try f.read(rowGroup: g, columns: columns)
                guard case .bytes(let k) = chunks[0].values, case .bytes(let u) = chunks[1].values,
                    case .bytes(let st) = chunks[2].values, case .double(let sim) = chunks[3].values,
                    case .int64(let h) = chunks[4].values, case .float(let p) = chunks[5].values
                else {
                    Issue.record("column types")
                    continue
                }
                for i in 0..<chunks[0].count {
                    #expect(k.string(i) == keys[rows + i])
                    #expect(st.string(i) == "success")
                    let want = try #require(expected[u.string(i)])
                    #expect(sim[i] == want.0 && h[i] == want.1)
                    #expect(chunks[5].isNull(i) ? want.2 == nil : Double(p[i]) == want.2)
                }
                rows += chunks[0].count
            }
            #expect(rows == keys.count)
            seen += rows
        }
        #expect(seen == 20)
        // The samples' .json members carry them too.
        let tar = try String(decoding: Data(contentsOf: URL(fileURLWithPath: out + "/00000.tar")), as: UTF8.self)
        for field in [#""source_similarity":0.25"#, #""source_hash":"#, #""punsafe":"#, #""NSFW":"UNLIKELY""#] {
            #expect(tar.contains(field), "\(field)")
        }

        // The whole index, kept and dropped, in both export formats.
        let e = try TestSupport.run(TestSupport.winnowBinary, ["export", out, "--output", dir + "/all.parquet"])
        #expect(e.status == 0, "\(e.stderr)")
        let all = try ParquetFile(path: dir + "/all.parquet")
        #expect(all.rowCount == 22)
        let j = try TestSupport.run(TestSupport.winnowBinary, ["export", out, "--output", dir + "/all.jsonl"])
        #expect(j.status == 0, "\(j.stderr)")
        let lines = try String(contentsOfFile: dir + "/all.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 22)
        #expect(lines.filter { $0.contains(#""status":"dropped""#) && $0.contains(#""reason":"http_404""#) }.count == 2)
    }

    @Test func badParquetInputsGetOneLine() throws {
        let dir = TestSupport.temporaryDirectory("parquet-bad")
        let f = Self.fixtures
        func parse(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let r = try TestSupport.run(TestSupport.winnowBinary, ["parse"] + args + ["--output", "-"])
            return (r.status, r.stdout, r.stderr)
        }
        // A missing column: the names present, and the option to choose one.
        let missing = try parse([f + "/laion_like.parquet", "--url-col", "link"])
        #expect(missing.status != 0)
        #expect(
            missing.stderr.contains(#"no column "link""#) && missing.stderr.contains("URL, TEXT"), "\(missing.stderr)")
        #expect(missing.stderr.contains("--url-col"))
        #expect(missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
        for name in ["truncated", "bad_magic", "footer_length_lies", "not_parquet"] {
            let r = try parse([f + "/\(name).parquet"])
            #expect(r.status != 0, "\(name)")
            #expect(r.stderr.contains("\(name).parquet: "), "\(name): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(name): \(r.stderr)")
        }
        // A text file read as Parquet because it was told so.
        try "http://127.0.0.1/a.png\n".write(toFile: dir + "/urls.txt", atomically: true, encoding: .utf8)
        let told = try parse([dir + "/urls.txt", "--input-format", "parquet"])
        #expect(told.stderr.contains("PAR1") && told.status != 0, "\(told.stderr)")
        // Parquet under another name is found by its magic bytes (the LAION file, with its URL column found by name).
        try FileManager.default.copyItem(atPath: f + "/laion_like.parquet", toPath: dir + "/metadata.bin")
        let magic = try parse([dir + "/metadata.bin"])
        #expect(magic.status == 0, "\(magic.stderr)")
        #expect(magic.stderr.contains(#"URLs from column "URL""#), "\(magic.stderr)")
        #expect(magic.stdout.split(separator: "\n").count == 480)
        // A corrupt page costs its row group, recorded, and the run goes on with the rest.
        let corrupt = try parse([f + "/corrupt_page_rg1.parquet"])
        #expect(corrupt.status == 0, "\(corrupt.stderr)")
        // (Rows 0-59 and 120-179 are read; one of them repeats another's URL and caption.)
        #expect(corrupt.stdout.split(separator: "\n").count == 119)
        #expect(corrupt.stderr.contains("119 candidates kept, 1 duplicate_url_caption"), "\(corrupt.stderr)")
        #expect(
            corrupt.stderr.contains("corrupt_row_group") && corrupt.stderr.contains("row group 1"), "\(corrupt.stderr)")
        // A nested column cannot be saved; a flat one beside it can.
        let nested = try parse([f + "/nested_columns.parquet", "--save-additional-columns", "tags"])
        #expect(nested.status != 0 && nested.stderr.contains(#""tags" is a list"#), "\(nested.stderr)")
    }
}
