/* ctl_query.c - results, curves, sql and wait, over a read-only store. */
#include "ctl_query.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/bench.h"
#include "../common/fmt.h"
#include "../common/store.h"

static int json_out; /* --json: read commands print one JSON document */

void ctl_set_json(int on)
{
    json_out = on;
}

static store_t *open_ro(const char *db)
{
    store_t *s;
    char err[512];
    if (store_open(&s, db, 1, err, sizeof err)) {
        fprintf(stderr, "nmnctl: %s\n", err);
        return NULL;
    }
    return s;
}

static int sweep_exists(store_t *s, long sweep)
{
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(store_db(s), "SELECT 1 FROM sweeps WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, sweep);
        found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    if (!found)
        fprintf(stderr, "nmnctl: no sweep %ld\n", sweep);
    return found;
}

/* Every row of st as a JSON array of objects. */
static int print_json(sqlite3_stmt *st, FILE *out)
{
    int cols = sqlite3_column_count(st), rc;
    json_t *rows = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int i = 0; i < cols; i++) {
            json_t *v;
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL: v = json_null(); break;
            case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
            case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, i)); break;
            default: v = json_string((const char *)sqlite3_column_text(st, i));
            }
            json_object_set_new(o, sqlite3_column_name(st, i), v ? v : json_null());
        }
        json_array_append_new(rows, o);
    }
    if (rc == SQLITE_DONE) {
        json_dumpf(rows, out, JSON_COMPACT | JSON_REAL_PRECISION(17));
        fputc('\n', out);
    }
    json_decref(rows);
    return rc == SQLITE_DONE ? 0 : 2;
}

/* Prints every row of st: aligned columns, CSV, or JSON. Returns 0 or 2. */
static int print_rows(sqlite3_stmt *st, FILE *out, int csv)
{
    if (json_out && !csv)
        return print_json(st, out);
    int cols = sqlite3_column_count(st), rc;
    for (int i = 0; i < cols; i++)
        fprintf(out, csv ? "%s%s" : "%s%-14s", i ? (csv ? "," : " ") : "", sqlite3_column_name(st, i));
    fputc('\n', out);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < cols; i++) {
            const char *sep = i ? (csv ? "," : " ") : "";
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL:
                fprintf(out, csv ? "%s" : "%s%-14s", sep, "");
                break;
            case SQLITE_FLOAT:
                fprintf(out, csv ? "%s%.17g" : "%s%-14.6g", sep, sqlite3_column_double(st, i));
                break;
            default:
                fprintf(out, csv ? "%s%s" : "%s%-14s", sep, (const char *)sqlite3_column_text(st, i));
            }
        }
        fputc('\n', out);
    }
    return rc == SQLITE_DONE ? 0 : 2;
}

static int run_query(const char *db, const char *sql, long a, long b, FILE *out, int csv)
{
    store_t *s = open_ro(db);
    if (s == NULL)
        return 2;
    if (a >= 0 && !sweep_exists(s, a)) {
        store_close(s);
        return 1;
    }
    /* a query SQLite rejects (syntax, or any write on this read-only
     * connection) is the user's error: 1 */
    sqlite3_stmt *st;
    int rc = 1;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) == SQLITE_OK) {
        if (a >= 0)
            sqlite3_bind_int64(st, 1, a);
        if (b >= 0)
            sqlite3_bind_int64(st, 2, b);
        rc = print_rows(st, out, csv) ? 1 : 0;
        sqlite3_finalize(st);
    }
    if (rc)
        fprintf(stderr, "nmnctl: %s\n", sqlite3_errmsg(store_db(s)));
    store_close(s);
    return rc;
}

int ctl_results(const char *db, long sweep)
{
    return run_query(db,
        "WITH m AS (SELECT r.job_id, r.episode, r.running_mean FROM running_mean r "
        "           JOIN sweep_jobs s ON s.job_id = r.job_id WHERE s.sweep_id = ?1) "
        "SELECT j.id AS job, j.benchmark, j.arch, j.seed, j.episodes_done AS episodes, "
        "       (SELECT running_mean FROM m WHERE m.job_id = j.id ORDER BY episode DESC LIMIT 1) AS final_mean, "
        "       (SELECT max(running_mean) FROM m WHERE m.job_id = j.id) AS best_mean, j.state "
        "FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = ?1 "
        "ORDER BY j.benchmark, j.arch, j.seed, j.id", sweep, -1, stdout, 0);
}

