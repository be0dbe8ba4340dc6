/* test_nn_core.c - the RNG, Adam, the Gaussian policy helpers and the BLAS
 * contract (one thread, row-major GEMM wrapper). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/rng.h"
#include "../../worker/nn/adam.h"
#include "../../worker/nn/fastmath.h"
#include "../../worker/nn/ops.h"
#include "../../worker/nn/policy.h"
#include "../../worker/nn/smallgemm.h"
#include "../../worker/nn/stepgemm.h"
#include "golden.h"


/* --- RNG ---------------------------------------------------------------- */

static void test_rng_reproducible(void **state)
{
    (void)state;
    rng_t a, b, c, d;
    rng_seed(&a, 42, RNG_ENV);
    rng_seed(&b, 42, RNG_ENV);
    rng_seed(&c, 42, RNG_SAMPLE);
    rng_seed(&d, 43, RNG_ENV);
    int same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = rng_u32(&a);
        assert_int_equal(x, rng_u32(&b));
        same_c += x == rng_u32(&c);
        same_d += x == rng_u32(&d);
    }
    /* unrelated 32-bit streams collide about once in 4e9 draws */
    assert_true(same_c <= 1);
    assert_true(same_d <= 1);
}

static void test_rng_distributions(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 7, RNG_INIT);
    const int n = 1000000;
    double su = 0, sn = 0, sn2 = 0, st2 = 0, umin = 1, umax = 0, tmax = 0;
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r), z = rng_normal(&r), t = rng_trunc_normal(&r, 0.1);
        su += u;
        umin = fmin(umin, u), umax = fmax(umax, u);
        sn += z, sn2 += z * z;
        st2 += t * t;
        tmax = fmax(tmax, fabs(t));
    }
    double mean = sn / n, var = sn2 / n - mean * mean;
    printf("# uniform mean %.5f [%.2g, %.6f]; normal mean %.5f var %.5f; truncated max %.5f\n",
           su / n, umin, umax, mean, var, tmax);
    assert_true(umin >= 0.0 && umax < 1.0);
    CHECK_NEAR(su / n, 0.5, 5 * sqrt(1.0 / 12 / n));
    CHECK_NEAR(mean, 0.0, 5 / sqrt(n));
    CHECK_NEAR(var, 1.0, 5 * sqrt(2.0 / n));
    assert_true(tmax <= 0.2);
    /* variance of N(0,1) truncated to [-2, 2]: 1 - 4 phi(2) / (2 Phi(2) - 1) */
    double phi2 = exp(-2.0) / sqrt(2 * M_PI), mass = erf(2 / sqrt(2.0));
    double tvar = 1 - 4 * phi2 / mass;
    /* var of t^2 for the truncated normal is below 2 var^2: a safe SE bound */
    CHECK_NEAR(st2 / n / 0.01, tvar, 5 * sqrt(2.0 / n));
}

static void test_rng_save_restore(void **state)
{
    (void)state;
    rng_t r, saved;
    rng_seed(&r, 3, RNG_SHUFFLE);
    rng_normal(&r); /* leaves a Box-Muller spare pending: it is state too */
    saved = r;
    double first[64];
    for (int i = 0; i < 64; i++)
        first[i] = i % 2 ? rng_normal(&r) : rng_uniform(&r);
    r = saved;
    for (int i = 0; i < 64; i++)
        assert_true(first[i] == (i % 2 ? rng_normal(&r) : rng_uniform(&r)));
}

/* --- Adam --------------------------------------------------------------- */

/* f = a0 x0^2 + a1 x1^2 from (1, -2), lr 0.1; expected values computed
 * independently in double precision from science.md's formulas. */
static void test_adam_quadratic(void **state)
{
    (void)state;
    static const double want[3][2] = {{0.900000016, -1.900000003},
                                      {0.800412255, -1.800166490},
                                      {0.701586309, -1.700623397}};
    const float a[2] = {1, 3};
    float x[2] = {1, -2}, g[2];
    adam_t opt;
    assert_int_equal(adam_init(&opt, 2, 0.9, 0.999, 1e-8), 0);
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 2; i++)
            g[i] = 2 * a[i] * x[i];
        adam_step(&opt, x, g, 0.1);
        /* float32 state: ~1e-6 relative rounding; a formula error shows at 1e-2 */
        CHECK_NEAR(x[0], want[k][0], 1e-5);
        CHECK_NEAR(x[1], want[k][1], 1e-5);
    }
    assert_int_equal(opt.step, 3);
    adam_free(&opt);
}

