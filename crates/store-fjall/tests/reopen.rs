//! Reopen: what a commit wrote is there after the store is dropped and opened again on the
//! same directory. The in-process half of the durability tests; the other half
//! (`crates/tracemark/tests/crash.rs`) kills the server process with SIGKILL.

use registry::tx::{Tx, WriterState};
use std::path::Path;
use store::{Store, WriteSet};
use store_fjall::FjallStore;
use types::model::{
    Block, Bucket, CodeEvent, CodeKey, CodeState, DocType, Order, OrderStatus, Participant,
    Product, Role, SerialType, Status, StoredDocument, TailKind,
};
use uuid::Uuid;

const NOW: u64 = 1_764_000_000;
const GTIN: u64 = 4_601_234_567_891;
const UNITS: usize = 300;
const SSCC: u64 = 146_012_345_000_000_017;
const BOX_UNITS: usize = 10;

fn open(dir: &Path) -> FjallStore {
    FjallStore::open(dir).expect("open store")
}

fn unit(i: usize) -> CodeKey {
    CodeKey::unit(GTIN, format!("S{i:05}x").as_bytes())
}

fn participant(id: u32, tin: &str, name: &str, role: Role) -> Participant {
    Participant {
        id,
        tin: tin.into(),
        name: name.into(),
        roles: vec![role],
        public_key: [id as u8; 32],
        region: "RU-MOW".into(),
        registered_at: NOW,
        keys: Vec::new(),
        suspended: None,
        token_generation: 0,
        gs1_prefixes: Vec::new(),
    }
}

fn product() -> Product {
    Product {
        gtin: format!("{GTIN:014}"),
        name: "Reopen boots".into(),
        product_group: "shoes".into(),
        brand: Some("Test".into()),
        shelf_life_days: None,
        max_retail_price: Some(199_900),
        attributes: Some(serde_json::json!({"size": 42})),
        owner: 1,
    }
}

fn order(status: OrderStatus) -> Order {
    Order {
        id: Uuid::from_u128(0x0bde),
        participant: 1,
        gtin: format!("{GTIN:014}"),
        quantity: 3,
        serial_type: SerialType::SelfMade,
        tail: TailKind::Mac,
        key_index: 1,
        serial_len: 13,
        counter_start: 0,
        status,
        produced: 3,
        created_at: NOW,
        error: None,
    }
}

fn block(lifted_at: Option<u64>) -> Block {
    Block {
        id: 1,
        gtin: Some(format!("{GTIN:014}")),
        batch: None,
        codes: 2,
        reason: "recall".into(),
        participant: 3,
        created_at: NOW,
        lifted_at,
    }
}

fn document(seq: u64, doc_type: DocType, codes: u64) -> StoredDocument {
    StoredDocument {
        request: Default::default(),
        log_index: None,
        id: Uuid::from_u128(0xd0c0 + u128::from(seq)),
        seq,
        doc_type,
        participant: 1,
        received_at: NOW + seq,
        codes,
        body_hash: [seq as u8; 32],
        chain: [0xc0 ^ seq as u8; 32],
        signature: format!("signature-{seq}"),
        body: format!("{{\"type\":\"{}\",\"n\":{seq}}}", doc_type.name()).into_bytes(),
    }
}

fn event(doc_seq: u64, doc_type: DocType, status: Status) -> CodeEvent {
    CodeEvent {
        doc_seq,
        at: NOW + doc_seq,
        doc_type,
        status,
        reason: None,
        owner: 1,
        actor: 1,
        // The only earlier event in this test is the emission, document 0.
        prev: 0,
    }
}

fn emitted(i: usize) -> CodeState {
    let mut st = CodeState::new(Status::Emitted, 1, NOW);
    st.producer = 1;
    st.tail = TailKind::Mac;
    st.tail_fp = 1_000 + i as u64;
    st.events = 1;
    if i < BOX_UNITS {
        st.parent = Some(CodeKey::sscc(SSCC));
    }
    st
}

fn applied(i: usize) -> CodeState {
    let mut st = emitted(i);
    st.status = Status::Applied;
    st.events = 2;
    st.last_event = 2;
    if i < 2 {
        st.parent = None;
    }
    st
}

fn box_state(children: u32) -> CodeState {
    let mut st = CodeState::new(Status::Emitted, 1, NOW);
    st.children = children;
    st
}

