internal import CCurl
import Foundation
import WinnowCore

/// A parsed robots.txt (RFC 9309): groups of user-agent lines with allow and disallow rules, compiled once so that a
/// decision costs time linear in the path and the rules, whatever the file holds.
///
/// Read from bytes: lines end at LF, CR or CRLF in any mix; a leading UTF-8 byte order mark, whole or partial, is
/// skipped; `#` starts a comment. The lenient readings real files need are in the module README.
public struct RobotsTxt: Sendable, Equatable {
    /// One rule: `allow` or not, and its path pattern (`*` wildcards, `$` end anchor).
    public struct Rule: Sendable, Equatable {
        /// Allow (true) or disallow (false).
        public var allow: Bool
        /// The pattern, percent-encoding normalised.
        public var pattern: String
    }

    /// A usage preference line of a group: IETF AI Preferences' `Content-Usage: [path] preferences`
    /// (draft-ietf-aipref-attach section 3) or Cloudflare's `Content-Signal: [path] preferences`.
    public struct UsageRule: Sendable, Equatable {
        public enum Kind: String, Sendable { case contentUsage = "Content-Usage", contentSignal = "Content-Signal" }
        public var kind: Kind
        /// The path pattern it is scoped to (normalised as Allow/Disallow patterns are), nil for the whole site.
        public var path: String?
        /// The preference list as written.
        public var value: String

        /// The line as the site wrote it, for evidence.
        public var line: String { "\(kind.rawValue): " + (path.map { $0 + " " } ?? "") + value }
    }

    /// Rules by lower-cased user-agent token (`*` for the default group). Groups naming the same token are merged
    /// (RFC 9309 2.2.1).
    public private(set) var groups: [String: [Rule]] = [:]
    /// Usage preference lines by lower-cased user-agent token, merged like `groups`.
    public private(set) var usage: [String: [UsageRule]] = [:]
    /// The compiled rules each token obeys; tokens of the same groups share one `RuleSet`, evaluated once.
    private var ruleSets: [String: RuleSet] = [:]

    /// RFC 9309 asks crawlers to parse at least 500 KiB; more is ignored.
    public static let maxBytes = 500 * 1024

    /// A robots.txt that allows everything (what a 4xx answer means).
    public static let allowAll = RobotsTxt()
    /// A robots.txt that disallows everything (what a 5xx answer or an unreachable server means).
    public static let disallowAll = RobotsTxt(parsing: Array("User-agent: *\nDisallow: /\n".utf8))

    /// An empty robots.txt.
    public init() {}

    /// Parses robots.txt bytes (the first `maxBytes` of them), tolerant of what real servers send.
    public init(parsing bytes: [UInt8]) {
        var groupRules: [[Rule]] = []
        var groupUsage: [[UsageRule]] = []
        // The groups each token belongs to, in file order.
        var membership: [String: [Int]] = [:]
        var current: [String] = []
        var inRules = false
        let text = bytes.prefix(RobotsTxt.maxBytes)
        // The last line is cut when the file goes on past the limit with more of it.
        let next = bytes.count > RobotsTxt.maxBytes ? bytes[RobotsTxt.maxBytes] : 0x0a
        let cut = next != 0x0a && next != 0x0d
        RobotsTxt.forEachLine(text) { line in
            guard let (directive, value) = RobotsTxt.directive(line) else { return }
            // A cut disallow disallows more than the site wrote; a cut allow would allow more: dropped.
            if cut && directive == .allow && line.endIndex == text.endIndex { return }
            switch directive {
            case .userAgent:
                // A user-agent line after rules starts a new group.
                if inRules || groupRules.isEmpty {
                    groupRules.append([])
                    groupUsage.append([])
                    current = []
                    inRules = false
                }
                guard let token = RobotsTxt.productToken(value), !current.contains(token) else { return }
                current.append(token)
                membership[token, default: []].append(groupRules.count - 1)
            case .allow, .disallow:
                // Rules before any user-agent line belong to no group.
                guard !groupRules.isEmpty else { return }
                inRules = true
                // An empty disallow allows everything; an empty allow means nothing.
                if value.isEmpty { return }
                let pattern = RobotsTxt.normalize(value, as: .rule)
                groupRules[groupRules.count - 1].append(
                    Rule(allow: directive == .allow, pattern: String(decoding: pattern, as: UTF8.self)))
            case .contentUsage, .contentSignal:
                guard !groupRules.isEmpty, !value.isEmpty else { return }
                inRules = true
                // An optional path first (it starts with "/"), up to white space; then the preference list.
                var path: String?
                var list = value
                if value.first == 0x2f {
                    let end = value.firstIndex(where: RobotsTxt.isSpace) ?? value.endIndex
                    path = String(
                        decoding: RobotsTxt.normalize(value[value.startIndex..<end], as: .rule), as: UTF8.self)
                    list = RobotsTxt.trim(value[end...])
                }
                groupUsage[groupUsage.count - 1].append(
                    UsageRule(
                        kind: directive == .contentUsage ? .contentUsage : .contentSignal, path: path,
                        value: String(decoding: list, as: UTF8.self)))
            case .other:
                // Sitemap, crawl-delay and unknown records end nothing and add nothing here.
                return
            }
        }
        var shared: [[Int]: RuleSet] = [:]
        for (token, indices) in membership {
            let rules = indices.flatMap { groupRules[$0] }
            groups[token] = rules
            let preferences = indices.flatMap { groupUsage[$0] }
            if !preferences.isEmpty { usage[token] = preferences }
            if let set = shared[indices] {
                ruleSets[token] = set
            } else {
                let set = RuleSet(rules)
                shared[indices] = set
                ruleSets[token] = set
            }
        }
    }

