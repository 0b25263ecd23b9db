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
//!
//! Supervised: a panic or an error (a failed read) while applying a fact marks the
//! projection failed (in [`Progress::failure`], `/health` and `/metrics`), and it starts
//! again from its stored checkpoint after a back-off ([`RESTART_BACKOFF_MIN`], doubling
//! up to [`RESTART_BACKOFF_MAX`]), its memory rebuilt from its rows and the feed. A feed
//! entry it cannot read stops it just before that entry, failed likewise: its checkpoint
//! never moves past a fact it did not apply, and it tries again after each back-off (a
//! newer version reads it). One that falls more than [`BEHIND_MAX_SECS`] behind the feed says
//! so ([`Progress::behind_secs`]).

use crate::feed::{self, FeedEntry};
use crate::Registry;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use store::StoreResult;
pub use types::limits::{
    BEHIND_MAX_SECS, FEED_PAGE_MAX, FLUSH_INTERVAL_MS, LOAD_PAGE_MAX, RESTART_BACKOFF_MAX,
    RESTART_BACKOFF_MIN,
};

/// A row change: key, new value (`None`: deleted).
pub type RowChange = (Vec<u8>, Option<Vec<u8>>);

/// State derived from the feed.
pub trait Projection: Send + Sync + 'static {
    /// Its name: the namespace of its rows in the store (no 0x00 or 0x01 bytes).
    fn name(&self) -> &'static str;
    /// Takes one stored row while loading (before the first fact).
    fn load_row(&mut self, key: &[u8], value: &[u8]) -> Result<(), String>;
    /// Whether its stored rows are read into memory at start ([`Projection::load_row`]);
    /// an index whose rows are read by queries from the store says `false`.
    fn loads_rows(&self) -> bool {
        true
    }
    /// Applies one committed fact. `reg` reads participants, products and documents.
    ///
    /// An `Err` (a read of `reg` failed) is a failure like a panic: the memory it may have
    /// half changed is dropped, and the projection starts again from its checkpoint after
    /// a back-off. A read that fails must never be taken for "not there": the rows would
    /// then depend on when the fact was applied, not on the feed alone.
    fn apply(&mut self, entry: &FeedEntry, reg: &Registry) -> Result<(), String>;
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
    /// ([`store::Store::feed_of_kinds`]).
    fn warm_time(&mut self, _at: u64) {}
}

/// How far a projection has got, and whether it is failed (for `/health`, `/metrics` and
/// tests).
#[derive(Debug, Default)]
pub struct Progress {
    /// The last feed sequence number applied (in memory).
    pub applied: AtomicU64,
    /// The last feed sequence number whose rows are stored.
    pub stored: AtomicU64,
    /// Times a feed record this version could not read stopped the projection (it waits
    /// before the record: see the module's documentation).
    pub unreadable: AtomicU64,
    /// Store failures while reading the feed or writing rows (retried).
    pub failures: AtomicU64,
    /// Times the projection failed (a panic, an unreadable record) and started again.
    pub restarts: AtomicU64,
    /// Unix seconds up to which the projection is known to be current: the commit time of
    /// the last fact it applied, or the last time it had applied the whole feed.
    pub current_at: AtomicU64,
    /// Why it is failed now (`None`: it runs).
    failure: parking_lot::Mutex<Option<String>>,
    /// The feed entry being applied (set before each), so a panic names it.
    applying: AtomicU64,
    /// The feed entry at which it last failed: the failure is cleared only once its stored
    /// checkpoint is past it.
    failed_at: AtomicU64,
    /// Its rows are to be stored now, not at the next flush interval
    /// ([`Follower::flush_soon`]).
    flush_asked: AtomicBool,
}

impl Progress {
    /// Why the projection is failed now (`None`: it runs; the reason stays until its
    /// stored checkpoint is past the entry it failed at).
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    fn set_failure(&self, why: Option<String>) {
        *self.failure.lock() = why;
    }

    /// Feed entries committed up to `head` and not applied yet.
    pub fn lag(&self, head: u64) -> u64 {
        head.saturating_sub(self.applied.load(Relaxed))
    }

    /// How far behind the feed the projection is at `now` (Unix seconds), given the feed's
    /// `head`: 0 when it has applied all of it, else the age of what it is known current
    /// up to. Over [`BEHIND_MAX_SECS`] it is reported behind.
    pub fn behind_secs(&self, head: u64, now: u64) -> u64 {
        if self.lag(head) == 0 {
            return 0;
        }
        now.saturating_sub(self.current_at.load(Relaxed))
    }
}

/// A running projection: stops (after a last flush) when dropped or [`Follower::stop`]ped.
pub struct Follower {
    stop: Arc<AtomicBool>,
    /// Its progress.
    pub progress: Arc<Progress>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The feed's signal, woken on a stop (so a stop does not wait out a flush interval).
    signal: Arc<feed::FeedSignal>,
}

