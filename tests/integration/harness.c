/*
 * tests/integration/harness.c — processes, HTTP client, SSE reader and JSON
 * getter for the integration suites. See harness.h for the contracts.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/json.h"
#include "core/span.h"
#include "net/http1.h"
#include "core/sse.h"

#include "harness.h"

struct h_ctx H;

#define MAX_RESP_HEADERS 128

/* ---- time ---- */

double h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void h_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int h_ms_left(double deadline)
{
    double left = deadline - h_now_ms();
    if (left <= 0)
        return 0;
    return (int)left + 1;
}

long h_recv_before(int fd, void *dst, size_t cap, double deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ms = h_ms_left(deadline);
        if (ms == 0)
            return -ETIMEDOUT;
        int pr = poll(&pfd, 1, ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return -errno;
        if (pr == 0)
            return -ETIMEDOUT;
        ssize_t r = recv(fd, dst, cap, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            return errno == ECONNRESET ? 0 : -errno;
        return (long)r;
    }
}

/* ---- small owned buffer ---- */

static void buf_reserve(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    char *np = realloc(*p, ncap);
    cr_assert(np != NULL, "out of memory");
    *p = np;
    *cap = ncap;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    cr_assert(d != NULL, "out of memory");
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- files ---- */

char *h_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *p = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        buf_reserve(&p, &cap, n + 4096 + 1);
        ssize_t r = read(fd, p + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf_reserve(&p, &cap, n + 1);
    p[n] = '\0';
    if (len)
        *len = n;
    return p;
}

static void write_file_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX + 8];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_assert(n > 0 && (size_t)n < sizeof(tmp));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "open %s: %s", tmp, strerror(errno));
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        cr_assert(w > 0, "write %s: %s", tmp, strerror(errno));
        off += (size_t)w;
    }
    cr_assert(fsync(fd) == 0);
    close(fd);
    cr_assert(rename(tmp, path) == 0, "rename %s: %s", tmp, strerror(errno));
}

static void path_join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    cr_assert(n > 0 && n < PATH_MAX, "path too long");
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0; /* best effort: go on past what cannot be removed */
}

/*
 * Removes dir and everything under it (the store's usage log folders, a
 * second instance's files), children first, without following symlinks.
 */
static void remove_dir(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- processes ---- */

/*
 * A port is chosen before whoever uses it binds it, so the kernel may hand
 * the same free port out twice (conduit's and the mock's, say): each test
 * process remembers what it gave out and never gives it again.
 */
int h_free_port(void)
{
    static int given[64];
    static size_t ngiven, next;
    for (int attempt = 0; attempt < 50; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert(fd >= 0, "socket: %s", strerror(errno));
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind: %s", strerror(errno));
        socklen_t al = sizeof(a);
        cr_assert(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
        close(fd);
        int port = ntohs(a.sin_port);
        bool seen = false;
        for (size_t i = 0; i < ngiven; i++)
            seen |= given[i] == port;
        if (seen)
            continue;
        /* The last 64 given are remembered; older ones are long bound or gone. */
        given[next++ % 64] = port;
        if (ngiven < 64)
            ngiven++;
        return port;
    }
    cr_assert_fail("no free loopback port that this test has not used already");
    return -1;
}

/*
 * The child asks for SIGKILL when its parent dies, and checks the parent did
 * not die before it asked (the classic race).
 */
pid_t h_spawn(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid > 0)
        return pid;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(126);
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int err = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in < 0 || out < 0 || err < 0)
        _exit(126);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(126);
    /* Criterion may block signals in the test process; the child starts clean. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    execv(argv[0], argv);
    _exit(127);
}

/* Reaps pid if it exited. Returns true when it did (status filled). */
static bool reap(pid_t pid, int *status)
{
    int st;
    pid_t r;
    do {
        r = waitpid(pid, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid || (r < 0 && errno == ECHILD)) {
        if (status)
            *status = r == pid ? st : 0;
        return true;
    }
    return false;
}

static bool wait_pid(pid_t pid, int timeout_ms, int *status)
{
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        if (reap(pid, status))
            return true;
        if (h_now_ms() >= deadline)
            return false;
        h_sleep_ms(10);
    }
}

static void stop_pid(pid_t pid, int grace_ms)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    if (!wait_pid(pid, grace_ms, NULL)) {
        kill(pid, SIGKILL);
        wait_pid(pid, 5000, NULL);
    }
}

/*
 * A test killed by Criterion's timeout never runs its teardown; its children
 * die with it, but its directory stays. Directories are named after the test
 * process, so the next setup removes those whose process is gone.
 */
static void remove_stale_dirs(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        char rest[32];
        if (sscanf(e->d_name, "conduit-int-%ld-%31s", &pid, rest) != 2 || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char p[PATH_MAX];
        if (snprintf(p, sizeof(p), "%s/%s", tmp, e->d_name) < (int)sizeof(p))
            remove_dir(p);
    }
    closedir(d);
}

