/* trainer.h - one job: an actor-critic pair trained with the reference's
 * KL-penalty PPO (science.md section 5) on one benchmark.
 *
 * A trainer owns every piece of its state (networks, optimisers, RNG
 * streams, environment, replay buffer, workspaces) and shares nothing, so
 * jobs run side by side on separate threads; it allocates only in
 * trainer_init. Its results depend only on its config. */
#ifndef NMN_TRAINER_H
#define NMN_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "../../common/config.h"
#include "../../common/rng.h"
#include "../env/env.h"
#include "../nn/adam.h"
#include "../nn/net.h"

typedef struct ppo_episode {
    int64_t episode; /* 0-based index in the job */
    double ret;      /* sum of rewards */
    int hits, bad_hits;
} ppo_episode_t;

typedef struct ppo_iter {
    int64_t iteration;     /* 0-based */
    int64_t episodes_done; /* after this iteration */
    double kl, beta, lr_mult; /* KL measured after the update; beta and
                                 lr_mult after adapting to it */
    int reverted;
    double policy_loss;    /* at the last Adam step */
    double value_loss;     /* mean over the last epoch's minibatches */
    double mean_logvar;    /* of the updated actor over the batch */
    double rollout_ms, update_ms; /* update: values, GAE, policy, value */
    double policy_ms, value_ms;   /* the policy and the value updates */
} ppo_iter_t;

typedef struct trainer {
    job_config_t cfg;
    const bench_info_t *bench;
    int B, T, cut, chunk, nchunk, act, od;
    int64_t total_episodes; /* config episodes rounded up to whole batches */

    net_t actor, critic;
    float *actor_p, *actor_g, *actor_saved, *critic_p, *critic_g; /* flat */
    adam_t actor_opt, actor_opt_saved, critic_opt;
    double beta, lr_mult;
    int64_t iteration, episodes_done;
    rng_t rng_sample, rng_shuffle;
    env_t env;

    /* replay buffer: `replay` slots of one iteration's cut trajectories */
    float *rb_obs;  /* (replay, cut, B, od) */
    float *rb_ret;  /* (replay, cut, B) */
    int rb_count, rb_head;

    /* work buffers, sized once */
    int policy_group; /* chunks per actor pass of a policy step (tests may lower it) */
    net_ws_t *ws_step, *ws_seq, *ws_batch, *ws_critic, *ws_value;
    float *obs, *u, *r, *v, *ret, *adv;       /* rollout, (T,B,.) */
    float *state, *cstate;                    /* (B, state width) */
    float *old_out;                           /* (cut,B,2a) */
    float *p_obs, *p_u, *p_adv, *p_old, *p_state, *p_dout; /* policy batch */
    float *c_state;                           /* critic states per chunk */
    int *order;
    float *m_obs, *m_ret, *m_state, *m_dv;    /* value minibatch */
    float *eps;
    char *cfg_json;
} trainer_t;

/* Builds the job; returns 0, or -1 with a message in err. */
int trainer_init(trainer_t *t, const job_config_t *cfg, char *err, size_t errlen);
void trainer_free(trainer_t *t);
int trainer_done(const trainer_t *t);
/* One PPO iteration: B episodes, then the policy and value updates. Fills
 * eps (B rows) and *it. Returns 0, or -1 with a message naming the
 * iteration (non-finite parameters); nothing is reported then. */
int trainer_iterate(trainer_t *t, ppo_episode_t *eps, ppo_iter_t *it,
                    char *err, size_t errlen);
/* FNV-1a 64 over both networks' parameters and optimiser states. */
uint64_t trainer_state_hash(const trainer_t *t);

/* Checkpoint: every piece of training state in one file, written durably
 * (common/durable.h). Returns 0, or -1 with a message. */
int trainer_save(const trainer_t *t, const char *path, char *err, size_t errlen);
/* The bytes trainer_save writes (malloc'd; NULL if out of memory), for
 * shipping a checkpoint without a file. */
unsigned char *trainer_serialize(const trainer_t *t, size_t *size);
/* Restores a checkpoint into a trainer built from the same config; refuses
 * (-1, message) a truncated, corrupted, other-version or other-job file. */
int trainer_load(trainer_t *t, const char *path, char *err, size_t errlen);
/* The job config a checkpoint was written for (episodes left at its
 * default: checkpoints do not fix the budget). Returns 0, or -1 with a
 * message. */
int trainer_load_config(const char *path, job_config_t *cfg, char *err, size_t errlen);

#endif
