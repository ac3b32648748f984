/*  clients_handlers - the clients service's method handlers and event
 *  appliers, one family per file (clients_org.c, clients_card.c,
 *  clients_import.c, clients_search.c, clients_terms.c, clients_activity.c,
 *  clients_complaints.c, clients_plans.c, clients_events.c). Each handler
 *  returns 0 after kt_call_reply or -1 after a refusal (kt_service.h).
 */
#ifndef CLIENTS_HANDLERS_H
#define CLIENTS_HANDLERS_H

#include <stdbool.h>

#include "kt_service.h"

kt_handler_fn clients_upsert_branch;
kt_handler_fn clients_upsert_territory;
kt_handler_fn clients_upsert_manager;

kt_handler_fn clients_create_client;
kt_handler_fn clients_update_client;
kt_handler_fn clients_get_client;
kt_handler_fn clients_assign_manager;
kt_handler_fn clients_upsert_contact;
kt_handler_fn clients_import_clients;

kt_handler_fn clients_search_clients;

kt_handler_fn clients_set_terms;
kt_handler_fn clients_get_terms;
kt_handler_fn clients_record_credit_check;

kt_handler_fn clients_plan_activity;
kt_handler_fn clients_complete_activity;
kt_handler_fn clients_schedule;

kt_handler_fn clients_open_complaint;
kt_handler_fn clients_move_complaint;
kt_handler_fn clients_list_complaints;

kt_handler_fn clients_set_plan;
kt_handler_fn clients_plan_report;

kt_event_fn clients_on_order_confirmed;
kt_event_fn clients_on_invoice_issued;
kt_event_fn clients_on_payment_recorded;

//  0 if manager `manager_id` exists (and is active, if asked), else -1
//  after replying NOT_FOUND (or FAILED_PRECONDITION) naming `field`.
int clients_manager_or_reply(kt_call_t *call, const char *field, int64_t manager_id,
                             bool must_be_active);

#endif
