//! The scale-out storage engine: the registry's [`Store`] on PostgreSQL 15+ and on a Citus
//! coordinator (distributed PostgreSQL), through `tokio-postgres` and a bounded
//! `deadpool-postgres` pool.
//!
//! A [`WriteSet`] becomes one SQL transaction (on Citus one distributed transaction,
//! two-phase committed across the workers it touches), committed with
//! `synchronous_commit` on before `commit` returns: an acknowledged write survives a crash
//! of the database or of the registry, and a set is never half-applied.
//!
//! The [`Store`] trait is synchronous and is called from the registry's writer thread, its
//! projection threads and reader threads, possibly from inside a tokio runtime. A
//! [`PgStore`] owns a small runtime of its own; each call is spawned onto it and the
//! calling thread waits on a plain channel (never `block_on`, which panics inside a
//! runtime). Every call is bounded: the pool's size and wait, the connect timeout, the
//! server's `statement_timeout` and a client-side deadline; every failure is a
//! [`StoreError`] (the registry answers 503).
//!
//! Values are the registry's own records, the bytes the embedded engine stores; keys are
//! typed columns (`u64`s bit for bit in `bigint`s). The schema ([`migrations`], readable
//! in `src/sql/`):
//!
//! | table | key | value | Citus |
//! |---|---|---|---|
//! | `code_pages` | (place, [`slot`]): a page of ~64 codes | `codes` (sorted `CodeKey::as_bytes`), `states` ([`CodeState`] binary), parallel arrays | distributed by `place` |
//! | `code_events` | (place, slot, gen), not unique: a page's run per commit | `codes`, `seqs` (parallel arrays), `events` ([`CodeEvent`] binary: each distinct one once, `idx` naming each entry's) | by `place`, co-located with `code_pages` |
//! | `links` | (parent's place, parent, child) | — | by `place`, co-located with `code_pages` |
//! | `block_codes` | (block, code's place, code) | — | by `place`, co-located with `code_pages` |
//! | `code_ranges` | GTIN ‖ serial length ‖ first counter | [`CodeRange`] binary | coordinator |
//! | `participants` | id | `tin`, `record` (version byte ‖ JSON) | reference |
//! | `products` | GTIN | `record` | reference |
//! | `blocks` | id | `record` | reference |
//! | `documents` | (id (UUID), seq); partitioned by range of `seq` | `meta` (JSON record without the body), `body`, `zstd` (the body compressed by the store: [`squeeze`]) | by `id` |
//! | `document_ids` | id | `seq` (which partition holds it) | by `id`, co-located with `documents` |
//! | `shipments` | ship doc id | `accept` doc id | by `ship`, co-located with `documents` |
//! | `document_seqs` | seq | `id`, `log_index` | by `seq` |
//! | `orders` | id | `participant`, `record` | by `id` |
//! | `order_serials` | (order id, idx) | `serial` | by `order_id`, co-located with `orders` |
//! | `complaints` | id (UUID v7) | `record` | by `id` |
//! | `complaint_photos` | id | `photo` | by `id`, co-located with `complaints` |
//! | `inventory` | (owner, GTIN, bucket) | `n` | by `owner` |
//! | `projection_rows` | (name, key) | `value` | by `name` |
//! | `projection_checkpoints` | name | `checkpoint` | by `name`, co-located with the rows |
//! | `counters` | name | `value` (u64) | coordinator |
//! | `refusals` | seq | `record` | coordinator |
//! | `feed` | seq; partitioned by range of `seq` | `fact` (`types::feed` record), `zstd` (compressed by the store: [`squeeze`]), `kind` (`types::feed::FactKind::code`) | coordinator |
//! | `log_leaves` | idx; partitioned by range of `idx` | `leaf` | coordinator |
//! | `log_hashes` | (level, idx) | `hash` (32 bytes) | coordinator |
//! | `secrets` | name | `value` | reference |
//! | `tracemark_schema` | — | `version` | coordinator |
//! | `tracemark_partitions` | table | `width`, `upto` (its last partition's end) | coordinator |
//! | `tracemark_placement` | — | `fingerprint` of the keyring that placed the code rows (NULL: spread) | coordinator |
//! | `tracemark_code_places` | code | `place` (the migration's map; empty otherwise) | reference |
//!
//! A code's **place** (schema 10, `src/sql/0010_schema.sql`) is the key design the
//! embedded engine shares, `types::placement`: for a code whose serial the issuing
//! keyring's permutation maps back to a counter, a hash of its run of 1,024 consecutive
//! counters (GTIN, serial length, counter ÷ 1,024); for any other code (long self-made
//! serials, SSCCs), a hash of its key. Stored as `integer` (the `u32` bit for bit), it
//! comes first in every key of the code-keyed tables, and every query on them names it
//! (`WHERE place = $1 AND code = $2`; many codes: arrays of (place, code)): a document of
//! an order's consecutive codes reads and writes one or two ranges of the index, and on
//! Citus one or two shards, not one leaf — and one shard — per code. So a [`PgStore`]
//! needs the keyring's [`Placement`] at connect ([`PgStore::connect_placed`],
//! [`PgStore::connect_keyed`] when the keys live in the database); one connected without
//! it places every code spread and refuses code rows a keyring placed. Rows of an older
//! schema, or placed spread, are put at their places in the connect's migration
//! (`src/placing.rs`).
//!
//! A code's state and history are **packed by page** (schema 11,
//! `src/sql/0011_schema.sql`): a page is (place, [`slot`]), ~64 codes of a run, its states
//! one row of `code_pages` (parallel arrays, compressed in line by the server once over
//! ~2 kB), its events one row of `code_events` per commit that touched it. A look-up is
//! one index probe and an `array_position`; a commit reads the pages it touches whole,
//! merges its states into them and writes them back, and appends one run per page, both
//! by binary `COPY` (`src/pages.rs`). Until schema 10 every event was a row carrying the state it left
//! (`events`, schema 8): ~630 of the ~780 bytes a code the scale run measured
//! (docs/scale-postgres.md).
//!
//! "Coordinator": a plain table on the coordinator, written by the single writer in
//! every commit and read in sequence ranges (no two-phase round trip for it, no fan-out
//! for an ordered range).
//!
//! "Partitioned by range": the tables that grow with time are declaratively partitioned
//! by a key that grows with it, and their partitions made ahead by the writer
//! ([`partitions`]); old ones can be moved, backed up once, or detached and archived.
#![deny(missing_docs)]

pub mod bench;
pub mod lease;
pub mod migrations;
mod pages;
pub mod partitions;
mod placing;
pub mod squeeze;
#[cfg(feature = "testing")]
pub mod testing;

use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Pool, RecyclingMethod};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::time::Duration;
use store::{
    decode_document, decode_record, encode_document_meta, encode_record, encode_refusal, Store,
    StoreError, StoreErrorKind, StoreResult, WriteSet,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use types::model::{
    Block, Bucket, CodeEvent, CodeKey, CodeRange, CodeState, Order, Participant, ParticipantId,
    Product, StoredDocument,
};
use types::placement::{self, Placement, Sequences};
use uuid::Uuid;

pub use migrations::{PLACED_SINCE, SCHEMA_VERSION};

/// Facts the inbox holds at most ([`Store::inbox_put`]): beyond it (the writer away for
/// long), readers' facts are dropped and counted rather than kept without bound.
pub const INBOX_ROWS_MAX: usize = 100_000;

/// Limits of a [`PgStore`].
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Most connections open at once (the pool's size); a call beyond waits for one, at
    /// most `statement_timeout`.
    pub pool_size: usize,
    /// Longest wait for a new connection.
    pub connect_timeout: Duration,
    /// Longest a statement may run on the server (`statement_timeout`), and a call's
    /// wait for a pooled connection.
    pub statement_timeout: Duration,
    /// Longest a connect's migration may take, each of its statements included: placing
    /// the code rows of a large registry (schema 10, `src/placing.rs`) is one long transaction.
    pub migration_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
            migration_timeout: Duration::from_secs(6 * 3600),
        }
    }
}

/// What a [`PgStore`] found at the other end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Plain PostgreSQL (`server_version`).
    Postgres {
        /// The server's version.
        version: String,
    },
    /// A Citus coordinator: the tables are distributed over its workers.
    Citus {
        /// Citus's and PostgreSQL's versions.
        version: String,
        /// Active primary worker nodes.
        workers: usize,
    },
}

