/* trainer.c - PPO iterations (science.md section 5). */
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../nn/ops.h"
#include "../nn/policy.h"
#include "gae.h"
#include "ppo_loss.h"

/* The policy steps run the batch's 200-step chunks through the actor in
 * groups of this many (the default value minibatch) and add the groups'
 * gradients, which is the batch's gradient: the loss is a sum over rows.
 * One group's caches (5000 rows on benchmark 1) stay in L3 where all 100
 * chunks' did not: the policy update takes 10% less time on benchmarks 1
 * and 2, and its workspace a twentieth of the memory on benchmark 2. */
enum { POLICY_GROUP = 25 };

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void *zalloc(size_t n, size_t size, int *fail)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        *fail = 1;
    return p;
}

int trainer_init(trainer_t *t, const job_config_t *cfg, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (openblas_get_num_threads() != 1) {
        snprintf(err, errlen, "OpenBLAS runs %d threads; jobs need 1 (call "
                 "nn_blas_single_thread() at start-up)", openblas_get_num_threads());
        return -1;
    }
    t->cfg = *cfg;
    t->bench = config_bench(cfg);
    t->B = cfg->batch, t->T = t->bench->episode_len, t->cut = config_train_cut(cfg);
    t->chunk = cfg->chunk, t->act = t->bench->act_dim, t->od = t->bench->obs_dim;
    if (config_check(cfg, err, errlen))
        return -1;
    t->nchunk = t->cut / t->chunk;
    t->total_episodes = (cfg->episodes + t->B - 1) / t->B * t->B;
    if (net_init(&t->actor, t->bench, cfg->arch, ROLE_ACTOR, cfg->z_groups, err, errlen) ||
        net_init(&t->critic, t->bench, cfg->arch, ROLE_CRITIC, cfg->z_groups, err, errlen))
        return -1;

    int fail = 0;
    const int B = t->B, T = t->T, cut = t->cut, od = t->od, a = t->act;
    const int Bp = B * t->nchunk, sw = t->actor.state_width, cw = t->critic.state_width;
    const int mb = cfg->value_minibatch;
    const size_t na = t->actor.n_params, nc = t->critic.n_params;
    const size_t nchunks_rb = (size_t)cfg->replay * t->nchunk * B;
    t->actor_p = zalloc(na, sizeof(float), &fail);
    t->actor_g = zalloc(na, sizeof(float), &fail);
    t->actor_saved = zalloc(na, sizeof(float), &fail);
    t->critic_p = zalloc(nc, sizeof(float), &fail);
    t->critic_g = zalloc(nc, sizeof(float), &fail);
    t->rb_obs = zalloc((size_t)cfg->replay * cut * B * od, sizeof(float), &fail);
    t->rb_ret = zalloc((size_t)cfg->replay * cut * B, sizeof(float), &fail);
    t->obs = zalloc((size_t)T * B * od, sizeof(float), &fail);
    t->u = zalloc((size_t)T * B * a, sizeof(float), &fail);
    t->r = zalloc((size_t)T * B, sizeof(float), &fail);
    t->v = zalloc((size_t)T * B, sizeof(float), &fail);
    t->ret = zalloc((size_t)cut * B, sizeof(float), &fail);
    t->adv = zalloc((size_t)cut * B, sizeof(float), &fail);
    t->state = zalloc((size_t)B * sw, sizeof(float), &fail);
    t->cstate = zalloc((size_t)B * cw, sizeof(float), &fail);
    t->old_out = zalloc((size_t)cut * B * 2 * a, sizeof(float), &fail);
    t->p_obs = zalloc((size_t)cut * B * od, sizeof(float), &fail);
    t->p_u = zalloc((size_t)cut * B * a, sizeof(float), &fail);
    t->p_adv = zalloc((size_t)cut * B, sizeof(float), &fail);
    t->p_old = zalloc((size_t)cut * B * 2 * a, sizeof(float), &fail);
    t->p_state = zalloc((size_t)Bp * sw, sizeof(float), &fail);
    t->p_dout = zalloc((size_t)cut * B * 2 * a, sizeof(float), &fail);
    t->c_state = zalloc(nchunks_rb * cw, sizeof(float), &fail);
    t->order = zalloc(nchunks_rb, sizeof(int), &fail);
    t->m_obs = zalloc((size_t)t->chunk * mb * od, sizeof(float), &fail);
    t->m_ret = zalloc((size_t)t->chunk * mb, sizeof(float), &fail);
    t->m_state = zalloc((size_t)mb * cw, sizeof(float), &fail);
    t->m_dv = zalloc((size_t)t->chunk * mb, sizeof(float), &fail);
    t->eps = zalloc((size_t)B * a, sizeof(float), &fail);
    t->cfg_json = zalloc(4096, 1, &fail);
    t->ws_step = net_ws_new(&t->actor, 1, B);
    t->ws_seq = net_ws_new(&t->actor, t->chunk, B);
    t->policy_group = Bp < POLICY_GROUP ? Bp : POLICY_GROUP;
    t->ws_batch = net_ws_new(&t->actor, t->chunk, t->policy_group);
    t->ws_critic = net_ws_new(&t->critic, t->chunk, B);
    t->ws_value = net_ws_new(&t->critic, t->chunk, mb);
    if (fail || !t->ws_step || !t->ws_seq || !t->ws_batch || !t->ws_critic || !t->ws_value ||
        adam_init(&t->actor_opt, na, cfg->adam_beta1, cfg->adam_beta2, cfg->adam_eps) ||
        adam_init(&t->actor_opt_saved, na, cfg->adam_beta1, cfg->adam_beta2, cfg->adam_eps) ||
        adam_init(&t->critic_opt, nc, cfg->adam_beta1, cfg->adam_beta2, cfg->adam_eps) ||
        env_init(&t->env, t->bench, B, (uint64_t)cfg->seed, cfg->wind_half_cone)) {
        trainer_free(t);
        snprintf(err, errlen, "out of memory building the job");
        return -1;
    }
    job_config_t ident = *cfg;
    ident.episodes = 0; /* a checkpoint may continue to more episodes */
    config_to_json(&ident, t->cfg_json, 4096);

    rng_t init;
    rng_seed(&init, (uint64_t)cfg->seed, RNG_INIT);
    net_init_params(&t->actor, t->actor_p, &init, cfg->init_std);
    net_init_params(&t->critic, t->critic_p, &init, cfg->init_std);
    rng_seed(&t->rng_sample, (uint64_t)cfg->seed, RNG_SAMPLE);
    rng_seed(&t->rng_shuffle, (uint64_t)cfg->seed, RNG_SHUFFLE);
    t->beta = cfg->beta_init, t->lr_mult = 1.0;
    return 0;
}

