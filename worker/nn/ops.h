/* ops.h - the few primitives every layer uses: a row-major GEMM over
 * OpenBLAS and the element-wise activations. */
#ifndef NMN_OPS_H
#define NMN_OPS_H

#include <cblas.h>
#include <stddef.h>

enum nn_act { ACT_LINEAR, ACT_RELU, ACT_SATRELU };


/* C (M,N) = op(A) op(B) + beta C, row-major; op = transpose when tX. */
static inline void nn_gemm(int ta, int tb, int M, int N, int K,
                           const float *A, int lda, const float *B, int ldb,
                           float beta, float *C, int ldc)
{
    if (M == 0 || N == 0)
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb,
                beta, C, ldc);
}

/* y = act(y) in place over n values. */
void act_forward(enum nn_act act, float *y, size_t n);
/* d *= act'(pre), with act' read from the output y: satrelu passes only
 * strictly inside (-1, 1), relu only above 0 (the kink never matters, see
 * golden/README.md). */
void act_backward(enum nn_act act, float *d, const float *y, size_t n);
/* acc (n) += column sums of d (rows, n) */
void nn_colsum(float *restrict acc, const float *restrict d, int rows, int n,
               int ldd);
/* One job is one thread: pins OpenBLAS to the calling thread. Call once at
 * start-up, before any job thread exists. Returns the thread count OpenBLAS
 * reports afterwards (1). */
int nn_blas_single_thread(void);
/* Whether our FMA kernels (stepgemm, smallgemm, the GRU's fused gates)
 * run: AVX2+FMA at run time, unless nn_kernels_force_fallback(1) asked for
 * OpenBLAS and the plain gates, so tests can compare the two paths. */
int nn_kernels_active(void);
void nn_kernels_force_fallback(int on);

#endif
