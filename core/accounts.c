/*
 * core/accounts.c — the immutable keys/teams/prices object and its builder.
 *
 * Layout. Everything the object points at (strings, allow-lists, the team,
 * key and price arrays, the hash tables) lives in its arena, allocated once
 * by gw_accounts_builder_finish; the builder keeps growable malloc'd arrays
 * and copies them in at the end, so no pointer a reader sees ever moves.
 *
 * Hash tables. One open-addressing table type (struct itab) indexes an array
 * by position: a slot holds the element's index + 1 (0 = empty) and a 32-bit
 * hash, so probing compares hashes before touching the element and growing
 * never needs the elements. Capacity is a power of two at least twice the
 * number of entries (load <= 0.5), so linear probing stays short and a probe
 * always ends at an empty slot.
 *
 * Keys are found by SHA-256 digest (the digest is uniform: its first bytes
 * are the hash). A rotated key has two digest entries pointing at the same
 * key, the old one with its own valid-until.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "core/arena.h"
#include "core/common.h"
#include "core/money.h"

/* ---- index tables ---- */

struct islot {
    uint32_t ref; /* element index + 1; 0 = empty */
    uint32_t h;   /* the element's hash */
};

struct itab {
    struct islot *slots; /* owns (builder: malloc) or arena (final object) */
    uint32_t mask;       /* capacity - 1; capacity is a power of two */
    uint32_t used;
};

/* Does element `idx` of ctx equal `key`? */
typedef bool itab_eq_fn(const void *ctx, uint32_t idx, const void *key);

static uint32_t itab_cap_for(size_t n)
{
    size_t cap = 8;
    while (cap < 2 * n)
        cap <<= 1;
    return (uint32_t)cap;
}

/* The index of the element equal to key, or -1. */
static int64_t itab_find(const struct itab *t, uint32_t h, itab_eq_fn *eq, const void *ctx,
                         const void *key)
{
    if (!t->slots)
        return -1;
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const struct islot *s = &t->slots[i];
        if (!s->ref)
            return -1;
        if (s->h == h && eq(ctx, s->ref - 1, key))
            return (int64_t)(s->ref - 1);
    }
}

/* Inserts without growing; the caller guarantees room (load <= 0.5). */
static void itab_put(struct itab *t, uint32_t h, uint32_t idx)
{
    uint32_t i = h & t->mask;
    while (t->slots[i].ref)
        i = (i + 1) & t->mask;
    t->slots[i].ref = idx + 1;
    t->slots[i].h = h;
    t->used++;
}

/* Builder tables: grows (malloc) so that `more` entries fit with the load <= 0.5. 0 or -1. */
static int itab_reserve(struct itab *t, size_t more)
{
    size_t want = (size_t)t->used + more;
    if (t->slots && 2 * want <= (size_t)t->mask + 1)
        return 0;
    if (want > UINT32_MAX / 4)
        return -1;
    uint32_t cap = itab_cap_for(want);
    struct islot *ns = calloc(cap, sizeof(*ns));
    if (!ns)
        return -1;
    struct itab nt = {.slots = ns, .mask = cap - 1, .used = 0};
    if (t->slots) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            if (t->slots[i].ref)
                itab_put(&nt, t->slots[i].h, t->slots[i].ref - 1);
        }
    }
    free(t->slots);
    *t = nt;
    return 0;
}

/* Final tables: sized once for n entries, in the arena. 0 or -1. */
static int itab_init_arena(struct itab *t, struct gw_arena *a, size_t n)
{
    uint32_t cap = itab_cap_for(n);
    t->slots = gw_arena_zalloc(a, (size_t)cap * sizeof(*t->slots));
    if (!t->slots)
        return -1;
    t->mask = cap - 1;
    t->used = 0;
    return 0;
}

