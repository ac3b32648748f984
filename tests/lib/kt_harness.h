/*  kt_harness - a private Kontor set for one integration test.
 *
 *  tests/run.sh starts one PostgreSQL cluster and one Redis for the whole run
 *  (throwaway folder, free loopback ports) and exports where they are
 *  (KT_TEST_*). A test then asks for a set: its own database (the per-service
 *  roles and schemas made the same way `make up` makes them), its own key
 *  folder with a certificate for the bus, every service, and the test
 *  principals, and its own free ports for the bus and each process's HTTP
 *  listener. It starts the processes it needs, waits for each to be ready on
 *  /readyz (no sleeping), and kills whatever it started when destroyed.
 */
#ifndef KT_HARNESS_H
#define KT_HARNESS_H

#include <czmq.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kt_client.h"
#include "kt_config.h"
#include "kt_pg.h"

typedef struct kth_set kth_set_t;

//  New set named after the test (letters, digits, '_'): creates the database,
//  roles' schemas, keys and ports. Nothing is started yet. Aborts the test
//  program with a message if the shared cluster is not there.
//  Principals created: the bus, each service (kind service), "admin" (admin),
//  "head-1" (head, manager id 1), "manager-1" and "manager-2" (manager, ids 2
//  and 3), "accountant-1", "logistician-1", "wms-1" (logistics-system).
kth_set_t *kth_set_new(const char *name);

//  Stop every process the set started (SIGTERM, then SIGKILL after 5 s),
//  drop its database, remove its folder (kept with KT_KEEP=1, or when a
//  process failed, for its logs). Accepts NULL; nulls the pointer. Last of
//  all, fails the running test if a process the test did not stop itself
//  exited uncleanly (crashed, a sanitizer report, non-zero status, or needed
//  SIGKILL); its log tail is printed.
void kth_set_destroy(kth_set_t **self_p);

//  A cmocka group teardown for a group whose setup put its set in *state:
//  kth_set_destroy on it. Returns 0.
int kth_teardown(void **state);

//  Stop every process as kth_set_destroy does, keeping the database and
//  folder. Returns how many exited uncleanly (each reported on stderr with
//  its log tail), so a test can assert_int_equal(kth_set_stop(set), 0).
int kth_set_stop(kth_set_t *self);

//  Add NAME=value to the environment of processes started after this call
//  (e.g. KONTOR_HEARTBEAT_MS for a liveness test); replaces an earlier value.
void kth_set_env(kth_set_t *self, const char *name, const char *value);

//  Start the bus; waits until it is ready. Returns its pid.
pid_t kth_start_bus(kth_set_t *self);

//  Start one instance of a service ("clients", "orders", "logistics",
//  "receivables") with `workers` worker threads; each instance gets its own
//  HTTP port. Waits until /readyz answers 200 (at most 20 s). Returns the pid.
pid_t kth_start_service(kth_set_t *self, const char *service, int workers);

//  Start any program from the build's bin folder (e.g. "kontor"), or a test
//  fixture (tests/fixtures/*.c, built into <build>/tests/fixtures), with the
//  set's environment, as `principal`; stdout/stderr go to the set's log
//  folder. `argv` is the arguments after the program's name, NULL-terminated
//  (NULL for none); the same holds for kth_run. The process gets its own
//  KONTOR_HTTP_PORT (kth_http_port). Returns the pid without waiting.
pid_t kth_spawn(kth_set_t *self, const char *principal, const char *program,
                const char *const *argv);

//  Run a program to completion as `principal` with the set's environment,
//  capturing stdout (malloc'd, caller frees) and returning its exit status
//  (or -1 if it was killed by a signal).
int kth_run(kth_set_t *self, const char *principal, const char *program,
            const char *const *argv, const char *stdin_text, char **out, char **err);

//  Send a signal; for SIGKILL/SIGTERM also reap the process. Returns its
//  wait status, or 0 for other signals.
int kth_signal(kth_set_t *self, pid_t pid, int sig);

//  Point this test process's own KONTOR_* environment at the set, acting as
//  `principal`, so kt_client_new() and friends reach the set's bus.
void kth_use(kth_set_t *self, const char *principal);

//  Load the configuration `principal` has in the set into *out: kth_use,
//  then kt_config_load as program "test". Fails the running test if it
//  cannot be loaded. This process's KONTOR_* environment is left pointing
//  at `principal` (kth_use).
void kth_config(kth_set_t *self, const char *principal, kt_config_t *out);

//  A client of the set's bus acting as `principal` (kth_config, then
//  kt_client_new); the caller destroys it. Fails the running test if it
//  cannot be made. For the test's own thread: another thread makes its
//  client from a kt_config_t loaded here.
kt_client_t *kth_client(kth_set_t *self, const char *principal);

//  The bus's endpoints, for kth_socket.
typedef enum {
    KTH_BUS,        //  requests, and workers' traffic
    KTH_EVENTS_IN,  //  where producers publish
    KTH_EVENTS_OUT, //  where consumers subscribe
} kth_endpoint_t;

