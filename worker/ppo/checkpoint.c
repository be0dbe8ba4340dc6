/* checkpoint.c - trainer_save / trainer_load: one file holding every piece
 * of a job's training state.
 *
 * Layout: header { magic "NMNCKPT\0", u32 version, u32 0, u64 payload
 * bytes, u64 FNV-1a 64 of the payload }, then the payload: the job's
 * canonical config JSON without `episodes` (u32 length + bytes: a run can
 * be resumed with a larger episode budget), counters, beta and lr_mult,
 * the RNG streams, the environment, both networks with their Adam states,
 * and the replay buffer. Native byte order: checkpoints move between
 * machines of one architecture. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/durable.h"
#include "trainer.h"

#define CKPT_MAGIC "NMNCKPT"
#define CKPT_VERSION 1u

typedef struct buf {
    unsigned char *p;
    size_t len, cap, pos;
    int fail;
} buf_t;

static void put(buf_t *b, const void *src, size_t n)
{
    if (b->fail)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->fail = 1;
            return;
        }
        b->p = np, b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void get(buf_t *b, void *dst, size_t n)
{
    if (b->fail || b->pos + n > b->len) {
        b->fail = 1;
        return;
    }
    memcpy(dst, b->p + b->pos, n);
    b->pos += n;
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* The payload, in one order for writing and reading: io(b, ptr, bytes). */
static void payload(trainer_t *t, buf_t *b, void (*io)(buf_t *, void *, size_t))
{
    const job_config_t *c = &t->cfg;
    io(b, &t->iteration, sizeof t->iteration);
    io(b, &t->episodes_done, sizeof t->episodes_done);
    io(b, &t->beta, sizeof t->beta);
    io(b, &t->lr_mult, sizeof t->lr_mult);
    io(b, &t->rng_sample, sizeof t->rng_sample);
    io(b, &t->rng_shuffle, sizeof t->rng_shuffle);
    io(b, &t->env.next_episode, sizeof t->env.next_episode);
    io(b, &t->env.t, sizeof t->env.t);
    io(b, t->env.mem, t->env.mem_bytes);
    io(b, t->actor_p, sizeof(float) * t->actor.n_params);
    io(b, &t->actor_opt.step, sizeof t->actor_opt.step);
    io(b, t->actor_opt.m, sizeof(float) * t->actor.n_params);
    io(b, t->actor_opt.v, sizeof(float) * t->actor.n_params);
    io(b, t->critic_p, sizeof(float) * t->critic.n_params);
    io(b, &t->critic_opt.step, sizeof t->critic_opt.step);
    io(b, t->critic_opt.m, sizeof(float) * t->critic.n_params);
    io(b, t->critic_opt.v, sizeof(float) * t->critic.n_params);
    io(b, &t->rb_count, sizeof t->rb_count);
    io(b, &t->rb_head, sizeof t->rb_head);
    io(b, t->rb_obs, sizeof(float) * c->replay * t->cut * t->B * t->od);
    io(b, t->rb_ret, sizeof(float) * c->replay * t->cut * t->B);
}

static void io_put(buf_t *b, void *p, size_t n) { put(b, p, n); }
static void io_get(buf_t *b, void *p, size_t n) { get(b, p, n); }

unsigned char *trainer_serialize(const trainer_t *t, size_t *size)
{
    buf_t b = {0};
    unsigned char hdr[32] = CKPT_MAGIC;
    put(&b, hdr, sizeof hdr); /* filled in below, once the payload is known */
    uint32_t jl = (uint32_t)strlen(t->cfg_json);
    put(&b, &jl, sizeof jl);
    put(&b, t->cfg_json, jl);
    payload((trainer_t *)t, &b, io_put);
    if (b.fail) {
        free(b.p);
        return NULL;
    }
    uint32_t version = CKPT_VERSION, zero = 0;
    uint64_t len = b.len - sizeof hdr, sum = fnv(b.p + sizeof hdr, len);
    memcpy(b.p + 8, &version, 4), memcpy(b.p + 12, &zero, 4);
    memcpy(b.p + 16, &len, 8), memcpy(b.p + 24, &sum, 8);
    *size = b.len;
    return b.p;
}

