/*  kontor_conn - reaching the bus, and finding services and methods on it.
 *
 *  The bus knows which services have live workers (its Status); each
 *  service knows its own methods (Describe). The bus itself is no
 *  kt_service and has no Describe: its one method is described here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kontor.h"
#include "kontor_json.h"
#include "kontor_nearest.h"
#include "kontor_registry.h"
#include "kt_log.h"
#include "kt_status.h"

#define S_PRINCIPAL_MAX 63 //  bytes in a principal's name (kt_principal_t.name)

int kontor_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kontor: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return KONTOR_EXIT_USAGE;
}

int kontor_exit_for(int status)
{
    if (status == KT_OK)
        return KONTOR_EXIT_OK;
    if (status == KT_UNAVAILABLE || status == KT_DEADLINE_EXCEEDED)
        return KONTOR_EXIT_UNREACHABLE;
    return KONTOR_EXIT_REFUSED;
}

void kontor_print_refusal(const kt_reply_t *reply)
{
    fprintf(stderr, "%s: %s", kt_status_name(reply->status), reply->message);
    if (reply->field[0])
        fprintf(stderr, " (%s)", reply->field);
    fprintf(stderr, "\n");
    if (reply->hint[0])
        fprintf(stderr, "hint: %s\n", reply->hint);
}

int kontor_print_json(const ProtobufCMessage *msg)
{
    char *text = kontor_json_encode(msg, true);
    if (!text) {
        fprintf(stderr, "kontor: out of memory printing the reply\n");
        return -1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

//  Principal names become file names: letters, digits, '-', '_', '.', not
//  starting with '.'.
static bool s_principal_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > S_PRINCIPAL_MAX || name[0] == '.')
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == len;
}

int kontor_connect(kontor_t *self, const kontor_opts_t *opts)
{
    memset(self, 0, sizeof *self);
    char why[256];
    const char *cert = getenv("KONTOR_CERT");
    if (opts->as) {
        //  --as NAME: that principal's key from the set's key folder.
        if (!s_principal_valid(opts->as))
            return kontor_usage_error("--as needs a principal name (letters, digits, '-', "
                                      "'_', '.'), not '%s'",
                                      opts->as);
        kt_config_t probe;
        if (kt_config_load(&probe, "kontor", why, sizeof why) != 0)
            return kontor_usage_error("%s", why);
        char path[KT_PATH_MAX + 96];
        snprintf(path, sizeof path, "%s/keys/secret/%s.secret", probe.home, opts->as);
        if (access(path, R_OK) != 0)
            return kontor_usage_error("no key for principal '%s': cannot read %s: %s", opts->as,
                                      path, strerror(errno));
        setenv("KONTOR_CERT", path, 1);
    } else if (!cert || !*cert) {
        //  With no key named, the CLI acts as admin on the local set.
        kt_config_t probe;
        if (kt_config_load(&probe, "admin", why, sizeof why) == 0)
            setenv("KONTOR_CERT", probe.cert, 1);
    }
    if (kt_config_load(&self->cfg, "kontor", why, sizeof why) != 0)
        return kontor_usage_error("%s", why);
    kt_log_init("kontor", KT_LOG_ERROR);
    self->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : self->cfg.timeout_ms;
    self->client = kt_client_new(&self->cfg);
    if (!self->client) {
        fprintf(stderr, "kontor: cannot read the keys to reach the bus (KONTOR_CERT=%s)\n",
                self->cfg.cert);
        return KONTOR_EXIT_UNREACHABLE;
    }
    return 0;
}

void kontor_disconnect(kontor_t *self)
{
    kt_client_destroy(&self->client);
}

int kontor_bus_status(kontor_t *self, Kontor__BusStatusReply **out)
{
    kt_call_opts_t opts = {.timeout_ms = self->timeout_ms, .retry = true};
    Kontor__BusStatusRequest req = KONTOR__BUS_STATUS_REQUEST__INIT;
    ProtobufCMessage *msg = NULL;
    kt_reply_t reply;
    int status = kt_client_call(self->client, "bus", "Status", &req.base,
                                &kontor__bus_status_reply__descriptor, &msg, &opts, &reply);
    if (status != KT_OK) {
        kontor_print_refusal(&reply);
        kt_reply_clear(&reply);
        kt_msg_free(msg);
        return kontor_exit_for(status);
    }
    kt_reply_clear(&reply);
    *out = (Kontor__BusStatusReply *)msg;
    return 0;
}

//  True if some proto package is kontor.<service>: a service Kontor has,
//  whether it runs now or not.
static bool s_known_service(const char *service)
{
    size_t len = strlen(service);
    for (size_t i = 0; i < kontor_registry_count; i++) {
        const char *pkg = kontor_registry[i].descriptor->package_name;
        if (pkg && strncmp(pkg, "kontor.", 7) == 0 && strncmp(pkg + 7, service, len) == 0 &&
            pkg[7 + len] == '\0')
            return true;
    }
    return false;
}

int kontor_resolve_service(kontor_t *self, const char *service)
{
    if (strcmp(service, "bus") == 0)
        return 0;
    Kontor__BusStatusReply *bus = NULL;
    int rc = kontor_bus_status(self, &bus);
    if (rc != 0)
        return rc;
    bool listed = false, live = false;
    kontor_nearest_t near;
    kontor_nearest_init(&near, service);
    kontor_nearest_add(&near, "bus");
    for (size_t i = 0; i < bus->n_services; i++) {
        const Kontor__BusService *s = bus->services[i];
        if (strcmp(s->name, service) == 0) {
            listed = true;
            live = s->workers > 0;
        }
        if (s->workers > 0)
            kontor_nearest_add(&near, s->name);
    }
    for (size_t i = 0; i < kontor_registry_count; i++) {
        const char *pkg = kontor_registry[i].descriptor->package_name;
        if (pkg && strncmp(pkg, "kontor.", 7) == 0)
            kontor_nearest_add(&near, pkg + 7);
    }
    if (live)
        rc = 0;
    else if (s_known_service(service)) {
        fprintf(stderr, "%s: %s has no live worker at the bus%s\n", kt_status_name(KT_UNAVAILABLE),
                service, listed ? "" : " (it has not registered since the bus started)");
        rc = KONTOR_EXIT_UNREACHABLE;
    } else
        rc = kontor_usage_error("unknown service '%s'; did you mean '%s'?", service, near.best);
    kt_msg_free(&bus->base);
    return rc;
}

//  The bus serves one method and has no Describe of its own.
static int s_bus_methods(Kontor__DescribeReply **out)
{
    static char *roles[] = {"manager", "head",       "service",    "logistics-system",
                            "admin",   "accountant", "logistician"};
    Kontor__MethodInfo status = KONTOR__METHOD_INFO__INIT;
    status.name = "Status";
    status.request_type = (char *)kontor__bus_status_request__descriptor.name;
    status.reply_type = (char *)kontor__bus_status_reply__descriptor.name;
    status.roles = roles;
    status.n_roles = sizeof roles / sizeof roles[0];
    status.summary = "the services registered at the bus, with their live, idle and queued workers";
    Kontor__MethodInfo *methods[] = {&status};
    Kontor__DescribeReply rep = KONTOR__DESCRIBE_REPLY__INIT;
    rep.service = "bus";
    rep.methods = methods;
    rep.n_methods = 1;
    //  A copy of our own, so the caller frees every answer the same way.
    size_t len = 0;
    uint8_t *buf = kt_msg_pack(&rep.base, &len);
    ProtobufCMessage *copy =
        buf ? kt_msg_unpack(&kontor__describe_reply__descriptor, buf, len, NULL, 0, NULL, 0) : NULL;
    free(buf);
    if (!copy) {
        fprintf(stderr, "kontor: out of memory\n");
        return KONTOR_EXIT_USAGE;
    }
    *out = (Kontor__DescribeReply *)copy;
    return 0;
}

int kontor_describe_service(kontor_t *self, const char *service, Kontor__DescribeReply **out)
{
    *out = NULL;
    if (strcmp(service, "bus") == 0)
        return s_bus_methods(out);
    kt_call_opts_t opts = {.timeout_ms = self->timeout_ms, .retry = true};
    Kontor__DescribeRequest req = KONTOR__DESCRIBE_REQUEST__INIT;
    ProtobufCMessage *msg = NULL;
    kt_reply_t reply;
    int status = kt_client_call(self->client, service, "Describe", &req.base,
                                &kontor__describe_reply__descriptor, &msg, &opts, &reply);
    if (status != KT_OK) {
        kontor_print_refusal(&reply);
        kt_reply_clear(&reply);
        kt_msg_free(msg);
        return kontor_exit_for(status);
    }
    kt_reply_clear(&reply);
    *out = (Kontor__DescribeReply *)msg;
    return 0;
}

const Kontor__MethodInfo *kontor_find_method(const Kontor__DescribeReply *methods,
                                             const char *method)
{
    kontor_nearest_t near;
    kontor_nearest_init(&near, method);
    for (size_t i = 0; i < methods->n_methods; i++) {
        if (strcmp(methods->methods[i]->name, method) == 0)
            return methods->methods[i];
        kontor_nearest_add(&near, methods->methods[i]->name);
    }
    kontor_usage_error("%s has no method '%s'; did you mean '%s'?", methods->service, method,
                       near.best ? near.best : "");
    return NULL;
}
