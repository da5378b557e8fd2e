/*
 * store/migrate.c — the schema's versions and the steps between them.
 *
 * Version N of the schema is reached from N-1 by steps[N-1], in one
 * transaction that also writes N into conduit_schema: a step is applied
 * entirely or not at all, so a crash mid-migration leaves the previous
 * version, and the next start applies the step again.
 *
 * Two processes may start against one empty database at once (two
 * instances sharing PostgreSQL, or `conduit migrate` beside a running
 * gateway). Each step therefore first takes a lock that serialises migrators
 * and only then reads the version: on PostgreSQL a transaction-scoped
 * advisory lock (released by COMMIT/ROLLBACK, so a crashed migrator never
 * leaves it held), on SQLite the write lock BEGIN IMMEDIATE takes. The loser
 * waits, reads the version the winner committed, and finds nothing to do.
 *
 * Adding a version: append a step (never edit a shipped one), with
 * per-engine SQL where the dialects differ.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/common.h"
#include "store/db.h"
#include "store/store.h"

/* pg_advisory_xact_lock key: "cndt" in ASCII, fixed forever (every binary must agree). */
#define MIGRATE_LOCK_KEY "1668179060"

struct step {
    /* Scripts run in order inside the step's transaction; NULL entries are skipped. */
    const char *common_before;
    const char *per_kind[GW_DB_KIND_COUNT];
    const char *common_after;
};

/* ---- version 1: keys, teams, prices, usage, spend, ingest progress ---- */

static const char v1_before[] = "CREATE TABLE teams ("
                                "  id TEXT PRIMARY KEY,"
                                "  name TEXT NOT NULL,"
                                "  enabled INTEGER NOT NULL DEFAULT 1,"
                                "  budget_limit_pusd BIGINT,"
                                "  budget_period TEXT,"
                                "  budget_hard INTEGER NOT NULL DEFAULT 0,"
                                "  rpm BIGINT,"
                                "  tpm BIGINT,"
                                "  metadata TEXT NOT NULL DEFAULT '{}',"
                                "  created_at BIGINT NOT NULL,"
                                "  updated_at BIGINT NOT NULL"
                                ");"
                                "CREATE TABLE keys ("
                                "  id TEXT PRIMARY KEY,"
                                "  name TEXT NOT NULL,"
                                "  team_id TEXT REFERENCES teams(id),"
                                "  digest TEXT NOT NULL UNIQUE,"
                                "  hint TEXT NOT NULL,"
                                "  enabled INTEGER NOT NULL DEFAULT 1,"
                                "  expires_at BIGINT,"
                                "  models TEXT NOT NULL DEFAULT '[]',"
                                "  budget_limit_pusd BIGINT,"
                                "  budget_period TEXT,"
                                "  budget_hard INTEGER NOT NULL DEFAULT 0,"
                                "  rpm BIGINT,"
                                "  tpm BIGINT,"
                                "  metadata TEXT NOT NULL DEFAULT '{}',"
                                "  old_digest TEXT,"
                                "  old_until BIGINT,"
                                "  created_at BIGINT NOT NULL,"
                                "  updated_at BIGINT NOT NULL,"
                                "  revoked_at BIGINT"
                                ");"
                                "CREATE INDEX keys_team ON keys(team_id);"
                                "CREATE TABLE prices ("
                                "  model TEXT PRIMARY KEY,"
                                "  input BIGINT NOT NULL,"
                                "  output BIGINT NOT NULL,"
                                "  cached_input BIGINT,"
                                "  cache_write BIGINT,"
                                "  embedding BIGINT,"
                                "  updated_at BIGINT NOT NULL"
                                ");";

