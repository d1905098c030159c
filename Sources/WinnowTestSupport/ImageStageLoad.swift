import Foundation
import Synchronization
import WinnowCore
import WinnowImage

/// Runs the image stage as a run's image workers do: `threads` threads taking `copies` samples of `image` from one
/// counter through `processor`, for the decode-budget test and `winnow-bench decode-peak`. Returns the outcomes by
/// reason (`kept` for kept samples).
public func processConcurrently(_ image: [UInt8], copies: Int, threads: Int, with processor: ImageProcessor)
    -> [String: Int]
{
    let next = Mutex(0)
    let outcomes = Mutex<[String: Int]>([:])
    let group = DispatchGroup()
    for _ in 0..<threads {
        group.enter()
        Thread {
            while let k = next.withLock({ n -> Int? in
                defer { n += 1 }
                return n < copies ? n : nil
            }) {
                var s = Sample(
                    candidate: Candidate(
                        url: "http://b.test/\(k).png", caption: "", pageURL: "",
                        provenance: Provenance(inputFile: "", recordOffset: 0)))
                s.original = image
                processor.process(&s)
                outcomes.withLock { $0[s.outcome.reason?.code ?? "kept", default: 0] += 1 }
            }
            group.leave()
        }.start()
    }
    group.wait()
    return outcomes.withLock { $0 }
}
