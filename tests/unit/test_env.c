/* test_env.c - the benchmarks (science.md section 2): hand-worked
 * transitions at every boundary, the distributions of tasks and starts,
 * determinism and independence from how episodes are batched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/env/env.h"
#include "../../worker/nn/ops.h"
#include "golden.h"

#define PI 3.141592653589793

#define CHECK_EQ(got, want)                                                    \
    do {                                                                       \
        double g_ = (got), w_ = (want);                                        \
        if (!(g_ == w_)) {                                                     \
            printf("# %s = %.17g, want %.17g\n", #got, g_, w_);                \
            fail();                                                            \
        }                                                                      \
    } while (0)

static env_t make(int bench, int B, double cone)
{
    env_t e;
    assert_int_equal(env_init(&e, bench_get(bench), B, 1, cone), 0);
    env_reset(&e, NULL);
    return e;
}

/* One step of episode 0 with raw action u; returns the reward. */
static float step1(env_t *e, float u, float *obs)
{
    float us[8] = {u, u, u, u, u, u, u, u}, r[8];
    env_step(e, us, obs, r);
    return r[0];
}

static void test_target1d_transitions(void **state)
{
    (void)state;
    env_t e = make(BENCH_TARGET1D, 1, 0);
    float obs[3];
    /* g = p + alpha = 2.875; a = 5u. Exactly representable values. */
    e.task[0] = 2.0, e.pos[0] = 0.875;
    CHECK_EQ(step1(&e, 0.375f, obs), -1.0f); /* |g - a| = 1: not a hit (strict) */
    CHECK_EQ(e.pos[0], 0.875);               /* p' = p */
    CHECK_EQ(obs[0], 0.875f);
    CHECK_EQ(obs[1], 1.875f); /* a_{t-1}: the applied action */
    CHECK_EQ(obs[2], -1.0f);
    CHECK_EQ(e.hits[0], 0);
    e.pos[0] = 0.875 - 1.0 / 1024; /* |g - a| just below 1: a hit */
    CHECK_EQ(step1(&e, 0.375f, obs), 10.0f);
    CHECK_EQ(e.hits[0], 1);
    assert_true(e.pos[0] >= -5 && e.pos[0] < 5 && e.pos[0] != 0.875 - 1.0 / 1024);
    CHECK_EQ(obs[0], (float)e.pos[0]);
    CHECK_EQ(obs[2], 10.0f);
    /* clipping of the action to [-20, 20], and of the reward at -20 */
    e.task[0] = 10.0, e.pos[0] = 5.0;
    CHECK_EQ(step1(&e, -10.0f, obs), -20.0f); /* a = -20, |15 + 20| = 35 */
    CHECK_EQ(obs[1], -20.0f);
    CHECK_EQ(step1(&e, 3.5f, obs), -2.5f);   /* a = 17.5, |15 - 17.5| */
    CHECK_EQ(step1(&e, 100.0f, obs), -5.0f); /* a = 20 */
    CHECK_EQ(obs[1], 20.0f);
    CHECK_EQ(e.ret[0], -1.0 + 10 - 20 - 2.5 - 5);
    env_free(&e);
}

static void test_heading(void **state)
{
    (void)state;
    CHECK_EQ(env_heading(0.0f), 2 * PI);   /* u = 0 gives 2 pi */
    CHECK_EQ(env_heading(0.5f), PI / 2);
    CHECK_NEAR(env_heading(-0.5f), 1.5 * PI, 1e-15);
    CHECK_NEAR(env_heading(2.5f), 0.5 * PI, 1e-15);  /* |u| > 2 */
    CHECK_NEAR(env_heading(-2.5f), 1.5 * PI, 1e-15);
    CHECK_EQ(env_heading(-2.0f), 2 * PI);
    CHECK_NEAR(env_heading(1.999f), 1.999 * PI, 1e-6);
}

