import Synchronization

/// Float buffers kept from one call to the next, so that large activations are not fresh pages (and page faults)
/// on every batch. One thread uses a `Scratch` at a time; `ScratchPool` hands them out.
public final class Scratch: @unchecked Sendable {
    // @unchecked: a Scratch is only reachable by the one thread that took it from its pool until it is returned.
    private var slots: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []

    /// An empty scratch.
    public init() {}

    /// Buffer number `slot`, with room for at least `count` floats; its contents are whatever was left in it.
    public func buffer(_ slot: Int, count: Int) -> UnsafeMutablePointer<Float> {
        while slots.count <= slot { slots.append((UnsafeMutablePointer<Float>.allocate(capacity: 1), 1)) }
        if slots[slot].capacity < count {
            slots[slot].pointer.deallocate()
            slots[slot] = (UnsafeMutablePointer<Float>.allocate(capacity: count), count)
        }
        return slots[slot].pointer
    }

    deinit { for s in slots { s.pointer.deallocate() } }
}

/// Scratches for concurrent callers: each call borrows one for its duration.
public final class ScratchPool: Sendable {
    private let free = Mutex<[Scratch]>([])

    /// An empty pool.
    public init() {}

    /// Runs `body` with a scratch no other caller holds meanwhile.
    public func with<R>(_ body: (Scratch) -> R) -> R {
        let scratch = free.withLock { $0.popLast() } ?? Scratch()
        defer { free.withLock { $0.append(scratch) } }
        return body(scratch)
    }
}
