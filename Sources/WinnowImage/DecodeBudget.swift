import Foundation

/// A run-wide budget of bytes for decoded pixels, shared by every image worker: before decoding, a worker reserves
/// what the image will need (`ImageProcessor.bytesNeeded`) and gives it back when the sample is done. A worker
/// whose image does not fit in what is free waits; workers are served first come, first served, so a large image
/// is not starved by small ones. Nothing larger than the whole budget is ever reserved (the caller decodes it more
/// cheaply or drops it), and a worker holds one reservation at a time, so the first in line always fits once the
/// others finish: no deadlock.
public final class DecodeBudget: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is read and written with `condition` locked.
    /// The budget in bytes.
    public let capacity: Int
    private let condition = NSCondition()
    private var reserved = 0
    private var peak = 0
    private var waited = 0
    private var nextTicket = 0
    private var serving = 0

    /// A budget of `bytes`.
    public init(bytes: Int) {
        capacity = max(1, bytes)
    }

    /// A budget of `megabytes` MiB.
    public convenience init(megabytes: Int) {
        self.init(bytes: megabytes << 20)
    }

    /// Takes `bytes` from the budget, waiting until that much is free; false at once, taking nothing, when `bytes`
    /// is more than the whole budget.
    public func reserve(_ bytes: Int) -> Bool {
        guard bytes <= capacity else { return false }
        condition.lock()
        defer { condition.unlock() }
        let ticket = nextTicket
        nextTicket += 1
        if ticket != serving || reserved + bytes > capacity {
            waited += 1
            while ticket != serving || reserved + bytes > capacity { condition.wait() }
        }
        serving += 1
        reserved += bytes
        peak = max(peak, reserved)
        condition.broadcast()  // the next in line may fit too
        return true
    }

    /// Gives back `bytes` taken by `reserve`.
    public func release(_ bytes: Int) {
        condition.lock()
        reserved -= bytes
        precondition(reserved >= 0, "released more than was reserved")
        condition.broadcast()
        condition.unlock()
    }

    /// The most bytes reserved at once so far.
    public var highWater: Int {
        condition.lock()
        defer { condition.unlock() }
        return peak
    }

    /// Bytes reserved now.
    public var inUse: Int {
        condition.lock()
        defer { condition.unlock() }
        return reserved
    }

    /// How many reservations had to wait.
    public var waits: Int {
        condition.lock()
        defer { condition.unlock() }
        return waited
    }
}
