/*
 * tools/mock/mock.h — the mock upstream provider's shared types: start-up
 * options, per-thread workers, connections, and the calls between the event
 * loop (conn.c), the endpoints (api.c and the dialect files), the answers
 * they share (reply.c; its own calls are in reply.h) and start-up (mock.c).
 *
 * The mock is a test and benchmark tool, not part of the gateway: it uses
 * epoll and plain non-blocking sockets so it can run anywhere, and a thread
 * per worker, each with its own SO_REUSEPORT listener, epoll loop and timer
 * heap. Workers share nothing on the hot path; the only cross-thread reads are
 * the counters (single writer, acquire/release) and the /mock/last record
 * (a per-worker mutex that only /mock/last ever contends).
 */
#ifndef GW_TOOLS_MOCK_MOCK_H
#define GW_TOOLS_MOCK_MOCK_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/span.h"
#include "net/http1.h"
#include "net/tls.h"

/* Caps (everything has one). */
#define GW_MOCK_HEAD_CAP (64u * 1024)        /* request head bytes; more is a 431 */
#define GW_MOCK_BODY_CAP (64u * 1024 * 1024) /* request body bytes after dechunking; a 413 */
#define GW_MOCK_MAX_HEADERS 128              /* header lines per request; more is a 431 */
#define GW_MOCK_PIPELINE_CAP (256u * 1024)   /* input buffered beyond the request in hand */
#define GW_MOCK_OUT_HIGH (256u * 1024)       /* output backlog above which nothing is produced */
#define GW_MOCK_MODEL_CAP 256                /* "model" as received, quotes included */
#define GW_MOCK_MAX_CHUNKS 1000000u          /* mock.chunks */
#define GW_MOCK_MAX_DELAY_MS (3600u * 1000)  /* mock.delay_ms and mock.first_delay_ms */
#define GW_MOCK_LINGER_MS 2000               /* graceful close: wait this long for the peer's FIN */

/* What an epoll registration points at; the first member of each such object. */
enum gw_mock_ep_kind {
    GW_MOCK_EP_CONN = 0,
    GW_MOCK_EP_LISTEN_HTTP,
    GW_MOCK_EP_LISTEN_TLS,
    GW_MOCK_EP_WAKE,
    GW_MOCK_EP_COUNT
};

struct gw_mock_ep {
    enum gw_mock_ep_kind kind;
    int fd; /* owns; -1 when closed */
};

/*
 * Response state of a connection. Requests are answered strictly one at a
 * time, in order, so pipelined requests simply wait in the input buffer
 * until the connection is IDLE again.
 *  IDLE    - no response in progress; the next buffered request may be parsed.
 *            Earlier responses may still be in the output buffer.
 *  DELAY   - a response is fully or partly rendered but held (CF_HOLD) until
 *            the timer fires (mock.first_delay_ms); plan.mode says what follows.
 *  STREAM  - an SSE response is running: the timer (delay_ms) or output
 *            space lets gw_mock_stream_step emit the next events.
 *  STALL   - the head (and first event) went out; nothing more is ever sent,
 *            the connection waits for the peer to close.
 *  CLOSING - no more input is read; once the output is flushed the
 *            connection closes, abruptly (CF_ABRUPT: faults) or gracefully.
 *  LINGER  - write side shut (after TLS close_notify); input is discarded
 *            until the peer's FIN or GW_MOCK_LINGER_MS, so the peer never
 *            gets a reset before it has read the last response.
 */
enum gw_mock_rs {
    GW_MOCK_RS_IDLE = 0,
    GW_MOCK_RS_DELAY,
    GW_MOCK_RS_STREAM,
    GW_MOCK_RS_STALL,
    GW_MOCK_RS_CLOSING,
    GW_MOCK_RS_LINGER,
    GW_MOCK_RS_COUNT
};
const char *gw_mock_rs_state_str(enum gw_mock_rs rs);

