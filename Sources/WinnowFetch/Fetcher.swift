internal import CCurl
import Foundation
import WinnowCore

/// Settings of the fetch stage (names as img2dataset's where they mean the same).
public struct FetchSettings: Sendable {
    /// Transfers in flight at once.
    public var concurrency = 64
    /// Transfers in flight per host.
    public var perHostConcurrency = 4
    /// Total deadline of one attempt, in seconds (img2dataset's `timeout`).
    public var timeoutSeconds = 20.0
    /// Connect deadline in seconds.
    public var connectTimeoutSeconds = 10.0
    /// Abort a transfer slower than `lowSpeedBytesPerSecond` for `lowSpeedSeconds`.
    public var lowSpeedBytesPerSecond = 1024
    /// See `lowSpeedBytesPerSecond`.
    public var lowSpeedSeconds = 10
    /// Largest body accepted, in bytes: the transfer is aborted as soon as it is exceeded.
    public var maxBytes = 20 * 1024 * 1024
    /// Redirects followed.
    public var maxRedirects = 5
    /// Extra attempts after a failure that may pass (timeouts, connection errors, 429 and 5xx).
    public var retries = 1
    /// User-Agent header.
    public var userAgent = "Winnow/0.1 (+https://github.com/winnow-data/winnow; image-text dataset builder) WinnowBot"
    /// Address ranges allowed on top of public addresses.
    public var allowedRanges: [CIDR] = []
    /// Least time between the starts of two requests to one host, in seconds (0: none).
    public var perHostMinInterval = 0.0
    /// Consecutive failures (connection, timeout, 5xx) after which an origin's circuit opens: its samples are
    /// dropped as `host_circuit_open` until a cool-down has passed and a probe request succeeds.
    public var circuitBreakerFailures = 8
    /// Seconds an open circuit waits before one probe request (doubled after each failed probe, up to 10 minutes).
    public var circuitBreakerCooldown = 30.0
    /// Seconds before an origin whose policy documents could not be fetched (network failure, 5xx, 429) is asked
    /// again; meanwhile its samples are dropped (RFC 9309 2.3.1.4: unreachable means complete disallow). Such an
    /// answer is never written to the policy cache.
    public var policyRetrySeconds = 60.0
    /// Largest response header section accepted, in bytes (and at most 1,000 lines): past it the transfer ends as
    /// `headers_too_large`, not retried.
    public var maxHeaderBytes = 256 * 1024
    /// Longest `Retry-After` honoured, in seconds (longer ones give up on the sample).
    public var maxRetryAfter = 60.0
    /// Fetch each origin's robots.txt first and skip what it disallows for `robotsTokens` (RFC 9309).
    public var honourRobotsTxt = true
    /// User-agent tokens whose robots.txt groups are obeyed (any of them disallowing a URL skips it): ours and the
    /// common AI-training crawlers' tokens, so that a site that opted out of those is also left alone by Winnow.
    public var robotsTokens = [
        "WinnowBot", "CCBot", "GPTBot", "Google-Extended", "anthropic-ai", "ClaudeBot", "Applebot-Extended",
        "Bytespider", "cohere-ai", "Meta-ExternalAgent", "PerplexityBot", "omgili",
    ]
    /// SQLite file where fetched robots.txt, tdmrep.json and ai.txt are kept with their fetch time and reused for
    /// 24 hours by later runs (nil: no cache).
    public var policyCachePath: String?
    /// Fetch each origin's W3C TDMRep `/.well-known/tdmrep.json` and skip paths with `tdm-reservation: 1`.
    public var honourTDMRep = true
    /// Fetch each origin's Spawning `/ai.txt` and skip what it disallows.
    public var honourAiTxt = true
    /// Skip downloads whose response says no: `X-Robots-Tag` (these values, also in the agent-scoped form),
    /// `tdm-reservation: 1`, a `Content-Usage` that disallows `purpose`.
    public var honourHeaderOptOuts = true
    /// Ask Spawning's Do-Not-Train registry about each URL before download (`SPAWNING_OPTS_KEY` holds the key).
    public var spawning = false
    /// The registry's address (its v2 URL query endpoint).
    public var spawningURL = SpawningRegistry.defaultURL
    /// URLs asked in one request (at most 10,000): samples wait in batches this large before download.
    public var spawningBatch = 1000
    /// What the run's data is for, in the AI Preferences vocabulary: the category whose `Content-Usage` (header and
    /// robots.txt) and `Content-Signal` (robots.txt) preferences decide (pipeline `optout.purpose`).
    public var purpose = UsagePurpose.trainAI
    /// `X-Robots-Tag` values that opt out (img2dataset's defaults: noai, noimageai, noindex, noimageindex).
    public var xRobotsTagValues: Set<String> = ["noai", "noimageai", "noindex", "noimageindex", "none"]
    /// libcurl CONNECT_TO entries (`HOST:PORT:CONNECT-HOST:CONNECT-PORT`), e.g. to serve named sites from 127.0.0.1.
    public var connectTo: [String] = []
    /// How long a DNS answer is reused, shared by all transfers (libcurl's cache, CURLOPT_DNS_CACHE_TIMEOUT). libcurl
    /// scans the whole cache at every transfer, so with many distinct hosts a long time costs CPU: at 1,000 new
    /// hosts a second, 60 s made the scan the largest cost of the fetch loop.
    public var dnsCacheSeconds = 15
    /// How many origins' opt-out state stays in memory before idle ones are forgotten (see `forgetIdleHosts`).
    public var originsInMemory = 10_000
    /// A PEM file of certificate authorities to trust instead of the system's (libcurl CAINFO), e.g. a private CA.
    public var caFile: String?

