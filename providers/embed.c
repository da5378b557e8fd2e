/*
 * providers/embed.c — OpenAI's embeddings request read, and its answer
 * written, for the translating dialects (gemini, cohere). See embed.h.
 * [OpenAI API reference: POST /v1/embeddings, the embedding object]
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "providers/embed.h"

#define NUMBER_MAX 64 /* longest number text read into a float */

__attribute__((format(printf, 3, 4))) static int refuse(struct gw_xlate_err *e, const char *param,
                                                        const char *fmt, ...)
{
    e->status = 400;
    e->param = param;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -1;
}

/*
 * The string elements of the array at body[start..end): counts them into *n
 * and, when spans is not NULL, records each token (quotes included).
 * -1 when an element is not a string.
 */
static int input_strings(const char *body, size_t start, size_t end, struct gw_span *spans,
                         size_t *n)
{
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, body + start, end - start);
    if (gw_json_next(&j, &t) != 1 || t.type != GW_JT_ARR_BEGIN)
        return -1;
    size_t k = 0;
    for (;;) {
        if (gw_json_next(&j, &t) != 1)
            return -1;
        if (t.type == GW_JT_ARR_END)
            break;
        if (t.type != GW_JT_STRING)
            return -1;
        if (spans)
            spans[k] = gw_span_make(body + start + t.start, t.end - t.start);
        k++;
    }
    *n = k;
    return 0;
}

