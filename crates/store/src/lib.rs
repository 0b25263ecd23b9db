//! The storage trait: what the registry needs from an engine, and nothing engine-specific.
//!
//! Reads are point look-ups and short ordered scans by typed keys; writes arrive as one
//! [`WriteSet`] per group commit, which the engine must apply atomically and durably
//! before `commit` returns. No transactions, locks or conflict handling are asked of the
//! engine: the registry serialises all writes through its single writer, so a plain
//! atomic batch (an LSM batch, one SQL transaction, a distributed SQL transaction keyed
//! by the code) is enough.

use types::model::{
    Block, Bucket, CodeEvent, CodeKey, CodeRange, CodeState, Order, Participant, ParticipantId,
    Product, StoredDocument,
};
use uuid::Uuid;

pub use types::error::{StoreError, StoreErrorKind, StoreResult};

/// The version byte first in every JSON record an engine stores (participants, products,
/// orders, blocks, complaints, documents' metadata, refusals). Binary records carry their
/// own (`CodeState::VERSION`, `CodeEvent::VERSION`, log leaves). Shared by every engine so
/// that a record reads the same whichever engine wrote it.
pub const RECORD_VERSION: u8 = 1;

/// Encodes a JSON record: the version byte, then the JSON (a later field is a new version
/// read alongside the old, never a rewrite).
pub fn encode_record(v: &impl serde::Serialize) -> StoreResult<Vec<u8>> {
    let mut out = vec![RECORD_VERSION];
    serde_json::to_writer(&mut out, v).map_err(StoreError::new)?;
    Ok(out)
}

/// Decodes a JSON record written by [`encode_record`].
pub fn decode_record<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, json)) => serde_json::from_slice(json).map_err(StoreError::new),
        _ => Err(StoreError::new("a stored record of an unknown version")),
    }
}

/// A document's metadata record: the document without its body, as [`encode_record`]
/// writes it (engines keep the body beside it, as raw bytes).
pub fn encode_document_meta(d: &StoredDocument) -> StoreResult<Vec<u8>> {
    let mut meta = d.clone();
    meta.body = Vec::new();
    encode_record(&meta)
}

/// A document from its metadata record ([`encode_document_meta`]) and its body.
pub fn decode_document(meta: &[u8], body: &[u8]) -> StoreResult<StoredDocument> {
    let mut d: StoredDocument = decode_record(meta)?;
    d.body = body.to_vec();
    Ok(d)
}

/// A refused document's record, kept for risk control (see [`WriteSet::refusals`]).
pub fn encode_refusal(participant: ParticipantId, at: u64, summary: &str) -> StoreResult<Vec<u8>> {
    encode_record(&serde_json::json!({"participant": participant, "at": at, "summary": summary}))
}

/// Everything one group commit changes. Applied atomically by [`Store::commit`].
#[derive(Default, Debug)]
pub struct WriteSet {
    /// New or changed participants.
    pub participants: Vec<Participant>,
    /// New or changed product cards.
    pub products: Vec<Product>,
    /// Code states to write (insert or overwrite).
    pub codes: Vec<(CodeKey, CodeState)>,
    /// Ranges of emitted codes, new ([`CodeRange`]): never rewritten; a code of a range
    /// gets a state of its own in `codes` at its first change.
    pub ranges: Vec<CodeRange>,
    /// Events to append: (code, sequence number within the code's history, event). A code's
    /// events have consecutive sequence numbers from 0; each names the previous event's
    /// document (`prev`) and the code's state names the last (`last_event`), so an engine
    /// may key events by (code, seq) or by document and walk the list. All events of one
    /// document arrive in one `WriteSet` (a document is one writer job).
    pub events: Vec<(CodeKey, u32, CodeEvent)>,
    /// Package links added: (parent, child).
    pub links_added: Vec<(CodeKey, CodeKey)>,
    /// Package links removed: (parent, child).
    pub links_removed: Vec<(CodeKey, CodeKey)>,
    /// Accepted documents.
    pub documents: Vec<StoredDocument>,
    /// Shipments accepted: (ship document id, accept document id).
    pub shipments_closed: Vec<(Uuid, Uuid)>,
    /// New or changed orders.
    pub orders: Vec<Order>,
    /// Self-made serials of an order: (order id, index of the first, serials).
    pub order_serials: Vec<(Uuid, u32, Vec<String>)>,
    /// New or changed blocks.
    pub blocks: Vec<Block>,
    /// Code-level block entries added: (block id, code).
    pub block_codes: Vec<(u64, CodeKey)>,
    /// Inventory counter changes: (owner, GTIN, bucket, delta).
    pub inventory: Vec<(ParticipantId, u64, Bucket, i64)>,
    /// Named counters to set (participant ids, document sequence, per-GTIN serial counters…).
    pub counters: Vec<(String, u64)>,
    /// Refused documents, kept for risk control: (participant, at, JSON summary).
    pub refusals: Vec<(ParticipantId, u64, String)>,
    /// Consumers' complaints, new.
    pub complaints: Vec<types::complaints::Complaint>,
    /// Complaint photos: (complaint id, image bytes).
    pub complaint_photos: Vec<(Uuid, Vec<u8>)>,
    /// Facts appended to the feed: (feed sequence number, encoded fact), numbers
    /// consecutive (see `types::feed`).
    pub feed: Vec<(u64, Vec<u8>)>,
    /// Leaves appended to the transparency log: (index, leaf bytes), indexes consecutive.
    pub log_leaves: Vec<(u64, Vec<u8>)>,
    /// The Merkle tree's new stored hashes (each leaf's hash and each completed perfect
    /// subtree's, see the `tlog` crate): append-only, never rewritten.
    pub log_hashes: Vec<(tlog::NodeId, tlog::Hash)>,
    /// The facts of the store's inbox up to this id ([`Store::inbox_take`]) are in `feed`:
    /// the commit removes them from the inbox, so each reaches the feed exactly once.
    pub inbox_upto: Option<u64>,
}

