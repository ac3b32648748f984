-- 001_init: the orders schema's first migration.
-- The schema and its owner role (kontor_orders) are made by the local set or the
-- deployment; the service applies its own migrations at start, under an
-- advisory lock, each once (common/kt_pg.c).
COMMENT ON SCHEMA orders IS 'Kontor orders: price lists, promotions, discount authority, orders and lines, back-orders, returns, sales history';
