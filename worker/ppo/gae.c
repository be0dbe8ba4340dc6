/* gae.c - returns and advantages. */
#include "gae.h"

#include <math.h>
#include <stdlib.h>

void gae_compute(const float *r, const float *v, int T, int B, int cut,
                 double gamma, double lambda, float *ret, float *adv)
{
    double sum = 0, sum2 = 0;
    /* Two passes: the first gets R and the mean and std of A over the cut,
     * the second recomputes A (O(T B), cheaper than a double buffer) and
     * normalises it. */
    for (int b = 0; b < B; b++) {
        double R = 0, A = 0, vnext = 0;
        for (int t = T - 1; t >= 0; t--) {
            double rs = (1.0 - gamma) * (double)r[(size_t)t * B + b];
            double vt = (double)v[(size_t)t * B + b];
            R = rs + gamma * R;
            A = rs + gamma * vnext - vt + gamma * lambda * A;
            vnext = vt;
            if (t < cut) {
                ret[(size_t)t * B + b] = (float)R;
                sum += A, sum2 += A * A;
            }
        }
    }
    double n = (double)cut * B, mean = sum / n;
    double sd = sqrt(fmax(0.0, sum2 / n - mean * mean));
    for (int b = 0; b < B; b++) {
        double A = 0, vnext = 0;
        for (int t = T - 1; t >= 0; t--) {
            double rs = (1.0 - gamma) * (double)r[(size_t)t * B + b];
            double vt = (double)v[(size_t)t * B + b];
            A = rs + gamma * vnext - vt + gamma * lambda * A;
            vnext = vt;
            if (t < cut)
                adv[(size_t)t * B + b] = (float)((A - mean) / (sd + 1e-6));
        }
    }
}
