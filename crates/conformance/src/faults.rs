//! A storage engine that fails on purpose, for tests and the simulator: any engine,
//! wrapped, with faults a test switches on and off ([`Faults`]). Every call it does not
//! fail is the wrapped engine's (default methods included, so the engine's own answers
//! are what the registry sees).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use store::{DiskSpace, EngineGauge, Store, StoreError, StoreErrorKind, StoreResult, WriteSet};
use types::model::{
    Block, Bucket, CodeEvent, CodeKey, CodeRange, CodeState, Order, Participant, ParticipantId,
    Product, StoredDocument,
};
use uuid::Uuid;

/// The faults switched on.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Every [`Store::commit`] fails with this kind, writing nothing, until cleared.
    pub commit: Option<StoreErrorKind>,
    /// Reading this package's children fails.
    pub children_of: Option<CodeKey>,
    /// Every read sleeps this long first (a far network engine, a slow disk).
    pub read_delay: Option<std::time::Duration>,
    /// Every read fails (the store cut off).
    pub reads_fail: bool,
    /// Commits tear: the whole set is written, then the first half of its codes' states
    /// put back as they were, and the commit reports success. A store that lies, which no
    /// registry can survive: for proving that the simulator's checks see it.
    pub torn_commits: bool,
    /// Commits land, then report failure: the set is written whole, and the caller hears
    /// `Failed` (a connection cut after `COMMIT` was sent: the outcome unknown to it).
    pub commits_land_then_fail: bool,
    /// Every [`Store::commit_projection`] fails with this kind, writing nothing.
    pub projection_commit: Option<StoreErrorKind>,
}

/// An engine with [`Faults`].
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: parking_lot::Mutex<Faults>,
    /// Commits that reached the wrapped engine and succeeded.
    pub commits: AtomicU64,
    /// Calls of [`Store::commit`], failed ones included.
    pub commit_attempts: AtomicU64,
}

impl FaultyStore {
    /// Wraps `inner`, no fault on.
    pub fn new(inner: Arc<dyn Store>) -> FaultyStore {
        FaultyStore {
            inner,
            faults: parking_lot::Mutex::default(),
            commits: AtomicU64::new(0),
            commit_attempts: AtomicU64::new(0),
        }
    }

    /// Changes the faults.
    pub fn faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.faults.lock());
    }

    /// What every read goes through: [`Faults::read_delay`], [`Faults::reads_fail`].
    fn read(&self) -> StoreResult<()> {
        let (delay, fail) = {
            let f = self.faults.lock();
            (f.read_delay, f.reads_fail)
        };
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        if fail {
            return Err(StoreError::new("injected: the store is cut off"));
        }
        Ok(())
    }
}

