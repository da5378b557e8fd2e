/*
 * tests/unit/providers/xtest.h — what every dialect suite shares: the
 * fixture (an arena, a provider and the request being translated), a
 * fixture-file loader, byte-for-byte span checks, the request, response and
 * error checks over a dialect's table (providers/dialect.h), the OpenAI
 * requests every dialect refuses alike, and the stream drivers: one feeds an
 * upstream stream whole, split at every byte boundary and a byte at a time
 * and requires the same output each way; others check the limits every
 * stream translator keeps (an oversized event, a refusing sink, an exhausted
 * arena).
 *
 * The suites keep what is their dialect's own: fixtures in its wire format
 * and the exact outputs, params and messages it gives. Every check names the
 * dialect (its table's name) and, inside a table-driven check, the case
 * (xt_case) in its failure message.
 *
 * Header-only (static functions) because each suite is its own executable.
 */
#ifndef GW_TESTS_UNIT_PROVIDERS_XTEST_H
#define GW_TESTS_UNIT_PROVIDERS_XTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/config.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/dialect.h"
#include "providers/provider.h"
#include "providers/xlate.h"

#define LIT_LEN(s) (sizeof(s) - 1)

/* OpenAI's usage member as the writer puts it (gw_oai_usage), from its five counts. */
#define XT_USAGE(prompt, completion, total, cached, reasoning)                                     \
    "\"usage\":{\"prompt_tokens\":" #prompt ",\"completion_tokens\":" #completion                  \
    ",\"total_tokens\":" #total ",\"prompt_tokens_details\":{\"cached_tokens\":" #cached           \
    "},\"completion_tokens_details\":{\"reasoning_tokens\":" #reasoning "}}"

/* What ends every translated stream, and OpenAI's error chunk for a gateway message before it. */
#define XT_DONE "data: [DONE]\n\n"
#define XT_ERROR_END(msg)                                                                          \
    "data: {\"error\":{\"message\":\"" msg "\",\"type\":\"server_error\",\"param\":null,"          \
    "\"code\":null}}\n\n" XT_DONE

/* ---- the fixture ---- */

static struct gw_arena arena;
static struct gw_provider prov;
static struct gw_xlate X;

/* A fresh arena, a provider named name with key, and X translating model for client_model. */
static inline void xt_setup(const char *name, const char *key, const char *model,
                            const char *client_model)
{
    gw_arena_init(&arena, 1 << 16, 0);
    memset(&prov, 0, sizeof(prov));
    prov.name = name;
    prov.api_key = key;
    X = (struct gw_xlate){
        .prov = &prov,
        .upstream_model = model,
        .client_model = client_model,
        .request_id = "req1",
        .created = 1700000000,
        .arena = &arena,
    };
}

static inline void xt_teardown(void)
{
    gw_arena_destroy(&arena);
}

/* The file tests/data/<rel> (malloc'd, NUL-terminated), its length in *len. */
static inline char *xt_load(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/%s", GW_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "fixture %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert(n >= 0);
    rewind(f);
    char *p = malloc((size_t)n + 1);
    cr_assert(p);
    cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    p[n] = '\0';
    if (len)
        *len = (size_t)n;
    return p;
}

static inline void xt_assert_span(struct gw_span got, const char *want)
{
    cr_assert(got.ptr != NULL);
    cr_assert(gw_span_eq(got, gw_span_cstr(want)), "got:\n%.*s\nwant:\n%s", (int)got.len, got.ptr,
              want);
}

/* ---- requests, responses and errors through a dialect's table ---- */

/* The case a table-driven check is on, for its failure messages; "" outside one. */
static const char *xt_case = "";
/* The path every request built must go to; NULL: not checked (it names the model). */
static const char *xt_want_path;

/* d's builder for X's endpoint (chat completions or embeddings), as the gateway picks it. */
static inline int xt_build(const struct gw_dialect *d, const char *body, struct gw_xlate_req *req,
                           struct gw_xlate_err *err)
{
    int (*build)(const struct gw_xlate *, const char *, size_t, struct gw_xlate_req *,
                 struct gw_xlate_err *) =
        X.ep == GW_EP_EMBEDDINGS ? d->build_embeddings : d->build_request;
    cr_assert(build, "%s %s: no builder for this endpoint", d->name, xt_case);
    memset(err, 0, sizeof(*err));
    return build(&X, body, strlen(body), req, err);
}

