/*  kt_harness - a private Kontor set for one integration test.
 *
 *  The contract is in kt_harness.h. What the code below relies on:
 *
 *  - tests/run.sh started one PostgreSQL and one Redis for the run and
 *    exported where they are (KT_TEST_*), with the service roles made from
 *    deploy/local/roles.sql.sh. A set adds its own database, made with the
 *    same script's per-database SQL (KT_TEST_SCHEMA_SQL).
 *  - Every child is tracked in one process-wide table (s_tracked) from fork
 *    until it is reaped. An atexit handler and handlers for the stop signals
 *    and SIGABRT kill whatever is still in it, so a test that fails halfway
 *    (a cmocka longjmp, an assert, a sanitizer abort) leaves nothing running.
 *    Children also ask for SIGKILL when this process dies (PR_SET_PDEATHSIG),
 *    which covers SIGKILL and crashes no handler sees.
 *  - Everything a child needs (argv, environment, log path prefix) is built
 *    before fork: between fork and exec the child only makes system calls.
 *  - Waiting is on /readyz answers and on waitpid, polled every 20 ms
 *    against CLOCK_MONOTONIC deadlines; nothing sleeps for a fixed time.
 */
#include "kt_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kt_auth.h"
#include "kt_proto.h"
#include "kt_wire.h"

#define KTH_POLL_MS        20                 //  between two looks at a condition
#define KTH_READY_MS       20000              //  a process must answer /readyz 200 within this
#define KTH_STOP_MS        5000               //  after SIGTERM, before SIGKILL (kth_set_destroy)
#define KTH_SIGNAL_STOP_MS 10000              //  after SIGTERM, before SIGKILL (kth_signal)
#define KTH_HTTP_MS        2000               //  one HTTP exchange
#define KTH_HTTP_MAX       (16 * 1024 * 1024) //  largest response read
#define KTH_RUN_MS         120000             //  kth_run: a program must finish within this
#define KTH_PORT_LOW       20000              //  free ports are looked for in [LOW, LOW + SPAN),
#define KTH_PORT_SPAN      12000              //  below the kernel's ephemeral range (32768-)
#define KTH_MAX_PROCS      64                 //  processes one set may start
#define KTH_MAX_TRACKED    256                //  children alive at once, all sets together
#define KTH_MAX_PORTS      1024               //  ports handed out by this process
#define KTH_MAX_ENV        64                 //  extra variables per set (kth_set_env)
#define KTH_NAME_MAX       40                 //  bytes of a set's name used in names
#define KTH_TAIL_LINES     40                 //  lines of a process log shown on failure
#define KTH_PATH           1024               //  folder and file paths
#define KTH_SQL_MAX        4096               //  SQL made by the printf-style helpers
#define KTH_SEND_MS        1000               //  a kth_socket send gives up after this

static const char *const s_services[] = {"clients", "orders", "logistics", "receivables"};
#define KTH_NSERVICES (sizeof s_services / sizeof s_services[0])

//  kth_outbox's insert into each service's outbox, in s_services' order.
static const kt_stmt_t s_outbox_insert[KTH_NSERVICES] = {
    {"kth_outbox_clients", "INSERT INTO clients.outbox (type, payload) VALUES ($1, $2)", 2},
    {"kth_outbox_orders", "INSERT INTO orders.outbox (type, payload) VALUES ($1, $2)", 2},
    {"kth_outbox_logistics", "INSERT INTO logistics.outbox (type, payload) VALUES ($1, $2)", 2},
    {"kth_outbox_receivables", "INSERT INTO receivables.outbox (type, payload) VALUES ($1, $2)", 2},
};

//  The principals every set has keys for (kt_harness.h).
static const struct {
    const char *name;
    int kind;
    int64_t manager_id;
} s_principals[] = {
    {"bus", KT_KIND_SERVICE, 0},
    {"clients", KT_KIND_SERVICE, 0},
    {"orders", KT_KIND_SERVICE, 0},
    {"logistics", KT_KIND_SERVICE, 0},
    {"receivables", KT_KIND_SERVICE, 0},
    {"admin", KT_KIND_ADMIN, 0},
    {"head-1", KT_KIND_HEAD, 1},
    {"manager-1", KT_KIND_MANAGER, 2},
    {"manager-2", KT_KIND_MANAGER, 3},
    {"accountant-1", KT_KIND_ACCOUNTANT, 0},
    {"logistician-1", KT_KIND_LOGISTICIAN, 0},
    {"wms-1", KT_KIND_LOGISTICS_SYSTEM, 0},
};

//  One process a set started.
typedef struct {
    pid_t pid;          //  its pid; stays set after it is reaped
    bool reaped;        //  waited for; `status` is valid
    bool judged;        //  stopped by the test (kth_signal) or already reported
    int status;         //  wait status once reaped
    char name[64];      //  "orders", "bus", or the program's name
    int http_port;      //  its KONTOR_HTTP_PORT, 0 if none
    char log[KTH_PATH]; //  its stdout and stderr
} s_proc_t;

struct kth_set {
    char name[KTH_NAME_MAX + 1];   //  the test's name
    char db[64];                   //  its database, t_<name>_<pid>[_<n>]
    char home[KTH_PATH];           //  KONTOR_HOME of its processes
    char allow[KTH_PATH];          //  home/keys/allow: public certificates
    char secret[KTH_PATH];         //  home/keys/secret: secret certificates (0700)
    char logdir[KTH_PATH];         //  home/log
    char bus[64];                  //  request endpoint, tcp://127.0.0.1:<port>
    char events_in[64];            //  where producers publish
    char events_out[64];           //  where consumers subscribe
    kt_pg_t *admin;                //  superuser connection to db; owned
    char *admin_dsn;               //  superuser DSN of db (unix socket); owned
    s_proc_t procs[KTH_MAX_PROCS]; //  started so far, in order
    size_t nprocs;                 //  entries used in procs
    char *env[KTH_MAX_ENV];        //  "NAME=value" added by kth_set_env; owned
    size_t nenv;                   //  entries used in env
};

//  Where the shared servers are (tests/run.sh), read once.
static struct {
    bool loaded;
    char pg_host[KTH_PATH];   //  KT_TEST_PG_HOST: socket folder
    char pg_port[16];         //  KT_TEST_PG_PORT
    char pg_super[64];        //  KT_TEST_PG_SUPERUSER
    char passfile[KTH_PATH];  //  KT_TEST_PGPASSFILE
    char redis_port[16];      //  KT_TEST_REDIS_PORT
    char redis_password[128]; //  KT_TEST_REDIS_PASSWORD
    char bin[KTH_PATH];       //  KT_TEST_BIN
    char tmp[KTH_PATH];       //  KT_TEST_TMP
} s_env;

//  Children not yet reaped, for the safety net. A slot is 0 when free. Read
//  from signal handlers, so plain stores of whole ints only.
static volatile pid_t s_tracked[KTH_MAX_TRACKED];
static bool s_net_installed;
static int s_ports[KTH_MAX_PORTS];
static size_t s_nports;
static unsigned int s_seed;
static int s_sets_made; //  sets made by this process, for unique names

