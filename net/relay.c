/*
 * net/relay.c — carrying an upstream response to the client.
 *
 * The response head is parsed (1xx skipped) and a head of our own is queued
 * for the client: the upstream's status, content type and the headers a
 * client acts on (retry-after, rate-limit state), plus our request id and, for
 * event streams, the no-buffering hints for proxies in front of us.
 *
 * The body is relayed as it arrives, never gathered whole:
 *  - event streams (stream: true, 200, text/event-stream) are cut into SSE
 *    events; each complete event is inspected for usage and forwarded at once,
 *    and a partial event waits (bounded by server.max_sse_event_bytes). When
 *    the gateway asked for usage on the client's behalf, the usage-only chunk
 *    is captured and not shown, and the "usage":null member that OpenAI then
 *    adds to every chunk is removed, so the client sees what it asked for;
 *  - any other body is forwarded byte for byte, keeping only its last few KiB
 *    to read "usage" from at the end (usage is the last member OpenAI writes).
 * Client framing: Content-Length when the upstream gave one and the body is
 * not rewritten, else chunked (HTTP/1.1 clients) or close-delimited (HTTP/1.0).
 *
 * The upstream side (net/upstream.c) hands over what it receives, the end of
 * the response (gw__relay_complete) or its failure (gw__relay_fail); the
 * relay answers the client through net/response.c and reports the end of the
 * request back through one call, gw__server_request_done.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/budget.h"
#include "core/common.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "net/http1.h"
#include "core/sse.h"
#include "net/worker.h"
#include "providers/oai.h"

#define RESP_HEAD_MAX 65536
#define RESP_MAX_HEADERS 100
/* The last bytes of a non-streamed body, where usage is read from: OpenAI's
 * usage object with its details is about 300 bytes, followed by at most a few
 * short members. 2 KiB leaves room for both and, with the upstream head and
 * iovecs, fits the request arena's first 4 KiB chunk: no malloc per request. */
#define TAIL_SIZE 2048
#define PIECES_MAX 32
#define RESP_INTERIM_MAX 8 /* 1xx heads before a final one; more is a protocol error */

/* ---- usage ---- */

static void usage_from_object(struct gw_req *r, const char *obj, size_t len)
{
    /* One pass over the object: the counts, and OpenAI's details (cached
     * input, billed at its own rate; reasoning output). */
    static const char *const keys[] = {"prompt_tokens",         "completion_tokens",
                                       "input_tokens",          "output_tokens",
                                       "prompt_tokens_details", "completion_tokens_details"};
    struct gw_json_member m[6];
    if (gw_json_scan_object(obj, len, keys, 6, m) < 0)
        return;
    uint64_t v;
    bool any = false;
    if ((m[0].found && m[0].value.type == GW_JT_NUMBER && gw_json_to_u64(m[0].value.span, &v)) ||
        (m[2].found && m[2].value.type == GW_JT_NUMBER && gw_json_to_u64(m[2].value.span, &v))) {
        r->prompt_tokens = v;
        any = true;
    }
    if ((m[1].found && m[1].value.type == GW_JT_NUMBER && gw_json_to_u64(m[1].value.span, &v)) ||
        (m[3].found && m[3].value.type == GW_JT_NUMBER && gw_json_to_u64(m[3].value.span, &v))) {
        r->completion_tokens = v;
        any = true;
    }
    r->have_usage |= any;
    static const char *const ck[] = {"cached_tokens"};
    static const char *const rk[] = {"reasoning_tokens"};
    struct gw_json_member x[1];
    if (m[4].found && m[4].value.type == GW_JT_OBJ_BEGIN &&
        gw_json_scan_object(obj + m[4].value.start, m[4].value_end - m[4].value.start, ck, 1,
                            x) == 0 &&
        x[0].found && x[0].value.type == GW_JT_NUMBER && gw_json_to_u64(x[0].value.span, &v))
        r->cached_tokens = v;
    if (m[5].found && m[5].value.type == GW_JT_OBJ_BEGIN &&
        gw_json_scan_object(obj + m[5].value.start, m[5].value_end - m[5].value.start, rk, 1,
                            x) == 0 &&
        x[0].found && x[0].value.type == GW_JT_NUMBER && gw_json_to_u64(x[0].value.span, &v))
        r->reasoning_tokens = v;
}

