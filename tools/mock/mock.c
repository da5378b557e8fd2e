/*
 * tools/mock/mock.c — conduit-mock start-up: the command line, listening
 * sockets (one per worker, SO_REUSEPORT), TLS credentials, the worker
 * threads, and a clean exit (status 0) on SIGTERM or SIGINT.
 *
 *   conduit-mock --listen HOST:PORT [--tls-listen HOST:PORT --cert PEM --key PEM]
 *                [--api-key KEY] [--threads N] [--quiet]
 *                [--aws-access-key-id ID --aws-secret-access-key SECRET]
 *
 * Once every socket listens it prints "conduit-mock listening http=PORT
 * [tls=PORT]" on stdout and flushes, which tests wait for. PORT 0 picks a
 * free port and the line reports it. See tools/mock/README.md.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "net/tls.h"
#include "tools/mock/mock.h"

#define MAX_THREADS 256
#define LISTEN_BACKLOG 4096

struct gw_mock_global gw_mock;

struct opts {
    const char *listen;
    const char *tls_listen;
    const char *cert;
    const char *key;
    const char *api_key;
    const char *aws_key_id;
    const char *aws_secret;
    unsigned threads;
    bool quiet;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: conduit-mock --listen HOST:PORT [--tls-listen HOST:PORT --cert PEM --key "
               "PEM]\n"
               "                    [--api-key KEY] [--threads N] [--quiet]\n"
               "                    [--aws-access-key-id ID --aws-secret-access-key SECRET]\n");
}

/* Parses argv into *o. Returns 0, 1 for --help, or -1 after printing why not. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"tls-listen", required_argument, NULL, 't'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"api-key", required_argument, NULL, 'a'},
        {"threads", required_argument, NULL, 'n'},
        {"aws-access-key-id", required_argument, NULL, 'i'},
        {"aws-secret-access-key", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->threads = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            o->listen = optarg;
            break;
        case 't':
            o->tls_listen = optarg;
            break;
        case 'c':
            o->cert = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'a':
            o->api_key = optarg;
            break;
        case 'i':
            o->aws_key_id = optarg;
            break;
        case 's':
            o->aws_secret = optarg;
            break;
        case 'n': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 1 || v > MAX_THREADS) {
                fprintf(stderr, "conduit-mock: --threads must be 1..%d\n", MAX_THREADS);
                return -1;
            }
            o->threads = (unsigned)v;
            break;
        }
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "conduit-mock: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    if (!o->listen) {
        fprintf(stderr, "conduit-mock: --listen is required\n");
        usage(stderr);
        return -1;
    }
    if (o->tls_listen && (!o->cert || !o->key)) {
        fprintf(stderr, "conduit-mock: --tls-listen needs --cert and --key\n");
        return -1;
    }
    if (!o->aws_key_id != !o->aws_secret ||
        (o->aws_key_id && (!*o->aws_key_id || !*o->aws_secret))) {
        fprintf(stderr, "conduit-mock: --aws-access-key-id and --aws-secret-access-key go "
                        "together and must not be empty\n");
        return -1;
    }
    if (o->api_key && !*o->api_key) {
        fprintf(stderr, "conduit-mock: --api-key must not be empty\n");
        return -1;
    }
    return 0;
}

/* Resolves "HOST:PORT" or "[V6]:PORT" (numeric or names: start-up only, may block). */
static int resolve(const char *spec, struct sockaddr_storage *ss, socklen_t *slen, char *err,
                   size_t errlen)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        snprintf(err, errlen, "'%s' is not HOST:PORT", spec);
        return -1;
    }
    size_t hlen = (size_t)(colon - spec);
    const char *h = spec;
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host)) {
        snprintf(err, errlen, "host in '%s' is too long", spec);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "'%s': %s", spec, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *slen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static unsigned get_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/*
 * Opens n listening sockets on one address, all with SO_REUSEPORT so the
 * kernel spreads connections over the workers. SO_REUSEPORT would also let
 * us share the port with a stale process of the same user, silently: a
 * probe bind without it first proves the port is free (and resolves port 0).
 * Returns the port, or -1 with err filled; fds[] are closed on failure.
 */
static int open_listeners(const char *spec, unsigned n, int *fds, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t slen;
    int one = 1;
    for (unsigned i = 0; i < n; i++)
        fds[i] = -1;
    if (resolve(spec, &ss, &slen, err, errlen) < 0)
        return -1;
    int probe = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        goto fail_errno;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(probe, (struct sockaddr *)&ss, slen) < 0) {
        close(probe);
        goto fail_errno;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(probe, (struct sockaddr *)&bound, &blen) < 0) {
        close(probe);
        goto fail_errno;
    }
    close(probe);
    unsigned port = get_port(&bound);
    set_port(&ss, port);
    for (unsigned i = 0; i < n; i++) {
        fds[i] = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fds[i] < 0)
            goto fail_errno;
        if (setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            setsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
            bind(fds[i], (struct sockaddr *)&ss, slen) < 0 || listen(fds[i], LISTEN_BACKLOG) < 0)
            goto fail_errno;
    }
    return (int)port;
