/*
 * net/worker.h — the worker thread: one pinned thread, one io_uring ring, one
 * listening socket, and everything it serves (net/worker-t.h).
 *
 * Cross-file internals of the worker (gw__*) are declared at the bottom; they
 * may be called only on the owning worker's thread.
 */
#ifndef GW_NET_WORKER_H
#define GW_NET_WORKER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/worker-t.h"

/*
 * Checks that nobody else holds addr before the workers' listeners open: it
 * binds a socket WITHOUT SO_REUSEPORT and closes it again. The workers'
 * SO_REUSEPORT listeners would otherwise join those of another process of
 * the same user on that address (a second conduit) and silently take part of
 * its traffic. Returns 0 with *port the port it bound (the one the kernel
 * chose when addr's port is 0, for every worker to use), -EADDRINUSE when
 * another socket listens there, or another -errno from socket/bind.
 * Called at boot, before gw_listener_open.
 */
int gw_listener_probe(const struct sockaddr *addr, socklen_t len, uint16_t *port);

/*
 * Opens a listening TCP socket with SO_REUSEPORT (one per worker) and
 * TCP_NODELAY, which accepted sockets inherit. Returns the fd or -errno.
 * Called at boot, before the workers start.
 */
int gw_listener_open(const struct sockaddr *addr, socklen_t len);

/*
 * Starts worker `id` on its own thread, pinned to `cpu` (-1: unpinned). The
 * thread builds its ring itself (SINGLE_ISSUER); gw_worker_start waits until
 * it has, and returns 0 or -errno with a message on stderr.
 */
int gw_worker_start(struct gw_worker *w, struct gw_runtime *rt, unsigned id, int cpu,
                    int listen_fd);
/* Wakes the worker from its ring wait (control thread: publish, drain). */
void gw_worker_wake_on_control(struct gw_worker *w);
/* Joins the worker thread and frees what it owns. */
void gw_worker_join(struct gw_worker *w);

/*
 * ---- internals shared by the files of net/ ----
 *
 * The one-way order: the worker loop (net/worker.c) owns the ring and the
 * connections and dispatches each completion through its op table to the
 * server (client input, net/server.c) or the upstream side (net/upstream.c).
 * The server asks the upstream side to carry a request (gw__up_start); the
 * upstream side hands the relay (net/relay.c) whatever comes back, the end
 * of it, or its failure; the relay answers the client and reports back
 * through one completion, gw__server_request_done. Responses
 * (net/response.c) and logs and metrics (net/metrics.c) are leaves that any
 * of them may call, as are the worker's connection primitives (flush,
 * close, timers). The calls from the loop into its handlers (the op table,
 * gw__up_resume when a client's output drains, gw__server_request_abort when
 * a client goes) are the callbacks an event loop is made of.
 */

static inline uint64_t gw__ud(enum gw_op op, uint32_t idx, uint32_t gen)
{
    return (uint64_t)op << 56 | (uint64_t)(idx & 0xffffff) << 32 | gen;
}

/* The worker that owns the calling thread (NULL on other threads). */
extern __thread struct gw_worker *gw__self;

/* An SQE; flushes the SQ when it is full (never drops one) [ss get_sqe]. */
struct io_uring_sqe *gw__sqe(struct gw_worker *w);
/*
 * Cancels the one op whose user_data is ud. Closing connections cancel each
 * op they have in flight this way: the kernel finds it by hash, whereas a
 * cancel by descriptor scans every armed request of the ring, which made a
 * burst of closes quadratic (bench/RESULTS.md, S2).
 */
void gw__cancel(struct gw_worker *w, uint64_t ud);
uint64_t gw__now_ns(void);

/* Client connection (net/worker.c). */
void gw__client_close(struct gw_worker *w, struct gw_client *c, const char *why);
/* Starts a send of the queued output if none is in flight. */
void gw__client_flush(struct gw_worker *w, struct gw_client *c);
/* Re-arms the client's recv (after a pause) at the end of this loop turn. */
void gw__client_want_recv(struct gw_worker *w, struct gw_client *c);
void gw__client_arm_timer(struct gw_worker *w, struct gw_client *c, uint32_t ms);
/*
 * Moves the dispatched request's bytes (ibuf[0, raw_end)) out of the client's
 * input buffer into the request (req.in_buf), and gives the client a buffer of
 * its own holding whatever pipelined bytes followed. From then on nothing the
 * client sends can move or free the bytes the upstream request is built from.
 * No copy of the request itself. False when no memory is left for the
 * pipelined bytes (the request still owns its bytes; the caller answers 503).
 */
