#include "winnow_resample.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// Never fuse a multiply and an add: the scalar tails must round as the vector loops do.
#pragma clang fp contract(off)

#if defined(__SSE2__)
// 16 columns at a time; returns how many columns it did.
static ptrdiff_t vertical_sse2(const uint8_t *first, ptrdiff_t stride, const float *weights, ptrdiff_t count,
                               ptrdiff_t span, float *acc, int integer, ptrdiff_t rest) {
    const __m128i zero = _mm_setzero_si128();
    ptrdiff_t i = 0;
    for (; i + 16 <= span; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(first + i));
        __m128i lo = _mm_unpacklo_epi8(x, zero), hi = _mm_unpackhi_epi8(x, zero);
        __m128 w = _mm_set1_ps(weights[0]);
        __m128 a0 = _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero)), w);
        __m128 a1 = _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero)), w);
        __m128 a2 = _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero)), w);
        __m128 a3 = _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero)), w);
        if (integer) {
            __m128i slo = zero, shi = zero;
            for (ptrdiff_t k = 1; k < count - 1; k++) {
                __m128i y = _mm_loadu_si128((const __m128i *)(first + k * stride + i));
                slo = _mm_add_epi16(slo, _mm_unpacklo_epi8(y, zero));
                shi = _mm_add_epi16(shi, _mm_unpackhi_epi8(y, zero));
            }
            w = _mm_set1_ps(weights[1]);
            a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(slo, zero)), w));
            a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(slo, zero)), w));
            a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(shi, zero)), w));
            a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(shi, zero)), w));
        }
        for (ptrdiff_t k = rest; k < count; k++) {
            __m128i y = _mm_loadu_si128((const __m128i *)(first + k * stride + i));
            __m128i ylo = _mm_unpacklo_epi8(y, zero), yhi = _mm_unpackhi_epi8(y, zero);
            w = _mm_set1_ps(weights[k]);
            a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(ylo, zero)), w));
            a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(ylo, zero)), w));
            a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(yhi, zero)), w));
            a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(yhi, zero)), w));
        }
        _mm_storeu_ps(acc + i, a0);
        _mm_storeu_ps(acc + i + 4, a1);
        _mm_storeu_ps(acc + i + 8, a2);
        _mm_storeu_ps(acc + i + 12, a3);
    }
    return i;
}
#endif

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define WINNOW_RESAMPLE_AVX2 1
// The same sums, 32 columns at a time in 8-lane vectors (chosen at run time).
__attribute__((target("avx2"))) static ptrdiff_t vertical_avx2(const uint8_t *first, ptrdiff_t stride,
                                                               const float *weights, ptrdiff_t count, ptrdiff_t span,
                                                               float *acc, int integer, ptrdiff_t rest) {
    ptrdiff_t i = 0;
    for (; i + 32 <= span; i += 32) {
        const uint8_t *p = first + i;
        __m256 w = _mm256_set1_ps(weights[0]);
        __m256 a0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p))), w);
        __m256 a1 =
            _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 8)))), w);
        __m256 a2 =
            _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 16)))), w);
        __m256 a3 =
            _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 24)))), w);
        if (integer) {
            __m256i slo = _mm256_setzero_si256(), shi = _mm256_setzero_si256();
            for (ptrdiff_t k = 1; k < count - 1; k++) {
                const uint8_t *q = p + k * stride;
                slo = _mm256_add_epi16(slo, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)q)));
                shi = _mm256_add_epi16(shi, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(q + 16))));
            }
            w = _mm256_set1_ps(weights[1]);
            a0 = _mm256_add_ps(
                a0, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(slo))), w));
            a1 = _mm256_add_ps(
                a1, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(slo, 1))), w));
            a2 = _mm256_add_ps(
                a2, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(shi))), w));
            a3 = _mm256_add_ps(
                a3, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(shi, 1))), w));
        }
        for (ptrdiff_t k = rest; k < count; k++) {
            const uint8_t *q = p + k * stride;
            w = _mm256_set1_ps(weights[k]);
            a0 = _mm256_add_ps(
                a0, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)q))), w));
            a1 = _mm256_add_ps(
                a1,
                _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8)))), w));
            a2 = _mm256_add_ps(
                a2,
                _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 16)))), w));
            a3 = _mm256_add_ps(
                a3,
                _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 24)))), w));
        }
        _mm256_storeu_ps(acc + i, a0);
        _mm256_storeu_ps(acc + i + 8, a1);
        _mm256_storeu_ps(acc + i + 16, a2);
        _mm256_storeu_ps(acc + i + 24, a3);
    }
    return i;
}
#endif