static void test_wind2d_transitions(void **state)
{
    (void)state;
    env_t e = make(BENCH_WIND2D, 1, 0.0); /* no wind noise: exact moves */
    float obs[4];
    double *q = e.pos, *c = e.target;
    c[0] = 0.25, c[1] = -0.5;
    e.task[0] = 0.0; /* wind blows +x */
    q[0] = 0.25 + 0.4, q[1] = -0.5;   /* distance exactly 0.4: a hit */
    CHECK_EQ(step1(&e, 0.0f, obs), 100.0f);
    CHECK_EQ(e.hits[0], 1);
    assert_true(hypot(q[0] - c[0], q[1] - c[1]) > 0.6);
    assert_true(fabs(q[0]) <= 1.5 && fabs(q[1]) <= 1.5);
    CHECK_EQ(obs[0], (float)(c[0] - q[0]));
    CHECK_EQ(obs[2], (float)(2 * PI));
    q[0] = 0.25 + 0.4 + 1.0 / 1024, q[1] = -0.5; /* just outside: no hit, moves */
    CHECK_EQ(step1(&e, 1.0f, obs), -2.0f);  /* heading pi cancels the wind */
    CHECK_NEAR(q[0], 0.25 + 0.4 + 1.0 / 1024, 1e-12);
    CHECK_NEAR(q[1], -0.5, 1e-12);
    CHECK_NEAR(obs[2], PI, 1e-6);
    /* wrap-around on each edge: wind and heading both along one axis */
    static const struct { double theta; float u; double x0, y0, x1, y1; } w[] = {
        {0.0, 0.0f, 1.75, 1.0, -1.75, 1.0},         /* +x: 2.25 - 4 */
        {PI, 1.0f, -1.75, 1.0, 1.75, 1.0},          /* -x: -2.25 + 4 */
        {PI / 2, 0.5f, 1.0, 1.75, 1.0, -1.75},      /* +y */
        {3 * PI / 2, -0.5f, 1.0, -1.75, 1.0, 1.75}, /* -y */
    };
    for (int i = 0; i < 4; i++) {
        e.task[0] = w[i].theta;
        q[0] = w[i].x0, q[1] = w[i].y0;
        CHECK_EQ(step1(&e, w[i].u, obs), -2.0f);
        CHECK_NEAR(q[0], w[i].x1, 1e-12);
        CHECK_NEAR(q[1], w[i].y1, 1e-12);
    }
    env_free(&e);

    /* with the cone, the wind angle stays within theta +- h */
    e = make(BENCH_WIND2D, 1, PI / 4);
    for (int i = 0; i < 2000; i++) {
        e.target[0] = 5, e.target[1] = 5; /* unreachable: always moves */
        e.task[0] = 1.0;
        q = e.pos;
        q[0] = 0, q[1] = 0;
        step1(&e, 0.5f, obs); /* heading +y: q = 0.25 (cos w, sin w + 1) */
        double wx = q[0] / 0.25, wy = q[1] / 0.25 - 1;
        double ang = atan2(wy, wx);
        assert_true(ang >= 1.0 - PI / 4 - 1e-9 && ang <= 1.0 + PI / 4 + 1e-9);
    }
    env_free(&e);
}

