import Foundation

extension BLAS {
    /// The OpenBLAS kernel family to ask for when OpenBLAS's own choice is slower than the CPU allows: Debian 12's
    /// OpenBLAS 0.3.21 takes AMD Zen 4 and Zen 5 (which have AVX-512) for Haswell or Zen and runs AVX2 kernels;
    /// `SkylakeX` runs its AVX-512 kernels, about twice the sgemm rate. Nil when the CPU lacks AVX-512 F, BW, DQ or
    /// VL (those kernels would fault) or OpenBLAS already picked an AVX-512 family.
    public static func preferredCoreType(cpuFlags: Set<String>, detected: String) -> String? {
        guard ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(cpuFlags.contains) else { return nil }
        if ["skylakex", "cooperlake", "sapphirerapids"].contains(detected.lowercased()) { return nil }
        return "SkylakeX"
    }

    /// The CPU's feature flags from /proc/cpuinfo (empty where there is none).
    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
            let colon = line.firstIndex(of: ":")
        else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// OpenBLAS picks its kernels when the library loads, from `OPENBLAS_CORETYPE` or its own detection, so a better
    /// choice takes a fresh start: when `preferredCoreType` names one and the variable is unset, sets it and
    /// re-executes this program with the same arguments (once: the variable is then set). Setting
    /// `OPENBLAS_CORETYPE` yourself, to any value, keeps OpenBLAS's choice as you made it.
    public static func restartWithFasterKernelsIfAvailable() {
        guard getenv("OPENBLAS_CORETYPE") == nil,
            let core = preferredCoreType(cpuFlags: cpuFlags(), detected: coreName)
        else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only on failure: go on with the kernels already loaded.
    }
}
