//! Store work off the async threads, each kind on a bounded pool of its own.
//!
//! The `store::Store` trait is synchronous, and every read through it may be a network
//! round trip (PostgreSQL) or a disk read (the embedded store beyond its caches). A tokio
//! worker thread that waits on one stalls every connection it serves, so no handler or
//! middleware calls the registry on an async thread:
//!
//! - **Reads** (verification, the till check, the resolver, the token check's participant,
//!   every other read of a handler) go to the [`ReadPool`]: long-lived reader threads fed
//!   by a bounded channel. A request whose read finds the queue full is answered at once
//!   503 `busy` with `Retry-After`; one whose read is not answered within the timeout
//!   likewise (its read, still queued, is skipped when a reader reaches it). Hand-off costs
//!   a channel send and a wake-up, far less than tokio's `spawn_blocking`, and none under
//!   load (a busy reader takes the next job without sleeping).
//! - **Writes** (every request that waits for the single writer's commit) and heavy work
//!   (a document parsed, label sheets, log proofs) go to tokio's blocking pool through a
//!   [`BlockingLane`]: at most so many at once, a bounded wait for a slot, then 503 `busy`
//!   with `Retry-After`. The writer itself keeps its own bounded queue.
//! - **`/health`** reads nothing on the request's thread: a [`HealthProbe`] of two threads
//!   (one reading the store, one passing an empty job through the writer) refreshes a
//!   cached status every [`HEALTH_PROBE_PERIOD`]; a status older than [`HEALTH_STALE`]
//!   (a read or the writer stuck) is reported `unavailable`. After a commit moved the feed,
//!   `/health` waits (asynchronously, briefly) for the store's thread to read the head
//!   again, so the documents it counts include every one acknowledged.
//!
//! | what a client holds                  | limit                      | default           |
//! |--------------------------------------|----------------------------|-------------------|
//! | store reads running                  | [`ReadLimits::threads`]    | 2 × cores + [`READ_THREADS_EXTRA`] |
//! | store reads waiting                  | [`ReadLimits::queue_max`]  | [`READ_QUEUE_MAX`] |
//! | a read, queue and run                | [`ReadLimits::timeout`]    | [`READ_TIMEOUT`]  |
//! | writes and heavy work running        | [`ReadLimits::blocking_max`] | [`BLOCKING_IN_FLIGHT_MAX`] |
//! | … waiting for a slot                 | [`ReadLimits::blocking_wait`] | [`BLOCKING_QUEUE_WAIT`] |

use crate::problem::Problem;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reader threads beyond twice the cores: a network engine's reads mostly wait on the
/// wire, so a few more threads than cores keep the cores busy; the embedded store's reads
/// are CPU and page cache, where the extra threads only sleep.
pub const READ_THREADS_EXTRA: usize = 4;
/// Reads waiting for a reader, beyond those running. A verification's read takes tens of
/// microseconds on the embedded store and a round trip on a network one: a queue this long
/// is already tens of milliseconds (or, on a slow engine, seconds) of work, and a request
/// past it is better told at once to come back ([`READ_RETRY_AFTER_SECS`]).
pub const READ_QUEUE_MAX: usize = 1_024;
/// Longest a request waits for its read (queue and run): then 503 `busy` with
/// `Retry-After` (the read, if still queued, is skipped).
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// `Retry-After` (seconds) on a read refused for a full queue or a timeout.
pub const READ_RETRY_AFTER_SECS: u32 = 1;
/// Writes (each waits for the writer's group commit) and heavy reads on tokio's blocking
/// pool at once: enough to fill the writer's batches, far below the pool's 512 threads.
pub const BLOCKING_IN_FLIGHT_MAX: usize = 128;
/// Longest a write or heavy read waits for a slot on the blocking pool: then 503 `busy`
/// with `Retry-After`.
pub const BLOCKING_QUEUE_WAIT: Duration = Duration::from_secs(10);
/// How often the health probe reads the store and passes an empty job through the writer.
pub const HEALTH_PROBE_PERIOD: Duration = Duration::from_secs(1);
/// A probe result older than this means the store's read (or the writer) is stuck:
/// `/health` says `unavailable`. A period, the writer check's timeout and a margin.
pub const HEALTH_STALE: Duration = Duration::from_secs(4);
/// How long `/health` waits for the probe's first result after a start.
pub const HEALTH_FIRST_WAIT: Duration = Duration::from_secs(3);

