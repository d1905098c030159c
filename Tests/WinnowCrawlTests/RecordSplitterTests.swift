import Foundation
import Testing

@testable import WinnowCrawl

/// The WARC record splitter of gzip members: header fields looked up on bytes, Content-Length read as digits only.
struct RecordSplitterTests {
    /// What the splitter makes of `text`: each record's WARC-Type value and block, or its problem code.
    static func split(_ text: String) throws -> [String] {
        var out: [String] = []
        try Array(text.utf8).withUnsafeBytes { raw in
            try RecordSplitter.records(in: raw) { fields, block, problem in
                if let problem {
                    out.append("problem:\(problem.code)")
                    return
                }
                let type = fields.value("warc-type") ?? "-"
                let metadata = fields.valueEquals("WARC-Type", "metadata")
                let json = fields.valueHasPrefixFold("Content-Type", "application/json")
                out.append("\(type) \(metadata) \(json) \(String(decoding: block, as: UTF8.self))")
            }
        }
        return out
    }

    @Test func fieldsAreFoundInAnyCase() throws {
        let records = try Self.split(
            "WARC/1.0\r\nwarc-TYPE: metadata\r\nCONTENT-type: Application/JSON; charset=utf-8\r\ncontent-LENGTH: 2\r\n\r\n{}\r\n\r\n"
                + "WARC/1.0\nWARC-Type: metadatax\nContent-Type: text/plain\nContent-Length:  3 \n\nabc\n\n"
                + "WARC/1.0\r\nWARC-Type:response\r\nContent-Type: application/jso\r\nContent-Length: 0\r\n\r\n")
        #expect(
            records == [
                "metadata true true {}", "metadatax false false abc", "response false false ",
            ])
    }

    @Test func manyFieldsAndTruncatedHeaders() throws {
        // More fields than the splitter's first array holds, and the Content-Length among the last.
        let many = (0..<40).map { "X-Field-\($0): value \($0)\r\n" }.joined()
        let records = try Self.split(
            "WARC/1.0\r\nWARC-Type: metadata\r\n" + many
                + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        #expect(records == ["metadata true true {}"])
        for cut in ["WARC/1.0\r\nWARC-Type: metadata\r\nContent-Length: 2", "WARC/1.0\r\nWARC-Type: metadata\r\n"] {
            #expect(try Self.split(cut) == ["problem:truncated_record"], "\(cut.debugDescription)")
        }
        #expect(try Self.split("WARC/1.0\r\nno colon here\r\n\r\n") == ["problem:bad_warc_header"])
        // An invalid Content-Length followed by a valid one: the valid one counts.
        #expect(
            try Self.split("WARC/1.0\nWARC-Type: x\nContent-Length: ?\nContent-Length: 1\n\nz")
                == ["x false false z"])
    }

    @Test func contentLengthIsDigitsOnly() throws {
        for bad in ["+2", "-2", "2x", "", "0x2", "1234567890123456789"] {
            let records = try Self.split("WARC/1.0\r\nWARC-Type: metadata\r\nContent-Length: \(bad)\r\n\r\n{}\r\n\r\n")
            #expect(records == ["problem:bad_warc_header"], "\(bad.debugDescription)")
        }
        // A field that only looks like Content-Length (a control byte where the dash is) does not count.
        let lookalike = try Self.split("WARC/1.0\r\nContent\rlength: 2\r\n\r\n{}\r\n\r\n")
        #expect(lookalike == ["problem:bad_warc_header"])
    }
}
