/*
 * tests/unit/core/test_fail.c — the one failure table and the one retry
 * decision. The retry rule is what keeps a POST from being processed (and
 * billed) twice: a request goes out again only when the upstream cannot have
 * received all of it.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/fail.h"

Test(fail, every_failure_has_a_name_a_message_and_an_error_status)
{
    for (unsigned f = 1; f < GW_FAIL_COUNT; f++) {
        const char *name = gw_fail_name((enum gw_fail)f);
        cr_assert(name && name[0] && strcmp(name, "unknown") != 0, "failure %u has no name", f);
        cr_assert(gw_fail_str((enum gw_fail)f)[0]);
        int st = gw_fail_status((enum gw_fail)f);
        /* 429 is the one 4xx: a hard budget that ends a stream (the client's quota). */
        cr_assert((st >= 499 && st <= 504) || (f == GW_FAIL_BUDGET && st == 429),
                  "failure %s maps to %d", name, st);
        for (unsigned g = 1; g < f; g++)
            cr_assert_str_neq(name, gw_fail_name((enum gw_fail)g), "two failures named %s", name);
    }
    cr_assert_str_eq(gw_fail_name(GW_FAIL_COUNT), "unknown");
}

Test(fail, timeouts_of_every_phase_are_504_upstream_timeout)
{
    const enum gw_fail t[] = {GW_FAIL_TIMEOUT_CONNECT, GW_FAIL_TIMEOUT_HANDSHAKE,
                              GW_FAIL_TIMEOUT_SEND, GW_FAIL_TIMEOUT_FIRST_BYTE,
                              GW_FAIL_TIMEOUT_READ};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        cr_assert_eq(gw_fail_status(t[i]), 504, "%s", gw_fail_name(t[i]));
        cr_assert_str_eq(gw_fail_code(t[i]), "upstream_timeout");
    }
    cr_assert_str_eq(gw_fail_name(GW_FAIL_TIMEOUT_SEND), "timeout_send");
    cr_assert_str_eq(gw_fail_name(GW_FAIL_TIMEOUT_HANDSHAKE), "timeout_handshake");
}

Test(fail, a_reset_pooled_connection_is_retried_before_the_request_was_written)
{
    cr_assert(gw_fail_retryable(GW_FAIL_RESET, true, false, false, 1));
}

Test(fail, a_request_fully_written_is_never_retried)
{
    /* The upstream may have received and processed all of it. */
    cr_assert_not(gw_fail_retryable(GW_FAIL_RESET, true, true, false, 1));
    cr_assert_not(gw_fail_retryable(GW_FAIL_CONNECT, true, true, false, 1));
}

Test(fail, no_retry_after_a_response_byte_a_fresh_connection_or_a_second_attempt)
{
    cr_assert_not(gw_fail_retryable(GW_FAIL_RESET, true, false, true, 1));
    cr_assert_not(gw_fail_retryable(GW_FAIL_RESET, false, false, false, 1));
    cr_assert_not(gw_fail_retryable(GW_FAIL_RESET, true, false, false, 2));
}

Test(fail, only_the_retry_mask_is_retried)
{
    for (unsigned f = 1; f < GW_FAIL_COUNT; f++) {
        bool want = (GW_FAIL_RETRY_MASK >> f) & 1u;
        cr_assert_eq(gw_fail_retryable((enum gw_fail)f, true, false, false, 1), want, "%s",
                     gw_fail_name((enum gw_fail)f));
    }
    cr_assert_not(gw_fail_retryable(GW_FAIL_TIMEOUT_SEND, true, false, false, 1));
    cr_assert_not(gw_fail_retryable(GW_FAIL_PROTO, true, false, false, 1));
}

Test(fail, a_budget_cut_is_429_budget_exceeded)
{
    cr_assert_eq(gw_fail_status(GW_FAIL_BUDGET), 429);
    cr_assert_str_eq(gw_fail_code(GW_FAIL_BUDGET), "budget_exceeded");
    cr_assert_str_eq(gw_fail_name(GW_FAIL_BUDGET), "budget");
    cr_assert_not(gw_fail_retryable(GW_FAIL_BUDGET, true, false, false, 0));
}