/// The PostgreSQL engine. `Send + Sync`: share one per process.
pub struct PgStore {
    /// `Some` until dropped (dropped without blocking: see `Drop`).
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
    engine: Engine,
    /// A call's client-side deadline: the connection's wait plus two statements' worth.
    deadline: Duration,
    /// The writer lease's fence on commits ([`lease`]).
    fence: std::sync::Mutex<lease::Fence>,
    /// The time-partitioned tables' ends, as last read ([`partitions`]).
    ends: std::sync::Mutex<partitions::Ends>,
    /// Where codes' rows go (`types::placement`); `None`: spread, for a store opened
    /// without the keyring (which then refuses code rows placed by one).
    placement: Option<Placement>,
    /// Whether the code rows are placed by a keyring this store was not given.
    unplaceable: bool,
    /// The database's page salt ([`slot`]; zeros below schema 12).
    salt: [u8; 16],
    /// A connect's migration's bound ([`PgOptions::migration_timeout`]).
    migration_timeout: Duration,
}

/// Places codes for one call: the store's placement (spread without one), the serial
/// sequences cached from code to code.
struct Places<'a> {
    placement: Option<&'a Placement>,
    seqs: Sequences,
    /// The store is unplaceable: every code refused.
    refuse: bool,
    /// The database's page salt ([`slot`]).
    salt: [u8; 16],
}

impl Places<'_> {
    /// The place of `k`, as stored (`u32` bit for bit in an `integer`).
    fn of(&mut self, k: &CodeKey) -> StoreResult<i32> {
        self.check()?;
        Ok(placement::place_of(self.placement, k, &mut self.seqs) as i32)
    }

    /// The page of `k` (schema 12): its place and [`slot`].
    fn page(&mut self, k: &CodeKey) -> StoreResult<(i32, i16)> {
        let place = self.of(k)?;
        Ok((place, slot(k.as_bytes(), place, &self.salt)))
    }

    /// Fails when the store may not read or write code rows.
    fn check(&self) -> StoreResult<()> {
        if self.refuse {
            return Err(err(
                "this database's code rows are placed by the issuing keyring's serial \
                 permutation: connect with the keyring (PgStore::connect_placed, \
                 PgStore::connect_keyed)",
            ));
        }
        Ok(())
    }
}

/// Pages a run's codes are spread over (`src/sql/0011_schema.sql`).
pub const SLOTS: u8 = 16;

/// The first slot of a spread code's page (`src/sql/0012_schema.sql`): slots
/// `SPREAD_SLOT..SPREAD_SLOT + SPREAD_SLOTS` hold spread codes only.
pub const SPREAD_SLOT: i16 = 16;

/// How many slots a spread code's place has (14 bits).
pub const SPREAD_SLOTS: i16 = 1 << 14;

/// The slot of a code in its place `place` (schema 12):
///
/// - a **placed** code (its place a run's: `types::placement`) takes the low 4 bits of
///   the first byte of SHA-256 of its key, so a run of 1,024 codes spreads over [`SLOTS`]
///   pages of ~64 (SQL computes it alike: `get_byte(sha256(code), 0) & 15`);
/// - a **spread** code (its place the hash of its own key: an SSCC, a long self-made
///   serial, every code of a store without a keyring) takes one of [`SPREAD_SLOTS`] slots
///   from SHA-256 of the database's page salt (`secrets`, made at migration 12) and its
///   key.
///
/// Why the salt: whoever chooses a spread code's key chooses its place (a 32-bit FNV hash
/// anyone can compute and collide), and would choose its slot too if it were the key's
/// SHA-256. A wholesaler forming SSCCs, or a producer ordering self-made serials, could
/// then pile codes without end into one page, a victim's, which every commit touching it
/// reads and writes whole and every look-up in it decompresses. With the salt unknown
/// outside the database, codes crafted to share a place still scatter over 16,384 pages:
/// a page's size no longer depends on what a client chooses.
pub fn slot(code: &[u8], place: i32, salt: &[u8; 16]) -> i16 {
    use sha2::Digest;
    let spread = types::model::CodeKey::from_bytes(code)
        .is_some_and(|k| types::placement::spread(&k) as i32 == place);
    if spread {
        let h = sha2::Sha256::new()
            .chain_update(salt)
            .chain_update(code)
            .finalize();
        SPREAD_SLOT + (i16::from_be_bytes([h[0], h[1]]) & (SPREAD_SLOTS - 1))
    } else {
        i16::from(sha2::Sha256::digest(code)[0] & (SLOTS - 1))
    }
}

/// A connection's future, boxed so a closure over a borrowed client can return it.
type Fut<'c, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'c>>;

/// A statement's parameter, owned (it crosses to the store's runtime).
type Param = Box<dyn ToSql + Send + Sync>;

/// A failure from the server or the connection, with the server's message when it sent one.
/// The database's disk being full (SQLSTATE 53100, `disk_full`) is a
/// [`StoreErrorKind::Full`]: nothing was changed, and writes succeed again once it has
/// room. Every other error is `Failed`.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    let (message, kind) = match e.as_db_error() {
        Some(db) => (
            format!(
                "postgres: {} ({}){}",
                db.message(),
                db.code().code(),
                db.detail().map(|d| format!(": {d}")).unwrap_or_default()
            ),
            if db.code() == &tokio_postgres::error::SqlState::DISK_FULL {
                StoreErrorKind::Full
            } else {
                StoreErrorKind::Failed
            },
        ),
        None => (format!("postgres: {e}"), StoreErrorKind::Failed),
    };
    StoreError::with_source(kind, message, e)
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}

/// A pooled connection that goes back to the pool only when its call succeeded: after an
/// error, or when the call is abandoned (its deadline passed) in the middle of a
/// statement or a transaction, the connection is closed rather than reused in an unknown
/// state.
struct Lease {
    obj: Option<deadpool_postgres::Object>,
    clean: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(obj) = self.obj.take() {
            if !self.clean {
                drop(deadpool_postgres::Object::take(obj));
            }
        }
    }
}

/// `u64` to `bigint`, bit for bit.
fn i(v: u64) -> i64 {
    v as i64
}

/// `bigint` to `u64`, bit for bit.
fn u(v: i64) -> u64 {
    v as u64
}

/// A `LIMIT` from a `usize`.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The last of each key, in the order of those last occurrences (`ON CONFLICT DO UPDATE`
/// may not touch a row twice in one statement; in a batch the last write wins).
fn last_wins<K: Hash + Eq, T>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut last = FxHashMap::with_capacity_and_hasher(items.len(), Default::default());
    for (n, t) in items.iter().enumerate() {
        last.insert(key(t), n);
    }
    if last.len() == items.len() {
        return items;
    }
    items
        .into_iter()
        .enumerate()
        .filter(|(n, t)| last.get(&key(t)) == Some(n))
        .map(|(_, t)| t)
        .collect()
}

fn col<T, R>(items: &[T], f: impl Fn(&T) -> R) -> Vec<R> {
    items.iter().map(f).collect()
}

fn code_key(b: &[u8]) -> StoreResult<CodeKey> {
    CodeKey::from_bytes(b).ok_or_else(|| err("a corrupt code key"))
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, idx: usize) -> StoreResult<T> {
    row.try_get(idx).map_err(pg)
}

impl PgStore {
    /// Connects with [`PgOptions::default`] (see [`PgStore::connect_with`]).
    pub fn connect(url: &str) -> StoreResult<PgStore> {
        Self::connect_with(url, PgOptions::default())
    }

    /// Connects to `url` (`postgres://user@host:port/db`, `options=-c search_path=…`
    /// respected), creates the schema on an empty database or applies the missing
    /// migrations to an older one (one transaction, under an advisory lock), and on a
    /// Citus coordinator distributes the tables it creates.
    ///
    /// Without a keyring: codes' rows are placed spread (`types::placement`), and code
    /// rows placed by a keyring are refused (see [`PgStore::connect_placed`]). For tests
    /// and tools that read no code; the registry connects with its keyring.
    pub fn connect_with(url: &str, opts: PgOptions) -> StoreResult<PgStore> {
        let mut store = Self::open(url, opts)?;
        store.migrate_to(SCHEMA_VERSION, None)?;
        store.load_partition_ends()?;
        Ok(store)
    }

