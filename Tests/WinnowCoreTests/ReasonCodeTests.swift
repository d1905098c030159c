import Foundation
import Testing
import WinnowCore

/// The repository's root, from this file's path (Tests/WinnowCoreTests/ReasonCodeTests.swift).
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Issue 26: reasons are a closed vocabulary, each documented.
@Suite struct ReasonCodeTests {
    /// Every code is in docs/formats.md's reasons table, once, with its stage.
    @Test func everyCodeIsDocumented() throws {
        let doc = try String(contentsOfFile: packageRoot + "/docs/formats.md", encoding: .utf8)
        // The rows of the "### Reasons" section's table.
        let section =
            doc.components(separatedBy: "### Reasons\n").dropFirst().first?.components(separatedBy: "\n#")
            .first ?? ""
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }
        for code in ReasonCode.all {
            let row = rows.filter { $0.hasPrefix("| `\(code.rawValue)` |") }
            #expect(row.count == 1, "\(code.rawValue) is not documented in docs/formats.md (or twice)")
            #expect(row.first?.contains("| \(code.stage.rawValue) |") == true, "\(code.rawValue): stage")
        }
        #expect(Set(ReasonCode.all.map(\.rawValue)).count == ReasonCode.all.count)
    }

    /// No source file makes a reason from a string: every drop names a `ReasonCode` constant.
    @Test func noReasonIsSpelledAsAString() throws {
        let root = packageRoot + "/Sources"
        let files = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
        var found: [String] = []
        for f in files where f.hasSuffix(".swift") {
            let text = try String(contentsOfFile: root + "/" + f, encoding: .utf8)
            for pattern in [#"drop(""#, #"Reason(""#, #"ImageError(""#] where text.contains(pattern) {
                found.append("\(f): \(pattern)")
            }
        }
        #expect(found.isEmpty, "\(found)")
    }

    @Test func httpStatusesAreTheirClass() {
        #expect(ReasonCode.lookup("http_404")?.stage == .fetch)
        #expect(ReasonCode.lookup("http_503")?.summary == ReasonCode.http5xx.summary)
        #expect(ReasonCode.lookup("caption_too_short") == .captionTooShort)
        #expect(ReasonCode.lookup("no_such_code") == nil)
        #expect(Reason(.http(404), "x").code == "http_404")
    }
}
