#include "providers/provider.h"

const char *gw_endpoint_str(enum gw_endpoint e)
{
    static const char *const names[GW_EP_COUNT] = {"chat.completions", "embeddings"};
    return (unsigned)e < GW_EP_COUNT ? names[e] : "unknown";
}
