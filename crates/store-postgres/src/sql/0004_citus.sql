-- Citus layout of schema version 4, run on the coordinator right after 0004_schema.sql.
--
-- `documents` is a distributed partitioned table: hash-distributed by id (co-located with
-- `shipments`, as before) and, on every worker, range-partitioned by seq. Partitions made
-- later by `tracemark_extend_partitions` are attached to it on the coordinator and Citus
-- distributes them the same way (co-located with their parent). `document_ids` goes with
-- them, so a look-up by id (map, then the one partition) is one shard's, one round trip.
SELECT create_distributed_table('documents', 'id', colocate_with => 'shipments');
SELECT create_distributed_table('document_ids', 'id', colocate_with => 'shipments');

-- `feed` and `log_leaves` stay plain (partitioned) tables on the coordinator, with
-- `tracemark_partitions`: written by the single writer in every commit, read in ranges
-- of their key (no two-phase round trip for them, no fan-out for an ordered range).
