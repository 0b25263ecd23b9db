//! The conformance suite every storage engine runs.
//!
//! Each test gets a fresh store from the engine's [`MakeStore`], opens a [`Registry`] over it
//! in a [`World`] (participants, products, a movable clock) and drives it only through the
//! public registry API and the [`Store`] trait: nothing here knows the engine.
//!
//! Every rule of a code's life and of the till check (docs/domain.md) has a test showing it
//! refused with its stable reason word, and that the refused document changed nothing; the
//! happy paths walk the whole chain.
//!
//! A crate of its own (not in the registry's `src`): only tests and the simulator link it.
//! [`faults`] holds a store that fails on purpose.
//!
//! Run everything with [`run_all`], one test with [`run_one`]; [`TESTS`] lists them.

use registry::{CodeInfo, PosItem, PosResult};
use registry::{DocAnswer, NewBlock, NewOrder, NewParticipant, NewProduct, Registry};
use store::Store;
use types::error::{CodeError, Error, Result};
use types::model::{
    Bucket, OrderStatus, Participant, ParticipantId, Role, SerialType, Status, TailKind,
};
pub mod faults;

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Makes a fresh, empty store; the second value keeps its resources (a temp dir) alive.
pub type MakeStore<'a> = &'a dyn Fn() -> (Arc<dyn Store>, Box<dyn std::any::Any>);

/// One conformance test.
pub type Test = fn(&World);

/// The start of the world's clock: 2025-03-01T12:00:00Z.
pub const START: u64 = 1_740_830_400;

const DAY: u64 = 86_400;
/// The test producer's GS1 company prefix (its GTINs and SSCCs start with it).
pub const PRODUCER_PREFIX: &str = "4600000";
const GS: char = '\u{1d}';

/// A registry over a fresh store, with participants, products and a clock tests move.
pub struct World {
    /// The registry under test.
    pub reg: Registry,
    /// The clock (Unix seconds).
    pub clock: Arc<AtomicU64>,
    /// Producer (owns [`World::gtin`] and [`World::milk`]).
    pub producer: Participant,
    /// Importer (owns [`World::import_gtin`]).
    pub importer: Participant,
    /// Wholesaler.
    pub wholesaler: Participant,
    /// First retailer.
    pub retailer: Participant,
    /// Second retailer.
    pub retailer2: Participant,
    /// Regulator.
    pub regulator: Participant,
    /// Clothes (13-character serials, 60-day emission TTL, max retail price 10000).
    pub gtin: String,
    /// Milk (6-character serials, 30-day emission TTL).
    pub milk: String,
    /// The importer's perfume.
    pub import_gtin: String,
    next_sscc: AtomicU64,
}

/// What a test does when something it needs is missing (`what`: `shared` for the GS1
/// data in `../shared`, `citus`, `python` for a Python module, `root`, `tools`): it fails,
/// saying `why` and naming what it needs, unless `TRACEMARK_ALLOW_SKIP` lists `what` (or
/// says `all`), when it prints that it skipped and returns. No test passes by skipping
/// silently; `scripts/test` sets `TRACEMARK_ALLOW_SKIP=shared,citus` only on a clone
/// without `../shared`, and says so.
pub fn skip_or_fail(what: &str, why: &str) {
    let allowed = std::env::var("TRACEMARK_ALLOW_SKIP").unwrap_or_default();
    if allowed
        .split(',')
        .any(|w| w.trim() == what || w.trim() == "all")
    {
        eprintln!("SKIPPED (TRACEMARK_ALLOW_SKIP={allowed}): {why}");
    } else {
        panic!("{why}: this test needs it; set TRACEMARK_ALLOW_SKIP={what} to skip it instead");
    }
}

/// Appends the GS1 mod-10 check digit to `body`.
pub fn with_check_digit(body: &str) -> String {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The identification code of a full code (everything before the first GS).
pub fn id(code: &str) -> String {
    code.split(GS).next().unwrap_or(code).to_string()
}

/// Identification codes of full codes.
pub fn ids(codes: &[String]) -> Vec<String> {
    codes.iter().map(|c| id(c)).collect()
}

/// A full code with one character of its tail changed.
pub fn tampered(code: &str) -> String {
    let mut b = code.as_bytes().to_vec();
    let i = b.len() - 3;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).expect("ascii")
}

/// The keyring a seed makes (the same every time).
pub fn seeded_keyring(seed: u64) -> issuance::Keyring {
    use rand::SeedableRng;
    issuance::Keyring::generate_with_rng(&mut rand::rngs::StdRng::seed_from_u64(seed), START)
}

fn participant_with(
    reg: &Registry,
    tin: &str,
    name: &str,
    roles: Vec<Role>,
    prefixes: &[&str],
) -> Participant {
    use base64::Engine;
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let public_key =
        base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes());
    reg.register_participant(NewParticipant {
        tin: tin.into(),
        name: name.into(),
        roles,
        public_key,
        region: "RU-MOW".into(),
        gs1_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
    })
    .expect("register participant")
}

fn product(reg: &Registry, owner: &Participant, gtin: &str, group: &str, max: Option<u64>) {
    reg.put_product(
        owner,
        NewProduct {
            gtin: gtin.into(),
            name: format!("{group} {gtin}"),
            product_group: group.into(),
            brand: Some("Brand".into()),
            shelf_life_days: None,
            max_retail_price: max,
            attributes: None,
        },
    )
    .expect("put product");
}

impl World {
    /// Opens a registry over a fresh, empty store and populates it.
    pub fn open(store: Arc<dyn Store>) -> World {
        World::start(store, issuance::Keyring::generate(START), START, 1, true)
    }

    /// A world from one seed: the same seed makes the same keyring (and so the same
    /// codes, serials and tails), for the simulator's replays.
    pub fn open_seeded(store: Arc<dyn Store>, seed: u64) -> World {
        World::start(store, seeded_keyring(seed), START, 1, true)
    }

    /// The world of [`World::open_seeded`] again on its store after a restart: the same
    /// keyring, the clock at `now`, the next SSCC serial `next_sscc`, its participants
    /// read back from the store.
    pub fn reopen(store: Arc<dyn Store>, seed: u64, now: u64, next_sscc: u64) -> World {
        World::start(store, seeded_keyring(seed), now, next_sscc, false)
    }

    /// The next SSCC serial [`World::sscc`] hands out (for [`World::reopen`]).
    pub fn next_sscc(&self) -> u64 {
        self.next_sscc.load(Ordering::SeqCst)
    }

    fn start(
        store: Arc<dyn Store>,
        keyring: issuance::Keyring,
        now: u64,
        next_sscc: u64,
        fresh: bool,
    ) -> World {
        let clock = Arc::new(AtomicU64::new(now));
        let c = clock.clone();
        let reg = Registry::open(store, keyring, Arc::new(move || c.load(Ordering::SeqCst)))
            .expect("open registry");
        let who = |tin: &str, name: &str, roles: Vec<Role>, prefixes: &[&str]| {
            if fresh {
                participant_with(&reg, tin, name, roles, prefixes)
            } else {
                reg.participant_by_tin(tin)
                    .expect("participant")
                    .unwrap_or_else(|| panic!("{tin} is not in the reopened store"))
            }
        };
        let producer = who(
            "7701000001",
            "Producer LLC",
            vec![Role::Producer],
            &[PRODUCER_PREFIX],
        );
        let importer = who("7701000002", "Importer LLC", vec![Role::Importer], &[]);
        let wholesaler = who("7701000003", "Wholesaler LLC", vec![Role::Wholesaler], &[]);
        let retailer = who("7701000004", "Retailer One LLC", vec![Role::Retailer], &[]);
        let retailer2 = who("7701000005", "Retailer Two LLC", vec![Role::Retailer], &[]);
        let regulator = who("7701000006", "Regulator", vec![Role::Regulator], &[]);
        let gtin = with_check_digit("0460000000001");
        let milk = with_check_digit("0460000000002");
        // A foreign brand's GTIN: a prefix no participant holds.
        let import_gtin = with_check_digit("0890000000003");
        if fresh {
            product(&reg, &producer, &gtin, "clothes", Some(10_000));
            product(&reg, &producer, &milk, "milk", None);
            product(&reg, &importer, &import_gtin, "perfume", None);
        }
        World {
            reg,
            clock,
            producer,
            importer,
            wholesaler,
            retailer,
            retailer2,
            regulator,
            gtin,
            milk,
            import_gtin,
            next_sscc: AtomicU64::new(next_sscc),
        }
    }

    /// Now (Unix seconds).
    pub fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    /// Moves the clock `n` days forward.
    pub fn days(&self, n: u64) {
        self.clock.fetch_add(n * DAY, Ordering::SeqCst);
    }

    /// Today as YYYY-MM-DD.
    pub fn today(&self) -> String {
        self.date(0)
    }

    /// Today plus `n` days as YYYY-MM-DD.
    pub fn date(&self, n: u32) -> String {
        types::time::format_date(types::time::day_of(self.now()) + n)
    }

    /// A fresh SSCC (`00` + 18 digits with a valid check digit).
    pub fn sscc(&self) -> String {
        let n = self.next_sscc.fetch_add(1, Ordering::SeqCst);
        format!(
            "00{}",
            with_check_digit(&format!("1{PRODUCER_PREFIX}{n:09}"))
        )
    }

    /// A fresh SSCC in a GS1 company prefix nobody holds (what a shop without a prefix of
    /// its own may form).
    pub fn sscc_free(&self) -> String {
        let n = self.next_sscc.fetch_add(1, Ordering::SeqCst);
        format!("00{}", with_check_digit(&format!("1990000{n:010}")))
    }

    /// Orders `n` codes of `gtin` with a tail kind, waits until ready and fetches them all.
    pub fn order(&self, actor: &Participant, gtin: &str, n: u32, tail: &str) -> Vec<String> {
        let o = self
            .reg
            .create_order(
                actor,
                NewOrder {
                    gtin: gtin.into(),
                    quantity: n,
                    serial_type: SerialType::Operator,
                    serials: None,
                    tail: tail.into(),
                },
            )
            .expect("create order");
        self.fetch_order(actor, o.id)
    }

    /// Waits for an order to leave `pending` (30 s at most) and returns its status.
    pub fn wait_order(&self, actor: &Participant, id: uuid::Uuid) -> OrderStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let o = self.reg.order(actor, &id).expect("order");
            if o.status != OrderStatus::Pending {
                return o.status;
            }
            assert!(
                Instant::now() < deadline,
                "order {id} still pending after 30 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn fetch_order(&self, actor: &Participant, id: uuid::Uuid) -> Vec<String> {
        assert_eq!(
            self.wait_order(actor, id),
            OrderStatus::Ready,
            "order {id} not ready"
        );
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .reg
                .order_codes(actor, &id, offset, 1000)
                .expect("order codes");
            out.extend(page.codes);
            match page.next_offset {
                Some(n) => offset = n,
                None => return out,
            }
        }
    }

    /// Submits a document (a fresh uuid `id` unless the body has one).
    pub fn doc(&self, actor: &Participant, mut body: Value) -> Result<DocAnswer> {
        if body.get("id").is_none() {
            body["id"] = json!(uuid::Uuid::new_v4());
        }
        let bytes = serde_json::to_vec(&body).expect("json");
        self.reg
            .submit_document(actor, bytes, types::model::SignedRequest::default())
    }

    /// Submits a document that must be accepted; returns its id.
    pub fn ok(&self, actor: &Participant, body: Value) -> uuid::Uuid {
        let what = body.to_string();
        match self.doc(actor, body) {
            Ok(a) => a.id,
            Err(e) => panic!("document {what} refused: {e} {e:?}"),
        }
    }

    /// Applies codes (as the producer).
    pub fn apply(&self, actor: &Participant, codes: &[String]) -> uuid::Uuid {
        self.ok(actor, json!({"type": "apply", "codes": ids(codes)}))
    }

    /// Introduces codes (as the producer) with optional expiry and batch.
    pub fn introduce(
        &self,
        codes: &[String],
        expiry: Option<String>,
        batch: Option<&str>,
    ) -> uuid::Uuid {
        let mut b =
            json!({"type": "introduce", "codes": ids(codes), "production_date": self.today()});
        if let Some(e) = expiry {
            b["expiry_date"] = json!(e);
        }
        if let Some(x) = batch {
            b["batch"] = json!(x);
        }
        self.ok(&self.producer, b)
    }

    /// `n` codes of the producer's clothes, applied.
    pub fn applied(&self, n: u32) -> Vec<String> {
        let codes = self.order(&self.producer, &self.gtin, n, "mac");
        self.apply(&self.producer, &codes);
        codes
    }

    /// `n` codes of the producer's clothes, in circulation at the producer.
    pub fn introduced(&self, n: u32) -> Vec<String> {
        let codes = self.applied(n);
        self.introduce(&codes, None, None);
        codes
    }

    /// Ships codes; returns the ship document id.
    pub fn ship(&self, from: &Participant, to: &Participant, codes: &[String]) -> uuid::Uuid {
        self.ok(
            from,
            json!({"type": "ship", "receiver": to.tin, "codes": ids(codes)}),
        )
    }

    /// Accepts a shipment, rejecting some codes.
    pub fn accept(&self, to: &Participant, ship: uuid::Uuid, reject: &[String]) -> uuid::Uuid {
        let mut b = json!({"type": "accept", "shipment": ship});
        if !reject.is_empty() {
            b["reject"] = json!(ids(reject));
        }
        self.ok(to, b)
    }

    /// Moves codes from one owner to another (ship and accept).
    pub fn transfer(&self, from: &Participant, to: &Participant, codes: &[String]) {
        let s = self.ship(from, to, codes);
        self.accept(to, s, &[]);
    }

    /// `n` introduced clothes owned by the first retailer.
    pub fn at_retailer(&self, n: u32) -> Vec<String> {
        let codes = self.introduced(n);
        self.transfer(&self.producer, &self.retailer, &codes);
        codes
    }

    /// A `sell` document body for codes.
    pub fn sell_body(&self, codes: &[String]) -> Value {
        json!({
            "type": "sell",
            "codes": ids(codes),
            "receipt": {
                "fiscal_drive": "9999078900001234",
                "number": 17,
                "at": types::time::format_timestamp(self.now()),
                "store": "Moscow, Tverskaya 1",
            },
        })
    }

    /// Sells codes as `actor`.
    pub fn sell(&self, actor: &Participant, codes: &[String]) -> Result<DocAnswer> {
        self.doc(actor, self.sell_body(codes))
    }

    /// Forms a package of `children` under `parent` as `actor`.
    pub fn aggregate(&self, actor: &Participant, parent: &str, children: &[String]) -> uuid::Uuid {
        self.ok(
            actor,
            json!({"type": "aggregate", "parent": parent, "children": ids(children)}),
        )
    }

    /// A code's card as the regulator sees it.
    pub fn state(&self, code: &str) -> CodeInfo {
        self.reg
            .code_info(&self.regulator, code)
            .unwrap_or_else(|e| panic!("code_info {code}: {e}"))
    }

    /// A package's direct children (identification codes, sorted).
    pub fn children(&self, code: &str) -> Vec<String> {
        let mut c = self.state(code).children;
        c.sort();
        c
    }

    /// A code's status.
    pub fn status(&self, code: &str) -> &'static str {
        self.state(code).status
    }

    /// A code's owner's TIN.
    pub fn owner(&self, code: &str) -> String {
        self.state(code).owner.unwrap_or_default()
    }

    /// `actor`'s inventory of `gtin`: (`by_status[status]`, in_transit, incoming).
    pub fn inv(&self, actor: &Participant, gtin: &str, status: &str) -> (i64, i64, i64) {
        let i = self.reg.inventory(actor, gtin).expect("inventory");
        (
            i.by_status.get(status).copied().unwrap_or(0),
            i.in_transit,
            i.incoming,
        )
    }

    fn everyone(&self) -> [&Participant; 6] {
        [
            &self.producer,
            &self.importer,
            &self.wholesaler,
            &self.retailer,
            &self.retailer2,
            &self.regulator,
        ]
    }

    /// Everything observable about `codes`: cards with history, every inventory, the log head.
    pub fn snapshot(&self, codes: &[String]) -> String {
        let mut out = Vec::new();
        for c in codes {
            out.push(match self.reg.code_info(&self.regulator, c) {
                Ok(info) => serde_json::to_value(&info).expect("json"),
                Err(e) => json!(format!("{e}")),
            });
        }
        for p in self.everyone() {
            for g in [&self.gtin, &self.milk, &self.import_gtin] {
                out.push(
                    serde_json::to_value(self.reg.inventory(p, g).expect("inventory"))
                        .expect("json"),
                );
            }
        }
        let (n, head) = self.reg.log_head().expect("log head");
        out.push(json!([n, head.to_vec()]));
        serde_json::to_string(&out).expect("json")
    }

    /// Submits a document that must be refused naming `bad` with `reason`, and checks that
    /// nothing observable about `watch` (plus `bad`) changed. Returns every error.
    pub fn refused(
        &self,
        actor: &Participant,
        body: Value,
        watch: &[String],
        bad: &str,
        reason: &str,
    ) -> Vec<CodeError> {
        let mut all: Vec<String> = watch.to_vec();
        if registry::code_key(bad).is_ok() {
            all.push(bad.to_string());
        }
        let before = self.snapshot(&all);
        let what = body.to_string();
        let errors = match self.doc(actor, body) {
            Ok(a) => panic!("document {what} was accepted ({a:?}); expected {reason} for {bad}"),
            Err(Error::Invalid { errors, detail }) => {
                assert!(
                    errors.iter().any(|e| e.code == bad && e.reason == reason),
                    "expected {reason} for {bad}, got {errors:?} ({detail})"
                );
                errors
            }
            Err(e) => panic!("expected {reason} for {bad}, got {e:?}"),
        };
        assert_eq!(
            before,
            self.snapshot(&all),
            "a refused document changed state"
        );
        errors
    }

    /// Checks `f` refuses without changing anything about `watch`; returns the error.
    pub fn unchanged<T: std::fmt::Debug>(
        &self,
        watch: &[String],
        f: impl FnOnce() -> Result<T>,
    ) -> Error {
        let before = self.snapshot(watch);
        let e = match f() {
            Ok(v) => panic!("expected a refusal, got {v:?}"),
            Err(e) => e,
        };
        assert_eq!(
            before,
            self.snapshot(watch),
            "a refused request changed state"
        );
        e
    }

    /// Till check of codes as `actor`.
    pub fn pos(&self, actor: &Participant, items: Vec<PosItem>) -> Vec<PosResult> {
        self.reg.pos_check(actor, &items).expect("pos check").1
    }

    /// Till check of one code by the first retailer: its reasons.
    pub fn pos_reasons(&self, code: &str) -> Vec<&'static str> {
        self.pos(&self.retailer, vec![PosItem::Code(code.into())])
            .remove(0)
            .reasons
    }

    /// The verify verdict of a code.
    pub fn verdict(&self, code: &str) -> &'static str {
        self.reg.verify(code).expect("verify").verdict
    }

    /// Blocks as the regulator.
    pub fn block(
        &self,
        gtin: Option<&str>,
        batch: Option<&str>,
        codes: Option<Vec<String>>,
    ) -> u64 {
        self.reg
            .create_block(
                &self.regulator,
                NewBlock {
                    gtin: gtin.map(Into::into),
                    batch: batch.map(Into::into),
                    codes,
                    reason: "recall".into(),
                },
            )
            .expect("block")
            .id
    }

    fn key(&self, code: &str) -> String {
        registry::code_key(code).expect("code").to_string()
    }

    fn history_docs(&self, code: &str) -> Vec<(Option<uuid::Uuid>, &'static str)> {
        self.state(code)
            .history
            .iter()
            .map(|h| (h.document, h.doc_type))
            .collect()
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Identification codes (or SSCCs), sorted: how [`World::children`] lists them.
fn sorted(codes: &[String]) -> Vec<String> {
    let mut v: Vec<String> = codes
        .iter()
        .map(|c| registry::code_key(c).expect("code").to_string())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- happy paths

fn whole_chain_producer_wholesaler_retailer_sale(w: &World) {
    let c = w.introduced(7);
    let (box1, box2, pallet) = (w.sscc(), w.sscc(), w.sscc());
    w.aggregate(&w.producer, &box1, &c[0..3]);
    w.aggregate(&w.producer, &box2, &c[3..6]);
    w.aggregate(&w.producer, &pallet, &s(&[&box1, &box2]));
    assert_eq!(w.state(&box1).parent, Some(w.key(&pallet)));
    assert_eq!(w.state(&c[0]).parent, Some(w.key(&box1)));
    assert_eq!(w.children(&pallet), sorted(&[box1.clone(), box2.clone()]));
    assert_eq!(w.status(&pallet), "INTRODUCED");

    let mut sent = vec![pallet.clone()];
    sent.push(c[6].clone());
    let ship = w.ship(&w.producer, &w.wholesaler, &sent);
    for x in c.iter().chain([&box1, &box2, &pallet]) {
        let st = w.state(x);
        assert_eq!(
            st.in_transit_to.as_deref(),
            Some(w.wholesaler.tin.as_str()),
            "{x}"
        );
        assert_eq!(st.owner.as_deref(), Some(w.producer.tin.as_str()));
    }
    // Partial reject of one unit inside a box: it goes back to the seller and leaves its box.
    w.accept(&w.wholesaler, ship, &c[1..2]);
    let r = w.state(&c[1]);
    assert_eq!(r.owner.as_deref(), Some(w.producer.tin.as_str()));
    assert_eq!(r.parent, None);
    assert_eq!(r.in_transit_to, None);
    assert_eq!(r.status, "INTRODUCED");
    assert_eq!(w.children(&box1), sorted(&[c[0].clone(), c[2].clone()]));
    for x in [&c[0], &c[2], &c[3], &c[6], &box1, &pallet] {
        assert_eq!(w.owner(x), w.wholesaler.tin, "{x}");
        assert_eq!(w.state(x).in_transit_to, None);
    }
    // Nested disaggregation, on to the retailer, sale.
    w.ok(
        &w.wholesaler,
        json!({"type": "disaggregate", "parents": [pallet]}),
    );
    assert_eq!(w.state(&box1).parent, None);
    assert!(w.children(&pallet).is_empty());
    assert_eq!(w.state(&c[0]).parent, Some(w.key(&box1)));
    w.ok(
        &w.wholesaler,
        json!({"type": "disaggregate", "parents": [box1, box2]}),
    );
    assert_eq!(w.state(&c[0]).parent, None);
    let units = vec![c[0].clone(), c[2].clone(), c[3].clone()];
    w.transfer(&w.wholesaler, &w.retailer, &units);
    assert_eq!(w.owner(&c[0]), w.retailer.tin);
    w.sell(&w.retailer, &c[0..1]).expect("sell");
    let st = w.state(&c[0]);
    assert_eq!((st.status, st.reason), ("RETIRED", Some("retail")));
    assert_eq!(st.owner.as_deref(), Some(w.retailer.tin.as_str()));
    assert_eq!(w.status(&c[2]), "INTRODUCED");
}

fn history_lists_each_event_with_its_document(w: &World) {
    let c = w.order(&w.producer, &w.gtin, 2, "mac");
    let d1 = w.apply(&w.producer, &c);
    let d2 = w.introduce(&c, None, None);
    let b = w.sscc();
    let d3 = w.aggregate(&w.producer, &b, &c);
    let d4 = w.ship(&w.producer, &w.retailer, std::slice::from_ref(&b));
    let d5 = w.accept(&w.retailer, d4, &[]);
    let d6 = w.sell(&w.retailer, &c[0..1]).expect("sell").id;
    let h = w.history_docs(&c[0]);
    let want = vec![
        (Some(d1), "apply"),
        (Some(d2), "introduce"),
        (Some(d3), "aggregate"),
        (Some(d4), "ship"),
        (Some(d5), "accept"),
        (Some(d6), "sell"),
    ];
    assert_eq!(h, want);
    let info = w.state(&c[0]);
    let owners: Vec<_> = info
        .history
        .iter()
        .map(|e| e.owner.clone().unwrap_or_default())
        .collect();
    let (p, r) = (w.producer.tin.clone(), w.retailer.tin.clone());
    assert_eq!(
        owners,
        vec![p.clone(), p.clone(), p.clone(), p, r.clone(), r]
    );
    let statuses: Vec<_> = info.history.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            "APPLIED",
            "INTRODUCED",
            "INTRODUCED",
            "INTRODUCED",
            "INTRODUCED",
            "RETIRED"
        ]
    );
    // The other unit was not sold: its history stops at accept.
    assert_eq!(w.history_docs(&c[1]).len(), 5);
    // Every document can be read back by its submitter.
    for d in [d1, d2, d3, d4] {
        assert_eq!(w.reg.document(&w.producer, &d).expect("document").id, d);
    }
    assert_eq!(
        w.reg
            .document(&w.retailer, &d4)
            .expect("receiver reads ship")
            .id,
        d4
    );
    assert!(matches!(
        w.reg.document(&w.retailer2, &d4),
        Err(Error::NotFound(_))
    ));
}

