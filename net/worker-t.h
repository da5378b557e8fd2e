/*
 * net/worker-t.h — the worker and the objects it owns: client connections,
 * the request each one carries, upstream connections and their pools.
 *
 * Everything here belongs to exactly one worker thread. The only fields other
 * threads read are in struct gw_worker_shared (counters for /metrics), which
 * sits in its own cache lines at the end of struct gw_worker.
 */
#ifndef GW_NET_WORKER_T_H
#define GW_NET_WORKER_T_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <bearssl.h>
#include <liburing.h>

#include "core/accounts.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/fail.h"
#include "core/rcu.h"
#include "core/spend.h"
#include "core/timerwheel.h"
#include "core/usage.h"
#include "net/http1.h"
#include "net/iobuf.h"
#include "providers/dialect.h"
#include "providers/provider.h"

/* Ring operations; user_data = op << 56 | slot << 32 | slot generation. */
enum gw_op {
    GW_OP_ACCEPT = 0, /* multishot accept into the fixed-file table */
    GW_OP_CRECV,      /* client multishot recv, provided buffers */
    GW_OP_CSEND,      /* client sendmsg from its output queue */
    GW_OP_CCLOSE,     /* client close_direct */
    GW_OP_CSHUTDOWN,  /* client shutdown(SHUT_WR) before a lingering close */
    GW_OP_UCONNECT,   /* upstream connect */
    GW_OP_URECV,      /* upstream recv into a provided buffer (TLS: then copied into the engine) */
    GW_OP_USEND,      /* upstream sendmsg (plain) or send of the TLS engine's record */
    GW_OP_UCLOSE,     /* upstream close_direct */
    GW_OP_CANCEL,     /* async cancel of a closing connection's ops; result ignored */
    GW_OP_LOGWRITE,   /* write of a log buffer to stdout or stderr */
    GW_OP_WAKE,       /* read of the worker's eventfd (control thread wakeups) */
    GW_OP_USAGEWRITE, /* write of usage records to the worker's usage log (net/usagelog.c) */
    GW_OP_USAGECLOSE, /* close of a usage log file the worker has moved past */
    GW_OP_COUNT
};

/* Client connection states; what must hold in each: */
enum gw_client_state {
    GW_CS_FREE = 0, /* slot unused; fixed-file index not ours */
    GW_CS_READING,  /* no request dispatched; ibuf holds a partial head/body (or nothing) */
    GW_CS_ACTIVE,   /* req is bound to a snapshot; its response is not fully queued yet */
    GW_CS_LINGER,   /* an error was answered before the request was read, and sent; our
                     * side is shut for writing; input is discarded until the client closes,
                     * GW_LINGER_MAX_BYTES arrive or GW_LINGER_MS pass, then we close */
    GW_CS_CLOSING,  /* no new ops; cancel sent; close_direct once inflight == 0 */
    GW_CS_COUNT
};

#define GW_CF_RECV_ARMED (1u << 0)  /* a multishot recv is in flight */
#define GW_CF_SEND_BUSY (1u << 1)   /* a sendmsg is in flight */
#define GW_CF_RECV_PAUSED (1u << 2) /* input over its cap: recv not re-armed until consumed */
#define GW_CF_CLOSE_AFTER (1u << 3) /* close once the output queue drains */
#define GW_CF_RESP_DONE (1u << 4)   /* current response fully queued */
#define GW_CF_NEED_REARM (1u << 5)  /* recv ended (ENOBUFS or no F_MORE): re-arm at end of batch */
#define GW_CF_PEER_EOF (1u << 6)    /* client half-closed or reset */
#define GW_CF_IN_REARM_LIST (1u << 7)
#define GW_CF_DISCARD (1u << 8)     /* answered before its body was read: input is dropped and
                                     * the close lingers (GW_CS_LINGER) so the answer survives */
#define GW_CF_USAGE_HOLD (1u << 10) /* the response's last bytes wait until its usage record
                                     * is written (net/usagelog.c): no send starts meanwhile */

/* A lingering close: how long, and how much input, before the connection is closed anyway. */
#define GW_LINGER_MS 2000
#define GW_LINGER_MAX_BYTES (1u << 20)

