/* options.c - nmnd's settings (options.h). */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

const char *const options_log_levels[] = {"error", "warn", "info", "debug", NULL};

void options_defaults(nmnd_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->state_dir = "var";
    o->workers = sysconf(_SC_NPROCESSORS_ONLN);
    o->ckpt_every = 10, o->ckpt_secs = 300, o->max_attempts = 3, o->log_level = 2;
    slurm_opts_t *s = &o->so;
    s->max_allocations = 8, s->jobs_per_allocation = 1;
    s->listen = "127.0.0.1", s->port = 7070;
    s->grace_secs = 120, s->heartbeat_secs = 10, s->signal_secs = 120, s->reconnect_secs = 300;
    s->output = "/tmp/nmn-worker-%j.log";
}

static int num(const char *key, const char *v, long lo, long hi, long *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) {
        snprintf(err, errlen, "%s: '%s' is not an integer in [%ld, %ld]", key, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int options_set(nmnd_opts_t *o, const char *key, const char *v, char *err, size_t errlen)
{
    slurm_opts_t *s = &o->so;
    const struct { const char *key; long lo, hi; long *l; int *i; } ints[] = {
        {"workers", 1, 1024, &o->workers, NULL},
        {"checkpoint-every", 1, 1000000, &o->ckpt_every, NULL},
        {"checkpoint-secs", 1, 604800, &o->ckpt_secs, NULL},
        {"max-attempts", 1, 1000, &o->max_attempts, NULL},
        {"slurm-max-allocations", 1, 100000, NULL, &s->max_allocations},
        {"slurm-jobs-per-allocation", 1, 100000, NULL, &s->jobs_per_allocation},
        {"slurm-port", 1, 65535, NULL, &s->port},
        {"slurm-grace-secs", 1, 86400, NULL, &s->grace_secs},
        {"slurm-heartbeat-secs", 1, 3600, NULL, &s->heartbeat_secs},
        {"slurm-signal-secs", 1, 86400, NULL, &s->signal_secs},
        {"slurm-reconnect-secs", 0, 86400, NULL, &s->reconnect_secs},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long x;
        if (strcmp(key, ints[i].key))
            continue;
        if (num(key, v, ints[i].lo, ints[i].hi, &x, err, errlen))
            return -1;
        if (ints[i].l)
            *ints[i].l = x;
        else
            *ints[i].i = (int)x;
        return 0;
    }
    const struct { const char *key; const char **p; } strs[] = {
        {"state-dir", &o->state_dir}, {"socket", &o->socket}, {"log", &o->log},
        {"slurm-partition", &s->partition}, {"slurm-account", &s->account},
        {"slurm-time-limit", &s->time_limit}, {"slurm-listen", &s->listen},
        {"slurm-advertise", &s->advertise}, {"slurm-worker", &s->worker}, {"slurm-output", &s->output},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strcmp(key, strs[i].key))
            continue;
        if (*v == 0) {
            snprintf(err, errlen, "%s: empty value", key);
            return -1;
        }
        *strs[i].p = v;
        return 0;
    }
    if (strcmp(key, "slurm-sbatch-option") == 0) {
        if (s->n_sbatch_options == SLURM_MAX_SBATCH_OPTIONS || v[0] != '-') {
            snprintf(err, errlen, "%s: '%s': at most %d options, each starting with '-'", key, v,
                     SLURM_MAX_SBATCH_OPTIONS);
            return -1;
        }
        s->sbatch_options[s->n_sbatch_options++] = v;
        return 0;
    }
    if (strcmp(key, "executor") == 0) {
        if (strcmp(v, "local") && strcmp(v, "slurm")) {
            snprintf(err, errlen, "executor: '%s' is not local or slurm", v);
            return -1;
        }
        o->slurm = strcmp(v, "slurm") == 0;
        return 0;
    }
    if (strcmp(key, "log-level") == 0) {
        int l = 3;
        while (l >= 0 && strcmp(v, options_log_levels[l]))
            l--;
        if (l < 0) {
            snprintf(err, errlen, "log-level: '%s' is not error|warn|info|debug", v);
            return -1;
        }
        o->log_level = l;
        return 0;
    }
    snprintf(err, errlen, "%s: unknown option (nmnd --help lists them)", key);
    return -1;
}

/* --- the config file ------------------------------------------------------------ */

typedef struct reader {
    yaml_parser_t p;
    const char *path;
    char *err;
    size_t errlen;
} reader_t;

static int next_event(reader_t *r, yaml_event_t *e)
{
    if (yaml_parser_parse(&r->p, e))
        return 0;
    snprintf(r->err, r->errlen, "%s:%zu:%zu: invalid YAML: %s", r->path, r->p.problem_mark.line + 1,
             r->p.problem_mark.column + 1, r->p.problem ? r->p.problem : "?");
    return -1;
}

static int at(reader_t *r, const yaml_event_t *e, const char *msg, const char *what)
{
    snprintf(r->err, r->errlen, "%s:%zu:%zu: %s%s", r->path, e->start_mark.line + 1,
             e->start_mark.column + 1, msg, what ? what : "");
    return -1;
}

/* Applies key (a flag name, '_' read as '-') = the scalar event v. */
static int apply(nmnd_opts_t *o, reader_t *r, const char *prefix, const char *key, const yaml_event_t *v)
{
    char name[96], msg[512];
    snprintf(name, sizeof name, "%s%s", prefix, key);
    for (char *c = name; *c; c++)
        if (*c == '_')
            *c = '-';
    size_t n = v->data.scalar.length + 1;
    if (n > sizeof o->text - o->used)
        return at(r, v, "the config file's values are too long", NULL);
    char *copy = memcpy(o->text + o->used, v->data.scalar.value, n);
    o->used += n;
    if (strcmp(name, "config") == 0 || options_set(o, name, copy, msg, sizeof msg))
        return at(r, v, strcmp(name, "config") ? msg : "a config file cannot name another", NULL);
    return 0;
}

/* A mapping of key: scalar (and, under slurm, sbatch_options: [list]). */
static int read_map(nmnd_opts_t *o, reader_t *r, const char *prefix)
{
    for (;;) {
        yaml_event_t k, v;
        if (next_event(r, &k))
            return -1;
        if (k.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&k);
            return 0;
        }
        if (k.type != YAML_SCALAR_EVENT) {
            int rc = at(r, &k, "expected a key", NULL);
            yaml_event_delete(&k);
            return rc;
        }
        char key[64];
        snprintf(key, sizeof key, "%s", (const char *)k.data.scalar.value);
        if (next_event(r, &v)) {
            yaml_event_delete(&k);
            return -1;
        }
        int rc = 0;
        if (v.type == YAML_SCALAR_EVENT)
            rc = apply(o, r, prefix, key, &v);
        else if (v.type == YAML_MAPPING_START_EVENT && !*prefix && strcmp(key, "slurm") == 0)
            rc = read_map(o, r, "slurm-");
        else if (v.type == YAML_SEQUENCE_START_EVENT && strcmp(prefix, "slurm-") == 0 &&
                 strcmp(key, "sbatch_options") == 0) {
            for (;;) {
                yaml_event_t item;
                if ((rc = next_event(r, &item)))
                    break;
                int end = item.type == YAML_SEQUENCE_END_EVENT;
                if (!end)
                    rc = item.type == YAML_SCALAR_EVENT ? apply(o, r, "slurm-", "sbatch-option", &item)
                                                        : at(r, &item, "sbatch_options: expected strings", NULL);
                yaml_event_delete(&item);
                if (end || rc)
                    break;
            }
        } else
            rc = at(r, &v, "expected a single value for ", key);
        yaml_event_delete(&k), yaml_event_delete(&v);
        if (rc)
            return rc;
    }
}

