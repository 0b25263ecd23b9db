//! EPCIS capture at the registry: captured events replay in the audit, and an attacker's
//! tests (the review of issue 18's capture):
//! each was a way around the rules that passed before its fix. A capture refused in part
//! leaves a refusal record; nobody takes a capture's or an event's id first; a code spelled
//! another way is still the code; the capturer is its events' acting party; no crypto tail
//! is kept in a capture; a job's errors are bounded; the audit checks every captured event
//! against its capture's signed body.

use conformance::World;
use epcis::capture::{read_capture, Format};
use registry::capture::{event_document_id, Behaviour, CaptureJob, CaptureRequest};
use serde_json::{json, Value};
use std::sync::Arc;
use types::model::{Participant, SignedRequest};

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

fn object(action: &str, step: &str, epcs: &[String], extra: Value) -> Value {
    let mut e = json!({
        "type": "ObjectEvent",
        "eventTime": "2026-12-07T09:30:00.000+03:00",
        "eventTimeZoneOffset": "+03:00",
        "epcList": epcs,
        "action": action,
        "bizStep": step,
    });
    if let (Some(m), Value::Object(x)) = (e.as_object_mut(), extra) {
        m.extend(x);
    }
    e
}

fn run(w: &World, by: &Participant, body: Vec<u8>, b: Behaviour) -> CaptureJob {
    let read = read_capture(&body, Format::Json).expect("an EPCIS document");
    w.reg
        .capture(
            by,
            CaptureRequest {
                body,
                format: Format::Json,
                behaviour: b,
                events: read.events,
                request: SignedRequest::default(),
            },
        )
        .expect("ran")
}

fn world() -> (tempfile::TempDir, World) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(store_fjall::FjallStore::open_with(dir.path(), false).expect("store"));
    let w = World::open_seeded(store, 43);
    (dir, w)
}

fn dl(code: &str) -> String {
    epcis::native::code_uri(code).expect("code")
}

/// Every refused capture leaves a refusal record for risk control, as a refused document
/// does, with `proceed` and with `rollback` (whose events' own records go with the rest).
#[test]
fn refused_captures_leave_refusal_records() {
    let (_d, w) = world();
    let codes = w.introduced(1);
    let count = || w.reg.store().refusal_count().expect("count");
    let before = count();
    assert!(w
        .doc(
            &w.retailer,
            json!({"type": "ship", "receiver": w.wholesaler.tin, "codes": conformance::ids(&codes)})
        )
        .is_err());
    assert_eq!(count(), before + 1, "a native refusal is recorded");
    let to = format!("urn:tracemark:tin:{}", w.wholesaler.tin);
    let ev = |n: u32| {
        object(
            "OBSERVE",
            "shipping",
            &[dl(&codes[0])],
            json!({"destinationList": [{"type": "owning_party", "destination": to}],
                   "eventID": format!("urn:uuid:00000000-0000-4000-8000-{n:012}")}),
        )
    };
    let j = run(&w, &w.retailer, document(vec![ev(1)]), Behaviour::Proceed);
    assert!(!j.success);
    let after_proceed = count();
    assert!(after_proceed > before + 1, "a proceed refusal is recorded");
    let j = run(&w, &w.retailer, document(vec![ev(2)]), Behaviour::Rollback);
    assert!(!j.success);
    assert_eq!(
        count(),
        after_proceed + 1,
        "a rolled-back capture's refusal is recorded"
    );
}

/// Nobody files a document under a captured event's id first: version 8 UUIDs (the ids the
/// registry derives) are refused on the documents endpoint, and a capture meeting another
/// document at its event's id is refused rather than taken for a duplicate.
#[test]
fn nobody_takes_an_events_id_first() {
    let (_d, w) = world();
    let codes = w.introduced(1);
    let mine = w.at_retailer(1);
    let to = format!("urn:tracemark:tin:{}", w.retailer.tin);
    let body = document(vec![object(
        "OBSERVE",
        "shipping",
        &[dl(&codes[0])],
        json!({"destinationList": [{"type": "owning_party", "destination": to}]}),
    )]);
    let read = read_capture(&body, Format::Json).expect("read");
    let squat = event_document_id(&w.producer, &read.events[0]);
    let e = w
        .doc(&w.retailer, json!({"id": squat, "type": "ship", "receiver": w.wholesaler.tin, "codes": conformance::ids(&mine)}))
        .expect_err("a version 8 id");
    assert!(e.to_string().contains("version 8"), "{e}");
    let j = run(&w, &w.producer, body, Behaviour::Rollback);
    assert!(j.success, "{j:?}");
    assert_eq!((j.captured, j.duplicates), (1, 0), "{j:?}");
    // The capture's own id likewise.
    let body = document(vec![object(
        "OBSERVE",
        "inspecting",
        &["urn:epc:id:sgtin:0614141.107346.2017".into()],
        json!({}),
    )]);
    let squat = registry::capture::capture_id(&w.producer, &body, Behaviour::Rollback);
    assert!(w
        .doc(&w.retailer, json!({"id": squat, "type": "ship", "receiver": w.wholesaler.tin, "codes": conformance::ids(&mine)}))
        .is_err());
    assert!(run(&w, &w.producer, body, Behaviour::Rollback).success);
}

