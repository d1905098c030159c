import Foundation

/// A blocking FIFO of fixed capacity between pipeline stages: a full queue blocks its producers (backpressure),
/// an empty one its consumers. Closed when its last producer finishes.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: every field is read and written only while holding `mutex`.
    // One mutex, a condition for each side, and counts of who waits. Wake-ups come in batches: a push wakes a
    // waiting consumer once `wakeBatch` elements are there, a pop wakes a waiting producer once there is room for
    // `wakeBatch`, and an idle consumer also looks every `pollInterval` so that a lone element is never stuck.
    // (Waking a thread for every element made futex calls the largest cost of runs whose samples mostly drop
    // early: a million candidates cost 80 s of system time.)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let notEmpty = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let notFull = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var waitingConsumers = 0
    private var waitingProducers = 0
    // Taken slots are set to nil at once: a consumed element must not live on until the next compaction (batches
    // of candidates held that way cost a parse 100 MB).
    private var items: [Element?] = []
    private var head = 0
    private let capacity: Int
    private var producers: Int
    private var cancelled = false
    private let wakeBatch: Int
    private static var pollInterval: Int { 2_000_000 }  // nanoseconds

    /// A queue of `capacity` elements that closes when `producers` producers are done.
    public init(capacity: Int, producers: Int = 1) {
        self.capacity = capacity
        self.producers = producers
        wakeBatch = max(1, min(16, capacity / 4))
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(notEmpty, nil)
        pthread_cond_init(notFull, nil)
    }

    deinit {
        pthread_cond_destroy(notFull)
        pthread_cond_destroy(notEmpty)
        pthread_mutex_destroy(mutex)
        notFull.deallocate()
        notEmpty.deallocate()
        mutex.deallocate()
    }

    private var count: Int { items.count - head }

    /// Adds an element, waiting while the queue is full.
    public func push(_ e: Element) {
        pthread_mutex_lock(mutex)
        if cancelled {
            pthread_mutex_unlock(mutex)
            return
        }
        while count >= capacity && !cancelled {
            waitingProducers += 1
            pthread_cond_wait(notFull, mutex)
            waitingProducers -= 1
        }
        if cancelled {
            pthread_mutex_unlock(mutex)
            return
        }
        items.append(e)
        if waitingConsumers > 0 && count >= wakeBatch { pthread_cond_signal(notEmpty) }
        pthread_mutex_unlock(mutex)
    }

    /// Closes the queue at once for everyone: what it holds is dropped, pushes are ignored, pops return nil (a
    /// stopped run's stages wind down this way).
    public func cancel() {
        pthread_mutex_lock(mutex)
        cancelled = true
        producers = 0
        items.removeAll()
        head = 0
        pthread_cond_broadcast(notEmpty)
        pthread_cond_broadcast(notFull)
        pthread_mutex_unlock(mutex)
    }

    /// Marks one producer finished; the queue closes when all are.
    public func producerDone() {
        pthread_mutex_lock(mutex)
        producers -= 1
        if producers <= 0 { pthread_cond_broadcast(notEmpty) }
        pthread_mutex_unlock(mutex)
    }

    /// Takes an element, waiting while empty; nil once closed and drained.
    public func pop() -> Element? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while count == 0 {
            if producers <= 0 { return nil }
            waitingConsumers += 1
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_nsec += BoundedQueue.pollInterval
            if deadline.tv_nsec >= 1_000_000_000 {
                deadline.tv_sec += 1
                deadline.tv_nsec -= 1_000_000_000
            }
            pthread_cond_timedwait(notEmpty, mutex, &deadline)
            waitingConsumers -= 1
        }
        return take()
    }

    /// Takes an element without waiting: `.some(e)`, `.none` with `closed` telling whether more may come.
    public func tryPop() -> (Element?, closed: Bool) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if count == 0 { return (nil, producers <= 0) }
        return (take(), false)
    }

    private func take() -> Element {
        let e = items[head].take()!  // ok: slots from head on are filled
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        if waitingProducers > 0 && capacity - count >= wakeBatch { pthread_cond_signal(notFull) }
        return e
    }
}
