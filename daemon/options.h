/* options.h - nmnd's settings: defaults, then the config file (YAML,
 * --config FILE), then the command line; every value is checked in one
 * place (options_set) whichever way it came. */
#ifndef NMN_OPTIONS_H
#define NMN_OPTIONS_H

#include <stdio.h>

#include "slurm.h"

typedef struct nmnd_opts {
    const char *state_dir, *socket, *log, *config;
    long workers, ckpt_every, ckpt_secs, max_attempts;
    int log_level;          /* 0 error .. 3 debug */
    int slurm;              /* --executor slurm */
    slurm_opts_t so;
    char text[16384];       /* the config file's values: no heap, nothing to free */
    size_t used;
} nmnd_opts_t;

extern const char *const options_log_levels[];

void options_defaults(nmnd_opts_t *o);
/* Sets one option by its flag name without the dashes ("workers",
 * "slurm-partition"); 0, or -1 with a message naming it. value is kept by
 * reference. */
int options_set(nmnd_opts_t *o, const char *key, const char *value, char *err, size_t errlen);
/* Applies a YAML config file: top-level keys are the flag names (dashes or
 * underscores), `slurm:` a mapping of the slurm-* ones, sbatch_options a
 * list. Errors name file:line:column. */
int options_load(nmnd_opts_t *o, const char *path, char *err, size_t errlen);
void options_usage(FILE *out);

#endif
