/*  test_orders_rules - the orders service's pure rules: request checks,
 *  pricing order, promotions, overflow, authority and the short split.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "kt_status.h"
#include "kt_validate.h"
#include "../../services/orders/orders_rules.h"

static int32_t s_day(const char *date)
{
    int32_t days;
    char why[128];
    assert_int_equal(kt_check_date("d", date, &days, why, sizeof why), 0);
    return days;
}

static orders_request_t s_req(const orders_line_req_t *lines, size_t n)
{
    orders_request_t r = {.client_id = 7, .warehouse_id = 1, .lines = lines, .nlines = n,
                          .delivery_date = "", .address = "", .note = ""};
    return r;
}

static void s_expect_fault(const orders_request_t *r, int status, const char *field)
{
    orders_fault_t f;
    int32_t dd;
    assert_int_equal(orders_check_request(r, s_day("2026-03-10"), 200, &dd, &f), -1);
    assert_int_equal(f.status, status);
    assert_string_equal(f.field, field);
    assert_true(strlen(f.message) > 0);
}

static void test_request_checks(void **state)
{
    orders_line_req_t lines[3] = {{10, 5, 0}, {11, 1, 0}, {12, 2, 0}};
    orders_request_t r = s_req(lines, 3);
    orders_fault_t f;
    int32_t dd;
    assert_int_equal(orders_check_request(&r, s_day("2026-03-10"), 200, &dd, &f), 0);
    assert_int_equal(dd, -1);

    r = s_req(lines, 0);
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "lines");
    r = s_req(lines, 3);
    r.client_id = 0;
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "client_id");
    r = s_req(lines, 3);
    r.warehouse_id = -1;
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "warehouse_id");
    lines[1].qty = 0;
    r = s_req(lines, 3);
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "lines[1].qty");
    lines[1].qty = -3;
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "lines[1].qty");
    lines[1].qty = ORDERS_MAX_QTY + 1;
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "lines[1].qty");
    lines[1].qty = 1;
    lines[2].sku = 10;
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "lines[2].sku");
    assert_int_equal(orders_check_request(&r, 0, 200, &dd, &f), -1);
    assert_string_equal(f.reason, "duplicate_line");
    lines[2].sku = 0;
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "lines[2].sku");
    lines[2].sku = 12;
    lines[2].extra_bp = 10001;
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "lines[2].extra_discount_bp");
    lines[2].extra_bp = 0;
    r.extra_bp = 10001;
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "extra_discount_bp");
    r.extra_bp = 10000;
    r.delivery_date = "2026-03-09";
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "delivery_date");
    r.delivery_date = "2026-02-30";
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "delivery_date");
    r.delivery_date = "2026-03-10";
    assert_int_equal(orders_check_request(&r, s_day("2026-03-10"), 200, &dd, &f), 0);
    assert_int_equal(dd, s_day("2026-03-10"));
    //  The configured cap on lines.
    orders_line_req_t many[201];
    for (int i = 0; i < 201; i++)
        many[i] = (orders_line_req_t){i + 1, 1, 0};
    r = s_req(many, 201);
    s_expect_fault(&r, KT_INVALID_ARGUMENT, "lines");
    r = s_req(many, 200);
    assert_int_equal(orders_check_request(&r, 0, 200, &dd, &f), 0);
}

static orders_line_in_t s_in(int64_t sku, int64_t qty, int64_t price)
{
    orders_line_in_t l = {.sku = sku, .qty = qty, .has_price = true, .list_price = price};
    return l;
}

static void test_pricing_order_client_promo_extra(void **state)
{
    //  list 1000; client 10% -> 900; best promo 5% (not 3%) -> 855; extra 2% -> 837.9 -> 838
    orders_promo_t promos[2] = {
        {.id = 1, .kind = ORDERS_PROMO_PERCENT, .scope = ORDERS_SCOPE_ALL, .to_days = INT32_MAX,
         .percent_bp = 300},
        {.id = 2, .kind = ORDERS_PROMO_PERCENT, .scope = ORDERS_SCOPE_SKU, .scope_id = 10,
         .to_days = INT32_MAX, .percent_bp = 500},
    };
    orders_pricing_t ctx = {.client_bp = 1000, .extra_bp = 200, .day = 100, .promos = promos,
                            .npromos = 2};
    orders_line_in_t in[2] = {s_in(10, 3, 1000), s_in(11, 1, 1000)};
    orders_line_t out[8];
    size_t n;
    int64_t lt, tt;
    orders_fault_t f;
    assert_int_equal(orders_price(&ctx, in, 2, out, 8, &n, &lt, &tt, &f), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].unit_price, 838);
    assert_int_equal(out[0].nadj, 3);
    assert_int_equal(out[0].adj[0].kind, ORDERS_ADJ_CLIENT);
    assert_int_equal(out[0].adj[0].per_unit, 100);
    assert_int_equal(out[0].adj[1].kind, ORDERS_ADJ_PROMO);
    assert_int_equal(out[0].adj[1].promo_id, 2);
    assert_int_equal(out[0].adj[1].per_unit, 45);
    assert_int_equal(out[0].adj[2].kind, ORDERS_ADJ_EXTRA);
    assert_int_equal(out[0].adj[2].per_unit, 17);
    assert_int_equal(out[0].line_total, 838 * 3);
    //  Line 2: 900 -> 3% -> 873 -> 2% -> 855.54 -> 856
    assert_int_equal(out[1].unit_price, 856);
    assert_int_equal(out[1].promo_id, 1);
    assert_int_equal(tt, 838 * 3 + 856);
    assert_int_equal(lt, 4000);
}

static void test_promo_conditions_and_dates(void **state)
{
    orders_promo_t promos[3] = {
        //  needs 10 on the line
        {.id = 1, .kind = ORDERS_PROMO_PERCENT, .scope = ORDERS_SCOPE_ALL, .to_days = INT32_MAX,
         .min_qty = 10, .percent_bp = 1000},
        //  needs an order of 5000 after the client discount
        {.id = 2, .kind = ORDERS_PROMO_PERCENT, .scope = ORDERS_SCOPE_GROUP, .scope_id = 77,
         .to_days = INT32_MAX, .min_order_value = 5000, .percent_bp = 2000},
        //  expired
        {.id = 3, .kind = ORDERS_PROMO_PERCENT, .scope = ORDERS_SCOPE_ALL, .from_days = 0,
         .to_days = 99, .percent_bp = 5000},
    };
    orders_pricing_t ctx = {.day = 100, .promos = promos, .npromos = 3};
    orders_line_in_t in[2] = {s_in(1, 9, 100), s_in(2, 10, 100)};
    in[0].group = 77;
    orders_line_t out[4];
    size_t n;
    int64_t lt, tt;
    orders_fault_t f;
    assert_int_equal(orders_price(&ctx, in, 2, out, 4, &n, &lt, &tt, &f), 0);
    assert_int_equal(out[0].unit_price, 100); //  9 < 10, subtotal 1900 < 5000
    assert_int_equal(out[1].unit_price, 90);
    in[0].qty = 40; //  subtotal now 5000: group promo applies to line 1
    assert_int_equal(orders_price(&ctx, in, 2, out, 4, &n, &lt, &tt, &f), 0);
    assert_int_equal(out[0].unit_price, 80);
    assert_int_equal(out[0].promo_id, 2);
    assert_int_equal(out[1].unit_price, 90);
}

static void test_free_goods(void **state)
{
    orders_promo_t promos[2] = {
        {.id = 5, .kind = ORDERS_PROMO_FREE, .scope = ORDERS_SCOPE_SKU, .scope_id = 1,
         .to_days = INT32_MAX, .min_qty = 10, .free_qty = 1},
        {.id = 6, .kind = ORDERS_PROMO_FREE, .scope = ORDERS_SCOPE_SKU, .scope_id = 1,
         .to_days = INT32_MAX, .min_qty = 5, .free_sku = 99, .free_qty = 2},
    };
    orders_pricing_t ctx = {.day = 1, .promos = promos, .npromos = 2};
    orders_line_in_t in[2] = {s_in(1, 25, 100), s_in(2, 25, 100)};
    size_t cap = orders_price_capacity(&ctx, 2);
    assert_int_equal(cap, 6);
    orders_line_t out[6];
    size_t n;
    int64_t lt, tt;
    orders_fault_t f;
    assert_int_equal(orders_price(&ctx, in, 2, out, cap, &n, &lt, &tt, &f), 0);
    assert_int_equal(n, 4);
    assert_true(out[2].free);
    assert_int_equal(out[2].sku, 1);
    assert_int_equal(out[2].qty, 2);
    assert_int_equal(out[2].unit_price, 0);
    assert_int_equal(out[2].line_total, 0);
    assert_int_equal(out[2].adj[0].kind, ORDERS_ADJ_FREE);
    assert_int_equal(out[3].sku, 99);
    assert_int_equal(out[3].qty, 10);
    assert_int_equal(tt, 5000);
    //  For reservation the same SKU's lines merge.
    int64_t sku[4], qty[4], ms[4], mq[4];
    for (size_t i = 0; i < n; i++) {
        sku[i] = out[i].sku;
        qty[i] = out[i].qty;
    }
    assert_int_equal(orders_merge_skus(sku, qty, n, ms, mq), 3);
    assert_int_equal(ms[0], 1);
    assert_int_equal(mq[0], 27);
}

static void test_missing_price_and_overflow(void **state)
{
    orders_pricing_t ctx = {.day = 1};
    orders_line_in_t in[2] = {s_in(1, 1, 100), s_in(2, 1, 100)};
    in[1].has_price = false;
    orders_line_t out[2];
    size_t n;
    int64_t lt, tt;
    orders_fault_t f;
    assert_int_equal(orders_price(&ctx, in, 2, out, 2, &n, &lt, &tt, &f), -1);
    assert_int_equal(f.status, KT_FAILED_PRECONDITION);
    assert_string_equal(f.field, "lines[1].sku");
    assert_string_equal(f.reason, "no_price");

    in[1] = s_in(2, ORDERS_MAX_QTY, ORDERS_MAX_PRICE);
    assert_int_equal(orders_price(&ctx, in, 2, out, 2, &n, &lt, &tt, &f), -1);
    assert_int_equal(f.status, KT_INVALID_ARGUMENT);
    assert_string_equal(f.field, "lines[1].qty");
    //  Each line fits, the sum does not.
    in[0] = s_in(1, 1000000, 5000000000000LL);
    in[1] = s_in(2, 1000000, 5000000000000LL);
    assert_int_equal(orders_price(&ctx, in, 2, out, 2, &n, &lt, &tt, &f), -1);
    assert_int_equal(f.status, KT_INVALID_ARGUMENT);
    assert_string_equal(f.field, "lines");
}

static void test_authority_and_allocation(void **state)
{
    orders_line_req_t lines[3] = {{1, 1, 0}, {2, 1, 700}, {3, 1, 0}};
    assert_int_equal(orders_max_extra_bp(lines, 3, 300), 700);
    assert_int_equal(orders_max_extra_bp(lines, 3, 900), 900);

    int64_t sku[4] = {1, 2, 1, 3}, qty[4] = {5, 4, 3, 2}, avail[4] = {6, 10, 6, -1}, ship[4];
    assert_int_equal(orders_allocate(sku, qty, avail, 4, ship), 2);
    assert_int_equal(ship[0], 5);
    assert_int_equal(ship[1], 4);
    assert_int_equal(ship[2], 1);
    assert_int_equal(ship[3], 0);
    char buf[16];
    assert_string_equal(orders_bp_text(525, buf, sizeof buf), "5.25%");
    assert_string_equal(orders_status_name(ORDERS_BACK_ORDER), "BACK_ORDER");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_checks),
        cmocka_unit_test(test_pricing_order_client_promo_extra),
        cmocka_unit_test(test_promo_conditions_and_dates),
        cmocka_unit_test(test_free_goods),
        cmocka_unit_test(test_missing_price_and_overflow),
        cmocka_unit_test(test_authority_and_allocation),
    };
    return cmocka_run_group_tests_name("orders_rules", tests, NULL, NULL);
}
