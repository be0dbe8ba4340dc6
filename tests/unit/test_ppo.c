/* test_ppo.c - the PPO trainer (science.md section 5): GAE and the policy
 * loss against independent computations, determinism (also across
 * threads), bit-exact resume from checkpoints, the revert rule, and
 * corrupted checkpoints. */
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
#include <unistd.h>

#include "../../worker/nn/policy.h"
#include "../../worker/ppo/gae.h"
#include "../../worker/ppo/ppo_loss.h"
#include "../../worker/ppo/trainer.h"
#include "golden.h"


/* GAE against the definitions written as explicit sums, in double. */
static void test_gae(void **state)
{
    (void)state;
    enum { T = 9, B = 3, CUT = 6 };
    const double g = 0.9, l = 0.8;
    float r[T * B], v[T * B], ret[CUT * B], adv[CUT * B];
    rng_t rng;
    rng_seed(&rng, 1, 1);
    for (int i = 0; i < T * B; i++)
        r[i] = (float)(10 * rng_normal(&rng)), v[i] = (float)rng_normal(&rng);
    gae_compute(r, v, T, B, CUT, g, l, ret, adv);
    double A[CUT * B], sum = 0, sum2 = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < CUT; t++) {
            double R = 0, a = 0;
            for (int k = 0; t + k < T; k++) {
                double rs = (1 - g) * r[(t + k) * B + b];
                double vn = t + k + 1 < T ? v[(t + k + 1) * B + b] : 0.0;
                R += pow(g, k) * rs;
                a += pow(g * l, k) * (rs + g * vn - v[(t + k) * B + b]);
            }
            CHECK_NEAR(ret[t * B + b], R, 1e-6 * (1 + fabs(R)));
            A[t * B + b] = a, sum += a, sum2 += a * a;
        }
    double mean = sum / (CUT * B), sd = sqrt(sum2 / (CUT * B) - mean * mean);
    for (int i = 0; i < CUT * B; i++)
        CHECK_NEAR(adv[i], (A[i] - mean) / (sd + 1e-6), 1e-5);
}

typedef struct loss_ctx {
    float *out_new, *out_old, *u, *adv, *dout;
    int N, a;
    ppo_coefs_t c;
} loss_ctx_t;

static double loss_at(loss_ctx_t *x)
{
    double kl;
    return ppo_policy_loss(x->out_new, x->out_old, x->u, x->adv, x->N, x->N, x->a, x->c, x->dout, &kl);
}

/* The loss's gradient against central differences, with the hinge active
 * for some rows; and its value where new == old. */
static void test_policy_loss(void **state)
{
    (void)state;
    enum { N = 40, A = 1 };
    float on[N * 2], oo[N * 2], u[N], adv[N], d[N * 2], d0[N * 2];
    rng_t rng;
    rng_seed(&rng, 2, 2);
    for (int i = 0; i < N; i++) {
        oo[2 * i] = (float)rng_normal(&rng), oo[2 * i + 1] = (float)(0.5 * rng_normal(&rng));
        on[2 * i] = oo[2 * i] + (float)(0.3 * rng_normal(&rng));
        on[2 * i + 1] = oo[2 * i + 1] + (float)(0.3 * rng_normal(&rng));
        u[i] = (float)rng_normal(&rng), adv[i] = (float)rng_normal(&rng);
    }
    loss_ctx_t x = {on, oo, u, adv, d, N, A, {1.3, 50, 0.003}};
    double kl;
    double L = ppo_policy_loss(on, oo, u, adv, N, N, A, x.c, d0, &kl);
    printf("# loss %.6f, mean KL %.5f (hinge active above %.3f)\n", L, kl, 2 * 0.003);
    for (int i = 0; i < N * 2; i++) {
        float s = on[i];
        const float h = 1e-3f;
        on[i] = s + h;
        double lp = loss_at(&x);
        on[i] = s - h;
        double lm = loss_at(&x);
        on[i] = s;
        CHECK_NEAR(d0[i], (lp - lm) / (2 * h), 2e-3 * fabs(d0[i]) + 2e-5);
    }
    double want = 0;
    for (int i = 0; i < N; i++)
        want -= adv[i];
    CHECK_NEAR(ppo_policy_loss(oo, oo, u, adv, N, N, A, x.c, d, &kl), want / N, 1e-6);
    CHECK_NEAR(kl, 0.0, 1e-9);
    /* split in two groups, the batch's loss, KL and (bit for bit) gradient */
    double kl1, kl2, L2 = ppo_policy_loss(on, oo, u, adv, 15, N, A, x.c, d, &kl1) +
                          ppo_policy_loss(on + 30, oo + 30, u + 15, adv + 15, N - 15, N, A, x.c, d + 30, &kl2);
    ppo_policy_loss(on, oo, u, adv, N, N, A, x.c, d0, &kl);
    CHECK_NEAR(L2, L, 1e-12 * fabs(L));
    CHECK_NEAR(kl1 + kl2, kl, 1e-12 * kl);
    assert_memory_equal(d, d0, sizeof d);
}

