-- 002_ledger: credit reservations, invoices, payments and credit notes,
-- allocations, dunning, credit holds.
--
-- One row per client in `accounts` holds the client's terms (kept from the
-- clients service's events, or set by SetCreditTerms) and its running
-- totals. Every change of a client's money or exposure locks that row first
-- (SELECT ... FOR UPDATE), so the credit check and the reservation are one
-- decision, and the totals move in step with their detail rows. The CHECK
-- constraints are the last line of defence: no total goes negative, and
-- invoiced - paid - credited = open invoices - unapplied credit holds on
-- every row at every commit.
--
-- Money is bigint minor units with the account's currency; never floats.

CREATE TABLE accounts (
    client_id       bigint PRIMARY KEY CHECK (client_id > 0),
    currency        char(3) CHECK (currency ~ '^[A-Z]{3}$'),  -- NULL until terms are known
    has_terms       boolean NOT NULL DEFAULT false,
    credit_limit    bigint NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    payment_days    integer NOT NULL DEFAULT 0 CHECK (payment_days BETWEEN 0 AND 3650),
    grace_days      integer NOT NULL DEFAULT 0 CHECK (grace_days BETWEEN 0 AND 3650),
    client_status   smallint NOT NULL DEFAULT 0,              -- clients.ClientStatus
    manager_id      bigint NOT NULL DEFAULT 0 CHECK (manager_id >= 0),
    branch_id       bigint NOT NULL DEFAULT 0 CHECK (branch_id >= 0),
    terms_version   bigint NOT NULL DEFAULT 0,                -- last TermsChanged applied
    client_version  bigint NOT NULL DEFAULT 0,                -- last ClientChanged applied
    on_hold         boolean NOT NULL DEFAULT false,
    hold_as_of      date,                                     -- the dunning date that set the hold
    invoiced        bigint NOT NULL DEFAULT 0 CHECK (invoiced >= 0),
    paid            bigint NOT NULL DEFAULT 0 CHECK (paid >= 0),
    credited        bigint NOT NULL DEFAULT 0 CHECK (credited >= 0),
    open_amount     bigint NOT NULL DEFAULT 0 CHECK (open_amount >= 0),   -- sum of invoices' open
    unapplied       bigint NOT NULL DEFAULT 0 CHECK (unapplied >= 0),     -- sum of settlements' unapplied
    reserved        bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),      -- live reservations
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_money_conserved
        CHECK (invoiced - paid - credited = open_amount - unapplied)
);
CREATE INDEX accounts_manager ON accounts (manager_id);
CREATE INDEX accounts_on_hold ON accounts (client_id) WHERE on_hold;

