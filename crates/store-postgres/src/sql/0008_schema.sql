-- Schema version 8: a code's state lives in its history. `codes` goes; `events` holds,
-- besides each event, the state that event left, and rows for the states written without
-- an event.
--
-- Why: every document rewrites the state of each of its codes. Kept in place (`codes`,
-- one row per code, `INSERT … ON CONFLICT DO UPDATE`), that rewrite cost a group commit of
-- 50,000 codes more than half its time (~6–10 µs a code: a conflict probe, a row lock and
-- a new row version each), more than appending the events themselves. Appended instead,
-- in the event's own row, the state rides on the binary COPY that writes the events: no
-- probe, no lock, no second row or index entry per code, and no dead versions to prune
-- (a state is never overwritten; the history keeps what each event left).
--
-- The rows of a code, newest first in the index `events_newest_first`
-- (code, seq DESC, sub DESC):
--
-- * an event (`sub` 0): `seq` its number, `event` its record, and `state` the code's state
--   after it when the commit that wrote it left that state last (the writer's state names
--   its event count, `CodeState::events` = seq + 1), else NULL (a code with several events
--   in one commit keeps the state on the last only; events written before this version
--   have none);
-- * a state written without an event (`sub` 1: emission, packing, blocks…): at `seq` =
--   the code's last event number (-1 before its first), `event` NULL; written again
--   (`ON CONFLICT DO UPDATE`) when another such state follows before the next event.
--
-- The code's current state is the newest row with a state: one probe in the index, then
-- the first row (or the next, past an event that left none). Its events are its `sub` 0
-- rows in `seq` order.
--
-- The primary key (code, seq) gives way to the unique index on (code, seq, sub) in that
-- order (a primary key cannot be descending): an event is still unique per code and
-- number. On Citus the index holds the distribution column, `code`.
ALTER TABLE events ALTER COLUMN event DROP NOT NULL;
ALTER TABLE events ADD COLUMN sub smallint NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN state bytea;
ALTER TABLE events DROP CONSTRAINT events_pkey;
CREATE UNIQUE INDEX events_newest_first ON events (code, seq DESC, sub DESC);

-- Each stored state becomes its code's newest row: after its last event.
INSERT INTO events (code, seq, sub, event, state)
SELECT c.code, coalesce(max(e.seq), -1), 1, NULL, c.state
FROM codes c LEFT JOIN events e ON e.code = c.code
GROUP BY c.code, c.state;

DROP TABLE codes;
