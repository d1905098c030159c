import Foundation
import WinnowSampleWeb

enum SampleWebCommand {
    static let command = WinnowCLI.Command(
        name: "sample-web", summary: "generate the bundled sample web (pages, images, and its crawl as WAT files)",
        about: """
            Usage: winnow sample-web --output DIR [--pages N] [--seed S]

            Writes a deterministic small web: HTML pages on several sites (under the reserved .test domain),
            the JPEG and PNG images they link (shapes drawn so that their alt texts describe them), and a crawl of
            it in Common Crawl's WAT format (DIR/crawl/*.warc.wat.gz). It has the real web's trouble: missing
            images, alt texts that do not describe the image, duplicate images under several URLs, tiny images,
            and a page that opts out with <meta name="robots" content="noai">. DIR/manifest.json counts each.
            """,
        options: [
            .value("output", "DIR", "where to write the sample web (required)"),
            .value("pages", "N", "pages in the sample web (default 48)"),
            .value("seed", "S", "seed of the sample web (default 1)"),
        ],
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "sample-web", options: command.options)
        _ = try a.positionals([], command: "sample-web")
        guard let output = a.value("output") else { throw UsageError("winnow sample-web: --output DIR is required") }
        let pages = try a.int("pages", command: "sample-web", min: 1) ?? 48
        let seed = try a.int("seed", command: "sample-web", min: 0) ?? 1
        let m = try SampleWeb.generate(output: output, pages: pages, seed: UInt64(seed))
        print(
            "sample web in \(output): \(m.pages) pages on \(m.sites.count) sites, \(m.imageLinks) image links "
                + "(\(m.missingImages) missing, \(m.duplicateImages) duplicates, \(m.tinyImages) tiny, "
                + "\(m.mismatchedCaptions) mismatched alt texts, \(m.optedOutLinks) on opted-out pages), "
                + "crawl: \(m.watFiles.joined(separator: " "))")
    }
}
