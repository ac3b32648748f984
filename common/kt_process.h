/*  kt_process - what every Kontor process does first and last.
 *
 *  kt_process_init runs first in main, before any thread exists: it blocks
 *  SIGTERM, SIGINT and SIGHUP in the calling thread (so every thread created
 *  later inherits the mask and only kt_process_wait sees them), stops CZMQ
 *  from installing its own handlers, ignores SIGPIPE, and answers --version
 *  and --help. kt_process_wait then waits in the main thread for a stop
 *  signal, or for `failed(arg)` to turn true (a part of the process died).
 */
#ifndef KT_PROCESS_H
#define KT_PROCESS_H

#include <stdbool.h>

//  Returns 0 to go on, or -1 on a usage error (message printed). For
//  --version and --help it prints and exits 0 itself.
int kt_process_init(int argc, char **argv, const char *name);

//  Block until SIGTERM/SIGINT (returns the signal number) or until
//  `failed(arg)` returns true (checked every 200 ms; returns 0). `failed`
//  may be NULL.
int kt_process_wait(bool (*failed)(void *arg), void *arg);

#endif