    /// Connects as [`PgStore::connect_with`], with codes' rows placed by `placement` (the
    /// issuing keyring's serial permutation: `types::placement`): a run of an order's
    /// consecutive codes shares one place, so a document's codes are one index range and,
    /// on Citus, one shard. A database whose code rows are older than schema 10 gets them
    /// copied under their places, and one whose rows were placed spread (by a store
    /// without a keyring) has them moved, once, here, in the migration's transaction.
    pub fn connect_placed(
        url: &str,
        opts: PgOptions,
        placement: Placement,
    ) -> StoreResult<PgStore> {
        let mut store = Self::open(url, opts)?;
        store.migrate_to(SCHEMA_VERSION, Some(placement))?;
        store.load_partition_ends()?;
        Ok(store)
    }

    /// Connects as [`PgStore::connect_placed`] with the placement `keys` answers, for a
    /// registry whose keyring lives in the database itself (`secrets`): the schema is
    /// brought up to the tables `keys` may read or write ([`PLACED_SINCE`] - 1), `keys`
    /// is called with the store, then the code rows are placed with its answer (`None`:
    /// spread, as [`PgStore::connect_with`]).
    pub fn connect_keyed(
        url: &str,
        opts: PgOptions,
        keys: &dyn Fn(&PgStore) -> StoreResult<Option<Placement>>,
    ) -> StoreResult<PgStore> {
        let mut store = Self::open(url, opts)?;
        store.migrate_to(PLACED_SINCE - 1, None)?;
        let placement = keys(&store)?;
        store.migrate_to(SCHEMA_VERSION, placement)?;
        store.load_partition_ends()?;
        Ok(store)
    }

    /// Connects and brings the schema only to version `upto` (tests of migrations build
    /// an older database with it). Not for serving: the store's methods expect
    /// [`SCHEMA_VERSION`] (below 10, a commit cannot write code rows).
    #[doc(hidden)]
    pub fn connect_at_version(url: &str, upto: u32) -> StoreResult<PgStore> {
        let mut store = Self::open(url, PgOptions::default())?;
        store.migrate_to(upto, None)?;
        if upto >= 4 {
            store.load_partition_ends()?;
        }
        Ok(store)
    }

    /// Runs the migrations up to `upto` with codes placed by `placement`, which the store
    /// keeps.
    fn migrate_to(&mut self, upto: u32, placement: Option<Placement>) -> StoreResult<()> {
        let (timeout, p) = (self.migration_timeout, placement.clone());
        let m = self.call_within(timeout, move |c| {
            Box::pin(migrations::migrate(c, upto, p, timeout))
        })?;
        self.engine = m.engine;
        self.unplaceable = m.unplaceable;
        self.salt = m.salt;
        self.placement = placement;
        Ok(())
    }

    /// The placement of codes' rows this store was given (`None`: spread).
    pub fn placement(&self) -> Option<&Placement> {
        self.placement.as_ref()
    }

    /// Places codes for one call (refusing them when the store is unplaceable).
    fn places(&self) -> Places<'_> {
        Places {
            placement: self.placement.as_ref(),
            seqs: Sequences::default(),
            refuse: self.unplaceable,
            salt: self.salt,
        }
    }

    /// The runtime and the pool, no connection yet.
    fn open(url: &str, opts: PgOptions) -> StoreResult<PgStore> {
        let mut cfg: tokio_postgres::Config =
            url.parse().map_err(|e| err(format!("postgres URL: {e}")))?;
        let timeout = format!(
            "-c statement_timeout={}",
            opts.statement_timeout.as_millis().max(1)
        );
        let options = match cfg.get_options() {
            Some(o) if !o.is_empty() => format!("{o} {timeout}"),
            _ => timeout,
        };
        cfg.options(options);
        cfg.connect_timeout(opts.connect_timeout);
        if cfg.get_application_name().is_none() {
            cfg.application_name("tracemark");
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tracemark-pg")
            .enable_all()
            .build()
            .map_err(err)?;
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(opts.statement_timeout))
            .create_timeout(Some(opts.connect_timeout))
            .recycle_timeout(Some(opts.connect_timeout))
            .build()
            .map_err(err)?;
        Ok(PgStore {
            rt: Some(rt),
            pool,
            engine: Engine::Postgres {
                version: String::new(),
            },
            deadline: opts.connect_timeout + opts.statement_timeout * 3,
            fence: std::sync::Mutex::new(lease::Fence::Off),
            ends: std::sync::Mutex::default(),
            placement: None,
            unplaceable: false,
            salt: [0; 16],
            migration_timeout: opts.migration_timeout,
        })
    }

    /// The lease's fence as it stands.
    fn fence_now(&self) -> lease::Fence {
        self.fence.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// The engine found at connect.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The schema version the database records.
    pub fn schema_version(&self) -> StoreResult<u32> {
        let rows = self.query(
            "SELECT coalesce(max(version), 0) FROM tracemark_schema",
            vec![],
        )?;
        let v: i32 = get(rows.first().ok_or_else(|| err("no schema version"))?, 0)?;
        u32::try_from(v).map_err(err)
    }

    /// One round trip to the database (for `/health`).
    pub fn ping(&self) -> StoreResult<()> {
        self.query("SELECT 1", vec![]).map(drop)
    }

    /// The secret named `name`, made by `make` and stored if there is none yet. Atomic:
    /// processes racing on one database all get the value that was stored first.
    pub fn secret(&self, name: &str, make: &dyn Fn() -> Vec<u8>) -> StoreResult<Vec<u8>> {
        const READ: &str = "SELECT value FROM secrets WHERE name = $1";
        if let Some(row) = self.query(READ, vec![Box::new(name.to_string())])?.first() {
            return get(row, 0);
        }
        let value = make();
        self.query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            vec![Box::new(name.to_string()), Box::new(value)],
        )?;
        let rows = self.query(READ, vec![Box::new(name.to_string())])?;
        get(rows.first().ok_or_else(|| err("a secret vanished"))?, 0)
    }

    /// Runs `f` with a pooled connection on the store's runtime and waits for its answer
    /// on a plain channel: safe from any thread, inside a tokio runtime or not.
    fn call<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut ClientWrapper) -> Fut<'c, T> + Send + 'static,
    {
        self.call_within(self.deadline, f)
    }

    /// [`PgStore::call`] with a deadline of its own.
    fn call_within<T, F>(&self, deadline: Duration, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut ClientWrapper) -> Fut<'c, T> + Send + 'static,
    {
        let rt = self.rt.as_ref().ok_or_else(|| err("the store is closed"))?;
        let pool = self.pool.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let work = async {
                let mut lease = Lease {
                    obj: Some(
                        pool.get()
                            .await
                            .map_err(|e| err(format!("postgres: {e}")))?,
                    ),
                    clean: false,
                };
                let client: &mut ClientWrapper =
                    lease.obj.as_mut().ok_or_else(|| err("no connection"))?;
                let r = f(client).await;
                lease.clean = r.is_ok();
                r
            };
            let r = tokio::time::timeout(deadline, work)
                .await
                .unwrap_or_else(|_| {
                    Err(err(format!(
                        "postgres: no answer within {} s",
                        deadline.as_secs()
                    )))
                });
            let _ = tx.send(r);
        });
        rx.recv()
            .map_err(|_| err("postgres: the store's runtime stopped"))?
    }

    /// One statement (prepared once per connection), its rows.
    fn query(&self, sql: &'static str, params: Vec<Param>) -> StoreResult<Vec<Row>> {
        self.call(move |c| {
            Box::pin(async move {
                let stmt = c.prepare_cached(sql).await.map_err(pg)?;
                let refs: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
                c.query(&stmt, &refs).await.map_err(pg)
            })
        })
    }

    /// The first column of at most one row, decoded with `f`.
    fn one<T>(
        &self,
        sql: &'static str,
        params: Vec<Param>,
        f: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        self.query(sql, params)?.first().map(f).transpose()
    }

    /// Every row, decoded with `f`.
    fn all<T>(
        &self,
        sql: &'static str,
        params: Vec<Param>,
        f: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        self.query(sql, params)?.iter().map(f).collect()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Without blocking: a store may be dropped on a tokio worker thread, where
        // dropping a runtime (which waits for its threads) panics.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn record<T: serde::de::DeserializeOwned>(row: &Row) -> StoreResult<T> {
    decode_record(get::<&[u8]>(row, 0)?)
}

