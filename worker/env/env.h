/* env.h - the three meta-RL benchmarks of science.md section 2, vectorised
 * over B parallel episodes that step in lockstep and end together after T
 * steps.
 *
 * Observation row: [x_t (classic_dim) | a_{t-1} (act_dim) | r_{t-1}], with
 * a_{t-1} the action as the environment applied it.
 *
 * Randomness: episode i of a job draws everything from its own stream
 * rng(seed, RNG_ENV, i), so episodes do not depend on how they are split
 * into batches, nor on anything else running. The state is plain arrays
 * (env_save / env_load copy them). Positions and tasks are kept in double;
 * observations are float. */
#ifndef NMN_ENV_H
#define NMN_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "../../common/bench.h"
#include "../../common/rng.h"

typedef struct env {
    const bench_info_t *bench;
    int B;
    double half_cone;      /* wind2d: wind half-cone, radians */
    uint64_t seed;
    int64_t next_episode;  /* global index of the next episode reset starts */
    int t;                 /* steps taken in the current episodes */
    /* per episode (B each) */
    int64_t *episode;      /* global episode index */
    rng_t *rng;
    double *task;          /* target1d: alpha; wind2d: theta */
    double *pos;           /* (B,2): target1d uses [0] */
    double *target;        /* (B,4): wind2d c; twotargets c_first, c_second */
    int *good_first;       /* twotargets: 1 if the first target is the good one */
    double *last_a;        /* a_{t-1} as applied */
    float *last_r;         /* r_{t-1} */
    int *hits, *bad_hits;
    double *ret;           /* sum of rewards so far */
    void *mem;             /* one block holding every array above */
    size_t mem_bytes;
} env_t;

/* Allocates for B episodes; returns 0 or -1 (out of memory). */
int env_init(env_t *e, const bench_info_t *bench, int B, uint64_t seed,
             double half_cone);
void env_free(env_t *e);
/* Starts B new episodes, numbered next_episode.., and writes obs
 * (B,obs_dim) with a_{-1} = r_{-1} = 0. */
void env_reset(env_t *e, float *obs);
/* One step of every episode with raw actions u (B,act_dim): writes the next
 * obs (B,obs_dim) and rewards r (B). */
void env_step(env_t *e, const float *u, float *obs, float *r);
/* Writes obs (B,obs_dim) for the current state. */
void env_observe(const env_t *e, float *obs);

/* The applied heading of wind2d and twotargets: d = u pi normalised into
 * [0, 2 pi], u = 0 giving 2 pi. */
double env_heading(float u);

/* Bytes of the serialised state; env_save writes them, env_load reads them
 * into an env initialised with the same benchmark and B. */
size_t env_state_size(const env_t *e);
void env_save(const env_t *e, void *buf);
void env_load(env_t *e, const void *buf);

#endif
