-- 002_client_base: branches, territories, managers, clients and all that hangs
-- on a client; what the service keeps from other services' events.
--
-- Search without pg_trgm. The schema's owner (kontor_clients) has CONNECT but
-- not CREATE on the database (deploy/local/roles.sql.sh), and PostgreSQL asks
-- for CREATE on the database even for a trusted extension, so
-- CREATE EXTENSION pg_trgm fails for it ("permission denied to create
-- extension"; tried with the local roles). What is built in instead:
--   * words: search_tsv, a tsvector of the folded name and code ('simple'
--     configuration: no stemming, no stop words), GIN-indexed; a fragment's
--     words are looked up as prefixes (prefix_query), in any order; a
--     fragment with punctuation in it is then also checked literally with
--     LIKE on the folded name (LIKE metacharacters escaped by the caller).
--     So "ром" and "плюс ром" find "ООО Ромашка-Плюс", "100%" finds
--     "100% Cotton" and not "100 Cotton"; "машка" (inside a word) does not.
--   * a code prefix: the code's own unique btree (codes are upper-case ASCII,
--     compared in the C collation, so LIKE 'B12%' is a range scan).
--   * a fragment that holds no word at all ("%", "'") is looked for anywhere
--     in the folded name with LIKE alone: a scan, the one slow path.
-- Folding is lower() under ICU's root collation, so that Cyrillic and other
-- scripts fold too (the cluster's locale is C, whose lower() is ASCII only).
-- Should pg_trgm become available (a DBA creates it in this schema), a
-- trigram index can be added beside these without changing the method.

CREATE FUNCTION fold(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN pg_catalog.lower(t COLLATE pg_catalog."und-x-icu");

-- The prefix query of a fragment's words ('ооо':* & 'ром':*), or NULL when
-- the fragment holds no word. Each lexeme is quoted for tsquery's syntax
-- (backslash and quote escaped), so nothing in a fragment is an operator.
-- PL/pgSQL, not SQL: the planner evaluates it once per search (its argument
-- is a constant), and PL/pgSQL keeps its plan for the session where a SQL
-- function would be planned again at every call (~2 ms).
CREATE FUNCTION prefix_query(q text) RETURNS tsquery
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    words text;
BEGIN
    SELECT pg_catalog.string_agg(
               '''' || pg_catalog.replace(pg_catalog.replace(l, '\', '\\'), '''', '''''')
               || ''':*', ' & ')
      INTO words
      FROM pg_catalog.unnest(pg_catalog.tsvector_to_array(
               pg_catalog.to_tsvector('pg_catalog.simple', fold(q)))) AS l;
    IF words IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN pg_catalog.to_tsquery('pg_catalog.simple', words);
END
$$;

CREATE TABLE branches (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200)
);

CREATE TABLE managers (
    id          bigint PRIMARY KEY CHECK (id > 0),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role        text NOT NULL CHECK (role IN ('manager', 'lead_manager', 'head')),
    branch_id   bigint NOT NULL REFERENCES branches,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Managers are created with explicit ids (the principals' manager_id); new
-- ones without an id take the next from this sequence, above any explicit one.
CREATE SEQUENCE managers_id_seq START 1000;

CREATE TABLE territories (
    id              bigserial PRIMARY KEY,
    branch_id       bigint NOT NULL REFERENCES branches,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    lead_manager_id bigint REFERENCES managers,
    UNIQUE (branch_id, name)
);

CREATE TABLE clients (
    id                  bigserial PRIMARY KEY,
    code                text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,31}$'),
    name                text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 200),
    tax_id              text NOT NULL UNIQUE CHECK (tax_id ~ '^[0-9A-Z]{8,14}$'),
    legal_address       text NOT NULL DEFAULT '' CHECK (octet_length(legal_address) <= 500),
    delivery_address    text NOT NULL DEFAULT '' CHECK (octet_length(delivery_address) <= 500),
    segment             text NOT NULL DEFAULT '' CHECK (octet_length(segment) <= 64),
    status              text NOT NULL DEFAULT 'prospect'
                        CHECK (status IN ('prospect', 'active', 'blocked', 'archived')),
    key_account         boolean NOT NULL DEFAULT false,
    branch_id           bigint NOT NULL REFERENCES branches,
    territory_id        bigint NOT NULL REFERENCES territories,
    manager_id          bigint NOT NULL REFERENCES managers,
    found_by_manager_id bigint NOT NULL REFERENCES managers,
    created_at          timestamptz NOT NULL DEFAULT now(),
    changed_at          timestamptz NOT NULL DEFAULT now(),
    version             bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    search_tsv          tsvector GENERATED ALWAYS AS
                        (to_tsvector('pg_catalog.simple', fold(name) || ' ' || fold(code))) STORED
);
CREATE INDEX clients_name_id ON clients (name, id);
-- fastupdate off: a search never reads a pending list that only VACUUM
-- empties; creating a client costs a little more.
CREATE INDEX clients_words ON clients USING gin (search_tsv) WITH (fastupdate = off);
CREATE INDEX clients_manager ON clients (manager_id, name, id);
CREATE INDEX clients_territory ON clients (territory_id, name, id);

-- The client's professional holidays, greeted every year on that day.
CREATE TABLE client_holidays (
    client_id   bigint NOT NULL REFERENCES clients ON DELETE CASCADE,
    name        text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 200),
    month       int NOT NULL CHECK (month BETWEEN 1 AND 12),
    day         int NOT NULL CHECK (day BETWEEN 1 AND 31),
    PRIMARY KEY (client_id, month, day, name)
);

CREATE TABLE contacts (
    id              bigserial PRIMARY KEY,
    client_id       bigint NOT NULL REFERENCES clients,
    name            text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 200),
    position        text NOT NULL DEFAULT '' CHECK (octet_length(position) <= 200),
    phone           text NOT NULL DEFAULT '',
    email           text NOT NULL DEFAULT '',
    decision_maker  boolean NOT NULL DEFAULT false,
    birthday        date,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_client ON contacts (client_id, id);

-- One row per client: the contract and the commercial terms now in force.
CREATE TABLE terms (
    client_id       bigint PRIMARY KEY REFERENCES clients,
    contract_number text NOT NULL DEFAULT '' CHECK (octet_length(contract_number) <= 64),
    contract_date   date,
    contract_until  date CHECK (contract_until IS NULL OR contract_date IS NULL
                                OR contract_until >= contract_date),
    price_column    text NOT NULL DEFAULT 'A' CHECK (price_column IN ('A', 'B', 'C', 'D', 'E')),
    discount_bp     int NOT NULL DEFAULT 0 CHECK (discount_bp BETWEEN 0 AND 10000),
    payment_days    int NOT NULL DEFAULT 0 CHECK (payment_days BETWEEN 0 AND 365),
    grace_days      int NOT NULL DEFAULT 0 CHECK (grace_days BETWEEN 0 AND 365),
    credit_limit    bigint NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    currency        text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    short_policy    text NOT NULL DEFAULT 'ship_available'
                    CHECK (short_policy IN ('ship_available', 'wait_for_all')),
    changed_by      text NOT NULL DEFAULT '',
    why             text NOT NULL DEFAULT '',
    changed_at      timestamptz NOT NULL DEFAULT now()
);

-- Every change of terms: who, why, what it was and what it became.
CREATE TABLE terms_history (
    id          bigserial PRIMARY KEY,
    client_id   bigint NOT NULL REFERENCES clients,
    changed_by  text NOT NULL,
    why         text NOT NULL CHECK (octet_length(why) BETWEEN 1 AND 500),
    before      jsonb NOT NULL,
    after       jsonb NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX terms_history_client ON terms_history (client_id, id);

CREATE TABLE credit_checks (
    id                  bigserial PRIMARY KEY,
    client_id           bigint NOT NULL REFERENCES clients,
    checked_on          date NOT NULL,
    checked_by          text NOT NULL,
    sources             text NOT NULL CHECK (octet_length(sources) BETWEEN 1 AND 500),
    score               int NOT NULL CHECK (score BETWEEN 0 AND 1000),
    grade               text NOT NULL DEFAULT '' CHECK (grade IN ('', 'A', 'B', 'C', 'D')),
    recommended_limit   bigint NOT NULL CHECK (recommended_limit >= 0),
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    note                text NOT NULL DEFAULT '' CHECK (octet_length(note) <= 2000),
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_checks_client ON credit_checks (client_id, checked_on DESC, id DESC);

-- Who had the client, and from when: every assignment, first one included.
CREATE TABLE assignments (
    id              bigserial PRIMARY KEY,
    client_id       bigint NOT NULL REFERENCES clients,
    from_manager_id bigint REFERENCES managers,
    to_manager_id   bigint NOT NULL REFERENCES managers,
    by              text NOT NULL,
    why             text NOT NULL DEFAULT '',
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assignments_client ON assignments (client_id, id DESC);

CREATE TABLE activities (
    id              bigserial PRIMARY KEY,
    manager_id      bigint NOT NULL REFERENCES managers,
    client_id       bigint REFERENCES clients,
    kind            text NOT NULL CHECK (kind IN ('call', 'visit', 'meeting', 'offer')),
    at              timestamp NOT NULL,
    subject         text NOT NULL CHECK (octet_length(subject) BETWEEN 1 AND 500),
    status          text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'done', 'cancelled')),
    outcome         text NOT NULL DEFAULT '' CHECK (octet_length(outcome) <= 2000),
    completed_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'planned') = (completed_at IS NULL))
);
CREATE INDEX activities_manager_at ON activities (manager_id, at);
CREATE INDEX activities_manager_done ON activities (manager_id, completed_at) WHERE status = 'done';

