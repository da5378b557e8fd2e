/*
 * tests/fuzz/fuzz_http1.c — libFuzzer harness for net/http1.c.
 *
 * The first byte picks the mode (request head, response head, chunked body)
 * and a header-count limit; the last byte, with the first, picks a split
 * point. Beyond "no crash, no out-of-bounds read" (every input sits in a heap
 * buffer of exactly its size), it checks the parsers' contracts:
 *
 *  - heads: a success returns spans inside the head whose bytes obey the
 *    grammar, and parsing exactly the head again gives the same answer; a
 *    prefix is -2 before the verdict and the same verdict after it;
 *  - chunked: decoding in two pieces, and one byte at a time, gives the same
 *    data, return and left-over bytes as decoding in one piece.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 16

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static char *dup_exact(const uint8_t *p, size_t n)
{
    char *b = malloc(n ? n : 1);
    CHECK(b != NULL);
    if (n)
        memcpy(b, p, n);
    return b;
}

static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool inside(struct gw_span s, const char *b, size_t n)
{
    return s.ptr >= b && s.ptr + s.len <= b + n;
}

static void check_headers(const struct gw_http1_header *h, size_t nh, const char *b, size_t n)
{
    for (size_t i = 0; i < nh; i++) {
        CHECK(h[i].name.len > 0 && inside(h[i].name, b, n));
        for (size_t j = 0; j < h[i].name.len; j++)
            CHECK(is_tchar((unsigned char)h[i].name.ptr[j]));
        CHECK(inside(h[i].value, b, n));
        const char *v = h[i].value.ptr;
        size_t vl = h[i].value.len;
        for (size_t j = 0; j < vl; j++)
            CHECK(!is_ctl((unsigned char)v[j]));
        if (vl > 0)
            CHECK(v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' && v[vl - 1] != '\t');
    }
}

static void check_flags(unsigned flags, int minor)
{
    CHECK(minor == 0 || minor == 1);
    CHECK(!((flags & GW_H1_F_CHUNKED) && (flags & GW_H1_F_HAS_CL)));
    if (flags & GW_H1_F_CHUNKED)
        CHECK(minor == 1);
}

/* The prefix rule: before the verdict -2, from it on the same verdict. */
static void check_prefix(int full, enum gw_http1_err full_err, size_t k, int rk,
                         enum gw_http1_err rk_err)
{
    if (full > 0)
        CHECK(k < (size_t)full ? rk == -2 : rk == full);
    else if (full == -2)
        CHECK(rk == -2);
    else
        CHECK(rk == -2 || (rk == -1 && rk_err == full_err));
}

/* One head parse, a request or a response, with the fields both kinds have. */
struct parsed {
    struct gw_http1_req req;   /* a request's */
    struct gw_http1_resp resp; /* a response's */
    int r;
    enum gw_http1_err err;
    size_t num_headers;
    unsigned flags;
    int minor;
};

static void parse_head(bool resp, const char *b, size_t n, struct gw_http1_header *h, size_t max,
                       struct parsed *o)
{
    if (resp) {
        o->r = gw_http1_parse_response(b, n, &o->resp, h, max);
        o->err = o->resp.err;
        o->num_headers = o->resp.num_headers;
        o->flags = o->resp.flags;
        o->minor = o->resp.minor_version;
    } else {
        o->r = gw_http1_parse_request(b, n, &o->req, h, max);
        o->err = o->req.err;
        o->num_headers = o->req.num_headers;
        o->flags = o->req.flags;
        o->minor = o->req.minor_version;
    }
}

/* A request line's method and target lie in the head b[0..r) and obey the grammar. */
static void check_request(const struct gw_http1_req *req, const char *b, size_t r)
{
    CHECK(req->method.len > 0 && inside(req->method, b, r));
    for (size_t j = 0; j < req->method.len; j++)
        CHECK(is_tchar((unsigned char)req->method.ptr[j]));
    CHECK(req->target.len > 0 && inside(req->target, b, r));
    for (size_t j = 0; j < req->target.len; j++) {
        unsigned char c = (unsigned char)req->target.ptr[j];
        CHECK(c > 0x20 && c != 0x7f);
    }
    if (!(req->flags & GW_H1_F_HAS_CL))
        CHECK(req->content_length == 0);
}

/* A status line's code is 100..599 and its reason lies in the head with no control byte. */
static void check_response(const struct gw_http1_resp *resp, const char *b, size_t r)
{
    CHECK(resp->status >= 100 && resp->status <= 599);
    CHECK(inside(resp->reason, b, r));
    for (size_t j = 0; j < resp->reason.len; j++)
        CHECK(!is_ctl((unsigned char)resp->reason.ptr[j]));
    CHECK(!(resp->flags & GW_H1_F_EXPECT_100));
}

