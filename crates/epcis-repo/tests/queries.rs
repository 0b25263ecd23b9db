//! The repository at the registry: captures of GS1's examples indexed by the projection
//! (applied here by hand, in feed order) and read back by the standard queries.

mod common;

use common::{capture_bytes, index, world};
use conformance::World;
use epcis::capture::Format;
use epcis_repo::Query;

const SHARED_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn capture(w: &World, rel: &str) -> Vec<epcis::capture::CapturedEvent> {
    let path = std::path::Path::new(SHARED_DATA).join(rel);
    let Ok(bytes) = std::fs::read(&path) else {
        let allow = std::env::var("TRACEMARK_ALLOW_SKIP").unwrap_or_default();
        assert!(allow.contains("shared"), "{} is missing", path.display());
        return Vec::new();
    };
    let bytes = bytes
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(&bytes)
        .to_vec();
    let format = if rel.ends_with(".xml") {
        Format::Xml
    } else {
        Format::Json
    };
    capture_bytes(w, &w.wholesaler, bytes, format).expect("reads")
}

fn by_id(w: &World, id: &str) -> Vec<String> {
    let q = Query::parse(&[("eventID".into(), id.into())]).expect("query");
    let page = epcis_repo::run(&w.reg, &w.wholesaler, &q).expect("ran");
    let doc = serde_json::json!({"@context": page.context});
    let ctx = epcis::HashContext::from_document(&doc);
    page.events
        .iter()
        .map(|e| {
            assert_eq!(e["eventID"], serde_json::json!(id), "{id}: {e}");
            epcis::event_hash(e, &ctx).expect("hash")
        })
        .collect()
}

#[test]
fn captured_events_are_found_by_their_ids() {
    let (_d, w) = world();
    let mut all = Vec::new();
    for rel in [
        "gs1/epcis/JSON/WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld",
        "gs1/epcis/JSON/WithFullCombinationOfFields/object_event_all_possible_fields.jsonld",
        "gs1/epcis/XML/WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.xml",
    ] {
        all.extend(capture(&w, rel));
    }
    index(&w);
    for e in &all {
        let id = e.event.event_id.clone().unwrap_or_else(|| e.hash.clone());
        let got = by_id(&w, &id);
        assert!(got.contains(&e.hash), "{id}: {} not in {got:?}", e.hash);
    }
}