impl Store for PgStore {
    fn participant(&self, id: ParticipantId) -> StoreResult<Option<Participant>> {
        self.one(
            "SELECT record FROM participants WHERE id = $1",
            vec![Box::new(i64::from(id))],
            record,
        )
    }

    fn participant_by_tin(&self, tin: &str) -> StoreResult<Option<Participant>> {
        self.one(
            "SELECT record FROM participants WHERE tin = $1 ORDER BY id LIMIT 1",
            vec![Box::new(tin.to_string())],
            record,
        )
    }

    fn participants(&self) -> StoreResult<Vec<Participant>> {
        self.all(
            "SELECT record FROM participants ORDER BY id",
            vec![],
            record,
        )
    }

    fn product(&self, gtin: u64) -> StoreResult<Option<Product>> {
        self.one(
            "SELECT record FROM products WHERE gtin = $1",
            vec![Box::new(i(gtin))],
            record,
        )
    }

    fn products_between(&self, lo: u64, hi: u64, n: usize) -> StoreResult<Vec<Product>> {
        let (Ok(lo), hi) = (i64::try_from(lo), i64::try_from(hi).unwrap_or(i64::MAX)) else {
            return Ok(Vec::new());
        };
        self.all(
            "SELECT record FROM products WHERE gtin BETWEEN $1 AND $2 ORDER BY gtin LIMIT $3",
            vec![Box::new(lo), Box::new(hi), Box::new(limit(n))],
            record,
        )
    }

