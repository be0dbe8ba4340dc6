/* cmd_train.c - `nmn-worker train`: one job, standalone (no daemon):
 * progress on stderr, one CSV row per episode, checkpoints and resume. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/config.h"
#include "../common/fmt.h"
#include "args.h"
#include "cmd.h"
#include "ppo/trainer.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: nmn-worker train --bench NAME --arch nmn|rnn --seed S --episodes N\n"
            "         [--set key=value ...] [--config FILE.json] [--csv FILE]\n"
            "         [--checkpoint FILE] [--checkpoint-every K] [--resume FILE]\n"
            "  --config: a JSON object of config keys, applied before the flags\n"
            "  --csv: one row per episode: episode,return,hits,bad_hits (on --resume,\n"
            "         rows from the checkpoint on are replaced, never duplicated)\n"
            "  --checkpoint: written every K iterations (default 10), at the end, and on\n"
            "         SIGINT/SIGTERM after the current iteration\n"
            "  --resume: continue from a checkpoint of the same job (any episode budget)\n"
            "\nconfig keys:\n");
    config_print_help(out);
}

/* Keeps the header and the rows of episodes < keep; returns the file open
 * for appending, or NULL. */
static FILE *csv_open(const char *path, int64_t keep)
{
    if (keep == 0) {
        FILE *f = fopen(path, "w");
        if (f)
            fprintf(f, "episode,return,hits,bad_hits\n");
        return f;
    }
    FILE *in = fopen(path, "r");
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap), line[256];
    if (out == NULL) {
        if (in)
            fclose(in);
        return NULL;
    }
    len = (size_t)snprintf(out, cap, "episode,return,hits,bad_hits\n");
    while (in && fgets(line, sizeof line, in)) {
        char *end;
        long long ep = strtoll(line, &end, 10);
        if (end == line || *end != ',' || ep >= keep)
            continue;
        size_t n = strlen(line);
        if (len + n + 1 > cap) {
            char *np = realloc(out, cap *= 2);
            if (np == NULL) {
                free(out), fclose(in);
                return NULL;
            }
            out = np;
        }
        memcpy(out + len, line, n + 1);
        len += n;
    }
    if (in)
        fclose(in);
    FILE *f = fopen(path, "w");
    if (f)
        fwrite(out, 1, len, f);
    free(out);
    return f;
}

