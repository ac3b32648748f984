/*  test_money - checked arithmetic, discounts, currencies, and text round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "kt_money.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aLL //  result left untouched on failure

static void test_add_sub_mul_edges(void **state)
{
    int64_t r = SENTINEL;
    assert_int_equal(kt_add_i64(INT64_MAX - 1, 1, &r), 0);
    assert_true(r == INT64_MAX);
    r = SENTINEL;
    assert_int_equal(kt_add_i64(INT64_MAX, 1, &r), -1);
    assert_true(r == SENTINEL);
    assert_int_equal(kt_add_i64(INT64_MIN, -1, &r), -1);
    assert_true(r == SENTINEL);
    assert_int_equal(kt_add_i64(INT64_MIN, INT64_MAX, &r), 0);
    assert_true(r == -1);

    r = SENTINEL;
    assert_int_equal(kt_sub_i64(INT64_MIN, 1, &r), -1);
    assert_true(r == SENTINEL);
    assert_int_equal(kt_sub_i64(0, INT64_MIN, &r), -1);
    assert_int_equal(kt_sub_i64(INT64_MAX, -1, &r), -1);
    assert_true(r == SENTINEL);
    assert_int_equal(kt_sub_i64(-1, INT64_MIN, &r), 0);
    assert_true(r == INT64_MAX);

    r = SENTINEL;
    assert_int_equal(kt_mul_i64(INT64_MIN, -1, &r), -1);
    assert_int_equal(kt_mul_i64(INT64_MAX, 2, &r), -1);
    assert_int_equal(kt_mul_i64(INT64_MAX / 2 + 1, 2, &r), -1);
    assert_true(r == SENTINEL);
    assert_int_equal(kt_mul_i64(INT64_MIN / 2, 2, &r), 0);
    assert_true(r == INT64_MIN);
    assert_int_equal(kt_mul_i64(INT64_MAX, -1, &r), 0);
    assert_true(r == -INT64_MAX);
    assert_int_equal(kt_mul_i64(3037000499LL, 3037000499LL, &r), 0);
    assert_int_equal(kt_mul_i64(3037000500LL, 3037000500LL, &r), -1);

    r = SENTINEL;
    assert_int_equal(kt_money_line(12345, 1000, &r), 0);
    assert_true(r == 12345000);
    r = SENTINEL;
    assert_int_equal(kt_money_line(INT64_MAX / 3 + 1, 3, &r), -1);
    assert_true(r == SENTINEL);
}

static void test_money_currency(void **state)
{
    assert_true(kt_currency_valid("EUR"));
    assert_true(kt_currency_valid("RUB"));
    assert_false(kt_currency_valid("eur"));
    assert_false(kt_currency_valid("EU"));
    assert_false(kt_currency_valid("EURO"));
    assert_false(kt_currency_valid(""));
    assert_false(kt_currency_valid("E1R"));
    assert_false(kt_currency_valid(NULL));

    kt_money_t eur = {150, "EUR"}, eur2 = {-50, "EUR"}, usd = {100, "USD"};
    kt_money_t out = {SENTINEL, "XXX"};
    assert_int_equal(kt_money_add(&eur, &usd, &out), -1);
    assert_true(out.units == SENTINEL);
    assert_string_equal(out.currency, "XXX");
    assert_int_equal(kt_money_sub(&eur, &usd, &out), -1);
    assert_true(out.units == SENTINEL);

    assert_int_equal(kt_money_add(&eur, &eur2, &out), 0);
    assert_true(out.units == 100);
    assert_string_equal(out.currency, "EUR");
    assert_int_equal(kt_money_sub(&eur, &eur2, &out), 0);
    assert_true(out.units == 200);

    //  The result may be one of the operands.
    assert_int_equal(kt_money_add(&eur, &eur, &eur), 0);
    assert_true(eur.units == 300);

    kt_money_t big = {INT64_MAX, "EUR"}, one = {1, "EUR"}, low = {INT64_MIN, "EUR"};
    out = (kt_money_t){SENTINEL, "XXX"};
    assert_int_equal(kt_money_add(&big, &one, &out), -1);
    assert_int_equal(kt_money_sub(&low, &one, &out), -1);
    assert_true(out.units == SENTINEL);
    assert_string_equal(out.currency, "XXX");

    kt_money_t bad = {1, "eur"};
    assert_int_equal(kt_money_add(&bad, &bad, &out), -1);
}

static void test_discount_rounding(void **state)
{
    static const struct {
        int64_t amount;
        int bp;
        int64_t expect;
    } cases[] = {
        {10000, 0, 10000},
        {10000, 10000, 0},
        {10000, 1250, 8750},
        {1, 5000, 1},   //  0.5 rounds away from zero
        {-1, 5000, -1}, //  -0.5 rounds away from zero
        {3, 5000, 2},   //  1.5 -> 2
        {-3, 5000, -2}, //  -1.5 -> -2
        {5, 5000, 3},   //  2.5 -> 3
        {-5, 5000, -3},
        {1, 5001, 0}, //  0.4999 -> 0
        {-1, 5001, 0},
        {1, 4999, 1}, //  0.5001 -> 1
        {-1, 4999, -1},
        {999, 1000, 899}, //  899.1 -> 899
        {995, 1000, 896}, //  895.5 -> 896
        {-995, 1000, -896},
        {0, 3333, 0},
        {INT64_MAX, 0, INT64_MAX},
        {INT64_MIN, 0, INT64_MIN},
        {INT64_MAX, 10000, 0},
        {INT64_MIN, 10000, 0},
        //  INT64_MAX * 0.5 = 4611686018427387903.5 -> ...904
        {INT64_MAX, 5000, 4611686018427387904LL},
        //  INT64_MIN * 0.5 is exact
        {INT64_MIN, 5000, INT64_MIN / 2},
        //  INT64_MAX * 0.9999 = 9222449699651090329.4193 -> ...329
        {INT64_MAX, 1, 9222449699651090329LL},
        //  INT64_MIN * 0.9999 = -9222449699651090330.4192 -> ...330
        {INT64_MIN, 1, -9222449699651090330LL},
        //  INT64_MAX * 0.9998 = 9221527362447404851.8386 -> ...852
        {INT64_MAX, 2, 9221527362447404852LL},
        //  INT64_MIN * 0.9998 = -9221527362447404852.8384 -> ...853
        {INT64_MIN, 2, -9221527362447404853LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t r = SENTINEL;
        assert_int_equal(kt_money_discount(cases[i].amount, cases[i].bp, &r), 0);
        if (r != cases[i].expect)
            fail_msg("case %zu: %lld at %d bp gave %lld, expected %lld", i,
                     (long long)cases[i].amount, cases[i].bp, (long long)r,
                     (long long)cases[i].expect);
    }
    int64_t r = SENTINEL;
    assert_int_equal(kt_money_discount(100, -1, &r), -1);
    assert_int_equal(kt_money_discount(100, 10001, &r), -1);
    assert_true(r == SENTINEL);
}

static void test_format(void **state)
{
    char buf[64];
    assert_string_equal(kt_money_format(123456, "EUR", buf, sizeof buf), "1234.56 EUR");
    assert_string_equal(kt_money_format(-50, "EUR", buf, sizeof buf), "-0.50 EUR");
    assert_string_equal(kt_money_format(-5, "EUR", buf, sizeof buf), "-0.05 EUR");
    assert_string_equal(kt_money_format(0, "RUB", buf, sizeof buf), "0.00 RUB");
    assert_string_equal(kt_money_format(100, "USD", buf, sizeof buf), "1.00 USD");
    assert_string_equal(kt_money_format(INT64_MAX, "EUR", buf, sizeof buf),
                        "92233720368547758.07 EUR");
    assert_string_equal(kt_money_format(INT64_MIN, "EUR", buf, sizeof buf),
                        "-92233720368547758.08 EUR");
    assert_string_equal(kt_money_format(-1234, NULL, buf, sizeof buf), "-12.34");
    char small[6];
    assert_string_equal(kt_money_format(123456, "EUR", small, sizeof small), "1234.");
}

static void test_parse_good(void **state)
{
    static const struct {
        const char *text;
        int64_t units;
    } cases[] = {
        {"1234.56", 123456},
        {"-0.5", -50},
        {"12", 1200},
        {"0", 0},
        {"-0", 0},
        {"0.01", 1},
        {"-0.01", -1},
        {"007.10", 710},
        {"92233720368547758.07", INT64_MAX},
        {"-92233720368547758.08", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t u = SENTINEL;
        if (kt_money_parse(cases[i].text, &u) != 0)
            fail_msg("refused \"%s\"", cases[i].text);
        assert_true(u == cases[i].units);
    }
}

static void test_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "-",
        ".",
        ".5",
        "5.",
        "-.5",
        "1.234",
        "1,50",
        "+1",
        " 1",
        "1 ",
        "1e3",
        "abc",
        "1.2.3",
        "--1",
        "0x10",
        "1.-5",
        "12 EUR",
        "92233720368547758.08",
        "-92233720368547758.09",
        "100000000000000000000",
        "99999999999999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t u = SENTINEL;
        if (kt_money_parse(bad[i], &u) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(u == SENTINEL);
    }
    int64_t u = SENTINEL;
    assert_int_equal(kt_money_parse(NULL, &u), -1);
}

//  format(parse(x)) == x for canonical text, and parse(format(u)) == u.
static void test_round_trip(void **state)
{
    static const char *const texts[] = {"0.00",
                                        "1.00",
                                        "-0.50",
                                        "1234.56",
                                        "-1.99",
                                        "100.10",
                                        "92233720368547758.07",
                                        "-92233720368547758.08"};
    char buf[64], num[64];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int64_t u;
        assert_int_equal(kt_money_parse(texts[i], &u), 0);
        assert_string_equal(kt_money_format(u, NULL, buf, sizeof buf), texts[i]);
    }
    static const int64_t values[] = {0,    1,         -1,        99,        -99,          100,
                                     -100, 123456789, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        kt_money_format(values[i], "EUR", buf, sizeof buf);
        //  Strip " EUR" to parse the number back.
        char *space = strchr(buf, ' ');
        assert_non_null(space);
        assert_string_equal(space, " EUR");
        snprintf(num, sizeof num, "%.*s", (int)(space - buf), buf);
        int64_t u = SENTINEL;
        assert_int_equal(kt_money_parse(num, &u), 0);
        assert_true(u == values[i]);
    }
    for (int64_t v = -100000; v <= 100000; v += 7) {
        int64_t u = SENTINEL;
        kt_money_format(v, NULL, buf, sizeof buf);
        assert_int_equal(kt_money_parse(buf, &u), 0);
        assert_true(u == v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_sub_mul_edges), cmocka_unit_test(test_money_currency),
        cmocka_unit_test(test_discount_rounding), cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse_good),        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
