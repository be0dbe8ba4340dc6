/* rng.h - deterministic random numbers: PCG32 (O'Neill, pcg-random.org).
 *
 * A generator is fully described by its struct, a plain value: copying it
 * (or writing it to a checkpoint) saves it exactly. Each job derives one
 * stream per purpose from its seed, so results never depend on which thread
 * or process runs the job. */
#ifndef NMN_RNG_H
#define NMN_RNG_H

#include <stdint.h>

/* What a stream is for; a job seeds one generator per purpose. */
enum rng_purpose {
    RNG_INIT = 1,    /* network initialisation */
    RNG_ENV = 2,     /* tasks and episode draws */
    RNG_SAMPLE = 3,  /* exploration noise */
    RNG_SHUFFLE = 4, /* minibatch order */
    RNG_EVAL = 5,    /* action sampling of nmn-worker eval */
};

typedef struct rng {
    uint64_t state;
    uint64_t inc;       /* stream selector, always odd */
    double spare;       /* second Box-Muller value */
    int has_spare;
} rng_t;

/* Seed from (seed, stream); distinct streams give unrelated sequences. */
void rng_seed(rng_t *r, uint64_t seed, uint64_t stream);
uint32_t rng_u32(rng_t *r);
/* Uniform double in [0, 1), 53 random bits. */
double rng_uniform(rng_t *r);
/* Uniform double in [a, b). */
double rng_range(rng_t *r, double a, double b);
/* Standard normal (Box-Muller, polar-free form; both values used). */
double rng_normal(rng_t *r);
/* Normal with std `std`, redrawn until within 2 std (TensorFlow's
 * truncated_normal). */
double rng_trunc_normal(rng_t *r, double std);
/* A stream id for (purpose, index), e.g. one env stream per episode. */
uint64_t rng_stream_id(uint64_t purpose, uint64_t index);

#endif