impl WriteSet {
    /// Whether nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
            && self.products.is_empty()
            && self.codes.is_empty()
            && self.ranges.is_empty()
            && self.events.is_empty()
            && self.links_added.is_empty()
            && self.links_removed.is_empty()
            && self.documents.is_empty()
            && self.shipments_closed.is_empty()
            && self.orders.is_empty()
            && self.order_serials.is_empty()
            && self.blocks.is_empty()
            && self.block_codes.is_empty()
            && self.inventory.is_empty()
            && self.counters.is_empty()
            && self.refusals.is_empty()
            && self.complaints.is_empty()
            && self.complaint_photos.is_empty()
            && self.log_leaves.is_empty()
            && self.feed.is_empty()
            && self.inbox_upto.is_none()
    }
}

/// The log's stored hashes through a store, for the `tlog` computations: a hash not
/// stored is an error (a tree size beyond the log), never a default.
pub struct LogReader<'a, S: Store + ?Sized>(pub &'a S);

impl<S: Store + ?Sized> tlog::HashReader for LogReader<'_, S> {
    fn read_hashes(&self, ids: &[tlog::NodeId]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        let got = self
            .0
            .log_hashes(ids)
            .map_err(|e| tlog::Error::Store(Box::new(e)))?;
        got.into_iter()
            .zip(ids)
            .map(|(h, id)| h.ok_or(tlog::Error::MissingHash(*id)))
            .collect()
    }
}