//  --------------------------------------------------------------------------
//  Small helpers

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

//  Fail the running test (cmocka leaves it by longjmp; outside a test the
//  program exits). Never returns.
static void s_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void s_fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("ERROR: kth: %s\n", msg);
    _fail(__FILE__, __LINE__);
    abort(); //  not reached: _fail does not return
}

//  Abort the test program: the environment is not what a set needs.
static void s_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void s_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kth: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void s_copy(char *dst, size_t size, const char *src, const char *what)
{
    if (snprintf(dst, size, "%s", src) >= (int)size)
        s_die("%s is too long: %s", what, src);
}

//  snprintf into a path buffer; a path that does not fit aborts the program.
static void s_path(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_path(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        s_die("path too long (KT_TEST_TMP is too deep?): %s...", dst);
}

static char *s_strdup(const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL)
        s_die("out of memory");
    return copy;
}

static char *s_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        s_die("out of memory");
    return s;
}

//  Print the last lines of a log file on stderr, framed.
static void s_show_tail(const char *path)
{
    FILE *file = fopen(path, "re");
    if (file == NULL) {
        fprintf(stderr, "kth: (no log at %s)\n", path);
        return;
    }
    enum { TAIL_BYTES = 64 * 1024 };
    char *buf = malloc(TAIL_BYTES);
    if (buf == NULL) {
        fclose(file);
        return;
    }
    if (fseek(file, 0, SEEK_END) == 0) {
        long size = ftell(file);
        if (size > TAIL_BYTES - 1)
            fseek(file, size - TAIL_BYTES + 1, SEEK_SET);
        else
            rewind(file);
    }
    size_t n = fread(buf, 1, TAIL_BYTES - 1, file);
    fclose(file);
    buf[n] = '\0';
    int lines = 0;
    size_t start = n;
    while (start > 0) {
        if (buf[start - 1] == '\n' && start != n && ++lines >= KTH_TAIL_LINES)
            break;
        start--;
    }
    fprintf(stderr, "kth: ---- last lines of %s ----\n%s%s", path, buf + start,
            (n > 0 && buf[n - 1] != '\n') ? "\n" : "");
    fprintf(stderr, "kth: ---- end of %s ----\n", path);
    free(buf);
}

static void s_describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "changed state (wait status %d)", status);
}

//  Index of a service in s_services, or -1 if `name` is not one.
static int s_service_index(const char *name)
{
    for (size_t i = 0; i < KTH_NSERVICES; i++)
        if (strcmp(s_services[i], name) == 0)
            return (int)i;
    return -1;
}

static bool s_is_service(const char *name)
{
    return s_service_index(name) >= 0;
}

//  --------------------------------------------------------------------------
//  Safety net

static void s_track(pid_t pid)
{
    for (size_t i = 0; i < KTH_MAX_TRACKED; i++)
        if (s_tracked[i] == 0) {
            s_tracked[i] = pid;
            return;
        }
    //  The child exists already: kill it rather than lose track of it.
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    s_die("more than %d child processes alive at once", KTH_MAX_TRACKED);
}

static void s_untrack(pid_t pid)
{
    for (size_t i = 0; i < KTH_MAX_TRACKED; i++)
        if (s_tracked[i] == pid)
            s_tracked[i] = 0;
}

//  Async-signal-safe: kill every tracked child and reap what is dead.
static void s_kill_tracked(void)
{
    for (size_t i = 0; i < KTH_MAX_TRACKED; i++) {
        pid_t pid = s_tracked[i];
        if (pid > 0)
            kill(pid, SIGKILL);
    }
    for (size_t i = 0; i < KTH_MAX_TRACKED; i++) {
        pid_t pid = s_tracked[i];
        if (pid > 0) {
            waitpid(pid, NULL, 0);
            s_tracked[i] = 0;
        }
    }
}

static void s_at_exit(void)
{
    s_kill_tracked();
}

static void s_on_signal(int sig)
{
    s_kill_tracked();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void s_install_net(void)
{
    if (s_net_installed)
        return;
    s_net_installed = true;
    atexit(s_at_exit);
    const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = s_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
    //  A child that exits while we write to its stdin must not kill the test.
    signal(SIGPIPE, SIG_IGN);
    s_seed = (unsigned int)getpid() ^ (unsigned int)s_now_ms();
}

//  --------------------------------------------------------------------------
//  The shared servers

static void s_env_require(const char *name, char *dst, size_t size)
{
    const char *value = getenv(name);
    if (value == NULL || *value == '\0')
        s_die("%s is not set: integration tests run through tests/run.sh (make test), "
              "which starts PostgreSQL and Redis for them",
              name);
    s_copy(dst, size, value, name);
}

static void s_env_load(void)
{
    if (s_env.loaded)
        return;
    s_env_require("KT_TEST_PG_HOST", s_env.pg_host, sizeof s_env.pg_host);
    s_env_require("KT_TEST_PG_PORT", s_env.pg_port, sizeof s_env.pg_port);
    s_env_require("KT_TEST_PGPASSFILE", s_env.passfile, sizeof s_env.passfile);
    s_env_require("KT_TEST_REDIS_PORT", s_env.redis_port, sizeof s_env.redis_port);
    s_env_require("KT_TEST_REDIS_PASSWORD", s_env.redis_password, sizeof s_env.redis_password);
    s_env_require("KT_TEST_BIN", s_env.bin, sizeof s_env.bin);
    s_env_require("KT_TEST_TMP", s_env.tmp, sizeof s_env.tmp);
    const char *super = getenv("KT_TEST_PG_SUPERUSER");
    s_copy(s_env.pg_super, sizeof s_env.pg_super, super && *super ? super : "postgres",
           "KT_TEST_PG_SUPERUSER");
    s_env.loaded = true;
}

//  A libpq conninfo value, single-quoted when it has to be.
static char *s_conninfo_quote(const char *value)
{
    if (*value != '\0' && strpbrk(value, " \t\n\r'\\") == NULL)
        return s_strdup(value);
    size_t len = strlen(value);
    char *out = malloc(len * 2 + 3);
    if (out == NULL)
        s_die("out of memory");
    size_t j = 0;
    out[j++] = '\'';
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || *p == '\\')
            out[j++] = '\\';
        out[j++] = *p;
    }
    out[j++] = '\'';
    out[j] = '\0';
    return out;
}

//  Superuser DSN over the unix socket for database `db`.
static char *s_super_dsn(const char *db)
{
    char *host = s_conninfo_quote(s_env.pg_host);
    char *dsn = s_printf("host=%s port=%s dbname=%s user=%s application_name=kt_harness", host,
                         s_env.pg_port, db, s_env.pg_super);
    free(host);
    return dsn;
}

