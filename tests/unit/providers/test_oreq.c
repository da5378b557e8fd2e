/*
 * tests/unit/providers/test_oreq.c — what every translator reads from an
 * OpenAI chat request (providers/oreq.h), and the pieces of the OpenAI writer
 * the translators share beyond the chunks and objects (providers/oai.h): the
 * answer's text and blocks, the error body, the completion frame and the
 * SSE-to-stream glue.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/span.h"
#include "core/sse.h"
#include "providers/jv.h"
#include "providers/oai.h"
#include "providers/oreq.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

static struct gw_arena arena;
static struct gw_provider prov;
static struct gw_xlate X;
static struct gw_xlate_err err;

static void setup(void)
{
    gw_arena_init(&arena, 4096, 0);
    memset(&prov, 0, sizeof(prov));
    prov.name = "p";
    prov.api_key = "key-1";
    X = (struct gw_xlate){
        .prov = &prov,
        .upstream_model = "up-model",
        .client_model = "cm",
        .request_id = "r1",
        .created = 1700000000,
        .arena = &arena,
    };
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    gw_arena_destroy(&arena);
}

TestSuite(oreq, .init = setup, .fini = teardown);
TestSuite(oai_shared, .init = setup, .fini = teardown);

/* The JSON text json as a value (kept alive in the arena). */
static struct gw_jv jv(const char *json)
{
    static const char *const k[] = {"v"};
    size_t n = strlen(json) + 8;
    char *s = gw_arena_alloc(&arena, n);
    cr_assert_not_null(s);
    snprintf(s, n, "{\"v\":%s}", json);
    struct gw_jv v;
    cr_assert_eq(gw_jv_scan(gw_span_cstr(s), k, 1, &v), 0, "%s", json);
    return v;
}

/* A request body's members (gw_oreq_request), the body kept in the arena. */
static void request(const char *body, struct gw_jv v[GW_RQ_COUNT])
{
    struct gw_xlate_req out;
    char *s = gw_arena_strdup(&arena, body);
    cr_assert_eq(gw_oreq_request(s, strlen(s), v, &out, &err), 0, "%s", err.message);
}

/* -1 with a 400 (or status) naming param (NULL: none) and saying msg_part; err is cleared. */
static void expect_fail(int r, int status, const char *param, const char *msg_part)
{
    cr_assert_eq(r, -1);
    cr_assert_eq(err.status, status, "status %d: %s", err.status, err.message);
    if (param)
        cr_assert_str_eq(err.param ? err.param : "(null)", param);
    else
        cr_assert_null(err.param, "param %s", err.param);
    cr_assert(strstr(err.message, msg_part), "message \"%s\" lacks \"%s\"", err.message, msg_part);
    memset(&err, 0, sizeof(err));
}

/* ---- a writer whose output is checked as one object ---- */

static char wbuf[16384];
static struct gw_jw W;

static void wopen(void)
{
    gw_jw_init(&W, wbuf, sizeof(wbuf));
    gw_jw_obj_begin(&W);
}

static void wexpect(const char *want)
{
    gw_jw_obj_end(&W);
    cr_assert(!W.overflow);
    cr_assert(W.len == strlen(want) && memcmp(W.buf, want, W.len) == 0, "got:\n%.*s\nwant:\n%s",
              (int)W.len, W.buf, want);
}

static void assert_span(struct gw_span got, const char *want)
{
    cr_assert_not_null(got.ptr);
    cr_assert(gw_span_eq(got, gw_span_cstr(want)), "got:\n%.*s\nwant:\n%s", (int)got.len, got.ptr,
              want);
}

/* ---- the request ---- */

Test(oreq, a_request_is_read_into_one_table_and_anything_but_an_object_is_refused)
{
    struct gw_jv v[GW_RQ_COUNT];
    struct gw_xlate_req out = {.path = "stale"};
    err.status = 7;
    const char body[] = "{\"model\":\"m\",\"max_tokens\":5,\"stop\":null,\"mock\":{}}";
    cr_assert_eq(gw_oreq_request(body, strlen(body), v, &out, &err), 0);
    cr_assert_null(out.path);
    cr_assert_eq(err.status, 0);
    cr_assert(gw_jv_streq(&v[GW_RQ_MODEL], "m"));
    cr_assert(gw_jv_is(&v[GW_RQ_MAX_TOKENS], GW_JT_NUMBER));
    cr_assert(!v[GW_RQ_STOP].found, "null counts as absent");
    cr_assert(gw_jv_is(&v[GW_RQ_MOCK], GW_JT_OBJ_BEGIN));
    cr_assert_str_eq(gw_oreq_keys[GW_RQ_MAX_COMPLETION_TOKENS], "max_completion_tokens");
    cr_assert_str_eq(gw_oreq_keys[GW_RQ_WEB_SEARCH_OPTIONS], "web_search_options");
    expect_fail(gw_oreq_request("[1]", 3, v, &out, &err), 400, NULL, "must be a JSON object");
    expect_fail(gw_oreq_request(NULL, 0, v, &out, &err), 400, NULL, "must be a JSON object");
}

Test(oreq, a_chat_needs_a_messages_array_and_a_boolean_stream)
{
    struct gw_jv v[GW_RQ_COUNT];
    struct gw_xlate_req out;
    const char ok[] = "{\"messages\":[],\"stream\":true}";
    cr_assert_eq(gw_oreq_chat(ok, strlen(ok), v, &out, &err), 0);
    const char *bad_msgs = "{\"messages\":{}}";
    expect_fail(gw_oreq_chat(bad_msgs, strlen(bad_msgs), v, &out, &err), 400, "messages",
                "messages must be");
    const char *bad_stream = "{\"messages\":[],\"stream\":\"yes\"}";
    expect_fail(gw_oreq_chat(bad_stream, strlen(bad_stream), v, &out, &err), 400, "stream",
                "stream must be a boolean");
}

Test(oreq, members_are_type_checked_copied_and_refused_by_name)
{
    static const enum gw_oreq_key nums[] = {GW_RQ_TEMPERATURE, GW_RQ_TOP_P};
    static const enum gw_oreq_key bools[] = {GW_RQ_LOGPROBS};
    static const enum gw_oreq_key refused[] = {GW_RQ_AUDIO, GW_RQ_PREDICTION};
    struct gw_jv v[GW_RQ_COUNT];
    request("{\"temperature\":0.5,\"top_p\":\"x\",\"logprobs\":1,\"prediction\":{}}", v);
    expect_fail(gw_oreq_numbers(v, nums, 2, &err), 400, "top_p", "must be a number");
    cr_assert_eq(gw_oreq_numbers(v, nums, 1, &err), 0);
    expect_fail(gw_oreq_bools(v, bools, 1, &err), 400, "logprobs", "logprobs must be a boolean");
    expect_fail(gw_oreq_refuse(v, refused, 2, &err), 400, "prediction",
                "prediction is not supported by this provider");
    cr_assert_eq(gw_oreq_refuse(v, refused, 1, &err), 0);

    /* copied under their own names, as sent, in the order asked; absent ones skipped */
    request("{\"seed\":-3,\"top_k\":40,\"temperature\":1e-1}", v);
    static const enum gw_oreq_key copy[] = {GW_RQ_TEMPERATURE, GW_RQ_TOP_P, GW_RQ_SEED};
    wopen();
    gw_oreq_copy(&W, v, copy, 3);
    wexpect("{\"temperature\":1e-1,\"seed\":-3}");
}