/// The sizes and timeouts of the store's pools (`server::Config::reads`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Reader threads: reads running at once.
    pub threads: usize,
    /// Reads waiting for a reader; past it, 503 `busy` with `Retry-After`.
    pub queue_max: usize,
    /// Longest a request waits for its read.
    pub timeout: Duration,
    /// Writes and heavy work on tokio's blocking pool at once.
    pub blocking_max: usize,
    /// Longest a write or heavy work waits for a slot.
    pub blocking_wait: Duration,
}

impl ReadLimits {
    /// Twice the cores plus [`READ_THREADS_EXTRA`] (8 on two cores).
    pub fn default_threads() -> usize {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        2 * cores + READ_THREADS_EXTRA
    }
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits {
            threads: ReadLimits::default_threads(),
            queue_max: READ_QUEUE_MAX,
            timeout: READ_TIMEOUT,
            blocking_max: BLOCKING_IN_FLIGHT_MAX,
            blocking_wait: BLOCKING_QUEUE_WAIT,
        }
    }
}

/// The 503 `busy` problem of a pool that cannot take or answer a request in time.
pub fn busy(detail: impl Into<String>) -> Problem {
    let mut p = Problem::new(503, "busy", "Service busy", detail);
    p.retry_after = Some(READ_RETRY_AFTER_SECS);
    p
}

fn internal() -> Problem {
    Problem::new(
        500,
        "internal",
        "Internal error",
        "a bug: nothing was changed",
    )
}

type Job = Box<dyn FnOnce() + Send>;

/// Counts of a pool, for `/health` and `/metrics`.
#[derive(Default, Debug)]
pub struct PoolStats {
    /// Requests refused because the queue was full (or no slot came in time).
    pub shed: AtomicU64,
    /// Requests whose read was not answered within the timeout.
    pub timed_out: AtomicU64,
    /// Jobs skipped because their request had given up before a reader reached them.
    pub skipped: AtomicU64,
    /// Reads run, and their time waiting for a reader and running, in microseconds.
    pub reads: AtomicU64,
    /// See [`PoolStats::reads`].
    pub wait_micros: AtomicU64,
    /// See [`PoolStats::reads`].
    pub run_micros: AtomicU64,
    /// Reads that waited longer than [`SLOW_READ`] for a reader (the pool or the cores
    /// were saturated).
    pub slow_waits: AtomicU64,
    /// Reads that ran longer than [`SLOW_READ`] (the store, or the thread descheduled).
    pub slow_runs: AtomicU64,
}

/// A read's wait or run past this is counted slow ([`PoolStats::slow_waits`],
/// [`PoolStats::slow_runs`]): the public answers' p99 budget is 5 ms.
pub const SLOW_READ: Duration = Duration::from_millis(5);

/// Long-lived reader threads fed by a bounded channel (see the module's text).
pub struct ReadPool {
    jobs: crossbeam_channel::Sender<Job>,
    limits: ReadLimits,
    /// Its counts.
    pub stats: Arc<PoolStats>,
}

