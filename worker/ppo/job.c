/* job.c - one job's life (job.h). */
#include "job.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void job_run(const char *config_json, const char *checkpoint, const job_hooks_t *h,
             char outcome[16], char **error)
{
    char err[1024] = "";
    job_config_t cfg;
    trainer_t t;
    config_defaults(&cfg);
    strcpy(outcome, "failed");
    *error = NULL;
    if (config_apply_json(&cfg, config_json, err, sizeof err) ||
        trainer_init(&t, &cfg, err, sizeof err)) {
        *error = strdup(err);
        return;
    }
    if (checkpoint && trainer_load(&t, checkpoint, err, sizeof err)) {
        *error = strdup(err);
        trainer_free(&t);
        return;
    }
    ppo_episode_t *eps = calloc((size_t)t.B, sizeof *eps);
    double last_ckpt = now_s();
    int since = 0;
    while (eps && !trainer_done(&t)) {
        if (h->stop(h->ctx, outcome)) {
            if (strcmp(outcome, "requeued") == 0 && h->checkpoint(h->ctx, &t, err, sizeof err))
                strcpy(outcome, "failed"), *error = strdup(err);
            break;
        }
        ppo_iter_t it;
        if (trainer_iterate(&t, eps, &it, err, sizeof err)) {
            *error = strdup(err);
            break;
        }
        if (h->batch(h->ctx, &t, eps, &it)) {
            strcpy(outcome, "abandoned");
            break;
        }
        since++;
        if (!trainer_done(&t) && (since >= h->ckpt_every || now_s() - last_ckpt >= h->ckpt_secs)) {
            if (h->checkpoint(h->ctx, &t, err, sizeof err)) {
                *error = strdup(err);
                break;
            }
            since = 0, last_ckpt = now_s();
        }
    }
    if (eps == NULL)
        *error = strdup("out of memory");
    if (trainer_done(&t) && *error == NULL) {
        strcpy(outcome, "done");
        if (h->checkpoint(h->ctx, &t, err, sizeof err)) /* the trained agent, for eval */
            strcpy(outcome, "failed"), *error = strdup(err);
    }
    free(eps);
    trainer_free(&t);
}
