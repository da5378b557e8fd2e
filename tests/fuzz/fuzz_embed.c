/*
 * Fuzzes the embeddings side the translating dialects share
 * (providers/embed.c). The input is a client's POST /v1/embeddings body:
 *  - gw_embed_parse must agree with an independent reading of the request
 *    through providers/jv.h: it accepts exactly the objects whose "input" is
 *    a string or an array of 1..GW_EMBED_MAX_INPUTS strings, whose
 *    "dimensions" (null: absent) is an integer 1..65536 and whose
 *    "encoding_format" (null: absent) is "float" or "base64" as sent. An
 *    accepted request's inputs are the input tokens, quotes included, in
 *    order, inside the body; a refusal is a 400 with a message and the
 *    offending field, if any, as param.
 *  - gw_embed_write, given the body as one vector, must write OpenAI's list
 *    (valid JSON) in both encodings exactly when the body is an array of
 *    numbers, each shorter than the writer's number limit.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/embed.h"
#include "providers/jv.h"
#include "providers/xlate.h"
#include "fuzz_common.h"

#define NUMBER_MAX 64 /* embed.c: the longest number text it reads into a float */

/* What gw_embed_parse should say about body, by the rules above; the inputs in *in. */
static bool expect_ok(const char *body, size_t len, struct gw_jv *in, bool *base64)
{
    static const char *const k[] = {"input", "dimensions", "encoding_format"};
    struct gw_jv v[3];
    *base64 = false;
    if (gw_jv_scan(gw_span_make(body, len), k, 3, v) != 0)
        return false;
    *in = v[0];
    if (gw_jv_is(&v[0], GW_JT_ARR_BEGIN)) {
        long n = gw_jv_arr_count(&v[0]);
        if (n < 1 || n > GW_EMBED_MAX_INPUTS)
            return false;
        struct gw_jv_it it;
        struct gw_jv el;
        GW_BUG_ON(gw_jv_arr_begin(&it, &v[0]) != 0);
        while (gw_jv_arr_next(&it, &el) == 1)
            if (!gw_jv_is(&el, GW_JT_STRING))
                return false;
    } else if (!gw_jv_is(&v[0], GW_JT_STRING)) {
        return false;
    }
    uint64_t d;
    if (v[1].found && (!gw_jv_u64(&v[1], &d) || d < 1 || d > 65536))
        return false;
    if (v[2].found) {
        if (!gw_jv_is(&v[2], GW_JT_STRING))
            return false;
        *base64 = gw_span_eq(v[2].str, gw_span_cstr("base64"));
        if (!*base64 && !gw_span_eq(v[2].str, gw_span_cstr("float")))
            return false;
    }
    return true;
}

static void parse(const char *body, size_t len)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    struct gw_xlate x = fz_xlate(NULL, &a, GW_EP_EMBEDDINGS);
    struct gw_embed_req req;
    struct gw_xlate_err err;
    memset(&err, 0, sizeof(err));
    int r = gw_embed_parse(&x, body, len, &req, &err);
    struct gw_jv in = {0};
    bool base64;
    bool ok = expect_ok(body, len, &in, &base64);
    GW_BUG_ON(ok != (r == 0));
    if (r == 0) {
        GW_BUG_ON(req.base64 != base64);
        GW_BUG_ON(req.dimensions == 0 || req.dimensions > 65536 || req.dimensions < -1);
        if (gw_jv_is(&in, GW_JT_STRING)) {
            GW_BUG_ON(req.n != 1 || !gw_span_eq(req.inputs[0], in.raw));
        } else {
            GW_BUG_ON(req.n != (size_t)gw_jv_arr_count(&in));
            struct gw_jv_it it;
            struct gw_jv el;
            size_t i = 0;
            GW_BUG_ON(gw_jv_arr_begin(&it, &in) != 0);
            while (gw_jv_arr_next(&it, &el) == 1) {
                GW_BUG_ON(i >= req.n);
                /* The very bytes of the body, not a copy. */
                GW_BUG_ON(req.inputs[i].ptr != el.raw.ptr || req.inputs[i].len != el.raw.len);
                i++;
            }
            GW_BUG_ON(i != req.n);
        }
    } else {
        GW_BUG_ON(r != -1 || err.status != 400 || err.message[0] == '\0');
        GW_BUG_ON(strnlen(err.message, sizeof(err.message)) == sizeof(err.message));
        static const char *const params[] = {"input", "dimensions", "encoding_format"};
        bool known = err.param == NULL;
        for (size_t i = 0; i < GW_ARRAY_SIZE(params); i++)
            known = known || strcmp(err.param, params[i]) == 0;
        GW_BUG_ON(!known);
    }
    gw_arena_destroy(&a);
}

/* True when body is one JSON array of numbers, each shorter than NUMBER_MAX. */
static bool is_vector(const char *body, size_t len)
{
    struct gw_jv v = {
        .found = true, .type = GW_JT_ARR_BEGIN, .raw = gw_span_make(body, len), .str = {0}};
    if (!gw_json_validate(body, len))
        return false;
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, body, len);
    if (gw_json_next(&j, &t) != 1 || t.type != GW_JT_ARR_BEGIN)
        return false;
    struct gw_jv_it it;
    struct gw_jv el;
    int r;
    GW_BUG_ON(gw_jv_arr_begin(&it, &v) != 0);
    while ((r = gw_jv_arr_next(&it, &el)) == 1)
        if (!gw_jv_is(&el, GW_JT_NUMBER) || el.str.len >= NUMBER_MAX)
            return false;
    return r == 0;
}

static void write_list(const char *body, size_t len, bool base64)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    struct gw_xlate x = fz_xlate(NULL, &a, GW_EP_EMBEDDINGS);
    x.embed_base64 = base64;
    struct gw_span vec = gw_span_make(body, len), out = GW_SPAN_NULL;
    int r = gw_embed_write(&x, &vec, 1, 7, &out);
    GW_BUG_ON(r != 0 && r != -1);
    GW_BUG_ON((r == 0) != is_vector(body, len));
    if (r == 0) {
        static const char *const k[] = {"object", "data", "model"};
        struct gw_jv v[3];
        GW_BUG_ON(gw_jv_scan(out, k, 3, v) != 0);
        GW_BUG_ON(!gw_jv_streq(&v[0], "list") || !gw_jv_streq(&v[2], "fuzz"));
        GW_BUG_ON(gw_jv_arr_count(&v[1]) != 1);
    }
    gw_arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    parse(body, size);
    write_list(body, size, false);
    write_list(body, size, true);
    return 0;
}
