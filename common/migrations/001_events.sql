-- 001_events: the framework's tables in every service's schema (kt_events.c).
--
-- outbox: events written in the same transaction as the change they report.
-- The relay (one leader per service, by advisory lock) gives committed rows
-- their per-producer sequence number in commit-visibility order, so that
-- numbers have no gaps among committed events, then publishes them.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    seq         bigint UNIQUE,                  -- NULL until the relay sequences it
    type        text NOT NULL CHECK (type ~ '^[A-Z][A-Za-z0-9]{0,63}$'),
    payload     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX outbox_pending ON outbox (id) WHERE seq IS NULL;

-- One row: the last sequence number given out, and the oldest still kept.
CREATE TABLE outbox_state (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_seq    bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    oldest_seq  bigint NOT NULL DEFAULT 1 CHECK (oldest_seq >= 1)
);
INSERT INTO outbox_state DEFAULT VALUES;

-- What this service has applied of each producer's stream: updated in the
-- same transaction as the effect, so applying an event twice is a no-op.
CREATE TABLE event_offsets (
    producer    text PRIMARY KEY,
    last_seq    bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    applied_at  timestamptz NOT NULL DEFAULT now()
);
