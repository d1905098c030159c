#ifndef WINNOW_CBLAS_SHIM_H
#define WINNOW_CBLAS_SHIM_H
// OpenBLAS (Debian's libopenblas-dev, pthread flavour): its cblas.h comes first on the include path that
// pkg-config gives, and it declares the openblas_* controls next to the CBLAS interface.
#include <cblas.h>

// Row-major C = alpha * op(A) * op(B) + beta * C, with the enums as plain flags so Swift needs no C enum.
static inline void winnow_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                                const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k,
                alpha, a, lda, b, ldb, beta, c, ldc);
}
#endif
