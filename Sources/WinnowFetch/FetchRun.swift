internal import CCurl
import Foundation
import WinnowCore

/// One `Fetcher.run`: the loop that joins the three parts of fetching and gives every sample exactly one outcome.
/// - `OriginDocuments` and `OriginPolicy` decide whether a URL may be asked for at all (opt-outs, per origin, at
///   every redirect hop);
/// - `HostScheduler` decides when (per-host limits, pauses, backoff, circuit breakers);
/// - `CurlLoop` does the transfers.
/// What is left here is the routing between them and the reading of an ended transfer into an outcome.
final class FetchRun {
    let settings: FetchSettings
    let guardian: AddressGuard
    let loop: CurlLoop
    let scheduler: HostScheduler
    let documents: OriginDocuments
    private let emit: (Sample) -> Void
    /// The multi handle failed: nothing more can be fetched, and every sample left gets this error.
    private var broken: CurlError?
    private(set) var watchdogReports: [String] = []
    private var ignoredUsage = 0
    private var ignoredExamples: [String] = []

    init(
        settings: FetchSettings, guardian: AddressGuard, loop: CurlLoop, cache: PolicyCache?,
        emit: @escaping (Sample) -> Void
    ) {
        self.settings = settings
        self.guardian = guardian
        self.loop = loop
        self.emit = emit
        scheduler = HostScheduler(settings: settings)
        documents = OriginDocuments(settings: settings, guardian: guardian, cache: cache)
    }

    /// Opt-out signals that could not be read and were ignored: how many, with a few examples.
    var ignoredSignals: [String] {
        guard ignoredUsage > 0 else { return [] }
        return [
            "\(Words.count(ignoredUsage, "Content-Usage header")) not an RFC 9651 Dictionary, ignored (no preference read): "
                + ignoredExamples.joined(separator: "; ") + (ignoredUsage > ignoredExamples.count ? "; ..." : "")
        ]
    }

    /// Nothing in flight or waiting.
    private var idle: Bool { loop.count == 0 && scheduler.isIdle && documents.waiting == 0 }

    func run(pull: (Bool) -> Pull) {
        var inputDone = false
        while true {
            for t in scheduler.due() { schedule(t) }
            // Take new work while there is room; block for it only when nothing else is going on.
            pulling: while !inputDone && loop.count < settings.concurrency
                && scheduler.queued + documents.waiting < settings.concurrency * 4
            {
                switch pull(idle) {
                case .sample(let s): admit(s)
                case .empty: break pulling
                case .finished: inputDone = true
                }
            }
            if inputDone && idle { return }
            do throws(CurlError) {
                try loop.perform(finish)
            } catch {
                fail(error)
            }
            // Watchdog: anything older than libcurl's own deadline plus a margin is reported and ended.
            let limit = settings.timeoutSeconds + settings.connectTimeoutSeconds + 5
            loop.expire(olderThan: limit) { t, c in
                let what = t.policyDoc.map { $0.origin + $0.doc.path } ?? t.sample.candidate.url
                watchdogReports.append("\(what): running for more than \(Int(limit)) s")
                finish(t, c)
            }
            if loop.count > 0 {
                do throws(CurlError) { try loop.wait(milliseconds: 50) } catch { fail(error) }
            } else if scheduler.hasDelayed {
                usleep(10_000)
            }
        }
    }

    /// The multi handle failed: every transfer in flight or waiting ends with the error, and so does every sample
    /// still to come (the loop goes on only to give each its outcome).
    private func fail(_ error: CurlError) {
        broken = error
        loop.abandonAll(finish)
        for t in scheduler.drain() { start(t) }
    }

    private func drop(_ t: Transfer, _ r: Reason) {
        t.sample.drop(r)
        emit(t.sample)
    }

    /// A sample from the input: parsed as the WHATWG parser reads it, then routed to its origin.
    private func admit(_ s: Sample) {
        guard s.isKept else {
            emit(s)
            return
        }
        // Its host is what politeness, opt-out lookups and the address guard see (`0x7f.1` is 127.0.0.1 to all).
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
        if settings.honourHeaderOptOuts {
            let href = url.href
            let (tokens, values, purpose) = (settings.robotsTokens, settings.xRobotsTagValues, settings.purpose)
            t.headerCheck = { [unowned self] headers in
                if let bad = Fetcher.invalidContentUsage(headers) {
                    ignoredUsage += 1
                    if ignoredExamples.count < 3 { ignoredExamples.append("\(href): Content-Usage: \(bad)") }
                }
                return Fetcher.headerOptOut(headers, tokens: tokens, xRobotsTagValues: values, purpose: purpose)
            }
        }
        route(t, url)
    }

