/*
 * core/auth.c — the presented key and its lookup in the snapshot's key table.
 *
 * Timing: gw_auth_lookup hashes what was presented (SHA-256) and looks the
 * digest up (core/accounts.h). The table holds digests only, so a lookup's
 * timing depends on the digest of the attacker's own input, which tells
 * nothing about any stored secret; and a dump of the table yields no key.
 */
#include <stdint.h>

#include "core/auth.h"
#include "core/common.h"

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The span without leading and trailing spaces and tabs (RFC 9110 §5.6.3 OWS). */
static struct gw_span trim(struct gw_span s)
{
    while (s.len && is_ows(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && is_ows(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/*
 * RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is
 * case-insensitive (RFC 9110 §11.1). We accept one or more spaces and trim
 * trailing whitespace, which some clients leave in.
 */
bool gw_auth_extract(struct gw_span authorization, struct gw_span x_api_key, struct gw_span *key)
{
    static const char scheme[] = "bearer";
    const size_t slen = sizeof(scheme) - 1;
    struct gw_span a = trim(authorization);
    if (a.len > slen && a.ptr[slen] == ' ' &&
        gw_span_ieq(gw_span_make(a.ptr, slen), gw_span_make(scheme, slen))) {
        struct gw_span tok = trim(gw_span_make(a.ptr + slen, a.len - slen));
        if (tok.len) {
            *key = tok;
            return true;
        }
    }
    struct gw_span x = trim(x_api_key);
    if (x.len) {
        *key = x;
        return true;
    }
    return false;
}

bool gw_ct_eq(const void *a, size_t alen, const void *b, size_t blen)
{
    static const unsigned char zero = 0;
    const unsigned char *pa = a;
    /* An empty b is compared as one zero byte, so the loop never reads through NULL. */
    const unsigned char *pb = blen ? b : &zero;
    size_t bmax = blen ? blen - 1 : 0;
    unsigned acc = 0;
    for (size_t i = 0; i < alen; i++) {
        size_t j = i <= bmax ? i : bmax; /* a select, not a branch on data */
        acc |= (unsigned)(pa[i] ^ pb[j]);
    }
    /* volatile keeps the compiler from turning the OR-fold into an early exit */
    volatile unsigned sink = acc;
    return (alen == blen) & (sink == 0);
}

const struct gw_vkey *gw_auth_lookup(const struct gw_config *cfg, struct gw_span presented,
                                     int64_t now, enum gw_key_status *status)
{
    *status = GW_KEY_UNKNOWN;
    if (!cfg || !cfg->accounts || !presented.len)
        return NULL;
    uint8_t d[GW_DIGEST_LEN];
    gw_vkey_digest(presented.ptr, presented.len, d);
    return gw_accounts_find_key(cfg->accounts, d, now, status);
}
