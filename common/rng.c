/* rng.c - PCG32 (XSH RR variant) with splitmix64 seeding. */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t rng_stream_id(uint64_t purpose, uint64_t index)
{
    uint64_t x = purpose * 0xD1B54A32D192ED03ull ^ index;
    return splitmix64(&x);
}

void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
    /* Hash both inputs so that nearby seeds and streams are unrelated
     * (plain PCG streams that differ in few bits are correlated). */
    uint64_t x = seed ^ rng_stream_id(0x5EED, stream);
    r->inc = (splitmix64(&x) << 1) | 1u;
    r->state = 0;
    rng_u32(r);
    r->state += splitmix64(&x);
    rng_u32(r);
    r->spare = 0.0;
    r->has_spare = 0;
}

uint32_t rng_u32(rng_t *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ull + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

double rng_uniform(rng_t *r)
{
    uint64_t hi = rng_u32(r) >> 5, lo = rng_u32(r) >> 6; /* 27 + 26 bits */
    return (double)(hi * 67108864ull + lo) * (1.0 / 9007199254740992.0);
}

double rng_range(rng_t *r, double a, double b)
{
    return a + (b - a) * rng_uniform(r);
}

double rng_normal(rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1, u2 = rng_uniform(r);
    do
        u1 = rng_uniform(r);
    while (u1 <= 0.0);
    double rad = sqrt(-2.0 * log(u1)), ang = 2.0 * M_PI * u2;
    r->spare = rad * sin(ang);
    r->has_spare = 1;
    return rad * cos(ang);
}

double rng_trunc_normal(rng_t *r, double std)
{
    double v;
    do
        v = rng_normal(r);
    while (fabs(v) > 2.0);
    return v * std;
}
