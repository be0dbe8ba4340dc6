/* stepgemm.h - the GRU's step GEMM, which OpenBLAS does poorly:
 * C = A B + beta C with B (U or U^T) packed once per pass and reused by
 * every step.
 *
 * OpenBLAS re-packs both operands on every call and zeroes C for beta = 0
 * in a separate sweep; at the step shapes (B rows of 25..500, K and N of
 * 50..300) that overhead is a third of the call. This kernel keeps B packed
 * in 16-column panels and accumulates 5 rows x 16 columns in registers with
 * FMA. On CPUs without AVX2+FMA (nn_kernels_active) it falls back to
 * OpenBLAS on the unpacked matrix. Results are deterministic per machine;
 * they differ from OpenBLAS's in the last bits (another summation). */
#ifndef NMN_STEPGEMM_H
#define NMN_STEPGEMM_H

#include <stddef.h>

/* B as the kernel reads it: the source matrix for the fallback, its panels
 * for the kernel. */
typedef struct stepgemm_b {
    const float *src; /* as given to stepgemm_pack */
    int ld, trans, K, N;
    float *panels; /* NULL on the fallback path */
} stepgemm_b_t;

/* Floats stepgemm_pack needs for a K x N operand. */
size_t stepgemm_floats(int K, int N);
/* Packs B (K x N logical; stored N x K at ld when trans) into mem, which
 * holds stepgemm_floats(K, N). B must stay unchanged while *out is used. */
void stepgemm_pack(stepgemm_b_t *out, const float *B, int ld, int trans,
                   int K, int N, float *mem);
/* C (M x N at ldc) = A (M x K at lda) B + beta C, beta 0 or 1. With
 * padded, C's rows have room up to N rounded up to 8 and the kernel may
 * write those columns (with beta 0, zeros): a last panel then needs no
 * scratch tile. */
void stepgemm_run(int M, const float *A, int lda, const stepgemm_b_t *b,
                  float beta, float *C, int ldc, int padded);
#endif
