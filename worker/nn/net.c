/* net.c - building, running and differentiating the actor/critic networks. */
#include "net.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Layer widths per benchmark family (science.md section 3). */
static const int gru_units_b1[] = {50}, gru_units_b2[] = {100, 75};
static const int nm_units_b1[] = {10}, nm_units_b2[] = {30, 10};
static const int rnn_units_b1[] = {20, 10}, rnn_units_b2[] = {45, 30, 10};

const char *net_arch_name(enum nn_arch arch)
{
    return arch == ARCH_NMN ? "nmn" : "rnn";
}

const char *net_role_name(enum nn_role role)
{
    return role == ROLE_ACTOR ? "actor" : "critic";
}

static void add_view(net_t *net, const char *prefix, const char *name,
                     size_t off, int rows, int cols, int ld, int is_weight)
{
    net_view_t *v = &net->views[net->n_views++];
    size_t a = strlen(prefix), b = strlen(name);
    assert(a + b < sizeof v->name);
    memcpy(v->name, prefix, a);
    memcpy(v->name + a, name, b + 1);
    v->off = off, v->rows = rows, v->cols = cols, v->ld = ld;
    v->is_weight = is_weight;
}

static void build_gru(net_t *net, gru_t *l, const char *prefix, int in, int u)
{
    l->in = in, l->units = u;
    l->w = net->n_params;
    l->u = l->w + (size_t)in * 3 * u;
    l->b = l->u + (size_t)u * 3 * u;
    net->n_params = l->b + 2 * (size_t)u;
    static const char *gates = "gsn";
    for (int g = 0; g < 3; g++) {
        char n[4] = {'W', gates[g], 0};
        add_view(net, prefix, n, l->w + (size_t)g * u, in, u, 3 * u, 1);
        n[0] = 'U';
        add_view(net, prefix, n, l->u + (size_t)g * u, u, u, 3 * u, 1);
        if (g < 2) {
            n[0] = 'b';
            add_view(net, prefix, n, l->b + (size_t)g * u, 1, u, u, 0);
        }
    }
}

static void build_dense(net_t *net, dense_t *l, const char *prefix, int in,
                        int out, enum nn_act act)
{
    l->in = in, l->out = out, l->act = act;
    l->w = net->n_params;
    l->b = l->w + (size_t)in * out;
    net->n_params = l->b + out;
    add_view(net, prefix, ".W", l->w, in, out, out, 1);
    add_view(net, prefix, ".b", l->b, 1, out, out, 0);
}

/* A linear head layer holding the actor's mean and logvar (or the critic's
 * value) side by side, so both come from one GEMM. */
static void add_head_views(net_t *net, size_t w, size_t m, size_t b, int in,
                           int k, int out)
{
    static const char *actor[] = {"head.mean", "head.logvar"};
    const char **names = net->role == ROLE_ACTOR ? actor : (const char *[]){"head.value"};
    int heads = net->role == ROLE_ACTOR ? 2 : 1, a = out / heads;
    for (int h = 0; h < heads; h++) {
        add_view(net, names[h], ".W", w + (size_t)h * a, in, a, out, 1);
        if (k) {
            add_view(net, names[h], ".Ms", m + (size_t)h * a, k, a, 2 * out, 1);
            add_view(net, names[h], ".Mb", m + out + (size_t)h * a, k, a,
                     2 * out, 1);
        }
        add_view(net, names[h], ".b", b + (size_t)h * a, 1, a, out, 0);
    }
}

static void build_nmdense(net_t *net, nmdense_t *l, const char *prefix,
                          int in, int out, int k, int zoff, enum nn_act act)
{
    l->in = in, l->out = out, l->k = k, l->zoff = zoff, l->act = act;
    l->w = net->n_params;
    l->m = l->w + (size_t)in * out;
    l->b = l->m + (size_t)k * 2 * out;
    net->n_params = l->b + out;
    if (prefix == NULL) {
        add_head_views(net, l->w, l->m, l->b, in, k, out);
        return;
    }
    add_view(net, prefix, ".W", l->w, in, out, out, 1);
    add_view(net, prefix, ".Ms", l->m, k, out, 2 * out, 1);
    add_view(net, prefix, ".Mb", l->m + out, k, out, 2 * out, 1);
    add_view(net, prefix, ".b", l->b, 1, out, out, 0);
}

