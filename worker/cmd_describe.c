/* cmd_describe.c - `nmn-worker describe`: the layer tables of a
 * (benchmark, arch) pair's actor and critic, ending with the line
 * `actor_params=N critic_params=N`. */
#include <stdio.h>
#include <string.h>

#include "../common/config.h"
#include "cmd.h"
#include "nn/net.h"

static void row(const char *layer, int in, int out, size_t params,
                const char *what)
{
    printf("  %-20s %6d %7d %9zu  %s\n", layer, in, out, params, what);
}

static size_t gru_params(const gru_t *g)
{
    return (size_t)3 * g->in * g->units + (size_t)3 * g->units * g->units + 2 * (size_t)g->units;
}

static size_t nm_params(const nmdense_t *l)
{
    return (size_t)l->in * l->out + (size_t)2 * l->k * l->out + l->out;
}

static void describe_net(const net_t *n)
{
    char what[96], name[32];
    const char *head = n->role == ROLE_ACTOR ? "head (mean|logvar)" : "head (value)";
    printf("%s\n  %-20s %6s %7s %9s\n", net_role_name(n->role), "layer", "input",
           "output", "params");
    for (int i = 0; i < n->n_gru; i++) {
        snprintf(name, sizeof name, "%sgru%d", n->arch == ARCH_NMN ? "nmod." : "", i);
        row(name, n->gru[i].in, n->gru[i].units, gru_params(&n->gru[i]),
            i == 0 ? (n->arch == ARCH_NMN ? "GRU; input c_t = [a_{t-1}, r_{t-1}, x_{t-1}]"
                                          : "GRU; input obs_t = [x_t, a_{t-1}, r_{t-1}]")
                   : "GRU");
    }
    if (n->arch == ARCH_NMN) {
        snprintf(what, sizeof what, "relu -> z_t (k=%d)", n->k);
        row("nmod.dense0", n->zdense.in, n->zdense.out,
            (size_t)(n->zdense.in + 1) * n->zdense.out, what);
        for (int i = 0; i < n->n_nm; i++) {
            snprintf(name, sizeof name, "main.nm%d", i);
            snprintf(what, sizeof what, "nm satrelu, z_{t-1}[%d:%d]%s", n->nm[i].zoff,
                     n->nm[i].zoff + n->nm[i].k, i ? "" : "; input x_t");
            row(name, n->nm[i].in, n->nm[i].out, nm_params(&n->nm[i]), what);
        }
        snprintf(what, sizeof what, "nm identity, z_t[%d:%d]", n->nmhead.zoff,
                 n->nmhead.zoff + n->nmhead.k);
        row(head, n->nmhead.in, n->nmhead.out, nm_params(&n->nmhead), what);
    } else {
        for (int i = 0; i < n->n_dense; i++) {
            snprintf(name, sizeof name, "dense%d", i);
            row(name, n->dense[i].in, n->dense[i].out,
                (size_t)(n->dense[i].in + 1) * n->dense[i].out, "satrelu");
        }
        row(head, n->head.in, n->head.out, (size_t)(n->head.in + 1) * n->head.out, "linear");
    }
    printf("  %-20s %6s %7s %9zu\n", "total", "", "", n->n_params);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: nmn-worker describe --bench target1d|wind2d|twotargets|1|2|3 "
                 "--arch nmn|rnn [--set key=value ...]\n\nconfig keys:\n");
    config_print_help(out);
}

int cmd_describe(int argc, char **argv)
{
    job_config_t cfg;
    config_defaults(&cfg);
    char err[256];
    int have_bench = 0, have_arch = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc ||
            (strcmp(a, "--bench") && strcmp(a, "--arch") && strcmp(a, "--set"))) {
            fprintf(stderr, "nmn-worker describe: %s '%s'\n",
                    i + 1 >= argc && a[0] == '-' ? "missing value after" : "unknown argument", a);
            usage(stderr);
            return 1;
        }
        const char *v = argv[++i];
        int rc = strcmp(a, "--set") == 0
                     ? config_set_pair(&cfg, v, err, sizeof err)
                     : config_set(&cfg, a + 2, v, err, sizeof err);
        if (rc) {
            fprintf(stderr, "nmn-worker describe: %s\n", err);
            return 1;
        }
        have_bench |= strcmp(a, "--bench") == 0;
        have_arch |= strcmp(a, "--arch") == 0;
    }
    if (!have_bench || !have_arch) {
        fprintf(stderr, "nmn-worker describe: --bench and --arch are required\n");
        usage(stderr);
        return 1;
    }
    const bench_info_t *b = config_bench(&cfg);
    char zg[32];
    config_format(&cfg, config_find("z_groups"), zg, sizeof zg);
    printf("benchmark %s: obs_dim %d = x %d + action %d + reward 1; arch %s; z_groups %s\n",
           b->name, b->obs_dim, b->classic_dim, b->act_dim, net_arch_name(cfg.arch), zg);
    net_t nets[2];
    for (int r = 0; r < 2; r++) {
        if (net_init(&nets[r], b, cfg.arch, r, cfg.z_groups, err, sizeof err)) {
            fprintf(stderr, "nmn-worker describe: %s\n", err);
            return 1;
        }
        describe_net(&nets[r]);
    }
    printf("actor_params=%zu critic_params=%zu\n", nets[0].n_params, nets[1].n_params);
    return 0;
}
