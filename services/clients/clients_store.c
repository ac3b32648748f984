/*  clients_store - every SQL statement of the clients service.
 *
 *  Names are plain: each worker's search_path is the clients schema. Every
 *  statement is parameterised; none is ever built from data. Times go out as
 *  Unix milliseconds (S_MS), dates as "YYYY-MM-DD" (the database's DateStyle
 *  is ISO). Booleans come back as "t" / "f".
 */
#include "clients_store.h"

#define S_MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

//  ---------------------------------------------------------------- org

const kt_stmt_t clients_sql_branch_insert = {
    "clients_branch_insert",
    "INSERT INTO branches (code, name) VALUES ($1, $2) RETURNING id, code, name", 2};
const kt_stmt_t clients_sql_branch_update = {
    "clients_branch_update",
    "UPDATE branches SET code = $2, name = $3 WHERE id = $1::bigint RETURNING id, code, name", 3};
const kt_stmt_t clients_sql_branch_exists = {"clients_branch_exists",
                                             "SELECT 1 FROM branches WHERE id = $1::bigint", 1};

const kt_stmt_t clients_sql_manager_get = {
    "clients_manager_get",
    "SELECT id, name, role, branch_id, active FROM managers WHERE id = $1::bigint", 1};
//  An explicit id inserts or replaces; the sequence stays above explicit ids.
const kt_stmt_t clients_sql_manager_upsert = {
    "clients_manager_upsert",
    "INSERT INTO managers (id, name, role, branch_id, active)"
    " VALUES (coalesce($1::bigint, nextval('managers_id_seq')), $2, $3, $4::bigint, $5::boolean)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,"
    "   branch_id = excluded.branch_id, active = excluded.active"
    " RETURNING id, name, role, branch_id, active",
    5};

const kt_stmt_t clients_sql_territory_get = {
    "clients_territory_get",
    "SELECT id, branch_id, name, coalesce(lead_manager_id, 0) FROM territories"
    " WHERE id = $1::bigint",
    1};
const kt_stmt_t clients_sql_territory_insert = {
    "clients_territory_insert",
    "INSERT INTO territories (branch_id, name, lead_manager_id)"
    " VALUES ($1::bigint, $2, $3::bigint)"
    " RETURNING id, branch_id, name, coalesce(lead_manager_id, 0)",
    3};
const kt_stmt_t clients_sql_territory_update = {
    "clients_territory_update",
    "UPDATE territories SET branch_id = $2::bigint, name = $3, lead_manager_id = $4::bigint"
    " WHERE id = $1::bigint RETURNING id, branch_id, name, coalesce(lead_manager_id, 0)",
    4};

//  ---------------------------------------------------------------- the card

#define S_CARD_COLUMNS                                                                             \
    "c.id, c.code, c.name, c.tax_id, c.legal_address, c.delivery_address, c.segment, c.status,"    \
    " c.key_account, c.branch_id, c.territory_id, c.manager_id, c.found_by_manager_id, " S_MS(     \
        "c.created_at") ", " S_MS("c.changed_at") ", c.version"

const kt_stmt_t clients_sql_card_get = {
    "clients_card_get", "SELECT " S_CARD_COLUMNS " FROM clients c WHERE c.id = $1::bigint", 1};
const kt_stmt_t clients_sql_holidays_get = {
    "clients_holidays_get",
    "SELECT name, to_char(make_date(2000, month, day), 'MM-DD') FROM client_holidays"
    " WHERE client_id = $1::bigint ORDER BY month, day, name",
    1};
const kt_stmt_t clients_sql_holidays_clear = {
    "clients_holidays_clear", "DELETE FROM client_holidays WHERE client_id = $1::bigint", 1};
const kt_stmt_t clients_sql_holiday_insert = {
    "clients_holiday_insert",
    "INSERT INTO client_holidays (client_id, name, month, day)"
    " VALUES ($1::bigint, $2, $3::int, $4::int) ON CONFLICT DO NOTHING",
    4};

const kt_stmt_t clients_sql_tax_id_owner = {
    "clients_tax_id_owner",
    "SELECT id, name FROM clients WHERE tax_id = $1 AND id <> coalesce($2::bigint, 0)", 2};