    fn codes(&self, keys: &[CodeKey]) -> StoreResult<Vec<Option<CodeState>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut places = self.places();
        // Each code's entry in its page (schema 11): one index probe per page.
        let rows = if let [k] = keys {
            // One code (verify, the till): one row, the state picked out on the server;
            // on Citus one shard.
            let (place, slot) = places.page(k)?;
            self.query(
                "SELECT place, slot, ARRAY[$3::bytea], ARRAY[states[array_position(codes, $3::bytea)]] \
                 FROM code_pages WHERE place = $1 AND slot = $2",
                vec![
                    Box::new(place),
                    Box::new(slot),
                    Box::new(k.as_bytes().to_vec()),
                ],
            )?
        } else {
            // A document's consecutive codes share a place: ~16 pages for 1,000 codes,
            // read whole and the codes picked out here (a filter `code = ANY($keys)` on
            // the server compares every entry with every key: measured 20 ms for a
            // 1,000-code document, against 0.1 ms for its 31 pages).
            let mut pages: Vec<(i32, i16)> = keys
                .iter()
                .map(|k| places.page(k))
                .collect::<StoreResult<_>>()?;
            pages.sort_unstable();
            pages.dedup();
            let (p, sl): (Vec<i32>, Vec<i16>) = pages.into_iter().unzip();
            let sql = if matches!(self.engine, Engine::Citus { .. }) {
                pages::READ_PAGES_CITUS
            } else {
                pages::READ_PAGES
            };
            self.query(sql, vec![Box::new(p), Box::new(sl)])?
        };
        let mut found: HashMap<&[u8], &[u8]> = HashMap::with_capacity(keys.len());
        // Rows as `pages::READ_PAGES` answers them: place, slot, codes, states.
        for r in &rows {
            let codes: Vec<&[u8]> = get(r, 2)?;
            let states: Vec<Option<&[u8]>> = get(r, 3)?;
            if codes.len() != states.len() {
                return Err(err("a corrupt page: as many codes as states expected"));
            }
            // A missing code's state is NULL (the one-code look-up's `array_position`).
            found.extend(
                codes
                    .into_iter()
                    .zip(states)
                    .filter_map(|(c, st)| Some((c, st?))),
            );
        }
        keys.iter()
            .map(|k| match found.get(k.as_bytes()) {
                None => Ok(None),
                Some(v) => CodeState::decode(v)
                    .map(Some)
                    .ok_or_else(|| err(format!("corrupt state of {k}"))),
            })
            .collect()
    }

    fn events(&self, key: &CodeKey) -> StoreResult<Vec<CodeEvent>> {
        let (place, slot) = self.places().page(key)?;
        // The page's runs, filtered: a handful of rows (one per commit that touched it).
        self.all(
            // An entry's event: named by its byte of `idx` (schema 12), or parallel.
            "SELECT CASE WHEN r.idx IS NULL THEN r.events[o.n] \
                    ELSE r.events[get_byte(r.idx, o.n::integer - 1) + 1] END \
             FROM code_events r \
             CROSS JOIN LATERAL unnest(r.codes, r.seqs) WITH ORDINALITY AS o(code, seq, n) \
             WHERE r.place = $1 AND r.slot = $2 AND o.code = $3 ORDER BY o.seq",
            vec![
                Box::new(place),
                Box::new(slot),
                Box::new(key.as_bytes().to_vec()),
            ],
            |r| {
                CodeEvent::decode(get(r, 0)?)
                    .ok_or_else(|| err(format!("a corrupt event of {key}")))
            },
        )
    }

    fn children(&self, parent: &CodeKey) -> StoreResult<Vec<CodeKey>> {
        // The embedded engine's order: length-prefixed keys.
        let place = self.places().of(parent)?;
        self.all(
            "SELECT child FROM links WHERE place = $1 AND parent = $2 \
             ORDER BY octet_length(child), child",
            vec![Box::new(place), Box::new(parent.as_bytes().to_vec())],
            |r| code_key(get(r, 0)?),
        )
    }

    fn document(&self, id: &Uuid) -> StoreResult<Option<StoredDocument>> {
        // One probe in the id → seq map, then one in the one partition that seq falls in
        // (pruned at run time); on Citus both are co-located by id: one shard, one task.
        self.one(
            "SELECT d.meta, d.body, d.zstd FROM document_ids i \
             JOIN documents d ON d.id = i.id AND d.seq = i.seq WHERE i.id = $1",
            vec![Box::new(*id)],
            |r| {
                let mut d = decode_document(get(r, 0)?, &[])?;
                d.body = squeeze::unpack(get(r, 1)?, get(r, 2)?)?;
                Ok(d)
            },
        )
    }

    fn document_id_by_seq(&self, seq: u64) -> StoreResult<Option<Uuid>> {
        self.one(
            "SELECT id FROM document_seqs WHERE seq = $1",
            vec![Box::new(i(seq))],
            |r| get(r, 0),
        )
    }

    fn shipment_closed_by(&self, ship: &Uuid) -> StoreResult<Option<Uuid>> {
        self.one(
            "SELECT accept FROM shipments WHERE ship = $1",
            vec![Box::new(*ship)],
            |r| get(r, 0),
        )
    }

    fn order(&self, id: &Uuid) -> StoreResult<Option<Order>> {
        self.one(
            "SELECT record FROM orders WHERE id = $1",
            vec![Box::new(*id)],
            record,
        )
    }

    fn orders_of(&self, participant: ParticipantId) -> StoreResult<Vec<Order>> {
        self.all(
            "SELECT record FROM orders WHERE participant = $1 ORDER BY id",
            vec![Box::new(i64::from(participant))],
            record,
        )
    }

    fn order_serials(&self, id: &Uuid, offset: u32, n: u32) -> StoreResult<Vec<String>> {
        let to = offset.saturating_add(n);
        self.all(
            "SELECT serial FROM order_serials WHERE order_id = $1 AND idx >= $2 AND idx < $3 \
             ORDER BY idx",
            vec![
                Box::new(*id),
                Box::new(i64::from(offset)),
                Box::new(i64::from(to)),
            ],
            |r| get(r, 0),
        )
    }

    fn blocks(&self) -> StoreResult<Vec<Block>> {
        self.all("SELECT record FROM blocks ORDER BY id", vec![], record)
    }

    fn block_codes(&self, block: u64) -> StoreResult<Vec<CodeKey>> {
        self.all(
            "SELECT code FROM block_codes WHERE block = $1 ORDER BY code",
            vec![Box::new(i(block))],
            |r| code_key(get(r, 0)?),
        )
    }

    fn inventory(&self, owner: ParticipantId, gtin: u64) -> StoreResult<Vec<(Bucket, i64)>> {
        self.all(
            "SELECT bucket, n FROM inventory WHERE owner = $1 AND gtin = $2 ORDER BY bucket",
            vec![Box::new(i64::from(owner)), Box::new(i(gtin))],
            |r| {
                let b = u8::try_from(get::<i16>(r, 0)?)
                    .ok()
                    .and_then(Bucket::from_u8)
                    .ok_or_else(|| err("a corrupt inventory bucket"))?;
                Ok((b, get(r, 1)?))
            },
        )
    }

    fn counter(&self, name: &str) -> StoreResult<u64> {
        Ok(self
            .one(
                "SELECT value FROM counters WHERE name = $1",
                vec![Box::new(name.to_string())],
                |r| get::<i64>(r, 0).map(u),
            )?
            .unwrap_or(0))
    }

    fn refusal_count(&self) -> StoreResult<u64> {
        Ok(self
            .one("SELECT coalesce(max(seq), 0) FROM refusals", vec![], |r| {
                get::<i64>(r, 0).map(u)
            })?
            .unwrap_or(0))
    }

    fn log_leaf(&self, index: u64) -> StoreResult<Option<Vec<u8>>> {
        self.one(
            "SELECT leaf FROM log_leaves WHERE idx = $1",
            vec![Box::new(i(index))],
            |r| get(r, 0),
        )
    }

    fn log_hashes(&self, ids: &[tlog::NodeId]) -> StoreResult<Vec<Option<tlog::Hash>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let levels: Vec<i16> = col(ids, |n| i16::from(n.level));
        let idxs: Vec<i64> = col(ids, |n| i(n.index));
        let rows = self.query(
            "SELECT h.level, h.idx, h.hash FROM log_hashes h \
             JOIN unnest($1::smallint[], $2::bigint[]) AS q(level, idx) \
             ON h.level = q.level AND h.idx = q.idx",
            vec![Box::new(levels), Box::new(idxs)],
        )?;
        let mut found = HashMap::with_capacity(rows.len());
        for r in &rows {
            let level = u8::try_from(get::<i16>(r, 0)?).map_err(err)?;
            let hash: &[u8] = get(r, 2)?;
            let hash = <tlog::Hash>::try_from(hash).map_err(|_| err("a corrupt log hash"))?;
            found.insert(tlog::NodeId::new(level, u(get(r, 1)?)), hash);
        }
        Ok(ids.iter().map(|id| found.get(id).copied()).collect())
    }

    fn document_log_index(&self, seq: u64) -> StoreResult<Option<u64>> {
        Ok(self
            .one(
                "SELECT log_index FROM document_seqs WHERE seq = $1",
                vec![Box::new(i(seq))],
                |r| get::<Option<i64>>(r, 0),
            )?
            .flatten()
            .map(u))
    }

    fn complaints(&self, start: &Uuid, n: usize) -> StoreResult<Vec<types::complaints::Complaint>> {
        self.all(
            "SELECT record FROM complaints WHERE id >= $1 ORDER BY id LIMIT $2",
            vec![Box::new(*start), Box::new(limit(n))],
            record,
        )
    }

    fn complaint(&self, id: &Uuid) -> StoreResult<Option<types::complaints::Complaint>> {
        self.one(
            "SELECT record FROM complaints WHERE id = $1",
            vec![Box::new(*id)],
            record,
        )
    }

    fn complaint_photo(&self, id: &Uuid) -> StoreResult<Option<Vec<u8>>> {
        self.one(
            "SELECT photo FROM complaint_photos WHERE id = $1",
            vec![Box::new(*id)],
            |r| get(r, 0),
        )
    }

    fn feed(&self, after: u64, n: usize) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        self.all(
            "SELECT seq, fact, zstd FROM feed WHERE seq > $1 ORDER BY seq LIMIT $2",
            vec![Box::new(after), Box::new(limit(n))],
            |r| Ok((u(get(r, 0)?), squeeze::unpack(get(r, 1)?, get(r, 2)?)?)),
        )
    }

    fn feed_of_kinds(
        &self,
        after: u64,
        upto: u64,
        n: usize,
        kinds: &[types::feed::FactKind],
    ) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let (Ok(after), upto) = (
            i64::try_from(after),
            i64::try_from(upto).unwrap_or(i64::MAX),
        ) else {
            return Ok(Vec::new());
        };
        let kinds: Vec<i16> = kinds.iter().map(|k| i16::from(k.code())).collect();
        // The primary key's range, the other rows filtered by their `kind` in the heap:
        // their facts (out of line when long) are not read. Rows of before 14 have none.
        self.all(
            "SELECT seq, fact, zstd FROM feed WHERE seq > $1 AND seq <= $2 \
             AND (kind IS NULL OR kind = ANY($3)) ORDER BY seq LIMIT $4",
            vec![
                Box::new(after),
                Box::new(upto),
                Box::new(kinds),
                Box::new(limit(n)),
            ],
            |r| Ok((u(get(r, 0)?), squeeze::unpack(get(r, 1)?, get(r, 2)?)?)),
        )
    }

    fn projection_checkpoint(&self, name: &str) -> StoreResult<u64> {
        Ok(self
            .one(
                "SELECT checkpoint FROM projection_checkpoints WHERE name = $1",
                vec![Box::new(name.to_string())],
                |r| get::<i64>(r, 0).map(u),
            )?
            .unwrap_or(0))
    }

    fn projection_rows(
        &self,
        name: &str,
        start: &[u8],
        n: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.all(
            "SELECT key, value FROM projection_rows WHERE name = $1 AND key >= $2 \
             ORDER BY key LIMIT $3",
            vec![
                Box::new(name.to_string()),
                Box::new(start.to_vec()),
                Box::new(limit(n)),
            ],
            |r| Ok((get(r, 0)?, get(r, 1)?)),
        )
    }

    fn commit_projection(
        &self,
        name: &str,
        checkpoint: u64,
        rows: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> StoreResult<()> {
        if name.as_bytes().iter().any(|&b| b < 2) {
            return Err(err("a projection name with a 0x00 or 0x01 byte"));
        }
        if self.reading_only() {
            // A reader's projections live in memory: their rows are the writer's to store
            // (two processes writing one projection's rows would interleave checkpoints).
            return Ok(());
        }
        let fence = lease::fence_for_commit(&self.fence_now())?;
        // In a batch the last change of a key wins.
        let rows = last_wins(rows.to_vec(), |(k, _)| k.clone());
        let (put, del): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, v)| v.is_some());
        let put_k: Vec<Vec<u8>> = col(&put, |(k, _)| k.clone());
        let put_v: Vec<Vec<u8>> = put.into_iter().filter_map(|(_, v)| v).collect();
        let del_k: Vec<Vec<u8>> = col(&del, |(k, _)| k.clone());
        let name = name.to_string();
        self.call(move |c| {
            Box::pin(async move {
                let tx = c.transaction().await.map_err(pg)?;
                lease::check_fence(&tx, &fence).await?;
                // A projection lost in a crash is replayed from the durable feed.
                tx.batch_execute("SET LOCAL synchronous_commit = off")
                    .await
                    .map_err(pg)?;
                if !del_k.is_empty() {
                    let s = tx
                        .prepare_cached(
                            "DELETE FROM projection_rows WHERE name = $1 AND key = ANY($2)",
                        )
                        .await
                        .map_err(pg)?;
                    tx.execute(&s, &[&name, &del_k]).await.map_err(pg)?;
                }
                if !put_k.is_empty() {
                    let s = tx
                        .prepare_cached(
                            "INSERT INTO projection_rows (name, key, value) \
                             SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS t(k, v) \
                             ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                        )
                        .await
                        .map_err(pg)?;
                    tx.execute(&s, &[&name, &put_k, &put_v]).await.map_err(pg)?;
                }
                let s = tx
                    .prepare_cached(
                        "INSERT INTO projection_checkpoints (name, checkpoint) VALUES ($1, $2) \
                         ON CONFLICT (name) DO UPDATE SET checkpoint = excluded.checkpoint",
                    )
                    .await
                    .map_err(pg)?;
                tx.execute(&s, &[&name, &i(checkpoint)]).await.map_err(pg)?;
                tx.commit().await.map_err(pg)
            })
        })
    }

    fn commit(&self, set: &WriteSet) -> StoreResult<()> {
        if set.is_empty() && set.log_hashes.is_empty() {
            return Ok(());
        }
        let fence = lease::fence_for_commit(&self.fence_now())?;
        self.make_room(set)?;
        let citus = matches!(self.engine, Engine::Citus { .. });
        let rows = Rows::of(set, &mut self.places(), citus)?;
        self.call(move |c| Box::pin(rows.write(c, fence)))
    }

    fn inbox_put(&self, facts: &[Vec<u8>]) -> StoreResult<usize> {
        if facts.is_empty() {
            return Ok(0);
        }
        // All or none: the count is cheap while the writer keeps the inbox near empty, and
        // a full inbox (the writer away) must not grow without bound. (Readers inserting at
        // the same moment each see the count before the others' rows.)
        let rows = self.query(
            "INSERT INTO fact_inbox (fact) \
             SELECT f FROM unnest($1::bytea[]) WITH ORDINALITY AS t(f, n) \
             WHERE (SELECT count(*) FROM fact_inbox) + $3 <= $2 ORDER BY n RETURNING 1",
            vec![
                Box::new(facts.to_vec()),
                Box::new(limit(INBOX_ROWS_MAX)),
                Box::new(limit(facts.len())),
            ],
        )?;
        Ok(rows.len())
    }

    fn inbox_take(&self, limit_to: usize) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.all(
            "SELECT id, fact FROM fact_inbox ORDER BY id LIMIT $1",
            vec![Box::new(limit(limit_to))],
            |r| Ok((u(get::<i64>(r, 0)?), get(r, 1)?)),
        )
    }

    fn code_states_after(
        &self,
        after: Option<&CodeKey>,
        n: usize,
    ) -> StoreResult<Vec<(CodeKey, CodeState)>> {
        let mut places = self.places();
        // In the order of the pages' key, then of the codes within a page (stored sorted).
        let rows = match after {
            None => {
                places.check()?;
                self.query(
                    "SELECT p.place, p.slot, o.code, o.state FROM code_pages p \
                     CROSS JOIN LATERAL unnest(p.codes, p.states) AS o(code, state) \
                     ORDER BY p.place, p.slot, o.code LIMIT $1",
                    vec![Box::new(limit(n))],
                )?
            }
            Some(k) => {
                let (place, slot) = places.page(k)?;
                self.query(
                    "SELECT p.place, p.slot, o.code, o.state FROM code_pages p \
                     CROSS JOIN LATERAL unnest(p.codes, p.states) AS o(code, state) \
                     WHERE (p.place, p.slot) >= ($1, $2) AND (p.place, p.slot, o.code) > ($1, $2, $3) \
                     ORDER BY p.place, p.slot, o.code LIMIT $4",
                    vec![
                        Box::new(place),
                        Box::new(slot),
                        Box::new(k.as_bytes().to_vec()),
                        Box::new(limit(n)),
                    ],
                )?
            }
        };
        rows.iter()
            .map(|r| {
                let key = code_key(get(r, 2)?)?;
                // In the page a look-up of its code reads (`Store::codes`): an entry moved
                // or edited to another page would pass the audit and yet read as unknown.
                let stored = (get::<i32>(r, 0)?, get::<i16>(r, 1)?);
                let want = places.page(&key)?;
                if stored != want {
                    return Err(err(format!(
                        "the state of {key} is stored under place {}, slot {}, but is looked \
                         up under place {}, slot {}: moved or edited",
                        stored.0, stored.1, want.0, want.1
                    )));
                }
                let st = CodeState::decode(get(r, 3)?)
                    .ok_or_else(|| err(format!("corrupt state of {key}")))?;
                Ok((key, st))
            })
            .collect()
    }

    fn code_range(
        &self,
        gtin: u64,
        serial_len: u8,
        counter: u64,
    ) -> StoreResult<Option<CodeRange>> {
        let rows = self.all(
            "SELECT record FROM code_ranges WHERE k >= $1 AND k <= $2 ORDER BY k DESC LIMIT 1",
            vec![
                Box::new(CodeRange::key(gtin, serial_len, 0).to_vec()),
                Box::new(CodeRange::key(gtin, serial_len, counter).to_vec()),
            ],
            |r| CodeRange::decode(get(r, 0)?).ok_or_else(|| err("a corrupt code range")),
        )?;
        Ok(rows.into_iter().next().filter(|r| r.contains(counter)))
    }

    fn code_ranges_after(&self, after: Option<[u8; 17]>, n: usize) -> StoreResult<Vec<CodeRange>> {
        self.all(
            "SELECT record FROM code_ranges WHERE k > $1 ORDER BY k LIMIT $2",
            vec![
                Box::new(after.map_or_else(Vec::new, |k| k.to_vec())),
                Box::new(limit(n)),
            ],
            |r| CodeRange::decode(get(r, 0)?).ok_or_else(|| err("a corrupt code range")),
        )
    }

    fn inventory_after(
        &self,
        after: Option<(ParticipantId, u64, Bucket)>,
        n: usize,
    ) -> StoreResult<Vec<(ParticipantId, u64, Bucket, i64)>> {
        // (-1, …) sorts before every stored row.
        let (o, g, b) = after.map_or((-1, -1, -1), |(o, g, b)| {
            (i64::from(o), i(g), i16::from(b.to_u8()))
        });
        self.all(
            "SELECT owner, gtin, bucket, n FROM inventory WHERE (owner, gtin, bucket) > ($1, $2, $3) \
             ORDER BY owner, gtin, bucket LIMIT $4",
            vec![Box::new(o), Box::new(g), Box::new(b), Box::new(limit(n))],
            |r| {
                let (Ok(o), Ok(b)) = (
                    u32::try_from(get::<i64>(r, 0)?),
                    u8::try_from(get::<i16>(r, 2)?),
                ) else {
                    return Err(err("a corrupt inventory counter"));
                };
                let b = Bucket::from_u8(b).ok_or_else(|| err("a corrupt inventory bucket"))?;
                Ok((o, u(get(r, 1)?), b, get(r, 3)?))
            },
        )
    }
}