/* Upstream connection states: */
enum gw_up_state {
    GW_US_FREE = 0,   /* slot unused */
    GW_US_CONNECTING, /* connect in flight; owner set */
    GW_US_HANDSHAKE,  /* TLS handshake running; owner set */
    GW_US_BUSY,       /* request going out and/or response coming in; owner set */
    GW_US_IDLE,       /* in the pool, no owner, a recv armed to notice close or stray bytes */
    GW_US_CLOSING,    /* ops cancelled; close_direct once inflight == 0 */
    GW_US_COUNT
};

struct gw_client;

/* One origin's per-worker keep-alive pool [ngx keepalive]. */
struct gw_pool {
    char *key;                     /* owns: the provider's origin_key */
    uint32_t max_idle, idle_timeout_ms, max_requests; /* from the provider, refreshed per request */
    struct gw_upconn *idle_head;   /* most recently used first */
    uint32_t nidle;
    uint32_t nconns;               /* all connections of this origin, idle or busy */
    bool have_session;             /* TLS session to offer for resumption */
    br_ssl_session_parameters session;
    struct gw_pool *next;          /* worker's pool list */
};

struct gw_upconn {
    uint32_t gen;   /* slot generation, in user_data */
    uint32_t idx;   /* slot; fixed-file index = worker up_base + idx */
    enum gw_up_state state;
    uint32_t inflight;  /* SQEs in flight that name this slot */
    bool send_busy;
    bool recv_busy;
    bool reused;        /* served a request before the current one */
    bool got_bytes;     /* some response byte arrived for the current request */
    bool handshake_done;
    struct gw_pool *pool;               /* borrowed: the worker's pool for its origin */
    struct gw_upconn *pool_next, *pool_prev; /* idle list links */
    struct gw_client *owner;            /* borrowed: client whose request runs here */
    struct gw_tls_client *tls;          /* owns (worker TLS slab), NULL for plain http */
    const struct gw_provider *prov;     /* borrowed from the owner's snapshot while busy */
    struct gw_timer timer;              /* connect/first-byte/read/idle timeouts */
    uint32_t nrequests;
    uint64_t created_ms;
    int br_err;                         /* BearSSL error when the engine closed */
    const char *action;                 /* what it was doing, for logs */
    bool paused;                        /* client output over its high-water mark: no reads */
    /* TLS: ciphertext received into a provided buffer and not yet fed to the
     * engine (BearSSL takes one record at a time, header first; one receive
     * of up to a buffer's size saves a ring round trip per record). */
    char *stage;                        /* borrowed: into the worker's upstream buffers */
    uint32_t stage_len;
    uint16_t stage_bid;
    bool staged;                        /* stage_bid is held */
    struct sockaddr_storage addr;       /* copy of the provider's resolved address */
    socklen_t addrlen;
    /* Plain sends go out of a block this connection owns, never out of request
     * memory: the kernel may read a send's buffer until its CQE, and only this
     * slot is certain to outlive that (it is freed after its close's CQE). */
    struct gw_ioblock *sblock;          /* owns (worker iopool) while a plain request is sent */
    struct gw_upconn *free_next;        /* worker free list */
};

