import Testing
import WinnowCore

@testable import WinnowFetch

@Suite struct RobotsTxtTests {
    func robots(_ text: String) -> RobotsTxt { RobotsTxt(parsing: Array(text.utf8)) }

    @Test func groupsAndTheDefaultGroup() {
        let r = robots(
            """
            User-agent: CCBot
            User-Agent: GPTBot/1.0
            Disallow: /

            user-agent: *
            disallow: /private/
            allow: /private/public.jpg
            """)
        #expect(r.decision(path: "/img/a.jpg", tokens: ["WinnowBot"]).allowed)
        #expect(!r.decision(path: "/private/x.jpg", tokens: ["WinnowBot"]).allowed)
        #expect(r.decision(path: "/private/public.jpg", tokens: ["WinnowBot"]).allowed)
        // Any obeyed token that is disallowed wins: WinnowBot alone may fetch, WinnowBot + CCBot may not.
        let d = r.decision(path: "/img/a.jpg", tokens: ["WinnowBot", "CCBot"])
        #expect(!d.allowed && d.token == "ccbot" && d.rule?.pattern == "/")
        #expect(!r.decision(path: "/img/a.jpg", tokens: ["gptbot"]).allowed)
    }

    /// RFC 9309 2.2.2: the most specific (longest) match wins; allow wins a tie.
    @Test func longestMatchWins() {
        let r = robots(
            "User-agent: *\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\nDisallow: /example/\n")
        #expect(r.decision(path: "/example/page/ok.gif", tokens: ["a"]).allowed)
        #expect(!r.decision(path: "/example/page/disallowed.gif", tokens: ["a"]).allowed)
        #expect(!r.decision(path: "/example/other.gif", tokens: ["a"]).allowed)
        let tie = robots("User-agent: *\nDisallow: /tie\nAllow: /tie\n")
        #expect(tie.decision(path: "/tie.jpg", tokens: ["a"]).allowed)
    }

    @Test(arguments: [
        ("/*.gif$", "/a/b.gif", true), ("/*.gif$", "/a/b.gif?x", false), ("/fish*", "/fish.html", true),
        ("/fish", "/Fish.asp", false), ("/*/img/", "/a/img/x.jpg", true), ("/x$", "/x", true), ("/x$", "/xy", false),
        ("/p%7Ea", "/p~a", true), ("/caf\u{E9}", "/caf%C3%A9", true),
    ])
    func patterns(pattern: String, path: String, matches: Bool) {
        #expect(RobotsTxt.matches(pattern: RobotsTxt.normalize(pattern), path: RobotsTxt.normalize(path)) == matches)
    }

    @Test func toleratesRealWorldFiles() {
        let r = robots(
            "\u{FEFF}# comment\r\nUser-agent: *   # everyone\r\nDisallow:\r\nSitemap: http://a.test/s.xml\r\nnonsense line\r\n"
        )
        #expect(r.decision(path: "/anything", tokens: ["WinnowBot"]).allowed)
        #expect(!RobotsTxt.disallowAll.decision(path: "/x", tokens: ["a"]).allowed)
        #expect(RobotsTxt.disallowAll.decision(path: "/robots.txt", tokens: ["a"]).allowed)
        #expect(RobotsTxt.allowAll.decision(path: "/x", tokens: ["a"]).allowed)
    }

    /// The same file in every line-ending style RFC 9309 allows (LF, CR, CRLF, any mix), with and without a byte
    /// order mark (whole or partial): every behaviour holds for each.
    static let endings: [(String, [UInt8])] = [
        ("LF", Array("\n".utf8)), ("CRLF", Array("\r\n".utf8)), ("CR", Array("\r".utf8)),
    ]

    static func file(_ lines: [String], ending: (Int) -> [UInt8], bom: [UInt8] = []) -> [UInt8] {
        var out = bom
        for (n, line) in lines.enumerated() { out += Array(line.utf8) + ending(n) }
        return out
    }

    static let sample = [
        "# comment", "User-agent: GPTBot", "Disallow: /private/", "", "User-agent: *", "Disallow: /tmp/  # temporary",
        "Allow: /tmp/ok$", "Disallow: /*.gif$", "Sitemap: http://a.test/s.xml",
    ]

