import Foundation
import Synchronization

/// Fault injection for the resume tests: with `WINNOW_CRASH_AT=NAME:N` in the environment, the process kills itself
/// with SIGKILL the Nth time it reaches the point NAME (`shard-renamed`, `embeddings-written`, `index-committed`), so
/// that a test can stop a run at the exact moments a random kill rarely hits. Without the variable it does nothing.
public enum CrashPoint {
    private static let target: (name: String, count: Int)? = {
        guard let spec = ProcessInfo.processInfo.environment["WINNOW_CRASH_AT"] else { return nil }
        let parts = spec.split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]), n >= 1 else { return nil }
        return (String(parts[0]), n)
    }()
    private static let hits = Atomic<Int>(0)

    /// Marks that the process reached `name`.
    public static func reached(_ name: String) {
        guard let t = target, t.name == name else { return }
        if hits.add(1, ordering: .relaxed).newValue == t.count { kill(getpid(), SIGKILL) }
    }
}
