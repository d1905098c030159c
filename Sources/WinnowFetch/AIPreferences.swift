import WinnowCore

extension UsagePurpose {
    /// The Content Signals (Cloudflare's robots.txt `Content-Signal`) label that says the same.
    var contentSignal: String {
        switch self {
        case .trainAI: "ai-train"
        case .aiUse: "ai-input"
        case .search: "search"
        }
    }
}

/// A stated preference for one purpose.
public enum UsagePreference: Sendable, Equatable {
    case allowed, disallowed, unknown

    /// Several statements for one purpose (header, robots.txt rules, ...): any `n` disallows, else any `y` allows
    /// (draft-ietf-aipref-vocab-08 section 5.1: the most restrictive wins).
    public static func combined(_ ps: [UsagePreference]) -> UsagePreference {
        if ps.contains(.disallowed) { return .disallowed }
        return ps.contains(.allowed) ? .allowed : .unknown
    }
}

/// Reads AI usage preferences: the IETF `Content-Usage` value (an RFC 9651 Dictionary whose members are usage
/// categories with the tokens `y` or `n`, as the header field and the robots.txt rule carry it) and Cloudflare's
/// `Content-Signal` value (the same syntax, with `yes` or `no`).
public enum AIPreferences {
    /// The preference `value` (a `Content-Usage` field or rule value) states for `purpose`, and whether the value
    /// parsed. An invalid value states nothing (every category unknown, vocab section 6.5); a member whose value is
    /// not the token y or n states nothing; parameters and unknown categories are ignored.
    public static func contentUsage(_ value: String, purpose: UsagePurpose) -> (UsagePreference, valid: Bool) {
        preference(value, label: purpose.rawValue, yes: "y", no: "n")
    }

    /// The preference a `Content-Signal` value states for `purpose` (`ai-train=no` for training), and whether it
    /// parsed.
    public static func contentSignal(_ value: String, purpose: UsagePurpose) -> (UsagePreference, valid: Bool) {
        preference(value, label: purpose.contentSignal, yes: "yes", no: "no")
    }

    static func preference(_ value: String, label: String, yes: String, no: String) -> (UsagePreference, valid: Bool) {
        guard let d = StructuredField.dictionary(value) else { return (.unknown, false) }
        guard let member = d.first(where: { $0.key == label })?.member,
            case .item(let item) = member, case .token(let t) = item.value
        else { return (.unknown, true) }
        return (t == no ? .disallowed : t == yes ? .allowed : .unknown, true)
    }
}
