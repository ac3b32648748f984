/*  kt_log - structured logs: one line per event, key=value, safe from any thread.
 *
 *  Each line is built in a stack buffer and handed to the kernel with one
 *  write(2) on stderr. The buffer is PIPE_BUF-sized (4 KiB), so lines from
 *  different threads never interleave when stderr is a pipe, and are written
 *  in one piece to a file opened with O_APPEND. Longer lines are cut and end
 *  in "...". The process name and level are plain globals: kt_log_init sets
 *  them once from main before any thread starts, and after that they are
 *  only read.
 */
#include "kt_log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_LINE_MAX 4096 //  one line, newline included; PIPE_BUF on Linux
#define S_NAME_MAX 32   //  process name shown on each line
#define S_REQ_MAX  72   //  request id shown on each line, after cleaning

static char s_process[S_NAME_MAX] = "kontor";
static kt_log_level_t s_level = KT_LOG_INFO;

static const char *const s_level_names[] = {"debug", "info", "warn", "error"};

void kt_log_init(const char *process, kt_log_level_t level)
{
    if (process != NULL && *process != '\0')
        kt_log_clean(s_process, sizeof s_process, process, strlen(process));
    if (level >= KT_LOG_DEBUG && level <= KT_LOG_ERROR)
        s_level = level;
}

int kt_log_level_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = KT_LOG_DEBUG; i <= KT_LOG_ERROR; i++)
        if (strcmp(s_level_names[i], name) == 0)
            return i;
    return -1;
}

//  Write all of buf, retrying on EINTR; a short write on a pipe or file only
//  happens when the reader is gone or the disk is full, and then there is
//  nobody to tell.
static void s_write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void kt_log(kt_log_level_t level, const char *request_id, const char *fmt, ...)
{
    if (level < s_level || level > KT_LOG_ERROR)
        return;
    //  Logging must not disturb the caller's errno, which it may be about to report.
    int saved_errno = errno;

    char line[S_LINE_MAX];
    size_t room = sizeof line - 1; //  the last byte is kept for the newline
    size_t len = 0;

    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    len += strftime(line, room, "%Y-%m-%dT%H:%M:%S", &tm);

    char req[S_REQ_MAX];
    int n;
    if (request_id != NULL) {
        kt_log_clean(req, sizeof req, request_id, strlen(request_id));
        n = snprintf(line + len, room - len, ".%03ldZ %s %s req=%s ", now.tv_nsec / 1000000L,
                     s_level_names[level], s_process, req);
    } else {
        n = snprintf(line + len, room - len, ".%03ldZ %s %s ", now.tv_nsec / 1000000L,
                     s_level_names[level], s_process);
    }
    if (n > 0)
        len += (size_t)n < room - len ? (size_t)n : room - len - 1;

    size_t msg_start = len;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(line + len, room - len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        if ((size_t)n < room - len)
            len += (size_t)n;
        else {
            //  Cut: vsnprintf filled the buffer up to room - 1; end it in "...".
            len = room - 1;
            memcpy(line + len - 3, "...", 3);
        }
    }
    //  Callers clean outside values, but a stray newline in a message must
    //  still not split the line: control characters become '?'.
    for (size_t i = msg_start; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            line[i] = '?';
    }
    line[len++] = '\n';
    s_write_all(line, len);
    errno = saved_errno;
}

char *kt_log_clean(char *dst, size_t size, const char *src, size_t len)
{
    if (size == 0)
        return dst;
    if (src == NULL) {
        src = "(null)";
        len = strlen(src);
    }
    size_t keep = len;
    bool cut = false;
    if (len > size - 1) {
        cut = true;
        keep = size - 1 >= 3 ? size - 1 - 3 : size - 1;
    }
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)src[i];
        bool bad = c < 0x20 || c >= 0x7f || c == '"' || c == '\'';
        dst[i] = bad ? '?' : (char)c;
    }
    size_t end = keep;
    if (cut && size - 1 >= 3) {
        memcpy(dst + end, "...", 3);
        end += 3;
    }
    dst[end] = '\0';
    return dst;
}