    static func checkSample(_ r: RobotsTxt, _ label: String) {
        #expect(!r.decision(path: "/private/a.jpg", tokens: ["GPTBot"]).allowed, "\(label)")
        #expect(r.decision(path: "/private/a.jpg", tokens: ["WinnowBot"]).allowed, "\(label)")
        #expect(!r.decision(path: "/tmp/a.jpg", tokens: ["WinnowBot"]).allowed, "\(label)")
        #expect(r.decision(path: "/tmp/ok", tokens: ["WinnowBot"]).allowed, "\(label)")
        #expect(!r.decision(path: "/a/b.gif", tokens: ["WinnowBot"]).allowed, "\(label)")
        #expect(r.decision(path: "/a/b.gif?x", tokens: ["WinnowBot"]).allowed, "\(label)")
        let d = r.decision(path: "/tmp/x", tokens: ["WinnowBot"])
        #expect(d.rule == RobotsTxt.Rule(allow: false, pattern: "/tmp/") && d.token == "*", "\(label)")
        #expect(r.groups.count == 2, "\(label)")
    }

    @Test func everyLineEndingAndByteOrderMark() {
        let boms: [(String, [UInt8])] = [("", []), (" BOM", [0xEF, 0xBB, 0xBF]), (" partial BOM", [0xEF, 0xBB])]
        for (name, eol) in RobotsTxtTests.endings {
            for (bomName, bom) in boms {
                let bytes = RobotsTxtTests.file(RobotsTxtTests.sample, ending: { _ in eol }, bom: bom)
                RobotsTxtTests.checkSample(RobotsTxt(parsing: bytes), name + bomName)
            }
        }
        // Every line its own ending, in turn; no ending after the last line.
        for shift in 0..<3 {
            var bytes = RobotsTxtTests.file(
                RobotsTxtTests.sample, ending: { RobotsTxtTests.endings[($0 + shift) % 3].1 }, bom: [0xEF])
            bytes.removeLast(RobotsTxtTests.endings[(RobotsTxtTests.sample.count - 1 + shift) % 3].1.count)
            RobotsTxtTests.checkSample(RobotsTxt(parsing: bytes), "mixed \(shift)")
        }
        // A CR LF pair is one line end: the blank line between groups stays one blank line, and "\n\r" is two.
        let r = robots("User-agent: a\n\rDisallow: /x\r\n\r\nUser-agent: b\r\nDisallow: /y\r\n")
        #expect(!r.decision(path: "/x", tokens: ["a"]).allowed && r.decision(path: "/y", tokens: ["a"]).allowed)
        #expect(!r.decision(path: "/y", tokens: ["b"]).allowed && r.decision(path: "/x", tokens: ["b"]).allowed)
        // A byte order mark anywhere but at the start is not skipped.
        let late = RobotsTxt(parsing: Array("User-agent: *\n".utf8) + [0xEF, 0xBB, 0xBF] + Array("Disallow: /\n".utf8))
        #expect(late.decision(path: "/x", tokens: ["a"]).allowed)
    }

    /// RFC 9309 2.2.1: the product token is ASCII letters, `-` and `_`, matched without regard to case; what
    /// follows it (a version, a comment) is not part of it. Groups naming the same token are combined.
    @Test func productTokens() {
        let r = robots(
            """
            User-agent: Meta-ExternalAgent/1.1 (+https://a.test)
            User-agent: Google_Extended
            User-agent: Foo Bar
            Disallow: /a

            User-agent: bücherbot
            Disallow: /b

            User-agent: GOOGLE_extended
            Disallow: /c
            """)
        #expect(!r.decision(path: "/a", tokens: ["meta-externalagent"]).allowed)
        #expect(!r.decision(path: "/a", tokens: ["Foo"]).allowed)
        #expect(r.decision(path: "/a", tokens: ["Bar"]).allowed)
        #expect(!r.decision(path: "/a", tokens: ["google_extended"]).allowed)
        #expect(!r.decision(path: "/c", tokens: ["Google_Extended"]).allowed)
        #expect(r.decision(path: "/c", tokens: ["Foo"]).allowed)
        // "bücherbot" has the token "b" (letters up to the first non-ASCII byte), not "bücherbot".
        #expect(!r.decision(path: "/b", tokens: ["b"]).allowed)
        #expect(r.groups["bücherbot"] == nil)
        // The default group applies only to tokens without a group of their own.
        #expect(r.decision(path: "/a", tokens: ["other"]).allowed)
    }

