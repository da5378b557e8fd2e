/*
 * tests/integration/test_startup.c — what conduit says and does when it
 * starts: it refuses an address another process already listens on (its
 * SO_REUSEPORT listeners would otherwise silently share that process's
 * traffic), and it warns, at start, from --check-config and at reload, about
 * a config that loads but answers every request with an error (no keys, no
 * models).
 *
 * The harness starts one conduit; a second one, or a --check-config run, is
 * started here by run_conduit, with its output in files of its own.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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

TestSuite(startup, .init = setup, .fini = teardown, .timeout = 60);

/* A run of the conduit binary beside the harness's own. */
struct run {
    int status; /* waitpid status */
    char *out;  /* its stdout (malloc'd) */
    char *err;  /* its stderr (malloc'd) */
    char out_path[PATH_MAX + 16];
    char err_path[PATH_MAX + 16];
};

/*
 * Runs `conduit -c H.cfg_path [arg]` with stdout and stderr to files named
 * after `tag` in the test directory, and waits (timeout_ms) for it to exit;
 * fails the test if it does not (it is killed then).
 */
static void run_conduit(const char *tag, const char *arg, int timeout_ms, struct run *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->out_path, sizeof(r->out_path), "%s/%s.out", H.dir, tag);
    snprintf(r->err_path, sizeof(r->err_path), "%s/%s.err", H.dir, tag);
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int out = open(r->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(r->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        char *argv[] = {(char *)GW_CONDUIT_BIN, (char *)"-c", H.cfg_path, (char *)arg, NULL};
        execv(argv[0], argv);
        _exit(127);
    }
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        pid_t w = waitpid(pid, &r->status, WNOHANG);
        if (w == pid)
            break;
        if (h_now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            char *err = h_read_file(r->err_path, NULL);
            cr_assert_fail("conduit %s still running after %d ms; stderr:\n%s", tag, timeout_ms,
                           err ? err : "");
        }
        h_sleep_ms(20);
    }
    r->out = h_read_file(r->out_path, NULL);
    r->err = h_read_file(r->err_path, NULL);
    cr_assert(r->out && r->err);
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static void assert_chat_ok(void)
{
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    h_resp_free(&r);
    free(body);
}

Test(startup, a_second_conduit_on_a_port_in_use_refuses_to_start_and_the_first_keeps_serving)
{
    h_gw_start_with(NULL);
    assert_chat_ok();

    struct run second;
    run_conduit("second", NULL, 10000, &second);
    cr_assert(WIFEXITED(second.status) && WEXITSTATUS(second.status) != 0,
              "the second conduit did not fail (status 0x%x); stderr:\n%s", second.status,
              second.err);
    char want[128];
    snprintf(want, sizeof(want),
             "conduit: 127.0.0.1:%d is already in use by another process; refusing to start",
             H.gw_port);
    cr_assert(strstr(second.err, want), "stderr does not say \"%s\":\n%s", want, second.err);
    run_free(&second);

    /* The first one still has the port to itself: every connection is answered. */
    for (int i = 0; i < 8; i++)
        assert_chat_ok();
    cr_assert(h_gw_alive());
    h_finish();
}

Test(startup, a_port_held_by_any_other_program_is_refused_too)
{
    /* A plain listener, without SO_REUSEPORT, as most servers open one. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)H.gw_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(fd, 16), 0);
    h_gw_config(NULL);
    struct run r;
    run_conduit("taken", NULL, 10000, &r);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1, "status 0x%x; stderr:\n%s",
              r.status, r.err);
    cr_assert(strstr(r.err, "is already in use by another process; refusing to start"), "%s",
              r.err);
    run_free(&r);
    close(fd);
    h_finish();
}

/* A config with the default provider and model but no keys: section, and the reverse. */
static void config_without(bool keys, bool models)
{
    char y[2048];
    snprintf(y, sizeof(y),
             "server:\n  listen: \"127.0.0.1:%d\"\n  workers: 1\n  drain_timeout: 5s\n"
             "%s"
             "providers:\n  - name: mock\n    type: openai\n"
             "    base_url: \"http://127.0.0.1:%d/v1\"\n"
             "%s",
             H.gw_port, keys ? "" : "keys:\n  - name: demo\n    key: \"" H_CLIENT_KEY "\"\n",
             H.mock_port, models ? "" : "models:\n  - name: " H_MODEL "\n    provider: mock\n");
    h_gw_config_raw(y);
}

#define NO_KEYS_WARNING                                                                            \
    "conduit: warning: no keys configured: every API request will be answered 401 (add one "       \
    "under keys:)"
#define NO_MODELS_WARNING                                                                          \
    "conduit: warning: no models configured: every chat and embeddings request will be "           \
    "answered 404 model_not_found (add one under models:)"

Test(startup, check_config_warns_about_no_keys_and_no_models_but_passes)
{
    config_without(true, false);
    struct run r;
    run_conduit("check-keys", "--check-config", 10000, &r);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status 0x%x; stderr:\n%s",
              r.status, r.err);
    cr_assert(strstr(r.out, ": OK ("), "%s", r.out);
    cr_assert(strstr(r.err, NO_KEYS_WARNING), "no warning on stderr:\n%s", r.err);
    cr_assert_null(strstr(r.err, "no models configured"), "%s", r.err);
    run_free(&r);

    config_without(false, true);
    run_conduit("check-models", "--check-config", 10000, &r);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status 0x%x", r.status);
    cr_assert(strstr(r.err, NO_MODELS_WARNING), "no warning on stderr:\n%s", r.err);
    cr_assert_null(strstr(r.err, "no keys configured"), "%s", r.err);
    run_free(&r);

    /* A complete config passes without a word on stderr. */
    h_gw_config(NULL);
    run_conduit("check-full", "--check-config", 10000, &r);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status 0x%x", r.status);
    cr_assert_str_eq(r.err, "", "unexpected stderr: %s", r.err);
    run_free(&r);
    h_finish();
}

Test(startup, no_keys_is_warned_at_start_and_at_reload_and_answers_401)
{
    config_without(true, false);
    h_gw_start();
    cr_assert(h_stderr_wait(NO_KEYS_WARNING, 2000), "no warning on stderr at start");
    /* What the warning says: every API request is refused. */
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    h_assert_error(&r, 401, "invalid_api_key");
    h_resp_free(&r);

    /* A reload to a config with keys but no models warns in the log. */
    config_without(false, true);
    h_gw_signal(SIGHUP);
    cr_assert(h_stderr_wait("no models configured: every chat and embeddings request will be "
                            "answered 404 model_not_found (add one under models:)",
                            5000),
              "no warning in the log at reload");
    cr_assert(h_stderr_wait("\"level\":\"warn\"", 1000));
    /* It was loaded all the same: the key works, the model is gone. */
    double deadline = h_now_ms() + 3000;
    for (;;) {
        cr_assert_eq(h_chat(body, NULL, &r), 0);
        int st = r.status;
        if (st == 404) {
            h_assert_error(&r, 404, "model_not_found");
            h_resp_free(&r);
            break;
        }
        h_resp_free(&r);
        cr_assert(h_now_ms() < deadline, "reload not applied (status %d)", st);
        h_sleep_ms(50);
    }
    free(body);
    h_finish();
}
