//! EPCIS captures in the registry's history (docs/epcis.md, "A capture in the registry's
//! history").
//!
//! A capture is one writer job. Each of its events becomes one document of its own
//! sequence number: an event on this registry's codes is the native document it means
//! (`commissioning` → `introduce`, `shipping` → `ship`, …), checked by the same rules and
//! ownership checks; an event on other identifiers (or on the capturer's own codes by a
//! step that moves nothing, `inspecting`) is an `epcis_event` that changes no code. Its
//! stored body names the capture and the event's place in it ([`EpcisOrigin`]); the
//! capture itself is stored once, after its events, as an `epcis_capture` document
//! holding the signed body and the job's outcome.
//!
//! All or nothing: with `GS1-Capture-Error-Behaviour: rollback` (the default) the first
//! refused event rolls the whole job back ([`Tx::roll_back`]) and nothing is stored; with
//! `proceed` the refused events are left out and named. An event already stored (the same
//! capturer, event hash, error declaration and JSON: [`event_document_id`]) is not stored
//! again, so a capture resent after a lost answer changes nothing.

use crate::documents::{self, EpcisOrigin};
use crate::rules::DocContext;
use crate::tx::Tx;
use crate::Registry;
use epcis::capture::{CapturedEvent, Format};
use epcis::event::{Action, Event, EventType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use store::Store;
use types::error::{Error, Result};
use types::model::{CodeKey, DocType, Participant, SignedRequest, Status, StoredDocument};
use uuid::Uuid;

/// What to do when an event of a capture is refused (`GS1-Capture-Error-Behaviour`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Store nothing (the default).
    Rollback,
    /// Store the events that pass; name the others.
    Proceed,
}

impl Behaviour {
    /// From the header's value (`rollback`, `proceed`; case-insensitive).
    pub fn parse(s: &str) -> Option<Behaviour> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rollback" => Some(Behaviour::Rollback),
            "proceed" => Some(Behaviour::Proceed),
            _ => None,
        }
    }
}

/// A capture to run: the signed body, read ([`epcis::capture::read_capture`]).
pub struct CaptureRequest {
    /// The body as signed.
    pub body: Vec<u8>,
    /// JSON-LD or XML.
    pub format: Format,
    /// `GS1-Capture-Error-Behaviour`.
    pub behaviour: Behaviour,
    /// Its events, read and hashed.
    pub events: Vec<CapturedEvent>,
    /// The signed request it came in.
    pub request: SignedRequest,
}

/// Why one event of a capture was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaptureEventError {
    /// The event's index in the capture's event list (from 0).
    pub index: u32,
    /// Its `eventID`, when it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The EPCIS exception (`epcisException:ValidationException`, …).
    pub exception: String,
    /// The HTTP status a document refused so would have had.
    pub status: u16,
    /// What is wrong, for a person.
    pub detail: String,
}

/// A capture job's outcome (the EPCIS `CaptureJob`, and what was stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaptureJob {
    /// The job's id: the capture's (`/epcis/capture/{captureID}`).
    pub capture_id: Uuid,
    /// The capturer's TIN.
    pub capturer: String,
    /// When the registry ran it (Unix seconds).
    pub created_at: u64,
    /// `GS1-Capture-Error-Behaviour`.
    pub behaviour: Behaviour,
    /// Whether every event was captured (or found already stored).
    pub success: bool,
    /// Events in the document.
    pub events: u32,
    /// Events stored by this job.
    pub captured: u32,
    /// Events already stored before it (sent again).
    pub duplicates: u32,
    /// The refused events (with `rollback`, the first refusal: nothing was stored), the
    /// first [`CAPTURE_ERRORS_KEPT`].
    pub errors: Vec<CaptureEventError>,
    /// Refused events in all.
    #[serde(default)]
    pub errors_total: u32,
    /// Each event's document (stored now or before), in the capture's order; refused events
    /// have none.
    pub documents: Vec<Option<Uuid>>,
}

/// The stored body of an `epcis_capture` document: the job and the signed body.
#[derive(Serialize, Deserialize)]
struct CaptureRecord {
    job: CaptureJob,
    format: String,
    /// The body as signed (UTF-8: JSON or XML).
    document: String,
}