/* --- training runs --------------------------------------------------------- */

static job_config_t small_config(int bench, enum nn_arch arch, long episodes)
{
    job_config_t c;
    config_defaults(&c);
    char err[256];
    const char *b1[] = {"batch=10", "policy_steps=3", "value_epochs=2", "value_minibatch=5"};
    const char *b2[] = {"batch=4", "train_cut=400", "policy_steps=2", "value_epochs=1",
                        "value_minibatch=4"};
    c.bench = bench - 1, c.arch = arch, c.seed = 11, c.episodes = episodes;
    for (size_t i = 0; i < (bench == 1 ? 4 : 5); i++)
        assert_int_equal(config_set_pair(&c, bench == 1 ? b1[i] : b2[i], err, sizeof err), 0);
    return c;
}

typedef struct run {
    job_config_t cfg;
    const char *resume, *save; /* checkpoint to start from / to write at the end */
    double returns[512];
    int n;
    uint64_t hash;
} run_t;

static void *run_job(void *arg)
{
    run_t *r = arg;
    trainer_t t;
    char err[512];
    if (trainer_init(&t, &r->cfg, err, sizeof err)) {
        printf("# %s\n", err);
        return NULL;
    }
    if (r->resume && trainer_load(&t, r->resume, err, sizeof err)) {
        printf("# %s\n", err);
        trainer_free(&t);
        return NULL;
    }
    ppo_episode_t eps[64];
    ppo_iter_t it;
    r->n = 0;
    while (!trainer_done(&t)) {
        if (trainer_iterate(&t, eps, &it, err, sizeof err)) {
            printf("# %s\n", err);
            break;
        }
        for (int b = 0; b < t.B; b++)
            r->returns[r->n++] = eps[b].ret;
    }
    r->hash = trainer_state_hash(&t);
    if (r->save && trainer_save(&t, r->save, err, sizeof err))
        printf("# %s\n", err);
    trainer_free(&t);
    return NULL;
}

static void test_determinism_threads(void **state)
{
    (void)state;
    run_t a = {.cfg = small_config(1, ARCH_NMN, 30)}, b = a, c = a, d = a;
    run_job(&a);
    run_job(&b);
    assert_int_equal(a.n, 30);
    assert_memory_equal(a.returns, b.returns, sizeof(double) * 30);
    assert_true(a.hash == b.hash);
    /* two jobs side by side in two threads of one process */
    pthread_t t1, t2;
    pthread_create(&t1, NULL, run_job, &c);
    pthread_create(&t2, NULL, run_job, &d);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_memory_equal(a.returns, c.returns, sizeof(double) * 30);
    assert_memory_equal(a.returns, d.returns, sizeof(double) * 30);
    assert_true(a.hash == c.hash && a.hash == d.hash);
    /* another seed is another job */
    run_t e = a;
    e.cfg.seed = 12;
    run_job(&e);
    assert_true(e.hash != a.hash);
    printf("# 30 episodes: identical returns and state hash %016llx, twice and in two threads\n",
           (unsigned long long)a.hash);
}

