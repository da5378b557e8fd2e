/*
 * core/vkey.h — virtual key secrets: generation, digests, ids.
 *
 * A virtual key is "condt_" followed by 32 base62 characters drawn from
 * getrandom(2) by rejection sampling (no modulo bias): about 190 bits. The
 * gateway keeps only its SHA-256 digest (BearSSL's br_sha256); the secret is
 * shown once, at creation or rotation. Lookups hash what the client presents
 * and find the digest in the snapshot's table (core/accounts.h), so neither
 * timing nor a database dump reveals a usable key.
 *
 * Called on the control, store and admin threads (getrandom may block before
 * the kernel's pool is seeded at boot: never on a worker).
 */
#ifndef GW_CORE_VKEY_H
#define GW_CORE_VKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/span.h"

#define GW_VKEY_PREFIX "condt_"
#define GW_VKEY_PREFIX_LEN 6
#define GW_VKEY_RANDOM_LEN 32
#define GW_VKEY_LEN (GW_VKEY_PREFIX_LEN + GW_VKEY_RANDOM_LEN)
#define GW_DIGEST_LEN 32
/* Shown in lists instead of the secret: "condt_AbCd…" (prefix + 4 characters). */
#define GW_VKEY_HINT_LEN (GW_VKEY_PREFIX_LEN + 4)

/* Writes a new secret, NUL-terminated, into out (GW_VKEY_LEN + 1 bytes). 0 or -errno. */
int gw_vkey_generate(char out[GW_VKEY_LEN + 1]);
/*
 * Writes a new id: `prefix` ("key_" or "team_") then 16 base62 characters,
 * NUL-terminated, into out (cap >= strlen(prefix) + 17). 0 or -errno.
 */
int gw_vkey_new_id(const char *prefix, char *out, size_t cap);
/* SHA-256 of the presented secret's bytes. */
void gw_vkey_digest(const void *secret, size_t len, uint8_t out[GW_DIGEST_LEN]);
/* Lowercase hex of a digest, NUL-terminated (65 bytes), and back (false on bad input). */
void gw_digest_hex(const uint8_t d[GW_DIGEST_LEN], char out[2 * GW_DIGEST_LEN + 1]);
bool gw_digest_from_hex(struct gw_span hex, uint8_t out[GW_DIGEST_LEN]);
/* True when s has the shape of a virtual key: the prefix and 32 base62 characters. */
bool gw_vkey_is_wellformed(struct gw_span s);

#endif
