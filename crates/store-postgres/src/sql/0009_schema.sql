-- Schema version 9: codes emitted as ranges (registry::ranges). An emission chunk of an
-- order of operator serials with a MAC or short tail is one row here instead of a state
-- row per code; a code's state is derived from its range until its first change writes
-- one into `events`. The key is the range's storage key (GTIN u64 BE, serial length,
-- first counter u64 BE): `bytea` compares bytewise, so the range holding a counter is the
-- last key at or before (GTIN, length, counter), as in the embedded engine.
CREATE TABLE code_ranges (
    k      bytea PRIMARY KEY,
    record bytea NOT NULL
);
