import Foundation
import Testing
import WinnowPipeline

@testable import WinnowCLI

/// Issue 21: the terminal progress line. It shows the embed stage when there is one, the share of the candidates
/// written and an ETA once there is a rate, and each stage's rate stops at the stage's end instead of falling.
@Suite struct ProgressLineTests {
    @Test func theLineShowsEmbedPercentETAAndStageRates() {
        var c = RunCounters()
        c.parsed = 1000
        c.bytesRead = 100
        c.bytesTotal = 100
        c.parseDoneAt = 1
        c.fetchedOK = 400
        c.fetchFailed = 100
        c.imaged = 400
        c.embedStage = true
        c.embedded = 380
        c.kept = 300
        c.dropped = 200
        let line = TerminalProgress.line(c, elapsed: 10)
        #expect(line.contains("parse 1,000 done"), "\(line)")
        #expect(line.contains("embed 380"), "\(line)")
        #expect(line.contains("50% of 1,000 ETA 10s"), "\(line)")
        #expect(line.contains("(50/s)"), "\(line)")
        // The fetch stage ended at 10 s: its rate is the same at 100 s.
        c.fetchDoneAt = 10
        #expect(TerminalProgress.line(c, elapsed: 100).contains("(50/s)"))
        // Without an embed stage, no embed count; before the input is read, an estimate.
        c.embedStage = false
        c.parseDoneAt = nil
        c.bytesRead = 50
        let early = TerminalProgress.line(c, elapsed: 10)
        #expect(!early.contains("embed") && early.contains("25% of about 2,000"), "\(early)")
    }

    @Test func durationsForPeople() {
        #expect(TerminalProgress.duration(42) == "42s")
        #expect(TerminalProgress.duration(185) == "3m05s")
        #expect(TerminalProgress.duration(7620) == "2h07m")
    }
}
