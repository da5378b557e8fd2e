/*
 * store/admin.h — the admin API: keys, teams, prices, usage and the request
 * log, as JSON over HTTP (README "Admin API"). This is the handler, with no
 * socket in it: net/admin.c serves it on its own listener and thread, and
 * tests and the fuzz target call it directly.
 *
 * Every request needs `Authorization: Bearer <master key>` (compared in
 * constant time). Errors use the OpenAI error object. A change (create,
 * patch, delete, rotate, reset-spend, price) is committed to the database,
 * then env->changed() asks the control thread to publish a new snapshot, and
 * on PostgreSQL a NOTIFY on GW_STORE_CHANNEL tells every other instance.
 *
 * Runs on the admin thread only, with that thread's own connection.
 */
#ifndef GW_STORE_ADMIN_H
#define GW_STORE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/accounts.h"
#include "core/span.h"
#include "store/db.h"

struct gw_admin_env {
    struct gw_db *db;          /* the admin thread's connection */
    const char *master_key;    /* non-empty */
    void (*changed)(void *arg); /* after a committed change: rebuild and publish; may be NULL */
    void *arg;
    int64_t (*now)(void *arg); /* Unix seconds; NULL = time(NULL) */
    /*
     * A new reference to the current accounts (the merged price table), which
     * the handler releases with gw_accounts_unref; NULL (function or result)
     * when there is none: GET /admin/v1/prices then lists the database's
     * admin overrides only.
     */
    struct gw_accounts *(*accounts_get)(void *arg);
};

struct gw_admin_resp {
    int status;
    char *body; /* owns (malloc): JSON, NUL-terminated */
    size_t len;
};

/* The largest request body the admin API reads. */
#define GW_ADMIN_MAX_BODY (1u << 20)

/*
 * Handles one request. method and target as on the request line ("GET",
 * "/admin/v1/keys?limit=10"), authorization the header's value (empty span
 * when absent), body the request body. Always fills out (status and a JSON body).
 */
void gw_admin_handle(const struct gw_admin_env *env, struct gw_span method, struct gw_span target,
                     struct gw_span authorization, struct gw_span body, struct gw_admin_resp *out);
void gw_admin_resp_free(struct gw_admin_resp *r);

/* The OpenAPI 3.1 document of every route above (static JSON text). */
extern const char gw_admin_openapi_json[];

#endif