int net_init(net_t *net, const bench_info_t *bench, enum nn_arch arch,
             enum nn_role role, enum nn_zgroups zgroups, char *err,
             size_t errlen)
{
    memset(net, 0, sizeof *net);
    if (bench == NULL) {
        snprintf(err, errlen, "unknown benchmark");
        return -1;
    }
    net->bench = bench, net->arch = arch, net->role = role;
    net->zgroups = zgroups;
    net->obs_dim = bench->obs_dim, net->classic_dim = bench->classic_dim;
    net->act_dim = bench->act_dim;
    net->nout = role == ROLE_ACTOR ? 2 * bench->act_dim : 1;

    int small = bench->id == BENCH_TARGET1D;
    const int *gu = small ? gru_units_b1 : gru_units_b2;
    net->n_gru = small ? 1 : 2;
    char name[32];

    if (arch == ARCH_RNN) {
        int in = net->obs_dim;
        for (int i = 0; i < net->n_gru; i++) {
            snprintf(name, sizeof name, "gru%d.", i);
            build_gru(net, &net->gru[i], name, in, gu[i]);
            in = gu[i];
        }
        const int *du = small ? rnn_units_b1 : rnn_units_b2;
        net->n_dense = small ? 2 : 3;
        for (int i = 0; i < net->n_dense; i++) {
            snprintf(name, sizeof name, "dense%d", i);
            build_dense(net, &net->dense[i], name, in, du[i], ACT_SATRELU);
            in = du[i];
        }
        net->head = (dense_t){in, net->nout, ACT_LINEAR, net->n_params,
                              net->n_params + (size_t)in * net->nout};
        net->n_params += (size_t)(in + 1) * net->nout;
        add_head_views(net, net->head.w, 0, net->head.b, in, 0, net->nout);
    } else {
        net->cin = net->act_dim + 1 + net->classic_dim;
        int in = net->cin;
        for (int i = 0; i < net->n_gru; i++) {
            snprintf(name, sizeof name, "nmod.gru%d.", i);
            build_gru(net, &net->gru[i], name, in, gu[i]);
            in = gu[i];
        }
        net->k = small ? 20 : 45;
        build_dense(net, &net->zdense, "nmod.dense0", in, net->k, ACT_RELU);
        const int *nu = small ? nm_units_b1 : nm_units_b2;
        net->n_nm = small ? 1 : 2;
        int groups = zgroups == ZG_PER_LAYER ? net->n_nm + 1 : 1;
        if (net->k % groups) {
            snprintf(err, errlen, "z width %d does not split into %d groups",
                     net->k, groups);
            return -1;
        }
        int gk = net->k / groups;
        in = net->classic_dim;
        for (int i = 0; i < net->n_nm; i++) {
            int zoff = groups > 1 ? i * gk : 0;
            snprintf(name, sizeof name, "main.nm%d", i);
            build_nmdense(net, &net->nm[i], name, in, nu[i], gk, zoff,
                          ACT_SATRELU);
            in = nu[i];
        }
        build_nmdense(net, &net->nmhead, NULL, in, net->nout, gk,
                      groups > 1 ? net->n_nm * gk : 0, ACT_LINEAR);
    }
    for (int i = 0; i < net->n_gru; i++)
        net->state_width += net->gru[i].units;
    if (arch == ARCH_NMN)
        net->state_width += net->k + net->classic_dim;
    return 0;
}

const net_view_t *net_find_view(const net_t *net, const char *name)
{
    for (int i = 0; i < net->n_views; i++)
        if (strcmp(net->views[i].name, name) == 0)
            return &net->views[i];
    return NULL;
}

void net_init_params(const net_t *net, float *params, rng_t *rng, double std)
{
    for (int i = 0; i < net->n_views; i++) {
        const net_view_t *v = &net->views[i];
        for (int r = 0; r < v->rows; r++)
            for (int c = 0; c < v->cols; c++)
                params[v->off + (size_t)r * v->ld + c] =
                    v->is_weight ? (float)rng_trunc_normal(rng, std) : 0.0f;
    }
}

