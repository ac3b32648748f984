/*  it_bus - the bus and the service shape, against real processes.
 *
 *  A private set (PostgreSQL database, bus, services) per test program;
 *  requests go over real CURVE-secured ZeroMQ sockets.
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
#include <sys/wait.h>

#include "kontor.pb-c.h"
#include "kt_client.h"
#include "kt_harness.h"
#include "kt_metrics.h"
#include "kt_proto.h"
#include "kt_status.h"

static kth_set_t *s_set;
static pid_t s_bus;

static int s_status_call(kt_client_t *client, const char *service, bool retry, int timeout_ms,
                         char *instance, size_t size)
{
    Kontor__StatusRequest req = KONTOR__STATUS_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = timeout_ms, .retry = retry, .attempt_ms = 1000};
    int status = kt_client_call(client, service, "Status", &req.base,
                                &kontor__status_reply__descriptor, &out, &opts, &reply);
    if (status == KT_OK && instance)
        snprintf(instance, size, "%s", ((Kontor__StatusReply *) out)->instance);
    kt_msg_free(out);
    kt_reply_clear(&reply);
    return status;
}

//  ---------------------------------------------------------------- tests

static void test_status_of_every_service_through_the_bus(void **state)
{
    const char *services[] = {"clients", "orders", "logistics", "receivables"};
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = kth_start_service(s_set, services[i], 2);
    kt_client_t *client = kth_client(s_set, "admin");
    for (int i = 0; i < 4; i++) {
        char instance[128] = "";
        Kontor__StatusRequest req = KONTOR__STATUS_REQUEST__INIT;
        ProtobufCMessage *out = NULL;
        kt_reply_t reply;
        int status = kt_client_call(client, services[i], "Status", &req.base,
                                    &kontor__status_reply__descriptor, &out, NULL, &reply);
        assert_int_equal(status, KT_OK);
        Kontor__StatusReply *rep = (Kontor__StatusReply *) out;
        assert_string_equal(rep->service, services[i]);
        assert_true(rep->db_time_ms > 1700000000000LL);
        assert_true(rep->schema_version >= 1);
        assert_int_equal(rep->workers, 2);
        snprintf(instance, sizeof instance, "%s", rep->instance);
        assert_true(strlen(instance) > 0);
        kt_msg_free(out);
        kt_reply_clear(&reply);
    }
    //  The bus's own service lists them with their workers.
    Kontor__BusStatusRequest breq = KONTOR__BUS_STATUS_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    kt_reply_t reply;
    assert_int_equal(kt_client_call(client, "bus", "Status", &breq.base,
                                    &kontor__bus_status_reply__descriptor, &out, NULL, &reply),
                     KT_OK);
    Kontor__BusStatusReply *bus = (Kontor__BusStatusReply *) out;
    int found = 0;
    for (size_t i = 0; i < bus->n_services; i++)
        for (int k = 0; k < 4; k++)
            if (strcmp(bus->services[i]->name, services[k]) == 0) {
                assert_int_equal(bus->services[i]->workers, 2);
                found++;
            }
    assert_int_equal(found, 4);
    kt_msg_free(out);
    kt_reply_clear(&reply);
    kt_client_destroy(&client);
    for (int i = 0; i < 4; i++)
        assert_int_equal(kth_signal(s_set, pids[i], SIGTERM), 0);
}

static void test_unknown_method_and_service(void **state)
{
    pid_t pid = kth_start_service(s_set, "orders", 1);
    kt_client_t *client = kth_client(s_set, "manager-1");
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = 3000};
    assert_int_equal(kt_client_call_raw(client, "orders", "NoSuchMethod", (const uint8_t *) "", 0,
                                        &opts, &reply),
                     0);
    assert_int_equal(reply.status, KT_UNIMPLEMENTED);
    assert_string_equal(reply.field, "method");
    assert_non_null(strstr(reply.message, "NoSuchMethod"));
    kt_reply_clear(&reply);

    //  A payload that is not the method's request type: refused, named.
    const uint8_t junk[] = {0x08, 0x96, 0x01, 0xff, 0xff};
    assert_int_equal(kt_client_call_raw(client, "orders", "Status", junk, sizeof junk, &opts,
                                        &reply),
                     0);
    assert_int_equal(reply.status, KT_INVALID_ARGUMENT);
    kt_reply_clear(&reply);

    //  No worker for a service: the request waits its deadline, then UNAVAILABLE.
    opts.timeout_ms = 600;
    int64_t t0 = kt_now_ms();
    assert_int_equal(kt_client_call_raw(client, "nosuchservice", "Status", NULL, 0, &opts, &reply),
                     0);
    assert_int_equal(reply.status, KT_UNAVAILABLE);
    assert_true(kt_now_ms() - t0 >= 500);
    kt_reply_clear(&reply);
    kt_client_destroy(&client);
    assert_int_equal(kth_signal(s_set, pid, SIGTERM), 0);
}

//  Send raw multipart messages with a real key but broken frames.
static void s_send_frames(zsock_t *sock, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    zmsg_t *msg = zmsg_new();
    for (int i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        zmsg_addstr(msg, s);
    }
    va_end(ap);
    zmsg_send(&msg, sock);
}

//  Messages the bus refused, every reason together (kth_metric's prefix).
#define S_DROPPED "bus_dropped_total{"

static void test_bad_frames_are_counted_and_the_bus_keeps_serving(void **state)
{
    pid_t pid = kth_start_service(s_set, "clients", 1);
    kt_client_t *client = kth_client(s_set, "admin");
    int bus_port = kth_http_port(s_set, s_bus);
    int64_t before = kth_metric(bus_port, S_DROPPED);
    assert_true(before >= 0);

    //  A raw socket with a known key, speaking nonsense.
    zsock_t *raw = kth_socket(s_set, "manager-1", ZMQ_DEALER, KTH_BUS);
    kt_config_t cfg;
    kth_config(s_set, "manager-1", &cfg);

    s_send_frames(raw, 1, "garbage");                                   //  too few frames
    s_send_frames(raw, 3, "x", KT_CLIENT_HEADER, "clients");            //  no empty delimiter
    s_send_frames(raw, 4, "", "MDPC01", "clients", "body");             //  wrong protocol header
    s_send_frames(raw, 3, "", KT_CLIENT_HEADER, "clients");             //  no body
    s_send_frames(raw, 4, "", KT_CLIENT_HEADER, "Bad Name!", "body");   //  bad service name
    s_send_frames(raw, 4, "", KT_CLIENT_HEADER, "clients", "\xff\xff"); //  body not a Request
    s_send_frames(raw, 4, "", KT_WORKER_HEADER, "\x09", "x");           //  unknown command
    s_send_frames(raw, 4, "", KT_WORKER_HEADER, "\x01", "clients");     //  manager may not serve
    s_send_frames(raw, 10, "", KT_CLIENT_HEADER, "a", "b", "c", "d", "e", "f", "g", "h");
    //  A frame over KONTOR_MAX_MSG: libzmq closes that connection.
    size_t big = (size_t) cfg.max_msg_bytes + 1024;
    char *huge = malloc(big);
    memset(huge, 'x', big);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "");
    zmsg_addstr(msg, KT_CLIENT_HEADER);
    zmsg_addstr(msg, "clients");
    zmsg_addmem(msg, huge, big);
    zmsg_send(&msg, raw);
    free(huge);

    //  Each refused message is counted; wait for the counter, not a clock.
    assert_true(kth_wait_metric(bus_port, S_DROPPED, before + 8, 5000));
    //  ... and the bus still serves.
    assert_int_equal(s_status_call(client, "clients", false, 3000, NULL, 0), KT_OK);
    zsock_destroy(&raw);
    kt_client_destroy(&client);
    assert_int_equal(kth_signal(s_set, pid, SIGTERM), 0);
}

//  ---------------------------------------------------------------- load helpers

typedef struct {
    const char *service;
    const char *principal;
    bool retry;
    atomic_bool *stop;
    atomic_long *ok;
    atomic_long *failed;
    kt_client_t *client;
} s_load_t;

static void *s_load_thread(void *arg)
{
    s_load_t *load = arg;
    while (!atomic_load(load->stop)) {
        int status = s_status_call(load->client, load->service, load->retry, 15000, NULL, 0);
        if (status == KT_OK)
            atomic_fetch_add(load->ok, 1);
        else
            atomic_fetch_add(load->failed, 1);
    }
    return NULL;
}

#define S_THREADS 6

static void s_run_with_load(const char *service, bool retry, pid_t victim, int sig,
                            long *ok_out, long *failed_out)
{
    atomic_bool stop = false;
    atomic_long ok = 0, failed = 0;
    pthread_t threads[S_THREADS];
    s_load_t loads[S_THREADS];
    for (int i = 0; i < S_THREADS; i++) {
        loads[i] = (s_load_t){service, "admin", retry, &stop, &ok, &failed, NULL};
        loads[i].client = kth_client(s_set, "admin");
        pthread_create(&threads[i], NULL, s_load_thread, &loads[i]);
    }
    //  Let requests flow, then strike while they do.
    while (atomic_load(&ok) < 200)
        zclock_sleep(5);
    int wstatus = kth_signal(s_set, victim, sig);
    if (sig == SIGTERM) {
        assert_true(WIFEXITED(wstatus));
        assert_int_equal(WEXITSTATUS(wstatus), 0);
    }
    long at_strike = atomic_load(&ok);
    while (atomic_load(&ok) < at_strike + 300)
        zclock_sleep(5);
    atomic_store(&stop, true);
    for (int i = 0; i < S_THREADS; i++) {
        pthread_join(threads[i], NULL);
        kt_client_destroy(&loads[i].client);
    }
    *ok_out = atomic_load(&ok);
    *failed_out = atomic_load(&failed);
}

static void test_kill_one_of_two_instances_loses_no_request(void **state)
{
    pid_t a = kth_start_service(s_set, "logistics", 2);
    pid_t b = kth_start_service(s_set, "logistics", 2);
    long ok, failed;
    s_run_with_load("logistics", true, a, SIGKILL, &ok, &failed);
    print_message("# kill -9: %ld answered, %ld failed\n", ok, failed);
    assert_int_equal(failed, 0);
    assert_true(ok >= 500);
    assert_int_equal(kth_signal(s_set, b, SIGTERM), 0);
}

static void test_sigterm_finishes_in_flight_requests(void **state)
{
    pid_t a = kth_start_service(s_set, "receivables", 2);
    pid_t b = kth_start_service(s_set, "receivables", 2);
    long ok, failed;
    //  No retries: a request the stopping instance dropped would fail.
    s_run_with_load("receivables", false, a, SIGTERM, &ok, &failed);
    print_message("# SIGTERM: %ld answered, %ld failed\n", ok, failed);
    assert_int_equal(failed, 0);
    assert_int_equal(kth_signal(s_set, b, SIGTERM), 0);
}

static void test_unknown_key_gets_no_answer(void **state)
{
    pid_t pid = kth_start_service(s_set, "clients", 1);
    //  A key pair the bus has never seen.
    zsock_t *sock = kth_socket(s_set, NULL, ZMQ_DEALER, KTH_BUS);
    char request_id[KT_ID_MAX + 1];
    zsock_set_sndtimeo(sock, 500);
    kth_send_request(sock, "clients", "Status", 1000, request_id);
    zpoller_t *poller = zpoller_new(sock, NULL);
    assert_null(zpoller_wait(poller, 1500));
    zpoller_destroy(&poller);
    zsock_destroy(&sock);
    //  A known key still works.
    kt_client_t *client = kth_client(s_set, "admin");
    assert_int_equal(s_status_call(client, "clients", false, 3000, NULL, 0), KT_OK);
    kt_client_destroy(&client);
    assert_int_equal(kth_signal(s_set, pid, SIGTERM), 0);
}

static int s_setup(void **state)
{
    s_set = kth_set_new("bus");
    s_bus = kth_start_bus(s_set);
    *state = s_set; //  for kth_teardown
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_of_every_service_through_the_bus),
        cmocka_unit_test(test_unknown_method_and_service),
        cmocka_unit_test(test_bad_frames_are_counted_and_the_bus_keeps_serving),
        cmocka_unit_test(test_unknown_key_gets_no_answer),
        cmocka_unit_test(test_kill_one_of_two_instances_loses_no_request),
        cmocka_unit_test(test_sigterm_finishes_in_flight_requests),
    };
    return cmocka_run_group_tests_name("bus", tests, s_setup, kth_teardown);
}
