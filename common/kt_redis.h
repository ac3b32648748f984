/*  kt_redis - Redis for one thread: connect with a password, reconnect on
 *  failure, commands by argv only (data never enters a format string).
 *
 *  Redis is a cache in Kontor, never the truth: every function returns -1 on
 *  any failure (down, timeout, wrong reply type) and the caller falls back to
 *  the authoritative service. A failed connection is retried at most once per
 *  second so that a dead Redis costs nothing on the hot path.
 */
#ifndef KT_REDIS_H
#define KT_REDIS_H

#include <stddef.h>
#include <stdint.h>

typedef struct kt_redis kt_redis_t;

//  A handle that connects lazily to host:port (password may be "" for none),
//  with `timeout_ms` for connect and each command. Never NULL except when
//  out of memory.
kt_redis_t *kt_redis_new(const char *host, int port, const char *password, int timeout_ms);

//  Close and free; accepts NULL; nulls the pointer.
void kt_redis_destroy(kt_redis_t **self_p);

//  PING. 0 when Redis answered.
int kt_redis_ping(kt_redis_t *self);

//  HSET key field value for n (field, value) pairs in one command, int64
//  values. Returns 0 or -1.
int kt_redis_hset_i64(kt_redis_t *self, const char *key, const char *const *fields,
                      const int64_t *values, size_t n);

//  HMGET key fields[0..n): values[i] gets the number, present[i] 1 if the
//  field existed. One round trip. Returns 0 or -1.
int kt_redis_hmget_i64(kt_redis_t *self, const char *key, const char *const *fields, size_t n,
                       int64_t *values, int *present);

//  Run a command given as argv (with lengths). Returns 0 if Redis answered
//  with anything but an error reply, -1 otherwise.
int kt_redis_command(kt_redis_t *self, int argc, const char **argv, const size_t *lens);

//  GET/SET of a small string value; GET returns 1 if found, 0 if not, -1 on error.
int kt_redis_get(kt_redis_t *self, const char *key, char *buf, size_t size);
int kt_redis_set(kt_redis_t *self, const char *key, const char *value);

//  The last error, for the log.
const char *kt_redis_error(kt_redis_t *self);

#endif
