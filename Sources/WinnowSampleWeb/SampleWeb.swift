import Foundation
import WinnowCore
import WinnowCrawl
import WinnowImage

/// A small deterministic web: HTML pages on several sites, the images they link (shapes drawn so that their alt texts
/// describe them), and a crawl of it as Common Crawl WAT files, with the trouble the real web has.
public enum SampleWeb {
    /// The sites, named under the reserved `.test` top-level domain so that they can never reach the real web.
    public static let sites = ["shapes-gallery.test", "colour-shop.test", "geometry-blog.test", "kids-art.test"]

    /// What was generated: counts that tests and the demo check against.
    public struct Manifest: Codable, Sendable, Equatable {
        /// Site host names.
        public var sites: [String]
        /// HTML pages.
        public var pages: Int
        /// `IMG` links in the WAT files.
        public var imageLinks: Int
        /// Links to images that do not exist (404).
        public var missingImages: Int
        /// Links whose alt text does not describe the image.
        public var mismatchedCaptions: Int
        /// Links to the same bytes as an earlier link under another URL.
        public var duplicateImages: Int
        /// Tiny images (icons, spacers).
        public var tinyImages: Int
        /// Links on pages that opt out with `<meta name="robots" content="noai">`.
        public var optedOutLinks: Int
        /// Links that the site's robots.txt disallows for CCBot and GPTBot (tokens Winnow obeys by default).
        public var robotsDisallowed: Int
        /// Links whose image is served with `X-Robots-Tag: noai`.
        public var headerOptOuts: Int
        /// Links whose image is served with `Content-Usage: train-ai=n`.
        public var contentUsageHeaders = 0
        /// Links that a `Content-Usage` rule of the site's robots.txt opts out of AI training.
        public var robotsContentUsage = 0
        /// Links that a `Content-Signal` line of the site's robots.txt opts out of AI training.
        public var contentSignals = 0
        /// Links whose JPEG carries a C2PA manifest with a `cawg.training-mining` assertion saying notAllowed.
        public var c2paTrainingMining = 0
        /// The WAT files, relative to the output directory.
        public var watFiles: [String]
    }

    /// One drawn image and the caption that truly describes it.
    public struct Truth: Codable, Sendable {
        /// Image URL.
        public var url: String
        /// Caption that describes the image.
        public var caption: String
        /// Alt text used on the page (may not describe it).
        public var alt: String
        /// Shape, colour, count and background drawn.
        public var shape: String, colour: String, count: Int, background: String
    }

