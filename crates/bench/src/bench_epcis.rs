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

/// Events a capture holds in the capture row (10,000 EPCs a capture, as a client splits a
/// large run to stay well inside the capture limits).
const CAPTURE_EVENTS: usize = 100;

/// A capture document of commissioning events for `codes`, `EPCS` a event.
fn commissioning(codes: &[String]) -> Vec<u8> {
    let events: Vec<Value> = codes
        .chunks(EPCS)
        .map(|c| {
            let epcs: Vec<String> = c
                .iter()
                .map(|code| epcis::native::code_uri(code).unwrap_or_default())
                .collect();
            json!({
                "type": "ObjectEvent",
                "eventTime": "2026-11-01T09:30:00.000+03:00",
                "eventTimeZoneOffset": "+03:00",
                "epcList": epcs,
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "ilmd": {"cbvmda:productionDate": "2026-11-01", "cbvmda:itemExpirationDate": "2030-01-01"},
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-01T10:00:00.000Z",
        "epcisBody": {"eventList": events},
    }))
    .unwrap_or_default()
}

/// Captures `bodies` as the server does (each read on one of two threads, the reads of
/// the next overlapping the writer's job of the last), as `actor`: code-events/s.
fn capture_all(
    reg: &registry::Registry,
    actor: &types::model::Participant,
    bodies: Vec<Vec<u8>>,
) -> Result<f64> {
    use epcis::capture::{read_capture, Format};
    use registry::capture::{Behaviour, CaptureRequest};
    let codes: usize = bodies.len() * CAPTURE_EVENTS * EPCS;
    let queue = std::sync::Mutex::new(bodies.into_iter());
    let t = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    loop {
                        let next = queue.lock().map_err(|_| anyhow!("poisoned"))?.next();
                        let Some(body) = next else { return Ok(()) };
                        let read = read_capture(&body, Format::Json)
                            .map_err(|e| anyhow!("capture refused: {e}"))?;
                        let job = reg
                            .capture(
                                actor,
                                CaptureRequest {
                                    body,
                                    format: Format::Json,
                                    behaviour: Behaviour::Rollback,
                                    events: read.events,
                                    request: Default::default(),
                                },
                            )
                            .map_err(|e| anyhow!("capture failed: {e}"))?;
                        if !job.success {
                            return Err(anyhow!("capture refused: {:?}", job.errors.first()));
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow!("a capture thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(codes as f64 / t.elapsed().as_secs_f64())
}

/// `bench --only capture`: EPCIS capture into the registry against native ingest, on the
/// same codes' commissioning: 10,000 events of 100 EPCs captured (captures of 100 events)
/// against the same number of codes introduced by native documents of 1,000 codes, both
/// through the writer with every commit fsynced (issue 18: capture ≥ 50 % of native).
pub(crate) fn capture_rows(quick: bool, runs: usize) -> Result<()> {
    let n: usize = if quick { 100_000 } else { 1_000_000 };
    let (mut native, mut captured) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let b = crate::bed()?;
        let (_, order) = b.emit(u32::try_from(2 * n)?, "mac")?;
        let codes = b.codes(&order, u32::try_from(2 * n)?)?;
        b.ingest(crate::doc_bodies("apply", &codes, json!({})), 64)?;
        let (first, second) = codes.split_at(n);
        native.push(b.ingest(
            crate::doc_bodies(
                "introduce",
                first,
                json!({"production_date": "2026-11-01", "expiry_date": "2030-01-01"}),
            ),
            64,
        )?);
        let bodies: Vec<Vec<u8>> = second
            .chunks(CAPTURE_EVENTS * EPCS)
            .map(commissioning)
            .collect();
        captured.push(capture_all(&b.reg, &b.producer, bodies)?);
    }
    let note = format!("({} codes, commissioning)", n);
    report(
        "introduce, native documents",
        "code-events/s",
        &native,
        &note,
    );
    report(
        "EPCIS capture (events of 100 EPCs)",
        "code-events/s",
        &captured,
        &note,
    );
    let ratio = median(captured) / median(native);
    println!(
        "{:<46} {:>10.2}x  (target ≥ 0.50x of native ingest)",
        "EPCIS capture / native ingest", ratio
    );
    Ok(())
}
