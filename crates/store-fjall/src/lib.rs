//! The embedded storage engine: the registry's [`Store`] on fjall, a pure-Rust LSM tree.
//!
//! One keyspace per table; a [`WriteSet`] becomes one fjall batch written to the journal
//! and fsynced before `commit` returns (fjall's `PersistMode::SyncAll`), so an
//! acknowledged write survives `kill -9` and a batch is never half-applied.
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `codes` | placed: block(code) ‖ 2 ‖ GTIN (7 bytes) ‖ serial length ‖ counter (u64 BE); else spread(code) ‖ code key | [`CodeState`] binary |
//! | `events` | doc seq (low u32 BE ‖ high u32 BE) ‖ first entry's key | a chunk of ≤ 1,024 of the document's events (see [`event_chunks`]) |
//! | `ranges` | GTIN (u64 BE) ‖ serial length ‖ first counter (u64 BE) | [`types::model::CodeRange`] binary: codes emitted and not touched since |
//! | `links` | spread(parent) ‖ len-prefixed parent ‖ len-prefixed child | empty |
//! | `docs` | document UUID | metadata length (u32 LE) ‖ version byte ‖ JSON metadata ‖ body |
//! | `doc_seq` | seq (u64 BE) | document UUID ‖ log index (u64 BE) |
//! | `shipments` | ship doc UUID | accept doc UUID |
//! | `participants` | id (u32 BE) | version byte ‖ JSON |
//! | `tins` | TIN | id (u32 BE) |
//! | `products` | GTIN (u64 BE) | version byte ‖ JSON |
//! | `orders` | order UUID | version byte ‖ JSON |
//! | `orders_by` | participant (u32 BE) ‖ order UUID | empty |
//! | `order_serials` | order UUID ‖ index (u32 BE) | serial |
//! | `blocks` | block id (u64 BE) | version byte ‖ JSON |
//! | `block_codes` | block id (u64 BE) ‖ code key | empty |
//! | `inventory` | owner (u32 BE) ‖ GTIN (u64 BE) ‖ bucket | i64 LE |
//! | `meta` | counter name | u64 LE |
//! | `refusals` | seq (u64 BE) | version byte ‖ JSON |
//! | `complaints` | complaint UUID (v7: time order) | version byte ‖ JSON |
//! | `complaint_photos` | complaint UUID | image bytes |
//! | `log` | leaf index (u64 BE) | leaf bytes (`types::log`) |
//! | `log_hashes` | `tlog::NodeId::key()` (level ‖ index u64 BE) | 32-byte hash |
//! | `feed` | feed seq (u64 BE) | `types::feed` record (version byte ‖ postcard) |
//! | `feed_kinds` | fact kind (`FactKind::code`, 0xFF: unreadable) ‖ feed seq (u64 BE) | empty |
//! | `projections` | name ‖ 0x00 ‖ row key; name ‖ 0x01 for the checkpoint | row bytes; checkpoint u64 LE |
//!
//! `spread` is 4 bytes of a hash of the code key (FNV-1a, folded to 32 bits). A store
//! opened with a [`Placement`] (the issuing keyring's serial permutation) keeps the
//! states of codes whose serial maps back to a counter — operator serials, and any
//! alphanumeric serial short enough — in counter order: `block` is 4 bytes of a hash of
//! (GTIN, length, counter ÷ 1,024), so one order's codes sit together in runs of 1,024
//! (a document's states are a few blocks on disk, not a block each; neighbours' alike
//! states compress together) while runs spread over the keyspace (the memtable's inline
//! key prefix still tells runs apart). Both hashes, the keys and the placement are
//! [`types::placement`]'s: the key design the PostgreSQL engine shares (there `block`
//! is a code's *place*, first in its rows' keys and Citus's distribution column).
#![deny(missing_docs)]

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use store::{DiskSpace, EngineGauge, Store, StoreError, StoreErrorKind, StoreResult, WriteSet};
use types::model::{
    Block, Bucket, CodeEvent, CodeKey, CodeRange, CodeState, Order, Participant, ParticipantId,
    Product, StoredDocument,
};
use types::placement;
use uuid::Uuid;

/// The version byte first in every JSON record (now shared by every engine: see
/// [`store::RECORD_VERSION`]).
pub use store::RECORD_VERSION;

/// The fjall engine.
pub struct FjallStore {
    db: Database,
    codes: Keyspace,
    ranges: Keyspace,
    events: Keyspace,
    links: Keyspace,
    docs: Keyspace,
    doc_seq: Keyspace,
    shipments: Keyspace,
    participants: Keyspace,
    tins: Keyspace,
    products: Keyspace,
    orders: Keyspace,
    orders_by: Keyspace,
    order_serials: Keyspace,
    blocks: Keyspace,
    block_codes: Keyspace,
    inventory: Keyspace,
    meta: Keyspace,
    refusals: Keyspace,
    log: Keyspace,
    log_hashes: Keyspace,
    complaints: Keyspace,
    complaint_photos: Keyspace,
    feed: Keyspace,
    /// The feed's sequence numbers by kind (see [`FEED_KINDS_FROM`]).
    feed_kinds: Keyspace,
    projections: Keyspace,
    refusal_seq: AtomicU64,
    durable: bool,
    /// Where codes' states go ([`Placement`]); `None`: spread, for a store opened without
    /// the keyring (which then refuses to read or write states if they are placed).
    placement: Option<Placement>,
    /// Whether the stored states are placed (and this store cannot place them).
    unplaceable: bool,
    /// The data directory, whose file system's free space is checked before each write.
    dir: std::path::PathBuf,
    /// Bytes kept free on it ([`disk_reserve`]).
    reserve: u64,
}

/// fjall's background workers (flushes and compactions): `TRACEMARK_STORE_WORKERS` if set
/// (at least [`WORKERS_MIN`]), else one per core, at least [`WORKERS_DEFAULT_MIN`] and at
/// most four.
///
/// Two fjall 3.1 behaviours bound the choice (`worker_pool.rs`), both seen here:
/// - with one worker, the worker can block sending to its own full message queue, which
///   only it reads: flushes stop and the memtables grow without end (16 GB in seven
///   minutes of ingest at 30 M codes), so one is refused;
/// - worker 0 hands every compaction request it receives back to the queue (to stay free
///   for flushes); with two workers, while worker 1 compacts, worker 0 receives the same
///   request again at once and spins for as long as the compaction lasts: 11 % of the
///   server's samples while growing from 5 M to 10 M codes, 12–15 % at 50 M and in the soak
///   at 100 M. With a third, a request handed back finds an idle worker: 2.6 % at 5–10 M
///   (`perf`, docs/performance.md), ingest while growing as fast or faster. A cost to take
///   up with fjall upstream.
pub fn workers() -> usize {
    std::env::var("TRACEMARK_STORE_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map(|n| n.max(WORKERS_MIN))
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(WORKERS_DEFAULT_MIN, usize::from)
                .clamp(WORKERS_DEFAULT_MIN, 4)
        })
}

/// The fewest fjall background workers (see [`workers`]).
pub const WORKERS_MIN: usize = 2;
/// The fewest by default: three, so that worker 0 does not spin (see [`workers`]).
pub const WORKERS_DEFAULT_MIN: usize = 3;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}

