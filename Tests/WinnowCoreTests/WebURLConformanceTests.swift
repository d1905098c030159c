import Foundation
import Testing

@testable import WinnowCore

/// `WebURL` against web-platform-tests' URL data (url/resources/urltestdata.json), which is not in the repository:
/// runs only when `WINNOW_WPT_URLTESTDATA` names a local copy (scripts/url_conformance.sh fetches one and runs this).
/// Counts the entries that concern http(s) and fails on a difference that is not listed in `deliberate`.
@Suite struct WebURLConformanceTests {
    static let path = ProcessInfo.processInfo.environment["WINNOW_WPT_URLTESTDATA"]

    /// One entry of the data that concerns http(s).
    struct Entry {
        var input: String
        var base: String?
        /// The expected href without the fragment; nil when the entry expects a failure.
        var href: String?
    }

    /// Differences kept on purpose (or left), by input, each with why. docs/conformance.md lists them too.
    static let deliberate: [String: String] = [:]

    /// The scheme of `s` as the parser would read it (lower-cased), or nil.
    static func scheme(_ s: String) -> String? {
        let t = s.drop { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true }
        guard let colon = t.firstIndex(of: ":") else { return nil }
        let name = t[t.startIndex..<colon].lowercased().filter { $0 != "\t" && $0 != "\n" && $0 != "\r" }
        guard let first = name.first, first.isASCII, first.isLetter,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        return name
    }

    static func isWeb(_ s: String?) -> Bool { s.flatMap(scheme).map { $0 == "http" || $0 == "https" } ?? false }

    /// The entries that concern http(s): input or base is http(s), or a failure is expected against such a base;
    /// entries whose expected result is not http(s) (which `WebURL` rejects by design) are left out.
    static func entries(_ path: String) throws -> [Entry] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let all = try JSONSerialization.jsonObject(with: data) as? [Any] ?? []
        var out: [Entry] = []
        for case let e as [String: Any] in all {
            guard let input = e["input"] as? String else { continue }
            let base = e["base"] as? String
            guard isWeb(input) || isWeb(base) else { continue }
            if e["failure"] as? Bool == true {
                out.append(Entry(input: input, base: base, href: nil))
                continue
            }
            guard let href = e["href"] as? String, isWeb(href) else { continue }
            let bare = href.firstIndex(of: "#").map { String(href[..<$0]) } ?? href
            out.append(Entry(input: input, base: base, href: bare))
        }
        return out
    }

    /// What `WebURL` makes of an entry: its href, or `failure: <code>`.
    static func result(_ e: Entry) -> String {
        let base = e.base.flatMap { try? WebURL.parse($0) }
        do {
            return try WebURL.parse(e.input, base: base).href
        } catch {
            return "failure: \(error.rawValue)"
        }
    }

    @Test(.enabled(if: path != nil, "WINNOW_WPT_URLTESTDATA names no local urltestdata.json"))
    func webPlatformTestsURLData() throws {
        let entries = try Self.entries(Self.path ?? "")
        var passed = 0
        var unexpected: [String] = []
        for e in entries {
            let got = Self.result(e)
            let ok = e.href.map { got == $0 } ?? got.hasPrefix("failure")
            if ok {
                passed += 1
                continue
            }
            let line =
                "\(e.input.debugDescription) against \(e.base?.debugDescription ?? "none"): "
                + "expected \(e.href ?? "failure"), got \(got)"
            print("WPT-DIFF \(line)\(Self.deliberate[e.input].map { " (deliberate: \($0))" } ?? "")")
            if Self.deliberate[e.input] == nil { unexpected.append(line) }
        }
        print("WPT-SUMMARY \(passed) of \(entries.count) http(s) entries pass")
        #expect(entries.count > 300)
        #expect(unexpected.isEmpty, "\(unexpected.joined(separator: "\n"))")
    }
}
