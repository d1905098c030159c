import Foundation
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowFetch

/// AI usage preferences: the Content-Usage header and robots.txt rule (IETF AI Preferences, parsed as RFC 9651
/// Dictionaries, draft-ietf-aipref-vocab-08 and -attach), Cloudflare's Content-Signal lines, for each purpose.
@Suite struct AIPreferencesTests {
    typealias P = UsagePreference

    @Test(arguments: [
        // value, purpose, expected, valid
        ("train-ai=n", "train-ai", P.disallowed, true),
        ("train-ai=y", "train-ai", P.allowed, true),
        ("train-ai=n", "search", P.unknown, true),
        ("search=n, train-ai=y", "search", P.disallowed, true),
        ("ai-use=n", "ai-use", P.disallowed, true),
        ("ai-use=n", "train-ai", P.unknown, true),
        // Parameters are ignored; unknown categories too.
        ("train-ai=n;reason=\"no thanks\", future-thing=n", "train-ai", P.disallowed, true),
        // Not the token y or n: states nothing (a string, an integer, a bare key).
        ("train-ai=\"n\"", "train-ai", P.unknown, true), ("train-ai=0", "train-ai", P.unknown, true),
        ("train-ai", "train-ai", P.unknown, true), ("train-ai=no", "train-ai", P.unknown, true),
        // The last of a repeated key wins.
        ("train-ai=n, train-ai=y", "train-ai", P.allowed, true), ("train-ai=y, train-ai", "train-ai", P.unknown, true),
        // Invalid dictionaries state nothing, and no substring is read into them.
        ("TRAIN-AI=n", "train-ai", P.unknown, false), ("train-ai=n,", "train-ai", P.unknown, false),
        ("train-ai=n train-genai=n", "train-ai", P.unknown, false),
        ("xtrain-ai=n", "train-ai", P.unknown, true),
    ])
    func contentUsage(value: String, purpose: String, expected: P, valid: Bool) throws {
        let p = try #require(UsagePurpose(rawValue: purpose))
        let r = AIPreferences.contentUsage(value, purpose: p)
        #expect(r.0 == expected, "\(value) for \(purpose)")
        #expect(r.valid == valid, "\(value)")
    }

    @Test func contentSignals() {
        let v = "search=yes, ai-input=no, ai-train=no"
        #expect(AIPreferences.contentSignal(v, purpose: .trainAI).0 == .disallowed)
        #expect(AIPreferences.contentSignal(v, purpose: .aiUse).0 == .disallowed)
        #expect(AIPreferences.contentSignal(v, purpose: .search).0 == .allowed)
        #expect(AIPreferences.contentSignal("search=yes,ai-train=no", purpose: .trainAI).0 == .disallowed)
        #expect(AIPreferences.contentSignal("search=yes", purpose: .trainAI).0 == .unknown)
        #expect(AIPreferences.contentSignal("ai-train=n", purpose: .trainAI).0 == .unknown)
    }

    @Test func mostRestrictiveWins() {
        #expect(P.combined([.allowed, .disallowed, .unknown]) == .disallowed)
        #expect(P.combined([.allowed, .unknown]) == .allowed)
        #expect(P.combined([]) == .unknown)
    }

    @Test func headersAreParsedNotSearched() {
        func check(_ headers: [(String, String)], _ purpose: UsagePurpose = .trainAI) -> String? {
            Fetcher.headerOptOut(headers, tokens: ["WinnowBot"], xRobotsTagValues: [], purpose: purpose)?.code
        }
        #expect(check([("Content-Usage", "train-ai=n")]) == "content_usage")
        #expect(check([("content-usage", "search=y, train-ai=n;x=1")]) == "content_usage")
        #expect(check([("Content-Usage", "train-ai=y")]) == nil)
        #expect(check([("Content-Usage", "xtrain-ai=n")]) == nil)
        #expect(check([("Content-Usage", "TRAIN-AI=n")]) == nil)
        #expect(check([("Content-Usage", "search=n")]) == nil)
        #expect(check([("Content-Usage", "search=n")], .search) == "content_usage")
        // Two field lines are one dictionary: the later member wins.
        #expect(check([("Content-Usage", "train-ai=y"), ("Content-Usage", "train-ai=n")]) == "content_usage")
        #expect(check([("Content-Usage", "train-ai=n"), ("Content-Usage", "train-ai=y")]) == nil)
    }

