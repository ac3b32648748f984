/*  kontor_describe - `kontor describe [SERVICE [METHOD]]`: what can be called.
 *
 *  Services come from the bus's Status, methods from each service's
 *  Describe, fields from the descriptors in the registry: nested messages
 *  expanded in place and enums with their values, as grpcurl describes a
 *  gRPC service.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor.h"
#include "kontor_json.h"
#include "kontor_nearest.h"
#include "kontor_registry.h"

#define S_EXPAND_DEPTH 8 //  nested messages expanded this deep, then named only

//  The messages being expanded, outermost first, to stop at a recursive type.
typedef struct {
    const ProtobufCMessageDescriptor *open[S_EXPAND_DEPTH + 1];
    int depth;
} s_stack_t;

static void s_print_fields(const ProtobufCMessageDescriptor *desc, s_stack_t *stack);

static void s_print_field(const ProtobufCFieldDescriptor *fd, s_stack_t *stack)
{
    int indent = 2 * stack->depth;
    const char *label = fd->label == PROTOBUF_C_LABEL_REPEATED   ? "repeated "
                        : fd->label == PROTOBUF_C_LABEL_OPTIONAL ? "optional "
                                                                 : "";
    const char *type = fd->type == PROTOBUF_C_TYPE_MESSAGE
                           ? ((const ProtobufCMessageDescriptor *)fd->descriptor)->name
                       : fd->type == PROTOBUF_C_TYPE_ENUM
                           ? ((const ProtobufCEnumDescriptor *)fd->descriptor)->name
                           : kontor_json_type_name(fd->type);
    const char *note = fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF ? "  // one of a oneof" : "";
    printf("%*s%s%s %s = %u", indent, "", label, type, fd->name, fd->id);
    if (fd->type == PROTOBUF_C_TYPE_ENUM) {
        const ProtobufCEnumDescriptor *ed = fd->descriptor;
        printf(" {%s\n", note);
        for (unsigned i = 0; i < ed->n_values; i++)
            printf("%*s%s = %d;\n", indent + 2, "", ed->values[i].name, ed->values[i].value);
        printf("%*s}\n", indent, "");
        return;
    }
    if (fd->type != PROTOBUF_C_TYPE_MESSAGE) {
        printf(";%s\n", note);
        return;
    }
    const ProtobufCMessageDescriptor *sub = fd->descriptor;
    bool recursive = false;
    for (int i = 0; i < stack->depth; i++)
        recursive = recursive || stack->open[i] == sub;
    if (recursive || stack->depth >= S_EXPAND_DEPTH) {
        printf(";  // %s%s\n", recursive ? "recursive: see above" : "nested too deep to show",
               note);
        return;
    }
    printf(" {%s\n", note);
    s_print_fields(sub, stack);
    printf("%*s}\n", indent, "");
}

static void s_print_fields(const ProtobufCMessageDescriptor *desc, s_stack_t *stack)
{
    stack->open[stack->depth++] = desc;
    for (unsigned i = 0; i < desc->n_fields; i++)
        s_print_field(&desc->fields[i], stack);
    stack->depth--;
}

//  "message kontor.x.Y { ...fields... }"
static void s_print_message(const char *what, const ProtobufCMessageDescriptor *desc)
{
    s_stack_t stack = {.depth = 0};
    printf("%s %s {\n", what, desc->name);
    stack.open[stack.depth++] = desc; //  the outer message, so fields indent by one
    for (unsigned i = 0; i < desc->n_fields; i++)
        s_print_field(&desc->fields[i], &stack);
    printf("}\n");
}

static void s_print_roles(const Kontor__MethodInfo *m)
{
    printf("%s; ", m->writes ? (m->needs_key ? "writes, needs --key" : "writes") : "reads");
    if (m->n_roles >= 7) {
        printf("any role\n");
        return;
    }
    printf("roles:");
    for (size_t i = 0; i < m->n_roles; i++)
        printf("%s %s", i ? "," : "", m->roles[i]);
    printf("\n");
}

//  One line per method: name and summary.
static void s_print_method_list(const Kontor__DescribeReply *d)
{
    size_t width = 0;
    for (size_t i = 0; i < d->n_methods; i++)
        if (strlen(d->methods[i]->name) > width)
            width = strlen(d->methods[i]->name);
    for (size_t i = 0; i < d->n_methods; i++)
        printf("  %-*s  %s\n", (int)width, d->methods[i]->name, d->methods[i]->summary);
}

static int s_by_name(const void *a, const void *b)
{
    const Kontor__BusService *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

//  kontor describe: the bus, then every service with live workers.
static int s_describe_all(kontor_t *k)
{
    Kontor__BusStatusReply *bus = NULL;
    int rc = kontor_bus_status(k, &bus);
    if (rc != 0)
        return rc;
    Kontor__DescribeReply *d = NULL;
    if (kontor_describe_service(k, "bus", &d) == 0) {
        printf("bus  (the bus itself, version %s)\n", bus->version);
        s_print_method_list(d);
        kt_msg_free(&d->base);
    }
    qsort(bus->services, bus->n_services, sizeof *bus->services, s_by_name);
    for (size_t i = 0; i < bus->n_services; i++) {
        const Kontor__BusService *s = bus->services[i];
        printf("\n%s  (%u worker%s)\n", s->name, s->workers, s->workers == 1 ? "" : "s");
        if (s->workers == 0) {
            printf("  no live worker: cannot ask it its methods\n");
            continue;
        }
        int drc = kontor_describe_service(k, s->name, &d);
        if (drc != 0) {
            rc = drc;
            continue;
        }
        s_print_method_list(d);
        kt_msg_free(&d->base);
    }
    kt_msg_free(&bus->base);
    return rc;
}

//  kontor describe SERVICE: each method with its types, roles and flags.
static int s_describe_service(kontor_t *k, const char *service)
{
    Kontor__DescribeReply *d = NULL;
    int rc = kontor_resolve_service(k, service);
    if (rc == 0)
        rc = kontor_describe_service(k, service, &d);
    if (rc != 0)
        return rc;
    printf("%s: %zu method%s\n", d->service, d->n_methods, d->n_methods == 1 ? "" : "s");
    for (size_t i = 0; i < d->n_methods; i++) {
        const Kontor__MethodInfo *m = d->methods[i];
        printf("\n  %s (%s) returns (%s)\n    ", m->name, m->request_type, m->reply_type);
        s_print_roles(m);
        if (m->summary[0])
            printf("    %s\n", m->summary);
    }
    kt_msg_free(&d->base);
    return 0;
}

//  kontor describe SERVICE METHOD: the method and its messages, expanded.
static int s_describe_method(kontor_t *k, const char *service, const char *method)
{
    Kontor__DescribeReply *d = NULL;
    int rc = kontor_resolve_service(k, service);
    if (rc == 0)
        rc = kontor_describe_service(k, service, &d);
    if (rc != 0)
        return rc;
    const Kontor__MethodInfo *m = kontor_find_method(d, method);
    if (!m) {
        kt_msg_free(&d->base);
        return KONTOR_EXIT_USAGE;
    }
    printf("%s.%s (%s) returns (%s)\n  ", service, m->name, m->request_type, m->reply_type);
    s_print_roles(m);
    if (m->summary[0])
        printf("  %s\n", m->summary);
    const ProtobufCMessageDescriptor *req = kontor_registry_lookup(m->request_type);
    const ProtobufCMessageDescriptor *rep = kontor_registry_lookup(m->reply_type);
    printf("\n");
    if (req)
        s_print_message("request", req);
    else
        printf("request %s: unknown to this kontor (older contracts); rebuild it\n",
               m->request_type);
    printf("\n");
    if (rep)
        s_print_message("reply", rep);
    else
        printf("reply %s: unknown to this kontor (older contracts); rebuild it\n", m->reply_type);
    kt_msg_free(&d->base);
    return 0;
}

static int s_describe(const kontor_opts_t *opts)
{
    if (opts->argc > 2)
        return kontor_usage_error(
            "describe takes at most SERVICE and METHOD (see kontor describe --help)");
    //  A full type name needs no bus: it is in the registry or nowhere.
    if (opts->argc == 1 && strchr(opts->argv[0], '.')) {
        const ProtobufCMessageDescriptor *desc = kontor_registry_lookup(opts->argv[0]);
        if (!desc) {
            kontor_nearest_t near;
            kontor_nearest_init(&near, opts->argv[0]);
            for (size_t i = 0; i < kontor_registry_count; i++)
                kontor_nearest_add(&near, kontor_registry[i].full_name);
            return kontor_usage_error("no message type named '%s'; did you mean '%s'?",
                                      opts->argv[0], near.best ? near.best : "");
        }
        s_print_message("message", desc);
        return 0;
    }
    kontor_t k;
    int rc = kontor_connect(&k, opts);
    if (rc != 0)
        return rc;
    if (opts->argc == 0)
        rc = s_describe_all(&k);
    else if (opts->argc == 1)
        rc = s_describe_service(&k, opts->argv[0]);
    else
        rc = s_describe_method(&k, opts->argv[0], opts->argv[1]);
    kontor_disconnect(&k);
    return rc;
}

const kontor_command_t kontor_describe_command = {
    "describe",
    "[SERVICE [METHOD] | TYPE]",
    "the services, their methods, and each method's request and reply fields",
    "With no argument: the bus and every service registered at it, each with\n"
    "its methods (asked of the service itself, so it is what runs now).\n"
    "With SERVICE: its methods, their request and reply types, who may call\n"
    "them, whether they write and need an idempotency key (--key).\n"
    "With SERVICE METHOD: the request and reply messages field by field, as\n"
    "in the .proto files, nested messages expanded and enums with their\n"
    "values: what `kontor call` takes and prints.\n"
    "With a full type name (kontor.logistics.StockLine): that message.\n"
    "\n"
    "examples:\n"
    "  kontor describe\n"
    "  kontor describe logistics\n"
    "  kontor describe logistics ReserveStock\n"
    "  kontor describe kontor.orders.OrderConfirmed\n",
    s_describe,
    0,
};
