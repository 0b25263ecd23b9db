//! One writer among the processes serving one database (`serve --postgres URL`, several
//! times): the lease loop.
//!
//! Every serving process runs this loop. It tries to take (or renew) the database's writer
//! lease every [`LEASE_RENEW`]; the lease lasts [`LEASE_TTL`] from the database's clock
//! and names its holder (a random id per process start) and the address it serves on. The
//! holder is the writer; the others are readers: they answer reads from the database,
//! refuse changes with 503 `/problems/not-writer` naming the writer, and follow the store
//! ([`registry::Registry::refresh`]) so that their caches and projections stay true.
//!
//! The facts a reader's reads make (a code verified, a till check, a failed tail check)
//! go to the database's inbox each turn ([`registry::Registry::send_facts`]); the writer
//! moves them into the feed each turn ([`registry::Registry::take_inbox`]), so the risk
//! engine sees every process's traffic, a second or two late.
//!
//! When the writer dies its lease runs out and the first reader to try takes it: it has
//! its writer reload the counters from the database ([`registry::Registry::take_over`])
//! and becomes the writer, within [`LEASE_TTL`] + [`LEASE_RENEW`] of the death. A writer
//! that cannot renew (the database unreachable, a long pause) stops calling itself the
//! writer once its lease may have run out; and the store fences every commit with the
//! lease's epoch (`store-postgres`), so a process that lost the lease can never commit,
//! whatever it believes. A clean stop releases the lease at once.

use registry::Registry;
use server::role::RoleState;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store_postgres::PgStore;

/// How long a lease lasts unless renewed (the database's clock).
pub const LEASE_TTL: Duration = Duration::from_secs(6);
/// How often the holder renews it and the readers try to take it.
pub const LEASE_RENEW: Duration = Duration::from_secs(1);
/// The writer deletes nonces older than two signature windows every this many turns.
pub const NONCES_FORGET_EVERY: u64 = 60;
/// Longest wait for the writer to reload its counters when this process takes over.
pub const TAKE_OVER_TIMEOUT: Duration = Duration::from_secs(30);

/// The lease loop of one process.
pub struct LeaseLoop {
    pg: Arc<PgStore>,
    registry: Registry,
    role: Arc<RoleState>,
    holder: String,
    address: String,
    /// When the lease was last taken or renewed (this process's clock).
    held_at: Option<Instant>,
    /// Turns taken as the writer.
    turns: u64,
}

impl LeaseLoop {
    /// A loop for this process, serving on `address` (named in the lease, so readers can
    /// tell clients where the writer is). Fences the store's commits from now on: this
    /// process commits only while it holds the lease.
    pub fn new(
        pg: Arc<PgStore>,
        registry: Registry,
        role: Arc<RoleState>,
        address: String,
    ) -> LeaseLoop {
        let holder = uuid::Uuid::new_v4().to_string();
        pg.enable_lease(&holder);
        LeaseLoop {
            pg,
            registry,
            role,
            holder,
            address,
            held_at: None,
            turns: 0,
        }
    }

    /// One turn: take or renew the lease, or follow the writer. Blocking (database round
    /// trips): run it off the async threads.
    pub fn turn(&mut self) {
        match self.pg.lease_try(&self.holder, &self.address, LEASE_TTL) {
            Ok(true) => {
                self.held_at = Some(Instant::now());
                self.turns += 1;
                if self.turns.is_multiple_of(NONCES_FORGET_EVERY) {
                    // The shared nonces outside every signature's window go.
                    let before = self
                        .registry
                        .now()
                        .saturating_sub(2 * server::auth::NONCE_TTL_SECS);
                    if let Err(e) = self.pg.nonces_forget(before) {
                        tracing::warn!("cannot forget old nonces: {e}");
                    }
                }
                if self.role.is_writer() {
                    // The readers' verifications and till checks into the feed.
                    if let Err(e) = self.registry.take_inbox() {
                        tracing::warn!("cannot take the readers' facts into the feed: {e}");
                    }
                } else {
                    let t0 = Instant::now();
                    match self.registry.take_over(TAKE_OVER_TIMEOUT) {
                        Ok(()) => {
                            self.role.set_writer(true);
                            self.role.set_writer_address(Some(self.address.clone()));
                            tracing::info!(
                                "took the writer's lease: this process now writes (took over in {:.2} s)",
                                t0.elapsed().as_secs_f64()
                            );
                        }
                        Err(e) => tracing::error!(
                            "holding the writer's lease but cannot take over writing yet: {e}"
                        ),
                    }
                }
            }
            Ok(false) => {
                self.held_at = None;
                if self.role.is_writer() {
                    self.role.set_writer(false);
                    tracing::warn!("lost the writer's lease: this process is a reader now");
                }
                self.follow();
            }
            Err(e) => {
                // Unknown: keep the role until the lease may have run out.
                let expired = self.held_at.is_none_or(|t| t.elapsed() >= LEASE_TTL);
                if self.role.is_writer() && expired {
                    self.role.set_writer(false);
                    tracing::warn!(
                        "cannot renew the writer's lease ({e}) and it may have run out: a reader now"
                    );
                } else {
                    tracing::warn!("cannot reach the database for the writer's lease: {e}");
                }
            }
        }
    }

    /// A reader's turn: learn the writer's address and what it wrote.
    fn follow(&mut self) {
        match self.pg.lease_holder() {
            Ok(h) => self.role.set_writer_address(h.and_then(|h| h.address)),
            Err(e) => tracing::warn!("cannot read the writer's lease: {e}"),
        }
        if let Err(e) = self.registry.refresh() {
            tracing::warn!("cannot follow the writer: {e}");
        }
        if let Err(e) = self.registry.send_facts() {
            tracing::warn!("cannot hand this reader's facts to the writer: {e}");
        }
    }

    /// Runs turns every [`LEASE_RENEW`] until `stop` is set, then releases the lease if
    /// held (a reader takes over at once instead of after [`LEASE_TTL`]).
    pub fn run(mut self, stop: Arc<std::sync::atomic::AtomicBool>) {
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let started = Instant::now();
            self.turn();
            std::thread::sleep(LEASE_RENEW.saturating_sub(started.elapsed()));
        }
        if self.role.is_writer() {
            self.role.set_writer(false);
            if let Err(e) = self.pg.lease_release(&self.holder) {
                tracing::warn!("cannot release the writer's lease: {e}");
            }
        }
    }

    /// Takes the first turn now, so that a process alone on its database starts as the
    /// writer before it answers a request.
    pub fn first_turn(&mut self) {
        self.turn();
    }
}

/// A lease loop running on its thread.
pub struct Running {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    /// Stops the loop and waits for it to release the lease (at most one turn).
    pub fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// Takes the first turn now (a process alone on its database is the writer before it
/// answers a request), then runs the loop on a thread of its own.
pub fn start(mut lease: LeaseLoop) -> std::io::Result<Running> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    lease.first_turn();
    let thread = std::thread::Builder::new()
        .name("tracemark-lease".into())
        .spawn(move || lease.run(s))?;
    Ok(Running { stop, thread })
}
