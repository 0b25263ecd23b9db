//! Projections: state derived from the feed (`crate::feed`), kept in memory for reads and
//! in the store as rows with a checkpoint, following the feed on their own thread.
//!
//! A projection never slows the writer: the writer only appends facts and moves a signal;
//! each projection reads the committed feed from its checkpoint, applies facts in order,
//! and every [`FLUSH_INTERVAL_MS`] writes the rows it changed *with* the feed sequence
//! number they include, in one atomic `Store::commit_projection`. After a crash it loads
//! its rows and replays the feed from that checkpoint: nothing is missed (the feed is
//! durable with the changes) and nothing is counted twice (rows and checkpoint land
//! together). Projections must therefore be deterministic functions of the feed: times
//! come from facts, identifiers from feed sequence numbers, never from the clock.

use crate::feed::{self, FeedEntry};
use crate::store::StoreResult;
use crate::Registry;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// How often a projection writes its changed rows (and checkpoint) at most: the work a
/// crash can make it replay, and the write cost it adds.
pub const FLUSH_INTERVAL_MS: u64 = 500;

/// Feed entries read per store call.
pub const FEED_PAGE_MAX: usize = 4_096;

/// Rows read per store call while loading.
pub const LOAD_PAGE_MAX: usize = 10_000;

/// A row change: key, new value (`None`: deleted).
pub type RowChange = (Vec<u8>, Option<Vec<u8>>);

/// State derived from the feed.
pub trait Projection: Send + Sync + 'static {
    /// Its name: the namespace of its rows in the store (no 0x00 or 0x01 bytes).
    fn name(&self) -> &'static str;
    /// Takes one stored row while loading (before the first fact).
    fn load_row(&mut self, key: &[u8], value: &[u8]) -> Result<(), String>;
    /// Applies one committed fact. `reg` reads participants, products and documents.
    fn apply(&mut self, entry: &FeedEntry, reg: &Registry);
    /// The rows changed since the last call.
    fn take_changes(&mut self) -> Vec<RowChange>;
    /// After loading: the first feed sequence number whose fact its in-memory windows need
    /// again (`None`: it keeps no windows). The follower replays the facts from there up to
    /// the checkpoint through [`Projection::warm`] before following on.
    fn warm_from(&self) -> Option<u64> {
        None
    }
    /// Re-applies a fact before the checkpoint to rebuild in-memory windows only (its
    /// stored rows already hold every other effect of it).
    fn warm(&mut self, _entry: &FeedEntry, _reg: &Registry) {}
    /// The kinds of fact [`Projection::warm`] needs (`None`: all). The others are not
    /// decoded while warming; their commit times go to [`Projection::warm_time`].
    fn warm_kinds(&self) -> Option<&'static [crate::feed::FactKind]> {
        None
    }
    /// The commit time of a fact skipped while warming (not of a kind it needs); of the
    /// checkpoint's fact for those the store skipped unread
    /// ([`crate::store::Store::feed_of_kinds`]).
    fn warm_time(&mut self, _at: u64) {}
}

/// How far a projection has got (for `/metrics` and tests).
#[derive(Debug, Default)]
pub struct Progress {
    /// The last feed sequence number applied (in memory).
    pub applied: AtomicU64,
    /// The last feed sequence number whose rows are stored.
    pub stored: AtomicU64,
    /// Feed records this version could not read (skipped and counted).
    pub unreadable: AtomicU64,
    /// Store failures while reading the feed or writing rows (retried).
    pub failures: AtomicU64,
}

