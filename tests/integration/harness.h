/*
 * tests/integration/harness.h — what the integration suites share: starting
 * the real `conduit` binary and the mock provider on loopback ports, writing
 * conduit's config, a small blocking HTTP/1.1 client with deadlines, an SSE
 * reader that timestamps each event, access-log access and a JSON field getter.
 *
 * One test is one process (Criterion forks per test), so the harness keeps its
 * state in one global, `H`. A suite calls h_setup() from its .init and
 * h_teardown() from its .fini, and every test ends with h_finish(), which
 * checks that conduit and the mock stop cleanly. Teardown stops and reaps
 * every process the test started, and every child also dies with the test
 * process (PR_SET_PDEATHSIG), so a crashed or timed-out test leaves nothing
 * behind.
 *
 * Functions that return int follow the project's rule: 0 or positive on
 * success, -errno on failure (-ETIMEDOUT when a deadline passes, -EPROTO on a
 * response we cannot parse). Memory the client hands back is malloc'd and
 * freed with the matching _free function.
 */
#ifndef GW_TESTS_INTEGRATION_HARNESS_H
#define GW_TESTS_INTEGRATION_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/http1.h"

/* Deadlines the suites share; generous, because CI machines are slow and shared. */
#define H_READY_TIMEOUT_MS 10000
#define H_IO_TIMEOUT_MS 15000

/* The key the default config gives clients, and the one it gives the provider. */
#define H_CLIENT_KEY "sk-test"
#define H_OTHER_CLIENT_KEY "sk-other"
#define H_PROVIDER_KEY "upstream-key"
/* Default model names: client-facing -> upstream. */
#define H_MODEL "gpt-4o-mini"
#define H_UPSTREAM_MODEL "mock-upstream-model"
#define H_EMBED_MODEL "text-embedding-3-small"
#define H_UPSTREAM_EMBED_MODEL "mock-embed-model"

struct h_ctx {
    char dir[PATH_MAX];      /* temporary directory of this test, removed by teardown */
    char cfg_path[PATH_MAX]; /* conduit's config file (dir/conduit.yaml) */
    char out_path[PATH_MAX]; /* conduit's stdout: the JSON access log */
    char err_path[PATH_MAX]; /* conduit's stderr */
    pid_t mock_pid;          /* 0 when not running */
    int mock_port;           /* plain HTTP port of the mock */
    int mock_tls_port;       /* TLS port of the mock, 0 if none */
    pid_t gw_pid;            /* 0 when not running or already reaped */
    int gw_port;             /* conduit's listen port (chosen by h_setup) */
    int gw_exit_status;      /* waitpid status, valid after h_gw_wait_exit returned 0 */
};

extern struct h_ctx H;

/* ---- processes ---- */

/* Creates the temporary directory and picks conduit's port. Call from .init. */
void h_setup(void);
/*
 * Stops (SIGTERM, then SIGKILL after 5 s) and reaps everything; removes the
 * dir with everything under it (kept when GW_INT_KEEP is set). Fails the
 * test when conduit or the mock left a sanitizer report on stderr (ASan,
 * LSan, UBSan builds), so memory errors on any path surface.
 */
void h_teardown(void);

/* Returns a loopback TCP port nobody listens on right now (bind to :0, read, close). */
int h_free_port(void);

/*
 * Forks and execs argv[0] with stdin from /dev/null and stdout and stderr
 * appended to out_path and err_path (created 0600; the same path for both is
 * fine), SIGPIPE, SIGTERM, SIGHUP and SIGINT at their defaults and no signal
 * blocked. The child dies with the test process. Returns its pid; the caller
 * reaps it.
 */
pid_t h_spawn(char *const argv[], const char *out_path, const char *err_path);

