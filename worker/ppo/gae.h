/* gae.h - returns and generalised advantages (science.md section 5, steps
 * 3-5), in double precision as the reference computes them in numpy. */
#ifndef NMN_GAE_H
#define NMN_GAE_H

/* r, v: (T,B) time-major raw rewards and critic values. With
 * rs = (1 - gamma) r, V_T = 0 and no bootstrap:
 *   R_t = sum_k gamma^k rs_{t+k}
 *   A_t = sum_k (gamma lambda)^k (rs_{t+k} + gamma V_{t+k+1} - V_{t+k})
 * Writes the first `cut` steps: ret (cut,B) and adv (cut,B), the latter
 * normalised over all cut*B values: (A - mean) / (pop. std + 1e-6). */
void gae_compute(const float *r, const float *v, int T, int B, int cut,
                 double gamma, double lambda, float *ret, float *adv);

#endif
