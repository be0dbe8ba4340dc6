/* wire.h - frames of the TCP protocol between nmnd and remote nmn-workers
 * (the Slurm executor).
 *
 * A frame: an 8-byte header (u32 big-endian JSON length, u32 big-endian
 * blob length), a JSON object with a string "type", then the blob (raw
 * bytes: a checkpoint), possibly empty. Sizes are capped so a bad peer
 * cannot make either side allocate much before it is authenticated. */
#ifndef NMN_WIRE_H
#define NMN_WIRE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_HEADER 8
#define WIRE_MAX_JSON (1u << 20)
#define WIRE_MAX_BLOB (1u << 30)

typedef struct wire_frame {
    json_t *msg;              /* owned: a JSON object with a string "type" */
    const char *type;         /* inside msg */
    const unsigned char *blob;/* inside the caller's buffer */
    size_t blob_len;
    size_t size;              /* bytes the frame took */
} wire_frame_t;

/* Parses the frame at the start of buf (len bytes). Returns 1 with *f
 * filled (json_decref(f->msg) when done), 0 if more bytes are needed, -1
 * with a message if the bytes are not a valid frame (lengths over max_json
 * or max_blob, JSON that is not an object with a string "type"). */
int wire_parse(const unsigned char *buf, size_t len, size_t max_json, size_t max_blob,
               wire_frame_t *f, char *err, size_t errlen);

/* Serialises msg (compact; reals with 17 significant digits, so doubles
 * cross bit-exactly) into a frame with the blob: a malloc'd buffer and its
 * size, or NULL. */
unsigned char *wire_pack(json_t *msg, const void *blob, size_t blob_len, size_t *size);

/* Blocking I/O for the worker side: writes a whole frame (0 or -1), and
 * reads one (1, 0 on a clean close, -1 on error or a bad frame; *buf holds
 * the frame's bytes, which f->blob points into: free it after use). */
int wire_write(int fd, json_t *msg, const void *blob, size_t blob_len);
/* Writes n bytes (an already packed frame): 0 or -1. */
int wire_write_all(int fd, const void *p, size_t n);
/* A connected TCP socket to host:port, or -1. */
int wire_dial(const char *host, const char *port);
int wire_read(int fd, wire_frame_t *f, unsigned char **buf, char *err, size_t errlen);

/* Field helpers: an integer >= 0 (or -1 if absent or of another type). */
int64_t wire_int(json_t *msg, const char *key);

#endif
