/*
 * tests/integration/test_budget.c — budgets under concurrency, with the real
 * binary, the mock and an embedded SQLite store.
 *
 * The overshoot bound (README, "Budgets") on one instance: with W workers,
 * E the largest admission estimate, Q the requests in flight per worker and
 * delta the most by which one request's real cost exceeds its estimate,
 *
 *     spend - L <= (W - 1) * E + W * Q * delta
 *
 * (every worker sees the others' reservations and spend at once; only
 * admissions racing between one worker's check and its reservation are
 * unseen, one per other worker). Here W = 2, one instance. Every request asks max_tokens above the
 * mock's chunk count (the mock's completion_tokens), so its estimate bounds
 * its cost and delta = 0; the test measures delta from the usage rows
 * (cost_pusd - est_pusd) rather than trusting that, and computes the bound
 * with what it measured. Spend is read from the database in pUSD (exact).
 *
 * The second test is the hard budget: a stream whose spend crosses the limit
 * mid-way ends with a finish_reason "length" chunk, an error event
 * budget_exceeded and [DONE], and its usage row says budget_exceeded.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "harness.h"
#include "harness_store.h"

/* gpt-4o-mini's prices in the config (HST_PRICE_IN/OUT), uUSD per 1M tokens = pUSD per token. */
#define PIN_PUSD 150000LL
#define POUT_PUSD 600000LL

#define NWORKERS 2
#define NINSTANCES 1
#define NCLIENTS 64
#define CHUNKS 8
#define MAX_TOKENS 12 /* >= CHUNKS, with room for what the gateway adds to the prompt */

static int admin_port;

static void setup(void)
{
    h_setup();
    h_mock_start(NULL);
}

TestSuite(budget, .init = setup, .fini = h_teardown, .timeout = 90);

static void start_gw(void)
{
    admin_port = h_free_port();
    hst_gw_start(&(struct hst_cfg){.workers = NWORKERS, .admin_port = admin_port});
}

/* Creates a key (POST body) and waits until the gateway accepts it. */
static void create_key(const char *body, struct hst_key *k)
{
    free(hst_key_create(admin_port, body, k));
    cr_assert(hst_wait_models(H.gw_port, k->secret, 200, h_now_ms(), 2000) >= 0,
              "the new key is not accepted after 2 s");
}

/* ---- 64 clients against one small budget ---- */

struct client {
    pthread_t th;
    const char *hdr;  /* Authorization line */
    const char *body; /* the request */
    int ok;           /* 200s received */
    int refused;      /* the 429 budget_exceeded that ended it (0 or 1) */
    int errors;       /* anything else */
    char err[256];    /* the first error */
};

static pthread_barrier_t start_line;

static void *client_main(void *arg)
{
    struct client *cl = arg;
    struct h_conn c = {.fd = -1};
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < 500 && !cl->refused && cl->errors == 0; i++) {
        if (c.fd < 0 && h_conn_open(&c, H.gw_port) < 0) {
            cl->errors++;
            snprintf(cl->err, sizeof(cl->err), "connect failed");
            break;
        }
        struct h_resp r;
        int rc = h_send_request(&c, "POST", "/v1/chat/completions", cl->hdr, cl->body);
        if (rc == 0)
            rc = h_read_response(&c, &r, H_IO_TIMEOUT_MS);
        if (rc < 0) {
            cl->errors++;
            snprintf(cl->err, sizeof(cl->err), "request %d: %s", i, strerror(-rc));
            break;
        }
        char code[64] = "";
        h_json_get(r.body, r.body_len, "error.code", code, sizeof(code));
        if (r.status == 200) {
            cl->ok++;
        } else if (r.status == 429 && strcmp(code, "budget_exceeded") == 0) {
            cl->refused = 1;
        } else {
            cl->errors++;
            snprintf(cl->err, sizeof(cl->err), "status %d: %.200s", r.status, r.body);
        }
        bool keep = r.keepalive;
        h_resp_free(&r);
        if (!keep)
            h_conn_close(&c);
    }
    h_conn_close(&c);
    return NULL;
}