impl Follower {
    /// Stops following, writing what was applied; waits for the thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Relaxed);
        self.signal.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Asks it to store the rows it changed now rather than at the end of its flush
    /// interval (for a caller about to compare them, as the simulator does).
    pub fn flush_soon(&self) {
        self.progress.flush_asked.store(true, Relaxed);
        self.signal.wake();
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

/// Decodes stored feed records up to the first this version cannot read: the entries
/// before it, and its sequence number.
fn decode_until_unreadable(raw: Vec<(u64, Vec<u8>)>) -> (Vec<FeedEntry>, Option<u64>) {
    let mut out = Vec::with_capacity(raw.len());
    for (seq, bytes) in raw {
        match feed::decode(&bytes) {
            Some((at, fact)) => out.push(FeedEntry { seq, at, fact }),
            None => return (out, Some(seq)),
        }
    }
    (out, None)
}

/// Decodes stored feed records before a projection's checkpoint (only to rebuild memory:
/// their other effects are in its rows); unreadable ones are skipped and counted.
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
/// its own, supervised (see the module's documentation). `proj` is shared: readers take
/// its read lock.
pub fn follow<P: Projection + Default>(
    reg: &Registry,
    proj: Arc<RwLock<P>>,
) -> StoreResult<Follower> {
    let name = proj.read().name();
    let checkpoint = load(reg, &mut *proj.write(), name)?;
    let progress = Arc::new(Progress::default());
    progress.applied.store(checkpoint, Relaxed);
    progress.stored.store(checkpoint, Relaxed);
    // Current up to the checkpoint's fact (not "now": one that starts far behind says so).
    let at = reg
        .store()
        .feed(checkpoint.saturating_sub(1), 1)?
        .first()
        .and_then(|(_, b)| crate::feed::peek(b))
        .map_or_else(|| reg.now(), |(at, _)| at);
    progress.current_at.store(at, Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let signal = reg.feed_signal();
    let (reg, t_stop, t_progress) = (reg.clone(), stop.clone(), progress.clone());
    let thread = std::thread::Builder::new()
        .name(format!("tracemark-{name}"))
        .spawn(move || {
            // Behind public answers when the cores are contended (it catches up after).
            crate::emission::background_thread();
            supervise(reg, proj, name, t_stop, t_progress)
        })
        .map_err(store::StoreError::new)?;
    Ok(Follower {
        stop,
        progress,
        thread: Some(thread),
        signal,
    })
}

/// Loads `p`'s stored rows and rebuilds its in-memory windows from the feed before its
/// checkpoint; the checkpoint.
fn load<P: Projection>(reg: &Registry, p: &mut P, name: &'static str) -> StoreResult<u64> {
    let store = reg.store().clone();
    let checkpoint = store.projection_checkpoint(name)?;
    {
        let t0 = std::time::Instant::now();
        let mut start: Vec<u8> = Vec::new();
        let mut loaded = 0usize;
        while p.loads_rows() {
            let rows = store.projection_rows(name, &start, LOAD_PAGE_MAX)?;
            let Some((last, _)) = rows.last() else { break };
            start = last.clone();
            start.push(0);
            let n = rows.len();
            loaded += n;
            for (k, v) in rows {
                p.load_row(&k, &v)
                    .map_err(|e| store::StoreError::new(format!("{name}: {e}")))?;
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
    Ok(checkpoint)
}

/// Why a projection's run stopped short.
enum Failure {
    /// The feed entry at this sequence number is of a format this version cannot read.
    Unreadable(u64),
    /// Applying the feed entry at this sequence number failed (a read of the registry),
    /// and why.
    Apply(u64, String),
}

/// A panic's message, as far as it is a string.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Sleeps `d` unless `stop` is set first (checked every 50 ms); whether it slept it all.
fn sleep_unless(stop: &AtomicBool, d: std::time::Duration) -> bool {
    let end = std::time::Instant::now() + d;
    while !stop.load(Relaxed) {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(50)));
    }
    false
}

/// Runs the projection until stopped; a failure marks it failed and starts it again
/// after a back-off: after a panic or a failed apply its memory is dropped and rebuilt
/// from its stored rows (what it applied since is applied again), after an unreadable
/// entry it goes on from where it stopped. The back-off doubles while it fails at the same entry, and starts
/// over at [`RESTART_BACKOFF_MIN`] for a failure further on.
fn supervise<P: Projection + Default>(
    reg: Registry,
    proj: Arc<RwLock<P>>,
    name: &'static str,
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
) {
    // Rows changed and not yet stored: kept across a start after an unreadable entry (the
    // memory that made them is kept too), dropped with the memory after a panic or a
    // failed apply.
    let mut pending = std::collections::BTreeMap::new();
    let mut backoff = RESTART_BACKOFF_MIN;
    let mut reload = false;
    loop {
        if reload {
            pending.clear();
            // Built apart and swapped in: readers keep the old state meanwhile (the
            // risk engine answers 503 while failed), never wait on a load.
            let mut fresh = P::default();
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                load(&reg, &mut fresh, name)
            })) {
                Ok(Ok(checkpoint)) => {
                    *proj.write() = fresh;
                    progress.applied.store(checkpoint, Relaxed);
                    progress.stored.store(checkpoint, Relaxed);
                    reload = false;
                }
                Ok(Err(e)) => {
                    tracing::error!("{name}: loading its rows: {e}");
                    progress.set_failure(Some(
                        "loading its rows failed (the server's log says how)".into(),
                    ));
                }
                Err(p) => {
                    tracing::error!("{name} panicked loading its rows: {}", panic_message(&*p));
                    progress.set_failure(Some(
                        "loading its rows panicked (the server's log says how)".into(),
                    ));
                }
            }
        }
        let outcome = if reload {
            None
        } else {
            Some(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                || run(&reg, &proj, name, &stop, &progress, &mut pending),
            )))
        };
        let at = match outcome {
            Some(Ok(Ok(()))) => return,
            Some(Ok(Err(Failure::Unreadable(seq)))) => {
                progress.unreadable.fetch_add(1, Relaxed);
                progress.set_failure(Some(format!(
                    "feed entry {seq} is of a format this version cannot read; waiting before it"
                )));
                seq
            }
            Some(Ok(Err(Failure::Apply(seq, why)))) => {
                reload = true;
                // As for a panic: the reason to the log, not to the public `/health`.
                tracing::error!("{name} could not apply feed entry {seq}: {why}");
                progress.set_failure(Some(format!(
                    "applying feed entry {seq} failed (the server's log says how)"
                )));
                seq
            }
            Some(Err(p)) => {
                reload = true;
                let seq = progress.applying.load(Relaxed);
                // The panic's own message goes to the log only: `/health` is public, and a
                // message may quote what the projection held.
                tracing::error!(
                    "{name} panicked applying feed entry {seq}: {}",
                    panic_message(&*p)
                );
                progress.set_failure(Some(format!(
                    "applying feed entry {seq} panicked (the server's log says how)"
                )));
                seq
            }
            None => progress.failed_at.load(Relaxed),
        };
        if progress.failed_at.swap(at, Relaxed) != at {
            backoff = RESTART_BACKOFF_MIN;
        }
        progress.restarts.fetch_add(1, Relaxed);
        tracing::error!(
            "{name} failed ({}); starting again in {:.1} s",
            progress.failure().unwrap_or_default(),
            backoff.as_secs_f64()
        );
        if !sleep_unless(&stop, backoff) {
            // Stopping: what was applied before the failure is stored by the next start.
            return;
        }
        backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
    }
}

