#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"

struct gw_arena_chunk {
    struct gw_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(16) unsigned char data[];
};

void gw_arena_init(struct gw_arena *a, size_t chunk_size, size_t limit)
{
    a->head = NULL;
    a->first = NULL;
    a->chunk_size = chunk_size ? chunk_size : 4096;
    a->limit = limit;
    a->total = 0;
}

static struct gw_arena_chunk *chunk_new(struct gw_arena *a, size_t need)
{
    size_t size = need > a->chunk_size ? need : a->chunk_size;
    if (a->limit && a->total + size > a->limit) {
        if (a->total + need > a->limit)
            return NULL;
        size = need;
    }
    struct gw_arena_chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    c->next = a->head;
    a->head = c;
    if (!a->first)
        a->first = c;
    a->total += size;
    return c;
}

void *gw_arena_alloc(struct gw_arena *a, size_t size)
{
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size)
        return NULL;
#ifdef GW_POOL_PASSTHROUGH
    /* Every allocation its own chunk, so the sanitizers see each object's bounds. */
    struct gw_arena_chunk *c = chunk_new(a, size ? size : 1);
    if (!c)
        return NULL;
    c->used = c->size;
    return c->data;
#else
    struct gw_arena_chunk *c = a->head;
    if (!c || c->size - c->used < need) {
        c = chunk_new(a, need);
        if (!c)
            return NULL;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
#endif
}

void *gw_arena_zalloc(struct gw_arena *a, size_t size)
{
    void *p = gw_arena_alloc(a, size);
    if (p)
        memset(p, 0, size);
    return p;
}

char *gw_arena_strndup(struct gw_arena *a, const char *s, size_t len)
{
    char *p = gw_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *gw_arena_strdup(struct gw_arena *a, const char *s)
{
    return gw_arena_strndup(a, s, strlen(s));
}

void gw_arena_reset(struct gw_arena *a)
{
    struct gw_arena_chunk *c = a->head;
    while (c && c != a->first) {
        struct gw_arena_chunk *next = c->next;
        a->total -= c->size;
        free(c);
        c = next;
    }
    a->head = a->first;
    if (a->first) {
#ifdef GW_POOL_PASSTHROUGH
        bool keep = false;
#else
        /* A first chunk larger than the default was sized for one large
         * object (a big request's rewritten body): keeping it would pin that
         * request's memory for as long as the connection idles. */
        bool keep = a->first->size <= a->chunk_size;
#endif
        if (keep) {
            a->first->used = 0;
            a->first->next = NULL;
        } else {
            a->total -= a->first->size;
            free(a->first);
            a->head = a->first = NULL;
        }
    }
}

void gw_arena_destroy(struct gw_arena *a)
{
    gw_arena_reset(a);
    free(a->first);
    a->head = a->first = NULL;
    a->total = 0;
}
