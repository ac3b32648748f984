-- 001_init: the receivables schema's first migration.
-- The schema and its owner role (kontor_receivables) are made by the local set or the
-- deployment; the service applies its own migrations at start, under an
-- advisory lock, each once (common/kt_pg.c).
COMMENT ON SCHEMA receivables IS 'Kontor money owed: credit reservations, invoices, payments, allocations, credit notes, dunning, credit holds';
