/* wire.c - frames of the nmnd <-> nmn-worker TCP protocol (wire.h). */
#include "wire.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

int wire_parse(const unsigned char *buf, size_t len, size_t max_json, size_t max_blob,
               wire_frame_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (len < WIRE_HEADER)
        return 0;
    uint32_t jl = get_u32(buf), bl = get_u32(buf + 4);
    if (jl == 0 || jl > max_json || jl > WIRE_MAX_JSON || bl > max_blob || bl > WIRE_MAX_BLOB) {
        snprintf(err, errlen, "bad frame header: %u JSON bytes (1 to %zu allowed), %u blob bytes "
                 "(%zu allowed)", jl, max_json < WIRE_MAX_JSON ? max_json : (size_t)WIRE_MAX_JSON, bl,
                 max_blob < WIRE_MAX_BLOB ? max_blob : (size_t)WIRE_MAX_BLOB);
        return -1;
    }
    if (len - WIRE_HEADER < (size_t)jl + bl)
        return 0;
    json_error_t je;
    json_t *msg = json_loadb((const char *)buf + WIRE_HEADER, jl, JSON_REJECT_DUPLICATES, &je);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!json_is_object(msg) || type == NULL) {
        snprintf(err, errlen, "bad frame: %s", msg ? "not an object with a string \"type\"" : je.text);
        json_decref(msg);
        return -1;
    }
    f->msg = msg, f->type = type;
    f->blob = buf + WIRE_HEADER + jl, f->blob_len = bl;
    f->size = WIRE_HEADER + (size_t)jl + bl;
    return 1;
}

unsigned char *wire_pack(json_t *msg, const void *blob, size_t blob_len, size_t *size)
{
    char *text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(17));
    size_t jl = text ? strlen(text) : 0;
    unsigned char *out = text && jl <= WIRE_MAX_JSON && blob_len <= WIRE_MAX_BLOB
                             ? malloc(WIRE_HEADER + jl + blob_len) : NULL;
    if (out) {
        put_u32(out, (uint32_t)jl), put_u32(out + 4, (uint32_t)blob_len);
        memcpy(out + WIRE_HEADER, text, jl);
        if (blob_len)
            memcpy(out + WIRE_HEADER + jl, blob, blob_len);
        *size = WIRE_HEADER + jl + blob_len;
    }
    free(text);
    return out;
}

int wire_write_all(int fd, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* 1 when n bytes were read, 0 on a close before any, -1 otherwise */
static int read_all(int fd, unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 && got == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

int wire_write(int fd, json_t *msg, const void *blob, size_t blob_len)
{
    size_t n;
    unsigned char *frame = wire_pack(msg, blob, blob_len, &n);
    int rc = frame ? wire_write_all(fd, frame, n) : -1;
    free(frame);
    return rc;
}

int wire_read(int fd, wire_frame_t *f, unsigned char **buf, char *err, size_t errlen)
{
    unsigned char hdr[WIRE_HEADER];
    *buf = NULL;
    int rc = read_all(fd, hdr, sizeof hdr);
    if (rc <= 0) {
        snprintf(err, errlen, "%s", rc == 0 ? "connection closed" : "read failed");
        return rc;
    }
    uint32_t jl = get_u32(hdr), bl = get_u32(hdr + 4);
    if (jl == 0 || jl > WIRE_MAX_JSON || bl > WIRE_MAX_BLOB) {
        snprintf(err, errlen, "bad frame header");
        return -1;
    }
    size_t n = WIRE_HEADER + (size_t)jl + bl;
    if ((*buf = malloc(n)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(*buf, hdr, sizeof hdr);
    if (read_all(fd, *buf + WIRE_HEADER, n - WIRE_HEADER) != 1) {
        free(*buf), *buf = NULL;
        snprintf(err, errlen, "connection closed inside a frame");
        return -1;
    }
    if (wire_parse(*buf, n, WIRE_MAX_JSON, WIRE_MAX_BLOB, f, err, errlen) != 1) {
        free(*buf), *buf = NULL;
        return -1;
    }
    return 1;
}

int64_t wire_int(json_t *msg, const char *key)
{
    json_t *v = json_object_get(msg, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
}

int wire_dial(const char *host, const char *port)
{
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res))
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}