void h_setup(void)
{
    memset(&H, 0, sizeof(H));
    signal(SIGPIPE, SIG_IGN);
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    remove_stale_dirs(tmp);
    int n = snprintf(H.dir, sizeof(H.dir), "%s/conduit-int-%ld-XXXXXX", tmp, (long)getpid());
    cr_assert(n > 0 && (size_t)n < sizeof(H.dir));
    cr_assert(mkdtemp(H.dir) != NULL, "mkdtemp: %s", strerror(errno));
    path_join(H.cfg_path, H.dir, "conduit.yaml");
    path_join(H.out_path, H.dir, "conduit.out");
    path_join(H.err_path, H.dir, "conduit.err");
    H.gw_port = h_free_port();
}

/* Shows the tail of a log file on our stderr: ctest prints it when the test fails. */
static void dump_tail(const char *what, const char *path)
{
    size_t len;
    char *s = h_read_file(path, &len);
    if (s && len > 0) {
        size_t from = len > 3000 ? len - 3000 : 0;
        fprintf(stderr, "---- %s (%s, last %zu bytes) ----\n%s\n", what, path, len - from,
                s + from);
    }
    free(s);
}

/* True when a sanitizer (ASan, LSan, UBSan) reported something in that log. */
static bool sanitizer_reported(const char *path)
{
    char *s = h_read_file(path, NULL);
    bool found = s && (strstr(s, "ERROR: AddressSanitizer") || strstr(s, "ERROR: LeakSanitizer") ||
                       strstr(s, "runtime error:"));
    free(s);
    return found;
}

void h_finish(void)
{
    if (H.gw_pid > 0) {
        h_gw_signal(SIGTERM);
        cr_assert_eq(h_gw_wait_exit(15000), 0, "conduit still running 15 s after SIGTERM");
        cr_assert(WIFEXITED(H.gw_exit_status) && WEXITSTATUS(H.gw_exit_status) == 0,
                  "conduit stopped with status 0x%x, want exit 0", H.gw_exit_status);
    }
    if (H.mock_pid > 0) {
        int st = 0;
        kill(H.mock_pid, SIGTERM);
        bool gone = wait_pid(H.mock_pid, 5000, &st);
        if (gone)
            H.mock_pid = 0;
        cr_assert(gone, "the mock still running 5 s after SIGTERM");
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the mock stopped with status 0x%x", st);
    }
    char mock_err[PATH_MAX];
    path_join(mock_err, H.dir, "mock.err");
    /* The teardown shows the reports. */
    cr_assert(!sanitizer_reported(H.err_path), "sanitizer report in conduit's stderr");
    cr_assert(!sanitizer_reported(mock_err), "sanitizer report in the mock's stderr");
}

void h_teardown(void)
{
    /* A graceful stop, so a sanitizer build gets to run its exit-time leak check. */
    if (H.gw_pid > 0) {
        stop_pid(H.gw_pid, 5000);
        H.gw_pid = 0;
    }
    if (H.mock_pid > 0) {
        stop_pid(H.mock_pid, 2000);
        H.mock_pid = 0;
    }
    if (H.dir[0]) {
        char mock_err[PATH_MAX];
        path_join(mock_err, H.dir, "mock.err");
        bool gw_bad = sanitizer_reported(H.err_path);
        bool mock_bad = sanitizer_reported(mock_err);
        if (getenv("GW_INT_VERBOSE") || gw_bad) {
            dump_tail("conduit stderr", H.err_path);
            dump_tail("conduit stdout", H.out_path);
        }
        if (mock_bad)
            dump_tail("mock stderr", mock_err);
        if (getenv("GW_INT_KEEP"))
            fprintf(stderr, "kept %s\n", H.dir);
        else
            remove_dir(H.dir);
        H.dir[0] = '\0';
    }
}

bool h_upstream_tls(void)
{
    const char *v = getenv(H_UPSTREAM_TLS_ENV);
    return v && *v && strcmp(v, "0") != 0;
}

