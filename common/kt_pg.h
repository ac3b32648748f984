/*  kt_pg - PostgreSQL for one thread: a connection, its prepared statements,
 *  transactions with bounded retries, SQLSTATE mapped to a status in one place,
 *  and schema migrations.
 *
 *  A kt_pg_t belongs to one thread (each worker thread has its own). Every
 *  statement is parameterised, named, and declared in the service's
 *  <svc>_store.c as a kt_stmt_t; it is prepared the first time it is used on
 *  a connection. Errors from the environment (connection lost, timeout) are
 *  returned as -1/NULL with the reason kept on the object: kt_pg_status()
 *  says what to tell the caller, kt_pg_error() says what to log.
 */
#ifndef KT_PG_H
#define KT_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  One named, parameterised statement.
typedef struct {
    const char *name;   //  unique per service, e.g. "orders_insert_order"
    const char *sql;    //  with $1..$n placeholders; never built from data
    int nparams;        //  number of parameters
} kt_stmt_t;

typedef struct kt_pg kt_pg_t;

//  Connect with the libpq connection string. Returns NULL if the connection
//  cannot be made; the reason is logged (without the password).
kt_pg_t *kt_pg_new(const char *dsn);

//  Close and free; accepts NULL; nulls the pointer.
void kt_pg_destroy(kt_pg_t **self_p);

//  The raw connection, for what this API does not cover.
PGconn *kt_pg_conn(kt_pg_t *self);

//  If the connection is bad, try once to reset it. Returns 0 when usable.
int kt_pg_ensure(kt_pg_t *self);

//  Run a prepared statement with text parameters (NULL entries are SQL NULL).
//  Returns the result on PGRES_TUPLES_OK or PGRES_COMMAND_OK (caller clears it),
//  or NULL with the SQLSTATE and message kept on the object.
PGresult *kt_pg_exec(kt_pg_t *self, const kt_stmt_t *stmt, const char *const *params);

//  Same with explicit lengths and formats for binary parameters (bytea).
PGresult *kt_pg_exec_bin(kt_pg_t *self, const kt_stmt_t *stmt, const char *const *params,
                         const int *lengths, const int *formats);

//  Run one SQL text with no parameters (BEGIN, COMMIT, SET ...). Returns 0 or -1.
int kt_pg_command(kt_pg_t *self, const char *sql);

//  A transaction body: does its statements on `pg` and returns 0 to commit,
//  -1 to roll back (after kt_pg_exec failed, or after deciding to refuse),
//  or 1 to refuse. It may start with "SET TRANSACTION ISOLATION LEVEL ..."
//  (kt_pg_command) and must not end the transaction itself. A body that
//  recovers from a failed statement (savepoint) and then refuses returns 1.
typedef int(kt_pg_tx_fn)(kt_pg_t *pg, void *arg);

//  Run `fn` inside BEGIN/COMMIT. On serialization failure or deadlock (either
//  from fn's statements or from COMMIT) roll back and run it again, up to
//  `max_attempts` times in all. Returns 0 when committed, 1 when fn asked to
//  roll back without a database error (a refusal), -1 on a database error
//  (kt_pg_status() says which).
int kt_pg_tx(kt_pg_t *self, int max_attempts, kt_pg_tx_fn *fn, void *arg);

//  The SQLSTATE of the last failure ("40001"), or "" if none.
const char *kt_pg_sqlstate(kt_pg_t *self);
//  The last failure's message for the log (never for a caller).
const char *kt_pg_error(kt_pg_t *self);
//  The status a caller should get for the last failure (kt_status_t).
int kt_pg_status(kt_pg_t *self);

//  The one mapping from SQLSTATE to status: 23505 -> ALREADY_EXISTS; other
//  class 23 (check, foreign key, not null) -> FAILED_PRECONDITION; 40001,
//  40P01 -> ABORTED; class 08, 57P01-57P03 and a NULL state -> UNAVAILABLE;
//  57014 (statement timeout) -> DEADLINE_EXCEEDED; 53xxx -> RESOURCE_EXHAUSTED;
//  22xxx -> INVALID_ARGUMENT; anything else INTERNAL.
int kt_pg_status_for(const char *sqlstate);

//  True for SQLSTATEs that a transaction retry may cure (40001, 40P01).
bool kt_pg_retryable(const char *sqlstate);

//  Helpers for reading results: value of row r, column c as int64 / text.
//  Row and column must exist (asserted). kt_pg_i64 gives 0 for SQL NULL and
//  logs an error and gives 0 for text that is not a 64-bit integer; use it
//  on integer columns. kt_pg_text gives "" for SQL NULL.
int64_t kt_pg_i64(const PGresult *res, int r, int c);
//  Same as kt_pg_i64 where the value may not be an integer (numeric sums):
//  0 with *value set, or -1 (SQL NULL, not an integer, out of range) with
//  *value 0.
int kt_pg_i64_checked(const PGresult *res, int r, int c, int64_t *value);
const char *kt_pg_text(const PGresult *res, int r, int c);
bool kt_pg_isnull(const PGresult *res, int r, int c);


//  One migration compiled into the service binary (build/gen/<svc>_migrations.c
//  is generated from services/<svc>/migrations/NNN_name.sql by the build).
typedef struct {
    int version;        //  NNN
    const char *name;   //  "001_init.sql"
    const char *sql;    //  the file's text
} kt_migration_t;

//  Apply a list of migrations (ending in an entry whose sql is NULL, in
//  version order) to `schema` for `component` ("kontor" for the framework's
//  own tables, the service's name for its own): each once, recorded in
//  <schema>.schema_migrations(component, version, name, applied_at), all in
//  one transaction holding an advisory lock keyed on the schema, so that two
//  instances starting together apply each file once and a failed file leaves
//  nothing half-applied. Returns the highest version of `component` now
//  applied (0 if none), or -1 with the reason logged. (kt_migrate.c)
int kt_pg_migrate_list(kt_pg_t *self, const char *schema, const char *component,
                       const kt_migration_t *list);

#endif
