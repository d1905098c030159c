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
        let loop: CurlLoop
        do throws(CurlError) {
            loop = try CurlLoop(settings: settings)
        } catch {
            // Without a multi handle nothing can be fetched: every sample gets that reason.
            while case .sample(var s) = pull(true) {
                s.drop(.fetchSetup, error.description)
                emit(s)
            }
            return
        }
        let cache = settings.policyCachePath.flatMap { try? PolicyCache(path: $0) }
        // What the run stored is on disk when it returns (the next run, or another process, reads it).
        defer { cache?.flush() }
        withoutActuallyEscaping(emit) { emit in
            let r = FetchRun(settings: settings, guardian: guardian, loop: loop, cache: cache, emit: emit)
            r.run(pull: pull)
            watchdogReports = r.watchdogReports
            ignoredSignals = r.ignoredSignals
            circuitReports = r.scheduler.circuitReports
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