static void test_adam_restore(void **state)
{
    (void)state;
    enum { N = 100 };
    adam_t opt, saved;
    assert_int_equal(adam_init(&opt, N, 0.9, 0.999, 1e-8), 0);
    assert_int_equal(adam_init(&saved, N, 0.9, 0.999, 1e-8), 0);
    float x[N], x0[N], g[N], after[N];
    rng_t r;
    rng_seed(&r, 1, 1);
    for (int i = 0; i < N; i++)
        x[i] = (float)rng_normal(&r);
    for (int s = 0; s < 5; s++) {
        for (int i = 0; i < N; i++)
            g[i] = x[i] * (1 + i % 3);
        adam_step(&opt, x, g, 0.01);
    }
    adam_copy(&saved, &opt);
    memcpy(x0, x, sizeof x);
    for (int s = 0; s < 5; s++) {
        for (int i = 0; i < N; i++)
            g[i] = x[i] * (1 + i % 3);
        adam_step(&opt, x, g, 0.01);
    }
    memcpy(after, x, sizeof x);
    adam_copy(&opt, &saved);
    memcpy(x, x0, sizeof x);
    for (int s = 0; s < 5; s++) {
        for (int i = 0; i < N; i++)
            g[i] = x[i] * (1 + i % 3);
        adam_step(&opt, x, g, 0.01);
    }
    assert_memory_equal(x, after, sizeof x);
    adam_free(&opt);
    adam_free(&saved);
}

/* --- policy ------------------------------------------------------------- */

static void test_policy_values(void **state)
{
    (void)state;
    const float m[2] = {0.5f, -1.0f}, l[2] = {0.2f, -0.4f}, eps[2] = {1.5f, -0.25f};
    float u[2];
    policy_sample(u, m, l, eps, 2);
    CHECK_NEAR(u[0], 0.5 + exp(0.1) * 1.5, 1e-6);
    CHECK_NEAR(u[1], -1.0 - exp(-0.2) * 0.25, 1e-6);
    /* at u = m only the log-variance term remains */
    CHECK_NEAR(policy_logp(m, m, l, 2), -0.5 * (0.2 - 0.4), 1e-7);
    double lp = -0.5 * (0.2 - 0.4) - 0.5 * (exp(0.2) * 2.25 / (exp(0.2) + 1e-6) +
                                            exp(-0.4) * 0.0625 / (exp(-0.4) + 1e-6));
    CHECK_NEAR(policy_logp(u, m, l, 2), lp, 1e-6);
    CHECK_NEAR(policy_kl(m, l, m, l, 2), 0.0, 1e-7);
    const float m2[2] = {0.7f, -1.2f}, l2[2] = {0.0f, 0.1f};
    double kl = 0.5 * ((0.0 + 0.1) - (0.2 - 0.4) + exp(0.2 - 0.0) + exp(-0.4 - 0.1) +
                       0.04 / (1 + 1e-6) + 0.04 / (exp(0.1) + 1e-6) - 2);
    CHECK_NEAR(policy_kl(m, l, m2, l2, 2), kl, 1e-6);
    CHECK_NEAR(policy_entropy(l, 2), 0.5 * (2 * (log(2 * M_PI) + 1) - 0.2), 1e-6);
}

