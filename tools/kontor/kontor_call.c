/*  kontor_call - `kontor call SERVICE METHOD [JSON | -]`: any method, as JSON.
 *
 *  Nothing here knows a method: the service's Describe names the request
 *  and reply types, the registry finds their descriptors, kontor_json turns
 *  the JSON into the request and the reply back into JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kontor.h"
#include "kontor_json.h"
#include "kontor_registry.h"
#include "kt_status.h"

//  Read standard input whole, up to one byte over the JSON limit (so the
//  parser can say it is too large). Returns a malloc'd NUL-terminated buffer
//  or NULL if reading failed.
static char *s_read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 == cap) {
            if (cap > KONTOR_JSON_MAX_BYTES)
                break;
            char *more = realloc(buf, cap * 2);
            if (!more) {
                free(buf);
                return NULL;
            }
            buf = more;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                return NULL;
            }
            break;
        }
    }
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

//  A syntax error with the line it is on and a caret under the column.
static void s_print_json_error(const char *text, size_t len, const kontor_json_error_t *err)
{
    fprintf(stderr, "kontor: request JSON: %s\n", err->message);
    if (err->line <= 0)
        return;
    size_t start = 0;
    for (int l = 1; l < err->line && start < len; start++)
        if (text[start] == '\n')
            l++;
    size_t end = start;
    while (end < len && text[end] != '\n')
        end++;
    if (end - start > 160 || err->column > 160)
        return;
    fprintf(stderr, "  %.*s\n  %*s^\n", (int)(end - start), text + start, err->column - 1, "");
}

static int s_call(const kontor_opts_t *opts)
{
    if (opts->argc < 2 || opts->argc > 3)
        return kontor_usage_error("call needs SERVICE METHOD [JSON | -] (see kontor call --help)");
    const char *service = opts->argv[0];
    const char *method = opts->argv[1];
    const char *arg = opts->argc == 3 ? opts->argv[2] : "{}";

    //  The JSON first: a typo should cost no round trip.
    char *text = NULL;
    size_t len = 0;
    if (strcmp(arg, "-") == 0) {
        text = s_read_stdin(&len);
        if (!text)
            return kontor_usage_error("cannot read the request from standard input");
    } else {
        text = strdup(arg);
        if (!text)
            return kontor_usage_error("out of memory");
        len = strlen(text);
    }
    kontor_json_error_t err;
    struct json_object *json = kontor_json_parse(text, len, &err);
    if (!json) {
        s_print_json_error(text, len, &err);
        free(text);
        return KONTOR_EXIT_USAGE;
    }
    free(text);

    kontor_t k;
    Kontor__DescribeReply *methods = NULL;
    ProtobufCMessage *request = NULL, *out = NULL;
    int rc = kontor_connect(&k, opts);
    if (rc != 0)
        goto done;
    if ((rc = kontor_resolve_service(&k, service)) != 0 ||
        (rc = kontor_describe_service(&k, service, &methods)) != 0)
        goto done;
    const Kontor__MethodInfo *m = kontor_find_method(methods, method);
    if (!m) {
        rc = KONTOR_EXIT_USAGE;
        goto done;
    }
    const ProtobufCMessageDescriptor *req_desc = kontor_registry_lookup(m->request_type);
    const ProtobufCMessageDescriptor *rep_desc = kontor_registry_lookup(m->reply_type);
    if (!req_desc || !rep_desc) {
        rc = kontor_usage_error("this kontor does not know the type %s of %s.%s: it was built "
                                "from older contracts than the service; rebuild it",
                                req_desc ? m->reply_type : m->request_type, service, method);
        goto done;
    }
    request = kontor_json_to_msg(req_desc, json, &err);
    if (!request) {
        rc = kontor_usage_error("%s", err.message);
        goto done;
    }
    //  Resending on silence is safe for reads, and for writes under a key.
    kt_call_opts_t copts = {
        .timeout_ms = k.timeout_ms, .retry = !m->writes || opts->key, .idem_key = opts->key};
    kt_reply_t reply;
    int status = kt_client_call(k.client, service, method, request, rep_desc, &out, &copts, &reply);
    //  A refusal may carry its figures (short lines, the limit): print them too.
    if (out && kontor_print_json(out) != 0 && status == KT_OK)
        status = KT_RESOURCE_EXHAUSTED;
    if (status != KT_OK)
        kontor_print_refusal(&reply);
    rc = kontor_exit_for(status);
    kt_reply_clear(&reply);

done:
    kt_msg_free(out);
    kt_msg_free(request);
    kt_msg_free(methods ? &methods->base : NULL);
    json_object_put(json);
    if (k.client)
        kontor_disconnect(&k);
    return rc;
}

const kontor_command_t kontor_call_command = {
    "call",
    "SERVICE METHOD [JSON | -]",
    "call any method of any service with a JSON request; print the reply as JSON",
    "Sends the request (JSON on the command line, '-' for standard input, or\n"
    "nothing for {}) to SERVICE.METHOD and prints the reply as JSON. The\n"
    "service's Describe names the request and reply types, so every method of\n"
    "every service works without CLI code of its own: see `kontor describe\n"
    "SERVICE METHOD` for the fields.\n"
    "\n"
    "JSON: field names as in the .proto files; a missing field is its default;\n"
    "64-bit integers as numbers or, beyond 2^53, as strings; enums by name;\n"
    "bytes as base64; repeated fields as arrays; nested messages as objects.\n"
    "\n"
    "A refusal prints STATUS: sentence (field) on standard error and exits 1;\n"
    "any figures it carries are printed as JSON on standard output. Bad names,\n"
    "fields or JSON exit 2 naming the nearest valid word; an unreachable bus\n"
    "or a passed deadline exits 3.\n"
    "\n"
    "Options:\n"
    "  --timeout MS     the call's budget (default KONTOR_TIMEOUT_MS, 5000)\n"
    "  --key KEY        idempotency key, required by methods that must happen once\n"
    "  --as PRINCIPAL   act as PRINCIPAL ($KONTOR_HOME/keys/secret/PRINCIPAL.secret)\n"
    "\n"
    "examples:\n"
    "  kontor call orders Status\n"
    "  kontor call logistics ReserveStock --key order-42 \\\n"
    "      '{\"order_id\": 42, \"warehouse_id\": 1, \"lines\": [{\"sku\": 1001, \"qty\": 5}]}'\n"
    "  echo '{\"after_seq\": 0, \"limit\": 10}' | kontor --as admin call orders EventsSince -\n",
    s_call,
    0,
};