/// A UUID (version 8) from a hash of `parts`: the same parts, the same id.
fn derived_id(domain: &str, parts: &[&[u8]]) -> Uuid {
    let mut h = blake3::Hasher::new();
    h.update(domain.as_bytes());
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let mut b = [0u8; 16];
    b.copy_from_slice(&h.finalize().as_bytes()[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// The id of a capture: its capturer, body and behaviour (the same capture sent again is
/// the same job).
pub fn capture_id(actor: &Participant, body: &[u8], behaviour: Behaviour) -> Uuid {
    let b = [behaviour as u8];
    derived_id(
        "tracemark epcis capture",
        &[&actor.id.to_le_bytes(), blake3::hash(body).as_bytes(), &b],
    )
}

/// The document id of a captured event: the capturer, the event hash, whether it declares
/// an error, and the event's JSON (keys sorted). The CBV hash alone is no identity
/// (docs/epcis.md, "Hostile input"): two events that differ hash apart here.
pub fn event_document_id(actor: &Participant, e: &CapturedEvent) -> Uuid {
    let declared = [u8::from(e.event.error_declaration.is_some())];
    derived_id(
        "tracemark epcis event",
        &[
            &actor.id.to_le_bytes(),
            e.hash.as_bytes(),
            &declared,
            &e.event.encode(),
        ],
    )
}

/// What a captured event is in the registry.
enum Meaning {
    /// A native document's body (its `id` and `type` in it).
    Native(Value),
    /// A visibility event: recorded, no code moves.
    Visibility,
}

/// An event's refusal as the job names it. A refusal by the rules names its first codes
/// and their reasons.
fn refusal(index: usize, e: &Event, err: &Error) -> CaptureEventError {
    let (status, exception) = match err {
        Error::Forbidden(_) | Error::Unauthorized(_) => (403, "SecurityException"),
        Error::Conflict(_) => (409, "ValidationException"),
        Error::Invalid { .. } => (422, "ValidationException"),
        _ => (400, "ValidationException"),
    };
    let mut detail = err.to_string();
    if let Error::Invalid { errors, .. } = err {
        for c in errors.iter().take(CODES_NAMED_MAX) {
            detail.push_str(&format!("; {}: {}", c.code, c.reason));
        }
        if errors.len() > CODES_NAMED_MAX {
            detail.push_str(&format!("; and {} more", errors.len() - CODES_NAMED_MAX));
        }
    }
    CaptureEventError {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        event_id: e.event_id.as_deref().map(|i| cut(i, EVENT_ID_KEPT_MAX)),
        exception: format!("epcisException:{exception}"),
        status,
        detail: cut(&detail, DETAIL_KEPT_MAX),
    }
}

/// Refused events a job names (the rest counted in `errors_total`).
pub const CAPTURE_ERRORS_KEPT: usize = 100;
/// Bytes of a refusal's detail kept.
pub const DETAIL_KEPT_MAX: usize = 1_024;
/// Bytes of a refused event's `eventID` kept.
pub const EVENT_ID_KEPT_MAX: usize = 256;

/// `s` cut to at most `max` bytes (at a character boundary), marked when cut.
fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A capture with refused events, recorded for risk control as a refused document is (its
/// events' own refusal records go with a rolled-back job).
fn record_refusal(tx: &mut Tx<'_, dyn Store>, actor: &Participant, job: &CaptureJob) {
    let summary = json!({
        "capture": job.capture_id,
        "type": DocType::EpcisCapture.name(),
        "errors": job.errors.iter().take(REFUSAL_ERRORS_RECORDED).collect::<Vec<_>>(),
        "errors_total": job.errors_total,
    });
    tx.refuse(actor.id, summary.to_string());
}

/// Refused events a capture's refusal record names.
const REFUSAL_ERRORS_RECORDED: usize = 10;

/// Codes a refused event's error names with their reasons (the rest counted).
pub const CODES_NAMED_MAX: usize = 10;

impl Registry {
    /// Runs a capture as one writer job (the module's documentation says how); the job's
    /// outcome once durable. `Err` only for what refuses the whole request (a suspended
    /// capturer, the store).
    pub fn capture(&self, actor: &Participant, req: CaptureRequest) -> Result<CaptureJob> {
        for (i, e) in req.events.iter().enumerate() {
            if let Some(t) = e.event.all_epcs().into_iter().find(|u| carries_tail(u)) {
                return Err(Error::BadRequest(format!(
                    "event {i} names {t} with a crypto tail (AI 91, 92 or 93): name codes by \
                     their identification code in EPCIS; a capture is kept whole and read by \
                     others"
                )));
            }
        }
        let prefetched = self.prefetch_capture(&req);
        let reg = self.clone();
        let actor = actor.clone();
        self.write(move |tx| {
            if let Some(p) = prefetched {
                tx.prefetched(p);
            }
            reg.run_capture(tx, &actor, req)
        })
    }

    /// The states of every code a capture names, read on the calling thread (as a document's
    /// are, `Registry::prefetch`): the writer then finds them in its overlay.
    fn prefetch_capture(&self, req: &CaptureRequest) -> Option<crate::tx::Prefetched> {
        self.read_ahead(
            req.events
                .iter()
                .flat_map(|e| e.event.all_epcs())
                .filter_map(canonical_code)
                .filter_map(|t| crate::code_key(&t).ok())
                .collect(),
        )
    }

    /// A capture job, for its capturer or a regulator (others: 404, as if there were none).
    pub fn capture_job(&self, actor: &Participant, id: &Uuid) -> Result<CaptureJob> {
        let missing = || Error::NotFound(format!("no capture job {id}"));
        let doc = self.store().document(id)?.ok_or_else(missing)?;
        if doc.doc_type != DocType::EpcisCapture {
            return Err(missing());
        }
        let allowed =
            doc.participant == actor.id || actor.roles.contains(&types::model::Role::Regulator);
        if !allowed {
            return Err(missing());
        }
        let rec: CaptureRecord = serde_json::from_slice(&doc.body)
            .map_err(|e| Error::Unavailable(format!("capture {id} does not read: {e}")))?;
        Ok(rec.job)
    }

    fn run_capture(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        actor: &Participant,
        req: CaptureRequest,
    ) -> Result<CaptureJob> {
        self.refuse_if_suspended(tx, actor.id)?;
        let id = capture_id(actor, &req.body, req.behaviour);
        if let Some(d) = tx.document(&id)? {
            if d.doc_type != DocType::EpcisCapture || d.participant != actor.id {
                return Err(Error::Conflict(format!(
                    "the capture's id {id} is another document's"
                )));
            }
            let rec: CaptureRecord = serde_json::from_slice(&d.body)
                .map_err(|e| Error::Unavailable(format!("capture {id} does not read: {e}")))?;
            return Ok(rec.job);
        }
        let mut job = CaptureJob {
            capture_id: id,
            capturer: actor.tin.clone(),
            created_at: tx.now,
            behaviour: req.behaviour,
            success: true,
            events: u32::try_from(req.events.len()).unwrap_or(u32::MAX),
            captured: 0,
            duplicates: 0,
            errors: Vec::new(),
            errors_total: 0,
            documents: Vec::with_capacity(req.events.len()),
        };
        let start = tx.savepoint();
        for (i, e) in req.events.iter().enumerate() {
            match self.capture_event(tx, actor, &req, id, i, e) {
                Ok((doc, fresh)) => {
                    job.documents.push(Some(doc));
                    if fresh {
                        job.captured += 1;
                    } else {
                        job.duplicates += 1;
                    }
                }
                Err(err @ (Error::Unavailable(_) | Error::StorageFull(_))) => {
                    tx.roll_back(start);
                    return Err(err);
                }
                Err(err) => {
                    job.success = false;
                    job.errors_total += 1;
                    if job.errors.len() < CAPTURE_ERRORS_KEPT {
                        job.errors.push(refusal(i, &e.event, &err));
                    }
                    job.documents.push(None);
                    if req.behaviour == Behaviour::Rollback {
                        tx.roll_back(start);
                        job.captured = 0;
                        job.duplicates = 0;
                        job.documents.clear();
                        record_refusal(tx, actor, &job);
                        return Ok(job);
                    }
                }
            }
        }
        if job.captured > 0 {
            self.put_capture(tx, actor, &req, &job)?;
        }
        if !job.success {
            record_refusal(tx, actor, &job);
        }
        Ok(job)
    }

    /// One event: (its document, whether stored now).
    fn capture_event(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        actor: &Participant,
        req: &CaptureRequest,
        capture: Uuid,
        index: usize,
        e: &CapturedEvent,
    ) -> Result<(Uuid, bool)> {
        let id = event_document_id(actor, e);
        if let Some(d) = tx.document(&id)? {
            let same = d.participant == actor.id
                && documents::stored_origin(&d.body).is_some_and(|o| o.event_hash == e.hash);
            if !same {
                return Err(Error::Conflict(format!(
                    "the event's document id {id} is another document's"
                )));
            }
            return Ok((id, false));
        }
        let mut native = match self.meaning(tx, actor, &e.event)? {
            Meaning::Native(v) => v,
            Meaning::Visibility => json!({"type": DocType::EpcisEvent.name()}),
        };
        native["id"] = json!(id);
        let origin = EpcisOrigin {
            capture,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            event_hash: e.hash.clone(),
        };
        let body = format!(
            "{{\"epcis\":{},\"document\":{}}}",
            serde_json::to_string(&origin).map_err(|e| Error::Unavailable(e.to_string()))?,
            native
        );
        let prepared = documents::prepare_captured(body.into_bytes(), req.request.clone())?;
        self.run_prepared(tx, actor, prepared)?;
        Ok((id, true))
    }

    /// Stores the capture: its signed body and the job, after its events.
    fn put_capture(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        actor: &Participant,
        req: &CaptureRequest,
        job: &CaptureJob,
    ) -> Result<()> {
        let rec = CaptureRecord {
            job: job.clone(),
            format: req.format.name().into(),
            document: String::from_utf8_lossy(&req.body).into_owned(),
        };
        let body = serde_json::to_vec(&rec).map_err(|e| Error::Unavailable(e.to_string()))?;
        let seq = tx.next_seq();
        tx.put_document(StoredDocument {
            id: job.capture_id,
            seq,
            doc_type: DocType::EpcisCapture,
            participant: actor.id,
            received_at: tx.now,
            codes: 0,
            body_hash: *blake3::hash(&body).as_bytes(),
            chain: [0; 32],
            signature: req.request.signature.clone(),
            request: req.request.clone(),
            log_index: None,
            body,
        });
        Ok(())
    }

    /// What an event is here: the native document it means, or a visibility event.
    fn meaning(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        actor: &Participant,
        e: &Event,
    ) -> Result<Meaning> {
        self.acting_party(tx, actor, e)?;
        let mut named: Vec<&str> = e.objects.epcs.iter().map(String::as_str).collect();
        named.extend(e.objects.parent.as_deref());
        named.extend(e.objects.inputs.iter().map(String::as_str));
        named.extend(e.objects.outputs.iter().map(String::as_str));
        let mut ours = Vec::new();
        for uri in &named {
            if let Some((text, key)) = self.registry_code(tx, uri)? {
                ours.push((text, key));
            }
        }
        if ours.is_empty() {
            return Ok(Meaning::Visibility);
        }
        if ours.len() != named.len() {
            return Err(Error::invalid(
                "the event names codes of this registry and other identifiers: capture them \
                 in separate events",
            ));
        }
        if e.error_declaration.is_some() {
            return Err(Error::invalid(
                "an error declaration cannot undo a change of this registry's codes: send \
                 the document that corrects it (a return, a write-off, …)",
            ));
        }
        // Each listed code as the registry reads it (its canonical Digital Link), found
        // above: `named` lists `epcList`/`childEPCs` first, and every name is ours.
        let listed: Vec<String> = ours[..e.objects.epcs.len()]
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        let step = e.biz_step.as_deref().unwrap_or("");
        let doc = match (e.event_type, e.action, step) {
            (EventType::ObjectEvent, Some(Action::Add), "commissioning") => {
                commissioning(actor, e, listed.clone())?
            }
            (EventType::ObjectEvent, Some(Action::Add | Action::Observe), "encoding") => {
                json!({"type": "apply", "codes": listed.clone()})
            }
            (EventType::AggregationEvent, Some(Action::Add), _) => json!({
                "type": "aggregate",
                "parent": e.objects.parent.as_deref().and_then(canonical_code),
                "children": listed.clone(),
            }),
            (EventType::AggregationEvent, Some(Action::Delete), _) => {
                self.whole_package(tx, e, &ours)?;
                json!({
                    "type": "disaggregate",
                    "parents": e.objects.parent.as_deref().and_then(canonical_code).into_iter().collect::<Vec<_>>(),
                })
            }
            (EventType::ObjectEvent, Some(Action::Observe), "shipping") => {
                let to = self.receiver(tx, e)?;
                json!({"type": "ship", "codes": listed.clone(), "receiver": to})
            }
            (EventType::ObjectEvent, Some(Action::Observe), "receiving") => {
                self.receiving(tx, listed.clone(), &ours)?
            }
            (EventType::ObjectEvent, Some(Action::Observe), "retail_selling") => {
                sale(e, listed.clone())?
            }
            (EventType::ObjectEvent, Some(Action::Delete), "destroying") => {
                let reason = match e.disposition.as_deref() {
                    Some("expired") => "expiry",
                    Some("damaged") => "damage",
                    _ => "destruction",
                };
                json!({"type": "write_off", "codes": listed.clone(), "reason": reason})
            }
            (EventType::ObjectEvent, Some(Action::Delete), "decommissioning") => {
                let reason = match e.disposition.as_deref() {
                    Some("recalled") => "recall",
                    Some("stolen") => "loss",
                    Some("expired") => "expiry",
                    Some("destroyed") => "destruction",
                    other => {
                        return Err(Error::invalid(format!(
                            "a decommissioning of this registry's codes says why by its \
                             disposition (recalled, stolen, expired, destroyed), not {}",
                            other.unwrap_or("none")
                        )))
                    }
                };
                json!({"type": "withdraw", "codes": listed.clone(), "reason": reason})
            }
            (_, _, s) if moving_step(s) => {
                return Err(Error::invalid(format!(
                    "a `{s}` event on this registry's codes must be an ObjectEvent \
                     (AggregationEvent for packing) with the action the table of \
                     docs/epcis.md gives"
                )))
            }
            (_, Some(Action::Add | Action::Delete), s) => {
                return Err(Error::invalid(format!(
                    "an ADD or DELETE of this registry's codes is one of the steps that move \
                     them (docs/epcis.md), not {:?}: their state would not match the event",
                    if s.is_empty() { "none" } else { s }
                )))
            }
            _ => {
                // A step that moves nothing (inspecting, storing…): only the codes' holder
                // records one on them.
                for (text, key) in &ours {
                    let st = tx.code(key)?;
                    if st.is_none_or(|s| s.owner != actor.id) {
                        return Err(Error::Forbidden(format!(
                            "{text} is not yours: only its holder records events on it"
                        )));
                    }
                }
                return Ok(Meaning::Visibility);
            }
        };
        Ok(Meaning::Native(doc))
    }

    /// A named identifier that is a code of this registry (read as EPCIS's canonical
    /// identifier, so any spelling of it), with the text the documents take; `None` for
    /// another identifier. A code under a company prefix a participant here holds that this
    /// registry did not issue is refused: only the registry issues its participants' codes.
    fn registry_code(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        uri: &str,
    ) -> Result<Option<(String, CodeKey)>> {
        let Some(text) = canonical_code(uri) else {
            return Ok(None);
        };
        let Ok(key) = crate::code_key(&text) else {
            return Ok(None);
        };
        if tx.code(&key)?.is_some() {
            return Ok(Some((text, key)));
        }
        let digits = key_digits(&text);
        if let Some(holder) = digits.and_then(|d| self.prefix_holder_in(tx, &d)) {
            let tin = self.participant(holder)?.map(|p| p.tin).unwrap_or_default();
            return Err(Error::Forbidden(format!(
                "{uri} is under a GS1 company prefix of participant {tin}, and this \
                 registry did not issue it"
            )));
        }
        Ok(None)
    }

    /// The capturer is the event's acting party: a source naming a participant here names
    /// the capturer, and so does a receipt's destination.
    fn acting_party(&self, tx: &Tx<'_, dyn Store>, actor: &Participant, e: &Event) -> Result<()> {
        let receiving = e.biz_step.as_deref() == Some("receiving");
        let named = e.sources.iter().map(|s| ("source", &s.id)).chain(
            e.destinations
                .iter()
                .filter(|_| receiving)
                .map(|d| ("destination", &d.id)),
        );
        for (role, id) in named {
            if let Some(p) = self.party(tx, id)? {
                if p.id != actor.id {
                    return Err(Error::Forbidden(format!(
                        "the event names participant {} as its {role}: a participant \
                         captures its own events",
                        p.tin
                    )));
                }
            }
        }
        Ok(())
    }

    /// An unpacking names the whole package: the registry dissolves packages whole, so
    /// the children listed (if any) must be all the package holds.
    fn whole_package(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        e: &Event,
        ours: &[(String, CodeKey)],
    ) -> Result<()> {
        let Some(parent) = e.objects.parent.as_deref().and_then(canonical_code) else {
            return Err(Error::invalid("an unpacking names its package (parentID)"));
        };
        let parent = crate::code_key(&parent)?;
        let listed: std::collections::BTreeSet<CodeKey> = ours
            .iter()
            .map(|(_, k)| *k)
            .filter(|k| *k != parent)
            .collect();
        if listed.is_empty() {
            return Ok(());
        }
        let held: std::collections::BTreeSet<CodeKey> =
            tx.children(&parent)?.iter().copied().collect();
        if listed != held {
            return Err(Error::invalid(
                "the registry dissolves a package whole: an unpacking lists all its \
                 children, or none",
            ));
        }
        Ok(())
    }

    /// A shipment's receiver: its `owning_party` (or `possessing_party`) destination, a
    /// participant here named by its TIN URI or a GLN of a company prefix it holds.
    fn receiver(&self, tx: &Tx<'_, dyn Store>, e: &Event) -> Result<String> {
        let dest = e
            .destinations
            .iter()
            .find(|d| d.kind.ends_with("owning_party"))
            .or_else(|| {
                e.destinations
                    .iter()
                    .find(|d| d.kind.ends_with("possessing_party"))
            })
            .ok_or_else(|| {
                Error::invalid("a shipment names its receiver: a destination of type owning_party")
            })?;
        self.party(tx, &dest.id)?.map(|p| p.tin).ok_or_else(|| {
            Error::invalid(format!(
                "the destination {} is no participant of this registry (name one by \
                     urn:tracemark:tin:<TIN> or a GLN of a company prefix it holds)",
                dest.id
            ))
        })
    }

    /// The participant a party identifier names, if any.
    pub fn party(&self, tx: &Tx<'_, dyn Store>, uri: &str) -> Result<Option<Participant>> {
        if let Some(tin) = uri.strip_prefix(TIN_URN) {
            return self.participant_by_tin(tin);
        }
        let Some(digits) = gln_digits(uri) else {
            return Ok(None);
        };
        match self.prefix_holder_in(tx, &digits) {
            Some(id) => self.participant(id),
            None => Ok(None),
        }
    }

    /// `receiving`: a return of sold codes, else the acceptance of their shipment (the
    /// shipment's other codes rejected).
    fn receiving(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        listed: Vec<String>,
        ours: &[(String, CodeKey)],
    ) -> Result<Value> {
        let mut states = Vec::with_capacity(ours.len());
        for (_, k) in ours {
            states.push(tx.code(k)?);
        }
        if let Some(Some(first)) = states.first() {
            if first.status == Status::Retired {
                let reason = first.reason.map(|r| r.name()).unwrap_or("retail");
                return Ok(json!({"type": "return", "codes": listed, "reason": reason}));
            }
        }
        let seqs: std::collections::BTreeSet<u64> =
            states.iter().map(|s| s.map_or(0, |s| s.shipment)).collect();
        let ship_seq = match seqs.into_iter().collect::<Vec<_>>().as_slice() {
            [s] if *s != 0 => *s,
            _ => {
                return Err(Error::invalid(
                    "a receipt names codes of one shipment in transit",
                ))
            }
        };
        let ship = tx
            .document_id_by_seq(ship_seq)?
            .ok_or_else(|| Error::Unavailable(format!("shipment {ship_seq} is not stored")))?;
        let ship_doc = tx
            .document(&ship)?
            .ok_or_else(|| Error::Unavailable(format!("shipment {ship} is not stored")))?;
        let shipped = documents::stored_body(&ship_doc.body)?
            .codes
            .unwrap_or_default();
        let listed_keys: std::collections::HashSet<CodeKey> =
            ours.iter().map(|(_, k)| *k).collect();
        let reject: Vec<&str> = shipped
            .iter()
            .filter(|c| crate::code_key(&c.text).is_ok_and(|k| !listed_keys.contains(&k)))
            .map(|c| c.text.as_str())
            .collect();
        let mut doc = json!({"type": "accept", "shipment": ship});
        if !reject.is_empty() {
            doc["reject"] = json!(reject);
        }
        Ok(doc)
    }

    /// Runs a prepared document through the rules, as [`Registry::submit_document`] does.
    pub(crate) fn run_prepared(
        &self,
        tx: &mut Tx<'_, dyn Store>,
        actor: &Participant,
        doc: documents::Prepared,
    ) -> Result<documents::DocAnswer> {
        let blocks = self.inner.blocks.read();
        let ttl = |gtin: u64| {
            self.product(gtin)
                .ok()
                .flatten()
                .and_then(|p| types::model::product_group(&p.product_group))
                .map(|g| g.emitted_ttl_days)
        };
        let by_tin = |tin: &str| self.participant_by_tin(tin);
        let tail_ok =
            |st: &types::model::CodeState, t: &types::codes::PresentedTail| self.tail_ok(st, t);
        let prefix_holder = |d: &str| self.prefix_holder(d);
        let ctx = DocContext {
            prefix_holder: &prefix_holder,
            actor,
            blocks: &blocks,
            emitted_ttl_days: &ttl,
            participant_by_tin: &by_tin,
            tail_ok: &tail_ok,
        };
        crate::rules::submit(tx, &ctx, doc)
    }
}

/// A stored capture (an `epcis_capture` document): its job and its document as EPCIS 2.0
/// JSON-LD (an XML capture read again as its JSON-LD form).
pub fn stored_capture(doc: &StoredDocument) -> std::result::Result<(CaptureJob, Value), String> {
    let rec: CaptureRecord = serde_json::from_slice(&doc.body)
        .map_err(|e| format!("capture {}: its record does not read: {e}", doc.id))?;
    let document = match rec.format.as_str() {
        "xml" => epcis::document_from_xml(&rec.document).map_err(|e| e.to_string())?,
        _ => epcis::capture::parse_strict(rec.document.as_bytes())?,
    };
    Ok((rec.job, document))
}

/// A stored capture read again as its capturer sent it: its job and each event's CBV
/// event hash, through the same reader as the live capture (`epcis::capture::read_capture`:
/// the schema, every event, every hash). The audit checks each captured event's document
/// against it.
pub fn stored_capture_hashes(
    doc: &StoredDocument,
) -> std::result::Result<(CaptureJob, Vec<String>), String> {
    let rec: CaptureRecord = serde_json::from_slice(&doc.body)
        .map_err(|e| format!("capture {}: its record does not read: {e}", doc.id))?;
    let format = if rec.format == "xml" {
        Format::Xml
    } else {
        Format::Json
    };
    let read = epcis::capture::read_capture(rec.document.as_bytes(), format)
        .map_err(|e| format!("capture {}: its signed body does not read: {e}", doc.id))?;
    Ok((rec.job, read.events.into_iter().map(|e| e.hash).collect()))
}

/// Replays a stored `epcis_capture` document into `tx` (`audit`): its record must read and
/// name this capture, and it takes the next sequence number as it did when written (its
/// events, before it, were replayed as the documents they are).
pub fn replay_capture(
    tx: &mut Tx<'_, dyn Store>,
    doc: &StoredDocument,
) -> std::result::Result<(), String> {
    let rec: CaptureRecord = serde_json::from_slice(&doc.body)
        .map_err(|e| format!("capture {}: its record does not read: {e}", doc.id))?;
    if rec.job.capture_id != doc.id || rec.job.captured == 0 {
        return Err(format!("capture {}: its record names another job", doc.id));
    }
    let seq = tx.next_seq();
    if seq != doc.seq {
        return Err(format!(
            "capture {}: stored as sequence {}, replayed as {seq}",
            doc.id, doc.seq
        ));
    }
    tx.put_document(StoredDocument {
        log_index: None,
        chain: [0; 32],
        ..doc.clone()
    });
    Ok(())
}

/// The URI naming a participant by its TIN (`urn:tracemark:tin:7700000001`), for those
/// without a GLN.
pub const TIN_URN: &str = "urn:tracemark:tin:";

/// Business steps that move this registry's codes (docs/epcis.md's table).
fn moving_step(s: &str) -> bool {
    matches!(
        s,
        "commissioning"
            | "encoding"
            | "packing"
            | "unpacking"
            | "shipping"
            | "receiving"
            | "retail_selling"
            | "destroying"
            | "decommissioning"
    )
}

/// The 13 digits of a GLN a party or location identifier names without its check digit
/// (`urn:epc:id:pgln:4600000.00001`, `urn:epc:id:sgln:4600000.00001.0`, a Digital Link
/// with AI 417 or 414), or none.
fn gln_digits(uri: &str) -> Option<String> {
    let epc = uri
        .strip_prefix("urn:epc:id:pgln:")
        .or_else(|| uri.strip_prefix("urn:epc:id:sgln:"));
    if let Some(rest) = epc {
        let mut parts = rest.split('.');
        let (cp, loc) = (parts.next()?, parts.next()?);
        let digits = format!("{cp}{loc}");
        return (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(digits);
    }
    for ai in ["/417/", "/414/"] {
        if let Some((_, rest)) = uri.split_once(ai) {
            let gln: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let b = gln.as_bytes();
            let valid = b.len() == 13 && gs1::check_digit(&b[..12]) == b[12] - b'0';
            return valid.then(|| gln[..12].to_string());
        }
    }
    None
}

/// A code named by an EPC URI or a Digital Link URI in any spelling EPCIS reads as the same
/// object, as the canonical Digital Link the documents take (`https://id.gs1.org/01/…/21/…`,
/// `…/00/…`); `None` for anything else.
fn canonical_code(uri: &str) -> Option<String> {
    let c = epcis::hash::canonical_identifier(uri);
    let rest = c.strip_prefix("https://id.gs1.org/")?;
    let unit = rest.starts_with("01/") && rest.contains("/21/");
    let package = rest.starts_with("00/") && !rest[3..].contains('/');
    (unit || package).then_some(c)
}

/// The digits a company prefix starts in a code's canonical Digital Link: the GTIN's or
/// SSCC's, after its indicator or extension digit.
fn key_digits(canonical: &str) -> Option<String> {
    let rest = canonical.strip_prefix("https://id.gs1.org/")?;
    let (_, v) = rest.split_once('/')?;
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    (digits.len() >= 14).then(|| digits[1..].to_string())
}

/// Whether an identifier carries a crypto tail (AI 91, 92 or 93: a Digital Link's query
/// `?91=…`, or an element string's). A capture's body is kept whole and shown to its
/// readers: a tail in it would leak what only the code's holder may see.
pub fn carries_tail(uri: &str) -> bool {
    let es = if uri.starts_with("http://") || uri.starts_with("https://") {
        gs1::ElementString::parse_digital_link(uri)
    } else {
        gs1::ElementString::parse(uri)
    };
    es.is_ok_and(|es| {
        es.iter()
            .any(|(ai, _)| matches!(ai.code(), "91" | "92" | "93"))
    })
}

/// `commissioning`: `introduce` for a producer, `import` for an importer; dates and batch
/// from the ILMD, a customs declaration from the business transactions.
fn commissioning(actor: &Participant, e: &Event, codes: Vec<String>) -> Result<Value> {
    let ilmd = e.json.get("ilmd").and_then(Value::as_object);
    let field = |k: &str| ilmd.and_then(|m| m.get(k)).and_then(Value::as_str);
    let mut doc = Map::new();
    doc.insert("codes".into(), json!(codes));
    for (k, name) in [
        ("cbvmda:productionDate", "production_date"),
        ("cbvmda:itemExpirationDate", "expiry_date"),
        ("cbvmda:lotNumber", "batch"),
    ] {
        if let Some(v) = field(k) {
            doc.insert(name.into(), json!(v));
        }
    }
    let producer = actor.roles.contains(&types::model::Role::Producer);
    if producer {
        doc.insert("type".into(), json!("introduce"));
    } else {
        doc.insert("type".into(), json!("import"));
        let decl = e
            .biz_transactions
            .iter()
            .find_map(|(_, t)| t.strip_prefix("urn:tracemark:customs:"))
            .ok_or_else(|| {
                Error::invalid(
                    "an importer's commissioning names its customs declaration: a \
                     bizTransaction urn:tracemark:customs:<number>",
                )
            })?;
        doc.insert("customs_declaration".into(), json!(decode(decl)));
    }
    Ok(Value::Object(doc))
}

/// `retail_selling`: a sale, its fiscal receipt a business transaction
/// `urn:tracemark:receipt:<fiscal drive>:<number>`, sold at the event's time.
fn sale(e: &Event, codes: Vec<String>) -> Result<Value> {
    let receipt = e
        .biz_transactions
        .iter()
        .find_map(|(_, t)| t.strip_prefix("urn:tracemark:receipt:"))
        .and_then(|r| r.split_once(':'))
        .ok_or_else(|| {
            Error::invalid(
                "a retail sale names its fiscal receipt: a bizTransaction \
                 urn:tracemark:receipt:<fiscal drive>:<number>",
            )
        })?;
    let at = e
        .event_time
        .to_zoned(jiff::tz::TimeZone::fixed(e.offset))
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    let store = e
        .biz_location
        .clone()
        .or_else(|| e.read_point.clone())
        .unwrap_or_else(|| "EPCIS capture".into());
    Ok(json!({
        "type": "sell",
        "codes": codes,
        "receipt": {"fiscal_drive": decode(receipt.0), "number": decode(receipt.1), "at": at, "store": store},
    }))
}

/// Percent-decodes a URN part (`%2F` → `/`).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glns_and_urn_parts_read() {
        assert_eq!(
            gln_digits("urn:epc:id:pgln:4600000.00001").as_deref(),
            Some("460000000001")
        );
        assert_eq!(
            gln_digits("urn:epc:id:sgln:4600000.00001.0").as_deref(),
            Some("460000000001")
        );
        assert_eq!(
            gln_digits("https://id.gs1.org/417/4600000000015").as_deref(),
            Some("460000000001")
        );
        assert_eq!(
            gln_digits("https://id.gs1.org/417/4600000000013"),
            None,
            "check digit"
        );
        assert_eq!(gln_digits("urn:epc:id:pgln:46.0"), None);
        assert_eq!(
            decode("10702010%2F251126%2F0012345"),
            "10702010/251126/0012345"
        );
        assert_eq!(decode("50%"), "50%");
        assert_eq!(decode("%4"), "%4");
    }
}