static void test_policy_gradients(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 5, 5);
    for (int trial = 0; trial < 20; trial++) {
        float u[3], m[3], l[3], mo[3], lo[3], dm[3], dl[3], km[3], kl[3];
        for (int j = 0; j < 3; j++) {
            u[j] = (float)rng_normal(&r), m[j] = (float)rng_normal(&r);
            l[j] = (float)rng_normal(&r), mo[j] = (float)rng_normal(&r);
            lo[j] = (float)rng_normal(&r);
        }
        policy_logp_grad(dm, dl, u, m, l, 3);
        policy_kl_grad(km, kl, mo, lo, m, l, 3);
        for (int j = 0; j < 3; j++) {
            const float h = 1e-2f;
            float *vars[2] = {m, l};
            float an_lp[2] = {dm[j], dl[j]}, an_kl[2] = {km[j], kl[j]};
            for (int v = 0; v < 2; v++) {
                float s = vars[v][j];
                vars[v][j] = s + h;
                double lp1 = policy_logp(u, m, l, 3), kl1 = policy_kl(mo, lo, m, l, 3);
                vars[v][j] = s - h;
                double lp0 = policy_logp(u, m, l, 3), kl0 = policy_kl(mo, lo, m, l, 3);
                vars[v][j] = s;
                double fd_lp = (lp1 - lp0) / (2 * h), fd_kl = (kl1 - kl0) / (2 * h);
                CHECK_NEAR(an_lp[v], fd_lp, 2e-3 * (1 + fabs(fd_lp)));
                CHECK_NEAR(an_kl[v], fd_kl, 2e-3 * (1 + fabs(fd_kl)));
            }
        }
    }
}

/* --- fast tanh and sigmoid (the GRU gates) ------------------------------ */

static void test_fastmath_accuracy(void **state)
{
    (void)state;
    double tanh_rel = 0, sig_abs = 0;
    for (float x = -20.0f; x <= 20.0f; x += 1.0f / 4096) {
        double t = tanh((double)x), s = 1.0 / (1.0 + exp(-(double)x));
        double e = fabs(nn_tanhf(x) - t) / fmax(fabs(t), 1e-30);
        tanh_rel = fmax(tanh_rel, x == 0.0f ? 0 : e);
        sig_abs = fmax(sig_abs, fabs(nn_sigmoidf(x) - s));
    }
    printf("# tanh max relative error %.3g, sigmoid max absolute error %.3g\n",
           tanh_rel, sig_abs);
    assert_true(tanh_rel < 5e-7);
    assert_true(sig_abs < 3e-7);
    assert_true(nn_tanhf(0.0f) == 0.0f && nn_sigmoidf(0.0f) == 0.5f);
    assert_true(nn_tanhf(1e-3f) == -nn_tanhf(-1e-3f));
}

/* The fused form (the gates on FMA machines) keeps the same accuracy. */
static void test_fastmath_fused_accuracy(void **state)
{
    (void)state;
    double tanh_rel = 0, sig_abs = 0, vs_plain = 0;
    for (float x = -20.0f; x <= 20.0f; x += 1.0f / 4096) {
        double t = tanh((double)x), s = 1.0 / (1.0 + exp(-(double)x));
        double e = fabs(nn_tanhf_fused(x) - t) / fmax(fabs(t), 1e-30);
        tanh_rel = fmax(tanh_rel, x == 0.0f ? 0 : e);
        sig_abs = fmax(sig_abs, fabs(nn_sigmoidf_fused(x) - s));
        vs_plain = fmax(vs_plain, fabs(nn_tanhf_fused(x) - nn_tanhf(x)));
    }
    printf("# fused: tanh max relative error %.3g, sigmoid max absolute error %.3g, "
           "largest difference from the unfused tanh %.3g\n", tanh_rel, sig_abs, vs_plain);
    assert_true(tanh_rel < 5e-7);
    assert_true(sig_abs < 3e-7);
    assert_true(vs_plain > 0); /* it is another function, not an alias */
    assert_true(nn_tanhf_fused(0.0f) == 0.0f && nn_sigmoidf_fused(0.0f) == 0.5f);
}

/* --- the recurrent step's GEMM ------------------------------------------ */

/* stepgemm against double-precision loops, on the kernel and on the
 * fallback: edges of every size (rows not a multiple of 5, panels of 1..16
 * columns), both layouts of B, beta 0 and 1, strides wider than the matrix
 * (whose gaps must stay untouched), C rows padded to whole vectors, and,
 * on the kernel, a row's bits independent of where it sits in A (edge
 * tiles do what full ones do). */
