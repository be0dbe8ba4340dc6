/* bench.c - the benchmark table; every other module reads shapes from it. */
#include "bench.h"

#include <string.h>

static const bench_info_t benches[] = {
    {BENCH_TARGET1D, "target1d", 1, 1, 3, 1400, 400},
    {BENCH_WIND2D, "wind2d", 2, 1, 4, 4000, 2000},
    {BENCH_TWOTARGETS, "twotargets", 4, 1, 6, 5000, 2000},
};

const bench_info_t *bench_get(enum bench_id id)
{
    for (unsigned i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (benches[i].id == id)
            return &benches[i];
    return NULL;
}

const bench_info_t *bench_lookup(const char *name)
{
    if (name == NULL)
        return NULL;
    for (unsigned i = 0; i < sizeof benches / sizeof benches[0]; i++) {
        char digit[2] = {(char)('0' + benches[i].id), 0};
        if (strcmp(name, benches[i].name) == 0 || strcmp(name, digit) == 0)
            return &benches[i];
    }
    return NULL;
}