/*
 * Set (to anything but "" or "0") in the environment, the suites run against
 * a TLS upstream: h_mock_start also listens for TLS (as if opts.tls), and
 * h_gw_config points the default provider "mock" at the mock's TLS port with
 * the test CA (tests/data/tls/ca.pem) unless the test sets mock_base_url
 * itself. CMakeLists.txt registers some suites a second time with it set
 * (ctest: integration/tls_upstream/<name>); a test about plain HTTP itself
 * skips (cr_skip) when h_upstream_tls() is true.
 */
#define H_UPSTREAM_TLS_ENV "GW_TEST_UPSTREAM_TLS"
bool h_upstream_tls(void);

struct h_mock_opts {
    bool tls;            /* also listen for TLS with tests/data/tls/server.{pem,key} */
    const char *api_key; /* passed as --api-key when not NULL */
    /* both or neither: --aws-access-key-id/--aws-secret-access-key (bedrock's SigV4 check) */
    const char *aws_key_id;
    const char *aws_secret;
};
/*
 * Starts the mock and waits (10 s) for its "conduit-mock listening" line.
 * Fails the test (cr_assert) when it does not come up.
 */
void h_mock_start(const struct h_mock_opts *o);

/*
 * What the default config holds, and the knobs tests turn. Every *_lines
 * string is inserted verbatim: whole lines, newline-terminated, already
 * indented for where they go (see harness.c, h_gw_config).
 */
struct h_gw_opts {
    const char *server_lines;      /* extra keys under server: ("  max_body_bytes: 1KiB\n") */
    const char *mock_base_url;     /* base_url of provider "mock"; default the mock's http port
                                    * (its TLS port when h_upstream_tls()) */
    const char *mock_lines;        /* extra keys of provider "mock" ("    read_timeout: 1s\n") */
    const char *provider_items;    /* more entries under providers: ("  - name: x\n    ...") */
    const char *model_items;       /* replaces the default models: entries when not NULL */
    const char *extra_model_items; /* appended to the models: entries */
    const char *key_items;         /* replaces the default keys: entries when not NULL */
    int workers;                   /* server.workers; 0: 2 */
    bool no_mock_provider;         /* leave provider "mock" out (provider_items and
                                    * model_items then say everything) */
};
/* Writes the config file (atomically: tmp file + rename). */
void h_gw_config(const struct h_gw_opts *o);
/* Replaces the config file with arbitrary text, atomically. */
void h_gw_config_raw(const char *text);
/* Starts `conduit -c cfg` with stdout/stderr to files and waits until /readyz is 200. */
void h_gw_start(void);
/*
 * The last call of every test: stops conduit with SIGTERM and asserts a clean
 * exit (status 0 within 15 s), stops the mock likewise, and asserts that
 * neither wrote a sanitizer report (ASan, LSan, UBSan builds) to stderr.
 * Criterion ignores failures in .fini, so this has to run in the test body.
 */
void h_finish(void);
/* h_gw_config(o) then h_gw_start(); o may be NULL for the defaults. */
void h_gw_start_with(const struct h_gw_opts *o);
/* Sends a signal to conduit. */
void h_gw_signal(int sig);
/* Waits until conduit exits; 0 with H.gw_exit_status set, or -ETIMEDOUT. */
int h_gw_wait_exit(int timeout_ms);
/* True while conduit has not exited (reaps it when it has). */
bool h_gw_alive(void);

/* Conduit's resident set size in KiB (VmRSS), or -1. */
long h_gw_rss_kb(void);

/* Whole contents of a file, NUL-terminated, malloc'd; NULL if unreadable. */
char *h_read_file(const char *path, size_t *len);
/*
 * Waits until a line of conduit's stdout (the access log) contains needle
 * and returns a malloc'd copy of that line, or NULL after timeout_ms.
 */
char *h_log_find(const char *needle, int timeout_ms);
/* Waits until conduit's stderr contains needle. */
bool h_stderr_wait(const char *needle, int timeout_ms);

/* ---- time ---- */

