/*  kontor-wms-example - an example external logistics system (WMS) for Kontor.
 *
 *      kontor-wms-example [--offset-file PATH]
 *
 *  Runs as a principal of kind logistics-system (the local set's "wms-1").
 *  It takes shipment requests from logistics' event stream and reports
 *  their progress back, the way a real warehouse system would once its
 *  people have picked, loaded and delivered the goods:
 *
 *    ShipmentRequested  ->  UpdateShipment PICKING, DISPATCHED, DELIVERED
 *
 *  Consuming the stream without losing or repeating an event:
 *  - subscribe to everything under "logistics." on KONTOR_EVENTS_OUT (a gap
 *    shows only to a subscriber that sees every seq; "$head" beacons come
 *    under the same prefix), and filter by type after ordering;
 *  - keep `last`, the seq of the last event handled, in the offset file;
 *    handle only last + 1; anything older was handled; anything newer is a
 *    gap, filled by calling logistics' EventsSince(after_seq = last);
 *  - call EventsSince on start (after subscribing, so nothing falls between
 *    the two), on a gap, on a beacon ahead of `last`, and after three
 *    silent seconds;
 *  - save `last` after the effect (write a new file, fsync, rename), so a
 *    crash repeats at most the event being handled. Reporting a status twice
 *    is harmless: UpdateShipment answers OK when the shipment has that status
 *    already, and FAILED_PRECONDITION invalid_transition when it has moved
 *    past it (or was cancelled), which this program takes as done.
 *
 *  A call that fails for a reason waiting may cure (UNAVAILABLE, a
 *  timeout) leaves the event unhandled: it is tried again on the next
 *  catch-up. Configuration is the usual KONTOR_* environment (kt_config).
 *  Exit status: 0 on SIGTERM/SIGINT, 1 when it cannot start, 2 on a usage
 *  error, 3 when the events it needs are no longer kept (OUT_OF_RANGE).
 */
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kontor.pb-c.h"
#include "kt_auth.h"
#include "kt_client.h"
#include "kt_config.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_process.h"
#include "kt_proto.h"
#include "kt_status.h"
#include "kt_wire.h"
#include "logistics.pb-c.h"

#define S_PRODUCER "logistics"
#define S_PAGE 200                  //  events asked for per EventsSince call
#define S_QUIET_MS 3000             //  silence after which we ask anyway
#define S_CALL_MS 5000              //  budget of one call

typedef struct {
    const kt_config_t *cfg;
    const char *offset_path;
    atomic_int exit_code;           //  set by the actor when it gives up
} s_wms_args_t;

typedef struct {
    s_wms_args_t *args;
    kt_client_t *rpc;
    zsock_t *sub;
    uint64_t last;                  //  seq of the last event handled
    bool expired;
} s_wms_t;

//  ---------------------------------------------------------------- offset file

static uint64_t s_offset_load(const char *path)
{
    FILE *file = fopen(path, "re");
    if (!file)
        return 0;
    unsigned long long value = 0;
    if (fscanf(file, "%llu", &value) != 1)
        value = 0;
    fclose(file);
    return value;
}

//  Write the offset durably: a new file, fsync, rename over the old one.
static int s_offset_save(const char *path, uint64_t last)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char text[32];
    int len = snprintf(text, sizeof text, "%llu\n", (unsigned long long) last);
    bool ok = write(fd, text, (size_t) len) == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------- handling

//  Report one status. 0 done (set now, or before, or moved past it), 1 the
//  shipment cannot take it (stop with this shipment), -1 try again later.
static int s_report(s_wms_t *self, int64_t shipment_id, int status)
{
    Kontor__Logistics__UpdateShipmentRequest req =
        KONTOR__LOGISTICS__UPDATE_SHIPMENT_REQUEST__INIT;
    req.shipment_id = shipment_id;
    req.status = status;
    req.note = "kontor-wms-example";
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = S_CALL_MS, .retry = true};
    int rc = kt_client_call(self->rpc, S_PRODUCER, "UpdateShipment", &req.base,
                            &kontor__logistics__shipment_reply__descriptor, NULL, &opts, &reply);
    int out = 0;
    if (rc == KT_OK)
        out = 0;
    else if (rc == KT_FAILED_PRECONDITION) {
        kt_info("shipment %" PRId64 " does not take status %d: %s", shipment_id, status,
                reply.message);
        out = 1;
    } else if (kt_status_retryable(rc)) {
        kt_warn("shipment %" PRId64 ": %s; will try again", shipment_id, kt_status_name(rc));
        out = -1;
    } else {
        //  Refused for good (a bug on one side): log it and go on.
        kt_error("shipment %" PRId64 " status %d refused: %s %s", shipment_id, status,
                 kt_status_name(rc), reply.message);
        out = 1;
    }
    kt_reply_clear(&reply);
    return out;
}