/* Connection flags. */
#define GW_MOCK_CF_HAVE_HEAD (1u << 0) /* the current request's head is parsed (head_len valid) */
#define GW_MOCK_CF_CHUNKED (1u << 1)   /* the current request's body is chunked */
#define GW_MOCK_CF_EXPECT (1u << 2)    /* the current request asked for 100-continue */
#define GW_MOCK_CF_SENT_100 (1u << 3)  /* 100 Continue already queued for it */
#define GW_MOCK_CF_HOLD (1u << 4)      /* output from out_hold on is held (DELAY) */
#define GW_MOCK_CF_PEER_EOF (1u << 5)  /* the peer's FIN was read; nothing more is read */
#define GW_MOCK_CF_ABRUPT (1u << 6)    /* CLOSING: close without shutdown, linger or close_notify */
#define GW_MOCK_CF_TLS_NOTIFY (1u << 7) /* CLOSING: close_notify queued in the TLS engine */
#define GW_MOCK_CF_OOM (1u << 8)        /* an allocation failed; the connection is dropped */
#define GW_MOCK_CF_DEAD (1u << 9)       /* closed; memory kept until the end of the loop turn */
/* Writes the set flags' names, '|'-separated, into buf; returns buf. */
const char *gw_mock_conn_flags_str(unsigned flags, char *buf, size_t cap);

/* What the connection does once held output is released (or at once with no delay). */
enum gw_mock_mode {
    GW_MOCK_MODE_DONE = 0, /* the whole response is in the output buffer */
    GW_MOCK_MODE_STREAM,   /* head and first event are out; more events follow */
    GW_MOCK_MODE_STALL,    /* head (and first event) out; then nothing */
    GW_MOCK_MODE_CLOSE,    /* whatever is in the buffer goes out, then an abrupt close */
    GW_MOCK_MODE_COUNT
};

enum gw_mock_fault {
    GW_MOCK_FAULT_NONE = 0,
    GW_MOCK_FAULT_CLOSE_MID_STREAM,
    GW_MOCK_FAULT_STALL,
    GW_MOCK_FAULT_CLOSE_BEFORE_RESPONSE,
    GW_MOCK_FAULT_MALFORMED_CHUNK,
    GW_MOCK_FAULT_COUNT
};

/* Which provider's wire format a response speaks. */
enum gw_mock_dialect {
    GW_MOCK_DIALECT_OPENAI = 0,
    GW_MOCK_DIALECT_ANTHROPIC, /* anthropic.c: POST /v1/messages */
    GW_MOCK_DIALECT_GEMINI,    /* gemini.c: POST /v1beta/models/{model}:{method} */
    GW_MOCK_DIALECT_COHERE,    /* cohere.c: POST /v2/chat, /v2/embed */
    GW_MOCK_DIALECT_BEDROCK,   /* bedrock.c: POST /model/{id}/converse[-stream] */
    GW_MOCK_DIALECT_COUNT
};

/* How one request is answered; set by gw_mock_dispatch, advanced by the stream steps. */
struct gw_mock_plan {
    enum gw_mock_mode mode;
    enum gw_mock_fault fault;
    uint64_t first_delay_ms; /* hold the response this long */
    uint64_t delay_ms;       /* before each content chunk of a stream */
    bool keepalive;          /* the connection stays open after this response */
    bool http10;             /* HTTP/1.0 peer: no chunked framing, the stream ends at close */
    bool stream_live;        /* counted in streams_started and not yet ended */
    bool include_usage;      /* stream_options.include_usage */
    uint32_t chunks;         /* content chunks */
    uint32_t next_chunk;     /* content chunks already emitted */
    uint64_t next_ms;        /* when the next content chunk is due (worker clock) */
    uint64_t id;             /* chatcmpl-mock-<id>, also the X-Request-Id */
    int64_t created;         /* Unix seconds */
    uint64_t prompt_tokens;  /* request body length / 4 */
    size_t model_len;
    char model[GW_MOCK_MODEL_CAP]; /* the request's "model" token verbatim, quotes included */
    enum gw_mock_dialect dialect;  /* whose wire the answer and the stream speak */
    bool tool;                     /* mock.tool, for a dialect that answers it: a tool call */
    uint32_t output_tokens;        /* the usage's output tokens (mock.chunks) */
    size_t tool_name_len;
    char tool_name[GW_MOCK_MODEL_CAP]; /* the tool call's name, a JSON string token */
    uint32_t phase;      /* the dialect's own: gemini candidates, bedrock mock.exception */
    uint32_t error_type; /* bedrock: mock.error_type (index + 1), 0 for the status's own */
};

struct gw_mock_worker;

/*
 * One client connection. Owned by its worker and touched by no other thread.
 * Input: in[0..in_len) holds the current request (head, then its decoded body
 * once framed) followed by pipelined bytes. Output: out[out_off..out_len) is
 * unsent; while CF_HOLD is set only out[out_off..out_hold) may be sent.
 */
