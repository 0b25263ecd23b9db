//! The single writer and its group commit.
//!
//! Every state change runs as a job on one writer thread, against a [`Tx`]: an overlay of
//! what earlier jobs of the same batch changed over the committed store. The writer takes
//! every job waiting (up to [`BATCH_JOBS_MAX`] / [`BATCH_CODES_MAX`]), runs them one after
//! another, commits the lot as one atomic, durable [`WriteSet`], and only then answers
//! them: one fsync serves the whole batch (group commit), and jobs see each other's
//! changes in order, so they are serialised as if run alone.
//!
//! Jobs follow one discipline: *decide, then apply*. A job reads and checks everything
//! first; only when it will succeed does it write into the `Tx`. A refused job therefore
//! leaves the batch untouched (it may add a refusal record, kept for risk control).

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;
use std::sync::Arc;
use store::{Store, StoreError, StoreResult, WriteSet};
pub use types::limits::{BATCH_CODES_MAX, BATCH_JOBS_MAX};
use types::model::{
    Block, Bucket, CodeEvent, CodeKey, CodeState, DocType, Order, Participant, ParticipantId,
    Product, StoredDocument,
};
use uuid::Uuid;

/// Counters the writer keeps in memory and writes with every commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterState {
    /// Next document sequence number (1-based).
    pub next_seq: u64,
    /// Head of the document hash chain.
    pub chain: [u8; 32],
    /// Next participant id (1-based).
    pub next_participant: u32,
    /// Next block id (1-based).
    pub next_block: u64,
    /// The right edge of the transparency log's tree: its size (the next leaf's index)
    /// and what appending needs, without reading the store.
    pub log: tlog::Frontier,
    /// Next feed sequence number (1-based).
    pub next_feed: u64,
}

impl WriterState {
    /// Loads the counters from the store.
    pub fn load<S: Store + ?Sized>(store: &S) -> StoreResult<WriterState> {
        let mut chain = [0u8; 32];
        for (i, c) in chain.chunks_mut(8).enumerate() {
            c.copy_from_slice(&store.counter(&format!("chain{i}"))?.to_le_bytes());
        }
        Ok(WriterState {
            next_seq: store.counter("doc_seq")?.max(1),
            chain,
            next_participant: u32::try_from(store.counter("participant_id")?.max(1))
                .map_err(StoreError::new)?,
            next_block: store.counter("block_id")?.max(1),
            log: tlog::Frontier::load(store.counter("log_size")?, &store::LogReader(store))
                .map_err(StoreError::new)?,
            next_feed: store.counter("feed_seq")?.max(1),
        })
    }

    fn write(&self, set: &mut WriteSet) {
        set.counters.push(("doc_seq".into(), self.next_seq));
        set.counters
            .push(("participant_id".into(), u64::from(self.next_participant)));
        set.counters.push(("block_id".into(), self.next_block));
        set.counters.push(("log_size".into(), self.log.size()));
        set.counters.push(("feed_seq".into(), self.next_feed));
        for (i, c) in self.chain.chunks(8).enumerate() {
            let v = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            set.counters.push((format!("chain{i}"), v));
        }
    }
}

/// States of a document's codes read before its job reached the writer, on the thread
/// that parsed it ([`crate::Registry`]'s document submission): the store's look-ups (and
/// ranged codes' derivation) then run beside the writer instead of in it.
#[derive(Debug)]
pub struct Prefetched {
    /// The writer's cache epoch read before the states were ([`StateCache::epoch`]).
    pub epoch: u64,
    /// The codes.
    pub keys: Vec<CodeKey>,
    /// Their states as read, one per key.
    pub states: Vec<Option<CodeState>>,
}

/// A code in the overlay: its current state (`None`: unknown) and whether the batch wrote it.
#[derive(Clone, Copy)]
struct Slot {
    state: Option<CodeState>,
    dirty: bool,
    /// Events the code had when the batch read it (for the numbering invariant).
    events_before: u32,
}

impl Slot {
    fn read(state: Option<CodeState>) -> Slot {
        Slot {
            events_before: state.map_or(0, |s| s.events),
            state,
            dirty: false,
        }
    }
}

/// The overlay one batch of jobs runs against.
pub struct Tx<'a, S: Store + ?Sized> {
    store: &'a S,
    cache: Option<&'a StateCache>,
    /// Derives ranged codes' states ([`crate::ranges`]) for codes without one in the store.
    ranges: Option<&'a crate::ranges::Ranges>,
    /// Wall clock of the batch (Unix seconds).
    pub now: u64,
    /// Writer counters (sequence numbers, chain head).
    pub state: WriterState,
    codes: HashMap<CodeKey, Slot>,
    written: usize,
    children: HashMap<CodeKey, BTreeSet<CodeKey>>,
    children_orig: HashMap<CodeKey, Vec<CodeKey>>,
    docs: HashMap<Uuid, StoredDocument>,
    shipments: HashMap<Uuid, Uuid>,
    counters: HashMap<String, u64>,
    inventory: HashMap<(ParticipantId, u64, Bucket), i64>,
    /// Unit changes of the document being applied, for its feed fact (`None`: not
    /// collecting).
    units: Option<Vec<crate::feed::UnitChange>>,
    set: WriteSet,
    /// Code states this overlay read from the store itself, took read ahead, and found read
    /// ahead but stale ([`Tx::prefetched`]).
    pub reads: [u64; 3],
}

impl<'a, S: Store + ?Sized> Tx<'a, S> {
    /// A fresh overlay.
    pub fn new(store: &'a S, now: u64, state: WriterState) -> Self {
        Tx {
            store,
            cache: None,
            ranges: None,
            now,
            state,
            codes: HashMap::default(),
            written: 0,
            children: HashMap::default(),
            children_orig: HashMap::default(),
            docs: HashMap::default(),
            shipments: HashMap::default(),
            counters: HashMap::default(),
            inventory: HashMap::default(),
            units: None,
            set: WriteSet::default(),
            reads: [0; 3],
        }
    }

    /// A fresh overlay that reads code states through the writer's cache first.
    pub fn with_cache(store: &'a S, cache: &'a StateCache, now: u64, state: WriterState) -> Self {
        let mut tx = Tx::new(store, now, state);
        tx.cache = Some(cache);
        tx
    }

    /// Reads codes without a state of their own from their ranges ([`crate::ranges`]), as
    /// the registry does; without it a ranged code reads as unknown.
    pub fn with_ranges(mut self, ranges: &'a crate::ranges::Ranges) -> Self {
        self.ranges = Some(ranges);
        self
    }

    /// The committed store under the overlay (for data no job of a batch changes).
    pub fn store(&self) -> &S {
        self.store
    }

    /// Makes room for `n` more codes (a job that writes many, such as an order's chunk).
    pub fn reserve(&mut self, n: usize) {
        self.codes.reserve(n);
    }

