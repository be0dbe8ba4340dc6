/* slurm.c - the Slurm executor (slurm.h). */
#include "slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/durable.h"
#include "../common/wire.h"

#define TOKEN_HEX 64
#define HELLO_MAX_JSON 4096
#define MAX_GRACE 4096
#define SQUEUE_EVERY_S 5

extern char **environ;

typedef struct conn {
    uv_tcp_t tcp;
    struct slurm *s;
    unsigned char *buf;
    size_t len, cap;
    int authed, closing, jobs_started;
    char peer[64], alloc[64];
    int64_t alloc_id;          /* 0: a worker nmnd did not submit */
    int64_t job_id, attempt_id;/* -1: between jobs */
    char *last_ckpt;           /* the job's latest recorded checkpoint */
    uint64_t last_rx;          /* uv_now of the last frame */
    struct conn *next, **prevp;
} conn_t;

typedef struct grace {
    int64_t job_id, attempt_id;
    uint64_t deadline;
} grace_t;

/* One sbatch / squeue / scancel run on the thread pool. */
typedef struct cmd {
    uv_work_t work;
    struct slurm *s;
    char *argv[48];
    char **envp;
    char *input;
    char out[8192];
    int status;
    void (*done)(struct cmd *);
} cmd_t;

struct slurm {
    uv_loop_t *loop;
    store_t *store;
    slurm_opts_t o;
    slurm_apply_fn apply;
    slurm_log_fn log;
    void *ctx;
    uv_tcp_t listener;
    conn_t *conns;
    char token[TOKEN_HEX + 1], name[32], advertise[256];
    grace_t grace[MAX_GRACE];
    int ngrace, sbatch_running, squeue_running, stopping, accepting, open_handles;
    uint64_t backoff_until, backoff_ms, last_squeue;
    int64_t squeue_upto;       /* allocations the running squeue can judge */
    char refusal[512];         /* the cluster's last "no", for status */
};

/* --- small helpers ------------------------------------------------------------ */

/* Same length, and every byte compared whatever the earlier ones: the time
 * taken says nothing about how much of a guess was right. */
static int token_equal(const char *a, const char *b)
{
    if (strlen(b) != TOKEN_HEX)
        return 0;
    unsigned char diff = 0;
    for (int i = 0; i < TOKEN_HEX; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static int random_hex(char *out, int nhex)
{
    unsigned char raw[64];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, raw, (size_t)nhex / 2) : -1;
    if (fd >= 0)
        close(fd);
    if (n != nhex / 2)
        return -1;
    for (int i = 0; i < nhex / 2; i++)
        sprintf(out + 2 * i, "%02x", raw[i]);
    return 0;
}

/* Reads STATE_DIR/NAME, or creates it (mode 0600) with nhex random hex
 * digits: the token and the allocations' job name survive restarts, so
 * running workers can reconnect. */
static int load_secret(const char *dir, const char *name, char *out, int nhex, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(out, 1, (size_t)nhex, f);
        fclose(f);
        out[n] = 0;
        if ((int)n == nhex && strspn(out, "0123456789abcdef") == (size_t)nhex)
            return 0;
        snprintf(err, errlen, "%s: expected %d hex digits (delete it to make a new one)", path, nhex);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || random_hex(out, nhex) || write(fd, out, (size_t)nhex) != nhex || fsync(fd)) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* --- commands on the thread pool ---------------------------------------------- */

static void cmd_work(uv_work_t *w)
{
    cmd_t *c = w->data;
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    c->status = -1;
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
        snprintf(c->out, sizeof c->out, "pipe: %s", strerror(errno));
        goto done;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(c->out, sizeof c->out, "fork: %s", strerror(errno));
        goto done;
    }
    if (pid == 0) {
        dup2(in[0], 0), dup2(out[1], 1), dup2(out[1], 2);
        execvpe(c->argv[0], c->argv, c->envp ? c->envp : environ);
        dprintf(2, "cannot run %s: %s", c->argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]), close(out[1]);
    in[0] = out[1] = -1;
    if (c->input && write(in[1], c->input, strlen(c->input)) < 0)
        (void)0; /* the command's exit status tells */
    close(in[1]);
    in[1] = -1;
    size_t n = 0;
    ssize_t r;
    while ((r = read(out[0], c->out + n, sizeof c->out - 1 - n)) > 0 || (r < 0 && errno == EINTR))
        n += r > 0 ? (size_t)r : 0;
    c->out[n] = 0;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
done:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
}