/* FNV-1a, 32 bits. */
static uint32_t fnv1a(const void *p, size_t n, uint32_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

#define FNV_BASIS 2166136261u

static uint32_t span_hash(struct gw_span s)
{
    return fnv1a(s.ptr, s.len, FNV_BASIS);
}

/* A SHA-256 digest is uniform already: its first four bytes are the hash. */
static uint32_t digest_hash(const uint8_t *d)
{
    return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

/* ---- the object ---- */

struct kdig {
    uint8_t digest[GW_DIGEST_LEN];
    uint32_t key; /* index into keys */
    bool old;     /* a rotated-out secret: valid while now < until */
    int64_t until;
};

struct gw_accounts {
    _Atomic unsigned refs; /* control and admin threads only (acq_rel on drop, see unref) */
    struct gw_arena arena; /* owns everything below */
    struct gw_team *teams; /* arena */
    size_t nteams;
    struct gw_vkey *keys; /* arena */
    size_t nkeys;
    struct kdig *digs; /* arena: one per digest (a rotated key has two) */
    size_t ndigs;
    struct gw_price *prices; /* arena */
    size_t nprices;
    struct itab key_ix;        /* digs by digest */
    struct itab price_ix;      /* prices by model name */
    const char *price_version; /* arena */
};

static bool dig_eq(const void *ctx, uint32_t idx, const void *key)
{
    const struct kdig *d = ctx;
    return memcmp(d[idx].digest, key, GW_DIGEST_LEN) == 0;
}

static bool price_eq(const void *ctx, uint32_t idx, const void *key)
{
    const struct gw_price *p = ctx;
    const struct gw_span *s = key;
    return gw_span_eq(gw_span_cstr(p[idx].model), *s);
}

static bool team_eq(const void *ctx, uint32_t idx, const void *key)
{
    const struct gw_team *t = ctx;
    const struct gw_span *s = key;
    return gw_span_eq(gw_span_cstr(t[idx].id), *s);
}

const char *gw_key_status_str(enum gw_key_status s)
{
    static const char *const names[GW_KEY_STATUS_COUNT] = {
        [GW_KEY_OK] = "ok",
        [GW_KEY_UNKNOWN] = "unknown",
        [GW_KEY_DISABLED] = "disabled",
        [GW_KEY_EXPIRED] = "expired",
    };
    if ((unsigned)s >= GW_KEY_STATUS_COUNT)
        return "?";
    return names[s];
}

const struct gw_vkey *gw_accounts_find_key(const struct gw_accounts *a,
                                           const uint8_t digest[GW_DIGEST_LEN], int64_t now,
                                           enum gw_key_status *status)
{
    int64_t i = itab_find(&a->key_ix, digest_hash(digest), dig_eq, a->digs, digest);
    if (i < 0) {
        *status = GW_KEY_UNKNOWN;
        return NULL;
    }
    const struct kdig *d = &a->digs[i];
    const struct gw_vkey *k = &a->keys[d->key];
    if (!k->enabled || (k->team && !k->team->enabled)) {
        *status = GW_KEY_DISABLED;
        return NULL;
    }
    if ((k->expires_at != 0 && now >= k->expires_at) || (d->old && now >= d->until)) {
        *status = GW_KEY_EXPIRED;
        return NULL;
    }
    *status = GW_KEY_OK;
    return k;
}

const struct gw_vkey *gw_accounts_key_by_id(const struct gw_accounts *a, const char *id)
{
    for (size_t i = 0; i < a->nkeys; i++) {
        if (strcmp(a->keys[i].id, id) == 0)
            return &a->keys[i];
    }
    return NULL;
}

bool gw_vkey_allows_model(const struct gw_vkey *k, struct gw_span model)
{
    if (k->nmodels == 0)
        return true;
    for (size_t i = 0; i < k->nmodels; i++) {
        struct gw_span m = gw_span_cstr(k->models[i]);
        if (m.len > 0 && m.ptr[m.len - 1] == '*') {
            /* "prefix*": starts with prefix; "*" alone has an empty prefix and allows all. */
            size_t plen = m.len - 1;
            if (model.len >= plen && (plen == 0 || memcmp(model.ptr, m.ptr, plen) == 0))
                return true;
        } else if (gw_span_eq(m, model)) {
            return true;
        }
    }
    return false;
}

static const struct gw_price *find_price_by(const struct gw_accounts *a, struct gw_span name)
{
    int64_t i = itab_find(&a->price_ix, span_hash(name), price_eq, a->prices, &name);
    return i < 0 ? NULL : &a->prices[i];
}

const struct gw_price *gw_accounts_find_price(const struct gw_accounts *a, struct gw_span model,
                                              struct gw_span upstream)
{
    const struct gw_price *p = NULL;
    if (model.len)
        p = find_price_by(a, model);
    if (!p && upstream.len)
        p = find_price_by(a, upstream);
    return p;
}

const char *gw_accounts_price_version(const struct gw_accounts *a)
{
    return a->price_version;
}

/* A part's rate: its own when set, else the input rate (which may itself be unset: 0). */
static int64_t rate_or_input(int64_t rate, const struct gw_price *p)
{
    return rate >= 0 ? rate : p->input;
}

int64_t gw_price_cost(const struct gw_price *p, const struct gw_cost_in *u)
{
    int64_t cost = 0;
    if (u->embedding) {
        cost = gw_pusd_mul(u->prompt_tokens, rate_or_input(p->embedding, p));
    } else {
        /*
         * prompt_tokens includes the cached and cache-written tokens (OpenAI's
         * meaning): each part is billed once, at its own rate. Counts a
         * provider reports inconsistently (parts larger than the whole) leave
         * the uncached part at zero rather than wrapping.
         */
        uint64_t parts = u->cached_tokens + u->cache_write_tokens;
        if (parts < u->cached_tokens)
            parts = UINT64_MAX;
        uint64_t uncached = u->prompt_tokens > parts ? u->prompt_tokens - parts : 0;
        cost = gw_pusd_mul(uncached, p->input);
        cost = gw_pusd_add(cost, gw_pusd_mul(u->cached_tokens, rate_or_input(p->cached_input, p)));
        cost =
            gw_pusd_add(cost, gw_pusd_mul(u->cache_write_tokens, rate_or_input(p->cache_write, p)));
    }
    return gw_pusd_add(cost, gw_pusd_mul(u->completion_tokens, p->output));
}

size_t gw_accounts_nkeys(const struct gw_accounts *a)
{
    return a->nkeys;
}

const struct gw_vkey *gw_accounts_key_at(const struct gw_accounts *a, size_t i)
{
    return i < a->nkeys ? &a->keys[i] : NULL;
}

size_t gw_accounts_nteams(const struct gw_accounts *a)
{
    return a->nteams;
}

const struct gw_team *gw_accounts_team_at(const struct gw_accounts *a, size_t i)
{
    return i < a->nteams ? &a->teams[i] : NULL;
}

size_t gw_accounts_nprices(const struct gw_accounts *a)
{
    return a->nprices;
}

const struct gw_price *gw_accounts_price_at(const struct gw_accounts *a, size_t i)
{
    return i < a->nprices ? &a->prices[i] : NULL;
}

void gw_accounts_ref(struct gw_accounts *a)
{
    /* Relaxed: taking a reference needs one already held; nothing is published by it. */
    unsigned old = atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    GW_BUG_ON(old == 0);
}

void gw_accounts_unref(struct gw_accounts *a)
{
    if (!a)
        return;
    /* acq_rel: the last drop must see every other holder's reads finished (their release). */
    unsigned old = atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel);
    GW_BUG_ON(old == 0);
    if (old != 1)
        return;
    gw_arena_destroy(&a->arena);
    free(a);
}

/* ---- the builder ---- */

struct bkey {
    struct gw_vkey k; /* strings and models in the object's arena; k.team unset */
    uint32_t team;    /* index into teams, or UINT32_MAX */
};

struct gw_accounts_builder {
    struct gw_accounts *a; /* owns: the object being built (its arena holds the strings) */
    uint32_t (*slot_of)(void *arg, const char *id);
    void *slot_arg;
    bool failed; /* an allocation failed in a void call: finish returns NULL */

    struct gw_team *teams; /* owns (malloc) */
    size_t nteams, capteams;
    struct itab team_ix;

    struct bkey *keys; /* owns */
    size_t nkeys, capkeys;

    struct kdig *digs; /* owns */
    size_t ndigs, capdigs;
    struct itab dig_ix;

    struct gw_price *prices; /* owns */
    size_t nprices, capprices;
    struct itab price_ix;
};

/*
 * Makes room for element index n in a malloc'd array of *cap elements.
 * Returns the (possibly moved) array, or NULL with arr untouched.
 */
static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap : 16;
    while (ncap <= n)
        ncap *= 2;
    if (ncap > UINT32_MAX - 1 || ncap > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, ncap * elem);
    if (!p)
        return NULL;
    *cap = ncap;
    return p;
}

