/*
 * providers/xbound.h — the bounds every translator keeps when it renders an
 * upstream request from a client's request: how large the translated body
 * may grow, and which function names it copies (everything has a
 * cap).
 *
 * Size. A translation may re-render client bytes more than once (Gemini
 * repeats a tool call's name in every tool result), so without a bound a
 * small request becomes a large upstream body and, through render-and-grow
 * loops, a larger arena. The translated body of an in_len-byte request may
 * take at most
 *
 *     min(max(GW_XBOUND_FLOOR, GW_XBOUND_FACTOR * in_len) + fixed, GW_XBOUND_MAX)
 *
 * bytes, where `fixed` is what the dialect adds that the client does not
 * control (the configured model name, a wrapper per embeddings input for at
 * most GW_EMBED_MAX_INPUTS inputs). Past it the build fails with 400 and a
 * message that names the limit; the gateway answers with OpenAI's error
 * object. Every dialect's build_request and build_embeddings takes its output
 * buffers through gw_xbound_buf, so the check lives here once.
 *
 * Names. Function names reach the upstream verbatim and some dialects repeat
 * them; gw_xbound_name holds them to OpenAI's rule (1 to 64 characters of
 * a-z, A-Z, 0-9, '_' and '-'), which every provider here accepts.
 */
#ifndef GW_PROVIDERS_XBOUND_H
#define GW_PROVIDERS_XBOUND_H

#include <stddef.h>

#include "core/arena.h"
#include "core/span.h"
#include "providers/xlate.h"

/*
 * The limit for a small request: room for the fixed members a dialect adds
 * around a short conversation, and no more than a connection's I/O buffers.
 */
#define GW_XBOUND_FLOOR ((size_t)64 << 10)
/*
 * Relative limit. Translations copy client strings raw or shorter; what they
 * add is wrappers, at most about 2.5x for the smallest messages (a tool
 * result repeating a 64-character name in Gemini), so 4x refuses only
 * amplification.
 */
#define GW_XBOUND_FACTOR 4u
/*
 * Absolute limit: twice the default body cap (server.max_body_bytes, 32 MiB),
 * above every provider's own request limit (Anthropic 32 MB, Gemini 20 MB
 * inline), so it refuses nothing a provider would take, yet keeps one
 * request's translation (and the arena behind it, at most about twice this)
 * from taking a worker's memory.
 */
#define GW_XBOUND_MAX ((size_t)64 << 20)
/* OpenAI's function name limit (characters); Bedrock's and Gemini's too. */
#define GW_XBOUND_NAME_MAX 64
/*
 * Tool calls, and tool results, one request may carry. Matching results to
 * calls (Gemini) and collecting the names the history calls (Bedrock) look
 * back over the calls seen, so the work grows with calls x results: without
 * a cap a 32 MiB body of tiny results all naming the first call would spin a
 * worker for minutes. 4,096 each is far beyond a real agent's history and
 * keeps the worst case to about 16 M short comparisons.
 */
#define GW_XBOUND_TOOL_CALLS_MAX 4096

/*
 * One translation's output budget. Fields are read-only to callers:
 * cap is the size of the buffer gw_xbound_buf last handed out.
 */
struct gw_xbound {
    size_t in_len; /* the client request's bytes */
    size_t limit;  /* the most bytes the output may take */
    size_t cap;    /* the last buffer's size; 0 before the first */
};

/*
 * The size limit for translating an in_len-byte request (formula above);
 * out_max, when not 0, lowers GW_XBOUND_MAX (struct gw_xlate's out_max).
 * Saturates instead of wrapping.
 */
size_t gw_xbound_limit(size_t in_len, size_t fixed, size_t out_max);

/* Sets up *b for x's request of in_len bytes (x->out_max applies). */
void gw_xbound_init(struct gw_xbound *b, const struct gw_xlate *x, size_t in_len, size_t fixed);

/*
 * The next output buffer, from arena a: `want` bytes the first time, then
 * twice the previous one, or the limit itself once twice would pass half of
 * it; never more than the limit. b->cap says how large it is. Returns NULL
 * with *err filled when the previous buffer was already the limit (400,
 * gw_xbound_refuse: the render does not fit) or the arena is exhausted
 * (500). All the buffers of one render add up to less than twice the last
 * one (so less than twice the limit), and a caller that renders again only
 * after an overflow makes at most 2 + log2(limit / want) attempts.
 */
char *gw_xbound_buf(struct gw_xbound *b, struct gw_arena *a, size_t want, struct gw_xlate_err *err);

/*
 * A single render into the last buffer overflowed. Returns -1 with *err:
 * 400 (gw_xbound_refuse) when that buffer was the limit, else 500 (the
 * dialect's size estimate was wrong: a bug, not the client's fault).
 */
int gw_xbound_overflow(const struct gw_xbound *b, struct gw_xlate_err *err);

/* Fills *err with the 400 that names b's limit; returns -1. */
int gw_xbound_refuse(const struct gw_xbound *b, struct gw_xlate_err *err);

/*
 * Checks a function name the translation copies: raw is the JSON string's
 * text inside the quotes (escapes undecoded). Accepts 1 to GW_XBOUND_NAME_MAX
 * characters, once decoded, of a-z, A-Z, 0-9, '_', '-' and the characters
 * in extra (NULL: none; Gemini also takes ".:"). Returns 0, or -1 with *err
 * filled: 400, param the field as formatted from param_fmt (printf-style,
 * e.g. "tools[%zu].function.name") in arena a, or NULL when a is exhausted.
 */
__attribute__((format(printf, 5, 6))) int gw_xbound_name(struct gw_span raw, const char *extra,
                                                         struct gw_arena *a,
                                                         struct gw_xlate_err *err,
                                                         const char *param_fmt, ...);

/*
 * A request the translator refuses: fills *err with status 400, the offending
 * field (param, may be NULL) and the message; returns -1 so a caller can
 * `return gw_xlate_fail(...)`. gw_xlate_fail_mem: status 500, the arena is
 * exhausted.
 */
__attribute__((format(printf, 3, 4))) int gw_xlate_fail(struct gw_xlate_err *err, const char *param,
                                                        const char *fmt, ...);
int gw_xlate_fail_mem(struct gw_xlate_err *err);

#endif
