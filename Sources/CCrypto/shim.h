#ifndef WINNOW_CCRYPTO_SHIM_H
#define WINNOW_CCRYPTO_SHIM_H
// MD5() is deprecated in OpenSSL 3 in favour of EVP, but stays in libcrypto 3.x; see winnow_md5.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

// OpenSSL's libcrypto for the digests: it uses the CPU's SHA extensions where present (about 7x our own Swift
// SHA-256 on this machine). `algorithm`: 0 SHA-256, 1 SHA-1, 2 MD5.
static inline const EVP_MD *winnow_digest_md(int algorithm) {
    switch (algorithm) {
    case 0: return EVP_sha256();
    case 1: return EVP_sha1();
    default: return EVP_md5();
    }
}

/// One-shot digest of `len` bytes into `out` (at least EVP_MAX_MD_SIZE bytes). Returns the digest length, 0 on failure.
static inline unsigned winnow_digest(int algorithm, const void *data, size_t len, unsigned char *out) {
    unsigned size = 0;
    if (EVP_Digest(data, len, out, &size, winnow_digest_md(algorithm), NULL) != 1) return 0;
    return size;
}

/// MD5 of `len` bytes into `out` (16 bytes), by libcrypto's assembly MD5 without the EVP layer: EVP_Digest costs
/// about three times the digest itself for a short input (cc2dataset's uid of a url and caption), per perf.
static inline void winnow_md5(const void *data, size_t len, unsigned char *out) { MD5(data, len, out); }

/// A streaming context, or NULL.
static inline EVP_MD_CTX *winnow_digest_new(int algorithm) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, winnow_digest_md(algorithm), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
/// SHA-256, MD5 and SHA-1 of the same bytes in one pass: each 64 KiB block goes through the three while it is in
/// cache, through the low-level contexts (libcrypto's assembly, SHA extensions included; no EVP dispatch per call).
/// `sha256` takes 32 bytes, `md5` 16, `sha1` 20.
static inline void winnow_digest3(const void *data, size_t len, unsigned char *sha256, unsigned char *md5,
                                  unsigned char *sha1) {
    SHA256_CTX a;
    MD5_CTX b;
    SHA_CTX c;
    SHA256_Init(&a);
    MD5_Init(&b);
    SHA1_Init(&c);
    const unsigned char *p = (const unsigned char *)data;
    while (len > 0) {
        size_t n = len < 65536 ? len : 65536;
        SHA256_Update(&a, p, n);
        MD5_Update(&b, p, n);
        SHA1_Update(&c, p, n);
        p += n;
        len -= n;
    }
    SHA256_Final(sha256, &a);
    MD5_Final(md5, &b);
    SHA1_Final(sha1, &c);
}
#endif