void h_mock_start(const struct h_mock_opts *opts)
{
    static const struct h_mock_opts defaults = {0};
    struct h_mock_opts eff = opts ? *opts : defaults;
    if (h_upstream_tls())
        eff.tls = true;
    const struct h_mock_opts *o = &eff;
    char out_path[PATH_MAX], err_path[PATH_MAX];
    path_join(out_path, H.dir, "mock.out");
    path_join(err_path, H.dir, "mock.err");

    H.mock_port = h_free_port();
    char listen[64], tls_listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", H.mock_port);
    char cert[PATH_MAX], key[PATH_MAX];
    path_join(cert, GW_SOURCE_DIR, "tests/data/tls/server.pem");
    path_join(key, GW_SOURCE_DIR, "tests/data/tls/server.key");

    char *argv[24];
    size_t n = 0;
    argv[n++] = (char *)GW_MOCK_BIN;
    argv[n++] = (char *)"--listen";
    argv[n++] = listen;
    if (o->tls) {
        H.mock_tls_port = h_free_port();
        snprintf(tls_listen, sizeof(tls_listen), "127.0.0.1:%d", H.mock_tls_port);
        argv[n++] = (char *)"--tls-listen";
        argv[n++] = tls_listen;
        argv[n++] = (char *)"--cert";
        argv[n++] = cert;
        argv[n++] = (char *)"--key";
        argv[n++] = key;
    }
    if (o->api_key) {
        argv[n++] = (char *)"--api-key";
        argv[n++] = (char *)o->api_key;
    }
    if (o->aws_key_id) {
        argv[n++] = (char *)"--aws-access-key-id";
        argv[n++] = (char *)o->aws_key_id;
        argv[n++] = (char *)"--aws-secret-access-key";
        argv[n++] = (char *)o->aws_secret;
    }
    argv[n++] = (char *)"--quiet";
    argv[n] = NULL;

    H.mock_pid = h_spawn(argv, out_path, err_path);
    double deadline = h_now_ms() + H_READY_TIMEOUT_MS;
    for (;;) {
        char *out = h_read_file(out_path, NULL);
        bool up = out && strstr(out, "conduit-mock listening") && strchr(out, '\n');
        free(out);
        if (up)
            return;
        int st;
        if (reap(H.mock_pid, &st)) {
            H.mock_pid = 0;
            char *err = h_read_file(err_path, NULL);
            cr_assert_fail("mock exited (status 0x%x) before listening: %s", st, err ? err : "");
        }
        cr_assert(h_now_ms() < deadline, "mock did not report listening within %d ms",
                  H_READY_TIMEOUT_MS);
        h_sleep_ms(20);
    }
}

/*
 * The default config: one provider "mock" at the mock's http port (its TLS
 * port, with the test CA, when h_upstream_tls()), two client keys, a chat and
 * an embedding model. Tests add lines where the options say; block style so
 * inserted lines only need the right indent.
 */
void h_gw_config(const struct h_gw_opts *o)
{
    static const struct h_gw_opts defaults = {0};
    if (!o)
        o = &defaults;
    char base_url[256];
    char ca_line[PATH_MAX + 64] = "";
    if (o->mock_base_url) {
        snprintf(base_url, sizeof(base_url), "%s", o->mock_base_url);
    } else if (h_upstream_tls() && H.mock_pid > 0) {
        cr_assert(H.mock_tls_port > 0, "%s is set but the mock has no TLS port",
                  H_UPSTREAM_TLS_ENV);
        /* As test_tls.c does; the test certificate names localhost and 127.0.0.1. */
        snprintf(base_url, sizeof(base_url), "https://localhost:%d/v1", H.mock_tls_port);
        snprintf(ca_line, sizeof(ca_line), "    tls_ca_file: \"%s/tests/data/tls/ca.pem\"\n",
                 GW_SOURCE_DIR);
    } else {
        snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d/v1", H.mock_port);
    }
    const char *default_models = "  - name: " H_MODEL "\n"
                                 "    provider: mock\n"
                                 "    model: " H_UPSTREAM_MODEL "\n"
                                 "  - name: " H_EMBED_MODEL "\n"
                                 "    provider: mock\n"
                                 "    model: " H_UPSTREAM_EMBED_MODEL "\n";
    const char *default_keys = "  - name: demo\n"
                               "    key: \"" H_CLIENT_KEY "\"\n"
                               "  - name: other\n"
                               "    key: \"" H_OTHER_CLIENT_KEY "\"\n";
    char mock[PATH_MAX + 1024];
    int mn = snprintf(mock, sizeof(mock),
                      "  - name: mock\n"
                      "    type: openai\n"
                      "    base_url: \"%s\"\n"
                      "    api_key: \"" H_PROVIDER_KEY "\"\n"
                      "    connect_timeout: 2s\n"
                      "%s%s",
                      base_url, ca_line, o->mock_lines ? o->mock_lines : "");
    cr_assert(mn > 0 && (size_t)mn < sizeof(mock));
    size_t cap = 65536;
    char *y = malloc(cap);
    cr_assert(y != NULL);
    int n = snprintf(y, cap,
                     "# written by tests/integration/harness.c\n"
                     "server:\n"
                     "  listen: \"127.0.0.1:%d\"\n"
                     "  workers: %d\n"
                     "  drain_timeout: 10s\n"
                     "%s"
                     "keys:\n"
                     "%s"
                     "providers:\n"
                     "%s"
                     "%s"
                     "models:\n"
                     "%s"
                     "%s",
                     H.gw_port, o->workers ? o->workers : 2, o->server_lines ? o->server_lines : "",
                     o->key_items ? o->key_items : default_keys, o->no_mock_provider ? "" : mock,
                     o->provider_items ? o->provider_items : "",
                     o->model_items ? o->model_items : default_models,
                     o->extra_model_items ? o->extra_model_items : "");
    cr_assert(n > 0 && (size_t)n < cap, "config too long");
    write_file_atomic(H.cfg_path, y);
    free(y);
}

void h_gw_config_raw(const char *text)
{
    write_file_atomic(H.cfg_path, text);
}

