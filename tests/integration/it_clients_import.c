/*  it_clients_import - ImportClients and ListComplaints against a real
 *  PostgreSQL and bus.
 *
 *  One set: the bus, clients (two workers), and orders and receivables,
 *  whose consumers must come to know every imported client's terms, as they
 *  do for clients made one by one. Managers as the principals name them:
 *  head-1 = 1, manager-1 = 2, manager-2 = 3; manager 5 has left.
 *
 *  Every refused batch is checked by status and field path, and then that
 *  nothing changed (counts of every table an import writes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clients.pb-c.h"
#include "kontor.pb-c.h"
#include "kt_client.h"
#include "kt_config.h"
#include "kt_harness.h"
#include "kt_status.h"
#include "kt_wire.h"

static kth_set_t *s_set;
static pid_t s_clients, s_orders, s_receivables;
static kt_client_t *s_admin, *s_head, *s_m1, *s_m2;
static int64_t s_t1, s_t2, s_branch;

#define S_WAIT_MS 20000
#define S_HEAD_ID 1
#define S_M1_ID   2
#define S_M2_ID   3
#define S_GONE_ID 5

//  ---------------------------------------------------------------- helpers

static int s_call(kt_client_t *c, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *rep, ProtobufCMessage **out, const char *key,
                  kt_reply_t *reply)
{
    kt_call_opts_t opts = {.timeout_ms = 20000, .idem_key = key};
    ProtobufCMessage *ignored = NULL;
    int status = kt_client_call(c, "clients", method, req, rep, out ? out : &ignored, &opts, reply);
    kt_msg_free(ignored);
    return status;
}

static void s_ok(kt_client_t *as, const char *method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *rep, ProtobufCMessage **out, const char *key)
{
    kt_reply_t reply;
    int status = s_call(as, method, req, rep, out, key, &reply);
    if (status != KT_OK)
        print_message("# %s: %s field=%s %s\n", method, kt_status_name(status), reply.field,
                      reply.message);
    assert_int_equal(status, KT_OK);
    kt_reply_clear(&reply);
}

//  A refusal: status, field and (if not NULL) reason; the sentence must
//  hold `says` when given.
static void s_refused(kt_client_t *c, const char *method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *rep, const char *key, int status,
                      const char *field, const char *reason, const char *says)
{
    kt_reply_t reply;
    int got = s_call(c, method, req, rep, NULL, key, &reply);
    if (got != status || strcmp(reply.field, field ? field : "") != 0 ||
        (reason && strcmp(reply.reason, reason) != 0) || (says && !strstr(reply.message, says)))
        print_message("# %s: want %s field=%s reason=%s, got %s field=%s reason=%s: %s\n", method,
                      kt_status_name(status), field ? field : "", reason ? reason : "",
                      kt_status_name(got), reply.field, reply.reason, reply.message);
    assert_int_equal(got, status);
    assert_string_equal(reply.field, field ? field : "");
    if (reason)
        assert_string_equal(reply.reason, reason);
    if (says)
        assert_non_null(strstr(reply.message, says));
    kt_reply_clear(&reply);
}

//  Everything an import writes, summed: a refused batch leaves it as it was.
static int64_t s_fingerprint(void)
{
    return kth_sql_i64f(s_set, "SELECT (SELECT count(*) FROM clients.clients)"
                               " + (SELECT count(*) FROM clients.terms)"
                               " + (SELECT count(*) FROM clients.contacts)"
                               " + (SELECT count(*) FROM clients.credit_checks)"
                               " + (SELECT count(*) FROM clients.assignments)"
                               " + (SELECT count(*) FROM clients.client_holidays)"
                               " + (SELECT count(*) FROM clients.imports)"
                               " + (SELECT count(*) FROM clients.outbox)");
}

//  A batch of `n` clients built in place: each with terms, a credit check
//  that covers its limit, two contacts (one with a birthday), a holiday.
typedef struct {
    Kontor__Clients__ImportClient c;
    Kontor__Clients__SetTermsRequest t;
    Kontor__Money limit, rec;
    Kontor__Clients__CreditCheck ck;
    Kontor__Clients__Contact ct[2];
    Kontor__Clients__Contact *ctp[2];
    Kontor__Clients__Holiday h;
    Kontor__Clients__Holiday *hp[1];
    char name[96], tax[24], code[32], email[64];
} s_one_t;

typedef struct {
    Kontor__Clients__ImportClientsRequest req;
    s_one_t *one;
    Kontor__Clients__ImportClient **ptrs;
} s_batch_t;

static int s_tax_seq = 0;

static void s_batch(s_batch_t *b, size_t n, const char *tag)
{
    kontor__clients__import_clients_request__init(&b->req);
    b->one = calloc(n + 1, sizeof *b->one);
    b->ptrs = calloc(n + 1, sizeof *b->ptrs);
    assert_non_null(b->one);
    assert_non_null(b->ptrs);
    for (size_t i = 0; i < n; i++) {
        s_one_t *o = &b->one[i];
        kontor__clients__import_client__init(&o->c);
        snprintf(o->name, sizeof o->name, "ООО «Импорт %.16s-%d»", tag, (int)(i % 100000));
        snprintf(o->tax, sizeof o->tax, "55%08d", ++s_tax_seq % 100000000);
        snprintf(o->code, sizeof o->code, "IMP-%.8s-%d", tag, (int)(i % 100000));
        for (char *p = o->code; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        o->c.name = o->name;
        o->c.tax_id = o->tax;
        o->c.code = i % 2 == 0 ? o->code : ""; //  odd ones get C<id>
        o->c.legal_address = "Москва, ул. Складская, 5";
        o->c.segment = "стройка";
        o->c.status = KONTOR__CLIENTS__CLIENT_STATUS__ACTIVE;
        o->c.territory_id = i % 2 ? s_t2 : s_t1;
        o->c.manager_id = i % 2 ? S_M2_ID : S_M1_ID;
        kontor__clients__set_terms_request__init(&o->t);
        kontor__money__init(&o->limit);
        o->limit.units = 500000 + (int64_t)i;
        o->limit.currency = "EUR";
        o->t.price_column = "C";
        o->t.discount_bp = 250;
        o->t.payment_days = 30;
        o->t.grace_days = 7;
        o->t.credit_limit = &o->limit;
        o->t.short_policy = KONTOR__CLIENTS__SHORT_POLICY__WAIT_FOR_ALL;
        o->t.contract_number = "Д-2025/1";
        o->t.contract_date = "2025-01-15";
        o->c.terms = &o->t;
        kontor__clients__credit_check__init(&o->ck);
        kontor__money__init(&o->rec);
        o->rec.units = 600000;
        o->rec.currency = "EUR";
        o->ck.checked_on = "2025-01-10";
        o->ck.sources = "ЕГРЮЛ, СПАРК";
        o->ck.score = 700;
        o->ck.grade = "B";
        o->ck.recommended_limit = &o->rec;
        o->c.credit_check = &o->ck;
        for (int j = 0; j < 2; j++) {
            kontor__clients__contact__init(&o->ct[j]);
            o->ct[j].name = j ? "Иванова Анна" : "Петров Сергей";
            o->ct[j].position = "закупщик";
            o->ct[j].phone = "+7 495 123-45-67";
            o->ct[j].decision_maker = j == 0;
            o->ctp[j] = &o->ct[j];
        }
        snprintf(o->email, sizeof o->email, "zakupki%zu@import.ru", i);
        o->ct[0].email = o->email;
        o->ct[1].birthday = "1980-05-17";
        o->c.contacts = o->ctp;
        o->c.n_contacts = 2;
        kontor__clients__holiday__init(&o->h);
        o->h.name = "День компании";
        o->h.day = "06-01";
        o->hp[0] = &o->h;
        o->c.holidays = o->hp;
        o->c.n_holidays = 1;
        b->ptrs[i] = &o->c;
    }
    b->req.clients = b->ptrs;
    b->req.n_clients = n;
}

static void s_batch_free(s_batch_t *b)
{
    free(b->ptrs);
    free(b->one);
}

static Kontor__Clients__ImportClientsReply *s_import(kt_client_t *as, s_batch_t *b,
                                                     const char *key)
{
    ProtobufCMessage *out = NULL;
    s_ok(as, "ImportClients", &b->req.base, &kontor__clients__import_clients_reply__descriptor,
         &out, key);
    return (Kontor__Clients__ImportClientsReply *)out;
}

static void s_import_refused(kt_client_t *as, s_batch_t *b, const char *key, int status,
                             const char *field, const char *reason, const char *says)
{
    s_refused(as, "ImportClients", &b->req.base,
              &kontor__clients__import_clients_reply__descriptor, key, status, field, reason,
              says);
}

//  ---------------------------------------------------------------- setup

static void s_manager(int64_t id, const char *name, Kontor__Clients__ManagerRole role,
                      bool inactive)
{
    Kontor__Clients__Manager m = KONTOR__CLIENTS__MANAGER__INIT;
    m.id = id;
    m.name = (char *)name;
    m.role = role;
    m.branch_id = s_branch;
    m.inactive = inactive;
    s_ok(s_admin, "UpsertManager", &m.base, &kontor__clients__manager__descriptor, NULL, NULL);
}

static int64_t s_territory(const char *name)
{
    Kontor__Clients__Territory t = KONTOR__CLIENTS__TERRITORY__INIT;
    t.branch_id = s_branch;
    t.name = (char *)name;
    ProtobufCMessage *out = NULL;
    s_ok(s_admin, "UpsertTerritory", &t.base, &kontor__clients__territory__descriptor, &out, NULL);
    int64_t id = ((Kontor__Clients__Territory *)out)->id;
    kt_msg_free(out);
    return id;
}

static int s_setup(void **state)
{
    s_set = kth_set_new("clients_import");
    kth_start_bus(s_set);
    s_orders = kth_start_service(s_set, "orders", 1);
    s_receivables = kth_start_service(s_set, "receivables", 1);
    s_clients = kth_start_service(s_set, "clients", 2);
    s_admin = kth_client(s_set, "admin");
    s_head = kth_client(s_set, "head-1");
    s_m1 = kth_client(s_set, "manager-1");
    s_m2 = kth_client(s_set, "manager-2");
    Kontor__Clients__Branch b = KONTOR__CLIENTS__BRANCH__INIT;
    b.code = "IMP";
    b.name = "Филиал импорта";
    ProtobufCMessage *out = NULL;
    s_ok(s_admin, "UpsertBranch", &b.base, &kontor__clients__branch__descriptor, &out, NULL);
    s_branch = ((Kontor__Clients__Branch *)out)->id;
    kt_msg_free(out);
    s_manager(S_HEAD_ID, "Head One", KONTOR__CLIENTS__MANAGER_ROLE__ROLE_HEAD, false);
    s_manager(S_M1_ID, "Manager One", KONTOR__CLIENTS__MANAGER_ROLE__ROLE_MANAGER, false);
    s_manager(S_M2_ID, "Manager Two", KONTOR__CLIENTS__MANAGER_ROLE__ROLE_MANAGER, false);
    s_manager(S_GONE_ID, "Gone Five", KONTOR__CLIENTS__MANAGER_ROLE__ROLE_MANAGER, true);
    s_t1 = s_territory("Центр");
    s_t2 = s_territory("Север");
    return 0;
}

static int s_teardown(void **state)
{
    kt_client_destroy(&s_m2);
    kt_client_destroy(&s_m1);
    kt_client_destroy(&s_head);
    kt_client_destroy(&s_admin);
    //  Consumers first, while clients (their producer) still answers.
    int status = kth_signal(s_set, s_orders, SIGTERM);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    status = kth_signal(s_set, s_receivables, SIGTERM);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    status = kth_signal(s_set, s_clients, SIGTERM);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(kth_set_stop(s_set), 0);
    kth_set_destroy(&s_set);
    return 0;
}

//  ---------------------------------------------------------------- ImportClients

static void test_import_makes_cards_terms_contacts_and_events(void **state)
{
    s_batch_t b;
    s_batch(&b, 3, "ok");
    b.one[2].c.terms = NULL; //  default terms, in the client's currency
    b.one[2].c.currency = "USD";
    b.one[2].c.credit_check = NULL;
    b.one[2].c.status = 0; //  a prospect
    int64_t events_before =
        kth_sql_i64(s_set, "SELECT count(*) FROM clients.outbox WHERE type IN"
                           " ('ClientChanged', 'TermsChanged')");
    Kontor__Clients__ImportClientsReply *r = s_import(s_admin, &b, "it-import-ok");
    assert_int_equal(r->n_client_ids, 3);
    assert_int_equal(r->contacts, 6);
    assert_int_equal(r->credit_checks, 2);
    assert_true(r->client_ids[0] < r->client_ids[1] && r->client_ids[1] < r->client_ids[2]);

    for (size_t i = 0; i < 3; i++) {
        Kontor__Clients__ClientRequest q = KONTOR__CLIENTS__CLIENT_REQUEST__INIT;
        q.client_id = r->client_ids[i];
        ProtobufCMessage *out = NULL;
        s_ok(s_head, "GetClient", &q.base, &kontor__clients__client_view__descriptor, &out, NULL);
        Kontor__Clients__ClientView *v = (Kontor__Clients__ClientView *)out;
        assert_string_equal(v->card->name, b.one[i].name);
        assert_string_equal(v->card->tax_id, b.one[i].tax);
        assert_int_equal(v->card->manager_id, i % 2 ? S_M2_ID : S_M1_ID);
        assert_int_equal(v->card->found_by_manager_id, v->card->manager_id);
        assert_int_equal(v->card->territory_id, i % 2 ? s_t2 : s_t1);
        assert_int_equal(v->card->branch_id, s_branch);
        assert_int_equal(v->card->version, 1);
        assert_int_equal(v->card->n_holidays, 1);
        assert_string_equal(v->card->holidays[0]->day, "06-01");
        if (i % 2 == 0)
            assert_string_equal(v->card->code, b.one[i].code);
        else
            assert_int_equal(v->card->code[0], 'C');
        assert_int_equal(v->n_contacts, 2);
        assert_string_equal(v->contacts[0]->name, "Петров Сергей");
        assert_true(v->contacts[0]->decision_maker);
        assert_string_equal(v->contacts[1]->birthday, "1980-05-17");
        assert_int_equal(v->n_assignments, 1);
        assert_int_equal(v->assignments[0]->to_manager_id, v->card->manager_id);
        assert_string_equal(v->assignments[0]->by, "admin");
        if (i < 2) {
            assert_int_equal(v->card->status, KONTOR__CLIENTS__CLIENT_STATUS__ACTIVE);
            assert_string_equal(v->terms->terms->price_column, "C");
            assert_int_equal(v->terms->terms->discount_bp, 250);
            assert_int_equal(v->terms->terms->credit_limit->units, 500000 + (int64_t)i);
            assert_int_equal(v->terms->terms->short_policy,
                             KONTOR__CLIENTS__SHORT_POLICY__WAIT_FOR_ALL);
            assert_string_equal(v->terms->contract->date, "2025-01-15");
            assert_string_equal(v->terms->why, "imported");
            assert_non_null(v->latest_credit_check);
            assert_int_equal(v->latest_credit_check->score, 700);
            assert_string_equal(v->latest_credit_check->checked_by, "admin");
        } else {
            assert_int_equal(v->card->status, KONTOR__CLIENTS__CLIENT_STATUS__PROSPECT);
            assert_string_equal(v->terms->terms->price_column, "A");
            assert_string_equal(v->terms->terms->credit_limit->currency, "USD");
            assert_null(v->latest_credit_check);
        }
        kt_msg_free(out);

        Kontor__Clients__GetTermsRequest g = KONTOR__CLIENTS__GET_TERMS_REQUEST__INIT;
        g.client_id = r->client_ids[i];
        s_ok(s_head, "GetTerms", &g.base, &kontor__clients__terms__descriptor, &out, NULL);
        Kontor__Clients__Terms *t = (Kontor__Clients__Terms *)out;
        assert_int_equal(t->version, 1);
        assert_int_equal(t->payment_days, i < 2 ? 30 : 0);
        kt_msg_free(out);
    }
    //  One ClientChanged and one TermsChanged per client, in the outbox.
    assert_int_equal(kth_sql_i64(s_set, "SELECT count(*) FROM clients.outbox WHERE type IN"
                                        " ('ClientChanged', 'TermsChanged')"),
                     events_before + 6);
    assert_int_equal(kth_sql_i64(s_set, "SELECT count(*) FROM clients.outbox WHERE type ="
                                        " 'TermsChanged'"),
                     kth_sql_i64(s_set, "SELECT count(*) FROM clients.outbox WHERE type ="
                                        " 'ClientChanged'"));
    //  And orders and receivables apply them: they know each client's terms.
    assert_true(kth_wait_sqlf(s_set, 3, S_WAIT_MS,
                              "SELECT count(*) FROM orders.client_terms WHERE client_id IN"
                              " (%" PRId64 ", %" PRId64 ", %" PRId64 ") AND version = 1",
                              r->client_ids[0], r->client_ids[1], r->client_ids[2]));
    assert_int_equal(kth_sql_i64f(s_set,
                                  "SELECT count(*) FROM orders.client_terms WHERE client_id = "
                                  "%" PRId64 " AND price_column = 'C' AND discount_bp = 250"
                                  " AND credit_limit = 500001 AND manager_id = %d",
                                  r->client_ids[1], S_M2_ID),
                     1);
    assert_true(kth_wait_sqlf(s_set, 3, S_WAIT_MS,
                              "SELECT count(*) FROM receivables.accounts WHERE client_id IN"
                              " (%" PRId64 ", %" PRId64 ", %" PRId64 ") AND has_terms"
                              " AND terms_version = 1",
                              r->client_ids[0], r->client_ids[1], r->client_ids[2]));
    assert_int_equal(kth_sql_i64f(s_set,
                                  "SELECT count(*) FROM receivables.accounts WHERE client_id = "
                                  "%" PRId64 " AND credit_limit = 500000 AND payment_days = 30"
                                  " AND grace_days = 7 AND currency = 'EUR'",
                                  r->client_ids[0]),
                     1);
    kt_msg_free(&r->base);
    s_batch_free(&b);
}

static void test_import_replay_with_the_key_changes_nothing(void **state)
{
    s_batch_t b;
    s_batch(&b, 4, "replay");
    Kontor__Clients__ImportClientsReply *first = s_import(s_head, &b, "it-import-replay");
    int64_t before = s_fingerprint();
    //  The same batch again under the key: the first reply, nothing new.
    Kontor__Clients__ImportClientsReply *again = s_import(s_head, &b, "it-import-replay");
    assert_int_equal(again->n_client_ids, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(again->client_ids[i], first->client_ids[i]);
    assert_int_equal(again->contacts, first->contacts);
    assert_false(first->replayed);
    assert_true(again->replayed);
    assert_int_equal(s_fingerprint(), before);
    //  Another batch under the same key: refused, nothing new.
    b.one[1].c.name = "Другое имя";
    s_import_refused(s_head, &b, "it-import-replay", KT_ABORTED, "idempotency_key",
                     "idempotency_mismatch", NULL);
    assert_int_equal(s_fingerprint(), before);
    //  Without a key: refused before anything is looked at.
    s_import_refused(s_head, &b, NULL, KT_INVALID_ARGUMENT, "idempotency_key", NULL, NULL);
    assert_int_equal(s_fingerprint(), before);
    kt_msg_free(&again->base);
    kt_msg_free(&first->base);
    s_batch_free(&b);
}

static void test_import_refuses_a_bad_client_and_imports_nothing(void **state)
{
    int64_t before = s_fingerprint();
    char key[64];
    int k = 0;
    Kontor__Money usd = KONTOR__MONEY__INIT;
    usd.units = 100;
    usd.currency = "usd";
    Kontor__Money high = KONTOR__MONEY__INIT;
    high.units = 9000000;
    high.currency = "EUR";
    for (int c = 0;; c++) {
        s_batch_t b;
        s_batch(&b, 3, "bad");
        s_one_t *o1 = &b.one[1], *o2 = &b.one[2];
        const char *field = NULL;
        int status = KT_INVALID_ARGUMENT;
        const char *reason = NULL;
        switch (c) {
        case 0: o2->c.tax_id = "12AB"; field = "clients[2].tax_id"; break;
        case 1: o1->c.name = ""; field = "clients[1].name"; break;
        case 2: o2->c.code = "lower-case"; field = "clients[2].code"; break;
        case 3: o2->t.discount_bp = 20000; field = "clients[2].terms.discount_bp"; break;
        case 4:
            o1->t.credit_limit = &usd;
            field = "clients[1].terms.credit_limit.currency";
            break;
        case 5: o2->t.price_column = "F"; field = "clients[2].terms.price_column"; break;
        case 6: o1->t.payment_days = 400; field = "clients[1].terms.payment_days"; break;
        case 7: o2->ct[0].email = "not-an-email"; field = "clients[2].contacts[0].email"; break;
        case 8: o1->ct[1].phone = "12"; field = "clients[1].contacts[1].phone"; break;
        case 9: o2->ct[1].birthday = "2199-01-01"; field = "clients[2].contacts[1].birthday"; break;
        case 10: o1->ct[0].id = 7; field = "clients[1].contacts[0].id"; break;
        case 11: o2->h.day = "02-30"; field = "clients[2].holidays[0].day"; break;
        case 12: o1->ck.score = 2000; field = "clients[1].credit_check.score"; break;
        case 13: o2->t.client_id = 42; field = "clients[2].terms.client_id"; break;
        case 14: o1->c.currency = "USD"; field = "clients[1].currency"; break;
        case 15: o2->c.territory_id = 987654; field = "clients[2].territory_id";
            status = KT_NOT_FOUND; break;
        case 16: o1->c.manager_id = 999; field = "clients[1].manager_id";
            status = KT_NOT_FOUND; break;
        case 17: o2->c.manager_id = S_GONE_ID; field = "clients[2].manager_id";
            status = KT_FAILED_PRECONDITION; break;
        case 18:
            //  An admin may not set a limit above the recommended one.
            o1->t.credit_limit = &high;
            field = "clients[1].terms.credit_limit";
            status = KT_PERMISSION_DENIED;
            reason = "role_required";
            break;
        case 19: o2->c.manager_id = -1; field = "clients[2].manager_id"; break;
        default: s_batch_free(&b); goto done;
        }
        snprintf(key, sizeof key, "it-import-bad-%d", k++);
        s_import_refused(s_admin, &b, key, status, field, reason,
                         status == KT_INVALID_ARGUMENT ? field : NULL);
        assert_int_equal(s_fingerprint(), before);
        s_batch_free(&b);
    }
done:;
    //  A head may set that limit; an admin's own batch lacks a manager.
    s_batch_t b;
    s_batch(&b, 1, "head");
    b.one[0].t.credit_limit = &high;
    Kontor__Clients__ImportClientsReply *r = s_import(s_head, &b, "it-import-head-limit");
    assert_int_equal(r->n_client_ids, 1);
    kt_msg_free(&r->base);
    before = s_fingerprint();
    b.one[0].c.manager_id = 0;
    b.one[0].c.tax_id = "5599999901";
    s_import_refused(s_admin, &b, "it-import-no-manager", KT_INVALID_ARGUMENT,
                     "clients[0].manager_id", NULL, "admin is not a manager");
    //  A manager may not import at all.
    s_import_refused(s_m1, &b, "it-import-manager", KT_PERMISSION_DENIED, NULL, "role_required",
                     NULL);
    s_batch_free(&b);
    //  Empty, and over a thousand.
    s_batch(&b, 0, "none");
    s_import_refused(s_admin, &b, "it-import-empty", KT_INVALID_ARGUMENT, "clients", NULL, NULL);
    s_batch_free(&b);
    s_batch(&b, 1001, "many");
    s_import_refused(s_admin, &b, "it-import-many", KT_INVALID_ARGUMENT, "clients", NULL,
                     "at most 1000");
    s_batch_free(&b);
    assert_int_equal(s_fingerprint(), before);
}

static void test_import_refuses_duplicates_in_the_batch_and_the_table(void **state)
{
    s_batch_t b;
    s_batch(&b, 1, "dup0");
    Kontor__Clients__ImportClientsReply *r = s_import(s_admin, &b, "it-import-dup-0");
    int64_t existing = r->client_ids[0];
    char existing_tax[24], existing_code[32], says[64];
    snprintf(existing_tax, sizeof existing_tax, "%s", b.one[0].tax);
    snprintf(existing_code, sizeof existing_code, "%s", b.one[0].code);
    kt_msg_free(&r->base);
    s_batch_free(&b);
    int64_t before = s_fingerprint();

    s_batch(&b, 4, "dup");
    b.one[3].c.tax_id = b.one[1].tax; //  the same tax id twice
    s_import_refused(s_admin, &b, "it-import-dup-1", KT_ALREADY_EXISTS, "clients[3].tax_id", NULL,
                     "clients[1]");
    b.one[3].c.tax_id = b.one[3].tax;
    b.one[2].c.code = b.one[0].code; //  the same code twice
    s_import_refused(s_admin, &b, "it-import-dup-2", KT_ALREADY_EXISTS, "clients[2].code", NULL,
                     "clients[0]");
    b.one[2].c.code = b.one[2].code;
    b.one[1].c.tax_id = existing_tax; //  a client in the table has it
    snprintf(says, sizeof says, "client %" PRId64, existing);
    s_import_refused(s_admin, &b, "it-import-dup-3", KT_ALREADY_EXISTS, "clients[1].tax_id", NULL,
                     says);
    b.one[1].c.tax_id = b.one[1].tax;
    b.one[2].c.code = existing_code;
    s_import_refused(s_admin, &b, "it-import-dup-4", KT_ALREADY_EXISTS, "clients[2].code", NULL,
                     says);
    assert_int_equal(s_fingerprint(), before);
    s_batch_free(&b);
}

//  ---------------------------------------------------------------- ListComplaints

static int64_t s_client_of(kt_client_t *as, const char *name)
{
    char tax[16];
    snprintf(tax, sizeof tax, "66%08d", ++s_tax_seq);
    Kontor__Clients__CreateClientRequest req = KONTOR__CLIENTS__CREATE_CLIENT_REQUEST__INIT;
    req.name = (char *)name;
    req.tax_id = tax;
    req.territory_id = s_t1;
    ProtobufCMessage *out = NULL;
    s_ok(as, "CreateClient", &req.base, &kontor__clients__client_card__descriptor, &out, NULL);
    int64_t id = ((Kontor__Clients__ClientCard *)out)->id;
    kt_msg_free(out);
    return id;
}

static int64_t s_complaint(kt_client_t *as, int64_t client, Kontor__Clients__ComplaintStatus to)
{
    Kontor__Clients__OpenComplaintRequest o = KONTOR__CLIENTS__OPEN_COMPLAINT_REQUEST__INIT;
    o.client_id = client;
    o.category = "quality";
    o.description = "Битая упаковка";
    ProtobufCMessage *out = NULL;
    s_ok(as, "OpenComplaint", &o.base, &kontor__clients__complaint__descriptor, &out, NULL);
    int64_t id = ((Kontor__Clients__Complaint *)out)->id;
    kt_msg_free(out);
    if (to != KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN) {
        Kontor__Clients__MoveComplaintRequest m = KONTOR__CLIENTS__MOVE_COMPLAINT_REQUEST__INIT;
        m.complaint_id = id;
        m.status = to;
        m.resolution = "заменили";
        s_ok(as, "MoveComplaint", &m.base, &kontor__clients__complaint__descriptor, NULL, NULL);
    }
    return id;
}

static Kontor__Clients__ListComplaintsReply *s_list(kt_client_t *as,
                                                    const Kontor__Clients__ListComplaintsRequest *q)
{
    ProtobufCMessage *out = NULL;
    s_ok(as, "ListComplaints", &q->base, &kontor__clients__list_complaints_reply__descriptor, &out,
         NULL);
    return (Kontor__Clients__ListComplaintsReply *)out;
}

static size_t s_count(kt_client_t *as, const Kontor__Clients__ListComplaintsRequest *q)
{
    Kontor__Clients__ListComplaintsReply *r = s_list(as, q);
    size_t n = r->n_complaints;
    for (size_t i = 1; i < n; i++)
        assert_true(r->complaints[i - 1]->id > r->complaints[i]->id); //  newest first
    kt_msg_free(&r->base);
    return n;
}

static void test_list_complaints_filters_pages_and_ownership(void **state)
{
    int64_t a = s_client_of(s_m1, "Жалобщик А");
    int64_t b = s_client_of(s_m2, "Жалобщик Б");
    const Kontor__Clients__ComplaintStatus st[] = {
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN,
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED,
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_IN_PROGRESS,
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_REJECTED,
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED,
    };
    for (int i = 0; i < 5; i++)
        s_complaint(s_m1, a, st[i]);
    s_complaint(s_m2, b, KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN);
    s_complaint(s_m2, b, KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED);
    int64_t total = kth_sql_i64(s_set, "SELECT count(*) FROM clients.complaints");

    Kontor__Clients__ListComplaintsRequest q = KONTOR__CLIENTS__LIST_COMPLAINTS_REQUEST__INIT;
    q.limit = 200;
    assert_int_equal(s_count(s_head, &q), total);
    q.client_id = a;
    assert_int_equal(s_count(s_head, &q), 5);
    Kontor__Clients__ComplaintStatus resolved[] = {
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED};
    q.statuses = resolved;
    q.n_statuses = 1;
    assert_int_equal(s_count(s_head, &q), 2);
    Kontor__Clients__ComplaintStatus live[] = {
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN,
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_IN_PROGRESS};
    q.statuses = live;
    q.n_statuses = 2;
    assert_int_equal(s_count(s_head, &q), 2);
    q.n_statuses = 0;
    q.client_id = 0;
    q.manager_id = S_M2_ID;
    assert_int_equal(s_count(s_head, &q), 2);
    q.manager_id = 0;
    //  Dates: today holds them all, tomorrow and yesterday none.
    char *today = kth_sql_value(s_set, "SELECT current_date::text");
    char *tomorrow = kth_sql_value(s_set, "SELECT (current_date + 1)::text");
    char *yesterday = kth_sql_value(s_set, "SELECT (current_date - 1)::text");
    q.opened_from = today;
    q.opened_to = today;
    assert_int_equal(s_count(s_head, &q), total);
    q.opened_from = tomorrow;
    q.opened_to = "";
    assert_int_equal(s_count(s_head, &q), 0);
    q.opened_from = "";
    q.opened_to = yesterday;
    assert_int_equal(s_count(s_head, &q), 0);
    q.opened_to = "";
    //  Pages of two, chained by next_after_id, cover everything once.
    q.limit = 2;
    size_t seen = 0;
    int64_t last = INT64_MAX;
    for (int page = 0; page < 100; page++) {
        Kontor__Clients__ListComplaintsReply *r = s_list(s_head, &q);
        assert_true(r->n_complaints <= 2);
        for (size_t i = 0; i < r->n_complaints; i++) {
            assert_true(r->complaints[i]->id < last);
            last = r->complaints[i]->id;
        }
        seen += r->n_complaints;
        q.after_id = r->next_after_id;
        kt_msg_free(&r->base);
        if (q.after_id == 0)
            break;
    }
    assert_int_equal(seen, total);
    q.after_id = 0;
    q.limit = 200;
    //  A manager sees their own clients' complaints, and only those.
    assert_int_equal(s_count(s_m1, &q), kth_sql_i64f(s_set,
                                                     "SELECT count(*) FROM clients.complaints k"
                                                     " JOIN clients.clients c ON c.id = k.client_id"
                                                     " WHERE c.manager_id = %d",
                                                     S_M1_ID));
    q.manager_id = S_M2_ID;
    s_refused(s_m1, "ListComplaints", &q.base, &kontor__clients__list_complaints_reply__descriptor,
              NULL, KT_PERMISSION_DENIED, "manager_id", "not_owner", NULL);
    q.manager_id = 0;
    q.client_id = b;
    s_refused(s_m1, "ListComplaints", &q.base, &kontor__clients__list_complaints_reply__descriptor,
              NULL, KT_PERMISSION_DENIED, NULL, "not_owner", NULL);
    //  Bad input.
    q.client_id = 987654;
    s_refused(s_head, "ListComplaints", &q.base,
              &kontor__clients__list_complaints_reply__descriptor, NULL, KT_NOT_FOUND,
              "client_id", "unknown_client", NULL);
    q.client_id = 0;
    Kontor__Clients__ComplaintStatus none[] = {
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN,
        KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_STATUS_UNSPECIFIED};
    q.statuses = none;
    q.n_statuses = 2;
    s_refused(s_head, "ListComplaints", &q.base,
              &kontor__clients__list_complaints_reply__descriptor, NULL, KT_INVALID_ARGUMENT,
              "statuses[1]", NULL, NULL);
    q.n_statuses = 0;
    q.limit = 201;
    s_refused(s_head, "ListComplaints", &q.base,
              &kontor__clients__list_complaints_reply__descriptor, NULL, KT_INVALID_ARGUMENT,
              "limit", NULL, NULL);
    q.limit = 0;
    q.opened_from = "2025-13-01";
    s_refused(s_head, "ListComplaints", &q.base,
              &kontor__clients__list_complaints_reply__descriptor, NULL, KT_INVALID_ARGUMENT,
              "opened_from", NULL, NULL);
    q.opened_from = tomorrow;
    q.opened_to = today;
    s_refused(s_head, "ListComplaints", &q.base,
              &kontor__clients__list_complaints_reply__descriptor, NULL, KT_INVALID_ARGUMENT,
              "opened_to", NULL, NULL);
    q.opened_from = "";
    q.opened_to = "";
    q.after_id = -1;
    s_refused(s_head, "ListComplaints", &q.base,
              &kontor__clients__list_complaints_reply__descriptor, NULL, KT_INVALID_ARGUMENT,
              "after_id", NULL, NULL);
    free(today);
    free(tomorrow);
    free(yesterday);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_makes_cards_terms_contacts_and_events),
        cmocka_unit_test(test_import_replay_with_the_key_changes_nothing),
        cmocka_unit_test(test_import_refuses_a_bad_client_and_imports_nothing),
        cmocka_unit_test(test_import_refuses_duplicates_in_the_batch_and_the_table),
        cmocka_unit_test(test_list_complaints_filters_pages_and_ownership),
    };
    return cmocka_run_group_tests_name("clients_import", tests, s_setup, s_teardown);
}