impl ReadPool {
    /// Starts `limits.threads` reader threads (at least one). They stop when the pool is
    /// dropped and its queue is drained.
    pub fn start(limits: ReadLimits) -> std::io::Result<ReadPool> {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(limits.queue_max.max(1));
        for i in 0..limits.threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("tracemark-read-{i}"))
                .spawn(move || {
                    for job in rx {
                        job();
                    }
                })?;
        }
        Ok(ReadPool {
            jobs: tx,
            limits,
            stats: Arc::default(),
        })
    }

    /// Its limits.
    pub fn limits(&self) -> &ReadLimits {
        &self.limits
    }

    /// Reads waiting for a reader now.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// Runs `f` on a reader thread and waits for it without holding the async thread:
    /// 503 `busy` with `Retry-After` when the queue is full or the answer does not come
    /// within the timeout; 500 if `f` panicked (the reader lives on).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Problem> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stats = self.stats.clone();
        let queued = Instant::now();
        let job: Job = Box::new(move || {
            // A request that gave up (timed out, or its client left) is not worth a read.
            if tx.is_closed() {
                stats.skipped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let started = Instant::now();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let (wait, run) = (started - queued, started.elapsed());
            stats.reads.fetch_add(1, Ordering::Relaxed);
            stats
                .wait_micros
                .fetch_add(wait.as_micros() as u64, Ordering::Relaxed);
            stats
                .run_micros
                .fetch_add(run.as_micros() as u64, Ordering::Relaxed);
            if wait > SLOW_READ {
                stats.slow_waits.fetch_add(1, Ordering::Relaxed);
            }
            if run > SLOW_READ {
                stats.slow_runs.fetch_add(1, Ordering::Relaxed);
            }
            match out {
                Ok(v) => {
                    let _ = tx.send(v);
                }
                Err(_) => tracing::error!("a read panicked"),
            }
        });
        if let Err(e) = self.jobs.try_send(job) {
            if e.is_full() {
                self.stats.shed.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("tracemark_store_reads_shed_total").increment(1);
                return Err(busy(format!(
                    "the store's readers are saturated ({} reads waiting); retry shortly",
                    self.limits.queue_max
                )));
            }
            return Err(busy("the store's readers stopped"));
        }
        match tokio::time::timeout(self.limits.timeout, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(internal()),
            Err(_) => {
                self.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("tracemark_store_reads_timed_out_total").increment(1);
                Err(busy(format!(
                    "the store did not answer within {} s; retry shortly",
                    self.limits.timeout.as_secs_f64()
                )))
            }
        }
    }
}

/// Tokio's blocking pool, at most so many jobs at once, with a bounded wait for a slot
/// (see the module's text).
pub struct BlockingLane {
    slots: Arc<tokio::sync::Semaphore>,
    wait: Duration,
    /// Its counts.
    pub stats: Arc<PoolStats>,
    max: usize,
}

impl BlockingLane {
    /// A lane of `limits.blocking_max` slots (at least one).
    pub fn new(limits: &ReadLimits) -> BlockingLane {
        let max = limits.blocking_max.max(1);
        BlockingLane {
            slots: Arc::new(tokio::sync::Semaphore::new(max)),
            wait: limits.blocking_wait,
            stats: Arc::default(),
            max,
        }
    }

    /// Jobs running (or holding a slot) now.
    pub fn in_flight(&self) -> usize {
        self.max - self.slots.available_permits()
    }

    /// Runs `f` on tokio's blocking pool once a slot is free (503 `busy` with
    /// `Retry-After` if none is within the wait; 500 if `f` panicked).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Problem> {
        let slot = match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            _ => {
                self.stats.shed.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("tracemark_blocking_jobs_shed_total").increment(1);
                return Err(busy(format!(
                    "the server's {} slots for writes and heavy reads stayed taken for {} s; \
                     retry shortly",
                    self.max,
                    self.wait.as_secs_f64()
                )));
            }
        };
        match tokio::task::spawn_blocking(move || {
            let _slot = slot;
            // Writes and heavy work yield to the reader pool and the async workers when the
            // cores are contended: a verification does not wait behind a document's parsing.
            registry::emission::background_thread();
            f()
        })
        .await
        {
            Ok(v) => Ok(v),
            Err(_) => Err(internal()),
        }
    }
}

/// One probe's finding: when it was made and what it found.
#[derive(Clone, Debug)]
pub struct Probed<T> {
    /// When the probe finished.
    pub at: Instant,
    /// The feed's head when the probe began: a finding of the store made before a commit
    /// that moved the feed may not show that commit.
    pub feed_before: u64,
    /// What it found (milliseconds it took and its value), or why not.
    pub found: Result<(f64, T), String>,
}

/// What the store probe reads: documents accepted and the chain's head.
pub type HeadFound = (u64, [u8; 32]);

/// What the probe threads are told: stop, or (the store's) probe now.
#[derive(Default)]
struct Ctl {
    stopped: bool,
    wanted: bool,
}

type Shared = Arc<(parking_lot::Mutex<Ctl>, parking_lot::Condvar)>;

