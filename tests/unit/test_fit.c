/* test_fit.c - the R^2 of Figure 3's "alpha from z" on data with a known
 * answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "../../common/rng.h"
#include "../../worker/eval/fit.h"
#include "golden.h"

enum { N = 2000, K = 5 };

static void random_features(double *X, int n, int k, uint64_t seed)
{
    rng_t r;
    rng_seed(&r, seed, 9);
    for (int i = 0; i < n * k; i++)
        X[i] = rng_normal(&r);
}

/* y exactly linear in X: R^2 = 1 */
static void test_exact(void **state)
{
    (void)state;
    static double X[N * K], y[N];
    random_features(X, N, K, 1);
    for (int i = 0; i < N; i++)
        y[i] = 3 + 2 * X[i * K] - X[i * K + 1] + 0.5 * X[i * K + 4];
    CHECK_NEAR(fit_r2(X, y, N, K), 1.0, 1e-12);
}

/* one feature: R^2 is the squared correlation */
static void test_one_feature(void **state)
{
    (void)state;
    static double x[N], y[N], noise[N];
    random_features(x, N, 1, 2);
    random_features(noise, N, 1, 3);
    for (int i = 0; i < N; i++)
        y[i] = 0.7 * x[i] + noise[i];
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < N; i++)
        mx += x[i] / N, my += y[i] / N;
    for (int i = 0; i < N; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    double want = sxy * sxy / (sxx * syy);
    CHECK_NEAR(fit_r2(x, y, N, 1), want, 1e-12);
    /* and near its population value 0.49 / 1.49 */
    CHECK_NEAR(fit_r2(x, y, N, 1), 0.49 / 1.49, 0.03);
}

/* y orthogonal to the centred feature: R^2 = 0 */
static void test_orthogonal(void **state)
{
    (void)state;
    double x[4] = {1, 2, 3, 4}, y[4] = {1, -1, -1, 1};
    CHECK_NEAR(fit_r2(x, y, 4, 1), 0.0, 1e-15);
}

/* a constant column and a copy of a column add nothing; constant y has no
 * R^2 */
static void test_degenerate(void **state)
{
    (void)state;
    static double X[N * 2], Xd[N * 4], y[N];
    random_features(X, N, 2, 4);
    random_features(y, N, 1, 5);
    for (int i = 0; i < N; i++) {
        y[i] += X[i * 2] - X[i * 2 + 1];
        Xd[i * 4] = X[i * 2], Xd[i * 4 + 1] = 7.0, Xd[i * 4 + 2] = X[i * 2 + 1];
        Xd[i * 4 + 3] = -2 * X[i * 2];
    }
    double r2 = fit_r2(X, y, N, 2);
    assert_true(r2 > 0.5 && r2 < 0.8);
    CHECK_NEAR(fit_r2(Xd, y, N, 4), r2, 1e-12);
    for (int i = 0; i < N; i++)
        y[i] = 4;
    assert_true(isnan(fit_r2(X, y, N, 2)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_one_feature),
        cmocka_unit_test(test_orthogonal),
        cmocka_unit_test(test_degenerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