/* Writes the message into err (when given) and returns -1. */
static int fail_msg(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_msg(char *err, size_t errcap, const char *fmt, ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

struct gw_accounts_builder *gw_accounts_builder_new(uint32_t (*slot_of)(void *arg, const char *id),
                                                    void *arg)
{
    struct gw_accounts_builder *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->a = calloc(1, sizeof(*b->a));
    if (!b->a) {
        free(b);
        return NULL;
    }
    atomic_init(&b->a->refs, 1);
    gw_arena_init(&b->a->arena, 64 * 1024, 0);
    b->slot_of = slot_of;
    b->slot_arg = arg;
    return b;
}

void gw_accounts_builder_free(struct gw_accounts_builder *b)
{
    if (!b)
        return;
    if (b->a) {
        gw_arena_destroy(&b->a->arena);
        free(b->a);
    }
    free(b->teams);
    free(b->team_ix.slots);
    free(b->keys);
    free(b->digs);
    free(b->dig_ix.slots);
    free(b->prices);
    free(b->price_ix.slots);
    free(b);
}

/* Copies s (NULL as dflt) into the object's arena. NULL on allocation failure. */
static const char *bdup(struct gw_accounts_builder *b, const char *s, const char *dflt)
{
    return gw_arena_strdup(&b->a->arena, s ? s : dflt);
}

static uint32_t slot_for(struct gw_accounts_builder *b, const struct gw_budget *bud, const char *id)
{
    if (!bud->set || !b->slot_of)
        return GW_SLOT_NONE;
    return b->slot_of(b->slot_arg, id);
}

int gw_accounts_add_team(struct gw_accounts_builder *b, const struct gw_team *t, char *err,
                         size_t errcap)
{
    if (!t->id || !*t->id)
        return fail_msg(err, errcap, "team without an id");
    struct gw_span id = gw_span_cstr(t->id);
    uint32_t h = span_hash(id);
    if (itab_find(&b->team_ix, h, team_eq, b->teams, &id) >= 0)
        return fail_msg(err, errcap, "duplicate team id '%s'", t->id);
    struct gw_team *nt = grow(b->teams, &b->capteams, b->nteams, sizeof(*b->teams));
    if (!nt)
        goto nomem;
    b->teams = nt;
    if (itab_reserve(&b->team_ix, 1) < 0)
        goto nomem;
    struct gw_team c = *t;
    c.id = bdup(b, t->id, "");
    c.name = bdup(b, t->name, "");
    c.metadata = bdup(b, t->metadata, "{}");
    if (!c.id || !c.name || !c.metadata)
        goto nomem;
    c.slot = slot_for(b, &t->budget, c.id);
    b->teams[b->nteams] = c;
    itab_put(&b->team_ix, h, (uint32_t)b->nteams);
    b->nteams++;
    return 0;
nomem:
    b->failed = true;
    return fail_msg(err, errcap, "out of memory");
}

/* Appends one digest entry; the caller checked it is new and reserved room. */
static void add_digest(struct gw_accounts_builder *b, const uint8_t *digest, uint32_t key, bool old,
                       int64_t until)
{
    struct kdig *d = &b->digs[b->ndigs];
    memcpy(d->digest, digest, GW_DIGEST_LEN);
    d->key = key;
    d->old = old;
    d->until = until;
    itab_put(&b->dig_ix, digest_hash(digest), (uint32_t)b->ndigs);
    b->ndigs++;
}

int gw_accounts_add_key(struct gw_accounts_builder *b, const struct gw_vkey *k, const char *team_id,
                        const uint8_t digest[GW_DIGEST_LEN], const uint8_t *old_digest,
                        int64_t old_until, char *err, size_t errcap)
{
    if (!k->id || !*k->id)
        return fail_msg(err, errcap, "key without an id");
    if (old_digest && memcmp(old_digest, digest, GW_DIGEST_LEN) == 0)
        return fail_msg(err, errcap, "key '%s': rotated digest equals the new one", k->id);
    uint32_t team = UINT32_MAX;
    if (team_id && *team_id) {
        struct gw_span tid = gw_span_cstr(team_id);
        int64_t ti = itab_find(&b->team_ix, span_hash(tid), team_eq, b->teams, &tid);
        if (ti < 0)
            return fail_msg(err, errcap, "key '%s': unknown team '%s'", k->id, team_id);
        team = (uint32_t)ti;
    }
    if (itab_find(&b->dig_ix, digest_hash(digest), dig_eq, b->digs, digest) >= 0 ||
        (old_digest &&
         itab_find(&b->dig_ix, digest_hash(old_digest), dig_eq, b->digs, old_digest) >= 0))
        return fail_msg(err, errcap, "key '%s': duplicate key digest", k->id);
    size_t ndig = old_digest ? 2 : 1;
    struct bkey *nk = grow(b->keys, &b->capkeys, b->nkeys, sizeof(*b->keys));
    if (!nk)
        goto nomem;
    b->keys = nk;
    struct kdig *nd = grow(b->digs, &b->capdigs, b->ndigs + ndig - 1, sizeof(*b->digs));
    if (!nd)
        goto nomem;
    b->digs = nd;
    if (itab_reserve(&b->dig_ix, ndig) < 0)
        goto nomem;

    struct gw_vkey c = *k;
    c.team = NULL;
    c.id = bdup(b, k->id, "");
    c.name = bdup(b, k->name, "");
    c.metadata = bdup(b, k->metadata, "{}");
    if (!c.id || !c.name || !c.metadata)
        goto nomem;
    c.models = NULL;
    if (k->nmodels) {
        const char **m = gw_arena_alloc(&b->a->arena, k->nmodels * sizeof(*m));
        if (!m)
            goto nomem;
        for (size_t i = 0; i < k->nmodels; i++) {
            m[i] = bdup(b, k->models[i], "");
            if (!m[i])
                goto nomem;
        }
        c.models = m;
    }
    c.slot = slot_for(b, &k->budget, c.id);

    uint32_t ki = (uint32_t)b->nkeys;
    add_digest(b, digest, ki, false, 0);
    if (old_digest)
        add_digest(b, old_digest, ki, true, old_until);
    b->keys[ki].k = c;
    b->keys[ki].team = team;
    b->nkeys++;
    return 0;
nomem:
    b->failed = true;
    return fail_msg(err, errcap, "out of memory");
}

int gw_accounts_set_price(struct gw_accounts_builder *b, const struct gw_price *p)
{
    if (!p->model || !*p->model)
        return -1;
    struct gw_price c = *p;
    c.model = bdup(b, p->model, "");
    c.source = bdup(b, p->source, "default");
    if (!c.model || !c.source)
        goto nomem;
    struct gw_span name = gw_span_cstr(c.model);
    uint32_t h = span_hash(name);
    int64_t i = itab_find(&b->price_ix, h, price_eq, b->prices, &name);
    if (i >= 0) {
        b->prices[i] = c;
        return 0;
    }
    struct gw_price *np = grow(b->prices, &b->capprices, b->nprices, sizeof(*b->prices));
    if (!np)
        goto nomem;
    b->prices = np;
    if (itab_reserve(&b->price_ix, 1) < 0)
        goto nomem;
    b->prices[b->nprices] = c;
    itab_put(&b->price_ix, h, (uint32_t)b->nprices);
    b->nprices++;
    return 0;
nomem:
    b->failed = true;
    return -1;
}

/* USD per 1M (< 0 = not set) to uUSD per 1M (-1 = not set). */
static int64_t default_rate(double usd)
{
    int64_t v;
    if (usd < 0 || !gw_price_usd_to_uusd(usd, &v))
        return -1;
    return v;
}

void gw_accounts_add_default_prices(struct gw_accounts_builder *b)
{
    for (size_t i = 0; i < gw_prices_default_count; i++) {
        const struct gw_price_default *d = &gw_prices_default[i];
        struct gw_price p = {
            .model = d->model,
            .input = default_rate(d->input),
            .output = default_rate(d->output),
            .cached_input = default_rate(d->cached_input),
            .cache_write = default_rate(d->cache_write),
            .embedding = -1,
            .source = "default",
        };
        /* Failure is recorded in b->failed; finish then returns NULL. */
        (void)gw_accounts_set_price(b, &p);
    }
}

static int cmp_price_ptr(const void *x, const void *y)
{
    const struct gw_price *const *a = x, *const *b = y;
    return strcmp((*a)->model, (*b)->model);
}

static uint32_t hash_i64(uint32_t h, int64_t v)
{
    unsigned char buf[8];
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)v >> (8 * i));
    return fnv1a(buf, sizeof(buf), h);
}

