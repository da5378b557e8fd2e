/*
 * bench/loadgen/loadgen.h — conduit-loadgen's shared types: the run's
 * configuration, the per-worker statistics block, the block shared by every
 * worker of every process, and the calls between main.c (flags, request
 * bytes, processes and threads), worker.c (one epoll loop per thread) and
 * report.c (merge, table, JSON).
 *
 * Process model: the parent maps one MAP_SHARED anonymous region holding a
 * struct gw_lg_shared and one struct gw_lg_stats per worker, then either
 * runs --threads workers itself (--procs 1) or forks --procs children that
 * run --threads each. Worker w (0 <= w < procs * threads) writes only
 * stats[w]; the parent reads them after every worker has finished, so the
 * only cross-worker traffic during a run is a handful of atomics (live
 * counters for the progress line and the stream mode's open-session count).
 */
#ifndef GW_BENCH_LOADGEN_LOADGEN_H
#define GW_BENCH_LOADGEN_LOADGEN_H

#include <netinet/in.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/loadgen/hist.h"

#define GW_LG_BUF_SIZE                                                                             \
    (16u * 1024)               /* per-connection receive buffer: caps a head and an SSE event */
#define GW_LG_MAX_HEADERS 64   /* response header lines we accept */
#define GW_LG_STATUS_MAX 600   /* status codes counted individually: 0..599 */
#define GW_LG_MAX_WORKERS 1024 /* procs * threads */
#define GW_LG_RAMP_BATCH 2000  /* default ramp: new connections per thread ... */
#define GW_LG_RAMP_STEP_NS 10000000ull  /* ... per 10 ms, so the listener's queue keeps up */
#define GW_LG_RECONNECT_NS 100000000ull /* wait after a failed connect before the next try */

enum gw_lg_mode {
    GW_LG_MODE_CLOSED = 0, /* C connections, next request as soon as the last ends */
    GW_LG_MODE_OPEN,       /* fixed arrival rate over C connections */
    GW_LG_MODE_STREAM,     /* N streaming sessions (--repeat: a closed loop of streams) */
    GW_LG_MODE_COUNT
};

/* Why a request or a stream session failed; one identity each. */
enum gw_lg_fail {
    GW_LG_FAIL_CONNECT = 0, /* socket() or connect() failed (refused, EMFILE, ...) */
    GW_LG_FAIL_RESET,       /* a socket error (ECONNRESET, EPIPE) while a request was open */
    GW_LG_FAIL_EOF,         /* the peer closed before the response ended */
    GW_LG_FAIL_TIMEOUT,     /* no progress (connect, response byte) for --timeout-s */
    GW_LG_FAIL_STATUS,      /* stream mode: the status was not 2xx */
    GW_LG_FAIL_PROTO,       /* unparsable head or chunk framing, bytes after the response */
    GW_LG_FAIL_TOO_BIG,     /* a response head or one SSE event over GW_LG_BUF_SIZE */
    GW_LG_FAIL_NO_DONE,     /* stream mode: the response ended without data: [DONE] */
    GW_LG_FAIL_UNFINISHED,  /* stream mode: still running when --duration ran out */
    GW_LG_FAIL_COUNT
};

/* Short name for tables and JSON keys ("connect", "timeout", ...). */
const char *gw_lg_fail_name(enum gw_lg_fail f);
const char *gw_lg_mode_name(enum gw_lg_mode m);

/* Everything a worker needs; built by main.c, read-only once workers start. */
struct gw_lg_config {
    enum gw_lg_mode mode;
    struct sockaddr_storage addr; /* numeric target address */
    socklen_t addrlen;
    const char *target; /* as given: HOST:PORT */
    const char *path;
    const char *label;     /* NULL when not given */
    const char *model;     /* NULL when not given */
    const char *json_path; /* --json, NULL when not given */
    unsigned threads;      /* per process */
    unsigned procs;
    unsigned conns;       /* closed, open, stream --repeat: concurrent connections */
    unsigned sessions;    /* stream without --repeat: sessions in all */
    unsigned events;      /* stream: mock.chunks */
    unsigned interval_ms; /* stream: mock.delay_ms */
    double rate;          /* open: requests per second over all connections */
    double duration_s;    /* measured window; stream without --repeat: 0 = no cap */
    double warmup_s;      /* before the window, not measured */
    double ramp_s;        /* spread connection opens over this long; 0 = default pacing */
    double timeout_s;     /* idle limit on a connect or an open request */
    unsigned src_ips;     /* bind sources 127.0.0.1 .. 127.0.0.src_ips in turn; 0: kernel picks */
    bool repeat;          /* stream: closed loop of streams */
    bool quiet;           /* no progress lines on stderr */
    char *req;            /* owns: the whole request, head and body, sent as is */
    size_t req_len;
    size_t body_len;
    uint64_t t0_ns; /* CLOCK_MONOTONIC start of the run, shared by every process */
};

