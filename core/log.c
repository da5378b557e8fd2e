/*
 * core/log.c — JSON log lines on stderr. See log.h for the format and the
 * escaping contract.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/log.h"

void gw_log_line(const char *thread, const char *level, const char *fmt, ...)
{
    char msg[GW_LOG_MSG_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    /* A failed or truncated format still leaves msg NUL-terminated (or empty). */
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    /*
     * Worst case 6 bytes out per byte in (\u00XX). The loop stops while 7
     * bytes are left, so the longest escape and the NUL always fit; a message
     * of control bytes only is cut rather than overflowing.
     */
    char esc[GW_LOG_MSG_MAX * 2 + 160];
    size_t o = 0;
    static const char hex[] = "0123456789abcdef";
    for (const char *p = msg; *p && o + 7 < sizeof(esc); p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            esc[o++] = '\\';
            esc[o++] = (char)ch;
        } else if (ch < 0x20) {
            memcpy(esc + o, "\\u00", 4);
            esc[o + 4] = hex[ch >> 4];
            esc[o + 5] = hex[ch & 0xf];
            o += 6;
        } else {
            esc[o++] = (char)ch;
        }
    }
    esc[o] = '\0';
    fprintf(stderr, "{\"level\":\"%s\",\"thread\":\"%s\",\"msg\":\"%s\"}\n", level, thread, esc);
    fflush(stderr);
}