    /// Default settings.
    public init() {}
}

/// What the event loop gets when it asks for the next sample.
public enum Pull: Sendable {
    case sample(Sample)
    case empty
    case finished
}

/// Per-transfer state, reached from libcurl's C callbacks through an unmanaged pointer.
final class Transfer {
    var sample: Sample
    var body: [UInt8] = []
    var refused: String?
    var tooLarge = false
    let maxBytes: Int
    let guardian: AddressGuard
    var attempts = 0
    /// When the current attempt started (for the watchdog).
    var startedAt = Date()
    /// The URL requested now: the sample's, or the target of the last redirect followed.
    var url: String
    /// Its host, as politeness and the per-host limits see it (WHATWG-normalised).
    var host: String
    /// Redirects followed so far; each hop's opt-outs are checked before it is requested.
    var hops = 0
    /// `scheme://host[:port]` of `url`: the unit of opt-out documents and of the circuit breaker.
    var origin: String
    /// This transfer is the probe of a half-open circuit breaker.
    var isProbe = false
    /// Response header bytes and lines so far, and whether they passed the limit.
    var headerBytes = 0
    var headerLines = 0
    var headersTooLarge = false
    let maxHeaderBytes: Int
    /// Set for a transfer of an origin's policy document (robots.txt, tdmrep.json, ai.txt): the origin and which.
    var policyDoc: (origin: String, doc: PolicyDocument)?
    /// Response header lines of the last response (reset at each status line, so redirects do not mix).
    var headers: [(String, String)] = []
    /// Checks the headers when the body starts; a non-nil answer aborts the transfer with that reason.
    var headerCheck: (([(String, String)]) -> Reason?)?
    var headersChecked = false
    var optOut: Reason?
    /// Status code of the last response's status line.
    var status = 0

    init(
        sample: Sample, url: String, origin: String, maxBytes: Int, maxHeaderBytes: Int, guardian: AddressGuard,
        host: String
    ) {
        self.sample = sample
        self.url = url
        self.origin = origin
        self.maxBytes = maxBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.guardian = guardian
        self.host = host
    }
}

/// The machine-readable opt-out documents of an origin, fetched once before its first download.
enum PolicyDocument: CaseIterable {
    /// RFC 9309 robots.txt.
    case robots
    /// W3C TDMRep `/.well-known/tdmrep.json`.
    case tdmrep
    /// Spawning's `/ai.txt` (robots.txt syntax).
    case aiTxt

    var path: String {
        switch self {
        case .robots: return "/robots.txt"
        case .tdmrep: return "/.well-known/tdmrep.json"
        case .aiTxt: return "/ai.txt"
        }
    }
}

/// What is known of an origin's opt-outs; samples wait in `waiting` until every document has been fetched.
final class OriginState {
    var waiting: [Transfer] = []
    var outstanding = 0
    var robots: RobotsTxt = .allowAll
    var failure: Reason?
    var tdm: [TDMRepRule] = []
    var aiTxt: RobotsTxt?
    /// Set when a document could not be fetched: the origin is asked again from then on.
    var retryAt: Date?
    /// When the oldest of its documents read from the policy cache was fetched (nil: all asked in this run).
    var cachedAt: Date?
    let origin: String

    init(origin: String) { self.origin = origin }
}

/// Downloads images with many transfers at once on one libcurl multi handle, politely (per-host limit) and safely
/// (address guard on every connection, size and time caps). Every sample it takes gets exactly one outcome.
/// Not thread-safe: `run` drives it from one thread.
public final class Fetcher {
    /// The settings.
    public let settings: FetchSettings
    private let guardian: AddressGuard
    /// Transfers the watchdog had to stop in the last `run` (none when libcurl kept every deadline).
    public private(set) var watchdogReports: [String] = []
    /// Opt-out signals in the last `run` that could not be read and were ignored (a `Content-Usage` header that is
    /// not an RFC 9651 Dictionary states no preference): how many, with a few examples.
    public private(set) var ignoredSignals: [String] = []
    /// Origins whose circuit breaker opened in the last `run`: how often, the state at the end, the last reason.
    public private(set) var circuitReports: [String] = []

    /// Creates a fetcher.
    public init(settings: FetchSettings) {
        self.settings = settings
        guardian = AddressGuard(allowed: settings.allowedRanges)
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }

