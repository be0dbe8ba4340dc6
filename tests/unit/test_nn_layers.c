/* test_nn_layers.c - GRU, dense and NM dense layers against the golden
 * files (double-precision reference) and against finite differences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/rng.h"
#include "../../worker/nn/dense.h"
#include "../../worker/nn/fastmath.h"
#include "../../worker/nn/gru.h"
#include "../../worker/nn/stepgemm.h"
#include "../../worker/nn/nmdense.h"
#include "golden.h"

/* golden/README.md: outputs 1e-5, gradients 1e-4 relative, plus 1e-5 of
 * the tensor's largest value */
#define OUT_RTOL 1e-5
#define GRAD_RTOL 1e-4

/* Copies a golden [rows,cols] tensor into params at off with row stride
 * ld (the fused layouts keep several reference tensors side by side). */
static void put(float *dst, size_t off, int ld, json_t *entry)
{
    json_t *shape = json_object_get(entry, "shape");
    size_t n;
    float *v = golden_floats(entry, &n);
    assert_non_null(v);
    int cols = (int)json_integer_value(json_array_get(shape, json_array_size(shape) - 1));
    for (size_t i = 0; i < n; i++)
        dst[off + (i / cols) * ld + i % cols] = v[i];
    free(v);
}

/* Compares params at off/ld with a golden tensor; prints the worst error. */
static int expect(const char *what, const float *got, size_t off, int ld,
                  json_t *entry, double rtol)
{
    json_t *shape = json_object_get(entry, "shape");
    size_t n;
    float *want = golden_floats(entry, &n);
    assert_non_null(want);
    int cols = (int)json_integer_value(json_array_get(shape, json_array_size(shape) - 1));
    float *g = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        g[i] = got[off + (i / cols) * ld + i % cols];
    double worst;
    size_t at;
    size_t bad = golden_compare(g, want, n, rtol, &worst, &at);
    printf("# %-14s worst error %.3f of tolerance%s (got %.9g want %.9g at %zu)\n",
           what, worst, bad ? "  FAIL" : "", g[at], want[at], at);
    free(g);
    free(want);
    return (int)bad;
}

/* --- GRU ---------------------------------------------------------------- */

static void gru_golden_layout(const gru_t *l, const char *name, size_t *off,
                              int *ld)
{
    int u = l->units, g = name[1] == 'g' ? 0 : name[1] == 's' ? 1 : 2;
    if (name[0] == 'W')
        *off = l->w + (size_t)g * u, *ld = 3 * u;
    else if (name[0] == 'U')
        *off = l->u + (size_t)g * u, *ld = 3 * u;
    else
        *off = l->b + (size_t)g * u, *ld = u;
}

static void test_gru_golden(void **state)
{
    (void)state;
    json_t *j = golden_load("gru_cell.json");
    assert_non_null(j);
    int in = (int)json_integer_value(json_object_get(j, "in"));
    int u = (int)json_integer_value(json_object_get(j, "units"));
    int T = (int)json_integer_value(json_object_get(j, "T"));
    int B = (int)json_integer_value(json_object_get(j, "B"));
    gru_t l = {in, u, 0, (size_t)in * 3 * u, (size_t)in * 3 * u + (size_t)u * 3 * u};
    size_t np = l.b + 2 * (size_t)u, n;
    float *p = calloc(np, sizeof(float)), *gr = calloc(np, sizeof(float));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "params"), i, e)
    {
        size_t off;
        int ld;
        gru_golden_layout(&l, json_string_value(json_object_get(e, "name")), &off, &ld);
        put(p, off, ld, e);
    }
    float *x = golden_floats(json_object_get(j, "x"), &n);
    float *h0 = golden_floats(json_object_get(j, "h0"), &n);
    float *lw = golden_floats(json_object_get(j, "loss_weights"), &n);
    gru_ws_t ws;
    float *mem = calloc(gru_ws_floats(&l, T, B), sizeof(float));
    gru_ws_carve(&l, &ws, mem, T, B);
    gru_forward(&l, p, &ws, x, in, h0, u, T, B);

    int bad = expect("h", ws.h + (size_t)B * u, 0, u, json_object_get(j, "h"),
                     OUT_RTOL);
    float *dx = calloc((size_t)T * B * in, sizeof(float));
    float *dh0 = calloc((size_t)B * u, sizeof(float));
    gru_backward(&l, p, gr, &ws, x, in, lw, dx, dh0, T, B);
    json_t *grads = json_object_get(j, "grads");
    json_array_foreach(grads, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        size_t off;
        int ld;
        if (strcmp(name, "x") == 0)
            bad += expect("grad x", dx, 0, in, e, GRAD_RTOL);
        else if (strcmp(name, "h0") == 0)
            bad += expect("grad h0", dh0, 0, u, e, GRAD_RTOL);
        else {
            gru_golden_layout(&l, name, &off, &ld);
            char what[32];
            snprintf(what, sizeof what, "grad %s", name);
            bad += expect(what, gr, off, ld, e, GRAD_RTOL);
        }
    }
    assert_int_equal(bad, 0);
    free(p), free(gr), free(x), free(h0), free(lw), free(mem), free(dx), free(dh0);
    json_decref(j);
}

