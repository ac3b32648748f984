/*  kt_money - money as int64 minor units with an ISO 4217 currency; no floats.
 *
 *  Every operation checks for overflow and returns -1 without touching the
 *  result when it would overflow or when currencies differ. Pure: no I/O.
 */
#ifndef KT_MONEY_H
#define KT_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t units;      //  minor units: cents, kopecks
    char currency[4];   //  "EUR", NUL-terminated
} kt_money_t;

//  True if `code` is three upper-case ASCII letters.
bool kt_currency_valid(const char *code);

//  *out = a + b; -1 on overflow.
int kt_add_i64(int64_t a, int64_t b, int64_t *out);
//  *out = a - b; -1 on overflow.
int kt_sub_i64(int64_t a, int64_t b, int64_t *out);
//  *out = a * b; -1 on overflow.
int kt_mul_i64(int64_t a, int64_t b, int64_t *out);

//  *out = a + b in a's currency; -1 on overflow or differing currencies.
int kt_money_add(const kt_money_t *a, const kt_money_t *b, kt_money_t *out);
//  *out = a - b; -1 on overflow or differing currencies.
int kt_money_sub(const kt_money_t *a, const kt_money_t *b, kt_money_t *out);

//  Unit price times quantity: *out = price * qty; -1 on overflow.
int kt_money_line(int64_t unit_price, int64_t qty, int64_t *out);

//  Apply a discount in basis points (100 bp = 1 %) to an amount, rounding half
//  away from zero to the nearest minor unit: amount * (10000 - bp) / 10000.
//  bp must be in [0, 10000]; -1 otherwise or on overflow.
int kt_money_discount(int64_t amount, int bp, int64_t *out);

//  Format units as "1234.56 EUR" (two minor digits) into buf; returns buf.
char *kt_money_format(int64_t units, const char *currency, char *buf, size_t size);

//  Parse "1234.56", "-0.5" or "12" (at most two decimals) into minor units; -1
//  if malformed or out of range.
int kt_money_parse(const char *text, int64_t *units);

#endif
