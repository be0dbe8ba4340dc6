/* server.c - the control socket: accept, split lines, parse JSON, reply. */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct conn {
    uv_pipe_t pipe;
    struct server *srv;
    char *buf;
    size_t len, cap;
    int closing, draining; /* draining: no more requests; close when written */
    int pending;           /* writes not yet completed */
    struct conn *next, *prev;
} conn_t;

struct server {
    uv_pipe_t listener;
    server_handler handler;
    void *ctx;
    conn_t *conns;
    int stopping, listener_closed;
};

static void conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    server_t *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->buf);
    free(c);
    if (s->listener_closed && s->conns == NULL)
        free(s); /* the last handle of a stopped server */
}

static void conn_close(conn_t *c)
{
    if (!c->closing) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->pipe, conn_closed);
    }
}

typedef struct out {
    uv_write_t req;
    conn_t *c;
    char line[];
} out_t;

static void write_done(uv_write_t *req, int status)
{
    out_t *o = (out_t *)req;
    conn_t *c = o->c;
    c->pending--;
    if (status < 0 || (c->draining && c->pending == 0))
        conn_close(c);
    free(o);
}

/* Sends one reply line; with close_after, closes once it is written (a
 * close right away would cancel the write). */
static void send_reply(conn_t *c, json_t *reply, int close_after)
{
    char *text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    size_t n = text ? strlen(text) : 0;
    out_t *o = text && !c->closing && !c->draining ? malloc(sizeof *o + n + 1) : NULL;
    if (o == NULL) {
        free(text);
        if (close_after)
            conn_close(c);
        return;
    }
    memcpy(o->line, text, n);
    o->line[n] = '\n';
    free(text);
    o->c = c;
    c->draining |= close_after; /* nothing more after the last word */
    uv_buf_t b = uv_buf_init(o->line, (unsigned)(n + 1));
    if (uv_write(&o->req, (uv_stream_t *)&c->pipe, &b, 1, write_done)) {
        free(o);
        conn_close(c);
        return;
    }
    c->pending++;
}

static void send_json(conn_t *c, json_t *reply)
{
    send_reply(c, reply, 0);
}

static json_t *error_reply(const char *fmt, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail);
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static void handle_line(conn_t *c, char *line, size_t n)
{
    json_error_t e;
    json_t *req = json_loadb(line, n, JSON_REJECT_DUPLICATES, &e);
    if (req == NULL) {
        char detail[256];
        snprintf(detail, sizeof detail, "column %d: %s", e.column, e.text);
        send_json(c, error_reply("invalid JSON at %s", detail));
        return;
    }
    if (!json_is_object(req) || !json_is_string(json_object_get(req, "method"))) {
        send_json(c, error_reply("%s", "a request is an object with a string \"method\""));
        json_decref(req);
        return;
    }
    send_json(c, c->srv->handler(c->srv->ctx, req));
    json_decref(req);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(suggested);
    b->len = b->base ? suggested : 0;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    conn_t *c = st->data;
    if (nread < 0) { /* EOF: close once the pending replies are written */
        free(b->base);
        c->draining = 1;
        if (nread != UV_EOF || c->pending == 0)
            conn_close(c);
        return;
    }
    if (c->draining) {
        free(b->base);
        return;
    }
    if (c->len + (size_t)nread > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + (size_t)nread)
            cap *= 2;
        char *nb = realloc(c->buf, cap);
        if (nb == NULL) {
            free(b->base);
            conn_close(c);
            return;
        }
        c->buf = nb, c->cap = cap;
    }
    memcpy(c->buf + c->len, b->base, (size_t)nread);
    c->len += (size_t)nread;
    free(b->base);
    size_t start = 0;
    for (size_t i = 0; i < c->len && !c->closing && !c->draining; i++) {
        if (c->buf[i] == '\n') {
            if (i > start)
                handle_line(c, c->buf + start, i - start);
            start = i + 1;
        } else if (c->buf[i] == 0) {
            send_reply(c, error_reply("%s", "a NUL byte in a request; closing the connection"), 1);
        }
    }
    memmove(c->buf, c->buf + start, c->len - start);
    c->len -= start;
    if (c->len > SERVER_MAX_LINE && !c->closing && !c->draining)
        send_reply(c, error_reply("request line longer than %s bytes; closing the connection",
                                  "1048576"), 1);
}

static void on_connection(uv_stream_t *l, int status)
{
    server_t *s = l->data;
    if (status < 0 || s->stopping)
        return;
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->srv = s;
    uv_pipe_init(l->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (uv_accept(l, (uv_stream_t *)&c->pipe) || uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read))
        conn_close(c);
}

/* The server is freed when its listener and every connection have closed:
 * libuv gives no order between their close callbacks. */
static void listener_closed(uv_handle_t *h)
{
    server_t *s = h->data;
    s->listener_closed = 1;
    if (s->conns == NULL)
        free(s);
}

server_t *server_start(uv_loop_t *loop, const char *path, server_handler h, void *ctx,
                       char *err, size_t errlen)
{
    server_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->handler = h, s->ctx = ctx;
    uv_pipe_init(loop, &s->listener, 0);
    s->listener.data = s;
    unlink(path);
    mode_t old = umask(0117); /* the socket is created 0660 */
    int rc = uv_pipe_bind(&s->listener, path);
    umask(old);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 64, on_connection);
    if (rc == 0 && chmod(path, 0660) != 0)
        rc = -errno;
    if (rc) {
        snprintf(err, errlen, "%s: cannot listen: %s", path, uv_strerror(rc));
        uv_close((uv_handle_t *)&s->listener, listener_closed);
        return NULL;
    }
    return s;
}


void server_stop(server_t *s)
{
    s->stopping = 1;
    for (conn_t *c = s->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&s->listener, listener_closed);
}
