-- Schema version 5: the nonces of verified request signatures and used sign-in challenges,
-- shared by every process serving the database. A signature's nonce is recorded (durably,
-- before the request is acted on) with INSERT … ON CONFLICT DO NOTHING: the primary key
-- makes a replay to any process — the writer, a reader, the reader that took over — a
-- conflict, whatever the first request's outcome was. Rows older than the signature window
-- (300 s) are deleted by the writer now and then.
CREATE TABLE nonces (
    participant bigint   NOT NULL,
    kind        smallint NOT NULL,
    hash        bytea    NOT NULL,
    at          bigint   NOT NULL,
    PRIMARY KEY (participant, kind, hash)
);
CREATE INDEX nonces_at ON nonces (at);
