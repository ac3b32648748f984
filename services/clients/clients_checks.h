/*  clients_checks - the field checks of a client's card, terms, contacts and
 *  credit check, shared by the methods that take them one at a time
 *  (CreateClient, UpdateClient, SetTerms, UpsertContact, RecordCreditCheck)
 *  and by ImportClients, which takes a thousand at once.
 *
 *  Pure (no I/O, no allocation); unit-tested by tests/unit/test_clients_checks.c.
 *  Each check takes a `prefix` for the field path ("" for a single call,
 *  "clients[417]." in a batch) and returns 0, or -1 with the field path and
 *  a sentence in PostgreSQL's style in *fault. The sentence names the field
 *  by its full path, so a refusal of a batch says which client it is about.
 */
#ifndef CLIENTS_CHECKS_H
#define CLIENTS_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clients.pb-c.h"
#include "kt_wire.h"

//  What is wrong, and where.
typedef struct {
    char field[KT_FIELD_MAX + 1]; //  path of the field at fault ("clients[3].tax_id")
    char why[KT_MESSAGE_MAX + 1]; //  the sentence
} clients_fault_t;

//  The editable fields of a card (CreateClient, UpdateClient, ImportClient).
typedef struct {
    const char *code; //  "" : made from the id
    const char *name;
    const char *tax_id;
    const char *legal_address;
    const char *delivery_address;
    const char *segment;
    int64_t territory_id;
    Kontor__Clients__Holiday *const *holidays;
    size_t n_holidays;
} clients_card_fields_t;

//  Most contacts one imported client brings.
#define CLIENTS_IMPORT_CONTACTS_MAX 10

//  The card: code (if given), name, tax id, addresses, segment, territory,
//  holidays.
int clients_card_check(const char *prefix, const clients_card_fields_t *f, clients_fault_t *fault);

//  Holidays: at most CLIENTS_HOLIDAYS_MAX, each with a name and an "MM-DD".
int clients_holidays_check(const char *prefix, Kontor__Clients__Holiday *const *holidays,
                           size_t n, clients_fault_t *fault);

//  Money `name`: present, a currency, units in [0, 10^15].
int clients_money_check(const char *prefix, const char *name, const Kontor__Money *m,
                        clients_fault_t *fault);

//  A date "YYYY-MM-DD", or "" when `optional`.
int clients_date_check(const char *prefix, const char *name, const char *s, bool optional,
                       clients_fault_t *fault);

//  Terms as SetTerms takes them, client_id aside: contract, price column,
//  discount, payment and grace days, credit limit, short policy, and `why`
//  (required when `why_required`).
int clients_terms_check(const char *prefix, const Kontor__Clients__SetTermsRequest *t,
                        bool why_required, clients_fault_t *fault);

//  A contact's own fields (id and client_id aside): name, position, phone,
//  e-mail, birthday (from 1900 to `today`, days since 1970).
int clients_contact_check(const char *prefix, const Kontor__Clients__Contact *c, int32_t today,
                          clients_fault_t *fault);

//  A credit check as recorded (id, client_id and checked_by aside): date,
//  sources, note, recommended limit, score, grade.
int clients_credit_check_check(const char *prefix, const Kontor__Clients__CreditCheck *c,
                               clients_fault_t *fault);

#endif
