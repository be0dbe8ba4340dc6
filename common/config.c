/* config.c - the job configuration table and its parser. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(job_config_t, f)

static const char *const bench_names[] = {"target1d", "wind2d", "twotargets", NULL};
static const char *const arch_names[] = {"nmn", "rnn", NULL};
static const char *const explore_names[] = {"shared", "independent", NULL};
static const char *const zgroup_names[] = {"shared", "per_layer", NULL};

const cfg_key_t cfg_keys[] = {
    {"bench", CFG_ENUM, OFF(bench), 0, 0, 0, bench_names,
     "benchmark: target1d|wind2d|twotargets (or 1|2|3)"},
    {"arch", CFG_ENUM, OFF(arch), 0, 0, 0, arch_names, "architecture: nmn|rnn"},
    {"seed", CFG_LONG, OFF(seed), 0, 2147483647, 0, NULL, "random seed of the job"},
    {"episodes", CFG_LONG, OFF(episodes), 1, 1e9, 20000, NULL,
     "training episodes (rounded up to whole batches)"},
    {"batch", CFG_INT, OFF(batch), 1, 1000, 50, NULL,
     "parallel episodes per PPO iteration"},
    {"gamma", CFG_DOUBLE, OFF(gamma), 0, 1, 0.998, NULL, "discount"},
    {"lambda", CFG_DOUBLE, OFF(lambda), 0, 1, 0.98, NULL, "GAE lambda"},
    {"train_cut", CFG_INT, OFF(train_cut), 0, 5000, 0, NULL,
     "steps of each episode trained on; 0 = the benchmark's (400/2000/2000)"},
    {"chunk", CFG_INT, OFF(chunk), 1, 5000, 200, NULL, "BPTT chunk length"},
    {"policy_steps", CFG_INT, OFF(policy_steps), 1, 1000, 20, NULL,
     "Adam steps per policy update"},
    {"policy_lr", CFG_DOUBLE, OFF(policy_lr), 1e-9, 1, 2e-4, NULL, "policy learning rate"},
    {"kl_targ", CFG_DOUBLE, OFF(kl_targ), 1e-9, 10, 0.003, NULL, "KL target"},
    {"eta", CFG_DOUBLE, OFF(eta), 0, 1e6, 50, NULL, "weight of the KL hinge penalty"},
    {"beta_init", CFG_DOUBLE, OFF(beta_init), 1e-9, 1e6, 1, NULL, "initial KL penalty beta"},
    {"beta_min", CFG_DOUBLE, OFF(beta_min), 1e-9, 1e6, 1.0 / 35, NULL, "lower bound of beta"},
    {"beta_max", CFG_DOUBLE, OFF(beta_max), 1e-9, 1e6, 35, NULL, "upper bound of beta"},
    {"value_epochs", CFG_INT, OFF(value_epochs), 0, 1000, 10, NULL, "critic epochs per iteration"},
    {"value_minibatch", CFG_INT, OFF(value_minibatch), 1, 100000, 25, NULL,
     "critic minibatch, in chunks"},
    {"value_lr", CFG_DOUBLE, OFF(value_lr), 1e-9, 1, 6e-3, NULL, "critic learning rate"},
    {"replay", CFG_INT, OFF(replay), 1, 100, 3, NULL, "iterations kept in the critic's replay buffer"},
    {"adam_beta1", CFG_DOUBLE, OFF(adam_beta1), 0, 0.999999, 0.9, NULL, "Adam beta1"},
    {"adam_beta2", CFG_DOUBLE, OFF(adam_beta2), 0, 0.999999999, 0.999, NULL, "Adam beta2"},
    {"adam_eps", CFG_DOUBLE, OFF(adam_eps), 1e-12, 1, 1e-8, NULL, "Adam epsilon"},
    {"init_std", CFG_DOUBLE, OFF(init_std), 0, 10, 0.1, NULL,
     "std of the truncated-normal weight init"},
    {"exploration_noise", CFG_ENUM, OFF(exploration_noise), 0, 0, EXPLORE_SHARED,
     explore_names, "shared (one draw per step for the batch, as the reference) | independent"},
    {"z_groups", CFG_ENUM, OFF(z_groups), 0, 0, 0, zgroup_names,
     "shared (one z for every nm-layer) | per_layer (Feb 2019 reference)"},
    {"wind_half_cone", CFG_DOUBLE, OFF(wind_half_cone), 0, 3.141592653589793,
     0.7853981633974483, NULL, "wind2d half-cone in radians (Feb 2019: pi/5)"},
};
const size_t cfg_nkeys = sizeof cfg_keys / sizeof cfg_keys[0];

/* Presets expand into ordinary keys, so a job's identity (its JSON and hash)
 * is the same whether it was written with the preset or with the keys. */
