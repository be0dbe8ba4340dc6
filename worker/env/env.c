/* env.c - target1d, wind2d and twotargets (science.md section 2). */
#include "env.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586

/* Per-episode arrays, in the order they are carved from e->mem. */
static size_t per_episode_bytes(void)
{
    return sizeof(int64_t) + sizeof(rng_t) + sizeof(double) * (1 + 2 + 4 + 1 + 1) +
           sizeof(int) * 3 + sizeof(float);
}

int env_init(env_t *e, const bench_info_t *bench, int B, uint64_t seed,
             double half_cone)
{
    memset(e, 0, sizeof *e);
    e->bench = bench, e->B = B, e->seed = seed, e->half_cone = half_cone;
    e->mem_bytes = per_episode_bytes() * (size_t)B;
    char *p = e->mem = calloc(1, e->mem_bytes);
    if (p == NULL)
        return -1;
    /* 8-byte members first, so every array stays aligned */
    e->episode = (int64_t *)p, p += sizeof(int64_t) * B;
    e->rng = (rng_t *)p, p += sizeof(rng_t) * B;
    e->task = (double *)p, p += sizeof(double) * B;
    e->pos = (double *)p, p += sizeof(double) * 2 * B;
    e->target = (double *)p, p += sizeof(double) * 4 * B;
    e->last_a = (double *)p, p += sizeof(double) * B;
    e->ret = (double *)p, p += sizeof(double) * B;
    e->good_first = (int *)p, p += sizeof(int) * B;
    e->hits = (int *)p, p += sizeof(int) * B;
    e->bad_hits = (int *)p, p += sizeof(int) * B;
    e->last_r = (float *)p;
    return 0;
}

void env_free(env_t *e)
{
    free(e->mem);
    e->mem = NULL;
}

double env_heading(float u)
{
    double d = (double)u * M_PI;
    return d > 0 ? fmod(d, TWO_PI) : TWO_PI - fmod(-d, TWO_PI);
}

static double wrap(double v)
{
    return v > 2.0 ? v - 4.0 : (v < -2.0 ? v + 4.0 : v);
}

/* A start position in [-1.5, 1.5]^2 farther than 0.6 from the target(s). */
static void draw_start(rng_t *r, double *q, const double *targets, int ntargets)
{
    for (;;) {
        q[0] = rng_range(r, -1.5, 1.5);
        q[1] = rng_range(r, -1.5, 1.5);
        int ok = 1;
        for (int k = 0; k < ntargets; k++)
            ok &= hypot(q[0] - targets[2 * k], q[1] - targets[2 * k + 1]) > 0.6;
        if (ok)
            return;
    }
}

void env_observe(const env_t *e, float *obs)
{
    const int od = e->bench->obs_dim, cd = e->bench->classic_dim;
    for (int b = 0; b < e->B; b++) {
        float *o = obs + (size_t)b * od;
        const double *q = e->pos + 2 * b, *c = e->target + 4 * b;
        switch (e->bench->id) {
        case BENCH_TARGET1D:
            o[0] = (float)q[0];
            break;
        case BENCH_WIND2D:
            o[0] = (float)(c[0] - q[0]);
            o[1] = (float)(c[1] - q[1]);
            break;
        case BENCH_TWOTARGETS:
            for (int k = 0; k < 4; k++)
                o[k] = (float)(c[k] - q[k % 2]);
            break;
        }
        o[cd] = (float)e->last_a[b];
        o[cd + 1] = e->last_r[b];
    }
}

void env_reset(env_t *e, float *obs)
{
    e->t = 0;
    for (int b = 0; b < e->B; b++) {
        int64_t ep = e->next_episode++;
        rng_t *r = &e->rng[b];
        rng_seed(r, e->seed, rng_stream_id(RNG_ENV, (uint64_t)ep));
        e->episode[b] = ep;
        e->hits[b] = e->bad_hits[b] = 0;
        e->ret[b] = 0, e->last_a[b] = 0, e->last_r[b] = 0;
        double *q = e->pos + 2 * b, *c = e->target + 4 * b;
        switch (e->bench->id) {
        case BENCH_TARGET1D:
            e->task[b] = rng_range(r, -10, 10);
            q[0] = rng_range(r, -5, 5), q[1] = 0;
            break;
        case BENCH_WIND2D:
            e->task[b] = rng_range(r, 0, TWO_PI);
            c[0] = rng_range(r, -1, 1), c[1] = rng_range(r, -1, 1);
            draw_start(r, q, c, 1);
            break;
        case BENCH_TWOTARGETS: {
            double good[2], bad[2];
            good[0] = rng_range(r, -1, 1), good[1] = rng_range(r, -1, 1);
            bad[0] = rng_range(r, -1, 1), bad[1] = rng_range(r, -1, 1);
            e->good_first[b] = rng_uniform(r) < 0.5;
            memcpy(c, e->good_first[b] ? good : bad, sizeof good);
            memcpy(c + 2, e->good_first[b] ? bad : good, sizeof bad);
            draw_start(r, q, c, 2);
            break;
        }
        }
    }
    if (obs)
        env_observe(e, obs);
}

