/*
 * net/http1.c — strict HTTP/1.1 head parsers and the chunked decoder (RFC 9112).
 *
 * The parsers are single-pass: every byte is looked at once per call, and each
 * decision (valid, invalid with a reason) is taken at the first byte that makes
 * it certain. Two properties follow that callers and the fuzz harness rely on:
 *
 *  - a prefix of a valid head always returns -2, never -1 and never success;
 *  - a prefix of an invalid head returns either -2 or the same error as the
 *    whole input, so feeding bytes as they arrive never changes the verdict.
 *
 * Callers re-run the parser from the start of the buffer when more bytes
 * arrive; each call is linear in the bytes it is given, and the caller's cap
 * on header bytes bounds the total work.
 *
 * The hot loops (request-target, field values) test eight bytes per step with
 * word arithmetic and fall back to one byte at a time only around a byte that
 * stops them; header names go through a 128-entry table.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/common.h"
#include "net/http1.h"

/* ---- character classes ---- */

/* RFC 9110 §5.6.2 tchar; bytes 0x80-0xff are zero (not tokens). */
static const uint8_t tchar[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20  !"#$%&'()*+,-./ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 0-9:;<=>? */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 @A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, /* 0x50 P-Z[\]^_ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 `a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, /* 0x70 p-z{|}~DEL */
};

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/*
 * Flags (bit 7 of the byte) the bytes of w that are below n (0 < n <= 128) or
 * equal to 0x7f: the classic hasless/haszero word tricks. A flag can be wrong
 * only above a byte that truly matches (the borrow runs upward), so the mask
 * is zero exactly when no byte matches, and its lowest flag is always a true
 * match: the first stop byte of the word.
 */
static inline uint64_t ctl_mask(uint64_t w, unsigned n)
{
    uint64_t lt = (w - ONES * n) & ~w & HIGHS;
    uint64_t x = w ^ (ONES * 0x7f);
    uint64_t del = (x - ONES) & ~x & HIGHS;
    return lt | del;
}

/* Loads eight bytes so that byte i of the buffer is byte i of the word. */
static inline uint64_t load_le64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Index of the first flagged byte of a non-zero ctl_mask(). */
static inline unsigned first_flag(uint64_t m)
{
    return (unsigned)__builtin_ctzll(m) / 8;
}

/*
 * Returns the first byte in [p, end) that may not appear in a request-target
 * (SP, a control byte or DEL), or end. Bytes 0x80-0xff pass: the target is
 * opaque here and routing compares it against ASCII paths.
 */
static const char *scan_target(const char *p, const char *end)
{
    for (; end - p >= 8; p += 8) {
        uint64_t m = ctl_mask(load_le64(p), 0x21);
        if (m)
            return p + first_flag(m);
    }
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f)
            return p;
    }
    return end;
}

/*
 * Returns the first byte in [p, end) that may not appear in a field value or a
 * reason phrase (RFC 9110 §5.5: VCHAR, SP, HTAB, obs-text), or end. On a
 * well-formed line this is the CR. HTAB is below 0x20, so the word test stops
 * on it too; the scan then resumes just after it.
 */
static const char *scan_value(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t m = ctl_mask(load_le64(p), 0x20);
        if (!m) {
            p += 8;
            continue;
        }
        p += first_flag(m);
        if (*p != '\t')
            return p;
        p++;
    }
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return p;
    }
    return end;
}

/*
 * Returns the first byte in [p, end) that is not a tchar, or end. Unrolled by
 * four so the bounds test is paid once per four bytes (header names average
 * about fifteen).
 */
static inline const char *scan_token(const char *p, const char *end)
{
    while (end - p >= 4) {
        if (!tchar[(unsigned char)p[0]])
            return p;
        if (!tchar[(unsigned char)p[1]])
            return p + 1;
        if (!tchar[(unsigned char)p[2]])
            return p + 2;
        if (!tchar[(unsigned char)p[3]])
            return p + 3;
        p += 4;
    }
    while (p < end && tchar[(unsigned char)*p])
        p++;
    return p;
}

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- head state shared by the request and response parsers ---- */

