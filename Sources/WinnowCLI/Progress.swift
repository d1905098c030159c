import Foundation
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
        let t = max(elapsed, 0.001)
        var s = String(
            format: "parse %d (%.0f/s) | fetch ok %d fail %d (%.0f/s) | image %d | kept %d dropped %d",
            c.parsed, Double(c.parsed) / t, c.fetchedOK, c.fetchFailed, Double(c.fetchedOK + c.fetchFailed) / t,
            c.imaged,
            c.kept, c.dropped)
        if c.bytesTotal > 0 {
            let fraction = Double(c.bytesRead) / Double(c.bytesTotal)
            s += String(format: " | input %.0f%%", fraction * 100)
            if fraction > 0.02 && fraction < 1 { s += String(format: " ETA %.0fs", elapsed / fraction - elapsed) }
        }
        return s
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
        // The counters without the time decide whether anything is new: the final line repeats no update.
        guard let counters = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) else { return }
        let key = String(decoding: counters, as: UTF8.self)
        if key == lastLine { return }
        lastLine = key
        o["elapsed_s"] = (elapsed * 10).rounded() / 10
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