    @Test func robotsRulesInGroupsWithLongestPathMatch() throws {
        let r = RobotsTxt(
            parsing: Array(
                """
                Content-Usage: train-ai=n
                User-Agent: *
                Allow: /
                Disallow: /never/
                Content-Usage: train-ai=n
                Content-Usage: /ai-ok/ train-ai=y
                Content-Usage: /mixed/ train-ai=y
                content-usage: /mixed/ train-ai=n
                Content-Usage: /bad/ TRAIN-AI=n

                User-agent: WinnowBot
                Allow: /
                Content-Signal: search=yes, ai-train=no
                Content-Signal: /open/ ai-train=yes

                User-agent: OtherBot
                Allow: /
                """.utf8))
        func denial(_ path: String, _ tokens: [String], _ purpose: UsagePurpose = .trainAI) -> [String]? {
            r.usageDenial(path: path, tokens: tokens, purpose: purpose)?.rules.map(\.line)
        }
        // The * group: the site-wide rule, overridden by the longer /ai-ok/; equal paths combine to the strictest.
        #expect(denial("/img/a.jpg", ["GPTBot"]) == ["Content-Usage: train-ai=n"])
        #expect(denial("/ai-ok/a.jpg", ["GPTBot"]) == nil)
        #expect(denial("/mixed/a.jpg", ["GPTBot"]) == ["Content-Usage: /mixed/ train-ai=n"])
        // An invalid value states nothing; the longest match is still that line (no fall back to the site's).
        #expect(denial("/bad/a.jpg", ["GPTBot"]) == nil)
        #expect(denial("/img/a.jpg", ["GPTBot"], .search) == nil)
        // A token with its own group obeys only that group: Content-Signal there.
        #expect(denial("/img/a.jpg", ["WinnowBot"]) == ["Content-Signal: search=yes, ai-train=no"])
        #expect(denial("/open/a.jpg", ["WinnowBot"]) == nil)
        #expect(denial("/img/a.jpg", ["WinnowBot"], .search) == nil)
        #expect(denial("/img/a.jpg", ["OtherBot"]) == nil)
        // Every token is asked, as for Disallow: a token without a group of its own obeys *, which says no, even
        // when an earlier token has a group of its own that says nothing.
        #expect(denial("/img/a.jpg", ["OtherBot", "GPTBot"]) == ["Content-Usage: train-ai=n"])
        #expect(r.usageDenial(path: "/img/a.jpg", tokens: ["OtherBot", "GPTBot"], purpose: .trainAI)?.token == "*")
        // The lines are rules of their group: the file's Allow/Disallow read as before.
        #expect(r.decision(path: "/never/x", tokens: ["GPTBot"]).allowed == false)
        #expect(r.decision(path: "/img/x", tokens: ["WinnowBot"]).allowed == true)
    }
}

/// The fetcher asks robots.txt's usage preferences before it downloads, and checks every URL it can reach against
/// robots.txt, even one with characters `URLComponents` rejects.
@Suite(.serialized) struct UsagePreferenceFetchTests {
    let server = RouteServer()
    init() throws { try server.start() }

    var settings: FetchSettings {
        var s = FetchSettings()
        s.connectTo = server.connectTo(["cu.test", "cs.test", "odd.test"])
        s.allowedRanges = [CIDR("127.0.0.0/8")!]
        s.timeoutSeconds = 5
        s.retries = 0
        return s
    }

    func text(_ s: String) -> RouteServer.Response { RouteServer.Response(body: Array(s.utf8)) }