static int widest_layer(const net_t *net)
{
    int w = net->nout > net->obs_dim ? net->nout : net->obs_dim;
    for (int i = 0; i < net->n_gru; i++)
        w = net->gru[i].units > w ? net->gru[i].units : w;
    for (int i = 0; i < net->n_dense; i++)
        w = net->dense[i].out > w ? net->dense[i].out : w;
    for (int i = 0; i < net->n_nm; i++)
        w = net->nm[i].out > w ? net->nm[i].out : w;
    return w;
}

/* Lays the workspace out in one block; with mem NULL only counts. */
static size_t ws_layout(const net_t *net, net_ws_t *ws, float *mem, int T,
                        int B)
{
    float *p = mem;
    size_t N = (size_t)T * B, n = 0;
#define TAKE(field, count)                                                     \
    do {                                                                       \
        if (mem)                                                               \
            (field) = p + n;                                                   \
        n += (count);                                                          \
    } while (0)
    for (int i = 0; i < net->n_gru; i++) {
        if (mem)
            gru_ws_carve(&net->gru[i], &ws->gru[i], p + n, T, B);
        n += gru_ws_floats(&net->gru[i], T, B);
    }
    if (net->arch == ARCH_NMN) {
        TAKE(ws->c, N * net->cin);
        TAKE(ws->z, (N + B) * net->k);
        TAKE(ws->dz, (N + B) * net->k);
        for (int i = 0; i < net->n_nm; i++) {
            if (mem)
                nmdense_ws_carve(&net->nm[i], &ws->nm[i], p + n, (int)N);
            n += nmdense_ws_floats(&net->nm[i], (int)N);
        }
        if (mem)
            nmdense_ws_carve(&net->nmhead, &ws->nmhead, p + n, (int)N);
        n += nmdense_ws_floats(&net->nmhead, (int)N);
    } else {
        for (int i = 0; i < net->n_dense; i++)
            TAKE(ws->dense_y[i], N * net->dense[i].out);
        TAKE(ws->head_y, N * net->nout);
    }
    TAKE(ws->out, N * net->nout);
    TAKE(ws->dbuf[0], N * widest_layer(net));
    TAKE(ws->dbuf[1], N * widest_layer(net));
#undef TAKE
    return n;
}

net_ws_t *net_ws_new(const net_t *net, int T, int B)
{
    net_ws_t *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return NULL;
    ws->T = T, ws->B = B;
    ws->mem = calloc(ws_layout(net, ws, NULL, T, B), sizeof(float));
    if (ws->mem == NULL) {
        free(ws);
        return NULL;
    }
    ws_layout(net, ws, ws->mem, T, B);
    return ws;
}

void net_ws_free(net_ws_t *ws)
{
    if (ws) {
        free(ws->mem);
        free(ws);
    }
}

/* Copies the heads' rows into ws->out, applying the logvar offset. */
static void write_outputs(const net_t *net, net_ws_t *ws, const float *y,
                          size_t N)
{
    memcpy(ws->out, y, sizeof(float) * N * net->nout);
    if (net->role != ROLE_ACTOR)
        return;
    for (size_t r = 0; r < N; r++)
        for (int j = net->act_dim; j < net->nout; j++)
            ws->out[r * net->nout + j] += NET_LOGVAR_OFFSET;
}

static void gru_stack_forward(const net_t *net, const float *params,
                              net_ws_t *ws, const float *x, int ldx,
                              const float *state_in, int T, int B)
{
    int off = 0;
    for (int i = 0; i < net->n_gru; i++) {
        const gru_t *g = &net->gru[i];
        gru_forward(g, params, &ws->gru[i], x, ldx,
                    state_in ? state_in + off : NULL, net->state_width, T, B);
        x = ws->gru[i].h + (size_t)B * g->units, ldx = g->units;
        off += g->units;
    }
}

