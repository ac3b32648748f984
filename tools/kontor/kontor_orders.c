/*  kontor_orders - `kontor order`: quote, place, show, list, approve, reject,
 *  cancel and return orders (the orders service).
 *
 *  Lines are typed SKU:QTY (SKU:QTY:PCT for a line's own extra discount);
 *  the warehouse, when not given, is the client's branch warehouse (see
 *  kp_warehouse). Placing and returning must happen once: they carry an
 *  idempotency key, --key or one made up and printed. An order that waits
 *  (for a head's approval, for goods) is an answer, not a refusal: it
 *  prints with its reason and figures and exits 0; a rejected order is a
 *  refusal (exit 1) whose figures print on stderr.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kontor_people.h"
#include "kt_money.h"
#include "orders.pb-c.h"

#define S_LINES_MAX 200 //  lines in one order (orders' own limit)

//  ---------------------------------------------------------------- printing orders

static const char *s_status(char *buf, int status)
{
    return kp_enum_name(buf, &kontor__orders__order_status__descriptor, status);
}

//  The adjustments of a line as one cell: "client discount 3.00%; promotion ...".
static void s_adjustments(char *buf, size_t size, const Kontor__Orders__PricedLine *l)
{
    size_t used = 0;
    buf[0] = '\0';
    if (l->free)
        used += (size_t)snprintf(buf, size, "free goods");
    for (size_t i = 0; i < l->n_adjustments && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", used ? "; " : "",
                         kp_or_dash(l->adjustments[i]->reason));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (!buf[0])
        snprintf(buf, size, "-");
}

//  Lines as a table: quantities, prices, availability.
static void s_print_lines(Kontor__Orders__PricedLine *const *lines, size_t n, const char *currency,
                          bool placed)
{
    kp_table_t *t = placed ? kp_table_new("SKU>", "QTY>", "LIST PRICE>", "UNIT PRICE>",
                                          "LINE TOTAL>", "BACK-ORDERED>", "ADJUSTMENTS", NULL)
                           : kp_table_new("SKU>", "QTY>", "LIST PRICE>", "UNIT PRICE>",
                                          "LINE TOTAL>", "AVAILABLE>", "ADJUSTMENTS", NULL);
    for (size_t i = 0; i < n; i++) {
        const Kontor__Orders__PricedLine *l = lines[i];
        char a[KP_TEXT_MAX], b[KP_TEXT_MAX], c[KP_TEXT_MAX], adj[512];
        s_adjustments(adj, sizeof adj, l);
        kp_table_cell(t, "%" PRId64, l->sku);
        kp_table_cell(t, "%" PRId64, l->qty);
        kp_table_cell(t, "%s", kp_fmt_units(a, l->list_price, currency));
        kp_table_cell(t, "%s", kp_fmt_units(b, l->unit_price, currency));
        kp_table_cell(t, "%s", kp_fmt_units(c, l->line_total, currency));
        if (placed)
            kp_table_cell(t, "%" PRId64, l->backordered);
        else if (l->available < 0)
            kp_table_cell(t, "?");
        else
            kp_table_cell(t, "%" PRId64, l->available);
        kp_table_cell(t, "%s", adj);
    }
    kp_table_print(&t, stdout, 2, "(no lines)");
}

//  "short: sku 1002 wants 10, available 3, arrives 2026-12-03" for each line
//  that cannot be met in full, with analogs in stock.
static int s_print_short(FILE *out, Kontor__Orders__PricedLine *const *lines, size_t n)
{
    int shorts = 0;
    for (size_t i = 0; i < n; i++) {
        const Kontor__Orders__PricedLine *l = lines[i];
        if (l->available < 0 || l->available >= l->qty) {
            if (l->backordered <= 0)
                continue;
        }
        shorts++;
        fprintf(out, "short: sku %" PRId64 " wants %" PRId64, l->sku, l->qty);
        if (l->available >= 0)
            fprintf(out, ", available %" PRId64, l->available);
        if (l->backordered > 0)
            fprintf(out, ", back-ordered %" PRId64, l->backordered);
        if (l->expected_date[0])
            fprintf(out, ", arrives %s", l->expected_date);
        else
            fprintf(out, ", no arrival expected");
        fprintf(out, "\n");
        for (size_t k = 0; k < l->n_analogs; k++)
            fprintf(out, "  analog in stock: sku %" PRId64 " %s (%" PRId64 " available)\n",
                    l->analogs[k]->sku, l->analogs[k]->name, l->analogs[k]->available);
    }
    return shorts;
}

//  "credit: limit 1000.00 EUR, exposure 50.00 EUR, exceeded by 300.00 EUR".
static void s_print_credit(FILE *out, const Kontor__Orders__Credit *cr)
{
    if (!cr)
        return;
    char a[KP_TEXT_MAX], b[KP_TEXT_MAX], c[KP_TEXT_MAX];
    if (!cr->known) {
        //  A quote: the limit and hold as orders knows them, no exposure.
        if (cr->limit)
            fprintf(out, "credit: limit %s, the order alone %s it (open invoices not counted)%s\n",
                    kp_fmt_money(a, cr->limit), cr->fits ? "fits" : "exceeds",
                    cr->on_hold ? ", client on credit hold" : "");
        else
            fprintf(out, "credit: not known\n");
        return;
    }
    fprintf(out, "credit: limit %s, exposure %s", kp_fmt_money(a, cr->limit),
            kp_fmt_money(b, cr->exposure));
    if (!cr->fits && cr->exceeded_by && cr->exceeded_by->units > 0)
        fprintf(out, ", exceeded by %s", kp_fmt_money(c, cr->exceeded_by));
    else if (cr->fits)
        fprintf(out, ", fits");
    if (cr->on_hold)
        fprintf(out, ", client on credit hold");
    fprintf(out, "\n");
}

static void s_print_order(const Kontor__Orders__Order *o, const Kontor__Orders__Credit *cr)
{
    char a[KP_TEXT_MAX], b[KP_TEXT_MAX], st[KP_TEXT_MAX];
    printf("order %" PRId64 ": %s\n", o->order_id, s_status(st, o->status));
    if (o->reason[0] || o->reason_text[0])
        kp_field("why", "%s (%s)", kp_or_dash(o->reason_text), kp_or_dash(o->reason));
    kp_field("client", "%" PRId64, o->client_id);
    kp_field("manager", "%" PRId64, o->manager_id);
    kp_field("warehouse", "%" PRId64, o->warehouse_id);
    kp_field("total", "%s (list %s)", kp_fmt_units(a, o->total, o->currency),
             kp_fmt_units(b, o->list_total, o->currency));
    if (o->extra_discount_bp)
        kp_field("extra discount", "%s", kp_fmt_bp(a, o->extra_discount_bp));
    if (o->delivery_date[0] || o->delivery_method || o->address[0])
        kp_field("delivery", "%s, %s%s%s", kp_or_dash(o->delivery_date),
                 kp_enum_name(a, &kontor__delivery_method__descriptor, o->delivery_method),
                 o->address[0] ? ", " : "", o->address);
    kp_field("short policy", "%s",
             kp_enum_name(a, &kontor__orders__short_policy__descriptor, o->short_policy));
    kp_field("placed", "%s by %s", kp_fmt_time(a, o->created_at_ms), kp_or_dash(o->placed_by));
    if (o->confirmed_at_ms)
        kp_field("confirmed", "%s", kp_fmt_time(a, o->confirmed_at_ms));
    if (o->approved_by[0])
        kp_field(o->status == KONTOR__ORDERS__ORDER_STATUS__REJECTED ? "rejected by"
                                                                     : "approved by",
                 "%s", o->approved_by);
    if (o->parent_order_id)
        kp_field("back-order of", "order %" PRId64, o->parent_order_id);
    if (o->backorder_id)
        kp_field("back-order", "order %" PRId64 " takes what is missing", o->backorder_id);
    if (o->replaced_by)
        kp_field("continued as", "order %" PRId64, o->replaced_by);
    if (o->expected_date[0])
        kp_field("goods expected", "%s", o->expected_date);
    if (o->shipped_qty || o->delivered_qty)
        kp_field("shipped", "%" PRId64 " units, %" PRId64 " delivered", o->shipped_qty,
                 o->delivered_qty);
    if (o->note[0])
        kp_field("note", "%s", o->note);
    s_print_lines(o->lines, o->n_lines, o->currency, true);
    s_print_short(stdout, o->lines, o->n_lines);
    if (o->status == KONTOR__ORDERS__ORDER_STATUS__PENDING_APPROVAL ||
        (cr && cr->known && !cr->fits))
        s_print_credit(stdout, cr);
}

//  ---------------------------------------------------------------- reading lines

//  The --line flags into lines (caller frees *lines and *ptrs). Returns 0
//  or an exit code.
static int s_lines(kp_ctx_t *c, Kontor__Orders__LineRequest **lines,
                   Kontor__Orders__LineRequest ***ptrs, size_t *n)
{
    int count = kp_count(c, "line");
    *lines = NULL;
    *ptrs = NULL;
    *n = 0;
    if (count == 0)
        return kp_usage(c, "an order needs at least one --line SKU:QTY");
    if (count > S_LINES_MAX)
        return kp_usage(c, "an order has at most %d lines, not %d", S_LINES_MAX, count);
    *lines = calloc((size_t)count, sizeof **lines);
    *ptrs = calloc((size_t)count, sizeof **ptrs);
    if (!*lines || !*ptrs)
        return kp_usage(c, "out of memory");
    for (int i = 0; i < count; i++) {
        Kontor__Orders__LineRequest *l = &(*lines)[i];
        kontor__orders__line_request__init(l);
        if (kp_line(c, "line", i, &l->sku, &l->qty, &l->extra_discount_bp) < 0)
            return KONTOR_EXIT_USAGE;
        (*ptrs)[i] = l;
    }
    *n = (size_t)count;
    return 0;
}

//  ---------------------------------------------------------------- quote and place

#define S_ORDER_FLAGS "client= line=* warehouse= discount= delivery="

static int s_quote(kp_ctx_t *c)
{
    Kontor__Orders__QuoteRequest req = KONTOR__ORDERS__QUOTE_REQUEST__INIT;
    Kontor__Orders__LineRequest *lines = NULL, **ptrs = NULL;
    const char *delivery = NULL;
    ProtobufCMessage *out = NULL;
    int rc = KONTOR_EXIT_USAGE;
    if (kp_id(c, "client", 0, true, &req.client_id) < 0 ||
        kp_percent(c, "discount", false, &req.extra_discount_bp) < 0 ||
        kp_date(c, "delivery", -1, false, &delivery) < 0)
        goto done;
    if ((rc = s_lines(c, &lines, &ptrs, &req.n_lines)) != 0)
        goto done;
    req.lines = ptrs;
    if (delivery)
        req.delivery_date = (char *)delivery;
    char where[160];
    if ((rc = kp_warehouse(c, req.client_id, &req.warehouse_id, where, sizeof where)) != 0)
        goto done;
    rc = kp_call(c, "orders", "Quote", &req.base, &kontor__orders__quote_reply__descriptor, KP_READ,
                 &out);
    if (rc != 0)
        goto done;
    if (kp_json(c)) {
        rc = kp_print_json(out);
        goto done;
    }
    const Kontor__Orders__QuoteReply *q = (const Kontor__Orders__QuoteReply *)out;
    char a[KP_TEXT_MAX], b[KP_TEXT_MAX];
    printf("quote for client %" PRId64 " from %s: price column %s, %s\n", q->client_id, where,
           kp_or_dash(q->price_column), kp_or_dash(q->currency));
    s_print_lines(q->lines, q->n_lines, q->currency, false);
    kp_field("list total", "%s", kp_fmt_units(a, q->list_total, q->currency));
    kp_field("total", "%s", kp_fmt_units(b, q->total, q->currency));
    if (q->needs_approval)
        kp_field("approval", "needed: the extra discount is over your authority of %s",
                 kp_fmt_bp(a, q->authority_bp));
    kp_field("all available", "%s", q->all_available ? "yes" : "no");
    s_print_credit(stdout, q->credit);
    s_print_short(stdout, q->lines, q->n_lines);
    for (size_t i = 0; i < q->n_suggestions; i++)
        printf("suggestion: sku %" PRId64 ", bought in %" PRId64 " orders, %" PRId64 " available\n",
               q->suggestions[i]->sku, q->suggestions[i]->times_bought,
               q->suggestions[i]->available);
done:
    kt_msg_free(out);
    free(lines);
    free(ptrs);
    return rc;
}

static int s_place(kp_ctx_t *c)
{
    Kontor__Orders__PlaceOrderRequest req = KONTOR__ORDERS__PLACE_ORDER_REQUEST__INIT;
    Kontor__Orders__LineRequest *lines = NULL, **ptrs = NULL;
    const char *delivery = NULL, *address = NULL, *note = NULL;
    int method = 0, policy = 0;
    ProtobufCMessage *out = NULL;
    int rc = KONTOR_EXIT_USAGE;
    if (kp_id(c, "client", -1, true, &req.client_id) < 0 ||
        kp_percent(c, "discount", false, &req.extra_discount_bp) < 0 ||
        kp_date(c, "delivery", -1, false, &delivery) < 0 ||
        kp_enum(c, "method", -1, &kontor__delivery_method__descriptor, false, &method) < 0 ||
        kp_enum(c, "policy", -1, &kontor__orders__short_policy__descriptor, false, &policy) < 0 ||
        kp_text(c, "address", -1, false, &address) < 0 || kp_text(c, "note", -1, false, &note) < 0)
        goto done;
    if ((rc = s_lines(c, &lines, &ptrs, &req.n_lines)) != 0)
        goto done;
    req.lines = ptrs;
    req.delivery_method = (Kontor__DeliveryMethod)method;
    req.short_policy = (Kontor__Orders__ShortPolicy)policy;
    if (delivery)
        req.delivery_date = (char *)delivery;
    if (address)
        req.address = (char *)address;
    if (note)
        req.note = (char *)note;
    char where[160];
    if ((rc = kp_warehouse(c, req.client_id, &req.warehouse_id, where, sizeof where)) != 0)
        goto done;
    rc = kp_call(c, "orders", "PlaceOrder", &req.base,
                 &kontor__orders__place_order_reply__descriptor, KP_WRITE_ONCE, &out);
    const Kontor__Orders__PlaceOrderReply *p = (const Kontor__Orders__PlaceOrderReply *)out;
    if (rc != 0) {
        //  A rejected order carries its figures: say them on stderr too.
        if (p && !kp_json(c)) {
            if (p->order) {
                fprintf(stderr, "order %" PRId64 " rejected\n", p->order->order_id);
                s_print_short(stderr, p->order->lines, p->order->n_lines);
            }
            if (p->credit && p->credit->known && !p->credit->fits)
                s_print_credit(stderr, p->credit);
        }
        goto done;
    }
    if (kp_json(c)) {
        rc = kp_print_json(out);
        goto done;
    }
    if (p->replayed)
        printf("(this key was used before: the first answer follows)\n");
    if (p->order)
        s_print_order(p->order, p->credit);
done:
    kt_msg_free(out);
    free(lines);
    free(ptrs);
    return rc;
}

//  ---------------------------------------------------------------- one order

//  Call `method` with an OrderRef and print the order it answers.
static int s_order_ref(kp_ctx_t *c, const char *method, kp_kind_t kind, bool needs_reason)
{
    Kontor__Orders__OrderRef req = KONTOR__ORDERS__ORDER_REF__INIT;
    const char *reason = NULL;
    if (kp_id(c, "order", 0, true, &req.order_id) < 0 ||
        kp_text(c, "reason", -1, needs_reason, &reason) < 0)
        return KONTOR_EXIT_USAGE;
    if (reason)
        req.reason = (char *)reason;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "orders", method, &req.base, &kontor__orders__order_reply__descriptor, kind,
                     &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Orders__OrderReply *r = (const Kontor__Orders__OrderReply *)out;
        //  An order that waited goes on under a new number (orders_engine.c).
        if (r->order && r->order->order_id != req.order_id)
            printf("order %" PRId64 " continues as order %" PRId64 "\n", req.order_id,
                   r->order->order_id);
        if (r->order)
            s_print_order(r->order, NULL);
    }
    kt_msg_free(out);
    return rc;
}

static int s_show(kp_ctx_t *c)
{
    return s_order_ref(c, "GetOrder", KP_READ, false);
}

static int s_approve(kp_ctx_t *c)
{
    return s_order_ref(c, "Approve", KP_WRITE, false);
}

static int s_reject(kp_ctx_t *c)
{
    return s_order_ref(c, "Reject", KP_WRITE, true);
}

static int s_cancel(kp_ctx_t *c)
{
    return s_order_ref(c, "Cancel", KP_WRITE, false);
}

//  ---------------------------------------------------------------- list

static int s_list(kp_ctx_t *c)
{
    Kontor__Orders__ListOrdersRequest req = KONTOR__ORDERS__LIST_ORDERS_REQUEST__INIT;
    const char *from = NULL, *to = NULL, *page = NULL;
    int status = 0;
    int64_t limit = 0;
    if (kp_id(c, "client", -1, false, &req.client_id) < 0 ||
        kp_enum(c, "status", -1, &kontor__orders__order_status__descriptor, false, &status) < 0 ||
        kp_date(c, "from", -1, false, &from) < 0 || kp_date(c, "to", -1, false, &to) < 0 ||
        kp_int(c, "limit", 1, 200, false, &limit) < 0 || kp_text(c, "page", -1, false, &page) < 0)
        return KONTOR_EXIT_USAGE;
    req.status = (Kontor__Orders__OrderStatus)status;
    req.page_size = (uint32_t)limit;
    if (from)
        req.from = (char *)from;
    if (to)
        req.to = (char *)to;
    if (page)
        req.page_token = (char *)page;
    req.with_lines = kp_switch(c, "lines");
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "orders", "ListOrders", &req.base,
                     &kontor__orders__list_orders_reply__descriptor, KP_READ, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Orders__ListOrdersReply *r = (const Kontor__Orders__ListOrdersReply *)out;
        kp_table_t *t = kp_table_new("ORDER>", "CLIENT>", "STATUS", "TOTAL>", "DELIVERY",
                                     "WAREHOUSE>", "MANAGER>", "PLACED", "WHY", NULL);
        for (size_t i = 0; i < r->n_orders; i++) {
            const Kontor__Orders__Order *o = r->orders[i];
            char a[KP_TEXT_MAX], b[KP_TEXT_MAX], st[KP_TEXT_MAX];
            kp_table_cell(t, "%" PRId64, o->order_id);
            kp_table_cell(t, "%" PRId64, o->client_id);
            kp_table_cell(t, "%s", s_status(st, o->status));
            kp_table_cell(t, "%s", kp_fmt_units(a, o->total, o->currency));
            kp_table_cell(t, "%s", kp_or_dash(o->delivery_date));
            kp_table_cell(t, "%" PRId64, o->warehouse_id);
            kp_table_cell(t, "%" PRId64, o->manager_id);
            kp_table_cell(t, "%s", kp_fmt_time(b, o->created_at_ms));
            kp_table_cell(t, "%s", kp_or_dash(o->reason));
        }
        kp_table_print(&t, stdout, 0, "no orders");
        if (req.with_lines)
            for (size_t i = 0; i < r->n_orders; i++) {
                printf("\norder %" PRId64 ":\n", r->orders[i]->order_id);
                s_print_lines(r->orders[i]->lines, r->orders[i]->n_lines, r->orders[i]->currency,
                              true);
            }
        if (r->next_page_token[0])
            printf("more: --page %s\n", r->next_page_token);
    }
    kt_msg_free(out);
    return rc;
}

//  ---------------------------------------------------------------- return

static int s_return(kp_ctx_t *c)
{
    Kontor__Orders__RecordReturnRequest req = KONTOR__ORDERS__RECORD_RETURN_REQUEST__INIT;
    const char *note = NULL;
    int reason = 0;
    if (kp_id(c, "order", 0, true, &req.order_id) < 0 ||
        kp_enum(c, "reason", -1, &kontor__orders__return_reason__descriptor, true, &reason) < 0 ||
        kp_text(c, "note", -1, false, &note) < 0)
        return KONTOR_EXIT_USAGE;
    req.reason = (Kontor__Orders__ReturnReason)reason;
    if (note)
        req.note = (char *)note;
    int count = kp_count(c, "line");
    if (count == 0)
        return kp_usage(c, "a return needs at least one --line SKU:QTY");
    if (count > S_LINES_MAX)
        return kp_usage(c, "a return has at most %d lines, not %d", S_LINES_MAX, count);
    Kontor__Orders__ReturnLine *lines = calloc((size_t)count, sizeof *lines);
    Kontor__Orders__ReturnLine **ptrs = calloc((size_t)count, sizeof *ptrs);
    ProtobufCMessage *out = NULL;
    int rc = KONTOR_EXIT_USAGE;
    if (!lines || !ptrs)
        goto done;
    for (int i = 0; i < count; i++) {
        kontor__orders__return_line__init(&lines[i]);
        if (kp_line(c, "line", i, &lines[i].sku, &lines[i].qty, NULL) < 0)
            goto done;
        ptrs[i] = &lines[i];
    }
    req.lines = ptrs;
    req.n_lines = (size_t)count;
    rc = kp_call(c, "orders", "RecordReturn", &req.base,
                 &kontor__orders__record_return_reply__descriptor, KP_WRITE_ONCE, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Orders__RecordReturnReply *r = (const Kontor__Orders__RecordReturnReply *)out;
        char a[KP_TEXT_MAX], b[KP_TEXT_MAX], d[KP_TEXT_MAX];
        printf("return %" PRId64 " of order %" PRId64 ": the client is credited %s\n", r->return_id,
               r->order_id, kp_fmt_units(a, r->amount, r->currency));
        kp_table_t *t = kp_table_new("SKU>", "QTY>", "UNIT PRICE>", "AMOUNT>", NULL);
        for (size_t i = 0; i < r->n_lines; i++) {
            kp_table_cell(t, "%" PRId64, r->lines[i]->sku);
            kp_table_cell(t, "%" PRId64, r->lines[i]->qty);
            kp_table_cell(t, "%s", kp_fmt_units(b, r->lines[i]->unit_price, r->currency));
            kp_table_cell(t, "%s", kp_fmt_units(d, r->lines[i]->line_total, r->currency));
        }
        kp_table_print(&t, stdout, 2, NULL);
    }
done:
    kt_msg_free(out);
    free(lines);
    free(ptrs);
    return rc;
}

//  ---------------------------------------------------------------- the family

static const kp_sub_t s_subs[] = {
    {"quote", "--client ID --line SKU:QTY[:PCT]... [--warehouse ID|CODE] [FLAGS]",
     "price an order without placing it: prices, discounts, stock, credit (orders.Quote)",
     S_ORDER_FLAGS, 1,
     "Flags:\n"
     "  --client ID          the client (or the first argument)\n"
     "  --line SKU:QTY[:PCT] a line, repeated; PCT is the line's own extra discount\n"
     "  --warehouse ID|CODE  where the goods come from (default: the client's branch\n"
     "                       warehouse, else the central one)\n"
     "  --discount PCT       extra discount on the whole order, e.g. 2.5\n"
     "  --delivery DATE      wanted delivery date, YYYY-MM-DD\n"
     "\n"
     "Short lines print as \"short: sku 1002 wants 10, available 3, arrives\n"
     "2026-12-03\" with the analogs in stock.\n"
     "\n"
     "example:\n"
     "  kontor order quote --client 42 --line 1001:5 --line 1002:10\n",
     s_quote},
    {"place",
     "--client ID --line SKU:QTY[:PCT]... [--delivery DATE] [--method M] [--key KEY] [FLAGS]",
     "place an order: reserve credit and stock and confirm it (orders.PlaceOrder)",
     S_ORDER_FLAGS " method= address= policy= note=", 0,
     "Flags:\n"
     "  --client ID          the client\n"
     "  --line SKU:QTY[:PCT] a line, repeated; PCT is the line's own extra discount\n"
     "  --warehouse ID|CODE  where the goods come from (default: the client's branch\n"
     "                       warehouse, else the central one)\n"
     "  --discount PCT       extra discount on the whole order (over your authority:\n"
     "                       the order waits for a head's approval)\n"
     "  --delivery DATE      delivery date, YYYY-MM-DD\n"
     "  --method M           pickup, own-fleet or carrier\n"
     "  --address TEXT       delivery address\n"
     "  --policy P           when goods are short: ship-available or wait-for-all\n"
     "                       (default: the client's terms)\n"
     "  --note TEXT          a note on the order\n"
     "  --key KEY            idempotency key: the same key again gets the first answer;\n"
     "                       without one, kontor makes one up and prints it\n"
     "\n"
     "An order that waits (pending-approval: over the credit limit or your discount\n"
     "authority; back-order: goods short) prints why, with the figures, and exits 0.\n"
     "A rejected order exits 1 with the sentence and its figures on stderr.\n"
     "\n"
     "example:\n"
     "  kontor order place --client 42 --line 1001:5 --line 1002:3 \\\n"
     "      --delivery 2026-12-01 --method own-fleet --key ord-42-1\n",
     s_place},
    {"show", "ORDER", "an order with its lines, status and why it waits (orders.GetOrder)",
     "order=", 1,
     "Flags:\n"
     "  --order ID   the order (or the first argument)\n"
     "\n"
     "example:\n"
     "  kontor order show 17\n",
     s_show},
    {"list", "[--client ID] [--status S] [--from DATE] [--to DATE] [FLAGS]",
     "orders, newest first, by client, status and period (orders.ListOrders)",
     "client= status= from= to= limit= page= lines", 0,
     "Flags:\n"
     "  --client ID     one client's orders (default: every one you may see)\n"
     "  --status S      pending, confirmed, pending-approval, back-order, rejected,\n"
     "                  cancelled, partially-shipped, shipped, partially-delivered,\n"
     "                  delivered or replaced\n"
     "  --from DATE     placed on or after\n"
     "  --to DATE       placed on or before\n"
     "  --limit N       orders per page, 1 to 200 (default 50)\n"
     "  --page TOKEN    the next page, as the previous one printed it\n"
     "  --lines         with every order's lines\n"
     "\n"
     "example:\n"
     "  kontor order list --client 42 --status pending-approval\n",
     s_list},
    {"approve", "ORDER", "approve an order waiting for a head (orders.Approve)", "order=", 1,
     "Heads only. The order's credit and stock are reserved with the approval;\n"
     "an order that waited continues under a new number, which is printed.\n"
     "\n"
     "example:\n"
     "  kontor --as head-1 order approve 17\n",
     s_approve},
    {"reject", "ORDER --reason TEXT", "reject an order waiting for a head (orders.Reject)",
     "order= reason=", 1,
     "Heads only.\n"
     "\n"
     "example:\n"
     "  kontor --as head-1 order reject 17 --reason \"discount too deep\"\n",
     s_reject},
    {"cancel", "ORDER [--reason TEXT]",
     "cancel an order not yet dispatched; its reservations are released (orders.Cancel)",
     "order= reason=", 1,
     "example:\n"
     "  kontor order cancel 17 --reason \"client changed their mind\"\n",
     s_cancel},
    {"return", "ORDER --reason R --line SKU:QTY... [--note TEXT] [--key KEY]",
     "record a return or refusal; receivables credits the client (orders.RecordReturn)",
     "order= reason= line=* note=", 1,
     "Flags:\n"
     "  --order ID     the order (or the first argument)\n"
     "  --reason R     refused-at-delivery, defect, wrong-goods or surplus\n"
     "  --line SKU:QTY what comes back, repeated (at most what was shipped)\n"
     "  --note TEXT    a note\n"
     "  --key KEY      idempotency key (made up and printed when not given)\n"
     "\n"
     "example:\n"
     "  kontor order return 17 --reason defect --line 1001:2 --key ret-17-1\n",
     s_return},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

static const kp_family_t s_family = {
    "order",
    "Orders for people: price them, place them, follow them, approve, cancel and\n"
    "return them. Money prints as \"1234.56 EUR\"; dates as YYYY-MM-DD.",
    s_subs,
    NULL,
};

static int s_run(const kontor_opts_t *opts)
{
    return kp_family_run(&s_family, opts);
}

const kontor_command_t kontor_order_command = {
    "order",
    "SUBCOMMAND [ARGS]",
    "orders: quote, place, show, list, approve, reject, cancel, return",
    "",
    s_run,
    KONTOR_CMD_OWN_ARGS,
};
