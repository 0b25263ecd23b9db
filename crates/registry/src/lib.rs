//! The registry: participants, catalogue, code orders, documents and the life of every
//! code, the till check (docs/domain.md) and public verification, over a [`Store`].
//!
//! Data flows one way: the server authenticates and parses, the [`Registry`] decides, the
//! store commits. All writes go through one writer thread with group commit (see [`tx`]);
//! reads go straight to the store and see every acknowledged write.

#![deny(missing_docs)]

pub use types::limits::{
    ACK_NOTE_CHARS_MAX, ATTRIBUTES_LEN_MAX, BATCH_LEN_MAX, FACTS_WAKE_EVERY, INBOX_TAKE_MAX,
    KEYS_PER_PARTICIPANT_MAX, NAME_LEN_MAX, PREFIXES_PER_REQUEST_MAX, PREFIX_CARDS_MOVED_MAX,
    PREFIX_LEN_MAX, PREFIX_LEN_MIN, REASON_LEN_MAX, SHELF_LIFE_DAYS_MAX, TIN_LEN_MAX,
    WRITER_QUEUE_MAX,
};

pub mod blocks;
pub mod capture;
pub mod complaints;
pub mod documents;
pub mod emission;
pub mod feed;
mod orders;
pub mod project;
mod queries;
pub mod ranges;
pub mod rules;
pub mod tailguard;
pub mod tx;

pub use documents::DocAnswer;
pub use error::{CodeError, Error, Result};
pub use orders::{NewOrder, OrderCodes, ORDER_QUANTITY_MAX};
pub use queries::{
    CodeInfo, CodeStatus, HistoryEntry, Inventory, PosItem, PosResult, ProducerRef, ProductCard,
    VerifyAnswer, QUERY_CODES_MAX,
};
use store::Store;
use types::{apidoc, codes, error, log, model, redact, time};

use blocks::BlockIndex;
use codes::PresentedTail;
use model::{Block, CodeKey, CodeState, Participant, ParticipantId, Product, Role, TailKind};
use parking_lot::RwLock;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tx::{Completion, Job, Tx, WriterState};

/// The wall clock, in Unix seconds. Injected so tests can move time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    })
}

/// Registration of a participant (`POST /api/v1/participants`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParticipant {
    /// Taxpayer identification number (Russian TINs: 10 or 12 digits; up to 32 letters or
    /// digits for other countries' ids).
    #[schema(pattern = r"^\s*[0-9A-Za-z]{1,32}\s*$")]
    pub tin: String,
    /// Legal name, 1 to 256 bytes.
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    pub name: String,
    /// Roles.
    #[schema(min_items = 1)]
    pub roles: Vec<Role>,
    /// Ed25519 public key, base64 of 32 bytes.
    #[schema(schema_with = apidoc::public_key)]
    pub public_key: String,
    /// ISO 3166-2 region, e.g. `RU-MOW`.
    #[schema(pattern = r"^[A-Z]{2}-[A-Z0-9]{1,3}$")]
    pub region: String,
    /// GS1 company prefixes the participant holds (4 to 12 digits each).
    #[serde(default)]
    #[schema(schema_with = apidoc::prefixes)]
    pub gs1_prefixes: Vec<String>,
}

/// A key added to a participant (`POST /api/v1/participants/{tin}/keys`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Ed25519 public key, base64 of 32 bytes.
    #[schema(schema_with = apidoc::public_key)]
    pub public_key: String,
    /// Accepted from (Unix seconds, or RFC 3339); now when absent. The previous key stops
    /// when this one starts.
    #[serde(default)]
    #[schema(schema_with = apidoc::unix_or_rfc3339)]
    pub not_before: Option<serde_json::Value>,
}

/// A product card as submitted (`POST /api/v1/products`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    /// GTIN (8, 12, 13 or 14 digits).
    #[schema(schema_with = apidoc::gtin)]
    pub gtin: String,
    /// Name, 1 to 256 bytes.
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    pub name: String,
    /// Product group.
    #[schema(min_length = 1, pattern = r"\S")]
    pub product_group: String,
    /// Brand.
    #[serde(default)]
    pub brand: Option<String>,
    /// Shelf life in days.
    #[serde(default)]
    pub shelf_life_days: Option<u32>,
    /// Maximum retail price (minor units).
    #[serde(default)]
    pub max_retail_price: Option<u64>,
    /// Free-form attributes (a JSON object, at most 16 KiB).
    #[serde(default)]
    #[schema(schema_with = apidoc::free_form_object_or_null)]
    pub attributes: Option<serde_json::Value>,
}

/// A block as submitted (`POST /api/v1/blocks`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBlock {
    /// Whole GTIN (recall).
    #[serde(default)]
    pub gtin: Option<String>,
    /// A batch of that GTIN.
    #[serde(default)]
    pub batch: Option<String>,
    /// Single codes (GS written `\u001d`, bracketed, or GS1 Digital Link URIs).
    #[serde(default)]
    #[schema(max_items = 30000)]
    pub codes: Option<Vec<String>>,
    /// Why, 1 to 1,024 bytes.
    #[schema(min_length = 1, max_length = 1024, pattern = r"\S")]
    pub reason: String,
}

/// A stored document as one reader may see it ([`Registry::document_view`]).
#[derive(Clone, Debug)]
pub struct DocumentView {
    /// The stored document (its `body` the exact bytes, tails included: show it only
    /// when `redacted` is `None`).
    pub doc: model::StoredDocument,
    /// The body without crypto tails, when the reader may not see them and it held some.
    pub redacted: Option<Redaction>,
}

/// A document body with its crypto tails removed, and why.
#[derive(Clone, Debug)]
pub struct Redaction {
    /// The body as JSON, every code by its identification code.
    pub body: serde_json::Value,
    /// How many codes lost their tail.
    pub codes: u64,
    /// Why, in words for the reader.
    pub why: &'static str,
}

/// The operator moves a product card to another participant
/// (`POST /api/v1/products/{gtin}/transfer`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCardTransfer {
    /// TIN of the participant (a producer or importer) that takes the card.
    pub to: String,
    /// Why, for the record (1 to 1,024 bytes): e.g. the GS1 prefix check that settled it.
    pub reason: String,
}

/// A product card moved to another participant: by the operator, or to the holder of a
/// GS1 company prefix granted over it. Codes already issued keep their owners and
/// histories; only the card (and with it future orders and changes) moves.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CardMove {
    /// GTIN (14 digits).
    pub gtin: String,
    /// TIN of the participant that held the card.
    pub from: String,
    /// TIN of the participant that holds it now.
    pub to: String,
    /// Why: the operator's words, or the prefix granted.
    pub reason: String,
    /// The move's leaf in the transparency log (kind `product_transfer`).
    pub log_index: u64,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    jobs: crossbeam_channel::Sender<Job<dyn Store>>,
    /// The writer's bulk lane (emission chunks), behind `jobs`.
    bulk: crossbeam_channel::Sender<Job<dyn Store>>,
    emitter: Arc<emission::Emitter>,
    pub(crate) keyring: Arc<RwLock<issuance::Keyring>>,
    /// Derives the states of codes emitted as ranges ([`ranges`]).
    pub(crate) ranges: ranges::Ranges,
    /// The writer's state cache's epoch ([`tx::StateCache::epoch`]).
    cache_epoch: Arc<std::sync::atomic::AtomicU64>,
    /// The writer's state cache's capacity (states). Documents' states are read before
    /// they reach the writer only when it is above 0: without a cache a read ahead cannot
    /// be trusted.
    state_cache: usize,
    pub(crate) blocks: RwLock<BlockIndex>,
    products: RwLock<HashMap<u64, Product>>,
    participants: RwLock<HashMap<ParticipantId, Participant>>,
    /// GS1 company prefix → the participant holding it.
    prefixes: RwLock<std::collections::BTreeMap<String, ParticipantId>>,
    pub(crate) clock: Clock,
    stats: Arc<tx::WriterStats>,
    pub(crate) tail_guard: tailguard::TailGuard,
    /// Facts from reads (till checks, verifications, failed tail checks) waiting for the
    /// writer's next commit.
    pub(crate) facts: Arc<feed::FactBuffer>,
    /// The thread that wakes the writer for facts from reads ([`wake_for_facts`]).
    facts_waker: std::sync::OnceLock<std::thread::Thread>,
    /// A reading process's facts, waiting for [`Registry::send_facts`].
    outbox: feed::FactBuffer,
    /// Wakes projections after every commit that appended to the feed.
    feed_signal: Arc<feed::FeedSignal>,
    /// Makes the writer reload its counters before its next batch ([`tx::Feed::reload`]).
    writer_reload: Arc<std::sync::atomic::AtomicBool>,
    /// Whether this process reads a store another process writes ([`Registry::open_reader`]):
    /// facts from its reads are then dropped (counted), since it cannot commit them.
    reader: std::sync::atomic::AtomicBool,
}

