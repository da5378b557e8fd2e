/*
 * net/server.c — the downstream HTTP/1.1 server: turning the bytes in a
 * client's input buffer into requests, answering the gateway's own endpoints,
 * preparing proxied requests for the upstream side, and finishing each request
 * (access log, metrics, snapshot unbinding) before the next pipelined one.
 * It answers through net/response.c and asks net/upstream.c to carry a
 * proxied request; the relay reports the end of each one back through
 * gw__server_request_done (the one-way order: net/worker.h).
 *
 * While it is read, a request's bytes sit in the client's ibuf: the head at
 * the front, then the body (a chunked body is decoded in place, so the body
 * is always contiguous), then any pipelined bytes. A proxied request then
 * takes that buffer with it (gw_req.in_buf: moved, not copied) and the client
 * reads on into a fresh one (core/ARCHITECTURE.md, buffer ownership).
 * Requests are answered one at a time, so pipelined requests are answered in
 * order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/accounts.h"
#include "core/auth.h"
#include "core/budget.h"
#include "core/common.h"
#include "core/json.h"
#include "core/money.h"
#include "core/strbuf.h"
#include "core/vkey.h"
#include "net/http1.h"
#include "net/worker.h"

#define MAX_HEADERS_HARD 256
/* The most of a requested model name kept for the access log and messages. */
#define MODEL_NAME_MAX 256

enum route {
    ROUTE_NOT_FOUND = 0,
    ROUTE_BAD_METHOD,
    ROUTE_CHAT,
    ROUTE_EMBEDDINGS,
    ROUTE_MODELS,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_COUNT
};

/* A propagated id must be safe to echo in a header and a JSON log line. */
static bool request_id_ok(struct gw_span v)
{
    if (v.len == 0 || v.len > 63)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.ptr[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
            return false;
    }
    return true;
}

/* Errors found before the body was read: answer and close, never read the body. */
static void early_error(struct gw_worker *w, struct gw_client *c, bool body_pending, int status,
                        const char *type, const char *code, const char *param, const char *msg)
{
    if (body_pending)
        gw__client_refuse_rest(c);
    gw__resp_error(w, c, status, type, code, param, "%s", msg);
}

/* ---- local endpoints ---- */

static void serve_models(struct gw_worker *w, struct gw_client *c)
{
    const struct gw_config *cfg = c->req.snap;
    size_t cap = 256 + cfg->nmodels * 256;
    char *buf = gw_arena_alloc(&c->req.arena, cap);
    if (!buf) {
        gw__resp_error(w, c, 503, "server_error", "gateway_overloaded", NULL,
                       "The gateway is out of memory for this request.");
        return;
    }
    struct gw_jw jw;
    gw_jw_init(&jw, buf, cap);
    gw_jw_obj_begin(&jw);
    gw_jw_key(&jw, "object");
    gw_jw_cstr(&jw, "list");
    gw_jw_key(&jw, "data");
    gw_jw_arr_begin(&jw);
    for (size_t i = 0; i < cfg->nmodels; i++) {
        /* A key sees only the models it may use. */
        if (c->req.key && !gw_vkey_allows_model(c->req.key, gw_span_cstr(cfg->models[i].name)))
            continue;
        gw_jw_obj_begin(&jw);
        gw_jw_key(&jw, "id");
        gw_jw_cstr(&jw, cfg->models[i].name);
        gw_jw_key(&jw, "object");
        gw_jw_cstr(&jw, "model");
        gw_jw_key(&jw, "created");
        gw_jw_uint(&jw, w->rt->start_time);
        gw_jw_key(&jw, "owned_by");
        gw_jw_cstr(&jw, cfg->models[i].provider->name);
        gw_jw_obj_end(&jw);
    }
    gw_jw_arr_end(&jw);
    gw_jw_obj_end(&jw);
    if (jw.overflow) {
        gw__resp_error(w, c, 500, "server_error", "internal_error", NULL,
                       "The model list is too large to send.");
        return;
    }
    gw__resp_local(w, c, 200, "application/json", buf, jw.len, NULL);
}

static void serve_metrics(struct gw_worker *w, struct gw_client *c)
{
    size_t len = 0;
    char *text = gw__metrics_render(w, &c->req.arena, &len);
    if (!text) {
        gw__resp_error(w, c, 503, "server_error", "gateway_overloaded", NULL,
                       "The gateway is out of memory for this request.");
        return;
    }
    gw__resp_local(w, c, 200, "text/plain; version=0.0.4", text, len, NULL);
}

/* ---- proxied requests ---- */

/*
 * A copy of a client-chosen name for logs and messages, in the arena: at most
 * MODEL_NAME_MAX bytes, cut on a UTF-8 character boundary, any byte that is
 * not part of valid UTF-8 (or is NUL) shown as '?', so that the JSON writers
 * that escape it always produce valid UTF-8. NULL when out of memory.
 */
