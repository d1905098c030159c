import Foundation
import WinnowCore
import WinnowReport

enum ReportCommand {
    static let command = WinnowCLI.Command(
        name: "report", summary: "a dataset report: plots, summary.json, dataset card, EU AI Act summary",
        about: """
            Usage: winnow report DIR... --output REPORT_DIR [--provider FILE] [--sme] [--top N]

            Reads the index of each DIR (one output directory, the parts of a run, or a merged index) and writes
            into REPORT_DIR:
              index.html           one self-contained page of plots and tables (nothing is fetched)
              summary.json         every figure of the page
              README.md            a dataset card in the Hugging Face layout
              ai-act-summary.json  the EU AI Office's training-content summary template (C(2025) 5235), filled
              ai-act-summary.md    where the index knows the answer; blanks marked for the provider
            Several DIRs are added up: the report of the parts equals the report of their merged index.
            """,
        options: [
            .value("output", "REPORT_DIR", "where to write the report (required; created if needed)"),
            .value("provider", "FILE", "a JSON object of the provider's own answers (provider_name, model_name...)"),
            .flag("sme", "list the top 5 % of domains (at most 1,000) instead of the top 10 %, as an SME may"),
            .value("top", "N", "domains in the page's top lists (default 20)"),
        ],
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "report", options: command.options)
        guard !a.positionals.isEmpty else {
            throw UsageError("winnow report: missing DIR (see 'winnow report --help')")
        }
        guard let output = a.value("output") else { throw UsageError("winnow report: --output REPORT_DIR is required") }
        var options = Report.Options()
        options.sme = a.flags.contains("sme")
        options.top = try a.int("top", command: "report", min: 1) ?? options.top
        if let p = a.value("provider") {
            guard let data = FileManager.default.contents(atPath: p) else {
                throw WinnowError(.io, "\(p): cannot read the provider file")
            }
            guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw WinnowError(
                    .format, "\(p): not a JSON object (the provider's answers, e.g. {\"provider_name\": \"...\"})")
            }
            options.provider = o
        }
        let report = try Report(directories: a.positionals, options: options)
        try report.write(to: output)
        WinnowCLI.note(
            "winnow report: \(Words.count(report.figures.candidates, "candidate")) of \(Words.count(a.positionals.count, "directory", "directories")) reported in \(output) (index.html, summary.json, README.md, ai-act-summary.json, ai-act-summary.md)"
        )
    }
}