    /// Writes the sample web to `output`: `crawl/*.warc.wat.gz`, `sites/HOST/...`, `manifest.json`, `truth.jsonl`.
    @discardableResult
    public static func generate(output: String, pages: Int = 48, seed: UInt64 = 1) throws -> Manifest {
        var rng = SplitMix64(seed: seed)
        let fm = FileManager.default
        let crawlDir = (output as NSString).appendingPathComponent("crawl")
        let sitesDir = (output as NSString).appendingPathComponent("sites")
        try fm.createDirectory(atPath: crawlDir, withIntermediateDirectories: true)
        for site in sites {
            try fm.createDirectory(atPath: "\(sitesDir)/\(site)/img/gallery", withIntermediateDirectories: true)
        }
        try fm.createDirectory(atPath: "\(sitesDir)/colour-shop.test/img/archive", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: "\(sitesDir)/shapes-gallery.test/img/studio", withIntermediateDirectories: true)
        // Two sites state AI usage preferences in robots.txt: the IETF's Content-Usage rule for one folder, and
        // Cloudflare's Content-Signal for another.
        try Data(
            """
            # colour-shop.test: the archive may be indexed, not used to train AI (IETF AI Preferences).
            User-agent: *
            Allow: /
            Content-Usage: /img/archive/ train-ai=n
            """.utf8
        ).write(to: URL(fileURLWithPath: "\(sitesDir)/colour-shop.test/robots.txt"))
        try Data(
            """
            # shapes-gallery.test: Content Signals Policy for the studio's pictures.
            User-Agent: *
            Content-Signal: /img/studio/ search=yes, ai-train=no
            Allow: /
            """.utf8
        ).write(to: URL(fileURLWithPath: "\(sitesDir)/shapes-gallery.test/robots.txt"))
        // One site asks AI-training crawlers to keep out of its gallery; everyone may fetch the rest.
        let robots = """
            # kids-art.test: the children's drawings are not for training AI.
            User-agent: *
            Disallow: /admin/

            User-agent: CCBot
            User-agent: GPTBot
            Disallow: /img/gallery/
            """
        try Data(robots.utf8).write(to: URL(fileURLWithPath: "\(sitesDir)/kids-art.test/robots.txt"))
        var manifest = Manifest(
            sites: sites, pages: pages, imageLinks: 0, missingImages: 0, mismatchedCaptions: 0, duplicateImages: 0,
            tinyImages: 0, optedOutLinks: 0, robotsDisallowed: 0, headerOptOuts: 0, watFiles: [])
        var truths: [Truth] = []
        var drawn: [(url: String, bytes: [UInt8], ext: String, c2pa: Bool)] = []
        let pagesPerFile = 16
        var writer: WARCWriter?
        var imageNumber = 0
        let crawlDate = "2024-05-20T10:00:00Z"

        for page in 0..<pages {
            if page % pagesPerFile == 0 {
                try writer?.close()
                let name = String(format: "crawl/sample-web-%05d.warc.wat.gz", page / pagesPerFile)
                manifest.watFiles.append(name)
                writer = try WARCWriter(path: (output as NSString).appendingPathComponent(name))
                try writeWarcinfo(writer!, name: name)  // ok: created just above
            }
            let site = sites[page % sites.count]
            let pageURL = "http://\(site)/page-\(page).html"
            let optOut = page == 5
            let useBase = page % 7 == 3
            var links: [[String: String]] = []
            var html = "<!DOCTYPE html>\n<html><head><title>Shapes \(page)</title>\n"
            if optOut { html += "<meta name=\"robots\" content=\"noai, noimageai\">\n" }
            if useBase { html += "<base href=\"http://\(site)/img/\">\n" }
            html += "</head><body>\n"
            let count = 3 + rng.int(4)
            for k in 0..<count {
                imageNumber += 1
                // The first pages show each kind of trouble at least once, so that even a small web has them all.
                let roll = k == 0 && page < 3 ? [2, 7, 12][page] : rng.int(100)
                var link: [String: String] = ["path": "IMG@/src"]
                var alt: String
                var url: String
                if roll < 5 {
                    // Missing image.
                    url = "http://\(site)/img/missing-\(imageNumber).jpg"
                    alt = Scene.random(&rng).caption(&rng)
                    manifest.missingImages += 1
                } else if roll < 10 {
                    // Tiny icon.
                    let icon = RGBImage(width: 16, height: 16, fill: (200, 60, 60))
                    let bytes = try Codec.encodePNG(icon)
                    url = "http://\(site)/img/icon-\(imageNumber).png"
                    try Data(bytes).write(to: URL(fileURLWithPath: "\(sitesDir)/\(site)/img/icon-\(imageNumber).png"))
                    alt = "site icon of the shapes gallery"
                    manifest.tinyImages += 1
                } else if roll < 18, !drawn.isEmpty {
                    // The same bytes under another URL (on this or another site).
                    let original = drawn[rng.int(drawn.count)]
                    url = "http://\(site)/img/copy-\(imageNumber).\(original.ext)"
                    try Data(original.bytes).write(
                        to: URL(fileURLWithPath: "\(sitesDir)/\(site)/img/copy-\(imageNumber).\(original.ext)"))
                    let t = truths.first { $0.url == original.url }!  // ok: every drawn image has its truth
                    alt = t.caption
                    truths.append(
                        Truth(
                            url: url, caption: t.caption, alt: alt, shape: t.shape, colour: t.colour, count: t.count,
                            background: t.background))
                    manifest.duplicateImages += 1
                    if original.c2pa && !optOut { manifest.c2paTrainingMining += 1 }  // the copy carries the manifest
                } else {
                    let scene = Scene.random(&rng)
                    let caption = scene.caption(&rng)
                    let png = rng.int(10) < 3
                    let w = 200 + rng.int(440)
                    let h = 160 + rng.int(320)
                    let image = scene.draw(width: w, height: h, rng: &rng)
                    var bytes =
                        png ? try Codec.encodePNG(image) : try Codec.encodeJPEG(image, quality: 85 + rng.int(10))
                    // colour-shop.test marks some of its photographs notAllowed for training in their C2PA manifest.
                    let c2pa = site == "colour-shop.test" && imageNumber % 7 == 3 && !png
                    if c2pa {
                        bytes = SampleWeb.withC2PATrainingMining(
                            bytes, use: "notAllowed",
                            manifestID: "00000000-0000-4000-8000-\(String(imageNumber, radix: 16))")
                        if !optOut { manifest.c2paTrainingMining += 1 }
                    }
                    let ext = png ? "png" : "jpg"
                    // kids-art.test keeps every third drawing in its robots.txt-protected gallery.
                    // colour-shop.test (every seventh) and shapes-gallery.test (every fourth) keep some in a folder their robots.txt
                    // states AI-training preferences for.
                    let folder =
                        site == "kids-art.test" && imageNumber % 3 == 0
                        ? "img/gallery"
                        : site == "colour-shop.test" && imageNumber % 7 == 0
                            ? "img/archive"
                            : site == "shapes-gallery.test" && imageNumber % 4 == 2 ? "img/studio" : "img"
                    url = "http://\(site)/\(folder)/shape-\(imageNumber).\(ext)"
                    let file = "\(sitesDir)/\(site)/\(folder)/shape-\(imageNumber).\(ext)"
                    try Data(bytes).write(to: URL(fileURLWithPath: file))
                    if folder == "img/gallery" && !optOut { manifest.robotsDisallowed += 1 }
                    if folder == "img/archive" && !optOut { manifest.robotsContentUsage += 1 }
                    if folder == "img/studio" && !optOut { manifest.contentSignals += 1 }
                    // geometry-blog.test serves some images with an X-Robots-Tag: noai header.
                    if site == "geometry-blog.test" && imageNumber % 5 == 0 {
                        try Data("X-Robots-Tag: noai\n".utf8).write(to: URL(fileURLWithPath: file + ".headers"))
                        if !optOut { manifest.headerOptOuts += 1 }
                    }
                    // ... and some with the IETF's Content-Usage: train-ai=n.
                    if site == "geometry-blog.test" && imageNumber % 5 == 2 {
                        try Data("Content-Usage: train-ai=n\n".utf8).write(to: URL(fileURLWithPath: file + ".headers"))
                        if !optOut { manifest.contentUsageHeaders += 1 }
                    }
                    drawn.append((url, bytes, ext, c2pa))
                    alt = caption
                    if rng.int(100) < 10 {
                        // An alt text that does not describe the image: another scene's caption, or filler.
                        alt =
                            rng.int(2) == 0
                            ? Scene.random(&rng).caption(&rng)
                            : ["click here to enlarge", "image", "photo 1"][rng.int(3)]
                        manifest.mismatchedCaptions += 1
                    }
                    truths.append(
                        Truth(
                            url: url, caption: caption, alt: alt, shape: scene.shape, colour: scene.colour,
                            count: scene.count, background: scene.background))
                }
                // Pages with a <base> link relative to it; others use absolute or root-relative URLs.
                // Relative to <base href="http://SITE/img/">, or root-relative, or absolute.
                let relative =
                    useBase
                    ? String(url.dropFirst("http://\(site)/img/".count))
                    : (rng.int(2) == 0 ? url : String(url.dropFirst("http://\(site)".count)))
                link["url"] = relative
                link["alt"] = alt
                links.append(link)
                html += "<img src=\"\(relative)\" alt=\"\(alt)\">\n"
                manifest.imageLinks += 1
                if optOut { manifest.optedOutLinks += 1 }
            }
            // The web's other litter: an image without alt, a GIF, a data: URI, and a plain link.
            links.append(["path": "IMG@/src", "url": "http://\(site)/img/spacer.gif", "alt": "spacer image"])
            links.append(["path": "IMG@/src", "url": "data:image/png;base64,iVBORw0KGgo=", "alt": "inline pixel"])
            links.append(["path": "IMG@/src", "url": "http://\(site)/img/banner-\(page).jpg"])
            links.append(["path": "A@/href", "url": "http://\(site)/page-\((page + 1) % pages).html", "text": "next"])
            manifest.imageLinks += 2  // the data: URI is not an image link anyone can fetch
            if optOut { manifest.optedOutLinks += 2 }
            html += "<a href=\"/page-\((page + 1) % pages).html\">next</a>\n</body></html>\n"
            try Data(html.utf8).write(to: URL(fileURLWithPath: "\(sitesDir)/\(site)/page-\(page).html"))
            try writePage(
                writer!, pageURL: pageURL, date: crawlDate, html: html, base: useBase ? "http://\(site)/img/" : nil,
                optOut: optOut, links: links, rng: &rng)  // ok: opened at page 0
        }
        try writer?.close()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(
            to: URL(fileURLWithPath: (output as NSString).appendingPathComponent("manifest.json")))
        encoder.outputFormatting = [.sortedKeys]
        var lines = ""
        for t in truths { lines += String(decoding: try encoder.encode(t), as: UTF8.self) + "\n" }
        try Data(lines.utf8).write(to: URL(fileURLWithPath: (output as NSString).appendingPathComponent("truth.jsonl")))
        return manifest
    }

