/*
 * Fuzzes one translating dialect's non-streamed translators through its table
 * (providers/dialect.h): translate_response, translate_embeddings where the
 * dialect has it, and translate_error. The dialect is chosen at compile time:
 * GW_FUZZ_DIALECT names the table (gw_dialect_anthropic, ...), and CMake
 * builds fuzz_<dialect>_response from this file for each, with its corpus in
 * tests/fuzz/corpus/<dialect>_response.
 *
 * Input: two bytes of HTTP status (big-endian; 300 + the value mod 700, the
 * non-2xx statuses an upstream can answer), a flag byte (bit 0: the client
 * asked for base64 embeddings), the error type header's value up to the first
 * LF (given only to a dialect that names such a header, as the relay does),
 * then the upstream's body.
 *
 * Checks, beyond ASan/UBSan:
 *  - a translated response (0) is OpenAI's chat.completion: a JSON object
 *    with "object":"chat.completion", a "choices" array and a "usage" whose
 *    counts are the usage reported to the caller (what the gateway bills),
 *    with total = prompt + completion; a refusal is -1 and nothing else;
 *  - translated embeddings (0) are OpenAI's list: "object":"list", a "data"
 *    array, and, when usage is reported, the same prompt_tokens;
 *  - translate_error always answers (0, the arena is unbounded) with OpenAI's
 *    error object {"error":{"message":string,"type":string,"param","code"}}
 *    and a 4xx or 5xx status for the client;
 *  - the arena stays within a small multiple of the input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/dialect.h"
#include "providers/jv.h"
#include "providers/xlate.h"
#include "fuzz_common.h"

#ifndef GW_FUZZ_DIALECT
#error "GW_FUZZ_DIALECT must name a dialect table (gw_dialect_anthropic, ...)"
#endif

static const struct gw_dialect *const dialect = &GW_FUZZ_DIALECT;

/* The arena a translation of an n-byte body may use: a few copies of it, and fixed room. */
static size_t arena_bound(size_t n)
{
    return 16 * n + (1u << 20);
}

static uint64_t u64_member(const struct gw_jv *obj, const char *key)
{
    struct gw_jv v = gw_jv_member(obj, key);
    uint64_t n;
    GW_BUG_ON(!gw_jv_u64(&v, &n));
    return n;
}

static void check_usage(const struct gw_jv *usage, const struct gw_xlate_usage *u)
{
    static const char *const k[] = {"prompt_tokens", "completion_tokens", "total_tokens",
                                    "prompt_tokens_details", "completion_tokens_details"};
    struct gw_jv v[5];
    GW_BUG_ON(gw_jv_scan_obj(usage, k, 5, v) != 0);
    uint64_t prompt = u64_member(usage, k[0]), completion = u64_member(usage, k[1]);
    uint64_t cached = u64_member(&v[3], "cached_tokens");
    uint64_t reasoning = u64_member(&v[4], "reasoning_tokens");
    GW_BUG_ON(u64_member(usage, k[2]) != gw_xlate_tokens_add(prompt, completion));
    /* A spend sum subtracts cached from prompt tokens: it must not wrap. */
    GW_BUG_ON(cached > prompt);
    GW_BUG_ON(prompt != u->prompt_tokens || completion != u->completion_tokens);
    GW_BUG_ON(cached != u->cached_tokens || reasoning != u->reasoning_tokens);
}

static void response(const char *body, size_t len)
{
    struct gw_arena a;
    struct gw_provider p;
    gw_arena_init(&a, 4096, 0);
    fz_provider(&p, fz_dialect_type(dialect));
    struct gw_xlate x = fz_xlate(&p, &a, GW_EP_CHAT);
    struct gw_span out = GW_SPAN_NULL;
    struct gw_xlate_usage u = {0};
    int r = dialect->translate_response(&x, body, len, &out, &u);
    GW_BUG_ON(r != 0 && r != -1);
    if (r == 0) {
        static const char *const k[] = {"object", "choices", "usage", "model"};
        struct gw_jv v[4];
        GW_BUG_ON(gw_jv_scan(out, k, 4, v) != 0);
        GW_BUG_ON(!gw_jv_streq(&v[0], "chat.completion"));
        GW_BUG_ON(gw_jv_arr_count(&v[1]) < 0);
        GW_BUG_ON(!gw_jv_streq(&v[3], "fuzz"));
        GW_BUG_ON(!u.have);
        check_usage(&v[2], &u);
    }
    GW_BUG_ON(a.total > arena_bound(len));
    gw_arena_destroy(&a);
}

static void embeddings(const char *body, size_t len, bool base64)
{
    struct gw_arena a;
    struct gw_provider p;
    gw_arena_init(&a, 4096, 0);
    fz_provider(&p, fz_dialect_type(dialect));
    struct gw_xlate x = fz_xlate(&p, &a, GW_EP_EMBEDDINGS);
    x.embed_base64 = base64;
    struct gw_span out = GW_SPAN_NULL;
    struct gw_xlate_usage u = {0};
    int r = dialect->translate_embeddings(&x, body, len, &out, &u);
    GW_BUG_ON(r != 0 && r != -1);
    if (r == 0) {
        static const char *const k[] = {"object", "data", "usage"};
        struct gw_jv v[3];
        GW_BUG_ON(gw_jv_scan(out, k, 3, v) != 0);
        GW_BUG_ON(!gw_jv_streq(&v[0], "list"));
        GW_BUG_ON(gw_jv_arr_count(&v[1]) < 0);
        if (u.have)
            GW_BUG_ON(u64_member(&v[2], "prompt_tokens") != u.prompt_tokens);
    }
    GW_BUG_ON(a.total > arena_bound(len));
    gw_arena_destroy(&a);
}

static void error_body(int status, struct gw_span type, const char *body, size_t len)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    struct gw_span out = GW_SPAN_NULL;
    int st = 0;
    GW_BUG_ON(dialect->translate_error(status, type, body, len, &a, &out, &st) != 0);
    GW_BUG_ON(st < 400 || st > 599);
    static const char *const top[] = {"error"};
    static const char *const k[] = {"message", "type"};
    struct gw_jv e, v[2];
    GW_BUG_ON(gw_jv_scan(out, top, 1, &e) != 0);
    GW_BUG_ON(gw_jv_scan_obj(&e, k, 2, v) != 0);
    GW_BUG_ON(!gw_jv_is(&v[0], GW_JT_STRING) || !gw_jv_is(&v[1], GW_JT_STRING));
    /* "param" and "code" are there, null or not. */
    static const char *const pc[] = {"param", "code"};
    struct gw_json_member m[2];
    GW_BUG_ON(gw_json_scan_object(e.raw.ptr, e.raw.len, pc, 2, m) != 0 || !m[0].found ||
              !m[1].found);
    GW_BUG_ON(a.total > arena_bound(len + type.len));
    gw_arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int status = 300 + (int)(((unsigned)data[0] << 8 | data[1]) % 700);
    bool base64 = data[2] & 1;
    const char *rest = (const char *)data + 3;
    size_t n = size - 3;
    const char *nl = memchr(rest, '\n', n);
    struct gw_span type = nl ? gw_span_make(rest, (size_t)(nl - rest)) : GW_SPAN_NULL;
    const char *body = nl ? nl + 1 : rest;
    size_t len = n - (size_t)(body - rest);

    response(body, len);
    if (dialect->translate_embeddings)
        embeddings(body, len, base64);
    error_body(status, dialect->error_type_header ? type : GW_SPAN_NULL, body, len);
    return 0;
}