    /// Two files are equal when their groups are (the compiled form follows from them).
    public static func == (a: RobotsTxt, b: RobotsTxt) -> Bool { a.groups == b.groups && a.usage == b.usage }

    /// The usage preference lines that disallow `purpose` for `path`, as `decision` reads groups: each of `tokens`
    /// obeys its own group, else the `*` group, and any group that disallows wins (with its token). Within a group,
    /// of each kind, the lines with the longest matching path apply (a line without one matches every path,
    /// shortest); lines of equal length combine to the most restrictive. Nil when nothing disallows (unknown counts
    /// as not disallowed). Only meaningful for a path robots.txt allows.
    public func usageDenial(path: String, tokens: [String], purpose: UsagePurpose) -> (
        rules: [UsageRule], token: String
    )? {
        if usage.isEmpty { return nil }
        let target = String(
            decoding: RobotsTxt.normalize(path.isEmpty ? Array("/".utf8) : Array(path.utf8), as: .target), as: UTF8.self
        )
        var evaluated: Set<String> = []
        for t in tokens {
            let token = t.lowercased()
            let agent = groups[token] != nil ? token : "*"
            guard evaluated.insert(agent).inserted, let lines = usage[agent] else { continue }
            let denied = RobotsTxt.denied(lines, target: target, purpose: purpose)
            if !denied.isEmpty { return (denied, agent) }
        }
        return nil
    }

    /// The lines of one group that disallow `purpose` for the normalised `target`.
    private static func denied(_ lines: [UsageRule], target: String, purpose: UsagePurpose) -> [UsageRule] {
        func preference(_ r: UsageRule) -> UsagePreference {
            r.kind == .contentUsage
                ? AIPreferences.contentUsage(r.value, purpose: purpose).0
                : AIPreferences.contentSignal(r.value, purpose: purpose).0
        }
        var denied: [UsageRule] = []
        for kind in [UsageRule.Kind.contentUsage, .contentSignal] {
            var best = -1
            var matching: [UsageRule] = []
            for r in lines where r.kind == kind {
                let length: Int
                if let p = r.path {
                    guard RobotsTxt.matches(pattern: p, path: target) else { continue }
                    length = p.utf8.count
                } else {
                    length = 0
                }
                if length > best {
                    best = length
                    matching = [r]
                } else if length == best {
                    matching.append(r)
                }
            }
            if UsagePreference.combined(matching.map(preference)) == .disallowed {
                denied += matching.filter { preference($0) == .disallowed }
            }
        }
        return denied
    }

