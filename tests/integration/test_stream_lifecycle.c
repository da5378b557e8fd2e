/*
 * tests/integration/test_stream_lifecycle.c — what happens to open streams
 * when the world changes around them: the client goes away, the config is
 * reloaded (SIGHUP), the process is asked to stop (SIGTERM), and a reload is
 * refused because the new file is invalid.
 *
 * The mock's /mock/stats is how we see the upstream side: a client abort must
 * show there as an aborted stream and a closed connection, not as a stream
 * that ran to completion into a gateway that no longer cares.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "harness.h"

static void setup(void)
{
    h_setup();
    h_mock_start(NULL);
}

static void teardown(void)
{
    h_teardown();
}

TestSuite(stream_lifecycle, .init = setup, .fini = teardown, .timeout = 90);

/* Starts a stream through conduit and waits for its first `events` events. */
static void start_stream(struct h_conn *c, struct h_stream *s, const char *model, int chunks,
                         int delay_ms, size_t events)
{
    char extra[128];
    snprintf(extra, sizeof(extra), "\"mock\":{\"chunks\":%d,\"delay_ms\":%d}", chunks, delay_ms);
    char *body = h_chat_body(model, true, extra);
    int rc = h_stream_start(c, s, H.gw_port, "/v1/chat/completions", H_AUTH, body);
    free(body);
    cr_assert_eq(rc, 0, "stream start: %s", strerror(-rc));
    cr_assert_eq(s->head.status, 200, "status %d: %s", s->head.status, s->head.body);
    while (s->nevs < events) {
        rc = h_stream_next(c, s, H_IO_TIMEOUT_MS);
        cr_assert_eq(rc, 1, "waiting for event %zu: %d", s->nevs + 1, rc);
    }
}

/* Reads the rest of a stream and checks it is whole: all chunks, [DONE] last. */
static void finish_stream_intact(struct h_conn *c, struct h_stream *s, size_t chunks,
                                 const char *what)
{
    int rc = h_stream_read_all(c, s, 30000);
    cr_assert_eq(rc, 0, "%s: read: %s after %zu events", what, strerror(-rc), s->nevs);
    cr_assert(s->complete, "%s: body did not end properly", what);
    size_t n;
    char *text = h_stream_text(s, &n);
    cr_assert_eq(n, chunks, "%s: %zu content chunks, want %zu", what, n, chunks);
    free(text);
    cr_assert(s->nevs > 0 && strcmp(s->evs[s->nevs - 1].data, "[DONE]") == 0,
              "%s: [DONE] is not the last event", what);
}

Test(stream_lifecycle, client_abort_closes_the_upstream_connection)
{
    h_gw_start_with(NULL);
    struct h_mock_stats before, now;
    h_mock_stats(&before);

    struct h_conn c;
    struct h_stream s;
    start_stream(&c, &s, H_MODEL, 50, 100, 2);
    h_mock_stats(&now);
    cr_assert_eq(now.streams_active, before.streams_active + 1);
    h_conn_close(&c);
    h_stream_free(&s);

    /* The mock has ~4.8 s of stream left; conduit must hang up on it within 2 s. */
    double deadline = h_now_ms() + 2000;
    for (;;) {
        h_mock_stats(&now);
        if (now.streams_aborted >= before.streams_aborted + 1 &&
            now.connections_open <= before.connections_open && now.streams_active == 0)
            break;
        cr_assert(h_now_ms() < deadline,
                  "upstream not closed 2 s after the client left: aborted %lld->%lld, open "
                  "%lld->%lld, active %lld",
                  before.streams_aborted, now.streams_aborted, before.connections_open,
                  now.connections_open, now.streams_active);
        h_sleep_ms(50);
    }
    cr_assert_eq(now.streams_completed, before.streams_completed,
                 "the aborted stream ran to completion upstream");

    /* And conduit is none the worse for it. */
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    free(body);
    h_finish();
}

/* The upstream model name the mock saw for the last request. */
static void assert_forwarded_model(const char *want)
{
    char *fwd = h_mock_last_body();
    h_json_expect(fwd, "model", want);
    free(fwd);
}

/* Non-streamed chat for model; returns the status (the body is dropped). */
static int chat_status(const char *model)
{
    char *body = h_chat_body(model, false, NULL);
    struct h_resp r;
    int rc = h_chat(body, NULL, &r);
    free(body);
    cr_assert_eq(rc, 0, "request for %s: %s", model, strerror(-rc));
    int st = r.status;
    h_resp_free(&r);
    return st;
}

