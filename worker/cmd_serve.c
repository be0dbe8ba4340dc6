/* cmd_serve.c - `nmn-worker serve`: the remote worker of the Slurm
 * executor. Connects to nmnd over TCP, authenticates with the daemon's
 * token (from the environment or a file, never argv), pulls jobs one after
 * another, trains each and streams every iteration's episodes and every
 * checkpoint back. nmnd writes them; this process keeps no state on disk
 * beyond a temporary checkpoint file.
 *
 * Connection loss: the worker reconnects (for up to --reconnect-secs) and
 * asks to resume its attempt. nmnd answers with how many episodes it has
 * stored, and the worker resends every batch past that (it keeps the
 * current job's batches in memory: a few MB at most); or nmnd says the
 * attempt is over (it was requeued after the grace period), and the worker
 * drops the job and pulls the next. SIGUSR1 (Slurm's --signal=B:USR1@T,
 * forwarded by the batch script) and SIGTERM: checkpoint at the next
 * iteration boundary, hand the job back (requeued), exit. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/wire.h"
#include "args.h"
#include "cmd.h"
#include "ppo/job.h"

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

typedef struct frame {
    unsigned char *bytes;
    size_t size;
    int64_t end_episode; /* episodes done after this batch */
} frame_t;

typedef struct serve {
    char host[256], port[16], token[256], alloc[64], node[256];
    double reconnect_secs;
    long heartbeat_secs;
    pthread_mutex_t mu; /* fd and writes: the heartbeat thread writes too */
    int fd, quit;
    pthread_cond_t quit_cv;
    /* the current job */
    int64_t job_id, attempt_id;
    int abandoned;
    frame_t *frames;
    int nframes, cap;
} serve_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nmn-worker serve: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int send_msg(serve_t *s, json_t *msg, const void *blob, size_t n)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->fd >= 0 ? wire_write(s->fd, msg, blob, n) : -1;
    pthread_mutex_unlock(&s->mu);
    json_decref(msg);
    return rc;
}

static int send_bytes(serve_t *s, const unsigned char *p, size_t n)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->fd >= 0 ? wire_write_all(s->fd, p, n) : -1;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Reads the reply of a request; 1 with f and buf set, else -1. */
static int read_reply(serve_t *s, wire_frame_t *f, unsigned char **buf)
{
    char err[256];
    int rc = wire_read(s->fd, f, buf, err, sizeof err);
    if (rc != 1)
        say("reading from nmnd: %s", err);
    return rc == 1 ? 1 : -1;
}

/* (Re)connects and says hello; when resuming a job, resends the batches
 * nmnd lacks or learns the attempt is over. Returns 0, or -1 when the
 * reconnect window passed (nothing left to do but exit). */
static int connect_hello(serve_t *s, int resume)
{
    double deadline = now_s() + s->reconnect_secs;
    for (int tries = 0;; tries++) {
        json_t *hello = json_pack("{s:s, s:s, s:s, s:s}", "type", "hello", "token", s->token,
                                  "alloc", s->alloc, "node", s->node);
        if (resume)
            json_object_set_new(hello, "job_id", json_integer(s->job_id)),
                json_object_set_new(hello, "attempt_id", json_integer(s->attempt_id));
        /* hello goes out under the lock that swaps the fd: no heartbeat first */
        pthread_mutex_lock(&s->mu);
        if (s->fd >= 0)
            close(s->fd);
        s->fd = wire_dial(s->host, s->port);
        int sent = s->fd >= 0 && wire_write(s->fd, hello, NULL, 0) == 0;
        pthread_mutex_unlock(&s->mu);
        json_decref(hello);
        wire_frame_t f;
        unsigned char *buf = NULL;
        if (sent && read_reply(s, &f, &buf) == 1) {
            int rc = 0;
            if (strcmp(f.type, "resume") == 0) {
                int64_t stored = wire_int(f.msg, "stored");
                for (int i = 0; i < s->nframes && rc == 0; i++)
                    if (s->frames[i].end_episode > stored)
                        rc = send_bytes(s, s->frames[i].bytes, s->frames[i].size);
                if (rc == 0)
                    say("reconnected; resumed job %lld (nmnd had %lld episodes)", (long long)s->job_id,
                        (long long)stored);
            } else if (strcmp(f.type, "abandon") == 0) {
                say("reconnected; nmnd ended job %lld's attempt meanwhile: dropping it",
                    (long long)s->job_id);
                s->abandoned = 1;
            } else if (strcmp(f.type, "welcome")) {
                say("nmnd refused us: %s", json_string_value(json_object_get(f.msg, "error")));
                rc = -1;
            }
            json_decref(f.msg);
            free(buf);
            if (rc == 0)
                return 0;
        }
        if (now_s() > deadline) {
            say("cannot reach nmnd at %s:%s for %.0f s: giving up", s->host, s->port, s->reconnect_secs);
            return -1;
        }
        if (tries == 0)
            say("nmnd at %s:%s is unreachable; retrying for %.0f s", s->host, s->port, s->reconnect_secs);
        sleep(1);
    }
}

/* --- hooks of job_run ------------------------------------------------------ */

