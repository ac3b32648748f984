-- 001_init: the logistics schema's first migration.
-- The schema and its owner role (kontor_logistics) are made by the local set or the
-- deployment; the service applies its own migrations at start, under an
-- advisory lock, each once (common/kt_pg.c).
COMMENT ON SCHEMA logistics IS 'Kontor goods: warehouses, products, stock, reservations, arrivals, shipments, discrepancies, transfers';
