// Integer matrix products for int8 linear layers; see winnow_qgemm.h for the layout and the paths.
#include "winnow_qgemm.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define WINNOW_X86 1
#endif

size_t winnow_qgemm_packed_size(size_t n, size_t k) { return ((n + 15) / 16) * ((k + 3) / 4) * 64; }

void winnow_qgemm_pack(const int8_t *b, size_t ldb, size_t n, size_t k, int8_t *packed) {
    size_t blocks = (n + 15) / 16, groups = (k + 3) / 4;
    for (size_t jb = 0; jb < blocks; jb++)
        for (size_t g = 0; g < groups; g++)
            for (size_t jj = 0; jj < 16; jj++)
                for (size_t t = 0; t < 4; t++) {
                    size_t j = jb * 16 + jj, kk = g * 4 + t;
                    packed[((jb * groups + g) * 16 + jj) * 4 + t] = (j < n && kk < k) ? b[j * ldb + kk] : 0;
                }
}

// The 4 activations of group g of a row as one 32-bit word (zeros past k: the row is not padded).
static inline int32_t load4(const uint8_t *row, size_t g, size_t k) {
    uint8_t v[4] = {0, 0, 0, 0};
    size_t start = g * 4, count = k - start < 4 ? k - start : 4;
    memcpy(v, row + start, count);
    int32_t w;
    memcpy(&w, v, 4);
    return w;
}

static void qgemm_portable(const uint8_t *a, size_t lda, const int8_t *packed, size_t n, size_t k, size_t m,
                           int32_t *c, size_t ldc) {
    size_t blocks = (n + 15) / 16, groups = (k + 3) / 4;
    for (size_t i = 0; i < m; i++) {
        const uint8_t *row = a + i * lda;
        for (size_t jb = 0; jb < blocks; jb++) {
            int32_t acc[16] = {0};
            for (size_t g = 0; g < groups; g++) {
                const int8_t *bg = packed + (jb * groups + g) * 64;
                for (size_t t = 0; t < 4; t++) {
                    size_t kk = g * 4 + t;
                    if (kk >= k) break;
                    int32_t x = row[kk];
                    for (size_t jj = 0; jj < 16; jj++) acc[jj] += x * (int32_t)bg[jj * 4 + t];
                }
            }
            for (size_t jj = 0; jj < 16 && jb * 16 + jj < n; jj++) c[i * ldc + jb * 16 + jj] = acc[jj];
        }
    }
}

#ifdef WINNOW_X86
// Four rows at a time share each 64-byte block of B; one 16-lane accumulator per row.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void qgemm_vnni(
    const uint8_t *a, size_t lda, const int8_t *packed, size_t n, size_t k, size_t m, int32_t *c, size_t ldc) {
    size_t blocks = (n + 15) / 16, groups = (k + 3) / 4;
    for (size_t i = 0; i < m; i += 4) {
        size_t rows = m - i < 4 ? m - i : 4;
        const uint8_t *r0 = a + i * lda, *r1 = r0 + (rows > 1 ? lda : 0), *r2 = r0 + (rows > 2 ? 2 * lda : 0),
                      *r3 = r0 + (rows > 3 ? 3 * lda : 0);
        for (size_t jb = 0; jb < blocks; jb++) {
            __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
            const int8_t *bj = packed + jb * groups * 64;
            size_t full = k / 4;
            for (size_t g = 0; g < full; g++) {
                __m512i b = _mm512_loadu_si512((const void *)(bj + g * 64));
                int32_t w0, w1, w2, w3;
                memcpy(&w0, r0 + g * 4, 4);
                memcpy(&w1, r1 + g * 4, 4);
                memcpy(&w2, r2 + g * 4, 4);
                memcpy(&w3, r3 + g * 4, 4);
                c0 = _mm512_dpbusd_epi32(c0, _mm512_set1_epi32(w0), b);
                c1 = _mm512_dpbusd_epi32(c1, _mm512_set1_epi32(w1), b);
                c2 = _mm512_dpbusd_epi32(c2, _mm512_set1_epi32(w2), b);
                c3 = _mm512_dpbusd_epi32(c3, _mm512_set1_epi32(w3), b);
            }
            if (full < groups) {
                __m512i b = _mm512_loadu_si512((const void *)(bj + full * 64));
                c0 = _mm512_dpbusd_epi32(c0, _mm512_set1_epi32(load4(r0, full, k)), b);
                c1 = _mm512_dpbusd_epi32(c1, _mm512_set1_epi32(load4(r1, full, k)), b);
                c2 = _mm512_dpbusd_epi32(c2, _mm512_set1_epi32(load4(r2, full, k)), b);
                c3 = _mm512_dpbusd_epi32(c3, _mm512_set1_epi32(load4(r3, full, k)), b);
            }
            size_t cols = n - jb * 16 < 16 ? n - jb * 16 : 16;
            __mmask16 mask = (__mmask16)((1u << cols) - 1);
            __m512i acc[4] = {c0, c1, c2, c3};
            for (size_t r = 0; r < rows; r++) _mm512_mask_storeu_epi32(c + (i + r) * ldc + jb * 16, mask, acc[r]);
        }
    }
}