/// A failed batch commit. fjall poisons the database after a failed write or fsync of its
/// journal (every later write then fails with `Poisoned`; its documentation: "it's best
/// to let the application crash and try to recover"), so both mean the store lost
/// durability ([`StoreErrorKind::Lost`]): the registry stops writing and the process
/// exits, and a start recovers from the journal.
fn commit_err(e: fjall::Error) -> StoreError {
    let kind = match &e {
        fjall::Error::Io(_) | fjall::Error::Poisoned => StoreErrorKind::Lost,
        _ => StoreErrorKind::Failed,
    };
    StoreError::with_source(kind, e.to_string(), e)
}

/// The disk space kept free by default: writes are refused when less is left, so that
/// fjall's journal never meets a full disk (which poisons it until a restart) and its
/// flushes and compactions have room. At most [`DISK_RESERVE_SHARE`] of the file system,
/// so a small one is not refused at once; `TRACEMARK_DISK_RESERVE_MB` sets it.
pub const DISK_RESERVE_DEFAULT: u64 = 1024 * 1024 * 1024;

/// The largest share of the file system the default reserve takes (1/20).
pub const DISK_RESERVE_SHARE: u64 = 20;

/// Bytes free to the process on the file system holding `dir`, and its size.
fn statvfs(dir: &Path) -> StoreResult<(u64, u64)> {
    let v = rustix::fs::statvfs(dir).map_err(err)?;
    Ok((
        v.f_bavail.saturating_mul(v.f_frsize),
        v.f_blocks.saturating_mul(v.f_frsize),
    ))
}

/// The reserve for the file system holding `dir`: `TRACEMARK_DISK_RESERVE_MB` if set,
/// else [`DISK_RESERVE_DEFAULT`] or [`DISK_RESERVE_SHARE`] of its size, the smaller.
fn disk_reserve(dir: &Path) -> StoreResult<u64> {
    let (free, size) = statvfs(dir)?;
    let reserve = match std::env::var("TRACEMARK_DISK_RESERVE_MB") {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(mb) if mb >= DISK_RESERVE_MIN_MB => mb.saturating_mul(1024 * 1024),
            _ => {
                return Err(err(format!(
                    "TRACEMARK_DISK_RESERVE_MB={v}: give whole MiB, at least \
                     {DISK_RESERVE_MIN_MB} (without a reserve a full disk would poison the \
                     journal and stop the process)"
                )))
            }
        },
        Err(_) => DISK_RESERVE_DEFAULT.min(size / DISK_RESERVE_SHARE),
    };
    if free < reserve {
        eprintln!(
            "store: {} has {} MiB free, under its reserve of {} MiB: writes are refused \
             (503 storage-full) until there is room",
            dir.display(),
            free / (1024 * 1024),
            reserve / (1024 * 1024)
        );
    }
    Ok(reserve)
}

/// The least reserve `TRACEMARK_DISK_RESERVE_MB` may set: a group commit's journal write
/// and a memtable's flush must fit in it.
pub const DISK_RESERVE_MIN_MB: u64 = 16;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

/// Four bytes of FNV-1a over a code key ([`types::placement::spread`]): the first
/// bytes of every code-keyed storage key.
///
/// Codes of one GTIN share their first 8 key bytes, and fjall's keys compare a 4-byte inline
/// prefix before dereferencing: without a spread prefix every memtable comparison chased a
/// pointer and `memcmp` took a third of ingest time. The hash also spreads keys evenly.
fn spread(k: &CodeKey) -> [u8; 4] {
    placement::spread(k).to_be_bytes()
}

/// The storage key of a code's state without a [`Placement`]: spread prefix ‖ code key
/// ([`types::placement::spread_key`]).
pub fn state_key(k: &CodeKey) -> Vec<u8> {
    placement::spread_key(k)
}

/// Keyspaces compressed at every level (see `FjallStore::open_placed`).
const BIG: &[&str] = &["codes", "events", "docs", "feed", "log", "refusals"];

/// The fifth byte of a placed state key (a code key's first byte, its tag, is 0 or 1).
const PLACED: u8 = placement::PLACED;
/// The `meta` counter that says the codes' states are placed ([`Placement`]): 2.
const LAYOUT: &str = "code_layout";
/// The `meta` counter holding the first feed sequence number `feed_kinds` indexes: facts
/// written before a store kept the index are found by reading and peeking
/// ([`store::feed_of_kinds_by_peeking`]), not indexed at the first start (which
/// would read the whole feed), and a projection's start reads only the recent feed.
const FEED_KINDS_FROM: &str = "feed_kinds_from";
/// `feed_kinds`' kind byte for a fact whose kind cannot be read (every caller gets those).
const KIND_UNREADABLE: u8 = 0xFF;

/// The last key of a keyspace keyed by a sequence number (u64 BE); 0 when empty.
fn last_seq(ks: &Keyspace) -> StoreResult<u64> {
    Ok(ks
        .last_key_value()
        .map(|g| g.key().map_err(err))
        .transpose()?
        .and_then(|k| <[u8; 8]>::try_from(&k[..]).ok())
        .map_or(0, u64::from_be_bytes))
}

/// `feed_kinds`' key of a stored fact.
fn feed_kind_key(seq: u64, fact: &[u8]) -> [u8; 9] {
    let kind = types::feed::peek(fact).map_or(KIND_UNREADABLE, |(_, k)| k.code());
    let mut key = [0u8; 9];
    key[0] = kind;
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// Where codes' states are stored: in counter order, for codes whose serial the issuing
/// permutation maps back to a counter (see the [crate documentation](crate)). The key
/// design both engines share: [`types::placement`].
pub use types::placement::Placement;

/// Serial sequences per (GTIN, length) while placing many keys.
type Seqs = placement::Sequences;

/// The scan prefix of everything filed under a code (events, children): spread prefix ‖
/// length-prefixed code key.
fn under(k: &CodeKey) -> Vec<u8> {
    let (b, n) = k.prefixed();
    cat(&[&spread(k), &b[..n]])
}

/// Most events in one stored chunk of a document's events.
pub const EVENT_CHUNK: usize = 1_024;

fn doc_prefix(doc_seq: u64) -> [u8; 8] {
    // Low 32 bits first, then high: keys still ascend (for four billion documents at a
    // time), and the 4-byte inline prefix fjall compares before dereferencing a key differs
    // between documents instead of being zeros.
    let mut p = [0u8; 8];
    p[..4].copy_from_slice(&(doc_seq as u32).to_be_bytes());
    p[4..].copy_from_slice(&((doc_seq >> 32) as u32).to_be_bytes());
    p
}

/// The key of event `seq` of a code within its document's chunks.
fn entry_key(k: &CodeKey, seq: u32) -> Vec<u8> {
    cat(&[&under(k), &seq.to_be_bytes()])
}

/// A document's events as stored: chunks of at most [`EVENT_CHUNK`] entries sorted by code,
/// each keyed by the document's sequence number and its first entry, its value the entries
/// (`u16` key length ‖ entry key ‖ event). One insert per chunk instead of one per event: the
/// memtable insert is what limits the writer.
///
/// `events` are (document sequence, code, the code's event number, event bytes); a
/// document's events all arrive in one commit.
pub fn event_chunks(
    events: impl IntoIterator<Item = (u64, CodeKey, u32, [u8; CodeEvent::ENCODED_LEN])>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut by_doc: std::collections::BTreeMap<u64, Vec<Entry>> = std::collections::BTreeMap::new();
    for (doc_seq, k, seq, e) in events {
        by_doc
            .entry(doc_seq)
            .or_default()
            .push((entry_key(&k, seq), e));
    }
    let mut out = Vec::new();
    for (doc_seq, mut entries) in by_doc {
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for chunk in entries.chunks(EVENT_CHUNK) {
            let key = cat(&[&doc_prefix(doc_seq), &chunk[0].0]);
            let mut value = Vec::with_capacity(chunk.len() * (2 + 40 + CodeEvent::ENCODED_LEN));
            for (ek, e) in chunk {
                value.extend_from_slice(&(ek.len() as u16).to_le_bytes());
                value.extend_from_slice(ek);
                value.extend_from_slice(e);
            }
            out.push((key, value));
        }
    }
    out
}

/// An entry of a document's events: its key within the document and the event's bytes.
type Entry = (Vec<u8>, [u8; CodeEvent::ENCODED_LEN]);

/// Finds an entry in a chunk's value.
fn find_entry<'v>(value: &'v [u8], target: &[u8]) -> Option<&'v [u8]> {
    let mut rest = value;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let ek = rest.get(2..2 + n)?;
        let e = rest.get(2 + n..2 + n + CodeEvent::ENCODED_LEN)?;
        if ek == target {
            return Some(e);
        }
        rest = &rest[2 + n + CodeEvent::ENCODED_LEN..];
    }
    None
}

