/* ppo_loss.h - the KL-penalty PPO policy loss of science.md section 5,
 * step 6, over N rows (time steps of all chunks):
 *
 *   L = mean[-A exp(logp_new - logp_old)] + beta mean[KL]
 *       + eta mean[max(0, KL - 2 kl_targ)^2]
 *
 * with KL = KL(old || new) per row. */
#ifndef NMN_PPO_LOSS_H
#define NMN_PPO_LOSS_H

typedef struct ppo_coefs {
    double beta, eta, kl_targ;
} ppo_coefs_t;

/* out_new, out_old: (N, 2a) = [mean | logvar]; u: (N, a) actions taken;
 * adv: (N) normalised advantages. Writes dout (N, 2a) = dL/d out_new and
 * returns L; *kl_mean gets the mean KL. The means divide by n_mean: N for
 * a whole batch, the batch's rows for one group of it, so that the groups'
 * losses and gradients add up to the batch's. */
double ppo_policy_loss(const float *out_new, const float *out_old,
                       const float *u, const float *adv, int N, int n_mean,
                       int a, ppo_coefs_t c, float *dout, double *kl_mean);

#endif
