/* gru.c - GRU forward and backward-through-time. */
#include "gru.h"

#include <math.h>
#include <string.h>

#include "ops.h"

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

size_t gru_ws_floats(const gru_t *l, int T, int B)
{
    size_t u = l->units, rows = (size_t)T * B;
    return (rows + B) * u + 3 * rows * 3 * u + (size_t)B * u;
}

float *gru_ws_carve(const gru_t *l, gru_ws_t *ws, float *mem, int T, int B)
{
    size_t u = l->units, rows = (size_t)T * B;
    ws->h = mem, mem += (rows + B) * u;
    ws->xp = mem, mem += rows * 3 * u;
    ws->hu = mem, mem += rows * 3 * u;
    ws->gate = mem, mem += rows * 3 * u;
    ws->dh = mem, mem += (size_t)B * u;
    return mem;
}

void gru_forward(const gru_t *l, const float *params, gru_ws_t *ws,
                 const float *x, int ldx, const float *h0, int ldh0, int T,
                 int B)
{
    const int u = l->units, u3 = 3 * u;
    const size_t rows = (size_t)T * B;
    const float *b = params + l->b, *U = params + l->u;

    for (size_t r = 0; r < rows; r++) {
        float *xp = ws->xp + r * u3;
        memcpy(xp, b, sizeof(float) * 2 * u);
        memset(xp + 2 * u, 0, sizeof(float) * u);
    }
    nn_gemm(0, 0, (int)rows, u3, l->in, x, ldx, params + l->w, u3, 1.0f,
            ws->xp, u3);
    for (int i = 0; i < B; i++) {
        if (h0)
            memcpy(ws->h + (size_t)i * u, h0 + (size_t)i * ldh0,
                   sizeof(float) * u);
        else
            memset(ws->h + (size_t)i * u, 0, sizeof(float) * u);
    }
    for (int t = 0; t < T; t++) {
        const float *hp = ws->h + (size_t)t * B * u;
        float *hn = ws->h + (size_t)(t + 1) * B * u;
        float *hu = ws->hu + (size_t)t * B * u3;
        const float *xp = ws->xp + (size_t)t * B * u3;
        float *gate = ws->gate + (size_t)t * B * u3;
        nn_gemm(0, 0, B, u3, u, hp, u, U, u3, 0.0f, hu, u3);
        for (int i = 0; i < B; i++) {
            const float *xpi = xp + (size_t)i * u3, *hui = hu + (size_t)i * u3;
            const float *hpi = hp + (size_t)i * u;
            float *gi = gate + (size_t)i * u3, *hni = hn + (size_t)i * u;
            for (int j = 0; j < u; j++) {
                float g = sigmoidf(xpi[j] + hui[j]);
                float s = sigmoidf(xpi[u + j] + hui[u + j]);
                float n = tanhf(xpi[2 * u + j] + s * hui[2 * u + j]);
                gi[j] = g, gi[u + j] = s, gi[2 * u + j] = n;
                hni[j] = (1.0f - g) * n + g * hpi[j];
            }
        }
    }
}

void gru_backward(const gru_t *l, const float *params, float *grads,
                  gru_ws_t *ws, const float *x, int ldx, const float *dy,
                  float *dx, float *dh0, int T, int B)
{
    const int u = l->units, u3 = 3 * u;
    const size_t rows = (size_t)T * B;
    const float *U = params + l->u;

    memset(ws->dh, 0, sizeof(float) * B * u);
    for (int t = T - 1; t >= 0; t--) {
        const float *hp = ws->h + (size_t)t * B * u;
        const float *dyt = dy + (size_t)t * B * u;
        float *xp = ws->xp + (size_t)t * B * u3;
        float *hu = ws->hu + (size_t)t * B * u3;
        const float *gate = ws->gate + (size_t)t * B * u3;
        for (int i = 0; i < B; i++) {
            float *xpi = xp + (size_t)i * u3, *hui = hu + (size_t)i * u3;
            const float *gi = gate + (size_t)i * u3, *hpi = hp + (size_t)i * u;
            float *dhi = ws->dh + (size_t)i * u;
            const float *dyi = dyt + (size_t)i * u;
            for (int j = 0; j < u; j++) {
                float g = gi[j], s = gi[u + j], n = gi[2 * u + j];
                float d = dyi[j] + dhi[j];
                float dpn = d * (1.0f - g) * (1.0f - n * n);
                float dpg = d * (hpi[j] - n) * g * (1.0f - g);
                float dps = dpn * hui[2 * u + j] * s * (1.0f - s);
                dhi[j] = d * g;
                xpi[j] = dpg, xpi[u + j] = dps, xpi[2 * u + j] = dpn;
                hui[j] = dpg, hui[u + j] = dps, hui[2 * u + j] = dpn * s;
            }
        }
        if (t > 0 || dh0)
            nn_gemm(0, 1, B, u, u3, hu, u3, U, u3, 1.0f, ws->dh, u);
    }
    if (dh0)
        memcpy(dh0, ws->dh, sizeof(float) * B * u);
    nn_colsum(grads + l->b, ws->xp, (int)rows, 2 * u, u3);
    nn_gemm(1, 0, l->in, u3, (int)rows, x, ldx, ws->xp, u3, 1.0f,
            grads + l->w, u3);
    nn_gemm(1, 0, u, u3, (int)rows, ws->h, u, ws->hu, u3, 1.0f, grads + l->u,
            u3);
    if (dx)
        nn_gemm(0, 1, (int)rows, l->in, u3, ws->xp, u3, params + l->w, u3,
                0.0f, dx, l->in);
}

double gru_flops(const gru_t *l, int T, int B, int backward, int want_dx)
{
    double rows = (double)T * B, u3 = 3.0 * l->units;
    double in = 2.0 * rows * l->in * u3, rec = 2.0 * rows * l->units * u3;
    if (!backward)
        return in + rec;
    return in * (want_dx ? 2 : 1) + 2 * rec;
}