fail_errno:
    snprintf(err, errlen, "%s: %s", spec, strerror(errno));
    for (unsigned i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
    return -1;
}

/* 20,000 connections need more descriptors than the usual soft limit. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    int status = 1;
    char err[512];
    int *http_fds = NULL, *tls_fds = NULL;
    struct gw_tls_creds *creds = NULL;
    unsigned started = 0, inited = 0;
    int http_port = -1, tls_port = -1;

    gw_mock.api_key = o.api_key;
    gw_mock.aws_key_id = o.aws_key_id;
    gw_mock.aws_secret = o.aws_secret;
    gw_mock.quiet = o.quiet;
    gw_mock.nworkers = o.threads;
    atomic_init(&gw_mock.stop, false);
    raise_nofile();

    /* Workers inherit this mask; only the main thread takes the signals, via sigwait. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (o.tls_listen) {
        creds = gw_tls_creds_load(o.cert, o.key, err, sizeof(err));
        if (!creds) {
            fprintf(stderr, "conduit-mock: %s\n", err);
            goto out;
        }
        gw_mock.creds = creds;
    }

    http_fds = calloc(o.threads, sizeof(int));
    tls_fds = calloc(o.threads, sizeof(int));
    /* aligned_alloc: the workers' shared blocks are cache-line aligned. */
    size_t wsize = o.threads * sizeof(struct gw_mock_worker);
    gw_mock.workers = aligned_alloc(alignof(struct gw_mock_worker), wsize);
    if (!http_fds || !tls_fds || !gw_mock.workers) {
        fprintf(stderr, "conduit-mock: out of memory\n");
        goto out;
    }
    memset(gw_mock.workers, 0, wsize);
    for (unsigned i = 0; i < o.threads; i++)
        tls_fds[i] = -1;

    http_port = open_listeners(o.listen, o.threads, http_fds, err, sizeof(err));
    if (http_port < 0) {
        fprintf(stderr, "conduit-mock: listen %s\n", err);
        goto out;
    }
    if (o.tls_listen) {
        tls_port = open_listeners(o.tls_listen, o.threads, tls_fds, err, sizeof(err));
        if (tls_port < 0) {
            fprintf(stderr, "conduit-mock: tls-listen %s\n", err);
            goto out;
        }
    }

    for (; inited < o.threads; inited++) {
        struct gw_mock_worker *w = &gw_mock.workers[inited];
        /* The worker owns its listeners from here on, success or not. */
        rc = gw_mock_worker_init(w, inited, http_fds[inited], tls_fds[inited]);
        http_fds[inited] = tls_fds[inited] = -1;
        if (rc < 0) {
            fprintf(stderr, "conduit-mock: worker %u: %s\n", inited, strerror(-rc));
            inited++;
            goto out;
        }
    }
    for (; started < o.threads; started++) {
        struct gw_mock_worker *w = &gw_mock.workers[started];
        rc = pthread_create(&w->thread, NULL, gw_mock_worker_main, w);
        if (rc != 0) {
            fprintf(stderr, "conduit-mock: starting worker %u: %s\n", started, strerror(rc));
            goto out;
        }
    }

    if (tls_port >= 0)
        printf("conduit-mock listening http=%d tls=%d\n", http_port, tls_port);
    else
        printf("conduit-mock listening http=%d\n", http_port);
    fflush(stdout);
    if (!o.quiet)
        fprintf(stderr, "conduit-mock: %u worker thread%s%s%s\n", o.threads,
                o.threads == 1 ? "" : "s", o.api_key ? ", API key required" : "",
                o.tls_listen ? ", TLS on" : "");

    int sig = 0;
    sigwait(&sigs, &sig);
    if (!o.quiet)
        fprintf(stderr, "conduit-mock: %s, exiting\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;

out:
    atomic_store_explicit(&gw_mock.stop, true, memory_order_release);
    for (unsigned i = 0; i < started; i++)
        gw_mock_worker_wake(&gw_mock.workers[i]);
    for (unsigned i = 0; i < started; i++)
        pthread_join(gw_mock.workers[i].thread, NULL);
    for (unsigned i = 0; i < inited; i++)
        gw_mock_worker_destroy(&gw_mock.workers[i]);
    for (unsigned i = 0; http_fds && tls_fds && i < o.threads; i++) {
        if (http_fds[i] >= 0)
            close(http_fds[i]);
        if (tls_fds[i] >= 0)
            close(tls_fds[i]);
    }
    free(gw_mock.workers);
    gw_mock.workers = NULL;
    free(http_fds);
    free(tls_fds);
    if (creds)
        gw_tls_creds_free(creds);
    return status;
}