CREATE TABLE complaints (
    id              bigserial PRIMARY KEY,
    client_id       bigint NOT NULL REFERENCES clients,
    order_id        bigint CHECK (order_id > 0),
    shipment_id     bigint CHECK (shipment_id > 0),
    category        text NOT NULL CHECK (octet_length(category) BETWEEN 1 AND 64),
    description     text NOT NULL CHECK (octet_length(description) BETWEEN 1 AND 4000),
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'in_progress', 'resolved', 'rejected')),
    resolution      text NOT NULL DEFAULT '' CHECK (octet_length(resolution) <= 4000),
    opened_by       text NOT NULL,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    CHECK ((status IN ('resolved', 'rejected')) = (resolved_at IS NOT NULL))
);
CREATE INDEX complaints_client_open ON complaints (client_id, id) WHERE status IN ('open', 'in_progress');

CREATE TABLE plans (
    manager_id      bigint NOT NULL REFERENCES managers,
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    revenue         bigint NOT NULL CHECK (revenue >= 0),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    active_clients  int NOT NULL CHECK (active_clients >= 0),
    new_clients     int NOT NULL CHECK (new_clients >= 0),
    set_by          text NOT NULL,
    set_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (manager_id, month)
);

-- Kept from orders' OrderConfirmed, one row per order (the primary key makes
-- a duplicated or replayed event a no-op): last orders on the card, and the
-- actuals of plans. first_order marks the client's first confirmed order.
CREATE TABLE order_facts (
    order_id        bigint PRIMARY KEY,
    client_id       bigint NOT NULL,
    manager_id      bigint NOT NULL,
    branch_id       bigint NOT NULL,
    currency        text NOT NULL,
    total           bigint NOT NULL,
    confirmed_at    timestamptz NOT NULL,
    first_order     boolean NOT NULL,
    seq             bigint NOT NULL
);
CREATE INDEX order_facts_client ON order_facts (client_id, confirmed_at DESC);
CREATE INDEX order_facts_manager ON order_facts (manager_id, confirmed_at);
CREATE UNIQUE INDEX order_facts_first ON order_facts (client_id) WHERE first_order;

-- Kept from receivables' InvoiceIssued and PaymentRecorded: which were
-- applied (one row each), and a small summary per client and currency.
CREATE TABLE receivable_docs (
    kind        text NOT NULL CHECK (kind IN ('invoice', 'payment')),
    doc_id      bigint NOT NULL,
    client_id   bigint NOT NULL,
    amount      bigint NOT NULL,
    currency    text NOT NULL,
    PRIMARY KEY (kind, doc_id)
);

CREATE TABLE balances (
    client_id       bigint NOT NULL,
    currency        text NOT NULL,
    invoiced        bigint NOT NULL DEFAULT 0,
    paid            bigint NOT NULL DEFAULT 0,
    last_invoice_at timestamptz,
    last_payment_at timestamptz,
    PRIMARY KEY (client_id, currency)
);
