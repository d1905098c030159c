import Foundation
import Testing
import WinnowCore
import WinnowSampleWeb
import WinnowTestSupport

@testable import WinnowFetch

@Suite struct AddressGuardTests {
    @Test func cidrParsing() throws {
        let c = try #require(CIDR("10.0.0.0/8"))
        #expect(c.contains(try #require(CIDR.parseAddress("10.1.2.3"))))
        #expect(!c.contains(try #require(CIDR.parseAddress("11.0.0.1"))))
        #expect(CIDR("10.0.0.0/33") == nil && CIDR("nonsense") == nil)
        #expect(try #require(CIDR("fc00::/7")).contains(try #require(CIDR.parseAddress("fd12::1"))))
    }

    @Test(arguments: [
        "127.0.0.1", "10.0.0.5", "169.254.169.254", "192.168.1.1", "172.16.0.1", "100.64.0.1", "::1", "fe80::1",
        "::ffff:127.0.0.1", "224.0.0.1", "0.0.0.0",
    ])
    func refusesPrivateAddresses(address: String) throws {
        #expect(AddressGuard().refusal(for: try #require(CIDR.parseAddress(address))) != nil)
    }

    @Test func allowsPublicAndExplicitRanges() throws {
        #expect(AddressGuard().refusal(for: try #require(CIDR.parseAddress("93.184.216.34"))) == nil)
        #expect(AddressGuard().refusal(for: try #require(CIDR.parseAddress("2606:4700::1111"))) == nil)
        let g = AddressGuard(allowed: [try #require(CIDR("127.0.0.0/8"))])
        #expect(g.refusal(for: try #require(CIDR.parseAddress("127.0.0.1"))) == nil)
        #expect(g.refusal(for: try #require(CIDR.parseAddress("10.0.0.1"))) != nil)
    }
}

/// Fetches `urls` with `settings` through a real libcurl multi loop; returns outcomes by URL.
func fetch(_ urls: [String], _ settings: FetchSettings) -> [String: Sample] {
    var pending = urls.map {
        Sample(
            candidate: Candidate(
                url: $0, caption: "c", pageURL: "", provenance: Provenance(inputFile: "t", recordOffset: 0)))
    }
    var out: [String: Sample] = [:]
    var emitted = 0
    Fetcher(settings: settings).run(
        pull: { _ in pending.isEmpty ? .finished : .sample(pending.removeFirst()) },
        emit: {
            out[$0.candidate.url] = $0
            emitted += 1
        })
    #expect(emitted == urls.count, "every sample gets exactly one outcome")
    return out
}

@Suite(.serialized) struct FetcherTests {
    let web: (dir: String, manifest: SampleWeb.Manifest)
    let server: StaticServer

    init() throws {
        web = try TestSupport.sampleWeb(pages: 4)
        server = StaticServer(root: web.dir, testRoutes: true)
        try server.start()
    }

    var settings: FetchSettings {
        var s = FetchSettings()
        s.connectTo = server.connectTo(sites: web.manifest.sites)
        s.allowedRanges = [CIDR("127.0.0.0/8")!]
        s.timeoutSeconds = 5
        s.retries = 0
        return s
    }

    func someImage() throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(web.dir)/sites/shapes-gallery.test/img")
        let name = try #require(names.sorted().first { $0.hasPrefix("shape-") })
        return "http://shapes-gallery.test/img/\(name)"
    }

    /// HTTP/2 where offered: nginx over TLS with a throwaway certificate; every image comes over HTTP/2 (as nginx's
    /// own log says too), and a certificate nobody vouched for is refused with `tls`.
    @Test func http2OverTLS() throws {
        let root = "\(web.dir)/sites"
        let nginx = try Nginx(root: root, tlsHost: "h2.test")
        defer { nginx.stop() }
        var urls: [String] = []
        for site in web.manifest.sites.sorted() {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(site)/img")) ?? []
            urls += names.filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted().map {
                "https://h2.test/\(site)/img/\($0)"
            }
        }
        urls = Array(urls.prefix(16))
        #expect(urls.count >= 8)
        var s = settings
        s.connectTo = ["h2.test:443:127.0.0.1:\(nginx.port)"]
        s.caFile = nginx.certificate
        let r = fetch(urls, s)
        for u in urls {
            #expect(r[u]?.isKept == true, "\(u): \(String(describing: r[u]?.outcome))")
            #expect(r[u]?.fetch?.httpVersion == "2")
        }
        // nginx logs a request after sending its response: give the last lines a moment.
        var served = nginx.accessLog().filter { $0.contains("/img/") }
        for _ in 0..<100 where served.count < urls.count {
            usleep(20_000)
            served = nginx.accessLog().filter { $0.contains("/img/") }
        }
        #expect(served.count == urls.count && served.allSatisfy { $0.hasSuffix("HTTP/2.0") }, "\(served)")
        var untrusted = s
        untrusted.caFile = nil
        #expect(fetch([urls[0]], untrusted)[urls[0]]?.outcome.reason?.code == "tls")
    }

    @Test func downloadsAndReportsStatus() throws {
        let image = try someImage()
        let missing = "http://shapes-gallery.test/img/none.jpg"
        let r = fetch([image, missing, "http://no-such-site.test/x.jpg"], settings)
        #expect(r[image]?.isKept == true)
        #expect(r[image]?.fetch?.httpStatus == 200)
        #expect(r[image]?.fetch?.httpVersion == "1.1")
        #expect((r[image]?.original?.count ?? 0) > 1000)
        #expect(r[missing]?.outcome.reason?.code == "http_404")
        // Not mapped by CONNECT_TO, and .test never resolves.
        #expect(r["http://no-such-site.test/x.jpg"]?.outcome.reason?.code == "dns")
    }

    @Test func htmlServedAsAnImageURLIsRefusedByItsContentType() {
        let page = "http://shapes-gallery.test/page-0.html"
        let r = fetch([page], settings)
        #expect(r[page]?.outcome.reason?.code == "content_type")
        #expect(Fetcher.isNotImage(contentType: "text/html; charset=utf-8"))
        #expect(!Fetcher.isNotImage(contentType: "image/svg+xml"))
        #expect(!Fetcher.isNotImage(contentType: "application/octet-stream"))
    }

    @Test func refusesLoopbackUnlessAllowed() throws {
        var s = settings
        s.allowedRanges = []
        let image = try someImage()
        let r = fetch([image], s)
        #expect(r[image]?.outcome.reason?.code == "address_refused")
    }

    @Test func addressLiteralsAreRefusedBeforeAnyTransfer() {
        let urls = ["http://10.1.2.3/x.jpg", "http://[fd00::1]:8080/y.png", "http://169.254.169.254/latest/meta-data/"]
        let r = fetch(urls, settings)
        for u in urls {
            #expect(r[u]?.outcome.reason?.code == "address_refused")
            #expect(r[u]?.outcome.reason?.detail.contains("refused range") == true, "\(u)")
            #expect(r[u]?.fetch == nil, "no transfer for \(u)")
        }
    }

    @Test func refusesARedirectToTheMetadataAddress() {
        let url = "http://shapes-gallery.test/__redirect?to=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F"
        let r = fetch([url], settings)
        #expect(r[url]?.outcome.reason?.code == "address_refused")
        #expect(r[url]?.outcome.reason?.detail.contains("169.254.169.254") == true)
    }

    @Test func abortsBodiesOverTheCap() throws {
        var s = settings
        s.maxBytes = 500
        let image = try someImage()
        #expect(fetch([image], s)[image]?.outcome.reason?.code == "too_large")
    }

    @Test func retriesServerErrorsAndCountsAttempts() {
        var s = settings
        s.retries = 2
        let url = "http://shapes-gallery.test/__status/503"
        let r = fetch([url], s)
        #expect(r[url]?.outcome.reason?.code == "http_503")
        #expect(r[url]?.fetch?.attempts == 3)
    }

    @Test func retryAfterIsHonoured() {
        var s = settings
        s.retries = 1
        let url = "http://shapes-gallery.test/__status/429?retry-after=1"
        let r = fetch([url], s)
        #expect(r[url]?.outcome.reason?.code == "http_429")
        #expect(r[url]?.fetch?.attempts == 2)
        #expect(r[url]?.outcome.reason?.detail.contains("Retry-After: 1 s honoured") == true)
        let tooLong = "http://shapes-gallery.test/__status/503?retry-after=3600"
        let t = fetch([tooLong], s)
        #expect(t[tooLong]?.fetch?.attempts == 1)
        #expect(t[tooLong]?.outcome.reason?.detail.contains("longer than 60 s") == true)
    }

    @Test func retryAfterDates() {
        #expect(Fetcher.retryAfter([("Retry-After", "120")]) == 120)
        #expect(Fetcher.retryAfter([("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]) == 0)  // in the past
        #expect(Fetcher.retryAfter([("Retry-After", "soon")]) == nil)
        #expect(Fetcher.retryAfter([]) == nil)
    }

    @Test func circuitBreakerGivesUpOnADeadHost() {
        var s = settings
        s.connectTo.append("dead.test:80:127.0.0.1:1")
        s.honourRobotsTxt = false
        s.perHostConcurrency = 1
        s.circuitBreakerFailures = 3
        let urls = (0..<8).map { "http://dead.test/\($0).jpg" }
        let codes = fetch(urls, s).values.map { $0.outcome.reason?.code ?? "kept" }
        #expect(codes.filter { $0 == "connect" }.count == 3)
        #expect(codes.filter { $0 == "host_circuit_open" }.count == 5)
    }

    @Test func manyTransfersAtOnce() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(web.dir)/sites/colour-shop.test/img")
        let urls = names.filter { $0.contains(".") && !$0.hasSuffix(".headers") }.map {
            "http://colour-shop.test/img/\($0)"
        }
        var s = settings
        s.perHostConcurrency = 3
        let r = fetch(urls, s)
        #expect(r.count == urls.count)
        #expect(r.values.allSatisfy { $0.isKept })
    }
}