    /// Runs until `pull` says finished and every transfer is done. `pull(wait)` returns the next sample (blocking
    /// only when `wait` is true); `emit` receives every sample with its outcome, in completion order.
    public func run(pull: (Bool) -> Pull, emit: (Sample) -> Void) {
        guard let multi = curl_multi_init() else {
            // Without a multi handle nothing can be fetched: every sample gets that reason.
            while case .sample(var s) = pull(true) {
                s.drop(.fetchSetup, "curl_multi_init failed")
                emit(s)
            }
            return
        }
        defer { curl_multi_cleanup(multi) }
        let share = curl_share_init()
        defer { curl_share_cleanup(share) }
        do throws(CurlError) {
            try Curl.check(
                winnow_share_setopt_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue)), "share DNS")
            try Curl.check(
                winnow_share_setopt_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue)),
                "share SSL sessions")
            // The per-host connection limit is politeness: without it nothing is fetched.
            try Curl.check(
                winnow_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, settings.perHostConcurrency),
                "CURLMOPT_MAX_HOST_CONNECTIONS")
        } catch {
            while case .sample(var s) = pull(true) {
                s.drop(.fetchSetup, error.description)
                emit(s)
            }
            return
        }
        var connectTo: UnsafeMutablePointer<curl_slist>?
        for entry in settings.connectTo { connectTo = curl_slist_append(connectTo, entry) }
        defer { curl_slist_free_all(connectTo) }
        // The image formats WinnowImage decodes, so that servers that negotiate send one it can read.
        let accept = curl_slist_append(
            nil, "Accept: image/avif,image/jxl,image/webp,image/png,image/jpeg,image/gif,*/*;q=0.8")
        defer { curl_slist_free_all(accept) }

        var active: [UnsafeMutableRawPointer: Transfer] = [:]
        var perHost: [String: Int] = [:]
        var waiting: [String: [Transfer]] = [:]
        var waitingCount = 0
        var delayed: [(due: Date, transfer: Transfer)] = []
        var inputDone = false

        func start(_ t: Transfer) {
            guard let easy = curl_easy_init() else {
                t.sample.drop(.fetchSetup, "curl_easy_init failed")
                emit(t.sample)
                return
            }
            t.attempts += 1
            t.startedAt = Date()
            t.body.removeAll(keepingCapacity: true)
            t.refused = nil
            t.tooLarge = false
            t.headerBytes = 0
            t.headerLines = 0
            t.headersTooLarge = false
            let ctx = Unmanaged.passUnretained(t).toOpaque()
            // Every option checked: a call libcurl refuses fails the sample with its name, not silently.
            let o = EasyHandle(easy: easy)
            do throws(CurlError) {
                try o.set(CURLOPT_URL, t.url)
                try o.set(share: share)
                try o.set(CURLOPT_PROTOCOLS_STR, "http,https")
                try o.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
                // An image's redirects are followed here, one hop at a time, each checked against its own origin's
                // opt-outs before it is requested. A policy document's are followed by libcurl (RFC 9309 2.3.1.2).
                try o.set(CURLOPT_FOLLOWLOCATION, t.policyDoc == nil ? 0 : 1)
                try o.set(CURLOPT_MAXREDIRS, settings.maxRedirects)
                try o.set(CURLOPT_TIMEOUT_MS, Int(settings.timeoutSeconds * 1000))
                try o.set(CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeoutSeconds * 1000))
                try o.set(CURLOPT_LOW_SPEED_LIMIT, settings.lowSpeedBytesPerSecond)
                try o.set(CURLOPT_LOW_SPEED_TIME, settings.lowSpeedSeconds)
                try o.set(CURLOPT_MAXFILESIZE_LARGE, offset: curl_off_t(settings.maxBytes))
                try o.set(CURLOPT_USERAGENT, settings.userAgent)
                // Any encoding curl can decode; the write callback sees decoded bytes, so max_bytes caps the decompressed
                // size too (a gzip bomb is cut off at the cap).
                try o.set(CURLOPT_ACCEPT_ENCODING, "")
                try o.set(CURLOPT_NOSIGNAL, 1)
                try o.set(CURLOPT_DNS_CACHE_TIMEOUT, settings.dnsCacheSeconds)
                if let c = connectTo { try o.set(CURLOPT_CONNECT_TO, list: c) }
                if t.policyDoc == nil, let a = accept { try o.set(CURLOPT_HTTPHEADER, list: a) }
                if let ca = settings.caFile { try o.set(CURLOPT_CAINFO, ca) }
                try o.set(CURLOPT_WRITEFUNCTION, callback: writeCallback)
                try o.set(CURLOPT_HEADERFUNCTION, callback: headerCallback)
                try o.set(CURLOPT_HEADERDATA, pointer: ctx)
                t.headers.removeAll()
                t.headersChecked = false
                t.optOut = nil
                try o.set(CURLOPT_WRITEDATA, pointer: ctx)
                try o.set(openSocket: openSocketCallback)
                try o.set(CURLOPT_OPENSOCKETDATA, pointer: ctx)
                try o.set(CURLOPT_PRIVATE, pointer: ctx)
                try Curl.check(curl_multi_add_handle(multi, easy), "curl_multi_add_handle")
            } catch {
                curl_easy_cleanup(easy)
                t.sample.drop(.fetchSetup, error.description)
                emit(t.sample)
                return
            }
            active[easy] = t
            perHost[t.host, default: 0] += 1
            if settings.perHostMinInterval > 0 {
                hostNotBefore[t.host] = Date().addingTimeInterval(settings.perHostMinInterval)
            }
        }

        var origins: [String: OriginState] = [:]
        let cache = settings.policyCachePath.flatMap { try? PolicyCache(path: $0) }
        // What the run stored is on disk when it returns (the next run, or another process, reads it).
        defer { cache?.flush() }
        var watchdogReports: [String] = []
        var ignoredUsage = 0
        var ignoredExamples: [String] = []
        var hostNotBefore: [String: Date] = [:]
        var breakers = CircuitBreakers(
            threshold: settings.circuitBreakerFailures, cooldown: settings.circuitBreakerCooldown)
        let tokens = settings.robotsTokens
        let purpose = settings.purpose
        let xRobots = settings.xRobotsTagValues
        let checkHeaders = settings.honourHeaderOptOuts

        /// Memory stays flat however many hosts the input holds: past `originsToKeep` origins in memory, the idle
        /// ones (nothing in flight or waiting) are forgotten, with their hosts' expired waits and failure counts.
        /// Their opt-out documents stay in the policy cache, so a later sample of a forgotten origin reads them from
        /// SQLite, not from the network. Open circuit breakers are kept up to the same bound.
        var originsToKeep = settings.originsInMemory
        func forgetIdleHosts() {
            let now = Date()
            origins = origins.filter { $0.value.outstanding > 0 || !$0.value.waiting.isEmpty }
            hostNotBefore = hostNotBefore.filter { $0.value > now }
            perHost = perHost.filter { $0.value > 0 }
            waiting = waiting.filter { !$0.value.isEmpty }
            breakers.forgetIdle(limit: settings.originsInMemory)
            // Busy origins stay; scan again only after as many new ones arrive.
            originsToKeep = max(settings.originsInMemory, 2 * origins.count)
        }

        /// Queues a transfer behind its host's concurrency limit.
        func schedule(_ t: Transfer) {
            // A policy document is the origin's own question, asked whatever its breaker says.
            if !t.isProbe && t.policyDoc == nil {
                switch breakers.admit(t.origin) {
                case .pass: break
                case .probe: t.isProbe = true
                case .wait:
                    // The origin's probe is in flight: ask again shortly.
                    delayed.append((Date().addingTimeInterval(0.1), t))
                    return
                case .refuse(let why):
                    t.sample.drop(.hostCircuitOpen, "\(t.origin): \(why)")
                    emit(t.sample)
                    return
                }
            }
            // A host that asked us to wait (Retry-After), or the minimum interval between requests to it.
            if let notBefore = hostNotBefore[t.host], notBefore > Date() {
                delayed.append((notBefore, t))
                return
            }
            if perHost[t.host, default: 0] < settings.perHostConcurrency {
                start(t)
            } else {
                waiting[t.host, default: []].append(t)
                waitingCount += 1
            }
        }

        /// Applies an origin's opt-outs to a transfer: schedules it, or drops its sample with the rule that says no.
        func apply(_ o: OriginState, _ t: Transfer) {
            if let f = o.failure {
                t.sample.drop(f)
                emit(t.sample)
                return
            }
            let path = Fetcher.pathAndQuery(t.url)
            // After a redirect, the evidence names the hop that was not requested; an answer from a shared policy
            // cache says how old it is.
            let hop = t.hops > 0 ? "redirect hop \(t.hops) to \(t.url): " : ""
            let age = o.cachedAt.map { " [policy cache, fetched \(Fetcher.age(since: $0)) ago]" } ?? ""
            let policy = OriginPolicy(origin: o.origin, robots: o.robots, tdm: o.tdm, aiTxt: o.aiTxt, failure: nil)
            if let r = policy.refusal(path: path, tokens: tokens, purpose: purpose, prefix: hop, suffix: age) {
                t.sample.drop(r)
                emit(t.sample)
                return
            }
            schedule(t)
        }

        let docs = PolicyDocument.allCases.filter {
            switch $0 {
            case .robots: return settings.honourRobotsTxt
            case .tdmrep: return settings.honourTDMRep
            case .aiTxt: return settings.honourAiTxt
            }
        }

        func admit(_ s: Sample) {
            guard s.isKept else {
                emit(s)
                return
            }
            // The URL as the WHATWG parser reads it: its host is what politeness, opt-out lookups and the address
            // guard see (`0x7f.1` is 127.0.0.1 to all of them).
            guard let url = try? WebURL.parse(s.candidate.url) else {
                var d = s
                d.drop(.urlInvalid, s.candidate.url)
                emit(d)
                return
            }
            // Fails closed: a URL whose origin cannot be told is refused, never fetched unasked.
            let o = OriginPolicy.origin(of: url)
            guard let origin = o.origin else {
                var d = s
                d.drop(o.refusal ?? Reason(.urlInvalid, url.href))
                emit(d)
                return
            }
            let t = Transfer(
                sample: s, url: url.href, origin: origin, maxBytes: settings.maxBytes,
                maxHeaderBytes: settings.maxHeaderBytes, guardian: guardian, host: url.host)
            if checkHeaders {
                let href = url.href
                t.headerCheck = { headers in
                    if let bad = Fetcher.invalidContentUsage(headers) {
                        ignoredUsage += 1
                        if ignoredExamples.count < 3 { ignoredExamples.append("\(href): Content-Usage: \(bad)") }
                    }
                    return Fetcher.headerOptOut(headers, tokens: tokens, xRobotsTagValues: xRobots, purpose: purpose)
                }
            }
            route(t, url)
        }

        /// Sends a transfer (a new sample, or one at a redirect's next hop) through its origin's opt-outs: at once
        /// when they are known, after its documents are fetched otherwise.
        func route(_ t: Transfer, _ url: WebURL) {
            // An address literal that may not be connected to is refused here: no robots.txt to ask, no transfer.
            let host = url.host
            if let literal = CIDR.parseAddress(host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host),
                let why = guardian.refusal(for: literal)
            {
                t.sample.drop(.addressRefused, t.hops > 0 ? "redirect hop \(t.hops) to \(t.url): \(why)" : why)
                emit(t.sample)
                return
            }
            guard !docs.isEmpty else {
                schedule(t)
                return
            }
            let origin = t.origin
            if let o = origins[origin] {
                if o.outstanding > 0 {
                    o.waiting.append(t)
                    waitingCount += 1
                } else if let again = o.retryAt, again <= Date() {
                    // Its documents could not be fetched a while ago: ask the origin again.
                    fetchDocuments(o, for: t, host: host)
                } else {
                    apply(o, t)
                }
                return
            }
            // First sample of this origin: fetch its opt-out documents; the sample waits for the answers.
            if origins.count >= originsToKeep { forgetIdleHosts() }
            let o = OriginState(origin: origin)
            origins[origin] = o
            fetchDocuments(o, for: t, host: host)
        }

        /// Fetches an origin's opt-out documents (from the policy cache where it holds an answer), with `t` waiting
        /// for them.
        func fetchDocuments(_ o: OriginState, for t: Transfer, host: String) {
            o.robots = .allowAll
            o.failure = nil
            o.tdm = []
            o.aiTxt = nil
            o.retryAt = nil
            o.cachedAt = nil
            o.waiting.append(t)
            waitingCount += 1
            o.outstanding = docs.count
            for doc in docs {
                // Only what a site said is cached; a failure to ask it (an older cache may hold one) is not.
                if let cached = cache?.lookup(origin: o.origin, document: doc.path), cached.failure == nil,
                    !Fetcher.isTransient(status: cached.status)
                {
                    o.cachedAt = min(o.cachedAt ?? cached.fetchedAt, cached.fetchedAt)
                    record(o, doc, status: cached.status, failure: nil, body: cached.body)
                    continue
                }
                let r = Transfer(
                    sample: t.sample, url: o.origin + doc.path, origin: o.origin, maxBytes: RobotsTxt.maxBytes + 1,
                    maxHeaderBytes: settings.maxHeaderBytes, guardian: guardian, host: host)
                r.policyDoc = (o.origin, doc)
                schedule(r)
            }
        }

        /// A policy document's transfer ended: cache the answer and record it.
        func documentDone(_ t: Transfer, origin: String, doc: PolicyDocument, status: Int, code: CURLcode) {
            guard let o = origins[origin] else { return }
            if let refused = t.refused {
                record(o, doc, status: 0, failure: Reason(.addressRefused, refused), body: [])
                return
            }
            let ok = code == CURLE_OK || t.tooLarge
            var failure: Reason?
            if !ok {
                let (kind, _) = Fetcher.classify(code, headersTooLarge: t.headersTooLarge)
                failure = Reason(kind, String(cString: curl_easy_strerror(code)))
            }
            if ok && !Fetcher.isTransient(status: status) {
                // What the site said is kept for later runs (24 h).
                cache?.store(
                    origin: origin, document: doc.path,
                    entry: PolicyCache.Entry(status: status, failure: nil, body: t.body, fetchedAt: Date()))
            } else {
                // Asking failed: remembered for this run only, and asked again after a while.
                o.retryAt = Date().addingTimeInterval(settings.policyRetrySeconds)
            }
            record(o, doc, status: ok ? status : 0, failure: failure, body: t.body)
        }

        /// Records what a policy document says; when the origin's last one is in, releases the samples that waited.
        func record(_ o: OriginState, _ doc: PolicyDocument, status: Int, failure: Reason?, body: [UInt8]) {
            let source = o.origin + doc.path
            switch doc {
            case .robots:
                if let f = failure {
                    // The server could not be reached at all: complete disallow, with the network reason.
                    o.failure =
                        f.code == ReasonCode.addressRefused.rawValue
                        ? f
                        : f.with(
                            detail:
                                "\(source): \(f.detail) (asked again after \(Int(settings.policyRetrySeconds)) s)")
                } else {
                    switch status {
                    case 200..<300: o.robots = RobotsTxt(parsing: body)
                    // RFC 9309 2.3.1.3: "unavailable" (4xx) allows everything; 429 is treated as unreachable.
                    case 400..<500 where status != 429: o.robots = .allowAll
                    default:
                        o.failure = Reason(
                            .robotsUnreachable,
                            "\(source) answered \(status): complete disallow (RFC 9309 2.3.1.4; asked again after \(Int(settings.policyRetrySeconds)) s)"
                        )
                    }
                }
            case .tdmrep:
                if failure == nil && (200..<300).contains(status) { o.tdm = TDMRepRule.parse(body) }
            case .aiTxt:
                if failure == nil && (200..<300).contains(status) { o.aiTxt = RobotsTxt(parsing: body) }
            }
            o.outstanding -= 1
            guard o.outstanding == 0 else { return }
            let queue = o.waiting
            o.waiting = []
            waitingCount -= queue.count
            for w in queue { apply(o, w) }
        }

        func finish(_ easy: UnsafeMutableRawPointer, _ code: CURLcode) {
            guard let t = active.removeValue(forKey: easy) else { return }
            perHost[t.host, default: 1] -= 1
            var status = 0
            winnow_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            var ctype: UnsafeMutablePointer<CChar>?
            winnow_easy_getinfo_string(easy, CURLINFO_CONTENT_TYPE, &ctype)
            var effective: UnsafeMutablePointer<CChar>?
            winnow_easy_getinfo_string(easy, CURLINFO_EFFECTIVE_URL, &effective)
            var version = 0
            winnow_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
            // Where a redirect points, resolved by libcurl against the URL requested (not followed by it).
            var location: UnsafeMutablePointer<CChar>?
            winnow_easy_getinfo_string(easy, CURLINFO_REDIRECT_URL, &location)
            let redirect = location.map { String(cString: $0) }
            t.sample.fetch = FetchInfo(
                httpStatus: status, contentType: ctype.map { String(cString: $0) },
                finalURL: effective.map { String(cString: $0) }, attempts: t.attempts,
                httpVersion: httpVersionName(version))
            curl_multi_remove_handle(multi, easy)
            curl_easy_cleanup(easy)
            if let (origin, doc) = t.policyDoc {
                documentDone(t, origin: origin, doc: doc, status: status, code: code)
                startWaiting(t.host)
                return
            }
            if code == CURLE_OK, t.optOut == nil, t.refused == nil, Fetcher.isRedirect(status), let target = redirect {
                // The slot freed is the redirecting host's; the transfer moves on to the target's.
                let freed = t.host
                breakers.succeeded(t.origin)
                t.isProbe = false
                follow(t, to: target)
                startWaiting(freed)
                return
            }
            var reason: Reason?
            var retryable = false
            if let o = t.optOut {
                reason = o
            } else if let refused = t.refused {
                reason = Reason(.addressRefused, refused)
            } else if t.tooLarge || code == CURLE_FILESIZE_EXCEEDED {
                reason = Reason(.tooLarge, "body exceeds \(settings.maxBytes) bytes")
            } else if code != CURLE_OK {
                let (kind, again) = Fetcher.classify(code, headersTooLarge: t.headersTooLarge)
                let detail =
                    kind == .headersTooLarge
                    ? "response headers over \(settings.maxHeaderBytes) bytes or 1,000 lines"
                    : String(cString: curl_easy_strerror(code))
                reason = Reason(kind, detail)
                retryable = again
            } else if status != 200 {
                reason = Reason(.http(status), t.url)
                retryable = status == 429 || status >= 500
            } else if let type = t.sample.fetch?.contentType?.lowercased(), Fetcher.isNotImage(contentType: type) {
                // The server says it is not an image (an HTML error page served with 200, say).
                reason = Reason(.contentType, type)
            }
            if var r = reason {
                // Exponential backoff with jitter; a Retry-After on 429/503 is honoured for the whole host.
                var wait = 0.25 * pow(2.0, Double(t.attempts - 1)) * Double.random(in: 0.5...1.5)
                if status == 429 || status == 503, let after = Fetcher.retryAfter(t.headers) {
                    if after <= settings.maxRetryAfter {
                        wait = max(wait, after)
                        hostNotBefore[t.host] = Date().addingTimeInterval(after)
                        r.detail += " (Retry-After: \(Int(after.rounded())) s honoured)"
                    } else {
                        retryable = false
                        r.detail += " (Retry-After: \(Int(after)) s, longer than \(Int(settings.maxRetryAfter)) s)"
                    }
                }
                // Repeated connection failures, timeouts and server errors open the origin's circuit; any other
                // outcome is an answer from the origin.
                if retryable {
                    if let why = breakers.failed(t.origin, reason: "\(r)"),
                        let queue = waiting[t.host]
                    {
                        // Opened: the origin's samples queued behind the host's limit go now.
                        let (drop, keep) = (
                            queue.filter { $0.origin == t.origin }, queue.filter { $0.origin != t.origin }
                        )
                        waiting[t.host] = keep.isEmpty ? nil : keep
                        waitingCount -= drop.count
                        for w in drop {
                            w.sample.drop(.hostCircuitOpen, "\(t.origin): \(why)")
                            emit(w.sample)
                        }
                    }
                } else if status > 0 {
                    breakers.succeeded(t.origin)
                } else if t.isProbe {
                    // A probe that got no answer at all (TLS, DNS...) leaves the origin as unhealthy as it was.
                    _ = breakers.failed(t.origin, reason: "\(r)")
                }
                let probe = t.isProbe
                t.isProbe = false
                if retryable && !probe && t.attempts <= settings.retries && !breakers.isOpen(t.origin) {
                    delayed.append((Date().addingTimeInterval(wait), t))
                } else {
                    t.sample.drop(r)
                    emit(t.sample)
                }
            } else {
                breakers.succeeded(t.origin)
                t.isProbe = false
                t.sample.original = t.body
                t.sample.originalSize = t.body.count
                emit(t.sample)
            }
            startWaiting(t.host)
        }

        /// A redirect answered: the next hop goes through its own origin's opt-outs before it is requested.
        func follow(_ t: Transfer, to target: String) {
            guard t.hops < settings.maxRedirects else {
                t.sample.drop(.tooManyRedirects, "more than \(settings.maxRedirects), the next to \(target)")
                emit(t.sample)
                return
            }
            guard let next = try? WebURL.parse(target) else {
                t.sample.drop(.redirectInvalid, "redirect hop \(t.hops + 1) to \(target)")
                emit(t.sample)
                return
            }
            t.hops += 1
            t.url = next.href
            t.host = next.host
            t.origin = Fetcher.origin(next)
            // Each hop has its own attempts (retries of a failed hop).
            t.attempts = 0
            route(t, next)
        }

        /// A slot of this host is free: start its next waiting transfer.
        func startWaiting(_ host: String) {
            if var queue = waiting[host], !queue.isEmpty, perHost[host, default: 0] < settings.perHostConcurrency {
                let next = queue.removeFirst()
                waiting[host] = queue.isEmpty ? nil : queue
                waitingCount -= 1
                start(next)
            }
        }

        while true {
            // Retries that are due.
            let now = Date()
            var i = 0
            while i < delayed.count {
                if delayed[i].due <= now {
                    schedule(delayed.remove(at: i).transfer)
                } else {
                    i += 1
                }
            }
            // Take new work while there is room; block for it only when nothing else is going on.
            pulling: while !inputDone && active.count < settings.concurrency
                && waitingCount < settings.concurrency * 4
            {
                let idle = active.isEmpty && delayed.isEmpty && waitingCount == 0
                switch pull(idle) {
                case .sample(let s): admit(s)
                case .empty: break pulling
                case .finished: inputDone = true
                }
            }
            if inputDone && active.isEmpty && delayed.isEmpty && waitingCount == 0 {
                self.watchdogReports = watchdogReports
                self.ignoredSignals =
                    ignoredUsage == 0
                    ? []
                    : [
                        "\(Words.count(ignoredUsage, "Content-Usage header")) not an RFC 9651 Dictionary, ignored (no preference read): "
                            + ignoredExamples.joined(separator: "; ")
                            + (ignoredUsage > ignoredExamples.count ? "; ..." : "")
                    ]
                circuitReports = breakers.reports
                break
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let msg = curl_multi_info_read(multi, &left) {
                if msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle {
                    finish(easy, msg.pointee.data.result)
                }
            }
            // Watchdog: libcurl enforces each transfer's deadline; anything older than that plus a margin is
            // reported and removed, so that no run can hang on one transfer.
            let limit = settings.timeoutSeconds + settings.connectTimeoutSeconds + 5
            for (easy, t) in active where Date().timeIntervalSince(t.startedAt) > limit {
                watchdogReports.append(
                    "\(t.policyDoc.map { $0.origin + $0.doc.path } ?? t.sample.candidate.url): running for more than \(Int(limit)) s"
                )
                finish(easy, CURLE_OPERATION_TIMEDOUT)
            }
            if !active.isEmpty {
                var fds: Int32 = 0
                curl_multi_poll(multi, nil, 0, 50, &fds)
            } else if !delayed.isEmpty {
                usleep(10_000)
            }
        }
    }
}

