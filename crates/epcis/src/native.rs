//! A native document's EPCIS view: the events a registry document is, computed from the
//! stored document when read (nothing more is stored on the ingest path). The mapping is
//! the table in docs/epcis.md; captured events on this registry's codes map back through
//! the same table.
//!
//! Codes are named by their GS1 Digital Link URI (`https://id.gs1.org/01/…/21/…`, or
//! `…/00/…` for a package), made from the identification code alone: a crypto tail a
//! document may carry never leaves the registry this way.

use crate::event::format_offset;
use jiff::tz::Offset;
use jiff::Timestamp;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// The resolver every Digital Link URI here names.
pub const DIGITAL_LINK_BASE: &str = "https://id.gs1.org";

/// What the mapping needs of a stored document, as the registry knows it.
#[derive(Clone, Debug)]
pub struct NativeDocument<'a> {
    /// The document's id (its events' ids derive from it).
    pub id: &'a str,
    /// Its type, the API word (`ship`, `sell`, …).
    pub doc_type: &'a str,
    /// When the registry recorded it.
    pub recorded_at: Timestamp,
    /// The offset of the actor's time zone at that time.
    pub offset: Offset,
    /// The body as submitted.
    pub body: &'a Value,
    /// The submitting participant, as a party identifier (its PGLN URI when it has one).
    pub actor: &'a str,
    /// `ship`: the receiver, likewise.
    pub receiver: Option<&'a str>,
    /// `accept`: the codes of the shipment it accepts (the body names the shipment only).
    pub shipment_codes: &'a [String],
}

/// Why a document has no EPCIS view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NativeError {
    /// A type the mapping does not know.
    #[error("no EPCIS mapping for a `{0}` document")]
    Unmapped(String),
    /// A code in the body that is not a GS1 code (a stored document never has one).
    #[error("`{0}` is not a GS1 code")]
    Code(String),
}

/// A code's Digital Link URI, from its identification code alone (01 + 21, or 00).
pub fn code_uri(code: &str) -> Result<String, NativeError> {
    let bad = || NativeError::Code(code.to_string());
    let es = gs1::ElementString::parse(code).map_err(|_| bad())?;
    let mut key = gs1::ElementString::new();
    for (ai, v) in es.iter() {
        if matches!(ai.code(), "00" | "01" | "21") {
            key.push(ai, v).map_err(|_| bad())?;
        }
    }
    key.to_digital_link(DIGITAL_LINK_BASE).map_err(|_| bad())
}

fn uris(list: Option<&Value>) -> Result<Vec<String>, NativeError> {
    let Some(Value::Array(a)) = list else {
        return Ok(Vec::new());
    };
    a.iter()
        .map(|c| code_uri(c.as_str().unwrap_or_default()))
        .collect()
}

/// An instant as EPCIS writes it here: UTC, milliseconds.
pub fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A sale's time is its receipt's, with the receipt's own offset when it has one.
fn receipt_time(body: &Value) -> Option<(Timestamp, Option<Offset>)> {
    let at = body.pointer("/receipt/at")?.as_str()?;
    let t = at.parse::<Timestamp>().ok()?;
    let offset = if at.ends_with('Z') || at.ends_with('z') {
        Some(Offset::UTC)
    } else {
        at.get(at.len().saturating_sub(6)..)
            .and_then(crate::event::parse_offset)
    };
    Some((t, offset))
}