@Suite(.serialized) struct OptOutFetchTests {
    let web: (dir: String, manifest: SampleWeb.Manifest)
    let server: StaticServer

    init() throws {
        web = try TestSupport.sampleWeb(pages: 24)
        server = StaticServer(root: web.dir)
        try server.start()
    }

    var settings: FetchSettings {
        var s = FetchSettings()
        s.connectTo = server.connectTo(sites: web.manifest.sites) + ["closed.test:80:127.0.0.1:1"]
        s.allowedRanges = [CIDR("127.0.0.0/8")!]
        s.timeoutSeconds = 5
        s.retries = 0
        return s
    }

    func files(_ site: String, _ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "\(web.dir)/sites/\(site)/\(folder)")
            .filter { !$0.hasSuffix(".headers") && $0.contains(".") }.sorted().map { "http://\(site)/\(folder)/\($0)" }
    }

    /// With room for one origin in memory, origins are forgotten and come back from the policy cache: every
    /// decision is the same as with all of them kept.
    @Test func forgottenOriginsKeepTheirOptOuts() throws {
        let gallery = try files("kids-art.test", "img/gallery")
        let others = try files("shapes-gallery.test", "img") + files("colour-shop.test", "img")
        var urls: [String] = []
        for i in 0..<max(gallery.count, others.count) {
            if i < gallery.count { urls.append(gallery[i]) }
            if i < others.count { urls.append(others[i]) }
        }
        var s = settings
        s.originsInMemory = 1
        s.perHostConcurrency = 1
        s.policyCachePath = TestSupport.temporaryDirectory() + "/policies.sqlite"
        let r = fetch(urls, s)
        for u in gallery { #expect(r[u]?.outcome.reason?.code == "robots_txt", "\(u)") }
        for u in others { #expect(r[u]?.isKept == true, "\(u): \(String(describing: r[u]?.outcome))") }
    }

    @Test func robotsTxtIsFetchedOnceAndObeyed() throws {
        let gallery = try files("kids-art.test", "img/gallery")
        let open = try files("kids-art.test", "img").prefix(3)
        try #require(!gallery.isEmpty)
        let r = fetch(gallery + Array(open), settings)
        for u in gallery {
            #expect(r[u]?.outcome.reason?.code == "robots_txt")
            #expect(r[u]?.outcome.reason?.detail.contains("kids-art.test/robots.txt: Disallow: /img/gallery/") == true)
        }
        for u in open { #expect(r[u]?.isKept == true, "\(u)") }
        // Only WinnowBot obeyed: the gallery's rules name CCBot and GPTBot, so it may be fetched.
        var s = settings
        s.robotsTokens = ["WinnowBot"]
        #expect(fetch(gallery, s).values.allSatisfy { $0.isKept })
        s.honourRobotsTxt = false
        s.robotsTokens = ["CCBot"]
        #expect(fetch(gallery, s).values.allSatisfy { $0.isKept })
    }

    /// Stored answers are seen at once, written by the cache's own thread in batches, all on disk after a flush.
    @Test func policyCacheWritesOffTheCallersThread() throws {
        let path = TestSupport.temporaryDirectory() + "/p.sqlite"
        let cache = try PolicyCache(path: path)
        let now = Date()
        for i in 0..<2000 {
            cache.store(
                origin: "http://h\(i % 500).test", document: "/robots.txt",
                entry: .init(status: 200, failure: nil, body: Array("v\(i)".utf8), fetchedAt: now))
            // The latest answer for an origin is what lookup sees, whether or not it is written yet.
            #expect(
                cache.lookup(origin: "http://h\(i % 500).test", document: "/robots.txt")?.body == Array("v\(i)".utf8))
        }
        cache.flush()
        let again = try PolicyCache(path: path)
        for k in 0..<500 {
            #expect(
                again.lookup(origin: "http://h\(k).test", document: "/robots.txt")?.body == Array("v\(1500 + k)".utf8))
        }
    }

    @Test func policiesAreCachedWithTheirFetchTime() throws {
        let dir = TestSupport.temporaryDirectory()
        let cache = try PolicyCache(path: dir + "/p.sqlite", maxAge: 3600)
        let now = Date()
        cache.store(
            origin: "http://a.test", document: "/robots.txt",
            entry: .init(status: 200, failure: nil, body: [1, 2], fetchedAt: now))
        #expect(cache.lookup(origin: "http://a.test", document: "/robots.txt", now: now)?.body == [1, 2])
        #expect(
            cache.lookup(origin: "http://a.test", document: "/robots.txt", now: now.addingTimeInterval(3601)) == nil)
        #expect(cache.lookup(origin: "http://b.test", document: "/robots.txt") == nil)

        // A second run uses the cached robots.txt even after the site removed it.
        let gallery = try files("kids-art.test", "img/gallery")
        var s = settings
        s.policyCachePath = dir + "/policies.sqlite"
        let first = fetch(gallery, s).values
        #expect(first.allSatisfy { $0.outcome.reason?.code == "robots_txt" })
        #expect(!first.contains { $0.outcome.reason?.detail.contains("policy cache") == true })
        let robots = "\(web.dir)/sites/kids-art.test/robots.txt"
        let saved = try Data(contentsOf: URL(fileURLWithPath: robots))
        try FileManager.default.removeItem(atPath: robots)
        defer { try? saved.write(to: URL(fileURLWithPath: robots)) }
        // The answer read from the cache says how old it is.
        #expect(
            fetch(gallery, s).values.allSatisfy {
                $0.outcome.reason?.code == "robots_txt"
                    && $0.outcome.reason?.detail.contains("[policy cache, fetched ") == true
                    && $0.outcome.reason?.detail.hasSuffix(" s ago]") == true
            })
        s.policyCachePath = nil
        #expect(fetch(gallery, s).values.allSatisfy { $0.isKept })
    }

    @Test func unreachableRobotsTxtMeansCompleteDisallow() {
        let r = fetch(["http://closed.test/img/x.jpg", "http://closed.test/img/y.jpg"], settings)
        // The server cannot be reached, so neither can its robots.txt: complete disallow, with the network reason.
        #expect(r.values.allSatisfy { $0.outcome.reason?.code == "connect" })
        #expect(r.values.allSatisfy { $0.outcome.reason?.detail.contains("closed.test/robots.txt") == true })
    }

    @Test func headerOptOutsStopTheDownload() throws {
        // The sample web serves some images with X-Robots-Tag: noai, others with Content-Usage: train-ai=n.
        let dir = "\(web.dir)/sites/geometry-blog.test/img"
        let sidecars = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".headers") }
        var expected: [String: (String, String)] = [:]
        for f in sidecars {
            let header = try String(contentsOfFile: dir + "/" + f, encoding: .utf8)
            expected["http://geometry-blog.test/img/\(f.dropLast(".headers".count))"] =
                header.hasPrefix("X-Robots-Tag")
                ? ("x_robots_tag", "X-Robots-Tag: noai")
                : ("content_usage", "Content-Usage: train-ai=n (purpose train-ai)")
        }
        let tagged = Array(expected.keys)
        try #require(Set(expected.values.map(\.0)) == ["x_robots_tag", "content_usage"])
        let r = fetch(tagged, settings)
        for u in tagged {
            #expect(r[u]?.outcome.reason?.code == expected[u]?.0)
            #expect(r[u]?.outcome.reason?.detail == expected[u]?.1)
        }
        var s = settings
        s.honourHeaderOptOuts = false
        #expect(fetch(tagged, s).values.allSatisfy { $0.isKept })
    }

    @Test func headerOptOutForms() {
        let tokens = FetchSettings().robotsTokens
        let values = FetchSettings().xRobotsTagValues
        func check(_ h: [(String, String)]) -> String? {
            Fetcher.headerOptOut(h, tokens: tokens, xRobotsTagValues: values)?.code
        }
        #expect(check([("X-Robots-Tag", "noimageindex, nofollow")]) == "x_robots_tag")
        #expect(check([("x-robots-tag", "CCBot: noai")]) == "x_robots_tag")
        #expect(check([("X-Robots-Tag", "otherbot: noai")]) == nil)
        #expect(check([("X-Robots-Tag", "nofollow")]) == nil)
        #expect(check([("TDM-Reservation", "1")]) == "tdm_reservation")
        #expect(check([("Content-Usage", "train-ai=n")]) == "content_usage")
        #expect(check([("Content-Usage", "train-ai=y")]) == nil)
    }
}

