/*
 * bench/loadgen/main.c — conduit-loadgen's command line, the request bytes,
 * the open-file limit, and the processes and threads that run the workers.
 * See bench/loadgen/README.md for the flags and the output.
 *
 * Why processes: a process may hold at most 20,000 open files here and the
 * hard limit cannot be raised, so 20,000 sessions (one socket each) do not
 * fit in one process. --procs P forks P children before any thread exists;
 * each runs --threads workers over its share of the connections, and all of
 * them write their statistics into one MAP_SHARED region that the parent
 * merges once every child has exited. With --procs 1 the parent runs the
 * worker threads itself. Either way the parent's main thread only watches:
 * it prints a progress line a second and turns SIGINT into a clean stop.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/loadgen.h"
#include "bench/loadgen/report.h"
#include "core/common.h"
#include "core/json.h"

#define MAX_USER_HEADERS 32
#define BODY_FILE_CAP (64u * 1024 * 1024)
#define START_DELAY_NS 200000000ull /* t0 lies this far ahead, so every worker is ready for it */
#define FD_RESERVE 32               /* descriptors kept for epoll, stdio, pipes */
#define DEFAULT_BODY_CONTENT "Hello"
#define DEFAULT_SOURCE_IPS 16 /* loopback targets: spread over 127.0.0.1 .. 127.0.0.16 */

static const char *const fail_names[GW_LG_FAIL_COUNT] = {
    [GW_LG_FAIL_CONNECT] = "connect",
    [GW_LG_FAIL_RESET] = "reset",
    [GW_LG_FAIL_EOF] = "eof",
    [GW_LG_FAIL_TIMEOUT] = "timeout",
    [GW_LG_FAIL_STATUS] = "status",
    [GW_LG_FAIL_PROTO] = "proto",
    [GW_LG_FAIL_TOO_BIG] = "too_big",
    [GW_LG_FAIL_NO_DONE] = "no_done",
    [GW_LG_FAIL_UNFINISHED] = "unfinished",
};

const char *gw_lg_fail_name(enum gw_lg_fail f)
{
    return (unsigned)f < GW_LG_FAIL_COUNT ? fail_names[f] : "?";
}

const char *gw_lg_mode_name(enum gw_lg_mode m)
{
    static const char *const names[GW_LG_MODE_COUNT] = {
        [GW_LG_MODE_CLOSED] = "closed", [GW_LG_MODE_OPEN] = "open", [GW_LG_MODE_STREAM] = "stream"};
    return (unsigned)m < GW_LG_MODE_COUNT ? names[m] : "?";
}

static _Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("conduit-loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see --help)\n", stderr);
    va_end(ap);
    exit(2);
}

static void usage(FILE *f)
{
    fputs("usage: conduit-loadgen --target HOST:PORT [--mode closed|open|stream] [options]\n"
          "  common:  --path P  --header 'K: V' (repeatable)  --body FILE | --body-json JSON\n"
          "           --model NAME  --threads N  --procs P  --warmup S  --duration S\n"
          "           --timeout-s S  --ramp-s S  --source-ips N  --json OUT.json  --label TEXT\n"
          "           --quiet\n"
          "  closed:  --conns C\n"
          "  open:    --rate R --conns C\n"
          "  stream:  --sessions N --events E --interval-ms I [--repeat --duration T]\n"
          "See bench/loadgen/README.md.\n",
          f);
}

static unsigned long parse_ulong(const char *flag, const char *s, unsigned long lo,
                                 unsigned long hi)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        usage_error("%s: want an integer in %lu..%lu, got '%s'", flag, lo, hi, s);
    return v;
}

static double parse_double(const char *flag, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        usage_error("%s: want a number in %g..%g, got '%s'", flag, lo, hi, s);
    return v;
}