/// A storage engine. Implementations: `store-fjall` (embedded); PostgreSQL next.
///
/// Every method may be called from many threads at once; `commit` is only ever called by
/// one thread at a time (the registry's writer), and must be atomic and durable.
pub trait Store: Send + Sync + 'static {
    /// A participant by id.
    fn participant(&self, id: ParticipantId) -> StoreResult<Option<Participant>>;
    /// A participant by TIN.
    fn participant_by_tin(&self, tin: &str) -> StoreResult<Option<Participant>>;
    /// All participants, by id.
    fn participants(&self) -> StoreResult<Vec<Participant>>;
    /// A product card by GTIN.
    fn product(&self, gtin: u64) -> StoreResult<Option<Product>>;
    /// Product cards with GTINs from `lo` to `hi` inclusive, in GTIN order, at most `limit`.
    fn products_between(&self, lo: u64, hi: u64, limit: usize) -> StoreResult<Vec<Product>>;
    /// States of many codes at once, in the order asked (`None` = unknown code).
    fn codes(&self, keys: &[CodeKey]) -> StoreResult<Vec<Option<CodeState>>>;
    /// A code's history, oldest first.
    fn events(&self, key: &CodeKey) -> StoreResult<Vec<CodeEvent>>;
    /// A package's direct children, in key order.
    fn children(&self, parent: &CodeKey) -> StoreResult<Vec<CodeKey>>;
    /// A document by id.
    fn document(&self, id: &Uuid) -> StoreResult<Option<StoredDocument>>;
    /// The id of the document with global sequence number `seq`.
    fn document_id_by_seq(&self, seq: u64) -> StoreResult<Option<Uuid>>;
    /// The accept document that closed a shipment, if any.
    fn shipment_closed_by(&self, ship: &Uuid) -> StoreResult<Option<Uuid>>;
    /// An order by id.
    fn order(&self, id: &Uuid) -> StoreResult<Option<Order>>;
    /// Orders of a participant.
    fn orders_of(&self, participant: ParticipantId) -> StoreResult<Vec<Order>>;
    /// Self-made serials of an order from index `offset`, at most `limit`.
    fn order_serials(&self, id: &Uuid, offset: u32, limit: u32) -> StoreResult<Vec<String>>;
    /// All blocks ever made.
    fn blocks(&self) -> StoreResult<Vec<Block>>;
    /// Codes blocked one by one under a block.
    fn block_codes(&self, block: u64) -> StoreResult<Vec<CodeKey>>;
    /// Inventory counters of an owner for a GTIN.
    fn inventory(&self, owner: ParticipantId, gtin: u64) -> StoreResult<Vec<(Bucket, i64)>>;
    /// A named counter (0 if never set).
    fn counter(&self, name: &str) -> StoreResult<u64>;
    /// Number of refused documents recorded.
    fn refusal_count(&self) -> StoreResult<u64>;
    /// A leaf of the transparency log by index.
    fn log_leaf(&self, index: u64) -> StoreResult<Option<Vec<u8>>>;
    /// Stored hashes of the log's tree, in the order asked (`None`: not stored).
    fn log_hashes(&self, ids: &[tlog::NodeId]) -> StoreResult<Vec<Option<tlog::Hash>>>;
    /// The log index of the document with sequence number `seq`.
    fn document_log_index(&self, seq: u64) -> StoreResult<Option<u64>>;
    /// Complaints with ids ≥ `start`, in id (time) order, at most `limit`.
    fn complaints(
        &self,
        start: &Uuid,
        limit: usize,
    ) -> StoreResult<Vec<types::complaints::Complaint>>;
    /// One complaint.
    fn complaint(&self, id: &Uuid) -> StoreResult<Option<types::complaints::Complaint>>;
    /// A complaint's photo bytes.
    fn complaint_photo(&self, id: &Uuid) -> StoreResult<Option<Vec<u8>>>;
    /// Feed entries (`types::feed`) with sequence numbers above `after`, in order, at most
    /// `limit`: (sequence number, encoded fact).
    fn feed(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Vec<u8>)>>;
    /// Feed entries above `after` and up to `upto`, in order, at most `limit`, of which
    /// every one whose kind ([`types::feed::peek`]) is one of `kinds` (a store may return
    /// others too: the caller peeks again). What a projection's start reads to rebuild a
    /// window of one kind of fact, such as the risk engine's till checks, from a feed
    /// whose bulk is documents' facts. The default reads every entry and peeks; a store
    /// that keeps each fact's kind beside it finds them without reading the others.
    fn feed_of_kinds(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
        kinds: &[types::feed::FactKind],
    ) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        feed_of_kinds_by_peeking(self, after, upto, limit, kinds)
    }
    /// Hands facts from reads in a process that does not write (a reader of a store other
    /// processes share) to the writer: appended to the store's inbox, each an encoded
    /// fact (`types::feed::encode`). Returns how many were kept: none when the inbox is
    /// full (the writer away), a bound of the engine's. An engine only one process uses
    /// has no inbox and refuses.
    fn inbox_put(&self, facts: &[Vec<u8>]) -> StoreResult<usize> {
        let _ = facts;
        Err(StoreError::new(
            "this store has no inbox: only one process uses it",
        ))
    }
    /// The oldest facts of the inbox ([`Store::inbox_put`]), at most `limit`, with their
    /// ids in order. They stay until a commit whose set names the last id
    /// ([`WriteSet::inbox_upto`]). Empty for an engine without an inbox.
    fn inbox_take(&self, limit: usize) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let _ = limit;
        Ok(Vec::new())
    }
    /// A projection's checkpoint: the last feed sequence number whose effects its stored
    /// rows hold (0: none).
    fn projection_checkpoint(&self, name: &str) -> StoreResult<u64>;
    /// A projection's rows with keys ≥ `start`, in key order, at most `limit`.
    fn projection_rows(
        &self,
        name: &str,
        start: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Writes a projection's changed rows (`None` deletes one) and its new checkpoint, all or
    /// nothing. Called by the projection's own thread, concurrently with [`Store::commit`];
    /// it need not be synced before returning (a projection lost in a crash is replayed
    /// from the durable feed), but rows and checkpoint must never land apart.
    fn commit_projection(
        &self,
        name: &str,
        checkpoint: u64,
        rows: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> StoreResult<()>;
    /// Applies a write set atomically and durably.
    fn commit(&self, set: &WriteSet) -> StoreResult<()>;

    /// Every code state, in pages: those after `after` (from the first when `None`) in the
    /// engine's own scan order (any total order on keys that stays fixed while nothing is
    /// written: fjall's is hash-spread, an SQL engine's the key's), at most `limit`. For the
    /// audit, which compares every stored state with the one the log recomputes; an engine
    /// without it cannot be audited (the default says so). A state stored anywhere but
    /// where [`Store::codes`] looks its code up (a row moved or edited to another key or
    /// place) is an error naming the code and both, not a state listed: listed, it would
    /// pass the audit while verify calls the code unknown.
    fn code_states_after(
        &self,
        after: Option<&CodeKey>,
        limit: usize,
    ) -> StoreResult<Vec<(CodeKey, CodeState)>> {
        let _ = (after, limit);
        Err(StoreError::new(
            "this storage engine cannot list its code states (needed by the audit)",
        ))
    }

    /// The range of emitted codes ([`CodeRange`]) of `gtin` at serial length `serial_len`
    /// that holds `counter`, if any: the one with the greatest first counter at or below
    /// `counter`, if it reaches that far.
    fn code_range(&self, gtin: u64, serial_len: u8, counter: u64)
        -> StoreResult<Option<CodeRange>>;

    /// Every range of emitted codes, in pages: those after the storage key `after`
    /// ([`CodeRange::key`]: GTIN, serial length, first counter) in key order, at most
    /// `limit`. For the audit, as [`Store::code_states_after`].
    fn code_ranges_after(
        &self,
        after: Option<[u8; 17]>,
        limit: usize,
    ) -> StoreResult<Vec<CodeRange>>;

    /// Every inventory counter, in pages: those after `after` in (owner, GTIN, bucket)
    /// order, at most `limit`: (owner, GTIN, bucket, count). For the audit, like
    /// [`Store::code_states_after`].
    fn inventory_after(
        &self,
        after: Option<(ParticipantId, u64, Bucket)>,
        limit: usize,
    ) -> StoreResult<Vec<(ParticipantId, u64, Bucket, i64)>> {
        let _ = (after, limit);
        Err(StoreError::new(
            "this storage engine cannot list its inventory counters (needed by the audit)",
        ))
    }

    /// The engine's own gauges for `/metrics` (its caches, memtables, compactions): what
    /// an operator watches to see the memory bound hold and the engine keep up. None by
    /// default.
    fn engine_gauges(&self) -> Vec<EngineGauge> {
        Vec::new()
    }

    /// The free space of the disk the engine writes to, and the reserve under which it
    /// refuses writes ([`StoreErrorKind::Full`]), for `/health`; `None` when the engine
    /// does not manage a disk of its own (a database server's full disk comes back as
    /// `Full` errors).
    fn disk_space(&self) -> Option<DiskSpace> {
        None
    }
}

/// Free space on an engine's disk ([`Store::disk_space`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes free to the process.
    pub free: u64,
    /// Bytes kept free: under this, writes are refused.
    pub reserve: u64,
}

