-- Citus layout of schema version 10: the code-keyed tables distributed by the code's
-- place, in a colocation group of their own (a code's rows, and a run of an order's
-- codes, on one shard); the map the migration joins with on every node.
SELECT create_distributed_table('events', 'place', colocate_with => 'none');
SELECT create_distributed_table('links', 'place', colocate_with => 'events');
SELECT create_distributed_table('block_codes', 'place', colocate_with => 'events');
SELECT create_reference_table('tracemark_code_places');
-- tracemark_placement stays on the coordinator.
