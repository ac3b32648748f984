-- 002_stock: warehouses, products, stock, reservations, arrivals, shipments,
-- discrepancy acts, transfers. Constraints here are the last line of
-- defence; the handlers check the same things first to give a clear reply.

CREATE TABLE warehouses (
    warehouse_id bigserial PRIMARY KEY,
    code text NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('central', 'branch')),
    branch_id bigint NOT NULL CHECK (branch_id > 0),
    address text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    sku bigint PRIMARY KEY CHECK (sku > 0),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    unit text NOT NULL CHECK (length(unit) BETWEEN 1 AND 16),
    weight_g bigint NOT NULL CHECK (weight_g >= 0),
    storage text NOT NULL DEFAULT '',
    transport text NOT NULL DEFAULT '',
    analog_group text CHECK (analog_group IS NULL OR length(analog_group) BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_analog_group ON products (analog_group) WHERE analog_group IS NOT NULL;

-- Every change of a stock row takes a new number from this sequence: the
-- Redis cache keeps it beside each value and never lets an older value
-- overwrite a newer one (logistics_cache.c). Row locks order the numbers of
-- one row as its commits are ordered. It starts at the creation time in
-- microseconds, so that a database made later (a new set, a fresh install
-- next to a Redis that kept an older one's keys) numbers above anything
-- the older one could have written. Numbers stay below 2^53, which the
-- cache's Lua compares exactly.
CREATE SEQUENCE stock_version;
SELECT setval('stock_version', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);

CREATE TABLE stock (
    warehouse_id bigint NOT NULL REFERENCES warehouses,
    sku bigint NOT NULL REFERENCES products,
    on_hand bigint NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    version bigint NOT NULL DEFAULT nextval('stock_version'),
    -- the transaction that last changed the row: the cache keeper pushes rows
    -- changed by transactions it has not seen yet (logistics_cache.c)
    changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (warehouse_id, sku),
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved <= on_hand)
);
CREATE INDEX stock_sku ON stock (sku);
CREATE INDEX stock_changed_xid ON stock (changed_xid);

-- The journal of on-hand changes: on_hand = sum(delta) per warehouse and SKU.
CREATE TABLE stock_moves (
    move_id bigserial PRIMARY KEY,
    warehouse_id bigint NOT NULL,
    sku bigint NOT NULL,
    delta bigint NOT NULL CHECK (delta <> 0),
    kind text NOT NULL CHECK (kind IN ('receive', 'adjust', 'dispatch', 'discrepancy',
                                       'transfer_out', 'transfer_in')),
    ref text NOT NULL DEFAULT '',
    note text NOT NULL DEFAULT '',
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_moves_item ON stock_moves (warehouse_id, sku);

-- One reservation per order (the idempotency key of ReserveStock). A
-- Release for an order with no reservation leaves a 'released' row with no
-- lines, so a ReserveStock that arrives late cannot hold stock for it.
CREATE TABLE reservations (
    order_id bigint PRIMARY KEY CHECK (order_id > 0),
    warehouse_id bigint,
    status text NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired',
                                           'consumed')),
    fingerprint text NOT NULL,
    expires_at timestamptz,
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'held' OR expires_at IS NOT NULL)
);
CREATE INDEX reservations_held_expiry ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE reservation_lines (
    order_id bigint NOT NULL,
    sku bigint NOT NULL,
    qty bigint NOT NULL CHECK (qty > 0),
    PRIMARY KEY (order_id, sku)
);

CREATE TABLE arrivals (
    arrival_id bigserial PRIMARY KEY,
    warehouse_id bigint NOT NULL REFERENCES warehouses,
    sku bigint NOT NULL REFERENCES products,
    qty bigint NOT NULL CHECK (qty > 0),
    expected_on date NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'received')),
    note text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX arrivals_open ON arrivals (sku, expected_on) WHERE status = 'open';

CREATE TABLE shipments (
    shipment_id bigserial PRIMARY KEY,
    order_id bigint NOT NULL UNIQUE CHECK (order_id > 0),
    client_id bigint NOT NULL,
    manager_id bigint NOT NULL,
    warehouse_id bigint NOT NULL,
    delivery_date text NOT NULL DEFAULT '',
    delivery_method integer NOT NULL DEFAULT 0,
    address text NOT NULL DEFAULT '',
    currency text NOT NULL DEFAULT '',
    status text NOT NULL CHECK (status IN ('requested', 'picking', 'dispatched', 'delivered',
                                           'failed', 'cancelled')),
    note text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipments_status ON shipments (status, shipment_id);

CREATE TABLE shipment_lines (
    shipment_id bigint NOT NULL REFERENCES shipments,
    line_no integer NOT NULL,
    sku bigint NOT NULL,
    qty bigint NOT NULL CHECK (qty > 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (shipment_id, line_no)
);

CREATE TABLE discrepancy_acts (
    act_id bigserial PRIMARY KEY,
    shipment_id bigint NOT NULL REFERENCES shipments,
    kind text NOT NULL CHECK (kind IN ('shortage', 'mis_sort', 'damage')),
    note text NOT NULL DEFAULT '',
    recorded_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE discrepancy_lines (
    act_id bigint NOT NULL REFERENCES discrepancy_acts,
    line_no integer NOT NULL,
    sku bigint NOT NULL,
    delivered_sku bigint,
    qty bigint NOT NULL CHECK (qty > 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (act_id, line_no)
);

CREATE TABLE transfers (
    transfer_id bigserial PRIMARY KEY,
    from_warehouse_id bigint NOT NULL REFERENCES warehouses,
    to_warehouse_id bigint NOT NULL REFERENCES warehouses,
    status text NOT NULL CHECK (status IN ('in_transit', 'received')),
    expected_on date NOT NULL,
    note text NOT NULL DEFAULT '',
    requested_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    received_at timestamptz,
    CHECK (from_warehouse_id <> to_warehouse_id)
);
CREATE INDEX transfers_in_transit ON transfers (to_warehouse_id) WHERE status = 'in_transit';

CREATE TABLE transfer_lines (
    transfer_id bigint NOT NULL REFERENCES transfers,
    sku bigint NOT NULL,
    qty bigint NOT NULL CHECK (qty > 0),
    PRIMARY KEY (transfer_id, sku)
);

-- Idempotency keys of the writing methods other than ReserveStock: the
-- request as packed, and the reply once committed.
CREATE TABLE idempotency (
    method text NOT NULL,
    key text NOT NULL,
    request bytea NOT NULL,
    reply bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (method, key)
);