/* The curves of a sweep with a `window`-episode running mean, as rows of
 * benchmark, arch, episode, mean, std, seeds. */
static int curves_query(const char *db, long sweep, long window, FILE *out, int csv)
{
    /* the curves view with its window as a parameter: window - 1 rows back */
    return run_query(db,
        "WITH m AS (SELECT e.job_id, e.episode, AVG(e.return) OVER (PARTITION BY e.job_id ORDER BY e.episode "
        "           ROWS BETWEEN ?2 PRECEDING AND CURRENT ROW) AS rm FROM episodes e "
        "           JOIN sweep_jobs s ON s.job_id = e.job_id WHERE s.sweep_id = ?1) "
        "SELECT j.benchmark, j.arch, m.episode, AVG(m.rm) AS mean, "
        "       sqrt(max(AVG(m.rm * m.rm) - AVG(m.rm) * AVG(m.rm), 0)) AS std, COUNT(*) AS seeds "
        "FROM m JOIN jobs j ON j.id = m.job_id GROUP BY j.benchmark, j.arch, m.episode "
        "ORDER BY j.benchmark, j.arch, m.episode", sweep, window - 1, out, csv);
}

int ctl_curves(const char *db, long sweep, long window, const char *csv)
{
    FILE *out = csv ? fopen(csv, "w") : stdout;
    if (out == NULL) {
        fprintf(stderr, "nmnctl: --csv: cannot write %s\n", csv);
        return 1;
    }
    int rc = curves_query(db, sweep, window, out, csv != NULL);
    if (csv)
        fclose(out);
    return rc;
}

int ctl_sql(const char *db, const char *query, int csv)
{
    return run_query(db, query, -1, -1, stdout, csv);
}

int ctl_wait(const char *db, long sweep)
{
    store_t *s = open_ro(db);
    if (s == NULL)
        return 2;
    if (!sweep_exists(s, sweep)) {
        store_close(s);
        return 1;
    }
    for (;;) {
        sqlite3_stmt *st;
        long total = -1, done = 0, ended = 0;
        if (sqlite3_prepare_v2(store_db(s), "SELECT count(*), sum(j.state = 'done'), "
                               "sum(j.state IN ('done', 'failed', 'cancelled')) FROM jobs j "
                               "JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = ?1",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, sweep);
            if (sqlite3_step(st) == SQLITE_ROW)
                total = sqlite3_column_int64(st, 0), done = sqlite3_column_int64(st, 1),
                ended = sqlite3_column_int64(st, 2);
            sqlite3_finalize(st);
        }
        if (total < 0) {
            fprintf(stderr, "nmnctl: %s\n", sqlite3_errmsg(store_db(s)));
            store_close(s);
            return 2;
        }
        if (ended == total) {
            printf("sweep %ld: %ld of %ld jobs done%s\n", sweep, done, total,
                   done == total ? "" : " (the others failed or were cancelled)");
            store_close(s);
            return done == total ? 0 : 1;
        }
        sleep(1);
    }
}

/* Prints one line per sweep (all, or just `sweep`); returns how many jobs
 * are still queued or running, or -1 on error. */