/// A `bytea` column's value.
pub(crate) type Bytes = Vec<u8>;

/// [`Rows`]' documents: ids, seqs, metas, bodies, whether each body is compressed.
type DocumentRows = (Vec<Uuid>, Vec<i64>, Vec<Bytes>, Vec<Bytes>, Vec<bool>);

/// [`Rows`]' feed: seqs, facts, whether each is compressed, each one's kind
/// ([`types::feed::FactKind::code`], `None` for a record no kind is read from).
type FeedRows = (Vec<i64>, Vec<Bytes>, Vec<bool>, Vec<Option<i16>>);

/// A [`WriteSet`] as owned columns, encoded on the caller's thread (the writer), ready to
/// cross to the store's runtime: one array per column, one statement per table.
#[derive(Default)]
struct Rows {
    participants: (Vec<i64>, Vec<String>, Vec<Vec<u8>>),
    products: (Vec<i64>, Vec<Vec<u8>>),
    /// Whether the store is on Citus (its statements name the shards to read).
    citus: bool,
    /// States to merge into their pages, by page (a code once, the last write of it).
    states: pages::PageEntries,
    /// Events, appended as one run per page: its `gen` is the largest document number of
    /// the set's events in that page.
    runs: Vec<pages::Run>,
    /// Ranges of emitted codes: storage key, record.
    ranges: (Vec<Vec<u8>>, Vec<Vec<u8>>),
    /// Links: the parent's place, parent, child.
    links_added: (Vec<i32>, Vec<Vec<u8>>, Vec<Vec<u8>>),
    links_removed: (Vec<i32>, Vec<Vec<u8>>, Vec<Vec<u8>>),
    /// Documents: id, seq, meta, body ([`squeeze::pack`]ed), whether compressed.
    documents: DocumentRows,
    document_seqs: (Vec<i64>, Vec<Uuid>, Vec<Option<i64>>),
    shipments: (Vec<Uuid>, Vec<Uuid>),
    orders: (Vec<Uuid>, Vec<i64>, Vec<Vec<u8>>),
    order_serials: (Vec<Uuid>, Vec<i64>, Vec<String>),
    blocks: (Vec<i64>, Vec<Vec<u8>>),
    /// Block entries: block, the code's place, code.
    block_codes: (Vec<i64>, Vec<i32>, Vec<Vec<u8>>),
    inventory: (Vec<i64>, Vec<i64>, Vec<i16>, Vec<i64>),
    counters: (Vec<String>, Vec<i64>),
    refusals: Vec<Vec<u8>>,
    complaints: (Vec<Uuid>, Vec<Vec<u8>>),
    photos: (Vec<Uuid>, Vec<Vec<u8>>),
    /// The feed: seq, fact ([`squeeze::pack`]ed), whether compressed, its kind.
    feed: FeedRows,
    log_leaves: (Vec<i64>, Vec<Vec<u8>>),
    log_hashes: (Vec<i16>, Vec<i64>, Vec<Vec<u8>>),
    /// The inbox's facts up to this id are in `feed`: deleted in the same transaction.
    inbox_upto: Option<i64>,
}

