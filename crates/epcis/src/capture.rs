//! A capture request's body read: an EPCIS 2.0 JSON-LD document (or an XML one, read as the
//! JSON-LD it is), checked against GS1's JSON Schema and the rules the schema cannot hold,
//! every event read as a canonical [`Event`] with its CBV event hash.
//!
//! Bounded before the work it bounds: [`CAPTURE_BYTES_MAX`] on the body,
//! [`CAPTURE_EVENTS_MAX`] on its events (the `GS1-EPCIS-Capture-File-Size-Limit` and
//! `GS1-EPCIS-Capture-Limit` a server announces); a JSON object naming one key twice is
//! refused (serde_json keeps the last, another reader may take the first: the signed body
//! must mean one thing to everyone).

use crate::event::{Event, EventError};
use crate::hash::{event_hash, HashContext, HashError};
use crate::schema::{validate_document, SchemaViolation};
use crate::xml::{document_from_xml, XmlError};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// The largest capture body taken, bytes (`GS1-EPCIS-Capture-File-Size-Limit`). Parsed,
/// JSON takes 10 to 30 times its bytes, and the schema, the events and their hashes some
/// more: 8 MiB keeps a capture within a few hundred MB at worst.
pub const CAPTURE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// The most events one capture holds (`GS1-EPCIS-Capture-Limit`): a capture is one writer
/// job, planned and committed as a whole.
pub const CAPTURE_EVENTS_MAX: usize = 10_000;

/// The most entries (prefixes, terms) a capture's `@context` defines: each is carried into
/// the answers that hold the capture's events, so its size is bounded here, at capture.
pub const CONTEXT_ENTRIES_MAX: usize = 64;

/// The body's format, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/json` or `application/ld+json`.
    Json,
    /// `application/xml` or `text/xml`.
    Xml,
}

impl Format {
    /// The format a `Content-Type` names (parameters ignored), if one taken.
    pub fn of_content_type(ct: &str) -> Option<Format> {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "application/ld+json" => Some(Format::Json),
            "application/xml" | "text/xml" => Some(Format::Xml),
            _ => None,
        }
    }

    /// The word stored with a capture (`json`, `xml`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Xml => "xml",
        }
    }
}

/// One event of a capture, read.
#[derive(Clone, Debug)]
pub struct CapturedEvent {
    /// The canonical event (its JSON as captured inside).
    pub event: Event,
    /// Its CBV 2.0 event hash (`ni:///sha-256;…?ver=CBV2.0`).
    pub hash: String,
}

/// A capture's document, read.
#[derive(Clone, Debug)]
pub struct Captured {
    /// The EPCIS 2.0 JSON-LD document (an XML body converted).
    pub document: Value,
    /// Its events, in order.
    pub events: Vec<CapturedEvent>,
}

/// Why a capture body is refused before any event is captured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// Past [`CAPTURE_BYTES_MAX`] or [`CAPTURE_EVENTS_MAX`] (HTTP 413,
    /// `epcisException:CaptureLimitExceededException`).
    #[error("{0}")]
    TooLarge(String),
    /// Not an EPCIS document, or one that breaks the schema or a rule
    /// (HTTP 400, `epcisException:ValidationException`).
    #[error("{detail}")]
    Invalid {
        /// What is wrong, for a person.
        detail: String,
        /// The schema's violations, when the schema refused it.
        violations: Vec<SchemaViolation>,
    },
}

fn invalid(detail: impl Into<String>) -> CaptureError {
    CaptureError::Invalid {
        detail: detail.into(),
        violations: Vec::new(),
    }
}

