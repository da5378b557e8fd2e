/*
 * tests/unit/core/test_log.c — gw_log_line: the exact JSON line on stderr,
 * its escaping (quotes, backslashes, control bytes as \u00XX) and the cut
 * of an over-long message. stderr is pointed at a temporary file with dup2
 * while the function runs; expected lines are written out by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/log.h"

/* stderr while a capture runs, and the file it goes to. */
static int saved_fd = -1;
static FILE *cap_file;

static void capture_begin(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    cr_assert(cap_file != NULL, "tmpfile: %s", strerror(errno));
    saved_fd = dup(STDERR_FILENO);
    cr_assert(saved_fd >= 0, "dup: %s", strerror(errno));
    cr_assert(dup2(fileno(cap_file), STDERR_FILENO) == STDERR_FILENO, "dup2: %s", strerror(errno));
}

/* Restores stderr and returns what was written meanwhile (malloc'd, NUL-terminated). */
static char *capture_end(size_t *len)
{
    fflush(stderr);
    cr_assert(dup2(saved_fd, STDERR_FILENO) == STDERR_FILENO, "dup2: %s", strerror(errno));
    close(saved_fd);
    saved_fd = -1;
    off_t n = lseek(fileno(cap_file), 0, SEEK_END);
    cr_assert(n >= 0, "lseek: %s", strerror(errno));
    char *out = malloc((size_t)n + 1);
    cr_assert(out != NULL);
    cr_assert(pread(fileno(cap_file), out, (size_t)n, 0) == (ssize_t)n);
    out[n] = '\0';
    fclose(cap_file);
    cap_file = NULL;
    if (len)
        *len = (size_t)n;
    return out;
}

Test(log, escapes_quotes_backslashes_and_newlines_in_the_message)
{
    capture_begin();
    gw_log_line("control", "warn", "file \"%s\" at C:\\%s\nline %d", "a.yaml", "dir", 7);
    char *got = capture_end(NULL);
    cr_assert_str_eq(got, "{\"level\":\"warn\",\"thread\":\"control\",\"msg\":"
                          "\"file \\\"a.yaml\\\" at C:\\\\dir\\u000aline 7\"}\n");
    free(got);
}

Test(log, writes_other_control_bytes_as_u00xx_and_keeps_utf8_bytes)
{
    capture_begin();
    gw_log_line("store", "error", "%s", "\x01tab\there\x1f caf\xc3\xa9 \x7f");
    char *got = capture_end(NULL);
    cr_assert_str_eq(got, "{\"level\":\"error\",\"thread\":\"store\",\"msg\":"
                          "\"\\u0001tab\\u0009here\\u001f caf\xc3\xa9 \x7f\"}\n");
    free(got);
}

Test(log, each_call_is_one_line)
{
    capture_begin();
    gw_log_line("store", "info", "one");
    gw_log_line("control", "info", "two");
    char *got = capture_end(NULL);
    cr_assert_str_eq(got, "{\"level\":\"info\",\"thread\":\"store\",\"msg\":\"one\"}\n"
                          "{\"level\":\"info\",\"thread\":\"control\",\"msg\":\"two\"}\n");
    free(got);
}

Test(log, cuts_a_long_message_at_the_limit)
{
    static char big[GW_LOG_MSG_MAX * 2 + 1];
    memset(big, 'x', sizeof(big) - 1);
    capture_begin();
    gw_log_line("store", "info", "%s", big);
    char *got = capture_end(NULL);

    static char want[GW_LOG_MSG_MAX + 128];
    const char *pre = "{\"level\":\"info\",\"thread\":\"store\",\"msg\":\"";
    size_t pl = strlen(pre);
    memcpy(want, pre, pl);
    memset(want + pl, 'x', GW_LOG_MSG_MAX);
    memcpy(want + pl + GW_LOG_MSG_MAX, "\"}\n", 4);
    cr_assert_str_eq(got, want);
    free(got);
}

/*
 * A message of control bytes only grows six times when escaped; the line is
 * cut between escapes, never inside one, and stays one valid line.
 */
Test(log, a_message_that_escapes_past_the_buffer_is_cut_between_escapes)
{
    static char ctl[GW_LOG_MSG_MAX + 1];
    memset(ctl, '\n', sizeof(ctl) - 1);
    capture_begin();
    gw_log_line("control", "error", "%s", ctl);
    size_t len;
    char *got = capture_end(&len);

    const char *pre = "{\"level\":\"error\",\"thread\":\"control\",\"msg\":\"";
    size_t pl = strlen(pre);
    cr_assert(len > pl + 3, "%s", got);
    cr_assert(strncmp(got, pre, pl) == 0, "%s", got);
    cr_assert_str_eq(got + len - 3, "\"}\n");
    size_t body = len - pl - 3;
    cr_assert(body > 0 && body % 6 == 0, "escaped message of %zu bytes", body);
    cr_assert(body < (size_t)GW_LOG_MSG_MAX * 6, "nothing was cut (%zu bytes)", body);
    for (size_t i = 0; i < body; i += 6)
        cr_assert(strncmp(got + pl + i, "\\u000a", 6) == 0, "at %zu: %.6s", i, got + pl + i);
    cr_assert_null(memchr(got, '\n', len - 1), "more than one line");
    free(got);
}
