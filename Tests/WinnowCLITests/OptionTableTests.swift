import Foundation
import Testing
import WinnowShards
import WinnowTestSupport

@testable import WinnowCLI

/// Issue 21: each command declares its options once. Its `--help` lists exactly its table, the binary's parser
/// accepts every option of it and refuses every other, and `run`, `fetch` and `parse` take their inputs the same
/// two ways.
@Suite struct OptionTableTests {
    /// Every command and subcommand (`optout file`) with its table.
    static let tables: [(path: [String], options: [Option])] = WinnowCLI.commands.flatMap { c in
        c.subcommands.isEmpty ? [([c.name], c.options)] : c.subcommands.map { ([c.name, $0.name], $0.options) }
    }

    static let paths = tables.map { $0.path.joined(separator: " ") }

    static func options(_ path: String) -> [Option] {
        tables.first { $0.path.joined(separator: " ") == path }?.options ?? []
    }

    /// Arguments after which the command stops with a usage error of its own once its options are parsed (a
    /// positional argument missing or too many), so that no option given with them does any work.
    static func probe(_ path: String) -> [String] {
        path.split(separator: " ").map(String.init)
            + (["demo", "sample-web", "embed", "optout list"].contains(path) ? ["unexpected"] : [])
    }

    /// The option with a value of the right shape.
    static func given(_ o: Option) -> [String] { o.kind == .flag ? ["--\(o.name)"] : ["--\(o.name)", "1"] }

    /// The errors of the parser itself.
    static let parserErrors = ["unknown option", "needs a value", "needs at least one value", "takes no value"]