    /// Number of code states written so far in this batch.
    pub fn codes_written(&self) -> usize {
        self.written
    }

    /// Loads the states of `keys` into the overlay with one multi-get for those not yet seen.
    pub fn load(&mut self, keys: &[CodeKey]) -> StoreResult<()> {
        let mut missing: Vec<CodeKey> = Vec::new();
        for k in keys {
            if self.codes.contains_key(k) {
                continue;
            }
            match self.cache.and_then(|c| c.get(k)) {
                Some(st) => {
                    self.codes.insert(*k, Slot::read(Some(st)));
                }
                None => missing.push(*k),
            }
        }
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        self.reads[0] += missing.len() as u64;
        let states = self.committed(&missing)?;
        for (k, s) in missing.into_iter().zip(states) {
            self.codes.insert(k, Slot::read(s));
        }
        Ok(())
    }

    /// The states of `keys` under the overlay: the store's, then those derived from their
    /// ranges (this batch's included) for codes without one.
    fn committed(&self, keys: &[CodeKey]) -> StoreResult<Vec<Option<CodeState>>> {
        let mut states = self.store.codes(keys)?;
        if let Some(r) = self.ranges {
            r.fill(self.store, &self.set.ranges, keys, &mut states)?;
        }
        Ok(states)
    }

    /// Takes states read ahead of the job ([`Prefetched`]) into the overlay, when they
    /// are still good: only if the writer's cache has forgotten nothing since they were
    /// read (its epoch stands where it stood), so that every state committed since is in
    /// the cache, which comes first. A code of the overlay or the cache keeps what it has
    /// there; otherwise its committed state is what was read. Ignored without a cache.
    pub fn prefetched(&mut self, p: Prefetched) {
        let Some(cache) = self.cache.filter(|c| c.enabled() && c.epoch() == p.epoch) else {
            self.reads[2] += p.keys.len() as u64;
            return;
        };
        for (k, st) in p.keys.into_iter().zip(p.states) {
            if self.codes.contains_key(&k) || cache.get(&k).is_some() {
                continue;
            }
            self.reads[1] += 1;
            self.codes.insert(k, Slot::read(st));
        }
    }

