import Foundation
import Testing
import WinnowTestSupport

@testable import WinnowReport

/// Issue 26: the report page opens in headless Chromium (Debian's `chromium`, installed by scripts/setup.sh), runs
/// its inline script without a console error, draws every chart, and fetches nothing.
@Suite struct ChromiumTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @Test func thePageRendersWithoutConsoleErrors() throws {
        let chromium = try #require(ChromiumTests.chromium, "chromium is not installed: run scripts/setup.sh")
        let dir = TestSupport.temporaryDirectory("report-chromium")
        try ReportTests.makeIndex(dir + "/out", seed: 4, n: 300)
        try Report(directories: [dir + "/out"]).write(to: dir + "/report")
        let page = "file://" + dir + "/report/index.html"
        let profile = dir + "/profile"
        let r = try TestSupport.run(
            chromium,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile, "--enable-logging=stderr",
                "--v=0", "--virtual-time-budget=3000", "--dump-dom", page,
            ])
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        // The inline script ran to its end: it marks the page and counts the charts it found.
        #expect(r.stdout.contains("data-rendered=\"ok\""), "\(r.stdout.prefix(500))")
        let charts = r.stdout.firstRange(of: #/data-charts="(\d+)"/#).flatMap {
            Int(r.stdout[$0].dropFirst(13).dropLast())
        }
        #expect((charts ?? 0) >= 10, "charts drawn: \(String(describing: charts))")
        // Console messages from the page (errors included) are logged as CONSOLE lines; there must be none.
        let console = r.stderr.split(separator: "\n").filter { $0.contains("CONSOLE") || $0.contains("Uncaught") }
        #expect(console.isEmpty, "\(console)")
        // Self-contained: nothing in the page points at the network.
        let html = try String(contentsOfFile: dir + "/report/index.html", encoding: .utf8)
        for needle in ["<script src", "<link", "@import", "url(", "src=\"http", "<img", "<iframe"] {
            #expect(!html.contains(needle), "the page would fetch something: \(needle)")
        }
    }
}
