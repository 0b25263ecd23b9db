//! The query index: a projection of the feed (`registry::project`), `epcis_index`, one row
//! per (indexed value, document) — not per code: a registry code's events are found by
//! its own history (`Store::events`), the store's index current at commit.
//!
//! | key | for |
//! |---|---|
//! | `y` ‖ event type ‖ 0 ‖ seq | `eventType`, `/eventTypes/{t}/events` |
//! | `s` ‖ bizStep ‖ 0 ‖ seq | `EQ_bizStep`, `/bizSteps/{s}/events` |
//! | `d` ‖ disposition ‖ 0 ‖ seq | `EQ_disposition`, `/dispositions/{d}/events` |
//! | `l` ‖ bizLocation ‖ 0 ‖ seq | `EQ_bizLocation`, `/bizLocations/{l}/events` |
//! | `r` ‖ readPoint ‖ 0 ‖ seq | `EQ_readPoint`, `/readPoints/{r}/events` |
//! | `e` ‖ identifier ‖ 0 ‖ seq | `MATCH_*` on identifiers this registry did not issue (visibility events), keyed by [`epcis::hash::canonical_identifier`] |
//! | `i` ‖ eventID ‖ 0 ‖ seq | `/events/{eventID}` of captured events (the capturer's id, else the event hash) |
//!
//! seq is the document's sequence number, big-endian: a value's rows come in record order,
//! the order of every answer. The rows hold nothing; a query reads the documents. A native
//! document's rows come from its type alone (and its reason, for write-offs and
//! withdrawals, and its rejections, for acceptances): its body's codes are not read.

use crate::view::{origin, Captures, View};
use epcis::event::{Event, EventType};
use registry::feed::{Fact, FeedEntry};
use registry::project::{Projection, RowChange};
use registry::Registry;
use serde_json::Value;
use std::collections::BTreeSet;
use types::model::DocType;

/// The projection's name (its rows' namespace in the store).
pub const NAME: &str = "epcis_index";

/// Values longer than this are not indexed (found by scanning instead): a key stays small.
pub const INDEXED_VALUE_MAX: usize = 512;

/// The index projection.
#[derive(Default)]
pub struct EpcisIndex {
    changes: Vec<RowChange>,
    captures: Captures,
}

/// The key of `value` under `tag` at document `seq` (`None`: a value not indexed).
pub fn key(tag: u8, value: &str, seq: u64) -> Option<Vec<u8>> {
    let mut k = prefix(tag, value)?;
    k.extend_from_slice(&seq.to_be_bytes());
    Some(k)
}

/// The rows of `value` under `tag` start with this.
pub fn prefix(tag: u8, value: &str) -> Option<Vec<u8>> {
    if value.is_empty() || value.len() > INDEXED_VALUE_MAX || value.bytes().any(|b| b == 0) {
        return None;
    }
    let mut k = Vec::with_capacity(value.len() + 10);
    k.push(tag);
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    Some(k)
}

/// The document sequence number of a row's key.
pub fn seq_of(key: &[u8]) -> Option<u64> {
    let tail = key.get(key.len().checked_sub(8)?..)?;
    Some(u64::from_be_bytes(tail.try_into().ok()?))
}

/// The (tag, value) pairs an event is indexed under; `identifiers`: its identifiers too.
fn terms(e: &Value, identifiers: bool, out: &mut BTreeSet<(u8, String)>) {
    let Ok(ev) = Event::from_json(e) else {
        return;
    };
    out.insert((b'y', ev.event_type.name().to_string()));
    if let Some(s) = ev.biz_step {
        out.insert((b's', s));
    }
    if let Some(d) = ev.disposition {
        out.insert((b'd', d));
    }
    if let Some(l) = ev.biz_location {
        out.insert((b'l', l));
    }
    if let Some(r) = ev.read_point {
        out.insert((b'r', r));
    }
    if identifiers {
        let o = &ev.objects;
        let ids = o
            .epcs
            .iter()
            .chain(&o.inputs)
            .chain(&o.outputs)
            .chain(o.parent.as_ref())
            .chain(o.quantities.iter().map(|q| &q.epc_class))
            .chain(o.input_quantities.iter().map(|q| &q.epc_class))
            .chain(o.output_quantities.iter().map(|q| &q.epc_class));
        for id in ids {
            out.insert((b'e', epcis::hash::canonical_identifier(id)));
        }
        if let Some(id) = e.get("eventID").and_then(Value::as_str) {
            out.insert((b'i', id.to_string()));
        }
    }
}