void trainer_free(trainer_t *t)
{
    free(t->actor_p), free(t->actor_g), free(t->actor_saved);
    free(t->critic_p), free(t->critic_g);
    free(t->rb_obs), free(t->rb_ret);
    free(t->obs), free(t->u), free(t->r), free(t->v), free(t->ret), free(t->adv);
    free(t->state), free(t->cstate), free(t->old_out);
    free(t->p_obs), free(t->p_u), free(t->p_adv), free(t->p_old), free(t->p_state);
    free(t->p_dout), free(t->c_state), free(t->order);
    free(t->m_obs), free(t->m_ret), free(t->m_state), free(t->m_dv), free(t->eps);
    free(t->cfg_json);
    net_ws_free(t->ws_step), net_ws_free(t->ws_seq), net_ws_free(t->ws_batch);
    net_ws_free(t->ws_critic), net_ws_free(t->ws_value);
    adam_free(&t->actor_opt), adam_free(&t->actor_opt_saved), adam_free(&t->critic_opt);
    env_free(&t->env);
    memset(t, 0, sizeof *t);
}

int trainer_done(const trainer_t *t)
{
    return t->episodes_done >= t->total_episodes;
}

/* Step 1: B episodes of T steps with the sampling policy. */
static void rollout(trainer_t *t, ppo_episode_t *eps)
{
    const int B = t->B, a = t->act, od = t->od, sw = t->actor.state_width;
    const int shared = t->cfg.exploration_noise == EXPLORE_SHARED;
    env_reset(&t->env, t->obs);
    memset(t->state, 0, sizeof(float) * B * sw);
    for (int s = 0; s < t->T; s++) {
        const float *o = t->obs + (size_t)s * B * od;
        net_forward(&t->actor, t->actor_p, t->ws_step, o, 1, B, t->state, t->state);
        /* the reference draws one eps per step for the whole batch */
        for (int i = 0; i < (shared ? a : B * a); i++)
            t->eps[i] = (float)rng_normal(&t->rng_sample);
        float *u = t->u + (size_t)s * B * a;
        for (int b = 0; b < B; b++) {
            const float *m = t->ws_step->out + (size_t)b * 2 * a;
            policy_sample(u + (size_t)b * a, m, m + a, t->eps + (shared ? 0 : (size_t)b * a), a);
        }
        env_step(&t->env, u, s + 1 < t->T ? t->obs + (size_t)(s + 1) * B * od : NULL,
                 t->r + (size_t)s * B);
    }
    for (int b = 0; b < B; b++) {
        eps[b].episode = t->env.episode[b];
        eps[b].ret = t->env.ret[b];
        eps[b].hits = t->env.hits[b];
        eps[b].bad_hits = t->env.bad_hits[b];
    }
}

