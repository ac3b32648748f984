-- 004_reservations_confirmed: the keeper counts the reservations held and
-- confirmed now for /metrics (logistics_reservations{state=...}) every few
-- seconds. Held ones are counted from reservations_held_expiry; this
-- partial index does the same for confirmed ones, so the count reads the
-- reservations live now and not every order's row ever written.
CREATE INDEX reservations_confirmed ON reservations (order_id) WHERE status = 'confirmed';
