-- 002_orders: price lists, promotions, discount authority, client terms
-- (kept from clients' events), orders and lines, shipments as logistics
-- reports them, returns. Constraints are the last line of defence; the
-- handlers check the same things first to give a clear reply.

-- ------------------------------------------------------------ pricing

CREATE TABLE price_lists (
    price_list_id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    valid_from date NOT NULL,
    valid_to date,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

CREATE TABLE prices (
    sku bigint NOT NULL CHECK (sku > 0),
    col text NOT NULL CHECK (col ~ '^[A-Z]$'),
    price_list_id bigint NOT NULL REFERENCES price_lists ON DELETE CASCADE,
    price bigint NOT NULL CHECK (price >= 0),
    PRIMARY KEY (sku, col, price_list_id)
);

-- Pricing attributes of a product: its analog group for promotions.
CREATE TABLE products (
    sku bigint PRIMARY KEY CHECK (sku > 0),
    analog_group bigint NOT NULL DEFAULT 0 CHECK (analog_group >= 0)
);

CREATE TABLE promotions (
    promotion_id bigserial PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    kind smallint NOT NULL CHECK (kind IN (1, 2)),
    scope smallint NOT NULL CHECK (scope IN (1, 2, 3)),
    scope_id bigint NOT NULL DEFAULT 0 CHECK (scope_id >= 0),
    valid_from date NOT NULL,
    valid_to date,
    min_qty bigint NOT NULL DEFAULT 0 CHECK (min_qty >= 0),
    min_order_value bigint NOT NULL DEFAULT 0 CHECK (min_order_value >= 0),
    percent_bp integer NOT NULL DEFAULT 0 CHECK (percent_bp BETWEEN 0 AND 10000),
    free_sku bigint NOT NULL DEFAULT 0 CHECK (free_sku >= 0),
    free_qty bigint NOT NULL DEFAULT 0 CHECK (free_qty >= 0),
    priority integer NOT NULL DEFAULT 0,
    active boolean NOT NULL DEFAULT true,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CHECK (kind <> 2 OR (min_qty >= 1 AND free_qty >= 1))
);

-- Workers cache the promotions and reload them when this number moves
-- (read in the same query as the prices, so no extra round trip).
CREATE TABLE promo_state (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL DEFAULT 1
);
INSERT INTO promo_state DEFAULT VALUES;

-- The largest extra discount a role may give without a head's approval.
CREATE TABLE discount_authority (
    role text PRIMARY KEY CHECK (role IN ('manager', 'head')),
    max_bp integer NOT NULL CHECK (max_bp BETWEEN 0 AND 10000),
    set_by text NOT NULL DEFAULT 'default',
    set_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO discount_authority (role, max_bp) VALUES ('manager', 500), ('head', 2000);

-- ------------------------------------------------------------ what other services tell us

-- The client's terms as clients publishes them (TermsChanged, ClientChanged),
-- or as GetTerms answered on a miss; `version` never goes back.
CREATE TABLE client_terms (
    client_id bigint PRIMARY KEY CHECK (client_id > 0),
    price_column text NOT NULL,
    discount_bp integer NOT NULL CHECK (discount_bp BETWEEN 0 AND 10000),
    payment_days integer NOT NULL DEFAULT 0,
    credit_limit bigint NOT NULL DEFAULT 0,
    currency text NOT NULL DEFAULT '',
    short_policy smallint NOT NULL DEFAULT 0,
    status smallint NOT NULL DEFAULT 0,
    manager_id bigint NOT NULL DEFAULT 0,
    branch_id bigint NOT NULL DEFAULT 0,
    version bigint NOT NULL DEFAULT 0,
    on_hold boolean NOT NULL DEFAULT false,
    refreshed_at timestamptz NOT NULL DEFAULT now()
);

-- Availability as StockChanged last said it, for releasing back-orders.
CREATE TABLE stock_seen (
    warehouse_id bigint NOT NULL,
    sku bigint NOT NULL,
    available bigint NOT NULL,
    PRIMARY KEY (warehouse_id, sku)
);

-- ------------------------------------------------------------ orders

CREATE SEQUENCE orders_id_seq;

-- status: 1 pending, 2 confirmed, 3 pending approval, 4 back order,
-- 5 rejected, 6 cancelled, 7 partially shipped, 8 shipped, 9 partially
-- delivered, 10 delivered, 11 replaced (OrderStatus in orders.proto).
CREATE TABLE orders (
    order_id bigint PRIMARY KEY DEFAULT nextval('orders_id_seq'),
    idem_key text UNIQUE,
    body_hash bytea,
    parent_id bigint REFERENCES orders,
    replaced_by bigint REFERENCES orders,
    client_id bigint NOT NULL CHECK (client_id > 0),
    manager_id bigint NOT NULL,
    branch_id bigint NOT NULL,
    warehouse_id bigint NOT NULL CHECK (warehouse_id > 0),
    status smallint NOT NULL CHECK (status BETWEEN 1 AND 11),
    -- where a placement interrupted here goes back to (the sweeper's undo)
    undo_status smallint NOT NULL DEFAULT 5 CHECK (undo_status IN (3, 4, 5)),
    reason text NOT NULL DEFAULT '',
    reason_text text NOT NULL DEFAULT '',
    currency text NOT NULL,
    list_total bigint NOT NULL CHECK (list_total >= 0),
    total bigint NOT NULL CHECK (total >= 0),
    n_lines integer NOT NULL CHECK (n_lines > 0),
    extra_bp integer NOT NULL DEFAULT 0 CHECK (extra_bp BETWEEN 0 AND 10000),
    short_policy smallint NOT NULL DEFAULT 0,
    delivery_date date,
    delivery_method smallint NOT NULL DEFAULT 0,
    address text NOT NULL DEFAULT '',
    note text NOT NULL DEFAULT '',
    placed_by text NOT NULL,
    approved_by text NOT NULL DEFAULT '',
    -- a reservation call was ever made for this id: it is never reserved
    -- again (other services keep released ids); see orders_engine.c
    called_out boolean NOT NULL DEFAULT false,
    -- a release is owed to receivables and logistics (retried by the sweeper)
    needs_release boolean NOT NULL DEFAULT false,
    -- confirmations owed after CONFIRMED (done by the confirmer, not the caller)
    credit_confirmed boolean NOT NULL DEFAULT false,
    stock_confirmed boolean NOT NULL DEFAULT false,
    expected_date date,
    bo_ready boolean NOT NULL DEFAULT false,     -- back-order: goods may have arrived
    reply bytea,                                -- the first PlaceOrder answer, for replays
    reply_status smallint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz
);
CREATE INDEX orders_client ON orders (client_id, created_at DESC, order_id DESC);
CREATE INDEX orders_manager ON orders (manager_id, created_at DESC, order_id DESC);
CREATE INDEX orders_created ON orders (created_at, order_id);
CREATE INDEX orders_pending ON orders (updated_at) WHERE status = 1;
CREATE INDEX orders_unconfirmed ON orders (order_id)
    WHERE status = 2 AND NOT (credit_confirmed AND stock_confirmed);
CREATE INDEX orders_release ON orders (order_id) WHERE needs_release;
CREATE INDEX orders_backorder ON orders (created_at, order_id) WHERE status = 4;

CREATE TABLE order_lines (
    order_id bigint NOT NULL REFERENCES orders,
    line_no integer NOT NULL CHECK (line_no > 0),
    sku bigint NOT NULL CHECK (sku > 0),
    qty bigint NOT NULL CHECK (qty > 0),
    list_price bigint NOT NULL CHECK (list_price >= 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    line_total bigint NOT NULL CHECK (line_total >= 0),
    free boolean NOT NULL DEFAULT false,
    client_bp integer NOT NULL DEFAULT 0,
    promo_id bigint NOT NULL DEFAULT 0,
    promo_bp integer NOT NULL DEFAULT 0,
    extra_bp integer NOT NULL DEFAULT 0,
    available bigint NOT NULL DEFAULT -1,
    expected_date date,
    shipped_qty bigint NOT NULL DEFAULT 0 CHECK (shipped_qty >= 0),
    delivered_qty bigint NOT NULL DEFAULT 0 CHECK (delivered_qty >= 0),
    returned_qty bigint NOT NULL DEFAULT 0 CHECK (returned_qty >= 0 AND returned_qty <= qty),
    PRIMARY KEY (order_id, line_no),
    CHECK (line_total = qty * unit_price)
);
CREATE INDEX order_lines_sku ON order_lines (sku);

-- Shipments as logistics' Shipment* events report them.
CREATE TABLE shipments (
    shipment_id bigint PRIMARY KEY,
    order_id bigint NOT NULL,
    status smallint NOT NULL,
    qty bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipments_order ON shipments (order_id);

CREATE TABLE shipment_lines (
    shipment_id bigint NOT NULL REFERENCES shipments,
    line_no integer NOT NULL,
    sku bigint NOT NULL,
    qty bigint NOT NULL,
    PRIMARY KEY (shipment_id, line_no)
);

-- ------------------------------------------------------------ returns

CREATE TABLE returns (
    return_id bigserial PRIMARY KEY,
    idem_key text UNIQUE,
    order_id bigint NOT NULL REFERENCES orders,
    client_id bigint NOT NULL,
    manager_id bigint NOT NULL,
    reason smallint NOT NULL CHECK (reason BETWEEN 1 AND 4),
    note text NOT NULL DEFAULT '',
    currency text NOT NULL,
    amount bigint NOT NULL CHECK (amount >= 0),
    recorded_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX returns_created ON returns (created_at);

CREATE TABLE return_lines (
    return_id bigint NOT NULL REFERENCES returns,
    line_no integer NOT NULL,
    sku bigint NOT NULL,
    qty bigint NOT NULL CHECK (qty > 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    line_total bigint NOT NULL CHECK (line_total >= 0),
    PRIMARY KEY (return_id, line_no)
);
