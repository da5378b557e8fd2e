/*
 * providers/jv.h — a read-only view of JSON values for the translators.
 *
 * A struct gw_jv names one value inside a request or response body the
 * caller keeps alive: its type, its whole text, and for a string the raw
 * (still escaped) text between the quotes. Nothing is copied or allocated:
 * the view is spans over core/json's tokenizer, which has already checked
 * the syntax of whatever it hands out. JSON null counts as absent
 * (found false), as the OpenAI and provider schemas treat it.
 *
 * Every translator reads its input through this one view, so a rule about
 * reading JSON (null is absent, a number must be an integer, a string is
 * compared unescaped) is written once.
 */
#ifndef GW_PROVIDERS_JV_H
#define GW_PROVIDERS_JV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/span.h"

/* The most keys one gw_jv_scan call looks up. */
#define GW_JV_SCAN_MAX 48

/* One value: its type, its whole text, and for strings the raw text inside the quotes. */
struct gw_jv {
    bool found; /* false when absent or null */
    enum gw_json_tok_type type;
    struct gw_span raw; /* the value's text (strings with their quotes) */
    struct gw_span str; /* strings: raw (escaped) text inside the quotes; numbers: their text */
};

static inline bool gw_jv_is(const struct gw_jv *v, enum gw_json_tok_type t)
{
    return v->found && v->type == t;
}

/* True when v is a string whose unescaped text is s. */
bool gw_jv_streq(const struct gw_jv *v, const char *s);

/*
 * The top-level members keys[0..n) (n <= GW_JV_SCAN_MAX) of the object text
 * obj into out[0..n) (absent and null members: found false). Returns 0, or
 * -1 when obj is not a valid object (out is then all absent).
 */
int gw_jv_scan(struct gw_span obj, const char *const *keys, size_t n, struct gw_jv *out);

/* gw_jv_scan over the object value v; -1 (out all absent) when v is not an object. */
int gw_jv_scan_obj(const struct gw_jv *v, const char *const *keys, size_t n, struct gw_jv *out);

/* The member `key` of the object value v (found false when absent or v is not an object). */
struct gw_jv gw_jv_member(const struct gw_jv *v, const char *key);

/* True when the object value v has no members. */
bool gw_jv_obj_empty(const struct gw_jv *v);

/* An iterator over an array value's elements. */
struct gw_jv_it {
    struct gw_json j;
};

/* Starts iterating the array value arr; -1 when it is not an array. */
int gw_jv_arr_begin(struct gw_jv_it *it, const struct gw_jv *arr);

/* The next element into *el: 1, 0 at the end, -1 on invalid JSON. */
int gw_jv_arr_next(struct gw_jv_it *it, struct gw_jv *el);

/* The number of elements of the array value arr; -1 when it is not a valid array. */
long gw_jv_arr_count(const struct gw_jv *arr);

/*
 * The string token text raw (inside the quotes) unescaped into the arena,
 * NUL-terminated, its length in *n (n may be NULL); NULL on an invalid
 * escape or an exhausted arena.
 */
char *gw_jv_unesc(struct gw_arena *a, struct gw_span raw, size_t *n);

/* A non-negative integer number into *out (0 when false); false otherwise. */
bool gw_jv_u64(const struct gw_jv *v, uint64_t *out);

/*
 * A number as a double (0 when false); false when v is not a number or its
 * text is 64 characters or longer (no count or parameter a translator reads
 * is written that long).
 */
bool gw_jv_double(const struct gw_jv *v, double *out);

/* True when v is an integer number (a sign allowed, no fraction or exponent). */
bool gw_jv_is_int(const struct gw_jv *v);

#endif
