-- Citus layout of schema version 8: nothing new to distribute (the coordinator propagates
-- the new columns and index of `events` to its shards; `links` and `block_codes` stay in
-- the co-location group `codes` had).
SELECT 1;