Test(oreq, max_completion_tokens_wins_and_the_limit_must_be_positive)
{
    struct gw_jv v[GW_RQ_COUNT];
    const struct gw_jv *max;
    request("{\"max_tokens\":9,\"max_completion_tokens\":7}", v);
    cr_assert_eq(
        gw_oreq_max_tokens(&v[GW_RQ_MAX_TOKENS], &v[GW_RQ_MAX_COMPLETION_TOKENS], &max, &err), 0);
    cr_assert_eq(max, &v[GW_RQ_MAX_COMPLETION_TOKENS]);
    request("{}", v);
    cr_assert_eq(
        gw_oreq_max_tokens(&v[GW_RQ_MAX_TOKENS], &v[GW_RQ_MAX_COMPLETION_TOKENS], &max, &err), 0);
    cr_assert(!max->found);
    request("{\"max_tokens\":0}", v);
    expect_fail(
        gw_oreq_max_tokens(&v[GW_RQ_MAX_TOKENS], &v[GW_RQ_MAX_COMPLETION_TOKENS], &max, &err), 400,
        "max_tokens", "positive integer");
    request("{\"max_completion_tokens\":1.5}", v);
    expect_fail(
        gw_oreq_max_tokens(&v[GW_RQ_MAX_TOKENS], &v[GW_RQ_MAX_COMPLETION_TOKENS], &max, &err), 400,
        "max_completion_tokens", "positive integer");
}

Test(oreq, n_must_be_one_for_a_one_choice_dialect)
{
    struct gw_jv none = {0}, one = jv("1"), two = jv("2"), text = jv("\"1\"");
    cr_assert_eq(gw_oreq_one_choice(&none, &err), 0);
    cr_assert_eq(gw_oreq_one_choice(&one, &err), 0);
    expect_fail(gw_oreq_one_choice(&two, &err), 400, "n", "n must be 1");
    expect_fail(gw_oreq_one_choice(&text, &err), 400, "n", "n must be 1");
}

Test(oreq, text_only_dialects_refuse_audio_out_and_a_logit_bias)
{
    struct gw_jv v[GW_RQ_COUNT];
    request("{\"logit_bias\":{},\"modalities\":[\"text\"]}", v);
    cr_assert_eq(gw_oreq_text_only(v, &err), 0);
    request("{\"logit_bias\":{\"50256\":-100}}", v);
    expect_fail(gw_oreq_text_only(v, &err), 400, "logit_bias", "not supported");
    request("{\"logit_bias\":[]}", v);
    expect_fail(gw_oreq_text_only(v, &err), 400, "logit_bias", "not supported");
    request("{\"audio\":{\"voice\":\"x\"}}", v);
    expect_fail(gw_oreq_text_only(v, &err), 400, "audio", "audio output is not supported");
    request("{\"modalities\":[\"text\",\"audio\"]}", v);
    expect_fail(gw_oreq_text_only(v, &err), 400, "modalities", "text only");
    request("{\"modalities\":\"text\"}", v);
    expect_fail(gw_oreq_text_only(v, &err), 400, "modalities", "must be an array");
}

Test(oreq, stop_is_a_string_or_strings_counted_and_written_as_an_array)
{
    struct gw_jv one = jv("\"END\""), list = jv("[\"a\",\"b\\n\",\"c\"]"), empty = jv("[]");
    cr_assert_eq(gw_oreq_stop(&one, 0, &err), 1);
    cr_assert_eq(gw_oreq_stop(&list, 0, &err), 3);
    cr_assert_eq(gw_oreq_stop(&list, 3, &err), 3);
    cr_assert_eq(gw_oreq_stop(&empty, 5, &err), 0);
    struct gw_jv bad = jv("[\"a\",1]"), num = jv("5");
    expect_fail((int)gw_oreq_stop(&bad, 0, &err), 400, "stop", "array of strings");
    expect_fail((int)gw_oreq_stop(&num, 0, &err), 400, "stop", "array of strings");
    expect_fail((int)gw_oreq_stop(&list, 2, &err), 400, "stop", "at most 2 stop sequences");
    wopen();
    gw_jw_key(&W, "s");
    gw_oreq_stop_write(&W, &one);
    gw_jw_key(&W, "l");
    gw_oreq_stop_write(&W, &list);
    wexpect("{\"s\":[\"END\"],\"l\":[\"a\",\"b\\n\",\"c\"]}");
}

/* ---- the upstream body ---- */

Test(oreq, the_body_names_the_configured_model_else_the_clients_and_carries_the_mock)
{
    struct gw_jw w;
    struct gw_xbound b;
    struct gw_xlate_req out = {0};
    struct gw_jv model = jv("\"client\\u0041\""), mock = jv("{\"delay\":1}");
    const char body[] = "{\"messages\":[]}";
    cr_assert_eq(gw_oreq_body_begin(&w, &b, &X, strlen(body), 0, &model, &err), 0);
    cr_assert_geq(b.cap, 2 * strlen(body) + 2 * strlen(X.upstream_model));
    gw_oreq_mock(&w, &mock);
    cr_assert_eq(gw_oreq_body_end(&w, &b, &out, &err), 0);
    assert_span(out.body, "{\"model\":\"up-model\",\"mock\":{\"delay\":1}}");

    X.upstream_model = NULL;
    struct gw_jv not_mock = jv("[1]");
    cr_assert_eq(gw_oreq_body_begin(&w, &b, &X, strlen(body), 64, &model, &err), 0);
    cr_assert_eq(b.cap, 64, "want is the first buffer when there is no model name");
    gw_oreq_mock(&w, &not_mock);
    cr_assert_eq(gw_oreq_body_end(&w, &b, &out, &err), 0);
    assert_span(out.body, "{\"model\":\"client\\u0041\"}");

    struct gw_jv none = {0};
    expect_fail(gw_oreq_body_begin(&w, &b, &X, strlen(body), 0, &none, &err), 400, "model",
                "model is required");
}

Test(oreq, a_body_past_the_limit_is_the_clients_400_and_below_it_a_500)
{
    struct gw_jw w;
    struct gw_xbound b;
    struct gw_xlate_req out = {0};
    struct gw_jv model = {0};
    X.out_max = 40; /* the limit */
    cr_assert_eq(gw_oreq_body_begin(&w, &b, &X, 10, 0, &model, &err), 0);
    cr_assert_eq(b.cap, 40);
    gw_jw_key(&w, "pad");
    gw_jw_cstr(&w, "0123456789012345678901234567890123456789");
    expect_fail(gw_oreq_body_end(&w, &b, &out, &err), 400, NULL, "larger than 40 bytes");
    cr_assert_null(out.body.ptr);

    X.out_max = 0;
    cr_assert_eq(gw_oreq_body_begin(&w, &b, &X, 10, 16, &model, &err), 0);
    gw_jw_key(&w, "pad");
    gw_jw_cstr(&w, "0123456789012345678901234567890123456789");
    expect_fail(gw_oreq_body_end(&w, &b, &out, &err), 500, NULL, "out of memory");
}