int cmd_train(int argc, char **argv)
{
    const char *C = "train";
    job_config_t cfg;
    config_defaults(&cfg);
    char err[512];
    const char *csv = NULL, *ckpt = NULL, *resume = NULL, *config_file = NULL;
    long every = 10;
    int have[4] = {0};
    static const char *required[4] = {"--bench", "--arch", "--seed", "--episodes"};

    for (int i = 1; i < argc; i++) /* --config first: flags override it */
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_file = argv[++i];
    if (config_file) {
        FILE *f = fopen(config_file, "r");
        char text[16384];
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f == NULL) {
            fprintf(stderr, "nmn-worker %s: --config: cannot read %s\n", C, config_file);
            return 1;
        }
        fclose(f);
        text[n] = 0;
        if (config_apply_json(&cfg, text, err, sizeof err)) {
            fprintf(stderr, "nmn-worker %s: %s: %s\n", C, config_file, err);
            return 1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        int known = 0;
        for (int k = 0; k < 4; k++)
            known |= strcmp(a, required[k]) == 0;
        if (!known && strcmp(a, "--set") && strcmp(a, "--config") && strcmp(a, "--csv") &&
            strcmp(a, "--checkpoint") && strcmp(a, "--checkpoint-every") && strcmp(a, "--resume")) {
            fprintf(stderr, "nmn-worker %s: unknown argument '%s'\n", C, a);
            usage(stderr);
            return 1;
        }
        if ((v = args_value(C, argc, argv, &i)) == NULL)
            return 1;
        int rc = 0;
        if (known) {
            for (int k = 0; k < 4; k++)
                have[k] |= strcmp(a, required[k]) == 0;
            rc = config_set(&cfg, a + 2, v, err, sizeof err);
        } else if (strcmp(a, "--set") == 0)
            rc = config_set_pair(&cfg, v, err, sizeof err);
        else if (strcmp(a, "--csv") == 0)
            csv = v;
        else if (strcmp(a, "--checkpoint") == 0)
            ckpt = v;
        else if (strcmp(a, "--resume") == 0)
            resume = v;
        else if (strcmp(a, "--checkpoint-every") == 0 &&
                 args_long(C, a, v, 1, 1000000, &every))
            return 1;
        if (rc) {
            fprintf(stderr, "nmn-worker %s: %s\n", C, err);
            return 1;
        }
    }
    for (int k = 0; k < 4; k++)
        if (!have[k] && !config_file) {
            fprintf(stderr, "nmn-worker %s: %s is required\n", C, required[k]);
            usage(stderr);
            return 1;
        }

    trainer_t t;
    if (trainer_init(&t, &cfg, err, sizeof err)) {
        fprintf(stderr, "nmn-worker %s: %s\n", C, err);
        return 1;
    }
    char json[4096];
    config_to_json(&cfg, json, sizeof json);
    printf("config %s\nconfig_hash %016llx\n", json, (unsigned long long)config_hash(&cfg));
    fflush(stdout);
    if (resume && trainer_load(&t, resume, err, sizeof err)) {
        fprintf(stderr, "nmn-worker %s: %s\n", C, err);
        trainer_free(&t);
        return 1;
    }
    if (resume)
        fprintf(stderr, "resumed from %s at episode %lld (iteration %lld)\n", resume,
                (long long)t.episodes_done, (long long)t.iteration);
    FILE *out = csv ? csv_open(csv, t.episodes_done) : NULL;
    if (csv && out == NULL) {
        fprintf(stderr, "nmn-worker %s: --csv: cannot write %s\n", C, csv);
        trainer_free(&t);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    ppo_episode_t *eps = calloc((size_t)t.B, sizeof *eps);
    double *recent = calloc(100, sizeof(double)), rsum = 0, elapsed = 0;
    int nrecent = 0, rc = 0;
    int64_t start_episodes = t.episodes_done;
    while (eps && recent && !trainer_done(&t) && !stop_requested) {
        ppo_iter_t it;
        if (trainer_iterate(&t, eps, &it, err, sizeof err)) {
            fprintf(stderr, "nmn-worker %s: %s\n", C, err);
            rc = 2;
            break;
        }
        for (int b = 0; b < t.B; b++) {
            if (out)
                fprintf(out, "%lld,%.17g,%d,%d\n", (long long)eps[b].episode, eps[b].ret,
                        eps[b].hits, eps[b].bad_hits);
            rsum += eps[b].ret - recent[nrecent % 100];
            recent[nrecent++ % 100] = eps[b].ret;
        }
        if (out)
            fflush(out);
        elapsed += (it.rollout_ms + it.update_ms) / 1e3;
        double per_ep = elapsed / (double)(t.episodes_done - start_episodes);
        char eta[32];
        fmt_duration(per_ep * (double)(t.total_episodes - t.episodes_done), eta, sizeof eta);
        fprintf(stderr,
                "iter %4lld  episodes %lld/%lld  mean return (last %d) %10.1f  kl %.4f%s  "
                "beta %.3g  lr_mult %.3g  %.0f env-steps/s  ETA %s\n",
                (long long)it.iteration, (long long)t.episodes_done, (long long)t.total_episodes,
                nrecent < 100 ? nrecent : 100, rsum / (nrecent < 100 ? nrecent : 100), it.kl,
                it.reverted ? " (reverted)" : "", it.beta, it.lr_mult,
                (double)t.B * t.T / ((it.rollout_ms + it.update_ms) / 1e3), eta);
        if (ckpt && (t.iteration % every == 0 || trainer_done(&t) || stop_requested) &&
            trainer_save(&t, ckpt, err, sizeof err)) {
            fprintf(stderr, "nmn-worker %s: %s\n", C, err);
            rc = 2;
            break;
        }
    }
    if (stop_requested && rc == 0) {
        fprintf(stderr, "stopped at episode %lld%s\n", (long long)t.episodes_done,
                ckpt ? " (checkpoint written)" : "");
        rc = 130;
    }
    if (out)
        fclose(out);
    printf("episodes_done %lld\nstate_hash %016llx\n", (long long)t.episodes_done,
           (unsigned long long)trainer_state_hash(&t));
    free(eps), free(recent);
    trainer_free(&t);
    return rc;
}
