/*  receivables_store - every SQL statement of the receivables service.
 *
 *  Each is a named, parameterised kt_stmt_t (kt_pg.h), prepared once per
 *  connection; none is ever built from data. Tables: migrations/002_ledger.sql.
 */
#ifndef RECEIVABLES_STORE_H
#define RECEIVABLES_STORE_H

#include "kt_pg.h"

//  accounts and terms
extern const kt_stmt_t rcv_q_account_lock;
extern const kt_stmt_t rcv_q_account_read;
extern const kt_stmt_t rcv_q_account_ensure;
extern const kt_stmt_t rcv_q_account_move;
extern const kt_stmt_t rcv_q_account_set_hold;
extern const kt_stmt_t rcv_q_terms_event;
extern const kt_stmt_t rcv_q_terms_set;
extern const kt_stmt_t rcv_q_client_event;
extern const kt_stmt_t rcv_q_history_add;
extern const kt_stmt_t rcv_q_history;
extern const kt_stmt_t rcv_q_today;

//  credit reservations
extern const kt_stmt_t rcv_q_resv_get;
extern const kt_stmt_t rcv_q_reserve_fast;
extern const kt_stmt_t rcv_q_resv_statuses;
extern const kt_stmt_t rcv_q_confirm_fast;
extern const kt_stmt_t rcv_q_resv_insert;
extern const kt_stmt_t rcv_q_resv_set_status;
extern const kt_stmt_t rcv_q_resv_expire_client;
extern const kt_stmt_t rcv_q_resv_expired_clients;
extern const kt_stmt_t rcv_q_resv_invoice;
extern const kt_stmt_t rcv_q_resv_expirable_count;
extern const kt_stmt_t rcv_q_metrics_counts;

//  invoices, settlements, allocations
extern const kt_stmt_t rcv_q_invoice_insert;
extern const kt_stmt_t rcv_q_invoice_lines;
extern const kt_stmt_t rcv_q_invoice_get;
extern const kt_stmt_t rcv_q_invoices_of_order;
extern const kt_stmt_t rcv_q_invoice_of_shipment;
extern const kt_stmt_t rcv_q_alloc_credit_to_invoice;
extern const kt_stmt_t rcv_q_allocate;
extern const kt_stmt_t rcv_q_settlement_insert;
extern const kt_stmt_t rcv_q_settlement_unapplied;
extern const kt_stmt_t rcv_q_payment_by_ref;
extern const kt_stmt_t rcv_q_payment_allocations;
extern const kt_stmt_t rcv_q_payment_unallocate;
extern const kt_stmt_t rcv_q_payment_reverse;
extern const kt_stmt_t rcv_q_overdue;

//  reports
extern const kt_stmt_t rcv_q_balance_extra;
extern const kt_stmt_t rcv_q_aging_open;
extern const kt_stmt_t rcv_q_aging_items;
extern const kt_stmt_t rcv_q_statement_opening;
extern const kt_stmt_t rcv_q_statement_lines;
extern const kt_stmt_t rcv_q_discipline;

//  dunning
extern const kt_stmt_t rcv_q_dunning_run_start;
extern const kt_stmt_t rcv_q_dunning_run_finish;
extern const kt_stmt_t rcv_q_dunning_notices;
extern const kt_stmt_t rcv_q_dunning_hold_candidates;
extern const kt_stmt_t rcv_q_dunning_lift_candidates;
extern const kt_stmt_t rcv_q_dunning_due_today;

#endif