Test(oreq, the_key_header_is_sent_only_with_a_key)
{
    struct gw_xlate_req out = {0};
    cr_assert_eq(gw_oreq_key_header(&X, "authorization", "Bearer ", &out, &err), 0);
    assert_span(out.headers, "authorization: Bearer key-1\r\n");
    cr_assert_eq(gw_oreq_key_header(&X, "x-goog-api-key", "", &out, &err), 0);
    assert_span(out.headers, "x-goog-api-key: key-1\r\n");
    prov.api_key = "";
    cr_assert_eq(gw_oreq_key_header(&X, "authorization", "Bearer ", &out, &err), 0);
    assert_span(out.headers, "");
    X.prov = NULL;
    cr_assert_eq(gw_oreq_key_header(&X, "authorization", "Bearer ", &out, &err), 0);
    cr_assert_eq(out.headers.len, 0);
}

Test(oreq, a_path_model_is_the_configured_one_else_the_clients_decoded)
{
    const char *name;
    size_t n;
    struct gw_jv model = jv("\"a\\/b\""), empty = jv("\"\""), none = {0};
    cr_assert_eq(gw_oreq_model_name(&X, &model, &name, &n, &err), 0);
    cr_assert(n == 8 && memcmp(name, "up-model", 8) == 0);
    X.upstream_model = "";
    cr_assert_eq(gw_oreq_model_name(&X, &model, &name, &n, &err), 0);
    cr_assert(n == 3 && memcmp(name, "a/b", 3) == 0);
    expect_fail(gw_oreq_model_name(&X, &empty, &name, &n, &err), 400, "model", "model is required");
    expect_fail(gw_oreq_model_name(&X, &none, &name, &n, &err), 400, "model", "model is required");
}

/* ---- messages ---- */

Test(oreq, messages_come_with_their_role_and_are_checked_one_by_one)
{
    struct gw_jv msgs = jv("[{\"role\":\"developer\",\"content\":\"d\"},"
                           "{\"role\":\"user\",\"content\":[]},"
                           "{\"role\":\"assistant\",\"tool_calls\":[]},"
                           "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r\"},"
                           "{\"role\":\"narrator\"}]");
    static const enum gw_oreq_role want[] = {GW_OREQ_ROLE_SYSTEM, GW_OREQ_ROLE_USER,
                                             GW_OREQ_ROLE_ASSISTANT, GW_OREQ_ROLE_TOOL};
    struct gw_oreq_msgs it;
    struct gw_oreq_msg m;
    cr_assert_eq(gw_oreq_msgs_begin(&it, &msgs, &err), 0);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(gw_oreq_msgs_next(&it, &m), 1);
        cr_assert_eq(m.index, i);
        cr_assert_eq(m.role, want[i]);
    }
    cr_assert(gw_jv_streq(&m.tool_call_id, "c1"));
    expect_fail(gw_oreq_msgs_next(&it, &m), 400, "messages", "message role must be");

    struct gw_jv bad = jv("[{\"role\":\"tool\",\"content\":\"r\"}]"), nobj = jv("[3]");
    cr_assert_eq(gw_oreq_msgs_begin(&it, &bad, &err), 0);
    expect_fail(gw_oreq_msgs_next(&it, &m), 400, "messages", "tool messages need tool_call_id");
    cr_assert_eq(gw_oreq_msgs_begin(&it, &nobj, &err), 0);
    expect_fail(gw_oreq_msgs_next(&it, &m), 400, "messages", "messages must be objects");
    struct gw_jv str = jv("\"hi\"");
    expect_fail(gw_oreq_msgs_begin(&it, &str, &err), 400, "messages", "must be an array");
}

Test(oreq, system_text_comes_in_order_from_wherever_it_stands_without_empty_pieces)
{
    struct gw_jv msgs =
        jv("[{\"role\":\"system\",\"content\":\"one\"},"
           "{\"role\":\"user\",\"content\":\"u\"},"
           "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"\"},"
           "{\"type\":\"text\",\"text\":\"two\"},{\"type\":\"text\",\"text\":\"3\"}]},"
           "{\"role\":\"system\",\"content\":\"\"}]");
    static const char *const want[] = {"one", "two", "3"};
    struct gw_oreq_system it;
    struct gw_jv text;
    cr_assert_eq(gw_oreq_system_begin(&it, &msgs, &err), 0);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(gw_oreq_system_next(&it, &text), 1);
        cr_assert(gw_jv_streq(&text, want[i]), "%zu: %.*s", i, (int)text.raw.len, text.raw.ptr);
    }
    cr_assert_eq(gw_oreq_system_next(&it, &text), 0);

    struct gw_jv image = jv("[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\"}]}]");
    cr_assert_eq(gw_oreq_system_begin(&it, &image, &err), 0);
    expect_fail(gw_oreq_system_next(&it, &text), 400, "messages",
                "system message parts must be text");
    struct gw_jv num = jv("[{\"role\":\"system\",\"content\":5}]");
    cr_assert_eq(gw_oreq_system_begin(&it, &num, &err), 0);
    expect_fail(gw_oreq_system_next(&it, &text), 400, "messages",
                "system message content must be text");
}

Test(oreq, content_is_one_text_part_or_parts_by_type)
{
    struct gw_oreq_parts it;
    struct gw_oreq_part p;
    struct gw_jv s = jv("\"hello\"");
    cr_assert_eq(gw_oreq_parts_begin(&it, &s, &err), 0);
    cr_assert_eq(gw_oreq_parts_next(&it, &p), 1);
    cr_assert_eq(p.kind, GW_OREQ_PART_TEXT);
    cr_assert(gw_jv_streq(&p.text, "hello"));
    cr_assert(!p.part.found);
    cr_assert_eq(gw_oreq_parts_next(&it, &p), 0);

    struct gw_jv parts = jv("[{\"type\":\"text\",\"text\":\"\"},{\"type\":\"image_url\"},"
                            "{\"type\":\"input_audio\"},{\"type\":\"file\"},"
                            "{\"type\":\"refusal\"},{\"type\":\"video\"},{\"type\":\"text\"}]");
    static const enum gw_oreq_part_kind want[] = {GW_OREQ_PART_TEXT,        GW_OREQ_PART_IMAGE_URL,
                                                  GW_OREQ_PART_INPUT_AUDIO, GW_OREQ_PART_FILE,
                                                  GW_OREQ_PART_REFUSAL,     GW_OREQ_PART_OTHER};
    cr_assert_eq(gw_oreq_parts_begin(&it, &parts, &err), 0);
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(gw_oreq_parts_next(&it, &p), 1);
        cr_assert_eq(p.kind, want[i], "%zu", i);
        cr_assert(gw_jv_is(&p.part, GW_JT_OBJ_BEGIN));
    }
    expect_fail(gw_oreq_parts_next(&it, &p), 400, "messages", "text part needs a string text");

    struct gw_jv nobj = jv("[\"x\"]"), none = {0};
    cr_assert_eq(gw_oreq_parts_begin(&it, &nobj, &err), 0);
    expect_fail(gw_oreq_parts_next(&it, &p), 400, "messages", "content parts must be objects");
    expect_fail(gw_oreq_parts_begin(&it, &none, &err), 400, "messages",
                "message content must be a string or an array of parts");
}

