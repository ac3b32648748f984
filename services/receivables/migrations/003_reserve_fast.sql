-- 003_reserve_fast: ReserveCredit's common case in one round trip.
--
-- reserve_credit_fast does what receivables_credit.c's transaction does
-- when the reservation goes through, in the same order and under the same
-- lock, as one statement that is its own transaction:
--   1. lock the client's account row (FOR UPDATE);
--   2. expire the client's holds whose time ran out (as
--      rcv_q_resv_expire_client and rcv_account_move do);
--   3. reserve if this is a new order id of a client with terms, in the
--      account's currency, and either approved or (not blocked, not on
--      hold, and exposure + amount within the limit);
--   4. raise the account's reserved amount and write 'reserved' to the
--      credit history, with the exposure before the order and the limit.
-- Anything else (no account or terms, a replay of the order id, another
-- currency, a refusal, an amount that would overflow) comes back as
-- 'slow', having changed nothing but step 2, and the C code then runs its
-- full transaction, which decides and words the answer exactly as before.
-- So the outcome of every request is what it was; only the common case is
-- cheaper (one round trip and one commit instead of ten round trips).
--
-- Returns one row: outcome ('reserved' or 'slow'), the hold's expiry in ms,
-- the limit, the exposure before the order, the account's currency.
CREATE FUNCTION reserve_credit_fast(p_order bigint, p_client bigint, p_amount bigint,
                                    p_currency text, p_hold_s int, p_approved text,
                                    p_manager bigint, p_by text,
                                    OUT outcome text, OUT expires_ms bigint,
                                    OUT credit_limit bigint, OUT exposure bigint,
                                    OUT currency text)
LANGUAGE plpgsql AS $$
DECLARE
    a accounts%ROWTYPE;
    v_expired bigint;
    v_expires timestamptz;
BEGIN
    outcome := 'slow';
    SELECT * INTO a FROM accounts WHERE client_id = p_client FOR UPDATE;
    IF NOT FOUND OR NOT a.has_terms THEN
        RETURN;
    END IF;
    credit_limit := a.credit_limit;
    currency := a.currency;
    -- 2. holds that ran out
    WITH e AS (UPDATE credit_reservations SET status = 'EXPIRED', updated_at = now()
                WHERE client_id = p_client AND status = 'HELD' AND expires_at <= now()
            RETURNING order_id, client_id, amount),
         h AS (INSERT INTO credit_events (client_id, kind, order_id, amount, by_whom, detail)
               SELECT client_id, 'expired', order_id, amount, 'receivables',
                      'not confirmed in time' FROM e)
    SELECT coalesce(sum(amount), 0) INTO v_expired FROM e;
    IF v_expired > 0 THEN
        UPDATE accounts SET reserved = reserved - v_expired, updated_at = now()
         WHERE client_id = p_client;
        a.reserved := a.reserved - v_expired;
    END IF;
    -- 3. the cases the C code words itself
    IF EXISTS (SELECT 1 FROM credit_reservations WHERE order_id = p_order)
       OR a.currency IS DISTINCT FROM p_currency THEN
        RETURN;
    END IF;
    IF (a.open_amount::numeric - a.unapplied + a.reserved + p_amount) > 9223372036854775807
       OR (a.open_amount::numeric - a.unapplied + a.reserved) < -9223372036854775808 THEN
        RETURN;
    END IF;
    exposure := a.open_amount - a.unapplied + a.reserved;
    IF p_approved = '' AND (a.client_status = 3 OR a.on_hold
                            OR exposure::numeric + p_amount > a.credit_limit) THEN
        RETURN;
    END IF;
    INSERT INTO credit_reservations (order_id, client_id, amount, currency, status, expires_at,
                                     approved_by, manager_id)
    VALUES (p_order, p_client, p_amount, p_currency, 'HELD',
            now() + make_interval(secs => p_hold_s), p_approved, p_manager)
    ON CONFLICT (order_id) DO NOTHING
    RETURNING expires_at INTO v_expires;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- 4.
    UPDATE accounts SET reserved = reserved + p_amount, updated_at = now()
     WHERE client_id = p_client;
    INSERT INTO credit_events (client_id, kind, order_id, amount, exposure, credit_limit,
                               by_whom, detail)
    VALUES (p_client, 'reserved', p_order, p_amount, exposure, a.credit_limit, p_by,
            CASE WHEN p_approved <> '' THEN 'approved by ' || p_approved ELSE '' END);
    expires_ms := (extract(epoch FROM v_expires) * 1000)::bigint;
    outcome := 'reserved';
END
$$;

-- OrderConfirmed's common case in one statement: the order's reservation
-- is HELD, and becomes CONFIRMED under the account's lock, with its
-- 'confirmed' row in the credit history, as rcv_credit_on_order does.
-- 'none' when the order has no reservation (nothing to do, as there);
-- 'slow' for any other status (EXPIRED revives, the rest stays), which
-- the C code then handles as before, having changed nothing.
CREATE FUNCTION credit_confirm_fast(p_order bigint, p_by text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_client bigint;
    v_limit bigint;
    v_amount bigint;
BEGIN
    SELECT client_id INTO v_client FROM credit_reservations WHERE order_id = p_order;
    IF NOT FOUND THEN
        RETURN 'none';
    END IF;
    SELECT credit_limit INTO v_limit FROM accounts WHERE client_id = v_client FOR UPDATE;
    UPDATE credit_reservations SET status = 'CONFIRMED', updated_at = now()
     WHERE order_id = p_order AND status = 'HELD'
    RETURNING amount INTO v_amount;
    IF NOT FOUND THEN
        RETURN 'slow';
    END IF;
    INSERT INTO credit_events (client_id, kind, order_id, amount, exposure, credit_limit,
                               by_whom, detail)
    VALUES (v_client, 'confirmed', p_order, v_amount, 0, coalesce(v_limit, 0), p_by,
            'order confirmed');
    RETURN 'confirmed';
END
$$;
