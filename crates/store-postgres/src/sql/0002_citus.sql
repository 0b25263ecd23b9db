-- Citus layout of schema version 2: tiny, read at start by every process.
SELECT create_reference_table('secrets');
