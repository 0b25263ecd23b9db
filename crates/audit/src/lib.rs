//! `tracemark audit`: recomputes the transparency log from the stored records and checks
//! every record the log vouches for, reporting the first ones that do not match.
//!
//! What it checks, all from the store alone (no server):
//! - the log: every leaf present and of a known version, in order; the Merkle tree
//!   recomputed from the leaves equals every stored hash (a flipped byte in a leaf or a
//!   hash, a removed leaf and two swapped leaves each break it); no leaf past the size;
//! - documents: each sequence number has its document, whose body hashes to what its leaf
//!   says, whose signature is its leaf's, and whose hash chain link recomputes; every
//!   document leaf has its document;
//! - the records the registry answers from: each product card, participant (keys,
//!   suspension, GS1 prefixes), block and order equals what its leaves say;
//! - optionally, a signed checkpoint someone kept: the recomputed tree of its size has its
//!   root (a history rewritten since, even consistently, is found);
//! - the state ([`audit_state`]): the log replayed through the registry's own rules into a
//!   scratch store ([`crate::replay`]) and every stored code (state, history, package
//!   contents), inventory counter, card, participant, order, block, document record and
//!   counter compared with the recomputed one — a code un-sold, a block moved to another
//!   batch or one shop's stock given to another is named, field by field.
//!
//! Memory stays bounded whatever the registry holds: leaves stream by (only products,
//! participants, blocks and orders are gathered), documents are read one at a time, and
//! codes and counters are compared in pages of the stored store's own scan order.

pub mod replay;

use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::HashMap;
use store::Store;
use types::log::{self, LeafKind};
use types::model::{CodeKey, CodeState, StoredDocument};

/// Most problems listed (the first ones, in log order).
pub const PROBLEMS_MAX: usize = 50;
/// Leaves checked per batch of hash reads.
const BATCH: u64 = 4_096;

/// What an audit found.
#[derive(Debug, Default)]
pub struct Report {
    /// Leaves in the log.
    pub leaves: u64,
    /// Documents checked.
    pub documents: u64,
    /// The recomputed root of the whole log.
    pub root: tlog::Hash,
    /// What does not match, first first (at most [`PROBLEMS_MAX`]).
    pub problems: Vec<String>,
}

impl Report {
    fn problem(&mut self, p: String) {
        if self.problems.len() < PROBLEMS_MAX {
            self.problems.push(p);
        }
    }
}

/// Audits a store; `checkpoint`: a signed note and the log key that signed it.
pub fn audit(
    store: &dyn Store,
    checkpoint: Option<(&str, &str, &ed25519_dalek::VerifyingKey)>,
) -> Result<Report> {
    let mut r = Report::default();
    let size = store.counter("log_size")?;
    r.leaves = size;
    let kept = match checkpoint {
        Some((note, name, key)) => Some(
            tlog::verify_note(note, name, key)
                .map_err(|e| anyhow::anyhow!("the checkpoint given does not verify: {e}"))?,
        ),
        None => None,
    };
    if let Some(cp) = &kept {
        if cp.size > size {
            r.problem(format!(
                "the checkpoint kept is of {} leaves; the store's log has only {size}: records were removed",
                cp.size
            ));
        }
    }
    // The tree, recomputed leaf by leaf, against the stored hashes.
    let mut frontier = tlog::Frontier::new();
    // What the records are checked against, gathered as the leaves stream by (no leaf is
    // kept: a registry's log holds a record per document, millions of them).
    let mut leaves = Seen::default();
    let mut emitted = Vec::new();
    let mut start = 0;
    while start < size {
        let end = (start + BATCH).min(size);
        emitted.clear();
        let mut owner = Vec::new();
        for i in start..end {
            let bytes = store.log_leaf(i)?;
            let Some(bytes) = bytes else {
                r.problem(format!("log record {i} is missing"));
                // The tree cannot be recomputed past a hole.
                return finish(store, r, leaves, frontier.root());
            };
            let decoded = log::decode(&bytes);
            if decoded.is_none() {
                r.problem(format!(
                    "log record {i} is not a leaf of a known version (first byte {})",
                    bytes.first().copied().unwrap_or(0)
                ));
            }
            if let Some(l) = decoded {
                leaves.see(store, &mut r, i, l)?;
            }
            let before = emitted.len();
            frontier
                .append(&bytes, &mut emitted)
                .context("appending to the recomputed tree")?;
            owner.extend(std::iter::repeat_n(i, emitted.len() - before));
            if kept.as_ref().is_some_and(|cp| cp.size == i + 1) {
                check_kept(&mut r, kept.as_ref(), frontier.root());
            }
        }
        let ids: Vec<tlog::NodeId> = emitted.iter().map(|(id, _)| *id).collect();
        let stored = store.log_hashes(&ids)?;
        for (((id, h), s), i) in emitted.iter().zip(stored).zip(&owner) {
            if s.as_ref() != Some(h) {
                r.problem(format!(
                    "log record {i} does not match the stored tree (node level {} index {} {})",
                    id.level,
                    id.index,
                    if s.is_none() { "missing" } else { "differs" }
                ));
                return finish(store, r, leaves, frontier.root());
            }
        }
        start = end;
    }
    if kept.as_ref().is_some_and(|cp| cp.size == 0) {
        check_kept(&mut r, kept.as_ref(), tlog::EMPTY_ROOT);
    }
    if store.log_leaf(size)?.is_some() {
        r.problem(format!(
            "a log record {size} lies past the log's size: the size was rolled back"
        ));
    }
    finish(store, r, leaves, frontier.root())
}

