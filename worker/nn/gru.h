/* gru.h - the reference's GRU (no candidate bias) over a [T,B,in] sequence.
 *
 *   g = sigmoid(x Wg + h Ug + bg)    s = sigmoid(x Ws + h Us + bs)
 *   n = tanh(x Wn + s * (h Un))      h' = (1 - g) * n + g * h
 *
 * The three gates share one GEMM: W = [Wg|Ws|Wn] (in,3u) and U = [Ug|Us|Un]
 * (u,3u), so the input projections of all T*B rows are one GEMM (with at
 * most 4 inputs, on FMA machines, the gates make them instead) and each
 * step costs one (B,u)x(u,3u) product (stepgemm.h). */
#ifndef NMN_GRU_H
#define NMN_GRU_H

#include <stddef.h>

typedef struct gru {
    int in, units;
    size_t w, u, b; /* offsets: W (in,3u), U (u,3u), b (2u) = [bg|bs] */
} gru_t;

/* Activations of one forward pass, kept for the backward pass. Buffers are
 * carved once from a job's workspace; backward reuses them in place. */
typedef struct gru_ws {
    int ld;      /* row stride of xp, hu and gate: 3u rounded up to 8 */
    float *h;    /* (T+1,B,u): block 0 is the initial state, block t+1 is h_t */
    float *xp;   /* (T,B,ld): x W + [bg|bs|0]; after backward, its n part
                    holds dL/d(x Wn) (the g and s parts are hu's) */
    float *hu;   /* (T,B,ld): h_{t-1} U; dL/d(h U) after backward */
    float *gate; /* (T,B,ld): g | s | n */
    float *dh;   /* (B, u rounded up to 8): gradient carried to the previous step */
    float *packed; /* U (forward) or U^T (backward) as stepgemm reads it */
} gru_ws_t;

/* Floats of workspace for (T,B); gru_ws_carve points a gru_ws_t into mem. */
size_t gru_ws_floats(const gru_t *l, int T, int B);
float *gru_ws_carve(const gru_t *l, gru_ws_t *ws, float *mem, int T, int B);

/* Runs T steps from h0 (B,u; row stride ldh0). Outputs are ws->h + B*u. */
void gru_forward(const gru_t *l, const float *params, gru_ws_t *ws,
                 const float *x, int ldx, const float *h0, int ldh0, int T,
                 int B);
/* BPTT over the T steps. dy (T,B,u) is dL/dh_t from above (read only).
 * grads += dW, dU, db. dx (T,B,in) and dh0 (B,u) are written when not NULL;
 * with dh0 NULL no gradient is propagated past step 0 (the initial state is
 * a constant). Destroys the forward caches. */
void gru_backward(const gru_t *l, const float *params, float *grads,
                  gru_ws_t *ws, const float *x, int ldx, const float *dy,
                  float *dx, float *dh0, int T, int B);
double gru_flops(const gru_t *l, int T, int B, int backward, int want_dx);

#endif
