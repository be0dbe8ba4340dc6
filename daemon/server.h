/* server.h - nmnd's control socket: newline-delimited JSON requests and
 * replies on a Unix socket (mode 0660). Each request is one line, at most
 * SERVER_MAX_LINE bytes; each gets exactly one reply line
 * {"ok": true, ...} or {"ok": false, "error": "..."}. A line too long, or
 * bytes that are not text, close the connection after an error reply. */
#ifndef NMN_SERVER_H
#define NMN_SERVER_H

#include <jansson.h>
#include <uv.h>

#define SERVER_MAX_LINE (1 << 20)

/* Handles one parsed request object; returns the reply (new reference).
 * Runs on the loop thread. */
typedef json_t *(*server_handler)(void *ctx, json_t *request);

typedef struct server server_t;

/* Listens on path (an old socket file there is replaced: the caller holds
 * the state dir's lock). Returns NULL with a message in err. */
server_t *server_start(uv_loop_t *loop, const char *path, server_handler h, void *ctx,
                       char *err, size_t errlen);
/* Stops listening and closes every connection. */
void server_stop(server_t *s);

#endif
