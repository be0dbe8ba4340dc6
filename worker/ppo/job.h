/* job.h - one job's life, shared by nmnd's local worker threads and the
 * remote `nmn-worker serve`: build the trainer from the config (and a
 * checkpoint), iterate, report every iteration, checkpoint every few
 * iterations or seconds and at the end (the trained agent, for eval), and
 * honour stop requests at iteration boundaries. Where results go is the
 * caller's business (hooks). */
#ifndef NMN_JOB_H
#define NMN_JOB_H

#include "trainer.h"

typedef struct job_hooks {
    void *ctx;
    int ckpt_every;    /* iterations between checkpoints */
    double ckpt_secs;  /* and at least this often */
    /* After each iteration. Nonzero ends the job as "abandoned" (its
     * results can no longer be delivered). */
    int (*batch)(void *ctx, const trainer_t *t, const ppo_episode_t *eps, const ppo_iter_t *it);
    /* Persists or ships a checkpoint of t: 0, or -1 with a message. */
    int (*checkpoint)(void *ctx, trainer_t *t, char *err, size_t errlen);
    /* Nonzero with outcome set (cancelled | requeued) to stop; requeued
     * checkpoints first. */
    int (*stop)(void *ctx, char outcome[16]);
} job_hooks_t;

/* Runs a job to its end. outcome: done | failed | cancelled | requeued |
 * abandoned; *error: NULL or a malloc'd message (failed). */
void job_run(const char *config_json, const char *checkpoint, const job_hooks_t *h,
             char outcome[16], char **error);

#endif