    @Test func everyCommandAndSubcommandHasATable() {
        #expect(Self.paths.count == 18, "\(Self.paths)")
        for path in ["run", "fetch", "parse", "optout file", "optout apply", "index merge", "hash", "export", "report"]
        {
            #expect(Self.paths.contains(path))
        }
        // No table names an option twice.
        for (path, options) in Self.tables { #expect(Set(options.map(\.name)).count == options.count, "\(path)") }
    }

    @Test(arguments: paths) func helpListsExactlyTheTable(path: String) throws {
        let words = path.split(separator: " ").map(String.init)
        let r = try TestSupport.run(TestSupport.winnowBinary, words + ["--help"])
        #expect(r.status == 0 && r.stdout.hasPrefix("Usage: winnow \(words[0])"), "\(r.stderr)")
        let options = Self.options(path)
        // The section of this (sub)command: "Options:", or "Options of 'optout list' and 'optout show':".
        let sections = r.stdout.components(separatedBy: "\n\n").filter { section in
            guard let title = section.split(separator: "\n").first else { return false }
            return words.count == 1 ? title == "Options:" : title.hasPrefix("Options of") && title.contains("'\(path)'")
        }
        if options.isEmpty {
            #expect(!r.stdout.contains("\nOptions"), "\(r.stdout)")
            return
        }
        try #require(sections.count == 1, "\(r.stdout)")
        let lines = sections[0].split(separator: "\n").dropFirst().filter { $0.hasPrefix("  --") }
        let listed = lines.map { String($0.dropFirst(4).prefix { $0 != " " }) }
        #expect(listed == options.map(\.name))
        for o in options { #expect(lines.contains { $0.hasPrefix("  " + o.label) }, "\(o.label)") }
    }

    @Test(arguments: paths) func everyOptionOfTheTableIsAccepted(path: String) throws {
        for o in Self.options(path) {
            let r = try TestSupport.run(TestSupport.winnowBinary, Self.probe(path) + Self.given(o))
            // The usage error of the probe, not one of the parser's.
            #expect(r.status == 64 && r.stderr.split(separator: "\n").count == 1, "\(path) --\(o.name): \(r.stderr)")
            #expect(!Self.parserErrors.contains { r.stderr.contains($0) }, "\(path) --\(o.name): \(r.stderr)")
        }
        // img2dataset's spelling of a name with a hyphen.
        if let o = Self.options(path).first(where: { $0.name.contains("-") }) {
            let spelled = Self.given(o).map { $0.replacingOccurrences(of: "-", with: "_") }
            let r = try TestSupport.run(TestSupport.winnowBinary, Self.probe(path) + ["--" + spelled[0].dropFirst(2)])
            #expect(!r.stderr.contains("unknown option"), "\(path) \(spelled): \(r.stderr)")
        }
    }

    @Test(arguments: paths) func anOptionNotInTheTableIsRefused(path: String) throws {
        let command = path.split(separator: " ")[0]
        let r = try TestSupport.run(TestSupport.winnowBinary, Self.probe(path) + ["--no-such-option", "1"])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(
            r.stderr.hasPrefix("winnow \(command)")
                && r.stderr.contains(": unknown option --no-such-option (see 'winnow \(command)")
                && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        let dash = try TestSupport.run(TestSupport.winnowBinary, Self.probe(path) + ["-x"])
        #expect(dash.status == 64 && dash.stderr.contains("unknown option -x"), "\(dash.stderr)")
    }

    /// The commands that read inputs refuse the options of the others: what parse takes is what its help says.
    @Test(arguments: ["run", "fetch", "parse", "demo"]) func otherCommandsOptionsAreRefused(path: String) throws {
        let mine = Set(Self.options(path).map(\.name))
        let others = Set(Self.tables.flatMap { $0.options.map(\.name) }).subtracting(mine).sorted()
        for name in others {
            let r = try TestSupport.run(TestSupport.winnowBinary, Self.probe(path) + ["--\(name)", "1"])
            #expect(
                r.status == 64
                    && (r.stderr.contains("unknown option --\(name) ") || r.stderr.contains("--\(name) has no effect")),
                "\(path) --\(name): \(r.stderr)")
        }
    }

    @Test func aMisspelledOptionIsNamed() throws {
        let r = try TestSupport.run(TestSupport.winnowBinary, ["run", "urls.txt", "--ouput", "out"])
        #expect(
            r.status == 64
                && r.stderr == "winnow run: unknown option --ouput (did you mean --output? see 'winnow run --help')\n")
        let far = try TestSupport.run(TestSupport.winnowBinary, ["stats", "--bogus"])
        #expect(far.stderr == "winnow stats: unknown option --bogus (see 'winnow stats --help')\n")
    }

    /// A URL list on the discard port: nothing answers, each sample is dropped, the command exits 0.
    static func urlList() throws -> (dir: String, list: String, pipeline: String) {
        let dir = TestSupport.temporaryDirectory("syntax")
        let list = dir + "/urls.txt"
        try (0..<3).map { "http://127.0.0.1:9/\($0).jpg\ta red circle number \($0)\n" }.joined().write(
            toFile: list, atomically: true, encoding: .utf8)
        let pipeline = dir + "/p.json"
        try #"{"name": "syntax-test", "parse": {"min_caption_length": 3}}"#.write(
            toFile: pipeline, atomically: true, encoding: .utf8)
        return (dir, list, pipeline)
    }

    @Test func parseTakesInputsBothWays() throws {
        let (_, list, pipeline) = try Self.urlList()
        let positional = try TestSupport.run(TestSupport.winnowBinary, ["parse", list, "--output", "-"])
        #expect(positional.status == 0 && positional.stdout.split(separator: "\n").count == 3, "\(positional.stderr)")
        for args in [
            ["parse", "--input", list, "--output", "-"], ["parse", "--output", "-", "--input", list],
            ["parse", list, "--pipeline", pipeline, "--output", "-"],
            ["parse", "--pipeline", pipeline, "--input", list, "--output", "-"],
        ] {
            let r = try TestSupport.run(TestSupport.winnowBinary, args)
            #expect(r.status == 0 && r.stdout == positional.stdout, "\(args): \(r.stderr)")
        }
        // Positional inputs and --input add up (the second copy of each candidate is a dropped duplicate).
        let both = try TestSupport.run(
            TestSupport.winnowBinary, ["parse", list, "--input", list, "--output", "-", "--all"])
        #expect(both.status == 0 && both.stdout.split(separator: "\n").count == 6, "\(both.stderr)")
        let none = try TestSupport.run(TestSupport.winnowBinary, ["parse", "--pipeline", pipeline, "--output", "-"])
        #expect(none.status == 64 && none.stderr == "winnow parse: missing INPUT (see 'winnow parse --help')\n")
    }