const kt_stmt_t clients_sql_code_owner = {
    "clients_code_owner",
    "SELECT id, name FROM clients WHERE code = $1 AND id <> coalesce($2::bigint, 0)", 2};

//  The id is drawn first so that a code left empty can be made from it.
const kt_stmt_t clients_sql_client_insert = {
    "clients_client_insert",
    "WITH n AS (SELECT nextval('clients_id_seq') AS id)"
    " INSERT INTO clients (id, code, name, tax_id, legal_address, delivery_address, segment,"
    "   status, key_account, branch_id, territory_id, manager_id, found_by_manager_id)"
    " SELECT n.id, coalesce(nullif($1, ''), 'C' || lpad(n.id::text, 6, '0')), $2, $3, $4, $5,"
    "   $6, $7, $8::boolean, $9::bigint, $10::bigint, $11::bigint, $11::bigint FROM n"
    " RETURNING id",
    11};
const kt_stmt_t clients_sql_terms_insert = {"clients_terms_insert",
                                            "INSERT INTO terms (client_id, currency, changed_by, "
                                            "why) VALUES ($1::bigint, $2, $3, 'created')",
                                            3};

const kt_stmt_t clients_sql_client_lock = {
    "clients_client_lock",
    "SELECT manager_id, version, status, territory_id, branch_id FROM clients"
    " WHERE id = $1::bigint FOR UPDATE",
    1};
const kt_stmt_t clients_sql_client_owner = {
    "clients_client_owner",
    "SELECT manager_id, status FROM clients WHERE id = $1::bigint FOR SHARE", 1};

//  Optimistic: only from the version the caller read; the row count tells.
#define S_CHANGED_COLUMNS                                                                          \
    "id, name, status, manager_id, branch_id, territory_id, key_account, version"
const kt_stmt_t clients_sql_client_update = {
    "clients_client_update",
    "UPDATE clients SET code = coalesce(nullif($3, ''), code), name = $4, tax_id = $5,"
    "   legal_address = $6, delivery_address = $7, segment = $8,"
    "   status = coalesce($9, status), key_account = $10::boolean,"
    "   territory_id = $11::bigint, branch_id = $12::bigint,"
    "   version = version + 1, changed_at = now()"
    " WHERE id = $1::bigint AND version = $2::bigint"
    " RETURNING " S_CHANGED_COLUMNS,
    12};
const kt_stmt_t clients_sql_client_assign = {
    "clients_client_assign",
    "UPDATE clients SET manager_id = $2::bigint, version = version + 1, changed_at = now()"
    " WHERE id = $1::bigint RETURNING " S_CHANGED_COLUMNS,
    2};
const kt_stmt_t clients_sql_client_bump = {
    "clients_client_bump",
    "UPDATE clients SET version = version + 1, changed_at = now()"
    " WHERE id = $1::bigint RETURNING status, manager_id, branch_id, version",
    1};
const kt_stmt_t clients_sql_assignment_insert = {
    "clients_assignment_insert",
    "INSERT INTO assignments (client_id, from_manager_id, to_manager_id, by, why)"
    " VALUES ($1::bigint, $2::bigint, $3::bigint, $4, $5)",
    5};
const kt_stmt_t clients_sql_assignments_get = {
    "clients_assignments_get",
    "SELECT coalesce(from_manager_id, 0), to_manager_id, by, why, " S_MS(
        "at") " FROM assignments WHERE client_id = $1::bigint ORDER BY id DESC LIMIT 20",
    1};

//  ---------------------------------------------------------------- contacts

#define S_CONTACT_COLUMNS                                                                          \
    "id, client_id, name, position, phone, email, decision_maker, coalesce(birthday::text, '')"
const kt_stmt_t clients_sql_contact_insert = {
    "clients_contact_insert",
    "INSERT INTO contacts (client_id, name, position, phone, email, decision_maker, birthday)"
    " VALUES ($1::bigint, $2, $3, $4, $5, $6::boolean, $7::date) RETURNING " S_CONTACT_COLUMNS,
    7};
const kt_stmt_t clients_sql_contact_update = {
    "clients_contact_update",
    "UPDATE contacts SET name = $3, position = $4, phone = $5, email = $6,"
    "   decision_maker = $7::boolean, birthday = $8::date"
    " WHERE id = $1::bigint AND client_id = $2::bigint RETURNING " S_CONTACT_COLUMNS,
    8};