static void nmn_forward(const net_t *net, const float *params, net_ws_t *ws,
                        const float *obs, int T, int B, const float *state_in)
{
    const int od = net->obs_dim, cd = net->classic_dim, k = net->k;
    const int ar = net->act_dim + 1, sw = net->state_width;
    const int xoff = sw - cd, zoff = xoff - k;
    const size_t N = (size_t)T * B;

    /* c_t = [a_{t-1}, r_{t-1}] from obs_t, then x_{t-1} (carried at t=0) */
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            float *c = ws->c + ((size_t)t * B + b) * net->cin;
            const float *o = obs + ((size_t)t * B + b) * od;
            memcpy(c, o + cd, sizeof(float) * ar);
            if (t > 0)
                memcpy(c + ar, o - (size_t)B * od, sizeof(float) * cd);
            else if (state_in)
                memcpy(c + ar, state_in + (size_t)b * sw + xoff,
                       sizeof(float) * cd);
            else
                memset(c + ar, 0, sizeof(float) * cd);
        }
    gru_stack_forward(net, params, ws, ws->c, net->cin, state_in, T, B);

    const gru_t *last = &net->gru[net->n_gru - 1];
    const float *hl = ws->gru[net->n_gru - 1].h + (size_t)B * last->units;
    for (int b = 0; b < B; b++) {
        if (state_in)
            memcpy(ws->z + (size_t)b * k, state_in + (size_t)b * sw + zoff,
                   sizeof(float) * k);
        else
            memset(ws->z + (size_t)b * k, 0, sizeof(float) * k);
    }
    float *zt = ws->z + (size_t)B * k; /* z_t; ws->z itself is z_{t-1} */
    dense_forward(&net->zdense, params, zt, hl, last->units, (int)N);

    const float *x = obs;
    int ldx = od;
    for (int i = 0; i < net->n_nm; i++) {
        nmdense_forward(&net->nm[i], params, &ws->nm[i], x, ldx, ws->z, k,
                        (int)N);
        x = ws->nm[i].y, ldx = net->nm[i].out;
    }
    nmdense_forward(&net->nmhead, params, &ws->nmhead, x, ldx, zt, k, (int)N);
    write_outputs(net, ws, ws->nmhead.y, N);
}

static void rnn_forward(const net_t *net, const float *params, net_ws_t *ws,
                        const float *obs, int T, int B, const float *state_in)
{
    const size_t N = (size_t)T * B;
    gru_stack_forward(net, params, ws, obs, net->obs_dim, state_in, T, B);
    const gru_t *last = &net->gru[net->n_gru - 1];
    const float *x = ws->gru[net->n_gru - 1].h + (size_t)B * last->units;
    int ldx = last->units;
    for (int i = 0; i < net->n_dense; i++) {
        dense_forward(&net->dense[i], params, ws->dense_y[i], x, ldx, (int)N);
        x = ws->dense_y[i], ldx = net->dense[i].out;
    }
    dense_forward(&net->head, params, ws->head_y, x, ldx, (int)N);
    write_outputs(net, ws, ws->head_y, N);
}

void net_forward(const net_t *net, const float *params, net_ws_t *ws,
                 const float *obs, int T, int B, const float *state_in,
                 float *state_out)
{
    if (net->arch == ARCH_NMN)
        nmn_forward(net, params, ws, obs, T, B, state_in);
    else
        rnn_forward(net, params, ws, obs, T, B, state_in);
    if (state_out == NULL)
        return;
    const int sw = net->state_width;
    for (int b = 0; b < B; b++) {
        float *s = state_out + (size_t)b * sw;
        for (int i = 0; i < net->n_gru; i++) {
            int u = net->gru[i].units;
            memcpy(s, ws->gru[i].h + ((size_t)T * B + b) * u,
                   sizeof(float) * u);
            s += u;
        }
        if (net->arch == ARCH_NMN) {
            memcpy(s, ws->z + ((size_t)T * B + b) * net->k,
                   sizeof(float) * net->k);
            memcpy(s + net->k, obs + ((size_t)(T - 1) * B + b) * net->obs_dim,
                   sizeof(float) * net->classic_dim);
        }
    }
}

/* dy: dL/d(output of the last GRU), in a gradient buffer; the stack's input
 * gradient is not needed (inputs are data). */