/// A native document's terms from its type (and reason, rejections), without its codes.
fn native_terms(t: DocType, body: Option<&Value>, out: &mut BTreeSet<(u8, String)>) {
    let empty = Value::Null;
    let body = body.unwrap_or(&empty);
    let Some((kind, _, step, disposition)) = epcis::native::shape(t.name(), body) else {
        return;
    };
    out.insert((b'y', kind.to_string()));
    out.insert((b's', step.to_string()));
    out.insert((b'd', disposition.to_string()));
    let rejects = body.get("reject").and_then(Value::as_array);
    if t == DocType::Accept && rejects.is_some_and(|r| !r.is_empty()) {
        out.insert((b'd', "returned".to_string()));
    }
}

/// Whether a native type's terms need its body (its reason or rejections).
fn needs_body(t: DocType) -> bool {
    matches!(t, DocType::WriteOff | DocType::Withdraw | DocType::Accept)
}

impl EpcisIndex {
    fn document(
        &mut self,
        reg: &Registry,
        seq: u64,
        id: &uuid::Uuid,
        t: Option<DocType>,
    ) -> Result<(), String> {
        let mut out = BTreeSet::new();
        match t {
            Some(DocType::EpcisCapture | DocType::Emit) | None => return Ok(()),
            // A native document of a fixed shape: its type says all. (Documents made from
            // captured events have derived ids, version 8, which the documents endpoint
            // refuses: any other id is a participant's own document.)
            Some(t) if t != DocType::EpcisEvent && !needs_body(t) && id.get_version_num() != 8 => {
                native_terms(t, None, &mut out);
            }
            Some(t) if t != DocType::EpcisEvent && !needs_body(t) => {
                // Of a fixed shape, or a captured event mapped to one (read below).
                let doc = reg.store().document(id).map_err(|e| e.to_string())?;
                let doc = doc.ok_or_else(|| format!("document {id} is not stored"))?;
                if origin(&doc.body).is_some() {
                    let events = View::new(reg, &mut self.captures).events(&doc)?;
                    for e in &events.events {
                        terms(e, false, &mut out);
                        if let Some(i) = e.get("eventID").and_then(Value::as_str) {
                            out.insert((b'i', i.to_string()));
                        }
                    }
                } else {
                    native_terms(t, None, &mut out);
                }
            }
            Some(t) => {
                let doc = reg.store().document(id).map_err(|e| e.to_string())?;
                let doc = doc.ok_or_else(|| format!("document {id} is not stored"))?;
                if origin(&doc.body).is_some() {
                    let events = View::new(reg, &mut self.captures).events(&doc)?;
                    for e in &events.events {
                        terms(e, t == DocType::EpcisEvent, &mut out);
                        if let Some(i) = e.get("eventID").and_then(Value::as_str) {
                            out.insert((b'i', i.to_string()));
                        }
                    }
                } else {
                    let body: Value =
                        serde_json::from_slice(&doc.body).map_err(|e| e.to_string())?;
                    native_terms(t, Some(&body), &mut out);
                }
            }
        }
        for (tag, value) in out {
            if let Some(k) = key(tag, &value, seq) {
                self.changes.push((k, Some(Vec::new())));
            }
        }
        Ok(())
    }
}

impl Projection for EpcisIndex {
    fn name(&self) -> &'static str {
        NAME
    }

    fn load_row(&mut self, _key: &[u8], _value: &[u8]) -> Result<(), String> {
        Ok(())
    }

    fn loads_rows(&self) -> bool {
        false
    }

    fn apply(&mut self, entry: &FeedEntry, reg: &Registry) -> Result<(), String> {
        let Fact::Document(d) = &entry.fact else {
            return Ok(());
        };
        self.document(reg, d.seq, &d.id, d.doc_type())
    }

    fn take_changes(&mut self) -> Vec<RowChange> {
        std::mem::take(&mut self.changes)
    }
}

/// The event types' names (for `/eventTypes`).
pub fn event_types() -> Vec<&'static str> {
    EventType::ALL.iter().map(|t| t.name()).collect()
}