const kt_stmt_t clients_sql_contacts_get = {
    "clients_contacts_get",
    "SELECT " S_CONTACT_COLUMNS " FROM contacts WHERE client_id = $1::bigint ORDER BY id", 1};

//  ---------------------------------------------------------------- terms and credit

#define S_TERMS_COLUMNS                                                                            \
    "t.client_id, t.price_column, t.discount_bp, t.payment_days, t.grace_days, t.credit_limit,"    \
    " t.currency, t.short_policy, c.status, c.manager_id, c.branch_id, c.version,"                 \
    " t.contract_number, coalesce(t.contract_date::text, ''), coalesce(t.contract_until::text, "   \
    "''),"                                                                                         \
    " t.changed_by, t.why, " S_MS("t.changed_at")
const kt_stmt_t clients_sql_terms_get = {"clients_terms_get",
                                         "SELECT " S_TERMS_COLUMNS
                                         " FROM terms t JOIN clients c ON c.id = t.client_id"
                                         " WHERE t.client_id = $1::bigint",
                                         1};
//  The row before and after, kept in terms_history with who and why.
const kt_stmt_t clients_sql_terms_update = {
    "clients_terms_update",
    "WITH old AS (SELECT to_jsonb(t) - 'changed_at' AS j FROM terms t"
    "              WHERE client_id = $1::bigint FOR UPDATE),"
    " upd AS (UPDATE terms SET contract_number = $2, contract_date = $3::date,"
    "   contract_until = $4::date, price_column = $5, discount_bp = $6::int,"
    "   payment_days = $7::int, grace_days = $8::int, credit_limit = $9::bigint, currency = $10,"
    "   short_policy = $11, changed_by = $12, why = $13, changed_at = now()"
    "   WHERE client_id = $1::bigint RETURNING to_jsonb(terms) - 'changed_at' AS j)"
    " INSERT INTO terms_history (client_id, changed_by, why, before, after)"
    " SELECT $1::bigint, $12, $13, old.j, upd.j FROM old, upd",
    13};
const kt_stmt_t clients_sql_check_latest = {
    "clients_check_latest",
    "SELECT id, client_id, checked_on::text, checked_by, sources, score, grade,"
    " recommended_limit, currency, note, " S_MS(
        "created_at") " FROM credit_checks WHERE client_id = $1::bigint ORDER BY checked_on DESC, "
                      "id DESC LIMIT 1",
    1};
const kt_stmt_t clients_sql_check_insert = {
    "clients_check_insert",
    "INSERT INTO credit_checks (client_id, checked_on, checked_by, sources, score, grade,"
    "   recommended_limit, currency, note)"
    " VALUES ($1::bigint, $2::date, $3, $4, $5::int, $6, $7::bigint, $8, $9)"
    " RETURNING id, client_id, checked_on::text, checked_by, sources, score, grade,"
    "   recommended_limit, currency, note, " S_MS("created_at"),
    9};

//  ---------------------------------------------------------------- the view

#define S_COMPLAINT_COLUMNS                                                                        \
    "id, client_id, coalesce(order_id, 0), coalesce(shipment_id, 0), category, description,"       \
    " status, resolution, opened_by, " S_MS("opened_at") ", coalesce(" S_MS(                       \
        "resolved_at") ", 0), coalesce(extract(epoch FROM resolved_at - opened_at)::bigint, 0)"
const kt_stmt_t clients_sql_complaints_open = {
    "clients_complaints_open",
    "SELECT " S_COMPLAINT_COLUMNS " FROM complaints"
    " WHERE client_id = $1::bigint AND status IN ('open', 'in_progress') ORDER BY id",
    1};
const kt_stmt_t clients_sql_orders_last = {
    "clients_orders_last",
    "SELECT order_id, total, currency, " S_MS(
        "confirmed_at") ", manager_id FROM order_facts"
                        " WHERE client_id = $1::bigint ORDER BY confirmed_at DESC, order_id DESC "
                        "LIMIT 10",
    1};