//  Run SQL text (may hold several statements) on a raw connection. Returns
//  0, or -1 with the error printed.
static int s_sql(kt_pg_t *pg, const char *sql, const char *what)
{
    PGresult *res = PQexec(kt_pg_conn(pg), sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        fprintf(stderr, "kth: %s failed: %s", what, PQerrorMessage(kt_pg_conn(pg)));
        rc = -1;
    }
    PQclear(res);
    return rc;
}

//  The per-database roles' schemas SQL: KT_TEST_SCHEMA_SQL, else what
//  deploy/local/roles.sql.sh prints. Returns a malloc'd string.
static char *s_schema_sql(void)
{
    const char *path = getenv("KT_TEST_SCHEMA_SQL");
    FILE *file = NULL;
    bool piped = false;
    if (path != NULL && *path != '\0') {
        file = fopen(path, "re");
        if (file == NULL)
            s_die("cannot read KT_TEST_SCHEMA_SQL %s: %s", path, strerror(errno));
    } else {
        const char *root = getenv("KT_TEST_ROOT");
        if (root == NULL || *root == '\0')
            s_die("neither KT_TEST_SCHEMA_SQL nor KT_TEST_ROOT is set: run through tests/run.sh");
        char *root_q = s_printf("'%s'", root);
        if (strchr(root, '\'') != NULL)
            s_die("KT_TEST_ROOT must not contain a quote: %s", root);
        char *cmd = s_printf("bash %s/deploy/local/roles.sql.sh schemas", root_q);
        free(root_q);
        file = popen(cmd, "re");
        free(cmd);
        if (file == NULL)
            s_die("cannot run deploy/local/roles.sql.sh: %s", strerror(errno));
        piped = true;
    }
    size_t size = 0;
    char *text = NULL;
    FILE *mem = open_memstream(&text, &size);
    if (mem == NULL)
        s_die("out of memory");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, file)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(mem);
    int rc = piped ? pclose(file) : fclose(file);
    if (rc != 0 || size == 0)
        s_die("could not read the roles' schemas SQL (roles.sql.sh schemas)");
    return text;
}

//  --------------------------------------------------------------------------
//  Ports

int kth_free_port(void)
{
    s_install_net();
    for (int attempt = 0; attempt < 1000; attempt++) {
        int port = KTH_PORT_LOW + (int)(rand_r(&s_seed) % KTH_PORT_SPAN);
        bool taken = false;
        for (size_t i = 0; i < s_nports && !taken; i++)
            taken = s_ports[i] == port;
        if (taken)
            continue;
        //  Free if a plain bind succeeds (no SO_REUSEADDR: a port in
        //  TIME_WAIT or held on any address counts as taken).
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            s_die("socket: %s", strerror(errno));
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
        close(fd);
        if (rc != 0)
            continue;
        if (s_nports < KTH_MAX_PORTS)
            s_ports[s_nports++] = port;
        return port;
    }
    s_die("no free TCP port on 127.0.0.1 in %d-%d", KTH_PORT_LOW, KTH_PORT_LOW + KTH_PORT_SPAN - 1);
}

//  --------------------------------------------------------------------------
//  Files

