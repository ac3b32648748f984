/*  logistics_server - the logistics service: its method table and process hooks.
 *
 *  Every service also answers Status and EventsSince (kt_service.c). The
 *  process runs, besides its workers: the keeper actor (expires held
 *  reservations every second and keeps the Redis availability cache whole,
 *  logistics_cache.c) and a consumer of orders' events (shipment requests
 *  from OrderConfirmed, cancellations from OrderCancelled).
 */
#include "logistics_server.h"

#include <stdlib.h>

#include "kt_log.h"
#include "logistics_core.h"

extern const kt_migration_t logistics_migrations[];

//  Who may call what (the roles):
#define S_STOCK_ADMIN (KT_ROLE_LOGISTICIAN | KT_ROLE_HEAD | KT_ROLE_ADMIN)
#define S_RESERVERS (KT_ROLE_SERVICE | KT_ROLE_ADMIN)
#define S_SHIPPERS (KT_ROLE_LOGISTICIAN | KT_ROLE_LOGSYS | KT_ROLE_ADMIN)
#define S_READERS (KT_ROLE_STAFF | KT_ROLE_SERVICE)
#define S_SHIP_READERS (KT_ROLE_STAFF | KT_ROLE_LOGSYS)
#define S_TRANSFERS (KT_ROLE_MANAGER | KT_ROLE_HEAD | KT_ROLE_LOGISTICIAN | KT_ROLE_ADMIN)
#define S_DISCREPANCY (KT_ROLE_LOGISTICIAN | KT_ROLE_ADMIN)

#define S_KEYED (KT_M_WRITE | KT_M_NEEDS_KEY)

#define S_METHOD(name, req, rep, roles, flags, fn, summary) \
    {name, &kontor__logistics__##req##__descriptor, &kontor__logistics__##rep##__descriptor, \
     roles, flags, fn, summary}

//  Methods of this service; flags and roles are checked by the dispatcher
//  before a handler runs. Writes that must happen once need an idempotency
//  key; ReserveStock, Confirm and Release are idempotent by order id, and
//  UpdateShipment by the status it sets.
static const kt_method_t s_methods[] = {
    S_METHOD("UpsertWarehouse", upsert_warehouse_request, upsert_warehouse_reply, S_STOCK_ADMIN,
             KT_M_WRITE, logistics_upsert_warehouse, "create or update a warehouse by its code"),
    S_METHOD("ListWarehouses", list_warehouses_request, list_warehouses_reply, S_READERS,
             KT_M_READ, logistics_list_warehouses, "every warehouse"),
    S_METHOD("UpsertProduct", upsert_product_request, upsert_product_reply, S_STOCK_ADMIN,
             KT_M_WRITE, logistics_upsert_product, "create or update up to 1000 products"),
    S_METHOD("Receive", receive_request, stock_reply, S_STOCK_ADMIN, S_KEYED, logistics_receive,
             "goods in: on hand goes up"),
    S_METHOD("Adjust", adjust_request, stock_reply, S_STOCK_ADMIN, S_KEYED, logistics_adjust,
             "inventory correction with a reason"),
    S_METHOD("ExpectArrival", expect_arrival_request, expect_arrival_reply, S_STOCK_ADMIN,
             S_KEYED, logistics_expect_arrival, "a supplier delivery expected on a date"),
    S_METHOD("Availability", availability_request, availability_reply, S_READERS, KT_M_READ,
             logistics_availability, "available, expected and analogs for a list of SKUs"),
    S_METHOD("ReserveStock", reserve_stock_request, reserve_stock_reply, S_RESERVERS,
             KT_M_WRITE, logistics_reserve_stock, "reserve all lines of an order or none"),
    S_METHOD("ConfirmReservation", reservation_request, reservation_reply, S_RESERVERS,
             KT_M_WRITE, logistics_confirm_reservation, "keep a held reservation until dispatch"),
    S_METHOD("ReleaseReservation", reservation_request, reservation_reply, S_RESERVERS,
             KT_M_WRITE, logistics_release_reservation, "give a reservation's stock back"),
    S_METHOD("UpdateShipment", update_shipment_request, shipment_reply, S_SHIPPERS, KT_M_WRITE,
             logistics_update_shipment, "picking, dispatched, delivered, failed, cancelled"),
    S_METHOD("GetShipment", get_shipment_request, shipment_reply, S_SHIP_READERS, KT_M_READ,
             logistics_get_shipment, "one shipment by its id or its order"),
    S_METHOD("ListShipments", list_shipments_request, list_shipments_reply, S_SHIP_READERS,
             KT_M_READ, logistics_list_shipments, "shipments by status and warehouse, paged"),
    S_METHOD("RecordDiscrepancy", record_discrepancy_request, record_discrepancy_reply,
             S_DISCREPANCY, S_KEYED, logistics_record_discrepancy,
             "shortage, mis-sort or damage against a shipment"),
    S_METHOD("RequestTransfer", request_transfer_request, transfer_reply, S_TRANSFERS, S_KEYED,
             logistics_request_transfer, "goods from the central warehouse to a branch"),
    S_METHOD("ReceiveTransfer", receive_transfer_request, transfer_reply, S_STOCK_ADMIN,
             KT_M_WRITE, logistics_receive_transfer, "a transfer arrived at the branch"),
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};

static const kt_event_handler_t s_orders_handlers[] = {
    {"OrderConfirmed", logistics_on_order_confirmed},
    {"OrderCancelled", logistics_on_order_cancelled},
    {NULL, NULL},
};

static const kt_subscription_t s_consumes[] = {
    {"orders", s_orders_handlers},
    {NULL, NULL},
};

static int s_start(kt_service_t *svc)
{
    logistics_shared_t *shared = calloc(1, sizeof *shared);
    if (!shared)
        return -1;
    atomic_init(&shared->cache_dirty, false);
    kt_service_set_shared(svc, shared);
    kt_service_set_event_arg(svc, shared);
    shared->keeper = logistics_keeper_new(kt_service_config(svc), shared);
    if (!shared->keeper) {
        kt_error("cannot start the reservation sweeper and cache keeper");
        kt_service_set_shared(svc, NULL);
        free(shared);
        return -1;
    }
    return 0;
}

static void s_stop(kt_service_t *svc)
{
    logistics_shared_t *shared = kt_service_shared(svc);
    if (!shared)
        return;
    logistics_keeper_destroy(&shared->keeper);
    kt_service_set_shared(svc, NULL);
    free(shared);
}

const kt_service_def_t logistics_service = {
    .name = "logistics",
    .methods = s_methods,
    .migrations = logistics_migrations,
    .uses_redis = true,
    .consumes = s_consumes,
    .start = s_start,
    .stop = s_stop,
};