static bool readyz_is(int want)
{
    struct h_resp r;
    int rc = h_do(H.gw_port, "GET", "/readyz", NULL, NULL, &r);
    bool ok = rc == 0 && r.status == want;
    if (rc == 0)
        h_resp_free(&r);
    return ok;
}

void h_gw_start(void)
{
    char *argv[] = {(char *)GW_CONDUIT_BIN, (char *)"-c", H.cfg_path, NULL};
    H.gw_pid = h_spawn(argv, H.out_path, H.err_path);
    double deadline = h_now_ms() + H_READY_TIMEOUT_MS;
    for (;;) {
        if (readyz_is(200))
            return;
        int st;
        if (reap(H.gw_pid, &st)) {
            H.gw_pid = 0;
            char *err = h_read_file(H.err_path, NULL);
            cr_assert_fail("conduit exited (status 0x%x) before ready; stderr:\n%s", st,
                           err ? err : "");
        }
        if (h_now_ms() >= deadline) {
            char *err = h_read_file(H.err_path, NULL);
            cr_assert_fail("conduit /readyz not 200 within %d ms; stderr:\n%s", H_READY_TIMEOUT_MS,
                           err ? err : "");
        }
        h_sleep_ms(50);
    }
}

void h_gw_start_with(const struct h_gw_opts *o)
{
    h_gw_config(o);
    h_gw_start();
}

void h_gw_signal(int sig)
{
    cr_assert(H.gw_pid > 0, "conduit is not running");
    cr_assert(kill(H.gw_pid, sig) == 0, "kill: %s", strerror(errno));
}

int h_gw_wait_exit(int timeout_ms)
{
    if (H.gw_pid <= 0)
        return 0;
    if (!wait_pid(H.gw_pid, timeout_ms, &H.gw_exit_status))
        return -ETIMEDOUT;
    H.gw_pid = 0;
    return 0;
}

bool h_gw_alive(void)
{
    if (H.gw_pid <= 0)
        return false;
    if (reap(H.gw_pid, &H.gw_exit_status)) {
        H.gw_pid = 0;
        return false;
    }
    return true;
}

long h_gw_rss_kb(void)
{
    if (H.gw_pid <= 0)
        return -1;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)H.gw_pid);
    char *s = h_read_file(path, NULL);
    if (!s)
        return -1;
    const char *p = strstr(s, "\nVmRSS:");
    long kb = p ? strtol(p + 8, NULL, 10) : -1;
    free(s);
    return kb;
}

char *h_log_find(const char *needle, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        char *s = h_read_file(H.out_path, NULL);
        char *line = s;
        while (line && *line) {
            char *nl = strchr(line, '\n');
            if (!nl)
                break; /* a line still being written */
            *nl = '\0';
            if (strstr(line, needle)) {
                char *copy = xstrndup(line, (size_t)(nl - line));
                free(s);
                return copy;
            }
            line = nl + 1;
        }
        free(s);
        if (h_now_ms() >= deadline)
            return NULL;
        h_sleep_ms(20);
    }
}

bool h_stderr_wait(const char *needle, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        char *s = h_read_file(H.err_path, NULL);
        bool found = s && strstr(s, needle);
        free(s);
        if (found)
            return true;
        if (h_now_ms() >= deadline)
            return false;
        h_sleep_ms(20);
    }
}

/* ---- HTTP/1.1 client ---- */