static void s_mkdir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        s_die("cannot create %s: %s", path, strerror(errno));
    chmod(path, mode);
}

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0)
        fprintf(stderr, "kth: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static void s_rm_tree(const char *path)
{
    nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

//  --------------------------------------------------------------------------
//  Sets

kth_set_t *kth_set_new(const char *name)
{
    assert(name);
    s_install_net();
    s_env_load();
    size_t len = strlen(name);
    if (len == 0)
        s_die("a set needs a name");
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            s_die("set name may hold only letters, digits and '_': %s", name);

    kth_set_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        s_die("out of memory");
    snprintf(self->name, sizeof self->name, "%.*s", KTH_NAME_MAX, name);
    int serial = s_sets_made++;

    //  Database: t_<name>_<pid>, lower case; _<n> for a later set of one name.
    char lower[KTH_NAME_MAX + 1];
    for (size_t i = 0; i <= strlen(self->name); i++)
        lower[i] = (char)tolower((unsigned char)self->name[i]);
    if (serial == 0)
        snprintf(self->db, sizeof self->db, "t_%s_%ld", lower, (long)getpid());
    else
        snprintf(self->db, sizeof self->db, "t_%s_%ld_%d", lower, (long)getpid(), serial);

    char *dsn = s_super_dsn("postgres");
    kt_pg_t *pg = kt_pg_new(dsn);
    free(dsn);
    if (pg == NULL)
        s_die("cannot connect to the test cluster on %s port %s as %s", s_env.pg_host,
              s_env.pg_port, s_env.pg_super);
    char *sql = s_printf("DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", self->db);
    int rc = s_sql(pg, sql, "dropping a leftover database");
    free(sql);
    sql = s_printf("CREATE DATABASE \"%s\"", self->db);
    rc = rc || s_sql(pg, sql, "CREATE DATABASE");
    free(sql);
    kt_pg_destroy(&pg);
    if (rc != 0)
        s_die("cannot create database %s", self->db);

    self->admin_dsn = s_super_dsn(self->db);
    self->admin = kt_pg_new(self->admin_dsn);
    if (self->admin == NULL)
        s_die("cannot connect to database %s as superuser", self->db);
    char *schemas = s_schema_sql();
    rc = s_sql(self->admin, schemas, "the roles' schemas SQL (roles.sql.sh schemas)");
    free(schemas);
    if (rc != 0)
        s_die("cannot make the service schemas in %s", self->db);

    //  Folder: $KT_TEST_TMP/<name>, or <name>.<n> if a kept one is there.
    s_path(self->home, sizeof self->home, "%s/%s", s_env.tmp, self->name);
    for (int n = 1; access(self->home, F_OK) == 0; n++)
        s_path(self->home, sizeof self->home, "%s/%s.%d", s_env.tmp, self->name, n);
    s_mkdir(self->home, 0755);
    char keys[KTH_PATH + 8];
    s_path(keys, sizeof keys, "%s/keys", self->home);
    s_mkdir(keys, 0755);
    s_path(self->allow, sizeof self->allow, "%s/keys/allow", self->home);
    s_path(self->secret, sizeof self->secret, "%s/keys/secret", self->home);
    s_path(self->logdir, sizeof self->logdir, "%s/log", self->home);
    s_mkdir(self->allow, 0755);
    s_mkdir(self->secret, 0700);
    s_mkdir(self->logdir, 0755);
    for (size_t i = 0; i < sizeof s_principals / sizeof s_principals[0]; i++)
        if (kt_keygen(self->allow, self->secret, s_principals[i].name, s_principals[i].kind,
                      s_principals[i].manager_id) != 0)
            s_die("cannot make the key of %s in %s", s_principals[i].name, self->home);

    snprintf(self->bus, sizeof self->bus, "tcp://127.0.0.1:%d", kth_free_port());
    snprintf(self->events_in, sizeof self->events_in, "tcp://127.0.0.1:%d", kth_free_port());
    snprintf(self->events_out, sizeof self->events_out, "tcp://127.0.0.1:%d", kth_free_port());
    return self;
}

static s_proc_t *s_lookup(kth_set_t *self, pid_t pid)
{
    for (size_t i = 0; i < self->nprocs; i++)
        if (self->procs[i].pid == pid)
            return &self->procs[i];
    return NULL;
}

static void s_reaped(s_proc_t *proc, int status)
{
    proc->reaped = true;
    proc->status = status;
    s_untrack(proc->pid);
}

//  Reap `proc` if it has exited. Returns true if it is (now) reaped.
static bool s_try_reap(s_proc_t *proc)
{
    if (proc->reaped)
        return true;
    int status;
    pid_t r = waitpid(proc->pid, &status, WNOHANG);
    if (r == proc->pid) {
        s_reaped(proc, status);
        return true;
    }
    if (r < 0 && errno == ECHILD) {
        //  Reaped elsewhere (a SIGCHLD handler in the test): nothing to judge.
        s_reaped(proc, 0);
        return true;
    }
    return false;
}

static void s_reap_blocking(s_proc_t *proc)
{
    if (proc->reaped)
        return;
    int status = 0;
    pid_t r;
    do
        r = waitpid(proc->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    s_reaped(proc, r == proc->pid ? status : 0);
}

int kth_set_stop(kth_set_t *self)
{
    assert(self);
    //  Services first, the bus last, as in production: a stopping worker
    //  says goodbye to the bus and waits for its answer.
    for (int phase = 0; phase < 2; phase++) {
        bool want_bus = phase == 1;
        for (size_t i = 0; i < self->nprocs; i++)
            if ((strcmp(self->procs[i].name, "bus") == 0) == want_bus
                && !s_try_reap(&self->procs[i]))
                kill(self->procs[i].pid, SIGTERM);
        int64_t deadline = s_now_ms() + KTH_STOP_MS;
        for (;;) {
            bool all = true;
            for (size_t i = 0; i < self->nprocs; i++)
                if ((strcmp(self->procs[i].name, "bus") == 0) == want_bus)
                    all = s_try_reap(&self->procs[i]) && all;
            if (all || s_now_ms() >= deadline)
                break;
            s_nap_ms(KTH_POLL_MS);
        }
    }
    int unclean = 0;
    for (size_t i = 0; i < self->nprocs; i++) {
        s_proc_t *proc = &self->procs[i];
        if (!proc->reaped) {
            fprintf(stderr, "kth: %s (pid %d) did not stop within %d ms of SIGTERM; killing it\n",
                    proc->name, (int)proc->pid, KTH_STOP_MS);
            kill(proc->pid, SIGKILL);
            s_reap_blocking(proc);
            proc->status = -1; //  judged below as unclean
        }
        if (proc->judged)
            continue;
        proc->judged = true;
        if (proc->status == -1 || !WIFEXITED(proc->status) || WEXITSTATUS(proc->status) != 0) {
            char how[96] = "had to be killed";
            if (proc->status != -1)
                s_describe_status(proc->status, how, sizeof how);
            fprintf(stderr, "kth: %s (pid %d) %s\n", proc->name, (int)proc->pid, how);
            s_show_tail(proc->log);
            unclean++;
        }
    }
    return unclean;
}

void kth_set_destroy(kth_set_t **self_p)
{
    assert(self_p);
    kth_set_t *self = *self_p;
    if (self == NULL)
        return;
    *self_p = NULL;
    int unclean = kth_set_stop(self);
    kt_pg_destroy(&self->admin);

    char *dsn = s_super_dsn("postgres");
    kt_pg_t *pg = kt_pg_new(dsn);
    free(dsn);
    if (pg != NULL) {
        char *sql = s_printf("DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", self->db);
        s_sql(pg, sql, "DROP DATABASE");
        free(sql);
        kt_pg_destroy(&pg);
    } else
        fprintf(stderr, "kth: cannot connect to drop database %s\n", self->db);

    //  The folder holds the processes' logs: kept when one of them failed.
    const char *keep = getenv("KT_KEEP");
    if (keep != NULL && strcmp(keep, "1") == 0)
        fprintf(stderr, "kth: KT_KEEP=1: kept %s\n", self->home);
    else if (unclean > 0)
        fprintf(stderr, "kth: kept %s for its logs\n", self->home);
    else
        s_rm_tree(self->home);
    free(self->admin_dsn);
    for (size_t i = 0; i < self->nenv; i++)
        free(self->env[i]);
    char name[sizeof self->name];
    memcpy(name, self->name, sizeof name);
    free(self);
    //  Last, because it does not return inside a test: a process that crashed
    //  or failed to exit cleanly (a sanitizer report, say) fails the test.
    if (unclean > 0)
        s_fail("set %s: %d process(es) did not exit cleanly (see their logs above)", name, unclean);
}

int kth_teardown(void **state)
{
    kth_set_t *self = *state;
    kth_set_destroy(&self);
    *state = NULL;
    return 0;
}

void kth_set_env(kth_set_t *self, const char *name, const char *value)
{
    assert(self && name && value);
    size_t len = strlen(name);
    for (size_t i = 0; i < self->nenv; i++)
        if (strncmp(self->env[i], name, len) == 0 && self->env[i][len] == '=') {
            free(self->env[i]);
            self->env[i] = s_printf("%s=%s", name, value);
            return;
        }
    if (self->nenv == KTH_MAX_ENV)
        s_fail("kth_set_env: more than %d variables", KTH_MAX_ENV);
    self->env[self->nenv++] = s_printf("%s=%s", name, value);
}

//  --------------------------------------------------------------------------
//  Children

//  A NULL-terminated list of malloc'd strings.
typedef struct {
    char **items;
    size_t count;
    size_t max;
} s_strv_t;

static void s_strv_add(s_strv_t *v, char *owned)
{
    if (v->count + 2 > v->max) {
        v->max = v->max ? v->max * 2 : 32;
        v->items = realloc(v->items, v->max * sizeof *v->items);
        if (v->items == NULL)
            s_die("out of memory");
    }
    v->items[v->count++] = owned;
    v->items[v->count] = NULL;
}

static void s_strv_free(s_strv_t *v)
{
    for (size_t i = 0; i < v->count; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

//  Variables passed through from the test's own environment.
static const char *const s_passed_through[] = {
    "PATH",         "TZ",
    "LANG",         "LC_ALL",
    "TMPDIR",       "LD_LIBRARY_PATH",
    "ASAN_OPTIONS", "UBSAN_OPTIONS",
    "LSAN_OPTIONS", "KT_TEST_RUN",
    "KT_TEST_TMP",
};

//  The environment of a child acting as `principal`. http_port < 0: leave
//  KONTOR_HTTP_PORT to the program's default; workers 0: its default.
static void s_child_env(kth_set_t *self, const char *principal, int http_port, int workers,
                        s_strv_t *env)
{
    for (size_t i = 0; i < sizeof s_passed_through / sizeof s_passed_through[0]; i++) {
        const char *value = getenv(s_passed_through[i]);
        if (value != NULL)
            s_strv_add(env, s_printf("%s=%s", s_passed_through[i], value));
    }
    const char *level = getenv("KT_LOG_LEVEL");
    s_strv_add(env, s_printf("KONTOR_HOME=%s", self->home));
    s_strv_add(env, s_printf("KONTOR_BUS=%s", self->bus));
    s_strv_add(env, s_printf("KONTOR_EVENTS_IN=%s", self->events_in));
    s_strv_add(env, s_printf("KONTOR_EVENTS_OUT=%s", self->events_out));
    s_strv_add(env, s_printf("KONTOR_KEYS=%s", self->allow));
    s_strv_add(env, s_printf("KONTOR_CERT=%s/%s.secret", self->secret, principal));
    s_strv_add(env, s_printf("KONTOR_BUS_CERT=%s/bus.cert", self->allow));
    if (s_is_service(principal)) {
        char *passfile = s_conninfo_quote(s_env.passfile);
        s_strv_add(env, s_printf("KONTOR_PG_DSN=host=127.0.0.1 port=%s dbname=%s user=kontor_%s "
                                 "passfile=%s connect_timeout=5 application_name=kontor-%s",
                                 s_env.pg_port, self->db, principal, passfile, principal));
        free(passfile);
    }
    s_strv_add(env, s_strdup("KONTOR_REDIS_HOST=127.0.0.1"));
    s_strv_add(env, s_printf("KONTOR_REDIS_PORT=%s", s_env.redis_port));
    s_strv_add(env, s_printf("KONTOR_REDIS_PASSWORD=%s", s_env.redis_password));
    if (http_port >= 0)
        s_strv_add(env, s_printf("KONTOR_HTTP_PORT=%d", http_port));
    if (workers > 0)
        s_strv_add(env, s_printf("KONTOR_WORKERS=%d", workers));
    s_strv_add(env, s_printf("KONTOR_LOG_LEVEL=%s", level && *level ? level : "info"));
    for (size_t i = 0; i < self->nenv; i++)
        s_strv_add(env, s_strdup(self->env[i]));
}

static void s_build_argv(const char *program, const char *const *argv, s_strv_t *out)
{
    s_strv_add(out, s_strdup(program));
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
        s_strv_add(out, s_strdup(argv[i]));
}

//  In the child, between fork and exec: system calls only.
static void s_child_write(const char *a, const char *b, const char *c)
{
    const char *parts[] = {a, b, c};
    for (size_t i = 0; i < 3; i++)
        if (parts[i] != NULL) {
            ssize_t unused = write(STDERR_FILENO, parts[i], strlen(parts[i]));
            (void)unused;
        }
}

static void s_child_prepare(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127); //  the test died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    const int sigs[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
}

//  "<prefix><pid>.log" into buf, with no library call that may allocate.
static void s_child_log_path(char *buf, size_t size, const char *prefix, pid_t pid)
{
    char digits[16];
    size_t nd = 0;
    unsigned long v = (unsigned long)pid;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && nd < sizeof digits);
    size_t j = 0;
    for (const char *p = prefix; *p && j + 1 < size; p++)
        buf[j++] = *p;
    while (nd > 0 && j + 1 < size)
        buf[j++] = digits[--nd];
    for (const char *p = ".log"; *p && j + 1 < size; p++)
        buf[j++] = *p;
    buf[j] = '\0';
}

//  Fork and exec `path` with stdout and stderr appended to
//  <logdir>/<name>-<pid>.log. Records it in the set. Returns the pid.
static pid_t s_start(kth_set_t *self, const char *name, const char *path, s_strv_t *argv,
                     s_strv_t *env, int http_port)
{
    if (self->nprocs == KTH_MAX_PROCS)
        s_fail("set %s: more than %d processes", self->name, KTH_MAX_PROCS);
    if (access(path, X_OK) != 0)
        s_fail("cannot run %s: %s (build it with make all)", path, strerror(errno));
    char prefix[KTH_PATH + 80];
    snprintf(prefix, sizeof prefix, "%s/%s-", self->logdir, name);
    char logbuf[sizeof prefix + 32];
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        s_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        s_child_prepare(parent);
        s_child_log_path(logbuf, sizeof logbuf, prefix, getpid());
        int fd = open(logbuf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
            dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        execve(path, argv->items, env->items);
        s_child_write("kth: cannot execute ", path, "\n");
        _exit(127);
    }
    s_track(pid);
    s_proc_t *proc = &self->procs[self->nprocs++];
    memset(proc, 0, sizeof *proc);
    proc->pid = pid;
    proc->http_port = http_port > 0 ? http_port : 0;
    snprintf(proc->name, sizeof proc->name, "%s", name);
    s_child_log_path(proc->log, sizeof proc->log, prefix, pid);
    return pid;
}

//  Wait until `proc` answers /readyz with 200. Fails the test (after
//  showing its log and killing it) if it exits first or is not ready in time.
static void s_wait_ready(kth_set_t *self, s_proc_t *proc)
{
    int64_t start = s_now_ms();
    int64_t deadline = start + KTH_READY_MS;
    int last = -1;
    for (;;) {
        if (s_try_reap(proc)) {
            char how[96];
            s_describe_status(proc->status, how, sizeof how);
            proc->judged = true;
            fprintf(stderr, "kth: set %s: %s (pid %d) %s before it was ready\n", self->name,
                    proc->name, (int)proc->pid, how);
            s_show_tail(proc->log);
            s_fail("%s (pid %d) %s before it was ready; log: %s", proc->name, (int)proc->pid, how,
                   proc->log);
        }
        last = kth_http_get(proc->http_port, "/readyz", NULL);
        if (last == 200)
            return;
        if (s_now_ms() >= deadline)
            break;
        s_nap_ms(KTH_POLL_MS);
    }
    kill(proc->pid, SIGKILL);
    s_reap_blocking(proc);
    proc->judged = true;
    fprintf(stderr,
            "kth: set %s: %s (pid %d) was not ready on port %d within %d ms (last answer %d)\n",
            self->name, proc->name, (int)proc->pid, proc->http_port, KTH_READY_MS, last);
    s_show_tail(proc->log);
    s_fail("%s (pid %d) was not ready within %d ms; log: %s", proc->name, (int)proc->pid,
           KTH_READY_MS, proc->log);
}

static pid_t s_start_ready(kth_set_t *self, const char *name, const char *principal,
                           const char *program, int workers)
{
    int port = kth_free_port();
    s_strv_t env = {0}, argv = {0};
    s_child_env(self, principal, port, workers, &env);
    s_build_argv(program, NULL, &argv);
    char *path = s_printf("%s/%s", s_env.bin, program);
    pid_t pid = s_start(self, name, path, &argv, &env, port);
    free(path);
    s_strv_free(&argv);
    s_strv_free(&env);
    s_wait_ready(self, s_lookup(self, pid));
    return pid;
}

pid_t kth_start_bus(kth_set_t *self)
{
    assert(self);
    return s_start_ready(self, "bus", "bus", "kontor-bus", 0);
}

pid_t kth_start_service(kth_set_t *self, const char *service, int workers)
{
    assert(self && service);
    if (!s_is_service(service))
        s_fail("not a service: %s (clients, orders, logistics, receivables)", service);
    char program[64];
    snprintf(program, sizeof program, "kontor-%s", service);
    return s_start_ready(self, service, service, program, workers);
}

static void s_check_program(const char *program)
{
    if (program == NULL || *program == '\0' || strchr(program, '/') != NULL)
        s_fail("program must be a name in KT_TEST_BIN: %s", program ? program : "(null)");
}

//  Where `program` is: KT_TEST_BIN/<program>, else the build's test fixtures
//  (KT_TEST_BIN/../tests/fixtures/<program>, from tests/fixtures/*.c).
//  Malloc'd; the bin path when neither exists, for the error message.
static char *s_program_path(const char *program)
{
    char *fixture = s_printf("%s/../tests/fixtures/%s", s_env.bin, program);
    char *path = s_printf("%s/%s", s_env.bin, program);
    if (access(path, X_OK) != 0 && access(fixture, X_OK) == 0) {
        free(path);
        return fixture;
    }
    free(fixture);
    return path;
}

pid_t kth_spawn(kth_set_t *self, const char *principal, const char *program,
                const char *const *argv)
{
    assert(self && principal);
    s_check_program(program);
    int port = kth_free_port();
    s_strv_t env = {0}, args = {0};
    s_child_env(self, principal, port, 0, &env);
    s_build_argv(program, argv, &args);
    char *path = s_program_path(program);
    pid_t pid = s_start(self, program, path, &args, &env, port);
    free(path);
    s_strv_free(&args);
    s_strv_free(&env);
    return pid;
}

//  Append what is readable on fd to the buffer; returns false at EOF.
static bool s_drain(int fd, char **buf, size_t *len, size_t *cap)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    if (*len + (size_t)n + 1 > *cap) {
        size_t grown = *cap ? *cap : 4096;
        while (*len + (size_t)n + 1 > grown)
            grown *= 2;
        char *more = realloc(*buf, grown);
        if (more == NULL)
            s_die("out of memory");
        *buf = more;
        *cap = grown;
    }
    memcpy(*buf + *len, chunk, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return true;
}

int kth_run(kth_set_t *self, const char *principal, const char *program, const char *const *argv,
            const char *stdin_text, char **out, char **err)
{
    assert(self && principal);
    s_check_program(program);
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    char *path = s_program_path(program);
    if (access(path, X_OK) != 0)
        s_fail("cannot run %s: %s (build it with make all)", path, strerror(errno));
    s_strv_t env = {0}, args = {0};
    s_child_env(self, principal, 0, 0, &env);
    s_build_argv(program, argv, &args);
    //  stderr goes to the log when the caller does not want it.
    char *log = s_printf("%s/%s-run.log", self->logdir, program);
    int in[2], pout[2], perr[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC))
        s_fail("pipe: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        s_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        s_child_prepare(parent);
        int errfd = perr[1];
        if (err == NULL)
            errfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (errfd < 0 || dup2(in[0], STDIN_FILENO) < 0 || dup2(pout[1], STDOUT_FILENO) < 0 ||
            dup2(errfd, STDERR_FILENO) < 0)
            _exit(127);
        execve(path, args.items, env.items);
        s_child_write("kth: cannot execute ", path, "\n");
        _exit(127);
    }
    s_track(pid);
    s_strv_free(&args);
    s_strv_free(&env);
    free(log);
    free(path);
    close(in[0]);
    close(pout[1]);
    close(perr[1]);

    const char *to_write = stdin_text ? stdin_text : "";
    size_t left = strlen(to_write);
    int fd_in = in[1];
    if (left == 0) {
        close(fd_in);
        fd_in = -1;
    } else
        fcntl(fd_in, F_SETFL, O_NONBLOCK);
    char *obuf = NULL, *ebuf = NULL;
    size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
    bool oopen = true, eopen = true;
    int64_t deadline = s_now_ms() + KTH_RUN_MS;
    bool timed_out = false;
    while (oopen || eopen) {
        struct pollfd fds[3];
        nfds_t nfds = 0;
        int oi = -1, ei = -1, ii = -1;
        if (oopen) {
            fds[nfds] = (struct pollfd){.fd = pout[0], .events = POLLIN};
            oi = (int)nfds++;
        }
        if (eopen) {
            fds[nfds] = (struct pollfd){.fd = perr[0], .events = POLLIN};
            ei = (int)nfds++;
        }
        if (fd_in >= 0) {
            fds[nfds] = (struct pollfd){.fd = fd_in, .events = POLLOUT};
            ii = (int)nfds++;
        }
        int64_t wait = deadline - s_now_ms();
        if (wait <= 0) {
            timed_out = true;
            break;
        }
        if (poll(fds, nfds, (int)wait) < 0 && errno != EINTR)
            break;
        if (oi >= 0 && fds[oi].revents)
            oopen = s_drain(pout[0], &obuf, &olen, &ocap);
        if (ei >= 0 && fds[ei].revents)
            eopen = s_drain(perr[0], &ebuf, &elen, &ecap);
        if (ii >= 0 && fds[ii].revents) {
            ssize_t n = write(fd_in, to_write, left);
            if (n > 0) {
                to_write += n;
                left -= (size_t)n;
            }
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || left == 0) {
                close(fd_in);
                fd_in = -1;
            }
        }
    }
    if (fd_in >= 0)
        close(fd_in);
    close(pout[0]);
    close(perr[0]);
    if (timed_out) {
        fprintf(stderr, "kth: %s did not finish within %d ms; killing it\n", program, KTH_RUN_MS);
        kill(pid, SIGKILL);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    s_untrack(pid);
    if (out)
        *out = obuf ? obuf : s_strdup("");
    else
        free(obuf);
    if (err)
        *err = ebuf ? ebuf : s_strdup("");
    else
        free(ebuf);
    return WIFEXITED(status) && !timed_out ? WEXITSTATUS(status) : -1;
}

int kth_signal(kth_set_t *self, pid_t pid, int sig)
{
    assert(self);
    s_proc_t *proc = s_lookup(self, pid);
    if (proc == NULL)
        s_fail("set %s did not start pid %d", self->name, (int)pid);
    if (proc->reaped)
        return (sig == SIGKILL || sig == SIGTERM) ? proc->status : 0;
    if (kill(pid, sig) != 0)
        s_fail("kill(%d, %d): %s", (int)pid, sig, strerror(errno));
    if (sig != SIGKILL && sig != SIGTERM)
        return 0;
    proc->judged = true;
    if (sig == SIGTERM) {
        int64_t deadline = s_now_ms() + KTH_SIGNAL_STOP_MS;
        while (!s_try_reap(proc) && s_now_ms() < deadline)
            s_nap_ms(KTH_POLL_MS);
        if (!proc->reaped) {
            fprintf(stderr, "kth: %s (pid %d) did not stop within %d ms of SIGTERM; killing it\n",
                    proc->name, (int)pid, KTH_SIGNAL_STOP_MS);
            kill(pid, SIGKILL);
        }
    }
    s_reap_blocking(proc);
    return proc->status;
}

void kth_use(kth_set_t *self, const char *principal)
{
    assert(self && principal);
    s_strv_t env = {0};
    s_child_env(self, principal, 0, 0, &env);
    unsetenv("KONTOR_PG_DSN");
    for (size_t i = 0; i < env.count; i++) {
        if (strncmp(env.items[i], "KONTOR_", 7) != 0)
            continue;
        char *eq = strchr(env.items[i], '=');
        *eq = '\0';
        setenv(env.items[i], eq + 1, 1);
    }
    s_strv_free(&env);
}

void kth_config(kth_set_t *self, const char *principal, kt_config_t *out)
{
    assert(self && principal && out);
    kth_use(self, principal);
    char why[256];
    if (kt_config_load(out, "test", why, sizeof why) != 0)
        s_fail("cannot load the configuration of %s: %s", principal, why);
}

kt_client_t *kth_client(kth_set_t *self, const char *principal)
{
    kt_config_t cfg;
    kth_config(self, principal, &cfg);
    kt_client_t *client = kt_client_new(&cfg);
    if (client == NULL)
        s_fail("cannot make a client as %s", principal);
    return client;
}

zsock_t *kth_socket(kth_set_t *self, const char *principal, int type, kth_endpoint_t where)
{
    kt_config_t cfg;
    kth_config(self, principal ? principal : "admin", &cfg);
    const char *endpoint = where == KTH_BUS         ? cfg.bus
                           : where == KTH_EVENTS_IN ? cfg.events_in
                                                    : cfg.events_out;
    zcert_t *cert = principal ? kt_cert_load_secret(cfg.cert) : zcert_new();
    char bus_key[41];
    if (cert == NULL || kt_cert_public_key(cfg.bus_cert, bus_key) != 0) {
        zcert_destroy(&cert);
        s_fail("cannot load the keys for a socket as %s: %s, %s",
               principal ? principal : "a stranger", cfg.cert, cfg.bus_cert);
    }
    zsock_t *sock = zsock_new(type);
    if (sock == NULL) {
        zcert_destroy(&cert);
        s_fail("cannot make a socket of type %d", type);
    }
    kt_curve_client(sock, cert, bus_key);
    zcert_destroy(&cert); //  the socket holds its own copy of the keys
    zsock_set_zap_domain(sock, KT_ZAP_DOMAIN);
    zsock_set_linger(sock, 0);
    zsock_set_sndtimeo(sock, KTH_SEND_MS);
    if (type == ZMQ_SUB)
        zsock_set_rcvhwm(sock, 0);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        zsock_destroy(&sock);
        s_fail("cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
    }
    return sock;
}

int kth_send_request(zsock_t *sock, const char *service, const char *method, uint32_t timeout_ms,
                     char *request_id)
{
    assert(sock && service && method && request_id);
    kt_request_t req = {.timeout_ms = timeout_ms};
    snprintf(req.method, sizeof req.method, "%s", method);
    kt_request_id_new(req.request_id);
    memcpy(request_id, req.request_id, sizeof req.request_id);
    size_t len;
    uint8_t *body = kt_request_encode(&req, &len);
    if (body == NULL)
        s_die("out of memory");
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "");
    zmsg_addstr(msg, KT_CLIENT_HEADER);
    zmsg_addstr(msg, service);
    zmsg_addmem(msg, body, len);
    free(body);
    int rc = zmsg_send(&msg, sock);
    zmsg_destroy(&msg); //  still ours if it was not sent
    return rc == 0 ? 0 : -1;
}

int kth_http_port(kth_set_t *self, pid_t pid)
{
    assert(self);
    s_proc_t *proc = s_lookup(self, pid);
    return proc ? proc->http_port : 0;
}

const char *kth_bus_endpoint(kth_set_t *self)
{
    assert(self);
    return self->bus;
}

const char *kth_home(kth_set_t *self)
{
    assert(self);
    return self->home;
}

const char *kth_db_name(kth_set_t *self)
{
    assert(self);
    return self->db;
}

char *kth_service_dsn(kth_set_t *self, const char *service)
{
    assert(self && service);
    if (!s_is_service(service))
        s_fail("not a service: %s", service);
    char *passfile = s_conninfo_quote(s_env.passfile);
    char *dsn = s_printf("host=127.0.0.1 port=%s dbname=%s user=kontor_%s passfile=%s "
                         "connect_timeout=5 application_name=kt_harness",
                         s_env.pg_port, self->db, service, passfile);
    free(passfile);
    return dsn;
}

//  --------------------------------------------------------------------------
//  SQL checks

kt_pg_t *kth_admin(kth_set_t *self)
{
    assert(self);
    return self->admin;
}

const char *kth_admin_dsn(kth_set_t *self)
{
    assert(self);
    return self->admin_dsn;
}

char *kth_sql_value(kth_set_t *self, const char *sql)
{
    assert(self && sql);
    PGresult *res = PQexec(kt_pg_conn(self->admin), sql);
    char *value = NULL;
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        fprintf(stderr, "kth: query failed: %s\nkth: the query: %s\n",
                PQerrorMessage(kt_pg_conn(self->admin)), sql);
    else if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0 &&
             !PQgetisnull(res, 0, 0))
        value = s_strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return value;
}

