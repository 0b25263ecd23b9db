//! The state is a function of the log: every leaf replayed, in order and at its recorded
//! time, through the registry's own rules into a fresh store, so that `tracemark audit` can
//! compare what is stored with what the log makes of it.
//!
//! Documents go through the very code the writer runs (`registry::rules::submit` on a
//! `registry::tx::Tx` whose clock is the leaf's `at`: expiry and the sale's report time are
//! judged as they were). The other changes a leaf records are small and are mirrored here,
//! each as its registry closure writes it:
//!
//! | leaf | registry code | written here |
//! |---|---|---|
//! | participant, key, suspension, reinstatement, prefixes | `Registry::register_participant`, `change_participant` | the participant from the leaf |
//! | product | `Registry::put_product_signed` | the card from the signed body, owned by the leaf's actor |
//! | order | `Registry::create_order_signed` | the order, its serial counter, its self-made serials |
//! | emission | `Registry::submit_chunk` | the chunk's codes recomputed from the order with the issuing keys; their BLAKE3 must be the leaf's |
//! | order close | `Registry::close_order_signed` | the status |
//! | block, lift | `Registry::create_block_signed`, `lift_block_signed` | the block from the signed body, every code under it counted |
//! | product transfer | `Registry::move_card` (an operator's transfer, or a GS1 prefix granted) | the card's new owner, from the holder the leaf names |
//!
//! A change to one of those closures must change its mirror here: the audit tests (a clean
//! registry audits clean) fail otherwise. Complaints and alert acknowledgements change no
//! state the rules read; their leaves are appended as recorded.
//!
//! Each leaf is one job committed on its own (the live writer groups jobs, which the rules
//! cannot tell apart: a job sees every earlier one either way). The replayed leaf must be
//! byte for byte the stored one: a document's leaf carries its sequence number, the number
//! of codes it changed and its hash-chain link, an emission's leaf the BLAKE3 of its codes.

use anyhow::{anyhow, Context, Result};
use parking_lot::RwLock;
use registry::blocks::BlockIndex;
use registry::tx::{Tx, WriterState};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use store::Store;
use types::log::{self, Leaf, LeafKind};
use types::model::{
    Block, CodeKey, CodeState, Order, OrderStatus, Participant, ParticipantId, ParticipantKey,
    Product, SerialType, Status, TailKind,
};

/// Shortest and longest GS1 company prefix (as `registry::PREFIX_LEN_MIN`/`MAX`).
const PREFIX_LEN: std::ops::RangeInclusive<usize> =
    registry::PREFIX_LEN_MIN..=registry::PREFIX_LEN_MAX;

/// What replaying one leaf found wrong: the leaf cannot be replayed, or its replay does not
/// record what the stored leaf records.
pub type Problem = String;

/// A replay in progress over a scratch store (empty at the start).
pub struct Replay<'s> {
    scratch: &'s dyn Store,
    keyring: Arc<RwLock<issuance::Keyring>>,
    /// Reads ranged codes' states as the registry does ([`registry::ranges`]).
    ranges: registry::ranges::Ranges,
    state: WriterState,
    blocks: BlockIndex,
    prefixes: BTreeMap<String, ParticipantId>,
    /// Leaves whose change carried no signed body (the registry's own changes, or changes
    /// made through the library without a signature): their record was taken as stored.
    unsigned: std::cell::Cell<u64>,
    /// Blocks made in the latest second that saw one (see [`Replay::lagging`]).
    recent_blocks: Vec<Block>,
    /// The capture whose events are being replayed (its events are consecutive documents):
    /// its id, capturer, job and events' hashes, read once.
    capture: std::cell::RefCell<Option<CaptureRead>>,
}

/// A capture read for the replay of its events.
struct CaptureRead {
    id: uuid::Uuid,
    capturer: ParticipantId,
    job: registry::capture::CaptureJob,
    hashes: Vec<String>,
}

/// Self-made serials stored per write (as the registry's `ORDER_CHUNK`; any size stores the
/// same rows).
const SERIALS_CHUNK: usize = 10_000;