Test(oreq, blocks_of_one_role_share_one_message_and_writers_keep_the_shapes)
{
    int open = 0;
    struct gw_jv text = jv("\"hi \\\"you\\\"\"");
    wopen();
    gw_jw_key(&W, "messages");
    gw_jw_arr_begin(&W);
    cr_assert(gw_oreq_turn(&W, &open, 1, "user", "content"));
    gw_oreq_text_part(&W, &text);
    cr_assert(!gw_oreq_turn(&W, &open, 1, "user", "content"));
    gw_oreq_text_part(&W, &text);
    cr_assert(gw_oreq_turn(&W, &open, 2, "model", "parts"));
    gw_oreq_turn_close(&W, &open);
    cr_assert_eq(open, 0);
    gw_oreq_turn_close(&W, &open); /* nothing open: nothing written */
    gw_jw_arr_end(&W);
    wexpect("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi "
            "\\\"you\\\"\"},{\"type\":\"text\",\"text\":\"hi \\\"you\\\"\"}]},"
            "{\"role\":\"model\",\"parts\":[]}]}");
}

Test(oreq, object_text_allows_white_space_around_one_json_object)
{
    size_t at = 99;
    cr_assert(gw_oreq_object_text(" \n{\"a\":[1]}\t", 12, &at));
    cr_assert_eq(at, 2);
    cr_assert(gw_oreq_object_text("{}", 2, NULL));
    cr_assert(!gw_oreq_object_text("[1]", 3, NULL));
    cr_assert(!gw_oreq_object_text("{\"a\":1} x", 9, NULL));
    cr_assert(!gw_oreq_object_text("  ", 2, &at));
    cr_assert_eq(at, 2, "a blank text: at is its end");
}

/* ---- tool calls ---- */

Test(oreq, tool_calls_yield_id_name_and_the_arguments_object_decoded)
{
    struct gw_jv calls =
        jv("[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"get\","
           "\"arguments\":\" {\\\"q\\\":\\\"\\\\u00e9\\\"}\"}},"
           "{\"id\":\"c2\",\"function\":{\"name\":\"put\"}},"
           "{\"id\":\"c3\",\"function\":{\"name\":\"p\",\"arguments\":\" \\n\"}}]");
    struct gw_oreq_calls it;
    struct gw_oreq_call c;
    cr_assert_eq(gw_oreq_calls_begin(&it, &calls, 4, NULL, true, &arena, &err), 0);
    cr_assert_eq(gw_oreq_calls_next(&it, &c), 1);
    cr_assert_eq(c.index, 0);
    cr_assert(gw_jv_streq(&c.id, "c1") && gw_jv_streq(&c.name, "get"));
    assert_span(c.args, " {\"q\":\"\\u00e9\"}");
    cr_assert_eq(gw_oreq_calls_next(&it, &c), 1);
    assert_span(c.args, "{}");
    cr_assert(!c.arguments.found);
    cr_assert_eq(gw_oreq_calls_next(&it, &c), 1);
    assert_span(c.args, "{}");
    cr_assert_eq(gw_oreq_calls_next(&it, &c), 0);

    wopen();
    gw_oreq_call_members(&W, &c, "id", "input");
    gw_jw_key(&W, "functionCall");
    gw_jw_obj_begin(&W);
    gw_oreq_call_members(&W, &c, NULL, "args");
    gw_jw_obj_end(&W);
    wexpect("{\"id\":\"c3\",\"name\":\"p\",\"input\":{},\"functionCall\":{\"name\":\"p\",\"args\":{"
            "}}}");
}

Test(oreq, tool_calls_keep_the_arguments_string_without_object_args)
{
    struct gw_jv calls =
        jv("[{\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"[not json\"}}]");
    struct gw_oreq_calls it;
    struct gw_oreq_call c;
    cr_assert_eq(gw_oreq_calls_begin(&it, &calls, 0, NULL, false, &arena, &err), 0);
    cr_assert_eq(gw_oreq_calls_next(&it, &c), 1);
    cr_assert(gw_jv_streq(&c.arguments, "[not json"));
    cr_assert_null(c.args.ptr);
}

/* The first call of calls (a JSON array text) with object_args, expected to fail. */
static void expect_call_fail(const char *calls_json, const char *extra, const char *param,
                             const char *msg_part)
{
    struct gw_jv calls = jv(calls_json);
    struct gw_oreq_calls it;
    struct gw_oreq_call c;
    int r = gw_oreq_calls_begin(&it, &calls, 2, extra, true, &arena, &err);
    while (r == 0 && (r = gw_oreq_calls_next(&it, &c)) == 1)
        r = 0;
    expect_fail(r, 400, param, msg_part);
}

Test(oreq, tool_calls_that_an_upstream_could_not_take_are_refused_with_the_field)
{
    expect_call_fail("{}", NULL, "messages", "tool_calls must be an array");
    expect_call_fail("[1]", NULL, "messages", "tool_calls entries must be objects");
    expect_call_fail("[{\"id\":\"c\",\"type\":\"custom\",\"function\":{\"name\":\"f\"}}]", NULL,
                     "messages", "only function tool calls");
    expect_call_fail("[{\"function\":{\"name\":\"f\"}}]", NULL, "messages",
                     "need id and function.name");
    expect_call_fail("[{\"id\":\"c\",\"function\":{}}]", NULL, "messages",
                     "need id and function.name");
    expect_call_fail("[{\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":{}}}]", NULL,
                     "messages", "must be a JSON string");
    expect_call_fail("[{\"id\":\"c\",\"function\":{\"name\":\"look\",\"arguments\":\"[1]\"}}]",
                     NULL, "messages", "must be a JSON object (function look)");
    expect_call_fail("[{\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]",
                     NULL, "messages", "must be a JSON object");
    /* the name rule, with the call's place in the param */
    expect_call_fail("[{\"id\":\"a\",\"function\":{\"name\":\"ok\"}},"
                     "{\"id\":\"b\",\"function\":{\"name\":\"ns.fn\"}}]",
                     NULL, "messages[2].tool_calls[1].function.name", "not valid");
    /* what a dialect allows on top passes */
    struct gw_jv calls = jv("[{\"id\":\"b\",\"function\":{\"name\":\"ns.fn:1\"}}]");
    struct gw_oreq_calls it;
    struct gw_oreq_call c;
    cr_assert_eq(gw_oreq_calls_begin(&it, &calls, 0, ".:", true, &arena, &err), 0);
    cr_assert_eq(gw_oreq_calls_next(&it, &c), 1, "%s", err.message);
}

