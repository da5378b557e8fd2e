/*
 * core/prom.h — helpers for the Prometheus text exposition format, which
 * /metrics serves (net/metrics.c).
 *
 * A label value is written between double quotes, so a value taken from the
 * configuration (a model or provider name) must have its backslashes, double
 * quotes and line feeds escaped as \\, \" and \n; anything else passes as is
 * (label values are UTF-8). Unescaped, `model: we"ird` would end the value
 * early and make the whole scrape unparseable, or let a name forge samples.
 * [Prometheus docs, "Exposition formats", text format details]
 */
#ifndef GW_CORE_PROM_H
#define GW_CORE_PROM_H

#include <stddef.h>

/*
 * Escapes s[0..len) as a label value (without the surrounding quotes) into
 * out[0..cap), NUL-terminated when cap > 0, like snprintf. Returns the length
 * of the whole escaped text (without the NUL): a return >= cap means out
 * holds a truncated prefix, which never ends inside an escape pair. 2 * len +
 * 1 bytes always suffice. Bytes after a NUL in s are escaped like any other.
 */
size_t gw_prom_escape(char *out, size_t cap, const char *s, size_t len);

#endif
