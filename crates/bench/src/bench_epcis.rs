//! `bench --only epcis`: what an EPCIS capture costs before the registry's rules, on
//! the shape issue 18's capture row will use (events of 100 EPCs): validation of the
//! document against GS1's JSON Schema, reading each event into the canonical event, its
//! CBV event hash, and an XML document read as its JSON form. The capture row itself
//! (through `/epcis/capture` into the writer) comes with the endpoint.

use crate::{median, report};
use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use std::time::Instant;

/// Events a document, EPCs an event.
const EVENTS: usize = 100;
const EPCS: usize = 100;

/// A shipping event of `EPCS` Digital Link URIs, the `i`th of its document.
fn event(i: usize) -> Value {
    let epcs: Vec<String> = (0..EPCS)
        .map(|j| format!("https://id.gs1.org/01/04601234567893/21/S{i:05}x{j:04}"))
        .collect();
    json!({
        "type": "ObjectEvent",
        "eventTime": format!("2026-12-05T09:{:02}:{:02}.000Z", i / 60 % 60, i % 60),
        "eventTimeZoneOffset": "+03:00",
        "epcList": epcs,
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:4601234.00001.0"},
        "bizLocation": {"id": "urn:epc:id:sgln:4601234.00001.0"},
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4601234.00001"}],
        "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:4609876.00001"}]
    })
}

/// An EPCIS 2.0 JSON-LD document of `EVENTS` events.
fn document() -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-05T09:00:00.000Z",
        "epcisBody": {"eventList": (0..EVENTS).map(event).collect::<Vec<_>>()}
    })
}

/// The same document as EPCIS 2.0 XML.
fn xml_document() -> String {
    let mut x = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-12-05T09:00:00.000Z"><EPCISBody><EventList>"#,
    );
    for i in 0..EVENTS {
        x.push_str(&format!(
            "<ObjectEvent><eventTime>2026-12-05T09:{:02}:{:02}.000Z</eventTime><eventTimeZoneOffset>+03:00</eventTimeZoneOffset><epcList>",
            i / 60 % 60,
            i % 60
        ));
        for j in 0..EPCS {
            x.push_str(&format!(
                "<epc>https://id.gs1.org/01/04601234567893/21/S{i:05}x{j:04}</epc>"
            ));
        }
        x.push_str("</epcList><action>OBSERVE</action><bizStep>shipping</bizStep><disposition>in_transit</disposition></ObjectEvent>");
    }
    x.push_str("</EventList></EPCISBody></epcis:EPCISDocument>");
    x
}

/// Times `f` over `rounds` runs of the document; code-events (EPCs) a second.
fn rate(rounds: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let t = Instant::now();
    for _ in 0..rounds {
        f()?;
    }
    Ok((rounds * EVENTS * EPCS) as f64 / t.elapsed().as_secs_f64())
}

/// The rows.
pub(crate) fn rows(quick: bool, runs: usize) -> Result<()> {
    let rounds = if quick { 5 } else { 30 };
    let doc = document();
    let xml = xml_document();
    let events: Vec<Value> = doc["epcisBody"]["eventList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let context = epcis::HashContext::from_document(&doc);
    let (mut valid, mut read, mut hashed, mut from_xml) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        valid.push(rate(rounds, || {
            epcis::validate_document(&doc).map_err(|v| anyhow!("invalid: {v:?}"))
        })?);
        read.push(rate(rounds, || {
            for e in &events {
                epcis::event::Event::from_json(e)?;
            }
            Ok(())
        })?);
        hashed.push(rate(rounds, || {
            for e in &events {
                epcis::event_hash(e, &context)?;
            }
            Ok(())
        })?);
        from_xml.push(rate(rounds, || {
            epcis::xml::document_from_xml(&xml)?;
            Ok(())
        })?);
    }
    let note = "(events of 100 EPCs)";
    report(
        "EPCIS: JSON Schema validation",
        "code-events/s",
        &valid,
        note,
    );
    report(
        "EPCIS: events read (canonical event)",
        "code-events/s",
        &read,
        note,
    );
    report("EPCIS: CBV event hash", "code-events/s", &hashed, note);
    report(
        "EPCIS: XML read as JSON-LD",
        "code-events/s",
        &from_xml,
        note,
    );
    let all = median(valid.clone()).recip()
        + median(read.clone()).recip()
        + median(hashed.clone()).recip();
    println!(
        "{:<46} {:>10.0} code-events/s  (validate + read + hash, one core)",
        "EPCIS: the three together",
        all.recip()
    );
    Ok(())
}