struct gw_mock_conn {
    struct gw_mock_ep ep;             /* first: epoll data points here */
    struct gw_mock_worker *w;         /* borrows: the owning worker */
    struct gw_mock_conn *next, *prev; /* worker's live list, or dead/free list via next */
    struct gw_tls_server *tls;        /* owns; NULL on the plain port */
    enum gw_mock_rs rs;
    unsigned flags;       /* GW_MOCK_CF_* */
    uint32_t ep_mask;     /* events registered with epoll */
    size_t heap_idx;      /* position in the worker's timer heap, SIZE_MAX if none */
    uint64_t deadline_ms; /* timer expiry (worker clock) while in the heap */
    char *in;             /* owns */
    size_t in_len, in_cap;
    size_t head_len;         /* valid with CF_HAVE_HEAD */
    size_t body_len;         /* decoded body bytes after the head */
    size_t raw_pos;          /* chunked: first byte not yet fed to the decoder */
    uint64_t content_length; /* not chunked: the body's length */
    struct gw_chunked chunked;
    char *out; /* owns */
    size_t out_off, out_len, out_cap, out_hold;
    struct gw_mock_plan plan;
};

/*
 * Per-worker counters. Only the owning worker writes them (gw_mock_ctr_inc,
 * release stores); /mock/stats on any worker reads them with acquire loads,
 * the "ended" counters before the "started" ones, so that a derived gauge
 * (open = opened - closed) never goes negative.
 */
struct gw_mock_counters {
    _Atomic uint64_t conns_opened;
    _Atomic uint64_t conns_closed;
    _Atomic uint64_t requests; /* requests other than /mock/... */
    _Atomic uint64_t streams_started;
    _Atomic uint64_t streams_completed; /* ran to the terminating chunk */
    _Atomic uint64_t streams_aborted;   /* the peer left first */
    _Atomic uint64_t streams_faulted;   /* ended by a mock fault (close_mid_stream, ...) */
};

/* The worker's most recent request other than /mock/..., for /mock/last. */
struct gw_mock_last {
    pthread_mutex_t mu; /* guards the rest; held only for a copy or a render */
    uint64_t stamp;     /* CLOCK_MONOTONIC ns when recorded; 0 when none */
    char *buf;          /* owns: head bytes, then body bytes */
    size_t cap;
    size_t head_len, body_len;
};

struct gw_mock_worker {
    /* thread-local */
    unsigned id;
    pthread_t thread;
    int epfd;
    int reserve_fd; /* spare fd, given up to shed a connection on EMFILE */
    struct gw_mock_ep listen_http;
    struct gw_mock_ep listen_tls; /* fd -1 without --tls-listen */
    struct gw_mock_ep wake;       /* eventfd written at shutdown */
    uint64_t now_ms;              /* CLOCK_MONOTONIC ms, refreshed once per loop turn */
    uint64_t req_seq;             /* requests answered, for ids */
    struct gw_mock_conn **heap;   /* owns the array: binary min-heap on deadline_ms */
    size_t heap_len, heap_cap;
    struct gw_mock_conn *live;       /* doubly linked */
    struct gw_mock_conn *dead;       /* closed this turn; recycled after the turn's events */
    struct gw_mock_conn *free_conns; /* recycled, buffers freed */
    unsigned n_free_conns;
    struct gw_tls_server *tls_cache[64]; /* recycled TLS engines */
    unsigned n_tls_cache;
    struct gw_tls_session_cache *sessions; /* owns: this thread's TLS session cache */
    char *scratch;                         /* owns: JSON bodies are rendered here */
    size_t scratch_cap;
    char *scratch2; /* owns: pieces a body is built from */
    size_t scratch2_cap;
    /* shared, each on its own cache line */
    alignas(64) struct gw_mock_counters ctr;
    alignas(64) struct gw_mock_last last;
};

/* Process-wide settings, fixed before the workers start. */
struct gw_mock_global {
    const char *api_key; /* borrows argv; NULL: no auth */
    /* bedrock.c: SigV4 is checked against these when set (borrow argv; NULL: no check) */
    const char *aws_key_id;
    const char *aws_secret;
    bool quiet;
    unsigned nworkers;
    struct gw_mock_worker *workers;   /* owns: nworkers entries */
    const struct gw_tls_creds *creds; /* borrows; NULL without TLS */
    atomic_bool stop;                 /* set by the main thread on SIGTERM/SIGINT */
};
extern struct gw_mock_global gw_mock;

