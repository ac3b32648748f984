/*  kt_config - a process's configuration, from KONTOR_* environment variables.
 *
 *  KONTOR_HOME is read first because the defaults of the key, certificate,
 *  database and Redis settings live under it. A variable set to the empty
 *  string counts as unset. Numbers are parsed strictly: base 10, the whole
 *  value, within the documented range. A string that does not fit its field
 *  is refused rather than cut, since a cut path or DSN points somewhere else.
 */
#include "kt_config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt_log.h"

#define S_SHOW_MAX 68 //  longest echoed value in a sentence, plus NUL

static void s_why(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_why(char *why, size_t why_size, const char *fmt, ...)
{
    if (why == NULL || why_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
}

//  The variable's value, or NULL when it is unset or empty.
static const char *s_env(const char *name)
{
    const char *value = getenv(name);
    return value != NULL && *value != '\0' ? value : NULL;
}

//  Copy `value` (from variable `name`) into a field of `size` bytes; -1 if it
//  does not fit.
static int s_set(const char *name, char *field, size_t size, const char *value, char *why,
                 size_t why_size)
{
    size_t len = strlen(value);
    if (len >= size) {
        s_why(why, why_size, "%s is too long: %zu bytes, at most %zu", name, len, size - 1);
        return -1;
    }
    memcpy(field, value, len + 1);
    return 0;
}

//  field = the variable, or the default when it is unset.
static int s_string(const char *name, const char *fallback, char *field, size_t size, char *why,
                    size_t why_size)
{
    const char *value = s_env(name);
    return s_set(name, field, size, value != NULL ? value : fallback, why, why_size);
}

//  field = the variable, or the default built from a format when it is unset.
static int s_string_fmt(const char *name, char *field, size_t size, char *why, size_t why_size,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int s_string_fmt(const char *name, char *field, size_t size, char *why, size_t why_size,
                        const char *fmt, ...)
{
    const char *value = s_env(name);
    if (value != NULL)
        return s_set(name, field, size, value, why, why_size);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(field, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        s_why(why, why_size, "%s is not set and its default is too long: %d bytes, at most %zu",
              name, n, size - 1);
        return -1;
    }
    return 0;
}

//  *out = the variable as a whole number in [min, max], or the default.
static int s_long(const char *name, long fallback, long min, long max, long *out, char *why,
                  size_t why_size)
{
    const char *value = s_env(name);
    if (value == NULL) {
        *out = fallback;
        return 0;
    }
    //  strtol skips leading spaces and accepts '+'; a whole number here is
    //  an optional '-' and digits, nothing else.
    char *end = NULL;
    bool shape = value[0] == '-' || (value[0] >= '0' && value[0] <= '9');
    errno = 0;
    long n = shape ? strtol(value, &end, 10) : 0;
    if (!shape || errno != 0 || end == value || *end != '\0' || n < min || n > max) {
        char shown[S_SHOW_MAX];
        s_why(why, why_size, "%s must be a whole number from %ld to %ld: \"%s\"", name, min, max,
              kt_log_clean(shown, sizeof shown, value, strlen(value)));
        return -1;
    }
    *out = n;
    return 0;
}

static int s_int(const char *name, int fallback, int min, int max, int *out, char *why,
                 size_t why_size)
{
    long n;
    if (s_long(name, fallback, min, max, &n, why, why_size) != 0)
        return -1;
    *out = (int)n;
    return 0;
}

//  libpq conninfo value: as is when plain, else single-quoted with quotes and
//  backslashes escaped, so a home folder with spaces still makes a valid DSN.
static int s_conninfo_value(const char *value, char *buf, size_t size)
{
    bool plain = *value != '\0' && strpbrk(value, " \t\n\r\f\v'\\") == NULL;
    size_t j = 0;
    if (!plain && j < size)
        buf[j++] = '\'';
    for (const char *p = value; *p != '\0'; p++) {
        if (!plain && (*p == '\'' || *p == '\\') && j < size)
            buf[j++] = '\\';
        if (j < size)
            buf[j++] = *p;
    }
    if (!plain && j < size)
        buf[j++] = '\'';
    if (j >= size)
        return -1;
    buf[j] = '\0';
    return 0;
}

//  The Redis password: KONTOR_REDIS_PASSWORD, else the first line of
//  <home>/redis.pass if it can be read, else none.
static int s_redis_password(kt_config_t *cfg, char *why, size_t why_size)
{
    const char *name = "KONTOR_REDIS_PASSWORD";
    const char *value = s_env(name);
    if (value != NULL)
        return s_set(name, cfg->redis_password, sizeof cfg->redis_password, value, why, why_size);
    cfg->redis_password[0] = '\0';
    char path[KT_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/redis.pass", cfg->home);
    FILE *file = fopen(path, "re");
    if (file == NULL)
        return 0;
    char line[sizeof cfg->redis_password + 2];
    int rc = 0;
    if (fgets(line, sizeof line, file) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        rc = s_set("the first line of KONTOR_HOME/redis.pass", cfg->redis_password,
                   sizeof cfg->redis_password, line, why, why_size);
    }
    fclose(file);
    return rc;
}

int kt_config_default_http_port(const char *service)
{
    static const struct {
        const char *service;
        int port;
    } ports[] = {
        {"bus", 18080},       {"clients", 18081},     {"orders", 18082},
        {"logistics", 18083}, {"receivables", 18084},
    };
    if (service == NULL)
        return 0;
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (strcmp(ports[i].service, service) == 0)
            return ports[i].port;
    return 0;
}

int kt_config_load(kt_config_t *cfg, const char *service, char *why, size_t why_size)
{
    assert(cfg && service);
    memset(cfg, 0, sizeof *cfg);
    if (s_set("the service name", cfg->service, sizeof cfg->service, service, why, why_size) != 0)
        return -1;

    char cwd[KT_PATH_MAX] = "";
    const char *home = s_env("KONTOR_HOME");
    if (home == NULL) {
        if (getcwd(cwd, sizeof cwd) == NULL) {
            s_why(why, why_size,
                  "KONTOR_HOME is not set and the current folder could not be read: %s",
                  strerror(errno));
            return -1;
        }
    }
    if (s_string_fmt("KONTOR_HOME", cfg->home, sizeof cfg->home, why, why_size, "%s/.kontor",
                     cwd) != 0)
        return -1;

    char host[64];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    //  Cut a long host name so that ":<pid>" always fits the instance field.
    char instance[sizeof cfg->instance];
    snprintf(instance, sizeof instance, "%.*s:%ld", 40, host, (long)getpid());

    char passfile[KT_PATH_MAX * 2 + 16];
    char passfile_path[KT_PATH_MAX + 16];
    snprintf(passfile_path, sizeof passfile_path, "%s/pgpass", cfg->home);
    if (s_conninfo_value(passfile_path, passfile, sizeof passfile) != 0)
        passfile[0] = '\0'; //  cannot happen: passfile has room for every byte escaped

    long retention = 0;
    int rc =
        s_string("KONTOR_INSTANCE", instance, cfg->instance, sizeof cfg->instance, why, why_size) ||
        s_string("KONTOR_BUS", "tcp://127.0.0.1:15555", cfg->bus, sizeof cfg->bus, why, why_size) ||
        s_string("KONTOR_EVENTS_IN", "tcp://127.0.0.1:15556", cfg->events_in, sizeof cfg->events_in,
                 why, why_size) ||
        s_string("KONTOR_EVENTS_OUT", "tcp://127.0.0.1:15557", cfg->events_out,
                 sizeof cfg->events_out, why, why_size) ||
        s_string_fmt("KONTOR_KEYS", cfg->keys_dir, sizeof cfg->keys_dir, why, why_size,
                     "%s/keys/allow", cfg->home) ||
        s_string_fmt("KONTOR_CERT", cfg->cert, sizeof cfg->cert, why, why_size,
                     "%s/keys/secret/%s.secret", cfg->home, cfg->service) ||
        s_string_fmt("KONTOR_BUS_CERT", cfg->bus_cert, sizeof cfg->bus_cert, why, why_size,
                     "%s/keys/allow/bus.cert", cfg->home) ||
        s_string_fmt("KONTOR_PG_DSN", cfg->pg_dsn, sizeof cfg->pg_dsn, why, why_size,
                     "host=127.0.0.1 port=15432 dbname=kontor user=kontor_%s "
                     "passfile=%s connect_timeout=5 application_name=kontor-%s",
                     cfg->service, passfile, cfg->service) ||
        s_string("KONTOR_REDIS_HOST", "127.0.0.1", cfg->redis_host, sizeof cfg->redis_host, why,
                 why_size) ||
        s_int("KONTOR_REDIS_PORT", 16379, 1, 65535, &cfg->redis_port, why, why_size) ||
        s_redis_password(cfg, why, why_size) ||
        s_int("KONTOR_WORKERS", 4, 1, 256, &cfg->workers, why, why_size) ||
        s_int("KONTOR_HTTP_PORT", kt_config_default_http_port(service), 0, 65535, &cfg->http_port,
              why, why_size) ||
        s_string("KONTOR_HTTP_HOST", "127.0.0.1", cfg->http_host, sizeof cfg->http_host, why,
                 why_size) ||
        s_int("KONTOR_TIMEOUT_MS", 5000, 10, 600000, &cfg->timeout_ms, why, why_size) ||
        s_int("KONTOR_HEARTBEAT_MS", 1000, 50, 60000, &cfg->heartbeat_ms, why, why_size) ||
        s_int("KONTOR_LIVENESS", 3, 1, 100, &cfg->liveness, why, why_size) ||
        s_long("KONTOR_OUTBOX_RETENTION_S", 604800, 60, 31536000, &retention, why, why_size) ||
        s_int("KONTOR_MAX_MSG", 1048576, 1024, 67108864, &cfg->max_msg_bytes, why, why_size);
    if (rc != 0)
        return -1;
    cfg->outbox_retention_s = retention;

    const char *level = s_env("KONTOR_LOG_LEVEL");
    cfg->log_level = KT_LOG_INFO;
    if (level != NULL) {
        cfg->log_level = kt_log_level_from_name(level);
        if (cfg->log_level < 0) {
            char shown[S_SHOW_MAX];
            s_why(why, why_size, "KONTOR_LOG_LEVEL must be one of debug, info, warn, error: \"%s\"",
                  kt_log_clean(shown, sizeof shown, level, strlen(level)));
            return -1;
        }
    }
    return 0;
}