/* The one request a client connection is serving (pipelined ones wait in ibuf). */
struct gw_req {
    struct gw_config *snap;          /* borrowed: snapshot bound at dispatch (RCU) */
    uint64_t gen;                    /* its generation, counted in the worker's gentrack */
    const struct gw_model *model;    /* points into snap */
    const char *model_asked;         /* arena: the model name the body asked for, bounded and
                                      * valid UTF-8 (net/server.c), known or not; NULL if none */
    const struct gw_vkey *key;       /* points into snap->accounts */
    const struct gw_price *price;    /* points into snap->accounts; NULL = price unknown */
    int64_t est_pusd;                /* reserved at admission (core/spend.h) */
    int64_t cost_pusd;               /* the settled cost, once known */
    bool admitted;                   /* est_pusd is reserved: settle exactly once */
    bool recorded;                   /* its usage record is written or queued */
    bool have_cost;
    uint64_t max_tokens;             /* max_tokens / max_completion_tokens asked; 0 = none */
    uint64_t cached_tokens, cache_write_tokens, reasoning_tokens;
    const char *err_code;            /* static: the code of an error the gateway answered */
    bool hard_budget;                /* the key's or team's budget is hard: streams are cut */
    uint64_t prompt_est;             /* prompt tokens estimated at admission */
    uint64_t stream_tokens;          /* content events relayed so far, about one token each */
    enum gw_endpoint ep;
    unsigned route;                  /* net/server.c's route, decided at head time */
    bool head_timer;                 /* header timeout armed for this request */
    bool head_only;                  /* HEAD request: the response carries no body */
    bool bound;                      /* snap/gen are counted in gentrack */
    bool stream;                     /* client asked for stream: true */
    bool want_usage;                 /* client asked for stream_options.include_usage */
    bool keepalive;                  /* connection persists after this request */
    bool chunked_in;                 /* request body is chunked */
    struct gw_chunked in_dec;        /* request body decoder */
    size_t head_len;                 /* request head bytes at the front of ibuf */
    size_t body_have;                /* decoded body bytes after the head */
    size_t raw_end;                  /* end of this request's bytes in ibuf, once complete */
    uint64_t body_expect;            /* Content-Length */
    char rid[64];                    /* x-request-id, NUL-terminated */
    uint64_t t_start_ns, t_sent_ns, t_ttfb_ns;
    /* The request's own bytes (head and body as the client sent them), moved
     * out of the client's input buffer at dispatch so that more input from the
     * client never moves or frees them; released at the end of the request, or
     * once the upstream request can no longer be sent again (core/ARCHITECTURE.md). */
    char *in_buf;                    /* owns, from the place in_kind says; NULL once released */
    struct gw_ioblock *in_block;     /* owns: the block behind in_buf when GW_IN_BLOCK */
    unsigned char in_kind;           /* enum gw_in_kind */
    /* upstream request */
    struct iovec *up_iov;            /* pieces in the arena and in in_buf: head + body */
    int up_iovcnt;
    size_t up_total;
    size_t up_sent;                  /* bytes copied out to the socket (plain) or TLS engine */
    bool up_written;                 /* every byte reached the kernel: a retry may double it */
    bool stream_counted;             /* counted in streams_active */
    uint8_t interim;                 /* 1xx heads skipped so far */
    unsigned attempts;
    struct gw_upconn *up;            /* borrowed while attached */
    /* upstream response */
    char *rhead;                     /* arena: head bytes gathered so far */
    size_t rhead_len;
    int status;
    bool resp_chunked, resp_has_cl, resp_to_eof, resp_keepalive;
    uint64_t resp_remaining;         /* body bytes left when resp_has_cl */
    struct gw_chunked resp_dec;
    bool resp_head_done;             /* upstream response head parsed */
    bool resp_extra;                 /* bytes after the response end: connection not reusable */
    bool client_http11;              /* client speaks HTTP/1.1: chunked responses allowed */
    bool head_sent;                  /* response head queued to the client */
    bool committed;                  /* some of the response went to the client's socket */
    bool relay_sse;                  /* inspecting the body event by event */
    bool sse_done;                   /* the client's event stream has had its data: [DONE] */
    bool relay_chunked_out;          /* body goes to the client chunked */
    bool upstream_done;              /* whole upstream response consumed */
    char *sse;                       /* owns (malloc'd, capped): a partial SSE event */
    size_t sse_len, sse_cap;
    char *tail;                      /* arena: last bytes of a non-stream body, for usage */
    size_t tail_len;
    bool have_usage;
    uint64_t prompt_tokens, completion_tokens;
    /* translated dialects (providers/dialect.h); dialect NULL = pass-through */
    const struct gw_dialect *dialect;
    struct gw_xlate xl;              /* its context */
    void *xstream;                   /* arena: stream translator state while relaying a stream */
    bool xbuffer;                    /* gathering the upstream body whole, to translate it */
    char *xbuf;                      /* owns (malloc'd, capped): the gathered body */
    size_t xlen, xcap;
    const char *xextra;              /* arena: passed-through header lines for the final head */
    struct gw_span xerr_type;        /* arena: the dialect's error type header of a non-2xx answer */
    char xctype[128];                /* the upstream content type, for a body that stays as is */
    const char *warning;             /* static: sent to the client as x-conduit-warning */
    uint64_t bytes_in, bytes_out;
    enum gw_fail fail;
    struct gw_arena arena;
};

/* Where a client's input buffer came from; it moves up as a request grows. */
enum gw_in_kind {
    GW_IN_NONE = 0,
    GW_IN_SMALL,  /* worker's small-buffer pool (GW_INSMALL_SIZE) */
    GW_IN_BLOCK,  /* an I/O block (GW_IOBLOCK_SIZE) */
    GW_IN_MALLOC, /* a larger request: malloc'd, capped by the body limit */
    GW_IN_COUNT
};
#define GW_INSMALL_SIZE 4096