/// (event type, action, bizStep, disposition) of each native type (`body`: its `reason`
/// matters for `write_off` and `withdraw`); `None` for a type without a mapping.
pub fn shape(
    doc_type: &str,
    body: &Value,
) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    let reason = body
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(match doc_type {
        "apply" => ("ObjectEvent", "OBSERVE", "encoding", "encoded"),
        "introduce" | "import" => ("ObjectEvent", "ADD", "commissioning", "active"),
        "aggregate" => ("AggregationEvent", "ADD", "packing", "in_progress"),
        "disaggregate" => ("AggregationEvent", "DELETE", "unpacking", "in_progress"),
        "ship" => ("ObjectEvent", "OBSERVE", "shipping", "in_transit"),
        "accept" => ("ObjectEvent", "OBSERVE", "receiving", "in_progress"),
        "sell" => ("ObjectEvent", "OBSERVE", "retail_selling", "retail_sold"),
        "return" => ("ObjectEvent", "OBSERVE", "receiving", "returned"),
        "write_off" if reason == "expiry" => ("ObjectEvent", "DELETE", "destroying", "expired"),
        "write_off" => ("ObjectEvent", "DELETE", "destroying", "destroyed"),
        "withdraw" if reason == "export" => ("ObjectEvent", "DELETE", "shipping", "inactive"),
        "withdraw" => ("ObjectEvent", "DELETE", "decommissioning", "inactive"),
        "remark" => ("ObjectEvent", "OBSERVE", "replacing", "active"),
        _ => return None,
    })
}

/// The EPCIS 2.0 JSON events of a native document, in order (most documents are one
/// event; a disaggregation is one per package, an acceptance with rejections two).
pub fn events_of(d: &NativeDocument<'_>) -> Result<Vec<Value>, NativeError> {
    let (kind, action, step, disposition) =
        shape(d.doc_type, d.body).ok_or_else(|| NativeError::Unmapped(d.doc_type.to_string()))?;
    let (time, offset) = match receipt_time(d.body).filter(|_| d.doc_type == "sell") {
        Some((t, o)) => (t, o.unwrap_or(d.offset)),
        None => (d.recorded_at, d.offset),
    };
    let mut base = Map::new();
    base.insert("type".into(), kind.into());
    base.insert("eventTime".into(), format_time(time).into());
    base.insert("eventTimeZoneOffset".into(), format_offset(offset).into());
    base.insert("recordTime".into(), format_time(d.recorded_at).into());
    base.insert("eventID".into(), format!("urn:uuid:{}", d.id).into());
    base.insert("action".into(), action.into());
    base.insert("bizStep".into(), step.into());
    base.insert("disposition".into(), disposition.into());
    let mut events = match d.doc_type {
        "aggregate" => vec![aggregation(base, d.body)?],
        "disaggregate" => disaggregation(base, d.body)?,
        "accept" => acceptance(base, d)?,
        _ => vec![object(base, d)?],
    };
    for e in &mut events {
        if let Some(m) = e.as_object_mut() {
            parties(m, d);
        }
    }
    name_further_events(&mut events);
    Ok(events)
}

fn object(mut e: Map<String, Value>, d: &NativeDocument<'_>) -> Result<Value, NativeError> {
    let mut epcs = uris(d.body.get("codes"))?;
    if d.doc_type == "remark" {
        epcs.extend(uris(d.body.get("replacements"))?);
    }
    e.insert("epcList".into(), json!(epcs));
    let mut transactions = Vec::new();
    if let Some(decl) = d.body.get("customs_declaration").and_then(Value::as_str) {
        transactions.push(json!({"type": "urn:tracemark:btt:customs_declaration", "bizTransaction": format!("urn:tracemark:customs:{}", enc(decl))}));
    }
    if let Some(r) = d.body.get("receipt") {
        let drive = r
            .get("fiscal_drive")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let number = match r.get("number") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        transactions.push(json!({"type": "urn:tracemark:btt:fiscal_receipt", "bizTransaction": format!("urn:tracemark:receipt:{}:{}", enc(drive), enc(&number))}));
    }
    if !transactions.is_empty() {
        e.insert("bizTransactionList".into(), Value::Array(transactions));
    }
    let mut ilmd = Map::new();
    for (field, name) in [
        ("production_date", "cbvmda:productionDate"),
        ("expiry_date", "cbvmda:itemExpirationDate"),
        ("batch", "cbvmda:lotNumber"),
    ] {
        if let Some(v) = d.body.get(field).and_then(Value::as_str) {
            ilmd.insert(name.into(), v.into());
        }
    }
    if !ilmd.is_empty() {
        e.insert("ilmd".into(), Value::Object(ilmd));
    }
    Ok(Value::Object(e))
}