//  A raw ZeroMQ socket of `type` (ZMQ_DEALER, ZMQ_SUB, ...) connected over
//  CURVE to one of the bus's endpoints with `principal`'s key, or with a
//  fresh key pair the bus has never seen when `principal` is NULL: for tests
//  that speak the wire themselves. ZAP domain set, linger 0, a send gives up
//  after 1 s; a SUB socket's receive queue is unbounded (set before it
//  connects, where that takes effect), so the test sees every event. The
//  caller destroys it. Fails the running test if it cannot be made. Leaves
//  the environment as kth_config does (as "admin" for a NULL principal).
zsock_t *kth_socket(kth_set_t *self, const char *principal, int type, kth_endpoint_t where);

//  Send `service`.`method` with no payload and a budget of `timeout_ms` on a
//  raw client socket (kth_socket to KTH_BUS), framed as kt_client frames
//  it: "" KT_CLIENT_HEADER <service> <Request>. The request's new id goes to
//  request_id (KT_ID_MAX + 1 bytes), to match the reply with. Returns 0, or
//  -1 if the socket would not take it (the message is dropped).
int kth_send_request(zsock_t *sock, const char *service, const char *method, uint32_t timeout_ms,
                     char *request_id);

//  HTTP port of a started process (by pid); the bus's request endpoint.
int kth_http_port(kth_set_t *self, pid_t pid);
const char *kth_bus_endpoint(kth_set_t *self);
const char *kth_home(kth_set_t *self);
//  The set's database name (t_<name>_<pid>).
const char *kth_db_name(kth_set_t *self);

//  libpq connection string for logging in as the service's role
//  (kontor_<service>) over TCP with the run's passfile: what the service
//  itself gets as KONTOR_PG_DSN. Malloc'd; caller frees.
char *kth_service_dsn(kth_set_t *self, const char *service);

//  A superuser connection to the set's database, for checks and setup.
//  Owned by the set.
kt_pg_t *kth_admin(kth_set_t *self);

//  The superuser connection string for the set's database (unix socket),
//  for a connection of a test's own (another thread). Owned by the set.
const char *kth_admin_dsn(kth_set_t *self);

//  Run SQL as superuser and return the first column of the first row as a
//  malloc'd string (caller frees), or NULL if no row or an error (logged).
char *kth_sql_value(kth_set_t *self, const char *sql);
//  ... as a number (INT64_MIN on error or NULL).
int64_t kth_sql_i64(kth_set_t *self, const char *sql);

//  kth_sql_value and kth_sql_i64 with the SQL made printf-style, from
//  numbers and names the test holds (at most 4 KiB; longer fails the test).
char *kth_sql_valuef(kth_set_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t kth_sql_i64f(kth_set_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

//  Run SQL (one or more statements, no result wanted) as superuser. Fails
//  the running test, showing the SQL and the error, if it fails.
void kth_sql_exec(kth_set_t *self, const char *sql);

//  Wait until the SQL's number (kth_sql_i64) equals `want`, polling as
//  kth_wait_for does, at most `timeout_ms`. Returns true if it did; on
//  timeout prints the SQL, `want` and the last value and returns false, for
//  the test to assert on (so the failure names the test's own line).
bool kth_wait_sql(kth_set_t *self, const char *sql, int64_t want, int timeout_ms);
//  ... until it is at least `want`.
bool kth_wait_sql_min(kth_set_t *self, const char *sql, int64_t want, int timeout_ms);
//  kth_wait_sql with the SQL made printf-style, as kth_sql_i64f.
bool kth_wait_sqlf(kth_set_t *self, int64_t want, int timeout_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

//  Write an event into `producer`'s outbox ("orders", "clients", ...) as
//  superuser, the way the producer's handler would: type `type`, `msg`
//  packed as the payload. The producer's relay publishes it if a process
//  of it runs. Fails the running test if the insert fails.
void kth_outbox(kth_set_t *self, const char *producer, const char *type,
                const ProtobufCMessage *msg);
//  Write `n` events of `type` into `producer`'s outbox as superuser,
//  `per_tx` to a transaction, for tests of the event machinery itself: the
//  payload of each is its number within its transaction (int8send).
void kth_outbox_fill(kth_set_t *self, const char *producer, const char *type, int n, int per_tx);

//  GET http://127.0.0.1:port/path; returns the HTTP status and the body
//  (malloc'd, caller frees) or -1 if it could not connect.
int kth_http_get(int port, const char *path, char **body);

//  The sum of the series on http://127.0.0.1:port/metrics whose line starts
//  with `prefix`, each series's value being the number after its line's
//  last space: "bus_dropped_total{" sums every reason,
//  "bus_dropped_total{reason=\"principal\"} " is one series. -1 if /metrics
//  did not answer 200 or no line starts with `prefix`.
int64_t kth_metric(int port, const char *prefix);
//  Wait until kth_metric(port, prefix) is at least `want`, polling as
//  kth_wait_for does, at most `timeout_ms`. Returns true if it got there; on
//  timeout prints the series, `want` and the last value and returns false.
bool kth_wait_metric(int port, const char *prefix, int64_t want, int timeout_ms);

//  Wait until `cond(arg)` is true, polling every 20 ms, at most `timeout_ms`.
//  Returns true if it became true. For conditions that have no event to wait on.
bool kth_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);

//  A TCP port on 127.0.0.1 that nothing holds now (a plain bind succeeds)
//  and that this process has not handed out before.
int kth_free_port(void);

#endif