/// Follows the feed from `progress.applied` until stopped (`Ok`) or an entry cannot be
/// read (stopped just before it, what came before stored). A panic while applying
/// unwinds out of it, to [`supervise`].
fn run<P: Projection>(
    reg: &Registry,
    proj: &RwLock<P>,
    name: &'static str,
    stop: &AtomicBool,
    progress: &Progress,
    pending: &mut std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> Result<(), Failure> {
    let store = reg.store().clone();
    let signal = reg.feed_signal();
    let mut applied = progress.applied.load(Relaxed);
    let mut last_flush = std::time::Instant::now();
    let mut dirty = !pending.is_empty();
    loop {
        let stopping = stop.load(Relaxed);
        let head = if stopping {
            signal.head()
        } else {
            signal.wait_past(applied, std::time::Duration::from_millis(FLUSH_INTERVAL_MS))
        };
        let mut unreadable = None;
        while applied < head && unreadable.is_none() {
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
            let (entries, bad) = decode_until_unreadable(raw);
            {
                let mut p = proj.write();
                for e in &entries {
                    progress.applying.store(e.seq, Relaxed);
                    p.apply(e, reg).map_err(|why| Failure::Apply(e.seq, why))?;
                }
            }
            if let Some(e) = entries.last() {
                progress.current_at.fetch_max(e.at, Relaxed);
            }
            applied = match bad {
                Some(seq) => seq - 1,
                None => last,
            };
            unreadable = bad;
            if !entries.is_empty() {
                dirty = true;
                progress.applied.store(applied, Relaxed);
            }
            if last_flush.elapsed().as_millis() as u64 >= FLUSH_INTERVAL_MS {
                // A long catch-up stores as it goes: a failure further on replays little.
                break;
            }
        }
        if applied >= signal.head() {
            progress.current_at.fetch_max(reg.now(), Relaxed);
        }
        let due = last_flush.elapsed().as_millis() as u64 >= FLUSH_INTERVAL_MS
            || progress.flush_asked.swap(false, Relaxed);
        if dirty && (due || stopping || unreadable.is_some()) {
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
                    if applied >= progress.failed_at.load(Relaxed)
                        && progress.failure.lock().is_some()
                    {
                        // Its stored rows are past the entry it failed at.
                        progress.set_failure(None);
                    }
                }
                Err(e) => {
                    progress.failures.fetch_add(1, Relaxed);
                    tracing::error!("{name}: writing rows: {e}");
                    if e.kind() == store::StoreErrorKind::Lost {
                        // As for the writer's commits: nothing more is written, the
                        // process stops (`Registry::on_store_lost`).
                        let _ = reg.writer_stats().lost.set(e.to_string());
                    }
                }
            }
            last_flush = std::time::Instant::now();
        }
        if let Some(seq) = unreadable {
            return Err(Failure::Unreadable(seq));
        }
        if stopping {
            return Ok(());
        }
    }
}