extension Fetcher {
    /// The reason code of a libcurl failure, and whether another attempt may pass.
    static func classify(_ code: CURLcode, headersTooLarge: Bool = false) -> (ReasonCode, Bool) {
        // Headers past our limit (the header callback stopped the transfer), or past libcurl's own: a single line
        // over its 100 KB buffer ends as "out of memory", which the input merely being too big must not be called.
        if headersTooLarge || code == CURLE_OUT_OF_MEMORY { return (.headersTooLarge, false) }
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST: return (.dns, false)
        case CURLE_COULDNT_CONNECT: return (.connect, true)
        case CURLE_OPERATION_TIMEDOUT: return (.timeout, true)
        case CURLE_TOO_MANY_REDIRECTS: return (.tooManyRedirects, false)
        case CURLE_UNSUPPORTED_PROTOCOL: return (.badScheme, false)
        case CURLE_PARTIAL_FILE: return (.truncated, true)
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR: return (.connectionReset, true)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CACERT_BADFILE:
            return (.tls, false)
        default: return (.network, true)
        }
    }

    /// Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), if any.
    static func retryAfter(_ headers: [(String, String)]) -> Double? {
        guard
            let v = headers.first(where: { $0.0.lowercased() == "retry-after" })?.1.trimmingCharacters(in: .whitespaces)
        else { return nil }
        if let seconds = Double(v), seconds >= 0 { return seconds }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: v).map { max(0, $0.timeIntervalSinceNow) }
    }

    /// Whether a Content-Type rules out an image (text, HTML, JSON...). Missing, image/*, octet-stream and other
    /// binary types are left to the magic-byte check of the image stage.
    static func isNotImage(contentType: String) -> Bool {
        let t = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return t.hasPrefix("text/") || t.hasSuffix("/html") || t.hasSuffix("/json") || t.hasSuffix("/javascript")
            || t.hasSuffix("+xml") && t != "image/svg+xml" || t == "application/xml"
    }

    /// `scheme://host[:port]` of a URL, the unit robots.txt applies to.
    static func origin(_ u: WebURL) -> String {
        // The same as OriginPolicy.origin(of:) for the http(s) URLs that reach here.
        u.scheme + "://" + u.host + (u.port.map { ":\($0)" } ?? "")
    }

    /// Path and query of a URL (WHATWG-serialised), as robots.txt rules see it.
    static func pathAndQuery(_ url: String) -> String {
        guard let u = try? WebURL.parse(url) else { return "/" }
        return u.query.map { u.path + "?" + $0 } ?? u.path
    }

    /// Whether an answer to a policy document says nothing of the site's policy: a server error or 429 (RFC 9309
    /// 2.3.1.4 reads them as "unreachable"). Such answers are not cached.
    static func isTransient(status: Int) -> Bool { status >= 500 || status == 429 }

    /// How long ago `date` was, in the largest whole unit (`40 s`, `12 min`, `5 h`).
    static func age(since date: Date, now: Date = Date()) -> String {
        let s = max(0, Int(now.timeIntervalSince(date)))
        return s < 120 ? "\(s) s" : s < 7200 ? "\(s / 60) min" : "\(s / 3600) h"
    }

    /// Whether a status is a redirect that carries a `Location` to follow (RFC 9110 15.4).
    static func isRedirect(_ status: Int) -> Bool {
        status == 301 || status == 302 || status == 303 || status == 307 || status == 308
    }

    /// The opt-out a response's headers carry, if any: `X-Robots-Tag` (plain, or scoped to one of `tokens`),
    /// `tdm-reservation: 1` (W3C TDMRep), `Content-Usage: train-ai=n` (IETF AI preferences draft).
    /// The joined `Content-Usage` value of a response when it is not a valid Dictionary (nil when valid or absent).
    static func invalidContentUsage(_ headers: [(String, String)]) -> String? {
        let usage = headers.filter { $0.0.lowercased() == "content-usage" }.map(\.1)
        if usage.isEmpty { return nil }
        let joined = usage.joined(separator: ", ")
        return StructuredField.dictionary(joined) == nil ? joined : nil
    }

    static func headerOptOut(
        _ headers: [(String, String)], tokens: [String], xRobotsTagValues: Set<String>,
        purpose: UsagePurpose = .trainAI
    ) -> Reason? {
        let lowerTokens = Set(tokens.map { $0.lowercased() })
        // Content-Usage: an RFC 9651 Dictionary, its field lines joined as HTTP combines them; an invalid one states
        // nothing (and is not read as a substring).
        let usage = headers.filter { $0.0.lowercased() == "content-usage" }.map(\.1)
        if !usage.isEmpty {
            let joined = usage.joined(separator: ", ")
            if AIPreferences.contentUsage(joined, purpose: purpose).0 == .disallowed {
                return Reason(.contentUsage, "Content-Usage: \(joined) (purpose \(purpose.rawValue))")
            }
        }
        for (name, value) in headers {
            let n = name.lowercased()
            let v = value.lowercased().trimmingCharacters(in: .whitespaces)
            if n == "x-robots-tag" {
                var values = v
                if let colon = v.firstIndex(of: ":") {
                    let agent = v[..<colon].trimmingCharacters(in: .whitespaces)
                    if !agent.isEmpty && !agent.contains(" ") && !agent.contains(",") {
                        if !lowerTokens.contains(agent) && agent != "*" { continue }
                        values = String(v[v.index(after: colon)...])
                    }
                }
                for token in values.split(whereSeparator: { $0 == "," || $0 == " " })
                where xRobotsTagValues.contains(String(token)) {
                    return Reason(.xRobotsTag, "X-Robots-Tag: \(value)")
                }
            } else if n == "tdm-reservation" && v == "1" {
                return Reason(.tdmReservation, "tdm-reservation: 1")
            }
        }
        return nil
    }
}

