/* nmn-worker - the compute side of nmnfarm: describe networks, run the
 * benchmarks, train jobs. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "nn/ops.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} cmds[] = {
    {"describe", cmd_describe, "print the layer tables of the actor and critic"},
    {"env-stats", cmd_env_stats, "run a benchmark with a fixed policy; summarise returns"},
    {"train", cmd_train, "train one job with PPO (standalone, no daemon)"},
    {"serve", cmd_serve, "run jobs for nmnd over TCP (the Slurm executor's worker)"},
    {"eval", cmd_eval, "run a trained agent without learning; record z (Figure 3)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: nmn-worker COMMAND [OPTIONS]   (COMMAND --help for more)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(out, "  %-12s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
    nn_blas_single_thread(); /* one job = one thread */
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "nmn-worker: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 1;
}
