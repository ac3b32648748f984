/*  clients_array - PostgreSQL array literals from C values (clients_array.h).
 */
#include "clients_array.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Room for `more` bytes (and a terminator); false once memory ran out.
static bool s_reserve(clients_array_t *self, size_t more)
{
    if (self->failed)
        return false;
    if (self->len + more + 1 <= self->cap)
        return true;
    size_t cap = self->cap ? self->cap : 256;
    while (cap < self->len + more + 1)
        cap *= 2;
    char *buf = realloc(self->buf, cap);
    if (!buf) {
        self->failed = true;
        return false;
    }
    self->buf = buf;
    self->cap = cap;
    return true;
}

static void s_put(clients_array_t *self, const char *s, size_t n)
{
    if (!s_reserve(self, n))
        return;
    memcpy(self->buf + self->len, s, n);
    self->len += n;
    self->buf[self->len] = '\0';
}

//  The separator before each element but the first.
static void s_next(clients_array_t *self)
{
    if (self->n++ > 0)
        s_put(self, ",", 1);
}

void clients_array_init(clients_array_t *self)
{
    memset(self, 0, sizeof *self);
    s_put(self, "{", 1);
}

void clients_array_text(clients_array_t *self, const char *s)
{
    s_next(self);
    if (!s) {
        s_put(self, "NULL", 4);
        return;
    }
    size_t n = strlen(s);
    if (!s_reserve(self, 2 * n + 2))
        return;
    char *out = self->buf + self->len;
    *out++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *out++ = '\\';
        *out++ = *s;
    }
    *out++ = '"';
    self->len = (size_t)(out - self->buf);
    self->buf[self->len] = '\0';
}

void clients_array_i64(clients_array_t *self, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    s_next(self);
    s_put(self, num, (size_t)n);
}

void clients_array_bool(clients_array_t *self, bool v)
{
    s_next(self);
    s_put(self, v ? "t" : "f", 1);
}

void clients_array_bytea(clients_array_t *self, const uint8_t *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    s_next(self);
    //  "\\x" inside the quotes: the array parser turns "\\" into "\", and
    //  bytea's input reads "\x..." as hex.
    if (!s_reserve(self, 2 * len + 5))
        return;
    char *out = self->buf + self->len;
    memcpy(out, "\"\\\\x", 4);
    out += 4;
    for (size_t i = 0; i < len; i++) {
        *out++ = hex[data[i] >> 4];
        *out++ = hex[data[i] & 15];
    }
    *out++ = '"';
    self->len = (size_t)(out - self->buf);
    self->buf[self->len] = '\0';
}

const char *clients_array_end(clients_array_t *self)
{
    s_put(self, "}", 1);
    return self->failed ? NULL : self->buf;
}

void clients_array_clear(clients_array_t *self)
{
    free(self->buf);
    memset(self, 0, sizeof *self);
}
