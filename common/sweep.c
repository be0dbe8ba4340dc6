/* sweep.c - parse a sweep file into a small tree that keeps every node's
 * position, check it, and expand it into resolved job configs. */
#include "sweep.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { N_SCALAR, N_SEQ, N_MAP };
#define MAX_DEPTH 16
#define MAX_NODES 100000

typedef struct node {
    int kind, line, col;
    char *value;         /* scalars */
    struct node **items; /* sequences: n items; mappings: n (key, value) pairs */
    int n;
    int filled;          /* slots of items in use (a key may lack its value yet) */
} node_t;

typedef struct ctx {
    const char *file;
    char *err;
    size_t errlen;
    int nodes;
} ctx_t;

static int fail_at(ctx_t *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(ctx_t *c, int line, int col, const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "%s:%d:%d: ", c->file, line, col);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->errlen)
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void node_free(node_t *n)
{
    if (n == NULL)
        return;
    for (int i = 0; i < n->filled; i++)
        node_free(n->items[i]);
    free(n->items), free(n->value), free(n);
}

static node_t *node_new(ctx_t *c, int kind, const yaml_event_t *ev)
{
    if (++c->nodes > MAX_NODES) {
        fail_at(c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "more than %d YAML nodes", MAX_NODES);
        return NULL;
    }
    node_t *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = (int)ev->start_mark.line + 1, n->col = (int)ev->start_mark.column + 1;
    }
    return n;
}

/* Stores child at items[slot], growing the array. */
static int push(node_t *n, int slot, node_t *child, int *cap)
{
    if (slot >= *cap) {
        *cap = *cap ? 2 * *cap : 8;
        node_t **grown = realloc(n->items, sizeof *grown * (size_t)*cap);
        if (grown == NULL)
            return -1;
        n->items = grown;
    }
    n->items[slot] = child;
    n->filled = slot + 1;
    return 0;
}

static int next_event(ctx_t *c, yaml_parser_t *p, yaml_event_t *ev)
{
    if (yaml_parser_parse(p, ev))
        return 0;
    return fail_at(c, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
                   "invalid YAML: %s", p->problem ? p->problem : "parse error");
}

/* Builds the node that starts with event `ev` (consumed). */
static node_t *parse_node(ctx_t *c, yaml_parser_t *p, yaml_event_t *ev, int depth)
{
    if (depth > MAX_DEPTH) {
        fail_at(c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "nested deeper than %d levels", MAX_DEPTH);
        yaml_event_delete(ev);
        return NULL;
    }
    node_t *n = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if ((n = node_new(c, N_SCALAR, ev)))
            n->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        yaml_event_delete(ev);
        return n;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int map = ev->type == YAML_MAPPING_START_EVENT, cap = 0, half = 0;
        yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        n = node_new(c, map ? N_MAP : N_SEQ, ev);
        yaml_event_delete(ev);
        if (n == NULL)
            return NULL;
        for (;;) {
            yaml_event_t e;
            if (next_event(c, p, &e)) {
                node_free(n);
                return NULL;
            }
            if (e.type == end) {
                yaml_event_delete(&e);
                return n;
            }
            node_t *child = parse_node(c, p, &e, depth + 1);
            if (child == NULL || push(n, map ? 2 * n->n + half : n->n, child, &cap)) {
                node_free(child);
                node_free(n);
                return NULL;
            }
            if (!map)
                n->n++;
            else if (++half == 2)
                half = 0, n->n++;
        }
    }
    case YAML_ALIAS_EVENT:
        fail_at(c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "YAML aliases are not supported in sweep files");
        break;
    default:
        fail_at(c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "unexpected YAML content");
        break;
    }
    yaml_event_delete(ev);
    return NULL;
}

