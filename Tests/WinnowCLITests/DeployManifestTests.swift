import Foundation
import Testing
import WinnowTestSupport

@testable import WinnowCLI

/// Issue 24: the Kubernetes manifests cannot run here, so their command lines are checked against the CLI: every
/// option they pass must be one the command declares (a flag that does not exist fails), and the parts' --shard N
/// must match the Job's completions. The Slurm scripts' command lines are checked the same way (they also run, in
/// SlurmTests).
@Suite struct DeployManifestTests {
    /// The words after `winnow` of each `exec winnow ...` line in a file (YAML block scalars and shell lines alike).
    static func winnowCommands(_ path: String) throws -> [[String]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        // Continuation lines (after a shell backslash; in a YAML folded scalar, lines that go on with an option or
        // a path) joined to the line before, comments dropped.
        var joined: [String] = []
        var continues = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            let backslash = line.hasSuffix("\\")
            if backslash { line = String(line.dropLast()).trimmingCharacters(in: .whitespaces) }
            if let last = joined.last, continues || line.hasPrefix("--") || line.hasPrefix("/data/") {
                joined[joined.count - 1] = last + " " + line
            } else {
                joined.append(line)
            }
            continues = backslash
        }
        // Each script and manifest starts winnow with `exec` (so that signals reach it).
        return joined.filter { $0.hasPrefix("exec ") }.compactMap { line in
            let words = line.split(separator: " ").map(String.init)
            guard let i = words.firstIndex(where: { $0 == "winnow" || $0.hasSuffix("${WINNOW:-winnow}\"") }) else {
                return nil
            }
            return Array(words[(i + 1)...])
        }
    }

    /// The options a command line passes that its command does not declare.
    static func unknownOptions(_ words: [String]) -> [String] {
        guard let name = words.first, let command = WinnowCLI.commands.first(where: { $0.name == name }) else {
            return ["unknown command \(words.first ?? "")"]
        }
        let options =
            command.subcommands.isEmpty
            ? command.options : command.options(of: words.count > 1 ? words[1] : "")
        let declared = Set(options.map(\.name))
        return words.filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2).split(separator: "=")[0]) }
            .filter { !declared.contains($0.replacingOccurrences(of: "_", with: "-")) }
    }

    @Test func kubernetesCommandLinesUseRealOptions() throws {
        let dir = TestSupport.packageRoot + "/deploy/kubernetes"
        let parts = try DeployManifestTests.winnowCommands(dir + "/winnow-parts.yaml")
        let merge = try DeployManifestTests.winnowCommands(dir + "/winnow-merge.yaml")
        #expect(parts.count == 1 && merge.count == 1)
        for words in parts + merge {
            #expect(DeployManifestTests.unknownOptions(words).isEmpty, "\(words)")
        }
        let run = try #require(parts.first)
        #expect(run.first == "run")
        let shard = try #require(run.firstIndex(of: "--shard").map { run[$0 + 1] })
        let text = try String(contentsOfFile: dir + "/winnow-parts.yaml", encoding: .utf8)
        let completions = try #require(
            text.split(separator: "\n").first { $0.contains("completions:") }?.split(separator: ":").last
        ).trimmingCharacters(in: .whitespaces)
        #expect(shard == "$JOB_COMPLETION_INDEX/\(completions)")
        #expect(Array(merge.first?.prefix(3) ?? []) == ["index", "merge", "/data/out"])
        #expect(merge.first?.filter { $0.hasPrefix("/data/out/part-") }.count == Int(completions))
        // A flag that does not exist is caught.
        #expect(DeployManifestTests.unknownOptions(["run", "x", "--no-such-flag"]) == ["no-such-flag"])
    }

    @Test func slurmScriptsUseRealOptions() throws {
        let dir = TestSupport.packageRoot + "/deploy/slurm"
        for file in ["winnow-part.sbatch", "winnow-merge.sbatch"] {
            let commands = try DeployManifestTests.winnowCommands(dir + "/" + file)
            #expect(commands.count == 1, "\(file): \(commands)")
            for words in commands { #expect(DeployManifestTests.unknownOptions(words).isEmpty, "\(file): \(words)") }
        }
    }
}