static const struct {
    const char *name, *pairs[3], *help;
} presets[] = {
    {"2019-02", {"z_groups=per_layer", "wind_half_cone=0.6283185307179586", NULL},
     "the February 2019 reference: z_groups=per_layer, wind_half_cone=pi/5"},
};

static int *int_at(job_config_t *c, const cfg_key_t *k)
{
    return (int *)((char *)c + k->offset);
}

void config_defaults(job_config_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const cfg_key_t *k = &cfg_keys[i];
        char *p = (char *)c + k->offset;
        switch (k->type) {
        case CFG_INT:
        case CFG_ENUM:
            *(int *)p = (int)k->def;
            break;
        case CFG_LONG:
            *(long *)p = (long)k->def;
            break;
        case CFG_DOUBLE:
            *(double *)p = k->def;
            break;
        }
    }
}

const bench_info_t *config_bench(const job_config_t *c)
{
    return bench_get((enum bench_id)(c->bench + 1));
}

int config_train_cut(const job_config_t *c)
{
    return c->train_cut ? c->train_cut : config_bench(c)->train_cut;
}

const cfg_key_t *config_find(const char *name)
{
    for (size_t i = 0; i < cfg_nkeys; i++)
        if (strcmp(cfg_keys[i].name, name) == 0)
            return &cfg_keys[i];
    return NULL;
}

static void enum_list(const cfg_key_t *k, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; k->enums[i] && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "|" : "", k->enums[i]);
}

int config_set(job_config_t *c, const char *key, const char *value,
               char *err, size_t errlen)
{
    if (strcmp(key, "preset") == 0) {
        for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
            if (strcmp(value, presets[i].name) == 0) {
                for (int j = 0; presets[i].pairs[j]; j++)
                    config_set_pair(c, presets[i].pairs[j], err, errlen);
                return 0;
            }
        snprintf(err, errlen, "preset: '%s' is not a known preset (2019-02)", value);
        return -1;
    }
    const cfg_key_t *k = config_find(key);
    if (k == NULL) {
        snprintf(err, errlen, "unknown config key '%s' (nmn-worker train --help lists them)", key);
        return -1;
    }
    char *p = (char *)c + k->offset, *end;
    if (k->type == CFG_ENUM) {
        char list[160];
        for (int i = 0; k->enums[i]; i++) {
            /* benchmarks are also named by number: 1|2|3 */
            char digit[2] = {(char)('1' + i), 0};
            if (strcmp(value, k->enums[i]) == 0 ||
                (k->enums == bench_names && strcmp(value, digit) == 0)) {
                *int_at(c, k) = i;
                return 0;
            }
        }
        enum_list(k, list, sizeof list);
        snprintf(err, errlen, "%s: '%s' is not one of %s", key, value, list);
        return -1;
    }
    errno = 0;
    double v = k->type == CFG_DOUBLE ? strtod(value, &end) : (double)strtoll(value, &end, 10);
    if (end == value || *end != 0 || errno == ERANGE || !isfinite(v)) {
        snprintf(err, errlen, "%s: '%s' is not %s", key, value,
                 k->type == CFG_DOUBLE ? "a number" : "an integer");
        return -1;
    }
    if (v < k->min || v > k->max) {
        snprintf(err, errlen, "%s: %s is out of range [%.10g, %.10g]", key, value, k->min,
                 k->max);
        return -1;
    }
    if (k->type == CFG_INT)
        *(int *)p = (int)v;
    else if (k->type == CFG_LONG)
        *(long *)p = (long)v;
    else
        *(double *)p = v;
    return 0;
}

