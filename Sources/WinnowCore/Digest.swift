internal import CCrypto

/// The digests Winnow records, computed by OpenSSL's libcrypto (which uses the CPU's SHA extensions where present).
public enum DigestAlgorithm: Int32, Sendable, CaseIterable {
    /// SHA-256 (FIPS 180-4): content hashes, shard checksums.
    case sha256 = 0
    /// SHA-1: removal hash lists are often SHA-1.
    case sha1 = 1
    /// MD5 (RFC 1321): cc2dataset's `uid`, removal hash lists.
    case md5 = 2

    /// The digest of `bytes`.
    public func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        let size = out.withUnsafeMutableBufferPointer {
            winnow_digest(rawValue, bytes.baseAddress, bytes.count, $0.baseAddress)
        }
        precondition(size > 0, "libcrypto could not compute \(self)")
        out.removeLast(out.count - Int(size))
        return out
    }

    /// The digest of `bytes`.
    public func hash(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { hash($0) } }

    /// The digest of `bytes`, lower-case hex.
    public func hexDigest(_ bytes: [UInt8]) -> String { hex(hash(bytes)) }
}

/// An incremental digest.
public final class Digest: @unchecked Sendable {
    private let context: OpaquePointer
    private var finished = false

    /// Starts a digest.
    public init(_ algorithm: DigestAlgorithm) {
        guard let c = winnow_digest_new(algorithm.rawValue) else {
            // Fails only when malloc does, or when libcrypto lacks SHA-256/SHA-1/MD5 (its default provider always
            // has them); no input can cause it.
            fatalError("libcrypto could not start \(algorithm)")  // ok: an invariant of the library, not of input
        }
        context = c
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "update after finalize")
        if bytes.count > 0 { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }

    /// Adds bytes.
    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// Finishes and returns the digest; the object takes no more bytes.
    public func finalize() -> [UInt8] {
        precondition(!finished, "finalize called twice")
        finished = true
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var size: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &size) }
        out.removeLast(out.count - Int(size))
        return out
    }
}

/// The three digests removal lists come in, of one buffer, in one pass over it (the image stage's hashes of every
/// download): lower-case hex.
public func contentDigests(_ bytes: [UInt8]) -> (sha256: String, md5: String, sha1: String) {
    var a = [UInt8](repeating: 0, count: 32)
    var b = [UInt8](repeating: 0, count: 16)
    var c = [UInt8](repeating: 0, count: 20)
    bytes.withUnsafeBytes { data in
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    winnow_digest3(data.baseAddress, data.count, pa.baseAddress, pb.baseAddress, pc.baseAddress)
                }
            }
        }
    }
    return (hex(a), hex(b), hex(c))
}

/// SHA-256 of whole buffers (the content hash of every download).
public enum SHA256 {
    /// The 32-byte digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] { DigestAlgorithm.sha256.hash(bytes) }
    /// The digest of `bytes`, lower-case hex.
    public static func hexDigest(_ bytes: [UInt8]) -> String { DigestAlgorithm.sha256.hexDigest(bytes) }
}

/// MD5, for cc2dataset's `uid` (md5 of alt + url) and for removal hash lists.
public enum MD5 {
    /// The digest of `bytes`, lower-case hex.
    public static func hexDigest(_ bytes: [UInt8]) -> String { DigestAlgorithm.md5.hexDigest(bytes) }

    /// Writes the 16-byte digest of `bytes` into `digest`, without allocating: `winnow parse` computes millions
    /// of `uid`s.
    static func digest(_ bytes: UnsafeRawBufferPointer, into digest: UnsafeMutableBufferPointer<UInt8>) {
        precondition(digest.count >= 16)
        winnow_md5(bytes.baseAddress, bytes.count, digest.baseAddress)
    }
}
