import Foundation
import WinnowCore

/// Politeness: when a transfer may start. It keeps, per host, how many transfers are in flight (at most
/// `perHostConcurrency`) and the queue behind that limit; the transfers that wait for a time (a retry's backoff, a
/// host's `Retry-After`, the minimum interval between requests to a host); and each origin's circuit breaker. It
/// never touches libcurl, and it decides nothing about opt-outs. Not thread-safe: the fetch loop owns it.
final class HostScheduler {
    /// What becomes of a transfer offered to the scheduler.
    enum Decision: Equatable {
        /// Start it now (then call `started`).
        case start
        /// Kept: behind its host's limit (`nextQueued`) or until its time (`due`).
        case kept
        /// Its origin's circuit is open: the sample is refused with this evidence.
        case refused(String)
    }

    private let settings: FetchSettings
    private var inFlight: [String: Int] = [:]
    private var queues: [String: [Transfer]] = [:]
    private var delayed: [(due: Date, transfer: Transfer)] = []
    private var notBefore: [String: Date] = [:]
    private var breakers: CircuitBreakers
    /// How many transfers wait behind their host's limit.
    private(set) var queued = 0

    init(settings: FetchSettings) {
        self.settings = settings
        breakers = CircuitBreakers(
            threshold: settings.circuitBreakerFailures, cooldown: settings.circuitBreakerCooldown)
    }

    /// Nothing waits, neither behind a host's limit nor for a time.
    var isIdle: Bool { queued == 0 && delayed.isEmpty }
    /// Something waits for a time.
    var hasDelayed: Bool { !delayed.isEmpty }
    /// Origins whose circuit breaker opened: how often, the state at the end, the last reason.
    var circuitReports: [String] { breakers.reports }

    /// Decides whether `t` may start now. A policy document is the origin's own question, asked whatever its
    /// breaker says; a sample of an origin whose probe is in flight waits a little; a host that asked for a pause
    /// (or its minimum interval) holds its transfers until then; a host at its limit queues them.
    func schedule(_ t: Transfer, now: Date = Date()) -> Decision {
        if !t.isProbe && t.policyDoc == nil {
            switch breakers.admit(t.origin, now: now) {
            case .pass: break
            case .probe: t.isProbe = true
            case .wait:
                delayed.append((now.addingTimeInterval(0.1), t))
                return .kept
            case .refuse(let why): return .refused("\(t.origin): \(why)")
            }
        }
        if let until = notBefore[t.host], until > now {
            delayed.append((until, t))
            return .kept
        }
        if inFlight[t.host, default: 0] < settings.perHostConcurrency { return .start }
        queues[t.host, default: []].append(t)
        queued += 1
        return .kept
    }

    /// `t` started: it takes one of its host's slots, and the host's minimum interval runs from now.
    func started(_ t: Transfer, now: Date = Date()) {
        inFlight[t.host, default: 0] += 1
        if settings.perHostMinInterval > 0 { notBefore[t.host] = now.addingTimeInterval(settings.perHostMinInterval) }
    }

    /// A transfer of `host` ended: its slot is free.
    func ended(host: String) { inFlight[host, default: 1] -= 1 }

    /// The next transfer queued behind `host`'s limit, when a slot of it is free (it starts at once: it already
    /// passed its breaker and the host's pause when it was queued).
    func nextQueued(_ host: String) -> Transfer? {
        guard var queue = queues[host], !queue.isEmpty, inFlight[host, default: 0] < settings.perHostConcurrency
        else { return nil }
        let next = queue.removeFirst()
        queues[host] = queue.isEmpty ? nil : queue
        queued -= 1
        return next
    }

    /// The transfers whose wait is over, to be scheduled again.
    func due(now: Date = Date()) -> [Transfer] {
        guard delayed.contains(where: { $0.due <= now }) else { return [] }
        let ready = delayed.filter { $0.due <= now }.map(\.transfer)
        delayed.removeAll { $0.due <= now }
        return ready
    }

    /// Every transfer that waits, for any reason, taken out (the loop cannot go on).
    func drain() -> [Transfer] {
        let all = delayed.map(\.transfer) + queues.values.flatMap { $0 }
        delayed = []
        queues = [:]
        queued = 0
        return all
    }

    /// `t` is tried again after `seconds` (backoff).
    func retry(_ t: Transfer, after seconds: Double, now: Date = Date()) {
        delayed.append((now.addingTimeInterval(seconds), t))
    }

    /// `host` asked for a pause (`Retry-After`): nothing of it starts before then.
    func pause(_ host: String, for seconds: Double, now: Date = Date()) {
        notBefore[host] = now.addingTimeInterval(seconds)
    }

    /// The origin answered: its failures are forgotten (a half-open breaker closes).
    func succeeded(_ origin: String) { breakers.succeeded(origin) }

    /// A retryable failure of `t`'s origin. When it opens the breaker, the origin's transfers queued behind the
    /// host's limit are taken out and returned with the evidence, to be refused.
    func failed(_ t: Transfer, reason: String) -> (why: String, refused: [Transfer])? {
        guard let why = breakers.failed(t.origin, reason: reason) else { return nil }
        guard let queue = queues[t.host] else { return (why, []) }
        let refused = queue.filter { $0.origin == t.origin }
        let keep = queue.filter { $0.origin != t.origin }
        queues[t.host] = keep.isEmpty ? nil : keep
        queued -= refused.count
        return (why, refused)
    }

    /// A probe got no answer at all (TLS, DNS...): the origin stays as unhealthy as it was.
    func probeUnanswered(_ origin: String, reason: String) { _ = breakers.failed(origin, reason: reason) }

    /// Whether `origin`'s circuit is open.
    func isOpen(_ origin: String) -> Bool { breakers.isOpen(origin) }

    /// Forgets hosts with nothing in flight or queued and pauses that are over, and idle breakers past `limit`.
    func forgetIdle(limit: Int, now: Date = Date()) {
        notBefore = notBefore.filter { $0.value > now }
        inFlight = inFlight.filter { $0.value > 0 }
        queues = queues.filter { !$0.value.isEmpty }
        breakers.forgetIdle(limit: limit)
    }
}
