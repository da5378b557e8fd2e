/*
 * tests/integration/test_durability.c — the usage log's guarantees, with the
 * real binary, the mock and an embedded SQLite store:
 *
 *  - kill -9 under load loses no record of a response a client received in
 *    full, and the restart's replay inserts none twice;
 *  - the database locked (another process holds BEGIN EXCLUSIVE) fails no
 *    client request, and every record arrives once it is released;
 *  - log files are rotated at store.log_file_bytes and deleted once
 *    inserted, so a worker keeps at most two.
 *
 * Clients send their own x-request-id, so the usage table can be matched
 * against what they received; the table is read with the SQLite C API.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "harness.h"
#include "harness_store.h"

#define NWORKERS 2
#define MAX_IDS 4096 /* per client */

static void setup(void)
{
    h_setup();
    h_mock_start(NULL);
}

TestSuite(durability, .init = setup, .fini = h_teardown, .timeout = 120);

/* Config with the store (store_extra: more lines under store:) and the static key. */
static void write_config(const char *store_extra)
{
    hst_config(&(struct hst_cfg){.workers = NWORKERS, .store_lines = store_extra});
}

/* ---- the database ---- */

/* One id's number of usage rows, for many ids: a sorted table of (id, count). */
struct idcount {
    char id[64];
    int64_t n;
};

struct idtable {
    struct idcount *v;
    size_t n;
};

static int idcount_cmp(const void *a, const void *b)
{
    return strcmp(((const struct idcount *)a)->id, ((const struct idcount *)b)->id);
}

/* Loads every request_id starting with prefix and its row count. */
static void idtable_load(sqlite3 *db, const char *prefix, struct idtable *t)
{
    free(t->v);
    t->v = NULL;
    t->n = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT request_id, COUNT(*) FROM usage "
                                "WHERE substr(request_id, 1, length($1)) = $1 GROUP BY request_id",
                                -1, &st, NULL);
    cr_assert_eq(rc, SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT), SQLITE_OK);
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->n == cap) {
            cap = cap ? cap * 2 : 1024;
            t->v = realloc(t->v, cap * sizeof(*t->v));
            cr_assert(t->v != NULL);
        }
        snprintf(t->v[t->n].id, sizeof(t->v[t->n].id), "%s",
                 (const char *)sqlite3_column_text(st, 0));
        t->v[t->n].n = sqlite3_column_int64(st, 1);
        t->n++;
    }
    cr_assert_eq(rc, SQLITE_DONE, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (t->n)
        qsort(t->v, t->n, sizeof(*t->v), idcount_cmp);
}

static int64_t idtable_count(const struct idtable *t, const char *id)
{
    struct idcount key;
    snprintf(key.id, sizeof(key.id), "%s", id);
    const struct idcount *e = t->n ? bsearch(&key, t->v, t->n, sizeof(*t->v), idcount_cmp) : NULL;
    return e ? e->n : 0;
}

/* ---- clients that remember what they received in full ---- */

struct client {
    pthread_t th;
    int no;
    const char *prefix; /* request ids: <prefix>-<client>-<n> */
    bool stream_too;    /* every other request streams */
    atomic_bool *stop;
    int sent;     /* requests sent */
    int received; /* responses received in full (ids in got) */
    int errors;   /* failures before *stop */
    char err[256];
    double max_ms;   /* slowest full response */
    char (*got)[64]; /* MAX_IDS ids */
};