fn aggregation(mut e: Map<String, Value>, body: &Value) -> Result<Value, NativeError> {
    let parent = body
        .get("parent")
        .and_then(Value::as_str)
        .unwrap_or_default();
    e.insert("parentID".into(), code_uri(parent)?.into());
    e.insert("childEPCs".into(), json!(uris(body.get("children"))?));
    Ok(Value::Object(e))
}

/// One event per package dissolved (an aggregation event has one parent).
fn disaggregation(e: Map<String, Value>, body: &Value) -> Result<Vec<Value>, NativeError> {
    let parents = uris(body.get("parents"))?;
    Ok(parents
        .into_iter()
        .map(|p| {
            let mut one = e.clone();
            one.insert("parentID".into(), p.into());
            Value::Object(one)
        })
        .collect())
}

/// The codes received, and the rejected ones as a second event (`returned`).
fn acceptance(e: Map<String, Value>, d: &NativeDocument<'_>) -> Result<Vec<Value>, NativeError> {
    let rejected = uris(d.body.get("reject"))?;
    let shipped = d
        .shipment_codes
        .iter()
        .map(|c| code_uri(c))
        .collect::<Result<Vec<_>, _>>()?;
    // A set: a shipment and its rejections may each name tens of thousands of codes.
    let rejected_set: HashSet<&String> = rejected.iter().collect();
    let accepted: Vec<&String> = shipped
        .iter()
        .filter(|c| !rejected_set.contains(c))
        .collect();
    let mut out = Vec::new();
    if !accepted.is_empty() || rejected.is_empty() {
        let mut a = e.clone();
        a.insert("epcList".into(), json!(accepted));
        out.push(Value::Object(a));
    }
    if !rejected.is_empty() {
        let mut r = e;
        r.insert("disposition".into(), "returned".into());
        r.insert("epcList".into(), json!(rejected));
        out.push(Value::Object(r));
    }
    Ok(out)
}

/// Every event of a document after its first is named by its own CBV event hash (the
/// first keeps `urn:uuid:<document id>`): an id unique and the same at every reading.
fn name_further_events(events: &mut [Value]) {
    for e in events.iter_mut().skip(1) {
        let Some(m) = e.as_object_mut() else { continue };
        m.remove("eventID");
        let hash = crate::hash::event_hash(&Value::Object(m.clone()), &Default::default());
        if let Ok(h) = hash {
            m.insert("eventID".into(), h.into());
        }
    }
}

/// Source and destination: the actor, and the receiver of a shipment.
fn parties(e: &mut Map<String, Value>, d: &NativeDocument<'_>) {
    match (d.doc_type, d.receiver) {
        ("ship", Some(to)) => {
            e.insert(
                "sourceList".into(),
                json!([{"type": "owning_party", "source": d.actor}]),
            );
            e.insert(
                "destinationList".into(),
                json!([{"type": "owning_party", "destination": to}]),
            );
        }
        ("accept" | "return", _) => {
            e.insert(
                "destinationList".into(),
                json!([{"type": "owning_party", "destination": d.actor}]),
            );
        }
        _ => {
            e.insert(
                "sourceList".into(),
                json!([{"type": "owning_party", "source": d.actor}]),
            );
        }
    }
}

