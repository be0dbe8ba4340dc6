/* smallgemm.c - FMA tiles for the layers' GEMMs with a short side. */
#include "smallgemm.h"

#include <string.h>

#include "ops.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SMALLGEMM_X86 1
#endif

/* Tiles of ROWS rows x up to 3 vectors (24 columns): 12 accumulators,
 * three B vectors and a broadcast fill the 16 registers. */
enum { ROWS = 4, WIDE = 24 };

#ifdef SMALLGEMM_X86
#define KERNEL __attribute__((target("avx2,fma")))

/* How a tile starts and ends; outside the k loop, so plain arguments. */
typedef struct tile_io {
    int beta;            /* start from C (else zero) ... */
    const float *bias;   /* ... or, when set, from bias (the tile's columns) */
    enum nn_act act;     /* applied on the way out */
    int tail;            /* lanes of the last vector inside C (1..8) */
    __m256i m;           /* the mask of those lanes */
} tile_io_t;

/* The first n (1..7) lanes of v to dst: AMD's masked stores are
 * microcoded, a few times slower than these. */
KERNEL static inline __attribute__((always_inline)) void
store_part(float *dst, __m256 v, int n)
{
    __m128 q = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(dst, q);
        q = _mm256_extractf128_ps(v, 1), dst += 4, n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)dst, q);
        q = _mm_movehl_ps(q, q), dst += 2, n -= 2;
    }
    if (n)
        _mm_store_ss(dst, q);
}

KERNEL static inline __attribute__((always_inline)) __m256
load_part(const float *src, int last, const tile_io_t *io)
{
    return last && io->tail < 8 ? _mm256_maskload_ps(src, io->m) : _mm256_loadu_ps(src);
}

/* The activations as ops.c computes them, lane by lane (the clamps keep
 * NaN: the comparison fails and the operand order returns x). */
KERNEL static inline __attribute__((always_inline)) __m256
act_vec(__m256 x, enum nn_act act)
{
    if (act == ACT_RELU)
        return _mm256_and_ps(x, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ));
    if (act == ACT_SATRELU) {
        x = _mm256_blendv_ps(x, _mm256_set1_ps(-1.0f), _mm256_cmp_ps(x, _mm256_set1_ps(-1.0f), _CMP_LT_OQ));
        return _mm256_blendv_ps(x, _mm256_set1_ps(1.0f), _mm256_cmp_ps(x, _mm256_set1_ps(1.0f), _CMP_GT_OQ));
    }
    return x;
}

/* Named accumulators (GCC spills arrays of vectors); v = 0..2 is the
 * vector, the last one partial when the tile's columns end inside it. */
#define C_LOAD(i, v)                                                           \
    if (R > (i) && V > (v))                                                    \
        c##i##v = io->bias  ? load_part(io->bias + 8 * (v), V == (v) + 1, io) \
                  : io->beta ? load_part(C + (i) * ldc + 8 * (v), V == (v) + 1, io) \
                             : _mm256_setzero_ps();
