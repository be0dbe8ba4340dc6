/* policy.h - the Gaussian policy of science.md section 4, per row of
 * act_dim values (mean m, log-variance l). Constants are dropped from
 * log p as the reference does. */
#ifndef NMN_POLICY_H
#define NMN_POLICY_H

#define POLICY_VAR_EPS 1e-6f

/* u = m + exp(l/2) eps */
void policy_sample(float *u, const float *m, const float *l, const float *eps,
                   int act_dim);
/* -1/2 sum(l) - 1/2 sum((u - m)^2 / (exp(l) + 1e-6)) */
float policy_logp(const float *u, const float *m, const float *l, int act_dim);
/* d logp / dm and d logp / dl (act_dim each) */
void policy_logp_grad(float *dm, float *dl, const float *u, const float *m,
                      const float *l, int act_dim);
/* KL(old || new) = 1/2 [sum(l_new) - sum(l_old) + sum(exp(l_old - l_new))
 *                       + sum((m_new - m_old)^2 / (exp(l_new) + 1e-6))
 *                       - act_dim] */
float policy_kl(const float *m_old, const float *l_old, const float *m_new,
                const float *l_new, int act_dim);
/* d KL / d m_new and d KL / d l_new */
void policy_kl_grad(float *dm, float *dl, const float *m_old,
                    const float *l_old, const float *m_new,
                    const float *l_new, int act_dim);
/* 1/2 (act_dim (ln 2 pi + 1) + sum(l)); logged only */
float policy_entropy(const float *l, int act_dim);

#endif
