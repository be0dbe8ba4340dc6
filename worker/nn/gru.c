/* gru.c - GRU forward and backward-through-time. */
#include "gru.h"

#include <string.h>

#include "fastmath.h"
#include "ops.h"
#include "smallgemm.h"
#include "stepgemm.h"

/* One row's gates: xp = x W + b, hu = h_{t-1} U (each [g|s|n], 3u wide).
 * Writes gate = [g|s|n] and h_t. Eight units at a time in vector types,
 * the tail in scalars: the same operations, so the same bits. (The path
 * without FMA; gates_step_fused below is the other.) */
static NN_CLONES void gates_forward(int u, const float *restrict xp,
                                    const float *restrict hu,
                                    const float *restrict hp,
                                    float *restrict gate, float *restrict h)
{
    int j = 0;
    for (; j + 8 <= u; j += 8) {
        nn_v8sf xg, xs, xn, hg, hs, hn, hpj;
        memcpy(&xg, xp + j, 32), memcpy(&xs, xp + u + j, 32), memcpy(&xn, xp + 2 * u + j, 32);
        memcpy(&hg, hu + j, 32), memcpy(&hs, hu + u + j, 32), memcpy(&hn, hu + 2 * u + j, 32);
        memcpy(&hpj, hp + j, 32);
        nn_v8sf g = nn_v8_sigmoid(xg + hg), s = nn_v8_sigmoid(xs + hs);
        nn_v8sf n = nn_v8_tanh(xn + s * hn);
        nn_v8sf hj = (1.0f - g) * n + g * hpj;
        memcpy(gate + j, &g, 32), memcpy(gate + u + j, &s, 32), memcpy(gate + 2 * u + j, &n, 32);
        memcpy(h + j, &hj, 32);
    }
    for (; j < u; j++) {
        float g = nn_sigmoidf(xp[j] + hu[j]);
        float s = nn_sigmoidf(xp[u + j] + hu[u + j]);
        float n = nn_tanhf(xp[2 * u + j] + s * hu[2 * u + j]);
        gate[j] = g, gate[u + j] = s, gate[2 * u + j] = n;
        h[j] = (1.0f - g) * n + g * hp[j];
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FUSED static inline __attribute__((always_inline, target("avx2,fma")))

/* nn_tanhf_fused and nn_sigmoidf_fused on 8 lanes, operation for operation */
FUSED __m256 tanh_fused(__m256 x)
{
    const __m256 c = _mm256_set1_ps(NN_TANH_CLAMP);
    /* min/max return their second operand on NaN: this order keeps NaN */
    x = _mm256_min_ps(c, _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), c), x));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(NN_TANH_P0);
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(NN_TANH_P1));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(NN_TANH_P2));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(NN_TANH_P3));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(NN_TANH_P4));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(NN_TANH_P5));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(NN_TANH_P6));
    __m256 q = _mm256_set1_ps(NN_TANH_Q0);
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(NN_TANH_Q1));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(NN_TANH_Q2));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(NN_TANH_Q3));
    return _mm256_div_ps(_mm256_mul_ps(x, p), q);
}

FUSED __m256 sigmoid_fused(__m256 x)
{
    const __m256 half = _mm256_set1_ps(0.5f);
    return _mm256_fmadd_ps(half, tanh_fused(_mm256_mul_ps(half, x)), half);
}

/* gates_forward with fused multiply-adds, one vector (units j..j+7) at a
 * time, in two halves. The first makes g and s (and, with x, the input
 * projection b + x W of a GRU with K <= 4 inputs, leaving its n part in
 * xp); the second makes n, which needs s, and h. Each half's vectors are
 * independent chains of ~30 operations, where a whole gate vector was one
 * chain of ~60 (a sigmoid, then the tanh that needs it). */
FUSED void gates_vec_gs(int u, int j, float *restrict xp,
                        const float *restrict hu, float *restrict gate, int K,
                        const float *restrict x, const float *restrict W,
                        const float *restrict b)
{
    __m256 xg, xs;
    if (x) {
        __m256 xnj = _mm256_setzero_ps();
        xg = _mm256_loadu_ps(b + j), xs = _mm256_loadu_ps(b + u + j);
        for (int k = 0; k < K; k++) {
            const float *w = W + (size_t)k * 3 * u + j;
            __m256 xk = _mm256_broadcast_ss(x + k);
            xg = _mm256_fmadd_ps(xk, _mm256_loadu_ps(w), xg);
            xs = _mm256_fmadd_ps(xk, _mm256_loadu_ps(w + u), xs);
            xnj = _mm256_fmadd_ps(xk, _mm256_loadu_ps(w + 2 * u), xnj);
        }
        _mm256_storeu_ps(xp + 2 * u + j, xnj);
    } else {
        xg = _mm256_loadu_ps(xp + j), xs = _mm256_loadu_ps(xp + u + j);
    }
    _mm256_storeu_ps(gate + j, sigmoid_fused(_mm256_add_ps(xg, _mm256_loadu_ps(hu + j))));
    _mm256_storeu_ps(gate + u + j, sigmoid_fused(_mm256_add_ps(xs, _mm256_loadu_ps(hu + u + j))));
}