    /// Sends a transfer (a new sample, or one at a redirect's next hop) through its origin's opt-outs: at once
    /// when they are known, after its documents are fetched otherwise.
    private func route(_ t: Transfer, _ url: WebURL) {
        // An address literal that may not be connected to is refused here: no robots.txt to ask, no transfer.
        let host = url.host
        if let literal = CIDR.parseAddress(host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host),
            let why = guardian.refusal(for: literal)
        {
            drop(t, Reason(.addressRefused, t.hops > 0 ? "redirect hop \(t.hops) to \(t.url): \(why)" : why))
            return
        }
        guard !documents.documents.isEmpty else {
            schedule(t)
            return
        }
        let routed = documents.route(t, host: host) { scheduler.forgetIdle(limit: settings.originsInMemory) }
        for r in routed.requests { schedule(r) }
        if let (o, ready) = routed.released { for w in ready { apply(o, w) } }
    }

    /// Judges a transfer by its origin's documents (`OriginPolicy`): schedules it, or drops its sample with the
    /// rule that says no.
    private func apply(_ o: OriginState, _ t: Transfer) {
        if let f = o.failure {
            drop(t, f)
            return
        }
        // After a redirect, the evidence names the hop that was not requested; an answer from a shared policy
        // cache says how old it is.
        let hop = t.hops > 0 ? "redirect hop \(t.hops) to \(t.url): " : ""
        let age = o.cachedAt.map { " [policy cache, fetched \(Fetcher.age(since: $0)) ago]" } ?? ""
        let policy = OriginPolicy(origin: o.origin, robots: o.robots, tdm: o.tdm, aiTxt: o.aiTxt, failure: nil)
        if let r = policy.refusal(
            path: Fetcher.pathAndQuery(t.url), tokens: settings.robotsTokens, purpose: settings.purpose, prefix: hop,
            suffix: age)
        {
            drop(t, r)
            return
        }
        schedule(t)
    }

    private func schedule(_ t: Transfer) {
        switch scheduler.schedule(t) {
        case .start: start(t)
        case .kept: break
        case .refused(let why): drop(t, Reason(.hostCircuitOpen, why))
        }
    }

    /// Starts `t`; false when libcurl refused it (its sample then has its outcome).
    @discardableResult
    private func start(_ t: Transfer) -> Bool {
        do throws(CurlError) {
            if let b = broken { throw b }
            try loop.start(t)
            scheduler.started(t)
            return true
        } catch {
            // libcurl refused the transfer: a sample is dropped with the call it refused; a policy document counts
            // as not fetched (its origin then waits and is asked again), so its waiting samples get their answer.
            if let (origin, doc) = t.policyDoc {
                release(
                    documents.finished(t, origin: origin, doc: doc, status: 0, failure: Reason(.fetchSetup, "\(error)"))
                )
            } else {
                drop(t, Reason(.fetchSetup, error.description))
            }
            return false
        }
    }

    private func release(_ released: (OriginState, [Transfer])?) {
        if let (o, ready) = released { for w in ready { apply(o, w) } }
    }

    /// A slot of this host is free: start its next queued transfer (and the next, while libcurl refuses them, so
    /// that the queue never stalls with nothing in flight to free a slot).
    private func startNext(_ host: String) {
        while let next = scheduler.nextQueued(host), !start(next) {}
    }