static void test_stepgemm(void **state)
{
    (void)state;
    static const int Ms[] = {1, 4, 5, 7, 25, 52}, Ns[] = {1, 8, 9, 16, 17, 50, 150},
                     Ks[] = {1, 3, 50};
    enum { PAD = 3 };
    rng_t r;
    rng_seed(&r, 5, 5);
    float *A = test_randn(&r, 52 * (50 + PAD), 1.0), *B = test_randn(&r, 160 * (160 + PAD), 1.0);
    float *C = malloc(sizeof(float) * 52 * (150 + PAD)), *C0 = malloc(sizeof(float) * 52 * (150 + PAD));
    float *C1 = malloc(sizeof(float) * (150 + PAD)), *C2 = malloc(sizeof(float) * 52 * (152 + PAD));
    float *mem = malloc(sizeof(float) * stepgemm_floats(150, 150));
    printf("# stepgemm kernel on this machine: %s\n", nn_kernels_active() ? "yes" : "no (fallback only)");
    long checked = 0;
    for (int fallback = 0; fallback < 2; fallback++) {
        nn_kernels_force_fallback(fallback);
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
                for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
                    for (int trans = 0; trans < 2; trans++)
                        for (int beta = 0; beta < 2; beta++) {
                            int M = Ms[mi], N = Ns[ni], K = Ks[ki];
                            int lda = K + PAD, ldc = N + PAD, ldb = (trans ? K : N) + PAD;
                            stepgemm_b_t b;
                            stepgemm_pack(&b, B, ldb, trans, K, N, mem);
                            assert_true((b.panels != NULL) == (!fallback && nn_kernels_active()));
                            for (int i = 0; i < M * ldc; i++)
                                C[i] = C0[i] = (float)(i % 11) - 5.0f;
                            stepgemm_run(M, A, lda, &b, (float)beta, C, ldc, 0);
                            for (int i = 0; i < M; i++) {
                                for (int j = 0; j < N; j++) {
                                    double want = beta ? C0[i * ldc + j] : 0.0, mag = fabs(want);
                                    for (int k = 0; k < K; k++) {
                                        double bk = trans ? B[j * ldb + k] : B[k * ldb + j];
                                        want += (double)A[i * lda + k] * bk;
                                        mag += fabs((double)A[i * lda + k] * bk);
                                    }
                                    CHECK_NEAR(C[i * ldc + j], want, 1e-5 * mag + 1e-30);
                                }
                                for (int j = N; j < ldc; j++)
                                    assert_true(C[i * ldc + j] == C0[i * ldc + j]);
                            }
                            /* padded: C's rows have room to a multiple of 8; the
                             * same bits, the room written with zeros (beta 0) or
                             * left as it was, nothing beyond it touched */
                            int np = (N + 7) / 8 * 8, ldp = np + PAD;
                            for (int i = 0; i < M; i++)
                                for (int j = 0; j < ldp; j++)
                                    C2[i * ldp + j] = j < N ? C0[i * ldc + j] : 9.0f;
                            stepgemm_run(M, A, lda, &b, (float)beta, C2, ldp, 1);
                            for (int i = 0; i < M; i++) {
                                assert_memory_equal(C2 + i * ldp, C + i * ldc, sizeof(float) * N);
                                for (int j = N; j < np; j++)
                                    assert_true(C2[i * ldp + j] == 9.0f || (!beta && C2[i * ldp + j] == 0.0f));
                                for (int j = np; j < ldp; j++)
                                    assert_true(C2[i * ldp + j] == 9.0f);
                            }
                            /* the kernel: the last row alone gives the same bits
                             * (OpenBLAS does not promise this, and does not do it) */
                            if (b.panels) {
                                memcpy(C1, C0 + (size_t)(M - 1) * ldc, sizeof(float) * ldc);
                                stepgemm_run(1, A + (size_t)(M - 1) * lda, lda, &b, (float)beta, C1, ldc, 0);
                                assert_memory_equal(C1, C + (size_t)(M - 1) * ldc, sizeof(float) * N);
                            }
                            checked++;
                        }
    }
    nn_kernels_force_fallback(0);
    printf("# %ld stepgemm cases checked\n", checked);
    free(A), free(B), free(C), free(C0), free(C1), free(C2), free(mem);
}

