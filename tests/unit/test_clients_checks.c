/*  test_clients_checks - the field checks shared by the single-client
 *  methods and ImportClients (clients_checks.c), and the array literals
 *  ImportClients sends its columns in (clients_array.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../services/clients/clients_array.h"
#include "../../services/clients/clients_checks.h"
#include "clients.pb-c.h"
#include "kt_validate.h"

static clients_card_fields_t s_card(void)
{
    return (clients_card_fields_t){"K-1", "ООО «Ромашка»", "7701234567", "", "", "", 3, NULL, 0};
}

static void test_card_paths_carry_the_prefix(void **state)
{
    clients_fault_t f;
    clients_card_fields_t c = s_card();
    assert_int_equal(clients_card_check("", &c, &f), 0);
    assert_int_equal(clients_card_check("clients[7].", &c, &f), 0);

    c.tax_id = "12AB";
    assert_int_equal(clients_card_check("", &c, &f), -1);
    assert_string_equal(f.field, "tax_id");
    assert_int_equal(clients_card_check("clients[417].", &c, &f), -1);
    assert_string_equal(f.field, "clients[417].tax_id");
    assert_non_null(strstr(f.why, "clients[417].tax_id"));

    c = s_card();
    c.code = "lower";
    assert_int_equal(clients_card_check("clients[1].", &c, &f), -1);
    assert_string_equal(f.field, "clients[1].code");
    c = s_card();
    c.name = "";
    assert_int_equal(clients_card_check("", &c, &f), -1);
    assert_string_equal(f.field, "name");
    c = s_card();
    c.territory_id = 0;
    assert_int_equal(clients_card_check("", &c, &f), -1);
    assert_string_equal(f.field, "territory_id");

    Kontor__Clients__Holiday h = KONTOR__CLIENTS__HOLIDAY__INIT;
    h.name = "Day";
    h.day = "02-30";
    Kontor__Clients__Holiday *hs[] = {&h};
    c = s_card();
    c.holidays = hs;
    c.n_holidays = 1;
    assert_int_equal(clients_card_check("clients[2].", &c, &f), -1);
    assert_string_equal(f.field, "clients[2].holidays[0].day");
    h.day = "02-29";
    assert_int_equal(clients_card_check("clients[2].", &c, &f), 0);
}

static void test_terms_as_set_terms_checks_them(void **state)
{
    clients_fault_t f;
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = 100000;
    m.currency = "EUR";
    Kontor__Clients__SetTermsRequest t = KONTOR__CLIENTS__SET_TERMS_REQUEST__INIT;
    t.price_column = "B";
    t.discount_bp = 500;
    t.payment_days = 30;
    t.grace_days = 5;
    t.credit_limit = &m;
    t.why = "";
    //  `why` is required by SetTerms, optional in an import.
    assert_int_equal(clients_terms_check("", &t, true, &f), -1);
    assert_string_equal(f.field, "why");
    assert_int_equal(clients_terms_check("clients[0].terms.", &t, false, &f), 0);
    t.why = "contract";

    t.price_column = "F";
    assert_int_equal(clients_terms_check("", &t, true, &f), -1);
    assert_string_equal(f.field, "price_column");
    assert_string_equal(f.why, "price_column must be one of A, B, C, D, E");
    t.price_column = "B";
    t.discount_bp = 10001;
    assert_int_equal(clients_terms_check("clients[3].terms.", &t, true, &f), -1);
    assert_string_equal(f.field, "clients[3].terms.discount_bp");
    t.discount_bp = 0;
    t.payment_days = 366;
    assert_int_equal(clients_terms_check("", &t, true, &f), -1);
    assert_string_equal(f.field, "payment_days");
    t.payment_days = 0;
    t.grace_days = -1;
    assert_int_equal(clients_terms_check("", &t, true, &f), -1);
    assert_string_equal(f.field, "grace_days");
    t.grace_days = 0;
    m.currency = "eur";
    assert_int_equal(clients_terms_check("x.", &t, true, &f), -1);
    assert_string_equal(f.field, "x.credit_limit.currency");
    m.currency = "EUR";
    m.units = -1;
    assert_int_equal(clients_terms_check("", &t, true, &f), -1);
    assert_string_equal(f.field, "credit_limit.units");
    m.units = 0;
    t.credit_limit = NULL;
    assert_int_equal(clients_terms_check("", &t, true, &f), -1);
    assert_string_equal(f.field, "credit_limit");
    t.credit_limit = &m;
    t.contract_date = "2025-03-01";
    t.contract_until = "2025-02-01";
    assert_int_equal(clients_terms_check("", &t, true, &f), -1);
    assert_string_equal(f.field, "contract_until");
    t.contract_until = "2026-02-30";
    assert_int_equal(clients_terms_check("", &t, true, &f), -1);
    assert_string_equal(f.field, "contract_until");
    t.contract_until = "2026-02-28";
    assert_int_equal(clients_terms_check("", &t, true, &f), 0);
}

static void test_contacts_and_credit_checks(void **state)
{
    clients_fault_t f;
    int32_t today = kt_days_from_civil(2026, 6, 1);
    Kontor__Clients__Contact c = KONTOR__CLIENTS__CONTACT__INIT;
    c.name = "Анна";
    c.phone = "+7 495 123-45-67";
    c.email = "anna@example.ru";
    c.birthday = "1980-05-17";
    assert_int_equal(clients_contact_check("clients[1].contacts[0].", &c, today, &f), 0);
    c.email = "anna";
    assert_int_equal(clients_contact_check("clients[1].contacts[0].", &c, today, &f), -1);
    assert_string_equal(f.field, "clients[1].contacts[0].email");
    c.email = "";
    c.phone = "12";
    assert_int_equal(clients_contact_check("", &c, today, &f), -1);
    assert_string_equal(f.field, "phone");
    c.phone = "";
    c.birthday = "2027-01-01";
    assert_int_equal(clients_contact_check("", &c, today, &f), -1);
    assert_string_equal(f.field, "birthday");
    c.birthday = "";
    c.name = "";
    assert_int_equal(clients_contact_check("", &c, today, &f), -1);
    assert_string_equal(f.field, "name");

    Kontor__Money rec = KONTOR__MONEY__INIT;
    rec.units = 5000;
    rec.currency = "EUR";
    Kontor__Clients__CreditCheck k = KONTOR__CLIENTS__CREDIT_CHECK__INIT;
    k.checked_on = "2026-01-10";
    k.sources = "registry";
    k.score = 700;
    k.grade = "B";
    k.recommended_limit = &rec;
    assert_int_equal(clients_credit_check_check("", &k, &f), 0);
    k.score = 1001;
    assert_int_equal(clients_credit_check_check("clients[9].credit_check.", &k, &f), -1);
    assert_string_equal(f.field, "clients[9].credit_check.score");
    k.score = 0;
    k.grade = "E";
    assert_int_equal(clients_credit_check_check("", &k, &f), -1);
    assert_string_equal(f.field, "grade");
    k.grade = "";
    k.sources = "";
    assert_int_equal(clients_credit_check_check("", &k, &f), -1);
    assert_string_equal(f.field, "sources");
    k.sources = "x";
    k.checked_on = "";
    assert_int_equal(clients_credit_check_check("", &k, &f), -1);
    assert_string_equal(f.field, "checked_on");
}

static void test_array_literals_quote_everything(void **state)
{
    clients_array_t a;
    clients_array_init(&a);
    assert_string_equal(clients_array_end(&a), "{}");
    clients_array_clear(&a);

    clients_array_init(&a);
    clients_array_text(&a, "plain");
    clients_array_text(&a, "a \"quote\", a \\ and {braces}");
    clients_array_text(&a, NULL);
    clients_array_text(&a, "NULL");
    clients_array_text(&a, "");
    assert_string_equal(clients_array_end(&a),
                        "{\"plain\",\"a \\\"quote\\\", a \\\\ and {braces}\",NULL,\"NULL\",\"\"}");
    clients_array_clear(&a);

    clients_array_init(&a);
    clients_array_i64(&a, -5);
    clients_array_i64(&a, INT64_MAX);
    clients_array_bool(&a, true);
    assert_string_equal(clients_array_end(&a), "{-5,9223372036854775807,t}");
    clients_array_clear(&a);

    const uint8_t bytes[] = {0x0a, 0xff, 0x00};
    clients_array_init(&a);
    clients_array_bytea(&a, bytes, sizeof bytes);
    clients_array_bytea(&a, bytes, 0);
    assert_string_equal(clients_array_end(&a), "{\"\\\\x0aff00\",\"\\\\x\"}");
    clients_array_clear(&a);

    //  Large: grows as needed.
    clients_array_init(&a);
    for (int i = 0; i < 5000; i++)
        clients_array_text(&a, "Ромашка-Плюс");
    const char *big = clients_array_end(&a);
    assert_non_null(big);
    assert_int_equal(big[0], '{');
    assert_int_equal(big[strlen(big) - 1], '}');
    clients_array_clear(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_card_paths_carry_the_prefix),
        cmocka_unit_test(test_terms_as_set_terms_checks_them),
        cmocka_unit_test(test_contacts_and_credit_checks),
        cmocka_unit_test(test_array_literals_quote_everything),
    };
    return cmocka_run_group_tests_name("clients_checks", tests, NULL, NULL);
}