impl<'s> Replay<'s> {
    /// A replay into `scratch` (an empty store), recomputing codes with `keyring`.
    pub fn new(scratch: &'s dyn Store, keyring: issuance::Keyring) -> Result<Replay<'s>> {
        if scratch.counter("log_size")? != 0 {
            return Err(anyhow!("the scratch store for the replay is not empty"));
        }
        let keyring = Arc::new(RwLock::new(keyring));
        Ok(Replay {
            scratch,
            ranges: registry::ranges::Ranges::new(keyring.clone()),
            keyring,
            state: WriterState::load(scratch)?,
            blocks: BlockIndex::default(),
            prefixes: BTreeMap::new(),
            unsigned: std::cell::Cell::new(0),
            recent_blocks: Vec::new(),
            capture: std::cell::RefCell::new(None),
        })
    }

    /// The writer's counters after the leaves replayed so far.
    pub fn state(&self) -> &WriterState {
        &self.state
    }

    /// A change a participant asked for while suspended (as the replay's participants
    /// stand at this leaf): the live writer refuses those (every participant's job checks
    /// it), so one in the log was put there some other way. The operator's and the
    /// registry's own leaves (actor 0), consumers' complaints and emissions are not a
    /// participant's asking.
    fn suspended_actor(&self, leaf: &Leaf) -> Result<Option<Problem>> {
        let asked = matches!(
            leaf.kind,
            LeafKind::Document
                | LeafKind::Product
                | LeafKind::Order
                | LeafKind::OrderClose
                | LeafKind::Block
                | LeafKind::Lift
                | LeafKind::AlertAck
        );
        if !asked || leaf.actor == 0 {
            return Ok(None);
        }
        let Some(p) = self.scratch.participant(leaf.actor)? else {
            return Ok(None);
        };
        Ok(p.suspended.map(|why| {
            format!(
                "its participant {} was suspended ({why}) when it was recorded",
                p.tin
            )
        }))
    }

    /// Replays leaf `index` (`bytes`, decoded as `leaf`) of the audited store `audited`.
    /// `Ok(Err(p))`: the leaf does not replay as recorded (nothing of it was applied);
    /// `Err`: a storage failure.
    pub fn apply(
        &mut self,
        audited: &dyn Store,
        index: u64,
        bytes: &[u8],
        leaf: &Leaf,
    ) -> Result<std::result::Result<(), Problem>> {
        if let Some(p) = self.suspended_actor(leaf)? {
            return Ok(Err(p));
        }
        let mut tx = Tx::new(self.scratch, leaf.at, self.state.clone()).with_ranges(&self.ranges);
        let outcome = match leaf.kind {
            LeafKind::Document => {
                let first = self.document(&mut tx, audited, leaf, &self.blocks)?;
                match (&first, self.lagging(leaf.at)) {
                    // The live registry counts a block in once its batch is committed: a
                    // document of the same batch was judged without it. Judged so again.
                    (Err(_), Some(without)) => {
                        tx = Tx::new(self.scratch, leaf.at, self.state.clone())
                            .with_ranges(&self.ranges);
                        self.document(&mut tx, audited, leaf, &without)?
                    }
                    _ => first,
                }
            }
            LeafKind::Participant => participant(&mut tx, leaf),
            LeafKind::ParticipantKey
            | LeafKind::Suspension
            | LeafKind::Reinstatement
            | LeafKind::Prefixes => change_participant(&mut tx, leaf)?,
            LeafKind::Product => self.product(&mut tx, audited, leaf)?,
            LeafKind::Order => self.order(&mut tx, audited, leaf)?,
            LeafKind::Emission => self.emission(&mut tx, leaf)?,
            LeafKind::OrderClose => order_close(&mut tx, leaf)?,
            LeafKind::Block => self.block(&mut tx, audited, leaf)?,
            LeafKind::Lift => lift(&mut tx, leaf)?,
            LeafKind::ProductTransfer => product_transfer(&mut tx, leaf)?,
            LeafKind::Complaint | LeafKind::AlertAck => {
                tx.append_log(leaf.kind, leaf.actor, &leaf.payload);
                Ok(())
            }
        };
        if let Err(p) = outcome {
            return Ok(Err(p));
        }
        if let Err(broken) = tx.check_invariants() {
            return Ok(Err(format!(
                "replayed, it would break an invariant: {broken}"
            )));
        }
        let (mut set, state) = tx.finish();
        match set.log_leaves.as_slice() {
            [(i, replayed)] if *i == index && replayed.as_slice() == bytes => {}
            [(i, replayed)] if *i == index => {
                return Ok(Err(format!(
                    "replayed through the rules, it records {} where the log says {}",
                    leaf_text(replayed),
                    leaf_text(bytes)
                )))
            }
            _ => {
                return Ok(Err(format!(
                    "replayed, it makes {} log records at {:?} instead of one at {index}",
                    set.log_leaves.len(),
                    set.log_leaves.first().map(|l| l.0)
                )))
            }
        }
        // Only the state is compared: the feed and refusal records stay out of the scratch.
        set.feed.clear();
        set.refusals.clear();
        self.scratch.commit(&set)?;
        for b in &set.blocks {
            // A block appears once made and once lifted; the index follows the latest.
            match b.lifted_at {
                None => {
                    self.blocks.add(b);
                    self.recent_blocks.retain(|r| r.created_at == b.created_at);
                    self.recent_blocks.push(b.clone());
                }
                Some(_) => {
                    self.blocks.remove(b);
                    self.recent_blocks.retain(|r| r.id != b.id);
                }
            }
        }
        for p in &set.participants {
            for x in &p.gs1_prefixes {
                self.prefixes.insert(x.clone(), p.id);
            }
        }
        self.state = state;
        Ok(Ok(()))
    }

    /// The block index without the blocks made at `at` (the second of a document's batch),
    /// if there are any: what a document committed in the same group commit as a block saw.
    fn lagging(&self, at: u64) -> Option<BlockIndex> {
        let same: Vec<&Block> = self
            .recent_blocks
            .iter()
            .filter(|b| b.created_at == at)
            .collect();
        if same.is_empty() {
            return None;
        }
        let mut ix = self.blocks.clone();
        for b in same {
            ix.remove(b);
        }
        Some(ix)
    }

    fn prefix_holder(&self, digits: &str) -> Option<ParticipantId> {
        PREFIX_LEN
            .filter(|n| *n <= digits.len())
            .find_map(|n| self.prefixes.get(&digits[..n]).copied())
    }

    fn document(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        audited: &dyn Store,
        leaf: &Leaf,
        blocks: &BlockIndex,
    ) -> Result<std::result::Result<(), Problem>> {
        let Some(id) = leaf.payload["id"]
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
        else {
            return Ok(Err("a document record without an id".into()));
        };
        let Some(doc) = audited.document(&id)? else {
            return Ok(Err(format!("document {id} is not stored")));
        };
        let Some(actor) = self.scratch.participant(leaf.actor)? else {
            return Ok(Err(format!(
                "document {id}: its participant {} was never registered",
                leaf.actor
            )));
        };
        if doc.doc_type == types::model::DocType::EpcisCapture {
            return Ok(registry::capture::replay_capture(tx, &doc));
        }
        let prepared =
            match registry::documents::prepare_stored(doc.body.clone(), doc.request.clone()) {
                Ok(p) => p,
                Err(e) => return Ok(Err(format!("document {id}: its body does not read: {e}"))),
            };
        if let Some(origin) = &prepared.epcis {
            if let Err(p) = self.captured(audited, &doc, origin) {
                return Ok(Err(p));
            }
        }
        let scratch = self.scratch;
        let ttl = |gtin: u64| {
            scratch
                .product(gtin)
                .ok()
                .flatten()
                .and_then(|p| types::model::product_group(&p.product_group))
                .map(|g| g.emitted_ttl_days)
        };
        let by_tin = |tin: &str| -> registry::Result<Option<Participant>> {
            Ok(scratch.participant_by_tin(tin)?)
        };
        let prefix_holder = |d: &str| self.prefix_holder(d);
        let ctx = registry::rules::DocContext {
            actor: &actor,
            blocks,
            emitted_ttl_days: &ttl,
            participant_by_tin: &by_tin,
            tail_ok: &registry::tail_ok,
            prefix_holder: &prefix_holder,
        };
        match registry::rules::submit(tx, &ctx, prepared) {
            Ok(_) => Ok(Ok(())),
            Err(e) => Ok(Err(format!(
                "document {id} (sequence {}): the rules refuse it on replay at its recorded time: {e}",
                doc.seq
            ))),
        }
    }

    /// A document made from a captured event against its capture: the capture is stored,
    /// by the same participant, names this document at the event's place, and its signed
    /// body holds an event of the hash the document says.
    fn captured(
        &self,
        audited: &dyn Store,
        doc: &types::model::StoredDocument,
        origin: &registry::documents::EpcisOrigin,
    ) -> std::result::Result<(), Problem> {
        let id = doc.id;
        let fresh = self
            .capture
            .borrow()
            .as_ref()
            .is_none_or(|c| c.id != origin.capture);
        if fresh {
            let c = audited
                .document(&origin.capture)
                .map_err(|e| format!("document {id}: its capture does not read: {e}"))?
                .filter(|c| c.doc_type == types::model::DocType::EpcisCapture)
                .ok_or_else(|| {
                    format!(
                        "document {id}: its capture {} is not stored",
                        origin.capture
                    )
                })?;
            let (job, hashes) = registry::capture::stored_capture_hashes(&c)
                .map_err(|e| format!("document {id}: {e}"))?;
            *self.capture.borrow_mut() = Some(CaptureRead {
                id: c.id,
                capturer: c.participant,
                job,
                hashes,
            });
        }
        let cell = self.capture.borrow();
        let Some(c) = cell.as_ref() else {
            return Err(format!("document {id}: its capture was not read"));
        };
        let i = origin.index as usize;
        let ok = c.capturer == doc.participant
            && c.hashes.get(i) == Some(&origin.event_hash)
            && c.job.documents.get(i) == Some(&Some(id));
        if !ok {
            return Err(format!(
                "document {id}: not event {i} of capture {} as its capturer signed it",
                origin.capture
            ));
        }
        Ok(())
    }

    fn product(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        audited: &dyn Store,
        leaf: &Leaf,
    ) -> Result<std::result::Result<(), Problem>> {
        let Some(gtin) = leaf.payload["gtin"]
            .as_str()
            .and_then(|g| g.parse::<u64>().ok())
        else {
            return Ok(Err("a product record without its GTIN".into()));
        };
        let product = match signed_body::<registry::NewProduct>(&leaf.payload) {
            Some(Ok(req)) => Product {
                gtin: format!("{gtin:014}"),
                name: req.name.trim().to_string(),
                product_group: req.product_group,
                brand: req.brand,
                shelf_life_days: req.shelf_life_days,
                max_retail_price: req.max_retail_price,
                attributes: req.attributes,
                owner: leaf.actor,
            },
            Some(Err(e)) => return Ok(Err(format!("product {gtin:014}: its signed body: {e}"))),
            None => match audited.product(gtin)? {
                Some(p) => {
                    self.note_unsigned();
                    p
                }
                None => return Ok(Err(format!("product {gtin:014} is not stored"))),
            },
        };
        if let Some(existing) = tx.product(gtin)? {
            if existing.owner != leaf.actor {
                return Ok(Err(format!(
                    "product {gtin:014}: changed by participant {}, but it is participant {}'s",
                    leaf.actor, existing.owner
                )));
            }
        }
        tx.put_product(product);
        tx.append_log(LeafKind::Product, leaf.actor, &leaf.payload);
        Ok(Ok(()))
    }

    fn note_unsigned(&self) {
        self.unsigned.set(self.unsigned.get() + 1);
    }

    /// Leaves replayed so far whose change carried no signed body (the registry's own
    /// changes, or changes made through the library without a signature): their record
    /// (product, order, block) was taken as stored, checked against its leaf only.
    pub fn unsigned(&self) -> u64 {
        self.unsigned.get()
    }

    fn order(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        audited: &dyn Store,
        leaf: &Leaf,
    ) -> Result<std::result::Result<(), Problem>> {
        let p = &leaf.payload;
        let (Some(id), Some(gtin), Some(quantity), Some(start), Some(key_index)) = (
            p["order_id"]
                .as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok()),
            p["gtin"].as_str().and_then(|g| g.parse::<u64>().ok()),
            p["quantity"].as_u64().and_then(|q| u32::try_from(q).ok()),
            p["counter_start"].as_u64(),
            p["key_index"].as_u64().and_then(|k| u16::try_from(k).ok()),
        ) else {
            return Ok(Err(
                "an order record without its order, GTIN, quantity, counter or key".into(),
            ));
        };
        let Some(product) = tx.product(gtin)? else {
            return Ok(Err(format!(
                "order {id}: GTIN {gtin:014} has no product card"
            )));
        };
        let Some(group) = types::model::product_group(&product.product_group) else {
            return Ok(Err(format!("order {id}: the product's group is unknown")));
        };
        let (serial_type, tail, serials) = match signed_body::<registry::NewOrder>(p) {
            Some(Ok(req)) => {
                let tail = match req.tail.as_str() {
                    "mac" => TailKind::Mac,
                    "signature" => TailKind::Signature,
                    "short" => TailKind::Short,
                    t => return Ok(Err(format!("order {id}: tail {t:?}"))),
                };
                (req.serial_type, tail, req.serials)
            }
            Some(Err(e)) => return Ok(Err(format!("order {id}: its signed body: {e}"))),
            None => {
                let Some(o) = audited.order(&id)? else {
                    return Ok(Err(format!("order {id} is not stored")));
                };
                self.note_unsigned();
                let serials = if o.serial_type == SerialType::SelfMade {
                    Some(audited.order_serials(&id, 0, o.quantity)?)
                } else {
                    None
                };
                (o.serial_type, o.tail, serials)
            }
        };
        let order = Order {
            id,
            participant: leaf.actor,
            gtin: format!("{gtin:014}"),
            quantity,
            serial_type,
            tail,
            key_index,
            serial_len: group.serial_len,
            counter_start: start,
            status: OrderStatus::Pending,
            produced: 0,
            created_at: leaf.at,
            error: None,
        };
        if serial_type == SerialType::Operator {
            let name = format!("serial_counter:{gtin:014}");
            if tx.counter(&name)? != start {
                return Ok(Err(format!(
                    "order {id}: its serials start at {start}, but GTIN {gtin:014}'s counter stood at {}",
                    tx.counter(&name)?
                )));
            }
            tx.set_counter(&name, start + u64::from(quantity));
        } else {
            let flag = format!("self_made:{gtin:014}");
            let n = tx.counter(&flag)?;
            tx.set_counter(&flag, n + 1);
            let list = serials.unwrap_or_default();
            if list.len() != quantity as usize {
                return Ok(Err(format!(
                    "order {id}: {} self-made serials for a quantity of {quantity}",
                    list.len()
                )));
            }
            for (i, c) in list.chunks(SERIALS_CHUNK).enumerate() {
                tx.put_order_serials(id, (i * SERIALS_CHUNK) as u32, c.to_vec());
            }
        }
        tx.put_order(order);
        tx.append_log(LeafKind::Order, leaf.actor, &leaf.payload);
        Ok(Ok(()))
    }

