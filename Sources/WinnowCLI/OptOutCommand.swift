import Foundation
import WinnowCore
import WinnowEmbed
import WinnowImage
import WinnowOptOut
import WinnowPipeline
import WinnowShards

enum OptOutCommand {
    static let command = WinnowCLI.Command(
        name: "optout", summary: "file, list, show and apply opt-out and removal requests",
        about: """
            Usage: winnow optout file DIR WHAT... --reason TEXT --requester TEXT [--registry FILE] [--dry-run] [--json]
                   winnow optout list [--registry FILE] [--json]
                   winnow optout show ID [--registry FILE] [--json]
                   winnow optout apply DIR [--registry FILE] [--dry-run]

            WHAT names what is to be removed: --url, --url-prefix, --domain, --image, --md5, --sha1, --sha256,
            --hash-list or --key (each may repeat; one request can name several).

            'file' records the request in the registry (future runs never fetch or keep what it names) and prints its
            id and the samples of DIR it matches, with how they matched; --dry-run only prints them. 'apply' removes
            every sample of DIR that any request matches: affected shards are rewritten (others are not touched),
            the index marks the samples removed with the request id, their embedding rows are dropped, and
            DIR/optout-audit.jsonl gets one line saying who asked, what matched and the shard checksums before and
            after. Apply is idempotent and can be killed and rerun at any point.

            The registry is --registry FILE, else $WINNOW_OPTOUT_REGISTRY, else ~/.local/share/winnow/optout.sqlite.
            """,
        subcommands: [
            .init(name: "file", options: fileOptions), .init(name: "list", options: [registryOption, jsonOption]),
            .init(name: "show", options: [registryOption, jsonOption]),
            .init(name: "apply", options: [registryOption, .flag("dry-run", "only print the samples that match")]),
        ],
        run: run)

    static let registryOption = Option.value("registry", "FILE", "the registry (default: see above)")
    static let jsonOption = Option.flag("json", "print JSON Lines instead of a table")

    /// The options of `optout file`: WHAT, how images match, and who asks why.
    static let fileOptions: [Option] = [
        .value("url", "U", "one image URL"),
        .value("url-prefix", "P", "every URL starting with P"),
        .value("domain", "D", "a host and its subdomains"),
        .value(
            "image", "FILE",
            "an image: its exact bytes (SHA-256) and its look (PDQ within --pdq-threshold); with --clip-threshold "
                + "also the samples of DIR whose CLIP image embedding is that similar to it"),
        .value("md5", "HEX", "the MD5 of an image's bytes"),
        .value("sha1", "HEX", "the SHA-1 of an image's bytes"),
        .value("sha256", "HEX", "the SHA-256 of an image's bytes"),
        .value("hash-list", "FILE", "one hex MD5, SHA-1 or SHA-256 per line"),
        .value("hash-of", "images|urls", "what the hashes of --hash-list are of (default images)"),
        .value("key", "K", "one sample (its url + caption) of DIR"),
        .value(
            "pdq-threshold", "N", "the PDQ distance in bits (at most 31) within which an --image matches (default 31)"),
        .value(
            "clip-threshold", "T",
            "with --image: also every sample of DIR whose CLIP image embedding has cosine >= T with it"),
        .value("model", "DIR", "the CLIP model for --clip-threshold (default: the one DIR was embedded with)"),
        .value("reason", "TEXT", "why the owner asks (required)"),
        .value("requester", "TEXT", "who asks (required)"),
        registryOption,
        .flag("dry-run", "only print the samples of DIR that the request would match; file nothing"),
        .flag("json", "print the request and its matches as JSON Lines"),
    ]

    static func run(_ args: [String]) throws {
        guard let sub = args.first else { throw UsageError("winnow optout: missing file, list, show or apply") }
        let rest = Array(args.dropFirst())
        switch sub {
        case "file": try file(rest)
        case "list": try list(rest)
        case "show": try show(rest)
        case "apply": try apply(rest)
        default:
            throw UsageError("winnow optout: unknown subcommand \(sub.debugDescription) (file, list, show or apply)")
        }
    }

    static func registryPath(_ a: Arguments) -> String { a.value("registry") ?? Registry.defaultPath() }

    static let whatOptions: [(option: String, kind: EntryKind)] = [
        ("url", .url), ("url-prefix", .urlPrefix), ("domain", .domain), ("md5", .md5), ("sha1", .sha1),
        ("sha256", .sha256), ("key", .key),
    ]

