/*  kt_process - what every Kontor process does first and last.
 */
#include "kt_process.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int kt_process_init(int argc, char **argv, const char *name)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    //  CZMQ's default handler would make blocking calls in every thread
    //  return early; Kontor stops its threads itself, in order.
    zsys_handler_set(NULL);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("kontor-%s %s\n", name, KONTOR_VERSION);
            exit(0);
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: kontor-%s\n\n"
                   "Runs Kontor's %s process. Configuration comes from KONTOR_* environment\n"
                   "variables (README.md lists them); the defaults fit the local set started\n"
                   "by `make up`. Stops cleanly on SIGTERM or SIGINT.\n",
                   name, name);
            exit(0);
        }
        fprintf(stderr, "kontor-%s: unknown argument '%s' (try --help)\n", name, argv[i]);
        return -1;
    }
    return 0;
}

int kt_process_wait(bool (*failed)(void *arg), void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    while (true) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        //  SIGHUP: nothing to reload yet; keys are re-read on their own.
        if (failed && failed(arg))
            return 0;
    }
}
