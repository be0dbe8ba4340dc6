/* cmd_eval.c - `nmn-worker eval`: run a trained agent without learning
 * (the paper's Figure 3). Writes one CSV row per (episode, step) with the
 * task, the reward and, for nmn, the neuromodulatory signal z_t; prints the
 * mean return and how well the task can be read off z (R^2 of a linear fit)
 * at chosen steps.
 *
 * Evaluation episodes are numbered from EVAL_FIRST_EPISODE, so their tasks
 * are drawn from the job's own environment streams but are never episodes
 * the agent trained on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmd.h"
#include "eval/fit.h"
#include "nn/policy.h"
#include "ppo/trainer.h"

#define EVAL_FIRST_EPISODE (INT64_C(1) << 40)
#define EVAL_MAX_R2 16

static void usage(FILE *out)
{
    fprintf(out,
            "usage: nmn-worker eval --checkpoint FILE [--episodes N] [--policy mean|sample]\n"
            "         [--record-z] [--out FILE.csv] [--r2-at T1,T2,...] [--batch B]\n"
            "  Runs the checkpoint's actor without learning on its own benchmark.\n"
            "  --episodes: evaluation episodes (default 1000)\n"
            "  --policy: sample = Gaussian sampling as in training (default; the agents\n"
            "            learn to explore with it), mean = the mean action\n"
            "  --out: one CSV row per (episode, step): episode,t,TASK,reward[,z0..z(k-1)]\n"
            "         with TASK alpha (target1d), theta (wind2d) or good_first (twotargets)\n"
            "  --record-z: add z_t (nmn only) to the rows\n"
            "  --r2-at: steps at which to report R^2 of a linear fit of the task on z\n"
            "           (nmn; default 5,1000 on target1d)\n"
            "  --batch: parallel episodes (default 50; other sizes change only float\n"
            "           rounding, through the GEMM shapes)\n"
            "  Evaluation episodes draw their tasks and noise from streams training never\n"
            "  uses, so they are new episodes of the job's benchmark.\n");
}

static const char *task_name(const bench_info_t *b)
{
    return b->id == BENCH_TARGET1D ? "alpha" : b->id == BENCH_WIND2D ? "theta" : "good_first";
}

static double task_of(const env_t *e, int b)
{
    return e->bench->id == BENCH_TWOTARGETS ? e->good_first[b] : e->task[b];
}

/* Parses "5,1000" into steps within [0, T). */
static int parse_steps(const char *text, int T, int *steps, int *n)
{
    *n = 0;
    for (const char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < 0 || v >= T || *n == EVAL_MAX_R2) {
            fprintf(stderr, "nmn-worker eval: --r2-at: '%s' must be up to %d steps in [0, %d) "
                    "separated by commas\n", text, EVAL_MAX_R2, T);
            return -1;
        }
        steps[(*n)++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

typedef struct eval {
    trainer_t t;
    env_t env;
    net_ws_t *ws;
    int B, k, sample;
    float *obs, *next, *u, *r, *state, *eps, *rec; /* rec: (B,T,1+k) reward, z */
    rng_t *rng; /* per episode: the batch size does not change the draws */
} eval_t;

/* One batch of B episodes; rec gets each episode's rewards and z. */
static void eval_batch(eval_t *v)
{
    const trainer_t *t = &v->t;
    const int B = v->B, a = t->act, k = v->k, w = 1 + k;
    env_reset(&v->env, v->obs);
    for (int b = 0; b < B; b++)
        rng_seed(&v->rng[b], v->env.seed, rng_stream_id(RNG_EVAL, (uint64_t)v->env.episode[b]));
    memset(v->state, 0, sizeof(float) * B * t->actor.state_width);
    for (int s = 0; s < t->T; s++) {
        net_forward(&t->actor, t->actor_p, v->ws, v->obs, 1, B, v->state, v->state);
        for (int b = 0; b < B; b++) {
            const float *m = v->ws->out + (size_t)b * 2 * a;
            if (v->sample) {
                for (int j = 0; j < a; j++)
                    v->eps[j] = (float)rng_normal(&v->rng[b]);
                policy_sample(v->u + (size_t)b * a, m, m + a, v->eps, a);
            } else
                memcpy(v->u + (size_t)b * a, m, sizeof(float) * a);
        }
        env_step(&v->env, v->u, v->next, v->r);
        for (int b = 0; b < B; b++) {
            float *row = v->rec + ((size_t)b * t->T + s) * w;
            row[0] = v->r[b];
            /* ws->z holds z_{-1} then z_t: this step's signal is block 1 */
            if (k)
                memcpy(row + 1, v->ws->z + (size_t)(B + b) * k, sizeof(float) * k);
        }
        float *swap = v->obs;
        v->obs = v->next, v->next = swap;
    }
}

int cmd_eval(int argc, char **argv)
{
    const char *C = "eval", *ckpt = NULL, *out_path = NULL, *r2_text = NULL;
    long episodes = 1000, batch = 50;
    int record_z = 0, sample = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--record-z") == 0) {
            record_z = 1;
            continue;
        }
        if (strcmp(a, "--checkpoint") && strcmp(a, "--episodes") && strcmp(a, "--policy") &&
            strcmp(a, "--out") && strcmp(a, "--r2-at") && strcmp(a, "--batch")) {
            fprintf(stderr, "nmn-worker %s: unknown argument '%s'\n", C, a);
            usage(stderr);
            return 1;
        }
        if ((val = args_value(C, argc, argv, &i)) == NULL)
            return 1;
        if (strcmp(a, "--checkpoint") == 0)
            ckpt = val;
        else if (strcmp(a, "--out") == 0)
            out_path = val;
        else if (strcmp(a, "--r2-at") == 0)
            r2_text = val;
        else if (strcmp(a, "--policy") == 0) {
            if (strcmp(val, "mean") && strcmp(val, "sample")) {
                fprintf(stderr, "nmn-worker %s: --policy: '%s' is not mean or sample\n", C, val);
                return 1;
            }
            sample = strcmp(val, "sample") == 0;
        } else if (strcmp(a, "--episodes") == 0 ? args_long(C, a, val, 1, 1000000, &episodes)
                                                 : args_long(C, a, val, 1, 1000, &batch))
            return 1;
    }
    if (ckpt == NULL) {
        fprintf(stderr, "nmn-worker %s: --checkpoint is required\n", C);
        usage(stderr);
        return 1;
    }

    eval_t v = {0};
    job_config_t cfg;
    char err[512];
    if (trainer_load_config(ckpt, &cfg, err, sizeof err) || trainer_init(&v.t, &cfg, err, sizeof err)) {
        fprintf(stderr, "nmn-worker %s: %s\n", C, err);
        return 1;
    }
    trainer_t *t = &v.t;
    int nr2 = 0, steps[EVAL_MAX_R2];
    const int nmn = cfg.arch == ARCH_NMN;
    if (trainer_load(t, ckpt, err, sizeof err)) {
        fprintf(stderr, "nmn-worker %s: %s\n", C, err);
        trainer_free(t);
        return 1;
    }
    if (r2_text && parse_steps(r2_text, t->T, steps, &nr2)) {
        trainer_free(t);
        return 1;
    }
    if (!nmn && (record_z || nr2)) {
        fprintf(stderr, "nmn-worker %s: --record-z and --r2-at need an nmn agent; %s is rnn\n", C,
                ckpt);
        trainer_free(t);
        return 1;
    }
    if (r2_text == NULL && nmn && t->bench->id == BENCH_TARGET1D)
        steps[0] = 5, steps[1] = 1000, nr2 = 2;

    v.B = (int)(batch < episodes ? batch : episodes);
    v.k = record_z || nr2 ? t->actor.k : 0;
    v.sample = sample;
    const int B = v.B, T = t->T, k = v.k, od = t->od, a = t->act;
    const long nb = (episodes + B - 1) / B;
    v.ws = net_ws_new(&t->actor, 1, B);
    v.obs = malloc(sizeof(float) * B * od), v.next = malloc(sizeof(float) * B * od);
    v.u = malloc(sizeof(float) * B * a), v.r = malloc(sizeof(float) * B);
    v.state = malloc(sizeof(float) * B * t->actor.state_width);
    v.eps = malloc(sizeof(float) * a);
    v.rng = malloc(sizeof(rng_t) * B);
    v.rec = malloc(sizeof(float) * B * T * (1 + k));
    double *zx = malloc(sizeof(double) * (nr2 ? nr2 : 1) * episodes * (k ? k : 1));
    double *task = malloc(sizeof(double) * episodes), *ret = malloc(sizeof(double) * episodes);
    double *per_step = calloc((size_t)T, sizeof(double));
    FILE *out = out_path ? fopen(out_path, "w") : NULL;
    int rc = 0;
    if (!v.ws || !v.obs || !v.next || !v.u || !v.r || !v.state || !v.eps || !v.rng || !v.rec || !zx ||
        !task || !ret || !per_step ||
        env_init(&v.env, t->bench, B, (uint64_t)cfg.seed, cfg.wind_half_cone)) {
        fprintf(stderr, "nmn-worker %s: out of memory\n", C);
        rc = 2;
        goto done;
    }
    if (out_path && out == NULL) {
        fprintf(stderr, "nmn-worker %s: --out: cannot write %s\n", C, out_path);
        rc = 1;
        goto done;
    }
    v.env.next_episode = EVAL_FIRST_EPISODE;
    printf("eval %s: %s %s seed %ld, trained %lld episodes; %ld episodes, %s action\n", ckpt,
           t->bench->name, net_arch_name(cfg.arch), cfg.seed, (long long)t->episodes_done,
           episodes, sample ? "sampled" : "mean");
    if (out) {
        fprintf(out, "episode,t,%s,reward", task_name(t->bench));
        for (int j = 0; record_z && j < k; j++)
            fprintf(out, ",z%d", j);
        fputc('\n', out);
    }
    for (long bi = 0; bi < nb; bi++) {
        eval_batch(&v);
        for (int b = 0; b < B && bi * B + b < episodes; b++) {
            const long e = bi * B + b;
            const float *rows = v.rec + (size_t)b * T * (1 + k);
            task[e] = task_of(&v.env, b);
            ret[e] = v.env.ret[b];
            for (int s = 0; s < T; s++) {
                const float *row = rows + (size_t)s * (1 + k);
                per_step[s] += row[0];
                if (out) {
                    fprintf(out, "%ld,%d,%.9g,%.9g", e, s, task[e], row[0]);
                    for (int j = 0; record_z && j < k; j++)
                        fprintf(out, ",%.6g", row[1 + j]);
                    fputc('\n', out);
                }
            }
            for (int q = 0; q < nr2; q++)
                for (int j = 0; j < k; j++)
                    zx[((size_t)q * episodes + e) * k + j] = rows[(size_t)steps[q] * (1 + k) + 1 + j];
        }
    }
    if (out && fclose(out) != 0) {
        out = NULL;
        fprintf(stderr, "nmn-worker %s: --out: writing %s failed\n", C, out_path);
        rc = 2;
        goto done;
    }
    out = NULL;
    double m = 0, sd = 0, early = 0, late = 0;
    for (long e = 0; e < episodes; e++)
        m += ret[e] / (double)episodes;
    for (long e = 0; e < episodes; e++)
        sd += (ret[e] - m) * (ret[e] - m) / (double)(episodes > 1 ? episodes - 1 : 1);
    const int w = T / 10;
    for (int s = 0; s < w; s++)
        early += per_step[s] / ((double)w * (double)episodes),
        late += per_step[T - 1 - s] / ((double)w * (double)episodes);
    printf("mean_return %.1f +- %.1f (std over episodes)\n", m, sqrt(sd));
    printf("mean_reward_per_step first_%d_steps %.4f last_%d_steps %.4f\n", w, early, w, late);
    for (int q = 0; q < nr2; q++)
        printf("r2 t=%d %.4f (linear fit of %s on z_t, %ld episodes, k=%d)\n", steps[q],
               fit_r2(zx + (size_t)q * episodes * k, task, (int)episodes, k), task_name(t->bench),
               episodes, k);
done:
    if (out)
        fclose(out);
    free(v.obs), free(v.next), free(v.u), free(v.r), free(v.state), free(v.eps), free(v.rng), free(v.rec);
    free(zx), free(task), free(ret), free(per_step);
    net_ws_free(v.ws);
    env_free(&v.env);
    trainer_free(t);
    return rc;
}
