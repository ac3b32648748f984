/*  orders_rules - the orders service's pure rules: request checks, pricing
 *  with the client's discount, promotions and the manager's extra discount,
 *  discount authority, and how short lines are split. No I/O, no generated
 *  protobuf types: handlers convert their requests into these structs.
 *
 *  Pricing, in this documented order, per line (each step rounds the unit
 *  price half away from zero to a minor unit, kt_money_discount):
 *
 *    1. list price: the client's price column in the price list valid on
 *       the order's day (the caller looks it up);
 *    2. the client's own discount (Terms.discount_bp);
 *    3. at most one percent-off promotion: among those valid on the day
 *       whose scope matches the line (all, the SKU, or its analog group),
 *       whose minimum line quantity the line meets and whose minimum order
 *       value the order's subtotal after step 2 meets, the one with the
 *       largest percent (ties: lower priority number, then lower id);
 *    4. the manager's extra discount: the line's own, else the order's.
 *
 *  Then free goods: every free-goods promotion that matches a line (same
 *  conditions as step 3, min_qty >= 1) adds a line of free_qty per whole
 *  min_qty bought, at unit price 0, after all ordered lines.
 *
 *  Line total = qty * unit price, order total = sum of line totals, both
 *  checked for overflow; so is the total at list prices.
 */
#ifndef ORDERS_RULES_H
#define ORDERS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORDERS_MAX_QTY 1000000000LL        //  units on one line
#define ORDERS_MAX_PRICE 100000000000000LL  //  minor units for one unit (10^14)
#define ORDERS_MAX_ADJ 3                    //  adjustments on one line

//  Order statuses; numbers match proto/orders.proto's OrderStatus.
enum {
    ORDERS_PENDING = 1,
    ORDERS_CONFIRMED = 2,
    ORDERS_PENDING_APPROVAL = 3,
    ORDERS_BACK_ORDER = 4,
    ORDERS_REJECTED = 5,
    ORDERS_CANCELLED = 6,
    ORDERS_PARTIALLY_SHIPPED = 7,
    ORDERS_SHIPPED = 8,
    ORDERS_PARTIALLY_DELIVERED = 9,
    ORDERS_DELIVERED = 10,
    ORDERS_REPLACED = 11,
};

//  Short policies; numbers match ShortPolicy in clients.proto and orders.proto.
enum { ORDERS_SHORT_DEFAULT = 0, ORDERS_SHIP_AVAILABLE = 1, ORDERS_WAIT_FOR_ALL = 2 };

//  Adjustment kinds; numbers match AdjustmentKind.
enum { ORDERS_ADJ_CLIENT = 1, ORDERS_ADJ_PROMO = 2, ORDERS_ADJ_EXTRA = 3, ORDERS_ADJ_FREE = 4 };

//  Promotion kinds and scopes; numbers match PromotionKind / PromotionScope.
enum { ORDERS_PROMO_PERCENT = 1, ORDERS_PROMO_FREE = 2 };
enum { ORDERS_SCOPE_ALL = 1, ORDERS_SCOPE_SKU = 2, ORDERS_SCOPE_GROUP = 3 };

//  What is wrong with a request: the status, the field at fault, a refusal
//  token (or NULL) and a sentence in PostgreSQL's style.
typedef struct {
    int status;             //  kt_status_t
    char field[64];         //  "lines[2].qty"
    const char *reason;     //  "duplicate_line", or NULL
    char message[256];
} orders_fault_t;

//  One requested line.
typedef struct {
    int64_t sku;
    int64_t qty;
    int32_t extra_bp;       //  the line's own extra discount; 0: the order's
} orders_line_req_t;

//  The checkable part of a Quote or PlaceOrder request.
typedef struct {
    int64_t client_id;
    int64_t warehouse_id;
    const orders_line_req_t *lines;
    size_t nlines;
    int32_t extra_bp;
    const char *delivery_date;  //  "" for none
    const char *address;
    const char *note;
    int short_policy;           //  ORDERS_SHORT_*
} orders_request_t;

