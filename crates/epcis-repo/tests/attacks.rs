//! An attacker's tests of the query side (the review of issue 18's queries): each was a way
//! to learn, hide or spend what a participant should not, and passed before its fix.

mod common;

use common::{capture_doc, document, index, params, vis, world, GS1};
use epcis_repo::Query;
use serde_json::json;
use types::model::Participant;

/// A page token is sealed: it names no position a caller can read or forge, and it is
/// good for the participant it was given to only.
#[test]
fn page_tokens_are_sealed_and_personal() {
    let (_d, w) = world();
    let events: Vec<_> = (0..3).map(|i| vis(i, json!({}))).collect();
    capture_doc(&w, &w.retailer2, &document(json!([GS1]), events));
    index(&w);
    let q = Query::parse(&params(&[("perPage", "1")])).expect("query");
    let page = epcis_repo::run(&w.reg, &w.retailer2, &q).expect("ran");
    let at = page.next.expect("a next page");
    let t = epcis_repo::query::token(&q, w.retailer2.id, at);
    let again = epcis_repo::query::token(&q, w.retailer2.id, at);
    assert_ne!(
        t, again,
        "a fresh nonce each time: equal positions do not show"
    );
    // The next page, for its owner.
    let next = Query::parse(&params(&[("perPage", "1"), ("nextPageToken", &t)])).expect("token");
    assert_eq!(
        epcis_repo::run(&w.reg, &w.retailer2, &next)
            .expect("ran")
            .events
            .len(),
        1
    );
    // Not for another participant.
    assert!(epcis_repo::run(&w.reg, &w.retailer, &next).is_err());
    // A token changed by one bit, or made up, is refused.
    use base64::Engine;
    let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&t)
        .expect("b64");
    raw[20] ^= 1;
    let flipped = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    for bad in [flipped.as_str(), "MS4wLmFiY2Q", ""] {
        assert!(
            Query::parse(&params(&[("perPage", "1"), ("nextPageToken", bad)])).is_err(),
            "{bad}"
        );
    }
    // Not for another query.
    assert!(Query::parse(&params(&[
        ("perPage", "1"),
        ("EQ_action", "ADD"),
        ("nextPageToken", &t)
    ]))
    .is_err());
}

/// A registry code asked by its identifier: whoever held it sees its whole history, the
/// visibility events on it included.
#[test]
fn a_codes_whole_history_for_whoever_held_it() {
    let (_d, w) = world();
    let codes = w.introduced(30); // apply and introduce: one document each, 30 codes
    let ship = w.ship(&w.producer, &w.retailer, &codes[16..]);
    w.accept(&w.retailer, ship, &[]);
    // The retailer inspects code #20 (a visibility event on a code it holds).
    let es = gs1::ElementString::parse(&conformance::id(&codes[19])).expect("code");
    let epc = gs1::epc::EpcId::from_element_string(&es, 7)
        .expect("sgtin")
        .to_pure_uri();
    let ev = json!({"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00.000Z",
        "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "inspecting",
        "epcList": [epc.clone()]});
    capture_doc(&w, &w.retailer, &document(json!([GS1]), vec![ev]));
    index(&w);
    let q = Query::parse(&params(&[("MATCH_epc", &epc)])).expect("query");
    let steps = |p: &Participant| -> Vec<String> {
        epcis_repo::run(&w.reg, p, &q)
            .expect("ran")
            .events
            .iter()
            .map(|e| e["bizStep"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let whole = [
        "encoding",
        "commissioning",
        "shipping",
        "receiving",
        "inspecting",
    ];
    assert_eq!(steps(&w.retailer), whole);
    assert_eq!(steps(&w.regulator), whole);
    assert!(steps(&w.retailer2).is_empty());
}

/// A capture's @context is bounded at capture (its entries go into every answer holding
/// its events).
#[test]
fn a_capture_context_is_bounded() {
    let prefixes: serde_json::Map<String, serde_json::Value> = (0..65)
        .map(|i| (format!("p{i}"), json!(format!("https://p{i}.example/"))))
        .collect();
    let doc = document(json!([GS1, prefixes]), vec![vis(1, json!({}))]);
    let bytes = serde_json::to_vec(&doc).expect("json");
    let e =
        epcis::capture::read_capture(&bytes, epcis::capture::Format::Json).expect_err("too many");
    assert!(e.to_string().contains("at most 64"), "{e}");
}

/// Clashing prefixes are renamed in one walk of each event: many of them cost little.
#[test]
fn merging_clashing_contexts_is_linear() {
    let n = 20_000;
    let mut a = serde_json::Map::new();
    let mut b = serde_json::Map::new();
    let mut e1 = serde_json::Map::new();
    let mut e2 = serde_json::Map::new();
    for i in 0..n {
        a.insert(format!("p{i}"), json!(format!("https://a.example/{i}/")));
        b.insert(format!("p{i}"), json!(format!("https://b.example/{i}/")));
        e1.insert(format!("p{i}:x"), json!(1));
        e2.insert(format!("p{i}:x"), json!(2));
    }
    let mut events = vec![serde_json::Value::Object(e1), serde_json::Value::Object(e2)];
    let owned = vec![
        std::sync::Arc::new(vec![json!(a)]),
        std::sync::Arc::new(vec![json!(b)]),
    ];
    let t = std::time::Instant::now();
    let ctx = epcis_repo::view::merge_contexts(&mut events, &owned);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(ctx[1].as_object().map(|m| m.len()), Some(2 * n));
    assert!(events[1].get("p0_2:x").is_some());
}

/// Values too long for the index are still found (by reading documents).
#[test]
fn long_values_are_found() {
    let (_d, w) = world();
    let loc = format!("urn:epc:id:sgln:0614141.00001.{}", "9".repeat(600));
    let id = format!("tag:x.example,2026:{}", "e".repeat(600));
    capture_doc(
        &w,
        &w.retailer2,
        &document(
            json!([GS1]),
            vec![vis(1, json!({"bizLocation": {"id": loc}, "eventID": id}))],
        ),
    );
    index(&w);
    let n = |k: &str, v: &str| {
        let q = Query::parse(&params(&[(k, v)])).expect("query");
        epcis_repo::run(&w.reg, &w.retailer2, &q)
            .expect("ran")
            .events
            .len()
    };
    assert_eq!((n("EQ_bizLocation", &loc), n("eventID", &id)), (1, 1));
}

/// A capture's @context cannot redefine GS1's terms for a page: only the prefixes its
/// events use, defined as prefixes, go into an answer.
#[test]
fn a_capture_cannot_redefine_terms_for_a_page() {
    let (_d, w) = world();
    w.introduced(1);
    let ctx = json!({"bizStep": "https://evil.example/bizStep", "epcList": "https://evil.example/epcs", "@vocab": "https://evil.example/"});
    capture_doc(
        &w,
        &w.retailer2,
        &document(json!([GS1, ctx]), vec![vis(1, json!({}))]),
    );
    index(&w);
    let q = Query::parse(&params(&[])).expect("query");
    let page = epcis_repo::run(&w.reg, &w.regulator, &q).expect("ran");
    assert!(!page.events.is_empty());
    assert!(
        !json!(page.context).to_string().contains("evil"),
        "{}",
        json!(page.context)
    );
}