static long status_once(store_t *s, long sweep, FILE *out)
{
    sqlite3_stmt *st;
    /* per sweep: jobs by state, episodes, and the speed of its running jobs
     * from their latest iteration (episodes per second times steps each) */
    const char *sql =
        "SELECT sw.id, sw.name, count(*), sum(j.state = 'done'), sum(j.state = 'running'), "
        "       sum(j.state = 'queued'), sum(j.state = 'failed'), sum(j.state = 'cancelled'), "
        "       sum(j.episodes_done), sum(j.episodes), "
        "       group_concat(CASE WHEN j.state = 'running' THEN j.benchmark || ':' || "
        "         coalesce((SELECT (i.episodes_done - coalesce(p.episodes_done, 0)) * 1000.0 / "
        "                          (i.rollout_ms + i.update_ms) "
        "                   FROM iterations i LEFT JOIN iterations p ON p.job_id = i.job_id "
        "                        AND p.iteration = i.iteration - 1 "
        "                   WHERE i.job_id = j.id ORDER BY i.iteration DESC LIMIT 1), 0) END, ' ') "
        "FROM sweeps sw JOIN sweep_jobs sj ON sj.sweep_id = sw.id JOIN jobs j ON j.id = sj.job_id "
        "WHERE ?1 < 0 OR sw.id = ?1 GROUP BY sw.id ORDER BY sw.id";
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, sweep);
    long active = 0;
    int rc, rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;
        long c[8];
        for (int k = 0; k < 8; k++)
            c[k] = sqlite3_column_int64(st, 2 + k);
        long total = c[0], done = c[1], running = c[2], queued = c[3], failed = c[4];
        long cancelled = c[5], eps = c[6], eps_total = c[7];
        active += running + queued;
        /* speed: "bench:episodes_per_s ..." for the running jobs */
        double env_steps = 0, eps_rate = 0;
        const char *speeds = (const char *)sqlite3_column_text(st, 10);
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", speeds ? speeds : "");
        for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
            char *colon = strchr(tok, ':');
            if (colon == NULL)
                continue;
            *colon = 0;
            const bench_info_t *b = bench_lookup(tok);
            double r = atof(colon + 1);
            eps_rate += r;
            env_steps += b ? r * b->episode_len : 0;
        }
        if (json_out) {
            json_t *o = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                "sweep", (json_int_t)sqlite3_column_int64(st, 0), "name", (const char *)sqlite3_column_text(st, 1),
                "jobs", (json_int_t)total, "done", (json_int_t)done, "running", (json_int_t)running,
                "queued", (json_int_t)queued, "failed", (json_int_t)failed, "cancelled", (json_int_t)cancelled,
                "episodes_done", (json_int_t)eps, "episodes", (json_int_t)eps_total, "env_steps_per_s", env_steps);
            char *text = json_dumps(o, JSON_COMPACT);
            fprintf(out, "%s\n", text ? text : "{}");
            free(text);
            json_decref(o);
            continue;
        }
        int width = 30, fill = eps_total ? (int)(width * eps / eps_total) : 0;
        char bar[64], eta[32] = "";
        for (int k = 0; k < width; k++)
            bar[k] = k < fill ? '#' : '.';
        bar[width] = 0;
        if (running)
            fmt_duration(eps_rate > 0 ? (double)(eps_total - eps) / eps_rate : -1, eta, sizeof eta);
        fprintf(out, "sweep %lld %-16s [%s] %ld/%ld episodes (%3.0f%%)  done %ld, running %ld, queued %ld",
                (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1), bar,
                eps, eps_total, eps_total ? 100.0 * (double)eps / (double)eps_total : 0.0, done, running, queued);
        if (failed || cancelled)
            fprintf(out, ", failed %ld, cancelled %ld", failed, cancelled);
        fprintf(out, " (%ld jobs)", total);
        if (running)
            fprintf(out, "  %.0f env-steps/s, ETA %s", env_steps, eta);
        fputc('\n', out);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (rows == 0 && !json_out)
        fprintf(out, sweep < 0 ? "no sweeps yet\n" : "no sweep %ld\n", sweep);
    return active;
}

int ctl_status_jobs(const char *db, long sweep)
{
    return run_query(db,
        "SELECT j.id AS job, j.benchmark, j.arch, j.seed, j.state, j.episodes_done, "
        "       j.episodes, j.attempts, coalesce(a.executor, '') AS executor, "
        "       coalesce(al.slurm_id, '') AS slurm_job, coalesce(al.node, '') AS node, "
        "       coalesce(j.error, '') AS error "
        "FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id "
        "LEFT JOIN attempts a ON a.id = j.current_attempt "
        "LEFT JOIN allocations al ON al.id = a.allocation_id WHERE s.sweep_id = ?1 "
        "ORDER BY j.benchmark, j.arch, j.seed, j.id", sweep, -1, stdout, 0);
}