#define CONN_CLOSE (1u << 0)
#define CONN_KEEPALIVE (1u << 1)

struct head {
    bool is_request;
    int minor_version;
    unsigned flags; /* GW_H1_F_* gathered so far */
    unsigned conn;  /* CONN_* tokens seen across all Connection fields */
    unsigned hosts; /* Host fields seen (requests) */
    uint64_t content_length;
    size_t num_headers;
    enum gw_http1_err err;
};

static int fail(struct head *h, enum gw_http1_err e)
{
    h->err = e;
    return -1;
}

/*
 * Fails on the byte c where the grammar wanted something else. An LF there is
 * always bare (a CR before it would have stopped the parser first), so it is
 * reported as such; anything else gets the caller's context error.
 */
static int fail_at(struct head *h, char c, enum gw_http1_err e)
{
    return fail(h, c == '\n' ? GW_H1E_BARE_LF : e);
}

/*
 * Content-Length (RFC 9110 §8.6, RFC 9112 §6.3 item 5). A list such as "5, 5"
 * is what a proxy makes of two fields, so it is refused like two fields, even
 * when the values agree: a single canonical value is the only thing we pass on.
 * Elements that are not all digits make the whole value BAD, not DUP.
 */
static enum gw_http1_err parse_content_length(const char *v, size_t n, uint64_t *out)
{
    size_t i = 0, elements = 0;
    uint64_t val = 0;
    if (n == 0)
        return GW_H1E_BAD_CONTENT_LENGTH;
    for (;;) {
        while (i < n && is_ows(v[i]))
            i++;
        size_t digits = 0;
        val = 0;
        for (; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
            uint64_t d = (uint64_t)(v[i] - '0');
            if (val > (UINT64_MAX - d) / 10)
                return GW_H1E_BAD_CONTENT_LENGTH;
            val = val * 10 + d;
        }
        while (i < n && is_ows(v[i]))
            i++;
        if (digits == 0 || (i < n && v[i] != ','))
            return GW_H1E_BAD_CONTENT_LENGTH;
        elements++;
        if (i == n)
            break;
        i++; /* the comma */
    }
    if (elements > 1)
        return GW_H1E_DUP_CONTENT_LENGTH;
    *out = val;
    return GW_H1E_NONE;
}

/*
 * Case-insensitive match of validated name or value bytes against a literal
 * of lowercase letters, digits and '-'. OR-ing 0x20 folds case; the only other
 * bytes it could fold onto those are CR and 0x10-0x19, which the line scanners
 * have already refused. Cheaper than strncasecmp, which goes through locale.
 */
static inline bool lower_eq(const char *s, size_t len, const char *lit, size_t lit_len)
{
    if (len != lit_len)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] | 0x20) != (unsigned char)lit[i])
            return false;
    }
    return true;
}

/* Connection options are a token list (RFC 9110 §7.6.1); only two matter here. */
static unsigned connection_tokens(const char *v, size_t n)
{
    unsigned out = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows(v[i]) || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && is_ows(v[e - 1]))
            e--;
        if (lower_eq(v + s, e - s, "close", 5))
            out |= CONN_CLOSE;
        else if (lower_eq(v + s, e - s, "keep-alive", 10))
            out |= CONN_KEEPALIVE;
    }
    return out;
}

/*
 * Applies the framing rules to one complete field line. Only five names
 * matter, so the length is compared first and most fields cost one switch.
 */
