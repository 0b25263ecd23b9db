-- Schema version 7: the inbox of facts from reads in processes that do not write.
-- A reader (a second `serve` on the database) answers verifications and till checks; the
-- facts they make (a code verified, a failed tail check, a till check) belong in the feed,
-- which only the writer appends to. Readers insert them here; the writer takes the oldest
-- now and then, appends them to the feed and deletes them in the same transaction (so each
-- reaches the feed exactly once). Readers stop inserting past a bound (the writer away).
CREATE TABLE fact_inbox (
    id   bigserial PRIMARY KEY,
    fact bytea     NOT NULL
);
