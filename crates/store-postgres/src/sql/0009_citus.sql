-- Citus layout of schema version 9: the ranges stay a plain table on the coordinator (one
-- row per 100,000 codes emitted, written by the one writer, read by key), as the feed.
SELECT 1;
