import Foundation
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowCrawl

@Suite struct URLListTests {
    func read(_ name: String, _ content: String, _ options: URLListOptions = URLListOptions(), gzip: Bool = false)
        throws -> (
            candidates: [Candidate], skipped: [RecordError]
        )
    {
        let path = TestSupport.temporaryDirectory() + "/" + name
        let bytes = gzip ? try Gzip.compress(Array(content.utf8)) : Array(content.utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try readAll([path], lists: options)
    }

    /// Lines end at LF, CR or CRLF in any mix, in every format; a byte order mark (Excel's "CSV UTF-8") is not part
    /// of the first column's name; offsets stay byte offsets of the file.
    @Test(arguments: ["\n", "\r\n", "\r", "mixed"])
    func everyLineEnding(ending: String) throws {
        func join(_ lines: [String]) -> String {
            let ends = ending == "mixed" ? ["\r\n", "\n", "\r"] : [ending]
            return lines.enumerated().map { $0.element + ends[$0.offset % ends.count] }.joined()
        }
        let bom = "\u{FEFF}"
        let txt = try read("list.txt", bom + join(["# urls", "http://a.test/1.jpg\tone", "", "http://a.test/2.jpg"]))
        #expect(
            txt.candidates.map(\.url) == ["http://a.test/1.jpg", "http://a.test/2.jpg"], "\(ending.debugDescription)")
        #expect(txt.candidates.map(\.caption) == ["one", ""])
        let csvText = bom + join(["url,caption", "http://a.test/1.jpg,\"a, b\"", "http://a.test/2.jpg,c"])
        let csv = try read("list.csv", csvText, URLListOptions(captionColumn: "caption"))
        #expect(csv.candidates.map(\.caption) == ["a, b", "c"], "\(ending.debugDescription)")
        #expect(
            csv.candidates.last?.provenance.recordOffset
                == Int64(csvText.utf8.count - "http://a.test/2.jpg,c".utf8.count - (ending == "\r\n" ? 2 : 1)))
        let tsv = try read(
            "list.tsv", join(["url\tcaption", "http://a.test/1.jpg\tx"]), URLListOptions(captionColumn: "caption"))
        #expect(tsv.candidates.map(\.caption) == ["x"])
        let jsonl = try read(
            "list.jsonl", join([#"{"url": "http://a.test/1.jpg"}"#, #"{"url": "http://a.test/2.jpg"}"#]))
        #expect(jsonl.candidates.count == 2 && jsonl.skipped.isEmpty)
    }

    /// A CRLF split between two reads of the file is one line end: a list long enough to span many reads, in CRLF
    /// and gzipped, gives the LF list's candidates.
    @Test func crlfAcrossReadBoundaries() throws {
        let lines = (0..<40_000).map { "http://a.test/\($0).jpg\tcaption \($0)" }
        let lf = try read("lf.txt", lines.joined(separator: "\n"))
        let crlf = try read("crlf.txt", lines.joined(separator: "\r\n") + "\r\n")
        let cr = try read("cr.txt.gz", lines.joined(separator: "\r"), gzip: true)
        #expect(lf.candidates.count == 40_000)
        #expect(crlf.candidates.map(\.url) == lf.candidates.map(\.url))
        #expect(crlf.candidates.map(\.caption) == lf.candidates.map(\.caption))
        #expect(cr.candidates.map(\.caption) == lf.candidates.map(\.caption))
    }

    @Test func csvWithQuotesCommasAndNewlinesAsImg2datasetReadsIt() throws {
        let csv =
            "id,URL,TEXT\n1,http://a.test/1.jpg,\"a cat, sitting\"\n2,http://a.test/2.jpg,\"two\nlines \"\"quoted\"\"\"\n3,not a url,x\n"
        let r = try read("list.csv", csv, URLListOptions(urlColumn: "URL", captionColumn: "TEXT"))
        #expect(r.candidates.map(\.url) == ["http://a.test/1.jpg", "http://a.test/2.jpg"])
        #expect(r.candidates.map(\.caption) == ["a cat, sitting", "two lines \"quoted\""])
        #expect(r.skipped.map(\.code) == ["bad_url"])
        #expect(r.skipped.first?.offset == Int64(csv.utf8.count - "3,not a url,x\n".utf8.count))
    }

    @Test func tsvGzippedAndJSONLWithChosenKeys() throws {
        let tsv = try read(
            "list.tsv.gz", "url\tcaption\nhttp://a.test/1.jpg\ta red circle\n",
            URLListOptions(captionColumn: "caption"), gzip: true)
        #expect(tsv.candidates.map(\.caption) == ["a red circle"])
        let jsonl = try read(
            "l.jsonl", #"{"link": "https://a.test/x.png", "alt": "blue square"}"# + "\n{\"link\": 3}\n",
            URLListOptions(urlColumn: "link", captionColumn: "alt"))
        #expect(jsonl.candidates.map(\.url) == ["https://a.test/x.png"])
        #expect(jsonl.candidates.map(\.caption) == ["blue square"])
        #expect(jsonl.skipped.map(\.code) == ["bad_json"])
    }

    @Test func missingColumnIsAClearError() throws {
        let error = #expect(throws: WinnowError.self) {
            try read("l.csv", "a,b\n1,2\n", URLListOptions(urlColumn: "url"))
        }
        #expect(error?.message.contains("no column \"url\"") == true)
        #expect(error?.message.contains("l.csv") == true)
    }

    @Test func unknownFormatIsAClearError() {
        #expect(throws: WinnowError.self) { try CandidateReader(paths: [], lists: URLListOptions(format: "xml")) }
    }
}