// VPMADDUBSW multiplies unsigned by signed bytes and adds pairs into int16 with saturation, exact when the
// activations are at most 127; VPMADDWD by ones then adds pairs of those into int32. Four rows at a time share each
// 64-byte block of B (two registers); eight accumulators.
__attribute__((target("avx2"))) static inline __m256i dot4(__m256i acc, __m256i x, __m256i b, __m256i ones) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, b), ones));
}

__attribute__((target("avx2"))) static void qgemm_avx2(const uint8_t *a, size_t lda, const int8_t *packed, size_t n,
                                                       size_t k, size_t m, int32_t *c, size_t ldc) {
    size_t blocks = (n + 15) / 16, groups = (k + 3) / 4, full = k / 4;
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t i = 0; i < m; i += 4) {
        size_t rows = m - i < 4 ? m - i : 4;
        const uint8_t *r[4];
        for (size_t q = 0; q < 4; q++) r[q] = a + (i + (q < rows ? q : 0)) * lda;
        for (size_t jb = 0; jb < blocks; jb++) {
            __m256i acc[8];
            for (int q = 0; q < 8; q++) acc[q] = _mm256_setzero_si256();
            const int8_t *bj = packed + jb * groups * 64;
            for (size_t g = 0; g < groups; g++) {
                __m256i blo = _mm256_loadu_si256((const __m256i *)(bj + g * 64));
                __m256i bhi = _mm256_loadu_si256((const __m256i *)(bj + g * 64 + 32));
                for (int q = 0; q < 4; q++) {
                    int32_t w;
                    if (g < full)
                        memcpy(&w, r[q] + g * 4, 4);
                    else
                        w = load4(r[q], g, k);
                    __m256i x = _mm256_set1_epi32(w);
                    acc[2 * q] = dot4(acc[2 * q], x, blo, ones);
                    acc[2 * q + 1] = dot4(acc[2 * q + 1], x, bhi, ones);
                }
            }
            size_t cols = n - jb * 16 < 16 ? n - jb * 16 : 16;
            for (size_t q = 0; q < rows; q++) {
                int32_t out[16];
                _mm256_storeu_si256((__m256i *)out, acc[2 * q]);
                _mm256_storeu_si256((__m256i *)(out + 8), acc[2 * q + 1]);
                memcpy(c + (i + q) * ldc + jb * 16, out, cols * sizeof(int32_t));
            }
        }
    }
}

static int detect(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vnni"))
        return 3;
    if (__builtin_cpu_supports("avx2")) return 2;
    return 1;
}
#else
static int detect(void) { return 1; }
#endif