/* Straight N episodes vs N/2, checkpoint, resume in a fresh trainer, N/2. */
static void resume_case(int bench, enum nn_arch arch, long n)
{
    char ckpt[64];
    snprintf(ckpt, sizeof ckpt, "/tmp/nmn-test-%d-%d-%d.ckpt", (int)getpid(), bench, arch);
    run_t straight = {.cfg = small_config(bench, arch, n)};
    run_job(&straight);
    run_t first = {.cfg = small_config(bench, arch, n / 2), .save = ckpt};
    run_job(&first);
    run_t second = {.cfg = small_config(bench, arch, n), .resume = ckpt};
    run_job(&second);
    unlink(ckpt);
    printf("# b%d %s: %d + %d episodes resumed vs %d straight\n", bench, net_arch_name(arch),
           first.n, second.n, straight.n);
    assert_int_equal(straight.n, n);
    assert_int_equal(first.n + second.n, n);
    assert_memory_equal(straight.returns, first.returns, sizeof(double) * first.n);
    assert_memory_equal(straight.returns + first.n, second.returns, sizeof(double) * second.n);
    assert_true(straight.hash == second.hash);
}

static void test_resume_b1_nmn(void **state) { (void)state; resume_case(1, ARCH_NMN, 40); }
static void test_resume_b1_rnn(void **state) { (void)state; resume_case(1, ARCH_RNN, 40); }
static void test_resume_b2_nmn(void **state) { (void)state; resume_case(2, ARCH_NMN, 16); }
static void test_resume_b2_rnn(void **state) { (void)state; resume_case(2, ARCH_RNN, 16); }

/* A huge learning rate drives the KL far above 4 kl_targ: the actor and its
 * Adam state must come back exactly, and beta grow by 1.5 twice (once for
 * a NaN KL). */
static void test_revert(void **state)
{
    (void)state;
    job_config_t c = small_config(1, ARCH_NMN, 10);
    char err[256];
    assert_int_equal(config_set_pair(&c, "policy_lr=1", err, sizeof err), 0);
    trainer_t t;
    assert_int_equal(trainer_init(&t, &c, err, sizeof err), 0);
    size_t n = t.actor.n_params;
    float *p = malloc(sizeof(float) * n), *m = malloc(sizeof(float) * n), *v = malloc(sizeof(float) * n);
    memcpy(p, t.actor_p, sizeof(float) * n);
    memcpy(m, t.actor_opt.m, sizeof(float) * n);
    memcpy(v, t.actor_opt.v, sizeof(float) * n);
    int64_t step = t.actor_opt.step;
    ppo_episode_t eps[10];
    ppo_iter_t it;
    assert_int_equal(trainer_iterate(&t, eps, &it, err, sizeof err), 0);
    printf("# KL after the update %.4g (4 kl_targ = %.3g), reverted %d, beta %.4g\n", it.kl,
           4 * c.kl_targ, it.reverted, t.beta);
    assert_true(it.reverted);
    assert_true(!(it.kl <= 4 * c.kl_targ));
    assert_memory_equal(t.actor_p, p, sizeof(float) * n);
    assert_memory_equal(t.actor_opt.m, m, sizeof(float) * n);
    assert_memory_equal(t.actor_opt.v, v, sizeof(float) * n);
    assert_true(t.actor_opt.step == step);
    CHECK_NEAR(t.beta, isnan(it.kl) ? 1.5 : 2.25, 1e-12);
    /* from beta 30: 45 is capped at 35, and beta > 30 cuts lr_mult */
    t.beta = 30;
    assert_int_equal(trainer_iterate(&t, eps, &it, err, sizeof err), 0);
    assert_true(it.reverted);
    CHECK_NEAR(t.beta, 35, 1e-12);
    CHECK_NEAR(t.lr_mult, isnan(it.kl) ? 1.0 : 1 / 1.5, 1e-12);
    free(p), free(m), free(v);
    trainer_free(&t);
}

/* A policy step over groups of chunks (uneven: 7 + 7 + 6) moves the actor
 * where one pass over all 20 chunks does, up to float rounding; a group
 * given the wrong rows, states or weight would move it elsewhere. */