static int hook_batch(void *ctx, const trainer_t *t, const ppo_episode_t *eps, const ppo_iter_t *it)
{
    serve_t *s = ctx;
    json_t *rows = json_array();
    for (int b = 0; b < t->B; b++)
        json_array_append_new(rows, json_pack("[I, f, i, i]", (json_int_t)eps[b].episode, eps[b].ret,
                                              eps[b].hits, eps[b].bad_hits));
    json_t *msg = json_pack("{s:s, s:I, s:I, s:o, s:[I, I, f, f, f, i, f, f, f, f, f]}", "type", "batch",
                            "job_id", (json_int_t)s->job_id, "attempt_id", (json_int_t)s->attempt_id,
                            "episodes", rows, "it", (json_int_t)it->iteration,
                            (json_int_t)it->episodes_done, it->kl, it->beta, it->lr_mult, it->reverted,
                            it->policy_loss, it->value_loss, it->mean_logvar, it->rollout_ms, it->update_ms);
    if (s->nframes == s->cap) {
        frame_t *grown = realloc(s->frames, sizeof *grown * (size_t)(s->cap = s->cap ? 2 * s->cap : 256));
        if (grown == NULL)
            abort(); /* a batch we cannot keep cannot be resent */
        s->frames = grown;
    }
    frame_t *f = &s->frames[s->nframes];
    f->bytes = msg ? wire_pack(msg, NULL, 0, &f->size) : NULL;
    json_decref(msg);
    if (f->bytes == NULL)
        abort();
    f->end_episode = t->episodes_done;
    s->nframes++;
    if (send_bytes(s, f->bytes, f->size) && connect_hello(s, 1))
        exit(1);
    return s->abandoned;
}

static int hook_checkpoint(void *ctx, trainer_t *t, char *err, size_t errlen)
{
    serve_t *s = ctx;
    size_t n;
    unsigned char *blob = trainer_serialize(t, &n); /* nmnd makes it durable */
    if (blob == NULL) {
        snprintf(err, errlen, "out of memory serialising the checkpoint");
        return -1;
    }
    for (int tries = 0; tries < 2 && !s->abandoned; tries++) {
        json_t *msg = json_pack("{s:s, s:I, s:I, s:I}", "type", "checkpoint", "job_id", (json_int_t)s->job_id,
                                "attempt_id", (json_int_t)s->attempt_id, "episode", (json_int_t)t->episodes_done);
        if (send_msg(s, msg, blob, n) == 0)
            break;
        if (connect_hello(s, 1))
            exit(1);
    }
    free(blob);
    if (s->abandoned) {
        snprintf(err, errlen, "attempt ended by nmnd");
        return -1;
    }
    return 0;
}

static int hook_stop(void *ctx, char outcome[16])
{
    (void)ctx;
    if (stop_signal)
        strcpy(outcome, "requeued");
    return stop_signal != 0;
}

static void *heartbeat_main(void *arg)
{
    serve_t *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->quit) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->heartbeat_secs;
        if (pthread_cond_timedwait(&s->quit_cv, &s->mu, &until) == ETIMEDOUT && s->fd >= 0) {
            json_t *hb = json_pack("{s:s}", "type", "heartbeat");
            wire_write(s->fd, hb, NULL, 0); /* a failure shows on the next batch */
            json_decref(hb);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* --- main -------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: nmn-worker serve --connect HOST:PORT [--jobs N] [--reconnect-secs S]\n"
            "         [--heartbeat-secs S]\n"
            "  Pulls jobs from nmnd (the Slurm executor), trains them and streams the\n"
            "  results back. The token comes from $NMN_TOKEN or the file $NMN_TOKEN_FILE.\n"
            "  --jobs: jobs to run before exiting (default 1)\n"
            "  --reconnect-secs: how long to keep trying when nmnd is unreachable (default 300)\n"
            "  --heartbeat-secs: seconds between heartbeats (default 10)\n");
}

