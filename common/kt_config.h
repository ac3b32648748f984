/*  kt_config - a process's configuration, from KONTOR_* environment variables.
 *
 *  Every variable has a default that fits the local set started by `make up`
 *  (README.md has the table). kt_config_load validates every value and names
 *  the first bad one, so a typo stops the process at start, not at 3 a.m.
 */
#ifndef KT_CONFIG_H
#define KT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define KT_PATH_MAX 512
#define KT_DSN_MAX 1024

typedef struct {
    char service[32];             //  "orders", "bus", "kontor" (the CLI), ...
    char home[KT_PATH_MAX];       //  KONTOR_HOME: the local set's folder (.kontor)
    char instance[64];            //  KONTOR_INSTANCE: name in logs and metrics (host:pid)
    char bus[KT_PATH_MAX];        //  KONTOR_BUS: request endpoint of the bus
    char events_in[KT_PATH_MAX];  //  KONTOR_EVENTS_IN: where producers publish (bus XSUB)
    char events_out[KT_PATH_MAX]; //  KONTOR_EVENTS_OUT: where consumers subscribe (bus XPUB)
    char keys_dir[KT_PATH_MAX];   //  KONTOR_KEYS: folder of public certificates the bus allows
    char cert[KT_PATH_MAX];       //  KONTOR_CERT: this process's secret certificate file
    char bus_cert[KT_PATH_MAX];   //  KONTOR_BUS_CERT: the bus's public certificate file
    char pg_dsn[KT_DSN_MAX];      //  KONTOR_PG_DSN: libpq connection string of this service
    char redis_host[128];         //  KONTOR_REDIS_HOST
    int redis_port;               //  KONTOR_REDIS_PORT
    char redis_password[128];     //  KONTOR_REDIS_PASSWORD (or read from KONTOR_HOME/redis.pass)
    int workers;                  //  KONTOR_WORKERS: worker threads, 1..256
    int http_port;                //  KONTOR_HTTP_PORT: health and metrics; 0 turns it off
    char http_host[64];           //  KONTOR_HTTP_HOST: address the listener binds
    int log_level;                //  KONTOR_LOG_LEVEL: debug, info, warn, error
    int timeout_ms;               //  KONTOR_TIMEOUT_MS: default budget of an outgoing call
    int heartbeat_ms;             //  KONTOR_HEARTBEAT_MS: bus <-> worker heartbeat interval
    int liveness;                 //  KONTOR_LIVENESS: heartbeats missed before a peer is dead
    long outbox_retention_s;      //  KONTOR_OUTBOX_RETENTION_S: how long events are kept
    int max_msg_bytes;            //  KONTOR_MAX_MSG: largest frame accepted (ZMQ_MAXMSGSIZE)
} kt_config_t;

//  Fill `cfg` from the environment with defaults for `service`. Returns 0, or
//  -1 with a sentence naming the variable and its value in `why`.
int kt_config_load(kt_config_t *cfg, const char *service, char *why, size_t why_size);

//  Default HTTP port of a process (bus 18080, clients 18081, orders 18082,
//  logistics 18083, receivables 18084; others 0).
int kt_config_default_http_port(const char *service);

#endif
