import Foundation
import Testing
import WinnowCore

@testable import WinnowFetch

/// The host scheduler alone (issue 25: `Fetcher.run` split into curl loop, scheduler and policy): per-host limits,
/// pauses, backoff and circuit breakers, with no libcurl and no clock but the one given.
@Suite struct HostSchedulerTests {
    func transfer(_ url: String) -> Transfer {
        guard let u = try? WebURL.parse(url) else { fatalError("test URL \(url) does not parse") }
        return Transfer(
            sample: Sample(
                candidate: Candidate(
                    url: url, caption: "c", pageURL: "", provenance: Provenance(inputFile: "t", recordOffset: 0))),
            url: u.href, origin: Fetcher.origin(u), maxBytes: 1, maxHeaderBytes: 1,
            guardian: AddressGuard(allowed: []), host: u.host)
    }

    @Test func aHostsLimitQueuesAndReleasesInOrder() {
        var s = FetchSettings()
        s.perHostConcurrency = 2
        let h = HostScheduler(settings: s)
        let ts = (0..<4).map { transfer("http://a.test/\($0)") }
        let other = transfer("http://b.test/0")
        for t in ts.prefix(2) {
            #expect(h.schedule(t) == .start)
            h.started(t)
        }
        #expect(h.schedule(ts[2]) == .kept && h.schedule(ts[3]) == .kept)
        #expect(h.queued == 2 && !h.isIdle)
        #expect(h.schedule(other) == .start, "another host has its own limit")
        #expect(h.nextQueued("a.test") == nil, "no slot free yet")
        h.ended(host: "a.test")
        #expect(h.nextQueued("a.test") === ts[2])
        #expect(h.queued == 1)
    }

    @Test func pausesAndBackoffHoldUntilTheirTime() {
        var s = FetchSettings()
        s.perHostMinInterval = 2
        let h = HostScheduler(settings: s)
        let now = Date()
        let a = transfer("http://a.test/1")
        #expect(h.schedule(a, now: now) == .start)
        h.started(a, now: now)
        let b = transfer("http://a.test/2")
        #expect(h.schedule(b, now: now.addingTimeInterval(1)) == .kept, "within the minimum interval")
        #expect(h.due(now: now.addingTimeInterval(1.5)).isEmpty)
        #expect(h.due(now: now.addingTimeInterval(2.5)).map { $0 === b } == [true])
        h.pause("a.test", for: 30, now: now)
        let c = transfer("http://a.test/3")
        #expect(h.schedule(c, now: now.addingTimeInterval(10)) == .kept, "Retry-After holds the host")
        h.retry(a, after: 5, now: now)
        let due = h.due(now: now.addingTimeInterval(31))
        #expect(due.count == 2 && h.isIdle)
    }

    @Test func anOpenCircuitRefusesTheOriginsQueue() {
        var s = FetchSettings()
        s.perHostConcurrency = 1
        s.circuitBreakerFailures = 2
        s.circuitBreakerCooldown = 60
        let h = HostScheduler(settings: s)
        let first = transfer("http://a.test/1")
        #expect(h.schedule(first) == .start)
        h.started(first)
        let queued = (2..<5).map { transfer("http://a.test/\($0)") }
        for t in queued { #expect(h.schedule(t) == .kept) }
        // A policy document is the origin's own question: it is never refused by the breaker.
        let robots = transfer("http://a.test/robots.txt")
        robots.policyDoc = ("http://a.test", .robots)
        #expect(h.failed(first, reason: "timeout") == nil, "one failure does not open it")
        let opened = h.failed(first, reason: "timeout")
        #expect(opened?.refused.count == 3 && h.queued == 0)
        #expect(h.isOpen("http://a.test"))
        guard case .refused(let why) = h.schedule(transfer("http://a.test/9")) else {
            Issue.record("a sample of an open origin was not refused")
            return
        }
        #expect(why.hasPrefix("http://a.test: "))
        h.ended(host: "a.test")
        #expect(h.schedule(robots) == .start)
        h.succeeded("http://a.test")
        #expect(!h.isOpen("http://a.test"))
    }
}

/// A transfer libcurl refuses to start gives its sample one outcome naming the option, and a refused policy
/// document counts as not fetched (never a second outcome for the sample that waited for it).
@Suite struct RefusedStartTests {
    @Test func everySampleGetsOneOutcomeWhenLibcurlRefusesAnOption() {
        var s = FetchSettings()
        s.allowedRanges = [CIDR("127.0.0.0/8")!]
        s.maxRedirects = -2  // CURLOPT_MAXREDIRS refuses values below -1
        let urls = (0..<5).map { "http://127.0.0.1:1/\($0).jpg" }
        let withRobots = fetch(urls, s)
        for u in urls {
            let r = withRobots[u]?.outcome.reason
            #expect(
                r?.code == "fetch_setup" && r?.detail.contains("CURLOPT_MAXREDIRS") == true, "\(String(describing: r))")
        }
        s.honourRobotsTxt = false
        s.honourTDMRep = false
        s.honourAiTxt = false
        let direct = fetch(urls, s)
        for u in urls { #expect(direct[u]?.outcome.reason?.code == "fetch_setup") }
    }
}