struct gw_client {
    uint32_t gen;
    uint32_t idx;           /* slot == fixed-file index */
    enum gw_client_state state;
    unsigned flags;         /* GW_CF_* */
    uint32_t inflight;
    char *ibuf;             /* owns: input, from the place ikind says */
    struct gw_ioblock *iblock; /* owns: the block behind ibuf when ikind is GW_IN_BLOCK */
    unsigned char ikind;    /* enum gw_in_kind */
    size_t ilen, icap;
    struct gw_obuf out;
    size_t out_inflight;    /* bytes in the current sendmsg */
    struct iovec siov[16];
    struct msghdr smsg;
    struct gw_timer timer;  /* header, body, keep-alive idle and linger timeouts */
    uint32_t discarded;     /* input bytes dropped under GW_CF_DISCARD */
    /* The last key this connection presented and its SHA-256, so that a
     * keep-alive connection's requests hash it once (net/server.c). */
    uint8_t auth_len;       /* 0: none */
    char auth_key[48];
    uint8_t auth_digest[32];
    struct gw_req req;
    const char *action;
    struct gw_client *rearm_next;
};

/* Latency buckets, seconds, shared by every histogram. */
#define GW_HIST_BUCKETS 16

struct gw_reqcount {
    _Atomic uint32_t used;   /* 0 until model/provider/status are written (release) */
    uint16_t status;
    char model[64];
    char provider[64];
    _Atomic uint64_t count;
};

#define GW_REQCOUNT_SLOTS 256

/* Spend and tokens by key name, team and model: a bounded label table per worker. */
struct gw_spendcount {
    _Atomic uint32_t used; /* 0 until the labels are written (release) */
    char key[64];
    char team[48];
    char model[64];
    _Atomic uint64_t requests;
    _Atomic uint64_t prompt_tokens, completion_tokens, cached_tokens;
    _Atomic uint64_t cost_pusd;
};
#define GW_SPENDCOUNT_SLOTS 256

/* Read by /metrics on any worker; written by the owner only (relaxed; single writer). */
struct gw_worker_shared {
    _Alignas(GW_CACHELINE) _Atomic uint64_t conns_active;
    _Atomic uint64_t conns_total;
    _Atomic uint64_t streams_active;
    _Atomic uint64_t bytes_in;
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t upstream_conns;
    _Atomic uint64_t upstream_connects;
    _Atomic uint64_t tls_resumed;
    _Atomic uint64_t stale_cqes;
    _Atomic uint64_t buffer_refusals;
    _Atomic uint64_t log_dropped;
    _Atomic uint64_t upstream_retries;
    _Atomic uint64_t client_enobufs;   /* client receives that found no provided buffer */
    _Atomic uint64_t upstream_enobufs; /* upstream receives that found no provided buffer */
    _Atomic uint64_t fails[GW_FAIL_COUNT];
    _Atomic uint64_t total_hist[GW_HIST_BUCKETS + 1];
    _Atomic uint64_t total_sum_us;
    _Atomic uint64_t up_hist[GW_HIST_BUCKETS + 1];
    _Atomic uint64_t up_sum_us;
    struct gw_reqcount reqs[GW_REQCOUNT_SLOTS];
    _Atomic uint64_t reqs_overflow;
    struct gw_spendcount spend[GW_SPENDCOUNT_SLOTS];
    _Atomic uint64_t spend_overflow;
    _Atomic uint64_t budget_refusals[GW_ADMIT_COUNT];
    _Atomic uint64_t model_refusals;
    _Atomic uint64_t unpriced;        /* requests served whose model has no price */
    _Atomic uint64_t usage_records;   /* usage records written to the log */
    _Atomic uint64_t usage_write_errors;
    _Atomic uint64_t usage_dropped;   /* records lost: the log buffer was at its cap */
    _Atomic uint64_t usage_held_ns;   /* responses' total wait for their record's write */
    struct gw_usage_handoff usage;    /* the worker's log files, with the store thread */
};

/* A log stream (stdout access log or stderr) written through the ring. */
struct gw_logbuf {
    int fd;
    char *fill;   /* owns: lines being gathered */
    size_t fill_len;
    char *flight; /* owns: bytes being written */
    size_t flight_len, flight_off;
    bool busy;
};
#define GW_LOGBUF_SIZE 65536

