/* bench.h - the three meta-RL benchmarks' names and shapes (science.md s2). */
#ifndef NMN_BENCH_H
#define NMN_BENCH_H

enum bench_id { BENCH_TARGET1D = 1, BENCH_WIND2D = 2, BENCH_TWOTARGETS = 3 };

typedef struct bench_info {
    enum bench_id id;
    const char *name;
    int classic_dim;  /* width of x_t */
    int act_dim;
    int obs_dim;      /* classic_dim + act_dim + 1 (the reward) */
    int episode_len;  /* T */
    int train_cut;    /* steps of every episode used for training */
} bench_info_t;

/* Accepts "target1d|wind2d|twotargets" and "1|2|3"; NULL if unknown. */
const bench_info_t *bench_lookup(const char *name);
const bench_info_t *bench_get(enum bench_id id);

#endif