static const char *bounded_name(struct gw_arena *a, const char *s, size_t n)
{
    char *out = gw_arena_alloc(a, MODEL_NAME_MAX + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        size_t len = ch < 0x80             ? 1
                     : (ch & 0xe0) == 0xc0 ? 2
                     : (ch & 0xf0) == 0xe0 ? 3
                     : (ch & 0xf8) == 0xf0 ? 4
                                           : 0;
        bool ok = len > 0 && i + len <= n && !(len == 2 && ch < 0xc2) && !(len == 4 && ch > 0xf4);
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
        /* No overlong 3/4-byte forms, UTF-16 surrogates or code points past U+10FFFF. */
        if (ok && len == 3)
            ok = !(ch == 0xe0 && (unsigned char)s[i + 1] < 0xa0) &&
                 !(ch == 0xed && (unsigned char)s[i + 1] >= 0xa0);
        if (ok && len == 4)
            ok = !(ch == 0xf0 && (unsigned char)s[i + 1] < 0x90) &&
                 !(ch == 0xf4 && (unsigned char)s[i + 1] >= 0x90);
        if (!ok || ch == 0)
            len = 1;
        if (o + len > MODEL_NAME_MAX)
            break;
        if (ok && ch != 0)
            memcpy(out + o, s + i, len);
        else
            out[o] = '?';
        o += len;
        i += len;
    }
    out[o] = '\0';
    return out;
}

struct edit {
    size_t start, end; /* body bytes [start, end) are replaced */
    const char *rep;
    size_t replen;
};

/* Quoted, escaped JSON string in the arena. */
static const char *json_quote(struct gw_arena *a, const char *s, size_t *len)
{
    size_t n = strlen(s);
    size_t cap = n * 6 + 3;
    char *out = gw_arena_alloc(a, cap);
    if (!out)
        return NULL;
    out[0] = '"';
    size_t e = gw_json_escape(out + 1, cap - 2, s, n);
    out[1 + e] = '"';
    *len = e + 2;
    return out;
}

/*
 * Decides what to do with stream_options for a streamed chat request: the
 * relay needs the final usage chunk for metering, so it asks for it
 * (include_usage: true) whatever the client said, and remembers whether the
 * client wanted to see it. Returns the number of edits added, -1 when the
 * client's stream_options is not an object or null, or -3 when it holds
 * include_usage twice (an upstream reading the other copy would not send the
 * usage the gateway meters with); both are a 400 (usage_option_refused).
 */
