/* pool.h - nmnd's worker threads: each runs one job at a time (one job per
 * thread, BLAS single-threaded) and reports to the loop thread through a
 * message queue woken by uv_async_send. Workers never touch the store. */
#ifndef NMN_POOL_H
#define NMN_POOL_H

#include <stdint.h>
#include <uv.h>

#include "../common/store.h"

enum pool_msg_type { POOL_BATCH, POOL_CHECKPOINT, POOL_END };

typedef struct pool_msg {
    enum pool_msg_type type;
    int worker;
    int64_t job_id, attempt_id;
    store_episode_t *eps;  /* POOL_BATCH: n episodes and their iteration */
    int n;
    store_iteration_t it;
    char *path;            /* POOL_CHECKPOINT: the new file, durable */
    char *prev_path;       /* ... and the one it replaces (may be NULL) */
    int64_t episode;
    char outcome[16];      /* POOL_END: done | failed | cancelled | requeued */
    char *error;
    struct pool_msg *next;
} pool_msg_t;

typedef struct pool_opts {
    int workers;
    const char *ckpt_dir;
    int ckpt_every;        /* iterations */
    double ckpt_secs;      /* and at least this often */
} pool_opts_t;

typedef struct pool pool_t;

/* Starts the threads; on_msg runs on the loop thread (an async handle). */
pool_t *pool_new(uv_loop_t *loop, const pool_opts_t *o, uv_async_cb on_msg, void *data);
/* An idle worker's index, or -1. */
int pool_idle_worker(pool_t *p);
int pool_busy(pool_t *p);
/* Hands a claimed job to an idle worker; the pool takes over c's strings. */
void pool_run(pool_t *p, int worker, store_claim_t *c);
/* Asks the worker running job_id to stop at its next iteration boundary,
 * with outcome "cancelled" or "requeued" (a checkpoint first). 1 if found. */
int pool_stop_job(pool_t *p, int64_t job_id, const char *outcome);
void pool_stop_all(pool_t *p, const char *outcome);
/* The queued messages, oldest first; the caller frees them. */
pool_msg_t *pool_take(pool_t *p);
void pool_msg_free(pool_msg_t *m);
/* Joins the threads (all must be idle) and closes the pool; its memory is
 * freed once the loop has run the close callback. */
void pool_free(pool_t *p);
void *pool_data(pool_t *p);

#endif