static int on_field(struct head *h, const char *name, size_t nlen, const char *v, size_t vlen)
{
    switch (nlen) {
    case 14: {
        if (!lower_eq(name, nlen, "content-length", 14))
            return 0;
        if (h->flags & GW_H1_F_HAS_CL)
            return fail(h, GW_H1E_DUP_CONTENT_LENGTH);
        if (h->flags & GW_H1_F_CHUNKED)
            return fail(h, GW_H1E_CL_AND_TE);
        enum gw_http1_err e = parse_content_length(v, vlen, &h->content_length);
        if (e != GW_H1E_NONE)
            return fail(h, e);
        h->flags |= GW_H1_F_HAS_CL;
        return 0;
    }
    case 17:
        if (!lower_eq(name, nlen, "transfer-encoding", 17))
            return 0;
        /* RFC 9112 §6.1: TE with CL, or TE in an HTTP/1.0 message, is faulty framing. */
        if (h->flags & GW_H1_F_HAS_CL)
            return fail(h, GW_H1E_CL_AND_TE);
        /*
         * Exactly one coding, "chunked". A second TE field is the list
         * "chunked, chunked" in disguise (RFC 9110 §5.3) and goes the same way.
         */
        if ((h->flags & GW_H1_F_CHUNKED) || h->minor_version == 0 ||
            !lower_eq(v, vlen, "chunked", 7))
            return fail(h, GW_H1E_BAD_TRANSFER_ENCODING);
        h->flags |= GW_H1_F_CHUNKED;
        return 0;
    case 10:
        if (lower_eq(name, nlen, "connection", 10))
            h->conn |= connection_tokens(v, vlen);
        return 0;
    case 4:
        /*
         * RFC 9112 §3.2: more than one Host line is a 400, whatever the
         * version. Two hosts let the next hop route on the one we did not
         * check (or the reverse); the values are not compared, a repeat of the
         * same one is refused too, like Content-Length.
         */
        if (h->is_request && lower_eq(name, nlen, "host", 4) && h->hosts++ > 0)
            return fail(h, GW_H1E_DUP_HOST);
        return 0;
    case 6:
        /* RFC 9110 §10.1.1: a server ignores 100-continue from an HTTP/1.0 client. */
        if (h->is_request && h->minor_version == 1 && lower_eq(name, nlen, "expect", 6) &&
            lower_eq(v, vlen, "100-continue", 12))
            h->flags |= GW_H1_F_EXPECT_100;
        return 0;
    default:
        return 0;
    }
}

/*
 * Parses field lines from p up to and including the empty line. buf is the
 * start of the head, for the returned length. Returns the head length, -2 or
 * -1 (h->err).
 */
static int parse_fields(struct head *h, const char *buf, const char *p, const char *end,
                        struct gw_http1_header *headers, size_t max_headers)
{
    size_t n = 0;
    for (;;) {
        if (p == end)
            return -2;
        if (*p == '\r') {
            if (p + 1 == end)
                return -2;
            if (p[1] != '\n')
                return fail(h, GW_H1E_BARE_LF);
            h->num_headers = n;
            return (int)(p + 2 - buf);
        }
        if (n == max_headers)
            return fail_at(h, *p, GW_H1E_TOO_MANY_HEADERS);

        /* An empty name also catches obs-fold: a line that starts with SP or HTAB. */
        const char *name = p;
        p = scan_token(p, end);
        if (p == end)
            return -2;
        if (*p != ':' || p == name)
            return fail_at(h, *p, GW_H1E_BAD_HEADER);
        size_t nlen = (size_t)(p - name);

        p++;
        while (p < end && is_ows(*p))
            p++;
        const char *val = p;
        p = scan_value(p, end);
        if (p == end)
            return -2;
        if (*p != '\r')
            return fail_at(h, *p, GW_H1E_BAD_HEADER);
        if (p + 1 == end)
            return -2;
        if (p[1] != '\n')
            return fail(h, GW_H1E_BARE_LF);
        const char *vend = p;
        while (vend > val && is_ows(vend[-1]))
            vend--;
        p += 2;

        headers[n].name = gw_span_make(name, nlen);
        headers[n].value = gw_span_make(val, (size_t)(vend - val));
        n++;
        if (on_field(h, name, nlen, val, (size_t)(vend - val)) < 0)
            return -1;
    }
}