static node_t *parse_document(ctx_t *c, const char *text, size_t len)
{
    yaml_parser_t p;
    yaml_event_t ev;
    node_t *root = NULL;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    for (;;) {
        if (next_event(c, &p, &ev))
            break;
        if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            fail_at(c, 1, 1, "empty sweep file");
            break;
        }
        root = parse_node(c, &p, &ev, 0);
        if (root && next_event(c, &p, &ev) == 0) { /* DOCUMENT_END; no second document */
            yaml_event_type_t t = ev.type;
            int line = (int)ev.start_mark.line + 1;
            yaml_event_delete(&ev);
            if (t == YAML_DOCUMENT_END_EVENT && next_event(c, &p, &ev) == 0) {
                t = ev.type, line = (int)ev.start_mark.line + 1;
                yaml_event_delete(&ev);
            }
            if (t != YAML_STREAM_END_EVENT) {
                fail_at(c, line, 1, "one YAML document per sweep file");
                node_free(root);
                root = NULL;
            }
        } else if (root) {
            node_free(root);
            root = NULL;
        }
        break;
    }
    yaml_parser_delete(&p);
    return root;
}

/* --- checking ---------------------------------------------------------------- */

static const char *const top_keys[] = {"name", "benchmarks", "archs", "seeds", "episodes",
                                       "priority", "set", "grid", NULL};

static int want_scalar(ctx_t *c, const node_t *n, const char *what)
{
    if (n->kind == N_SCALAR)
        return 0;
    return fail_at(c, n->line, n->col, "%s: expected a single value, found a %s", what,
                   n->kind == N_SEQ ? "list" : "mapping");
}

/* Checks value for config key `key` through the config table, at n. */
static int check_value(ctx_t *c, const node_t *n, const char *key, job_config_t *scratch)
{
    char msg[512];
    if (want_scalar(c, n, key))
        return -1;
    if (config_set(scratch, key, n->value, msg, sizeof msg))
        return fail_at(c, n->line, n->col, "%s", msg);
    return 0;
}

/* A scalar or a list of scalars, each valid for `key`: returns them as a
 * malloc'd array of *count nodes, or NULL after an error. */
static const node_t **value_list(ctx_t *c, const node_t *n, const char *what, const char *key,
                                 int *count)
{
    job_config_t scratch;
    config_defaults(&scratch);
    if (n->kind == N_MAP) {
        fail_at(c, n->line, n->col, "%s: expected a value or a list of values, found a mapping", what);
        return NULL;
    }
    if (n->kind == N_SEQ && n->n == 0) {
        fail_at(c, n->line, n->col, "%s: empty list: the sweep would have no jobs", what);
        return NULL;
    }
    *count = n->kind == N_SEQ ? n->n : 1;
    const node_t **items = malloc(sizeof *items * (size_t)*count);
    if (items == NULL) {
        fail_at(c, n->line, n->col, "out of memory");
        return NULL;
    }
    for (int i = 0; i < *count; i++) {
        items[i] = n->kind == N_SEQ ? n->items[i] : n;
        if (check_value(c, items[i], key, &scratch)) {
            free(items);
            return NULL;
        }
    }
    return items;
}

/* seeds: an integer, a list of integers, or "A..B" (inclusive). */
static int parse_seeds(ctx_t *c, const node_t *n, long **seeds, int *count)
{
    job_config_t scratch;
    config_defaults(&scratch);
    const char *dots = n->kind == N_SCALAR ? strstr(n->value, "..") : NULL;
    if (dots) {
        char lo_text[32], msg[512];
        size_t l = (size_t)(dots - n->value);
        snprintf(lo_text, sizeof lo_text, "%.*s", (int)(l < 31 ? l : 31), n->value);
        if (config_set(&scratch, "seed", lo_text, msg, sizeof msg))
            return fail_at(c, n->line, n->col, "seeds: '%s' is not a range A..B of integers (%s)", n->value, msg);
        long lo = scratch.seed;
        if (config_set(&scratch, "seed", dots + 2, msg, sizeof msg))
            return fail_at(c, n->line, n->col, "seeds: '%s' is not a range A..B of integers (%s)", n->value, msg);
        long hi = scratch.seed;
        if (hi < lo)
            return fail_at(c, n->line, n->col, "seeds: the range %ld..%ld is backwards (write %ld..%ld)", lo, hi, hi, lo);
        if (hi - lo >= SWEEP_MAX_JOBS)
            return fail_at(c, n->line, n->col, "seeds: %ld..%ld is more than %d seeds", lo, hi, SWEEP_MAX_JOBS);
        *count = (int)(hi - lo + 1);
        *seeds = malloc(sizeof **seeds * (size_t)*count);
        for (int i = 0; *seeds && i < *count; i++)
            (*seeds)[i] = lo + i;
        return *seeds ? 0 : fail_at(c, n->line, n->col, "out of memory");
    }
    const node_t **items = value_list(c, n, "seeds", "seed", count);
    if (items == NULL)
        return -1;
    *seeds = malloc(sizeof **seeds * (size_t)*count);
    for (int i = 0; *seeds && i < *count; i++) {
        char msg[512];
        config_set(&scratch, "seed", items[i]->value, msg, sizeof msg);
        (*seeds)[i] = scratch.seed;
        for (int j = 0; j < i; j++)
            if ((*seeds)[j] == (*seeds)[i]) {
                int rc = fail_at(c, items[i]->line, items[i]->col, "seeds: %ld is listed twice", (*seeds)[i]);
                free(*seeds), free(items);
                *seeds = NULL;
                return rc;
            }
    }
    free(items);
    return *seeds ? 0 : fail_at(c, n->line, n->col, "out of memory");
}

