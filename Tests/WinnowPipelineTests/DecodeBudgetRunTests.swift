import Foundation
import Synchronization
import Testing
import WinnowCore
import WinnowImage
import WinnowTestSupport

@testable import WinnowPipeline

/// The image stage under hostile input (issue 30): many PNGs near the 89.5 Mpx limit at once.
@Suite(.serialized) struct DecodeBudgetRunTests {
    /// 16 flat 9,400 x 9,400 16-bit RGBA PNGs (5.6 MB each, 707 MB at 16 bits) on 8 image workers, as the runner
    /// sets them up: the budget's own high-water mark (deterministic) stays within it, every image is kept, and the
    /// process's peak RSS is printed, and checked only against the budget with a wide margin.
    @Test func nearLimitPNGsStayWithinTheBudget() throws {
        var config = PipelineConfig()
        config.image.minBytes = 0
        config.image.pdq = false  // PDQ on 88 Mpx in a debug build takes minutes; its share is tested in WinnowImage
        let png = FlatPNG.make(width: 9400, height: 9400, depth: 16, pixel: [40000, 20000, 10000, 65535])
        let processor = ImageProcessor(settings: config.image)
        let needed = processor.bytesNeeded(png, format: .png, width: 9400, height: 9400)
        #expect(needed < processor.budget.capacity && 2 * needed > processor.budget.capacity, "one at a time")

        let outcomes = processConcurrently(png, copies: 16, threads: 8, with: processor)
        let rss = ProcessMemory.peakResidentBytes
        print(
            "near-limit PNGs: \(outcomes), decode budget peak \(processor.budget.highWater >> 20) of "
                + "\(processor.budget.capacity >> 20) MiB, \(processor.budget.waits) waits, peak RSS \(rss >> 20) MiB")
        #expect(outcomes == ["kept": 16])
        #expect(processor.budget.highWater <= processor.budget.capacity)
        #expect(processor.budget.highWater == needed, "never two at once")
        // Before the budget, 8 workers held about 7.3 GB; other suites run beside this one, hence the margin.
        #expect(rss < processor.budget.capacity + (2 << 30))
    }

    @Test func decodeMemoryIsAPipelineSetting() throws {
        let path = TestSupport.temporaryDirectory() + "/p.json"
        try Data(#"{"image": {"decode_memory_mb": 96}}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try PipelineConfig.load(path: path).image.decodeMemoryMB == 96)
        try Data(#"{"image": {"decode_memory_mb": 0}}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: WinnowError.self) { try PipelineConfig.load(path: path) }
        #expect(PipelineConfig().image.decodeMemoryMB == 640)
    }
}