static void cmd_after(uv_work_t *w, int status)
{
    (void)status;
    cmd_t *c = w->data;
    c->s->open_handles--;
    if (!c->s->stopping)
        c->done(c);
    for (int i = 0; c->argv[i]; i++)
        free(c->argv[i]);
    if (c->envp) {
        for (int i = 0; c->envp[i]; i++)
            free(c->envp[i]);
        free(c->envp);
    }
    free(c->input);
    if (c->s->stopping && c->s->open_handles == 0)
        free(c->s);
    free(c);
}

static cmd_t *cmd_new(slurm_t *s, void (*done)(cmd_t *))
{
    cmd_t *c = calloc(1, sizeof *c);
    if (c)
        c->s = s, c->done = done, c->work.data = c;
    return c;
}

static void cmd_arg(cmd_t *c, const char *fmt, const char *v)
{
    int i = 0;
    while (c->argv[i] && i < 46)
        i++;
    if (asprintf(&c->argv[i], fmt, v) < 0)
        c->argv[i] = NULL;
}

static void cmd_start(cmd_t *c)
{
    c->s->open_handles++;
    if (uv_queue_work(c->s->loop, &c->work, cmd_work, cmd_after)) {
        c->status = -1;
        snprintf(c->out, sizeof c->out, "cannot queue the command");
        cmd_after(&c->work, 0);
    }
}

/* --- allocations ---------------------------------------------------------------- */