int h_conn_open(struct h_conn *c, int port)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Blocking connect on loopback either completes or is refused at once. */
    struct timeval tv = {H_IO_TIMEOUT_MS / 1000, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = -errno;
        close(c->fd);
        c->fd = -1;
        return e;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

void h_conn_close(struct h_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

int h_conn_send(struct h_conn *c, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int h_conn_send_str(struct h_conn *c, const char *s)
{
    return h_conn_send(c, s, strlen(s));
}

int h_send_request(struct h_conn *c, const char *method, const char *path,
                   const char *extra_headers, const char *body)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = 1024 + strlen(path) + (extra_headers ? strlen(extra_headers) : 0) + blen;
    char *msg = malloc(cap);
    cr_assert(msg != NULL);
    int n;
    if (body)
        n = snprintf(msg, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, extra_headers ? extra_headers : "", blen, body);
    else
        n = snprintf(msg, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", method, path,
                     extra_headers ? extra_headers : "");
    cr_assert(n > 0 && (size_t)n < cap);
    int rc = h_conn_send(c, msg, (size_t)n);
    free(msg);
    return rc;
}

/* Receives more bytes before deadline. Returns >0 bytes, 0 at EOF, -errno. */
static int conn_fill(struct h_conn *c, double deadline)
{
    if (c->eof)
        return 0;
    buf_reserve(&c->buf, &c->cap, c->len + 16384);
    long r = h_recv_before(c->fd, c->buf + c->len, c->cap - c->len, deadline);
    if (r == 0)
        c->eof = true;
    if (r > 0)
        c->len += (size_t)r;
    return (int)r;
}

static void conn_consume(struct h_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

void h_resp_free(struct h_resp *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

const char *h_resp_header(const struct h_resp *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

enum body_mode { BODY_NONE = 0, BODY_LENGTH, BODY_CHUNKED, BODY_EOF };

/*
 * Reads and parses one response head (skipping 1xx), copies it into r and
 * consumes it from the buffer. *mode and *remaining say how the body is framed.
 */
static int read_head(struct h_conn *c, struct h_resp *r, enum body_mode *mode, uint64_t *remaining,
                     double deadline)
{
    memset(r, 0, sizeof(*r));
    for (;;) {
        struct gw_http1_header hs[MAX_RESP_HEADERS];
        struct gw_http1_resp pr;
        int n = c->len ? gw_http1_parse_response(c->buf, c->len, &pr, hs, MAX_RESP_HEADERS) : -2;
        if (n == -1)
            return -EPROTO;
        if (n == -2) {
            int f = conn_fill(c, deadline);
            if (f < 0)
                return f;
            if (f == 0)
                return -ECONNRESET;
            continue;
        }
        if (pr.status >= 100 && pr.status < 200 && pr.status != 101) {
            conn_consume(c, (size_t)n);
            continue;
        }
        r->status = pr.status;
        r->keepalive = (pr.flags & GW_H1_F_KEEPALIVE) != 0;
        r->nheaders = pr.num_headers;
        r->headers = calloc(pr.num_headers ? pr.num_headers : 1, sizeof(*r->headers));
        cr_assert(r->headers != NULL);
        for (size_t i = 0; i < pr.num_headers; i++) {
            r->headers[i].name = xstrndup(hs[i].name.ptr, hs[i].name.len);
            r->headers[i].value = xstrndup(hs[i].value.ptr, hs[i].value.len);
        }
        if (pr.status == 204 || pr.status == 304) {
            *mode = BODY_NONE;
        } else if (pr.flags & GW_H1_F_CHUNKED) {
            *mode = BODY_CHUNKED;
        } else if (pr.flags & GW_H1_F_HAS_CL) {
            *mode = pr.content_length ? BODY_LENGTH : BODY_NONE;
            *remaining = pr.content_length;
        } else {
            *mode = BODY_EOF;
        }
        conn_consume(c, (size_t)n);
        return 0;
    }
}

/* Appends n bytes to the response body (kept NUL-terminated). */
static void body_append(struct h_resp *r, size_t *cap, const char *p, size_t n)
{
    buf_reserve(&r->body, cap, r->body_len + n + 1);
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

/*
 * Moves the body bytes buffered in c into r->body. Returns 1 when the body is
 * complete, 0 when more input is needed, -EPROTO on a chunked framing error.
 */
static int body_feed(struct h_conn *c, struct h_resp *r, size_t *cap, int mode, uint64_t *remaining,
                     struct gw_chunked *dec)
{
    switch (mode) {
    case BODY_NONE:
        return 1;
    case BODY_LENGTH: {
        size_t take = c->len < *remaining ? c->len : (size_t)*remaining;
        body_append(r, cap, c->buf, take);
        conn_consume(c, take);
        *remaining -= take;
        return *remaining == 0;
    }
    case BODY_CHUNKED: {
        if (c->len == 0)
            return 0;
        size_t n = c->len;
        ssize_t rc = gw_chunked_decode(dec, c->buf, &n);
        if (rc == -1)
            return -EPROTO;
        body_append(r, cap, c->buf, n);
        if (rc == -2) {
            c->len = 0;
            return 0;
        }
        memmove(c->buf, c->buf + n, (size_t)rc);
        c->len = (size_t)rc;
        return 1;
    }
    case BODY_EOF:
        body_append(r, cap, c->buf, c->len);
        c->len = 0;
        return c->eof;
    default:
        return -EPROTO;
    }
}

int h_read_response(struct h_conn *c, struct h_resp *r, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    enum body_mode mode = BODY_NONE;
    uint64_t remaining = 0;
    int rc = read_head(c, r, &mode, &remaining, deadline);
    if (rc < 0) {
        h_resp_free(r);
        return rc;
    }
    size_t cap = 0;
    struct gw_chunked dec;
    gw_chunked_init(&dec);
    body_append(r, &cap, "", 0);
    for (;;) {
        int done = body_feed(c, r, &cap, (int)mode, &remaining, &dec);
        if (done < 0) {
            rc = done;
            break;
        }
        if (done) {
            rc = 0;
            break;
        }
        int f = conn_fill(c, deadline);
        if (f < 0) {
            rc = f;
            break;
        }
        if (f == 0 && mode != BODY_EOF) {
            rc = -ECONNRESET;
            break;
        }
    }
    if (rc < 0)
        h_resp_free(r);
    return rc;
}

bool h_conn_wait_closed(struct h_conn *c, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    while (!c->eof) {
        int f = conn_fill(c, deadline);
        if (f == -ETIMEDOUT)
            return false;
        if (f < 0)
            return true;
    }
    return true;
}

int h_do(int port, const char *method, const char *path, const char *extra_headers,
         const char *body, struct h_resp *r)
{
    struct h_conn c;
    memset(r, 0, sizeof(*r));
    int rc = h_conn_open(&c, port);
    if (rc < 0)
        return rc;
    rc = h_send_request(&c, method, path, extra_headers, body);
    if (rc == 0)
        rc = h_read_response(&c, r, H_IO_TIMEOUT_MS);
    h_conn_close(&c);
    return rc;
}

int h_chat(const char *body, const char *extra_headers, struct h_resp *r)
{
    char hdrs[1024];
    int n = snprintf(hdrs, sizeof(hdrs), "Authorization: Bearer " H_CLIENT_KEY "\r\n%s",
                     extra_headers ? extra_headers : "");
    cr_assert(n > 0 && (size_t)n < sizeof(hdrs));
    return h_do(H.gw_port, "POST", "/v1/chat/completions", hdrs, body, r);
}

int h_mock_chat(const char *body, struct h_resp *r)
{
    return h_do(H.mock_port, "POST", "/v1/chat/completions", H_MOCK_AUTH, body, r);
}

char *h_chat_body(const char *model, bool stream, const char *extra)
{
    size_t cap = 256 + strlen(model) + (extra ? strlen(extra) : 0);
    char *b = malloc(cap);
    cr_assert(b != NULL);
    int n = snprintf(b, cap,
                     "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"Say hello\"}],\"stream\":%s%s%s}",
                     model, stream ? "true" : "false", extra ? "," : "", extra ? extra : "");
    cr_assert(n > 0 && (size_t)n < cap);
    return b;
}

/* ---- SSE ---- */

int h_stream_open(struct h_conn *c, struct h_stream *s, int timeout_ms)
{
    memset(s, 0, sizeof(*s));
    enum body_mode mode = BODY_NONE;
    int rc = read_head(c, &s->head, &mode, &s->_remaining, h_now_ms() + timeout_ms);
    if (rc < 0) {
        h_resp_free(&s->head);
        return rc;
    }
    s->_mode = (int)mode;
    gw_chunked_init(&s->_dec);
    return 0;
}

/* Frames one event out of the decoded body, if a whole one is there. */
static bool stream_take_event(struct h_stream *s)
{
    if (!s->head.body)
        return false;
    const char *p = s->head.body + s->_sse_off;
    size_t n = s->head.body_len - s->_sse_off;
    for (;;) {
        struct gw_sse_event ev;
        int used = gw_sse_next(p, n, &ev);
        if (used <= 0)
            return false;
        s->_sse_off += (size_t)used;
        p += used;
        n -= (size_t)used;
        if (!ev.has_fields || ev.data_lines == 0)
            continue; /* comments and keep-alives are not events for the tests */
        size_t cap = ev.raw.len + 1;
        char *data = malloc(cap);
        cr_assert(data != NULL);
        long dl = gw_sse_data_join(&ev, data, cap);
        cr_assert(dl >= 0);
        data[dl] = '\0';
        if (s->nevs == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->evs = realloc(s->evs, s->cap * sizeof(*s->evs));
            cr_assert(s->evs != NULL);
        }
        s->evs[s->nevs].data = data;
        s->evs[s->nevs].t_ms = h_now_ms();
        s->nevs++;
        if (strcmp(data, "[DONE]") == 0)
            s->saw_done = true;
        return true;
    }
}

int h_stream_next(struct h_conn *c, struct h_stream *s, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        if (stream_take_event(s))
            return 1;
        if (s->complete)
            return 0;
        int done = body_feed(c, &s->head, &s->_body_cap, s->_mode, &s->_remaining, &s->_dec);
        if (done < 0)
            return done;
        if (done) {
            s->complete = true;
            continue;
        }
        if (stream_take_event(s))
            return 1;
        int f = conn_fill(c, deadline);
        if (f < 0)
            return f;
        if (f == 0 && s->_mode != BODY_EOF)
            return -ECONNRESET;
    }
}

int h_stream_read_all(struct h_conn *c, struct h_stream *s, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        int ms = h_ms_left(deadline);
        if (ms == 0)
            return -ETIMEDOUT;
        int rc = h_stream_next(c, s, ms);
        if (rc <= 0)
            return rc;
    }
}

void h_stream_free(struct h_stream *s)
{
    for (size_t i = 0; i < s->nevs; i++)
        free(s->evs[i].data);
    free(s->evs);
    h_resp_free(&s->head);
    memset(s, 0, sizeof(*s));
}

int h_stream_start(struct h_conn *c, struct h_stream *s, int port, const char *path,
                   const char *extra_headers, const char *body)
{
    memset(s, 0, sizeof(*s));
    int rc = h_conn_open(c, port);
    if (rc < 0)
        return rc;
    rc = h_send_request(c, "POST", path, extra_headers, body);
    if (rc == 0)
        rc = h_stream_open(c, s, H_IO_TIMEOUT_MS);
    if (rc < 0)
        h_conn_close(c);
    return rc;
}

char *h_stream_text(const struct h_stream *s, size_t *count)
{
    size_t total = 1;
    for (size_t i = 0; i < s->nevs; i++)
        total += strlen(s->evs[i].data);
    char *out = malloc(total);
    cr_assert(out != NULL);
    size_t len = 0, n = 0;
    for (size_t i = 0; i < s->nevs; i++) {
        const char *d = s->evs[i].data;
        long l = h_json_get(d, strlen(d), "choices.0.delta.content", out + len, total - len);
        if (l <= 0)
            continue; /* the role-only first chunk carries "" */
        len += (size_t)l;
        n++;
    }
    out[len] = '\0';
    if (count)
        *count = n;
    return out;
}

bool h_event_is_usage(const char *data)
{
    return h_json_array_len(data, strlen(data), "choices") == 0;
}

/* ---- JSON ---- */

/* Bounds of the value at path: [*vs, *ve) in doc, with its first token. */
static bool json_locate(const char *doc, size_t len, const char *path, size_t *vs, size_t *ve,
                        struct gw_json_tok *first)
{
    size_t base = 0, end = len;
    struct gw_json j;
    struct gw_json_tok t;
    /* The whole document is the starting value. */
    gw_json_init(&j, doc, len);
    if (gw_json_next(&j, &t) != 1)
        return false;
    *first = t;
    base = t.start;
    const char *p = path;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t clen = dot ? (size_t)(dot - p) : strlen(p);
        char comp[128];
        if (clen == 0 || clen >= sizeof(comp))
            return false;
        memcpy(comp, p, clen);
        comp[clen] = '\0';
        p += clen + (dot ? 1 : 0);

        if (first->type == GW_JT_OBJ_BEGIN) {
            const char *keys[1] = {comp};
            struct gw_json_member m;
            memset(&m, 0, sizeof(m));
            if (gw_json_scan_object(doc + base, end - base, keys, 1, &m) != 0 || !m.found)
                return false;
            *first = m.value;
            first->start += base;
            first->end += base;
            end = base + m.value_end;
            base = first->start;
        } else if (first->type == GW_JT_ARR_BEGIN) {
            char *ep;
            unsigned long idx = strtoul(comp, &ep, 10);
            if (*ep != '\0')
                return false;
            gw_json_init(&j, doc + base, end - base);
            if (gw_json_next(&j, &t) != 1 || t.type != GW_JT_ARR_BEGIN)
                return false;
            for (unsigned long i = 0;; i++) {
                if (gw_json_next(&j, &t) != 1 || t.type == GW_JT_ARR_END)
                    return false;
                size_t e = t.end;
                if ((t.type == GW_JT_OBJ_BEGIN || t.type == GW_JT_ARR_BEGIN) &&
                    gw_json_skip(&j, &t, &e) != 0)
                    return false;
                if (i == idx) {
                    *first = t;
                    first->start += base;
                    first->end += base;
                    end = base + e;
                    base = first->start;
                    break;
                }
            }
        } else {
            return false;
        }
    }
    *vs = base;
    if (first->type == GW_JT_OBJ_BEGIN || first->type == GW_JT_ARR_BEGIN) {
        /* The container runs to the end of the range we narrowed to (whitespace trimmed). */
        while (end > base && (doc[end - 1] == ' ' || doc[end - 1] == '\n' || doc[end - 1] == '\r' ||
                              doc[end - 1] == '\t'))
            end--;
        *ve = end;
    } else {
        *ve = first->end;
    }
    return true;
}

long h_json_get(const char *doc, size_t len, const char *path, char *out, size_t cap)
{
    size_t vs, ve;
    struct gw_json_tok t;
    if (!doc || cap == 0 || !json_locate(doc, len, path, &vs, &ve, &t))
        return -1;
    if (t.type == GW_JT_STRING) {
        long n = gw_json_unescape(t.span, out, cap - 1);
        if (n < 0)
            return -1;
        out[n] = '\0';
        return n;
    }
    if (ve - vs + 1 > cap)
        return -1;
    memcpy(out, doc + vs, ve - vs);
    out[ve - vs] = '\0';
    return (long)(ve - vs);
}

char *h_json_dup(const char *doc, size_t len, const char *path)
{
    size_t cap = len + 1;
    char *out = malloc(cap);
    cr_assert(out != NULL);
    if (h_json_get(doc, len, path, out, cap) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

void h_json_expect(const char *doc, const char *path, const char *want)
{
    char v[4096];
    cr_assert(h_json_get(doc, strlen(doc), path, v, sizeof(v)) >= 0, "no %s in %s", path, doc);
    cr_assert_str_eq(v, want, "%s in %s", path, doc);
}

bool h_json_int(const char *doc, size_t len, const char *path, long long *v)
{
    size_t vs, ve;
    struct gw_json_tok t;
    if (!doc || !json_locate(doc, len, path, &vs, &ve, &t) || t.type != GW_JT_NUMBER)
        return false;
    char tmp[32];
    if (t.span.len == 0 || t.span.len >= sizeof(tmp))
        return false;
    memcpy(tmp, t.span.ptr, t.span.len);
    tmp[t.span.len] = '\0';
    char *ep;
    errno = 0;
    long long x = strtoll(tmp, &ep, 10);
    if (*ep != '\0' || errno != 0)
        return false;
    *v = x;
    return true;
}

bool h_json_true(const char *doc, size_t len, const char *path)
{
    size_t vs, ve;
    struct gw_json_tok t;
    return doc && json_locate(doc, len, path, &vs, &ve, &t) && t.type == GW_JT_TRUE;
}

long h_json_array_len(const char *doc, size_t len, const char *path)
{
    size_t vs, ve;
    struct gw_json_tok t;
    if (!doc || !json_locate(doc, len, path, &vs, &ve, &t) || t.type != GW_JT_ARR_BEGIN)
        return -1;
    struct gw_json j;
    gw_json_init(&j, doc + vs, ve - vs);
    if (gw_json_next(&j, &t) != 1)
        return -1;
    long count = 0;
    for (;;) {
        if (gw_json_next(&j, &t) != 1)
            return -1;
        if (t.type == GW_JT_ARR_END)
            return count;
        size_t e;
        if ((t.type == GW_JT_OBJ_BEGIN || t.type == GW_JT_ARR_BEGIN) &&
            gw_json_skip(&j, &t, &e) != 0)
            return -1;
        count++;
    }
}

void h_assert_error(const struct h_resp *r, int status, const char *code)
{
    cr_assert_eq(r->status, status, "status %d, want %d; body: %s", r->status, status,
                 r->body ? r->body : "");
    const char *ct = h_resp_header(r, "content-type");
    cr_assert(ct && strncasecmp(ct, "application/json", 16) == 0,
              "error content-type is %s, want application/json", ct ? ct : "(none)");
    char v[1024];
    long n = h_json_get(r->body, r->body_len, "error.message", v, sizeof(v));
    cr_assert(n > 0, "no error.message in %s", r->body);
    cr_assert(h_json_get(r->body, r->body_len, "error.type", v, sizeof(v)) >= 0,
              "no error.type in %s", r->body);
    cr_assert(h_json_get(r->body, r->body_len, "error.param", v, sizeof(v)) >= 0,
              "no error.param in %s", r->body);
    cr_assert(h_json_get(r->body, r->body_len, "error.code", v, sizeof(v)) >= 0,
              "no error.code in %s", r->body);
    if (code)
        cr_assert_str_eq(v, code, "error.code is %s, want %s; body: %s", v, code, r->body);
}

/* ---- the mock's introspection ---- */

void h_mock_stats(struct h_mock_stats *st)
{
    struct h_resp r;
    int rc = h_do(H.mock_port, "GET", "/mock/stats", NULL, NULL, &r);
    cr_assert(rc == 0, "GET /mock/stats: %s", strerror(-rc));
    cr_assert(r.status == 200, "GET /mock/stats: status %d", r.status);
    memset(st, 0, sizeof(*st));
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"connections_open", offsetof(struct h_mock_stats, connections_open)},
        {"connections_total", offsetof(struct h_mock_stats, connections_total)},
        {"requests", offsetof(struct h_mock_stats, requests)},
        {"streams_active", offsetof(struct h_mock_stats, streams_active)},
        {"streams_completed", offsetof(struct h_mock_stats, streams_completed)},
        {"streams_aborted", offsetof(struct h_mock_stats, streams_aborted)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        long long *v = (long long *)((char *)st + fields[i].off);
        cr_assert(h_json_int(r.body, r.body_len, fields[i].name, v), "/mock/stats lacks %s: %s",
                  fields[i].name, r.body);
    }
    h_resp_free(&r);
}

char *h_mock_last(void)
{
    struct h_resp r;
    if (h_do(H.mock_port, "GET", "/mock/last", NULL, NULL, &r) != 0)
        return NULL;
    if (r.status != 200) {
        h_resp_free(&r);
        return NULL;
    }
    char *body = r.body;
    r.body = NULL;
    h_resp_free(&r);
    return body;
}

void h_mock_last_get(const char *path, char *out, size_t cap)
{
    char *doc = h_mock_last();
    cr_assert_not_null(doc, "GET /mock/last failed");
    if (h_json_get(doc, strlen(doc), path, out, cap) < 0)
        out[0] = '\0';
    free(doc);
}

char *h_mock_last_body(void)
{
    char *doc = h_mock_last();
    cr_assert(doc, "GET /mock/last failed");
    char *body = h_json_dup(doc, strlen(doc), "body");
    cr_assert(body, "the mock's last request has no body: %s", doc);
    free(doc);
    return body;
}

void h_expect_chat_error(const char *model, bool stream, const char *extra, int status,
                         const char *code, struct h_resp *out)
{
    char *body = h_chat_body(model, stream, extra);
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0, "no answer to %s", body);
    h_assert_error(&r, status, code);
    free(body);
    if (out)
        *out = r;
    else
        h_resp_free(&r);
}

void h_mock_last_expect(const char *path, const char *want)
{
    char v[4096];
    h_mock_last_get(path, v, sizeof(v));
    cr_assert_str_eq(v, want, "the mock's last request: %s", path);
}
