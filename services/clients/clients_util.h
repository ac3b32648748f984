/*  clients_util - what the clients service's handlers share: field checks
 *  that reply themselves (..._or_reply), the ownership rule, reading a card,
 *  and writing ClientChanged.
 */
#ifndef CLIENTS_UTIL_H
#define CLIENTS_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "clients.pb-c.h"
#include "clients_checks.h"
#include "clients_rules.h"
#include "clients_store.h"
#include "kt_service.h"
#include "kt_status.h"

#define CLIENTS_TX_ATTEMPTS      5
#define CLIENTS_DEFAULT_CURRENCY "EUR"

//  An int64 as text for a statement parameter; returns buf.
const char *clients_i64(char buf[24], int64_t v);

//  True for PostgreSQL's boolean "t".
bool clients_bool(const PGresult *res, int r, int c);

//  Text with kt_check_text's rules, refused as INVALID_ARGUMENT naming `field`.
//  Return 0, or -1 after replying.
int clients_text_or_reply(kt_call_t *call, const char *field, const char *s, size_t min,
                          size_t max);
//  An id that must be present (> 0).
int clients_id_or_reply(kt_call_t *call, const char *field, int64_t id);
//  Money: a valid currency and units in [0, max]. `field` names the message.
int clients_money_or_reply(kt_call_t *call, const char *field, const Kontor__Money *m);
//  A date "YYYY-MM-DD" or "" when `optional`.
int clients_date_or_reply(kt_call_t *call, const char *field, const char *s, bool optional);

//  The ownership rule: a manager changes only the clients assigned to them
//  (kt_call_acts_for); others are refused PERMISSION_DENIED, reason
//  not_owner. Returns 0, or -1 after replying.
int clients_owner_or_reply(kt_call_t *call, int64_t manager_id, const char *what);

//  Refuse because the client does not exist (NOT_FOUND, unknown_client).
int clients_no_client(kt_call_t *call, const char *field, int64_t id);

//  Refuse INVALID_ARGUMENT with what a check of clients_checks.h found. Returns -1.
int clients_fault_reply(kt_call_t *call, const clients_fault_t *fault);

//  Check the holidays of a create or update request. Returns 0 or -1 after replying.
int clients_holidays_or_reply(kt_call_t *call, Kontor__Clients__Holiday *const *holidays, size_t n);
//  Replace the client's holidays (inside the caller's transaction). -1 on a database error.
int clients_holidays_store(kt_pg_t *pg, int64_t client_id,
                           Kontor__Clients__Holiday *const *holidays, size_t n);

//  A card read from the database with its holidays. Strings point into the
//  results kept here: clear it after the reply is packed.
typedef struct {
    Kontor__Clients__ClientCard card;
    Kontor__Clients__Holiday *holidays;
    Kontor__Clients__Holiday **holiday_ptrs;
    PGresult *res;
    PGresult *hres;
} clients_card_t;

//  Read card `id`. Returns 0, 1 if there is no such client, -1 on a database error.
int clients_card_load(kt_pg_t *pg, int64_t id, clients_card_t *self);
void clients_card_clear(clients_card_t *self);

//  Write ClientChanged from a row of S_CHANGED_COLUMNS (id, name, status,
//  manager_id, branch_id, territory_id, key_account, version) into the
//  outbox, in the caller's transaction, as its last statement. -1 on error.
int clients_emit_changed(kt_pg_t *pg, const PGresult *res);

//  Today as days since 1970-01-01, by the database's clock; -1 on error.
int32_t clients_today(kt_pg_t *pg);

//  Rows into messages (strings borrowed from `res`): a row of the terms
//  statement (clients_terms.c), of a credit check (clients_terms.c), of a
//  complaint (clients_complaints.c).
void clients_terms_row(const PGresult *res, Kontor__Clients__Terms *t, Kontor__Money *limit,
                       Kontor__Clients__Contract *contract, Kontor__Clients__TermsReply *rep);
void clients_check_row(const PGresult *res, int r, Kontor__Clients__CreditCheck *c,
                       Kontor__Money *limit);
void clients_complaint_row(const PGresult *res, int r, Kontor__Clients__Complaint *c);

//  What a transaction body returns after a helper returned -1: -1 when a
//  statement failed (the transaction is aborted: kt_pg_tx may retry it and
//  the handler replies with kt_call_fail_pg), 1 when the helper refused.
int clients_tx_refused(kt_pg_t *pg);

#endif