/// libcurl header callback: keeps the current response's header lines (a new status line starts a new response).
private let headerCallback: winnow_write_callback = { data, size, count, userdata in
    guard let userdata, let data else { return 0 }
    let t = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    // A header flood ends the transfer (returning less than `n` makes libcurl stop with a write error).
    t.headerBytes += n
    t.headerLines += 1
    if t.headerBytes > t.maxHeaderBytes || t.headerLines > 1_000 {
        t.headersTooLarge = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: n) { p in
        let bytes = UnsafeBufferPointer(start: p, count: n)
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0d || b == 0x0a }
        if n >= 5 && bytes[0] == 0x48 && bytes[1] == 0x54 && bytes[2] == 0x54 && bytes[3] == 0x50 && bytes[4] == 0x2f {
            // "HTTP/": a new response (after a redirect or a 100 Continue) starts its headers afresh.
            t.headers.removeAll()
            let parts = bytes.split(separator: 0x20, maxSplits: 2)
            t.status = parts.count > 1 ? Int(String(decoding: parts[1], as: UTF8.self)) ?? 0 : 0
        } else if let colon = bytes.firstIndex(of: 0x3a) {
            var start = colon + 1
            var end = n
            while start < end && isSpace(bytes[start]) { start += 1 }
            while end > start && isSpace(bytes[end - 1]) { end -= 1 }
            t.headers.append(
                (
                    String(decoding: bytes[..<colon], as: UTF8.self),
                    String(decoding: bytes[start..<end], as: UTF8.self)
                ))
        }
    }
    return n
}