Test(stream_lifecycle, sighup_reload_mid_stream_keeps_the_stream_and_switches_new_requests)
{
    struct h_gw_opts v1 = {.extra_model_items = "  - name: old-model\n"
                                                "    provider: mock\n"
                                                "    model: old-upstream\n"};
    h_gw_start_with(&v1);

    struct h_conn c;
    struct h_stream s;
    start_stream(&c, &s, "old-model", 20, 100, 2);

    /* v2: old-model gone, new-model added, the default model renamed upstream. */
    struct h_gw_opts v2 = {.model_items = "  - name: " H_MODEL "\n"
                                          "    provider: mock\n"
                                          "    model: renamed-upstream\n"
                                          "  - name: new-model\n"
                                          "    provider: mock\n"
                                          "    model: new-upstream\n"};
    h_gw_config(&v2);
    h_gw_signal(SIGHUP);

    /* New requests see v2 once the reload lands (give it 3 s). */
    double deadline = h_now_ms() + 3000;
    while (chat_status("new-model") != 200) {
        cr_assert(h_now_ms() < deadline, "new-model not served 3 s after SIGHUP");
        h_sleep_ms(50);
    }
    assert_forwarded_model("new-upstream");
    /* The reload landed while the old stream was still running upstream. */
    struct h_mock_stats st;
    h_mock_stats(&st);
    cr_assert(st.streams_active >= 1, "the stream ended before the reload could be seen");

    h_expect_chat_error("old-model", false, NULL, 404, "model_not_found", NULL);
    cr_assert_eq(chat_status(H_MODEL), 200);
    assert_forwarded_model("renamed-upstream");

    /* The stream that began under v1 finishes whole, still talking to old-upstream. */
    finish_stream_intact(&c, &s, 20, "stream across reload");
    for (size_t i = 0; i + 1 < s.nevs; i++) {
        char m[64];
        const char *d = s.evs[i].data;
        cr_assert(h_json_get(d, strlen(d), "model", m, sizeof(m)) > 0, "%s", d);
        cr_assert_str_eq(m, "old-upstream", "event %zu of the old stream: %s", i, d);
    }
    h_conn_close(&c);
    h_stream_free(&s);
    cr_assert(h_gw_alive());
    h_finish();
}

/*
 * How long a probe during drain waits for an answer. It must stay well under
 * the streams' remaining time (~1.8 s): a connection parked in a listener that
 * nobody accepts from is only reset when the process exits, which would
 * otherwise pass for "refused".
 */
#define DRAIN_PROBE_MS 1000

/* One attempt at a chat request during drain; true when it was served with 200. */
static bool chat_served_during_drain(void)
{
    struct h_conn c;
    if (h_conn_open(&c, H.gw_port) < 0)
        return false; /* refused: listeners are closed */
    char *body = h_chat_body(H_MODEL, false, NULL);
    bool served = false;
    if (h_send_request(&c, "POST", "/v1/chat/completions", H_AUTH, body) == 0) {
        struct h_resp r;
        int rc = h_read_response(&c, &r, DRAIN_PROBE_MS);
        cr_assert(rc != -ETIMEDOUT, "a new connection during drain hangs unanswered");
        if (rc == 0) {
            served = r.status == 200;
            h_resp_free(&r);
        }
    }
    free(body);
    h_conn_close(&c);
    return served;
}

/* /readyz during drain: 503, or no connection at all. 200 and hanging are wrong. */
static bool readyz_says_not_ready(void)
{
    struct h_conn c;
    if (h_conn_open(&c, H.gw_port) < 0)
        return true;
    bool not_ready = true;
    if (h_send_request(&c, "GET", "/readyz", NULL, NULL) == 0) {
        struct h_resp r;
        int rc = h_read_response(&c, &r, DRAIN_PROBE_MS);
        cr_assert(rc != -ETIMEDOUT,
                  "/readyz hangs unanswered during drain: the connection was taken by a "
                  "listener nobody serves");
        if (rc == 0) {
            cr_assert(r.status == 200 || r.status == 503, "/readyz answered %d", r.status);
            not_ready = r.status == 503;
            h_resp_free(&r);
        }
    }
    h_conn_close(&c);
    return not_ready;
}

