-- 003_sweeper_index: the sweeper's safety-net confirmation looks for
-- CONFIRMED orders not seen confirmed by receivables and logistics that
-- were confirmed more than confirm_after_s ago. Every order is in that
-- set for its first seconds, so an index on order_id made each look read
-- all of them and drop the young ones; on confirmed_at it reads only
-- those old enough, oldest first.
DROP INDEX orders_unconfirmed;
CREATE INDEX orders_unconfirmed ON orders (confirmed_at, order_id)
    WHERE status = 2 AND NOT (credit_confirmed AND stock_confirmed);
