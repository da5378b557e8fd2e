/*
 * providers/dialect.c — which translating dialect serves a provider type.
 */
#include <stddef.h>

#include "providers/dialect.h"

const struct gw_dialect *gw_dialect_for(enum gw_provider_type t)
{
    switch (t) {
    case GW_PT_ANTHROPIC:
        return &gw_dialect_anthropic;
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