/// GS1 company prefix → the participant holding it, from the stored participants.
fn prefixes_of(store: &dyn Store) -> Result<std::collections::BTreeMap<String, ParticipantId>> {
    let mut prefixes = std::collections::BTreeMap::new();
    for p in store.participants()? {
        for x in &p.gs1_prefixes {
            prefixes.insert(x.clone(), p.id);
        }
    }
    Ok(prefixes)
}

/// The registry. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct Registry {
    pub(crate) inner: Arc<Inner>,
}

impl Registry {
    /// Opens the registry over `store` with the issuing `keyring`, starting its writer. The
    /// writer's state cache holds [`tx::StateCache::capacity_from_env`] states.
    pub fn open(
        store: Arc<dyn Store>,
        keyring: issuance::Keyring,
        clock: Clock,
    ) -> Result<Registry> {
        Self::open_with(store, keyring, clock, tx::StateCache::capacity_from_env())
    }

    /// Opens the registry with a writer state cache of `state_cache` states (0: none).
    pub fn open_with(
        store: Arc<dyn Store>,
        keyring: issuance::Keyring,
        clock: Clock,
        state_cache: usize,
    ) -> Result<Registry> {
        let reg = Self::open_idle(store, keyring, clock, state_cache)?;
        reg.resume_orders()?;
        Ok(reg)
    }

    /// Opens the registry as a reader of a store another process writes (a second
    /// `serve --postgres` on one database): it answers reads from the store, and its
    /// writer starts but resumes no order's production (the writing process does; this
    /// one's commits are refused by the store's lease anyway). Call [`Registry::refresh`]
    /// as the store moves, and [`Registry::take_over`] once this process holds the lease.
    pub fn open_reader(
        store: Arc<dyn Store>,
        keyring: issuance::Keyring,
        clock: Clock,
    ) -> Result<Registry> {
        let reg = Self::open_idle(store, keyring, clock, tx::StateCache::capacity_from_env())?;
        reg.inner
            .reader
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(reg)
    }

    /// Re-reads what this process keeps in memory of the store's small tables (blocks,
    /// company prefixes; participants and product cards are read again on next use) and
    /// moves the feed signal to the store's feed head, so that projections following it
    /// see what another process wrote. Returns the feed head. For a reader; cheap enough
    /// to call every second (two scans of small tables).
    pub fn refresh(&self) -> Result<u64> {
        let store = &self.inner.store;
        let blocks = BlockIndex::from_blocks(&store.blocks()?);
        let prefixes = prefixes_of(&**store)?;
        let head = store.counter("feed_seq")?.max(1) - 1;
        *self.inner.blocks.write() = blocks;
        *self.inner.prefixes.write() = prefixes;
        self.inner.participants.write().clear();
        self.inner.products.write().clear();
        self.inner.feed_signal.advance(head);
        Ok(head)
    }

    /// Makes this process the writer of its store, after it took the store's lease from
    /// another (dead) one: re-reads the in-memory tables ([`Registry::refresh`]), has the
    /// writer reload its counters from the store and waits until it has (`timeout`), then
    /// resumes every pending order's production.
    pub fn take_over(&self, timeout: std::time::Duration) -> Result<()> {
        self.refresh()?;
        self.inner
            .writer_reload
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.writer_check(timeout)?;
        self.inner
            .reader
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.resume_orders()
    }

