/*  it_harness - the test harness itself, and least privilege in PostgreSQL.
 *
 *  A set's database must look like the local set's: one schema per service,
 *  owned by that service's role, and no role able to touch another's schema
 *  (docs/security.md: one PostgreSQL role per service, rights on its own
 *  schema only). Also checks the harness's own tools that other tests lean
 *  on: kth_http_get on a closed port and on a live one, kth_metric, the SQL
 *  helpers and their waits, and starting and stopping the bus when it has
 *  been built.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kt_harness.h"
#include "kt_pg.h"

static const char *const s_services[] = {"clients", "orders", "logistics", "receivables"};
#define NSERVICES (sizeof s_services / sizeof s_services[0])

static int s_setup(void **state)
{
    *state = kth_set_new("harness");
    return *state ? 0 : -1;
}

//  Connect as a service's role over TCP with the run's passfile.
static kt_pg_t *s_connect_as(kth_set_t *set, const char *service)
{
    char *dsn = kth_service_dsn(set, service);
    kt_pg_t *pg = kt_pg_new(dsn);
    free(dsn);
    assert_non_null(pg);
    return pg;
}

static void set_has_four_schemas_owned_by_their_roles(void **state)
{
    kth_set_t *set = *state;
    for (size_t i = 0; i < NSERVICES; i++) {
        char sql[256], want[64];
        snprintf(sql, sizeof sql,
                 "SELECT r.rolname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner "
                 "WHERE n.nspname = '%s'",
                 s_services[i]);
        snprintf(want, sizeof want, "kontor_%s", s_services[i]);
        char *owner = kth_sql_value(set, sql);
        assert_non_null(owner);
        assert_string_equal(owner, want);
        free(owner);
    }
    assert_int_equal(kth_sql_i64(set, "SELECT count(*) FROM pg_namespace WHERE nspname IN "
                                      "('clients', 'orders', 'logistics', 'receivables')"),
                     4);
}

static void service_roles_log_in_but_hold_no_cluster_rights(void **state)
{
    kth_set_t *set = *state;
    assert_int_equal(kth_sql_i64(set, "SELECT count(*) FROM pg_roles WHERE rolname IN "
                                      "('kontor_clients', 'kontor_orders', 'kontor_logistics', "
                                      "'kontor_receivables') AND rolcanlogin AND NOT rolsuper "
                                      "AND NOT rolcreatedb AND NOT rolcreaterole "
                                      "AND NOT rolreplication AND NOT rolbypassrls"),
                     4);
    //  PUBLIC has no right on the database; each role has CONNECT only.
    char *acl = kth_sql_value(set, "SELECT datacl::text FROM pg_database "
                                   "WHERE datname = current_database()");
    assert_non_null(acl);
    assert_null(strstr(acl, "{=")); //  no "=<rights>" entry: that would be PUBLIC
    assert_null(strstr(acl, ",="));
    assert_non_null(strstr(acl, "kontor_orders=c/"));
    free(acl);
}

static void orders_role_writes_and_reads_its_own_schema(void **state)
{
    kth_set_t *set = *state;
    kt_pg_t *pg = s_connect_as(set, "orders");
    assert_int_equal(kt_pg_command(pg, "CREATE TABLE orders.own_rows (x int)"), 0);
    assert_int_equal(kt_pg_command(pg, "INSERT INTO orders.own_rows VALUES (7)"), 0);
    static const kt_stmt_t read_own = {"it_harness_read_own", "SELECT x FROM own_rows", 0};
    PGresult *res = kt_pg_exec(pg, &read_own, NULL); //  unqualified: search_path is orders
    assert_non_null(res);
    assert_int_equal(PQntuples(res), 1);
    assert_int_equal(kt_pg_i64(res, 0, 0), 7);
    PQclear(res);
    kt_pg_destroy(&pg);
}

static void clients_role_cannot_select_from_orders_schema(void **state)
{
    kth_set_t *set = *state;
    kt_pg_t *admin = kth_admin(set);
    assert_int_equal(kt_pg_command(admin, "CREATE TABLE orders.secret_rows (x int)"), 0);
    assert_int_equal(kt_pg_command(admin, "INSERT INTO orders.secret_rows VALUES (1)"), 0);

    kt_pg_t *pg = s_connect_as(set, "clients");
    static const kt_stmt_t peek = {"it_harness_peek", "SELECT x FROM orders.secret_rows", 0};
    PGresult *res = kt_pg_exec(pg, &peek, NULL);
    assert_null(res);
    assert_string_equal(kt_pg_sqlstate(pg), "42501"); //  insufficient_privilege
    //  Nor a table the orders role made itself.
    kt_pg_t *orders = s_connect_as(set, "orders");
    assert_int_equal(kt_pg_command(orders, "CREATE TABLE orders.orders_rows (x int)"), 0);
    kt_pg_destroy(&orders);
    static const kt_stmt_t peek_own = {"it_harness_peek_own", "SELECT x FROM orders.orders_rows",
                                       0};
    res = kt_pg_exec(pg, &peek_own, NULL);
    assert_null(res);
    assert_string_equal(kt_pg_sqlstate(pg), "42501");
    kt_pg_destroy(&pg);
}

static void clients_role_cannot_create_in_public_or_other_schemas(void **state)
{
    kth_set_t *set = *state;
    kt_pg_t *pg = s_connect_as(set, "clients");
    assert_int_equal(kt_pg_command(pg, "CREATE TABLE public.sneaky (x int)"), -1);
    assert_string_equal(kt_pg_sqlstate(pg), "42501");
    assert_int_equal(kt_pg_command(pg, "CREATE TABLE receivables.sneaky (x int)"), -1);
    assert_string_equal(kt_pg_sqlstate(pg), "42501");
    kt_pg_destroy(&pg);
}

static void http_get_on_a_closed_port_returns_minus_one(void **state)
{
    (void)state;
    int port = kth_free_port(); //  nothing listens there
    char *body = (char *)"untouched";
    assert_int_equal(kth_http_get(port, "/readyz", &body), -1);
    assert_null(body);
}

//  A small HTTP server: answers `count` requests, one after the other, with
//  a fixed response.
typedef struct {
    int listener;         //  listening socket
    const char *response; //  what to send back
    int count;            //  requests to answer
} s_server_t;

static void *s_serve(void *arg)
{
    s_server_t *server = arg;
    for (int i = 0; i < server->count; i++) {
        int fd = accept(server->listener, NULL, NULL);
        if (fd < 0)
            break;
        char request[1024];
        ssize_t unused = recv(fd, request, sizeof request, 0);
        (void)unused;
        unused = send(fd, server->response, strlen(server->response), MSG_NOSIGNAL);
        close(fd);
    }
    return NULL;
}

//  A socket listening on 127.0.0.1:port.
static int s_listen(int port)
{
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(listener >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(listener, 1), 0);
    return listener;
}

static void http_get_returns_status_and_body(void **state)
{
    (void)state;
    int port = kth_free_port();
    int listener = s_listen(port);
    s_server_t server = {listener,
                         "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\n"
                         "not ready: bus\n",
                         1};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_serve, &server), 0);
    char *body = NULL;
    int status = kth_http_get(port, "/readyz", &body);
    pthread_join(thread, NULL);
    close(listener);
    assert_int_equal(status, 503);
    assert_non_null(body);
    assert_string_equal(body, "not ready: bus\n");
    free(body);
}

//  kth_metric sums the series a prefix names, and says -1 when there is
//  none; kth_wait_metric sees a sum that is there.
static void metric_sums_the_series_a_prefix_names(void **state)
{
    (void)state;
    int port = kth_free_port();
    assert_int_equal(kth_metric(port, "bus_dropped_total{"), -1); //  nothing listens yet
    int listener = s_listen(port);
    s_server_t server = {listener,
                         "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                         "# TYPE bus_dropped_total counter\n"
                         "bus_dropped_total{reason=\"frame\"} 3\n"
                         "bus_dropped_total{reason=\"principal\"} 4\n"
                         "bus_dropped_total_other 100\n"
                         "bus_events_total 9\n",
                         4};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_serve, &server), 0);
    int64_t all = kth_metric(port, "bus_dropped_total{");
    int64_t one = kth_metric(port, "bus_dropped_total{reason=\"principal\"} ");
    int64_t none = kth_metric(port, "bus_requests_total{");
    bool reached = kth_wait_metric(port, "bus_dropped_total{", 7, 1000);
    pthread_join(thread, NULL);
    close(listener);
    assert_int_equal(all, 7);
    assert_int_equal(one, 4);
    assert_int_equal(none, -1);
    assert_true(reached);
}

//  The SQL helpers: exec, printf-style values, and waits that see a value
//  or time out.
static void sql_helpers_run_format_and_wait(void **state)
{
    kth_set_t *set = *state;
    kth_sql_exec(set, "CREATE TABLE public.kth_probe (x int); INSERT INTO public.kth_probe "
                      "VALUES (5), (7)");
    assert_int_equal(kth_sql_i64f(set, "SELECT sum(x) FROM public.kth_probe WHERE x > %d", 5), 7);
    char *text = kth_sql_valuef(set,
                                "SELECT string_agg(x::text, '%s' ORDER BY x) FROM "
                                "public.kth_probe",
                                ",");
    assert_non_null(text);
    assert_string_equal(text, "5,7");
    free(text);
    assert_true(kth_wait_sql(set, "SELECT count(*) FROM public.kth_probe", 2, 1000));
    assert_true(kth_wait_sql_min(set, "SELECT count(*) FROM public.kth_probe", 1, 1000));
    assert_true(kth_wait_sqlf(set, 12, 1000, "SELECT sum(x) FROM public.%s", "kth_probe"));
    //  A value that never comes: false after the timeout, not before.
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_false(kth_wait_sql(set, "SELECT count(*) FROM public.kth_probe", 3, 200));
    assert_false(kth_wait_sql_min(set, "SELECT count(*) FROM public.kth_probe", 3, 200));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 400);
    kth_sql_exec(set, "DROP TABLE public.kth_probe");
}

static void bus_starts_ready_and_stops_cleanly(void **state)
{
    kth_set_t *set = *state;
    char path[1024];
    snprintf(path, sizeof path, "%s/kontor-bus", getenv("KT_TEST_BIN"));
    if (access(path, X_OK) != 0)
        skip(); //  not built yet
    pid_t bus = kth_start_bus(set);
    assert_true(bus > 0);
    int port = kth_http_port(set, bus);
    assert_true(port > 0);
    assert_int_equal(kth_http_get(port, "/healthz", NULL), 200);
    assert_int_equal(kth_set_stop(set), 0);
    assert_int_equal(kth_http_get(port, "/healthz", NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_has_four_schemas_owned_by_their_roles),
        cmocka_unit_test(service_roles_log_in_but_hold_no_cluster_rights),
        cmocka_unit_test(orders_role_writes_and_reads_its_own_schema),
        cmocka_unit_test(clients_role_cannot_select_from_orders_schema),
        cmocka_unit_test(clients_role_cannot_create_in_public_or_other_schemas),
        cmocka_unit_test(http_get_on_a_closed_port_returns_minus_one),
        cmocka_unit_test(http_get_returns_status_and_body),
        cmocka_unit_test(metric_sums_the_series_a_prefix_names),
        cmocka_unit_test(sql_helpers_run_format_and_wait),
        cmocka_unit_test(bus_starts_ready_and_stops_cleanly),
    };
    return cmocka_run_group_tests_name("harness", tests, s_setup, kth_teardown);
}