/* Step 2: critic values over the whole trajectories, chunk by chunk. */
static void values(trainer_t *t)
{
    const int B = t->B, od = t->od;
    memset(t->cstate, 0, sizeof(float) * B * t->critic.state_width);
    for (int s0 = 0; s0 < t->T; s0 += t->chunk) {
        int n = t->T - s0 < t->chunk ? t->T - s0 : t->chunk;
        net_forward(&t->critic, t->critic_p, t->ws_critic, t->obs + (size_t)s0 * B * od, n, B,
                    t->cstate, t->cstate);
        memcpy(t->v + (size_t)s0 * B, t->ws_critic->out, sizeof(float) * n * B);
    }
}

/* Runs the actor over the cut trajectories from zero state, chunk by chunk
 * (the same as one pass: the state is carried). With states != NULL, also
 * records each chunk's initial state as rows c*B + b. Outputs go to out
 * (cut,B,2a). */
static void actor_pass(trainer_t *t, float *out, float *states)
{
    const int B = t->B, od = t->od, a = t->act, sw = t->actor.state_width;
    memset(t->state, 0, sizeof(float) * B * sw);
    for (int c = 0; c < t->nchunk; c++) {
        if (states)
            memcpy(states + (size_t)c * B * sw, t->state, sizeof(float) * B * sw);
        net_forward(&t->actor, t->actor_p, t->ws_seq, t->obs + (size_t)c * t->chunk * B * od,
                    t->chunk, B, t->state, t->state);
        memcpy(out + (size_t)c * t->chunk * B * 2 * a, t->ws_seq->out,
               sizeof(float) * t->chunk * B * 2 * a);
    }
}

/* Copies rows of a (cut,B,w) sequence into the chunk batch layout: chunk
 * column col = c*B + b (chunk c of episode b) goes to group col / G, whose
 * rows are (step, column within the group), so each group is one
 * contiguous (chunk, g, w) sequence. */
static void to_batch(const trainer_t *t, float *dst, const float *src, int w)
{
    const int B = t->B, Bp = B * t->nchunk, G = t->policy_group;
    for (int c = 0; c < t->nchunk; c++)
        for (int b = 0; b < B; b++) {
            int col = c * B + b, q0 = col / G * G, g = Bp - q0 < G ? Bp - q0 : G;
            for (int s = 0; s < t->chunk; s++)
                memcpy(dst + ((size_t)q0 * t->chunk + (size_t)s * g + (col - q0)) * w,
                       src + ((size_t)(c * t->chunk + s) * B + b) * w, sizeof(float) * w);
        }
}

static double mean_kl(const trainer_t *t, const float *out, double *mean_logvar)
{
    const int a = t->act;
    const size_t n = (size_t)t->cut * t->B;
    double kl = 0, lv = 0;
    for (size_t i = 0; i < n; i++) {
        const float *o = t->old_out + i * 2 * a, *w = out + i * 2 * a;
        kl += policy_kl(o, o + a, w, w + a, a);
        for (int j = 0; j < a; j++)
            lv += w[a + j];
    }
    *mean_logvar = lv / ((double)n * a);
    return kl / (double)n;
}

