/*  test_clients_rules - the client base's pure rules (clients_rules.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "clients.pb-c.h"
#include "../../services/clients/clients_rules.h"
#include "kt_validate.h"

static void test_weeks_exist_or_not(void **state)
{
    char why[256], buf[16];
    int32_t monday;
    assert_int_equal(clients_parse_week("week", "2030-W10", &monday, why, sizeof why), 0);
    assert_int_equal(monday, kt_days_from_civil(2030, 3, 4));
    assert_int_equal(clients_parse_week("week", "2026-W01", &monday, why, sizeof why), 0);
    assert_int_equal(monday, kt_days_from_civil(2025, 12, 29));
    //  53 weeks only where Jan 1 is a Thursday (or Wednesday in a leap year).
    assert_int_equal(clients_parse_week("week", "2026-W53", &monday, why, sizeof why), 0);
    assert_int_equal(monday, kt_days_from_civil(2026, 12, 28));
    assert_int_equal(clients_parse_week("week", "2020-W53", &monday, why, sizeof why), 0);
    assert_int_equal(clients_parse_week("week", "2030-W53", &monday, why, sizeof why), -1);
    assert_non_null(strstr(why, "does not exist"));
    assert_int_equal(clients_parse_week("week", "2025-W53", &monday, why, sizeof why), -1);
    assert_int_equal(clients_parse_week("week", "2030-W00", &monday, why, sizeof why), -1);
    assert_int_equal(clients_parse_week("week", "2030-10", &monday, why, sizeof why), -1);
    assert_int_equal(clients_parse_week("week", "1999-W10", &monday, why, sizeof why), -1);
    assert_int_equal(clients_parse_week("week", "", &monday, why, sizeof why), -1);
    assert_int_equal(clients_parse_week("week", "2030-W1x", &monday, why, sizeof why), -1);
    //  And back: the ISO week of a day.
    clients_week_of(kt_days_from_civil(2030, 3, 10), buf, sizeof buf);
    assert_string_equal(buf, "2030-W10");
    clients_week_of(kt_days_from_civil(2027, 1, 1), buf, sizeof buf);
    assert_string_equal(buf, "2026-W53");
    clients_week_of(kt_days_from_civil(2025, 12, 29), buf, sizeof buf);
    assert_string_equal(buf, "2026-W01");
}

static void test_months_times_days(void **state)
{
    char why[256];
    int32_t first;
    int m, d;
    assert_int_equal(clients_parse_month("month", "2030-05", &first, why, sizeof why), 0);
    assert_int_equal(first, kt_days_from_civil(2030, 5, 1));
    assert_int_equal(clients_parse_month("month", "2030-13", &first, why, sizeof why), -1);
    assert_int_equal(clients_parse_month("month", "2030-5", &first, why, sizeof why), -1);
    assert_int_equal(clients_parse_time("at", "2030-03-05T10:30", why, sizeof why), 0);
    assert_int_equal(clients_parse_time("at", "2030-02-30T10:30", why, sizeof why), -1);
    assert_int_equal(clients_parse_time("at", "2030-03-05T24:00", why, sizeof why), -1);
    assert_int_equal(clients_parse_time("at", "2030-03-05 10:30", why, sizeof why), -1);
    assert_int_equal(clients_parse_day("day", "02-29", &m, &d, why, sizeof why), 0);
    assert_int_equal(m * 100 + d, 229);
    assert_int_equal(clients_parse_day("day", "02-30", &m, &d, why, sizeof why), -1);
    assert_int_equal(clients_parse_day("day", "13-01", &m, &d, why, sizeof why), -1);
    int32_t today = kt_days_from_civil(2026, 1, 1);
    assert_int_equal(clients_check_birthday("b", "1975-03-06", today, why, sizeof why), 0);
    assert_int_equal(clients_check_birthday("b", "1980-02-29", today, why, sizeof why), 0);
    assert_int_equal(clients_check_birthday("b", "1981-02-29", today, why, sizeof why), -1);
    assert_int_equal(clients_check_birthday("b", "1899-12-31", today, why, sizeof why), -1);
    assert_int_equal(clients_check_birthday("b", "2026-01-02", today, why, sizeof why), -1);
}

static void test_codes(void **state)
{
    char why[256];
    assert_int_equal(clients_check_code("code", "C-000123", why, sizeof why), 0);
    assert_int_equal(clients_check_code("code", "-C", why, sizeof why), -1);
    assert_int_equal(clients_check_code("code", "c1", why, sizeof why), -1);
    assert_int_equal(clients_check_code("code", "C 1", why, sizeof why), -1);
    assert_int_equal(clients_check_code("code", "", why, sizeof why), -1);
    assert_int_equal(
        clients_check_code("code", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", why, sizeof why), -1);
}

static void test_complaint_moves(void **state)
{
    enum {
        OPEN = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_OPEN,
        WORK = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_IN_PROGRESS,
        DONE = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED,
        NO = KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_REJECTED,
    };
    assert_true(clients_complaint_move_ok(OPEN, WORK));
    assert_true(clients_complaint_move_ok(OPEN, DONE));
    assert_true(clients_complaint_move_ok(OPEN, NO));
    assert_true(clients_complaint_move_ok(WORK, DONE));
    assert_true(clients_complaint_move_ok(WORK, NO));
    assert_false(clients_complaint_move_ok(WORK, OPEN));
    assert_false(clients_complaint_move_ok(WORK, WORK));
    assert_false(clients_complaint_move_ok(DONE, WORK));
    assert_false(clients_complaint_move_ok(NO, DONE));
    assert_false(clients_complaint_move_ok(0, OPEN));
}

static void test_names_round_trip(void **state)
{
    for (int v = 1; v <= 4; v++)
        assert_int_equal(clients_status_from_name(clients_status_name(v)), v);
    for (int v = 1; v <= 3; v++)
        assert_int_equal(clients_role_from_name(clients_role_name(v)), v);
    for (int v = 1; v <= 4; v++)
        assert_int_equal(clients_activity_from_name(clients_activity_name(v)), v);
    for (int v = 1; v <= 4; v++)
        assert_int_equal(clients_complaint_from_name(clients_complaint_name(v)), v);
    assert_null(clients_status_name(0));
    assert_null(clients_status_name(5));
    assert_int_equal(clients_status_from_name("nope"), -1);
    assert_string_equal(clients_short_policy_name(KONTOR__CLIENTS__SHORT_POLICY__WAIT_FOR_ALL),
                        "wait_for_all");
}

static void test_limit_needs_head(void **state)
{
    assert_false(clients_limit_needs_head(0, "EUR", false, 0, ""));
    assert_true(clients_limit_needs_head(1, "EUR", false, 0, ""));
    assert_false(clients_limit_needs_head(100, "EUR", true, 100, "EUR"));
    assert_true(clients_limit_needs_head(101, "EUR", true, 100, "EUR"));
    assert_true(clients_limit_needs_head(50, "RUB", true, 100, "EUR"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weeks_exist_or_not),
        cmocka_unit_test(test_months_times_days),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_complaint_moves),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_limit_needs_head),
    };
    return cmocka_run_group_tests_name("clients_rules", tests, NULL, NULL);
}
