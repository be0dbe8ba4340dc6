/* nmnd - the farm's daemon: queues jobs in SQLite and runs them on a pool
 * of worker threads.
 *
 * DESIGN. One libuv loop thread owns the store (the only SQLite writer),
 * the control socket, the timers and the signals. N worker threads each run
 * one job at a time and never touch the store: after every iteration they
 * post the episodes and diagnostics (and, every few iterations or minutes,
 * a checkpoint written to its own file, fsynced and renamed) to a queue
 * that the loop drains on uv_async. The loop writes each batch in one
 * transaction, records a checkpoint only after its file is durable (then
 * deletes the one it replaces), and claims queued jobs for idle workers.
 * Exactly once: each run of a job is an attempt; only the current attempt
 * may write, and episodes already stored are ignored (store.h).
 * Crash: on start, jobs left running go back to the queue and resume from
 * their last recorded checkpoint. SIGTERM/SIGINT: stop accepting work,
 * workers checkpoint at their next iteration boundary and requeue, exit 0.
 * With --executor slurm there are no worker threads: slurm.c runs jobs in
 * sbatch allocations whose workers connect back over TCP, and hands their
 * results to the same apply() on this thread. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <uv.h>

#include "../common/config.h"
#include "../common/store.h"
#include "../worker/nn/ops.h"
#include "options.h"
#include "pool.h"
#include "server.h"
#include "slurm.h"

#define MAX_JOBS_PER_SWEEP 100000

typedef struct daemon_state {
    uv_loop_t loop;
    store_t *store;
    pool_t *pool;
    server_t *server;
    slurm_t *slurm; /* the Slurm executor, or NULL */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t tick, stop_timer;
    int paused, stopping, max_attempts;
    char status[256];
    const char *log_path; /* NULL: stderr (the journal under systemd) */
} daemon_t;

