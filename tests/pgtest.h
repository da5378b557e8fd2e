/*
 * tests/pgtest.h — a real, throw-away PostgreSQL server for tests.
 *
 * pgt_start() runs Debian's PostgreSQL 15 binaries (initdb, pg_ctl, createdb from
 * /usr/lib/postgresql/15/bin, or $PGT_BINDIR) on a fresh cluster in a mkdtemp
 * directory, listening on 127.0.0.1 and a free port, with trust authentication,
 * fsync off, and the Unix socket in the same directory. It returns once the
 * server accepts connections and the database "conduit" exists; p->url is then
 * "postgresql://USER@127.0.0.1:PORT/conduit".
 *
 * PostgreSQL refuses to run as root, and CI runs as root: then the directory is
 * given to the `postgres` user (or `nobody` when there is none) and every
 * command runs through `runuser -u USER --`. Otherwise commands run as the
 * calling user, who is also the database superuser.
 *
 * Missing binaries fail pgt_start with a message naming the fix
 * (tools/install-deps.sh test installs `postgresql`); tests must fail on it,
 * never skip silently.
 *
 * A guardian process (a shell reading a pipe whose write end only this process
 * holds) stops the server and removes the directory when the test process dies
 * without calling pgt_stop (a crash, a Criterion timeout), so no server outlives
 * its test.
 *
 * Every function returns 0, or -1 with p->err set. Not thread-safe; one struct
 * per server. Header-only: every function is static inline.
 */
#ifndef GW_TESTS_PGTEST_H
#define GW_TESTS_PGTEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#define PGT_BINDIR_DEFAULT "/usr/lib/postgresql/15/bin"
#define PGT_DBNAME "conduit"

struct pgt {
    char bindir[256];
    char dir[256]; /* the mkdtemp directory: data/, server.log, cmd.log, the socket */
    char user[64]; /* OS user running the server, also the database superuser */
    bool runuser;  /* commands go through runuser -u user -- (we are root) */
    int port;      /* fixed at start, reused by pgt_resume */
    int guard_fd;  /* write end of the guardian's pipe (owned); -1 when none */
    bool running;
    char url[256];
    char err[1024];
};

