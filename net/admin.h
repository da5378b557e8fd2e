/*
 * net/admin.h — the admin API's listener: a small HTTP/1.1 server on a thread
 * of its own (README "Admin API"). It knows nothing of the store: each
 * complete request goes to a handler callback, which the entry point wires to
 * store/admin.h's gw_admin_handle.
 *
 * Why not a worker: the admin API is rare, slow (it waits on the database)
 * and must keep answering when the workers are saturated; a poll(2) loop on
 * its own thread is simpler than the io_uring engine and cannot stall it.
 *
 * What it serves (RFC 9112, parsed by net/http1.h):
 *  - requests with a Content-Length body or none; a chunked body is refused
 *    with 411 (the connection then closes: its framing cannot be skipped);
 *  - keep-alive, and pipelined requests answered one at a time, in order;
 *  - Expect: 100-continue answered with an interim 100;
 *  - at most GW_ADMIN_SRV_MAX_CONNS connections; one more is accepted and
 *    answered 503 at once, then closed;
 *  - a head over GW_ADMIN_SRV_MAX_HEAD -> 431, a body over
 *    GW_ADMIN_SRV_MAX_BODY -> 413, an invalid head -> 400, each with the
 *    OpenAI error object, then the connection closes;
 *  - GW_ADMIN_SRV_TIMEOUT_MS for each phase: idle before a request and its
 *    head, its body, writing the response (reset on progress). A request cut
 *    short by the timeout is answered 408; an idle connection is just closed.
 * Every response carries Content-Type: application/json, Content-Length and
 * Connection.
 */
#ifndef GW_NET_ADMIN_H
#define GW_NET_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/span.h"

/* Head bytes (request line and fields, through the blank line) read at most. */
#define GW_ADMIN_SRV_MAX_HEAD (16u * 1024)
/* Body bytes read at most; matches store/admin.h's GW_ADMIN_MAX_BODY (net/ may not include it). */
#define GW_ADMIN_SRV_MAX_BODY (1u << 20)
/* Connections served at once; more are answered 503 and closed. */
#define GW_ADMIN_SRV_MAX_CONNS 64
/* Idle/head, body and write timeout, each. */
#define GW_ADMIN_SRV_TIMEOUT_MS 10000

/*
 * Answers one request, on the server's thread. method and target as on the
 * request line, authorization the Authorization field's value (empty span
 * when absent), body the request body (empty when none); all borrowed for
 * the call only. Sets *status (100..599; anything else is sent as 500) and
 * body_out and len_out: a malloc'd JSON body the server frees (NULL with 0 for
 * none). The server sets *status = 500, *body_out = NULL, *len_out = 0 before
 * the call.
 */
typedef void (*gw_admin_handle_fn)(void *arg, struct gw_span method, struct gw_span target,
                                   struct gw_span authorization, struct gw_span body, int *status,
                                   char **body_out, size_t *len_out);

struct gw_admin_server;

/*
 * Binds addr (SO_REUSEADDR), listens and starts the server's thread with
 * SIGHUP, SIGTERM, SIGINT and SIGPIPE blocked in it. Binding happens on the
 * caller's thread, so a bad or busy address is reported here. handle and
 * arg are kept until gw_admin_server_stop returns. Returns 0 with *out set,
 * or -errno (nothing is left open).
 */
int gw_admin_server_start(const struct sockaddr *addr, socklen_t len, gw_admin_handle_fn handle,
                          void *arg, struct gw_admin_server **out);
/* The bound port (host order): what port 0 became. */
uint16_t gw_admin_server_port(const struct gw_admin_server *s);
/*
 * Wakes the thread, joins it, closes the listener and every connection
 * (responses in flight are dropped) and frees s. NULL is a no-op. Never call
 * it from the handler.
 */
void gw_admin_server_stop(struct gw_admin_server *s);

#endif