fn inventory_counts_move(w: &World) {
    let g = &w.gtin;
    let c = w.order(&w.producer, g, 5, "mac");
    assert_eq!(w.inv(&w.producer, g, "EMITTED"), (5, 0, 0));
    w.apply(&w.producer, &c);
    assert_eq!(w.inv(&w.producer, g, "EMITTED"), (0, 0, 0));
    assert_eq!(w.inv(&w.producer, g, "APPLIED"), (5, 0, 0));
    w.introduce(&c, None, None);
    assert_eq!(w.inv(&w.producer, g, "INTRODUCED"), (5, 0, 0));
    let ship = w.ship(&w.producer, &w.retailer, &c[0..3]);
    assert_eq!(w.inv(&w.producer, g, "INTRODUCED"), (5, 3, 0));
    assert_eq!(w.inv(&w.retailer, g, "INTRODUCED"), (0, 0, 3));
    w.accept(&w.retailer, ship, &c[2..3]);
    assert_eq!(w.inv(&w.producer, g, "INTRODUCED"), (3, 0, 0));
    assert_eq!(w.inv(&w.retailer, g, "INTRODUCED"), (2, 0, 0));
    w.sell(&w.retailer, &c[0..1]).expect("sell");
    assert_eq!(w.inv(&w.retailer, g, "INTRODUCED"), (1, 0, 0));
    assert_eq!(w.inv(&w.retailer, g, "RETIRED"), (1, 0, 0));
    w.ok(
        &w.retailer,
        json!({"type": "return", "codes": [id(&c[0])], "reason": "retail"}),
    );
    assert_eq!(w.inv(&w.retailer, g, "INTRODUCED"), (2, 0, 0));
    assert_eq!(w.inv(&w.retailer, g, "RETIRED"), (0, 0, 0));
    w.ok(
        &w.producer,
        json!({"type": "write_off", "codes": [id(&c[3])], "reason": "damage"}),
    );
    assert_eq!(w.inv(&w.producer, g, "WRITTEN_OFF"), (1, 0, 0));
    assert_eq!(w.inv(&w.producer, g, "INTRODUCED"), (2, 0, 0));
    // Packages (SSCC) count in no GTIN's inventory; their units do.
    w.aggregate(&w.producer, &w.sscc(), &c[4..5]);
    assert_eq!(w.inv(&w.producer, g, "INTRODUCED"), (2, 0, 0));
    // Others see none of it.
    assert_eq!(w.inv(&w.wholesaler, g, "INTRODUCED"), (0, 0, 0));
}

fn import_by_importer(w: &World) {
    let c = w.order(&w.importer, &w.import_gtin, 3, "signature");
    w.apply(&w.importer, &c);
    let d = w.ok(
        &w.importer,
        json!({"type": "import", "codes": ids(&c), "customs_declaration": "10702020/010325/0001234",
               "expiry_date": w.date(400), "batch": "L1"}),
    );
    let st = w.state(&c[0]);
    assert_eq!(st.status, "INTRODUCED");
    assert_eq!(st.owner.as_deref(), Some(w.importer.tin.as_str()));
    assert_eq!(st.producer.as_deref(), Some(w.importer.tin.as_str()));
    assert_eq!(st.expiry_date, Some(w.date(400)));
    assert_eq!(
        st.history.last().map(|h| (h.document, h.doc_type)),
        Some((Some(d), "import"))
    );
    // A producer may not import, an importer may not introduce.
    let e = w.unchanged(&ids(&c), || {
        w.doc(
            &w.producer,
            json!({"type": "import", "codes": ids(&c), "customs_declaration": "x"}),
        )
    });
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    let more = w.order(&w.importer, &w.import_gtin, 1, "mac");
    w.apply(&w.importer, &more);
    let e = w.unchanged(&ids(&more), || {
        w.doc(
            &w.importer,
            json!({"type": "introduce", "codes": ids(&more), "production_date": w.today()}),
        )
    });
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    // Import needs its customs declaration.
    let e = w.unchanged(&ids(&more), || {
        w.doc(&w.importer, json!({"type": "import", "codes": ids(&more)}))
    });
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    w.transfer(&w.importer, &w.retailer, &c);
    w.sell(&w.retailer, &c[0..1]).expect("sell imported");
}

fn return_with_matching_reason(w: &World) {
    let c = w.at_retailer(3);
    w.sell(&w.retailer, &c[0..1]).expect("sell");
    let d = w.ok(
        &w.retailer,
        json!({"type": "return", "codes": [id(&c[0])], "reason": "retail"}),
    );
    let st = w.state(&c[0]);
    assert_eq!((st.status, st.reason), ("INTRODUCED", None));
    assert_eq!(st.owner.as_deref(), Some(w.retailer.tin.as_str()));
    assert_eq!(st.history.last().map(|h| h.document), Some(Some(d)));
    // Sellable again.
    assert_eq!(w.pos_reasons(&id(&c[0])), vec!["no_crypto_tail"]);
    assert!(w.pos(&w.retailer, vec![PosItem::Code(c[0].clone())])[0].sellable);
    w.sell(&w.retailer, &c[0..1])
        .expect("sell again after return");
    // A distance sale comes back with reason distance.
    w.ok(
        &w.retailer,
        json!({"type": "withdraw", "codes": [id(&c[1])], "reason": "distance"}),
    );
    w.ok(
        &w.retailer,
        json!({"type": "return", "codes": [id(&c[1])], "reason": "distance"}),
    );
    assert_eq!(w.status(&c[1]), "INTRODUCED");
}

fn write_off_with_reason(w: &World) {
    let a = w.applied(1);
    w.ok(
        &w.producer,
        json!({"type": "write_off", "codes": ids(&a), "reason": "defect"}),
    );
    let st = w.state(&a[0]);
    assert_eq!((st.status, st.reason), ("WRITTEN_OFF", Some("defect")));
    let c = w.at_retailer(1);
    w.ok(
        &w.retailer,
        json!({"type": "write_off", "codes": ids(&c), "reason": "loss"}),
    );
    let st = w.state(&c[0]);
    assert_eq!((st.status, st.reason), ("WRITTEN_OFF", Some("loss")));
    // A reason not allowed for a write-off refuses the document.
    let d = w.introduced(1);
    let e = w.unchanged(&ids(&d), || {
        w.doc(
            &w.producer,
            json!({"type": "write_off", "codes": ids(&d), "reason": "retail"}),
        )
    });
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    let e = w.unchanged(&ids(&d), || {
        w.doc(&w.producer, json!({"type": "write_off", "codes": ids(&d)}))
    });
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
}

fn withdraw_with_export(w: &World) {
    let c = w.introduced(2);
    let d = w.ok(
        &w.producer,
        json!({"type": "withdraw", "codes": ids(&c), "reason": "export"}),
    );
    let st = w.state(&c[0]);
    assert_eq!((st.status, st.reason), ("RETIRED", Some("export")));
    assert_eq!(
        st.history.last().map(|h| (h.document, h.reason)),
        Some((Some(d), Some("export")))
    );
    assert_eq!(w.verdict(&c[0]), "not_in_circulation");
    assert_eq!(w.inv(&w.producer, &w.gtin, "RETIRED"), (2, 0, 0));
    // `retail` is not a withdrawal reason (sales go through `sell`).
    let e2 = w.introduced(1);
    let e = w.unchanged(&ids(&e2), || {
        w.doc(
            &w.producer,
            json!({"type": "withdraw", "codes": ids(&e2), "reason": "retail"}),
        )
    });
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
}

fn idempotent_same_id_same_body(w: &World) {
    let c = w.at_retailer(2);
    let body = {
        let mut b = w.sell_body(&c[0..1]);
        b["id"] = json!(uuid::Uuid::new_v4());
        b
    };
    let a1 = w.doc(&w.retailer, body.clone()).expect("first");
    let head = w.reg.log_head().expect("head");
    let hist = w.state(&c[0]).history.len();
    let inv = w.inv(&w.retailer, &w.gtin, "RETIRED");
    let a2 = w.doc(&w.retailer, body.clone()).expect("second");
    assert_eq!(a1, a2);
    assert_eq!(head, w.reg.log_head().expect("head"));
    assert_eq!(hist, w.state(&c[0]).history.len());
    assert_eq!(inv, w.inv(&w.retailer, &w.gtin, "RETIRED"));
    assert_eq!(inv, (1, 0, 0));
    // Same id, other body: 409, nothing changes.
    let mut other = w.sell_body(&c[1..2]);
    other["id"] = body["id"].clone();
    let e = w.unchanged(&ids(&c), || w.doc(&w.retailer, other));
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    assert_eq!(w.status(&c[1]), "INTRODUCED");
    // Same id and body from another participant is not the same document.
    let e = w.unchanged(&ids(&c), || w.doc(&w.retailer2, body.clone()));
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
}

fn idempotent_accept_and_ship(w: &World) {
    let c = w.introduced(2);
    let sid = uuid::Uuid::new_v4();
    let ship = json!({"id": sid, "type": "ship", "receiver": w.retailer.tin, "codes": ids(&c)});
    let a1 = w.doc(&w.producer, ship.clone()).expect("ship");
    let a2 = w.doc(&w.producer, ship).expect("ship again");
    assert_eq!(a1, a2);
    assert_eq!(w.state(&c[0]).history.len(), 3);
    let acc = json!({"id": uuid::Uuid::new_v4(), "type": "accept", "shipment": sid});
    let b1 = w.doc(&w.retailer, acc.clone()).expect("accept");
    let b2 = w.doc(&w.retailer, acc).expect("accept again");
    assert_eq!(b1, b2);
    assert_eq!(w.inv(&w.retailer, &w.gtin, "INTRODUCED"), (2, 0, 0));
    // A second accept (another id) of the same shipment is a conflict.
    let e = w.unchanged(&ids(&c), || {
        w.doc(&w.retailer, json!({"type": "accept", "shipment": sid}))
    });
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
}

fn acting_on_code_in_package_takes_it_out(w: &World) {
    let c = w.at_retailer(4);
    let b = w.sscc_free();
    w.aggregate(&w.retailer, &b, &c);
    assert_eq!(w.children(&b).len(), 4);
    w.sell(&w.retailer, &c[0..1]).expect("sell unit in box");
    assert_eq!(w.state(&c[0]).parent, None);
    assert_eq!(w.children(&b), sorted(&c[1..4]));
    w.ok(
        &w.retailer,
        json!({"type": "write_off", "codes": [id(&c[1])], "reason": "damage"}),
    );
    assert_eq!(w.state(&c[1]).parent, None);
    assert_eq!(w.children(&b), sorted(&c[2..4]));
    // Selling the box sells what it still holds, and only that.
    w.sell(&w.retailer, std::slice::from_ref(&b))
        .expect("sell box");
    assert_eq!(w.status(&c[2]), "RETIRED");
    assert_eq!(w.status(&c[3]), "RETIRED");
    assert_eq!(w.status(&c[1]), "WRITTEN_OFF");
    assert_eq!(w.inv(&w.retailer, &w.gtin, "RETIRED"), (3, 0, 0));
}

fn ship_unit_out_of_package(w: &World) {
    let c = w.introduced(3);
    let (b, p) = (w.sscc(), w.sscc());
    w.aggregate(&w.producer, &b, &c[0..2]);
    w.aggregate(&w.producer, &p, &[b.clone(), c[2].clone()]);
    // Shipping a unit from the inner box takes it out of the box only.
    w.transfer(&w.producer, &w.retailer, &c[0..1]);
    assert_eq!(w.state(&c[0]).parent, None);
    assert_eq!(w.children(&b), sorted(&c[1..2]));
    assert_eq!(w.state(&b).parent, Some(w.key(&p)));
    assert_eq!(w.owner(&c[0]), w.retailer.tin);
    assert_eq!(w.owner(&c[1]), w.producer.tin);
}

fn group_package_expiry_is_earliest(w: &World) {
    let a = w.applied(2);
    let b = w.applied(2);
    w.introduce(&a, Some(w.date(20)), None);
    w.introduce(&b, Some(w.date(10)), None);
    let (box1, box2, pallet) = (w.sscc(), w.sscc(), w.sscc());
    w.aggregate(&w.producer, &box1, &a);
    assert_eq!(w.state(&box1).expiry_date, Some(w.date(20)));
    w.aggregate(&w.producer, &box2, &b);
    assert_eq!(w.state(&box2).expiry_date, Some(w.date(10)));
    w.aggregate(&w.producer, &pallet, &s(&[&box1, &box2]));
    assert_eq!(w.state(&pallet).expiry_date, Some(w.date(10)));
    // A group code (a unit code as parent) also takes the earliest expiry.
    let g = w.applied(1);
    w.introduce(&g, Some(w.date(30)), None);
    let m = w.applied(1);
    w.introduce(&m, Some(w.date(5)), None);
    w.aggregate(&w.producer, &id(&g[0]), &m);
    assert_eq!(w.state(&g[0]).expiry_date, Some(w.date(5)));
}