const kt_stmt_t clients_sql_balances_get = {
    "clients_balances_get",
    "SELECT currency, invoiced, paid, coalesce(" S_MS(
        "last_invoice_at") ", 0),"
                           " coalesce(" S_MS(
                               "last_payment_at") ", 0) FROM balances"
                                                  " WHERE client_id = $1::bigint ORDER BY currency",
    1};

//  ---------------------------------------------------------------- search

//  One statement for every combination of filters: each filter is skipped
//  when its parameter is NULL. Workers plan it per call (plan_cache_mode is
//  force_custom_plan, clients_server.c), so the planner sees the values, folds
//  the unused filters and prefix_query() away, and picks the index that fits.
//  With a fragment, the order is by an expression (name || ''), so that the
//  plan finds the matches through the word and code indexes and sorts them,
//  instead of walking the name index hoping to meet 50 matches soon (the
//  estimates of prefix matches are poor; a rare fragment would read it all).
//  Without one, a filter's index gives the order (manager, name, id).
//  $1 the fragment, $2 the same with LIKE metacharacters escaped, $11 true
//  when the fragment holds punctuation, which must then appear literally.
const kt_stmt_t clients_sql_search = {
    "clients_search",
    "SELECT c.id, c.code, c.name, c.tax_id, c.status, c.key_account, c.manager_id,"
    "       c.territory_id"
    "  FROM clients c"
    " WHERE ($1::text IS NULL"
    "        OR CASE WHEN prefix_query($1::text) IS NOT NULL"
    "                THEN c.search_tsv @@ prefix_query($1::text)"
    "                     AND (NOT $11::boolean OR fold(c.name) LIKE '%' || fold($2::text) || '%')"
    "                ELSE fold(c.name) LIKE '%' || fold($2::text) || '%' END"
    "        OR c.code LIKE upper($2::text) || '%')"
    "   AND ($3::text IS NULL OR c.tax_id = $3::text)"
    "   AND ($4::bigint IS NULL OR c.manager_id = $4::bigint)"
    "   AND ($5::bigint IS NULL OR c.territory_id = $5::bigint)"
    "   AND ($6::text IS NULL OR c.status = $6::text)"
    "   AND ($7::boolean IS NULL OR c.key_account = $7::boolean)"
    "   AND ($8::text IS NULL OR (c.name, c.id) > ($8::text, $9::bigint))"
    " ORDER BY CASE WHEN $1::text IS NULL THEN c.name ELSE c.name || '' END, c.id"
    " LIMIT $10::int",
    11};
const kt_stmt_t clients_sql_client_name = {"clients_client_name",
                                           "SELECT name FROM clients WHERE id = $1::bigint", 1};
const kt_stmt_t clients_sql_client_name_manager = {
    "clients_client_name_manager", "SELECT name, manager_id FROM clients WHERE id = $1::bigint",
    1};

//  ---------------------------------------------------------------- activities

#define S_ACTIVITY_COLUMNS                                                                         \
    "id, manager_id, coalesce(client_id, 0), kind, to_char(at, 'YYYY-MM-DD\"T\"HH24:MI'),"         \
    " subject, status, outcome, coalesce(" S_MS("completed_at") ", 0)"
const kt_stmt_t clients_sql_activity_insert = {
    "clients_activity_insert",
    "INSERT INTO activities (manager_id, client_id, kind, at, subject)"
    " VALUES ($1::bigint, $2::bigint, $3, $4::timestamp, $5) RETURNING " S_ACTIVITY_COLUMNS,
    5};
const kt_stmt_t clients_sql_activity_lock = {
    "clients_activity_lock",
    "SELECT manager_id, status FROM activities WHERE id = $1::bigint FOR UPDATE", 1};
const kt_stmt_t clients_sql_activity_complete = {
    "clients_activity_complete",
    "UPDATE activities SET status = $2, outcome = $3, completed_at = now()"
    " WHERE id = $1::bigint AND status = 'planned' RETURNING " S_ACTIVITY_COLUMNS,
    3};
const kt_stmt_t clients_sql_week_planned = {
    "clients_week_planned",
    "SELECT " S_ACTIVITY_COLUMNS " FROM activities"
    " WHERE manager_id = $1::bigint AND at >= $2::date AND at < $2::date + 7"
    " ORDER BY at, id",
    2};
