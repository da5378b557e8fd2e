/*
 * tests/integration/harness_store.h — what the suites about the store
 * (test_keys, test_budget, test_durability, test_pg) share: a gateway config
 * with store: and admin: sections, admin API calls with the master key,
 * virtual key creation, polling until a key is accepted or refused, JSON
 * readers that fail the test on a missing member, and read access to the
 * embedded SQLite database.
 *
 * Every function fails the test (cr_assert) when what it needs does not
 * happen, unless its comment gives a return value for that case. Memory it
 * hands back is malloc'd and freed by the caller with free().
 */
#ifndef GW_TESTS_INTEGRATION_HARNESS_STORE_H
#define GW_TESTS_INTEGRATION_HARNESS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "harness.h"

/* The admin API's master key in every config written here, and its header line. */
#define HST_MASTER_KEY "h7-master-key-0123456789abcdef"
#define HST_MASTER_AUTH "Authorization: Bearer " HST_MASTER_KEY "\r\n"

/* The default prices: H_MODEL's, USD per 1M tokens. */
#define HST_PRICE_IN "0.15"
#define HST_PRICE_OUT "0.60"

/* ---- config ---- */

/*
 * A gateway config: server (2 workers, drain 10 s), the harness's client key
 * "demo" (H_CLIENT_KEY), provider "mock" (openai, the mock's http port,
 * H_PROVIDER_KEY), model H_MODEL on the mock, the store, the admin API and
 * prices. Zero or NULL fields take the defaults given.
 */
struct hst_cfg {
    const char *path;           /* file to write; NULL: H.cfg_path (atomically) */
    int port;                   /* server.listen port; 0: H.gw_port */
    int workers;                /* server.workers; 0: 2 */
    const char *upstream_model; /* upstream name of H_MODEL; NULL: H_MODEL itself */
    const char *model_items;    /* more entries under models: ("  - name: x\n    ...") */
    const char *store_url;      /* NULL: "sqlite:<H.dir>/c.db" (hst_db_open's file) */
    const char *flush_interval; /* store.flush_interval; NULL: 100ms */
    const char *store_lines;    /* more keys under store: ("  timeout: 1s\n") */
    int admin_port;             /* > 0: an admin: section listening there, HST_MASTER_KEY */
    const char *price_items;    /* replace the prices: entries; NULL: H_MODEL at
                                 * HST_PRICE_IN / HST_PRICE_OUT */
};

/* Writes the config c describes. */
void hst_config(const struct hst_cfg *c);

/*
 * hst_config(c) (c->path must be NULL), then h_gw_start(); with an admin
 * port, also waits until conduit's stderr says "admin API listening".
 */
void hst_gw_start(const struct hst_cfg *c);

/* ---- admin API ---- */

/* A request to the admin API on port with the master key; an answer must arrive. Frees: r. */
void hst_admin(int port, const char *method, const char *path, const char *body, struct h_resp *r);

/* hst_admin that must be answered with status want; returns the body. */
char *hst_admin_ok(int port, const char *method, const char *path, const char *body, int want);

/* A virtual key as POST /admin/v1/keys returns it. */
struct hst_key {
    char id[128];
    char secret[128]; /* "condt_" and 32 characters */
};

/*
 * POST /admin/v1/keys with body on port: the answer must be 201 with an id
 * and a secret "condt_" + 32 characters, written to *k. Returns the answer's
 * body.
 */
char *hst_key_create(int port, const char *body, struct hst_key *k);

/* out = "Authorization: Bearer <secret>\r\n". */
void hst_auth_line(char *out, size_t cap, const char *secret);

/*
 * GET /v1/models on port with secret: a request that needs the key in the
 * snapshot like any API request but writes no usage row. Returns the status,
 * or -errno when no answer arrived; r, when not NULL, keeps the answer (the
 * caller frees it; left untouched on -errno).
 */
int hst_models(int port, const char *secret, struct h_resp *r);

/*
 * Polls (every 2 ms) hst_models(port, secret) until it answers want; returns
 * the milliseconds from t0 (an h_now_ms() time) to that answer, or -1 when
 * t0 + timeout_ms passed first.
 */
double hst_wait_models(int port, const char *secret, int want, double t0, int timeout_ms);

/* ---- JSON members that must be there (doc NUL-terminated) ---- */

/* The value at path (as h_json_get gives it) into out. */
void hst_json_str(const char *doc, const char *path, char *out, size_t cap);
/* The number at path, as a double. */
double hst_json_num(const char *doc, const char *path);
/* The integer at path. */
long long hst_json_ll(const char *doc, const char *path);

/* ---- the embedded SQLite database (H.dir/c.db) ---- */

/* Opens it with flags (SQLITE_OPEN_READONLY, ...) and a 5 s busy timeout; close with sqlite3_close.
 */
sqlite3 *hst_db_open(int flags);

/* The integer in the first column of the first row of sql, with $1 = p1 (NULL: no parameter). */
int64_t hst_db_int(sqlite3 *db, const char *sql, const char *p1);

/* Polls (every 50 ms) hst_db_int(db, sql, p1) until it is at least want, for timeout_ms. */
void hst_db_wait(sqlite3 *db, const char *sql, const char *p1, int64_t want, int timeout_ms);

#endif
