/*
 * tests/unit/providers/amplify.h — request bodies the dialect suites share
 * for the translation bounds (providers/xbound.h): the amplification request
 * from the security finding and a legitimately large conversation. Bodies
 * are malloc'd; the caller frees them.
 */
#ifndef GW_TESTS_UNIT_PROVIDERS_AMPLIFY_H
#define GW_TESTS_UNIT_PROVIDERS_AMPLIFY_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"

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

#endif