    /// The decision for `path` (path and query of the URL) for a crawler obeying `tokens`: the rules of each token's
    /// own group (or of `*` when a token has none); disallowed if any token's rules disallow it.
    public func decision(path: String, tokens: [String]) -> (allowed: Bool, rule: Rule?, token: String?) {
        if ruleSets.isEmpty { return (true, nil, nil) }
        let target = RobotsTxt.normalize(path.isEmpty ? Array("/".utf8) : Array(path.utf8), as: .target)
        // robots.txt itself is always allowed.
        if target.elementsEqual("/robots.txt".utf8) { return (true, nil, nil) }
        let present = ByteSet(target)
        var evaluated: [ObjectIdentifier] = []
        for t in tokens {
            let token = t.lowercased()
            let agent: String
            let set: RuleSet
            if let own = ruleSets[token] {
                agent = token
                set = own
            } else if let fallback = ruleSets["*"] {
                agent = "*"
                set = fallback
            } else {
                continue
            }
            let id = ObjectIdentifier(set)
            if evaluated.contains(id) { continue }
            evaluated.append(id)
            if let rule = set.bestMatch(target, present: present), !rule.allow { return (false, rule, agent) }
        }
        return (true, nil, nil)
    }

    /// Whether a normalised pattern (`*` matches any run, a final `$` anchors the end) matches the start of a
    /// normalised path.
    static func matches(pattern: String, path: String) -> Bool {
        let p = Pattern(Array(pattern.utf8))
        let s = Array(path.utf8)
        return p.matches(s, present: ByteSet(s))
    }

    /// Percent-encoding normalised so that `%7E`, `%7e` and `~` compare equal: unreserved characters decoded, the rest
    /// upper-case hex; bytes outside printable ASCII percent-encoded.
    static func normalize(_ s: String, as form: Form = .plain) -> String {
        String(decoding: normalize(Array(s.utf8), as: form), as: UTF8.self)
    }

    /// What a normalised string is. A rule and the path it is matched against differ in what `*` and `$` are, and
    /// both take RFC 9309's readings of percent-encoding (2.2.2, 2.2.3); `plain` is the encoding alone.
    enum Form {
        /// Percent-encoding alone, the same on both sides (TDMRep locations).
        case plain
        /// A rule: `*` is a wildcard and a final `$` the end; a `$` elsewhere is the character, `%24`.
        case rule
        /// The path and query of a URL: `*` and `$` are characters, `%2A` and `%24`, so that a rule matches them
        /// literally only when it percent-encodes them (RFC 9309 2.2.3).
        case target
    }

    static func normalize<C: Collection<UInt8>>(_ b: C, as form: Form = .plain) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        let hex = Array("0123456789ABCDEF".utf8)
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        func unreserved(_ c: UInt8) -> Bool {
            (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2e
                || c == 0x5f || c == 0x7e
        }
        // In the query, `:`, `/`, `?` and `@` are data and mean the same encoded or not: RFC 9309 2.2.2 matches the
        // rule `/foo/bar?baz=https://foo.bar` to `/foo/bar?baz=https%3A%2F%2Ffoo.bar`.
        func sameInQuery(_ c: UInt8) -> Bool { c == 0x3a || c == 0x2f || c == 0x3f || c == 0x40 }
        var inQuery = false
        var i = b.startIndex
        while i != b.endIndex {
            let c = b[i]
            let j = b.index(after: i)
            if c == 0x25, j != b.endIndex, b.index(after: j) != b.endIndex, let hi = hexValue(b[j]),
                let lo = hexValue(b[b.index(after: j)])
            {
                let v = hi << 4 | lo
                if unreserved(v) || (inQuery && sameInQuery(v)) {
                    out.append(v)
                } else {
                    out += [0x25, hex[Int(hi)], hex[Int(lo)]]
                }
                i = b.index(j, offsetBy: 2)
                continue
            }
            if form != .plain && c == 0x3f { inQuery = true }
            let literal: Bool
            switch form {
            case .plain: literal = true
            case .rule: literal = c != 0x24 || j == b.endIndex
            case .target: literal = c != 0x2a && c != 0x24
            }
            if c >= 0x7f || c <= 0x20 || !literal {
                out += [0x25, hex[Int(c >> 4)], hex[Int(c & 15)]]
            } else {
                out.append(c)
            }
            i = j
        }
        return out
    }
}

// MARK: Reading lines

extension RobotsTxt {
    /// The records a line can hold.
    enum Directive { case userAgent, allow, disallow, contentUsage, contentSignal, other }