    fn emission(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        leaf: &Leaf,
    ) -> Result<std::result::Result<(), Problem>> {
        let p = &leaf.payload;
        let (Some(id), Some(first), Some(count)) = (
            p["order_id"]
                .as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok()),
            p["first"].as_u64().and_then(|x| u32::try_from(x).ok()),
            p["count"].as_u64().and_then(|x| u32::try_from(x).ok()),
        ) else {
            return Ok(Err(
                "an emission record without its order, first or count".into()
            ));
        };
        let Some(mut o) = tx.store().order(&id)? else {
            return Ok(Err(format!(
                "emission for order {id}, which no record made"
            )));
        };
        if o.status != OrderStatus::Pending || o.produced != first {
            return Ok(Err(format!(
                "emission of codes {first}.. for order {id}, which had produced {} ({:?})",
                o.produced, o.status
            )));
        }
        let ranged = p["form"].as_str() == Some("range");
        // (A chunk of a rangeable order may be recorded one by one: so were all before
        // ranges.)
        if ranged && !registry::ranges::ranged(&o) {
            return Ok(Err(format!(
                "order {id}: emission recorded as a range, but its codes are stored one by one"
            )));
        }
        // A range's codes are recomputed without their tails (the leaf hashes keys only;
        // its codes' tails are derived when read); codes stored one by one with them.
        let codes = if ranged {
            self.range_codes(&o, first, count)
        } else {
            self.codes_of(&o, first, count)
        };
        let codes = match codes {
            Ok(c) => c,
            Err(e) => {
                return Ok(Err(format!(
                    "order {id}: its codes cannot be recomputed: {e}"
                )))
            }
        };
        let mut h = blake3::Hasher::new();
        for (k, _) in &codes {
            h.update(k.as_bytes());
        }
        let mut record = serde_json::json!({
            "order_id": o.id, "first": first, "count": count,
            "codes_blake3": log::hex(h.finalize().as_bytes()),
        });
        if ranged {
            record["form"] = "range".into();
        }
        tx.append_log(LeafKind::Emission, 0, &record);
        let keys: Vec<CodeKey> = codes.iter().map(|c| c.0).collect();
        if ranged {
            let states = tx.peek(&keys)?;
            if let Some((k, _)) = keys.iter().zip(&states).find(|(_, s)| s.is_some()) {
                return Ok(Err(format!("order {id}: its code {k} exists already")));
            }
            tx.put_range(types::model::CodeRange {
                gtin: o.gtin.parse().context("the order's GTIN")?,
                serial_len: o.serial_len,
                counter_lo: o.counter_start + u64::from(first),
                count,
                owner: o.participant,
                tail: o.tail,
                key_index: o.key_index,
                at: leaf.at,
                order: o.id,
            });
        }
        if !ranged {
            tx.load(&keys)?;
        }
        for (k, fp) in codes.iter().filter(|_| !ranged) {
            if tx.code(k)?.is_some() {
                return Ok(Err(format!("order {id}: its code {k} exists already")));
            }
            let mut st = CodeState::new(Status::Emitted, o.participant, leaf.at);
            st.tail = o.tail;
            st.key_index = o.key_index;
            st.tail_fp = *fp;
            tx.put_code(*k, st);
        }
        o.produced = first + count;
        if o.produced == o.quantity {
            o.status = OrderStatus::Ready;
        }
        tx.put_order(o);
        Ok(Ok(()))
    }

    /// Codes `from .. from + n` of a ranged order, as the registry hashes them for the leaf
    /// (`registry::ranges::range_keys`); no fingerprints (0).
    fn range_codes(&self, order: &Order, from: u32, n: u32) -> Result<Vec<(CodeKey, u64)>> {
        let gtin: u64 = order.gtin.parse().context("the order's GTIN")?;
        registry::ranges::range_keys(
            self.keyring.read().serials(),
            gtin,
            order.serial_len,
            order.counter_start + u64::from(from),
            n,
        )?
        .map(|k| Ok((k?, 0)))
        .collect()
    }

    /// Codes `from .. from + n` of an order with their tails' fingerprints, as the registry
    /// makes them (`orders.rs`, `make_codes`).
    fn codes_of(&self, order: &Order, from: u32, n: u32) -> Result<Vec<(CodeKey, u64)>> {
        let gtin: u64 = order.gtin.parse().context("the order's GTIN")?;
        let kind = registry::ranges::issuance_kind(order.tail)
            .ok_or_else(|| anyhow!("an order without a tail"))?;
        let kid = format!("{:04}", order.key_index);
        let mut out = Vec::with_capacity(n as usize);
        let mut issue = |serial: &str| -> Result<()> {
            let id = issuance::IdCode::new(gtin, serial)?;
            let tail = self
                .keyring
                .read()
                .issue_tail_with(&kid, kind, id.as_str())?;
            out.push((CodeKey::unit(gtin, serial.as_bytes()), tail.fingerprint()));
            Ok(())
        };
        match order.serial_type {
            SerialType::SelfMade => {
                for s in self.scratch.order_serials(&order.id, from, n)? {
                    issue(&s)?;
                }
            }
            SerialType::Operator => {
                let len = issuance::SerialLen::new(usize::from(order.serial_len))?;
                let seq = self.keyring.read().serials().sequence(gtin, len)?;
                for i in from..from + n {
                    let s = seq.serial(order.counter_start + u64::from(i))?;
                    issue(s.as_str())?;
                }
            }
        }
        Ok(out)
    }

    fn block(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        audited: &dyn Store,
        leaf: &Leaf,
    ) -> Result<std::result::Result<(), Problem>> {
        let id = tx.state.next_block;
        if leaf.payload["block_id"].as_u64() != Some(id) {
            return Ok(Err(format!(
                "a block record numbered {} where the next block is {id}",
                leaf.payload["block_id"]
            )));
        }
        let (gtin, batch, reason, named) = match signed_body::<registry::NewBlock>(&leaf.payload) {
            Some(Ok(req)) => {
                let gtin = match req.gtin.as_deref().map(registry::parse_gtin).transpose() {
                    Ok(g) => g.map(|g| format!("{g:014}")),
                    Err(e) => return Ok(Err(format!("block {id}: its GTIN: {e}"))),
                };
                let mut keys = Vec::new();
                for c in req.codes.unwrap_or_default() {
                    match types::codes::parse_code(&c) {
                        Ok(p) => keys.push(p.key),
                        Err((r, _)) => return Ok(Err(format!("block {id}: code {c:?}: {r}"))),
                    }
                }
                (gtin, req.batch, req.reason, keys)
            }
            Some(Err(e)) => return Ok(Err(format!("block {id}: its signed body: {e}"))),
            None => {
                let Some(b) = audited.blocks()?.into_iter().find(|b| b.id == id) else {
                    return Ok(Err(format!("block {id} is not stored")));
                };
                self.note_unsigned();
                // Without the request, the codes named are those stored (packages' contents
                // included, which the expansion below leaves as they are).
                (b.gtin, b.batch, b.reason, audited.block_codes(id)?)
            }
        };
        tx.load(&named)?;
        let mut all = Vec::new();
        for k in &named {
            if tx.code(k)?.is_none() {
                return Ok(Err(format!(
                    "block {id}: it names code {k}, which does not exist"
                )));
            }
            all.push(*k);
            tx.descendants(k, &mut all)?;
        }
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
        tx.state.next_block += 1;
        tx.put_block(Block {
            id,
            gtin,
            batch,
            codes: all.len() as u64,
            reason,
            participant: leaf.actor,
            created_at: leaf.at,
            lifted_at: None,
        });
        tx.append_log(LeafKind::Block, leaf.actor, &leaf.payload);
        Ok(Ok(()))
    }
}

