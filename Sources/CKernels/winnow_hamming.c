// Hamming-distance scans for the perceptual-hash index. Kept in C for two instructions Swift cannot ask for in a
// portable build: POPCNT (Swift's nonzeroBitCount compiles to a dozen shifts and multiplies for baseline x86-64),
// chosen at run time, and software prefetch, which keeps many cache misses in flight while a long loop body runs.
#include "winnow_hamming.h"

#include <string.h>

#define AHEAD 8

static inline __attribute__((always_inline)) int distance256(const uint64_t *h, const uint64_t *q) {
    return __builtin_popcountll(h[0] ^ q[0]) + __builtin_popcountll(h[1] ^ q[1]) + __builtin_popcountll(h[2] ^ q[2])
           + __builtin_popcountll(h[3] ^ q[3]);
}

static inline __attribute__((always_inline)) size_t filter_body(
    const uint64_t *hashes, uint32_t *ids, size_t count, const uint64_t *query, int radius, uint8_t *distances) {
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (i + 2 * AHEAD < count) __builtin_prefetch(hashes + 4 * (size_t)ids[i + 2 * AHEAD]);
        uint32_t id = ids[i];
        int d = distance256(hashes + 4 * (size_t)id, query);
        // Written unconditionally, counted only when within: no branch on the (rarely true) comparison.
        ids[kept] = id;
        distances[kept] = (uint8_t)d;
        kept += d <= radius;
    }
    return kept;
}

static inline __attribute__((always_inline)) int nearest_body(
    const uint64_t *hashes, size_t start, size_t end, const uint64_t *query, size_t *best) {
    int bestDistance = 257;
    size_t bestID = 0;
    for (size_t i = start; i < end; i++) {
        int d = distance256(hashes + 4 * i, query);
        if (d < bestDistance) {
            bestDistance = d;
            bestID = i;
        }
    }
    *best = bestID;
    return bestDistance;
}

static inline __attribute__((always_inline)) size_t scan_body(
    const uint8_t *packed, const uint32_t *starts, const uint32_t *ends, const uint8_t *allowance, size_t buckets,
    unsigned width, unsigned id_bits, uint64_t check, uint32_t *out) {
    const uint64_t entry_mask = (width >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << width) - 1);
    const uint64_t id_mask = ((uint64_t)1 << id_bits) - 1;
    size_t n = 0;
    for (size_t b = 0; b < buckets; b++) {
        if (b + AHEAD < buckets && ends[b + AHEAD] > starts[b + AHEAD]) {
            __builtin_prefetch(packed + ((size_t)starts[b + AHEAD] * width >> 3));
            __builtin_prefetch(packed + (((size_t)ends[b + AHEAD] * width - 1) >> 3));
        }
        const int left = allowance[b];
        size_t bit = (size_t)starts[b] * width;
        for (uint32_t e = starts[b]; e < ends[b]; e++, bit += width) {
            uint64_t word;
            memcpy(&word, packed + (bit >> 3), 8);
            uint64_t entry = (word >> (bit & 7)) & entry_mask;
            out[n] = (uint32_t)(entry & id_mask);
            n += __builtin_popcountll((entry >> id_bits) ^ check) <= left;
        }
    }
    return n;
}

static size_t filter_portable(
    const uint64_t *hashes, uint32_t *ids, size_t count, const uint64_t *query, int radius, uint8_t *distances) {
    return filter_body(hashes, ids, count, query, radius, distances);
}

static int nearest_portable(const uint64_t *hashes, size_t start, size_t end, const uint64_t *query, size_t *best) {
    return nearest_body(hashes, start, end, query, best);
}

static size_t scan_portable(
    const uint8_t *packed, const uint32_t *starts, const uint32_t *ends, const uint8_t *allowance, size_t buckets,
    unsigned width, unsigned id_bits, uint64_t check, uint32_t *out) {
    return scan_body(packed, starts, ends, allowance, buckets, width, id_bits, check, out);
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
__attribute__((target("popcnt"))) static size_t filter_popcnt(
    const uint64_t *hashes, uint32_t *ids, size_t count, const uint64_t *query, int radius, uint8_t *distances) {
    return filter_body(hashes, ids, count, query, radius, distances);
}

__attribute__((target("popcnt"))) static int nearest_popcnt(
    const uint64_t *hashes, size_t start, size_t end, const uint64_t *query, size_t *best) {
    return nearest_body(hashes, start, end, query, best);
}

__attribute__((target("popcnt"))) static size_t scan_popcnt(
    const uint8_t *packed, const uint32_t *starts, const uint32_t *ends, const uint8_t *allowance, size_t buckets,
    unsigned width, unsigned id_bits, uint64_t check, uint32_t *out) {
    return scan_body(packed, starts, ends, allowance, buckets, width, id_bits, check, out);
}

static int have_popcnt(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt");
}
#else
// Other architectures have a population count in their baseline (or the compiler's portable one serves).
#define filter_popcnt filter_portable
#define nearest_popcnt nearest_portable
#define scan_popcnt scan_portable
static int have_popcnt(void) { return 1; }
#endif

// Decided once; a relaxed atomic because several threads may ask first at once (they compute the same answer).
static int use_popcnt(void) {
    static int fast = -1;
    int f = __atomic_load_n(&fast, __ATOMIC_RELAXED);
    if (f < 0) {
        f = have_popcnt();
        __atomic_store_n(&fast, f, __ATOMIC_RELAXED);
    }
    return f;
}

int winnow_hamming_have_popcnt(void) { return use_popcnt(); }

size_t winnow_hamming_filter(
    const uint64_t *hashes, uint32_t *ids, size_t count, const uint64_t *query, int radius, uint8_t *distances) {
    return use_popcnt() ? filter_popcnt(hashes, ids, count, query, radius, distances)
                        : filter_portable(hashes, ids, count, query, radius, distances);
}

int winnow_hamming_nearest(const uint64_t *hashes, size_t start, size_t end, const uint64_t *query, size_t *best) {
    return use_popcnt() ? nearest_popcnt(hashes, start, end, query, best)
                        : nearest_portable(hashes, start, end, query, best);
}

size_t winnow_hamming_scan_buckets(
    const uint8_t *packed, const uint32_t *starts, const uint32_t *ends, const uint8_t *allowance, size_t buckets,
    unsigned width, unsigned id_bits, uint64_t check, uint32_t *out) {
    return use_popcnt() ? scan_popcnt(packed, starts, ends, allowance, buckets, width, id_bits, check, out)
                        : scan_portable(packed, starts, ends, allowance, buckets, width, id_bits, check, out);
}