/* d builds body: valid JSON, to xt_want_path when set. Returns the request. */
static inline struct gw_xlate_req xt_build_ok(const struct gw_dialect *d, const char *body)
{
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    int r = xt_build(d, body, &req, &err);
    cr_assert_eq(r, 0, "%s %s: refused (%d, %s): %s", d->name, xt_case, err.status,
                 err.param ? err.param : "-", err.message);
    if (xt_want_path)
        cr_assert(req.path && strcmp(req.path, xt_want_path) == 0, "%s %s: path %s, want %s",
                  d->name, xt_case, req.path ? req.path : "(null)", xt_want_path);
    cr_assert(gw_json_validate(req.body.ptr, req.body.len), "%s %s: not JSON: %.*s", d->name,
              xt_case, (int)GW_MIN(req.body.len, 4096), req.body.ptr);
    return req;
}

/* d builds in into exactly the body want, with no warning for the client. */
static inline void xt_expect_body(const struct gw_dialect *d, const char *in, const char *want)
{
    struct gw_xlate_req req = xt_build_ok(d, in);
    xt_assert_span(req.body, want);
    cr_assert_null(req.warning, "%s %s: unexpected warning %s", d->name, xt_case, req.warning);
}

/* d refuses in with 400 naming param (NULL: none), the message holding msg_part. */
static inline void xt_expect_400(const struct gw_dialect *d, const char *in, const char *param,
                                 const char *msg_part)
{
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    cr_assert_eq(xt_build(d, in, &req, &err), -1, "%s %s: accepted %.256s", d->name, xt_case, in);
    cr_assert_eq(err.status, 400, "%s %s: status %d (%s)", d->name, xt_case, err.status,
                 err.message);
    if (param)
        cr_assert(err.param && strcmp(err.param, param) == 0, "%s %s: param %s, want %s", d->name,
                  xt_case, err.param ? err.param : "(null)", param);
    else
        cr_assert_null(err.param, "%s %s: param %s, want none", d->name, xt_case, err.param);
    cr_assert(strstr(err.message, msg_part), "%s %s: message \"%s\" lacks \"%s\"", d->name, xt_case,
              err.message, msg_part);
}

/* d translates the 2xx body in into exactly want; its usage goes to *u (may be NULL). */
static inline void xt_expect_response(const struct gw_dialect *d, const char *in, const char *want,
                                      struct gw_xlate_usage *u)
{
    struct gw_span out;
    cr_assert_eq(d->translate_response(&X, in, strlen(in), &out, u), 0, "%s %s: refused %s",
                 d->name, xt_case, in);
    xt_assert_span(out, want);
}

/* The usage a translator reported is want, every count of it. */
static inline void xt_assert_usage(const struct gw_xlate_usage *u, struct gw_xlate_usage want)
{
    cr_assert(u->have == want.have && u->prompt_tokens == want.prompt_tokens &&
                  u->completion_tokens == want.completion_tokens &&
                  u->cached_tokens == want.cached_tokens &&
                  u->cache_creation_tokens == want.cache_creation_tokens &&
                  u->reasoning_tokens == want.reasoning_tokens,
              "%s usage: have %d prompt %llu completion %llu cached %llu cache creation %llu "
              "reasoning %llu, want %d %llu %llu %llu %llu %llu",
              xt_case, u->have, (unsigned long long)u->prompt_tokens,
              (unsigned long long)u->completion_tokens, (unsigned long long)u->cached_tokens,
              (unsigned long long)u->cache_creation_tokens, (unsigned long long)u->reasoning_tokens,
              want.have, (unsigned long long)want.prompt_tokens,
              (unsigned long long)want.completion_tokens, (unsigned long long)want.cached_tokens,
              (unsigned long long)want.cache_creation_tokens,
              (unsigned long long)want.reasoning_tokens);
}