#define C_STORE(i, v)                                                          \
    if (R > (i) && V > (v)) {                                                  \
        __m256 y = act_vec(c##i##v, io->act);                                  \
        if (V == (v) + 1 && io->tail < 8)                                      \
            store_part(C + (i) * ldc + 8 * (v), y, io->tail);                  \
        else                                                                   \
            _mm256_storeu_ps(C + (i) * ldc + 8 * (v), y);                      \
    }
#define B_LOAD(v)                                                              \
    if (V > (v))                                                               \
        b##v = bmask && V == (v) + 1 ? _mm256_maskload_ps(bk + 8 * (v), io->m) \
                                     : _mm256_loadu_ps(bk + 8 * (v));
#define ROW_FMA(i)                                                             \
    if (R > (i)) {                                                             \
        __m256 ai = _mm256_broadcast_ss(a + (i) * ars + k * aks);              \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                            \
        if (V > 1)                                                             \
            c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                        \
        if (V > 2)                                                             \
            c##i##2 = _mm256_fmadd_ps(ai, b2, c##i##2);                        \
    }
#define ROWS_DO(X, v) X(0, v) X(1, v) X(2, v) X(3, v)
#define TILE_DO(X) ROWS_DO(X, 0) ROWS_DO(X, 1) ROWS_DO(X, 2)

/* C (R x 8V at ldc) = act(A B + start) over K, start as io says: row i of
 * A is a + i ars, its k-th value k aks further; B's row k is bk = b + k bks
 * (read masked in its last vector with bmask: B unpacked, its rows end
 * there). Every element is one chain of fmas in k order from its start,
 * whatever the tile's shape, so a row's bits do not depend on its
 * neighbours. */
KERNEL static inline __attribute__((always_inline)) void
tile(const int R, const int V, const int bmask, int K, const float *a, size_t ars,
     size_t aks, const float *b, size_t bks, float *C, size_t ldc, const tile_io_t *io)
{
    __m256 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
    __m256 b0, b1 = _mm256_setzero_ps(), b2 = b1;
    TILE_DO(C_LOAD)
    for (size_t k = 0; k < (size_t)K; k++) {
        const float *bk = b + k * bks;
        B_LOAD(0) B_LOAD(1) B_LOAD(2)
        ROW_FMA(0) ROW_FMA(1) ROW_FMA(2) ROW_FMA(3)
    }
    TILE_DO(C_STORE)
}

#define TILE_ROWS(V, bm)                                                       \
    switch (rows) {                                                            \
    case 4: tile(4, V, bm, K, a, ars, aks, b, bks, C, ldc, &io); break;        \
    case 3: tile(3, V, bm, K, a, ars, aks, b, bks, C, ldc, &io); break;        \
    case 2: tile(2, V, bm, K, a, ars, aks, b, bks, C, ldc, &io); break;        \
    default: tile(1, V, bm, K, a, ars, aks, b, bks, C, ldc, &io);              \
    }
#define TILE_B(V)                                                              \
    if (bmask)                                                                 \
        TILE_ROWS(V, 1)                                                        \
    else                                                                       \
        TILE_ROWS(V, 0)

/* One tile of `rows` rows and `cols` <= 24 columns. */
KERNEL static void tile_any(int rows, int cols, int K, const float *a, size_t ars,
                            size_t aks, const float *b, size_t bks, int bmask,
                            float *C, size_t ldc, int beta, const float *bias,
                            enum nn_act act)
{
    const int V = (cols + 7) / 8;
    tile_io_t io = {beta, bias, act, cols - 8 * (V - 1), _mm256_setzero_si256()};
    io.m = _mm256_cmpgt_epi32(_mm256_set1_epi32(io.tail),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    if (V == 3)
        TILE_B(3)
    else if (V == 2)
        TILE_B(2)
    else
        TILE_B(1)
}

/* B (op applied) packed in panels of 24 columns, each K rows of 8V
 * floats, zero beyond N: the kernel reads whole vectors from L1. */
static void pack(float *p, const float *B, int ldb, int tb, int K, int N)
{
    for (int j0 = 0; j0 < N; j0 += WIDE) {
        int w = N - j0 < WIDE ? N - j0 : WIDE, vw = (w + 7) / 8 * 8;
        for (int k = 0; k < K; k++, p += vw)
            for (int j = 0; j < vw; j++)
                p[j] = j >= w ? 0.0f
                       : tb   ? B[(size_t)(j0 + j) * ldb + k]
                              : B[(size_t)k * ldb + j0 + j];
    }
}

static void run_kernel(int tb, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, int beta, const float *bias,
                       enum nn_act act, float *C, int ldc)
{
    float p[SMALLGEMM_BMAX];
    pack(p, B, ldb, tb, K, N);
    for (int i = 0; i < M; i += ROWS) {
        const int rows = M - i < ROWS ? M - i : ROWS;
        const float *pj = p;
        for (int j0 = 0; j0 < N; j0 += WIDE) {
            const int cols = N - j0 < WIDE ? N - j0 : WIDE;
            tile_any(rows, cols, K, A + (size_t)i * lda, (size_t)lda, 1, pj,
                     (size_t)(cols + 7) / 8 * 8, 0, C + (size_t)i * ldc + j0,
                     (size_t)ldc, beta, bias ? bias + j0 : NULL, act);
            pj += (size_t)K * ((cols + 7) / 8 * 8);
        }
    }
}

/* D streams through once, in blocks of rows (with A's, about 64 KB:
 * faster than 32 or 128 KB on Zen 3) that stay in cache while the tiles of
 * C sweep them, each tile starting from C's running value. The column sums
 * are one more tile row whose A is a constant 1 (stride 0): fma(1, d, c)
 * is c + d, so they are nn_colsum's sums, bit for bit. */
enum { WGRAD_FLOATS = 16384 };
static void wgrad_kernel(int M, int N, int K, const float *A, int lda,
                         const float *D, int ldd, float *C, int ldc, float *sums)
{
    static const float one = 1.0f;
    int block = WGRAD_FLOATS / (M + N) / 8 * 8;
    block = block < 32 ? 32 : block > 512 ? 512 : block;
    for (int k0 = 0; k0 < K; k0 += block) {
        const int kb = K - k0 < block ? K - k0 : block;
        for (int j0 = 0; j0 < N; j0 += WIDE) {
            const int cols = N - j0 < WIDE ? N - j0 : WIDE;
            for (int i = 0; i < M; i += ROWS)
                tile_any(M - i < ROWS ? M - i : ROWS, cols, kb,
                         A + (size_t)k0 * lda + i, 1, (size_t)lda,
                         D + (size_t)k0 * ldd + j0, (size_t)ldd, 1,
                         C + (size_t)i * ldc + j0, (size_t)ldc, 1, NULL,
                         ACT_LINEAR);
            if (sums)
                tile_any(1, cols, kb, &one, 0, 0, D + (size_t)k0 * ldd + j0,
                         (size_t)ldd, 1, sums + j0, 0, 1, NULL, ACT_LINEAR);
        }
    }
}
#endif

/* Whether smallgemm_run packs B (K x N) on its stack. */
static int fits(int K, int N)
{
    return (size_t)K * (size_t)((N + 7) / 8 * 8) <= SMALLGEMM_BMAX;
}

void smallgemm_run(int tb, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc)
{
#ifdef SMALLGEMM_X86
    if (fits(K, N) && (beta == 0.0f || beta == 1.0f) && nn_kernels_active()) {
        if (M > 0 && N > 0)
            run_kernel(tb, M, N, K, A, lda, B, ldb, beta != 0.0f, NULL, ACT_LINEAR, C, ldc);
        return;
    }
#endif
    nn_gemm(0, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

void smallgemm_dense(int M, int N, int K, const float *A, int lda,
                     const float *W, const float *bias, enum nn_act act,
                     float *C)
{
#ifdef SMALLGEMM_X86
    if (fits(K, N) && nn_kernels_active()) {
        if (M > 0 && N > 0)
            run_kernel(0, M, N, K, A, lda, W, N, 0, bias, act, C, N);
        return;
    }
#endif
    for (int r = 0; r < M; r++)
        memcpy(C + (size_t)r * N, bias, sizeof(float) * N);
    nn_gemm(0, 0, M, N, K, A, lda, W, N, 1.0f, C, N);
    act_forward(act, C, (size_t)M * N);
}

void smallgemm_wgrad(int M, int N, int K, const float *A, int lda,
                     const float *D, int ldd, float *C, int ldc, float *sums)
{
#ifdef SMALLGEMM_X86
    if ((size_t)M * (size_t)N <= SMALLGEMM_WGRAD_CMAX && nn_kernels_active()) {
        wgrad_kernel(M, N, K, A, lda, D, ldd, C, ldc, sums);
        return;
    }
#endif
    if (sums)
        nn_colsum(sums, D, K, N, ldd);
    nn_gemm(1, 0, M, N, K, A, lda, D, ldd, 1.0f, C, ldc);
}
