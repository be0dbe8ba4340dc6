/* store.c - the SQLite store. Every statement is prepared with bound
 * parameters; no SQL is built from data. */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char *const store_migrations[];
extern const int store_nmigrations;

/* The statements of the hot path (a batch per iteration of every job),
 * prepared once per connection. */
enum { Q_CURRENT, Q_EPISODE, Q_ITERATION, Q_PROGRESS, NQ };
static const char *const hot_sql[NQ] = {
    [Q_CURRENT] = "SELECT current_attempt = ?2 AND state = 'running' FROM jobs WHERE id = ?1",
    [Q_EPISODE] = "INSERT INTO episodes (job_id, episode, return, hits, bad_hits, attempt_id) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    [Q_ITERATION] = "INSERT INTO iterations (job_id, iteration, episodes_done, kl, beta, lr_mult, "
                    "reverted, policy_loss, value_loss, mean_logvar, rollout_ms, update_ms, attempt_id) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT DO NOTHING",
    [Q_PROGRESS] = "UPDATE jobs SET episodes_done = max(episodes_done, ?2) WHERE id = ?1",
};

struct store {
    sqlite3 *db;
    int readonly;
    sqlite3_stmt *hot[NQ];
};

#define BUSY_TIMEOUT_MS 5000

static int fail(store_t *s, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, s && s->db ? sqlite3_errmsg(s->db) : "out of memory");
    return -1;
}

int store_schema_version(void)
{
    return store_nmigrations;
}

sqlite3 *store_db(store_t *s)
{
    return s->db;
}

