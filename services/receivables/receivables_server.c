/*  receivables_server - the receivables service: its method table, the
 *  streams it applies, and its process hooks (the sweeper actor).
 *
 *  Every service also answers Status and EventsSince (kt_service.c).
 *
 *  Settings of its own, from the environment (checked at start; a bad
 *  value stops the process with a line naming it):
 *    KONTOR_RECEIVABLES_SWEEP_MS   how often the sweeper wakes (1000; 50..3600000)
 *    KONTOR_DUNNING_DAILY          1: the sweeper runs the daily dunning (default); 0: only
 *                                  RunDunning does
 *    KONTOR_DUNNING_LEVELS         days past due of each escalation level ("1,15,30")
 *    KONTOR_DUNNING_REMINDER_DAYS  days before due of the reminder (3; 0: none; at most 60)
 */
#include "receivables_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "logistics.pb-c.h"
#include "orders.pb-c.h"
#include "clients.pb-c.h"
#include "receivables.h"
#include "receivables.pb-c.h"
#include "receivables_handlers.h"
#include "receivables_sweeper.h"

extern const kt_migration_t receivables_migrations[];

#define S_READERS (KT_ROLE_MANAGER | KT_ROLE_HEAD | KT_ROLE_ACCOUNTANT | KT_ROLE_ADMIN \
                   | KT_ROLE_SERVICE)
#define S_MONEY_STAFF (KT_ROLE_ACCOUNTANT | KT_ROLE_HEAD | KT_ROLE_ADMIN)

//  Methods of this service; flags and roles are checked by the dispatcher
//  before a handler runs. Writes are idempotent by a business key in the
//  request itself (order id, payment reference; dunning per notice), so
//  none needs the envelope's idempotency key.
static const kt_method_t s_methods[] = {
    {"ReserveCredit", &kontor__receivables__reserve_credit_request__descriptor,
     &kontor__receivables__reserve_credit_reply__descriptor, KT_ROLE_SERVICE | KT_ROLE_ADMIN,
     KT_M_WRITE, receivables_reserve_credit,
     "hold credit for an order if it fits under the limit (idempotent by order id)"},
    {"ConfirmCredit", &kontor__receivables__credit_request__descriptor,
     &kontor__receivables__credit_reply__descriptor, KT_ROLE_SERVICE | KT_ROLE_ADMIN, KT_M_WRITE,
     receivables_confirm_credit, "keep an order's credit hold until dispatch"},
    {"ReleaseCredit", &kontor__receivables__credit_request__descriptor,
     &kontor__receivables__credit_reply__descriptor, KT_ROLE_SERVICE | KT_ROLE_ADMIN, KT_M_WRITE,
     receivables_release_credit, "give an order's credit hold back"},
    {"CreditStatus", &kontor__receivables__credit_status_request__descriptor,
     &kontor__receivables__credit_status_reply__descriptor, KT_ROLE_SERVICE | KT_ROLE_ADMIN,
     KT_M_READ, receivables_credit_status,
     "the credit reservations of up to 500 orders as they stand"},
    {"SetCreditTerms", &kontor__receivables__set_credit_terms_request__descriptor,
     &kontor__receivables__credit_terms_reply__descriptor, KT_ROLE_HEAD | KT_ROLE_ADMIN,
     KT_M_WRITE, receivables_set_credit_terms,
     "set a client's credit limit, payment and grace days (until clients sends them)"},
    {"RecordPayment", &kontor__receivables__record_payment_request__descriptor,
     &kontor__receivables__record_payment_reply__descriptor, S_MONEY_STAFF, KT_M_WRITE,
     receivables_record_payment,
     "book a payment (idempotent by reference), oldest due first or to the invoices named"},
    {"ReversePayment", &kontor__receivables__reverse_payment_request__descriptor,
     &kontor__receivables__reverse_payment_reply__descriptor, S_MONEY_STAFF, KT_M_WRITE,
     receivables_reverse_payment, "undo a payment that bounced: its invoices are open again"},
    {"Balance", &kontor__receivables__balance_request__descriptor,
     &kontor__receivables__balance_reply__descriptor, S_READERS, KT_M_READ, receivables_balance,
     "a client's invoiced, paid, credited, open, unapplied, reserved, limit and hold"},
    {"Aging", &kontor__receivables__aging_request__descriptor,
     &kontor__receivables__aging_reply__descriptor, S_READERS, KT_M_READ, receivables_aging,
     "open amounts by days past due, per client, manager or branch, as of a date"},
    {"Statement", &kontor__receivables__statement_request__descriptor,
     &kontor__receivables__statement_reply__descriptor, S_READERS, KT_M_READ,
     receivables_statement, "a client's reconciliation statement for a period"},
    {"Discipline", &kontor__receivables__discipline_request__descriptor,
     &kontor__receivables__discipline_reply__descriptor, S_READERS, KT_M_READ,
     receivables_discipline, "a client's payment discipline over the last 12 months"},
    {"CreditHistory", &kontor__receivables__credit_history_request__descriptor,
     &kontor__receivables__credit_history_reply__descriptor, S_READERS, KT_M_READ,
     receivables_credit_history, "what happened to a client's credit, newest first"},
    {"RunDunning", &kontor__receivables__run_dunning_request__descriptor,
     &kontor__receivables__run_dunning_reply__descriptor, S_MONEY_STAFF, KT_M_WRITE,
     receivables_run_dunning, "the daily dunning run, now, as of a date (default today)"},
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};