/* --- NM dense ----------------------------------------------------------- */

static void nm_golden_layout(const nmdense_t *l, const char *name, size_t *off,
                             int *ld)
{
    if (strcmp(name, "W") == 0)
        *off = l->w, *ld = l->out;
    else if (strcmp(name, "Ms") == 0)
        *off = l->m, *ld = 2 * l->out;
    else if (strcmp(name, "Mb") == 0)
        *off = l->m + l->out, *ld = 2 * l->out;
    else
        *off = l->b, *ld = l->out;
}

static int nm_golden_variant(json_t *j, enum nn_act act)
{
    int in = (int)json_integer_value(json_object_get(j, "in"));
    int out = (int)json_integer_value(json_object_get(j, "out"));
    int k = (int)json_integer_value(json_object_get(j, "k"));
    int N = (int)json_integer_value(json_object_get(j, "rows"));
    nmdense_t l = {in, out, k, 0, act, 0, (size_t)in * out,
                   (size_t)in * out + (size_t)k * 2 * out};
    size_t np = l.b + out, n, i;
    float *p = calloc(np, sizeof(float)), *gr = calloc(np, sizeof(float));
    json_t *e;
    json_array_foreach(json_object_get(j, "params"), i, e)
    {
        size_t off;
        int ld;
        nm_golden_layout(&l, json_string_value(json_object_get(e, "name")), &off, &ld);
        put(p, off, ld, e);
    }
    float *x = golden_floats(json_object_get(j, "x"), &n);
    float *z = golden_floats(json_object_get(j, "z"), &n);
    float *lw = golden_floats(json_object_get(j, "loss_weights"), &n);
    float *mem = calloc(nmdense_ws_floats(&l, N), sizeof(float));
    nmdense_ws_t ws;
    nmdense_ws_carve(&l, &ws, mem, N);
    nmdense_forward(&l, p, &ws, x, in, z, k, N);
    int bad = expect(act == ACT_LINEAR ? "pre" : "y", ws.y, 0, out,
                     json_object_get(j, act == ACT_LINEAR ? "pre" : "y"),
                     OUT_RTOL);
    float *dx = calloc((size_t)N * in, sizeof(float));
    float *dz = calloc((size_t)N * k, sizeof(float));
    nmdense_backward(&l, p, gr, &ws, lw, x, in, z, k, dx, dz, N);
    json_array_foreach(json_object_get(j, act == ACT_LINEAR ? "grads_identity" : "grads"), i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        char what[32];
        snprintf(what, sizeof what, "grad %s%s", name, act == ACT_LINEAR ? " (id)" : "");
        if (strcmp(name, "x") == 0)
            bad += expect(what, dx, 0, in, e, GRAD_RTOL);
        else if (strcmp(name, "z") == 0)
            bad += expect(what, dz, 0, k, e, GRAD_RTOL);
        else {
            size_t off;
            int ld;
            nm_golden_layout(&l, name, &off, &ld);
            bad += expect(what, gr, off, ld, e, GRAD_RTOL);
        }
    }
    free(p), free(gr), free(x), free(z), free(lw), free(mem), free(dx), free(dz);
    return bad;
}

static void test_nmdense_golden(void **state)
{
    (void)state;
    json_t *j = golden_load("nm_dense.json");
    assert_non_null(j);
    int bad = nm_golden_variant(j, ACT_SATRELU);
    bad += nm_golden_variant(j, ACT_LINEAR);
    assert_int_equal(bad, 0);
    json_decref(j);
}

/* --- finite differences ------------------------------------------------- */