fn unused_emitted_codes_expire(w: &World) {
    // milk: 30 days; clothes: 60 days.
    let m = w.order(&w.producer, &w.milk, 2, "short");
    let c = w.order(&w.producer, &w.gtin, 1, "mac");
    w.days(30);
    w.apply(&w.producer, &m[0..1]);
    w.days(1);
    w.refused(
        &w.producer,
        json!({"type": "apply", "codes": [id(&m[1])]}),
        &ids(&m),
        &id(&m[1]),
        "expired",
    );
    assert_eq!(w.status(&m[1]), "EMITTED");
    w.apply(&w.producer, &c);
    assert_eq!(w.status(&c[0]), "APPLIED");
    let c2 = w.order(&w.producer, &w.gtin, 1, "mac");
    w.days(61);
    w.refused(
        &w.producer,
        json!({"type": "apply", "codes": ids(&c2)}),
        &[],
        &id(&c2[0]),
        "expired",
    );
}

fn self_made_serials_unique_per_gtin(w: &World) {
    let order = |serials: Vec<&str>, gtin: &str| {
        w.reg
            .create_order(
                &w.producer,
                NewOrder {
                    gtin: gtin.into(),
                    quantity: serials.len() as u32,
                    serial_type: SerialType::SelfMade,
                    serials: Some(serials.into_iter().map(String::from).collect()),
                    tail: "mac".into(),
                },
            )
            .expect("order")
    };
    let o1 = order(vec!["SELF000000001", "SELF000000002"], &w.gtin);
    let first = w.fetch_order(&w.producer, o1.id);
    assert_eq!(
        ids(&first),
        vec![
            format!("01{}21SELF000000001", w.gtin),
            format!("01{}21SELF000000002", w.gtin)
        ]
    );
    let o2 = order(vec!["SELF000000003", "SELF000000002"], &w.gtin);
    assert_eq!(w.wait_order(&w.producer, o2.id), OrderStatus::Rejected);
    assert!(w
        .reg
        .order(&w.producer, &o2.id)
        .expect("order")
        .error
        .is_some());
    let fresh = format!("01{}21SELF000000003", w.gtin);
    assert!(matches!(
        w.reg.code_info(&w.regulator, &fresh),
        Err(Error::NotFound(_))
    ));
    assert_eq!(w.inv(&w.producer, &w.gtin, "EMITTED"), (2, 0, 0));
    // Duplicates within one order are refused outright.
    let e = w.reg.create_order(
        &w.producer,
        NewOrder {
            gtin: w.gtin.clone(),
            quantity: 2,
            serial_type: SerialType::SelfMade,
            serials: Some(s(&["DUP0000000000", "DUP0000000000"])),
            tail: "mac".into(),
        },
    );
    assert!(matches!(e, Err(Error::Invalid { .. })), "{e:?}");
    // The same serial under another GTIN is another code.
    let other = with_check_digit("0460000000777");
    product(&w.reg, &w.producer, &other, "shoes", None);
    let o3 = order(vec!["SELF000000001"], &other);
    assert_eq!(w.wait_order(&w.producer, o3.id), OrderStatus::Ready);
}

fn operator_serials_are_distinct(w: &World) {
    let a = w.order(&w.producer, &w.gtin, 500, "mac");
    let b = w.order(&w.producer, &w.gtin, 500, "short");
    let mut all = ids(&[a, b].concat());
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 1000);
    assert_eq!(w.inv(&w.producer, &w.gtin, "EMITTED"), (1000, 0, 0));
}

/// An order of operator serials with MAC or short tails is stored as ranges: no code has a
/// state record of its own until its first change, and every read treats both forms the
/// same (status, verdict, inventory, a self-made serial meeting a ranged code).
fn emitted_codes_are_ranges_until_touched(w: &World) {
    use types::model::CodeKey;
    let codes = w.order(&w.producer, &w.gtin, 300, "mac");
    let keys: Vec<CodeKey> = codes
        .iter()
        .map(|c| registry::code_key(&id(c)).expect("key"))
        .collect();
    let store = w.reg.store().clone();
    assert!(
        store
            .codes(&keys)
            .expect("codes")
            .iter()
            .all(Option::is_none),
        "an untouched ranged code has no state of its own"
    );
    let gtin: u64 = w.gtin.parse().expect("gtin");
    let ranges = store.code_ranges_after(None, 10).expect("ranges");
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    assert_eq!((ranges[0].gtin, ranges[0].count), (gtin, 300));
    assert_eq!(ranges[0].owner, w.producer.id);
    assert_eq!(w.status(&codes[7]), "EMITTED");
    assert_eq!(w.inv(&w.producer, &w.gtin, "EMITTED"), (300, 0, 0));
    assert_eq!(w.verdict(&tampered(&codes[8])), "forged");
    w.apply(&w.producer, &codes[..100]);
    let after = store.codes(&keys).expect("codes");
    assert!(after[..100].iter().all(Option::is_some));
    assert!(after[100..].iter().all(Option::is_none));
    assert_eq!(w.status(&codes[0]), "APPLIED");
    assert_eq!(w.status(&codes[100]), "EMITTED");
    assert_eq!(w.inv(&w.producer, &w.gtin, "EMITTED"), (200, 0, 0));
    assert_eq!(w.inv(&w.producer, &w.gtin, "APPLIED"), (100, 0, 0));
    // A self-made serial that an untouched ranged code holds is taken.
    let taken = id(&codes[150])[18..].to_string();
    let o = w
        .reg
        .create_order(
            &w.producer,
            NewOrder {
                gtin: w.gtin.clone(),
                quantity: 1,
                serial_type: SerialType::SelfMade,
                serials: Some(vec![taken]),
                tail: "mac".into(),
            },
        )
        .expect("order");
    assert_eq!(w.wait_order(&w.producer, o.id), OrderStatus::Rejected);
    // Short tails are ranged too; signature tails are not (each is its own state).
    let short = w.order(&w.producer, &w.milk, 5, "short");
    assert_eq!(w.status(&short[4]), "EMITTED");
    w.apply(&w.producer, &short);
    assert_eq!(w.status(&short[4]), "APPLIED");
    let signed = w.order(&w.producer, &w.milk, 3, "signature");
    let k = registry::code_key(&id(&signed[0])).expect("key");
    assert!(store.codes(&[k]).expect("codes")[0].is_some());
    assert_eq!(store.code_ranges_after(None, 10).expect("ranges").len(), 2);
}

/// The store's ranges: found by any counter they hold, not by one outside, in key order
/// page by page.
fn store_finds_a_range_by_any_counter(w: &World) {
    use types::model::{CodeRange, TailKind as T};
    let store = w.reg.store().clone();
    let range = |gtin: u64, len: u8, lo: u64, count: u32| CodeRange {
        gtin,
        serial_len: len,
        counter_lo: lo,
        count,
        owner: 7,
        tail: T::Mac,
        key_index: 1,
        at: START,
        order: uuid::Uuid::from_u128(u128::from(lo) + 1),
    };
    let g = 99_999_999_999_990;
    let rs = vec![
        range(g, 13, 0, 10),
        range(g, 13, 10, 5),
        range(g, 13, 100, 1),
        range(g, 6, 0, 1_000),
        range(g + 1, 13, 0, 1),
    ];
    store
        .commit(&store::WriteSet {
            ranges: rs.clone(),
            ..Default::default()
        })
        .expect("commit");
    let at = |len: u8, c: u64| store.code_range(g, len, c).expect("read");
    assert_eq!(at(13, 0), Some(rs[0]));
    assert_eq!(at(13, 9), Some(rs[0]));
    assert_eq!(at(13, 10), Some(rs[1]));
    assert_eq!(at(13, 14), Some(rs[1]));
    assert_eq!(at(13, 15), None, "past a range's end");
    assert_eq!(at(13, 99), None);
    assert_eq!(at(13, 100), Some(rs[2]));
    assert_eq!(at(13, 101), None);
    assert_eq!(at(13, u64::MAX), None);
    assert_eq!(at(6, 999), Some(rs[3]));
    assert_eq!(at(7, 0), None, "another serial length");
    assert_eq!(store.code_range(g + 1, 13, 0).expect("read"), Some(rs[4]));
    assert_eq!(store.code_range(g - 1, 13, 0).expect("read"), None);
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.code_ranges_after(after, 2).expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.storage_key());
        all.extend(page);
    }
    let mut want = rs.clone();
    want.sort_by_key(CodeRange::storage_key);
    assert_eq!(all, want);
}

// ----------------------------------------------------- refusals (a code's life)

fn apply_unknown_code(w: &World) {
    let c = w.order(&w.producer, &w.gtin, 1, "mac");
    let ghost = format!("01{}21NOSUCHSERIAL", w.gtin);
    let errs = w.refused(
        &w.producer,
        json!({"type": "apply", "codes": [id(&c[0]), ghost]}),
        &ids(&c),
        &ghost,
        "unknown_code",
    );
    assert_eq!(errs.len(), 1);
    assert_eq!(w.status(&c[0]), "EMITTED");
}

fn apply_bad_check_digit(w: &World) {
    let c = w.order(&w.producer, &w.gtin, 1, "mac");
    let mut g = w.gtin.clone().into_bytes();
    let last = g.len() - 1;
    g[last] = if g[last] == b'9' { b'0' } else { g[last] + 1 };
    let bad = format!("01{}21ABC", String::from_utf8(g).expect("ascii"));
    w.refused(
        &w.producer,
        json!({"type": "apply", "codes": [id(&c[0]), bad]}),
        &ids(&c),
        &bad,
        "bad_check_digit",
    );
}

fn document_with_tampered_tail_is_bad_crypto_tail(w: &World) {
    let c = w.order(&w.producer, &w.gtin, 2, "mac");
    let bad = tampered(&c[1]);
    w.refused(
        &w.producer,
        json!({"type": "apply", "codes": [c[0], bad]}),
        &ids(&c),
        &bad,
        "bad_crypto_tail",
    );
    // The right tail is accepted in a document.
    w.ok(&w.producer, json!({"type": "apply", "codes": c}));
    assert_eq!(w.status(&c[1]), "APPLIED");
}

fn apply_twice_is_wrong_status(w: &World) {
    let c = w.applied(2);
    let fresh = w.order(&w.producer, &w.gtin, 1, "mac");
    let all = [c.clone(), fresh.clone()].concat();
    w.refused(
        &w.producer,
        json!({"type": "apply", "codes": ids(&all)}),
        &ids(&all),
        &id(&c[0]),
        "wrong_status",
    );
    assert_eq!(w.status(&fresh[0]), "EMITTED");
}

fn introduce_emitted_is_wrong_status(w: &World) {
    let c = w.order(&w.producer, &w.gtin, 1, "mac");
    let a = w.applied(1);
    w.refused(
        &w.producer,
        json!({"type": "introduce", "codes": [id(&a[0]), id(&c[0])], "production_date": w.today()}),
        &ids(&a),
        &id(&c[0]),
        "wrong_status",
    );
    assert_eq!(w.status(&a[0]), "APPLIED");
    // Introduced already: wrong status too.
    let i = w.introduced(1);
    w.refused(
        &w.producer,
        json!({"type": "introduce", "codes": ids(&i), "production_date": w.today()}),
        &[],
        &id(&i[0]),
        "wrong_status",
    );
}

fn introduce_refuses_bad_dates(w: &World) {
    let a = w.applied(1);
    for body in [
        json!({"type": "introduce", "codes": ids(&a)}),
        json!({"type": "introduce", "codes": ids(&a), "production_date": "2025-13-01"}),
        json!({"type": "introduce", "codes": ids(&a), "production_date": w.date(5)}),
        json!({"type": "introduce", "codes": ids(&a), "production_date": w.today(), "expiry_date": "2000-01-01"}),
    ] {
        let e = w.unchanged(&ids(&a), || w.doc(&w.producer, body));
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    }
}

fn ship_not_owner(w: &World) {
    let c = w.introduced(2);
    w.refused(
        &w.wholesaler,
        json!({"type": "ship", "receiver": w.retailer.tin, "codes": ids(&c)}),
        &ids(&c),
        &id(&c[0]),
        "not_owner",
    );
    // Nor may another participant sell, aggregate, write off or withdraw them.
    w.transfer(&w.producer, &w.retailer, &c);
    w.refused(
        &w.retailer2,
        w.sell_body(&c[0..1]),
        &ids(&c),
        &id(&c[0]),
        "not_owner",
    );
    w.refused(
        &w.retailer2,
        json!({"type": "write_off", "codes": [id(&c[0])], "reason": "loss"}),
        &ids(&c),
        &id(&c[0]),
        "not_owner",
    );
    w.refused(
        &w.producer,
        json!({"type": "withdraw", "codes": [id(&c[0])], "reason": "export"}),
        &ids(&c),
        &id(&c[0]),
        "not_owner",
    );
    let b = w.sscc();
    w.refused(
        &w.retailer2,
        json!({"type": "aggregate", "parent": b, "children": ids(&c)}),
        &ids(&c),
        &id(&c[0]),
        "not_owner",
    );
    let theirs = w.order(&w.importer, &w.import_gtin, 1, "mac");
    w.refused(
        &w.producer,
        json!({"type": "apply", "codes": ids(&theirs)}),
        &[],
        &id(&theirs[0]),
        "not_owner",
    );
}

fn ship_in_transit(w: &World) {
    let c = w.introduced(2);
    let ship = w.ship(&w.producer, &w.wholesaler, &c[0..1]);
    w.refused(
        &w.producer,
        json!({"type": "ship", "receiver": w.retailer.tin, "codes": ids(&c)}),
        &ids(&c),
        &id(&c[0]),
        "in_transit",
    );
    w.refused(
        &w.producer,
        json!({"type": "write_off", "codes": [id(&c[0])], "reason": "loss"}),
        &ids(&c),
        &id(&c[0]),
        "in_transit",
    );
    // The receiver does not own it yet.
    w.refused(
        &w.wholesaler,
        json!({"type": "ship", "receiver": w.retailer.tin, "codes": [id(&c[0])]}),
        &ids(&c),
        &id(&c[0]),
        "not_owner",
    );
    w.accept(&w.wholesaler, ship, &[]);
    w.ship(&w.wholesaler, &w.retailer, &c[0..1]);
}

fn ship_to_unknown_or_self_refused(w: &World) {
    let c = w.introduced(1);
    for body in [
        json!({"type": "ship", "receiver": "9999999999", "codes": ids(&c)}),
        json!({"type": "ship", "receiver": w.producer.tin, "codes": ids(&c)}),
    ] {
        let e = w.unchanged(&ids(&c), || w.doc(&w.producer, body));
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    }
}

fn accept_rules(w: &World) {
    let c = w.introduced(3);
    let other = w.introduced(1);
    let ship = w.ship(&w.producer, &w.retailer, &c[0..2]);
    // Rejecting a code that is not in the shipment.
    w.refused(
        &w.retailer,
        json!({"type": "accept", "shipment": ship, "reject": [id(&c[2]), id(&c[0])]}),
        &ids(&c),
        &id(&c[2]),
        "not_in_shipment",
    );
    w.refused(
        &w.retailer,
        json!({"type": "accept", "shipment": ship, "reject": [id(&other[0])]}),
        &ids(&c),
        &id(&other[0]),
        "not_in_shipment",
    );
    // Only the receiver accepts.
    let e = w.unchanged(&ids(&c), || {
        w.doc(&w.retailer2, json!({"type": "accept", "shipment": ship}))
    });
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    // An unknown shipment.
    let e = w.unchanged(&ids(&c), || {
        w.doc(
            &w.retailer,
            json!({"type": "accept", "shipment": uuid::Uuid::new_v4()}),
        )
    });
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    w.accept(&w.retailer, ship, &[]);
    assert_eq!(w.owner(&c[0]), w.retailer.tin);
}

fn accept_reject_everything_returns_to_seller(w: &World) {
    let c = w.introduced(2);
    let b = w.sscc();
    w.aggregate(&w.producer, &b, &c);
    let ship = w.ship(&w.producer, &w.retailer, std::slice::from_ref(&b));
    w.accept(&w.retailer, ship, std::slice::from_ref(&b));
    for x in [&b, &c[0], &c[1]] {
        let st = w.state(x);
        assert_eq!(st.owner.as_deref(), Some(w.producer.tin.as_str()));
        assert_eq!(st.in_transit_to, None);
    }
    assert_eq!(w.children(&b), sorted(&c));
    assert_eq!(w.inv(&w.producer, &w.gtin, "INTRODUCED"), (2, 0, 0));
    assert_eq!(w.inv(&w.retailer, &w.gtin, "INTRODUCED"), (0, 0, 0));
}

fn aggregate_in_aggregate(w: &World) {
    let c = w.introduced(3);
    let (b1, b2) = (w.sscc(), w.sscc());
    w.aggregate(&w.producer, &b1, &c[0..2]);
    w.refused(
        &w.producer,
        json!({"type": "aggregate", "parent": b2, "children": [id(&c[2]), id(&c[1])]}),
        &[ids(&c), vec![b1.clone()]].concat(),
        &id(&c[1]),
        "in_aggregate",
    );
    assert!(matches!(
        w.reg.code_info(&w.regulator, &b2),
        Err(Error::NotFound(_))
    ));
}

fn aggregate_status_mismatch(w: &World) {
    let a = w.applied(1);
    let i = w.introduced(1);
    let b = w.sscc();
    w.refused(
        &w.producer,
        json!({"type": "aggregate", "parent": b, "children": [id(&a[0]), id(&i[0])]}),
        &[ids(&a), ids(&i)].concat(),
        &id(&i[0]),
        "status_mismatch",
    );
    // Into an existing package of another status.
    w.aggregate(&w.producer, &b, &a);
    w.refused(
        &w.producer,
        json!({"type": "aggregate", "parent": b, "children": ids(&i)}),
        &[ids(&a), ids(&i)].concat(),
        &b,
        "status_mismatch",
    );
    // Applied packages introduce as a whole.
    w.introduce(std::slice::from_ref(&b), None, None);
    assert_eq!(w.status(&a[0]), "INTRODUCED");
    assert_eq!(w.status(&b), "INTRODUCED");
    // Retired codes cannot be packed.
    let r = w.at_retailer(1);
    w.sell(&w.retailer, &r).expect("sell");
    w.refused(
        &w.retailer,
        json!({"type": "aggregate", "parent": w.sscc(), "children": ids(&r)}),
        &ids(&r),
        &id(&r[0]),
        "wrong_status",
    );
}

fn aggregate_cycle(w: &World) {
    let c = w.introduced(2);
    let (b, p) = (w.sscc(), w.sscc());
    w.aggregate(&w.producer, &b, &c);
    w.aggregate(&w.producer, &p, std::slice::from_ref(&b));
    // The pallet into its own box.
    let watch = [ids(&c), vec![b.clone(), p.clone()]].concat();
    w.refused(
        &w.producer,
        json!({"type": "aggregate", "parent": b, "children": [p]}),
        &watch,
        &b,
        "cycle",
    );
    // A package into itself.
    w.ok(&w.producer, json!({"type": "disaggregate", "parents": [p]}));
    let watch = [ids(&c), vec![b.clone(), p.clone()]].concat();
    w.refused(
        &w.producer,
        json!({"type": "aggregate", "parent": b, "children": [b]}),
        &watch,
        &b,
        "cycle",
    );
}

