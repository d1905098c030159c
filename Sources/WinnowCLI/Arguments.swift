import Foundation
import WinnowCore

/// A usage error: printed as one line, exit status 64.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Parsed command-line arguments of one subcommand.
struct Arguments {
    var positionals: [String] = []
    var values: [String: [String]] = [:]
    var flags: Set<String> = []

    /// Parses `args` for `command` by its option table: a `.value` option takes one value (`--o v` or `--o=v`), a
    /// `.multi` option one or more (up to the next option), a `.flag` none. An option that is not in the table is
    /// refused with the unknown-option error, naming the nearest one of the table; one of `ignored` (which the
    /// command knows but has no use for) is refused saying `why`.
    init(_ args: [String], command: String, options: [Option], ignored: [String] = [], why: String = "") throws {
        let table = Dictionary(options.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" {
                positionals.append(contentsOf: args[(i + 1)...])
                break
            }
            if a.hasPrefix("--") && a.count > 2 {
                var name = String(a.dropFirst(2))
                var inline: String?
                if let eq = name.firstIndex(of: "=") {
                    inline = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                // img2dataset spells options with underscores (--image_size): both spellings are accepted.
                name = name.replacingOccurrences(of: "_", with: "-")
                guard let option = table[name] else {
                    if ignored.contains(name) {
                        throw UsageError("winnow \(command): --\(name) has no effect here (\(why))")
                    }
                    throw Arguments.unknown("--\(name)", command: command, options: options)
                }
                switch option.kind {
                case .flag:
                    if inline != nil { throw UsageError("winnow \(command): --\(name) takes no value") }
                    self.flags.insert(name)
                case .value:
                    if let v = inline {
                        values[name, default: []].append(v)
                    } else {
                        guard i + 1 < args.count, !(args[i + 1].hasPrefix("--") && args[i + 1].count > 2) else {
                            throw UsageError("winnow \(command): --\(name) needs a value (\(option.label))")
                        }
                        values[name, default: []].append(args[i + 1])
                        i += 1
                    }
                case .multi:
                    var got = inline.map { [$0] } ?? []
                    while i + 1 < args.count, !(args[i + 1].hasPrefix("--") && args[i + 1].count > 2) {
                        got.append(args[i + 1])
                        i += 1
                    }
                    if got.isEmpty {
                        throw UsageError("winnow \(command): --\(name) needs at least one value (\(option.label))")
                    }
                    values[name, default: []].append(contentsOf: got)
                }
            } else if a.hasPrefix("-") && a.count > 1 && a != "-" {
                throw Arguments.unknown(a, command: command, options: options)
            } else {
                positionals.append(a)
            }
            i += 1
        }
    }

    /// The unknown-option error: the option, the table's nearest name when it looks like a misspelling, and where
    /// the table is listed.
    static func unknown(_ given: String, command: String, options: [Option]) -> UsageError {
        let name = String(given.drop { $0 == "-" }).replacingOccurrences(of: "_", with: "-")
        let near = Option.suggestion(for: name, in: options).map { "did you mean --\($0.name)? " } ?? ""
        return UsageError("winnow \(command): unknown option \(given) (\(near)see 'winnow \(command) --help')")
    }

    /// The last value of an option.
    func value(_ name: String) -> String? { values[name]?.last }

    /// All values of an option.
    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// An integer option, with a usage error if it is not one.
    func int(_ name: String, command: String, min: Int = Int.min) throws -> Int? {
        guard let v = value(name) else { return nil }
        guard let i = Int(v), i >= min else {
            throw UsageError(
                "winnow \(command): --\(name) expects a whole number\(min > Int.min ? " >= \(min)" : ""), got \(v.debugDescription)"
            )
        }
        return i
    }

    /// Exactly `count` positionals, named in the error when missing or extra.
    func positionals(_ names: [String], command: String) throws -> [String] {
        if positionals.count < names.count {
            throw UsageError("winnow \(command): missing \(names[positionals.count]) (see 'winnow \(command) --help')")
        }
        if positionals.count > names.count {
            throw UsageError("winnow \(command): unexpected argument \(positionals[names.count].debugDescription)")
        }
        return positionals
    }
}
