/* cmd_env_stats.c - `nmn-worker env-stats`: run N episodes of a benchmark
 * with a fixed policy and summarise their returns; the last line is
 * `return_mean=.. return_sem=.. hits_mean=.. bad_hits_mean=.. episodes=N`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/rng.h"
#include "args.h"
#include "cmd.h"
#include "env/env.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: nmn-worker env-stats --bench target1d|wind2d|twotargets|1|2|3\n"
            "         --policy zero|gauss --episodes N --seed S [--batch B] [--half-cone RAD]\n"
            "  zero:  raw action u = 0 at every step\n"
            "  gauss: u ~ N(0, 1), i.i.d. per step and episode (each episode's own\n"
            "         sampling stream, so the batch size never changes results)\n"
            "  --batch: parallel episodes per call (default 50; results do not depend on it)\n"
            "  --half-cone: wind2d's wind half-cone in radians (default pi/4)\n");
}

int cmd_env_stats(int argc, char **argv)
{
    const char *C = "env-stats";
    const bench_info_t *bench = NULL;
    int gauss = -1;
    long episodes = 0, seed = -1, batch = 50;
    double half_cone = M_PI / 4;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--bench") && strcmp(a, "--policy") && strcmp(a, "--episodes") &&
            strcmp(a, "--seed") && strcmp(a, "--batch") && strcmp(a, "--half-cone")) {
            fprintf(stderr, "nmn-worker %s: unknown argument '%s'\n", C, a);
            usage(stderr);
            return 1;
        }
        if ((v = args_value(C, argc, argv, &i)) == NULL)
            return 1;
        if (strcmp(a, "--bench") == 0) {
            if ((bench = bench_lookup(v)) == NULL) {
                fprintf(stderr, "nmn-worker %s: --bench: unknown benchmark '%s' "
                                "(target1d|wind2d|twotargets or 1|2|3)\n", C, v);
                return 1;
            }
        } else if (strcmp(a, "--policy") == 0) {
            gauss = strcmp(v, "gauss") == 0 ? 1 : strcmp(v, "zero") == 0 ? 0 : -2;
            if (gauss == -2) {
                fprintf(stderr, "nmn-worker %s: --policy: '%s' is not zero|gauss\n", C, v);
                return 1;
            }
        } else if (strcmp(a, "--half-cone") == 0) {
            char *end;
            half_cone = strtod(v, &end);
            if (end == v || *end || !(half_cone >= 0 && half_cone <= M_PI)) {
                fprintf(stderr, "nmn-worker %s: --half-cone: '%s' is not a number in [0, pi]\n", C, v);
                return 1;
            }
        } else if (args_long(C, a, v, strcmp(a, "--seed") == 0 ? 0 : 1,
                             strcmp(a, "--seed") == 0 ? 2147483647L
                             : strcmp(a, "--batch") == 0 ? 100000L : 100000000L,
                             strcmp(a, "--episodes") == 0 ? &episodes
                             : strcmp(a, "--seed") == 0   ? &seed
                                                          : &batch))
            return 1;
    }
    if (bench == NULL || gauss < 0 || episodes <= 0 || seed < 0) {
        fprintf(stderr, "nmn-worker %s: --bench, --policy, --episodes and --seed are required\n", C);
        usage(stderr);
        return 1;
    }

    const int T = bench->episode_len, ad = bench->act_dim;
    rng_t *sample = calloc((size_t)batch, sizeof(rng_t));
    float *u = calloc((size_t)batch * ad, sizeof(float));
    double sum = 0, sum2 = 0, hits = 0, bad = 0, lo = INFINITY, hi = -INFINITY;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long done = 0; done < episodes;) {
        int B = (int)(episodes - done < batch ? episodes - done : batch);
        env_t e;
        if (u == NULL || sample == NULL || env_init(&e, bench, B, (uint64_t)seed, half_cone)) {
            fprintf(stderr, "nmn-worker %s: out of memory\n", C);
            free(u), free(sample);
            return 2;
        }
        e.next_episode = done;
        env_reset(&e, NULL);
        for (int b = 0; b < B; b++)
            rng_seed(&sample[b], (uint64_t)seed, rng_stream_id(RNG_SAMPLE, (uint64_t)(done + b)));
        for (int t = 0; t < T; t++) {
            if (gauss)
                for (int i = 0; i < B * ad; i++)
                    u[i] = (float)rng_normal(&sample[i / ad]);
            env_step(&e, u, NULL, NULL);
        }
        for (int b = 0; b < B; b++) {
            sum += e.ret[b], sum2 += e.ret[b] * e.ret[b];
            lo = fmin(lo, e.ret[b]), hi = fmax(hi, e.ret[b]);
            hits += e.hits[b], bad += e.bad_hits[b];
        }
        env_free(&e);
        done += B;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(u), free(sample);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double n = (double)episodes, mean = sum / n;
    double var = episodes > 1 ? fmax(0, (sum2 - n * mean * mean) / (n - 1)) : 0;
    printf("%s, %s policy, %ld episodes of %d steps (seed %ld, batch %ld)\n", bench->name,
           gauss ? "gauss" : "zero", episodes, T, seed, batch);
    printf("  return per episode: mean %.3f +- %.3f (sem), sd %.3f, min %.3f, max %.3f\n", mean,
           sqrt(var / n), sqrt(var), lo, hi);
    printf("  hits per episode %.4f, bad hits per episode %.4f\n", hits / n, bad / n);
    printf("  %.3f s, %.0f env-steps/s\n", secs, n * T / fmax(secs, 1e-9));
    printf("return_mean=%.6f return_sem=%.6f hits_mean=%.6f bad_hits_mean=%.6f episodes=%ld\n",
           mean, sqrt(var / n), hits / n, bad / n, episodes);
    return 0;
}
