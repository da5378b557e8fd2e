#include <stddef.h>

#include "providers/anthropic.h"
#include "providers/dialect.h"

/* The stream functions take their own state type; the table speaks void *. */
static void anthropic_init(void *st, const struct gw_xlate *x)
{
    gw_anthropic_stream_init(st, x);
}

static int anthropic_feed(void *st, const char *data, size_t len, const struct gw_xlate_sink *sink,
                          struct gw_xlate_usage *u)
{
    return gw_anthropic_stream_feed(st, data, len, sink, u);
}

static int anthropic_end(void *st, const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    return gw_anthropic_stream_end(st, sink, u);
}

static const struct gw_dialect anthropic = {
    .name = "anthropic",
    .build_request = gw_anthropic_build_request,
    .translate_response = gw_anthropic_translate_response,
    .translate_error = gw_anthropic_translate_error,
    .stream_size = sizeof(struct gw_anthropic_stream),
    .stream_init = anthropic_init,
    .stream_feed = anthropic_feed,
    .stream_end = anthropic_end,
};

const struct gw_dialect *gw_dialect_for(enum gw_provider_type t)
{
    switch (t) {
    case GW_PT_ANTHROPIC:
        return &anthropic;
    case GW_PT_GEMINI:
        return &gw_dialect_gemini;
    case GW_PT_BEDROCK:
        return &gw_dialect_bedrock;
    case GW_PT_COHERE:
        return &gw_dialect_cohere;
    default:
        return NULL;
    }
}