/* ---- conn.c: workers and connections ---- */

/*
 * Prepares worker `id`: epoll set, eventfd, timer heap, scratch, and the
 * listening sockets it takes over (lfd_tls may be -1). Returns 0 or -errno;
 * on failure the worker holds nothing that gw_mock_worker_destroy cannot free.
 */
int gw_mock_worker_init(struct gw_mock_worker *w, unsigned id, int lfd_http, int lfd_tls);
/* Thread body: runs the loop until gw_mock.stop and the wake eventfd say so. */
void *gw_mock_worker_main(void *arg);
/* Asks a running worker to stop (from any thread). */
void gw_mock_worker_wake(struct gw_mock_worker *w);
/* Closes and frees everything the worker owns; its thread must have ended. */
void gw_mock_worker_destroy(struct gw_mock_worker *w);

/*
 * Output helpers for the endpoints. On allocation failure they set
 * GW_MOCK_CF_OOM and do nothing; the loop then drops the connection.
 * gw_mock_out_reserve returns room for at least n bytes at out + out_len
 * (commit what was written with gw_mock_out_commit), or NULL.
 */
char *gw_mock_out_reserve(struct gw_mock_conn *c, size_t n);
void gw_mock_out_commit(struct gw_mock_conn *c, size_t n);
void gw_mock_out_append(struct gw_mock_conn *c, const void *p, size_t n);
void gw_mock_out_printf(struct gw_mock_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- api.c: endpoints ---- */

/*
 * Answers one complete request: head is the request head, body its decoded
 * body (both borrowed from the input buffer, valid only during the call).
 * Appends the response, or its first part, to c's output and fills c->plan;
 * the loop then holds it for plan.first_delay_ms and carries on per
 * plan.mode. Never closes the connection itself.
 */
void gw_mock_dispatch(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span head,
                      struct gw_span body);
/*
 * Queues an error response for a request that could not be framed (400, 413,
 * 431) and marks it the last on the connection.
 */
void gw_mock_reply_proto_error(struct gw_mock_conn *c, int status, const char *message);

/* ---- reply.c: what the dialects share (the rest is in reply.h) ---- */

enum gw_mock_step {
    GW_MOCK_STEP_MORE = 0, /* emitted an event; call again */
    GW_MOCK_STEP_WAIT,     /* the next event is due at plan.next_ms */
    GW_MOCK_STEP_DONE,     /* ended properly: closing events and the last chunk are queued */
    GW_MOCK_STEP_FAULT,    /* the stream ends here by a fault: flush, then close abruptly */
    GW_MOCK_STEP_COUNT
};
/* Emits what a running stream owes at now_ms (one event per call), in plan.dialect's wire. */
enum gw_mock_step gw_mock_stream_step(struct gw_mock_conn *c, uint64_t now_ms);

/*
 * What the request's "mock" object asked for (gw_mock_parse_ctl, for every
 * dialect; see tools/mock/README.md).
 */
struct gw_mock_ctl {
    uint64_t chunks;
    uint64_t delay_ms;
    uint64_t first_delay_ms;
    int status;
    char retry_after[64]; /* "" when absent; only header-safe characters */
    enum gw_mock_fault fault;
    bool tool; /* answer with a tool call (dialects that support it) */
};

/* ---- the dialects' endpoints (their wires are in reply.h) ---- */

/* anthropic.c: POST /v1/messages: checks version, auth and body, then answers or streams. */
void gw_mock_anthropic_messages(struct gw_mock_conn *c, const struct gw_http1_req *req,
                                struct gw_span body);
/* gemini.c: POST /v1beta/models/{model}:generateContent, :streamGenerateContent?alt=sse and
 * :batchEmbedContents (path is the target without its query). */
void gw_mock_gemini(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span path,
                    struct gw_span body);
/* cohere.c: POST /v2/chat (streamed when "stream": true) and POST /v2/embed. */
void gw_mock_cohere(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span path,
                    struct gw_span body);
/* bedrock.c: POST /model/{modelId}/converse and /model/{modelId}/converse-stream, SigV4 checked. */
void gw_mock_bedrock(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span path,
                     struct gw_span body);

/* ---- inline bodies ---- */

/* Single-writer increment; pairs with the acquire loads of /mock/stats. */
static inline void gw_mock_ctr_inc(_Atomic uint64_t *ctr)
{
    atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + 1,
                          memory_order_release);
}

#endif