/// Every table gets something: participants, a product, codes, events, links, a
/// document, a closed shipment, an order with its serials, a block and its codes,
/// inventory, counters, refusals.
fn first_set() -> WriteSet {
    let mut s = WriteSet {
        participants: vec![
            participant(1, "7702000001", "Reopen Producer", Role::Producer),
            participant(2, "7702000002", "Reopen Wholesaler", Role::Wholesaler),
        ],
        products: vec![product()],
        ..WriteSet::default()
    };
    for i in 0..UNITS {
        s.codes.push((unit(i), emitted(i)));
        s.events
            .push((unit(i), 0, event(0, DocType::Emit, Status::Emitted)));
    }
    s.codes
        .push((CodeKey::sscc(SSCC), box_state(BOX_UNITS as u32)));
    for i in 0..BOX_UNITS {
        s.links_added.push((CodeKey::sscc(SSCC), unit(i)));
    }
    s.documents
        .push(document(1, DocType::Aggregate, BOX_UNITS as u64 + 1));
    s.shipments_closed
        .push((Uuid::from_u128(0x5410), Uuid::from_u128(0xacce)));
    s.orders.push(order(OrderStatus::Ready));
    s.order_serials.push((
        order(OrderStatus::Ready).id,
        0,
        vec!["A1".into(), "A2".into(), "A3".into()],
    ));
    s.blocks.push(block(None));
    s.block_codes.push((1, unit(0)));
    s.block_codes.push((1, unit(1)));
    s.inventory
        .push((1, GTIN, Bucket::Status(Status::Emitted), UNITS as i64));
    s.inventory.push((1, GTIN, Bucket::InTransitOut, 5));
    s.counters.push(("doc_seq".into(), 2));
    s.counters.push(("reopen_test".into(), 42));
    s.refusals.push((1, NOW, "{\"n\":1}".into()));
    s.refusals.push((2, NOW, "{\"n\":2}".into()));
    s
}

/// Overwrites, removals and deltas over the first set.
fn second_set() -> WriteSet {
    let mut s = WriteSet {
        participants: vec![participant(
            1,
            "7702000001",
            "Reopen Producer JSC",
            Role::Producer,
        )],
        ..WriteSet::default()
    };
    for i in 0..UNITS / 3 {
        s.codes.push((unit(i), applied(i)));
        s.events
            .push((unit(i), 1, event(2, DocType::Apply, Status::Applied)));
    }
    s.codes
        .push((CodeKey::sscc(SSCC), box_state(BOX_UNITS as u32 - 2)));
    s.links_removed.push((CodeKey::sscc(SSCC), unit(0)));
    s.links_removed.push((CodeKey::sscc(SSCC), unit(1)));
    s.documents
        .push(document(2, DocType::Apply, UNITS as u64 / 3));
    s.orders.push(order(OrderStatus::Closed));
    s.blocks.push(block(Some(NOW + 60)));
    let n = UNITS as i64 / 3;
    s.inventory
        .push((1, GTIN, Bucket::Status(Status::Emitted), -n));
    s.inventory
        .push((1, GTIN, Bucket::Status(Status::Applied), n));
    // The same counter twice in one set: the deltas add up.
    s.inventory.push((1, GTIN, Bucket::InTransitOut, 2));
    s.inventory.push((1, GTIN, Bucket::InTransitOut, -4));
    s.counters.push(("doc_seq".into(), 3));
    s.refusals.push((1, NOW + 1, "{\"n\":3}".into()));
    s
}

/// After a reopen: a document, a counter and a refusal more.
fn third_set() -> WriteSet {
    WriteSet {
        documents: vec![document(3, DocType::Introduce, 0)],
        counters: vec![("doc_seq".into(), 4)],
        refusals: vec![(2, NOW + 2, "{\"n\":4}".into())],
        ..WriteSet::default()
    }
}

