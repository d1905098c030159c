import Foundation

/// Counts in words, as Winnow's messages show them.
public enum Words {
    /// `n` with thousands separators and the noun, singular for one ("1 shard", "118,204 outcomes").
    public static func count(_ n: Int, _ noun: String, _ plural: String? = nil) -> String {
        "\(grouped(n)) \(n == 1 ? noun : plural ?? noun + "s")"
    }

    /// `n` with a comma every three digits (118204: "118,204").
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    /// A byte count for people: `812 B`, `4.2 KB`, `27.6 MB`, `1.30 GB` (powers of 1,000, as disks are sold).
    public static func bytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(n)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(n) B" }
        return String(format: value < 10 ? "%.2f" : value < 100 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }
}
