import Foundation
import Synchronization
import Testing
import WinnowCore
import WinnowTestSupport

@testable import WinnowImage

@Suite struct DecodeBudgetTests {
    /// Runs `images` through `processor` on `workers` threads, as the pipeline's image workers do.
    static func run(_ processor: ImageProcessor, _ images: [[UInt8]], workers: Int) -> [Sample] {
        let queue = Mutex<[Int]>(Array(images.indices))
        let done = Mutex<[Int: Sample]>([:])
        let group = DispatchGroup()
        for _ in 0..<workers {
            group.enter()
            Thread {
                while let k = queue.withLock({ $0.popLast() }) {
                    var s = sample(images[k])
                    processor.process(&s)
                    done.withLock { $0[k] = s }
                }
                group.leave()
            }.start()
        }
        group.wait()
        return images.indices.compactMap { k in done.withLock { $0[k] } }
    }

    /// A budget that fits one image at a time, 4 workers, 8 images: every image is processed (waiting workers are
    /// woken, nobody waits for ever), and never was more than one image's share reserved.
    @Test func waitingWorkersAllFinish() throws {
        var st = ImageSettings()
        st.minBytes = 0
        let png = FlatPNG.make(width: 600, height: 400, depth: 8, pixel: [200, 100, 50, 128])
        let needed = ImageProcessor(settings: st).bytesNeeded(png, format: .png, width: 600, height: 400)
        let processor = ImageProcessor(settings: st, budget: DecodeBudget(bytes: needed + needed / 2))
        let out = Self.run(processor, Array(repeating: png, count: 8), workers: 4)
        #expect(out.count == 8 && out.allSatisfy(\.isKept), "\(out.map(\.outcome))")
        #expect(processor.budget.highWater == needed, "one image's share at a time")
        #expect(processor.budget.inUse == 0)
    }

    /// An image whose decode needs more than the whole budget: a PNG is dropped with its own reason (before any
    /// allocation), a JPEG is decoded at a smaller DCT scale that fits.
    @Test func imagesLargerThanTheBudget() throws {
        var st = ImageSettings()
        st.minBytes = 0
        st.resizeMode = .no
        let png = FlatPNG.make(width: 2000, height: 1500, depth: 16, pixel: [1000, 2000, 3000, 65535])
        let processor = ImageProcessor(settings: st, budget: DecodeBudget(megabytes: 2))
        var s = sample(png)
        processor.process(&s)
        #expect(s.outcome.reason?.code == "too_many_pixels_for_budget", "\(s.outcome)")
        #expect(s.outcome.reason?.detail.contains("2000x1500 png") == true)

        let jpeg = try Codec.encodeJPEG(RGBImage(width: 2000, height: 1600, fill: (10, 120, 240)), quality: 80)
        #expect(ImageProcessor(settings: st).bytesNeeded(jpeg, format: .jpeg, width: 2000, height: 1600) > 2 << 20)
        var j = sample(jpeg)
        processor.process(&j)
        #expect(j.isKept, "\(j.outcome)")
        #expect(j.image?.storedWidth == 500 && j.image?.storedHeight == 400, "decoded at 1/4")
        #expect(processor.budget.highWater <= 2 << 20 && processor.budget.inUse == 0)
    }

    /// 16-bit PNGs with no colour space are read a row at a time now: the same pixels (within 1) as the
    /// simplified-API path gave before (its output recorded in `*_before_budget.rgb`), interlaced or not, with
    /// alpha, a tRNS colour key or neither.
    @Test(arguments: [
        ("png_rgba16_gradient_61x37.png", "png_rgba16_gradient_61x37_before_budget.rgb"),
        ("png_rgba16_gradient_61x37_adam7.png", "png_rgba16_gradient_61x37_before_budget.rgb"),
        ("png_rgb16_gradient_61x37.png", "png_rgb16_gradient_61x37_before_budget.rgb"),
        ("png_grey16_trns_61x37.png", "png_grey16_trns_61x37_before_budget.rgb"),
    ])
    func sixteenBitPNGsKeepTheirPixels(file: String, before: String) throws {
        let image = try Codec.decodePNG(try fixture(file))
        let expected = try fixture(before)
        #expect(image.width == 61 && image.height == 37 && image.pixels.count == expected.count)
        let worst = zip(image.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 99
        #expect(worst <= 1, "\(file): off by \(worst)")
    }

    /// The fast path turns RGBA into RGB in its own buffer: the pixels of the whole-buffer way (RGBA, then over
    /// white), and a result no larger than it needs.
    @Test func fastPathComposesInPlace() throws {
        let png = FlatPNG.make(width: 300, height: 200, depth: 8, pixel: [200, 100, 50, 128])
        let fast = try #require(Codec.decodePNGFast(png))
        var rgba: [UInt8] = [200, 100, 50, 128]  // var: overWhite reads through a pointer
        let one = rgba.withUnsafeMutableBufferPointer { Codec.overWhite($0.baseAddress!, width: 1, height: 1) }
        #expect(fast.pixels == Array([[UInt8]](repeating: one.pixels, count: 300 * 200).joined()))
        #expect(fast.pixels.capacity - fast.pixels.count <= fast.pixels.count / 8)
    }
}
