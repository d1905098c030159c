import Testing
import WinnowCore

@testable import WinnowFetch

/// The policy engine on its own: every document-level signal, for each purpose, alone and in conflict; the first
/// in precedence order is the evidence, and any refusal wins over any permission.
@Suite struct OriginPolicyTests {
    static func robots(_ text: String) -> RobotsTxt { RobotsTxt(parsing: Array(text.utf8)) }

    static let tdm = Array(#"[{"location": "/tdm/*", "tdm-reservation": 1, "tdm-policy": "https://x.test/p"}]"#.utf8)

    /// (robots.txt, ai.txt, TDMRep?, path, purpose, expected reason code or nil)
    static let cases: [(String, String?, Bool, String, UsagePurpose, String?)] = [
        // Nothing says no.
        ("", nil, false, "/a.jpg", .trainAI, nil),
        // robots.txt Disallow, for every purpose.
        ("User-agent: *\nDisallow: /a", nil, false, "/a.jpg", .trainAI, "robots_txt"),
        ("User-agent: *\nDisallow: /a", nil, false, "/a.jpg", .search, "robots_txt"),
        // Usage preferences: only the purpose they name.
        ("User-agent: *\nContent-Usage: train-ai=n", nil, false, "/a.jpg", .trainAI, "robots_content_usage"),
        ("User-agent: *\nContent-Usage: train-ai=n", nil, false, "/a.jpg", .search, nil),
        ("User-agent: *\nContent-Usage: search=n", nil, false, "/a.jpg", .search, "robots_content_usage"),
        ("User-agent: *\nContent-Signal: ai-train=no", nil, false, "/a.jpg", .trainAI, "content_signal"),
        ("User-agent: *\nContent-Signal: ai-input=no", nil, false, "/a.jpg", .aiUse, "content_signal"),
        ("User-agent: *\nContent-Signal: ai-input=no", nil, false, "/a.jpg", .trainAI, nil),
        // Conflicts: a yes in one place does not undo a no in another.
        (
            "User-agent: *\nContent-Usage: train-ai=y\nContent-Signal: ai-train=no", nil, false, "/a.jpg", .trainAI,
            "content_signal"
        ),
        ("User-agent: *\nContent-Usage: train-ai=y", "User-agent: *\nDisallow: /", false, "/a.jpg", .trainAI, "ai_txt"),
        ("User-agent: *\nContent-Usage: train-ai=y", nil, true, "/tdm/a.jpg", .trainAI, "tdmrep"),
        // Disallow comes first in the evidence; preferences apply only where crawling is allowed.
        ("User-agent: *\nDisallow: /\nContent-Usage: train-ai=n", nil, false, "/a.jpg", .trainAI, "robots_txt"),
        // TDMRep by location; ai.txt by its own groups.
        ("", nil, true, "/other/a.jpg", .trainAI, nil),
        ("", "User-agent: *\nDisallow: /images/", false, "/images/a.jpg", .trainAI, "ai_txt"),
    ]

    @Test func everySignalAndConflict() {
        for (i, c) in Self.cases.enumerated() {
            var p = OriginPolicy(origin: "http://x.test", robots: Self.robots(c.0), aiTxt: c.1.map(Self.robots))
            if c.2 { p.setTDMRep(Self.tdm) }
            let r = p.refusal(path: c.3, tokens: ["WinnowBot", "CCBot"], purpose: c.4)
            #expect(
                r?.code == c.5, "case \(i): \(c.0.debugDescription) \(c.3) \(c.4.rawValue) -> \(String(describing: r))")
        }
    }

    @Test func evidenceNamesTheDocumentAndTheRule() {
        let p = OriginPolicy(origin: "http://x.test", robots: Self.robots("User-agent: CCBot\nDisallow: /cc/\n"))
        let r = p.refusal(
            path: "/cc/a.jpg", tokens: ["WinnowBot", "CCBot"], purpose: .trainAI, prefix: "hop: ", suffix: " [cached]")
        #expect(r == Reason(.robotsTxt, "hop: http://x.test/robots.txt: Disallow: /cc/ (user-agent ccbot) [cached]"))
        // An origin whose documents could not be read refuses everything, with that reason.
        let down = OriginPolicy(origin: "http://x.test", failure: Reason(.robotsUnreachable, "HTTP 503"))
        #expect(down.refusal(path: "/a", tokens: [], purpose: .search)?.code == "robots_unreachable")
    }

    @Test func urlsWithoutAnOriginAreRefused() throws {
        #expect(
            OriginPolicy.origin(of: try WebURL.parse("https://X.test:8443/a|b^{c}")).origin == "https://x.test:8443")
        // Schemes other than http(s) do not even parse as candidate URLs (dropped as url_invalid before this).
        #expect(throws: (any Error).self) { try WebURL.parse("ftp://x.test/a.jpg") }
        #expect(throws: (any Error).self) { try WebURL.parse("data:image/png;base64,AAAA") }
    }
}