/* The 2xx body before value after translates with finish_reason reason. */
static inline void xt_expect_finish(const struct gw_dialect *d, const char *before,
                                    const char *value, const char *after, const char *reason)
{
    char in[1024], want[128];
    cr_assert_lt((size_t)snprintf(in, sizeof(in), "%s%s%s", before, value, after), sizeof(in));
    snprintf(want, sizeof(want), "\"finish_reason\":\"%s\"", reason);
    struct gw_span out;
    cr_assert_eq(d->translate_response(&X, in, strlen(in), &out, NULL), 0, "%s %s: refused",
                 d->name, value);
    cr_assert(memmem(out.ptr, out.len, want, strlen(want)), "%s %s: want %s in %.*s", d->name,
              value, reason, (int)out.len, out.ptr);
}

/* d refuses the 2xx body in (NULL: no body) as unreadable, and reports no usage. */
static inline void xt_expect_unreadable(const struct gw_dialect *d, const char *in)
{
    struct gw_span out;
    struct gw_xlate_usage u = {0};
    cr_assert_eq(d->translate_response(&X, in, in ? strlen(in) : 0, &out, &u), -1,
                 "%s: accepted %s", d->name, in ? in : "(no body)");
    cr_assert_not(u.have, "%s: usage from %s", d->name, in ? in : "(no body)");
}

/*
 * d maps an upstream status with error type header hdr (NULL: absent) and
 * body (NULL: none) to want_status and exactly the error object want.
 */
static inline void xt_expect_error(const struct gw_dialect *d, int status, const char *hdr,
                                   const char *body, int want_status, const char *want)
{
    struct gw_span out;
    int st = 0;
    cr_assert_eq(d->translate_error(status, hdr ? gw_span_cstr(hdr) : GW_SPAN_NULL, body,
                                    body ? strlen(body) : 0, &arena, &out, &st),
                 0, "%s %s: %d", d->name, xt_case, status);
    cr_assert_eq(st, want_status, "%s %s: %d %s gave %d", d->name, xt_case, status,
                 hdr ? hdr : "(no header)", st);
    xt_assert_span(out, want);
}

/* One row of a dialect's error table: an upstream error and what the client gets for it. */
struct xt_error_map {
    int in;           /* the upstream's status */
    const char *type; /* the dialect's name for the error (type, status, exception); NULL: none */
    int out;          /* the client's status */
    const char *oa_type; /* OpenAI's error type */
    const char *code;    /* OpenAI's code, as JSON */
};

/*
 * d maps row m's error, sent as body with error type header hdr (NULL:
 * absent), to m->out and OpenAI's error object with message msg (JSON text).
 */
static inline void xt_expect_error_map(const struct gw_dialect *d, const struct xt_error_map *m,
                                       const char *hdr, const char *body, const char *msg)
{
    char want[512];
    snprintf(want, sizeof(want),
             "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":%s}}", msg,
             m->oa_type, m->code);
    xt_case = m->type ? m->type : "(no type)";
    xt_expect_error(d, m->in, hdr, body, m->out, want);
    xt_case = "";
}

/* The error object for an upstream answer with no message to pass on. */
#define XT_NO_MESSAGE(status, type, code)                                                          \
    "{\"error\":{\"message\":\"upstream provider error (HTTP " status ")\",\"type\":\"" type       \
    "\",\"param\":null,\"code\":" code "}}"

/*
 * What every dialect does with an error body it cannot read: the upstream's
 * status is named instead; one outside 4xx/5xx from a broken upstream is a
 * 502 to the client.
 */
static inline void xt_check_unreadable_errors(const struct gw_dialect *d)
{
    xt_expect_error(d, 502, NULL, "<html><body>502 Bad Gateway</body></html>", 502,
                    XT_NO_MESSAGE("502", "server_error", "null"));
    xt_expect_error(d, 400, NULL, NULL, 400, XT_NO_MESSAGE("400", "invalid_request_error", "null"));
    xt_expect_error(d, 302, NULL, "{}", 502, XT_NO_MESSAGE("302", "server_error", "null"));
}

/*
 * d is the table for provider type t, named name, streaming ctype (NULL:
 * text/event-stream) with stream_size bytes of state; every entry is set,
 * the embeddings pair both or neither.
 */
