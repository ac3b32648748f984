/*  kontor_clients - the commands for people of the clients service:
 *
 *    kontor clients     add, show, find, assign, terms
 *    kontor schedule    plan, done, week       (a manager's calls and visits)
 *    kontor complaints  open, move, resolve, list
 *    kontor plan        set, report            (monthly plans against actuals)
 *
 *  `clients terms` with no change flags shows the terms; with any, it reads
 *  the current terms and contract (GetClient), changes what the flags name
 *  and sends the whole (SetTerms replaces them all). `complaints list` reads
 *  ListComplaints page after page (open and in progress unless told).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients.pb-c.h"
#include "kontor_people.h"
#include "kt_validate.h"

#define S_HOLIDAYS_MAX 50 //  --holiday flags on one card

//  ---------------------------------------------------------------- printing

static void s_print_card(const Kontor__Clients__ClientCard *k)
{
    char a[KP_TEXT_MAX], b[KP_TEXT_MAX];
    printf("client %" PRId64 ": %s (%s), %s%s\n", k->id, k->name, k->code,
           kp_enum_name(a, &kontor__clients__client_status__descriptor, k->status),
           k->key_account ? ", key account" : "");
    kp_field("tax id", "%s", kp_or_dash(k->tax_id));
    kp_field("legal address", "%s", kp_or_dash(k->legal_address));
    kp_field("delivery address", "%s", kp_or_dash(k->delivery_address));
    kp_field("segment", "%s", kp_or_dash(k->segment));
    kp_field("territory", "%" PRId64 " (branch %" PRId64 ")", k->territory_id, k->branch_id);
    kp_field("manager", "%" PRId64 " (found by %s)", k->manager_id,
             kp_fmt_id(b, k->found_by_manager_id));
    kp_field("created", "%s", kp_fmt_time(a, k->created_at_ms));
    kp_field("changed", "%s (version %" PRId64 ")", kp_fmt_time(b, k->changed_at_ms), k->version);
    for (size_t i = 0; i < k->n_holidays; i++)
        kp_field("holiday", "%s %s", k->holidays[i]->day, k->holidays[i]->name);
}

static void s_print_terms(const Kontor__Clients__TermsReply *r)
{
    if (!r || !r->terms)
        return;
    const Kontor__Clients__Terms *t = r->terms;
    char a[KP_TEXT_MAX], b[KP_TEXT_MAX], d[KP_TEXT_MAX];
    printf("terms of client %" PRId64 " (version %" PRId64 "):\n", t->client_id, t->version);
    kp_field("price column", "%s", kp_or_dash(t->price_column));
    kp_field("discount", "%s", kp_fmt_bp(a, t->discount_bp));
    kp_field("payment", "in %d days, %d days' grace", t->payment_days, t->grace_days);
    kp_field("credit limit", "%s", kp_fmt_money(b, t->credit_limit));
    kp_field("short policy", "%s",
             kp_enum_name(d, &kontor__clients__short_policy__descriptor, t->short_policy));
    if (r->contract && (r->contract->number[0] || r->contract->date[0]))
        kp_field("contract", "%s%s%s%s%s", kp_or_dash(r->contract->number),
                 r->contract->date[0] ? " of " : "", r->contract->date,
                 r->contract->until[0] ? " until " : "", r->contract->until);
    if (r->changed_by[0])
        kp_field("changed", "%s by %s: %s", kp_fmt_time(a, r->changed_at_ms), r->changed_by,
                 kp_or_dash(r->why));
}

static void s_print_complaints(Kontor__Clients__Complaint *const *list, size_t n, const char *empty)
{
    kp_table_t *t = kp_table_new("COMPLAINT>", "CLIENT>", "STATUS", "CATEGORY", "ORDER>",
                                 "SHIPMENT>", "OPENED", "BY", "DESCRIPTION", NULL);
    for (size_t i = 0; i < n; i++) {
        const Kontor__Clients__Complaint *x = list[i];
        char a[KP_TEXT_MAX], b[KP_TEXT_MAX], d[KP_TEXT_MAX], e[KP_TEXT_MAX];
        kp_table_cell(t, "%" PRId64, x->id);
        kp_table_cell(t, "%" PRId64, x->client_id);
        kp_table_cell(t, "%s",
                      kp_enum_name(a, &kontor__clients__complaint_status__descriptor, x->status));
        kp_table_cell(t, "%s", x->category);
        kp_table_cell(t, "%s", kp_fmt_id(b, x->order_id));
        kp_table_cell(t, "%s", kp_fmt_id(d, x->shipment_id));
        kp_table_cell(t, "%s", kp_fmt_time(e, x->opened_at_ms));
        kp_table_cell(t, "%s", kp_or_dash(x->opened_by));
        kp_table_cell(t, "%s", x->description);
    }
    kp_table_print(&t, stdout, 2, empty);
}

static void s_print_view(const Kontor__Clients__ClientView *v)
{
    char a[KP_TEXT_MAX], b[KP_TEXT_MAX], d[KP_TEXT_MAX];
    if (v->card)
        s_print_card(v->card);
    s_print_terms(v->terms);
    printf("contacts:\n");
    kp_table_t *t =
        kp_table_new("CONTACT>", "NAME", "POSITION", "PHONE", "EMAIL", "DECIDES", "BIRTHDAY", NULL);
    for (size_t i = 0; i < v->n_contacts; i++) {
        const Kontor__Clients__Contact *x = v->contacts[i];
        kp_table_cell(t, "%" PRId64, x->id);
        kp_table_cell(t, "%s", x->name);
        kp_table_cell(t, "%s", kp_or_dash(x->position));
        kp_table_cell(t, "%s", kp_or_dash(x->phone));
        kp_table_cell(t, "%s", kp_or_dash(x->email));
        kp_table_cell(t, "%s", x->decision_maker ? "yes" : "no");
        kp_table_cell(t, "%s", kp_or_dash(x->birthday));
    }
    kp_table_print(&t, stdout, 2, "none");
    if (v->latest_credit_check) {
        const Kontor__Clients__CreditCheck *k = v->latest_credit_check;
        printf("latest credit check: %s by %s, score %d%s%s, recommended limit %s%s%s\n",
               k->checked_on, k->checked_by, k->score, k->grade[0] ? ", grade " : "", k->grade,
               kp_fmt_money(a, k->recommended_limit), k->note[0] ? ": " : "", k->note);
    }
    printf("open complaints:\n");
    s_print_complaints(v->open_complaints, v->n_open_complaints, "none");
    printf("last orders:\n");
    t = kp_table_new("ORDER>", "TOTAL>", "CONFIRMED", "MANAGER>", NULL);
    for (size_t i = 0; i < v->n_last_orders; i++) {
        kp_table_cell(t, "%" PRId64, v->last_orders[i]->order_id);
        kp_table_cell(t, "%s", kp_fmt_money(a, v->last_orders[i]->total));
        kp_table_cell(t, "%s", kp_fmt_time(b, v->last_orders[i]->confirmed_at_ms));
        kp_table_cell(t, "%" PRId64, v->last_orders[i]->manager_id);
    }
    kp_table_print(&t, stdout, 2, "none");
    printf("balances:\n");
    t = kp_table_new("INVOICED>", "PAID>", "OPEN>", "LAST INVOICE", "LAST PAYMENT", NULL);
    for (size_t i = 0; i < v->n_balances; i++) {
        const Kontor__Clients__BalanceSummary *s = v->balances[i];
        char e[KP_TEXT_MAX];
        kp_table_cell(t, "%s", kp_fmt_units(a, s->invoiced, s->currency));
        kp_table_cell(t, "%s", kp_fmt_units(b, s->paid, s->currency));
        kp_table_cell(t, "%s", kp_fmt_units(d, s->open, s->currency));
        kp_table_cell(t, "%s", kp_fmt_time(e, s->last_invoice_at_ms));
        kp_table_cell(t, "%s", kp_fmt_time(e, s->last_payment_at_ms));
    }
    kp_table_print(&t, stdout, 2, "none");
    printf("assignments:\n");
    t = kp_table_new("AT", "FROM>", "TO>", "BY", "WHY", NULL);
    for (size_t i = 0; i < v->n_assignments; i++) {
        const Kontor__Clients__Assignment *x = v->assignments[i];
        kp_table_cell(t, "%s", kp_fmt_time(a, x->at_ms));
        kp_table_cell(t, "%s", kp_fmt_id(b, x->from_manager_id));
        kp_table_cell(t, "%" PRId64, x->to_manager_id);
        kp_table_cell(t, "%s", kp_or_dash(x->by));
        kp_table_cell(t, "%s", kp_or_dash(x->why));
    }
    kp_table_print(&t, stdout, 2, "none");
}

//  GetClient: the client's whole view into *out (free with kt_msg_free).
static int s_get_view(kp_ctx_t *c, int64_t client_id, ProtobufCMessage **out)
{
    Kontor__Clients__ClientRequest req = KONTOR__CLIENTS__CLIENT_REQUEST__INIT;
    req.client_id = client_id;
    return kp_call(c, "clients", "GetClient", &req.base, &kontor__clients__client_view__descriptor,
                   KP_READ, out);
}

//  ---------------------------------------------------------------- clients

//  --holiday "NAME:MM-DD" flags into holidays (caller frees both arrays).
static int s_holidays(kp_ctx_t *c, Kontor__Clients__Holiday **mem, Kontor__Clients__Holiday ***ptrs,
                      size_t *n)
{
    int count = kp_count(c, "holiday");
    *n = 0;
    if (count > S_HOLIDAYS_MAX)
        return kp_usage(c, "at most %d --holiday flags, not %d", S_HOLIDAYS_MAX, count);
    *mem = calloc((size_t)count + 1, sizeof **mem);
    *ptrs = calloc((size_t)count + 1, sizeof **ptrs);
    if (!*mem || !*ptrs)
        return kp_usage(c, "out of memory");
    for (int i = 0; i < count; i++) {
        const char *v = kp_nth(c, "holiday", i);
        const char *colon = strrchr(v, ':');
        if (!colon || colon == v || strlen(colon + 1) != 5 || colon[3] != '-')
            return kp_usage(c, "--holiday needs NAME:MM-DD (\"Founders' day:06-15\"), not '%s'", v);
        Kontor__Clients__Holiday *h = &(*mem)[i];
        kontor__clients__holiday__init(h);
        //  The name is the text before the last colon: cut a copy of it.
        h->name = strndup(v, (size_t)(colon - v));
        h->day = (char *)colon + 1;
        if (!h->name)
            return kp_usage(c, "out of memory");
        (*ptrs)[i] = h;
        *n = (size_t)i + 1;
    }
    return 0;
}

static void s_holidays_free(Kontor__Clients__Holiday *mem, Kontor__Clients__Holiday **ptrs,
                            size_t n)
{
    for (size_t i = 0; mem && i < n; i++)
        free(mem[i].name);
    free(mem);
    free(ptrs);
}

static int s_add(kp_ctx_t *c)
{
    Kontor__Clients__CreateClientRequest req = KONTOR__CLIENTS__CREATE_CLIENT_REQUEST__INIT;
    const char *name = NULL, *tax = NULL, *code = NULL, *legal = NULL, *address = NULL,
               *segment = NULL, *currency = NULL;
    int status = 0;
    Kontor__Clients__Holiday *hmem = NULL, **hptrs = NULL;
    size_t nh = 0;
    ProtobufCMessage *out = NULL;
    int rc = KONTOR_EXIT_USAGE;
    if (kp_text(c, "name", -1, true, &name) < 0 || kp_text(c, "tax-id", -1, true, &tax) < 0 ||
        kp_id(c, "territory", -1, true, &req.territory_id) < 0 ||
        kp_text(c, "code", -1, false, &code) < 0 ||
        kp_text(c, "legal-address", -1, false, &legal) < 0 ||
        kp_text(c, "address", -1, false, &address) < 0 ||
        kp_text(c, "segment", -1, false, &segment) < 0 ||
        kp_enum(c, "status", -1, &kontor__clients__client_status__descriptor, false, &status) < 0 ||
        kp_id(c, "manager", -1, false, &req.manager_id) < 0 ||
        kp_currency(c, "currency", false, &currency) < 0)
        goto done;
    if ((rc = s_holidays(c, &hmem, &hptrs, &nh)) != 0)
        goto done;
    req.name = (char *)name;
    req.tax_id = (char *)tax;
    if (code)
        req.code = (char *)code;
    if (legal)
        req.legal_address = (char *)legal;
    if (address)
        req.delivery_address = (char *)address;
    if (segment)
        req.segment = (char *)segment;
    if (currency)
        req.currency = (char *)currency;
    req.status = (Kontor__Clients__ClientStatus)status;
    req.key_account = kp_switch(c, "key-account");
    req.holidays = hptrs;
    req.n_holidays = nh;
    rc = kp_call(c, "clients", "CreateClient", &req.base, &kontor__clients__client_card__descriptor,
                 KP_WRITE, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        printf("created:\n");
        s_print_card((const Kontor__Clients__ClientCard *)out);
    }
done:
    kt_msg_free(out);
    s_holidays_free(hmem, hptrs, nh);
    return rc;
}

static int s_show(kp_ctx_t *c)
{
    int64_t id;
    if (kp_id(c, "client", 0, true, &id) < 0)
        return KONTOR_EXIT_USAGE;
    ProtobufCMessage *out = NULL;
    int rc = s_get_view(c, id, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0)
        s_print_view((const Kontor__Clients__ClientView *)out);
    kt_msg_free(out);
    return rc;
}

static int s_find(kp_ctx_t *c)
{
    Kontor__Clients__SearchClientsRequest req = KONTOR__CLIENTS__SEARCH_CLIENTS_REQUEST__INIT;
    const char *q = NULL, *tax = NULL;
    int status = 0, key = 0;
    int64_t limit = 0;
    if (kp_text(c, "text", 0, false, &q) < 0 || kp_text(c, "tax-id", -1, false, &tax) < 0 ||
        kp_id(c, "manager", -1, false, &req.manager_id) < 0 ||
        kp_id(c, "territory", -1, false, &req.territory_id) < 0 ||
        kp_enum(c, "status", -1, &kontor__clients__client_status__descriptor, false, &status) < 0 ||
        kp_enum(c, "key-account", -1, &kontor__clients__tristate__descriptor, false, &key) < 0 ||
        kp_int(c, "limit", 1, 200, false, &limit) < 0 ||
        kp_id(c, "after", -1, false, &req.after_id) < 0)
        return KONTOR_EXIT_USAGE;
    if (q)
        req.q = (char *)q;
    if (tax)
        req.tax_id = (char *)tax;
    req.status = (Kontor__Clients__ClientStatus)status;
    req.key_account = (Kontor__Clients__Tristate)key;
    req.limit = (uint32_t)limit;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "clients", "SearchClients", &req.base,
                     &kontor__clients__search_clients_reply__descriptor, KP_READ, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Clients__SearchClientsReply *r =
            (const Kontor__Clients__SearchClientsReply *)out;
        kp_table_t *t = kp_table_new("CLIENT>", "CODE", "NAME", "TAX ID", "STATUS", "KEY",
                                     "MANAGER>", "TERRITORY>", NULL);
        for (size_t i = 0; i < r->n_clients; i++) {
            const Kontor__Clients__ClientSummary *s = r->clients[i];
            char a[KP_TEXT_MAX];
            kp_table_cell(t, "%" PRId64, s->id);
            kp_table_cell(t, "%s", s->code);
            kp_table_cell(t, "%s", s->name);
            kp_table_cell(t, "%s", s->tax_id);
            kp_table_cell(t, "%s",
                          kp_enum_name(a, &kontor__clients__client_status__descriptor, s->status));
            kp_table_cell(t, "%s", s->key_account ? "yes" : "no");
            kp_table_cell(t, "%" PRId64, s->manager_id);
            kp_table_cell(t, "%" PRId64, s->territory_id);
        }
        kp_table_print(&t, stdout, 0, "no clients found");
        if (r->next_after_id)
            printf("more: --after %" PRId64 "\n", r->next_after_id);
    }
    kt_msg_free(out);
    return rc;
}

static int s_assign(kp_ctx_t *c)
{
    Kontor__Clients__AssignManagerRequest req = KONTOR__CLIENTS__ASSIGN_MANAGER_REQUEST__INIT;
    const char *why = NULL;
    if (kp_id(c, "client", 0, true, &req.client_id) < 0 ||
        kp_id(c, "manager", -1, true, &req.manager_id) < 0 || kp_text(c, "why", -1, true, &why) < 0)
        return KONTOR_EXIT_USAGE;
    req.why = (char *)why;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "clients", "AssignManager", &req.base,
                     &kontor__clients__client_card__descriptor, KP_WRITE, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Clients__ClientCard *k = (const Kontor__Clients__ClientCard *)out;
        printf("client %" PRId64 " (%s) is now with manager %" PRId64 "\n", k->id, k->name,
               k->manager_id);
    }
    kt_msg_free(out);
    return rc;
}

#define S_TERMS_CHANGES                                                                            \
    "column= discount= payment-days= grace-days= limit= currency= policy= contract= "              \
    "contract-date= contract-until= why="

//  True if any flag that changes the terms was given.
static bool s_changes_terms(kp_ctx_t *c)
{
    static const char *const changes[] = {
        "column", "discount", "payment-days",  "grace-days",     "limit", "currency",
        "policy", "contract", "contract-date", "contract-until", "why"};
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++)
        if (kp_count(c, changes[i]) > 0)
            return true;
    return false;
}

static int s_terms(kp_ctx_t *c)
{
    int64_t id;
    if (kp_id(c, "client", 0, true, &id) < 0)
        return KONTOR_EXIT_USAGE;
    bool change = s_changes_terms(c);
    //  Read every change flag before the first call: a typo costs nothing.
    Kontor__Clients__SetTermsRequest req = KONTOR__CLIENTS__SET_TERMS_REQUEST__INIT;
    Kontor__Money limit = KONTOR__MONEY__INIT;
    const char *column = NULL, *currency = NULL, *contract = NULL, *cdate = NULL, *cuntil = NULL,
               *why = NULL;
    int32_t discount = 0;
    int64_t pay = 0, grace = 0, units = 0;
    int policy = 0;
    int has_discount, has_pay, has_grace, has_limit;
    if (kp_text(c, "column", -1, false, &column) < 0 ||
        (has_discount = kp_percent(c, "discount", false, &discount)) < 0 ||
        (has_pay = kp_int(c, "payment-days", 0, 365, false, &pay)) < 0 ||
        (has_grace = kp_int(c, "grace-days", 0, 365, false, &grace)) < 0 ||
        (has_limit = kp_money(c, "limit", false, &units)) < 0 ||
        kp_currency(c, "currency", false, &currency) < 0 ||
        kp_enum(c, "policy", -1, &kontor__clients__short_policy__descriptor, false, &policy) < 0 ||
        kp_text(c, "contract", -1, false, &contract) < 0 ||
        kp_date(c, "contract-date", -1, false, &cdate) < 0 ||
        kp_date(c, "contract-until", -1, false, &cuntil) < 0 ||
        kp_text(c, "why", -1, change, &why) < 0)
        return KONTOR_EXIT_USAGE;
    if (column && (strlen(column) != 1 || column[0] < 'A' || column[0] > 'E'))
        return kp_usage(c, "--column needs a price column A, B, C, D or E, not '%s'", column);
    ProtobufCMessage *view = NULL, *out = NULL;
    int rc = s_get_view(c, id, &view);
    const Kontor__Clients__ClientView *v = (const Kontor__Clients__ClientView *)view;
    if (rc != 0 || !change) {
        if (rc == 0 && kp_json(c))
            rc = v->terms ? kp_print_json(&v->terms->base) : KONTOR_EXIT_OK;
        else if (rc == 0)
            s_print_terms(v->terms);
        kt_msg_free(view);
        return rc;
    }
    //  SetTerms replaces everything: start from what is there.
    const Kontor__Clients__Terms *t = v->terms ? v->terms->terms : NULL;
    const Kontor__Clients__Contract *k = v->terms ? v->terms->contract : NULL;
    req.client_id = id;
    req.contract_number = (char *)(contract ? contract : k ? k->number : "");
    req.contract_date = (char *)(cdate ? cdate : k ? k->date : "");
    req.contract_until = (char *)(cuntil ? cuntil : k ? k->until : "");
    req.price_column = (char *)(column ? column : t ? t->price_column : "A");
    req.discount_bp = has_discount ? discount : t ? t->discount_bp : 0;
    req.payment_days = (int32_t)(has_pay ? pay : t ? t->payment_days : 0);
    req.grace_days = (int32_t)(has_grace ? grace : t ? t->grace_days : 0);
    limit.units = has_limit ? units : t && t->credit_limit ? t->credit_limit->units : 0;
    limit.currency =
        (char *)(currency                                               ? currency
                 : t && t->credit_limit && t->credit_limit->currency[0] ? t->credit_limit->currency
                                                                        : "EUR");
    req.credit_limit = &limit;
    req.short_policy = (Kontor__Clients__ShortPolicy)(policy ? policy
                                                      : t    ? (int)t->short_policy
                                                             : 0);
    req.why = (char *)why;
    rc = kp_call(c, "clients", "SetTerms", &req.base, &kontor__clients__terms_reply__descriptor,
                 KP_WRITE, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0)
        s_print_terms((const Kontor__Clients__TermsReply *)out);
    kt_msg_free(out);
    kt_msg_free(view);
    return rc;
}

static const kp_sub_t s_client_subs[] = {
    {"add", "--name NAME --tax-id TAX --territory ID [FLAGS]",
     "a new client card (clients.CreateClient)",
     "name= tax-id= territory= code= legal-address= address= segment= status= manager= "
     "currency= holiday=* key-account",
     0,
     "Flags:\n"
     "  --name NAME            the client's name\n"
     "  --tax-id TAX           digits and upper-case letters; must be new\n"
     "  --territory ID         the territory (its branch follows)\n"
     "  --code CODE            default C<id>\n"
     "  --legal-address TEXT, --address TEXT (delivery), --segment TEXT\n"
     "  --status S             prospect (default), active, blocked or archived\n"
     "  --key-account          a key account\n"
     "  --manager ID           default: you (a manager adds clients for themself)\n"
     "  --currency CUR         of the terms and credit limit (default EUR)\n"
     "  --holiday NAME:MM-DD   the client's own holiday, repeated\n"
     "\n"
     "example:\n"
     "  kontor --as manager-1 clients add --name \"Acme Trading\" --tax-id 7701234567 \\\n"
     "      --territory 1 --address \"1 Dock Road\"\n",
     s_add},
    {"show", "CLIENT",
     "the client card with contacts, terms, credit check, complaints, orders, balances "
     "(clients.GetClient)",
     "client=", 1,
     "example:\n"
     "  kontor clients show 42\n",
     s_show},
    {"find", "[TEXT] [--tax-id TAX] [--manager ID] [--status S] [FLAGS]",
     "find clients by a fragment of name or code and filters (clients.SearchClients)",
     "text= tax-id= manager= territory= status= key-account= limit= after=", 1,
     "Flags:\n"
     "  TEXT               a fragment of the name or code (3+ characters: anywhere;\n"
     "                     1-2: the beginning)\n"
     "  --tax-id TAX       exactly this tax id\n"
     "  --manager ID, --territory ID\n"
     "  --status S         prospect, active, blocked or archived\n"
     "  --key-account yes|no\n"
     "  --limit N          1 to 200 (default 50)\n"
     "  --after ID         the next page, as the previous one printed it\n"
     "\n"
     "example:\n"
     "  kontor clients find acme --status active\n",
     s_find},
    {"assign", "CLIENT --manager ID --why TEXT",
     "move a client to another manager, kept in the history (clients.AssignManager)",
     "client= manager= why=", 1,
     "Heads only.\n"
     "\n"
     "example:\n"
     "  kontor --as head-1 clients assign 42 --manager 3 --why \"territory split\"\n",
     s_assign},
    {"terms", "CLIENT [--limit AMOUNT --why TEXT ...]",
     "show a client's terms, or change them (clients.GetClient, clients.SetTerms)",
     "client= " S_TERMS_CHANGES, 1,
     "Without change flags, shows the terms. With any, changes those and keeps the\n"
     "rest (heads and admins; a credit limit above the latest credit check's\n"
     "recommendation needs a head).\n"
     "\n"
     "Flags:\n"
     "  --column A..E          price column\n"
     "  --discount PCT         the client's own discount, e.g. 3.5\n"
     "  --payment-days N       invoices fall due N days after dispatch (0 to 365)\n"
     "  --grace-days N         days overdue before credit hold (0 to 365)\n"
     "  --limit AMOUNT         credit limit, decimal text: 1000.00\n"
     "  --currency CUR         of the limit (default: as it is)\n"
     "  --policy P             ship-available or wait-for-all\n"
     "  --contract NUMBER, --contract-date DATE, --contract-until DATE\n"
     "  --why TEXT             required with any change; kept with who changed it\n"
     "\n"
     "example:\n"
     "  kontor --as head-1 clients terms 42 --limit 25000.00 --payment-days 30 \\\n"
     "      --why \"contract 2026/17\"\n",
     s_terms},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

static const kp_family_t s_client_family = {
    "clients",
    "The client base: cards, search, managers and commercial terms.",
    s_client_subs,
    NULL,
};

static int s_clients_run(const kontor_opts_t *opts)
{
    return kp_family_run(&s_client_family, opts);
}

const kontor_command_t kontor_clients_command = {
    "clients", "SUBCOMMAND [ARGS]", "clients: add, show, find, assign, terms",
    "",        s_clients_run,       KONTOR_CMD_OWN_ARGS,
};

//  ---------------------------------------------------------------- schedule

static void s_print_activities(Kontor__Clients__Activity *const *list, size_t n, const char *empty)
{
    kp_table_t *t =
        kp_table_new("ACTIVITY>", "AT", "KIND", "CLIENT>", "STATUS", "SUBJECT", "OUTCOME", NULL);
    for (size_t i = 0; i < n; i++) {
        const Kontor__Clients__Activity *a = list[i];
        char k[KP_TEXT_MAX], s[KP_TEXT_MAX], id[KP_TEXT_MAX];
        kp_table_cell(t, "%" PRId64, a->id);
        kp_table_cell(t, "%s", a->at);
        kp_table_cell(t, "%s",
                      kp_enum_name(k, &kontor__clients__activity_kind__descriptor, a->kind));
        kp_table_cell(t, "%s", kp_fmt_id(id, a->client_id));
        kp_table_cell(t, "%s",
                      kp_enum_name(s, &kontor__clients__activity_status__descriptor, a->status));
        kp_table_cell(t, "%s", a->subject);
        kp_table_cell(t, "%s", kp_or_dash(a->outcome));
    }
    kp_table_print(&t, stdout, 2, empty);
}

static int s_print_activity_reply(kp_ctx_t *c, int rc, ProtobufCMessage *out, const char *what)
{
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Clients__Activity *a = (const Kontor__Clients__Activity *)out;
        char k[KP_TEXT_MAX];
        printf("activity %" PRId64 " %s: %s at %s, manager %" PRId64 "\n", a->id, what,
               kp_enum_name(k, &kontor__clients__activity_kind__descriptor, a->kind), a->at,
               a->manager_id);
        s_print_activities((Kontor__Clients__Activity *const *)&a, 1, NULL);
    }
    kt_msg_free(out);
    return rc;
}

static int s_plan_activity(kp_ctx_t *c)
{
    Kontor__Clients__Activity req = KONTOR__CLIENTS__ACTIVITY__INIT;
    const char *at = NULL, *subject = NULL;
    int kind = 0;
    if (kp_enum(c, "kind", -1, &kontor__clients__activity_kind__descriptor, true, &kind) < 0 ||
        kp_text(c, "at", -1, true, &at) < 0 || kp_text(c, "subject", -1, true, &subject) < 0 ||
        kp_id(c, "client", -1, false, &req.client_id) < 0 ||
        kp_id(c, "manager", -1, false, &req.manager_id) < 0)
        return KONTOR_EXIT_USAGE;
    //  "2026-12-01 10:00" as the service wants it: "2026-12-01T10:00".
    char when[17];
    int32_t days;
    char why[200], date[11];
    snprintf(date, sizeof date, "%.10s", at);
    if (strlen(at) != 16 || (at[10] != ' ' && at[10] != 'T') || at[13] != ':' ||
        kt_check_date("--at", date, &days, why, sizeof why) != 0 ||
        strspn(at + 11, "0123456789") != 2 || strspn(at + 14, "0123456789") != 2)
        return kp_usage(c, "--at needs a date and time YYYY-MM-DD HH:MM, not '%s'", at);
    snprintf(when, sizeof when, "%.10sT%.5s", at, at + 11);
    req.kind = (Kontor__Clients__ActivityKind)kind;
    req.at = when;
    req.subject = (char *)subject;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "clients", "PlanActivity", &req.base,
                     &kontor__clients__activity__descriptor, KP_WRITE, &out);
    return s_print_activity_reply(c, rc, out, "planned");
}

static int s_done(kp_ctx_t *c)
{
    Kontor__Clients__CompleteActivityRequest req = KONTOR__CLIENTS__COMPLETE_ACTIVITY_REQUEST__INIT;
    const char *outcome = NULL;
    req.cancelled = kp_switch(c, "cancelled");
    if (kp_id(c, "activity", 0, true, &req.activity_id) < 0 ||
        kp_text(c, "outcome", -1, !req.cancelled, &outcome) < 0)
        return KONTOR_EXIT_USAGE;
    if (outcome)
        req.outcome = (char *)outcome;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "clients", "CompleteActivity", &req.base,
                     &kontor__clients__activity__descriptor, KP_WRITE, &out);
    return s_print_activity_reply(c, rc, out, req.cancelled ? "cancelled" : "done");
}

//  This ISO week, "2026-W49" (UTC).
static void s_this_week(char buf[16])
{
    int32_t days = (int32_t)(time(NULL) / 86400);
    //  1970-01-01 was a Thursday; the ISO year is the year of the week's Thursday.
    int weekday = (int)((days + 3) % 7); //  0 Monday
    int32_t thursday = days - weekday + 3;
    int y, m, d;
    kt_civil_from_days(thursday, &y, &m, &d);
    int32_t jan1 = kt_days_from_civil(y, 1, 1);
    snprintf(buf, 16, "%04d-W%02d", y % 10000, (int)((thursday - jan1) / 7 + 1) % 100);
}

static int s_week(kp_ctx_t *c)
{
    Kontor__Clients__ScheduleRequest req = KONTOR__CLIENTS__SCHEDULE_REQUEST__INIT;
    const char *week = NULL;
    char now[16];
    if (kp_text(c, "week", 0, false, &week) < 0 ||
        kp_id(c, "manager", -1, false, &req.manager_id) < 0)
        return KONTOR_EXIT_USAGE;
    s_this_week(now);
    req.week = (char *)(week ? week : now);
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "clients", "Schedule", &req.base,
                     &kontor__clients__schedule_reply__descriptor, KP_READ, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Clients__ScheduleReply *s = (const Kontor__Clients__ScheduleReply *)out;
        printf("week %s (%s to %s) of manager %" PRId64 "\n", s->week, s->from, s->to,
               s->manager_id);
        printf("planned:\n");
        s_print_activities(s->planned, s->n_planned, "nothing planned");
        printf("overdue:\n");
        s_print_activities(s->overdue, s->n_overdue, "nothing overdue");
        printf("greetings:\n");
        kp_table_t *t = kp_table_new("DATE", "CLIENT>", "WHOM", "WHY", NULL);
        for (size_t i = 0; i < s->n_greetings; i++) {
            const Kontor__Clients__Greeting *g = s->greetings[i];
            kp_table_cell(t, "%s", g->date);
            kp_table_cell(t, "%" PRId64, g->client_id);
            kp_table_cell(t, "%s", g->name);
            kp_table_cell(t, "%s", g->birthday ? "birthday" : "the client's holiday");
        }
        kp_table_print(&t, stdout, 2, "none");
        printf("done per day:\n");
        t = kp_table_new("DATE", "CALLS>", "VISITS>", "MEETINGS>", "OFFERS>", NULL);
        for (size_t i = 0; i < s->n_days; i++) {
            const Kontor__Clients__DayCounts *d = s->days[i];
            kp_table_cell(t, "%s", d->date);
            kp_table_cell(t, "%d", d->calls_made);
            kp_table_cell(t, "%d", d->visits_made);
            kp_table_cell(t, "%d", d->meetings_held);
            kp_table_cell(t, "%d", d->offers_sent);
        }
        kp_table_print(&t, stdout, 2, "none");
    }
    kt_msg_free(out);
    return rc;
}

static const kp_sub_t s_schedule_subs[] = {
    {"plan", "--kind K --at \"YYYY-MM-DD HH:MM\" --subject TEXT [--client ID] [--manager ID]",
     "plan a call, visit, meeting or offer (clients.PlanActivity)",
     "kind= at= subject= client= manager=", 0,
     "Flags:\n"
     "  --kind K        call, visit, meeting or offer\n"
     "  --at TIME       \"2026-12-01 10:00\" (or 2026-12-01T10:00), the database's time\n"
     "  --subject TEXT  what it is about\n"
     "  --client ID     with this client\n"
     "  --manager ID    for this manager (default: you)\n"
     "\n"
     "example:\n"
     "  kontor schedule plan --kind visit --at \"2026-12-01 10:00\" --client 42 \\\n"
     "      --subject \"new price list\"\n",
     s_plan_activity},
    {"done", "ACTIVITY --outcome TEXT | --cancelled",
     "record a planned activity's outcome, or that it did not happen "
     "(clients.CompleteActivity)",
     "activity= outcome= cancelled", 1,
     "example:\n"
     "  kontor schedule done 12 --outcome \"ordered 40 boxes\"\n"
     "  kontor schedule done 13 --cancelled\n",
     s_done},
    {"week", "[WEEK] [--manager ID]",
     "a manager's week: plans, overdue, birthdays and holidays, done per day "
     "(clients.Schedule)",
     "week= manager=", 1,
     "Flags:\n"
     "  WEEK          an ISO week, 2026-W49 (default: this week)\n"
     "  --manager ID  whose week (default: yours)\n"
     "\n"
     "example:\n"
     "  kontor schedule week 2026-W49\n",
     s_week},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

static const kp_family_t s_schedule_family = {
    "schedule",
    "A manager's calls, visits, meetings and offers: plan them, record how they\n"
    "went, and see the week.",
    s_schedule_subs,
    NULL,
};

static int s_schedule_run(const kontor_opts_t *opts)
{
    return kp_family_run(&s_schedule_family, opts);
}

const kontor_command_t kontor_schedule_command = {
    "schedule", "SUBCOMMAND [ARGS]", "a manager's calls and visits: plan, done, week",
    "",         s_schedule_run,      KONTOR_CMD_OWN_ARGS,
};

//  ---------------------------------------------------------------- complaints

static int s_print_complaint_reply(kp_ctx_t *c, int rc, ProtobufCMessage *out)
{
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Clients__Complaint *x = (const Kontor__Clients__Complaint *)out;
        char s[KP_TEXT_MAX];
        printf("complaint %" PRId64 " of client %" PRId64 ": %s\n", x->id, x->client_id,
               kp_enum_name(s, &kontor__clients__complaint_status__descriptor, x->status));
        kp_field("category", "%s", x->category);
        kp_field("description", "%s", x->description);
        if (x->order_id)
            kp_field("order", "%" PRId64, x->order_id);
        if (x->shipment_id)
            kp_field("shipment", "%" PRId64, x->shipment_id);
        kp_field("opened", "%s by %s", kp_fmt_time(s, x->opened_at_ms), x->opened_by);
        if (x->resolution[0])
            kp_field("resolution", "%s", x->resolution);
        if (x->resolved_at_ms)
            kp_field("closed", "%s, after %" PRId64 " h %02" PRId64 " min",
                     kp_fmt_time(s, x->resolved_at_ms), x->seconds_to_resolve / 3600,
                     x->seconds_to_resolve / 60 % 60);
    }
    kt_msg_free(out);
    return rc;
}

static int s_open(kp_ctx_t *c)
{
    Kontor__Clients__OpenComplaintRequest req = KONTOR__CLIENTS__OPEN_COMPLAINT_REQUEST__INIT;
    const char *category = NULL, *description = NULL;
    if (kp_id(c, "client", -1, true, &req.client_id) < 0 ||
        kp_text(c, "category", -1, true, &category) < 0 ||
        kp_text(c, "description", -1, true, &description) < 0 ||
        kp_id(c, "order", -1, false, &req.order_id) < 0 ||
        kp_id(c, "shipment", -1, false, &req.shipment_id) < 0)
        return KONTOR_EXIT_USAGE;
    req.category = (char *)category;
    req.description = (char *)description;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "clients", "OpenComplaint", &req.base,
                     &kontor__clients__complaint__descriptor, KP_WRITE, &out);
    return s_print_complaint_reply(c, rc, out);
}

static int s_move_to(kp_ctx_t *c, int status)
{
    Kontor__Clients__MoveComplaintRequest req = KONTOR__CLIENTS__MOVE_COMPLAINT_REQUEST__INIT;
    const char *resolution = NULL;
    if (kp_id(c, "complaint", 0, true, &req.complaint_id) < 0 ||
        (status == 0 && kp_enum(c, "status", -1, &kontor__clients__complaint_status__descriptor,
                                true, &status) < 0))
        return KONTOR_EXIT_USAGE;
    bool closing = status == KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED ||
                   status == KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_REJECTED;
    if (kp_text(c, "resolution", -1, closing, &resolution) < 0)
        return KONTOR_EXIT_USAGE;
    req.status = (Kontor__Clients__ComplaintStatus)status;
    if (resolution)
        req.resolution = (char *)resolution;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "clients", "MoveComplaint", &req.base,
                     &kontor__clients__complaint__descriptor, KP_WRITE, &out);
    return s_print_complaint_reply(c, rc, out);
}

static int s_move(kp_ctx_t *c)
{
    return s_move_to(c, 0);
}

static int s_resolve(kp_ctx_t *c)
{
    return s_move_to(c, KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED);
}

#define S_LIST_PAGE    200  //  complaints asked for per ListComplaints call
#define S_LIST_DEFAULT 100  //  shown when --limit is not given
#define S_LIST_MAX     10000
#define S_STATUSES_MAX 8

//  One complaint status by its friendly name ("in-progress"), as kp_enum
//  reads them. 0 if it is none.
static int s_complaint_status(const char *v)
{
    char want[48], name[64];
    size_t n = 0;
    for (const char *p = v; *p && n + 1 < sizeof want; p++)
        want[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    want[n] = '\0';
    const ProtobufCEnumDescriptor *ed = &kontor__clients__complaint_status__descriptor;
    for (unsigned i = 0; i < ed->n_values; i++) {
        if (ed->values[i].value == 0)
            continue;
        snprintf(name, sizeof name, "COMPLAINT_%s", want);
        if (strcmp(ed->values[i].name, want) == 0 || strcmp(ed->values[i].name, name) == 0)
            return ed->values[i].value;
    }
    return 0;
}

//  Complaints from clients.ListComplaints, newest first, page after page up
//  to --limit: open and in progress by default, --all for every status,
//  --status (repeated, or a comma list) for those.
static int s_list(kp_ctx_t *c)
{
    Kontor__Clients__ListComplaintsRequest req = KONTOR__CLIENTS__LIST_COMPLAINTS_REQUEST__INIT;
    Kontor__Clients__ComplaintStatus statuses[S_STATUSES_MAX];
    size_t nstatus = 0;
    const char *from = NULL, *to = NULL;
    int64_t limit = S_LIST_DEFAULT;
    char list[256];
    if (kp_id(c, "client", 0, false, &req.client_id) < 0 ||
        kp_id(c, "manager", -1, false, &req.manager_id) < 0 ||
        kp_date(c, "from", -1, false, &from) < 0 || kp_date(c, "to", -1, false, &to) < 0 ||
        kp_int(c, "limit", 1, S_LIST_MAX, false, &limit) < 0)
        return KONTOR_EXIT_USAGE;
    bool all = kp_switch(c, "all");
    for (int i = 0; i < kp_count(c, "status"); i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", kp_nth(c, "status", i));
        for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            int st = s_complaint_status(w);
            if (st == 0) {
                kp_enum_list(&kontor__clients__complaint_status__descriptor, list, sizeof list);
                return kp_usage(c, "--status %s is no complaint status: %s", w, list);
            }
            if (nstatus == S_STATUSES_MAX)
                return kp_usage(c, "--status names too many statuses");
            statuses[nstatus++] = (Kontor__Clients__ComplaintStatus)st;
        }
    }
    if (all && nstatus > 0)
        return kp_usage(c, "--all and --status exclude each other");
    if (!all && nstatus == 0) {
        statuses[nstatus++] = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN;
        statuses[nstatus++] = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_IN_PROGRESS;
    }
    req.statuses = statuses;
    req.n_statuses = nstatus;
    if (from)
        req.opened_from = (char *)from;
    if (to)
        req.opened_to = (char *)to;

    //  Every page's complaints, kept with the pages they point into.
    ProtobufCMessage *pages[S_LIST_MAX / S_LIST_PAGE + 2] = {0};
    int npages = 0, rc = 0;
    Kontor__Clients__Complaint **got = calloc((size_t)limit + 1, sizeof *got);
    if (!got)
        return kp_usage(c, "out of memory");
    size_t n = 0;
    int64_t next = 0;
    do {
        int64_t want = limit - (int64_t)n;
        req.limit = (uint32_t)(want < S_LIST_PAGE ? want : S_LIST_PAGE);
        ProtobufCMessage *out = NULL;
        rc = kp_call(c, "clients", "ListComplaints", &req.base,
                     &kontor__clients__list_complaints_reply__descriptor, KP_READ, &out);
        if (rc != 0) {
            kt_msg_free(out);
            break;
        }
        pages[npages++] = out;
        const Kontor__Clients__ListComplaintsReply *r =
            (const Kontor__Clients__ListComplaintsReply *)out;
        for (size_t i = 0; i < r->n_complaints && n < (size_t)limit; i++)
            got[n++] = r->complaints[i];
        next = r->next_after_id;
        req.after_id = next;
    } while (next != 0 && n < (size_t)limit);
    if (rc == 0 && kp_json(c)) {
        Kontor__Clients__ListComplaintsReply all_rep = KONTOR__CLIENTS__LIST_COMPLAINTS_REPLY__INIT;
        all_rep.complaints = got;
        all_rep.n_complaints = n;
        all_rep.next_after_id = next;
        rc = kp_print_json(&all_rep.base);
    } else if (rc == 0) {
        char whose[64] = "";
        if (req.client_id)
            snprintf(whose, sizeof whose, " of client %" PRId64, req.client_id);
        printf("%s complaints%s, newest first:\n",
               all ? "all" : kp_count(c, "status") ? "the" : "open", whose);
        s_print_complaints(got, n, "none");
        if (next != 0)
            printf("  (more: --limit %" PRId64 " shows %" PRId64 ")\n", limit,
                   (int64_t)n);
    }
    free(got);
    for (int i = 0; i < npages; i++)
        kt_msg_free(pages[i]);
    return rc;
}

static const kp_sub_t s_complaint_subs[] = {
    {"open", "--client ID --category TEXT --description TEXT [--order ID] [--shipment ID]",
     "open a complaint against a client, an order or a shipment (clients.OpenComplaint)",
     "client= category= description= order= shipment=", 0,
     "example:\n"
     "  kontor complaints open --client 42 --order 17 --category damage \\\n"
     "      --description \"two boxes crushed\"\n",
     s_open},
    {"move", "COMPLAINT --status S [--resolution TEXT]",
     "take a complaint in hand, resolve it or reject it (clients.MoveComplaint)",
     "complaint= status= resolution=", 1,
     "Flags:\n"
     "  --status S          in-progress, resolved or rejected\n"
     "  --resolution TEXT   required to resolve or reject\n"
     "\n"
     "example:\n"
     "  kontor complaints move 5 --status in-progress\n",
     s_move},
    {"resolve", "COMPLAINT --resolution TEXT",
     "resolve a complaint (clients.MoveComplaint to resolved)", "complaint= resolution=", 1,
     "example:\n"
     "  kontor complaints resolve 5 --resolution \"credit note for two boxes\"\n",
     s_resolve},
    {"list", "[CLIENT] [--status S]... [--all] [--manager ID] [--from DATE] [--to DATE]",
     "complaints, newest first: open ones, or by status, client, manager and date "
     "(clients.ListComplaints)",
     "client= status=* all manager= from= to= limit=", 1,
     "Flags:\n"
     "  --status S     open, in-progress, resolved or rejected; repeat it or give\n"
     "                 a comma list (default: open and in-progress)\n"
     "  --all          every status\n"
     "  --manager ID   the clients of one manager (a manager sees only their own)\n"
     "  --from DATE    opened on or after DATE; --to DATE: on or before\n"
     "  --limit N      show at most N (default 100)\n"
     "\n"
     "examples:\n"
     "  kontor complaints list 42\n"
     "  kontor complaints list --all --from 2026-01-01\n"
     "  kontor complaints list --status resolved,rejected --manager 2 --json\n",
     s_list},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

static const kp_family_t s_complaint_family = {
    "complaints",
    "Complaints of clients, about an order, a shipment or anything else: open,\n"
    "take in hand, resolve or reject.",
    s_complaint_subs,
    NULL,
};

static int s_complaints_run(const kontor_opts_t *opts)
{
    return kp_family_run(&s_complaint_family, opts);
}

const kontor_command_t kontor_complaints_command = {
    "complaints", "SUBCOMMAND [ARGS]", "complaints: open, move, resolve, list",
    "",           s_complaints_run,    KONTOR_CMD_OWN_ARGS,
};

//  ---------------------------------------------------------------- plans

static int s_plan_set(kp_ctx_t *c)
{
    Kontor__Clients__SetPlanRequest req = KONTOR__CLIENTS__SET_PLAN_REQUEST__INIT;
    Kontor__Money revenue = KONTOR__MONEY__INIT;
    const char *month = NULL, *currency = NULL;
    int64_t active = 0, fresh = 0;
    if (kp_id(c, "manager", -1, true, &req.manager_id) < 0 ||
        kp_month(c, "month", true, &month) < 0 ||
        kp_money(c, "revenue", true, &revenue.units) < 0 ||
        kp_currency(c, "currency", false, &currency) < 0 ||
        kp_int(c, "active", 0, INT32_MAX, false, &active) < 0 ||
        kp_int(c, "new", 0, INT32_MAX, false, &fresh) < 0)
        return KONTOR_EXIT_USAGE;
    revenue.currency = (char *)(currency ? currency : "EUR");
    req.month = (char *)month;
    req.revenue = &revenue;
    req.active_clients = (int32_t)active;
    req.new_clients = (int32_t)fresh;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "clients", "SetPlan", &req.base, &kontor__clients__plan__descriptor,
                     KP_WRITE_REPEAT, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Clients__Plan *p = (const Kontor__Clients__Plan *)out;
        char m[KP_TEXT_MAX];
        printf("plan of manager %" PRId64 " for %s: revenue %s, %d active clients, %d new\n",
               p->manager_id, p->month, kp_fmt_money(m, p->revenue), p->active_clients,
               p->new_clients);
    }
    kt_msg_free(out);
    return rc;
}

static void s_plan_row(kp_table_t *t, const Kontor__Clients__PlanLine *l, bool total)
{
    char a[KP_TEXT_MAX], b[KP_TEXT_MAX], p[KP_TEXT_MAX];
    const Kontor__Clients__Plan *plan = l->has_plan ? l->plan : NULL;
    if (total)
        kp_table_cell(t, "total");
    else
        kp_table_cell(t, "%" PRId64, l->manager_id);
    kp_table_cell(t, "%s", plan ? kp_fmt_money(a, plan->revenue) : "-");
    kp_table_cell(t, "%s", kp_fmt_money(b, l->revenue));
    if (plan && plan->revenue && plan->revenue->units > 0 && l->revenue)
        kp_table_cell(
            t, "%s",
            kp_fmt_bp(p, (int64_t)((__int128)l->revenue->units * 10000 / plan->revenue->units)));
    else
        kp_table_cell(t, "-");
    if (plan) {
        kp_table_cell(t, "%d/%d", l->active_clients, plan->active_clients);
        kp_table_cell(t, "%d/%d", l->new_clients, plan->new_clients);
    } else {
        kp_table_cell(t, "%d/-", l->active_clients);
        kp_table_cell(t, "%d/-", l->new_clients);
    }
    kp_table_cell(t, "%d", l->orders);
}

static int s_plan_report(kp_ctx_t *c)
{
    Kontor__Clients__PlanReportRequest req = KONTOR__CLIENTS__PLAN_REPORT_REQUEST__INIT;
    const char *month = NULL;
    char now[11];
    if (kp_id(c, "manager", -1, false, &req.manager_id) < 0 ||
        kp_id(c, "branch", -1, false, &req.branch_id) < 0 ||
        kp_month(c, "month", false, &month) < 0)
        return KONTOR_EXIT_USAGE;
    if ((req.manager_id > 0) == (req.branch_id > 0))
        return kp_usage(c, "plan report needs one of --manager ID or --branch ID");
    kp_today(now, 0);
    now[7] = '\0';
    req.month = (char *)(month ? month : now);
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "clients", "PlanReport", &req.base,
                     &kontor__clients__plan_report_reply__descriptor, KP_READ, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Clients__PlanReportReply *r = (const Kontor__Clients__PlanReportReply *)out;
        printf("plan against actual, %s\n", r->month);
        kp_table_t *t = kp_table_new("MANAGER>", "PLAN>", "REVENUE>", "DONE>", "ACTIVE/PLAN>",
                                     "NEW/PLAN>", "ORDERS>", NULL);
        for (size_t i = 0; i < r->n_lines; i++)
            s_plan_row(t, r->lines[i], false);
        if (r->total && r->n_lines > 1)
            s_plan_row(t, r->total, true);
        kp_table_print(&t, stdout, 0, "no managers");
    }
    kt_msg_free(out);
    return rc;
}

static const kp_sub_t s_plan_subs[] = {
    {"set", "--manager ID --month YYYY-MM --revenue AMOUNT [--currency CUR] [--active N] [--new N]",
     "a manager's plan for a month (clients.SetPlan)",
     "manager= month= revenue= currency= active= new=", 0,
     "Heads only. Setting it again replaces it.\n"
     "\n"
     "Flags:\n"
     "  --revenue AMOUNT   decimal text: 50000.00\n"
     "  --currency CUR     default EUR\n"
     "  --active N         clients with an order in the month\n"
     "  --new N            clients whose first order falls in the month\n"
     "\n"
     "example:\n"
     "  kontor --as head-1 plan set --manager 2 --month 2026-12 --revenue 50000.00 \\\n"
     "      --active 20 --new 3\n",
     s_plan_set},
    {"report", "--manager ID | --branch ID [--month YYYY-MM]",
     "plan against actual for a manager or a branch (clients.PlanReport)",
     "manager= branch= month=", 0,
     "DONE is actual revenue as a share of the plan; ACTIVE/PLAN and NEW/PLAN are\n"
     "actual against planned client counts. The month defaults to this one.\n"
     "\n"
     "example:\n"
     "  kontor plan report --branch 1 --month 2026-12\n",
     s_plan_report},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

static const kp_family_t s_plan_family = {
    "plan",
    "Monthly plans of managers (revenue, active and new clients) and how far\n"
    "they are met.",
    s_plan_subs,
    NULL,
};

static int s_plan_run(const kontor_opts_t *opts)
{
    return kp_family_run(&s_plan_family, opts);
}

const kontor_command_t kontor_plan_command = {
    "plan", "SUBCOMMAND [ARGS]", "monthly plans: set, report against actuals",
    "",     s_plan_run,          KONTOR_CMD_OWN_ARGS,
};