static int plan_usage_edit(const char *body, const struct gw_json_member *so, struct edit *e,
                           bool *want_usage)
{
    *want_usage = false;
    if (!so->found)
        return -2; /* the caller inserts a whole member after the top-level '{' */
    if (so->value.type == GW_JT_NULL) {
        e->start = so->value.start;
        e->end = so->value_end;
        e->rep = "{\"include_usage\":true}";
        e->replen = strlen(e->rep);
        return 1;
    }
    if (so->value.type != GW_JT_OBJ_BEGIN)
        return -1;
    static const char *const inner_keys[] = {"include_usage"};
    struct gw_json_member iu;
    size_t off = so->value.start;
    if (gw_json_scan_object(body + off, so->value_end - off, inner_keys, 1, &iu) < 0)
        return -1;
    if (iu.dup)
        return -3;
    if (iu.found) {
        if (iu.value.type == GW_JT_TRUE) {
            *want_usage = true;
            return 0;
        }
        e->start = off + iu.value.start;
        e->end = off + iu.value_end;
        e->rep = "true";
        e->replen = 4;
        return 1;
    }
    /* Insert the member right after the object's '{', with a comma unless it is empty. */
    bool empty = true;
    for (size_t i = off + 1; i < so->value_end; i++) {
        char ch = body[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            continue;
        empty = ch == '}';
        break;
    }
    e->start = e->end = off + 1;
    e->rep = empty ? "\"include_usage\":true" : "\"include_usage\":true,";
    e->replen = strlen(e->rep);
    return 1;
}

/* The 400 for plan_usage_edit's -1 and -3. */
static void usage_option_refused(struct gw_worker *w, struct gw_client *c, int k)
{
    if (k == -3)
        gw__resp_error(w, c, 400, "invalid_request_error", "duplicate_member",
                       "stream_options.include_usage",
                       "`stream_options` has more than one `include_usage` member.");
    else
        gw__resp_error(w, c, 400, "invalid_request_error", "invalid_type", "stream_options",
                       "`stream_options` must be an object.");
}

/*
 * The lines every upstream request head ends with, after the dialect's own:
 * body framing, what we accept, the request id, who we are, the blank line.
 */
static void head_end(struct gw_sb *hb, const struct gw_req *r, size_t body_len)
{
    gw_sb_lit(hb, "content-type: application/json\r\ncontent-length: ");
    gw_sb_u64(hb, body_len);
    if (r->stream && r->dialect && r->dialect->stream_ctype) {
        gw_sb_lit(hb, "\r\naccept: ");
        gw_sb_puts(hb, r->dialect->stream_ctype);
        gw_sb_lit(hb, "\r\nx-request-id: ");
    } else if (r->stream)
        gw_sb_lit(hb, "\r\naccept: text/event-stream\r\nx-request-id: ");
    else
        gw_sb_lit(hb, "\r\naccept: application/json\r\nx-request-id: ");
    gw_sb_puts(hb, r->rid);
    gw_sb_lit(hb, "\r\nuser-agent: conduit/" GW_VERSION "\r\n\r\n");
}

/*
 * The upstream request head, per dialect (the body is OpenAI's for both):
 *  openai family: POST {base_path}/chat/completions, Authorization: Bearer,
 *    OpenAI-Organization / OpenAI-Project when configured;
 *  azure v1:      POST {base}/openai/v1/chat/completions, api-key header, the
 *    deployment named by "model" in the body;
 *  azure dated:   POST {base}/openai/deployments/{deployment}/chat/completions
 *    ?api-version={v}, api-key header.
 * [Azure OpenAI REST reference; openai-node docs/azure.md]
 */
static void upstream_head(struct gw_sb *hb, const struct gw_req *r, const struct gw_provider *p,
                          size_t body_len)
{
    const char *op = r->ep == GW_EP_CHAT ? "/chat/completions" : "/embeddings";
    gw_sb_lit(hb, "POST ");
    gw_sb_puts(hb, p->base_path);
    if (p->type == GW_PT_AZURE && strcmp(p->api_version, "v1") == 0) {
        gw_sb_lit(hb, "/openai/v1");
        gw_sb_puts(hb, op);
    } else if (p->type == GW_PT_AZURE) {
        gw_sb_lit(hb, "/openai/deployments/");
        gw_sb_puts(hb, p->deployment[0] ? p->deployment : r->model->upstream_model);
        gw_sb_puts(hb, op);
        gw_sb_lit(hb, "?api-version=");
        gw_sb_puts(hb, p->api_version);
    } else {
        gw_sb_puts(hb, op);
    }
    gw_sb_lit(hb, " HTTP/1.1\r\nhost: ");
    gw_sb_puts(hb, p->host_header);
    if (p->api_key[0]) {
        if (p->type == GW_PT_AZURE)
            gw_sb_lit(hb, "\r\napi-key: ");
        else
            gw_sb_lit(hb, "\r\nauthorization: Bearer ");
        gw_sb_puts(hb, p->api_key);
    }
    if (p->organization[0]) {
        gw_sb_lit(hb, "\r\nopenai-organization: ");
        gw_sb_puts(hb, p->organization);
    }
    if (p->project[0]) {
        gw_sb_lit(hb, "\r\nopenai-project: ");
        gw_sb_puts(hb, p->project);
    }
    gw_sb_lit(hb, "\r\n");
    head_end(hb, r, body_len);
}

/* The upstream request is prepared (pieces in the arena and in_buf): send it. */
static void send_upstream(struct gw_worker *w, struct gw_client *c, struct iovec *iov, int n,
                          size_t total)
{
    struct gw_req *r = &c->req;
    r->up_iov = iov;
    r->up_iovcnt = n;
    r->up_total = total;
    r->up_sent = 0;
    if (r->stream) {
        gw__stat_add(&w->shared.streams_active, 1);
        r->stream_counted = true;
    }
    c->action = "sending request upstream";
    gw__up_start(w, c, false);
}

/*
 * A dialect that translates (Anthropic, ...): the translator builds the
 * upstream path, headers and body from the client's OpenAI request; the relay
 * translates the answer back (net/relay.c).
 */
static void prepare_translated(struct gw_worker *w, struct gw_client *c, const char *body,
                               size_t blen, bool embed_base64)
{
    struct gw_req *r = &c->req;
    const struct gw_provider *p = r->model->provider;
    r->xl = (struct gw_xlate){.prov = p,
                              .upstream_model = r->model->upstream_model,
                              .client_model = r->model->name,
                              .ep = r->ep,
                              .embed_base64 = embed_base64,
                              .stream = r->stream,
                              .want_usage = r->want_usage,
                              .request_id = r->rid,
                              .created = (uint64_t)time(NULL),
                              .arena = &r->arena};
    struct gw_xlate_req xr;
    struct gw_xlate_err e;
    memset(&xr, 0, sizeof(xr));
    memset(&e, 0, sizeof(e));
    int k = r->ep == GW_EP_EMBEDDINGS
                ? r->dialect->build_embeddings(&r->xl, body, blen, &xr, &e)
                : r->dialect->build_request(&r->xl, body, blen, &xr, &e);
    if (k < 0) {
        /* 4xx: the request cannot be put to this provider as it is (the message
         * and param say why); 5xx: the gateway failed to build it. */
        int st = e.status ? e.status : 400;
        gw__resp_error(w, c, st, st >= 500 ? "server_error" : "invalid_request_error",
                       st >= 500 ? "translation_failed" : "translation_refused", e.param, "%s",
                       e.message[0] ? e.message : "The request could not be translated.");
        return;
    }
    r->warning = xr.warning;
    size_t hcap = 512 + strlen(p->base_path) + strlen(xr.path) + strlen(p->host_header) +
                  xr.headers.len;
    char *head = gw_arena_alloc(&r->arena, hcap);
    struct iovec *iov = gw_arena_alloc(&r->arena, 2 * sizeof(*iov));
    if (!head || !iov) {
        gw__stat_add(&w->shared.buffer_refusals, 1);
        gw__resp_error(w, c, 503, "server_error", "gateway_overloaded", NULL,
                       "The gateway is out of memory for this request.");
        return;
    }
    struct gw_sb hb;
    gw_sb_init(&hb, head, hcap);
    gw_sb_lit(&hb, "POST ");
    gw_sb_puts(&hb, p->base_path);
    gw_sb_puts(&hb, xr.path);
    gw_sb_lit(&hb, " HTTP/1.1\r\nhost: ");
    gw_sb_puts(&hb, p->host_header);
    gw_sb_lit(&hb, "\r\n");
    gw_sb_put(&hb, xr.headers.ptr, xr.headers.len);
    head_end(&hb, r, xr.body.len);
    GW_BUG_ON(hb.overflow); /* hcap covers every piece */
    iov[0] = (struct iovec){head, hb.len};
    iov[1] = (struct iovec){(void *)xr.body.ptr, xr.body.len};
    send_upstream(w, c, iov, 2, hb.len + xr.body.len);
}

/*
 * Budget admission (core/spend.h): reserve an estimate of the request's cost
 * against its key's and team's budgets, or answer 429 insufficient_quota
 * naming the budget and when it resets. The estimate is the prompt at four
 * bytes a token plus the output allowed (max_tokens, else
 * store.default_max_tokens), at the model's price; a model without a price
 * reserves nothing (it is served, and logged with cost_usd null).
 */
static bool admit(struct gw_worker *w, struct gw_client *c, size_t blen)
{
    struct gw_req *r = &c->req;
    const struct gw_accounts *acc = r->snap->accounts;
    if (!acc || !r->key)
        return true;
    r->price = gw_accounts_find_price(acc, gw_span_cstr(r->model->name),
                                      gw_span_cstr(r->model->upstream_model));
    if (!w->rt->board)
        return true;
    int64_t est = 0;
    if (r->price) {
        struct gw_cost_in in = {
            .prompt_tokens = blen / 4,
            .completion_tokens = r->ep == GW_EP_EMBEDDINGS
                                     ? 0
                                     : (r->max_tokens ? r->max_tokens
                                                      : r->snap->store.default_max_tokens),
            .embedding = r->ep == GW_EP_EMBEDDINGS};
        est = gw_price_cost(r->price, &in);
    }
    int64_t now = (int64_t)time(NULL);
    enum gw_admit a = gw_spend_admit_on_worker(w->rt->board, &w->ledger, w->id, r->key, now, est);
    if (a == GW_ADMIT_OK) {
        r->admitted = true;
        r->est_pusd = est;
        r->prompt_est = blen / 4;
        const struct gw_vkey *k = r->key;
        r->hard_budget = (k->budget.set && k->budget.hard) ||
                         (k->team && k->team->budget.set && k->team->budget.hard);
        return true;
    }
    gw__stat_add(&w->shared.budget_refusals[a], 1);
    bool team = a == GW_ADMIT_TEAM_BUDGET;
    const struct gw_budget *b = team ? &r->key->team->budget : &r->key->budget;
    uint32_t slot = team ? r->key->team->slot : r->key->slot;
    int64_t seen = gw_spend_seen_on_worker(w->rt->board, &w->ledger, w->id, slot, b, now);
    int64_t start, end;
    gw_period_bounds(b->period, now, &start, &end);
    char reset[48];
    if (b->period == GW_PERIOD_TOTAL)
        snprintf(reset, sizeof(reset), "it does not reset (period total)");
    else {
        char t[32];
        gw_time_rfc3339(end, t, sizeof(t));
        snprintf(reset, sizeof(reset), "it resets at %s", t);
    }
    gw__resp_error(w, c, 429, "insufficient_quota", "budget_exceeded", NULL,
                   "Budget exceeded for %s `%s`: $%.6f of its $%.6f %s budget is spent or "
                   "reserved; %s.",
                   team ? "team" : "key", team ? r->key->team->name : r->key->name,
                   gw_pusd_to_usd(seen), gw_pusd_to_usd(b->limit_pusd), gw_period_str(b->period),
                   reset);
    return false;
}

static void prepare_proxy(struct gw_worker *w, struct gw_client *c, enum route route)
{
    struct gw_req *r = &c->req;
    const char *body = r->in_buf + r->head_len;
    size_t blen = r->body_have;
    static const char *const keys[] = {"model",           "stream",     "stream_options",
                                       "encoding_format", "max_tokens", "max_completion_tokens"};
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];
    if (blen == 0 || gw_json_scan_object(body, blen, keys, GW_ARRAY_SIZE(keys), m) < 0) {
        gw__resp_error(w, c, 400, "invalid_request_error", "invalid_json", NULL,
                       "We could not parse the JSON body of your request. The body must be "
                       "a JSON object.");
        return;
    }
    /* A member the gateway reads or rewrites must be there once: an upstream
     * that reads the other copy would act on a value the gateway never
     * checked (a model it did not approve, a stream it does not relay). */
    for (size_t i = 0; i < GW_ARRAY_SIZE(keys); i++) {
        if (m[i].dup) {
            gw__resp_error(w, c, 400, "invalid_request_error", "duplicate_member", keys[i],
                           "The request body has more than one `%s` member.", keys[i]);
            return;
        }
    }
    if (!m[0].found) {
        gw__resp_error(w, c, 400, "invalid_request_error", "missing_required_parameter", "model",
                       "You must provide a model parameter.");
        return;
    }
    if (m[0].value.type != GW_JT_STRING) {
        gw__resp_error(w, c, 400, "invalid_request_error", "invalid_type", "model",
                       "The model parameter must be a string.");
        return;
    }
    r->ep = route == ROUTE_CHAT ? GW_EP_CHAT : GW_EP_EMBEDDINGS;
    /* Decoded whole (never longer than its JSON form) for the lookup; the
     * access log and the 404 keep a bounded copy of what was asked for. */
    struct gw_span raw = m[0].value.span;
    char *name = gw_arena_alloc(&r->arena, raw.len + 1);
    if (!name)
        goto nomem;
    long nlen = gw_json_unescape(raw, name, raw.len);
    if (nlen < 0) {
        gw__resp_error(w, c, 400, "invalid_request_error", "invalid_json", "model",
                       "The model parameter is not a valid JSON string.");
        return;
    }
    r->model = gw_config_find_model(r->snap, gw_span_make(name, (size_t)nlen));
    if (!r->model) {
        /* Only an unknown name needs keeping: a known one is logged as configured. */
        r->model_asked = bounded_name(&r->arena, name, (size_t)nlen);
        gw__resp_error(w, c, 404, "invalid_request_error", "model_not_found", "model",
                       "The model `%s` does not exist or you do not have access to it.",
                       r->model_asked ? r->model_asked : "");
        return;
    }
    if (!gw_vkey_allows_model(r->key, gw_span_make(name, (size_t)nlen))) {
        gw__stat_add(&w->shared.model_refusals, 1);
        gw__resp_error(w, c, 403, "invalid_request_error", "model_not_allowed", "model",
                       "This API key may not use the model `%s`.", r->model->name);
        return;
    }
    /* The output the caller allows itself: what admission reserves for. */
    for (int i = 4; i <= 5; i++) {
        uint64_t mt;
        if (m[i].found && m[i].value.type == GW_JT_NUMBER &&
            gw_json_to_u64(m[i].value.span, &mt) && mt > r->max_tokens)
            r->max_tokens = mt;
    }
    if (!admit(w, c, blen))
        return;
    if (route == ROUTE_CHAT && m[1].found) {
        if (m[1].value.type == GW_JT_TRUE)
            r->stream = true;
        else if (m[1].value.type != GW_JT_FALSE && m[1].value.type != GW_JT_NULL) {
            gw__resp_error(w, c, 400, "invalid_request_error", "invalid_type", "stream",
                           "`stream` must be a boolean.");
            return;
        }
    }

    r->dialect = gw_dialect_for(r->model->provider->type);
    if (r->dialect && r->ep == GW_EP_EMBEDDINGS && !r->dialect->build_embeddings) {
        gw__resp_error(w, c, 400, "invalid_request_error", "unsupported_endpoint", "model",
                       "The model `%s` (provider type %s) does not serve %s.", r->model->name,
                       r->model->provider->type_name, gw_endpoint_str(r->ep));
        return;
    }
    if (r->dialect) {
        if (r->stream) {
            struct edit unused;
            int k = plan_usage_edit(body, &m[2], &unused, &r->want_usage);
            if (k == -1 || k == -3) {
                usage_option_refused(w, c, k);
                return;
            }
        }
        /* Translated embeddings are written in the encoding the client asked for. */
        bool base64 = r->ep == GW_EP_EMBEDDINGS && m[3].found &&
                      m[3].value.type == GW_JT_STRING &&
                      gw_span_eq(m[3].value.span, gw_span_cstr("base64"));
        prepare_translated(w, c, body, blen, base64);
        return;
    }

    /* Body edits, in increasing offset order. */
    struct edit edits[3];
    int nedits = 0;
    size_t qlen;
    const char *q = json_quote(&r->arena, r->model->upstream_model, &qlen);
    if (!q)
        goto nomem;
    struct edit model_edit = {m[0].value.start, m[0].value_end, q, qlen};
    struct edit usage_edit = {0, 0, NULL, 0};
    bool have_usage_edit = false;
    if (r->stream && r->model->provider->stream_usage_option) {
        int k = plan_usage_edit(body, &m[2], &usage_edit, &r->want_usage);
        if (k == -1 || k == -3) {
            usage_option_refused(w, c, k);
            return;
        }
        if (k == -2) {
            /* Absent: insert a member after the top-level '{' (first non-space byte). */
            size_t i = 0;
            while (i < blen && body[i] != '{')
                i++;
            usage_edit.start = usage_edit.end = i + 1;
            usage_edit.rep = "\"stream_options\":{\"include_usage\":true},";
            usage_edit.replen = strlen(usage_edit.rep);
            k = 1;
        }
        have_usage_edit = k == 1;
    }
    if (have_usage_edit && usage_edit.start < model_edit.start) {
        edits[nedits++] = usage_edit;
        edits[nedits++] = model_edit;
    } else {
        edits[nedits++] = model_edit;
        if (have_usage_edit)
            edits[nedits++] = usage_edit;
    }

    /* iovecs: head, then body pieces around the edits. */
    struct iovec *iov = gw_arena_alloc(&r->arena, sizeof(*iov) * (size_t)(2 + nedits * 2));
    if (!iov)
        goto nomem;
    int n = 1;
    size_t pos = 0, total_body = 0;
    for (int i = 0; i < nedits; i++) {
        if (edits[i].start > pos) {
            iov[n++] = (struct iovec){(void *)(body + pos), edits[i].start - pos};
            total_body += edits[i].start - pos;
        }
        iov[n++] = (struct iovec){(void *)edits[i].rep, edits[i].replen};
        total_body += edits[i].replen;
        pos = edits[i].end;
    }
    if (pos < blen) {
        iov[n++] = (struct iovec){(void *)(body + pos), blen - pos};
        total_body += blen - pos;
    }

    const struct gw_provider *p = r->model->provider;
    size_t hcap = 640 + strlen(p->base_path) + strlen(p->host_header) + strlen(p->api_key) +
                  strlen(p->organization) + strlen(p->project) + strlen(p->api_version) +
                  strlen(p->deployment) + strlen(r->model->upstream_model);
    char *head = gw_arena_alloc(&r->arena, hcap);
    if (!head)
        goto nomem;
    struct gw_sb hb;
    gw_sb_init(&hb, head, hcap);
    upstream_head(&hb, r, p, total_body);
    if (hb.overflow)
        goto nomem;
    iov[0] = (struct iovec){head, hb.len};
    send_upstream(w, c, iov, n, hb.len + total_body);
    return;
nomem:
    gw__stat_add(&w->shared.buffer_refusals, 1);
    gw__resp_error(w, c, 503, "server_error", "gateway_overloaded", NULL,
                   "The gateway is out of memory for this request.");
}

