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
}