fn duplicate_in_document(w: &World) {
    let c = w.applied(2);
    w.refused(
        &w.producer,
        json!({"type": "introduce", "codes": [id(&c[0]), id(&c[1]), id(&c[0])], "production_date": w.today()}),
        &ids(&c),
        &id(&c[0]),
        "duplicate_in_document",
    );
    // The same code in another form (with its tail) is the same code.
    w.refused(
        &w.producer,
        json!({"type": "introduce", "codes": [id(&c[0]), c[0]], "production_date": w.today()}),
        &ids(&c),
        &c[0],
        "duplicate_in_document",
    );
    // A code listed with the package holding it.
    w.introduce(&c, None, None);
    let b = w.sscc();
    w.aggregate(&w.producer, &b, &c);
    w.refused(
        &w.producer,
        json!({"type": "withdraw", "codes": [b, id(&c[1])], "reason": "export"}),
        &[ids(&c), vec![b.clone()]].concat(),
        &id(&c[1]),
        "duplicate_in_document",
    );
}

fn sell_already_sold(w: &World) {
    let c = w.at_retailer(2);
    w.sell(&w.retailer, &c[0..1]).expect("sell");
    w.refused(
        &w.retailer,
        w.sell_body(&c),
        &ids(&c),
        &id(&c[0]),
        "already_sold",
    );
    assert_eq!(w.status(&c[1]), "INTRODUCED");
}

fn sell_not_in_circulation(w: &World) {
    let c = w.at_retailer(3);
    w.ok(
        &w.retailer,
        json!({"type": "write_off", "codes": [id(&c[0])], "reason": "damage"}),
    );
    w.ok(
        &w.retailer,
        json!({"type": "withdraw", "codes": [id(&c[1])], "reason": "donation"}),
    );
    w.refused(
        &w.retailer,
        w.sell_body(&c),
        &ids(&c),
        &id(&c[0]),
        "not_in_circulation",
    );
    let errs = w.refused(
        &w.retailer,
        w.sell_body(&c[1..]),
        &ids(&c),
        &id(&c[1]),
        "not_in_circulation",
    );
    assert_eq!(errs.len(), 1);
    // Withdrawn again: wrong status.
    w.refused(
        &w.retailer,
        json!({"type": "withdraw", "codes": [id(&c[1])], "reason": "loss"}),
        &ids(&c),
        &id(&c[1]),
        "wrong_status",
    );
}

fn sell_blocked(w: &World) {
    let c = w.at_retailer(2);
    let blk = w.block(None, None, Some(ids(&c[0..1])));
    w.refused(
        &w.retailer,
        w.sell_body(&c),
        &ids(&c),
        &id(&c[0]),
        "blocked",
    );
    // A blocked code keeps its status.
    assert_eq!(w.status(&c[0]), "INTRODUCED");
    assert!(w.state(&c[0]).blocked);
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    assert!(!w.state(&c[0]).blocked);
    w.sell(&w.retailer, &c).expect("sell after lift");
}

fn sell_expired(w: &World) {
    let a = w.applied(2);
    w.introduce(&a[0..1], Some(w.date(1)), None);
    w.introduce(&a[1..2], Some(w.date(100)), None);
    w.transfer(&w.producer, &w.retailer, &a);
    w.days(3);
    w.refused(
        &w.retailer,
        w.sell_body(&a),
        &ids(&a),
        &id(&a[0]),
        "expired",
    );
    w.sell(&w.retailer, &a[1..2]).expect("sell unexpired");
    // An expired unit inside a box refuses the box.
    let b = w.applied(2);
    w.introduce(&b[0..1], Some(w.date(1)), None);
    w.introduce(&b[1..2], Some(w.date(100)), None);
    let bx = w.sscc();
    w.aggregate(&w.producer, &bx, &b);
    w.transfer(&w.producer, &w.retailer, std::slice::from_ref(&bx));
    w.days(3);
    w.refused(
        &w.retailer,
        w.sell_body(std::slice::from_ref(&bx)),
        &[ids(&b), vec![bx.clone()]].concat(),
        &bx,
        "expired",
    );
}

fn return_reason_mismatch(w: &World) {
    let c = w.at_retailer(3);
    w.sell(&w.retailer, &c[0..1]).expect("sell");
    w.refused(
        &w.retailer,
        json!({"type": "return", "codes": [id(&c[0])], "reason": "distance"}),
        &ids(&c),
        &id(&c[0]),
        "reason_mismatch",
    );
    w.ok(
        &w.retailer,
        json!({"type": "withdraw", "codes": [id(&c[1])], "reason": "distance"}),
    );
    w.refused(
        &w.retailer,
        json!({"type": "return", "codes": [id(&c[1])], "reason": "retail"}),
        &ids(&c),
        &id(&c[1]),
        "reason_mismatch",
    );
    // Not sold: nothing to return.
    w.refused(
        &w.retailer,
        json!({"type": "return", "codes": [id(&c[2])], "reason": "retail"}),
        &ids(&c),
        &id(&c[2]),
        "wrong_status",
    );
    // Exported goods do not come back by a return.
    w.ok(
        &w.retailer,
        json!({"type": "withdraw", "codes": [id(&c[2])], "reason": "export"}),
    );
    let e = w.unchanged(&ids(&c), || {
        w.doc(
            &w.retailer,
            json!({"type": "return", "codes": [id(&c[2])], "reason": "export"}),
        )
    });
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
}

fn write_off_wrong_status(w: &World) {
    let e = w.order(&w.producer, &w.gtin, 1, "mac");
    w.refused(
        &w.producer,
        json!({"type": "write_off", "codes": ids(&e), "reason": "damage"}),
        &ids(&e),
        &id(&e[0]),
        "wrong_status",
    );
    let c = w.at_retailer(1);
    w.sell(&w.retailer, &c).expect("sell");
    w.refused(
        &w.retailer,
        json!({"type": "write_off", "codes": ids(&c), "reason": "damage"}),
        &ids(&c),
        &id(&c[0]),
        "wrong_status",
    );
}

fn disaggregate_not_a_package(w: &World) {
    let c = w.introduced(2);
    let b = w.sscc();
    w.aggregate(&w.producer, &b, &c[0..1]);
    w.refused(
        &w.producer,
        json!({"type": "disaggregate", "parents": [b, id(&c[1])]}),
        &[ids(&c), vec![b.clone()]].concat(),
        &id(&c[1]),
        "not_a_package",
    );
    let ghost = w.sscc();
    w.refused(
        &w.producer,
        json!({"type": "disaggregate", "parents": [ghost]}),
        &[ids(&c), vec![b.clone()]].concat(),
        &ghost,
        "unknown_code",
    );
}

fn disaggregate_nested_in_one_document(w: &World) {
    let c = w.introduced(2);
    let (b, p) = (w.sscc(), w.sscc());
    w.aggregate(&w.producer, &b, &c);
    w.aggregate(&w.producer, &p, std::slice::from_ref(&b));
    w.ok(
        &w.producer,
        json!({"type": "disaggregate", "parents": [p, b]}),
    );
    for x in [&b, &c[0], &c[1]] {
        assert_eq!(w.state(x).parent, None, "{x}");
    }
    assert!(w.children(&p).is_empty());
    assert!(w.children(&b).is_empty());
    // Both are free again: the box may go into a new package.
    w.aggregate(&w.producer, &w.sscc(), std::slice::from_ref(&b));
}

fn package_inconsistent(w: &World) {
    let c = w.at_retailer(2);
    let b = w.sscc_free();
    w.aggregate(&w.retailer, &b, &c);
    // Corrupt one unit without a document (an engine or migration bug), through the
    // writer: only the writer changes states (it caches what it committed).
    let key = registry::code_key(&c[1]).expect("key");
    w.reg
        .write(move |tx| {
            let mut st = tx.code(&key)?.expect("state");
            st.status = types::model::Status::WrittenOff;
            tx.put_code(key, st);
            Ok(())
        })
        .expect("corrupt");
    w.refused(
        &w.retailer,
        w.sell_body(std::slice::from_ref(&b)),
        &[ids(&c), vec![b.clone()]].concat(),
        &b,
        "package_inconsistent",
    );
}

fn refused_document_is_all_or_nothing(w: &World) {
    let c = w.at_retailer(5);
    let stranger = w.introduced(1);
    let mut list = c.clone();
    list.insert(2, stranger[0].clone());
    let watch = [ids(&c), ids(&stranger)].concat();
    let errs = w.refused(
        &w.retailer,
        w.sell_body(&list),
        &watch,
        &id(&stranger[0]),
        "not_owner",
    );
    assert_eq!(errs.len(), 1, "only the bad code is named: {errs:?}");
    for x in &c {
        assert_eq!(w.status(x), "INTRODUCED");
    }
    // Every bad code is named, each with its own reason.
    let ghost = format!("01{}21NOSUCHSERIAL", w.gtin);
    let mut list = c.clone();
    list.push(stranger[0].clone());
    list.push(ghost.clone());
    list.push(c[0].clone());
    let errs = w.refused(
        &w.retailer,
        w.sell_body(&list),
        &watch,
        &ghost,
        "unknown_code",
    );
    let mut got: Vec<&str> = errs.iter().map(|e| e.reason).collect();
    got.sort();
    assert_eq!(got, ["duplicate_in_document", "not_owner", "unknown_code"]);
    // A refusal is recorded for risk control, but no document.
    assert!(w.reg.store().refusal_count().expect("refusals") >= 2);
}

fn roles_are_enforced(w: &World) {
    let c = w.order(&w.producer, &w.gtin, 1, "mac");
    for (who, body) in [
        (&w.retailer, json!({"type": "apply", "codes": ids(&c)})),
        (&w.wholesaler, json!({"type": "apply", "codes": ids(&c)})),
        (&w.producer, w.sell_body(&c)),
        (
            &w.regulator,
            json!({"type": "ship", "receiver": w.retailer.tin, "codes": ids(&c)}),
        ),
    ] {
        let e = w.unchanged(&ids(&c), || w.doc(who, body));
        assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    }
    let e = w.unchanged(&ids(&c), || {
        w.doc(&w.producer, json!({"type": "teleport", "codes": ids(&c)}))
    });
    assert!(matches!(e, Error::BadRequest(_)), "{e:?}");
    let e = w.unchanged(&ids(&c), || {
        w.doc(&w.producer, json!({"type": "apply", "codes": []}))
    });
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    let e = w.unchanged(&ids(&c), || {
        w.reg
            .submit_document(&w.producer, b"{not json".to_vec(), Default::default())
    });
    assert!(matches!(e, Error::BadRequest(_)), "{e:?}");
    // Orders of another's GTIN, products over another's GTIN, blocks by a non-regulator.
    let e = w.reg.create_order(
        &w.importer,
        NewOrder {
            gtin: w.gtin.clone(),
            quantity: 1,
            serial_type: SerialType::Operator,
            serials: None,
            tail: "mac".into(),
        },
    );
    assert!(matches!(e, Err(Error::Forbidden(_))), "{e:?}");
    let e = w.reg.create_block(
        &w.retailer,
        NewBlock {
            gtin: Some(w.gtin.clone()),
            batch: None,
            codes: None,
            reason: "x".into(),
        },
    );
    assert!(matches!(e, Err(Error::Forbidden(_))), "{e:?}");
}

// ---------------------------------------------------------------- blocks

fn block_by_code_and_lift(w: &World) {
    let c = w.at_retailer(3);
    let b = w.sscc_free();
    w.aggregate(&w.retailer, &b, &c[0..2]);
    // Blocking a package blocks what it holds.
    let blk = w.block(None, None, Some(vec![b.clone()]));
    assert!(w.state(&c[0]).blocked);
    assert!(!w.state(&c[2]).blocked);
    assert!(w.pos_reasons(&c[0]).contains(&"blocked"));
    assert!(!w.pos_reasons(&c[2]).contains(&"blocked"));
    assert_eq!(w.verdict(&c[0]), "recalled");
    w.refused(
        &w.retailer,
        w.sell_body(&c[1..2]),
        &ids(&c),
        &id(&c[1]),
        "blocked",
    );
    w.refused(
        &w.retailer,
        w.sell_body(std::slice::from_ref(&b)),
        &ids(&c),
        &b,
        "blocked",
    );
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    assert!(matches!(
        w.reg.lift_block(&w.regulator, blk),
        Err(Error::Conflict(_))
    ));
    assert!(!w.pos_reasons(&c[0]).contains(&"blocked"));
    assert_eq!(w.verdict(&c[0]), "genuine");
    w.sell(&w.retailer, &[b]).expect("sell after lift");
    // Blocking unknown codes blocks nothing.
    let ghost = format!("01{}21NOSUCHSERIAL", w.gtin);
    let e = w.reg.create_block(
        &w.regulator,
        NewBlock {
            gtin: None,
            batch: None,
            codes: Some(vec![ghost, id(&c[2])]),
            reason: "x".into(),
        },
    );
    assert!(matches!(e, Err(Error::Invalid { .. })), "{e:?}");
    assert!(!w.state(&c[2]).blocked);
}

fn block_by_batch_and_lift(w: &World) {
    let a = w.applied(2);
    w.introduce(&a[0..1], None, Some("LOT-A"));
    w.introduce(&a[1..2], None, Some("LOT-B"));
    w.transfer(&w.producer, &w.retailer, &a);
    let blk = w.block(Some(&w.gtin), Some("LOT-A"), None);
    assert!(w.state(&a[0]).blocked);
    assert!(!w.state(&a[1]).blocked);
    assert_eq!(w.pos_reasons(&a[0]), vec!["blocked"]);
    assert_eq!(w.pos_reasons(&id(&a[0])), vec!["no_crypto_tail", "blocked"]);
    assert!(w.pos(&w.retailer, vec![PosItem::Code(a[1].clone())])[0].sellable);
    w.refused(
        &w.retailer,
        w.sell_body(&a),
        &ids(&a),
        &id(&a[0]),
        "blocked",
    );
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    assert!(w.pos(&w.retailer, vec![PosItem::Code(a[0].clone())])[0].sellable);
    w.sell(&w.retailer, &a).expect("sell after lift");
}

fn block_by_gtin_and_lift(w: &World) {
    let c = w.at_retailer(2);
    let m = w.order(&w.producer, &w.milk, 1, "short");
    w.apply(&w.producer, &m);
    w.introduce(&m, None, None);
    w.transfer(&w.producer, &w.retailer, &m);
    let blk = w.block(Some(&w.gtin), None, None);
    assert!(w.pos_reasons(&c[0]).contains(&"blocked"));
    assert!(w.pos(&w.retailer, vec![PosItem::Code(m[0].clone())])[0].sellable);
    assert_eq!(w.verdict(&c[0]), "recalled");
    w.refused(
        &w.retailer,
        w.sell_body(&c),
        &ids(&c),
        &id(&c[1]),
        "blocked",
    );
    w.sell(&w.retailer, &m).expect("other GTIN still sells");
    // Status is kept while blocked; other documents still go through.
    w.ok(
        &w.retailer,
        json!({"type": "write_off", "codes": [id(&c[1])], "reason": "defect"}),
    );
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    assert_eq!(w.verdict(&c[0]), "genuine");
    w.sell(&w.retailer, &c[0..1]).expect("sell after lift");
}

// ------------------------------------------------------------------- till check

fn till_check_every_reason(w: &World) {
    let c = w.at_retailer(3);
    let reasons = |code: &str| w.pos_reasons(code);
    // Sellable with its tail.
    let r = w.pos(&w.retailer, vec![PosItem::Code(c[0].clone())]);
    assert!(r[0].sellable && r[0].reasons.is_empty(), "{r:?}");
    assert_eq!(r[0].code, c[0]);
    assert_eq!(
        reasons(&format!("01{}21NOSUCHSERIAL", w.gtin)),
        vec!["unknown_code"]
    );
    assert_eq!(reasons(&tampered(&c[0])), vec!["bad_crypto_tail"]);
    assert_eq!(reasons(&id(&c[0])), vec!["no_crypto_tail"]);
    let a = w.applied(1);
    assert_eq!(reasons(&a[0]), vec!["not_in_circulation", "not_owner"]);
    w.sell(&w.retailer, &c[1..2]).expect("sell");
    assert_eq!(reasons(&c[1]), vec!["already_sold"]);
    // not_owner and in_transit.
    let p = w.introduced(1);
    assert_eq!(reasons(&p[0]), vec!["not_owner"]);
    w.ship(&w.producer, &w.retailer, &p);
    assert_eq!(reasons(&p[0]), vec!["not_owner", "in_transit"]);
    assert_eq!(
        w.pos(&w.retailer2, vec![PosItem::Code(c[2].clone())])[0].reasons,
        vec!["not_owner"]
    );
    // price_above_max: clothes have a maximum retail price of 10000.
    let priced = |price| PosItem::Priced {
        code: c[2].clone(),
        price: Some(price),
    };
    let r = w.pos(&w.retailer, vec![priced(10_000), priced(10_001)]);
    assert!(r[0].sellable, "{r:?}");
    assert_eq!(r[1].reasons, vec!["price_above_max"]);
    // blocked
    let blk = w.block(None, None, Some(ids(&c[2..3])));
    assert_eq!(reasons(&c[2]), vec!["blocked"]);
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    assert!(reasons(&c[2]).is_empty());
    // Unparsable input gives the parse reason.
    let mut g = w.gtin.clone().into_bytes();
    let last = g.len() - 1;
    g[last] = if g[last] == b'9' { b'0' } else { g[last] + 1 };
    assert_eq!(
        reasons(&format!("01{}21ABC", String::from_utf8(g).expect("ascii"))),
        vec!["bad_check_digit"]
    );
    assert!(!w.pos(&w.retailer, vec![PosItem::Code("garbage".into())])[0].sellable);
    // Request ids are unique; a check changes nothing.
    let before = w.snapshot(&ids(&c));
    let (r1, _) = w
        .reg
        .pos_check(&w.retailer, &[PosItem::Code(c[0].clone())])
        .expect("check");
    let (r2, _) = w
        .reg
        .pos_check(&w.retailer, &[PosItem::Code(c[0].clone())])
        .expect("check");
    assert_ne!(r1, r2);
    assert_eq!(before, w.snapshot(&ids(&c)));
    // Only retailers and fiscal operators check.
    assert!(matches!(
        w.reg.pos_check(&w.producer, &[PosItem::Code(c[0].clone())]),
        Err(Error::Forbidden(_))
    ));
    // The request id travels in the sale.
    let mut body = w.sell_body(&c[0..1]);
    body["check_ids"] = json!([r1.to_string()]);
    w.ok(&w.retailer, body);
}