-- Try-confirm-cancel: HELD (until expires_at) -> CONFIRMED -> INVOICED at
-- dispatch; or RELEASED, or EXPIRED. HELD and CONFIRMED count in
-- accounts.reserved.
CREATE TABLE credit_reservations (
    order_id        bigint PRIMARY KEY CHECK (order_id > 0),
    client_id       bigint NOT NULL REFERENCES accounts,
    amount          bigint NOT NULL CHECK (amount > 0),
    currency        char(3) NOT NULL,
    status          text NOT NULL CHECK (status IN
                        ('HELD', 'CONFIRMED', 'RELEASED', 'EXPIRED', 'INVOICED')),
    expires_at      timestamptz NOT NULL,
    approved_by     text NOT NULL DEFAULT '',                 -- head who approved going over
    manager_id      bigint NOT NULL DEFAULT 0,
    invoice_id      bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_reservations_live ON credit_reservations (client_id) WHERE status IN ('HELD', 'CONFIRMED');
CREATE INDEX credit_reservations_expiry ON credit_reservations (expires_at) WHERE status = 'HELD';

-- What happened to a client's credit, for CreditHistory: reservations and
-- their fate, refusals with their figures, holds, terms.
CREATE TABLE credit_events (
    id              bigserial PRIMARY KEY,
    client_id       bigint NOT NULL,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind            text NOT NULL,
    order_id        bigint NOT NULL DEFAULT 0,
    amount          bigint NOT NULL DEFAULT 0,
    exposure        bigint NOT NULL DEFAULT 0,
    credit_limit    bigint NOT NULL DEFAULT 0,
    by_whom         text NOT NULL DEFAULT '',
    detail          text NOT NULL DEFAULT ''
);
CREATE INDEX credit_events_client ON credit_events (client_id, id);

-- One invoice per dispatch (shipment_id unique). open_amount is kept
-- current by allocations; settled_on is the value date that closed it.
CREATE TABLE invoices (
    id              bigserial PRIMARY KEY,
    client_id       bigint NOT NULL REFERENCES accounts,
    order_id        bigint NOT NULL CHECK (order_id > 0),
    shipment_id     bigint NOT NULL UNIQUE CHECK (shipment_id > 0),
    currency        char(3) NOT NULL,
    amount          bigint NOT NULL CHECK (amount >= 0),
    open_amount     bigint NOT NULL CHECK (open_amount >= 0 AND open_amount <= amount),
    issued_on       date NOT NULL,
    due_on          date NOT NULL CHECK (due_on >= issued_on),
    settled_on      date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((open_amount = 0) = (settled_on IS NOT NULL))
);
CREATE INDEX invoices_client_due ON invoices (client_id, due_on);
CREATE INDEX invoices_client_issued ON invoices (client_id, issued_on);
CREATE INDEX invoices_order ON invoices (order_id);
CREATE INDEX invoices_client_settled ON invoices (client_id, settled_on);
-- The open items: by due date (dunning, aging in the past), and per client
-- (allocation oldest due first, holds).
CREATE INDEX invoices_open_due ON invoices (due_on, id) INCLUDE (client_id, open_amount)
    WHERE open_amount > 0;
CREATE INDEX invoices_client_open ON invoices (client_id, due_on, id) WHERE open_amount > 0;

CREATE TABLE invoice_lines (
    invoice_id      bigint NOT NULL REFERENCES invoices,
    n               integer NOT NULL,
    sku             bigint NOT NULL CHECK (sku > 0),
    qty             bigint NOT NULL CHECK (qty > 0),
    unit_price      bigint NOT NULL CHECK (unit_price >= 0),
    line_total      bigint NOT NULL CHECK (line_total >= 0),
    PRIMARY KEY (invoice_id, n)
);

-- Money that reduces what a client owes: payments (idempotent by
-- reference) and credit notes (one per return or discrepancy act). What is
-- not allocated to invoices is unapplied credit, used by the next invoice.
CREATE TABLE settlements (
    id              bigserial PRIMARY KEY,
    client_id       bigint NOT NULL REFERENCES accounts,
    kind            text NOT NULL CHECK (kind IN ('payment', 'credit_note')),
    currency        char(3) NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    unapplied       bigint NOT NULL CHECK (unapplied >= 0 AND unapplied <= amount),
    on_date         date NOT NULL,                            -- value date
    reference       text,                                     -- payments: the bank reference
    source          text,                                     -- credit notes: 'return', 'discrepancy'
    source_id       bigint,
    order_id        bigint NOT NULL DEFAULT 0,
    recorded_by     text NOT NULL DEFAULT '',
    reversed_on     date,                                     -- payments reversed (bounced)
    reversed_reason text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'payment' OR reference IS NOT NULL),
    CHECK (kind <> 'credit_note' OR (source IS NOT NULL AND source_id IS NOT NULL)),
    CHECK (reversed_on IS NULL OR unapplied = 0)
);
CREATE UNIQUE INDEX settlements_reference ON settlements (reference) WHERE kind = 'payment';
CREATE UNIQUE INDEX settlements_source ON settlements (source, source_id) WHERE kind = 'credit_note';
CREATE INDEX settlements_client_date ON settlements (client_id, on_date);
CREATE INDEX settlements_unapplied ON settlements (client_id, on_date, id) WHERE unapplied > 0;