/*
 * "genai-prices@0.1.8" from gw_prices_default_source ("@pydantic/genai-prices
 * 0.1.8"), plus "+" and 8 hex digits of FNV-1a over every override in model
 * order (model, each rate, source), so any change of an override changes the
 * version and the same overrides always give the same one.
 */
static const char *make_price_version(struct gw_accounts_builder *b)
{
    const char *src = gw_prices_default_source;
    const char *slash = strchr(src, '/');
    if (src[0] == '@' && slash)
        src = slash + 1;
    char base[64];
    size_t n = 0;
    for (; src[n] && n < sizeof(base) - 1; n++)
        base[n] = src[n] == ' ' ? '@' : src[n];
    base[n] = '\0';

    size_t nover = 0;
    for (size_t i = 0; i < b->nprices; i++)
        nover += strcmp(b->prices[i].source, "default") != 0;
    if (nover == 0)
        return gw_arena_strdup(&b->a->arena, base);

    const struct gw_price **ov = malloc(nover * sizeof(*ov));
    if (!ov)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < b->nprices; i++) {
        if (strcmp(b->prices[i].source, "default") != 0)
            ov[j++] = &b->prices[i];
    }
    qsort(ov, nover, sizeof(*ov), cmp_price_ptr);
    uint32_t h = FNV_BASIS;
    for (size_t i = 0; i < nover; i++) {
        const struct gw_price *p = ov[i];
        h = fnv1a(p->model, strlen(p->model) + 1, h);
        h = hash_i64(h, p->input);
        h = hash_i64(h, p->output);
        h = hash_i64(h, p->cached_input);
        h = hash_i64(h, p->cache_write);
        h = hash_i64(h, p->embedding);
        h = fnv1a(p->source, strlen(p->source) + 1, h);
    }
    free(ov);
    char out[96];
    snprintf(out, sizeof(out), "%s+%08x", base, (unsigned)h);
    return gw_arena_strdup(&b->a->arena, out);
}

