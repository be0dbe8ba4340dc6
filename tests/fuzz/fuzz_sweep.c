/* fuzz_sweep.c - libFuzzer target for the sweep file parser: any bytes must
 * give jobs or an error message, never a crash, a leak or undefined
 * behaviour. `make fuzz` runs it from tests/fuzz/corpus/sweep. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../common/sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sweep_t s;
    char err[512];
    if (sweep_parse("fuzz.yaml", (const char *)data, size, &s, err, sizeof err) == 0)
        sweep_free(&s);
    else if (err[0] == 0 || memchr(err, 0, sizeof err) == NULL)
        __builtin_trap(); /* an error must come with its message */
    return 0;
}
