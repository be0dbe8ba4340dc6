/* policy.c - Gaussian policy: sampling, log-probability, KL, entropy. */
#include "policy.h"

#include <math.h>

void policy_sample(float *u, const float *m, const float *l, const float *eps,
                   int act_dim)
{
    for (int j = 0; j < act_dim; j++)
        u[j] = m[j] + expf(l[j] * 0.5f) * eps[j];
}

float policy_logp(const float *u, const float *m, const float *l, int act_dim)
{
    float s = 0.0f;
    for (int j = 0; j < act_dim; j++) {
        float d = u[j] - m[j];
        s += -0.5f * l[j] - 0.5f * d * d / (expf(l[j]) + POLICY_VAR_EPS);
    }
    return s;
}

void policy_logp_grad(float *dm, float *dl, const float *u, const float *m,
                      const float *l, int act_dim)
{
    for (int j = 0; j < act_dim; j++) {
        float d = u[j] - m[j], e = expf(l[j]), var = e + POLICY_VAR_EPS;
        dm[j] = d / var;
        dl[j] = -0.5f + 0.5f * d * d * e / (var * var);
    }
}

float policy_kl(const float *m_old, const float *l_old, const float *m_new,
                const float *l_new, int act_dim)
{
    float s = 0.0f;
    for (int j = 0; j < act_dim; j++) {
        float d = m_new[j] - m_old[j];
        s += l_new[j] - l_old[j] + expf(l_old[j] - l_new[j]) +
             d * d / (expf(l_new[j]) + POLICY_VAR_EPS) - 1.0f;
    }
    return 0.5f * s;
}

void policy_kl_grad(float *dm, float *dl, const float *m_old,
                    const float *l_old, const float *m_new,
                    const float *l_new, int act_dim)
{
    for (int j = 0; j < act_dim; j++) {
        float d = m_new[j] - m_old[j], e = expf(l_new[j]);
        float var = e + POLICY_VAR_EPS;
        dm[j] = d / var;
        dl[j] = 0.5f * (1.0f - expf(l_old[j] - l_new[j]) - d * d * e / (var * var));
    }
}

float policy_entropy(const float *l, int act_dim)
{
    float s = 0.0f;
    for (int j = 0; j < act_dim; j++)
        s += l[j];
    return 0.5f * ((float)act_dim * (logf(2.0f * (float)M_PI) + 1.0f) + s);
}
