/* fuzz_wire.c - libFuzzer target for the TCP protocol's frame parser (the
 * Slurm executor's workers talk to nmnd through it): any bytes, split into
 * as many frames as they hold, under both the pre- and post-hello limits,
 * must parse or fail with a message, and a parsed frame must lie inside the
 * bytes. `make fuzz` runs it from tests/fuzz/corpus/wire. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int authed = 0; authed < 2; authed++) {
        size_t off = 0;
        for (;;) {
            wire_frame_t f;
            char err[256] = "";
            int rc = wire_parse(data + off, size - off, authed ? WIRE_MAX_JSON : 4096,
                                authed ? WIRE_MAX_BLOB : 0, &f, err, sizeof err);
            if (rc < 0 && err[0] == 0)
                __builtin_trap(); /* an error must come with its message */
            if (rc <= 0)
                break;
            if (f.size > size - off || f.type == NULL || f.blob + f.blob_len > data + size ||
                (!authed && f.blob_len))
                __builtin_trap();
            (void)wire_int(f.msg, "job_id");
            json_decref(f.msg);
            off += f.size;
        }
    }
    return 0;
}