/* Step 6-7: policy update with the revert rule and beta/lr adaptation. */
static void policy_update(trainer_t *t, ppo_iter_t *it)
{
    const job_config_t *c = &t->cfg;
    const int a = t->act, Bp = t->B * t->nchunk, N = t->chunk * Bp;
    actor_pass(t, t->old_out, t->p_state);
    to_batch(t, t->p_obs, t->obs, t->od);
    to_batch(t, t->p_u, t->u, a);
    to_batch(t, t->p_adv, t->adv, 1);
    to_batch(t, t->p_old, t->old_out, 2 * a);

    memcpy(t->actor_saved, t->actor_p, sizeof(float) * t->actor.n_params);
    adam_copy(&t->actor_opt_saved, &t->actor_opt);
    ppo_coefs_t coefs = {t->beta, c->eta, c->kl_targ};
    double kl_group;
    for (int s = 0; s < c->policy_steps; s++) {
        memset(t->actor_g, 0, sizeof(float) * t->actor.n_params);
        it->policy_loss = 0;
        for (int q0 = 0; q0 < Bp; q0 += t->policy_group) {
            const int g = Bp - q0 < t->policy_group ? Bp - q0 : t->policy_group;
            const size_t r0 = (size_t)q0 * t->chunk;
            net_forward(&t->actor, t->actor_p, t->ws_batch, t->p_obs + r0 * t->od, t->chunk, g,
                        t->p_state + (size_t)q0 * t->actor.state_width, NULL);
            it->policy_loss += ppo_policy_loss(t->ws_batch->out, t->p_old + r0 * 2 * a, t->p_u + r0 * a,
                                               t->p_adv + r0, t->chunk * g, N, a, coefs,
                                               t->p_dout + r0 * 2 * a, &kl_group);
            net_backward(&t->actor, t->actor_p, t->actor_g, t->ws_batch, t->p_obs + r0 * t->od,
                         t->p_dout + r0 * 2 * a, t->chunk, g);
        }
        adam_step(&t->actor_opt, t->actor_p, t->actor_g, c->policy_lr * t->lr_mult);
    }

    /* KL over the full batch, from zero states, not chunked */
    float *new_out = t->p_dout; /* free now; (cut,B,2a) fits */
    actor_pass(t, new_out, NULL);
    double kl = mean_kl(t, new_out, &it->mean_logvar);
    it->reverted = 0;
    if (kl > 4 * c->kl_targ || isnan(kl)) {
        memcpy(t->actor_p, t->actor_saved, sizeof(float) * t->actor.n_params);
        adam_copy(&t->actor_opt, &t->actor_opt_saved);
        t->beta = fmin(c->beta_max, 1.5 * t->beta);
        it->reverted = 1;
    }
    if (kl > 2 * c->kl_targ) {
        t->beta = fmin(c->beta_max, 1.5 * t->beta);
        if (t->beta > 30)
            t->lr_mult /= 1.5;
    } else if (kl < c->kl_targ / 2) {
        t->beta = fmax(c->beta_min, t->beta / 1.5);
        if (t->beta < 1.0 / 30)
            t->lr_mult *= 1.5;
    }
    it->kl = kl;
}

