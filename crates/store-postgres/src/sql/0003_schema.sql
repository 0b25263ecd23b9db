-- Schema version 3: the writer's lease (one row). Several processes may serve one database;
-- the one named here (until expires_at, by the database's clock) alone commits, and every
-- commit of its reads this row FOR SHARE and checks holder and epoch first (fencing: a
-- process that lost the lease can never commit again).
CREATE TABLE writer_lease (
    id         integer     PRIMARY KEY CHECK (id = 1),
    holder     text        NOT NULL,
    address    text,
    epoch      bigint      NOT NULL,
    expires_at timestamptz NOT NULL
);
