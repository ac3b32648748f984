/*  clients_checks - field checks of cards, terms, contacts and credit
 *  checks, with field paths (clients_checks.h).
 *
 *  The sentences are those the single-client methods always gave (with an
 *  empty prefix they are unchanged); the path goes into `what` of the
 *  kt_validate checks, so a batch's sentence names the client's index too.
 */
#include "clients_checks.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clients_rules.h"
#include "kt_money.h"
#include "kt_validate.h"

//  At most a trillion units: far above any real limit, far below overflow.
#define S_MONEY_MAX INT64_C(1000000000000000)

//  The path prefix + name into fault->field; returns fault->field.
static const char *s_path(clients_fault_t *fault, const char *prefix, const char *name)
{
    snprintf(fault->field, sizeof fault->field, "%s%s", prefix, name);
    return fault->field;
}

static int s_fail(clients_fault_t *fault, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

//  The sentence into fault->why (the field is already set); returns -1.
static int s_fail(clients_fault_t *fault, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fault->why, sizeof fault->why, fmt, ap);
    va_end(ap);
    return -1;
}

static int s_text(const char *prefix, const char *name, const char *s, size_t min, size_t max,
                  clients_fault_t *fault)
{
    const char *path = s_path(fault, prefix, name);
    return kt_check_text(path, s, min, max, fault->why, sizeof fault->why) != 0 ? -1 : 0;
}

static int s_id(const char *prefix, const char *name, int64_t id, clients_fault_t *fault)
{
    const char *path = s_path(fault, prefix, name);
    return kt_check_id(path, id, fault->why, sizeof fault->why) != 0 ? -1 : 0;
}

int clients_holidays_check(const char *prefix, Kontor__Clients__Holiday *const *holidays,
                           size_t n, clients_fault_t *fault)
{
    char name[48];
    if (n > CLIENTS_HOLIDAYS_MAX) {
        s_path(fault, prefix, "holidays");
        return s_fail(fault, "too many holidays: %zu, at most %d", n, CLIENTS_HOLIDAYS_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "holidays[%zu].name", i);
        if (s_text(prefix, name, holidays[i]->name, 1, CLIENTS_NAME_MAX, fault) != 0)
            return -1;
        snprintf(name, sizeof name, "holidays[%zu].day", i);
        const char *path = s_path(fault, prefix, name);
        int month, day;
        if (clients_parse_day(path, holidays[i]->day, &month, &day, fault->why,
                              sizeof fault->why) != 0)
            return -1;
    }
    return 0;
}

int clients_card_check(const char *prefix, const clients_card_fields_t *f, clients_fault_t *fault)
{
    if (f->code[0]) {
        const char *path = s_path(fault, prefix, "code");
        if (clients_check_code(path, f->code, fault->why, sizeof fault->why) != 0)
            return -1;
    }
    if (s_text(prefix, "name", f->name, 1, CLIENTS_NAME_MAX, fault) != 0)
        return -1;
    const char *path = s_path(fault, prefix, "tax_id");
    if (kt_check_tax_id(path, f->tax_id, fault->why, sizeof fault->why) != 0)
        return -1;
    if (s_text(prefix, "legal_address", f->legal_address, 0, CLIENTS_ADDRESS_MAX, fault) != 0 ||
        s_text(prefix, "delivery_address", f->delivery_address, 0, CLIENTS_ADDRESS_MAX, fault) !=
            0 ||
        s_text(prefix, "segment", f->segment, 0, CLIENTS_SEGMENT_MAX, fault) != 0 ||
        s_id(prefix, "territory_id", f->territory_id, fault) != 0)
        return -1;
    return clients_holidays_check(prefix, f->holidays, f->n_holidays, fault);
}

int clients_money_check(const char *prefix, const char *name, const Kontor__Money *m,
                        clients_fault_t *fault)
{
    char sub[64];
    if (!m) {
        const char *path = s_path(fault, prefix, name);
        return s_fail(fault, "%s must be given", path);
    }
    snprintf(sub, sizeof sub, "%s.currency", name);
    if (!kt_currency_valid(m->currency)) {
        const char *path = s_path(fault, prefix, sub);
        return s_fail(fault, "%s must be three upper-case letters (ISO 4217)", path);
    }
    snprintf(sub, sizeof sub, "%s.units", name);
    const char *path = s_path(fault, prefix, sub);
    return kt_check_amount(path, m->units, 0, S_MONEY_MAX, fault->why, sizeof fault->why) != 0
               ? -1
               : 0;
}