int options_load(nmnd_opts_t *o, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    reader_t r = {.path = path, .err = err, .errlen = errlen};
    yaml_parser_initialize(&r.p);
    yaml_parser_set_input_file(&r.p, f);
    int rc = -1, depth = 0;
    for (;;) { /* stream start, document start, then the top mapping */
        yaml_event_t e;
        if (next_event(&r, &e))
            break;
        yaml_event_type_t t = e.type;
        if (t == YAML_MAPPING_START_EVENT && depth == 0) {
            yaml_event_delete(&e);
            depth = 1;
            if ((rc = read_map(o, &r, "")))
                break;
            continue;
        }
        if (t == YAML_STREAM_END_EVENT || (t == YAML_DOCUMENT_END_EVENT && depth)) {
            rc = depth ? 0 : at(&r, &e, "expected a mapping of settings", NULL);
            yaml_event_delete(&e);
            break;
        }
        if (t != YAML_STREAM_START_EVENT && t != YAML_DOCUMENT_START_EVENT) {
            rc = at(&r, &e, "expected a mapping of settings", NULL);
            yaml_event_delete(&e);
            break;
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&r.p);
    fclose(f);
    return rc;
}

void options_usage(FILE *out)
{
    fprintf(out,
            "usage: nmnd [--config FILE] [--state-dir DIR] [--executor local|slurm] [--workers N]\n"
            "            [--socket PATH] [--checkpoint-every K] [--checkpoint-secs S]\n"
            "            [--max-attempts N] [--log FILE] [--log-level L] [--slurm-KEY VALUE ...]\n"
            "  --config          a YAML file of these settings (keys without the dashes, '_' or\n"
            "                    '-'; the slurm ones in a `slurm:` mapping); flags override it\n"
            "  --state-dir       database, checkpoints, socket, lock, token (default ./var)\n"
            "  --executor        local: worker threads here (default); slurm: sbatch allocations\n"
            "                    running nmn-worker serve, which connect back over TCP\n"
            "  --workers         local: jobs run at once, one thread each (default: online CPUs)\n"
            "  --socket          control socket (default $RUNTIME_DIRECTORY/nmnd.sock under\n"
            "                    systemd, else STATE_DIR/nmnd.sock)\n"
            "  --checkpoint-every  iterations between checkpoints (default 10)\n"
            "  --checkpoint-secs   and at least this often, in seconds (default 300)\n"
            "  --max-attempts    a job that fails this many times stays failed (default 3)\n"
            "  --log             append the log to FILE, reopened on SIGHUP (default stderr)\n"
            "  --log-level       error|warn|info|debug (default info)\n"
            "slurm (--slurm-KEY, or KEY under `slurm:` in the config file):\n"
            "  partition, account, time-limit   sbatch -p, -A, -t (default: the cluster's)\n"
            "  sbatch-option     one more sbatch option, e.g. --qos=short (repeatable; in the\n"
            "                    file: sbatch_options: [...])\n"
            "  max-allocations   allocations queued or running at once (default 8)\n"
            "  jobs-per-allocation  jobs one allocation runs in turn (default 1)\n"
            "  listen, port      TCP address the workers connect to (default 127.0.0.1 7070)\n"
            "  advertise         host name the workers dial (default: listen, or this host)\n"
            "  worker            nmn-worker on the nodes (default: beside nmnd)\n"
            "  output            sbatch --output (default /tmp/nmn-worker-%%j.log, node-local)\n"
            "  heartbeat-secs    worker heartbeat period (default 10; 3 missed = gone)\n"
            "  grace-secs        a lost worker's time to reconnect before its job is requeued\n"
            "                    (default 120)\n"
            "  signal-secs       --signal=B:USR1@S: checkpoint S s before the time limit (default 120)\n"
            "  reconnect-secs    how long a worker keeps trying to reach nmnd (default 300)\n");
}
