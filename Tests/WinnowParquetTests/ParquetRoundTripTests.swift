import Foundation
import Testing

@testable import WinnowParquet

/// What a column of a file holds, row by row, as the tests compare it.
enum Cell: Equatable, CustomStringConvertible {
    case null, bool(Bool), int(Int64), double(Double), string(String)

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .double(let d): "\(d)"
        case .string(let s): s.debugDescription
        }
    }
}

/// Every row group of `columns` of `file`, as cells.
func cells(_ file: ParquetFile, _ columns: [ParquetColumn]) throws -> [[Cell]] {
    var out = [[Cell]](repeating: [], count: columns.count)
    for g in 0..<file.rowGroupRows.count {
        let chunks = try file.read(rowGroup: g, columns: columns)
        for (k, chunk) in chunks.enumerated() { out[k] += cells(chunk) }
    }
    return out
}

func cells(_ chunk: ColumnValues) -> [Cell] {
    (0..<chunk.count).map { i in
        if chunk.isNull(i) { return .null }
        switch chunk.values {
        case .boolean(let v): return .bool(v[i])
        case .int32(let v): return .int(Int64(v[i]))
        case .int64(let v): return .int(v[i])
        case .float(let v): return .double(Double(v[i]))
        case .double(let v): return .double(v[i])
        case .bytes(let v): return .string(v.string(i))
        }
    }
}

@Suite struct ParquetRoundTripTests {
    static func temporary(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "winnow-parquet-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }

    static let fields = [
        ParquetField("key", .string, optional: false),
        ParquetField("caption", .string),
        ParquetField("width", .int64),
        ParquetField("small", .int32),
        ParquetField("similarity", .double),
        ParquetField("score", .float),
        ParquetField("kept", .boolean),
    ]

    /// Rows with every null pattern: none, alternate, runs, and a column that is all null.
    static func rows(_ n: Int) -> [[ParquetValue]] {
        (0..<n).map { (i: Int) -> [ParquetValue] in
            let caption: ParquetValue =
                i % 3 == 0
                ? .null : .string(i % 7 == 0 ? "" : "caption \(i) é 日本 " + String(repeating: "x", count: i % 50))
            let width: ParquetValue = (i / 100) % 2 == 0 ? .int(Int64(i) * 1_000_003 - 5_000_000) : .null
            let similarity: ParquetValue = i % 2 == 0 ? .double(Double(i) / 7) : .null
            let kept: ParquetValue = i % 5 == 0 ? .null : .bool(i % 3 == 1)
            return [
                .string(String(format: "%016x", i &* 0x9e37_79b9)), caption, width, .int(Int64(i % 1000) - 500),
                similarity, .double(Double(Float(Double(i) / 3))), kept,
            ]
        }
    }

    @Test(arguments: ParquetCodec.allCases)
    func writtenFilesReadBack(codec: ParquetCodec) throws {
        let path = Self.temporary("rt-\(codec.name).parquet")
        let w = try ParquetWriter(path: path, fields: Self.fields, codec: codec, rowGroupRows: 997)
        let rows = Self.rows(3000)
        for r in rows { try w.append(r) }
        try w.finish()
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        let f = try ParquetFile(path: path)
        #expect(f.rowGroupRows == [997, 997, 997, 9])
        #expect(f.columns.map(\.name) == Self.fields.map(\.name))
        #expect(f.columns[0].isString && !f.columns[0].isOptional && f.columns[1].isOptional)
        let got = try cells(f, f.columns)
        for (k, _) in Self.fields.enumerated() {
            let want: [Cell] = rows.map {
                switch $0[k] {
                case .null: .null
                case .bool(let b): .bool(b)
                case .int(let i): .int(i)
                case .double(let d): .double(d)
                case .string(let s): .string(s)
                }
            }
            #expect(got[k] == want, "column \(Self.fields[k].name)")
        }
    }

    @Test func largeValuesSpanSeveralPages() throws {
        let path = Self.temporary("pages.parquet")
        let w = try ParquetWriter(path: path, fields: [ParquetField("blob", .string)], codec: .zstd)
        let big = (0..<40).map { i -> ParquetValue in
            i % 4 == 3 ? .null : .string(String(repeating: "\(i % 10)", count: 100_000))
        }
        for v in big { try w.append([v]) }
        try w.finish()
        let f = try ParquetFile(path: path)
        let got = try cells(f, f.columns)[0]
        #expect(got.count == 40)
        #expect(got[3] == .null && got[4] == .string(String(repeating: "4", count: 100_000)))
    }

    @Test func emptyFileHasItsSchemaAndNoRows() throws {
        let path = Self.temporary("empty.parquet")
        let w = try ParquetWriter(path: path, fields: Self.fields)
        try w.finish()
        let f = try ParquetFile(path: path)
        #expect(f.rowCount == 0 && f.columns.count == Self.fields.count)
    }

    @Test func aValueOfTheWrongTypeIsRefused() throws {
        let path = Self.temporary("bad.parquet")
        let w = try ParquetWriter(path: path, fields: [ParquetField("n", .int64, optional: false)])
        #expect(throws: ParquetError.self) { try w.append([.string("x")]) }
        #expect(throws: ParquetError.self) { try w.append([.null]) }
        w.abandon()
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
    }
}
