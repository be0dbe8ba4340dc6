/* ops.c - activations and small helpers shared by the layers. */
#include "ops.h"

#include "fastmath.h"

void act_forward(enum nn_act act, float *y, size_t n)
{
    switch (act) {
    case ACT_LINEAR:
        break;
    case ACT_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case ACT_SATRELU:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] < -1.0f ? -1.0f : (y[i] > 1.0f ? 1.0f : y[i]);
        break;
    }
}

void act_backward(enum nn_act act, float *d, const float *y, size_t n)
{
    switch (act) {
    case ACT_LINEAR:
        break;
    case ACT_RELU:
        for (size_t i = 0; i < n; i++)
            d[i] = y[i] > 0.0f ? d[i] : 0.0f;
        break;
    case ACT_SATRELU:
        for (size_t i = 0; i < n; i++)
            d[i] = (y[i] > -1.0f && y[i] < 1.0f) ? d[i] : 0.0f;
        break;
    }
}

NN_CLONES void nn_colsum(float *restrict acc, const float *restrict d,
                         int rows, int n, int ldd)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++)
            acc[j] += d[(size_t)r * ldd + j];
}

static int force_fallback;

void nn_kernels_force_fallback(int on)
{
    force_fallback = on;
}

int nn_kernels_active(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return !force_fallback && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int nn_blas_single_thread(void)
{
    openblas_set_num_threads(1);
    return openblas_get_num_threads();
}