/* Finds the last "usage": {...} in a body's tail and reads it. */
static void usage_from_tail(struct gw_req *r)
{
    const char *t = r->tail;
    size_t n = r->tail_len;
    if (!t || n < 8)
        return;
    static const char key[] = "\"usage\"";
    /* Backwards: usage is the last member OpenAI writes, so this stops early. */
    const char *found = NULL;
    for (size_t end = n; end > 0 && !found;) {
        const char *q = memrchr(t, '"', end);
        if (!q)
            return;
        if ((size_t)(t + n - q) >= sizeof(key) - 1 && memcmp(q, key, sizeof(key) - 1) == 0)
            found = q;
        end = (size_t)(q - t);
    }
    if (!found)
        return;
    size_t i = (size_t)(found - t) + sizeof(key) - 1;
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n' || t[i] == ':'))
        i++;
    if (i >= n || t[i] != '{')
        return;
    /* Walk tokens until the object closes; what follows it is not ours to validate. */
    struct gw_json j;
    struct gw_json_tok tok;
    gw_json_init(&j, t + i, n - i);
    while (gw_json_next(&j, &tok) == 1) {
        if (tok.type == GW_JT_OBJ_END && tok.depth == 0) {
            usage_from_object(r, t + i, tok.end);
            return;
        }
    }
}

static void tail_keep(struct gw_req *r, const char *data, size_t len)
{
    if (!r->tail) {
        r->tail = gw_arena_alloc(&r->arena, TAIL_SIZE);
        if (!r->tail)
            return;
        r->tail_len = 0;
    }
    if (len >= TAIL_SIZE) {
        memcpy(r->tail, data + len - TAIL_SIZE, TAIL_SIZE);
        r->tail_len = TAIL_SIZE;
        return;
    }
    if (r->tail_len + len > TAIL_SIZE) {
        size_t drop = r->tail_len + len - TAIL_SIZE;
        memmove(r->tail, r->tail + drop, r->tail_len - drop);
        r->tail_len -= drop;
    }
    memcpy(r->tail + r->tail_len, data, len);
    r->tail_len += len;
}

/* ---- client output ---- */

struct piece {
    const char *p;
    size_t n;
};

/* Queues pieces as one body unit: one chunk when chunked, else the raw bytes. */
static int emit(struct gw_worker *w, struct gw_client *c, const struct piece *pc, int n)
{
    struct gw_req *r = &c->req;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += pc[i].n;
    if (total == 0)
        return 0;
    if (r->relay_chunked_out) {
        char hdr[24];
        struct gw_sb b;
        gw_sb_init(&b, hdr, sizeof(hdr));
        gw_sb_hex(&b, total, 0);
        gw_sb_lit(&b, "\r\n");
        if (gw_obuf_append(&c->out, &w->iopool, hdr, b.len) < 0)
            return -GW_FAIL_NOMEM;
    }
    for (int i = 0; i < n; i++)
        if (pc[i].n && gw_obuf_append(&c->out, &w->iopool, pc[i].p, pc[i].n) < 0)
            return -GW_FAIL_NOMEM;
    if (r->relay_chunked_out && gw_obuf_append(&c->out, &w->iopool, "\r\n", 2) < 0)
        return -GW_FAIL_NOMEM;
    return 0;
}

