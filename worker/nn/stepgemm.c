/* stepgemm.c - the recurrent step's GEMM: packed B, 5x16 FMA tiles. */
#include "stepgemm.h"

#include <string.h>

#include "ops.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define STEPGEMM_X86 1
#endif

enum { ROWS = 5, PANEL = 16 };

/* Panels are 16 columns wide; the last one is 8 wide when 8 or fewer
 * columns remain, so N = 150 or 50 computes 152 or 56 columns, not 160
 * or 64. Panel j0 starts at j0 * K either way. */
static int panel_width(int rest)
{
    return rest > 8 ? PANEL : 8;
}

size_t stepgemm_floats(int K, int N)
{
    return (size_t)K * (size_t)((N + PANEL - 1) / PANEL * PANEL);
}

void stepgemm_pack(stepgemm_b_t *out, const float *B, int ld, int trans,
                   int K, int N, float *mem)
{
    *out = (stepgemm_b_t){B, ld, trans, K, N, NULL};
    if (!nn_kernels_active())
        return;
    out->panels = mem;
    for (int j0 = 0; j0 < N; j0 += PANEL) {
        int w = panel_width(N - j0);
        for (int k = 0; k < K; k++, mem += w)
            for (int j = 0; j < w; j++) {
                int c = j0 + j;
                mem[j] = c >= N  ? 0.0f
                         : trans ? B[(size_t)c * ld + k]
                                 : B[(size_t)k * ld + c];
            }
    }
}

#ifdef STEPGEMM_X86
#define KERNEL __attribute__((target("avx2,fma")))

/* Accumulators are named variables, not an array: GCC keeps an array of
 * vectors in memory and stores it back on every k. wide: 16 columns (two
 * vectors) or 8 (the second set is dead code the compiler drops). */
#define TILE_LOAD(i)                                                           \
    c##i##0 = beta ? _mm256_loadu_ps(C + (i) * ldc) : _mm256_setzero_ps();     \
    c##i##1 = beta && wide ? _mm256_loadu_ps(C + (i) * ldc + 8)                \
                           : _mm256_setzero_ps();
#define TILE_FMA(i, src)                                                       \
    ai = _mm256_broadcast_ss(src);                                             \
    c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                                \
    if (wide)                                                                  \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);
#define TILE_STORE(i)                                                          \
    _mm256_storeu_ps(C + (i) * ldc, c##i##0);                                  \
    if (wide)                                                                  \
        _mm256_storeu_ps(C + (i) * ldc + 8, c##i##1);

KERNEL static inline __attribute__((always_inline)) void
tile(int K, const float *const *a, const float *p, float *C, size_t ldc,
     const int beta, const int wide)
{
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, ai;
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4];
    const int w = wide ? 16 : 8;
    TILE_LOAD(0) TILE_LOAD(1) TILE_LOAD(2) TILE_LOAD(3) TILE_LOAD(4)
    for (int k = 0; k < K; k++) {
        __m256 b0 = _mm256_loadu_ps(p + (size_t)k * w);
        __m256 b1 = wide ? _mm256_loadu_ps(p + (size_t)k * w + 8) : b0;
        TILE_FMA(0, a0 + k) TILE_FMA(1, a1 + k) TILE_FMA(2, a2 + k)
        TILE_FMA(3, a3 + k) TILE_FMA(4, a4 + k)
    }
    TILE_STORE(0) TILE_STORE(1) TILE_STORE(2) TILE_STORE(3) TILE_STORE(4)
}

KERNEL static void tile_any(int K, const float *const *a, const float *p,
                            float *C, size_t ldc, int beta, int wide)
{
    if (wide)
        beta ? tile(K, a, p, C, ldc, 1, 1) : tile(K, a, p, C, ldc, 0, 1);
    else
        beta ? tile(K, a, p, C, ldc, 1, 0) : tile(K, a, p, C, ldc, 0, 0);
}

static void run_kernel(int M, const float *A, int lda, const stepgemm_b_t *b,
                       int beta, float *C, int ldc, int padded)
{
    const int K = b->K, N = b->N;
    for (int i = 0; i < M; i += ROWS) {
        int rows = M - i < ROWS ? M - i : ROWS;
        const float *a[ROWS];
        for (int r = 0; r < ROWS; r++)
            a[r] = A + (size_t)(i + (r < rows ? r : 0)) * lda;
        for (int j0 = 0; j0 < N; j0 += PANEL) {
            int w = panel_width(N - j0), cols = N - j0 < w ? N - j0 : w;
            const float *p = b->panels + (size_t)j0 * K;
            float *c = C + (size_t)i * ldc + j0;
            if (rows == ROWS && (cols == w || padded)) {
                tile_any(K, a, p, c, (size_t)ldc, beta, w == PANEL);
                continue;
            }
            /* An edge goes through a full-size scratch tile, so each of
             * its elements gets the same operations as anywhere else.
             * Plain loops: the copies are a few floats, below a call's cost. */
            float tmp[ROWS * PANEL]; /* read only with beta */
            if (beta) {
                memset(tmp, 0, sizeof tmp);
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < cols; j++)
                        tmp[r * PANEL + j] = c[(size_t)r * ldc + j];
            }
            tile_any(K, a, p, tmp, PANEL, beta, w == PANEL);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < cols; j++)
                    c[(size_t)r * ldc + j] = tmp[r * PANEL + j];
        }
    }
}

#endif

void stepgemm_run(int M, const float *A, int lda, const stepgemm_b_t *b,
                  float beta, float *C, int ldc, int padded)
{
    (void)padded; /* the fallback writes N columns either way */
#ifdef STEPGEMM_X86
    if (b->panels) {
        run_kernel(M, A, lda, b, beta != 0.0f, C, ldc, padded);
        return;
    }
#endif
    nn_gemm(0, b->trans, M, b->N, b->K, A, lda, b->src, b->ld, beta, C, ldc);
}