Test(budget, parallel_clients_overshoot_a_small_budget_by_no_more_than_the_bound)
{
    start_gw();
    char extra[96];
    snprintf(extra, sizeof(extra), "\"max_tokens\":%d,\"mock\":{\"chunks\":%d}", MAX_TOKENS,
             CHUNKS);
    char *body = h_chat_body(H_MODEL, false, extra);
    /* The admission estimate of one request (state.md): prompt bytes / 4 plus max_tokens. */
    int64_t est = (int64_t)(strlen(body) / 4) * PIN_PUSD + MAX_TOKENS * POUT_PUSD;
    int64_t limit = 20 * est;
    char kb[256];
    snprintf(kb, sizeof(kb),
             "{\"name\":\"small\",\"budget\":{\"limit_usd\":%.12f,\"period\":\"total\"}}",
             (double)limit / 1e12);
    struct hst_key k;
    create_key(kb, &k);
    const char *id = k.id;
    char hdr[256];
    hst_auth_line(hdr, sizeof(hdr), k.secret);

    static struct client cl[NCLIENTS];
    cr_assert_eq(pthread_barrier_init(&start_line, NULL, NCLIENTS), 0);
    for (int i = 0; i < NCLIENTS; i++) {
        cl[i] = (struct client){.hdr = hdr, .body = body};
        cr_assert_eq(pthread_create(&cl[i].th, NULL, client_main, &cl[i]), 0);
    }
    int ok = 0, refused = 0, errors = 0;
    const char *first_err = NULL;
    for (int i = 0; i < NCLIENTS; i++) {
        pthread_join(cl[i].th, NULL);
        ok += cl[i].ok;
        refused += cl[i].refused;
        errors += cl[i].errors;
        if (cl[i].errors && !first_err)
            first_err = cl[i].err;
    }
    pthread_barrier_destroy(&start_line);
    cr_assert_eq(errors, 0, "%d client errors, first: %s", errors, first_err);
    cr_assert_eq(refused, NCLIENTS, "only %d of %d clients got 429", refused, NCLIENTS);
    cr_assert(ok > 0, "no request was served");

    /* Every served request's row, then the spend it added. */
    sqlite3 *db = hst_db_open(SQLITE_OPEN_READONLY);
    hst_db_wait(db, "SELECT COUNT(*) FROM usage WHERE key_id = $1 AND status = 200", id, ok, 10000);
    h_sleep_ms(300); /* a refused request's row may still come; it adds no spend */
    int64_t rows =
        hst_db_int(db, "SELECT COUNT(*) FROM usage WHERE key_id = $1 AND status = 200", id);
    cr_assert_eq(rows, ok, "%" PRId64 " rows with status 200, %d responses", rows, ok);
    char subject[160];
    snprintf(subject, sizeof(subject), "k:%s", id);
    int64_t spend =
        hst_db_int(db, "SELECT COALESCE(SUM(cost_pusd), 0) FROM spend WHERE subject = $1", subject);
    int64_t usage_sum =
        hst_db_int(db, "SELECT COALESCE(SUM(cost_pusd), 0) FROM usage WHERE key_id = $1", id);
    int64_t delta = hst_db_int(db,
                               "SELECT COALESCE(MAX(cost_pusd - est_pusd), 0) FROM usage "
                               "WHERE key_id = $1 AND status = 200",
                               id);
    sqlite3_close(db);
    cr_assert_eq(spend, usage_sum, "spend table %" PRId64 " pUSD, usage rows %" PRId64, spend,
                 usage_sum);
    cr_assert(spend > 0);
    /* The premise of delta = 0: no request cost more than its estimate. */
    cr_assert(delta <= 0, "a request cost %" PRId64 " pUSD more than its estimate", delta);
    if (delta < 0)
        delta = 0;
    cr_assert_eq(NINSTANCES, 1, "the bound below is the one-instance form");
    const int64_t w = NWORKERS;
    const int64_t q = NCLIENTS; /* in flight per worker, at most */
    int64_t bound = (w - 1) * est + w * q * delta;
    int64_t overshoot = spend - limit;
    fprintf(stderr,
            "budget: %d clients, %d served, limit %.9f USD, spend %.9f USD, overshoot %.9f USD "
            "(%.2f requests), bound %.9f USD (W=%" PRId64 ", E=%.9f USD, delta=0)\n",
            NCLIENTS, ok, (double)limit / 1e12, (double)spend / 1e12, (double)overshoot / 1e12,
            (double)overshoot / (double)est, (double)bound / 1e12, w, (double)est / 1e12);
    cr_assert(overshoot <= bound, "overshoot %" PRId64 " pUSD above the bound %" PRId64, overshoot,
              bound);
    free(body);
    h_finish();
}

/* ---- the hard budget ---- */