/* smallgemm_run (C = A op(B) + beta C with B a layer's weights) against
 * double loops, on the kernel and the fallback: row counts around its
 * 4-row tiles, column counts around its vectors and 24-column panels
 * (tails of 1..7 go through partial stores), strides wider than the
 * matrices whose gaps stay untouched, and on the kernel a row's bits
 * independent of where it sits. */
static void test_smallgemm_run(void **state)
{
    (void)state;
    static const int Ms[] = {1, 3, 4, 6, 9}, Ns[] = {1, 2, 3, 4, 7, 8, 9, 20, 24, 25, 50},
                     Ks[] = {1, 2, 20, 50};
    enum { PAD = 3 };
    rng_t r;
    rng_seed(&r, 7, 7);
    float *A = test_randn(&r, 9 * (50 + PAD), 1.0), *B = test_randn(&r, 50 * (50 + PAD), 1.0);
    float *C = malloc(sizeof(float) * 10 * (50 + PAD)), *C0 = malloc(sizeof(float) * 10 * (50 + PAD));
    float *C1 = malloc(sizeof(float) * (50 + PAD));
    long checked = 0;
    for (int fallback = 0; fallback < 2; fallback++) {
        nn_kernels_force_fallback(fallback);
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
                for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
                    for (int tb = 0; tb < 2; tb++)
                        for (int beta = 0; beta < 2; beta++) {
                            int M = Ms[mi], N = Ns[ni], K = Ks[ki];
                            int lda = K + PAD, ldc = N + PAD, ldb = (tb ? K : N) + PAD;
                            /* one row more than C: nothing below it is touched */
                            for (int i = 0; i < (M + 1) * ldc; i++)
                                C[i] = C0[i] = (float)(i % 11) - 5.0f;
                            smallgemm_run(tb, M, N, K, A, lda, B, ldb, (float)beta, C, ldc);
                            for (int i = 0; i < M; i++) {
                                for (int j = 0; j < N; j++) {
                                    double want = beta ? C0[i * ldc + j] : 0.0, mag = fabs(want);
                                    for (int k = 0; k < K; k++) {
                                        double bk = tb ? B[j * ldb + k] : B[k * ldb + j];
                                        want += (double)A[i * lda + k] * bk;
                                        mag += fabs((double)A[i * lda + k] * bk);
                                    }
                                    CHECK_NEAR(C[i * ldc + j], want, 1e-5 * mag + 1e-30);
                                }
                                for (int j = N; j < ldc; j++)
                                    assert_true(C[i * ldc + j] == C0[i * ldc + j]);
                            }
                            assert_memory_equal(C + M * ldc, C0 + M * ldc, sizeof(float) * ldc);
                            if (!fallback && nn_kernels_active()) {
                                memcpy(C1, C0 + (size_t)(M - 1) * ldc, sizeof(float) * ldc);
                                smallgemm_run(tb, 1, N, K, A + (size_t)(M - 1) * lda, lda, B, ldb,
                                              (float)beta, C1, ldc);
                                assert_memory_equal(C1, C + (size_t)(M - 1) * ldc, sizeof(float) * N);
                            }
                            checked++;
                        }
    }
    nn_kernels_force_fallback(0);
    printf("# %ld smallgemm_run cases checked (kernel and fallback)\n", checked);
    free(A), free(B), free(C), free(C0), free(C1);
}

/* smallgemm_dense (a dense layer's act(x W + b) in one pass): the same bits
 * as bias rows, smallgemm_run with beta 1 and act_forward, on the kernel
 * and on the fallback, for each activation, with NaN and values around the
 * kinks among the sums (relu gives 0 for NaN, satrelu keeps it). */