FUSED void gates_vec_nh(int u, int j, const float *restrict xp,
                        const float *restrict hu, const float *restrict hp,
                        float *restrict gate, float *restrict h)
{
    __m256 g = _mm256_loadu_ps(gate + j), s = _mm256_loadu_ps(gate + u + j);
    __m256 n = tanh_fused(_mm256_fmadd_ps(s, _mm256_loadu_ps(hu + 2 * u + j), _mm256_loadu_ps(xp + 2 * u + j)));
    /* (1 - g) n + g h = n + g (h - n) */
    __m256 hj = _mm256_fmadd_ps(g, _mm256_sub_ps(_mm256_loadu_ps(hp + j), n), n);
    _mm256_storeu_ps(gate + 2 * u + j, n), _mm256_storeu_ps(h + j, hj);
}

/* The fused gates over a step's B rows (u >= 8). A row's last vector
 * overlaps the one before it instead of leaving a scalar tail: lanes are
 * independent, so the overlap recomputes the same bits. With x, the first
 * half leaves the n part of the input projection in xp for the second. */
__attribute__((target("avx2,fma"))) static void
gates_step_fused(int u, int B, size_t ld, float *restrict xp,
                 const float *restrict hu, const float *restrict hp,
                 float *restrict gate, float *restrict h, int K,
                 const float *restrict x, size_t ldx, const float *restrict W,
                 const float *restrict b)
{
    for (int i = 0; i < B; i++) {
        for (int j0 = 0; j0 < u; j0 += 8)
            gates_vec_gs(u, j0 + 8 <= u ? j0 : u - 8, xp + i * ld, hu + i * ld,
                         gate + i * ld, K, x ? x + i * ldx : NULL, W, b);
        for (int j0 = 0; j0 < u; j0 += 8)
            gates_vec_nh(u, j0 + 8 <= u ? j0 : u - 8, xp + i * ld, hu + i * ld,
                         hp + (size_t)i * u, gate + i * ld, h + (size_t)i * u);
    }
}
#else
/* off x86-64 the kernel never runs (ub.panels stays NULL): no fused path */
#define gates_step_fused(...) ((void)0)
#endif

/* One row of BPTT: d = dL/dh_t (from above, dy, plus from step t+1, dh).
 * Overwrites hu with dL/d(h U) ([g|s|n]), xp's n part with dL/d(x Wn) (its
 * g and s parts would equal hu's: not written, the gradients read them
 * from hu), and dh with the direct part of dL/dh_{t-1} (the U part is
 * added by a GEMM over the whole batch). */
static NN_CLONES void gates_backward(int u, const float *restrict dy,
                                     const float *restrict hp,
                                     const float *restrict gate,
                                     float *restrict xp, float *restrict hu,
                                     float *restrict dh)
{
    for (int j = 0; j < u; j++) {
        float g = gate[j], s = gate[u + j], n = gate[2 * u + j];
        float d = dy[j] + dh[j];
        float dpn = d * (1.0f - g) * (1.0f - n * n);
        float dpg = d * (hp[j] - n) * g * (1.0f - g);
        float dps = dpn * hu[2 * u + j] * s * (1.0f - s);
        dh[j] = d * g;
        xp[2 * u + j] = dpn;
        hu[j] = dpg, hu[u + j] = dps, hu[2 * u + j] = dpn * s;
    }
}

/* Room for U packed for the forward steps or U^T for the backward ones. */
static size_t packed_floats(const gru_t *l)
{
    size_t f = stepgemm_floats(l->units, 3 * l->units);
    size_t b = stepgemm_floats(3 * l->units, l->units);
    return f > b ? f : b;
}

/* Rows of hu and dh end on a whole vector, so the step kernel writes its
 * last panel in place (stepgemm_run's padded) instead of through scratch;
 * xp and gate share hu's stride so one index serves all three. */
static size_t pad8(size_t n)
{
    return (n + 7) / 8 * 8;
}

size_t gru_ws_floats(const gru_t *l, int T, int B)
{
    size_t u = l->units, rows = (size_t)T * B;
    return (rows + B) * u + 3 * rows * pad8(3 * u) + (size_t)B * pad8(u) +
           packed_floats(l);
}

float *gru_ws_carve(const gru_t *l, gru_ws_t *ws, float *mem, int T, int B)
{
    size_t u = l->units, rows = (size_t)T * B, ld = pad8(3 * u);
    ws->ld = (int)ld;
    ws->h = mem, mem += (rows + B) * u;
    ws->xp = mem, mem += rows * ld;
    ws->hu = mem, mem += rows * ld;
    ws->gate = mem, mem += rows * ld;
    ws->dh = mem, mem += (size_t)B * pad8(u);
    ws->packed = mem, mem += packed_floats(l);
    return mem;
}

