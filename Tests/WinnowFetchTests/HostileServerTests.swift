import Foundation
import Synchronization
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowFetch

/// Fetches samples that become available over time: each URL at its offset in seconds from the start, with an
/// optional action run when it is released (to change what a server answers mid-run). Returns outcomes by URL and
/// the fetcher, for its reports.
func fetchOverTime(_ schedule: [(at: Double, url: String, action: (() -> Void)?)], _ settings: FetchSettings) -> (
    [String: Sample], Fetcher
) {
    let start = Date()
    var pending = schedule.sorted { $0.at < $1.at }
    var out: [String: Sample] = [:]
    let fetcher = Fetcher(settings: settings)
    fetcher.run(
        pull: { wait in
            while true {
                guard let next = pending.first else { return .finished }
                if Date().timeIntervalSince(start) >= next.at {
                    pending.removeFirst()
                    next.action?()
                    return .sample(
                        Sample(
                            candidate: Candidate(
                                url: next.url, caption: "c", pageURL: "",
                                provenance: Provenance(inputFile: "t", recordOffset: 0))))
                }
                if !wait { return .empty }
                usleep(10_000)
            }
        },
        emit: { out[$0.candidate.url] = $0 })
    #expect(out.count == Set(schedule.map(\.url)).count, "every sample gets exactly one outcome")
    return (out, fetcher)
}

/// Issue 30: hostile servers on 127.0.0.1, each case with the reason it must end with, within its deadlines
/// (libcurl's own: the watchdog, which steps in only when a deadline was not kept, reports nothing).
@Suite(.serialized) struct HostileServerTests {
    var plain: FetchSettings {
        var s = faultServerSettings()
        s.retries = 0
        s.timeoutSeconds = 6
        s.lowSpeedSeconds = 2
        s.lowSpeedBytesPerSecond = 100
        s.maxBytes = 1 << 20
        return s
    }

