/*  logistics_logic - the logistics service's rules that need no I/O: input
 *  checks for lines of goods, the shipment state table, status names, and
 *  planning stock changes (sort, merge, check against what is on hand).
 *
 *  Everything here is pure and unit-tested directly (tests/unit/
 *  test_logistics_logic.c). A check that fails fills a logistics_problem_t
 *  (status, field path, reason token, sentence) that the handler turns into
 *  its refusal unchanged.
 */
#ifndef LOGISTICS_LOGIC_H
#define LOGISTICS_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGISTICS_MAX_LINES 1000                 //  lines in one request
#define LOGISTICS_QTY_MAX 1000000000000LL        //  10^12 units in one line
#define LOGISTICS_HOLD_DEFAULT_S 900             //  ReserveStock hold when 0 is given
#define LOGISTICS_HOLD_MAX_S (7 * 24 * 3600)     //  longest hold: a week
#define LOGISTICS_AVAIL_MAX_SKUS 200             //  SKUs in one Availability request
#define LOGISTICS_MAX_PRODUCTS 1000              //  products in one UpsertProduct

//  Why a request is refused: what the handler replies with.
typedef struct {
    int status;             //  kt_status_t
    char field[128];        //  "lines[2].qty", or ""
    const char *reason;     //  refusal token (kt_status.h), or NULL
    char message[256];      //  a sentence for a manager
} logistics_problem_t;

//  One line of goods as checked: its SKU, quantity and where it was in the
//  request (for naming it in a refusal).
typedef struct {
    int64_t sku;
    int64_t qty;
    int index;              //  position in the request
} logistics_line_t;

//  Check lines of goods named `what` ("lines"): 1..max lines, each sku > 0,
//  qty in [1, LOGISTICS_QTY_MAX] (or, with `signed_qty`, non-zero and
//  |qty| <= LOGISTICS_QTY_MAX), no SKU twice (INVALID_ARGUMENT reason
//  duplicate_line naming the second line's sku). On success the lines are
//  sorted by SKU in `lines` (which the caller filled in request order with
//  index set). Returns 0, or -1 with `problem` filled.
int logistics_lines_check(logistics_line_t *lines, size_t n, size_t max, const char *what,
                          bool signed_qty, logistics_problem_t *problem);

//  Sort lines by SKU (ties by index).
void logistics_lines_sort(logistics_line_t *lines, size_t n);

//  A canonical text for a reservation's request: "W:sku*qty,sku*qty" with
//  the lines sorted by SKU. Two requests are the same iff their texts are.
//  Returns a new string (caller frees) or NULL when out of memory.
char *logistics_fingerprint(int64_t warehouse_id, const logistics_line_t *sorted, size_t n);

//  ------------------------------------------------------------ statuses

//  Shipment status numbers are the proto's ShipmentStatus values.
#define LOGISTICS_SHIP_REQUESTED 1
#define LOGISTICS_SHIP_PICKING 2
#define LOGISTICS_SHIP_DISPATCHED 3
#define LOGISTICS_SHIP_DELIVERED 4
#define LOGISTICS_SHIP_FAILED 5
#define LOGISTICS_SHIP_CANCELLED 6

//  "requested" <-> 1 ...; NULL / 0 when unknown.
const char *logistics_ship_status_name(int status);
int logistics_ship_status_from_name(const char *name);

//  True if a shipment may go from `from` to `to` (to != from):
//    requested -> picking, dispatched, cancelled
//    picking   -> dispatched, cancelled, failed
//    dispatched -> delivered, failed
//    delivered, failed, cancelled: final
bool logistics_ship_transition_ok(int from, int to);

//  Reservation status numbers are the proto's ReservationStatus values.
#define LOGISTICS_RES_HELD 1
#define LOGISTICS_RES_CONFIRMED 2
#define LOGISTICS_RES_RELEASED 3
#define LOGISTICS_RES_EXPIRED 4
#define LOGISTICS_RES_CONSUMED 5

const char *logistics_res_status_name(int status);
int logistics_res_status_from_name(const char *name);

//  Discrepancy kinds are the proto's DiscrepancyKind values (1..3).
const char *logistics_discrepancy_name(int kind);
int logistics_discrepancy_from_name(const char *name);

//  ------------------------------------------------------------ stock plans

//  One change to one stock row: on_hand and reserved move by these amounts.
typedef struct {
    int64_t warehouse_id;
    int64_t sku;
    int64_t d_on_hand;
    int64_t d_reserved;
    int index;              //  request line it came from, for refusals (-1: none)
    //  filled by logistics_plan_check from the locked row:
    bool found;             //  the row exists
    int64_t on_hand;        //  before
    int64_t reserved;       //  before
} logistics_delta_t;

//  Sort by (warehouse, sku) and merge entries for the same row (sums
//  checked; the first index kept). Returns the new count, or -1 if a sum
//  overflows (index of the entry in *bad_index).
long logistics_plan_merge(logistics_delta_t *deltas, size_t n, int *bad_index);

//  The outcome of checking one delta against its row.
typedef enum {
    LOGISTICS_PLAN_OK = 0,
    LOGISTICS_PLAN_SHORT,       //  on_hand - reserved would go below zero, or on_hand < 0
    LOGISTICS_PLAN_OVERFLOW,    //  a sum would overflow int64
} logistics_plan_rc_t;

//  Check one delta (found/on_hand/reserved filled; a missing row counts as
//  0/0): new on_hand >= 0, 0 <= new reserved <= new on_hand. *available
//  gets what the row has free now (on_hand - reserved) for the refusal.
logistics_plan_rc_t logistics_plan_check(const logistics_delta_t *delta, int64_t *available);

//  A PostgreSQL array literal "{a,b,c}" of n int64 values, read every
//  `stride_bytes` from `values` (so a field of an array of structs can be
//  passed). A new string (caller frees); NULL when out of memory.
char *logistics_array_i64(const int64_t *values, size_t n, size_t stride_bytes);

//  The same for text: every element double-quoted with '"' and '\\'
//  escaped, so any text travels as one element.
char *logistics_array_text(const char *const *values, size_t n);

#endif