static inline void xt_check_table(const struct gw_dialect *d, enum gw_provider_type t,
                                  const char *name, const char *ctype, size_t stream_size)
{
    cr_assert_eq(gw_dialect_for(t), d, "%s", name);
    cr_assert_str_eq(d->name, name);
    if (ctype)
        cr_assert(d->stream_ctype && strcmp(d->stream_ctype, ctype) == 0, "%s: %s", name,
                  d->stream_ctype ? d->stream_ctype : "(null)");
    else
        cr_assert_null(d->stream_ctype, "%s: %s", name, d->stream_ctype);
    cr_assert(d->build_request && d->translate_response && d->translate_error, "%s", name);
    cr_assert(d->stream_init && d->stream_feed && d->stream_end, "%s", name);
    cr_assert_eq(d->build_embeddings == NULL, d->translate_embeddings == NULL, "%s", name);
    cr_assert_eq(d->stream_size, stream_size, "%s", name);
}

/* ---- OpenAI requests every dialect refuses alike ---- */

/* A request's start with one user message: a case's fields follow, then "}". */
#define XT_HI_HEAD "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
#define XT_USER_X "{\"role\":\"user\",\"content\":\"x\"}"
#define XT_CALL(call)                                                                              \
    "{\"messages\":[" XT_USER_X ",{\"role\":\"assistant\",\"tool_calls\":[" call "]}]}"

/* The refusals only some dialects make (xt_check_openai_400's flags). */
#define XT_REFUSES_BAD_ARGUMENTS 1u /* tool call arguments are parsed into an object */
#define XT_PARSES_IMAGE_DATA 2u     /* data: image URLs are split into media type and base64 */
#define XT_TAKES_IMAGE_URLS 4u      /* http(s) image URLs pass; any other scheme is refused */

#define XT_IMAGE(url)                                                                              \
    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","                      \
    "\"image_url\":{\"url\":\"" url "\"}}]}]}"

struct xt_refusal {
    const char *body;  /* the whole request; NULL: XT_HI_HEAD, field, "}" */
    const char *field; /* with body NULL */
    const char *param; /* the param the 400 names; NULL: none */
    const char *msg;   /* a part of its message */
    unsigned needs;    /* XT_REFUSES_* a dialect must declare for this case; 0: every dialect */
};

static const struct xt_refusal xt_openai_refusals[] = {
    {"{\"messages\":", NULL, NULL, "JSON object", 0},
    {"[1]", NULL, NULL, "JSON object", 0},
    {"{\"model\":\"m\"}", NULL, "messages", "messages must be a non-empty array", 0},
    {"{\"messages\":{}}", NULL, "messages", "messages must be a non-empty array", 0},
    {"{\"messages\":[1]}", NULL, "messages", "objects", 0},
    {"{\"messages\":[\"hi\"]}", NULL, "messages", "objects", 0},
    {"{\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}", NULL, "messages", "role", 0},
    {"{\"messages\":[{\"role\":\"user\",\"content\":7}]}", NULL, "messages",
     "string or an array of parts", 0},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}", NULL, "messages",
     "not supported", 0},
    {"{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", NULL, "messages", "tool_call_id", 0},
    {"{\"messages\":[" XT_USER_X ",{\"role\":\"tool\",\"content\":\"x\"}]}", NULL, "messages",
     "tool_call_id", 0},
    {XT_CALL("{\"type\":\"function\",\"function\":{\"name\":\"f\"}}"), NULL, "messages",
     "need id and function.name", 0},
    {XT_CALL("{\"id\":\"t1\",\"type\":\"custom\",\"function\":{\"name\":\"f\"}}"), NULL, "messages",
     "only function tool calls", 0},
    {XT_CALL("{\"id\":\"t1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
             "\"arguments\":\"{\\\"a\\\":\"}}"),
     NULL, "messages", "arguments must be a JSON object", XT_REFUSES_BAD_ARGUMENTS},
    {XT_CALL("{\"id\":\"t1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
             "\"arguments\":\"[1]\"}}"),
     NULL, "messages", "arguments must be a JSON object", XT_REFUSES_BAD_ARGUMENTS},
    {XT_IMAGE("data:image/png,abc"), NULL, "messages", "base64", XT_PARSES_IMAGE_DATA},
    {XT_IMAGE("ftp://x/a.png"), NULL, "messages", "http(s) or data:", XT_TAKES_IMAGE_URLS},
    {NULL, "\"max_tokens\":1.5", "max_tokens", "positive integer", 0},
    {NULL, "\"max_tokens\":0", "max_tokens", "positive integer", 0},
    {NULL, "\"max_completion_tokens\":0", "max_completion_tokens", "positive integer", 0},
    {NULL, "\"max_completion_tokens\":1.5", "max_completion_tokens", "positive integer", 0},
    {NULL, "\"temperature\":\"hot\"", "temperature", "number", 0},
    {NULL, "\"top_p\":true", "top_p", "number", 0},
    {NULL, "\"top_p\":\"x\"", "top_p", "number", 0},
    {NULL, "\"stream\":\"yes\"", "stream", "boolean", 0},
    {NULL, "\"stop\":5", "stop", "a string or an array of strings", 0},
    {NULL, "\"stop\":[1]", "stop", "a string or an array of strings", 0},
    {NULL, "\"stop\":[\"a\",1]", "stop", "a string or an array of strings", 0},
    {NULL, "\"tools\":{}", "tools", "array", 0},
    {NULL, "\"tools\":[{\"type\":\"web_search\"}]", "tools", "function", 0},
    {NULL, "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":[]}}]",
     "tools", "JSON Schema object", 0},
    {NULL,
     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
     "\"tool_choice\":\"sometimes\"",
     "tool_choice", "auto", 0},
};

