-- Citus layout of schema version 7: the fact inbox stays a plain table on the coordinator,
-- beside the feed it drains into (the writer's commit deletes from both in one
-- transaction, no two-phase round trip for it).
SELECT 1;
