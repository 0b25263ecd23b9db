//! What the repository's tests share: a registry over the embedded store, the index
//! applied by hand in feed order, captures made at the registry.
// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use conformance::World;
use epcis::capture::{read_capture, Format};
use epcis_repo::EpcisIndex;
use registry::capture::{Behaviour, CaptureRequest};
use registry::project::Projection;
use serde_json::{json, Value};
use std::sync::Arc;
use types::model::{Participant, SignedRequest};

/// GS1's context.
pub const GS1: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// A fresh registry over the embedded store.
pub fn world() -> (tempfile::TempDir, World) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(store_fjall::FjallStore::open_with(dir.path(), false).expect("store"));
    (dir, World::open_seeded(store, 47))
}

/// Applies the whole feed to a fresh index and stores its rows.
pub fn index(w: &World) {
    let mut idx = EpcisIndex::default();
    let mut after = 0;
    loop {
        let entries = w.reg.feed(after, 1000).expect("feed");
        let Some(last) = entries.last().map(|e| e.seq) else {
            break;
        };
        for e in &entries {
            idx.apply(e, &w.reg).expect("applied");
        }
        let rows = idx.take_changes();
        w.reg
            .store()
            .commit_projection(epcis_repo::index::NAME, last, &rows)
            .expect("stored");
        after = last;
    }
}

/// Captures `bytes` as `who`: the events read, or the reader's refusal.
pub fn capture_bytes(
    w: &World,
    who: &Participant,
    bytes: Vec<u8>,
    format: Format,
) -> Result<Vec<epcis::capture::CapturedEvent>, epcis::capture::CaptureError> {
    let read = read_capture(&bytes, format)?;
    let events = read.events.clone();
    let job = w
        .reg
        .capture(
            who,
            CaptureRequest {
                body: bytes,
                format,
                behaviour: Behaviour::Rollback,
                events: read.events,
                request: SignedRequest::default(),
            },
        )
        .expect("captured");
    assert!(job.success, "{job:?}");
    Ok(events)
}

/// Captures a JSON document as `who` (it must be taken).
pub fn capture_doc(w: &World, who: &Participant, doc: &Value) {
    let bytes = serde_json::to_vec(doc).expect("json");
    capture_bytes(w, who, bytes, Format::Json).expect("an EPCIS document");
}

/// An EPCIS document of `events` with `context`.
pub fn document(context: Value, events: Vec<Value>) -> Value {
    json!({"@context": context, "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2026-01-01T00:00:00.000Z", "epcisBody": {"eventList": events}})
}

/// A visibility event on a foreign SGTIN (no participant holds 0614141).
pub fn vis(serial: usize, extra: Value) -> Value {
    let mut e = json!({"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00.000Z",
        "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "inspecting",
        "epcList": [format!("urn:epc:id:sgtin:0614141.107346.{serial}")]});
    if let (Some(m), Value::Object(x)) = (e.as_object_mut(), extra) {
        m.extend(x);
    }
    e
}

/// Query parameters.
pub fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
