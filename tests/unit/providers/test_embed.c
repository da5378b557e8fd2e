/*
 * tests/unit/providers/test_embed.c — OpenAI embeddings requests read and
 * answers written for the translating dialects: inputs, dimensions, encoding
 * formats, the float32 base64 form the openai SDKs ask for by default, and
 * every refusal.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/json.h"
#include "providers/embed.h"

static struct gw_arena arena;
static struct gw_xlate X;

static void setup(void)
{
    gw_arena_init(&arena, 1 << 16, 0);
    X = (struct gw_xlate){.client_model = "emb-small", .ep = GW_EP_EMBEDDINGS, .arena = &arena};
}

static void teardown(void)
{
    gw_arena_destroy(&arena);
}

TestSuite(embed, .init = setup, .fini = teardown);

static int parse(const char *body, struct gw_embed_req *r, struct gw_xlate_err *e)
{
    memset(e, 0, sizeof(*e));
    return gw_embed_parse(&X, body, strlen(body), r, e);
}

static void assert_refused(const char *body, const char *param)
{
    struct gw_embed_req r;
    struct gw_xlate_err e;
    cr_assert_eq(parse(body, &r, &e), -1, "%s", body);
    cr_assert_eq(e.status, 400);
    cr_assert(e.message[0]);
    if (param)
        cr_assert_str_eq(e.param, param, "%s", body);
}

static bool span_is(struct gw_span s, const char *t)
{
    return s.len == strlen(t) && memcmp(s.ptr, t, s.len) == 0;
}

Test(embed, a_string_input_is_one_token_with_its_quotes)
{
    struct gw_embed_req r;
    struct gw_xlate_err e;
    cr_assert_eq(parse("{\"model\":\"m\",\"input\":\"hi \\\"there\\\"\"}", &r, &e), 0);
    cr_assert_eq(r.n, 1);
    cr_assert(span_is(r.inputs[0], "\"hi \\\"there\\\"\""));
    cr_assert_eq(r.dimensions, -1);
    cr_assert(!r.base64);
}

Test(embed, an_array_input_keeps_order)
{
    struct gw_embed_req r;
    struct gw_xlate_err e;
    cr_assert_eq(parse("{\"input\":[\"a\", \"b\" ,\"\"],\"dimensions\":256,"
                       "\"encoding_format\":\"base64\"}",
                       &r, &e),
                 0);
    cr_assert_eq(r.n, 3);
    cr_assert(span_is(r.inputs[0], "\"a\""));
    cr_assert(span_is(r.inputs[1], "\"b\""));
    cr_assert(span_is(r.inputs[2], "\"\""));
    cr_assert_eq(r.dimensions, 256);
    cr_assert(r.base64);
}

Test(embed, float_and_null_options_are_the_defaults)
{
    struct gw_embed_req r;
    struct gw_xlate_err e;
    cr_assert_eq(
        parse("{\"input\":\"x\",\"encoding_format\":\"float\",\"dimensions\":null}", &r, &e), 0);
    cr_assert(!r.base64);
    cr_assert_eq(r.dimensions, -1);
}

Test(embed, bad_requests_are_refused_with_the_field)
{
    assert_refused("{\"model\":\"m\"}", "input");
    assert_refused("{\"input\":[]}", "input");
    assert_refused("{\"input\":[[1,2,3]]}", "input");
    assert_refused("{\"input\":[1,2,3]}", "input");
    assert_refused("{\"input\":[\"a\",null]}", "input");
    assert_refused("{\"input\":42}", "input");
    assert_refused("{\"input\":\"a\",\"dimensions\":0}", "dimensions");
    assert_refused("{\"input\":\"a\",\"dimensions\":-3}", "dimensions");
    assert_refused("{\"input\":\"a\",\"dimensions\":1.5}", "dimensions");
    assert_refused("{\"input\":\"a\",\"dimensions\":\"64\"}", "dimensions");
    assert_refused("{\"input\":\"a\",\"encoding_format\":\"int8\"}", "encoding_format");
    assert_refused("{\"input\":\"a\",\"encoding_format\":1}", "encoding_format");
    assert_refused("[\"input\"]", NULL);
    assert_refused("{\"input\":\"a\"", NULL);
}

Test(embed, more_inputs_than_allowed_are_refused)
{
    size_t cap = 16 + 4 * (GW_EMBED_MAX_INPUTS + 1);
    char *body = gw_arena_alloc(&arena, cap);
    size_t n = (size_t)snprintf(body, cap, "{\"input\":[");
    for (unsigned i = 0; i <= GW_EMBED_MAX_INPUTS; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s\"a\"", i ? "," : "");
    snprintf(body + n, cap - n, "]}");
    assert_refused(body, "input");
    /* One fewer is taken. */
    body[n - 4] = ']';
    body[n - 3] = '}';
    body[n - 2] = '\0';
    struct gw_embed_req r;
    struct gw_xlate_err e;
    cr_assert_eq(parse(body, &r, &e), 0, "%s", e.message);
    cr_assert_eq(r.n, GW_EMBED_MAX_INPUTS);
}

