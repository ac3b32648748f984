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

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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

//  GET http://127.0.0.1:port/path; returns the HTTP status and the body
//  (malloc'd, caller frees) or -1 if it could not connect.
int kth_http_get(int port, const char *path, char **body);

//  Wait until `cond(arg)` is true, polling every 20 ms, at most `timeout_ms`.
//  Returns true if it became true. For conditions that have no event to wait on.
bool kth_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);

//  A TCP port on 127.0.0.1 that nothing holds now (a plain bind succeeds)
//  and that this process has not handed out before.
int kth_free_port(void);

#endif
