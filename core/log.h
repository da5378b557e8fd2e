/*
 * core/log.h — the one-line JSON log records that the control and store
 * threads write to stderr:
 *
 *     {"level":"<level>","thread":"<thread>","msg":"<message>"}
 *
 * Messages carry file names, YAML excerpts and database errors, so the
 * message is escaped to keep every line valid JSON (RFC 8259 §7): '"' and
 * '\' get a backslash, bytes below 0x20 become \u00XX. Bytes from 0x80 up
 * are copied as they are.
 */
#ifndef GW_CORE_LOG_H
#define GW_CORE_LOG_H

/* The longest message kept, before escaping; longer ones are cut there. */
#define GW_LOG_MSG_MAX 1023

/*
 * Formats fmt (printf) and writes one record, newline-terminated, to stderr
 * with a single fprintf, then flushes it, so lines from concurrent threads do
 * not interleave. thread and level are written verbatim: they must be
 * literals that need no escaping ("control", "store"; "info", "warn",
 * "error"). Callable from any thread that may block on stderr (never a
 * worker's hot path); it does not allocate and cannot fail.
 */
void gw_log_line(const char *thread, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