Test(oreq, the_history_finds_the_latest_call_by_id_and_names_each_tool_once)
{
    struct gw_jv calls = jv("[{\"id\":\"a\",\"function\":{\"name\":\"f\"}},"
                            "{\"id\":\"b\",\"function\":{\"name\":\"g\"}},"
                            "{\"id\":\"a\",\"function\":{\"name\":\"h\"}},"
                            "{\"id\":\"c\",\"function\":{\"name\":\"f\"}}]");
    struct gw_oreq_history h = {0};
    struct gw_oreq_calls it;
    struct gw_oreq_call c;
    cr_assert_eq(gw_oreq_calls_begin(&it, &calls, 0, NULL, false, &arena, &err), 0);
    while (gw_oreq_calls_next(&it, &c) == 1)
        cr_assert_eq(gw_oreq_history_add(&h, &arena, &c, &err), 0);
    cr_assert_eq(h.n, 4);
    const struct gw_oreq_ref *ref = gw_oreq_history_find(&h, gw_span_cstr("a"));
    cr_assert_not_null(ref);
    cr_assert(gw_span_eq(ref->name, gw_span_cstr("\"h\"")), "the latest call with the id");
    cr_assert_null(gw_oreq_history_find(&h, gw_span_cstr("z")));
    cr_assert(gw_oreq_history_first_name(&h, 0));
    cr_assert(gw_oreq_history_first_name(&h, 1));
    cr_assert(gw_oreq_history_first_name(&h, 2));
    cr_assert(!gw_oreq_history_first_name(&h, 3), "f was named by the first call");
}

Test(oreq, the_history_stops_at_the_tool_call_cap)
{
    struct gw_jv calls = jv("[{\"id\":\"a\",\"function\":{\"name\":\"f\"}}]");
    struct gw_oreq_history h = {0};
    struct gw_oreq_calls it;
    struct gw_oreq_call c;
    cr_assert_eq(gw_oreq_calls_begin(&it, &calls, 0, NULL, false, &arena, &err), 0);
    cr_assert_eq(gw_oreq_calls_next(&it, &c), 1);
    for (size_t i = 0; i < GW_XBOUND_TOOL_CALLS_MAX; i++)
        cr_assert_eq(gw_oreq_history_add(&h, &arena, &c, &err), 0);
    expect_fail(gw_oreq_history_add(&h, &arena, &c, &err), 400, "messages",
                "at most 4096 tool calls");
    h.n = 0; /* another render keeps the array */
    struct gw_oreq_ref *kept = h.calls;
    cr_assert_eq(gw_oreq_history_add(&h, &arena, &c, &err), 0);
    cr_assert_eq(h.calls, kept);
}

/* ---- the conversation, walked ---- */

/* What the test walk saw, one line per callback. */
static char seen[2048];
static size_t nseen;

/* Appends what, then v's JSON text when v is not NULL. */
static void saw(const char *what, const struct gw_jv *v)
{
    int n = snprintf(seen + nseen, sizeof(seen) - nseen, "%s%.*s", what, v ? (int)v->raw.len : 0,
                     v ? v->raw.ptr : "");
    cr_assert(n >= 0 && (size_t)n < sizeof(seen) - nseen);
    nseen += (size_t)n;
}

static int t_message(void *arg, const struct gw_oreq_msg *m)
{
    (void)arg;
    static const char *const roles[] = {"S", "U", "A", "T"};
    saw(roles[m->role], NULL);
    return 0;
}

static int t_part(void *arg, enum gw_oreq_role role, const struct gw_oreq_part *p)
{
    (void)arg;
    saw(role == GW_OREQ_ROLE_TOOL ? " tool-part:" : " part:", NULL);
    saw(p->kind == GW_OREQ_PART_TEXT ? "" : "image", &p->text);
    return 0;
}

static int t_call(void *arg, const struct gw_oreq_call *c)
{
    (void)arg;
    saw(" call:", &c->name);
    return 0;
}

static int t_result(void *arg, const struct gw_oreq_msg *m, const struct gw_oreq_walk *w)
{
    saw(" result:", &m->tool_call_id);
    return gw_oreq_walk_parts(w, GW_OREQ_ROLE_TOOL, &m->content, arg, &err);
}

static const struct gw_oreq_walk twalk = {
    .message = t_message,
    .part = t_part,
    .call = t_call,
    .result = t_result,
    GW_OREQ_WALK_IMAGES_USER_TOOL,
    .object_args = true,
};

static int walk(const char *msgs_json)
{
    struct gw_jv msgs = jv(msgs_json);
    nseen = 0;
    seen[0] = '\0';
    return gw_oreq_walk(&msgs, &twalk, NULL, &arena, &err);
}

Test(oreq, the_walk_hands_each_piece_of_the_conversation_to_the_dialect_in_order)
{
    const char *img = "{\"type\":\"image_url\",\"image_url\":\"https://x/a.png\"}";
    char msgs[1024];
    snprintf(
        msgs, sizeof(msgs),
        "[{\"role\":\"system\",\"content\":\"sys\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\"},%s,"
        "{\"type\":\"text\",\"text\":\"look\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"no\"}],"
        "\"tool_calls\":[{\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c2\",\"function\":{\"name\":\"g\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":[%s]},"
        "{\"role\":\"user\",\"content\":\"bye\"}]",
        img, img);
    cr_assert_eq(walk(msgs), 0, "%s", err.message);
    cr_assert_str_eq(seen, "U part:image part:\"look\"A call:\"f\"A call:\"g\"T result:\"c1\" "
                           "tool-part:imageU part:\"bye\"");
}

Test(oreq, the_walk_refuses_parts_a_role_does_not_take)
{
    cr_assert_eq(walk("[{\"role\":\"assistant\",\"content\":[{\"type\":\"image_url\"}]}]"), -1);
    cr_assert_str_eq(err.message, "image parts are only accepted in user and tool messages");
    cr_assert_eq(walk("[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]"), -1);
    cr_assert_str_eq(err.message, "content part type not supported by this provider");
    cr_assert_eq(walk("[{\"role\":\"user\"}]"), -1, "a user message needs content");
    cr_assert(strstr(err.message, "must be a string or an array of parts"));
    cr_assert_eq(walk("[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
                      "\"function\":{\"name\":\"f\",\"arguments\":\"1\"}}]}]"),
                 -1, "object_args applies to the walk's calls");
    cr_assert(strstr(err.message, "JSON object (function f)"), "%s", err.message);
    cr_assert_str_eq(err.param, "messages");
}

/* ---- tools and tool_choice ---- */

Test(oreq, tools_yield_checked_functions_with_their_schema)
{
    struct gw_jv tools =
        jv("[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"description\":"
           "\"d\",\"parameters\":{\"type\":\"object\"},\"strict\":true}},"
           "{\"type\":\"function\",\"function\":{\"name\":\"b\",\"description\":5}}]");
    struct gw_oreq_tools it;
    struct gw_oreq_tool t;
    cr_assert_eq(gw_oreq_tools_begin(&it, &tools, NULL, &arena, &err), 0);
    wopen();
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(gw_oreq_tools_next(&it, &t), 1);
        cr_assert_eq(t.index, i);
        gw_jw_key(&W, i ? "b" : "a");
        gw_jw_obj_begin(&W);
        gw_oreq_tool_head(&W, &t);
        gw_jw_key(&W, "schema");
        gw_oreq_tool_params(&W, &t);
        gw_jw_obj_end(&W);
    }
    cr_assert(gw_jv_is(&t.description, GW_JT_NUMBER), "a description is handed over as sent");
    cr_assert_eq(gw_oreq_tools_next(&it, &t), 0);
    wexpect("{\"a\":{\"name\":\"a\",\"description\":\"d\",\"schema\":{\"type\":\"object\"}},"
            "\"b\":{\"name\":\"b\",\"schema\":" GW_OREQ_EMPTY_SCHEMA "}}");
}

