import Foundation
import WinnowCore
import WinnowPipeline
import WinnowReport
import WinnowSampleWeb
import WinnowShards

enum DemoCommand {
    static let command = WinnowCLI.Command(
        name: "demo", summary: "generate the sample web, serve it on 127.0.0.1, and run the whole pipeline on it",
        about: """
            Usage: winnow demo [--output DIR] [--pipeline FILE] [--pages N] [--seed S]

            1. writes the sample web to DIR/web ('winnow sample-web'),
            2. serves its sites on 127.0.0.1 with a static server of its own (site names are mapped to it with
               libcurl's CONNECT_TO, so the crawl's URLs stay as they are),
            3. runs the pipeline (default pipelines/demo.json) on the crawl's WAT files into DIR/out,
            4. stops the server, writes the dataset report into DIR/report ('winnow report'), and prints a summary
               and example queries.
            """,
        options: [
            .value("output", "DIR", "where to put everything (default: demo-out)"),
            .value(
                "pipeline", "FILE",
                "pipeline config (default: the bundled pipelines/demo.json, found here, beside the executable or in "
                    + "/opt/winnow)"),
            .value("pages", "N", "pages in the sample web (default 48)"),
            .value("seed", "S", "seed of the sample web (default 1)"),
        ],
        run: run)

    /// The demo's pipeline where Winnow is installed or built: `pipelines/demo.json` in this directory, else beside
    /// the executable or a folder above it (`.build/release/winnow` in a checkout), else in `share/winnow` next to
    /// its `bin`, else `/opt/winnow` (the Docker image). Its model path is relative to the file, so it is found too.
    static func bundledPipeline() throws -> String {
        let fm = FileManager.default
        var candidates = ["pipelines/demo.json"]
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "winnow").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        if let real = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            dir = URL(fileURLWithPath: real).deletingLastPathComponent()
        }
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("pipelines/demo.json").path)
            candidates.append(dir.appendingPathComponent("share/winnow/pipelines/demo.json").path)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append("/opt/winnow/pipelines/demo.json")
        guard let found = candidates.first(where: { fm.fileExists(atPath: $0) }) else {
            throw WinnowError(
                .notFound,
                "cannot find the demo's pipeline (pipelines/demo.json here, beside the winnow executable, or in /opt/winnow); pass --pipeline FILE"
            )
        }
        return found
    }

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "demo", options: command.options)
        _ = try a.positionals([], command: "demo")
        let dir = a.value("output") ?? "demo-out"
        let pipeline = try a.value("pipeline") ?? DemoCommand.bundledPipeline()
        let pages = try a.int("pages", command: "demo", min: 1) ?? 48
        let seed = try a.int("seed", command: "demo", min: 0) ?? 1
        let config = try PipelineConfig.load(path: pipeline)
        let web = (dir as NSString).appendingPathComponent("web")
        let out = (dir as NSString).appendingPathComponent("out")
        try? FileManager.default.removeItem(atPath: web)
        let manifest = try SampleWeb.generate(output: web, pages: pages, seed: UInt64(seed))
        WinnowCLI.note(
            "demo: sample web with \(manifest.pages) pages and \(manifest.imageLinks) image links on \(manifest.sites.count) sites in \(web)"
        )
        let server = StaticServer(root: web)
        try server.start()
        defer { server.stop() }
        WinnowCLI.note("demo: serving \(manifest.sites.joined(separator: ", ")) on 127.0.0.1:\(server.port)")
        var c = config
        c.fetch.connectTo += server.connectTo(sites: manifest.sites)
        // A registry of the demo's own (the one its printed 'optout file' command writes), never the user's.
        let registry = (dir as NSString).appendingPathComponent("optout-demo.sqlite")
        if a.value("pipeline") == nil || c.optOutRegistry == nil {
            c.optOutRegistry = registry
            c.optOutEnabled = FileManager.default.fileExists(atPath: registry)
        }
        let inputs = manifest.watFiles.map { (web as NSString).appendingPathComponent($0) }
        let stats = try RunCommand.execute(
            config: c, inputs: inputs, output: out, part: nil, overwrite: true, humanSummary: true)
        server.stop()
        let reportDir = ((out as NSString).deletingLastPathComponent as NSString).appendingPathComponent("report")
        try Report(directories: [out]).write(to: reportDir)
        WinnowCLI.note(
            "demo: dataset report in \(reportDir)/index.html (and summary.json, README.md, ai-act-summary.md)")
        let reader = try IndexReader(directory: out)
        var q = IndexReader.Query()
        q.status = "kept"
        q.limit = 1
        let example = try reader.find(q).first
        print("")
        let me = CommandLine.arguments.first ?? "winnow"
        print("Try:")
        print("  \(me) stats \(out)")
        print("  \(me) query \(out) --caption \"red AND circle\"")
        if let key = example?["key"] {
            print("  \(me) query \(out) --key \(key)")
            print("  \(me) get \(out) \(key) --output /tmp/\(key).jpg")
            if let model = config.embed.model.map({ URL(fileURLWithPath: $0).standardizedFileURL.path }) {
                print("  \(me) embed --model \(model) --image /tmp/\(key).jpg --text \"\(example?["caption"] ?? "")\"")
            }
        }
        print("  \(me) query \(out) --status dropped --reason duplicate_sha256")
        if stats.droppedByReason["low_similarity", default: 0] > 0 {
            // Alt texts that do not describe their image, caught by the CLIP filter.
            print("  \(me) query \(out) --status dropped --reason low_similarity")
        }
        if config.embed.model != nil, let caption = example?["caption"] {
            print("  \(me) query \(out) --similar-text \"\(caption)\" --k 5")
        }
        if let url = example?["url"], let host = URLComponents(string: url)?.host {
            // An opt-out, as a site owner would file it, in the demo's own registry (not the user's).
            print(
                "  \(me) optout file \(out) --domain \(host) --reason \"the owner opts out\" --requester \"\(host)\" --registry \(registry)"
            )
            print("  \(me) optout apply \(out) --registry \(registry)")
        }
        if stats.kept == 0 { throw WinnowError(.network, "the demo kept no sample: see the reasons above") }
    }
}
