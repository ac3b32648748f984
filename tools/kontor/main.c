/*  kontor - the command line for people and scripts.
 *
 *      kontor status          every service, its instances, health and version
 *
 *  Connects to the bus named by KONTOR_BUS with the key in KONTOR_CERT
 *  (defaults: the local set in ./.kontor, as the admin principal). Exit
 *  codes: 0 done, 1 a refusal, 2 a usage error, 3 the bus could not be
 *  reached or did not answer in time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor.pb-c.h"
#include "kt_client.h"
#include "kt_config.h"
#include "kt_log.h"
#include "kt_status.h"

#define S_EXIT_REFUSED 1
#define S_EXIT_USAGE 2
#define S_EXIT_UNREACHABLE 3

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: kontor COMMAND\n"
            "\n"
            "Commands:\n"
            "  status     every service registered at the bus, its instances and workers,\n"
            "             and each service's own answer: version, schema, database time\n"
            "\n"
            "Connection comes from KONTOR_* variables (README.md); with none set, kontor\n"
            "talks to the local set started by `make up`, as the admin principal.\n"
            "\n"
            "example: kontor status\n");
}

//  The exit code for a reply that is not OK.
static int s_exit_for(const kt_reply_t *reply)
{
    if (reply->status == KT_UNAVAILABLE || reply->status == KT_DEADLINE_EXCEEDED)
        return S_EXIT_UNREACHABLE;
    return S_EXIT_REFUSED;
}

static void s_print_refusal(const kt_reply_t *reply)
{
    fprintf(stderr, "%s: %s", kt_status_name(reply->status), reply->message);
    if (reply->field[0])
        fprintf(stderr, " (%s)", reply->field);
    fprintf(stderr, "\n");
}

static int s_status(kt_client_t *client)
{
    kt_call_opts_t opts = {.timeout_ms = 3000, .retry = true};
    Kontor__BusStatusRequest breq = KONTOR__BUS_STATUS_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    kt_reply_t reply;
    if (kt_client_call(client, "bus", "Status", &breq.base, &kontor__bus_status_reply__descriptor,
                       &out, &opts, &reply)
        != KT_OK) {
        s_print_refusal(&reply);
        int rc = s_exit_for(&reply);
        kt_reply_clear(&reply);
        return rc;
    }
    kt_reply_clear(&reply);
    Kontor__BusStatusReply *bus = (Kontor__BusStatusReply *) out;
    printf("bus %s, up %lld s, %llu requests, %llu dropped\n\n", bus->version,
           (long long) (bus->uptime_ms / 1000), (unsigned long long) bus->requests,
           (unsigned long long) bus->dropped);
    printf("%-12s %8s %5s %7s  %-8s %7s  %-24s %s\n", "SERVICE", "WORKERS", "IDLE", "QUEUED",
           "VERSION", "SCHEMA", "ANSWERED BY", "DATABASE TIME");
    int rc = 0;
    for (size_t i = 0; i < bus->n_services; i++) {
        Kontor__BusService *s = bus->services[i];
        printf("%-12s %8u %5u %7u  ", s->name, s->workers, s->idle, s->queued);
        if (s->workers == 0) {
            printf("%-8s %7s  %s\n", "-", "-", "no live worker");
            continue;
        }
        Kontor__StatusRequest sreq = KONTOR__STATUS_REQUEST__INIT;
        ProtobufCMessage *sout = NULL;
        if (kt_client_call(client, s->name, "Status", &sreq.base,
                           &kontor__status_reply__descriptor, &sout, &opts, &reply)
            == KT_OK) {
            Kontor__StatusReply *st = (Kontor__StatusReply *) sout;
            char when[32] = "";
            time_t secs = (time_t) (st->db_time_ms / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
            printf("%-8s %7u  %-24s %s\n", st->version, st->schema_version, st->instance, when);
        } else {
            printf("%-8s %7s  %s: %s\n", "-", "-", kt_status_name(reply.status), reply.message);
            rc = S_EXIT_REFUSED;
        }
        kt_msg_free(sout);
        kt_reply_clear(&reply);
    }
    kt_msg_free(out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? S_EXIT_USAGE : 0;
    }
    //  The CLI acts as admin by default on the local set.
    if (!getenv("KONTOR_CERT") || !*getenv("KONTOR_CERT")) {
        char why[256];
        kt_config_t probe;
        if (kt_config_load(&probe, "admin", why, sizeof why) == 0)
            setenv("KONTOR_CERT", probe.cert, 1);
    }
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, "kontor", why, sizeof why) != 0) {
        fprintf(stderr, "kontor: %s\n", why);
        return S_EXIT_USAGE;
    }
    kt_log_init("kontor", KT_LOG_ERROR);
    if (strcmp(argv[1], "status") == 0 && argc == 2) {
        kt_client_t *client = kt_client_new(&cfg);
        if (!client) {
            fprintf(stderr, "kontor: cannot read the keys to reach the bus (KONTOR_CERT=%s)\n",
                    cfg.cert);
            return S_EXIT_UNREACHABLE;
        }
        int rc = s_status(client);
        kt_client_destroy(&client);
        return rc;
    }
    fprintf(stderr, "kontor: unknown command '%s'\n\n", argv[1]);
    s_usage(stderr);
    return S_EXIT_USAGE;
}