bool gw__client_input_to_request(struct gw_worker *w, struct gw_client *c);
/*
 * Frees the request's own bytes (req.in_buf). Called at the end of every
 * request, and as soon as the upstream request can no longer go out again
 * (all of it copied out and the response begun), so a long stream holds no
 * input memory. Nothing may point into them afterwards: the upstream side
 * copies what it sends (plain: its own send block; TLS: the engine).
 */
void gw__req_input_release(struct gw_worker *w, struct gw_req *r);
/* Frees the input buffer, whatever it holds (connection idle or closing). */
void gw__client_input_free(struct gw_worker *w, struct gw_client *c);
/*
 * The request will not be read to its end: the connection closes after the
 * answer, and until then (and for a bounded linger after it, see
 * gw__client_linger) whatever else the client sends is dropped unread.
 */
void gw__client_refuse_rest(struct gw_client *c);
/*
 * The response to a request that was answered before it was read (an early
 * error with GW_CF_DISCARD) is sent: shut our side for writing and drop
 * input until the client closes, GW_LINGER_MAX_BYTES arrived or GW_LINGER_MS
 * passed, then close. Closing at once would let the kernel answer the
 * unread bytes with a reset that can destroy the response in flight.
 */
void gw__client_linger(struct gw_worker *w, struct gw_client *c);

/* Request handling (net/server.c). */
/* Parses and dispatches whatever complete request ibuf holds. */
void gw__server_process(struct gw_worker *w, struct gw_client *c);
/* The current response is fully queued and sent: log, account, go on with the next request. */
void gw__server_request_done(struct gw_worker *w, struct gw_client *c);
/* The client went away (or the worker closes it) mid-request: account and unbind. */
void gw__server_request_abort(struct gw_worker *w, struct gw_client *c);
/* Output queue high/low water marks for relaying (bytes). */
#define GW_OUT_HIWAT (64 * 1024)
#define GW_OUT_LOWAT (16 * 1024)

/* Responses (net/response.c): a leaf that the server, upstream side and relay all answer through.
 */
/* A fresh request id ("req_" and 24 hex digits) into out, NUL-terminated. */
void gw__resp_request_id(char *out, size_t cap);
/*
 * Queues a response head. `extra` is pre-formatted header lines (each ending
 * in CRLF) or NULL. body_len < 0: chunked when req.relay_chunked_out, else
 * close-delimited. 0 or -ENOBUFS.
 */
int gw__resp_head(struct gw_worker *w, struct gw_client *c, int status, const char *content_type,
                  long long body_len, const char *extra);
/*
 * Queues a complete local response (head and body; no body for HEAD) and
 * marks the response done: the send that empties the queue finishes the
 * request. No buffer: the connection is closed (counted).
 */
void gw__resp_local(struct gw_worker *w, struct gw_client *c, int status, const char *ctype,
                    const char *body, size_t len, const char *extra);
/*
 * Queues a complete gateway-made OpenAI error response. Every one carries a
 * code (a gateway-made error is never "code": null): type and code must not
 * be NULL, which the compiler checks for literal NULLs; param may be.
 */
void gw__resp_error(struct gw_worker *w, struct gw_client *c, int status, const char *type,
                    const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 7, 8), nonnull(1, 2, 4, 5, 7)));

/* Relay (net/relay.c): what the upstream side hands over; it answers the client. */
/*
 * Feeds upstream response bytes (mutable: chunked framing is decoded in
 * place). Returns 0 when more is expected, 1 when the response is complete,
 * or -enum gw_fail (GW_FAIL_PROTO, GW_FAIL_NOMEM) on failure.
 */
int gw__relay_feed(struct gw_worker *w, struct gw_client *c, char *data, size_t len);
/* The upstream closed: 1 when that ends a close-delimited response, else -GW_FAIL_RESET. */
int gw__relay_eof(struct gw_worker *w, struct gw_client *c);
/*
 * Queues the end of the client's body: a gathered answer translated with its
 * head, a translated stream's end (stream_end, and data: [DONE] if the
 * stream as written lacks it), a partial pass-through event as it is, the
 * last chunk; captures usage from the tail. gw__relay_complete's first step
 * (the fuzz target tests/fuzz/fuzz_upstream_response.c calls it alone).
 */
