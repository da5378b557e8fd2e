/*
 * store/db-int.h — private to store/: what a database driver provides behind
 * store/db.h.
 *
 * A driver's connection struct embeds struct gw_db as its first member and
 * points base.ops at its function table; store/db.c dispatches every public
 * call through it, so the drivers never see each other. store/db.c fills
 * base.kind and base.timeout_ms after the driver's open returns.
 *
 * Every op gets a non-NULL db; err may be NULL (use gw__db_errf, which
 * accepts that). Ops that may be NULL say so: store/db.c then does the
 * generic thing.
 */
#ifndef GW_STORE_DB_INT_H
#define GW_STORE_DB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

struct gw_db_ops {
    /* gw_db_exec's contract: rows changed or returned, or -1 with err. */
    int64_t (*exec)(struct gw_db *db, const char *sql, const struct gw_dbv *params, size_t nparams,
                    gw_db_row_fn fn, void *arg, struct gw_db_err *err);
    /* Several statements, no params. 0 or -1. */
    int (*exec_script)(struct gw_db *db, const char *sql, struct gw_db_err *err);
    /* May be NULL: exec("BEGIN"), exec("COMMIT"), exec("ROLLBACK"). */
    int (*begin)(struct gw_db *db, struct gw_db_err *err);
    int (*commit)(struct gw_db *db, struct gw_db_err *err);
    void (*rollback)(struct gw_db *db);
    /* gw_db_copy's contract; table and cols are already checked to be plain identifiers. */
    int (*copy)(struct gw_db *db, const char *table, const char *const *cols, size_t ncols,
                const struct gw_dbv *vals, size_t nrows, struct gw_db_err *err);
    /* May be NULL (no notifications: listen/notify succeed, wait sleeps and returns 0). */
    int (*listen)(struct gw_db *db, const char *channel, struct gw_db_err *err);
    int (*notify)(struct gw_db *db, const char *channel, struct gw_db_err *err);
    int (*wait_notify)(struct gw_db *db, int timeout_ms);
    /* May be NULL: base.timeout_ms is updated by store/db.c before the call either way. */
    void (*set_timeout)(struct gw_db *db, uint32_t ms);
    /* Frees everything, the struct included. */
    void (*close)(struct gw_db *db);
};

struct gw_db {
    const struct gw_db_ops *ops;
    enum gw_db_kind kind;
    uint32_t timeout_ms; /* per-call deadline / busy timeout; GW_DB_TIMEOUT_DEFAULT at open */
};

#define GW_DB_TIMEOUT_DEFAULT 5000u

/*
 * Driver entry points. path is the part after "sqlite:" (":memory:" for an
 * in-memory database); url is the whole "postgres://…" URL. 0 with *out set,
 * or -1 with err filled (err->unavailable when the server cannot be reached).
 */
int gw__db_sqlite_open(const char *path, struct gw_db **out, struct gw_db_err *err);
int gw__db_pg_open(const char *url, struct gw_db **out, struct gw_db_err *err);

/*
 * Fills err (NULL is ignored): message from fmt, and unavailable. Always
 * returns -1 so drivers can `return gw__db_errf(...)`.
 */
int gw__db_errf(struct gw_db_err *err, bool unavailable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True when s is a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 bytes). */
bool gw__db_is_ident(const char *s);

#endif