static void test_twotargets_transitions(void **state)
{
    (void)state;
    env_t e = make(BENCH_TWOTARGETS, 1, 0);
    float obs[6];
    double *q = e.pos, *c = e.target;
    c[0] = 0.5, c[1] = 0.5, c[2] = -0.5, c[3] = -0.5;
    e.good_first[0] = 0; /* the second target is the good one */
    q[0] = 0.5, q[1] = 0.5 - 0.4; /* 0.4 from the first (bad) target */
    CHECK_EQ(step1(&e, 0.0f, obs), -50.0f);
    CHECK_EQ(e.bad_hits[0], 1);
    CHECK_EQ(e.hits[0], 0);
    assert_true(hypot(q[0] - 0.5, q[1] - 0.5) > 0.6 && hypot(q[0] + 0.5, q[1] + 0.5) > 0.6);
    /* observation: first target, then second, each minus the position */
    CHECK_EQ(obs[0], (float)(0.5 - q[0]));
    CHECK_EQ(obs[1], (float)(0.5 - q[1]));
    CHECK_EQ(obs[2], (float)(-0.5 - q[0]));
    CHECK_EQ(obs[3], (float)(-0.5 - q[1]));
    CHECK_EQ(obs[5], -50.0f);
    q[0] = -0.5 + 0.25, q[1] = -0.5; /* near the good one */
    CHECK_EQ(step1(&e, 0.0f, obs), 100.0f);
    CHECK_EQ(e.hits[0], 1);
    q[0] = -0.5 + 0.4 + 1.0 / 1024, q[1] = -0.5; /* just outside: moves, r = 0 */
    CHECK_EQ(step1(&e, 1.0f, obs), 0.0f);   /* heading pi: -x by 0.25 */
    CHECK_NEAR(q[0], -0.5 + 0.15 + 1.0 / 1024, 1e-12);
    q[0] = -1.9, q[1] = 0.0; /* wraps like wind2d, without wind */
    CHECK_EQ(step1(&e, 1.0f, obs), 0.0f);
    CHECK_NEAR(q[0], 1.85, 1e-12);
    CHECK_EQ(e.ret[0], 50.0);
    env_free(&e);
}

/* Tasks, targets and starts are uniform on their ranges (5 standard errors;
 * uniform variance is width^2/12). */
static void check_uniform(const char *what, const double *v, int n, double lo, double hi)
{
    double s = 0, s2 = 0, mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < n; i++)
        s += v[i], s2 += v[i] * v[i], mn = fmin(mn, v[i]), mx = fmax(mx, v[i]);
    double mean = s / n, var = s2 / n - mean * mean, w = hi - lo;
    printf("# %-14s mean %.4f (want %.4f), var %.4f (want %.4f), range [%.4f, %.4f]\n", what,
           mean, (lo + hi) / 2, var, w * w / 12, mn, mx);
    assert_true(mn >= lo && mx < hi);
    CHECK_NEAR(mean, (lo + hi) / 2, 5 * w / sqrt(12.0 * n));
    CHECK_NEAR(var, w * w / 12, 5 * w * w / sqrt(180.0 * n)); /* sd of s^2 */
}

static void test_distributions(void **state)
{
    (void)state;
    const int n = 20000;
    double *a = malloc(sizeof(double) * n * 4);
    env_t e;
    assert_int_equal(env_init(&e, bench_get(BENCH_TARGET1D), n, 7, 0), 0);
    env_reset(&e, NULL);
    for (int i = 0; i < n; i++)
        a[i] = e.task[i], a[n + i] = e.pos[2 * i];
    check_uniform("alpha", a, n, -10, 10);
    check_uniform("p0", a + n, n, -5, 5);
    env_free(&e);

    assert_int_equal(env_init(&e, bench_get(BENCH_WIND2D), n, 7, PI / 4), 0);
    env_reset(&e, NULL);
    double mind = INFINITY;
    for (int i = 0; i < n; i++) {
        a[i] = e.task[i], a[n + i] = e.target[4 * i], a[2 * n + i] = e.target[4 * i + 1];
        mind = fmin(mind, hypot(e.pos[2 * i] - e.target[4 * i], e.pos[2 * i + 1] - e.target[4 * i + 1]));
        assert_true(fabs(e.pos[2 * i]) <= 1.5 && fabs(e.pos[2 * i + 1]) <= 1.5);
    }
    check_uniform("theta", a, n, 0, 2 * PI);
    check_uniform("target x", a + n, n, -1, 1);
    check_uniform("target y", a + 2 * n, n, -1, 1);
    printf("# wind2d: closest start to target %.4f (must be > 0.6)\n", mind);
    assert_true(mind > 0.6);
    env_free(&e);

    assert_int_equal(env_init(&e, bench_get(BENCH_TWOTARGETS), n, 7, 0), 0);
    env_reset(&e, NULL);
    int first = 0;
    mind = INFINITY;
    for (int i = 0; i < n; i++) {
        first += e.good_first[i];
        a[i] = e.target[4 * i + (i % 4)];
        for (int k = 0; k < 2; k++)
            mind = fmin(mind, hypot(e.pos[2 * i] - e.target[4 * i + 2 * k],
                                    e.pos[2 * i + 1] - e.target[4 * i + 2 * k + 1]));
    }
    check_uniform("targets", a, n, -1, 1);
    printf("# twotargets: good target first in %d of %d; closest start %.4f\n", first, n, mind);
    CHECK_NEAR((double)first / n, 0.5, 5 * 0.5 / sqrt(n));
    assert_true(mind > 0.6);
    env_free(&e);
    free(a);
}