// Decided once; a relaxed atomic because several threads may ask first at once (they compute the same answer).
int winnow_qgemm_best_path(void) {
    static int best = 0;
    int b = __atomic_load_n(&best, __ATOMIC_RELAXED);
    if (b == 0) {
        b = detect();
        // WINNOW_INT8_PATH=portable|avx2 caps the path (to measure or test a lesser CPU's kernels on this one).
        const char *cap = getenv("WINNOW_INT8_PATH");
        if (cap && strcmp(cap, "portable") == 0) b = 1;
        if (cap && strcmp(cap, "avx2") == 0 && b > 2) b = 2;
        __atomic_store_n(&best, b, __ATOMIC_RELAXED);
    }
    return b;
}

void winnow_qgemm_u8s8(const uint8_t *a, size_t lda, const int8_t *packed, size_t n, size_t k, size_t m, int32_t *c,
                       size_t ldc, int path) {
    int best = winnow_qgemm_best_path();
    if (path == 0) path = best;
    if (path > best) path = 1;
#ifdef WINNOW_X86
    if (path == 3) {
        qgemm_vnni(a, lda, packed, n, k, m, c, ldc);
        return;
    }
    if (path == 2) {
        qgemm_avx2(a, lda, packed, n, k, m, c, ldc);
        return;
    }
#endif
    qgemm_portable(a, lda, packed, n, k, m, c, ldc);
}

// ---- Quantised linear layers: float rows in, float rows out (see winnow_qgemm.h). Never fuse a multiply and an
// add: the vector and scalar paths must round alike.
#pragma clang fp contract(off)

// The row's range with zero included, and from it the scale, zero point and inverse scale.
static inline void row_parameters(float lo, float hi, float levels, float *scale, float *zero, float *inverse) {
    float s = hi > lo ? (hi - lo) / levels : 1.0f;
    float z = __builtin_rintf(-lo / s);
    // Written so that NaN (from an infinite input) becomes 0, as the AVX2 path's max/min do.
    z = z > 0 ? z : 0;
    z = z < levels ? z : levels;
    *scale = s;
    *zero = z;
    *inverse = 1.0f / s;
}

static void quantize_row_scalar(const float *x, size_t k, float levels, uint8_t *q, float *scale, int32_t *zero) {
    float lo = 0, hi = 0;
    for (size_t t = 0; t < k; t++) {
        float v = x[t];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    float s, z, inv;
    row_parameters(lo, hi, levels, &s, &z, &inv);
    for (size_t t = 0; t < k; t++) {
        float code = __builtin_rintf(x[t] * inv) + z;
        code = code > 0 ? code : 0;  // NaN becomes 0, as on the AVX2 path
        code = code < levels ? code : levels;
        q[t] = (uint8_t)code;
    }
    *scale = s;
    *zero = (int32_t)z;
}

static void dequantize_row_scalar(const int32_t *c, size_t n, float scale, int32_t zero, const float *w_scale,
                                  const int32_t *w_sum, float *out, int accumulate) {
    for (size_t j = 0; j < n; j++) {
        float v = scale * w_scale[j] * (float)(int32_t)((uint32_t)c[j] - (uint32_t)zero * (uint32_t)w_sum[j]);
        out[j] = accumulate ? out[j] + v : v;
    }
}

#ifdef WINNOW_X86
__attribute__((target("avx2"))) static void quantize_row_avx2(const float *x, size_t k, float levels, uint8_t *q,
                                                              float *scale, int32_t *zero) {
    __m256 vlo = _mm256_setzero_ps(), vhi = vlo;
    size_t t = 0;
    for (; t + 8 <= k; t += 8) {
        __m256 v = _mm256_loadu_ps(x + t);
        vlo = _mm256_min_ps(v, vlo);
        vhi = _mm256_max_ps(v, vhi);
    }
    float l[8], h[8];
    _mm256_storeu_ps(l, vlo);
    _mm256_storeu_ps(h, vhi);
    float lo = 0, hi = 0;
    for (int i = 0; i < 8; i++) {
        lo = l[i] < lo ? l[i] : lo;
        hi = h[i] > hi ? h[i] : hi;
    }
    for (size_t u = t; u < k; u++) {
        lo = x[u] < lo ? x[u] : lo;
        hi = x[u] > hi ? x[u] : hi;
    }
    float s, z, inv;
    row_parameters(lo, hi, levels, &s, &z, &inv);
    const __m256 vinv = _mm256_set1_ps(inv), vz = _mm256_set1_ps(z), top = _mm256_set1_ps(levels), bottom = _mm256_setzero_ps();
    for (t = 0; t + 8 <= k; t += 8) {
        __m256 code = _mm256_add_ps(
            _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + t), vinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
            vz);
        code = _mm256_min_ps(_mm256_max_ps(code, bottom), top);
        __m256i i32 = _mm256_cvttps_epi32(code);
        __m128i i16 = _mm_packus_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
        _mm_storel_epi64((__m128i *)(q + t), _mm_packus_epi16(i16, i16));
    }
    for (; t < k; t++) {
        float code = __builtin_rintf(x[t] * inv) + z;
        code = code > 0 ? code : 0;  // NaN becomes 0, as on the AVX2 path
        code = code < levels ? code : levels;
        q[t] = (uint8_t)code;
    }
    *scale = s;
    *zero = (int32_t)z;
}