/* RFC 9112 §9.3: HTTP/1.1 persists unless closed; HTTP/1.0 only when asked. */
static bool persists(const struct head *h)
{
    if (h->conn & CONN_CLOSE)
        return false;
    return h->minor_version == 1 || (h->conn & CONN_KEEPALIVE);
}

/*
 * Heads are bounded by the caller's cap, far below INT_MAX; clamping keeps the
 * int return meaningful for any len (an oversized head just stays "incomplete").
 */
static inline const char *buf_end(const char *buf, size_t len)
{
    return buf + GW_MIN(len, (size_t)INT_MAX);
}

/* ---- requests ---- */

int gw_http1_parse_request(const char *buf, size_t len, struct gw_http1_req *req,
                           struct gw_http1_header *headers, size_t max_headers)
{
    struct head h = {.is_request = true, .err = GW_H1E_NONE};
    const char *p = buf, *end = buf_end(buf, len);
    int ret;

    req->headers = headers;
    req->num_headers = 0;
    req->method = GW_SPAN_NULL;
    req->target = GW_SPAN_NULL;

    /*
     * RFC 9112 §2.2: a server SHOULD ignore empty lines before the
     * request-line (some clients send a CRLF after a POST body). Each must be a
     * full CRLF; the caller's header cap bounds how many.
     */
    while (p < end && *p == '\r') {
        if (p + 1 == end)
            return -2;
        if (p[1] != '\n') {
            ret = fail(&h, GW_H1E_BARE_LF);
            goto out;
        }
        p += 2;
    }

    /* request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3) */
    const char *m = p;
    p = scan_token(p, end);
    if (p == end)
        return -2;
    if (*p != ' ' || p == m) {
        ret = fail_at(&h, *p, GW_H1E_BAD_REQUEST_LINE);
        goto out;
    }
    req->method = gw_span_make(m, (size_t)(p - m));

    const char *t = ++p;
    p = scan_target(p, end);
    if (p == end)
        return -2;
    if (*p != ' ' || p == t) {
        ret = fail_at(&h, *p, GW_H1E_BAD_REQUEST_LINE);
        goto out;
    }
    req->target = gw_span_make(t, (size_t)(p - t));

    /*
     * The version is judged only once its end is seen: "GET /a b HTTP/1.1" has
     * "b" in the version slot, and the SP after it shows the real fault (a
     * space in the target), which BAD_VERSION would misname.
     */
    const char *v = ++p;
    p = scan_target(p, end);
    if (p == end)
        return -2;
    if (*p != '\r') {
        ret = fail_at(&h, *p, GW_H1E_BAD_REQUEST_LINE);
        goto out;
    }
    if (p - v != 8 || memcmp(v, "HTTP/1.", 7) != 0 || (v[7] != '0' && v[7] != '1')) {
        ret = fail(&h, GW_H1E_BAD_VERSION);
        goto out;
    }
    h.minor_version = v[7] - '0';
    if (p + 1 == end)
        return -2;
    if (p[1] != '\n') {
        ret = fail(&h, GW_H1E_BARE_LF);
        goto out;
    }
    p += 2;

    ret = parse_fields(&h, buf, p, end, headers, max_headers);
    /* RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400; HTTP/1.0 predates it. */
    if (ret > 0 && h.minor_version == 1 && h.hosts == 0)
        ret = fail(&h, GW_H1E_MISSING_HOST);
    if (ret > 0 && persists(&h))
        h.flags |= GW_H1_F_KEEPALIVE;
out:
    req->minor_version = h.minor_version;
    req->flags = h.flags;
    req->content_length = (h.flags & GW_H1_F_HAS_CL) ? h.content_length : 0;
    req->num_headers = h.num_headers;
    req->err = h.err;
    return ret;
}

/* ---- responses ---- */