int clients_date_check(const char *prefix, const char *name, const char *s, bool optional,
                       clients_fault_t *fault)
{
    int32_t days;
    if (optional && (!s || !*s))
        return 0;
    const char *path = s_path(fault, prefix, name);
    return kt_check_date(path, s, &days, fault->why, sizeof fault->why) != 0 ? -1 : 0;
}

int clients_terms_check(const char *prefix, const Kontor__Clients__SetTermsRequest *t,
                        bool why_required, clients_fault_t *fault)
{
    if (s_text(prefix, "contract_number", t->contract_number, 0, CLIENTS_CONTRACT_MAX, fault) !=
            0 ||
        clients_date_check(prefix, "contract_date", t->contract_date, true, fault) != 0 ||
        clients_date_check(prefix, "contract_until", t->contract_until, true, fault) != 0)
        return -1;
    if (t->contract_date[0] && t->contract_until[0] &&
        strcmp(t->contract_until, t->contract_date) < 0) {
        s_path(fault, prefix, "contract_until");
        return s_fail(fault, "%s %s is before contract_date %s", fault->field, t->contract_until,
                      t->contract_date);
    }
    if (strlen(t->price_column) != 1 || t->price_column[0] < 'A' || t->price_column[0] > 'E') {
        s_path(fault, prefix, "price_column");
        return s_fail(fault, "%s must be one of A, B, C, D, E", fault->field);
    }
    const char *path = s_path(fault, prefix, "discount_bp");
    if (kt_check_bp(path, t->discount_bp, fault->why, sizeof fault->why) != 0)
        return -1;
    if (t->payment_days < 0 || t->payment_days > 365) {
        s_path(fault, prefix, "payment_days");
        return s_fail(fault, "%s must be from 0 to 365: %d", fault->field, t->payment_days);
    }
    if (t->grace_days < 0 || t->grace_days > 365) {
        s_path(fault, prefix, "grace_days");
        return s_fail(fault, "%s must be from 0 to 365: %d", fault->field, t->grace_days);
    }
    if (clients_money_check(prefix, "credit_limit", t->credit_limit, fault) != 0)
        return -1;
    return s_text(prefix, "why", t->why, why_required ? 1 : 0, CLIENTS_WHY_MAX, fault);
}

int clients_contact_check(const char *prefix, const Kontor__Clients__Contact *c, int32_t today,
                          clients_fault_t *fault)
{
    if (s_text(prefix, "name", c->name, 1, CLIENTS_NAME_MAX, fault) != 0 ||
        s_text(prefix, "position", c->position, 0, CLIENTS_NAME_MAX, fault) != 0)
        return -1;
    const char *path = s_path(fault, prefix, "phone");
    if (c->phone[0] && kt_check_phone(path, c->phone, fault->why, sizeof fault->why) != 0)
        return -1;
    path = s_path(fault, prefix, "email");
    if (c->email[0] && kt_check_email(path, c->email, fault->why, sizeof fault->why) != 0)
        return -1;
    path = s_path(fault, prefix, "birthday");
    if (c->birthday[0] &&
        clients_check_birthday(path, c->birthday, today, fault->why, sizeof fault->why) != 0)
        return -1;
    fault->field[0] = '\0';
    return 0;
}

int clients_credit_check_check(const char *prefix, const Kontor__Clients__CreditCheck *c,
                               clients_fault_t *fault)
{
    if (clients_date_check(prefix, "checked_on", c->checked_on, false, fault) != 0 ||
        s_text(prefix, "sources", c->sources, 1, CLIENTS_WHY_MAX, fault) != 0 ||
        s_text(prefix, "note", c->note, 0, CLIENTS_NOTE_MAX, fault) != 0 ||
        clients_money_check(prefix, "recommended_limit", c->recommended_limit, fault) != 0)
        return -1;
    if (c->score < 0 || c->score > 1000) {
        s_path(fault, prefix, "score");
        return s_fail(fault, "%s must be from 0 to 1000: %d", fault->field, c->score);
    }
    if (c->grade[0] && (strlen(c->grade) != 1 || c->grade[0] < 'A' || c->grade[0] > 'D')) {
        s_path(fault, prefix, "grade");
        return s_fail(fault, "%s must be one of A, B, C, D, or empty", fault->field);
    }
    return 0;
}
