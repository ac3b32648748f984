/*  test_receivables_logic - the receivables rules that need no I/O:
 *  dunning policy and levels, aging buckets, credit checks, sums, ratios.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../services/receivables/receivables_logic.h"

static void test_policy_parse(void **state)
{
    rcv_policy_t p;
    char why[160];
    rcv_policy_default(&p);
    assert_int_equal(p.nlevels, 3);
    assert_int_equal(rcv_policy_parse_levels("1,10,20,45", &p, why, sizeof why), 0);
    assert_int_equal(p.nlevels, 4);
    assert_int_equal(p.levels[3], 45);
    char text[64];
    rcv_policy_levels_text(&p, text, sizeof text);
    assert_string_equal(text, "{1,10,20,45}");
    const char *bad[] = {"", "0", "1,1", "5,3", "1,", ",1", "1;2", "x", "-1", "1,2,3,4,5,6,7,8,9",
                         "99999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rcv_policy_t q = p;
        assert_int_equal(rcv_policy_parse_levels(bad[i], &q, why, sizeof why), -1);
        assert_int_equal(q.nlevels, 4);     //  untouched
        assert_true(strlen(why) > 0);
    }
}

static void test_dunning_level(void **state)
{
    rcv_policy_t p;
    rcv_policy_default(&p);     //  reminder 3 days before; 1, 15, 30 after
    int32_t due = 20000;
    assert_int_equal(rcv_dunning_level(&p, due, due - 4), -1);
    assert_int_equal(rcv_dunning_level(&p, due, due - 3), 0);
    assert_int_equal(rcv_dunning_level(&p, due, due - 1), 0);
    assert_int_equal(rcv_dunning_level(&p, due, due), -1);
    assert_int_equal(rcv_dunning_level(&p, due, due + 1), 1);
    assert_int_equal(rcv_dunning_level(&p, due, due + 14), 1);
    assert_int_equal(rcv_dunning_level(&p, due, due + 15), 2);
    assert_int_equal(rcv_dunning_level(&p, due, due + 30), 3);
    assert_int_equal(rcv_dunning_level(&p, due, due + 400), 3);
    p.reminder_days = 0;
    assert_int_equal(rcv_dunning_level(&p, due, due - 1), -1);
}

static void test_aging_bucket(void **state)
{
    int32_t due = 20000;
    assert_int_equal(rcv_aging_bucket(due, due - 10), 0);
    assert_int_equal(rcv_aging_bucket(due, due), 0);
    assert_int_equal(rcv_aging_bucket(due, due + 1), 1);
    assert_int_equal(rcv_aging_bucket(due, due + 30), 1);
    assert_int_equal(rcv_aging_bucket(due, due + 31), 2);
    assert_int_equal(rcv_aging_bucket(due, due + 60), 2);
    assert_int_equal(rcv_aging_bucket(due, due + 61), 3);
    assert_int_equal(rcv_aging_bucket(due, due + 90), 3);
    assert_int_equal(rcv_aging_bucket(due, due + 91), 4);
}

static void test_credit_check(void **state)
{
    rcv_credit_t c;
    //  open 5000 - unapplied 1000 + reserved 2000 = 6000; +4000 = 10000 fits 10000 exactly.
    assert_int_equal(rcv_credit_check(5000, 1000, 2000, 4000, 10000, &c), 0);
    assert_int_equal(c.exposure, 6000);
    assert_int_equal(c.after, 10000);
    assert_int_equal(c.exceeded_by, 0);
    assert_int_equal(rcv_credit_check(5000, 1000, 2000, 4001, 10000, &c), 1);
    assert_int_equal(c.exceeded_by, 1);
    //  Prepaid: unapplied credit makes room under a zero limit.
    assert_int_equal(rcv_credit_check(0, 800, 0, 800, 0, &c), 0);
    assert_int_equal(rcv_credit_check(1, 0, 0, INT64_MAX, INT64_MAX, &c), -1);
    assert_int_equal(rcv_credit_check(0, 0, INT64_MAX, 1, 0, &c), -1);
}

static void test_lines_and_ratios(void **state)
{
    int64_t qty[] = {2, 3}, price[] = {150, 1000}, total = -1;
    assert_int_equal(rcv_lines_total(qty, price, 2, &total), 0);
    assert_int_equal(total, 3300);
    int64_t big_q[] = {INT64_MAX / 2, 3}, big_p[] = {2, 1};
    assert_int_equal(rcv_lines_total(big_q, big_p, 2, &total), -1);
    int64_t neg_p[] = {-1, 0};
    assert_int_equal(rcv_lines_total(qty, neg_p, 1, &total), -1);
    assert_int_equal(rcv_ratio_bp(1, 2), 5000);
    assert_int_equal(rcv_ratio_bp(1, 3), 3333);
    assert_int_equal(rcv_ratio_bp(2, 3), 6667);
    assert_int_equal(rcv_ratio_bp(0, 0), 0);
    assert_int_equal(rcv_ratio_bp(5, 5), 10000);
    assert_int_equal(rcv_ratio_bp(INT64_MAX - 1, INT64_MAX), 10000);
    assert_int_equal(rcv_average_rounded(3, 2), 2);
    assert_int_equal(rcv_average_rounded(2, 2), 1);
    assert_int_equal(rcv_average_rounded(0, 0), 0);
    assert_int_equal(rcv_average_rounded(INT64_MAX, 1), INT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_parse),     cmocka_unit_test(test_dunning_level),
        cmocka_unit_test(test_aging_bucket),     cmocka_unit_test(test_credit_check),
        cmocka_unit_test(test_lines_and_ratios),
    };
    return cmocka_run_group_tests_name("receivables_logic", tests, NULL, NULL);
}
