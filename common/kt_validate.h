/*  kt_validate - field checks for input that came from outside. Pure: no I/O.
 *
 *  Each check returns 0 when the value is acceptable, or -1 and writes a
 *  sentence in PostgreSQL's message style ("quantity must be positive: -3")
 *  into `why` (at most `why_size` bytes). The caller puts the field name and
 *  the sentence into its error reply.
 */
#ifndef KT_VALIDATE_H
#define KT_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool kt_utf8_valid(const char *s, size_t len);

//  Text: valid UTF-8, no control characters other than tab, length in bytes
//  within [min, max]. `what` names the field in the sentence.
int kt_check_text(const char *what, const char *s, size_t min, size_t max, char *why,
                  size_t why_size);

//  An id that must be present: > 0.
int kt_check_id(const char *what, int64_t id, char *why, size_t why_size);

//  A quantity in [1, max].
int kt_check_qty(const char *what, int64_t qty, int64_t max, char *why, size_t why_size);

//  An amount of money in [min, max] minor units.
int kt_check_amount(const char *what, int64_t units, int64_t min, int64_t max, char *why,
                    size_t why_size);

//  A percentage in basis points: [0, 10000].
int kt_check_bp(const char *what, int64_t bp, char *why, size_t why_size);

//  An e-mail address: one '@', a dotted domain, printable ASCII, <= 254 bytes.
int kt_check_email(const char *what, const char *s, char *why, size_t why_size);

//  A phone number: optional '+', then 7 to 15 digits, with spaces, dashes and
//  parentheses allowed between them.
int kt_check_phone(const char *what, const char *s, char *why, size_t why_size);

//  A tax id: 8 to 14 characters, digits and upper-case letters only.
int kt_check_tax_id(const char *what, const char *s, char *why, size_t why_size);

//  A calendar date "YYYY-MM-DD" between 2000-01-01 and 2100-12-31 that exists.
//  On success *days = days since 1970-01-01.
int kt_check_date(const char *what, const char *s, int32_t *days, char *why, size_t why_size);

//  An enum value that protobuf-c passed through: one of `values[0..n)`.
int kt_check_enum(const char *what, int value, const int *values, size_t n, char *why,
                  size_t why_size);

//  Escape LIKE metacharacters (% _ \) in s for use as a literal inside a LIKE
//  pattern with the default escape character. Returns a new string (caller
//  frees) or NULL on allocation failure.
char *kt_like_escape(const char *s);

//  Days since 1970-01-01 <-> "YYYY-MM-DD" (proleptic Gregorian).
int32_t kt_days_from_civil(int y, int m, int d);
void kt_civil_from_days(int32_t days, int *y, int *m, int *d);

#endif