static bool array_is_empty(const char *p, size_t start, size_t end)
{
    for (size_t i = start + 1; i + 1 < end; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return false;
    return true;
}

/*
 * Decides how one event goes to the client: appended to pc as one or two
 * pieces, or not at all. Captures usage on the way.
 */
static int event_pieces(struct gw_req *r, const struct gw_sse_event *ev, struct piece *pc)
{
    pc[0] = (struct piece){ev->raw.ptr, ev->raw.len};
    if (ev->has_fields && gw_sse_is_done(ev)) {
        r->sse_done = true;
        return 1;
    }
    r->stream_tokens += ev->has_fields && ev->data_lines > 0;
    if (!ev->has_fields || ev->data_lines != 1)
        return 1;
    const char *d = ev->data.ptr;
    size_t dl = ev->data.len;
    if (!memmem(d, dl, "\"usage\"", 7))
        return 1;
    static const char *const keys[] = {"usage", "choices"};
    struct gw_json_member m[2];
    if (gw_json_scan_object(d, dl, keys, 2, m) < 0)
        return 1;
    if (m[0].found && m[0].value.type == GW_JT_OBJ_BEGIN) {
        usage_from_object(r, d + m[0].value.start, m[0].value_end - m[0].value.start);
        bool usage_only = m[1].found && m[1].value.type == GW_JT_ARR_BEGIN &&
                          array_is_empty(d, m[1].value.start, m[1].value_end);
        if (!r->want_usage && usage_only)
            return 0;
        return 1;
    }
    if (m[0].found && m[0].value.type == GW_JT_NULL && !r->want_usage) {
        /* Cut the member and one adjacent comma out of the data line. */
        size_t rs, re;
        if (!gw_json_member_cut(d, dl, &m[0], &rs, &re))
            return 1;
        size_t off = (size_t)(d - ev->raw.ptr);
        pc[0] = (struct piece){ev->raw.ptr, off + rs};
        pc[1] = (struct piece){ev->raw.ptr + off + re, ev->raw.len - off - re};
        return 2;
    }
    return 1;
}

/*
 * A hard budget (core/budget.h) is checked as the stream goes: the cost so
 * far (the prompt as estimated at admission, each content event counted as
 * one output token) against the headroom the key and team have left. Past
 * it the stream is ended (relay_abort, GW_FAIL_BUDGET); the usage the
 * provider would have sent at the end never comes, so these estimates are
 * what is billed.
 */
static int budget_check(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    if (!r->hard_budget || !r->price || !w->rt->board)
        return 0;
    struct gw_cost_in in = {.prompt_tokens = r->prompt_est, .completion_tokens = r->stream_tokens};
    int64_t spent = gw_price_cost(r->price, &in);
    int64_t room = gw_spend_headroom_on_worker(w->rt->board, &w->ledger, w->id, r->key,
                                               (int64_t)time(NULL), r->est_pusd);
    if (spent <= room)
        return 0;
    if (!r->have_usage) {
        r->have_usage = true;
        r->prompt_tokens = r->prompt_est;
        r->completion_tokens = r->stream_tokens;
    }
    return -GW_FAIL_BUDGET;
}

/* Forwards every complete event in buf; returns the bytes they took, or -fail. */
static long sse_process(struct gw_worker *w, struct gw_client *c, const char *buf, size_t len)
{
    struct piece pc[PIECES_MAX];
    int npc = 0;
    size_t used = 0;
    size_t cap = w->snap->server.max_sse_event_bytes;
    while (used < len) {
        struct gw_sse_event ev;
        int n = gw_sse_next(buf + used, len - used, &ev);
        if (n <= 0)
            break;
        if ((size_t)n > cap) {
            /* Over the cap whether it came in one receive or several (sse_feed). */
            int e = emit(w, c, pc, npc);
            return e < 0 ? e : -GW_FAIL_PROTO;
        }
        used += (size_t)n;
        if (npc > PIECES_MAX - 2) {
            int e = emit(w, c, pc, npc);
            if (e < 0)
                return e;
            npc = 0;
        }
        int k = event_pieces(&c->req, &ev, pc + npc);
        if (k && c->req.hard_budget && budget_check(w, c) < 0) {
            /* This event would pass the budget: it and the rest are not sent (nor billed). */
            struct gw_req *r = &c->req;
            if (r->completion_tokens == r->stream_tokens && r->stream_tokens)
                r->completion_tokens--;
            r->stream_tokens--;
            int e = emit(w, c, pc, npc);
            return e < 0 ? e : -GW_FAIL_BUDGET;
        }
        npc += k;
    }
    int e = emit(w, c, pc, npc);
    return e < 0 ? e : (long)used;
}

static int sse_feed(struct gw_worker *w, struct gw_client *c, const char *data, size_t len)
{
    struct gw_req *r = &c->req;
    size_t cap = w->snap->server.max_sse_event_bytes;
    if (r->sse_len == 0) {
        /* Fast path: events straight from the received bytes; only a partial tail is copied. */
        long used = sse_process(w, c, data, len);
        if (used < 0)
            return (int)used;
        data += used;
        len -= (size_t)used;
        if (!len)
            return 0;
    }
    /* The cap bounds one event, not what one receive brought: take the bytes
     * in pieces that fit beside the partial event, forwarding each complete
     * event on the way; only a partial event longer than the cap is refused.
     * One byte past the cap is taken so that an event of exactly the cap that
     * ends in CR can be told from one whose CR LF goes on (a CR alone ends a
     * line too). */
    size_t hold = cap + 1;
    while (len) {
        size_t n = GW_MIN(len, hold - r->sse_len);
        if (r->sse_len + n > r->sse_cap) {
            size_t ncap = r->sse_cap ? r->sse_cap : 4096;
            while (ncap < r->sse_len + n)
                ncap *= 2;
            if (ncap > hold)
                ncap = hold;
            char *nb = realloc(r->sse, ncap);
            if (!nb)
                return -GW_FAIL_NOMEM;
            r->sse = nb;
            r->sse_cap = ncap;
        }
        memcpy(r->sse + r->sse_len, data, n);
        r->sse_len += n;
        data += n;
        len -= n;
        long used = sse_process(w, c, r->sse, r->sse_len);
        if (used < 0)
            return (int)used;
        memmove(r->sse, r->sse + used, r->sse_len - (size_t)used);
        r->sse_len -= (size_t)used;
        if (r->sse_len > cap)
            return -GW_FAIL_PROTO; /* one event larger than max_sse_event_bytes */
    }
    return 0;
}

#define DONE_EVENT "data: [DONE]\n\n"
#define DONE_LEN (sizeof(DONE_EVENT) - 1)

/* The stream translator's output: each write goes to the client as one chunk. */
struct xsink_ctx {
    struct gw_worker *w;
    struct gw_client *c;
    bool failed; /* a write found no buffer: the body's framing may be broken */
};

static int xsink_write(void *arg, const char *p, size_t n)
{
    struct xsink_ctx *x = arg;
    struct piece pc = {p, n};
    int e = emit(x->w, x->c, &pc, 1);
    x->failed |= e < 0;
    x->c->req.stream_tokens++;
    /* Whether the client's stream, as written so far, ends with [DONE]. */
    if (n)
        x->c->req.sse_done = n >= DONE_LEN && memcmp(p + n - DONE_LEN, DONE_EVENT, DONE_LEN) == 0;
    return e;
}

static void xusage(struct gw_req *r, const struct gw_xlate_usage *u)
{
    if (!u->have)
        return;
    r->have_usage = true;
    r->prompt_tokens = u->prompt_tokens;
    r->completion_tokens = u->completion_tokens;
    r->cached_tokens = u->cached_tokens;
    r->cache_write_tokens = u->cache_creation_tokens;
    r->reasoning_tokens = u->reasoning_tokens;
}

/* Gathers a body to translate whole, up to the cap. */
#define XBUF_MAX (32u << 20)
static int xbuf_add(struct gw_req *r, const char *data, size_t len)
{
    if (r->xlen + len > XBUF_MAX)
        return -GW_FAIL_PROTO;
    if (r->xlen + len > r->xcap) {
        size_t ncap = r->xcap ? r->xcap * 2 : 8192;
        while (ncap < r->xlen + len)
            ncap *= 2;
        char *nb = realloc(r->xbuf, ncap);
        if (!nb)
            return -GW_FAIL_NOMEM;
        r->xbuf = nb;
        r->xcap = ncap;
    }
    memcpy(r->xbuf + r->xlen, data, len);
    r->xlen += len;
    return 0;
}

static int body_out(struct gw_worker *w, struct gw_client *c, const char *data, size_t len)
{
    struct gw_req *r = &c->req;
    if (!len)
        return 0;
    if (r->xstream) {
        struct xsink_ctx ctx = {w, c, false};
        struct gw_xlate_sink sink = {xsink_write, &ctx};
        struct gw_xlate_usage u = {0};
        int k = r->dialect->stream_feed(r->xstream, data, len, &sink, &u);
        xusage(r, &u);
        return k < 0 ? -GW_FAIL_PROTO : budget_check(w, c);
    }
    if (r->xbuffer)
        return xbuf_add(r, data, len);
    if (r->relay_sse)
        return sse_feed(w, c, data, len);
    tail_keep(r, data, len);
    struct piece pc = {data, len};
    return emit(w, c, &pc, 1);
}

/* ---- head ---- */

static bool pass_header(struct gw_span name)
{
    static const char *const names[] = {"retry-after",
                                        "openai-processing-ms",
                                        "openai-version",
                                        "x-ratelimit-limit-requests",
                                        "x-ratelimit-limit-tokens",
                                        "x-ratelimit-remaining-requests",
                                        "x-ratelimit-remaining-tokens",
                                        "x-ratelimit-reset-requests",
                                        "x-ratelimit-reset-tokens"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(names); i++)
        if (gw_span_ieq_cstr(name, names[i]))
            return true;
    return false;
}

static int on_resp_head(struct gw_worker *w, struct gw_client *c, const struct gw_http1_resp *h)
{
    struct gw_req *r = &c->req;
    r->resp_head_done = true;
    r->t_ttfb_ns = gw__now_ns();
    /* 204 and 304 never have a body, whatever their headers say (RFC 9112 §6.3). */
    bool no_body = h->status == 204 || h->status == 304;
    r->resp_chunked = !no_body && (h->flags & GW_H1_F_CHUNKED);
    r->resp_has_cl = no_body || (h->flags & GW_H1_F_HAS_CL);
    r->resp_to_eof = !r->resp_chunked && !r->resp_has_cl;
    r->resp_keepalive = (h->flags & GW_H1_F_KEEPALIVE) && !r->resp_to_eof;
    r->resp_remaining = no_body ? 0 : h->content_length;
    if (r->resp_chunked)
        gw_chunked_init(&r->resp_dec);

    const struct gw_http1_header *ct = gw_http1_find(h->headers, h->num_headers, "content-type");
    char ctype[128] = "application/json";
    if (ct && ct->value.len < sizeof(ctype)) {
        memcpy(ctype, ct->value.ptr, ct->value.len);
        ctype[ct->value.len] = '\0';
        for (size_t i = 0; ctype[i]; i++)
            if ((unsigned char)ctype[i] < 0x20)
                ctype[i] = ' ';
    }
    r->relay_sse =
        r->stream && h->status == 200 && strncasecmp(ctype, "text/event-stream", 17) == 0;
    bool xstream = false;
    if (r->dialect) {
        /* A translated answer: a 2xx stream is translated event by event; any
         * other body is gathered whole and translated at its end. */
        const char *sct = r->dialect->stream_ctype ? r->dialect->stream_ctype : "text/event-stream";
        xstream = r->stream && h->status == 200 && strncasecmp(ctype, sct, strlen(sct)) == 0;
        r->relay_sse = false;
        r->xbuffer = !xstream;
        snprintf(r->xctype, sizeof(r->xctype), "%s", ctype);
    }

    char extra[1024];
    size_t el = 0;
    if (r->warning) {
        int n = snprintf(extra, sizeof(extra), "x-conduit-warning: %s\r\n", r->warning);
        el = n > 0 && (size_t)n < sizeof(extra) / 2 ? (size_t)n : 0;
    }
    if (r->relay_sse || xstream) {
        static const char nb[] = "cache-control: no-cache\r\nx-accel-buffering: no\r\n";
        memcpy(extra + el, nb, sizeof(nb) - 1);
        el += sizeof(nb) - 1;
    }
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct gw_http1_header *hd = &h->headers[i];
        if (!pass_header(hd->name))
            continue;
        size_t need = hd->name.len + hd->value.len + 4;
        if (el + need >= sizeof(extra))
            break;
        /* Lower-case the name as the rest of our head is; the value goes as is. */
        for (size_t k = 0; k < hd->name.len; k++) {
            char ch = hd->name.ptr[k];
            extra[el++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
        extra[el++] = ':';
        extra[el++] = ' ';
        memcpy(extra + el, hd->value.ptr, hd->value.len);
        el += hd->value.len;
        extra[el++] = '\r';
        extra[el++] = '\n';
    }
    extra[el] = '\0';

    if (r->xbuffer) {
        /* The head goes out with the translated body (gw__relay_finish). */
        r->status = h->status;
        r->xerr_type = GW_SPAN_NULL;
        const struct gw_http1_header *et =
            r->dialect->error_type_header
                ? gw_http1_find(h->headers, h->num_headers, r->dialect->error_type_header)
                : NULL;
        if (et && et->value.len <= 256) {
            char *v = gw_arena_strndup(&r->arena, et->value.ptr, et->value.len);
            if (!v)
                return -GW_FAIL_NOMEM;
            r->xerr_type = gw_span_make(v, et->value.len);
        }
        r->xextra = gw_arena_strndup(&r->arena, extra, el);
        if (!r->xextra)
            return -GW_FAIL_NOMEM;
        c->action = "gathering a response to translate";
        return 0;
    }
    if (xstream) {
        r->xstream = gw_arena_zalloc(&r->arena, r->dialect->stream_size);
        if (!r->xstream)
            return -GW_FAIL_NOMEM;
        r->dialect->stream_init(r->xstream, &r->xl);
    }
    long long body_len = -1;
    if (no_body) {
        r->relay_chunked_out = false; /* no framing header at all (RFC 9110 §8.6) */
    } else if (r->resp_has_cl && !r->relay_sse && !xstream) {
        body_len = (long long)r->resp_remaining;
        r->relay_chunked_out = false;
    } else {
        r->relay_chunked_out = r->client_http11;
        if (!r->client_http11)
            r->keepalive = false; /* close-delimited */
    }
    c->action = r->relay_sse || xstream ? "relaying event stream" : "relaying response body";
    if (gw__resp_head(w, c, h->status, xstream ? "text/event-stream" : ctype, body_len, extra) < 0)
        return -GW_FAIL_NOMEM;
    return 0;
}

/* Body bytes of the upstream message; returns 1 when its end was reached. */
static int feed_body(struct gw_worker *w, struct gw_client *c, char *data, size_t len)
{
    struct gw_req *r = &c->req;
    if (r->resp_has_cl) {
        size_t n = (size_t)GW_MIN((uint64_t)len, r->resp_remaining);
        r->resp_remaining -= n;
        if (n < len)
            r->resp_extra = true;
        int e = body_out(w, c, data, n);
        if (e < 0)
            return e;
        return r->resp_remaining == 0;
    }
    if (r->resp_chunked) {
        size_t n = len;
        ssize_t left = gw_chunked_decode(&r->resp_dec, data, &n);
        if (left == -1)
            return -GW_FAIL_PROTO;
        int e = body_out(w, c, data, n);
        if (e < 0)
            return e;
        if (left >= 0) {
            if (left > 0)
                r->resp_extra = true;
            return 1;
        }
        return 0;
    }
    int e = body_out(w, c, data, len);
    return e < 0 ? e : 0;
}

/*
 * Interim (1xx) heads are skipped, at most RESP_INTERIM_MAX of them: an
 * upstream repeating `100 Continue` would otherwise keep the request alive
 * until its first-byte timeout, parsing heads forever. Head bytes that arrive
 * in pieces are gathered in one RESP_HEAD_MAX buffer per request, which the
 * heads that follow an interim one reuse (moved to its front), so a flood
 * costs no more memory than one head.
 */
int gw__relay_feed(struct gw_worker *w, struct gw_client *c, char *data, size_t len)
{
    struct gw_req *r = &c->req;
    if (r->resp_head_done)
        return feed_body(w, c, data, len);

    struct gw_http1_header hdrs[RESP_MAX_HEADERS];
    struct gw_http1_resp h;
    for (;;) {
        char *buf = data;
        size_t blen = len;
        if (r->rhead_len) {
            if (len) {
                if (r->rhead_len + len > RESP_HEAD_MAX)
                    return -GW_FAIL_PROTO;
                memcpy(r->rhead + r->rhead_len, data, len);
                r->rhead_len += len;
                len = 0;
            }
            buf = r->rhead;
            blen = r->rhead_len;
        }
        int n = gw_http1_parse_response(buf, blen, &h, hdrs, RESP_MAX_HEADERS);
        if (n == -1)
            return -GW_FAIL_PROTO;
        if (n == -2) {
            if (buf != r->rhead) {
                if (blen > RESP_HEAD_MAX)
                    return -GW_FAIL_PROTO;
                if (!r->rhead && !(r->rhead = gw_arena_alloc(&r->arena, RESP_HEAD_MAX)))
                    return -GW_FAIL_NOMEM;
                memcpy(r->rhead, buf, blen);
                r->rhead_len = blen;
            }
            return 0;
        }
        char *rest = buf + n;
        size_t rest_len = blen - (size_t)n;
        if (h.status >= 100 && h.status < 200) {
            if (++r->interim > RESP_INTERIM_MAX)
                return -GW_FAIL_PROTO;
            if (buf == r->rhead) {
                memmove(r->rhead, rest, rest_len);
                r->rhead_len = rest_len;
            } else {
                data = rest;
                len = rest_len;
            }
            if (!rest_len)
                return 0;
            continue;
        }
        int e = on_resp_head(w, c, &h);
        if (e < 0)
            return e;
        r->rhead_len = 0;
        if (!rest_len && !r->resp_has_cl && !r->resp_chunked)
            return 0;
        if (r->resp_has_cl && r->resp_remaining == 0) {
            if (rest_len)
                r->resp_extra = true;
            return 1;
        }
        return rest_len ? feed_body(w, c, rest, rest_len) : 0;
    }
}

int gw__relay_eof(struct gw_worker *w, struct gw_client *c)
{
    (void)w;
    struct gw_req *r = &c->req;
    if (r->resp_head_done && r->resp_to_eof)
        return 1;
    return -GW_FAIL_RESET;
}

/* The gathered body of a translated answer, translated, with its head. */
static void xfinish_buffered(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    const char *body = r->xbuf ? r->xbuf : "";
    struct gw_span out = {body, r->xlen};
    int status = r->status;
    const char *ctype = r->xctype;
    if (status >= 200 && status < 300) {
        struct gw_xlate_usage u = {0};
        int k = r->xl.ep == GW_EP_EMBEDDINGS
                    ? r->dialect->translate_embeddings(&r->xl, body, r->xlen, &out, &u)
                    : r->dialect->translate_response(&r->xl, body, r->xlen, &out, &u);
        if (k < 0) {
            r->fail = GW_FAIL_PROTO;
            gw__resp_error(w, c, 502, "upstream_error", gw_fail_code(GW_FAIL_PROTO), NULL,
                           "The provider's answer could not be translated (provider %s).",
                           r->model->provider->name);
            return;
        }
        xusage(r, &u);
        ctype = "application/json";
    } else {
        if (r->dialect->translate_error(status, r->xerr_type, body, r->xlen, &r->arena, &out,
                                        &status) == 0)
            ctype = "application/json";
    }
    r->relay_chunked_out = false;
    if (gw__resp_head(w, c, status, ctype, (long long)out.len, r->xextra) < 0 ||
        gw_obuf_append(&c->out, &w->iopool, out.ptr, out.len) < 0)
        c->flags |= GW_CF_CLOSE_AFTER;
}

void gw__relay_finish(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    if (r->xbuffer) {
        xfinish_buffered(w, c);
        return;
    }
    if (r->xstream) {
        struct xsink_ctx ctx = {w, c, false};
        struct gw_xlate_sink sink = {xsink_write, &ctx};
        struct gw_xlate_usage u = {0};
        if (r->dialect->stream_end(r->xstream, &sink, &u) < 0)
            c->flags |= GW_CF_CLOSE_AFTER;
        xusage(r, &u);
        /* A stream the translator ended with an error chunk ends with [DONE] too. */
        if (!r->sse_done)
            xsink_write(&ctx, DONE_EVENT, DONE_LEN);
    }
    if (r->relay_sse && r->sse_len) {
        /* The stream ended inside an event: pass the bytes on as they are. */
        struct piece pc = {r->sse, r->sse_len};
        emit(w, c, &pc, 1);
        r->sse_len = 0;
    }
    if (!r->relay_sse && r->status == 200)
        usage_from_tail(r);
    if (r->relay_chunked_out && gw_obuf_append(&c->out, &w->iopool, "0\r\n\r\n", 5) < 0)
        c->flags |= GW_CF_CLOSE_AFTER;
}

/*
 * The upstream failed after the client's response head went out. A byte
 * stream can only be cut, but an event stream can still end in a way every
 * OpenAI client understands, so that one waiting for [DONE] is not left to
 * guess: an error event, data: [DONE], and the body's proper end.
 *  - translated: the dialect's stream_end, which for a stream cut short
 *    writes the OpenAI error chunk (and nothing when a broken event already
 *    made its feed write one);
 *  - pass-through: a partial event is dropped (followed by ours it would
 *    read as one event), then our error event;
 * then data: [DONE], unless the stream as written so far already ends with
 * it (the upstream's own, or the translator's after its error chunk).
 */
/*
 * The end of a stream cut by a hard budget: a last chunk with finish_reason
 * "length" (what a client sees when max_tokens ends an answer), then the
 * error event naming the budget (insufficient_quota, budget_exceeded); the
 * caller adds data: [DONE].
 */
static void budget_end(struct gw_worker *w, struct gw_client *c, struct xsink_ctx *ctx)
{
    (void)w;
    struct gw_req *r = &c->req;
    r->sse_len = 0;
    char ev[1024];
    memcpy(ev, "data: ", 6);
    struct gw_jw jw;
    gw_jw_init(&jw, ev + 6, sizeof(ev) - 8);
    gw_jw_obj_begin(&jw);
    gw_jw_key(&jw, "id");
    char id[96];
    snprintf(id, sizeof(id), "chatcmpl-%s", r->rid);
    gw_jw_cstr(&jw, id);
    gw_jw_key(&jw, "object");
    gw_jw_cstr(&jw, "chat.completion.chunk");
    gw_jw_key(&jw, "created");
    gw_jw_uint(&jw, (uint64_t)time(NULL));
    gw_jw_key(&jw, "model");
    gw_jw_cstr(&jw, r->model->name);
    gw_jw_key(&jw, "choices");
    gw_jw_arr_begin(&jw);
    gw_jw_obj_begin(&jw);
    gw_jw_key(&jw, "index");
    gw_jw_uint(&jw, 0);
    gw_jw_key(&jw, "delta");
    gw_jw_obj_begin(&jw);
    gw_jw_obj_end(&jw);
    gw_jw_key(&jw, "finish_reason");
    gw_jw_cstr(&jw, "length");
    gw_jw_obj_end(&jw);
    gw_jw_arr_end(&jw);
    gw_jw_obj_end(&jw);
    if (!jw.overflow) {
        size_t n = 6 + jw.len;
        ev[n++] = '\n';
        ev[n++] = '\n';
        xsink_write(ctx, ev, n);
    }
    const struct gw_vkey *k = r->key;
    bool team = k->team && k->team->budget.set && k->team->budget.hard &&
                !(k->budget.set && k->budget.hard);
    char msg[300];
    snprintf(msg, sizeof(msg),
             "The %s budget of %s `%s` ran out during this response; it was ended early.",
             gw_period_str(team ? k->team->budget.period : k->budget.period),
             team ? "team" : "key", team ? k->team->name : k->name);
    char eev[sizeof(msg) * 6 + 200];
    memcpy(eev, "data: ", 6);
    gw_jw_init(&jw, eev + 6, sizeof(eev) - 8);
    gw_oai_error_write(&jw, &(struct gw_oai_error){.message = gw_span_cstr(msg),
                                                   .type = GW_SPAN_LIT("insufficient_quota"),
                                                   .code = "budget_exceeded"});
    GW_BUG_ON(jw.overflow);
    size_t n = 6 + jw.len;
    eev[n++] = '\n';
    eev[n++] = '\n';
    xsink_write(ctx, eev, n);
}

static bool relay_abort(struct gw_worker *w, struct gw_client *c, enum gw_fail f)
{
    struct gw_req *r = &c->req;
    if (!r->resp_head_done || (!r->xstream && !r->relay_sse))
        return false;
    struct xsink_ctx ctx = {w, c, false};
    if (f == GW_FAIL_BUDGET) {
        budget_end(w, c, &ctx);
    } else if (r->xstream) {
        struct gw_xlate_sink sink = {xsink_write, &ctx};
        struct gw_xlate_usage u = {0};
        r->dialect->stream_end(r->xstream, &sink, &u);
        xusage(r, &u);
    } else {
        r->sse_len = 0;
        char msg[256];
        snprintf(msg, sizeof(msg), "%s mid-stream; the response is incomplete (provider %s)",
                 gw_fail_str(f), r->model->provider->name);
        /* Room for msg with every byte escaped as \u00XX. */
        char ev[sizeof(msg) * 6 + 160];
        memcpy(ev, "data: ", 6);
        struct gw_jw jw;
        gw_jw_init(&jw, ev + 6, sizeof(ev) - 6 - 2);
        gw_oai_error_write(&jw, &(struct gw_oai_error){.message = gw_span_cstr(msg),
                                                       .type = GW_SPAN_LIT("server_error"),
                                                       .code = gw_fail_code(f)});
        GW_BUG_ON(jw.overflow);
        size_t n = 6 + jw.len;
        ev[n++] = '\n';
        ev[n++] = '\n';
        xsink_write(&ctx, ev, n);
    }
    if (!r->sse_done)
        xsink_write(&ctx, DONE_EVENT, DONE_LEN);
    if (ctx.failed)
        return false;
    return !r->relay_chunked_out || gw_obuf_append(&c->out, &w->iopool, "0\r\n\r\n", 5) == 0;
}

/* ---- completion ---- */

/*
 * The client's response is fully queued: the request finishes now if nothing
 * waits to be sent, else when the last send completes (net/worker.c). This
 * is the relay's one call back into the server: gw__server_request_done.
 */
static void finish_when_sent(struct gw_worker *w, struct gw_client *c)
{
    gw__client_flush(w, c);
    if (!(c->flags & GW_CF_SEND_BUSY) && c->out.len == 0 && c->state == GW_CS_ACTIVE)
        gw__server_request_done(w, c);
}

void gw__relay_complete(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    gw__relay_finish(w, c);
    r->upstream_done = true;
    r->committed = true;
    c->flags |= GW_CF_RESP_DONE;
    /* The record first: the last bytes wait for it (net/usagelog.c). */
    gw__usage_finish(w, c, true);
    finish_when_sent(w, c);
}

void gw__relay_fail(struct gw_worker *w, struct gw_client *c, enum gw_fail f, const char *detail,
                    const char *provider)
{
    struct gw_req *r = &c->req;
    r->fail = f;
    if (r->head_sent && !r->committed && !(c->flags & GW_CF_SEND_BUSY)) {
        /* Nothing of the held response reached the client: replace it with the error. */
        gw_obuf_clear(&c->out, &w->iopool);
        r->head_sent = false;
        r->relay_chunked_out = false;
    }
    if (!r->head_sent && f == GW_FAIL_BUDGET) {
        gw__resp_error(w, c, 429, "insufficient_quota", gw_fail_code(f), NULL,
                       "The budget of key `%s`%s ran out while this answer was produced; it "
                       "was not sent.",
                       r->key->name, r->key->team ? " or its team" : "");
        return;
    }
    if (!r->head_sent) {
        gw__resp_error(w, c, gw_fail_status(f), "upstream_error", gw_fail_code(f), NULL,
                       "%s%s%s (provider %s)", gw_fail_str(f), detail[0] ? ": " : "", detail,
                       provider);
        return;
    }
    if (relay_abort(w, c, f)) {
        /* The stream told the client it failed and ended properly. */
        r->upstream_done = true;
        r->committed = true;
        c->flags |= GW_CF_RESP_DONE;
        gw__usage_finish(w, c, true);
        finish_when_sent(w, c);
        return;
    }
    /* The client already has part of a body that is not an event stream:
     * cutting the connection is the only honest signal (a chunked body
     * without its last chunk, or fewer bytes than its Content-Length). */
    r->keepalive = false;
    c->flags |= GW_CF_RESP_DONE | GW_CF_CLOSE_AFTER;
    finish_when_sent(w, c);
}