/*
 * The worker's usage log (net/usagelog.c): records gather in `fill`; one
 * write at a time goes to the current file through the ring. Each response
 * whose record is in a write waits (GW_CF_USAGE_HOLD) in `held`, a FIFO in
 * record order, until the write that carries its record completes.
 */
struct gw_usage_hold {
    uint32_t idx, gen; /* the client */
    uint64_t upto;     /* appended-bytes total that includes its record */
    uint64_t since_ns;
};
struct gw_usagelog {
    bool on;             /* the store is configured: records are written */
    int fd;              /* owns: the current file, -1 when off */
    uint64_t fileseq;
    uint64_t file_bytes; /* written to the current file */
    uint64_t seq;        /* last record's sequence number */
    char *fill;          /* owns: records gathered (malloc'd, grows to GW_USAGEBUF_MAX) */
    size_t fill_len, fill_cap;
    char *flight;        /* owns: bytes being written */
    size_t flight_len, flight_off, flight_cap;
    bool busy;
    uint64_t appended;   /* bytes ever appended to fill */
    uint64_t durable;    /* bytes ever written to a file */
    struct gw_usage_hold *held; /* owns: ring of nclients entries */
    uint32_t held_head, held_len, held_cap;
    int closing_fd;      /* a file being closed through the ring, -1 none */
};
#define GW_USAGEBUF_SIZE (256u << 10)
#define GW_USAGEBUF_MAX (16u << 20)

struct gw_runtime;

struct gw_worker {
    unsigned id;
    int cpu;                 /* pinned to this CPU, -1 for none */
    pthread_t thread;
    struct gw_runtime *rt;   /* borrowed: process-wide state */
    struct io_uring ring;
    int listen_fd;           /* owns: this worker's SO_REUSEPORT socket, -1 once closed */
    bool accept_armed;
    bool accept_rearm;       /* the multishot accept ended and must be armed again */
    uint64_t accept_errors;
    int wake_fd;             /* owns: eventfd the control thread writes */
    uint64_t wake_val;
    struct gw_config *snap;  /* last loaded snapshot: new requests bind to it */
    struct gw_gentrack gentrack;
    struct gw_timerwheel tw;
    uint64_t now_ms;
    struct gw_client *clients; /* owns: nclients entries, indexed by fixed-file index */
    uint32_t nclients;
    uint32_t live_clients;
    struct gw_upconn *ups;     /* owns: nups entries; fixed-file index up_base + idx */
    uint32_t nups;
    uint32_t up_base;
    struct gw_upconn *up_free;
    struct gw_pool *pools;     /* owns */
    struct gw_tls_client *tls_free; /* owns: recycled TLS contexts (33 KB each) */
    struct gw_iopool iopool;
    struct gw_bufpool inpool;       /* small input buffers */
    struct io_uring_buf_ring *cbr;  /* client recv provided buffers, group 0 */
    char *cbufs;
    struct io_uring_buf_ring *ubr;  /* upstream recv provided buffers, group 1 */
    char *ubufs;
    struct gw_client *rearm;        /* clients whose recv must be re-armed after this batch */
    struct gw_logbuf log_out, log_err;
    struct gw_usagelog usage;
    struct gw_spend_ledger ledger; /* this worker's spend counters (core/spend.h) */
    bool draining;
    uint64_t drain_deadline_ms;
    struct gw_worker_shared shared;
};

#define GW_CBUF_GROUP 0
#define GW_UBUF_GROUP 1
#define GW_CBUF_COUNT 512
#define GW_UBUF_COUNT 512
#define GW_RBUF_SIZE 16384

/* Process-wide state shared by every thread; written by the control thread only. */
struct gw_runtime {
    struct gw_rcu rcu;
    _Atomic bool draining;     /* release-stored by control; acquire-loaded by workers */
    struct gw_worker *workers; /* owns */
    unsigned nworkers;
    _Atomic unsigned workers_exited;
    uint64_t start_time;
    /* budgets and the usage log (set at boot, before the workers start) */
    struct gw_spend_board *board; /* borrowed: process-wide live spend */
    struct gw_store_stats *store_stats; /* borrowed: the store thread's figures; NULL = no store */
    const char *boot;             /* this process's boot id (usage records) */
};

#endif
