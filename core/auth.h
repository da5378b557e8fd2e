/*
 * core/auth.h — who is calling: pulling the presented key out of the request
 * headers and finding it in the snapshot's key table.
 *
 * Keys are found by the SHA-256 digest of what the client presents, in the
 * snapshot's accounts (core/accounts.h): virtual keys from the store and the
 * config's static `keys`, all kept as digests only.
 */
#ifndef GW_CORE_AUTH_H
#define GW_CORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/accounts.h"
#include "core/config.h"
#include "core/span.h"

/*
 * From the values of the Authorization and X-API-Key headers (empty spans when
 * absent), the presented key: "Bearer <key>" (scheme case-insensitive, one or
 * more spaces) wins, else X-API-Key. Returns false when there is none.
 */
bool gw_auth_extract(struct gw_span authorization, struct gw_span x_api_key, struct gw_span *key);

/*
 * The key matching `presented` at `now` (Unix seconds), or NULL with *status
 * saying why (unknown, disabled, expired: the caller answers all alike).
 */
const struct gw_vkey *gw_auth_lookup(const struct gw_config *cfg, struct gw_span presented,
                                     int64_t now, enum gw_key_status *status);

/* Constant-time equality for equal lengths; false (in time of a.len) when lengths differ. */
bool gw_ct_eq(const void *a, size_t alen, const void *b, size_t blen);

#endif
