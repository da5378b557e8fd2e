/*
 * core/arena.h — bump allocator for data that dies together: one request's
 * parsed headers and rewritten body, or one config snapshot.
 *
 * An arena is a list of chunks. The first chunk is kept across resets, so a
 * request that fits in it costs no allocation at all; larger requests add
 * chunks that reset returns. Memory is never freed piecemeal.
 */
#ifndef GW_CORE_ARENA_H
#define GW_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "core/span.h"

struct gw_arena_chunk;

struct gw_arena {
    struct gw_arena_chunk *head;  /* owns: the chunk being filled; ->next are older ones */
    struct gw_arena_chunk *first; /* owns: the kept chunk, last in the list */
    size_t chunk_size;            /* default size of a new chunk */
    size_t limit;                 /* total bytes this arena may hold (0 = unlimited) */
    size_t total;                 /* bytes currently held in chunks */
};

/* Sets up an empty arena; no memory is taken until the first allocation. */
void gw_arena_init(struct gw_arena *a, size_t chunk_size, size_t limit);
/*
 * Returns `size` bytes aligned to 16, or NULL when the arena's limit would be
 * passed or malloc fails. Memory is uninitialised.
 */
void *gw_arena_alloc(struct gw_arena *a, size_t size);
/* As gw_arena_alloc, zeroed. */
void *gw_arena_zalloc(struct gw_arena *a, size_t size);
/* Copies `len` bytes plus a NUL terminator; NULL on failure. */
char *gw_arena_strndup(struct gw_arena *a, const char *s, size_t len);
char *gw_arena_strdup(struct gw_arena *a, const char *s);
/*
 * Frees all chunks except the first, which is kept for reuse when it is no
 * larger than chunk_size (a larger one is freed too, so an arena that served
 * one large request does not keep its memory while idle).
 */
void gw_arena_reset(struct gw_arena *a);
/* Frees everything; the arena may be initialised again. */
void gw_arena_destroy(struct gw_arena *a);

#endif