/*
 * Every request in xt_openai_refusals that d refuses (all but those needing
 * an XT_REFUSES_* flag not in refuses) gets its 400, param and message.
 */
static inline void xt_check_openai_400(const struct gw_dialect *d, unsigned refuses)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(xt_openai_refusals); i++) {
        const struct xt_refusal *t = &xt_openai_refusals[i];
        if ((t->needs & refuses) != t->needs)
            continue;
        char in[1024];
        if (t->body)
            snprintf(in, sizeof(in), "%s", t->body);
        else
            snprintf(in, sizeof(in), XT_HI_HEAD "%s}", t->field);
        xt_case = in;
        xt_expect_400(d, in, t->param, t->msg);
    }
    xt_case = "";
}

/* ---- streams ---- */

/* What a stream translator wrote to its sink. */
struct xt_out {
    char *p;
    size_t n, cap;
    unsigned writes;
};

static inline int xt_out_write(void *arg, const char *p, size_t n)
{
    struct xt_out *c = arg;
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2 + 64;
        c->p = realloc(c->p, c->cap);
        cr_assert(c->p);
    }
    memcpy(c->p + c->n, p, n);
    c->n += n;
    c->writes++;
    return 0;
}

static inline void xt_assert_out(const struct xt_out *c, const char *want)
{
    cr_assert(c->n == strlen(want) && memcmp(c->p, want, c->n) == 0, "got:\n%.*s\nwant:\n%s",
              (int)c->n, c->p, want);
}

/*
 * Feeds in[0..len) to dialect d's stream translator for X, cut at the offsets
 * cuts[0..ncuts) (ascending), stopping once a feed ends the stream, then ends
 * it. The last usage reported goes to *u (may be NULL), the last feed's
 * result to *fed (may be NULL). Checks that an ended stream stays ended: a
 * later feed and a second end write nothing and say the same. Returns what
 * stream_end returned.
 */