/* Numeric IPv4 "A.B.C.D:PORT", "[v6]:PORT", or "localhost:PORT". 0 or -1. */
static int parse_target(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
        return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[') {
        if (hl < 2 || h[hl - 1] != ']')
            return -1;
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port == 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    return -1;
}

/* ---- request bytes (built once at start-up; allocation is fine here) ---- */

struct sbuf {
    char *p; /* owns */
    size_t len;
    size_t cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 1024;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            fputs("conduit-loadgen: out of memory\n", stderr);
            exit(1);
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct sbuf b = {0};
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || b.len + (size_t)n > BODY_FILE_CAP) {
            free(b.p);
            close(fd);
            return NULL;
        }
        if (n == 0)
            break;
        sb_add(&b, chunk, (size_t)n);
    }
    close(fd);
    if (!b.p)
        sb_add(&b, "", 0);
    *len = b.len;
    return b.p;
}

/*
 * Sets top-level member `key` of the JSON object body[0..*len) to the
 * serialised value val: an existing member of that name is cut out and the
 * new one is written first in the object. Replaces *body (freed) on success.
 * Returns 0, or -1 when the body is not a valid JSON object.
 */
static int body_put(char **body, size_t *len, const char *key, const char *val)
{
    const char *keys[1] = {key};
    struct gw_json_member m;
    if (gw_json_scan_object(*body, *len, keys, 1, &m) < 0)
        return -1;
    size_t cut_start = 0, cut_end = 0;
    if (m.found)
        gw_json_member_cut(*body, *len, &m, &cut_start, &cut_end);
    struct sbuf rest = {0};
    sb_add(&rest, *body, cut_start);
    sb_add(&rest, *body + cut_end, *len - cut_end);
    size_t open = 0;
    while (rest.p[open] != '{')
        open++; /* the scan proved the object starts with '{' after whitespace */
    size_t after = open + 1;
    while (rest.p[after] == ' ' || rest.p[after] == '\t' || rest.p[after] == '\n' ||
           rest.p[after] == '\r')
        after++;
    bool empty = rest.p[after] == '}';
    struct sbuf out = {0};
    sb_add(&out, rest.p, open + 1);
    sb_str(&out, "\"");
    sb_str(&out, key);
    sb_str(&out, "\":");
    sb_str(&out, val);
    if (!empty)
        sb_str(&out, ",");
    sb_add(&out, rest.p + open + 1, rest.len - open - 1);
    free(rest.p);
    free(*body);
    *body = out.p;
    *len = out.len;
    return 0;
}

/*
 * Stream mode's edits: "stream":true, and the mock's controls chunks =
 * --events and delay_ms = --interval-ms, set inside the body's own "mock"
 * object when it has one (so its faults and other fields stay) or in a new
 * one. Returns 0, or -1 when the body is not a JSON object.
 */
static int stream_body(char **body, size_t *len, const struct gw_lg_config *cfg)
{
    const char *keys[1] = {"mock"};
    struct gw_json_member m;
    if (gw_json_scan_object(*body, *len, keys, 1, &m) < 0)
        return -1;
    struct sbuf mock = {0};
    if (m.found && m.value.type == GW_JT_OBJ_BEGIN)
        sb_add(&mock, *body + m.value.start, m.value_end - m.value.start);
    else
        sb_str(&mock, "{}");
    char num[32];
    snprintf(num, sizeof(num), "%u", cfg->interval_ms);
    int rc = body_put(&mock.p, &mock.len, "delay_ms", num);
    snprintf(num, sizeof(num), "%u", cfg->events);
    if (rc == 0)
        rc = body_put(&mock.p, &mock.len, "chunks", num);
    if (rc == 0)
        rc = body_put(body, len, "mock", mock.p);
    if (rc == 0)
        rc = body_put(body, len, "stream", "true");
    free(mock.p);
    return rc;
}

static char *json_string(const char *s)
{
    size_t n = strlen(s);
    size_t cap = 6 * n + 3;
    char *buf = malloc(cap + 1);
    if (!buf)
        return NULL;
    struct gw_jw jw;
    gw_jw_init(&jw, buf, cap);
    gw_jw_str(&jw, s, n);
    if (jw.overflow) {
        free(buf);
        return NULL;
    }
    buf[jw.len] = '\0';
    return buf;
}

