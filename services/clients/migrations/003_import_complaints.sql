-- 003_import_complaints: idempotency of ImportClients; complaints listed by
-- client, newest first (ListComplaints).

-- One row per ImportClients idempotency key: a hash of the request as packed,
-- and the reply once the batch committed (in the same transaction, so a key
-- with no reply does not exist outside a running import). Kept a week, as
-- the events are.
CREATE TABLE imports (
    key         text PRIMARY KEY CHECK (octet_length(key) BETWEEN 1 AND 128),
    request     bytea NOT NULL,             -- BLAKE2b-256 of the packed request
    reply       bytea,
    clients     int NOT NULL DEFAULT 0,
    by          text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX complaints_client ON complaints (client_id, id);
CREATE INDEX complaints_opened ON complaints (opened_at);
