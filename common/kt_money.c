/*  kt_money - money as int64 minor units with an ISO 4217 currency; no floats.
 *
 *  Arithmetic goes through the compiler's checked builtins, so overflow is
 *  reported instead of wrapping (signed wrap is undefined behaviour in C).
 *  Results are written only on success. Two minor digits are assumed
 *  throughout, which holds for every currency Kontor trades in.
 */
#include "kt_money.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_BP_WHOLE 10000 //  basis points in 100 %
#define S_MINOR    100   //  minor units in a major unit

bool kt_currency_valid(const char *code)
{
    if (code == NULL)
        return false;
    for (int i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return false;
    return code[3] == '\0';
}

int kt_add_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int kt_sub_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int kt_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

//  True if both amounts carry the same valid currency.
static bool s_same_currency(const kt_money_t *a, const kt_money_t *b)
{
    return kt_currency_valid(a->currency) && kt_currency_valid(b->currency) &&
           memcmp(a->currency, b->currency, sizeof a->currency) == 0;
}

int kt_money_add(const kt_money_t *a, const kt_money_t *b, kt_money_t *out)
{
    assert(a && b && out);
    int64_t units;
    if (!s_same_currency(a, b) || kt_add_i64(a->units, b->units, &units) != 0)
        return -1;
    //  out may be a or b: copy the currency before writing anything.
    kt_money_t r = {.units = units};
    memcpy(r.currency, a->currency, sizeof r.currency);
    *out = r;
    return 0;
}

int kt_money_sub(const kt_money_t *a, const kt_money_t *b, kt_money_t *out)
{
    assert(a && b && out);
    int64_t units;
    if (!s_same_currency(a, b) || kt_sub_i64(a->units, b->units, &units) != 0)
        return -1;
    kt_money_t r = {.units = units};
    memcpy(r.currency, a->currency, sizeof r.currency);
    *out = r;
    return 0;
}

int kt_money_line(int64_t unit_price, int64_t qty, int64_t *out)
{
    return kt_mul_i64(unit_price, qty, out);
}

int kt_money_discount(int64_t amount, int bp, int64_t *out)
{
    if (bp < 0 || bp > S_BP_WHOLE)
        return -1;
    //  |amount| * 10000 needs 78 bits; __int128 holds the product exactly.
    __int128 product = (__int128)amount * (S_BP_WHOLE - bp);
    __int128 quotient = product / S_BP_WHOLE;  //  truncates toward zero
    __int128 remainder = product % S_BP_WHOLE; //  same sign as product
    //  Half away from zero: a remainder of at least half a unit moves the
    //  result one further from zero, on either side.
    if (remainder >= S_BP_WHOLE / 2)
        quotient += 1;
    else if (remainder <= -(S_BP_WHOLE / 2))
        quotient -= 1;
    if (quotient > INT64_MAX || quotient < INT64_MIN)
        return -1;
    *out = (int64_t)quotient;
    return 0;
}

char *kt_money_format(int64_t units, const char *currency, char *buf, size_t size)
{
    assert(buf && size > 0);
    //  Negate in unsigned arithmetic, where -INT64_MIN is representable.
    uint64_t magnitude = units < 0 ? (uint64_t)0 - (uint64_t)units : (uint64_t)units;
    const char *sign = units < 0 ? "-" : "";
    if (currency != NULL && *currency != '\0')
        snprintf(buf, size, "%s%" PRIu64 ".%02u %s", sign, magnitude / S_MINOR,
                 (unsigned)(magnitude % S_MINOR), currency);
    else
        snprintf(buf, size, "%s%" PRIu64 ".%02u", sign, magnitude / S_MINOR,
                 (unsigned)(magnitude % S_MINOR));
    return buf;
}

int kt_money_parse(const char *text, int64_t *units)
{
    if (text == NULL)
        return -1;
    const char *p = text;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    //  Accumulate the magnitude in minor units; the negative range is one larger.
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t whole = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        if (__builtin_mul_overflow(whole, 10, &whole) ||
            __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
            return -1;
    if (digits == 0)
        return -1;
    uint64_t fraction = 0;
    if (*p == '.') {
        p++;
        int decimals = 0;
        for (; *p >= '0' && *p <= '9'; p++, decimals++) {
            if (decimals == 2)
                return -1;
            fraction = fraction * 10 + (uint64_t)(*p - '0');
        }
        if (decimals == 0)
            return -1;
        if (decimals == 1)
            fraction *= 10;
    }
    if (*p != '\0')
        return -1;
    uint64_t magnitude;
    if (__builtin_mul_overflow(whole, S_MINOR, &magnitude) ||
        __builtin_add_overflow(magnitude, fraction, &magnitude) || magnitude > limit)
        return -1;
    *units = negative ? (int64_t)((uint64_t)0 - magnitude) : (int64_t)magnitude;
    return 0;
}