enum { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
static int log_level = LOG_INFO;

/* Every message is info, but for the ones marked: "error: ...", "warning:
 * ...", "debug: ..." carry their level in their first word. */
static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    int level = strncmp(fmt, "error", 5) == 0     ? LOG_ERROR
                : strncmp(fmt, "warning", 7) == 0 ? LOG_WARN
                : strncmp(fmt, "debug", 5) == 0   ? LOG_DEBUG
                                                  : LOG_INFO;
    if (level > log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nmnd: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Claims queued jobs for idle workers. */
static void schedule(daemon_t *d)
{
    char err[512];
    int w;
    while (!d->paused && !d->stopping && (w = pool_idle_worker(d->pool)) >= 0) {
        store_claim_t c;
        int rc = store_claim_next(d->store, "local", &c, err, sizeof err);
        if (rc < 0)
            logmsg("error: %s", err);
        if (rc <= 0)
            return;
        logmsg("job %lld: attempt %lld on worker %d%s%s", (long long)c.job_id,
               (long long)c.attempt_id, w, c.checkpoint_path ? ", resuming from " : "",
               c.checkpoint_path ? c.checkpoint_path : "");
        pool_run(d->pool, w, &c);
    }
}

static void finish_shutdown(daemon_t *d);

/* Applies the workers' results, oldest first, on the loop thread. */
static void apply(daemon_t *d, pool_msg_t *m)
{
    char err[512];
    int rc = 0, n;
    switch (m->type) {
    case POOL_BATCH:
        rc = store_put_batch(d->store, m->job_id, m->attempt_id, m->eps, m->n, &m->it, &n, err, sizeof err);
        if (rc == 0)
            logmsg("debug: job %lld: iteration %lld, %d new episode rows, kl %.4g", (long long)m->job_id,
                   (long long)m->it.iteration, n, m->it.kl);
        break;
    case POOL_CHECKPOINT:
        rc = store_put_checkpoint(d->store, m->job_id, m->attempt_id, m->path, m->episode, err, sizeof err);
        if (rc == 0 && m->prev_path)
            unlink(m->prev_path);
        if (rc == STORE_STALE)
            unlink(m->path);
        break;
    case POOL_END: {
        const char *outcome = m->outcome;
        if (strcmp(outcome, "failed") == 0 &&
            store_query_int(d->store, "SELECT attempts FROM jobs WHERE id = ?1", m->job_id) < d->max_attempts)
            outcome = "requeued"; /* tried again, the error kept in jobs.error */
        rc = store_end_attempt(d->store, m->job_id, m->attempt_id, outcome, m->error, err, sizeof err);
        logmsg("job %lld: attempt %lld %s%s%s", (long long)m->job_id, (long long)m->attempt_id,
               m->outcome, m->error ? ": " : "", m->error ? m->error : "");
        break;
    }
    }
    if (rc == STORE_STALE)
        logmsg("job %lld: dropped a late result of superseded attempt %lld", (long long)m->job_id,
               (long long)m->attempt_id);
    else if (rc < 0)
        logmsg("error: job %lld: %s", (long long)m->job_id, err);
}

static void slurm_apply(void *ctx, pool_msg_t *m)
{
    apply(ctx, m);
}

static void on_results(uv_async_t *a)
{
    pool_t *p = a->data;
    daemon_t *d = pool_data(p);
    pool_msg_t *m = pool_take(p);
    while (m) {
        pool_msg_t *next = m->next;
        apply(d, m);
        pool_msg_free(m);
        m = next;
    }
    if (d->stopping && pool_busy(d->pool) == 0)
        finish_shutdown(d);
    else
        schedule(d);
}

/* STATUS= for systemd, sent when it changes: one query per tick. */
static void update_status(daemon_t *d)
{
    sqlite3_stmt *st;
    long long c[4] = {0, 0, 0, 0};
    if (sqlite3_prepare_v2(store_db(d->store),
                           "SELECT coalesce(sum(state = 'running'), 0), coalesce(sum(state = 'queued'), 0), "
                           "coalesce(sum(state = 'done'), 0), coalesce(sum(state = 'failed'), 0) FROM jobs",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    if (sqlite3_step(st) == SQLITE_ROW)
        for (int i = 0; i < 4; i++)
            c[i] = sqlite3_column_int64(st, i);
    sqlite3_finalize(st);
    char s[256];
    snprintf(s, sizeof s, "running %lld, queued %lld, done %lld, failed %lld%s", c[0], c[1], c[2], c[3],
             d->paused ? " (paused)" : "");
    if (strcmp(s, d->status)) {
        memcpy(d->status, s, sizeof s);
        sd_notifyf(0, "STATUS=%s", s);
    }
}

static void on_tick(uv_timer_t *t)
{
    daemon_t *d = t->data;
    uint64_t usec;
    if (sd_watchdog_enabled(0, &usec) > 0)
        sd_notify(0, "WATCHDOG=1");
    update_status(d);
    if (d->slurm)
        slurm_tick(d->slurm, !d->paused && !d->stopping);
    schedule(d);
}

static void begin_shutdown(daemon_t *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    logmsg("%s: stopping; running jobs checkpoint and return to the queue", why);
    sd_notify(0, "STOPPING=1");
    server_stop(d->server);
    if (d->slurm) /* its workers keep training and reconnect to the next nmnd */
        slurm_stop(d->slurm), d->slurm = NULL;
    pool_stop_all(d->pool, "requeued");
    if (pool_busy(d->pool) == 0)
        finish_shutdown(d);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void finish_shutdown(daemon_t *d)
{
    if (d->pool == NULL)
        return;
    pool_free(d->pool);
    d->pool = NULL;
    close_handle((uv_handle_t *)&d->tick);
    close_handle((uv_handle_t *)&d->stop_timer);
    close_handle((uv_handle_t *)&d->sig_term);
    close_handle((uv_handle_t *)&d->sig_int);
    close_handle((uv_handle_t *)&d->sig_hup);
}

static void on_signal(uv_signal_t *s, int signum)
{
    daemon_t *d = s->data;
    if (signum == SIGHUP) { /* after logrotate: a fresh file at the same path */
        if (d->log_path && freopen(d->log_path, "a", stderr) == NULL)
            return; /* nowhere left to say it */
        setvbuf(stderr, NULL, _IOLBF, 0);
        logmsg("SIGHUP: log %s", d->log_path ? "reopened" : "is stderr; nothing to reopen");
        return;
    }
    begin_shutdown(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_stop_timer(uv_timer_t *t)
{
    begin_shutdown(t->data, "shutdown request");
}

/* --- requests ------------------------------------------------------------- */

static json_t *err_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *err_reply(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *ok_reply(void)
{
    return json_pack("{s:b}", "ok", 1);
}

static json_t *do_submit(daemon_t *d, json_t *req)
{
    json_t *name = json_object_get(req, "name"), *yaml = json_object_get(req, "yaml");
    json_t *jobs = json_object_get(req, "jobs");
    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 256)
        return err_reply("submit: \"name\" must be a string of 1 to 256 characters");
    if (yaml && !json_is_string(yaml))
        return err_reply("submit: \"yaml\" must be a string");
    if (!json_is_array(jobs) || json_array_size(jobs) == 0 ||
        json_array_size(jobs) > MAX_JOBS_PER_SWEEP)
        return err_reply("submit: \"jobs\" must be an array of 1 to %d job configs", MAX_JOBS_PER_SWEEP);
    size_t n = json_array_size(jobs);
    store_job_t *sj = calloc(n, sizeof *sj);
    char (*hash)[17] = calloc(n, 17), **text = calloc(n, sizeof *text);
    json_t *reply = NULL;
    for (size_t i = 0; sj && hash && text && i < n && !reply; i++) {
        json_t *o = json_array_get(jobs, i);
        char err[512], *over = json_is_object(o) ? json_dumps(o, JSON_COMPACT) : NULL;
        job_config_t c;
        config_defaults(&c);
        if (over == NULL)
            reply = err_reply("submit: job %zu: a job is an object of config keys", i);
        else if (config_apply_json(&c, over, err, sizeof err) || config_check(&c, err, sizeof err))
            reply = err_reply("submit: job %zu: %s", i, err);
        free(over);
        if (reply)
            break;
        text[i] = malloc(4096);
        config_to_json(&c, text[i], 4096);
        snprintf(hash[i], 17, "%016llx", (unsigned long long)config_hash(&c));
        sj[i] = (store_job_t){text[i], hash[i], config_bench(&c)->name,
                              c.arch ? "rnn" : "nmn", c.seed, c.episodes, 0};
        json_t *prio = json_object_get(req, "priority");
        if (json_is_integer(prio))
            sj[i].priority = (int)json_integer_value(prio);
    }
    if (reply == NULL && (sj == NULL || hash == NULL || text == NULL))
        reply = err_reply("submit: out of memory");
    if (reply == NULL) {
        int64_t sweep;
        int fresh;
        char err[512];
        if (store_insert_sweep(d->store, json_string_value(name), yaml ? json_string_value(yaml) : "",
                               sj, (int)n, &sweep, &fresh, err, sizeof err))
            reply = err_reply("submit: %s", err);
        else {
            logmsg("sweep %lld '%s': %zu jobs, %d new", (long long)sweep, json_string_value(name), n, fresh);
            reply = json_pack("{s:b, s:I, s:I, s:i, s:I}", "ok", 1, "sweep_id", (json_int_t)sweep,
                              "jobs", (json_int_t)n, "new", fresh, "existing", (json_int_t)(n - (size_t)fresh));
            schedule(d);
        }
    }
    for (size_t i = 0; text && i < n; i++)
        free(text[i]);
    free(text), free(hash), free(sj);
    return reply;
}

static json_t *do_status(daemon_t *d)
{
    json_t *r = json_pack("{s:b, s:b, s:b}", "ok", 1, "paused", d->paused, "stopping", d->stopping);
    json_t *jobs = json_object(), *sweeps = json_array(), *running = json_array();
    sqlite3_stmt *st;
    sqlite3 *db = store_db(d->store);
    if (sqlite3_prepare_v2(db, "SELECT state, count(*) FROM jobs GROUP BY state", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            json_object_set_new(jobs, (const char *)sqlite3_column_text(st, 0),
                                json_integer(sqlite3_column_int64(st, 1)));
        sqlite3_finalize(st);
    }
    if (sqlite3_prepare_v2(db, "SELECT s.id, s.name, count(*), sum(j.state = 'done'), sum(j.episodes_done), "
                               "sum(j.episodes) FROM sweeps s JOIN sweep_jobs sj ON sj.sweep_id = s.id "
                               "JOIN jobs j ON j.id = sj.job_id GROUP BY s.id ORDER BY s.id", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(sweeps, json_pack("{s:I, s:s, s:I, s:I, s:I, s:I}",
                "id", (json_int_t)sqlite3_column_int64(st, 0), "name", (const char *)sqlite3_column_text(st, 1),
                "jobs", (json_int_t)sqlite3_column_int64(st, 2), "done", (json_int_t)sqlite3_column_int64(st, 3),
                "episodes_done", (json_int_t)sqlite3_column_int64(st, 4),
                "episodes", (json_int_t)sqlite3_column_int64(st, 5)));
        sqlite3_finalize(st);
    }
    if (sqlite3_prepare_v2(db, "SELECT id, benchmark, arch, seed, episodes_done, episodes, attempts FROM jobs "
                               "WHERE state = 'running' ORDER BY id", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(running, json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I}",
                "job", (json_int_t)sqlite3_column_int64(st, 0), "benchmark", (const char *)sqlite3_column_text(st, 1),
                "arch", (const char *)sqlite3_column_text(st, 2), "seed", (json_int_t)sqlite3_column_int64(st, 3),
                "episodes_done", (json_int_t)sqlite3_column_int64(st, 4),
                "episodes", (json_int_t)sqlite3_column_int64(st, 5), "attempts", (json_int_t)sqlite3_column_int64(st, 6)));
        sqlite3_finalize(st);
    }
    json_object_set_new(r, "jobs", jobs);
    json_object_set_new(r, "sweeps", sweeps);
    json_object_set_new(r, "running", running);
    if (d->slurm)
        json_object_set_new(r, "slurm", slurm_status(d->slurm));
    return r;
}

/* cancel / retry of one job or of every job of a sweep */
static json_t *do_jobs(daemon_t *d, json_t *req, const char *method)
{
    json_t *job = json_object_get(req, "job"), *sweep = json_object_get(req, "sweep");
    if ((job == NULL) == (sweep == NULL) || (job && !json_is_integer(job)) || (sweep && !json_is_integer(sweep)))
        return err_reply("%s: give exactly one of \"job\" or \"sweep\", an integer id", method);
    sqlite3_stmt *st;
    const char *sql = job ? "SELECT id, state FROM jobs WHERE id = ?1"
                          : "SELECT j.id, j.state FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = ?1";
    if (sqlite3_prepare_v2(store_db(d->store), sql, -1, &st, NULL) != SQLITE_OK)
        return err_reply("%s: %s", method, sqlite3_errmsg(store_db(d->store)));
    sqlite3_bind_int64(st, 1, json_integer_value(job ? job : sweep));
    /* collect first: the changes below must not race the cursor */
    struct { int64_t id; int running; } *rows = NULL;
    int n = 0, cap = 0, changed = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            void *grown = realloc(rows, sizeof *rows * (size_t)(cap = cap ? 2 * cap : 64));
            if (grown == NULL)
                break;
            rows = grown;
        }
        rows[n].id = sqlite3_column_int64(st, 0);
        rows[n].running = strcmp((const char *)sqlite3_column_text(st, 1), "running") == 0;
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0) {
        free(rows);
        return err_reply("%s: no %s %lld", method, job ? "job" : "sweep",
                         (long long)json_integer_value(job ? job : sweep));
    }
    char err[512];
    for (int i = 0; i < n; i++) {
        if (strcmp(method, "cancel") == 0)
            changed += rows[i].running ? (d->slurm ? slurm_cancel_job(d->slurm, rows[i].id)
                                                   : pool_stop_job(d->pool, rows[i].id, "cancelled"))
                                       : store_cancel_queued(d->store, rows[i].id, err, sizeof err) > 0;
        else
            changed += store_retry(d->store, rows[i].id, err, sizeof err) > 0;
    }
    free(rows);
    schedule(d);
    return json_pack("{s:b, s:i, s:i}", "ok", 1, "jobs", n, "changed", changed);
}

static json_t *handle(void *ctx, json_t *req)
{
    daemon_t *d = ctx;
    const char *m = json_string_value(json_object_get(req, "method"));
    if (d->stopping && strcmp(m, "status"))
        return err_reply("nmnd is shutting down");
    if (strcmp(m, "status") == 0)
        return do_status(d);
    if (strcmp(m, "submit") == 0)
        return do_submit(d, req);
    if (strcmp(m, "cancel") == 0 || strcmp(m, "retry") == 0)
        return do_jobs(d, req, m);
    if (strcmp(m, "pause") == 0 || strcmp(m, "resume") == 0) {
        d->paused = strcmp(m, "pause") == 0;
        logmsg("queue %s", d->paused ? "paused (running jobs go on)" : "resumed");
        schedule(d);
        update_status(d);
        return ok_reply();
    }
    if (strcmp(m, "shutdown") == 0) {
        uv_timer_start(&d->stop_timer, on_stop_timer, 10, 0); /* after this reply is sent */
        return ok_reply();
    }
    char shown[64];
    snprintf(shown, sizeof shown, "%.40s", m);
    return err_reply("unknown method '%s' (status|submit|cancel|retry|pause|resume|shutdown)", shown);
}

/* --- start-up --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    nmnd_opts_t o;
    char err[1024];
    options_defaults(&o);
    for (int i = 1; i < argc; i++) /* --config first: flags override it */
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && options_load(&o, argv[i + 1], err, sizeof err)) {
            fprintf(stderr, "nmnd: %s\n", err);
            return 1;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            options_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--foreground") == 0)
            continue; /* nmnd never forks: systemd and tests keep it in front */
        if (strncmp(a, "--", 2) || i + 1 >= argc) {
            fprintf(stderr, "nmnd: %s '%s'\n", a[0] == '-' ? "missing value after" : "unknown argument", a);
            options_usage(stderr);
            return 1;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--config") && options_set(&o, a + 2, v, err, sizeof err)) {
            fprintf(stderr, "nmnd: --%s\n", err);
            return 1;
        }
    }
    const char *state = o.state_dir, *sock = o.socket, *log_path = o.log;
    long workers = o.slurm ? 0 : o.workers, every = o.ckpt_every, secs = o.ckpt_secs, attempts = o.max_attempts;
    log_level = o.log_level;
    if (log_path && freopen(log_path, "a", stderr) == NULL) {
        fprintf(stdout, "nmnd: --log: cannot open %s\n", log_path);
        return 1;
    }
    setvbuf(stderr, NULL, _IOLBF, 0);
    nn_blas_single_thread();
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-reply is an error code, not a death */
    char path[PATH_MAX], ckpt[PATH_MAX], sockpath[PATH_MAX], worker[PATH_MAX];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoints", state);
    if ((mkdir(state, 0750) && errno != EEXIST) || (mkdir(ckpt, 0750) && errno != EEXIST)) {
        fprintf(stderr, "nmnd: %s: cannot create the state directory: %s\n", ckpt, strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/nmnd.lock", state);
    int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB)) {
        char pid[32] = "?";
        ssize_t n = lock >= 0 ? pread(lock, pid, sizeof pid - 1, 0) : -1;
        if (n > 0)
            pid[n] = 0, pid[strcspn(pid, "\n")] = 0;
        fprintf(stderr, "nmnd: another nmnd (pid %s) is running on %s\n", pid, state);
        return 1;
    }
    char pidtext[32];
    int pl = snprintf(pidtext, sizeof pidtext, "%d\n", (int)getpid());
    if (ftruncate(lock, 0) || pwrite(lock, pidtext, (size_t)pl, 0) != pl)
        logmsg("warning: cannot write the pid into %s", path);

    daemon_t d = {0};
    d.max_attempts = (int)attempts, d.log_path = log_path;
    snprintf(path, sizeof path, "%s/nmn.db", state);
    if (store_open(&d.store, path, 0, err, sizeof err)) {
        fprintf(stderr, "nmnd: %s\n", err);
        return 1;
    }
    int lost = store_recover(d.store, o.slurm ? "slurm" : NULL, err, sizeof err);
    if (lost < 0) {
        fprintf(stderr, "nmnd: %s\n", err);
        return 1;
    }
    if (lost)
        logmsg("%d job(s) were running when nmnd stopped: back in the queue", lost);

    const char *rt = getenv("RUNTIME_DIRECTORY");
    if (sock)
        snprintf(sockpath, sizeof sockpath, "%s", sock);
    else
        snprintf(sockpath, sizeof sockpath, "%s/nmnd.sock", rt && *rt ? rt : state);
    uv_loop_init(&d.loop);
    pool_opts_t po = {(int)workers, ckpt, (int)every, (double)secs};
    d.pool = pool_new(&d.loop, &po, on_results, &d);
    d.server = server_start(&d.loop, sockpath, handle, &d, err, sizeof err);
    if (d.pool == NULL || d.server == NULL) {
        fprintf(stderr, "nmnd: %s\n", d.server ? "out of memory" : err);
        return 1;
    }
    if (o.slurm) {
        /* by default the nodes run the nmn-worker installed beside this nmnd */
        ssize_t n = readlink("/proc/self/exe", worker, sizeof worker - 16);
        if (n > 0) {
            worker[n] = 0;
            snprintf(strrchr(worker, '/') + 1, 16, "nmn-worker");
        }
        o.so.worker = o.so.worker ? o.so.worker : worker;
        o.so.state_dir = state, o.so.ckpt_dir = ckpt;
        o.so.ckpt_every = (int)every, o.so.ckpt_secs = (int)secs;
        d.slurm = slurm_start(&d.loop, d.store, &o.so, slurm_apply, logmsg, &d, err, sizeof err);
        if (d.slurm == NULL) {
            fprintf(stderr, "nmnd: %s\n", err);
            return 1;
        }
    }
    uv_signal_init(&d.loop, &d.sig_term), uv_signal_init(&d.loop, &d.sig_int), uv_signal_init(&d.loop, &d.sig_hup);
    d.sig_term.data = d.sig_int.data = d.sig_hup.data = &d;
    uv_signal_start(&d.sig_term, on_signal, SIGTERM);
    uv_signal_start(&d.sig_int, on_signal, SIGINT);
    uv_signal_start(&d.sig_hup, on_signal, SIGHUP);
    uv_timer_init(&d.loop, &d.tick), uv_timer_init(&d.loop, &d.stop_timer);
    d.tick.data = d.stop_timer.data = &d;
    uv_timer_start(&d.tick, on_tick, 1000, 1000);
    if (o.slurm)
        logmsg("listening on %s; state in %s; executor slurm", sockpath, state);
    else
        logmsg("listening on %s; state in %s; %ld workers", sockpath, state, workers);
    sd_notify(0, "READY=1");
    update_status(&d);
    schedule(&d);

    uv_run(&d.loop, UV_RUN_DEFAULT);
    uv_loop_close(&d.loop);
    store_close(d.store);
    unlink(sockpath);
    logmsg("stopped");
    close(lock);
    return 0;
}
