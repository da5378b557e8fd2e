/*
 * store/db.h — one database connection, SQLite or PostgreSQL, behind one
 * small interface: parameterised statements with rows delivered to a
 * callback, bulk insert, and (PostgreSQL) LISTEN/NOTIFY.
 *
 * SQL is written once, in the dialect both engines share, with $1..$N
 * placeholders (the SQLite driver binds them as ?1..?N). Values cross the
 * interface as struct gw_dbv: NULL, 64-bit integer, double or text.
 *
 * A connection belongs to one thread at a time: the store thread, the
 * control thread and the admin thread each open their own. Never a worker
 * (core/ARCHITECTURE.md). Every call is bounded in time:
 *   SQLite      busy_timeout (a locked database fails the call quickly with
 *               err.unavailable set; WAL mode lets readers run beside the writer);
 *   PostgreSQL  non-blocking libpq (PQsendQueryParams, PQconsumeInput, poll)
 *               with a deadline per call; a connection that fails or times out
 *               is marked broken, err.unavailable is set, and the caller closes
 *               it and opens a new one later.
 *
 * URLs: "sqlite:PATH" (also "sqlite://PATH", "sqlite::memory:" for tests)
 * and "postgres://…" / "postgresql://…" (libpq's URI syntax).
 */
#ifndef GW_STORE_DB_H
#define GW_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gw_db_kind { GW_DB_SQLITE = 0, GW_DB_PG, GW_DB_KIND_COUNT };

struct gw_db_err {
    char message[512];
    bool unavailable; /* the database cannot be reached or is locked: retry later */
};

enum gw_dbv_type { GW_DBV_NULL = 0, GW_DBV_INT, GW_DBV_REAL, GW_DBV_TEXT, GW_DBV_TYPE_COUNT };

/* One value. Text is borrowed (need not be NUL-terminated in params; is in rows). */
struct gw_dbv {
    enum gw_dbv_type t;
    int64_t i;
    double d;
    const char *s;
    size_t len;
};

#define GW_DBV_NUL ((struct gw_dbv){.t = GW_DBV_NULL})
#define GW_DBV_INT(x) ((struct gw_dbv){.t = GW_DBV_INT, .i = (int64_t)(x)})
#define GW_DBV_REAL(x) ((struct gw_dbv){.t = GW_DBV_REAL, .d = (double)(x)})
#define GW_DBV_STR(x) ((struct gw_dbv){.t = GW_DBV_TEXT, .s = (x), .len = strlen(x)})
#define GW_DBV_STRN(x, n) ((struct gw_dbv){.t = GW_DBV_TEXT, .s = (x), .len = (n)})

/*
 * One result row: ncols values, valid only during the call. Integer columns
 * arrive as GW_DBV_INT from SQLite and as GW_DBV_TEXT from PostgreSQL's text
 * protocol: read them with gw_dbv_int. Return 0 to go on, non-zero to stop.
 */
typedef int (*gw_db_row_fn)(void *arg, const struct gw_dbv *cols, size_t ncols);

struct gw_db;

/* Opens a connection (creates the SQLite file; WAL mode). 0, or -1 with err. */
int gw_db_open(const char *url, struct gw_db **out, struct gw_db_err *err);
void gw_db_close(struct gw_db *db); /* NULL is ignored */
enum gw_db_kind gw_db_kind_of(const struct gw_db *db);
/* The URL with any password replaced by "***", for logs. */
void gw_db_url_redact(const char *url, char *out, size_t cap);
/* Sets the per-call deadline (PostgreSQL) / busy timeout (SQLite), ms. Default 5000. */
void gw_db_set_timeout(struct gw_db *db, uint32_t ms);

/*
 * Runs one statement with params; rows (if any) go to fn (may be NULL).
 * Returns the number of rows changed (INSERT/UPDATE/DELETE) or returned, or
 * -1 with err filled.
 */
int64_t gw_db_exec(struct gw_db *db, const char *sql, const struct gw_dbv *params, size_t nparams,
                   gw_db_row_fn fn, void *arg, struct gw_db_err *err);
/* Runs several statements without params (migrations). 0 or -1. */
int gw_db_exec_script(struct gw_db *db, const char *sql, struct gw_db_err *err);
/* BEGIN / COMMIT / ROLLBACK (rollback never fails the caller). */
int gw_db_begin(struct gw_db *db, struct gw_db_err *err);
int gw_db_commit(struct gw_db *db, struct gw_db_err *err);
void gw_db_rollback(struct gw_db *db);

/*
 * Bulk insert of nrows rows of ncols values (row-major in vals) into
 * table(cols): COPY … FROM STDIN on PostgreSQL, one prepared INSERT reused on
 * SQLite. Runs inside the caller's transaction. 0 or -1.
 */
int gw_db_copy(struct gw_db *db, const char *table, const char *const *cols, size_t ncols,
               const struct gw_dbv *vals, size_t nrows, struct gw_db_err *err);

/*
 * PostgreSQL LISTEN/NOTIFY (SQLite: listen and notify succeed and do nothing,
 * wait returns 0 after the timeout). wait returns 1 when at least one
 * notification on a channel this connection listens to arrived (all pending
 * ones are consumed), 0 on timeout, -1 when the connection broke.
 */
int gw_db_listen(struct gw_db *db, const char *channel, struct gw_db_err *err);
int gw_db_notify(struct gw_db *db, const char *channel, struct gw_db_err *err);
int gw_db_wait_notify(struct gw_db *db, int timeout_ms);

/* A column as an integer (GW_DBV_INT, or decimal text); def for NULL or bad text. */
int64_t gw_dbv_int(const struct gw_dbv *v, int64_t def);
/* A column as a double (GW_DBV_REAL, GW_DBV_INT or text); def for NULL. */
double gw_dbv_real(const struct gw_dbv *v, double def);

#endif