const kt_stmt_t clients_sql_overdue = {
    "clients_overdue",
    "SELECT " S_ACTIVITY_COLUMNS " FROM activities"
    " WHERE manager_id = $1::bigint AND status = 'planned' AND at < localtimestamp"
    " ORDER BY at, id LIMIT 200",
    1};
//  Birthdays of the manager's clients' contacts and the clients' own
//  holidays falling on a day of the week (29 February only in leap years).
const kt_stmt_t clients_sql_greetings = {
    "clients_greetings",
    "WITH days AS (SELECT d::date AS d FROM generate_series($2::date, $2::date + 6,"
    "                                                       interval '1 day') d)"
    " SELECT c.id, ct.id, ct.name, days.d::text, true"
    "   FROM clients c JOIN contacts ct ON ct.client_id = c.id JOIN days"
    "     ON extract(month FROM ct.birthday) = extract(month FROM days.d)"
    "    AND extract(day FROM ct.birthday) = extract(day FROM days.d)"
    "  WHERE c.manager_id = $1::bigint AND c.status <> 'archived'"
    " UNION ALL"
    " SELECT c.id, 0, h.name, days.d::text, false"
    "   FROM clients c JOIN client_holidays h ON h.client_id = c.id JOIN days"
    "     ON h.month = extract(month FROM days.d) AND h.day = extract(day FROM days.d)"
    "  WHERE c.manager_id = $1::bigint AND c.status <> 'archived'"
    " ORDER BY 4, 1, 2",
    2};
const kt_stmt_t clients_sql_day_counts = {
    "clients_day_counts",
    "SELECT d::date::text,"
    "       count(a.id) FILTER (WHERE a.kind = 'call'),"
    "       count(a.id) FILTER (WHERE a.kind = 'visit'),"
    "       count(a.id) FILTER (WHERE a.kind = 'meeting'),"
    "       count(a.id) FILTER (WHERE a.kind = 'offer')"
    "  FROM generate_series($2::date, $2::date + 6, interval '1 day') d"
    "  LEFT JOIN activities a ON a.manager_id = $1::bigint AND a.status = 'done'"
    "       AND a.at >= d AND a.at < d + interval '1 day'"
    " GROUP BY d ORDER BY d",
    2};

//  ---------------------------------------------------------------- complaints

const kt_stmt_t clients_sql_complaint_insert = {
    "clients_complaint_insert",
    "INSERT INTO complaints (client_id, order_id, shipment_id, category, description, opened_by)"
    " VALUES ($1::bigint, $2::bigint, $3::bigint, $4, $5, $6) RETURNING " S_COMPLAINT_COLUMNS,
    6};
const kt_stmt_t clients_sql_complaint_lock = {
    "clients_complaint_lock",
    "SELECT k.status, c.manager_id FROM complaints k JOIN clients c ON c.id = k.client_id"
    " WHERE k.id = $1::bigint FOR UPDATE OF k",
    1};
//  Guarded: only from the status that was read under the lock.
const kt_stmt_t clients_sql_complaint_move = {
    "clients_complaint_move",
    "UPDATE complaints SET status = $3, resolution = $4,"
    "   resolved_at = CASE WHEN $3 IN ('resolved', 'rejected') THEN now() END"
    " WHERE id = $1::bigint AND status = $2 RETURNING " S_COMPLAINT_COLUMNS,
    4};

//  ---------------------------------------------------------------- plans

const kt_stmt_t clients_sql_plan_upsert = {
    "clients_plan_upsert",
    "INSERT INTO plans (manager_id, month, revenue, currency, active_clients, new_clients, set_by)"
    " VALUES ($1::bigint, $2::date, $3::bigint, $4, $5::int, $6::int, $7)"
    " ON CONFLICT (manager_id, month) DO UPDATE SET revenue = excluded.revenue,"
    "   currency = excluded.currency, active_clients = excluded.active_clients,"
    "   new_clients = excluded.new_clients, set_by = excluded.set_by, set_at = now()",
    7};