static void sbatch_done(cmd_t *c)
{
    slurm_t *s = c->s;
    s->sbatch_running = 0;
    /* --parsable prints "ID" or "ID;cluster" on a line of its own; warnings
     * (on stderr, merged here) may come before it */
    long long id = 0;
    for (char *line = c->out; line && *line;) {
        char *end;
        long long v = strtoll(line, &end, 10);
        if (end != line && v > 0 && (*end == 0 || *end == ';' || *end == '\n'))
            id = v;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    if (c->status != 0 || id <= 0) {
        c->out[strcspn(c->out, "\n")] = 0;
        s->backoff_ms = s->backoff_ms ? (s->backoff_ms * 2 > 300000 ? 300000 : s->backoff_ms * 2) : 5000;
        s->backoff_until = uv_now(s->loop) + s->backoff_ms;
        snprintf(s->refusal, sizeof s->refusal, "sbatch refused (exit %d): %.400s; retrying in %llu s",
                 c->status, c->out, (unsigned long long)s->backoff_ms / 1000);
        s->log("warning: slurm: %s", s->refusal);
        return;
    }
    s->backoff_ms = 0, s->refusal[0] = 0;
    char sid[32], err[512];
    int64_t aid;
    snprintf(sid, sizeof sid, "%lld", id);
    if (store_alloc_add(s->store, sid, &aid, err, sizeof err))
        s->log("error: slurm: allocation %s: %s", sid, err);
    else
        s->log("slurm: submitted allocation %s", sid);
}

static void submit_allocation(slurm_t *s)
{
    cmd_t *c = cmd_new(s, sbatch_done);
    if (c == NULL)
        return;
    char sig[32], jobs[16], num[16];
    cmd_arg(c, "%s", "sbatch");
    cmd_arg(c, "%s", "--parsable");
    cmd_arg(c, "--job-name=%s", s->name);
    cmd_arg(c, "--output=%s", s->o.output);
    cmd_arg(c, "%s", "--export=ALL");
    snprintf(sig, sizeof sig, "B:USR1@%d", s->o.signal_secs);
    cmd_arg(c, "--signal=%s", sig);
    if (s->o.partition)
        cmd_arg(c, "--partition=%s", s->o.partition);
    if (s->o.account)
        cmd_arg(c, "--account=%s", s->o.account);
    if (s->o.time_limit)
        cmd_arg(c, "--time=%s", s->o.time_limit);
    for (int i = 0; i < s->o.n_sbatch_options; i++)
        cmd_arg(c, "%s", s->o.sbatch_options[i]);
    /* The batch shell gets --signal's USR1 (B:) and scancel's TERM, and
     * passes them on to the worker, which checkpoints and hands back. */
    snprintf(jobs, sizeof jobs, "%d", s->o.jobs_per_allocation);
    snprintf(num, sizeof num, "%d", s->o.port);
    if (asprintf(&c->input,
                 "#!/bin/sh\n"
                 "'%s' serve --connect '%s:%s' --jobs %s --reconnect-secs %d --heartbeat-secs %d &\n"
                 "pid=$!\n"
                 "trap 'kill -USR1 $pid' USR1\n"
                 "trap 'kill -TERM $pid' TERM\n"
                 "while :; do wait $pid; rc=$?; kill -0 $pid 2>/dev/null || exit $rc; done\n",
                 s->o.worker, s->advertise, num, jobs, s->o.reconnect_secs, s->o.heartbeat_secs) < 0)
        c->input = NULL;
    /* the token travels in the environment, never on a command line */
    int n = 0;
    while (environ[n])
        n++;
    c->envp = calloc((size_t)n + 2, sizeof *c->envp);
    for (int i = 0, j = 0; c->envp && i < n; i++)
        if (strncmp(environ[i], "NMN_TOKEN", 9))
            c->envp[j++] = strdup(environ[i]);
    if (c->envp) {
        int j = 0;
        while (c->envp[j])
            j++;
        if (asprintf(&c->envp[j], "NMN_TOKEN=%s", s->token) < 0)
            c->envp[j] = NULL;
    }
    s->sbatch_running = 1;
    cmd_start(c);
}

static conn_t *conn_of_alloc(slurm_t *s, int64_t alloc_id)
{
    for (conn_t *c = s->conns; c; c = c->next)
        if (c->alloc_id == alloc_id && c->authed)
            return c;
    return NULL;
}

/* squeue's view: retire allocations that are gone and never (or no
 * longer) hold a connection; note nodes. */
static void squeue_done(cmd_t *c)
{
    slurm_t *s = c->s;
    s->squeue_running = 0;
    if (c->status != 0) {
        c->out[strcspn(c->out, "\n")] = 0;
        s->log("warning: slurm: squeue failed (exit %d): %.300s", c->status, c->out);
        return;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s->store), "SELECT id, slurm_id, state FROM allocations "
                           "WHERE state != 'ended' AND id <= ?1", -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, s->squeue_upto); /* not those submitted after squeue looked */
    struct { int64_t id; char sid[32]; } gone[64];
    int ngone = 0;
    while (sqlite3_step(st) == SQLITE_ROW && ngone < 64) {
        const char *sid = (const char *)sqlite3_column_text(st, 1);
        char key[48];
        snprintf(key, sizeof key, "%s|", sid);
        const char *line = c->out;
        int found = 0;
        while (line && *line && !found) {
            found = strncmp(line, key, strlen(key)) == 0;
            line = strchr(line, '\n');
            line = line ? line + 1 : NULL;
        }
        if (!found && conn_of_alloc(s, sqlite3_column_int64(st, 0)) == NULL) {
            gone[ngone].id = sqlite3_column_int64(st, 0);
            snprintf(gone[ngone++].sid, sizeof gone[0].sid, "%s", sid);
        }
    }
    sqlite3_finalize(st);
    char err[512];
    for (int i = 0; i < ngone; i++) {
        if (store_alloc_set(s->store, gone[i].id, "ended", NULL, err, sizeof err))
            s->log("error: slurm: %s", err);
        else
            s->log("slurm: allocation %s has left the queue", gone[i].sid);
    }
}

static void poll_squeue(slurm_t *s)
{
    cmd_t *c = cmd_new(s, squeue_done);
    if (c == NULL)
        return;
    cmd_arg(c, "%s", "squeue");
    cmd_arg(c, "%s", "--noheader");
    cmd_arg(c, "--name=%s", s->name);
    cmd_arg(c, "%s", "--format=%i|%T|%N");
    s->squeue_running = 1;
    s->last_squeue = uv_now(s->loop);
    s->squeue_upto = store_query_int(s->store, "SELECT coalesce(max(id), 0) FROM allocations", 0);
    cmd_start(c);
}

static void scancel_done(cmd_t *c)
{
    if (c->status != 0) {
        c->out[strcspn(c->out, "\n")] = 0;
        c->s->log("warning: slurm: scancel failed (exit %d): %.300s", c->status, c->out);
    }
}

