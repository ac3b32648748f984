/*  kontor-bus - the broker every Kontor process talks through.
 *
 *  Thin: configuration, logging and signals; start the HTTP listener and the
 *  broker; wait for SIGTERM or SIGINT; stop in reverse order.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus_server.h"
#include "kt_config.h"
#include "kt_http.h"
#include "kt_log.h"
#include "kt_process.h"

int main(int argc, char **argv)
{
    if (kt_process_init(argc, argv, "bus") != 0)
        return 2;
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, "bus", why, sizeof why) != 0) {
        fprintf(stderr, "kontor-bus: %s\n", why);
        return 2;
    }
    kt_log_init("bus", cfg.log_level);

    bus_server_t *server = bus_server_new(&cfg);
    if (!server) {
        kt_error("bus cannot start");
        return 1;
    }
    kt_http_t *http = NULL;
    if (cfg.http_port > 0) {
        http = kt_http_new(cfg.http_host, cfg.http_port, bus_server_ready, server);
        if (!http) {
            bus_server_destroy(&server);
            return 1;
        }
    }
    int sig = kt_process_wait(NULL, NULL);
    kt_info("stopping on signal %d", sig);
    kt_http_destroy(&http);
    bus_server_destroy(&server);
    kt_info("stopped");
    return 0;
}