impl Store for FaultyStore {
    fn participant(&self, id: ParticipantId) -> StoreResult<Option<Participant>> {
        self.read()?;
        self.inner.participant(id)
    }
    fn participant_by_tin(&self, tin: &str) -> StoreResult<Option<Participant>> {
        self.read()?;
        self.inner.participant_by_tin(tin)
    }
    fn participants(&self) -> StoreResult<Vec<Participant>> {
        self.read()?;
        self.inner.participants()
    }
    fn product(&self, gtin: u64) -> StoreResult<Option<Product>> {
        self.read()?;
        self.inner.product(gtin)
    }
    fn products_between(&self, lo: u64, hi: u64, limit: usize) -> StoreResult<Vec<Product>> {
        self.read()?;
        self.inner.products_between(lo, hi, limit)
    }
    fn codes(&self, keys: &[CodeKey]) -> StoreResult<Vec<Option<CodeState>>> {
        self.read()?;
        self.inner.codes(keys)
    }
    fn events(&self, key: &CodeKey) -> StoreResult<Vec<CodeEvent>> {
        self.read()?;
        self.inner.events(key)
    }
    fn children(&self, parent: &CodeKey) -> StoreResult<Vec<CodeKey>> {
        self.read()?;
        if self.faults.lock().children_of.as_ref() == Some(parent) {
            return Err(StoreError::new(
                "injected: reading a package's children failed",
            ));
        }
        self.inner.children(parent)
    }
    fn document(&self, id: &Uuid) -> StoreResult<Option<StoredDocument>> {
        self.read()?;
        self.inner.document(id)
    }
    fn document_id_by_seq(&self, seq: u64) -> StoreResult<Option<Uuid>> {
        self.read()?;
        self.inner.document_id_by_seq(seq)
    }
    fn shipment_closed_by(&self, ship: &Uuid) -> StoreResult<Option<Uuid>> {
        self.read()?;
        self.inner.shipment_closed_by(ship)
    }
    fn order(&self, id: &Uuid) -> StoreResult<Option<Order>> {
        self.read()?;
        self.inner.order(id)
    }
    fn orders_of(&self, participant: ParticipantId) -> StoreResult<Vec<Order>> {
        self.read()?;
        self.inner.orders_of(participant)
    }
    fn order_serials(&self, id: &Uuid, offset: u32, limit: u32) -> StoreResult<Vec<String>> {
        self.read()?;
        self.inner.order_serials(id, offset, limit)
    }
    fn blocks(&self) -> StoreResult<Vec<Block>> {
        self.read()?;
        self.inner.blocks()
    }
    fn block_codes(&self, block: u64) -> StoreResult<Vec<CodeKey>> {
        self.read()?;
        self.inner.block_codes(block)
    }
    fn inventory(&self, owner: ParticipantId, gtin: u64) -> StoreResult<Vec<(Bucket, i64)>> {
        self.read()?;
        self.inner.inventory(owner, gtin)
    }
    fn counter(&self, name: &str) -> StoreResult<u64> {
        self.read()?;
        self.inner.counter(name)
    }
    fn refusal_count(&self) -> StoreResult<u64> {
        self.read()?;
        self.inner.refusal_count()
    }
    fn log_leaf(&self, index: u64) -> StoreResult<Option<Vec<u8>>> {
        self.read()?;
        self.inner.log_leaf(index)
    }
    fn log_hashes(&self, ids: &[tlog::NodeId]) -> StoreResult<Vec<Option<tlog::Hash>>> {
        self.read()?;
        self.inner.log_hashes(ids)
    }
    fn document_log_index(&self, seq: u64) -> StoreResult<Option<u64>> {
        self.read()?;
        self.inner.document_log_index(seq)
    }
    fn complaints(
        &self,
        start: &Uuid,
        limit: usize,
    ) -> StoreResult<Vec<types::complaints::Complaint>> {
        self.read()?;
        self.inner.complaints(start, limit)
    }
    fn complaint(&self, id: &Uuid) -> StoreResult<Option<types::complaints::Complaint>> {
        self.read()?;
        self.inner.complaint(id)
    }
    fn complaint_photo(&self, id: &Uuid) -> StoreResult<Option<Vec<u8>>> {
        self.read()?;
        self.inner.complaint_photo(id)
    }
    fn feed(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.read()?;
        self.inner.feed(after, limit)
    }
    fn feed_of_kinds(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
        kinds: &[types::feed::FactKind],
    ) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.read()?;
        self.inner.feed_of_kinds(after, upto, limit, kinds)
    }
    fn inbox_put(&self, facts: &[Vec<u8>]) -> StoreResult<usize> {
        self.inner.inbox_put(facts)
    }
    fn inbox_take(&self, limit: usize) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.read()?;
        self.inner.inbox_take(limit)
    }
    fn projection_checkpoint(&self, name: &str) -> StoreResult<u64> {
        self.read()?;
        self.inner.projection_checkpoint(name)
    }
    fn projection_rows(
        &self,
        name: &str,
        start: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.read()?;
        self.inner.projection_rows(name, start, limit)
    }
    fn commit_projection(
        &self,
        name: &str,
        checkpoint: u64,
        rows: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> StoreResult<()> {
        if let Some(kind) = self.faults.lock().projection_commit {
            return Err(StoreError::new(format!(
                "injected: a projection's commit failed ({kind:?})"
            ))
            .of_kind(kind));
        }
        self.inner.commit_projection(name, checkpoint, rows)
    }
    fn commit(&self, set: &WriteSet) -> StoreResult<()> {
        self.commit_attempts.fetch_add(1, Relaxed);
        if let Some(kind) = self.faults.lock().commit {
            return Err(
                StoreError::new(format!("injected: a commit failed ({kind:?})")).of_kind(kind),
            );
        }
        if self.faults.lock().commits_land_then_fail {
            self.inner.commit(set)?;
            self.commits.fetch_add(1, Relaxed);
            return Err(StoreError::new(
                "injected: the commit landed, the answer was lost",
            ));
        }
        let torn = self.faults.lock().torn_commits;
        if torn && set.codes.len() >= 2 {
            let keys: Vec<CodeKey> = set.codes[..set.codes.len() / 2]
                .iter()
                .map(|(k, _)| *k)
                .collect();
            let old = self.inner.codes(&keys)?;
            self.inner.commit(set)?;
            let back = WriteSet {
                codes: keys
                    .into_iter()
                    .zip(old)
                    .filter_map(|(k, st)| st.map(|st| (k, st)))
                    .collect(),
                ..WriteSet::default()
            };
            self.inner.commit(&back)?;
        } else {
            self.inner.commit(set)?;
        }
        self.commits.fetch_add(1, Relaxed);
        Ok(())
    }
    fn code_states_after(
        &self,
        after: Option<&CodeKey>,
        limit: usize,
    ) -> StoreResult<Vec<(CodeKey, CodeState)>> {
        self.read()?;
        self.inner.code_states_after(after, limit)
    }
    fn code_range(
        &self,
        gtin: u64,
        serial_len: u8,
        counter: u64,
    ) -> StoreResult<Option<CodeRange>> {
        self.read()?;
        self.inner.code_range(gtin, serial_len, counter)
    }
    fn code_ranges_after(
        &self,
        after: Option<[u8; 17]>,
        limit: usize,
    ) -> StoreResult<Vec<CodeRange>> {
        self.read()?;
        self.inner.code_ranges_after(after, limit)
    }
    fn inventory_after(
        &self,
        after: Option<(ParticipantId, u64, Bucket)>,
        limit: usize,
    ) -> StoreResult<Vec<(ParticipantId, u64, Bucket, i64)>> {
        self.read()?;
        self.inner.inventory_after(after, limit)
    }
    fn engine_gauges(&self) -> Vec<EngineGauge> {
        self.inner.engine_gauges()
    }
    fn disk_space(&self) -> Option<DiskSpace> {
        self.inner.disk_space()
    }
}
