/*
 * core/json.h — a JSON tokenizer and writer of our own (RFC 8259).
 *
 * The tokenizer never builds a DOM and never allocates: it walks a complete
 * buffer and hands back tokens whose spans point into that buffer, with byte
 * offsets so callers can splice the document (rewrite "model", insert
 * "stream_options") without re-serialising it. Nesting depth is bounded by
 * GW_JSON_MAX_DEPTH; deeper documents are invalid, so no input can make it
 * recurse or grow memory.
 *
 * The writer appends to a caller-owned buffer, escaping strings, and tracks
 * commas itself. It never overflows: once the buffer is full it sets
 * `overflow` and ignores further writes.
 */
#ifndef GW_CORE_JSON_H
#define GW_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/span.h"

#define GW_JSON_MAX_DEPTH 64

enum gw_json_tok_type {
    GW_JT_NONE = 0,
    GW_JT_OBJ_BEGIN, /* '{' */
    GW_JT_OBJ_END,   /* '}' */
    GW_JT_ARR_BEGIN, /* '[' */
    GW_JT_ARR_END,   /* ']' */
    GW_JT_KEY,       /* a member name; span is the raw (still escaped) text inside the quotes */
    GW_JT_STRING,    /* span is the raw (still escaped) text inside the quotes */
    GW_JT_NUMBER,    /* span is the number's text */
    GW_JT_TRUE,
    GW_JT_FALSE,
    GW_JT_NULL,
    GW_JT_COUNT
};

struct gw_json_tok {
    enum gw_json_tok_type type;
    struct gw_span span; /* see the type; for brackets and literals, the token's own bytes */
    size_t start;        /* offset of the token's first byte (the '"' of a string or key) */
    size_t end;          /* offset just past the token (past the closing '"') */
    unsigned depth;      /* nesting depth of the token: 0 for the top-level value's brackets */
    bool escaped;        /* strings and keys: the raw text contains a backslash escape */
};

/* Tokenizer state; embed it anywhere, it needs no cleanup. */
struct gw_json {
    const char *buf; /* borrowed: the whole document */
    size_t len;
    size_t pos;     /* offset just past the last token; after -1, where the error was found */
    unsigned depth; /* containers open now (0..GW_JSON_MAX_DEPTH) */
    /* private: container stack (1 bit per level: object or array) and expectations */
    uint64_t _stack;
    unsigned _state;
    bool _done;
};

void gw_json_init(struct gw_json *j, const char *buf, size_t len);
/*
 * Produces the next token of the document.
 * Returns 1 with *t filled, 0 at the end of a valid document (exactly one
 * top-level value, nothing but whitespace after it), -1 on invalid JSON
 * (including invalid escapes, lone surrogate escapes, control characters in
 * strings, invalid UTF-8 (overlong forms and encoded surrogates included),
 * leading zeros, depth over GW_JSON_MAX_DEPTH, trailing bytes, an empty
 * document). After -1 or 0 every further call returns the same. Tokens are
 * validated as they are produced: a 1 says nothing about the rest of the
 * document, only the final 0 does. A byte-order mark is refused.
 */
int gw_json_next(struct gw_json *j, struct gw_json_tok *t);
/*
 * Skips the value that starts with token *first (the token gw_json_next just
 * returned): for a bracket it consumes up to and including the matching
 * close (validating everything in between); a scalar needs nothing more.
 * Returns 0 and sets *end to the offset just past the value, or -1 on invalid
 * JSON or when *first is not the start of a value (a key or a close).
 */
int gw_json_skip(struct gw_json *j, const struct gw_json_tok *first, size_t *end);
/* Returns true when buf[0..len) is exactly one valid JSON document. */
bool gw_json_validate(const char *buf, size_t len);

/* One top-level member found by gw_json_scan_object. */
struct gw_json_member {
    bool found;
    bool dup;            /* the key appears more than once (the fields below describe the last) */
    size_t member_start; /* offset of the key's opening '"' */
    size_t member_end;   /* offset just past the value */
    struct gw_json_tok value; /* the value's first token: a scalar, or a container's bracket */
    size_t value_end;         /* offset just past the whole value (containers included) */
};

/*
 * Validates the whole document, which must be an object, and finds its
 * top-level members named keys[0..n) (compared after unescaping, so
 * "mod\u0065l" is "model"). out[i] describes keys[i]. A key that appears
 * twice reports its last occurrence, as most JSON parsers do, and sets
 * out[i].dup: RFC 8259 §4 leaves duplicate names to each receiver (some take
 * the first, some the last, some refuse), so a caller that forwards the
 * document after deciding on a member's value must refuse a dup, or the next
 * reader may act on a value it never checked. Returns 0, or -1 when the
 * document is invalid or not an object (every out[i].found and out[i].dup is
 * then false).
 */