fn prefixed(k: &CodeKey) -> Vec<u8> {
    let (b, n) = k.prefixed();
    b[..n].to_vec()
}

/// Fewest states of one dense run (one place's counters, at most four stored keys passed
/// per key asked) read with one range scan instead of point reads. A point read looks up
/// every level (filter, index, block): ~2.3 µs at 195 M codes against ~0.6 µs a state for
/// a run's scan (docs/performance.md; `tracemark bench --only raw` has the rows), and a
/// document's codes are usually consecutive counters of one order.
pub const SCAN_RUN_MIN: usize = 8;

/// At most this many stored keys a scan may pass per state asked for: a run sparser than
/// this is read by point reads.
const SCAN_SPAN_PER_KEY: u64 = 4;

/// The length of the dense run at the start of `order` (indices into `stored`, sorted by
/// key): placed keys of one GTIN and serial length, in one place (one run of
/// [`placement::RUN`] counters), whose counters span at most [`SCAN_SPAN_PER_KEY`] per key.
/// 1 for a key that starts no such run.
fn dense_run(stored: &[Vec<u8>], order: &[usize]) -> usize {
    // place (4) ‖ PLACED ‖ GTIN (7) ‖ length ‖ counter (8 bytes, BE)
    const PREFIX: usize = 13;
    let counter = |k: &[u8]| -> Option<u64> {
        (k.len() == PREFIX + 8 && k[4] == PLACED)
            .then(|| u64::from_be_bytes(k[PREFIX..].try_into().unwrap_or_default()))
    };
    let first = &stored[order[0]];
    let Some(c0) = counter(first) else { return 1 };
    let mut n = 1;
    while let Some(&x) = order.get(n) {
        let k = &stored[x];
        match counter(k) {
            Some(c) if k[..PREFIX] == first[..PREFIX] => {
                // Saturating: any counter a serial maps back to is a key, u64::MAX too.
                let span = c.saturating_sub(c0).saturating_add(1);
                if span > (n as u64 + 1).saturating_mul(SCAN_SPAN_PER_KEY) {
                    break;
                }
                n += 1;
            }
            _ => break,
        }
    }
    n
}

/// A stored state's bytes decoded, or an error naming the code.
fn decode_state(k: &CodeKey, v: &[u8]) -> StoreResult<CodeState> {
    CodeState::decode(v).ok_or_else(|| err(format!("corrupt state of {k}")))
}

impl FjallStore {
    /// Opens (or creates) the store in `dir`. Every commit is fsynced.
    pub fn open(dir: &Path) -> StoreResult<FjallStore> {
        Self::open_with(dir, true)
    }

    /// Opens the store; `durable = false` skips the fsync per commit (benchmarks of the
    /// engine's ceiling only: an acknowledged write may then be lost on a crash).
    ///
    /// The block cache gets what the memory budget gives it ([`types::memory::Budget`]): the state
    /// look-up, not the write, is what limits ingest, and a cached block is ~100× cheaper.
    pub fn open_with(dir: &Path, durable: bool) -> StoreResult<FjallStore> {
        Self::open_placed(dir, durable, None)
    }

    /// Opens the store with codes' states placed in counter order by the keyring's serial
    /// permutation ([`Placement`]), as `serve` does; every commit is fsynced. A store whose
    /// states were spread (written before placement, or without it) has them moved once,
    /// here, in batches (resumable: a state moved is not moved again).
    pub fn open_with_placement(dir: &Path, placement: Placement) -> StoreResult<FjallStore> {
        Self::open_placed(dir, true, Some(placement))
    }