int gw_http1_parse_response(const char *buf, size_t len, struct gw_http1_resp *resp,
                            struct gw_http1_header *headers, size_t max_headers)
{
    static const char version[] = "HTTP/1.";
    struct head h = {.is_request = false, .err = GW_H1E_NONE};
    const char *p = buf, *end = buf_end(buf, len);
    int ret;

    resp->headers = headers;
    resp->num_headers = 0;
    resp->status = 0;
    resp->reason = GW_SPAN_NULL;

    /* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF (RFC 9112 §4) */
    for (size_t i = 0; i < 8; i++, p++) {
        if (p == end)
            return -2;
        if (i < 7 ? *p != version[i] : (*p != '0' && *p != '1')) {
            ret = fail(&h, GW_H1E_BAD_VERSION);
            goto out;
        }
    }
    h.minor_version = p[-1] - '0';
    if (p == end)
        return -2;
    if (*p != ' ') {
        unsigned char c = (unsigned char)*p;
        ret = fail_at(&h, *p, c > 0x20 && c != 0x7f ? GW_H1E_BAD_VERSION : GW_H1E_BAD_STATUS_LINE);
        goto out;
    }
    p++;

    int status = 0;
    for (int i = 0; i < 3; i++, p++) {
        if (p == end)
            return -2;
        if (*p < '0' || *p > '9') {
            ret = fail_at(&h, *p, GW_H1E_BAD_STATUS_LINE);
            goto out;
        }
        status = status * 10 + (*p - '0');
    }
    if (status < 100 || status > 599) {
        ret = fail(&h, GW_H1E_BAD_STATUS_LINE);
        goto out;
    }
    resp->status = status;

    /*
     * The SP before an empty reason is required by the grammar but some
     * servers omit it; "200\r\n" is unambiguous, so it is taken as empty.
     */
    if (p == end)
        return -2;
    const char *r = p;
    if (*p == ' ') {
        r = ++p;
        p = scan_value(p, end);
        if (p == end)
            return -2;
    }
    if (*p != '\r') {
        ret = fail_at(&h, *p, GW_H1E_BAD_STATUS_LINE);
        goto out;
    }
    if (p + 1 == end)
        return -2;
    if (p[1] != '\n') {
        ret = fail(&h, GW_H1E_BARE_LF);
        goto out;
    }
    resp->reason = gw_span_make(r, (size_t)(p - r));
    p += 2;

    ret = parse_fields(&h, buf, p, end, headers, max_headers);
    /*
     * A body delimited by close (no length, not chunked) ends the connection.
     * 1xx, 204 and 304 never have a body, so they keep it (RFC 9112 §6.3); a
     * response to HEAD is the caller's to know.
     */
    bool bodyless = status < 200 || status == 204 || status == 304;
    if (ret > 0 && persists(&h) && (bodyless || (h.flags & (GW_H1_F_HAS_CL | GW_H1_F_CHUNKED))))
        h.flags |= GW_H1_F_KEEPALIVE;
out:
    resp->minor_version = h.minor_version;
    resp->flags = h.flags;
    resp->content_length = (h.flags & GW_H1_F_HAS_CL) ? h.content_length : 0;
    resp->num_headers = h.num_headers;
    resp->err = h.err;
    return ret;
}

const struct gw_http1_header *gw_http1_find(const struct gw_http1_header *h, size_t n,
                                            const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (h[i].name.len == len && strncasecmp(h[i].name.ptr, name, len) == 0)
            return &h[i];
    }
    return NULL;
}

const char *gw_http1_flags_str(unsigned flags, char *buf, size_t size)
{
    static const char *const names[] = {"chunked", "keepalive", "expect-100", "has-cl"};
    size_t len = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (unsigned i = 0; i < GW_ARRAY_SIZE(names); i++) {
        if (!(flags & (1u << i)))
            continue;
        size_t sep = len ? 1 : 0, nlen = strlen(names[i]);
        if (len + sep + nlen >= size)
            break; /* whole names only */
        if (sep)
            buf[len++] = '|';
        memcpy(buf + len, names[i], nlen);
        len += nlen;
        buf[len] = '\0';
    }
    return buf;
}

