/* test_store.c - the SQLite store: migrations, idempotent sweeps,
 * exactly-once episodes (resume and superseded attempts), the curve views
 * on hand-made numbers, and a reader beside a writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/store.h"

static char path[64];
static char err[512];

static void fresh_path(void)
{
    static int n;
    snprintf(path, sizeof path, "/tmp/nmn-store-%d-%d.db", (int)getpid(), n++);
    char p[80];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path), unlink(p);
    snprintf(p, sizeof p, "%s-shm", path), unlink(p);
}

static store_t *open_rw(void)
{
    store_t *s;
    int rc = store_open(&s, path, 0, err, sizeof err);
    if (rc)
        printf("# %s\n", err);
    assert_int_equal(rc, 0);
    return s;
}

static int64_t q_int(store_t *s, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static double q_double(store_t *s, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    double v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_migrations(void **state)
{
    (void)state;
    fresh_path();
    store_t *s = open_rw();
    assert_int_equal(q_int(s, "PRAGMA user_version"), store_schema_version());
    /* the documented schema: every table and view */
    const char *objects[] = {"table sweeps", "table jobs", "table sweep_jobs", "table attempts",
                             "table episodes", "table iterations", "view running_mean", "view curves"};
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
        char sql[160], type[16], name[32];
        sscanf(objects[i], "%15s %31s", type, name);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_schema WHERE type = '%s' AND name = '%s'", type, name);
        if (q_int(s, sql) != 1)
            printf("# missing %s\n", objects[i]);
        assert_int_equal(q_int(s, sql), 1);
    }
    sqlite3_stmt *jm;
    assert_int_equal(sqlite3_prepare_v2(store_db(s), "PRAGMA journal_mode", -1, &jm, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(jm), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(jm, 0), "wal");
    sqlite3_finalize(jm);
    assert_int_equal(q_int(s, "PRAGMA foreign_keys"), 1);
    int64_t objs = q_int(s, "SELECT count(*) FROM sqlite_schema");
    store_close(s);
    /* again: a no-op */
    s = open_rw();
    assert_int_equal(q_int(s, "PRAGMA user_version"), store_schema_version());
    assert_int_equal(q_int(s, "SELECT count(*) FROM sqlite_schema"), objs);
    char *msg = NULL;
    assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA user_version = 99", NULL, NULL, &msg), SQLITE_OK);
    store_close(s);
    /* a newer schema is refused, naming both versions */
    assert_int_equal(store_open(&s, path, 0, err, sizeof err), -1);
    printf("# %s\n", err);
    char want[128];
    snprintf(want, sizeof want, "schema version 99 is newer than this build's %d", store_schema_version());
    assert_non_null(strstr(err, want));
    assert_int_equal(store_open(&s, path, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, want));
}

static store_job_t job(const char *hash, int seed, const char *arch)
{
    return (store_job_t){"{\"x\":1}", hash, "target1d", arch, seed, 1000, 0};
}

