/* test_nn_net.c - whole actor/critic networks: parameter counts (science.md
 * section 3 and 7), golden outputs and gradients, finite differences for
 * every tensor, and the carried state at chunk boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/nn/net.h"
#include "golden.h"

/* golden/README.md: outputs 1e-5, gradients 1e-4 relative, plus 1e-5 of
 * the tensor's largest value */
#define OUT_RTOL 1e-5
#define GRAD_RTOL 1e-4

static void build(net_t *net, int bench, enum nn_arch arch, enum nn_role role,
                  enum nn_zgroups zg)
{
    char err[128];
    int rc = net_init(net, bench_get(bench), arch, role, zg, err, sizeof err);
    if (rc)
        printf("# net_init: %s\n", err);
    assert_int_equal(rc, 0);
}

static void test_param_counts(void **state)
{
    (void)state;
    static const struct {
        int bench;
        enum nn_arch arch;
        enum nn_role role;
        enum nn_zgroups zg;
        size_t want;
    } cases[] = {
        {1, ARCH_NMN, ROLE_ACTOR, ZG_SHARED, 9592},
        {1, ARCH_NMN, ROLE_CRITIC, ZG_SHARED, 9541},
        {1, ARCH_RNN, ROLE_ACTOR, ZG_SHARED, 9302},
        {1, ARCH_RNN, ROLE_CRITIC, ZG_SHARED, 9291},
        {2, ARCH_NMN, ROLE_ACTOR, ZG_SHARED, 78547},
        {2, ARCH_NMN, ROLE_CRITIC, ZG_SHARED, 78446},
        {2, ARCH_RNN, ROLE_ACTOR, ZG_SHARED, 76057},
        {2, ARCH_RNN, ROLE_CRITIC, ZG_SHARED, 76046},
        {3, ARCH_NMN, ROLE_ACTOR, ZG_SHARED, 79207},
        {3, ARCH_RNN, ROLE_ACTOR, ZG_SHARED, 76657},
        {1, ARCH_NMN, ROLE_ACTOR, ZG_PER_LAYER, 9352},
        {2, ARCH_NMN, ROLE_ACTOR, ZG_PER_LAYER, 76027},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        net_t net;
        build(&net, cases[i].bench, cases[i].arch, cases[i].role, cases[i].zg);
        /* the named views must tile the flat vector exactly once */
        char *seen = calloc(net.n_params, 1);
        size_t covered = 0;
        for (int v = 0; v < net.n_views; v++)
            for (int r = 0; r < net.views[v].rows; r++)
                for (int c = 0; c < net.views[v].cols; c++) {
                    size_t at = net.views[v].off + (size_t)r * net.views[v].ld + c;
                    assert_true(at < net.n_params);
                    assert_int_equal(seen[at], 0);
                    seen[at] = 1;
                    covered++;
                }
        free(seen);
        if (net.n_params != cases[i].want || covered != net.n_params) {
            printf("# benchmark %d %s %s z_groups=%d: %zu parameters (%zu in views), want %zu\n",
                   cases[i].bench, net_arch_name(cases[i].arch),
                   net_role_name(cases[i].role), cases[i].zg, net.n_params,
                   covered, cases[i].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* --- golden networks ---------------------------------------------------- */

static int compare_rows(const char *file, const char *what, const float *got,
                        int ld, int col0, int width, json_t *arr, double rtol)
{
    size_t n;
    float *want = golden_floats(arr, &n);
    assert_non_null(want);
    size_t rows = n / width;
    float *g = malloc(sizeof(float) * n);
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < width; j++)
            g[r * width + j] = got[r * ld + col0 + j];
    double worst;
    size_t at;
    size_t bad = golden_compare(g, want, n, rtol, &worst, &at);
    printf("# %-20s %-7s worst output error %.3f of tolerance%s (got %.9g want %.9g at %zu)\n",
           file, what, worst, bad ? "  FAIL" : "", g[at], want[at], at);
    free(g);
    free(want);
    return (int)bad;
}

static void golden_network(const char *file)
{
    json_t *j = golden_load(file);
    assert_non_null(j);
    int bench = (int)json_integer_value(json_object_get(j, "benchmark"));
    const char *arch = json_string_value(json_object_get(j, "arch"));
    const char *role = json_string_value(json_object_get(j, "role"));
    int T = (int)json_integer_value(json_object_get(j, "T"));
    int B = (int)json_integer_value(json_object_get(j, "B"));
    net_t net;
    build(&net, bench, strcmp(arch, "nmn") ? ARCH_RNN : ARCH_NMN,
          strcmp(role, "actor") ? ROLE_CRITIC : ROLE_ACTOR, ZG_SHARED);
    assert_int_equal(net.n_params, json_integer_value(json_object_get(j, "param_count")));

    float *p = calloc(net.n_params, sizeof(float));
    float *g = calloc(net.n_params, sizeof(float));
    size_t i, n;
    json_t *e;
    int loaded = 0;
    json_array_foreach(json_object_get(j, "params"), i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        const net_view_t *v = net_find_view(&net, name);
        if (v == NULL)
            printf("# %s: no tensor named %s in the network\n", file, name);
        assert_non_null(v);
        float *vals = golden_floats(e, &n);
        assert_int_equal(n, (size_t)v->rows * v->cols);
        for (size_t q = 0; q < n; q++)
            p[v->off + (q / v->cols) * v->ld + q % v->cols] = vals[q];
        free(vals);
        loaded++;
    }
    assert_int_equal(loaded, net.n_views);

    float *obs = golden_floats(json_object_get(j, "obs"), &n);
    assert_int_equal(n, (size_t)T * B * net.obs_dim);
    net_ws_t *ws = net_ws_new(&net, T, B);
    assert_non_null(ws);
    net_forward(&net, p, ws, obs, T, B, NULL, NULL);

    json_t *outs = json_object_get(j, "outputs"), *lw = json_object_get(j, "loss_weights");
    int bad = 0, a = net.act_dim;
    float *dout = calloc((size_t)T * B * net.nout, sizeof(float));
    const char *names[2] = {"value", NULL};
    if (net.role == ROLE_ACTOR)
        names[0] = "mean", names[1] = "logvar";
    for (int h = 0; h < 2 && names[h]; h++) {
        bad += compare_rows(file, names[h], ws->out, net.nout, h * a,
                            net.role == ROLE_ACTOR ? a : 1,
                            json_object_get(outs, names[h]), OUT_RTOL);
        float *w = golden_floats(json_object_get(lw, names[h]), &n);
        int width = net.role == ROLE_ACTOR ? a : 1;
        for (size_t r = 0; r < n / width; r++)
            for (int c = 0; c < width; c++)
                dout[r * net.nout + h * a + c] = w[r * width + c];
        free(w);
    }
    if (net.arch == ARCH_NMN)
        bad += compare_rows(file, "z", ws->z + (size_t)B * net.k, net.k, 0,
                            net.k, json_object_get(outs, "z"), OUT_RTOL);

    net_backward(&net, p, g, ws, obs, dout, T, B);
    double worst_all = 0;
    json_array_foreach(json_object_get(j, "grads"), i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        const net_view_t *v = net_find_view(&net, name);
        assert_non_null(v);
        float *want = golden_floats(e, &n);
        float *got = malloc(sizeof(float) * n);
        for (size_t q = 0; q < n; q++)
            got[q] = g[v->off + (q / v->cols) * v->ld + q % v->cols];
        double worst;
        size_t at;
        size_t nb = golden_compare(got, want, n, GRAD_RTOL, &worst, &at);
        if (nb)
            printf("# %s grad %s: %zu out of tolerance (got %.7g want %.7g at %zu)\n",
                   file, name, nb, got[at], want[at], at);
        worst_all = worst > worst_all ? worst : worst_all;
        bad += (int)nb;
        free(want);
        free(got);
    }
    printf("# %-20s worst gradient error %.3f of tolerance\n", file, worst_all);
    assert_int_equal(bad, 0);
    free(p), free(g), free(obs), free(dout);
    net_ws_free(ws);
    json_decref(j);
}

#define GOLDEN_TEST(name)                                                      \
    static void test_golden_##name(void **state)                             \
    {                                                                          \
        (void)state;                                                           \
        golden_network(#name ".json");                                         \
    }
GOLDEN_TEST(b1_nmn_actor)
GOLDEN_TEST(b1_nmn_critic)
GOLDEN_TEST(b1_rnn_actor)
GOLDEN_TEST(b1_rnn_critic)
GOLDEN_TEST(b2_nmn_actor)
GOLDEN_TEST(b2_nmn_critic)
GOLDEN_TEST(b2_rnn_actor)
GOLDEN_TEST(b2_rnn_critic)

/* --- finite differences over whole networks ----------------------------- */

typedef struct fdnet {
    net_t net;
    net_ws_t *ws;
    float *obs, *state, *w;
    int T, B;
    int t0;              /* outputs before t0 are not in the loss */
    uint64_t pattern[2]; /* which side of every kink, at p + hd and p - hd */
    int calls;
} fdnet_t;

/* A fingerprint of which piece of every piecewise-linear unit is active:
 * a finite step that changes it crossed a kink and proves nothing. */
static uint64_t kink_pattern(const fdnet_t *c)
{
    const net_t *n = &c->net;
    size_t N = (size_t)c->T * c->B;
    uint64_t h = 1469598103934665603ull;
#define MIX(bit) (h = (h ^ (uint64_t)(bit)) * 1099511628211ull)
    if (n->arch == ARCH_NMN) {
        for (size_t i = 0; i < N * n->k; i++)
            MIX(c->ws->z[(size_t)c->B * n->k + i] > 0);
        for (int l = 0; l < n->n_nm; l++)
            for (size_t i = 0; i < N * n->nm[l].out; i++)
                MIX(fabsf(c->ws->nm[l].y[i]) < 1);
    } else {
        for (int l = 0; l < n->n_dense; l++)
            for (size_t i = 0; i < N * n->dense[l].out; i++)
                MIX(fabsf(c->ws->dense_y[l][i]) < 1);
    }
#undef MIX
    return h;
}

static double fdnet_loss(void *vc, const float *params)
{
    fdnet_t *c = vc;
    net_forward(&c->net, params, c->ws, c->obs, c->T, c->B, c->state, NULL);
    c->pattern[c->calls++ % 2] = kink_pattern(c);
    double s = 0;
    for (size_t i = (size_t)c->t0 * c->B * c->net.nout;
         i < (size_t)c->T * c->B * c->net.nout; i++)
        s += (double)c->ws->out[i] * c->w[i];
    return s;
}

#define FD_H 1e-2
#define FD_RTOL 5e-3
#define FD_ATOL 3e-4

/* Checks every tensor of the network in one random direction that crosses
 * no kink; returns the number of tensors that disagree. After every 5
 * directions that cross one, the step halves; the rounding allowance grows
 * as 1/h, like the rounding error of (L(p+hd) - L(p-hd)) / 2h. */
static int fd_all_views(fdnet_t *c, float *p, const float *g, const char *what)
{
    int bad = 0;
    double worst = 0;
    for (int v = 0; v < c->net.n_views; v++) {
        const net_view_t *nv = &c->net.views[v];
        double fd = 0, an = 0, ratio = 0;
        int tries;
        for (tries = 0; tries < 20; tries++) {
            double h = FD_H / (1 << (tries / 5));
            c->calls = 0;
            ratio = fd_check_direction(fdnet_loss, c, p, g, nv->off, nv->ld,
                                       nv->rows, nv->cols, h, 100 + tries,
                                       FD_RTOL, FD_ATOL * FD_H / h, &fd, &an);
            if (c->pattern[0] == c->pattern[1])
                break;
        }
        if (tries == 20) {
            printf("# %s %s: every direction crossed a kink\n", what, nv->name);
            bad++;
        } else if (!(ratio <= 1)) {
            printf("# %s %s: analytic %.7g, finite difference %.7g\n", what,
                   nv->name, an, fd);
            bad++;
        }
        worst = fmax(worst, ratio);
    }
    printf("# %-22s worst finite-difference error %.2f of tolerance\n", what, worst);
    return bad;
}

/* Parameters hotter than the real init (std 0.3, nonzero biases), so
 * every path carries a gradient worth checking. */
static float *random_params(const net_t *net, rng_t *r)
{
    float *p = malloc(sizeof(float) * net->n_params);
    net_init_params(net, p, r, 0.3);
    for (int v = 0; v < net->n_views; v++)
        if (!net->views[v].is_weight)
            for (int q = 0; q < net->views[v].cols; q++)
                p[net->views[v].off + q] = (float)(0.2 * rng_normal(r));
    return p;
}

static void fd_network(int bench, enum nn_arch arch, enum nn_role role)
{
    fdnet_t c = {.T = 5, .B = 2};
    build(&c.net, bench, arch, role, ZG_SHARED);
    rng_t r;
    rng_seed(&r, 1234, (uint64_t)bench * 4 + arch * 2 + role);
    float *p = random_params(&c.net, &r);
    c.obs = test_randn(&r, (size_t)c.T * c.B * c.net.obs_dim, 1.0);
    c.state = test_randn(&r, (size_t)c.B * c.net.state_width, 0.5);
    c.w = test_randn(&r, (size_t)c.T * c.B * c.net.nout, 1.0);
    c.ws = net_ws_new(&c.net, c.T, c.B);
    float *g = calloc(c.net.n_params, sizeof(float));
    fdnet_loss(&c, p);
    net_backward(&c.net, p, g, c.ws, c.obs, c.w, c.T, c.B);
    char what[64];
    snprintf(what, sizeof what, "b%d %s %s", bench, net_arch_name(arch), net_role_name(role));
    int bad = fd_all_views(&c, p, g, what);
    assert_int_equal(bad, 0);
    free(p), free(g), free(c.obs), free(c.state), free(c.w);
    net_ws_free(c.ws);
}

static void test_fd_networks(void **state)
{
    (void)state;
    for (int bench = 1; bench <= 2; bench++)
        for (int arch = 0; arch < 2; arch++)
            for (int role = 0; role < 2; role++)
                fd_network(bench, arch, role);
}

/* Splitting a sequence into chunks with a carried state reproduces the
 * whole-sequence outputs; the chunk's gradient treats its initial state as
 * a constant (truncated BPTT), which differs from the full gradient. */
static void chunks(enum nn_arch arch)
{
    const int T = 8, T1 = 3, B = 2;
    fdnet_t c = {.T = T, .B = B};
    build(&c.net, 2, arch, ROLE_ACTOR, ZG_PER_LAYER);
    rng_t r;
    rng_seed(&r, 99, arch);
    size_t np = c.net.n_params, sw = c.net.state_width, nout = c.net.nout;
    float *p = random_params(&c.net, &r);
    c.obs = test_randn(&r, (size_t)T * B * c.net.obs_dim, 1.0);
    c.w = test_randn(&r, (size_t)T * B * nout, 1.0);
    float *s0 = test_randn(&r, B * sw, 0.5), *s1 = malloc(sizeof(float) * B * sw);
    float *s_end = malloc(sizeof(float) * B * sw), *s_end2 = malloc(sizeof(float) * B * sw);
    c.ws = net_ws_new(&c.net, T, B);

    net_forward(&c.net, p, c.ws, c.obs, T, B, s0, s_end);
    float *full = malloc(sizeof(float) * T * B * nout);
    memcpy(full, c.ws->out, sizeof(float) * T * B * nout);
    net_forward(&c.net, p, c.ws, c.obs, T1, B, s0, s1);
    double worst = 0;
    for (size_t i = 0; i < (size_t)T1 * B * nout; i++)
        worst = fmax(worst, fabs(c.ws->out[i] - full[i]));
    net_forward(&c.net, p, c.ws, c.obs + (size_t)T1 * B * c.net.obs_dim, T - T1, B, s1, s_end2);
    for (size_t i = 0; i < (size_t)(T - T1) * B * nout; i++)
        worst = fmax(worst, fabs(c.ws->out[i] - full[(size_t)T1 * B * nout + i]));
    for (size_t i = 0; i < B * sw; i++)
        worst = fmax(worst, fabs(s_end[i] - s_end2[i]));
    printf("# %s: chunked vs whole sequence, max difference %.3g\n", net_arch_name(arch), worst);
    assert_true(worst < 1e-5);

    /* gradient of the second chunk's loss, chunked: the state is constant */
    float *g_chunk = calloc(np, sizeof(float)), *g_full = calloc(np, sizeof(float));
    fdnet_t c2 = c;
    c2.obs = c.obs + (size_t)T1 * B * c.net.obs_dim;
    c2.T = T - T1, c2.state = s1, c2.w = c.w + (size_t)T1 * B * nout;
    fdnet_loss(&c2, p);
    net_backward(&c.net, p, g_chunk, c.ws, c2.obs, c2.w, c2.T, B);
    /* the same loss through the whole sequence: t < T1 weighted zero */
    c.state = s0, c.t0 = T1;
    fdnet_loss(&c, p);
    float *dout = calloc((size_t)T * B * nout, sizeof(float));
    memcpy(dout + (size_t)T1 * B * nout, c2.w, sizeof(float) * (T - T1) * B * nout);
    net_backward(&c.net, p, g_full, c.ws, c.obs, dout, T, B);

    double diff = 0, norm = 0;
    for (size_t i = 0; i < np; i++) {
        diff += (g_full[i] - g_chunk[i]) * (double)(g_full[i] - g_chunk[i]);
        norm += g_full[i] * (double)g_full[i];
    }
    printf("# %s: |g_full - g_chunk| / |g_full| = %.3g\n", net_arch_name(arch), sqrt(diff / norm));
    assert_true(sqrt(diff / norm) > 1e-3); /* the cut is real */
    char what[32];
    snprintf(what, sizeof what, "%s chunk", net_arch_name(arch));
    assert_int_equal(fd_all_views(&c2, p, g_chunk, what), 0);
    snprintf(what, sizeof what, "%s whole", net_arch_name(arch));
    assert_int_equal(fd_all_views(&c, p, g_full, what), 0);

    free(p), free(c.obs), free(c.w), free(s0), free(s1), free(s_end), free(s_end2);
    free(full), free(g_chunk), free(g_full), free(dout);
    net_ws_free(c.ws);
}

static void test_chunk_boundaries(void **state)
{
    (void)state;
    chunks(ARCH_NMN);
    chunks(ARCH_RNN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_counts),
        cmocka_unit_test(test_golden_b1_nmn_actor),
        cmocka_unit_test(test_golden_b1_nmn_critic),
        cmocka_unit_test(test_golden_b1_rnn_actor),
        cmocka_unit_test(test_golden_b1_rnn_critic),
        cmocka_unit_test(test_golden_b2_nmn_actor),
        cmocka_unit_test(test_golden_b2_nmn_critic),
        cmocka_unit_test(test_golden_b2_rnn_actor),
        cmocka_unit_test(test_golden_b2_rnn_critic),
        cmocka_unit_test(test_fd_networks),
        cmocka_unit_test(test_chunk_boundaries),
    };
    nn_blas_single_thread(); /* one job = one thread, as in every binary */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
