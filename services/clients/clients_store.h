/*  clients_store - every SQL statement of the clients service (clients_store.c
 *  has them, with what each one expects and returns).
 */
#ifndef CLIENTS_STORE_H
#define CLIENTS_STORE_H

#include "kt_pg.h"

extern const kt_stmt_t clients_sql_branch_insert;
extern const kt_stmt_t clients_sql_branch_update;
extern const kt_stmt_t clients_sql_branch_exists;
extern const kt_stmt_t clients_sql_manager_get;
extern const kt_stmt_t clients_sql_manager_upsert;
extern const kt_stmt_t clients_sql_territory_get;
extern const kt_stmt_t clients_sql_territory_insert;
extern const kt_stmt_t clients_sql_territory_update;
extern const kt_stmt_t clients_sql_card_get;
extern const kt_stmt_t clients_sql_holidays_get;
extern const kt_stmt_t clients_sql_holidays_clear;
extern const kt_stmt_t clients_sql_holiday_insert;
extern const kt_stmt_t clients_sql_tax_id_owner;
extern const kt_stmt_t clients_sql_code_owner;
extern const kt_stmt_t clients_sql_client_insert;
extern const kt_stmt_t clients_sql_terms_insert;
extern const kt_stmt_t clients_sql_client_lock;
extern const kt_stmt_t clients_sql_client_owner;
extern const kt_stmt_t clients_sql_client_update;
extern const kt_stmt_t clients_sql_client_assign;
extern const kt_stmt_t clients_sql_client_bump;
extern const kt_stmt_t clients_sql_assignment_insert;
extern const kt_stmt_t clients_sql_assignments_get;
extern const kt_stmt_t clients_sql_contact_insert;
extern const kt_stmt_t clients_sql_contact_update;
extern const kt_stmt_t clients_sql_contacts_get;
extern const kt_stmt_t clients_sql_terms_get;
extern const kt_stmt_t clients_sql_terms_update;
extern const kt_stmt_t clients_sql_check_latest;
extern const kt_stmt_t clients_sql_check_insert;
extern const kt_stmt_t clients_sql_complaints_open;
extern const kt_stmt_t clients_sql_orders_last;
extern const kt_stmt_t clients_sql_balances_get;
extern const kt_stmt_t clients_sql_search;
extern const kt_stmt_t clients_sql_client_name;
extern const kt_stmt_t clients_sql_activity_insert;
extern const kt_stmt_t clients_sql_activity_lock;
extern const kt_stmt_t clients_sql_activity_complete;
extern const kt_stmt_t clients_sql_week_planned;
extern const kt_stmt_t clients_sql_overdue;
extern const kt_stmt_t clients_sql_greetings;
extern const kt_stmt_t clients_sql_day_counts;
extern const kt_stmt_t clients_sql_complaint_insert;
extern const kt_stmt_t clients_sql_complaint_lock;
extern const kt_stmt_t clients_sql_complaint_move;
extern const kt_stmt_t clients_sql_plan_upsert;
extern const kt_stmt_t clients_sql_plan_report;
extern const kt_stmt_t clients_sql_plan_total_clients;
extern const kt_stmt_t clients_sql_fact_insert;
extern const kt_stmt_t clients_sql_first_order_target;
extern const kt_stmt_t clients_sql_client_activate;
extern const kt_stmt_t clients_sql_doc_insert;
extern const kt_stmt_t clients_sql_balance_invoiced;
extern const kt_stmt_t clients_sql_balance_paid;
extern const kt_stmt_t clients_sql_today;

extern const kt_stmt_t clients_sql_import_claim;
extern const kt_stmt_t clients_sql_import_read;
extern const kt_stmt_t clients_sql_import_store;
extern const kt_stmt_t clients_sql_import_prune;
extern const kt_stmt_t clients_sql_import_managers;
extern const kt_stmt_t clients_sql_import_territories;
extern const kt_stmt_t clients_sql_import_taken;
extern const kt_stmt_t clients_sql_import_ids;
extern const kt_stmt_t clients_sql_import_clients;
extern const kt_stmt_t clients_sql_import_terms;
extern const kt_stmt_t clients_sql_import_assignments;
extern const kt_stmt_t clients_sql_import_holidays;
extern const kt_stmt_t clients_sql_import_contacts;
extern const kt_stmt_t clients_sql_import_checks;
extern const kt_stmt_t clients_sql_import_outbox;
extern const kt_stmt_t clients_sql_complaints_list;
extern const kt_stmt_t clients_sql_client_name_manager;

#endif
