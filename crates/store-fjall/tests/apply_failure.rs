//! A document whose application hits a store error is refused whole: nothing it began to
//! change reaches the store.

use registry::conformance::World;
use registry::model::{
    Block, Bucket, CodeEvent, CodeKey, CodeState, Order, Participant, ParticipantId, Product,
    StoredDocument,
};
use registry::store::StoreResult;
use registry::{Store, StoreError, WriteSet};
use serde_json::json;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The fjall engine, but reading one package's children fails on demand.
struct Flaky {
    inner: store_fjall::FjallStore,
    fail_children_of: Mutex<Option<CodeKey>>,
}

impl Store for Flaky {
    fn participant(&self, id: ParticipantId) -> StoreResult<Option<Participant>> {
        self.inner.participant(id)
    }
    fn participant_by_tin(&self, tin: &str) -> StoreResult<Option<Participant>> {
        self.inner.participant_by_tin(tin)
    }
    fn participants(&self) -> StoreResult<Vec<Participant>> {
        self.inner.participants()
    }
    fn product(&self, gtin: u64) -> StoreResult<Option<Product>> {
        self.inner.product(gtin)
    }
    fn codes(&self, keys: &[CodeKey]) -> StoreResult<Vec<Option<CodeState>>> {
        self.inner.codes(keys)
    }
    fn events(&self, key: &CodeKey) -> StoreResult<Vec<CodeEvent>> {
        self.inner.events(key)
    }
    fn children(&self, parent: &CodeKey) -> StoreResult<Vec<CodeKey>> {
        if *self.fail_children_of.lock().unwrap() == Some(*parent) {
            return Err(StoreError::new("injected read failure"));
        }
        self.inner.children(parent)
    }
    fn document(&self, id: &Uuid) -> StoreResult<Option<StoredDocument>> {
        self.inner.document(id)
    }
    fn document_id_by_seq(&self, seq: u64) -> StoreResult<Option<Uuid>> {
        self.inner.document_id_by_seq(seq)
    }
    fn shipment_closed_by(&self, ship: &Uuid) -> StoreResult<Option<Uuid>> {
        self.inner.shipment_closed_by(ship)
    }
    fn order(&self, id: &Uuid) -> StoreResult<Option<Order>> {
        self.inner.order(id)
    }
    fn orders_of(&self, p: ParticipantId) -> StoreResult<Vec<Order>> {
        self.inner.orders_of(p)
    }
    fn order_serials(&self, id: &Uuid, offset: u32, limit: u32) -> StoreResult<Vec<String>> {
        self.inner.order_serials(id, offset, limit)
    }
    fn blocks(&self) -> StoreResult<Vec<Block>> {
        self.inner.blocks()
    }
    fn block_codes(&self, block: u64) -> StoreResult<Vec<CodeKey>> {
        self.inner.block_codes(block)
    }
    fn inventory(&self, owner: ParticipantId, gtin: u64) -> StoreResult<Vec<(Bucket, i64)>> {
        self.inner.inventory(owner, gtin)
    }
    fn counter(&self, name: &str) -> StoreResult<u64> {
        self.inner.counter(name)
    }
    fn refusal_count(&self) -> StoreResult<u64> {
        self.inner.refusal_count()
    }
    fn products_between(&self, lo: u64, hi: u64, limit: usize) -> StoreResult<Vec<Product>> {
        self.inner.products_between(lo, hi, limit)
    }
    fn log_leaf(&self, index: u64) -> StoreResult<Option<Vec<u8>>> {
        self.inner.log_leaf(index)
    }
    fn log_hashes(&self, ids: &[tlog::NodeId]) -> StoreResult<Vec<Option<tlog::Hash>>> {
        self.inner.log_hashes(ids)
    }
    fn document_log_index(&self, seq: u64) -> StoreResult<Option<u64>> {
        self.inner.document_log_index(seq)
    }
    fn complaints(
        &self,
        start: &uuid::Uuid,
        limit: usize,
    ) -> StoreResult<Vec<registry::complaints::Complaint>> {
        self.inner.complaints(start, limit)
    }
    fn complaint(&self, id: &uuid::Uuid) -> StoreResult<Option<registry::complaints::Complaint>> {
        self.inner.complaint(id)
    }
    fn complaint_photo(&self, id: &uuid::Uuid) -> StoreResult<Option<Vec<u8>>> {
        self.inner.complaint_photo(id)
    }
    fn feed(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.inner.feed(after, limit)
    }
    fn projection_checkpoint(&self, name: &str) -> StoreResult<u64> {
        self.inner.projection_checkpoint(name)
    }
    fn projection_rows(
        &self,
        name: &str,
        start: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.projection_rows(name, start, limit)
    }
    fn commit_projection(
        &self,
        name: &str,
        checkpoint: u64,
        rows: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> StoreResult<()> {
        self.inner.commit_projection(name, checkpoint, rows)
    }
    fn commit(&self, set: &WriteSet) -> StoreResult<()> {
        self.inner.commit(set)
    }
    fn code_range(
        &self,
        gtin: u64,
        serial_len: u8,
        counter: u64,
    ) -> StoreResult<Option<registry::model::CodeRange>> {
        self.inner.code_range(gtin, serial_len, counter)
    }
    fn code_ranges_after(
        &self,
        after: Option<[u8; 17]>,
        limit: usize,
    ) -> StoreResult<Vec<registry::model::CodeRange>> {
        self.inner.code_ranges_after(after, limit)
    }
}

#[test]
fn a_store_error_while_applying_leaves_nothing_half_done() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Flaky {
        inner: store_fjall::FjallStore::open(dir.path()).expect("open store"),
        fail_children_of: Mutex::new(None),
    });
    let w = World::open(store.clone());
    let c = w.introduced(4);
    let (b1, b2) = (w.sscc(), w.sscc());
    w.aggregate(&w.producer, &b1, &c[0..2]);
    w.aggregate(&w.producer, &b2, &c[2..4]);
    let (n, head) = w.reg.log_head().expect("log head");
    // Reading the second box's contents fails while the document is applied.
    *store.fail_children_of.lock().unwrap() = Some(registry::code_key(&b2).expect("sscc"));
    let r = w.doc(
        &w.producer,
        json!({"type": "write_off", "codes": [c[0], c[2]], "reason": "damage"}),
    );
    assert!(r.is_err(), "{r:?}");
    *store.fail_children_of.lock().unwrap() = None;
    let mut kids = w.children(&b1);
    kids.sort();
    let mut want: Vec<String> = c[0..2]
        .iter()
        .map(|x| registry::code_key(x).expect("code").to_string())
        .collect();
    want.sort();
    assert_eq!(
        kids, want,
        "a refused document changed a package's contents"
    );
    assert_eq!(w.state(&c[0]).parent.as_deref(), Some(b1.as_str()));
    assert_eq!(w.reg.log_head().expect("log head"), (n, head));
}
