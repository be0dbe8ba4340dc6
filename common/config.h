/* config.h - a job's resolved configuration: benchmark, architecture, seed,
 * length and every hyperparameter of science.md, from one table (name,
 * type, range, default, help) that the parser, the validator, --help and
 * the README all read. */
#ifndef NMN_CONFIG_H
#define NMN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"

enum cfg_explore { EXPLORE_SHARED, EXPLORE_INDEPENDENT };

typedef struct job_config {
    int bench;       /* index into the benchmark names: config_bench() */
    int arch;        /* enum nn_arch */
    long seed;
    long episodes;
    int batch;
    double gamma, lambda;
    int train_cut;   /* 0: the benchmark's own (400 / 2000 / 2000) */
    int chunk;
    int policy_steps;
    double policy_lr, kl_targ, eta, beta_init, beta_min, beta_max;
    int value_epochs, value_minibatch;
    double value_lr;
    int replay;
    double adam_beta1, adam_beta2, adam_eps, init_std;
    int exploration_noise; /* enum cfg_explore */
    int z_groups;          /* enum nn_zgroups */
    double wind_half_cone;
} job_config_t;

enum cfg_type { CFG_INT, CFG_LONG, CFG_DOUBLE, CFG_ENUM };

typedef struct cfg_key {
    const char *name;
    enum cfg_type type;
    size_t offset;
    double min, max;        /* inclusive bounds for numbers */
    double def;             /* default (an enum's index) */
    const char *const *enums; /* NULL-terminated names, for CFG_ENUM */
    const char *help;
} cfg_key_t;

extern const cfg_key_t cfg_keys[];
extern const size_t cfg_nkeys;

void config_defaults(job_config_t *c);
const bench_info_t *config_bench(const job_config_t *c);
/* train_cut, with 0 resolved to the benchmark's own. */
int config_train_cut(const job_config_t *c);
const cfg_key_t *config_find(const char *name);
/* Parses and range-checks `value` for `key` and stores it. Returns 0, or -1
 * with a message naming the key, the value and what was expected. */
int config_set(job_config_t *c, const char *key, const char *value,
               char *err, size_t errlen);
/* Checks what single keys cannot: train_cut within the episode and a
 * multiple of chunk, beta_min <= beta_init <= beta_max. 0 or -1. */
int config_check(const job_config_t *c, char *err, size_t errlen);
/* "key=value"; the same errors. */
int config_set_pair(job_config_t *c, const char *pair, char *err,
                    size_t errlen);
/* The value of a key as text (enum name or number). */
void config_format(const job_config_t *c, const cfg_key_t *k, char *buf,
                   size_t len);
/* One line per key: name, type/range, default, help. */
void config_print_help(FILE *out);
/* Canonical JSON: every key in table order, numbers in their shortest
 * round-trip form, no spaces. Returns the length written (like snprintf). */
int config_to_json(const job_config_t *c, char *buf, size_t len);
/* FNV-1a 64 of the canonical JSON: a job's identity. */
uint64_t config_hash(const job_config_t *c);
/* Applies a JSON object of overrides {"key": value, ...} (numbers or
 * strings) on top of c. Returns 0, or -1 with a message naming the key. */
int config_apply_json(job_config_t *c, const char *json, char *err,
                      size_t errlen);

#endif