static const char *write(const struct gw_span *v, size_t n, uint64_t tokens)
{
    struct gw_span out;
    cr_assert_eq(gw_embed_write(&X, v, n, tokens, &out), 0);
    char *s = gw_arena_strndup(&arena, out.ptr, out.len);
    cr_assert(gw_json_validate(s, strlen(s)), "%s", s);
    return s;
}

Test(embed, float_vectors_are_written_as_sent)
{
    struct gw_span v[2] = {gw_span_cstr("[0.5,-2e-3]"), gw_span_cstr("[ 1 , 2 ]")};
    cr_assert_str_eq(write(v, 2, 7),
                     "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                     "\"embedding\":[0.5,-2e-3]},{\"object\":\"embedding\",\"index\":1,"
                     "\"embedding\":[ 1 , 2 ]}],\"model\":\"emb-small\",\"usage\":"
                     "{\"prompt_tokens\":7,\"total_tokens\":7}}");
}

/* Expected strings: Python's base64.b64encode(struct.pack('<Nf', ...)). */
Test(embed, base64_vectors_are_little_endian_float32)
{
    X.embed_base64 = true;
    struct gw_span v[3] = {gw_span_cstr("[1.0]"), gw_span_cstr("[0.5,-2]"),
                           gw_span_cstr("[0.25,1e-3,3]")};
    const char *s = write(v, 3, 0);
    cr_assert(strstr(s, "\"index\":0,\"embedding\":\"AACAPw==\""), "%s", s);
    cr_assert(strstr(s, "\"index\":1,\"embedding\":\"AAAAPwAAAMA=\""), "%s", s);
    cr_assert(strstr(s, "\"index\":2,\"embedding\":\"AACAPm8SgzoAAEBA\""), "%s", s);
    cr_assert(strstr(s, "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}"), "%s", s);
}

Test(embed, an_empty_vector_is_an_empty_value)
{
    struct gw_span v = gw_span_cstr("[]");
    cr_assert(strstr(write(&v, 1, 1), "\"embedding\":[]"));
    X.embed_base64 = true;
    cr_assert(strstr(write(&v, 1, 1), "\"embedding\":\"\""));
}

Test(embed, vectors_that_are_not_arrays_of_numbers_are_refused)
{
    static const char *const bad[] = {"",
                                      "{}",
                                      "[\"0.1\"]",
                                      "[[1]]",
                                      "[1,",
                                      "[1] x",
                                      "[true]",
                                      ("[1e999999999999999999999999999999999999999999999999999999"
                                       "999999999]")};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_span v = gw_span_cstr(bad[i]);
        struct gw_span out;
        cr_assert_eq(gw_embed_write(&X, &v, 1, 0, &out), -1, "%s", bad[i]);
    }
}

Test(embed, an_exhausted_arena_is_an_error_not_a_crash)
{
    struct gw_arena tiny;
    gw_arena_init(&tiny, 64, 64);
    X.arena = &tiny;
    struct gw_span v = gw_span_cstr("[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]");
    struct gw_span out;
    cr_assert_eq(gw_embed_write(&X, &v, 1, 0, &out), -1);
    gw_arena_destroy(&tiny);
}

Test(embed, encoding_format_is_compared_unescaped)
{
    struct gw_embed_req r;
    struct gw_xlate_err e;
    cr_assert_eq(parse("{\"input\":\"x\",\"encoding_format\":\"b\\u0061se64\"}", &r, &e), 0, "%s",
                 e.message);
    cr_assert(r.base64);
    cr_assert_eq(parse("{\"input\":\"x\",\"encoding_format\":\"\\u0066loat\"}", &r, &e), 0, "%s",
                 e.message);
    cr_assert(!r.base64);
}