    /// Calls `body` with each line of `bytes` (without its end and without a comment), after a leading byte order
    /// mark. Lines end at LF, CR or CRLF (RFC 9309 2.2: EOL = %x0D / %x0A / %x0D.0A).
    static func forEachLine(_ bytes: ArraySlice<UInt8>, _ body: (ArraySlice<UInt8>) -> Void) {
        TextLines.forEach(TextLines.droppingByteOrderMark(bytes)) { line, _ in
            body(line.firstIndex(of: 0x23).map { line[line.startIndex..<$0] } ?? line)
        }
    }

    /// The directive and value of a line: `key: value`, or (lenient, as Google's parser) `key value` without the
    /// colon when the key is one of ours and the value one word. Known misspellings of `user-agent` and `disallow`
    /// count as what they evidently mean. Nil for a line that holds no record.
    static func directive(_ line: ArraySlice<UInt8>) -> (Directive, ArraySlice<UInt8>)? {
        let trimmed = trim(line)
        guard !trimmed.isEmpty else { return nil }
        var key: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = trimmed.firstIndex(of: 0x3a) {
            key = trim(trimmed[trimmed.startIndex..<colon])
            value = trim(trimmed[(colon + 1)...])
        } else {
            // "user-agent FooBot": a key, white space, and one word.
            guard let space = trimmed.firstIndex(where: isSpace) else { return nil }
            key = trimmed[trimmed.startIndex..<space]
            value = trim(trimmed[space...])
            guard !value.contains(where: isSpace) else { return nil }
        }
        let lower = String(decoding: key.map { $0 | (($0 >= 0x41 && $0 <= 0x5a) ? 0x20 : 0) }, as: UTF8.self)
        let directive: Directive
        switch lower {
        case "user-agent", "useragent", "user agent", "user_agent": directive = .userAgent
        case "allow": directive = .allow
        case "disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw": directive = .disallow
        case "content-usage": directive = .contentUsage
        case "content-signal": directive = .contentSignal
        default: directive = .other
        }
        if directive == .other && !trimmed.contains(0x3a) { return nil }
        return (directive, value)
    }

    /// The product token of a user-agent value (RFC 9309 2.2.1: ASCII letters, `-` and `_`), lower-cased: what
    /// precedes a version or comment (`GPTBot/1.0`, `Foo Bar`). `*` is the default group. Nil when none.
    static func productToken(_ value: ArraySlice<UInt8>) -> String? {
        if value.first == 0x2a && (value.count == 1 || isSpace(value[value.startIndex + 1])) { return "*" }
        let token = value.prefix {
            ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f
        }
        guard !token.isEmpty else { return nil }
        return String(decoding: token.map { $0 | (($0 >= 0x41 && $0 <= 0x5a) ? 0x20 : 0) }, as: UTF8.self)
    }

    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    static func trim(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lo = s.startIndex
        var hi = s.endIndex
        while lo < hi && isSpace(s[lo]) { lo += 1 }
        while hi > lo && isSpace(s[hi - 1]) { hi -= 1 }
        return s[lo..<hi]
    }
}

// MARK: Matching

/// Which byte values occur in a string: a rule whose literal bytes are not all in the path cannot match it.
struct ByteSet: Sendable, Equatable {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init<C: Sequence<UInt8>>(_ bytes: C) {
        for b in bytes {
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: words.0 |= bit
            case 1: words.1 |= bit
            case 2: words.2 |= bit
            default: words.3 |= bit
            }
        }
    }

    func isSubset(of other: ByteSet) -> Bool {
        words.0 & ~other.words.0 == 0 && words.1 & ~other.words.1 == 0 && words.2 & ~other.words.2 == 0
            && words.3 & ~other.words.3 == 0
    }

    static func == (a: ByteSet, b: ByteSet) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }
}

/// A compiled path pattern: the literal pieces between `*`s, and whether a final `$` anchors it. Matching takes
/// each piece at its leftmost place after the previous one, which is exact for `*`-only patterns and never
/// backtracks: time linear in the path and the pattern.
struct Pattern: Sendable, Equatable {
    /// The literal pieces; the first must start the path, the rest follow in order.
    let pieces: [[UInt8]]
    /// A `$` ended the pattern: the last piece must end the path.
    let anchored: Bool
    /// The pattern's length in bytes, `*` and `$` included: RFC 9309's measure of the most specific match.
    let length: Int
    /// Bytes the path needs for a match, and how many.
    let needs: ByteSet
    let minimumLength: Int