    /// Opens the registry and starts its writer, resuming nothing.
    fn open_idle(
        store: Arc<dyn Store>,
        keyring: issuance::Keyring,
        clock: Clock,
        state_cache: usize,
    ) -> Result<Registry> {
        let state = WriterState::load(&*store)?;
        let blocks = BlockIndex::from_blocks(&store.blocks()?);
        let prefixes = prefixes_of(&*store)?;
        let keyring = Arc::new(RwLock::new(keyring));
        let ranges = ranges::Ranges::new(keyring.clone());
        let writer_ranges = ranges.clone();
        let cache_epoch = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer_epoch = cache_epoch.clone();
        let (tx, rx) = crossbeam_channel::bounded::<Job<dyn Store>>(WRITER_QUEUE_MAX);
        let (bulk_tx, bulk_rx) =
            crossbeam_channel::bounded::<Job<dyn Store>>(emission::EMISSION_WORKERS);
        let writer_store = store.clone();
        let writer_clock = clock.clone();
        let stats = Arc::new(tx::WriterStats::default());
        let writer_stats = stats.clone();
        let facts = Arc::new(feed::FactBuffer::default());
        let feed_signal = Arc::new(feed::FeedSignal::new(state.next_feed - 1));
        let writer_reload = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (writer_facts, writer_signal, reload) =
            (facts.clone(), feed_signal.clone(), writer_reload.clone());
        std::thread::Builder::new()
            .name("tracemark-writer".into())
            .spawn(move || {
                // Supervised: a panic outside a job (in a commit, say) restarts the loop
                // from the committed counters; jobs caught in it see their reply dropped (503).
                let mut state = state;
                loop {
                    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        tx::run_writer(
                            writer_store.clone(),
                            (rx.clone(), bulk_rx.clone()),
                            writer_clock.clone(),
                            state.clone(),
                            state_cache,
                            writer_stats.clone(),
                            tx::Feed {
                                ranges: Some(writer_ranges.clone()),
                                cache_epoch: writer_epoch.clone(),
                                facts: writer_facts.clone(),
                                signal: writer_signal.clone(),
                                reload: reload.clone(),
                            },
                        )
                    }));
                    if run.is_ok() {
                        break;
                    }
                    writer_stats
                        .restarts
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::error!("the writer panicked outside a job; restarting it");
                    match WriterState::load(&*writer_store) {
                        Ok(s) => state = s,
                        Err(e) => {
                            tracing::error!("the writer cannot reload its counters: {e}");
                            break;
                        }
                    }
                }
            })
            .map_err(|e| Error::Unavailable(format!("cannot start the writer: {e}")))?;
        let reg = Registry {
            inner: Arc::new(Inner {
                store,
                jobs: tx,
                bulk: bulk_tx,
                emitter: Arc::new(emission::Emitter::default()),
                keyring,
                ranges,
                cache_epoch,
                state_cache,
                blocks: RwLock::new(blocks),
                products: RwLock::new(HashMap::new()),
                participants: RwLock::new(HashMap::new()),
                prefixes: RwLock::new(prefixes),
                clock,
                stats,
                tail_guard: tailguard::TailGuard::default(),
                facts,
                outbox: feed::FactBuffer::default(),
                facts_waker: std::sync::OnceLock::new(),
                feed_signal,
                writer_reload,
                reader: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        emission::start(&reg.inner.emitter, Arc::downgrade(&reg.inner));
        let weak = Arc::downgrade(&reg.inner);
        let waker = std::thread::Builder::new()
            .name("tracemark-facts".into())
            .spawn(move || wake_for_facts(weak))
            .map_err(|e| Error::Unavailable(format!("cannot start the facts' waker: {e}")))?;
        let _ = reg.inner.facts_waker.set(waker.thread().clone());
        Ok(reg)
    }

    /// The current time (Unix seconds).
    pub fn now(&self) -> u64 {
        (self.inner.clock)()
    }

    /// The writer's state cache's capacity (states; 0: none), as the registry was opened.
    pub fn state_cache_capacity(&self) -> usize {
        self.inner.state_cache
    }

    /// The writer's counters.
    pub fn writer_stats(&self) -> &tx::WriterStats {
        &self.inner.stats
    }

    /// Calls `f` with the reason once the store loses durability
    /// ([`tx::WriterStats::lost`]: the writer has stopped writing), on a thread of its own
    /// that checks every 100 ms and ends with the registry. `serve` exits there.
    pub fn on_store_lost(&self, f: impl FnOnce(&str) + Send + 'static) {
        let stats = self.inner.stats.clone();
        let watch = move || loop {
            if let Some(why) = stats.lost.get() {
                f(why);
                return;
            }
            if Arc::strong_count(&stats) == 1 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        if let Err(e) = std::thread::Builder::new()
            .name("tracemark-lost".into())
            .spawn(watch)
        {
            tracing::error!("cannot watch the store for a loss of durability: {e}");
        }
    }

    /// Sends an empty job through the writer and waits for it: how long the writer took to
    /// get to it, or an error if it did not within `timeout` (stopped, stuck or far behind).
    pub fn writer_check(&self, timeout: std::time::Duration) -> Result<std::time::Duration> {
        let started = std::time::Instant::now();
        let (reply, wait) = crossbeam_channel::bounded(1);
        self.write_then(
            |_| Ok(()),
            move |r: Result<()>| {
                let _ = reply.send(r);
            },
        )?;
        match wait.recv_timeout(timeout) {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(e)) => Err(e),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(Error::Unavailable(format!(
                "the writer did not answer within {} ms ({} jobs waiting)",
                timeout.as_millis(),
                self.writer_queue()
            ))),
            Err(_) => Err(Error::Unavailable("the writer stopped".into())),
        }
    }

    /// Adds a fact from a read (a till check, a verification, a failed tail check) to the
    /// feed: it joins the writer's next commit. Never waits; dropped and counted when
    /// [`feed::FACTS_PENDING_MAX`] wait already.
    pub(crate) fn note(&self, fact: feed::Fact) {
        if self.inner.reader.load(std::sync::atomic::Ordering::Relaxed) {
            // A reader cannot commit: its facts wait for the store's inbox
            // ([`Registry::send_facts`]), where the writer takes them.
            self.inner.outbox.push(fact);
            return;
        }
        let was_empty = self.inner.facts.is_empty();
        self.inner.facts.push(fact);
        if was_empty {
            // The facts' waker wakes the writer for them (see `wake_for_facts`).
            if let Some(t) = self.inner.facts_waker.get() {
                t.unpark();
            }
        }
    }

    /// A reading process's facts (verifications, till checks, failed tail checks) to the
    /// store's inbox, for the writer to append to the feed ([`Registry::take_inbox`]).
    /// Returns how many went; those the inbox refused (full) or that could not be sent are
    /// counted as dropped ([`Registry::facts_dropped`]). Call it now and then (every
    /// second); it does nothing in a writing process.
    pub fn send_facts(&self) -> Result<usize> {
        use std::sync::atomic::Ordering::Relaxed;
        let facts = self.inner.outbox.take();
        if facts.is_empty() {
            return Ok(0);
        }
        let encoded: Vec<Vec<u8>> = facts.iter().filter_map(|f| feed::encode(0, f)).collect();
        let dropped = &self.inner.facts.dropped;
        match self.inner.store.inbox_put(&encoded) {
            Ok(kept) => {
                dropped.fetch_add((encoded.len() - kept.min(encoded.len())) as u64, Relaxed);
                Ok(kept)
            }
            Err(e) => {
                dropped.fetch_add(encoded.len() as u64, Relaxed);
                Err(e.into())
            }
        }
    }

    /// The writer takes the oldest facts of the store's inbox (readers' verifications and
    /// till checks, [`Registry::send_facts`]) into the feed, and removes them from the
    /// inbox in the same commit. Returns how many went into the feed: only verifications,
    /// till checks and failed tail checks do (anything else is removed unrecorded). Call it now and then (every second) in
    /// the writing process of a shared store.
    pub fn take_inbox(&self) -> Result<usize> {
        self.write(|tx| {
            let rows = tx.store().inbox_take(INBOX_TAKE_MAX)?;
            let Some(&(upto, _)) = rows.last() else {
                return Ok(0);
            };
            let mut n = 0;
            for (_, bytes) in &rows {
                // Only what a reader's reads make: a row of any other kind (a document, a
                // block) did not come from `send_facts` and never reaches the feed. A
                // record this version cannot read (a newer reader's) is skipped too, as
                // the feed's readers skip one.
                if let Some((
                    _,
                    fact @ (feed::Fact::Verified(_)
                    | feed::Fact::TillCheck(_)
                    | feed::Fact::TailFailed(_)),
                )) = feed::decode(bytes)
                {
                    tx.record(&fact);
                    n += 1;
                }
            }
            tx.inbox_taken(upto);
            Ok(n)
        })
    }

    /// Committed feed entries after `after`, at most `limit` (unreadable records skipped).
    pub fn feed(&self, after: u64, limit: usize) -> Result<Vec<feed::FeedEntry>> {
        Ok(self
            .inner
            .store
            .feed(after, limit)?
            .into_iter()
            .filter_map(|(seq, b)| {
                feed::decode(&b).map(|(at, fact)| feed::FeedEntry { seq, at, fact })
            })
            .collect())
    }

    /// The feed's head and a way to wait for it to move (for projections).
    pub fn feed_signal(&self) -> Arc<feed::FeedSignal> {
        self.inner.feed_signal.clone()
    }

    /// Facts from reads dropped because the buffer was full, since start.
    pub fn facts_dropped(&self) -> u64 {
        self.inner
            .facts
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Verifications answered but not recorded in the feed (over the per-second cap).
    pub fn verifications_unrecorded(&self) -> u64 {
        self.inner
            .facts
            .verified_unrecorded
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Till checks answered but not recorded in the feed (over a participant's daily
    /// budget, [`feed::TILL_FACTS_PER_PARTICIPANT_PER_DAY`]).
    pub fn till_checks_unrecorded(&self) -> u64 {
        self.inner
            .facts
            .till_unrecorded
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Jobs waiting for the writer.
    pub fn writer_queue(&self) -> usize {
        self.inner.jobs.len()
    }

    /// The store (for health checks and tests).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Runs `f` as a writer job and waits until its batch is durable.
    ///
    /// `f` must follow the writer's discipline: return `Err` only before it has written.
    pub fn write<T: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(&mut Tx<'a, dyn Store>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, wait) = crossbeam_channel::bounded(1);
        self.write_then(f, move |r| {
            let _ = reply.send(r);
        })?;
        wait.recv()
            .map_err(|_| Error::Unavailable("the writer stopped".into()))?
    }

    /// Runs `f` as a job of the writer's bulk lane (behind every other job; one per group
    /// commit); `done` gets its result once durable.
    pub(crate) fn write_bulk_then<T: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(&mut Tx<'a, dyn Store>) -> Result<T> + Send + 'static,
        done: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        self.inner
            .bulk
            .send(job_of(f, done))
            .map_err(|_| Error::Unavailable("the writer stopped".into()))
    }

    /// Runs `f` as a writer job; `done` gets its result once the batch is durable.
    pub fn write_then<T: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(&mut Tx<'a, dyn Store>) -> Result<T> + Send + 'static,
        done: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        self.inner
            .jobs
            .send(job_of(f, done))
            .map_err(|_| Error::Unavailable("the writer stopped".into()))
    }

    // ---- participants ----

    /// Registers a participant (operator only; the server checks the admin token).
    ///
    /// Product cards that others (importers) registered within its GS1 company prefixes
    /// while nobody held them move to it, each logged (see
    /// [`Registry::register_participant_moving`]).
    pub fn register_participant(&self, req: NewParticipant) -> Result<Participant> {
        Ok(self.register_participant_moving(req)?.0)
    }

    /// Registers a participant (operator), with the product cards that moved to it.
    pub fn register_participant_moving(
        &self,
        req: NewParticipant,
    ) -> Result<(Participant, Vec<CardMove>)> {
        let tin = req.tin.trim().to_string();
        if tin.is_empty()
            || tin.len() > TIN_LEN_MAX
            || !tin.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Error::invalid(format!(
                "`tin` must be 1 to {TIN_LEN_MAX} letters or digits"
            )));
        }
        if req.name.trim().is_empty() || req.name.len() > NAME_LEN_MAX {
            return Err(Error::invalid("`name` must be 1 to 256 bytes"));
        }
        if req.roles.is_empty() {
            return Err(Error::invalid("`roles` is empty"));
        }
        let key = parse_public_key(&req.public_key)?;
        if !valid_region(&req.region) {
            return Err(Error::invalid("`region` must be ISO 3166-2, e.g. RU-MOW"));
        }
        let mut roles = req.roles.clone();
        roles.sort_by_key(|r| *r as u8);
        roles.dedup();
        let prefixes = valid_prefixes(&req.gs1_prefixes)?;
        let now = self.now();
        let reg = self.clone();
        let p = self.write(move |tx| {
            if tx.participant_by_tin(&tin)?.is_some() {
                return Err(Error::Conflict(format!(
                    "participant {tin} is registered already"
                )));
            }
            reg.prefixes_free(tx, &prefixes, None)?;
            reg.key_free(tx, &key, None)?;
            let id = tx.state.next_participant;
            tx.state.next_participant += 1;
            let p = Participant {
                id,
                tin,
                name: req.name.trim().to_string(),
                roles,
                public_key: key,
                region: req.region,
                registered_at: now,
                keys: Vec::new(),
                suspended: None,
                gs1_prefixes: prefixes,
                token_generation: 0,
            };
            tx.put_participant(p.clone());
            tx.append_log(log::LeafKind::Participant, 0, &participant_leaf(&p));
            let moved = reg.claim_cards(tx, &p.gs1_prefixes, &p)?;
            Ok((p, moved))
        })?;
        let (p, moved) = p;
        self.remember_participant(&p);
        self.remember_products(&moved);
        Ok((p, moved.into_iter().map(|(_, m)| m).collect()))
    }

    fn remember_participant(&self, p: &Participant) {
        self.inner.participants.write().insert(p.id, p.clone());
        let mut px = self.inner.prefixes.write();
        for x in &p.gs1_prefixes {
            px.insert(x.clone(), p.id);
        }
    }

    /// The holder of the prefix that starts `digits` as the writer sees it: a prefix
    /// granted earlier in the same batch is not in the shared map until it commits.
    fn prefix_holder_in(&self, tx: &Tx<'_, dyn Store>, digits: &str) -> Option<ParticipantId> {
        tx.pending_participants()
            .iter()
            .rev()
            .find(|p| {
                p.gs1_prefixes
                    .iter()
                    .any(|x| digits.starts_with(x.as_str()))
            })
            .map(|p| p.id)
            .or_else(|| self.prefix_holder(digits))
    }

    /// The participant holding the GS1 company prefix that starts `digits`.
    pub fn prefix_holder(&self, digits: &str) -> Option<ParticipantId> {
        let px = self.inner.prefixes.read();
        (PREFIX_LEN_MIN..=PREFIX_LEN_MAX.min(digits.len()))
            .find_map(|n| px.get(&digits[..n]).copied())
    }

    /// Refuses prefixes that overlap one another participant holds (in the writer: two
    /// registrations of one batch see each other through `tx`).
    fn prefixes_free(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        prefixes: &[String],
        owner: Option<ParticipantId>,
    ) -> Result<()> {
        if prefixes.is_empty() {
            return Ok(());
        }
        let mut held: Vec<(String, ParticipantId)> = self
            .inner
            .prefixes
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for p in tx.pending_participants() {
            for x in &p.gs1_prefixes {
                held.push((x.clone(), p.id));
            }
        }
        // Product cards another participant registered in a prefix while nobody held it
        // (an importer's) move to the new holder: see [`Registry::claim_cards`].
        for x in prefixes {
            if let Some((h, who)) = held.iter().find(|(h, who)| {
                Some(*who) != owner && (h.starts_with(x.as_str()) || x.starts_with(h.as_str()))
            }) {
                return Err(Error::Conflict(format!(
                    "GS1 company prefix {x} overlaps {h}, held by participant {who}"
                )));
            }
        }
        Ok(())
    }

    /// Moves the product cards within `prefixes` that others hold to `holder`, who was
    /// just granted them (in the writer, after the grant's leaf). Only an importer can
    /// hold such a card — it registered a foreign brand's GTIN while no participant held
    /// the prefix — and the operator granting the prefix (having checked with GS1 who
    /// owns it) is the decision: the brand owner gets its cards, each move a log leaf.
    fn claim_cards(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        prefixes: &[String],
        holder: &Participant,
    ) -> Result<Vec<(Product, CardMove)>> {
        let mut foreign = Vec::new();
        for x in prefixes {
            for c in products_in_prefix(tx.store(), x, PREFIX_CARDS_MOVED_MAX + 1)? {
                let gtin: u64 = c.gtin.parse().unwrap_or(0);
                // The batch's own changes first (a card changed earlier in it).
                let c = tx.product(gtin)?.unwrap_or(c);
                if c.owner != holder.id {
                    foreign.push((x.clone(), c));
                }
            }
        }
        if foreign.len() > PREFIX_CARDS_MOVED_MAX {
            return Err(Error::Conflict(format!(
                "more than {PREFIX_CARDS_MOVED_MAX} product cards of other participants lie \
                 within these prefixes; move them first (POST /api/v1/products/{{gtin}}/transfer) \
                 or grant longer prefixes"
            )));
        }
        let mut out = Vec::with_capacity(foreign.len());
        for (x, c) in foreign {
            let reason = format!("GS1 company prefix {x} granted to {}", holder.tin);
            out.push(self.move_card(tx, c, holder, reason, "prefix")?);
        }
        Ok(out)
    }

    /// Moves one card to `to` in the writer, with its log leaf (`by`: `operator` or
    /// `prefix`).
    fn move_card(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        mut card: Product,
        to: &Participant,
        reason: String,
        by: &str,
    ) -> Result<(Product, CardMove)> {
        let from = card.owner;
        let from_tin = self
            .participant(from)?
            .map_or_else(|| format!("#{from}"), |p| p.tin);
        card.owner = to.id;
        tx.put_product(card.clone());
        tx.record(&feed::Fact::CardOwner(feed::CardOwnerFact {
            gtin: card.gtin.parse().unwrap_or(0),
            from,
            to: to.id,
        }));
        let log_index = tx.append_log(
            log::LeafKind::ProductTransfer,
            0,
            &serde_json::json!({
                "gtin": card.gtin, "from": from, "from_tin": from_tin, "to": to.id,
                "to_tin": to.tin, "reason": reason, "by": by,
            }),
        );
        let m = CardMove {
            gtin: card.gtin.clone(),
            from: from_tin,
            to: to.tin.clone(),
            reason,
            log_index,
        };
        Ok((card, m))
    }

    fn remember_products(&self, moved: &[(Product, CardMove)]) {
        let mut cache = self.inner.products.write();
        for (p, _) in moved {
            if let Ok(g) = p.gtin.parse::<u64>() {
                cache.insert(g, p.clone());
            }
        }
    }

    /// The operator moves a product card to another producer or importer (settling a
    /// squatted GTIN, a brand sold, a distributor changed): logged with the reason. A card
    /// within a GS1 company prefix stays with that prefix's holder (grant the prefix, and
    /// its cards follow). Codes already issued keep their owners and histories.
    pub fn transfer_product(&self, gtin: &str, req: NewCardTransfer) -> Result<CardMove> {
        let gtin = parse_gtin(gtin)?;
        let reason = req.reason.trim().to_string();
        if reason.is_empty() || reason.len() > REASON_LEN_MAX {
            return Err(Error::invalid("`reason` must be 1 to 1024 bytes"));
        }
        let to_tin = req.to.trim().to_string();
        let reg = self.clone();
        let moved = self.write(move |tx| {
            let card = tx
                .product(gtin)?
                .ok_or_else(|| Error::NotFound(format!("no product card {gtin:014}")))?;
            let to = tx
                .participant_by_tin(&to_tin)?
                .ok_or_else(|| Error::invalid(format!("`to`: no participant {to_tin}")))?;
            if !(to.has(Role::Producer) || to.has(Role::Importer)) {
                return Err(Error::invalid(format!(
                    "`to`: participant {to_tin} is neither a producer nor an importer, who \
                     alone hold product cards"
                )));
            }
            if card.owner == to.id {
                return Err(Error::Conflict(format!(
                    "participant {to_tin} holds product card {gtin:014} already"
                )));
            }
            let digits = format!("{gtin:014}");
            if let Some(h) = reg
                .prefix_holder_in(tx, &digits[1..])
                .filter(|h| *h != to.id)
            {
                let holder = reg
                    .participant(h)?
                    .map_or_else(|| format!("#{h}"), |p| p.tin);
                return Err(Error::Conflict(format!(
                    "GTIN {digits} lies within a GS1 company prefix that participant {holder} \
                     holds: its card stays with the prefix's holder"
                )));
            }
            reg.move_card(tx, card, &to, reason, "operator")
        })?;
        self.remember_products(std::slice::from_ref(&moved));
        Ok(moved.1)
    }

    /// Refuses a public key that another participant holds (now or before: any key of its
    /// history) or that is one of the registry's own code-signing keys: a key belongs to
    /// one participant, so a signature names its signer without doubt (in the writer: two
    /// registrations of one batch see each other through `tx`). The server adds the
    /// log's checkpoint key, which it holds.
    fn key_free(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        key: &[u8; 32],
        owner: Option<ParticipantId>,
    ) -> Result<()> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        if self.public_keys().keys.iter().any(|k| k.public_key == b64) {
            return Err(Error::Conflict(format!(
                "public key {b64} is the registry's own code-signing key; every participant needs a key of its own"
            )));
        }
        let mut all = tx.store().participants()?;
        for p in tx.pending_participants() {
            all.retain(|q| q.id != p.id);
            all.push(p.clone());
        }
        if let Some(holder) = all.iter().find(|p| {
            Some(p.id) != owner
                && (p.public_key == *key || p.keys.iter().any(|k| k.public_key == *key))
        }) {
            return Err(Error::Conflict(format!(
                "public key {b64} belongs to participant {} already; a key belongs to one participant",
                holder.tin
            )));
        }
        Ok(())
    }

    /// Changes a participant in the writer (operator actions): `f` checks and edits it.
    fn change_participant(
        &self,
        tin: &str,
        kind: log::LeafKind,
        f: impl FnOnce(&Registry, &mut Tx<'_, dyn Store>, &mut Participant) -> Result<serde_json::Value>
            + Send
            + 'static,
    ) -> Result<Participant> {
        let tin = tin.to_string();
        let reg = self.clone();
        let (reply, wait) = crossbeam_channel::bounded(1);
        let remember = self.clone();
        self.write_then(
            move |tx| {
                let mut p = tx
                    .participant_by_tin(&tin)?
                    .ok_or_else(|| Error::NotFound(format!("no participant {tin}")))?;
                let what = f(&reg, tx, &mut p)?;
                tx.put_participant(p.clone());
                tx.append_log(
                    kind,
                    0,
                    &serde_json::json!({"participant": p.id, "tin": p.tin, "change": what}),
                );
                Ok(p)
            },
            move |r: Result<Participant>| {
                // In the writer, before its next batch: a document after a suspension sees it
                // (`run_document`), whichever thread runs next.
                if let Ok(p) = &r {
                    remember.remember_participant(p);
                }
                let _ = reply.send(r);
            },
        )?;
        wait.recv()
            .map_err(|_| Error::Unavailable("the writer stopped".into()))?
    }

    /// Adds a key to a participant (operator): accepted from `not_before` (now when absent,
    /// never earlier than now), ending the previous key then.
    pub fn add_key(&self, tin: &str, req: NewKey) -> Result<Participant> {
        let key = parse_public_key(&req.public_key)?;
        let now = self.now();
        let not_before = match &req.not_before {
            None => now,
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(time::parse_timestamp))
                // Past year 9999 a time has no RFC 3339 form to show it in.
                .filter(|t| *t <= time::TIMESTAMP_MAX)
                .ok_or_else(|| {
                    Error::invalid(
                        "`not_before` must be Unix seconds or an RFC 3339 time, at most \
                         9999-12-31T23:59:59Z",
                    )
                })?
                .max(now),
        };
        self.change_participant(tin, log::LeafKind::ParticipantKey, move |reg, tx, p| {
            if p.keys.len() >= KEYS_PER_PARTICIPANT_MAX {
                return Err(Error::TooLarge(format!(
                    "a participant has at most {KEYS_PER_PARTICIPANT_MAX} keys"
                )));
            }
            // A key scheduled for later is replaced by this one (an emergency rotation
            // must not wait for it), and never started.
            let now = tx.now;
            p.keys.retain(|k| k.not_before <= now);
            let later = match p.keys.last() {
                Some(k) => not_before > k.not_before,
                None => not_before >= p.registered_at,
            };
            if !later {
                return Err(Error::Conflict(
                    "a new key must start after the latest key's start".into(),
                ));
            }
            if p.public_key == key || p.keys.iter().any(|k| k.public_key == key) {
                return Err(Error::Conflict("this key was used before".into()));
            }
            reg.key_free(tx, &key, Some(p.id))?;
            p.keys.push(model::ParticipantKey {
                public_key: key,
                not_before,
            });
            use base64::Engine;
            Ok(serde_json::json!({
                "public_key": base64::engine::general_purpose::STANDARD.encode(key),
                "not_before": not_before,
            }))
        })
    }

    /// Suspends a participant (operator): its tokens, sign-ins and signatures are refused
    /// from the next request on.
    pub fn suspend(&self, tin: &str, reason: &str) -> Result<Participant> {
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.len() > REASON_LEN_MAX {
            return Err(Error::invalid("`reason` must be 1 to 1024 bytes"));
        }
        self.change_participant(tin, log::LeafKind::Suspension, move |_, _, p| {
            p.suspended = Some(reason.clone());
            p.token_generation = p.token_generation.wrapping_add(1);
            Ok(serde_json::json!({"reason": reason}))
        })
    }

    /// Lifts a suspension (operator).
    pub fn reinstate(&self, tin: &str) -> Result<Participant> {
        self.change_participant(tin, log::LeafKind::Reinstatement, |_, _, p| {
            if p.suspended.take().is_none() {
                return Err(Error::Conflict("the participant is not suspended".into()));
            }
            p.token_generation = p.token_generation.wrapping_add(1);
            Ok(serde_json::json!({}))
        })
    }

    /// Adds GS1 company prefixes to a participant (operator). Product cards that others
    /// (importers) registered within them while nobody held them move to it, each logged
    /// after the grant's leaf: returned with the participant.
    pub fn add_prefixes(
        &self,
        tin: &str,
        prefixes: &[String],
    ) -> Result<(Participant, Vec<CardMove>)> {
        let prefixes = valid_prefixes(prefixes)?;
        if prefixes.is_empty() {
            return Err(Error::invalid("`gs1_prefixes` is empty"));
        }
        let tin = tin.to_string();
        let reg = self.clone();
        let (p, moved) = self.write(move |tx| {
            let mut p = tx
                .participant_by_tin(&tin)?
                .ok_or_else(|| Error::NotFound(format!("no participant {tin}")))?;
            reg.prefixes_free(tx, &prefixes, Some(p.id))?;
            for x in &prefixes {
                if !p.gs1_prefixes.contains(x) {
                    p.gs1_prefixes.push(x.clone());
                }
            }
            tx.put_participant(p.clone());
            tx.append_log(
                log::LeafKind::Prefixes,
                0,
                &serde_json::json!({"participant": p.id, "tin": p.tin, "change": {"gs1_prefixes": prefixes}}),
            );
            let moved = reg.claim_cards(tx, &prefixes, &p)?;
            Ok((p, moved))
        })?;
        self.remember_participant(&p);
        self.remember_products(&moved);
        Ok((p, moved.into_iter().map(|(_, m)| m).collect()))
    }

    /// A participant by id (cached: every request of a participant reads it).
    pub fn participant(&self, id: ParticipantId) -> Result<Option<Participant>> {
        if let Some(p) = self.inner.participants.read().get(&id) {
            return Ok(Some(p.clone()));
        }
        let Some(p) = self.inner.store.participant(id)? else {
            return Ok(None);
        };
        // Never over a newer copy a change put there meanwhile (a suspension, say).
        Ok(Some(
            self.inner
                .participants
                .write()
                .entry(id)
                .or_insert(p)
                .clone(),
        ))
    }

    /// A participant by TIN.
    pub fn participant_by_tin(&self, tin: &str) -> Result<Option<Participant>> {
        Ok(self.inner.store.participant_by_tin(tin)?)
    }

    /// All participants.
    pub fn participants(&self) -> Result<Vec<Participant>> {
        Ok(self.inner.store.participants()?)
    }

    // ---- catalogue ----

    /// Registers or updates a product card (its owner only).
    pub fn put_product(&self, actor: &Participant, req: NewProduct) -> Result<Product> {
        self.put_product_signed(actor, req, model::Signed::default())
    }

    /// Registers or updates a product card, keeping the signed request in the log.
    ///
    /// A producer registers GTINs within its own GS1 company prefixes only; an importer
    /// also GTINs of prefixes nobody holds (foreign brands), never another holder's.
    pub fn put_product_signed(
        &self,
        actor: &Participant,
        req: NewProduct,
        signed: model::Signed,
    ) -> Result<Product> {
        if !(actor.has(Role::Producer) || actor.has(Role::Importer)) {
            return Err(Error::Forbidden(
                "only producers and importers register products".into(),
            ));
        }
        let gtin = parse_gtin(&req.gtin)?;
        let digits = format!("{gtin:014}");
        match self.prefix_holder(&digits[1..]) {
            Some(h) if h == actor.id => {}
            Some(_) => {
                return Err(Error::Forbidden(format!(
                    "GTIN {digits} is within another participant's GS1 company prefix"
                )))
            }
            None if actor.has(Role::Importer) => {}
            None => {
                return Err(Error::Forbidden(format!(
                    "GTIN {digits} is not within your GS1 company prefixes {:?}; a producer \
                     registers its own GTINs only (ask the operator to add your prefix)",
                    actor.gs1_prefixes
                )))
            }
        }
        if req.name.trim().is_empty() || req.name.len() > NAME_LEN_MAX {
            return Err(Error::invalid(format!(
                "`name` must be 1 to {NAME_LEN_MAX} bytes"
            )));
        }
        if model::product_group(&req.product_group).is_none() {
            let names: Vec<&str> = model::PRODUCT_GROUPS.iter().map(|g| g.name).collect();
            return Err(Error::invalid(format!(
                "unknown `product_group` {:?}; one of {}",
                req.product_group,
                names.join(", ")
            )));
        }
        if req.brand.as_ref().is_some_and(|b| b.len() > NAME_LEN_MAX) {
            return Err(Error::invalid("`brand` is longer than 256 bytes"));
        }
        if req
            .attributes
            .as_ref()
            .is_some_and(|a| !a.is_object() || a.to_string().len() > ATTRIBUTES_LEN_MAX)
        {
            return Err(Error::invalid(
                "`attributes` must be a JSON object of at most 16 KiB",
            ));
        }
        if req
            .shelf_life_days
            .is_some_and(|d| d == 0 || d > SHELF_LIFE_DAYS_MAX)
        {
            return Err(Error::invalid("`shelf_life_days` must be 1 to 36500"));
        }
        let product = Product {
            gtin: format!("{gtin:014}"),
            name: req.name.trim().to_string(),
            product_group: req.product_group,
            brand: req.brand,
            shelf_life_days: req.shelf_life_days,
            max_retail_price: req.max_retail_price,
            attributes: req.attributes,
            owner: actor.id,
        };
        let actor_id = actor.id;
        let p = product.clone();
        let reg = self.clone();
        self.write(move |tx| {
            reg.refuse_if_suspended(tx, actor_id)?;
            // A prefix granted in this batch, before this job, is another's too.
            if reg
                .prefix_holder_in(tx, &digits[1..])
                .is_some_and(|h| h != actor_id)
            {
                return Err(Error::Forbidden(format!(
                    "GTIN {digits} is within another participant's GS1 company prefix"
                )));
            }
            if let Some(existing) = tx.product(gtin)? {
                if existing.owner != actor_id {
                    return Err(Error::Conflict(format!(
                        "GTIN {gtin:014} belongs to another participant"
                    )));
                }
                if existing.product_group != p.product_group {
                    return Err(Error::Conflict("a product's group cannot change".into()));
                }
            }
            let leaf = serde_json::json!({"gtin": p.gtin, "request": signed.leaf_json()});
            tx.put_product(p);
            tx.append_log(log::LeafKind::Product, actor_id, &leaf);
            Ok(())
        })?;
        self.inner.products.write().insert(gtin, product.clone());
        Ok(product)
    }

    /// A product card.
    pub fn product(&self, gtin: u64) -> Result<Option<Product>> {
        if let Some(p) = self.inner.products.read().get(&gtin) {
            return Ok(Some(p.clone()));
        }
        let Some(p) = self.inner.store.product(gtin)? else {
            return Ok(None);
        };
        Ok(Some(
            self.inner.products.write().entry(gtin).or_insert(p).clone(),
        ))
    }

    // ---- documents ----

    /// Submits a signed document (the server has checked the signature over `body`).
    ///
    /// The body is read and its codes parsed here, in the caller's thread; only the checks
    /// against the registry's state run in the writer.
    pub fn submit_document(
        &self,
        actor: &Participant,
        body: Vec<u8>,
        request: model::SignedRequest,
    ) -> Result<DocAnswer> {
        let mut doc = documents::prepare_submitted(body, request)?;
        self.prefetch(&mut doc);
        let reg = self.clone();
        let actor = actor.clone();
        self.write(move |tx| reg.run_document(tx, &actor, doc))
    }

    /// Submits a document without waiting: `done` gets the answer once it is durable. A
    /// body that is not a document is refused at once (`Err`), without reaching the writer.
    pub fn submit_document_then(
        &self,
        actor: &Participant,
        body: Vec<u8>,
        request: model::SignedRequest,
        done: impl FnOnce(Result<DocAnswer>) + Send + 'static,
    ) -> Result<()> {
        let mut doc = documents::prepare_submitted(body, request)?;
        self.prefetch(&mut doc);
        let reg = self.clone();
        let actor = actor.clone();
        self.write_then(move |tx| reg.run_document(tx, &actor, doc), done)
    }

    /// Reads the states of a document's listed codes on the calling thread, in one sorted
    /// multi-get (ranged codes derived), for the writer to take if still good
    /// ([`tx::Tx::prefetched`]): the look-ups that limit ingest when the writer's cache
    /// does not hold the codes then run beside the writer, on the threads that parse. A
    /// failed read is left to the writer.
    fn prefetch(&self, doc: &mut documents::Prepared) {
        doc.prefetched = self.read_ahead(doc.raw.listed_keys());
    }

    /// The states of `keys` (sorted and deduplicated here) read on the calling thread in
    /// one multi-get, with the cache epoch read before them ([`tx::Tx::prefetched`]);
    /// `None` without a state cache (nothing to read ahead for), for no keys, or for a
    /// failed read (left to the writer).
    pub(crate) fn read_ahead(&self, mut keys: Vec<CodeKey>) -> Option<tx::Prefetched> {
        if self.inner.state_cache == 0 || keys.is_empty() {
            return None;
        }
        keys.sort_unstable();
        keys.dedup();
        let epoch = self
            .inner
            .cache_epoch
            .load(std::sync::atomic::Ordering::SeqCst);
        let states = self.inner.ranges.states(&*self.inner.store, &keys).ok()?;
        Some(tx::Prefetched {
            epoch,
            keys,
            states,
        })
    }

    /// Refuses (401) a change by a participant suspended as the writer sees it now: this
    /// batch's changes, then the participants it committed (remembered in the writer before
    /// its next batch, so no store read). A suspension committed after a request was
    /// authenticated, or earlier in the same batch, refuses it: the server's check of the
    /// caller alone races with it. (The simulator found sales of a participant suspended
    /// between its sign-in and its document going through.) Every job a participant's
    /// request runs calls it first.
    fn refuse_if_suspended(&self, tx: &Tx<'_, dyn Store>, id: ParticipantId) -> Result<()> {
        let pending = tx.pending_participants().iter().rev().find(|p| p.id == id);
        let suspended = match pending {
            Some(p) => p.suspended.is_some(),
            None => {
                // The guard is dropped before the store read below, which may fill the map.
                let cached = self
                    .inner
                    .participants
                    .read()
                    .get(&id)
                    .map(|p| p.suspended.is_some());
                match cached {
                    Some(s) => s,
                    None => self.participant(id)?.is_some_and(|p| p.suspended.is_some()),
                }
            }
        };
        if suspended {
            return Err(Error::Unauthorized(
                "the participant is suspended; ask the operator".into(),
            ));
        }
        Ok(())
    }

    fn run_document(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        actor: &Participant,
        doc: documents::Prepared,
    ) -> Result<DocAnswer> {
        self.refuse_if_suspended(tx, actor.id)?;
        self.run_prepared(tx, actor, doc)
    }

    /// Whether a presented tail is the one the registry issued for a code ([`tail_ok`]).
    pub(crate) fn tail_ok(&self, st: &CodeState, t: &PresentedTail) -> bool {
        tail_ok(st, t)
    }

    /// A stored document: its submitter, its receiver (ship) and regulators may read it.
    /// The body comes as stored, crypto tails and all: answer it through
    /// [`Registry::document_view`] unless the reader may see the tails.
    pub fn document(&self, actor: &Participant, id: &uuid::Uuid) -> Result<model::StoredDocument> {
        Ok(self.document_reader(actor, id)?.0)
    }

    /// A stored document and whether `actor` may see its crypto tails (its author, or the
    /// receiver of a `ship`); regulators read it, others get 404.
    fn document_reader(
        &self,
        actor: &Participant,
        id: &uuid::Uuid,
    ) -> Result<(model::StoredDocument, bool)> {
        let d = self
            .inner
            .store
            .document(id)?
            .ok_or_else(|| Error::NotFound(format!("no document {id}")))?;
        let receiver_ok = d.doc_type == model::DocType::Ship
            && documents::stored_body(&d.body)
                .ok()
                .and_then(|r| r.receiver)
                .is_some_and(|t| t == actor.tin);
        let holder = d.participant == actor.id || receiver_ok;
        if !holder && !actor.has(Role::Regulator) {
            return Err(Error::NotFound(format!("no document {id}")));
        }
        Ok((d, holder))
    }

    /// A stored document as `actor` may read it: with its crypto tails only for its author
    /// (and a shipment's receiver) in a signed request (`signed`); for everyone else who
    /// may read it (a regulator; the author with a bearer token alone) every code in the
    /// body without its tail, and why. The stored bytes never change.
    pub fn document_view(
        &self,
        actor: &Participant,
        id: &uuid::Uuid,
        signed: bool,
    ) -> Result<DocumentView> {
        let (doc, holder) = self.document_reader(actor, id)?;
        if holder && signed {
            return Ok(DocumentView {
                doc,
                redacted: None,
            });
        }
        let redacted = redact::redact_body(&doc.body).map(|r| Redaction {
            why: if holder {
                "a token alone never reveals a crypto tail: sign this GET (RFC 9421, as for \
                 POSTs, with the Content-Digest of the empty body) to read the codes with their \
                 tails"
            } else {
                "crypto tails are shown only to the document's author (and a shipment's \
                 receiver), in a signed request: every code is shown by its identification code"
            },
            body: r.body,
            codes: r.codes,
        });
        Ok(DocumentView { doc, redacted })
    }

    /// Whether a log leaf would reveal a crypto tail to a reader other than its author:
    /// it holds one (a block of scanned codes), or it names by its hash a document body
    /// whose few short tails a search of the hash finds
    /// ([`redact::SHORT_TAILS_GUESSABLE_MAX`]).
    pub fn leaf_reveals_tails(&self, leaf: &log::Leaf) -> Result<bool> {
        if log::holds_tails(leaf) {
            return Ok(true);
        }
        if leaf.kind != log::LeafKind::Document {
            return Ok(false);
        }
        let Some(id) = leaf.payload["id"]
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
        else {
            return Ok(false);
        };
        let Some(d) = self.inner.store.document(&id)? else {
            return Ok(false);
        };
        let n = redact::short_tails(&d.body);
        Ok(n > 0 && n <= redact::SHORT_TAILS_GUESSABLE_MAX)
    }

    // ---- blocks ----

    /// A regulator blocks a GTIN, a batch or single codes.
    pub fn create_block(&self, actor: &Participant, req: NewBlock) -> Result<Block> {
        self.create_block_signed(actor, req, model::Signed::default())
    }

    /// A regulator blocks goods, the signed request kept in the log.
    pub fn create_block_signed(
        &self,
        actor: &Participant,
        req: NewBlock,
        signed: model::Signed,
    ) -> Result<Block> {
        if !actor.has(Role::Regulator) {
            return Err(Error::Forbidden("only regulators block goods".into()));
        }
        if req.reason.trim().is_empty() || req.reason.len() > REASON_LEN_MAX {
            return Err(Error::invalid("`reason` must be 1 to 1024 bytes"));
        }
        let gtin = req.gtin.as_deref().map(parse_gtin).transpose()?;
        if req.batch.is_some() && gtin.is_none() {
            return Err(Error::invalid("a `batch` block needs its `gtin`"));
        }
        if req
            .batch
            .as_ref()
            .is_some_and(|b| b.is_empty() || b.len() > BATCH_LEN_MAX)
        {
            return Err(Error::invalid("`batch` must be 1 to 20 characters"));
        }
        let codes = req.codes.clone().unwrap_or_default();
        if gtin.is_none() && codes.is_empty() {
            return Err(Error::invalid(
                "a block names a `gtin` (with an optional `batch`) or `codes`",
            ));
        }
        if gtin.is_some() && !codes.is_empty() {
            return Err(Error::invalid(
                "a block names either a `gtin` or `codes`, not both",
            ));
        }
        if codes.len() > documents::DOC_CODES_MAX {
            return Err(Error::TooLarge(format!(
                "at most {} codes per block",
                documents::DOC_CODES_MAX
            )));
        }
        let mut errors = Vec::new();
        let mut keys = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for c in &codes {
            match codes::parse_code(c) {
                Ok(p) if !seen.insert(p.key) => errors.push(CodeError {
                    code: c.clone(),
                    reason: "duplicate_in_document",
                }),
                Ok(p) => keys.push(p.key),
                Err((r, _)) => errors.push(CodeError {
                    code: c.clone(),
                    reason: r,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid {
                detail: "bad codes; nothing was blocked".into(),
                errors,
            });
        }
        let actor_id = actor.id;
        let reg = self.clone();
        let block = self.write(move |tx| {
            reg.refuse_if_suspended(tx, actor_id)?;
            tx.load(&keys)?;
            let mut errors = Vec::new();
            let mut states = Vec::new();
            for (k, text) in keys.iter().zip(&codes) {
                match tx.code(k)? {
                    Some(st) => states.push((*k, st)),
                    None => errors.push(CodeError {
                        code: text.clone(),
                        reason: "unknown_code",
                    }),
                }
            }
            if !errors.is_empty() {
                return Err(Error::Invalid {
                    detail: "unknown codes; nothing was blocked".into(),
                    errors,
                });
            }
            let id = tx.state.next_block;
            tx.state.next_block += 1;
            let mut all = Vec::new();
            for (k, _) in &states {
                all.push(*k);
                tx.descendants(k, &mut all)?;
            }
            // A code named and also held by a named package is blocked once.
            let mut seen = std::collections::HashSet::with_capacity(all.len());
            all.retain(|k| seen.insert(*k));
            tx.load(&all)?;
            for k in &all {
                if let Some(mut st) = tx.code(k)? {
                    st.blocks = st.blocks.saturating_add(1);
                    tx.put_code(*k, st);
                    tx.put_block_code(id, *k);
                }
            }
            let b = Block {
                id,
                gtin: gtin.map(|g| format!("{g:014}")),
                batch: req.batch,
                codes: all.len() as u64,
                reason: req.reason,
                participant: actor_id,
                created_at: tx.now,
                lifted_at: None,
            };
            tx.put_block(b.clone());
            tx.record(&feed::Fact::Block(feed::BlockFact {
                id,
                lifted: false,
                at: tx.now,
                actor: actor_id,
            }));
            tx.append_log(
                log::LeafKind::Block,
                actor_id,
                &serde_json::json!({"block_id": id, "codes": b.codes, "request": signed.leaf_json()}),
            );
            Ok(b)
        })?;
        self.inner.blocks.write().add(&block);
        Ok(block)
    }

    /// A regulator lifts a block.
    pub fn lift_block(&self, actor: &Participant, id: u64) -> Result<Block> {
        self.lift_block_signed(actor, id, model::Signed::default())
    }

    /// A regulator lifts a block, the signed request kept in the log.
    pub fn lift_block_signed(
        &self,
        actor: &Participant,
        id: u64,
        signed: model::Signed,
    ) -> Result<Block> {
        let actor_id = actor.id;
        if !actor.has(Role::Regulator) {
            return Err(Error::Forbidden("only regulators lift blocks".into()));
        }
        let reg = self.clone();
        let block = self.write(move |tx| {
            reg.refuse_if_suspended(tx, actor_id)?;
            // Checked in the writer: a lift earlier in the same batch is not in the store yet.
            let b = tx
                .block(id)?
                .ok_or_else(|| Error::NotFound(format!("no block {id}")))?;
            if b.lifted_at.is_some() {
                return Err(Error::Conflict(format!("block {id} was lifted already")));
            }
            let codes = tx.store().block_codes(id)?;
            tx.load(&codes)?;
            for k in &codes {
                if let Some(mut st) = tx.code(k)? {
                    st.blocks = st.blocks.saturating_sub(1);
                    tx.put_code(*k, st);
                }
            }
            let mut b = b;
            b.lifted_at = Some(tx.now);
            tx.put_block(b.clone());
            tx.record(&feed::Fact::Block(feed::BlockFact {
                id,
                lifted: true,
                at: tx.now,
                actor: actor_id,
            }));
            tx.append_log(
                log::LeafKind::Lift,
                actor_id,
                &serde_json::json!({"block_id": id, "request": signed.leaf_json()}),
            );
            Ok(b)
        })?;
        self.inner.blocks.write().remove(&block);
        Ok(block)
    }

    /// A regulator acknowledges a risk alert (the risk engine, following the feed, marks
    /// it); the signed request is kept in the log. Whether the alert exists is the caller's
    /// to check: the registry does not keep alerts.
    pub fn ack_alert(
        &self,
        actor: &Participant,
        alert: u64,
        note: &str,
        signed: model::Signed,
    ) -> Result<()> {
        if !actor.has(Role::Regulator) {
            return Err(Error::Forbidden(
                "only regulators acknowledge alerts".into(),
            ));
        }
        let note: String = note.chars().take(ACK_NOTE_CHARS_MAX).collect();
        let by = actor.id;
        let reg = self.clone();
        self.write(move |tx| {
            reg.refuse_if_suspended(tx, by)?;
            tx.append_log(
                log::LeafKind::AlertAck,
                by,
                &serde_json::json!({"alert": alert, "note": note, "request": signed.leaf_json()}),
            );
            tx.record(&feed::Fact::Ack(feed::AckFact { alert, by, note }));
            Ok(())
        })
    }

    /// All blocks.
    pub fn blocks(&self) -> Result<Vec<Block>> {
        Ok(self.inner.store.blocks()?)
    }

    /// The published keys for offline checks of signature tails.
    pub fn public_keys(&self) -> issuance::PublicKeySet {
        self.inner.keyring.read().public_keys()
    }

    // ---- transparency log ----

    /// Leaves in the committed log.
    pub fn log_size(&self) -> Result<u64> {
        Ok(self.inner.store.counter("log_size")?)
    }

    /// The tree hash of the first `size` leaves (`size` ≤ the committed size).
    pub fn log_root(&self, size: u64) -> Result<tlog::Hash> {
        self.log_size_ok(size)?;
        tlog::tree_hash(size, &store::LogReader(&*self.inner.store)).map_err(log_error)
    }

    fn log_size_ok(&self, size: u64) -> Result<()> {
        let n = self.log_size()?;
        if size > n {
            return Err(Error::invalid(format!(
                "the log has {n} leaves; {size} is beyond it"
            )));
        }
        Ok(())
    }

    /// The signed requests of the changes made since `since` (Unix seconds), oldest first:
    /// `(participant, at, Signature-Input)`. On a start, the server remembers their nonces
    /// again, so a request signed just before a restart cannot be replayed after it.
    pub fn recent_signed(&self, since: u64) -> Result<Vec<(ParticipantId, u64, String)>> {
        let mut out = Vec::new();
        let mut i = self.log_size()?;
        while i > 0 {
            i -= 1;
            let Some(leaf) = self.inner.store.log_leaf(i)?.and_then(|b| log::decode(&b)) else {
                continue;
            };
            if leaf.at < since {
                break;
            }
            if let Some(input) = leaf.payload["request"]["signature_input"].as_str() {
                out.push((leaf.actor, leaf.at, input.to_string()));
            }
        }
        out.reverse();
        Ok(out)
    }

    /// A leaf's bytes.
    pub fn log_leaf(&self, index: u64) -> Result<Vec<u8>> {
        self.inner
            .store
            .log_leaf(index)?
            .ok_or_else(|| Error::NotFound(format!("no log entry {index}")))
    }

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn log_inclusion(&self, index: u64, size: u64) -> Result<Vec<tlog::Hash>> {
        self.log_size_ok(size)?;
        if index >= size {
            return Err(Error::invalid(format!(
                "index {index} is not below size {size}"
            )));
        }
        tlog::inclusion_proof(index, size, &store::LogReader(&*self.inner.store)).map_err(log_error)
    }

    /// The RFC 9162 consistency proof from the tree of `from` leaves to that of `to`.
    pub fn log_consistency(&self, from: u64, to: u64) -> Result<Vec<tlog::Hash>> {
        self.log_size_ok(to)?;
        if from > to {
            return Err(Error::invalid(format!("from {from} is after to {to}")));
        }
        tlog::consistency_proof(from, to, &store::LogReader(&*self.inner.store)).map_err(log_error)
    }

    /// Number of accepted documents and the head of the hash chain.
    pub fn log_head(&self) -> Result<(u64, [u8; 32])> {
        let st = WriterState::load(&*self.inner.store)?;
        Ok((st.next_seq - 1, st.chain))
    }
}

/// Wakes the writer for the facts reads noted (`Registry::note`), at most every
/// [`FACTS_WAKE_EVERY`]: the writer drains them with every batch, and an empty job makes
/// one. Nobody waits for these facts, so under a load of reads they go in a few commits a
/// second, not in one commit after another (on a network engine each commit is a durable
/// transaction, taken from the reads' share of the cores); a document's batch takes the
/// facts noted before it first in any case. Parked while no fact waits; ends within a
/// second of the registry's end.
fn wake_for_facts(inner: std::sync::Weak<Inner>) {
    let mut last: Option<std::time::Instant> = None;
    loop {
        let Some(i) = inner.upgrade() else { return };
        if i.facts.is_empty() {
            drop(i);
            std::thread::park_timeout(std::time::Duration::from_secs(1));
            continue;
        }
        if let Some(wait) = last.and_then(|l| FACTS_WAKE_EVERY.checked_sub(l.elapsed())) {
            drop(i);
            std::thread::sleep(wait);
            continue;
        }
        let job: Job<dyn Store> = Box::new(|_| {
            let c: Completion = Box::new(|_| {});
            c
        });
        // When the queue is full the writer is busy and drains the facts anyway.
        let _ = i.jobs.try_send(job);
        last = Some(std::time::Instant::now());
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.emitter.stop();
    }
}

fn job_of<T: Send + 'static>(
    f: impl for<'a> FnOnce(&mut Tx<'a, dyn Store>) -> Result<T> + Send + 'static,
    done: impl FnOnce(Result<T>) + Send + 'static,
) -> Job<dyn Store> {
    Box::new(move |tx| {
        let r = f(tx);
        let c: Completion = Box::new(move |commit| match commit {
            Ok(()) => done(r),
            Err(e) => done(Err(Error::from_store(e))),
        });
        c
    })
}

fn log_error(e: tlog::Error) -> Error {
    Error::Unavailable(format!("transparency log: {e}"))
}

/// Parses a GTIN of 8, 12, 13 or 14 digits with its check digit into its 14-digit value.
pub fn parse_gtin(text: &str) -> Result<u64> {
    let t = text.trim();
    gs1::Gtin::parse(t)
        .map(gs1::Gtin::as_u64)
        .map_err(|e| Error::Invalid {
            detail: format!("GTIN {t:?}: {e}"),
            errors: vec![CodeError {
                code: t.to_string(),
                reason: e.reason(),
            }],
        })
}

fn valid_prefixes(prefixes: &[String]) -> Result<Vec<String>> {
    if prefixes.len() > PREFIXES_PER_REQUEST_MAX {
        return Err(Error::TooLarge(format!(
            "at most {PREFIXES_PER_REQUEST_MAX} GS1 company prefixes at a time"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for x in prefixes {
        let x = x.trim();
        if !(PREFIX_LEN_MIN..=PREFIX_LEN_MAX).contains(&x.len())
            || !x.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::invalid(format!(
                "GS1 company prefix {x:?} must be {PREFIX_LEN_MIN} to {PREFIX_LEN_MAX} digits"
            )));
        }
        if out
            .iter()
            .any(|o| o.starts_with(x) || x.starts_with(o.as_str()))
        {
            return Err(Error::invalid(format!(
                "GS1 company prefix {x} overlaps another listed"
            )));
        }
        out.push(x.to_string());
    }
    Ok(out)
}

/// Product cards whose GTIN lies within a GS1 company prefix: the prefix follows the
/// indicator digit, so it spans ten ranges of GTINs.
fn products_in_prefix(store: &dyn Store, prefix: &str, limit: usize) -> Result<Vec<Product>> {
    let Ok(p) = prefix.parse::<u64>() else {
        return Ok(Vec::new());
    };
    let span = 10u64.pow(13u32.saturating_sub(prefix.len() as u32));
    let mut out = Vec::new();
    for indicator in 0..10u64 {
        let lo = indicator * 10u64.pow(13) + p * span;
        out.extend(store.products_between(lo, lo + span - 1, limit)?);
    }
    Ok(out)
}

fn parse_public_key(b64: &str) -> Result<[u8; 32]> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .filter(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_ok())
        .ok_or_else(|| {
            Error::invalid("`public_key` must be a base64 Ed25519 public key of 32 bytes")
        })
}

fn participant_leaf(p: &Participant) -> serde_json::Value {
    use base64::Engine;
    serde_json::json!({
        "id": p.id, "tin": p.tin, "name": p.name, "roles": p.roles, "region": p.region,
        "public_key": base64::engine::general_purpose::STANDARD.encode(p.public_key),
        "gs1_prefixes": p.gs1_prefixes,
    })
}

fn valid_region(r: &str) -> bool {
    let b = r.as_bytes();
    b.len() >= 4
        && b.len() <= 6
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_uppercase()
        && b[2] == b'-'
        && b[3..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Looks codes up for a caller that may see them.
pub(crate) fn visible(actor: &Participant, st: &CodeState) -> bool {
    actor.has(Role::Regulator)
        || st.owner == actor.id
        || st.producer == actor.id
        || (st.in_transit() && st.receiver == actor.id)
}

/// Whether a presented tail is the one the registry issued for the code whose state is
/// `st` (no tail presented: nothing to refute), over the stored fingerprint: one hash, even
/// for an Ed25519 tail. The writer's rules and the audit's replay both judge tails by it.
pub fn tail_ok(st: &CodeState, t: &PresentedTail) -> bool {
    let fp = match (t, st.tail) {
        (PresentedTail::None, _) => return true,
        (PresentedTail::Long { kid, value }, TailKind::Mac | TailKind::Signature) => {
            if kid.parse::<u16>().ok() != Some(st.key_index) {
                return false;
            }
            issuance::tail_fingerprint(value)
        }
        (PresentedTail::Short(v), TailKind::Short) => issuance::tail_fingerprint(v),
        _ => return false,
    };
    st.tail_fp != 0 && fp == st.tail_fp
}

/// A parsed code key, for callers outside (tests, bench).
pub fn code_key(text: &str) -> Result<CodeKey> {
    codes::parse_code(text)
        .map(|p| p.key)
        .map_err(|(r, d)| Error::Invalid {
            detail: d,
            errors: vec![CodeError {
                code: text.into(),
                reason: r,
            }],
        })
}
