/*  bus_server - the broker: service-oriented request-reply plus the event proxy.
 *
 *  Runs as a zactor. Callers name a service; workers register for one with
 *  READY and get requests only when idle; both sides heartbeat. The same
 *  actor forwards events from the XSUB socket (producers) to the XPUB socket
 *  (subscribers). Every socket is a CURVE server behind zauth with the
 *  allow-list folder; the bus maps each caller's key to a principal and
 *  stamps it onto what it hands a worker. It keeps no business state.
 */
#ifndef BUS_SERVER_H
#define BUS_SERVER_H

#include <czmq.h>

#include "kt_config.h"

typedef struct bus_server bus_server_t;

//  Bind the three endpoints from `cfg` and start serving. Returns NULL (and
//  logs why) if the keys cannot be read or an endpoint cannot be bound.
bus_server_t *bus_server_new(const kt_config_t *cfg);

//  Stop serving and free; accepts NULL; nulls the pointer.
void bus_server_destroy(bus_server_t **self_p);

//  True while the broker loop runs (for /readyz).
bool bus_server_ready(void *self);

#endif
