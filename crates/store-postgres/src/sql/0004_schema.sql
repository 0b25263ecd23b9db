-- Schema version 4: the tables that grow with time are partitioned by time.
--
-- Nothing the registry writes carries a timestamp column, but three of its big tables are
-- keyed by a number that only grows, one step per record, in commit order: the feed's
-- `seq`, the document's `seq`, the transparency log's leaf `idx`. A range of such a key
-- is a range of time. Each of those tables becomes a declaratively partitioned table,
-- `PARTITION BY RANGE` of that key, in partitions of `width` keys named
-- `<table>_<first key, 12 digits>` (`feed_000016777216` holds feed 16777216 …
-- 33554431):
--
-- * `documents` (the legal record: meta and the exact body, the largest rows) by `seq`;
-- * `feed` (every committed fact, followed by the projections and the readers) by `seq`;
-- * `log_leaves` (the transparency log's leaves: a JSON record per change, listing the
--   document's codes) by `idx`.
--
-- What partitioning buys: every write and every recent read lands in the newest
-- partition (its indexes stay small and hot in memory); vacuum, analyze and index
-- maintenance work partition by partition; an old partition can be moved to a cheaper
-- tablespace, backed up once (it never changes again), or detached and archived without
-- a DELETE (docs/deployment.md: "Partitions"). Reads stay one index probe: the feed is
-- read `seq > $1 ORDER BY seq LIMIT $2` (pruned to the partitions from $1 on, read in
-- order, stopping at the limit), a leaf by its `idx` (pruned to one partition), and a
-- document by its id through `document_ids` below (one probe there, then one in the one
-- partition its `seq` names, pruned at run time: without the map it would be a probe in
-- every partition). What does grow with the number of partitions is a statement's set-up
-- (the partitioned plan's nodes and locks: microseconds per partition): at 10^8
-- documents a year, the width below makes 24 partitions a year; raise it for more.
--
-- Kept unpartitioned, on purpose:
-- * `document_seqs` (seq → id, log index): three numbers a row, point look-ups by seq;
--   a btree probe costs log(n) whatever its size, and it is the index of every document
--   ever accepted, archived ones included (a seq still names its document and its leaf).
-- * `document_ids` (new here, id → seq): as small, and it enforces what a partitioned
--   table cannot: a document id is unique across all partitions.
-- * `refusals`: one row per refused document (rare), read as `max(seq)`; partitioned, that
--   maximum would cost a probe per partition on every refusal.
-- * `log_hashes`: 32-byte hashes keyed by (level, idx), read at random levels; small
--   next to the leaves, and the log's proofs need all of them forever.
--
-- Partitions are created ahead, never on a commit's hot path: `tracemark_partitions`
-- records each table's width and the end of its last partition (`upto`), and
-- `tracemark_extend_partitions(table, key)` adds partitions until `key` is covered. The
-- store calls it from the writer, in a transaction of its own before a commit, only when
-- the commit's keys come within half a partition of `upto` (so once per `width` keys,
-- and never inside a commit's transaction). Changing a width (`UPDATE
-- tracemark_partitions SET width = …`) applies to the partitions made after.
--
-- The existing rows are moved into the new tables here, in this migration's transaction.

CREATE TABLE tracemark_partitions (
    tbl   text   PRIMARY KEY,                 -- the partitioned table
    width bigint NOT NULL CHECK (width > 0),  -- keys per new partition
    upto  bigint NOT NULL                     -- where its last partition ends (exclusive)
);

-- Widths: a partition is meant to hold weeks to months of a national registry's traffic.
INSERT INTO tracemark_partitions (tbl, width, upto) VALUES
    ('documents',  4194304, 0),               -- 2^22 documents (bodies: GBs per partition)
    ('feed',       16777216, 0),              -- 2^24 facts
    ('log_leaves', 16777216, 0);              -- 2^24 leaves

-- Adds partitions to `parent` until they cover `key`; returns where the last one ends.
-- Serialised by the row lock on `tracemark_partitions`; idempotent (a key already
-- covered adds nothing). Operators may call it too (`SELECT
-- tracemark_extend_partitions('feed', 100000000)` makes room for the feed's first 10^8).
-- The first partition starts at MINVALUE (every key has a home); a key far ahead of the
-- last partition (more than 16 widths) gets one partition for the gap, not thousands.
-- Each partition is made empty, then attached: ATTACH takes a SHARE UPDATE EXCLUSIVE
-- lock on the parent, which lets its reads and writes go on (CREATE TABLE … PARTITION OF
-- would take ACCESS EXCLUSIVE and stall them).
CREATE FUNCTION tracemark_extend_partitions(parent text, key bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    w    bigint;
    lo   bigint;
    hi   bigint;
    part text;
BEGIN
    SELECT width, upto INTO STRICT w, lo FROM tracemark_partitions WHERE tbl = parent FOR UPDATE;
    WHILE lo <= key LOOP
        hi := CASE WHEN key - lo >= 16 * w THEN lo + (key - lo) / w * w ELSE lo + w END;
        part := parent || '_' || lpad(lo::text, greatest(12, length(lo::text)), '0');
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING ALL)', part, parent);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                       parent, part, CASE WHEN lo = 0 THEN 'MINVALUE' ELSE lo::text END, hi);
        lo := hi;
    END LOOP;
    UPDATE tracemark_partitions SET upto = lo WHERE tbl = parent AND upto <> lo;
    RETURN lo;
END
$$;

-- documents: (id, seq) is the key (a partitioned table's unique keys must hold its
-- partition key; on Citus also its distribution column, the id); `document_ids` keeps an
-- id unique and says which partition holds it.
ALTER TABLE documents RENAME TO documents_v3;
ALTER INDEX documents_pkey RENAME TO documents_v3_pkey;
CREATE TABLE documents (
    id   uuid   NOT NULL,
    seq  bigint NOT NULL,                     -- global sequence number: the partition key
    meta bytea  NOT NULL,                     -- version byte ‖ JSON (the document without its body)
    body bytea  NOT NULL,                     -- the exact body bytes
    PRIMARY KEY (id, seq)
) PARTITION BY RANGE (seq);

CREATE TABLE document_ids (                   -- id → seq: which partition holds a document
    id  uuid   PRIMARY KEY,
    seq bigint NOT NULL
);

ALTER TABLE feed RENAME TO feed_v3;
ALTER INDEX feed_pkey RENAME TO feed_v3_pkey;
CREATE TABLE feed (                           -- committed facts, followed by projections
    seq  bigint NOT NULL PRIMARY KEY,
    fact bytea  NOT NULL                      -- registry::feed record
) PARTITION BY RANGE (seq);

ALTER TABLE log_leaves RENAME TO log_leaves_v3;
ALTER INDEX log_leaves_pkey RENAME TO log_leaves_v3_pkey;
CREATE TABLE log_leaves (                     -- the transparency log's leaves
    idx  bigint NOT NULL PRIMARY KEY,
    leaf bytea  NOT NULL
) PARTITION BY RANGE (idx);

-- Partitions for the rows there are, and half a partition beyond.
SELECT tracemark_extend_partitions(tbl, k + width / 2)
FROM tracemark_partitions
JOIN (SELECT 'documents' AS tbl, coalesce(max(seq), 0) AS k FROM documents_v3
      UNION ALL SELECT 'feed', coalesce(max(seq), 0) FROM feed_v3
      UNION ALL SELECT 'log_leaves', coalesce(max(idx), 0) FROM log_leaves_v3) AS m USING (tbl);

INSERT INTO documents (id, seq, meta, body) SELECT id, seq, meta, body FROM documents_v3;
INSERT INTO document_ids (id, seq) SELECT id, seq FROM documents_v3;
INSERT INTO feed (seq, fact) SELECT seq, fact FROM feed_v3;
INSERT INTO log_leaves (idx, leaf) SELECT idx, leaf FROM log_leaves_v3;
DROP TABLE documents_v3, feed_v3, log_leaves_v3;
