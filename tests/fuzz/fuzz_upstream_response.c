/*
 * Fuzzes the response side of an upstream exchange: the real relay
 * (net/relay.c: gw__relay_feed, gw__relay_eof, gw__relay_finish) fed what a
 * hostile upstream sends - status line, headers, 1xx interim heads, chunked
 * framing, Content-Length, close-delimited bodies, SSE event streams, an end
 * of input anywhere - in the splits the fuzzer chooses, for a request set up
 * as net/server.c sets it up: streamed or not, an HTTP/1.0 or 1.1 client,
 * usage asked for or not, chat or embeddings, passed through (OpenAI family)
 * or translated (anthropic, gemini, cohere, bedrock).
 *
 * Input: a 3-byte control prefix, split points, then the upstream's bytes.
 *   byte 0: bit 0 stream, bit 1 client HTTP/1.1, bit 2 want_usage (streams),
 *           bit 3 client keep-alive, bit 4 embeddings, bit 5 the upstream
 *           closes after its bytes (gw__relay_eof), bits 6-7 the
 *           max_sse_event_bytes cap (1 KiB, 16 KiB, 64 KiB, 1 MiB);
 *   byte 1: dialect (mod 5): none, anthropic, gemini, cohere, bedrock;
 *   byte 2: number of split points (mod 16), then two bytes each (LE, mod
 *           the response length).
 * Pieces never exceed 16 KiB, as on the wire (one provided buffer or one TLS
 * record per receive).
 *
 * The minimal objects the relay touches are built by hand: a worker with a
 * snapshot (server limits) and an I/O pool, and a client whose send is marked
 * busy so nothing reaches the ring. Checks, beyond ASan/UBSan/LSan and the
 * relay's own GW_BUG_ONs:
 *  - whatever was queued for the client starts with a response head that
 *    parses, with a final (>= 200) status;
 *  - a response the relay called complete is framed completely for the
 *    client (the last chunk, or exactly Content-Length bytes), unless the
 *    connection is marked to close after it;
 *  - what the client receives (head, and body after de-chunking) does not
 *    depend on the splits: the same bytes fed in 16 KiB pieces give the same
 *    result, when both runs end the same way;
 *  - the way a run ends does not depend on the splits either (this found
 *    sse_feed checking max_sse_event_bytes against the partial event plus
 *    the whole next piece, so that a stream of small events failed when an
 *    event straddled two receives under a cap below 16 KiB).
 *    GW_FUZZ_UPSTREAM_STRICT=0 turns this check off, =2 keeps it with caps of
 *    64 KiB and up only.
 * Everything is freed after each run.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/config.h"
#include "net/http1.h"
#include "net/iobuf.h"
#include "net/worker.h"
#include "providers/dialect.h"
#include "fuzz_common.h"

#define PIECE_MAX 16384 /* GW_RBUF_SIZE: one receive never hands the relay more */
#define MAX_SPLITS 15

struct setup {
    bool stream, http11, want_usage, keepalive, embeddings, eof;
    uint32_t sse_cap;
    enum gw_provider_type ptype;
};

/* What one run left for the client, and how it ended. */
struct outcome {
    int result; /* 1 complete, 0 still waiting, <0 -gw_fail */
    bool close_after;
    char *out; /* owns: every byte queued for the client */
    size_t out_len;
};

static void outcome_free(struct outcome *o)
{
    free(o->out);
    o->out = NULL;
}

/* Copies the client's output queue into one malloc'd buffer. */
static void gather(const struct gw_obuf *ob, struct outcome *o)
{
    o->out_len = ob->len;
    o->out = malloc(ob->len ? ob->len : 1);
    GW_BUG_ON(!o->out);
    size_t n = 0;
    for (const struct gw_ioblock *b = ob->head; b; b = b->next) {
        memcpy(o->out + n, b->data + b->start, b->end - b->start);
        n += b->end - b->start;
    }
    GW_BUG_ON(n != ob->len);
}

/*
 * One run of the relay over resp[0..len), cut before each offset in cuts
 * (sorted, may repeat). Builds and frees every object it uses.
 */