/// The signed request's body in a leaf, parsed: `None` when the change was not signed.
fn signed_body<T: serde::de::DeserializeOwned>(payload: &Value) -> Option<Result<T>> {
    use base64::Engine;
    let b = payload["request"]["body"].as_str()?;
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .context("base64")
            .and_then(|bytes| serde_json::from_slice(&bytes).context("JSON")),
    )
}

/// A leaf in words for a problem: its kind and payload (shortened).
fn leaf_text(bytes: &[u8]) -> String {
    match log::decode(bytes) {
        Some(l) => {
            let mut p = l.payload.clone();
            if let Some(o) = p.as_object_mut() {
                o.remove("request");
            }
            let mut s = format!("{} at {} {}", l.kind.name(), l.at, p);
            if s.len() > 300 {
                let mut end = 300;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s.truncate(end);
                s.push('…');
            }
            s
        }
        None => "an unreadable record".into(),
    }
}

fn participant(tx: &mut Tx<'_, dyn Store>, leaf: &Leaf) -> std::result::Result<(), Problem> {
    let p = &leaf.payload;
    let id = tx.state.next_participant;
    if p["id"].as_u64() != Some(u64::from(id)) {
        return Err(format!(
            "a participant record numbered {} where the next participant is {id}",
            p["id"]
        ));
    }
    let key = p["public_key"].as_str().and_then(|k| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(k)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
    });
    let (Some(tin), Some(name), Some(region), Some(key), Ok(roles), Ok(prefixes)) = (
        p["tin"].as_str(),
        p["name"].as_str(),
        p["region"].as_str(),
        key,
        serde_json::from_value::<Vec<types::model::Role>>(p["roles"].clone()),
        serde_json::from_value::<Vec<String>>(p["gs1_prefixes"].clone()),
    ) else {
        return Err(format!("participant {id}: its record is incomplete"));
    };
    tx.state.next_participant += 1;
    tx.put_participant(Participant {
        id,
        tin: tin.to_string(),
        name: name.to_string(),
        roles,
        public_key: key,
        region: region.to_string(),
        registered_at: leaf.at,
        keys: Vec::new(),
        suspended: None,
        gs1_prefixes: prefixes,
        token_generation: 0,
    });
    tx.append_log(LeafKind::Participant, 0, &leaf.payload);
    Ok(())
}

