/* pool.c - the worker threads.
 *
 * Locking: one mutex guards every worker's slot (its job and stop request)
 * and the message queue; workers sleep on their own condition variable. A
 * worker owns its trainer outright; results cross to the loop thread only
 * as messages. */
#include "pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/config.h"
#include "../worker/ppo/job.h"

typedef struct worker {
    pool_t *pool;
    int index;
    pthread_t thread;
    pthread_cond_t wake;
    int busy;            /* has a job (from pool_run until its POOL_END) */
    int has_job;         /* a job waits to be started */
    store_claim_t claim;
    char stop[16];       /* "" or the outcome to stop with */
    char *last;          /* the job's latest checkpoint file */
} worker_t;

struct pool {
    pthread_mutex_t mu;
    worker_t *w;
    int n, quit;
    pool_opts_t o;
    pool_msg_t *head, *tail;
    uv_async_t async;
    void *data;
};

static void post(pool_t *p, pool_msg_t *m)
{
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = m;
    else
        p->head = m;
    p->tail = m;
    pthread_mutex_unlock(&p->mu);
    uv_async_send(&p->async); /* coalesces: the callback drains the queue */
}

static pool_msg_t *msg(worker_t *w, enum pool_msg_type type)
{
    pool_msg_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        abort(); /* a lost result would break exactly-once; nothing to do */
    m->type = type, m->worker = w->index;
    m->job_id = w->claim.job_id, m->attempt_id = w->claim.attempt_id;
    return m;
}

/* Writes a checkpoint under its own name (job-ID-eEPISODE.ckpt) and
 * reports it; the loop records it, then deletes the previous one. A crash in
 * between leaves the store pointing at an older, consistent checkpoint. */
static int checkpoint(void *ctx, trainer_t *t, char *err, size_t errlen)
{
    worker_t *w = ctx;
    char path[4096];
    snprintf(path, sizeof path, "%s/job-%lld-e%lld.ckpt", w->pool->o.ckpt_dir,
             (long long)w->claim.job_id, (long long)t->episodes_done);
    if (w->last && strcmp(w->last, path) == 0)
        return 0; /* already there */
    if (trainer_save(t, path, err, errlen))
        return -1;
    pool_msg_t *m = msg(w, POOL_CHECKPOINT);
    m->path = strdup(path);
    m->prev_path = w->last;
    m->episode = t->episodes_done;
    w->last = strdup(path);
    post(w->pool, m);
    return 0;
}

static int batch(void *ctx, const trainer_t *t, const ppo_episode_t *pe, const ppo_iter_t *it)
{
    worker_t *w = ctx;
    pool_msg_t *m = msg(w, POOL_BATCH);
    m->eps = malloc(sizeof *m->eps * (size_t)t->B);
    if (m->eps == NULL)
        abort(); /* as in msg() */
    m->n = t->B;
    for (int b = 0; b < t->B; b++)
        m->eps[b] = (store_episode_t){pe[b].episode, pe[b].ret, pe[b].hits, pe[b].bad_hits};
    m->it = (store_iteration_t){it->iteration, it->episodes_done, it->kl, it->beta, it->lr_mult,
                                it->reverted, it->policy_loss, it->value_loss, it->mean_logvar,
                                it->rollout_ms, it->update_ms};
    post(w->pool, m);
    return 0;
}

static int stop_requested(void *ctx, char outcome[16])
{
    worker_t *w = ctx;
    pthread_mutex_lock(&w->pool->mu);
    int stop = w->stop[0] != 0;
    if (stop)
        memcpy(outcome, w->stop, sizeof w->stop);
    pthread_mutex_unlock(&w->pool->mu);
    return stop;
}