Test(stream_lifecycle, sigterm_drains_open_streams_then_exits_zero)
{
    h_gw_start_with(NULL);
    struct h_conn c1, c2;
    struct h_stream s1, s2;
    start_stream(&c1, &s1, H_MODEL, 10, 200, 1);
    start_stream(&c2, &s2, H_MODEL, 10, 200, 1);

    double t_term = h_now_ms();
    h_gw_signal(SIGTERM);
    double deadline = t_term + 1500;
    while (!readyz_says_not_ready()) {
        cr_assert(h_now_ms() < deadline, "/readyz still 200 1.5 s after SIGTERM");
        h_sleep_ms(20);
    }
    struct h_mock_stats st;
    h_mock_stats(&st);
    cr_assert(st.streams_active >= 1, "streams ended before /readyz turned");
    cr_assert(!chat_served_during_drain(), "a new chat request was served during drain");

    finish_stream_intact(&c1, &s1, 10, "first stream");
    finish_stream_intact(&c2, &s2, 10, "second stream");
    h_conn_close(&c1);
    h_conn_close(&c2);
    h_stream_free(&s1);
    h_stream_free(&s2);

    /* drain_timeout is 10 s; with the streams done it should go at once. */
    cr_assert_eq(h_gw_wait_exit(12000), 0, "conduit still running after drain");
    cr_assert(WIFEXITED(H.gw_exit_status), "conduit did not exit normally (status 0x%x)",
              H.gw_exit_status);
    cr_assert_eq(WEXITSTATUS(H.gw_exit_status), 0);
    h_finish();
}

Test(stream_lifecycle, invalid_config_on_sighup_is_refused_and_the_old_one_keeps_serving)
{
    h_gw_start_with(NULL);
    cr_assert_eq(chat_status(H_MODEL), 200);

    /* Line 10 holds the error: a base_url that is not http(s). */
    char bad[1024];
    snprintf(bad, sizeof(bad),
             "server:\n"                                 /* 1 */
             "  listen: \"127.0.0.1:%d\"\n"              /* 2 */
             "  workers: 2\n"                            /* 3 */
             "keys:\n"                                   /* 4 */
             "  - name: demo\n"                          /* 5 */
             "    key: \"" H_CLIENT_KEY "\"\n"           /* 6 */
             "providers:\n"                              /* 7 */
             "  - name: mock\n"                          /* 8 */
             "    type: openai\n"                        /* 9 */
             "    base_url: \"ftp://127.0.0.1:%d/v1\"\n" /* 10 */
             "models:\n"                                 /* 11 */
             "  - name: " H_MODEL "\n"                   /* 12 */
             "    provider: mock\n"                      /* 13 */
             "    model: should-never-be-used\n",        /* 14 */
             H.gw_port, H.mock_port);
    h_gw_config_raw(bad);
    h_gw_signal(SIGHUP);

    cr_assert(h_stderr_wait("conduit.yaml:10", 5000),
              "stderr does not name the file and line of the error");
    cr_assert(h_stderr_wait("base_url", 1000), "stderr does not name the key");
    cr_assert(h_gw_alive(), "conduit died on an invalid reload");

    cr_assert_eq(chat_status(H_MODEL), 200);
    assert_forwarded_model(H_UPSTREAM_MODEL);
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "GET", "/readyz", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "/readyz %d after a refused reload", r.status);
    h_resp_free(&r);
    h_finish();
}

Test(stream_lifecycle, slow_client_backpressures_the_upstream_and_memory_stays_bounded)
{
    h_gw_start_with(NULL);
    /* Warm up, so pools touched by any request are in the baseline. */
    cr_assert_eq(chat_status(H_MODEL), 200);
    long rss0 = h_gw_rss_kb();
    cr_assert(rss0 > 0);
    struct h_mock_stats before, st;
    h_mock_stats(&before);

    /*
     * A million chunks without delay is over 200 MB of SSE: far more than
     * every socket buffer on the path can hold, so unless conduit buffers it
     * the mock cannot finish while we do not read.
     */
    struct h_conn c;
    struct h_stream s;
    start_stream(&c, &s, H_MODEL, 1000000, 0, 1);
    h_sleep_ms(3000);
    h_mock_stats(&st);
    long rss1 = h_gw_rss_kb();
    cr_assert_eq(st.streams_completed, before.streams_completed,
                 "the upstream finished a 200 MB stream the client never read");
    cr_assert_eq(st.streams_active, before.streams_active + 1);
    cr_assert(rss1 - rss0 < 64 * 1024, "conduit grew by %ld KiB behind one slow client",
              rss1 - rss0);

    /* Reading again resumes the flow: more events arrive, in order. */
    for (int i = 0; i < 2000; i++)
        cr_assert_eq(h_stream_next(&c, &s, H_IO_TIMEOUT_MS), 1, "event %zu", s.nevs);
    size_t n;
    free(h_stream_text(&s, &n));
    cr_assert_eq(n, 2000);
    h_conn_close(&c);
    h_stream_free(&s);

    /* Leaving then cancels the upstream stream. */
    double deadline = h_now_ms() + 5000;
    for (;;) {
        h_mock_stats(&st);
        if (st.streams_aborted >= before.streams_aborted + 1)
            break;
        cr_assert(h_now_ms() < deadline, "the upstream stream was not cancelled");
        h_sleep_ms(50);
    }
    h_finish();
}