static void test_smallgemm_dense(void **state)
{
    (void)state;
    static const int Ms[] = {1, 5, 9}, Ns[] = {1, 3, 8, 20, 25, 50}, Ks[] = {1, 20, 50};
    rng_t r;
    rng_seed(&r, 8, 8);
    float *A = test_randn(&r, 9 * 50, 1.0), *W = test_randn(&r, 50 * 50, 1.0);
    float *bias = test_randn(&r, 50, 1.0);
    float *C = malloc(sizeof(float) * 9 * 50), *want = malloc(sizeof(float) * 9 * 50);
    A[4 * 50 + 0] = NAN; /* row 4: NaN in every sum */
    bias[2] = -1.0f, bias[3] = 1.0f, bias[4] = 0.0f; /* the kinks, with K = 1 and A = 0 */
    A[1 * 50 + 0] = 0.0f;
    long checked = 0;
    for (int fallback = 0; fallback < 2; fallback++) {
        nn_kernels_force_fallback(fallback);
        for (int act = ACT_LINEAR; act <= ACT_SATRELU; act++)
            for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
                for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
                    for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
                        int M = Ms[mi], N = Ns[ni], K = Ks[ki];
                        for (int i = 0; i < M; i++)
                            memcpy(want + i * N, bias, sizeof(float) * N);
                        smallgemm_run(0, M, N, K, A, 50, W, N, 1.0f, want, N);
                        act_forward((enum nn_act)act, want, (size_t)M * N);
                        smallgemm_dense(M, N, K, A, 50, W, bias, (enum nn_act)act, C);
                        assert_memory_equal(C, want, sizeof(float) * M * N);
                        for (int j = 0; M > 4 && j < N; j++) /* row 4: NaN, or 0 after relu */
                            assert_true(act == ACT_RELU ? C[4 * N + j] == 0.0f : isnan(C[4 * N + j]));
                        checked++;
                    }
    }
    nn_kernels_force_fallback(0);
    printf("# %ld smallgemm_dense cases checked (kernel and fallback)\n", checked);
    free(A), free(W), free(bias), free(C), free(want);
}

/* smallgemm_wgrad (C += A^T D over a batch's rows) against double loops,
 * on the kernel and the fallback: C's rows around its 4-row tiles, column
 * tails of every size and past a 24-column panel, K rows not a multiple
 * of its row blocks, strides wider than the matrices, and the row below C
 * untouched; the column sums made in the same sweep equal nn_colsum's bit
 * for bit, nothing beyond them touched. */
static void test_smallgemm_wgrad(void **state)
{
    (void)state;
    static const int Ms[] = {1, 2, 3, 4, 5, 9, 50}, Ns[] = {1, 7, 8, 9, 16, 17, 24, 25, 150},
                     Ks[] = {1, 37, 300};
    enum { PAD = 3, MMAX = 50, NMAX = 150, KMAX = 300 };
    rng_t r;
    rng_seed(&r, 6, 6);
    float *A = test_randn(&r, KMAX * (MMAX + PAD), 1.0), *D = test_randn(&r, KMAX * (NMAX + PAD), 1.0);
    float *C = malloc(sizeof(float) * (MMAX + 1) * (NMAX + PAD));
    float sums[NMAX + PAD], want_sums[NMAX + PAD];
    long checked = 0;
    for (int fallback = 0; fallback < 2; fallback++) {
        nn_kernels_force_fallback(fallback);
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
                for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
                    /* C (M x N) += A^T D with A (K x M), D (K x N) */
                    int M = Ms[mi], N = Ns[ni], K = Ks[ki], ldc = N + PAD, lda = M + PAD, ldd = N + PAD;
                    for (int i = 0; i < (M + 1) * ldc; i++)
                        C[i] = 0.5f;
                    for (int j = 0; j < NMAX + PAD; j++)
                        sums[j] = want_sums[j] = 0.25f * (float)j;
                    smallgemm_wgrad(M, N, K, A, lda, D, ldd, C, ldc, sums);
                    nn_colsum(want_sums, D, K, N, ldd);
                    assert_memory_equal(sums, want_sums, sizeof sums);
                    for (int j = 0; j < ldc; j++) /* the row below C stays */
                        assert_true(C[M * ldc + j] == 0.5f);
                    for (int i = 0; i < M; i++) {
                        for (int j = 0; j < N; j++) {
                            double want = 0.5, mag = 0.5;
                            for (int k = 0; k < K; k++) {
                                want += (double)A[k * lda + i] * D[k * ldd + j];
                                mag += fabs((double)A[k * lda + i] * D[k * ldd + j]);
                            }
                            CHECK_NEAR(C[i * ldc + j], want, 1e-6 * mag + 1e-30);
                        }
                        for (int j = N; j < ldc; j++)
                            assert_true(C[i * ldc + j] == 0.5f);
                    }
                    checked++;
                }
    }
    nn_kernels_force_fallback(0);
    printf("# %ld smallgemm_wgrad cases checked (kernel and fallback)\n", checked);
    free(A), free(D), free(C);
}