int64_t kth_sql_i64(kth_set_t *self, const char *sql)
{
    char *text = kth_sql_value(self, sql);
    if (text == NULL)
        return INT64_MIN;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    bool ok = errno == 0 && end != text && *end == '\0';
    if (!ok)
        fprintf(stderr, "kth: not a 64-bit integer: '%s' from: %s\n", text, sql);
    free(text);
    return ok ? (int64_t)v : INT64_MIN;
}

//  The printf-style SQL into sql[KTH_SQL_MAX]; SQL that does not fit fails
//  the test.
static void s_vsql(char *sql, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void s_vsql(char *sql, const char *fmt, va_list ap)
{
    int n = vsnprintf(sql, KTH_SQL_MAX, fmt, ap);
    if (n < 0 || n >= KTH_SQL_MAX)
        s_fail("SQL longer than %d bytes: %.200s...", KTH_SQL_MAX - 1, sql);
}

char *kth_sql_valuef(kth_set_t *self, const char *fmt, ...)
{
    char sql[KTH_SQL_MAX];
    va_list ap;
    va_start(ap, fmt);
    s_vsql(sql, fmt, ap);
    va_end(ap);
    return kth_sql_value(self, sql);
}

int64_t kth_sql_i64f(kth_set_t *self, const char *fmt, ...)
{
    char sql[KTH_SQL_MAX];
    va_list ap;
    va_start(ap, fmt);
    s_vsql(sql, fmt, ap);
    va_end(ap);
    return kth_sql_i64(self, sql);
}

void kth_sql_exec(kth_set_t *self, const char *sql)
{
    assert(self && sql);
    if (kt_pg_command(self->admin, sql) != 0)
        s_fail("SQL failed: %s\nkth: the SQL: %s", kt_pg_error(self->admin), sql);
}

void kth_outbox(kth_set_t *self, const char *producer, const char *type,
                const ProtobufCMessage *msg)
{
    assert(self && producer && type && msg);
    int index = s_service_index(producer);
    if (index < 0)
        s_fail("not a service with an outbox: %s", producer);
    size_t len;
    uint8_t *payload = kt_msg_pack(msg, &len);
    if (payload == NULL)
        s_die("out of memory");
    const char *params[] = {type, (const char *)payload};
    const int lengths[] = {0, (int)len};
    const int formats[] = {0, 1}; //  the payload is binary (bytea)
    PGresult *res = kt_pg_exec_bin(self->admin, &s_outbox_insert[index], params, lengths, formats);
    free(payload);
    if (res == NULL)
        s_fail("could not write %s into %s.outbox: %s", type, producer, kt_pg_error(self->admin));
    PQclear(res);
}

void kth_outbox_fill(kth_set_t *self, const char *producer, const char *type, int n, int per_tx)
{
    assert(self && producer && type && per_tx > 0);
    if (!s_is_service(producer))
        s_fail("not a service with an outbox: %s", producer);
    char sql[KTH_SQL_MAX];
    for (int done = 0; done < n; done += per_tx) {
        int k = n - done < per_tx ? n - done : per_tx;
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s.outbox (type, payload)"
                 " SELECT '%s', int8send(g) FROM generate_series(1, %d) g",
                 producer, type, k);
        kth_sql_exec(self, sql);
    }
}

