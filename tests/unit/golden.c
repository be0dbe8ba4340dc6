/* golden.c - loading golden files and numerical comparison helpers. */
#include "golden.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/rng.h"

json_t *golden_load(const char *name)
{
    const char *dir = getenv("GOLDEN_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "../shared/golden", name);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (j == NULL)
        fprintf(stderr, "# cannot load golden file %s: %s (line %d)\n", path,
                e.text, e.line);
    return j;
}

float *golden_floats(json_t *arr, size_t *n)
{
    json_t *data = json_object_get(arr, "data");
    if (!json_is_array(data))
        return NULL;
    *n = json_array_size(data);
    float *out = malloc(sizeof(float) * (*n ? *n : 1));
    for (size_t i = 0; i < *n; i++)
        out[i] = (float)json_number_value(json_array_get(data, i));
    return out;
}

json_t *golden_named(json_t *list, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

size_t golden_compare(const float *got, const float *want, size_t n,
                      double rtol, double *worst, size_t *worst_at)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)want[i]));
    size_t bad = 0;
    *worst = 0;
    if (worst_at)
        *worst_at = 0;
    for (size_t i = 0; i < n; i++) {
        double tol = rtol * fabs((double)want[i]) + 1e-5 * scale;
        double r = tol > 0 ? fabs((double)got[i] - (double)want[i]) / tol
                           : (got[i] == want[i] ? 0 : INFINITY);
        if (!(r <= 1.0))
            bad++;
        if (!(r <= *worst)) {
            *worst = r;
            if (worst_at)
                *worst_at = i;
        }
    }
    return bad;
}

double fd_check_direction(fd_loss_fn loss, void *ctx, float *params,
                          const float *grad, size_t off, int ld, int rows,
                          int cols, double h, unsigned seed, double rtol,
                          double atol, double *fd_out, double *an_out)
{
    rng_t r;
    rng_seed(&r, seed, off);
    /* a unit direction, so the step has length h whatever the size */
    double an = 0, norm = 0;
    size_t m = (size_t)rows * cols;
    double *dir = calloc(m, sizeof(double));
    float *save = calloc(m, sizeof(float));
    for (size_t q = 0; q < m; q++) {
        dir[q] = rng_normal(&r);
        norm += dir[q] * dir[q];
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            size_t p = off + (size_t)i * ld + j, q = (size_t)i * cols + j;
            dir[q] /= sqrt(norm);
            save[q] = params[p];
            an += (double)grad[p] * dir[q];
        }
    double lp = 0, lm = 0;
    for (int sgn = 1; sgn >= -1; sgn -= 2) {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                size_t q = (size_t)i * cols + j;
                params[off + (size_t)i * ld + j] =
                    (float)((double)save[q] + sgn * h * dir[q]);
            }
        double l = loss(ctx, params);
        if (sgn > 0)
            lp = l;
        else
            lm = l;
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            params[off + (size_t)i * ld + j] = save[(size_t)i * cols + j];
    double fd = (lp - lm) / (2 * h);
    free(dir);
    free(save);
    if (fd_out)
        *fd_out = fd;
    if (an_out)
        *an_out = an;
    return fabs(fd - an) / (rtol * fmax(fabs(fd), fabs(an)) + atol);
}

float *test_randn(rng_t *r, size_t n, double sd)
{
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(sd * rng_normal(r));
    return v;
}