impl Rows {
    /// The rows of `set`, each code's under its place.
    fn of(set: &WriteSet, places: &mut Places<'_>, citus: bool) -> StoreResult<Rows> {
        let mut r = Rows {
            citus,
            inbox_upto: set.inbox_upto.map(i),
            ..Rows::default()
        };
        for p in last_wins(set.participants.iter().collect(), |p| p.id) {
            r.participants.0.push(i64::from(p.id));
            r.participants.1.push(p.tin.clone());
            r.participants.2.push(encode_record(p)?);
        }
        for p in last_wins(set.products.iter().collect(), |p| p.gtin.clone()) {
            r.products.0.push(i(p.gtin.parse::<u64>().map_err(err)?));
            r.products.1.push(encode_record(p)?);
        }
        // A code's page, computed once per set (a SHA-256 and a place each): its events and
        // its state name the same page.
        let mut pages_of: FxHashMap<CodeKey, (i32, i16)> =
            FxHashMap::with_capacity_and_hasher(set.codes.len(), Default::default());
        let mut page = |k: &CodeKey| -> StoreResult<(i32, i16)> {
            if let Some(p) = pages_of.get(k) {
                return Ok(*p);
            }
            let p = places.page(k)?;
            pages_of.insert(*k, p);
            Ok(p)
        };
        // Events: one run per page touched, tagged with the largest document number
        // among the page's events in this set.
        let mut gens: FxHashMap<(i32, i16), u64> = FxHashMap::default();
        let mut pending = Vec::with_capacity(set.events.len());
        for (k, seq, e) in &set.events {
            let seq = i32::try_from(*seq).map_err(|_| err("an event number beyond 2^31"))?;
            let p = page(k)?;
            let g = gens.entry(p).or_default();
            *g = (*g).max(e.doc_seq);
            pending.push((p, k, seq, e.encode()));
        }
        r.runs = pages::runs_of(
            pending
                .into_iter()
                .map(|((place, slot), k, seq, e)| {
                    let gen = i(gens[&(place, slot)]);
                    (place, slot, gen, k.as_bytes().to_vec(), seq, e.to_vec())
                })
                .collect(),
        );
        // States: merged into their pages at the commit (the last write of a code wins).
        let mut buf = [0u8; CodeState::ENCODED_LEN_MAX];
        r.states = pages::group(
            last_wins(set.codes.iter().collect(), |(k, _)| *k)
                .into_iter()
                .map(|(k, st)| {
                    let n = st.encode(&mut buf);
                    Ok((page(k)?, k.as_bytes().to_vec(), buf[..n].to_vec()))
                })
                .collect::<StoreResult<Vec<_>>>()?,
        );
        for rg in &set.ranges {
            r.ranges.0.push(rg.storage_key().to_vec());
            r.ranges.1.push(rg.encode().to_vec());
        }
        for (p, c) in &set.links_added {
            r.links_added.0.push(places.of(p)?);
            r.links_added.1.push(p.as_bytes().to_vec());
            r.links_added.2.push(c.as_bytes().to_vec());
        }
        for (p, c) in &set.links_removed {
            r.links_removed.0.push(places.of(p)?);
            r.links_removed.1.push(p.as_bytes().to_vec());
            r.links_removed.2.push(c.as_bytes().to_vec());
        }
        for d in last_wins(set.documents.iter().collect(), |d| d.id) {
            r.documents.0.push(d.id);
            r.documents.1.push(i(d.seq));
            r.documents.2.push(encode_document_meta(d)?);
            let (body, zstd) = squeeze::pack(&d.body);
            r.documents.3.push(body);
            r.documents.4.push(zstd);
        }
        for d in last_wins(set.documents.iter().collect(), |d| d.seq) {
            r.document_seqs.0.push(i(d.seq));
            r.document_seqs.1.push(d.id);
            r.document_seqs.2.push(d.log_index.map(i));
        }
        for (s, a) in last_wins(set.shipments_closed.iter().collect(), |(s, _)| *s) {
            r.shipments.0.push(*s);
            r.shipments.1.push(*a);
        }
        for o in last_wins(set.orders.iter().collect(), |o| o.id) {
            r.orders.0.push(o.id);
            r.orders.1.push(i64::from(o.participant));
            r.orders.2.push(encode_record(o)?);
        }
        let serials: Vec<(Uuid, i64, &String)> = set
            .order_serials
            .iter()
            .flat_map(|(id, first, serials)| {
                serials
                    .iter()
                    .enumerate()
                    .map(move |(n, s)| (*id, i64::from(*first) + n as i64, s))
            })
            .collect();
        for (id, idx, s) in last_wins(serials, |(id, idx, _)| (*id, *idx)) {
            r.order_serials.0.push(id);
            r.order_serials.1.push(idx);
            r.order_serials.2.push(s.clone());
        }
        for b in last_wins(set.blocks.iter().collect(), |b| b.id) {
            r.blocks.0.push(i(b.id));
            r.blocks.1.push(encode_record(b)?);
        }
        for (b, k) in &set.block_codes {
            r.block_codes.0.push(i(*b));
            r.block_codes.1.push(places.of(k)?);
            r.block_codes.2.push(k.as_bytes().to_vec());
        }
        // Deltas summed per counter first: one counter may move twice in a set.
        let mut sums: Vec<((ParticipantId, u64, u8), i64)> = Vec::new();
        let mut at: HashMap<(ParticipantId, u64, u8), usize> = HashMap::new();
        for (o, g, b, d) in &set.inventory {
            let key = (*o, *g, b.to_u8());
            match at.get(&key) {
                Some(&n) => sums[n].1 += d,
                None => {
                    at.insert(key, sums.len());
                    sums.push((key, *d));
                }
            }
        }
        for ((o, g, b), d) in sums {
            r.inventory.0.push(i64::from(o));
            r.inventory.1.push(i(g));
            r.inventory.2.push(i16::from(b));
            r.inventory.3.push(d);
        }
        for (name, v) in last_wins(set.counters.iter().collect(), |(n, _)| n.clone()) {
            r.counters.0.push(name.clone());
            r.counters.1.push(i(*v));
        }
        for (p, at, summary) in &set.refusals {
            r.refusals.push(encode_refusal(*p, *at, summary)?);
        }
        for c in last_wins(set.complaints.iter().collect(), |c| c.id) {
            r.complaints.0.push(c.id);
            r.complaints.1.push(encode_record(c)?);
        }
        for (id, photo) in last_wins(set.complaint_photos.iter().collect(), |(id, _)| *id) {
            r.photos.0.push(*id);
            r.photos.1.push(photo.clone());
        }
        for (seq, fact) in last_wins(set.feed.iter().collect(), |(s, _)| *s) {
            r.feed.0.push(i(*seq));
            r.feed
                .3
                .push(types::feed::peek(fact).map(|(_, k)| i16::from(k.code())));
            let (fact, zstd) = squeeze::pack(fact);
            r.feed.1.push(fact);
            r.feed.2.push(zstd);
        }
        for (idx, leaf) in last_wins(set.log_leaves.iter().collect(), |(n, _)| *n) {
            r.log_leaves.0.push(i(*idx));
            r.log_leaves.1.push(leaf.clone());
        }
        for (id, h) in last_wins(set.log_hashes.iter().collect(), |(id, _)| *id) {
            r.log_hashes.0.push(i16::from(id.level));
            r.log_hashes.1.push(i(id.index));
            r.log_hashes.2.push(h.to_vec());
        }
        Ok(r)
    }

