/*
 * tests/unit/net/test_tls.c — net/tls.c: PEM loading of anchors and
 * credentials, error texts, and real handshakes between gw_tls_client and
 * gw_tls_server over a socketpair (server on a second thread, both driven by
 * the blocking helpers), with the test PKI from tools/gen-test-certs.sh.
 *
 * Criterion's assertions abort through the test's main thread, so the server
 * thread only records what happened; the test asserts after joining it.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <bearssl.h>
#include <criterion/criterion.h>

#include "core/common.h"
#include "net/tls.h"

#define TLS_DATA GW_SOURCE_DIR "/tests/data/tls/"
#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define BULK_LEN (256 * 1024)

/* ---------------------------------------------------------------------------------------------
 * Fixtures.
 */
static struct gw_tls_anchors *load_anchors(const char *path)
{
    char err[512] = "";
    struct gw_tls_anchors *a = gw_tls_anchors_load(path, err, sizeof err);
    cr_assert_not_null(a, "loading %s: %s", path, err);
    return a;
}

static struct gw_tls_creds *load_creds(const char *stem)
{
    char cert[512], key[512], err[512] = "";
    snprintf(cert, sizeof cert, TLS_DATA "%s.pem", stem);
    snprintf(key, sizeof key, TLS_DATA "%s.key", stem);
    struct gw_tls_creds *c = gw_tls_creds_load(cert, key, err, sizeof err);
    cr_assert_not_null(c, "loading %s: %s", stem, err);
    return c;
}

