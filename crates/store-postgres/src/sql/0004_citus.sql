-- Citus layout of schema version 4: nothing new (the coordinator propagates the storage
-- parameter of 0004_schema.sql to every shard of `codes`).
SELECT 1;
