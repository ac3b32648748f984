/*  receivables_handlers - the receivables service's method handlers and
 *  event handlers, as the method table and the subscriptions in
 *  receivables_server.c name them.
 *
 *  A method handler validates its request field by field (naming the field
 *  at fault), does its work in one transaction (kt_pg_tx) and replies;
 *  returns 0 after kt_call_reply or -1 after kt_call_fail/kt_call_refuse.
 *  An event handler applies one event inside the consumer's transaction
 *  (kt_events.h) and returns KT_EVENT_APPLIED, KT_EVENT_FAILED or
 *  KT_EVENT_POISON.
 */
#ifndef RECEIVABLES_HANDLERS_H
#define RECEIVABLES_HANDLERS_H

#include "kt_events.h"
#include "kt_metrics.h"
#include "kt_service.h"

//  receivables_credit.c
int receivables_reserve_credit(kt_call_t *call, const ProtobufCMessage *request);
int receivables_confirm_credit(kt_call_t *call, const ProtobufCMessage *request);
int receivables_release_credit(kt_call_t *call, const ProtobufCMessage *request);
int receivables_credit_status(kt_call_t *call, const ProtobufCMessage *request);
int receivables_set_credit_terms(kt_call_t *call, const ProtobufCMessage *request);
int receivables_credit_history(kt_call_t *call, const ProtobufCMessage *request);

//  Expire the client's holds whose time ran out (account row locked by the
//  caller); *expired (may be NULL) gets the amount given back. 0 or -1.
int rcv_expire_client(kt_pg_t *pg, int64_t client_id, const char *by, int64_t *expired);

//  An order confirmed (confirm its credit; one that expired meanwhile is
//  held again, since the order stands) or cancelled (release it). 0 or -1.
int rcv_credit_on_order(kt_pg_t *pg, int64_t order_id, bool cancelled, const char *by);

//  receivables_payments.c
int receivables_record_payment(kt_call_t *call, const ProtobufCMessage *request);
int receivables_reverse_payment(kt_call_t *call, const ProtobufCMessage *request);

//  receivables_reports.c
int receivables_balance(kt_call_t *call, const ProtobufCMessage *request);
int receivables_aging(kt_call_t *call, const ProtobufCMessage *request);
int receivables_statement(kt_call_t *call, const ProtobufCMessage *request);
int receivables_discipline(kt_call_t *call, const ProtobufCMessage *request);

//  receivables_dunning.c
int receivables_run_dunning(kt_call_t *call, const ProtobufCMessage *request);

//  The dunning run as of `as_of` ("YYYY-MM-DD"), on `pg` outside any
//  transaction: notices page by page, then holds on and off, each client
//  in a transaction of its own. Counts go to the out parameters (may be
//  NULL). 0, or -1 on a database error (what was done stays done; running
//  again finishes it).
int rcv_dunning_run(kt_pg_t *pg, const char *as_of, const char *by, int64_t *notices,
                    int64_t *reminders, int64_t *holds_on, int64_t *holds_off, int64_t *run_id);
//  Register the dunning's metric (receivables_credit_holds_total, clients
//  this process put on credit hold), so it is exported from the start.
//  Returns it.
kt_metric_t *rcv_dunning_metrics(void);

//  receivables_events.c
int receivables_on_terms_changed(kt_pg_t *pg, const kt_event_t *ev, void *arg);
int receivables_on_client_changed(kt_pg_t *pg, const kt_event_t *ev, void *arg);
int receivables_on_shipment_dispatched(kt_pg_t *pg, const kt_event_t *ev, void *arg);
int receivables_on_discrepancy_recorded(kt_pg_t *pg, const kt_event_t *ev, void *arg);
int receivables_on_return_recorded(kt_pg_t *pg, const kt_event_t *ev, void *arg);
int receivables_on_order_confirmed(kt_pg_t *pg, const kt_event_t *ev, void *arg);
int receivables_on_order_cancelled(kt_pg_t *pg, const kt_event_t *ev, void *arg);

#endif