    @Test func robotsPreferencesDropBeforeDownload() {
        server.route("cu.test", "/robots.txt", text("User-agent: *\nAllow: /\nContent-Usage: /train/ train-ai=n\n"))
        server.route(
            "cs.test", "/robots.txt", text("User-Agent: *\nContent-signal: search=yes,ai-train=no\nAllow: /\n"))
        for host in ["cu.test", "cs.test"] {
            for p in ["/train/a.jpg", "/other/a.jpg"] { server.route(host, p, .image) }
        }
        let urls = ["http://cu.test/train/a.jpg", "http://cu.test/other/a.jpg", "http://cs.test/other/a.jpg"]
        let r = fetch(urls, settings)
        #expect(r["http://cu.test/train/a.jpg"]?.outcome.reason?.code == "robots_content_usage")
        #expect(
            r["http://cu.test/train/a.jpg"]?.outcome.reason?.detail
                == "http://cu.test/robots.txt: Content-Usage: /train/ train-ai=n (user-agent *, purpose train-ai)")
        #expect(r["http://cu.test/other/a.jpg"]?.isKept == true)
        #expect(r["http://cs.test/other/a.jpg"]?.outcome.reason?.code == "content_signal")
        #expect(!server.requests.contains("cu.test /train/a.jpg") && !server.requests.contains("cs.test /other/a.jpg"))
        // For a search index, neither says no.
        var s = settings
        s.purpose = .search
        let search = fetch(["http://cu.test/train/a.jpg", "http://cs.test/other/a.jpg"], s)
        #expect(search.values.allSatisfy { $0.isKept }, "\(search.values.map(\.outcome))")
    }

    @Test func invalidContentUsageHeadersAreIgnoredAndRecorded() {
        func image(_ usage: String) -> RouteServer.Response {
            var r = RouteServer.Response.image
            r.headers.append(("Content-Usage", usage))
            return r
        }
        server.route("cu.test", "/robots.txt", text(""))
        server.route("cu.test", "/bad.jpg", image("TRAIN-AI=n"))
        server.route("cu.test", "/good.jpg", image("train-ai=n"))
        let fetcher = Fetcher(settings: settings)
        var pending = ["http://cu.test/bad.jpg", "http://cu.test/good.jpg"].map {
            Sample(
                candidate: Candidate(
                    url: $0, caption: "c", pageURL: "", provenance: Provenance(inputFile: "t", recordOffset: 0)))
        }
        var out: [String: Sample] = [:]
        fetcher.run(
            pull: { _ in pending.isEmpty ? .finished : .sample(pending.removeFirst()) },
            emit: { out[$0.candidate.url] = $0 })
        // Not read as an opt-out (nor as a permission): the image is kept, and the run says what it ignored.
        #expect(out["http://cu.test/bad.jpg"]?.isKept == true)
        #expect(out["http://cu.test/good.jpg"]?.outcome.reason?.code == "content_usage")
        #expect(fetcher.ignoredSignals.count == 1)
        #expect(
            fetcher.ignoredSignals.first?.hasPrefix("1 Content-Usage header not an RFC 9651 Dictionary") == true,
            "\(fetcher.ignoredSignals)")
        #expect(fetcher.ignoredSignals.first?.contains("http://cu.test/bad.jpg: Content-Usage: TRAIN-AI=n") == true)
    }

    @Test func urlsURLComponentsRejectsAreStillCheckedAgainstRobotsTxt() {
        server.route("odd.test", "/robots.txt", text("User-agent: *\nDisallow: /private/\n"))
        let urls = [
            "http://odd.test/private/a|b.jpg", "http://odd.test/private/c^d.jpg", "http://odd.test/private/{e}.jpg",
        ]
        let r = fetch(urls, settings)
        for u in urls {
            #expect(r[u]?.outcome.reason?.code == "robots_txt", "\(u): \(String(describing: r[u]?.outcome))")
        }
        #expect(!server.requests.contains { $0.hasPrefix("odd.test /private/") })
    }
}