//  Plan against actual per manager: the manager asked for, or every manager
//  of the branch. Revenue counts orders in the plan's currency (EUR when
//  there is no plan); sums are numeric and read with kt_pg_i64_checked.
const kt_stmt_t clients_sql_plan_report = {
    "clients_plan_report",
    "SELECT m.id, p.manager_id IS NOT NULL, coalesce(p.revenue, 0), coalesce(p.currency, 'EUR'),"
    "       coalesce(p.active_clients, 0), coalesce(p.new_clients, 0),"
    "       coalesce(sum(f.total) FILTER (WHERE f.currency = coalesce(p.currency, 'EUR')), 0),"
    "       count(DISTINCT f.client_id), count(f.order_id) FILTER (WHERE f.first_order),"
    "       count(f.order_id)"
    "  FROM managers m"
    "  LEFT JOIN plans p ON p.manager_id = m.id AND p.month = $3::date"
    "  LEFT JOIN order_facts f ON f.manager_id = m.id AND f.confirmed_at >= $3::date"
    "       AND f.confirmed_at < ($3::date + interval '1 month')"
    " WHERE m.id = $1::bigint OR m.branch_id = $2::bigint"
    " GROUP BY m.id, p.manager_id, p.revenue, p.currency, p.active_clients, p.new_clients"
    " ORDER BY m.id",
    3};
//  Distinct active clients over the same managers (a client two managers
//  sold to counts once in the total).
const kt_stmt_t clients_sql_plan_total_clients = {
    "clients_plan_total_clients",
    "SELECT count(DISTINCT f.client_id) FROM order_facts f JOIN managers m ON m.id = f.manager_id"
    " WHERE (m.id = $1::bigint OR m.branch_id = $2::bigint)"
    "   AND f.confirmed_at >= $3::date AND f.confirmed_at < ($3::date + interval '1 month')",
    3};

//  ---------------------------------------------------------------- events kept

//  One row per order: a duplicated or replayed event inserts nothing.
const kt_stmt_t clients_sql_fact_insert = {
    "clients_fact_insert",
    "INSERT INTO order_facts (order_id, client_id, manager_id, branch_id, currency, total,"
    "   confirmed_at, first_order, seq)"
    " VALUES ($1::bigint, $2::bigint,"
    "   coalesce(nullif($3::bigint, 0), (SELECT manager_id FROM clients WHERE id = $2::bigint), 0),"
    "   $4::bigint, $5, $6::bigint, to_timestamp($7::bigint / 1000.0),"
    "   NOT EXISTS (SELECT 1 FROM order_facts WHERE client_id = $2::bigint), $8::bigint)"
    " ON CONFLICT (order_id) DO NOTHING RETURNING first_order",
    8};
//  Where a first order takes a prospect: the territory's lead manager, else
//  the first active lead manager of its branch, else whoever has it now.
const kt_stmt_t clients_sql_first_order_target = {
    "clients_first_order_target",
    "SELECT c.status, c.manager_id,"
    "       coalesce(t.lead_manager_id,"
    "                (SELECT m.id FROM managers m WHERE m.branch_id = c.branch_id"
    "                    AND m.role = 'lead_manager' AND m.active ORDER BY m.id LIMIT 1),"
    "                c.manager_id)"
    "  FROM clients c JOIN territories t ON t.id = c.territory_id"
    " WHERE c.id = $1::bigint FOR UPDATE OF c",
    1};
const kt_stmt_t clients_sql_client_activate = {
    "clients_client_activate",
    "UPDATE clients SET status = 'active', manager_id = $2::bigint, version = version + 1,"
    "   changed_at = now() WHERE id = $1::bigint AND status = 'prospect'"
    " RETURNING " S_CHANGED_COLUMNS,
    2};
const kt_stmt_t clients_sql_doc_insert = {
    "clients_doc_insert",
    "INSERT INTO receivable_docs (kind, doc_id, client_id, amount, currency)"
    " VALUES ($1, $2::bigint, $3::bigint, $4::bigint, $5) ON CONFLICT DO NOTHING RETURNING 1",
    5};
const kt_stmt_t clients_sql_balance_invoiced = {
    "clients_balance_invoiced",
    "INSERT INTO balances (client_id, currency, invoiced, last_invoice_at)"
    " VALUES ($1::bigint, $2, $3::bigint, to_timestamp($4::bigint / 1000.0))"
    " ON CONFLICT (client_id, currency) DO UPDATE SET invoiced = balances.invoiced + "
    "excluded.invoiced,"
    "   last_invoice_at = greatest(balances.last_invoice_at, excluded.last_invoice_at)",
    4};
