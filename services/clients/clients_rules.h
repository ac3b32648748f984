/*  clients_rules - the client base's rules that need no database: the shape
 *  of codes, weeks, months, times and days; which complaint moves are
 *  allowed; names of statuses and kinds as the schema stores them.
 *
 *  Pure (no I/O, no allocation); unit-tested by tests/unit/test_clients_rules.c.
 *  Checks return 0, or -1 with a sentence in PostgreSQL's style in `why`.
 */
#ifndef CLIENTS_RULES_H
#define CLIENTS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Lengths in bytes, as the schema's CHECKs have them.
#define CLIENTS_NAME_MAX     200
#define CLIENTS_ADDRESS_MAX  500
#define CLIENTS_SEGMENT_MAX  64
#define CLIENTS_CODE_MAX     32
#define CLIENTS_WHY_MAX      500
#define CLIENTS_NOTE_MAX     2000
#define CLIENTS_TEXT_MAX     4000
#define CLIENTS_CATEGORY_MAX 64
#define CLIENTS_CONTRACT_MAX 64
#define CLIENTS_HOLIDAYS_MAX 20
#define CLIENTS_QUERY_MAX    200

//  A client or branch code: 1 to 32 of A-Z, 0-9 and '-', not starting with '-'.
int clients_check_code(const char *what, const char *s, char *why, size_t why_size);

//  An ISO week "YYYY-Www" that exists (week 53 only in years that have one),
//  years 2000 to 2100. *monday = days since 1970-01-01 of its Monday.
int clients_parse_week(const char *what, const char *s, int32_t *monday, char *why,
                       size_t why_size);

//  The ISO week ("YYYY-Www") a day belongs to, into buf (at least 9 bytes).
void clients_week_of(int32_t days, char *buf, size_t size);

//  A month "YYYY-MM", years 2000 to 2100. *first = days of its first day.
int clients_parse_month(const char *what, const char *s, int32_t *first, char *why,
                        size_t why_size);

//  A time of day on a date: "YYYY-MM-DDTHH:MM" (the date as kt_check_date).
int clients_parse_time(const char *what, const char *s, char *why, size_t why_size);

//  A day of the year "MM-DD" (29 February allowed). Sets *month and *day.
int clients_parse_day(const char *what, const char *s, int *month, int *day, char *why,
                      size_t why_size);

//  A birthday "YYYY-MM-DD" from 1900-01-01 up to `today` (days since 1970).
int clients_check_birthday(const char *what, const char *s, int32_t today, char *why,
                           size_t why_size);

//  Complaint statuses, numbered as proto/clients.proto's ComplaintStatus.
//  True if a complaint may move from `from` to `to`: open -> in progress,
//  open or in progress -> resolved or rejected; nothing out of resolved or
//  rejected.
bool clients_complaint_move_ok(int from, int to);

//  Names the schema stores for the proto enums, and back (0 / -1 if unknown).
const char *clients_status_name(int status);
int clients_status_from_name(const char *name);
const char *clients_role_name(int role);
int clients_role_from_name(const char *name);
const char *clients_activity_name(int kind);
int clients_activity_from_name(const char *name);
const char *clients_activity_status_name(int status);
int clients_activity_status_from_name(const char *name);
const char *clients_complaint_name(int status);
int clients_complaint_from_name(const char *name);
const char *clients_short_policy_name(int policy);
int clients_short_policy_from_name(const char *name);

//  Whether setting `limit` needs a head: above the latest check's recommended
//  limit, in another currency than it, or with no check at all (and not 0).
bool clients_limit_needs_head(int64_t limit, const char *currency, bool has_check,
                              int64_t recommended, const char *check_currency);

#endif
