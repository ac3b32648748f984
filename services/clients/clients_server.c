/*  clients_server - the clients service: its method table and process hooks.
 *
 *  Every service also answers Status and EventsSince (kt_service.c). Roles
 *  are checked by the dispatcher from the table; ownership (a manager
 *  changes only the clients assigned to them) by the handlers, with the
 *  client's manager read inside their transaction.
 */
#include "clients_server.h"

#include "clients.pb-c.h"
#include "clients_handlers.h"
#include "kontor.pb-c.h"

extern const kt_migration_t clients_migrations[];

#define S_ORG   (KT_ROLE_HEAD | KT_ROLE_ADMIN)
#define S_SALES (KT_ROLE_MANAGER | KT_ROLE_HEAD | KT_ROLE_ADMIN)
#define S_READ  (KT_ROLE_STAFF | KT_ROLE_SERVICE)

#define S_M(name, req, rep, roles, flags, fn, summary)                                             \
    {                                                                                              \
        name, &kontor__clients__##req##__descriptor, &kontor__clients__##rep##__descriptor, roles, \
            flags, fn, summary                                                                     \
    }

//  Methods of this service; flags and roles are checked by the dispatcher
//  before a handler runs.
static const kt_method_t s_methods[] = {
    S_M("UpsertBranch", branch, branch, S_ORG, KT_M_WRITE, clients_upsert_branch,
        "create (id 0) or rename a branch"),
    S_M("UpsertTerritory", territory, territory, S_ORG, KT_M_WRITE, clients_upsert_territory,
        "create (id 0) or change a territory of a branch, with its lead manager"),
    S_M("UpsertManager", manager, manager, S_ORG, KT_M_WRITE, clients_upsert_manager,
        "create or change a manager, with an explicit id matching the principal's manager_id"),
    S_M("CreateClient", create_client_request, client_card, S_SALES, KT_M_WRITE,
        clients_create_client, "a new client card; a duplicate tax id is refused"),
    S_M("UpdateClient", update_client_request, client_card, S_SALES, KT_M_WRITE,
        clients_update_client, "change a card from the version read (ABORTED if stale)"),
    S_M("ImportClients", import_clients_request, import_clients_reply, S_ORG,
        KT_M_WRITE | KT_M_NEEDS_KEY, clients_import_clients,
        "up to 1,000 clients with terms, contacts and credit checks, all or nothing"),
    S_M("GetClient", client_request, client_view, S_READ, KT_M_READ, clients_get_client,
        "the card with contacts, terms, latest credit check, complaints, orders, balances"),
    S_M("SearchClients", search_clients_request, search_clients_reply, KT_ROLE_STAFF, KT_M_READ,
        clients_search_clients, "find clients by name or code fragment and filters, by pages"),
    S_M("AssignManager", assign_manager_request, client_card, S_ORG, KT_M_WRITE,
        clients_assign_manager, "move a client to another manager (kept in the history)"),
    S_M("UpsertContact", contact, contact, S_SALES, KT_M_WRITE, clients_upsert_contact,
        "add (id 0) or change a contact person of a client"),
    S_M("SetTerms", set_terms_request, terms_reply, S_ORG, KT_M_WRITE, clients_set_terms,
        "change the contract, terms and credit limit; emits TermsChanged"),
    {"GetTerms", &kontor__clients__get_terms_request__descriptor,
     &kontor__clients__terms__descriptor, S_READ, KT_M_READ, clients_get_terms,
     "the client's terms, as orders and receivables need them"},
    S_M("RecordCreditCheck", credit_check, credit_check, S_SALES | KT_ROLE_ACCOUNTANT, KT_M_WRITE,
        clients_record_credit_check,
        "record a reliability and credit check with its recommended limit"),
    S_M("PlanActivity", activity, activity, S_SALES, KT_M_WRITE, clients_plan_activity,
        "plan a call, visit, meeting or offer for a date and time"),
    S_M("CompleteActivity", complete_activity_request, activity, S_SALES, KT_M_WRITE,
        clients_complete_activity, "record a planned activity's outcome, or cancel it"),
    S_M("Schedule", schedule_request, schedule_reply, S_SALES, KT_M_READ, clients_schedule,
        "a manager's week: plans, overdue, birthdays and holidays, daily counts"),
    S_M("OpenComplaint", open_complaint_request, complaint, KT_ROLE_STAFF, KT_M_WRITE,
        clients_open_complaint, "open a complaint against a client, order or shipment"),
    S_M("MoveComplaint", move_complaint_request, complaint, KT_ROLE_STAFF, KT_M_WRITE,
        clients_move_complaint, "take a complaint in hand, resolve it or reject it"),
    S_M("ListComplaints", list_complaints_request, list_complaints_reply, KT_ROLE_STAFF,
        KT_M_READ, clients_list_complaints,
        "complaints by client, manager, status and date, newest first, by pages"),
    S_M("SetPlan", set_plan_request, plan, S_ORG, KT_M_WRITE, clients_set_plan,
        "a manager's plan for a month: revenue, active clients, new clients"),
    S_M("PlanReport", plan_report_request, plan_report_reply, S_SALES, KT_M_READ,
        clients_plan_report, "plan against actual for a manager or a branch and a month"),
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};

static const kt_event_handler_t s_orders_events[] = {
    {"OrderConfirmed", clients_on_order_confirmed},
    {NULL, NULL},
};

static const kt_event_handler_t s_receivables_events[] = {
    {"InvoiceIssued", clients_on_invoice_issued},
    {"PaymentRecorded", clients_on_payment_recorded},
    {NULL, NULL},
};

static const kt_subscription_t s_consumes[] = {
    {"orders", s_orders_events},
    {"receivables", s_receivables_events},
    {NULL, NULL},
};

//  Each worker plans every statement per call: SearchClients' one statement
//  skips a filter when its parameter is NULL, and only a plan made with the
//  values drops those filters and finds the right index (a generic plan
//  would scan). No JIT: its compile time (hundreds of ms) is for long
//  reports, not for calls that take a millisecond. Returns the connection
//  as the worker's (borrowed) state.
static void *s_worker_new(kt_service_t *svc, kt_pg_t *pg)
{
    if (kt_pg_command(pg, "SET plan_cache_mode = force_custom_plan") != 0 ||
        kt_pg_command(pg, "SET jit = off") != 0)
        return NULL;
    return pg;
}

const kt_service_def_t clients_service = {
    .name = "clients",
    .methods = s_methods,
    .migrations = clients_migrations,
    .uses_redis = false,
    .consumes = s_consumes,
    .worker_new = s_worker_new,
};
