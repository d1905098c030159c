// Scans of embedding matrices for exact nearest-neighbour search. Kept in C because the half-float conversion
// instruction (F16C) and FMA are only used when the compiler is allowed to target them; the functions below are
// compiled for those instructions alone and chosen at run time, so the binary still runs on any x86-64 (or ARM).
#include "winnow_kernels.h"

#include <string.h>

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t bits = (uint32_t)(h & 0x7fff) << 13;
    float f;
    memcpy(&f, &bits, 4);
    f *= 0x1p112f;  // rebias the exponent: exact for normals and subnormals
    if ((h & 0x7c00) == 0x7c00) {  // infinity and NaN keep their kind
        bits = 0x7f800000u | ((uint32_t)(h & 0x03ff) << 13);
        memcpy(&f, &bits, 4);
    }
    uint32_t out;
    memcpy(&out, &f, 4);
    out |= sign;
    memcpy(&f, &out, 4);
    return f;
}

static void dot_f16_portable(const uint16_t *rows, size_t count, size_t dim, const float *q, float *out) {
    for (size_t i = 0; i < count; i++) {
        const uint16_t *r = rows + i * dim;
        float s = 0;
        for (size_t j = 0; j < dim; j++) s += half_to_float(r[j]) * q[j];
        out[i] = s;
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

__attribute__((target("avx2,fma,f16c"))) static float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma,f16c"))) static void dot_f16_avx2(
    const uint16_t *rows, size_t count, size_t dim, const float *q, float *out) {
    size_t main = dim & ~(size_t)31;
    for (size_t i = 0; i < count; i++) {
        const uint16_t *r = rows + i * dim;
        // Four accumulators hide the FMA latency; the row streams through once.
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        size_t j = 0;
        for (; j < main; j += 32) {
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + j))), _mm256_loadu_ps(q + j), a0);
            a1 = _mm256_fmadd_ps(
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + j + 8))), _mm256_loadu_ps(q + j + 8), a1);
            a2 = _mm256_fmadd_ps(
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + j + 16))), _mm256_loadu_ps(q + j + 16), a2);
            a3 = _mm256_fmadd_ps(
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + j + 24))), _mm256_loadu_ps(q + j + 24), a3);
        }
        float s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; j < dim; j++) s += _cvtsh_ss(r[j]) * q[j];
        out[i] = s;
    }
}

__attribute__((target("avx2,fma"))) static void dot_f32_avx2(
    const float *rows, size_t count, size_t dim, const float *q, float *out) {
    size_t main = dim & ~(size_t)15;
    for (size_t i = 0; i < count; i++) {
        const float *r = rows + i * dim;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        size_t j = 0;
        for (; j < main; j += 16) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + j), _mm256_loadu_ps(q + j), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r + j + 8), _mm256_loadu_ps(q + j + 8), a1);
        }
        float s = hsum256(_mm256_add_ps(a0, a1));
        for (; j < dim; j++) s += r[j] * q[j];
        out[i] = s;
    }
}

static int have_f16c(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#else
static int have_f16c(void) { return 0; }
#endif

// Decided once; a relaxed atomic because several threads may ask first at once (they compute the same answer).
static int use_fast(void) {
    static int fast = -1;
    int f = __atomic_load_n(&fast, __ATOMIC_RELAXED);
    if (f < 0) {
        f = have_f16c();
        __atomic_store_n(&fast, f, __ATOMIC_RELAXED);
    }
    return f;
}

int winnow_kernels_have_f16c(void) { return use_fast(); }

void winnow_dot_rows_f16(const uint16_t *rows, size_t count, size_t dim, const float *query, float *out) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (use_fast()) {
        dot_f16_avx2(rows, count, dim, query, out);
        return;
    }
#endif
    dot_f16_portable(rows, count, dim, query, out);
}

void winnow_dot_rows_f32(const float *rows, size_t count, size_t dim, const float *query, float *out) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (use_fast()) {
        dot_f32_avx2(rows, count, dim, query, out);
        return;
    }
#endif
    for (size_t i = 0; i < count; i++) {
        float s = 0;
        for (size_t j = 0; j < dim; j++) s += rows[i * dim + j] * query[j];
        out[i] = s;
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
__attribute__((target("avx2"))) static uint64_t read_all_avx2(const void *bytes, size_t count) {
    const __m256i *p = (const __m256i *)bytes;
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    size_t n = count / 32, i = 0;
    for (; i + 1 < n; i += 2) {
        a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(p + i));
        a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(p + i + 1));
    }
    if (i < n) a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(p + i));
    a0 = _mm256_xor_si256(a0, a1);
    uint64_t w[4];
    _mm256_storeu_si256((__m256i *)w, a0);
    return w[0] ^ w[1] ^ w[2] ^ w[3];
}
#endif

uint64_t winnow_read_all(const void *bytes, size_t count) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (use_fast()) return read_all_avx2(bytes, count);
#endif
    const uint64_t *p = (const uint64_t *)bytes;
    uint64_t x = 0;
    for (size_t i = 0; i < count / 8; i++) x ^= p[i];
    return x;
}
