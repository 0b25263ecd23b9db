//! The canonical EPCIS event: one captured event, read once into the fields the registry's
//! rules and queries need, with the event's own JSON kept whole beside them.
//!
//! Why the JSON is kept and not rebuilt: an EPCIS event may carry user extensions, sensor
//! data, ILMD and certification info of any shape, and a query must answer the event as
//! it was captured (its hash is the proof: [`crate::hash::event_hash`] of the stored event
//! equals that of the captured one). The typed fields are an index of it, read by
//! [`Event::from_json`], never a second truth: [`Event::decode`] reads them again from the
//! stored JSON.
//!
//! Times keep their offsets: `eventTime` is kept as written (a `Z` time with its separate
//! `eventTimeZoneOffset`, or a time with an offset), read as an instant for ordering and
//! time-range queries, and the offset is kept for the answer.

use crate::hash::canonical_identifier;
use crate::vocab::{self, Vocabulary};
use jiff::tz::Offset;
use jiff::Timestamp;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The record format written now (the first byte of [`Event::encode`]).
pub const EVENT_RECORD_VERSION: u8 = 1;

/// The five EPCIS 2.0 event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// Objects observed, added or removed.
    ObjectEvent,
    /// Children packed into or out of a parent.
    AggregationEvent,
    /// Objects tied to or untied from a business transaction.
    TransactionEvent,
    /// Inputs consumed, outputs produced.
    TransformationEvent,
    /// Children (often sensors) associated with a parent asset.
    AssociationEvent,
}

impl EventType {
    /// Every type, in the standard's order.
    pub const ALL: [EventType; 5] = [
        EventType::ObjectEvent,
        EventType::AggregationEvent,
        EventType::TransactionEvent,
        EventType::TransformationEvent,
        EventType::AssociationEvent,
    ];

    /// The type's name as EPCIS writes it.
    pub fn name(self) -> &'static str {
        match self {
            EventType::ObjectEvent => "ObjectEvent",
            EventType::AggregationEvent => "AggregationEvent",
            EventType::TransactionEvent => "TransactionEvent",
            EventType::TransformationEvent => "TransformationEvent",
            EventType::AssociationEvent => "AssociationEvent",
        }
    }

    /// The type named `s`.
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// An event's action (every type but `TransformationEvent` has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Objects come into being or join (commissioning, packing, …).
    Add,
    /// Objects seen, nothing created or ended.
    Observe,
    /// Objects end or leave (decommissioning, unpacking, …).
    Delete,
}

impl Action {
    /// The action as EPCIS writes it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Add => "ADD",
            Action::Observe => "OBSERVE",
            Action::Delete => "DELETE",
        }
    }

    /// From its name (`ADD`, `OBSERVE`, `DELETE`).
    pub fn parse(s: &str) -> Option<Action> {
        [Action::Add, Action::Observe, Action::Delete]
            .into_iter()
            .find(|a| a.name() == s)
    }
}

/// A quantity of a class of objects (`quantityList`, `childQuantityList`, …).
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    /// The class (`urn:epc:class:lgtin:…`, `urn:epc:idpat:sgtin:…` or a Digital Link).
    pub epc_class: String,
    /// How much (`None`: an unknown quantity of it).
    pub quantity: Option<f64>,
    /// The unit (UN/CEFACT rec. 20 code), if not a count.
    pub uom: Option<String>,
}

/// A source or destination: its type (`owning_party`, `possessing_party`, `location` or a
/// URI) and its identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The type, as written.
    pub kind: String,
    /// The identifier (an SGLN, a PGLN, a Digital Link…).
    pub id: String,
}

/// An event's `errorDeclaration`: the event is declared in error (it did not happen, or
/// its data was wrong).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorDeclaration {
    /// When the error was declared.
    pub declaration_time: Timestamp,
    /// Why (`did_not_occur`, `incorrect_data` or a URI).
    pub reason: Option<String>,
    /// The events that correct it.
    pub corrective_event_ids: Vec<String>,
}

/// The objects an event names, by role. For an `ObjectEvent` and a `TransactionEvent`
/// the objects are `epcList`; for an aggregation or association `childEPCs` (the
/// parent apart); a transformation has inputs and outputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    /// `epcList` or `childEPCs`. In these three lists each object is named once, at its
    /// first writing: the JSON may name one code twice, as an EPC URI and as a Digital
    /// Link URI (GS1's schema compares the strings), see [`canonical_identifier`].
    pub epcs: Vec<String>,
    /// `inputEPCList`.
    pub inputs: Vec<String>,
    /// `outputEPCList`.
    pub outputs: Vec<String>,
    /// `quantityList` or `childQuantityList`.
    pub quantities: Vec<Quantity>,
    /// `inputQuantityList`.
    pub input_quantities: Vec<Quantity>,
    /// `outputQuantityList`.
    pub output_quantities: Vec<Quantity>,
    /// `parentID`.
    pub parent: Option<String>,
}