fn change_participant(
    tx: &mut Tx<'_, dyn Store>,
    leaf: &Leaf,
) -> Result<std::result::Result<(), Problem>> {
    let p = &leaf.payload;
    let Some(id) = p["participant"]
        .as_u64()
        .and_then(|i| u32::try_from(i).ok())
    else {
        return Ok(Err("a participant change without its participant".into()));
    };
    let Some(mut who) = tx.store().participant(id)? else {
        return Ok(Err(format!(
            "a change of participant {id}, never registered"
        )));
    };
    let change = &p["change"];
    match leaf.kind {
        LeafKind::ParticipantKey => {
            use base64::Engine;
            let (Some(key), Some(not_before)) = (
                change["public_key"].as_str().and_then(|k| {
                    base64::engine::general_purpose::STANDARD
                        .decode(k)
                        .ok()
                        .and_then(|b| <[u8; 32]>::try_from(b).ok())
                }),
                change["not_before"].as_u64(),
            ) else {
                return Ok(Err(format!(
                    "participant {id}: a key record without its key"
                )));
            };
            who.keys.retain(|k| k.not_before <= leaf.at);
            who.keys.push(ParticipantKey {
                public_key: key,
                not_before,
            });
        }
        LeafKind::Suspension => {
            who.suspended = Some(change["reason"].as_str().unwrap_or("").to_string());
            who.token_generation = who.token_generation.wrapping_add(1);
        }
        LeafKind::Reinstatement => {
            who.suspended = None;
            who.token_generation = who.token_generation.wrapping_add(1);
        }
        _ => {
            for x in change["gs1_prefixes"].as_array().into_iter().flatten() {
                if let Some(x) = x.as_str() {
                    if !who.gs1_prefixes.iter().any(|p| p == x) {
                        who.gs1_prefixes.push(x.to_string());
                    }
                }
            }
        }
    }
    tx.put_participant(who);
    tx.append_log(leaf.kind, 0, &leaf.payload);
    Ok(Ok(()))
}

