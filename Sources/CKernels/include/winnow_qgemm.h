#ifndef WINNOW_QGEMM_H
#define WINNOW_QGEMM_H
#include <stddef.h>
#include <stdint.h>

// Integer matrix products for int8 linear layers (issue 27): C[i][j] = sum over k of A[i][k] * B[j][k], with A the
// activations as unsigned bytes (a per-token quantisation shifted to be non-negative), B the weights as signed
// bytes (one row per output channel), and C exact 32-bit sums. Scales and zero points are the caller's.
//
// B is packed once (winnow_qgemm_pack): blocks of 16 output channels, within a block groups of 4 consecutive k,
// each group the 4 bytes of every channel in turn (64 bytes), K padded to a multiple of 4 and N to one of 16 with
// zeros. That is the layout VPDPBUSD (AVX512-VNNI) and VPMADDUBSW + VPMADDWD (AVX2) take directly.
//
// Paths, chosen at run time: AVX512-VNNI (VPDPBUSD, no intermediate rounding or saturation), AVX2 (VPMADDUBSW:
// exact when every activation is at most 127, since two products of at most 127 x 128 fit an int16; quantise
// activations to 7 bits for it, as fbgemm does on AVX2), and portable C. Every path gives the scalar reference's
// integers exactly on the inputs it accepts.

/// Bytes winnow_qgemm_pack writes for an n x k weight matrix.
size_t winnow_qgemm_packed_size(size_t n, size_t k);

/// Packs the n x k signed-byte matrix `b` (row stride `ldb`) into `packed` (winnow_qgemm_packed_size bytes).
void winnow_qgemm_pack(const int8_t *b, size_t ldb, size_t n, size_t k, int8_t *packed);

/// C (m x n, row stride ldc) = A (m x k, row stride lda, unsigned bytes) times packed B transposed. `path`: 0 the
/// best this CPU has, 1 portable C, 2 AVX2, 3 AVX512-VNNI (a path the CPU lacks falls back to portable C).
void winnow_qgemm_u8s8(const uint8_t *a, size_t lda, const int8_t *packed, size_t n, size_t k, size_t m, int32_t *c,
                       size_t ldc, int path);

/// The path winnow_qgemm_u8s8 takes with `path` 0 on this CPU: 1 portable, 2 AVX2, 3 AVX512-VNNI. The environment
/// variable WINNOW_INT8_PATH=portable or avx2 caps it (benchmarks and tests of a lesser CPU's path).
int winnow_qgemm_best_path(void);

/// An int8 linear layer on float rows, four at a time: each row of x (m x k, row stride ldx) quantised to codes
/// 0...L, L = 255 on paths 1 and 3 and 127 on path 2 (AVX2 needs 7 bits): its range with zero included over 0...L,
/// scale = (hi - lo) / L, or 1 for an all-zero row; zero point = rint(-lo / scale) clamped to 0...L; code =
/// rint(x / scale) + zero point, clamped, where x / scale is x times the float 1 / scale. Multiplied by the packed weights (n x k) as winnow_qgemm_u8s8 with `path`, and scaled back:
/// out[i][j] (row stride ldo) = scale_i * w_scale[j] * (c - zero_i * w_sum[j]), or added to out when `accumulate`.
/// w_sum[j] is the sum of channel j's quantised weights. Rounding is to nearest even; path 1 does all of it in
/// scalar C, paths 2 and 3 quantise and scale in AVX2; paths 1 and 3 give the same bits.
void winnow_qlinear(const float *x, size_t ldx, size_t m, size_t k, const int8_t *packed, size_t n,
                    const float *w_scale, const int32_t *w_sum, float *out, size_t ldo, int accumulate, int path);

#endif