struct gw_accounts *gw_accounts_builder_finish(struct gw_accounts_builder *b)
{
    struct gw_accounts *res = NULL;
    if (b->failed)
        goto out;
    struct gw_accounts *a = b->a;
    struct gw_arena *ar = &a->arena;

    /* At least one element each, so that no array is NULL even when empty. */
    a->teams = gw_arena_alloc(ar, (b->nteams ? b->nteams : 1) * sizeof(*a->teams));
    a->keys = gw_arena_alloc(ar, (b->nkeys ? b->nkeys : 1) * sizeof(*a->keys));
    a->digs = gw_arena_alloc(ar, (b->ndigs ? b->ndigs : 1) * sizeof(*a->digs));
    a->prices = gw_arena_alloc(ar, (b->nprices ? b->nprices : 1) * sizeof(*a->prices));
    if (!a->teams || !a->keys || !a->digs || !a->prices)
        goto out;
    if (b->nteams)
        memcpy(a->teams, b->teams, b->nteams * sizeof(*a->teams));
    a->nteams = b->nteams;
    for (size_t i = 0; i < b->nkeys; i++) {
        a->keys[i] = b->keys[i].k;
        a->keys[i].team = b->keys[i].team == UINT32_MAX ? NULL : &a->teams[b->keys[i].team];
    }
    a->nkeys = b->nkeys;
    if (b->ndigs)
        memcpy(a->digs, b->digs, b->ndigs * sizeof(*a->digs));
    a->ndigs = b->ndigs;
    if (b->nprices)
        memcpy(a->prices, b->prices, b->nprices * sizeof(*a->prices));
    a->nprices = b->nprices;

    if (itab_init_arena(&a->key_ix, ar, a->ndigs) < 0 ||
        itab_init_arena(&a->price_ix, ar, a->nprices) < 0)
        goto out;
    for (size_t i = 0; i < a->ndigs; i++)
        itab_put(&a->key_ix, digest_hash(a->digs[i].digest), (uint32_t)i);
    for (size_t i = 0; i < a->nprices; i++)
        itab_put(&a->price_ix, span_hash(gw_span_cstr(a->prices[i].model)), (uint32_t)i);
    a->price_version = make_price_version(b);
    if (!a->price_version)
        goto out;
    res = a;
    b->a = NULL; /* the caller owns it now */
out:
    gw_accounts_builder_free(b);
    return res;
}