static void test_blas_single_thread(void **state)
{
    (void)state;
    int threads = nn_blas_single_thread();
    printf("# OpenBLAS: %s; threads %d; parallel mode %d\n",
           openblas_get_config(), threads, openblas_get_parallel());
    assert_int_equal(threads, 1);
    assert_int_equal(openblas_get_num_threads(), 1);
}

/* Two threads calling small GEMMs at once must get exact results (Debian's
 * serial OpenBLAS, built without locking, fails this about 3 times in 1000). */
typedef struct gemm_job {
    const float *A, *B, *ref;
    long bad;
} gemm_job_t;

static void *gemm_worker(void *arg)
{
    gemm_job_t *j = arg;
    float C[10 * 150];
    for (int i = 0; i < 20000; i++) {
        nn_gemm(0, 0, 10, 150, 50, j->A, 50, j->B, 150, 0.0f, C, 150);
        j->bad += memcmp(C, j->ref, sizeof C) != 0;
    }
    return NULL;
}

static void test_blas_concurrent_callers(void **state)
{
    (void)state;
    static float A[10 * 50], B[50 * 150], ref[10 * 150];
    for (int i = 0; i < 10 * 50; i++)
        A[i] = (float)(i % 13) * 0.1f;
    for (int i = 0; i < 50 * 150; i++)
        B[i] = (float)(i % 7) * 0.3f;
    nn_gemm(0, 0, 10, 150, 50, A, 50, B, 150, 0.0f, ref, 150);
    gemm_job_t a = {A, B, ref, 0}, b = a;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, gemm_worker, &a);
    pthread_create(&tb, NULL, gemm_worker, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    printf("# wrong results from concurrent GEMMs: %ld + %ld of 40000\n", a.bad, b.bad);
    assert_int_equal(a.bad + b.bad, 0);
}

/* nn_gemm with every transpose combination and strides against loops. */
static void test_gemm_wrapper(void **state)
{
    (void)state;
    enum { M = 5, N = 4, K = 3, LD = 7 };
    float A[M * LD], At[K * LD], Bm[K * LD], Bt[N * LD], C[M * LD];
    rng_t r;
    rng_seed(&r, 9, 9);
    for (int i = 0; i < M * LD; i++)
        A[i] = (float)rng_normal(&r);
    for (int i = 0; i < K * LD; i++)
        Bm[i] = (float)rng_normal(&r);
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            At[k * LD + i] = A[i * LD + k];
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++)
            Bt[j * LD + k] = Bm[k * LD + j];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            for (int i = 0; i < M * LD; i++)
                C[i] = 1.0f;
            nn_gemm(ta, tb, M, N, K, ta ? At : A, LD, tb ? Bt : Bm, LD, 0.5f, C, LD);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double want = 0.5;
                    for (int k = 0; k < K; k++)
                        want += (double)A[i * LD + k] * Bm[k * LD + j];
                    CHECK_NEAR(C[i * LD + j], want, 1e-5);
                }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_reproducible),
        cmocka_unit_test(test_rng_distributions),
        cmocka_unit_test(test_rng_save_restore),
        cmocka_unit_test(test_adam_quadratic),
        cmocka_unit_test(test_adam_restore),
        cmocka_unit_test(test_policy_values),
        cmocka_unit_test(test_policy_gradients),
        cmocka_unit_test(test_fastmath_accuracy),
        cmocka_unit_test(test_fastmath_fused_accuracy),
        cmocka_unit_test(test_stepgemm),
        cmocka_unit_test(test_smallgemm_run),
        cmocka_unit_test(test_smallgemm_dense),
        cmocka_unit_test(test_smallgemm_wgrad),
        cmocka_unit_test(test_blas_single_thread),
        cmocka_unit_test(test_gemm_wrapper),
        cmocka_unit_test(test_blas_concurrent_callers),
    };
    nn_blas_single_thread();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