static const kt_event_handler_t s_from_clients[] = {
    {"TermsChanged", receivables_on_terms_changed},
    {"ClientChanged", receivables_on_client_changed},
    {NULL, NULL},
};

static const kt_event_handler_t s_from_logistics[] = {
    {"ShipmentDispatched", receivables_on_shipment_dispatched},
    {"DiscrepancyRecorded", receivables_on_discrepancy_recorded},
    {NULL, NULL},
};

static const kt_event_handler_t s_from_orders[] = {
    {"ReturnRecorded", receivables_on_return_recorded},
    {"OrderConfirmed", receivables_on_order_confirmed},
    {"OrderCancelled", receivables_on_order_cancelled},
    {NULL, NULL},
};

static const kt_subscription_t s_consumes[] = {
    {"clients", s_from_clients},
    {"logistics", s_from_logistics},
    {"orders", s_from_orders},
    {NULL, NULL},
};

//  A whole number from the environment in [min, max], or `fallback` when
//  unset. 0, or -1 (logged) when set to anything else.
static int s_env_int(const char *name, long fallback, long min, long max, long *out)
{
    const char *text = getenv(name);
    if (!text || !*text) {
        *out = fallback;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        kt_error("%s must be a whole number from %ld to %ld: \"%s\"", name, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int s_start(kt_service_t *svc)
{
    long every_ms, daily, reminder;
    if (s_env_int("KONTOR_RECEIVABLES_SWEEP_MS", 1000, 50, 3600000, &every_ms) != 0
        || s_env_int("KONTOR_DUNNING_DAILY", 1, 0, 1, &daily) != 0
        || s_env_int("KONTOR_DUNNING_REMINDER_DAYS", 3, 0, 60, &reminder) != 0)
        return -1;
    rcv_policy_t policy;
    rcv_policy_default(&policy);
    policy.reminder_days = (int) reminder;
    const char *levels = getenv("KONTOR_DUNNING_LEVELS");
    char why[160];
    if (levels && *levels && rcv_policy_parse_levels(levels, &policy, why, sizeof why) != 0) {
        kt_error("KONTOR_DUNNING_LEVELS: %s", why);
        return -1;
    }
    rcv_policy_set(&policy);
    rcv_sweeper_t *sweeper =
        rcv_sweeper_new(kt_service_config(svc)->pg_dsn, (int) every_ms, daily == 1);
    if (!sweeper) {
        kt_error("cannot start the sweeper: the database cannot be reached");
        return -1;
    }
    kt_service_set_shared(svc, sweeper);
    return 0;
}

static void s_stop(kt_service_t *svc)
{
    rcv_sweeper_t *sweeper = kt_service_shared(svc);
    rcv_sweeper_destroy(&sweeper);
    kt_service_set_shared(svc, NULL);
}

const kt_service_def_t receivables_service = {
    .name = "receivables",
    .methods = s_methods,
    .migrations = receivables_migrations,
    .uses_redis = false,
    .consumes = s_consumes,
    .start = s_start,
    .stop = s_stop,
};