fn till_check_expired(w: &World) {
    let a = w.applied(2);
    w.introduce(&a[0..1], Some(w.date(1)), None);
    w.introduce(&a[1..2], Some(w.date(10)), None);
    w.transfer(&w.producer, &w.retailer, &a);
    assert!(w.pos_reasons(&a[0]).is_empty());
    w.days(2);
    assert_eq!(w.pos_reasons(&a[0]), vec!["expired"]);
    assert!(w.pos_reasons(&a[1]).is_empty());
    assert_eq!(w.verdict(&a[0]), "expired");
    assert_eq!(w.verdict(&a[1]), "genuine");
}

fn till_check_all_tail_kinds(w: &World) {
    for (gtin, tail) in [(&w.gtin, "mac"), (&w.gtin, "signature"), (&w.milk, "short")] {
        let c = w.order(&w.producer, gtin, 2, tail);
        w.apply(&w.producer, &c);
        w.introduce(&c, None, None);
        w.transfer(&w.producer, &w.retailer, &c);
        assert!(
            w.pos_reasons(&c[0]).is_empty(),
            "{tail}: {:?}",
            w.pos_reasons(&c[0])
        );
        assert_eq!(
            w.pos_reasons(&tampered(&c[0])),
            vec!["bad_crypto_tail"],
            "{tail}"
        );
        // Another code's tail on this code is forged too.
        let swapped = format!("{}{}", id(&c[0]), &c[1][id(&c[1]).len()..]);
        assert_eq!(w.pos_reasons(&swapped), vec!["bad_crypto_tail"], "{tail}");
        let kind = match tail {
            "signature" => TailKind::Signature,
            "short" => TailKind::Short,
            _ => TailKind::Mac,
        };
        assert_eq!(w.state(&c[0]).tail, kind);
    }
}

// ---------------------------------------------------------------- verification

fn verify_verdicts(w: &World) {
    let c = w.at_retailer(3);
    assert_eq!(w.verdict(&c[0]), "genuine");
    // A printed number without its tail proves nothing.
    let bare = w.reg.verify(&id(&c[0])).expect("verify");
    assert_eq!((bare.verdict, bare.tail_checked), ("unverified", false));
    let v = w.reg.verify(&c[0]).expect("verify");
    assert!(v.tail_checked);
    assert_eq!(
        v.producer.as_ref().map(|p| p.tin.as_str()),
        Some(w.producer.tin.as_str())
    );
    w.sell(&w.retailer, &c[0..1]).expect("sell");
    let v = w.reg.verify(&c[0]).expect("verify");
    assert_eq!(v.verdict, "sold");
    assert!(v.sold_at.is_some());
    assert_eq!(w.verdict(&tampered(&c[1])), "forged");
    assert_eq!(w.verdict(&format!("01{}21NOSUCHSERIAL", w.gtin)), "unknown");
    // Malformed input is the caller's fault, named, not a verdict.
    for bad in ["not a code at all", "", &format!("01{}21X", &w.gtin[..13])] {
        match w.reg.verify(bad) {
            Err(Error::Invalid { errors, .. }) => assert_eq!(errors.len(), 1, "{bad:?}"),
            other => panic!("verify({bad:?}) = {other:?}; expected Invalid"),
        }
    }
    let mut digits: Vec<u8> = w.gtin.clone().into_bytes();
    digits[13] = if digits[13] == b'9' {
        b'0'
    } else {
        digits[13] + 1
    };
    let bad_check = format!("01{}21ABC", String::from_utf8(digits).expect("ascii"));
    match w.reg.verify(&bad_check) {
        Err(Error::Invalid { errors, .. }) => assert_eq!(errors[0].reason, "bad_check_digit"),
        other => panic!("bad check digit: {other:?}"),
    }
    let e = w.order(&w.producer, &w.gtin, 1, "mac");
    assert_eq!(w.verdict(&e[0]), "not_in_circulation");
    w.apply(&w.producer, &e);
    assert_eq!(w.verdict(&e[0]), "not_in_circulation");
    w.ok(
        &w.retailer,
        json!({"type": "write_off", "codes": [id(&c[2])], "reason": "damage"}),
    );
    assert_eq!(w.verdict(&c[2]), "not_in_circulation");
    let blk = w.block(Some(&w.gtin), None, None);
    assert_eq!(w.verdict(&c[1]), "recalled");
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    let a = w.applied(1);
    w.introduce(&a, Some(w.date(0)), None);
    assert_eq!(w.verdict(&a[0]), "genuine");
    w.days(1);
    assert_eq!(w.verdict(&a[0]), "expired");
    // Other forms of the same code verify the same.
    let gs = &c[1];
    let serial: String = id(gs)[18..]
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let dl = format!("https://id.example.com/01/{}/21/{serial}", w.gtin);
    assert_eq!(w.verdict(&dl), "unverified");
    let mut tail = gs
        .split(GS)
        .skip(1)
        .map(|f| (f[..2].to_string(), f[2..].to_string()));
    let (k91, v91) = tail.next().expect("AI 91");
    let (k92, v92) = tail.next().expect("AI 92");
    let enc = |v: &str| -> String {
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let dl = format!("{dl}?{k91}={}&{k92}={}", enc(&v91), enc(&v92));
    assert_eq!(w.verdict(&dl), "genuine");
}

fn writer_survives_a_panicking_job(w: &World) {
    use std::sync::atomic::Ordering::Relaxed;
    let before = w.reg.writer_stats().job_panics.load(Relaxed);
    let (n, head) = w.reg.log_head().expect("head");
    // A job that panics half-way through (after writing into the batch).
    let r = w.reg.write(|tx| -> Result<()> {
        let id = tx.state.next_block;
        tx.state.next_block += 1;
        tx.set_counter("poison", id);
        panic!("a bug in a writer job");
    });
    assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
    // The caller's reply is dropped while the job unwinds, before the writer counts it.
    let t = std::time::Instant::now();
    while w.reg.writer_stats().job_panics.load(Relaxed) == before
        && t.elapsed() < std::time::Duration::from_secs(5)
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(w.reg.writer_stats().job_panics.load(Relaxed), before + 1);
    assert_eq!(
        w.reg.store().counter("poison").expect("counter"),
        0,
        "nothing of it committed"
    );
    assert_eq!(w.reg.log_head().expect("head"), (n, head));
    // The writer goes on: health answers, documents are accepted.
    w.reg
        .writer_check(std::time::Duration::from_secs(5))
        .expect("the writer answers");
    let c = w.introduced(1);
    assert_eq!(w.state(&c[0]).status, "INTRODUCED");
}

fn writer_refuses_a_batch_that_breaks_an_invariant(w: &World) {
    let c = w.introduced(2);
    let b = w.sscc();
    w.aggregate(&w.producer, &b, &c);
    let (n, head) = w.reg.log_head().expect("head");
    let expect_refused = |what: &str, r: Result<()>| match r {
        Err(Error::Unavailable(m)) => assert!(m.contains("invariant"), "{what}: {m}"),
        other => panic!("{what}: {other:?}"),
    };
    // A package whose count no longer matches its links.
    let bk = registry::code_key(&b).expect("key");
    expect_refused(
        "child count",
        w.reg.write(move |tx| {
            let mut st = tx.code(&bk)?.expect("box");
            tx.children(&bk)?;
            st.children += 1;
            tx.put_code(bk, st);
            Ok(())
        }),
    );
    // A code's events numbered with a gap.
    let ck = registry::code_key(&c[0]).expect("key");
    expect_refused(
        "event numbering",
        w.reg.write(move |tx| {
            let mut st = tx.code(&ck)?.expect("code");
            st.events += 1;
            tx.transition(ck, st, 999_999, types::model::DocType::Apply, 1);
            Ok(())
        }),
    );
    // Inventory below zero: the stored counter is off (as after a bug), and a change
    // would take it under.
    let gtin: u64 = w.gtin.parse().expect("gtin");
    let owner = w.producer.id;
    let bucket = types::model::Bucket::Status(types::model::Status::Introduced);
    let stored = w
        .reg
        .store()
        .inventory(owner, gtin)
        .expect("inventory")
        .into_iter()
        .find(|(b, _)| *b == bucket)
        .map_or(0, |(_, n)| n);
    let mut set = store::WriteSet::default();
    set.inventory.push((owner, gtin, bucket, -stored));
    w.reg.store().commit(&set).expect("commit");
    expect_refused(
        "inventory",
        w.reg.write(move |tx| {
            let mut st = tx.code(&ck)?.expect("code");
            st.status = types::model::Status::WrittenOff;
            tx.put_code(ck, st);
            Ok(())
        }),
    );
    let mut set = store::WriteSet::default();
    set.inventory.push((owner, gtin, bucket, stored));
    w.reg.store().commit(&set).expect("commit");
    // Nothing of them was written; the writer goes on.
    assert_eq!(w.reg.log_head().expect("head"), (n, head));
    assert_eq!(w.state(&b).children.len(), 2);
    assert!(
        w.reg
            .writer_stats()
            .invariant_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 3
    );
    w.ok(&w.producer, json!({"type": "disaggregate", "parents": [b]}));
}

fn blocked_and_expired_goods_only_go_back_or_out(w: &World) {
    // Recalled: no sale-like withdrawal, no shipment on; back to the producer or out.
    let c = w.at_retailer(6);
    let b = w.sscc_free();
    w.aggregate(&w.retailer, &b, &c[4..6]);
    let blk = w.block(None, None, Some(ids(&c[0..1])));
    let blk_box = w.block(None, None, Some(vec![id(&c[5])]));
    for reason in [
        "distance", "export", "donation", "own_use", "samples", "loss",
    ] {
        w.refused(
            &w.retailer,
            json!({"type": "withdraw", "codes": [id(&c[0])], "reason": reason}),
            &ids(&c),
            &id(&c[0]),
            "blocked",
        );
    }
    w.refused(
        &w.retailer,
        json!({"type": "ship", "receiver": w.retailer2.tin, "codes": [id(&c[0])]}),
        &ids(&c),
        &id(&c[0]),
        "blocked",
    );
    w.refused(
        &w.retailer,
        json!({"type": "ship", "receiver": w.wholesaler.tin, "codes": [b.clone()]}),
        &ids(&c),
        &b,
        "blocked",
    );
    w.refused(
        &w.retailer,
        json!({"type": "withdraw", "codes": [b.clone()], "reason": "export"}),
        &ids(&c),
        &b,
        "blocked",
    );
    // Unblocked codes still move.
    w.ok(
        &w.retailer,
        json!({"type": "withdraw", "codes": [id(&c[1])], "reason": "export"}),
    );
    // Back to the producer, or destroyed.
    let back = w.ship(&w.retailer, &w.producer, &c[0..1]);
    w.accept(&w.producer, back, &[]);
    assert_eq!(
        w.state(&c[0]).owner.as_deref(),
        Some(w.producer.tin.as_str())
    );
    w.ok(
        &w.producer,
        json!({"type": "withdraw", "codes": [id(&c[0])], "reason": "destruction"}),
    );
    w.ok(
        &w.retailer,
        json!({"type": "write_off", "codes": [b], "reason": "defect"}),
    );
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    w.reg.lift_block(&w.regulator, blk_box).expect("lift");
    // Expired: no sale-like withdrawal, no shipment on; withdrawn for expiry or sent back.
    let a = w.applied(3);
    w.introduce(&a, Some(w.date(0)), None);
    w.transfer(&w.producer, &w.retailer, &a);
    w.days(1);
    for reason in ["distance", "export", "donation"] {
        w.refused(
            &w.retailer,
            json!({"type": "withdraw", "codes": [id(&a[0])], "reason": reason}),
            &ids(&a),
            &id(&a[0]),
            "expired",
        );
    }
    w.refused(
        &w.retailer,
        json!({"type": "ship", "receiver": w.retailer2.tin, "codes": [id(&a[0])]}),
        &ids(&a),
        &id(&a[0]),
        "expired",
    );
    w.ok(
        &w.retailer,
        json!({"type": "withdraw", "codes": [id(&a[0])], "reason": "expiry"}),
    );
    w.ship(&w.retailer, &w.producer, &a[1..2]);
}

fn verify_never_reveals_the_owner(w: &World) {
    let c = w.introduced(2);
    w.transfer(&w.producer, &w.wholesaler, &c);
    w.transfer(&w.wholesaler, &w.retailer, &c[0..1]);
    w.ship(&w.wholesaler, &w.retailer2, &c[1..2]);
    for x in [&c[0], &id(&c[0]), &c[1], &id(&c[1])] {
        let text = serde_json::to_string(&w.reg.verify(x).expect("verify")).expect("json");
        for p in [&w.wholesaler, &w.retailer, &w.retailer2] {
            assert!(!text.contains(&p.tin), "verify reveals {} in {text}", p.tin);
            assert!(
                !text.contains(&p.name),
                "verify reveals {} in {text}",
                p.name
            );
        }
        assert!(!text.contains("owner"), "{text}");
    }
    // Nor does a code's card show to outsiders.
    assert!(matches!(
        w.reg.code_info(&w.retailer2, &c[0]),
        Err(Error::NotFound(_))
    ));
    assert!(w.reg.code_info(&w.retailer, &c[0]).is_ok());
    assert!(w.reg.code_info(&w.producer, &c[0]).is_ok());
    let q = serde_json::to_value(
        w.reg
            .query_codes(&w.retailer2, &ids(&c[0..1]))
            .expect("query"),
    )
    .expect("json");
    assert_eq!(q[0]["error"], "unknown_code");
}

fn verify_all_tail_kinds(w: &World) {
    for (gtin, tail) in [(&w.gtin, "mac"), (&w.gtin, "signature"), (&w.milk, "short")] {
        let c = w.order(&w.producer, gtin, 1, tail);
        w.apply(&w.producer, &c);
        w.introduce(&c, None, None);
        let v = w.reg.verify(&c[0]).expect("verify");
        assert_eq!(
            (v.verdict, v.tail_checked),
            ("genuine", true),
            "{tail}: {}",
            c[0]
        );
        assert_eq!(w.verdict(&tampered(&c[0])), "forged", "{tail}");
    }
    // A signature tail checks offline with the published keys: AI 92 is base64 of an
    // Ed25519 signature over `01{gtin}21{serial}` by the key AI 91 names.
    use base64::Engine;
    let c = w.order(&w.producer, &w.gtin, 1, "signature");
    let mut parts = c[0].split(GS);
    let idc = parts.next().expect("id");
    let kid = &parts.next().expect("91")[2..];
    let sig = &parts.next().expect("92")[2..];
    let keys = w.reg.public_keys();
    let k = keys
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .expect("published key");
    let pk: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(&k.public_key)
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let sig: [u8; 64] = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .expect("base64")
        .try_into()
        .expect("64 bytes");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).expect("key");
    vk.verify_strict(idc.as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
        .expect("offline check");
}

// ---------------------------------------------------------------- log and concurrency

fn log_head_advances_on_accepted_only(w: &World) {
    let (n0, h0) = w.reg.log_head().expect("head");
    let c = w.order(&w.producer, &w.gtin, 2, "mac");
    assert_eq!(
        w.reg.log_head().expect("head"),
        (n0, h0),
        "orders are not documents"
    );
    let d = w.apply(&w.producer, &c);
    let (n1, h1) = w.reg.log_head().expect("head");
    assert_eq!(n1, n0 + 1);
    assert_ne!(h1, h0);
    w.refused(
        &w.producer,
        json!({"type": "apply", "codes": ids(&c)}),
        &ids(&c),
        &id(&c[0]),
        "wrong_status",
    );
    assert_eq!(w.reg.log_head().expect("head"), (n1, h1));
    w.doc(
        &w.producer,
        json!({"id": d, "type": "apply", "codes": ids(&c)}),
    )
    .expect("replay");
    assert_eq!(
        w.reg.log_head().expect("head"),
        (n1, h1),
        "a replay is not a new document"
    );
    w.introduce(&c, None, None);
    let (n2, h2) = w.reg.log_head().expect("head");
    assert_eq!(n2, n1 + 1);
    assert_ne!(h2, h1);
    // The stored documents carry the chain and consecutive sequence numbers.
    let doc = w.reg.document(&w.producer, &d).expect("doc");
    assert_eq!(doc.seq, n1);
    assert_eq!(doc.chain, h1);
}

fn registry_reopens_over_the_same_store(w: &World) {
    let c = w.at_retailer(2);
    let head = w.reg.log_head().expect("head");
    let store = w.reg.store().clone();
    let c2 = w.clock.clone();
    let again = Registry::open(
        store,
        issuance::Keyring::generate(START),
        Arc::new(move || c2.load(Ordering::SeqCst)),
    )
    .expect("reopen");
    assert_eq!(again.log_head().expect("head"), head);
    let st = again.code_info(&w.regulator, &c[0]).expect("code");
    assert_eq!(st.owner.as_deref(), Some(w.retailer.tin.as_str()));
    assert!(again
        .participant_by_tin(&w.retailer.tin)
        .expect("tin")
        .is_some());
}

fn concurrent_disjoint_documents(w: &World) {
    let c = w.introduced(8 * 4);
    let (n0, _) = w.reg.log_head().expect("head");
    std::thread::scope(|sc| {
        for t in 0..8 {
            let mine = c[t * 4..t * 4 + 4].to_vec();
            sc.spawn(move || {
                let s = w.ship(&w.producer, &w.retailer, &mine[0..2]);
                w.accept(&w.retailer, s, &[]);
                w.ok(
                    &w.producer,
                    json!({"type": "write_off", "codes": [id(&mine[2])], "reason": "loss"}),
                );
                w.ok(
                    &w.producer,
                    json!({"type": "withdraw", "codes": [id(&mine[3])], "reason": "export"}),
                );
                w.sell(&w.retailer, &mine[0..1]).expect("sell");
            });
        }
    });
    assert_eq!(w.reg.log_head().expect("head").0, n0 + 8 * 5);
    assert_eq!(w.inv(&w.retailer, &w.gtin, "RETIRED"), (8, 0, 0));
    assert_eq!(w.inv(&w.retailer, &w.gtin, "INTRODUCED"), (8, 0, 0));
    assert_eq!(w.inv(&w.producer, &w.gtin, "WRITTEN_OFF"), (8, 0, 0));
    assert_eq!(w.inv(&w.producer, &w.gtin, "RETIRED"), (8, 0, 0));
}

fn concurrent_double_sale_accepts_one(w: &World) {
    let c = w.at_retailer(3);
    for x in &c {
        let results: Vec<Result<DocAnswer>> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..8)
                .map(|_| sc.spawn(|| w.sell(&w.retailer, std::slice::from_ref(x))))
                .collect();
            hs.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "{results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            match r {
                Error::Invalid { errors, .. } => assert_eq!(errors[0].reason, "already_sold"),
                e => panic!("{e:?}"),
            }
        }
        assert_eq!(
            w.state(x)
                .history
                .iter()
                .filter(|h| h.doc_type == "sell")
                .count(),
            1
        );
    }
    assert_eq!(w.inv(&w.retailer, &w.gtin, "RETIRED"), (3, 0, 0));
    // Racing the same document id: one document, the same answer for all.
    let c = w.at_retailer(1);
    let mut body = w.sell_body(&c);
    body["id"] = json!(uuid::Uuid::new_v4());
    let answers: Vec<DocAnswer> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|_| sc.spawn(|| w.doc(&w.retailer, body.clone()).expect("sell")))
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert!(answers.iter().all(|a| *a == answers[0]));
    assert_eq!(
        w.state(&c[0])
            .history
            .iter()
            .filter(|h| h.doc_type == "sell")
            .count(),
        1
    );
}

