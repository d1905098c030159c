import Foundation
import WinnowCore

/// Each origin's machine-readable opt-out documents (robots.txt, tdmrep.json, ai.txt): fetched once before the
/// origin's first download, or read from the policy cache, with the transfers that wait for them. When an origin's
/// last document is in, its waiting transfers are released to be judged by `OriginPolicy`. A document that could
/// not be fetched is asked again after `policy_retry_seconds`. Memory stays flat: past `originsInMemory` origins,
/// idle ones are forgotten (the policy cache still holds what they said). Not thread-safe: the fetch loop owns it.
final class OriginDocuments {
    /// What routing a transfer to its origin gives.
    struct Routed {
        /// Document requests to schedule.
        var requests: [Transfer] = []
        /// The origin, when its documents are all known, and the transfers to judge by them now.
        var released: (OriginState, [Transfer])?
    }

    private let settings: FetchSettings
    private let guardian: AddressGuard
    private let cache: PolicyCache?
    /// The documents this run honours.
    let documents: [PolicyDocument]
    private var origins: [String: OriginState] = [:]
    private var originsToKeep: Int
    /// How many transfers wait for their origin's documents.
    private(set) var waiting = 0

    init(settings: FetchSettings, guardian: AddressGuard, cache: PolicyCache?) {
        self.settings = settings
        self.guardian = guardian
        self.cache = cache
        originsToKeep = settings.originsInMemory
        documents = PolicyDocument.allCases.filter {
            switch $0 {
            case .robots: return settings.honourRobotsTxt
            case .tdmrep: return settings.honourTDMRep
            case .aiTxt: return settings.honourAiTxt
            }
        }
    }

    /// Sends `t` to its origin: judged at once when the origin's documents are known, queued while they are being
    /// fetched, or the first of its origin (or the first after a failure's wait), whose documents are then asked.
    /// `forgetIdle` runs when the origins in memory reach their bound.
    func route(_ t: Transfer, host: String, forgetIdle: () -> Void) -> Routed {
        if let o = origins[t.origin] {
            if o.outstanding > 0 {
                o.waiting.append(t)
                waiting += 1
                return Routed()
            }
            if let again = o.retryAt, again <= Date() {
                // Its documents could not be fetched a while ago: ask the origin again.
                return fetch(o, for: t, host: host)
            }
            return Routed(released: (o, [t]))
        }
        if origins.count >= originsToKeep {
            // Busy origins stay; scan again only after as many new ones arrive.
            origins = origins.filter { $0.value.outstanding > 0 || !$0.value.waiting.isEmpty }
            originsToKeep = max(settings.originsInMemory, 2 * origins.count)
            forgetIdle()
        }
        let o = OriginState(origin: t.origin)
        origins[t.origin] = o
        return fetch(o, for: t, host: host)
    }

    /// Asks an origin's documents (from the policy cache where it holds an answer), with `t` waiting for them.
    private func fetch(_ o: OriginState, for t: Transfer, host: String) -> Routed {
        o.robots = .allowAll
        o.failure = nil
        o.tdm = []
        o.aiTxt = nil
        o.retryAt = nil
        o.cachedAt = nil
        o.waiting.append(t)
        waiting += 1
        o.outstanding = documents.count
        var routed = Routed()
        for doc in documents {
            // Only what a site said is cached; a failure to ask it (an older cache may hold one) is not.
            if let cached = cache?.lookup(origin: o.origin, document: doc.path), cached.failure == nil,
                !Fetcher.isTransient(status: cached.status)
            {
                o.cachedAt = min(o.cachedAt ?? cached.fetchedAt, cached.fetchedAt)
                if let r = record(o, doc, status: cached.status, failure: nil, body: cached.body) {
                    routed.released = r
                }
                continue
            }
            let r = Transfer(
                sample: t.sample, url: o.origin + doc.path, origin: o.origin, maxBytes: RobotsTxt.maxBytes + 1,
                maxHeaderBytes: settings.maxHeaderBytes, guardian: guardian, host: host)
            r.policyDoc = (o.origin, doc)
            routed.requests.append(r)
        }
        return routed
    }

    /// A document's transfer ended (`failure` set when it could not even start): the answer is cached when the
    /// site gave one, and recorded. Returns the origin and the transfers it releases when that was its last
    /// document.
    func finished(
        _ t: Transfer, origin: String, doc: PolicyDocument, status: Int, failure: Reason?
    ) -> (OriginState, [Transfer])? {
        guard let o = origins[origin] else { return nil }
        if let refused = t.refused {
            return record(o, doc, status: 0, failure: Reason(.addressRefused, refused), body: [])
        }
        if failure == nil && !Fetcher.isTransient(status: status) {
            // What the site said is kept for later runs (24 h).
            cache?.store(
                origin: origin, document: doc.path,
                entry: PolicyCache.Entry(status: status, failure: nil, body: t.body, fetchedAt: Date()))
        } else {
            // Asking failed: remembered for this run only, and asked again after a while.
            o.retryAt = Date().addingTimeInterval(settings.policyRetrySeconds)
        }
        return record(o, doc, status: failure == nil ? status : 0, failure: failure, body: t.body)
    }

    /// Records what a document says; when the origin's last one is in, returns the transfers that waited.
    private func record(
        _ o: OriginState, _ doc: PolicyDocument, status: Int, failure: Reason?, body: [UInt8]
    ) -> (OriginState, [Transfer])? {
        let source = o.origin + doc.path
        switch doc {
        case .robots:
            if let f = failure {
                // The server could not be reached at all: complete disallow, with the network reason.
                o.failure =
                    f.code == ReasonCode.addressRefused.rawValue
                    ? f
                    : f.with(
                        detail: "\(source): \(f.detail) (asked again after \(Int(settings.policyRetrySeconds)) s)")
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
        guard o.outstanding == 0 else { return nil }
        let queue = o.waiting
        o.waiting = []
        waiting -= queue.count
        return (o, queue)
    }
}
