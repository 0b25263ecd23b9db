-- Schema version 10: a code's rows are keyed by its place first (issue 16).
--
-- A code's place is a 32-bit number from the key design both engines share
-- (`registry::placement`): for a code whose serial the issuing keyring's serial
-- permutation maps back to a counter (every operator serial) a hash of its GTIN, serial
-- length and counter ÷ 1,024, so a run of 1,024 consecutive codes of one order shares a
-- place; for any other code (a long self-made serial, an SSCC) a hash of the code key.
-- Stored as `integer` (the u32 bit for bit: any fixed order will do).
--
-- `events`, `links` (the parent's place) and `block_codes` (the code's place) get a
-- `place` column, first in the keys they are looked up by, and every query on them names
-- it (`WHERE place = $1 AND code = $2`; a multi-get joins arrays of (place, code)). What
-- it buys: a document naming 1,000 consecutive codes of an order reads and writes one or
-- two ranges of `events_newest_first` instead of 1,000 random leaves, and on Citus, where
-- the three tables are distributed by `place` (0010_citus.sql), one or two shards instead
-- of every shard, while runs still spread evenly over the shards.
--
-- Migrating the rows: SQL cannot compute a place (it needs the keyring's permutation), so
-- the store does it in Rust, at connect, in this migration's transaction
-- (`src/placing.rs`): the old tables are renamed `*_v9` here and the new ones made empty;
-- after the Citus part, the store reads every code of the old tables (a cursor, 10,000 at a
-- time), writes each with its place into `tracemark_code_places` (binary COPY), then
-- copies the rows over with one `INSERT … SELECT … JOIN tracemark_code_places` per table
-- (on Citus distributed and parallel, the rows never pass through the registry) and drops
-- the old tables. One transaction rather than resumable batches: the migration stays
-- all or nothing (a failure leaves version 9 as it was, and the next connect starts again),
-- the rows are written once, with their final key, no index is built twice, and a process
-- of an older build can never see a half-placed table; the price is one long transaction
-- for a large registry (its time bound: `PgOptions::migration_timeout`).
--
-- `tracemark_placement` says how the rows are placed: `fingerprint` is the placing
-- keyring's (`Placement::fingerprint`), or NULL for rows placed without one (every code
-- spread: a store opened without the keyring). A store opened with a keyring on spread
-- rows moves the codes it places elsewhere, once (the same map and join); a store without
-- one on placed rows, or with another keyring, refuses to read or write code rows.
-- `tracemark_code_places` is the map those copies join with: empty between migrations.
ALTER TABLE events RENAME TO events_v9;
ALTER INDEX events_newest_first RENAME TO events_v9_newest_first;
ALTER TABLE links RENAME TO links_v9;
ALTER INDEX links_pkey RENAME TO links_v9_pkey;
ALTER TABLE block_codes RENAME TO block_codes_v9;
ALTER INDEX block_codes_pkey RENAME TO block_codes_v9_pkey;

-- A code's history and state (0008_schema.sql), newest first within its place.
CREATE TABLE events (
    place integer  NOT NULL,
    code  bytea    NOT NULL,
    seq   integer  NOT NULL,
    sub   smallint NOT NULL DEFAULT 0,
    event bytea,
    state bytea
);
CREATE UNIQUE INDEX events_newest_first ON events (place, code, seq DESC, sub DESC);

CREATE TABLE links (                          -- package contents, under the parent's place
    place  integer NOT NULL,
    parent bytea   NOT NULL,
    child  bytea   NOT NULL,
    PRIMARY KEY (place, parent, child)
);

CREATE TABLE block_codes (                    -- codes blocked one by one, read by block
    block bigint  NOT NULL,
    place integer NOT NULL,
    code  bytea   NOT NULL,
    PRIMARY KEY (block, place, code)
);

CREATE TABLE tracemark_placement (
    fingerprint bytea                         -- NULL: spread, else the placing keyring's
);
INSERT INTO tracemark_placement (fingerprint) VALUES (NULL);

CREATE TABLE tracemark_code_places (
    code  bytea   PRIMARY KEY,
    place integer NOT NULL
);