    @Test func everyHostileAnswerHasItsReason() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        var s = plain
        s.retries = 2
        // Each case: its reason, and how many attempts (retried only what may pass on another try).
        let expected: [(String, String, Int)] = [
            ("/huge-header", "headers_too_large", 1), ("/header-flood", "headers_too_large", 1),
            ("/429-long", "http_429", 1), ("/503", "http_503", 3), ("/chain/4", "ok", 1),
            ("/chain/9", "too_many_redirects", 1), ("/drip", "timeout", 3), ("/reset", "connection_reset", 3),
            ("/huge-length", "too_large", 1), ("/gzip-bomb", "too_large", 1),
        ]
        let (r, fetcher) = fetchOverTime(expected.map { (0, server.url($0.0), nil) }, s)
        for (path, outcome, attempts) in expected {
            let got = r[server.url(path)]
            #expect((got?.isKept == true ? "ok" : got?.outcome.reason?.code) == outcome, "\(path)")
            #expect(got?.fetch?.attempts == attempts, "\(path): \(String(describing: got?.fetch))")
        }
        #expect(r[server.url("/429-long")]?.outcome.reason?.detail.contains("longer than 60 s") == true)
        #expect(r[server.url("/huge-header")]?.outcome.reason?.detail.contains("response headers over") == true)
        #expect(fetcher.watchdogReports.isEmpty, "\(fetcher.watchdogReports)")
    }

    /// A header flood is not a failure of the origin's health: it neither retries nor counts toward the breaker.
    @Test func headerFloodsDoNotOpenTheBreaker() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        var s = plain
        s.circuitBreakerFailures = 1
        s.perHostConcurrency = 1
        let urls = ["/header-flood", "/huge-header", "/ok.jpg"].map(server.url)
        let r = fetch(urls, s)
        #expect(r[server.url("/ok.jpg")]?.isKept == true)
    }

    /// The breaker is per origin: 8 failing URLs on one port of 127.0.0.1 leave the healthy samples of another
    /// port alone, and the summary names the origin.
    @Test func theBreakerIsPerOrigin() throws {
        let failing = FaultServer()
        let healthy = FaultServer()
        try failing.start()
        try healthy.start()
        defer {
            failing.stop()
            healthy.stop()
        }
        var s = plain
        s.circuitBreakerFailures = 3
        s.circuitBreakerCooldown = 600
        // One request at a time per host, so that exactly three fail before the breaker opens (with more, those
        // in flight when it opens fail too: on a loaded machine that made 4 or 5).
        s.perHostConcurrency = 1
        var urls: [String] = []
        for k in 0..<40 {
            if k % 5 == 0 { urls.append(failing.url("/503?\(k)")) }
            urls.append(healthy.url("/ok.jpg?\(k)"))
        }
        let (r, fetcher) = fetchOverTime(urls.map { (0, $0, nil) }, s)
        for u in urls where u.hasPrefix(healthy.url("")) { #expect(r[u]?.isKept == true, "\(u)") }
        let bad = urls.filter { $0.hasPrefix(failing.url("")) }.compactMap { r[$0]?.outcome.reason?.code }
        #expect(bad.filter { $0 == "http_503" }.count == 3 && bad.filter { $0 == "host_circuit_open" }.count == 5)
        let origin = "http://127.0.0.1:\(failing.port)"
        #expect(fetcher.circuitReports.count == 1 && fetcher.circuitReports[0].hasPrefix(origin + ": opened 1 time"))
    }

    /// After the cool-down one probe goes; an answer closes the breaker and the samples that waited go too. A
    /// failed probe opens it again for twice as long.
    @Test func theBreakerRecoversAfterAProbe() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        var s = plain
        s.circuitBreakerFailures = 3
        s.circuitBreakerCooldown = 0.5
        s.perHostConcurrency = 1
        var plan: [(at: Double, url: String, action: (() -> Void)?)] = []
        for k in 0..<3 { plan.append((0, server.url("/flaky/3/a\(k)"), nil)) }
        for k in 0..<2 { plan.append((0.2, server.url("/flaky/3/b\(k)"), nil)) }
        for k in 0..<5 { plan.append((1.2, server.url("/flaky/3/c\(k)"), nil)) }
        let (r, fetcher) = fetchOverTime(plan, s)
        func codes(_ prefix: String) -> [String] {
            plan.filter { $0.url.contains(prefix) }.map {
                r[$0.url].map { $0.isKept ? "ok" : $0.outcome.reason?.code ?? "?" } ?? "none"
            }
        }
        #expect(codes("/a") == ["http_503", "http_503", "http_503"])
        #expect(codes("/b") == ["host_circuit_open", "host_circuit_open"])
        #expect(codes("/c") == ["ok", "ok", "ok", "ok", "ok"])
        #expect(fetcher.circuitReports.first?.contains("opened 1 time, closed again after a probe") == true)

        // An origin that stays down: the probe fails, and the breaker opens again.
        var plan2: [(at: Double, url: String, action: (() -> Void)?)] = []
        for k in 0..<3 { plan2.append((0, server.url("/503?a\(k)"), nil)) }
        for k in 0..<3 { plan2.append((0.8, server.url("/503?c\(k)"), nil)) }
        let (r2, f2) = fetchOverTime(plan2, s)
        let late = plan2.suffix(3).compactMap { r2[$0.url]?.outcome.reason?.code }
        #expect(late.filter { $0 == "http_503" }.count == 1 && late.filter { $0 == "host_circuit_open" }.count == 2)
        #expect(f2.circuitReports.first?.contains("opened 2 times, open at the end") == true, "\(f2.circuitReports)")
    }
}

/// Issue 30: policy documents are cached by what they said, never by how asking failed.
@Suite(.serialized) struct PolicyFailureTests {
    let server = RouteServer()
    init() throws { try server.start() }

    var settings: FetchSettings {
        var s = FetchSettings()
        s.connectTo = server.connectTo(["p.test", "q.test", "big.test", "loop.test"]) + ["closed.test:80:127.0.0.1:1"]
        s.allowedRanges = [CIDR("127.0.0.0/8")!]
        s.timeoutSeconds = 5
        s.retries = 0
        s.honourTDMRep = false
        s.honourAiTxt = false
        return s
    }