static void scancel(slurm_t *s, const char *sid)
{
    cmd_t *c = cmd_new(s, scancel_done);
    if (c == NULL)
        return;
    cmd_arg(c, "%s", "scancel");
    cmd_arg(c, "%s", sid);
    cmd_start(c);
}

/* --- connections ----------------------------------------------------------------- */

static void add_grace(slurm_t *s, int64_t job_id, int64_t attempt_id)
{
    if (s->ngrace < MAX_GRACE)
        s->grace[s->ngrace++] = (grace_t){job_id, attempt_id, uv_now(s->loop) + (uint64_t)s->o.grace_secs * 1000};
}

static void drop_grace(slurm_t *s, int64_t attempt_id)
{
    for (int i = 0; i < s->ngrace; i++)
        if (s->grace[i].attempt_id == attempt_id)
            s->grace[i--] = s->grace[--s->ngrace];
}

static void on_listener_closed(uv_handle_t *h)
{
    slurm_t *s = h->data;
    if (--s->open_handles == 0)
        free(s);
}

static void on_conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    slurm_t *s = c->s;
    free(c->buf), free(c->last_ckpt), free(c);
    if (--s->open_handles == 0 && s->stopping)
        free(s);
}

static void conn_close(conn_t *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = 1;
    slurm_t *s = c->s;
    if (why)
        s->log("slurm: connection %s%s%s%s closed: %s", c->peer, c->alloc[0] ? " (allocation " : "",
               c->alloc[0] ? c->alloc : "", c->alloc[0] ? ")" : "", why);
    if (c->job_id >= 0 && !s->stopping) {
        s->log("job %lld: its worker's connection is gone; %d s grace to reconnect", (long long)c->job_id,
               s->o.grace_secs);
        add_grace(s, c->job_id, c->attempt_id);
    }
    *c->prevp = c->next;
    if (c->next)
        c->next->prevp = c->prevp;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

typedef struct wreq {
    uv_write_t req;
    unsigned char *bytes;
} wreq_t;

static void on_written(uv_write_t *r, int status)
{
    (void)status; /* a failed write shows up as a closed connection */
    wreq_t *w = r->data;
    free(w->bytes), free(w);
}

static void send_msg(conn_t *c, json_t *msg, const void *blob, size_t n)
{
    size_t size;
    wreq_t *w = malloc(sizeof *w);
    unsigned char *bytes = msg && w ? wire_pack(msg, blob, n, &size) : NULL;
    json_decref(msg);
    if (bytes == NULL) {
        free(w);
        conn_close(c, "out of memory");
        return;
    }
    w->bytes = bytes, w->req.data = w;
    uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)size);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written)) {
        free(bytes), free(w);
        conn_close(c, "write failed");
    }
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long len;
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)len)) && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    if (p)
        *n = (size_t)len;
    if (f)
        fclose(f);
    return p;
}