fn check_kept(r: &mut Report, kept: Option<&tlog::Checkpoint>, root: tlog::Hash) {
    if let Some(cp) = kept {
        if cp.root != root {
            r.problem(format!(
                "the tree of {} leaves recomputed from the store is not the one the kept checkpoint signed: history was rewritten",
                cp.size
            ));
        }
    }
}

fn finish(store: &dyn Store, mut r: Report, leaves: Seen, root: tlog::Hash) -> Result<Report> {
    r.root = root;
    check_documents(store, &mut r)?;
    check_records(store, &mut r, &leaves)?;
    Ok(r)
}

/// The small records the log vouches for, gathered from its leaves in one pass: product
/// cards, participants and their changes, blocks, orders (each a few per participant, not
/// one per document or code).
#[derive(Default)]
struct Seen {
    products: HashMap<String, (u64, Value)>,
    participants: HashMap<u64, (u64, Value)>,
    changes: HashMap<u64, Vec<(u64, LeafKind, Value, u64)>>,
    blocks: HashMap<u64, (u64, Value, Option<u64>)>,
    orders: HashMap<String, (u64, Value, bool)>,
}

impl Seen {
    /// Takes leaf `i` in: a document leaf is checked against the document filed under its
    /// sequence number at once, a complaint against its record; the rest is gathered.
    fn see(&mut self, store: &dyn Store, r: &mut Report, i: u64, l: log::Leaf) -> Result<()> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let p = l.payload;
        match l.kind {
            LeafKind::Document => {
                if let Some(id) = p["id"].as_str() {
                    let filed = match p["seq"].as_u64() {
                        Some(seq) => store.document_id_by_seq(seq)?,
                        None => None,
                    };
                    if filed.map(|u| u.to_string()).as_deref() != Some(id) {
                        r.problem(format!(
                            "log record {i} names document {id}, which is not stored"
                        ));
                    }
                }
            }
            LeafKind::Product => {
                let body = p["request"]["body"]
                    .as_str()
                    .and_then(|b| b64.decode(b).ok())
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                if let (Some(g), Some(body)) = (p["gtin"].as_str(), body) {
                    self.products.insert(g.to_string(), (i, body));
                }
            }
            LeafKind::Participant => {
                if let Some(id) = p["id"].as_u64() {
                    self.participants.insert(id, (i, p));
                }
            }
            LeafKind::ParticipantKey
            | LeafKind::Suspension
            | LeafKind::Reinstatement
            | LeafKind::Prefixes => {
                if let Some(id) = p["participant"].as_u64() {
                    self.changes.entry(id).or_default().push((
                        i,
                        l.kind,
                        p["change"].clone(),
                        l.at,
                    ));
                }
            }
            LeafKind::Block => {
                if let Some(id) = p["block_id"].as_u64() {
                    self.blocks.insert(id, (i, p, None));
                }
            }
            LeafKind::Lift => {
                if let Some(b) = p["block_id"]
                    .as_u64()
                    .and_then(|id| self.blocks.get_mut(&id))
                {
                    b.2 = Some(i);
                }
            }
            LeafKind::Order => {
                if let Some(id) = p["order_id"].as_str() {
                    self.orders.insert(id.to_string(), (i, p, false));
                }
            }
            LeafKind::OrderClose => {
                if let Some(o) = p["order_id"]
                    .as_str()
                    .and_then(|id| self.orders.get_mut(id))
                {
                    o.2 = true;
                }
            }
            LeafKind::Complaint => check_complaint(store, r, i, &p)?,
            // An acknowledgement changes no stored record but the feed's (the risk engine
            // rebuilds alerts from it); the leaf is the regulator's signed word. Emissions
            // are checked by the state's replay, and so are product transfers (a card's
            // owner is compared there; its fields stay what its last product record set).
            LeafKind::Emission | LeafKind::AlertAck | LeafKind::ProductTransfer => {}
        }
        Ok(())
    }
}

fn check_documents(store: &dyn Store, r: &mut Report) -> Result<()> {
    let docs_total = store.counter("doc_seq")?.saturating_sub(1);
    let mut chain = [0u8; 32];
    for seq in 1..=docs_total {
        r.documents += 1;
        let Some(id) = store.document_id_by_seq(seq)? else {
            r.problem(format!("document {seq} is missing"));
            continue;
        };
        let Some(d) = store.document(&id)? else {
            r.problem(format!("document {seq} ({id}) is missing"));
            continue;
        };
        let leaf = match d.log_index {
            Some(i) => store.log_leaf(i)?.and_then(|b| log::decode(&b)),
            None => None,
        };
        if let Some(p) = document_mismatch(&d, seq, &chain, leaf.as_ref()) {
            r.problem(format!("document {seq} ({id}): {p}"));
        }
        chain = d.chain;
    }
    Ok(())
}

