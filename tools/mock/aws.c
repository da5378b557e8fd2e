/*
 * tools/mock/aws.c — AWS's event stream encoding and the SigV4 signature,
 * for the mock's Bedrock dialect (aws.h), written apart from providers/ so
 * that the mock checks the gateway instead of agreeing with it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <bearssl.h>

#include "core/span.h"
#include "tools/mock/aws.h"

/* ---- event stream ---- */

#define ES_PRELUDE 12 /* total length, headers length, prelude CRC */

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit: messages are small. */
static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

size_t gw_mock_es_encode(char *out, size_t cap, const struct gw_mock_es_header *h, size_t nh,
                         const void *payload, size_t plen)
{
    size_t hl = 0;
    for (size_t i = 0; i < nh; i++) {
        size_t n = strlen(h[i].name), v = strlen(h[i].value);
        if (n == 0 || n > 255 || v > 65535)
            return 0;
        hl += 1 + n + 1 + 2 + v; /* name length, name, type 7, value length, value */
    }
    size_t total = ES_PRELUDE + hl + plen + 4;
    if (total > cap || total > UINT32_MAX)
        return 0;
    unsigned char *p = (unsigned char *)out;
    be32(p, (uint32_t)total);
    be32(p + 4, (uint32_t)hl);
    be32(p + 8, crc32(p, 8));
    size_t at = ES_PRELUDE;
    for (size_t i = 0; i < nh; i++) {
        size_t n = strlen(h[i].name), v = strlen(h[i].value);
        p[at++] = (unsigned char)n;
        memcpy(p + at, h[i].name, n);
        at += n;
        p[at++] = 7;
        p[at++] = (unsigned char)(v >> 8);
        p[at++] = (unsigned char)v;
        memcpy(p + at, h[i].value, v);
        at += v;
    }
    if (plen)
        memcpy(p + at, payload, plen);
    at += plen;
    be32(p + at, crc32(p, at));
    return total;
}

/* ---- SigV4 ---- */

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha_put(br_sha256_context *sha, struct gw_span s)
{
    br_sha256_update(sha, s.ptr, s.len);
}

static void sha_puts(br_sha256_context *sha, const char *s)
{
    br_sha256_update(sha, s, strlen(s));
}

/* HMAC-SHA-256 of msg under key into out (32 bytes). */
static void hmac(const void *key, size_t klen, struct gw_span msg, unsigned char out[32])
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, msg.ptr, msg.len);
    br_hmac_out(&hc, out);
}

/* SigV4's UriEncode of the path: unreserved bytes and '/' stay, the rest become %XX. */
static void sha_put_uri(br_sha256_context *sha, struct gw_span s)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        bool keep = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
                    ch == '/';
        char e[3] = {'%', digits[ch >> 4], digits[ch & 15]};
        br_sha256_update(sha, keep ? s.ptr + i : e, keep ? 1 : 3);
    }
}

void gw_mock_sigv4_signature(const struct gw_mock_sigv4 *r, char out[65])
{
    br_sha256_context sha;
    unsigned char d[32];
    char body_hash[65], creq_hash[65];
    bool token = r->token.len > 0;

    br_sha256_init(&sha);
    sha_put(&sha, r->body);
    br_sha256_out(&sha, d);
    hex(d, 32, body_hash);

    /* CanonicalRequest: method, URI, query, headers (each "name:value\n"), a
     * blank line's "\n", signed header names, payload hash; hashed as written. */
    br_sha256_init(&sha);
    sha_put(&sha, r->method);
    sha_puts(&sha, "\n");
    sha_put_uri(&sha, r->path);
    sha_puts(&sha, "\n");
    sha_put(&sha, r->query);
    sha_puts(&sha, "\nhost:");
    sha_put(&sha, r->host);
    sha_puts(&sha, "\nx-amz-date:");
    sha_put(&sha, r->date);
    if (token) {
        sha_puts(&sha, "\nx-amz-security-token:");
        sha_put(&sha, r->token);
    }
    sha_puts(&sha, token ? "\n\nhost;x-amz-date;x-amz-security-token\n" : "\n\nhost;x-amz-date\n");
    sha_puts(&sha, body_hash);
    br_sha256_out(&sha, d);
    hex(d, 32, creq_hash);

    /* StringToSign and the signing key: HMAC chain over date, region, service. */
    struct gw_span day = gw_span_make(r->date.ptr, r->date.len < 8 ? r->date.len : 8);
    char sts[512];
    size_t n = 0;
    struct gw_span parts[] = {GW_SPAN_LIT("AWS4-HMAC-SHA256\n"),
                              r->date,
                              GW_SPAN_LIT("\n"),
                              day,
                              GW_SPAN_LIT("/"),
                              r->region,
                              GW_SPAN_LIT("/"),
                              gw_span_cstr(r->service),
                              GW_SPAN_LIT("/aws4_request\n"),
                              gw_span_make(creq_hash, 64)};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        size_t k = parts[i].len < sizeof(sts) - n ? parts[i].len : sizeof(sts) - n;
        memcpy(sts + n, parts[i].ptr, k);
        n += k;
    }
    char secret[4 + 256]; /* AWS's secrets are 40 bytes; a longer one than this is cut */
    size_t sl = strlen(r->secret);
    if (sl > sizeof(secret) - 4)
        sl = sizeof(secret) - 4;
    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, r->secret, sl);
    unsigned char k1[32], k2[32];
    hmac(secret, 4 + sl, day, k1);
    hmac(k1, 32, r->region, k2);
    hmac(k2, 32, gw_span_cstr(r->service), k1);
    hmac(k1, 32, GW_SPAN_LIT("aws4_request"), k2);
    hmac(k2, 32, gw_span_make(sts, n), d);
    hex(d, 32, out);
    memset(secret, 0, sizeof(secret));
    memset(k1, 0, sizeof(k1));
    memset(k2, 0, sizeof(k2));
}
