/*
 * tests/unit/store/test_store.c's tests, run against a real PostgreSQL
 * server instead of SQLite: one server for the executable (started by
 * Criterion's runner, tests/pgtest.h), and each test_db_url() call a fresh
 * empty schema on it, as test_store.c asks of the function it is given.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>

#include "tests/pgtest.h"

PGT_SHARED_SERVER();

#define STORE_TEST_URL_FN 1
static const char *test_db_url(void)
{
    static char url[512];
    char err[1024];
    cr_assert_eq(pgt_fresh(url, sizeof(url), err, sizeof(err)), 0, "%s", err);
    return url;
}

#include "test_store.c"