static int read_token(serve_t *s)
{
    const char *t = getenv("NMN_TOKEN"), *file = getenv("NMN_TOKEN_FILE");
    if (t && *t) {
        snprintf(s->token, sizeof s->token, "%s", t);
        unsetenv("NMN_TOKEN"); /* keep it out of anything we might start */
        return 0;
    }
    FILE *f = file && *file ? fopen(file, "r") : NULL;
    if (f == NULL) {
        say("no token: set NMN_TOKEN or NMN_TOKEN_FILE%s%s", file ? " (cannot read " : "", file ? file : "");
        return -1;
    }
    size_t n = fread(s->token, 1, sizeof s->token - 1, f);
    fclose(f);
    s->token[n] = 0;
    s->token[strcspn(s->token, "\r\n")] = 0;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    const char *C = "serve", *connect_to = NULL;
    long jobs = 1, reconnect = 300, heartbeat = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--connect") && strcmp(a, "--jobs") && strcmp(a, "--reconnect-secs") &&
            strcmp(a, "--heartbeat-secs")) {
            fprintf(stderr, "nmn-worker %s: unknown argument '%s'\n", C, a);
            usage(stderr);
            return 1;
        }
        if ((v = args_value(C, argc, argv, &i)) == NULL)
            return 1;
        if (strcmp(a, "--connect") == 0)
            connect_to = v;
        else if ((strcmp(a, "--jobs") == 0 && args_long(C, a, v, 1, 1000000, &jobs)) ||
                 (strcmp(a, "--reconnect-secs") == 0 && args_long(C, a, v, 0, 86400, &reconnect)) ||
                 (strcmp(a, "--heartbeat-secs") == 0 && args_long(C, a, v, 1, 3600, &heartbeat)))
            return 1;
    }
    serve_t s = {0};
    const char *colon = connect_to ? strrchr(connect_to, ':') : NULL;
    if (colon == NULL || colon == connect_to || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof s.port ||
        (size_t)(colon - connect_to) >= sizeof s.host) {
        fprintf(stderr, "nmn-worker %s: --connect HOST:PORT is required\n", C);
        return 1;
    }
    memcpy(s.host, connect_to, (size_t)(colon - connect_to));
    snprintf(s.port, sizeof s.port, "%s", colon + 1);
    if (read_token(&s))
        return 1;
    const char *alloc = getenv("SLURM_JOB_ID");
    snprintf(s.alloc, sizeof s.alloc, "%s", alloc ? alloc : "");
    gethostname(s.node, sizeof s.node - 1);
    s.reconnect_secs = (double)reconnect, s.heartbeat_secs = heartbeat, s.fd = -1;
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.quit_cv, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_stop);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    if (connect_hello(&s, 0))
        return 1;
    pthread_t hb;
    pthread_create(&hb, NULL, heartbeat_main, &s);

    int rc = 0;
    for (long done = 0; done < jobs && !stop_signal;) {
        wire_frame_t f;
        unsigned char *buf = NULL;
        if (send_msg(&s, json_pack("{s:s}", "type", "next"), NULL, 0) || read_reply(&s, &f, &buf) != 1) {
            if (connect_hello(&s, 0)) {
                rc = 1;
                break;
            }
            continue;
        }
        if (strcmp(f.type, "job")) {
            if (strcmp(f.type, "none"))
                say("unexpected reply '%s' to next", f.type), rc = 1;
            json_decref(f.msg);
            free(buf);
            break;
        }
        s.job_id = wire_int(f.msg, "job_id"), s.attempt_id = wire_int(f.msg, "attempt_id");
        const char *config = json_string_value(json_object_get(f.msg, "config"));
        job_hooks_t h = {&s, (int)wire_int(f.msg, "ckpt_every"), (double)wire_int(f.msg, "ckpt_secs"),
                         hook_batch, hook_checkpoint, hook_stop};
        char ckpt[4096] = "", outcome[16], *error = NULL;
        if (f.blob_len) { /* resume from nmnd's latest checkpoint */
            const char *tmp = getenv("TMPDIR");
            snprintf(ckpt, sizeof ckpt, "%s/nmn-worker-%d-in.ckpt", tmp && *tmp ? tmp : "/tmp", (int)getpid());
            FILE *out = fopen(ckpt, "wb");
            if (out == NULL || fwrite(f.blob, 1, f.blob_len, out) != f.blob_len)
                ckpt[0] = 0;
            if (out)
                fclose(out);
        }
        say("job %lld (attempt %lld)%s", (long long)s.job_id, (long long)s.attempt_id,
            f.blob_len ? ", resuming from nmnd's checkpoint" : "");
        if (config == NULL || s.job_id < 0 || s.attempt_id < 0 || h.ckpt_every < 1 || h.ckpt_secs < 1 ||
            (f.blob_len && !ckpt[0])) {
            strcpy(outcome, "failed");
            error = strdup("bad job message from nmnd (or no room for its checkpoint)");
        } else
            job_run(config, ckpt[0] ? ckpt : NULL, &h, outcome, &error);
        if (ckpt[0])
            unlink(ckpt);
        json_decref(f.msg);
        free(buf);
        if (!s.abandoned) {
            json_t *end = json_pack("{s:s, s:I, s:I, s:s}", "type", "end", "job_id", (json_int_t)s.job_id,
                                    "attempt_id", (json_int_t)s.attempt_id, "outcome", outcome);
            if (error)
                json_object_set_new(end, "error", json_string(error));
            if (send_msg(&s, end, NULL, 0))
                say("job %lld: could not report its end (%s); nmnd will requeue it", (long long)s.job_id, outcome);
            say("job %lld: %s%s%s", (long long)s.job_id, outcome, error ? ": " : "", error ? error : "");
            done++;
        }
        free(error);
        for (int i = 0; i < s.nframes; i++)
            free(s.frames[i].bytes);
        s.nframes = 0, s.abandoned = 0;
    }
    if (stop_signal)
        say("stopped by signal %d", (int)stop_signal);
    pthread_mutex_lock(&s.mu);
    s.quit = 1;
    pthread_cond_signal(&s.quit_cv);
    pthread_mutex_unlock(&s.mu);
    pthread_join(hb, NULL);
    if (s.fd >= 0)
        close(s.fd);
    free(s.frames);
    return rc;
}