/* hello: the token, then a fresh start or the resumption of an attempt. */
static void on_hello(conn_t *c, wire_frame_t *f)
{
    slurm_t *s = c->s;
    const char *tok = json_string_value(json_object_get(f->msg, "token"));
    if (strcmp(f->type, "hello") || tok == NULL || !token_equal(s->token, tok)) {
        s->log("warning: slurm: rejected connection %s: %s", c->peer,
               strcmp(f->type, "hello") ? "the first frame must be hello" : tok ? "wrong token" : "no token");
        conn_close(c, NULL);
        return;
    }
    c->authed = 1;
    const char *alloc = json_string_value(json_object_get(f->msg, "alloc"));
    const char *node = json_string_value(json_object_get(f->msg, "node"));
    snprintf(c->alloc, sizeof c->alloc, "%s", alloc ? alloc : "");
    char err[512];
    sqlite3_stmt *st;
    if (c->alloc[0] && sqlite3_prepare_v2(store_db(s->store), "SELECT id FROM allocations WHERE slurm_id = ?1",
                                          -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, c->alloc, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            c->alloc_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (c->alloc_id && store_alloc_set(s->store, c->alloc_id, "running", node, err, sizeof err))
        s->log("error: slurm: %s", err);
    int64_t job = wire_int(f->msg, "job_id"), attempt = wire_int(f->msg, "attempt_id");
    if (job < 0 || attempt < 0) {
        send_msg(c, json_pack("{s:s}", "type", "welcome"), NULL, 0);
        s->log("slurm: worker %s connected (allocation %s, node %s)", c->peer, c->alloc[0] ? c->alloc : "none",
               node ? node : "?");
        return;
    }
    if (store_query_int(s->store, "SELECT current_attempt FROM jobs WHERE id = ?1 AND state = 'running'", job) != attempt) {
        send_msg(c, json_pack("{s:s}", "type", "abandon"), NULL, 0);
        return;
    }
    /* one live connection per attempt: an older one is a half-dead duplicate */
    for (conn_t *o = s->conns; o; o = o->next)
        if (o != c && o->attempt_id == attempt)
            o->job_id = o->attempt_id = -1, conn_close(o, "superseded by a reconnection");
    drop_grace(s, attempt);
    c->job_id = job, c->attempt_id = attempt;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(store_db(s->store), "SELECT checkpoint_path FROM jobs WHERE id = ?1", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, job);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
            c->last_ckpt = strdup((const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    int64_t stored = store_query_int(s->store, "SELECT episodes_done FROM jobs WHERE id = ?1", job);
    if (c->alloc_id)
        store_attempt_set_allocation(s->store, attempt, c->alloc_id, err, sizeof err);
    s->log("job %lld: worker %s reconnected; resuming attempt %lld at %lld stored episodes", (long long)job,
           c->peer, (long long)attempt, (long long)stored);
    send_msg(c, json_pack("{s:s, s:I}", "type", "resume", "stored", (json_int_t)stored), NULL, 0);
}

static void on_next(conn_t *c, int accepting)
{
    slurm_t *s = c->s;
    char err[512];
    store_claim_t cl;
    int rc = 0;
    if (c->job_id >= 0) {
        conn_close(c, "asked for a job while running one");
        return;
    }
    if (accepting && (c->alloc_id == 0 || c->jobs_started < s->o.jobs_per_allocation))
        rc = store_claim_next(s->store, "slurm", &cl, err, sizeof err);
    if (rc < 0)
        s->log("error: %s", err);
    if (rc <= 0) {
        send_msg(c, json_pack("{s:s}", "type", "none"), NULL, 0);
        return;
    }
    size_t n = 0;
    char *blob = cl.checkpoint_path ? read_file(cl.checkpoint_path, &n) : NULL;
    if (cl.checkpoint_path && blob == NULL) { /* the worker would start over: refuse, as locally */
        pool_msg_t m = {.type = POOL_END, .job_id = cl.job_id, .attempt_id = cl.attempt_id};
        snprintf(m.outcome, sizeof m.outcome, "failed");
        char msg[4352];
        snprintf(msg, sizeof msg, "%s: cannot read the checkpoint", cl.checkpoint_path);
        m.error = msg;
        s->apply(s->ctx, &m);
        store_claim_free(&cl);
        on_next(c, accepting);
        return;
    }
    if (c->alloc_id)
        store_attempt_set_allocation(s->store, cl.attempt_id, c->alloc_id, err, sizeof err);
    c->jobs_started++;
    c->job_id = cl.job_id, c->attempt_id = cl.attempt_id;
    free(c->last_ckpt);
    c->last_ckpt = cl.checkpoint_path ? strdup(cl.checkpoint_path) : NULL;
    s->log("job %lld: attempt %lld on allocation %s (%s)%s", (long long)cl.job_id, (long long)cl.attempt_id,
           c->alloc[0] ? c->alloc : "none", c->peer, blob ? ", resuming from its checkpoint" : "");
    send_msg(c, json_pack("{s:s, s:I, s:I, s:s, s:i, s:i}", "type", "job", "job_id", (json_int_t)cl.job_id,
                          "attempt_id", (json_int_t)cl.attempt_id, "config", cl.config_json,
                          "ckpt_every", s->o.ckpt_every, "ckpt_secs", s->o.ckpt_secs),
             blob, n);
    free(blob);
    store_claim_free(&cl);
}

/* Reads one number of a JSON array; 0 if it is not a number. */
static int num_at(json_t *a, size_t i, double *v)
{
    json_t *x = json_array_get(a, i);
    if (!json_is_number(x))
        return 0;
    *v = json_number_value(x);
    return 1;
}

static int on_batch(conn_t *c, wire_frame_t *f)
{
    json_t *eps = json_object_get(f->msg, "episodes"), *it = json_object_get(f->msg, "it");
    size_t n = json_array_size(eps);
    if (!json_is_array(eps) || n == 0 || n > 100000 || !json_is_array(it) || json_array_size(it) != 11)
        return -1;
    pool_msg_t m = {.type = POOL_BATCH, .job_id = c->job_id, .attempt_id = c->attempt_id, .n = (int)n};
    m.eps = malloc(sizeof *m.eps * n);
    double v[11];
    int ok = m.eps != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *row = json_array_get(eps, i);
        double e, r, h, b;
        ok = json_is_array(row) && json_array_size(row) == 4 && num_at(row, 0, &e) && num_at(row, 1, &r) &&
             num_at(row, 2, &h) && num_at(row, 3, &b) && e >= 0 && e < 1e15;
        if (ok)
            m.eps[i] = (store_episode_t){(int64_t)e, r, (int)h, (int)b};
    }
    for (int i = 0; ok && i < 11; i++)
        ok = num_at(it, (size_t)i, &v[i]);
    if (ok) {
        m.it = (store_iteration_t){(int64_t)v[0], (int64_t)v[1], v[2], v[3], v[4], (int)v[5], v[6], v[7],
                                   v[8], v[9], v[10]};
        c->s->apply(c->s->ctx, &m);
    }
    free(m.eps);
    return ok ? 0 : -1;
}

/* Writes the checkpoint durably under its own name, then records it. */
static int on_checkpoint(conn_t *c, wire_frame_t *f)
{
    slurm_t *s = c->s;
    int64_t ep = wire_int(f->msg, "episode");
    if (ep < 0 || f->blob_len == 0)
        return -1;
    char path[4096], err[4352];
    snprintf(path, sizeof path, "%s/job-%lld-e%lld.ckpt", s->o.ckpt_dir, (long long)c->job_id, (long long)ep);
    if (c->last_ckpt && strcmp(c->last_ckpt, path) == 0)
        return 0;
    if (durable_write(path, f->blob, f->blob_len, err, sizeof err)) {
        s->log("error: job %lld: checkpoint %s", (long long)c->job_id, err);
        return 0; /* the job goes on; the next checkpoint may succeed */
    }
    pool_msg_t m = {.type = POOL_CHECKPOINT, .job_id = c->job_id, .attempt_id = c->attempt_id,
                    .path = path, .prev_path = c->last_ckpt, .episode = ep};
    s->apply(s->ctx, &m);
    free(c->last_ckpt);
    c->last_ckpt = strdup(path);
    return 0;
}

static int on_end(conn_t *c, wire_frame_t *f)
{
    const char *outcome = json_string_value(json_object_get(f->msg, "outcome"));
    const char *error = json_string_value(json_object_get(f->msg, "error"));
    if (outcome == NULL || (strcmp(outcome, "done") && strcmp(outcome, "failed") &&
                            strcmp(outcome, "cancelled") && strcmp(outcome, "requeued")))
        return -1;
    pool_msg_t m = {.type = POOL_END, .job_id = c->job_id, .attempt_id = c->attempt_id};
    snprintf(m.outcome, sizeof m.outcome, "%s", outcome);
    m.error = (char *)error;
    c->s->apply(c->s->ctx, &m);
    c->job_id = c->attempt_id = -1;
    free(c->last_ckpt);
    c->last_ckpt = NULL;
    return 0;
}

static void on_frame(conn_t *c, wire_frame_t *f)
{
    if (!c->authed) {
        on_hello(c, f);
        return;
    }
    int bad = 0;
    if (strcmp(f->type, "heartbeat") == 0)
        return;
    if (strcmp(f->type, "next") == 0) {
        on_next(c, c->s->accepting && !c->s->stopping);
        return;
    }
    int64_t job = wire_int(f->msg, "job_id"), attempt = wire_int(f->msg, "attempt_id");
    if (c->job_id < 0 || job != c->job_id || attempt != c->attempt_id)
        bad = 1;
    else if (strcmp(f->type, "batch") == 0)
        bad = on_batch(c, f);
    else if (strcmp(f->type, "checkpoint") == 0)
        bad = on_checkpoint(c, f);
    else if (strcmp(f->type, "end") == 0)
        bad = on_end(c, f);
    else
        bad = 1;
    if (bad) {
        char why[128];
        snprintf(why, sizeof why, "malformed or unexpected '%.40s' frame", f->type);
        conn_close(c, why);
    }
}

static void on_alloc_buf(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    conn_t *c = h->data;
    if (c->cap - c->len < suggested) {
        size_t cap = c->cap ? c->cap : 65536;
        while (cap - c->len < suggested)
            cap *= 2;
        unsigned char *nb = realloc(c->buf, cap);
        if (nb == NULL) {
            b->base = NULL, b->len = 0;
            return;
        }
        c->buf = nb, c->cap = cap;
    }
    b->base = (char *)c->buf + c->len;
    b->len = c->cap - c->len;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    conn_t *c = st->data;
    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? "closed by the worker" : uv_strerror((int)nread));
        return;
    }
    c->len += (size_t)nread;
    c->last_rx = uv_now(c->s->loop); /* a long checkpoint upload is a sign of life too */
    size_t off = 0;
    while (!c->closing) {
        wire_frame_t f;
        char err[256];
        /* before hello: a small JSON object and no blob */
        int rc = wire_parse(c->buf + off, c->len - off, c->authed ? WIRE_MAX_JSON : HELLO_MAX_JSON,
                            c->authed ? WIRE_MAX_BLOB : 0, &f, err, sizeof err);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (!c->authed)
                c->s->log("warning: slurm: rejected connection %s: %s", c->peer, err);
            conn_close(c, c->authed ? err : NULL);
            return;
        }
        on_frame(c, &f);
        json_decref(f.msg);
        off += f.size;
    }
    if (!c->closing) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
        if (!c->authed && c->len > HELLO_MAX_JSON + WIRE_HEADER) {
            c->s->log("warning: slurm: rejected connection %s: too much data before hello", c->peer);
            conn_close(c, NULL);
        }
    }
}

