/*
 * tests/integration/harness_hostile.h — a scripted, hostile upstream that
 * runs in threads of the test process on a loopback port.
 *
 * Where the mock (tools/mock) plays a well-behaved provider with a few fault
 * modes, this one does whatever its test's script says, at the byte level:
 * read part of a request and reset, answer before the body is read, stop
 * reading, flood interim responses, answer 204 with no body, speak TLS and
 * drop the connection without close_notify. Every connection gets a thread
 * that runs the test's handler; every byte received is recorded per
 * connection, and each request head read is logged with the body bytes that
 * followed it, so a test can check afterwards what really went upstream.
 *
 * The handler's I/O helpers all have deadlines and never raise SIGPIPE.
 * Records are stable for the server's life; read them after hs_stop(), which
 * joins every thread (a test may read earlier when it knows the handler is
 * done with them). Functions that return int follow the project's rule: 0 or
 * positive on success, -errno on failure.
 */
#ifndef GW_TESTS_INTEGRATION_HARNESS_HOSTILE_H
#define GW_TESTS_INTEGRATION_HARNESS_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hs_server;
struct gw_tls_server;

/* One request head as the upstream read it, and the body bytes read after it. */
struct hs_req {
    unsigned conn;           /* index of its connection, in accept order from 0 */
    unsigned seq;            /* its position on that connection, from 0 */
    size_t head_off;         /* into the connection's raw bytes */
    size_t head_len;         /* through the blank line */
    size_t body_len;         /* body bytes read so far */
    uint64_t content_length; /* from its Content-Length, 0 when absent */
    bool complete;           /* body_len == content_length */
};

/* One connection, as its handler sees it. */
struct hs_conn {
    struct hs_server *srv;
    unsigned index; /* accept order from 0 */
    unsigned nreq;  /* request heads read so far */
    int fd;         /* -1 once closed or reset */
    bool eof;       /* the peer closed (FIN or reset) */
    /* private */
    struct hs_rec *_rec;
    size_t _off; /* first raw byte not yet taken by a request */
    struct gw_tls_server *_tls;
    bool _hs_done;
};

/* The handler runs in the connection's own thread; when it returns, the connection is closed. */
typedef void (*hs_handler_fn)(struct hs_conn *c, void *arg);

struct hs_opts {
    hs_handler_fn handler;
    void *arg;
    int rcvbuf; /* SO_RCVBUF for accepted sockets (bytes), 0 for the kernel's default */
    bool tls;   /* speak TLS with tests/data/tls/server.{pem,key} (BearSSL, blocking) */
};

/* Listens on 127.0.0.1 (a free port) and starts accepting. Fails the test on error. */
struct hs_server *hs_start(const struct hs_opts *o);
int hs_port(const struct hs_server *s);
/*
 * Stops accepting, shuts every open connection down (so handlers blocked in
 * I/O return at once) and joins every thread. Records stay until hs_free.
 */
void hs_stop(struct hs_server *s);
void hs_free(struct hs_server *s);

/* ---- what the upstream saw (stable after hs_stop) ---- */

size_t hs_nconns(struct hs_server *s);
/* Every byte received on connection i (decrypted, for TLS); *len gets the count. */
const char *hs_conn_raw(struct hs_server *s, size_t i, size_t *len);
size_t hs_nreqs(struct hs_server *s);
const struct hs_req *hs_req_at(struct hs_server *s, size_t i);
const char *hs_req_head(struct hs_server *s, const struct hs_req *r);
const char *hs_req_body(struct hs_server *s, const struct hs_req *r);
/* True when needle (len bytes) occurs anywhere in any connection's raw bytes. */
bool hs_saw(struct hs_server *s, const void *needle, size_t len);

/* ---- flags: counters shared by the test and the handlers ---- */

#define HS_NFLAGS 16
void hs_flag_set(struct hs_server *s, unsigned i, long v);
long hs_flag_add(struct hs_server *s, unsigned i, long d); /* returns the new value */
long hs_flag_get(struct hs_server *s, unsigned i);
/* Waits until flag i >= v (or the server stops). True when it got there in time. */
bool hs_flag_wait(struct hs_server *s, unsigned i, long v, int timeout_ms);
/* True once hs_stop began: handlers that loop should end. */
bool hs_stopping(struct hs_server *s);

/* ---- handler I/O ---- */

/*
 * Reads the next request head. Returns 1 with *out set (the request is
 * logged), 0 when the peer closed before sending a byte of it, or -errno
 * (-ETIMEDOUT, -ECONNRESET for a close mid-head, -EPROTO past 64 KiB).
 */
int hs_read_head(struct hs_conn *c, const struct hs_req **out, int timeout_ms);
/*
 * Reads body bytes of r until at least `upto` of them are held (capped at its
 * Content-Length). Returns the body bytes held, or -errno when the deadline
 * passed or the peer closed first.
 */
long hs_read_body(struct hs_conn *c, const struct hs_req *r, uint64_t upto, int timeout_ms);
/* Head and whole body. Returns as hs_read_head (1, 0 or -errno). */
int hs_read_request(struct hs_conn *c, const struct hs_req **out, int timeout_ms);
/* Body bytes of r read so far (into the raw record). */
const char *hs_body(struct hs_conn *c, const struct hs_req *r);
/* Sends every byte. 0 or -errno (-EPIPE, -ECONNRESET, -ETIMEDOUT after 10 s blocked). */
int hs_send(struct hs_conn *c, const void *p, size_t n);
int hs_send_str(struct hs_conn *c, const char *s);
/* A 200 chat.completion (OpenAI) with Content-Length, keep-alive; content is plain ASCII. */
int hs_send_chat(struct hs_conn *c, const char *content);
/* Closes with a reset (SO_LINGER 0): unread input and unsent output are dropped. */
void hs_reset(struct hs_conn *c);
/* Closes the socket (FIN). On TLS, no close_notify: a truncation as far as TLS can tell. */
void hs_close(struct hs_conn *c);
/* Reads (and records) until the peer closes. True when it did within timeout_ms. */
bool hs_wait_peer_close(struct hs_conn *c, int timeout_ms);

#endif