/// A running projection: stops (after a last flush) when dropped or [`Follower::stop`]ped.
pub struct Follower {
    stop: Arc<AtomicBool>,
    /// Its progress.
    pub progress: Arc<Progress>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    /// Stops following, writing what was applied; waits for the thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Waits until the projection has applied the feed up to `seq` or `timeout` passes;
    /// whether it has.
    pub fn wait_applied(&self, seq: u64, timeout: std::time::Duration) -> bool {
        let end = std::time::Instant::now() + timeout;
        while self.progress.applied.load(Relaxed) < seq {
            if std::time::Instant::now() >= end {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        true
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Decodes stored feed records; unreadable ones are skipped and counted.
fn decode(raw: Vec<(u64, Vec<u8>)>, progress: &Progress) -> Vec<FeedEntry> {
    raw.into_iter()
        .filter_map(|(seq, bytes)| match feed::decode(&bytes) {
            Some((at, fact)) => Some(FeedEntry { seq, at, fact }),
            None => {
                progress.unreadable.fetch_add(1, Relaxed);
                tracing::error!("feed entry {seq} is of a format this version cannot read");
                None
            }
        })
        .collect()
}

/// Loads `proj`'s stored rows, then follows the feed from its checkpoint on a thread of
/// its own. `proj` is shared: readers take its read lock.
pub fn follow<P: Projection>(reg: &Registry, proj: Arc<RwLock<P>>) -> StoreResult<Follower> {
    let store = reg.store().clone();
    let name = proj.read().name();
    let checkpoint = store.projection_checkpoint(name)?;
    {
        let t0 = std::time::Instant::now();
        let mut p = proj.write();
        let mut start: Vec<u8> = Vec::new();
        let mut loaded = 0usize;
        loop {
            let rows = store.projection_rows(name, &start, LOAD_PAGE_MAX)?;
            let Some((last, _)) = rows.last() else { break };
            start = last.clone();
            start.push(0);
            let n = rows.len();
            loaded += n;
            for (k, v) in rows {
                p.load_row(&k, &v)
                    .map_err(|e| crate::store::StoreError::new(format!("{name}: {e}")))?;
            }
            if n < LOAD_PAGE_MAX {
                break;
            }
        }
        let t_load = t0.elapsed();
        // Windows kept only in memory are rebuilt from the feed before the checkpoint.
        let (mut read, mut warmed) = (0usize, 0usize);
        let warm_from = p.warm_from().filter(|f| *f <= checkpoint);
        if let Some(from) = warm_from {
            let progress = Progress::default();
            let mut after = from.saturating_sub(1);
            let kinds = p.warm_kinds();
            while after < checkpoint {
                let mut raw = match kinds {
                    // Only facts of those kinds, found by the store (a document's fact is
                    // the bulk of the feed: at 100 M codes on PostgreSQL, reading and
                    // peeking every fact of the window took 16–20 s of a start).
                    Some(kinds) => store.feed_of_kinds(after, checkpoint, FEED_PAGE_MAX, kinds)?,
                    None => store.feed(after, FEED_PAGE_MAX)?,
                };
                let Some(&(last, _)) = raw.last() else { break };
                raw.retain(|(seq, _)| *seq <= checkpoint);
                read += raw.len();
                if let Some(kinds) = kinds {
                    // A store may return other kinds too: skipped without decoding.
                    raw.retain(|(_, bytes)| match crate::feed::peek(bytes) {
                        Some((at, kind)) if !kinds.contains(&kind) => {
                            p.warm_time(at);
                            false
                        }
                        _ => true,
                    });
                }
                warmed += raw.len();
                for e in decode(raw, &progress) {
                    p.warm(&e, reg);
                }
                after = last;
            }
            if kinds.is_some() {
                // The facts the store skipped unread came before the checkpoint's, whose
                // time stands for theirs (the writer stamps each batch with its clock).
                if let Some((_, bytes)) = store.feed(checkpoint.saturating_sub(1), 1)?.first() {
                    if let Some((at, _)) = crate::feed::peek(bytes) {
                        p.warm_time(at);
                    }
                }
            }
        }
        // What a start spends here, for the operator (and the scale bench's start-up row).
        tracing::info!(
            "{name}: {loaded} rows loaded in {:.2} s; warmed from feed {} to {checkpoint} \
             ({read} facts read, {warmed} applied) in {:.2} s",
            t_load.as_secs_f64(),
            warm_from.map_or("-".to_string(), |f| f.to_string()),
            (t0.elapsed() - t_load).as_secs_f64()
        );
        // Loading is not a change.
        let _ = p.take_changes();
    }
    let progress = Arc::new(Progress::default());
    progress.applied.store(checkpoint, Relaxed);
    progress.stored.store(checkpoint, Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let (reg, t_stop, t_progress) = (reg.clone(), stop.clone(), progress.clone());
    let thread = std::thread::Builder::new()
        .name(format!("tracemark-{name}"))
        .spawn(move || {
            // Behind public answers when the cores are contended (it catches up after).
            crate::emission::background_thread();
            run(reg, proj, name, t_stop, t_progress)
        })
        .map_err(crate::store::StoreError::new)?;
    Ok(Follower {
        stop,
        progress,
        thread: Some(thread),
    })
}

fn run<P: Projection>(
    reg: Registry,
    proj: Arc<RwLock<P>>,
    name: &'static str,
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
) {
    let store = reg.store().clone();
    let signal = reg.feed_signal();
    let mut applied = progress.applied.load(Relaxed);
    let mut last_flush = std::time::Instant::now();
    let mut dirty = false;
    let mut pending: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> = Default::default();
    loop {
        let stopping = stop.load(Relaxed);
        let head = if stopping {
            signal.head()
        } else {
            signal.wait_past(applied, std::time::Duration::from_millis(FLUSH_INTERVAL_MS))
        };
        while applied < head {
            let raw = match store.feed(applied, FEED_PAGE_MAX) {
                Ok(r) => r,
                Err(e) => {
                    progress.failures.fetch_add(1, Relaxed);
                    tracing::error!("{name}: reading the feed: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    break;
                }
            };
            let Some(&(last, _)) = raw.last() else { break };
            let entries = decode(raw, &progress);
            {
                let mut p = proj.write();
                for e in &entries {
                    p.apply(e, &reg);
                }
            }
            applied = last;
            dirty = true;
            progress.applied.store(applied, Relaxed);
        }
        let due = last_flush.elapsed().as_millis() as u64 >= FLUSH_INTERVAL_MS;
        if dirty && (due || stopping) {
            // Merged with what a failed write left: the latest value of each row wins.
            pending.extend(proj.write().take_changes());
            let rows: Vec<RowChange> = pending
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            match store.commit_projection(name, applied, &rows) {
                Ok(()) => {
                    progress.stored.store(applied, Relaxed);
                    pending.clear();
                    dirty = false;
                }
                Err(e) => {
                    progress.failures.fetch_add(1, Relaxed);
                    tracing::error!("{name}: writing rows: {e}");
                }
            }
            last_flush = std::time::Instant::now();
        }
        if stopping {
            break;
        }
    }
}