    /// Rules before any user-agent line belong to no group; a user-agent line after rules starts a new group;
    /// sitemap and unknown lines end nothing.
    @Test func groupBoundaries() {
        let r = robots(
            """
            Disallow: /orphan
            User-agent: a
            Sitemap: http://a.test/s.xml
            User-agent: b
            Crawl-delay: 5
            Disallow: /ab
            User-agent: c
            Disallow: /c
            """)
        #expect(r.decision(path: "/orphan", tokens: ["a", "b", "c", "d"]).allowed)
        #expect(!r.decision(path: "/ab", tokens: ["a"]).allowed && !r.decision(path: "/ab", tokens: ["b"]).allowed)
        #expect(r.decision(path: "/ab", tokens: ["c"]).allowed && !r.decision(path: "/c", tokens: ["c"]).allowed)
    }

    /// The lenient readings (module README): `key value` without the colon, known misspellings of the two
    /// directives that opt out, white space around the colon, upper-case keys, very long lines read whole.
    @Test func lenientReadings() {
        let r = robots(
            """
            user-agent FooBot
            disallow /nocolon
            Dissallow: /typo
            USER-AGENT   :   FooBot
            DISALLOW	:	/tabs
            Disallow /two words
            """)
        #expect(!r.decision(path: "/nocolon/x", tokens: ["foobot"]).allowed)
        #expect(!r.decision(path: "/typo", tokens: ["foobot"]).allowed)
        #expect(!r.decision(path: "/tabs", tokens: ["foobot"]).allowed)
        #expect(r.decision(path: "/two", tokens: ["foobot"]).allowed)
        let long = "/" + String(repeating: "x", count: 100_000)
        let l = robots("User-agent: *\nDisallow: \(long)\nDisallow: /after\n")
        #expect(!l.decision(path: long + "/y", tokens: ["a"]).allowed)
        #expect(l.decision(path: String(long.dropLast()), tokens: ["a"]).allowed)
        #expect(!l.decision(path: "/after", tokens: ["a"]).allowed)
    }

    /// RFC 9309 2.2.2 and 2.2.3: `*` anywhere, `$` only at the end (elsewhere a literal), matching from the start,
    /// case-sensitive; percent-encoding compared in one normalised form on both sides.
    @Test(arguments: [
        ("/", "/", true), ("/a*", "/a", true), ("*a", "/ba", true), ("/a*b*c", "/aXbYc", true),
        ("/a*b*c", "/acb", false),
        ("/a*b$", "/aXb", true), ("/a*b$", "/aXbX", false), ("/a*b$", "/ab", true), ("/a$b", "/a$b", true),
        ("/a$b", "/a", false), ("/a**b", "/ab", true), ("/*", "/", true), ("$", "/", false), ("/$", "/", true),
        ("/a*a*a*b", "/aaaaaaaab", true), ("/a*a*a*b", "/aab", false), ("/%7ea", "/~a", true), ("/%2F", "/%2f", true),
        ("/%2F", "/", false), ("/a b", "/a%20b", true), ("/\u{E9}", "/%c3%a9", true), ("/A", "/a", false),
        ("/a?b=1", "/a?b=1&c", true), ("/a%3Fb", "/a?b", false),
    ])
    func ruleGrammar(pattern: String, path: String, matches: Bool) {
        #expect(RobotsTxt.matches(pattern: RobotsTxt.normalize(pattern), path: RobotsTxt.normalize(path)) == matches)
    }