/* ---- parsing ---- */

static enum route route_of(struct gw_span method, struct gw_span target)
{
    const char *q = memchr(target.ptr, '?', target.len);
    struct gw_span path = gw_span_make(target.ptr, q ? (size_t)(q - target.ptr) : target.len);
    bool post = gw_span_eq(method, GW_SPAN_LIT("POST"));
    bool get = gw_span_eq(method, GW_SPAN_LIT("GET")) || gw_span_eq(method, GW_SPAN_LIT("HEAD"));
    static const struct {
        const char *path;
        enum route route;
        bool is_post;
    } table[] = {
        {"/v1/chat/completions", ROUTE_CHAT, true},
        {"/chat/completions", ROUTE_CHAT, true},
        {"/v1/embeddings", ROUTE_EMBEDDINGS, true},
        {"/embeddings", ROUTE_EMBEDDINGS, true},
        {"/v1/models", ROUTE_MODELS, false},
        {"/models", ROUTE_MODELS, false},
        {"/healthz", ROUTE_HEALTHZ, false},
        {"/readyz", ROUTE_READYZ, false},
        {"/metrics", ROUTE_METRICS, false},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(table); i++) {
        if (!gw_span_eq(path, gw_span_cstr(table[i].path)))
            continue;
        if (table[i].is_post ? post : get)
            return table[i].route;
        return ROUTE_BAD_METHOD;
    }
    return ROUTE_NOT_FOUND;
}