//  The effect of one event. 0 handled, -1 not yet (try again later).
static int s_handle(s_wms_t *self, const Kontor__Event *ev)
{
    if (strcmp(ev->type, "ShipmentRequested") != 0)
        return 0;
    char field[KT_FIELD_MAX + 1], why[200];
    Kontor__Logistics__ShipmentRequested *sr =
        (Kontor__Logistics__ShipmentRequested *) kt_msg_unpack(
            &kontor__logistics__shipment_requested__descriptor, ev->payload.data,
            ev->payload.len, field, sizeof field, why, sizeof why);
    if (!sr || !sr->shipment) {
        kt_error("event %llu: ShipmentRequested does not decode: %s",
                 (unsigned long long) ev->seq, why);
        kt_msg_free(sr ? &sr->base : NULL);
        return 0;
    }
    int64_t id = sr->shipment->shipment_id;
    kt_info("shipment %" PRId64 " for order %" PRId64 ": %zu lines from warehouse %" PRId64, id,
            sr->shipment->order_id, sr->shipment->n_lines, sr->shipment->warehouse_id);
    kt_msg_free(&sr->base);
    //  Picked, loaded, delivered: here at once; in a real WMS, as it happens.
    const int steps[] = {KONTOR__LOGISTICS__SHIPMENT_STATUS__PICKING,
                         KONTOR__LOGISTICS__SHIPMENT_STATUS__DISPATCHED,
                         KONTOR__LOGISTICS__SHIPMENT_STATUS__DELIVERED};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int rc = s_report(self, id, steps[i]);
        if (rc < 0)
            return -1;
        if (rc > 0 && i == 0) {
            //  Past picking already (a repeat after a crash), or cancelled:
            //  go on with the later steps, which say which.
            continue;
        }
        if (rc > 0)
            break;
    }
    return 0;
}

//  Handle events in order from last + 1; stop at the first gap or at an
//  event that must be tried again. Saves the offset after each event.
static int s_handle_run(s_wms_t *self, Kontor__Event **events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const Kontor__Event *ev = events[i];
        if (strcmp(ev->producer, S_PRODUCER) != 0 || ev->seq <= self->last)
            continue;
        if (ev->seq != self->last + 1)
            return -1;
        if (s_handle(self, ev) != 0)
            return -1;
        self->last = ev->seq;
        if (s_offset_save(self->args->offset_path, self->last) != 0) {
            kt_error("cannot save the offset to %s: %s", self->args->offset_path,
                     strerror(errno));
            atomic_store(&self->args->exit_code, 1);
            return -1;
        }
    }
    return 0;
}

//  Fetch and handle everything after `last`.
static void s_catch_up(s_wms_t *self)
{
    while (!self->expired) {
        Kontor__EventsSinceRequest req = KONTOR__EVENTS_SINCE_REQUEST__INIT;
        req.after_seq = self->last;
        req.limit = S_PAGE;
        ProtobufCMessage *out = NULL;
        kt_reply_t reply;
        kt_call_opts_t opts = {.timeout_ms = S_CALL_MS, .retry = true};
        int rc = kt_client_call(self->rpc, S_PRODUCER, "EventsSince", &req.base,
                                &kontor__events_since_reply__descriptor, &out, &opts, &reply);
        if (rc == KT_OUT_OF_RANGE) {
            kt_error("events after %llu are no longer kept by %s; repair by hand",
                     (unsigned long long) self->last, S_PRODUCER);
            self->expired = true;
            atomic_store(&self->args->exit_code, 3);
        } else if (rc != KT_OK)
            kt_warn("cannot catch up: %s: %s", kt_status_name(rc), reply.message);
        kt_reply_clear(&reply);
        if (rc != KT_OK) {
            kt_msg_free(out);
            return;
        }
        Kontor__EventsSinceReply *rep = (Kontor__EventsSinceReply *) out;
        uint64_t before = self->last;
        int handled = s_handle_run(self, rep->events, rep->n_events);
        bool more = handled == 0 && rep->n_events == S_PAGE && self->last > before
                    && self->last < rep->head_seq;
        kt_msg_free(out);
        if (!more)
            return;
    }
}

