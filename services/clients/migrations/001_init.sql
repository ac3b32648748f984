-- 001_init: the clients schema's first migration.
-- The schema and its owner role (kontor_clients) are made by the local set or the
-- deployment; the service applies its own migrations at start, under an
-- advisory lock, each once (common/kt_pg.c).
COMMENT ON SCHEMA clients IS 'Kontor the client base: branches, territories, managers, clients, contacts, terms, credit checks, activities, complaints, plans';