//  --------------------------------------------------------------------------
//  HTTP and waiting

int kth_http_get(int port, const char *path, char **body)
{
    if (body)
        *body = NULL;
    if (port <= 0 || port > 65535 || path == NULL)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {KTH_HTTP_MS / 1000, (KTH_HTTP_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    char request[512];
    int n =
        snprintf(request, sizeof request,
                 "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port);
    if (n < 0 || (size_t)n >= sizeof request || send(fd, request, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int64_t deadline = s_now_ms() + KTH_HTTP_MS;
    bool complete = false;
    while (s_now_ms() < deadline && len < KTH_HTTP_MAX) {
        char chunk[4096];
        ssize_t got = recv(fd, chunk, sizeof chunk, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            complete = got == 0;
            break;
        }
        if (len + (size_t)got + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            while (len + (size_t)got + 1 > cap)
                cap *= 2;
            char *more = realloc(buf, cap);
            if (more == NULL)
                break;
            buf = more;
        }
        memcpy(buf + len, chunk, (size_t)got);
        len += (size_t)got;
        buf[len] = '\0';
    }
    close(fd);
    int status = -1;
    int major, minor;
    if (complete && buf != NULL && sscanf(buf, "HTTP/%d.%d %d", &major, &minor, &status) == 3 &&
        status >= 100 && status <= 599) {
        char *start = strstr(buf, "\r\n\r\n");
        if (body)
            *body = s_strdup(start ? start + 4 : "");
    } else
        status = -1;
    free(buf);
    return status;
}

int64_t kth_metric(int port, const char *prefix)
{
    assert(prefix);
    char *body = NULL;
    if (kth_http_get(port, "/metrics", &body) != 200) {
        free(body);
        return -1;
    }
    size_t len = strlen(prefix);
    int64_t total = -1;
    char *save = NULL;
    for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, prefix, len) != 0)
            continue;
        const char *value = strrchr(line, ' ');
        total = (total < 0 ? 0 : total) + strtoll(value ? value + 1 : line, NULL, 10);
    }
    free(body);
    return total;
}

//  What kth_wait_metric waits for.
typedef struct {
    int port;           //  whose /metrics
    const char *prefix; //  the series to sum (kth_metric)
    int64_t want;       //  the least value waited for
    int64_t last;       //  the value seen last
} s_metric_wait_t;

static bool s_metric_reached(void *arg)
{
    s_metric_wait_t *wait = arg;
    wait->last = kth_metric(wait->port, wait->prefix);
    return wait->last >= wait->want;
}

bool kth_wait_metric(int port, const char *prefix, int64_t want, int timeout_ms)
{
    assert(prefix);
    s_metric_wait_t wait = {port, prefix, want, -1};
    if (kth_wait_for(s_metric_reached, &wait, timeout_ms))
        return true;
    print_message("# waited %d ms for %s on port %d >= %lld, have %lld\n", timeout_ms, prefix, port,
                  (long long)want, (long long)wait.last);
    return false;
}

bool kth_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    assert(cond);
    int64_t deadline = s_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (cond(arg))
            return true;
        if (s_now_ms() >= deadline)
            return false;
        s_nap_ms(KTH_POLL_MS);
    }
}