/* Layer-under-test context: a forward that returns sum(y * w) in double. */
typedef struct fd_ctx {
    int kind; /* 0 dense, 1 gru, 2 nmdense */
    dense_t d;
    gru_t g;
    nmdense_t nm;
    float *p, *x, *z, *h0, *w, *mem, *y;
    int T, B, N;
    gru_ws_t gws;
    nmdense_ws_t nws;
} fd_ctx_t;

static double fd_loss(void *vc, const float *unused)
{
    (void)unused;
    fd_ctx_t *c = vc;
    const float *y;
    size_t n;
    if (c->kind == 0) {
        dense_forward(&c->d, c->p, c->y, c->x, c->d.in, c->N);
        y = c->y, n = (size_t)c->N * c->d.out;
    } else if (c->kind == 1) {
        gru_forward(&c->g, c->p, &c->gws, c->x, c->g.in, c->h0, c->g.units, c->T, c->B);
        y = c->gws.h + (size_t)c->B * c->g.units, n = (size_t)c->N * c->g.units;
    } else {
        nmdense_forward(&c->nm, c->p, &c->nws, c->x, c->nm.in, c->z, c->nm.k, c->N);
        y = c->nws.y, n = (size_t)c->N * c->nm.out;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * c->w[i];
    return s;
}

#define FD_RTOL 2e-3
#define FD_ATOL 1e-4
#define KINK_MARGIN 0.05

/* Piecewise-linear activations have no derivative at their kinks; like the
 * golden files, keep every pre-activation clear of them so a finite step
 * never crosses one. */
static int near_kink(enum nn_act act, const float *pre, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = pre[i];
        if (act == ACT_RELU && fabsf(v) < KINK_MARGIN)
            return 1;
        if (act == ACT_SATRELU && (fabsf(v - 1) < KINK_MARGIN || fabsf(v + 1) < KINK_MARGIN))
            return 1;
    }
    return 0;
}

/* Checks one tensor (rows x cols at off, stride ld, of arr with gradient
 * grad) in 3 random directions; returns the number of failures. */
static int fd_tensor(fd_ctx_t *c, const char *what, float *arr,
                     const float *grad, size_t off, int rows, int cols, int ld)
{
    int bad = 0;
    for (unsigned s = 1; s <= 3; s++) {
        double fd, an;
        if (!(fd_check_direction(fd_loss, c, arr, grad, off, ld, rows, cols,
                                 1e-2, s, FD_RTOL, FD_ATOL, &fd, &an) <= 1)) {
            printf("# FD %-10s dir %u: analytic %.7g, finite diff %.7g: off by more than %.0e rel + %.0e\n",
                   what, s, an, fd, FD_RTOL, FD_ATOL);
            bad++;
        }
    }
    return bad;
}

static void test_dense_fd(void **state)
{
    (void)state;
    const enum nn_act acts[] = {ACT_LINEAR, ACT_RELU, ACT_SATRELU};
    for (int a = 0; a < 3; a++) {
        rng_t r;
        rng_seed(&r, 7, a);
        fd_ctx_t c = {.kind = 0, .N = 12};
        c.d = (dense_t){5, 4, acts[a], 0, 20};
        c.p = test_randn(&r, 24, 0.6);
        c.x = test_randn(&r, 60, 1.0);
        c.w = test_randn(&r, 48, 1.0);
        c.y = calloc(48, sizeof(float));
        dense_t lin = c.d;
        lin.act = ACT_LINEAR;
        for (int row = 0; row < 12; row++)
            do {
                for (int j = 0; j < 5; j++)
                    c.x[row * 5 + j] = (float)rng_normal(&r);
                dense_forward(&lin, c.p, c.y, c.x, 5, 12);
            } while (near_kink(acts[a], c.y + row * 4, 4));
        float *g = calloc(24, sizeof(float)), *dx = calloc(60, sizeof(float));
        float *dy = malloc(sizeof(float) * 48);
        fd_loss(&c, NULL);
        memcpy(dy, c.w, sizeof(float) * 48);
        dense_backward(&c.d, c.p, g, dx, dy, c.y, c.x, 5, 12);
        int bad = fd_tensor(&c, "W", c.p, g, 0, 5, 4, 4);
        bad += fd_tensor(&c, "b", c.p, g, 20, 1, 4, 4);
        bad += fd_tensor(&c, "x", c.x, dx, 0, 12, 5, 5);
        assert_int_equal(bad, 0);
        free(c.p), free(c.x), free(c.w), free(c.y), free(g), free(dx), free(dy);
    }
}

