/*  receivables - what the receivables service's files share: the account
 *  row every money change locks first, the money movements used by more
 *  than one method or event (allocations, holds), and small helpers.
 *
 *  Lock order, everywhere: the client's accounts row (FOR UPDATE) first,
 *  then its reservations, invoices and settlements; the outbox last.
 */
#ifndef RECEIVABLES_H
#define RECEIVABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "kt_pg.h"
#include "kt_service.h"
#include "receivables_logic.h"

//  A client's account row as read.
typedef struct {
    int64_t client_id;
    char currency[4];       //  "" until terms are known
    bool has_terms;
    int64_t limit;
    int payment_days;
    int grace_days;
    int client_status;      //  clients.ClientStatus
    int64_t manager_id;
    int64_t branch_id;
    bool on_hold;
    char hold_as_of[11];    //  "" when none
    int64_t invoiced;
    int64_t paid;
    int64_t credited;
    int64_t open_amount;    //  sum of open invoice amounts
    int64_t unapplied;      //  unapplied payments and credit notes
    int64_t reserved;       //  live credit reservations
    char today[11];         //  the database's current_date
} rcv_account_t;

//  Read the account of `client_id`, locking it (FOR UPDATE) when `lock`.
//  0 found, 1 no such account, -1 database error (on pg).
int rcv_account_read(kt_pg_t *pg, int64_t client_id, bool lock, rcv_account_t *out);

//  Move the account's totals by the given deltas in one statement (so the
//  conservation CHECK holds at every statement). 0 or -1.
int rcv_account_move(kt_pg_t *pg, int64_t client_id, int64_t d_invoiced, int64_t d_paid,
                     int64_t d_credited, int64_t d_open, int64_t d_unapplied, int64_t d_reserved);

//  Write one line of the client's credit history. 0 or -1.
int rcv_history_add(kt_pg_t *pg, int64_t client_id, const char *kind, int64_t order_id,
                    int64_t amount, int64_t exposure, int64_t limit, const char *by,
                    const char *detail);

//  One allocation made.
typedef struct {
    int64_t invoice_id;
    int64_t amount;
} rcv_alloc_t;

#define RCV_MAX_ALLOCS 1000     //  allocations one settlement makes in one go, at most

//  Allocate up to `available` of settlement `settlement_id` (value date
//  `on_date`) to the client's open invoices: those in `named` (a PostgreSQL
//  array literal, in its order) when not NULL, else oldest due first.
//  Updates invoices and writes allocations; not the settlement or the
//  account. Fills out[0..*n) (at most max) and *allocated. 0 or -1.
int rcv_allocate(kt_pg_t *pg, int64_t client_id, int64_t settlement_id, const char *on_date,
                 int64_t available, const char *named, rcv_alloc_t *out, size_t max, size_t *n,
                 int64_t *allocated);

//  A new invoice takes what it can from the client's unapplied credit
//  (oldest first). Updates the settlements and the invoice; *allocated is
//  how much. 0 or -1.
int rcv_allocate_credit_to_invoice(kt_pg_t *pg, int64_t client_id, int64_t invoice_id,
                                   int64_t *allocated);

//  Set a settlement's unapplied amount. 0 or -1.
int rcv_settlement_set_unapplied(kt_pg_t *pg, int64_t settlement_id, int64_t unapplied);

//  Overdue past grace, as of `as_of` (YYYY-MM-DD), for a client: how many
//  invoices, their open amount, and up to `max` of their ids. 0 or -1.
int rcv_overdue(kt_pg_t *pg, int64_t client_id, int grace_days, const char *as_of,
                int64_t *count, int64_t *amount, int64_t *ids, size_t max, size_t *nids);

//  If the (locked) account is on hold and nothing holds it any more (no
//  invoice past grace as of the latest of `as_of` (NULL: none), the hold's
//  own date and today), lift the hold: account row and history. *lifted
//  says whether it did; the caller then writes the CreditHoldChanged event
//  last (rcv_hold_event).
int rcv_hold_lift_if_clear(kt_pg_t *pg, const rcv_account_t *acct, const char *as_of,
                           const char *by, bool *lifted);

//  Put the (locked) account on hold as of `as_of`, or off it: row and
//  history. 0 or -1.
int rcv_hold_set(kt_pg_t *pg, const rcv_account_t *acct, bool on, const char *as_of,
                 int64_t overdue, const char *by, const char *why);

//  Write CreditHoldChanged into the outbox. 0 or -1.
int rcv_hold_event(kt_pg_t *pg, int64_t client_id, bool on, const char *reason,
                   int64_t overdue, const char *currency);

//  The decimal text of v into buf (>= 24 bytes); returns buf.
const char *rcv_i64(char *buf, int64_t v);

//  True if the caller may see this client's figures: managers only their
//  own clients; heads, accountants, admins and services all.
bool rcv_may_see(const kt_call_t *call, int64_t manager_id);

//  Check an optional date field: "" gives `fallback` (copied); else a valid
//  date. Returns 0, or -1 after replying INVALID_ARGUMENT naming `field`.
int rcv_date_or_reply(kt_call_t *call, const char *field, const char *value,
                      const char *fallback, char out[11]);

//  The database's current date into out. 0 or -1 (database error).
int rcv_today(kt_pg_t *pg, char out[11]);

//  The dunning policy the process runs with; set once in start, before
//  any worker or actor reads it.
const rcv_policy_t *rcv_policy(void);
void rcv_policy_set(const rcv_policy_t *policy);

#endif