    /// Writes everything in one transaction, committed durably.
    async fn write(self, c: &mut ClientWrapper, fence: Option<(String, i64)>) -> StoreResult<()> {
        let tx = c.transaction().await.map_err(pg)?;
        lease::check_fence(&tx, &fence).await?;
        // The code rows: pages merged and rewritten, runs appended, both by binary COPY.
        pages::write_pages(&tx, self.states, self.citus).await?;
        pages::copy_runs(&tx, &self.runs).await?;
        // One statement per table with rows, each over whole columns (`unnest`), prepared
        // once per connection. In order: links removed after links added (in a batch the
        // last word wins).
        let statements: [(usize, &str, &[&(dyn ToSql + Sync)]); 21] = [
            (
                self.ranges.0.len(),
                "INSERT INTO code_ranges (k, record) \
                 SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (k) DO UPDATE SET record = excluded.record",
                &[&self.ranges.0, &self.ranges.1],
            ),
            (
                self.participants.0.len(),
                "INSERT INTO participants (id, tin, record) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[]) \
                 ON CONFLICT (id) \
                 DO UPDATE SET tin = excluded.tin, record = excluded.record",
                &[
                    &self.participants.0,
                    &self.participants.1,
                    &self.participants.2,
                ],
            ),
            (
                self.products.0.len(),
                "INSERT INTO products (gtin, record) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
                 ON CONFLICT (gtin) \
                 DO UPDATE SET record = excluded.record",
                &[&self.products.0, &self.products.1],
            ),
            (
                self.links_added.0.len(),
                "INSERT INTO links (place, parent, child) \
                 SELECT * FROM unnest($1::integer[], $2::bytea[], $3::bytea[]) \
                 ON CONFLICT DO NOTHING",
                &[
                    &self.links_added.0,
                    &self.links_added.1,
                    &self.links_added.2,
                ],
            ),
            (
                self.links_removed.0.len(),
                "DELETE FROM links \
                 USING unnest($1::integer[], $2::bytea[], $3::bytea[]) AS r(place, parent, child) \
                 WHERE links.place = ANY($1) AND links.place = r.place \
                   AND links.parent = r.parent AND links.child = r.child",
                &[
                    &self.links_removed.0,
                    &self.links_removed.1,
                    &self.links_removed.2,
                ],
            ),
            (
                self.documents.0.len(),
                "INSERT INTO documents (id, seq, meta, body, zstd) \
                 SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bytea[], $4::bytea[], \
                                      $5::boolean[]) \
                 ON CONFLICT (id, seq) \
                 DO UPDATE SET meta = excluded.meta, body = excluded.body, zstd = excluded.zstd",
                &[
                    &self.documents.0,
                    &self.documents.1,
                    &self.documents.2,
                    &self.documents.3,
                    &self.documents.4,
                ],
            ),
            (
                self.documents.0.len(),
                "INSERT INTO document_ids (id, seq) \
                 SELECT * FROM unnest($1::uuid[], $2::bigint[]) \
                 ON CONFLICT (id) \
                 DO UPDATE SET seq = excluded.seq",
                &[&self.documents.0, &self.documents.1],
            ),
            (
                self.document_seqs.0.len(),
                "INSERT INTO document_seqs (seq, id, log_index) \
                 SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::bigint[]) \
                 ON CONFLICT (seq) \
                 DO UPDATE SET id = excluded.id, log_index = excluded.log_index",
                &[
                    &self.document_seqs.0,
                    &self.document_seqs.1,
                    &self.document_seqs.2,
                ],
            ),
            (
                self.shipments.0.len(),
                "INSERT INTO shipments (ship, accept) \
                 SELECT * FROM unnest($1::uuid[], $2::uuid[]) \
                 ON CONFLICT (ship) \
                 DO UPDATE SET accept = excluded.accept",
                &[&self.shipments.0, &self.shipments.1],
            ),
            (
                self.orders.0.len(),
                "INSERT INTO orders (id, participant, record) \
                 SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bytea[]) \
                 ON CONFLICT (id) \
                 DO UPDATE SET participant = excluded.participant, record = excluded.record",
                &[&self.orders.0, &self.orders.1, &self.orders.2],
            ),
            (
                self.order_serials.0.len(),
                "INSERT INTO order_serials (order_id, idx, serial) \
                 SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[]) \
                 ON CONFLICT (order_id, idx) \
                 DO UPDATE SET serial = excluded.serial",
                &[
                    &self.order_serials.0,
                    &self.order_serials.1,
                    &self.order_serials.2,
                ],
            ),
            (
                self.blocks.0.len(),
                "INSERT INTO blocks (id, record) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
                 ON CONFLICT (id) \
                 DO UPDATE SET record = excluded.record",
                &[&self.blocks.0, &self.blocks.1],
            ),
            (
                self.block_codes.0.len(),
                "INSERT INTO block_codes (block, place, code) \
                 SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bytea[]) \
                 ON CONFLICT DO NOTHING",
                &[
                    &self.block_codes.0,
                    &self.block_codes.1,
                    &self.block_codes.2,
                ],
            ),
            (
                self.inventory.0.len(),
                "INSERT INTO inventory (owner, gtin, bucket, n) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::bigint[]) \
                 ON CONFLICT (owner, gtin, bucket) \
                 DO UPDATE SET n = inventory.n + excluded.n",
                &[
                    &self.inventory.0,
                    &self.inventory.1,
                    &self.inventory.2,
                    &self.inventory.3,
                ],
            ),
            (
                self.counters.0.len(),
                "INSERT INTO counters (name, value) \
                 SELECT * FROM unnest($1::text[], $2::bigint[]) \
                 ON CONFLICT (name) \
                 DO UPDATE SET value = excluded.value",
                &[&self.counters.0, &self.counters.1],
            ),
            (
                self.refusals.len(),
                "INSERT INTO refusals (seq, record) \
                 SELECT (SELECT coalesce(max(seq), 0) FROM refusals) + n, r \
                 FROM unnest($1::bytea[]) WITH ORDINALITY AS t(r, n)",
                &[&self.refusals],
            ),
            (
                self.complaints.0.len(),
                "INSERT INTO complaints (id, record) \
                 SELECT * FROM unnest($1::uuid[], $2::bytea[]) \
                 ON CONFLICT (id) \
                 DO UPDATE SET record = excluded.record",
                &[&self.complaints.0, &self.complaints.1],
            ),
            (
                self.photos.0.len(),
                "INSERT INTO complaint_photos (id, photo) \
                 SELECT * FROM unnest($1::uuid[], $2::bytea[]) \
                 ON CONFLICT (id) \
                 DO UPDATE SET photo = excluded.photo",
                &[&self.photos.0, &self.photos.1],
            ),
            (
                self.feed.0.len(),
                "INSERT INTO feed (seq, fact, zstd, kind) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::boolean[], \
                                      $4::smallint[]) \
                 ON CONFLICT (seq) \
                 DO UPDATE SET fact = excluded.fact, zstd = excluded.zstd, kind = excluded.kind",
                &[&self.feed.0, &self.feed.1, &self.feed.2, &self.feed.3],
            ),
            (
                self.log_leaves.0.len(),
                "INSERT INTO log_leaves (idx, leaf) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
                 ON CONFLICT (idx) \
                 DO UPDATE SET leaf = excluded.leaf",
                &[&self.log_leaves.0, &self.log_leaves.1],
            ),
            (
                self.log_hashes.0.len(),
                "INSERT INTO log_hashes (level, idx, hash) \
                 SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) \
                 ON CONFLICT (level, idx) \
                 DO UPDATE SET hash = excluded.hash",
                &[&self.log_hashes.0, &self.log_hashes.1, &self.log_hashes.2],
            ),
        ];
        for (rows, sql, params) in statements {
            if rows > 0 {
                let s = tx.prepare_cached(sql).await.map_err(pg)?;
                tx.execute(&s, params).await.map_err(pg)?;
            }
        }
        if let Some(upto) = self.inbox_upto {
            let s = tx
                .prepare_cached("DELETE FROM fact_inbox WHERE id <= $1")
                .await
                .map_err(pg)?;
            tx.execute(&s, &[&upto]).await.map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }
}
