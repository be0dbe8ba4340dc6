/* smallgemm.h - the layers' GEMMs with a short side, where OpenBLAS's
 * packing and its separate beta = 0 sweep cost as much as the arithmetic:
 *
 *   smallgemm_run:   C = A op(B) + beta C with B small (a layer's weights:
 *                    forward x W, backward dy W^T), M the batch's rows;
 *   smallgemm_dense: the same with a bias and an activation, in one pass;
 *   smallgemm_wgrad: C += A^T D over the batch's rows (a weight gradient),
 *                    and the bias gradient in the same sweep.
 *
 * All accumulate tiles of 4 rows x 24 columns with FMA, the last vector
 * of a row loaded through a mask and stored in part, so no read or write
 * leaves the matrices. Each element
 * is one chain of fmas in k order, so a row's bits do not depend on where
 * it sits. On CPUs without AVX2+FMA (nn_kernels_active) they fall
 * back to OpenBLAS, which gives other last bits. */
#ifndef NMN_SMALLGEMM_H
#define NMN_SMALLGEMM_H

#include "ops.h"

/* The largest B (K x N, N rounded up to 8) smallgemm_run packs on its
 * stack; a larger one goes to OpenBLAS. */
#define SMALLGEMM_BMAX 4096

/* C (M x N at ldc) = A (M x K at lda) op(B) + beta C, beta 0 or 1 (others
 * go to OpenBLAS); op(B) = B (K x N at ldb), or with tb B^T (B N x K). */
void smallgemm_run(int tb, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);
/* A dense layer's forward pass: C (M x N) = act(A W + bias), W (K x N);
 * the bias starts each sum and act is applied on the way out, so C is
 * written once (the same bits as bias rows, a GEMM with beta 1, then
 * act_forward). */
void smallgemm_dense(int M, int N, int K, const float *A, int lda,
                     const float *W, const float *bias, enum nn_act act,
                     float *C);
/* The largest C (M N floats) smallgemm_wgrad computes itself: beyond it
 * (benchmark 2's GRU weight gradients, 100 x 300) OpenBLAS's packed panels
 * are faster (measured in `make bench`). */
#define SMALLGEMM_WGRAD_CMAX 8192

/* C (M x N at ldc) += A^T D, A (K x M at lda), D (K x N at ldd); and, when
 * sums is not NULL, sums (N) += D's column sums (a bias gradient) in the
 * same sweep, bit for bit nn_colsum's. */
void smallgemm_wgrad(int M, int N, int K, const float *A, int lda,
                     const float *D, int ldd, float *C, int ldc, float *sums);

#endif
