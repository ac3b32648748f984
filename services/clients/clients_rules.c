/*  clients_rules - the client base's rules that need no database.
 *
 *  The name tables are indexed by the proto enum numbers (entry 0 is the
 *  unspecified value and has no name), so a new enum value needs a new row
 *  here and in the schema's CHECK.
 */
#include "clients_rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clients.pb-c.h"
#include "kt_validate.h"

#define S_YEAR_MIN 2000
#define S_YEAR_MAX 2100

static void s_why(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_why(char *why, size_t size, const char *fmt, ...)
{
    if (!why || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

//  `s` shown in a sentence: printable ASCII only, at most 32 bytes.
static const char *s_show(char *buf, size_t size, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size && n < 32; s++)
        buf[n++] = (*s >= 0x20 && *s < 0x7f && *s != '"') ? *s : '?';
    buf[n] = '\0';
    return buf;
}

static bool s_digits(const char *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int s_num(const char *s, size_t from, size_t to)
{
    int n = 0;
    for (size_t i = from; i < to; i++)
        n = n * 10 + (s[i] - '0');
    return n;
}

int clients_check_code(const char *what, const char *s, char *why, size_t why_size)
{
    char shown[40];
    size_t len = s ? strlen(s) : 0;
    if (len == 0) {
        s_why(why, why_size, "%s must not be empty", what);
        return -1;
    }
    if (len > CLIENTS_CODE_MAX) {
        s_why(why, why_size, "%s is too long: %zu bytes, at most %d", what, len, CLIENTS_CODE_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
        if (!ok) {
            s_why(why, why_size, "%s must be upper-case letters, digits and dashes: \"%s\"", what,
                  s_show(shown, sizeof shown, s));
            return -1;
        }
    }
    return 0;
}

//  Monday (Mon = 0) based weekday of a day count; 1970-01-01 was a Thursday.
static int s_weekday(int32_t days)
{
    int w = (int)((days + 3) % 7);
    return w < 0 ? w + 7 : w;
}

//  The Monday of ISO week 1 of `year`: the week holding 4 January.
static int32_t s_week1_monday(int year)
{
    int32_t jan4 = kt_days_from_civil(year, 1, 4);
    return jan4 - s_weekday(jan4);
}

static int s_weeks_in_year(int year)
{
    return (int)((s_week1_monday(year + 1) - s_week1_monday(year)) / 7);
}

int clients_parse_week(const char *what, const char *s, int32_t *monday, char *why, size_t why_size)
{
    char shown[40];
    if (!s || !*s) {
        s_why(why, why_size, "%s must not be empty", what);
        return -1;
    }
    if (strlen(s) != 8 || s[4] != '-' || s[5] != 'W' || !s_digits(s, 0, 4) || !s_digits(s, 6, 8)) {
        s_why(why, why_size, "%s must be an ISO week in the form YYYY-Www: \"%s\"", what,
              s_show(shown, sizeof shown, s));
        return -1;
    }
    int year = s_num(s, 0, 4), week = s_num(s, 6, 8);
    if (year < S_YEAR_MIN || year > S_YEAR_MAX) {
        s_why(why, why_size, "%s must be in the years 2000 to 2100: \"%s\"", what, s);
        return -1;
    }
    int weeks = s_weeks_in_year(year);
    if (week < 1 || week > weeks) {
        s_why(why, why_size, "%s does not exist: %d has weeks 1 to %d: \"%s\"", what, year, weeks,
              s);
        return -1;
    }
    *monday = s_week1_monday(year) + (week - 1) * 7;
    return 0;
}

void clients_week_of(int32_t days, char *buf, size_t size)
{
    int y, m, d;
    //  The ISO year is the calendar year of the week's Thursday.
    int32_t thursday = days - s_weekday(days) + 3;
    kt_civil_from_days(thursday, &y, &m, &d);
    int week = (int)((days - s_week1_monday(y)) / 7) + 1;
    snprintf(buf, size, "%04d-W%02d", y, week);
}

int clients_parse_month(const char *what, const char *s, int32_t *first, char *why, size_t why_size)
{
    char shown[40];
    if (!s || !*s) {
        s_why(why, why_size, "%s must not be empty", what);
        return -1;
    }
    if (strlen(s) != 7 || s[4] != '-' || !s_digits(s, 0, 4) || !s_digits(s, 5, 7)) {
        s_why(why, why_size, "%s must be a month in the form YYYY-MM: \"%s\"", what,
              s_show(shown, sizeof shown, s));
        return -1;
    }
    int year = s_num(s, 0, 4), month = s_num(s, 5, 7);
    if (month < 1 || month > 12) {
        s_why(why, why_size, "%s is not a month: \"%s\"", what, s);
        return -1;
    }
    if (year < S_YEAR_MIN || year > S_YEAR_MAX) {
        s_why(why, why_size, "%s must be in the years 2000 to 2100: \"%s\"", what, s);
        return -1;
    }
    *first = kt_days_from_civil(year, month, 1);
    return 0;
}

int clients_parse_time(const char *what, const char *s, char *why, size_t why_size)
{
    char shown[40];
    if (!s || !*s) {
        s_why(why, why_size, "%s must not be empty", what);
        return -1;
    }
    if (strlen(s) != 16 || s[10] != 'T' || s[13] != ':' || !s_digits(s, 11, 13) ||
        !s_digits(s, 14, 16)) {
        s_why(why, why_size, "%s must be a time in the form YYYY-MM-DDTHH:MM: \"%s\"", what,
              s_show(shown, sizeof shown, s));
        return -1;
    }
    char date[11];
    memcpy(date, s, 10);
    date[10] = '\0';
    int32_t days;
    if (kt_check_date(what, date, &days, why, why_size) != 0)
        return -1;
    if (s_num(s, 11, 13) > 23 || s_num(s, 14, 16) > 59) {
        s_why(why, why_size, "%s is not a time of day: \"%s\"", what, s);
        return -1;
    }
    return 0;
}

int clients_parse_day(const char *what, const char *s, int *month, int *day, char *why,
                      size_t why_size)
{
    static const int days_in[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char shown[40];
    if (!s || strlen(s) != 5 || s[2] != '-' || !s_digits(s, 0, 2) || !s_digits(s, 3, 5)) {
        s_why(why, why_size, "%s must be a day in the form MM-DD: \"%s\"", what,
              s_show(shown, sizeof shown, s ? s : ""));
        return -1;
    }
    int m = s_num(s, 0, 2), d = s_num(s, 3, 5);
    if (m < 1 || m > 12 || d < 1 || d > days_in[m - 1]) {
        s_why(why, why_size, "%s is not a day of the year: \"%s\"", what, s);
        return -1;
    }
    *month = m;
    *day = d;
    return 0;
}

int clients_check_birthday(const char *what, const char *s, int32_t today, char *why,
                           size_t why_size)
{
    //  kt_check_date knows 2000..2100 only; a birthday is usually older.
    char shown[40];
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !s_digits(s, 0, 4) ||
        !s_digits(s, 5, 7) || !s_digits(s, 8, 10)) {
        s_why(why, why_size, "%s must be a date in the form YYYY-MM-DD: \"%s\"", what,
              s_show(shown, sizeof shown, s ? s : ""));
        return -1;
    }
    int y = s_num(s, 0, 4), m = s_num(s, 5, 7), d = s_num(s, 8, 10);
    int32_t days = kt_days_from_civil(y, m, d);
    int cy, cm, cd;
    kt_civil_from_days(days, &cy, &cm, &cd);
    if (m < 1 || m > 12 || d < 1 || cy != y || cm != m || cd != d) {
        s_why(why, why_size, "%s is not a calendar date: \"%s\"", what, s);
        return -1;
    }
    if (y < 1900 || days > today) {
        s_why(why, why_size, "%s must be from 1900-01-01 up to today: \"%s\"", what, s);
        return -1;
    }
    return 0;
}

bool clients_complaint_move_ok(int from, int to)
{
    switch (from) {
    case KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN:
        return to == KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_IN_PROGRESS ||
               to == KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED ||
               to == KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_REJECTED;
    case KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_IN_PROGRESS:
        return to == KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED ||
               to == KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_REJECTED;
    default:
        return false;
    }
}

//  ---------------------------------------------------------------- names

static const char *s_name(const char *const *table, size_t n, int value)
{
    return value > 0 && (size_t)value < n ? table[value] : NULL;
}

static int s_from_name(const char *const *table, size_t n, const char *name)
{
    for (size_t i = 1; name && i < n; i++)
        if (strcmp(table[i], name) == 0)
            return (int)i;
    return -1;
}

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const s_statuses[] = {NULL, "prospect", "active", "blocked", "archived"};
static const char *const s_roles[] = {NULL, "manager", "lead_manager", "head"};
static const char *const s_activities[] = {NULL, "call", "visit", "meeting", "offer"};
static const char *const s_activity_statuses[] = {NULL, "planned", "done", "cancelled"};
static const char *const s_complaints[] = {NULL, "open", "in_progress", "resolved", "rejected"};
static const char *const s_policies[] = {NULL, "ship_available", "wait_for_all"};

const char *clients_status_name(int v)
{
    return s_name(s_statuses, S_COUNT(s_statuses), v);
}
int clients_status_from_name(const char *n)
{
    return s_from_name(s_statuses, S_COUNT(s_statuses), n);
}
const char *clients_role_name(int v)
{
    return s_name(s_roles, S_COUNT(s_roles), v);
}
int clients_role_from_name(const char *n)
{
    return s_from_name(s_roles, S_COUNT(s_roles), n);
}
const char *clients_activity_name(int v)
{
    return s_name(s_activities, S_COUNT(s_activities), v);
}
int clients_activity_from_name(const char *n)
{
    return s_from_name(s_activities, S_COUNT(s_activities), n);
}
const char *clients_activity_status_name(int v)
{
    return s_name(s_activity_statuses, S_COUNT(s_activity_statuses), v);
}
int clients_activity_status_from_name(const char *n)
{
    return s_from_name(s_activity_statuses, S_COUNT(s_activity_statuses), n);
}
const char *clients_complaint_name(int v)
{
    return s_name(s_complaints, S_COUNT(s_complaints), v);
}
int clients_complaint_from_name(const char *n)
{
    return s_from_name(s_complaints, S_COUNT(s_complaints), n);
}
const char *clients_short_policy_name(int v)
{
    return s_name(s_policies, S_COUNT(s_policies), v);
}
int clients_short_policy_from_name(const char *n)
{
    return s_from_name(s_policies, S_COUNT(s_policies), n);
}

bool clients_limit_needs_head(int64_t limit, const char *currency, bool has_check,
                              int64_t recommended, const char *check_currency)
{
    if (limit == 0)
        return false;
    if (!has_check || strcmp(currency, check_currency) != 0)
        return true;
    return limit > recommended;
}
