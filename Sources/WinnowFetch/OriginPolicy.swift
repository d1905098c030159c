import WinnowCore

/// The opt-out documents of one origin (`scheme://host[:port]`) and the decision they give for a URL's path: a
/// pure function of what was fetched, the run's tokens and its purpose, with the evidence (which document, which
/// line, which rule won). Every document-level signal goes through here; any that says no wins (the most
/// restrictive), reported in this order: a document that could not be fetched (complete disallow, RFC 9309),
/// robots.txt Disallow, robots.txt usage preferences (Content-Usage, Content-Signal), TDMRep, ai.txt.
public struct OriginPolicy: Sendable, Equatable {
    public var origin: String
    public var robots: RobotsTxt = .allowAll
    var tdm: [TDMRepRule] = []
    public var aiTxt: RobotsTxt?
    /// Why the origin's documents could not be read (`robots_unreachable`): everything is refused while it holds.
    public var failure: Reason?

    public init(origin: String, robots: RobotsTxt = .allowAll, aiTxt: RobotsTxt? = nil, failure: Reason? = nil) {
        self.origin = origin
        self.robots = robots
        self.aiTxt = aiTxt
        self.failure = failure
    }

    /// With TDMRep rules (from `/.well-known/tdmrep.json`).
    init(origin: String, robots: RobotsTxt, tdm: [TDMRepRule], aiTxt: RobotsTxt?, failure: Reason?) {
        self.init(origin: origin, robots: robots, aiTxt: aiTxt, failure: failure)
        self.tdm = tdm
    }

    /// Parses a TDMRep document (`/.well-known/tdmrep.json`) into the policy.
    public mutating func setTDMRep(_ bytes: [UInt8]) { tdm = TDMRepRule.parse(bytes) }

    /// Why `path` (path and query) may not be fetched, or nil when every document allows it. `prefix` goes before
    /// the evidence (a redirect hop), `suffix` after it (a cached document's age).
    public func refusal(
        path: String, tokens: [String], purpose: UsagePurpose, prefix: String = "", suffix: String = ""
    ) -> Reason? {
        if let f = failure { return f }
        let d = robots.decision(path: path, tokens: tokens)
        if !d.allowed {
            let rule = d.rule.map { "\($0.allow ? "Allow" : "Disallow"): \($0.pattern)" } ?? "disallowed"
            return Reason(.robotsTxt, "\(prefix)\(origin)/robots.txt: \(rule) (user-agent \(d.token ?? "*"))\(suffix)")
        }
        if let u = robots.usageDenial(path: path, tokens: tokens, purpose: purpose) {
            return Reason(
                u.rules[0].kind == .contentUsage ? .robotsContentUsage : .contentSignal,
                "\(prefix)\(origin)/robots.txt: \(u.rules.map(\.line).joined(separator: "; ")) (user-agent \(u.token), purpose \(purpose.rawValue))\(suffix)"
            )
        }
        if let rule = tdm.first(where: { $0.matches(path) }), rule.reservation {
            let policy = rule.policy.map { ", tdm-policy \($0)" } ?? ""
            return Reason(
                .tdmrep,
                "\(prefix)\(origin)\(PolicyDocument.tdmrep.path): location \(rule.location), tdm-reservation 1\(policy)\(suffix)"
            )
        }
        if let ai = aiTxt {
            let a = ai.decision(path: path, tokens: tokens)
            if !a.allowed {
                return Reason(
                    .aiTxt,
                    "\(prefix)\(origin)/ai.txt: Disallow: \(a.rule?.pattern ?? "") (user-agent \(a.token ?? "*"))\(suffix)"
                )
            }
        }
        return nil
    }

    /// The origin a URL's opt-outs are asked at, or why it has none: fails closed, so that no URL is fetched
    /// without its origin's documents being asked (a scheme other than http(s), or no host, is refused).
    public static func origin(of url: WebURL) -> (origin: String?, refusal: Reason?) {
        guard url.scheme == "http" || url.scheme == "https" else {
            return (nil, Reason(.badScheme, "\(url.scheme): is not http or https"))
        }
        guard !url.host.isEmpty else { return (nil, Reason(.urlInvalid, "\(url.href): no host")) }
        return (url.scheme + "://" + url.host + (url.port.map { ":\($0)" } ?? ""), nil)
    }
}