Test(budget, hard_budget_cuts_a_stream_with_length_then_budget_exceeded_then_done)
{
    start_gw();
    /* max_tokens 1 (admission reserves one output token) but 200 chunks from the mock. */
    char *body = h_chat_body(H_MODEL, true,
                             "\"max_tokens\":1,\"mock\":{\"chunks\":200,"
                             "\"delay_ms\":2}");
    int64_t est = (int64_t)(strlen(body) / 4) * PIN_PUSD + 1 * POUT_PUSD;
    int64_t limit = est + 20 * POUT_PUSD; /* about 20 more output tokens */
    char kb[256];
    snprintf(kb, sizeof(kb),
             "{\"name\":\"hard\",\"budget\":{\"limit_usd\":%.12f,\"period\":\"total\","
             "\"hard\":true}}",
             (double)limit / 1e12);
    struct hst_key k;
    create_key(kb, &k);
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\nX-Request-Id: hard-cut-1\r\n",
             k.secret);

    struct h_conn c;
    struct h_stream s;
    int rc = h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", hdr, body);
    cr_assert_eq(rc, 0, "%s", strerror(-rc));
    cr_assert_eq(s.head.status, 200);
    rc = h_stream_read_all(&c, &s, H_IO_TIMEOUT_MS);
    cr_assert_eq(rc, 0, "stream: %s", strerror(-rc));
    cr_assert(s.complete, "the stream did not end cleanly");
    cr_assert(s.saw_done, "no [DONE]");
    cr_assert(s.nevs >= 3, "%zu events", s.nevs);
    size_t ncontent = 0;
    free(h_stream_text(&s, &ncontent));
    cr_assert(ncontent > 0 && ncontent < 200, "%zu content events: not cut", ncontent);
    /* The last three events: the length chunk, the error, [DONE]. */
    const char *done = s.evs[s.nevs - 1].data;
    const char *errev = s.evs[s.nevs - 2].data;
    const char *last = s.evs[s.nevs - 3].data;
    cr_assert_str_eq(done, "[DONE]");
    char v[256];
    cr_assert(h_json_get(errev, strlen(errev), "error.code", v, sizeof(v)) >= 0, "%s", errev);
    cr_assert_str_eq(v, "budget_exceeded");
    cr_assert(h_json_get(errev, strlen(errev), "error.type", v, sizeof(v)) >= 0, "%s", errev);
    cr_assert_str_eq(v, "insufficient_quota");
    cr_assert(h_json_get(last, strlen(last), "choices.0.finish_reason", v, sizeof(v)) >= 0, "%s",
              last);
    cr_assert_str_eq(v, "length");
    h_stream_free(&s);
    h_conn_close(&c);

    sqlite3 *db = hst_db_open(SQLITE_OPEN_READONLY);
    hst_db_wait(db, "SELECT COUNT(*) FROM usage WHERE request_id = $1", "hard-cut-1", 1, 10000);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT COALESCE(error, ''), cost_pusd, completion_tokens "
                                    "FROM usage WHERE request_id = 'hard-cut-1'",
                                    -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "budget_exceeded");
    int64_t cost = sqlite3_column_int64(st, 1);
    int64_t ctoks = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
    cr_assert(cost > 0, "the cut stream was billed nothing");
    cr_assert(ctoks > 0 && ctoks < 200, "completion_tokens %" PRId64, ctoks);
    fprintf(stderr, "budget: hard cut after %zu content events, billed %.9f USD (limit %.9f)\n",
            ncontent, (double)cost / 1e12, (double)limit / 1e12);
    free(body);
    h_finish();
}

/*
 * A client that hangs up before a stream's usage chunk is still billed:
 * otherwise aborting every stream just before its end would spend a budget
 * for free. The provider's usage never comes, so the gateway bills what it
 * relayed: the prompt as estimated at admission and one token per content
 * event.
 */
Test(budget, a_stream_the_client_abandons_is_billed_for_what_was_relayed)
{
    start_gw();
    char *body = h_chat_body(H_MODEL, true, "\"max_tokens\":100,\"mock\":{\"chunks\":100,"
                                            "\"delay_ms\":20}");
    struct hst_key k;
    create_key("{\"name\":\"leaver\",\"budget\":{\"limit_usd\":1,\"period\":\"total\"}}", &k);
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\nX-Request-Id: left-early-1\r\n",
             k.secret);
    struct h_conn c;
    struct h_stream s;
    int rc = h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", hdr, body);
    cr_assert_eq(rc, 0, "%s", strerror(-rc));
    cr_assert_eq(s.head.status, 200);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(h_stream_next(&c, &s, H_IO_TIMEOUT_MS), 1, "event %d", i);
    h_conn_close(&c); /* gone, long before the usage chunk */
    h_stream_free(&s);

    sqlite3 *db = hst_db_open(SQLITE_OPEN_READONLY);
    hst_db_wait(db, "SELECT COUNT(*) FROM usage WHERE request_id = $1", "left-early-1", 1, 10000);
    int64_t cost =
        hst_db_int(db, "SELECT cost_pusd FROM usage WHERE request_id = $1", "left-early-1");
    int64_t ctoks =
        hst_db_int(db, "SELECT completion_tokens FROM usage WHERE request_id = $1", "left-early-1");
    int64_t ptoks =
        hst_db_int(db, "SELECT prompt_tokens FROM usage WHERE request_id = $1", "left-early-1");
    sqlite3_close(db);
    /* At least the events read, at most what the mock could send before the close was seen. */
    cr_assert(ctoks >= 5 && ctoks < 100, "completion_tokens %lld", (long long)ctoks);
    cr_assert_eq(ptoks, (int64_t)(strlen(body) / 4), "the prompt as admission estimated it");
    cr_assert_eq(cost, ptoks * PIN_PUSD + ctoks * POUT_PUSD, "cost %lld", (long long)cost);
    free(body);
    h_finish();
}
