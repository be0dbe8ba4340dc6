/* sweep.h - sweep files (YAML, libyaml): the product of benchmarks x archs x
 * seeds x grid points, each job the defaults + `set` + its grid point.
 *
 *   name: fig2-bench1
 *   benchmarks: [target1d]        # or one name; also 1|2|3
 *   archs: [nmn, rnn]             # or one
 *   seeds: 0..14                  # or a list [0, 3, 7], or one integer
 *   episodes: 20000
 *   priority: 0                   # optional; higher runs first
 *   set:                          # optional: any config key, fixed
 *     value_lr: 6.0e-3
 *   grid:                         # optional: any config key, a list each
 *     policy_lr: [1.0e-4, 2.0e-4]
 *
 * Every error names FILE:LINE:COLUMN and what was expected; a file with any
 * error yields no jobs. */
#ifndef NMN_SWEEP_H
#define NMN_SWEEP_H

#include <stddef.h>

#include "config.h"

#define SWEEP_MAX_JOBS 10000

typedef struct sweep {
    char name[257];
    int priority;
    int njobs;
    job_config_t *jobs; /* resolved, in expansion order */
} sweep_t;

/* Parses and expands `text` (len bytes; `file` names it in messages).
 * Returns 0, or -1 with err = "FILE:LINE:COL: message". */
int sweep_parse(const char *file, const char *text, size_t len, sweep_t *s, char *err,
                size_t errlen);
void sweep_free(sweep_t *s);

#endif
