/*  it_cli_people - kontor's commands for people against a real set: the bus
 *  and all four services.
 *
 *  The organisation (branch, managers, territory, warehouse, products,
 *  stock, prices) is admin setup made with `kontor call`, as an operator
 *  would; everything after is made and read through the commands for
 *  people, each family at least once as a table and once with --json, with
 *  the figures checked in what they print: a quote's short line, a placed
 *  order's total, a pending approval's "exceeded by", a balance after a
 *  payment, a return's credit. Bad input: an unknown subcommand exits 2
 *  with the nearest name, malformed money exits 2 naming the flag, a
 *  refusal exits 1 with its sentence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kt_harness.h"
#include "kt_validate.h"

#define S_ARGS_MAX 40
#define S_WAIT_MS  20000 //  an event travelling from one service to another

static kth_set_t *s_set;
static char s_today[11], s_soon[11], s_arrival[11], s_month[8];
static int64_t s_branch, s_territory, s_wh;
static int64_t s_client, s_client2; //  Acme (manager-1), Borealis (manager-1)
static int64_t s_order;             //  Acme's first order: 4 x 1001, 50.00 EUR
static int64_t s_waiting;           //  Acme's order over the credit limit
static int64_t s_shipment;          //  s_order's shipment

//  ---------------------------------------------------------------- running kontor

typedef struct {
    int rc;    //  exit status
    char *out; //  standard output (owned)
    char *err; //  standard error (owned)
} s_result_t;

static void s_result_clear(s_result_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

//  Print a line of text as TAP comments ("# ..."), each line of it.
static void s_comment(const char *text)
{
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        printf("# %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

//  What a person would see (IT_CLI_PEOPLE_SHOW=1), for reading the tables by eye.
static void s_show(const char *principal, const char *const *argv, const s_result_t *r)
{
    char line[2048];
    size_t used = (size_t)snprintf(line, sizeof line, "$ kontor --as %s", principal);
    for (int i = 0; argv[i] && used < sizeof line; i++)
        used += (size_t)snprintf(line + used, sizeof line - used,
                                 strchr(argv[i], ' ') ? " '%s'" : " %s", argv[i]);
    s_comment(line);
    s_comment(r->out);
    s_comment(r->err);
    snprintf(line, sizeof line, "(exit %d)\n", r->rc);
    s_comment(line);
    fflush(stdout);
}

//  Run kontor as `principal` with the arguments that follow (NULL-ended).
//  kontor runs under its own sanitizer: a leak or an error report there is
//  a non-zero exit status, which every check sees.
static s_result_t s_kontor_v(const char *principal, const char *first, ...)
{
    const char *argv[S_ARGS_MAX + 1];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *arg = first; arg; arg = va_arg(ap, const char *)) {
        assert_true(argc < S_ARGS_MAX);
        argv[argc++] = arg;
    }
    va_end(ap);
    argv[argc] = NULL;
    s_result_t r = {0};
    r.rc = kth_run(s_set, principal, "kontor", argv, NULL, &r.out, &r.err);
    if (!r.out)
        r.out = strdup("");
    if (!r.err)
        r.err = strdup("");
    if (getenv("IT_CLI_PEOPLE_SHOW"))
        s_show(principal, argv, &r);
    return r;
}

#define s_kontor(principal, ...) s_kontor_v(principal, __VA_ARGS__, (const char *)NULL)

//  Fail with what kontor printed unless `cond` holds.
#define S_EXPECT(r, cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("%s failed: exit %d\n--- stdout\n%s\n--- stderr\n%s", #cond, (r).rc, (r).out, \
                     (r).err);                                                                     \
    } while (0)

static struct json_object *s_json(const s_result_t *r)
{
    struct json_object *json = json_tokener_parse(r->out);
    S_EXPECT(*r, r->rc == 0 && json != NULL && json_object_is_type(json, json_type_object));
    return json;
}

//  The value at a path like "order.lines[1].qty"; fails the test if absent.
static struct json_object *s_at(struct json_object *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    struct json_object *cur = obj;
    for (char *seg = strtok(buf, "."); seg; seg = strtok(NULL, ".")) {
        char *bracket = strchr(seg, '[');
        int index = -1;
        if (bracket) {
            index = atoi(bracket + 1);
            *bracket = '\0';
        }
        struct json_object *next = NULL;
        if (!json_object_object_get_ex(cur, seg, &next) || !next)
            fail_msg("no %s in %s", path, json_object_to_json_string(obj));
        if (index >= 0) {
            if (!json_object_is_type(next, json_type_array) ||
                (size_t)index >= json_object_array_length(next))
                fail_msg("no %s in %s", path, json_object_to_json_string(obj));
            next = json_object_array_get_idx(next, (size_t)index);
        }
        cur = next;
    }
    return cur;
}

static int64_t s_i64_at(struct json_object *obj, const char *path)
{
    return json_object_get_int64(s_at(obj, path));
}

static const char *s_str_at(struct json_object *obj, const char *path)
{
    return json_object_get_string(s_at(obj, path));
}

//  Run kontor with --json and give back one integer of its reply.
static int64_t s_json_i64(const char *principal, const char *path, const char *first, ...)
{
    const char *argv[S_ARGS_MAX + 2];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *arg = first; arg; arg = va_arg(ap, const char *)) {
        assert_true(argc < S_ARGS_MAX);
        argv[argc++] = arg;
    }
    va_end(ap);
    argv[argc++] = "--json";
    argv[argc] = NULL;
    s_result_t r = {0};
    r.rc = kth_run(s_set, principal, "kontor", argv, NULL, &r.out, &r.err);
    if (!r.out)
        r.out = strdup("");
    if (!r.err)
        r.err = strdup("");
    if (getenv("IT_CLI_PEOPLE_SHOW"))
        s_show(principal, argv, &r);
    struct json_object *json = s_json(&r);
    int64_t v = s_i64_at(json, path);
    json_object_put(json);
    s_result_clear(&r);
    return v;
}

//  ---------------------------------------------------------------- waiting for events

typedef struct {
    const char *sql;
    int64_t want;
} s_cond_t;

static bool s_equals(void *arg)
{
    s_cond_t *c = arg;
    return kth_sql_i64(s_set, c->sql) == c->want;
}

static void s_wait_sql(int64_t want, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    s_cond_t c = {sql, want};
    if (!kth_wait_for(s_equals, &c, S_WAIT_MS))
        fail_msg("waited for %s = %" PRId64 ", have %" PRId64, sql, want, kth_sql_i64(s_set, sql));
}

//  ---------------------------------------------------------------- set up

static void s_date(char buf[11], int days_ahead)
{
    int y, m, d;
    kt_civil_from_days((int32_t)(time(NULL) / 86400) + days_ahead, &y, &m, &d);
    snprintf(buf, 11, "%04d-%02d-%02d", y, m, d);
}

//  An admin `kontor call` that must succeed; returns one integer of its reply.
static int64_t s_call(const char *principal, const char *key, const char *service,
                      const char *method, const char *json, const char *path)
{
    s_result_t r = key ? s_kontor(principal, "--key", key, "call", service, method, json)
                       : s_kontor(principal, "call", service, method, json);
    struct json_object *reply = s_json(&r);
    int64_t v = path ? s_i64_at(reply, path) : 0;
    json_object_put(reply);
    s_result_clear(&r);
    return v;
}

static int s_setup(void **state)
{
    s_date(s_today, 0);
    s_date(s_soon, 5);
    s_date(s_arrival, 10);
    snprintf(s_month, sizeof s_month, "%.7s", s_today);
    s_set = kth_set_new("cli_people");
    kth_start_bus(s_set);
    kth_start_service(s_set, "clients", 1);
    kth_start_service(s_set, "logistics", 1);
    kth_start_service(s_set, "receivables", 1);
    kth_start_service(s_set, "orders", 2);

    //  The organisation: admin setup, through `kontor call`.
    char json[1024];
    s_branch = s_call("admin", NULL, "clients", "UpsertBranch",
                      "{\"code\": \"NORTH\", \"name\": \"North\"}", "id");
    static const char *const managers[] = {"Helga Head", "Mia Manager", "Max Manager"};
    for (int i = 0; i < 3; i++) {
        snprintf(json, sizeof json,
                 "{\"id\": %d, \"name\": \"%s\", \"role\": \"%s\", \"branch_id\": %" PRId64 "}",
                 i + 1, managers[i], i == 0 ? "ROLE_HEAD" : "ROLE_MANAGER", s_branch);
        s_call("admin", NULL, "clients", "UpsertManager", json, NULL);
    }
    snprintf(json, sizeof json, "{\"branch_id\": %" PRId64 ", \"name\": \"North city\"}", s_branch);
    s_territory = s_call("admin", NULL, "clients", "UpsertTerritory", json, "id");
    snprintf(json, sizeof json,
             "{\"code\": \"N1\", \"name\": \"North warehouse\", \"kind\": \"BRANCH\", "
             "\"branch_id\": %" PRId64 "}",
             s_branch);
    s_wh = s_call("admin", NULL, "logistics", "UpsertWarehouse", json, "warehouse.warehouse_id");
    s_call(
        "admin", NULL, "logistics", "UpsertProduct",
        "{\"products\": [{\"sku\": 1001, \"name\": \"Widget A\", \"unit\": \"pcs\"},"
        " {\"sku\": 1002, \"name\": \"Widget B\", \"unit\": \"pcs\", \"analog_group\": \"wb\"},"
        " {\"sku\": 1003, \"name\": \"Widget B2\", \"unit\": \"pcs\", \"analog_group\": \"wb\"}]}",
        NULL);
    snprintf(json, sizeof json,
             "{\"warehouse_id\": %" PRId64 ", \"lines\": [{\"sku\": 1001, \"qty\": 100},"
             " {\"sku\": 1002, \"qty\": 3}, {\"sku\": 1003, \"qty\": 50}]}",
             s_wh);
    s_call("admin", "it-cli-people-receive", "logistics", "Receive", json, NULL);
    snprintf(json, sizeof json,
             "{\"sku\": 1002, \"warehouse_id\": %" PRId64 ", \"qty\": 50, \"date\": \"%s\"}", s_wh,
             s_arrival);
    s_call("admin", "it-cli-people-arrival", "logistics", "ExpectArrival", json, NULL);
    int64_t list = s_call("head-1", NULL, "orders", "UpsertPriceList",
                          "{\"list\": {\"name\": \"Base\", \"currency\": \"EUR\","
                          " \"valid_from\": \"2020-01-01\"}}",
                          "list.price_list_id");
    snprintf(json, sizeof json,
             "{\"price_list_id\": %" PRId64 ", \"prices\": [{\"sku\": 1001, \"column\": \"A\", "
             "\"price\": 1250}, {\"sku\": 1002, \"column\": \"A\", \"price\": 2000},"
             " {\"sku\": 1003, \"column\": \"A\", \"price\": 2100}]}",
             list);
    s_call("head-1", NULL, "orders", "SetPrices", json, NULL);
    return 0;
}

static int s_teardown(void **state)
{
    kth_set_destroy(&s_set);
    return 0;
}

//  ---------------------------------------------------------------- help and bad input

static void test_help_and_bad_input(void **state)
{
    s_result_t r = s_kontor("admin", "--help");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "clients") && strstr(r.out, "order") &&
                    strstr(r.out, "receivables") && strstr(r.out, "--json") &&
                    strstr(r.out, "example"));
    s_result_clear(&r);
    r = s_kontor("admin", "order", "--help");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "usage: kontor [OPTIONS] order SUBCOMMAND") &&
                    strstr(r.out, "place") && strstr(r.out, "approve"));
    s_result_clear(&r);
    r = s_kontor("admin", "order", "place", "--help");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "--line SKU:QTY") && strstr(r.out, "example:") &&
                    strstr(r.out, "kontor order place --client 42"));
    s_result_clear(&r);
    r = s_kontor("admin", "help", "receivables", "pay");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "--amount AMOUNT"));
    s_result_clear(&r);

    //  status, for scripts too.
    r = s_kontor("admin", "status", "--json");
    struct json_object *json = s_json(&r);
    assert_true(json_object_array_length(s_at(json, "services")) >= 4);
    json_object_put(json);
    s_result_clear(&r);

    //  Names: the nearest valid one, exit 2, nothing sent.
    r = s_kontor("admin", "order", "plcae", "--client", "1");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "unknown order subcommand 'plcae'; did you mean "
                                           "'place'?"));
    s_result_clear(&r);
    r = s_kontor("admin", "recievables", "balance", "1");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "did you mean 'receivables'?"));
    s_result_clear(&r);
    r = s_kontor("admin", "order", "place", "--clent", "1");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "did you mean '--client'?"));
    s_result_clear(&r);
    r = s_kontor("admin", "order", "place", "--client", "1", "--line", "1001:1", "--method",
                 "own-flet");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--method: unknown value 'own-flet'; did you mean "
                                           "'own-fleet'?"));
    s_result_clear(&r);

    //  Values of the wrong type name their flag.
    r = s_kontor("accountant-1", "receivables", "pay", "--client", "1", "--amount", "15,00",
                 "--currency", "EUR", "--reference", "PAY-X");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--amount needs an amount like 1500.00") &&
                    strstr(r.err, "'15,00'"));
    s_result_clear(&r);
    r = s_kontor("accountant-1", "receivables", "pay", "--client", "1", "--amount", "1.005",
                 "--reference", "PAY-X");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--amount"));
    s_result_clear(&r);
    r = s_kontor("admin", "order", "show", "seventeen");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--order (argument 1) needs an id"));
    s_result_clear(&r);
    r = s_kontor("admin", "order", "place", "--client", "1", "--line", "1001x5");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--line needs SKU:QTY"));
    s_result_clear(&r);
    r = s_kontor("admin", "order", "place", "--client", "1", "--line", "1001:5", "--delivery",
                 "2026-02-30");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--delivery needs a date"));
    s_result_clear(&r);
    r = s_kontor("admin", "plan", "set", "--manager", "2", "--month", "2026-13", "--revenue", "1");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--month needs a month YYYY-MM"));
    s_result_clear(&r);
    r = s_kontor("admin", "clients", "add", "--name", "X");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "clients add needs --tax-id"));
    s_result_clear(&r);
    r = s_kontor("admin", "order", "show", "1", "2");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "takes at most 1 argument: unexpected '2'"));
    s_result_clear(&r);
}

//  ---------------------------------------------------------------- clients

static void test_clients(void **state)
{
    char territory[24], c1[24];
    snprintf(territory, sizeof territory, "%" PRId64, s_territory);
    //  A manager adds their own clients: one with --json, one as a table.
    s_client = s_json_i64("manager-1", "id", "clients", "add", "--name", "Acme Trading", "--tax-id",
                          "7701234567", "--territory", territory, "--address", "1 Dock Road",
                          "--holiday", "Founders' day:06-15", (const char *)NULL);
    assert_true(s_client > 0);
    snprintf(c1, sizeof c1, "%" PRId64, s_client);
    s_result_t r = s_kontor("manager-1", "clients", "add", "--name", "Borealis Foods", "--tax-id",
                            "7709876543", "--territory", territory, "--status", "active");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "created:") && strstr(r.out, "Borealis Foods") &&
                    strstr(r.out, ", active"));
    s_result_clear(&r);
    s_client2 =
        s_json_i64("manager-1", "clients[0].id", "clients", "find", "Borealis", (const char *)NULL);

    //  A duplicate tax id is a refusal: exit 1 with the sentence and the field.
    r = s_kontor("manager-1", "clients", "add", "--name", "Acme Again", "--tax-id", "7701234567",
                 "--territory", territory);
    S_EXPECT(r, r.rc == 1 &&
                    strstr(r.err, "ALREADY_EXISTS: tax id 7701234567 already belongs to "
                                  "client") &&
                    strstr(r.err, "(tax_id)"));
    s_result_clear(&r);

    r = s_kontor("manager-1", "clients", "show", c1);
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "Acme Trading") && strstr(r.out, "1 Dock Road") &&
                    strstr(r.out, "06-15 Founders' day") && strstr(r.out, "contacts:") &&
                    strstr(r.out, "assignments:"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "clients", "show", c1, "--json");
    struct json_object *json = s_json(&r);
    assert_string_equal(s_str_at(json, "card.name"), "Acme Trading");
    assert_int_equal(s_i64_at(json, "card.manager_id"), 2);
    json_object_put(json);
    s_result_clear(&r);

    r = s_kontor("manager-1", "clients", "find", "acm");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "CLIENT") && strstr(r.out, "Acme Trading") &&
                    strstr(r.out, "7701234567") && !strstr(r.out, "Borealis"));
    s_result_clear(&r);

    //  Terms: a limit above any credit check needs a head, not an admin.
    r = s_kontor("admin", "clients", "terms", c1, "--limit", "1000.00", "--why", "first contract");
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "PERMISSION_DENIED: a credit limit above the "
                                           "recommended one needs a head (credit_limit)"));
    s_result_clear(&r);
    r = s_kontor("head-1", "clients", "terms", c1, "--column", "A", "--payment-days", "30",
                 "--grace-days", "10", "--limit", "1000.00", "--currency", "eur", "--contract",
                 "K-1", "--why", "first contract");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "credit limit:") && strstr(r.out, "1000.00 EUR") &&
                    strstr(r.out, "in 30 days, 10 days' grace") && strstr(r.out, "first contract"));
    s_result_clear(&r);
    //  A change of one keeps the others.
    r = s_kontor("head-1", "clients", "terms", c1, "--policy", "ship-available", "--why", "policy");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "1000.00 EUR") && strstr(r.out, "ship-available") &&
                    strstr(r.out, "K-1"));
    s_result_clear(&r);
    assert_int_equal(s_json_i64("manager-1", "terms.credit_limit.units", "clients", "terms", c1,
                                (const char *)NULL),
                     100000);
    char c2[24];
    snprintf(c2, sizeof c2, "%" PRId64, s_client2);
    r = s_kontor("head-1", "clients", "terms", c2, "--limit", "100.00", "--why", "small");
    S_EXPECT(r, r.rc == 0);
    s_result_clear(&r);
    //  Orders and receivables learn the terms from TermsChanged.
    s_wait_sql(
        2, "SELECT count(*) FROM orders.client_terms WHERE client_id IN (%" PRId64 ", %" PRId64 ")",
        s_client, s_client2);
    s_wait_sql(
        2,
        "SELECT count(*) FROM receivables.accounts WHERE has_terms AND client_id IN (%" PRId64
        ", %" PRId64 ")",
        s_client, s_client2);
}

//  ---------------------------------------------------------------- stock and orders

static void test_stock(void **state)
{
    s_result_t r = s_kontor("manager-1", "stock", "1001", "1002");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "availability in every warehouse") &&
                    strstr(r.out, "Widget B") && strstr(r.out, "1003 (50)"));
    char arrival[64];
    snprintf(arrival, sizeof arrival, "%s (50)", s_arrival);
    S_EXPECT(r, strstr(r.out, arrival) != NULL);
    s_result_clear(&r);
    r = s_kontor("manager-1", "stock", "availability", "1002", "--warehouse", "n1", "--json");
    struct json_object *json = s_json(&r);
    assert_int_equal(s_i64_at(json, "items[0].available"), 3);
    assert_int_equal(s_i64_at(json, "items[0].analogs[0].sku"), 1003);
    json_object_put(json);
    s_result_clear(&r);
    r = s_kontor("manager-1", "stock", "--warehouse", "N2", "1001");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "no warehouse has the code 'N2'; did you mean 'N1'?"));
    s_result_clear(&r);
}

static void test_orders(void **state)
{
    char c1[24], id[24];
    snprintf(c1, sizeof c1, "%" PRId64, s_client);
    //  A quote: 4 x 12.50 + 10 x 20.00, with 1002 short and its analog.
    s_result_t r =
        s_kontor("manager-1", "order", "quote", c1, "--line", "1001:4", "--line", "1002:10");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "warehouse N1") && strstr(r.out, "250.00 EUR") &&
                    strstr(r.out, "fits"));
    char shortline[128];
    snprintf(shortline, sizeof shortline, "short: sku 1002 wants 10, available 3, arrives %s",
             s_arrival);
    S_EXPECT(r, strstr(r.out, shortline) && strstr(r.out, "analog in stock: sku 1003 Widget B2 "
                                                          "(50 available)"));
    s_result_clear(&r);

    //  Placed with a key: confirmed, 50.00 EUR; the same key again replays.
    r = s_kontor("manager-1", "order", "place", "--client", c1, "--line", "1001:4", "--delivery",
                 s_soon, "--method", "own-fleet", "--address", "1 Dock Road", "--key", "ord-1");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, ": confirmed") && strstr(r.out, "50.00 EUR") &&
                    strstr(r.out, "own-fleet, 1 Dock Road"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "order", "place", "--client", c1, "--line", "1001:4", "--delivery",
                 s_soon, "--method", "own-fleet", "--address", "1 Dock Road", "--key", "ord-1",
                 "--json");
    struct json_object *json = s_json(&r);
    assert_true(json_object_get_boolean(s_at(json, "replayed")));
    assert_int_equal(s_i64_at(json, "order.total"), 5000);
    assert_string_equal(s_str_at(json, "order.status"), "CONFIRMED");
    s_order = s_i64_at(json, "order.order_id");
    json_object_put(json);
    s_result_clear(&r);

    //  Over the credit limit: waits for a head, with the figures. No key
    //  given: kontor makes one and says it.
    r = s_kontor("manager-1", "order", "place", "--client", c1, "--line", "1001:80");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, ": pending-approval") &&
                    strstr(r.out, "credit: limit 1000.00 EUR, exposure 50.00 EUR, exceeded by "
                                  "50.00 EUR") &&
                    strstr(r.err, "idempotency key kontor-order-place-"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "order", "list", "--client", c1, "--status", "pending-approval",
                 "--json");
    json = s_json(&r);
    s_waiting = s_i64_at(json, "orders[0].order_id");
    assert_int_equal(s_i64_at(json, "orders[0].total"), 100000);
    json_object_put(json);
    s_result_clear(&r);

    //  Only a head approves; then it is confirmed (maybe under a new number).
    snprintf(id, sizeof id, "%" PRId64, s_waiting);
    r = s_kontor("manager-1", "order", "approve", id);
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "PERMISSION_DENIED: "));
    s_result_clear(&r);
    r = s_kontor("head-1", "order", "approve", id, "--json");
    json = s_json(&r);
    assert_string_equal(s_str_at(json, "order.status"), "CONFIRMED");
    assert_string_equal(s_str_at(json, "order.approved_by"), "head-1");
    s_waiting = s_i64_at(json, "order.order_id");
    json_object_put(json);
    s_result_clear(&r);

    //  A head may also reject one that waits: Borealis' limit is 100.00.
    char c2[24];
    snprintf(c2, sizeof c2, "%" PRId64, s_client2);
    int64_t over = s_json_i64("manager-1", "order.order_id", "order", "place", "--client", c2,
                              "--line", "1001:10", "--key", "ord-b-1", (const char *)NULL);
    snprintf(id, sizeof id, "%" PRId64, over);
    r = s_kontor("head-1", "order", "reject", id, "--reason", "too much for a new client");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, ": rejected\n") && strstr(r.out, "125.00 EUR"));
    s_result_clear(&r);

    //  Another manager's client is refused with the sentence.
    r = s_kontor("manager-2", "order", "place", "--client", c1, "--line", "1001:1", "--key",
                 "ord-m2");
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "PERMISSION_DENIED: ") && strstr(r.err, "(client_id)"));
    s_result_clear(&r);

    r = s_kontor("manager-1", "order", "list", "--client", c1);
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "ORDER") && strstr(r.out, "confirmed") &&
                    strstr(r.out, "1000.00 EUR") && strstr(r.out, "50.00 EUR"));
    s_result_clear(&r);
    snprintf(id, sizeof id, "%" PRId64, s_order);
    r = s_kontor("manager-1", "order", "show", id);
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "50.00 EUR (list 50.00 EUR)") &&
                    strstr(r.out, "12.50 EUR") && strstr(r.out, "by manager-1"));
    s_result_clear(&r);

    //  Cancel the approved one: its reservations go back.
    snprintf(id, sizeof id, "%" PRId64, s_waiting);
    r = s_kontor("manager-1", "order", "cancel", id, "--reason", "client changed their mind");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, ": cancelled\n"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "order", "cancel", id);
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "FAILED_PRECONDITION: ") && strstr(r.err, "(order_id)"));
    s_result_clear(&r);
}

//  ---------------------------------------------------------------- shipments and receivables

static void test_shipments_and_receivables(void **state)
{
    char c1[24], id[24], sid[24];
    snprintf(c1, sizeof c1, "%" PRId64, s_client);
    snprintf(id, sizeof id, "%" PRId64, s_order);
    //  logistics raises the shipment from OrderConfirmed.
    s_wait_sql(1, "SELECT count(*) FROM logistics.shipments WHERE order_id = %" PRId64, s_order);
    s_result_t r = s_kontor("logistician-1", "shipments", "list", "--status", "requested");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "SHIPMENT") && strstr(r.out, "requested") &&
                    strstr(r.out, "50.00 EUR"));
    s_result_clear(&r);
    s_shipment = s_json_i64("logistician-1", "shipment.shipment_id", "shipments", "show", "--order",
                            id, (const char *)NULL);
    snprintf(sid, sizeof sid, "%" PRId64, s_shipment);
    r = s_kontor("logistician-1", "shipments", "update", sid, "--status", "picking");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, ": picking"));
    s_result_clear(&r);
    r = s_kontor("logistician-1", "shipments", "update", sid, "--status", "dispatched", "--json");
    struct json_object *json = s_json(&r);
    assert_string_equal(s_str_at(json, "shipment.status"), "DISPATCHED");
    json_object_put(json);
    s_result_clear(&r);
    //  A step the state table does not allow: the sentence and the field.
    r = s_kontor("logistician-1", "shipments", "update", sid, "--status", "requested");
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "FAILED_PRECONDITION: ") && strstr(r.err, "(status)"));
    s_result_clear(&r);

    //  receivables invoices the dispatch: 50.00 EUR.
    s_wait_sql(1, "SELECT count(*) FROM receivables.invoices WHERE shipment_id = %" PRId64,
               s_shipment);
    r = s_kontor("manager-1", "receivables", "balance", c1);
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "owes 50.00 EUR") && strstr(r.out, "1000.00 EUR"));
    s_result_clear(&r);

    //  A payment of 20.00 leaves 30.00 open; its reference makes it happen once.
    r = s_kontor("accountant-1", "receivables", "pay", "--client", c1, "--amount", "20.00",
                 "--currency", "EUR", "--reference", "PAY-1");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "of 20.00 EUR from client") &&
                    strstr(r.out, "reference PAY-1") && strstr(r.out, "INVOICE"));
    s_result_clear(&r);
    r = s_kontor("accountant-1", "receivables", "pay", "--client", c1, "--amount", "20.00",
                 "--reference", "PAY-1");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "recorded before"));
    s_result_clear(&r);
    assert_int_equal(
        s_json_i64("accountant-1", "open.units", "receivables", "balance", c1, (const char *)NULL),
        3000);
    r = s_kontor("accountant-1", "receivables", "balance", c1);
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "owes 30.00 EUR"));
    s_result_clear(&r);

    r = s_kontor("accountant-1", "receivables", "aging");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "NOT DUE") && strstr(r.out, "30.00 EUR"));
    s_result_clear(&r);
    r = s_kontor("accountant-1", "receivables", "aging", "--by", "manager", "--json");
    json = s_json(&r);
    assert_int_equal(s_i64_at(json, "rows[0].key"), 2);
    assert_int_equal(s_i64_at(json, "rows[0].total.units"), 3000);
    json_object_put(json);
    s_result_clear(&r);
    r = s_kontor("accountant-1", "receivables", "aging", "--by", "managr");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "did you mean 'manager'?"));
    s_result_clear(&r);
    r = s_kontor("accountant-1", "receivables", "statement", c1);
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "opening balance") && strstr(r.out, "invoice") &&
                    strstr(r.out, "payment") && strstr(r.out, "PAY-1") &&
                    strstr(r.out, "closing balance") && strstr(r.out, "30.00 EUR"));
    s_result_clear(&r);
    assert_int_equal(s_json_i64("accountant-1", "closing.units", "receivables", "statement", c1,
                                "--from", s_today, (const char *)NULL),
                     3000);
    r = s_kontor("accountant-1", "receivables", "dunning");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "dunning run") && strstr(r.out, "holds on:"));
    s_result_clear(&r);
    r = s_kontor("accountant-1", "receivables", "dunning", "--as-of", s_today, "--json");
    json = s_json(&r);
    assert_string_equal(s_str_at(json, "as_of"), s_today);
    json_object_put(json);
    s_result_clear(&r);

    //  A return once orders has seen the dispatch: 1 x 12.50 credited.
    s_wait_sql(1,
               "SELECT count(*) FROM orders.shipments WHERE order_id = %" PRId64
               " AND status IN (3, 4)",
               s_order);
    r = s_kontor("manager-1", "order", "return", id, "--reason", "defect", "--line", "1001:1",
                 "--key", "ret-1");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "the client is credited 12.50 EUR"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "order", "return", id, "--reason", "defect", "--line", "1001:9",
                 "--json");
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "only 3 of sku 1001 can be returned") &&
                    strstr(r.err, "(lines[0].qty)"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "order", "return", id, "--reason", "broken", "--line", "1001:1");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--reason: unknown value 'broken'"));
    s_result_clear(&r);
}

//  ---------------------------------------------------------------- schedule, complaints, plans

static void test_schedule_complaints_plans(void **state)
{
    char c1[24], at[32], aid[24], cid[24], oid[24];
    snprintf(c1, sizeof c1, "%" PRId64, s_client);
    snprintf(oid, sizeof oid, "%" PRId64, s_order);
    snprintf(at, sizeof at, "%s 10:00", s_soon);
    s_result_t r = s_kontor("manager-1", "schedule", "plan", "--kind", "visit", "--at", at,
                            "--client", c1, "--subject", "new price list");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "planned: visit at") && strstr(r.out, "new price list"));
    s_result_clear(&r);
    snprintf(at, sizeof at, "%sT09:30", s_soon);
    int64_t activity = s_json_i64("manager-1", "id", "schedule", "plan", "--kind", "call", "--at",
                                  at, "--subject", "follow up", (const char *)NULL);
    snprintf(aid, sizeof aid, "%" PRId64, activity);
    r = s_kontor("manager-1", "schedule", "done", aid, "--outcome", "ordered 40 boxes");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "done: call") && strstr(r.out, "ordered 40 boxes"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "schedule", "done", aid, "--outcome", "again");
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "is already completed or cancelled (activity_id)"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "schedule", "plan", "--kind", "visit", "--at", "tomorrow",
                 "--subject", "x");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--at needs a date and time"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "schedule", "week");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "of manager 2") && strstr(r.out, "done per day:"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "schedule", "week", "--json");
    struct json_object *json = s_json(&r);
    assert_int_equal(s_i64_at(json, "manager_id"), 2);
    json_object_put(json);
    s_result_clear(&r);

    //  Complaints: open, take in hand, list, resolve.
    int64_t complaint = s_json_i64("manager-1", "id", "complaints", "open", "--client", c1,
                                   "--order", oid, "--category", "damage", "--description",
                                   "two boxes crushed", (const char *)NULL);
    snprintf(cid, sizeof cid, "%" PRId64, complaint);
    r = s_kontor("manager-1", "complaints", "move", cid, "--status", "in-progress");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, ": in-progress"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "complaints", "list", c1);
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "damage") && strstr(r.out, "two boxes crushed"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "complaints", "resolve", cid);
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "needs --resolution"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "complaints", "resolve", cid, "--resolution", "credit note",
                 "--json");
    json = s_json(&r);
    assert_string_equal(s_str_at(json, "status"), "COMPLAINT_RESOLVED");
    json_object_put(json);
    s_result_clear(&r);
    //  Resolved: no longer among the open ones, listed with --all or by status.
    r = s_kontor("manager-1", "complaints", "list", c1, "--json");
    json = s_json(&r);
    assert_int_equal(json_object_array_length(s_at(json, "complaints")), 0);
    json_object_put(json);
    s_result_clear(&r);
    r = s_kontor("manager-1", "complaints", "list", "--all", "--json");
    json = s_json(&r);
    struct json_object *list = s_at(json, "complaints");
    assert_true(json_object_array_length(list) >= 1);
    struct json_object *first = json_object_array_get_idx(list, 0);
    assert_int_equal(s_i64_at(first, "id"), complaint);
    assert_string_equal(s_str_at(first, "status"), "COMPLAINT_RESOLVED");
    json_object_put(json);
    s_result_clear(&r);
    r = s_kontor("head-1", "complaints", "list", c1, "--status", "resolved,rejected");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "resolved") && strstr(r.out, "two boxes crushed"));
    s_result_clear(&r);
    r = s_kontor("head-1", "complaints", "list", "--all", "--from", s_soon);
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "none"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "complaints", "list", "--status", "closed");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--status closed is no complaint status"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "complaints", "list", "--all", "--manager", "3");
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "(manager_id)"));
    s_result_clear(&r);

    //  Plans: a head sets, the manager reads their own.
    r = s_kontor("head-1", "plan", "set", "--manager", "2", "--month", s_month, "--revenue",
                 "5000.00", "--currency", "EUR", "--active", "2", "--new", "1");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "revenue 5000.00 EUR, 2 active clients, 1 new"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "plan", "report", "--manager", "2");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "plan against actual") && strstr(r.out, "5000.00 EUR"));
    s_result_clear(&r);
    r = s_kontor("manager-1", "plan", "report", "--manager", "2", "--month", s_month, "--json");
    json = s_json(&r);
    assert_true(json_object_get_boolean(s_at(json, "lines[0].has_plan")));
    assert_int_equal(s_i64_at(json, "lines[0].plan.revenue.units"), 500000);
    json_object_put(json);
    s_result_clear(&r);
    r = s_kontor("manager-1", "plan", "report", "--branch", "1");
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "PERMISSION_DENIED: manager-1 may read only their own "
                                           "plan (branch_id)"));
    s_result_clear(&r);

    //  Last: the client moves to manager-2.
    r = s_kontor("head-1", "clients", "assign", c1, "--manager", "3", "--why", "territory split");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "is now with manager 3"));
    s_result_clear(&r);
    r = s_kontor("manager-2", "clients", "show", c1, "--json");
    json = s_json(&r);
    assert_int_equal(s_i64_at(json, "card.manager_id"), 3);
    assert_string_equal(s_str_at(json, "assignments[0].why"), "territory split");
    json_object_put(json);
    s_result_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_bad_input),
        cmocka_unit_test(test_clients),
        cmocka_unit_test(test_stock),
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_shipments_and_receivables),
        cmocka_unit_test(test_schedule_complaints_plans),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