static int check_keys(ctx_t *c, const node_t *map, const char *where)
{
    for (int i = 0; i < map->n; i++) {
        const node_t *k = map->items[2 * i];
        if (k->kind != N_SCALAR)
            return fail_at(c, k->line, k->col, "%s: keys must be plain names", where);
        for (int j = 0; j < i; j++)
            if (strcmp(map->items[2 * j]->value, k->value) == 0)
                return fail_at(c, k->line, k->col, "%s: duplicate key '%s' (first at line %d)", where,
                               k->value, map->items[2 * j]->line);
    }
    return 0;
}

static const node_t *get(const node_t *map, const char *key)
{
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->items[2 * i]->value, key) == 0)
            return map->items[2 * i + 1];
    return NULL;
}

/* The keys the sweep's own axes set. */
static int axis_key(const char *k)
{
    return !strcmp(k, "bench") || !strcmp(k, "arch") || !strcmp(k, "seed") || !strcmp(k, "episodes");
}

static int expand(ctx_t *c, const node_t *root, sweep_t *s)
{
    const node_t *n;
    if (root->kind != N_MAP)
        return fail_at(c, root->line, root->col, "a sweep file is a mapping of %s", "name, benchmarks, archs, seeds, ...");
    if (check_keys(c, root, "sweep"))
        return -1;
    for (int i = 0; i < root->n; i++) {
        const node_t *k = root->items[2 * i];
        int known = 0;
        for (int j = 0; top_keys[j]; j++)
            known |= strcmp(k->value, top_keys[j]) == 0;
        if (!known)
            return fail_at(c, k->line, k->col, "unknown key '%s' (expected name, benchmarks, archs, seeds, "
                                                "episodes, priority, set, grid)", k->value);
    }
    static const char *const required[] = {"name", "benchmarks", "archs", "seeds", NULL};
    for (int j = 0; required[j]; j++)
        if (get(root, required[j]) == NULL)
            return fail_at(c, root->line, root->col, "missing key '%s'", required[j]);
    n = get(root, "name");
    if (want_scalar(c, n, "name"))
        return -1;
    if (n->value[0] == 0 || strlen(n->value) > 256)
        return fail_at(c, n->line, n->col, "name: expected 1 to 256 characters");
    snprintf(s->name, sizeof s->name, "%s", n->value);

    job_config_t base;
    config_defaults(&base);
    char msg[512];
    if ((n = get(root, "priority"))) {
        char *end;
        errno = 0;
        long v = n->kind == N_SCALAR ? strtol(n->value, &end, 10) : 0;
        if (n->kind != N_SCALAR || end == n->value || *end || errno || v < -1000000 || v > 1000000)
            return fail_at(c, n->line, n->col, "priority: expected an integer in [-1000000, 1000000]");
        s->priority = (int)v;
    }
    if ((n = get(root, "episodes")) && check_value(c, n, "episodes", &base))
        return -1;
    if ((n = get(root, "set"))) {
        if (n->kind != N_MAP)
            return fail_at(c, n->line, n->col, "set: expected a mapping of config keys to values");
        if (check_keys(c, n, "set"))
            return -1;
        for (int i = 0; i < n->n; i++) {
            const node_t *k = n->items[2 * i];
            if (axis_key(k->value))
                return fail_at(c, k->line, k->col, "set: '%s' is one of the sweep's own keys "
                                                    "(benchmarks, archs, seeds, episodes)", k->value);
            if (config_find(k->value) == NULL && strcmp(k->value, "preset") != 0)
                return fail_at(c, k->line, k->col, "set: unknown config key '%s'", k->value);
            if (check_value(c, n->items[2 * i + 1], k->value, &base))
                return -1;
        }
    }
    int nb, na, ns, ng = 0, rc = -1;
    long *seeds = NULL;
    const node_t **benches = value_list(c, get(root, "benchmarks"), "benchmarks", "bench", &nb);
    const node_t **archs = benches ? value_list(c, get(root, "archs"), "archs", "arch", &na) : NULL;
    if (archs == NULL || parse_seeds(c, get(root, "seeds"), &seeds, &ns))
        goto out;
    const node_t *grid = get(root, "grid");
    long points = 1;
    if (grid) {
        if (grid->kind != N_MAP) {
            fail_at(c, grid->line, grid->col, "grid: expected a mapping of config keys to lists");
            goto out;
        }
        if (check_keys(c, grid, "grid"))
            goto out;
        ng = grid->n;
        for (int i = 0; i < ng && points <= SWEEP_MAX_JOBS; i++) {
            const node_t *k = grid->items[2 * i], *v = grid->items[2 * i + 1];
            job_config_t scratch = base;
            int bad = axis_key(k->value) ? fail_at(c, k->line, k->col, "grid: '%s' is one of the sweep's own keys", k->value)
                      : config_find(k->value) == NULL ? fail_at(c, k->line, k->col, "grid: unknown config key '%s'", k->value)
                      : v->kind != N_SEQ ? fail_at(c, v->line, v->col, "grid: %s: expected a list of values", k->value)
                      : v->n == 0 ? fail_at(c, v->line, v->col, "grid: %s: empty list: the sweep would have no jobs", k->value)
                                  : 0;
            for (int j = 0; !bad && j < v->n; j++)
                bad = check_value(c, v->items[j], k->value, &scratch);
            if (bad)
                goto out;
            points *= v->n;
        }
    }
    long total = (long)nb * na * ns * points;
    if (total > SWEEP_MAX_JOBS) {
        fail_at(c, root->line, root->col, "the sweep has %ld jobs, more than the limit of %d", total, SWEEP_MAX_JOBS);
        goto out;
    }
    if ((s->jobs = calloc((size_t)total, sizeof *s->jobs)) == NULL) {
        fail_at(c, root->line, root->col, "out of memory");
        goto out;
    }
    /* order: benchmark, arch, grid point (last key fastest), seed */
    for (int b = 0; b < nb; b++)
        for (int a = 0; a < na; a++)
            for (long g = 0; g < points; g++)
                for (int k = 0; k < ns; k++) {
                    job_config_t j = base;
                    config_set(&j, "bench", benches[b]->value, msg, sizeof msg);
                    config_set(&j, "arch", archs[a]->value, msg, sizeof msg);
                    j.seed = seeds[k];
                    for (long rest = g, i = ng - 1; i >= 0; i--) {
                        const node_t *v = grid->items[2 * i + 1];
                        config_set(&j, grid->items[2 * i]->value, v->items[rest % v->n]->value, msg, sizeof msg);
                        rest /= v->n;
                    }
                    if (config_check(&j, msg, sizeof msg)) {
                        fail_at(c, root->line, root->col, "job %d (%s, %s, seed %ld): %s", s->njobs,
                                benches[b]->value, archs[a]->value, seeds[k], msg);
                        goto out;
                    }
                    s->jobs[s->njobs++] = j;
                }
    rc = 0;
out:
    free(benches), free(archs), free(seeds);
    return rc;
}

int sweep_parse(const char *file, const char *text, size_t len, sweep_t *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    ctx_t c = {file, err, errlen, 0};
    node_t *root = parse_document(&c, text, len);
    if (root == NULL)
        return -1;
    int rc = expand(&c, root, s);
    node_free(root);
    if (rc)
        sweep_free(s);
    return rc;
}

void sweep_free(sweep_t *s)
{
    free(s->jobs);
    s->jobs = NULL;
    s->njobs = 0;
}