/* Binds the request to the worker's current snapshot (RCU). */
static bool bind_snapshot(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    if (gw_gentrack_get(&w->gentrack, w->snap->generation) < 0)
        return false;
    r->snap = w->snap;
    r->gen = w->snap->generation;
    r->bound = true;
    return true;
}

static void reset_request(struct gw_req *r)
{
    struct gw_arena arena = r->arena;
    char *sse = r->sse;
    size_t sse_cap = r->sse_cap;
    memset(r, 0, sizeof(*r));
    r->arena = arena;
    r->sse = sse;
    r->sse_cap = sse_cap;
}

/*
 * The SHA-256 of a presented key, computed once per connection and key: a
 * keep-alive client sends the same key on every request. Both sides of the
 * comparison are the client's own bytes, so its timing tells it nothing.
 */
static void key_digest(struct gw_client *c, struct gw_span key, uint8_t d[GW_DIGEST_LEN])
{
    if (key.len && key.len == c->auth_len && memcmp(c->auth_key, key.ptr, key.len) == 0) {
        memcpy(d, c->auth_digest, GW_DIGEST_LEN);
        return;
    }
    gw_vkey_digest(key.ptr, key.len, d);
    if (key.len && key.len <= sizeof(c->auth_key)) {
        memcpy(c->auth_key, key.ptr, key.len);
        memcpy(c->auth_digest, d, GW_DIGEST_LEN);
        c->auth_len = (uint8_t)key.len;
    } else {
        c->auth_len = 0;
    }
}

