-- Citus layout of schema version 5: nonces distributed by participant (one participant's
-- signatures on one shard; a record is one single-shard insert).
SELECT create_distributed_table('nonces', 'participant');
