import Foundation
import Synchronization
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowFetch

/// Opt-outs that used to fail silently (issue 29), against a real server on 127.0.0.1 whose log shows what was
/// requested: every redirect hop checked against its own origin's documents before it is requested; robots.txt in
/// every line-ending style; a hostile robots.txt that must not hold up another site's downloads.
@Suite(.serialized) struct RedirectOptOutTests {
    let server = RouteServer()
    static let hosts = [
        "a.test", "b.test", "c.test", "t.test", "ai.test", "lf.test", "crlf.test", "cr.test", "mixed.test", "bom.test",
        "hostile.test", "healthy.test",
    ]

    init() throws { try server.start() }

    var settings: FetchSettings {
        var s = FetchSettings()
        s.connectTo = server.connectTo(RedirectOptOutTests.hosts)
        s.allowedRanges = [CIDR("127.0.0.0/8")!]
        s.timeoutSeconds = 5
        s.retries = 0
        return s
    }

    func text(_ s: String) -> RouteServer.Response { RouteServer.Response(body: Array(s.utf8)) }

    @Test func everyHopIsCheckedBeforeItIsRequested() {
        // b.test says no to everyone under /private/ (in CRLF, as Windows servers write it).
        server.route("b.test", "/robots.txt", text("User-agent: *\r\nDisallow: /private/\r\n"))
        server.route("b.test", "/private/img.jpg", .image)
        server.route("b.test", "/public/img.jpg", .image)
        server.route("a.test", "/redir", .redirect("http://b.test/private/img.jpg"))
        server.route("a.test", "/ok", .redirect("http://b.test/public/img.jpg"))
        // Two hops: a -> c (allowed) -> b/private; and a relative Location on b itself.
        server.route("a.test", "/two", .redirect("http://c.test/hop", status: 301))
        server.route("c.test", "/hop", .redirect("http://b.test/private/img.jpg?via=c", status: 307))
        server.route("b.test", "/public/relative", .redirect("../private/img.jpg", status: 308))
        let urls = [
            "http://a.test/redir", "http://a.test/ok", "http://a.test/two", "http://b.test/public/relative",
            "http://b.test/private/img.jpg",
        ]
        let r = fetch(urls, settings)
        let redir = r["http://a.test/redir"]?.outcome.reason
        #expect(redir?.code == "robots_txt")
        #expect(
            redir?.detail
                == "redirect hop 1 to http://b.test/private/img.jpg: http://b.test/robots.txt: Disallow: /private/ (user-agent *)"
        )
        #expect(r["http://a.test/ok"]?.isKept == true)
        #expect(r["http://a.test/ok"]?.fetch?.finalURL == "http://b.test/public/img.jpg")
        #expect(r["http://a.test/two"]?.outcome.reason?.code == "robots_txt")
        #expect(
            r["http://a.test/two"]?.outcome.reason?.detail.hasPrefix("redirect hop 2 to http://b.test/private/") == true
        )
        #expect(r["http://b.test/public/relative"]?.outcome.reason?.code == "robots_txt")
        #expect(
            r["http://b.test/private/img.jpg"]?.outcome.reason?.detail.hasPrefix("http://b.test/robots.txt") == true)
        // The disallowed path was never requested, by any route; the allowed hops were, once each.
        let log = server.requests
        #expect(!log.contains { $0.hasPrefix("b.test /private/") }, "\(log)")
        #expect(log.filter { $0 == "b.test /robots.txt" }.count == 1)
        #expect(log.contains("c.test /robots.txt") && log.contains("c.test /hop"))
        #expect(log.contains("b.test /public/img.jpg"))
    }

    /// Image requests say which formats Winnow decodes (issue 28), so that servers that negotiate send one of them.
    @Test func imageRequestsAcceptTheFormatsWinnowDecodes() {
        server.route("c.test", "/robots.txt", text("User-agent: *\nAllow: /\n"))
        server.route("c.test", "/negotiated.jpg", .image)
        #expect(fetch(["http://c.test/negotiated.jpg"], settings)["http://c.test/negotiated.jpg"]?.isKept == true)
        let accept = server.headers(of: "c.test /negotiated.jpg").first { $0.lowercased().hasPrefix("accept:") }
        #expect(
            accept?.contains("image/avif") == true && accept?.contains("image/jxl") == true,
            "\(String(describing: accept))")
        #expect(accept?.contains("image/webp") == true && accept?.contains("image/jpeg") == true)
    }

    @Test func redirectTargetsTDMRepAndAiTxtAreHonoured() {
        server.route(
            "t.test", "/.well-known/tdmrep.json", text(#"[{"location": "/reserved/*", "tdm-reservation": 1}]"#))
        server.route("t.test", "/reserved/img.jpg", .image)
        server.route("ai.test", "/ai.txt", text("User-Agent: *\r\nDisallow: /\r\n"))
        server.route("ai.test", "/img.jpg", .image)
        server.route("a.test", "/to-tdm", .redirect("http://t.test/reserved/img.jpg"))
        server.route("a.test", "/to-ai", .redirect("http://ai.test/img.jpg"))
        let r = fetch(["http://a.test/to-tdm", "http://a.test/to-ai"], settings)
        #expect(r["http://a.test/to-tdm"]?.outcome.reason?.code == "tdmrep")
        #expect(r["http://a.test/to-tdm"]?.outcome.reason?.detail.contains("http://t.test/reserved/img.jpg") == true)
        #expect(r["http://a.test/to-ai"]?.outcome.reason?.code == "ai_txt")
        #expect(
            r["http://a.test/to-ai"]?.outcome.reason?.detail.contains("redirect hop 1 to http://ai.test/img.jpg")
                == true)
        let log = server.requests
        #expect(!log.contains("t.test /reserved/img.jpg") && !log.contains("ai.test /img.jpg"), "\(log)")
    }

    /// With one transfer per host, a redirect frees the redirecting host's slot: every waiting sample of that host
    /// still starts (the run would never end otherwise).
    @Test func redirectsFreeTheirHostsSlot() {
        var urls: [String] = []
        for k in 0..<6 {
            server.route("a.test", "/r\(k)", .redirect("http://c.test/img/\(k).jpg"))
            server.route("c.test", "/img/\(k).jpg", .image)
            urls.append("http://a.test/r\(k)")
        }
        var s = settings
        s.perHostConcurrency = 1
        // On a thread of its own, so that a run that never ends fails the test instead of hanging the suite.
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<[String: Sample]>([:])
        let settings = s
        let all = urls
        Thread.detachNewThread {
            let r = fetch(all, settings)
            result.withLock { $0 = r }
            done.signal()
        }
        guard done.wait(timeout: .now() + 60) == .success else {
            Issue.record("the fetch did not end within 60 s: a host's waiting samples were never started")
            return
        }
        let r = result.withLock { $0 }
        for u in urls { #expect(r[u]?.isKept == true, "\(u): \(String(describing: r[u]?.outcome))") }
    }

    /// A host in any IPv4 notation is normalised before anything looks at it: `0x7f.1` is 127.0.0.1, refused by
    /// the address guard without a connection (or a robots.txt request), here and at a redirect's hop.
    @Test func hostsAreNormalisedBeforeTheGuardSeesThem() {
        server.route("a.test", "/to-hex", .redirect("http://0x7f.1/x.jpg"))
        var s = settings
        s.allowedRanges = []
        s.connectTo = server.connectTo(["a.test"])
        // a.test itself is reached through CONNECT_TO; the guard checks the address libcurl connects to.
        let r = fetch(["http://0x7f.1/x.jpg", "http://2130706433/y.jpg"], s)
        #expect(r["http://0x7f.1/x.jpg"]?.outcome.reason?.code == "address_refused")
        #expect(r["http://2130706433/y.jpg"]?.outcome.reason?.code == "address_refused")
        #expect(!server.requests.contains { $0.contains("x.jpg") || $0.contains("y.jpg") })
    }

    @Test func redirectLimitsAndBadTargets() {
        server.route("a.test", "/loop", .redirect("/loop"))
        server.route("a.test", "/ftp", .redirect("ftp://a.test/x.jpg"))
        var s = settings
        s.maxRedirects = 3
        let r = fetch(["http://a.test/loop", "http://a.test/ftp"], s)
        #expect(r["http://a.test/loop"]?.outcome.reason?.code == "too_many_redirects")
        #expect(server.requests.filter { $0 == "a.test /loop" }.count == 4)
        #expect(r["http://a.test/ftp"]?.outcome.reason?.code == "redirect_invalid")
    }

    /// robots.txt files in each line-ending style, with and without a byte order mark: the disallowed images are
    /// dropped with the rule as evidence, the others kept.
    @Test func robotsTxtInEveryLineEndingStyle() {
        let files: [(String, [UInt8])] = [
            ("lf.test", Array("User-agent: *\nDisallow: /private/\n".utf8)),
            ("crlf.test", Array("User-agent: GPTBot\r\nDisallow: /private/\r\n".utf8)),
            ("cr.test", Array("User-agent: *\rDisallow: /private/\r".utf8)),
            ("mixed.test", Array("# policy\r\nUser-agent: *\nAllow: /private/ok.jpg\r\rDisallow: /private/\r\n".utf8)),
            ("bom.test", [0xEF, 0xBB, 0xBF] + Array("User-agent: *\r\nDisallow: /private/".utf8)),
        ]
        var urls: [String] = []
        for (host, body) in files {
            server.route(host, "/robots.txt", RouteServer.Response(body: body))
            for path in ["/private/a.jpg", "/public/b.jpg"] {
                server.route(host, path, .image)
                urls.append("http://\(host)\(path)")
            }
        }
        let r = fetch(urls, settings)
        for (host, _) in files {
            let dropped = r["http://\(host)/private/a.jpg"]?.outcome.reason
            #expect(dropped?.code == "robots_txt", "\(host)")
            #expect(dropped?.detail.contains("http://\(host)/robots.txt: Disallow: /private/") == true, "\(host)")
            #expect(r["http://\(host)/public/b.jpg"]?.isKept == true, "\(host)")
            #expect(!server.requests.contains("\(host) /private/a.jpg"), "\(host)")
        }
    }

    /// A 508 KB robots.txt of 2,000 backtracking-hostile rules for the 12 default tokens, and ten 1,960-byte paths
    /// on its site, mixed with 40 images of a healthy site: every healthy download completes within its timeout.
    @Test func hostileRobotsTxtHoldsUpNobody() {
        var hostile = FetchSettings().robotsTokens.map { "User-agent: \($0)\r\n" }.joined()
        for k in 0..<2_000 { hostile += "Disallow: /*" + String(repeating: "a", count: 236) + "b\(k)\r\n" }
        server.route("hostile.test", "/robots.txt", text(hostile))
        var urls: [String] = []
        for k in 0..<50 {
            if k % 5 == 0 {
                let path = "/" + String(repeating: "a", count: 1_950) + "\(k).jpg"
                server.route("hostile.test", path, .image)
                urls.append("http://hostile.test" + path)
            } else {
                server.route("healthy.test", "/img/\(k).jpg", .image)
                urls.append("http://healthy.test/img/\(k).jpg")
            }
        }
        var s = settings
        s.timeoutSeconds = 2
        let r = fetch(urls, s)
        for u in urls where u.hasPrefix("http://healthy.test") {
            #expect(r[u]?.isKept == true, "\(u): \(String(describing: r[u]?.outcome))")
        }
        // The hostile site's own paths match no rule (each lacks `b<k>`): allowed and fetched.
        for u in urls where u.hasPrefix("http://hostile.test") { #expect(r[u]?.isKept == true, "\(u)") }
    }
}