fn order_close(
    tx: &mut Tx<'_, dyn Store>,
    leaf: &Leaf,
) -> Result<std::result::Result<(), Problem>> {
    let Some(id) = leaf.payload["order_id"]
        .as_str()
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
    else {
        return Ok(Err("an order close without its order".into()));
    };
    let Some(mut o) = tx.store().order(&id)? else {
        return Ok(Err(format!("order {id} is closed, but no record made it")));
    };
    if o.status == OrderStatus::Closed || o.status == OrderStatus::Pending {
        return Ok(Err(format!("order {id} is closed while {:?}", o.status)));
    }
    o.status = OrderStatus::Closed;
    tx.put_order(o);
    tx.append_log(LeafKind::OrderClose, leaf.actor, &leaf.payload);
    Ok(Ok(()))
}

/// A product card moved (`Registry::move_card`): from the holder the leaf names, which must
/// be the card's holder at that point of the log, to the participant it names.
fn product_transfer(
    tx: &mut Tx<'_, dyn Store>,
    leaf: &Leaf,
) -> Result<std::result::Result<(), Problem>> {
    let p = &leaf.payload;
    let (Some(gtin), Some(from), Some(to)) = (
        p["gtin"].as_str().and_then(|g| g.parse::<u64>().ok()),
        p["from"].as_u64().and_then(|i| u32::try_from(i).ok()),
        p["to"].as_u64().and_then(|i| u32::try_from(i).ok()),
    ) else {
        return Ok(Err(
            "a product transfer without its GTIN, holder or new holder".into(),
        ));
    };
    let Some(mut card) = tx.product(gtin)? else {
        return Ok(Err(format!(
            "product {gtin:014} is transferred, but no record made it"
        )));
    };
    if card.owner != from {
        return Ok(Err(format!(
            "product {gtin:014} is transferred from participant {from}, but it is participant {}'s",
            card.owner
        )));
    }
    if tx.store().participant(to)?.is_none() {
        return Ok(Err(format!(
            "product {gtin:014} is transferred to participant {to}, never registered"
        )));
    }
    card.owner = to;
    tx.put_product(card);
    tx.append_log(LeafKind::ProductTransfer, leaf.actor, &leaf.payload);
    Ok(Ok(()))
}

fn lift(tx: &mut Tx<'_, dyn Store>, leaf: &Leaf) -> Result<std::result::Result<(), Problem>> {
    let Some(id) = leaf.payload["block_id"].as_u64() else {
        return Ok(Err("a lift without its block".into()));
    };
    let Some(mut b) = tx.block(id)? else {
        return Ok(Err(format!("block {id} is lifted, but no record made it")));
    };
    if b.lifted_at.is_some() {
        return Ok(Err(format!("block {id} is lifted twice")));
    }
    let codes = tx.store().block_codes(id)?;
    tx.load(&codes)?;
    for k in &codes {
        if let Some(mut st) = tx.code(k)? {
            st.blocks = st.blocks.saturating_sub(1);
            tx.put_code(*k, st);
        }
    }
    b.lifted_at = Some(leaf.at);
    tx.put_block(b);
    tx.append_log(LeafKind::Lift, leaf.actor, &leaf.payload);
    Ok(Ok(()))
}