    static func file(_ args: [String]) throws {
        let a = try Arguments(args, command: "optout file", options: command.options(of: "file"))
        let dir = try a.positionals(["DIR"], command: "optout file")[0]
        guard let reason = a.value("reason"), !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw UsageError("winnow optout file: --reason TEXT is required (why the owner asks)")
        }
        guard let requester = a.value("requester"), !requester.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw UsageError("winnow optout file: --requester TEXT is required (who asks)")
        }
        let reader = try IndexReader(directory: dir)
        var entries: [OptOutEntry] = []
        var subject: [String] = []
        for (option, kind) in whatOptions {
            for v in a.all(option) {
                do { entries.append(try OptOutEntry.parse(kind, v)) } catch let e as WinnowError {
                    throw UsageError("winnow optout file: --\(option): \(e.message)")
                }
                subject.append("--\(option) \(v)")
            }
        }
        // A key must name a sample of DIR: a typo would otherwise be filed silently.
        let keys = entries.filter { $0.kind == .key }.map(\.value)
        let known = try reader.statuses(of: keys)
        if let unknown = keys.first(where: { known[$0] == nil }) {
            throw WinnowError(.notFound, "--key \(unknown): no sample with that key in \(dir)")
        }
        let pdqThreshold = try a.int("pdq-threshold", command: "optout file", min: 0) ?? 31
        if pdqThreshold > 31 { throw UsageError("winnow optout file: --pdq-threshold is at most 31") }
        var clip: Float?
        if let t = a.value("clip-threshold") {
            guard let v = Float(t), v >= -1, v <= 1 else {
                throw UsageError("winnow optout file: --clip-threshold expects a cosine between -1 and 1, got \(t)")
            }
            if a.all("image").isEmpty { throw UsageError("winnow optout file: --clip-threshold needs --image FILE") }
            clip = v
        }
        var images: [(pixels: [UInt8], width: Int, height: Int)] = []
        for file in a.all("image") {
            let bytes = try HashCommand.readBytes(file)
            let sha = SHA256.hexDigest(bytes)
            entries.append(OptOutEntry(kind: .sha256, value: sha))
            let image = try HashCommand.uprightImage(bytes, file: file)
            entries.append(OptOutEntry(kind: .pdq, value: PDQ.hash(image).hex, threshold: pdqThreshold))
            if let inner = PDQ.borderTrimmed(image) {
                entries.append(OptOutEntry(kind: .pdq, value: PDQ.hash(inner).hex, threshold: pdqThreshold))
            }
            images.append((image.pixels, image.width, image.height))
            subject.append("--image \(file) (sha256 \(sha))")
        }
        for list in a.all("hash-list") {
            let of = a.value("hash-of") ?? "images"
            guard of == "images" || of == "urls" else {
                throw UsageError("winnow optout file: --hash-of expects images or urls, got \(of.debugDescription)")
            }
            let more = try Registry.readHashList(path: list, ofURLs: of == "urls")
            entries += more
            subject.append("--hash-list \(list) (\(more.count) hashes of \(of))")
        }
        if entries.isEmpty {
            throw UsageError(
                "winnow optout file: name what to remove (--url, --url-prefix, --domain, --image, --md5, --sha1, --sha256, --hash-list or --key)"
            )
        }

        // The CLIP model and DIR's embeddings are loaded before anything is filed: a bad --model files nothing.
        var clipSearch: (encoder: CLIPEncoder, search: EmbeddingSearch, threshold: Float)?
        if let clip {
            guard let model = try a.value("model") ?? reader.runValue("embed_model") else {
                throw UsageError("winnow optout file: --clip-threshold needs --model DIR (\(dir) was not embedded)")
            }
            let encoder = try CLIPEncoder(directory: model)
            let search = try EmbeddingSearch(directories: [dir])
            guard encoder.dimension == search.dimension else {
                throw WinnowError(
                    .usage, "\(model): \(encoder.dimension)-wide embeddings, \(dir) has \(search.dimension)")
            }
            clipSearch = (encoder, search, clip)
        }

        // The request is filed (into a scratch registry for a dry run), then matched against DIR by the same code
        // runs use, over its own entries.
        let dryRun = a.flags.contains("dry-run")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "winnow-optout-\(UUID().uuidString)")
        defer { if dryRun { try? FileManager.default.removeItem(at: scratch) } }
        let registry = try Registry(
            path: dryRun ? scratch.appendingPathComponent("optout.sqlite").path : registryPath(a), create: true)
        let request = try registry.file(
            requester: requester, reason: reason, subject: subject.joined(separator: "; "), entries: entries)
        var matches = try matches(of: OptOutGate(path: registry.path, request: request.id), in: dir, reader: reader)
            .map(\.match)
        if let (encoder, search, threshold) = clipSearch {
            // Samples whose image embedding is at least `threshold` similar join the request by key.
            let d = encoder.dimension
            let vectors = encoder.embedImages(images)
            var seen = Set(matches.map(\.key))
            var similar: [OptOutEntry] = []
            let urls = Dictionary(try reader.keptHashes().map { ($0.key, $0.url) }, uniquingKeysWith: { a, _ in a })
            for i in 0..<images.count {
                for h in search.above(Array(vectors[(i * d)..<((i + 1) * d)]), threshold: threshold)
                where !seen.contains(h.key) {
                    seen.insert(h.key)
                    similar.append(OptOutEntry(kind: .key, value: h.key))
                    matches.append(
                        OptOutMatch(
                            directory: dir, key: h.key, url: urls[h.key] ?? "",
                            match: String(format: "clip %.3f", h.score)))
                }
            }
            try registry.add(similar, to: request.id)
            entries += similar
        }

        let json = a.flags.contains("json")
        let id = dryRun ? "(dry run)" : request.id
        if !dryRun { try registry.recordMatches(request.id, matches) }
        if json {
            var o = JSONObject()
            o.add("request", id)
            o.add("entries", entries.count)
            o.add("matches", matches.count)
            print(o.text())
            for m in matches { print(matchJSON(m)) }
        } else {
            print(
                "\(id): \(WinnowCLI.count(entries.count, "entry", "entries")); \(WinnowCLI.count(matches.count, "sample")) of \(dir) \(matches.count == 1 ? "matches" : "match")"
            )
            if !matches.isEmpty { print(matchTable(matches)) }
        }
        if matches.isEmpty {
            WinnowCLI.note(
                "winnow optout file: nothing in \(dir) matches"
                    + (a.flags.contains("dry-run") ? "" : "; \(id) is recorded and keeps these out of future runs"))
        } else if !a.flags.contains("dry-run") {
            let registry = a.value("registry").map { " --registry \($0)" } ?? ""
            WinnowCLI.note("run 'winnow optout apply \(dir)\(registry)' to remove them")
        }
    }

    /// Kept samples of `dir` that the gate matches, with the hit.
    static func matches(of gate: OptOutGate, in dir: String, reader: IndexReader) throws -> [(
        match: OptOutMatch, hit: OptOutHit
    )] {
        var out: [(OptOutMatch, OptOutHit)] = []
        for s in try reader.keptHashes() {
            if let h = gate.check(key: s.key, url: s.url) {
                out.append((OptOutMatch(directory: dir, key: s.key, url: s.url, match: h.kind.rawValue), h))
            } else if let (h, how) = gate.check(md5: s.md5, sha1: s.sha1, sha256: s.sha256, pdqHashes: s.pdq) {
                out.append((OptOutMatch(directory: dir, key: s.key, url: s.url, match: how), h))
            }
        }
        return out
    }

    static func matchJSON(_ m: OptOutMatch) -> String {
        var o = JSONObject()
        o.add("key", m.key)
        o.add("url", m.url)
        o.add("match", m.match)
        return o.text()
    }

    static func matchTable(_ matches: [OptOutMatch]) -> String {
        QueryCommand.render(
            ["key", "match", "url"], matches.map { [$0.key, $0.match, QueryCommand.clip($0.url, 80)] })
    }

    static func list(_ args: [String]) throws {
        let a = try Arguments(args, command: "optout list", options: command.options(of: "list"))
        _ = try a.positionals([], command: "optout list")
        let requests = try Registry(path: registryPath(a), create: false).requests()
        if a.flags.contains("json") {
            for r in requests { print(requestJSON(r)) }
            return
        }
        if requests.isEmpty {
            WinnowCLI.note("no requests in \(registryPath(a))")
            return
        }
        print(
            QueryCommand.render(
                ["id", "filed", "requester", "entries", "reason", "what"],
                requests.map {
                    [
                        $0.id, $0.filed, QueryCommand.clip($0.requester, 30), String($0.entries),
                        QueryCommand.clip($0.reason, 40), QueryCommand.clip($0.subject, 60),
                    ]
                }))
    }

    static func requestJSON(_ r: OptOutRequest) -> String {
        var o = JSONObject()
        o.add("id", r.id)
        o.add("filed", r.filed)
        o.add("requester", r.requester)
        o.add("reason", r.reason)
        o.add("subject", r.subject)
        o.add("entries", r.entries)
        return o.text()
    }

    static func show(_ args: [String]) throws {
        let a = try Arguments(args, command: "optout show", options: command.options(of: "show"))
        let id = try a.positionals(["ID"], command: "optout show")[0]
        let registry = try Registry(path: registryPath(a), create: false)
        let r = try registry.request(id)
        let entries = try registry.entries(of: id, limit: 50)
        let matches = try registry.matches(of: id)
        if a.flags.contains("json") {
            print(requestJSON(r))
            for e in entries {
                var o = JSONObject()
                o.add("kind", e.kind.rawValue)
                o.add("value", e.value)
                if let t = e.threshold { o.add("threshold", t) }
                print(o.text())
            }
            for m in matches { print(matchJSON(m)) }
            return
        }
        print("\(r.id)  filed \(r.filed) by \(r.requester)")
        print("reason: \(r.reason)")
        print("what:   \(r.subject)")
        print("\(r.entries) entries\(r.entries > entries.count ? " (first \(entries.count))" : ""):")
        for e in entries { print("  \(e.kind.rawValue) \(e.value)" + (e.threshold.map { " (within \($0))" } ?? "")) }
        print("\(WinnowCLI.count(matches.count, "sample")) matched when filed" + (matches.isEmpty ? "" : ":"))
        if !matches.isEmpty {
            print(
                QueryCommand.render(
                    ["directory", "key", "match", "url"],
                    matches.map { [$0.directory, $0.key, $0.match, QueryCommand.clip($0.url, 60)] }))
        }
    }

    static func apply(_ args: [String]) throws {
        let a = try Arguments(args, command: "optout apply", options: command.options(of: "apply"))
        let dir = try a.positionals(["DIR"], command: "optout apply")[0]
        guard FileManager.default.fileExists(atPath: ShardWriter.indexPath(dir)) else {
            throw WinnowError(.usage, "\(dir): no index.sqlite here (is this a finished Winnow output?)")
        }
        if let parts = try? IndexReader(directory: dir).runValue("merged_from") {
            // The parts' own indexes would still point at the old offsets: removals go to each part.
            throw WinnowError(
                .usage,
                "\(dir): a merged index; apply to each part (\(parts.split(separator: "\n").joined(separator: ", "))) and merge again"
            )
        }
        // One writer at a time: a run, a retry or another apply on the same directory is refused while this holds it.
        if !a.flags.contains("dry-run") { try OutputDirectory.lockForWriting(dir) }
        // An interrupted apply is finished first: the index cannot be read until it is.
        if !a.flags.contains("dry-run"), let message = try Removal.recover(directory: dir) { WinnowCLI.note(message) }
        let path = registryPath(a)
        let registry = try Registry(path: path, create: false)
        let gate = try OptOutGate(path: path)
        let found = try matches(of: gate, in: dir, reader: IndexReader(directory: dir))
        if a.flags.contains("dry-run") || found.isEmpty {
            let requests = try registry.requests().count
            print(
                "\(WinnowCLI.count(found.count, "sample")) of \(dir) \(found.count == 1 ? "matches" : "match") the \(WinnowCLI.count(requests, "request")) in \(path)"
            )
            if !found.isEmpty { print(matchTable(found.map(\.match))) }
            return
        }
        var info: [String: [String: String]] = [:]
        for r in try registry.requests() {
            info[r.id] = ["requester": r.requester, "reason": r.reason, "subject": r.subject, "filed": r.filed]
        }
        let removals = found.map {
            Removal.Request(
                key: $0.match.key, requestID: $0.hit.requestID, detail: "\($0.hit.requestID) \($0.match.match)")
        }
        let (entry, _) = try Removal.apply(directory: dir, requests: removals, requestInfo: info)
        guard let entry else {
            print("nothing to remove in \(dir)")
            return
        }
        var perRequest: [String: Int] = [:]
        for r in entry.removed { perRequest[r.request, default: 0] += 1 }
        print(
            "removed \(WinnowCLI.count(entry.removed.count, "sample")) from \(WinnowCLI.count(entry.shards.count, "shard")) ("
                + perRequest.keys.sorted().map { "\($0): \(perRequest[$0] ?? 0)" }.joined(separator: ", ") + ")")
        print("audit: \(Removal.auditLogPath(dir)) (apply \(entry.applyID))")
    }
}
