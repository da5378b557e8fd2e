/*
 * core/vkey.c — virtual key secrets: random base62 from getrandom(2),
 * SHA-256 digests through BearSSL, hex.
 *
 * Base62 by rejection sampling: a random byte b is used only when
 * b < 248 (= 4 * 62), and then b % 62 is uniform over the alphabet. Taking
 * every byte modulo 62 would favour the first 8 characters (256 = 4 * 62 + 8).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include <bearssl.h>

#include "core/common.h"
#include "core/vkey.h"

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
#define B62_ACCEPT_BELOW 248 /* largest multiple of 62 that fits in a byte */

/* Fills buf with n bytes from getrandom(2) (blocking until the pool is seeded). 0 or -errno. */
static int random_bytes(uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Writes n uniformly random base62 characters into out (not terminated). 0 or -errno. */
static int random_base62(char *out, size_t n)
{
    uint8_t pool[64];
    size_t have = 0, used = 0, done = 0;
    int rc = 0;

    while (done < n) {
        if (used == have) {
            /* ~3% of bytes are rejected: ask for a little more than needed. */
            size_t want = GW_MIN(sizeof(pool), n - done + 8);
            rc = random_bytes(pool, want);
            if (rc < 0)
                goto out;
            have = want;
            used = 0;
        }
        uint8_t b = pool[used++];
        if (b < B62_ACCEPT_BELOW)
            out[done++] = b62[b % 62];
    }
out:
    explicit_bzero(pool, sizeof(pool));
    return rc;
}

int gw_vkey_generate(char out[GW_VKEY_LEN + 1])
{
    memcpy(out, GW_VKEY_PREFIX, GW_VKEY_PREFIX_LEN);
    int rc = random_base62(out + GW_VKEY_PREFIX_LEN, GW_VKEY_RANDOM_LEN);
    if (rc < 0) {
        out[0] = '\0';
        return rc;
    }
    out[GW_VKEY_LEN] = '\0';
    return 0;
}

#define ID_RANDOM_LEN 16

int gw_vkey_new_id(const char *prefix, char *out, size_t cap)
{
    size_t plen = strlen(prefix);
    if (cap < plen + ID_RANDOM_LEN + 1)
        return -ENOSPC;
    memcpy(out, prefix, plen);
    int rc = random_base62(out + plen, ID_RANDOM_LEN);
    if (rc < 0) {
        out[0] = '\0';
        return rc;
    }
    out[plen + ID_RANDOM_LEN] = '\0';
    return 0;
}

void gw_vkey_digest(const void *secret, size_t len, uint8_t out[GW_DIGEST_LEN])
{
    br_sha256_context sha;
    br_sha256_init(&sha);
    br_sha256_update(&sha, secret, len);
    br_sha256_out(&sha, out);
}

void gw_digest_hex(const uint8_t d[GW_DIGEST_LEN], char out[2 * GW_DIGEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < GW_DIGEST_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 0xf];
    }
    out[2 * GW_DIGEST_LEN] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Accepts upper case too (a digest pasted from another tool); out is untouched on false. */
bool gw_digest_from_hex(struct gw_span hex, uint8_t out[GW_DIGEST_LEN])
{
    uint8_t tmp[GW_DIGEST_LEN];

    if (!hex.ptr || hex.len != 2 * GW_DIGEST_LEN)
        return false;
    for (size_t i = 0; i < GW_DIGEST_LEN; i++) {
        int hi = hex_val(hex.ptr[2 * i]), lo = hex_val(hex.ptr[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(out, tmp, sizeof(tmp));
    return true;
}

static bool is_base62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool gw_vkey_is_wellformed(struct gw_span s)
{
    if (!s.ptr || s.len != GW_VKEY_LEN || memcmp(s.ptr, GW_VKEY_PREFIX, GW_VKEY_PREFIX_LEN) != 0)
        return false;
    for (size_t i = GW_VKEY_PREFIX_LEN; i < GW_VKEY_LEN; i++) {
        if (!is_base62(s.ptr[i]))
            return false;
    }
    return true;
}
