//! A stored document's EPCIS 2.0 events: a native document's mapped by
//! [`epcis::native::events_of`] (computed when read: the ingest path pays nothing), a
//! captured event as it was captured (from its capture's signed body), with `recordTime`
//! and, when the capturer gave none, an `eventID` (its CBV event hash).

use epcis::hash::HashContext;
use jiff::Timestamp;
use registry::capture::{stored_capture, TIN_URN};
use registry::Registry;
use serde_json::Value;
use std::sync::Arc;
use types::model::{DocType, StoredDocument};
use uuid::Uuid;

/// Captures whose documents are kept read while events are read (a capture's events are
/// consecutive documents: reading them one by one reads their capture once).
const CAPTURES_CACHED: usize = 4;

/// One document's events, and the `@context` entries its capture defined (prefixes its
/// events' extensions use), for the answer's own `@context`.
#[derive(Clone, Debug, Default)]
pub struct DocEvents {
    /// The events, in order.
    pub events: Vec<Value>,
    /// The capture document's `@context` (empty for a native document), shared: a page's
    /// events of one capture hold it once.
    pub context: Arc<Vec<Value>>,
}

/// Reads documents' events, keeping the last few captures read (kept between reads by
/// whoever reads many: the index's projection, a query's page).
pub struct View<'r> {
    reg: &'r Registry,
    captures: &'r mut Captures,
}

/// A capture read: its events and its `@context` entries.
type CaptureRead = Arc<(Vec<Value>, Arc<Vec<Value>>)>;

/// The captures a [`View`] keeps read, by id.
#[derive(Default)]
pub struct Captures(Vec<(Uuid, CaptureRead)>);

/// Where a captured event's document names its capture.
pub fn origin(body: &[u8]) -> Option<(Uuid, usize, String)> {
    if !body.starts_with(b"{\"epcis\"") {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let o = v.get("epcis")?;
    Some((
        o.get("capture")?.as_str()?.parse().ok()?,
        usize::try_from(o.get("index")?.as_u64()?).ok()?,
        o.get("event_hash")?.as_str()?.to_string(),
    ))
}

/// A participant's party URI (`urn:tracemark:tin:<TIN>`).
pub fn party(tin: &str) -> String {
    format!("{TIN_URN}{tin}")
}

/// An instant as EPCIS writes it here (UTC, milliseconds).
pub fn time_text(unix: u64) -> String {
    let t = Timestamp::from_second(i64::try_from(unix).unwrap_or(i64::MAX))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    epcis::native::format_time(t)
}

impl<'r> View<'r> {
    /// A view over `reg`, keeping captures read in `captures`.
    pub fn new(reg: &'r Registry, captures: &'r mut Captures) -> View<'r> {
        View { reg, captures }
    }

    /// The events of capture `id` and its `@context`.
    fn capture(&mut self, id: Uuid) -> Result<CaptureRead, String> {
        if let Some((_, c)) = self.captures.0.iter().find(|(c, _)| *c == id) {
            return Ok(c.clone());
        }
        let doc = self
            .reg
            .store()
            .document(&id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("capture {id} is not stored"))?;
        let (_, document) = stored_capture(&doc)?;
        let events = HashContext::events(&document)
            .into_iter()
            .cloned()
            .collect();
        let context = match document.get("@context") {
            Some(Value::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
            None => Vec::new(),
        };
        let c = Arc::new((events, Arc::new(context)));
        if self.captures.0.len() >= CAPTURES_CACHED {
            self.captures.0.remove(0);
        }
        self.captures.0.push((id, c.clone()));
        Ok(c)
    }

    /// The events of a stored document (none for a capture's own record).
    pub fn events(&mut self, doc: &StoredDocument) -> Result<DocEvents, String> {
        if matches!(doc.doc_type, DocType::EpcisCapture | DocType::Emit) {
            return Ok(DocEvents::default());
        }
        if let Some((capture, index, hash)) = origin(&doc.body) {
            let c = self.capture(capture)?;
            let mut e =
                c.0.get(index)
                    .cloned()
                    .ok_or_else(|| format!("capture {capture} has no event {index}"))?;
            if let Some(m) = e.as_object_mut() {
                m.insert("recordTime".into(), time_text(doc.received_at).into());
                if !m.contains_key("eventID") {
                    m.insert("eventID".into(), hash.into());
                }
            }
            return Ok(DocEvents {
                events: vec![e],
                context: c.1.clone(),
            });
        }
        self.native(doc)
    }

    fn native(&mut self, doc: &StoredDocument) -> Result<DocEvents, String> {
        let store = self.reg.store();
        let body: Value = serde_json::from_slice(&doc.body).map_err(|e| e.to_string())?;
        let actor = store
            .participant(doc.participant)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("participant {} is not stored", doc.participant))?;
        let at = Timestamp::from_second(i64::try_from(doc.received_at).unwrap_or(0))
            .map_err(|e| e.to_string())?;
        let offset = types::regions::region(&actor.region)
            .and_then(|r| jiff::tz::TimeZone::get(r.tz).ok())
            .map_or(jiff::tz::Offset::UTC, |tz| tz.to_offset(at));
        let receiver = body.get("receiver").and_then(Value::as_str).map(party);
        let mut shipped = Vec::new();
        if doc.doc_type == DocType::Accept {
            let ship = body
                .get("shipment")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Uuid>().ok());
            if let Some(ship) = ship {
                if let Some(d) = store.document(&ship).map_err(|e| e.to_string())? {
                    let raw =
                        registry::documents::stored_body(&d.body).map_err(|e| e.to_string())?;
                    shipped = raw
                        .codes
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| c.text)
                        .collect();
                }
            }
        }
        let id = doc.id.to_string();
        let actor_party = party(&actor.tin);
        let d = epcis::native::NativeDocument {
            id: &id,
            doc_type: doc.doc_type.name(),
            recorded_at: at,
            offset,
            body: &body,
            actor: &actor_party,
            receiver: receiver.as_deref(),
            shipment_codes: &shipped,
        };
        let events = epcis::native::events_of(&d).map_err(|e| e.to_string())?;
        Ok(DocEvents {
            events,
            context: Arc::default(),
        })
    }
}

