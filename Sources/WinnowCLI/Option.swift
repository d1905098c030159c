/// One option of a command, declared once: `Arguments` parses by it, and `--help` lists it.
struct Option: Sendable, Equatable {
    /// What an option takes.
    enum Kind: Sendable, Equatable {
        /// One value: `--output DIR` or `--output=DIR`; given twice, the last counts (or each, where repeatable).
        case value
        /// One or more values, up to the next option: `--input A B C`.
        case multi
        /// No value: `--overwrite`.
        case flag
    }

    /// The name without its dashes (`output`); `--out_put` is accepted for `--out-put`.
    let name: String
    let kind: Kind
    /// What the value is called in `--help` (`DIR`); empty for a flag.
    let valueName: String
    /// The help text: one sentence or a few, wrapped by `help(_:)`.
    let help: String

    init(_ name: String, _ kind: Kind, _ valueName: String, _ help: String) {
        self.name = name
        self.kind = kind
        self.valueName = valueName
        self.help = help
    }

    /// A value option.
    static func value(_ name: String, _ valueName: String, _ help: String) -> Option {
        Option(name, .value, valueName, help)
    }

    /// An option taking one or more values.
    static func multi(_ name: String, _ valueName: String, _ help: String) -> Option {
        Option(name, .multi, valueName, help)
    }

    /// An option without a value.
    static func flag(_ name: String, _ help: String) -> Option { Option(name, .flag, "", help) }

    /// How the option is written in `--help`: `--input FILE...`, `--output DIR`, `--overwrite`.
    var label: String {
        switch kind {
        case .flag: "--\(name)"
        case .value: "--\(name) \(valueName)"
        case .multi: "--\(name) \(valueName)..."
        }
    }

    /// The lines of an "Options:" section: each label, then its help wrapped to `width` columns in a column of its
    /// own (on the next line when the label is too long for it).
    static func help(_ options: [Option], width: Int = 116) -> String {
        let column = 2 + min(options.map(\.label.count).max() ?? 0, 22) + 2
        var lines: [String] = []
        for o in options {
            var first = "  " + o.label
            var rest = wrap(o.help, width: width - column)
            if first.count + 2 <= column, !rest.isEmpty {
                first = first.padding(toLength: column, withPad: " ", startingAt: 0) + rest.removeFirst()
            }
            lines.append(first)
            lines += rest.map { String(repeating: " ", count: column) + $0 }
        }
        return lines.joined(separator: "\n")
    }

    /// `text` in lines of at most `width` characters, broken between words.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// The option of `options` nearest to `name` when it is a likely misspelling (at most two edits, or a prefix).
    static func suggestion(for name: String, in options: [Option]) -> Option? {
        let scored = options.map { (option: $0, distance: editDistance(name, $0.name)) }
        let most = name.count <= 2 ? 0 : min(2, max(1, name.count / 3))
        let near = scored.filter { $0.distance <= most }.min { $0.distance < $1.distance }
        if let near { return near.option }
        let prefixed = options.filter { $0.name.hasPrefix(name) }
        return name.count >= 3 && prefixed.count == 1 ? prefixed[0] : nil
    }

    /// Levenshtein distance between two short strings.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
