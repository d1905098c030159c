import Foundation

/// One rule of a W3C TDMRep `/.well-known/tdmrep.json`: a location pattern, its reservation and policy.
struct TDMRepRule: Sendable, Equatable {
    /// The path pattern (`*` wildcards, as in robots.txt).
    var location: String
    /// `tdm-reservation: 1`: text and data mining rights are reserved.
    var reservation: Bool
    /// `tdm-policy`: where the rights holder's licensing terms are.
    var policy: String?
    /// The location compiled once (TDMRep locations are path prefixes with `*` wildcards, as in robots.txt).
    let pattern: Pattern

    init(location: String, reservation: Bool, policy: String?) {
        self.location = location
        self.reservation = reservation
        self.policy = policy
        var p = location.hasPrefix("/") ? location : "/" + location
        if p.hasSuffix("/*") { p.removeLast() }
        pattern = Pattern(RobotsTxt.normalize(Array(p.utf8)))
    }

    /// The rules of a tdmrep.json (an array of objects); nothing if it is not one.
    static func parse(_ bytes: [UInt8]) -> [TDMRepRule] {
        guard
            let array = try? JSONSerialization.jsonObject(with: Data(bytes.prefix(RobotsTxt.maxBytes)))
                as? [[String: Any]]
        else { return [] }
        return array.compactMap { o in
            guard let location = o["location"] as? String else { return nil }
            let r = o["tdm-reservation"]
            let reserved = (r as? Int) == 1 || (r as? String) == "1"
            return TDMRepRule(location: location, reservation: reserved, policy: o["tdm-policy"] as? String)
        }
    }

    /// Whether the rule's location covers `path`.
    func matches(_ path: String) -> Bool {
        let target = RobotsTxt.normalize(Array(path.utf8))
        return pattern.matches(target, present: ByteSet(target))
    }
}
