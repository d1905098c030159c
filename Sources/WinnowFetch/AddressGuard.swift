internal import CCurl
import Foundation

/// An IPv4 or IPv6 network in CIDR notation, e.g. `127.0.0.0/8` or `fc00::/7`.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    /// Network address bytes (4 or 16).
    public let address: [UInt8]
    /// Prefix length in bits.
    public let prefix: Int

    /// Parses `a.b.c.d/n` or `x::y/n` (a bare address means a single host). Nil if malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let bytes = CIDR.parseAddress(String(parts[0])) else { return nil }
        let maxPrefix = bytes.count * 8
        if parts.count == 2 {
            guard let p = Int(parts[1]), p >= 0, p <= maxPrefix else { return nil }
            prefix = p
        } else {
            prefix = maxPrefix
        }
        address = bytes
    }

    /// Whether `bytes` (an address of the same family) lies in this network.
    public func contains(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == address.count else { return false }
        var bits = prefix
        for i in 0..<bytes.count where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xff : UInt8(0xff << (8 - bits) & 0xff)
            if bytes[i] & mask != address[i] & mask { return false }
            bits -= 8
        }
        return true
    }

    public var description: String { "\(CIDR.format(address))/\(prefix)" }

    /// The bytes of a textual IPv4 or IPv6 address.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Text form of an address.
    public static func format(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Decides which addresses may be connected to: by default no private, loopback, link-local, multicast or reserved
/// address, unless a range is explicitly allowed. Checked on the address actually connected, at every redirect.
public struct AddressGuard: Sendable {
    /// Ranges refused by default (RFC 6890 special-purpose registries).
    public static let refusedByDefault: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32", "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96",
        "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
    ].compactMap { CIDR($0) }

    /// Ranges explicitly allowed (e.g. `127.0.0.0/8` for tests and the demo).
    public var allowed: [CIDR]

    /// Creates a guard that allows `allowed` on top of public addresses.
    public init(allowed: [CIDR] = []) {
        self.allowed = allowed
    }

    /// Nil if `bytes` may be connected to, else why not.
    public func refusal(for bytes: [UInt8]) -> String? {
        var check = bytes
        // IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
        if bytes.count == 16 && bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            check = Array(bytes[12..<16])
        }
        if allowed.contains(where: { $0.contains(check) }) { return nil }
        if let range = AddressGuard.refusedByDefault.first(where: { $0.contains(check) }) {
            return "\(CIDR.format(check)) is in the refused range \(range)"
        }
        return nil
    }
}

extension AddressGuard {
    /// For a libcurl open-socket callback: a socket for `address` when the guard allows it, else CURL_SOCKET_BAD with
    /// the reason in `refused`.
    func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>, refused: inout String?) -> curl_socket_t {
        let family = winnow_sockaddr_family(address)
        let sa = winnow_sockaddr_addr(address)!  // ok: the address of a struct member
        var bytes: [UInt8] = []
        if family == AF_INET {
            sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                var a = p.pointee.sin_addr
                bytes = withUnsafeBytes(of: &a) { Array($0) }
            }
        } else if family == AF_INET6 {
            sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                var a = p.pointee.sin6_addr
                bytes = withUnsafeBytes(of: &a) { Array($0) }
            }
        } else {
            refused = "address family \(family) is not IPv4 or IPv6"
            return CURL_SOCKET_BAD
        }
        if let why = refusal(for: bytes) {
            refused = why
            return CURL_SOCKET_BAD
        }
        return socket(family, winnow_sockaddr_socktype(address), winnow_sockaddr_protocol(address))
    }
}