static void expect_tools_fail(const char *tools_json, const char *param, const char *msg_part)
{
    struct gw_jv tools = jv(tools_json);
    struct gw_oreq_tools it;
    struct gw_oreq_tool t;
    int r = gw_oreq_tools_begin(&it, &tools, NULL, &arena, &err);
    while (r == 0 && (r = gw_oreq_tools_next(&it, &t)) == 1)
        r = 0;
    expect_fail(r, 400, param, msg_part);
}

Test(oreq, tools_no_upstream_could_take_are_refused_with_the_field)
{
    expect_tools_fail("{}", "tools", "tools must be an array");
    expect_tools_fail("[3]", "tools", "tools entries must be objects");
    expect_tools_fail("[{\"type\":\"web_search\"}]", "tools", "only function tools");
    expect_tools_fail("[{\"type\":\"function\",\"function\":{}}]", "tools",
                      "function tools need function.name");
    expect_tools_fail("[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":[]}}]",
                      "tools", "JSON Schema object");
    expect_tools_fail("[{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
                      "{\"type\":\"function\",\"function\":{\"name\":\"bad name\"}}]",
                      "tools[1].function.name", "not valid");
}

Test(oreq, tool_choice_is_a_mode_or_one_named_function)
{
    static const struct {
        const char *json;
        enum gw_oreq_tc mode;
    } ok[] = {{"\"auto\"", GW_OREQ_TC_AUTO},
              {"\"required\"", GW_OREQ_TC_REQUIRED},
              {"\"none\"", GW_OREQ_TC_NONE},
              {"{\"type\":\"function\",\"function\":{\"name\":\"ns.get\"}}", GW_OREQ_TC_FUNCTION}};
    struct gw_oreq_choice ch;
    struct gw_jv none = {0};
    cr_assert_eq(gw_oreq_tool_choice(&none, NULL, &arena, &err, &ch), 0);
    cr_assert_eq(ch.mode, GW_OREQ_TC_ABSENT);
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct gw_jv tc = jv(ok[i].json);
        cr_assert_eq(gw_oreq_tool_choice(&tc, ".", &arena, &err, &ch), 0, "%s", err.message);
        cr_assert_eq(ch.mode, ok[i].mode, "%s", ok[i].json);
    }
    cr_assert(gw_jv_streq(&ch.name, "ns.get"));

    struct gw_jv bad = jv("\"sometimes\""), allowed = jv("{\"type\":\"allowed_tools\"}"),
                 noname = jv("{\"type\":\"function\"}"), num = jv("7"),
                 badname = jv("{\"type\":\"function\",\"function\":{\"name\":\"ns.get\"}}");
    expect_fail(gw_oreq_tool_choice(&bad, NULL, &arena, &err, &ch), 400, "tool_choice",
                "must be auto, required or none");
    expect_fail(gw_oreq_tool_choice(&allowed, NULL, &arena, &err, &ch), 400, "tool_choice",
                "allowed_tools is not supported");
    expect_fail(gw_oreq_tool_choice(&noname, NULL, &arena, &err, &ch), 400, "tool_choice",
                "must name a function");
    expect_fail(gw_oreq_tool_choice(&num, NULL, &arena, &err, &ch), 400, "tool_choice",
                "invalid tool_choice");
    expect_fail(gw_oreq_tool_choice(&badname, NULL, &arena, &err, &ch), 400,
                "tool_choice.function.name", "not valid");
}

/* ---- image URLs ---- */

