/* golden.h - test helpers: read ../shared/golden JSON files (jansson),
 * compare arrays with tolerances, and check gradients by finite
 * differences. */
#ifndef NMN_TEST_GOLDEN_H
#define NMN_TEST_GOLDEN_H

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "../../common/rng.h"

/* Fails the current cmocka test, printing the expression, the value and
 * the expected one, when |got - want| > tol. */
#define CHECK_NEAR(got, want, tol)                                             \
    do {                                                                       \
        double g_ = (got), w_ = (want);                                        \
        if (!(fabs(g_ - w_) <= (tol))) {                                       \
            printf("# %s = %.10g, want %.10g (tolerance %g)\n", #got, g_, w_,  \
                   (double)(tol));                                             \
            fail();                                                            \
        }                                                                      \
    } while (0)

/* n normal draws with standard deviation sd (malloc'd). */
float *test_randn(rng_t *r, size_t n, double sd);

/* Loads $GOLDEN_DIR/name; fails the test with a message if it cannot. */
json_t *golden_load(const char *name);
/* A {"shape","data"} array as floats (malloc'd, n values); NULL if absent. */
float *golden_floats(json_t *arr, size_t *n);
/* The entry named `name` of a params/grads list; NULL if absent. */
json_t *golden_named(json_t *list, const char *name);

/* Compares got with want over n values by golden/README.md's rule:
 * |got - want| <= rtol |want| + 1e-5 max|want| (max over the tensor: float32
 * rounding is relative to the tensor's scale, not to each tiny value).
 * Returns the number of values out of tolerance; *worst gets the largest
 * |got - want| / tolerance (<= 1 means within) and *worst_at its index. */
size_t golden_compare(const float *got, const float *want, size_t n,
                      double rtol, double *worst, size_t *worst_at);

/* Directional finite-difference check: with d a random unit direction over
 * one tensor (rows x cols at off, row stride ld, of params), compares the
 * analytic directional derivative sum(grad * d) with
 * (L(p + h d) - L(p - h d)) / 2h. Returns |fd - an| / (rtol max(|fd|,
 * |an|) + atol): <= 1 passes. atol covers the float rounding of the loss,
 * which the 1/2h factor magnifies. */
typedef double (*fd_loss_fn)(void *ctx, const float *params);
double fd_check_direction(fd_loss_fn loss, void *ctx, float *params,
                          const float *grad, size_t off, int ld, int rows,
                          int cols, double h, unsigned seed, double rtol,
                          double atol, double *fd_out, double *an_out);

#endif
