//! The schema and its versions: an ordered list of migrations, each plain SQL (readable
//! on its own: docs/deployment.md quotes it) and the Citus statements that distribute
//! what it created.
//!
//! The migration runs at every connect ([`crate::PgStore::connect_with`]), in one transaction under an advisory lock (two
//! processes starting at once take turns; the second finds the work done): an empty
//! database gets every migration, an older one those above its version, a newer one is
//! refused (an older build must not write a schema it does not know).

use crate::{pg, Engine};
use registry::store::{StoreError, StoreResult};

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
}

/// Every migration, in order; the last one's version is [`SCHEMA_VERSION`].
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("sql/0001_schema.sql"),
        citus: include_str!("sql/0001_citus.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("sql/0002_schema.sql"),
        citus: include_str!("sql/0002_citus.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("sql/0003_schema.sql"),
        citus: include_str!("sql/0003_citus.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("sql/0004_schema.sql"),
        citus: include_str!("sql/0004_citus.sql"),
    },
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 4;

const _: () = assert!(MIGRATIONS[MIGRATIONS.len() - 1].version == SCHEMA_VERSION);

/// The table that records the schema's version (one row).
pub const VERSION_TABLE: &str = "tracemark_schema";

/// Brings the schema of the connection's `search_path` to [`SCHEMA_VERSION`], in one
/// transaction; returns the engine it found. `upto` stops early (tests build an older
/// schema with it).
pub(crate) async fn migrate(
    client: &mut deadpool_postgres::ClientWrapper,
    upto: u32,
) -> StoreResult<Engine> {
    let tx = client.transaction().await.map_err(pg)?;
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
    let mut reached = current;
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= upto)
    {
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| StoreError::new(format!("schema migration {}: {}", m.version, pg(e).0)))?;
        if citus {
            tx.batch_execute(m.citus).await.map_err(|e| {
                StoreError::new(format!(
                    "schema migration {} (Citus layout): {}",
                    m.version,
                    pg(e).0
                ))
            })?;
        }
        reached = m.version;
    }
    if reached != current {
        tx.batch_execute(&format!(
            "DELETE FROM {VERSION_TABLE}; INSERT INTO {VERSION_TABLE} (version) VALUES ({reached})"
        ))
        .await
        .map_err(pg)?;
    }
    tx.commit().await.map_err(pg)?;
    Ok(engine)
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