/// One EPCIS event, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Its type.
    pub event_type: EventType,
    /// `eventID`, when the capturer gave one.
    pub event_id: Option<String>,
    /// When it happened (an instant).
    pub event_time: Timestamp,
    /// The time-zone offset of where it happened (`eventTimeZoneOffset`).
    pub offset: Offset,
    /// Its action (`None` for a transformation).
    pub action: Option<Action>,
    /// The objects it names.
    pub objects: Objects,
    /// `bizStep`, as a CBV word (`shipping`) or the URI written.
    pub biz_step: Option<String>,
    /// `disposition`, likewise.
    pub disposition: Option<String>,
    /// `readPoint.id`.
    pub read_point: Option<String>,
    /// `bizLocation.id`.
    pub biz_location: Option<String>,
    /// `bizTransactionList`: (type, identifier).
    pub biz_transactions: Vec<(Option<String>, String)>,
    /// `sourceList`.
    pub sources: Vec<Endpoint>,
    /// `destinationList`.
    pub destinations: Vec<Endpoint>,
    /// `errorDeclaration`.
    pub error_declaration: Option<ErrorDeclaration>,
    /// The event as captured (every field, extensions included).
    pub json: Map<String, Value>,
}

/// Why an event cannot be read: the rules of EPCIS 2.0 a JSON schema does not hold
/// alone, or a shape it does (for input that skipped the schema).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The event is not a JSON object.
    #[error("an event must be a JSON object")]
    NotAnObject,
    /// A required field is missing.
    #[error("`{0}` is required")]
    Missing(&'static str),
    /// A field has the wrong shape or value.
    #[error("`{field}`: {why}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A stored record of an unknown version or that does not read.
    #[error("a stored event record does not read: {0}")]
    Record(String),
}

fn invalid(field: &'static str, why: impl Into<String>) -> EventError {
    EventError::Invalid {
        field,
        why: why.into(),
    }
}

/// A value of a field with a CBV vocabulary as the bare word when it is one of the
/// vocabulary's words in any of the standard's forms (`shipping`,
/// `https://ref.gs1.org/cbv/BizStep-shipping`, `urn:epcglobal:cbv:bizstep:shipping`); any
/// other URI as written (the capturer's own vocabulary). Refused: a bare word the
/// vocabulary does not have, and a URI in the standard's own namespace naming a word it
/// does not have (`https://ref.gs1.org/cbv/BizStep-transforming`), which GS1's JSON
/// Schema lets through.
pub fn cbv_word(vocabulary: &Vocabulary, value: &str) -> Result<String, String> {
    if vocabulary.contains(value) {
        return Ok(value.to_string());
    }
    let prefixes = std::iter::once(vocabulary.iri_prefix).chain(vocabulary.urn_prefix);
    for prefix in prefixes {
        if let Some(word) = value.strip_prefix(prefix) {
            return if vocabulary.contains(word) {
                Ok(word.to_string())
            } else {
                Err(format!(
                    "`{word}` is no word of the CBV's {}",
                    vocabulary.name
                ))
            };
        }
    }
    if !value.contains(':') {
        return Err(format!(
            "`{value}` is no word of the CBV's {}; a value of one's own must be a URI",
            vocabulary.name
        ));
    }
    Ok(value.to_string())
}

/// [`cbv_word`] of `field`, its refusal an [`EventError`].
fn word(field: &'static str, vocabulary: &Vocabulary, value: &str) -> Result<String, EventError> {
    cbv_word(vocabulary, value).map_err(|why| invalid(field, why))
}

/// An `eventTimeZoneOffset` (`+03:00`, `-06:00`; ±14:00 at most).
pub fn parse_offset(s: &str) -> Option<Offset> {
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = |i: usize| -> Option<i32> {
        let (h, l) = (b[i], b[i + 1]);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| i32::from(h - b'0') * 10 + i32::from(l - b'0'))
    };
    let (h, m) = (digits(1)?, digits(4)?);
    if m > 59 || h * 60 + m > 14 * 60 {
        return None;
    }
    Offset::from_seconds(sign * (h * 3_600 + m * 60)).ok()
}

