/*  kt_validate - field checks for input that came from outside. Pure: no I/O.
 *
 *  Every check writes its sentence with snprintf, so `why` is always
 *  NUL-terminated and never overrun, whatever its size. Values are echoed in
 *  a sentence only after cleaning (printable ASCII, bounded), because the
 *  sentence travels on to replies and log lines.
 */
#include "kt_validate.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"

#define S_SHOW_MAX        68  //  longest echoed value, "..." included, plus NUL
#define S_EMAIL_MAX       254 //  RFC 5321 path limit
#define S_EMAIL_LOCAL_MAX 64  //  RFC 5321 local-part limit
#define S_PHONE_MIN       7   //  digits in a phone number
#define S_PHONE_MAX       15  //  E.164 limit
#define S_PHONE_BYTES     32  //  digits plus separators
#define S_TAX_ID_MIN      8
#define S_TAX_ID_MAX      14
#define S_YEAR_MIN        2000
#define S_YEAR_MAX        2100

static void s_why(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

//  Write a sentence into why, if the caller gave room for one.
static void s_why(char *why, size_t why_size, const char *fmt, ...)
{
    if (why == NULL || why_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
}

//  A bounded, printable copy of an outside value for a sentence.
static const char *s_show(char *buf, size_t size, const char *s)
{
    return kt_log_clean(buf, size, s, strlen(s));
}

bool kt_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        //  Unicode 15, table 3-7: the second byte's range depends on the
        //  first, which rules out overlongs (E0, F0), surrogates (ED) and
        //  code points past U+10FFFF (F4) without decoding.
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else
            return false; //  continuation byte, C0, C1 or F5..FF
        if (len - i - 1 < need)
            return false; //  truncated
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF)
                return false;
        i += need + 1;
    }
    return true;
}

//  True if valid UTF-8 s[0..len) holds a C0 control other than tab, DEL, or
//  a C1 control (U+0080..U+009F, encoded C2 80..C2 9F).
static bool s_has_control(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return true;
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
            return true;
    }
    return false;
}

static const char *s_bytes(size_t n)
{
    return n == 1 ? "byte" : "bytes";
}

int kt_check_text(const char *what, const char *s, size_t min, size_t max, char *why,
                  size_t why_size)
{
    size_t len = s != NULL ? strlen(s) : 0;
    if (len == 0 && min > 0) {
        s_why(why, why_size, "%s must not be empty", what);
        return -1;
    }
    if (len > max) {
        s_why(why, why_size, "%s is too long: %zu %s, at most %zu", what, len, s_bytes(len), max);
        return -1;
    }
    if (len < min) {
        s_why(why, why_size, "%s is too short: %zu %s, at least %zu", what, len, s_bytes(len), min);
        return -1;
    }
    if (len == 0)
        return 0;
    if (!kt_utf8_valid(s, len)) {
        s_why(why, why_size, "%s is not valid UTF-8", what);
        return -1;
    }
    if (s_has_control(s, len)) {
        s_why(why, why_size, "%s contains a control character", what);
        return -1;
    }
    return 0;
}

int kt_check_id(const char *what, int64_t id, char *why, size_t why_size)
{
    if (id == 0) {
        s_why(why, why_size, "%s is required", what);
        return -1;
    }
    if (id < 0) {
        s_why(why, why_size, "%s must be positive: %" PRId64, what, id);
        return -1;
    }
    return 0;
}

int kt_check_qty(const char *what, int64_t qty, int64_t max, char *why, size_t why_size)
{
    if (qty <= 0) {
        s_why(why, why_size, "%s must be positive: %" PRId64, what, qty);
        return -1;
    }
    if (qty > max) {
        s_why(why, why_size, "%s is too large: %" PRId64 ", at most %" PRId64, what, qty, max);
        return -1;
    }
    return 0;
}

int kt_check_amount(const char *what, int64_t units, int64_t min, int64_t max, char *why,
                    size_t why_size)
{
    if (units < min) {
        s_why(why, why_size, "%s is too small: %" PRId64 ", at least %" PRId64, what, units, min);
        return -1;
    }
    if (units > max) {
        s_why(why, why_size, "%s is too large: %" PRId64 ", at most %" PRId64, what, units, max);
        return -1;
    }
    return 0;
}