/// A code of this registry written any way EPCIS reads as the same object (a 13-digit
/// GTIN, the `gtin`/`ser` key names) is the code: its holder check applies.
#[test]
fn a_code_spelled_otherwise_is_still_the_code() {
    let (_d, w) = world();
    let codes = w.introduced(1);
    let uri = dl(&codes[0]);
    let short = uri.replacen("/01/0", "/01/", 1);
    let named = uri
        .replacen("/01/", "/gtin/", 1)
        .replacen("/21/", "/ser/", 1);
    for spelled in [uri.clone(), short.clone(), named.clone()] {
        assert_eq!(
            epcis::hash::canonical_identifier(&spelled),
            epcis::hash::canonical_identifier(&uri)
        );
        for (action, step) in [
            ("OBSERVE", "inspecting"),
            ("DELETE", "destroying"),
            ("OBSERVE", "retail_selling"),
        ] {
            let j = run(
                &w,
                &w.retailer,
                document(vec![object(
                    action,
                    step,
                    std::slice::from_ref(&spelled),
                    json!({"disposition": "destroyed"}),
                )]),
                Behaviour::Rollback,
            );
            assert!(!j.success, "{step} of {spelled} by a non-holder: {j:?}");
        }
    }
    // A code under a participant's company prefix that this registry never issued.
    let never = "https://id.gs1.org/01/04600000000015/21/NEVER-ISSUED";
    let j = run(
        &w,
        &w.retailer,
        document(vec![object(
            "OBSERVE",
            "inspecting",
            &[never.into()],
            json!({}),
        )]),
        Behaviour::Rollback,
    );
    assert!(!j.success, "{j:?}");
    assert!(j.errors[0].detail.contains("did not issue"), "{j:?}");
    // The holder may record a step that moves nothing, spelled any way.
    let j = run(
        &w,
        &w.producer,
        document(vec![object("OBSERVE", "inspecting", &[named], json!({}))]),
        Behaviour::Rollback,
    );
    assert!(j.success, "{j:?}");
    // … but not an ADD or DELETE that moves nothing.
    let j = run(
        &w,
        &w.producer,
        document(vec![object("DELETE", "inspecting", &[short], json!({}))]),
        Behaviour::Rollback,
    );
    assert!(!j.success, "{j:?}");
}

/// A capture naming a code with its crypto tail is refused whole: the capture's body is
/// kept and shown to its readers.
#[test]
fn no_crypto_tail_is_kept_in_a_capture() {
    let (_d, w) = world();
    let codes = w.introduced(1);
    let es = gs1::ElementString::parse(&codes[0]).expect("code");
    let full = es.to_digital_link("https://id.gs1.org").expect("dl");
    assert!(full.contains("92="), "{full}");
    let body = document(vec![object("OBSERVE", "inspecting", &[full], json!({}))]);
    let read = read_capture(&body, Format::Json).expect("read");
    let r = w.reg.capture(
        &w.producer,
        CaptureRequest {
            body,
            format: Format::Json,
            behaviour: Behaviour::Proceed,
            events: read.events,
            request: SignedRequest::default(),
        },
    );
    let e = r.expect_err("a tail");
    assert!(e.to_string().contains("crypto tail"), "{e}");
}

/// A job names its first 100 refusals (each cut to a bound) and counts the rest.
#[test]
fn a_jobs_errors_are_bounded() {
    let (_d, w) = world();
    let codes = w.introduced(1);
    let uri = dl(&codes[0]);
    let n = 10_000;
    let events: Vec<Value> = (0..n)
        .map(|i| {
            object(
                "OBSERVE",
                "inspecting",
                std::slice::from_ref(&uri),
                json!({"eventID": format!("https://example.org/e/{i}/{}", "x".repeat(560))}),
            )
        })
        .collect();
    let body = document(events);
    assert!(
        body.len() <= epcis::capture::CAPTURE_BYTES_MAX,
        "{}",
        body.len()
    );
    let j = run(&w, &w.retailer, body, Behaviour::Proceed);
    assert_eq!(j.captured, 0);
    assert_eq!(j.errors_total as usize, n);
    assert_eq!(j.errors.len(), registry::capture::CAPTURE_ERRORS_KEPT);
    let heap: usize = j
        .errors
        .iter()
        .map(|e| e.exception.len() + e.detail.len() + e.event_id.as_ref().map_or(0, String::len))
        .sum();
    assert!(heap < 200_000, "{heap} bytes of errors kept");
}