static inline int xt_run_stream(const struct gw_dialect *d, const char *in, size_t len,
                                const size_t *cuts, size_t ncuts, struct xt_out *c,
                                struct gw_xlate_usage *u, int *fed)
{
    struct gw_arena a;
    struct gw_xlate x = X;
    struct gw_xlate_sink sink = {xt_out_write, c};
    gw_arena_init(&a, 4096, 0);
    x.arena = &a;
    void *st = gw_arena_zalloc(&a, d->stream_size);
    cr_assert(st);
    d->stream_init(st, &x);
    size_t off = 0;
    int last = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        struct gw_xlate_usage uu = {0};
        last = d->stream_feed(st, in + off, end - off, &sink, &uu);
        if (uu.have && u)
            *u = uu;
        off = end;
        if (last != 0)
            break;
    }
    if (fed)
        *fed = last;
    struct gw_xlate_usage ue = {0};
    int r = d->stream_end(st, &sink, &ue);
    if (ue.have && u)
        *u = ue;
    if (last != 0)
        cr_assert_eq(r, last, "end %d after feed %d", r, last);
    unsigned writes = c->writes;
    cr_assert_eq(d->stream_feed(st, "x", 1, &sink, NULL), r);
    cr_assert_eq(d->stream_end(st, &sink, NULL), r);
    cr_assert_eq(c->writes, writes, "an ended stream wrote again");
    gw_arena_destroy(&a);
    return r;
}

/* Feeds in whole; the output must be want and stream_end must return ret. */
static inline void xt_expect_stream(const struct gw_dialect *d, const char *in, size_t len,
                                    const char *want, int ret)
{
    struct xt_out c = {0};
    cr_assert_eq(xt_run_stream(d, in, len, NULL, 0, &c, NULL, NULL), ret);
    xt_assert_out(&c, want);
    free(c.p);
}

/*
 * The split-at-every-byte driver: in fed whole, then cut at each offset
 * 0..len, then a byte at a time, must give the same output, the same end
 * result and the same usage each time.
 */
static inline void xt_check_splits(const struct gw_dialect *d, const char *in, size_t len)
{
    struct xt_out ref = {0};
    struct gw_xlate_usage uref = {0};
    int rref = xt_run_stream(d, in, len, NULL, 0, &ref, &uref, NULL);
    cr_assert(ref.n > 0);
    for (size_t cut = 0; cut <= len; cut++) {
        struct xt_out c = {0};
        struct gw_xlate_usage u = {0};
        cr_assert_eq(xt_run_stream(d, in, len, &cut, 1, &c, &u, NULL), rref, "split at %zu", cut);
        cr_assert(c.n == ref.n && memcmp(c.p, ref.p, c.n) == 0, "split at %zu differs:\n%.*s", cut,
                  (int)c.n, c.p);
        cr_assert(u.have == uref.have && u.prompt_tokens == uref.prompt_tokens &&
                      u.completion_tokens == uref.completion_tokens &&
                      u.cached_tokens == uref.cached_tokens &&
                      u.cache_creation_tokens == uref.cache_creation_tokens &&
                      u.reasoning_tokens == uref.reasoning_tokens,
                  "usage differs at split %zu", cut);
        free(c.p);
    }
    size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));
    cr_assert(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct xt_out c = {0};
    cr_assert_eq(xt_run_stream(d, in, len, cuts, len ? len - 1 : 0, &c, NULL, NULL), rref);
    cr_assert(c.n == ref.n && memcmp(c.p, ref.p, c.n) == 0, "byte at a time differs");
    free(c.p);
    free(cuts);
    free(ref.p);
}

/* xt_check_splits over in[0..len), with the usage chunk asked for and without it. */
static inline void xt_check_splits_both(const struct gw_dialect *d, const char *in, size_t len)
{
    X.want_usage = true;
    xt_check_splits(d, in, len);
    X.want_usage = false;
    xt_check_splits(d, in, len);
}

/* in[0..n) with each LF replaced by eol (malloc'd), its length in *len. */
static inline char *xt_line_ends(const char *in, size_t n, const char *eol, size_t *len)
{
    size_t el = strlen(eol);
    char *out = malloc(n * el + 1);
    cr_assert(out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\n') {
            memcpy(out + k, eol, el);
            k += el;
        } else {
            out[k++] = in[i];
        }
    }
    out[k] = '\0';
    *len = k;
    return out;
}

/* "data: " and n - 6 bytes of 'a': an SSE event that has not ended yet (malloc'd). */
static inline char *xt_unended_event(size_t n)
{
    char *p = malloc(n);
    cr_assert(p);
    memcpy(p, "data: ", 6);
    memset(p + 6, 'a', n - 6);
    return p;
}