@Suite struct TDMRepAndAiTxtTests {
    @Test func tdmrepAndAiTxtAreObeyed() throws {
        let web = try TestSupport.sampleWeb(pages: 4)
        let server = StaticServer(root: web.dir)
        try server.start()
        defer { server.stop() }
        let colour = "\(web.dir)/sites/colour-shop.test"
        try FileManager.default.createDirectory(atPath: colour + "/.well-known", withIntermediateDirectories: true)
        try Data(
            #"[{"location": "/img/*", "tdm-reservation": 1, "tdm-policy": "https://colour-shop.test/policy.json"}]"#
                .utf8
        )
        .write(to: URL(fileURLWithPath: colour + "/.well-known/tdmrep.json"))
        try Data("User-Agent: *\nDisallow: *.png\n".utf8).write(
            to: URL(fileURLWithPath: "\(web.dir)/sites/geometry-blog.test/ai.txt"))
        func images(_ site: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: "\(web.dir)/sites/\(site)/img")
                .filter { $0.hasPrefix("shape-") && !$0.hasSuffix(".headers") }.map { "http://\(site)/img/\($0)" }
        }
        var s = FetchSettings()
        s.connectTo = server.connectTo(sites: web.manifest.sites)
        s.allowedRanges = [CIDR("127.0.0.0/8")!]
        s.honourHeaderOptOuts = false
        let colourImages = try images("colour-shop.test")
        let blog = try images("geometry-blog.test")
        try #require(
            !colourImages.isEmpty && blog.contains { $0.hasSuffix(".png") } && blog.contains { $0.hasSuffix(".jpg") })
        let r = fetch(colourImages + blog, s)
        for u in colourImages {
            #expect(r[u]?.outcome.reason?.code == "tdmrep")
            #expect(r[u]?.outcome.reason?.detail.contains("tdm-policy https://colour-shop.test/policy.json") == true)
        }
        for u in blog {
            #expect(u.hasSuffix(".png") ? r[u]?.outcome.reason?.code == "ai_txt" : r[u]?.isKept == true, "\(u)")
        }
        s.honourTDMRep = false
        s.honourAiTxt = false
        #expect(fetch(colourImages + blog, s).values.allSatisfy { $0.isKept })
    }

    @Test func tdmrepLocations() {
        let rules = TDMRepRule.parse(
            Array(#"[{"location": "/private/*", "tdm-reservation": 1}, {"location": "*", "tdm-reservation": 0}]"#.utf8))
        #expect(rules.count == 2)
        #expect(rules.first { $0.matches("/private/x.jpg") }?.reservation == true)
        #expect(rules.first { $0.matches("/public/x.jpg") }?.reservation == false)
        #expect(TDMRepRule.parse(Array("not json".utf8)).isEmpty)
    }
}

/// Each kind of trouble a server can cause ends with its own outcome, quickly.
/// Settings for FaultServer's routes: loopback allowed; no opt-out documents (the fault server has none, and each
/// would cost a request).
func faultServerSettings() -> FetchSettings {
    var s = FetchSettings()
    s.allowedRanges = [CIDR("127.0.0.0/8")!]
    s.honourRobotsTxt = false
    s.honourTDMRep = false
    s.honourAiTxt = false
    return s
}

@Suite struct FaultServerTests {
    var plain: FetchSettings { faultServerSettings() }

    @Test func everyFaultHasItsOutcome() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        var s = plain
        s.timeoutSeconds = 6
        s.lowSpeedSeconds = 2
        s.lowSpeedBytesPerSecond = 100
        s.maxBytes = 1 << 20
        s.retries = 0
        let expected: [(String, String)] = [
            ("/ok.jpg", "ok"), ("/drip", "timeout"), ("/stall", "timeout"), ("/reset", "connection_reset"),
            ("/truncated", "truncated"), ("/huge-length", "too_large"), ("/endless", "too_large"),
            ("/loop", "too_many_redirects"), ("/gzip-bomb", "too_large"), ("/html", "content_type"),
        ]
        let r = fetch(expected.map { server.url($0.0) }, s)
        for (path, outcome) in expected {
            let got = r[server.url(path)].map { $0.isKept ? "ok" : ($0.outcome.reason?.code ?? "?") }
            #expect(got == outcome, "\(path): \(got ?? "none")")
        }
        #expect(r[server.url("/ok.jpg")]?.original == FaultServer.okBody)
        // A Content-Length shorter than what follows: curl takes the declared length, no more.
        let short = fetch([server.url("/short-length")], s)[server.url("/short-length")]
        #expect(short?.original?.count == 10)
    }

    @Test func a503BurstIsRetriedThrough() throws {
        let server = FaultServer()
        try server.start()
        defer { server.stop() }
        var s = plain
        s.retries = 3
        let url = server.url("/burst/2")
        let r = fetch([url], s)[url]
        #expect(r?.isKept == true)
        #expect(r?.fetch?.attempts == 3)
    }
}