/// The capturer is its event's acting party: a shipment's source naming another
/// participant here is refused, and so is a receipt's destination.
#[test]
fn the_capturer_is_the_acting_party() {
    let (_d, w) = world();
    let codes = w.introduced(1);
    let tin = |p: &Participant| format!("urn:tracemark:tin:{}", p.tin);
    let j = run(
        &w,
        &w.producer,
        document(vec![object(
            "OBSERVE",
            "shipping",
            &[dl(&codes[0])],
            json!({"sourceList": [{"type": "owning_party", "source": tin(&w.wholesaler)}],
                   "destinationList": [{"type": "owning_party", "destination": tin(&w.retailer)}]}),
        )]),
        Behaviour::Rollback,
    );
    assert!(!j.success, "{j:?}");
    let j = run(
        &w,
        &w.wholesaler,
        document(vec![object(
            "OBSERVE",
            "inspecting",
            &["urn:epc:id:sgtin:0614141.107346.2017".into()],
            json!({"sourceList": [{"type": "possessing_party", "source": tin(&w.producer)}]}),
        )]),
        Behaviour::Rollback,
    );
    assert!(
        !j.success,
        "a visibility event sourced at another participant: {j:?}"
    );
}

/// Neither a native document nor its fields make a captured one.
#[test]
fn native_documents_cannot_forge_captured_ones() {
    let (_d, w) = world();
    for t in ["epcis_event", "epcis_capture"] {
        assert!(w.doc(&w.producer, json!({"type": t})).is_err(), "{t}");
    }
    assert!(w
        .doc(&w.producer, json!({"type": "epcis_event", "epcis": {"capture": uuid::Uuid::nil(), "index": 0, "event_hash": "x"}}))
        .is_err());
}

/// The audit checks every captured event's document against its capture's signed body: a
/// document naming a capture that does not exist fails it.
#[test]
fn the_audit_checks_each_event_against_its_capture() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(store_fjall::FjallStore::open_with(dir.path(), false).expect("store"));
    let w = World::open_seeded(store.clone(), 43);
    let _ = w.introduced(1);
    let actor = w.retailer.clone();
    let body = format!(
        r#"{{"epcis":{{"capture":"{}","index":7,"event_hash":"ni:///sha-256;forged?ver=CBV2.0"}},"document":{{"type":"epcis_event","id":"{}"}}}}"#,
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    );
    // Written past the capture (as a registry that lies would): straight into the writer.
    w.reg
        .write(move |tx| {
            let p =
                registry::documents::prepare_captured(body.into_bytes(), SignedRequest::default())?;
            let blocks = registry::blocks::BlockIndex::default();
            let ttl = |_: u64| None;
            let by_tin = |_: &str| Ok(None);
            let tail_ok = |_: &types::model::CodeState, _: &types::codes::PresentedTail| true;
            let ph = |_: &str| None;
            let ctx = registry::rules::DocContext {
                actor: &actor,
                blocks: &blocks,
                emitted_ttl_days: &ttl,
                participant_by_tin: &by_tin,
                tail_ok: &tail_ok,
                prefix_holder: &ph,
            };
            registry::rules::submit(tx, &ctx, p)
        })
        .expect("written");
    let mut r = audit::Report::default();
    let scratch_dir = tempfile::tempdir().expect("tmp");
    let scratch = store_fjall::FjallStore::open_with(scratch_dir.path(), false).expect("scratch");
    audit::audit_state(
        store.as_ref(),
        &scratch,
        conformance::seeded_keyring(43),
        &mut r,
    )
    .expect("audited");
    assert!(
        r.problems.iter().any(|p| p.contains("is not stored")),
        "{:?}",
        r.problems
    );
}

/// Captured events replay in the audit: a capture's events are the documents they mean (a
/// shipment by EPCIS, its receipt by EPCIS), its visibility events and the capture's own
/// record take their sequence numbers as they did, and the replayed state is the stored one.
#[test]
fn captured_events_replay_to_the_stored_state() {
    let (_d, w) = world();
    let codes = w.introduced(2);
    let dls: Vec<String> = codes.iter().map(|c| dl(c)).collect();
    let to = format!("urn:tracemark:tin:{}", w.retailer.tin);
    let job = run(
        &w,
        &w.producer,
        document(vec![
            object(
                "OBSERVE",
                "shipping",
                &dls,
                json!({"destinationList": [{"type": "owning_party", "destination": to}]}),
            ),
            object(
                "OBSERVE",
                "inspecting",
                &["urn:epc:id:sgtin:0614141.107346.2017".into()],
                json!({}),
            ),
        ]),
        Behaviour::Rollback,
    );
    assert!(job.success, "{job:?}");
    assert_eq!(job.captured, 2);
    let job = run(
        &w,
        &w.retailer,
        document(vec![object("OBSERVE", "receiving", &dls, json!({}))]),
        Behaviour::Rollback,
    );
    assert!(job.success, "{job:?}");
    let store = w.reg.store().clone();
    let mut r = audit::Report::default();
    let scratch_dir = tempfile::tempdir().expect("tmp");
    let scratch = store_fjall::FjallStore::open_with(scratch_dir.path(), false).expect("scratch");
    let s = audit::audit_state(
        store.as_ref(),
        &scratch,
        conformance::seeded_keyring(43),
        &mut r,
    )
    .expect("audited");
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let full = audit::audit(store.as_ref(), None).expect("audited");
    assert!(full.problems.is_empty(), "{:?}", full.problems);
    assert!(s.codes_per_sec() >= 0.0);
}
