/*  kontor_receivables - `kontor receivables`: a client's balance, the aging
 *  of open amounts, a reconciliation statement, booking a payment, and the
 *  dunning run (the receivables service).
 *
 *  Money is typed as decimal text ("1500.00") and sent in minor units; a
 *  payment without --currency is in the client's own currency, which its
 *  balance names.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kontor_nearest.h"
#include "kontor_people.h"
#include "receivables.pb-c.h"

#define S_INVOICES_MAX 100 //  --invoice flags on one payment

static int s_balance(kp_ctx_t *c)
{
    Kontor__Receivables__BalanceRequest req = KONTOR__RECEIVABLES__BALANCE_REQUEST__INIT;
    if (kp_id(c, "client", 0, true, &req.client_id) < 0)
        return KONTOR_EXIT_USAGE;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "receivables", "Balance", &req.base,
                     &kontor__receivables__balance_reply__descriptor, KP_READ, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Receivables__BalanceReply *b = (const Kontor__Receivables__BalanceReply *)out;
        char m[KP_TEXT_MAX];
        printf("client %" PRId64 ": owes %s%s\n", b->client_id, kp_fmt_money(m, b->open),
               b->on_hold ? " (on credit hold)" : "");
        kp_field("invoiced", "%s", kp_fmt_money(m, b->invoiced));
        kp_field("paid", "%s", kp_fmt_money(m, b->paid));
        kp_field("credited", "%s", kp_fmt_money(m, b->credited));
        kp_field("open", "%s", kp_fmt_money(m, b->open));
        kp_field("open invoices", "%s in %" PRId64 " invoice%s", kp_fmt_money(m, b->open_invoices),
                 b->open_invoice_count, b->open_invoice_count == 1 ? "" : "s");
        kp_field("unapplied", "%s", kp_fmt_money(m, b->unapplied));
        kp_field("overdue", "%s", kp_fmt_money(m, b->overdue));
        kp_field("reserved", "%s", kp_fmt_money(m, b->reserved));
        kp_field("exposure", "%s", kp_fmt_money(m, b->exposure));
        kp_field("credit limit", "%s", kp_fmt_money(m, b->limit));
        kp_field("on hold", "%s", b->on_hold ? "yes" : "no");
        kp_field("terms", "pay in %d days, %d days' grace", b->payment_days, b->grace_days);
        kp_field("manager", "%" PRId64, b->manager_id);
        kp_field("branch", "%" PRId64, b->branch_id);
    }
    kt_msg_free(out);
    return rc;
}

static int s_aging(kp_ctx_t *c)
{
    Kontor__Receivables__AgingRequest req = KONTOR__RECEIVABLES__AGING_REQUEST__INIT;
    const char *as_of = NULL, *by = NULL;
    int group = KONTOR__RECEIVABLES__AGING_GROUP__AGING_BY_CLIENT;
    if (kp_date(c, "as-of", -1, false, &as_of) < 0 || kp_text(c, "by", -1, false, &by) < 0 ||
        kp_id(c, "client", -1, false, &req.client_id) < 0 ||
        kp_id(c, "manager", -1, false, &req.manager_id) < 0 ||
        kp_id(c, "branch", -1, false, &req.branch_id) < 0)
        return KONTOR_EXIT_USAGE;
    if (by) {
        static const char *const groups[] = {"client", "manager", "branch", "total"};
        group = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(by, groups[i]) == 0 ||
                (strncmp(by, "by-", 3) == 0 && strcmp(by + 3, groups[i]) == 0))
                group = i; //  AgingGroup's numbers, in this order
        if (group < 0) {
            kontor_nearest_t near;
            kontor_nearest_init(&near, by);
            for (int i = 0; i < 4; i++)
                kontor_nearest_add(&near, groups[i]);
            return kp_usage(c,
                            "--by: unknown grouping '%s'; did you mean '%s'? (one of client, "
                            "manager, branch or total)",
                            by, near.best);
        }
    }
    if (as_of)
        req.as_of = (char *)as_of;
    req.group_by = (Kontor__Receivables__AgingGroup)group;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "receivables", "Aging", &req.base,
                     &kontor__receivables__aging_reply__descriptor, KP_READ, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Receivables__AgingReply *r = (const Kontor__Receivables__AgingReply *)out;
        static const char *const groups[] = {"by client", "by manager", "by branch", "in total"};
        printf("aging as of %s, %s\n", r->as_of,
               r->group_by >= 0 && r->group_by < 4 ? groups[r->group_by] : "");
        const char *key =
            r->group_by == KONTOR__RECEIVABLES__AGING_GROUP__AGING_BY_MANAGER  ? "MANAGER>"
            : r->group_by == KONTOR__RECEIVABLES__AGING_GROUP__AGING_BY_BRANCH ? "BRANCH>"
            : r->group_by == KONTOR__RECEIVABLES__AGING_GROUP__AGING_TOTAL     ? "ALL"
                                                                               : "CLIENT>";
        kp_table_t *t = kp_table_new(key, "NOT DUE>", "1-30 DAYS>", "31-60 DAYS>", "61-90 DAYS>",
                                     "OVER 90>", "TOTAL>", NULL);
        for (size_t i = 0; i < r->n_rows; i++) {
            const Kontor__Receivables__AgingRow *a = r->rows[i];
            char m[6][KP_TEXT_MAX];
            if (r->group_by == KONTOR__RECEIVABLES__AGING_GROUP__AGING_TOTAL)
                kp_table_cell(t, "total");
            else
                kp_table_cell(t, "%" PRId64, a->key);
            kp_table_cell(t, "%s", kp_fmt_money(m[0], a->current));
            kp_table_cell(t, "%s", kp_fmt_money(m[1], a->days_1_30));
            kp_table_cell(t, "%s", kp_fmt_money(m[2], a->days_31_60));
            kp_table_cell(t, "%s", kp_fmt_money(m[3], a->days_61_90));
            kp_table_cell(t, "%s", kp_fmt_money(m[4], a->over_90));
            kp_table_cell(t, "%s", kp_fmt_money(m[5], a->total));
        }
        kp_table_print(&t, stdout, 0, "nothing open");
    }
    kt_msg_free(out);
    return rc;
}

//  The first day of this month (UTC), YYYY-MM-01.
static void s_month_start(char buf[11])
{
    kp_today(buf, 0);
    buf[8] = '0';
    buf[9] = '1';
}

static int s_statement(kp_ctx_t *c)
{
    Kontor__Receivables__StatementRequest req = KONTOR__RECEIVABLES__STATEMENT_REQUEST__INIT;
    const char *from = NULL, *to = NULL;
    char first[11];
    if (kp_id(c, "client", 0, true, &req.client_id) < 0 ||
        kp_date(c, "from", -1, false, &from) < 0 || kp_date(c, "to", -1, false, &to) < 0)
        return KONTOR_EXIT_USAGE;
    s_month_start(first);
    req.from = (char *)(from ? from : first);
    if (to)
        req.to = (char *)to;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "receivables", "Statement", &req.base,
                     &kontor__receivables__statement_reply__descriptor, KP_READ, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Receivables__StatementReply *s =
            (const Kontor__Receivables__StatementReply *)out;
        char m[3][KP_TEXT_MAX], k[KP_TEXT_MAX];
        printf("statement of client %" PRId64 " from %s to %s\n", s->client_id, s->from, s->to);
        kp_table_t *t = kp_table_new("DATE", "KIND", "DOCUMENT>", "REFERENCE", "DEBIT>", "CREDIT>",
                                     "BALANCE>", NULL);
        kp_table_cell(t, "%s", s->from);
        kp_table_cell(t, "opening balance");
        kp_table_cell(t, "%s", "");
        kp_table_cell(t, "%s", "");
        kp_table_cell(t, "%s", "");
        kp_table_cell(t, "%s", "");
        kp_table_cell(t, "%s", kp_fmt_money(m[0], s->opening));
        for (size_t i = 0; i < s->n_lines; i++) {
            const Kontor__Receivables__StatementLine *l = s->lines[i];
            kp_table_cell(t, "%s", l->date);
            kp_table_cell(
                t, "%s",
                kp_enum_name(k, &kontor__receivables__statement_line_kind__descriptor, l->kind));
            kp_table_cell(t, "%" PRId64, l->document_id);
            kp_table_cell(t, "%s", kp_or_dash(l->reference));
            kp_table_cell(t, "%s", l->debit && l->debit->units ? kp_fmt_money(m[0], l->debit) : "");
            kp_table_cell(t, "%s",
                          l->credit && l->credit->units ? kp_fmt_money(m[1], l->credit) : "");
            kp_table_cell(t, "%s", kp_fmt_money(m[2], l->balance));
        }
        kp_table_cell(t, "%s", s->to);
        kp_table_cell(t, "closing balance");
        kp_table_cell(t, "%s", "");
        kp_table_cell(t, "%s", "");
        kp_table_cell(t, "%s", "");
        kp_table_cell(t, "%s", "");
        kp_table_cell(t, "%s", kp_fmt_money(m[0], s->closing));
        kp_table_print(&t, stdout, 0, NULL);
    }
    kt_msg_free(out);
    return rc;
}

static int s_pay(kp_ctx_t *c)
{
    Kontor__Receivables__RecordPaymentRequest req =
        KONTOR__RECEIVABLES__RECORD_PAYMENT_REQUEST__INIT;
    Kontor__Money amount = KONTOR__MONEY__INIT;
    const char *currency = NULL, *date = NULL, *reference = NULL;
    int64_t invoices[S_INVOICES_MAX];
    int ninv = kp_count(c, "invoice");
    if (kp_id(c, "client", -1, true, &req.client_id) < 0 ||
        kp_money(c, "amount", true, &amount.units) < 0 ||
        kp_currency(c, "currency", false, &currency) < 0 ||
        kp_text(c, "reference", -1, true, &reference) < 0 ||
        kp_date(c, "date", -1, false, &date) < 0)
        return KONTOR_EXIT_USAGE;
    if (ninv > S_INVOICES_MAX)
        return kp_usage(c, "at most %d --invoice flags, not %d", S_INVOICES_MAX, ninv);
    for (int i = 0; i < ninv; i++) {
        const char *v = kp_nth(c, "invoice", i);
        char *end = NULL;
        long long id = strtoll(v, &end, 10);
        if (!*v || !end || *end || id <= 0)
            return kp_usage(c, "--invoice needs an invoice id (a whole number above 0), not '%s'",
                            v);
        invoices[i] = id;
    }
    ProtobufCMessage *out = NULL;
    int rc;
    char cur[4] = "";
    if (!currency) {
        //  The client's own currency: its balance says it.
        Kontor__Receivables__BalanceRequest breq = KONTOR__RECEIVABLES__BALANCE_REQUEST__INIT;
        breq.client_id = req.client_id;
        rc = kp_call(c, "receivables", "Balance", &breq.base,
                     &kontor__receivables__balance_reply__descriptor, KP_READ, &out);
        if (rc != 0) {
            kt_msg_free(out);
            return rc;
        }
        const Kontor__Receivables__BalanceReply *b = (const Kontor__Receivables__BalanceReply *)out;
        snprintf(cur, sizeof cur, "%s", b->limit ? b->limit->currency : "");
        kt_msg_free(out);
        out = NULL;
        if (!cur[0])
            return kp_usage(c, "the client's currency is not known: give --currency");
        currency = cur;
    }
    amount.currency = (char *)currency;
    req.amount = &amount;
    req.reference = (char *)reference;
    if (date)
        req.date = (char *)date;
    req.invoice_ids = invoices;
    req.n_invoice_ids = (size_t)ninv;
    //  The bank reference makes it happen once: safe to resend.
    rc = kp_call(c, "receivables", "RecordPayment", &req.base,
                 &kontor__receivables__record_payment_reply__descriptor, KP_WRITE_REPEAT, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Receivables__RecordPaymentReply *p =
            (const Kontor__Receivables__RecordPaymentReply *)out;
        char m[KP_TEXT_MAX], u[KP_TEXT_MAX];
        printf("payment %" PRId64 " of %s from client %" PRId64 " on %s, reference %s%s\n",
               p->payment_id, kp_fmt_money(m, p->amount), p->client_id, p->date, reference,
               p->duplicate ? " (recorded before: nothing new happened)" : "");
        kp_table_t *t = kp_table_new("INVOICE>", "PAID>", NULL);
        for (size_t i = 0; i < p->n_allocations; i++) {
            kp_table_cell(t, "%" PRId64, p->allocations[i]->invoice_id);
            kp_table_cell(t, "%s", kp_fmt_money(m, p->allocations[i]->amount));
        }
        kp_table_print(&t, stdout, 2, "no open invoice to pay");
        if (p->unapplied && p->unapplied->units)
            printf("unapplied: %s, kept as credit for the next invoice\n",
                   kp_fmt_money(u, p->unapplied));
        if (p->hold_lifted)
            printf("the client is off credit hold\n");
    }
    kt_msg_free(out);
    return rc;
}

static int s_dunning(kp_ctx_t *c)
{
    Kontor__Receivables__RunDunningRequest req = KONTOR__RECEIVABLES__RUN_DUNNING_REQUEST__INIT;
    const char *as_of = NULL;
    if (kp_date(c, "as-of", -1, false, &as_of) < 0)
        return KONTOR_EXIT_USAGE;
    if (as_of)
        req.as_of = (char *)as_of;
    ProtobufCMessage *out = NULL;
    //  Each notice is issued once ever, so a second run adds nothing: safe.
    int rc = kp_call(c, "receivables", "RunDunning", &req.base,
                     &kontor__receivables__run_dunning_reply__descriptor, KP_WRITE_REPEAT, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Receivables__RunDunningReply *d =
            (const Kontor__Receivables__RunDunningReply *)out;
        printf("dunning run %" PRId64 " as of %s\n", d->run_id, d->as_of);
        kp_field("notices", "%" PRId64 " (%" PRId64 " reminders before due)", d->notices,
                 d->reminders);
        kp_field("holds on", "%" PRId64, d->holds_on);
        kp_field("holds off", "%" PRId64, d->holds_off);
    }
    kt_msg_free(out);
    return rc;
}

static const kp_sub_t s_subs[] = {
    {"balance", "CLIENT",
     "what a client owes: invoiced, paid, open, overdue, limit, hold (receivables.Balance)",
     "client=", 1,
     "example:\n"
     "  kontor receivables balance 42\n",
     s_balance},
    {"aging", "[--as-of DATE] [--by G] [--client ID] [--manager ID] [--branch ID]",
     "open amounts by days past due (receivables.Aging)", "as-of= by= client= manager= branch=", 0,
     "Flags:\n"
     "  --as-of DATE   the day to age on (default today)\n"
     "  --by G         client (default), manager, branch or total\n"
     "  --client ID, --manager ID, --branch ID   only these (a manager sees their own)\n"
     "\n"
     "example:\n"
     "  kontor receivables aging --by manager\n",
     s_aging},
    {"statement", "CLIENT [--from DATE] [--to DATE]",
     "a client's reconciliation statement with running balance (receivables.Statement)",
     "client= from= to=", 1,
     "Flags:\n"
     "  --from DATE   first day (default: the first of this month)\n"
     "  --to DATE     last day (default today)\n"
     "\n"
     "example:\n"
     "  kontor receivables statement 42 --from 2026-01-01\n",
     s_statement},
    {"pay", "--client ID --amount AMOUNT [--currency CUR] --reference REF [FLAGS]",
     "book a payment, oldest due first or to the invoices named (receivables.RecordPayment)",
     "client= amount= currency= reference= date= invoice=*", 0,
     "Flags:\n"
     "  --client ID        the client who paid\n"
     "  --amount AMOUNT    decimal text: 1500.00\n"
     "  --currency CUR     EUR (default: the client's currency)\n"
     "  --reference REF    the bank reference; the same one again records nothing new\n"
     "  --date DATE        value date, not after today (default today)\n"
     "  --invoice ID       pay this invoice, repeated, in order (default: oldest due first)\n"
     "\n"
     "example:\n"
     "  kontor receivables pay --client 42 --amount 1500.00 --currency EUR --reference PAY-77\n",
     s_pay},
    {"dunning", "[--as-of DATE]",
     "run dunning now: reminders, notices, credit holds on and off (receivables.RunDunning)",
     "as-of=", 0,
     "Each notice is issued once ever, so running it again adds nothing.\n"
     "\n"
     "example:\n"
     "  kontor --as accountant-1 receivables dunning\n",
     s_dunning},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

static const kp_family_t s_family = {
    "receivables",
    "What clients owe and pay: balances, aging, statements, payments, dunning.\n"
    "Amounts are typed as decimal text (1500.00) and print as \"1500.00 EUR\".",
    s_subs,
    NULL,
};

static int s_run(const kontor_opts_t *opts)
{
    return kp_family_run(&s_family, opts);
}

const kontor_command_t kontor_receivables_command = {
    "receivables", "SUBCOMMAND [ARGS]", "receivables: balance, aging, statement, pay, dunning", "",
    s_run,         KONTOR_CMD_OWN_ARGS,
};
