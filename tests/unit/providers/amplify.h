/*
 * tests/unit/providers/amplify.h — the translation bounds
 * (providers/xbound.h) every dialect keeps, as one table-driven check
 * (xt_check_bounds) whose per-dialect differences are data (struct
 * xt_bounds), and the request bodies it sends: the amplification request
 * from the security finding, a legitimately large conversation, large
 * embeddings inputs. Bodies are malloc'd; the caller frees them.
 */
#ifndef GW_TESTS_UNIT_PROVIDERS_AMPLIFY_H
#define GW_TESTS_UNIT_PROVIDERS_AMPLIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "providers/dialect.h"
#include "providers/provider.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

#include "xtest.h"

/* The finding: one tool call whose name is 50,000 characters, 3,000 results for it. */
#define AMP_NAME_LEN 50000
#define AMP_RESULTS 3000
/* Where the name sits in amp_body's request. */
#define AMP_PARAM "messages[1].tool_calls[0].function.name"

/*
 * {"model":"m","messages":[user: user_bytes 'u' then "hi"; when calls is not
 * 0, an assistant message with that many tool calls (ids c0, c1, ...) each
 * named name_len times 'n', then `results` tool results, the i-th answering
 * c(i % calls) with "ok"]}.
 */
static inline char *amp_body(size_t name_len, size_t calls, size_t results, size_t user_bytes)
{
    size_t cap = user_bytes + calls * (name_len + 128) + results * 96 + 256;
    char *b = malloc(cap);
    cr_assert(b);
    size_t k = 0;
#define AMP_PUT(...)                                                                               \
    do {                                                                                           \
        k += (size_t)snprintf(b + k, cap - k, __VA_ARGS__);                                        \
        cr_assert(k < cap);                                                                        \
    } while (0)
    AMP_PUT("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"");
    memset(b + k, 'u', user_bytes);
    k += user_bytes;
    AMP_PUT("hi\"}");
    if (calls)
        AMP_PUT(",{\"role\":\"assistant\",\"tool_calls\":[");
    for (size_t i = 0; i < calls; i++) {
        AMP_PUT("%s{\"id\":\"c%zu\",\"type\":\"function\",\"function\":{\"name\":\"", i ? "," : "",
                i);
        memset(b + k, 'n', name_len);
        k += name_len;
        AMP_PUT("\",\"arguments\":\"{}\"}}");
    }
    if (calls)
        AMP_PUT("]}");
    for (size_t i = 0; i < results && calls; i++)
        AMP_PUT(",{\"role\":\"tool\",\"tool_call_id\":\"c%zu\",\"content\":\"ok\"}", i % calls);
    AMP_PUT("]}");
#undef AMP_PUT
    return b;
}

/*
 * Makes *a (a suite's fixture arena) count only the bytes asked for: with
 * 16-byte chunks its total is the same whether allocations share chunks or,
 * in pool pass-through builds (GW_SANITIZE), each takes a chunk of its own,
 * so tests can bound `total` in every build.
 */
static inline void amp_exact_arena(struct gw_arena *a)
{
    gw_arena_destroy(a);
    gw_arena_init(a, 16, 0);
}

/* {"model":"m","messages":[{"role":"user","content":"<n times 'u'>hi"}]} */
static inline char *amp_user_body(size_t n)
{
    return amp_body(0, 0, 0, n);
}

/* An embeddings request of one input of n times 'w': {"input":"w..."}, or {"input":["w..."]}. */
static inline char *amp_embed_body(size_t n, bool in_array)
{
    size_t cap = n + 32;
    char *b = malloc(cap);
    cr_assert(b);
    size_t k = (size_t)snprintf(b, cap, "{\"input\":%s\"", in_array ? "[" : "");
    memset(b + k, 'w', n);
    snprintf(b + k + n, cap - k - n, "\"%s}", in_array ? "]" : "");
    return b;
}

/* What differs between dialects in the translation bounds. */
struct xt_bounds {
    /* Characters tool names may hold beyond OpenAI's "_-" (Gemini's ".:"); NULL: none. */
    const char *name_extra;
    /* Matching tool results to calls looks back over the calls (Gemini, and Bedrock collecting
     * the names a history calls): at most GW_XBOUND_TOOL_CALLS_MAX of them. */
    bool caps_calls;
    /* And each result looks back for its call (Gemini's quadratic look-back): at most
     * GW_XBOUND_TOOL_CALLS_MAX results too. */
    bool caps_results;
    bool embeddings;         /* the dialect serves POST /v1/embeddings */
    const char *embed_model; /* the upstream model for embeddings; NULL: the fixture's */
    const char *embed_path;  /* the path embeddings go to; NULL: not checked */
};

/* Starts the bounds case name: a fresh fixture arena, X as the suite set it up (*x0). */
static inline void amp_case(const char *name, const struct gw_xlate *x0)
{
    xt_case = name;
    gw_arena_destroy(&arena);
    gw_arena_init(&arena, 1 << 16, 0);
    X = *x0;
    X.arena = &arena;
}

/* The same, for embeddings as the dialect serves them (o). */
static inline void amp_embed_case(const char *name, const struct gw_xlate *x0,
                                  const struct xt_bounds *o)
{
    amp_case(name, x0);
    X.ep = GW_EP_EMBEDDINGS;
    if (o->embed_model)
        X.upstream_model = o->embed_model;
    xt_want_path = o->embed_path;
}

#define AMP_TOOL(name) "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"" name "\"}}]"

/*
 * The bounds every dialect keeps on a request, each case on a fresh arena
 * and named in its failures: the amplification request is refused on its
 * name with the arena small; names over 64 bytes or outside the dialect's
 * characters are refused wherever they are copied (tools, tool_choice, the
 * history); the tool call and result caps where the dialect looks back; a
 * large legitimate request still translates, within 2x; a request whose
 * translation passes the ceiling (X.out_max) is refused with 400 and bounded
 * memory; and the same for embeddings where the dialect serves them.
 */
static inline void xt_check_bounds(const struct gw_dialect *d, const struct xt_bounds *o)
{
    const struct gw_xlate x0 = X;
    const char *path0 = xt_want_path;
    char n65[GW_XBOUND_NAME_MAX + 2], in[512];
    memset(n65, 'n', sizeof(n65) - 1);
    n65[sizeof(n65) - 1] = '\0';

    /* The request of the security finding (Gemini's): refused on its name, before any render. */
    amp_case("the amplification request", &x0);
    char *b = amp_body(AMP_NAME_LEN, 1, AMP_RESULTS, 0);
    xt_expect_400(d, b, AMP_PARAM, "too long");
    cr_assert_lt(arena.total, (size_t)1 << 20, "%s %s: arena %zu bytes", d->name, xt_case,
                 arena.total);
    free(b);

    amp_case("a 65-byte tool name", &x0);
    snprintf(in, sizeof(in), XT_HI_HEAD AMP_TOOL("%s") "}", n65);
    xt_expect_400(d, in, "tools[0].function.name", "too long (65 bytes)");
    amp_case("a 65-byte tool_choice name", &x0);
    snprintf(in, sizeof(in),
             XT_HI_HEAD AMP_TOOL("f") ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                                      "{\"name\":\"%s\"}}}",
             n65);
    xt_expect_400(d, in, "tool_choice.function.name", "too long");
    amp_case("a 65-byte name in the history", &x0);
    b = amp_body(GW_XBOUND_NAME_MAX + 1, 1, 1, 0);
    xt_expect_400(d, b, AMP_PARAM, "too long");
    free(b);

    /* The refusal names the characters this dialect takes. */
    const char *extra = o->name_extra ? o->name_extra : "";
    char set[16];
    snprintf(set, sizeof(set), "\"_-%s\"", extra);
    amp_case("a name with a space", &x0);
    xt_expect_400(d, XT_HI_HEAD AMP_TOOL("a b") "}", "tools[0].function.name", "not valid");
    xt_expect_400(d, XT_HI_HEAD AMP_TOOL("a b") "}", "tools[0].function.name", set);
    if (o->name_extra) {
        amp_case("a name with the dialect's own characters", &x0);
        char name[32];
        snprintf(name, sizeof(name), "mcp%csrv%cf", extra[0], extra[strlen(extra) - 1]);
        snprintf(in, sizeof(in), XT_HI_HEAD AMP_TOOL("%s") "}", name);
        xt_build_ok(d, in);
    } else {
        amp_case("a dotted name", &x0);
        xt_expect_400(d, XT_HI_HEAD AMP_TOOL("mcp.f") "}", "tools[0].function.name", "not valid");
    }

    if (o->caps_calls) {
        amp_case("4096 tool calls", &x0);
        b = amp_body(8, GW_XBOUND_TOOL_CALLS_MAX, o->caps_results ? GW_XBOUND_TOOL_CALLS_MAX : 1,
                     0);
        xt_build_ok(d, b);
        free(b);
        amp_case("4097 tool calls", &x0);
        b = amp_body(8, GW_XBOUND_TOOL_CALLS_MAX + 1, 1, 0);
        xt_expect_400(d, b, "messages", "at most 4096 tool calls");
        free(b);
    }
    if (o->caps_results) {
        /* Every result naming the first call: the worst case for the look-back. */
        amp_case("4097 tool results", &x0);
        b = amp_body(8, 1, GW_XBOUND_TOOL_CALLS_MAX + 1, 0);
        xt_expect_400(d, b, "messages", "at most 4096 tool results");
        free(b);
    }

    amp_case("a large legitimate request", &x0);
    b = amp_body(GW_XBOUND_NAME_MAX, 64, 512, 8 << 20);
    struct gw_xlate_req req = xt_build_ok(d, b);
    cr_assert_gt(req.body.len, (size_t)8 << 20, "%s %s: %zu bytes", d->name, xt_case, req.body.len);
    cr_assert_lt(req.body.len, 2 * strlen(b), "%s %s: %zu bytes", d->name, xt_case, req.body.len);
    free(b);

    amp_case("a request over the ceiling", &x0);
    b = amp_user_body(20000);
    X.out_max = 8192;
    xt_expect_400(d, b, NULL, "larger than 8192 bytes");
    cr_assert_lt(arena.total, (size_t)256 << 10, "%s %s: arena %zu bytes", d->name, xt_case,
                 arena.total);
    free(b);

    cr_assert_eq(d->build_embeddings != NULL, o->embeddings, "%s: embeddings", d->name);
    if (o->embeddings) {
        amp_embed_case("embeddings over the ceiling", &x0, o);
        X.out_max = 4096;
        b = amp_embed_body(10000, false);
        xt_expect_400(d, b, NULL, "larger than 4096 bytes");
        free(b);

        amp_embed_case("a large embeddings request", &x0, o);
        b = amp_embed_body((size_t)4 << 20, true);
        req = xt_build_ok(d, b);
        cr_assert_gt(req.body.len, (size_t)4 << 20, "%s %s: %zu bytes", d->name, xt_case,
                     req.body.len);
        free(b);
    }
    amp_case("", &x0);
    xt_want_path = path0;
}

#endif