/// The `@context` of an answer holding `events`, each with its capture's own entries
/// (`owned`, empty for a native event), the events' prefixes renamed where needed: a prefix
/// two captures give different IRIs (both calling theirs `example:`), or one event uses
/// without defining it while another's capture defines it, is renamed in the defining
/// event (`example_2:`), so that every event means, and hashes, what its capture said.
pub fn merge_contexts(events: &mut [Value], owned: &[Arc<Vec<Value>>]) -> Vec<Value> {
    use std::collections::{BTreeMap, BTreeSet};
    let used: Vec<BTreeSet<String>> = events
        .iter()
        .map(|e| {
            let mut u = BTreeSet::new();
            prefixes(e, &mut u);
            u
        })
        .collect();
    let mut undefined = BTreeSet::new();
    for (u, own) in used.iter().zip(owned) {
        for p in u {
            if defined(own, p).is_none() {
                undefined.insert(p.clone());
            }
        }
    }
    let mut context = vec![Value::String(epcis::xml::EPCIS_CONTEXT.into())];
    let mut defs = serde_json::Map::new();
    for ((e, own), u) in events.iter_mut().zip(owned).zip(&used) {
        // Only the prefixes the event uses, defined as a prefix is (an IRI string): a
        // capture's other entries (`@vocab`, a term of GS1's context) stay out of the page.
        let mut renames: BTreeMap<String, String> = BTreeMap::new();
        for p in u {
            let Some(Value::String(iri)) = defined(own, p) else {
                continue;
            };
            if p.starts_with('@') {
                continue;
            }
            let iri = Value::String(iri.clone());
            match defs.get(p) {
                Some(same) if *same == iri => {}
                None if !undefined.contains(p) => {
                    defs.insert(p.clone(), iri);
                }
                _ => {
                    let mut n = 2;
                    let renamed = loop {
                        let c = format!("{p}_{n}");
                        if !defs.contains_key(&c) && !undefined.contains(&c) {
                            break c;
                        }
                        n += 1;
                    };
                    defs.insert(renamed.clone(), iri);
                    renames.insert(p.clone(), renamed);
                }
            }
        }
        if !renames.is_empty() {
            rename(e, &renames);
        }
    }
    if !defs.is_empty() {
        context.push(Value::Object(defs));
    }
    context
}

/// The prefixes `v` uses: of keys and string values written `prefix:rest`.
fn prefixes(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    fn take(s: &str, out: &mut std::collections::BTreeSet<String>) {
        if let Some((p, _)) = s.split_once(':') {
            if !p.is_empty() && !p.contains('/') {
                out.insert(p.to_string());
            }
        }
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                take(k, out);
                prefixes(x, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                prefixes(x, out);
            }
        }
        Value::String(s) => take(s, out),
        _ => {}
    }
}

/// What `context` maps `prefix` to, if it does.
fn defined<'a>(context: &'a [Value], prefix: &str) -> Option<&'a Value> {
    context
        .iter()
        .filter_map(Value::as_object)
        .find_map(|m| m.get(prefix))
}

/// Renames prefixes in an event's keys and string values (`old:x` → `new:x`), in one walk.
fn rename(v: &mut Value, renames: &std::collections::BTreeMap<String, String>) {
    let renamed = |s: &str| -> Option<String> {
        let (p, rest) = s.split_once(':')?;
        renames.get(p).map(|n| format!("{n}:{rest}"))
    };
    match v {
        Value::Object(m) => {
            let entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
            for (k, mut x) in entries {
                rename(&mut x, renames);
                let k = renamed(&k).unwrap_or(k);
                m.insert(k, x);
            }
        }
        Value::Array(a) => {
            for x in a {
                rename(x, renames);
            }
        }
        Value::String(s) => {
            if let Some(n) = renamed(s) {
                *s = n;
            }
        }
        _ => {}
    }
}