/// `o` as EPCIS writes an offset.
pub fn format_offset(o: Offset) -> String {
    let s = o.seconds();
    let sign = if s < 0 { '-' } else { '+' };
    let a = s.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 3_600, a % 3_600 / 60)
}

fn text<'a>(m: &'a Map<String, Value>, field: &'static str) -> Result<Option<&'a str>, EventError> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn time(m: &Map<String, Value>, field: &'static str) -> Result<Option<Timestamp>, EventError> {
    let Some(s) = text(m, field)? else {
        return Ok(None);
    };
    s.parse::<Timestamp>()
        .map(Some)
        .map_err(|e| invalid(field, format!("not a date and time with an offset: {e}")))
}

fn strings(m: &Map<String, Value>, field: &'static str) -> Result<Vec<String>, EventError> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid(field, "must list strings"))
            })
            .collect(),
        Some(_) => Err(invalid(field, "must be a list")),
    }
}

fn objects_of<'a>(
    m: &'a Map<String, Value>,
    field: &'static str,
) -> Result<impl Iterator<Item = &'a Map<String, Value>>, EventError> {
    let list: &[Value] = match m.get(field) {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid(field, "must be a list")),
    };
    if list.iter().any(|v| !v.is_object()) {
        return Err(invalid(field, "must list objects"));
    }
    Ok(list.iter().filter_map(Value::as_object))
}

fn quantities(m: &Map<String, Value>, field: &'static str) -> Result<Vec<Quantity>, EventError> {
    objects_of(m, field)?
        .map(|q| {
            let epc_class = text(q, "epcClass")?
                .ok_or_else(|| invalid(field, "each needs an `epcClass`"))?
                .to_string();
            let quantity = match q.get("quantity") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_f64()
                        .ok_or_else(|| invalid(field, "`quantity` must be a number"))?,
                ),
            };
            let uom = text(q, "uom")?.map(str::to_string);
            Ok(Quantity {
                epc_class,
                quantity,
                uom,
            })
        })
        .collect()
}

fn endpoints(
    m: &Map<String, Value>,
    field: &'static str,
    id_field: &'static str,
) -> Result<Vec<Endpoint>, EventError> {
    objects_of(m, field)?
        .map(|e| {
            let kind = text(e, "type")?.ok_or_else(|| invalid(field, "each needs a `type`"))?;
            let id = text(e, id_field)?
                .ok_or_else(|| invalid(field, format!("each needs a `{id_field}`")))?;
            Ok(Endpoint {
                kind: word(field, &vocab::SOURCE_DEST_TYPE, kind)?,
                id: id.to_string(),
            })
        })
        .collect()
}

fn place(m: &Map<String, Value>, field: &'static str) -> Result<Option<String>, EventError> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(
            text(o, "id")?
                .ok_or_else(|| invalid(field, "needs an `id`"))?
                .to_string(),
        )),
        Some(_) => Err(invalid(field, "must be an object with an `id`")),
    }
}

fn error_declaration(m: &Map<String, Value>) -> Result<Option<ErrorDeclaration>, EventError> {
    let Some(v) = m.get("errorDeclaration") else {
        return Ok(None);
    };
    let d = v
        .as_object()
        .ok_or_else(|| invalid("errorDeclaration", "must be an object"))?;
    let declaration_time = time(d, "declarationTime")?
        .ok_or(EventError::Missing("errorDeclaration.declarationTime"))?;
    Ok(Some(ErrorDeclaration {
        declaration_time,
        reason: text(d, "reason")?
            .map(|r| word("errorDeclaration", &vocab::ERROR_REASON, r))
            .transpose()?,
        corrective_event_ids: strings(d, "correctiveEventIDs")?,
    }))
}

/// `list` with each object once however written, at its first writing (an EPC URI and the
/// Digital Link URI of one code are one object, [`canonical_identifier`]): GS1's schema
/// asks for unique items but compares the strings, and an operation on the list would
/// count the code twice. The event's JSON keeps both writings (its hash does too).
fn distinct(list: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(list.len());
    list.into_iter()
        .filter(|epc| seen.insert(canonical_identifier(epc)))
        .collect()
}