fn document_mismatch(
    d: &StoredDocument,
    seq: u64,
    prev_chain: &[u8; 32],
    leaf: Option<&log::Leaf>,
) -> Option<String> {
    if d.seq != seq {
        return Some(format!("is filed under {seq} but says {}", d.seq));
    }
    if *blake3::hash(&d.body).as_bytes() != d.body_hash {
        return Some("its body does not hash to its recorded hash".into());
    }
    let mut h = blake3::Hasher::new();
    h.update(prev_chain);
    h.update(&d.seq.to_le_bytes());
    h.update(&d.body_hash);
    h.update(d.signature.as_bytes());
    if *h.finalize().as_bytes() != d.chain {
        return Some("its hash-chain link does not recompute".into());
    }
    let Some(i) = d.log_index else {
        return Some("it names no log record".into());
    };
    let Some(l) = leaf else {
        return Some(format!("its log record {i} is missing"));
    };
    let body_hash = log::hex(blake3::hash(&d.body).as_bytes());
    let ok = l.kind == LeafKind::Document
        && l.payload["id"] == Value::String(d.id.to_string())
        && l.payload["seq"].as_u64() == Some(d.seq)
        && l.payload["body_blake3"] == Value::String(body_hash)
        && l.payload["request"]["signature"] == Value::String(d.signature.clone());
    (!ok).then(|| format!("its body or signature is not what log record {i} recorded"))
}

