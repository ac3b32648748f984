/*  kontor_logistics - `kontor stock` (availability of SKUs across warehouses,
 *  with arrivals and analogs) and `kontor shipments` (list, show, update),
 *  both from the logistics service; and kp_warehouse, which the order
 *  commands use to pick a warehouse when none is given.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clients.pb-c.h"
#include "kontor_nearest.h"
#include "kontor_people.h"
#include "kt_money.h"
#include "logistics.pb-c.h"

#define S_SKUS_MAX 200 //  SKUs in one Availability

//  ---------------------------------------------------------------- warehouses

static bool s_all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

int kp_warehouse(kp_ctx_t *c, int64_t client_id, int64_t *id, char *where, size_t size)
{
    const char *given = kp_nth(c, "warehouse", 0);
    if (given && s_all_digits(given)) {
        if (kp_id(c, "warehouse", -1, true, id) < 0)
            return KONTOR_EXIT_USAGE;
        snprintf(where, size, "warehouse %" PRId64, *id);
        return 0;
    }
    //  A code, or none: the list of warehouses decides.
    int64_t branch = 0;
    ProtobufCMessage *out = NULL;
    int rc;
    if (!given && client_id > 0) {
        Kontor__Clients__GetTermsRequest treq = KONTOR__CLIENTS__GET_TERMS_REQUEST__INIT;
        treq.client_id = client_id;
        rc = kp_call(c, "clients", "GetTerms", &treq.base, &kontor__clients__terms__descriptor,
                     KP_READ, &out);
        if (rc != 0) {
            kt_msg_free(out);
            return rc;
        }
        branch = ((Kontor__Clients__Terms *)out)->branch_id;
        kt_msg_free(out);
        out = NULL;
    }
    Kontor__Logistics__ListWarehousesRequest lreq =
        KONTOR__LOGISTICS__LIST_WAREHOUSES_REQUEST__INIT;
    rc = kp_call(c, "logistics", "ListWarehouses", &lreq.base,
                 &kontor__logistics__list_warehouses_reply__descriptor, KP_READ, &out);
    if (rc != 0) {
        kt_msg_free(out);
        return rc;
    }
    const Kontor__Logistics__ListWarehousesReply *l =
        (const Kontor__Logistics__ListWarehousesReply *)out;
    const Kontor__Logistics__Warehouse *pick = NULL, *central = NULL;
    const char *why = "";
    kontor_nearest_t near;
    kontor_nearest_init(&near, given ? given : "");
    for (size_t i = 0; i < l->n_warehouses; i++) {
        const Kontor__Logistics__Warehouse *w = l->warehouses[i];
        kontor_nearest_add(&near, w->code);
        if (given && strcasecmp(w->code, given) == 0)
            pick = w;
        if (!given && !pick && branch > 0 && w->branch_id == branch &&
            w->kind == KONTOR__LOGISTICS__WAREHOUSE_KIND__BRANCH) {
            pick = w;
            why = ", the client's branch warehouse";
        }
        if (!central && w->kind == KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL)
            central = w;
    }
    if (!given && !pick && central) {
        pick = central;
        why = ", the central warehouse";
    }
    if (!given && !pick && l->n_warehouses == 1)
        pick = l->warehouses[0];
    rc = 0;
    if (pick) {
        *id = pick->warehouse_id;
        snprintf(where, size, "warehouse %s (%" PRId64 ")%s", pick->code, pick->warehouse_id, why);
    } else if (given)
        rc = kp_usage(c, "--warehouse: no warehouse has the code '%s'; did you mean '%s'?", given,
                      near.best ? near.best : "");
    else
        rc = kp_usage(c, "no warehouse to take the goods from: give --warehouse ID or CODE");
    kt_msg_free(out);
    return rc;
}

//  ---------------------------------------------------------------- stock

static int s_availability(kp_ctx_t *c)
{
    int n = kp_nargs(c) + kp_count(c, "sku");
    if (n == 0)
        return kp_usage(c, "stock needs one or more SKUs: kontor stock 1001 1002");
    if (n > S_SKUS_MAX)
        return kp_usage(c, "at most %d SKUs at once, not %d", S_SKUS_MAX, n);
    Kontor__Logistics__AvailabilityRequest req = KONTOR__LOGISTICS__AVAILABILITY_REQUEST__INIT;
    int64_t *skus = calloc((size_t)n, sizeof *skus);
    if (!skus)
        return kp_usage(c, "out of memory");
    int rc = KONTOR_EXIT_USAGE;
    ProtobufCMessage *out = NULL;
    for (int i = 0; i < n; i++) {
        const char *text = i < kp_nargs(c) ? kp_arg(c, i) : kp_nth(c, "sku", i - kp_nargs(c));
        char *end = NULL;
        long long v = strtoll(text, &end, 10);
        if (!s_all_digits(text) || !end || *end || v <= 0) {
            rc = kp_usage(c, "a SKU is a whole number above 0, not '%s'", text);
            goto done;
        }
        skus[i] = v;
    }
    req.skus = skus;
    req.n_skus = (size_t)n;
    const char *wh = kp_nth(c, "warehouse", 0);
    char where[160] = "every warehouse";
    if (wh && (rc = kp_warehouse(c, 0, &req.warehouse_id, where, sizeof where)) != 0)
        goto done;
    rc = kp_call(c, "logistics", "Availability", &req.base,
                 &kontor__logistics__availability_reply__descriptor, KP_READ, &out);
    if (rc != 0)
        goto done;
    if (kp_json(c)) {
        rc = kp_print_json(out);
        goto done;
    }
    const Kontor__Logistics__AvailabilityReply *r =
        (const Kontor__Logistics__AvailabilityReply *)out;
    printf("availability in %s\n", where);
    kp_table_t *t =
        kp_table_new("SKU>", "NAME", "AVAILABLE>", "NEXT ARRIVAL", "ANALOGS IN STOCK", NULL);
    for (size_t i = 0; i < r->n_items; i++) {
        const Kontor__Logistics__SkuAvailability *it = r->items[i];
        kp_table_cell(t, "%" PRId64, it->sku);
        kp_table_cell(t, "%s", kp_or_dash(it->name));
        kp_table_cell(t, "%" PRId64, it->available);
        if (it->n_arrivals > 0)
            kp_table_cell(t, "%s (%" PRId64 "%s)", it->arrivals[0]->date, it->arrivals[0]->qty,
                          it->arrivals[0]->in_transit ? ", in transit" : "");
        else
            kp_table_cell(t, "-");
        char analogs[512] = "";
        size_t used = 0;
        for (size_t k = 0; k < it->n_analogs && used < sizeof analogs; k++) {
            int w = snprintf(analogs + used, sizeof analogs - used, "%s%" PRId64 " (%" PRId64 ")",
                             used ? ", " : "", it->analogs[k]->sku, it->analogs[k]->available);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        kp_table_cell(t, "%s", kp_or_dash(analogs));
    }
    kp_table_print(&t, stdout, 0, "no such SKUs");
    //  Per warehouse and every arrival, under the summary.
    for (size_t i = 0; i < r->n_items; i++) {
        const Kontor__Logistics__SkuAvailability *it = r->items[i];
        if (it->n_warehouses == 0 && it->n_arrivals <= 1)
            continue;
        printf("\nsku %" PRId64 " %s:\n", it->sku, it->name);
        kp_table_t *w = kp_table_new("WAREHOUSE>", "ON HAND>", "RESERVED>", "AVAILABLE>", NULL);
        for (size_t k = 0; k < it->n_warehouses; k++) {
            kp_table_cell(w, "%" PRId64, it->warehouses[k]->warehouse_id);
            kp_table_cell(w, "%" PRId64, it->warehouses[k]->on_hand);
            kp_table_cell(w, "%" PRId64, it->warehouses[k]->reserved);
            kp_table_cell(w, "%" PRId64, it->warehouses[k]->available);
        }
        kp_table_print(&w, stdout, 2, "not stocked anywhere");
        for (size_t k = 0; k < it->n_arrivals; k++)
            printf("  arrives %s: %" PRId64 " at warehouse %" PRId64 "%s\n", it->arrivals[k]->date,
                   it->arrivals[k]->qty, it->arrivals[k]->warehouse_id,
                   it->arrivals[k]->in_transit ? " (in transit)" : "");
    }
done:
    kt_msg_free(out);
    free(skus);
    return rc;
}

static const kp_sub_t s_stock_subs[] = {
    {"availability", "SKU... [--warehouse ID|CODE]",
     "available, on hand and reserved per warehouse, arrivals and analogs (logistics.Availability)",
     "warehouse= sku=*", S_SKUS_MAX,
     "`kontor stock SKU...` is short for `kontor stock availability SKU...`.\n"
     "\n"
     "Flags:\n"
     "  SKU...                the products (or --sku SKU, repeated); at most 200\n"
     "  --warehouse ID|CODE   one warehouse (default: all of them)\n"
     "\n"
     "example:\n"
     "  kontor stock 1001 1002 --warehouse N1\n",
     s_availability},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

static const kp_family_t s_stock_family = {
    "stock",
    "What is in stock: for each SKU what is available, per warehouse, when more\n"
    "arrives, and which analogs are in stock.",
    s_stock_subs,
    "availability",
};

static int s_stock_run(const kontor_opts_t *opts)
{
    return kp_family_run(&s_stock_family, opts);
}

const kontor_command_t kontor_stock_command = {
    "stock",
    "[availability] SKU...",
    "availability of SKUs across warehouses, with arrivals and analogs",
    "",
    s_stock_run,
    KONTOR_CMD_OWN_ARGS,
};

//  ---------------------------------------------------------------- shipments

static void s_print_shipment(const Kontor__Logistics__Shipment *s)
{
    char a[KP_TEXT_MAX], b[KP_TEXT_MAX], d[KP_TEXT_MAX];
    printf("shipment %" PRId64 ": %s\n", s->shipment_id,
           kp_enum_name(a, &kontor__logistics__shipment_status__descriptor, s->status));
    kp_field("order", "%" PRId64, s->order_id);
    kp_field("client", "%" PRId64, s->client_id);
    kp_field("manager", "%" PRId64, s->manager_id);
    kp_field("warehouse", "%" PRId64, s->warehouse_id);
    kp_field("delivery", "%s, %s%s%s", kp_or_dash(s->delivery_date),
             kp_enum_name(a, &kontor__delivery_method__descriptor, s->delivery_method),
             s->address[0] ? ", " : "", s->address);
    kp_field("changed", "%s", kp_fmt_time(b, s->changed_at_ms));
    kp_table_t *t = kp_table_new("SKU>", "QTY>", "UNIT PRICE>", NULL);
    for (size_t i = 0; i < s->n_lines; i++) {
        kp_table_cell(t, "%" PRId64, s->lines[i]->sku);
        kp_table_cell(t, "%" PRId64, s->lines[i]->qty);
        kp_table_cell(t, "%s", kp_fmt_units(d, s->lines[i]->unit_price, s->currency));
    }
    kp_table_print(&t, stdout, 2, "(no lines)");
}

static int s_shipments_list(kp_ctx_t *c)
{
    Kontor__Logistics__ListShipmentsRequest req = KONTOR__LOGISTICS__LIST_SHIPMENTS_REQUEST__INIT;
    int status = 0;
    int64_t limit = 0;
    if (kp_enum(c, "status", -1, &kontor__logistics__shipment_status__descriptor, false, &status) <
            0 ||
        kp_id(c, "after", -1, false, &req.after_id) < 0 ||
        kp_int(c, "limit", 1, 500, false, &limit) < 0)
        return KONTOR_EXIT_USAGE;
    req.status = (Kontor__Logistics__ShipmentStatus)status;
    req.limit = (uint32_t)limit;
    char where[160];
    int rc;
    if (kp_nth(c, "warehouse", 0) &&
        (rc = kp_warehouse(c, 0, &req.warehouse_id, where, sizeof where)) != 0)
        return rc;
    ProtobufCMessage *out = NULL;
    rc = kp_call(c, "logistics", "ListShipments", &req.base,
                 &kontor__logistics__list_shipments_reply__descriptor, KP_READ, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0) {
        const Kontor__Logistics__ListShipmentsReply *r =
            (const Kontor__Logistics__ListShipmentsReply *)out;
        kp_table_t *t = kp_table_new("SHIPMENT>", "ORDER>", "CLIENT>", "WAREHOUSE>", "STATUS",
                                     "DELIVERY", "METHOD", "UNITS>", "VALUE>", "CHANGED", NULL);
        for (size_t i = 0; i < r->n_shipments; i++) {
            const Kontor__Logistics__Shipment *s = r->shipments[i];
            char a[KP_TEXT_MAX], b[KP_TEXT_MAX], d[KP_TEXT_MAX], e[KP_TEXT_MAX];
            int64_t units = 0, value = 0, line;
            bool over = false;
            for (size_t k = 0; k < s->n_lines; k++)
                over = over || kt_add_i64(units, s->lines[k]->qty, &units) != 0 ||
                       kt_money_line(s->lines[k]->unit_price, s->lines[k]->qty, &line) != 0 ||
                       kt_add_i64(value, line, &value) != 0;
            kp_table_cell(t, "%" PRId64, s->shipment_id);
            kp_table_cell(t, "%" PRId64, s->order_id);
            kp_table_cell(t, "%" PRId64, s->client_id);
            kp_table_cell(t, "%" PRId64, s->warehouse_id);
            kp_table_cell(
                t, "%s",
                kp_enum_name(a, &kontor__logistics__shipment_status__descriptor, s->status));
            kp_table_cell(t, "%s", kp_or_dash(s->delivery_date));
            kp_table_cell(
                t, "%s", kp_enum_name(b, &kontor__delivery_method__descriptor, s->delivery_method));
            kp_table_cell(t, "%" PRId64, units);
            kp_table_cell(t, "%s", over ? "?" : kp_fmt_units(d, value, s->currency));
            kp_table_cell(t, "%s", kp_fmt_time(e, s->changed_at_ms));
        }
        kp_table_print(&t, stdout, 0, "no shipments");
        if (r->next_after_id)
            printf("more: --after %" PRId64 "\n", r->next_after_id);
    }
    kt_msg_free(out);
    return rc;
}

static int s_shipments_show(kp_ctx_t *c)
{
    Kontor__Logistics__GetShipmentRequest req = KONTOR__LOGISTICS__GET_SHIPMENT_REQUEST__INIT;
    if (kp_id(c, "order", -1, false, &req.order_id) < 0 ||
        kp_id(c, "shipment", 0, req.order_id == 0, &req.shipment_id) < 0)
        return KONTOR_EXIT_USAGE;
    ProtobufCMessage *out = NULL;
    int rc = kp_call(c, "logistics", "GetShipment", &req.base,
                     &kontor__logistics__shipment_reply__descriptor, KP_READ, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0 && ((Kontor__Logistics__ShipmentReply *)out)->shipment)
        s_print_shipment(((Kontor__Logistics__ShipmentReply *)out)->shipment);
    kt_msg_free(out);
    return rc;
}

static int s_shipments_update(kp_ctx_t *c)
{
    Kontor__Logistics__UpdateShipmentRequest req = KONTOR__LOGISTICS__UPDATE_SHIPMENT_REQUEST__INIT;
    int status = 0;
    const char *note = NULL;
    if (kp_id(c, "shipment", 0, true, &req.shipment_id) < 0 ||
        kp_enum(c, "status", -1, &kontor__logistics__shipment_status__descriptor, true, &status) <
            0 ||
        kp_text(c, "note", -1, false, &note) < 0)
        return KONTOR_EXIT_USAGE;
    req.status = (Kontor__Logistics__ShipmentStatus)status;
    if (note)
        req.note = (char *)note;
    ProtobufCMessage *out = NULL;
    //  Setting the status a shipment already has is a no-op: safe to resend.
    int rc = kp_call(c, "logistics", "UpdateShipment", &req.base,
                     &kontor__logistics__shipment_reply__descriptor, KP_WRITE_REPEAT, &out);
    if (rc == 0 && kp_json(c))
        rc = kp_print_json(out);
    else if (rc == 0 && ((Kontor__Logistics__ShipmentReply *)out)->shipment)
        s_print_shipment(((Kontor__Logistics__ShipmentReply *)out)->shipment);
    kt_msg_free(out);
    return rc;
}

static const kp_sub_t s_shipment_subs[] = {
    {"list", "[--status S] [--warehouse ID|CODE] [--after ID] [--limit N]",
     "shipments by status and warehouse, oldest first (logistics.ListShipments)",
     "status= warehouse= after= limit=", 0,
     "Flags:\n"
     "  --status S            requested, picking, dispatched, delivered, failed or cancelled\n"
     "  --warehouse ID|CODE   one warehouse\n"
     "  --after ID            the next page: shipments after this one\n"
     "  --limit N             at most N, 1 to 500 (default 100)\n"
     "\n"
     "example:\n"
     "  kontor shipments list --status requested --warehouse N1\n",
     s_shipments_list},
    {"show", "SHIPMENT | --order ID",
     "one shipment, by its id or its order (logistics.GetShipment)", "shipment= order=", 1,
     "example:\n"
     "  kontor shipments show 5\n"
     "  kontor shipments show --order 17\n",
     s_shipments_show},
    {"update", "SHIPMENT --status S [--note TEXT]",
     "report a shipment's progress: picking, dispatched, delivered, failed, cancelled "
     "(logistics.UpdateShipment)",
     "shipment= status= note=", 1,
     "Logistics staff and logistics systems. Setting the status a shipment already\n"
     "has changes nothing and answers OK; a step the state table does not allow\n"
     "(delivered back to picking) is refused.\n"
     "\n"
     "example:\n"
     "  kontor --as logistician-1 shipments update 5 --status dispatched\n",
     s_shipments_update},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

static const kp_family_t s_shipment_family = {
    "shipments",
    "Shipments raised from confirmed orders, and their progress from the warehouse\n"
    "to the client.",
    s_shipment_subs,
    NULL,
};

static int s_shipments_run(const kontor_opts_t *opts)
{
    return kp_family_run(&s_shipment_family, opts);
}

const kontor_command_t kontor_shipments_command = {
    "shipments", "SUBCOMMAND [ARGS]", "shipments: list, show, update their status",
    "",          s_shipments_run,     KONTOR_CMD_OWN_ARGS,
};