static void test_sweep_idempotent(void **state)
{
    (void)state;
    fresh_path();
    store_t *s = open_rw();
    store_job_t jobs[3] = {job("00000000000000a1", 1, "nmn"), job("00000000000000a2", 2, "nmn"),
                           job("00000000000000a3", 1, "rnn")};
    int64_t id1, id2, id3;
    int n;
    assert_int_equal(store_insert_sweep(s, "fig2", "seeds: [1, 2]", jobs, 3, &id1, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(store_insert_sweep(s, "fig2", "seeds: [1, 2]", jobs, 3, &id2, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_true(id1 == id2);
    assert_int_equal(q_int(s, "SELECT count(*) FROM jobs"), 3);
    /* another sweep sharing one job links to it without adding it */
    store_job_t more[2] = {job("00000000000000a3", 1, "rnn"), job("00000000000000b1", 9, "rnn")};
    assert_int_equal(store_insert_sweep(s, "other", "x", more, 2, &id3, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(q_int(s, "SELECT count(*) FROM jobs"), 4);
    assert_int_equal(q_int(s, "SELECT count(*) FROM sweep_jobs"), 5);
    store_close(s);
}

static void put(store_t *s, int64_t job, int64_t attempt, int64_t from, int n, double base, int expect_rc)
{
    store_episode_t eps[64];
    for (int i = 0; i < n; i++)
        eps[i] = (store_episode_t){from + i, base + (double)(from + i), 1, 0};
    store_iteration_t it = {.iteration = (from + n) / n - 1, .episodes_done = from + n, .kl = 0.001};
    int ins;
    int rc = store_put_batch(s, job, attempt, eps, n, &it, &ins, err, sizeof err);
    if (rc != expect_rc)
        printf("# put batch %lld..%lld: rc %d (%s)\n", (long long)from, (long long)(from + n - 1), rc, err);
    assert_int_equal(rc, expect_rc);
}

/* Attempt A writes 0..99 and checkpoints at 50, then the daemon crashes;
 * attempt B resumes at 50 and writes 50..149 again (different values, to
 * see who wins); a late batch from A is dropped. */
static void test_exactly_once(void **state)
{
    (void)state;
    fresh_path();
    store_t *s = open_rw();
    store_job_t j = job("00000000000000c1", 1, "nmn");
    int64_t sweep;
    int n;
    assert_int_equal(store_insert_sweep(s, "e", "y", &j, 1, &sweep, &n, err, sizeof err), 0);
    store_claim_t a, b, none;
    assert_int_equal(store_claim_next(s, "local", &a, err, sizeof err), 1);
    assert_null(a.checkpoint_path);
    assert_int_equal(store_claim_next(s, "local", &none, err, sizeof err), 0);
    put(s, a.job_id, a.attempt_id, 0, 50, 0.0, 0);
    assert_int_equal(store_put_checkpoint(s, a.job_id, a.attempt_id, "/ck/1", 50, err, sizeof err), 0);
    put(s, a.job_id, a.attempt_id, 50, 50, 0.0, 0);
    assert_int_equal(store_recover(s, NULL, err, sizeof err), 1); /* the crash */
    assert_int_equal(q_int(s, "SELECT attempts FROM jobs"), 1);
    assert_int_equal(store_claim_next(s, "local", &b, err, sizeof err), 1);
    assert_string_equal(b.checkpoint_path, "/ck/1");
    assert_int_equal(b.checkpoint_episode, 50);
    assert_true(b.attempt_id != a.attempt_id);
    put(s, b.job_id, b.attempt_id, 50, 50, 1000.0, 0);  /* again, from the checkpoint */
    put(s, b.job_id, b.attempt_id, 100, 50, 1000.0, 0);
    put(s, a.job_id, a.attempt_id, 150, 50, 0.0, STORE_STALE); /* late, superseded */
    assert_int_equal(store_put_checkpoint(s, a.job_id, a.attempt_id, "/ck/old", 150, err, sizeof err), STORE_STALE);
    assert_int_equal(store_end_attempt(s, a.job_id, a.attempt_id, "done", NULL, err, sizeof err), STORE_STALE);

    int64_t rows = q_int(s, "SELECT count(*) FROM episodes");
    printf("# %lld rows, %lld distinct episodes, attempts %lld\n", (long long)rows,
           (long long)q_int(s, "SELECT count(DISTINCT episode) FROM episodes"),
           (long long)q_int(s, "SELECT attempts FROM jobs"));
    assert_int_equal(rows, 150);
    assert_int_equal(q_int(s, "SELECT count(DISTINCT episode) FROM episodes"), 150);
    /* the first writer's values: A's for 0..99, B's for 100..149 */
    assert_int_equal(q_int(s, "SELECT count(*) FROM episodes WHERE episode < 100 AND return = episode"), 100);
    assert_int_equal(q_int(s, "SELECT count(*) FROM episodes WHERE episode >= 100 AND return = episode + 1000"), 50);
    assert_int_equal(q_int(s, "SELECT count(*) FROM iterations"), 3);
    assert_int_equal(q_int(s, "SELECT episodes_done FROM jobs"), 150);
    assert_int_equal(store_end_attempt(s, b.job_id, b.attempt_id, "done", NULL, err, sizeof err), 0);
    assert_int_equal(q_int(s, "SELECT state = 'done' AND attempts = 2 AND current_attempt IS NULL FROM jobs"), 1);
    assert_int_equal(q_int(s, "SELECT count(*) FROM attempts WHERE outcome = 'lost'"), 1);
    put(s, b.job_id, b.attempt_id, 150, 50, 0.0, STORE_STALE); /* nothing after the end */
    store_claim_free(&a), store_claim_free(&b);
    store_close(s);
}

/* Priority then age; cancel and retry; a failure keeps its error. */
static void test_queue_states(void **state)
{
    (void)state;
    fresh_path();
    store_t *s = open_rw();
    store_job_t jobs[3] = {job("00000000000000f1", 1, "nmn"), job("00000000000000f2", 2, "nmn"),
                           job("00000000000000f3", 3, "nmn")};
    jobs[2].priority = 5;
    int64_t sweep;
    int n;
    assert_int_equal(store_insert_sweep(s, "q", "y", jobs, 3, &sweep, &n, err, sizeof err), 0);
    store_claim_t a, b, c;
    assert_int_equal(store_claim_next(s, "local", &a, err, sizeof err), 1);
    assert_int_equal(q_int(s, "SELECT seed FROM jobs WHERE state = 'running'"), 3); /* priority */
    assert_int_equal(store_cancel_queued(s, 2, err, sizeof err), 1);
    assert_int_equal(store_cancel_queued(s, a.job_id, err, sizeof err), 0); /* running: not here */
    assert_int_equal(store_claim_next(s, "local", &b, err, sizeof err), 1);
    assert_int_equal(q_int(s, "SELECT seed FROM jobs WHERE id = (SELECT job_id FROM attempts ORDER BY id DESC LIMIT 1)"), 1);
    assert_int_equal(store_claim_next(s, "local", &c, err, sizeof err), 0); /* the rest is cancelled */
    assert_int_equal(store_end_attempt(s, b.job_id, b.attempt_id, "failed", "iteration 3: non-finite",
                                       err, sizeof err), 0);
    assert_int_equal(q_int(s, "SELECT count(*) FROM jobs WHERE state = 'failed' AND error LIKE 'iteration 3%'"), 1);
    assert_int_equal(store_retry(s, b.job_id, err, sizeof err), 1);
    assert_int_equal(store_retry(s, 2, err, sizeof err), 1);
    assert_int_equal(store_retry(s, a.job_id, err, sizeof err), 0); /* running */
    assert_int_equal(q_int(s, "SELECT count(*) FROM jobs WHERE state = 'queued' AND error IS NULL"), 2);
    assert_int_equal(store_end_attempt(s, a.job_id, a.attempt_id, "requeued", NULL, err, sizeof err), 0);
    assert_int_equal(q_int(s, "SELECT count(*) FROM jobs WHERE state = 'queued'"), 3);
    assert_int_equal(store_end_attempt(s, a.job_id, a.attempt_id, "bogus", NULL, err, sizeof err), -1);
    store_claim_free(&a), store_claim_free(&b);
    store_close(s);
}

/* Three seeds with constant returns 1, 2 and 6, and one job whose return
 * is its episode number (running mean e/2 while e < 1000). */
static void test_curve_views(void **state)
{
    (void)state;
    fresh_path();
    store_t *s = open_rw();
    store_job_t jobs[4] = {job("00000000000000d1", 1, "nmn"), job("00000000000000d2", 2, "nmn"),
                           job("00000000000000d3", 3, "nmn"), job("00000000000000d4", 1, "rnn")};
    int64_t sweep;
    int n;
    assert_int_equal(store_insert_sweep(s, "fig", "y", jobs, 4, &sweep, &n, err, sizeof err), 0);
    const double level[3] = {1, 2, 6};
    for (int k = 0; k < 4; k++) {
        store_claim_t c;
        assert_int_equal(store_claim_next(s, "local", &c, err, sizeof err), 1);
        for (int from = 0; from < 1200; from += 50) {
            store_episode_t eps[50];
            for (int i = 0; i < 50; i++)
                eps[i] = (store_episode_t){from + i, k < 3 ? level[k] : (double)(from + i), 0, 0};
            int ins;
            assert_int_equal(store_put_batch(s, c.job_id, c.attempt_id, eps, 50, NULL, &ins, err, sizeof err), 0);
        }
        store_claim_free(&c);
    }
    double mean = q_double(s, "SELECT mean FROM curves WHERE arch = 'nmn' AND episode = 700");
    double sd = q_double(s, "SELECT std FROM curves WHERE arch = 'nmn' AND episode = 700");
    printf("# nmn at episode 700: mean %.12g (want 3), std %.12g (want %.12g)\n", mean, sd, sqrt(14.0 / 3));
    assert_true(fabs(mean - 3) < 1e-12);
    assert_true(fabs(sd - sqrt(14.0 / 3)) < 1e-9);
    assert_int_equal(q_int(s, "SELECT seeds FROM curves WHERE arch = 'nmn' AND episode = 1199"), 3);
    assert_int_equal(q_int(s, "SELECT count(*) FROM curves WHERE arch = 'nmn'"), 1200);
    /* the window: 1000 episodes, fewer at the start */
    assert_true(fabs(q_double(s, "SELECT running_mean FROM running_mean r JOIN jobs j ON j.id = r.job_id "
                                 "WHERE j.arch = 'rnn' AND episode = 10") - 5.0) < 1e-12);
    assert_true(fabs(q_double(s, "SELECT running_mean FROM running_mean r JOIN jobs j ON j.id = r.job_id "
                                 "WHERE j.arch = 'rnn' AND episode = 1100") - 600.5) < 1e-9);
    assert_true(fabs(q_double(s, "SELECT std FROM curves WHERE arch = 'rnn' AND episode = 1100")) < 1e-12);
    store_close(s);
}

/* A writer inserting batches and a reader polling the curve view, on two
 * connections, for three seconds: never "database is locked". */
typedef struct rw {
    int64_t job, attempt;
    volatile int stop;
    long writes, reads, errors;
    char err[512];
} rw_t;

static void *writer(void *arg)
{
    rw_t *x = arg;
    store_t *s;
    if (store_open(&s, path, 0, x->err, sizeof x->err)) {
        x->errors++;
        return NULL;
    }
    store_episode_t eps[50];
    for (int64_t from = 0; !x->stop; from += 50) {
        for (int i = 0; i < 50; i++)
            eps[i] = (store_episode_t){from + i, -1000.0 + (double)i, 2, 0};
        store_iteration_t it = {.iteration = from / 50, .episodes_done = from + 50};
        int ins;
        if (store_put_batch(s, x->job, x->attempt, eps, 50, &it, &ins, x->err, sizeof x->err))
            x->errors++;
        else
            x->writes++;
    }
    store_close(s);
    return NULL;
}

static void test_reader_beside_writer(void **state)
{
    (void)state;
    fresh_path();
    store_t *s = open_rw();
    store_job_t j = job("00000000000000e1", 1, "nmn");
    int64_t sweep;
    int n;
    store_claim_t c;
    assert_int_equal(store_insert_sweep(s, "rw", "y", &j, 1, &sweep, &n, err, sizeof err), 0);
    assert_int_equal(store_claim_next(s, "local", &c, err, sizeof err), 1);
    store_close(s);
    rw_t x = {.job = c.job_id, .attempt = c.attempt_id};
    pthread_t w;
    pthread_create(&w, NULL, writer, &x);
    store_t *r;
    assert_int_equal(store_open(&r, path, 1, err, sizeof err), 0);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t last = -1;
    do {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(store_db(r), "SELECT count(*), max(episode) FROM curves", -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int64_t cnt = sqlite3_column_int64(st, 0);
            assert_true(cnt >= last); /* a consistent, growing snapshot */
            last = cnt, x.reads++;
        } else {
            printf("# reader: %s\n", sqlite3_errmsg(store_db(r)));
            x.errors++;
        }
        sqlite3_finalize(st);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < 3);
    x.stop = 1;
    pthread_join(w, NULL);
    printf("# 3 s: %ld batches written, %ld curve reads, %ld errors %s\n", x.writes, x.reads, x.errors, x.err);
    assert_int_equal(x.errors, 0);
    assert_true(x.writes > 10 && x.reads > 3);
    /* read-only means read-only */
    char *msg = NULL;
    assert_int_not_equal(sqlite3_exec(store_db(r), "DELETE FROM episodes", NULL, NULL, &msg), SQLITE_OK);
    sqlite3_free(msg);
    store_close(r);
    store_claim_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations),
        cmocka_unit_test(test_sweep_idempotent),
        cmocka_unit_test(test_exactly_once),
        cmocka_unit_test(test_queue_states),
        cmocka_unit_test(test_curve_views),
        cmocka_unit_test(test_reader_beside_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