/* Head complete: extract what the request needs before ibuf may move. */
static int on_head(struct gw_worker *w, struct gw_client *c, unsigned *route)
{
    const struct gw_server_config *sc = &w->snap->server;
    struct gw_http1_header hdrs[MAX_HEADERS_HARD];
    size_t maxh = GW_MIN((size_t)sc->max_headers, (size_t)MAX_HEADERS_HARD);
    struct gw_http1_req h;
    struct gw_req *r = &c->req;
    int n = gw_http1_parse_request(c->ibuf, c->ilen, &h, hdrs, maxh);
    if (n == -2) {
        if (c->ilen >= sc->max_header_bytes) {
            gw__client_refuse_rest(c);
            gw__resp_error(w, c, 431, "invalid_request_error", "request_header_fields_too_large",
                           NULL, "The request head is larger than %u bytes.", sc->max_header_bytes);
            return -1;
        }
        return 0;
    }
    r->t_start_ns = gw__now_ns();
    if (n < 0) {
        gw__client_refuse_rest(c);
        if (h.err == GW_H1E_TOO_MANY_HEADERS)
            gw__resp_error(w, c, 431, "invalid_request_error", "request_header_fields_too_large",
                           NULL, "The request has more than %zu header fields.", maxh);
        else
            gw__resp_error(w, c, 400, "invalid_request_error", "bad_request", NULL,
                           "Malformed HTTP request: %s.", gw_http1_err_str(h.err));
        return -1;
    }
    if ((size_t)n > sc->max_header_bytes) {
        gw__client_refuse_rest(c);
        gw__resp_error(w, c, 431, "invalid_request_error", "request_header_fields_too_large", NULL,
                       "The request head is larger than %u bytes.", sc->max_header_bytes);
        return -1;
    }
    r->head_len = (size_t)n;
    r->raw_end = (size_t)n; /* a request answered before its body is read ends with its head */
    r->keepalive = (h.flags & GW_H1_F_KEEPALIVE) && !w->draining;
    r->client_http11 = h.minor_version == 1;
    const struct gw_http1_header *rid = gw_http1_find(hdrs, h.num_headers, "x-request-id");
    if (rid && request_id_ok(rid->value)) {
        memcpy(r->rid, rid->value.ptr, rid->value.len);
        r->rid[rid->value.len] = '\0';
    } else {
        gw__resp_request_id(r->rid, sizeof(r->rid));
    }
    *route = (unsigned)route_of(h.method, h.target);
    r->head_only = gw_span_eq(h.method, GW_SPAN_LIT("HEAD"));
    bool body_pending = false;
    if (h.flags & GW_H1_F_CHUNKED) {
        r->chunked_in = true;
        gw_chunked_init(&r->in_dec);
        body_pending = true;
    } else if (h.flags & GW_H1_F_HAS_CL) {
        r->body_expect = h.content_length;
        body_pending = h.content_length > 0;
        if (h.content_length > sc->max_body_bytes) {
            early_error(w, c, true, 413, "invalid_request_error", "request_too_large", NULL,
                        "The request body is larger than the gateway's limit.");
            return -1;
        }
    }
    if (!bind_snapshot(w, c)) {
        early_error(w, c, body_pending, 503, "server_error", "gateway_overloaded", NULL,
                    "Too many configuration generations in use; retry.");
        return -1;
    }
    /* The API routes need a virtual key; /metrics too when the config says so
     * (it names models, providers and traffic); the probes never do. */
    if (*route == ROUTE_CHAT || *route == ROUTE_EMBEDDINGS || *route == ROUTE_MODELS ||
        (*route == ROUTE_METRICS && r->snap->server.metrics_require_key)) {
        const struct gw_http1_header *ah = gw_http1_find(hdrs, h.num_headers, "authorization");
        const struct gw_http1_header *xh = gw_http1_find(hdrs, h.num_headers, "x-api-key");
        struct gw_span key;
        if (!gw_auth_extract(ah ? ah->value : GW_SPAN_NULL, xh ? xh->value : GW_SPAN_NULL,
                             &key)) {
            early_error(w, c, body_pending, 401, "invalid_request_error", "invalid_api_key",
                        NULL,
                        "You didn't provide an API key. Send it as `Authorization: Bearer KEY`.");
            return -1;
        }
        enum gw_key_status ks = GW_KEY_UNKNOWN;
        uint8_t digest[GW_DIGEST_LEN];
        key_digest(c, key, digest);
        r->key = r->snap->accounts
                     ? gw_accounts_find_key(r->snap->accounts, digest, (int64_t)time(NULL), &ks)
                     : NULL;
        if (!r->key) {
            /* Unknown, disabled, revoked and expired keys get one answer: a
             * caller learns nothing about which keys exist. */
            early_error(w, c, body_pending, 401, "invalid_request_error", "invalid_api_key",
                        NULL, "Incorrect API key provided.");
            return -1;
        }
    } else if (*route == ROUTE_NOT_FOUND) {
        char msg[200];
        int ml = GW_MIN((int)h.method.len, 16), pl = GW_MIN((int)h.target.len, 128);
        snprintf(msg, sizeof(msg), "Invalid URL (%.*s %.*s).", ml, h.method.ptr, pl, h.target.ptr);
        early_error(w, c, body_pending, 404, "invalid_request_error", "unknown_url", NULL, msg);
        return -1;
    } else if (*route == ROUTE_BAD_METHOD) {
        early_error(w, c, body_pending, 405, "invalid_request_error", "method_not_allowed", NULL,
                    "Method not allowed for this path.");
        return -1;
    }
    if ((h.flags & GW_H1_F_EXPECT_100) && body_pending && c->ilen == (size_t)n) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (gw_obuf_append(&c->out, &w->iopool, cont, sizeof(cont) - 1) == 0)
            gw__client_flush(w, c);
    }
    gw__client_arm_timer(w, c, sc->body_timeout_ms);
    return 1;
}