    @Test func aFailedRobotsTxtIsAskedAgainAndNeverCached() throws {
        let cachePath = TestSupport.temporaryDirectory() + "/policies.sqlite"
        var s = settings
        s.policyCachePath = cachePath
        s.policyRetrySeconds = 0.5
        server.route("p.test", "/robots.txt", RouteServer.Response(status: 503))
        for k in 0..<3 { server.route("p.test", "/\(k).jpg", .image) }
        // A sample while robots.txt answers 503 is dropped; the site recovers; a sample after the retry interval
        // makes the fetcher ask again, and is kept.
        let plan: [(at: Double, url: String, action: (() -> Void)?)] = [
            (0, "http://p.test/0.jpg", nil),
            (
                0.3, "http://p.test/1.jpg",
                { self.server.route("p.test", "/robots.txt", .init(body: Array("User-agent: *\nDisallow:\n".utf8))) }
            ),
            (1.0, "http://p.test/2.jpg", nil),
        ]
        let (r, _) = fetchOverTime(plan, s)
        #expect(r["http://p.test/0.jpg"]?.outcome.reason?.code == "robots_unreachable")
        #expect(r["http://p.test/0.jpg"]?.outcome.reason?.detail.contains("asked again after") == true)
        #expect(r["http://p.test/1.jpg"]?.outcome.reason?.code == "robots_unreachable")
        #expect(r["http://p.test/2.jpg"]?.isKept == true)
        #expect(server.requests.filter { $0 == "p.test /robots.txt" }.count == 2)
        // Only the 200 answer was cached.
        let cache = try PolicyCache(path: cachePath)
        #expect(cache.lookup(origin: "http://p.test", document: "/robots.txt")?.status == 200)
    }

    @Test func anUnreachableServerIsNotCachedForTheNextRun() throws {
        let cachePath = TestSupport.temporaryDirectory() + "/policies.sqlite"
        var s = settings
        s.policyCachePath = cachePath
        let r = fetch(["http://closed.test/x.jpg"], s)
        #expect(r["http://closed.test/x.jpg"]?.outcome.reason?.code == "connect")
        #expect(try PolicyCache(path: cachePath).lookup(origin: "http://closed.test", document: "/robots.txt") == nil)
        // An entry an older Winnow cached for a failure is not believed either.
        let cache = try PolicyCache(path: cachePath)
        cache.store(
            origin: "http://q.test", document: "/robots.txt",
            entry: .init(status: 0, failure: "connect", body: [], fetchedAt: Date()))
        cache.flush()
        server.route("q.test", "/robots.txt", .init(body: Array("User-agent: *\nAllow: /\n".utf8)))
        server.route("q.test", "/x.jpg", .image)
        #expect(fetch(["http://q.test/x.jpg"], s)["http://q.test/x.jpg"]?.isKept == true)
    }

    /// A robots.txt over 500 KiB is read up to the limit; a robots.txt that redirects to itself is unreachable
    /// (complete disallow, not cached).
    @Test func hugeAndLoopingRobotsTxt() throws {
        let cachePath = TestSupport.temporaryDirectory() + "/policies.sqlite"
        var s = settings
        s.policyCachePath = cachePath
        var big = "User-agent: *\nDisallow: /private/\n"
        big += String(repeating: "# filler line of a very large robots.txt\n", count: 60_000)
        big += "Disallow: /past-the-limit/\n"
        server.route("big.test", "/robots.txt", .init(body: Array(big.utf8)))
        for p in ["/private/a.jpg", "/past-the-limit/b.jpg"] { server.route("big.test", p, .image) }
        server.route("loop.test", "/robots.txt", .redirect("/robots.txt"))
        server.route("loop.test", "/c.jpg", .image)
        let r = fetch(
            ["http://big.test/private/a.jpg", "http://big.test/past-the-limit/b.jpg", "http://loop.test/c.jpg"], s)
        #expect(r["http://big.test/private/a.jpg"]?.outcome.reason?.code == "robots_txt")
        #expect(r["http://big.test/past-the-limit/b.jpg"]?.isKept == true)
        #expect(r["http://loop.test/c.jpg"]?.outcome.reason?.code == "too_many_redirects")
        #expect(!server.requests.contains("loop.test /c.jpg"))
        #expect(try PolicyCache(path: cachePath).lookup(origin: "http://loop.test", document: "/robots.txt") == nil)
    }
}