/* Sends one request with id rid; true when its response arrived in full with status 200. */
static bool one_request(struct h_conn *c, const char *rid, bool stream, char *why, size_t wcap)
{
    char *body = h_chat_body(H_MODEL, stream,
                             "\"max_tokens\":8,\"mock\":{\"chunks\":3,"
                             "\"delay_ms\":1,\"first_delay_ms\":2}");
    char hdr[160];
    snprintf(hdr, sizeof(hdr), H_AUTH "X-Request-Id: %s\r\n", rid);
    bool ok = false;
    int rc = h_send_request(c, "POST", "/v1/chat/completions", hdr, body);
    free(body);
    if (rc < 0) {
        snprintf(why, wcap, "send %s: %s", rid, strerror(-rc));
        return false;
    }
    if (stream) {
        struct h_stream s;
        rc = h_stream_open(c, &s, H_IO_TIMEOUT_MS);
        if (rc == 0 && s.head.status == 200)
            rc = h_stream_read_all(c, &s, H_IO_TIMEOUT_MS);
        ok = rc == 0 && s.head.status == 200 && s.complete && s.saw_done;
        if (!ok)
            snprintf(why, wcap, "stream %s: rc %d status %d", rid, rc, s.head.status);
        bool keep = rc == 0 && s.head.keepalive;
        h_stream_free(&s); /* safe after any h_stream_open result */
        if (!keep)
            h_conn_close(c);
        return ok;
    }
    struct h_resp r;
    rc = h_read_response(c, &r, H_IO_TIMEOUT_MS);
    if (rc < 0) {
        snprintf(why, wcap, "response %s: %s", rid, strerror(-rc));
        h_conn_close(c);
        return false;
    }
    char content[256];
    ok = r.status == 200 &&
         h_json_get(r.body, r.body_len, "choices.0.message.content", content, sizeof(content)) > 0;
    if (!ok)
        snprintf(why, wcap, "%s: status %d: %.150s", rid, r.status, r.body);
    bool keep = r.keepalive;
    h_resp_free(&r);
    if (!keep)
        h_conn_close(c);
    return ok;
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    struct h_conn c = {.fd = -1};
    while (!atomic_load(cl->stop) && cl->sent < MAX_IDS) {
        if (c.fd < 0 && h_conn_open(&c, H.gw_port) < 0) {
            if (!atomic_load(cl->stop)) {
                cl->errors++;
                snprintf(cl->err, sizeof(cl->err), "connect failed");
            }
            break;
        }
        char rid[64];
        snprintf(rid, sizeof(rid), "%s-%02d-%05d", cl->prefix, cl->no, cl->sent);
        bool stream = cl->stream_too && (cl->sent % 2) == 1;
        cl->sent++;
        double t0 = h_now_ms();
        char why[256];
        if (one_request(&c, rid, stream, why, sizeof(why))) {
            double el = h_now_ms() - t0;
            if (el > cl->max_ms)
                cl->max_ms = el;
            memcpy(cl->got[cl->received++], rid, sizeof(rid));
        } else {
            /* After the kill, failures are expected; they end this client. */
            if (!atomic_load(cl->stop)) {
                cl->errors++;
                snprintf(cl->err, sizeof(cl->err), "%s", why);
            }
            break;
        }
    }
    h_conn_close(&c);
    return NULL;
}

static void clients_start(struct client *cl, int n, const char *prefix, bool stream_too,
                          atomic_bool *stop)
{
    for (int i = 0; i < n; i++) {
        cl[i] = (struct client){.no = i, .prefix = prefix, .stream_too = stream_too, .stop = stop};
        cl[i].got = calloc(MAX_IDS, sizeof(*cl[i].got));
        cr_assert(cl[i].got != NULL);
        cr_assert_eq(pthread_create(&cl[i].th, NULL, client_main, &cl[i]), 0);
    }
}

struct totals {
    int sent, received, errors;
    double max_ms;
    const char *first_err;
};

static void clients_join(struct client *cl, int n, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < n; i++) {
        pthread_join(cl[i].th, NULL);
        t->sent += cl[i].sent;
        t->received += cl[i].received;
        t->errors += cl[i].errors;
        if (cl[i].max_ms > t->max_ms)
            t->max_ms = cl[i].max_ms;
        if (cl[i].errors && !t->first_err)
            t->first_err = cl[i].err;
    }
}

static void clients_free(struct client *cl, int n)
{
    for (int i = 0; i < n; i++)
        free(cl[i].got);
}

/*
 * Waits (timeout_ms) until every id the clients received is in the usage
 * table; leaves the table loaded in t. Returns how many are missing.
 */
static int wait_all_recorded(sqlite3 *db, const char *prefix, struct client *cl, int n,
                             struct idtable *t, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        idtable_load(db, prefix, t);
        int missing = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < cl[i].received; j++)
                missing += idtable_count(t, cl[i].got[j]) == 0;
        if (missing == 0 || h_now_ms() >= deadline)
            return missing;
        h_sleep_ms(100);
    }
}

/* Every received id exactly once; returns the number of table rows nobody received. */
static int64_t check_exactly_once(const struct idtable *t, struct client *cl, int n)
{
    int64_t dup = 0, rows = 0;
    for (size_t i = 0; i < t->n; i++) {
        rows += t->v[i].n;
        if (t->v[i].n != 1) {
            dup++;
            cr_log_error("request id %s has %" PRId64 " usage rows", t->v[i].id, t->v[i].n);
        }
    }
    cr_assert_eq(dup, 0, "%" PRId64 " request ids recorded more than once", dup);
    int64_t received = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < cl[i].received; j++) {
            cr_assert_eq(idtable_count(t, cl[i].got[j]), 1, "received %s: not recorded once",
                         cl[i].got[j]);
            received++;
        }
    return rows - received;
}