fn ship_nested_box_and_reject_box_from_pallet(w: &World) {
    let c = w.introduced(4);
    let (b1, b2, p) = (w.sscc(), w.sscc(), w.sscc());
    w.aggregate(&w.producer, &b1, &c[0..2]);
    w.aggregate(&w.producer, &b2, &c[2..4]);
    w.aggregate(&w.producer, &p, &[b1.clone(), b2.clone()]);
    let ship = w.ship(&w.producer, &w.wholesaler, std::slice::from_ref(&p));
    // Rejecting a whole box inside the pallet: the box and its units go back, out of the pallet.
    w.accept(&w.wholesaler, ship, std::slice::from_ref(&b2));
    assert_eq!(w.children(&p), sorted(std::slice::from_ref(&b1)));
    assert_eq!(w.state(&b2).parent, None);
    assert_eq!(w.children(&b2), sorted(&c[2..4]));
    for x in [&b2, &c[2], &c[3]] {
        assert_eq!(w.owner(x), w.producer.tin, "{x}");
        assert_eq!(w.state(x).in_transit_to, None);
    }
    for x in [&p, &b1, &c[0], &c[1]] {
        assert_eq!(w.owner(x), w.wholesaler.tin, "{x}");
    }
    assert_eq!(w.inv(&w.producer, &w.gtin, "INTRODUCED"), (2, 0, 0));
    assert_eq!(w.inv(&w.wholesaler, &w.gtin, "INTRODUCED"), (2, 0, 0));
    // Shipping the inner box alone takes it out of the pallet.
    w.transfer(&w.wholesaler, &w.retailer, std::slice::from_ref(&b1));
    assert!(w.children(&p).is_empty());
    assert_eq!(w.owner(&c[0]), w.retailer.tin);
    assert_eq!(w.state(&c[0]).parent, Some(w.key(&b1)));
}

fn aggregate_into_others_package_refused(w: &World) {
    let c = w.introduced(1);
    let r = w.at_retailer(1);
    let b = w.sscc_free();
    w.aggregate(&w.retailer, &b, &r);
    w.refused(
        &w.producer,
        json!({"type": "aggregate", "parent": b, "children": ids(&c)}),
        &[ids(&c), ids(&r)].concat(),
        &b,
        "not_owner",
    );
}

fn ship_only_to_who_can_accept(w: &World) {
    let c = w.introduced(1);
    let e = w.unchanged(&ids(&c), || {
        w.doc(
            &w.producer,
            json!({"type": "ship", "receiver": w.regulator.tin, "codes": ids(&c)}),
        )
    });
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
}

fn verify_of_package_reveals_no_holder(w: &World) {
    let c = w.at_retailer(2);
    let b = w.sscc_free();
    w.aggregate(&w.retailer, &b, &c);
    let text = serde_json::to_string(&w.reg.verify(&b).expect("verify")).expect("json");
    assert!(
        !text.contains(&w.retailer.tin),
        "verify reveals the holder: {text}"
    );
    assert!(
        !text.contains(&w.retailer.name),
        "verify reveals the holder: {text}"
    );
}