const kt_stmt_t clients_sql_balance_paid = {
    "clients_balance_paid",
    "INSERT INTO balances (client_id, currency, paid, last_payment_at)"
    " VALUES ($1::bigint, $2, $3::bigint, to_timestamp($4::bigint / 1000.0))"
    " ON CONFLICT (client_id, currency) DO UPDATE SET paid = balances.paid + excluded.paid,"
    "   last_payment_at = greatest(balances.last_payment_at, excluded.last_payment_at)",
    4};

const kt_stmt_t clients_sql_today = {"clients_today", "SELECT current_date - date '1970-01-01'", 0};

//  ---------------------------------------------------------------- ImportClients
//
//  A batch goes in as columns: each $n is one array literal with an element
//  per client (or per contact, holiday, credit check), unnested into one
//  multi-row INSERT, so a thousand clients cost a dozen statements.

//  The idempotency key: claimed by the first import that names it; the
//  request hash (hex) tells a replay from a different batch under one key.
const kt_stmt_t clients_sql_import_claim = {
    "clients_import_claim",
    "INSERT INTO imports (key, request, by) VALUES ($1, decode($2, 'hex'), $3)"
    " ON CONFLICT (key) DO NOTHING RETURNING 1",
    3};
const kt_stmt_t clients_sql_import_read = {
    "clients_import_read",
    "SELECT request = decode($2, 'hex'), reply FROM imports WHERE key = $1", 2};
const kt_stmt_t clients_sql_import_store = {
    "clients_import_store",
    "UPDATE imports SET reply = decode($2, 'hex'), clients = $3::int WHERE key = $1", 3};
const kt_stmt_t clients_sql_import_prune = {
    "clients_import_prune", "DELETE FROM imports WHERE created_at < now() - interval '7 days'", 0};
//  The first client (0-based) whose manager does not exist or left, and
//  whether it exists.
const kt_stmt_t clients_sql_import_managers = {
    "clients_import_managers",
    "SELECT u.i - 1, m.id IS NOT NULL FROM unnest($1::bigint[]) WITH ORDINALITY AS u(id, i)"
    "  LEFT JOIN managers m ON m.id = u.id"
    " WHERE m.id IS NULL OR NOT m.active ORDER BY u.i LIMIT 1",
    1};
//  Each client's territory's branch, in the batch's order (NULL: no such
//  territory).
const kt_stmt_t clients_sql_import_territories = {
    "clients_import_territories",
    "SELECT u.i - 1, t.branch_id FROM unnest($1::bigint[]) WITH ORDINALITY AS u(id, i)"
    "  LEFT JOIN territories t ON t.id = u.id ORDER BY u.i",
    1};
//  The first client of the batch whose tax id ($1) or code ($2, "" for
//  none) another client has already: index, that client's id and name, and
//  which of the two it is.
const kt_stmt_t clients_sql_import_taken = {
    "clients_import_taken",
    "SELECT i, id, name, what FROM ("
    "  SELECT u.i - 1 AS i, c.id, c.name, 'tax_id' AS what"
    "    FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) JOIN clients c ON c.tax_id = u.v"
    "  UNION ALL"
    "  SELECT u.i - 1, c.id, c.name, 'code'"
    "    FROM unnest($2::text[]) WITH ORDINALITY AS u(v, i) JOIN clients c ON c.code = u.v"
    "   WHERE u.v <> '') x"
    " ORDER BY i, what DESC LIMIT 1",
    2};
const kt_stmt_t clients_sql_import_ids = {
    "clients_import_ids", "SELECT nextval('clients_id_seq') FROM generate_series(1, $1::int)", 1};
const kt_stmt_t clients_sql_import_clients = {
    "clients_import_clients",
    "INSERT INTO clients (id, code, name, tax_id, legal_address, delivery_address, segment,"
    "   status, key_account, branch_id, territory_id, manager_id, found_by_manager_id)"
    " SELECT u.id, coalesce(nullif(u.code, ''), 'C' || lpad(u.id::text, 6, '0')), u.name,"
    "   u.tax_id, u.legal, u.delivery, u.segment, u.status, u.key, u.branch, u.territory,"
    "   u.manager, u.manager"
    "  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
    "              $7::text[], $8::text[], $9::boolean[], $10::bigint[], $11::bigint[],"
    "              $12::bigint[])"
    "    AS u(id, code, name, tax_id, legal, delivery, segment, status, key, branch, territory,"
    "         manager)",
    12};