static int exec(store_t *s, const char *sql, char *err, size_t errlen, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int user_version(store_t *s, int *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Applies the missing migrations in one exclusive transaction. */
static int migrate(store_t *s, const char *path, char *err, size_t errlen)
{
    if (exec(s, "BEGIN EXCLUSIVE", err, errlen, "migrate: begin"))
        return -1;
    int v;
    if (user_version(s, &v)) {
        exec(s, "ROLLBACK", err, errlen, "rollback");
        return fail(s, err, errlen, "migrate: reading user_version");
    }
    if (v > store_nmigrations) {
        exec(s, "ROLLBACK", err, errlen, "rollback");
        snprintf(err, errlen, "%s: database schema version %d is newer than this build's %d; "
                 "use a newer nmnfarm", path, v, store_nmigrations);
        return -1;
    }
    for (int i = v; i < store_nmigrations; i++) {
        char what[64], pragma[64];
        snprintf(what, sizeof what, "migration %04d", i + 1);
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", i + 1);
        if (exec(s, store_migrations[i], err, errlen, what) ||
            exec(s, pragma, err, errlen, what)) {
            char ignore[256];
            exec(s, "ROLLBACK", ignore, sizeof ignore, "rollback");
            return -1;
        }
    }
    return exec(s, "COMMIT", err, errlen, "migrate: commit");
}

int store_open(store_t **out, const char *path, int readonly, char *err, size_t errlen)
{
    *out = NULL;
    store_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return fail(NULL, err, errlen, path);
    s->readonly = readonly;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open database: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return -1;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    int rc = 0, v = 0;
    if (!readonly)
        rc = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", err, errlen, path);
    rc = rc || exec(s, "PRAGMA foreign_keys = ON", err, errlen, path);
    if (!rc && !readonly)
        rc = migrate(s, path, err, errlen);
    if (!rc && readonly) {
        if (user_version(s, &v)) {
            snprintf(err, errlen, "%s: not an nmnfarm database (%s)", path, sqlite3_errmsg(s->db));
            rc = -1;
        } else if (v > store_nmigrations || v == 0) {
            snprintf(err, errlen, v ? "%s: database schema version %d is newer than this build's %d"
                                    : "%s: database has no nmnfarm schema (version %d; this build: %d)",
                     path, v, store_nmigrations);
            rc = -1;
        }
    }
    if (rc) {
        store_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void store_close(store_t *s)
{
    if (s) {
        for (int i = 0; i < NQ; i++)
            sqlite3_finalize(s->hot[i]);
        sqlite3_close(s->db);
        free(s);
    }
}

/* --- small statement helpers ---------------------------------------------- */

static sqlite3_stmt *prep(store_t *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    return st;
}

static void rollback(store_t *s)
{
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* A cached hot-path statement, reset and unbound; NULL on error. */
static sqlite3_stmt *hot(store_t *s, int q)
{
    if (s->hot[q] == NULL && sqlite3_prepare_v3(s->db, hot_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
                                                &s->hot[q], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(s->hot[q]);
    sqlite3_clear_bindings(s->hot[q]);
    return s->hot[q];
}

/* Runs a cached statement that returns no row; 0 or -1. */
static int run_hot(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Runs a statement that returns no row; 0 or -1. Finalizes it. */
static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_insert_sweep(store_t *s, const char *name, const char *yaml, const store_job_t *jobs,
                       int n, int64_t *sweep_id, int *n_new, char *err, size_t errlen)
{
    *n_new = 0;
    if (exec(s, "BEGIN IMMEDIATE", err, errlen, "insert sweep"))
        return -1;
    sqlite3_stmt *st = prep(s, "INSERT INTO sweeps (name, yaml) VALUES (?1, ?2) "
                               "ON CONFLICT (name, yaml) DO UPDATE SET name = name RETURNING id");
    if (st == NULL)
        goto fail;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, yaml, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        goto fail;
    }
    *sweep_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);

    sqlite3_stmt *ins = prep(s, "INSERT INTO jobs (config_hash, config_json, benchmark, arch, seed, "
                                "episodes, priority) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                                "ON CONFLICT (config_hash) DO NOTHING");
    sqlite3_stmt *link = prep(s, "INSERT OR IGNORE INTO sweep_jobs (sweep_id, job_id) "
                                 "SELECT ?1, id FROM jobs WHERE config_hash = ?2");
    if (ins == NULL || link == NULL) {
        sqlite3_finalize(ins);
        sqlite3_finalize(link);
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        const store_job_t *j = &jobs[i];
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, j->config_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, j->config_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, j->benchmark, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, j->arch, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 5, j->seed);
        sqlite3_bind_int64(ins, 6, j->episodes);
        sqlite3_bind_int(ins, 7, j->priority);
        if (sqlite3_step(ins) != SQLITE_DONE)
            break;
        *n_new += sqlite3_changes(s->db);
        sqlite3_reset(link);
        sqlite3_bind_int64(link, 1, *sweep_id);
        sqlite3_bind_text(link, 2, j->config_hash, -1, SQLITE_STATIC);
        if (sqlite3_step(link) != SQLITE_DONE)
            break;
        if (i == n - 1)
            n = -1; /* all done */
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(link);
    if (n != -1 && n != 0)
        goto fail;
    return exec(s, "COMMIT", err, errlen, "insert sweep: commit");
fail:
    fail(s, err, errlen, "insert sweep");
    rollback(s);
    *n_new = 0;
    return -1;
}

int store_claim_next(store_t *s, const char *executor, store_claim_t *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (exec(s, "BEGIN IMMEDIATE", err, errlen, "claim"))
        return -1;
    sqlite3_stmt *st = prep(s, "SELECT id, config_json, checkpoint_path, checkpoint_episode FROM jobs "
                               "WHERE state = 'queued' ORDER BY priority DESC, id LIMIT 1");
    if (st == NULL)
        goto fail;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        exec(s, "COMMIT", err, errlen, "claim: commit");
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        goto fail;
    }
    c->job_id = sqlite3_column_int64(st, 0);
    c->config_json = strdup((const char *)sqlite3_column_text(st, 1));
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
        c->checkpoint_path = strdup((const char *)sqlite3_column_text(st, 2));
        c->checkpoint_episode = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    st = prep(s, "INSERT INTO attempts (job_id, executor) VALUES (?1, ?2) RETURNING id");
    if (st == NULL)
        goto fail;
    sqlite3_bind_int64(st, 1, c->job_id);
    sqlite3_bind_text(st, 2, executor, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        goto fail;
    }
    c->attempt_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = prep(s, "UPDATE jobs SET state = 'running', attempts = attempts + 1, current_attempt = ?2, "
                 "started_at = COALESCE(started_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) WHERE id = ?1");
    if (st == NULL)
        goto fail;
    sqlite3_bind_int64(st, 1, c->job_id);
    sqlite3_bind_int64(st, 2, c->attempt_id);
    if (run(st) || exec(s, "COMMIT", err, errlen, "claim: commit"))
        goto fail;
    return 1;
fail:
    fail(s, err, errlen, "claim");
    rollback(s);
    store_claim_free(c);
    return -1;
}

void store_claim_free(store_claim_t *c)
{
    free(c->config_json);
    free(c->checkpoint_path);
    memset(c, 0, sizeof *c);
}

/* 1 if attempt_id is job_id's current attempt, 0 if not, -1 on error. */
static int is_current(store_t *s, int64_t job_id, int64_t attempt_id)
{
    sqlite3_stmt *st = hot(s, Q_CURRENT);
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, attempt_id);
    int rc = sqlite3_step(st);
    int cur = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? cur : -1;
}

int store_put_batch(store_t *s, int64_t job_id, int64_t attempt_id, const store_episode_t *eps,
                    int n, const store_iteration_t *it, int *n_inserted, char *err, size_t errlen)
{
    *n_inserted = 0;
    if (exec(s, "BEGIN IMMEDIATE", err, errlen, "put batch"))
        return -1;
    int cur = is_current(s, job_id, attempt_id);
    if (cur <= 0) {
        rollback(s);
        return cur < 0 ? fail(s, err, errlen, "put batch") : STORE_STALE;
    }
    sqlite3_stmt *st = hot(s, Q_EPISODE);
    if (st == NULL)
        goto fail;
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, job_id);
        sqlite3_bind_int64(st, 2, eps[i].episode);
        sqlite3_bind_double(st, 3, eps[i].ret);
        sqlite3_bind_int(st, 4, eps[i].hits);
        sqlite3_bind_int(st, 5, eps[i].bad_hits);
        sqlite3_bind_int64(st, 6, attempt_id);
        if (run_hot(st))
            goto fail;
        *n_inserted += sqlite3_changes(s->db);
    }
    if (it) {
        if ((st = hot(s, Q_ITERATION)) == NULL)
            goto fail;
        sqlite3_bind_int64(st, 1, job_id);
        sqlite3_bind_int64(st, 2, it->iteration);
        sqlite3_bind_int64(st, 3, it->episodes_done);
        sqlite3_bind_double(st, 4, it->kl);
        sqlite3_bind_double(st, 5, it->beta);
        sqlite3_bind_double(st, 6, it->lr_mult);
        sqlite3_bind_int(st, 7, it->reverted);
        sqlite3_bind_double(st, 8, it->policy_loss);
        sqlite3_bind_double(st, 9, it->value_loss);
        sqlite3_bind_double(st, 10, it->mean_logvar);
        sqlite3_bind_double(st, 11, it->rollout_ms);
        sqlite3_bind_double(st, 12, it->update_ms);
        sqlite3_bind_int64(st, 13, attempt_id);
        if (run_hot(st) || (st = hot(s, Q_PROGRESS)) == NULL)
            goto fail;
        sqlite3_bind_int64(st, 1, job_id);
        sqlite3_bind_int64(st, 2, it->episodes_done);
        if (run_hot(st))
            goto fail;
    }
    if (exec(s, "COMMIT", err, errlen, "put batch: commit"))
        goto fail;
    return 0;
fail:
    fail(s, err, errlen, "put batch");
    rollback(s);
    *n_inserted = 0;
    return -1;
}

int store_put_checkpoint(store_t *s, int64_t job_id, int64_t attempt_id, const char *path,
                         int64_t episode, char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(s, "UPDATE jobs SET checkpoint_path = ?3, checkpoint_episode = ?4 "
                               "WHERE id = ?1 AND current_attempt = ?2 AND state = 'running'");
    if (st == NULL)
        return fail(s, err, errlen, "put checkpoint");
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, attempt_id);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, episode);
    if (run(st))
        return fail(s, err, errlen, "put checkpoint");
    return sqlite3_changes(s->db) ? 0 : STORE_STALE;
}

int store_end_attempt(store_t *s, int64_t job_id, int64_t attempt_id, const char *outcome,
                      const char *error, char *err, size_t errlen)
{
    const char *state = strcmp(outcome, "requeued") == 0 || strcmp(outcome, "lost") == 0 ? "queued" : outcome;
    if (strcmp(state, "queued") && strcmp(state, "done") && strcmp(state, "failed") &&
        strcmp(state, "cancelled")) {
        snprintf(err, errlen, "end attempt: unknown outcome '%s'", outcome);
        return -1;
    }
    if (exec(s, "BEGIN IMMEDIATE", err, errlen, "end attempt"))
        return -1;
    int cur = is_current(s, job_id, attempt_id);
    if (cur <= 0) {
        rollback(s);
        return cur < 0 ? fail(s, err, errlen, "end attempt") : STORE_STALE;
    }
    sqlite3_stmt *st = prep(s, "UPDATE attempts SET outcome = ?2, "
                               "ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1");
    if (st == NULL)
        goto fail;
    sqlite3_bind_int64(st, 1, attempt_id);
    sqlite3_bind_text(st, 2, outcome, -1, SQLITE_STATIC);
    if (run(st))
        goto fail;
    st = prep(s, "UPDATE jobs SET state = ?2, error = ?3, current_attempt = NULL, "
                 "finished_at = CASE WHEN ?2 = 'queued' THEN NULL "
                 "ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END WHERE id = ?1");
    if (st == NULL)
        goto fail;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    if (error)
        sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
    if (run(st) || exec(s, "COMMIT", err, errlen, "end attempt: commit"))
        goto fail;
    return 0;
fail:
    fail(s, err, errlen, "end attempt");
    rollback(s);
    return -1;
}

/* Moves job_id from one of the states in `from` to `to`; 1 if it moved. */
static int move_state(store_t *s, int64_t job_id, const char *from_sql, const char *to,
                      char *err, size_t errlen, const char *what)
{
    sqlite3_stmt *st = prep(s, from_sql);
    if (st == NULL)
        return fail(s, err, errlen, what);
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    if (run(st))
        return fail(s, err, errlen, what);
    return sqlite3_changes(s->db) > 0;
}

int store_cancel_queued(store_t *s, int64_t job_id, char *err, size_t errlen)
{
    return move_state(s, job_id, "UPDATE jobs SET state = ?2, finished_at = "
                      "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1 AND state = 'queued'",
                      "cancelled", err, errlen, "cancel");
}

int store_retry(store_t *s, int64_t job_id, char *err, size_t errlen)
{
    return move_state(s, job_id, "UPDATE jobs SET state = ?2, error = NULL, finished_at = NULL "
                      "WHERE id = ?1 AND state IN ('failed', 'cancelled')",
                      "queued", err, errlen, "retry");
}

int store_recover(store_t *s, const char *keep_executor, char *err, size_t errlen)
{
    if (exec(s, "BEGIN IMMEDIATE", err, errlen, "recover"))
        return -1;
    sqlite3_stmt *st = prep(s, "UPDATE attempts SET outcome = 'lost', "
                               "ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                               "WHERE id IN (SELECT current_attempt FROM jobs WHERE state = 'running') "
                               "AND executor IS NOT ?1");
    if (st == NULL)
        goto fail;
    sqlite3_bind_text(st, 1, keep_executor, -1, SQLITE_STATIC);
    if (run(st))
        goto fail;
    st = prep(s, "UPDATE jobs SET state = 'queued', current_attempt = NULL WHERE state = 'running' "
                 "AND current_attempt IN (SELECT id FROM attempts WHERE outcome = 'lost')");
    if (st == NULL || run(st))
        goto fail;
    int n = sqlite3_changes(s->db);
    if (exec(s, "COMMIT", err, errlen, "recover: commit"))
        goto fail;
    return n;
fail:
    fail(s, err, errlen, "recover");
    rollback(s);
    return -1;
}

/* --- Slurm allocations ---------------------------------------------------- */

int store_alloc_add(store_t *s, const char *slurm_id, int64_t *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = prep(s, "INSERT INTO allocations (slurm_id) VALUES (?1) RETURNING id");
    if (st == NULL)
        return fail(s, err, errlen, "add allocation");
    sqlite3_bind_text(st, 1, slurm_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : fail(s, err, errlen, "add allocation");
}

int store_alloc_set(store_t *s, int64_t id, const char *state, const char *node, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st = prep(s, "UPDATE allocations SET state = ?2, node = coalesce(?3, node), "
                               "ended_at = CASE WHEN ?2 = 'ended' THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END "
                               "WHERE id = ?1 AND state != 'ended'");
    if (st == NULL)
        return fail(s, err, errlen, "update allocation");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    if (node)
        sqlite3_bind_text(st, 3, node, -1, SQLITE_TRANSIENT);
    return run(st) ? fail(s, err, errlen, "update allocation") : 0;
}

int store_attempt_set_allocation(store_t *s, int64_t attempt_id, int64_t alloc_id, char *err,
                                 size_t errlen)
{
    sqlite3_stmt *st = prep(s, "UPDATE attempts SET allocation_id = ?2 WHERE id = ?1");
    if (st == NULL)
        return fail(s, err, errlen, "attempt allocation");
    sqlite3_bind_int64(st, 1, attempt_id);
    sqlite3_bind_int64(st, 2, alloc_id);
    return run(st) ? fail(s, err, errlen, "attempt allocation") : 0;
}

int64_t store_query_int(store_t *s, const char *sql, int64_t arg)
{
    sqlite3_stmt *st = prep(s, sql);
    int64_t v = -1;
    if (st == NULL)
        return -1;
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}