//  What kth_wait_sql and kth_wait_sql_min wait for.
typedef struct {
    kth_set_t *set;  //  whose database
    const char *sql; //  the number to watch
    int64_t want;    //  the value waited for
    bool at_least;   //  true: `want` or more; false: exactly `want`
    int64_t last;    //  the value seen last
} s_sql_wait_t;

static bool s_sql_reached(void *arg)
{
    s_sql_wait_t *wait = arg;
    wait->last = kth_sql_i64(wait->set, wait->sql);
    return wait->at_least ? wait->last >= wait->want : wait->last == wait->want;
}

static bool s_wait_sql(kth_set_t *self, const char *sql, int64_t want, bool at_least,
                       int timeout_ms)
{
    assert(self && sql);
    s_sql_wait_t wait = {self, sql, want, at_least, INT64_MIN};
    if (kth_wait_for(s_sql_reached, &wait, timeout_ms))
        return true;
    print_message("# waited %d ms for %s %s %lld, have %lld\n", timeout_ms, sql,
                  at_least ? ">=" : "=", (long long)want, (long long)wait.last);
    return false;
}

bool kth_wait_sql(kth_set_t *self, const char *sql, int64_t want, int timeout_ms)
{
    return s_wait_sql(self, sql, want, false, timeout_ms);
}

bool kth_wait_sql_min(kth_set_t *self, const char *sql, int64_t want, int timeout_ms)
{
    return s_wait_sql(self, sql, want, true, timeout_ms);
}

bool kth_wait_sqlf(kth_set_t *self, int64_t want, int timeout_ms, const char *fmt, ...)
{
    char sql[KTH_SQL_MAX];
    va_list ap;
    va_start(ap, fmt);
    s_vsql(sql, fmt, ap);
    va_end(ap);
    return kth_wait_sql(self, sql, want, timeout_ms);
}
