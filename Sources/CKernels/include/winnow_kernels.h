#ifndef WINNOW_KERNELS_H
#define WINNOW_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// out[i] = dot(rows[i], query) for `count` rows of `dim` IEEE half floats (little-endian), in float32 arithmetic.
/// Uses F16C + FMA (AVX2) when the CPU has them, portable C otherwise; the results are the same up to rounding.
void winnow_dot_rows_f16(const uint16_t *rows, size_t count, size_t dim, const float *query, float *out);

/// out[i] = dot(rows[i], query) for `count` rows of `dim` floats.
void winnow_dot_rows_f32(const float *rows, size_t count, size_t dim, const float *query, float *out);

/// XOR of every 8-byte word of `bytes` (a multiple of 32 long): a read of the whole buffer at memory speed, the
/// physical limit the scans are benchmarked against.
uint64_t winnow_read_all(const void *bytes, size_t count);

/// 1 when the F16C + FMA path is used on this CPU.
int winnow_kernels_have_f16c(void);

#endif