    /// Opens the store; see [`FjallStore::open_with`] and
    /// [`FjallStore::open_with_placement`].
    pub fn open_placed(
        dir: &Path,
        durable: bool,
        placement: Option<Placement>,
    ) -> StoreResult<FjallStore> {
        std::fs::create_dir_all(dir).map_err(err)?;
        let budget = types::memory::Budget::from_env();
        let db = Database::builder(dir)
            .cache_size(budget.block_cache)
            .max_journaling_size(budget.journal)
            .worker_threads(workers())
            .open()
            .map_err(|e| match e {
                fjall::Error::Locked => StoreError::new(format!(
                    "{} is in use by another process (a running `tracemark serve` or `demo`?): \
                     stop it first, or use another --data directory",
                    dir.display()
                )),
                e => err(e),
            })?;
        // Memtable size per keyspace: fjall's default, 64 MiB. Smaller ones (16 MiB) made
        // ingest ~10% faster but point reads 2× slower (more L0 tables), and reads are most
        // of the traffic (tills, consumers). `TRACEMARK_MEMTABLE_MB` overrides, for
        // experiments.
        let memtable_mb: u64 = std::env::var("TRACEMARK_MEMTABLE_MB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64);
        let ks = |name: &str| {
            db.keyspace(name, || {
                let o =
                    KeyspaceCreateOptions::default().max_memtable_size(memtable_mb * 1024 * 1024);
                // The tables that grow with codes and documents are compressed at every
                // level (fjall's default leaves its first two levels, most of a registry
                // of 10 M codes, uncompressed): a document's events, its body's JSON, the
                // feed's facts and an order's placed states repeat themselves, and LZ4
                // costs less to read than the bytes it saves. Applies to keyspaces made
                // from now on (fjall keeps a keyspace's options with it).
                if BIG.contains(&name) {
                    o.data_block_compression_policy(fjall::config::CompressionPolicy::all(
                        fjall::CompressionType::Lz4,
                    ))
                } else {
                    o
                }
            })
            .map_err(err)
        };
        let store = FjallStore {
            codes: ks("codes")?,
            ranges: ks("ranges")?,
            events: ks("events")?,
            links: ks("links")?,
            docs: ks("docs")?,
            doc_seq: ks("doc_seq")?,
            shipments: ks("shipments")?,
            participants: ks("participants")?,
            tins: ks("tins")?,
            products: ks("products")?,
            orders: ks("orders")?,
            orders_by: ks("orders_by")?,
            order_serials: ks("order_serials")?,
            blocks: ks("blocks")?,
            block_codes: ks("block_codes")?,
            complaints: ks("complaints")?,
            complaint_photos: ks("complaint_photos")?,
            feed: ks("feed")?,
            feed_kinds: ks("feed_kinds")?,
            projections: ks("projections")?,
            inventory: ks("inventory")?,
            meta: ks("meta")?,
            refusals: ks("refusals")?,
            log: ks("log")?,
            log_hashes: ks("log_hashes")?,
            refusal_seq: AtomicU64::new(0),
            db,
            durable,
            placement,
            unplaceable: false,
            dir: dir.to_path_buf(),
            reserve: disk_reserve(dir)?,
        };
        let mut store = store;
        let placed = store.counter(LAYOUT)? == 2;
        match (&store.placement, placed) {
            (Some(_), false) => store.place_states()?,
            (None, true) => store.unplaceable = true,
            _ => {}
        }
        store
            .refusal_seq
            .store(last_seq(&store.refusals)?, Ordering::SeqCst);
        if store.counter(FEED_KINDS_FROM)? == 0 {
            // A new store, or one from before the index: it covers what comes next.
            let head = last_seq(&store.feed)?;
            let mut b = store.db.batch().durability(Some(PersistMode::SyncAll));
            b.insert(
                &store.meta,
                FEED_KINDS_FROM.as_bytes(),
                (head + 1).to_le_bytes(),
            );
            b.commit().map_err(err)?;
        }
        store.index_unindexed_facts()?;
        Ok(store)
    }

    /// Indexes the facts after the last one `feed_kinds` holds: a build without the index
    /// (a downgrade, then this one again) wrote them. Reads only those facts; none, as a
    /// rule.
    fn index_unindexed_facts(&self) -> StoreResult<()> {
        let head = last_seq(&self.feed)?;
        let mut top = self.counter(FEED_KINDS_FROM)?.max(1) - 1;
        // Every kind byte (a newer build may know more kinds): 256 look-ups of a last key.
        for kind in 0..=u8::MAX {
            let (mut lo, mut hi) = ([0u8; 9], [0xFFu8; 9]);
            (lo[0], hi[0]) = (kind, kind);
            if let Some(g) = self.feed_kinds.range(lo..=hi).next_back() {
                let k = g.key().map_err(err)?;
                let seq = k
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                top = top.max(seq);
            }
        }
        let mut after = top;
        let mut indexed = 0u64;
        while after < head {
            let page = self.feed(after, 10_000)?;
            let Some(&(last, _)) = page.last() else { break };
            let mut b = self.db.batch().durability(Some(PersistMode::SyncAll));
            for (seq, fact) in &page {
                b.insert(&self.feed_kinds, feed_kind_key(*seq, fact), []);
            }
            b.commit().map_err(err)?;
            indexed += page.len() as u64;
            after = last;
        }
        if indexed > 0 {
            eprintln!("store: {indexed} feed facts written without the index of kinds, indexed");
        }
        Ok(())
    }

    /// Refuses a write ([`StoreErrorKind::Full`]) while less than the reserve is free on
    /// the data directory's disk; a write goes through again once there is room.
    fn room(&self) -> StoreResult<()> {
        match self.disk_space() {
            Some(s) if s.short() => Err(StoreError::new(format!(
                "the data directory's disk has {} MiB free, under the {} MiB kept in reserve \
                 (TRACEMARK_DISK_RESERVE_MB): writes are refused until there is room",
                s.free / (1024 * 1024),
                s.reserve / (1024 * 1024)
            ))
            .of_kind(StoreErrorKind::Full)),
            _ => Ok(()),
        }
    }

    /// Moves every spread state whose code can be placed to its placed key, then marks
    /// the store placed. Batches of 100,000; a state already moved is skipped, so an
    /// interrupted move resumes.
    fn place_states(&self) -> StoreResult<()> {
        let Some(p) = &self.placement else {
            return Ok(());
        };
        let mut seqs = Seqs::default();
        let mut from: Option<Vec<u8>> = None;
        let mut moved = 0u64;
        loop {
            use std::ops::Bound;
            let lower = from.clone().map_or(Bound::Unbounded, Bound::Excluded);
            let mut page = Vec::new();
            for g in self
                .codes
                .range::<Vec<u8>, _>((lower, Bound::Unbounded))
                .take(100_000)
            {
                let (k, v) = g.into_inner().map_err(err)?;
                page.push((k.to_vec(), v.to_vec()));
            }
            let Some(last) = page.last() else { break };
            from = Some(last.0.clone());
            let mut b = self.db.batch().durability(Some(PersistMode::SyncAll));
            for (k, v) in &page {
                if k.get(4) == Some(&PLACED) {
                    continue;
                }
                let Some(code) = k.get(4..).and_then(CodeKey::from_bytes) else {
                    return Err(err("a corrupt code key"));
                };
                let placed = p.key(&code, &mut seqs);
                if placed != *k {
                    b.insert(&self.codes, placed, v.as_slice());
                    b.remove(&self.codes, k.as_slice());
                    moved += 1;
                }
            }
            b.commit().map_err(err)?;
        }
        let mut b = self.db.batch().durability(Some(PersistMode::SyncAll));
        b.insert(&self.meta, LAYOUT.as_bytes(), 2u64.to_le_bytes());
        b.commit().map_err(err)?;
        if moved > 0 {
            eprintln!("store: {moved} code states moved to their placed keys");
        }
        Ok(())
    }

    /// The state key of `k` in this store's layout.
    fn key_of(&self, k: &CodeKey, seqs: &mut Seqs) -> StoreResult<Vec<u8>> {
        if self.unplaceable {
            return Err(err(
                "this store's code states are placed by the issuing keyring's serial \
                 permutation: open it with the keyring (FjallStore::open_with_placement)",
            ));
        }
        Ok(match &self.placement {
            Some(p) => p.key(k, seqs),
            None => state_key(k),
        })
    }

    /// The code of a stored state key.
    fn code_of(&self, key: &[u8], seqs: &mut Seqs) -> Option<CodeKey> {
        match &self.placement {
            Some(p) => p.code(key, seqs),
            None => CodeKey::from_bytes(key.get(4..)?),
        }
    }

    /// Reads the states of `run` (indices into `keys` and `stored`, sorted by stored key)
    /// with one range scan from its first key to its last, into `out`.
    fn scan_states(
        &self,
        keys: &[CodeKey],
        stored: &[Vec<u8>],
        run: &[usize],
        out: &mut [Option<CodeState>],
    ) -> StoreResult<()> {
        let (Some(&lo), Some(&hi)) = (run.first(), run.last()) else {
            return Ok(());
        };
        let mut t = 0;
        for g in self
            .codes
            .range(stored[lo].as_slice()..=stored[hi].as_slice())
        {
            let (k, v) = g.into_inner().map_err(err)?;
            while t < run.len() && stored[run[t]].as_slice() < &*k {
                t += 1;
            }
            // A key asked for twice gets its state twice.
            while t < run.len() && stored[run[t]].as_slice() == &*k {
                out[run[t]] = Some(decode_state(&keys[run[t]], &v)?);
                t += 1;
            }
            if t == run.len() {
                break;
            }
        }
        Ok(())
    }

    /// Decodes a JSON record (see [`store::decode_record`]).
    fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
        store::decode_record(bytes)
    }

