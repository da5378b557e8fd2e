/*
 * net/response.c — writing the gateway's own HTTP responses into a client's
 * output queue: the response head (for local answers and for relayed ones),
 * complete local responses, the OpenAI error object of every gateway-made
 * error, and request ids.
 *
 * A leaf of net/: it queues bytes and asks the worker to send them, and calls
 * nothing of the server, upstream or relay, so that every one of those can
 * answer a client through it without a cycle (core/ARCHITECTURE.md: the one-way order).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/common.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "net/http1.h"
#include "net/worker.h"
#include "providers/oai.h"

/* ---- request ids ---- */

static __thread uint64_t rid_state;

void gw__resp_request_id(char *out, size_t cap)
{
    if (!rid_state) {
        if (getrandom(&rid_state, sizeof(rid_state), GRND_NONBLOCK) != sizeof(rid_state))
            rid_state = gw__now_ns() | 1;
    }
    /* xorshift64*: unique enough for correlation, no syscall per request */
    rid_state ^= rid_state >> 12;
    rid_state ^= rid_state << 25;
    rid_state ^= rid_state >> 27;
    uint64_t a = rid_state * 0x2545F4914F6CDD1DULL;
    struct gw_sb b;
    gw_sb_init(&b, out, cap - 1);
    gw_sb_lit(&b, "req_");
    gw_sb_hex(&b, a, 16);
    gw_sb_hex(&b, (gw__now_ns() >> 10) & 0xffffffffu, 8);
    out[b.len] = '\0';
}

int gw__resp_head(struct gw_worker *w, struct gw_client *c, int status, const char *content_type,
                  long long body_len, const char *extra)
{
    struct gw_req *r = &c->req;
    char head[1536];
    struct gw_sb b;
    gw_sb_init(&b, head, sizeof(head));
    gw_sb_lit(&b, "HTTP/1.1 ");
    gw_sb_u64(&b, (uint64_t)status);
    gw_sb_lit(&b, " ");
    gw_sb_puts(&b, gw_http_reason(status));
    gw_sb_lit(&b, "\r\ncontent-type: ");
    gw_sb_puts(&b, content_type);
    if (body_len >= 0) {
        gw_sb_lit(&b, "\r\ncontent-length: ");
        gw_sb_u64(&b, (uint64_t)body_len);
    } else if (r->relay_chunked_out) {
        gw_sb_lit(&b, "\r\ntransfer-encoding: chunked");
    }
    gw_sb_lit(&b, "\r\nx-request-id: ");
    gw_sb_puts(&b, r->rid);
    if (r->keepalive)
        gw_sb_lit(&b, "\r\nconnection: keep-alive\r\n");
    else
        gw_sb_lit(&b, "\r\nconnection: close\r\n");
    if (extra)
        gw_sb_puts(&b, extra);
    gw_sb_lit(&b, "\r\n");
    if (b.overflow)
        return -ENOBUFS;
    r->status = status;
    r->head_sent = true;
    return gw_obuf_append(&c->out, &w->iopool, head, b.len);
}

void gw__resp_local(struct gw_worker *w, struct gw_client *c, int status, const char *ctype,
                    const char *body, size_t len, const char *extra)
{
    struct gw_req *r = &c->req;
    if (!r->rid[0])
        gw__resp_request_id(r->rid, sizeof(r->rid));
    c->state = GW_CS_ACTIVE;
    if (gw__resp_head(w, c, status, ctype, (long long)len, extra) < 0 ||
        (!r->head_only && gw_obuf_append(&c->out, &w->iopool, body, len) < 0)) {
        gw__stat_add(&w->shared.buffer_refusals, 1);
        gw_obuf_clear(&c->out, &w->iopool);
        gw__client_close(w, c, "no buffer for a response");
        return;
    }
    r->status = status;
    c->flags |= GW_CF_RESP_DONE;
    gw__client_flush(w, c);
}

void gw__resp_error(struct gw_worker *w, struct gw_client *c, int status, const char *type,
                    const char *code, const char *param, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Room for the worst case: every byte of msg escaped as \u00XX. */
    char body[sizeof(msg) * 6 + 256];
    struct gw_jw jw;
    gw_jw_init(&jw, body, sizeof(body));
    gw_oai_error_write(&jw, &(struct gw_oai_error){.message = gw_span_cstr(msg),
                                                   .type = gw_span_cstr(type),
                                                   .param = param,
                                                   .code = code});
    GW_BUG_ON(jw.overflow);
    c->req.err_code = code;
    gw__resp_local(w, c, status, "application/json", body, jw.len, NULL);
}