static char *body_default(const char *model, size_t *len)
{
    char tmp[4096];
    struct gw_jw jw;
    gw_jw_init(&jw, tmp, sizeof(tmp));
    gw_jw_obj_begin(&jw);
    gw_jw_key(&jw, "model");
    gw_jw_cstr(&jw, model ? model : "gpt-4o-mini");
    gw_jw_key(&jw, "messages");
    gw_jw_arr_begin(&jw);
    gw_jw_obj_begin(&jw);
    gw_jw_key(&jw, "role");
    gw_jw_cstr(&jw, "user");
    gw_jw_key(&jw, "content");
    gw_jw_cstr(&jw, DEFAULT_BODY_CONTENT);
    gw_jw_obj_end(&jw);
    gw_jw_arr_end(&jw);
    gw_jw_obj_end(&jw);
    if (jw.overflow)
        return NULL;
    struct sbuf b = {0};
    sb_add(&b, tmp, jw.len);
    *len = b.len;
    return b.p;
}

static bool header_has(const char *const *hdrs, unsigned n, const char *name)
{
    size_t nl = strlen(name);
    for (unsigned i = 0; i < n; i++)
        if (strncasecmp(hdrs[i], name, nl) == 0 && hdrs[i][nl] == ':')
            return true;
    return false;
}

/*
 * Builds cfg->req: the head (request line, Host, our headers unless the user
 * gave them, the user's, Content-Length) and the body, one buffer that every
 * request of the run writes as is.
 */
static void build_request(struct gw_lg_config *cfg, const char *const *hdrs, unsigned nhdrs,
                          char *body, size_t body_len)
{
    struct sbuf b = {0};
    char num[32];
    sb_str(&b, "POST ");
    sb_str(&b, cfg->path);
    sb_str(&b, " HTTP/1.1\r\n");
    if (!header_has(hdrs, nhdrs, "host")) {
        sb_str(&b, "Host: ");
        sb_str(&b, cfg->target);
        sb_str(&b, "\r\n");
    }
    if (!header_has(hdrs, nhdrs, "user-agent"))
        sb_str(&b, "User-Agent: conduit-loadgen\r\n");
    if (!header_has(hdrs, nhdrs, "content-type"))
        sb_str(&b, "Content-Type: application/json\r\n");
    if (cfg->mode == GW_LG_MODE_STREAM && !header_has(hdrs, nhdrs, "accept"))
        sb_str(&b, "Accept: text/event-stream\r\n");
    for (unsigned i = 0; i < nhdrs; i++) {
        sb_str(&b, hdrs[i]);
        sb_str(&b, "\r\n");
    }
    snprintf(num, sizeof(num), "%zu", body_len);
    sb_str(&b, "Content-Length: ");
    sb_str(&b, num);
    sb_str(&b, "\r\n\r\n");
    sb_add(&b, body, body_len);
    cfg->req = b.p;
    cfg->req_len = b.len;
    cfg->body_len = body_len;
}

/* ---- running the workers ---- */

struct thread_arg {
    const struct gw_lg_config *cfg;
    struct gw_lg_shared *sh;
    unsigned index;
    int rc;
};

static struct gw_lg_shared *sig_shared; /* for the SIGINT handler */

static void on_sigint(int sig)
{
    (void)sig;
    if (sig_shared)
        atomic_store_explicit(&sig_shared->stop, true, memory_order_relaxed);
}

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    a->rc = gw_lg_worker_run(a->cfg, a->sh, a->index);
    if (a->rc < 0)
        fprintf(stderr, "conduit-loadgen: worker %u could not start: %s\n", a->index,
                strerror(-a->rc));
    return NULL;
}

/*
 * Runs workers first .. first+n-1 on their own threads and joins them.
 * Returns 0, or -1 when one could not be started or failed to start itself.
 */
