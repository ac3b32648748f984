/*  kt_http - the small HTTP listener every process runs for ops.
 *
 *  Serves GET /healthz (the process is alive), GET /readyz (it can do its
 *  work: the ready callback says so) and GET /metrics (Prometheus text from
 *  kt_metrics). HTTP/1.0-style: one request per connection, requests over
 *  8 KiB or slower than 2 s are dropped. Runs as a zactor thread.
 */
#ifndef KT_HTTP_H
#define KT_HTTP_H

#include <czmq.h>
#include <stdbool.h>

//  Returns true when the process is ready; may be called from the HTTP
//  thread at any time, so it must only read atomics.
typedef bool(kt_ready_fn)(void *arg);

typedef struct kt_http kt_http_t;

//  Start listening on host:port (port 0 picks a free one; host NULL or "*"
//  for every interface). `ready` NULL means always ready. Returns once the
//  socket is bound, or NULL, logging why, if it cannot be.
kt_http_t *kt_http_new(const char *host, int port, kt_ready_fn *ready, void *arg);

//  The port actually bound.
int kt_http_port(kt_http_t *self);

//  Stop the listener and free it; accepts NULL; nulls the pointer.
void kt_http_destroy(kt_http_t **self_p);

#endif
