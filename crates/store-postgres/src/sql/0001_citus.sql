-- Citus layout of schema version 1, run on the coordinator right after 0001_schema.sql.
-- Shard count: `citus.shard_count` (32 by default; more when many workers are planned).

-- Code-keyed tables: hash of the code key, one colocation group.
SELECT create_distributed_table('codes', 'code');
SELECT create_distributed_table('events', 'code', colocate_with => 'codes');
SELECT create_distributed_table('links', 'parent', colocate_with => 'codes');
SELECT create_distributed_table('block_codes', 'code', colocate_with => 'codes');

-- Small, read on every path, rarely written: a copy on every node.
SELECT create_reference_table('participants');
SELECT create_reference_table('products');
SELECT create_reference_table('blocks');

-- Documents and what hangs off them, by their own keys.
SELECT create_distributed_table('documents', 'id');
SELECT create_distributed_table('shipments', 'ship', colocate_with => 'documents');
SELECT create_distributed_table('document_seqs', 'seq');
SELECT create_distributed_table('orders', 'id');
SELECT create_distributed_table('order_serials', 'order_id', colocate_with => 'orders');
SELECT create_distributed_table('complaints', 'id');
SELECT create_distributed_table('complaint_photos', 'id', colocate_with => 'complaints');
SELECT create_distributed_table('inventory', 'owner');
SELECT create_distributed_table('projection_rows', 'name');
SELECT create_distributed_table('projection_checkpoints', 'name', colocate_with => 'projection_rows');

-- counters, refusals, feed, log_leaves, log_hashes: plain tables on the coordinator
-- (see 0001_schema.sql).