//  Check a request field by field, in the order the fields appear. `today`
//  is days since 1970-01-01 (a delivery date before it is refused),
//  `max_lines` the configured cap. Returns 0, or -1 with `fault` filled.
//  On success *delivery_days gets the delivery date (or -1 when none).
int orders_check_request(const orders_request_t *req, int32_t today, size_t max_lines,
                         int32_t *delivery_days, orders_fault_t *fault);

//  A promotion as pricing needs it.
typedef struct {
    int64_t id;
    int kind;               //  ORDERS_PROMO_*
    int scope;              //  ORDERS_SCOPE_*
    int64_t scope_id;       //  SKU or analog group
    int32_t from_days;      //  valid from (days since 1970-01-01)
    int32_t to_days;        //  valid to, inclusive; INT32_MAX open
    int64_t min_qty;        //  0 none
    int64_t min_order_value;    //  0 none
    int32_t percent_bp;
    int64_t free_sku;       //  0: the line's SKU
    int64_t free_qty;
    int32_t priority;
    char name[64];
} orders_promo_t;

//  A line to price: the request's line with what the price list says.
typedef struct {
    int64_t sku;
    int64_t qty;
    int32_t extra_bp;       //  the line's own; 0: the order's
    bool has_price;         //  the client's column has a price for it
    int64_t list_price;
    int64_t group;          //  analog group, 0 none
} orders_line_in_t;

typedef struct {
    int kind;               //  ORDERS_ADJ_*
    int32_t bp;
    int64_t per_unit;       //  minor units taken off one unit
    int64_t promo_id;
} orders_adj_t;

//  A priced line.
typedef struct {
    int64_t sku;
    int64_t qty;
    int64_t list_price;
    int64_t unit_price;
    int64_t line_total;
    bool free;              //  free goods from a promotion
    int src;                //  index of the request line it comes from
    int32_t client_bp;      //  what was applied, for storage and reports
    int64_t promo_id;       //  percent promotion (or, on a free line, the free-goods one)
    int32_t promo_bp;
    int32_t extra_bp;
    orders_adj_t adj[ORDERS_MAX_ADJ];
    int nadj;
} orders_line_t;

typedef struct {
    int32_t client_bp;      //  the client's discount
    int32_t extra_bp;       //  the order's extra discount
    int32_t day;            //  pricing day (days since 1970-01-01)
    const orders_promo_t *promos;
    size_t npromos;
} orders_pricing_t;

//  Most lines pricing can produce from `n` request lines: each may gain a
//  free line per free-goods promotion.
size_t orders_price_capacity(const orders_pricing_t *ctx, size_t n);

//  Price `n` lines into `out` (room for `cap`, see orders_price_capacity).
//  Returns 0 with *nout, *list_total and *total set, or -1 with `fault`:
//  FAILED_PRECONDITION "no_price" on a line without a price, INVALID_ARGUMENT
//  on a line or total that would overflow, naming the field.
int orders_price(const orders_pricing_t *ctx, const orders_line_in_t *in, size_t n,
                 orders_line_t *out, size_t cap, size_t *nout, int64_t *list_total,
                 int64_t *total, orders_fault_t *fault);

//  The largest extra discount on any line (the line's own or the order's).
int32_t orders_max_extra_bp(const orders_line_req_t *lines, size_t n, int32_t order_bp);

//  Split for short stock: for each line, how much can be had now, taking
//  lines of the same SKU in order from what that SKU has (`avail[i]` is the
//  availability of line i's SKU, the same figure for every line of it;
//  negative means unknown and counts as none). Fills ship[i] (0..qty).
//  Returns the number of lines that are short.
size_t orders_allocate(const int64_t *sku, const int64_t *qty, const int64_t *avail, size_t n,
                       int64_t *ship);

//  Merge lines into one (sku, qty) per SKU, in order of first appearance,
//  for a reservation. Returns the number written into sku_out/qty_out
//  (room for n), or -1 if a sum would overflow.
int orders_merge_skus(const int64_t *sku, const int64_t *qty, size_t n, int64_t *sku_out,
                      int64_t *qty_out);

//  Percent as "5.25%" from basis points into buf; returns buf.
char *orders_bp_text(int32_t bp, char *buf, size_t size);

//  Reason token for a status that waits or refuses (table in orders_rules.c),
//  and the status's name as proto/orders.proto spells it ("BACK_ORDER").
const char *orders_status_name(int status);

#endif