/* Monotonic clock in milliseconds. */
double h_now_ms(void);
void h_sleep_ms(int ms);
/* Milliseconds left until deadline (an h_now_ms() time), rounded up; 0 once past. */
int h_ms_left(double deadline);
/*
 * Waits (poll) until fd is readable or deadline passes, then receives at most
 * cap bytes into dst. Returns >0 bytes, 0 at EOF or a reset (the peer closing,
 * only less politely), -ETIMEDOUT, or another -errno.
 */
long h_recv_before(int fd, void *dst, size_t cap, double deadline);

/* ---- HTTP/1.1 client ---- */

struct h_conn {
    int fd;
    char *buf; /* owns: bytes received and not yet consumed */
    size_t len;
    size_t cap;
    bool eof; /* the peer closed (FIN or RST) */
};

struct h_header {
    char *name;  /* owns, as received */
    char *value; /* owns */
};

struct h_resp {
    int status;
    struct h_header *headers; /* owns */
    size_t nheaders;
    char *body; /* owns; NUL-terminated (the NUL is not counted in body_len) */
    size_t body_len;
    bool keepalive; /* the response leaves the connection open (version + Connection) */
};

/* Connects to 127.0.0.1:port. Returns 0 or -errno. */
int h_conn_open(struct h_conn *c, int port);
void h_conn_close(struct h_conn *c);
/* Sends all n bytes within the I/O timeout. Returns 0 or -errno. */
int h_conn_send(struct h_conn *c, const void *p, size_t n);
int h_conn_send_str(struct h_conn *c, const char *s);
/*
 * Sends one request. extra_headers is "Name: value\r\n"... or NULL. With a
 * body, Content-Length and Content-Type: application/json are added.
 */
int h_send_request(struct h_conn *c, const char *method, const char *path,
                   const char *extra_headers, const char *body);
/*
 * Reads one response (skipping 1xx): head, then the body by Content-Length,
 * chunked coding or to EOF. Returns 0, -ETIMEDOUT, -ECONNRESET when the peer
 * closed before a whole response, or -EPROTO when it does not parse.
 */
int h_read_response(struct h_conn *c, struct h_resp *r, int timeout_ms);
void h_resp_free(struct h_resp *r);
/* Value of the first header with that name (case-insensitive), or NULL. */
const char *h_resp_header(const struct h_resp *r, const char *name);
/*
 * Waits for the peer to close: true when EOF or a reset arrives within
 * timeout_ms. Bytes that arrive meanwhile are kept in the buffer.
 */
bool h_conn_wait_closed(struct h_conn *c, int timeout_ms);

/* One request on a fresh connection, closed afterwards. Returns as h_read_response. */
int h_do(int port, const char *method, const char *path, const char *extra_headers,
         const char *body, struct h_resp *r);
/* POST /v1/chat/completions to conduit with the default client key. */
int h_chat(const char *body, const char *extra_headers, struct h_resp *r);
/* POST /v1/chat/completions straight to the mock, with the provider's key. */
int h_mock_chat(const char *body, struct h_resp *r);

/* Header lines for conduit's default client key and for the mock's key. */
#define H_AUTH "Authorization: Bearer " H_CLIENT_KEY "\r\n"
#define H_MOCK_AUTH "Authorization: Bearer " H_PROVIDER_KEY "\r\n"

/*
 * A chat request body (malloc'd): {"model":model,"messages":[...],"stream":..}
 * followed by `extra` members when not NULL (raw JSON: "\"mock\":{\"chunks\":5}").
 */
char *h_chat_body(const char *model, bool stream, const char *extra);

/* ---- SSE ---- */

struct h_sse_ev {
    char *data;  /* owns: the event's data lines joined with "\n" */
    double t_ms; /* h_now_ms() when the event was complete in our buffer */
};

struct h_stream {
    struct h_resp head; /* status and headers; head.body collects the decoded body */
    struct h_sse_ev *evs;
    size_t nevs;
    size_t cap;
    bool saw_done; /* a "data: [DONE]" event arrived */
    bool complete; /* the body ended properly (last chunk, or all Content-Length bytes) */
    /* private */
    int _mode;
    uint64_t _remaining;
    struct gw_chunked _dec;
    size_t _sse_off; /* offset in head.body of the first byte not yet framed */
    size_t _body_cap;
};

