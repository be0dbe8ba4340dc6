/* slurm.h - nmnd's Slurm executor: jobs run on a cluster as `nmn-worker
 * serve` inside sbatch allocations, which connect back over TCP (wire.h)
 * and stream their results; nmnd stays the only writer of the store.
 *
 * Liveness: a worker's connection, kept alive by heartbeats, is the proof
 * that its attempt lives. A lost connection starts a grace period; if the
 * worker has not reconnected and resumed when it ends, the attempt ends as
 * lost and the job is requeued (it resumes from its last stored
 * checkpoint). Slurm's view (squeue) is evidence only: it retires
 * allocations that never connected and shows nodes in status. Everything
 * runs on the loop thread; sbatch, squeue and scancel run on libuv's thread
 * pool. */
#ifndef NMN_SLURM_H
#define NMN_SLURM_H

#include <jansson.h>
#include <uv.h>

#include "../common/store.h"
#include "pool.h"

#define SLURM_MAX_SBATCH_OPTIONS 16

typedef struct slurm_opts {
    const char *partition, *account, *time_limit; /* NULL: the cluster's default */
    const char *sbatch_options[SLURM_MAX_SBATCH_OPTIONS];
    int n_sbatch_options;
    int max_allocations, jobs_per_allocation;
    const char *listen;     /* address to bind */
    int port;
    const char *advertise;  /* host the workers dial (default: listen, or this host's name) */
    int grace_secs, heartbeat_secs, signal_secs, reconnect_secs;
    const char *worker;     /* nmn-worker on the nodes */
    const char *output;     /* sbatch --output */
    const char *state_dir, *ckpt_dir;
    int ckpt_every, ckpt_secs;
} slurm_opts_t;

typedef struct slurm slurm_t;

/* Writes results exactly as a local worker's messages are written. */
typedef void (*slurm_apply_fn)(void *ctx, pool_msg_t *m);
typedef void (*slurm_log_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Loads or creates the token (STATE_DIR/slurm-token, mode 0600), listens,
 * and gives the attempts left running by a previous nmnd a grace period
 * to reconnect. NULL with a message in err. */
slurm_t *slurm_start(uv_loop_t *loop, store_t *store, const slurm_opts_t *o, slurm_apply_fn apply,
                     slurm_log_fn log, void *ctx, char *err, size_t errlen);
/* Once a second: ends expired grace periods, submits allocations while
 * jobs wait (accepting = 0 when paused or stopping), polls squeue. */
void slurm_tick(slurm_t *s, int accepting);
/* nmnctl cancel of a running job: scancel of its allocation. 1 if found. */
int slurm_cancel_job(slurm_t *s, int64_t job_id);
/* Allocations, connections and the last sbatch refusal, for status. */
json_t *slurm_status(slurm_t *s);
/* Closes the listener and the connections; allocations keep running and
 * reconnect to the next nmnd. Freed once the loop has closed the handles. */
void slurm_stop(slurm_t *s);

#endif
