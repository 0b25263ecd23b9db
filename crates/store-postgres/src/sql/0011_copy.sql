-- Schema version 11's copy (after its Citus layout, so on Citus the rows go straight to
-- the shards: `events` and the new tables share the colocation group of `place`).
-- Each code's newest state becomes an entry of its page; its events one run per page
-- (`gen` 0: the history from before the migration); then `events` goes.
INSERT INTO code_pages (place, slot, codes, states)
SELECT place, slot, array_agg(code ORDER BY code), array_agg(state ORDER BY code)
FROM (
    SELECT DISTINCT ON (place, code)
           place, (get_byte(sha256(code), 0) & 15)::smallint AS slot, code, state
    FROM events WHERE state IS NOT NULL
    ORDER BY place, code, seq DESC, sub DESC
) s
GROUP BY place, slot;

INSERT INTO code_events (place, slot, gen, codes, seqs, events)
SELECT place, slot, 0,
       array_agg(code ORDER BY code, seq), array_agg(seq ORDER BY code, seq),
       array_agg(event ORDER BY code, seq)
FROM (
    SELECT place, (get_byte(sha256(code), 0) & 15)::smallint AS slot, code, seq, event
    FROM events WHERE sub = 0 AND event IS NOT NULL
) e
GROUP BY place, slot;

DROP TABLE events;
