import Foundation
import WinnowCore
import WinnowPipeline

/// Progress on a terminal: one line on stderr, rewritten in place.
final class TerminalProgress: ProgressSink {
    func update(_ c: RunCounters, elapsed: Double) {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + TerminalProgress.line(c, elapsed: elapsed)).utf8))
    }

    func finish(_ c: RunCounters, elapsed: Double) {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + TerminalProgress.line(c, elapsed: elapsed) + "\n").utf8))
    }

    static func line(_ c: RunCounters, elapsed: Double) -> String {
        // Each stage's rate over its own time: it stops falling once the stage is done.
        func rate(_ n: Int, until end: Double?) -> String {
            let t = max(end ?? elapsed, 0.001)
            return String(format: "%.0f/s", Double(n) / t)
        }
        var parts = [
            "parse \(Words.grouped(c.parsed))" + (c.parseDoneAt != nil ? " done" : " (\(rate(c.parsed, until: nil)))"),
            "fetch \(Words.grouped(c.fetchedOK)) ok \(Words.grouped(c.fetchFailed)) failed (\(rate(c.fetchedOK + c.fetchFailed, until: c.fetchDoneAt)))",
            "image \(Words.grouped(c.imaged))",
        ]
        // The remote inputs being received (at most two shown).
        let receiving = c.remoteInputs.filter { $0.received > 0 && $0.received < ($0.size ?? .max) }
        for r in receiving.prefix(2) {
            let name = (r.url as NSString).lastPathComponent
            parts.insert(
                "\(name) \(Words.bytes(Int(r.received)))" + (r.size.map { "/\(Words.bytes(Int($0)))" } ?? ""), at: 0)
        }
        if c.embedStage { parts.append("embed \(Words.grouped(c.embedded))") }
        parts.append("kept \(Words.grouped(c.kept)) dropped \(Words.grouped(c.dropped))")
        if let f = c.fractionDone {
            var done = String(format: "%.0f%%", f * 100) + (c.parseDoneAt == nil ? " of about" : " of")
            done += " \(Words.grouped(c.expectedCandidates ?? 0))"
            if let left = c.secondsLeft(elapsed: elapsed), f < 1 { done += " ETA " + duration(left) }
            parts.append(done)
        }
        return parts.joined(separator: " | ")
    }

    /// `42s`, `3m05s`, `2h07m`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, s % 3600 / 60)
    }
}

/// Progress as JSON Lines on stdout (when stdout is not a terminal), one object every two seconds, each written
/// out as it happens (a scheduler's log shows it while the run goes on, and up to a kill), never the same twice.
final class JSONProgress: ProgressSink, @unchecked Sendable {
    // @unchecked Sendable: `last` and `lastLine` are only touched by the single progress thread.
    private var last = -10.0
    private var lastLine = ""

    func update(_ c: RunCounters, elapsed: Double) {
        if elapsed - last < 2 { return }
        last = elapsed
        emit(c, elapsed: elapsed)
    }

    func finish(_ c: RunCounters, elapsed: Double) { emit(c, elapsed: elapsed) }

    private func emit(_ c: RunCounters, elapsed: Double) {
        var o: [String: Any] = [
            "event": "progress", "parsed": c.parsed, "input_errors": c.inputErrors, "parse_dropped": c.parseDropped,
            "fetched_ok": c.fetchedOK, "fetch_failed": c.fetchFailed, "imaged": c.imaged, "kept": c.kept,
            "dropped": c.dropped, "bytes_read": c.bytesRead, "bytes_total": c.bytesTotal,
        ]
        if c.embedStage { o["embedded"] = c.embedded }
        if c.resumed > 0 { o["resumed"] = c.resumed }
        if !c.remoteInputs.isEmpty {
            o["remote_inputs"] = c.remoteInputs.map { r -> [String: Any] in
                var i: [String: Any] = ["url": r.url, "received": r.received]
                if let size = r.size { i["size"] = size }
                return i
            }
        }
        if let f = c.fractionDone { o["percent"] = (f * 1000).rounded() / 10 }
        // The counters without the time decide whether anything is new: the final line repeats no update.
        guard let counters = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) else { return }
        let key = String(decoding: counters, as: UTF8.self)
        if key == lastLine { return }
        lastLine = key
        o["elapsed_s"] = (elapsed * 10).rounded() / 10
        if let left = c.secondsLeft(elapsed: elapsed), (c.fractionDone ?? 1) < 1 { o["eta_s"] = left.rounded() }
        if let d = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) {
            writeLine(String(decoding: d, as: UTF8.self))
        }
    }
}

/// Writes one line to stdout at once (not through stdio's buffer, which holds everything until exit when stdout
/// is a pipe or a file).
func writeLine(_ line: String) {
    fflush(nil)
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The progress sink for this process: a terminal line, or JSON Lines when stdout is not a terminal.
func defaultProgress() -> ProgressSink {
    isatty(1) != 0 ? TerminalProgress() : JSONProgress()
}
