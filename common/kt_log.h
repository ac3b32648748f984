/*  kt_log - structured logs: one line per event, key=value, safe from any thread.
 *
 *  A line reads
 *      2026-11-22T09:45:19.123Z info orders req=7f3a.. placed order id=42 lines=7
 *  Messages are formatted by the caller's format string, which must be a
 *  literal: data never becomes a format. Values that came from outside are
 *  passed through kt_log_clean() first, so a line stays one line.
 */
#ifndef KT_LOG_H
#define KT_LOG_H

#include <stddef.h>

typedef enum { KT_LOG_DEBUG = 0, KT_LOG_INFO, KT_LOG_WARN, KT_LOG_ERROR } kt_log_level_t;

//  Set the process name shown on every line and the lowest level printed.
//  Call once from main before starting threads.
void kt_log_init(const char *process, kt_log_level_t level);

//  Level for a name ("debug", "info", "warn", "error"); -1 if unknown.
int kt_log_level_from_name(const char *name);

//  Write one line at the given level. `request_id` may be NULL.
void kt_log(kt_log_level_t level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define kt_debug(...) kt_log(KT_LOG_DEBUG, NULL, __VA_ARGS__)
#define kt_info(...)  kt_log(KT_LOG_INFO, NULL, __VA_ARGS__)
#define kt_warn(...)  kt_log(KT_LOG_WARN, NULL, __VA_ARGS__)
#define kt_error(...) kt_log(KT_LOG_ERROR, NULL, __VA_ARGS__)

//  Copy at most `size - 1` bytes of untrusted `src` into `dst` for a log line:
//  control characters, quotes and bytes >= 0x7f become '?', and an over-long
//  value ends in "...". Returns dst.
char *kt_log_clean(char *dst, size_t size, const char *src, size_t len);

#endif
