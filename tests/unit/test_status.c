/*  test_status - the status table, its agreement with proto/kontor.proto, and the reasons.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "kontor.pb-c.h"
#include "kt_status.h"

//  Every proto value is in the table under the same name and number, and
//  every table entry is in the proto: the two lists are one list.
static void test_status_matches_proto(void **state)
{
    const ProtobufCEnumDescriptor *desc = &kontor__status__descriptor;
    assert_int_equal(desc->n_values, KT_STATUS_COUNT);
    for (unsigned i = 0; i < desc->n_values; i++) {
        const ProtobufCEnumValue *v = &desc->values[i];
        assert_true(kt_status_valid(v->value));
        assert_string_equal(kt_status_name(v->value), v->name);
        assert_int_equal(kt_status_from_name(v->name), v->value);
    }
    for (int s = 0; s < KT_STATUS_COUNT; s++) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc, s);
        assert_non_null(v);
        assert_string_equal(v->name, kt_status_name(s));
        const ProtobufCEnumValue *by_name =
            protobuf_c_enum_descriptor_get_value_by_name(desc, kt_status_name(s));
        assert_non_null(by_name);
        assert_int_equal(by_name->value, s);
    }
}

static void test_status_names_and_sentences(void **state)
{
    assert_string_equal(kt_status_name(KT_OK), "OK");
    assert_string_equal(kt_status_name(KT_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    assert_string_equal(kt_status_name(KT_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_string_equal(kt_status_name(-1), "UNKNOWN");
    assert_string_equal(kt_status_name(KT_STATUS_COUNT), "UNKNOWN");
    assert_string_equal(kt_status_sentence(KT_INVALID_ARGUMENT),
                        "the request has a field that is not valid");
    assert_string_equal(kt_status_sentence(KT_UNAVAILABLE),
                        "the service is not available right now, try again");
    assert_string_equal(kt_status_sentence(99), kt_status_sentence(KT_UNKNOWN));
    for (int s = 0; s < KT_STATUS_COUNT; s++) {
        const char *sentence = kt_status_sentence(s);
        size_t len = strlen(sentence);
        assert_true(len > 0);
        //  Message style: lower case start, no final period.
        assert_true(sentence[0] >= 'a' && sentence[0] <= 'z');
        assert_true(sentence[len - 1] != '.');
    }
    assert_int_equal(kt_status_from_name("NOT_FOUND"), KT_NOT_FOUND);
    assert_int_equal(kt_status_from_name("not_found"), -1);
    assert_int_equal(kt_status_from_name(""), -1);
    assert_int_equal(kt_status_from_name(NULL), -1);
    assert_false(kt_status_valid(-1));
    assert_false(kt_status_valid(17));
    assert_true(kt_status_valid(0));
    assert_true(kt_status_valid(16));
}

static void test_status_retryable(void **state)
{
    for (int s = -1; s <= KT_STATUS_COUNT; s++) {
        bool expect = s == KT_UNAVAILABLE || s == KT_DEADLINE_EXCEEDED || s == KT_ABORTED ||
                      s == KT_RESOURCE_EXHAUSTED;
        assert_int_equal(kt_status_retryable(s), expect);
    }
}

static void test_reasons_table(void **state)
{
    const kt_reason_t *all = kt_reasons();
    int n = 0;
    for (const kt_reason_t *r = all; r->token != NULL; r++, n++) {
        assert_true(kt_status_valid(r->status));
        assert_int_not_equal(r->status, KT_OK);
        assert_non_null(r->sentence);
        size_t len = strlen(r->sentence);
        assert_true(len > 0 && r->sentence[len - 1] != '.');
        for (const char *c = r->token; *c; c++)
            assert_true((*c >= 'a' && *c <= 'z') || *c == '_');
        //  Tokens are unique: lookup finds this very entry.
        assert_ptr_equal(kt_reason_lookup(r->token), r);
    }
    assert_true(n >= 20);
}

static void test_reasons_lookup(void **state)
{
    static const struct {
        const char *token;
        int status;
    } expect[] = {
        {"insufficient_stock", KT_FAILED_PRECONDITION},
        {"credit_limit_exceeded", KT_FAILED_PRECONDITION},
        {"credit_hold", KT_FAILED_PRECONDITION},
        {"client_blocked", KT_FAILED_PRECONDITION},
        {"unknown_sku", KT_NOT_FOUND},
        {"unknown_client", KT_NOT_FOUND},
        {"unknown_warehouse", KT_NOT_FOUND},
        {"discount_over_authority", KT_PERMISSION_DENIED},
        {"reservation_expired", KT_FAILED_PRECONDITION},
        {"invalid_transition", KT_FAILED_PRECONDITION},
        {"duplicate_line", KT_INVALID_ARGUMENT},
        {"idempotency_mismatch", KT_ABORTED},
        {"stale_version", KT_ABORTED},
        {"not_owner", KT_PERMISSION_DENIED},
        {"role_required", KT_PERMISSION_DENIED},
        {"events_expired", KT_OUT_OF_RANGE},
        {"currency_mismatch", KT_FAILED_PRECONDITION},
        {"invoice_void", KT_FAILED_PRECONDITION},
        {"already_dispatched", KT_FAILED_PRECONDITION},
        {"overloaded", KT_RESOURCE_EXHAUSTED},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        const kt_reason_t *r = kt_reason_lookup(expect[i].token);
        assert_non_null(r);
        assert_string_equal(r->token, expect[i].token);
        assert_int_equal(r->status, expect[i].status);
    }
    assert_string_equal(kt_reason_lookup("insufficient_stock")->sentence,
                        "not enough stock for some lines");
    assert_null(kt_reason_lookup("no_such_reason"));
    assert_null(kt_reason_lookup("Insufficient_Stock"));
    assert_null(kt_reason_lookup(""));
    assert_null(kt_reason_lookup(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_matches_proto),
        cmocka_unit_test(test_status_names_and_sentences),
        cmocka_unit_test(test_status_retryable),
        cmocka_unit_test(test_reasons_table),
        cmocka_unit_test(test_reasons_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
