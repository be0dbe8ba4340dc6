/* nmn-bench - `make bench`: speed figures of this machine, one thread.
 *
 * Everything is measured in one run so that figures can be compared as
 * ratios: the single-thread SGEMM rate (at 1024^3 and at the networks' own
 * shapes), environment steps per second, forward and forward+backward of
 * the actors, then whole PPO iterations, with achieved GFLOP/s (GEMM FLOPs
 * counted analytically) against the SGEMM rate. */
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/rng.h"
#include "../common/store.h"
#include "../common/wire.h"
#include "env/env.h"
#include "nn/net.h"
#include "ppo/trainer.h"
#include "nn/ops.h"
#include "nn/smallgemm.h"
#include "nn/stepgemm.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of fn(ctx) over at least 3 runs and `budget` seconds,
 * after one warm-up run. */
static double time_median(void (*fn)(void *), void *ctx, double budget)
{
    double t[64];
    int n = 0;
    fn(ctx);
    double start = now();
    while (n < 64 && (n < 3 || now() - start < budget)) {
        double t0 = now();
        fn(ctx);
        t[n++] = now() - t0;
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return t[n / 2];
}

enum gemm_impl { ON_OPENBLAS, ON_STEPGEMM, ON_SMALLGEMM };

typedef struct gemm_case {
    const char *what;
    int M, N, K, ta;
    enum gemm_impl impl;
    float *A, *B, *C;
    stepgemm_b_t *step; /* stepgemm's panels */
} gemm_case_t;

/* A weight gradient (ta) accumulates, as the layers' do. */
static void run_gemm(void *v)
{
    gemm_case_t *g = v;
    const int lda = g->ta ? g->M : g->K;
    const float beta = g->ta ? 1.0f : 0.0f;
    if (g->impl == ON_STEPGEMM)
        stepgemm_run(g->M, g->A, lda, g->step, beta, g->C, g->N, 0);
    else if (g->impl == ON_SMALLGEMM && g->ta)
        smallgemm_wgrad(g->M, g->N, g->K, g->A, lda, g->B, g->N, g->C, g->N, NULL);
    else if (g->impl == ON_SMALLGEMM)
        smallgemm_run(0, g->M, g->N, g->K, g->A, lda, g->B, g->N, beta, g->C, g->N);
    else
        nn_gemm(g->ta, 0, g->M, g->N, g->K, g->A, lda, g->B, g->N, beta, g->C, g->N);
}

/* The GEMM C = op(A) B at one shape, on OpenBLAS, on stepgemm with B packed
 * beforehand (as a recurrent pass packs U once for all its steps), or on
 * smallgemm. */
static double bench_gemm(const char *what, int M, int N, int K, int ta, enum gemm_impl impl)
{
    gemm_case_t g = {what, M, N, K, ta, impl, NULL, NULL, NULL, NULL};
    g.A = calloc((size_t)M * K, sizeof(float));
    g.B = calloc((size_t)K * N, sizeof(float));
    g.C = calloc((size_t)M * N, sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++)
        g.A[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++)
        g.B[i] = (float)(i % 5) * 0.1f;
    stepgemm_b_t packed;
    float *panels = NULL;
    if (impl == ON_STEPGEMM) {
        panels = calloc(stepgemm_floats(K, N), sizeof(float));
        stepgemm_pack(&packed, g.B, N, 0, K, N, panels);
        g.step = &packed;
    }
    double t = time_median(run_gemm, &g, 0.5);
    double gf = 2.0 * M * N * K / t * 1e-9;
    printf("  %-44s %5d x %5d x %5d  %8.3f ms  %6.1f GFLOP/s\n", what, M, N, K,
           t * 1e3, gf);
    free(g.A), free(g.B), free(g.C), free(panels);
    return gf;
}

typedef struct net_case {
    net_t net;
    net_ws_t *ws;
    float *p, *g, *obs, *dout;
    int T, B, backward;
} net_case_t;

static void run_net(void *v)
{
    net_case_t *c = v;
    net_forward(&c->net, c->p, c->ws, c->obs, c->T, c->B, NULL, NULL);
    if (c->backward)
        net_backward(&c->net, c->p, c->g, c->ws, c->obs, c->dout, c->T, c->B);
}

static void bench_net(int bench, enum nn_arch arch, int T, int B, double peak)
{
    net_case_t c = {.T = T, .B = B};
    char err[128];
    if (net_init(&c.net, bench_get(bench), arch, ROLE_ACTOR, ZG_SHARED, err, sizeof err)) {
        fprintf(stderr, "nmn-bench: %s\n", err);
        exit(2);
    }
    rng_t r;
    rng_seed(&r, 1, RNG_INIT);
    size_t rows = (size_t)T * B;
    c.p = malloc(sizeof(float) * c.net.n_params);
    c.g = calloc(c.net.n_params, sizeof(float));
    c.obs = malloc(sizeof(float) * rows * c.net.obs_dim);
    c.dout = malloc(sizeof(float) * rows * c.net.nout);
    net_init_params(&c.net, c.p, &r, 0.1);
    for (size_t i = 0; i < rows * c.net.obs_dim; i++)
        c.obs[i] = (float)rng_normal(&r);
    for (size_t i = 0; i < rows * c.net.nout; i++)
        c.dout[i] = (float)rng_normal(&r) * 1e-3f;
    c.ws = net_ws_new(&c.net, T, B);
    if (c.ws == NULL) {
        fprintf(stderr, "nmn-bench: out of memory for T=%d B=%d\n", T, B);
        exit(2);
    }
    double ff = net_flops(&c.net, T, B, 0), fb = ff + net_flops(&c.net, T, B, 1);
    c.backward = 0;
    double tf = time_median(run_net, &c, 1.0);
    c.backward = 1;
    double tb = time_median(run_net, &c, 1.0);
    printf("  b%d %-4s T=%-4d B=%-4d forward %9.2f ms %6.1f GFLOP/s (%3.0f%%) | "
           "fwd+bwd %9.2f ms %6.1f GFLOP/s (%3.0f%% of SGEMM peak)\n",
           bench, net_arch_name(arch), T, B, tf * 1e3, ff / tf * 1e-9,
           100 * ff / tf * 1e-9 / peak, tb * 1e3, fb / tb * 1e-9,
           100 * fb / tb * 1e-9 / peak);
    free(c.p), free(c.g), free(c.obs), free(c.dout);
    net_ws_free(c.ws);
}

typedef struct env_case {
    env_t env;
    float *u, *obs, *r;
} env_case_t;

static void run_env(void *v)
{
    env_case_t *c = v;
    env_reset(&c->env, c->obs);
    for (int t = 0; t < c->env.bench->episode_len; t++)
        env_step(&c->env, c->u, c->obs, c->r);
}

static void bench_env(int bench)
{
    const bench_info_t *bi = bench_get(bench);
    env_case_t c;
    const int B = 50;
    if (env_init(&c.env, bi, B, 1, M_PI / 4)) {
        fprintf(stderr, "nmn-bench: out of memory\n");
        exit(2);
    }
    c.u = calloc((size_t)B * bi->act_dim, sizeof(float));
    c.obs = calloc((size_t)B * bi->obs_dim, sizeof(float));
    c.r = calloc(B, sizeof(float));
    double t = time_median(run_env, &c, 0.5);
    printf("  %-10s B=%d, zero policy, %4d steps: %8.3f ms per batch, %6.1f M env-steps/s\n",
           bi->name, B, bi->episode_len, t * 1e3, (double)B * bi->episode_len / t * 1e-6);
    free(c.u), free(c.obs), free(c.r);
    env_free(&c.env);
}

/* --- the store ------------------------------------------------------------ */

typedef struct poller {
    const char *path;
    volatile int stop;
    long polls, errors;
} poller_t;

/* A reader like nmnctl: its own read-only connection, polling the curves. */
static void *poll_curves(void *arg)
{
    poller_t *p = arg;
    store_t *r;
    char err[256];
    if (store_open(&r, p->path, 1, err, sizeof err)) {
        p->errors++;
        return NULL;
    }
    while (!p->stop) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(store_db(r), "SELECT count(*), max(mean) FROM curves", -1, &st,
                               NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
            p->errors++;
        else
            p->polls++;
        sqlite3_finalize(st);
    }
    store_close(r);
    return NULL;
}

/* Episode rows per second through store_put_batch, in 50-row batches with
 * one iteration row each, over 8 running jobs, while a reader polls. */
static void bench_store(void)
{
    char path[64], err[256];
    snprintf(path, sizeof path, "/tmp/nmn-bench-%d.db", (int)getpid());
    store_t *s;
    if (store_open(&s, path, 0, err, sizeof err)) {
        fprintf(stderr, "nmn-bench: %s\n", err);
        exit(2);
    }
    enum { JOBS = 8, ROWS = 50 };
    store_job_t jobs[JOBS];
    char hashes[JOBS][17];
    for (int j = 0; j < JOBS; j++) {
        snprintf(hashes[j], sizeof hashes[j], "%016x", 0xbe000 + j);
        jobs[j] = (store_job_t){"{}", hashes[j], "target1d", j % 2 ? "rnn" : "nmn", j / 2, 100000, 0};
    }
    int64_t sweep, job[JOBS], attempt[JOBS];
    int n;
    store_claim_t c;
    store_insert_sweep(s, "bench", "bench", jobs, JOBS, &sweep, &n, err, sizeof err);
    for (int j = 0; j < JOBS && store_claim_next(s, "local", &c, err, sizeof err) == 1; j++) {
        job[j] = c.job_id, attempt[j] = c.attempt_id;
        store_claim_free(&c);
    }
    poller_t p = {path, 0, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, poll_curves, &p);
    store_episode_t eps[ROWS];
    long rows = 0;
    double t0 = now();
    for (int64_t it = 0; now() - t0 < 2.0; it++)
        for (int j = 0; j < JOBS; j++) {
            for (int i = 0; i < ROWS; i++)
                eps[i] = (store_episode_t){it * ROWS + i, -5000.0 + (double)i, 3, 0};
            store_iteration_t row = {.iteration = it, .episodes_done = (it + 1) * ROWS, .kl = 0.003};
            int ins;
            if (store_put_batch(s, job[j], attempt[j], eps, ROWS, &row, &ins, err, sizeof err)) {
                fprintf(stderr, "nmn-bench: %s\n", err);
                exit(2);
            }
            rows += ins;
        }
    double secs = now() - t0;
    p.stop = 1;
    pthread_join(th, NULL);
    printf("  %ld episode rows in %.2f s: %.0f rows/s in %d-row batches (one iteration row each), "
           "while a reader polled the curve view %ld times (%ld errors)\n",
           rows, secs, rows / secs, ROWS, p.polls, p.errors);
    store_close(s);
    char f[80];
    unlink(path);
    snprintf(f, sizeof f, "%s-wal", path), unlink(f);
    snprintf(f, sizeof f, "%s-shm", path), unlink(f);
}

static int cmp_iter_s(const void *a, const void *b)
{
    const ppo_iter_t *x = a, *y = b;
    double sx = x->rollout_ms + x->update_ms, sy = y->rollout_ms + y->update_ms;
    return (sx > sy) - (sx < sy);
}

/* PPO iterations in steady state, with the replay buffer full: after a
 * first real iteration, its slot is copied into the buffer's next ones
 * (real data: zeros would not do, see the notes on exploding BPTT
 * gradients), so every timed iteration's value update does the work of
 * every later iteration. Prints the median of `timed` iterations (this
 * machine's neighbours make single ones vary by up to 20%) and their
 * range. */
static void bench_ppo(int bench, enum nn_arch arch, double peak, int timed)
{
    job_config_t c;
    config_defaults(&c);
    c.bench = bench - 1, c.arch = arch, c.seed = 1, c.episodes = 1000000;
    trainer_t t;
    char err[256];
    if (trainer_init(&t, &c, err, sizeof err)) {
        fprintf(stderr, "nmn-bench: %s\n", err);
        exit(2);
    }
    ppo_episode_t *eps = calloc((size_t)t.B, sizeof *eps);
    ppo_iter_t *its = calloc((size_t)timed, sizeof *its), it;
    size_t so = (size_t)t.cut * t.B * t.od, sr = (size_t)t.cut * t.B;
    for (int round = 0; round <= timed; round++) {
        if (trainer_iterate(&t, eps, round ? &its[round - 1] : &it, err, sizeof err)) {
            fprintf(stderr, "nmn-bench: %s\n", err);
            exit(2);
        }
        for (int k = 1; round == 0 && k < c.replay - 1; k++) {
            memcpy(t.rb_obs + k * so, t.rb_obs, sizeof(float) * so);
            memcpy(t.rb_ret + k * sr, t.rb_ret, sizeof(float) * sr);
            t.rb_count = k + 1, t.rb_head = k + 1;
        }
    }
    qsort(its, (size_t)timed, sizeof *its, cmp_iter_s);
    it = its[timed / 2];
    /* GEMM FLOPs of the update phase, counted from the layer shapes */
    const int rows_b = t.B * t.nchunk, steps = c.policy_steps;
    double af = net_flops(&t.actor, t.chunk, rows_b, 0), ab = net_flops(&t.actor, t.chunk, rows_b, 1);
    double cf = net_flops(&t.critic, t.chunk, rows_b, 0), cb = net_flops(&t.critic, t.chunk, rows_b, 1);
    double policy_flops = (2 + steps) * af + steps * ab;
    double value_flops = c.replay * (cf + c.value_epochs * (cf + cb));
    double env_steps = (double)t.B * t.T, iter_s = (it.rollout_ms + it.update_ms) / 1e3;
    double upd_s = (it.policy_ms + it.value_ms) / 1e3;
    double gf = (policy_flops + value_flops) / upd_s * 1e-9;
    printf("  %-10s %s  rollout %7.0f env-steps/s | policy update %6.2f s | value update %6.2f s | "
           "iteration %6.2f s | end-to-end %6.0f env-steps/s | update %5.1f GFLOP/s = %3.0f%% of SGEMM\n",
           t.bench->name, net_arch_name(arch), env_steps / (it.rollout_ms / 1e3), it.policy_ms / 1e3,
           it.value_ms / 1e3, iter_s, env_steps / iter_s, gf, 100 * gf / peak);
    if (timed > 1)
        printf("  %-14s median of %d iterations, which took %.2f to %.2f s\n", "", timed,
               (its[0].rollout_ms + its[0].update_ms) / 1e3,
               (its[timed - 1].rollout_ms + its[timed - 1].update_ms) / 1e3);
    fflush(stdout);
    free(eps), free(its);
    trainer_free(&t);
}

/* --wire-flood HOST:PORT: the Slurm path's ceiling. Plays a worker that
 * trains infinitely fast: takes one job and streams all its episodes as
 * 50-episode batch frames, then ends it; tools/bench-slurm.sh times how
 * fast nmnd gets them into the store. The token comes from $NMN_TOKEN. */
static int wire_flood(const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':'), *token = getenv("NMN_TOKEN");
    if (colon == NULL || token == NULL || (size_t)(colon - hostport) >= sizeof host) {
        fprintf(stderr, "usage: NMN_TOKEN=... nmn-bench --wire-flood HOST:PORT\n");
        return 1;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    int fd = wire_dial(host, colon + 1);
    wire_frame_t f;
    unsigned char *buf = NULL;
    char err[256];
    json_t *m = json_pack("{s:s, s:s}", "type", "hello", "token", token);
    int ok = fd >= 0 && wire_write(fd, m, NULL, 0) == 0 && wire_read(fd, &f, &buf, err, sizeof err) == 1 &&
             strcmp(f.type, "welcome") == 0;
    json_decref(m);
    if (ok)
        json_decref(f.msg), free(buf);
    m = json_pack("{s:s}", "type", "next");
    ok = ok && wire_write(fd, m, NULL, 0) == 0 && wire_read(fd, &f, &buf, err, sizeof err) == 1 &&
         strcmp(f.type, "job") == 0;
    json_decref(m);
    if (!ok) {
        fprintf(stderr, "nmn-bench --wire-flood: no job from nmnd at %s\n", hostport);
        return 1;
    }
    json_int_t job = json_integer_value(json_object_get(f.msg, "job_id"));
    json_int_t attempt = json_integer_value(json_object_get(f.msg, "attempt_id"));
    json_t *cfg = json_loads(json_string_value(json_object_get(f.msg, "config")), 0, NULL);
    json_int_t episodes = json_integer_value(json_object_get(cfg, "episodes"));
    json_decref(cfg), json_decref(f.msg), free(buf);
    for (json_int_t e0 = 0, it = 1; e0 < episodes && ok; e0 += 50, it++) {
        json_t *rows = json_array();
        for (json_int_t e = e0; e < e0 + 50 && e < episodes; e++)
            json_array_append_new(rows, json_pack("[I, f, i, i]", e, -9876.54321 + (double)e, 3, 1));
        m = json_pack("{s:s, s:I, s:I, s:o, s:[I, I, f, f, f, i, f, f, f, f, f]}", "type", "batch", "job_id", job,
                      "attempt_id", attempt, "episodes", rows, "it", it, e0 + 50, 0.003, 1.0, 1.0, 0, 0.1, 0.2,
                      -1.0, 1.0, 2.0);
        ok = wire_write(fd, m, NULL, 0) == 0;
        json_decref(m);
    }
    m = json_pack("{s:s, s:I, s:I, s:s}", "type", "end", "job_id", job, "attempt_id", attempt, "outcome", "done");
    ok = ok && wire_write(fd, m, NULL, 0) == 0;
    json_decref(m);
    close(fd);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--wire-flood") == 0)
        return wire_flood(argv[2]);
    nn_blas_single_thread();
    printf("nmn-bench: one thread (OpenBLAS %s)\n\n", openblas_get_config());
    printf("SGEMM, single thread:\n");
    double peak = bench_gemm("square (the machine's peak)", 1024, 1024, 1024, 0, ON_OPENBLAS);
    bench_gemm("b2 GRU(75) input projection, T*B=100000", 100000, 225, 100, 0, ON_OPENBLAS);
    bench_gemm("b2 GRU(100) weight gradient U^T: h^T dpre", 100, 300, 100000, 1, ON_OPENBLAS);
    printf("The recurrent steps, OpenBLAS | stepgemm (%s):\n",
           nn_kernels_active() ? "packed U, FMA tiles" : "no AVX2+FMA here: OpenBLAS again");
    static const struct { const char *what; int B, u; } steps[] = {
        {"b1 GRU(50) step, B=25 (value minibatch)", 25, 50},
        {"b1 GRU(50) step, B=50 (rollout)", 50, 50},
        {"b2 GRU(100) step, B=25 (value minibatch)", 25, 100},
        {"b2 GRU(100) step, B=50 (rollout)", 50, 100},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        int B = steps[i].B, u = steps[i].u;
        double blas = bench_gemm(steps[i].what, B, 3 * u, u, 0, ON_OPENBLAS);
        double own = bench_gemm("  the same on stepgemm", B, 3 * u, u, 0, ON_STEPGEMM);
        printf("  %-44s %.2fx\n", "  stepgemm / OpenBLAS", own / blas);
    }
    printf("The layers' GEMMs over a 25-chunk batch (5000 rows), OpenBLAS | smallgemm:\n");
    static const struct { const char *what; int M, N, K, ta; } layers[] = {
        {"b1 dense 50->20 forward: h W", 5000, 20, 50, 0},
        {"b1 dense 50->20 backward: dy W^T", 5000, 50, 20, 0},
        {"b1 dense 50->20 weight gradient: h^T dy", 50, 20, 5000, 1},
        {"b1 z 20->20 forward: x W", 5000, 20, 20, 0},
        {"b1 nm head forward: z M (4 columns)", 5000, 4, 20, 0},
        {"b1 GRU(50) weight gradient: h^T dpre", 50, 150, 5000, 1},
        {"b2 dense 75->45 forward: h W", 5000, 45, 75, 0},
        {"b2 dense 75->45 weight gradient: h^T dy", 75, 45, 5000, 1},
    };
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
        const int M = layers[i].M, N = layers[i].N, K = layers[i].K, ta = layers[i].ta;
        double blas = bench_gemm(layers[i].what, M, N, K, ta, ON_OPENBLAS);
        double own = bench_gemm("  the same on smallgemm", M, N, K, ta, ON_SMALLGEMM);
        printf("  %-44s %.2fx\n", "  smallgemm / OpenBLAS", own / blas);
    }
    printf("\nBenchmarks (pure environment, observations written every step):\n");
    for (int bench = 1; bench <= 3; bench++)
        bench_env(bench);
    printf("\nThe store (SQLite, WAL, synchronous=NORMAL):\n");
    bench_store();
    printf("\nActor networks, forward and forward+backward (BPTT), from zero state:\n");
    for (int bench = 1; bench <= 2; bench++) {
        int cut = bench_get(bench)->train_cut;
        for (int arch = 0; arch < 2; arch++) {
            bench_net(bench, arch, 200, 50, peak);
            /* the PPO batch: 50 episodes of `cut` steps as 200-step chunks */
            bench_net(bench, arch, 200, 50 * cut / 200, peak);
        }
    }
    printf("\nPPO iterations (defaults: 50 episodes, 20 policy steps, 10 value epochs over 3 "
           "iterations of replay), one thread; benchmark 1 the median of 5:\n");
    for (int bench = 1; bench <= 3; bench++)
        for (int arch = 0; arch < 2; arch++)
            bench_ppo(bench, arch, peak, bench == 1 ? 5 : 1);
    return 0;
}