static void on_connection(uv_stream_t *l, int status)
{
    slurm_t *s = l->data;
    if (status < 0 || s->stopping)
        return;
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->s = s, c->job_id = c->attempt_id = -1, c->last_rx = uv_now(s->loop);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    s->open_handles++;
    c->next = s->conns, c->prevp = &s->conns;
    if (s->conns)
        s->conns->prevp = &c->next;
    s->conns = c;
    struct sockaddr_storage sa;
    int len = sizeof sa;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0 &&
        uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0) {
        char ip[48] = "?";
        int port = 0;
        if (sa.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip), port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        else if (sa.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip), port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc_buf, on_read))
        conn_close(c, "cannot read");
}

/* --- the executor ---------------------------------------------------------------- */

slurm_t *slurm_start(uv_loop_t *loop, store_t *store, const slurm_opts_t *o, slurm_apply_fn apply,
                     slurm_log_fn log, void *ctx, char *err, size_t errlen)
{
    slurm_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop, s->store = store, s->o = *o, s->apply = apply, s->log = log, s->ctx = ctx;
    s->accepting = 1;
    char name[17];
    if (load_secret(o->state_dir, "slurm-token", s->token, TOKEN_HEX, err, errlen) ||
        load_secret(o->state_dir, "slurm-name", name, 8, err, errlen)) {
        free(s);
        return NULL;
    }
    snprintf(s->name, sizeof s->name, "nmnd-%s", name);
    if (o->advertise)
        snprintf(s->advertise, sizeof s->advertise, "%s", o->advertise);
    else if (strcmp(o->listen, "0.0.0.0") && strcmp(o->listen, "::"))
        snprintf(s->advertise, sizeof s->advertise, "%s", o->listen);
    else
        gethostname(s->advertise, sizeof s->advertise - 1);
    struct sockaddr_storage sa;
    int rc = strchr(o->listen, ':') ? uv_ip6_addr(o->listen, o->port, (struct sockaddr_in6 *)&sa)
                                    : uv_ip4_addr(o->listen, o->port, (struct sockaddr_in *)&sa);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->open_handles = 1;
    if (rc == 0)
        rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 64, on_connection);
    if (rc) {
        snprintf(err, errlen, "slurm: cannot listen on %s port %d: %s", o->listen, o->port, uv_strerror(rc));
        s->stopping = 1;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        return NULL;
    }
    /* attempts a previous nmnd left running: their workers may come back */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(store), "SELECT j.id, j.current_attempt FROM jobs j JOIN attempts a "
                           "ON a.id = j.current_attempt WHERE j.state = 'running' AND a.executor = 'slurm'",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            add_grace(s, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
        sqlite3_finalize(st);
    }
    if (s->ngrace)
        log("slurm: %d job(s) were running on Slurm; their workers have %d s to reconnect", s->ngrace,
            o->grace_secs);
    log("slurm: listening on %s port %d (workers dial %s); allocations named %s", o->listen, o->port,
        s->advertise, s->name);
    return s;
}