static void test_policy_groups(void **state)
{
    (void)state;
    job_config_t c = small_config(1, ARCH_NMN, 10);
    trainer_t whole, groups;
    char err[256];
    assert_int_equal(trainer_init(&whole, &c, err, sizeof err), 0);
    assert_int_equal(trainer_init(&groups, &c, err, sizeof err), 0);
    assert_int_equal(whole.policy_group, whole.B * whole.nchunk);
    groups.policy_group = 7;
    size_t n = whole.actor.n_params;
    float *p0 = malloc(sizeof(float) * n);
    memcpy(p0, whole.actor_p, sizeof(float) * n);
    ppo_episode_t eps[64];
    ppo_iter_t iw, ig;
    assert_int_equal(trainer_iterate(&whole, eps, &iw, err, sizeof err), 0);
    assert_int_equal(trainer_iterate(&groups, eps, &ig, err, sizeof err), 0);
    assert_true(!iw.reverted && !ig.reverted);
    double moved = 0, apart = 0;
    for (size_t i = 0; i < n; i++) {
        moved = fmax(moved, fabs(whole.actor_p[i] - p0[i]));
        apart = fmax(apart, fabs(whole.actor_p[i] - groups.actor_p[i]));
    }
    printf("# one policy update: parameters moved up to %.3g; groups of 7 vs one group differ by %.3g;"
           " loss %.9g vs %.9g\n", moved, apart, iw.policy_loss, ig.policy_loss);
    assert_true(moved > 1e-5);
    assert_true(apart < 1e-3 * moved);
    CHECK_NEAR(ig.policy_loss, iw.policy_loss, 1e-5 * fabs(iw.policy_loss) + 1e-9);
    CHECK_NEAR(ig.kl, iw.kl, 1e-3 * iw.kl);
    free(p0);
    trainer_free(&whole), trainer_free(&groups);
}

static void test_checkpoint_corruption(void **state)
{
    (void)state;
    char path[64], bad[80], msg[512];
    snprintf(path, sizeof path, "/tmp/nmn-test-%d.ckpt", (int)getpid());
    snprintf(bad, sizeof bad, "%s.bad", path);
    run_t r = {.cfg = small_config(1, ARCH_RNN, 10), .save = path};
    run_job(&r);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *data = malloc((size_t)size);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);

    static const struct { const char *what, *expect; } cases[] = {
        {"truncate", "truncated"}, {"flip", "corrupted"}, {"version", "version 7"},
        {"magic", "bad magic"}, {"empty", "bad magic"},
    };
    trainer_t t;
    char err[256];
    job_config_t c = small_config(1, ARCH_RNN, 10);
    assert_int_equal(trainer_init(&t, &c, err, sizeof err), 0);
    uint64_t fresh = trainer_state_hash(&t);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char *d = malloc((size_t)size);
        memcpy(d, data, (size_t)size);
        long n = size;
        if (strcmp(cases[i].what, "truncate") == 0)
            n = size / 2;
        else if (strcmp(cases[i].what, "flip") == 0)
            d[size * 3 / 4] ^= 0x10;
        else if (strcmp(cases[i].what, "version") == 0)
            d[8] = 7;
        else if (strcmp(cases[i].what, "magic") == 0)
            d[0] = 'X';
        else
            n = 0;
        f = fopen(bad, "wb");
        fwrite(d, 1, (size_t)n, f);
        fclose(f);
        free(d);
        int rc = trainer_load(&t, bad, msg, sizeof msg);
        printf("# %-8s -> %s\n", cases[i].what, msg);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(msg, cases[i].expect));
        assert_true(trainer_state_hash(&t) == fresh); /* nothing half-loaded */
    }
    /* another job's checkpoint */
    trainer_t other;
    job_config_t oc = small_config(1, ARCH_RNN, 10);
    oc.seed = 99;
    assert_int_equal(trainer_init(&other, &oc, err, sizeof err), 0);
    assert_int_equal(trainer_load(&other, path, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "different job"));
    /* and the intact one loads */
    assert_int_equal(trainer_load(&t, path, msg, sizeof msg), 0);
    assert_true(trainer_state_hash(&t) == r.hash);
    trainer_free(&other);
    trainer_free(&t);
    free(data);
    unlink(path), unlink(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gae),
        cmocka_unit_test(test_policy_loss),
        cmocka_unit_test(test_determinism_threads),
        cmocka_unit_test(test_resume_b1_nmn),
        cmocka_unit_test(test_resume_b1_rnn),
        cmocka_unit_test(test_resume_b2_nmn),
        cmocka_unit_test(test_resume_b2_rnn),
        cmocka_unit_test(test_revert),
        cmocka_unit_test(test_policy_groups),
        cmocka_unit_test(test_checkpoint_corruption),
    };
    nn_blas_single_thread(); /* one job = one thread, as in every binary */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
