/*
 * tools/conduitctl/ctl.h — the pieces of conduitctl, the CLI over the admin
 * API (README "conduitctl"): an HTTP/1.1 client (http.c), reading JSON
 * responses with core/json.h's tokenizer and printing tables (view.c), the
 * commands (main.c). It links gw_core only.
 */
#ifndef GW_TOOLS_CONDUITCTL_CTL_H
#define GW_TOOLS_CONDUITCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/json.h"
#include "core/span.h"

/* ---- growing buffer (exits the process when out of memory: a CLI) ---- */

struct ctl_buf {
    char *p; /* owns; NUL-terminated after every append */
    size_t len;
    size_t cap;
};

void ctl_buf_put(struct ctl_buf *b, const void *s, size_t n);
void ctl_buf_puts(struct ctl_buf *b, const char *s);
/* printf-style append. */
void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s percent-encoded: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX. */
void ctl_buf_pct(struct ctl_buf *b, const char *s);
void ctl_buf_free(struct ctl_buf *b);
/* malloc that exits on failure. */
void *ctl_xmalloc(size_t n);

/* ---- HTTP ---- */

/* http://HOST[:PORT][/PREFIX]; HOST may be [IPv6]. */
struct ctl_url {
    char host[256];     /* without brackets */
    char port[8];       /* "80" when absent */
    char hostport[300]; /* the Host field's value */
    char prefix[256];   /* path before /admin/v1, without a trailing '/' ("" when none) */
};

/* Returns 0, or -1 with a reason in err (https, missing host, bad port, ...). */
int ctl_url_parse(const char *s, struct ctl_url *u, char *err, size_t errlen);

struct ctl_resp {
    int status;
    char *body; /* owns (malloc), NUL-terminated */
    size_t len;
};

/*
 * Sends one request (Connection: close) with Authorization: Bearer key and,
 * when body is not NULL, a JSON body; path is appended to the URL's prefix.
 * Returns 0 with *out filled (any status), or -1 with a reason in err when
 * no response arrived (resolve, connect, timeout, malformed response).
 */
int ctl_http(const struct ctl_url *u, const char *key, const char *method, const char *path,
             const char *body, size_t body_len, struct ctl_resp *out, char *err, size_t errlen);
void ctl_resp_free(struct ctl_resp *r);

/* ---- JSON reading ---- */

/* One JSON value inside a document. */
struct ctl_val {
    enum gw_json_tok_type type; /* its first token: a scalar, or OBJ_BEGIN/ARR_BEGIN */
    struct gw_span raw;         /* the token's span (string contents still escaped) */
    struct gw_span text;        /* the whole value's text */
};

/*
 * Finds path ("budget.limit_usd": members of nested objects, dot-separated)
 * in the object doc. Returns true with *v set, false when doc is not an
 * object or a member along the path is missing or not an object.
 */
bool ctl_get(struct gw_span doc, const char *path, struct ctl_val *v);
/*
 * Calls fn for each element of the array arr (its text); stops early when fn
 * returns nonzero. Returns 0, or -1 when arr is not a valid JSON array.
 */
int ctl_each(struct gw_span arr, int (*fn)(void *arg, struct gw_span elem), void *arg);
/*
 * A value as a person reads it, malloc'd: strings unescaped, null as "-",
 * arrays of strings comma-joined ("*" for an empty models list is the
 * caller's business), other values as their JSON text.
 */
char *ctl_val_text(const struct ctl_val *v);
/* A number of US dollars as "$0.000000" (6 decimals), "-" for null or absent; malloc'd. */
char *ctl_money_text(const struct ctl_val *v, bool found);
/* The string member at path, unescaped into buf (cap bytes, NUL-terminated); false if none. */
bool ctl_get_str(struct gw_span doc, const char *path, char *buf, size_t cap);
/* The integer member at path (a JSON number, or a string of digits); false if none. */
bool ctl_get_i64(struct gw_span doc, const char *path, int64_t *out);

/* ---- tables ---- */

struct ctl_table {
    size_t ncols;
    const char *const *heads;
    char **cells; /* owns: nrows * ncols malloc'd strings */
    size_t nrows;
    size_t cap; /* rows allocated */
};

void ctl_table_init(struct ctl_table *t, const char *const *heads, size_t ncols);
/* Takes ownership of row[0..ncols) (malloc'd strings). */
void ctl_table_add(struct ctl_table *t, char **row);
/*
 * Prints the heading and the rows with columns padded to their widest cell
 * (UTF-8 counted by code points), two spaces apart; heading included when
 * with_head. The last column is not padded.
 */
void ctl_table_print(const struct ctl_table *t, FILE *f, bool with_head);
void ctl_table_free(struct ctl_table *t);

#endif
