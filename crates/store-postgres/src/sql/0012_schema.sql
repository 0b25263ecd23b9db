-- Schema version 12: spread codes' pages salted (issue 16, an attacker's review of 11), and
-- a run's events kept once each.
--
-- 1. Salted pages. The step is the store's, in Rust (src/placing.rs, `salt_pages`), in
-- this migration's transaction, after the SQL below:
--
-- * `secrets` gets `store.page_salt`, 16 random bytes made once per database;
-- * a spread code (its place the 32-bit FNV hash of its own key: an SSCC, a long
--   self-made serial) moves to slot 16 + the low 14 bits of SHA-256(salt ‖ key) of its
--   place; placed codes (a run's place) keep `get_byte(sha256(code), 0) & 15`.
--
-- Why: whoever picks a spread code's key picks its place and, at 11, its slot, and FNV
-- collisions cost nothing to find. A wholesaler forming SSCCs outside every held prefix,
-- or a producer ordering self-made serials, could pile codes into one page — a victim's
-- run — which every commit touching it reads and rewrites whole and every look-up in it
-- decompresses. Without the salt, which never leaves the database, such codes scatter
-- over 16,384 pages of their place.
--
-- An older build must not write this layout: the version says so.
--
-- 2. A run's events kept once each (issue 16: bytes a code at 100 M).
--
-- A run of `code_events` is a page's events of one commit: ~64 codes of one run of an
-- order, changed by one document, so their events are mostly one and the same (document,
-- type, status, owner, time, previous document). At 11 each entry carried its own copy
-- (36 bytes and the array's 4-byte length): the runs were 92 of the 227 bytes a code at
-- 100 M (docs/scale-postgres.md). From 12 on `events` holds a run's distinct events and
-- `idx` names each entry's, one byte an entry (`get_byte(idx, n - 1) + 1`, n the entry's
-- 1-based position). A run with more than 256 distinct events, and every run written
-- before 12, has no `idx`: its `events` stay parallel to its codes, and read as before.
ALTER TABLE code_events ADD COLUMN idx bytea;
--
-- 3. Small packed rows compressed too. PostgreSQL compresses a row's `MAIN` columns in
-- line only once the row passes `toast_tuple_target`, 2 kB by default; a run of a
-- document that ends inside a run of 1,024 codes holds fewer than ~30 entries, and a
-- receipt's codes a handful, and stayed raw. From 128 bytes on they are compressed.
-- `seqs` and `idx` are stored `MAIN` as the other arrays are: under the default
-- (`EXTENDED`) a row still over the target after its compressible columns were
-- compressed has them moved out of line to the TOAST table (at 11, a large run's `seqs`
-- went there: a TOAST row, and a TOAST read in every history read of it); `MAIN` columns
-- leave the row only when it would not fit in a heap page.
-- Not on Citus, which runs no `SET STORAGE` on a distributed table (setting it shard by
-- shard, `run_command_on_shards`, waits forever on the locks this migration's own
-- `ADD COLUMN` holds on the shards): there the two columns stay `EXTENDED`.
DO $$
BEGIN
    -- (plpgsql plans each condition when it reaches it: the second names Citus's table.)
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM pg_dist_partition
                   WHERE logicalrelid = 'code_events'::regclass) THEN
            RETURN;
        END IF;
    END IF;
    ALTER TABLE code_events ALTER COLUMN seqs SET STORAGE MAIN,
                            ALTER COLUMN idx SET STORAGE MAIN;
END
$$;
ALTER TABLE code_events SET (toast_tuple_target = 128);
ALTER TABLE code_pages SET (toast_tuple_target = 128);
