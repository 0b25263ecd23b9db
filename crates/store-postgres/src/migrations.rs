//! The schema and its versions: an ordered list of migrations, each plain SQL (readable
//! on its own: docs/deployment.md quotes it) and the Citus statements that distribute
//! what it created.
//!
//! The migration runs at every connect ([`crate::PgStore::connect_with`]), in one transaction under an advisory lock (two
//! processes starting at once take turns; the second finds the work done): an empty
//! database gets every migration, an older one those above its version, a newer one is
//! refused (an older build must not write a schema it does not know). From version 10 on
//! the same transaction places the code rows (`src/placing.rs`): SQL cannot compute a
//! code's place, so that step of migration 10, and the layout check of every connect, is
//! Rust.

use crate::{pg, placing, Engine};
use std::time::Duration;
use store::{StoreError, StoreResult};
use types::placement::Placement;

/// One step of the schema.
#[derive(Debug)]
pub struct Migration {
    /// The schema version this step brings the database to.
    pub version: u32,
    /// The SQL of the step (tables, indexes).
    pub sql: &'static str,
    /// What the step adds on a Citus coordinator, run after [`Migration::sql`]:
    /// `create_distributed_table` / `create_reference_table` for its new tables.
    pub citus: &'static str,
    /// What the store then does in Rust, in the same transaction (`src/placing.rs`):
    /// what SQL cannot compute (a place, a salted slot).
    pub step: Step,
    /// SQL run last, after the Citus layout and on both engines: copies rows into tables
    /// the step made (on Citus already distributed, so the rows go straight to the
    /// shards); empty for none.
    pub copy: &'static str,
}

/// Every migration, in order; the last one's version is [`SCHEMA_VERSION`].
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("sql/0001_schema.sql"),
        citus: include_str!("sql/0001_citus.sql"),
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 2,
        sql: include_str!("sql/0002_schema.sql"),
        citus: include_str!("sql/0002_citus.sql"),
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 3,
        sql: include_str!("sql/0003_schema.sql"),
        citus: include_str!("sql/0003_citus.sql"),
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 4,
        sql: include_str!("sql/0004_schema.sql"),
        citus: include_str!("sql/0004_citus.sql"),
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 5,
        sql: include_str!("sql/0005_schema.sql"),
        citus: include_str!("sql/0005_citus.sql"),
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 6,
        sql: include_str!("sql/0006_schema.sql"),
        citus: include_str!("sql/0006_citus.sql"),
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 7,
        sql: include_str!("sql/0007_schema.sql"),
        citus: include_str!("sql/0007_citus.sql"),
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 8,
        sql: include_str!("sql/0008_schema.sql"),
        citus: include_str!("sql/0008_citus.sql"),
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 9,
        sql: include_str!("sql/0009_schema.sql"),
        citus: include_str!("sql/0009_citus.sql"),
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 10,
        sql: include_str!("sql/0010_schema.sql"),
        citus: include_str!("sql/0010_citus.sql"),
        step: Step::Places,
        copy: "",
    },
    Migration {
        version: 11,
        sql: include_str!("sql/0011_schema.sql"),
        citus: include_str!("sql/0011_citus.sql"),
        step: Step::None,
        copy: include_str!("sql/0011_copy.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("sql/0012_schema.sql"),
        citus: "",
        step: Step::SaltPages,
        copy: "",
    },
    Migration {
        version: 13,
        sql: include_str!("sql/0013_schema.sql"),
        citus: "",
        step: Step::None,
        copy: "",
    },
    Migration {
        version: 14,
        sql: include_str!("sql/0014_schema.sql"),
        citus: "",
        step: Step::FeedKinds,
        copy: "",
    },
];

/// A migration's step in Rust ([`Migration::step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// None.
    None,
    /// Version 10: the code rows of the tables the step renamed `*_v9` copied into its
    /// new ones, with their places.
    Places,
    /// Version 12: the page salt made, and spread codes' entries moved to their salted
    /// slots (`crate::slot`).
    SaltPages,
    /// Version 14: each stored fact's kind written beside it (`feed_kinds`).
    FeedKinds,
}

/// Facts read a page at a time by [`feed_kinds`].
const FEED_KINDS_PAGE: i64 = 10_000;

