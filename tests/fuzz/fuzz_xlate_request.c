/*
 * Fuzzes the request side of every translating dialect (providers/anthropic.c,
 * gemini.c, cohere.c, bedrock.c) against the bounds of providers/xbound.h.
 * The input is a client's OpenAI request body, given to each dialect's
 * build_request and, where there is one, build_embeddings. A translation that
 * succeeds must be valid JSON no larger than xbound's limit for the input,
 * a refusal must be a 400 or 500 with a message, and either way the request
 * arena must stay within a small multiple of the limit: a render-and-grow
 * loop keeps less than twice its last buffer, plus its per-attempt scratch.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/config.h"
#include "core/json.h"
#include "providers/dialect.h"
#include "providers/embed.h"
#include "providers/xbound.h"
#include "providers/xlate.h"
#include "fuzz_common.h"

#define MODEL FZ_UPSTREAM_MODEL

/* What any dialect may add on top of xbound's relative limit (xbound.h: `fixed`). */
static size_t fixed_allowance(enum gw_endpoint ep)
{
    size_t m = strlen(MODEL);
    /* embeddings: Gemini's per-input wrapper and model, for the most inputs */
    return ep == GW_EP_EMBEDDINGS ? GW_EMBED_MAX_INPUTS * (6 * m + 128) : 2 * m;
}

static void run(enum gw_provider_type t, enum gw_endpoint ep, const char *body, size_t len)
{
    struct gw_arena a;
    struct gw_provider prov;
    const struct gw_dialect *d = gw_dialect_for(t);
    GW_BUG_ON(!d);
    fz_provider(&prov, t);
    gw_arena_init(&a, 4096, 0);
    struct gw_xlate x = fz_xlate(&prov, &a, ep);
    struct gw_xlate_req out;
    struct gw_xlate_err err;
    memset(&err, 0, sizeof(err));
    int r = ep == GW_EP_EMBEDDINGS ? d->build_embeddings(&x, body, len, &out, &err)
                                   : d->build_request(&x, body, len, &out, &err);
    size_t limit = gw_xbound_limit(len, fixed_allowance(ep), 0);
    if (r == 0) {
        GW_BUG_ON(out.body.len > limit);
        GW_BUG_ON(!gw_json_validate(out.body.ptr, out.body.len));
    } else {
        GW_BUG_ON(r != -1);
        GW_BUG_ON(err.status != 400 && err.status != 500);
        GW_BUG_ON(err.message[0] == '\0');
        GW_BUG_ON(err.param && err.param[0] == '\0');
    }
    /* Buffers: < 2x the limit. Scratch: decoded strings, under the input per attempt. */
    GW_BUG_ON(a.total > 2 * limit + 16 * len + (1u << 20));
    gw_arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum gw_provider_type types[] = {GW_PT_ANTHROPIC, GW_PT_GEMINI, GW_PT_COHERE,
                                                  GW_PT_BEDROCK};
    const char *body = (const char *)data;
    for (size_t i = 0; i < GW_ARRAY_SIZE(types); i++) {
        run(types[i], GW_EP_CHAT, body, size);
        if (gw_dialect_for(types[i])->build_embeddings)
            run(types[i], GW_EP_EMBEDDINGS, body, size);
    }
    return 0;
}
