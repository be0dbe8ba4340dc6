/* ppo_loss.c - the policy loss and its gradient with respect to the actor's
 * outputs. */
#include "ppo_loss.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

#include "../nn/policy.h"

#define MAX_ACT 8

double ppo_policy_loss(const float *out_new, const float *out_old,
                       const float *u, const float *adv, int N, int n_mean,
                       int a, ppo_coefs_t c, float *dout, double *kl_mean)
{
    double loss = 0, kls = 0, inv = 1.0 / n_mean;
    float dlm[MAX_ACT], dll[MAX_ACT], dkm[MAX_ACT], dkl[MAX_ACT];
    assert(a <= MAX_ACT);
    for (int i = 0; i < N; i++) {
        const float *mn = out_new + (size_t)i * 2 * a, *ln = mn + a;
        const float *mo = out_old + (size_t)i * 2 * a, *lo = mo + a;
        const float *ui = u + (size_t)i * a;
        float *dm = dout + (size_t)i * 2 * a, *dl = dm + a;
        double ratio = exp((double)policy_logp(ui, mn, ln, a) - (double)policy_logp(ui, mo, lo, a));
        double kl = policy_kl(mo, lo, mn, ln, a);
        double hinge = fmax(0.0, kl - 2 * c.kl_targ);
        loss += -adv[i] * ratio + c.beta * kl + c.eta * hinge * hinge;
        kls += kl;
        policy_logp_grad(dlm, dll, ui, mn, ln, a);
        policy_kl_grad(dkm, dkl, mo, lo, mn, ln, a);
        double wk = c.beta + 2 * c.eta * hinge, wp = -adv[i] * ratio;
        for (int j = 0; j < a; j++) {
            dm[j] = (float)(inv * (wp * dlm[j] + wk * dkm[j]));
            dl[j] = (float)(inv * (wp * dll[j] + wk * dkl[j]));
        }
    }
    *kl_mean = kls * inv;
    return loss * inv;
}
