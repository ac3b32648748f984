/*  it_cli - the kontor command line against a real set: bus and all four services.
 *
 *  Runs the kontor binary as a user would (kth_run) and reads what it
 *  prints: describe lists every service and method; call reaches every
 *  method every service reports in its Describe, so the test grows as
 *  methods are added; replies parse as JSON; each exit code (1 refused,
 *  2 usage, 3 unreachable) and each wrong name with its nearest right one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt_harness.h"

#define S_ARGS_MAX 16

static kth_set_t *s_set;
static const char *const s_services[] = {"clients", "orders", "logistics", "receivables"};
#define S_NSERVICES (sizeof s_services / sizeof s_services[0])

//  What one run of kontor did.
typedef struct {
    int rc;    //  exit status
    char *out; //  standard output (owned)
    char *err; //  standard error (owned)
} s_result_t;

static void s_result_clear(s_result_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

//  Run kontor as `principal` with the arguments that follow (NULL-ended)
//  and `input` on standard input. kontor runs under its own sanitizer: a
//  leak or an error report there is a non-zero exit status, which every
//  check below sees.
static s_result_t s_kontor_in(const char *principal, const char *input, ...)
{
    const char *argv[S_ARGS_MAX + 1];
    int argc = 0;
    va_list ap;
    va_start(ap, input);
    const char *arg;
    while ((arg = va_arg(ap, const char *)) != NULL) {
        assert_true(argc < S_ARGS_MAX);
        argv[argc++] = arg;
    }
    va_end(ap);
    argv[argc] = NULL;
    s_result_t r = {0};
    r.rc = kth_run(s_set, principal, "kontor", argv, input, &r.out, &r.err);
    if (!r.out)
        r.out = strdup("");
    if (!r.err)
        r.err = strdup("");
    return r;
}

#define s_kontor(principal, ...) s_kontor_in(principal, NULL, __VA_ARGS__, (const char *)NULL)

//  Fail with what kontor printed unless `cond` holds.
#define S_EXPECT(r, cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("%s failed: exit %d\n--- stdout\n%s\n--- stderr\n%s", #cond, (r).rc, (r).out, \
                     (r).err);                                                                     \
    } while (0)

static struct json_object *s_json(const s_result_t *r)
{
    struct json_object *json = json_tokener_parse(r->out);
    S_EXPECT(*r, json != NULL && json_object_is_type(json, json_type_object));
    return json;
}

static struct json_object *s_get(struct json_object *obj, const char *key)
{
    struct json_object *value = NULL;
    if (!json_object_object_get_ex(obj, key, &value))
        fail_msg("no \"%s\" in %s", key, json_object_to_json_string(obj));
    return value;
}

static int s_setup(void **state)
{
    s_set = kth_set_new("cli");
    kth_start_bus(s_set);
    for (size_t i = 0; i < S_NSERVICES; i++)
        kth_start_service(s_set, s_services[i], 1);
    return 0;
}

static int s_teardown(void **state)
{
    kth_set_destroy(&s_set);
    return 0;
}

//  ---------------------------------------------------------------- help and usage

static void test_help_says_what_each_command_does(void **state)
{
    s_result_t r = s_kontor("admin", "--help");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "status") && strstr(r.out, "describe") &&
                    strstr(r.out, "call") && strstr(r.out, "example"));
    s_result_clear(&r);
    const char *commands[] = {"status", "describe", "call"};
    for (size_t i = 0; i < 3; i++) {
        r = s_kontor("admin", commands[i], "--help");
        S_EXPECT(r, r.rc == 0 && strstr(r.out, "usage: kontor") && strstr(r.out, "example") &&
                        strstr(r.out, commands[i]));
        s_result_clear(&r);
    }
    r = s_kontor("admin", "help", "call");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "kontor call orders Status"));
    s_result_clear(&r);

    //  Usage errors exit 2 and say what is wrong.
    r = s_kontor("admin", "--timeout", "300");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "usage: kontor"));
    s_result_clear(&r);
    r = s_kontor("admin", "stauts");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "unknown command 'stauts'; did you mean 'status'?"));
    s_result_clear(&r);
    r = s_kontor("admin", "status", "--timeot", "5");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "did you mean '--timeout'?"));
    s_result_clear(&r);
    r = s_kontor("admin", "--timeout", "0", "status");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--timeout needs milliseconds"));
    s_result_clear(&r);
    r = s_kontor("admin", "call", "orders");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "call needs SERVICE METHOD"));
    s_result_clear(&r);
    r = s_kontor("admin", "describe", "orders", "Status", "extra");
    S_EXPECT(r, r.rc == 2);
    s_result_clear(&r);
    r = s_kontor("admin", "--as", "nobody", "call", "orders", "Status");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "no key for principal 'nobody'"));
    s_result_clear(&r);
    r = s_kontor("admin", "--as", "../admin", "status");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "--as needs a principal name"));
    s_result_clear(&r);
}

//  ---------------------------------------------------------------- status and describe

static void test_status_still_works(void **state)
{
    s_result_t r = s_kontor("admin", "status");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "SERVICE") && strstr(r.out, "DATABASE TIME"));
    for (size_t i = 0; i < S_NSERVICES; i++)
        S_EXPECT(r, strstr(r.out, s_services[i]) != NULL);
    s_result_clear(&r);
}

static void test_describe_lists_the_bus_and_every_service(void **state)
{
    s_result_t r = s_kontor("admin", "describe");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "bus  (the bus itself"));
    for (size_t i = 0; i < S_NSERVICES; i++) {
        char header[64];
        snprintf(header, sizeof header, "\n%s  (1 worker)\n", s_services[i]);
        S_EXPECT(r, strstr(r.out, header) != NULL);
    }
    S_EXPECT(r, strstr(r.out, "Describe") && strstr(r.out, "EventsSince"));
    s_result_clear(&r);
}

static void test_describe_a_service_and_a_method(void **state)
{
    s_result_t r = s_kontor("admin", "describe", "orders");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "orders: ") &&
                    strstr(r.out, "Status (kontor.StatusRequest) returns (kontor.StatusReply)") &&
                    strstr(r.out, "EventsSince (kontor.EventsSinceRequest)") &&
                    strstr(r.out, "Describe (kontor.DescribeRequest) returns "
                                  "(kontor.DescribeReply)") &&
                    strstr(r.out, "reads; any role"));
    s_result_clear(&r);

    r = s_kontor("admin", "describe", "orders", "EventsSince");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "request kontor.EventsSinceRequest {") &&
                    strstr(r.out, "  uint64 after_seq = 1;") &&
                    strstr(r.out, "reply kontor.EventsSinceReply {") &&
                    strstr(r.out, "  repeated kontor.Event events = 1 {") &&
                    strstr(r.out, "    bytes payload = 5;") &&
                    strstr(r.out, "roles: service, logistics-system, admin"));
    s_result_clear(&r);

    //  The bus describes itself; enums come with their values.
    r = s_kontor("admin", "describe", "bus", "Status");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "  repeated kontor.BusService services = 1 {") &&
                    strstr(r.out, "    uint32 queued = 4;"));
    s_result_clear(&r);
    r = s_kontor("admin", "describe", "kontor.Reply");
    S_EXPECT(r, r.rc == 0 && strstr(r.out, "  kontor.Status status = 2 {") &&
                    strstr(r.out, "    INVALID_ARGUMENT = 3;"));
    s_result_clear(&r);
}

//  ---------------------------------------------------------------- call

static void test_call_prints_replies_as_json(void **state)
{
    s_result_t r = s_kontor("admin", "call", "orders", "Status");
    struct json_object *json = s_json(&r);
    assert_string_equal(json_object_get_string(s_get(json, "service")), "orders");
    assert_true(json_object_is_type(s_get(json, "db_time_ms"), json_type_int));
    assert_true(json_object_get_int64(s_get(json, "db_time_ms")) > 1700000000000LL);
    assert_true(json_object_get_int64(s_get(json, "schema_version")) >= 1);
    assert_int_equal(json_object_get_int64(s_get(json, "workers")), 1);
    json_object_put(json);
    s_result_clear(&r);

    //  The bus's own Status, with every service in it.
    r = s_kontor("admin", "call", "bus", "Status", "{}");
    json = s_json(&r);
    struct json_object *services = s_get(json, "services");
    size_t found = 0;
    for (size_t i = 0; i < json_object_array_length(services); i++) {
        const char *name =
            json_object_get_string(s_get(json_object_array_get_idx(services, i), "name"));
        for (size_t k = 0; k < S_NSERVICES; k++)
            found += strcmp(name, s_services[k]) == 0;
    }
    assert_int_equal(found, S_NSERVICES);
    json_object_put(json);
    s_result_clear(&r);

    //  The request from standard input, over lines; the reply's fields all there.
    r = s_kontor_in("admin", "{\n  \"after_seq\": \"0\",\n  \"limit\": 5\n}\n", "call", "clients",
                    "EventsSince", "-", (const char *)NULL);
    json = s_json(&r);
    assert_true(json_object_is_type(s_get(json, "events"), json_type_array));
    s_get(json, "head_seq");
    s_get(json, "oldest_seq");
    json_object_put(json);
    s_result_clear(&r);

    //  Describe through call: the methods as JSON, types by full name.
    r = s_kontor("admin", "--timeout=4000", "call", "logistics", "Describe");
    json = s_json(&r);
    assert_string_equal(json_object_get_string(s_get(json, "service")), "logistics");
    struct json_object *methods = s_get(json, "methods");
    bool described = false;
    for (size_t i = 0; i < json_object_array_length(methods); i++) {
        struct json_object *m = json_object_array_get_idx(methods, i);
        if (strcmp(json_object_get_string(s_get(m, "name")), "Describe") == 0) {
            assert_string_equal(json_object_get_string(s_get(m, "request_type")),
                                "kontor.DescribeRequest");
            assert_false(json_object_get_boolean(s_get(m, "writes")));
            described = true;
        }
    }
    assert_true(described);
    json_object_put(json);
    s_result_clear(&r);
}

//  The test principal that may call a method of `service`, given its roles.
static const char *s_principal_for(struct json_object *roles, const char *service)
{
    static const struct {
        const char *role, *principal;
    } map[] = {
        {"admin", "admin"},
        {"head", "head-1"},
        {"manager", "manager-1"},
        {"accountant", "accountant-1"},
        {"logistician", "logistician-1"},
        {"logistics-system", "wms-1"},
    };
    for (size_t m = 0; m < sizeof map / sizeof map[0]; m++)
        for (size_t i = 0; i < json_object_array_length(roles); i++)
            if (strcmp(json_object_get_string(json_object_array_get_idx(roles, i)), map[m].role) ==
                0)
                return map[m].principal;
    //  Only services may call it: act as the service itself.
    return service;
}

//  Every method every service reports answers `kontor call ... {}`: OK, or
//  a refusal from validation, never UNIMPLEMENTED or INTERNAL.
static void test_every_method_of_every_service_answers(void **state)
{
    size_t calls = 0;
    bool keyless_checked = false;
    for (size_t s = 0; s < S_NSERVICES; s++) {
        const char *service = s_services[s];
        s_result_t d = s_kontor("admin", "call", service, "Describe");
        struct json_object *json = s_json(&d);
        struct json_object *methods = s_get(json, "methods");
        S_EXPECT(d, json_object_array_length(methods) >= 3);
        for (size_t i = 0; i < json_object_array_length(methods); i++) {
            struct json_object *m = json_object_array_get_idx(methods, i);
            const char *method = json_object_get_string(s_get(m, "name"));
            const char *principal = s_principal_for(s_get(m, "roles"), service);
            bool needs_key = json_object_get_boolean(s_get(m, "needs_key"));
            char key[160];
            snprintf(key, sizeof key, "it-cli-%s-%s", service, method);
            s_result_t r = needs_key ? s_kontor(principal, "--timeout", "10000", "--key", key,
                                                "call", service, method, "{}")
                                     : s_kontor(principal, "--timeout", "10000", "call", service,
                                                method, "{}");
            S_EXPECT(r, r.rc == 0 || r.rc == 1);
            if (r.rc == 0) {
                json_object_put(s_json(&r));
            } else {
                S_EXPECT(r, strstr(r.err, "UNIMPLEMENTED:") != r.err &&
                                strstr(r.err, "INTERNAL:") != r.err && strchr(r.err, ':') != NULL);
            }
            s_result_clear(&r);
            calls++;
            if (needs_key && !keyless_checked) {
                //  Without its key the dispatcher refuses, naming the field.
                r = s_kontor(principal, "call", service, method, "{}");
                S_EXPECT(r, r.rc == 1 && strstr(r.err, "INVALID_ARGUMENT: ") == r.err &&
                                strstr(r.err, "(idempotency_key)"));
                s_result_clear(&r);
                keyless_checked = true;
            }
        }
        json_object_put(json);
        s_result_clear(&d);
    }
    print_message("# %zu methods called through kontor call, each answered\n", calls);
}

//  ---------------------------------------------------------------- exit codes and errors

static void test_refusal_exits_1(void **state)
{
    //  EventsSince is for services, logistics systems and admin.
    s_result_t r = s_kontor("manager-1", "call", "orders", "EventsSince", "{}");
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "PERMISSION_DENIED: ") == r.err &&
                    strstr(r.err, "manager-1 may not call EventsSince"));
    s_result_clear(&r);
    //  --as picks the key from KONTOR_HOME: the same call as the admin is fine.
    r = s_kontor("manager-1", "--as", "admin", "call", "orders", "EventsSince", "{}");
    S_EXPECT(r, r.rc == 0);
    s_result_clear(&r);
    r = s_kontor("admin", "--as", "manager-2", "call", "orders", "EventsSince", "{}");
    S_EXPECT(r, r.rc == 1 && strstr(r.err, "manager-2 may not call"));
    s_result_clear(&r);
}

static void test_wrong_names_and_values_exit_2_with_the_nearest(void **state)
{
    s_result_t r = s_kontor("admin", "call", "ordrs", "Status");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "unknown service 'ordrs'; did you mean 'orders'?"));
    s_result_clear(&r);
    r = s_kontor("admin", "call", "orders", "Stauts");
    S_EXPECT(r,
             r.rc == 2 && strstr(r.err, "orders has no method 'Stauts'; did you mean 'Status'?"));
    s_result_clear(&r);
    r = s_kontor("admin", "call", "bus", "status");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "did you mean 'Status'?"));
    s_result_clear(&r);
    r = s_kontor("admin", "call", "orders", "EventsSince", "{\"after_seqq\": 1}");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "after_seqq: unknown field of kontor.EventsSinceRequest;"
                                           " did you mean \"after_seq\"?"));
    s_result_clear(&r);
    r = s_kontor("admin", "call", "orders", "EventsSince", "{\"limit\": \"ten\"}");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "limit: expected an integer, got \"ten\""));
    s_result_clear(&r);
    r = s_kontor("admin", "call", "orders", "EventsSince", "{\"limit\": 4294967296}");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "limit: out of range for uint32: 4294967296"));
    s_result_clear(&r);
    r = s_kontor_in("admin", "{\n  \"limit\": 5,\n  \"after_seq\" 1\n}", "call", "orders",
                    "EventsSince", "-", (const char *)NULL);
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "request JSON: line 3, column"));
    s_result_clear(&r);
    r = s_kontor("admin", "describe", "recievables");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "did you mean 'receivables'?"));
    s_result_clear(&r);
    r = s_kontor("admin", "describe", "clients", "Descrbe");
    S_EXPECT(r, r.rc == 2 && strstr(r.err, "did you mean 'Describe'?"));
    s_result_clear(&r);
}

//  Run kontor with this process's environment (the set's, as admin) but
//  KONTOR_BUS replaced: kth_run's variables come first in the child's
//  environment, so kth_set_env cannot override one of them.
static int s_kontor_at(const char *bus, const char *const *args, char **err)
{
    kth_use(s_set, "admin");
    setenv("KONTOR_BUS", bus, 1);
    const char *bin = getenv("KT_TEST_BIN");
    assert_non_null(bin);
    char path[1024];
    snprintf(path, sizeof path, "%s/kontor", bin);
    const char *argv[S_ARGS_MAX + 2] = {"kontor"};
    for (int i = 0; args[i] && i < S_ARGS_MAX; i++)
        argv[i + 1] = args[i];
    int perr[2];
    assert_int_equal(pipe(perr), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        //  Standard output is the test's TAP stream: keep the reply out of it.
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull < 0 || dup2(devnull, STDOUT_FILENO) < 0)
            _exit(127);
        dup2(perr[1], STDERR_FILENO);
        close(perr[0]);
        close(perr[1]);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(perr[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t n;
    while ((n = read(perr[0], buf + len, cap - len - 1)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && (len += (size_t)n) + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    buf[len] = '\0';
    close(perr[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *err = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_unreachable_bus_exits_3(void **state)
{
    char dead[64];
    snprintf(dead, sizeof dead, "tcp://127.0.0.1:%d", kth_free_port());
    const char *call[] = {"--timeout", "300", "call", "orders", "Status", NULL};
    char *err = NULL;
    int rc = s_kontor_at(dead, call, &err);
    bool said = strstr(err, "DEADLINE_EXCEEDED: ") == err || strstr(err, "UNAVAILABLE: ") == err;
    if (rc != 3 || !said)
        fail_msg("exit %d, stderr: %s", rc, err);
    free(err);
    const char *status[] = {"status", "--timeout", "300", NULL};
    rc = s_kontor_at(dead, status, &err);
    if (rc != 3)
        fail_msg("exit %d, stderr: %s", rc, err);
    free(err);
    //  The same from the real bus works: what failed was the address.
    const char *ok[] = {"--timeout", "3000", "call", "orders", "Status", NULL};
    rc = s_kontor_at(kth_bus_endpoint(s_set), ok, &err);
    if (rc != 0)
        fail_msg("exit %d, stderr: %s", rc, err);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_says_what_each_command_does),
        cmocka_unit_test(test_status_still_works),
        cmocka_unit_test(test_describe_lists_the_bus_and_every_service),
        cmocka_unit_test(test_describe_a_service_and_a_method),
        cmocka_unit_test(test_call_prints_replies_as_json),
        cmocka_unit_test(test_every_method_of_every_service_answers),
        cmocka_unit_test(test_refusal_exits_1),
        cmocka_unit_test(test_wrong_names_and_values_exit_2_with_the_nearest),
        cmocka_unit_test(test_unreachable_bus_exits_3),
    };
    return cmocka_run_group_tests_name("cli", tests, s_setup, s_teardown);
}