    /// RFC 9309's examples of percent-encoding: 2.2.2's table (non-ASCII and unreserved octets, and `:` and `/` in
    /// a query, compare equal encoded or not) and 2.2.3's (a rule matches a `*` or `$` of the URL as that character
    /// only when it percent-encodes it), with the cases each implies does not match.
    @Test(arguments: [
        ("/foo/bar?baz=quz", "/foo/bar?baz=quz", true),
        ("/foo/bar?baz=https://foo.bar", "/foo/bar?baz=https%3A%2F%2Ffoo.bar", true),
        ("/foo/bar?baz=https%3A%2F%2Ffoo.bar", "/foo/bar?baz=https://foo.bar", true),
        ("/foo/bar/\u{30C4}", "/foo/bar/%E3%83%84", true), ("/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84", true),
        ("/foo/bar/%62%61%7A", "/foo/bar/baz", true), ("/path/file-with-a-%2A.html", "/path/file-with-a-*.html", true),
        ("/path/file-with-a-%2A.html", "/path/file-with-a-x.html", false), ("/path/foo-%24", "/path/foo-$", true),
        ("/path/foo-%24", "/path/foo-", false), ("/path/foo-$", "/path/foo-$", false), ("/a$b", "/a$b", true),
        ("/a*", "/a*", true), ("/a%2Fb", "/a/b", false), ("/a?b=%2F%3f", "/a?b=/?", true),
        ("/a?b=%26", "/a?b=&", false),
    ])
    func rfcPercentEncodingExamples(rule: String, path: String, matches: Bool) {
        let r = robots("User-agent: *\nDisallow: \(rule)\n")
        #expect(r.decision(path: path, tokens: ["a"]).allowed == !matches)
    }

    /// The matcher against a backtracking reference on random patterns and paths over a small alphabet, where
    /// `*` and repeated letters make many overlapping candidates.
    @Test func matcherAgreesWithBacktrackingReference() {
        let reference = RobotsTxtTests.reference
        var rng = SplitMix64(seed: 9309)
        let alphabet = Array("/ab*".utf8)
        for _ in 0..<20_000 {
            var p = [UInt8(ascii: "/")] + (0..<rng.int(8)).map { _ in alphabet[rng.int(4)] }
            if rng.int(3) == 0 { p.append(0x24) }
            let s = [UInt8(ascii: "/")] + (0..<rng.int(10)).map { _ in alphabet[rng.int(3)] }
            let pattern = String(decoding: p, as: UTF8.self)
            let path = String(decoding: s, as: UTF8.self)
            #expect(RobotsTxt.matches(pattern: pattern, path: path) == reference(p, s), "\(pattern) \(path)")
        }
    }

    /// A wildcard pattern matched by trying every way (exponential, for small tests only).
    static func reference(_ p: [UInt8], _ s: [UInt8]) -> Bool {
        var pattern = p
        let anchored = pattern.last == 0x24
        if anchored { pattern.removeLast() }
        func go(_ i: Int, _ j: Int) -> Bool {
            if i == pattern.count { return !anchored || j == s.count }
            if pattern[i] == 0x2a { return (j...s.count).contains { go(i + 1, $0) } }
            return j < s.count && s[j] == pattern[i] && go(i + 1, j + 1)
        }
        return go(0, 0)
    }

    /// Large rule sets ask a `PieceIndex` which pieces occur before matching: on random sets of 16 to 60 rules
    /// (pieces that overlap, repeat and nest), the decision is the most specific matching rule by the reference,
    /// and the index's answers are exactly the pieces a substring search finds.
    @Test func indexedRuleSetsAgreeWithTheReference() {
        var rng = SplitMix64(seed: 46)
        let alphabet = Array("/abc*".utf8)
        for _ in 0..<300 {
            let rules = (0..<(16 + rng.int(45))).map { _ in
                var p = [UInt8(ascii: "/")] + (0..<rng.int(9)).map { _ in alphabet[rng.int(5)] }
                if rng.int(4) == 0 { p.append(0x24) }
                return RobotsTxt.Rule(allow: rng.int(2) == 0, pattern: String(decoding: p, as: UTF8.self))
            }
            let set = RuleSet(rules)
            #expect(set.index != nil)
            for _ in 0..<20 {
                let path = [UInt8(ascii: "/")] + (0..<rng.int(14)).map { _ in alphabet[rng.int(4)] }
                let matching = rules.filter { RobotsTxtTests.reference(Array($0.pattern.utf8), path) }
                let longest = matching.map(\.pattern.utf8.count).max()
                let expected = matching.filter { $0.pattern.utf8.count == longest }.sorted { $0.allow && !$1.allow }
                    .first
                let got = set.bestMatch(path, present: ByteSet(path))
                #expect(got?.pattern.utf8.count == expected?.pattern.utf8.count && got?.allow == expected?.allow)
            }
        }
        let pieces = ["a", "ab", "bab", "b", "abc", "cab", "aaa", "bcb"].map { Array($0.utf8) }
        let index = PieceIndex(pieces)
        for _ in 0..<2_000 {
            let path = (0..<rng.int(12)).map { _ in Array("abc".utf8)[rng.int(3)] }
            let found = pieces.map { p in
                path.count >= p.count
                    && (0...(path.count - p.count)).contains { path[$0..<($0 + p.count)].elementsEqual(p) }
            }
            #expect(index.occurring(in: path) == found, "\(String(decoding: path, as: UTF8.self))")
        }
    }