/// Everything the first two sets (and the third, from `stage` 3) wrote, read back.
fn check(s: &FjallStore, stage: u8) {
    // Participants: the second set's rename won; found by id and by TIN.
    let p1 = participant(1, "7702000001", "Reopen Producer JSC", Role::Producer);
    let p2 = participant(2, "7702000002", "Reopen Wholesaler", Role::Wholesaler);
    assert_eq!(s.participant(1).expect("read"), Some(p1.clone()));
    assert_eq!(
        s.participant_by_tin("7702000002").expect("read"),
        Some(p2.clone())
    );
    assert_eq!(s.participants().expect("read"), vec![p1, p2]);
    assert_eq!(s.product(GTIN).expect("read"), Some(product()));

    // Codes: a third applied, the rest emitted; two units out of the box.
    let keys: Vec<CodeKey> = (0..UNITS).map(unit).collect();
    let states = s.codes(&keys).expect("read");
    for (i, st) in states.iter().enumerate() {
        let want = if i < UNITS / 3 {
            applied(i)
        } else {
            emitted(i)
        };
        assert_eq!(*st, Some(want), "state of unit {i}");
        let events = s.events(&keys[i]).expect("read");
        let mut want = vec![event(0, DocType::Emit, Status::Emitted)];
        if i < UNITS / 3 {
            want.push(event(2, DocType::Apply, Status::Applied));
        }
        assert_eq!(events, want, "history of unit {i}");
    }
    assert_eq!(
        s.codes(&[CodeKey::sscc(SSCC), unit(UNITS)]).expect("read"),
        vec![Some(box_state(BOX_UNITS as u32 - 2)), None]
    );
    let mut kids = s.children(&CodeKey::sscc(SSCC)).expect("read");
    kids.sort();
    let mut want: Vec<CodeKey> = (2..BOX_UNITS).map(unit).collect();
    want.sort();
    assert_eq!(kids, want, "the box's children");

    // Documents, by id and by sequence number.
    let docs = [
        document(1, DocType::Aggregate, BOX_UNITS as u64 + 1),
        document(2, DocType::Apply, UNITS as u64 / 3),
        document(3, DocType::Introduce, 0),
    ];
    for (n, d) in docs.iter().enumerate() {
        let there = n < 2 || stage >= 3;
        assert_eq!(
            s.document(&d.id).expect("read"),
            there.then(|| d.clone()),
            "document {}",
            d.seq
        );
        assert_eq!(
            s.document_id_by_seq(d.seq).expect("read"),
            there.then_some(d.id)
        );
    }
    assert_eq!(
        s.shipment_closed_by(&Uuid::from_u128(0x5410))
            .expect("read"),
        Some(Uuid::from_u128(0xacce))
    );
    assert_eq!(
        s.shipment_closed_by(&Uuid::from_u128(0xacce))
            .expect("read"),
        None
    );

    // Orders, serials, blocks.
    let o = order(OrderStatus::Closed);
    assert_eq!(s.order(&o.id).expect("read"), Some(o.clone()));
    assert_eq!(s.orders_of(1).expect("read"), vec![o.clone()]);
    assert_eq!(s.orders_of(2).expect("read"), vec![]);
    assert_eq!(
        s.order_serials(&o.id, 1, 10).expect("read"),
        vec!["A2".to_string(), "A3".to_string()]
    );
    assert_eq!(s.blocks().expect("read"), vec![block(Some(NOW + 60))]);
    assert_eq!(s.block_codes(1).expect("read"), vec![unit(0), unit(1)]);

    // Inventory deltas summed across commits; counters; refusals.
    let mut inv = s.inventory(1, GTIN).expect("read");
    inv.sort();
    let n = UNITS as i64 / 3;
    assert_eq!(
        inv,
        vec![
            (Bucket::Status(Status::Emitted), UNITS as i64 - n),
            (Bucket::Status(Status::Applied), n),
            (Bucket::InTransitOut, 3),
        ]
    );
    assert_eq!(
        s.counter("doc_seq").expect("read"),
        if stage >= 3 { 4 } else { 3 }
    );
    assert_eq!(s.counter("reopen_test").expect("read"), 42);
    assert_eq!(s.counter("never_set").expect("read"), 0);
    assert_eq!(
        s.refusal_count().expect("read"),
        if stage >= 3 { 4 } else { 3 }
    );
}

#[test]
fn every_table_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let s = open(dir.path());
        s.commit(&first_set()).expect("commit");
        s.commit(&second_set()).expect("commit");
        check(&s, 2);
    }
    let s = open(dir.path());
    check(&s, 2);
    // Writing goes on after a reopen: refusals keep their numbering, nothing is lost.
    s.commit(&third_set()).expect("commit");
    check(&s, 3);
    drop(s);
    let s = open(dir.path());
    check(&s, 3);
    drop(s);
    check(&open(dir.path()), 3);
}