int kt_check_bp(const char *what, int64_t bp, char *why, size_t why_size)
{
    if (bp < 0 || bp > 10000) {
        s_why(why, why_size, "%s must be from 0 to 10000 basis points: %" PRId64, what, bp);
        return -1;
    }
    return 0;
}

static bool s_is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

//  A domain of two or more dot-separated labels of letters, digits and
//  hyphens, none empty and none starting or ending with a hyphen.
static bool s_domain_valid(const char *d)
{
    int labels = 0;
    const char *p = d;
    while (true) {
        const char *start = p;
        while (s_is_alnum(*p) || *p == '-')
            p++;
        if (p == start || *start == '-' || p[-1] == '-')
            return false;
        labels++;
        if (*p == '\0')
            break;
        if (*p != '.')
            return false;
        p++;
    }
    return labels >= 2;
}

int kt_check_email(const char *what, const char *s, char *why, size_t why_size)
{
    char shown[S_SHOW_MAX];
    size_t len = s != NULL ? strlen(s) : 0;
    if (len == 0) {
        s_why(why, why_size, "%s must not be empty", what);
        return -1;
    }
    if (len > S_EMAIL_MAX) {
        s_why(why, why_size, "%s is too long: %zu bytes, at most %d", what, len, S_EMAIL_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f) {
            s_why(why, why_size, "%s must be printable ASCII without spaces: \"%s\"", what,
                  s_show(shown, sizeof shown, s));
            return -1;
        }
    }
    const char *at = strchr(s, '@');
    if (at == NULL || strchr(at + 1, '@') != NULL) {
        s_why(why, why_size, "%s must contain exactly one @: \"%s\"", what,
              s_show(shown, sizeof shown, s));
        return -1;
    }
    size_t local = (size_t)(at - s);
    if (local == 0 || local > S_EMAIL_LOCAL_MAX) {
        s_why(why, why_size, "%s must have 1 to %d bytes before the @: \"%s\"", what,
              S_EMAIL_LOCAL_MAX, s_show(shown, sizeof shown, s));
        return -1;
    }
    if (!s_domain_valid(at + 1)) {
        s_why(why, why_size, "%s does not have a valid domain: \"%s\"", what,
              s_show(shown, sizeof shown, s));
        return -1;
    }
    return 0;
}

int kt_check_phone(const char *what, const char *s, char *why, size_t why_size)
{
    char shown[S_SHOW_MAX];
    size_t len = s != NULL ? strlen(s) : 0;
    if (len == 0) {
        s_why(why, why_size, "%s must not be empty", what);
        return -1;
    }
    if (len > S_PHONE_BYTES) {
        s_why(why, why_size, "%s is too long: %zu bytes, at most %d", what, len, S_PHONE_BYTES);
        return -1;
    }
    const char *p = s;
    if (*p == '+')
        p++;
    int digits = 0;
    bool in_parens = false, parens_ok = true;
    int parens_digits = 0;
    char last = '\0';
    for (; *p != '\0'; p++) {
        char c = *p;
        if (c >= '0' && c <= '9') {
            digits++;
            parens_digits++;
        } else if (c == '(') {
            if (in_parens)
                parens_ok = false;
            in_parens = true;
            parens_digits = 0;
        } else if (c == ')') {
            if (!in_parens || parens_digits == 0)
                parens_ok = false;
            in_parens = false;
        } else if (c != ' ' && c != '-') {
            s_why(why, why_size,
                  "%s may contain only digits, a leading +, spaces, dashes and parentheses: "
                  "\"%s\"",
                  what, s_show(shown, sizeof shown, s));
            return -1;
        }
        last = c;
    }
    //  Separators go between digits: the number may open with '(' but must
    //  start and end with a digit otherwise.
    char first = s[0] == '+' ? s[1] : s[0];
    if (!parens_ok || in_parens) {
        s_why(why, why_size, "%s has unbalanced parentheses: \"%s\"", what,
              s_show(shown, sizeof shown, s));
        return -1;
    }
    if (!(first == '(' || (first >= '0' && first <= '9')) || !(last >= '0' && last <= '9')) {
        s_why(why, why_size, "%s must start and end with a digit: \"%s\"", what,
              s_show(shown, sizeof shown, s));
        return -1;
    }
    if (digits < S_PHONE_MIN || digits > S_PHONE_MAX) {
        s_why(why, why_size, "%s must have %d to %d digits, not %d: \"%s\"", what, S_PHONE_MIN,
              S_PHONE_MAX, digits, s_show(shown, sizeof shown, s));
        return -1;
    }
    return 0;
}

