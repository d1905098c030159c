import Foundation

/// Per-origin circuit breakers (an origin is scheme, host and port: two servers on one host fail apart). Closed, a
/// breaker counts consecutive failures that may pass on another try (connection errors, timeouts, 5xx); at the
/// threshold it opens, and the origin's samples are dropped as `host_circuit_open`. After a cool-down it is
/// half-open: one sample goes as a probe while the others wait; an answer closes it, a failure opens it again for
/// twice as long (up to `maxCooldown`). Not thread-safe: the fetcher's event loop owns it.
struct CircuitBreakers {
    /// What a sample of an origin may do now.
    enum Admission: Equatable {
        /// Go ahead.
        case pass
        /// Go ahead as the probe of a half-open breaker.
        case probe
        /// Wait: a probe is in flight.
        case wait
        /// Dropped: the breaker is open, for this reason.
        case refuse(String)
    }

    struct State {
        var failures = 0
        var openUntil: Date?
        var reason = ""
        var probing = false
        var cooldown: TimeInterval
        var opened = 0
    }

    let threshold: Int
    let cooldown: TimeInterval
    let maxCooldown: TimeInterval
    private var states: [String: State] = [:]

    init(threshold: Int, cooldown: TimeInterval, maxCooldown: TimeInterval = 600) {
        self.threshold = threshold
        self.cooldown = cooldown
        self.maxCooldown = max(cooldown, maxCooldown)
    }

    /// Whether a sample of `origin` may be requested now.
    mutating func admit(_ origin: String, now: Date = Date()) -> Admission {
        guard var s = states[origin], let until = s.openUntil else { return .pass }
        if now < until { return .refuse(s.reason) }
        if s.probing { return .wait }
        s.probing = true
        states[origin] = s
        return .probe
    }

    /// Whether the breaker of `origin` is open (not yet half-open) now.
    func isOpen(_ origin: String, now: Date = Date()) -> Bool {
        states[origin]?.openUntil.map { now < $0 } ?? false
    }

    /// The origin answered (any HTTP answer, or a failure that says nothing of its health): the count starts again,
    /// and a half-open breaker closes.
    mutating func succeeded(_ origin: String) {
        guard var s = states[origin] else { return }
        s.failures = 0
        s.openUntil = nil
        s.probing = false
        s.cooldown = cooldown
        states[origin] = s
    }

    /// A failure that counts: returns the reason when this one opened (or reopened) the breaker.
    mutating func failed(_ origin: String, reason: String, now: Date = Date()) -> String? {
        var s = states[origin] ?? State(cooldown: cooldown)
        if s.probing {
            // The probe failed: open again, for twice as long.
            s.probing = false
            s.cooldown = min(maxCooldown, s.cooldown * 2)
            s.openUntil = now.addingTimeInterval(s.cooldown)
            s.reason = "the probe after the cool-down failed too: \(reason)"
            s.opened += 1
            states[origin] = s
            return s.reason
        }
        s.failures += 1
        guard s.failures >= threshold, s.openUntil == nil else {
            states[origin] = s
            return nil
        }
        s.openUntil = now.addingTimeInterval(s.cooldown)
        s.reason = "\(threshold) consecutive failures, the last: \(reason)"
        s.opened += 1
        states[origin] = s
        return s.reason
    }

    /// Forgets origins with no failures counted and no breaker open, keeping the rest (at most `limit`).
    mutating func forgetIdle(limit: Int) {
        states = states.filter { $0.value.failures > 0 || $0.value.openUntil != nil || $0.value.opened > 0 }
        if states.count > limit { states = states.filter { $0.value.openUntil != nil } }
    }

    /// One line per origin whose breaker opened during the run: how often, its state at the end, the last reason.
    var reports: [String] {
        states.filter { $0.value.opened > 0 }.sorted { $0.key < $1.key }.map { origin, s in
            let state = s.openUntil == nil ? "closed again after a probe" : "open at the end"
            return "\(origin): opened \(s.opened) time\(s.opened == 1 ? "" : "s"), \(state); \(s.reason)"
        }
    }
}