int gw_embed_parse(const struct gw_xlate *x, const char *body, size_t len, struct gw_embed_req *out,
                   struct gw_xlate_err *err)
{
    static const char *const keys[] = {"input", "dimensions", "encoding_format"};
    struct gw_json_member m[3];
    memset(out, 0, sizeof(*out));
    out->dimensions = -1;
    if (gw_json_scan_object(body, len, keys, 3, m) < 0)
        return refuse(err, NULL, "The request body must be a JSON object.");
    if (!m[0].found)
        return refuse(err, "input", "You must provide an input.");
    if (m[0].value.type == GW_JT_STRING) {
        out->inputs = gw_arena_alloc(x->arena, sizeof(*out->inputs));
        if (!out->inputs)
            goto nomem;
        out->inputs[0] = gw_span_make(body + m[0].value.start, m[0].value_end - m[0].value.start);
        out->n = 1;
    } else if (m[0].value.type == GW_JT_ARR_BEGIN) {
        size_t n = 0;
        if (input_strings(body, m[0].value.start, m[0].value_end, NULL, &n) < 0)
            return refuse(err, "input",
                          "`input` must be a string or an array of strings for this model's "
                          "provider (token arrays are not supported).");
        if (n == 0)
            return refuse(err, "input", "`input` must not be an empty array.");
        if (n > GW_EMBED_MAX_INPUTS)
            return refuse(err, "input", "`input` has %zu items; at most %u are allowed.", n,
                          GW_EMBED_MAX_INPUTS);
        out->inputs = gw_arena_alloc(x->arena, n * sizeof(*out->inputs));
        if (!out->inputs)
            goto nomem;
        input_strings(body, m[0].value.start, m[0].value_end, out->inputs, &out->n);
    } else {
        return refuse(err, "input", "`input` must be a string or an array of strings.");
    }
    if (m[1].found && m[1].value.type != GW_JT_NULL) {
        uint64_t d;
        if (m[1].value.type != GW_JT_NUMBER || !gw_json_to_u64(m[1].value.span, &d) || d == 0 ||
            d > 65536)
            return refuse(err, "dimensions", "`dimensions` must be a positive integer.");
        out->dimensions = (long)d;
    }
    if (m[2].found && m[2].value.type != GW_JT_NULL) {
        /* Compared unescaped: "b\u0061se64" is base64 to any JSON reader. */
        if (m[2].value.type == GW_JT_STRING && gw_json_str_eq(m[2].value.span, "base64"))
            out->base64 = true;
        else if (m[2].value.type != GW_JT_STRING || !gw_json_str_eq(m[2].value.span, "float"))
            return refuse(err, "encoding_format",
                          "`encoding_format` must be \"float\" or \"base64\".");
    }
    return 0;
nomem:
    err->status = 500;
    snprintf(err->message, sizeof(err->message), "The gateway is out of memory for this request.");
    return -1;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 (RFC 4648, padded) of in[0..n) into out; returns the length written. */
static size_t base64(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

/*
 * Checks that v is a JSON array of numbers; counts them into *count and, when
 * le is not NULL, stores each as little-endian float32 bytes.
 */
static int vector_numbers(struct gw_span v, unsigned char *le, size_t *count)
{
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, v.ptr, v.len);
    if (gw_json_next(&j, &t) != 1 || t.type != GW_JT_ARR_BEGIN)
        return -1;
    size_t k = 0;
    for (;;) {
        if (gw_json_next(&j, &t) != 1)
            return -1;
        if (t.type == GW_JT_ARR_END)
            break;
        if (t.type != GW_JT_NUMBER || t.span.len >= NUMBER_MAX)
            return -1;
        if (le) {
            char num[NUMBER_MAX];
            memcpy(num, t.span.ptr, t.span.len);
            num[t.span.len] = '\0';
            float f = (float)strtod(num, NULL);
            uint32_t bits;
            memcpy(&bits, &f, sizeof(bits));
            for (int b = 0; b < 4; b++)
                le[4 * k + (size_t)b] = (unsigned char)(bits >> (8 * b));
        }
        k++;
    }
    if (gw_json_next(&j, &t) != 0)
        return -1;
    *count = k;
    return 0;
}

int gw_embed_write(const struct gw_xlate *x, const struct gw_span *vectors, size_t n,
                   uint64_t prompt_tokens, struct gw_span *out)
{
    size_t cap = 256 + 6 * strlen(x->client_model);
    size_t most = 0; /* the largest vector's number count */
    for (size_t i = 0; i < n; i++) {
        size_t count;
        if (vector_numbers(vectors[i], NULL, &count) < 0)
            return -1;
        most = count > most ? count : most;
        /* float: the text as is; base64: 4 bytes per number, 4/3 of that in text */
        cap += 96 + (x->embed_base64 ? (count * 4 + 2) / 3 * 4 + 4 : vectors[i].len);
    }
    char *buf = gw_arena_alloc(x->arena, cap);
    unsigned char *le = x->embed_base64 ? gw_arena_alloc(x->arena, most * 4 + 1) : NULL;
    char *text = x->embed_base64 ? gw_arena_alloc(x->arena, (most * 4 + 2) / 3 * 4 + 1) : NULL;
    if (!buf || (x->embed_base64 && (!le || !text)))
        return -1;
    struct gw_jw jw;
    gw_jw_init(&jw, buf, cap);
    gw_jw_obj_begin(&jw);
    gw_jw_key(&jw, "object");
    gw_jw_cstr(&jw, "list");
    gw_jw_key(&jw, "data");
    gw_jw_arr_begin(&jw);
    for (size_t i = 0; i < n; i++) {
        gw_jw_obj_begin(&jw);
        gw_jw_key(&jw, "object");
        gw_jw_cstr(&jw, "embedding");
        gw_jw_key(&jw, "index");
        gw_jw_uint(&jw, i);
        gw_jw_key(&jw, "embedding");
        if (x->embed_base64) {
            size_t count;
            vector_numbers(vectors[i], le, &count);
            gw_jw_str(&jw, text, base64(le, count * 4, text));
        } else {
            gw_jw_raw(&jw, vectors[i].ptr, vectors[i].len);
        }
        gw_jw_obj_end(&jw);
    }
    gw_jw_arr_end(&jw);
    gw_jw_key(&jw, "model");
    gw_jw_cstr(&jw, x->client_model);
    gw_jw_key(&jw, "usage");
    gw_jw_obj_begin(&jw);
    gw_jw_key(&jw, "prompt_tokens");
    gw_jw_uint(&jw, prompt_tokens);
    gw_jw_key(&jw, "total_tokens");
    gw_jw_uint(&jw, prompt_tokens);
    gw_jw_obj_end(&jw);
    gw_jw_obj_end(&jw);
    if (jw.overflow)
        return -1;
    *out = gw_span_make(buf, jw.len);
    return 0;
}