static int run_threads(const struct gw_lg_config *cfg, struct gw_lg_shared *sh, unsigned first,
                       unsigned n)
{
    struct thread_arg *args = calloc(n, sizeof(*args));
    pthread_t *tids = calloc(n, sizeof(*tids));
    int rc = 0;
    if (!args || !tids) {
        for (unsigned j = 0; j < n; j++)
            atomic_store_explicit(&sh->stats[first + j].finished, true, memory_order_release);
        rc = -1;
        goto out;
    }
    unsigned started = 0;
    for (unsigned i = 0; i < n; i++) {
        args[i] = (struct thread_arg){.cfg = cfg, .sh = sh, .index = first + i};
        int e = pthread_create(&tids[i], NULL, thread_main, &args[i]);
        if (e != 0) {
            fprintf(stderr, "conduit-loadgen: pthread_create: %s\n", strerror(e));
            atomic_store_explicit(&sh->stop, true, memory_order_relaxed);
            for (unsigned j = i; j < n; j++) /* never started: let the watch end */
                atomic_store_explicit(&sh->stats[first + j].finished, true, memory_order_release);
            rc = -1;
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
        if (args[i].rc < 0)
            rc = -1;
    }
out:
    free(tids);
    free(args);
    return rc;
}

struct runner {
    const struct gw_lg_config *cfg;
    struct gw_lg_shared *sh;
    int rc;
};

static void *runner_main(void *p)
{
    struct runner *r = p;
    r->rc = run_threads(r->cfg, r->sh, 0, r->cfg->threads);
    return NULL;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Acquire pairs with each worker's release of `finished`: its slot may then be read. */
static bool all_finished(const struct gw_lg_shared *sh)
{
    for (unsigned i = 0; i < sh->nworkers; i++)
        if (!atomic_load_explicit(&sh->stats[i].finished, memory_order_acquire))
            return false;
    return true;
}

/* One line a second on stderr while the run goes on. */
static void progress(const struct gw_lg_config *cfg, const struct gw_lg_shared *sh, uint64_t now,
                     uint64_t *last_done, uint64_t *last_ns)
{
    uint64_t done = 0, failed = 0, socks = 0;
    for (unsigned i = 0; i < sh->nworkers; i++) {
        done += atomic_load_explicit(&sh->stats[i].live_done, memory_order_relaxed);
        failed += atomic_load_explicit(&sh->stats[i].live_failed, memory_order_relaxed);
        socks += atomic_load_explicit(&sh->stats[i].live_conns, memory_order_relaxed);
    }
    double el = now > cfg->t0_ns ? (double)(now - cfg->t0_ns) / 1e9 : 0.0;
    double dt = (double)(now - *last_ns) / 1e9;
    double rate = dt > 0 ? (double)(done - *last_done) / dt : 0.0;
    if (cfg->mode == GW_LG_MODE_STREAM)
        fprintf(stderr,
                "[%7.1fs] sockets %-6llu open-sessions %-6lld done %-9llu failed %-6llu"
                " (%.0f/s)\n",
                el, (unsigned long long)socks,
                (long long)atomic_load_explicit(&sh->open_now, memory_order_relaxed),
                (unsigned long long)done, (unsigned long long)failed, rate);
    else
        fprintf(stderr, "[%7.1fs] sockets %-6llu done %-10llu failed %-6llu (%.0f/s)\n", el,
                (unsigned long long)socks, (unsigned long long)done, (unsigned long long)failed,
                rate);
    *last_done = done;
    *last_ns = now;
}

/* The parent's watch: progress lines until every worker is done (or its process died). */
static void watch(const struct gw_lg_config *cfg, struct gw_lg_shared *sh, pid_t *pids,
                  unsigned npids, int *child_fail)
{
    uint64_t last_done = 0, last_ns = cfg->t0_ns, next = cfg->t0_ns + 1000000000ull;
    unsigned alive = npids;
    for (;;) {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
        for (unsigned i = 0; i < npids; i++) {
            int status;
            if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) != pids[i])
                continue;
            pids[i] = 0;
            alive--;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                *child_fail = 1;
                if (WIFSIGNALED(status))
                    fprintf(stderr, "conduit-loadgen: worker process %u died of signal %d\n", i,
                            WTERMSIG(status));
                else
                    fprintf(stderr, "conduit-loadgen: worker process %u exited %d\n", i,
                            WEXITSTATUS(status));
            }
        }
        if (all_finished(sh) || (npids > 0 && alive == 0))
            break;
        uint64_t now = mono_ns();
        if (!cfg->quiet && now >= next) {
            progress(cfg, sh, now, &last_done, &last_ns);
            next += 1000000000ull;
        }
    }
}

