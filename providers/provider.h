/*
 * providers/provider.h — the one interface every provider dialect implements.
 * Pure translation over spans and an arena; no I/O (core/ARCHITECTURE.md).
 */
#ifndef GW_PROVIDERS_PROVIDER_H
#define GW_PROVIDERS_PROVIDER_H

#include "core/config.h"

/* The endpoint a client called, in OpenAI's terms. */
enum gw_endpoint {
    GW_EP_CHAT = 0,   /* POST /v1/chat/completions */
    GW_EP_EMBEDDINGS, /* POST /v1/embeddings */
    GW_EP_COUNT
};

const char *gw_endpoint_str(enum gw_endpoint e);

#endif