fn concurrent_registration_of_one_tin(w: &World) {
    use base64::Engine;
    for round in 0..10 {
        let tin = format!("55{round:08}");
        let barrier = std::sync::Barrier::new(8);
        let oks: Vec<bool> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    let (tin, barrier) = (tin.clone(), &barrier);
                    sc.spawn(move || {
                        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
                        let public_key = base64::engine::general_purpose::STANDARD
                            .encode(key.verifying_key().to_bytes());
                        barrier.wait();
                        w.reg
                            .register_participant(NewParticipant {
                                tin,
                                name: "Twin".into(),
                                roles: vec![Role::Retailer],
                                public_key,
                                region: "RU-MOW".into(),
                                gs1_prefixes: Vec::new(),
                            })
                            .is_ok()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert_eq!(
            oks.iter().filter(|o| **o).count(),
            1,
            "round {round}: {oks:?}"
        );
        let same = w
            .reg
            .participants()
            .expect("participants")
            .into_iter()
            .filter(|p| p.tin == tin)
            .count();
        assert_eq!(same, 1, "round {round}");
    }
}

fn concurrent_product_cards_of_one_gtin(w: &World) {
    for round in 0..10u32 {
        let gtin = with_check_digit(&format!("04700000{round:05}"));
        let barrier = std::sync::Barrier::new(2);
        let (a, b) = std::thread::scope(|sc| {
            let (g1, g2, b1, b2) = (&gtin, &gtin, &barrier, &barrier);
            let h1 = sc.spawn(move || {
                b1.wait();
                w.reg
                    .put_product(
                        &w.producer,
                        NewProduct {
                            gtin: g1.clone(),
                            name: "Mine".into(),
                            product_group: "shoes".into(),
                            brand: None,
                            shelf_life_days: None,
                            max_retail_price: None,
                            attributes: None,
                        },
                    )
                    .is_ok()
            });
            let h2 = sc.spawn(move || {
                b2.wait();
                w.reg
                    .put_product(
                        &w.importer,
                        NewProduct {
                            gtin: g2.clone(),
                            name: "Theirs".into(),
                            product_group: "shoes".into(),
                            brand: None,
                            shelf_life_days: None,
                            max_retail_price: None,
                            attributes: None,
                        },
                    )
                    .is_ok()
            });
            (h1.join().expect("thread"), h2.join().expect("thread"))
        });
        assert!(
            a ^ b,
            "round {round}: both or neither of two owners got GTIN {gtin}"
        );
    }
}

fn concurrent_lift_of_one_block(w: &World) {
    let c = w.at_retailer(1);
    let keep = w.block(Some(&w.gtin), None, None);
    for round in 0..5 {
        let blk = w.block(Some(&w.gtin), None, None);
        let codes = w.block(None, None, Some(ids(&c)));
        let barrier = std::sync::Barrier::new(8);
        let oks: Vec<bool> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..8)
                .map(|i| {
                    let barrier = &barrier;
                    sc.spawn(move || {
                        barrier.wait();
                        w.reg
                            .lift_block(&w.regulator, if i % 2 == 0 { blk } else { codes })
                            .is_ok()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert_eq!(
            oks.iter().filter(|o| **o).count(),
            2,
            "round {round}: {oks:?}"
        );
        // The other GTIN block still holds; the code-level count is back to zero.
        assert_eq!(w.verdict(&c[0]), "recalled", "round {round}");
        assert_eq!(w.state(&c[0]).blocks, 0, "round {round}");
    }
    w.reg.lift_block(&w.regulator, keep).expect("lift");
    assert_eq!(w.verdict(&c[0]), "genuine");
}

fn too_many_active_orders(w: &World) {
    for _ in 0..types::limits::ACTIVE_ORDERS_MAX {
        w.order(&w.producer, &w.milk, 1, "short");
    }
    let new = || NewOrder {
        gtin: w.milk.clone(),
        quantity: 1,
        serial_type: SerialType::Operator,
        serials: None,
        tail: "short".into(),
    };
    assert!(matches!(
        w.reg.create_order(&w.producer, new()),
        Err(Error::TooMany(_))
    ));
    let first = w.reg.store().orders_of(w.producer.id).expect("orders")[0].id;
    w.reg.close_order(&w.producer, &first).expect("close");
    w.reg
        .create_order(&w.producer, new())
        .expect("an order once one is closed");
}

fn two_units_out_of_one_box_in_one_document(w: &World) {
    let c = w.at_retailer(4);
    let b = w.sscc_free();
    w.aggregate(&w.retailer, &b, &c);
    w.sell(&w.retailer, &c[1..3])
        .expect("sell two units of a box");
    assert_eq!(w.children(&b), sorted(&[c[0].clone(), c[3].clone()]));
    for x in &c[1..3] {
        assert_eq!(w.state(x).parent, None);
    }
    w.ok(
        &w.retailer,
        json!({"type": "write_off", "codes": [b], "reason": "damage"}),
    );
    assert_eq!(w.status(&c[0]), "WRITTEN_OFF");
    assert_eq!(w.status(&c[1]), "RETIRED");
    assert_eq!(w.inv(&w.retailer, &w.gtin, "WRITTEN_OFF"), (2, 0, 0));
    assert_eq!(w.inv(&w.retailer, &w.gtin, "RETIRED"), (2, 0, 0));
    assert_eq!(w.inv(&w.retailer, &w.gtin, "INTRODUCED"), (0, 0, 0));
}

fn self_made_serial_of_wrong_length_refused(w: &World) {
    // Shoes carry 13-character serials (`PRODUCT_GROUPS`); a 12-character one is refused.
    let e = w.unchanged(&[], || {
        w.reg.create_order(
            &w.producer,
            NewOrder {
                gtin: w.gtin.clone(),
                quantity: 2,
                serial_type: SerialType::SelfMade,
                serials: Some(vec!["SELF00000000".into(), "SELF000000001".into()]),
                tail: "mac".into(),
            },
        )
    });
    match e {
        Error::Invalid { errors, .. } => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(
                (errors[0].code.as_str(), errors[0].reason),
                ("SELF00000000", "bad_length")
            );
        }
        e => panic!("expected bad_length, got {e:?}"),
    }
}

fn sell_with_stale_receipt_refused(w: &World) {
    let c = w.at_retailer(1);
    let mut body = w.sell_body(&c);
    let old = w.now() - types::limits::RECEIPT_AGE_MAX_SECS - 60;
    body["receipt"]["at"] = json!(types::time::format_timestamp(old));
    let e = w.unchanged(&ids(&c), || w.doc(&w.retailer, body));
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    assert_eq!(w.status(&c[0]), "INTRODUCED");
    // A receipt a day old (an offline till catching up) is fine.
    let mut body = w.sell_body(&c);
    body["receipt"]["at"] = json!(types::time::format_timestamp(w.now() - 86_400));
    w.ok(&w.retailer, body);
    assert_eq!(w.status(&c[0]), "RETIRED");
}

fn reading_a_code_with_a_forged_tail_says_so(w: &World) {
    let c = w.introduced(1);
    let forged = tampered(&c[0]);
    match w.reg.code_info(&w.regulator, &forged) {
        Err(Error::Invalid { errors, .. }) => assert_eq!(errors[0].reason, "bad_crypto_tail"),
        other => panic!("a forged tail read as {other:?}"),
    }
    let q = serde_json::to_value(
        w.reg
            .query_codes(&w.regulator, &[forged, c[0].clone()])
            .expect("query"),
    )
    .expect("json");
    assert_eq!(q[0]["error"], "bad_crypto_tail");
    assert_eq!(q[1]["status"], "INTRODUCED");
    assert!(w.reg.code_info(&w.regulator, &c[0]).is_ok());
}

fn remark_replaces_a_damaged_label(w: &World) {
    // An introduced unit in a box, its label damaged: a fresh code takes its place.
    let c = w.order(&w.producer, &w.gtin, 2, "mac");
    w.apply(&w.producer, &c);
    w.introduce(&c[..1], Some(w.date(30)), Some("B7"));
    let b = w.sscc();
    w.aggregate(&w.producer, &b, &c[..1]);
    let before = w.inv(&w.producer, &w.gtin, "INTRODUCED");
    w.ok(
        &w.producer,
        json!({"type": "remark", "codes": [id(&c[0])], "replacements": [id(&c[1])]}),
    );
    let old = w.state(&c[0]);
    let new = w.state(&c[1]);
    assert_eq!((old.status, old.reason), ("WRITTEN_OFF", Some("remark")));
    assert_eq!(old.replaced_by.as_deref(), Some(id(&c[1]).as_str()));
    assert_eq!(old.parent, None);
    assert_eq!(new.status, "INTRODUCED");
    assert_eq!(new.replaces.as_deref(), Some(id(&c[0]).as_str()));
    assert_eq!(new.expiry_date, old.expiry_date);
    assert_eq!(new.parent.as_deref(), Some(b.as_str()));
    assert_eq!(w.children(&b), vec![id(&c[1])]);
    assert_eq!(w.inv(&w.producer, &w.gtin, "INTRODUCED"), before);
    assert_eq!(w.verdict(&c[0]), "not_in_circulation");
    assert_eq!(w.verdict(&c[1]), "genuine");
}

fn remark_refusals(w: &World) {
    let c = w.introduced(3);
    let fresh = w.order(&w.producer, &w.gtin, 1, "mac");
    let milk = w.order(&w.producer, &w.milk, 1, "mac");
    let theirs = w.order(&w.importer, &w.import_gtin, 1, "mac");
    let watch = ids(&[c.clone(), fresh.clone(), milk.clone()].concat());
    // The replacement is already in circulation.
    w.refused(
        &w.producer,
        json!({"type": "remark", "codes": [id(&c[0])], "replacements": [id(&c[1])]}),
        &watch,
        &id(&c[1]),
        "wrong_status",
    );
    // Another product's code cannot replace this one.
    w.refused(
        &w.producer,
        json!({"type": "remark", "codes": [id(&c[0])], "replacements": [id(&milk[0])]}),
        &watch,
        &id(&milk[0]),
        "gtin_mismatch",
    );
    // The damaged code must be applied or in circulation.
    w.refused(
        &w.producer,
        json!({"type": "remark", "codes": [id(&fresh[0])], "replacements": [id(&c[2])]}),
        &watch,
        &id(&fresh[0]),
        "wrong_status",
    );
    // Someone else's code.
    w.refused(
        &w.producer,
        json!({"type": "remark", "codes": [id(&c[0])], "replacements": [id(&theirs[0])]}),
        &watch,
        &id(&theirs[0]),
        "not_owner",
    );
    // Pairs must pair.
    let e = w.unchanged(&watch, || {
        w.doc(
            &w.producer,
            json!({"type": "remark", "codes": [id(&c[0])], "replacements": []}),
        )
    });
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
}

fn block_of_package_and_its_unit_lifts_clean(w: &World) {
    let c = w.at_retailer(2);
    let b = w.sscc_free();
    w.aggregate(&w.retailer, &b, &c);
    // The unit is named and also held by the named box: it is blocked once, not twice.
    let blk = w.block(None, None, Some(vec![b.clone(), c[0].clone()]));
    assert_eq!(w.state(&c[0]).blocks, 1);
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    assert_eq!(w.state(&c[0]).blocks, 0);
    assert!(!w.pos_reasons(&c[0]).contains(&"blocked"));
    assert_eq!(w.verdict(&c[0]), "genuine");
}

fn aggregate_into_a_nested_box_lowers_the_outer_expiry(w: &World) {
    let a = w.applied(2);
    w.introduce(&a, Some(w.date(20)), None);
    let (bx, pallet) = (w.sscc(), w.sscc());
    w.aggregate(&w.producer, &bx, &a);
    w.aggregate(&w.producer, &pallet, std::slice::from_ref(&bx));
    assert_eq!(w.state(&pallet).expiry_date, Some(w.date(20)));
    // A unit that expires sooner goes into the box that sits on the pallet.
    let b = w.applied(1);
    w.introduce(&b, Some(w.date(5)), None);
    w.aggregate(&w.producer, &bx, &b);
    assert_eq!(w.state(&bx).expiry_date, Some(w.date(5)));
    assert_eq!(w.state(&pallet).expiry_date, Some(w.date(5)));
}

fn remark_of_a_blocked_code_then_lift(w: &World) {
    let c = w.order(&w.producer, &w.gtin, 2, "mac");
    w.apply(&w.producer, &c);
    w.introduce(&c[..1], None, None);
    let blk = w.block(None, None, Some(vec![c[0].clone()]));
    w.ok(
        &w.producer,
        json!({"type": "remark", "codes": [id(&c[0])], "replacements": [id(&c[1])]}),
    );
    assert!(w.state(&c[1]).blocked);
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    assert!(
        !w.state(&c[1]).blocked,
        "the replacement stays blocked after the lift"
    );
}

macro_rules! suite {
    ($d:tt; $($name:ident),* $(,)?) => {
        /// Every conformance test, by name.
        pub const TESTS: &[(&str, Test)] = &[$((stringify!($name), $name as Test)),*];

        /// Expands to one `#[test]` per conformance test, each on a fresh store from
        /// `$make` (a `fn() -> (Arc<dyn Store>, Box<dyn Any>)` or closure):
        /// `conformance::conformance_tests!(make_store);` in an engine's test file.
        #[macro_export]
        macro_rules! conformance_tests {
            ($d make:expr) => {
                $(
                    #[test]
                    fn $name() {
                        $d crate::run_one(&$d make, stringify!($name));
                    }
                )*
            };
        }
    };
}

suite![
    $;
    // happy paths
    whole_chain_producer_wholesaler_retailer_sale,
    history_lists_each_event_with_its_document,
    inventory_counts_move,
    import_by_importer,
    return_with_matching_reason,
    write_off_with_reason,
    withdraw_with_export,
    idempotent_same_id_same_body,
    idempotent_accept_and_ship,
    a_participant_suspended_after_sign_in_sends_nothing,
    acting_on_code_in_package_takes_it_out,
    ship_unit_out_of_package,
    group_package_expiry_is_earliest,
    unused_emitted_codes_expire,
    self_made_serials_unique_per_gtin,
    self_made_serial_of_wrong_length_refused,
    remark_replaces_a_damaged_label,
    remark_refusals,
    sell_with_stale_receipt_refused,
    reading_a_code_with_a_forged_tail_says_so,
    operator_serials_are_distinct,
    emitted_codes_are_ranges_until_touched,
    store_finds_a_range_by_any_counter,
    // refusals
    apply_unknown_code,
    apply_bad_check_digit,
    document_with_tampered_tail_is_bad_crypto_tail,
    apply_twice_is_wrong_status,
    introduce_emitted_is_wrong_status,
    introduce_refuses_bad_dates,
    ship_not_owner,
    ship_in_transit,
    ship_to_unknown_or_self_refused,
    accept_rules,
    accept_reject_everything_returns_to_seller,
    aggregate_in_aggregate,
    aggregate_status_mismatch,
    aggregate_cycle,
    duplicate_in_document,
    sell_already_sold,
    sell_not_in_circulation,
    sell_blocked,
    sell_expired,
    return_reason_mismatch,
    write_off_wrong_status,
    disaggregate_not_a_package,
    disaggregate_nested_in_one_document,
    package_inconsistent,
    refused_document_is_all_or_nothing,
    roles_are_enforced,
    // blocks
    block_by_code_and_lift,
    block_by_batch_and_lift,
    block_by_gtin_and_lift,
    // till check
    till_check_every_reason,
    till_check_expired,
    till_check_all_tail_kinds,
    // verification
    verify_verdicts,
    blocked_and_expired_goods_only_go_back_or_out,
    writer_survives_a_panicking_job,
    writer_refuses_a_batch_that_breaks_an_invariant,
    verify_never_reveals_the_owner,
    verify_all_tail_kinds,
    // log, restart, concurrency
    log_head_advances_on_accepted_only,
    registry_reopens_over_the_same_store,
    concurrent_disjoint_documents,
    concurrent_double_sale_accepts_one,
    // added: packages, receivers, races on registrations, products and blocks, order limits
    ship_nested_box_and_reject_box_from_pallet,
    aggregate_into_others_package_refused,
    ship_only_to_who_can_accept,
    verify_of_package_reveals_no_holder,
    concurrent_registration_of_one_tin,
    concurrent_product_cards_of_one_gtin,
    concurrent_lift_of_one_block,
    too_many_active_orders,
    two_units_out_of_one_box_in_one_document,
    block_of_package_and_its_unit_lifts_clean,
    aggregate_into_a_nested_box_lowers_the_outer_expiry,
    remark_of_a_blocked_code_then_lift,
    // consumers' complaints
    complaint_is_stored_linked_and_logged,
    complaint_refusals_change_nothing,
    complaints_filter_and_page,
    // the feed and projections
    feed_records_every_change_with_what_projections_need,
    feed_keeps_refusals_with_the_state_that_refused,
    feed_of_kinds_hands_over_those_kinds_in_order,
    projection_rows_and_checkpoint_land_together,
    projection_follows_and_resumes_from_its_checkpoint,
    projection_that_panics_starts_again_from_its_checkpoint,
    projection_whose_apply_fails_starts_again_from_its_checkpoint,
    projection_waits_before_a_feed_entry_it_cannot_read,
    // what `tracemark audit` reads
    states_and_inventory_scan_in_pages,
    many_codes_read_at_once_as_one_by_one,
];

/// `Store::feed_of_kinds`: every fact of the kinds asked, in order, within the bounds;
/// what else a store hands over is not of those kinds only if it could not tell (a record
/// of no known version).
fn feed_of_kinds_hands_over_those_kinds_in_order(w: &World) {
    use types::feed::{peek, FactKind as K, FEED_VERSION};
    let store = w.reg.store().clone();
    let mut base = 0;
    while let Some(&(last, _)) = store.feed(base, 1_000).expect("feed").last() {
        base = last;
    }
    // Records as the feed writes them, far enough for `peek`: version, time, kind; then
    // bytes standing for the fact.
    let kinds = [
        K::Document,
        K::TillCheck,
        K::Verified,
        K::TillCheck,
        K::Document,
    ];
    let mut feed: Vec<(u64, Vec<u8>)> = (0..3_000u64)
        .map(|i| {
            let kind = kinds[(i % 5) as usize];
            let mut r = vec![FEED_VERSION, 100, kind.code()];
            r.extend(std::iter::repeat_n(b'x', (i % 7) as usize * 100));
            (base + 1 + i, r)
        })
        .collect();
    // And one of a version no reader knows.
    feed.push((base + 3_001, vec![0xEE, 1, 2, 3]));
    store
        .commit(&store::WriteSet {
            feed: feed.clone(),
            ..Default::default()
        })
        .expect("commit");
    let wanted = |after: u64, upto: u64| -> Vec<(u64, Vec<u8>)> {
        feed.iter()
            .filter(|(s, r)| {
                *s > after
                    && *s <= upto
                    && peek(r).is_none_or(|(_, k)| k == K::TillCheck || k == K::Verified)
            })
            .cloned()
            .collect()
    };
    let got = |after: u64, upto: u64, limit: usize| {
        store
            .feed_of_kinds(after, upto, limit, &[K::TillCheck, K::Verified])
            .expect("feed of kinds")
    };
    // Whole, paged by the caller as a projection's start does.
    let mut all = Vec::new();
    let mut after = base;
    loop {
        let page = got(after, base + 3_001, 500);
        assert!(page.len() <= 500);
        let Some(&(last, _)) = page.last() else { break };
        after = last;
        all.extend(page);
    }
    assert_eq!(all, wanted(base, base + 3_001));
    assert_eq!(
        all.len(),
        3 * 600 + 1,
        "till checks, verifications, the unknown"
    );
    // Bounded on both sides.
    assert_eq!(got(base + 10, base + 20, 100), wanted(base + 10, base + 20));
    assert_eq!(got(base + 20, base + 20, 100), vec![]);
    assert_eq!(got(base, base + 3_001, 3), wanted(base, base + 3_001)[..3]);
    assert_eq!(
        store
            .feed_of_kinds(base, base + 3_001, 100, &[K::Ack])
            .expect("none of that kind"),
        vec![feed[3_000].clone()]
    );
}

fn complaint(code: Option<&str>, kind: &str, text: &str) -> types::complaints::NewComplaint {
    types::complaints::NewComplaint {
        code: code.map(str::to_string),
        kind: kind.into(),
        text: text.into(),
        shop: None,
        location: None,
        photo: None,
    }
}

fn public() -> registry::tailguard::Checker {
    registry::tailguard::Checker::Public(7)
}

fn complaint_is_stored_linked_and_logged(w: &World) {
    use base64::Engine;
    let c = w.at_retailer(2);
    w.sell(&w.retailer, &c[0..1]).expect("sell");
    let head = w.reg.log_size().expect("log size");
    let png = b"\x89PNG\r\n\x1a\nrest-of-a-png".to_vec();
    let mut req = complaint(
        Some(&c[0]),
        "sold_twice",
        "  The shop sold me this one again  ",
    );
    req.shop = Some("Corner shop, Tverskaya 1".into());
    req.location = Some(types::complaints::Location {
        lat: 55.75,
        lon: 37.61,
        accuracy_m: Some(20.0),
    });
    req.photo = Some(types::complaints::PhotoUpload {
        media_type: "image/png".into(),
        data: base64::engine::general_purpose::STANDARD.encode(&png),
    });
    let made = w
        .reg
        .complain(req, "tag-a".into(), public())
        .expect("complain");
    assert_eq!(made.text, "The shop sold me this one again", "trimmed");
    assert_eq!(made.code.as_deref(), Some(id(&c[0]).as_str()));
    assert_eq!(made.verdict.as_deref(), Some("sold"));
    assert_eq!(
        made.shop_tin.as_deref(),
        Some(w.retailer.tin.as_str()),
        "the seller"
    );
    assert_eq!(w.reg.log_size().expect("log size"), head + 1, "one leaf");
    // Only regulators read complaints, and they read exactly what was stored.
    let f = types::complaints::ComplaintFilter {
        limit: 10,
        ..Default::default()
    };
    assert!(matches!(
        w.reg.complaints(&w.retailer, &f),
        Err(Error::Forbidden(_))
    ));
    let page = w.reg.complaints(&w.regulator, &f).expect("list");
    assert_eq!(page.complaints.len(), 1);
    assert_eq!(page.complaints[0].complaint, made);
    assert!(page.complaints[0].has_photo);
    let (t, bytes) = w
        .reg
        .complaint_photo(&w.regulator, &made.id)
        .expect("photo");
    assert_eq!((t.as_str(), bytes), ("image/png", png));
    // A code the registry never issued may still be complained about; unmarked goods too.
    let unknown = format!("01{}21NOSUCHSERIAL", w.gtin);
    let u = w
        .reg
        .complain(
            complaint(Some(&unknown), "counterfeit", "fake"),
            "tag-b".into(),
            public(),
        )
        .expect("complain");
    assert_eq!((u.verdict.as_deref(), u.shop_tin), (Some("unknown"), None));
    let n = w
        .reg
        .complain(
            complaint(None, "no_marking", "no code at all"),
            "tag-b".into(),
            public(),
        )
        .expect("complain");
    assert!(
        n.code.is_none() && n.id > u.id && u.id > made.id,
        "ids grow in time"
    );
}

fn complaint_refusals_change_nothing(w: &World) {
    use base64::Engine;
    let c = w.at_retailer(1);
    let head = w.reg.log_size().expect("log size");
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let long = "x".repeat(types::complaints::TEXT_CHARS_MAX + 1);
    let mut bad: Vec<(&str, types::complaints::NewComplaint)> = vec![
        (
            "unknown kind",
            complaint(Some(&c[0]), "rude_cashier", "text"),
        ),
        ("empty text", complaint(Some(&c[0]), "other", "   ")),
        ("long text", complaint(Some(&c[0]), "other", &long)),
        ("control characters", complaint(None, "other", "a\u{7}b")),
        (
            "malformed code",
            complaint(Some("0146000000000"), "other", "text"),
        ),
    ];
    let mut loc = complaint(None, "other", "text");
    loc.location = Some(types::complaints::Location {
        lat: 91.0,
        lon: 0.0,
        accuracy_m: None,
    });
    bad.push(("latitude out of range", loc));
    let mut nan = complaint(None, "other", "text");
    nan.location = Some(types::complaints::Location {
        lat: f64::NAN,
        lon: 0.0,
        accuracy_m: None,
    });
    bad.push(("NaN", nan));
    let mut gif = complaint(None, "other", "text");
    gif.photo = Some(types::complaints::PhotoUpload {
        media_type: "image/gif".into(),
        data: b64(b"GIF89a...."),
    });
    bad.push(("not JPEG or PNG", gif));
    let mut liar = complaint(None, "other", "text");
    liar.photo = Some(types::complaints::PhotoUpload {
        media_type: "image/jpeg".into(),
        data: b64(b"<html>not a jpeg</html>"),
    });
    bad.push(("type that lies", liar));
    let mut big = complaint(None, "other", "text");
    let mut huge = vec![0xFFu8, 0xD8, 0xFF];
    huge.resize(types::complaints::PHOTO_BYTES_MAX + 1, 0);
    big.photo = Some(types::complaints::PhotoUpload {
        media_type: "image/jpeg".into(),
        data: b64(&huge),
    });
    bad.push(("photo too large", big));
    let mut notb64 = complaint(None, "other", "text");
    notb64.photo = Some(types::complaints::PhotoUpload {
        media_type: "image/jpeg".into(),
        data: "%%%".into(),
    });
    bad.push(("not base64", notb64));
    for (why, req) in bad {
        match w.reg.complain(req, "tag".into(), public()) {
            Err(Error::Invalid { .. }) | Err(Error::TooLarge(_)) => {}
            other => panic!("{why}: {other:?}; expected a refusal"),
        }
    }
    assert_eq!(w.reg.log_size().expect("log size"), head, "nothing logged");
    let page = w
        .reg
        .complaints(
            &w.regulator,
            &types::complaints::ComplaintFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .expect("list");
    assert!(page.complaints.is_empty(), "nothing stored");
}

fn complaints_filter_and_page(w: &World) {
    let a = w.at_retailer(2);
    let first = w.now();
    for i in 0..5 {
        let kind = if i % 2 == 0 { "counterfeit" } else { "price" };
        w.reg
            .complain(
                complaint(Some(&a[0]), kind, &format!("a{i}")),
                "t".into(),
                public(),
            )
            .expect("complain");
    }
    w.days(1);
    let later = w.now();
    for i in 0..3 {
        w.reg
            .complain(
                complaint(Some(&a[1]), "expired", &format!("b{i}")),
                "t".into(),
                public(),
            )
            .expect("complain");
    }
    w.reg
        .complain(complaint(None, "other", "c"), "t".into(), public())
        .expect("complain");
    let list = |f: types::complaints::ComplaintFilter| {
        w.reg
            .complaints(&w.regulator, &f)
            .expect("list")
            .complaints
            .into_iter()
            .map(|c| c.complaint.text)
            .collect::<Vec<_>>()
    };
    let all = types::complaints::ComplaintFilter {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(list(all.clone()).len(), 9);
    let by_code = types::complaints::ComplaintFilter {
        code: Some(a[0].clone()),
        ..all.clone()
    };
    assert_eq!(
        list(by_code),
        ["a0", "a1", "a2", "a3", "a4"],
        "any form of the code"
    );
    let by_kind = types::complaints::ComplaintFilter {
        kind: Some("price".into()),
        ..all.clone()
    };
    assert_eq!(list(by_kind), ["a1", "a3"]);
    let by_shop = types::complaints::ComplaintFilter {
        shop: Some(w.retailer.tin.clone()),
        ..all.clone()
    };
    assert_eq!(
        list(by_shop).len(),
        8,
        "the codes' holder; the unmarked one has none"
    );
    let by_time = types::complaints::ComplaintFilter {
        from: Some(later),
        ..all.clone()
    };
    assert_eq!(list(by_time), ["b0", "b1", "b2", "c"]);
    let before = types::complaints::ComplaintFilter {
        from: Some(first),
        to: Some(later),
        ..all.clone()
    };
    assert_eq!(list(before).len(), 5);
    // Pages of 2, following `next`, see each complaint once, in order.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = w
            .reg
            .complaints(
                &w.regulator,
                &types::complaints::ComplaintFilter {
                    limit: 2,
                    after,
                    ..Default::default()
                },
            )
            .expect("page");
        seen.extend(page.complaints.into_iter().map(|c| c.complaint.text));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "c"]);
    // The largest cursor has nothing after it (no wrap-around to the first page).
    let last = w
        .reg
        .complaints(
            &w.regulator,
            &types::complaints::ComplaintFilter {
                limit: 10,
                after: Some(uuid::Uuid::max()),
                ..Default::default()
            },
        )
        .expect("page");
    assert!(last.complaints.is_empty() && last.next.is_none());
    assert!(matches!(
        w.reg.complaints(
            &w.regulator,
            &types::complaints::ComplaintFilter {
                limit: 0,
                ..Default::default()
            }
        ),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        w.reg.complaints(
            &w.regulator,
            &types::complaints::ComplaintFilter {
                kind: Some("nonsense".into()),
                ..all
            }
        ),
        Err(Error::Invalid { .. })
    ));
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Runs one test on a fresh store; `Err` carries the panic message.
pub fn try_one(make: MakeStore<'_>, test: Test) -> std::result::Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (store, keep) = make();
        let w = World::open(store);
        test(&w);
        drop(w);
        drop(keep);
    }))
    .map_err(|p| panic_text(&*p))
}

/// Runs the test named `name`, panicking with its name if it fails.
pub fn run_one(make: MakeStore<'_>, name: &str) {
    let (_, t) = TESTS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no conformance test {name}"));
    if let Err(e) = try_one(make, *t) {
        panic!("conformance test {name} failed: {e}");
    }
}

/// Runs every conformance test against stores made by `make`, each on a fresh store, and
/// panics at the end naming every test that failed. `CONFORMANCE_FILTER` (a substring of
/// test names) runs a subset.
pub fn run_all(make: MakeStore<'_>) {
    let filter = std::env::var("CONFORMANCE_FILTER").unwrap_or_default();
    let started = Instant::now();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, t) in TESTS.iter().filter(|(n, _)| n.contains(filter.as_str())) {
        let t0 = Instant::now();
        let r = try_one(make, *t);
        ran += 1;
        match r {
            Ok(()) => println!(
                "conformance {name} ... ok ({} ms)",
                t0.elapsed().as_millis()
            ),
            Err(e) => {
                println!("conformance {name} ... FAILED: {e}");
                failed.push(format!("{name}: {e}"));
            }
        }
    }
    println!(
        "conformance: {ran} tests, {} failed, {:.1} s",
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{} conformance tests failed:\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
}

/// Every fact committed so far, waiting (≤ 5 s) until one matches `until` (facts from reads
/// join the writer's next commit).
fn feed_until(w: &World, until: impl Fn(&types::feed::Fact) -> bool) -> Vec<types::feed::Fact> {
    let end = Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let facts: Vec<_> = w
            .reg
            .feed(0, 100_000)
            .expect("feed")
            .into_iter()
            .map(|e| e.fact)
            .collect();
        if facts.iter().any(&until) || Instant::now() > end {
            return facts;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn feed_records_every_change_with_what_projections_need(w: &World) {
    use types::feed::{Fact, Who};
    let c = w.introduced(3);
    let b = w.sscc();
    w.aggregate(&w.producer, &b, &c[0..2]);
    let ship = w.ship(&w.producer, &w.retailer, std::slice::from_ref(&b));
    let accept = w.accept(&w.retailer, ship, &[]);
    let checks = w.pos(&w.retailer, vec![registry::PosItem::Code(c[0].clone())]);
    assert!(checks[0].sellable, "{checks:?}");
    let mut body = w.sell_body(&c[0..1]);
    body["receipt"]["at"] = json!(types::time::format_timestamp(w.now() - 600));
    body["check_ids"] = json!(["check-1"]);
    let sale = w.doc(&w.retailer, body).expect("sell").id;
    w.reg
        .verify_at(
            &c[0],
            registry::tailguard::Checker::Public(77),
            types::feed::Place::from_degrees(55.75, 37.62),
        )
        .expect("verify");
    let facts = feed_until(w, |f| matches!(f, Fact::Verified(_)));
    let entries = w.reg.feed(0, 100_000).expect("feed");
    for pair in entries.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "feed numbers are consecutive");
    }
    let docs: Vec<&types::feed::DocFact> = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Document(d) => Some(d),
            _ => None,
        })
        .collect();
    let key0 = types::feed::FactKey(registry::code_key(&c[0]).expect("key"));
    // The shipment: two units inside the box (the box itself is no unit), to the retailer.
    let shipped = docs.iter().find(|d| d.id == ship).expect("ship fact");
    assert_eq!(shipped.receiver, Some(w.retailer.id));
    assert_eq!(shipped.units.len(), 2, "{shipped:?}");
    assert!(shipped
        .units
        .iter()
        .all(|u| !u.before.in_transit() && u.after.in_transit()));
    let accepted = docs.iter().find(|d| d.id == accept).expect("accept fact");
    assert_eq!(
        accepted.sender,
        Some(w.producer.id),
        "an acceptance names who shipped"
    );
    let u = accepted
        .units
        .iter()
        .find(|u| u.key == key0)
        .expect("unit accepted");
    assert_eq!(
        (u.before.owner, u.after.owner),
        (w.producer.id, w.retailer.id)
    );
    // The sale: the fiscal time, not the receipt's arrival; the check ids; the unit sold.
    let sold = docs.iter().find(|d| d.id == sale).expect("sale fact");
    assert_eq!(sold.fiscal_at, Some(w.now() - 600));
    assert_eq!(sold.check_ids, ["check-1"]);
    assert_eq!(sold.units.len(), 1);
    assert!(sold.units[0].before.in_circulation() && sold.units[0].after.sold());
    assert_eq!(sold.units[0].before.owner, w.retailer.id);
    // The till check with its request id, and the scan with its coarse place.
    assert!(facts.iter().any(|f| matches!(f, Fact::TillCheck(t)
        if t.actor == w.retailer.id && t.codes.len() == 1 && t.codes[0].key == key0 && t.codes[0].sellable)));
    assert!(facts.iter().any(|f| matches!(f, Fact::Verified(v)
        if v.key == key0 && v.who == Who::Client(77) && v.verdict == "sold"
            && v.place.is_some_and(|p| (p.lat10, p.lon10) == (558, 376)))));
    // A block and its lift.
    let blk = w.block(None, None, Some(vec![c[2].clone()]));
    w.reg.lift_block(&w.regulator, blk).expect("lift");
    let facts = feed_until(w, |f| matches!(f, Fact::Block(b) if b.lifted));
    assert!(facts
        .iter()
        .any(|f| matches!(f, Fact::Block(b) if b.id == blk && !b.lifted)));
}