#define KILL_CLIENTS 8

Test(durability, kill_9_under_load_loses_no_record_of_a_received_response)
{
    write_config(NULL);
    h_gw_start();
    static struct client cl[KILL_CLIENTS];
    atomic_bool stop = false;
    clients_start(cl, KILL_CLIENTS, "kill", true, &stop);
    h_sleep_ms(1500);
    h_gw_signal(SIGKILL);
    atomic_store(&stop, true);
    cr_assert_eq(h_gw_wait_exit(5000), 0, "conduit did not die of SIGKILL");
    cr_assert(WIFSIGNALED(H.gw_exit_status) && WTERMSIG(H.gw_exit_status) == SIGKILL);
    struct totals t;
    clients_join(cl, KILL_CLIENTS, &t);
    cr_assert_eq(t.errors, 0, "%d client errors before the kill, first: %s", t.errors, t.first_err);
    cr_assert(t.received >= 50, "only %d responses before the kill: no load", t.received);

    /* The restart replays the killed boot's files. */
    h_gw_start();
    sqlite3 *db = hst_db_open(SQLITE_OPEN_READONLY);
    struct idtable tab = {0};
    int missing = wait_all_recorded(db, "kill-", cl, KILL_CLIENTS, &tab, 15000);
    cr_assert_eq(missing, 0, "%d responses received in full have no usage row", missing);
    /* A flush more, so a duplicate insert by the replay would show. */
    h_sleep_ms(500);
    idtable_load(db, "kill-", &tab);
    int64_t extra = check_exactly_once(&tab, cl, KILL_CLIENTS);
    fprintf(stderr,
            "durability: kill -9 after %d requests sent, %d received in full, %zu recorded, "
            "0 lost, 0 duplicated, %" PRId64 " recorded but not received (bound %d)\n",
            t.sent, t.received, tab.n, extra, KILL_CLIENTS);
    cr_assert(extra >= 0 && extra <= KILL_CLIENTS,
              "%" PRId64 " rows for responses nobody received, more than the %d in flight", extra,
              KILL_CLIENTS);
    free(tab.v);
    sqlite3_close(db);
    clients_free(cl, KILL_CLIENTS);
    h_finish();
}

#define LOCK_CLIENTS 4

/* A metric without labels from /metrics, as an integer (-1 when absent). */
static long long metric(int port, const char *name)
{
    struct h_resp r;
    cr_assert_eq(h_do(port, "GET", "/metrics", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    long long v = -1;
    size_t n = strlen(name);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, name, n) && p[n] == ' ') {
            v = strtoll(p + n + 1, NULL, 10);
            break;
        }
    }
    h_resp_free(&r);
    return v;
}

Test(durability, database_locked_for_3s_fails_no_request_and_loses_no_record)
{
    /* One database call gives up after 1 s: the lock makes the store's inserts fail. */
    write_config("  timeout: 1s\n");
    h_gw_start();
    static struct client cl[LOCK_CLIENTS];
    atomic_bool stop = false;
    clients_start(cl, LOCK_CLIENTS, "lock", true, &stop);
    h_sleep_ms(500);

    sqlite3 *db = hst_db_open(SQLITE_OPEN_READWRITE);
    char *msg = NULL;
    int rc = sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "BEGIN EXCLUSIVE: %s", msg ? msg : "");
    int64_t before = hst_db_int(db, "SELECT COUNT(*) FROM usage", NULL);
    double t_lock = h_now_ms();
    int sent_at_lock = 0;
    for (int i = 0; i < LOCK_CLIENTS; i++)
        sent_at_lock += cl[i].received;
    h_sleep_ms(3000);
    /* While it is locked, /metrics says so. (The backlog gauge is only as fresh
     * as the last pass that measured it, so it is checked after the lock.) */
    long long fails = metric(H.gw_port, "conduit_store_failures_total");
    cr_assert(fails >= 1, "conduit_store_failures_total %lld during the lock", fails);
    int during = -sent_at_lock;
    for (int i = 0; i < LOCK_CLIENTS; i++)
        during += cl[i].received;
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "COMMIT: %s", msg ? msg : "");
    double held = h_now_ms() - t_lock;
    h_sleep_ms(1000);
    atomic_store(&stop, true);
    struct totals t;
    clients_join(cl, LOCK_CLIENTS, &t);
    cr_assert_eq(t.errors, 0, "%d client errors, first: %s", t.errors, t.first_err);
    cr_assert(during > 20, "only %d responses while the database was locked", during);

    struct idtable tab = {0};
    int missing = wait_all_recorded(db, "lock-", cl, LOCK_CLIENTS, &tab, 15000);
    cr_assert_eq(missing, 0, "%d responses have no usage row after the lock", missing);
    int64_t extra = check_exactly_once(&tab, cl, LOCK_CLIENTS);
    cr_assert_eq(extra, 0, "%" PRId64 " rows nobody received (no request failed)", extra);
    /* Once it is back: everything inserted, nothing left waiting. */
    long long inserted = 0;
    for (double end = h_now_ms() + 5000; h_now_ms() < end; h_sleep_ms(100)) {
        inserted = metric(H.gw_port, "conduit_store_records_total");
        if (inserted >= (long long)tab.n && metric(H.gw_port, "conduit_usage_backlog_bytes") == 0)
            break;
    }
    cr_assert_geq(inserted, (long long)tab.n, "conduit_store_records_total %lld < %zu rows",
                  inserted, tab.n);
    cr_assert_eq(metric(H.gw_port, "conduit_usage_backlog_bytes"), 0);
    fprintf(stderr,
            "durability: database locked %.0f ms: %d requests, %d during the lock, 0 client "
            "errors, slowest response %.1f ms, %" PRId64 " rows before the lock, all %zu "
            "recorded after\n",
            held, t.received, during, t.max_ms, before, tab.n);
    free(tab.v);
    sqlite3_close(db);
    clients_free(cl, LOCK_CLIENTS);
    h_finish();
}