/// The health probe's latest findings, refreshed by two threads of its own every
/// [`HEALTH_PROBE_PERIOD`]: the store's (a read of the log's head) and the writer's (an
/// empty job through it). `/health` only reads them, but asks the store's thread for a
/// fresh read (and waits for it, at most [`HEALTH_FRESH_WAIT`]) when the feed moved since
/// the last one began, so that the documents it counts include every acknowledged one.
/// The threads stop when the probe is dropped.
pub struct HealthProbe {
    store: tokio::sync::watch::Receiver<Option<Probed<HeadFound>>>,
    writer: tokio::sync::watch::Receiver<Option<Probed<WriterFound>>>,
    ctl: Shared,
}

/// What the writer probe finds once an empty job went through: the store's disk space
/// (`store::Store::disk_space`), read on the probe's thread.
pub type WriterFound = Option<store::DiskSpace>;

/// How long `/health` waits for a fresh read of the store's head after a commit (on the
/// probe's thread; the embedded store answers in microseconds). Past it, the last
/// finding is shown.
pub const HEALTH_FRESH_WAIT: Duration = Duration::from_secs(1);

impl HealthProbe {
    /// Starts probing `registry`; the writer check waits at most `writer_timeout`.
    pub fn start(
        registry: registry::Registry,
        writer_timeout: Duration,
    ) -> std::io::Result<HealthProbe> {
        let ctl = Shared::default();
        let (store_tx, store) = tokio::sync::watch::channel(None);
        let (writer_tx, writer) = tokio::sync::watch::channel(None);
        let reg = registry.clone();
        spawn_probe(
            "tracemark-health-store",
            ctl.clone(),
            true,
            registry.feed_signal(),
            store_tx,
            move || reg.log_head().map_err(|e| e.to_string()),
        )?;
        let feed = registry.feed_signal();
        spawn_probe(
            "tracemark-health-writer",
            ctl.clone(),
            false,
            feed,
            writer_tx,
            move || {
                registry
                    .writer_check(writer_timeout)
                    .map(|_| registry.store().disk_space())
                    .map_err(|e| e.to_string())
            },
        )?;
        Ok(HealthProbe { store, writer, ctl })
    }

    /// The latest findings (store, writer), the store's made after the feed reached
    /// `feed_head` (asking for one and waiting at most [`HEALTH_FRESH_WAIT`] when the
    /// latest is older), waiting at most [`HEALTH_FIRST_WAIT`] for the first ones after a
    /// start. Never blocks the async thread.
    pub async fn latest(
        &self,
        feed_head: u64,
    ) -> (Option<Probed<HeadFound>>, Option<Probed<WriterFound>>) {
        let (mut s, mut w) = (self.store.clone(), self.writer.clone());
        let _ = tokio::time::timeout(HEALTH_FIRST_WAIT, async {
            let _ = s.wait_for(Option::is_some).await;
            let _ = w.wait_for(Option::is_some).await;
        })
        .await;
        let fresh =
            |p: &Option<Probed<HeadFound>>| p.as_ref().is_some_and(|p| p.feed_before >= feed_head);
        if !fresh(&s.borrow()) {
            self.ctl.0.lock().wanted = true;
            self.ctl.1.notify_all();
            let _ = tokio::time::timeout(HEALTH_FRESH_WAIT, s.wait_for(|p| fresh(p))).await;
        }
        let found = (s.borrow().clone(), w.borrow().clone());
        found
    }
}

impl Drop for HealthProbe {
    fn drop(&mut self) {
        self.ctl.0.lock().stopped = true;
        self.ctl.1.notify_all();
    }
}

fn spawn_probe<T: Send + Sync + 'static>(
    name: &str,
    ctl: Shared,
    on_demand: bool,
    feed: Arc<registry::feed::FeedSignal>,
    out: tokio::sync::watch::Sender<Option<Probed<T>>>,
    probe: impl Fn() -> Result<T, String> + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || loop {
            let started = Instant::now();
            let feed_before = feed.head();
            let found = probe().map(|v| (started.elapsed().as_secs_f64() * 1e3, v));
            let _ = out.send(Some(Probed {
                at: Instant::now(),
                feed_before,
                found,
            }));
            let mut c = ctl.0.lock();
            let until = started + HEALTH_PROBE_PERIOD;
            while !(c.stopped || on_demand && c.wanted) && Instant::now() < until {
                ctl.1.wait_until(&mut c, until);
            }
            if c.stopped {
                return;
            }
            if on_demand {
                c.wanted = false;
            }
        })
        .map(|_| ())
}