/// The objects of an event of type `t`, read from the fields its type has.
fn objects(t: EventType, m: &Map<String, Value>) -> Result<Objects, EventError> {
    let parent = text(m, "parentID")?.map(str::to_string);
    let mut o = Objects {
        parent,
        ..Objects::default()
    };
    match t {
        EventType::ObjectEvent | EventType::TransactionEvent => {
            o.epcs = distinct(strings(m, "epcList")?);
            o.quantities = quantities(m, "quantityList")?;
        }
        EventType::AggregationEvent | EventType::AssociationEvent => {
            o.epcs = distinct(strings(m, "childEPCs")?);
            o.quantities = quantities(m, "childQuantityList")?;
        }
        EventType::TransformationEvent => {
            o.inputs = distinct(strings(m, "inputEPCList")?);
            o.outputs = distinct(strings(m, "outputEPCList")?);
            o.input_quantities = quantities(m, "inputQuantityList")?;
            o.output_quantities = quantities(m, "outputQuantityList")?;
        }
    }
    Ok(o)
}

impl Event {
    /// Reads one event of an EPCIS 2.0 JSON(-LD) document's `eventList`.
    pub fn from_json(v: &Value) -> Result<Event, EventError> {
        let m = v.as_object().ok_or(EventError::NotAnObject)?;
        let t = text(m, "type")?.ok_or(EventError::Missing("type"))?;
        let event_type =
            EventType::parse(t).ok_or_else(|| invalid("type", format!("no event type `{t}`")))?;
        let event_time = time(m, "eventTime")?.ok_or(EventError::Missing("eventTime"))?;
        let offset =
            text(m, "eventTimeZoneOffset")?.ok_or(EventError::Missing("eventTimeZoneOffset"))?;
        let offset = parse_offset(offset)
            .ok_or_else(|| invalid("eventTimeZoneOffset", "must be ±hh:mm, within ±14:00"))?;
        let action = match text(m, "action")? {
            Some(a) => Some(Action::parse(a).ok_or_else(|| {
                invalid("action", format!("`{a}` is none of ADD, OBSERVE, DELETE"))
            })?),
            None if event_type == EventType::TransformationEvent => None,
            None => return Err(EventError::Missing("action")),
        };
        if action.is_some() && event_type == EventType::TransformationEvent {
            return Err(invalid("action", "a transformation has no action"));
        }
        let biz_transactions = objects_of(m, "bizTransactionList")?
            .map(|b| {
                let id = text(b, "bizTransaction")?.ok_or_else(|| {
                    invalid("bizTransactionList", "each needs a `bizTransaction`")
                })?;
                let kind = text(b, "type")?
                    .map(|t| word("bizTransactionList", &vocab::BIZ_TRANSACTION_TYPE, t))
                    .transpose()?;
                Ok((kind, id.to_string()))
            })
            .collect::<Result<_, EventError>>()?;
        Ok(Event {
            event_type,
            event_id: text(m, "eventID")?.map(str::to_string),
            event_time,
            offset,
            action,
            objects: objects(event_type, m)?,
            biz_step: text(m, "bizStep")?
                .map(|s| word("bizStep", &vocab::BIZ_STEP, s))
                .transpose()?,
            disposition: text(m, "disposition")?
                .map(|s| word("disposition", &vocab::DISPOSITION, s))
                .transpose()?,
            read_point: place(m, "readPoint")?,
            biz_location: place(m, "bizLocation")?,
            biz_transactions,
            sources: endpoints(m, "sourceList", "source")?,
            destinations: endpoints(m, "destinationList", "destination")?,
            error_declaration: error_declaration(m)?,
            json: m.clone(),
        })
    }

    /// Every object identifier the event names, the parent included (what
    /// `MATCH_anyEPC` looks in), each once however written ([`canonical_identifier`]: the
    /// first writing is given), in the order first named.
    pub fn all_epcs(&self) -> Vec<&str> {
        let o = &self.objects;
        let mut seen = HashSet::new();
        o.parent
            .iter()
            .chain(&o.epcs)
            .chain(&o.inputs)
            .chain(&o.outputs)
            .filter(|e| seen.insert(canonical_identifier(e)))
            .map(String::as_str)
            .collect()
    }