void gw__server_process(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    const struct gw_server_config *sc = &w->snap->server;
    if (c->state != GW_CS_READING)
        return;
    if (r->head_len == 0) {
        if (c->ilen == 0)
            return;
        if (!r->head_timer) {
            /* The header timeout runs from the first byte of each request. */
            r->head_timer = true;
            c->action = "reading request head";
            gw__client_arm_timer(w, c, sc->header_timeout_ms);
        }
        int k = on_head(w, c, &r->route);
        if (k <= 0)
            return;
        c->action = "reading request body";
    }
    /* Body */
    if (r->chunked_in) {
        size_t start = r->head_len + r->body_have;
        size_t n = c->ilen - start;
        ssize_t left = gw_chunked_decode(&r->in_dec, c->ibuf + start, &n);
        if (left == -1) {
            gw__client_refuse_rest(c);
            gw__resp_error(w, c, 400, "invalid_request_error", "bad_request", NULL,
                           "Malformed chunked request body.");
            return;
        }
        r->body_have += n;
        if (r->body_have > sc->max_body_bytes) {
            early_error(w, c, true, 413, "invalid_request_error", "request_too_large", NULL,
                        "The request body is larger than the gateway's limit.");
            return;
        }
        if (left == -2) {
            c->ilen = r->head_len + r->body_have;
            return;
        }
        /* Leftover (pipelined) bytes were moved right after the decoded body. */
        r->raw_end = r->head_len + r->body_have;
        c->ilen = r->raw_end + (size_t)left;
    } else {
        if (c->ilen - r->head_len < r->body_expect)
            return;
        r->body_have = r->body_expect;
        r->raw_end = r->head_len + r->body_expect;
    }
    gw_tw_del(&w->tw, &c->timer);
    c->state = GW_CS_ACTIVE;
    switch ((enum route)r->route) {
    case ROUTE_CHAT:
    case ROUTE_EMBEDDINGS:
        if (w->draining) {
            r->keepalive = false;
            gw__resp_error(w, c, 503, "server_error", "gateway_draining", NULL,
                           "The gateway is shutting down.");
            return;
        }
        /* The upstream request is built from these bytes and may be sent
         * again: from here they are the request's, not the client's buffer's. */
        if (!gw__client_input_to_request(w, c)) {
            gw__stat_add(&w->shared.buffer_refusals, 1);
            r->keepalive = false;
            gw__resp_error(w, c, 503, "server_error", "gateway_overloaded", NULL,
                           "The gateway is out of memory for this request.");
            return;
        }
        prepare_proxy(w, c, (enum route)r->route);
        return;
    case ROUTE_MODELS:
        serve_models(w, c);
        return;
    case ROUTE_HEALTHZ:
        gw__resp_local(w, c, 200, "application/json", "{\"status\":\"ok\"}", 15, NULL);
        return;
    case ROUTE_READYZ:
        if (w->draining)
            gw__resp_local(w, c, 503, "application/json", "{\"status\":\"draining\"}", 21, NULL);
        else
            gw__resp_local(w, c, 200, "application/json", "{\"status\":\"ready\"}", 18, NULL);
        return;
    case ROUTE_METRICS:
        serve_metrics(w, c);
        return;
    default:
        GW_BUG_ON(1);
    }
}