    /// Encodes a JSON record (see [`store::encode_record`]).
    fn record(v: &impl serde::Serialize) -> StoreResult<Vec<u8>> {
        store::encode_record(v)
    }

    fn scan_prefix(&self, ks: &Keyspace, prefix: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for g in ks.prefix(prefix) {
            let (k, v) = g.into_inner().map_err(err)?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn encode_doc(d: &StoredDocument) -> StoreResult<Vec<u8>> {
        let m = store::encode_document_meta(d)?;
        Ok(cat(&[&(m.len() as u32).to_le_bytes(), &m, &d.body]))
    }

    fn decode_doc(v: &[u8]) -> StoreResult<StoredDocument> {
        let n = u32::from_le_bytes(
            v.get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| err("short document record"))?,
        ) as usize;
        let meta = v
            .get(4..4 + n)
            .ok_or_else(|| err("short document record"))?;
        store::decode_document(meta, &v[4 + n..])
    }
}

impl Store for FjallStore {
    fn participant(&self, id: ParticipantId) -> StoreResult<Option<Participant>> {
        self.participants
            .get(id.to_be_bytes())
            .map_err(err)?
            .map(|v| Self::json(&v))
            .transpose()
    }

    fn participant_by_tin(&self, tin: &str) -> StoreResult<Option<Participant>> {
        match self.tins.get(tin.as_bytes()).map_err(err)? {
            None => Ok(None),
            Some(v) => {
                let id = u32::from_be_bytes(v[..].try_into().map_err(err)?);
                self.participant(id)
            }
        }
    }

    fn participants(&self) -> StoreResult<Vec<Participant>> {
        self.scan_prefix(&self.participants, &[])?
            .iter()
            .map(|(_, v)| Self::json(v))
            .collect()
    }

    fn product(&self, gtin: u64) -> StoreResult<Option<Product>> {
        self.products
            .get(gtin.to_be_bytes())
            .map_err(err)?
            .map(|v| Self::json(&v))
            .transpose()
    }

    fn products_between(&self, lo: u64, hi: u64, limit: usize) -> StoreResult<Vec<Product>> {
        let mut out = Vec::new();
        for g in self.products.range(lo.to_be_bytes()..=hi.to_be_bytes()) {
            if out.len() >= limit {
                break;
            }
            let (_, v) = g.into_inner().map_err(err)?;
            out.push(Self::json(&v)?);
        }
        Ok(out)
    }

    fn codes(&self, keys: &[CodeKey]) -> StoreResult<Vec<Option<CodeState>>> {
        let mut seqs = Seqs::default();
        let stored: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| self.key_of(k, &mut seqs))
            .collect::<StoreResult<_>>()?;
        let mut out = vec![None; keys.len()];
        // In key order, so that a dense run of one order's counters is read in one scan.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_unstable_by(|&a, &b| stored[a].cmp(&stored[b]));
        let mut i = 0;
        while i < order.len() {
            let j = i + dense_run(&stored, &order[i..]);
            if j - i >= SCAN_RUN_MIN {
                self.scan_states(keys, &stored, &order[i..j], &mut out)?;
            } else {
                for &x in &order[i..j] {
                    out[x] = match self.codes.get(&stored[x]).map_err(err)? {
                        None => None,
                        Some(v) => Some(decode_state(&keys[x], &v)?),
                    };
                }
            }
            i = j;
        }
        Ok(out)
    }

    fn events(&self, key: &CodeKey) -> StoreResult<Vec<CodeEvent>> {
        let Some(st) = self.codes(std::slice::from_ref(key))?.pop().flatten() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(st.events as usize);
        let mut doc_seq = st.last_event;
        for seq in (0..st.events).rev() {
            // The chunk of the document whose first entry is the last one at or before ours.
            let prefix = doc_prefix(doc_seq);
            let target = entry_key(key, seq);
            let chunk = self
                .events
                .range(prefix.to_vec()..=cat(&[&prefix, &target]))
                .next_back()
                .map(|g| g.into_inner().map_err(err))
                .transpose()?
                .ok_or_else(|| err(format!("event {seq} of {key} is missing")))?;
            let e = find_entry(&chunk.1, &target)
                .and_then(CodeEvent::decode)
                .ok_or_else(|| err(format!("event {seq} of {key} is missing or corrupt")))?;
            doc_seq = e.prev;
            out.push(e);
        }
        out.reverse();
        Ok(out)
    }

    fn children(&self, parent: &CodeKey) -> StoreResult<Vec<CodeKey>> {
        let p = under(parent);
        self.scan_prefix(&self.links, &p)?
            .iter()
            .map(|(k, _)| {
                CodeKey::read_prefixed(&k[p.len()..])
                    .map(|x| x.0)
                    .ok_or_else(|| err("corrupt link"))
            })
            .collect()
    }

    fn document(&self, id: &Uuid) -> StoreResult<Option<StoredDocument>> {
        self.docs
            .get(id.as_bytes())
            .map_err(err)?
            .map(|v| Self::decode_doc(&v))
            .transpose()
    }

    fn document_id_by_seq(&self, seq: u64) -> StoreResult<Option<Uuid>> {
        Ok(self
            .doc_seq
            .get(seq.to_be_bytes())
            .map_err(err)?
            .and_then(|v| v.get(..16).and_then(|b| Uuid::from_slice(b).ok())))
    }

    fn document_log_index(&self, seq: u64) -> StoreResult<Option<u64>> {
        Ok(self
            .doc_seq
            .get(seq.to_be_bytes())
            .map_err(err)?
            .and_then(|v| v.get(16..24).and_then(|b| b.try_into().ok()))
            .map(u64::from_be_bytes))
    }

    fn log_hashes(&self, ids: &[tlog::NodeId]) -> StoreResult<Vec<Option<tlog::Hash>>> {
        ids.iter()
            .map(|id| {
                Ok(self
                    .log_hashes
                    .get(id.key())
                    .map_err(err)?
                    .and_then(|v| <[u8; 32]>::try_from(&v[..]).ok()))
            })
            .collect()
    }

    fn shipment_closed_by(&self, ship: &Uuid) -> StoreResult<Option<Uuid>> {
        Ok(self
            .shipments
            .get(ship.as_bytes())
            .map_err(err)?
            .and_then(|v| Uuid::from_slice(&v).ok()))
    }

    fn order(&self, id: &Uuid) -> StoreResult<Option<Order>> {
        self.orders
            .get(id.as_bytes())
            .map_err(err)?
            .map(|v| Self::json(&v))
            .transpose()
    }

    fn orders_of(&self, participant: ParticipantId) -> StoreResult<Vec<Order>> {
        let mut out = Vec::new();
        for (k, _) in self.scan_prefix(&self.orders_by, &participant.to_be_bytes())? {
            if let Some(o) = self.order(&Uuid::from_slice(&k[4..]).map_err(err)?)? {
                out.push(o);
            }
        }
        Ok(out)
    }

    fn order_serials(&self, id: &Uuid, offset: u32, limit: u32) -> StoreResult<Vec<String>> {
        let from = cat(&[id.as_bytes(), &offset.to_be_bytes()]);
        let to = cat(&[id.as_bytes(), &offset.saturating_add(limit).to_be_bytes()]);
        let mut out = Vec::new();
        for g in self.order_serials.range(from..to) {
            let (_, v) = g.into_inner().map_err(err)?;
            out.push(String::from_utf8(v.to_vec()).map_err(err)?);
        }
        Ok(out)
    }

