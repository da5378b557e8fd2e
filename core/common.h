/*
 * core/common.h — macros every file uses: assertions, container_of, branch hints,
 * and the poisoned libc calls. Include it after system headers: the
 * poison pragma must come after any system header that mentions those names.
 */
#ifndef GW_CORE_COMMON_H
#define GW_CORE_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_LIKELY(x) __builtin_expect(!!(x), 1)
#define GW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GW_MAX(a, b) ((a) > (b) ? (a) : (b))
#define GW_CACHELINE 64

#define gw_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Cheap invariant checks stay in release builds. */
#define GW_BUG_ON(cond)                                                                            \
    do {                                                                                           \
        if (GW_UNLIKELY(cond)) {                                                                   \
            fprintf(stderr, "BUG at %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#ifndef NDEBUG
#define GW_DEBUG_ASSERT(cond) GW_BUG_ON(!(cond))
#else
#define GW_DEBUG_ASSERT(cond) ((void)0)
#endif

#define GW_UNUSED __attribute__((unused))

#pragma GCC poison strcpy strcat sprintf vsprintf strtok gets

#endif