/* Fresh stream state for d over x (calloc'd, outside every arena so arena totals stay exact). */
static inline void *xt_stream_new(const struct gw_dialect *d, const struct gw_xlate *x)
{
    void *st = calloc(1, d->stream_size);
    cr_assert(st);
    d->stream_init(st, x);
    return st;
}

/*
 * An SSE event that grows past event_max (whole MiB; fed 4 KiB at a time)
 * fails d's stream with the error chunk and [DONE], written once, and the
 * fixture's arena stays under 4x the cap.
 */
static inline void xt_check_event_cap(const struct gw_dialect *d, size_t event_max)
{
    size_t n = event_max + 16;
    char *big = xt_unended_event(n);
    struct xt_out c = {0};
    struct gw_xlate_sink sink = {xt_out_write, &c};
    void *st = xt_stream_new(d, &X);
    int r = 0;
    for (size_t off = 0; off < n && r == 0; off += 4096)
        r = d->stream_feed(st, big + off, GW_MIN(4096, n - off), &sink, NULL);
    cr_assert_eq(r, -1, "%s: an event over %zu bytes was taken", d->name, event_max);
    char want[256];
    snprintf(want, sizeof(want), XT_ERROR_END("upstream stream event over %zu MiB"),
             event_max >> 20);
    xt_assert_out(&c, want);
    cr_assert_lt(arena.total, 4 * event_max, "%s: arena %zu bytes", d->name, arena.total);
    cr_assert_eq(d->stream_end(st, &sink, NULL), -1, "%s", d->name);
    cr_assert_eq(c.writes, 2, "%s: the error chunk and [DONE], once", d->name);
    free(st);
    free(c.p);
    free(big);
}

/* A sink that refuses every write, counting them in *(unsigned *)arg when arg is not NULL. */
static inline int xt_refuse_write(void *arg, const char *p, size_t n)
{
    (void)p;
    (void)n;
    if (arg)
        ++*(unsigned *)arg;
    return -1;
}

/*
 * The client's queue refuses d's first chunk of in[0..n): the stream stops
 * (-1) after that one write, and a stopped stream takes nothing more: not
 * in again, not a blank line, not its end.
 */
static inline void xt_check_sink_refusal(const struct gw_dialect *d, const char *in, size_t n)
{
    unsigned calls = 0;
    struct gw_xlate_sink sink = {xt_refuse_write, &calls};
    void *st = xt_stream_new(d, &X);
    cr_assert_eq(d->stream_feed(st, in, n, &sink, NULL), -1, "%s", d->name);
    cr_assert_eq(calls, 1, "%s: %u writes", d->name, calls);
    cr_assert_eq(d->stream_feed(st, in, n, &sink, NULL), -1, "%s: fed again", d->name);
    cr_assert_eq(d->stream_feed(st, "\n", 1, &sink, NULL), -1, "%s: a blank line", d->name);
    cr_assert_eq(d->stream_end(st, &sink, NULL), -1, "%s: end", d->name);
    cr_assert_eq(calls, 1, "%s: a stopped stream wrote again", d->name);
    free(st);
}

/*
 * d's stream over an arena of chunk-byte chunks capped at max bytes, fed
 * in[0..n): the arena runs out and the stream fails (-1) with nothing
 * written (there is nothing left to write with); after, fed next, and the
 * end fail the same.
 */
static inline void xt_check_stream_oom(const struct gw_dialect *d, const char *in, size_t n,
                                       const char *after, size_t chunk, size_t max)
{
    struct gw_arena small;
    gw_arena_init(&small, chunk, max);
    struct gw_xlate x = X;
    x.arena = &small;
    struct xt_out c = {0};
    struct gw_xlate_sink sink = {xt_out_write, &c};
    void *st = xt_stream_new(d, &x);
    cr_assert_eq(d->stream_feed(st, in, n, &sink, NULL), -1, "%s", d->name);
    cr_assert_eq(d->stream_feed(st, after, strlen(after), &sink, NULL), -1, "%s: after", d->name);
    cr_assert_eq(d->stream_end(st, &sink, NULL), -1, "%s: end", d->name);
    cr_assert_eq(c.writes, 0, "%s: wrote with no memory to write from", d->name);
    free(st);
    free(c.p);
    gw_arena_destroy(&small);
}

#endif