const char *gw_http1_err_str(enum gw_http1_err e)
{
    static const char *const str[GW_H1E_COUNT] = {
        [GW_H1E_NONE] = "no error",
        [GW_H1E_BAD_REQUEST_LINE] = "malformed request line",
        [GW_H1E_BAD_STATUS_LINE] = "malformed status line",
        [GW_H1E_BAD_VERSION] = "unsupported HTTP version (HTTP/1.0 and HTTP/1.1 only)",
        [GW_H1E_BAD_HEADER] = "malformed header field",
        [GW_H1E_BARE_LF] = "line not terminated by CRLF",
        [GW_H1E_TOO_MANY_HEADERS] = "too many header fields",
        [GW_H1E_BAD_CONTENT_LENGTH] = "invalid Content-Length",
        [GW_H1E_DUP_CONTENT_LENGTH] = "more than one Content-Length",
        [GW_H1E_CL_AND_TE] = "both Content-Length and Transfer-Encoding",
        [GW_H1E_BAD_TRANSFER_ENCODING] = "Transfer-Encoding other than chunked",
        [GW_H1E_MISSING_HOST] = "HTTP/1.1 request without a Host header",
        [GW_H1E_DUP_HOST] = "more than one Host header",
    };
    if ((unsigned)e >= GW_H1E_COUNT)
        return "unknown error";
    return str[e];
}

const char *gw_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 499: /* nginx's code for a client that left before the answer; not in RFC 9110 */
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* ---- chunked transfer coding (RFC 9112 §7.1) ---- */

/*
 * chunked-body = *chunk last-chunk trailer-section CRLF
 * chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *
 * One state per position in that grammar, so a split anywhere resumes
 * exactly. Whitespace after the size is accepted only before a ';' (BWS in
 * chunk-ext); "5 \r\n" is refused, as is any line end but CRLF. Extensions and
 * trailer fields are skipped unread: we act on neither, and they are not
 * forwarded.
 */
enum {
    CH_SIZE_START = 0, /* first hex digit of a chunk size */
    CH_SIZE,           /* more hex digits, ';', BWS or CR */
    CH_SIZE_BWS,       /* whitespace after the size: only ';' may follow */
    CH_EXT,            /* skipping chunk-ext up to CR */
    CH_SIZE_LF,        /* LF ending the size line */
    CH_DATA,           /* _remaining data bytes to copy */
    CH_DATA_CR,        /* CRLF after the data */
    CH_DATA_LF,
    CH_TRAILER_START, /* start of a trailer line, or the final CRLF */
    CH_TRAILER_LINE,  /* skipping a trailer field up to CR */
    CH_TRAILER_LF,
    CH_END_LF, /* LF of the final CRLF */
    CH_DONE,   /* message complete: everything further is left over */
    CH_ERROR,  /* sticky */
    CH_COUNT
};

#define CH_MAX_HEXDIGITS 15u /* sizes below 2^60 */
#define CH_MAX_EXT 4096u     /* bytes of chunk-ext (with BWS) on one size line */
#define CH_MAX_TRAILER 8192u /* bytes of trailer fields, CRLFs included */

const char *gw_chunked_state_str(const struct gw_chunked *d)
{
    static const char *const str[CH_COUNT] = {
        [CH_SIZE_START] = "size",
        [CH_SIZE] = "size",
        [CH_SIZE_BWS] = "size-bws",
        [CH_EXT] = "extension",
        [CH_SIZE_LF] = "size-lf",
        [CH_DATA] = "data",
        [CH_DATA_CR] = "data-crlf",
        [CH_DATA_LF] = "data-crlf",
        [CH_TRAILER_START] = "trailer",
        [CH_TRAILER_LINE] = "trailer",
        [CH_TRAILER_LF] = "trailer",
        [CH_END_LF] = "final-crlf",
        [CH_DONE] = "done",
        [CH_ERROR] = "error",
    };
    return d->_state < CH_COUNT ? str[d->_state] : "?";
}