void gru_forward(const gru_t *l, const float *params, gru_ws_t *ws,
                 const float *x, int ldx, const float *h0, int ldh0, int T,
                 int B)
{
    const int u = l->units, u3 = 3 * u, ld = ws->ld;
    const size_t rows = (size_t)T * B;
    const float *b = params + l->b, *U = params + l->u;
    stepgemm_b_t ub;
    stepgemm_pack(&ub, U, u3, 0, u, u3, ws->packed);
    /* the fused gates go with the kernel: one switch, one set of bits; with
     * at most 4 inputs they make x W + b themselves (no GEMM, no bias rows) */
    const int fused = ub.panels != NULL && u >= 8, thin = fused && l->in <= 4;

    if (!thin) {
        for (size_t r = 0; r < rows; r++) {
            float *xp = ws->xp + r * ld;
            memcpy(xp, b, sizeof(float) * 2 * u);
            memset(xp + 2 * u, 0, sizeof(float) * u);
        }
        nn_gemm(0, 0, (int)rows, u3, l->in, x, ldx, params + l->w, u3, 1.0f,
                ws->xp, ld);
    }
    for (int i = 0; i < B; i++) {
        if (h0)
            memcpy(ws->h + (size_t)i * u, h0 + (size_t)i * ldh0,
                   sizeof(float) * u);
        else
            memset(ws->h + (size_t)i * u, 0, sizeof(float) * u);
    }
    for (int t = 0; t < T; t++) {
        const float *hp = ws->h + (size_t)t * B * u;
        float *hn = ws->h + (size_t)(t + 1) * B * u;
        float *hu = ws->hu + (size_t)t * B * ld;
        float *xp = ws->xp + (size_t)t * B * ld;
        float *gate = ws->gate + (size_t)t * B * ld;
        stepgemm_run(B, hp, u, &ub, 0.0f, hu, ld, 1);
        if (fused)
            gates_step_fused(u, B, (size_t)ld, xp, hu, hp, gate, hn, l->in,
                             thin ? x + (size_t)t * B * ldx : NULL, (size_t)ldx,
                             params + l->w, b);
        else
            for (int i = 0; i < B; i++)
                gates_forward(u, xp + (size_t)i * ld, hu + (size_t)i * ld,
                              hp + (size_t)i * u, gate + (size_t)i * ld,
                              hn + (size_t)i * u);
    }
}

void gru_backward(const gru_t *l, const float *params, float *grads,
                  gru_ws_t *ws, const float *x, int ldx, const float *dy,
                  float *dx, float *dh0, int T, int B)
{
    const int u = l->units, u3 = 3 * u, ld = ws->ld, ldh = (int)pad8(u);
    const size_t rows = (size_t)T * B;
    const float *U = params + l->u;
    stepgemm_b_t ut; /* U^T: (3u, u) */
    stepgemm_pack(&ut, U, u3, 1, u3, u, ws->packed);

    memset(ws->dh, 0, sizeof(float) * B * ldh);
    for (int t = T - 1; t >= 0; t--) {
        const float *hp = ws->h + (size_t)t * B * u;
        const float *dyt = dy + (size_t)t * B * u;
        float *xp = ws->xp + (size_t)t * B * ld;
        float *hu = ws->hu + (size_t)t * B * ld;
        const float *gate = ws->gate + (size_t)t * B * ld;
        for (int i = 0; i < B; i++)
            gates_backward(u, dyt + (size_t)i * u, hp + (size_t)i * u,
                           gate + (size_t)i * ld, xp + (size_t)i * ld,
                           hu + (size_t)i * ld, ws->dh + (size_t)i * ldh);
        if (t > 0 || dh0)
            stepgemm_run(B, hu, ld, &ut, 1.0f, ws->dh, ldh, 1);
    }
    for (int i = 0; dh0 && i < B; i++)
        memcpy(dh0 + (size_t)i * u, ws->dh + (size_t)i * ldh, sizeof(float) * u);
    /* dL/d(x W + b) is [hu's g|s parts | xp's n part] */
    smallgemm_wgrad(l->in, 2 * u, (int)rows, x, ldx, ws->hu, ld, grads + l->w, u3,
                    grads + l->b);
    smallgemm_wgrad(l->in, u, (int)rows, x, ldx, ws->xp + 2 * u, ld,
                    grads + l->w + 2 * u, u3, NULL);
    smallgemm_wgrad(u, u3, (int)rows, ws->h, u, ws->hu, ld, grads + l->u, u3, NULL);
    if (dx) {
        nn_gemm(0, 1, (int)rows, l->in, 2 * u, ws->hu, ld, params + l->w, u3,
                0.0f, dx, l->in);
        nn_gemm(0, 1, (int)rows, l->in, u, ws->xp + 2 * u, ld,
                params + l->w + 2 * u, u3, 1.0f, dx, l->in);
    }
}

double gru_flops(const gru_t *l, int T, int B, int backward, int want_dx)
{
    double rows = (double)T * B, u3 = 3.0 * l->units;
    double in = 2.0 * rows * l->in * u3, rec = 2.0 * rows * l->units * u3;
    if (!backward)
        return in + rec;
    return in * (want_dx ? 2 : 1) + 2 * rec;
}