/* Only the id differs: SQLite's rowid alias, PostgreSQL's identity column. */
#define V1_USAGE_COLUMNS                                                                           \
    "  time_ms BIGINT NOT NULL,"                                                                   \
    "  request_id TEXT NOT NULL,"                                                                  \
    "  key_id TEXT,"                                                                               \
    "  key_name TEXT,"                                                                             \
    "  team_id TEXT,"                                                                              \
    "  model TEXT,"                                                                                \
    "  provider TEXT,"                                                                             \
    "  deployment TEXT,"                                                                           \
    "  endpoint TEXT,"                                                                             \
    "  stream INTEGER NOT NULL,"                                                                   \
    "  status INTEGER NOT NULL,"                                                                   \
    "  error TEXT,"                                                                                \
    "  prompt_tokens BIGINT NOT NULL,"                                                             \
    "  completion_tokens BIGINT NOT NULL,"                                                         \
    "  cached_tokens BIGINT NOT NULL,"                                                             \
    "  cache_write_tokens BIGINT NOT NULL,"                                                        \
    "  reasoning_tokens BIGINT NOT NULL,"                                                          \
    "  cost_pusd BIGINT,"                                                                          \
    "  est_pusd BIGINT NOT NULL,"                                                                  \
    "  price_version TEXT,"                                                                        \
    "  ttfb_us BIGINT,"                                                                            \
    "  duration_us BIGINT NOT NULL,"                                                               \
    "  bytes_in BIGINT NOT NULL,"                                                                  \
    "  bytes_out BIGINT NOT NULL,"                                                                 \
    "  boot TEXT NOT NULL,"                                                                        \
    "  worker INTEGER NOT NULL,"                                                                   \
    "  seq BIGINT NOT NULL"

static const char v1_usage_sqlite[] =
    "CREATE TABLE usage (id INTEGER PRIMARY KEY," V1_USAGE_COLUMNS ");";
static const char v1_usage_pg[] =
    "CREATE TABLE usage (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY," V1_USAGE_COLUMNS ");";

static const char v1_after[] = "CREATE INDEX usage_time ON usage(time_ms);"
                               "CREATE INDEX usage_key_time ON usage(key_id, time_ms);"
                               "CREATE TABLE spend ("
                               "  subject TEXT NOT NULL,"
                               "  day BIGINT NOT NULL,"
                               "  cost_pusd BIGINT NOT NULL DEFAULT 0,"
                               "  requests BIGINT NOT NULL DEFAULT 0,"
                               "  PRIMARY KEY (subject, day)"
                               ");"
                               "CREATE TABLE ingest_progress ("
                               "  file TEXT PRIMARY KEY,"
                               "  done_bytes BIGINT NOT NULL,"
                               "  updated_at BIGINT NOT NULL"
                               ");";

static const struct step steps[] = {
    {v1_before, {[GW_DB_SQLITE] = v1_usage_sqlite, [GW_DB_PG] = v1_usage_pg}, v1_after},
};

int gw_store_schema_latest(void)
{
    return (int)GW_ARRAY_SIZE(steps);
}

static int one_int(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    if (ncols > 0)
        *(int64_t *)arg = gw_dbv_int(&cols[0], -1);
    return 1;
}

/* Whether conduit_schema exists, through each engine's catalogue. */
static int schema_table_exists(struct gw_db *db, bool *exists, struct gw_db_err *err)
{
    const char *sql = gw_db_kind_of(db) == GW_DB_PG
                          ? "SELECT count(*) FROM information_schema.tables"
                            " WHERE table_schema = current_schema()"
                            " AND table_name = 'conduit_schema'"
                          : "SELECT count(*) FROM sqlite_master"
                            " WHERE type = 'table' AND name = 'conduit_schema'";
    int64_t n = 0;
    if (gw_db_exec(db, sql, NULL, 0, one_int, &n, err) < 0)
        return -1;
    *exists = n > 0;
    return 0;
}

/* The version row; 0 when the table is empty. */
static int read_version(struct gw_db *db, int *out, struct gw_db_err *err)
{
    int64_t v = 0;
    int64_t rows =
        gw_db_exec(db, "SELECT max(version) FROM conduit_schema", NULL, 0, one_int, &v, err);
    if (rows < 0)
        return -1;
    if (v < 0 || v > INT32_MAX) /* NULL (no row) reads as -1 */
        v = 0;
    *out = (int)v;
    return 0;
}

