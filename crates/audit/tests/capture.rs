//! EPCIS captures replay in the audit: a capture's events are the documents they mean (a
//! shipment by EPCIS, its receipt by EPCIS), its visibility events and the capture's own
//! record take their sequence numbers as they did, and the replayed state is the stored one.

use conformance::World;
use epcis::capture::{read_capture, Format};
use registry::capture::{Behaviour, CaptureRequest};
use serde_json::{json, Value};
use std::sync::Arc;
use types::model::{Participant, SignedRequest};

const SEED: u64 = 43;

fn document(events: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-07T10:00:00.000Z",
        "epcisBody": {"eventList": events},
    }))
    .expect("json")
}

fn object(step: &str, epcs: &[String], extra: Value) -> Value {
    let mut e = json!({
        "type": "ObjectEvent",
        "eventTime": "2026-12-07T09:30:00.000+03:00",
        "eventTimeZoneOffset": "+03:00",
        "epcList": epcs,
        "action": "OBSERVE",
        "bizStep": step,
    });
    if let (Some(m), Value::Object(x)) = (e.as_object_mut(), extra) {
        m.extend(x);
    }
    e
}

fn capture(w: &World, by: &Participant, body: Vec<u8>) -> registry::capture::CaptureJob {
    let read = read_capture(&body, Format::Json).expect("an EPCIS document");
    let job = w
        .reg
        .capture(
            by,
            CaptureRequest {
                body,
                format: Format::Json,
                behaviour: Behaviour::Rollback,
                events: read.events,
                request: SignedRequest::default(),
            },
        )
        .expect("captured");
    assert!(job.success, "{job:?}");
    job
}

#[test]
fn captured_events_replay_to_the_stored_state() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(store_fjall::FjallStore::open_with(dir.path(), false).expect("store"));
    let w = World::open_seeded(store.clone(), SEED);
    let codes = w.introduced(2);
    let dls: Vec<String> = codes
        .iter()
        .map(|c| epcis::native::code_uri(c).expect("a code"))
        .collect();
    let to = format!("urn:tracemark:tin:{}", w.retailer.tin);
    let job = capture(
        &w,
        &w.producer,
        document(vec![
            object(
                "shipping",
                &dls,
                json!({"destinationList": [{"type": "owning_party", "destination": to}]}),
            ),
            object(
                "inspecting",
                &["urn:epc:id:sgtin:0614141.107346.2017".into()],
                json!({}),
            ),
        ]),
    );
    assert_eq!(job.captured, 2);
    capture(
        &w,
        &w.retailer,
        document(vec![object("receiving", &dls, json!({}))]),
    );
    let mut r = audit::Report::default();
    let scratch_dir = tempfile::tempdir().expect("tmp");
    let scratch = store_fjall::FjallStore::open_with(scratch_dir.path(), false).expect("scratch");
    let s = audit::audit_state(
        store.as_ref(),
        &scratch,
        conformance::seeded_keyring(SEED),
        &mut r,
    )
    .expect("audited");
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let full = audit::audit(store.as_ref(), None).expect("audited");
    assert!(full.problems.is_empty(), "{:?}", full.problems);
    assert!(s.codes_per_sec() >= 0.0);
}
