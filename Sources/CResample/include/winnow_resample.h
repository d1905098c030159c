// The two passes of WinnowImage's separable resampler, in C so that they use SSE2 directly (part of every x86-64
// CPU; the vertical pass uses AVX2 where the CPU has it; other CPUs take the scalar loops, which compute the same
// values). The float operations are the same, in the
// same order, on every path: results do not depend on the CPU.
#ifndef WINNOW_RESAMPLE_H
#define WINNOW_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

/// One output row's vertical pass: `acc[i]` = the weighted sum of `first[k * stride + i]` over the `count` source
/// rows `k`, for `i` < `span`. The first row sets, the others add, in order. With `uniform_middle` (the area filter's
/// rows between the first and the last all weigh `weights[1]`) and 4 to 259 rows, the middle rows are summed as
/// integers and scaled once.
void winnow_resample_vertical(const uint8_t *first, ptrdiff_t stride, const float *weights, ptrdiff_t count,
                              ptrdiff_t span, float *acc, int uniform_middle);

/// One output row's horizontal pass over a row of interleaved RGB floats: output pixel `x` < `count` is the sum over
/// `taps` source pixels from float index `offsets[x]`, weighted by `weights[x * taps ...]`, rounded to nearest
/// (ties to even) and clamped to 0...255, written as 3 bytes to `out + 3 * x`. Reads one float past the last source
/// pixel a row uses (`row` must have it); writes one byte past the last pixel unless `last_row` (the byte is the
/// next pixel's, written after).
void winnow_resample_horizontal(const float *row, const ptrdiff_t *offsets, const float *weights, ptrdiff_t taps,
                                ptrdiff_t count, uint8_t *out, int last_row);

/// PDQ's row step: for each of the `n` sample rows in progress, sums[s][i] = weights[s] * luma(i), or sums[s][i] +
/// weights[s] * luma(i) unless fresh[s], for the `count` pixels of `rgb`. luma is BT.601 in float, 0.299 r + 0.587 g,
/// plus 0.114 b, each product and sum rounded, never fused: the same bits on every path.
void winnow_luma_accumulate(const uint8_t *rgb, ptrdiff_t count, float *const *sums, const float *weights,
                            const int *fresh, int n);

/// `winnow_luma_accumulate` on the scalar path alone when `vector` is 0 (for tests that compare the paths).
void winnow_luma_accumulate_on(const uint8_t *rgb, ptrdiff_t count, float *const *sums, const float *weights,
                               const int *fresh, int n, int vector);

#endif