    /// The stored record: the version byte, then the event's JSON (the typed fields are
    /// read from it again by [`Event::decode`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![EVENT_RECORD_VERSION];
        // A map of JSON values always serialises.
        let _ = serde_json::to_writer(&mut out, &self.json);
        out
    }

    /// Reads a record [`Event::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Event, EventError> {
        match bytes.split_first() {
            Some((&EVENT_RECORD_VERSION, json)) => {
                let v: Value =
                    serde_json::from_slice(json).map_err(|e| EventError::Record(e.to_string()))?;
                Event::from_json(&v)
            }
            Some((v, _)) => Err(EventError::Record(format!("version {v} is unknown"))),
            None => Err(EventError::Record("empty".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shipping() -> Value {
        json!({
            "type": "ObjectEvent",
            "eventTime": "2026-12-05T09:30:00.000Z",
            "eventTimeZoneOffset": "+03:00",
            "epcList": ["urn:epc:id:sgtin:4601234.067893.A1", "urn:epc:id:sgtin:4601234.067893.A2"],
            "action": "OBSERVE",
            "bizStep": "https://ref.gs1.org/cbv/BizStep-shipping",
            "disposition": "urn:epcglobal:cbv:disp:in_transit",
            "bizLocation": {"id": "urn:epc:id:sgln:4601234.00001.0"},
            "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4601234.00001"}],
            "destinationList": [{"type": "https://ref.gs1.org/cbv/SDT-owning_party",
                                 "destination": "urn:epc:id:pgln:4609876.00001"}],
            "example:note": {"any": ["shape", 1]}
        })
    }

    #[test]
    fn reads_the_fields_and_keeps_the_rest() {
        let e = Event::from_json(&shipping()).expect("reads");
        assert_eq!(e.event_type, EventType::ObjectEvent);
        assert_eq!(e.action, Some(Action::Observe));
        assert_eq!(e.biz_step.as_deref(), Some("shipping"));
        assert_eq!(e.disposition.as_deref(), Some("in_transit"));
        assert_eq!(e.destinations[0].kind, "owning_party");
        assert_eq!(format_offset(e.offset), "+03:00");
        assert_eq!(e.event_time.as_second(), 1_796_463_000);
        assert_eq!(e.all_epcs().len(), 2);
        assert!(e.json.contains_key("example:note"));
        let back = Event::decode(&e.encode()).expect("decodes");
        assert_eq!(back, e);
    }

    #[test]
    fn refuses_what_the_standard_forbids() {
        let cases: [(&str, Value, &str); 9] = [
            ("eventTimeZoneOffset", json!("+15:00"), "±hh:mm"),
            ("eventTimeZoneOffset", json!("03:00"), "±hh:mm"),
            ("eventTime", json!("2026-12-05T09:30:00"), "offset"),
            ("action", json!("MOVE"), "none of"),
            ("type", json!("BoxEvent"), "no event type"),
            (
                "epcList",
                json!("urn:epc:id:sgtin:4601234.067893.A1"),
                "list",
            ),
            ("bizStep", json!("transforming"), "must be a URI"),
            (
                "bizStep",
                json!("https://ref.gs1.org/cbv/BizStep-transforming"),
                "no word",
            ),
            (
                "disposition",
                json!("urn:epcglobal:cbv:disp:lost_at_sea"),
                "no word",
            ),
        ];
        for (field, value, says) in cases {
            let mut v = shipping();
            v[field] = value;
            let err = Event::from_json(&v).expect_err(field).to_string();
            assert!(err.contains(says), "{field}: {err}");
        }
        let mut v = shipping();
        v.as_object_mut().map(|m| m.remove("action"));
        assert_eq!(Event::from_json(&v), Err(EventError::Missing("action")));
    }

    #[test]
    fn one_object_written_two_ways_is_named_once() {
        let mut v = shipping();
        v["epcList"] = json!([
            "urn:epc:id:sgtin:4601234.067893.A1",
            "https://id.gs1.org/01/04601234678933/21/A1",
            "urn:epc:id:sgtin:4601234.067893.A2"
        ]);
        let e = Event::from_json(&v).expect("reads");
        assert_eq!(
            e.objects.epcs,
            [
                "urn:epc:id:sgtin:4601234.067893.A1",
                "urn:epc:id:sgtin:4601234.067893.A2"
            ]
        );
        assert_eq!(e.json["epcList"].as_array().map(Vec::len), Some(3));
        v["type"] = json!("TransformationEvent");
        v.as_object_mut().map(|m| m.remove("action"));
        v["inputEPCList"] = json!(["urn:epc:id:sgtin:4601234.067893.A1"]);
        v["outputEPCList"] = json!(["https://example.com/01/04601234678933/21/A1"]);
        let e = Event::from_json(&v).expect("an input may be an output");
        assert_eq!(e.all_epcs(), ["urn:epc:id:sgtin:4601234.067893.A1"]);
    }

    #[test]
    fn offsets_round_trip() {
        for s in ["+00:00", "-06:00", "+14:00", "-14:00", "+05:45"] {
            assert_eq!(format_offset(parse_offset(s).expect(s)), s);
        }
        for s in ["+14:01", "+1:00", "+01:60", "Z", "+0100"] {
            assert!(parse_offset(s).is_none(), "{s}");
        }
    }
}
