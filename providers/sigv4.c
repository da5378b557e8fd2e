/*
 * providers/sigv4.c — AWS Signature Version 4 (header form) for the Bedrock
 * dialect and the mock that verifies it.
 *
 * [AWS Identity and Access Management User Guide, "Create a signed AWS API
 * request" (formerly General Reference, "Signature Version 4 signing
 * process"): the canonical request, the string to sign, the signing key
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request") and the Authorization value; checked against the
 * aws-sig-v4-test-suite vectors in tests/unit/providers/test_sigv4.c.]
 *
 * The canonical request is never stored to be signed: it is streamed into
 * SHA-256 as it is produced (struct out below), so its size is bounded only
 * by the input limits, and the same code writes it into a buffer for the
 * tests and the mock's diagnostics. Nothing here allocates.
 *
 * Inputs are validated before anything is written, and the limits below are
 * what makes every accepted credential fit GW_SIGV4_AUTH_MAX:
 *   "AWS4-HMAC-SHA256 Credential=" 28 + id 128 + "/" + date 8 + "/" + region 64
 *   + "/" + service 64 + "/aws4_request" 13 + ", SignedHeaders=" 16
 *   + "host;x-amz-date;x-amz-security-token" 36 + ", Signature=" 12 + 64 = 436.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <bearssl.h>

#include "core/common.h"
#include "providers/sigv4.h"

#define ID_MAX 128         /* access key ids are 16-128 characters (IAM AccessKey) */
#define SECRET_MAX 128     /* secret access keys are 40 characters today */
#define SCOPE_MAX 64       /* region and service names */
#define METHOD_MAX 16      /* "OPTIONS" is the longest one in use */
#define HOST_MAX 255       /* a DNS name, with ":port" room to spare */
#define WIRE_PATH_MAX 4096 /* the wire path; Bedrock's is /model/<id or ARN>/converse-stream */
#define QUERY_MAX 4096     /* the canonical query string */
#define TOKEN_MAX 8192     /* STS session tokens run to a few KB */
#define ALGO "AWS4-HMAC-SHA256"

static const char HEX_UP[] = "0123456789ABCDEF";
static const char HEX_LO[] = "0123456789abcdef";

/* ---- output: a bounded buffer, a running SHA-256, or both ---- */

struct out {
    char *buf; /* borrowed: where the text goes, or NULL */
    size_t cap, len;
    bool over;              /* the text did not fit in cap - 1 bytes (room for the NUL) */
    br_sha256_context *sha; /* borrowed: also hashed, or NULL */
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->sha)
        br_sha256_update(o->sha, s, n);
    if (!o->buf)
        return;
    if (o->over || n >= o->cap - o->len) {
        o->over = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Ends the text: NUL-terminates it; its length, or -1 when it did not fit. */
static long finish(struct out *o)
{
    if (o->over || o->cap == 0)
        return -1;
    o->buf[o->len] = '\0';
    return (long)o->len;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* SigV4's UriEncode of s[0..n) into o (see gw_sigv4_uri_encode). */
static void put_encoded(struct out *o, const char *s, size_t n, bool keep_slash)
{
    if (n == 0)
        return;
    size_t run = 0; /* bytes kept as they are, written in one piece */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            run++;
            continue;
        }
        put(o, s + i - run, run);
        run = 0;
        char e[3] = {'%', HEX_UP[c >> 4], HEX_UP[c & 15]};
        put(o, e, 3);
    }
    put(o, s + n - run, run);
}

/* ---- validation ---- */

/* s is non-NULL, 1..max bytes long, and every byte passes ok(). */
static bool valid_str(const char *s, size_t max, bool (*ok)(unsigned char))
{
    if (!s)
        return false;
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ok((unsigned char)s[i]))
            return false;
    return true;
}

/* Visible ASCII: no space, no control byte, nothing that could end a header line. */
static bool is_vchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* A path byte as it may appear on the wire: visible, or UTF-8 (encoded when signed). */
static bool is_path_char(unsigned char c)
{
    return (is_vchar(c) || c >= 0x80) && c != '?' && c != '#';
}

static bool is_query_char(unsigned char c)
{
    return is_vchar(c) && c != '#';
}

static bool is_scope_char(unsigned char c)
{
    return unreserved(c) && c != '~';
}