int config_set_pair(job_config_t *c, const char *pair, char *err, size_t errlen)
{
    const char *eq = strchr(pair, '=');
    char key[64];
    if (eq == NULL || eq == pair || (size_t)(eq - pair) >= sizeof key) {
        snprintf(err, errlen, "'%s' is not key=value", pair);
        return -1;
    }
    memcpy(key, pair, (size_t)(eq - pair));
    key[eq - pair] = 0;
    return config_set(c, key, eq + 1, err, errlen);
}

void config_format(const job_config_t *c, const cfg_key_t *k, char *buf, size_t len)
{
    const char *p = (const char *)c + k->offset;
    switch (k->type) {
    case CFG_ENUM: {
        snprintf(buf, len, "%s", k->enums[*(const int *)p]);
        break;
    }
    case CFG_INT:
        snprintf(buf, len, "%d", *(const int *)p);
        break;
    case CFG_LONG:
        snprintf(buf, len, "%ld", *(const long *)p);
        break;
    case CFG_DOUBLE: {
        /* integers plainly; else the shortest text that reads back as the
         * same double */
        double v = *(const double *)p;
        if (v == floor(v) && fabs(v) < 1e15) {
            snprintf(buf, len, "%.0f", v);
            break;
        }
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, len, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        break;
    }
    }
}

void config_print_help(FILE *out)
{
    job_config_t d;
    config_defaults(&d);
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const cfg_key_t *k = &cfg_keys[i];
        char def[64], range[160];
        config_format(&d, k, def, sizeof def);
        if (k->type == CFG_ENUM)
            enum_list(k, range, sizeof range);
        else
            snprintf(range, sizeof range, "[%.10g, %.10g]", k->min, k->max);
        fprintf(out, "  %-18s %-28s default %-12s %s\n", k->name, range, def, k->help);
    }
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        fprintf(out, "  %-18s %-28s %-20s %s\n", "preset", presets[i].name, "", presets[i].help);
}

int config_to_json(const job_config_t *c, char *buf, size_t len)
{
    size_t n = 0;
    char v[64];
    n += (size_t)snprintf(buf, len, "{");
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const cfg_key_t *k = &cfg_keys[i];
        config_format(c, k, v, sizeof v);
        const char *q = k->type == CFG_ENUM ? "\"" : "";
        n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0,
                              "%s\"%s\":%s%s%s", i ? "," : "", k->name, q, v, q);
    }
    n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, "}");
    return (int)n;
}

uint64_t config_hash(const job_config_t *c)
{
    char buf[4096];
    int n = config_to_json(c, buf, sizeof buf);
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n && i < (int)sizeof buf - 1; i++)
        h = (h ^ (unsigned char)buf[i]) * 0x100000001b3ull;
    return h;
}

int config_apply_json(job_config_t *c, const char *json, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    if (root == NULL) {
        snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "expected a JSON object of config keys");
        json_decref(root);
        return -1;
    }
    job_config_t tmp = *c; /* all or nothing */
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(root, key, val)
    {
        char text[64];
        if (json_is_string(val))
            snprintf(text, sizeof text, "%s", json_string_value(val));
        else if (json_is_integer(val))
            snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
        else if (json_is_real(val))
            snprintf(text, sizeof text, "%.17g", json_real_value(val));
        else {
            snprintf(err, errlen, "%s: expected a number or a string", key);
            rc = -1;
            break;
        }
        if ((rc = config_set(&tmp, key, text, err, errlen)) != 0)
            break;
    }
    json_decref(root);
    if (rc == 0)
        *c = tmp;
    return rc;
}

int config_check(const job_config_t *c, char *err, size_t errlen)
{
    int cut = config_train_cut(c), T = config_bench(c)->episode_len;
    if (cut > T || cut % c->chunk) {
        snprintf(err, errlen, "train_cut %d must be at most the episode length %d and a "
                 "multiple of chunk %d", cut, T, c->chunk);
        return -1;
    }
    if (c->beta_min > c->beta_max || c->beta_init < c->beta_min || c->beta_init > c->beta_max) {
        snprintf(err, errlen, "need beta_min <= beta_init <= beta_max");
        return -1;
    }
    return 0;
}
