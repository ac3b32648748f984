/*  kt_migrate - schema migrations compiled into the binary, applied at start.
 *
 *  A service owns its schema and brings it up to date itself: the list of
 *  migrations is embedded at build time (common/embed-migrations.sh), so a
 *  binary always carries the schema it expects, in a container as on a
 *  branch server.
 */
#include <stdio.h>
#include <string.h>

#include "kt_log.h"
#include "kt_pg.h"

//  The lock is per schema, so the framework's and the service's migrations of
//  one schema never run at the same time; search_path is set by value, with
//  no SQL built from the name.
static const kt_stmt_t s_lock = {
    "kt_migrate_lock",
    "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('kontor.migrate.' || $1)),"
    " pg_catalog.set_config('search_path', pg_catalog.quote_ident($1) || ', pg_catalog', true)",
    1};
static const kt_stmt_t s_applied = {
    "kt_migrate_applied",
    "SELECT version FROM schema_migrations WHERE component = $1 ORDER BY version", 1};
static const kt_stmt_t s_record = {
    "kt_migrate_record",
    "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2::int, $3)", 3};

static bool s_schema_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

int kt_pg_migrate_list(kt_pg_t *self, const char *schema, const char *component,
                       const kt_migration_t *list)
{
    if (!s_schema_ok(schema) || !s_schema_ok(component)) {
        kt_error("migrate: schema and component must be plain lower-case names");
        return -1;
    }
    PGresult *res = NULL;
    PGresult *done = NULL;      //  versions of `component` applied before this run
    int version = -1;
    if (kt_pg_command(self, "BEGIN") != 0)
        goto failed;
    //  Everything below runs with the schema first on the path, so the
    //  migration files can name their tables plainly.
    const char *lock_params[] = {schema};
    if (!(res = kt_pg_exec(self, &s_lock, lock_params)))
        goto failed;
    PQclear(res);
    res = NULL;
    if (kt_pg_command(self, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " component text NOT NULL,"
                            " version int NOT NULL,"
                            " name text NOT NULL,"
                            " applied_at timestamptz NOT NULL DEFAULT now(),"
                            " PRIMARY KEY (component, version))")
        != 0)
        goto failed;
    const char *applied_params[] = {component};
    if (!(done = kt_pg_exec(self, &s_applied, applied_params)))
        goto failed;
    int nrec = PQntuples(done);
    int current = nrec ? (int) kt_pg_i64(done, nrec - 1, 0) : 0;
    version = current;
    int last = 0;
    for (const kt_migration_t *m = list; m && m->sql; m++) {
        if (m->version <= last) {
            kt_error("migrate %s: %s is out of order or repeats a number", component, m->name);
            goto failed;
        }
        last = m->version;
        bool recorded = false;
        for (int i = 0; i < nrec && !recorded; i++)
            recorded = kt_pg_i64(done, i, 0) == m->version;
        if (recorded)
            continue;
        //  A file numbered below one already applied was merged late: its
        //  place in the order is gone. Refuse rather than apply it out of order.
        if (m->version < current) {
            kt_error("migrate %s: %s is numbered below %d, which is applied already; "
                     "renumber it after the last one",
                     component, m->name, current);
            goto failed;
        }
        //  Migration files are ours, part of the build, and may hold several
        //  statements: they run as one simple query (kt_pg_command refuses
        //  COPY and transaction control inside them).
        if (kt_pg_command(self, m->sql) != 0) {
            kt_error("migrate %s: %s failed", component, m->name);
            goto failed;
        }
        char vtext[16];
        snprintf(vtext, sizeof vtext, "%d", m->version);
        const char *record_params[] = {component, vtext, m->name};
        if (!(res = kt_pg_exec(self, &s_record, record_params)))
            goto failed;
        PQclear(res);
        res = NULL;
        kt_info("migrate %s: applied %s", component, m->name);
        version = m->version;
    }
    PQclear(done);
    done = NULL;
    if (kt_pg_command(self, "COMMIT") != 0)
        goto failed;
    return version;

failed:
    if (res)
        PQclear(res);
    if (done)
        PQclear(done);
    if (kt_pg_sqlstate(self)[0])
        kt_error("migrate %s: %s", component, kt_pg_error(self));
    kt_pg_command(self, "ROLLBACK");
    return -1;
}
