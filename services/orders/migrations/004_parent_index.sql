-- 004_parent_index: every order read (GetOrder, ListOrders, the replies of
-- PlaceOrder's replays) names its back-order, the child whose parent_id is
-- the order. Without an index on parent_id that look walked the primary
-- key from the start for every order without a child (the usual case),
-- so it grew with the table: in the benchmark's mixed workload at 8
-- terminals a ListOrders of ten orders took 199 ms and a GetOrder 32 ms,
-- with about 60,000 orders (docs/performance.md). Few orders have a
-- parent, so the index holds only those.
CREATE INDEX orders_parent ON orders (parent_id) WHERE parent_id IS NOT NULL;