static bool is_method_char(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lohex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* "YYYYMMDDTHHMMSSZ", digits where digits go (the calendar itself is not checked). */
static bool valid_amz_date(const char *s)
{
    if (!s || strnlen(s, GW_SIGV4_DATE_LEN) != GW_SIGV4_DATE_LEN - 1)
        return false;
    for (size_t i = 0; i < GW_SIGV4_DATE_LEN - 1; i++) {
        bool ok = i == 8 ? s[i] == 'T' : i == 15 ? s[i] == 'Z' : is_digit((unsigned char)s[i]);
        if (!ok)
            return false;
    }
    return true;
}

/*
 * The wire path: starts with '/', and has no empty, "." or ".." segment.
 * SigV4 normalises such paths for every service but S3 (RFC 3986 §5.2.4)
 * before signing; refusing them keeps what we sign identical to what AWS
 * checks without implementing that normalisation.
 */
static bool valid_path(const char *p)
{
    if (!valid_str(p, WIRE_PATH_MAX, is_path_char) || p[0] != '/')
        return false;
    if (p[1] == '\0')
        return true;
    for (const char *seg = p + 1;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        /* An empty last segment is a trailing slash, which AWS keeps. */
        if ((n == 0 && end) || (n == 1 && seg[0] == '.') ||
            (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!end)
            return true;
        seg = end + 1;
    }
}

static bool valid_req(const struct gw_sigv4_req *r)
{
    if (!r || !valid_str(r->method, METHOD_MAX, is_method_char) || !valid_path(r->path) ||
        !r->query || !r->session_token || !valid_str(r->host, HOST_MAX, is_vchar) ||
        !valid_amz_date(r->amz_date))
        return false;
    if (r->query[0] && !valid_str(r->query, QUERY_MAX, is_query_char))
        return false;
    if (r->session_token[0] && !valid_str(r->session_token, TOKEN_MAX, is_vchar))
        return false;
    return r->payload_hash && strnlen(r->payload_hash, 65) == 64 &&
           valid_str(r->payload_hash, 64, is_lohex);
}

static bool valid_creds(const struct gw_sigv4_creds *c)
{
    return c && valid_str(c->access_key_id, ID_MAX, is_scope_char) &&
           valid_str(c->secret_access_key, SECRET_MAX, is_vchar) &&
           valid_str(c->region, SCOPE_MAX, is_scope_char) &&
           valid_str(c->service, SCOPE_MAX, is_scope_char);
}

/* ---- the steps ---- */

static const char *signed_headers(const struct gw_sigv4_req *r)
{
    return r->session_token[0] ? "host;x-amz-date;x-amz-security-token" : "host;x-amz-date";
}

/*
 * CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n
 * CanonicalHeaders \n SignedHeaders \n HashedPayload, where CanonicalHeaders
 * is "name:value\n" per signed header, names lower-case and sorted
 * (host < x-amz-date < x-amz-security-token). Values are passed as they are:
 * valid_req refused any with spaces, so trimming has nothing to do. r is valid.
 */
static void put_canonical_request(struct out *o, const struct gw_sigv4_req *r)
{
    puts_(o, r->method);
    put(o, "\n", 1);
    put_encoded(o, r->path, strlen(r->path), true);
    put(o, "\n", 1);
    puts_(o, r->query);
    put(o, "\nhost:", 6);
    puts_(o, r->host);
    put(o, "\nx-amz-date:", 12);
    puts_(o, r->amz_date);
    if (r->session_token[0]) {
        put(o, "\nx-amz-security-token:", 22);
        puts_(o, r->session_token);
    }
    put(o, "\n\n", 2);
    puts_(o, signed_headers(r));
    put(o, "\n", 1);
    put(o, r->payload_hash, 64);
}

/* "<date>/<region>/<service>/aws4_request"; c and r are valid. */
static void put_scope(struct out *o, const struct gw_sigv4_creds *c, const struct gw_sigv4_req *r)
{
    put(o, r->amz_date, 8);
    put(o, "/", 1);
    puts_(o, c->region);
    put(o, "/", 1);
    puts_(o, c->service);
    put(o, "/aws4_request", 13);
}

static void hex_lower(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX_LO[b[i] >> 4];
        out[2 * i + 1] = HEX_LO[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/*
 * StringToSign = "AWS4-HMAC-SHA256" \n amz_date \n scope \n hex(SHA256(CanonicalRequest)).
 * c and r are valid.
 */
static void put_string_to_sign(struct out *o, const struct gw_sigv4_creds *c,
                               const struct gw_sigv4_req *r)
{
    br_sha256_context sha;
    br_sha256_init(&sha);
    struct out h = {.sha = &sha};
    put_canonical_request(&h, r);
    unsigned char d[32];
    br_sha256_out(&sha, d);
    char hex[65];
    hex_lower(d, sizeof(d), hex);

    puts_(o, ALGO "\n");
    put(o, r->amz_date, 16);
    put(o, "\n", 1);
    put_scope(o, c, r);
    put(o, "\n", 1);
    put(o, hex, 64);
}

/* out = HMAC-SHA256(key[0..klen), msg[0..mlen)). */
static void hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, msg, mlen);
    br_hmac_out(&hc, out);
    explicit_bzero(&kc, sizeof(kc)); /* key material */
    explicit_bzero(&hc, sizeof(hc));
}

/* ---- public ---- */

void gw_sha256_hex(const void *data, size_t len, char out[65])
{
    br_sha256_context sha;
    br_sha256_init(&sha);
    br_sha256_update(&sha, data, len);
    unsigned char d[32];
    br_sha256_out(&sha, d);
    hex_lower(d, sizeof(d), out);
}

/*
 * Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible
 * Low-Level Date Algorithms", civil_from_days), in unsigned arithmetic since
 * t >= 0 here. Times past 9999-12-31T23:59:59Z, which x-amz-date's four-digit
 * year cannot show, are written as that instant.
 */
void gw_sigv4_amz_date(uint64_t t, char out[GW_SIGV4_DATE_LEN])
{
    const uint64_t last = 253402300799u; /* 9999-12-31T23:59:59Z */
    if (t > last)
        t = last;
    uint64_t days = t / 86400, secs = t % 86400;
    uint64_t z = days + 719468;
    uint64_t era = z / 146097;
    uint64_t doe = z - era * 146097;                                      /* [0, 146096] */
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    uint64_t y = yoe + era * 400;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365], from March 1 */
    uint64_t mp = (5 * doy + 2) / 153;                      /* [0, 11], March = 0 */
    uint64_t d = doy - (153 * mp + 2) / 5 + 1;
    uint64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    unsigned v[6] = {(unsigned)y,
                     (unsigned)m,
                     (unsigned)d,
                     (unsigned)(secs / 3600),
                     (unsigned)(secs / 60 % 60),
                     (unsigned)(secs % 60)};
    char *p = out;
    for (int i = 0; i < 6; i++) {
        int w = i == 0 ? 4 : 2;
        for (int k = w - 1; k >= 0; k--, v[i] /= 10)
            p[k] = (char)('0' + v[i] % 10);
        p += w;
        if (i == 2)
            *p++ = 'T';
    }
    *p++ = 'Z';
    *p = '\0';
}

long gw_sigv4_uri_encode(const char *s, size_t n, bool keep_slash, char *out, size_t cap)
{
    if (!out || (!s && n))
        return -1;
    struct out o = {.buf = out, .cap = cap};
    put_encoded(&o, s, n, keep_slash);
    return finish(&o);
}

long gw_sigv4_canonical_request(const struct gw_sigv4_req *r, char *out, size_t cap)
{
    if (!out || !valid_req(r))
        return -1;
    struct out o = {.buf = out, .cap = cap};
    put_canonical_request(&o, r);
    return finish(&o);
}

long gw_sigv4_string_to_sign(const struct gw_sigv4_creds *c, const struct gw_sigv4_req *r,
                             char *out, size_t cap)
{
    if (!out || !valid_creds(c) || !valid_req(r))
        return -1;
    struct out o = {.buf = out, .cap = cap};
    put_string_to_sign(&o, c, r);
    return finish(&o);
}

long gw_sigv4_authorization(const struct gw_sigv4_creds *c, const struct gw_sigv4_req *r, char *out,
                            size_t cap)
{
    if (!out || !valid_creds(c) || !valid_req(r))
        return -1;

    /* 17 + 17 + scope (8 + 1 + 64 + 1 + 64 + 13) + 1 + 64 < 256 */
    char sts[256];
    struct out s = {.buf = sts, .cap = sizeof(sts)};
    put_string_to_sign(&s, c, r);
    long slen = finish(&s);
    GW_BUG_ON(slen < 0);

    char ksecret[4 + SECRET_MAX];
    size_t klen = strlen(c->secret_access_key);
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, c->secret_access_key, klen);
    unsigned char k[32];
    hmac(ksecret, 4 + klen, r->amz_date, 8, k); /* kDate */
    hmac(k, 32, c->region, strlen(c->region), k);
    hmac(k, 32, c->service, strlen(c->service), k);
    hmac(k, 32, "aws4_request", 12, k); /* kSigning */
    unsigned char sig[32];
    hmac(k, 32, sts, (size_t)slen, sig);
    char sighex[65];
    hex_lower(sig, sizeof(sig), sighex);
    /* The secret and the keys derived from it do not outlive the call. */
    explicit_bzero(ksecret, sizeof(ksecret));
    explicit_bzero(k, sizeof(k));

    struct out o = {.buf = out, .cap = cap};
    puts_(&o, ALGO " Credential=");
    puts_(&o, c->access_key_id);
    put(&o, "/", 1);
    put_scope(&o, c, r);
    puts_(&o, ", SignedHeaders=");
    puts_(&o, signed_headers(r));
    puts_(&o, ", Signature=");
    put(&o, sighex, 64);
    return finish(&o);
}
