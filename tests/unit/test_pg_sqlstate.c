/*  test_pg_sqlstate - the one SQLSTATE-to-status mapping (kt_pg_status_for)
 *  and which states a transaction retry may cure (kt_pg_retryable), over
 *  every rule in kt_pg.h, plus NULL, short, long and garbage states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kt_pg.h"
#include "kt_status.h"

typedef struct {
    const char *state; //  the SQLSTATE given
    int status;        //  the status it must map to
    bool retryable;    //  whether a retry may cure it
} s_case_t;

//  Every rule in kt_pg.h, with neighbours that must not match it.
static const s_case_t s_cases[] = {
    //  23505 and the rest of class 23
    {"23505", KT_ALREADY_EXISTS, false},      //  unique_violation
    {"23000", KT_FAILED_PRECONDITION, false}, //  integrity_constraint_violation
    {"23001", KT_FAILED_PRECONDITION, false}, //  restrict_violation
    {"23502", KT_FAILED_PRECONDITION, false}, //  not_null_violation
    {"23503", KT_FAILED_PRECONDITION, false}, //  foreign_key_violation
    {"23514", KT_FAILED_PRECONDITION, false}, //  check_violation
    {"23P01", KT_FAILED_PRECONDITION, false}, //  exclusion_violation
    {"23506", KT_FAILED_PRECONDITION, false}, //  not a unique violation
    //  class 40: only 40001 and 40P01 are retried
    {"40001", KT_ABORTED, true},   //  serialization_failure
    {"40P01", KT_ABORTED, true},   //  deadlock_detected
    {"40000", KT_INTERNAL, false}, //  transaction_rollback
    {"40002", KT_INTERNAL, false}, //  transaction_integrity_constraint_violation
    {"40003", KT_INTERNAL, false}, //  statement_completion_unknown
    //  connection class 08 and the shutdowns 57P01-57P03
    {"08000", KT_UNAVAILABLE, false}, //  connection_exception
    {"08003", KT_UNAVAILABLE, false}, //  connection_does_not_exist
    {"08006", KT_UNAVAILABLE, false}, //  connection_failure
    {"08001", KT_UNAVAILABLE, false}, //  sqlclient_unable_to_establish_sqlconnection
    {"08004", KT_UNAVAILABLE, false}, //  sqlserver_rejected_establishment
    {"08007", KT_UNAVAILABLE, false}, //  transaction_resolution_unknown
    {"08P01", KT_UNAVAILABLE, false}, //  protocol_violation
    {"57P01", KT_UNAVAILABLE, false}, //  admin_shutdown
    {"57P02", KT_UNAVAILABLE, false}, //  crash_shutdown
    {"57P03", KT_UNAVAILABLE, false}, //  cannot_connect_now
    {"57P04", KT_INTERNAL, false},    //  database_dropped: not in the rule
    {"57000", KT_INTERNAL, false},    //  operator_intervention
    //  statement timeout
    {"57014", KT_DEADLINE_EXCEEDED, false}, //  query_canceled
    //  class 53
    {"53000", KT_RESOURCE_EXHAUSTED, false}, //  insufficient_resources
    {"53100", KT_RESOURCE_EXHAUSTED, false}, //  disk_full
    {"53200", KT_RESOURCE_EXHAUSTED, false}, //  out_of_memory
    {"53300", KT_RESOURCE_EXHAUSTED, false}, //  too_many_connections
    {"53400", KT_RESOURCE_EXHAUSTED, false}, //  configuration_limit_exceeded
    //  class 22
    {"22000", KT_INVALID_ARGUMENT, false}, //  data_exception
    {"22001", KT_INVALID_ARGUMENT, false}, //  string_data_right_truncation
    {"22003", KT_INVALID_ARGUMENT, false}, //  numeric_value_out_of_range
    {"22012", KT_INVALID_ARGUMENT, false}, //  division_by_zero
    {"22P02", KT_INVALID_ARGUMENT, false}, //  invalid_text_representation
    //  everything else
    {"00000", KT_INTERNAL, false}, //  successful_completion
    {"0A000", KT_INTERNAL, false}, //  feature_not_supported
    {"25P02", KT_INTERNAL, false}, //  in_failed_sql_transaction
    {"28P01", KT_INTERNAL, false}, //  invalid_password
    {"3F000", KT_INTERNAL, false}, //  invalid_schema_name
    {"42501", KT_INTERNAL, false}, //  insufficient_privilege
    {"42601", KT_INTERNAL, false}, //  syntax_error
    {"42P01", KT_INTERNAL, false}, //  undefined_table
    {"P0001", KT_INTERNAL, false}, //  raise_exception
    {"XX000", KT_INTERNAL, false}, //  internal_error
    {"XX001", KT_INTERNAL, false}, //  data_corrupted
    //  not SQLSTATEs at all: INTERNAL, never retried, even when they start
    //  like a mapped class
    {"", KT_INTERNAL, false},
    {"2", KT_INTERNAL, false},
    {"08", KT_INTERNAL, false},
    {"22", KT_INTERNAL, false},
    {"2350", KT_INTERNAL, false},
    {"4000", KT_INTERNAL, false},
    {"235050", KT_INTERNAL, false},
    {"400011", KT_INTERNAL, false},
    {"40001 ", KT_INTERNAL, false},
    {" 40001", KT_INTERNAL, false},
    {"40p01", KT_INTERNAL, false}, //  lower case
    {"08-06", KT_INTERNAL, false},
    {"23\n05", KT_INTERNAL, false},
    {"\xc3\xa9"
     "235",
     KT_INTERNAL, false}, //  UTF-8, five bytes
    {"53\xff"
     "00",
     KT_INTERNAL, false},
};

static void test_every_case(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        const s_case_t *c = &s_cases[i];
        int status = kt_pg_status_for(c->state);
        if (status != c->status)
            fail_msg("kt_pg_status_for(\"%s\") = %d, expected %d", c->state, status, c->status);
        if (kt_pg_retryable(c->state) != c->retryable)
            fail_msg("kt_pg_retryable(\"%s\") = %d, expected %d", c->state, !c->retryable,
                     c->retryable);
    }
}

//  libpq gives no SQLSTATE when the connection broke.
static void test_null_state(void **state)
{
    (void)state;
    assert_int_equal(kt_pg_status_for(NULL), KT_UNAVAILABLE);
    assert_false(kt_pg_retryable(NULL));
}

//  Every retryable state maps to ABORTED: a caller that gives up after the
//  retries tells its own caller the same thing.
static void test_retryable_implies_aborted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++)
        if (kt_pg_retryable(s_cases[i].state))
            assert_int_equal(kt_pg_status_for(s_cases[i].state), KT_ABORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_case),
        cmocka_unit_test(test_null_state),
        cmocka_unit_test(test_retryable_implies_aborted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