/* Runs `episodes` episodes in batches of B with pseudo-random actions that
 * depend only on (episode, t); returns all observations, episode-major. */
static float *run(int bench, int episodes, int B, uint64_t seed)
{
    const bench_info_t *bi = bench_get(bench);
    const int T = 60, od = bi->obs_dim;
    float *out = malloc(sizeof(float) * episodes * (T + 1) * od);
    float *obs = malloc(sizeof(float) * B * od), u[64];
    for (int done = 0; done < episodes; done += B) {
        env_t e;
        assert_int_equal(env_init(&e, bi, B, seed, PI / 4), 0);
        e.next_episode = done;
        env_reset(&e, obs);
        for (int t = 0; t <= T; t++) {
            for (int b = 0; b < B; b++)
                memcpy(out + ((size_t)(done + b) * (T + 1) + t) * od, obs + b * od, sizeof(float) * od);
            for (int b = 0; b < B; b++)
                u[b] = (float)sin(0.7 * (done + b) + 0.3 * t) * 1.5f;
            if (t < T)
                env_step(&e, u, obs, NULL);
        }
        env_free(&e);
    }
    free(obs);
    return out;
}

static void test_determinism(void **state)
{
    (void)state;
    for (int bench = 1; bench <= 3; bench++) {
        size_t n = (size_t)12 * 61 * bench_get(bench)->obs_dim;
        float *a = run(bench, 12, 12, 5), *b = run(bench, 12, 12, 5);
        float *split = run(bench, 12, 4, 5), *other = run(bench, 12, 12, 6);
        assert_memory_equal(a, b, n * sizeof(float));
        assert_memory_equal(a, split, n * sizeof(float)); /* 3 batches of 4 = 1 of 12 */
        /* the x_t columns: actions are the same by construction */
        const int od = bench_get(bench)->obs_dim, cd = bench_get(bench)->classic_dim;
        size_t same = 0, cols = 0;
        for (size_t i = 0; i < n; i++)
            if ((int)(i % od) < cd)
                same += a[i] == other[i], cols++;
        printf("# benchmark %d: seeds 5 and 6 share %zu of %zu x_t values\n", bench, same, cols);
        assert_true(same < cols / 100);
        free(a), free(b), free(split), free(other);
    }
}

static void test_save_load(void **state)
{
    (void)state;
    env_t a = make(BENCH_WIND2D, 5, PI / 4), b = make(BENCH_WIND2D, 5, PI / 4);
    float u[5] = {0.1f, -0.7f, 1.3f, 0.0f, 2.2f}, oa[20], ob[20];
    for (int t = 0; t < 37; t++)
        env_step(&a, u, oa, NULL);
    void *buf = malloc(env_state_size(&a));
    env_save(&a, buf);
    env_load(&b, buf);
    for (int t = 0; t < 100; t++) {
        env_step(&a, u, oa, NULL);
        env_step(&b, u, ob, NULL);
        assert_memory_equal(oa, ob, sizeof oa);
    }
    free(buf);
    env_free(&a), env_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target1d_transitions),
        cmocka_unit_test(test_heading),
        cmocka_unit_test(test_wind2d_transitions),
        cmocka_unit_test(test_twotargets_transitions),
        cmocka_unit_test(test_distributions),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_save_load),
    };
    nn_blas_single_thread(); /* one job = one thread, as in every binary */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