/* The contents of a path name made of pieces (no overflow: a truncated path fails). */
static inline int pgt__path(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static inline int pgt__fail(struct pgt *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline int pgt__fail(struct pgt *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
    return -1;
}

/* Appends the last bytes of DIR/cmd.log to p->err, so a failed command says why. */
static inline void pgt__append_log_tail(struct pgt *p, const char *name)
{
    char path[300];
    if (pgt__path(path, sizeof(path), p->dir, name) != 0)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char tail[400];
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof(tail) - 1 ? end - (off_t)sizeof(tail) + 1 : 0;
    ssize_t n = pread(fd, tail, sizeof(tail) - 1, from);
    close(fd);
    if (n <= 0)
        return;
    tail[n] = '\0';
    size_t used = strlen(p->err);
    snprintf(p->err + used, sizeof(p->err) - used, "\n--- %s (tail) ---\n%s", name, tail);
}

/*
 * Runs bindir/prog with args (NULL-terminated), as the server's user, output
 * appended to DIR/cmd.log. Returns 0 when it exits 0, else -1 with p->err.
 */
static inline int pgt__run(struct pgt *p, const char *prog, const char *const *args)
{
    char exe[300], logpath[300];
    if (pgt__path(exe, sizeof(exe), p->bindir, prog) != 0 ||
        pgt__path(logpath, sizeof(logpath), p->dir, "cmd.log") != 0)
        return pgt__fail(p, "pgtest: path too long");

    /* Built before fork: the child only calls async-signal-safe functions. */
    const char *argv[32];
    size_t n = 0;
    if (p->runuser) {
        argv[n++] = "runuser";
        argv[n++] = "-u";
        argv[n++] = p->user;
        argv[n++] = "--";
    }
    argv[n++] = exe;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0)
        return pgt__fail(p, "pgtest: open %s: %s", logpath, strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return pgt__fail(p, "pgtest: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(logfd);
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return pgt__fail(p, "pgtest: waitpid: %s", strerror(errno));
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    pgt__fail(p, "pgtest: %s %s failed (%s %d)", prog, args[0] ? args[0] : "",
              WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    pgt__append_log_tail(p, "cmd.log");
    return -1;
}

static inline int pgt__rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* A port the kernel just handed out on 127.0.0.1 (free now; a race is retried by the caller). */
static inline int pgt__free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/*
 * Starts the guardian: `sh` with the pipe's read end as stdin waits for EOF,
 * which comes when this process (the only holder of the write end: O_CLOEXEC
 * keeps it out of every exec'd child) exits or calls pgt_stop. It then stops
 * the server immediately (a no-op when already stopped) and removes the
 * directory. The directory and user are passed as arguments, never spliced
 * into the script.
 */
static inline int pgt__guard(struct pgt *p)
{
    static const char script[] =
        "read -r _ignored; "
        "if [ -f \"$1/data/postmaster.pid\" ]; then "
        "  if [ -n \"$3\" ]; then runuser -u \"$3\" -- \"$2/pg_ctl\" -D \"$1/data\" -m immediate "
        "     -w stop; "
        "  else \"$2/pg_ctl\" -D \"$1/data\" -m immediate -w stop; fi; "
        "fi >/dev/null 2>&1; rm -rf \"$1\"";
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return pgt__fail(p, "pgtest: pipe2: %s", strerror(errno));
    const char *argv[] = {
        "sh", "-c", script, "pgt-guard", p->dir, p->bindir, p->runuser ? p->user : "", NULL};
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return pgt__fail(p, "pgtest: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* Own process group: a signal to the test's group does not kill it first. */
        setpgid(0, 0);
        int nul = open("/dev/null", O_WRONLY);
        if (nul < 0 || dup2(fds[0], 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
            _exit(126);
        execv("/bin/sh", (char *const *)argv);
        _exit(127);
    }
    close(fds[0]);
    p->guard_fd = fds[1];
    return 0;
}

static inline int pgt__append_conf(struct pgt *p)
{
    char path[300];
    if (pgt__path(path, sizeof(path), p->dir, "data/postgresql.conf") != 0)
        return pgt__fail(p, "pgtest: path too long");
    FILE *f = fopen(path, "ae");
    if (!f)
        return pgt__fail(p, "pgtest: open %s: %s", path, strerror(errno));
    /*
     * The same settings as `postgres -c …`, kept in the cluster's own file so
     * pgt_resume starts the server identically without a shell-quoted -o string.
     */
    fprintf(f,
            "\n# pgtest\nlisten_addresses = '127.0.0.1'\nport = %d\n"
            "unix_socket_directories = '%s'\nfsync = off\nsynchronous_commit = off\n"
            "full_page_writes = off\nmax_connections = 40\nshared_buffers = 16MB\n",
            p->port, p->dir);
    return fclose(f) == 0 ? 0 : pgt__fail(p, "pgtest: write %s", path);
}

static inline int pgt__ctl_start(struct pgt *p)
{
    char data[300], log[300];
    if (pgt__path(data, sizeof(data), p->dir, "data") != 0 ||
        pgt__path(log, sizeof(log), p->dir, "server.log") != 0)
        return pgt__fail(p, "pgtest: path too long");
    const char *args[] = {"-D", data, "-l", log, "-w", "-t", "60", "start", NULL};
    if (pgt__run(p, "pg_ctl", args) != 0) {
        pgt__append_log_tail(p, "server.log");
        return -1;
    }
    p->running = true;
    return 0;
}

static inline int pgt__ctl_stop(struct pgt *p, const char *mode)
{
    char data[300];
    if (pgt__path(data, sizeof(data), p->dir, "data") != 0)
        return pgt__fail(p, "pgtest: path too long");
    const char *args[] = {"-D", data, "-m", mode, "-w", "-t", "60", "stop", NULL};
    if (pgt__run(p, "pg_ctl", args) != 0)
        return -1;
    p->running = false;
    return 0;
}

static inline void pgt_stop(struct pgt *p);

/* Initialises and starts a server; see the top of the file. */
static inline int pgt_start(struct pgt *p)
{
    memset(p, 0, sizeof(*p));
    p->guard_fd = -1;
    const char *bindir = getenv("PGT_BINDIR");
    snprintf(p->bindir, sizeof(p->bindir), "%s", bindir && *bindir ? bindir : PGT_BINDIR_DEFAULT);
    static const char *const progs[] = {"initdb", "pg_ctl", "postgres", "createdb"};
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
        char exe[300];
        if (pgt__path(exe, sizeof(exe), p->bindir, progs[i]) != 0 || access(exe, X_OK) != 0)
            return pgt__fail(p,
                             "pgtest: PostgreSQL server binary %s/%s not found: these tests "
                             "need a real PostgreSQL 15 server (Debian package `postgresql`; "
                             "`tools/install-deps.sh test` installs it, or set PGT_BINDIR)",
                             p->bindir, progs[i]);
    }

    uid_t uid = geteuid();
    gid_t gid = getegid();
    struct passwd *pw;
    if (uid == 0) {
        pw = getpwnam("postgres");
        if (!pw)
            pw = getpwnam("nobody");
        if (!pw)
            return pgt__fail(p, "pgtest: running as root and neither `postgres` nor `nobody` "
                                "exists to run the server as");
        p->runuser = true;
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    } else {
        pw = getpwuid(uid);
        if (!pw)
            return pgt__fail(p, "pgtest: no passwd entry for uid %u", (unsigned)uid);
    }
    snprintf(p->user, sizeof(p->user), "%s", pw->pw_name);

    snprintf(p->dir, sizeof(p->dir), "/tmp/pgt-XXXXXX");
    if (!mkdtemp(p->dir)) {
        p->dir[0] = '\0';
        return pgt__fail(p, "pgtest: mkdtemp: %s", strerror(errno));
    }
    if (p->runuser && chown(p->dir, uid, gid) != 0) {
        pgt__fail(p, "pgtest: chown %s: %s", p->dir, strerror(errno));
        goto fail;
    }
    if (pgt__guard(p) != 0)
        goto fail;

    char data[300], user_opt[80];
    if (pgt__path(data, sizeof(data), p->dir, "data") != 0) {
        pgt__fail(p, "pgtest: path too long");
        goto fail;
    }
    snprintf(user_opt, sizeof(user_opt), "--username=%s", p->user);
    const char *initdb[] = {"-D",
                            data,
                            user_opt,
                            "--auth=trust",
                            "--encoding=UTF8",
                            "--locale=C",
                            "--no-sync",
                            "--no-instructions",
                            NULL};
    if (pgt__run(p, "initdb", initdb) != 0)
        goto fail;

    /* The port is free when picked but may be taken before the server binds it: retry. */
    for (int attempt = 0;; attempt++) {
        p->port = pgt__free_port();
        if (p->port < 0) {
            pgt__fail(p, "pgtest: no free port: %s", strerror(errno));
            goto fail;
        }
        if (pgt__append_conf(p) != 0)
            goto fail;
        if (pgt__ctl_start(p) == 0)
            break;
        if (attempt == 2)
            goto fail;
    }

    char port[16];
    snprintf(port, sizeof(port), "%d", p->port);
    const char *createdb[] = {"-h", "127.0.0.1", "-p", port, "-U", p->user, PGT_DBNAME, NULL};
    if (pgt__run(p, "createdb", createdb) != 0)
        goto fail;
    snprintf(p->url, sizeof(p->url), "postgresql://%s@127.0.0.1:%d/%s", p->user, p->port,
             PGT_DBNAME);
    return 0;

fail:;
    char keep[sizeof(p->err)];
    memcpy(keep, p->err, sizeof(keep));
    pgt_stop(p);
    memcpy(p->err, keep, sizeof(keep));
    return -1;
}

/* Stops the server (fast shutdown: sessions are ended) and removes the directory. */
static inline void pgt_stop(struct pgt *p)
{
    if (p->running && pgt__ctl_stop(p, "fast") != 0)
        pgt__ctl_stop(p, "immediate");
    p->running = false;
    if (p->dir[0])
        nftw(p->dir, pgt__rm_one, 16, FTW_DEPTH | FTW_PHYS);
    p->dir[0] = '\0';
    if (p->guard_fd >= 0)
        close(p->guard_fd);
    p->guard_fd = -1;
}

/* Stops the server (fast shutdown) keeping its data: an outage for the test. */
static inline int pgt_pause(struct pgt *p)
{
    if (!p->running)
        return pgt__fail(p, "pgtest: pause: server not running");
    return pgt__ctl_stop(p, "fast");
}

/* Starts the paused server again on the same port with the same data. */
static inline int pgt_resume(struct pgt *p)
{
    if (p->running)
        return pgt__fail(p, "pgtest: resume: server already running");
    return pgt__ctl_start(p);
}

/*
 * One server for a whole test executable. PGT_SHARED_SERVER() (at file scope,
 * after including <criterion/criterion.h> and <criterion/hooks.h>) starts it
 * in Criterion's runner process before the first test and stops it when the
 * runner exits. Tests run in child processes that inherit only the environment, so
 * the runner exports PGT_URL, or PGT_ERROR when the start failed; each test
 * then calls pgt_fresh() for a schema of its own on that server.
 *
 * Tests that stop the server (pgt_pause) start a private one with pgt_start.
 */
#define PGT_SHARED_SERVER()                                                                        \
    ReportHook(PRE_ALL)(struct criterion_test_set * pgt__set)                                      \
    {                                                                                              \
        (void)pgt__set;                                                                            \
        pgt__shared_start();                                                                       \
    }                                                                                              \
    struct pgt__shared_semicolon

static struct pgt pgt__shared;

/* atexit: the runner stops the shared server as it exits (the guardian covers a kill). */
static inline void pgt__shared_stop(void)
{
    pgt_stop(&pgt__shared);
}

static inline void pgt__shared_start(void)
{
    if (pgt_start(&pgt__shared) == 0) {
        setenv("PGT_URL", pgt__shared.url, 1);
        unsetenv("PGT_ERROR");
        atexit(pgt__shared_stop);
    } else {
        unsetenv("PGT_URL");
        setenv("PGT_ERROR", pgt__shared.err, 1);
    }
}

/*
 * In a test: creates a schema of its own ("t_<pid>_<n>") on the shared server
 * and writes into url a connection URL whose search_path is that schema, so
 * unqualified tables of tests running side by side never meet. Channels of
 * LISTEN/NOTIFY are per database, not per schema: give them unique names
 * where tests may run in parallel. 0, or -1 with err.
 */
static inline int pgt_fresh(char *url, size_t cap, char *err, size_t errcap)
{
    static unsigned seq;
    const char *base = getenv("PGT_URL");
    if (!base || !*base) {
        const char *why = getenv("PGT_ERROR");
        snprintf(err, errcap, "%s",
                 why ? why : "pgtest: no shared server: PGT_SHARED_SERVER() missing in this file");
        return -1;
    }
    char schema[64], sql[128];
    snprintf(schema, sizeof(schema), "t_%ld_%u", (long)getpid(), seq++);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
    PGconn *c = PQconnectdb(base);
    int ret = -1;
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errcap, "pgtest: connect %s: %s", base, PQerrorMessage(c));
        goto out;
    }
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errcap, "pgtest: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    if (!ok)
        goto out;
    int n = snprintf(url, cap, "%s?options=-csearch_path%%3D%s", base, schema);
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, errcap, "pgtest: URL buffer too small");
        goto out;
    }
    ret = 0;
out:
    PQfinish(c);
    return ret;
}

#endif
