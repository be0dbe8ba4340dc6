/* dense.h - y = act(x W + b) over N rows at once. */
#ifndef NMN_DENSE_H
#define NMN_DENSE_H

#include "ops.h"

typedef struct dense {
    int in, out;
    enum nn_act act;
    size_t w, b; /* offsets in the flat parameters: W (in,out), b (out) */
} dense_t;

/* y (N,out) = act(x (N,in; row stride ldx) W + b) */
void dense_forward(const dense_t *l, const float *params, float *y,
                   const float *x, int ldx, int N);
/* dy (N,out) holds dL/dy and is overwritten with dL/dpre. grads += dW, db.
 * dx (N,in), if not NULL, is overwritten with dL/dx. */
void dense_backward(const dense_t *l, const float *params, float *grads,
                    float *dx, float *dy, const float *y, const float *x,
                    int ldx, int N);
/* FLOPs of the GEMMs: forward, and backward (with or without dx). */
double dense_flops(const dense_t *l, int N, int backward, int want_dx);

#endif
