internal import CPSL

/// Registrable domains (the public suffix plus one label: `www.bbc.co.uk` -> `bbc.co.uk`), by the Public Suffix List
/// that libpsl holds (the newer of its built-in list and Debian's `publicsuffix` package). What the EU template calls
/// "the internet domain names (top and second-level domain)", read so that `co.uk` is not a domain.
struct Domains: @unchecked Sendable {  // libpsl's context is read-only after loading, safe to share
    private let psl: OpaquePointer?

    init() {
        psl = psl_latest(nil) ?? psl_builtin()
    }

    /// The registrable domain of a host; an address literal, a public suffix itself, or a host libpsl cannot read
    /// is its own domain.
    func registrable(_ host: String) -> String {
        if host.hasPrefix("[") || host.allSatisfy({ $0.isNumber || $0 == "." }) { return host }
        guard let psl else { return host }
        // libpsl answers with a pointer into the string it was given: copied while that string lives.
        return host.withCString { p in psl_registrable_domain(psl, p).map { String(cString: $0) } } ?? host
    }
}
