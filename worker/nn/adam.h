/* adam.h - Adam in TensorFlow's form (science.md section 5):
 *   lr_k = lr sqrt(1 - beta2^k) / (1 - beta1^k)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   theta -= lr_k m / (sqrt(v) + eps)
 * The step count, m and v are the optimiser state: saving them and
 * restoring them reproduces the following steps exactly. */
#ifndef NMN_ADAM_H
#define NMN_ADAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct adam {
    double beta1, beta2, eps;
    size_t n;
    int64_t step;
    float *m, *v; /* (n) */
} adam_t;

/* Returns 0, or -1 when out of memory. */
int adam_init(adam_t *a, size_t n, double beta1, double beta2, double eps);
void adam_free(adam_t *a);
/* One step on params (n) with gradients grads (n). */
void adam_step(adam_t *a, float *params, const float *grads, double lr);
/* Copies the whole optimiser state (same n) from src into dst. */
void adam_copy(adam_t *dst, const adam_t *src);

#endif