//  Read what the subscription has; catch up on a gap or a beacon ahead.
static void s_on_live(s_wms_t *self)
{
    bool behind = false;
    while (zsock_events(self->sub) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv(self->sub);
        if (!msg)
            break;
        zframe_t *body = zmsg_size(msg) == 2 ? zmsg_last(msg) : NULL;
        Kontor__Event *ev = NULL;
        if (body)
            ev = (Kontor__Event *) kt_msg_unpack(&kontor__event__descriptor, zframe_data(body),
                                                 zframe_size(body), NULL, 0, NULL, 0);
        zmsg_destroy(&msg);
        if (!ev)
            continue;
        if (strcmp(ev->type, "$head") == 0)
            behind = behind || ev->seq > self->last;
        else if (!behind && ev->seq == self->last + 1)
            behind = s_handle_run(self, &ev, 1) != 0;
        else if (ev->seq > self->last + 1)
            behind = true;
        kt_msg_free(&ev->base);
    }
    if (behind)
        s_catch_up(self);
}

static void s_wms_actor(zsock_t *pipe, void *arg)
{
    s_wms_args_t *args = arg;
    const kt_config_t *cfg = args->cfg;
    s_wms_t self_s = {0}, *self = &self_s;
    self->args = args;
    self->last = s_offset_load(args->offset_path);
    self->rpc = kt_client_new(cfg);
    char bus_key[41];
    zcert_t *cert = kt_cert_load_secret(cfg->cert);
    if (self->rpc && cert && kt_cert_public_key(cfg->bus_cert, bus_key) == 0) {
        self->sub = zsock_new(ZMQ_SUB);
        if (self->sub) {
            kt_curve_client(self->sub, cert, bus_key);
            zsock_set_zap_domain(self->sub, KT_ZAP_DOMAIN);
            zsock_set_maxmsgsize(self->sub, cfg->max_msg_bytes);
            zsock_set_linger(self->sub, 0);
            zsock_set_subscribe(self->sub, S_PRODUCER ".");
            if (zsock_connect(self->sub, "%s", cfg->events_out) != 0)
                zsock_destroy(&self->sub);
        }
    }
    zcert_destroy(&cert);
    if (!self->rpc || !self->sub) {
        kt_error("cannot connect to the bus (keys in KONTOR_CERT / KONTOR_BUS_CERT?)");
        atomic_store(&args->exit_code, 1);
        zsock_signal(pipe, 0);
        goto cleanup;
    }
    zsock_signal(pipe, 0);
    kt_info("wms example following %s from seq %llu", S_PRODUCER,
            (unsigned long long) self->last);
    s_catch_up(self);
    int64_t quiet_since = kt_now_ms();
    while (!self->expired && atomic_load(&args->exit_code) == 0) {
        zmq_pollitem_t items[] = {{zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
                                  {zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, 500) < 0)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            bool term = !command || strcmp(command, "$TERM") == 0;
            zstr_free(&command);
            if (term)
                break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            s_on_live(self);
            quiet_since = kt_now_ms();
        } else if (kt_now_ms() - quiet_since >= S_QUIET_MS) {
            s_catch_up(self);
            quiet_since = kt_now_ms();
        }
    }
cleanup:
    zsock_destroy(&self->sub);
    kt_client_destroy(&self->rpc);
}

static bool s_gave_up(void *arg)
{
    return atomic_load(&((s_wms_args_t *) arg)->exit_code) != 0;
}

int main(int argc, char **argv)
{
    const char *offset_path = NULL;
    char *rest[] = {argv[0]};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--offset-file") == 0 && i + 1 < argc)
            offset_path = argv[++i];
        else if (strcmp(argv[i], "--help") != 0 && strcmp(argv[i], "--version") != 0) {
            fprintf(stderr, "usage: kontor-wms-example [--offset-file PATH]\n");
            return 2;
        } else
            rest[0] = argv[i];
    }
    char *init_argv[] = {argv[0], rest[0] == argv[0] ? NULL : rest[0], NULL};
    if (kt_process_init(init_argv[1] ? 2 : 1, init_argv, "kontor-wms-example") != 0)
        return 2;
    kt_config_t cfg;
    char why[256];
    //  Named "wms-1": without KONTOR_CERT the key is the local set's
    //  $KONTOR_HOME/keys/secret/wms-1.secret (kind logistics-system).
    if (kt_config_load(&cfg, "wms-1", why, sizeof why) != 0) {
        fprintf(stderr, "kontor-wms-example: %s\n", why);
        return 2;
    }
    kt_log_init("wms-example", cfg.log_level);
    char default_path[KT_PATH_MAX + 32];
    if (!offset_path) {
        snprintf(default_path, sizeof default_path, "%s/wms-example.offset", cfg.home);
        offset_path = default_path;
    }
    s_wms_args_t args = {.cfg = &cfg, .offset_path = offset_path};
    atomic_init(&args.exit_code, 0);
    zactor_t *actor = zactor_new(s_wms_actor, &args);
    if (!actor)
        return 1;
    kt_process_wait(s_gave_up, &args);
    zactor_destroy(&actor);
    return atomic_load(&args.exit_code);
}
