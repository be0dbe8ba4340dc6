/* nmdense.c - neuromodulated dense layer forward and backward. */
#include "nmdense.h"

#include "smallgemm.h"

size_t nmdense_ws_floats(const nmdense_t *l, int N)
{
    return (size_t)N * l->out * 4;
}

float *nmdense_ws_carve(const nmdense_t *l, nmdense_ws_t *ws, float *mem,
                        int N)
{
    size_t n = (size_t)N * l->out;
    ws->y = mem, mem += n;
    ws->xw = mem, mem += n;
    ws->zm = mem, mem += 2 * n;
    return mem;
}

void nmdense_forward(const nmdense_t *l, const float *params,
                     nmdense_ws_t *ws, const float *x, int ldx,
                     const float *z, int ldz, int N)
{
    const int o = l->out;
    const float *b = params + l->b;
    smallgemm_run(0, N, o, l->in, x, ldx, params + l->w, o, 0.0f, ws->xw, o);
    smallgemm_run(0, N, 2 * o, l->k, z + l->zoff, ldz, params + l->m, 2 * o,
                  0.0f, ws->zm, 2 * o);
    for (int r = 0; r < N; r++) {
        const float *xw = ws->xw + (size_t)r * o, *zm = ws->zm + (size_t)r * 2 * o;
        float *y = ws->y + (size_t)r * o;
        for (int j = 0; j < o; j++)
            y[j] = xw[j] * (1.0f + zm[j]) + b[j] + zm[o + j];
    }
    act_forward(l->act, ws->y, (size_t)N * o);
}

void nmdense_backward(const nmdense_t *l, const float *params, float *grads,
                      nmdense_ws_t *ws, float *dy, const float *x, int ldx,
                      const float *z, int ldz, float *dx, float *dz, int N)
{
    const int o = l->out;
    act_backward(l->act, dy, ws->y, (size_t)N * o);
    nn_colsum(grads + l->b, dy, N, o, o);
    for (int r = 0; r < N; r++) {
        float *xw = ws->xw + (size_t)r * o, *zm = ws->zm + (size_t)r * 2 * o;
        const float *d = dy + (size_t)r * o;
        for (int j = 0; j < o; j++) {
            float dxw = d[j] * (1.0f + zm[j]);
            zm[j] = d[j] * xw[j];
            zm[o + j] = d[j];
            xw[j] = dxw;
        }
    }
    smallgemm_wgrad(l->in, o, N, x, ldx, ws->xw, o, grads + l->w, o, NULL);
    smallgemm_wgrad(l->k, 2 * o, N, z + l->zoff, ldz, ws->zm, 2 * o,
                    grads + l->m, 2 * o, NULL);
    if (dx)
        smallgemm_run(1, N, l->in, o, ws->xw, o, params + l->w, o, 0.0f, dx,
                      l->in);
    if (dz)
        smallgemm_run(1, N, l->k, 2 * o, ws->zm, 2 * o, params + l->m, 2 * o,
                      1.0f, dz + l->zoff, ldz);
}

double nmdense_flops(const nmdense_t *l, int N, int backward, int want_dx)
{
    double xw = 2.0 * N * l->in * l->out, zm = 2.0 * N * l->k * 2 * l->out;
    if (!backward)
        return xw + zm;
    return xw * (want_dx ? 2 : 1) + 2 * zm;
}
