/* fit.c - R^2 by modified Gram-Schmidt on the centred columns: the residual
 * of y after removing its projection on an orthonormal basis of span(X). */
#include "fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void centre(double *v, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        m += v[i];
    m /= n;
    for (int i = 0; i < n; i++)
        v[i] -= m;
}

static double dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* v -= (q.v) q for every basis vector q */
static void remove_span(double *v, const double *basis, int nb, int n)
{
    for (int j = 0; j < nb; j++) {
        const double *q = basis + (size_t)j * n;
        double c = dot(q, v, n);
        for (int i = 0; i < n; i++)
            v[i] -= c * q[i];
    }
}

double fit_r2(const double *X, const double *y, int n, int k)
{
    if (n < 2)
        return NAN;
    double *basis = malloc(sizeof(double) * (size_t)n * (k > 0 ? k : 1));
    double *r = malloc(sizeof(double) * (size_t)n);
    if (basis == NULL || r == NULL) {
        free(basis), free(r);
        return NAN;
    }
    int nb = 0;
    for (int j = 0; j < k; j++) {
        double *v = basis + (size_t)nb * n;
        for (int i = 0; i < n; i++)
            v[i] = X[(size_t)i * k + j];
        centre(v, n);
        double before = sqrt(dot(v, v, n));
        remove_span(v, basis, nb, n);
        remove_span(v, basis, nb, n); /* twice: MGS loses orthogonality otherwise */
        double after = sqrt(dot(v, v, n));
        if (after <= 1e-9 * before || after == 0)
            continue; /* constant, or in the span already */
        for (int i = 0; i < n; i++)
            v[i] /= after;
        nb++;
    }
    memcpy(r, y, sizeof(double) * n);
    centre(r, n);
    double ss_tot = dot(r, r, n);
    remove_span(r, basis, nb, n);
    double ss_res = dot(r, r, n);
    free(basis), free(r);
    return ss_tot > 0 ? 1 - ss_res / ss_tot : NAN;
}