static float step_target1d(env_t *e, int b, float u)
{
    double a = 5.0 * (double)u;
    a = a < -20 ? -20 : (a > 20 ? 20 : a);
    double *p = e->pos + 2 * b, dist = fabs(p[0] + e->task[b] - a);
    e->last_a[b] = a;
    if (dist < 1.0) {
        e->hits[b]++;
        p[0] = rng_range(&e->rng[b], -5, 5);
        return 10.0f;
    }
    return (float)(dist > 20 ? -20 : -dist);
}

static float step_wind2d(env_t *e, int b, float u)
{
    double d = env_heading(u), *q = e->pos + 2 * b, *c = e->target + 4 * b;
    e->last_a[b] = d;
    if (hypot(q[0] - c[0], q[1] - c[1]) <= 0.4) {
        e->hits[b]++;
        draw_start(&e->rng[b], q, c, 1);
        return 100.0f;
    }
    double w = e->task[b] + rng_range(&e->rng[b], -e->half_cone, e->half_cone);
    q[0] = wrap(q[0] + 0.25 * cos(w) + 0.25 * cos(d));
    q[1] = wrap(q[1] + 0.25 * sin(w) + 0.25 * sin(d));
    return -2.0f;
}

static float step_twotargets(env_t *e, int b, float u)
{
    double d = env_heading(u), *q = e->pos + 2 * b, *c = e->target + 4 * b;
    e->last_a[b] = d;
    double d0 = hypot(q[0] - c[0], q[1] - c[1]), d1 = hypot(q[0] - c[2], q[1] - c[3]);
    if ((d0 < d1 ? d0 : d1) <= 0.4) {
        int good = (d0 <= d1) == (e->good_first[b] != 0);
        if (good)
            e->hits[b]++;
        else
            e->bad_hits[b]++;
        draw_start(&e->rng[b], q, c, 2);
        return good ? 100.0f : -50.0f;
    }
    q[0] = wrap(q[0] + 0.25 * cos(d));
    q[1] = wrap(q[1] + 0.25 * sin(d));
    return 0.0f;
}

void env_step(env_t *e, const float *u, float *obs, float *r)
{
    const int ad = e->bench->act_dim, B = e->B;
    float *rew = e->last_r;
    switch (e->bench->id) {
    case BENCH_TARGET1D:
        for (int b = 0; b < B; b++)
            rew[b] = step_target1d(e, b, u[(size_t)b * ad]);
        break;
    case BENCH_WIND2D:
        for (int b = 0; b < B; b++)
            rew[b] = step_wind2d(e, b, u[(size_t)b * ad]);
        break;
    case BENCH_TWOTARGETS:
        for (int b = 0; b < B; b++)
            rew[b] = step_twotargets(e, b, u[(size_t)b * ad]);
        break;
    }
    for (int b = 0; b < B; b++)
        e->ret[b] += rew[b];
    if (r)
        memcpy(r, rew, sizeof(float) * B);
    e->t++;
    if (obs)
        env_observe(e, obs);
}

size_t env_state_size(const env_t *e)
{
    return sizeof(int64_t) + sizeof(int) + e->mem_bytes;
}

void env_save(const env_t *e, void *buf)
{
    char *p = buf;
    memcpy(p, &e->next_episode, sizeof(int64_t));
    memcpy(p + sizeof(int64_t), &e->t, sizeof(int));
    memcpy(p + sizeof(int64_t) + sizeof(int), e->mem, e->mem_bytes);
}

void env_load(env_t *e, const void *buf)
{
    const char *p = buf;
    memcpy(&e->next_episode, p, sizeof(int64_t));
    memcpy(&e->t, p + sizeof(int64_t), sizeof(int));
    memcpy(e->mem, p + sizeof(int64_t) + sizeof(int), e->mem_bytes);
}