/* What the flags say beyond the config itself. */
struct flags {
    const char *hdrs[MAX_USER_HEADERS];
    unsigned nhdrs;
    const char *body_file;
    const char *body_json;
};

/* Parses and checks the command line into *cfg and *fl; exits 2 on a bad one. */
static void parse_flags(int argc, char **argv, struct gw_lg_config *cfg, struct flags *fl)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},
        {"path", required_argument, NULL, 'p'},
        {"header", required_argument, NULL, 'H'},
        {"body", required_argument, NULL, 'b'},
        {"body-json", required_argument, NULL, 'B'},
        {"model", required_argument, NULL, 'm'},
        {"mode", required_argument, NULL, 'M'},
        {"conns", required_argument, NULL, 'c'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"threads", required_argument, NULL, 'T'},
        {"procs", required_argument, NULL, 'P'},
        {"sessions", required_argument, NULL, 'n'},
        {"events", required_argument, NULL, 'e'},
        {"interval-ms", required_argument, NULL, 'i'},
        {"ramp-s", required_argument, NULL, 'R'},
        {"timeout-s", required_argument, NULL, 'o'},
        {"repeat", no_argument, NULL, 'x'},
        {"json", required_argument, NULL, 'j'},
        {"label", required_argument, NULL, 'l'},
        {"quiet", no_argument, NULL, 'q'},
        {"source-ips", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool have_conns = false, have_duration = false, have_src = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            cfg->target = optarg;
            break;
        case 'p':
            if (optarg[0] != '/' || strpbrk(optarg, " \r\n"))
                usage_error("--path: want an origin-form path like /v1/chat/completions");
            cfg->path = optarg;
            break;
        case 'H':
            if (fl->nhdrs == MAX_USER_HEADERS)
                usage_error("--header: at most %d", MAX_USER_HEADERS);
            if (!strchr(optarg, ':') || strpbrk(optarg, "\r\n") || optarg[0] == ':')
                usage_error("--header: want 'Name: value' on one line, got '%s'", optarg);
            fl->hdrs[fl->nhdrs++] = optarg;
            break;
        case 'b':
            fl->body_file = optarg;
            break;
        case 'B':
            fl->body_json = optarg;
            break;
        case 'm':
            cfg->model = optarg;
            break;
        case 'M':
            if (strcmp(optarg, "closed") == 0)
                cfg->mode = GW_LG_MODE_CLOSED;
            else if (strcmp(optarg, "open") == 0)
                cfg->mode = GW_LG_MODE_OPEN;
            else if (strcmp(optarg, "stream") == 0)
                cfg->mode = GW_LG_MODE_STREAM;
            else
                usage_error("--mode: want closed, open or stream");
            break;
        case 'c':
            cfg->conns = (unsigned)parse_ulong("--conns", optarg, 1, 1000000);
            have_conns = true;
            break;
        case 'r':
            cfg->rate = parse_double("--rate", optarg, 0.001, 1e8);
            break;
        case 'd':
            cfg->duration_s = parse_double("--duration", optarg, 0.001, 86400);
            have_duration = true;
            break;
        case 'w':
            cfg->warmup_s = parse_double("--warmup", optarg, 0, 86400);
            break;
        case 'T':
            cfg->threads = (unsigned)parse_ulong("--threads", optarg, 1, 256);
            break;
        case 'P':
            cfg->procs = (unsigned)parse_ulong("--procs", optarg, 1, 64);
            break;
        case 'n':
            cfg->sessions = (unsigned)parse_ulong("--sessions", optarg, 1, 1000000);
            break;
        case 'e':
            cfg->events = (unsigned)parse_ulong("--events", optarg, 0, 1000000);
            break;
        case 'i':
            cfg->interval_ms = (unsigned)parse_ulong("--interval-ms", optarg, 0, 3600000);
            break;
        case 'R':
            cfg->ramp_s = parse_double("--ramp-s", optarg, 0, 86400);
            break;
        case 'o':
            cfg->timeout_s = parse_double("--timeout-s", optarg, 0.001, 86400);
            break;
        case 'x':
            cfg->repeat = true;
            break;
        case 'j':
            cfg->json_path = optarg;
            break;
        case 'l':
            cfg->label = optarg;
            break;
        case 'q':
            cfg->quiet = true;
            break;
        case 's':
            cfg->src_ips = (unsigned)parse_ulong("--source-ips", optarg, 0, 65536);
            have_src = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (!cfg->target)
        usage_error("--target HOST:PORT is required");
    if (parse_target(cfg->target, &cfg->addr, &cfg->addrlen) < 0)
        usage_error("--target: want a numeric IPv4 or [IPv6] address and a port, got '%s'",
                    cfg->target);
    bool loopback4 =
        cfg->addr.ss_family == AF_INET &&
        (ntohl(((const struct sockaddr_in *)&cfg->addr)->sin_addr.s_addr) >> 24) == 127;
    if (!have_src)
        cfg->src_ips = loopback4 ? DEFAULT_SOURCE_IPS : 0;
    else if (cfg->src_ips > 0 && !loopback4)
        usage_error("--source-ips: only for an IPv4 loopback (127.x.x.x) target");
    if (fl->body_file && fl->body_json)
        usage_error("--body and --body-json exclude each other");
    if (cfg->mode == GW_LG_MODE_OPEN && cfg->rate <= 0)
        usage_error("--mode open needs --rate");
    if (cfg->mode != GW_LG_MODE_OPEN && cfg->rate > 0)
        usage_error("--rate is for --mode open");
    if (cfg->mode != GW_LG_MODE_STREAM && cfg->repeat)
        usage_error("--repeat is for --mode stream");
    if (cfg->mode == GW_LG_MODE_STREAM && cfg->repeat) {
        if (!have_conns)
            cfg->conns = cfg->sessions;
    } else if (cfg->mode != GW_LG_MODE_STREAM && !have_conns) {
        cfg->conns = 64;
    }
    if (cfg->mode == GW_LG_MODE_STREAM && !cfg->repeat) {
        if (!have_duration)
            cfg->duration_s = 0; /* no cap: run until every session has ended */
        cfg->warmup_s = 0;
    } else if (!have_duration) {
        cfg->duration_s = 10;
    }
    if (cfg->procs * cfg->threads > GW_LG_MAX_WORKERS)
        usage_error("--procs * --threads: at most %d", GW_LG_MAX_WORKERS);
}

