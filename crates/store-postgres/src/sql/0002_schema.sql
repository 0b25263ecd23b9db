-- Schema version 2: secrets kept in the database (issuing keys, the token key, the log's
-- signing key), so that every process serving one database uses the same ones.
CREATE TABLE secrets (
    name  text  PRIMARY KEY,
    value bytea NOT NULL
);
