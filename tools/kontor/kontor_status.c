/*  kontor_status - `kontor status`: every service, its workers and its own answer.  */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kontor.h"
#include "kt_status.h"

static int s_status(const kontor_opts_t *opts)
{
    if (opts->argc != 0)
        return kontor_usage_error("status takes no arguments (see kontor status --help)");
    kontor_t k;
    int rc = kontor_connect(&k, opts);
    if (rc != 0)
        return rc;
    Kontor__BusStatusReply *bus = NULL;
    rc = kontor_bus_status(&k, &bus);
    if (rc != 0) {
        kontor_disconnect(&k);
        return rc;
    }
    if (opts->json) {
        //  For scripts: the bus's own Status (each service's: kontor call SERVICE Status).
        rc = kontor_print_json(&bus->base) == 0 ? KONTOR_EXIT_OK : KONTOR_EXIT_USAGE;
        kt_msg_free(&bus->base);
        kontor_disconnect(&k);
        return rc;
    }
    printf("bus %s, up %lld s, %llu requests, %llu dropped\n\n", bus->version,
           (long long)(bus->uptime_ms / 1000), (unsigned long long)bus->requests,
           (unsigned long long)bus->dropped);
    printf("%-12s %8s %5s %7s  %-8s %7s  %-24s %s\n", "SERVICE", "WORKERS", "IDLE", "QUEUED",
           "VERSION", "SCHEMA", "ANSWERED BY", "DATABASE TIME");
    kt_call_opts_t copts = {.timeout_ms = k.timeout_ms, .retry = true};
    for (size_t i = 0; i < bus->n_services; i++) {
        Kontor__BusService *s = bus->services[i];
        printf("%-12s %8u %5u %7u  ", s->name, s->workers, s->idle, s->queued);
        if (s->workers == 0) {
            printf("%-8s %7s  %s\n", "-", "-", "no live worker");
            continue;
        }
        Kontor__StatusRequest sreq = KONTOR__STATUS_REQUEST__INIT;
        ProtobufCMessage *sout = NULL;
        kt_reply_t reply;
        if (kt_client_call(k.client, s->name, "Status", &sreq.base,
                           &kontor__status_reply__descriptor, &sout, &copts, &reply) == KT_OK) {
            Kontor__StatusReply *st = (Kontor__StatusReply *)sout;
            char when[32] = "";
            time_t secs = (time_t)(st->db_time_ms / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
            printf("%-8s %7u  %-24s %s\n", st->version, st->schema_version, st->instance, when);
        } else {
            printf("%-8s %7s  %s: %s\n", "-", "-", kt_status_name(reply.status), reply.message);
            rc = KONTOR_EXIT_REFUSED;
        }
        kt_msg_free(sout);
        kt_reply_clear(&reply);
    }
    kt_msg_free(&bus->base);
    kontor_disconnect(&k);
    return rc;
}

const kontor_command_t kontor_status_command = {
    "status",
    "",
    "every service at the bus: workers, version, schema, database time",
    "Asks the bus which services have registered and how many workers each has\n"
    "live, idle and queued; then asks each service its own Status (version,\n"
    "schema version, the instance that answered, its database's time), which\n"
    "proves the whole path: bus, worker and database.\n"
    "\n"
    "Exits 1 if a service with live workers did not answer OK. With --json, prints\n"
    "the bus's Status reply as JSON (each service's own: kontor call SERVICE Status).\n"
    "\n"
    "example:\n"
    "  kontor status\n",
    s_status,
    0,
};
