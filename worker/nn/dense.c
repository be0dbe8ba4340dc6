/* dense.c - dense layer forward and backward. */
#include "dense.h"

#include "smallgemm.h"

void dense_forward(const dense_t *l, const float *params, float *y,
                   const float *x, int ldx, int N)
{
    smallgemm_dense(N, l->out, l->in, x, ldx, params + l->w, params + l->b,
                    l->act, y);
}

void dense_backward(const dense_t *l, const float *params, float *grads,
                    float *dx, float *dy, const float *y, const float *x,
                    int ldx, int N)
{
    act_backward(l->act, dy, y, (size_t)N * l->out);
    smallgemm_wgrad(l->in, l->out, N, x, ldx, dy, l->out, grads + l->w, l->out,
                    grads + l->b);
    if (dx)
        smallgemm_run(1, N, l->in, l->out, dy, l->out, params + l->w, l->out,
                      0.0f, dx, l->in);
}

double dense_flops(const dense_t *l, int N, int backward, int want_dx)
{
    double mm = 2.0 * N * l->in * l->out;
    return backward ? mm * (want_dx ? 2 : 1) : mm;
}
