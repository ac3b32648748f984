/*  it_events - outbox, relay and consumers against a real database and bus.
 *
 *  The producer is a real orders process (its relay publishes its outbox);
 *  the events are written into its outbox by the test as the database
 *  superuser, the way a handler's transaction would write them. The consumer
 *  is tests/fixtures/event_sink, a process running kt_consumer into a
 *  schema of its own ("sink", owned by the clients role; the clients service
 *  consumes the orders stream into its own schema at the same time), whose
 *  table's primary key turns any double application into an error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kontor.pb-c.h"
#include "kt_harness.h"
#include "kt_metrics.h"
#include "kt_proto.h"
#include "kt_wire.h"

static kth_set_t *s_set;
static pid_t s_orders;

static int64_t s_value(const char *sql)
{
    return kth_sql_i64(s_set, sql);
}

//  Write `n` events into the orders outbox, `per_tx` to a transaction.
static void s_produce(int n, int per_tx)
{
    kth_outbox_fill(s_set, "orders", "TestEvent", n, per_tx);
}

static pid_t s_start_sink(void)
{
    const char *argv[] = {"sink", "orders", NULL};
    return kth_spawn(s_set, "clients", "event_sink", argv);
}

static void s_wait_value(const char *sql, int64_t want, int timeout_ms)
{
    assert_true(kth_wait_sql_min(s_set, sql, want, timeout_ms));
}

//  The sink's table holds exactly seq 1..n of orders, each once.
static void s_check_exactly_once(int64_t n)
{
    assert_int_equal(s_value("SELECT count(*) FROM sink.event_sink"), n);
    assert_int_equal(s_value("SELECT count(DISTINCT seq) FROM sink.event_sink"), n);
    assert_int_equal(s_value("SELECT coalesce(min(seq), 0) FROM sink.event_sink"), n ? 1 : 0);
    assert_int_equal(s_value("SELECT coalesce(max(seq), 0) FROM sink.event_sink"), n);
    assert_int_equal(
        s_value("SELECT last_seq FROM sink.event_offsets WHERE producer = 'orders'"), n);
}

static int s_setup(void **state)
{
    s_set = kth_set_new("events");
    kth_start_bus(s_set);
    s_orders = kth_start_service(s_set, "orders", 1);
    kth_start_service(s_set, "clients", 1);
    //  The sink's schema: what the framework gives a service's schema for
    //  consuming (event_offsets), plus the table it records into.
    kth_sql_exec(s_set, "CREATE SCHEMA sink AUTHORIZATION kontor_clients");
    kth_sql_exec(
        s_set,
        "CREATE TABLE sink.event_offsets (producer text PRIMARY KEY,"
        " last_seq bigint NOT NULL DEFAULT 0, applied_at timestamptz NOT NULL DEFAULT now())");
    kth_sql_exec(s_set,
                 "CREATE TABLE sink.event_sink (producer text, seq bigint, type text,"
                 " applied_at timestamptz DEFAULT clock_timestamp(), PRIMARY KEY (producer, seq))");
    kth_sql_exec(s_set, "ALTER TABLE sink.event_offsets OWNER TO kontor_clients");
    kth_sql_exec(s_set, "ALTER TABLE sink.event_sink OWNER TO kontor_clients");
    *state = s_set; //  for kth_teardown
    return 0;
}

static void test_rolled_back_transaction_publishes_nothing(void **state)
{
    kt_pg_t *admin = kth_admin(s_set);
    assert_int_equal(kt_pg_command(admin, "BEGIN"), 0);
    assert_int_equal(kt_pg_command(admin, "INSERT INTO orders.outbox (type, payload)"
                                          " VALUES ('RolledBack', '\\x00')"),
                     0);
    assert_int_equal(kt_pg_command(admin, "ROLLBACK"), 0);
    s_produce(1, 1);
    s_wait_value("SELECT last_seq FROM orders.outbox_state", 1, 10000);
    assert_int_equal(s_value("SELECT count(*) FROM orders.outbox WHERE type = 'RolledBack'"), 0);
    assert_int_equal(s_value("SELECT last_seq FROM orders.outbox_state"), 1);
}

static void test_late_consumer_catches_up(void **state)
{
    //  5,000 more events published before any consumer exists.
    s_produce(5000, 100);
    s_wait_value("SELECT last_seq FROM orders.outbox_state", 5001, 30000);
    pid_t sink = s_start_sink();
    s_wait_value("SELECT count(*) FROM sink.event_sink", 5001, 60000);
    s_check_exactly_once(5001);
    kth_signal(s_set, sink, SIGTERM);
}

typedef struct {
    int n;
    atomic_bool done;
} s_producer_t;

static void *s_producer_thread(void *arg)
{
    s_producer_t *p = arg;
    //  Its own connection: the set's admin connection belongs to the test thread.
    kt_pg_t *pg = kt_pg_new(kth_admin_dsn(s_set));
    char sql[256];
    for (int done = 0; done < p->n; done += 50) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO orders.outbox (type, payload)"
                 " SELECT 'TestEvent', int8send(g) FROM generate_series(1, 50) g");
        kt_pg_command(pg, sql);
    }
    kt_pg_destroy(&pg);
    atomic_store(&p->done, true);
    return NULL;
}

static void test_consumer_killed_and_restarted_applies_each_once(void **state)
{
    int64_t before = s_value("SELECT last_seq FROM orders.outbox_state");
    pid_t sink = s_start_sink();
    s_producer_t p = {.n = 10000};
    pthread_t thread;
    pthread_create(&thread, NULL, s_producer_thread, &p);
    //  Part way through: kill -9, then start again.
    s_wait_value("SELECT count(*) FROM sink.event_sink", before + 3000, 60000);
    kth_signal(s_set, sink, SIGKILL);
    sink = s_start_sink();
    pthread_join(thread, NULL);
    int64_t total = before + 10000;
    s_wait_value("SELECT last_seq FROM orders.outbox_state", total, 60000);
    s_wait_value("SELECT count(*) FROM sink.event_sink", total, 60000);
    s_check_exactly_once(total);
    //  In order: the applied_at times rise with seq.
    assert_int_equal(s_value("SELECT count(*) FROM (SELECT seq, applied_at, lag(applied_at)"
                             " OVER (ORDER BY seq) AS prev FROM sink.event_sink) t"
                             " WHERE prev > applied_at"),
                     0);
    kth_signal(s_set, sink, SIGTERM);
}

static void test_relay_killed_mid_stream_loses_nothing(void **state)
{
    int64_t before = s_value("SELECT last_seq FROM orders.outbox_state");
    pid_t sink = s_start_sink();
    s_producer_t p = {.n = 5000};
    pthread_t thread;
    pthread_create(&thread, NULL, s_producer_thread, &p);
    s_wait_value("SELECT last_seq FROM orders.outbox_state", before + 1000, 60000);
    kth_signal(s_set, s_orders, SIGKILL);
    s_orders = kth_start_service(s_set, "orders", 1);
    pthread_join(thread, NULL);
    int64_t total = before + 5000;
    s_wait_value("SELECT count(*) FROM sink.event_sink", total, 60000);
    s_check_exactly_once(total);
    assert_int_equal(s_value("SELECT count(*) FROM orders.outbox WHERE seq IS NULL"), 0);
    kth_signal(s_set, sink, SIGTERM);
}

//  A raw subscriber: every seq of the orders stream it sees, once, in order.
static void test_two_producer_instances_publish_each_event_once_in_order(void **state)
{
    pid_t second = kth_start_service(s_set, "orders", 1);
    zsock_t *sub = kth_socket(s_set, "admin", ZMQ_SUB, KTH_EVENTS_OUT);
    zsock_set_subscribe(sub, "orders.TestEvent");
    //  The subscription must reach the bus before the events do: produce
    //  single events until one arrives.
    uint64_t last = 0;
    int seen = 0;
    bool ordered = true;
    zpoller_t *poller = zpoller_new(sub, NULL);
    int64_t deadline = kt_now_ms() + 30000;
    bool primed = false;
    while (!primed && kt_now_ms() < deadline) {
        s_produce(1, 1);
        if (zpoller_wait(poller, 300)) {
            zmsg_t *msg = zmsg_recv(sub);
            zframe_t *body = zmsg_last(msg);
            Kontor__Event *ev = (Kontor__Event *) kt_msg_unpack(
                &kontor__event__descriptor, zframe_data(body), zframe_size(body), NULL, 0,
                NULL, 0);
            assert_non_null(ev);
            last = ev->seq;
            kt_msg_free(&ev->base);
            zmsg_destroy(&msg);
            primed = true;
        }
    }
    assert_true(primed);
    s_produce(3000, 30);
    int64_t want_last = 0;
    deadline = kt_now_ms() + 60000;
    while (kt_now_ms() < deadline) {
        want_last = s_value("SELECT last_seq FROM orders.outbox_state");
        if ((int64_t) last >= want_last && s_value("SELECT count(*) FROM orders.outbox"
                                                   " WHERE seq IS NULL")
                                               == 0)
            break;
        if (!zpoller_wait(poller, 200))
            continue;
        zmsg_t *msg = zmsg_recv(sub);
        zframe_t *body = zmsg_last(msg);
        Kontor__Event *ev = (Kontor__Event *) kt_msg_unpack(
            &kontor__event__descriptor, zframe_data(body), zframe_size(body), NULL, 0, NULL, 0);
        assert_non_null(ev);
        if (ev->seq != last + 1)
            ordered = false;
        last = ev->seq;
        seen++;
        kt_msg_free(&ev->base);
        zmsg_destroy(&msg);
    }
    print_message("# saw %d events, last %llu of %lld\n", seen, (unsigned long long) last,
                  (long long) want_last);
    assert_true(ordered);
    assert_int_equal((int64_t) last, want_last);
    assert_true(seen >= 3000);
    zpoller_destroy(&poller);
    zsock_destroy(&sub);
    kth_signal(s_set, second, SIGTERM);
}

static void test_malformed_event_is_skipped_without_stopping_the_consumer(void **state)
{
    pid_t sink = s_start_sink();
    int64_t before = s_value("SELECT last_seq FROM orders.outbox_state");
    s_wait_value("SELECT count(*) FROM sink.event_sink", before, 60000);
    //  Publish garbage as the orders service would: its own key, its topic.
    zsock_t *pub = kth_socket(s_set, "orders", ZMQ_PUB, KTH_EVENTS_IN);
    for (int i = 0; i < 50; i++) {
        zstr_sendx(pub, "orders.TestEvent", "\xff\xff\x01 not protobuf", NULL);
        zstr_sendx(pub, "orders.TestEvent", NULL);
        zstr_sendx(pub, "orders.TestEvent", "a", "b", NULL);
    }
    //  The consumer goes on applying real events.
    s_produce(100, 10);
    s_wait_value("SELECT count(*) FROM sink.event_sink", before + 100, 60000);
    s_check_exactly_once(before + 100);
    zsock_destroy(&pub);
    kth_signal(s_set, sink, SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rolled_back_transaction_publishes_nothing),
        cmocka_unit_test(test_late_consumer_catches_up),
        cmocka_unit_test(test_consumer_killed_and_restarted_applies_each_once),
        cmocka_unit_test(test_relay_killed_mid_stream_loses_nothing),
        cmocka_unit_test(test_two_producer_instances_publish_each_event_once_in_order),
        cmocka_unit_test(test_malformed_event_is_skipped_without_stopping_the_consumer),
    };
    return cmocka_run_group_tests_name("events", tests, s_setup, kth_teardown);
}