/* Writes `text` to a fresh temporary file and returns its path (static storage). */
static const char *temp_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/gw-test-tls-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void socket_pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* A broken handshake must fail the test, not hang it. */
    struct timeval tv = {.tv_sec = 10};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(setsockopt(sv[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
        cr_assert_eq(setsockopt(sv[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    }
}

/*
 * The server side of one connection: reads the client's request (`want`
 * bytes), answers with the same bytes, then waits for the client's
 * close_notify. Everything it sees is recorded for the test to assert on.
 */
struct server_run {
    int fd;
    const struct gw_tls_creds *creds;
    struct gw_tls_session_cache *cache; /* borrows; NULL: no resumption */
    size_t want;
    /* results */
    int start_rc;
    long first_read; /* first gw_tls_blocking_read result */
    size_t got;      /* request bytes received */
    long echo_rc;    /* gw_tls_blocking_write result */
    long last_read;  /* result of the read that saw the close */
    int err;         /* engine error at the end */
    char sni[256];   /* the server name the client sent (SNI), "" when none */
    br_ssl_session_parameters session;
    unsigned char *buf; /* owns, `want` bytes */
};

static void *server_main(void *arg)
{
    struct server_run *r = arg;
    struct gw_tls_server *s = malloc(sizeof *s);
    if (s == NULL)
        return NULL;
    br_ssl_engine_context *eng = gw_tls_server_engine(s);
    r->start_rc = gw_tls_server_start_cached(s, r->creds, r->cache);
    if (r->start_rc != 0)
        goto out;
    r->first_read = 0;
    while (r->got < r->want) {
        long n = gw_tls_blocking_read(eng, r->fd, r->buf + r->got, r->want - r->got);
        if (r->got == 0)
            r->first_read = n;
        if (n <= 0)
            goto out;
        r->got += (size_t)n;
    }
    r->echo_rc = gw_tls_blocking_write(eng, r->fd, r->buf, r->got);
    if (r->echo_rc <= 0)
        goto out;
    unsigned char extra[16];
    r->last_read = gw_tls_blocking_read(eng, r->fd, extra, sizeof extra);
out:
    r->err = br_ssl_engine_last_error(eng);
    snprintf(r->sni, sizeof r->sni, "%s", br_ssl_engine_get_server_name(eng));
    br_ssl_engine_get_session_parameters(eng, &r->session);
    free(s);
    return NULL;
}

/* The client side, run on the test thread. */
struct client_run {
    const struct gw_tls_anchors *anchors;
    const char *server_name;
    const br_ssl_session_parameters *resume;
    size_t len; /* bytes to send and expect back */
    /* results */
    int start_rc;
    long write_rc;
    size_t got;
    bool echo_ok;
    bool have_session;
    br_ssl_session_parameters session;
    int close_rc;
    int err;
    unsigned version;
};

/*
 * Runs one connection: server thread with `creds`/`cache`, client here.
 * Fills both result records.
 */
static void run_connection(struct client_run *cr, struct server_run *sr,
                           const struct gw_tls_creds *creds, struct gw_tls_session_cache *cache)
{
    int sv[2];
    socket_pair(sv);

    unsigned char *msg = malloc(cr->len);
    unsigned char *back = malloc(cr->len);
    cr_assert(msg != NULL && back != NULL);
    for (size_t i = 0; i < cr->len; i++)
        msg[i] = (unsigned char)(i * 131 + 7);

    memset(sr, 0, sizeof *sr);
    sr->fd = sv[1];
    sr->creds = creds;
    sr->cache = cache;
    sr->want = cr->len;
    sr->buf = malloc(cr->len);
    cr_assert_not_null(sr->buf);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, server_main, sr), 0);

    struct gw_tls_client *c = malloc(sizeof *c);
    cr_assert_not_null(c);
    br_ssl_engine_context *eng = gw_tls_client_engine(c);
    cr->start_rc = gw_tls_client_start(c, cr->anchors, cr->server_name, cr->resume);
    cr->got = 0;
    cr->echo_ok = false;
    cr->have_session = false;
    cr->close_rc = -2;
    cr->write_rc = cr->start_rc == 0 ? gw_tls_blocking_write(eng, sv[0], msg, cr->len) : -1;
    if (cr->write_rc == (long)cr->len) {
        while (cr->got < cr->len) {
            long n = gw_tls_blocking_read(eng, sv[0], back + cr->got, cr->len - cr->got);
            if (n <= 0)
                break;
            cr->got += (size_t)n;
        }
        cr->echo_ok = cr->got == cr->len && memcmp(msg, back, cr->len) == 0;
        cr->have_session = gw_tls_client_session(c, &cr->session);
        cr->close_rc = gw_tls_blocking_close(eng, sv[0]);
    }
    cr->err = br_ssl_engine_last_error(eng);
    cr->version = br_ssl_engine_get_version(eng);
    /* A failed client leaves the server blocked in recv: EOF releases it. */
    shutdown(sv[0], SHUT_RDWR);

    cr_assert_eq(pthread_join(th, NULL), 0);
    close(sv[0]);
    close(sv[1]);
    free(c);
    free(sr->buf);
    sr->buf = NULL;
    free(back);
    free(msg);
}

/* ---------------------------------------------------------------------------------------------
 * Trust anchors.
 */
Test(tls, anchors_load_the_test_ca_as_one_ca_anchor)
{
    struct gw_tls_anchors *a = load_anchors(TLS_DATA "ca.pem");
    cr_assert_eq(a->n, 1);
    cr_assert(a->ta[0].flags & BR_X509_TA_CA);
    cr_assert_eq(a->ta[0].pkey.key_type, BR_KEYTYPE_EC);
    cr_assert_eq(a->ta[0].pkey.key.ec.curve, BR_EC_secp256r1);
    cr_assert_eq(a->ta[0].pkey.key.ec.qlen, 65);
    cr_assert_gt(a->ta[0].dn.len, 10);
    gw_tls_anchors_free(a);
}

Test(tls, anchors_load_an_rsa_ca)
{
    struct gw_tls_anchors *a = load_anchors(TLS_DATA "other-ca.pem");
    cr_assert_eq(a->n, 1);
    cr_assert_eq(a->ta[0].pkey.key_type, BR_KEYTYPE_RSA);
    cr_assert_eq(a->ta[0].pkey.key.rsa.nlen, 256);
    cr_assert_eq(a->ta[0].pkey.key.rsa.elen, 3);
    gw_tls_anchors_free(a);
}

Test(tls, anchors_from_a_leaf_are_not_flagged_ca)
{
    struct gw_tls_anchors *a = load_anchors(TLS_DATA "server.pem");
    cr_assert_eq(a->n, 1);
    cr_assert_eq(a->ta[0].flags & BR_X509_TA_CA, 0);
    gw_tls_anchors_free(a);
}

Test(tls, anchors_load_the_system_bundle)
{
    if (access(SYSTEM_BUNDLE, R_OK) != 0)
        cr_skip_test("no readable system CA bundle at " SYSTEM_BUNDLE);
    struct gw_tls_anchors *a = load_anchors(SYSTEM_BUNDLE);
    cr_assert_gt(a->n, 50, "only %zu anchors", a->n);
    size_t ca = 0;
    for (size_t i = 0; i < a->n; i++)
        ca += (a->ta[i].flags & BR_X509_TA_CA) != 0;
    /* Old v1 roots carry no basicConstraints; a bundle is still mostly CAs. */
    cr_assert_gt(ca, 50, "only %zu of %zu anchors flagged CA", ca, a->n);
    gw_tls_anchors_free(a);
}

Test(tls, anchors_missing_file_names_the_path)
{
    char err[512] = "";
    const char *path = "/nonexistent/gw-test/ca.pem";
    cr_assert_null(gw_tls_anchors_load(path, err, sizeof err));
    cr_assert_not_null(strstr(err, path), "message: %s", err);
    cr_assert_not_null(strstr(err, "No such file"), "message: %s", err);
}

Test(tls, anchors_non_pem_file_names_the_path)
{
    char err[512] = "";
    const char *path = TLS_DATA "README.md";
    cr_assert_null(gw_tls_anchors_load(path, err, sizeof err));
    cr_assert_not_null(strstr(err, path), "message: %s", err);
    cr_assert_not_null(strstr(err, "no PEM CERTIFICATE"), "message: %s", err);
}

Test(tls, anchors_truncated_pem_is_refused)
{
    char err[512] = "";
    const char *path = temp_file("-----BEGIN CERTIFICATE-----\nMIIB8jCCAZegAwIBAgIQ\n");
    cr_assert_null(gw_tls_anchors_load(path, err, sizeof err));
    cr_assert_not_null(strstr(err, path), "message: %s", err);
    cr_assert_not_null(strstr(err, "truncated"), "message: %s", err);
    unlink(path);
}

Test(tls, anchors_bad_base64_is_refused)
{
    char err[512] = "";
    const char *path = temp_file("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    cr_assert_null(gw_tls_anchors_load(path, err, sizeof err));
    cr_assert_not_null(strstr(err, path), "message: %s", err);
    unlink(path);
}

Test(tls, anchors_undecodable_certificate_is_skipped)
{
    /* Valid base64, not a certificate: skipped, and with nothing else left, refused. */
    char err[512] = "";
    const char *path =
        temp_file("-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n");
    cr_assert_null(gw_tls_anchors_load(path, err, sizeof err));
    cr_assert_not_null(strstr(err, "none of its 1 certificates"), "message: %s", err);
    unlink(path);
}

Test(tls, anchors_last_line_without_newline)
{
    /* The bundle's last END line may lack its newline. */
    FILE *f = fopen(TLS_DATA "ca.pem", "r");
    cr_assert_not_null(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    while (n > 0 && text[n - 1] == '\n')
        n--;
    text[n] = '\0';
    const char *path = temp_file(text);
    struct gw_tls_anchors *a = load_anchors(path);
    cr_assert_eq(a->n, 1);
    gw_tls_anchors_free(a);
    unlink(path);
}

Test(tls, anchors_free_accepts_null)
{
    gw_tls_anchors_free(NULL);
    gw_tls_creds_free(NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Server credentials.
 */
Test(tls, creds_load_ec_leaf_with_pkcs8_key)
{
    struct gw_tls_creds *c = load_creds("server");
    cr_assert_eq(c->chain_len, 1);
    cr_assert_gt(c->chain[0].data_len, 100);
    cr_assert_eq(c->key_type, BR_KEYTYPE_EC);
    cr_assert_eq(c->ec.curve, BR_EC_secp256r1);
    cr_assert_eq(c->ec.xlen, 32);
    cr_assert_eq(c->issuer_key_type, BR_KEYTYPE_EC);
    gw_tls_creds_free(c);
}

Test(tls, creds_load_ec_leaf_with_sec1_key)
{
    struct gw_tls_creds *c = load_creds("wrong-host");
    cr_assert_eq(c->key_type, BR_KEYTYPE_EC);
    gw_tls_creds_free(c);
}

Test(tls, creds_load_rsa_leaf_with_pkcs1_key)
{
    struct gw_tls_creds *c = load_creds("server-rsa");
    cr_assert_eq(c->chain_len, 1);
    cr_assert_eq(c->key_type, BR_KEYTYPE_RSA);
    cr_assert_eq(c->rsa.n_bitlen, 2048);
    cr_assert_eq(c->issuer_key_type, BR_KEYTYPE_EC);
    gw_tls_creds_free(c);
}

Test(tls, creds_chain_keeps_every_certificate_in_order)
{
    /* A leaf followed by its CA, as a server would send it. */
    char text[8192] = "";
    size_t len = 0;
    const char *files[] = {TLS_DATA "server.pem", TLS_DATA "ca.pem"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(files); i++) {
        FILE *f = fopen(files[i], "r");
        cr_assert_not_null(f);
        len += fread(text + len, 1, sizeof text - 1 - len, f);
        fclose(f);
    }
    text[len] = '\0';
    const char *path = temp_file(text);
    char err[512] = "";
    struct gw_tls_creds *c = gw_tls_creds_load(path, TLS_DATA "server.key", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->chain_len, 2);
    struct gw_tls_creds *leaf = load_creds("server");
    cr_assert_eq(c->chain[0].data_len, leaf->chain[0].data_len);
    cr_assert_eq(memcmp(c->chain[0].data, leaf->chain[0].data, c->chain[0].data_len), 0);
    gw_tls_creds_free(leaf);
    gw_tls_creds_free(c);
    unlink(path);
}

Test(tls, creds_key_that_does_not_match_the_leaf_is_refused)
{
    char err[512] = "";
    const char *cert = TLS_DATA "server.pem";
    cr_assert_null(gw_tls_creds_load(cert, TLS_DATA "wrong-host.key", err, sizeof err));
    cr_assert_not_null(strstr(err, cert), "message: %s", err);
    cr_assert_not_null(strstr(err, "does not match"), "message: %s", err);

    cr_assert_null(
        gw_tls_creds_load(TLS_DATA "server.pem", TLS_DATA "server-rsa.key", err, sizeof err));
    cr_assert_not_null(strstr(err, "does not match"), "message: %s", err);
}

Test(tls, creds_key_file_without_key_is_refused)
{
    char err[512] = "";
    const char *key = TLS_DATA "ca.pem";
    cr_assert_null(gw_tls_creds_load(TLS_DATA "server.pem", key, err, sizeof err));
    cr_assert_not_null(strstr(err, key), "message: %s", err);
    cr_assert_not_null(strstr(err, "no PEM"), "message: %s", err);
}

Test(tls, creds_encrypted_key_is_refused_with_a_reason)
{
    char err[512] = "";
    const char *key = temp_file("-----BEGIN ENCRYPTED PRIVATE KEY-----\naGVsbG8=\n"
                                "-----END ENCRYPTED PRIVATE KEY-----\n");
    cr_assert_null(gw_tls_creds_load(TLS_DATA "server.pem", key, err, sizeof err));
    cr_assert_not_null(strstr(err, "encrypted"), "message: %s", err);
    unlink(key);
}

Test(tls, creds_missing_files_name_the_path)
{
    char err[512] = "";
    cr_assert_null(gw_tls_creds_load("/nonexistent/c.pem", TLS_DATA "server.key", err, sizeof err));
    cr_assert_not_null(strstr(err, "/nonexistent/c.pem"), "message: %s", err);
    cr_assert_null(gw_tls_creds_load(TLS_DATA "server.pem", "/nonexistent/k.key", err, sizeof err));
    cr_assert_not_null(strstr(err, "/nonexistent/k.key"), "message: %s", err);
    cr_assert_null(
        gw_tls_creds_load(TLS_DATA "server.key", TLS_DATA "server.key", err, sizeof err));
    cr_assert_not_null(strstr(err, "no PEM CERTIFICATE"), "message: %s", err);
}

/* ---------------------------------------------------------------------------------------------
 * Error texts.
 */
Test(tls, strerror_names_the_common_failures)
{
    cr_assert_str_eq(gw_tls_strerror(BR_ERR_OK), "no error");
    cr_assert_str_eq(gw_tls_strerror(BR_ERR_X509_NOT_TRUSTED), "certificate not trusted");
    cr_assert_str_eq(gw_tls_strerror(BR_ERR_X509_BAD_SERVER_NAME), "server name mismatch");
    cr_assert_not_null(strstr(gw_tls_strerror(BR_ERR_X509_EXPIRED), "expired"));
    cr_assert_not_null(strstr(gw_tls_strerror(BR_ERR_BAD_MAC), "MAC"));
    cr_assert_str_eq(gw_tls_strerror(BR_ERR_RECV_FATAL_ALERT + 48),
                     "peer sent fatal alert: unknown CA");
    cr_assert_str_eq(gw_tls_strerror(BR_ERR_SEND_FATAL_ALERT + 40),
                     "fatal alert sent to peer: handshake failure");
    cr_assert_str_eq(gw_tls_strerror(BR_ERR_RECV_FATAL_ALERT + 255), "peer sent a fatal alert");
    cr_assert_str_eq(gw_tls_strerror(11), "unknown TLS error");
    cr_assert_str_eq(gw_tls_strerror(-1), "unknown TLS error");
    cr_assert_str_eq(gw_tls_strerror(100000), "unknown TLS error");
    for (int e = -5; e < 1024; e++)
        cr_assert_not_null(gw_tls_strerror(e));
}

/* ---------------------------------------------------------------------------------------------
 * Handshakes.
 */

/* One connection: what the client trusts and asks for, who answers, and what must come of it. */
struct handshake {
    const char *anchors; /* CA file under tests/data/tls/ the client trusts */
    const char *stem;    /* the server's leaf and key under tests/data/tls/ */
    const char *name;    /* the name the client asks for */
    size_t len;          /* bytes sent and echoed back */
    int err;             /* the client's verdict: BR_ERR_OK or a BR_ERR_X509_* code */
    const char *sni;     /* the name the server saw (SNI): "" when none went out */
};

/* Runs h's connection, `cache` on the server (NULL: none), the client offering `resume`. */
static void connect_once(const struct handshake *h, struct gw_tls_session_cache *cache,
                         const br_ssl_session_parameters *resume, struct client_run *cr,
                         struct server_run *sr)
{
    char path[512];
    snprintf(path, sizeof path, TLS_DATA "%s", h->anchors);
    struct gw_tls_anchors *a = load_anchors(path);
    struct gw_tls_creds *creds = load_creds(h->stem);
    *cr =
        (struct client_run){.anchors = a, .server_name = h->name, .resume = resume, .len = h->len};
    run_connection(cr, sr, creds, cache);
    cr->anchors = NULL;
    gw_tls_creds_free(creds);
    gw_tls_anchors_free(a);
}

/*
 * What every connection must show. Accepted: the bytes cross both ways over
 * TLS 1.2, the server sees the client's close_notify as a clean close, and the
 * client holds a session. Refused: the client fails with h->err before its
 * first write, no application byte crosses, and the server sees the handshake
 * fail.
 */
static void expect_handshake(const struct handshake *h, const struct client_run *cr,
                             const struct server_run *sr)
{
    char at[256];
    snprintf(at, sizeof at, "%s to %s trusting %s", h->name, h->stem, h->anchors);
    cr_assert_eq(cr->start_rc, 0, "%s: client start", at);
    cr_assert_eq(sr->start_rc, 0, "%s: server start", at);
    cr_expect_str_eq(sr->sni, h->sni, "%s: SNI", at);
    if (h->err != BR_ERR_OK) {
        cr_expect_eq(cr->write_rc, -1, "%s: client write", at);
        cr_expect_eq(cr->err, h->err, "%s: got %d (%s)", at, cr->err, gw_tls_strerror(cr->err));
        cr_expect_eq(sr->got, 0, "%s: no application byte crosses a refused handshake", at);
        cr_expect_lt(sr->first_read, 0, "%s: the server sees the handshake fail", at);
        cr_expect(!cr->have_session, "%s: session after a refused handshake", at);
        return;
    }
    cr_expect_eq(cr->write_rc, (long)h->len, "%s: client error: %s", at, gw_tls_strerror(cr->err));
    cr_expect_eq(sr->got, h->len, "%s: server error: %s", at, gw_tls_strerror(sr->err));
    cr_expect_eq(sr->echo_rc, (long)h->len, "%s: server echo", at);
    cr_expect(cr->echo_ok, "%s: echo", at);
    cr_expect_eq(sr->last_read, 0, "%s: server saw the client's close_notify as a clean close", at);
    cr_expect_eq(cr->close_rc, 0, "%s: client close", at);
    cr_expect_eq(cr->err, BR_ERR_OK, "%s: client error: %s", at, gw_tls_strerror(cr->err));
    cr_expect_eq(sr->err, BR_ERR_OK, "%s: server error: %s", at, gw_tls_strerror(sr->err));
    cr_expect_eq(cr->version, BR_TLS12, "%s: version", at);
    cr_expect(cr->have_session, "%s: session", at);
    cr_expect_eq(cr->session.session_id_len, 32, "%s: session ID", at);
}

/* Runs h's connection with no session cache and checks it. */
static void expect_connection(const struct handshake *h)
{
    struct client_run cr;
    struct server_run sr;
    connect_once(h, NULL, NULL, &cr, &sr);
    expect_handshake(h, &cr, &sr);
}

/* One connection, as a struct handshake lists it. */
static void expect_handshake_to(const char *anchors, const char *stem, const char *name, size_t len,
                                int err, const char *sni)
{
    const struct handshake h = {anchors, stem, name, len, err, sni};
    expect_connection(&h);
}

#define ACCEPTED BR_ERR_OK
#define BAD_NAME BR_ERR_X509_BAD_SERVER_NAME
#define UNTRUSTED BR_ERR_X509_NOT_TRUSTED

Test(tls, handshake_and_echo_over_ec_certificate, .timeout = 30)
{
    /* A DNS name goes out as SNI. */
    expect_handshake_to("ca.pem", "server", "localhost", 17, ACCEPTED, "localhost");
}

Test(tls, handshake_and_echo_over_rsa_certificate, .timeout = 30)
{
    expect_handshake_to("ca.pem", "server-rsa", "localhost", 5, ACCEPTED, "localhost");
}

Test(tls, bulk_data_crosses_many_records_both_ways, .timeout = 60)
{
    expect_handshake_to("ca.pem", "server", "localhost", BULK_LEN, ACCEPTED, "localhost");
}

Test(tls, client_refuses_a_server_from_another_ca, .timeout = 30)
{
    expect_handshake_to("other-ca.pem", "server", "localhost", 4, UNTRUSTED, "localhost");
}

Test(tls, client_refuses_a_certificate_for_another_name, .timeout = 30)
{
    expect_handshake_to("ca.pem", "wrong-host", "localhost", 4, BAD_NAME, "localhost");
}

Test(tls, client_accepts_the_right_name_on_the_same_certificate, .timeout = 30)
{
    expect_handshake_to("ca.pem", "wrong-host", "not-localhost.example", 4, ACCEPTED,
                        "not-localhost.example");
}

/*
 * IP-literal upstreams (https://10.0.0.5:8443, https://[::1]:8443): the name
 * is checked against the leaf's iPAddress subjectAltNames, which BearSSL's
 * minimal engine does not read, and no SNI goes out (RFC 6066 §3).
 */
enum ip_check { IP_SAN_MATCHES, IP_NOT_IN_SAN, IP_NOT_A_DNS_NAME };

static const struct {
    enum ip_check check; /* the test that runs it */
    struct handshake h;
} ip_cases[] = {
    /* IP_SAN_MATCHES: any spelling of the address, with no IP address in SNI */
    {IP_SAN_MATCHES, {"ca.pem", "ip-only", "127.0.0.1", 6, ACCEPTED, ""}}, /* vs IP:127.0.0.1 */
    {IP_SAN_MATCHES, {"ca.pem", "ip-only", "::1", 6, ACCEPTED, ""}},       /* vs IP:::1 */
    {IP_SAN_MATCHES, {"ca.pem", "ip-only", "0:0:0:0:0:0:0:1", 6, ACCEPTED, ""}},
    {IP_SAN_MATCHES, {"ca.pem", "ip-only", "[::1]", 6, ACCEPTED, ""}}, /* bracketed as in a URL */
    /* The usual test leaf: DNS:localhost plus IP:127.0.0.1, with RSA as well as EC. */
    {IP_SAN_MATCHES, {"ca.pem", "server", "127.0.0.1", 6, ACCEPTED, ""}},
    {IP_SAN_MATCHES, {"ca.pem", "server-rsa", "127.0.0.1", 6, ACCEPTED, ""}},

    {IP_NOT_IN_SAN, {"ca.pem", "ip-only", "10.0.0.5", 6, BAD_NAME, ""}},
    {IP_NOT_IN_SAN, {"ca.pem", "ip-only", "127.0.0.2", 6, BAD_NAME, ""}},
    {IP_NOT_IN_SAN, {"ca.pem", "ip-only", "::2", 6, BAD_NAME, ""}},
    {IP_NOT_IN_SAN, {"ca.pem", "ip-only", "::ffff:127.0.0.1", 6, BAD_NAME, ""}},
    {IP_NOT_IN_SAN, {"ca.pem", "server", "::1", 6, BAD_NAME, ""}}, /* server.pem has no IP:::1 */

    /* dNSName "127.0.0.1" and CN=127.0.0.1: a name that only looks like the address. */
    {IP_NOT_A_DNS_NAME, {"ca.pem", "dns-lookalike", "127.0.0.1", 6, BAD_NAME, ""}},
    {IP_NOT_A_DNS_NAME, {"ca.pem", "wrong-host", "127.0.0.1", 6, BAD_NAME, ""}},
    /* And the reverse: an IP SAN is no DNS name, so "localhost" finds nothing in ip-only. */
    {IP_NOT_A_DNS_NAME, {"ca.pem", "ip-only", "localhost", 6, BAD_NAME, "localhost"}},
};

static void expect_ip_handshakes(enum ip_check check)
{
    size_t n = 0;
    for (size_t i = 0; i < GW_ARRAY_SIZE(ip_cases); i++) {
        if (ip_cases[i].check == check) {
            expect_connection(&ip_cases[i].h);
            n++;
        }
    }
    cr_assert_gt(n, 0);
}

Test(tls, ip_literal_matches_an_ip_san_and_sends_no_sni, .timeout = 60)
{
    expect_ip_handshakes(IP_SAN_MATCHES);
}

Test(tls, ip_literal_not_in_the_san_is_refused, .timeout = 60)
{
    expect_ip_handshakes(IP_NOT_IN_SAN);
}

Test(tls, ip_literal_never_matches_dns_names_or_the_common_name, .timeout = 60)
{
    expect_ip_handshakes(IP_NOT_A_DNS_NAME);
}

Test(tls, ip_literal_still_needs_a_trusted_chain, .timeout = 30)
{
    expect_handshake_to("other-ca.pem", "ip-only", "127.0.0.1", 6, UNTRUSTED, "");
}

/*
 * Runs the client's X.509 engine by hand over the chain of `stem`, the leaf
 * handed over in two pieces cut at `cut` (as records may cut it), and returns
 * its verdict for `name`: 0 or a BR_ERR_X509_* code.
 */
static unsigned verify_split(const struct gw_tls_anchors *a, const struct gw_tls_creds *creds,
                             const char *name, size_t cut)
{
    struct gw_tls_client *c = malloc(sizeof *c);
    cr_assert_not_null(c);
    cr_assert_eq(gw_tls_client_start(c, a, name, NULL), 0);
    const br_x509_class **x = c->cc.eng.x509ctx;
    (*x)->start_chain(x, "");
    for (size_t i = 0; i < creds->chain_len; i++) {
        const unsigned char *der = creds->chain[i].data;
        size_t len = creds->chain[i].data_len;
        size_t k = i == 0 ? GW_MIN(cut, len) : len;
        (*x)->start_cert(x, (uint32_t)len);
        (*x)->append(x, der, k);
        if (k < len)
            (*x)->append(x, der + k, len - k);
        (*x)->end_cert(x);
    }
    unsigned err = (*x)->end_chain(x);
    free(c);
    return err;
}

Test(tls, ip_check_survives_any_split_of_the_certificate, .timeout = 60)
{
    struct gw_tls_anchors *a = load_anchors(TLS_DATA "ca.pem");
    static const char *const stems[] = {"ip-only", "server", "server-rsa"};
    for (size_t s = 0; s < GW_ARRAY_SIZE(stems); s++) {
        struct gw_tls_creds *creds = load_creds(stems[s]);
        size_t len = creds->chain[0].data_len;
        for (size_t cut = 0; cut <= len; cut++) {
            cr_assert_eq(verify_split(a, creds, "127.0.0.1", cut), 0, "%s cut at %zu", stems[s],
                         cut);
            cr_assert_eq(verify_split(a, creds, "127.0.0.3", cut), BR_ERR_X509_BAD_SERVER_NAME,
                         "%s cut at %zu", stems[s], cut);
        }
        gw_tls_creds_free(creds);
    }
    gw_tls_anchors_free(a);
}

Test(tls, client_session_is_false_before_the_handshake)
{
    struct gw_tls_anchors *a = load_anchors(TLS_DATA "ca.pem");
    struct gw_tls_client *c = malloc(sizeof *c);
    cr_assert_not_null(c);
    cr_assert_eq(gw_tls_client_start(c, a, "localhost", NULL), 0);
    cr_assert_eq(br_ssl_engine_current_state(gw_tls_client_engine(c)) & BR_SSL_SENDREC,
                 BR_SSL_SENDREC, "the ClientHello is waiting to go out");
    br_ssl_session_parameters p;
    cr_assert(!gw_tls_client_session(c, &p));
    free(c);
    gw_tls_anchors_free(a);
}

/* The same client connects twice, offering the first session the second time. */
static void connect_twice(struct gw_tls_session_cache *cache, struct client_run *first,
                          struct client_run *second, struct server_run *sr)
{
    static const struct handshake h = {"ca.pem", "server", "localhost", 8, ACCEPTED, "localhost"};
    connect_once(&h, cache, NULL, first, sr);
    expect_handshake(&h, first, sr);
    connect_once(&h, cache, &first->session, second, sr);
    expect_handshake(&h, second, sr);
}

Test(tls, session_resumes_with_a_server_cache, .timeout = 30)
{
    struct gw_tls_session_cache *cache = malloc(sizeof *cache);
    cr_assert_not_null(cache);
    gw_tls_session_cache_init(cache);
    struct client_run first, second;
    struct server_run sr;
    connect_twice(cache, &first, &second, &sr);
    /* A declined resumption would carry a fresh random session ID and master secret. */
    cr_assert_arr_eq(second.session.session_id, first.session.session_id, 32);
    cr_assert_arr_eq(second.session.master_secret, first.session.master_secret, 48);
    cr_assert_arr_eq(sr.session.session_id, first.session.session_id, 32,
                     "the server resumed the cached session");
    free(cache);
}

Test(tls, session_is_not_resumed_without_a_server_cache, .timeout = 30)
{
    struct client_run first, second;
    struct server_run sr;
    connect_twice(NULL, &first, &second, &sr);
    cr_assert_neq(memcmp(second.session.session_id, first.session.session_id, 32), 0,
                  "the server ran a full handshake with a new session");
}

Test(tls, connection_objects_fit_the_pool_budget)
{
    /* Upstream pools are sized from ~33 KB of engine buffer per connection. */
    cr_log_info("sizeof(struct gw_tls_client) = %zu, sizeof(struct gw_tls_server) = %zu",
                sizeof(struct gw_tls_client), sizeof(struct gw_tls_server));
    cr_assert_lt(sizeof(struct gw_tls_client), BR_SSL_BUFSIZE_BIDI + 16384);
    cr_assert_lt(sizeof(struct gw_tls_server), BR_SSL_BUFSIZE_BIDI + 16384);
}
