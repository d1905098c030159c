// The container scan of include/winnow_scan.h (the string and ASCII scans are static inline there).
//
// A 64-byte block is read as four bit sets: backslashes, quotes, opening and closing brackets. Backslashes are
// followed first: each one that is not itself escaped escapes the byte after it (carried into the next block at the
// end). The unescaped quotes' prefix XOR then marks the bytes inside strings (carried too), and the brackets outside
// strings are what counts. That reading agrees with the byte-at-a-time state machine as long as every backslash is
// inside a string, which is what JSON allows; a block with one outside is walked byte by byte instead.
#include "winnow_scan.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define WINNOW_X86 1
#endif

/// The bytes that the backslashes of a block escape; `*carry` is 1 when the block's first byte is escaped (a
/// backslash ended the block before), and is set for the next block.
static inline uint64_t escaped_bytes(uint64_t backslashes, int *carry) {
    uint64_t escaped = 0;
    if (*carry) {
        escaped = 1;
        backslashes &= ~1ull;  // an escaped backslash escapes nothing
    }
    *carry = 0;
    while (backslashes) {
        unsigned k = (unsigned)__builtin_ctzll(backslashes);
        if (k == 63) {
            *carry = 1;
            break;
        }
        escaped |= 1ull << (k + 1);
        backslashes &= ~(3ull << k);  // this backslash, and the next byte if it is one
    }
    return escaped;
}

/// Bit k set for the bytes from an opening quote up to just before its closing one.
static inline uint64_t prefix_xor(uint64_t quotes) {
    quotes ^= quotes << 1;
    quotes ^= quotes << 2;
    quotes ^= quotes << 4;
    quotes ^= quotes << 8;
    quotes ^= quotes << 16;
    quotes ^= quotes << 32;
    return quotes;
}

/// Whether the element at p[at] (a '{', with 18 bytes after it) must be looked at: it starts `{"path":"IMG@/src"`,
/// or it does not start `{"path":"` (keys in another order, spaces). Read as words: 8 + 1 and 8 + 1 bytes.
static inline int may_be_image(const uint8_t *p, size_t at) {
    uint64_t head, tail;
    memcpy(&head, p + at, 8);
    memcpy(&tail, p + at + 9, 8);
    static const char path[9] = {'{', '"', 'p', 'a', 't', 'h', '"', ':', '"'};
    static const char image[9] = {'I', 'M', 'G', '@', '/', 's', 'r', 'c', '"'};
    uint64_t path_word, image_word;
    memcpy(&path_word, path, 8);
    memcpy(&image_word, image, 8);
    if (head != path_word || p[at + 8] != '"') return 1;
    return tail == image_word && p[at + 17] == '"';
}

// A '{' at depth 1, at k, starts an element: listed if it may be an image link.
#define WINNOW_ELEMENT(k)                                                                   \
    do {                                                                                    \
        size_t at_ = (k);                                                                   \
        if (found && depth == 1 && p[at_] == '{' && (at_ + 18 > n || may_be_image(p, at_))) { \
            if (*count == capacity) return -2;                                              \
            found[(*count)++] = at_;                                                        \
        }                                                                                   \
    } while (0)

