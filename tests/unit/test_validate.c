/*  test_validate - UTF-8, text, numbers, contact fields, dates, enums and LIKE escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_validate.h"

//  Check a string literal (escapes allowed, embedded NULs counted) as UTF-8.
#define UTF8_OK(lit)  assert_true(kt_utf8_valid(lit, sizeof(lit) - 1))
#define UTF8_BAD(lit) assert_false(kt_utf8_valid(lit, sizeof(lit) - 1))

static void test_utf8(void **state)
{
    UTF8_OK("");
    UTF8_OK("plain ascii");
    UTF8_OK("\x7f");
    UTF8_OK("Привет, мир");             //  Cyrillic, 2 bytes each
    UTF8_OK("倉庫在庫");                //  CJK, 3 bytes each
    UTF8_OK("\xf0\x9f\x93\xa6 parcel"); //  U+1F4E6, 4 bytes
    UTF8_OK("\xc2\x80");                //  U+0080, smallest 2-byte
    UTF8_OK("\xe0\xa0\x80");            //  U+0800, smallest 3-byte
    UTF8_OK("\xed\x9f\xbf");            //  U+D7FF, just below surrogates
    UTF8_OK("\xee\x80\x80");            //  U+E000, just above surrogates
    UTF8_OK("\xef\xbf\xbf");            //  U+FFFF
    UTF8_OK("\xf0\x90\x80\x80");        //  U+10000, smallest 4-byte
    UTF8_OK("\xf4\x8f\xbf\xbf");        //  U+10FFFF, the last code point

    UTF8_BAD("\xc0\xaf");                 //  overlong '/'
    UTF8_BAD("\xc1\xbf");                 //  overlong 2-byte
    UTF8_BAD("\xe0\x80\xaf");             //  overlong 3-byte
    UTF8_BAD("\xe0\x9f\xbf");             //  overlong U+07FF
    UTF8_BAD("\xf0\x80\x80\xaf");         //  overlong 4-byte
    UTF8_BAD("\xf0\x8f\xbf\xbf");         //  overlong U+FFFF
    UTF8_BAD("\xed\xa0\x80");             //  U+D800, a surrogate
    UTF8_BAD("\xed\xbf\xbf");             //  U+DFFF, a surrogate
    UTF8_BAD("\xed\xa0\xbd\xed\xb2\xa9"); //  CESU-8 surrogate pair
    UTF8_BAD("\xf4\x90\x80\x80");         //  U+110000
    UTF8_BAD("\xf5\x80\x80\x80");         //  lead byte past F4
    UTF8_BAD("\xff");
    UTF8_BAD("\xfe");
    UTF8_BAD("\x80"); //  lone continuation
    UTF8_BAD("a\xbf");
    UTF8_BAD("\xc3");           //  truncated 2-byte
    UTF8_BAD("\xe4\xb8");       //  truncated 3-byte
    UTF8_BAD("\xf0\x9f\x93");   //  truncated 4-byte
    UTF8_BAD("\xf0\x9f\x93 x"); //  continuation replaced by ASCII
    UTF8_BAD("\xd0\x9f\xd1");   //  Cyrillic cut mid-character
    UTF8_BAD("\xe4\xb8\x41");   //  bad third byte

    //  The length bounds the scan: a valid prefix of a longer buffer is valid.
    const char *cut = "\xd0\x9f\xd1\x80";
    assert_true(kt_utf8_valid(cut, 2));
    assert_false(kt_utf8_valid(cut, 3));
    assert_true(kt_utf8_valid(cut, 4));
}

static void test_text(void **state)
{
    char why[128];
    assert_int_equal(kt_check_text("name", "Acme", 1, 200, why, sizeof why), 0);
    assert_int_equal(kt_check_text("name", "ООО «Ромашка»", 1, 200, why, sizeof why), 0);
    assert_int_equal(kt_check_text("note", "", 0, 200, why, sizeof why), 0);
    assert_int_equal(kt_check_text("note", NULL, 0, 200, why, sizeof why), 0);
    assert_int_equal(kt_check_text("name", "tab\tok", 1, 200, why, sizeof why), 0);

    assert_int_equal(kt_check_text("name", "", 1, 200, why, sizeof why), -1);
    assert_string_equal(why, "name must not be empty");
    assert_int_equal(kt_check_text("name", NULL, 1, 200, why, sizeof why), -1);
    assert_string_equal(why, "name must not be empty");

    char long_name[301];
    memset(long_name, 'x', 300);
    long_name[300] = '\0';
    assert_int_equal(kt_check_text("name", long_name, 1, 200, why, sizeof why), -1);
    assert_string_equal(why, "name is too long: 300 bytes, at most 200");

    //  Limits count bytes, not characters: 4 Cyrillic letters are 8 bytes.
    assert_int_equal(kt_check_text("code", "Тест", 1, 8, why, sizeof why), 0);
    assert_int_equal(kt_check_text("code", "Тесты", 1, 8, why, sizeof why), -1);
    assert_string_equal(why, "code is too long: 10 bytes, at most 8");
    assert_int_equal(kt_check_text("code", "ab", 3, 8, why, sizeof why), -1);
    assert_string_equal(why, "code is too short: 2 bytes, at least 3");
    assert_int_equal(kt_check_text("code", "a", 3, 8, why, sizeof why), -1);
    assert_string_equal(why, "code is too short: 1 byte, at least 3");

    assert_int_equal(kt_check_text("name", "bad\xc0\xafname", 1, 200, why, sizeof why), -1);
    assert_string_equal(why, "name is not valid UTF-8");
    assert_int_equal(kt_check_text("name", "cut\xd0", 1, 200, why, sizeof why), -1);
    assert_string_equal(why, "name is not valid UTF-8");

    static const char *const controls[] = {"a\nb",  "a\rb", "\x1b[31m",
                                           "a\x7f", "\x01", "c1 \xc2\x85 next line"};
    for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++) {
        assert_int_equal(kt_check_text("name", controls[i], 1, 200, why, sizeof why), -1);
        assert_string_equal(why, "name contains a control character");
    }

    //  A tiny or missing why buffer is never overrun.
    char tiny[5];
    assert_int_equal(kt_check_text("name", "", 1, 200, tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "name");
    assert_int_equal(kt_check_text("name", "", 1, 200, NULL, 0), -1);
}

static void test_numbers(void **state)
{
    char why[128];
    assert_int_equal(kt_check_qty("quantity", 1, 1000000, why, sizeof why), 0);
    assert_int_equal(kt_check_qty("quantity", 1000000, 1000000, why, sizeof why), 0);
    assert_int_equal(kt_check_qty("quantity", -3, 1000000, why, sizeof why), -1);
    assert_string_equal(why, "quantity must be positive: -3");
    assert_int_equal(kt_check_qty("quantity", 0, 1000000, why, sizeof why), -1);
    assert_string_equal(why, "quantity must be positive: 0");
    assert_int_equal(kt_check_qty("quantity", 1000001, 1000000, why, sizeof why), -1);
    assert_string_equal(why, "quantity is too large: 1000001, at most 1000000");
    assert_int_equal(kt_check_qty("quantity", INT64_MIN, 10, why, sizeof why), -1);
    assert_string_equal(why, "quantity must be positive: -9223372036854775808");

    assert_int_equal(kt_check_id("client_id", 42, why, sizeof why), 0);
    assert_int_equal(kt_check_id("client_id", 0, why, sizeof why), -1);
    assert_string_equal(why, "client_id is required");
    assert_int_equal(kt_check_id("client_id", -7, why, sizeof why), -1);
    assert_string_equal(why, "client_id must be positive: -7");

    assert_int_equal(kt_check_amount("amount", 0, 0, 100, why, sizeof why), 0);
    assert_int_equal(kt_check_amount("amount", 100, 0, 100, why, sizeof why), 0);
    assert_int_equal(kt_check_amount("amount", -1, 0, 100, why, sizeof why), -1);
    assert_string_equal(why, "amount is too small: -1, at least 0");
    assert_int_equal(kt_check_amount("amount", 101, 0, 100, why, sizeof why), -1);
    assert_string_equal(why, "amount is too large: 101, at most 100");

    assert_int_equal(kt_check_bp("discount_bp", 0, why, sizeof why), 0);
    assert_int_equal(kt_check_bp("discount_bp", 10000, why, sizeof why), 0);
    assert_int_equal(kt_check_bp("discount_bp", 10001, why, sizeof why), -1);
    assert_string_equal(why, "discount_bp must be from 0 to 10000 basis points: 10001");
    assert_int_equal(kt_check_bp("discount_bp", -1, why, sizeof why), -1);
    assert_string_equal(why, "discount_bp must be from 0 to 10000 basis points: -1");
}

static void test_email(void **state)
{
    char why[256];
    static const char *const good[] = {"a@b.co", "ivan.petrov@example.com",
                                       "orders+kontor@mail.example.org", "x_y@sub-1.example.ru",
                                       "UPPER@EXAMPLE.COM"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (kt_check_email("email", good[i], why, sizeof why) != 0)
            fail_msg("refused %s: %s", good[i], why);

    static const char *const bad[] = {
        "",         "plain",     "@example.com",     "a@",
        "a@b",      "a@@b.com",  "a@b@c.com",        "a b@c.com",
        "a@b..com", "a@.b.com",  "a@b.com.",         "a@-b.com",
        "a@b-.com", "a@b_c.com", "иван@example.com", "a@example.com\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (kt_check_email("email", bad[i], why, sizeof why) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(why, "email"));
    }
    assert_int_equal(kt_check_email("email", "a@", why, sizeof why), -1);
    assert_string_equal(why, "email does not have a valid domain: \"a@\"");
    assert_int_equal(kt_check_email("email", "plain", why, sizeof why), -1);
    assert_string_equal(why, "email must contain exactly one @: \"plain\"");
    //  An echoed value is cleaned: no control byte reaches the sentence.
    assert_int_equal(kt_check_email("email", "a\x1b@b.com", why, sizeof why), -1);
    assert_null(strchr(why, '\x1b'));

    char long_email[300];
    memset(long_email, 'a', sizeof long_email);
    memcpy(long_email + 250, "@b.com", 7);
    assert_int_equal(kt_check_email("email", long_email, why, sizeof why), -1);
    assert_string_equal(why, "email is too long: 256 bytes, at most 254");
    char long_local[80];
    memset(long_local, 'a', 65);
    memcpy(long_local + 65, "@b.com", 7);
    assert_int_equal(kt_check_email("email", long_local, why, sizeof why), -1);
}

static void test_phone(void **state)
{
    char why[256];
    static const char *const good[] = {"+74951234567", "+7 (495) 123-45-67", "8 800 555-35-35",
                                       "1234567",      "(495)1234567",       "+123456789012345"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (kt_check_phone("phone", good[i], why, sizeof why) != 0)
            fail_msg("refused %s: %s", good[i], why);

    static const char *const bad[] = {"",
                                      "+",
                                      "123456",
                                      "+1234567890123456",
                                      "++71234567",
                                      "7+1234567",
                                      "123-456-789a",
                                      "123.456.7890",
                                      "(495 1234567",
                                      "495) 1234567",
                                      "((495)) 1234567",
                                      "() 1234567",
                                      "1234567-",
                                      " 1234567",
                                      "-1234567",
                                      "12345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (kt_check_phone("phone", bad[i], why, sizeof why) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(why, "phone"));
    }
    assert_int_equal(kt_check_phone("phone", "123456", why, sizeof why), -1);
    assert_string_equal(why, "phone must have 7 to 15 digits, not 6: \"123456\"");
}

static void test_tax_id(void **state)
{
    char why[256];
    static const char *const good[] = {"7707083893", "12345678", "12345678901234", "DE12345678",
                                       "ATU12345678"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (kt_check_tax_id("tax_id", good[i], why, sizeof why) != 0)
            fail_msg("refused %s: %s", good[i], why);

    static const char *const bad[] = {"",          "1234567",   "123456789012345", "de12345678",
                                      "1234 5678", "1234-5678", "77070838é3",      "12345678\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (kt_check_tax_id("tax_id", bad[i], why, sizeof why) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(why, "tax_id"));
    }
    assert_int_equal(kt_check_tax_id("tax_id", "1234567", why, sizeof why), -1);
    assert_string_equal(why, "tax_id must have 8 to 14 characters, not 7: \"1234567\"");
    assert_int_equal(kt_check_tax_id("tax_id", "de12345678", why, sizeof why), -1);
    assert_string_equal(why,
                        "tax_id may contain only digits and upper-case letters: \"de12345678\"");
}

static void test_dates(void **state)
{
    char why[256];
    int32_t days = -1;
    assert_int_equal(kt_check_date("due_date", "2000-01-01", &days, why, sizeof why), 0);
    assert_int_equal(days, 10957);
    assert_int_equal(kt_check_date("due_date", "2024-02-29", &days, why, sizeof why), 0);
    assert_int_equal(days, 19782);
    assert_int_equal(kt_check_date("due_date", "2000-02-29", &days, why, sizeof why), 0);
    assert_int_equal(kt_check_date("due_date", "2100-12-31", &days, why, sizeof why), 0);
    assert_int_equal(days, 47846);
    assert_int_equal(kt_check_date("due_date", "2026-11-22", NULL, why, sizeof why), 0);

    assert_int_equal(kt_check_date("due_date", "2023-02-29", &days, why, sizeof why), -1);
    assert_string_equal(why, "due_date is not a calendar date: \"2023-02-29\"");
    assert_int_equal(kt_check_date("due_date", "2100-02-29", &days, why, sizeof why), -1);
    assert_string_equal(why, "due_date is not a calendar date: \"2100-02-29\"");
    assert_int_equal(kt_check_date("due_date", "1999-12-31", &days, why, sizeof why), -1);
    assert_string_equal(why, "due_date must be from 2000-01-01 to 2100-12-31: \"1999-12-31\"");
    assert_int_equal(kt_check_date("due_date", "2101-01-01", &days, why, sizeof why), -1);
    assert_string_equal(why, "due_date must be from 2000-01-01 to 2100-12-31: \"2101-01-01\"");

    static const char *const bad[] = {"",
                                      "garbage",
                                      "2024-1-05",
                                      "2024-01-5",
                                      "24-01-05",
                                      "2024/01/05",
                                      "2024-00-10",
                                      "2024-13-01",
                                      "2024-04-31",
                                      "2024-01-00",
                                      "2024-01-32",
                                      " 2024-01-05",
                                      "2024-01-05 ",
                                      "2024-01-05T00:00:00Z",
                                      "+202-01-05",
                                      "2024-01-0\xd0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        days = 12345;
        if (kt_check_date("due_date", bad[i], &days, why, sizeof why) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(days, 12345);
        assert_non_null(strstr(why, "due_date"));
    }
    assert_int_equal(kt_check_date("due_date", "garbage", &days, why, sizeof why), -1);
    assert_string_equal(why, "due_date must be a date in the form YYYY-MM-DD: \"garbage\"");
    assert_int_equal(kt_check_date("due_date", NULL, &days, why, sizeof why), -1);
    assert_string_equal(why, "due_date must not be empty");
}

static void test_civil_round_trip(void **state)
{
    assert_int_equal(kt_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(kt_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(kt_days_from_civil(2000, 3, 1), 11017);
    int y, m, d;
    kt_civil_from_days(0, &y, &m, &d);
    assert_true(y == 1970 && m == 1 && d == 1);
    kt_civil_from_days(-719468, &y, &m, &d);
    assert_true(y == 0 && m == 3 && d == 1);

    //  Every day from 1600 to 2500 maps to the next civil date and back.
    int32_t first = kt_days_from_civil(1600, 1, 1), last = kt_days_from_civil(2500, 12, 31);
    int py = 1599, pm = 12, pd = 31;
    for (int32_t n = first; n <= last; n++) {
        kt_civil_from_days(n, &y, &m, &d);
        assert_int_equal(kt_days_from_civil(y, m, d), n);
        //  It is the day after the previous one.
        bool next_day = (y == py && m == pm && d == pd + 1) ||
                        (y == py && m == pm + 1 && d == 1 && pd >= 28) ||
                        (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31);
        if (!next_day)
            fail_msg("day %d is %04d-%02d-%02d after %04d-%02d-%02d", n, y, m, d, py, pm, pd);
        if (m == 2 && d == 29) {
            bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            assert_true(leap);
        }
        py = y;
        pm = m;
        pd = d;
    }
    //  The extremes of int32 survive the trip.
    static const int32_t edges[] = {INT32_MIN, INT32_MAX, -1000000, 1000000};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        kt_civil_from_days(edges[i], &y, &m, &d);
        assert_int_equal(kt_days_from_civil(y, m, d), edges[i]);
    }
}

static void test_enum(void **state)
{
    char why[128];
    static const int kinds[] = {1, 2, 3, 7};
    assert_int_equal(kt_check_enum("kind", 3, kinds, 4, why, sizeof why), 0);
    assert_int_equal(kt_check_enum("kind", 7, kinds, 4, why, sizeof why), 0);
    assert_int_equal(kt_check_enum("kind", 0, kinds, 4, why, sizeof why), -1);
    assert_string_equal(why, "kind is not a known value: 0");
    assert_int_equal(kt_check_enum("kind", 42, kinds, 4, why, sizeof why), -1);
    assert_string_equal(why, "kind is not a known value: 42");
    assert_int_equal(kt_check_enum("kind", -1, kinds, 4, why, sizeof why), -1);
    assert_int_equal(kt_check_enum("kind", 1, kinds, 0, why, sizeof why), -1);
}

static void test_like_escape(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"100%", "100\\%"},
        {"a_b", "a\\_b"},
        {"c:\\dir", "c:\\\\dir"},
        {"%_\\", "\\%\\_\\\\"},
        {"%%", "\\%\\%"},
        {"Ромашка_%", "Ромашка\\_\\%"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = kt_like_escape(cases[i].in);
        assert_non_null(out);
        assert_string_equal(out, cases[i].out);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),    cmocka_unit_test(test_text),
        cmocka_unit_test(test_numbers), cmocka_unit_test(test_email),
        cmocka_unit_test(test_phone),   cmocka_unit_test(test_tax_id),
        cmocka_unit_test(test_dates),   cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_enum),    cmocka_unit_test(test_like_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