static void end_lost(slurm_t *s, const grace_t *g)
{
    if (store_query_int(s->store, "SELECT current_attempt FROM jobs WHERE id = ?1 AND state = 'running'", g->job_id) !=
        g->attempt_id)
        return;
    pool_msg_t m = {.type = POOL_END, .job_id = g->job_id, .attempt_id = g->attempt_id};
    snprintf(m.outcome, sizeof m.outcome, "lost");
    m.error = "the worker's connection was lost and it did not come back within the grace period";
    s->apply(s->ctx, &m);
}

void slurm_tick(slurm_t *s, int accepting)
{
    uint64_t now = uv_now(s->loop);
    s->accepting = accepting;
    for (int i = 0; i < s->ngrace; i++)
        if (s->grace[i].deadline <= now) {
            grace_t g = s->grace[i];
            s->grace[i--] = s->grace[--s->ngrace];
            end_lost(s, &g);
        }
    /* a worker silent for three heartbeats is gone, even if TCP has not noticed */
    for (conn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (!c->closing && now - c->last_rx > (uint64_t)s->o.heartbeat_secs * 3000)
            conn_close(c, "no heartbeat");
    }
    if (!s->squeue_running && now - s->last_squeue >= SQUEUE_EVERY_S * 1000 &&
        store_query_int(s->store, "SELECT count(*) FROM allocations WHERE state != 'ended'", 0) > 0)
        poll_squeue(s);
    if (!accepting || s->sbatch_running || now < s->backoff_until)
        return;
    int64_t queued = store_query_int(s->store, "SELECT count(*) FROM jobs WHERE state = 'queued'", 0);
    int64_t pending = store_query_int(s->store, "SELECT count(*) FROM allocations WHERE state = 'pending'", 0);
    int64_t live = store_query_int(s->store, "SELECT count(*) FROM allocations WHERE state != 'ended'", 0);
    if (queued > pending * s->o.jobs_per_allocation && live < s->o.max_allocations)
        submit_allocation(s);
}