__attribute__((target("avx2"))) static void dequantize_row_avx2(const int32_t *c, size_t n, float scale, int32_t zero,
                                                                const float *w_scale, const int32_t *w_sum, float *out,
                                                                int accumulate) {
    const __m256 vs = _mm256_set1_ps(scale);
    const __m256i vz = _mm256_set1_epi32(zero);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256i d = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(c + j)),
                                     _mm256_mullo_epi32(vz, _mm256_loadu_si256((const __m256i *)(w_sum + j))));
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(w_scale + j)), _mm256_cvtepi32_ps(d));
        if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(out + j), v);
        _mm256_storeu_ps(out + j, v);
    }
    dequantize_row_scalar(c + j, n - j, scale, zero, w_scale + j, w_sum + j, out + j, accumulate);
}
#endif

void winnow_qlinear(const float *x, size_t ldx, size_t m, size_t k, const int8_t *packed, size_t n,
                    const float *w_scale, const int32_t *w_sum, float *out, size_t ldo, int accumulate, int path) {
    int best = winnow_qgemm_best_path();
    if (path == 0) path = best;
    if (path > best) path = 1;
    // 8-bit codes where the kernel takes any byte (VNNI, portable C); 7 bits for AVX2's VPMADDUBSW.
    const float levels = path == 2 ? 127.0f : 255.0f;
    uint8_t *q = malloc(4 * k + 4);
    int32_t *c = malloc(4 * n * sizeof(int32_t));
    if (!q || !c) abort();
    for (size_t i = 0; i < m; i += 4) {
        size_t rows = m - i < 4 ? m - i : 4;
        float scale[4];
        int32_t zero[4];
        for (size_t r = 0; r < rows; r++) {
#ifdef WINNOW_X86
            if (path >= 2) {
                quantize_row_avx2(x + (i + r) * ldx, k, levels, q + r * k, &scale[r], &zero[r]);
                continue;
            }
#endif
            quantize_row_scalar(x + (i + r) * ldx, k, levels, q + r * k, &scale[r], &zero[r]);
        }
        winnow_qgemm_u8s8(q, k, packed, n, k, rows, c, n, path);
        for (size_t r = 0; r < rows; r++) {
#ifdef WINNOW_X86
            if (path >= 2) {
                dequantize_row_avx2(c + r * n, n, scale[r], zero[r], w_scale, w_sum, out + (i + r) * ldo, accumulate);
                continue;
            }
#endif
            dequantize_row_scalar(c + r * n, n, scale[r], zero[r], w_scale, w_sum, out + (i + r) * ldo, accumulate);
        }
    }
    free(q);
    free(c);
}