/// Migration 14's step: each fact of the feed gets its kind (`feed.kind`), read from the
/// record by `types::feed::peek` after the store's decompression, which SQL cannot do.
/// A scan of the feed, once (750 k facts at 100 M codes here); facts of no known version
/// keep none.
async fn feed_kinds(tx: &tokio_postgres::Transaction<'_>) -> StoreResult<()> {
    let mut after = 0i64;
    loop {
        let rows = tx
            .query(
                "SELECT seq, fact, zstd FROM feed WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after, &FEED_KINDS_PAGE],
            )
            .await
            .map_err(pg)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get(0).map_err(pg)?;
        let (mut seqs, mut kinds) = (Vec::new(), Vec::new());
        for r in &rows {
            let fact =
                crate::squeeze::unpack(r.try_get(1).map_err(pg)?, r.try_get(2).map_err(pg)?)?;
            if let Some((_, kind)) = types::feed::peek(&fact) {
                seqs.push(r.try_get::<_, i64>(0).map_err(pg)?);
                kinds.push(i16::from(kind.code()));
            }
        }
        tx.execute(
            "UPDATE feed SET kind = k.kind \
             FROM unnest($1::bigint[], $2::smallint[]) AS k(seq, kind) WHERE feed.seq = k.seq",
            &[&seqs, &kinds],
        )
        .await
        .map_err(pg)?;
    }
}

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 14;

/// The first version whose code rows carry their place (`types::placement`): the
/// store needs its placement from here on.
pub const PLACED_SINCE: u32 = 10;

/// The version from which a code's rows are packed by page (`code_pages`, `code_events`:
/// `src/sql/0011_schema.sql`).
pub const PACKED_SINCE: u32 = 11;

/// The version from which spread codes' slots are salted (`crate::slot`).
pub const SALTED_SINCE: u32 = 12;

const _: () = assert!(MIGRATIONS[MIGRATIONS.len() - 1].version == SCHEMA_VERSION);

/// The table that records the schema's version (one row).
pub const VERSION_TABLE: &str = "tracemark_schema";

/// What a migration found: the engine, whether the code rows are placed by a keyring the
/// store was not given (it then refuses code reads and writes), and the page salt (zeros
/// below version 12).
pub(crate) struct Migrated {
    pub engine: Engine,
    pub unplaceable: bool,
    pub salt: [u8; 16],
}

/// Brings the schema of the connection's `search_path` to [`SCHEMA_VERSION`], in one
/// transaction, with the code rows placed by `placement` (spread without one); returns
/// the engine it found. `upto` stops early (tests build an older schema with it; a
/// store reads its keys before the code rows are placed). `timeout` bounds every
/// statement of it (placing a large registry's rows takes long).
pub(crate) async fn migrate(
    client: &mut deadpool_postgres::ClientWrapper,
    upto: u32,
    placement: Option<Placement>,
    timeout: Duration,
) -> StoreResult<Migrated> {
    let tx = client.transaction().await.map_err(pg)?;
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {}",
        timeout.as_millis().max(1)
    ))
    .await
    .map_err(pg)?;
    // One lock per schema (tests run many schemas in one database at once).
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('tracemark schema ' || coalesce(current_schema(), '')))",
        &[],
    )
    .await
    .map_err(pg)?;
    let engine = detect(&tx).await?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version integer NOT NULL)"
    ))
    .await
    .map_err(pg)?;
    let current: i32 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}"),
            &[],
        )
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    let current = u32::try_from(current).map_err(StoreError::new)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::new(format!(
            "the database's schema is version {current}, newer than this build's \
             {SCHEMA_VERSION}: run a newer tracemark"
        )));
    }
    let citus = matches!(engine, Engine::Citus { .. });
    if citus && current < upto {
        // One migration at a time on a cluster, whatever its schema: Citus's own locks
        // (the extension's, the colocation groups', the shards' placements) are taken in
        // different orders by two schemas' migrations at once, which deadlocked (seen in
        // the tests, whose schemas migrate side by side). Taken after the schema's own
        // lock, by every migration in the same order.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('tracemark citus migration'))",
            &[],
        )
        .await
        .map_err(pg)?;
        // Citus propagates a function (0004's `tracemark_extend_partitions`) to every node
        // over one connection per node, which it cannot do after a parallel operation on
        // a distributed table in the same transaction (0001's distribution, 0004's copy):
        // the whole migration runs over one connection per node.
        tx.batch_execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
            .await
            .map_err(pg)?;
    }
    let mut reached = current;
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= upto)
    {
        run_part(&tx, m.version, "", m.sql).await?;
        if citus {
            run_part(&tx, m.version, " (Citus layout)", m.citus).await?;
        }
        let step = match m.step {
            Step::None => Ok(()),
            Step::Places => placing::copy_v9(&tx, placement.as_ref()).await,
            Step::SaltPages => placing::salt_pages(&tx, citus).await.map(drop),
            Step::FeedKinds => feed_kinds(&tx).await,
        };
        step.map_err(|e| {
            StoreError::new(format!("schema migration {}: {}", m.version, e.message()))
        })?;
        run_part(&tx, m.version, " (copy)", m.copy).await?;
        reached = m.version;
    }
    if reached != current {
        tx.batch_execute(&format!(
            "DELETE FROM {VERSION_TABLE}; INSERT INTO {VERSION_TABLE} (version) VALUES ({reached})"
        ))
        .await
        .map_err(pg)?;
    }
    let salt = if reached >= SALTED_SINCE {
        placing::read_salt(&tx)
            .await?
            .ok_or_else(|| StoreError::new("the database has no page salt (secrets)"))?
    } else {
        [0; 16]
    };
    let unplaceable = if upto >= PLACED_SINCE && reached >= PLACED_SINCE {
        placing::check(
            &tx,
            placement.as_ref(),
            citus,
            reached >= PACKED_SINCE,
            &salt,
        )
        .await?
    } else {
        false
    };
    tx.commit().await.map_err(pg)?;
    Ok(Migrated {
        engine,
        unplaceable,
        salt,
    })
}