Test(oreq, urls_are_data_urls_with_their_parts_web_urls_or_neither)
{
    static const struct {
        const char *url;
        enum gw_oreq_url_kind kind;
        const char *media, *data;
    } t[] = {
        {"data:image/png;base64,iVBOR", GW_OREQ_URL_DATA, "image/png", "iVBOR"},
        {"DATA:image/jpeg;BASE64,", GW_OREQ_URL_DATA, "image/jpeg", ""},
        {"data:image/png;charset=x;base64,abc", GW_OREQ_URL_DATA_BAD, NULL, NULL},
        {"data:;base64,abc", GW_OREQ_URL_DATA_BAD, NULL, NULL},
        {"data:image/png,abc", GW_OREQ_URL_DATA_BAD, NULL, NULL},
        {"data:", GW_OREQ_URL_DATA_BAD, NULL, NULL},
        {"https://x.test/a.png", GW_OREQ_URL_HTTP, NULL, NULL},
        {"HTTP://x", GW_OREQ_URL_HTTP, NULL, NULL},
        {"ftp://x", GW_OREQ_URL_OTHER, NULL, NULL},
        {"", GW_OREQ_URL_OTHER, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct gw_oreq_url u;
        gw_oreq_url_parse(gw_span_cstr(t[i].url), &u);
        cr_assert_eq(u.kind, t[i].kind, "%s", t[i].url);
        assert_span(u.url, t[i].url);
        if (t[i].media) {
            assert_span(u.media, t[i].media);
            cr_assert(gw_span_eq(u.data, gw_span_cstr(t[i].data)), "%s", t[i].url);
        }
    }
}

Test(oreq, an_image_url_part_gives_its_url_decoded_and_refuses_a_broken_data_url)
{
    struct gw_oreq_url u;
    struct gw_jv part = jv("{\"type\":\"image_url\",\"image_url\":{\"url\":"
                           "\"data:image/webp;base64,a\\/b\",\"detail\":\"low\"}}");
    cr_assert_eq(gw_oreq_image_url(&part, &arena, &err, &u), 0);
    cr_assert_eq(u.kind, GW_OREQ_URL_DATA);
    assert_span(u.data, "a/b");
    struct gw_jv url, detail;
    cr_assert_eq(gw_oreq_image_url_member(&part, &url, &detail, &err), 0);
    cr_assert(gw_jv_streq(&detail, "low"));
    struct gw_jv bare = jv("{\"type\":\"image_url\",\"image_url\":\"https://x\"}");
    cr_assert_eq(gw_oreq_image_url_member(&bare, &url, &detail, &err), 0);
    cr_assert(gw_jv_streq(&url, "https://x") && !detail.found);
    cr_assert_eq(gw_oreq_image_url(&bare, &arena, &err, &u), 0);
    cr_assert_eq(u.kind, GW_OREQ_URL_HTTP);

    struct gw_jv broken = jv("{\"image_url\":{\"url\":\"data:image/png,abc\"}}"),
                 missing = jv("{\"image_url\":{\"uri\":\"x\"}}"), num = jv("{\"image_url\":5}");
    expect_fail(gw_oreq_image_url(&broken, &arena, &err, &u), 400, "messages",
                "image data URLs must be data:<media type>;base64,<data>");
    expect_fail(gw_oreq_image_url(&missing, &arena, &err, &u), 400, "messages",
                "image_url part needs image_url.url");
    expect_fail(gw_oreq_image_url_member(&num, &url, &detail, &err), 400, "messages",
                "image_url part needs image_url.url");
}

/* ---- the OpenAI side the translators share ---- */

Test(oai_shared, an_error_body_is_the_error_object_and_hands_back_the_status)
{
    struct gw_span out;
    int st = 0;
    struct gw_oai_error e = {.message = gw_span_cstr("a \"quoted\"\x01 thing"),
                             .type = gw_span_cstr("server_error"),
                             .code = "timeout"};
    cr_assert_eq(gw_oai_error_body(&arena, &e, 504, &out, &st), 0);
    cr_assert_eq(st, 504);
    assert_span(out, "{\"error\":{\"message\":\"a \\\"quoted\\\"\\u0001 thing\",\"type\":"
                     "\"server_error\",\"param\":null,\"code\":\"timeout\"}}");
    struct gw_jv token = jv("\"upstream \\\"says\\\"\"");
    e = (struct gw_oai_error){.message = token.raw,
                              .message_json = true,
                              .type = gw_span_cstr("invalid_request_error"),
                              .param = "model"};
    cr_assert_eq(gw_oai_error_body(&arena, &e, 400, &out, NULL), 0);
    assert_span(out, "{\"error\":{\"message\":\"upstream \\\"says\\\"\",\"type\":"
                     "\"invalid_request_error\",\"param\":\"model\",\"code\":null}}");
}

Test(oai_shared, the_answers_text_is_joined_decoded_and_content_is_null_without_it)
{
    struct gw_oai_text t;
    cr_assert_eq(gw_oai_text_init(&t, &arena, 32), 0);
    cr_assert(!t.have);
    struct gw_jv a = jv("\"caf\\u00e9 \""), b = jv("\"\\\"ok\\\"\"");
    cr_assert_eq(gw_oai_text_add(&t, a.str), 0);
    cr_assert_eq(gw_oai_text_add(&t, b.str), 0);
    cr_assert(t.have);
    cr_assert(t.len == 10 && memcmp(t.buf, "caf\xc3\xa9 \"ok\"", 10) == 0);
    cr_assert_eq(gw_oai_text_add(&t, gw_span_cstr("\\q")), -1, "an invalid escape");
    wopen();
    gw_oai_message_content(&W, &t, false);
    gw_jw_key(&W, "m");
    gw_jw_obj_begin(&W);
    gw_oai_message_content(&W, NULL, true);
    gw_jw_arr_end(&W);
    gw_jw_obj_end(&W);
    wexpect("{\"content\":\"caf\xc3\xa9 \\\"ok\\\"\",\"m\":{\"content\":null,\"tool_calls\":[]}}");
}

/* A test block reader: {"t":text} is text, {"c":name} a call, anything else not translated. */
static int read_test_block(const struct gw_jv *b, struct gw_jv *text, struct gw_oai_call *call)
{
    static const char *const k[] = {"t", "c", "bad"};
    struct gw_jv v[3];
    if (gw_jv_scan_obj(b, k, 3, v) != 0 || v[2].found)
        return -1;
    if (gw_jv_is(&v[0], GW_JT_STRING)) {
        *text = v[0];
        return GW_OAI_BLOCK_TEXT;
    }
    if (!gw_jv_is(&v[1], GW_JT_STRING))
        return GW_OAI_BLOCK_OTHER;
    *call = (struct gw_oai_call){.index = -1, .id = v[1].raw, .name = v[1].raw, .args_text = true};
    return GW_OAI_BLOCK_CALL;
}

Test(oai_shared, an_answer_of_blocks_is_one_message_with_text_then_calls)
{
    static const char head[] = "{\"id\":\"chatcmpl-r1\",\"object\":\"chat.completion\","
                               "\"created\":1700000000,\"model\":\"cm\",\"choices\":[{\"index\":0,"
                               "\"message\":{\"role\":\"assistant\",";
    struct gw_jw w;
    struct gw_span out;
    struct gw_xlate_usage usage = {.prompt_tokens = 3, .completion_tokens = 4, .have = true};
    struct gw_xlate_usage got = {0};
    struct gw_jv blocks = jv("[{\"t\":\"a\"},{\"c\":\"f\"},{\"x\":1},{\"t\":\"b\"},{\"c\":\"g\"}]");
    cr_assert_eq(gw_oai_message_blocks(&w, &X, 64, &blocks, read_test_block), 0);
    gw_oai_choice_end(&w, false, "tool_calls");
    cr_assert_eq(gw_oai_completion_close(&w, &usage, &out, &got), 0);
    cr_assert_eq(got.completion_tokens, 4);
    char want[1024];
    snprintf(want, sizeof(want),
             "%s\"content\":\"ab\",\"tool_calls\":[{\"id\":\"f\",\"type\":\"function\","
             "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},{\"id\":\"g\",\"type\":"
             "\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}],\"refusal\":null},"
             "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":3,"
             "\"completion_tokens\":4,\"total_tokens\":7,\"prompt_tokens_details\":"
             "{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
             head);
    assert_span(out, want);

    struct gw_jv nothing = jv("[{\"x\":1}]");
    cr_assert_eq(gw_oai_message_blocks(&w, &X, 16, &nothing, read_test_block), 0);
    gw_oai_choice_end(&w, false, "stop");
    cr_assert_eq(gw_oai_completion_close(&w, &usage, &out, NULL), 0);
    cr_assert(memmem(out.ptr, out.len, "\"content\":null,\"refusal\":null", 29),
              "no text: content null, no tool_calls");

    struct gw_jv bad = jv("[{\"t\":\"a\"},{\"bad\":1}]"), notarr = jv("{}");
    cr_assert_eq(gw_oai_message_blocks(&w, &X, 16, &bad, read_test_block), -1);
    cr_assert_eq(gw_oai_message_blocks(&w, &X, 16, &notarr, read_test_block), -1);
}

Test(oai_shared, a_completion_that_does_not_fit_hands_nothing_back)
{
    struct gw_jw w;
    struct gw_span out = GW_SPAN_NULL;
    struct gw_xlate_usage usage = {.have = true}, got = {.prompt_tokens = 99};
    cr_assert_eq(gw_oai_completion_open(&w, &X, 0), 0);
    cr_assert_eq(w.cap, gw_oai_head_room(&X));
    gw_oai_choice_begin(&w, 0);
    gw_jw_key(&w, "content");
    char big[2048];
    memset(big, 'x', sizeof(big));
    gw_jw_str(&w, big, sizeof(big));
    gw_oai_message_end(&w);
    gw_oai_choice_end(&w, false, NULL);
    cr_assert_eq(gw_oai_completion_close(&w, &usage, &out, &got), -1);
    cr_assert_null(out.ptr);
    cr_assert_eq(got.prompt_tokens, 99);
}

Test(oai_shared, logprobs_objects_wrap_the_callers_entries)
{
    wopen();
    gw_jw_key(&W, "logprobs");
    gw_oai_logprobs_begin(&W);
    gw_jw_obj_begin(&W);
    gw_jw_obj_end(&W);
    gw_oai_logprobs_end(&W);
    wexpect("{\"logprobs\":{\"content\":[{}],\"refusal\":null}}");
}

/* ---- streams ---- */

struct sink {
    char buf[8192];
    size_t n;
    int refuse; /* >0: refuse the write after this many more */
};

static int sink_write(void *arg, const char *p, size_t n)
{
    struct sink *k = arg;
    if (k->refuse && --k->refuse == 0)
        return -1;
    cr_assert(k->n + n <= sizeof(k->buf));
    memcpy(k->buf + k->n, p, n);
    k->n += n;
    return 0;
}

static void assert_sink(const struct sink *k, const char *want)
{
    cr_assert(k->n == strlen(want) && memcmp(k->buf, want, k->n) == 0, "got:\n%.*s\nwant:\n%s",
              (int)k->n, k->buf, want);
}

#define CHUNK_HEAD                                                                                 \
    "data: {\"id\":\"chatcmpl-r1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"   \
    "\"model\":\"cm\",\"choices\":[{\"index\":0,\"delta\":{"
#define ERROR_END(msg)                                                                             \
    "data: {\"error\":{\"message\":\"" msg "\",\"type\":\"server_error\",\"param\":null,"          \
    "\"code\":null}}\n\ndata: [DONE]\n\n"

Test(oai_shared, content_chunks_carry_the_role_once_and_room_for_choice_members)
{
    struct gw_oai_stream o;
    struct sink k = {0};
    struct gw_xlate_sink sink = {sink_write, &k};
    gw_oai_stream_init(&o, &X);
    cr_assert_eq(gw_oai_chunk_role(&o, &sink, 0), 0);
    struct gw_jw *w = gw_oai_chunk_content_begin(&o, 0, gw_span_cstr("\"x\""), 16);
    cr_assert_not_null(w);
    gw_jw_key(w, "logprobs");
    gw_jw_null(w);
    cr_assert_eq(gw_oai_chunk_content_send(&o, &sink), 0);
    assert_sink(&k, CHUNK_HEAD
                "\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n" CHUNK_HEAD
                "\"content\":\"x\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

/* The test stream: each event's data is "ok" (nothing), "end" (finish), "err" (-1) or a chunk. */
struct tstream {
    struct gw_oai_stream o;
    struct gw_sse_reader r;
    unsigned events;
};

static int t_event(void *st, struct gw_span event, struct gw_span data,
                   const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    struct tstream *s = st;
    (void)event;
    s->events++;
    if (u)
        u->completion_tokens = s->events;
    if (gw_span_eq(data, GW_SPAN_LIT("ok")))
        return 0;
    if (gw_span_eq(data, GW_SPAN_LIT("end")))
        return gw_oai_stream_finish(&s->o, sink, NULL);
    if (gw_span_eq(data, GW_SPAN_LIT("err")))
        return -1;
    return gw_oai_chunk_content(&s->o, sink, 0, data);
}

static void tstream_init(struct tstream *s, size_t max)
{
    memset(s, 0, sizeof(*s));
    gw_oai_stream_init(&s->o, &X);
    gw_sse_reader_init(&s->r, &arena, max);
}

Test(oai_shared, the_sse_glue_feeds_events_until_the_stream_ends_then_ignores_input)
{
    struct tstream s;
    struct sink k = {0};
    struct gw_xlate_sink sink = {sink_write, &k};
    struct gw_xlate_usage u = {0};
    static const char in[] = "data: ok\n\ndata: \"a\"\n\ndata: end\n\ndata: \"b\"\n\n";
    X.want_usage = true; /* no usage known (NULL): no usage chunk all the same */
    tstream_init(&s, GW_OAI_EVENT_MAX);
    cr_assert_eq(gw_oai_stream_state(&s.o), 0);
    cr_assert_eq(gw_oai_stream_feed_sse(&s.o, &s.r, in, 14, t_event, &s, &sink, &u), 0);
    cr_assert_eq(
        gw_oai_stream_feed_sse(&s.o, &s.r, in + 14, sizeof(in) - 15, t_event, &s, &sink, &u), 1);
    cr_assert_eq(s.events, 3, "nothing after the end is read");
    cr_assert_eq(u.completion_tokens, 3, "the feed's usage reaches the handler");
    cr_assert_eq(gw_oai_stream_state(&s.o), 1);
    cr_assert_eq(gw_oai_stream_feed_sse(&s.o, &s.r, "data: \"c\"\n\n", 11, t_event, &s, &sink, &u),
                 1);
    cr_assert_eq(gw_oai_stream_cut(&s.o, &sink, "cut"), 1, "an ended stream is not cut");
    assert_sink(&k, CHUNK_HEAD "\"role\":\"assistant\",\"content\":\"a\"},\"finish_reason\":null}]}"
                               "\n\ndata: [DONE]\n\n");
}

Test(oai_shared, an_oversized_event_or_a_failing_handler_ends_the_stream_failed)
{
    struct tstream s;
    struct sink k = {0};
    struct gw_xlate_sink sink = {sink_write, &k};
    tstream_init(&s, 16);
    static const char big[] = "data: 0123456789abcdefghij\n\n";
    cr_assert_eq(gw_oai_stream_feed_sse(&s.o, &s.r, big, sizeof(big) - 1, t_event, &s, &sink, NULL),
                 -1);
    cr_assert_eq(gw_oai_stream_state(&s.o), -1);
    assert_sink(&k, ERROR_END("upstream stream event over 1 MiB"));

    k.n = 0;
    tstream_init(&s, 64);
    cr_assert_eq(gw_oai_stream_feed_sse(&s.o, &s.r, "data: err\n\n", 11, t_event, &s, &sink, NULL),
                 -1);
    cr_assert(s.o.done && s.o.failed);
    cr_assert_eq(k.n, 0, "the handler's failure writes nothing more");
    cr_assert_eq(gw_oai_stream_cut(&s.o, &sink, "cut"), -1);
    cr_assert_eq(k.n, 0);
}

Test(oai_shared, a_stream_cut_before_its_end_gets_an_error_chunk_and_done)
{
    struct tstream s;
    struct sink k = {0};
    struct gw_xlate_sink sink = {sink_write, &k};
    tstream_init(&s, 64);
    cr_assert_eq(
        gw_oai_stream_feed_sse(&s.o, &s.r, "data: ok\n\ndata: \"x", 18, t_event, &s, &sink, NULL),
        0);
    cr_assert_eq(gw_oai_stream_cut(&s.o, &sink, "upstream stream ended early"), -1);
    assert_sink(&k, ERROR_END("upstream stream ended early"));
    cr_assert_eq(gw_oai_stream_ended(&s.o, 1), 1);
    cr_assert(s.o.failed, "ended keeps a failure");
}

Test(oai_shared, an_exhausted_arena_ends_the_stream_failed_without_a_chunk)
{
    struct gw_arena small;
    gw_arena_init(&small, 256, 512);
    struct tstream s;
    struct sink k = {0};
    struct gw_xlate_sink sink = {sink_write, &k};
    memset(&s, 0, sizeof(s));
    gw_oai_stream_init(&s.o, &X);
    gw_sse_reader_init(&s.r, &small, GW_OAI_EVENT_MAX);
    char in[4096];
    memset(in, 'a', sizeof(in));
    memcpy(in, "data: ", 6);
    cr_assert_eq(gw_oai_stream_feed_sse(&s.o, &s.r, in, sizeof(in), t_event, &s, &sink, NULL), -1);
    cr_assert(s.o.done && s.o.failed);
    cr_assert_eq(k.n, 0);
    gw_arena_destroy(&small);
}
