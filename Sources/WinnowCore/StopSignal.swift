import Foundation
import Synchronization

/// A request to stop a run gracefully: set by SIGINT or SIGTERM (`StopSignal.install()`), or by a caller. Stages
/// look at it between samples; the writer then abandons its open shard, keeps what it committed, and the run ends
/// with `WinnowError.Code.interrupted`.
public final class StopFlag: Sendable {
    private let value = Atomic<Int32>(0)

    /// A flag not yet raised.
    public init() {}

    /// The signal that raised the flag (SIGINT, SIGTERM), -1 when raised by a caller, or nil.
    public var signal: Int32? {
        let v = value.load(ordering: .relaxed)
        return v == 0 ? nil : v
    }

    /// Whether a stop was requested.
    public var isRaised: Bool { value.load(ordering: .relaxed) != 0 }

    /// Raises the flag (`signal` -1 when it is not a signal). The first raise wins.
    public func raise(_ signal: Int32 = -1) {
        _ = value.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
    }
}

/// SIGINT and SIGTERM (Ctrl-C; Slurm's time limit and preemption; Kubernetes' pod deletion) as a graceful stop:
/// the first raises `StopSignal.flag` and restores the default action, so that a second one ends the process at
/// once (which is still safe: every write is atomic and resumable).
public enum StopSignal {
    /// The process-wide flag the handler raises.
    public static let flag = StopFlag()

    /// Installs the handler for SIGINT and SIGTERM, and unblocks them in the calling thread (and so in the
    /// threads it starts): a parent may have started this process with them blocked, which would hold them back
    /// until the run ends.
    public static func install() {
        _ = flag  // created here, never first inside the handler (a lazy global's first use allocates)
        signal(SIGINT, stopHandler)
        signal(SIGTERM, stopHandler)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The exit status for a run stopped by `signal`: 128 + the signal (130 for SIGINT, 143 for SIGTERM).
    public static func exitStatus(_ signal: Int32?) -> Int32 {
        guard let s = signal, s > 0 else { return 130 }
        return 128 + s
    }

    /// The signal's name (`SIGTERM`).
    public static func name(_ signal: Int32?) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case let s? where s > 0: return "signal \(s)"
        default: return "a stop request"
        }
    }
}

// Async-signal-safe: an atomic store and signal(2).
private func stopHandler(_ sig: Int32) {
    StopSignal.flag.raise(sig)
    signal(SIGINT, SIG_DFL)
    signal(SIGTERM, SIG_DFL)
}