/* Builds the body the flags describe, then cfg->req around it. Exits on failure. */
static void make_request(struct gw_lg_config *cfg, const struct flags *fl)
{
    size_t body_len = 0;
    char *body;
    if (fl->body_file) {
        body = read_file(fl->body_file, &body_len);
        if (!body) {
            fprintf(stderr, "conduit-loadgen: --body %s: cannot read it (or over 64 MiB)\n",
                    fl->body_file);
            exit(1);
        }
    } else if (fl->body_json) {
        struct sbuf b = {0};
        sb_str(&b, fl->body_json);
        body = b.p;
        body_len = b.len;
    } else {
        body = body_default(cfg->model, &body_len);
        if (!body)
            usage_error("--model: too long");
    }
    if (cfg->model && (fl->body_file || fl->body_json)) {
        char *val = json_string(cfg->model);
        if (!val || body_put(&body, &body_len, "model", val) < 0)
            usage_error("--model: the body is not a JSON object");
        free(val);
    }
    if (cfg->mode == GW_LG_MODE_STREAM && stream_body(&body, &body_len, cfg) < 0)
        usage_error("--mode stream: the body is not a JSON object");
    build_request(cfg, fl->hdrs, fl->nhdrs, body, body_len);
    free(body);
}

/* Raises the open-file soft limit to the hard one; exits 2 when a process's share won't fit. */
static void check_open_files(const struct gw_lg_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    unsigned total = cfg->mode == GW_LG_MODE_STREAM && !cfg->repeat ? cfg->sessions : cfg->conns;
    unsigned per_proc = gw_lg_share(total, cfg->procs, 0);
    rlim_t room =
        rl.rlim_cur > cfg->threads + FD_RESERVE ? rl.rlim_cur - cfg->threads - FD_RESERVE : 1;
    if ((rlim_t)per_proc > room)
        usage_error("%u connections per process do not fit in the open-file limit (%llu); "
                    "use --procs %llu or more",
                    per_proc, (unsigned long long)rl.rlim_cur,
                    (unsigned long long)((total + room - 1) / room));
}

