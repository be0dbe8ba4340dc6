/* nmdense.h - the neuromodulated dense layer (the NMN activation):
 *
 *   y = act( (x W) * (1 + z Ms) + b + z Mb )
 *
 * Ms and Mb are stored side by side as M = [Ms|Mb] (k,2*out), so z M is one
 * GEMM. z is a column group of a wider z buffer: columns zoff..zoff+k-1. */
#ifndef NMN_NMDENSE_H
#define NMN_NMDENSE_H

#include "ops.h"

typedef struct nmdense {
    int in, out, k, zoff;
    enum nn_act act; /* satrelu for hidden layers, linear for heads */
    size_t w, m, b;  /* offsets: W (in,out), M (k,2out) = [Ms|Mb], b (out) */
} nmdense_t;

/* Caches of one forward pass over N rows. */
typedef struct nmdense_ws {
    float *y;  /* (N,out) */
    float *xw; /* (N,out): x W; dL/d(x W) after backward */
    float *zm; /* (N,2out): z M; dL/d(z M) after backward */
} nmdense_ws_t;

size_t nmdense_ws_floats(const nmdense_t *l, int N);
float *nmdense_ws_carve(const nmdense_t *l, nmdense_ws_t *ws, float *mem,
                        int N);
/* z points at the full z buffer (N rows, stride ldz); the layer reads its
 * own group. */
void nmdense_forward(const nmdense_t *l, const float *params,
                     nmdense_ws_t *ws, const float *x, int ldx,
                     const float *z, int ldz, int N);
/* dy (N,out) holds dL/dy and is overwritten. grads += dW, dM, db.
 * dx (N,in) is written when not NULL; dz (stride ldz, the layer's group of
 * columns) is accumulated into when not NULL. */
void nmdense_backward(const nmdense_t *l, const float *params, float *grads,
                      nmdense_ws_t *ws, float *dy, const float *x, int ldx,
                      const float *z, int ldz, float *dx, float *dz, int N);
double nmdense_flops(const nmdense_t *l, int N, int backward, int want_dx);

#endif