#if defined(WINNOW_RESAMPLE_AVX2)
// Decided once; a relaxed atomic because several threads may ask first at once (they compute the same answer).
static int have_avx2(void) {
    static int avx2 = -1;
    int a = __atomic_load_n(&avx2, __ATOMIC_RELAXED);
    if (a < 0) {
        __builtin_cpu_init();
        a = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&avx2, a, __ATOMIC_RELAXED);
    }
    return a;
}
#endif

void winnow_resample_vertical(const uint8_t *first, ptrdiff_t stride, const float *weights, ptrdiff_t count,
                              ptrdiff_t span, float *acc, int uniform_middle) {
    const int integer = uniform_middle && count - 2 >= 2 && count - 2 <= 257;
    // Rows after the first that are added one at a time.
    const ptrdiff_t rest = integer ? count - 1 : 1;
    ptrdiff_t i = 0;
#if defined(WINNOW_RESAMPLE_AVX2)
    if (have_avx2()) i = vertical_avx2(first, stride, weights, count, span, acc, integer, rest);
#endif
#if defined(__SSE2__)
    i += vertical_sse2(first + i, stride, weights, count, span - i, acc + i, integer, rest);
#endif
    for (; i < span; i++) {
        float a = (float)first[i] * weights[0];
        if (integer) {
            unsigned s = 0;
            for (ptrdiff_t k = 1; k < count - 1; k++) s += first[k * stride + i];
            a = a + (float)s * weights[1];
        }
        for (ptrdiff_t k = rest; k < count; k++) a = a + (float)first[k * stride + i] * weights[k];
        acc[i] = a;
    }
}

#if defined(__SSE2__)
// One output pixel as 4 lanes (r, g, b, and the next pixel's r), two partial sums so that the adds overlap.
static inline __attribute__((always_inline)) __m128i pixel(const float *p, const float *w, ptrdiff_t taps) {
    __m128 s0 = _mm_mul_ps(_mm_loadu_ps(p), _mm_set1_ps(w[0]));
    __m128 s1 = _mm_setzero_ps();
    ptrdiff_t t = 1;
    for (; t + 1 < taps; t += 2) {
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(p + 3 * t), _mm_set1_ps(w[t])));
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(p + 3 * (t + 1)), _mm_set1_ps(w[t + 1])));
    }
    if (t < taps) s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(p + 3 * t), _mm_set1_ps(w[t])));
    // Rounds to nearest, ties to even (the default MXCSR mode); the packs below clamp to 0...255.
    return _mm_cvtps_epi32(_mm_add_ps(s0, s1));
}

static inline void store4(uint8_t *o, __m128i bytes) {
    uint32_t v = (uint32_t)_mm_cvtsi128_si32(bytes);
    memcpy(o, &v, 4);
}
#endif

#if defined(__SSE2__)
// The row loop, inlined once for each common tap count (a constant there, so that the tap loop unrolls).
static inline __attribute__((always_inline)) void horizontal(const float *row, const ptrdiff_t *offsets,
                                                             const float *weights, ptrdiff_t taps, ptrdiff_t count,
                                                             uint8_t *out, ptrdiff_t wide) {
    ptrdiff_t x = 0;
    for (; x + 4 <= wide; x += 4) {
        __m128i v0 = pixel(row + offsets[x], weights + x * taps, taps);
        __m128i v1 = pixel(row + offsets[x + 1], weights + (x + 1) * taps, taps);
        __m128i v2 = pixel(row + offsets[x + 2], weights + (x + 2) * taps, taps);
        __m128i v3 = pixel(row + offsets[x + 3], weights + (x + 3) * taps, taps);
        __m128i b = _mm_packus_epi16(_mm_packs_epi32(v0, v1), _mm_packs_epi32(v2, v3));
        uint8_t *o = out + 3 * x;
        store4(o, b);
        store4(o + 3, _mm_srli_si128(b, 4));
        store4(o + 6, _mm_srli_si128(b, 8));
        store4(o + 9, _mm_srli_si128(b, 12));
    }
    for (; x < count; x++) {
        __m128i v = pixel(row + offsets[x], weights + x * taps, taps);
        __m128i b = _mm_packus_epi16(_mm_packs_epi32(v, v), _mm_packs_epi32(v, v));
        uint8_t *o = out + 3 * x;
        if (x < wide) {
            store4(o, b);
        } else {
            uint32_t q = (uint32_t)_mm_cvtsi128_si32(b);
            o[0] = (uint8_t)q;
            o[1] = (uint8_t)(q >> 8);
            o[2] = (uint8_t)(q >> 16);
        }
    }
}
#endif

