/* nmnctl - the farm's command line: changes go to nmnd over its socket,
 * queries read the store read-only (tools/ctl_query.c).
 * Exit status: 0 ok, 1 a user error (bad file, bad usage, an error reply),
 * 2 nmnd or the database unreachable. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "../common/sweep.h"
#include "ctl_query.h"

static int connect_to(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        fprintf(stderr, "nmnctl: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        fprintf(stderr, "nmnctl: cannot reach nmnd at %s: %s (is it running?)\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Prints what arrives until the peer closes, `lines` lines were read (0: no
 * limit), or `idle_ms` pass in silence. Returns 1 if a reply said ok:false. */
static int relay(int fd, int lines, int idle_ms)
{
    char buf[65536];
    int seen = 0, bad = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, idle_ms) > 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        fwrite(buf, 1, (size_t)n, stdout);
        for (ssize_t i = 0; i < n; i++)
            seen += buf[i] == '\n';
        if (memmem(buf, (size_t)n, "\"ok\":false", 10))
            bad = 1;
        if (lines && seen >= lines)
            break;
    }
    fflush(stdout);
    return bad;
}

/* Sends one request line; prints nothing; returns the reply (or NULL with
 * *rc = 2 when nmnd cannot be reached). */
static json_t *request(const char *path, json_t *req, int *rc)
{
    char *text = json_dumps(req, JSON_COMPACT);
    int fd = text ? connect_to(path) : -1;
    *rc = 2;
    if (fd < 0) {
        free(text);
        return NULL;
    }
    json_t *reply = NULL;
    if (send_all(fd, text, strlen(text)) == 0 && send_all(fd, "\n", 1) == 0) {
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        ssize_t n;
        while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
            len += (size_t)n;
            if (memchr(buf, '\n', len))
                break;
            if (len + 1 == cap) {
                char *grown = realloc(buf, cap *= 2);
                if (grown == NULL)
                    break;
                buf = grown;
            }
        }
        if (buf && len) {
            reply = json_loadb(buf, len, 0, NULL);
            *rc = reply ? 0 : 2;
        }
        free(buf);
    }
    if (reply == NULL)
        fprintf(stderr, "nmnctl: no reply from nmnd at %s\n", path);
    close(fd);
    free(text);
    return reply;
}

static int cmd_submit(const char *path, const char *file, int dry_run)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "nmnctl: %s: %s\n", file, strerror(errno));
        return 1;
    }
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text, f);
    int too_big = !feof(f);
    fclose(f);
    if (too_big) {
        fprintf(stderr, "nmnctl: %s: larger than 1 MiB\n", file);
        return 1;
    }
    sweep_t sw;
    char err[1024];
    if (sweep_parse(file, text, len, &sw, err, sizeof err)) {
        fprintf(stderr, "nmnctl: %s\n(nothing was submitted)\n", err);
        return 1;
    }
    if (dry_run) {
        printf("%5s  %-10s  %-4s  %6s  %9s  %s\n", "job", "benchmark", "arch", "seed", "episodes", "config hash");
        for (int i = 0; i < sw.njobs; i++)
            printf("%5d  %-10s  %-4s  %6ld  %9ld  %016llx\n", i, config_bench(&sw.jobs[i])->name,
                   sw.jobs[i].arch ? "rnn" : "nmn", sw.jobs[i].seed, sw.jobs[i].episodes,
                   (unsigned long long)config_hash(&sw.jobs[i]));
        printf("sweep '%s': %d jobs (dry run: nothing submitted)\n", sw.name, sw.njobs);
        sweep_free(&sw);
        return 0;
    }
    json_t *jobs = json_array();
    for (int i = 0; i < sw.njobs; i++) {
        char js[4096];
        config_to_json(&sw.jobs[i], js, sizeof js);
        json_array_append_new(jobs, json_loads(js, 0, NULL));
    }
    json_t *req = json_pack("{s:s, s:s, s:s%, s:i, s:o}", "method", "submit", "name", sw.name,
                            "yaml", text, len, "priority", sw.priority, "jobs", jobs);
    int rc;
    json_t *reply = request(path, req, &rc);
    json_decref(req);
    sweep_free(&sw);
    if (reply == NULL)
        return rc;
    if (json_is_true(json_object_get(reply, "ok"))) {
        printf("sweep %lld: %lld jobs, %lld new, %lld already existed (same config hash)\n",
               (long long)json_integer_value(json_object_get(reply, "sweep_id")),
               (long long)json_integer_value(json_object_get(reply, "jobs")),
               (long long)json_integer_value(json_object_get(reply, "new")),
               (long long)json_integer_value(json_object_get(reply, "existing")));
        rc = 0;
    } else {
        fprintf(stderr, "nmnctl: nmnd refused the sweep: %s\n",
                json_string_value(json_object_get(reply, "error")));
        rc = 1;
    }
    json_decref(reply);
    return rc;
}

