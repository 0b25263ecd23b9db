-- Citus layout of schema version 3: writer_lease stays a plain table on the coordinator,
-- read FOR SHARE at the start of every commit (as counters and the feed, no fan-out).
SELECT 1;
