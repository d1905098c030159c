import Foundation
import WinnowCore
import WinnowPipeline
import WinnowSampleWeb
import WinnowShards

enum DemoCommand {
    static let command = WinnowCLI.Command(
        name: "demo", summary: "generate the sample web, serve it on 127.0.0.1, and run the whole pipeline on it",
        help: """
            Usage: winnow demo [--output DIR] [--pipeline FILE] [--pages N] [--seed S]

            1. writes the sample web to DIR/web ('winnow sample-web'),
            2. serves its sites on 127.0.0.1 with a static server of its own (site names are mapped to it with
               libcurl's CONNECT_TO, so the crawl's URLs stay as they are),
            3. runs the pipeline (default pipelines/demo.json) on the crawl's WAT files into DIR/out,
            4. stops the server and prints a summary and example queries.

            Options:
              --output DIR     where to put everything (default: demo-out)
              --pipeline FILE  pipeline config (default: pipelines/demo.json)
              --pages N        pages in the sample web (default 48)
              --seed S         seed of the sample web (default 1)
            """,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "demo", options: ["output", "pipeline", "pages", "seed"])
        _ = try a.positionals([], command: "demo")
        let dir = a.value("output") ?? "demo-out"
        let pipeline = a.value("pipeline") ?? "pipelines/demo.json"
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
        let inputs = manifest.watFiles.map { (web as NSString).appendingPathComponent($0) }
        let stats = try RunCommand.execute(
            config: c, inputs: inputs, output: out, part: nil, overwrite: true, humanSummary: true)
        server.stop()
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
            if let model = config.embed.model {
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
            // An opt-out, as a site owner would file it, in a registry beside the demo (not the user's own).
            let registry = ((out as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
                "optout-demo.sqlite")
            print(
                "  \(me) optout file \(out) --domain \(host) --reason \"the owner opts out\" --requester \"\(host)\" --registry \(registry)"
            )
            print("  \(me) optout apply \(out) --registry \(registry)")
        }
        if stats.kept == 0 { throw WinnowError(.network, "the demo kept no sample: see the reasons above") }
    }
}