void gw_chunked_init(struct gw_chunked *d)
{
    *d = (struct gw_chunked){._state = CH_SIZE_START};
}

static inline int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

ssize_t gw_chunked_decode(struct gw_chunked *d, char *buf, size_t *len)
{
    size_t n = *len, in = 0, out = 0;
    unsigned st = d->_state;
    ssize_t ret = -2;

    if (st == CH_ERROR) {
        *len = 0;
        return -1;
    }
    if (st == CH_DONE)
        goto done;

    while (in < n) {
        if (st == CH_DATA) {
            size_t take = (size_t)GW_MIN(d->_remaining, (uint64_t)(n - in));
            if (out != in)
                memmove(buf + out, buf + in, take);
            in += take;
            out += take;
            d->_remaining -= take;
            if (d->_remaining == 0)
                st = CH_DATA_CR;
            continue;
        }

        unsigned char c = (unsigned char)buf[in++];
        switch (st) {
        case CH_SIZE_START: {
            int x = hexval(c);
            if (x < 0)
                goto fail;
            d->_remaining = (uint64_t)x;
            d->_hexdigits = 1;
            st = CH_SIZE;
            break;
        }
        case CH_SIZE: {
            int x = hexval(c);
            if (x >= 0) {
                if (d->_hexdigits == CH_MAX_HEXDIGITS)
                    goto fail;
                d->_remaining = (d->_remaining << 4) | (uint64_t)x;
                d->_hexdigits++;
            } else if (c == '\r') {
                st = CH_SIZE_LF;
            } else if (c == ';') {
                d->_linelen = 1;
                st = CH_EXT;
            } else if (c == ' ' || c == '\t') {
                d->_linelen = 1;
                st = CH_SIZE_BWS;
            } else {
                goto fail;
            }
            break;
        }
        case CH_SIZE_BWS:
            if (++d->_linelen > CH_MAX_EXT)
                goto fail;
            if (c == ';')
                st = CH_EXT;
            else if (c != ' ' && c != '\t')
                goto fail;
            break;
        case CH_EXT:
            if (c == '\r') {
                st = CH_SIZE_LF;
                break;
            }
            if (++d->_linelen > CH_MAX_EXT || (c < 0x20 && c != '\t') || c == 0x7f)
                goto fail;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                goto fail;
            if (d->_remaining == 0) {
                d->_trailer_bytes = 0;
                st = CH_TRAILER_START;
            } else {
                st = CH_DATA;
            }
            break;
        case CH_DATA_CR:
            if (c != '\r')
                goto fail;
            st = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                goto fail;
            st = CH_SIZE_START;
            break;
        case CH_TRAILER_START:
            if (c == '\r') {
                st = CH_END_LF;
                break;
            }
            if (++d->_trailer_bytes > CH_MAX_TRAILER || c == '\n')
                goto fail;
            st = CH_TRAILER_LINE;
            break;
        case CH_TRAILER_LINE:
            if (++d->_trailer_bytes > CH_MAX_TRAILER || c == '\n')
                goto fail;
            if (c == '\r')
                st = CH_TRAILER_LF;
            break;
        case CH_TRAILER_LF:
            if (++d->_trailer_bytes > CH_MAX_TRAILER || c != '\n')
                goto fail;
            st = CH_TRAILER_START;
            break;
        case CH_END_LF:
            if (c != '\n')
                goto fail;
            st = CH_DONE;
            goto done;
        default:
            GW_BUG_ON(1);
        }
    }
    d->_state = st;
    *len = out;
    return ret;

done:
    d->_state = CH_DONE;
    ret = (ssize_t)(n - in);
    if (ret > 0 && out != in)
        memmove(buf + out, buf + in, (size_t)ret);
    *len = out;
    return ret;

fail:
    d->_state = CH_ERROR;
    *len = out;
    return -1;
}
