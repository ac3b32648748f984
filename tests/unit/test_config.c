/*  test_config - defaults, overrides from the environment, and every bad value refused by name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt_config.h"
#include "kt_log.h"

static const char *const s_vars[] = {
    "KONTOR_HOME",       "KONTOR_INSTANCE",     "KONTOR_BUS",        "KONTOR_EVENTS_IN",
    "KONTOR_EVENTS_OUT", "KONTOR_KEYS",         "KONTOR_CERT",       "KONTOR_BUS_CERT",
    "KONTOR_PG_DSN",     "KONTOR_REDIS_HOST",   "KONTOR_REDIS_PORT", "KONTOR_REDIS_PASSWORD",
    "KONTOR_WORKERS",    "KONTOR_HTTP_PORT",    "KONTOR_HTTP_HOST",  "KONTOR_LOG_LEVEL",
    "KONTOR_TIMEOUT_MS", "KONTOR_HEARTBEAT_MS", "KONTOR_LIVENESS",   "KONTOR_OUTBOX_RETENTION_S",
    "KONTOR_MAX_MSG",
};

//  Each test starts from an environment with no KONTOR_* variable.
static int s_clear_env(void **state)
{
    for (size_t i = 0; i < sizeof s_vars / sizeof s_vars[0]; i++)
        unsetenv(s_vars[i]);
    return 0;
}

static void test_defaults(void **state)
{
    kt_config_t cfg;
    char why[256] = "";
    //  A home with no redis.pass, so the password default is empty.
    char home[] = "/tmp/kt_config_XXXXXX";
    assert_non_null(mkdtemp(home));
    char cwd[KT_PATH_MAX], expect[KT_DSN_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(home), 0);

    int rc = kt_config_load(&cfg, "orders", why, sizeof why);
    assert_int_equal(chdir(cwd), 0);
    if (rc != 0)
        fail_msg("load failed: %s", why);

    assert_string_equal(cfg.service, "orders");
    //  mkdtemp's path may go through a symlink; getcwd gives the real one.
    char real_home[KT_PATH_MAX];
    assert_non_null(realpath(home, real_home));
    snprintf(expect, sizeof expect, "%s/.kontor", real_home);
    assert_string_equal(cfg.home, expect);

    char host[64];
    assert_int_equal(gethostname(host, sizeof host), 0);
    host[sizeof host - 1] = '\0';
    snprintf(expect, sizeof expect, "%.40s:%ld", host, (long)getpid());
    assert_string_equal(cfg.instance, expect);

    assert_string_equal(cfg.bus, "tcp://127.0.0.1:15555");
    assert_string_equal(cfg.events_in, "tcp://127.0.0.1:15556");
    assert_string_equal(cfg.events_out, "tcp://127.0.0.1:15557");
    snprintf(expect, sizeof expect, "%s/.kontor/keys/allow", real_home);
    assert_string_equal(cfg.keys_dir, expect);
    snprintf(expect, sizeof expect, "%s/.kontor/keys/secret/orders.secret", real_home);
    assert_string_equal(cfg.cert, expect);
    snprintf(expect, sizeof expect, "%s/.kontor/keys/allow/bus.cert", real_home);
    assert_string_equal(cfg.bus_cert, expect);
    snprintf(expect, sizeof expect,
             "host=127.0.0.1 port=15432 dbname=kontor user=kontor_orders "
             "passfile=%s/.kontor/pgpass connect_timeout=5 application_name=kontor-orders",
             real_home);
    assert_string_equal(cfg.pg_dsn, expect);
    assert_string_equal(cfg.redis_host, "127.0.0.1");
    assert_int_equal(cfg.redis_port, 16379);
    assert_string_equal(cfg.redis_password, "");
    assert_int_equal(cfg.workers, 4);
    assert_int_equal(cfg.http_port, 18082);
    assert_string_equal(cfg.http_host, "127.0.0.1");
    assert_int_equal(cfg.log_level, KT_LOG_INFO);
    assert_int_equal(cfg.timeout_ms, 5000);
    assert_int_equal(cfg.heartbeat_ms, 1000);
    assert_int_equal(cfg.liveness, 3);
    assert_int_equal(cfg.outbox_retention_s, 604800);
    assert_int_equal(cfg.max_msg_bytes, 1048576);
    assert_int_equal(rmdir(home), 0);
}

static void test_default_http_ports(void **state)
{
    assert_int_equal(kt_config_default_http_port("bus"), 18080);
    assert_int_equal(kt_config_default_http_port("clients"), 18081);
    assert_int_equal(kt_config_default_http_port("orders"), 18082);
    assert_int_equal(kt_config_default_http_port("logistics"), 18083);
    assert_int_equal(kt_config_default_http_port("receivables"), 18084);
    assert_int_equal(kt_config_default_http_port("kontor"), 0);
    assert_int_equal(kt_config_default_http_port(""), 0);
    assert_int_equal(kt_config_default_http_port(NULL), 0);

    kt_config_t cfg;
    char why[256];
    setenv("KONTOR_HOME", "/tmp/kt-none", 1);
    assert_int_equal(kt_config_load(&cfg, "kontor", why, sizeof why), 0);
    assert_int_equal(cfg.http_port, 0);
    assert_int_equal(kt_config_load(&cfg, "bus", why, sizeof why), 0);
    assert_int_equal(cfg.http_port, 18080);
}

static void test_overrides(void **state)
{
    setenv("KONTOR_HOME", "/srv/kontor", 1);
    setenv("KONTOR_INSTANCE", "orders-a", 1);
    setenv("KONTOR_BUS", "tcp://10.0.0.1:5555", 1);
    setenv("KONTOR_EVENTS_IN", "tcp://10.0.0.1:5556", 1);
    setenv("KONTOR_EVENTS_OUT", "tcp://10.0.0.1:5557", 1);
    setenv("KONTOR_KEYS", "/etc/kontor/allow", 1);
    setenv("KONTOR_CERT", "/etc/kontor/orders.secret", 1);
    setenv("KONTOR_BUS_CERT", "/etc/kontor/bus.cert", 1);
    setenv("KONTOR_PG_DSN", "host=db dbname=kontor", 1);
    setenv("KONTOR_REDIS_HOST", "redis.local", 1);
    setenv("KONTOR_REDIS_PORT", "6379", 1);
    setenv("KONTOR_REDIS_PASSWORD", "s3cret", 1);
    setenv("KONTOR_WORKERS", "256", 1);
    setenv("KONTOR_HTTP_PORT", "0", 1);
    setenv("KONTOR_HTTP_HOST", "0.0.0.0", 1);
    setenv("KONTOR_LOG_LEVEL", "debug", 1);
    setenv("KONTOR_TIMEOUT_MS", "600000", 1);
    setenv("KONTOR_HEARTBEAT_MS", "50", 1);
    setenv("KONTOR_LIVENESS", "100", 1);
    setenv("KONTOR_OUTBOX_RETENTION_S", "31536000", 1);
    setenv("KONTOR_MAX_MSG", "1024", 1);

    kt_config_t cfg;
    char why[256] = "";
    if (kt_config_load(&cfg, "orders", why, sizeof why) != 0)
        fail_msg("load failed: %s", why);
    assert_string_equal(cfg.home, "/srv/kontor");
    assert_string_equal(cfg.instance, "orders-a");
    assert_string_equal(cfg.bus, "tcp://10.0.0.1:5555");
    assert_string_equal(cfg.events_in, "tcp://10.0.0.1:5556");
    assert_string_equal(cfg.events_out, "tcp://10.0.0.1:5557");
    assert_string_equal(cfg.keys_dir, "/etc/kontor/allow");
    assert_string_equal(cfg.cert, "/etc/kontor/orders.secret");
    assert_string_equal(cfg.bus_cert, "/etc/kontor/bus.cert");
    assert_string_equal(cfg.pg_dsn, "host=db dbname=kontor");
    assert_string_equal(cfg.redis_host, "redis.local");
    assert_int_equal(cfg.redis_port, 6379);
    assert_string_equal(cfg.redis_password, "s3cret");
    assert_int_equal(cfg.workers, 256);
    assert_int_equal(cfg.http_port, 0);
    assert_string_equal(cfg.http_host, "0.0.0.0");
    assert_int_equal(cfg.log_level, KT_LOG_DEBUG);
    assert_int_equal(cfg.timeout_ms, 600000);
    assert_int_equal(cfg.heartbeat_ms, 50);
    assert_int_equal(cfg.liveness, 100);
    assert_int_equal(cfg.outbox_retention_s, 31536000);
    assert_int_equal(cfg.max_msg_bytes, 1024);
}

//  Paths under KONTOR_HOME follow it; an empty variable means the default.
static void test_home_and_empty(void **state)
{
    setenv("KONTOR_HOME", "/srv/my kontor", 1);
    setenv("KONTOR_WORKERS", "", 1);
    setenv("KONTOR_BUS", "", 1);
    kt_config_t cfg;
    char why[256] = "";
    if (kt_config_load(&cfg, "receivables", why, sizeof why) != 0)
        fail_msg("load failed: %s", why);
    assert_int_equal(cfg.workers, 4);
    assert_string_equal(cfg.bus, "tcp://127.0.0.1:15555");
    assert_string_equal(cfg.keys_dir, "/srv/my kontor/keys/allow");
    assert_string_equal(cfg.cert, "/srv/my kontor/keys/secret/receivables.secret");
    assert_string_equal(cfg.bus_cert, "/srv/my kontor/keys/allow/bus.cert");
    //  A home with a space is quoted so the DSN still parses.
    assert_string_equal(cfg.pg_dsn,
                        "host=127.0.0.1 port=15432 dbname=kontor user=kontor_receivables "
                        "passfile='/srv/my kontor/pgpass' connect_timeout=5 "
                        "application_name=kontor-receivables");
}

static void test_redis_pass_file(void **state)
{
    char home[] = "/tmp/kt_config_XXXXXX";
    assert_non_null(mkdtemp(home));
    char path[KT_PATH_MAX];
    snprintf(path, sizeof path, "%s/redis.pass", home);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("from-file\r\nsecond line\n", f);
    fclose(f);
    setenv("KONTOR_HOME", home, 1);

    kt_config_t cfg;
    char why[256] = "";
    if (kt_config_load(&cfg, "orders", why, sizeof why) != 0)
        fail_msg("load failed: %s", why);
    assert_string_equal(cfg.redis_password, "from-file");

    //  The variable wins over the file.
    setenv("KONTOR_REDIS_PASSWORD", "from-env", 1);
    assert_int_equal(kt_config_load(&cfg, "orders", why, sizeof why), 0);
    assert_string_equal(cfg.redis_password, "from-env");
    unsetenv("KONTOR_REDIS_PASSWORD");

    //  A first line longer than the field is refused, not cut.
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputc('p', f);
    fputc('\n', f);
    fclose(f);
    assert_int_equal(kt_config_load(&cfg, "orders", why, sizeof why), -1);
    assert_non_null(strstr(why, "redis.pass"));

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(home), 0);
}

static void test_bad_values(void **state)
{
    static const struct {
        const char *var, *value, *why;
    } cases[] = {
        {"KONTOR_WORKERS", "abc", "KONTOR_WORKERS must be a whole number from 1 to 256: \"abc\""},
        {"KONTOR_WORKERS", "0", "KONTOR_WORKERS must be a whole number from 1 to 256: \"0\""},
        {"KONTOR_WORKERS", "257", NULL},
        {"KONTOR_WORKERS", "-1", NULL},
        {"KONTOR_WORKERS", "4x", NULL},
        {"KONTOR_WORKERS", " 4", NULL},
        {"KONTOR_WORKERS", "+4", NULL},
        {"KONTOR_WORKERS", "4.0", NULL},
        {"KONTOR_WORKERS", "0x10", NULL},
        {"KONTOR_WORKERS", "99999999999999999999999", NULL},
        {"KONTOR_WORKERS", "-", NULL},
        {"KONTOR_REDIS_PORT", "0", NULL},
        {"KONTOR_REDIS_PORT", "65536", NULL},
        {"KONTOR_HTTP_PORT", "-1", NULL},
        {"KONTOR_HTTP_PORT", "65536", NULL},
        {"KONTOR_HTTP_PORT", "http", NULL},
        {"KONTOR_TIMEOUT_MS", "9", NULL},
        {"KONTOR_TIMEOUT_MS", "600001", NULL},
        {"KONTOR_HEARTBEAT_MS", "49", NULL},
        {"KONTOR_HEARTBEAT_MS", "60001", NULL},
        {"KONTOR_LIVENESS", "0", NULL},
        {"KONTOR_LIVENESS", "101", NULL},
        {"KONTOR_OUTBOX_RETENTION_S", "59", NULL},
        {"KONTOR_OUTBOX_RETENTION_S", "31536001", NULL},
        {"KONTOR_MAX_MSG", "1023", NULL},
        {"KONTOR_MAX_MSG", "67108865", NULL},
        {"KONTOR_LOG_LEVEL", "verbose",
         "KONTOR_LOG_LEVEL must be one of debug, info, warn, error: \"verbose\""},
        {"KONTOR_LOG_LEVEL", "INFO", NULL},
        //  A value from outside is echoed cleaned.
        {"KONTOR_WORKERS", "4\n5", "KONTOR_WORKERS must be a whole number from 1 to 256: \"4?5\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_clear_env(NULL);
        setenv("KONTOR_HOME", "/tmp/kt-none", 1);
        setenv(cases[i].var, cases[i].value, 1);
        kt_config_t cfg;
        char why[256] = "";
        if (kt_config_load(&cfg, "orders", why, sizeof why) != -1)
            fail_msg("%s=\"%s\" was accepted", cases[i].var, cases[i].value);
        if (strncmp(why, cases[i].var, strlen(cases[i].var)) != 0)
            fail_msg("%s=\"%s\": sentence does not name it: %s", cases[i].var, cases[i].value, why);
        if (cases[i].why != NULL)
            assert_string_equal(why, cases[i].why);
    }
}

//  Every string variable is refused, by name, when it does not fit its field.
static void test_too_long(void **state)
{
    static const char *const strings[] = {
        "KONTOR_HOME",       "KONTOR_INSTANCE",       "KONTOR_BUS",
        "KONTOR_EVENTS_IN",  "KONTOR_EVENTS_OUT",     "KONTOR_KEYS",
        "KONTOR_CERT",       "KONTOR_BUS_CERT",       "KONTOR_PG_DSN",
        "KONTOR_REDIS_HOST", "KONTOR_REDIS_PASSWORD", "KONTOR_HTTP_HOST",
    };
    char long_value[KT_DSN_MAX + 10];
    memset(long_value, 'v', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        s_clear_env(NULL);
        if (strcmp(strings[i], "KONTOR_HOME") != 0)
            setenv("KONTOR_HOME", "/tmp/kt-none", 1);
        setenv(strings[i], long_value, 1);
        kt_config_t cfg;
        char why[256] = "";
        if (kt_config_load(&cfg, "orders", why, sizeof why) != -1)
            fail_msg("a long %s was accepted", strings[i]);
        if (strncmp(why, strings[i], strlen(strings[i])) != 0)
            fail_msg("long %s: sentence does not name it: %s", strings[i], why);
        assert_non_null(strstr(why, "is too long"));
    }
    //  Exactly the field size minus one fits.
    s_clear_env(NULL);
    setenv("KONTOR_HOME", "/tmp/kt-none", 1);
    long_value[63] = '\0';
    setenv("KONTOR_INSTANCE", long_value, 1);
    kt_config_t cfg;
    char why[256];
    assert_int_equal(kt_config_load(&cfg, "orders", why, sizeof why), 0);
    assert_int_equal(strlen(cfg.instance), 63);
    long_value[63] = 'v';
    long_value[64] = '\0';
    setenv("KONTOR_INSTANCE", long_value, 1);
    assert_int_equal(kt_config_load(&cfg, "orders", why, sizeof why), -1);
    assert_string_equal(why, "KONTOR_INSTANCE is too long: 64 bytes, at most 63");

    //  A home that fits but makes a derived default too long is refused by name.
    s_clear_env(NULL);
    char home[KT_PATH_MAX];
    memset(home, 'h', sizeof home - 1);
    home[0] = '/';
    home[sizeof home - 1] = '\0';
    setenv("KONTOR_HOME", home, 1);
    assert_int_equal(kt_config_load(&cfg, "orders", why, sizeof why), -1);
    assert_non_null(strstr(why, "KONTOR_KEYS"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, s_clear_env),
        cmocka_unit_test_setup(test_default_http_ports, s_clear_env),
        cmocka_unit_test_setup(test_overrides, s_clear_env),
        cmocka_unit_test_setup(test_home_and_empty, s_clear_env),
        cmocka_unit_test_setup(test_redis_pass_file, s_clear_env),
        cmocka_unit_test_setup(test_bad_values, s_clear_env),
        cmocka_unit_test_setup(test_too_long, s_clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