int kt_check_tax_id(const char *what, const char *s, char *why, size_t why_size)
{
    char shown[S_SHOW_MAX];
    size_t len = s != NULL ? strlen(s) : 0;
    if (len == 0) {
        s_why(why, why_size, "%s must not be empty", what);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z'))) {
            s_why(why, why_size, "%s may contain only digits and upper-case letters: \"%s\"", what,
                  s_show(shown, sizeof shown, s));
            return -1;
        }
    }
    if (len < S_TAX_ID_MIN || len > S_TAX_ID_MAX) {
        s_why(why, why_size, "%s must have %d to %d characters, not %zu: \"%s\"", what,
              S_TAX_ID_MIN, S_TAX_ID_MAX, len, s_show(shown, sizeof shown, s));
        return -1;
    }
    return 0;
}

static bool s_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int s_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && s_leap(y) ? 29 : days[m - 1];
}

int kt_check_date(const char *what, const char *s, int32_t *days, char *why, size_t why_size)
{
    char shown[S_SHOW_MAX];
    if (s == NULL || *s == '\0') {
        s_why(why, why_size, "%s must not be empty", what);
        return -1;
    }
    //  Exactly YYYY-MM-DD: no sign, no spaces, no time, no short fields.
    bool shape = strlen(s) == 10;
    for (int i = 0; shape && i < 10; i++)
        shape = (i == 4 || i == 7) ? s[i] == '-' : s[i] >= '0' && s[i] <= '9';
    if (!shape) {
        s_why(why, why_size, "%s must be a date in the form YYYY-MM-DD: \"%s\"", what,
              s_show(shown, sizeof shown, s));
        return -1;
    }
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (m < 1 || m > 12 || d < 1 || d > s_days_in_month(y, m)) {
        s_why(why, why_size, "%s is not a calendar date: \"%s\"", what, s);
        return -1;
    }
    if (y < S_YEAR_MIN || y > S_YEAR_MAX) {
        s_why(why, why_size, "%s must be from 2000-01-01 to 2100-12-31: \"%s\"", what, s);
        return -1;
    }
    if (days != NULL)
        *days = kt_days_from_civil(y, m, d);
    return 0;
}

int kt_check_enum(const char *what, int value, const int *values, size_t n, char *why,
                  size_t why_size)
{
    for (size_t i = 0; i < n; i++)
        if (values[i] == value)
            return 0;
    s_why(why, why_size, "%s is not a known value: %d", what, value);
    return -1;
}

char *kt_like_escape(const char *s)
{
    assert(s);
    size_t len = strlen(s), extra = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
            extra++;
    char *out = malloc(len + extra + 1);
    if (out == NULL)
        return NULL;
    char *q = out;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
            *q++ = '\\';
        *q++ = s[i];
    }
    *q = '\0';
    return out;
}

/*  Howard Hinnant's days_from_civil / civil_from_days
 *  (http://howardhinnant.github.io/date_algorithms.html): years are shifted
 *  to start in March so the leap day is the last day of the year, and counted
 *  in 400-year eras of 146097 days. Worked in int64 so no intermediate can
 *  overflow; civil_from_days is exact for every int32 day count.
 */
int32_t kt_days_from_civil(int y, int m, int d)
{
    const int64_t yy = (int64_t)y - (m <= 2);
    const int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    const int64_t yoe = yy - era * 400;                                  //  [0, 399]
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; //  [0, 365]
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           //  [0, 146096]
    return (int32_t)(era * 146097 + doe - 719468);
}

void kt_civil_from_days(int32_t days, int *y, int *m, int *d)
{
    const int64_t z = (int64_t)days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);                          //  [0, 146096]
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; //  [0, 399]
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               //  [0, 365]
    const unsigned mp = (5 * doy + 2) / 153;                                    //  [0, 11]
    const unsigned dd = doy - (153 * mp + 2) / 5 + 1;                           //  [1, 31]
    const unsigned mm = mp < 10 ? mp + 3 : mp - 9;                              //  [1, 12]
    *y = (int)((int64_t)yoe + era * 400 + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}
