import Foundation
import Testing

@testable import WinnowFetch

/// `RobotsTxt` against the assertions of Google's reference parser tests (google/robotstxt robots_test.cc), which
/// are not in the repository: runs only when `WINNOW_ROBOTS_TESTS` names the JSON that scripts/robots_conformance.py
/// extracts from a local copy. Prints each difference and the counts, split into the RFC 9309 tests (`ID_`) and
/// Google's own behaviour (`GoogleOnly_`), and fails on a difference that is not listed in `deliberate`.
@Suite struct RobotsConformanceTests {
    static let path = ProcessInfo.processInfo.environment["WINNOW_ROBOTS_TESTS"]

    /// One `EXPECT_TRUE/EXPECT_FALSE(IsUserAgentAllowed(robotstxt, agent, url))`.
    struct Assertion {
        var test: String
        var line: Int
        var robotstxt: [UInt8]
        var agent: String
        var url: String
        var expected: Bool
    }

    /// A difference kept on purpose: the test, the end of the URL, and why. docs/conformance.md lists them too.
    struct Deliberate {
        var test: String
        var urlSuffix: String
        var reason: String
    }

    static let deliberate = [
        Deliberate(
            test: "ID_Encoding", urlSuffix: "/foo/bar/ツ",
            reason: "RFC 9309 2.2.2: non-ASCII octets are percent-encoded before comparison, so /ツ is /%E3%83%84"),
        Deliberate(
            test: "ID_Encoding", urlSuffix: "/foo/bar/baz",
            reason: "RFC 9309 2.2.2's own example: the rule /foo/bar/%62%61%7A matches the path /foo/bar/baz"),
        Deliberate(
            test: "GoogleOnly_IndexHTMLisDirectory", urlSuffix: "/allowed-slash/",
            reason: "Google-only: allowing index.html does not allow its directory here; the site allowed one file"),
        Deliberate(
            test: "GoogleOnly_LineTooLong", urlSuffix: "/fux",
            reason: "Google-only: no per-line cap within the 500 KiB read; the rule is the whole line the site wrote"),
    ]

    static func reason(_ a: Assertion) -> String? {
        deliberate.first { $0.test == a.test && a.url.hasSuffix($0.urlSuffix) }?.reason
    }

    /// A JSON field: text, or `{"base64": ...}` for bytes that are not UTF-8.
    static func bytes(_ value: Any?) -> [UInt8]? {
        if let s = value as? String { return Array(s.utf8) }
        if let b = (value as? [String: Any])?["base64"] as? String, let d = Data(base64Encoded: b) { return Array(d) }
        return nil
    }

    static func assertions(_ path: String) throws -> [Assertion] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let all = try JSONSerialization.jsonObject(with: data) as? [Any] ?? []
        var out: [Assertion] = []
        for case let e as [String: Any] in all {
            guard let test = e["test"] as? String, let line = e["line"] as? Int, let expected = e["expected"] as? Bool,
                let robots = bytes(e["robotstxt"]), let agent = bytes(e["agent"]), let url = bytes(e["url"])
            else { continue }
            out.append(
                Assertion(
                    test: test, line: line, robotstxt: robots, agent: String(decoding: agent, as: UTF8.self),
                    url: String(decoding: url, as: UTF8.self), expected: expected))
        }
        return out
    }

    /// What `RobotsTxt` decides: the URL becomes path and query as the fetcher makes them (`/` when there is none),
    /// and the agent is the one token obeyed.
    static func allowed(_ a: Assertion) -> Bool {
        RobotsTxt(parsing: a.robotstxt).decision(path: Fetcher.pathAndQuery(a.url), tokens: [a.agent]).allowed
    }

    /// A long value shown by its start and its length.
    static func show(_ s: String) -> String {
        s.utf8.count <= 160 ? s.debugDescription : "\(String(s.prefix(80)).debugDescription)... (\(s.utf8.count) bytes)"
    }

    @Test(.enabled(if: path != nil, "WINNOW_ROBOTS_TESTS names no JSON of robots_test.cc's assertions"))
    func googleReferenceParserAssertions() throws {
        let all = try Self.assertions(Self.path ?? "")
        var agree: [String: Int] = [:]
        var total: [String: Int] = [:]
        var unexpected: [String] = []
        for a in all {
            let group = a.test.hasPrefix("GoogleOnly_") ? "GoogleOnly_" : "ID_"
            total[group, default: 0] += 1
            if Self.allowed(a) == a.expected {
                agree[group, default: 0] += 1
                continue
            }
            let robots = Self.show(String(decoding: a.robotstxt, as: UTF8.self))
            let line =
                "\(a.test) (line \(a.line)): robots.txt \(robots), agent \(a.agent.debugDescription), "
                + "URL \(Self.show(a.url)): expected \(a.expected ? "allowed" : "disallowed")"
            let why = Self.reason(a)
            print("ROBOTS-DIFF \(line)\(why.map { " (deliberate: \($0))" } ?? "")")
            if why == nil { unexpected.append(line) }
        }
        let differences = all.count - agree.values.reduce(0, +)
        print(
            "ROBOTS-SUMMARY \(all.count - differences) of \(all.count) assertions agree "
                + "(ID_ \(agree["ID_", default: 0]) of \(total["ID_", default: 0]), "
                + "GoogleOnly_ \(agree["GoogleOnly_", default: 0]) of \(total["GoogleOnly_", default: 0])); "
                + "\(differences - unexpected.count) deliberate differences, \(unexpected.count) unexpected")
        #expect(all.count > 100)
        #expect(unexpected.isEmpty, "\(unexpected.joined(separator: "\n"))")
    }
}