    init(_ pattern: [UInt8]) {
        length = pattern.count
        var body = pattern[...]
        anchored = body.last == 0x24
        if anchored { body = body.dropLast() }
        pieces = body.split(separator: 0x2a, omittingEmptySubsequences: false).map(Array.init)
        needs = ByteSet(body.lazy.filter { $0 != 0x2a })
        minimumLength = pieces.reduce(0) { $0 + $1.count }
    }

    /// Whether the pattern matches the start of `path` (whose byte set is `present`).
    func matches(_ path: [UInt8], present: ByteSet) -> Bool {
        guard path.count >= minimumLength, needs.isSubset(of: present) else { return false }
        return path.withUnsafeBufferPointer { s in
            let first = pieces[0]
            guard s.starts(with: first) else { return false }
            var at = first.count
            let last = pieces.count - 1
            if last == 0 { return !anchored || at == s.count }
            for k in 1..<last {
                let piece = pieces[k]
                if piece.isEmpty { continue }
                guard let found = Pattern.find(piece, in: s, from: at) else { return false }
                at = found + piece.count
            }
            let tail = pieces[last]
            if anchored {
                // The last piece ends the path, after everything before it.
                return s.count - tail.count >= at && s[(s.count - tail.count)...].elementsEqual(tail)
            }
            return tail.isEmpty || Pattern.find(tail, in: s, from: at) != nil
        }
    }

    /// The first place of `needle` in `haystack` at or after `from` (glibc's memmem: linear time).
    /// The corresponding C function is `memmem`.
    static func find(_ needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard let base = haystack.baseAddress, haystack.count - from >= needle.count else { return nil }
        return needle.withUnsafeBytes { n -> Int? in
            guard let p = winnow_memmem(base + from, haystack.count - from, n.baseAddress, n.count) else { return nil }
            return base.distance(to: p.assumingMemoryBound(to: UInt8.self))
        }
    }
}

/// A token's rules compiled, most specific first, so that the first match found is the decision.
final class RuleSet: Sendable {
    let rules: [RobotsTxt.Rule]
    let patterns: [Pattern]
    /// For a large set: the pieces after each pattern's first, indexed for one pass over the path, and each
    /// pattern's piece ids in it.
    let index: PieceIndex?
    let pieceIDs: [[Int32]]

    /// Sets of at least this many rules get a `PieceIndex`; below it, a search per rule is cheaper than the pass.
    static let indexedFrom = 16

    init(_ all: [RobotsTxt.Rule]) {
        // Longest pattern first; on equal length, allow first (RFC 9309 2.2.2: the least restrictive wins a tie).
        let sorted = all.map { ($0, Pattern(Array($0.pattern.utf8))) }.sorted {
            $0.1.length != $1.1.length ? $0.1.length > $1.1.length : ($0.0.allow && !$1.0.allow)
        }
        rules = sorted.map(\.0)
        patterns = sorted.map(\.1)
        guard patterns.count >= RuleSet.indexedFrom else {
            index = nil
            pieceIDs = []
            return
        }
        var ids: [[UInt8]: Int32] = [:]
        var pieces: [[UInt8]] = []
        pieceIDs = patterns.map { p in
            p.pieces.dropFirst().filter { !$0.isEmpty }.map { piece in
                if let id = ids[piece] { return id }
                let id = Int32(pieces.count)
                ids[piece] = id
                pieces.append(piece)
                return id
            }
        }
        index = PieceIndex(pieces)
    }

    /// The most specific rule matching `path`, if any.
    func bestMatch(_ path: [UInt8], present: ByteSet) -> RobotsTxt.Rule? {
        guard let index else {
            for (k, p) in patterns.enumerated() where p.matches(path, present: present) { return rules[k] }
            return nil
        }
        // A rule one of whose later pieces occurs nowhere in the path cannot match it.
        let seen = index.occurring(in: path)
        for (k, p) in patterns.enumerated()
        where pieceIDs[k].allSatisfy({ seen[Int($0)] }) && p.matches(path, present: present) {
            return rules[k]
        }
        return nil
    }
}
