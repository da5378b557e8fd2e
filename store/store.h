/*
 * store/store.h — Conduit's schema over store/db.h: migrations, loading the
 * accounts (keys, teams, prices) for a snapshot, and writing usage records
 * with the spend they add.
 *
 * Tables (store/migrate.c has the SQL; all times are Unix seconds or ms as
 * named, money is pUSD and prices uUSD per 1M tokens, core/money.h):
 *   conduit_schema(version)                      one row: the schema version
 *   teams(id, name, enabled, budget_*, rpm, tpm, metadata, created_at, updated_at)
 *   keys(id, name, team_id, digest, hint, enabled, expires_at, models, budget_*,
 *        rpm, tpm, metadata, old_digest, old_until, created_at, updated_at,
 *        revoked_at)                             revoked keys stay (history), disabled
 *   prices(model, input, output, cached_input, cache_write, embedding, updated_at)
 *   usage(time_ms, request_id, key_id, key_name, team_id, model, provider,
 *         deployment, endpoint, stream, status, error, prompt_tokens,
 *         completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens,
 *         cost_pusd (NULL: unknown price), price_version, ttfb_us, duration_us,
 *         bytes_in, bytes_out, boot, worker, seq)
 *   spend(subject, day, cost_pusd, requests)     per key ("k:<id>") and team ("t:<id>")
 *                                                and UTC day: every budget period is a
 *                                                sum of days; reset-spend adds a negative
 *                                                row, so history keeps its periods
 *   ingest_progress(file, offset, updated_at)    how far each usage log is inserted
 */
#ifndef GW_STORE_STORE_H
#define GW_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/accounts.h"
#include "core/usage.h"
#include "store/db.h"

/* The schema version this binary writes. */
int gw_store_schema_latest(void);
/*
 * Brings the schema up to gw_store_schema_latest(), one transaction per
 * step. Refuses (-1, err says "database schema version N is newer than this
 * binary's M: upgrade conduit") when the database is newer. *from and *to
 * (may be NULL) say what happened.
 */
int gw_store_migrate(struct gw_db *db, int *from, int *to, struct gw_db_err *err);
/* The database's schema version (0 = empty database). */
int gw_store_schema_version(struct gw_db *db, int *out, struct gw_db_err *err);

/* Adds every team, key (not revoked) and price override in the database to b. 0 or -1. */
int gw_store_load_accounts(struct gw_db *db, struct gw_accounts_builder *b, struct gw_db_err *err);

/*
 * Inserts n records, adds their cost to the spend table (key and team, by
 * the record's UTC day), and sets file's progress to offset: one
 * transaction, so a record is counted exactly once however often the log is
 * replayed. 0 or -1 (nothing written).
 */
int gw_store_insert_usage(struct gw_db *db, const struct gw_usage_rec *recs, size_t n,
                          const char *file, int64_t offset, struct gw_db_err *err);
/* How far `file` was inserted (0 when never). 0 or -1. */
int gw_store_progress_get(struct gw_db *db, const char *file, int64_t *offset,
                          struct gw_db_err *err);
/* Forgets a file's progress once the file is deleted. 0 or -1. */
int gw_store_progress_delete(struct gw_db *db, const char *file, struct gw_db_err *err);

/*
 * Spend of every subject since from_day (UTC days since the epoch,
 * inclusive): fn(arg, subject, pusd) for each subject with rows. 0 or -1.
 */
int gw_store_spend_since(struct gw_db *db, int64_t from_day,
                         void (*fn)(void *arg, const char *subject, int64_t pusd), void *arg,
                         struct gw_db_err *err);
/* One subject's spend over [from_day, to_day). 0 or -1. */
int gw_store_spend_of(struct gw_db *db, const char *subject, int64_t from_day, int64_t to_day,
                      int64_t *pusd, struct gw_db_err *err);

/* The channel admin changes are announced on (PostgreSQL NOTIFY). */
#define GW_STORE_CHANNEL "conduit_accounts"

#endif