    /// The hostile file of the issue: 2,000 rules like `/*aaaa...b` for the 12 default tokens against long paths.
    /// Backtracking cost seconds; the compiled rules are shared by the tokens of the one group and matched in linear
    /// time. (Timed in winnow-bench `robots-hostile`; here the decisions must be right.)
    @Test func hostileFileDecidesCorrectly() {
        let r = RobotsTxtTests.hostile()
        #expect(r.groups.count == 12 && r.groups["gptbot"]?.count == 2_000)
        let tokens = FetchSettings().robotsTokens
        for path in RobotsTxtTests.hostilePaths { #expect(r.decision(path: path, tokens: tokens).allowed) }
        let hit = "/" + String(repeating: "a", count: 1_000) + String(repeating: "a", count: 236) + "b1999"
        let d = r.decision(path: hit, tokens: tokens)
        #expect(!d.allowed && d.rule?.pattern.hasSuffix("b1999") == true && d.token == "winnowbot")
    }

    /// A robots.txt as the issue describes it: every default token in one group, 2,000 rules of 236 `a`s and a
    /// distinct tail, 508 KB (just under the 500 KiB read).
    static func hostile() -> RobotsTxt {
        var text = FetchSettings().robotsTokens.map { "User-agent: \($0)\n" }.joined()
        for k in 0..<2_000 { text += "Disallow: /*" + String(repeating: "a", count: 236) + "b\(k)\n" }
        precondition(text.utf8.count < RobotsTxt.maxBytes)
        return RobotsTxt(parsing: Array(text.utf8))
    }

    /// Paths of about 1,960 bytes that no hostile rule matches: one without the rules' last letter (ruled out by the
    /// byte set), one where every rule's long piece must be searched for.
    static let hostilePaths = [
        "/" + String(repeating: "a", count: 1_958) + "c",
        "/" + String(repeating: String(repeating: "a", count: 235) + "b", count: 8) + "0123456789"
            + String(repeating: "a", count: 60),
    ]

    /// A line cut by the 500 KiB limit: a disallow is read as far as it goes (a shorter pattern disallows more),
    /// an allow is dropped (a shorter one would allow more than the site said).
    @Test func lineCutByTheSizeLimit() {
        // Files whose last line, `start + tail`, is cut after `start`.
        func cut(_ rules: String, _ start: String, _ tail: String) -> RobotsTxt {
            let fill = RobotsTxt.maxBytes - rules.utf8.count - start.utf8.count - 1
            return RobotsTxt(
                parsing: Array((rules + String(repeating: "#", count: fill) + "\n" + start + tail + "\n").utf8))
        }
        #expect(
            cut("User-agent: *\n", "Disallow: /private", "/secret").groups["*"] == [
                .init(allow: false, pattern: "/private")
            ])
        #expect(
            cut("User-agent: *\nDisallow: /\n", "Allow: /o", "k").groups["*"] == [.init(allow: false, pattern: "/")])
        // A file that ends at the limit with a whole line is read whole.
        #expect(cut("User-agent: *\nDisallow: /\n", "Allow: /ok", "").groups["*"]?.count == 2)
    }
}