/// Runs one part of migration `version` (`part` names it in an error: "", " (copy)"…),
/// statement by statement: Citus propagates some DDL (renames of distributed tables among
/// them) by the text of the query, which it cannot do when that text holds several.
async fn run_part(
    tx: &deadpool_postgres::Transaction<'_>,
    version: u32,
    part: &str,
    sql: &str,
) -> StoreResult<()> {
    for stmt in statements(sql) {
        tx.batch_execute(stmt).await.map_err(|e| {
            StoreError::new(format!(
                "schema migration {version}{part}: {}",
                pg(e).message()
            ))
        })?;
    }
    Ok(())
}

/// The statements of a migration's SQL, each with the comments before it: split at each
/// `;` outside comments, quoted strings and identifiers, and dollar-quoted bodies
/// (`$$ … $$`, `$tag$ … $tag$`). Pieces with nothing but comments and blanks are left out.
/// (Backslash escapes, `E'…'`, are not understood: the migrations use none.)
pub fn statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i, mut code) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            q @ (b'\'' | b'"') => {
                code = true;
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'$' => {
                code = true;
                // A dollar quote's tag: `$`, letters, digits or `_`, `$`.
                let tag_end = b[i + 1..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map(|n| i + 1 + n);
                match tag_end {
                    Some(e)
                        if b[e] == b'$' && !b[i + 1..e].first().is_some_and(u8::is_ascii_digit) =>
                    {
                        let tag = &sql[i..=e];
                        i = sql[e + 1..]
                            .find(tag)
                            .map_or(b.len(), |n| e + 1 + n + tag.len())
                            - 1;
                    }
                    _ => {}
                }
            }
            b';' => {
                if code {
                    out.push(sql[start..=i].trim());
                }
                start = i + 1;
                code = false;
            }
            c if !c.is_ascii_whitespace() => code = true,
            _ => {}
        }
        i += 1;
    }
    if code {
        out.push(sql[start..].trim());
    }
    out
}

/// Plain PostgreSQL, or a Citus coordinator (the `citus` extension is installed in this
/// database).
async fn detect(tx: &deadpool_postgres::Transaction<'_>) -> StoreResult<Engine> {
    let version: String = tx
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    let citus = tx
        .query_opt(
            "SELECT extversion FROM pg_extension WHERE extname = 'citus'",
            &[],
        )
        .await
        .map_err(pg)?;
    let Some(row) = citus else {
        return Ok(Engine::Postgres { version });
    };
    let citus_version: String = row.try_get(0).map_err(pg)?;
    let workers: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_dist_node \
             WHERE noderole = 'primary' AND isactive AND groupid <> 0",
            &[],
        )
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    Ok(Engine::Citus {
        version: format!("Citus {citus_version} on PostgreSQL {version}"),
        workers: usize::try_from(workers).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_split_outside_comments_quotes_and_bodies() {
        let sql = "-- a; comment\nCREATE TABLE t (a int); -- x;\n\
                   INSERT INTO t VALUES (';'), (\"x;\");\n\
                   CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;\n\
                   SELECT $q$;$q$, $1\n-- only a comment;\n";
        assert_eq!(
            statements(sql),
            vec![
                "-- a; comment\nCREATE TABLE t (a int);",
                "-- x;\nINSERT INTO t VALUES (';'), (\"x;\");",
                "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;",
                "SELECT $q$;$q$, $1\n-- only a comment;",
            ]
        );
    }

    #[test]
    fn every_migration_splits_into_whole_statements() {
        for m in MIGRATIONS {
            for s in statements(m.sql).into_iter().chain(statements(m.citus)) {
                assert!(s.ends_with(';'), "migration {}: {s}", m.version);
            }
        }
        // 0004's function is one statement.
        assert!(statements(MIGRATIONS[3].sql)
            .iter()
            .any(|s| s.contains("CREATE FUNCTION") && s.ends_with("$$;")));
    }
}
