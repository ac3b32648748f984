/*  receivables_logic - the receivables rules that need no I/O.
 */
#include "receivables_logic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_money.h"

#define S_MAX_DAYS 3650

void rcv_policy_default(rcv_policy_t *policy)
{
    memset(policy, 0, sizeof *policy);
    policy->reminder_days = 3;
    policy->levels[0] = 1;
    policy->levels[1] = 15;
    policy->levels[2] = 30;
    policy->nlevels = 3;
}

int rcv_policy_parse_levels(const char *text, rcv_policy_t *policy, char *why, size_t why_size)
{
    int levels[RCV_MAX_LEVELS];
    int n = 0;
    const char *p = text;
    if (!p || !*p) {
        snprintf(why, why_size, "dunning levels must name at least one day");
        return -1;
    }
    while (*p) {
        if (n == RCV_MAX_LEVELS) {
            snprintf(why, why_size, "at most %d dunning levels: %s", RCV_MAX_LEVELS, text);
            return -1;
        }
        if (*p < '0' || *p > '9') {
            snprintf(why, why_size, "dunning levels must be days separated by commas: %s", text);
            return -1;
        }
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno != 0 || v < 1 || v > S_MAX_DAYS) {
            snprintf(why, why_size, "a dunning level must be 1 to %d days: %s", S_MAX_DAYS, text);
            return -1;
        }
        if (n > 0 && v <= levels[n - 1]) {
            snprintf(why, why_size, "dunning levels must increase: %s", text);
            return -1;
        }
        levels[n++] = (int) v;
        p = end;
        if (*p == ',') {
            p++;
            if (!*p) {
                snprintf(why, why_size, "dunning levels end with a comma: %s", text);
                return -1;
            }
        } else if (*p) {
            snprintf(why, why_size, "dunning levels must be days separated by commas: %s", text);
            return -1;
        }
    }
    memcpy(policy->levels, levels, sizeof levels);
    policy->nlevels = n;
    return 0;
}

void rcv_policy_levels_text(const rcv_policy_t *policy, char *buf, size_t size)
{
    size_t used = 0;
    used += (size_t) snprintf(buf, size, "{");
    for (int i = 0; i < policy->nlevels && used < size; i++)
        used += (size_t) snprintf(buf + used, size - used, "%s%d", i ? "," : "", policy->levels[i]);
    if (used < size)
        snprintf(buf + used, size - used, "}");
}

int rcv_dunning_level(const rcv_policy_t *policy, int32_t due, int32_t as_of)
{
    int64_t past = (int64_t) as_of - due;
    if (past < 0)
        return -past <= policy->reminder_days ? 0 : -1;
    int level = -1;
    for (int k = 0; k < policy->nlevels; k++)
        if (past >= policy->levels[k])
            level = k + 1;
    return level;
}

int rcv_aging_bucket(int32_t due, int32_t as_of)
{
    int64_t past = (int64_t) as_of - due;
    if (past <= 0)
        return 0;
    if (past <= 30)
        return 1;
    if (past <= 60)
        return 2;
    if (past <= 90)
        return 3;
    return 4;
}

int rcv_credit_check(int64_t open_invoices, int64_t unapplied, int64_t reserved, int64_t amount,
                     int64_t limit, rcv_credit_t *out)
{
    rcv_credit_t c = {0, 0, 0};
    if (kt_sub_i64(open_invoices, unapplied, &c.exposure) != 0
        || kt_add_i64(c.exposure, reserved, &c.exposure) != 0
        || kt_add_i64(c.exposure, amount, &c.after) != 0)
        return -1;
    if (c.after > limit && kt_sub_i64(c.after, limit, &c.exceeded_by) != 0)
        return -1;
    *out = c;
    return c.after > limit ? 1 : 0;
}

int rcv_lines_total(const int64_t *qty, const int64_t *price, size_t n, int64_t *total)
{
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t line;
        if (kt_money_line(price[i], qty[i], &line) != 0 || line < 0
            || kt_add_i64(sum, line, &sum) != 0)
            return -1;
    }
    *total = sum;
    return 0;
}

int32_t rcv_ratio_bp(int64_t part, int64_t whole)
{
    if (whole <= 0 || part <= 0)
        return 0;
    if (part >= whole)
        return 10000;
    //  part < whole, both below 2^63: part * 10000 may overflow for huge
    //  counts, so divide in 128 bits.
    __int128 num = (__int128) part * 10000 + whole / 2;
    return (int32_t) (num / whole);
}

int32_t rcv_average_rounded(int64_t sum, int64_t n)
{
    if (n <= 0 || sum <= 0)
        return 0;
    __int128 avg = ((__int128) sum + n / 2) / n;
    return avg > INT32_MAX ? INT32_MAX : (int32_t) avg;
}