CREATE TABLE allocations (
    id              bigserial PRIMARY KEY,
    settlement_id   bigint NOT NULL REFERENCES settlements,
    invoice_id      bigint NOT NULL REFERENCES invoices,
    client_id       bigint NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    effective_on    date NOT NULL,
    reversed_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX allocations_settlement ON allocations (settlement_id);
CREATE INDEX allocations_invoice ON allocations (invoice_id);

-- Open amounts per client and due date, kept by a trigger on invoices:
-- today's aging reads this (one row per client and due day with money
-- open) instead of the invoices.
CREATE TABLE open_by_due (
    client_id       bigint NOT NULL,
    due_on          date NOT NULL,
    open_amount     bigint NOT NULL CHECK (open_amount >= 0),
    open_count      integer NOT NULL CHECK (open_count >= 0),
    PRIMARY KEY (client_id, due_on)
);

CREATE FUNCTION open_by_due_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO open_by_due AS o (client_id, due_on, open_amount, open_count)
        SELECT client_id, due_on, sum(open_amount), count(*) FILTER (WHERE open_amount > 0)
          FROM new_rows WHERE open_amount > 0 GROUP BY client_id, due_on
          ORDER BY client_id, due_on
        ON CONFLICT (client_id, due_on) DO UPDATE
           SET open_amount = o.open_amount + excluded.open_amount,
               open_count = o.open_count + excluded.open_count;
    ELSE
        -- Deltas per (client, due day). Existing rows are updated in place
        -- (an INSERT ... ON CONFLICT would check its negative proposed row
        -- against the CHECKs before finding the conflict); days that had
        -- nothing open get a row; emptied rows go.
        WITH d AS (
            SELECT client_id, due_on, sum(amt) AS amt, sum(cnt) AS cnt FROM (
                SELECT client_id, due_on, open_amount AS amt,
                       CASE WHEN open_amount > 0 THEN 1 ELSE 0 END AS cnt FROM new_rows
                UNION ALL
                SELECT client_id, due_on, -open_amount,
                       CASE WHEN open_amount > 0 THEN -1 ELSE 0 END FROM old_rows) x
            GROUP BY client_id, due_on
            HAVING sum(amt) <> 0 OR sum(cnt) <> 0),
        u AS (
            UPDATE open_by_due o SET open_amount = o.open_amount + d.amt,
                                     open_count = o.open_count + d.cnt
              FROM d WHERE o.client_id = d.client_id AND o.due_on = d.due_on
            RETURNING o.client_id, o.due_on)
        INSERT INTO open_by_due (client_id, due_on, open_amount, open_count)
        SELECT d.client_id, d.due_on, d.amt, d.cnt FROM d
         WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.client_id = d.client_id
                                             AND u.due_on = d.due_on)
         ORDER BY d.client_id, d.due_on;
        DELETE FROM open_by_due o USING (SELECT DISTINCT client_id, due_on FROM new_rows) c
         WHERE o.client_id = c.client_id AND o.due_on = c.due_on AND o.open_count = 0
           AND o.open_amount = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER invoices_open_insert AFTER INSERT ON invoices
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION open_by_due_apply();
CREATE TRIGGER invoices_open_update AFTER UPDATE ON invoices
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION open_by_due_apply();

-- Dunning: each notice once per invoice and level (0: reminder before due;
-- 1, 2, 3...: escalating after due).
CREATE TABLE dunning_notices (
    id              bigserial PRIMARY KEY,
    invoice_id      bigint NOT NULL REFERENCES invoices,
    client_id       bigint NOT NULL,
    manager_id      bigint NOT NULL,
    level           smallint NOT NULL CHECK (level >= 0),
    as_of           date NOT NULL,
    due_on          date NOT NULL,
    amount          bigint NOT NULL CHECK (amount >= 0),
    currency        char(3) NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (invoice_id, level)
);
CREATE INDEX dunning_notices_manager ON dunning_notices (manager_id, id);

CREATE TABLE dunning_runs (
    id              bigserial PRIMARY KEY,
    as_of           date NOT NULL,
    by_whom         text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    notices         integer NOT NULL DEFAULT 0,
    holds_on        integer NOT NULL DEFAULT 0,
    holds_off       integer NOT NULL DEFAULT 0
);
CREATE INDEX dunning_runs_as_of ON dunning_runs (as_of);
