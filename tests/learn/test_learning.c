/* test_learning.c - PPO learns: on benchmark 1 with default
 * hyperparameters, an nmn job of 1500 episodes raises the mean return of
 * its last 200 episodes by at least 3000 over its first 200, for two seeds
 * (trained side by side on two threads). Release build only: it trains for
 * real (about a minute). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../../worker/nn/ops.h"
#include "../../worker/ppo/trainer.h"

enum { EPISODES = 1500, WINDOW = 200 };

typedef struct job {
    long seed;
    double ret[EPISODES];
    int n;
    double secs_per_iter;
    char err[512];
} job_t;

static void *train(void *arg)
{
    job_t *j = arg;
    job_config_t c;
    config_defaults(&c); /* benchmark target1d, arch nmn, every default */
    c.seed = j->seed, c.episodes = EPISODES;
    trainer_t t;
    if (trainer_init(&t, &c, j->err, sizeof j->err))
        return NULL;
    ppo_episode_t eps[50];
    ppo_iter_t it;
    double ms = 0;
    while (!trainer_done(&t) && trainer_iterate(&t, eps, &it, j->err, sizeof j->err) == 0) {
        for (int b = 0; b < t.B; b++)
            j->ret[j->n++] = eps[b].ret;
        ms += it.rollout_ms + it.update_ms;
    }
    j->secs_per_iter = ms / 1e3 / (double)t.iteration;
    trainer_free(&t);
    return NULL;
}

static double mean(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s / n;
}

static void test_nmn_learns_target1d(void **state)
{
    (void)state;
    job_t jobs[2] = {{.seed = 1}, {.seed = 2}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, train, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        job_t *j = &jobs[i];
        if (j->n != EPISODES)
            printf("# seed %ld stopped after %d episodes: %s\n", j->seed, j->n, j->err);
        assert_int_equal(j->n, EPISODES);
        double first = mean(j->ret, WINDOW), last = mean(j->ret + EPISODES - WINDOW, WINDOW);
        printf("# seed %ld: mean return of episodes 0-199 %.1f, 1300-1499 %.1f: gain %.1f "
               "(want >= 3000); %.2f s per iteration (2 jobs on the machine)\n",
               j->seed, first, last, last - first, j->secs_per_iter);
        for (int k = 0; k < EPISODES; k += 250)
            printf("#   episodes %4d-%4d: mean return %.1f\n", k, k + 249, mean(j->ret + k, 250));
        assert_true(last - first >= 3000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nmn_learns_target1d),
    };
    nn_blas_single_thread();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