    /// The manifest a run wrote: its command, settings and inputs.
    static func manifest(_ dir: String) throws -> OutputDirectory.Manifest {
        try #require(try OutputDirectory.manifest(dir))
    }

    @Test func fetchTakesInputsBothWays() throws {
        let (dir, list, pipeline) = try Self.urlList()
        let common = ["--allow-range", "127.0.0.0/8", "--retries", "0", "--pipeline", pipeline]
        let a = try TestSupport.run(TestSupport.winnowBinary, ["fetch", list, "--output", dir + "/a"] + common)
        let b = try TestSupport.run(
            TestSupport.winnowBinary, ["fetch", "--input", list, "--output", dir + "/b"] + common)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\n\(b.stderr)")
        let (ma, mb) = (try Self.manifest(dir + "/a"), try Self.manifest(dir + "/b"))
        #expect(ma.settingsDigest == mb.settingsDigest && ma.inputs == mb.inputs && ma.inputs == [list])
        let stats = try IndexReader(directory: dir + "/a").stats()
        #expect(stats.candidates == 3 && stats.kept == 0)
        #expect(try IndexReader(directory: dir + "/b").stats().droppedByReason == stats.droppedByReason)
    }

    /// `run INPUT --pipeline P` and the older `run P --input INPUT` are the same run; so is the older retry form.
    @Test func runTakesInputsBothWays() throws {
        let (dir, list, pipeline) = try Self.urlList()
        let common = ["--allow-range", "127.0.0.0/8", "--retries", "0"]
        let new = try TestSupport.run(
            TestSupport.winnowBinary, ["run", list, "--pipeline", pipeline, "--output", dir + "/new"] + common)
        let old = try TestSupport.run(
            TestSupport.winnowBinary, ["run", pipeline, "--input", list, "--output", dir + "/old"] + common)
        #expect(new.status == 0 && old.status == 0, "\(new.stderr)\n\(old.stderr)")
        let (mn, mo) = (try Self.manifest(dir + "/new"), try Self.manifest(dir + "/old"))
        #expect(mn.settingsDigest == mo.settingsDigest && mn.inputs == mo.inputs && mn.inputs == [list])
        #expect(mn.settings?["name"]?.contains("syntax-test") == true)
        let stats = try IndexReader(directory: dir + "/new").stats()
        #expect(stats.candidates == 3 && stats.kept == 0)
        #expect(try IndexReader(directory: dir + "/old").stats().droppedByReason == stats.droppedByReason)
        // The older retry form names the pipeline first and no input; the run's settings are found the same.
        let retry = try TestSupport.run(
            TestSupport.winnowBinary, ["run", pipeline, "--retry", "transient", "--output", dir + "/new"] + common)
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(try IndexReader(directory: dir + "/new").stats().candidates == 3)
        // Without a pipeline, the defaults.
        let plain = try TestSupport.run(TestSupport.winnowBinary, ["run", list, "--output", dir + "/plain"] + common)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(try Self.manifest(dir + "/plain").settings?["name"]?.contains("default") == true)
        let none = try TestSupport.run(TestSupport.winnowBinary, ["run", "--output", dir + "/none"])
        #expect(none.status == 64 && none.stderr == "winnow run: missing INPUT (see 'winnow run --help')\n")
    }
}
