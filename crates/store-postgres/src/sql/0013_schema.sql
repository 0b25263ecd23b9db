-- Schema version 13: documents' bodies and the feed's facts compressed by the store with
-- zstd (issue 16: bytes a code at 100 M).
--
-- A document's body is the exact bytes its sender signed: for a document of 1,000 codes,
-- ~34 kB of JSON whose only content is the codes' random serials. PostgreSQL compresses
-- it when it is moved out of line, with pglz, to ~0.51 of its size; zstd (level 1) takes
-- it to ~0.30, close to the serials' own entropy. A fact of the feed (postcard: a unit's
-- key and two briefs) goes from ~0.57 with pglz to ~0.36. Measured on the rows of
-- `bench --scale 1 --postgres`: at 100 M the two were 91 of the 227 bytes a code.
--
-- `zstd` says which rows are compressed: rows written before 13 are raw and read as
-- before; from 13 on a value of `store_postgres::squeeze::FROM` bytes or more is stored
-- compressed when that saves at least a tenth. PostgreSQL's own pglz still runs on the
-- compressed value and gives up on it within its first kilobyte.
--
-- An older build must not read this layout: the version says so.
ALTER TABLE documents ADD COLUMN zstd boolean NOT NULL DEFAULT false;
ALTER TABLE feed ADD COLUMN zstd boolean NOT NULL DEFAULT false;