/* Runs one claimed job to its end; returns the outcome and error text. */
static void run_job(worker_t *w, char *outcome, char **error)
{
    job_hooks_t h = {w, w->pool->o.ckpt_every, w->pool->o.ckpt_secs, batch, checkpoint,
                     stop_requested};
    w->last = w->claim.checkpoint_path ? strdup(w->claim.checkpoint_path) : NULL;
    job_run(w->claim.config_json, w->claim.checkpoint_path, &h, outcome, error);
    free(w->last);
    w->last = NULL;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    pool_t *p = w->pool;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!w->has_job && !p->quit)
            pthread_cond_wait(&w->wake, &p->mu);
        if (!w->has_job) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        w->has_job = 0;
        pthread_mutex_unlock(&p->mu);

        char outcome[16];
        char *error = NULL;
        run_job(w, outcome, &error);
        pool_msg_t *m = msg(w, POOL_END);
        memcpy(m->outcome, outcome, sizeof outcome);
        m->error = error;
        store_claim_free(&w->claim);
        pthread_mutex_lock(&p->mu);
        w->stop[0] = 0;
        pthread_mutex_unlock(&p->mu);
        post(p, m); /* the loop marks the worker idle when it applies this */
    }
}

pool_t *pool_new(uv_loop_t *loop, const pool_opts_t *o, uv_async_cb on_msg, void *data)
{
    pool_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->o = *o, p->n = o->workers, p->data = data;
    p->w = calloc((size_t)p->n, sizeof *p->w);
    pthread_mutex_init(&p->mu, NULL);
    uv_async_init(loop, &p->async, on_msg);
    p->async.data = p;
    for (int i = 0; i < p->n; i++) {
        p->w[i].pool = p, p->w[i].index = i;
        pthread_cond_init(&p->w[i].wake, NULL);
        pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]);
    }
    return p;
}

void *pool_data(pool_t *p)
{
    return p->data;
}

int pool_idle_worker(pool_t *p)
{
    for (int i = 0; i < p->n; i++)
        if (!p->w[i].busy)
            return i;
    return -1;
}

int pool_busy(pool_t *p)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        n += p->w[i].busy;
    return n;
}

void pool_run(pool_t *p, int i, store_claim_t *c)
{
    pthread_mutex_lock(&p->mu);
    p->w[i].claim = *c;
    memset(c, 0, sizeof *c);
    p->w[i].busy = p->w[i].has_job = 1;
    p->w[i].stop[0] = 0;
    pthread_cond_signal(&p->w[i].wake);
    pthread_mutex_unlock(&p->mu);
}

int pool_stop_job(pool_t *p, int64_t job_id, const char *outcome)
{
    int found = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n; i++)
        if (p->w[i].busy && p->w[i].claim.job_id == job_id) {
            snprintf(p->w[i].stop, sizeof p->w[i].stop, "%s", outcome);
            found = 1;
        }
    pthread_mutex_unlock(&p->mu);
    return found;
}

void pool_stop_all(pool_t *p, const char *outcome)
{
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n; i++)
        if (p->w[i].busy)
            snprintf(p->w[i].stop, sizeof p->w[i].stop, "%s", outcome);
    pthread_mutex_unlock(&p->mu);
}

pool_msg_t *pool_take(pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    pool_msg_t *m = p->head;
    p->head = p->tail = NULL;
    pthread_mutex_unlock(&p->mu);
    /* the loop thread alone clears busy, when it has applied POOL_END */
    for (pool_msg_t *i = m; i; i = i->next)
        if (i->type == POOL_END)
            p->w[i->worker].busy = 0;
    return m;
}

void pool_msg_free(pool_msg_t *m)
{
    if (m) {
        free(m->eps), free(m->path), free(m->prev_path), free(m->error);
        free(m);
    }
}

static void pool_closed(uv_handle_t *h)
{
    pool_t *p = h->data;
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p);
}

void pool_free(pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    for (int i = 0; i < p->n; i++)
        pthread_cond_signal(&p->w[i].wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++) {
        pthread_join(p->w[i].thread, NULL);
        pthread_cond_destroy(&p->w[i].wake);
    }
    pool_msg_t *m = pool_take(p);
    while (m) {
        pool_msg_t *next = m->next;
        pool_msg_free(m);
        m = next;
    }
    uv_close((uv_handle_t *)&p->async, pool_closed); /* frees p when done */
}