fn feed_keeps_refusals_with_the_state_that_refused(w: &World) {
    use types::feed::Fact;
    let a = w.at_retailer(2);
    w.sell(&w.retailer, &a[0..1]).expect("first sale");
    // The second shop sells the same code (a cloned label) and one it never got.
    let err = w.sell(&w.retailer2, &a).expect_err("not the second shop's");
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    let facts = feed_until(w, |f| matches!(f, Fact::Refused(_)));
    let refused = facts
        .iter()
        .find_map(|f| match f {
            Fact::Refused(r) if r.actor == w.retailer2.id => Some(r),
            _ => None,
        })
        .expect("refusal fact");
    assert_eq!(refused.doc_type(), Some(types::model::DocType::Sell));
    assert_eq!(refused.codes_total, 2);
    let first = registry::code_key(&a[0]).expect("key");
    let sold = refused
        .codes
        .iter()
        .find(|c| c.key.map(|k| k.0) == Some(first))
        .expect("the sold code is named");
    assert_eq!(sold.reason, "not_owner");
    assert!(sold.state.sold(), "kept as sold: {sold:?}");
    assert_eq!(sold.state.owner, w.retailer.id, "the first seller");
    let first_sale = w
        .reg
        .store()
        .document_id_by_seq(sold.last_event)
        .expect("read");
    assert!(
        first_sale.is_some(),
        "the last event points at the first sale"
    );
    let other = refused
        .codes
        .iter()
        .find(|c| c.key.map(|k| k.0) != Some(first))
        .expect("second code");
    assert!(other.state.in_circulation() && other.state.owner == w.retailer.id);
}

fn projection_rows_and_checkpoint_land_together(w: &World) {
    let s = w.reg.store();
    assert_eq!(s.projection_checkpoint("alpha").expect("read"), 0);
    let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0u8..5)
        .map(|i| (vec![b'k', i], Some(vec![i; 3])))
        .collect();
    s.commit_projection("alpha", 7, &rows).expect("write");
    s.commit_projection("beta", 3, &[(vec![b'k', 0], Some(b"other".to_vec()))])
        .expect("write");
    assert_eq!(s.projection_checkpoint("alpha").expect("read"), 7);
    assert_eq!(s.projection_checkpoint("beta").expect("read"), 3);
    let got = s.projection_rows("alpha", &[], 100).expect("rows");
    assert_eq!(got.len(), 5, "names keep their rows apart: {got:?}");
    assert_eq!(got[2], (vec![b'k', 2], vec![2; 3]));
    assert_eq!(
        s.projection_rows("alpha", &[b'k', 3], 1).expect("rows"),
        [(vec![b'k', 3], vec![3; 3])]
    );
    s.commit_projection(
        "alpha",
        9,
        &[(vec![b'k', 1], None), (vec![b'k', 4], Some(vec![9]))],
    )
    .expect("write");
    let got = s.projection_rows("alpha", &[], 100).expect("rows");
    assert_eq!(got.len(), 4);
    assert_eq!(got[3], (vec![b'k', 4], vec![9]));
    assert_eq!(s.projection_checkpoint("alpha").expect("read"), 9);
    assert_eq!(
        s.projection_rows("beta", &[], 100).expect("rows"),
        [(vec![b'k', 0], b"other".to_vec())]
    );
}

/// A projection counting sold units and documents, to test the follower.
#[derive(Default)]
struct CountSold {
    sold: u64,
    facts: u64,
    changed: bool,
}

impl registry::project::Projection for CountSold {
    fn name(&self) -> &'static str {
        "count_sold"
    }
    fn load_row(&mut self, key: &[u8], value: &[u8]) -> std::result::Result<(), String> {
        let v = u64::from_le_bytes(value.try_into().map_err(|_| "bad row")?);
        match key {
            b"sold" => self.sold = v,
            b"facts" => self.facts = v,
            _ => return Err("unknown row".into()),
        }
        Ok(())
    }
    fn apply(
        &mut self,
        e: &types::feed::FeedEntry,
        _: &Registry,
    ) -> std::result::Result<(), String> {
        self.facts += 1;
        if let types::feed::Fact::Document(d) = &e.fact {
            self.sold += d.units.iter().filter(|u| u.after.sold()).count() as u64;
        }
        self.changed = true;
        Ok(())
    }
    fn take_changes(&mut self) -> Vec<registry::project::RowChange> {
        if !std::mem::take(&mut self.changed) {
            return Vec::new();
        }
        vec![
            (b"facts".to_vec(), Some(self.facts.to_le_bytes().to_vec())),
            (b"sold".to_vec(), Some(self.sold.to_le_bytes().to_vec())),
        ]
    }
}

fn projection_follows_and_resumes_from_its_checkpoint(w: &World) {
    use std::sync::Arc;
    let a = w.at_retailer(5);
    let p = Arc::new(parking_lot::RwLock::new(CountSold::default()));
    let mut f = registry::project::follow(&w.reg, p.clone()).expect("follow");
    w.sell(&w.retailer, &a[0..2]).expect("sell");
    let head = w.reg.feed_signal().head();
    assert!(
        f.wait_applied(head, std::time::Duration::from_secs(5)),
        "follows within seconds"
    );
    assert_eq!(p.read().sold, 2);
    f.stop();
    let stored = w
        .reg
        .store()
        .projection_checkpoint("count_sold")
        .expect("checkpoint");
    assert_eq!(stored, head, "a stop writes what was applied");
    // Meanwhile more sales; a new follower loads the rows and replays only what is new.
    w.sell(&w.retailer, &a[2..5]).expect("sell");
    let p2 = Arc::new(parking_lot::RwLock::new(CountSold::default()));
    let f2 = registry::project::follow(&w.reg, p2.clone()).expect("follow again");
    let head2 = w.reg.feed_signal().head();
    assert!(f2.wait_applied(head2, std::time::Duration::from_secs(5)));
    assert_eq!(p2.read().sold, 5, "nothing missed, nothing counted twice");
    assert_eq!(p2.read().facts, head2, "every fact applied exactly once");
}

/// [`CountSold`] that panics once, applying the fact at `panic_at`, or fails once at
/// `fail_at` after counting it (a read that failed half-way); a fresh one, as the follower
/// makes after either, does neither.
#[derive(Default)]
struct Flaky {
    count: CountSold,
    panic_at: Option<u64>,
    fail_at: Option<u64>,
}

impl registry::project::Projection for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn load_row(&mut self, key: &[u8], value: &[u8]) -> std::result::Result<(), String> {
        self.count.load_row(key, value)
    }
    fn apply(
        &mut self,
        e: &types::feed::FeedEntry,
        reg: &Registry,
    ) -> std::result::Result<(), String> {
        if self.panic_at == Some(e.seq) {
            panic!("a bug met at fact {}", e.seq);
        }
        self.count.apply(e, reg)?;
        if self.fail_at == Some(e.seq) {
            return Err(format!("a read failed applying fact {}", e.seq));
        }
        Ok(())
    }
    fn take_changes(&mut self) -> Vec<registry::project::RowChange> {
        self.count.take_changes()
    }
}

/// Polls `ok` until it holds or `secs` pass (generous: a busy machine); whether it held.
fn eventually(secs: u64, mut ok: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if ok() {
            return true;
        }
        if std::time::Instant::now() >= end {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A panic in a projection's `apply` does not kill it: it is counted, and the projection
/// starts again from its stored checkpoint with its memory rebuilt, so that nothing is
/// missed and nothing counted twice.
fn projection_that_panics_starts_again_from_its_checkpoint(w: &World) {
    flaky_starts_again_from_its_checkpoint(w, |at| Flaky {
        panic_at: Some(at),
        ..Flaky::default()
    });
}

/// An error from a projection's `apply` (a read of the registry failed, half-way through
/// the fact) is a failure as a panic is: named in the progress, the memory it half changed
/// dropped, the projection started again from its checkpoint; nothing missed, nothing
/// counted twice. (Before: a failed read was taken for "none", and the rows depended on
/// when a fact was applied; the simulator saw it as analytics rows a rebuild did not make.)
fn projection_whose_apply_fails_starts_again_from_its_checkpoint(w: &World) {
    let f = flaky_starts_again_from_its_checkpoint(w, |at| Flaky {
        fail_at: Some(at),
        ..Flaky::default()
    });
    assert!(
        f.progress
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

/// Follows with the [`Flaky`] `make` gives for a fact two past the first sale's while six
/// codes are sold; asserts it ends with every fact applied once.
fn flaky_starts_again_from_its_checkpoint(
    w: &World,
    make: impl FnOnce(u64) -> Flaky,
) -> registry::project::Follower {
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;
    let a = w.at_retailer(6);
    w.sell(&w.retailer, &a[0..2]).expect("sell");
    let first = w.reg.feed_signal().head();
    let at = first + 2;
    let p = Arc::new(parking_lot::RwLock::new(make(at)));
    let f = registry::project::follow(&w.reg, p.clone()).expect("follow");
    for i in 2..6 {
        w.sell(&w.retailer, &a[i..i + 1]).expect("sell");
    }
    let head = w.reg.feed_signal().head();
    assert!(head >= at, "the sales' facts are past the one that fails");
    assert!(
        eventually(60, || f.progress.restarts.load(Relaxed) >= 1),
        "the failure is counted as a restart"
    );
    assert!(
        f.progress
            .failure()
            .is_some_and(|why| why.contains(&format!("feed entry {at} ")))
            || f.progress.stored.load(Relaxed) >= at,
        "the failure names the entry: {:?}",
        f.progress.failure()
    );
    assert!(
        f.wait_applied(head, std::time::Duration::from_secs(60)),
        "it runs again and follows the feed to its head"
    );
    assert_eq!(
        p.read().count.sold,
        6,
        "nothing missed, nothing counted twice"
    );
    assert_eq!(
        p.read().count.facts,
        head,
        "every fact applied exactly once"
    );
    assert!(
        eventually(60, || f.progress.failure().is_none()),
        "the failure is cleared once the stored rows are past the entry"
    );
    f
}

/// A feed entry the projection cannot read stops it just before that entry, failed (with
/// the entry named), its checkpoint not past it; once the entry reads, it goes on.
fn projection_waits_before_a_feed_entry_it_cannot_read(w: &World) {
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;
    let a = w.at_retailer(4);
    for i in 0..4 {
        w.sell(&w.retailer, &a[i..i + 1]).expect("sell");
    }
    let head = w.reg.feed_signal().head();
    let bad = head - 1;
    let store = w.reg.store().clone();
    let (seq, good) = store.feed(bad - 1, 1).expect("feed").remove(0);
    assert_eq!(seq, bad);
    let commit = |bytes: Vec<u8>| {
        store
            .commit(&store::WriteSet {
                feed: vec![(bad, bytes)],
                ..Default::default()
            })
            .expect("commit")
    };
    commit(vec![0xEE, 1, 2, 3]);
    let p = Arc::new(parking_lot::RwLock::new(CountSold::default()));
    let f = registry::project::follow(&w.reg, p.clone()).expect("follow");
    assert!(
        eventually(60, || f.progress.failure().is_some()),
        "the unreadable entry fails the projection"
    );
    let why = f.progress.failure().expect("failed");
    assert!(why.contains(&format!("feed entry {bad} ")), "{why}");
    assert!(
        eventually(60, || f.progress.stored.load(Relaxed) == bad - 1),
        "what came before it is stored"
    );
    assert_eq!(f.progress.applied.load(Relaxed), bad - 1);
    assert_eq!(
        store
            .projection_checkpoint("count_sold")
            .expect("checkpoint"),
        bad - 1,
        "the checkpoint is not past the entry"
    );
    assert!(f.progress.unreadable.load(Relaxed) >= 1);
    // The entry reads again (as a newer version would read it): the projection goes on.
    commit(good);
    assert!(
        f.wait_applied(head, std::time::Duration::from_secs(90)),
        "it goes on after a back-off"
    );
    assert!(
        eventually(60, || f.progress.failure().is_none()),
        "the failure is cleared once the stored rows are past the entry"
    );
    assert_eq!(p.read().facts, head, "every fact applied exactly once");
    assert_eq!(p.read().sold, 4);
}

/// `Store::codes` of many keys at once — in any order, some twice, some without a state
/// (emitted only, or never issued) — answers each as a read of that key alone, in the order
/// asked (an engine may read a run of neighbouring keys in one scan).
fn many_codes_read_at_once_as_one_by_one(w: &World) {
    let g = &w.gtin;
    let c = w.order(&w.producer, g, 300, "mac");
    // Every code but each seventh gets a state of its own; the rest stay in their range.
    let applied: Vec<String> = c
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 7 != 3)
        .map(|(_, code)| code.clone())
        .collect();
    w.apply(&w.producer, &applied);
    w.introduce(&applied[..40], None, None);
    let mut keys: Vec<types::model::CodeKey> = c
        .iter()
        .map(|code| registry::code_key(code).expect("key"))
        .collect();
    keys.push(registry::code_key(&format!("01{g}21NEVERISSUED1")).expect("key"));
    keys.extend_from_within(10..20);
    // A fixed shuffle: reversed halves, interleaved.
    let half = keys.len() / 2;
    let (a, b) = keys.split_at(half);
    let mut mixed: Vec<types::model::CodeKey> = Vec::with_capacity(keys.len());
    for i in 0..half.max(keys.len() - half) {
        if let Some(k) = b.get(b.len().wrapping_sub(1 + i)) {
            mixed.push(*k);
        }
        if let Some(k) = a.get(i) {
            mixed.push(*k);
        }
    }
    for ks in [&keys, &mixed] {
        let store = w.reg.store();
        let got = store.codes(ks).expect("read");
        assert_eq!(got.len(), ks.len(), "one answer per key");
        for (k, st) in ks.iter().zip(&got) {
            let alone = store.codes(std::slice::from_ref(k)).expect("read one")[0];
            assert_eq!(st, &alone, "{k}: read with others as alone");
        }
        let with_state = got.iter().filter(|s| s.is_some()).count();
        assert!(
            with_state >= applied.len(),
            "every applied code has a state ({with_state} of {})",
            ks.len()
        );
    }
}

/// `Store::code_states_after` and `Store::inventory_after` (the audit's scans): every state
/// and every counter exactly once, in pages that resume after their last key, in the same
/// order whatever the page size, and what a point read gives.
fn states_and_inventory_scan_in_pages(w: &World) {
    let g = &w.gtin;
    let c = w.order(&w.producer, g, 7, "mac");
    w.apply(&w.producer, &c);
    w.introduce(&c[..4], None, None);
    let ship = w.ship(&w.producer, &w.retailer, &c[..2]);
    w.accept(&w.retailer, ship, &[]);
    w.aggregate(&w.producer, &w.sscc(), &c[2..3]);
    let store = w.reg.store();
    let all = store.code_states_after(None, usize::MAX).expect("scan");
    for (k, st) in &all {
        let read = store.codes(&[*k]).expect("read")[0];
        assert_eq!(read.as_ref(), Some(st), "a scanned state is the stored one");
    }
    let mut keys: Vec<_> = all.iter().map(|(k, _)| *k).collect();
    for code in &c {
        let k = registry::code_key(code).expect("key");
        assert!(keys.contains(&k), "{code} is scanned");
    }
    let n = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n, "each state once");
    for page in [1, 2, 3] {
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let got = store.code_states_after(after.as_ref(), page).expect("page");
            assert!(got.len() <= page, "a page holds at most its limit");
            let Some(last) = got.last() else { break };
            after = Some(last.0);
            paged.extend(got);
        }
        assert_eq!(
            paged, all,
            "pages of {page} resume where they stopped, in one order"
        );
    }
    let counters = store.inventory_after(None, usize::MAX).expect("inventory");
    let find = |p: &Participant, b: Bucket| {
        let gtin: u64 = g.parse().expect("gtin");
        counters
            .iter()
            .find(|(o, gg, bb, _)| *o == p.id && *gg == gtin && *bb == b)
            .map_or(0, |x| x.3)
    };
    assert_eq!(find(&w.producer, Bucket::Status(Status::Applied)), 3);
    assert_eq!(find(&w.producer, Bucket::Status(Status::Introduced)), 2);
    assert_eq!(find(&w.retailer, Bucket::Status(Status::Introduced)), 2);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let got = store.inventory_after(after, 2).expect("page");
        let Some(last) = got.last() else { break };
        after = Some((last.0, last.1, last.2));
        paged.extend(got);
    }
    let nonzero =
        |v: &[(ParticipantId, u64, Bucket, i64)]| -> Vec<(ParticipantId, u64, Bucket, i64)> {
            v.iter().filter(|x| x.3 != 0).cloned().collect()
        };
    assert_eq!(
        nonzero(&paged),
        nonzero(&counters),
        "inventory pages resume in order"
    );
}

/// A participant suspended after its request was authenticated (the caller holds its
/// record from before): the writer refuses the document, changing nothing; reinstated, it
/// goes through.
fn a_participant_suspended_after_sign_in_sends_nothing(w: &World) {
    let c = w.at_retailer(2);
    let signed_in = w.retailer.clone();
    w.reg
        .suspend(&w.retailer.tin, "an inspection")
        .expect("suspend");
    let before = w.snapshot(&c);
    match w.doc(&signed_in, w.sell_body(&c)) {
        Err(Error::Unauthorized(m)) => assert!(m.contains("suspended"), "{m}"),
        other => panic!("a suspended participant's sale: {other:?}"),
    }
    assert_eq!(w.snapshot(&c), before, "the refused sale changed nothing");
    w.reg.reinstate(&w.retailer.tin).expect("reinstate");
    w.doc(&signed_in, w.sell_body(&c))
        .expect("sold once reinstated");
    // An order the same way (every job a participant's request runs checks it).
    let producer = w.producer.clone();
    w.reg
        .suspend(&producer.tin, "an inspection")
        .expect("suspend");
    let order = NewOrder {
        gtin: w.gtin.clone(),
        quantity: 10,
        serial_type: SerialType::Operator,
        serials: None,
        tail: "mac".into(),
    };
    match w.reg.create_order(&producer, order) {
        Err(Error::Unauthorized(m)) => assert!(m.contains("suspended"), "{m}"),
        other => panic!("a suspended participant's order: {other:?}"),
    }
    w.reg.reinstate(&producer.tin).expect("reinstate");
}
