/*  it_clients - the clients service against a real PostgreSQL and bus.
 *
 *  One set for the whole program: the bus, orders and receivables (their
 *  relays publish what the test writes into their outboxes, as superuser,
 *  the way their handlers would) and clients with two workers. Seeded as
 *  admin with the managers the principals name: head-1 = 1, manager-1 = 2,
 *  manager-2 = 3, and a lead manager 4 who leads territory T1.
 *
 *  Every refusal is checked by status and field (and reason where there is
 *  one), and then that nothing changed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
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
#include "orders.pb-c.h"
#include "receivables.pb-c.h"

static kth_set_t *s_set;
static pid_t s_clients, s_orders, s_receivables;
static kt_client_t *s_admin, *s_head, *s_m1, *s_m2, *s_orders_svc;
static int64_t s_t1, s_t2, s_branch;

#define S_WAIT_MS 20000 //  the longest wait for an event to be applied
#define S_HEAD_ID 1
#define S_M1_ID   2
#define S_M2_ID   3
#define S_LEAD_ID 4

//  ---------------------------------------------------------------- helpers

//  Call clients.<method>; returns the status, the reply (caller clears) and
//  the unpacked payload in *out (caller frees, may be NULL).
static int s_call(kt_client_t *c, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *rep, ProtobufCMessage **out, kt_reply_t *reply)
{
    kt_call_opts_t opts = {.timeout_ms = 10000};
    ProtobufCMessage *ignored = NULL;
    int status = kt_client_call(c, "clients", method, req, rep, out ? out : &ignored, &opts, reply);
    kt_msg_free(ignored);
    return status;
}

//  Call expecting a refusal: status, field and (if not NULL) reason.
static void s_refused(kt_client_t *c, const char *method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *rep, int status, const char *field,
                      const char *reason)
{
    kt_reply_t reply;
    int got = s_call(c, method, req, rep, NULL, &reply);
    if (got != status || strcmp(reply.field, field ? field : "") != 0 ||
        (reason && strcmp(reply.reason, reason) != 0))
        print_message("# %s: want %s field=%s reason=%s, got %s field=%s reason=%s: %s\n", method,
                      kt_status_name(status), field ? field : "", reason ? reason : "",
                      kt_status_name(got), reply.field, reply.reason, reply.message);
    assert_int_equal(got, status);
    assert_string_equal(reply.field, field ? field : "");
    if (reason)
        assert_string_equal(reply.reason, reason);
    kt_reply_clear(&reply);
}

static int64_t s_order_seq = 1000;

static void s_order(int64_t order_id, int64_t client_id, int64_t manager_id, int64_t total,
                    int64_t at_ms)
{
    Kontor__Orders__OrderConfirmed oc = KONTOR__ORDERS__ORDER_CONFIRMED__INIT;
    oc.order_id = order_id;
    oc.client_id = client_id;
    oc.manager_id = manager_id;
    oc.branch_id = s_branch;
    oc.warehouse_id = 1;
    oc.currency = "EUR";
    oc.total = total;
    oc.confirmed_at_ms = at_ms;
    kth_outbox(s_set, "orders", "OrderConfirmed", &oc.base);
}

static int s_tax_seq = 0;

//  A new client of `as` (manager_id 0: the caller) in territory `t`; returns its card.
static Kontor__Clients__ClientCard *s_create(kt_client_t *as, const char *name, int64_t t,
                                             int64_t manager_id)
{
    char tax[16];
    snprintf(tax, sizeof tax, "77%08d", ++s_tax_seq);
    Kontor__Clients__CreateClientRequest req = KONTOR__CLIENTS__CREATE_CLIENT_REQUEST__INIT;
    req.name = (char *)name;
    req.tax_id = tax;
    req.territory_id = t;
    req.manager_id = manager_id;
    req.legal_address = "Москва, ул. Ленина, 1";
    ProtobufCMessage *out = NULL;
    kt_reply_t reply;
    int status = s_call(as, "CreateClient", &req.base, &kontor__clients__client_card__descriptor,
                        &out, &reply);
    if (status != KT_OK)
        print_message("# CreateClient %s: %s %s %s\n", name, kt_status_name(status), reply.field,
                      reply.message);
    assert_int_equal(status, KT_OK);
    kt_reply_clear(&reply);
    return (Kontor__Clients__ClientCard *)out;
}

static Kontor__Clients__ClientView *s_view(kt_client_t *as, int64_t id)
{
    Kontor__Clients__ClientRequest req = KONTOR__CLIENTS__CLIENT_REQUEST__INIT;
    req.client_id = id;
    ProtobufCMessage *out = NULL;
    kt_reply_t reply;
    assert_int_equal(
        s_call(as, "GetClient", &req.base, &kontor__clients__client_view__descriptor, &out, &reply),
        KT_OK);
    kt_reply_clear(&reply);
    return (Kontor__Clients__ClientView *)out;
}

//  An update request that rewrites a card as it is, at its version.
static void s_update_from(Kontor__Clients__UpdateClientRequest *u,
                          const Kontor__Clients__ClientCard *c)
{
    kontor__clients__update_client_request__init(u);
    u->client_id = c->id;
    u->version = c->version;
    u->code = c->code;
    u->name = c->name;
    u->tax_id = c->tax_id;
    u->legal_address = c->legal_address;
    u->delivery_address = c->delivery_address;
    u->segment = c->segment;
    u->status = c->status;
    u->key_account = c->key_account;
    u->territory_id = c->territory_id;
}

static Kontor__Clients__SearchClientsReply *s_search(kt_client_t *as,
                                                     const Kontor__Clients__SearchClientsRequest *q)
{
    ProtobufCMessage *out = NULL;
    kt_reply_t reply;
    int status = s_call(as, "SearchClients", &q->base,
                        &kontor__clients__search_clients_reply__descriptor, &out, &reply);
    if (status != KT_OK)
        print_message("# SearchClients: %s %s %s\n", kt_status_name(status), reply.field,
                      reply.message);
    assert_int_equal(status, KT_OK);
    kt_reply_clear(&reply);
    return (Kontor__Clients__SearchClientsReply *)out;
}

//  How many clients a fragment finds (all pages of up to 200).
static size_t s_found(const char *q, const char *want_name)
{
    Kontor__Clients__SearchClientsRequest req = KONTOR__CLIENTS__SEARCH_CLIENTS_REQUEST__INIT;
    req.q = (char *)q;
    req.limit = 200;
    Kontor__Clients__SearchClientsReply *r = s_search(s_head, &req);
    size_t n = r->n_clients;
    bool seen = want_name == NULL;
    for (size_t i = 0; i < n; i++)
        if (want_name && strcmp(r->clients[i]->name, want_name) == 0)
            seen = true;
    if (!seen)
        print_message("# %s did not find %s\n", q, want_name);
    assert_true(seen);
    kt_msg_free(&r->base);
    return n;
}

//  ---------------------------------------------------------------- setup

static void s_ok(kt_client_t *as, const char *method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *rep, ProtobufCMessage **out)
{
    kt_reply_t reply;
    int status = s_call(as, method, req, rep, out, &reply);
    if (status != KT_OK)
        print_message("# %s: %s field=%s %s\n", method, kt_status_name(status), reply.field,
                      reply.message);
    assert_int_equal(status, KT_OK);
    kt_reply_clear(&reply);
}

static void s_manager(int64_t id, const char *name, Kontor__Clients__ManagerRole role)
{
    Kontor__Clients__Manager m = KONTOR__CLIENTS__MANAGER__INIT;
    m.id = id;
    m.name = (char *)name;
    m.role = role;
    m.branch_id = s_branch;
    s_ok(s_admin, "UpsertManager", &m.base, &kontor__clients__manager__descriptor, NULL);
}

static int64_t s_territory(const char *name, int64_t lead)
{
    Kontor__Clients__Territory t = KONTOR__CLIENTS__TERRITORY__INIT;
    t.branch_id = s_branch;
    t.name = (char *)name;
    t.lead_manager_id = lead;
    ProtobufCMessage *out = NULL;
    s_ok(s_admin, "UpsertTerritory", &t.base, &kontor__clients__territory__descriptor, &out);
    int64_t id = ((Kontor__Clients__Territory *)out)->id;
    kt_msg_free(out);
    return id;
}

static int s_setup(void **state)
{
    s_set = kth_set_new("clients");
    kth_start_bus(s_set);
    s_orders = kth_start_service(s_set, "orders", 1);
    s_receivables = kth_start_service(s_set, "receivables", 1);
    s_clients = kth_start_service(s_set, "clients", 2);
    s_admin = kth_client(s_set, "admin");
    s_head = kth_client(s_set, "head-1");
    s_m1 = kth_client(s_set, "manager-1");
    s_m2 = kth_client(s_set, "manager-2");
    s_orders_svc = kth_client(s_set, "orders");

    Kontor__Clients__Branch b = KONTOR__CLIENTS__BRANCH__INIT;
    b.code = "NORTH";
    b.name = "Северный филиал";
    ProtobufCMessage *out = NULL;
    s_ok(s_admin, "UpsertBranch", &b.base, &kontor__clients__branch__descriptor, &out);
    s_branch = ((Kontor__Clients__Branch *)out)->id;
    kt_msg_free(out);
    s_manager(S_HEAD_ID, "Head One", KONTOR__CLIENTS__MANAGER_ROLE__ROLE_HEAD);
    s_manager(S_M1_ID, "Manager One", KONTOR__CLIENTS__MANAGER_ROLE__ROLE_MANAGER);
    s_manager(S_M2_ID, "Manager Two", KONTOR__CLIENTS__MANAGER_ROLE__ROLE_MANAGER);
    s_manager(S_LEAD_ID, "Lead Four", KONTOR__CLIENTS__MANAGER_ROLE__ROLE_LEAD_MANAGER);
    s_t1 = s_territory("T1 Центр", S_LEAD_ID);
    s_t2 = s_territory("T2 Окраина", 0);
    return 0;
}

static int s_teardown(void **state)
{
    kt_client_destroy(&s_orders_svc);
    kt_client_destroy(&s_m2);
    kt_client_destroy(&s_m1);
    kt_client_destroy(&s_head);
    kt_client_destroy(&s_admin);
    //  clients first, while the producers it catches up from still answer:
    //  it must stop cleanly. orders and receivables only relay what the test
    //  wrote for them; they are not under test here and are killed.
    int status = kth_signal(s_set, s_clients, SIGTERM);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    kth_signal(s_set, s_receivables, SIGKILL);
    kth_signal(s_set, s_orders, SIGKILL);
    assert_int_equal(kth_set_stop(s_set), 0);
    kth_set_destroy(&s_set);
    return 0;
}

//  ---------------------------------------------------------------- card

static void test_seed_managers_carry_the_principals_ids(void **state)
{
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.managers WHERE id IN (1, 2, 3, 4)"), 4);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.managers WHERE id = 1 AND role = 'head'"),
        1);
    //  Only heads and admins seed.
    Kontor__Clients__Manager m = KONTOR__CLIENTS__MANAGER__INIT;
    m.id = 9;
    m.name = "Self Made";
    m.role = KONTOR__CLIENTS__MANAGER_ROLE__ROLE_HEAD;
    m.branch_id = s_branch;
    s_refused(s_m1, "UpsertManager", &m.base, &kontor__clients__manager__descriptor,
              KT_PERMISSION_DENIED, NULL, "role_required");
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM clients.managers WHERE id = 9"), 0);
}

static void test_card_lifecycle(void **state)
{
    const char *name = "ООО «Ёлка и Ко» — 東京 ünïcødé";
    Kontor__Clients__CreateClientRequest req = KONTOR__CLIENTS__CREATE_CLIENT_REQUEST__INIT;
    req.name = (char *)name;
    req.tax_id = "7701234567";
    req.territory_id = s_t2;
    req.segment = "retail";
    Kontor__Clients__Holiday h = KONTOR__CLIENTS__HOLIDAY__INIT;
    h.name = "День строителя";
    h.day = "08-10";
    Kontor__Clients__Holiday *hs[] = {&h};
    req.n_holidays = 1;
    req.holidays = hs;
    ProtobufCMessage *out = NULL;
    s_ok(s_m1, "CreateClient", &req.base, &kontor__clients__client_card__descriptor, &out);
    Kontor__Clients__ClientCard *card = (Kontor__Clients__ClientCard *)out;
    assert_string_equal(card->name, name);
    assert_int_equal(card->status, KONTOR__CLIENTS__CLIENT_STATUS__PROSPECT);
    assert_int_equal(card->manager_id, S_M1_ID);
    assert_int_equal(card->found_by_manager_id, S_M1_ID);
    assert_int_equal(card->branch_id, s_branch);
    assert_int_equal(card->version, 1);
    assert_int_equal(card->n_holidays, 1);
    assert_string_equal(card->holidays[0]->day, "08-10");
    assert_true(strncmp(card->code, "C", 1) == 0);
    int64_t id = card->id;
    //  Stored exactly, byte for byte.
    char *stored = NULL;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT name FROM clients.clients WHERE id = %" PRId64, id);
    stored = kth_sql_value(s_set, sql);
    assert_string_equal(stored, name);
    free(stored);
    assert_int_equal(kth_sql_i64f(s_set,
                                  "SELECT count(*) FROM clients.outbox WHERE type = 'ClientChanged'"
                                  " AND created_at > now() - interval '1 minute'") > 0,
                     1);

    //  A duplicate tax id is refused, naming the client that has it.
    req.name = "Someone Else";
    kt_reply_t reply;
    assert_int_equal(s_call(s_m2, "CreateClient", &req.base,
                            &kontor__clients__client_card__descriptor, NULL, &reply),
                     KT_ALREADY_EXISTS);
    assert_string_equal(reply.field, "tax_id");
    char want[64];
    snprintf(want, sizeof want, "client %" PRId64, id);
    assert_non_null(strstr(reply.message, want));
    kt_reply_clear(&reply);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.clients WHERE tax_id = '7701234567'"), 1);

    //  A contact with a birthday.
    Kontor__Clients__Contact ct = KONTOR__CLIENTS__CONTACT__INIT;
    ct.client_id = id;
    ct.name = "Пётр Иванович";
    ct.position = "директор";
    ct.phone = "+7 (495) 123-45-67";
    ct.email = "petr@example.ru";
    ct.decision_maker = true;
    ct.birthday = "1975-03-06";
    s_ok(s_m1, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor, NULL);
    //  Another manager may not touch it.
    s_refused(s_m2, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor,
              KT_PERMISSION_DENIED, NULL, "not_owner");

    //  Update from the version read.
    Kontor__Clients__UpdateClientRequest u;
    s_update_from(&u, card);
    u.delivery_address = "Склад №2; ворота 'B'";
    u.key_account = true;
    u.n_holidays = 1;
    u.holidays = hs;
    s_ok(s_m1, "UpdateClient", &u.base, &kontor__clients__client_card__descriptor, &out);
    Kontor__Clients__ClientCard *card2 = (Kontor__Clients__ClientCard *)out;
    assert_int_equal(card2->version, 2);
    assert_true(card2->key_account);
    assert_string_equal(card2->delivery_address, "Склад №2; ворота 'B'");
    kt_msg_free(out);
    //  The old version again: refused, not overwritten.
    u.delivery_address = "stale";
    s_refused(s_m1, "UpdateClient", &u.base, &kontor__clients__client_card__descriptor, KT_ABORTED,
              "version", "stale_version");
    //  Another manager's client.
    u.version = 2;
    s_refused(s_m2, "UpdateClient", &u.base, &kontor__clients__client_card__descriptor,
              KT_PERMISSION_DENIED, NULL, "not_owner");
    snprintf(sql, sizeof sql, "SELECT delivery_address FROM clients.clients WHERE id = %" PRId64,
             id);
    stored = kth_sql_value(s_set, sql);
    assert_string_equal(stored, "Склад №2; ворота 'B'");
    free(stored);

    //  Assignment: heads only, kept in the history.
    Kontor__Clients__AssignManagerRequest a = KONTOR__CLIENTS__ASSIGN_MANAGER_REQUEST__INIT;
    a.client_id = id;
    a.manager_id = S_M2_ID;
    a.why = "отпуск";
    s_refused(s_m1, "AssignManager", &a.base, &kontor__clients__client_card__descriptor,
              KT_PERMISSION_DENIED, NULL, "role_required");
    s_ok(s_head, "AssignManager", &a.base, &kontor__clients__client_card__descriptor, &out);
    assert_int_equal(((Kontor__Clients__ClientCard *)out)->manager_id, S_M2_ID);
    assert_int_equal(((Kontor__Clients__ClientCard *)out)->version, 3);
    kt_msg_free(out);
    a.manager_id = 999;
    s_refused(s_head, "AssignManager", &a.base, &kontor__clients__client_card__descriptor,
              KT_NOT_FOUND, "manager_id", NULL);

    //  The view: card, contacts, terms, history.
    Kontor__Clients__ClientView *v = s_view(s_m1, id);
    assert_int_equal(v->card->manager_id, S_M2_ID);
    assert_int_equal(v->n_contacts, 1);
    assert_string_equal(v->contacts[0]->name, "Пётр Иванович");
    assert_string_equal(v->contacts[0]->birthday, "1975-03-06");
    assert_non_null(v->terms);
    assert_string_equal(v->terms->terms->price_column, "A");
    assert_null(v->latest_credit_check);
    assert_int_equal(v->n_assignments, 2);
    assert_int_equal(v->assignments[0]->from_manager_id, S_M1_ID);
    assert_int_equal(v->assignments[0]->to_manager_id, S_M2_ID);
    assert_string_equal(v->assignments[0]->by, "head-1");
    assert_string_equal(v->assignments[0]->why, "отпуск");
    kt_msg_free(&v->base);
    kt_msg_free(&card->base);
    //  Unknown client.
    Kontor__Clients__ClientRequest g = KONTOR__CLIENTS__CLIENT_REQUEST__INIT;
    g.client_id = 987654;
    s_refused(s_m1, "GetClient", &g.base, &kontor__clients__client_view__descriptor, KT_NOT_FOUND,
              "client_id", "unknown_client");
}

//  ---------------------------------------------------------------- search

static void test_search_finds_literally(void **state)
{
    const char *names[] = {
        "100% Cotton",   "A_B Trading",  "Back\\slash Ltd", "O'Brien & Sons",
        "ООО Ромашка",   "Ромашка-Плюс", "ABC Trading",     "Robert'); DROP TABLE clients;--",
        "50\"Quote\" Co"};
    int64_t ids[9];
    for (int i = 0; i < 9; i++) {
        Kontor__Clients__ClientCard *c = s_create(s_m2, names[i], s_t2, 0);
        assert_string_equal(c->name, names[i]);
        ids[i] = c->id;
        kt_msg_free(&c->base);
    }
    //  Metacharacters are literal: each finds its own, and no more.
    assert_int_equal(s_found("100%", "100% Cotton"), 1);
    assert_int_equal(s_found("%", "100% Cotton"), 1);
    assert_int_equal(s_found("_", "A_B Trading"), 1);
    assert_int_equal(s_found("a_b", "A_B Trading"), 1);
    assert_int_equal(s_found("\\", "Back\\slash Ltd"), 1);
    assert_int_equal(s_found("back\\sl", "Back\\slash Ltd"), 1);
    assert_int_equal(s_found("o'brien", "O'Brien & Sons"), 1);
    assert_int_equal(s_found("'", "O'Brien & Sons") >= 2, 1); //  also Robert');
    assert_int_equal(s_found("\"quote\"", "50\"Quote\" Co"), 1);
    assert_int_equal(s_found("'); DROP TABLE clients;--", "Robert'); DROP TABLE clients;--"), 1);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM clients.clients") >= 9, 1);
    //  Cyrillic folds: any case finds both.
    assert_int_equal(s_found("ромашка", "ООО Ромашка"), 2);
    assert_int_equal(s_found("РОМ", "Ромашка-Плюс"), 2);
    assert_int_equal(s_found("плю ром", "Ромашка-Плюс"), 1);
    assert_int_equal(s_found("ашка", NULL), 0); //  inside a word: not found
    assert_int_equal(s_found("trading", "ABC Trading"), 2);
    assert_int_equal(s_found("zzzz", NULL), 0);
    //  By code fragment.
    char code[16];
    snprintf(code, sizeof code, "C%06" PRId64, ids[6]);
    assert_int_equal(s_found(code, "ABC Trading"), 1);

    //  Pages: by name, one at a time, keyset on the last id.
    Kontor__Clients__SearchClientsRequest q = KONTOR__CLIENTS__SEARCH_CLIENTS_REQUEST__INIT;
    q.q = "ромашка";
    q.limit = 1;
    Kontor__Clients__SearchClientsReply *r = s_search(s_m1, &q);
    assert_int_equal(r->n_clients, 1);
    assert_string_equal(r->clients[0]->name, "ООО Ромашка");
    assert_true(r->next_after_id == ids[4]);
    q.after_id = r->next_after_id;
    kt_msg_free(&r->base);
    r = s_search(s_m1, &q);
    assert_int_equal(r->n_clients, 1);
    assert_string_equal(r->clients[0]->name, "Ромашка-Плюс");
    assert_int_equal(r->next_after_id, 0);
    kt_msg_free(&r->base);

    //  Filters: manager, territory, status, key account, tax id.
    Kontor__Clients__SearchClientsRequest f = KONTOR__CLIENTS__SEARCH_CLIENTS_REQUEST__INIT;
    f.manager_id = S_M2_ID;
    f.territory_id = s_t2;
    f.status = KONTOR__CLIENTS__CLIENT_STATUS__PROSPECT;
    f.key_account = KONTOR__CLIENTS__TRISTATE__NO;
    f.q = "trading";
    f.limit = 200;
    r = s_search(s_m1, &f);
    assert_int_equal(r->n_clients, 2);
    kt_msg_free(&r->base);
    f.key_account = KONTOR__CLIENTS__TRISTATE__YES;
    r = s_search(s_m1, &f);
    assert_int_equal(r->n_clients, 0);
    kt_msg_free(&r->base);
    Kontor__Clients__SearchClientsRequest t = KONTOR__CLIENTS__SEARCH_CLIENTS_REQUEST__INIT;
    t.tax_id = "7701234567";
    r = s_search(s_m1, &t);
    assert_int_equal(r->n_clients, 1);
    kt_msg_free(&r->base);
    //  Bad search input.
    t.tax_id = "77-01";
    s_refused(s_m1, "SearchClients", &t.base, &kontor__clients__search_clients_reply__descriptor,
              KT_INVALID_ARGUMENT, "tax_id", NULL);
    t.tax_id = "";
    t.limit = 201;
    s_refused(s_m1, "SearchClients", &t.base, &kontor__clients__search_clients_reply__descriptor,
              KT_INVALID_ARGUMENT, "limit", NULL);
}

//  ---------------------------------------------------------------- concurrency

typedef struct {
    kt_client_t *client;
    Kontor__Clients__UpdateClientRequest *req;
    pthread_barrier_t *barrier;
    int status;
    char reason[64];
} s_racer_t;

static void *s_racer(void *arg)
{
    s_racer_t *r = arg;
    kt_reply_t reply;
    pthread_barrier_wait(r->barrier);
    kt_call_opts_t opts = {.timeout_ms = 10000};
    ProtobufCMessage *out = NULL;
    r->status = kt_client_call(r->client, "clients", "UpdateClient", &r->req->base,
                               &kontor__clients__client_card__descriptor, &out, &opts, &reply);
    snprintf(r->reason, sizeof r->reason, "%s", reply.reason);
    kt_msg_free(out);
    kt_reply_clear(&reply);
    return NULL;
}

static void test_two_updates_from_one_version_one_wins(void **state)
{
    Kontor__Clients__ClientCard *c = s_create(s_m1, "Race Conditions Ltd", s_t2, 0);
    for (int round = 0; round < 5; round++) {
        Kontor__Clients__ClientView *v = s_view(s_m1, c->id);
        Kontor__Clients__UpdateClientRequest a, b;
        s_update_from(&a, v->card);
        s_update_from(&b, v->card);
        a.segment = "from-a";
        b.segment = "from-b";
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 2);
        //  Two callers: the manager and the head, each on its own thread.
        s_racer_t ra = {s_m1, &a, &barrier, -1, ""}, rb = {s_head, &b, &barrier, -1, ""};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, s_racer, &ra);
        pthread_create(&tb, NULL, s_racer, &rb);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&barrier);
        assert_true((ra.status == KT_OK) != (rb.status == KT_OK));
        s_racer_t *loser = ra.status == KT_OK ? &rb : &ra;
        assert_int_equal(loser->status, KT_ABORTED);
        assert_string_equal(loser->reason, "stale_version");
        assert_int_equal(
            kth_sql_i64f(s_set, "SELECT version FROM clients.clients WHERE id = %" PRId64, c->id),
            v->card->version + 1);
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT segment FROM clients.clients WHERE id = %" PRId64, c->id);
        char *seg = kth_sql_value(s_set, sql);
        assert_string_equal(seg, ra.status == KT_OK ? "from-a" : "from-b");
        free(seg);
        kt_msg_free(&v->base);
    }
    kt_msg_free(&c->base);
}

//  ---------------------------------------------------------------- terms

static void test_terms_change_needs_a_head_and_emits_once(void **state)
{
    Kontor__Clients__ClientCard *c = s_create(s_m1, "Terms & Conditions", s_t2, 0);
    int64_t id = c->id;
    int64_t events =
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.outbox WHERE type = 'TermsChanged'");
    Kontor__Money limit = KONTOR__MONEY__INIT;
    limit.units = 5000000;
    limit.currency = "EUR";
    Kontor__Clients__SetTermsRequest t = KONTOR__CLIENTS__SET_TERMS_REQUEST__INIT;
    t.client_id = id;
    t.contract_number = "Д-2030/17";
    t.contract_date = "2030-01-15";
    t.contract_until = "2031-01-14";
    t.price_column = "C";
    t.discount_bp = 750;
    t.payment_days = 30;
    t.grace_days = 5;
    t.credit_limit = &limit;
    t.short_policy = KONTOR__CLIENTS__SHORT_POLICY__WAIT_FOR_ALL;
    t.why = "годовой договор";
    s_refused(s_m1, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor,
              KT_PERMISSION_DENIED, NULL, "role_required");
    //  An admin is not a head: no check recommends this limit.
    s_refused(s_admin, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor,
              KT_PERMISSION_DENIED, "credit_limit", "role_required");
    ProtobufCMessage *out = NULL;
    s_ok(s_head, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor, &out);
    Kontor__Clients__TermsReply *tr = (Kontor__Clients__TermsReply *)out;
    assert_string_equal(tr->terms->price_column, "C");
    assert_int_equal(tr->terms->discount_bp, 750);
    assert_int_equal(tr->terms->credit_limit->units, 5000000);
    assert_int_equal(tr->terms->version, c->version + 1);
    assert_string_equal(tr->changed_by, "head-1");
    assert_string_equal(tr->contract->number, "Д-2030/17");
    kt_msg_free(out);
    //  Exactly one TermsChanged, carrying the new terms, who and why.
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.outbox WHERE type = 'TermsChanged'"),
        events + 1);
    char *hex = kth_sql_value(s_set, "SELECT encode(payload, 'hex') FROM clients.outbox"
                                     " WHERE type = 'TermsChanged' ORDER BY id DESC LIMIT 1");
    assert_non_null(hex);
    size_t len = strlen(hex) / 2;
    uint8_t *bytes = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        sscanf(hex + 2 * i, "%2hhx", &bytes[i]);
    Kontor__Clients__TermsChanged *ev = (Kontor__Clients__TermsChanged *)kt_msg_unpack(
        &kontor__clients__terms_changed__descriptor, bytes, len, NULL, 0, NULL, 0);
    assert_non_null(ev);
    assert_int_equal(ev->terms->client_id, id);
    assert_int_equal(ev->terms->discount_bp, 750);
    assert_int_equal(ev->terms->short_policy, KONTOR__CLIENTS__SHORT_POLICY__WAIT_FOR_ALL);
    assert_string_equal(ev->changed_by, "head-1");
    assert_string_equal(ev->why, "годовой договор");
    kt_msg_free(&ev->base);
    free(bytes);
    free(hex);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM clients.terms_history WHERE client_id = %" PRId64
                     " AND changed_by = 'head-1' AND why = 'годовой договор'"
                     " AND before->>'discount_bp' = '0' AND after->>'discount_bp' = '750'",
                     id),
        1);
    //  orders reads the terms with its own key.
    Kontor__Clients__GetTermsRequest g = KONTOR__CLIENTS__GET_TERMS_REQUEST__INIT;
    g.client_id = id;
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = 10000};
    out = NULL;
    assert_int_equal(kt_client_call(s_orders_svc, "clients", "GetTerms", &g.base,
                                    &kontor__clients__terms__descriptor, &out, &opts, &reply),
                     KT_OK);
    assert_int_equal(((Kontor__Clients__Terms *)out)->payment_days, 30);
    assert_int_equal(((Kontor__Clients__Terms *)out)->manager_id, S_M1_ID);
    kt_msg_free(out);
    kt_reply_clear(&reply);

    //  A credit check recommends a limit; the admin may then set up to it.
    Kontor__Money rec = KONTOR__MONEY__INIT;
    rec.units = 8000000;
    rec.currency = "EUR";
    Kontor__Clients__CreditCheck cc = KONTOR__CLIENTS__CREDIT_CHECK__INIT;
    cc.client_id = id;
    cc.checked_on = "2030-01-10";
    cc.sources = "ЕГРЮЛ, bank reference";
    cc.score = 720;
    cc.grade = "B";
    cc.recommended_limit = &rec;
    cc.note = "ok";
    s_refused(s_m2, "RecordCreditCheck", &cc.base, &kontor__clients__credit_check__descriptor,
              KT_PERMISSION_DENIED, NULL, "not_owner");
    s_ok(s_m1, "RecordCreditCheck", &cc.base, &kontor__clients__credit_check__descriptor, NULL);
    limit.units = 8000000;
    t.why = "по проверке";
    s_ok(s_admin, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor, NULL);
    limit.units = 8000001;
    s_refused(s_admin, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor,
              KT_PERMISSION_DENIED, "credit_limit", "role_required");
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.outbox WHERE type = 'TermsChanged'"),
        events + 2);
    Kontor__Clients__ClientView *v = s_view(s_m1, id);
    assert_non_null(v->latest_credit_check);
    assert_int_equal(v->latest_credit_check->score, 720);
    assert_string_equal(v->latest_credit_check->checked_by, "manager-1");
    assert_int_equal(v->terms->terms->credit_limit->units, 8000000);
    kt_msg_free(&v->base);

    //  Bad terms change nothing.
    int64_t version =
        kth_sql_i64f(s_set, "SELECT version FROM clients.clients WHERE id = %" PRId64, id);
    limit.units = -1;
    s_refused(s_head, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor,
              KT_INVALID_ARGUMENT, "credit_limit.units", NULL);
    limit.units = 100;
    t.discount_bp = 10001;
    s_refused(s_head, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor,
              KT_INVALID_ARGUMENT, "discount_bp", NULL);
    t.discount_bp = 100;
    t.price_column = "Z";
    s_refused(s_head, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor,
              KT_INVALID_ARGUMENT, "price_column", NULL);
    t.price_column = "A";
    t.why = "";
    s_refused(s_head, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor,
              KT_INVALID_ARGUMENT, "why", NULL);
    t.why = "x";
    limit.currency = "eur";
    s_refused(s_head, "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor,
              KT_INVALID_ARGUMENT, "credit_limit.currency", NULL);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT version FROM clients.clients WHERE id = %" PRId64, id),
        version);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.outbox WHERE type = 'TermsChanged'"),
        events + 2);
    kt_msg_free(&c->base);
}

//  ---------------------------------------------------------------- events

static void test_first_order_moves_a_prospect_to_the_territory_lead(void **state)
{
    Kontor__Clients__ClientCard *c = s_create(s_m1, "Новый Клиент", s_t1, 0);
    int64_t id = c->id;
    assert_int_equal(c->manager_id, S_M1_ID);
    int64_t changed =
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.outbox WHERE type = 'ClientChanged'");
    s_order(++s_order_seq, id, S_M1_ID, 12345, 0);
    assert_true(kth_wait_sqlf(s_set, S_LEAD_ID, S_WAIT_MS,
                              "SELECT manager_id FROM clients.clients WHERE id = %" PRId64, id));
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM clients.clients WHERE id = %" PRId64
                     " AND status = 'active' AND found_by_manager_id = 2 AND version = 2",
                     id),
        1);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM clients.assignments WHERE client_id = %" PRId64
                     " AND from_manager_id = 2 AND to_manager_id = 4 AND by = 'orders'",
                     id),
        1);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.outbox WHERE type = 'ClientChanged'"),
        changed + 1);
    //  A second order changes neither status nor manager again.
    s_order(++s_order_seq, id, S_M1_ID, 100, 0);
    assert_true(kth_wait_sqlf(s_set, 2, S_WAIT_MS,
                              "SELECT count(*) FROM clients.order_facts WHERE client_id = %" PRId64,
                              id));
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT version FROM clients.clients WHERE id = %" PRId64, id), 2);
    Kontor__Clients__ClientView *v = s_view(s_m1, id);
    assert_int_equal(v->n_last_orders, 2);
    assert_int_equal(v->card->status, KONTOR__CLIENTS__CLIENT_STATUS__ACTIVE);
    kt_msg_free(&v->base);
    //  The manager who found it no longer owns it.
    Kontor__Clients__UpdateClientRequest u;
    s_update_from(&u, c);
    u.version = 2;
    s_refused(s_m1, "UpdateClient", &u.base, &kontor__clients__client_card__descriptor,
              KT_PERMISSION_DENIED, NULL, "not_owner");
    kt_msg_free(&c->base);
}

static void test_balance_summary_from_receivables(void **state)
{
    Kontor__Clients__ClientCard *c = s_create(s_m2, "Balance Ltd", s_t2, 0);
    Kontor__Money amount = KONTOR__MONEY__INIT;
    amount.currency = "EUR";
    Kontor__Receivables__InvoiceIssued inv = KONTOR__RECEIVABLES__INVOICE_ISSUED__INIT;
    inv.invoice_id = 501;
    inv.client_id = c->id;
    inv.amount = &amount;
    amount.units = 10000;
    kth_outbox(s_set, "receivables", "InvoiceIssued", &inv.base);
    kth_outbox(s_set, "receivables", "InvoiceIssued", &inv.base); //  duplicated
    inv.invoice_id = 502;
    amount.units = 2500;
    kth_outbox(s_set, "receivables", "InvoiceIssued", &inv.base);
    Kontor__Receivables__PaymentRecorded pay = KONTOR__RECEIVABLES__PAYMENT_RECORDED__INIT;
    pay.payment_id = 77;
    pay.client_id = c->id;
    pay.amount = &amount;
    amount.units = 4000;
    kth_outbox(s_set, "receivables", "PaymentRecorded", &pay.base);
    assert_true(
        kth_wait_sqlf(s_set, 4, S_WAIT_MS,
                      "SELECT last_seq FROM clients.event_offsets WHERE producer = 'receivables'"));
    Kontor__Clients__ClientView *v = s_view(s_m2, c->id);
    assert_int_equal(v->n_balances, 1);
    assert_string_equal(v->balances[0]->currency, "EUR");
    assert_int_equal(v->balances[0]->invoiced, 12500);
    assert_int_equal(v->balances[0]->paid, 4000);
    assert_int_equal(v->balances[0]->open, 8500);
    kt_msg_free(&v->base);
    kt_msg_free(&c->base);
}

//  2030-05-10 12:00 UTC and 2030-06-01 09:00 UTC, in milliseconds.
#define S_MAY_MS  INT64_C(1904644800000)
#define S_JUNE_MS INT64_C(1906534800000)

static Kontor__Clients__PlanReportReply *s_report(int64_t manager_id, int64_t branch_id)
{
    Kontor__Clients__PlanReportRequest r = KONTOR__CLIENTS__PLAN_REPORT_REQUEST__INIT;
    r.manager_id = manager_id;
    r.branch_id = branch_id;
    r.month = "2030-05";
    ProtobufCMessage *out = NULL;
    s_ok(s_head, "PlanReport", &r.base, &kontor__clients__plan_report_reply__descriptor, &out);
    return (Kontor__Clients__PlanReportReply *)out;
}

static void s_check_may(const Kontor__Clients__PlanReportReply *rep)
{
    assert_int_equal(rep->n_lines, 1);
    const Kontor__Clients__PlanLine *l = rep->lines[0];
    assert_int_equal(l->manager_id, S_M2_ID);
    assert_true(l->has_plan);
    assert_int_equal(l->plan->revenue->units, 1000000);
    assert_int_equal(l->plan->active_clients, 5);
    assert_int_equal(l->plan->new_clients, 2);
    assert_int_equal(l->revenue->units, 70000 + 30000 + 5000);
    assert_int_equal(l->orders, 3);
    assert_int_equal(l->active_clients, 2);
    assert_int_equal(l->new_clients, 1);
}

static void test_plan_against_actual_survives_duplicates_and_replay(void **state)
{
    Kontor__Money rev = KONTOR__MONEY__INIT;
    rev.units = 1000000;
    rev.currency = "EUR";
    Kontor__Clients__SetPlanRequest p = KONTOR__CLIENTS__SET_PLAN_REQUEST__INIT;
    p.manager_id = S_M2_ID;
    p.month = "2030-05";
    p.revenue = &rev;
    p.active_clients = 5;
    p.new_clients = 2;
    s_refused(s_m2, "SetPlan", &p.base, &kontor__clients__plan__descriptor, KT_PERMISSION_DENIED,
              NULL, "role_required");
    s_ok(s_head, "SetPlan", &p.base, &kontor__clients__plan__descriptor, NULL);
    p.month = "2030-13";
    s_refused(s_head, "SetPlan", &p.base, &kontor__clients__plan__descriptor, KT_INVALID_ARGUMENT,
              "month", NULL);

    //  Client x: an order in April... no: first in May (new), second in May,
    //  one in June. Client y had its first order before (a month earlier).
    Kontor__Clients__ClientCard *x = s_create(s_m2, "Plan X", s_t2, 0);
    Kontor__Clients__ClientCard *y = s_create(s_m2, "Plan Y", s_t2, 0);
    s_order(++s_order_seq, y->id, S_M2_ID, 999, S_MAY_MS - INT64_C(30) * 86400000);
    s_order(++s_order_seq, x->id, S_M2_ID, 70000, S_MAY_MS);
    int64_t dup = ++s_order_seq;
    s_order(dup, x->id, S_M2_ID, 30000, S_MAY_MS + 3600000);
    s_order(dup, x->id, S_M2_ID, 30000, S_MAY_MS + 3600000); //  duplicated event
    s_order(++s_order_seq, y->id, S_M2_ID, 5000, S_MAY_MS + 7200000);
    s_order(++s_order_seq, x->id, S_M2_ID, 1, S_JUNE_MS);
    int64_t last = kth_sql_i64f(s_set, "SELECT count(*) FROM orders.outbox");
    assert_true(
        kth_wait_sqlf(s_set, last, S_WAIT_MS,
                      "SELECT last_seq FROM clients.event_offsets WHERE producer = 'orders'"));

    Kontor__Clients__PlanReportReply *rep = s_report(S_M2_ID, 0);
    s_check_may(rep);
    kt_msg_free(&rep->base);
    int64_t versions = kth_sql_i64f(s_set, "SELECT sum(version) FROM clients.clients");
    int64_t outbox = kth_sql_i64f(s_set, "SELECT count(*) FROM clients.outbox");

    //  Replay the whole orders stream: reset the offset, restart clients.
    kth_signal(s_set, s_clients, SIGTERM);
    kth_sql_exec(s_set, "UPDATE clients.event_offsets SET last_seq = 0"
                        " WHERE producer = 'orders'");
    s_clients = kth_start_service(s_set, "clients", 2);
    assert_true(
        kth_wait_sqlf(s_set, last, S_WAIT_MS,
                      "SELECT last_seq FROM clients.event_offsets WHERE producer = 'orders'"));
    rep = s_report(S_M2_ID, 0);
    s_check_may(rep);
    kt_msg_free(&rep->base);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT sum(version) FROM clients.clients"), versions);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM clients.outbox"), outbox);

    //  The branch report has every manager of the branch; the total counts once.
    rep = s_report(0, s_branch);
    assert_true(rep->n_lines >= 4);
    assert_int_equal(
        rep->total->new_clients,
        kth_sql_i64f(s_set, "SELECT count(*) FROM clients.order_facts WHERE first_order"
                            " AND confirmed_at >= '2030-05-01' AND confirmed_at < '2030-06-01'"));
    kt_msg_free(&rep->base);
    //  A manager reads only their own.
    Kontor__Clients__PlanReportRequest r = KONTOR__CLIENTS__PLAN_REPORT_REQUEST__INIT;
    r.manager_id = S_M2_ID;
    r.month = "2030-05";
    s_refused(s_m1, "PlanReport", &r.base, &kontor__clients__plan_report_reply__descriptor,
              KT_PERMISSION_DENIED, "manager_id", "not_owner");
    kt_msg_free(&x->base);
    kt_msg_free(&y->base);
}

//  ---------------------------------------------------------------- activities

static void test_week_schedule_with_overdue_and_greetings(void **state)
{
    Kontor__Clients__ClientCard *c = s_create(s_m1, "Schedule Co", s_t2, 0);
    Kontor__Clients__Contact ct = KONTOR__CLIENTS__CONTACT__INIT;
    ct.client_id = c->id;
    ct.name = "Мария";
    ct.birthday = "1980-03-06";
    s_ok(s_m1, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor, NULL);
    Kontor__Clients__UpdateClientRequest u;
    s_update_from(&u, c);
    Kontor__Clients__Holiday h = KONTOR__CLIENTS__HOLIDAY__INIT;
    h.name = "8 Марта";
    h.day = "03-08";
    Kontor__Clients__Holiday *hs[] = {&h};
    u.n_holidays = 1;
    u.holidays = hs;
    s_ok(s_m1, "UpdateClient", &u.base, &kontor__clients__client_card__descriptor, NULL);

    //  2030-W10 is Monday 2030-03-04 to Sunday 2030-03-10.
    Kontor__Clients__Activity a = KONTOR__CLIENTS__ACTIVITY__INIT;
    a.client_id = c->id;
    a.kind = KONTOR__CLIENTS__ACTIVITY_KIND__CALL;
    a.at = "2030-03-05T10:30";
    a.subject = "звонок о новом прайсе";
    ProtobufCMessage *out = NULL;
    s_ok(s_m1, "PlanActivity", &a.base, &kontor__clients__activity__descriptor, &out);
    int64_t call_id = ((Kontor__Clients__Activity *)out)->id;
    kt_msg_free(out);
    a.kind = KONTOR__CLIENTS__ACTIVITY_KIND__OFFER;
    a.at = "2030-03-07T15:00";
    a.subject = "offer";
    s_ok(s_m1, "PlanActivity", &a.base, &kontor__clients__activity__descriptor, NULL);
    a.kind = KONTOR__CLIENTS__ACTIVITY_KIND__VISIT;
    a.at = "2020-01-02T09:00"; //  long overdue
    a.subject = "old visit";
    s_ok(s_m1, "PlanActivity", &a.base, &kontor__clients__activity__descriptor, NULL);
    //  For someone else: refused.
    a.manager_id = S_M2_ID;
    s_refused(s_m1, "PlanActivity", &a.base, &kontor__clients__activity__descriptor,
              KT_PERMISSION_DENIED, "manager_id", "not_owner");
    a.manager_id = 0;
    a.at = "2030-02-30T10:00";
    s_refused(s_m1, "PlanActivity", &a.base, &kontor__clients__activity__descriptor,
              KT_INVALID_ARGUMENT, "at", NULL);

    Kontor__Clients__CompleteActivityRequest done =
        KONTOR__CLIENTS__COMPLETE_ACTIVITY_REQUEST__INIT;
    done.activity_id = call_id;
    done.outcome = "";
    s_refused(s_m1, "CompleteActivity", &done.base, &kontor__clients__activity__descriptor,
              KT_INVALID_ARGUMENT, "outcome", NULL);
    done.outcome = "договорились о встрече";
    s_refused(s_m2, "CompleteActivity", &done.base, &kontor__clients__activity__descriptor,
              KT_PERMISSION_DENIED, NULL, "not_owner");
    s_ok(s_m1, "CompleteActivity", &done.base, &kontor__clients__activity__descriptor, NULL);
    s_refused(s_m1, "CompleteActivity", &done.base, &kontor__clients__activity__descriptor,
              KT_FAILED_PRECONDITION, "activity_id", "invalid_transition");

    Kontor__Clients__ScheduleRequest s = KONTOR__CLIENTS__SCHEDULE_REQUEST__INIT;
    s.week = "2030-W10";
    s_ok(s_m1, "Schedule", &s.base, &kontor__clients__schedule_reply__descriptor, &out);
    Kontor__Clients__ScheduleReply *r = (Kontor__Clients__ScheduleReply *)out;
    assert_string_equal(r->from, "2030-03-04");
    assert_string_equal(r->to, "2030-03-10");
    assert_int_equal(r->manager_id, S_M1_ID);
    assert_int_equal(r->n_planned, 2);
    assert_int_equal(r->planned[0]->status, KONTOR__CLIENTS__ACTIVITY_STATUS__DONE);
    assert_int_equal(r->planned[1]->kind, KONTOR__CLIENTS__ACTIVITY_KIND__OFFER);
    assert_true(r->n_overdue >= 1);
    assert_string_equal(r->overdue[0]->at, "2020-01-02T09:00");
    assert_int_equal(r->n_greetings, 2);
    assert_string_equal(r->greetings[0]->date, "2030-03-06");
    assert_true(r->greetings[0]->birthday);
    assert_string_equal(r->greetings[0]->name, "Мария");
    assert_string_equal(r->greetings[1]->date, "2030-03-08");
    assert_false(r->greetings[1]->birthday);
    assert_int_equal(r->n_days, 7);
    assert_string_equal(r->days[1]->date, "2030-03-05");
    assert_int_equal(r->days[1]->calls_made, 1);
    assert_int_equal(r->days[3]->offers_sent, 0);
    kt_msg_free(out);
    //  Weeks that do not exist.
    s.week = "2030-W53"; //  2030 has 52 weeks
    s_refused(s_m1, "Schedule", &s.base, &kontor__clients__schedule_reply__descriptor,
              KT_INVALID_ARGUMENT, "week", NULL);
    s.week = "2030-W00";
    s_refused(s_m1, "Schedule", &s.base, &kontor__clients__schedule_reply__descriptor,
              KT_INVALID_ARGUMENT, "week", NULL);
    s.week = "2026-W53"; //  2026 has 53
    s_ok(s_m1, "Schedule", &s.base, &kontor__clients__schedule_reply__descriptor, NULL);
    s.week = "2030-W10";
    s.manager_id = S_M2_ID;
    s_refused(s_m1, "Schedule", &s.base, &kontor__clients__schedule_reply__descriptor,
              KT_PERMISSION_DENIED, "manager_id", "not_owner");
    kt_msg_free(&c->base);
}

//  ---------------------------------------------------------------- complaints

static void test_complaint_transitions_are_guarded(void **state)
{
    Kontor__Clients__ClientCard *c = s_create(s_m1, "Complaining Ltd", s_t2, 0);
    Kontor__Clients__OpenComplaintRequest o = KONTOR__CLIENTS__OPEN_COMPLAINT_REQUEST__INIT;
    o.client_id = c->id;
    o.order_id = 42;
    o.category = "quality";
    o.description = "бракованная партия; 10% коробок смяты";
    ProtobufCMessage *out = NULL;
    s_ok(s_m1, "OpenComplaint", &o.base, &kontor__clients__complaint__descriptor, &out);
    int64_t id = ((Kontor__Clients__Complaint *)out)->id;
    assert_int_equal(((Kontor__Clients__Complaint *)out)->status,
                     KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN);
    kt_msg_free(out);
    s_refused(s_m2, "OpenComplaint", &o.base, &kontor__clients__complaint__descriptor,
              KT_PERMISSION_DENIED, NULL, "not_owner");
    o.description = "";
    s_refused(s_m1, "OpenComplaint", &o.base, &kontor__clients__complaint__descriptor,
              KT_INVALID_ARGUMENT, "description", NULL);

    Kontor__Clients__MoveComplaintRequest m = KONTOR__CLIENTS__MOVE_COMPLAINT_REQUEST__INIT;
    m.complaint_id = id;
    m.status = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_IN_PROGRESS;
    s_ok(s_m1, "MoveComplaint", &m.base, &kontor__clients__complaint__descriptor, NULL);
    Kontor__Clients__ClientView *v = s_view(s_m1, c->id);
    assert_int_equal(v->n_open_complaints, 1);
    kt_msg_free(&v->base);
    m.status = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED;
    s_refused(s_m1, "MoveComplaint", &m.base, &kontor__clients__complaint__descriptor,
              KT_INVALID_ARGUMENT, "resolution", NULL);
    m.resolution = "заменили товар";
    s_ok(s_m1, "MoveComplaint", &m.base, &kontor__clients__complaint__descriptor, &out);
    Kontor__Clients__Complaint *k = (Kontor__Clients__Complaint *)out;
    assert_int_equal(k->status, KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED);
    assert_true(k->resolved_at_ms >= k->opened_at_ms);
    assert_true(k->seconds_to_resolve >= 0);
    kt_msg_free(out);
    //  Nothing leaves resolved.
    m.status = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_IN_PROGRESS;
    s_refused(s_m1, "MoveComplaint", &m.base, &kontor__clients__complaint__descriptor,
              KT_FAILED_PRECONDITION, "status", "invalid_transition");
    m.status = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_REJECTED;
    s_refused(s_m1, "MoveComplaint", &m.base, &kontor__clients__complaint__descriptor,
              KT_FAILED_PRECONDITION, "status", "invalid_transition");
    m.status = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN;
    s_refused(s_m1, "MoveComplaint", &m.base, &kontor__clients__complaint__descriptor,
              KT_INVALID_ARGUMENT, "status", NULL);
    assert_int_equal(kth_sql_i64f(s_set,
                                  "SELECT count(*) FROM clients.complaints WHERE id = %" PRId64
                                  " AND status = 'resolved'",
                                  id),
                     1);
    v = s_view(s_m1, c->id);
    assert_int_equal(v->n_open_complaints, 0);
    kt_msg_free(&v->base);
    kt_msg_free(&c->base);
}

//  ---------------------------------------------------------------- bad input

static int64_t s_fingerprint(void)
{
    return kth_sql_i64f(s_set, "SELECT (SELECT count(*) FROM clients.clients)"
                               " + (SELECT coalesce(sum(version), 0) FROM clients.clients)"
                               " + (SELECT count(*) FROM clients.contacts)"
                               " + (SELECT count(*) FROM clients.outbox)"
                               " + (SELECT count(*) FROM clients.terms_history)"
                               " + (SELECT count(*) FROM clients.activities)");
}

static void test_bad_input_is_refused_and_changes_nothing(void **state)
{
    Kontor__Clients__ClientCard *c = s_create(s_m1, "Valid Client", s_t2, 0);
    int64_t before = s_fingerprint();
    char long_name[202];
    memset(long_name, 'x', 201);
    long_name[201] = '\0';
    const struct {
        const char *name, *tax_id, *code;
        int64_t territory, manager;
        kt_client_t **as;
        int status;
        const char *field;
    } cases[] = {
        {"", "7799999901", "", 0, 0, &s_m1, KT_INVALID_ARGUMENT, "name"},
        {long_name, "7799999902", "", 0, 0, &s_m1, KT_INVALID_ARGUMENT, "name"},
        {"Tab\x01Ctl", "7799999903", "", 0, 0, &s_m1, KT_INVALID_ARGUMENT, "name"},
        {"Ok", "12AB", "", 0, 0, &s_m1, KT_INVALID_ARGUMENT, "tax_id"},
        {"Ok", "abcd12345", "", 0, 0, &s_m1, KT_INVALID_ARGUMENT, "tax_id"},
        {"Ok", "7799999904", "lower-case", 0, 0, &s_m1, KT_INVALID_ARGUMENT, "code"},
        {"Ok", "7799999905", "", 987654, 0, &s_m1, KT_NOT_FOUND, "territory_id"},
        {"Ok", "7799999906", "", 0, 999, &s_head, KT_NOT_FOUND, "manager_id"},
        {"Ok", "7799999907", "", 0, S_M2_ID, &s_m1, KT_PERMISSION_DENIED, "manager_id"},
        {"Ok", "7799999908", "", -1, 0, &s_m1, KT_INVALID_ARGUMENT, "territory_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Kontor__Clients__CreateClientRequest r = KONTOR__CLIENTS__CREATE_CLIENT_REQUEST__INIT;
        r.name = (char *)cases[i].name;
        r.tax_id = (char *)cases[i].tax_id;
        r.code = (char *)cases[i].code;
        r.territory_id = cases[i].territory ? cases[i].territory : s_t2;
        r.manager_id = cases[i].manager;
        s_refused(*cases[i].as, "CreateClient", &r.base, &kontor__clients__client_card__descriptor,
                  cases[i].status, cases[i].field, NULL);
    }
    //  Contacts: e-mail, phone, birthday, name.
    Kontor__Clients__Contact ct = KONTOR__CLIENTS__CONTACT__INIT;
    ct.client_id = c->id;
    ct.name = "Anna";
    ct.email = "anna@@example";
    s_refused(s_m1, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor,
              KT_INVALID_ARGUMENT, "email", NULL);
    ct.email = "";
    ct.phone = "12";
    s_refused(s_m1, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor,
              KT_INVALID_ARGUMENT, "phone", NULL);
    ct.phone = "+7 495 1234567; DROP";
    s_refused(s_m1, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor,
              KT_INVALID_ARGUMENT, "phone", NULL);
    ct.phone = "";
    ct.birthday = "1980-02-30";
    s_refused(s_m1, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor,
              KT_INVALID_ARGUMENT, "birthday", NULL);
    ct.birthday = "2999-01-01";
    s_refused(s_m1, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor,
              KT_INVALID_ARGUMENT, "birthday", NULL);
    ct.birthday = "";
    ct.name = "";
    s_refused(s_m1, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor,
              KT_INVALID_ARGUMENT, "name", NULL);
    ct.name = "Anna";
    ct.client_id = 987654;
    s_refused(s_m1, "UpsertContact", &ct.base, &kontor__clients__contact__descriptor, KT_NOT_FOUND,
              "client_id", "unknown_client");
    //  Update: empty name, bad holiday, unknown territory, version 0.
    Kontor__Clients__UpdateClientRequest u;
    s_update_from(&u, c);
    u.name = "";
    s_refused(s_m1, "UpdateClient", &u.base, &kontor__clients__client_card__descriptor,
              KT_INVALID_ARGUMENT, "name", NULL);
    u.name = c->name;
    Kontor__Clients__Holiday h = KONTOR__CLIENTS__HOLIDAY__INIT;
    h.name = "Bad";
    h.day = "02-30";
    Kontor__Clients__Holiday *hs[] = {&h};
    u.n_holidays = 1;
    u.holidays = hs;
    s_refused(s_m1, "UpdateClient", &u.base, &kontor__clients__client_card__descriptor,
              KT_INVALID_ARGUMENT, "holidays[0].day", NULL);
    u.n_holidays = 0;
    u.territory_id = 987654;
    s_refused(s_m1, "UpdateClient", &u.base, &kontor__clients__client_card__descriptor,
              KT_NOT_FOUND, "territory_id", NULL);
    u.territory_id = s_t2;
    u.version = 0;
    s_refused(s_m1, "UpdateClient", &u.base, &kontor__clients__client_card__descriptor,
              KT_INVALID_ARGUMENT, "version", NULL);
    //  Activity: unknown kind, week that does not exist (Schedule), empty subject.
    Kontor__Clients__Activity a = KONTOR__CLIENTS__ACTIVITY__INIT;
    a.at = "2030-03-05T10:30";
    a.subject = "x";
    s_refused(s_m1, "PlanActivity", &a.base, &kontor__clients__activity__descriptor,
              KT_INVALID_ARGUMENT, "kind", NULL);
    a.kind = KONTOR__CLIENTS__ACTIVITY_KIND__MEETING;
    a.at = "2030-03-05T25:00";
    s_refused(s_m1, "PlanActivity", &a.base, &kontor__clients__activity__descriptor,
              KT_INVALID_ARGUMENT, "at", NULL);
    a.at = "2030-03-05T10:30";
    a.client_id = 987654;
    s_refused(s_m1, "PlanActivity", &a.base, &kontor__clients__activity__descriptor, KT_NOT_FOUND,
              "client_id", "unknown_client");
    assert_int_equal(s_fingerprint(), before);
    kt_msg_free(&c->base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_managers_carry_the_principals_ids),
        cmocka_unit_test(test_card_lifecycle),
        cmocka_unit_test(test_search_finds_literally),
        cmocka_unit_test(test_two_updates_from_one_version_one_wins),
        cmocka_unit_test(test_terms_change_needs_a_head_and_emits_once),
        cmocka_unit_test(test_first_order_moves_a_prospect_to_the_territory_lead),
        cmocka_unit_test(test_balance_summary_from_receivables),
        cmocka_unit_test(test_plan_against_actual_survives_duplicates_and_replay),
        cmocka_unit_test(test_week_schedule_with_overdue_and_greetings),
        cmocka_unit_test(test_complaint_transitions_are_guarded),
        cmocka_unit_test(test_bad_input_is_refused_and_changes_nothing),
    };
    return cmocka_run_group_tests_name("clients", tests, s_setup, s_teardown);
}