int ctl_status(const char *db, long sweep, int watch)
{
    store_t *s = open_ro(db);
    if (s == NULL)
        return 2;
    if (sweep >= 0 && !sweep_exists(s, sweep)) {
        store_close(s);
        return 1;
    }
    int tty = isatty(1);
    for (;;) {
        if (watch && tty && !json_out)
            fputs("\033[H\033[J", stdout); /* redraw in place */
        long active = status_once(s, sweep, stdout);
        fflush(stdout);
        if (active < 0) {
            fprintf(stderr, "nmnctl: %s\n", sqlite3_errmsg(store_db(s)));
            store_close(s);
            return 2;
        }
        if (!watch || active == 0)
            break;
        sleep(2);
    }
    store_close(s);
    return 0;
}

int ctl_plot(const char *db, long sweep, const char *out_path)
{
    const char *dot = strrchr(out_path, '.');
    int svg = dot && strcmp(dot, ".svg") == 0;
    if (!dot || (!svg && strcmp(dot, ".png") != 0) || strpbrk(out_path, "'\n\\")) {
        fprintf(stderr, "nmnctl plot: -o %s: the file must end in .png or .svg (and hold no quote, "
                        "backslash or newline)\n", out_path);
        return 1;
    }
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "nmnctl plot: gnuplot is not installed (make deps installs it: gnuplot-nox)\n");
        return 2;
    }
    char data[4096], script[4096];
    snprintf(data, sizeof data, "%s.data", out_path);
    snprintf(script, sizeof script, "%s.gp", out_path);
    /* the data: per benchmark and arch, blocks of "episode mean std" */
    FILE *f = fopen(data, "w");
    if (f == NULL) {
        fprintf(stderr, "nmnctl plot: cannot write %s\n", data);
        return 1;
    }
    int rc = curves_query(db, sweep, 1000, f, 1);
    fclose(f);
    if (rc) {
        unlink(data);
        return rc;
    }
    /* one panel per benchmark, a mean line and a +-std band per arch */
    store_t *s = open_ro(db);
    if (s == NULL)
        return 2;
    sqlite3_stmt *st;
    char benches[3][16];
    int nb = 0;
    if (sqlite3_prepare_v2(store_db(s), "SELECT DISTINCT j.benchmark FROM jobs j JOIN sweep_jobs s ON "
                           "s.job_id = j.id WHERE s.sweep_id = ?1 ORDER BY 1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, sweep);
        while (nb < 3 && sqlite3_step(st) == SQLITE_ROW)
            snprintf(benches[nb++], sizeof benches[0], "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    store_close(s);
    f = fopen(script, "w");
    if (f == NULL || nb == 0) {
        if (f)
            fclose(f);
        unlink(data);
        fprintf(stderr, "nmnctl plot: sweep %ld has no results to plot\n", sweep);
        return 1;
    }
    fprintf(f, "set terminal %s size %d,440%s\nset output '%s'\n", svg ? "svg" : "pngcairo",
            nb > 1 ? 480 * nb : 680, svg ? " dynamic" : "", out_path);
    fprintf(f, "set datafile separator ','\nset multiplot layout 1,%d title 'sweep %ld: running mean "
               "return (1000 episodes), mean +- std over seeds'\n", nb, sweep);
    fprintf(f, "set xlabel 'episode'\nset ylabel 'return'\nset key bottom right\nset grid\n"
               "set xtics rotate by -30\nset rmargin 5\n"
               "set style fill transparent solid 0.25 noborder\n");
    for (int b = 0; b < nb; b++) {
        fprintf(f, "set title '%s'\nplot ", benches[b]);
        const char *archs[2] = {"nmn", "rnn"}, *colors[2] = {"#1f77b4", "#d62728"};
        for (int a = 0; a < 2; a++)
            fprintf(f, "%s'%s' using (strcol(1) eq '%s' && strcol(2) eq '%s' ? $3 : NaN):($4 - $5):($4 + $5) "
                       "with filledcurves lc rgb '%s' notitle, '%s' using (strcol(1) eq '%s' && strcol(2) eq '%s' ? $3 : NaN):4 "
                       "with lines lw 2 lc rgb '%s' title '%s'",
                    a ? ", " : "", data, benches[b], archs[a], colors[a], data, benches[b], archs[a], colors[a], archs[a]);
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
    fclose(f);
    char cmd[8448];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", script);
    rc = system(cmd) == 0 ? 0 : 2;
    unlink(data), unlink(script);
    if (rc)
        fprintf(stderr, "nmnctl plot: gnuplot failed\n");
    else
        printf("wrote %s\n", out_path);
    return rc;
}