int gw_json_scan_object(const char *buf, size_t len, const char *const *keys, size_t n,
                        struct gw_json_member *out);
/*
 * The bytes to delete from buf so that the object stays valid without member
 * *m (found by gw_json_scan_object over the same buf): the member and the
 * ',' after it, or for the last member the ',' before it (with the whitespace
 * in between); just the member when it is the only one. Sets
 * [*cut_start, *cut_end) and returns true, or false when !m->found.
 */
bool gw_json_member_cut(const char *buf, size_t len, const struct gw_json_member *m,
                        size_t *cut_start, size_t *cut_end);

/*
 * Decodes a raw string span (as in a GW_JT_STRING/KEY token) into out, UTF-8,
 * resolving escapes and surrogate pairs. Returns the decoded length (out is
 * not NUL-terminated; "\u0000" decodes to a NUL byte), or -1 if an escape is
 * invalid or the result does not fit in cap. The decoded text is never longer
 * than the raw text, so cap = raw.len always suffices. Only escapes are
 * checked: raw bytes are copied as they are.
 */
long gw_json_unescape(struct gw_span raw, char *out, size_t cap);
/*
 * Compares a raw string span with a plain C string, resolving escapes; false
 * on an invalid escape. A decoded NUL never matches the end of s.
 */
bool gw_json_str_eq(struct gw_span raw, const char *s);
/*
 * Parses a GW_JT_NUMBER span as a non-negative integer ("0" or [1-9][0-9]*);
 * false if it is not one (sign, fraction, exponent: "1.0" and "1e3" are
 * refused) or it overflows.
 */
bool gw_json_to_u64(struct gw_span num, uint64_t *out);
/* The type's name for logs and test messages ("obj_begin", "key", ...). */
const char *gw_json_tok_type_str(enum gw_json_tok_type type);

/* ---- writer ---- */

/*
 * The output is buf[0..len), not NUL-terminated. Commas between members and
 * elements are written automatically; a value call right after gw_jw_key is
 * that key's value. Nesting is bounded by GW_JSON_MAX_DEPTH like the reader.
 */
struct gw_jw {
    char *buf; /* borrowed: output */
    size_t cap;
    size_t len;
    /* Set once something did not fit (nothing is ever written past cap), and
     * also on misuse the writer can see (nesting over GW_JSON_MAX_DEPTH, a
     * close with nothing open or right after a key): the output is then
     * unusable and every further call is ignored. */
    bool overflow;
    unsigned depth;
    uint64_t _need_comma; /* private: one bit per depth */
    bool _after_key;
};

void gw_jw_init(struct gw_jw *w, char *buf, size_t cap);
void gw_jw_obj_begin(struct gw_jw *w);
void gw_jw_obj_end(struct gw_jw *w);
void gw_jw_arr_begin(struct gw_jw *w);
void gw_jw_arr_end(struct gw_jw *w);
/* Writes a member name (escaped); the next value call writes its value. */
void gw_jw_key(struct gw_jw *w, const char *key);
/* As gw_jw_key for a name of len bytes the caller knows needs no escaping
 * (an identifier): copied as is. */
void gw_jw_key_plain(struct gw_jw *w, const char *key, size_t len);
/* String value, escaped: quotes, backslash and control characters; other bytes as is. */
void gw_jw_str(struct gw_jw *w, const char *s, size_t len);
void gw_jw_cstr(struct gw_jw *w, const char *s);
void gw_jw_int(struct gw_jw *w, int64_t v);
void gw_jw_uint(struct gw_jw *w, uint64_t v);
/*
 * Fixed-point double, rounded to 6 decimals, trailing zeros dropped ("1.5",
 * "2", "0.000125"), '.' whatever the locale; magnitudes >= 1e12 as integers;
 * NaN and infinities (no JSON form) as null.
 */
void gw_jw_double(struct gw_jw *w, double v);
void gw_jw_bool(struct gw_jw *w, bool v);
void gw_jw_null(struct gw_jw *w);
/* Already-serialised JSON value, copied verbatim (caller guarantees validity). */
void gw_jw_raw(struct gw_jw *w, const char *json, size_t len);
/*
 * Appends escaped string content without quotes (for building strings
 * piecewise): '"' and '\\' backslashed, \b \f \n \r \t, other bytes below
 * 0x20 as \u00XX, everything else (UTF-8 included) as is. Like snprintf it
 * returns the length the escaped text needs and writes at most cap bytes of
 * it, so a return above cap means out holds a truncated prefix.
 */
size_t gw_json_escape(char *out, size_t cap, const char *s, size_t len);

#endif