/* Reads the response head of a stream. Returns as h_read_response. */
int h_stream_open(struct h_conn *c, struct h_stream *s, int timeout_ms);
/*
 * Reads until one more event is complete. Returns 1 (appended to s->evs),
 * 0 at the end of the body, or -errno (-ECONNRESET when the peer closed early).
 */
int h_stream_next(struct h_conn *c, struct h_stream *s, int timeout_ms);
/* Reads every event up to the end of the body. Returns 0 or as h_stream_next. */
int h_stream_read_all(struct h_conn *c, struct h_stream *s, int timeout_ms);
void h_stream_free(struct h_stream *s);
/*
 * Opens a connection to port, POSTs body to path and reads the response head.
 * Returns as h_read_response; on failure the connection is closed.
 */
int h_stream_start(struct h_conn *c, struct h_stream *s, int port, const char *path,
                   const char *extra_headers, const char *body);
/*
 * Joins choices[0].delta.content of every event, in order (malloc'd); *count
 * gets the number of events that carried non-empty content.
 */
char *h_stream_text(const struct h_stream *s, size_t *count);
/* True for OpenAI's usage chunk: an event whose "choices" is an empty array. */
bool h_event_is_usage(const char *data);

/* ---- JSON ---- */

/*
 * Finds the value at a dotted path in a JSON document: "error.code",
 * "choices.0.delta.content" (a number indexes an array). Strings are
 * unescaped into out; other values (numbers, literals, containers) are copied
 * as raw text. Returns the length, or -1 when not found, invalid or too long.
 */
long h_json_get(const char *doc, size_t len, const char *path, char *out, size_t cap);
/* Same, malloc'd; NULL when not found. */
char *h_json_dup(const char *doc, size_t len, const char *path);
/* Integer value at path; false when absent or not an integer. */
/* The value at path in the NUL-terminated document doc must be want (as h_json_get gives it). */
void h_json_expect(const char *doc, const char *path, const char *want);
bool h_json_int(const char *doc, size_t len, const char *path, long long *v);
/* True when the value at path is the literal `true`. */
bool h_json_true(const char *doc, size_t len, const char *path);
/* Number of elements of the array at path, or -1. */
long h_json_array_len(const char *doc, size_t len, const char *path);

/*
 * Asserts that r has the given status and carries the OpenAI error object
 * {"error":{"message","type","param","code"}} with a non-empty message; when
 * code is not NULL, error.code must equal it.
 */
void h_assert_error(const struct h_resp *r, int status, const char *code);
/*
 * A chat request for model (h_chat_body(model, stream, extra)) that must be
 * answered with the error `status`/`code` (code NULL: any). *out, when not
 * NULL, keeps the answer (the caller frees it).
 */
void h_expect_chat_error(const char *model, bool stream, const char *extra, int status,
                         const char *code, struct h_resp *out);

/* ---- the mock's introspection ---- */

struct h_mock_stats {
    long long connections_open;
    long long connections_total;
    long long requests;
    long long streams_active;
    long long streams_completed;
    long long streams_aborted;
};
/* GET /mock/stats on the mock's http port. Fails the test when unreadable. */
void h_mock_stats(struct h_mock_stats *st);
/* GET /mock/last: the raw JSON body (malloc'd), or NULL. */
char *h_mock_last(void);
/* One field of /mock/last by dotted path ("headers.api-key") into out; "" when absent. */
void h_mock_last_get(const char *path, char *out, size_t cap);
/* The body of the mock's last request, unescaped (malloc'd); the test fails without one. */
char *h_mock_last_body(void);
/* h_mock_last_get(path) must equal want (the empty string: absent). */
void h_mock_last_expect(const char *path, const char *want);

#endif