/*
 * One worker's results. Written only by its worker; the live_* fields are
 * also read by the parent's progress line while the run goes on.
 */
struct gw_lg_stats {
    alignas(64) _Atomic uint64_t live_done; /* requests or sessions ended well so far */
    _Atomic uint64_t live_failed;           /* failures so far */
    _Atomic uint64_t live_conns;            /* sockets open now */
    _Atomic bool finished;                  /* the worker has returned */
    unsigned conns;                         /* connections or sessions it was given */
    uint64_t requests;                      /* closed/open: responses that ended in the window */
    uint64_t ok;                            /* of which 2xx */
    uint64_t status[GW_LG_STATUS_MAX];      /* window responses (stream: sessions) by status */
    uint64_t fails[GW_LG_FAIL_COUNT];       /* whole run, warm-up included */
    uint64_t bytes_in;                      /* window */
    uint64_t bytes_out;                     /* window */
    uint64_t connects;                      /* successful connects, whole run */
    uint64_t reconnects;                    /* connects after the first on a connection */
    uint64_t scheduled;                     /* open: requests due in the window */
    uint64_t resolved;        /* open: of those, ended (well or not) before the window closed */
    uint64_t sessions_ok;     /* stream: ended with 2xx, [DONE] and clean framing */
    uint64_t sessions_failed; /* stream */
    uint64_t events;          /* stream: data events other than [DONE] */
    uint64_t done_seen;       /* stream: sessions that saw [DONE] */
    uint64_t t_end_ns;        /* when this worker's last session or window ended */
    struct gw_lg_hist lat;    /* closed/open: latency; open counts from the scheduled time */
    struct gw_lg_hist sched;  /* open: scheduled time -> actual send (queueing and lag) */
    struct gw_lg_hist ttft;   /* stream: request sent -> first data event */
    struct gw_lg_hist gap;    /* stream: between consecutive data events of a session */
    struct gw_lg_hist late;   /* stream: max(0, gap - interval), gaps >= interval / 2 only */
};

/* The block every worker of every process shares, at the start of the region. */
struct gw_lg_shared {
    alignas(64) _Atomic int64_t open_now; /* stream: sessions with a request out, all workers */
    _Atomic int64_t open_peak;            /* the most open_now ever was */
    _Atomic bool stop;                    /* set by the parent on SIGINT: end the run now */
    alignas(64) unsigned nworkers;
    struct gw_lg_stats stats[]; /* nworkers entries */
};

/*
 * Runs worker `index` (0 .. procs*threads-1) of the run described by cfg
 * until its share of the work is done, writing sh->stats[index]. Call it on
 * its own thread. Returns 0, or -errno when it could not start (epoll, memory);
 * failures of single connections are counted, never returned.
 */
int gw_lg_worker_run(const struct gw_lg_config *cfg, struct gw_lg_shared *sh, unsigned index);

/*
 * Splits n items over k takers as evenly as possible: how many taker i
 * (0 <= i < k) gets, and the global index of its first item.
 */
static inline unsigned gw_lg_share(unsigned n, unsigned k, unsigned i);
static inline unsigned gw_lg_share_first(unsigned n, unsigned k, unsigned i);

/* ---- inline bodies ---- */

static inline unsigned gw_lg_share(unsigned n, unsigned k, unsigned i)
{
    return n / k + (i < n % k ? 1u : 0u);
}

static inline unsigned gw_lg_share_first(unsigned n, unsigned k, unsigned i)
{
    return i * (n / k) + (i < n % k ? i : n % k);
}

#endif
