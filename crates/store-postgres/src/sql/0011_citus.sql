-- Citus layout of schema version 11: the packed code tables distributed by place, in the
-- code tables' colocation group (a code's page, its history, its package contents and
-- block entries on one shard).
SELECT create_distributed_table('code_pages', 'place', colocate_with => 'links');
SELECT create_distributed_table('code_events', 'place', colocate_with => 'links');