// The scan's loop, with MASKS(q) setting the four bit sets of the 64 bytes at q (backslashes, quotes, opens,
// closes); expanded once for each instruction set.
#define WINNOW_SCAN_BODY(MASKS, PREFIX_XOR)                                                         \
    size_t depth = 1;                                                                               \
    int in_string = 0;                                                                              \
    int escaped = 0;                                                                                \
    if (count) *count = 0;                                                                          \
    while (i + 64 <= n) {                                                                           \
        uint64_t backslashes, quotes, opens, closes;                                                \
        MASKS(p + i);                                                                               \
        int carry = escaped;                                                                        \
        uint64_t inside = 0;                                                                        \
        int walk = 0;                                                                               \
        if (backslashes | (uint64_t)carry) {                                                        \
            quotes &= ~escaped_bytes(backslashes, &carry);                                          \
            inside = PREFIX_XOR(quotes) ^ (in_string ? ~0ull : 0);                                  \
            walk = (backslashes & ~inside) != 0;                                                    \
        } else {                                                                                    \
            inside = PREFIX_XOR(quotes) ^ (in_string ? ~0ull : 0);                                  \
        }                                                                                           \
        if (walk) {                                                                                 \
            for (size_t k = 0; k < 64; k++) {                                                       \
                if (!in_string) WINNOW_ELEMENT(i + k);                                              \
                if (winnow_json_skip_step(p[i + k], &in_string, &escaped, &depth)) return (ptrdiff_t)(i + k + 1); \
            }                                                                                       \
            i += 64;                                                                                \
            continue;                                                                               \
        }                                                                                           \
        escaped = carry;                                                                            \
        in_string = (int)(inside >> 63);                                                            \
        opens &= ~inside;                                                                           \
        closes &= ~inside;                                                                          \
        size_t nc = (size_t)__builtin_popcountll(closes);                                           \
        if (!found && nc < depth) {                                                                 \
            depth = depth - nc + (size_t)__builtin_popcountll(opens);                               \
            i += 64;                                                                                \
            continue;                                                                               \
        }                                                                                           \
        uint64_t brackets = opens | closes;                                                         \
        while (brackets) {                                                                          \
            unsigned k = (unsigned)__builtin_ctzll(brackets);                                       \
            if ((opens >> k) & 1) {                                                                 \
                WINNOW_ELEMENT(i + k);                                                              \
                depth++;                                                                            \
            } else if (--depth == 0) {                                                              \
                return (ptrdiff_t)(i + k + 1);                                                      \
            }                                                                                       \
            brackets &= brackets - 1;                                                               \
        }                                                                                           \
        i += 64;                                                                                    \
    }                                                                                               \
    for (; i < n; i++) {                                                                            \
        if (!in_string) WINNOW_ELEMENT(i);                                                          \
        if (winnow_json_skip_step(p[i], &in_string, &escaped, &depth)) return (ptrdiff_t)(i + 1);   \
    }                                                                                               \
    return -1;

#if WINNOW_X86
// '{' and '[' differ only in bit 5, as do '}' and ']': one comparison after setting it finds both.
#define WINNOW_MASKS_SSE2(q)                                                                           \
    do {                                                                                               \
        const __m128i bs_ = _mm_set1_epi8('\\'), qu_ = _mm_set1_epi8('"');                             \
        const __m128i op_ = _mm_set1_epi8('{'), cl_ = _mm_set1_epi8('}'), b5_ = _mm_set1_epi8(0x20);   \
        backslashes = quotes = opens = closes = 0;                                                     \
        for (int k_ = 0; k_ < 4; k_++) {                                                               \
            __m128i x_ = _mm_loadu_si128((const __m128i *)((q) + 16 * k_));                            \
            __m128i f_ = _mm_or_si128(x_, b5_);                                                        \
            unsigned s_ = 16 * (unsigned)k_;                                                           \
            backslashes |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x_, bs_)) << s_;       \
            quotes |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x_, qu_)) << s_;            \
            opens |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(f_, op_)) << s_;             \
            closes |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(f_, cl_)) << s_;            \
        }                                                                                              \
    } while (0)

#define WINNOW_MASKS_AVX2(q)                                                                                \
    do {                                                                                                    \
        const __m256i bs_ = _mm256_set1_epi8('\\'), qu_ = _mm256_set1_epi8('"');                            \
        const __m256i op_ = _mm256_set1_epi8('{'), cl_ = _mm256_set1_epi8('}'), b5_ = _mm256_set1_epi8(0x20); \
        __m256i lo_ = _mm256_loadu_si256((const __m256i *)(q));                                             \
        __m256i hi_ = _mm256_loadu_si256((const __m256i *)((q) + 32));                                      \
        __m256i flo_ = _mm256_or_si256(lo_, b5_), fhi_ = _mm256_or_si256(hi_, b5_);                         \
        backslashes = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo_, bs_)) |                \
                      (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi_, bs_)) << 32;           \
        quotes = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo_, qu_)) |                     \
                 (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi_, qu_)) << 32;                \
        opens = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(flo_, op_)) |                     \
                (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(fhi_, op_)) << 32;                \
        closes = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(flo_, cl_)) |                    \
                 (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(fhi_, cl_)) << 32;               \
    } while (0)

