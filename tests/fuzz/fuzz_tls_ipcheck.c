/*
 * tests/fuzz/fuzz_tls_ipcheck.c — libFuzzer harness for the iPAddress
 * subjectAltName check of net/tls.c (a client whose server name is an IP
 * literal): any bytes as the server's leaf certificate.
 *
 * The first byte picks the name (127.0.0.1, ::1 or 10.0.0.5) and, with the
 * last, a split point; the rest is the certificate, handed to the client's
 * X.509 engine as a one-certificate chain in one piece, then again in two
 * pieces cut at the split point, then a byte at a time. Beyond "no crash, no
 * out-of-bounds read", the verdict must not depend on how the bytes arrive.
 * There is no trust anchor, so the minimal engine refuses every chain; the
 * harness reads the wrapper's own verdict (its private `matched`) for that.
 * The corpus holds the DER of the test leaves in tests/data/tls.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "net/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* Runs one chain of one certificate, fed in pieces of `step` bytes after a first piece of `cut`. */
static bool run(struct gw_tls_client *c, const struct gw_tls_anchors *a, const char *name,
                const unsigned char *der, size_t len, size_t cut, size_t step)
{
    CHECK(gw_tls_client_start(c, a, name, NULL) == 0);
    const br_x509_class **x = c->cc.eng.x509ctx;
    CHECK(x == &c->_ip.vtable);
    (*x)->start_chain(x, "");
    (*x)->start_cert(x, (uint32_t)len);
    size_t k = cut < len ? cut : len;
    (*x)->append(x, der, k);
    while (k < len) {
        size_t n = len - k < step ? len - k : step;
        (*x)->append(x, der + k, n);
        k += n;
    }
    (*x)->end_cert(x);
    unsigned err = (*x)->end_chain(x);
    CHECK(err != 0); /* no anchors: never trusted */
    return c->_ip.matched;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"127.0.0.1", "::1", "10.0.0.5"};
    static struct gw_tls_client *c;
    static br_x509_trust_anchor none[1];
    static const struct gw_tls_anchors anchors = {.ta = none, .n = 0};
    if (size < 2)
        return 0;
    if (c == NULL) {
        c = malloc(sizeof *c);
        CHECK(c != NULL);
    }
    const char *name = names[data[0] % 3];
    size_t cut = ((size_t)data[0] << 8 | data[size - 1]) % size;
    const unsigned char *der = data + 1;
    size_t len = size - 1;

    bool whole = run(c, &anchors, name, der, len, len, len);
    CHECK(run(c, &anchors, name, der, len, cut, len) == whole);
    CHECK(run(c, &anchors, name, der, len, 0, 1) == whole);
    return 0;
}