/*
 * Runs every worker, in this process's threads (--procs 1) or in forked
 * children, watching until all are done. Returns 0, or -1 when a worker
 * could not start or a child died, so the figures are partial.
 */
static int run_workers(const struct gw_lg_config *cfg, struct gw_lg_shared *sh)
{
    int failed = 0;
    if (cfg->procs == 1) {
        struct runner r = {.cfg = cfg, .sh = sh};
        pthread_t tid;
        int e = pthread_create(&tid, NULL, runner_main, &r);
        if (e != 0) {
            fprintf(stderr, "conduit-loadgen: pthread_create: %s\n", strerror(e));
            return -1;
        }
        watch(cfg, sh, NULL, 0, &failed);
        pthread_join(tid, NULL);
        return r.rc < 0 || failed ? -1 : 0;
    }
    pid_t pids[64];
    unsigned forked = 0;
    fflush(stdout);
    fflush(stderr);
    for (unsigned p = 0; p < cfg->procs; p++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The terminal's SIGINT reaches the whole group; only the parent acts on it. */
            signal(SIGINT, SIG_IGN);
            signal(SIGTERM, SIG_IGN);
            int rc = run_threads(cfg, sh, p * cfg->threads, cfg->threads);
            _exit(rc < 0 ? 1 : 0);
        }
        if (pid < 0) {
            fprintf(stderr, "conduit-loadgen: fork: %s\n", strerror(errno));
            atomic_store_explicit(&sh->stop, true, memory_order_relaxed);
            failed = 1;
            for (unsigned w = p * cfg->threads; w < sh->nworkers; w++)
                atomic_store_explicit(&sh->stats[w].finished, true, memory_order_release);
            break;
        }
        pids[forked++] = pid;
    }
    watch(cfg, sh, pids, forked, &failed);
    for (unsigned i = 0; i < forked; i++)
        if (pids[i] > 0)
            waitpid(pids[i], NULL, 0);
    return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct gw_lg_config cfg = {
        .mode = GW_LG_MODE_CLOSED,
        .path = "/v1/chat/completions",
        .threads = 1,
        .procs = 1,
        .sessions = 100,
        .events = 20,
        .interval_ms = 500,
        .timeout_s = 30,
    };
    struct flags fl = {0};
    parse_flags(argc, argv, &cfg, &fl);
    make_request(&cfg, &fl);
    check_open_files(&cfg);

    unsigned nworkers = cfg.procs * cfg.threads;
    size_t shsize = sizeof(struct gw_lg_shared) + (size_t)nworkers * sizeof(struct gw_lg_stats);
    struct gw_lg_shared *sh =
        mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct gw_lg_stats *tot = calloc(1, sizeof(*tot));
    if (sh == MAP_FAILED || !tot) {
        fputs("conduit-loadgen: out of memory\n", stderr);
        return 1;
    }
    sh->nworkers = nworkers;
    sig_shared = sh;
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    cfg.t0_ns = mono_ns() + START_DELAY_NS;
    int rc = 0;
    if (run_workers(&cfg, sh) < 0) {
        fputs("conduit-loadgen: some workers did not run to the end; figures are partial\n",
              stderr);
        rc = 1;
    }
    gw_lg_report_merge(sh, tot);
    gw_lg_report_print(stdout, &cfg, sh, tot);
    fflush(stdout);
    if (cfg.json_path) {
        int e = gw_lg_report_json(cfg.json_path, &cfg, sh, tot);
        if (e < 0) {
            fprintf(stderr, "conduit-loadgen: --json %s: %s\n", cfg.json_path, strerror(-e));
            rc = 1;
        }
    }
    free(tot);
    free(cfg.req);
    munmap(sh, shsize);
    return rc;
}
