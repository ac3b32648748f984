/*  logistics_store - every SQL statement of the logistics service, in one
 *  place (logistics_store.c). Arrays travel as text literals built by
 *  logistics_array_i64 / logistics_array_text; nothing is built from data.
 */
#ifndef LOGISTICS_STORE_H
#define LOGISTICS_STORE_H

#include "kt_pg.h"

//  warehouses and products
extern const kt_stmt_t logistics_sql_warehouse_upsert;
extern const kt_stmt_t logistics_sql_warehouse_list;
extern const kt_stmt_t logistics_sql_warehouse_kind;
extern const kt_stmt_t logistics_sql_product_upsert;
extern const kt_stmt_t logistics_sql_skus_unknown;

//  stock engine
extern const kt_stmt_t logistics_sql_stock_create;
extern const kt_stmt_t logistics_sql_stock_lock;
extern const kt_stmt_t logistics_sql_stock_update;
extern const kt_stmt_t logistics_sql_moves_insert;

//  idempotency
extern const kt_stmt_t logistics_sql_idem_claim;
extern const kt_stmt_t logistics_sql_idem_read;
extern const kt_stmt_t logistics_sql_idem_store;
extern const kt_stmt_t logistics_sql_idem_prune;

//  arrivals and availability
extern const kt_stmt_t logistics_sql_arrival_insert;
extern const kt_stmt_t logistics_sql_arrival_close;
extern const kt_stmt_t logistics_sql_arrival_status;
extern const kt_stmt_t logistics_sql_avail_products;
extern const kt_stmt_t logistics_sql_avail_stock;
extern const kt_stmt_t logistics_sql_avail_arrivals;
extern const kt_stmt_t logistics_sql_avail_analogs;

//  reservations
extern const kt_stmt_t logistics_sql_reserve_event;
extern const kt_stmt_t logistics_sql_reservation_read;
extern const kt_stmt_t logistics_sql_reservation_lock;
extern const kt_stmt_t logistics_sql_reservation_lines;
extern const kt_stmt_t logistics_sql_reservation_set;
extern const kt_stmt_t logistics_sql_reservation_tombstone;
extern const kt_stmt_t logistics_sql_reservation_confirm;
extern const kt_stmt_t logistics_sql_expire_batch;

//  shipments
extern const kt_stmt_t logistics_sql_shipment_request;
extern const kt_stmt_t logistics_sql_shipment_read;
extern const kt_stmt_t logistics_sql_shipment_by_order;
extern const kt_stmt_t logistics_sql_shipment_lines;
extern const kt_stmt_t logistics_sql_shipment_set_status;
extern const kt_stmt_t logistics_sql_shipment_list;
extern const kt_stmt_t logistics_sql_shipment_lock_by_order;

//  discrepancies
extern const kt_stmt_t logistics_sql_discrepancy_insert;
extern const kt_stmt_t logistics_sql_discrepancy_line_insert;
extern const kt_stmt_t logistics_sql_discrepancy_recorded;
extern const kt_stmt_t logistics_sql_shipment_lock;

//  transfers
extern const kt_stmt_t logistics_sql_transfer_insert;
extern const kt_stmt_t logistics_sql_transfer_lines_insert;
extern const kt_stmt_t logistics_sql_transfer_lock;
extern const kt_stmt_t logistics_sql_transfer_lines;
extern const kt_stmt_t logistics_sql_transfer_received;

//  cache keeper
extern const kt_stmt_t logistics_sql_snapshot_xmin;
extern const kt_stmt_t logistics_sql_changed_since;
extern const kt_stmt_t logistics_sql_warehouse_ids;
extern const kt_stmt_t logistics_sql_stock_page;
extern const kt_stmt_t logistics_sql_reservation_counts;

#endif