#define WINNOW_MASKS_AVX512(q)                                                      \
    do {                                                                            \
        __m512i x_ = _mm512_loadu_si512((const void *)(q));                         \
        __m512i f_ = _mm512_or_si512(x_, _mm512_set1_epi8(0x20));                   \
        backslashes = _mm512_cmpeq_epi8_mask(x_, _mm512_set1_epi8('\\'));          \
        quotes = _mm512_cmpeq_epi8_mask(x_, _mm512_set1_epi8('"'));                 \
        opens = _mm512_cmpeq_epi8_mask(f_, _mm512_set1_epi8('{'));                  \
        closes = _mm512_cmpeq_epi8_mask(f_, _mm512_set1_epi8('}'));                 \
    } while (0)

static ptrdiff_t scan_sse2(const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count) {
    WINNOW_SCAN_BODY(WINNOW_MASKS_SSE2, prefix_xor)
}

/// `prefix_xor` in one carry-less multiplication by all ones.
__attribute__((target("pclmul"))) static inline uint64_t prefix_xor_clmul(uint64_t quotes) {
    __m128i product = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)quotes), _mm_set1_epi8((char)0xff), 0);
    return (uint64_t)_mm_cvtsi128_si64(product);
}

__attribute__((target("avx2,pclmul"))) static ptrdiff_t scan_avx2(
    const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count) {
    WINNOW_SCAN_BODY(WINNOW_MASKS_AVX2, prefix_xor_clmul)
}

__attribute__((target("avx512f,avx512bw,pclmul"))) static ptrdiff_t scan_avx512(
    const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count) {
    WINNOW_SCAN_BODY(WINNOW_MASKS_AVX512, prefix_xor_clmul)
}

/// Whether the CPU (and the system) has AVX-512 BW, asked once.
static int have_avx512(void) {
    static int known = -1;
    int a = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (a < 0) {
        __builtin_cpu_init();
        a = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("pclmul")
                ? 1
                : 0;
        __atomic_store_n(&known, a, __ATOMIC_RELAXED);
    }
    return a;
}

/// Whether the CPU has AVX2 and carry-less multiplication, asked once.
static int have_avx2(void) {
    static int known = -1;
    int a = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (a < 0) {
        __builtin_cpu_init();
        a = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") ? 1 : 0;
        __atomic_store_n(&known, a, __ATOMIC_RELAXED);
    }
    return a;
}
#endif

/// The byte-at-a-time scan: the reference the block scans agree with, and what other CPUs run.
static ptrdiff_t scan_bytes(const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count) {
    size_t depth = 1;
    int in_string = 0;
    int escaped = 0;
    if (count) *count = 0;
    for (; i < n; i++) {
        if (!in_string) WINNOW_ELEMENT(i);
        if (winnow_json_skip_step(p[i], &in_string, &escaped, &depth)) return (ptrdiff_t)(i + 1);
    }
    return -1;
}

ptrdiff_t winnow_json_scan_using(
    int isa, const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count) {
#if WINNOW_X86
    if (isa >= 3 && have_avx512()) return scan_avx512(p, i, n, found, capacity, count);
    if (isa >= 2 && have_avx2()) return scan_avx2(p, i, n, found, capacity, count);
    if (isa >= 1) return scan_sse2(p, i, n, found, capacity, count);
#else
    (void)isa;
#endif
    return scan_bytes(p, i, n, found, capacity, count);
}

ptrdiff_t winnow_json_scan(const uint8_t *p, size_t i, size_t n, size_t *found, size_t capacity, size_t *count) {
#if WINNOW_X86
    if (have_avx512()) return scan_avx512(p, i, n, found, capacity, count);
    if (have_avx2()) return scan_avx2(p, i, n, found, capacity, count);
    return scan_sse2(p, i, n, found, capacity, count);
#else
    return scan_bytes(p, i, n, found, capacity, count);
#endif
}
