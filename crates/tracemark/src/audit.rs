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
//!   root (a history rewritten since, even consistently, is found).

use anyhow::{Context, Result};
use registry::log::{self, LeafKind};
use registry::model::StoredDocument;
use registry::Store;
use serde_json::Value;
use std::collections::HashMap;

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
    let mut leaves: Vec<Option<log::Leaf>> = Vec::with_capacity(size as usize);
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
                leaves.push(None);
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
            leaves.push(decoded);
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

fn finish(
    store: &dyn Store,
    mut r: Report,
    leaves: Vec<Option<log::Leaf>>,
    root: tlog::Hash,
) -> Result<Report> {
    r.root = root;
    check_documents(store, &mut r, &leaves)?;
    check_records(store, &mut r, &leaves)?;
    Ok(r)
}

fn check_documents(store: &dyn Store, r: &mut Report, leaves: &[Option<log::Leaf>]) -> Result<()> {
    let docs_total = store.counter("doc_seq")?.saturating_sub(1);
    let mut by_id: HashMap<String, u64> = HashMap::new();
    for (i, l) in leaves.iter().enumerate() {
        if let Some(l) = l.as_ref().filter(|l| l.kind == LeafKind::Document) {
            if let Some(id) = l.payload["id"].as_str() {
                by_id.insert(id.to_string(), i as u64);
            }
        }
    }
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
        if let Some(p) = document_mismatch(&d, seq, &chain, leaves) {
            r.problem(format!("document {seq} ({id}): {p}"));
        }
        by_id.remove(&id.to_string());
        chain = d.chain;
    }
    for (id, i) in by_id {
        r.problem(format!(
            "log record {i} names document {id}, which is not stored"
        ));
    }
    Ok(())
}

fn document_mismatch(
    d: &StoredDocument,
    seq: u64,
    prev_chain: &[u8; 32],
    leaves: &[Option<log::Leaf>],
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
    let Some(Some(l)) = leaves.get(i as usize) else {
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
fn check_records(store: &dyn Store, r: &mut Report, leaves: &[Option<log::Leaf>]) -> Result<()> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut products: HashMap<String, (u64, Value)> = HashMap::new();
    let mut participants: HashMap<u64, (u64, Value)> = HashMap::new();
    let mut changes: HashMap<u64, Vec<(u64, LeafKind, Value)>> = HashMap::new();
    let mut leaf_at: HashMap<u64, u64> = HashMap::new();
    let mut blocks: HashMap<u64, (u64, Value, Option<u64>)> = HashMap::new();
    let mut orders: HashMap<String, (u64, Value, bool)> = HashMap::new();
    for (i, l) in leaves.iter().enumerate() {
        let Some(l) = l else { continue };
        let i = i as u64;
        let p = &l.payload;
        match l.kind {
            LeafKind::Product => {
                let body = p["request"]["body"]
                    .as_str()
                    .and_then(|b| b64.decode(b).ok())
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                if let (Some(g), Some(body)) = (p["gtin"].as_str(), body) {
                    products.insert(g.to_string(), (i, body));
                }
            }
            LeafKind::Participant => {
                if let Some(id) = p["id"].as_u64() {
                    participants.insert(id, (i, p.clone()));
                }
            }
            LeafKind::ParticipantKey
            | LeafKind::Suspension
            | LeafKind::Reinstatement
            | LeafKind::Prefixes => {
                leaf_at.insert(i, l.at);
                if let Some(id) = p["participant"].as_u64() {
                    changes
                        .entry(id)
                        .or_default()
                        .push((i, l.kind, p["change"].clone()));
                }
            }
            LeafKind::Block => {
                if let Some(id) = p["block_id"].as_u64() {
                    blocks.insert(id, (i, p.clone(), None));
                }
            }
            LeafKind::Lift => {
                if let Some(b) = p["block_id"].as_u64().and_then(|id| blocks.get_mut(&id)) {
                    b.2 = Some(i);
                }
            }
            LeafKind::Order => {
                if let Some(id) = p["order_id"].as_str() {
                    orders.insert(id.to_string(), (i, p.clone(), false));
                }
            }
            LeafKind::OrderClose => {
                if let Some(o) = p["order_id"].as_str().and_then(|id| orders.get_mut(id)) {
                    o.2 = true;
                }
            }
            LeafKind::Complaint => check_complaint(store, r, i, p)?,
            // An acknowledgement changes no stored record but the feed's (the risk engine
            // rebuilds alerts from it); the leaf is the regulator's signed word.
            // A card moved (operator, or a prefix granted): its fields stay what its last
            // `product` leaf set; its owner is the move's `to` (participant id).
            LeafKind::Document
            | LeafKind::Emission
            | LeafKind::AlertAck
            | LeafKind::ProductTransfer => {}
        }
    }
    for (g, (i, body)) in &products {
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
    let stored: HashMap<u64, registry::model::Participant> = store
        .participants()?
        .into_iter()
        .map(|p| (u64::from(p.id), p))
        .collect();
    for (id, (i, leaf)) in &participants {
        let Some(p) = stored.get(id) else {
            r.problem(format!("participant {id} (log record {i}) is not stored"));
            continue;
        };
        let mut prefixes: Vec<String> =
            serde_json::from_value(leaf["gs1_prefixes"].clone()).unwrap_or_default();
        let mut keys = Vec::new();
        let mut suspended = false;
        for (li, kind, change) in changes.get(id).map(Vec::as_slice).unwrap_or(&[]) {
            match kind {
                LeafKind::ParticipantKey => {
                    // A new key replaces keys scheduled after its own time.
                    let at = leaf_at.get(li).copied().unwrap_or(0);
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
    for (id, (i, leaf, lift)) in &blocks {
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
    for (id, (i, leaf, closed)) in &orders {
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
                    && (o.status == registry::model::OrderStatus::Closed) == *closed;
                if !same {
                    r.problem(format!("order {id} is not what its log records made it"));
                }
            }
        }
    }
    Ok(())
}