    /// The current states of `keys` (overlay, then cache, then store and ranges) without
    /// keeping what it read in the overlay.
    pub fn peek(&self, keys: &[CodeKey]) -> StoreResult<Vec<Option<CodeState>>> {
        let mut out: Vec<Option<CodeState>> = Vec::with_capacity(keys.len());
        let mut missing: Vec<(usize, CodeKey)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            match self.codes.get(k) {
                Some(s) => out.push(s.state),
                None => {
                    out.push(self.cache.and_then(|c| c.get(k)));
                    if out[i].is_none() {
                        missing.push((i, *k));
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let mk: Vec<CodeKey> = missing.iter().map(|m| m.1).collect();
        let states = self.committed(&mk)?;
        for ((i, _), s) in missing.into_iter().zip(states) {
            out[i] = s;
        }
        Ok(out)
    }

    /// The current state of a code (overlay, then store).
    pub fn code(&mut self, key: &CodeKey) -> StoreResult<Option<CodeState>> {
        if let Some(s) = self.codes.get(key) {
            return Ok(s.state);
        }
        self.load(std::slice::from_ref(key))?;
        Ok(self.codes.get(key).and_then(|s| s.state))
    }

    /// Writes a code's new state, keeping the inventory counters in step.
    ///
    /// The code must have been read through the overlay first ([`Tx::code`], [`Tx::load`]):
    /// the counters move from its old state.
    pub fn put_code(&mut self, key: CodeKey, new: CodeState) {
        debug_assert!(
            self.codes.contains_key(&key),
            "put_code of {key} not read first"
        );
        self.put(key, new);
    }

    /// Writes the state of a code known not to exist yet (operator serials are unique by
    /// construction), without reading it first.
    pub fn put_new_code(&mut self, key: CodeKey, new: CodeState) {
        debug_assert!(
            self.codes.get(&key).is_none_or(|s| s.state.is_none()),
            "{key} exists"
        );
        self.put(key, new);
    }

    fn put(&mut self, key: CodeKey, new: CodeState) {
        let slot = self.codes.entry(key).or_insert(Slot::read(None));
        let old = slot.state.replace(new);
        if !slot.dirty {
            slot.dirty = true;
            self.written += 1;
        }
        if let (Some(units), Some(_)) = (&mut self.units, key.gtin()) {
            // Units only: a package's contents are listed themselves.
            let (before, after) = (
                crate::feed::Brief::of(old.as_ref()),
                crate::feed::Brief::of(Some(&new)),
            );
            if new.children == 0 && before != after {
                units.push(crate::feed::UnitChange {
                    key: crate::feed::FactKey(key),
                    before,
                    after,
                });
            }
        }
        if let Some(gtin) = key.gtin() {
            if let Some(o) = &old {
                for (p, b) in buckets(o) {
                    *self.inventory.entry((p, gtin, b)).or_default() -= 1;
                }
            }
            for (p, b) in buckets(&new) {
                *self.inventory.entry((p, gtin, b)).or_default() += 1;
            }
        }
    }

    /// Records a range of emitted codes ([`crate::ranges`]): one record, and the inventory
    /// counters of its codes' state. Its codes must be new (operator serials are unique by
    /// construction); the overlay does not hold them (a later job of the batch reads them
    /// from the range only after the commit, so a range is the last thing its job writes of
    /// them).
    pub fn put_range(&mut self, range: types::model::CodeRange) {
        let st = range.state();
        for (p, b) in buckets(&st) {
            *self.inventory.entry((p, range.gtin, b)).or_default() += i64::from(range.count);
        }
        self.set.ranges.push(range);
    }

    /// Writes a code's new state and appends an event to its history.
    pub fn transition(
        &mut self,
        key: CodeKey,
        mut new: CodeState,
        doc_seq: u64,
        doc_type: DocType,
        actor: ParticipantId,
    ) {
        let seq = new.events;
        let prev = new.last_event;
        new.events += 1;
        new.last_event = doc_seq;
        self.set.events.push((
            key,
            seq,
            CodeEvent {
                doc_seq,
                at: self.now,
                doc_type,
                status: new.status,
                reason: new.reason,
                owner: new.owner,
                actor,
                prev,
            },
        ));
        self.put_code(key, new);
    }

    /// A package's direct children (overlay, then store).
    pub fn children(&mut self, parent: &CodeKey) -> StoreResult<Vec<CodeKey>> {
        Ok(self.children_of(parent)?.iter().copied().collect())
    }

    /// A package's direct children in the overlay, loaded from the store once.
    fn children_of(&mut self, parent: &CodeKey) -> StoreResult<&mut BTreeSet<CodeKey>> {
        if !self.children.contains_key(parent) {
            let c = self.store.children(parent)?;
            self.children.insert(*parent, c.iter().copied().collect());
            self.children_orig.insert(*parent, c);
        }
        Ok(self.children.entry(*parent).or_default())
    }

    /// Every code inside `root`, depth first, without `root` itself.
    pub fn descendants(&mut self, root: &CodeKey, out: &mut Vec<CodeKey>) -> StoreResult<()> {
        let mut stack = vec![*root];
        while let Some(p) = stack.pop() {
            let has_children = self.code(&p)?.is_some_and(|s| s.children > 0);
            if !has_children {
                continue;
            }
            for c in self.children(&p)? {
                out.push(c);
                stack.push(c);
            }
        }
        Ok(())
    }

    /// Links `child` into `parent`'s list (states are the caller's to update).
    pub fn link(&mut self, parent: CodeKey, child: CodeKey) -> StoreResult<()> {
        self.children_of(&parent)?.insert(child);
        Ok(())
    }

    /// Unlinks `child` from `parent`'s list (states are the caller's to update).
    pub fn unlink(&mut self, parent: CodeKey, child: CodeKey) -> StoreResult<()> {
        self.children_of(&parent)?.remove(&child);
        Ok(())
    }

    /// A document by id (this batch, then store).
    pub fn document(&self, id: &Uuid) -> StoreResult<Option<StoredDocument>> {
        if let Some(d) = self.docs.get(id) {
            return Ok(Some(d.clone()));
        }
        self.store.document(id)
    }

    /// Allocates the next document sequence number.
    pub fn next_seq(&mut self) -> u64 {
        let s = self.state.next_seq;
        self.state.next_seq += 1;
        s
    }

    /// Records an accepted document, chaining it into the tamper-evident log.
    pub fn put_document(&mut self, mut doc: StoredDocument) -> StoredDocument {
        let mut h = blake3::Hasher::new();
        h.update(&self.state.chain);
        h.update(&doc.seq.to_le_bytes());
        h.update(&doc.body_hash);
        h.update(doc.signature.as_bytes());
        doc.chain = *h.finalize().as_bytes();
        let leaf = serde_json::json!({
            "id": doc.id, "seq": doc.seq, "type": doc.doc_type.name(), "codes": doc.codes,
            "chain": types::log::hex(&doc.chain),
            // BLAKE3 of the body, computed when it was read (not in the writer).
            "body_blake3": types::log::hex(&doc.body_hash),
            "request": doc.request.to_json(None),
        });
        doc.log_index =
            Some(self.append_log(types::log::LeafKind::Document, doc.participant, &leaf));
        self.state.chain = doc.chain;
        self.docs.insert(doc.id, doc.clone());
        self.set.documents.push(doc.clone());
        doc
    }

    /// The accept document that closed a shipment (this batch, then store).
    pub fn shipment_closed_by(&self, ship: &Uuid) -> StoreResult<Option<Uuid>> {
        if let Some(a) = self.shipments.get(ship) {
            return Ok(Some(*a));
        }
        self.store.shipment_closed_by(ship)
    }

    /// Closes a shipment.
    pub fn close_shipment(&mut self, ship: Uuid, accept: Uuid) {
        self.shipments.insert(ship, accept);
        self.set.shipments_closed.push((ship, accept));
    }

    /// A named counter (this batch, then store).
    pub fn counter(&mut self, name: &str) -> StoreResult<u64> {
        if let Some(v) = self.counters.get(name) {
            return Ok(*v);
        }
        let v = self.store.counter(name)?;
        self.counters.insert(name.to_string(), v);
        Ok(v)
    }

    /// Sets a named counter.
    pub fn set_counter(&mut self, name: &str, v: u64) {
        self.counters.insert(name.to_string(), v);
    }

    /// A participant by TIN (this batch, then store).
    pub fn participant_by_tin(&self, tin: &str) -> StoreResult<Option<Participant>> {
        if let Some(p) = self.set.participants.iter().rev().find(|p| p.tin == tin) {
            return Ok(Some(p.clone()));
        }
        self.store.participant_by_tin(tin)
    }

    /// A product card (this batch, then store).
    pub fn product(&self, gtin: u64) -> StoreResult<Option<Product>> {
        let key = format!("{gtin:014}");
        if let Some(p) = self.set.products.iter().rev().find(|p| p.gtin == key) {
            return Ok(Some(p.clone()));
        }
        self.store.product(gtin)
    }

    /// A block (this batch, then store).
    pub fn block(&self, id: u64) -> StoreResult<Option<Block>> {
        if let Some(b) = self.set.blocks.iter().rev().find(|b| b.id == id) {
            return Ok(Some(b.clone()));
        }
        Ok(self.store.blocks()?.into_iter().find(|b| b.id == id))
    }

    /// Participants written earlier in this batch.
    pub fn pending_participants(&self) -> &[Participant] {
        &self.set.participants
    }

    /// A participant's orders as this batch sees them (this batch, then store).
    fn orders_seen(&self, participant: ParticipantId) -> StoreResult<HashMap<Uuid, Order>> {
        let mut all: HashMap<Uuid, Order> = HashMap::default();
        for o in self.store.orders_of(participant)? {
            all.insert(o.id, o);
        }
        for o in self
            .set
            .orders
            .iter()
            .filter(|o| o.participant == participant)
        {
            all.insert(o.id, o.clone());
        }
        Ok(all)
    }

    /// Codes a participant has ordered and not yet had produced.
    pub fn pending_codes_of(&self, participant: ParticipantId) -> StoreResult<u64> {
        Ok(self
            .orders_seen(participant)?
            .values()
            .filter(|o| o.status == types::model::OrderStatus::Pending)
            .map(|o| u64::from(o.quantity.saturating_sub(o.produced)))
            .sum())
    }

    /// A participant's orders that are pending or ready (this batch, then store).
    pub fn active_orders_of(&self, participant: ParticipantId) -> StoreResult<usize> {
        Ok(self
            .orders_seen(participant)?
            .values()
            .filter(|o| {
                matches!(
                    o.status,
                    types::model::OrderStatus::Pending | types::model::OrderStatus::Ready
                )
            })
            .count())
    }

    /// Writes a participant.
    pub fn put_participant(&mut self, p: Participant) {
        self.set.participants.push(p);
    }

    /// Writes a product card.
    pub fn put_product(&mut self, p: Product) {
        self.set.products.push(p);
    }

    /// Writes an order.
    pub fn put_order(&mut self, o: Order) {
        self.set.orders.push(o);
    }

    /// Writes self-made serials of an order.
    pub fn put_order_serials(&mut self, id: Uuid, first: u32, serials: Vec<String>) {
        self.set.order_serials.push((id, first, serials));
    }

    /// Writes a block.
    pub fn put_block(&mut self, b: Block) {
        self.set.blocks.push(b);
    }

    /// Records a consumer's complaint (and its photo).
    pub fn put_complaint(&mut self, c: crate::complaints::Complaint, photo: Option<Vec<u8>>) {
        if let Some(p) = photo {
            self.set.complaint_photos.push((c.id, p));
        }
        self.set.complaints.push(c);
    }

    /// Records a code blocked under a block.
    pub fn put_block_code(&mut self, block: u64, key: CodeKey) {
        self.set.block_codes.push((block, key));
    }

    /// Appends a leaf to the transparency log; returns its index. Call it once per accepted
    /// change, after every check has passed (a refused job appends nothing).
    pub fn append_log(
        &mut self,
        kind: types::log::LeafKind,
        actor: ParticipantId,
        payload: &serde_json::Value,
    ) -> u64 {
        let leaf = types::log::encode(kind, self.now, actor, payload);
        let index = match self.state.log.append(&leaf, &mut self.set.log_hashes) {
            Ok(i) => i,
            // 2^64 leaves: unreachable in practice; the leaf is kept unhashed and the
            // audit names it.
            Err(e) => {
                tracing::error!("transparency log: {e}");
                self.state.log.size()
            }
        };
        self.set.log_leaves.push((index, leaf));
        index
    }

    /// The store's inbox up to `upto` went into this set's feed ([`WriteSet::inbox_upto`]).
    pub fn inbox_taken(&mut self, upto: u64) {
        self.set.inbox_upto = Some(self.set.inbox_upto.map_or(upto, |u| u.max(upto)));
    }

    /// Appends a fact to the feed, in this batch's commit.
    pub fn record(&mut self, fact: &crate::feed::Fact) {
        let Some(bytes) = crate::feed::encode(self.now, fact) else {
            return;
        };
        let seq = self.state.next_feed;
        self.state.next_feed += 1;
        self.set.feed.push((seq, bytes));
    }

    /// Starts collecting the unit codes the next changes touch (for a document's fact).
    pub fn collect_units(&mut self) {
        self.units = Some(Vec::new());
    }

    /// The unit changes collected since [`Tx::collect_units`]; stops collecting.
    pub fn take_units(&mut self) -> Vec<crate::feed::UnitChange> {
        self.units.take().unwrap_or_default()
    }

    /// Marks the overlay as it stands, for [`Tx::roll_back`]: a job of several documents
    /// that must land all or none (an EPCIS capture) marks before its first. Costs a copy
    /// of the batch's overlay so far (its code states, package lists and counters; the
    /// write set and documents by length).
    pub fn savepoint(&self) -> Savepoint {
        let s = &self.set;
        Savepoint {
            state: self.state.clone(),
            codes: self.codes.clone(),
            written: self.written,
            children: self.children.clone(),
            children_orig: self.children_orig.clone(),
            shipments: self.shipments.clone(),
            counters: self.counters.clone(),
            inventory: self.inventory.clone(),
            inbox_upto: s.inbox_upto,
            lens: [
                s.participants.len(),
                s.products.len(),
                s.codes.len(),
                s.ranges.len(),
                s.events.len(),
                s.links_added.len(),
                s.links_removed.len(),
                s.documents.len(),
                s.shipments_closed.len(),
                s.orders.len(),
                s.order_serials.len(),
                s.blocks.len(),
                s.block_codes.len(),
                s.inventory.len(),
                s.counters.len(),
                s.refusals.len(),
                s.complaints.len(),
                s.complaint_photos.len(),
                s.feed.len(),
                s.log_leaves.len(),
                s.log_hashes.len(),
            ],
        }
    }

    /// Puts the overlay back as [`Tx::savepoint`] found it: everything written since is
    /// forgotten (documents, code states, events, facts, log leaves, counters).
    pub fn roll_back(&mut self, sp: Savepoint) {
        let s = &mut self.set;
        for d in s.documents.drain(sp.lens[7]..) {
            self.docs.remove(&d.id);
        }
        let l = sp.lens;
        s.participants.truncate(l[0]);
        s.products.truncate(l[1]);
        s.codes.truncate(l[2]);
        s.ranges.truncate(l[3]);
        s.events.truncate(l[4]);
        s.links_added.truncate(l[5]);
        s.links_removed.truncate(l[6]);
        s.shipments_closed.truncate(l[8]);
        s.orders.truncate(l[9]);
        s.order_serials.truncate(l[10]);
        s.blocks.truncate(l[11]);
        s.block_codes.truncate(l[12]);
        s.inventory.truncate(l[13]);
        s.counters.truncate(l[14]);
        s.refusals.truncate(l[15]);
        s.complaints.truncate(l[16]);
        s.complaint_photos.truncate(l[17]);
        s.feed.truncate(l[18]);
        s.log_leaves.truncate(l[19]);
        s.log_hashes.truncate(l[20]);
        s.inbox_upto = sp.inbox_upto;
        self.state = sp.state;
        self.codes = sp.codes;
        self.written = sp.written;
        self.children = sp.children;
        self.children_orig = sp.children_orig;
        self.shipments = sp.shipments;
        self.counters = sp.counters;
        self.inventory = sp.inventory;
        self.units = None;
    }

    /// The id of the document of sequence number `seq` (this batch, then the store).
    pub fn document_id_by_seq(&self, seq: u64) -> StoreResult<Option<Uuid>> {
        if let Some(d) = self.set.documents.iter().rev().find(|d| d.seq == seq) {
            return Ok(Some(d.id));
        }
        self.store.document_id_by_seq(seq)
    }

    /// Records a refused document for risk control.
    pub fn refuse(&mut self, participant: ParticipantId, summary: String) {
        self.set.refusals.push((participant, self.now, summary));
    }

    /// Checks the invariants of what this batch changed, before anything is committed
    /// (TigerBeetle's habit: assert what must hold, and fail the work, not the process):
    /// a package's child count equals its links; a code's events are numbered without gaps
    /// from where they stood; no inventory counter goes below zero.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (parent, kids) in &self.children {
            if let Some(Some(st)) = self.codes.get(parent).map(|s| s.state) {
                if usize::try_from(st.children).ok() != Some(kids.len()) {
                    return Err(format!(
                        "package {parent} counts {} children but links {}",
                        st.children,
                        kids.len()
                    ));
                }
            }
        }
        let mut next: HashMap<CodeKey, u32> = HashMap::default();
        for (k, seq, _) in &self.set.events {
            let before = self.codes.get(k).map_or(0, |s| s.events_before);
            let want = next.entry(*k).or_insert(before);
            if *seq != *want {
                return Err(format!("event {seq} of {k} follows event {}", *want));
            }
            *want += 1;
        }
        for (k, n) in &next {
            let now = self
                .codes
                .get(k)
                .and_then(|s| s.state)
                .map_or(0, |s| s.events);
            if now != *n {
                return Err(format!("{k} counts {now} events but has {n}"));
            }
        }
        let mut checked: HashSet<(ParticipantId, u64)> = HashSet::default();
        for ((p, g, _), d) in &self.inventory {
            if *d >= 0 || !checked.insert((*p, *g)) {
                continue;
            }
            let stored: HashMap<Bucket, i64> = self
                .store
                .inventory(*p, *g)
                .map_err(|e| e.to_string())?
                .into_iter()
                .collect();
            for ((p2, g2, b), d2) in &self.inventory {
                if (p2, g2) == (p, g) && stored.get(b).copied().unwrap_or(0) + d2 < 0 {
                    return Err(format!(
                        "participant {p}'s inventory of {g:014} ({b:?}) would go below zero"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Everything this batch writes.
    pub fn finish(mut self) -> (WriteSet, WriterState) {
        self.set.codes.reserve(self.written);
        for (k, slot) in &self.codes {
            if let (true, Some(s)) = (slot.dirty, slot.state) {
                self.set.codes.push((*k, s));
            }
        }
        for (parent, now) in &self.children {
            let orig = self
                .children_orig
                .get(parent)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let o: HashSet<&CodeKey> = orig.iter().collect();
            for c in now.iter().filter(|c| !o.contains(c)) {
                self.set.links_added.push((*parent, *c));
            }
            for c in orig.iter().filter(|c| !now.contains(c)) {
                self.set.links_removed.push((*parent, *c));
            }
        }
        for ((p, g, b), d) in self.inventory {
            if d != 0 {
                self.set.inventory.push((p, g, b, d));
            }
        }
        for (k, v) in self.counters {
            self.set.counters.push((k, v));
        }
        if !self.set.is_empty() {
            self.state.write(&mut self.set);
        }
        (self.set, self.state)
    }
}

/// The inventory buckets a state counts in.
fn buckets(s: &CodeState) -> impl Iterator<Item = (ParticipantId, Bucket)> {
    let transit = s.in_transit();
    [
        Some((s.owner, Bucket::Status(s.status))),
        transit.then_some((s.owner, Bucket::InTransitOut)),
        transit.then_some((s.receiver, Bucket::InTransitIn)),
    ]
    .into_iter()
    .flatten()
}

/// The overlay as it stood ([`Tx::savepoint`]), to go back to ([`Tx::roll_back`]).
pub struct Savepoint {
    state: WriterState,
    codes: HashMap<CodeKey, Slot>,
    written: usize,
    children: HashMap<CodeKey, BTreeSet<CodeKey>>,
    children_orig: HashMap<CodeKey, Vec<CodeKey>>,
    shipments: HashMap<Uuid, Uuid>,
    counters: HashMap<String, u64>,
    inventory: HashMap<(ParticipantId, u64, Bucket), i64>,
    inbox_upto: Option<u64>,
    /// The write set's lists' lengths, in [`Tx::savepoint`]'s order.
    lens: [usize; 21],
}

/// What a job hands back: called once the batch is committed (or failed).
pub type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// A unit of work for the writer.
pub type Job<S> = Box<dyn for<'a> FnOnce(&mut Tx<'a, S>) -> Completion + Send>;

/// What the writer shares with the rest of the registry: facts from reads to commit, the
/// feed signal it moves, the flag that makes it reload its counters, and the derivation of
/// ranged codes' states.
pub struct Feed {
    /// Derives the states of codes emitted as ranges (`None`: a store without ranges, for
    /// tests of the writer alone).
    pub ranges: Option<crate::ranges::Ranges>,
    /// The writer's state cache's epoch ([`StateCache::epoch`]), for [`Prefetched`] reads.
    pub cache_epoch: Arc<std::sync::atomic::AtomicU64>,
    /// Facts from reads waiting for a commit.
    pub facts: Arc<crate::feed::FactBuffer>,
    /// Moved after each commit that appended to the feed.
    pub signal: Arc<crate::feed::FeedSignal>,
    /// Set to make the writer reload its counters ([`WriterState`]) from the store and
    /// forget its state cache before its next batch: another process wrote to a shared
    /// store (this one just took the writer's lease). The writer sets it itself after a
    /// failed commit, whose outcome may be unknown (a connection cut after `COMMIT` was
    /// sent): the store, not memory, then says what the next numbers are.
    pub reload: Arc<std::sync::atomic::AtomicBool>,
}

/// The writer's two lanes: documents and other jobs, and the bulk lane (emission chunks).
type Lanes<S> = (
    crossbeam_channel::Receiver<Job<S>>,
    crossbeam_channel::Receiver<Job<S>>,
);

/// Runs the writer loop until every sender is gone. `jobs` come first; `bulk` jobs
/// (emission chunks) are taken one per group commit, when no other job is waiting or the
/// batch has room, so a document never queues behind more than one chunk.
///
/// Each turn: the first job waited for (`first_job`), the writer made ready
/// (`ready`), the batch filled (`fill_batch`), its invariants checked, and the batch
/// committed whole or refused whole (`commit_batch`).
pub fn run_writer<S: Store + ?Sized>(
    store: Arc<S>,
    lanes: Lanes<S>,
    clock: crate::Clock,
    mut state: WriterState,
    cache_capacity: usize,
    stats: Arc<WriterStats>,
    feed: Feed,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut cache = StateCache::sharing(cache_capacity, feed.cache_epoch.clone());
    // Facts from reads taken for a batch that then failed: recorded with the next one.
    let mut carried: Vec<crate::feed::Fact> = Vec::new();
    while let Some((first, took_bulk)) = first_job(&lanes) {
        stats.alive_at.store(clock(), Relaxed);
        if !ready(&*store, &stats, &feed, &mut cache, &mut state, &mut carried) {
            // Dropped unrun: its caller sees its reply channel closed (503).
            drop(first);
            continue;
        }
        let mut tx = Tx::with_cache(&*store, &cache, clock(), state.clone());
        tx.ranges = feed.ranges.as_ref();
        let mut done = Vec::new();
        let panicked = fill_batch(
            first,
            took_bulk,
            &lanes,
            &feed,
            &mut tx,
            &mut carried,
            &mut done,
        );
        let refused = batch_refusal(panicked, &tx, &stats, done.len());
        if let Some(why) = refused {
            drop(tx);
            cache.clear();
            for d in done {
                d(Err(&why));
            }
            continue;
        }
        stats.store_reads.fetch_add(tx.reads[0], Relaxed);
        stats.read_ahead.fetch_add(tx.reads[1], Relaxed);
        stats.read_ahead_stale.fetch_add(tx.reads[2], Relaxed);
        let (set, new_state) = tx.finish();
        let result = commit_batch(
            &*store, &set, new_state, &stats, &clock, &feed, &mut cache, &mut state,
        );
        stats.jobs.fetch_add(done.len() as u64, Relaxed);
        if result.is_ok() {
            carried.clear();
        } else {
            tracing::error!("commit failed, batch of {} jobs refused", done.len());
        }
        for d in done {
            d(result.as_ref().map(|_| ()));
        }
    }
}

/// Why a filled batch is refused whole, if it is: a job of it panicked, or it would break
/// an invariant ([`Tx::check_invariants`]).
fn batch_refusal<S: Store + ?Sized>(
    panicked: bool,
    tx: &Tx<'_, S>,
    stats: &WriterStats,
    jobs: usize,
) -> Option<StoreError> {
    use std::sync::atomic::Ordering::Relaxed;
    if panicked {
        stats.job_panics.fetch_add(1, Relaxed);
        tracing::error!(
            "a writer job panicked: its batch of {} jobs is refused, nothing of it written",
            jobs + 1
        );
        return Some(StoreError::new(
            "a fault in another request of the same batch stopped it; nothing was changed, retry",
        ));
    }
    let broken = tx.check_invariants().err()?;
    stats.invariant_failures.fetch_add(1, Relaxed);
    tracing::error!("invariant broken, batch of {jobs} jobs refused: {broken}");
    Some(StoreError::new(format!(
        "a registry invariant would break ({broken}); nothing was changed"
    )))
}

/// The next batch's first job: a waiting job, else whichever lane has one first; `None`
/// once every sender is gone. The flag says it came from the bulk lane.
fn first_job<S: Store + ?Sized>((jobs, bulk): &Lanes<S>) -> Option<(Job<S>, bool)> {
    match jobs.try_recv() {
        Ok(j) => Some((j, false)),
        Err(_) => crossbeam_channel::select! {
            recv(jobs) -> j => j.ok().map(|j| (j, false)),
            recv(bulk) -> j => j.ok().map(|j| (j, true)),
        },
    }
}

/// Whether the writer may run a batch now. Not once the store lost durability: nothing
/// more is written, whatever the store says now (its page cache cannot be trusted after a
/// failed fsync; the process exits, `WriterStats::lost`). When asked to reload its
/// counters ([`Feed::reload`]) it does so first, and runs nothing while the store cannot
/// say where it stands.
fn ready<S: Store + ?Sized>(
    store: &S,
    stats: &WriterStats,
    feed: &Feed,
    cache: &mut StateCache,
    state: &mut WriterState,
    carried: &mut Vec<crate::feed::Fact>,
) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    if stats.lost.get().is_some() {
        return false;
    }
    if feed.reload.load(Relaxed) {
        cache.clear();
        match WriterState::load(store) {
            Ok(s) => {
                if s.next_feed > state.next_feed {
                    // The feed moved past what this writer committed: the batch whose
                    // commit reported failure landed after all (a connection cut after
                    // `COMMIT`), facts from reads and all, so they are not recorded twice.
                    // (On a shared store, another writer may have moved it instead; then
                    // these few facts are dropped, as when the buffer is full.)
                    carried.clear();
                }
                // The store says where the feed ends: projections waiting on the signal
                // read what a landed-but-unanswered commit appended without waiting for
                // the next commit.
                if s.next_feed > 1 {
                    feed.signal.advance(s.next_feed - 1);
                }
                *state = s;
                feed.reload.store(false, Relaxed);
            }
            Err(e) => {
                tracing::error!("the writer cannot reload its counters: {e}");
                return false;
            }
        }
    }
    true
}

/// Fills a batch: the facts from reads first, then `first`, then every waiting job up to
/// [`BATCH_JOBS_MAX`] jobs or [`BATCH_CODES_MAX`] code writes, with at most one bulk job.
/// `true` if a job panicked: a job that panics (a bug) has left the overlay in an unknown
/// state, so the whole batch is failed (nothing of it committed, every job of it answered
/// 503 and free to retry) and the writer goes on with the next.
fn fill_batch<S: Store + ?Sized>(
    first: Job<S>,
    mut took_bulk: bool,
    (jobs, bulk): &Lanes<S>,
    feed: &Feed,
    tx: &mut Tx<'_, S>,
    carried: &mut Vec<crate::feed::Fact>,
    done: &mut Vec<Completion>,
) -> bool {
    // Facts from reads come first: each was noted before any job of this batch was
    // sent (a till check is answered before the sale naming it is submitted), so the
    // feed keeps the order in which things happened. Kept until the batch commits.
    carried.extend(feed.facts.take());
    if carried.len() > crate::feed::FACTS_PENDING_MAX {
        // Batches keep failing: the oldest facts go, counted, as when the buffer is full.
        let excess = carried.len() - crate::feed::FACTS_PENDING_MAX;
        carried.drain(..excess);
        feed.facts
            .dropped
            .fetch_add(excess as u64, std::sync::atomic::Ordering::Relaxed);
    }
    for fact in carried.iter() {
        tx.record(fact);
    }
    let mut panicked = run_job(first, tx, done);
    while !panicked && done.len() < BATCH_JOBS_MAX && tx.codes_written() < BATCH_CODES_MAX {
        let job = match jobs.try_recv() {
            Ok(job) => job,
            Err(_) if !took_bulk => match bulk.try_recv() {
                Ok(job) => {
                    took_bulk = true;
                    job
                }
                Err(_) => break,
            },
            Err(_) => break,
        };
        // Facts noted since the batch began were noted before this job was sent: they go
        // first (a till check before the sale naming it).
        record_fresh(feed, tx, carried);
        panicked = run_job(job, tx, done);
    }
    panicked
}

/// Commits a checked batch as one write set and moves the writer on: its counters, its
/// state cache, the feed's signal. A failed commit says what it means ([`StoreErrorKind`]):
/// `Lost` stops the writer for good, `Full` notes since when; after any failure nothing
/// remembered is trusted (a network engine may have committed what it reported failed,
/// the connection cut after `COMMIT`), so the counters come back from the store before
/// the next batch.
#[allow(clippy::too_many_arguments)] // The writer's parts, each named: no struct would be clearer.
fn commit_batch<S: Store + ?Sized>(
    store: &S,
    set: &WriteSet,
    new_state: WriterState,
    stats: &WriterStats,
    clock: &crate::Clock,
    feed: &Feed,
    cache: &mut StateCache,
    state: &mut WriterState,
) -> StoreResult<()> {
    use std::sync::atomic::Ordering::Relaxed;
    let started = std::time::Instant::now();
    let result = if set.is_empty() {
        Ok(())
    } else {
        store.commit(set)
    };
    stats.batches.fetch_add(1, Relaxed);
    stats
        .commit_micros
        .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
    match &result {
        Ok(()) => {
            stats
                .codes_written
                .fetch_add(set.codes.len() as u64, Relaxed);
            stats
                .events_written
                .fetch_add(set.events.len() as u64, Relaxed);
            *state = new_state;
            for (k, st) in &set.codes {
                cache.put(*k, *st);
            }
            if !set.feed.is_empty() {
                feed.signal.advance(state.next_feed - 1);
            }
            if !set.is_empty() {
                stats.full_since.store(0, Relaxed);
            }
        }
        Err(e) => {
            stats.commit_failures.fetch_add(1, Relaxed);
            match e.kind() {
                store::StoreErrorKind::Lost => {
                    tracing::error!(
                        "the store lost durability ({e}): the writer writes nothing more"
                    );
                    let _ = stats.lost.set(e.to_string());
                }
                store::StoreErrorKind::Full => {
                    let _ = stats
                        .full_since
                        .compare_exchange(0, clock(), Relaxed, Relaxed);
                }
                store::StoreErrorKind::Failed => {}
            }
            cache.clear();
            feed.reload.store(true, Relaxed);
            tracing::error!("commit failed: {e}");
        }
    }
    result
}

/// Records the facts from reads noted since the last take, keeping them with the batch's.
fn record_fresh<S: Store + ?Sized>(
    feed: &Feed,
    tx: &mut Tx<'_, S>,
    carried: &mut Vec<crate::feed::Fact>,
) {
    let fresh = feed.facts.take();
    for fact in &fresh {
        tx.record(fact);
    }
    carried.extend(fresh);
}

/// Runs one job, catching a panic: `true` if it panicked.
fn run_job<S: Store + ?Sized>(job: Job<S>, tx: &mut Tx<'_, S>, done: &mut Vec<Completion>) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(tx))) {
        Ok(c) => {
            done.push(c);
            false
        }
        Err(_) => true,
    }
}

/// What the writer has done since it started (for `/metrics`).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Why the store lost durability (a commit failed with
    /// [`store::StoreErrorKind::Lost`]: a failed fsync, a poisoned journal). From
    /// then on the writer writes nothing, and `serve` exits (a start recovers from the
    /// journal): carrying on would trust a page cache the disk may not match.
    pub lost: std::sync::OnceLock<String>,
    /// Since when (Unix seconds) commits have been refused for a full disk
    /// ([`store::StoreErrorKind::Full`]); 0 when the last commit went through.
    pub full_since: std::sync::atomic::AtomicU64,
    /// Batches refused because an invariant would have broken.
    pub invariant_failures: std::sync::atomic::AtomicU64,
    /// Times the writer loop itself panicked and was restarted.
    pub restarts: std::sync::atomic::AtomicU64,
    /// Jobs that panicked (each failed its batch; the writer went on).
    pub job_panics: std::sync::atomic::AtomicU64,
    /// When the writer last took a batch (Unix seconds).
    pub alive_at: std::sync::atomic::AtomicU64,
    /// Group commits.
    pub batches: std::sync::atomic::AtomicU64,
    /// Jobs (documents, orders' chunks, registrations, …) run.
    pub jobs: std::sync::atomic::AtomicU64,
    /// Code states written.
    pub codes_written: std::sync::atomic::AtomicU64,
    /// Events appended.
    pub events_written: std::sync::atomic::AtomicU64,
    /// Time spent in `Store::commit`, microseconds (fsync included).
    pub commit_micros: std::sync::atomic::AtomicU64,
    /// Commits the store refused (each failed its whole batch).
    pub commit_failures: std::sync::atomic::AtomicU64,
    /// Code states the writer read from the store itself (neither in its cache nor read
    /// ahead).
    pub store_reads: std::sync::atomic::AtomicU64,
    /// Code states read ahead of the writer and taken ([`Tx::prefetched`]).
    pub read_ahead: std::sync::atomic::AtomicU64,
    /// Code states read ahead but not taken: the cache had forgotten states since.
    pub read_ahead_stale: std::sync::atomic::AtomicU64,
}

/// The writer's cache of committed code states: the state look-up is what limits ingest,
/// and only the writer changes states, so a cache it owns is always coherent.
///
/// Two generations of a hash map: when the young one is full it becomes the old one and
/// the previous old one is dropped, so recently used states stay and memory is bounded by
/// `capacity` entries ([`types::memory::state_cache_bytes`]).
pub struct StateCache {
    young: HashMap<CodeKey, CodeState>,
    old: HashMap<CodeKey, CodeState>,
    capacity: usize,
    /// Moves whenever the cache forgets states (a generation dropped, cleared, made anew):
    /// while it stands still, every state committed since holds in the cache, which is
    /// what makes a [`Prefetched`] read still good (see [`Tx::prefetched`]).
    epoch: Arc<std::sync::atomic::AtomicU64>,
}

impl StateCache {
    /// Default capacity ([`types::limits::STATE_CACHE_ENTRIES_DEFAULT`]).
    pub const CAPACITY_DEFAULT: usize = types::limits::STATE_CACHE_ENTRIES_DEFAULT;

    /// A cache of at most `capacity` states.
    pub fn new(capacity: usize) -> StateCache {
        Self::sharing(capacity, Arc::default())
    }

    /// A cache of at most `capacity` states whose epoch ([`StateCache::epoch`]) is
    /// `epoch`, which others read (the registry's prefetching threads); moved on.
    pub fn sharing(capacity: usize, epoch: Arc<std::sync::atomic::AtomicU64>) -> StateCache {
        epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        StateCache {
            young: HashMap::default(),
            old: HashMap::default(),
            capacity,
            epoch,
        }
    }

    /// The cache's epoch: it moves whenever the cache forgets states.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the cache holds anything (a capacity above 0).
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The capacity the memory budget gives ([`types::memory::Budget::from_env`]):
    /// `TRACEMARK_STATE_CACHE` (entries; 0 disables) if set, else the default unless
    /// `TRACEMARK_MEMORY_MB` is too small for it.
    pub fn capacity_from_env() -> usize {
        types::memory::Budget::from_env().state_cache_entries
    }

    /// A cached state.
    pub fn get(&self, k: &CodeKey) -> Option<CodeState> {
        self.young.get(k).or_else(|| self.old.get(k)).copied()
    }

    /// Remembers a committed state.
    pub fn put(&mut self, k: CodeKey, st: CodeState) {
        if self.capacity == 0 {
            return;
        }
        if self.young.len() >= self.capacity / 2 {
            self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(k, st);
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.young.clear();
        self.old.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::model::{Block, Bucket, CodeEvent, Order, Participant, Product, StoredDocument};

    /// A store with nothing in it.
    struct Empty;

    impl Store for Empty {
        fn participant(&self, _: ParticipantId) -> StoreResult<Option<Participant>> {
            Ok(None)
        }
        fn participant_by_tin(&self, _: &str) -> StoreResult<Option<Participant>> {
            Ok(None)
        }
        fn participants(&self) -> StoreResult<Vec<Participant>> {
            Ok(Vec::new())
        }
        fn product(&self, _: u64) -> StoreResult<Option<Product>> {
            Ok(None)
        }
        fn products_between(&self, _: u64, _: u64, _: usize) -> StoreResult<Vec<Product>> {
            Ok(Vec::new())
        }
        fn codes(&self, keys: &[CodeKey]) -> StoreResult<Vec<Option<CodeState>>> {
            Ok(vec![None; keys.len()])
        }
        fn events(&self, _: &CodeKey) -> StoreResult<Vec<CodeEvent>> {
            Ok(Vec::new())
        }
        fn children(&self, _: &CodeKey) -> StoreResult<Vec<CodeKey>> {
            Ok(Vec::new())
        }
        fn document(&self, _: &Uuid) -> StoreResult<Option<StoredDocument>> {
            Ok(None)
        }
        fn document_id_by_seq(&self, _: u64) -> StoreResult<Option<Uuid>> {
            Ok(None)
        }
        fn shipment_closed_by(&self, _: &Uuid) -> StoreResult<Option<Uuid>> {
            Ok(None)
        }
        fn order(&self, _: &Uuid) -> StoreResult<Option<Order>> {
            Ok(None)
        }
        fn orders_of(&self, _: ParticipantId) -> StoreResult<Vec<Order>> {
            Ok(Vec::new())
        }
        fn order_serials(&self, _: &Uuid, _: u32, _: u32) -> StoreResult<Vec<String>> {
            Ok(Vec::new())
        }
        fn blocks(&self) -> StoreResult<Vec<Block>> {
            Ok(Vec::new())
        }
        fn block_codes(&self, _: u64) -> StoreResult<Vec<CodeKey>> {
            Ok(Vec::new())
        }
        fn inventory(&self, _: ParticipantId, _: u64) -> StoreResult<Vec<(Bucket, i64)>> {
            Ok(Vec::new())
        }
        fn counter(&self, _: &str) -> StoreResult<u64> {
            Ok(0)
        }
        fn refusal_count(&self) -> StoreResult<u64> {
            Ok(0)
        }
        fn log_leaf(&self, _: u64) -> StoreResult<Option<Vec<u8>>> {
            Ok(None)
        }
        fn log_hashes(&self, ids: &[tlog::NodeId]) -> StoreResult<Vec<Option<tlog::Hash>>> {
            Ok(vec![None; ids.len()])
        }
        fn document_log_index(&self, _: u64) -> StoreResult<Option<u64>> {
            Ok(None)
        }
        fn complaints(&self, _: &Uuid, _: usize) -> StoreResult<Vec<crate::complaints::Complaint>> {
            Ok(Vec::new())
        }
        fn complaint(&self, _: &Uuid) -> StoreResult<Option<crate::complaints::Complaint>> {
            Ok(None)
        }
        fn complaint_photo(&self, _: &Uuid) -> StoreResult<Option<Vec<u8>>> {
            Ok(None)
        }
        fn feed(&self, _: u64, _: usize) -> StoreResult<Vec<(u64, Vec<u8>)>> {
            Ok(Vec::new())
        }
        fn projection_checkpoint(&self, _: &str) -> StoreResult<u64> {
            Ok(0)
        }
        fn projection_rows(
            &self,
            _: &str,
            _: &[u8],
            _: usize,
        ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
            Ok(Vec::new())
        }
        fn commit_projection(
            &self,
            _: &str,
            _: u64,
            _: &[(Vec<u8>, Option<Vec<u8>>)],
        ) -> StoreResult<()> {
            Ok(())
        }
        fn commit(&self, _: &WriteSet) -> StoreResult<()> {
            Ok(())
        }
        fn code_range(
            &self,
            _: u64,
            _: u8,
            _: u64,
        ) -> StoreResult<Option<types::model::CodeRange>> {
            Ok(None)
        }
        fn code_ranges_after(
            &self,
            _: Option<[u8; 17]>,
            _: usize,
        ) -> StoreResult<Vec<types::model::CodeRange>> {
            Ok(Vec::new())
        }
    }

    /// Filling and emptying a big package costs about one step per child, not one per
    /// child already in it (a package may hold up to a million codes).
    #[test]
    fn linking_and_unlinking_a_big_package_is_linear() {
        let store = Empty;
        let mut tx = Tx::new(&store, 0, WriterState::default());
        let parent = CodeKey::sscc(1);
        let n: u32 = 200_000;
        let kids: Vec<CodeKey> = (0..n)
            .map(|i| CodeKey::unit(4_600_000_000_001, format!("{:08}", n - i).as_bytes()))
            .collect();
        let started = std::time::Instant::now();
        for k in &kids {
            tx.link(parent, *k).expect("link");
        }
        assert_eq!(tx.children(&parent).expect("children").len(), n as usize);
        for k in &kids {
            tx.unlink(parent, *k).expect("unlink");
        }
        assert!(tx.children(&parent).expect("children").is_empty());
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(10),
            "{n} links and unlinks took {took:?}"
        );
    }

    /// A read ahead is taken only while the cache has forgotten nothing since it was made,
    /// and never over what the cache or the overlay holds.
    #[test]
    fn a_read_ahead_is_taken_only_while_the_cache_forgot_nothing() {
        let store = Empty;
        let key = |i: u32| CodeKey::unit(4_600_000_000_001, format!("{i:08}").as_bytes());
        let state = |owner: u32| CodeState::new(types::model::Status::Applied, owner, 0);
        let mut cache = StateCache::new(4);
        cache.put(key(1), state(1));
        let ahead = |epoch: u64| Prefetched {
            epoch,
            keys: vec![key(1), key(2)],
            states: vec![Some(state(9)), Some(state(9))],
        };
        let e = cache.epoch();
        {
            let mut tx = Tx::with_cache(&store, &cache, 0, WriterState::default());
            tx.prefetched(ahead(e));
            assert_eq!(
                tx.code(&key(1)).expect("read").map(|s| s.owner),
                Some(1),
                "the cache is newer"
            );
            assert_eq!(
                tx.code(&key(2)).expect("read").map(|s| s.owner),
                Some(9),
                "taken"
            );
        }
        // Two more puts drop a generation: the epoch moves, the read ahead is stale.
        cache.put(key(3), state(3));
        cache.put(key(4), state(4));
        assert_ne!(cache.epoch(), e);
        let mut tx = Tx::with_cache(&store, &cache, 0, WriterState::default());
        tx.prefetched(ahead(e));
        assert_eq!(
            tx.code(&key(2)).expect("read"),
            None,
            "stale: the store is asked"
        );
        drop(tx);
        let e = cache.epoch();
        cache.clear();
        assert_ne!(cache.epoch(), e, "clearing moves the epoch");
        let none = StateCache::new(0);
        let mut tx = Tx::with_cache(&store, &none, 0, WriterState::default());
        tx.prefetched(ahead(none.epoch()));
        assert_eq!(
            tx.code(&key(2)).expect("read"),
            None,
            "no cache, no read ahead"
        );
    }
}