/// Reads a capture body: bounds, duplicate keys, the schema, every event and its hash.
pub fn read_capture(body: &[u8], format: Format) -> Result<Captured, CaptureError> {
    if body.len() > CAPTURE_BYTES_MAX {
        return Err(CaptureError::TooLarge(format!(
            "a capture holds at most {CAPTURE_BYTES_MAX} bytes; this one has {}",
            body.len()
        )));
    }
    let document = match format {
        Format::Json => parse_strict(body).map_err(invalid)?,
        Format::Xml => {
            let text =
                std::str::from_utf8(body).map_err(|_| invalid("an XML capture must be UTF-8"))?;
            document_from_xml(text).map_err(|e: XmlError| invalid(e.to_string()))?
        }
    };
    match document.get("type").and_then(Value::as_str) {
        Some("EPCISDocument" | "EPCISQueryDocument") => {}
        _ => {
            return Err(invalid(
                "a capture is an EPCISDocument or an EPCISQueryDocument (`type`)",
            ))
        }
    }
    let entries = match document.get("@context") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_object().map_or(1, Map::len))
            .sum(),
        Some(Value::Object(m)) => m.len(),
        _ => 1,
    };
    if entries > CONTEXT_ENTRIES_MAX {
        return Err(invalid(format!(
            "a capture's @context defines at most {CONTEXT_ENTRIES_MAX} entries; this one {entries}"
        )));
    }
    let n = HashContext::events(&document).len();
    if n > CAPTURE_EVENTS_MAX {
        return Err(CaptureError::TooLarge(format!(
            "a capture holds at most {CAPTURE_EVENTS_MAX} events; this one has {n}"
        )));
    }
    if let Err(violations) = validate_document(&document) {
        let first = violations
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(CaptureError::Invalid {
            detail: format!(
                "the document breaks GS1's EPCIS 2.0 JSON Schema ({} violation{}; the first: {first})",
                violations.len(),
                if violations.len() == 1 { "" } else { "s" }
            ),
            violations,
        });
    }
    let context = HashContext::from_document(&document);
    let mut events = Vec::with_capacity(n);
    for (i, e) in HashContext::events(&document).into_iter().enumerate() {
        let event =
            Event::from_json(e).map_err(|err: EventError| invalid(format!("event {i}: {err}")))?;
        let hash = event_hash(e, &context)
            .map_err(|err: HashError| invalid(format!("event {i}: {err}")))?;
        events.push(CapturedEvent { event, hash });
    }
    Ok(Captured { document, events })
}

/// Parses JSON as `serde_json` does (its recursion limit kept), refusing an object that
/// names a key twice. Written here because serde_json's `Value` keeps the last of
/// duplicate keys silently and has no option to refuse them.
pub fn parse_strict(body: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = Strict
        .deserialize(&mut de)
        .map_err(|e| format!("the body is not JSON: {e}"))?;
    de.end().map_err(|e| format!("the body is not JSON: {e}"))?;
    Ok(v)
}

/// A `Value` seed that refuses duplicate keys.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(Strict)?;
            if out.contains_key(&k) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{k}` appears twice in one object"
                )));
            }
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_and_values_read_as_serde_json_reads_them() {
        let e = parse_strict(br#"{"a": 1, "b": {"c": 2, "c": 3}}"#).unwrap_err();
        assert!(e.contains("`c` appears twice"), "{e}");
        let text = br#"{"a": [1, -2, 3.5, "x", null, true, {"y": []}], "b": 18446744073709551615}"#;
        let v = parse_strict(text).unwrap();
        assert_eq!(v, serde_json::from_slice::<Value>(text).unwrap());
        assert!(parse_strict(b"{} x").is_err(), "trailing bytes");
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(
            parse_strict(deep.as_bytes()).is_err(),
            "serde_json's recursion limit"
        );
    }

    #[test]
    fn a_body_past_the_limits_is_too_large_and_not_a_document_is_invalid() {
        let big = vec![b' '; CAPTURE_BYTES_MAX + 1];
        assert!(matches!(
            read_capture(&big, Format::Json),
            Err(CaptureError::TooLarge(_))
        ));
        let not = read_capture(br#"{"type": "ObjectEvent"}"#, Format::Json).unwrap_err();
        assert!(matches!(not, CaptureError::Invalid { .. }), "{not:?}");
        assert_eq!(
            Format::of_content_type("application/ld+json; charset=utf-8"),
            Some(Format::Json)
        );
        assert_eq!(Format::of_content_type("text/plain"), None);
    }
}
