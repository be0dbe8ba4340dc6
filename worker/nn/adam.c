/* adam.c - the Adam optimiser. */
#include "adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int adam_init(adam_t *a, size_t n, double beta1, double beta2, double eps)
{
    a->beta1 = beta1, a->beta2 = beta2, a->eps = eps;
    a->n = n, a->step = 0;
    a->m = calloc(n ? n : 1, sizeof(float));
    a->v = calloc(n ? n : 1, sizeof(float));
    if (a->m == NULL || a->v == NULL) {
        adam_free(a);
        return -1;
    }
    return 0;
}

void adam_free(adam_t *a)
{
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

void adam_step(adam_t *a, float *params, const float *grads, double lr)
{
    a->step++;
    double k = (double)a->step;
    float lrk = (float)(lr * sqrt(1.0 - pow(a->beta2, k)) /
                        (1.0 - pow(a->beta1, k)));
    float b1 = (float)a->beta1, b2 = (float)a->beta2, eps = (float)a->eps;
    for (size_t i = 0; i < a->n; i++) {
        float g = grads[i];
        a->m[i] = b1 * a->m[i] + (1.0f - b1) * g;
        a->v[i] = b2 * a->v[i] + (1.0f - b2) * g * g;
        params[i] -= lrk * a->m[i] / (sqrtf(a->v[i]) + eps);
    }
}

void adam_copy(adam_t *dst, const adam_t *src)
{
    dst->step = src->step;
    memcpy(dst->m, src->m, sizeof(float) * src->n);
    memcpy(dst->v, src->v, sizeof(float) * src->n);
}