/* Usage log files in dir: how many, and the largest file number (SSSSSS) seen. */
static int log_files(const char *dir, unsigned long *max_seq)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char boot[64];
        unsigned w;
        unsigned long seq;
        if (sscanf(e->d_name, "usage-%63[^-]-%u-%lu.log", boot, &w, &seq) != 3)
            continue;
        n++;
        if (max_seq && seq > *max_seq)
            *max_seq = seq;
    }
    closedir(d);
    return n;
}

#define ROT_CLIENTS 8

Test(durability, log_files_rotate_at_the_size_and_are_deleted_once_inserted)
{
    write_config("  log_file_bytes: 64KiB\n");
    h_gw_start();
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/c.db.usage", H.dir);
    static struct client cl[ROT_CLIENTS];
    atomic_bool stop = false;
    clients_start(cl, ROT_CLIENTS, "rot", false, &stop);
    /* Until the records would fill several files per worker (about 600 bytes each). */
    unsigned long max_seq = 0;
    int max_files = 0;
    double deadline = h_now_ms() + 30000;
    for (;;) {
        int got = 0;
        for (int i = 0; i < ROT_CLIENTS; i++)
            got += cl[i].received;
        int nf = log_files(dir, &max_seq);
        if (nf > max_files)
            max_files = nf;
        if (got >= 1500 || h_now_ms() > deadline)
            break;
        h_sleep_ms(20);
    }
    atomic_store(&stop, true);
    struct totals t;
    clients_join(cl, ROT_CLIENTS, &t);
    cr_assert_eq(t.errors, 0, "%d client errors, first: %s", t.errors, t.first_err);

    sqlite3 *db = hst_db_open(SQLITE_OPEN_READONLY);
    struct idtable tab = {0};
    int missing = wait_all_recorded(db, "rot-", cl, ROT_CLIENTS, &tab, 15000);
    cr_assert_eq(missing, 0, "%d responses have no usage row", missing);
    int64_t extra = check_exactly_once(&tab, cl, ROT_CLIENTS);
    cr_assert_eq(extra, 0);
    /* Inserted files go within a few flushes. */
    double until = h_now_ms() + 5000;
    int nf;
    while ((nf = log_files(dir, &max_seq)) > NWORKERS * 2 && h_now_ms() < until)
        h_sleep_ms(50);
    fprintf(stderr,
            "durability: %d requests, log files: highest number %lu, at most %d at once during "
            "the run, %d left after ingest (bound %d)\n",
            t.received, max_seq, max_files, nf, NWORKERS * 2);
    cr_assert(max_seq >= 3, "log files numbered up to %lu only: no rotation", max_seq);
    cr_assert(nf <= NWORKERS * 2, "%d log files left after ingest, want <= %d", nf, NWORKERS * 2);
    free(tab.v);
    sqlite3_close(db);
    clients_free(cl, ROT_CLIENTS);
    h_finish();
}