static void run(const struct setup *su, const char *resp, size_t len, const size_t *cuts,
                size_t ncuts, struct outcome *o)
{
    struct gw_worker *w = calloc(1, sizeof(*w));
    struct gw_config *snap = calloc(1, sizeof(*snap));
    struct gw_client *c = calloc(1, sizeof(*c));
    GW_BUG_ON(!w || !snap || !c);
    snap->server.max_sse_event_bytes = su->sse_cap;
    snap->server.max_header_bytes = 65536;
    snap->server.max_body_bytes = 32u << 20;
    w->snap = snap;
    gw_iopool_init(&w->iopool, 1u << 16);

    /* The provider and model as the snapshot would hold them. */
    struct gw_provider p;
    fz_provider(&p, su->ptype);
    struct gw_model m = {
        .name = "client-model", .provider = &p, .upstream_model = "upstream-model"};

    /* The client and its request, as gw__server_process and prepare_proxy leave them. */
    c->state = GW_CS_ACTIVE;
    c->flags = GW_CF_SEND_BUSY; /* a send "in flight": flushes queue, never touch the ring */
    gw_obuf_init(&c->out);
    struct gw_req *r = &c->req;
    gw_arena_init(&r->arena, 4096, 0);
    r->snap = snap;
    r->model = &m;
    r->ep = su->embeddings ? GW_EP_EMBEDDINGS : GW_EP_CHAT;
    r->stream = su->stream && !su->embeddings;
    r->keepalive = su->keepalive;
    r->client_http11 = su->http11;
    r->t_start_ns = 1;
    memcpy(r->rid, "fuzz-request-id", sizeof("fuzz-request-id"));
    r->dialect = gw_dialect_for(p.type);
    if (r->dialect && r->ep == GW_EP_EMBEDDINGS && !r->dialect->translate_embeddings)
        r->ep = GW_EP_CHAT; /* the server refuses those before any upstream call */
    /* Usage is asked for on streams only (plan_usage_edit), by the client or by us. */
    r->want_usage = r->stream && su->want_usage;
    if (r->dialect)
        r->xl = (struct gw_xlate){.prov = &p,
                                  .upstream_model = m.upstream_model,
                                  .client_model = m.name,
                                  .ep = r->ep,
                                  .stream = r->stream,
                                  .want_usage = r->want_usage,
                                  .request_id = r->rid,
                                  .created = 1,
                                  .arena = &r->arena};
    c->action = "relaying (fuzz)";

    /* Feed the pieces; the relay may decode chunked framing in place: give it copies. */
    int k = 0;
    size_t off = 0;
    for (size_t i = 0; i <= ncuts && k == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        while (off < end && k == 0) {
            size_t n = end - off < PIECE_MAX ? end - off : PIECE_MAX;
            char *piece = malloc(n);
            GW_BUG_ON(!piece);
            memcpy(piece, resp + off, n);
            k = gw__relay_feed(w, c, piece, n);
            free(piece);
            off += n;
        }
    }
    GW_BUG_ON(k < -(int)GW_FAIL_COUNT || k > 1);
    if (k == 0 && su->eof)
        k = gw__relay_eof(w, c);
    if (k == 1)
        gw__relay_finish(w, c); /* what response_complete does */
    o->result = k;
    o->close_after = (c->flags & GW_CF_CLOSE_AFTER) != 0;
    gather(&c->out, o);

    gw_obuf_clear(&c->out, &w->iopool);
    free(r->sse);
    free(r->xbuf);
    gw_arena_destroy(&r->arena);
    gw_iopool_destroy(&w->iopool);
    GW_BUG_ON(w->iopool.nallocated != 0); /* every block came back */
    free(c);
    free(snap);
    free(w);
}

/* The client's view of an outcome: head bytes and de-chunked body. */
struct client_view {
    size_t head_len;
    int status;
    bool chunked, has_cl, body_complete;
    uint64_t cl;
    char *body; /* owns */
    size_t body_len;
};

static void view_free(struct client_view *v)
{
    free(v->body);
    v->body = NULL;
}

