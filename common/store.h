/* store.h - the farm's SQLite store (the migrations in schema/): sweeps, jobs,
 * attempts, episodes and iterations, written by one writer (nmnd's loop thread) and
 * read by anyone (nmnctl opens it read-only).
 *
 * Every function returns 0 on success or -1 with a message in err (naming
 * what failed and SQLite's reason); some return a count or a state >= 0.
 * WAL mode, foreign keys on, synchronous=NORMAL: a commit survives a crash
 * of the process; after a power loss the last few commits may be lost, but
 * the database is never corrupted (and jobs resume from checkpoints). */
#ifndef NMN_STORE_H
#define NMN_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

/* Opens (creating if needed) and migrates a database for writing, or
 * opens an existing one read-only (readonly = 1, no migration; a schema
 * newer than this build is refused either way). */
int store_open(store_t **s, const char *path, int readonly, char *err, size_t errlen);
void store_close(store_t *s);
/* The schema version this build writes (the number of migrations). */
int store_schema_version(void);
/* The underlying handle, for read-only queries and tests. */
struct sqlite3 *store_db(store_t *s);
/* The first column of the first row of a query with one optional integer
 * parameter ?1, or -1 (no row, or an error). */
int64_t store_query_int(store_t *s, const char *sql, int64_t arg);

typedef struct store_job {
    const char *config_json;
    const char *config_hash; /* 16 hex digits */
    const char *benchmark, *arch;
    int64_t seed, episodes;
    int priority;
} store_job_t;

/* One transaction: the sweep (or the existing one with this name and
 * YAML), every job not stored yet, and the sweep's links to all of them.
 * *n_new counts the jobs that were new. */
int store_insert_sweep(store_t *s, const char *name, const char *yaml,
                       const store_job_t *jobs, int n, int64_t *sweep_id,
                       int *n_new, char *err, size_t errlen);

typedef struct store_claim {
    int64_t job_id, attempt_id;
    char *config_json;        /* malloc'd; free with store_claim_free */
    char *checkpoint_path;    /* NULL when there is none */
    int64_t checkpoint_episode;
} store_claim_t;

/* Claims the next queued job by priority (high first) then age: marks it
 * running, starts an attempt (attempts + 1) that becomes the job's current
 * one. Returns 1 with *c filled, 0 when nothing is queued, -1 on error. */
int store_claim_next(store_t *s, const char *executor, store_claim_t *c,
                     char *err, size_t errlen);
void store_claim_free(store_claim_t *c);

typedef struct store_episode {
    int64_t episode;
    double ret;
    int hits, bad_hits;
} store_episode_t;

typedef struct store_iteration {
    int64_t iteration, episodes_done;
    double kl, beta, lr_mult;
    int reverted;
    double policy_loss, value_loss, mean_logvar, rollout_ms, update_ms;
} store_iteration_t;

#define STORE_STALE 1 /* the attempt is not the job's current one */

/* One transaction: a batch of episodes and its iteration row, from attempt
 * attempt_id. A batch from a superseded attempt is dropped whole (returns
 * STORE_STALE). Episodes (and iterations) already stored are ignored, never
 * overwritten: the first writer wins (a resumed job recomputes them
 * bit-identically anyway). *n_inserted counts the episode rows added. */
int store_put_batch(store_t *s, int64_t job_id, int64_t attempt_id,
                    const store_episode_t *eps, int n, const store_iteration_t *it,
                    int *n_inserted, char *err, size_t errlen);
/* Records a checkpoint written (fsynced, renamed) by attempt attempt_id. */
int store_put_checkpoint(store_t *s, int64_t job_id, int64_t attempt_id,
                         const char *path, int64_t episode, char *err, size_t errlen);

/* Ends attempt attempt_id with outcome done | failed | cancelled | requeued
 * | lost; the job becomes done, failed, cancelled or queued (requeued: e.g.
 * a graceful shutdown; lost: its worker vanished; it resumes from its
 * checkpoint). error may be NULL.
 * Returns STORE_STALE if the attempt was not current (nothing changes). */
int store_end_attempt(store_t *s, int64_t job_id, int64_t attempt_id, const char *outcome,
                      const char *error, char *err, size_t errlen);
/* A queued job becomes cancelled (a running one is cancelled by ending its
 * attempt). Returns 1 if it changed, 0 if the job was not queued. */
int store_cancel_queued(store_t *s, int64_t job_id, char *err, size_t errlen);
/* A failed or cancelled job goes back to the queue (its error cleared; it
 * resumes from its checkpoint if it has one). Returns 1 if it changed, 0 if
 * the job was in another state. */
int store_retry(store_t *s, int64_t job_id, char *err, size_t errlen);
/* After a crash: every job left running goes back to queued (its attempt
 * ends as 'lost'), except attempts run by executor keep_executor (NULL:
 * none): remote workers may still be alive and reconnect. Returns how many
 * jobs went back, or -1. */
int store_recover(store_t *s, const char *keep_executor, char *err, size_t errlen);

/* Slurm allocations (the Slurm executor, daemon/slurm.c): one row per sbatch
 * job, pending -> running (its worker connected; node known) -> ended. */
int store_alloc_add(store_t *s, const char *slurm_id, int64_t *id, char *err, size_t errlen);
/* Sets state (and node, unless NULL); an ended allocation stays ended. */
int store_alloc_set(store_t *s, int64_t id, const char *state, const char *node, char *err,
                    size_t errlen);
/* Records which allocation runs an attempt. */
int store_attempt_set_allocation(store_t *s, int64_t attempt_id, int64_t alloc_id, char *err,
                                 size_t errlen);

#endif