/// libcurl write callback: appends to the transfer's body, aborting once it passes the size cap.
private let writeCallback: winnow_write_callback = { data, size, count, userdata in
    guard let userdata, let data else { return 0 }
    let t = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    // The body starts: the response's headers are complete, so an opt-out stops the download here.
    if !t.headersChecked {
        t.headersChecked = true
        if (200..<300).contains(t.status), let check = t.headerCheck, let reason = check(t.headers) {
            t.optOut = reason
            return 0
        }
        // Room for the whole body at once when its length is announced (a hint only: it may lie, or be encoded).
        if let length = t.headers.last(where: { $0.0.lowercased() == "content-length" }).flatMap({ Int($0.1) }),
            length > 0, length <= t.maxBytes
        {
            t.body.reserveCapacity(length)
        }
    }
    if t.body.count + n > t.maxBytes {
        // Keep what fits: a policy document is read up to its limit (its transfer allows one byte more, so that
        // the reader can tell whether the last line was cut).
        let room = t.maxBytes - t.body.count
        data.withMemoryRebound(to: UInt8.self, capacity: room) {
            t.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: room))
        }
        t.tooLarge = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: n) {
        t.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
    }
    return n
}

/// libcurl open-socket callback: refuses any address the guard refuses, on every connection (redirects included).
private let openSocketCallback: winnow_opensocket_callback = { clientp, purpose, address in
    guard let clientp, let address else { return CURL_SOCKET_BAD }
    let t = Unmanaged<Transfer>.fromOpaque(clientp).takeUnretainedValue()
    return t.guardian.openSocket(address, refused: &t.refused)
}

/// libcurl's CURLINFO_HTTP_VERSION as the version's usual name; nil when no response came.
func httpVersionName(_ v: Int) -> String? {
    switch v {
    case CURL_HTTP_VERSION_1_0: return "1.0"
    case CURL_HTTP_VERSION_1_1: return "1.1"
    case CURL_HTTP_VERSION_2_0: return "2"
    case CURL_HTTP_VERSION_3: return "3"
    default: return nil
    }
}