/* Parses what was queued for the client; false when nothing was. */
static bool client_view(const struct outcome *o, struct client_view *v)
{
    memset(v, 0, sizeof(*v));
    if (o->out_len == 0)
        return false;
    struct gw_http1_header hs[128];
    struct gw_http1_resp h;
    int n = gw_http1_parse_response(o->out, o->out_len, &h, hs, 128);
    /* Our own head: always whole, always valid, never an interim one. */
    GW_BUG_ON(n <= 0);
    GW_BUG_ON(h.status < 200);
    v->head_len = (size_t)n;
    v->status = h.status;
    v->chunked = h.flags & GW_H1_F_CHUNKED;
    v->has_cl = h.flags & GW_H1_F_HAS_CL;
    v->cl = h.content_length;
    size_t rest = o->out_len - (size_t)n;
    v->body = malloc(rest ? rest : 1);
    GW_BUG_ON(!v->body);
    memcpy(v->body, o->out + n, rest);
    if (v->chunked) {
        struct gw_chunked d;
        gw_chunked_init(&d);
        size_t bl = rest;
        ssize_t left = gw_chunked_decode(&d, v->body, &bl);
        /* Our chunked framing is never malformed, and nothing follows its end. */
        GW_BUG_ON(left == -1);
        GW_BUG_ON(left > 0);
        v->body_len = bl;
        v->body_complete = left == 0;
    } else if (v->has_cl) {
        GW_BUG_ON(rest > v->cl); /* never more than announced */
        v->body_len = rest;
        v->body_complete = rest == v->cl;
    } else {
        v->body_len = rest;
        v->body_complete = true; /* close-delimited: complete when the connection closes */
    }
    return true;
}

/* 0 off, 1 strict (the default), 2 strict with caps of 64 KiB and up (GW_FUZZ_UPSTREAM_STRICT). */
static int strict_mode(void)
{
    static int strict = -1;
    if (strict < 0) {
        const char *e = getenv("GW_FUZZ_UPSTREAM_STRICT");
        strict = e && *e ? atoi(e) : 1;
    }
    return strict;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const uint32_t caps[4] = {1024, 16384, 65536, 1u << 20};
    static const enum gw_provider_type types[5] = {GW_PT_OPENAI, GW_PT_ANTHROPIC, GW_PT_GEMINI,
                                                   GW_PT_COHERE, GW_PT_BEDROCK};
    struct setup su = {
        .stream = data[0] & 1,
        .http11 = data[0] & 2,
        .want_usage = data[0] & 4,
        .keepalive = data[0] & 8,
        .embeddings = data[0] & 16,
        .eof = data[0] & 32,
        .sse_cap = caps[strict_mode() == 2 ? 2 + (data[0] >> 7) : data[0] >> 6],
        .ptype = types[data[1] % 5],
    };
    size_t nsplit = data[2] % (MAX_SPLITS + 1);
    size_t pos = 3;
    if (size < pos + 2 * nsplit)
        nsplit = (size - pos) / 2;
    const uint8_t *sp = data + pos;
    pos += 2 * nsplit;
    const char *resp = (const char *)data + pos;
    size_t len = size - pos;

    size_t cuts[MAX_SPLITS];
    for (size_t i = 0; i < nsplit; i++) {
        size_t v = (size_t)sp[2 * i] | (size_t)sp[2 * i + 1] << 8;
        cuts[i] = len ? v % (len + 1) : 0;
    }
    /* Sort (insertion: at most 15). */
    for (size_t i = 1; i < nsplit; i++)
        for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
            size_t t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }

    struct outcome split, whole;
    run(&su, resp, len, cuts, nsplit, &split);
    run(&su, resp, len, NULL, 0, &whole);

    struct client_view vs, vw;
    bool have_s = client_view(&split, &vs);
    bool have_w = client_view(&whole, &vw);
    /* A response the relay completed is framed completely for the client. */
    if (have_s && split.result == 1 && !split.close_after)
        GW_BUG_ON(!vs.body_complete);
    if (have_w && whole.result == 1 && !whole.close_after)
        GW_BUG_ON(!vw.body_complete);
    if (strict_mode())
        GW_BUG_ON(split.result != whole.result);
    /*
     * The splits change nothing: same outcome, same head, same body. Not after
     * a failure: the piece that fails is dropped whole, so what went out
     * before it depends on where the pieces were cut.
     */
    if (split.result == whole.result && split.result >= 0 &&
        split.close_after == whole.close_after) {
        GW_BUG_ON(have_s != have_w);
        if (have_s) {
            GW_BUG_ON(vs.head_len != vw.head_len || memcmp(split.out, whole.out, vs.head_len) != 0);
            GW_BUG_ON(vs.body_len != vw.body_len);
            GW_BUG_ON(memcmp(vs.body, vw.body, vs.body_len) != 0);
        }
    }
    if (have_s)
        view_free(&vs);
    if (have_w)
        view_free(&vw);
    outcome_free(&split);
    outcome_free(&whole);
    return 0;
}