void gw__relay_finish(struct gw_worker *w, struct gw_client *c);
/*
 * The upstream response ended (gw__relay_feed said 1, or gw__relay_eof did)
 * and the upstream side has let go of its connection: queues the end of the
 * client's body (a translated answer, a stream's end, the last chunk),
 * captures usage, marks the response done and, once it is sent, finishes
 * the request through the one completion, gw__server_request_done.
 */
void gw__relay_complete(struct gw_worker *w, struct gw_client *c);
/*
 * The upstream side gave up on the request with f (no retry left; it closed
 * its connection, counted and logged the failure). Records f for the access
 * log, then tells the client: nothing of the response sent yet, the
 * gateway's error (status and code from f, the message naming detail and
 * the provider); an event stream under way, an OpenAI error event, data:
 * [DONE] unless it already passed (a translated stream: the dialect's
 * stream_end) and the body's proper end; any other body under way, a cut
 * connection (its head promised a length or a whole JSON document). Then the
 * request finishes as gw__relay_complete's does.
 */
void gw__relay_fail(struct gw_worker *w, struct gw_client *c, enum gw_fail f, const char *detail,
                    const char *provider);

/* Upstream side (net/upstream.c). */
/*
 * Sends the client's prepared request upstream (pooled or new connection).
 * Whatever comes of it reaches the client through the relay (net/relay.c).
 */
void gw__up_start(struct gw_worker *w, struct gw_client *c, bool fresh);
/* The client left: drop its upstream connection (closed, never pooled mid-response). */
void gw__up_detach(struct gw_worker *w, struct gw_client *c);
/* The client's output drained below the low-water mark: resume upstream reads. */
void gw__up_resume(struct gw_worker *w, struct gw_client *c);
void gw__up_on_cqe(struct gw_worker *w, enum gw_op op, struct gw_upconn *up,
                   const struct io_uring_cqe *cqe);
void gw__up_close_all_idle(struct gw_worker *w);
/* Gives a provided buffer of the upstream group back to the ring. */
void gw__ubuf_return(struct gw_worker *w, unsigned bid);
void gw__up_free_all(struct gw_worker *w);

/* Logs and metrics (net/metrics.c). */
void gw__log_access(struct gw_worker *w, struct gw_client *c);
void gw__log_err(struct gw_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gw__log_flush(struct gw_worker *w);
void gw__log_on_cqe(struct gw_worker *w, struct gw_logbuf *lb, int res);
int gw__log_init(struct gw_logbuf *lb, int fd);
void gw__log_destroy(struct gw_logbuf *lb);
/* Counts one finished request in the worker's shared block. */
void gw__metrics_request(struct gw_worker *w, struct gw_client *c, int status);
/* Spend and tokens of a finished request in the worker's label table (net/metrics.c). */
void gw__metrics_spend(struct gw_worker *w, const struct gw_req *r);

/* ---- the usage log (net/usagelog.c) ---- */

/* Sets up the worker's usage log (on when rt->boot is set). 0 or -errno. */
int gw__usage_init(struct gw_worker *w);
void gw__usage_destroy(struct gw_worker *w);
/*
 * Settles the request's spend (once) and appends its usage record (once).
 * With hold, the response's remaining bytes wait (GW_CF_USAGE_HOLD) until
 * the record is written to the file: a client that has its whole answer has
 * its record on disk (the page cache: a killed process loses nothing). A
 * request with no key accepted is neither settled nor recorded.
 */
void gw__usage_finish(struct gw_worker *w, struct gw_client *c, bool hold);
/* Starts a write of gathered records if none is in flight (end of each loop turn). */
void gw__usage_flush(struct gw_worker *w);
void gw__usage_on_cqe(struct gw_worker *w, enum gw_op op, int res);
/* Nothing gathered, in flight or held. */
bool gw__usage_idle(const struct gw_worker *w);
/* Renders Prometheus text for every worker into a buffer from the request arena. */
char *gw__metrics_render(struct gw_worker *w, struct gw_arena *a, size_t *len);

static inline void gw__stat_add(_Atomic uint64_t *s, uint64_t v)
{
    /* single writer: a relaxed load+store is enough and cheaper than a locked add;
     * readers (/metrics on other workers) use relaxed loads */
    atomic_store_explicit(s, atomic_load_explicit(s, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline void gw__stat_sub(_Atomic uint64_t *s, uint64_t v)
{
    atomic_store_explicit(s, atomic_load_explicit(s, memory_order_relaxed) - v,
                          memory_order_relaxed);
}

#endif
