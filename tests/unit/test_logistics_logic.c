/*  test_logistics_logic - the logistics service's pure rules: line checks
 *  (duplicate_line names the second line), the shipment state table, stock
 *  plans (merge, overflow, short), fingerprints and array literals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kt_status.h"
#include "../../services/logistics/logistics_logic.h"

static void s_fill(logistics_line_t *lines, const int64_t *skus, const int64_t *qtys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lines[i] = (logistics_line_t) {skus[i], qtys[i], (int) i};
}

static void test_lines_ok_are_sorted(void **state)
{
    logistics_line_t lines[3];
    int64_t skus[] = {30, 10, 20}, qtys[] = {1, 2, 3};
    s_fill(lines, skus, qtys, 3);
    logistics_problem_t p;
    assert_int_equal(logistics_lines_check(lines, 3, 10, "lines", false, &p), 0);
    assert_int_equal(lines[0].sku, 10);
    assert_int_equal(lines[0].index, 1);
    assert_int_equal(lines[2].sku, 30);
    assert_int_equal(lines[2].index, 0);
}

static void test_duplicate_names_second_line(void **state)
{
    logistics_line_t lines[5];
    int64_t skus[] = {7, 8, 9, 8, 7}, qtys[] = {1, 1, 1, 1, 1};
    s_fill(lines, skus, qtys, 5);
    logistics_problem_t p;
    assert_int_equal(logistics_lines_check(lines, 5, 10, "lines", false, &p), -1);
    assert_int_equal(p.status, KT_INVALID_ARGUMENT);
    assert_string_equal(p.reason, "duplicate_line");
    assert_string_equal(p.field, "lines[3].sku");
    assert_non_null(strstr(p.message, "lines[1]"));
}

static void test_bad_quantities(void **state)
{
    logistics_line_t lines[2];
    logistics_problem_t p;
    int64_t skus[] = {1, 2};
    int64_t zero[] = {1, 0}, neg[] = {-1, 1}, huge[] = {1, INT64_MAX};
    s_fill(lines, skus, zero, 2);
    assert_int_equal(logistics_lines_check(lines, 2, 10, "lines", false, &p), -1);
    assert_string_equal(p.field, "lines[1].qty");
    s_fill(lines, skus, neg, 2);
    assert_int_equal(logistics_lines_check(lines, 2, 10, "lines", false, &p), -1);
    assert_string_equal(p.field, "lines[0].qty");
    s_fill(lines, skus, huge, 2);
    assert_int_equal(logistics_lines_check(lines, 2, 10, "lines", false, &p), -1);
    assert_string_equal(p.field, "lines[1].qty");
    //  Signed (Adjust): negative fine, zero not, named delta.
    s_fill(lines, skus, neg, 2);
    assert_int_equal(logistics_lines_check(lines, 2, 10, "lines", true, &p), 0);
    s_fill(lines, skus, zero, 2);
    assert_int_equal(logistics_lines_check(lines, 2, 10, "lines", true, &p), -1);
    assert_string_equal(p.field, "lines[1].delta");
    int64_t bad_sku[] = {1, -2};
    s_fill(lines, bad_sku, zero, 2);
    lines[1].qty = 1;
    assert_int_equal(logistics_lines_check(lines, 2, 10, "lines", false, &p), -1);
    assert_string_equal(p.field, "lines[1].sku");
    assert_int_equal(logistics_lines_check(lines, 0, 10, "lines", false, &p), -1);
    assert_string_equal(p.field, "lines");
    assert_int_equal(logistics_lines_check(lines, 2, 1, "lines", false, &p), -1);
    assert_string_equal(p.field, "lines");
}

static void test_shipment_state_table(void **state)
{
    assert_true(logistics_ship_transition_ok(LOGISTICS_SHIP_REQUESTED, LOGISTICS_SHIP_PICKING));
    assert_true(logistics_ship_transition_ok(LOGISTICS_SHIP_PICKING, LOGISTICS_SHIP_DISPATCHED));
    assert_true(logistics_ship_transition_ok(LOGISTICS_SHIP_DISPATCHED, LOGISTICS_SHIP_DELIVERED));
    assert_true(logistics_ship_transition_ok(LOGISTICS_SHIP_DISPATCHED, LOGISTICS_SHIP_FAILED));
    assert_true(logistics_ship_transition_ok(LOGISTICS_SHIP_REQUESTED, LOGISTICS_SHIP_CANCELLED));
    assert_false(logistics_ship_transition_ok(LOGISTICS_SHIP_DELIVERED, LOGISTICS_SHIP_PICKING));
    assert_false(logistics_ship_transition_ok(LOGISTICS_SHIP_DISPATCHED, LOGISTICS_SHIP_CANCELLED));
    assert_false(logistics_ship_transition_ok(LOGISTICS_SHIP_CANCELLED, LOGISTICS_SHIP_PICKING));
    assert_false(logistics_ship_transition_ok(0, LOGISTICS_SHIP_PICKING));
    assert_false(logistics_ship_transition_ok(LOGISTICS_SHIP_REQUESTED, 99));
    assert_string_equal(logistics_ship_status_name(LOGISTICS_SHIP_DISPATCHED), "dispatched");
    assert_int_equal(logistics_ship_status_from_name("delivered"), LOGISTICS_SHIP_DELIVERED);
    assert_null(logistics_ship_status_name(7));
    assert_int_equal(logistics_res_status_from_name("consumed"), LOGISTICS_RES_CONSUMED);
    assert_string_equal(logistics_discrepancy_name(2), "mis_sort");
}

static void test_plan_merge_and_check(void **state)
{
    logistics_delta_t d[4] = {
        {.warehouse_id = 2, .sku = 5, .d_on_hand = -3, .index = 0},
        {.warehouse_id = 1, .sku = 9, .d_reserved = 4, .index = 1},
        {.warehouse_id = 2, .sku = 5, .d_reserved = -2, .index = 2},
        {.warehouse_id = 1, .sku = 3, .d_on_hand = 10, .index = 3},
    };
    int bad = -1;
    assert_int_equal(logistics_plan_merge(d, 4, &bad), 3);
    assert_int_equal(d[0].sku, 3);
    assert_int_equal(d[1].sku, 9);
    assert_int_equal(d[2].warehouse_id, 2);
    assert_int_equal(d[2].d_on_hand, -3);
    assert_int_equal(d[2].d_reserved, -2);
    int64_t avail = 0;
    d[2].found = true;
    d[2].on_hand = 5;
    d[2].reserved = 2;
    assert_int_equal(logistics_plan_check(&d[2], &avail), LOGISTICS_PLAN_OK);
    assert_int_equal(avail, 3);
    d[2].on_hand = 4; //  4 - 3 = 1 on hand, 0 reserved: fine
    assert_int_equal(logistics_plan_check(&d[2], &avail), LOGISTICS_PLAN_OK);
    d[2].on_hand = 2; //  below zero
    assert_int_equal(logistics_plan_check(&d[2], &avail), LOGISTICS_PLAN_SHORT);
    //  Missing row, reserve: short.
    assert_int_equal(logistics_plan_check(&d[1], &avail), LOGISTICS_PLAN_SHORT);
    assert_int_equal(avail, 0);
    //  Overflow.
    logistics_delta_t big = {.found = true, .on_hand = INT64_MAX - 1, .d_on_hand = 5};
    assert_int_equal(logistics_plan_check(&big, &avail), LOGISTICS_PLAN_OVERFLOW);
    logistics_delta_t two[2] = {{.warehouse_id = 1, .sku = 1, .d_on_hand = INT64_MAX, .index = 0},
                                {.warehouse_id = 1, .sku = 1, .d_on_hand = 1, .index = 1}};
    assert_int_equal(logistics_plan_merge(two, 2, &bad), -1);
    assert_int_equal(bad, 1);
}

static void test_fingerprint_and_arrays(void **state)
{
    logistics_line_t lines[2] = {{5, 2, 1}, {9, 1, 0}};
    char *fp = logistics_fingerprint(3, lines, 2);
    assert_string_equal(fp, "3:5*2,9*1");
    free(fp);
    int64_t v[] = {1, -2, INT64_MIN};
    char *a = logistics_array_i64(v, 3, sizeof v[0]);
    assert_string_equal(a, "{1,-2,-9223372036854775808}");
    free(a);
    char *e = logistics_array_i64(v, 0, sizeof v[0]);
    assert_string_equal(e, "{}");
    free(e);
    const char *t[] = {"plain", "quo\"te", "back\\slash", ""};
    char *ta = logistics_array_text(t, 4);
    assert_string_equal(ta, "{\"plain\",\"quo\\\"te\",\"back\\\\slash\",\"\"}");
    free(ta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_ok_are_sorted),
        cmocka_unit_test(test_duplicate_names_second_line),
        cmocka_unit_test(test_bad_quantities),
        cmocka_unit_test(test_shipment_state_table),
        cmocka_unit_test(test_plan_merge_and_check),
        cmocka_unit_test(test_fingerprint_and_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