void winnow_resample_horizontal(const float *row, const ptrdiff_t *offsets, const float *weights, ptrdiff_t taps,
                                ptrdiff_t count, uint8_t *out, int last_row) {
    // The last pixel of the last row is written byte by byte: nothing follows it.
    const ptrdiff_t wide = last_row ? count - 1 : count;
#if defined(__SSE2__)
    switch (taps) {
    case 2: horizontal(row, offsets, weights, 2, count, out, wide); break;
    case 3: horizontal(row, offsets, weights, 3, count, out, wide); break;
    case 4: horizontal(row, offsets, weights, 4, count, out, wide); break;
    case 5: horizontal(row, offsets, weights, 5, count, out, wide); break;
    default: horizontal(row, offsets, weights, taps, count, out, wide); break;
    }
#else
    (void)wide;
    for (ptrdiff_t x = 0; x < count; x++) {
        const float *p = row + offsets[x];
        const float *w = weights + x * taps;
        for (int c = 0; c < 3; c++) {
            float s0 = p[c] * w[0], s1 = 0;
            ptrdiff_t t = 1;
            for (; t + 1 < taps; t += 2) {
                s1 = s1 + p[3 * t + c] * w[t];
                s0 = s0 + p[3 * (t + 1) + c] * w[t + 1];
            }
            if (t < taps) s1 = s1 + p[3 * t + c] * w[t];
            float s = s0 + s1;
            // Round to nearest, ties to even, as the SSE2 conversion does.
            float r = __builtin_rintf(s);
            out[3 * x + c] = r <= 0 ? 0 : (r >= 255 ? 255 : (uint8_t)r);
        }
    }
#endif
}

// PDQ's row step: BT.601 luma in float, as PDQ defines it ((0.299 r + 0.587 g) + 0.114 b, each product rounded, never
// fused), weighted into each sample row in progress. The AVX2 loop takes 8 pixels at a time: two 16-byte loads
// (pixels 0-3 and 4-7, 4 bytes of each unused), one byte shuffle a channel widens it to 32-bit lanes; it reads 4
// bytes past the 8th pixel, so it stops 2 pixels early.
#if defined(WINNOW_RESAMPLE_AVX2)
__attribute__((target("avx2"))) static ptrdiff_t luma_accumulate_avx2(const uint8_t *rgb, ptrdiff_t count,
                                                                      float *const *sums, const float *weights,
                                                                      const int *fresh, int n) {
    const __m256i r_mask = _mm256_setr_epi8(0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1, 0, -1, -1, -1,
                                            3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1);
    const __m256i g_mask = _mm256_add_epi8(r_mask, _mm256_set1_epi32(1));
    const __m256i b_mask = _mm256_add_epi8(g_mask, _mm256_set1_epi32(1));
    const __m256 kr = _mm256_set1_ps(0.299f), kg = _mm256_set1_ps(0.587f), kb = _mm256_set1_ps(0.114f);
    ptrdiff_t i = 0;
    for (; i + 10 <= count; i += 8) {
        const __m256i px = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(rgb + 3 * i))),
            _mm_loadu_si128((const __m128i *)(rgb + 3 * i + 12)), 1);
        const __m256 r = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(px, r_mask));
        const __m256 g = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(px, g_mask));
        const __m256 b = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(px, b_mask));
        const __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(kr, r), _mm256_mul_ps(kg, g)), _mm256_mul_ps(kb, b));
        for (int s = 0; s < n; s++) {
            __m256 v = _mm256_mul_ps(_mm256_set1_ps(weights[s]), y);
            if (!fresh[s]) v = _mm256_add_ps(_mm256_loadu_ps(sums[s] + i), v);
            _mm256_storeu_ps(sums[s] + i, v);
        }
    }
    return i;
}
#endif

void winnow_luma_accumulate_on(const uint8_t *rgb, ptrdiff_t count, float *const *sums, const float *weights,
                               const int *fresh, int n, int vector) {
    ptrdiff_t i = 0;
#if defined(WINNOW_RESAMPLE_AVX2)
    if (vector && have_avx2()) i = luma_accumulate_avx2(rgb, count, sums, weights, fresh, n);
#else
    (void)vector;
#endif
    for (; i < count; i++) {
        const uint8_t *p = rgb + 3 * i;
        const float y = 0.299f * (float)p[0] + 0.587f * (float)p[1] + 0.114f * (float)p[2];
        for (int s = 0; s < n; s++) {
            const float v = weights[s] * y;
            sums[s][i] = fresh[s] ? v : sums[s][i] + v;
        }
    }
}

void winnow_luma_accumulate(const uint8_t *rgb, ptrdiff_t count, float *const *sums, const float *weights,
                            const int *fresh, int n) {
    winnow_luma_accumulate_on(rgb, count, sums, weights, fresh, n, 1);
}
