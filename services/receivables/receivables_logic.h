/*  receivables_logic - the receivables rules that need no I/O: credit
 *  checks, aging buckets, dunning levels, discipline figures, and the
 *  dunning configuration. Pure; unit-tested in tests/unit/test_receivables_logic.c.
 *
 *  All money is int64 minor units; every sum is checked (kt_money.h).
 */
#ifndef RECEIVABLES_LOGIC_H
#define RECEIVABLES_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RCV_MAX_LEVELS 8            //  escalation levels after due, at most
#define RCV_BUCKETS 5               //  current, 1-30, 31-60, 61-90, over 90

//  Dunning policy: a reminder `reminder_days` before due (0: none), then
//  level k (1..nlevels) once an invoice is `levels[k-1]` days past due.
typedef struct {
    int reminder_days;
    int levels[RCV_MAX_LEVELS];     //  strictly increasing, each >= 1
    int nlevels;
} rcv_policy_t;

//  The default policy: reminder 3 days before due; levels at 1, 15, 30 days.
void rcv_policy_default(rcv_policy_t *policy);

//  Parse escalation days "1,15,30" (strictly increasing, 1..3650, at most
//  RCV_MAX_LEVELS) into `policy`. 0, or -1 with a sentence in `why`.
int rcv_policy_parse_levels(const char *text, rcv_policy_t *policy, char *why, size_t why_size);

//  The levels as a PostgreSQL array literal "{1,15,30}" into buf.
void rcv_policy_levels_text(const rcv_policy_t *policy, char *buf, size_t size);

//  The dunning level an invoice due on day `due` (days since 1970-01-01)
//  has reached on day `as_of`: 0 for the reminder (due within
//  reminder_days, not yet due), k for escalation level k, or -1 for none.
int rcv_dunning_level(const rcv_policy_t *policy, int32_t due, int32_t as_of);

//  Aging bucket of an amount due on `due` as of `as_of`: 0 current (not
//  past due), 1: 1-30 days, 2: 31-60, 3: 61-90, 4: over 90.
int rcv_aging_bucket(int32_t due, int32_t as_of);

//  A credit decision's figures, all in the account's currency.
typedef struct {
    int64_t exposure;       //  open invoices - unapplied credit + live reservations
    int64_t after;          //  exposure + amount
    int64_t exceeded_by;    //  after - limit when over, else 0
} rcv_credit_t;

//  Compute exposure and whether `amount` fits under `limit`. Returns 0 when
//  it fits, 1 when it would exceed the limit (figures filled either way),
//  -1 when a sum would overflow.
int rcv_credit_check(int64_t open_invoices, int64_t unapplied, int64_t reserved, int64_t amount,
                     int64_t limit, rcv_credit_t *out);

//  Sum of qty[i] * price[i] over n lines, checked. 0, or -1 on overflow or a
//  negative product.
int rcv_lines_total(const int64_t *qty, const int64_t *price, size_t n, int64_t *total);

//  part / whole in basis points, rounded half up; 0 when whole is 0.
int32_t rcv_ratio_bp(int64_t part, int64_t whole);

//  sum / n rounded half up (sum, n >= 0); 0 when n is 0.
int32_t rcv_average_rounded(int64_t sum, int64_t n);

#endif