const kt_stmt_t clients_sql_import_terms = {
    "clients_import_terms",
    "INSERT INTO terms (client_id, contract_number, contract_date, contract_until, price_column,"
    "   discount_bp, payment_days, grace_days, credit_limit, currency, short_policy,"
    "   changed_by, why)"
    " SELECT u.id, u.num, u.d1, u.d2, u.col, u.bp, u.pay, u.grace, u.lim, u.cur, u.policy,"
    "   $12, u.why"
    "  FROM unnest($1::bigint[], $2::text[], $3::date[], $4::date[], $5::text[], $6::int[],"
    "              $7::int[], $8::int[], $9::bigint[], $10::text[], $11::text[], $13::text[])"
    "    AS u(id, num, d1, d2, col, bp, pay, grace, lim, cur, policy, why)",
    13};
const kt_stmt_t clients_sql_import_assignments = {
    "clients_import_assignments",
    "INSERT INTO assignments (client_id, to_manager_id, by, why)"
    " SELECT u.id, u.m, $3, 'imported' FROM unnest($1::bigint[], $2::bigint[]) AS u(id, m)",
    3};
const kt_stmt_t clients_sql_import_holidays = {
    "clients_import_holidays",
    "INSERT INTO client_holidays (client_id, name, month, day)"
    " SELECT u.id, u.name, u.m, u.d"
    "  FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[]) AS u(id, name, m, d)"
    " ON CONFLICT DO NOTHING",
    4};
//  Contacts get their ids in the batch's order.
const kt_stmt_t clients_sql_import_contacts = {
    "clients_import_contacts",
    "INSERT INTO contacts (client_id, name, position, phone, email, decision_maker, birthday)"
    " SELECT u.id, u.name, u.pos, u.phone, u.email, u.dm, u.bd"
    "  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],"
    "              $6::boolean[], $7::date[]) WITH ORDINALITY"
    "    AS u(id, name, pos, phone, email, dm, bd, i)"
    " ORDER BY u.i",
    7};
const kt_stmt_t clients_sql_import_checks = {
    "clients_import_checks",
    "INSERT INTO credit_checks (client_id, checked_on, checked_by, sources, score, grade,"
    "   recommended_limit, currency, note)"
    " SELECT u.id, u.d, $9, u.src, u.score, u.grade, u.rec, u.cur, u.note"
    "  FROM unnest($1::bigint[], $2::date[], $3::text[], $4::int[], $5::text[], $6::bigint[],"
    "              $7::text[], $8::text[]) AS u(id, d, src, score, grade, rec, cur, note)",
    9};
//  The batch's events, in the batch's order (the outbox's ids, which the
//  relay sequences by, follow the ORDER BY). The same rows kt_outbox_add
//  writes one at a time.
const kt_stmt_t clients_sql_import_outbox = {
    "clients_import_outbox",
    "INSERT INTO outbox (type, payload)"
    " SELECT u.t, u.p FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS u(t, p, i)"
    " ORDER BY u.i",
    2};

//  ---------------------------------------------------------------- ListComplaints

//  Every filter is skipped when its parameter is NULL; newest first, after
//  the id a previous page ended with. A manager's filter reaches the
//  complaints through their clients (clients_manager, complaints_client).
const kt_stmt_t clients_sql_complaints_list = {
    "clients_complaints_list",
    "SELECT " S_COMPLAINT_COLUMNS " FROM complaints"
    " WHERE ($1::bigint IS NULL OR client_id = $1::bigint)"
    "   AND ($2::bigint IS NULL"
    "        OR client_id IN (SELECT id FROM clients WHERE manager_id = $2::bigint))"
    "   AND ($3::text[] IS NULL OR status = ANY ($3::text[]))"
    "   AND ($4::date IS NULL OR opened_at >= $4::date)"
    "   AND ($5::date IS NULL OR opened_at < $5::date + 1)"
    "   AND ($6::bigint IS NULL OR id < $6::bigint)"
    " ORDER BY id DESC LIMIT $7::int",
    7};
