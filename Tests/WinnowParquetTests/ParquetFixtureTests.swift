import Foundation
import Testing

@testable import WinnowParquet

/// Files written by pyarrow and DuckDB (scripts/gen_parquet_fixtures.py), each beside the values a reader must
/// return (`NAME.expected.json`): every codec, encoding, page version, null pattern and row-group size Winnow reads.
@Suite struct ParquetFixtureTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures"
    ).path

    static let names: [String] = {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return all.filter { $0.hasSuffix(".expected.json") }.map { String($0.dropLast(".expected.json".count)) }
            .sorted()
    }()

    static func expected(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name).expected.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static var readable: [String] { names.filter { (try? expected($0)["error"]) == nil } }
    static var broken: [String] { names.filter { (try? expected($0)["error"]) != nil } }

    @Test func thereAreFixtures() {
        #expect(Self.readable.count >= 20, "run scripts/gen_parquet_fixtures.py")
        #expect(Self.broken.count >= 4)
    }

    /// The expected cells of a column from its JSON description.
    /// A value of `NAME.expected.json`, decoded by JSONDecoder (JSONSerialization parses some doubles one unit in
    /// the last place off).
    enum JSONCell: Decodable {
        case null, bool(Bool), int(Int64), double(Double), string(String)

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let i = try? c.decode(Int64.self) {
                self = .int(i)
            } else if let d = try? c.decode(Double.self) {
                self = .double(d)
            } else {
                self = .string(try c.decode(String.self))
            }
        }
    }

    struct Column: Decodable {
        var name: String
        var type: String
        var values: [JSONCell]
    }

    struct Values: Decodable { var columns: [Column]? }

    /// The expected cells of each column, by name.
    static func want(_ name: String) throws -> [String: [Cell]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name).expected.json"))
        var out: [String: [Cell]] = [:]
        for column in try JSONDecoder().decode(Values.self, from: data).columns ?? [] {
            out[column.name] = column.values.map { v -> Cell in
                switch (column.type, v) {
                case (_, .null): .null
                case (_, .bool(let b)): .bool(b)
                case ("float", .int(let i)): .double(Double(Float(i)))
                case ("float", .double(let d)): .double(Double(Float(d)))
                case ("double", .int(let i)): .double(Double(i))
                case (_, .int(let i)): .int(i)
                case (_, .double(let d)): .double(d)
                case (_, .string(let s)): .string(s)
                }
            }
        }
        return out
    }

    @Test(arguments: readable)
    func readsWhatPyarrowAndDuckDBWrote(name: String) throws {
        let e = try Self.expected(name)
        let f = try ParquetFile(path: "\(Self.directory)/\(name).parquet")
        #expect(f.rowCount == e["num_rows"] as? Int)
        #expect(f.rowGroupRows.count == e["row_groups"] as? Int)
        for u in e["unsupported"] as? [String] ?? [] {
            let c = try #require(f.column(named: u))
            #expect(c.unsupported != nil)
            #expect(throws: ParquetError.self) { try f.read(rowGroup: 0, columns: [c]) }
        }
        let expected = try Self.want(name)
        for column in e["columns"] as? [[String: Any]] ?? [] {
            let name = column["name"] as? String ?? ""
            let c = try #require(f.column(named: name), "column \(name)")
            #expect(c.isOptional == (column["nullable"] as? Bool ?? true) || column["nullable"] == nil)
            let got = try cells(f, [c])[0]
            let want = expected[name] ?? []
            #expect(got.count == want.count, "\(name): rows")
            if let i = (0..<min(got.count, want.count)).first(where: { got[$0] != want[$0] }) {
                Issue.record("\(name): row \(i): \(got[i]), expected \(want[i])")
            }
        }
    }

    @Test(arguments: broken)
    func aBrokenFileGetsOneLineNamingIt(name: String) throws {
        let e = try Self.expected(name)
        let path = "\(Self.directory)/\(name).parquet"
        if let bad = e["corrupt_row_groups"] as? [Int] {
            // The rest of the file reads; the corrupt row group throws, naming the file, row group and column.
            let f = try ParquetFile(path: path)
            var rows: [[Cell]] = []
            let columns = (e["columns"] as? [[String: Any]] ?? []).compactMap {
                f.column(named: $0["name"] as? String ?? "")
            }
            for g in 0..<f.rowGroupRows.count {
                if bad.contains(g) {
                    do {
                        _ = try f.read(rowGroup: g, columns: columns)
                        Issue.record("row group \(g) read without an error")
                    } catch {
                        #expect(error.message.contains(path) && error.message.contains("row group \(g)"))
                        #expect(!error.message.contains("\n"))
                    }
                    continue
                }
                let chunks = try f.read(rowGroup: g, columns: columns)
                if rows.isEmpty { rows = Array(repeating: [], count: chunks.count) }
                for (k, c) in chunks.enumerated() { rows[k] += cells(c) }
            }
            let expected = try Self.want(name)
            for (k, column) in (e["columns"] as? [[String: Any]] ?? []).enumerated() {
                #expect(rows[k] == expected[column["name"] as? String ?? ""])
            }
            return
        }
        do {
            let f = try ParquetFile(path: path)
            for g in 0..<f.rowGroupRows.count { _ = try f.read(rowGroup: g, columns: f.columns) }
            Issue.record("\(name) read without an error")
        } catch {
            #expect(error.message.hasPrefix(path + ":"), "\(error.message)")
            #expect(!error.message.contains("\n"))
        }
    }

    @Test func onlyTheColumnsAskedForAreRead() throws {
        let f = try ParquetFile(path: "\(Self.directory)/laion_like.parquet")
        let url = try #require(f.column(named: "URL"))
        let chunks = try f.read(rowGroup: 0, columns: [url])
        #expect(chunks.count == 1 && chunks[0].count == f.rowGroupRows[0])
        #expect(f.column(named: "url") == nil)  // names are exact
    }
}

/// What `make fuzz` found (fuzz/crashes/parquet-*): each input now reads to an error or to values, never a crash.
@Suite struct ParquetFuzzRegressionTests {
    static let inputs: [String] = {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fuzz/crashes").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasPrefix("parquet-") }.sorted().map { dir + "/" + $0 }
    }()

    @Test func thereAreSome() { #expect(!Self.inputs.isEmpty) }

    @Test(arguments: inputs)
    func readsWithoutCrashing(path: String) {
        do {
            let f = try ParquetFile(path: path)
            for g in 0..<f.rowGroupRows.count {
                for c in f.columns where c.unsupported == nil { _ = try? f.read(rowGroup: g, columns: [c]) }
            }
        } catch {
            #expect(error.message.hasPrefix(path))
        }
    }
}