static void gru_stack_backward(const net_t *net, const float *params,
                               float *grads, net_ws_t *ws, const float *x0,
                               int ldx0, float *dy, int T, int B)
{
    for (int i = net->n_gru - 1; i >= 0; i--) {
        const float *x = i ? ws->gru[i - 1].h + (size_t)B * net->gru[i - 1].units : x0;
        int ldx = i ? net->gru[i - 1].units : ldx0;
        float *dx = i ? (dy == ws->dbuf[0] ? ws->dbuf[1] : ws->dbuf[0]) : NULL;
        gru_backward(&net->gru[i], params, grads, &ws->gru[i], x, ldx, dy, dx,
                     NULL, T, B);
        dy = dx;
    }
}

static void nmn_backward(const net_t *net, const float *params, float *grads,
                         net_ws_t *ws, const float *obs, int T, int B)
{
    const size_t N = (size_t)T * B;
    const int k = net->k;
    float *d = ws->dbuf[0], *other = ws->dbuf[1];
    float *zt = ws->z + (size_t)B * k, *dzt = ws->dz + (size_t)B * k;

    memset(ws->dz, 0, sizeof(float) * (N + B) * k);
    const int top = net->n_nm - 1;
    nmdense_backward(&net->nmhead, params, grads, &ws->nmhead, d,
                     ws->nm[top].y, net->nm[top].out, zt, k, other, dzt,
                     (int)N);
    for (int i = top; i >= 0; i--) {
        float *tmp = d;
        d = other, other = tmp;
        const float *x = i ? ws->nm[i - 1].y : obs;
        int ldx = i ? net->nm[i - 1].out : net->obs_dim;
        nmdense_backward(&net->nm[i], params, grads, &ws->nm[i], d, x, ldx,
                         ws->z, k, i ? other : NULL, ws->dz, (int)N);
    }
    /* dz of block 0 (z_{-1}) is the initial state's: dropped. */
    const gru_t *last = &net->gru[net->n_gru - 1];
    const float *hl = ws->gru[net->n_gru - 1].h + (size_t)B * last->units;
    dense_backward(&net->zdense, params, grads, ws->dbuf[0], dzt, zt, hl,
                   last->units, (int)N);
    gru_stack_backward(net, params, grads, ws, ws->c, net->cin, ws->dbuf[0],
                       T, B);
}

static void rnn_backward(const net_t *net, const float *params, float *grads,
                         net_ws_t *ws, const float *obs, int T, int B)
{
    const size_t N = (size_t)T * B;
    float *d = ws->dbuf[0], *other = ws->dbuf[1];
    const int top = net->n_dense - 1;
    dense_backward(&net->head, params, grads, other, d, ws->head_y,
                   ws->dense_y[top], net->dense[top].out, (int)N);
    for (int i = top; i >= 0; i--) {
        float *tmp = d;
        d = other, other = tmp;
        const gru_t *last = &net->gru[net->n_gru - 1];
        const float *x = i ? ws->dense_y[i - 1]
                           : ws->gru[net->n_gru - 1].h + (size_t)B * last->units;
        int ldx = i ? net->dense[i - 1].out : last->units;
        dense_backward(&net->dense[i], params, grads, other, d,
                       ws->dense_y[i], x, ldx, (int)N);
    }
    gru_stack_backward(net, params, grads, ws, obs, net->obs_dim, other, T, B);
}

void net_backward(const net_t *net, const float *params, float *grads,
                  net_ws_t *ws, const float *obs, const float *dout, int T,
                  int B)
{
    memcpy(ws->dbuf[0], dout, sizeof(float) * T * B * net->nout);
    if (net->arch == ARCH_NMN)
        nmn_backward(net, params, grads, ws, obs, T, B);
    else
        rnn_backward(net, params, grads, ws, obs, T, B);
}

double net_flops(const net_t *net, int T, int B, int backward)
{
    const int N = T * B;
    double f = 0;
    for (int i = 0; i < net->n_gru; i++)
        f += gru_flops(&net->gru[i], T, B, backward, i > 0);
    if (net->arch == ARCH_NMN) {
        f += dense_flops(&net->zdense, N, backward, 1);
        for (int i = 0; i < net->n_nm; i++)
            f += nmdense_flops(&net->nm[i], N, backward, i > 0);
        f += nmdense_flops(&net->nmhead, N, backward, 1);
    } else {
        for (int i = 0; i < net->n_dense; i++)
            f += dense_flops(&net->dense[i], N, backward, 1);
        f += dense_flops(&net->head, N, backward, 1);
    }
    return f;
}
