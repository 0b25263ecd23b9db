-- Schema version 11: a code's rows packed by page (issue 16: PostgreSQL at 100 M codes).
--
-- Until 10 every event of a code was a row of `events` carrying the state it left: ~2.4
-- rows a code, each with PostgreSQL's 28 bytes of tuple header and item pointer, its
-- state (~70 bytes) again, and an index entry of ~50 bytes: 634 of the 778 bytes a code
-- the 1 M and 10 M scale runs measured (docs/scale-postgres.md), against the embedded
-- engine's 165 for everything. At 100 M that is ~78 GB.
--
-- Now a code's rows are packed with its neighbours'. A *page* is (place, slot): the
-- code's place (0010_schema.sql: a run of 1,024 consecutive codes of an order, or a
-- hash of a lone code's key) and `slot`, the low 4 bits of the first byte of SHA-256 of
-- the code key (so ~64 codes of a run a page; SQL and the store compute it alike):
--
-- * `code_pages`: one row a page, its codes' current states as two parallel arrays,
--   `codes` sorted. A look-up is one index probe and an `array_position` in a row; a
--   commit reads the pages it touches, merges its states in and writes them again
--   (deleted, then copied in: a ~2 kB row never fits a heap page's spare room, so an
--   `UPDATE` would not stay on its page either, and no fillfactor is left empty for it).
--   Stored `MAIN` with lz4 where the server has it: a page over ~2 kB is compressed in
--   line (GTINs and most of a state repeat from code to code: ~30 bytes a code), so a
--   read never leaves the heap page. Each rewrite leaves the old version dead until
--   vacuum: the table's autovacuum starts at 5 % dead rows (the default, 20 %, let the
--   dead versions outnumber the live ones during the bench's growth: 46 k against 37 k).
-- * `code_events`: a code's history, appended: one row per page and commit (`gen`, the
--   largest document number among its events), its events as parallel arrays sorted
--   by (code, seq); never rewritten. A history is the page's rows, filtered.
--
-- A document's 1,000 consecutive codes are thus ~16 page rows and ~16 run rows instead
-- of 1,000 event rows; a till's receipt of scattered codes rewrites one small page per
-- code. The embedded engine is unchanged (its LSM tree does the same packing in blocks).
CREATE TABLE code_pages (
    place  integer  NOT NULL,
    slot   smallint NOT NULL,
    codes  bytea[]  NOT NULL,                  -- CodeKey::as_bytes, sorted
    states bytea[]  NOT NULL,                  -- CodeState::encode, in the codes' order
    PRIMARY KEY (place, slot)
) WITH (autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE code_pages ALTER COLUMN codes SET STORAGE MAIN;
ALTER TABLE code_pages ALTER COLUMN states SET STORAGE MAIN;

CREATE TABLE code_events (
    place  integer   NOT NULL,
    slot   smallint  NOT NULL,
    gen    bigint    NOT NULL,                 -- the largest doc_seq of its events
    codes  bytea[]   NOT NULL,
    seqs   integer[] NOT NULL,                 -- each event's number in its code's history
    events bytea[]   NOT NULL                  -- CodeEvent::encode (36 bytes each)
);
CREATE INDEX code_events_by_page ON code_events (place, slot, gen);
ALTER TABLE code_events ALTER COLUMN codes SET STORAGE MAIN;
ALTER TABLE code_events ALTER COLUMN events SET STORAGE MAIN;

-- lz4 (PostgreSQL 14+ built with it, as Debian's and the usual packages are); pglz, the
-- default, otherwise.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE code_pages ALTER COLUMN codes SET COMPRESSION lz4, '
            'ALTER COLUMN states SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE code_events ALTER COLUMN codes SET COMPRESSION lz4, '
            'ALTER COLUMN events SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available: pages compressed with pglz';
END
$$;
