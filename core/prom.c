/*
 * core/prom.c — Prometheus text format helpers (see core/prom.h).
 */
#include <stdbool.h>
#include <stddef.h>

#include "core/prom.h"

size_t gw_prom_escape(char *out, size_t cap, const char *s, size_t len)
{
    size_t o = 0;      /* length of the escaped text so far */
    size_t kept = 0;   /* bytes of it written to out */
    bool full = false; /* once a piece did not fit, nothing more is written */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        char e[2];
        size_t n = 1;
        e[0] = c;
        if (c == '\\' || c == '"' || c == '\n') {
            e[0] = '\\';
            e[1] = c == '\n' ? 'n' : c;
            n = 2;
        }
        /* A piece goes in whole or not at all, and room for the NUL stays. */
        if (!full && cap > 0 && kept + n <= cap - 1) {
            for (size_t k = 0; k < n; k++)
                out[kept + k] = e[k];
            kept += n;
        } else {
            full = true;
        }
        o += n;
    }
    if (cap > 0)
        out[kept] = '\0';
    return o;
}
