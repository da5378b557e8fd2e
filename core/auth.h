/*
 * core/auth.h — who is calling: pulling the presented key out of the request
 * headers and finding it in the snapshot's key table.
 *
 * The lookup is an interface so that the store issue can put database-backed
 * virtual keys (stored hashed) behind it: for now the table is the config's
 * `keys` section. Comparison is constant-time in the secret's bytes and walks
 * every configured key, so timing reveals neither a prefix nor which key matched.
 */
#ifndef GW_CORE_AUTH_H
#define GW_CORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/span.h"

/*
 * From the values of the Authorization and X-API-Key headers (empty spans when
 * absent), the presented key: "Bearer <key>" (scheme case-insensitive, one or
 * more spaces) wins, else X-API-Key. Returns false when there is none.
 */
bool gw_auth_extract(struct gw_span authorization, struct gw_span x_api_key, struct gw_span *key);

/* The configured key matching `presented`, or NULL. */
const struct gw_key *gw_auth_lookup(const struct gw_config *cfg, struct gw_span presented);

/* Constant-time equality for equal lengths; false (in time of a.len) when lengths differ. */
bool gw_ct_eq(const void *a, size_t alen, const void *b, size_t blen);

#endif