/* Step 8: the critic on the replay buffer of the last `replay` iterations. */
static void value_update(trainer_t *t, ppo_iter_t *it)
{
    const job_config_t *c = &t->cfg;
    const int B = t->B, od = t->od, cw = t->critic.state_width, cut = t->cut;
    const size_t slot_obs = (size_t)cut * B * od, slot_ret = (size_t)cut * B;
    memcpy(t->rb_obs + t->rb_head * slot_obs, t->obs, sizeof(float) * slot_obs);
    memcpy(t->rb_ret + t->rb_head * slot_ret, t->ret, sizeof(float) * slot_ret);
    t->rb_head = (t->rb_head + 1) % c->replay;
    if (t->rb_count < c->replay)
        t->rb_count++;

    /* carried critic states at every chunk start, once, from zero states;
     * chunk id = (slot * nchunk + chunk) * B + episode */
    for (int s = 0; s < t->rb_count; s++) {
        memset(t->cstate, 0, sizeof(float) * B * cw);
        for (int k = 0; k < t->nchunk; k++) {
            memcpy(t->c_state + ((size_t)(s * t->nchunk + k) * B) * cw, t->cstate,
                   sizeof(float) * B * cw);
            net_forward(&t->critic, t->critic_p, t->ws_critic,
                        t->rb_obs + s * slot_obs + (size_t)k * t->chunk * B * od, t->chunk, B,
                        t->cstate, t->cstate);
        }
    }
    const int n = t->rb_count * t->nchunk * B, mbmax = c->value_minibatch;
    for (int i = 0; i < n; i++)
        t->order[i] = i;
    double loss_sum = 0;
    int batches = 0;
    for (int e = 0; e < c->value_epochs; e++) {
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(rng_uniform(&t->rng_shuffle) * (i + 1));
            int tmp = t->order[i];
            t->order[i] = t->order[j], t->order[j] = tmp;
        }
        loss_sum = 0, batches = 0;
        for (int i0 = 0; i0 < n; i0 += mbmax) {
            int mb = n - i0 < mbmax ? n - i0 : mbmax;
            for (int k = 0; k < mb; k++) {
                int id = t->order[i0 + k], b = id % B, sk = id / B;
                int s = sk / t->nchunk, ch = sk % t->nchunk;
                memcpy(t->m_state + (size_t)k * cw, t->c_state + (size_t)id * cw, sizeof(float) * cw);
                for (int st = 0; st < t->chunk; st++) {
                    size_t src = (size_t)(ch * t->chunk + st) * B + b;
                    memcpy(t->m_obs + ((size_t)st * mb + k) * od, t->rb_obs + s * slot_obs + src * od,
                           sizeof(float) * od);
                    t->m_ret[(size_t)st * mb + k] = t->rb_ret[s * slot_ret + src];
                }
            }
            net_forward(&t->critic, t->critic_p, t->ws_value, t->m_obs, t->chunk, mb, t->m_state, NULL);
            const int N = t->chunk * mb;
            double l = 0;
            for (int q = 0; q < N; q++) {
                double d = (double)t->ws_value->out[q] - t->m_ret[q];
                l += d * d;
                t->m_dv[q] = (float)(2.0 * d / N);
            }
            loss_sum += l / N, batches++;
            memset(t->critic_g, 0, sizeof(float) * t->critic.n_params);
            net_backward(&t->critic, t->critic_p, t->critic_g, t->ws_value, t->m_obs, t->m_dv,
                         t->chunk, mb);
            adam_step(&t->critic_opt, t->critic_p, t->critic_g, c->value_lr);
        }
    }
    it->value_loss = batches ? loss_sum / batches : 0;
}

static int all_finite(const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return 0;
    return 1;
}

int trainer_iterate(trainer_t *t, ppo_episode_t *eps, ppo_iter_t *it, char *err,
                    size_t errlen)
{
    memset(it, 0, sizeof *it);
    it->iteration = t->iteration;
    double t0 = now_ms();
    rollout(t, eps);
    double t1 = now_ms();
    values(t);
    gae_compute(t->r, t->v, t->T, t->B, t->cut, t->cfg.gamma, t->cfg.lambda, t->ret, t->adv);
    double t2 = now_ms();
    policy_update(t, it);
    double t3 = now_ms();
    value_update(t, it);
    double t4 = now_ms();
    it->rollout_ms = t1 - t0, it->update_ms = t4 - t1;
    it->policy_ms = t3 - t2, it->value_ms = t4 - t3;
    if (!all_finite(t->actor_p, t->actor.n_params) || !all_finite(t->critic_p, t->critic.n_params)) {
        snprintf(err, errlen, "iteration %lld: the %s parameters became non-finite; the job stops "
                 "(its last checkpoint is intact)", (long long)t->iteration,
                 all_finite(t->actor_p, t->actor.n_params) ? "critic" : "actor");
        return -1;
    }
    for (int b = 0; b < t->B; b++)
        if (!isfinite(eps[b].ret)) {
            snprintf(err, errlen, "iteration %lld: episode %lld has a non-finite return",
                     (long long)t->iteration, (long long)eps[b].episode);
            return -1;
        }
    t->iteration++;
    t->episodes_done += t->B;
    it->episodes_done = t->episodes_done;
    it->beta = t->beta, it->lr_mult = t->lr_mult;
    return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

uint64_t trainer_state_hash(const trainer_t *t)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, t->actor_p, sizeof(float) * t->actor.n_params);
    h = fnv(h, t->critic_p, sizeof(float) * t->critic.n_params);
    h = fnv(h, t->actor_opt.m, sizeof(float) * t->actor.n_params);
    h = fnv(h, t->actor_opt.v, sizeof(float) * t->actor.n_params);
    h = fnv(h, t->critic_opt.m, sizeof(float) * t->critic.n_params);
    h = fnv(h, t->critic_opt.v, sizeof(float) * t->critic.n_params);
    return h;
}