    /// A transfer ended: a document is recorded for its origin; an image's redirect goes on to its next hop;
    /// anything else becomes the sample's outcome, or a retry.
    private func finish(_ t: Transfer, _ c: CurlCompletion) {
        scheduler.ended(host: t.host)
        t.sample.fetch = FetchInfo(
            httpStatus: c.status, contentType: c.contentType, finalURL: c.effectiveURL, attempts: t.attempts,
            httpVersion: c.httpVersion)
        if let (origin, doc) = t.policyDoc {
            var failure: Reason?
            if let f = c.failure {
                failure = Reason(.fetchSetup, f.description)
            } else if !c.ok && !t.tooLarge {
                let (kind, _) = Fetcher.classify(c.code, headersTooLarge: t.headersTooLarge)
                failure = Reason(kind, String(cString: curl_easy_strerror(c.code)))
            }
            release(documents.finished(t, origin: origin, doc: doc, status: c.status, failure: failure))
            startNext(t.host)
            return
        }
        if c.ok, c.failure == nil, t.optOut == nil, t.refused == nil, Fetcher.isRedirect(c.status),
            let target = c.redirect
        {
            // The slot freed is the redirecting host's; the transfer moves on to the target's.
            let freed = t.host
            scheduler.succeeded(t.origin)
            t.isProbe = false
            follow(t, to: target)
            startNext(freed)
            return
        }
        if let b = broken {
            // The multi handle failed: the transfer says nothing about its origin.
            drop(t, Reason(.fetchSetup, b.description))
            startNext(t.host)
            return
        }
        if var r = outcome(t, c) {
            var retryable = r.retryable
            // Exponential backoff with jitter; a Retry-After on 429/503 is honoured for the whole host.
            var wait = 0.25 * pow(2.0, Double(t.attempts - 1)) * Double.random(in: 0.5...1.5)
            if c.status == 429 || c.status == 503, let after = Fetcher.retryAfter(t.headers) {
                if after <= settings.maxRetryAfter {
                    wait = max(wait, after)
                    scheduler.pause(t.host, for: after)
                    r.reason.detail += " (Retry-After: \(Int(after.rounded())) s honoured)"
                } else {
                    retryable = false
                    r.reason.detail += " (Retry-After: \(Int(after)) s, longer than \(Int(settings.maxRetryAfter)) s)"
                }
            }
            // Repeated connection failures, timeouts and server errors open the origin's circuit; any other
            // outcome is an answer from the origin.
            if retryable {
                if let (why, refused) = scheduler.failed(t, reason: "\(r.reason)") {
                    // Opened: the origin's transfers queued behind the host's limit are refused now.
                    for w in refused { drop(w, Reason(.hostCircuitOpen, "\(t.origin): \(why)")) }
                }
            } else if c.status > 0 {
                scheduler.succeeded(t.origin)
            } else if t.isProbe {
                scheduler.probeUnanswered(t.origin, reason: "\(r.reason)")
            }
            let probe = t.isProbe
            t.isProbe = false
            if retryable && !probe && t.attempts <= settings.retries && !scheduler.isOpen(t.origin) && broken == nil {
                scheduler.retry(t, after: wait)
            } else {
                drop(t, r.reason)
            }
        } else {
            scheduler.succeeded(t.origin)
            t.isProbe = false
            t.sample.original = t.body
            t.sample.originalSize = t.body.count
            emit(t.sample)
        }
        startNext(t.host)
    }

    /// Why an image's transfer did not give an image, and whether another attempt may; nil when it did.
    private func outcome(_ t: Transfer, _ c: CurlCompletion) -> (reason: Reason, retryable: Bool)? {
        if let o = t.optOut { return (o, false) }
        if let refused = t.refused { return (Reason(.addressRefused, refused), false) }
        if let f = c.failure { return (Reason(.fetchSetup, f.description), false) }
        if t.tooLarge || c.code == CURLE_FILESIZE_EXCEEDED {
            return (Reason(.tooLarge, "body exceeds \(settings.maxBytes) bytes"), false)
        }
        if !c.ok {
            let (kind, again) = Fetcher.classify(c.code, headersTooLarge: t.headersTooLarge)
            let detail =
                kind == .headersTooLarge
                ? "response headers over \(settings.maxHeaderBytes) bytes or 1,000 lines"
                : String(cString: curl_easy_strerror(c.code))
            return (Reason(kind, detail), again)
        }
        if c.status != 200 { return (Reason(.http(c.status), t.url), c.status == 429 || c.status >= 500) }
        if let type = c.contentType?.lowercased(), Fetcher.isNotImage(contentType: type) {
            // The server says it is not an image (an HTML error page served with 200, say).
            return (Reason(.contentType, type), false)
        }
        return nil
    }

    /// A redirect answered: the next hop goes through its own origin's opt-outs before it is requested.
    private func follow(_ t: Transfer, to target: String) {
        guard t.hops < settings.maxRedirects else {
            drop(t, Reason(.tooManyRedirects, "more than \(settings.maxRedirects), the next to \(target)"))
            return
        }
        guard let next = try? WebURL.parse(target) else {
            drop(t, Reason(.redirectInvalid, "redirect hop \(t.hops + 1) to \(target)"))
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
}
