import Foundation
import WinnowCore

/// The `winnow` command line: one subcommand per file.
public enum WinnowCLI {
    struct Command: Sendable {
        let name: String
        let summary: String
        /// The usage line(s) and the paragraphs that describe the command, written by hand.
        let about: String
        /// The options of a command without subcommands.
        let options: [Option]
        /// The subcommands (`optout file`), each with its options.
        let subcommands: [Subcommand]
        let run: @Sendable ([String]) throws -> Void

        init(
            name: String, summary: String, about: String, options: [Option] = [], subcommands: [Subcommand] = [],
            run: @escaping @Sendable ([String]) throws -> Void
        ) {
            self.name = name
            self.summary = summary
            self.about = about
            self.options = options
            self.subcommands = subcommands
            self.run = run
        }

        /// The options of the subcommand `name`.
        func options(of name: String) -> [Option] {
            guard let s = subcommands.first(where: { $0.name == name }) else {
                preconditionFailure("winnow \(self.name) has no subcommand \(name)")
            }
            return s.options
        }

        /// `--help`: `about`, then the options generated from the tables; subcommands with the same options share
        /// a section.
        var help: String {
            var sections: [(names: [String], options: [Option])] = []
            if subcommands.isEmpty {
                if !options.isEmpty { sections.append(([], options)) }
            } else {
                for s in subcommands where !s.options.isEmpty {
                    if let last = sections.last, last.options == s.options {
                        sections[sections.count - 1].names.append(s.name)
                    } else {
                        sections.append(([s.name], s.options))
                    }
                }
            }
            var text = about
            for (names, options) in sections {
                let of = names.map { "'\(name) \($0)'" }
                let title =
                    of.isEmpty
                    ? "Options:"
                    : "Options of "
                        + (of.count == 1 ? of[0] : of.dropLast().joined(separator: ", ") + " and " + of[of.count - 1])
                        + ":"
                text += "\n\n" + title + "\n" + Option.help(options)
            }
            return text
        }
    }

    /// A subcommand's name and options.
    struct Subcommand: Sendable {
        let name: String
        let options: [Option]
    }

    static let commands: [Command] = [
        DemoCommand.command, RunCommand.command, ParseCommand.command, FetchCommand.command, QueryCommand.command,
        GetCommand.command, StatsCommand.command, ReportCommand.command, ExportCommand.command, EmbedCommand.command,
        DedupCommand.command,
        HashCommand.command,
        OptOutCommand.command, IndexCommand.command,
        SampleWebCommand.command,
    ]

    static var overview: String {
        var s = """
            winnow: build image-text datasets from the open web.

            Usage: winnow COMMAND [OPTIONS]

            Commands:

            """
        for c in commands { s += "  " + c.name.padding(toLength: 12, withPad: " ", startingAt: 0) + c.summary + "\n" }
        s += "\nRun 'winnow COMMAND --help' for a command's options.\n"
        return s
    }

    /// Runs the command line and exits: 0 on success, 64 on a usage error, 1 on a failure.
    public static func main(_ args: [String]) -> Never {
        guard let first = args.first else {
            FileHandle.standardError.write(Data(overview.utf8))
            exit(64)
        }
        if first == "--help" || first == "-h" || first == "help" {
            if args.count > 1, let c = commands.first(where: { $0.name == args[1] }) {
                print(c.help)
            } else {
                print(overview, terminator: "")
            }
            exit(0)
        }
        if first == "--version" {
            print("winnow 0.1.0")
            exit(0)
        }
        guard let command = commands.first(where: { $0.name == first }) else {
            fail(64, "winnow: unknown command \(first.debugDescription) (see 'winnow --help')")
        }
        let rest = Array(args.dropFirst())
        if rest.contains("--help") || rest.contains("-h") {
            print(command.help)
            exit(0)
        }
        do {
            try command.run(rest)
            exit(0)
        } catch let e as UsageError {
            fail(64, e.message)
        } catch let e as WinnowError where e.code == .interrupted {
            fail(StopSignal.exitStatus(StopSignal.flag.signal), "winnow \(command.name): \(e.message)")
        } catch let e as WinnowError {
            fail(e.code == .usage ? 64 : e.code == .incomplete ? 3 : 1, "winnow \(command.name): \(e.message)")
        } catch {
            // A Foundation or system error: the path and the OS reason, in one line.
            fail(1, "winnow \(command.name): \(SystemError.describe(error))")
        }
    }

    static func fail(_ status: Int32, _ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(status)
    }

    /// `n` and the noun, singular for one ("1 entry", "2 entries", "0 samples").
    static func count(_ n: Int, _ noun: String, _ plural: String? = nil) -> String { Words.count(n, noun, plural) }

    /// Writes a line to standard error.
    static func note(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
