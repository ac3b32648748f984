/*  it_security - the security model of docs/security.md, against a real set.
 *
 *  Each test attacks one promise with real keys over real CURVE sockets:
 *  role masks in the dispatcher, the principal the bus stamps, who may
 *  register as a worker, who may publish which topics, revocation of a
 *  connected key, secrets kept out of logs and keygen's output, database
 *  least privilege for every pair of services, and Redis's password.
 *  Waiting is on answers, counters and subscriptions, never on a clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kontor.pb-c.h"
#include "kt_auth.h"
#include "kt_client.h"
#include "kt_config.h"
#include "kt_harness.h"
#include "kt_metrics.h"
#include "kt_proto.h"
#include "kt_redis.h"
#include "kt_status.h"
#include "kt_wire.h"

#define S_REVOKE_MS 10000 //  a removed key must stop working within this
#define S_WAIT_MS   15000 //  bound on any other wait for the set to react
#define S_PATH      2048

static kth_set_t *s_set;
static pid_t s_bus;

//  ---------------------------------------------------------------- helpers

//  The bus's bus_dropped_total{reason="<reason>"}.
static int64_t s_dropped(const char *reason)
{
    char series[96];
    snprintf(series, sizeof series, "bus_dropped_total{reason=\"%s\"} ", reason);
    int64_t value = kth_metric(kth_http_port(s_set, s_bus), series);
    assert_true(value >= 0);
    return value;
}

//  Wait until the bus's bus_dropped_total{reason="<reason>"} is at least `want`.
static void s_wait_dropped(const char *reason, int64_t want)
{
    char series[96];
    snprintf(series, sizeof series, "bus_dropped_total{reason=\"%s\"} ", reason);
    assert_true(kth_wait_metric(kth_http_port(s_set, s_bus), series, want, S_WAIT_MS));
}

//  A Status call with a short budget and no retry. Returns 0 when anything
//  answered (bus or service; status in *status), -1 on silence.
static int s_status_call(kt_client_t *client, const char *service, int timeout_ms, int *status,
                         char *instance, size_t size)
{
    Kontor__StatusRequest req = KONTOR__STATUS_REQUEST__INIT;
    size_t len;
    uint8_t *payload = kt_msg_pack(&req.base, &len);
    kt_call_opts_t opts = {.timeout_ms = timeout_ms};
    kt_reply_t reply;
    int rc = kt_client_call_raw(client, service, "Status", payload, len, &opts, &reply);
    free(payload);
    *status = reply.status;
    if (rc == 0 && reply.status == KT_OK && instance) {
        Kontor__StatusReply *rep = (Kontor__StatusReply *)kt_msg_unpack(
            &kontor__status_reply__descriptor, reply.payload, reply.payload_len, NULL, 0, NULL, 0);
        assert_non_null(rep);
        snprintf(instance, size, "%s", rep->instance);
        kt_msg_free(&rep->base);
    }
    kt_reply_clear(&reply);
    return rc;
}

//  Receive one message within `ms`, or NULL.
static zmsg_t *s_recv_within(zsock_t *sock, int ms)
{
    zpoller_t *poller = zpoller_new(sock, NULL);
    zmsg_t *msg = zpoller_wait(poller, ms) ? zmsg_recv(sock) : NULL;
    zpoller_destroy(&poller);
    return msg;
}

static bool s_frame_is(zframe_t *frame, const void *data, size_t size)
{
    return frame && zframe_size(frame) == size && memcmp(zframe_data(frame), data, size) == 0;
}

//  Send "" "KTW1" <command> [text] from a raw worker socket.
static void s_worker_send(zsock_t *sock, uint8_t command, const char *text)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "");
    zmsg_addstr(msg, KT_WORKER_HEADER);
    zmsg_addmem(msg, &command, 1);
    if (text)
        zmsg_addstr(msg, text);
    assert_int_equal(zmsg_send(&msg, sock), 0);
}

//  The command byte of a message from the bus to a worker, or -1.
static int s_worker_command(zmsg_t *msg)
{
    zframe_t *empty = zmsg_first(msg);
    zframe_t *header = zmsg_next(msg);
    zframe_t *command = zmsg_next(msg);
    if (!s_frame_is(empty, "", 0) || !s_frame_is(header, KT_WORKER_HEADER, 4) || !command ||
        zframe_size(command) != 1)
        return -1;
    return zframe_data(command)[0];
}

//  Whole file as a NUL-terminated string (malloc'd), or NULL.
static char *s_slurp(const char *path, size_t *len)
{
    FILE *file = fopen(path, "re");
    if (!file)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    assert_non_null(mem);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, file)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(file);
    fclose(mem);
    if (len)
        *len = size;
    return text;
}

static int s_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int)(st.st_mode & 07777);
}

//  Run kontor-keygen as admin to completion; its exit status.
static int s_run(const char *const *argv, char **out, char **err)
{
    return kth_run(s_set, "admin", "kontor-keygen", argv, NULL, out, err);
}

static int s_setup(void **state)
{
    s_set = kth_set_new("security");
    s_bus = kth_start_bus(s_set);
    *state = s_set; //  for kth_teardown
    return 0;
}

//  ---------------------------------------------------------------- roles

//  EventsSince is for services, external logistics systems and admins
//  (kt_service.c's built-in table); staff are refused before any handler
//  runs. Status is open to every kind.
static void test_events_since_role_matrix(void **state)
{
    pid_t orders = kth_start_service(s_set, "orders", 1);
    static const struct {
        const char *principal;
        bool allowed;
    } matrix[] = {
        {"admin", true},   {"orders", true},     {"clients", true},       {"wms-1", true},
        {"head-1", false}, {"manager-1", false}, {"accountant-1", false}, {"logistician-1", false},
    };
    int64_t outbox = kth_sql_i64(s_set, "SELECT count(*) FROM orders.outbox");
    int64_t head = kth_sql_i64(s_set, "SELECT last_seq FROM orders.outbox_state");
    for (size_t i = 0; i < sizeof matrix / sizeof matrix[0]; i++) {
        kt_client_t *client = kth_client(s_set, matrix[i].principal);
        Kontor__EventsSinceRequest req = KONTOR__EVENTS_SINCE_REQUEST__INIT;
        req.after_seq = 0;
        req.limit = 10;
        ProtobufCMessage *out = NULL;
        kt_reply_t reply;
        kt_call_opts_t opts = {.timeout_ms = 5000};
        int status = kt_client_call(client, "orders", "EventsSince", &req.base,
                                    &kontor__events_since_reply__descriptor, &out, &opts, &reply);
        print_message("# EventsSince as %s: %s %s\n", matrix[i].principal, kt_status_name(status),
                      reply.reason);
        if (matrix[i].allowed) {
            assert_int_equal(status, KT_OK);
            assert_non_null(out);
        } else {
            assert_int_equal(status, KT_PERMISSION_DENIED);
            assert_string_equal(reply.reason, "role_required");
            assert_null(out);
            assert_int_equal(reply.payload_len, 0);
            assert_non_null(strstr(reply.message, matrix[i].principal));
        }
        kt_msg_free(out);
        kt_reply_clear(&reply);
        //  Status is open to all of them.
        int st;
        assert_int_equal(s_status_call(client, "orders", 5000, &st, NULL, 0), 0);
        assert_int_equal(st, KT_OK);
        kt_client_destroy(&client);
    }
    //  A refused read changes nothing.
    assert_int_equal(kth_sql_i64(s_set, "SELECT count(*) FROM orders.outbox"), outbox);
    assert_int_equal(kth_sql_i64(s_set, "SELECT last_seq FROM orders.outbox_state"), head);
    assert_int_equal(kth_signal(s_set, orders, SIGTERM), 0);
}

//  ---------------------------------------------------------------- principal stamping

//  The worker learns who calls from the bus's Principal frame, made from
//  the caller's CURVE key: the caller has no field in which to claim a name.
static void test_bus_stamps_the_callers_principal(void **state)
{
    //  An admin key may serve any service (ops tools): a raw worker for a
    //  service of the test's own.
    zsock_t *worker = kth_socket(s_set, "admin", ZMQ_DEALER, KTH_BUS);
    s_worker_send(worker, KT_CMD_READY, "sec-probe");
    zmsg_t *msg = s_recv_within(worker, S_WAIT_MS);
    assert_non_null(msg);
    assert_int_equal(s_worker_command(msg), KT_CMD_HEARTBEAT); //  registered
    zmsg_destroy(&msg);

    char manager_key[41], path[S_PATH];
    snprintf(path, sizeof path, "%s/keys/allow/manager-1.cert", kth_home(s_set));
    assert_int_equal(kt_cert_public_key(path, manager_key), 0);

    //  A raw caller, so this one thread can send, serve and read the answer.
    zsock_t *caller = kth_socket(s_set, "manager-1", ZMQ_DEALER, KTH_BUS);
    char request_id[KT_ID_MAX + 1];
    assert_int_equal(kth_send_request(caller, "sec-probe", "Whoami", 5000, request_id), 0);

    //  REQUEST caller "" Principal Request (heartbeats may come first).
    do {
        zmsg_destroy(&msg);
        msg = s_recv_within(worker, S_WAIT_MS);
        assert_non_null(msg);
    } while (s_worker_command(msg) == KT_CMD_HEARTBEAT);
    assert_int_equal(s_worker_command(msg), KT_CMD_REQUEST);
    assert_int_equal(zmsg_size(msg), 7);
    zmsg_first(msg); //  ""
    zmsg_next(msg);  //  "KTW1"
    zmsg_next(msg);  //  REQUEST
    zframe_t *client_id = zmsg_next(msg);
    zframe_t *empty = zmsg_next(msg);
    zframe_t *principal = zmsg_next(msg);
    assert_int_equal(zframe_size(empty), 0);
    kt_principal_t who;
    uint32_t budget = 0;
    assert_int_equal(
        kt_principal_decode(zframe_data(principal), zframe_size(principal), &who, &budget), 0);
    assert_string_equal(who.name, "manager-1");
    assert_int_equal(who.kind, KT_KIND_MANAGER);
    assert_int_equal(who.manager_id, 2);
    assert_string_equal(who.key, manager_key);
    assert_true(budget > 0 && budget <= 5000);

    //  Answer it, so the caller sees the round trip complete.
    kt_reply_t reply;
    memset(&reply, 0, sizeof reply);
    snprintf(reply.request_id, sizeof reply.request_id, "%s", request_id);
    kt_reply_set(&reply, KT_OK, NULL, NULL, "");
    size_t len;
    uint8_t *body = kt_reply_encode(&reply, &len);
    zmsg_t *out = zmsg_new();
    zmsg_addstr(out, "");
    zmsg_addstr(out, KT_WORKER_HEADER);
    uint8_t cmd = KT_CMD_REPLY;
    zmsg_addmem(out, &cmd, 1);
    zframe_t *id = zframe_dup(client_id);
    zmsg_append(out, &id);
    zmsg_addstr(out, "");
    zmsg_addmem(out, body, len);
    free(body);
    assert_int_equal(zmsg_send(&out, worker), 0);
    zmsg_destroy(&msg);

    msg = s_recv_within(caller, S_WAIT_MS);
    assert_non_null(msg);
    assert_int_equal(zmsg_size(msg), 4);
    zframe_t *last = zmsg_last(msg);
    kt_reply_t got;
    char why[160];
    assert_int_equal(kt_reply_decode(zframe_data(last), zframe_size(last), &got, why, sizeof why),
                     0);
    assert_string_equal(got.request_id, request_id);
    assert_int_equal(got.status, KT_OK);
    kt_reply_clear(&got);
    zmsg_destroy(&msg);

    s_worker_send(worker, KT_CMD_DISCONNECT, NULL);
    zsock_destroy(&caller);
    zsock_destroy(&worker);
}

//  ---------------------------------------------------------------- forged worker

//  Only the orders key may serve orders: another service's key, an external
//  system's or a manager's READY is answered DISCONNECT and gets no work.
static void test_a_forged_worker_registration_is_refused(void **state)
{
    static const char *const impostors[] = {"clients", "wms-1", "manager-1"};
    enum { N = sizeof impostors / sizeof impostors[0] };
    zsock_t *socks[N];
    int64_t before = s_dropped("principal");
    for (size_t i = 0; i < N; i++) {
        socks[i] = kth_socket(s_set, impostors[i], ZMQ_DEALER, KTH_BUS);
        s_worker_send(socks[i], KT_CMD_READY, "orders");
        zmsg_t *msg = s_recv_within(socks[i], S_WAIT_MS);
        assert_non_null(msg);
        assert_int_equal(s_worker_command(msg), KT_CMD_DISCONNECT);
        zmsg_destroy(&msg);
    }
    assert_true(s_dropped("principal") >= before + N);

    //  With no real orders worker, a call waits out its budget and the bus
    //  answers UNAVAILABLE: it never reached an impostor. (A raw caller, to
    //  wait for the bus's verdict, which comes at its next housekeeping.)
    zsock_t *caller = kth_socket(s_set, "admin", ZMQ_DEALER, KTH_BUS);
    char request_id[KT_ID_MAX + 1];
    assert_int_equal(kth_send_request(caller, "orders", "Status", 500, request_id), 0);
    zmsg_t *msg = s_recv_within(caller, S_WAIT_MS);
    assert_non_null(msg);
    assert_int_equal(zmsg_size(msg), 4);
    kt_reply_t verdict;
    char why[160];
    zframe_t *last = zmsg_last(msg);
    assert_int_equal(
        kt_reply_decode(zframe_data(last), zframe_size(last), &verdict, why, sizeof why), 0);
    assert_string_equal(verdict.request_id, request_id);
    assert_int_equal(verdict.status, KT_UNAVAILABLE);
    kt_reply_clear(&verdict);
    zmsg_destroy(&msg);
    zsock_destroy(&caller);

    kt_client_t *admin = kth_client(s_set, "admin");
    int status;

    //  With the real one running, it answers, and it is that process.
    pid_t orders = kth_start_service(s_set, "orders", 1);
    char instance[128], want[32];
    snprintf(want, sizeof want, ":%ld", (long)orders);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(s_status_call(admin, "orders", 5000, &status, instance, sizeof instance),
                         0);
        assert_int_equal(status, KT_OK);
        size_t n = strlen(instance), w = strlen(want);
        assert_true(n > w && strcmp(instance + n - w, want) == 0);
    }
    //  The impostors got no request, only (at most) more DISCONNECTs.
    for (size_t i = 0; i < N; i++) {
        zmsg_t *stray;
        while ((stray = s_recv_within(socks[i], 100))) {
            assert_int_not_equal(s_worker_command(stray), KT_CMD_REQUEST);
            zmsg_destroy(&stray);
        }
        zsock_destroy(&socks[i]);
    }
    kt_client_destroy(&admin);
    assert_int_equal(kth_signal(s_set, orders, SIGTERM), 0);
}

//  ---------------------------------------------------------------- publishing

//  A publisher that learns the subscriptions the bus forwards: an XPUB
//  connected to the bus's XSUB. Returns once it has seen `topic`, so what
//  it sends on that topic afterwards is really sent, not filtered locally.
static zsock_t *s_publisher(const char *principal, const char *const *topics, size_t ntopics)
{
    zsock_t *pub = kth_socket(s_set, principal, ZMQ_XPUB, KTH_EVENTS_IN);
    bool seen[8] = {false};
    assert_true(ntopics <= 8);
    size_t left = ntopics;
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (left > 0 && zclock_mono() < deadline) {
        zframe_t *frame = NULL;
        zpoller_t *poller = zpoller_new(pub, NULL);
        if (zpoller_wait(poller, 200))
            frame = zframe_recv(pub);
        zpoller_destroy(&poller);
        if (!frame)
            continue;
        //  The bus subscribes to everything ("" covers every topic) and
        //  filters per subscriber itself.
        for (size_t i = 0; i < ntopics; i++) {
            size_t n = strlen(topics[i]);
            bool all = zframe_size(frame) == 1 && zframe_data(frame)[0] == 1;
            if (!seen[i] && zframe_data(frame)[0] == 1
                && (all || (zframe_size(frame) == n + 1
                            && memcmp(zframe_data(frame) + 1, topics[i], n) == 0))) {
                seen[i] = true;
                left--;
            }
        }
        zframe_destroy(&frame);
    }
    assert_int_equal(left, 0);
    return pub;
}

static void s_publish(zsock_t *pub, const char *topic, const char *body)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, topic);
    zmsg_addstr(msg, body);
    assert_int_equal(zmsg_send(&msg, pub), 0);
}

typedef struct {
    int real;    //  orders.SecurityProbe from the orders relay
    int control; //  clients.SecurityProbe from the clients key
    int forged;  //  orders.Forged from anyone
} s_seen_t;

static void s_take(zsock_t *sub, s_seen_t *seen, int ms)
{
    zmsg_t *msg = s_recv_within(sub, ms);
    if (!msg)
        return;
    char *topic = zmsg_popstr(msg);
    assert_non_null(topic);
    if (strcmp(topic, "orders.SecurityProbe") == 0)
        seen->real++;
    else if (strcmp(topic, "clients.SecurityProbe") == 0)
        seen->control++;
    else if (strcmp(topic, "orders.Forged") == 0)
        seen->forged++;
    free(topic);
    zmsg_destroy(&msg);
}

static void test_only_services_publish_and_only_their_own_topics(void **state)
{
    pid_t orders = kth_start_service(s_set, "orders", 1);
    zsock_t *sub = kth_socket(s_set, "admin", ZMQ_SUB, KTH_EVENTS_OUT);
    zsock_set_subscribe(sub, "orders.");
    zsock_set_subscribe(sub, "clients.");
    //  A manager may not read the event stream (nor call EventsSince): its
    //  subscription is refused at the bus.
    int64_t refused_before = s_dropped("principal");
    zsock_t *peek = kth_socket(s_set, "manager-1", ZMQ_SUB, KTH_EVENTS_OUT);
    zsock_set_subscribe(peek, "orders.");
    s_wait_dropped("principal", refused_before + 1);

    //  The subscription is in place once a real orders event comes through.
    s_seen_t seen = {0};
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (seen.real == 0 && zclock_mono() < deadline) {
        kth_sql_exec(s_set, "INSERT INTO orders.outbox (type, payload)"
                            " VALUES ('SecurityProbe', '\\x00')");
        for (int i = 0; i < 5 && seen.real == 0; i++)
            s_take(sub, &seen, 100);
    }
    assert_true(seen.real > 0);
    assert_int_equal(seen.forged, 0);
    zmsg_t *leaked = s_recv_within(peek, 300);
    assert_null(leaked);
    zsock_destroy(&peek);

    const char *both[] = {"orders.", "clients."};
    zsock_t *by_clients = s_publisher("clients", both, 2);
    zsock_t *by_wms = s_publisher("wms-1", both, 1);
    int64_t before = s_dropped("publish");
    for (int i = 0; i < 5; i++) {
        s_publish(by_wms, "orders.Forged", "by wms-1, not a service");
        s_publish(by_clients, "orders.Forged", "by clients, not its topic");
    }
    //  Its own topic passes: once it arrives, the forgeries sent before it on
    //  the same connection would have arrived too.
    s_publish(by_clients, "clients.SecurityProbe", "control");
    s_wait_dropped("publish", before + 10);

    seen.real = 0;
    kth_sql_exec(s_set, "INSERT INTO orders.outbox (type, payload)"
                        " VALUES ('SecurityProbe', '\\x01')");
    deadline = zclock_mono() + S_WAIT_MS;
    while ((seen.real == 0 || seen.control == 0) && zclock_mono() < deadline)
        s_take(sub, &seen, 200);
    print_message("# subscriber saw real=%d control=%d forged=%d\n", seen.real, seen.control,
                  seen.forged);
    assert_true(seen.real > 0);
    assert_int_equal(seen.control, 1);
    assert_int_equal(seen.forged, 0);

    zsock_destroy(&by_wms);
    zsock_destroy(&by_clients);
    zsock_destroy(&sub);
    assert_int_equal(kth_signal(s_set, orders, SIGTERM), 0);
}

//  ---------------------------------------------------------------- revocation

typedef struct {
    kt_client_t *client;
} s_revoked_t;

static bool s_goes_unanswered(void *arg)
{
    s_revoked_t *r = arg;
    int status;
    return s_status_call(r->client, "clients", 300, &status, NULL, 0) != 0;
}

static void test_a_revoked_key_stops_working_while_connected(void **state)
{
    pid_t clients = kth_start_service(s_set, "clients", 1);
    kt_client_t *victim = kth_client(s_set, "manager-2");
    kt_client_t *other = kth_client(s_set, "manager-1");
    int status;
    assert_int_equal(s_status_call(victim, "clients", 5000, &status, NULL, 0), 0);
    assert_int_equal(status, KT_OK);
    assert_int_equal(s_status_call(other, "clients", 5000, &status, NULL, 0), 0);
    assert_int_equal(status, KT_OK);
    int64_t before = s_dropped("principal");

    char cert[S_PATH];
    snprintf(cert, sizeof cert, "%s/keys/allow/manager-2.cert", kth_home(s_set));
    assert_int_equal(unlink(cert), 0);
    int64_t t0 = zclock_mono();
    s_revoked_t r = {victim};
    assert_true(kth_wait_for(s_goes_unanswered, &r, S_REVOKE_MS));
    print_message("# manager-2 unanswered %lld ms after its certificate went\n",
                  (long long)(zclock_mono() - t0));
    //  ... and stays so, on the same connection,
    assert_int_equal(s_status_call(victim, "clients", 1000, &status, NULL, 0), -1);
    assert_true(s_dropped("principal") > before);
    //  ... and on a new one (the handshake is refused).
    kt_client_t *again = kth_client(s_set, "manager-2");
    assert_int_equal(s_status_call(again, "clients", 1000, &status, NULL, 0), -1);
    kt_client_destroy(&again);

    //  Everyone else carries on, connected or new.
    assert_int_equal(s_status_call(other, "clients", 5000, &status, NULL, 0), 0);
    assert_int_equal(status, KT_OK);
    kt_client_t *fresh = kth_client(s_set, "manager-1");
    assert_int_equal(s_status_call(fresh, "clients", 5000, &status, NULL, 0), 0);
    assert_int_equal(status, KT_OK);
    kt_client_destroy(&fresh);
    kt_client_destroy(&other);
    kt_client_destroy(&victim);
    assert_int_equal(kth_signal(s_set, clients, SIGTERM), 0);
}

//  ---------------------------------------------------------------- database

static const char *const s_services[] = {"clients", "orders", "logistics", "receivables"};
#define NSERVICES (sizeof s_services / sizeof s_services[0])

static void test_every_service_role_is_confined_to_its_schema(void **state)
{
    char sql[512];
    for (size_t y = 0; y < NSERVICES; y++) {
        snprintf(sql, sizeof sql,
                 "CREATE TABLE %s.sec_probe (x int); INSERT INTO %s.sec_probe VALUES (1);"
                 " ALTER TABLE %s.sec_probe OWNER TO kontor_%s",
                 s_services[y], s_services[y], s_services[y], s_services[y]);
        kth_sql_exec(s_set, sql);
    }
    int pairs = 0;
    for (size_t x = 0; x < NSERVICES; x++) {
        char *dsn = kth_service_dsn(s_set, s_services[x]);
        kt_pg_t *pg = kt_pg_new(dsn);
        free(dsn);
        assert_non_null(pg);
        //  Its own schema works (the control).
        snprintf(sql, sizeof sql, "SELECT x FROM %s.sec_probe", s_services[x]);
        assert_int_equal(kt_pg_command(pg, sql), 0);
        for (size_t y = 0; y < NSERVICES; y++) {
            if (y == x)
                continue;
            const char *verbs[] = {"SELECT x FROM %s.sec_probe",
                                   "INSERT INTO %s.sec_probe VALUES (2)",
                                   "CREATE TABLE %s.sneaky (x int)"};
            for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
                //  -Wformat=2 forbids a variable format: fill in by hand.
                const char *at = strstr(verbs[v], "%s");
                snprintf(sql, sizeof sql, "%.*s%s%s", (int)(at - verbs[v]), verbs[v], s_services[y],
                         at + 2);
                if (kt_pg_command(pg, sql) == 0)
                    fail_msg("kontor_%s could run: %s", s_services[x], sql);
                assert_string_equal(kt_pg_sqlstate(pg), "42501");
            }
            pairs++;
        }
        assert_int_equal(kt_pg_command(pg, "CREATE TABLE public.sneaky (x int)"), -1);
        assert_string_equal(kt_pg_sqlstate(pg), "42501");
        kt_pg_destroy(&pg);
    }
    assert_int_equal(pairs, 12);
    //  Nothing was made anywhere it should not be.
    assert_int_equal(
        kth_sql_i64(s_set, "SELECT count(*) FROM pg_tables WHERE tablename = 'sneaky'"), 0);
}

//  ---------------------------------------------------------------- Redis

static void test_redis_needs_its_password_and_listens_on_loopback(void **state)
{
    const char *port_text = getenv("KT_TEST_REDIS_PORT");
    const char *password = getenv("KT_TEST_REDIS_PASSWORD");
    assert_non_null(port_text);
    assert_non_null(password);
    int port = atoi(port_text);

    //  Without AUTH: refused.
    struct timeval tv = {2, 0};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", port, tv);
    assert_non_null(ctx);
    assert_int_equal(ctx->err, 0);
    redisReply *reply = redisCommand(ctx, "PING");
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_ERROR);
    assert_int_equal(strncmp(reply->str, "NOAUTH", 6), 0);
    freeReplyObject(reply);
    //  A wrong password: refused.
    const char *wrong[] = {"AUTH", "not-the-password"};
    reply = redisCommandArgv(ctx, 2, wrong, NULL);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_ERROR);
    freeReplyObject(reply);
    //  The right one: served.
    const char *auth[] = {"AUTH", password};
    reply = redisCommandArgv(ctx, 2, auth, NULL);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);
    reply = redisCommand(ctx, "PING");
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STATUS);
    assert_string_equal(reply->str, "PONG");
    freeReplyObject(reply);
    //  Bound to loopback only.
    reply = redisCommand(ctx, "CONFIG GET bind");
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
    assert_int_equal(reply->elements, 2);
    assert_string_equal(reply->element[1]->str, "127.0.0.1");
    freeReplyObject(reply);
    redisFree(ctx);

    //  The same through Kontor's own handle.
    kt_redis_t *none = kt_redis_new("127.0.0.1", port, "", 1000);
    assert_non_null(none);
    assert_int_equal(kt_redis_ping(none), -1);
    assert_non_null(strstr(kt_redis_error(none), "NOAUTH"));
    kt_redis_destroy(&none);
    kt_redis_t *with = kt_redis_new("127.0.0.1", port, password, 1000);
    assert_non_null(with);
    assert_int_equal(kt_redis_ping(with), 0);
    kt_redis_destroy(&with);
}

//  ---------------------------------------------------------------- secrets

#define S_MAX_SECRETS 64

typedef struct {
    char *items[S_MAX_SECRETS];   //  owned
    char what[S_MAX_SECRETS][96]; //  where each came from, for a failure message
    size_t count;
} s_secrets_t;

static void s_secret_add(s_secrets_t *s, const char *value, const char *what)
{
    assert_true(s->count < S_MAX_SECRETS);
    assert_true(strlen(value) >= 8);
    s->items[s->count] = strdup(value);
    snprintf(s->what[s->count], sizeof s->what[0], "%s", what);
    s->count++;
}

//  A secret certificate's key, as Z85 and as hex: the forms a log could hold.
static void s_secret_add_cert(s_secrets_t *s, const char *path, const char *name)
{
    zcert_t *cert = zcert_load(path);
    assert_non_null(cert);
    const char *z85 = zcert_secret_txt(cert);
    assert_int_equal(strlen(z85), 40);
    assert_string_not_equal(z85, "0000000000000000000000000000000000000000");
    char what[96];
    snprintf(what, sizeof what, "secret key of %s (Z85)", name);
    s_secret_add(s, z85, what);
    char hex[65];
    const byte *raw = zcert_secret_key(cert);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    snprintf(what, sizeof what, "secret key of %s (hex)", name);
    s_secret_add(s, hex, what);
    zcert_destroy(&cert);
}

static void s_secrets_free(s_secrets_t *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->items[i]);
    s->count = 0;
}

//  `text` holds none of the secrets, in any case.
static void s_assert_clean(const s_secrets_t *s, const char *text, size_t len, const char *where)
{
    for (size_t i = 0; i < s->count; i++) {
        size_t n = strlen(s->items[i]);
        for (size_t at = 0; at + n <= len; at++)
            if (strncasecmp(text + at, s->items[i], n) == 0)
                fail_msg("%s holds the %s", where, s->what[i]);
    }
}

static void test_keygen_keeps_the_secret_to_its_file(void **state)
{
    char base[S_PATH], pub[S_PATH + 16], sec[S_PATH + 16], path[S_PATH + 64];
    snprintf(base, sizeof base, "%s/keygen-test", kth_home(s_set));
    assert_int_equal(mkdir(base, 0755), 0);
    snprintf(pub, sizeof pub, "%s/allow", base);
    snprintf(sec, sizeof sec, "%s/secret", base);
    const char *argv[] = {"--public", pub, "--secret", sec, "tester-9", "manager", "9", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(s_run(argv, &out, &err), 0);

    snprintf(path, sizeof path, "%s/tester-9.secret", sec);
    assert_int_equal(s_mode(path), 0600);
    assert_int_equal(s_mode(sec), 0700);
    s_secrets_t secrets = {0};
    s_secret_add_cert(&secrets, path, "tester-9");
    s_assert_clean(&secrets, out, strlen(out), "kontor-keygen's stdout");
    s_assert_clean(&secrets, err, strlen(err), "kontor-keygen's stderr");

    //  It printed the public key, and the public file holds no secret.
    char key[41];
    snprintf(path, sizeof path, "%s/tester-9.cert", pub);
    assert_int_equal(kt_cert_public_key(path, key), 0);
    assert_non_null(strstr(out, key));
    assert_int_equal(s_mode(path), 0644);
    size_t len;
    char *text = s_slurp(path, &len);
    assert_non_null(text);
    assert_null(strstr(text, "secret-key"));
    s_assert_clean(&secrets, text, len, "the public certificate");
    free(text);

    //  It will not overwrite an existing key.
    free(out);
    free(err);
    assert_int_not_equal(s_run(argv, &out, &err), 0);
    free(out);
    free(err);
    s_secrets_free(&secrets);
}

//  Last: every log the set's processes wrote during the tests above.
static void test_no_log_holds_a_secret(void **state)
{
    s_secrets_t secrets = {0};
    char dir[S_PATH], path[S_PATH * 2];
    //  Every principal's secret key, the set's and keygen's test key.
    const char *folders[] = {"keys/secret", "keygen-test/secret"};
    for (size_t f = 0; f < 2; f++) {
        snprintf(dir, sizeof dir, "%s/%s", kth_home(s_set), folders[f]);
        assert_int_equal(s_mode(dir), 0700);
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n < 8 || strcmp(e->d_name + n - 7, ".secret") != 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            assert_int_equal(s_mode(path), 0600);
            s_secret_add_cert(&secrets, path, e->d_name);
        }
        closedir(d);
    }
    assert_true(secrets.count >= 2 * 13);
    //  The Redis password and the service roles' database passwords.
    s_secret_add(&secrets, getenv("KT_TEST_REDIS_PASSWORD"), "Redis password");
    char *passfile = s_slurp(getenv("KT_TEST_PGPASSFILE"), NULL);
    assert_non_null(passfile);
    for (char *line = strtok(passfile, "\n"); line; line = strtok(NULL, "\n")) {
        char *pw = strrchr(line, ':');
        assert_non_null(pw);
        s_secret_add(&secrets, pw + 1, "a database password");
    }
    free(passfile);

    snprintf(dir, sizeof dir, "%s/log", kth_home(s_set));
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    bool saw_denial = false;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *text = s_slurp(path, &len);
        assert_non_null(text);
        s_assert_clean(&secrets, text, len, path);
        //  What is logged instead: who was refused what.
        if (strstr(text, "EventsSince by manager-1: PERMISSION_DENIED"))
            saw_denial = true;
        free(text);
        files++;
    }
    closedir(d);
    print_message("# %d log files checked against %zu secrets\n", files, secrets.count);
    assert_true(files >= 5); //  the bus, orders three times, clients
    assert_true(saw_denial);
    s_secrets_free(&secrets);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_since_role_matrix),
        cmocka_unit_test(test_bus_stamps_the_callers_principal),
        cmocka_unit_test(test_a_forged_worker_registration_is_refused),
        cmocka_unit_test(test_only_services_publish_and_only_their_own_topics),
        cmocka_unit_test(test_a_revoked_key_stops_working_while_connected),
        cmocka_unit_test(test_every_service_role_is_confined_to_its_schema),
        cmocka_unit_test(test_redis_needs_its_password_and_listens_on_loopback),
        cmocka_unit_test(test_keygen_keeps_the_secret_to_its_file),
        cmocka_unit_test(test_no_log_holds_a_secret),
    };
    return cmocka_run_group_tests_name("security", tests, s_setup, kth_teardown);
}