/// Percent-encodes what a URN's part may not hold as is.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Action, Event, EventType};

    const CODE: &str = "(01)04601234567893(21)A1b2C3d";
    const CODE2: &str = "(01)04601234567893(21)Zz9";

    fn doc<'a>(t: &'a str, body: &'a Value, shipped: &'a [String]) -> NativeDocument<'a> {
        NativeDocument {
            id: "0193a5b6-0000-7000-8000-000000000001",
            doc_type: t,
            recorded_at: "2026-12-05T09:30:00Z".parse().expect("time"),
            offset: Offset::from_hours(3).expect("offset"),
            body,
            actor: "urn:epc:id:pgln:4601234.00001",
            receiver: Some("urn:epc:id:pgln:4609876.00001"),
            shipment_codes: shipped,
        }
    }

    #[test]
    fn a_code_is_named_by_its_digital_link_without_its_tail() {
        assert_eq!(
            code_uri("(01)04601234567893(21)A1b2C3d(91)EE11(92)c2lnbmF0dXJl").as_deref(),
            Ok("https://id.gs1.org/01/04601234567893/21/A1b2C3d")
        );
        assert!(code_uri("not a code").is_err());
    }

    #[test]
    fn every_native_type_reads_as_a_canonical_event() {
        let shipped = vec![CODE.to_string(), CODE2.to_string()];
        let cases = [
            ("apply", json!({"codes": [CODE]})),
            (
                "introduce",
                json!({"codes": [CODE], "production_date": "2026-12-01", "batch": "B7"}),
            ),
            (
                "import",
                json!({"codes": [CODE], "customs_declaration": "10702010/051226/0001"}),
            ),
            (
                "aggregate",
                json!({"parent": "(00)146012340000000014", "children": [CODE, CODE2]}),
            ),
            (
                "disaggregate",
                json!({"parents": ["(00)146012340000000014", "(00)146012340000000021"]}),
            ),
            ("ship", json!({"codes": [CODE], "receiver": "7700000002"})),
            ("accept", json!({"shipment": "x", "reject": [CODE2]})),
            (
                "sell",
                json!({"codes": [CODE], "receipt": {"fiscal_drive": "9960", "number": 17, "at": "2026-12-05T14:50:00+07:00", "store": "s"}}),
            ),
            ("return", json!({"codes": [CODE], "reason": "defect"})),
            ("write_off", json!({"codes": [CODE], "reason": "expiry"})),
            ("withdraw", json!({"codes": [CODE], "reason": "export"})),
            ("remark", json!({"codes": [CODE], "replacements": [CODE2]})),
        ];
        for (t, body) in &cases {
            let events = events_of(&doc(t, body, &shipped)).expect(t);
            assert!(!events.is_empty(), "{t}");
            let mut ids = Vec::new();
            for e in &events {
                let read = Event::from_json(e).unwrap_or_else(|err| panic!("{t}: {err}: {e}"));
                ids.push(read.event_id.clone());
                crate::hash::event_hash(e, &crate::hash::HashContext::default())
                    .unwrap_or_else(|err| panic!("{t} hashes: {err}"));
            }
            ids.dedup();
            assert_eq!(ids.len(), events.len(), "{t}: event ids are distinct");
        }
    }

    #[test]
    fn the_mapping_says_what_happened() {
        let shipped = vec![CODE.to_string(), CODE2.to_string()];
        let body = json!({"shipment": "x", "reject": [CODE2]});
        let e: Vec<Event> = events_of(&doc("accept", &body, &shipped))
            .expect("maps")
            .iter()
            .map(|v| Event::from_json(v).expect("reads"))
            .collect();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].biz_step.as_deref(), Some("receiving"));
        assert_eq!(
            e[0].objects.epcs,
            ["https://id.gs1.org/01/04601234567893/21/A1b2C3d"]
        );
        assert_eq!(e[1].disposition.as_deref(), Some("returned"));
        let body = json!({"codes": [CODE], "receipt": {"fiscal_drive": "9960", "number": "17", "at": "2026-12-05T14:50:00+07:00", "store": "s"}});
        let sale = Event::from_json(&events_of(&doc("sell", &body, &[])).expect("maps")[0])
            .expect("reads");
        assert_eq!(sale.event_type, EventType::ObjectEvent);
        assert_eq!(sale.action, Some(Action::Observe));
        assert_eq!(
            format_offset(sale.offset),
            "+07:00",
            "the receipt's own offset"
        );
        assert_eq!(sale.event_time.to_string(), "2026-12-05T07:50:00Z");
        let body = json!({"codes": [CODE], "receiver": "7700000002"});
        let ship = Event::from_json(&events_of(&doc("ship", &body, &[])).expect("maps")[0])
            .expect("reads");
        assert_eq!(ship.sources[0].id, "urn:epc:id:pgln:4601234.00001");
        assert_eq!(ship.destinations[0].id, "urn:epc:id:pgln:4609876.00001");
        assert_eq!(format_offset(ship.offset), "+03:00", "the actor's offset");
        assert!(matches!(
            events_of(&doc("emit", &body, &[])),
            Err(NativeError::Unmapped(_))
        ));
    }
}
