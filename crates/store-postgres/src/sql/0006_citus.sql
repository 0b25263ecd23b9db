-- Citus layout of schema version 6: nothing new (the coordinator propagates the storage
-- parameter of 0006_schema.sql to every shard of `codes`).
SELECT 1;