/// A stored complaint against its leaf: the same record, and a photo with the hash named.
fn check_complaint(store: &dyn Store, r: &mut Report, i: u64, leaf: &Value) -> Result<()> {
    use sha2::Digest;
    let Some(id) = leaf["id"]
        .as_str()
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
    else {
        r.problem(format!("log record {i}: a complaint without an id"));
        return Ok(());
    };
    match store.complaint(&id)? {
        None => r.problem(format!("complaint {id} (log record {i}) is not stored")),
        Some(c) if serde_json::to_value(&c)? != *leaf => {
            r.problem(format!("complaint {id} differs from log record {i}"))
        }
        Some(c) => {
            if let Some(p) = &c.photo {
                let bytes = store.complaint_photo(&id)?.unwrap_or_default();
                let hash: String = sha2::Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if hash != p.sha256 {
                    r.problem(format!(
                        "the photo of complaint {id} is not the one log record {i} names"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The records the registry answers from, against the leaves that made them.
fn check_records(store: &dyn Store, r: &mut Report, seen: &Seen) -> Result<()> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let Seen {
        products,
        participants,
        changes,
        blocks,
        orders,
    } = seen;
    for (g, (i, body)) in products {
        let gtin: u64 = g.parse().unwrap_or(0);
        match store.product(gtin)? {
            None => r.problem(format!("product {g} (log record {i}) is not stored")),
            Some(p) => {
                let same = body["name"].as_str().map(str::trim) == Some(p.name.as_str())
                    && body["product_group"].as_str() == Some(p.product_group.as_str())
                    && body["brand"].as_str() == p.brand.as_deref()
                    && body["max_retail_price"].as_u64() == p.max_retail_price
                    && body["shelf_life_days"].as_u64() == p.shelf_life_days.map(u64::from);
                if !same {
                    r.problem(format!(
                        "product {g} is not what its last change (log record {i}) set"
                    ));
                }
            }
        }
    }
    let stored: HashMap<u64, types::model::Participant> = store
        .participants()?
        .into_iter()
        .map(|p| (u64::from(p.id), p))
        .collect();
    for (id, (i, leaf)) in participants {
        let Some(p) = stored.get(id) else {
            r.problem(format!("participant {id} (log record {i}) is not stored"));
            continue;
        };
        let mut prefixes: Vec<String> =
            serde_json::from_value(leaf["gs1_prefixes"].clone()).unwrap_or_default();
        let mut keys = Vec::new();
        let mut suspended = false;
        for (_, kind, change, at) in changes.get(id).map(Vec::as_slice).unwrap_or(&[]) {
            match kind {
                LeafKind::ParticipantKey => {
                    // A new key replaces keys scheduled after its own time.
                    let at = *at;
                    keys.retain(|(_, nb)| *nb <= at);
                    keys.push((
                        change["public_key"].as_str().unwrap_or("").to_string(),
                        change["not_before"].as_u64().unwrap_or(0),
                    ));
                }
                LeafKind::Suspension => suspended = true,
                LeafKind::Reinstatement => suspended = false,
                LeafKind::Prefixes => {
                    for x in change["gs1_prefixes"].as_array().into_iter().flatten() {
                        if let Some(x) = x.as_str().filter(|x| !prefixes.iter().any(|p| p == x)) {
                            prefixes.push(x.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        let stored_keys: Vec<(String, u64)> = p
            .keys
            .iter()
            .map(|k| (b64.encode(k.public_key), k.not_before))
            .collect();
        let same = leaf["tin"].as_str() == Some(p.tin.as_str())
            && leaf["name"].as_str() == Some(p.name.as_str())
            && leaf["region"].as_str() == Some(p.region.as_str())
            && leaf["public_key"].as_str() == Some(b64.encode(p.public_key).as_str())
            && serde_json::to_value(&p.roles).ok().as_ref() == Some(&leaf["roles"])
            && stored_keys == keys
            && p.suspended.is_some() == suspended
            && p.gs1_prefixes == prefixes;
        if !same {
            r.problem(format!(
                "participant {} is not what its log records (from {i}) made it",
                p.tin
            ));
        }
    }
    for p in stored.values() {
        if !participants.contains_key(&u64::from(p.id)) {
            r.problem(format!("participant {} is in no log record", p.tin));
        }
    }
    let stored_blocks = store.blocks()?;
    for (id, (i, leaf, lift)) in blocks {
        match stored_blocks.iter().find(|b| b.id == *id) {
            None => r.problem(format!("block {id} (log record {i}) is not stored")),
            Some(b) => {
                if leaf["codes"].as_u64() != Some(b.codes)
                    || lift.is_some() != b.lifted_at.is_some()
                {
                    r.problem(format!("block {id} is not what its log records made it"));
                }
            }
        }
    }
    for (id, (i, leaf, closed)) in orders {
        let o = uuid::Uuid::parse_str(id)
            .ok()
            .map(|u| store.order(&u))
            .transpose()?
            .flatten();
        match o {
            None => r.problem(format!("order {id} (log record {i}) is not stored")),
            Some(o) => {
                let same = leaf["gtin"].as_str() == Some(o.gtin.as_str())
                    && leaf["quantity"].as_u64() == Some(u64::from(o.quantity))
                    && (o.status == types::model::OrderStatus::Closed) == *closed;
                if !same {
                    r.problem(format!("order {id} is not what its log records made it"));
                }
            }
        }
    }
    Ok(())
}

// ---- the state: replayed from the log and compared, record by record ----

/// Code states (and inventory counters) read per page of the stored scan: memory stays
/// bounded whatever the registry holds, and each page's look-ups in the replay go as one
/// multi-get.
pub const STATE_PAGE: usize = 4_096;
/// A progress line every this many codes compared (on standard error): a few seconds'
/// work at the release build's rate, so a long audit shows it is alive.
pub const PROGRESS_EVERY: u64 = 1_000_000;
/// A progress line every this many log records replayed (on standard error).
pub const REPLAY_PROGRESS_EVERY: u64 = 100_000;

/// What the state audit did, for its figure.
#[derive(Debug, Default, Clone)]
pub struct StateReport {
    /// Log records replayed through the rules.
    pub replayed: u64,
    /// Of them, changes without a signed body, their records taken as stored.
    pub unsigned: u64,
    /// Code states compared (each with its history and its package's contents).
    pub codes: u64,
    /// Inventory counters compared.
    pub inventory: u64,
    /// Ranges of emitted codes compared ([`registry::ranges`]): each stands for its codes,
    /// whose states are derived from it until their first change.
    pub ranges: u64,
    /// Time spent replaying, seconds.
    pub replay_secs: f64,
    /// Time spent comparing, seconds.
    pub compare_secs: f64,
}

impl StateReport {
    /// Codes checked per second (replay and comparison together).
    pub fn codes_per_sec(&self) -> f64 {
        self.codes as f64 / (self.replay_secs + self.compare_secs).max(1e-9)
    }
}

/// Proves the state: replays every log record through the registry's own rules into
/// `scratch` (an empty store; see [`crate::replay`]) and compares every stored record with
/// the recomputed one — each code's state (status, reason, owner, producer, receiver in
/// transit, parent, twin, expiry, batch, blocks, …), its history and its package's
/// contents, every inventory counter, product card, participant, order (with its serials),
/// block (with its codes), document record and shipment, and the writer's counters. Reads
/// `store` through the [`Store`] trait only, so any engine with
/// [`Store::code_states_after`] and [`Store::inventory_after`] is audited the same way.
///
/// Problems go into `r` (the first difference first); a record that does not replay stops
/// the replay there (everything after it would differ), and the comparison is skipped.
pub fn audit_state(
    store: &dyn Store,
    scratch: &dyn Store,
    keyring: issuance::Keyring,
    r: &mut Report,
) -> Result<StateReport> {
    let mut s = StateReport::default();
    let started = std::time::Instant::now();
    let mut replay = crate::replay::Replay::new(scratch, keyring)?;
    let size = store.counter("log_size")?;
    for i in 0..size {
        let Some(bytes) = store.log_leaf(i)? else {
            r.problem(format!(
                "state: log record {i} is missing; the state cannot be replayed past it"
            ));
            return Ok(s);
        };
        let Some(leaf) = log::decode(&bytes) else {
            r.problem(format!(
                "state: log record {i} cannot be read; the state cannot be replayed past it"
            ));
            return Ok(s);
        };
        if let Err(p) = replay.apply(store, i, &bytes, &leaf)? {
            r.problem(format!("state: log record {i} ({}): {p}", leaf.kind.name()));
            return Ok(s);
        }
        s.replayed += 1;
        if s.replayed.is_multiple_of(REPLAY_PROGRESS_EVERY) {
            eprintln!(
                "tracemark audit: {} of {size} log records replayed",
                s.replayed
            );
        }
    }
    s.unsigned = replay.unsigned();
    s.replay_secs = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let mut c = Compare { store, scratch, r };
    c.counters(replay.state())?;
    c.participants()?;
    c.products()?;
    c.orders()?;
    c.blocks()?;
    c.documents()?;
    s.codes = c.codes()?;
    s.ranges = c.ranges()?;
    s.inventory = c.inventory()?;
    s.compare_secs = started.elapsed().as_secs_f64();
    Ok(s)
}

/// The stored store against the replayed one.
struct Compare<'a> {
    store: &'a dyn Store,
    scratch: &'a dyn Store,
    r: &'a mut Report,
}

/// The first field in which two states differ: (name, stored, recomputed).
fn state_diff(a: &CodeState, b: &CodeState) -> Option<(&'static str, String, String)> {
    macro_rules! fields {
        ($($name:literal => $f:expr,)*) => {
            $(
                let (x, y) = ($f(a), $f(b));
                if x != y {
                    return Some(($name, x, y));
                }
            )*
        };
    }
    let code = |k: Option<CodeKey>| k.map_or_else(|| "none".to_string(), |k| k.to_string());
    fields! {
        "status" => |s: &CodeState| s.status.name().to_string(),
        "reason" => |s: &CodeState| s.reason.map_or("none", |r| r.name()).to_string(),
        "owner" => |s: &CodeState| format!("participant {}", s.owner),
        "producer" => |s: &CodeState| format!("participant {}", s.producer),
        "in transit" => |s: &CodeState| if s.in_transit() { format!("to participant {} (shipment {})", s.receiver, s.shipment) } else { "no".into() },
        "receiver" => |s: &CodeState| format!("participant {}", s.receiver),
        "shipment" => |s: &CodeState| s.shipment.to_string(),
        "flags" => |s: &CodeState| s.flags.to_string(),
        "parent" => |s: &CodeState| code(s.parent),
        "children" => |s: &CodeState| s.children.to_string(),
        "blocks" => |s: &CodeState| s.blocks.to_string(),
        "expiry" => |s: &CodeState| day(s.expiry_day),
        "production" => |s: &CodeState| day(s.production_day),
        "emitted" => |s: &CodeState| day(s.emitted_day),
        "batch" => |s: &CodeState| format!("{:016x}", s.batch),
        "tail" => |s: &CodeState| format!("{:?} key {} fingerprint {:016x}", s.tail, s.key_index, s.tail_fp),
        "twin" => |s: &CodeState| code(s.twin),
        "events" => |s: &CodeState| s.events.to_string(),
        "last event" => |s: &CodeState| format!("document {}", s.last_event),
        "changed at" => |s: &CodeState| s.changed_at.to_string(),
    }
    None
}

/// A day number as a date (or `none`).
fn day(d: u32) -> String {
    if d == 0 {
        return "none".into();
    }
    types::time::format_date(d)
}

impl Compare<'_> {
    fn problem(&mut self, p: String) {
        self.r.problem(format!("state: {p}"));
    }

    fn full(&self) -> bool {
        self.r.problems.len() >= PROBLEMS_MAX
    }

    fn counters(&mut self, replayed: &registry::tx::WriterState) -> Result<()> {
        let stored = registry::tx::WriterState::load(self.store)?;
        let pairs = [
            ("documents (doc_seq)", stored.next_seq, replayed.next_seq),
            (
                "participants (participant_id)",
                u64::from(stored.next_participant),
                u64::from(replayed.next_participant),
            ),
            ("blocks (block_id)", stored.next_block, replayed.next_block),
            (
                "log records (log_size)",
                stored.log.size(),
                replayed.log.size(),
            ),
        ];
        for (what, a, b) in pairs {
            if a != b {
                self.problem(format!(
                    "the counter of {what} is {a}; the log makes it {b}"
                ));
            }
        }
        if stored.chain != replayed.chain {
            self.problem(format!(
                "the hash chain's head is {}; the log makes it {}",
                log::hex(&stored.chain),
                log::hex(&replayed.chain)
            ));
        }
        Ok(())
    }

    fn participants(&mut self) -> Result<()> {
        let replayed: HashMap<u32, types::model::Participant> = self
            .scratch
            .participants()?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let stored = self.store.participants()?;
        if stored.len() != replayed.len() {
            self.problem(format!(
                "{} participants are stored; the log registers {}",
                stored.len(),
                replayed.len()
            ));
        }
        for p in stored {
            let Some(q) = replayed.get(&p.id) else {
                self.problem(format!(
                    "participant {} ({}) is in no log record",
                    p.id, p.tin
                ));
                continue;
            };
            let same = p.tin == q.tin
                && p.name == q.name
                && p.roles == q.roles
                && p.region == q.region
                && p.public_key == q.public_key
                && p.keys == q.keys
                && p.suspended.is_some() == q.suspended.is_some()
                && p.gs1_prefixes == q.gs1_prefixes;
            if !same {
                self.problem(format!(
                    "participant {} ({}) is not what the log made it: stored {:?} {:?} prefixes {:?} suspended {}, recomputed {:?} {:?} prefixes {:?} suspended {}",
                    p.id, p.tin, p.name, p.roles, p.gs1_prefixes, p.suspended.is_some(),
                    q.name, q.roles, q.gs1_prefixes, q.suspended.is_some()
                ));
            }
        }
        Ok(())
    }

    fn products(&mut self) -> Result<()> {
        let mut lo = 0u64;
        let mut n = 0u64;
        loop {
            let page = self.store.products_between(lo, u64::MAX, STATE_PAGE)?;
            let Some(last) = page.last() else { break };
            lo = last
                .gtin
                .parse::<u64>()
                .unwrap_or(u64::MAX)
                .saturating_add(1);
            for p in &page {
                n += 1;
                let g: u64 = p.gtin.parse().unwrap_or(0);
                match self.scratch.product(g)? {
                    None => self.problem(format!("product {} is in no log record", p.gtin)),
                    Some(q) if q.owner != p.owner => self.problem(format!(
                        "product {}: owner stored participant {}, recomputed participant {}",
                        p.gtin, p.owner, q.owner
                    )),
                    Some(q) if q != *p => self.problem(format!(
                        "product {} is not the card its last log record set (stored {:?}, recomputed {:?})",
                        p.gtin, p.name, q.name
                    )),
                    Some(_) => {}
                }
                for name in [
                    format!("serial_counter:{}", p.gtin),
                    format!("self_made:{}", p.gtin),
                ] {
                    let (a, b) = (self.store.counter(&name)?, self.scratch.counter(&name)?);
                    if a != b {
                        self.problem(format!("the counter {name} is {a}; the log makes it {b}"));
                    }
                }
            }
            if page.len() < STATE_PAGE || lo == u64::MAX {
                break;
            }
        }
        let m = self.scratch.products_between(0, u64::MAX, usize::MAX)?;
        if m.len() as u64 != n {
            for q in m {
                let g: u64 = q.gtin.parse().unwrap_or(0);
                if self.store.product(g)?.is_none() {
                    self.problem(format!(
                        "product {} is registered in the log but not stored",
                        q.gtin
                    ));
                }
            }
        }
        Ok(())
    }

    fn orders(&mut self) -> Result<()> {
        use types::model::{OrderStatus, SerialType};
        for p in self.scratch.participants()? {
            let replayed: HashMap<uuid::Uuid, types::model::Order> = self
                .scratch
                .orders_of(p.id)?
                .into_iter()
                .map(|o| (o.id, o))
                .collect();
            let stored = self.store.orders_of(p.id)?;
            if stored.len() != replayed.len() {
                self.problem(format!(
                    "participant {} has {} orders stored; the log makes {}",
                    p.tin,
                    stored.len(),
                    replayed.len()
                ));
            }
            for o in stored {
                let Some(q) = replayed.get(&o.id) else {
                    self.problem(format!("order {} is in no log record", o.id));
                    continue;
                };
                // A self-made chunk meeting serials taken already stops its order unlogged
                // (`Rejected`, what was made stays): the log shows it as stalled.
                let stopped = o.status == OrderStatus::Rejected
                    && q.status == OrderStatus::Pending
                    && o.produced == q.produced;
                let same = o.participant == q.participant
                    && o.gtin == q.gtin
                    && o.quantity == q.quantity
                    && o.serial_type == q.serial_type
                    && o.tail == q.tail
                    && o.key_index == q.key_index
                    && o.serial_len == q.serial_len
                    && o.counter_start == q.counter_start
                    && o.produced == q.produced
                    && (o.status == q.status || stopped);
                if !same {
                    self.problem(format!(
                        "order {}: stored {:?} with {} of {} codes made, recomputed {:?} with {} of {}",
                        o.id, o.status, o.produced, o.quantity, q.status, q.produced, q.quantity
                    ));
                }
                if o.serial_type == SerialType::SelfMade {
                    let mut at = 0u32;
                    while at < o.quantity {
                        let n = (STATE_PAGE as u32).min(o.quantity - at);
                        if self.store.order_serials(&o.id, at, n)?
                            != self.scratch.order_serials(&o.id, at, n)?
                        {
                            self.problem(format!(
                                "order {}: its self-made serials from {at} are not the ones it was placed with",
                                o.id
                            ));
                            break;
                        }
                        at += n;
                    }
                }
            }
        }
        Ok(())
    }

    fn blocks(&mut self) -> Result<()> {
        let replayed: HashMap<u64, types::model::Block> = self
            .scratch
            .blocks()?
            .into_iter()
            .map(|b| (b.id, b))
            .collect();
        let stored = self.store.blocks()?;
        if stored.len() != replayed.len() {
            self.problem(format!(
                "{} blocks are stored; the log makes {}",
                stored.len(),
                replayed.len()
            ));
        }
        for b in stored {
            let Some(q) = replayed.get(&b.id) else {
                self.problem(format!("block {} is in no log record", b.id));
                continue;
            };
            let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
            let fields = [
                ("gtin", opt(&b.gtin), opt(&q.gtin)),
                ("batch", opt(&b.batch), opt(&q.batch)),
                ("codes", b.codes.to_string(), q.codes.to_string()),
                ("reason", b.reason.clone(), q.reason.clone()),
                (
                    "regulator",
                    b.participant.to_string(),
                    q.participant.to_string(),
                ),
                (
                    "made at",
                    b.created_at.to_string(),
                    q.created_at.to_string(),
                ),
                (
                    "lifted at",
                    b.lifted_at.map_or("not lifted".into(), |t| t.to_string()),
                    q.lifted_at.map_or("not lifted".into(), |t| t.to_string()),
                ),
            ];
            if let Some((f, x, y)) = fields.into_iter().find(|(_, x, y)| x != y) {
                self.problem(format!(
                    "block {}: {f} stored {x:?}, recomputed {y:?}",
                    b.id
                ));
                continue;
            }
            let mut x = self.store.block_codes(b.id)?;
            let mut y = self.scratch.block_codes(b.id)?;
            x.sort_unstable();
            y.sort_unstable();
            if x != y {
                let first = x
                    .iter()
                    .find(|k| y.binary_search(k).is_err())
                    .map(|k| format!("{k} is listed but not blocked by the log"))
                    .or_else(|| {
                        y.iter()
                            .find(|k| x.binary_search(k).is_err())
                            .map(|k| format!("{k} is blocked by the log but not listed"))
                    })
                    .unwrap_or_default();
                self.problem(format!("block {}: its codes differ: {first}", b.id));
            }
        }
        Ok(())
    }

    fn documents(&mut self) -> Result<()> {
        let n = self.store.counter("doc_seq")?.saturating_sub(1);
        for seq in 1..=n {
            if self.full() {
                break;
            }
            let Some(id) = self.store.document_id_by_seq(seq)? else {
                continue; // named by the log checks
            };
            let (Some(d), Some(q)) = (self.store.document(&id)?, self.scratch.document(&id)?)
            else {
                self.problem(format!("document {seq} ({id}) is not one the log made"));
                continue;
            };
            let same = d.seq == q.seq
                && d.doc_type == q.doc_type
                && d.participant == q.participant
                && d.received_at == q.received_at
                && d.codes == q.codes
                && d.chain == q.chain
                && d.log_index == q.log_index;
            if !same {
                self.problem(format!(
                    "document {seq} ({id}): stored {} by participant {} changing {} codes, recomputed {} by participant {} changing {}",
                    d.doc_type.name(), d.participant, d.codes, q.doc_type.name(), q.participant, q.codes
                ));
            }
            if d.doc_type == types::model::DocType::Ship {
                let (a, b) = (
                    self.store.shipment_closed_by(&id)?,
                    self.scratch.shipment_closed_by(&id)?,
                );
                if a != b {
                    self.problem(format!(
                        "shipment {id}: closed by {a:?} as stored, by {b:?} as the log has it"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every stored code against the replay: state, history, package contents. Returns
    /// the number compared.
    fn codes(&mut self) -> Result<u64> {
        let mut after: Option<CodeKey> = None;
        let mut n = 0u64;
        let started = std::time::Instant::now();
        loop {
            if self.full() {
                return Ok(n);
            }
            // A state stored where a look-up of its code would not find it fails here.
            let page = self
                .store
                .code_states_after(after.as_ref(), STATE_PAGE)
                .context("state: scanning the stored code states")?;
            let Some(last) = page.last() else { break };
            after = Some(last.0);
            let keys: Vec<CodeKey> = page.iter().map(|(k, _)| *k).collect();
            let replayed = self.scratch.codes(&keys)?;
            for ((k, st), q) in page.iter().zip(replayed) {
                n += 1;
                if n.is_multiple_of(PROGRESS_EVERY) {
                    eprintln!(
                        "tracemark audit: {n} codes compared ({:.0}/s)",
                        n as f64 / started.elapsed().as_secs_f64().max(1e-9)
                    );
                }
                let Some(q) = q else {
                    self.problem(format!("code {k} is stored, but no log record made it"));
                    continue;
                };
                if let Some((field, x, y)) = state_diff(st, &q) {
                    self.problem(format!("code {k}: {field} stored {x}, recomputed {y}"));
                    continue;
                }
                if st.events > 0 {
                    let (a, b) = (self.store.events(k)?, self.scratch.events(k)?);
                    if a != b {
                        let i = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
                        self.problem(format!(
                            "code {k}: its history differs from event {i} (stored {:?}, recomputed {:?})",
                            a.get(i),
                            b.get(i)
                        ));
                        continue;
                    }
                }
                // Links are read only under a package (`children` > 0, equal by now): the
                // registry never follows a link under anything else (code cards, the rules).
                if st.children == 0 {
                    continue;
                }
                let (a, b) = (self.store.children(k)?, self.scratch.children(k)?);
                if a != b {
                    self.problem(format!(
                        "code {k}: package holds {} codes as stored, {} as the log has it",
                        a.len(),
                        b.len()
                    ));
                }
            }
        }
        // Codes the log made that are not stored: counted, and named when the counts differ.
        let mut m = 0u64;
        let mut after: Option<CodeKey> = None;
        loop {
            let page = self.scratch.code_states_after(after.as_ref(), STATE_PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some(last.0);
            m += page.len() as u64;
        }
        if m != n {
            self.problem(format!("{n} codes are stored; the log makes {m}"));
            let mut after: Option<CodeKey> = None;
            while !self.full() {
                let page = self.scratch.code_states_after(after.as_ref(), STATE_PAGE)?;
                let Some(last) = page.last() else { break };
                after = Some(last.0);
                let keys: Vec<CodeKey> = page.iter().map(|(k, _)| *k).collect();
                for (k, st) in keys.iter().zip(self.store.codes(&keys)?) {
                    if st.is_none() {
                        self.problem(format!("code {k} is made by the log but not stored"));
                    }
                }
            }
        }
        Ok(n)
    }

    /// Every range of emitted codes against the replay: the same ranges, field by field.
    /// (A ranged code's state is a function of its range and the keys, which the replay
    /// recomputed; a code changed since has a state of its own, compared above.)
    fn ranges(&mut self) -> Result<u64> {
        let (mut a_after, mut b_after) = (None, None);
        let mut n = 0u64;
        loop {
            let a = self.store.code_ranges_after(a_after, STATE_PAGE)?;
            let b = self.scratch.code_ranges_after(b_after, STATE_PAGE)?;
            a_after = a.last().map(|r| r.storage_key());
            b_after = b.last().map(|r| r.storage_key());
            for (x, y) in a.iter().zip(&b) {
                if x != y {
                    self.problem(format!(
                        "range of emitted codes: stored {x:?}, recomputed {y:?}"
                    ));
                    return Ok(n);
                }
                n += 1;
            }
            if a.len() != b.len() {
                self.problem(format!(
                    "{} ranges of emitted codes are stored past the {n} compared; the log makes {}",
                    a.len() - a.len().min(b.len()),
                    b.len() - b.len().min(a.len())
                ));
                return Ok(n);
            }
            if a.is_empty() {
                return Ok(n);
            }
        }
    }

    /// Every inventory counter against the replay (zero counters are absent ones).
    fn inventory(&mut self) -> Result<u64> {
        type Row = (u32, u64, types::model::Bucket, i64);
        let nonzero = |s: &dyn Store,
                       after: &mut Option<(u32, u64, types::model::Bucket)>|
         -> Result<Option<Vec<Row>>> {
            let page = s.inventory_after(*after, STATE_PAGE)?;
            let Some(last) = page.last() else {
                return Ok(None);
            };
            *after = Some((last.0, last.1, last.2));
            Ok(Some(page.into_iter().filter(|r| r.3 != 0).collect()))
        };
        let mut after = None;
        let mut n = 0u64;
        let mut cached: Option<((u32, u64), HashMap<types::model::Bucket, i64>)> = None;
        while let Some(rows) = nonzero(self.store, &mut after)? {
            for (owner, gtin, bucket, count) in rows {
                if self.full() {
                    return Ok(n);
                }
                n += 1;
                if cached.as_ref().map(|c| c.0) != Some((owner, gtin)) {
                    let m = self.scratch.inventory(owner, gtin)?.into_iter().collect();
                    cached = Some(((owner, gtin), m));
                }
                let want = cached
                    .as_ref()
                    .and_then(|c| c.1.get(&bucket).copied())
                    .unwrap_or(0);
                if want != count {
                    self.problem(format!(
                        "inventory of participant {owner} in GTIN {gtin:014} ({bucket:?}): stored {count}, recomputed {want}"
                    ));
                }
            }
        }
        let mut after = None;
        let mut m = 0u64;
        while let Some(rows) = nonzero(self.scratch, &mut after)? {
            m += rows.len() as u64;
        }
        if m != n {
            let mut after = None;
            while let Some(rows) = nonzero(self.scratch, &mut after)? {
                for (owner, gtin, bucket, count) in rows {
                    let stored: HashMap<_, _> =
                        self.store.inventory(owner, gtin)?.into_iter().collect();
                    if stored.get(&bucket).copied().unwrap_or(0) == 0 && !self.full() {
                        self.problem(format!(
                            "inventory of participant {owner} in GTIN {gtin:014} ({bucket:?}): stored 0, recomputed {count}"
                        ));
                    }
                }
            }
        }
        Ok(n)
    }
}