static void test_gru_fd(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 11, 0);
    const int in = 3, u = 5, T = 7, B = 2;
    fd_ctx_t c = {.kind = 1, .T = T, .B = B, .N = T * B};
    c.g = (gru_t){in, u, 0, (size_t)in * 3 * u, (size_t)in * 3 * u + (size_t)u * 3 * u};
    size_t np = c.g.b + 2 * u;
    c.p = test_randn(&r, np, 0.5);
    c.x = test_randn(&r, (size_t)T * B * in, 1.0);
    c.h0 = test_randn(&r, (size_t)B * u, 0.5);
    c.w = test_randn(&r, (size_t)T * B * u, 1.0);
    c.mem = calloc(gru_ws_floats(&c.g, T, B), sizeof(float));
    gru_ws_carve(&c.g, &c.gws, c.mem, T, B);
    float *g = calloc(np, sizeof(float)), *dx = calloc((size_t)T * B * in, sizeof(float));
    float *dh0 = calloc((size_t)B * u, sizeof(float));
    fd_loss(&c, NULL);
    gru_backward(&c.g, c.p, g, &c.gws, c.x, in, c.w, dx, dh0, T, B);
    int bad = fd_tensor(&c, "W", c.p, g, c.g.w, in, 3 * u, 3 * u);
    bad += fd_tensor(&c, "U", c.p, g, c.g.u, u, 3 * u, 3 * u);
    bad += fd_tensor(&c, "b", c.p, g, c.g.b, 1, 2 * u, 2 * u);
    bad += fd_tensor(&c, "x", c.x, dx, 0, T * B, in, in);
    bad += fd_tensor(&c, "h0", c.h0, dh0, 0, B, u, u);
    assert_int_equal(bad, 0);
    free(c.p), free(c.x), free(c.h0), free(c.w), free(c.mem), free(g), free(dx), free(dh0);
}

static void test_nmdense_fd(void **state)
{
    (void)state;
    for (int a = 0; a < 2; a++) {
        rng_t r;
        rng_seed(&r, 13, a);
        const int in = 4, out = 3, k = 2, kz = 5, zoff = 2, N = 9;
        fd_ctx_t c = {.kind = 2, .N = N};
        c.nm = (nmdense_t){in, out, k, zoff, a ? ACT_SATRELU : ACT_LINEAR, 0,
                           (size_t)in * out, (size_t)in * out + (size_t)k * 2 * out};
        size_t np = c.nm.b + out;
        c.p = test_randn(&r, np, 0.5);
        c.x = test_randn(&r, (size_t)N * in, 1.0);
        c.z = test_randn(&r, (size_t)N * kz, 1.0);
        c.w = test_randn(&r, (size_t)N * out, 1.0);
        c.mem = calloc(nmdense_ws_floats(&c.nm, N), sizeof(float));
        nmdense_ws_carve(&c.nm, &c.nws, c.mem, N);
        nmdense_t lin = c.nm;
        lin.act = ACT_LINEAR;
        for (int row = 0; row < N; row++)
            do {
                for (int j = 0; j < in; j++)
                    c.x[row * in + j] = (float)rng_normal(&r);
                nmdense_forward(&lin, c.p, &c.nws, c.x, in, c.z, kz, N);
            } while (near_kink(c.nm.act, c.nws.y + row * out, out));
        float *g = calloc(np, sizeof(float)), *dx = calloc((size_t)N * in, sizeof(float));
        float *dz = calloc((size_t)N * kz, sizeof(float)), *dy = malloc(sizeof(float) * N * out);
        memcpy(dy, c.w, sizeof(float) * N * out);
        nmdense_forward(&c.nm, c.p, &c.nws, c.x, in, c.z, kz, N);
        nmdense_backward(&c.nm, c.p, g, &c.nws, dy, c.x, in, c.z, kz, dx, dz, N);
        /* the FD loss reads z with ld = k; use a packed copy for it */
        float *zp = malloc(sizeof(float) * N * k), *dzp = malloc(sizeof(float) * N * k);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < k; j++) {
                zp[i * k + j] = c.z[i * kz + zoff + j];
                dzp[i * k + j] = dz[i * kz + zoff + j];
                /* columns outside the group get no gradient */
                for (int o = 0; o < kz; o++)
                    if (o < zoff || o >= zoff + k)
                        assert_true(dz[i * kz + o] == 0.0f);
            }
        free(c.z);
        c.z = zp;
        c.nm.zoff = 0;
        int bad = fd_tensor(&c, "W", c.p, g, c.nm.w, in, out, out);
        bad += fd_tensor(&c, "Ms", c.p, g, c.nm.m, k, out, 2 * out);
        bad += fd_tensor(&c, "Mb", c.p, g, c.nm.m + out, k, out, 2 * out);
        bad += fd_tensor(&c, "b", c.p, g, c.nm.b, 1, out, out);
        bad += fd_tensor(&c, "x", c.x, dx, 0, N, in, in);
        bad += fd_tensor(&c, "z", c.z, dzp, 0, N, k, k);
        assert_int_equal(bad, 0);
        free(c.p), free(c.x), free(c.z), free(c.w), free(c.mem), free(g), free(dx);
        free(dz), free(dy), free(dzp);
    }
}