int gw_store_schema_version(struct gw_db *db, int *out, struct gw_db_err *err)
{
    bool exists;
    *out = 0;
    if (schema_table_exists(db, &exists, err) < 0)
        return -1;
    if (!exists)
        return 0;
    return read_version(db, out, err);
}

static int refuse_newer(int v, struct gw_db_err *err)
{
    snprintf(err->message, sizeof(err->message),
             "database schema version %d is newer than this binary's %d: upgrade conduit", v,
             gw_store_schema_latest());
    err->unavailable = false;
    return -1;
}

/*
 * One transaction: lock, read the version, apply the step after it (if
 * any), record the new version. *now is the version after the call; *done
 * says nothing was left to do.
 */
static int migrate_once(struct gw_db *db, int *now, bool *done, struct gw_db_err *err)
{
    *done = false;
    if (gw_db_begin(db, err) < 0)
        return -1;
    if (gw_db_kind_of(db) == GW_DB_PG &&
        gw_db_exec(db, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", NULL, 0, NULL, NULL,
                   err) < 0)
        goto fail;
    /* Under the lock, so two first starts cannot both create it. */
    if (gw_db_exec_script(db,
                          "CREATE TABLE IF NOT EXISTS conduit_schema"
                          " (version INTEGER NOT NULL)",
                          err) < 0)
        goto fail;
    int v;
    if (read_version(db, &v, err) < 0)
        goto fail;
    if (v > gw_store_schema_latest()) {
        refuse_newer(v, err);
        goto fail;
    }
    if (v == gw_store_schema_latest()) {
        *done = true;
        *now = v;
        /* A new empty table (version 0 never reaches here) or nothing: commit either way. */
        return gw_db_commit(db, err);
    }

    const struct step *s = &steps[v];
    const char *scripts[] = {s->common_before, s->per_kind[gw_db_kind_of(db)], s->common_after};
    for (size_t i = 0; i < GW_ARRAY_SIZE(scripts); i++) {
        if (scripts[i] && gw_db_exec_script(db, scripts[i], err) < 0) {
            char what[sizeof(err->message)];
            snprintf(what, sizeof(what), "%s", err->message);
            snprintf(err->message, sizeof(err->message), "migration to version %d: %.450s", v + 1,
                     what);
            goto fail;
        }
    }
    /* Exactly one row, whatever was there (nothing, on the first step). */
    struct gw_dbv p[] = {GW_DBV_INT(v + 1)};
    if (gw_db_exec(db, "DELETE FROM conduit_schema", NULL, 0, NULL, NULL, err) < 0 ||
        gw_db_exec(db, "INSERT INTO conduit_schema (version) VALUES ($1)", p, 1, NULL, NULL, err) <
            0)
        goto fail;
    if (gw_db_commit(db, err) < 0)
        goto fail;
    *now = v + 1;
    return 0;

fail:
    gw_db_rollback(db);
    return -1;
}

int gw_store_migrate(struct gw_db *db, int *from, int *to, struct gw_db_err *err)
{
    struct gw_db_err local;
    if (!err)
        err = &local;
    err->message[0] = '\0';
    err->unavailable = false;

    int start;
    if (gw_store_schema_version(db, &start, err) < 0)
        return -1;
    if (from)
        *from = start;
    if (to)
        *to = start;
    if (start > gw_store_schema_latest())
        return refuse_newer(start, err);

    /* Each pass applies at most one step; latest + 1 passes always suffice. */
    for (int pass = 0; pass <= gw_store_schema_latest(); pass++) {
        int now = 0;
        bool done;
        if (migrate_once(db, &now, &done, err) < 0)
            return -1;
        if (to)
            *to = now;
        if (done)
            return 0;
    }
    GW_BUG_ON(1); /* every pass advanced one version: unreachable */
    return -1;
}
