import Foundation
import WinnowCore
import WinnowPipeline
import WinnowShards

enum IndexCommand {
    static let command = WinnowCLI.Command(
        name: "index", summary: "merge the indexes of a partitioned run into one",
        about: """
            Usage: winnow index merge OUT PART... [--overwrite]

            Writes OUT/index.sqlite with every row of the PART output directories' indexes (the parts of a run split
            with --shard I/N, or any Winnow outputs). Shards stay where they are: the merged index names them by their
            path relative to OUT (part-0/00000.tar), so 'winnow query', 'get' and 'stats' work on OUT as on one run.
            Opt-out removals are applied to the parts; merge again afterwards.

            Each part removed the duplicates it saw; the merge decides those across parts as one run over all the
            inputs would (repeated url + caption, identical bytes, PDQ near-duplicates, in the order of the sorted
            inputs, with the parts' own dedup settings): the later copies are marked dropped in OUT's index with
            duplicate_of, so that query, get and stats on OUT see each sample kept once. The parts are not changed.
            """,
        subcommands: [
            .init(name: "merge", options: [.flag("overwrite", "replace an existing OUT/index.sqlite")])
        ],
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "index", options: command.options(of: "merge"))
        guard a.positionals.first == "merge" else {
            throw UsageError("winnow index: expected 'merge OUT PART...' (see 'winnow index --help')")
        }
        guard a.positionals.count >= 3 else { throw UsageError("winnow index merge: needs OUT and at least one PART") }
        let out = a.positionals[1]
        let parts = Array(a.positionals[2...])
        let (n, duplicates) = try merge(output: out, parts: parts, overwrite: a.flags.contains("overwrite"))
        print(
            "merged \(WinnowCLI.count(parts.count, "index", "indexes")) (\(WinnowCLI.count(n, "sample"))) into \(ShardWriter.indexPath(out))"
                + (duplicates.total > 0
                    ? "; \(WinnowCLI.count(duplicates.total, "duplicate")) across parts marked (\(duplicates.urlCaption) url + caption, \(duplicates.exact) identical bytes, \(duplicates.perceptual) PDQ)"
                    : "")
        )
    }

    /// `path` relative to `base` (both made absolute): `part-0`, `../other/part-1`.
    static func relative(_ path: String, to base: String) -> String {
        func parts(_ p: String) -> [String] {
            let abs = p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
            return URL(fileURLWithPath: abs).standardizedFileURL.pathComponents.filter { $0 != "/" }
        }
        let p = parts(path)
        let b = parts(base)
        var common = 0
        while common < min(p.count, b.count) && p[common] == b[common] { common += 1 }
        let up = [String](repeating: "..", count: b.count - common)
        return (up + p[common...]).joined(separator: "/")
    }

    static func merge(output: String, parts: [String], overwrite: Bool) throws -> (Int, PartDuplicates.Counts) {
        let final = ShardWriter.indexPath(output)
        if FileManager.default.fileExists(atPath: final) && !overwrite {
            throw WinnowError(.usage, "\(final): exists; pass --overwrite to replace it")
        }
        if let same = parts.first(where: { relative($0, to: output).isEmpty }) {
            throw WinnowError(.usage, "\(same): a part cannot be OUT itself (its index would be replaced)")
        }
        for p in parts {
            // Each part must be a finished, consistent output (this also brings an older index up to date).
            _ = try IndexReader(directory: p)
        }
        // OUT is claimed like a run's output: a directory Winnow did not write is refused untouched.
        _ = try OutputDirectory.claim(
            output, command: "index merge", settings: [:], inputs: parts, overwrite: overwrite)
        let parts = parts.map { p -> (directory: String, prefix: String) in
            let prefix = relative(p, to: output)
            return (p, prefix.isEmpty || prefix == "." ? "" : prefix + "/")
        }
        // The parts' dedup settings, as the first part's manifest records them (an older part has none: defaults).
        let settings = (try OutputDirectory.manifest(parts[0].directory))?.settings ?? [:]
        var duplicates = PartDuplicates.Counts()
        let n = try ShardIndex.merge(into: output, parts: parts) { index in
            duplicates = try PartDuplicates.resolve(index, settings: settings)
        }
        return (n, duplicates)
    }
}