impl DiskSpace {
    /// Whether writes are refused: less than the reserve is free.
    pub fn short(&self) -> bool {
        self.free < self.reserve
    }
}

/// One of an engine's gauges ([`Store::engine_gauges`]), exported as `tracemark_store_*`.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineGauge {
    /// The metric's name after `tracemark_store_`.
    pub name: &'static str,
    /// Its `# HELP` text.
    pub help: &'static str,
    /// A counter (only grows) rather than a gauge.
    pub counter: bool,
    /// Its value.
    pub value: f64,
}

/// [`Store::feed_of_kinds`] by reading every entry of the range and peeking at its kind:
/// the trait's default, and what an engine with an index of kinds uses for the part of
/// the feed written before it kept one.
pub fn feed_of_kinds_by_peeking<S: Store + ?Sized>(
    store: &S,
    after: u64,
    upto: u64,
    limit: usize,
    kinds: &[types::feed::FactKind],
) -> StoreResult<Vec<(u64, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut after = after;
    while after < upto && out.len() < limit {
        let page = store.feed(after, limit.max(1))?;
        let Some(&(last, _)) = page.last() else { break };
        out.extend(page.into_iter().filter(|(seq, bytes)| {
            *seq <= upto && types::feed::peek(bytes).is_none_or(|(_, kind)| kinds.contains(&kind))
        }));
        after = last;
    }
    out.truncate(limit);
    Ok(out)
}