int slurm_cancel_job(slurm_t *s, int64_t job_id)
{
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(store_db(s->store), "SELECT al.slurm_id FROM jobs j JOIN attempts a ON "
                           "a.id = j.current_attempt JOIN allocations al ON al.id = a.allocation_id "
                           "WHERE j.id = ?1 AND j.state = 'running'", -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, job_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        s->log("job %lld: cancelled; scancel %s", (long long)job_id, (const char *)sqlite3_column_text(st, 0));
        scancel(s, (const char *)sqlite3_column_text(st, 0));
        found = 1;
    }
    sqlite3_finalize(st);
    /* the attempt ends now; whatever the worker still sends is stale */
    int64_t attempt = store_query_int(s->store, "SELECT current_attempt FROM jobs WHERE id = ?1 AND state = 'running'", job_id);
    if (attempt > 0) {
        pool_msg_t m = {.type = POOL_END, .job_id = job_id, .attempt_id = attempt};
        snprintf(m.outcome, sizeof m.outcome, "cancelled");
        s->apply(s->ctx, &m);
        drop_grace(s, attempt);
        for (conn_t *c = s->conns; c; c = c->next)
            if (c->attempt_id == attempt)
                c->job_id = c->attempt_id = -1;
        found = 1;
    }
    return found;
}

json_t *slurm_status(slurm_t *s)
{
    int n = 0;
    for (conn_t *c = s->conns; c; c = c->next)
        n += c->authed;
    return json_pack("{s:s, s:I, s:I, s:i, s:i, s:s}", "executor", "slurm",
                     "pending", (json_int_t)store_query_int(s->store, "SELECT count(*) FROM allocations WHERE state = 'pending'", 0),
                     "running", (json_int_t)store_query_int(s->store, "SELECT count(*) FROM allocations WHERE state = 'running'", 0),
                     "workers", n, "reconnecting", s->ngrace, "refusal", s->refusal);
}

void slurm_stop(slurm_t *s)
{
    s->stopping = 1;
    while (s->conns)
        conn_close(s->conns, NULL);
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}