/// Batches of documents as the writer makes them (through [`Tx`]), over two reopens:
/// the writer's counters (sequence, chain head) load back as they were kept in memory,
/// and every document, state, event and inventory count is there.
#[test]
fn writer_batches_survive_reopening() {
    const BATCHES: usize = 40;
    const DOCS_PER_BATCH: usize = 3;
    const CODES_PER_DOC: usize = 20;
    const CODES: usize = BATCHES * DOCS_PER_BATCH * CODES_PER_DOC;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = |i: usize| CodeKey::unit(GTIN, format!("W{i:06}").as_bytes());

    // The codes, emitted in one batch.
    let mut state = {
        let s = open(dir.path());
        let mut tx = Tx::new(&s, NOW, WriterState::load(&s).expect("load"));
        let keys: Vec<CodeKey> = (0..CODES).map(key).collect();
        tx.load(&keys).expect("load");
        for i in 0..CODES {
            tx.put_code(key(i), CodeState::new(Status::Emitted, 1, NOW));
        }
        let (set, state) = tx.finish();
        s.commit(&set).expect("commit");
        state
    };
    let mut docs: Vec<StoredDocument> = Vec::new();
    for half in [0..BATCHES / 2, BATCHES / 2..BATCHES] {
        let s = open(dir.path());
        assert_eq!(
            WriterState::load(&s).expect("load"),
            state,
            "writer counters after a reopen"
        );
        for b in half {
            let mut tx = Tx::new(&s, NOW + b as u64, state.clone());
            for d in 0..DOCS_PER_BATCH {
                let first = (b * DOCS_PER_BATCH + d) * CODES_PER_DOC;
                let keys: Vec<CodeKey> = (first..first + CODES_PER_DOC).map(key).collect();
                tx.load(&keys).expect("load");
                let seq = tx.next_seq();
                for k in &keys {
                    let mut st = tx.code(k).expect("read").expect("emitted");
                    st.status = Status::Applied;
                    tx.transition(*k, st, seq, DocType::Apply, 1);
                }
                let body = format!("{{\"type\":\"apply\",\"first\":{first}}}").into_bytes();
                docs.push(tx.put_document(StoredDocument {
                    request: Default::default(),
                    log_index: None,
                    id: Uuid::from_u128(0xbeef_0000 + u128::from(seq)),
                    seq,
                    doc_type: DocType::Apply,
                    participant: 1,
                    received_at: tx.now,
                    codes: CODES_PER_DOC as u64,
                    body_hash: [seq as u8; 32],
                    chain: [0; 32],
                    signature: format!("sig-{seq}"),
                    body,
                }));
            }
            let (set, next) = tx.finish();
            s.commit(&set).expect("commit");
            state = next;
        }
    }

    let s = open(dir.path());
    assert_eq!(WriterState::load(&s).expect("load"), state);
    assert_eq!(state.next_seq, docs.len() as u64 + 1);
    assert_eq!(docs.last().map(|d| d.chain), Some(state.chain));
    for d in &docs {
        assert_eq!(s.document(&d.id).expect("read").as_ref(), Some(d));
        assert_eq!(s.document_id_by_seq(d.seq).expect("read"), Some(d.id));
    }
    let keys: Vec<CodeKey> = (0..CODES).map(key).collect();
    for (i, st) in s.codes(&keys).expect("read").into_iter().enumerate() {
        let st = st.expect("code");
        assert_eq!((st.status, st.events), (Status::Applied, 1), "code {i}");
        let seq = (i / CODES_PER_DOC) as u64 + 1;
        assert_eq!(
            s.events(&keys[i]).expect("read"),
            vec![CodeEvent {
                doc_seq: seq,
                at: NOW + (seq - 1) / DOCS_PER_BATCH as u64,
                doc_type: DocType::Apply,
                status: Status::Applied,
                reason: None,
                owner: 1,
                actor: 1,
                prev: 0,
            }],
            "history of code {i}"
        );
    }
    let inv: Vec<(Bucket, i64)> = s
        .inventory(1, GTIN)
        .expect("read")
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .collect();
    assert_eq!(inv, vec![(Bucket::Status(Status::Applied), CODES as i64)]);
}