/* The Slurm executor's live state, which only nmnd knows (quietly nothing
 * when nmnd is not running or runs jobs locally). */
static void print_slurm(const char *path)
{
    if (access(path, F_OK))
        return;
    int rc;
    json_t *req = json_pack("{s:s}", "method", "status");
    json_t *r = request(path, req, &rc), *sl = json_object_get(r, "slurm");
    json_decref(req);
    if (json_is_object(sl)) {
        const char *refusal = json_string_value(json_object_get(sl, "refusal"));
        printf("slurm: %lld allocations pending, %lld running, %lld workers connected, %lld reconnecting%s%s\n",
               (long long)json_integer_value(json_object_get(sl, "pending")),
               (long long)json_integer_value(json_object_get(sl, "running")),
               (long long)json_integer_value(json_object_get(sl, "workers")),
               (long long)json_integer_value(json_object_get(sl, "reconnecting")),
               refusal && *refusal ? "\n  the cluster said no: " : "", refusal && *refusal ? refusal : "");
    }
    json_decref(r);
}

static int usage_error(const char *cmd)
{
    fprintf(stderr, "nmnctl %s: bad arguments (nmnctl with no command lists them)\n", cmd);
    return 1;
}

static int parse_id(const char *text, long *id)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < 1 || v > 1000000000L)
        return 0;
    *id = v;
    return 1;
}