static void fuzz_head(bool resp, const uint8_t *p, size_t n, size_t max, size_t k)
{
    struct gw_http1_header h[MAXH];
    struct parsed full, again, prefix;
    char *b = dup_exact(p, n);
    parse_head(resp, b, n, h, max, &full);
    CHECK(full.r == -1 || full.r == -2 || (full.r > 0 && (size_t)full.r <= n));
    if (full.r == -1)
        CHECK(full.err > GW_H1E_NONE && full.err < GW_H1E_COUNT);
    if (full.r > 0) {
        size_t r = (size_t)full.r;
        CHECK(full.err == GW_H1E_NONE && full.num_headers <= max);
        if (resp)
            check_response(&full.resp, b, r);
        else
            check_request(&full.req, b, r);
        check_headers(h, full.num_headers, b, r);
        check_flags(full.flags, full.minor);

        /* Exactly the head parses again to the same answer. */
        parse_head(resp, b, r, h, max, &again);
        CHECK(again.r == full.r && again.flags == full.flags);
        if (resp)
            CHECK(again.resp.status == full.resp.status);
        else
            CHECK(again.req.content_length == full.req.content_length);
    }
    free(b);

    b = dup_exact(p, k);
    parse_head(resp, b, k, h, max, &prefix);
    check_prefix(full.r, full.err, k, prefix.r, prefix.err);
    free(b);
}

struct dec {
    ssize_t ret;
    char *data; /* n bytes of room: decoded data never exceeds the input */
    size_t data_len;
    char *left;
    size_t left_len;
};

/* Decodes p[0..n): a first piece of `first` bytes, then pieces of `step` (0: the rest). */
static void decode(const uint8_t *p, size_t n, size_t first, size_t step, struct dec *o)
{
    struct gw_chunked d;
    gw_chunked_init(&d);
    o->data_len = 0;
    o->left_len = 0;
    size_t at = 0;
    bool first_piece = true;
    ssize_t r;
    do {
        size_t len = first_piece ? first : (step ? step : n - at);
        if (len > n - at)
            len = n - at;
        first_piece = false;
        char *b = dup_exact(p + at, len);
        size_t got = len;
        r = gw_chunked_decode(&d, b, &got);
        CHECK(r >= -2 && got <= len);
        if (r >= 0)
            CHECK((size_t)r + got <= len);
        memcpy(o->data + o->data_len, b, got);
        o->data_len += got;
        if (r >= 0) {
            memcpy(o->left + o->left_len, b + got, (size_t)r);
            o->left_len += (size_t)r;
        }
        free(b);
        at += len;
    } while (at < n && r != -1);
    o->ret = r;
}

static bool same(const struct dec *a, const struct dec *b)
{
    if ((a->ret >= 0) != (b->ret >= 0) || (a->ret < 0 && a->ret != b->ret))
        return false;
    return a->data_len == b->data_len && memcmp(a->data, b->data, a->data_len) == 0 &&
           a->left_len == b->left_len && memcmp(a->left, b->left, a->left_len) == 0;
}

static void fuzz_chunked(const uint8_t *p, size_t n, size_t k)
{
    struct dec one, two, bytes;
    char *mem = malloc(6 * (n + 1));
    CHECK(mem != NULL);
    one.data = mem;
    one.left = mem + (n + 1);
    two.data = mem + 2 * (n + 1);
    two.left = mem + 3 * (n + 1);
    bytes.data = mem + 4 * (n + 1);
    bytes.left = mem + 5 * (n + 1);

    decode(p, n, n, 0, &one);
    CHECK(one.ret != -2 || one.left_len == 0);
    if (one.ret >= 0)
        CHECK(one.data_len + one.left_len <= n && one.left_len == (size_t)one.ret);

    decode(p, n, k, 0, &two);
    CHECK(same(&one, &two));

    if (n <= 4096) {
        decode(p, n, 1, 1, &bytes);
        CHECK(same(&one, &bytes));
    }
    free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    size_t k = n ? (((size_t)sel << 8) | data[size - 1]) % (n + 1) : 0;
    size_t max = 1 + (sel / 3) % MAXH;

    switch (sel % 3) {
    case 0:
        fuzz_head(false, p, n, max, k);
        break;
    case 1:
        fuzz_head(true, p, n, max, k);
        break;
    default:
        fuzz_chunked(p, n, k);
        break;
    }
    return 0;
}