    /// Reads `manifest.json` of a generated sample web.
    public static func manifest(at output: String) throws -> Manifest {
        let path = (output as NSString).appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WinnowError(.io, "\(path): no sample web here (run `winnow sample-web --output \(output)`)")
        }
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    private static func writeWarcinfo(_ w: WARCWriter, name: String) throws {
        let body =
            "Software-Info: winnow sample-web\r\nformat: WARC File Format 1.0\r\ndescription: Winnow's sample web\r\n"
        try w.write(
            headers: [
                ("WARC-Type", "warcinfo"), ("WARC-Date", "2024-05-20T10:00:00Z"), ("WARC-Filename", name),
                ("WARC-Record-ID", "<urn:uuid:\(uuid(name))>"), ("Content-Type", "application/warc-fields"),
            ], block: Array(body.utf8))
    }

    private static func writePage(
        _ w: WARCWriter, pageURL: String, date: String, html: String, base: String?, optOut: Bool,
        links: [[String: String]],
        rng: inout SplitMix64
    ) throws {
        let responseID = "<urn:uuid:\(uuid(pageURL + "/response"))>"
        let requestID = "<urn:uuid:\(uuid(pageURL + "/request"))>"
        let warcFile = "sample-web-crawl.warc.gz"
        // The request record's metadata, as Common Crawl's WAT has for every capture.
        let request: [String: Any] = [
            "Container": ["Filename": warcFile, "Compressed": true, "Offset": String(w.offset)],
            "Envelope": [
                "Format": "WARC",
                "WARC-Header-Metadata": [
                    "WARC-Type": "request", "WARC-Target-URI": pageURL, "WARC-Date": date, "WARC-Record-ID": requestID,
                ],
                "Payload-Metadata": [
                    "Actual-Content-Type": "application/http; msgtype=request",
                    "HTTP-Request-Metadata": [
                        "Request-Message": ["Method": "GET", "Path": "/", "Version": "HTTP/1.1"],
                        "Headers": ["Host": URL(string: pageURL)?.host ?? "", "User-Agent": "CCBot/2.0"],
                    ],
                ],
            ],
        ]
        var head: [String: Any] = [
            "Title": "Shapes", "Metas": [["name": "viewport", "content": "width=device-width"]],
        ]
        if optOut {
            head["Metas"] = [
                ["name": "viewport", "content": "width=device-width"],
                ["name": "robots", "content": "noai, noimageai"],
            ]
        }
        if let b = base { head["Base"] = b }
        let response: [String: Any] = [
            "Container": ["Filename": warcFile, "Compressed": true, "Offset": String(w.offset + 1000)],
            "Envelope": [
                "Format": "WARC",
                "WARC-Header-Metadata": [
                    "WARC-Type": "response", "WARC-Target-URI": pageURL, "WARC-Date": date,
                    "WARC-Record-ID": responseID,
                    "Content-Type": "application/http; msgtype=response", "WARC-IP-Address": "127.0.0.1",
                ],
                "Payload-Metadata": [
                    "Actual-Content-Type": "application/http; msgtype=response",
                    "HTTP-Response-Metadata": [
                        "Response-Message": ["Status": "200", "Version": "HTTP/1.1", "Reason": "OK"],
                        "Headers": [
                            "Content-Type": "text/html; charset=utf-8", "Content-Length": String(html.utf8.count),
                        ],
                        "HTML-Metadata": ["Head": head, "Links": links],
                        "Entity-Length": String(html.utf8.count),
                    ],
                ],
            ],
        ]
        for (json, refersTo) in [(request, requestID), (response, responseID)] {
            let data = try JSONSerialization.data(
                withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])
            try w.write(
                headers: [
                    ("WARC-Type", "metadata"), ("WARC-Target-URI", pageURL), ("WARC-Date", date),
                    ("WARC-Record-ID", "<urn:uuid:\(uuid(refersTo + "/metadata"))>"), ("WARC-Refers-To", refersTo),
                    ("Content-Type", "application/json"),
                ], block: [UInt8](data))
        }
    }

    /// A deterministic UUID-shaped name for `text`.
    static func uuid(_ text: String) -> String {
        let h = hex(SHA256.hash(Array(text.utf8)).prefix(16))
        let c = Array(h)
        return
            "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-\(String(c[16..<20]))-\(String(c[20..<32]))"
    }
}