/* The gate loop's vector paths give the same bits as their scalar
 * definitions, for every unit including the tail: the plain path (and its
 * AVX2 clone) against nn_sigmoidf/nn_tanhf, and on FMA machines the fused
 * path against the _fused forms. The fused path's last vector overlaps the
 * one before it, its rows go in pairs (B = 5 leaves one alone), and with
 * this GRU's 4 inputs it makes b + x W itself, in the order k = 0..3. */
static void test_gru_gates_bitwise(void **state)
{
    (void)state;
    const int in = 4, u = 21, T = 3, B = 5; /* 21 = 2 x 8 + a tail of 5 */
    gru_t l = {in, u, 0, (size_t)in * 3 * u, (size_t)in * 3 * u + (size_t)u * 3 * u};
    size_t np = l.b + 2 * (size_t)u;
    rng_t r;
    rng_seed(&r, 17, 0);
    float *p = test_randn(&r, np, 1.5), *x = test_randn(&r, (size_t)T * B * in, 2.0);
    float *mem = calloc(gru_ws_floats(&l, T, B), sizeof(float));
    gru_ws_t ws;
    gru_ws_carve(&l, &ws, mem, T, B);
    for (int fallback = 0; fallback < 2; fallback++) {
        nn_kernels_force_fallback(fallback);
        int fused = nn_kernels_active();
        gru_forward(&l, p, &ws, x, in, NULL, u, T, B);
        size_t mismatches = 0;
        for (int row = 0; row < T * B; row++) {
            const float *hu = ws.hu + (size_t)row * ws.ld, *g = ws.gate + (size_t)row * ws.ld;
            const float *hp = ws.h + (size_t)row * u, *h = ws.h + (size_t)(row + B) * u;
            float xp[3 * 21];
            for (int j = 0; j < 3 * u; j++) {
                if (!fused) {
                    xp[j] = ws.xp[(size_t)row * ws.ld + j];
                    continue;
                }
                xp[j] = j < 2 * u ? p[l.b + j] : 0.0f;
                for (int k = 0; k < in; k++)
                    xp[j] = fmaf(x[row * in + k], p[l.w + (size_t)k * 3 * u + j], xp[j]);
            }
            for (int j = 0; j < u; j++) {
                float gg, ss, nn, hh;
                if (fused) {
                    gg = nn_sigmoidf_fused(xp[j] + hu[j]), ss = nn_sigmoidf_fused(xp[u + j] + hu[u + j]);
                    nn = nn_tanhf_fused(fmaf(ss, hu[2 * u + j], xp[2 * u + j]));
                    hh = fmaf(gg, hp[j] - nn, nn);
                } else {
                    gg = nn_sigmoidf(xp[j] + hu[j]), ss = nn_sigmoidf(xp[u + j] + hu[u + j]);
                    nn = nn_tanhf(xp[2 * u + j] + ss * hu[2 * u + j]);
                    hh = (1.0f - gg) * nn + gg * hp[j];
                }
                mismatches += memcmp(&gg, &g[j], 4) || memcmp(&ss, &g[u + j], 4) ||
                              memcmp(&nn, &g[2 * u + j], 4) || memcmp(&hh, &h[j], 4);
            }
        }
        printf("# %s gates: %zu of %d values differ from the scalar reference\n",
               fused ? "fused" : "plain", mismatches, T * B * u);
        assert_int_equal(mismatches, 0);
    }
    nn_kernels_force_fallback(0);
    free(p), free(x), free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gru_golden),
        cmocka_unit_test(test_nmdense_golden),
        cmocka_unit_test(test_dense_fd),
        cmocka_unit_test(test_gru_fd),
        cmocka_unit_test(test_nmdense_fd),
        cmocka_unit_test(test_gru_gates_bitwise),
    };
    nn_blas_single_thread(); /* one job = one thread, as in every binary */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