    fn blocks(&self) -> StoreResult<Vec<Block>> {
        self.scan_prefix(&self.blocks, &[])?
            .iter()
            .map(|(_, v)| Self::json(v))
            .collect()
    }

    fn complaints(
        &self,
        start: &Uuid,
        limit: usize,
    ) -> StoreResult<Vec<types::complaints::Complaint>> {
        let mut out = Vec::new();
        for g in self
            .complaints
            .range(start.as_bytes().to_vec()..)
            .take(limit)
        {
            let (_, v) = g.into_inner().map_err(err)?;
            out.push(Self::json(&v)?);
        }
        Ok(out)
    }

    fn complaint(&self, id: &Uuid) -> StoreResult<Option<types::complaints::Complaint>> {
        self.complaints
            .get(id.as_bytes())
            .map_err(err)?
            .map(|v| Self::json(&v))
            .transpose()
    }

    fn complaint_photo(&self, id: &Uuid) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .complaint_photos
            .get(id.as_bytes())
            .map_err(err)?
            .map(|v| v.to_vec()))
    }

    fn block_codes(&self, block: u64) -> StoreResult<Vec<CodeKey>> {
        self.scan_prefix(&self.block_codes, &block.to_be_bytes())?
            .iter()
            .map(|(k, _)| CodeKey::from_bytes(&k[8..]).ok_or_else(|| err("corrupt block entry")))
            .collect()
    }

    fn inventory(&self, owner: ParticipantId, gtin: u64) -> StoreResult<Vec<(Bucket, i64)>> {
        let p = cat(&[&owner.to_be_bytes(), &gtin.to_be_bytes()]);
        let mut out = Vec::new();
        for (k, v) in self.scan_prefix(&self.inventory, &p)? {
            let b = Bucket::from_u8(k[12]).ok_or_else(|| err("corrupt inventory bucket"))?;
            out.push((b, i64::from_le_bytes(v[..].try_into().map_err(err)?)));
        }
        Ok(out)
    }

    fn counter(&self, name: &str) -> StoreResult<u64> {
        Ok(self
            .meta
            .get(name.as_bytes())
            .map_err(err)?
            .and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
            .map_or(0, u64::from_le_bytes))
    }

    fn log_leaf(&self, index: u64) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .log
            .get(index.to_be_bytes())
            .map_err(err)?
            .map(|v| v.to_vec()))
    }

    fn feed(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let Some(from) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for g in self.feed.range(from.to_be_bytes()..).take(limit) {
            let (k, v) = g.into_inner().map_err(err)?;
            let seq = <[u8; 8]>::try_from(&k[..])
                .map(u64::from_be_bytes)
                .map_err(|_| err("a feed key of the wrong length"))?;
            out.push((seq, v.to_vec()));
        }
        Ok(out)
    }

    fn feed_of_kinds(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
        kinds: &[types::feed::FactKind],
    ) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let from = self.counter(FEED_KINDS_FROM)?.max(1);
        // The part before the index: read and peeked.
        let mut out = if after < from - 1 {
            store::feed_of_kinds_by_peeking(self, after, upto.min(from - 1), limit, kinds)?
        } else {
            Vec::new()
        };
        let lo = after.max(from - 1).saturating_add(1);
        if out.len() >= limit || lo > upto {
            return Ok(out);
        }
        let want = limit - out.len();
        let mut seqs = Vec::new();
        let codes = kinds.iter().map(|k| k.code()).chain([KIND_UNREADABLE]);
        for kind in codes {
            let key = |seq: u64| {
                let mut k = [0u8; 9];
                k[0] = kind;
                k[1..].copy_from_slice(&seq.to_be_bytes());
                k
            };
            for g in self.feed_kinds.range(key(lo)..=key(upto)).take(want) {
                let k = g.key().map_err(err)?;
                let seq = k
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| err("a feed_kinds key of the wrong length"))?;
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        seqs.dedup();
        for seq in seqs {
            if out.len() >= limit {
                break;
            }
            let Some(fact) = self.feed.get(seq.to_be_bytes()).map_err(err)? else {
                continue;
            };
            // A fact rewritten since as another kind keeps its old entry: peeked again.
            if types::feed::peek(&fact).is_none_or(|(_, k)| kinds.contains(&k)) {
                out.push((seq, fact.to_vec()));
            }
        }
        Ok(out)
    }

    fn projection_checkpoint(&self, name: &str) -> StoreResult<u64> {
        Ok(self
            .projections
            .get(cat(&[name.as_bytes(), &[1]]))
            .map_err(err)?
            .and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
            .map_or(0, u64::from_le_bytes))
    }

    fn projection_rows(
        &self,
        name: &str,
        start: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let prefix = cat(&[name.as_bytes(), &[0]]);
        let mut out = Vec::new();
        for g in self
            .projections
            .range(cat(&[&prefix, start])..cat(&[name.as_bytes(), &[1]]))
            .take(limit)
        {
            let (k, v) = g.into_inner().map_err(err)?;
            out.push((k[prefix.len()..].to_vec(), v.to_vec()));
        }
        Ok(out)
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
        self.room()?;
        // Not synced: fjall's journal applies a batch whole or not at all after a crash,
        // and a projection lost with it is replayed from the durable feed.
        let mut b = self.db.batch();
        let prefix = cat(&[name.as_bytes(), &[0]]);
        for (k, v) in rows {
            match v {
                Some(v) => b.insert(&self.projections, cat(&[&prefix, k]), v.as_slice()),
                None => b.remove(&self.projections, cat(&[&prefix, k])),
            }
        }
        b.insert(
            &self.projections,
            cat(&[name.as_bytes(), &[1]]),
            checkpoint.to_le_bytes(),
        );
        b.commit().map_err(commit_err)
    }

    fn disk_space(&self) -> Option<DiskSpace> {
        let (free, _) = statvfs(&self.dir).ok()?;
        Some(DiskSpace {
            free,
            reserve: self.reserve,
        })
    }

    fn refusal_count(&self) -> StoreResult<u64> {
        Ok(self.refusal_seq.load(Ordering::SeqCst))
    }

    fn code_states_after(
        &self,
        after: Option<&CodeKey>,
        limit: usize,
    ) -> StoreResult<Vec<(CodeKey, CodeState)>> {
        use std::ops::Bound;
        // Key order is the layout's (placed runs, spread codes): every code once, in an
        // order fixed between writes.
        let mut seqs = Seqs::default();
        let from = match after {
            Some(k) => Bound::Excluded(self.key_of(k, &mut seqs)?),
            None => Bound::Unbounded,
        };
        if self.unplaceable {
            self.key_of(&CodeKey::sscc(0), &mut seqs)?;
        }
        let mut out = Vec::with_capacity(limit.min(65_536));
        for g in self
            .codes
            .range::<Vec<u8>, _>((from, Bound::Unbounded))
            .take(limit)
        {
            let (k, v) = g.into_inner().map_err(err)?;
            let key = self
                .code_of(&k, &mut seqs)
                .ok_or_else(|| err("a corrupt code key"))?;
            // Under the key a look-up of its code reads (`Store::codes`): a state moved or
            // edited to another key would pass the audit and yet read as unknown.
            let want = self.key_of(&key, &mut seqs)?;
            if want[..] != k[..] {
                return Err(err(format!(
                    "the state of {key} is stored under key {} but is looked up under key {}: \
                     moved or edited",
                    types::log::hex(&k),
                    types::log::hex(&want)
                )));
            }
            let st = CodeState::decode(&v).ok_or_else(|| err(format!("corrupt state of {key}")))?;
            out.push((key, st));
        }
        Ok(out)
    }

    fn code_range(
        &self,
        gtin: u64,
        serial_len: u8,
        counter: u64,
    ) -> StoreResult<Option<CodeRange>> {
        let lo = CodeRange::key(gtin, serial_len, 0);
        let hi = CodeRange::key(gtin, serial_len, counter);
        let Some(g) = self.ranges.range(lo..=hi).next_back() else {
            return Ok(None);
        };
        let (_, v) = g.into_inner().map_err(err)?;
        let r = CodeRange::decode(&v).ok_or_else(|| err("a corrupt code range"))?;
        Ok(r.contains(counter).then_some(r))
    }

    fn code_ranges_after(
        &self,
        after: Option<[u8; 17]>,
        limit: usize,
    ) -> StoreResult<Vec<CodeRange>> {
        use std::ops::Bound;
        let from = match after {
            Some(k) => Bound::Excluded(k.to_vec()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for g in self
            .ranges
            .range::<Vec<u8>, _>((from, Bound::Unbounded))
            .take(limit)
        {
            let (_, v) = g.into_inner().map_err(err)?;
            out.push(CodeRange::decode(&v).ok_or_else(|| err("a corrupt code range"))?);
        }
        Ok(out)
    }

    fn inventory_after(
        &self,
        after: Option<(ParticipantId, u64, Bucket)>,
        limit: usize,
    ) -> StoreResult<Vec<(ParticipantId, u64, Bucket, i64)>> {
        use std::ops::Bound;
        let from = match after {
            Some((o, g, b)) => {
                Bound::Excluded(cat(&[&o.to_be_bytes(), &g.to_be_bytes(), &[b.to_u8()]]))
            }
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for g in self
            .inventory
            .range::<Vec<u8>, _>((from, Bound::Unbounded))
            .take(limit)
        {
            let (k, v) = g.into_inner().map_err(err)?;
            let (Some(o), Some(gt), Some(b), Ok(n)) = (
                k.get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes),
                k.get(4..12)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes),
                k.get(12).copied().and_then(Bucket::from_u8),
                <[u8; 8]>::try_from(&v[..]).map(i64::from_le_bytes),
            ) else {
                return Err(err("a corrupt inventory counter"));
            };
            out.push((o, gt, b, n));
        }
        Ok(out)
    }

    fn engine_gauges(&self) -> Vec<EngineGauge> {
        let g = |name, help, value: f64| EngineGauge {
            name,
            help,
            counter: false,
            value,
        };
        let counter = |name, help, value: f64| EngineGauge {
            counter: true,
            ..g(name, help, value)
        };
        vec![
            g(
                "block_cache_bytes",
                "Bytes in fjall's block cache.",
                self.db.cache_size() as f64,
            ),
            g(
                "block_cache_capacity_bytes",
                "fjall's block cache capacity (the memory budget's share).",
                self.db.cache_capacity() as f64,
            ),
            g(
                "write_buffer_bytes",
                "Bytes in fjall's memtables, active and sealed.",
                self.db.write_buffer_size() as f64,
            ),
            g(
                "journals",
                "fjall's journal files (the memtables not yet flushed hold their writes).",
                self.db.journal_count() as f64,
            ),
            g(
                "flushes_waiting",
                "Sealed memtables waiting to be flushed.",
                self.db.outstanding_flushes() as f64,
            ),
            g(
                "compactions_running",
                "Compactions running now.",
                self.db.active_compactions() as f64,
            ),
            counter(
                "compactions_total",
                "Compactions completed since start.",
                self.db.compactions_completed() as f64,
            ),
            counter(
                "compaction_seconds_total",
                "Time spent compacting since start.",
                self.db.time_compacting().as_secs_f64(),
            ),
            g(
                "code_state_l0_tables",
                "Tables in level 0 of the code states' keyspace (each one more place a read looks).",
                self.codes.l0_table_count() as f64,
            ),
            g(
                "code_state_tables",
                "Tables of the code states' keyspace.",
                self.codes.table_count() as f64,
            ),
            g(
                "disk_free_bytes",
                "Bytes free on the data directory's file system (-1: statvfs failed).",
                self.disk_space().map_or(-1.0, |d| d.free as f64),
            ),
            g(
                "disk_reserve_bytes",
                "Bytes kept free there: under this, writes are refused (TRACEMARK_DISK_RESERVE_MB).",
                self.reserve as f64,
            ),
        ]
    }

    fn commit(&self, set: &WriteSet) -> StoreResult<()> {
        self.room()?;
        let mut b = self.db.batch();
        if self.durable {
            b = b.durability(Some(PersistMode::SyncAll));
        }
        // Plain reads (`get`) see a batch's items as they are inserted, one by one (fjall
        // publishes the batch's sequence number for snapshots only): so what others point
        // at goes in first — events before the states naming them, codes' states and
        // ranges before the orders counting them, everything before the counters (log
        // size, document and feed sequences) that readers start from.
        for p in &set.participants {
            b.insert(&self.participants, p.id.to_be_bytes(), Self::record(p)?);
            b.insert(&self.tins, p.tin.as_bytes(), p.id.to_be_bytes());
        }
        for p in &set.products {
            let g: u64 = p.gtin.parse().map_err(err)?;
            b.insert(&self.products, g.to_be_bytes(), Self::record(p)?);
        }
        for r in &set.ranges {
            b.insert(&self.ranges, r.storage_key(), r.encode());
        }
        for (key, value) in event_chunks(
            set.events
                .iter()
                .map(|(k, seq, e)| (e.doc_seq, *k, *seq, e.encode())),
        ) {
            b.insert(&self.events, key, value);
        }
        for (p, c) in &set.links_added {
            b.insert(&self.links, cat(&[&under(p), &prefixed(c)]), []);
        }
        for (p, c) in &set.links_removed {
            b.remove(&self.links, cat(&[&under(p), &prefixed(c)]));
        }
        for d in &set.documents {
            b.insert(&self.docs, d.id.as_bytes(), Self::encode_doc(d)?);
            let mut v = d.id.as_bytes().to_vec();
            if let Some(i) = d.log_index {
                v.extend_from_slice(&i.to_be_bytes());
            }
            b.insert(&self.doc_seq, d.seq.to_be_bytes(), v);
        }
        for (s, a) in &set.shipments_closed {
            b.insert(&self.shipments, s.as_bytes(), a.as_bytes());
        }
        for (id, first, serials) in &set.order_serials {
            for (i, s) in serials.iter().enumerate() {
                b.insert(
                    &self.order_serials,
                    cat(&[id.as_bytes(), &(first + i as u32).to_be_bytes()]),
                    s.as_bytes(),
                );
            }
        }
        for bl in &set.blocks {
            b.insert(&self.blocks, bl.id.to_be_bytes(), Self::record(bl)?);
        }
        for c in &set.complaints {
            b.insert(&self.complaints, c.id.as_bytes(), Self::record(c)?);
        }
        for (id, photo) in &set.complaint_photos {
            b.insert(&self.complaint_photos, id.as_bytes(), photo.as_slice());
        }
        for (id, k) in &set.block_codes {
            b.insert(
                &self.block_codes,
                cat(&[&id.to_be_bytes(), k.as_bytes()]),
                [],
            );
        }
        if !set.inventory.is_empty() {
            let mut sums: HashMap<Vec<u8>, i64> = HashMap::new();
            for (o, g, bucket, d) in &set.inventory {
                *sums
                    .entry(cat(&[
                        &o.to_be_bytes(),
                        &g.to_be_bytes(),
                        &[bucket.to_u8()],
                    ]))
                    .or_default() += d;
            }
            for (k, d) in sums {
                let cur = self
                    .inventory
                    .get(&k)
                    .map_err(err)?
                    .and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
                    .map_or(0, i64::from_le_bytes);
                b.insert(&self.inventory, k, (cur + d).to_le_bytes());
            }
        }
        for (i, leaf) in &set.log_leaves {
            b.insert(&self.log, i.to_be_bytes(), leaf);
        }
        for (id, h) in &set.log_hashes {
            b.insert(&self.log_hashes, id.key(), h);
        }
        for (seq, fact) in &set.feed {
            b.insert(&self.feed, seq.to_be_bytes(), fact);
            b.insert(&self.feed_kinds, feed_kind_key(*seq, fact), []);
        }
        let mut rseq = self.refusal_seq.load(Ordering::SeqCst);
        for (p, at, summary) in &set.refusals {
            rseq += 1;
            b.insert(
                &self.refusals,
                rseq.to_be_bytes(),
                store::encode_refusal(*p, *at, summary)?,
            );
        }
        let mut buf = [0u8; CodeState::ENCODED_LEN_MAX];
        // In key order: consecutive memtable inserts then walk the same upper levels of the
        // skiplist (cache-hot) instead of a random path each.
        let mut seqs = Seqs::default();
        let mut states: Vec<(Vec<u8>, &CodeState)> = set
            .codes
            .iter()
            .map(|(k, st)| Ok((self.key_of(k, &mut seqs)?, st)))
            .collect::<StoreResult<_>>()?;
        states.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, st) in states {
            let n = st.encode(&mut buf);
            b.insert(&self.codes, key, &buf[..n]);
        }
        for o in &set.orders {
            b.insert(&self.orders, o.id.as_bytes(), Self::record(o)?);
            b.insert(
                &self.orders_by,
                cat(&[&o.participant.to_be_bytes(), o.id.as_bytes()]),
                [],
            );
        }
        for (name, v) in &set.counters {
            b.insert(&self.meta, name.as_bytes(), v.to_le_bytes());
        }
        b.commit().map_err(commit_err)?;
        self.refusal_seq.store(rseq, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store from before the index of kinds: the facts it held are read and peeked, the
    /// ones written since found by the index, one ordered answer across the two.
    #[test]
    fn facts_from_before_the_index_of_kinds_are_found_too() {
        use types::feed::{peek, FactKind as K, FEED_VERSION};
        let dir = tempfile::tempdir().expect("tempdir");
        let fact = |i: u64| {
            let kind = [K::Document, K::TillCheck, K::Document, K::Verified][(i % 4) as usize];
            let mut r = vec![FEED_VERSION, 100, kind.code()];
            r.extend(std::iter::repeat_n(b'x', (i % 5) as usize * 40));
            (i, r)
        };
        let commit = |s: &FjallStore, range: std::ops::RangeInclusive<u64>| {
            s.commit(&WriteSet {
                feed: range.map(fact).collect(),
                ..Default::default()
            })
            .expect("commit");
        };
        {
            let s = FjallStore::open(dir.path()).expect("open");
            assert_eq!(s.counter(FEED_KINDS_FROM).expect("counter"), 1);
            commit(&s, 1..=600);
            // As a store written before the index: no entries, no counter.
            let mut b = s.db.batch();
            for g in s.feed_kinds.iter() {
                b.remove(&s.feed_kinds, g.key().expect("key").to_vec());
            }
            b.remove(&s.meta, FEED_KINDS_FROM.as_bytes());
            b.commit().expect("commit");
        }
        let s = FjallStore::open(dir.path()).expect("reopen");
        assert_eq!(s.counter(FEED_KINDS_FROM).expect("counter"), 601);
        commit(&s, 601..=1_000);
        let mut unreadable = fact(1_001);
        unreadable.1[0] = 0xEE;
        s.commit(&WriteSet {
            feed: vec![unreadable.clone()],
            ..Default::default()
        })
        .expect("commit");
        let kinds = [K::TillCheck, K::Verified];
        let wanted = |after: u64, upto: u64| -> Vec<(u64, Vec<u8>)> {
            (after + 1..=upto.min(1_000))
                .map(fact)
                .filter(|(_, r)| peek(r).is_some_and(|(_, k)| kinds.contains(&k)))
                .chain((after < 1_001 && upto >= 1_001).then(|| unreadable.clone()))
                .collect()
        };
        for (after, upto, limit) in [
            (0, 1_001, 10_000),
            (0, 1_001, 7),
            (590, 610, 100),
            (598, 1_001, 3),
            (600, 1_001, 10_000),
            (700, 650, 100),
            (0, 500, 10_000),
        ] {
            let got = s
                .feed_of_kinds(after, upto, limit, &kinds)
                .expect("feed of kinds");
            let mut want = wanted(after, upto);
            want.truncate(limit);
            assert_eq!(got, want, "after {after}, up to {upto}, at most {limit}");
        }
        // A build without the index writes on (a downgrade), then this one opens again:
        // what it wrote is indexed at the open.
        let mut b = s.db.batch();
        for (seq, fact) in (1_002..=1_100).map(fact) {
            b.insert(&s.feed, seq.to_be_bytes(), fact);
        }
        b.commit().expect("commit");
        drop(s);
        let s = FjallStore::open(dir.path()).expect("reopen");
        let got = s
            .feed_of_kinds(1_001, 1_100, 10_000, &kinds)
            .expect("feed of kinds");
        let want: Vec<_> = (1_002..=1_100)
            .map(fact)
            .filter(|(_, r)| peek(r).is_some_and(|(_, k)| kinds.contains(&k)))
            .collect();
        assert_eq!(got, want, "facts written without the index");
    }

    #[test]
    fn a_run_is_dense_by_its_counters_and_never_overflows() {
        let k = |c| placement::placed_key(4_601_234_567_891, 13, c);
        let run: Vec<Vec<u8>> = (0..10).map(k).collect();
        let order: Vec<usize> = (0..10).collect();
        assert_eq!(dense_run(&run, &order), 10, "ten consecutive counters");
        let sparse: Vec<Vec<u8>> = (0..10).map(|c| k(c * 100)).collect();
        assert_eq!(dense_run(&sparse, &order), 1, "every hundredth counter");
        // Counters 0 and u64::MAX under one prefix (a place's hash collision, which anyone
        // can search for with made-up serials): sparse, not a span that wraps to 0.
        let a = k(0);
        let mut b = k(u64::MAX);
        b[..13].copy_from_slice(&a[..13]);
        assert_eq!(dense_run(&[a, b], &[0, 1]), 1);
    }
}
