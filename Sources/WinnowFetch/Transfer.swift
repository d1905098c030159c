import Foundation
import WinnowCore

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