Test(stream_lifecycle, config_file_replaced_by_rename_is_picked_up_without_a_signal)
{
    h_gw_start_with(NULL);
    cr_assert_eq(chat_status("late-model"), 404);
    /* Editors and Kubernetes ConfigMaps replace the file (a new inode), as h_gw_config does. */
    struct h_gw_opts v2 = {.extra_model_items = "  - name: late-model\n"
                                                "    provider: mock\n"
                                                "    model: late-upstream\n"};
    h_gw_config(&v2);
    double deadline = h_now_ms() + 5000;
    while (chat_status("late-model") != 200) {
        cr_assert(h_now_ms() < deadline, "the rewritten file was not loaded within 5 s");
        h_sleep_ms(100);
    }
    assert_forwarded_model("late-upstream");
    cr_assert_eq(chat_status(H_MODEL), 200);
    h_finish();
}

/*
 * A translated stream (Anthropic's events turned into OpenAI chunks) whose
 * upstream closes mid-way ends like an OpenAI stream that failed: the chunks
 * that came, an error chunk, [DONE] and the last chunk of the body; never a
 * cut connection the client has to interpret. The access log keeps the failure.
 */
Test(stream_lifecycle, translated_stream_cut_upstream_ends_with_an_error_chunk_and_done)
{
    char providers[256];
    snprintf(providers, sizeof(providers),
             "  - name: anth\n    type: anthropic\n    base_url: \"http://127.0.0.1:%d\"\n",
             H.mock_port);
    struct h_gw_opts o = {.provider_items = providers,
                          .extra_model_items = "  - name: claude\n    provider: anth\n"
                                               "    model: claude-sonnet-4-5\n"};
    h_gw_start_with(&o);

    char *body =
        h_chat_body("claude", true, "\"mock\":{\"chunks\":6,\"fault\":\"close_mid_stream\"}");
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions",
                                H_AUTH "x-request-id: cut-translated-1\r\n", body),
                 0);
    free(body);
    cr_assert_eq(s.head.status, 200, "status %d: %s", s.head.status, s.head.body);
    int rc = h_stream_read_all(&c, &s, 10000);
    cr_assert_eq(rc, 0, "stream read: %s after %zu events", strerror(-rc), s.nevs);
    cr_assert(s.complete, "the body did not end with its last chunk");
    size_t n;
    char *text = h_stream_text(&s, &n);
    cr_assert_str_eq(text, "tok0 tok1 tok2 ", "the chunks before the cut: %s", text);
    free(text);
    cr_assert(s.nevs >= 2);
    cr_assert_str_eq(s.evs[s.nevs - 1].data, "[DONE]", "[DONE] is not the last event");
    const char *err = s.evs[s.nevs - 2].data;
    char v[256];
    cr_assert_gt(h_json_get(err, strlen(err), "error.type", v, sizeof(v)), 0,
                 "no error chunk before [DONE]: %s", err);
    cr_assert_str_eq(v, "server_error");
    cr_assert_gt(h_json_get(err, strlen(err), "error.message", v, sizeof(v)), 0, "%s", err);
    size_t dones = 0;
    for (size_t i = 0; i < s.nevs; i++)
        dones += strcmp(s.evs[i].data, "[DONE]") == 0;
    cr_assert_eq(dones, 1, "%zu [DONE] events", dones);
    h_stream_free(&s);
    h_conn_close(&c);

    char *line = h_log_find("cut-translated-1", 5000);
    cr_assert(line, "no access log line for the cut stream");
    cr_assert(strstr(line, "\"error\":\"upstream closed the connection early\""), "%s", line);
    free(line);

    /* The next request to the same provider is served. */
    body = h_chat_body("claude", false, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    h_resp_free(&r);
    free(body);
    h_finish();
}