/* pause, resume, cancel, retry: one request, a one-line answer. */
static int simple(const char *path, const char *method, const char *key, long id)
{
    json_t *req = key ? json_pack("{s:s, s:I}", "method", method, key, (json_int_t)id)
                      : json_pack("{s:s}", "method", method);
    int rc;
    json_t *reply = request(path, req, &rc);
    json_decref(req);
    if (reply == NULL)
        return rc;
    if (json_is_true(json_object_get(reply, "ok"))) {
        if (key)
            printf("%s: %lld of %lld jobs changed\n", method,
                   (long long)json_integer_value(json_object_get(reply, "changed")),
                   (long long)json_integer_value(json_object_get(reply, "jobs")));
        else
            printf("%s: ok\n", method);
        rc = 0;
    } else {
        fprintf(stderr, "nmnctl %s: %s\n", method, json_string_value(json_object_get(reply, "error")));
        rc = 1;
    }
    json_decref(reply);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* nmnd may close on us: report it, do not die */
    const char *state = getenv("NMN_STATE_DIR"), *sock = getenv("NMN_SOCKET");
    if (state == NULL || *state == 0)
        state = "var";
    /* --json anywhere: machine-readable output of the read commands */
    int json_out = 0;
    for (int k = 1; k < argc; k++)
        if (strcmp(argv[k], "--json") == 0) {
            ctl_set_json(json_out = 1);
            memmove(argv + k, argv + k + 1, sizeof *argv * (size_t)(argc - k));
            argc--, k--;
        }
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "--state-dir") == 0)
            state = argv[i + 1];
        else if (strcmp(argv[i], "--socket") == 0)
            sock = argv[i + 1];
        else
            break;
    }
    char path[4096], db[4096];
    snprintf(path, sizeof path, "%s", sock ? sock : "");
    if (!sock)
        snprintf(path, sizeof path, "%s/nmnd.sock", state);
    snprintf(db, sizeof db, "%s/nmn.db", state);
    const char *cmd = i < argc ? argv[i] : "";
    for (int k = i; k < argc; k++)
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
            cmd = "--help"; /* nmnctl COMMAND --help: the usage of every command */
    int rest = argc - i - 1; /* arguments after the command */
    if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0)
        return rest == 0 ? simple(path, cmd, NULL, 0) : usage_error(cmd);
    if (strcmp(cmd, "cancel") == 0 || strcmp(cmd, "retry") == 0) {
        long id;
        if (rest == 1 && parse_id(argv[i + 1], &id))
            return simple(path, cmd, "sweep", id);
        if (rest == 2 && strcmp(argv[i + 1], "--job") == 0 && parse_id(argv[i + 2], &id))
            return simple(path, cmd, "job", id);
        return usage_error(cmd);
    }
    if (strcmp(cmd, "wait") == 0 || strcmp(cmd, "results") == 0 || strcmp(cmd, "curves") == 0) {
        long id, window = 1000;
        const char *csv = NULL;
        if (rest < 1 || !parse_id(argv[i + 1], &id))
            return usage_error(cmd);
        for (int k = i + 2; k < argc; k += 2) {
            if (strcmp(cmd, "curves") || k + 1 >= argc)
                return usage_error(cmd);
            if (strcmp(argv[k], "--window") == 0 && parse_id(argv[k + 1], &window))
                continue;
            if (strcmp(argv[k], "--csv") == 0) {
                csv = argv[k + 1];
                continue;
            }
            return usage_error(cmd);
        }
        return strcmp(cmd, "wait") == 0      ? ctl_wait(db, id)
               : strcmp(cmd, "results") == 0 ? ctl_results(db, id)
                                             : ctl_curves(db, id, window, csv);
    }
    if (strcmp(cmd, "plot") == 0) {
        long id;
        char def[64];
        if (rest < 1 || !parse_id(argv[i + 1], &id) || (rest != 1 && (rest != 3 || strcmp(argv[i + 2], "-o"))))
            return usage_error(cmd);
        snprintf(def, sizeof def, "sweep-%ld.png", id);
        return ctl_plot(db, id, rest == 3 ? argv[i + 3] : def);
    }
    if (strcmp(cmd, "status") == 0) {
        long id = -1;
        int watch = 0, jobs = 0;
        for (int k = i + 1; k < argc; k++) {
            if (strcmp(argv[k], "--watch") == 0)
                watch = 1;
            else if (strcmp(argv[k], "--jobs") == 0)
                jobs = 1;
            else if (id < 0 && parse_id(argv[k], &id))
                continue;
            else
                return usage_error(cmd);
        }
        if (jobs && (id < 0 || watch))
            return usage_error(cmd);
        int rc = jobs ? ctl_status_jobs(db, id) : ctl_status(db, id, watch);
        if (rc == 0 && !jobs && !json_out)
            print_slurm(path);
        return rc;
    }
    if (strcmp(cmd, "sql") == 0) {
        if (rest == 1)
            return ctl_sql(db, argv[i + 1], 0);
        if (rest == 2 && strcmp(argv[i + 1], "--csv") == 0)
            return ctl_sql(db, argv[i + 2], 1);
        return usage_error(cmd);
    }
    if (i < argc && strcmp(argv[i], "submit") == 0 && (i + 2 == argc || i + 3 == argc)) {
        int dry = 0;
        const char *file = NULL;
        for (int j = i + 1; j < argc; j++) {
            if (strcmp(argv[j], "--dry-run") == 0)
                dry = 1;
            else if (argv[j][0] == '-' || file) {
                fprintf(stderr, "nmnctl: submit: unexpected argument '%s'\n", argv[j]);
                return 1;
            } else
                file = argv[j];
        }
        if (file == NULL)
            return usage_error("submit");
        return cmd_submit(path, file, dry);
    }
    if (i < argc && strcmp(argv[i], "call") == 0 && i + 2 == argc) {
        int fd = connect_to(path);
        if (fd < 0)
            return 2;
        if (send_all(fd, argv[i + 1], strlen(argv[i + 1])) || send_all(fd, "\n", 1)) {
            fprintf(stderr, "nmnctl: lost the connection to nmnd\n");
            return 2;
        }
        int bad = relay(fd, 1, 30000);
        close(fd);
        return bad;
    }
    if (i < argc && strcmp(argv[i], "raw") == 0 && i + 1 == argc) {
        int fd = connect_to(path);
        if (fd < 0)
            return 2;
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
            if (send_all(fd, buf, n))
                break;
        shutdown(fd, SHUT_WR); /* half-close: the daemon still replies */
        relay(fd, 0, 2000);
        close(fd);
        return 0;
    }
    FILE *uo = strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0 ? stdout : stderr;
    fprintf(uo, "usage: nmnctl [--state-dir DIR] [--socket PATH] [--json] COMMAND\n"
                    "  submit FILE [--dry-run]       expand a sweep file and submit it\n"
                    "  cancel SWEEP | --job JOB      stop and cancel (running jobs at their next iteration)\n"
                    "  retry SWEEP | --job JOB       failed or cancelled jobs back to the queue\n"
                    "  pause | resume                hold or release the queue\n"
                    "  status [SWEEP] [--watch]      progress, jobs by state, speed and ETA\n"
                    "  status SWEEP --jobs           one row per job: state, episodes, attempts, error\n"
                    "  wait SWEEP                    until every job ended; exit 0 if all are done\n"
                    "  results SWEEP                 one row per job: final and best running mean\n"
                    "  curves SWEEP [--window N] [--csv FILE]   mean and std across seeds per episode\n"
                    "  plot SWEEP [-o FILE.png|.svg] learning curves like the paper's Figure 2\n"
                    "  sql [--csv] \"SELECT ...\"     a query on a read-only connection\n"
                    "  call JSON                     one raw request and its reply\n"
                    "  raw < BYTES                   stdin as-is, every reply\n"
                    "  (state dir: --state-dir, else $NMN_STATE_DIR, else ./var; socket: --socket,\n"
                    "   else $NMN_SOCKET, else STATE_DIR/nmnd.sock)\n");
    return uo == stdout ? 0 : 1;
}