int trainer_save(const trainer_t *t, const char *path, char *err, size_t errlen)
{
    size_t n;
    unsigned char *bytes = trainer_serialize(t, &n);
    if (bytes == NULL) {
        snprintf(err, errlen, "%s: out of memory writing the checkpoint", path);
        return -1;
    }
    int rc = durable_write(path, bytes, n, err, errlen);
    free(bytes);
    return rc;
}

/* Reads and verifies a checkpoint file: b gets its payload. */
static int read_checked(const char *path, buf_t *b, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open checkpoint: %s", path, strerror(errno));
        return -1;
    }
    unsigned char hdr[32];
    uint32_t version;
    uint64_t len, sum;
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr || memcmp(hdr, CKPT_MAGIC, 8) != 0) {
        fclose(f);
        snprintf(err, errlen, "%s: not an nmnfarm checkpoint (bad magic)", path);
        return -1;
    }
    memcpy(&version, hdr + 8, 4), memcpy(&len, hdr + 16, 8), memcpy(&sum, hdr + 24, 8);
    if (version != CKPT_VERSION) {
        fclose(f);
        snprintf(err, errlen, "%s: checkpoint format version %u, this build reads version %u",
                 path, version, CKPT_VERSION);
        return -1;
    }
    memset(b, 0, sizeof *b);
    b->p = malloc(len ? len : 1);
    b->len = len;
    size_t got = b->p ? fread(b->p, 1, len, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (b->p == NULL || got != len || extra) {
        free(b->p);
        snprintf(err, errlen, "%s: checkpoint is %s (header says %llu payload bytes, found %s%zu)",
                 path, got < len ? "truncated" : "longer than its header says",
                 (unsigned long long)len, extra ? "more than " : "", got);
        return -1;
    }
    if (fnv(b->p, len) != sum) {
        free(b->p);
        snprintf(err, errlen, "%s: checkpoint is corrupted (checksum mismatch)", path);
        return -1;
    }
    return 0;
}

int trainer_load(trainer_t *t, const char *path, char *err, size_t errlen)
{
    buf_t b;
    if (read_checked(path, &b, err, errlen))
        return -1;
    uint32_t jl = 0;
    get(&b, &jl, sizeof jl);
    if (b.fail || jl != strlen(t->cfg_json) || b.pos + jl > b.len ||
        memcmp(b.p + b.pos, t->cfg_json, jl) != 0) {
        free(b.p);
        snprintf(err, errlen, "%s: checkpoint belongs to a different job configuration", path);
        return -1;
    }
    b.pos += jl;
    /* same config, same sizes, checksum verified: the payload fits exactly */
    payload(t, &b, io_get);
    int short_read = b.fail || b.pos != b.len;
    free(b.p);
    if (short_read) {
        snprintf(err, errlen, "%s: checkpoint payload does not match this job's sizes", path);
        return -1;
    }
    return 0;
}

int trainer_load_config(const char *path, job_config_t *cfg, char *err, size_t errlen)
{
    buf_t b;
    if (read_checked(path, &b, err, errlen))
        return -1;
    uint32_t jl = 0;
    get(&b, &jl, sizeof jl);
    char *json = b.fail || b.pos + jl > b.len ? NULL : strndup((char *)b.p + b.pos, jl);
    free(b.p);
    if (json == NULL) {
        snprintf(err, errlen, "%s: checkpoint holds no job configuration", path);
        return -1;
    }
    /* the stored identity has episodes 0 (see trainer_init): drop it */
    json_t *root = json_loads(json, 0, NULL);
    free(json);
    json = NULL;
    if (json_is_object(root))
        json_object_del(root, "episodes"), json = json_dumps(root, 0);
    json_decref(root);
    char msg[256] = "not a JSON object";
    config_defaults(cfg);
    int rc = json ? config_apply_json(cfg, json, msg, sizeof msg) : -1;
    free(json);
    if (rc)
        snprintf(err, errlen, "%s: checkpoint's job configuration: %s", path, msg);
    return rc;
}