static void request_end(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    if (r->status == 0)
        r->status = 499;
    /* Settles the reservation and writes the record, unless the response's
     * completion did (then with its last bytes held for it). */
    if (r->route == ROUTE_CHAT || r->route == ROUTE_EMBEDDINGS)
        gw__usage_finish(w, c, false);
    if (w->snap->server.access_log)
        gw__log_access(w, c);
    gw__metrics_request(w, c, r->status);
    if (r->stream_counted)
        gw__stat_sub(&w->shared.streams_active, 1);
    r->stream_counted = false;
    /* Whatever the upstream side still does with this request's connection,
     * it sends from memory of its own: the request's bytes can go. */
    gw__req_input_release(w, r);
    if (r->bound)
        gw_gentrack_put(&w->gentrack, r->gen);
    r->bound = false;
}

void gw__server_request_abort(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    if (r->up)
        gw__up_detach(w, c);
    if (r->bound) {
        if (!r->head_sent)
            r->status = 499;
        request_end(w, c);
    }
}

void gw__server_request_done(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    request_end(w, c);
    bool keep = r->keepalive && !(c->flags & GW_CF_CLOSE_AFTER) && !w->draining;
    size_t raw_end = r->raw_end;
    c->flags &= ~GW_CF_RESP_DONE;
    if (r->sse && r->sse_cap > GW_RBUF_SIZE) {
        free(r->sse);
        r->sse = NULL;
        r->sse_cap = 0;
    }
    r->sse_len = 0;
    free(r->xbuf);
    r->xbuf = NULL;
    gw_arena_reset(&r->arena);
    reset_request(r);
    if (!keep) {
        if (c->flags & GW_CF_DISCARD)
            gw__client_linger(w, c);
        else
            gw__client_close(w, c, "connection: close");
        return;
    }
    /* Drop this request's bytes; pipelined ones move to the front. */
    if (raw_end < c->ilen) {
        memmove(c->ibuf, c->ibuf + raw_end, c->ilen - raw_end);
        c->ilen -= raw_end;
    } else {
        c->ilen = 0;
    }
    c->state = GW_CS_READING;
    if (c->ilen == 0) {
        /* Idle keep-alive connections hold no input buffer. */
        gw__client_input_free(w, c);
        c->action = "waiting for a request (keep-alive idle)";
        gw__client_arm_timer(w, c, w->snap->server.idle_timeout_ms);
    } else {
        c->action = "reading request head";
        gw__client_arm_timer(w, c, w->snap->server.header_timeout_ms);
    }
    if (c->flags & GW_CF_RECV_PAUSED)
        gw__client_want_recv(w, c);
    if (c->ilen)
        gw__server_process(w, c);
}
