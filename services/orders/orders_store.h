/*  orders_store - every SQL statement of the orders service, in one place
 *  (orders_store.c), and helpers to pass arrays as text parameters.
 */
#ifndef ORDERS_STORE_H
#define ORDERS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "kt_pg.h"

//  Pricing and terms
extern const kt_stmt_t orders_sql_load;
extern const kt_stmt_t orders_sql_promos;
extern const kt_stmt_t orders_sql_terms_upsert;
extern const kt_stmt_t orders_sql_client_changed;
extern const kt_stmt_t orders_sql_credit_hold;
//  Placing and settling
extern const kt_stmt_t orders_sql_insert_order;
extern const kt_stmt_t orders_sql_insert_pending;
extern const kt_stmt_t orders_sql_unlock_if_held;
extern const kt_stmt_t orders_sql_settle;
extern const kt_stmt_t orders_sql_settle_order;
extern const kt_stmt_t orders_sql_unlock;
extern const kt_stmt_t orders_sql_try_lock;
extern const kt_stmt_t orders_sql_wait_lock;
extern const kt_stmt_t orders_sql_claim;
extern const kt_stmt_t orders_sql_next_id;
extern const kt_stmt_t orders_sql_copy_order;
extern const kt_stmt_t orders_sql_copy_lines;
extern const kt_stmt_t orders_sql_replace;
extern const kt_stmt_t orders_sql_lock;
extern const kt_stmt_t orders_sql_replay;
extern const kt_stmt_t orders_sql_release_done;
//  Reading orders
extern const kt_stmt_t orders_sql_get;
extern const kt_stmt_t orders_sql_get_lines;
extern const kt_stmt_t orders_sql_list;
extern const kt_stmt_t orders_sql_list_client;
extern const kt_stmt_t orders_sql_history;
//  Approve, reject, cancel
extern const kt_stmt_t orders_sql_reject;
extern const kt_stmt_t orders_sql_cancel;
//  Sweeper
extern const kt_stmt_t orders_sql_stale_pending;
extern const kt_stmt_t orders_sql_undo;
extern const kt_stmt_t orders_sql_release_due;
extern const kt_stmt_t orders_sql_unconfirmed;
extern const kt_stmt_t orders_sql_confirmed_many;
extern const kt_stmt_t orders_sql_bo_ready;
extern const kt_stmt_t orders_sql_bo_unready;
extern const kt_stmt_t orders_sql_bo_recheck;
//  Events
extern const kt_stmt_t orders_sql_stock_seen;
extern const kt_stmt_t orders_sql_ship_event;
extern const kt_stmt_t orders_sql_bo_mark;
//  Returns
extern const kt_stmt_t orders_sql_lock_order;
extern const kt_stmt_t orders_sql_return_seen;
extern const kt_stmt_t orders_sql_returnable;
extern const kt_stmt_t orders_sql_return_insert;
extern const kt_stmt_t orders_sql_return_lines;
//  Reports
extern const kt_stmt_t orders_sql_sales_report;
extern const kt_stmt_t orders_sql_returns_report;
extern const kt_stmt_t orders_sql_stats_status;
extern const kt_stmt_t orders_sql_stats_totals;
//  Price lists, promotions, authority
extern const kt_stmt_t orders_sql_price_list_insert;
extern const kt_stmt_t orders_sql_price_list_update;
extern const kt_stmt_t orders_sql_price_list_exists;
extern const kt_stmt_t orders_sql_set_prices;
extern const kt_stmt_t orders_sql_set_groups;
extern const kt_stmt_t orders_sql_promo_insert;
extern const kt_stmt_t orders_sql_promo_update;
extern const kt_stmt_t orders_sql_promo_bump;
extern const kt_stmt_t orders_sql_promo_list;
extern const kt_stmt_t orders_sql_authority_set;

//  An int64 array as a PostgreSQL array literal ("{1,2,3}"); caller frees.
//  NULL only when out of memory.
char *orders_sql_i64s(const int64_t *v, size_t n);
//  The same with a stride: v[0], v[stride], ... as int64 read from bytes.
char *orders_sql_i64s_at(const void *base, size_t stride, size_t n);
//  A boolean array ("{t,f}") from base[i * stride] read as bool.
char *orders_sql_bools_at(const void *base, size_t stride, size_t n);
//  A text array of dates: "" entries become NULL; base[i * stride] is a
//  char array of at least 11 bytes.
char *orders_sql_dates_at(const void *base, size_t stride, size_t n);
//  An int32 array read with a stride.
char *orders_sql_i32s_at(const void *base, size_t stride, size_t n);
//  Bytes as hex text for decode($n, 'hex'); caller frees.
char *orders_sql_hex(const uint8_t *data, size_t len);

#endif
