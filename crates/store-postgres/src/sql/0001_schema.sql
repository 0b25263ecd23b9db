-- Tracemark's schema, version 1: every table of the registry's `Store` trait.
--
-- Plain SQL that runs unchanged on PostgreSQL 15+ and on a Citus coordinator (and needs
-- nothing YugabyteDB lacks): no sequences, no triggers, no foreign keys, no cross-table
-- joins on a hot path. Keys are typed columns; values are the registry's own binary or
-- versioned JSON records (`bytea`), the same bytes the embedded engine stores.
--
-- Unsigned Rust integers are stored bit for bit in signed columns (`u64 as i64`): GTINs,
-- sequence numbers, indexes and ids stay far below 2^63, so their order is kept.

-- Code-keyed: the bulk of the data. `code` is `CodeKey::as_bytes()` (a tag byte, then the
-- GTIN and serial, or the SSCC). On Citus all four are distributed by the code's hash and
-- co-located: a code's state, history, package contents and blocks live on one shard.
CREATE TABLE codes (
    code  bytea PRIMARY KEY,
    state bytea NOT NULL                      -- CodeState::encode
);

CREATE TABLE events (
    code  bytea   NOT NULL,
    seq   integer NOT NULL,                   -- the code's event number, from 0
    event bytea   NOT NULL,                   -- CodeEvent::encode (36 bytes)
    PRIMARY KEY (code, seq)
);

CREATE TABLE links (                          -- package contents
    parent bytea NOT NULL,
    child  bytea NOT NULL,
    PRIMARY KEY (parent, child)
);

CREATE TABLE block_codes (                    -- codes blocked one by one
    block bigint NOT NULL,
    code  bytea  NOT NULL,
    PRIMARY KEY (block, code)
);

-- Small and read everywhere (Citus: reference tables, a copy on every node).
CREATE TABLE participants (
    id     bigint PRIMARY KEY,                -- ParticipantId (u32)
    tin    text   NOT NULL,
    record bytea  NOT NULL                    -- version byte ‖ JSON
);
CREATE INDEX participants_by_tin ON participants (tin);

CREATE TABLE products (
    gtin   bigint PRIMARY KEY,                -- the GTIN's 14 digits as a number
    record bytea  NOT NULL
);

CREATE TABLE blocks (
    id     bigint PRIMARY KEY,
    record bytea  NOT NULL
);

-- Documents: the legal record, kept forever (Citus: distributed by id; shipments
-- co-located with them).
CREATE TABLE documents (
    id   uuid   PRIMARY KEY,
    seq  bigint NOT NULL,                     -- global sequence number
    meta bytea  NOT NULL,                     -- version byte ‖ JSON (the document without its body)
    body bytea  NOT NULL                      -- the exact body bytes
);

CREATE TABLE document_seqs (                  -- seq → document (Citus: distributed by seq)
    seq       bigint PRIMARY KEY,
    id        uuid   NOT NULL,
    log_index bigint                          -- its leaf in the transparency log
);

CREATE TABLE shipments (                      -- shipments accepted
    ship   uuid PRIMARY KEY,
    accept uuid NOT NULL
);

-- Code orders (Citus: distributed by order id, serials co-located with their order).
CREATE TABLE orders (
    id          uuid   PRIMARY KEY,
    participant bigint NOT NULL,
    record      bytea  NOT NULL
);
CREATE INDEX orders_by_participant ON orders (participant, id);

CREATE TABLE order_serials (                  -- self-made serials of an order
    order_id uuid   NOT NULL,
    idx      bigint NOT NULL,
    serial   text   NOT NULL,
    PRIMARY KEY (order_id, idx)
);

-- Consumers' complaints (Citus: distributed by id, photos co-located).
CREATE TABLE complaints (
    id     uuid  PRIMARY KEY,                 -- UUID v7: time order
    record bytea NOT NULL
);

CREATE TABLE complaint_photos (
    id    uuid  PRIMARY KEY,
    photo bytea NOT NULL
);

-- Inventory counters (Citus: distributed by owner: one owner's counters on one shard).
CREATE TABLE inventory (
    owner  bigint   NOT NULL,
    gtin   bigint   NOT NULL,
    bucket smallint NOT NULL,                 -- Bucket::to_u8
    n      bigint   NOT NULL,
    PRIMARY KEY (owner, gtin, bucket)
);

-- The writer's sequential records: one row per document or fact, written by the single
-- writer in every commit and read in ranges of the sequence. On Citus they stay on the
-- coordinator (plain tables there: no 2PC round trip for them, and ordered range reads
-- without a fan-out); partition them by range of the sequence when they grow.
CREATE TABLE counters (
    name  text   PRIMARY KEY,
    value bigint NOT NULL                     -- u64, bit for bit
);

CREATE TABLE refusals (                       -- refused documents, for risk control
    seq    bigint PRIMARY KEY,
    record bytea  NOT NULL
);

CREATE TABLE feed (                           -- committed facts, followed by projections
    seq  bigint PRIMARY KEY,
    fact bytea  NOT NULL                      -- registry::feed record
);

CREATE TABLE log_leaves (                     -- the transparency log's leaves
    idx  bigint PRIMARY KEY,
    leaf bytea  NOT NULL
);

CREATE TABLE log_hashes (                     -- the Merkle tree's stored hashes
    level smallint NOT NULL,
    idx   bigint   NOT NULL,
    hash  bytea    NOT NULL,                  -- 32 bytes
    PRIMARY KEY (level, idx)
);

-- Projections (alerts, analytics, scores): each one's rows and checkpoint, written by
-- its own thread (Citus: distributed by name, so one projection's commit is one shard's).
CREATE TABLE projection_rows (
    name  text  NOT NULL,
    key   bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (name, key)
);

CREATE TABLE projection_checkpoints (
    name       text   PRIMARY KEY,
    checkpoint bigint NOT NULL
);
