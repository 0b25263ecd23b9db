//! Validation of EPCIS 2.0 JSON / JSON-LD documents against GS1's JSON Schema.
//!
//! The schema is GS1's `EPCIS-JSON-Schema.json` (JSON Schema draft-07, one file with every
//! definition), the one GS1's `JSON/README.md` gives for validating its examples. Its root
//! dispatches on the document's `type`: an `EPCISDocument`, an `EPCISQueryDocument`, one of
//! the five standard events, and any other `type` as an extension event (the events on
//! their own must have an `@context`). Whoever accepts only some of these (a capture
//! interface takes documents and events, not query documents) checks `type` as well.
//!
//! `format` is asserted, as draft-07 allows and GS1's schema needs: a non-standard value of
//! `bizStep`, `disposition` and the other vocabulary fields must be a URI (`"format":
//! "uri"`), which is what refuses a bare word that is not one of the CBV's; `eventTime` and
//! the other times must be RFC 3339 date-times. The schema is compiled once, offline: it
//! refers to nothing outside itself.
//!
//! What the schema lets through is left to rules beyond it. Among what it accepts: a
//! vocabulary value given as a URI in the CBV 2.0 namespace that names no CBV value
//! (`https://ref.gs1.org/cbv/BizStep-transforming`, `cbv:BizStep-transforming`: its
//! pattern keeps out `urn:epcglobal:cbv…` and `https://ns.gs1.org/cbv/…` only), and any
//! object whose `type` is a URI, as an extension event. The test `tests/schema_corpus.rs`
//! runs GS1's and openepcis' example documents through it.

use crate::vocab::{self, Vocabulary};
use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;
use std::fmt;
use std::sync::LazyLock;

/// GS1's EPCIS 2.0 JSON Schema, a byte-for-byte copy of `EPCIS-JSON-Schema.json` from
/// GS1's artefacts (`schema/EPCIS-JSON-Schema.json` in this crate; `tests/schema_copy.rs`
/// checks it against `../shared` and regenerates it).
pub const EPCIS_JSON_SCHEMA: &str = include_str!("../schema/EPCIS-JSON-Schema.json");

/// The most violations one validation reports (the first ones, in the schema's order): a
/// document with thousands of bad events says enough in its first hundred.
pub const VIOLATIONS_MAX: usize = 100;

/// The most JSON values (strings, numbers, …, arrays and objects) a document (or one of its
/// events) may hold for its violations to be gathered, the first [`VIOLATIONS_MAX`] of
/// them. The validator gathers every violation before the first can be read, at some 3 KB
/// each (256 000 unknown field names, a document of 3.5 MB, took 870 MB and 1.5 s to be
/// told about), and a violation of a choice (`anyOf`) keeps a copy of the value it is about
/// per branch (an event of a million extension fields and no `epcList` took 450 MB for its
/// first violation alone). A larger invalid document is told the violations of its first
/// invalid event, found event by event without gathering anything, when that event is
/// within the bound; else only where it breaks the schema. A valid document is checked
/// without gathering anything, whatever its size.
pub const VIOLATIONS_DETAIL_VALUES_MAX: usize = 20_000;

/// A value shown in a message when it is a string at most this long (or a number, boolean
/// or null); a longer string, an object or an array is called "the value".
const SHOWN_STRING_LEN_MAX: usize = 120;

/// One way a document breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// Where in the document: a JSON pointer (RFC 6901), empty for the document itself
    /// (`/epcisBody/eventList/0/action`).
    pub instance_path: String,
    /// The schema keyword that refused it: a JSON pointer into [`EPCIS_JSON_SCHEMA`] as the
    /// validator walked it, through `$ref`s (`/allOf/0/then/$ref/…/enum`).
    pub schema_path: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.instance_path.is_empty() {
            "the document"
        } else {
            &self.instance_path
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// The compiled schema. It is a constant of this crate, compiled and checked by its tests,
/// so failing to compile it is a defect of the build, not of any input.
static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(EPCIS_JSON_SCHEMA)
        .expect("the embedded EPCIS JSON Schema is JSON (tests/schema_copy.rs)");
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .offline()
        .build(&schema)
        .expect("the embedded EPCIS JSON Schema compiles (tests/schema_copy.rs)")
});

/// GS1's schema for one event of a document's `eventList` (`EPCIS-Document-Event`): the
/// same definitions, the root replaced by a reference to that one.
static EVENT_VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let mut schema: Value = serde_json::from_str(EPCIS_JSON_SCHEMA)
        .expect("the embedded EPCIS JSON Schema is JSON (tests/schema_copy.rs)");
    if let Value::Object(root) = &mut schema {
        root.retain(|k, _| matches!(k.as_str(), "$schema" | "$id" | "definitions"));
        root.insert("$ref".into(), "#/definitions/EPCIS-Document-Event".into());
    }
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .offline()
        .build(&schema)
        .expect("the embedded EPCIS JSON Schema's event definition compiles")
});

/// Where a document's events are: an EPCIS document's, a query document's.
const EVENT_LISTS: [&str; 2] = [
    "/epcisBody/eventList",
    "/epcisBody/queryResults/resultsBody/eventList",
];

/// Checks an EPCIS 2.0 JSON / JSON-LD document (or a single event, or a query document:
/// whatever its `type` says) against GS1's JSON Schema: `Ok` when it conforms, else its
/// violations, at most [`VIOLATIONS_MAX`] of them. Of a document of more than
/// [`VIOLATIONS_DETAIL_VALUES_MAX`] values, those of its first invalid event only (their
/// schema paths then start at the event's definition), or only where it breaks the schema.
pub fn validate_document(document: &Value) -> Result<(), Vec<SchemaViolation>> {
    if VALIDATOR.is_valid(document) {
        return Ok(());
    }
    let violations = if holds_more_values(document, VIOLATIONS_DETAIL_VALUES_MAX) {
        large_document_violations(document)
    } else {
        violations_of(&VALIDATOR, document, "")
    };
    if violations.is_empty() {
        // The validator said it does not conform, and then named nothing.
        return Err(vec![unnamed_violation(String::new())]);
    }
    Err(violations)
}

/// The first [`VIOLATIONS_MAX`] violations of `instance`, found at `at` in the document.
fn violations_of(validator: &Validator, instance: &Value, at: &str) -> Vec<SchemaViolation> {
    validator
        .iter_errors(instance)
        .take(VIOLATIONS_MAX)
        .map(|error| {
            let mut v = violation(&error);
            v.instance_path.insert_str(0, at);
            v
        })
        .collect()
}

/// A document too large to gather its violations: those of its first invalid event, when
/// that event is small enough, else where it breaks the schema.
fn large_document_violations(document: &Value) -> Vec<SchemaViolation> {
    for pointer in EVENT_LISTS {
        let Some(Value::Array(events)) = document.pointer(pointer) else {
            continue;
        };
        let Some(i) = events.iter().position(|e| !EVENT_VALIDATOR.is_valid(e)) else {
            continue;
        };
        let at = format!("{pointer}/{i}");
        if holds_more_values(&events[i], VIOLATIONS_DETAIL_VALUES_MAX) {
            return vec![unnamed_violation(at)];
        }
        return violations_of(&EVENT_VALIDATOR, &events[i], &at);
    }
    vec![unnamed_violation(String::new())]
}

/// A violation at `at` the validator was not asked to name.
fn unnamed_violation(at: String) -> SchemaViolation {
    SchemaViolation {
        instance_path: at,
        schema_path: String::new(),
        message: format!(
            "does not conform to GS1's EPCIS JSON Schema (of more than \
             {VIOLATIONS_DETAIL_VALUES_MAX} JSON values: too many to say why)"
        ),
    }
}

/// Whether `value` holds more than `max` JSON values (itself included), counted without
/// recursion and no further than `max + 1`.
fn holds_more_values(value: &Value, max: usize) -> bool {
    let mut stack = vec![value];
    let mut count = 0usize;
    while let Some(v) = stack.pop() {
        count += 1;
        if count > max {
            return true;
        }
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    false
}

fn violation(error: &ValidationError<'_>) -> SchemaViolation {
    let instance_path = error.instance_path().as_str().to_string();
    let message = vocabulary_message(&instance_path, error)
        .or_else(|| field_name_message(error))
        .unwrap_or_else(|| message(error));
    SchemaViolation {
        instance_path,
        schema_path: error.evaluation_path().as_str().to_string(),
        message,
    }
}

/// The validator's message, with the value left out when it is long.
fn message(error: &ValidationError<'_>) -> String {
    let shown = match error.instance().as_ref() {
        Value::String(s) => s.len() <= SHOWN_STRING_LEN_MAX,
        Value::Array(_) | Value::Object(_) => false,
        Value::Number(_) | Value::Bool(_) | Value::Null => true,
    };
    if shown {
        error.to_string()
    } else {
        error.masked_with("the value").to_string()
    }
}

/// For a vocabulary field (`bizStep`, a source's `type`, …) whose value is neither a standard
/// word nor an acceptable URI, a message saying so.
fn vocabulary_message(path: &str, error: &ValidationError<'_>) -> Option<String> {
    let ValidationErrorKind::AnyOf { context } = error.kind() else {
        return None;
    };
    let Value::String(value) = error.instance().as_ref() else {
        return None;
    };
    let vocabulary = field_vocabulary(path)?;
    if value.len() > SHOWN_STRING_LEN_MAX {
        return None;
    }
    let name = vocabulary.name;
    // GS1's schema refuses URIs in the namespaces of the standard values by a pattern.
    let reserved = context
        .iter()
        .flatten()
        .any(|e| matches!(e.kind(), ValidationErrorKind::Pattern { .. }));
    if let Some(word) = standard_word_in(vocabulary, value).filter(|_| reserved) {
        return Some(format!(
            "{value:?} is a standard {name} written as a URI: EPCIS 2.0 JSON writes it as its \
             bare word {word:?}"
        ));
    }
    let (n, example) = (vocabulary.terms.len(), vocabulary.terms.first());
    let example = example.copied().unwrap_or_default();
    Some(if reserved {
        format!(
            "{value:?} is in a namespace GS1 keeps for standard values, and is not one of the \
             {n} standard words of {name} (such as {example:?})"
        )
    } else {
        format!(
            "{value:?} is neither one of the {n} standard words of {name} (such as \
             {example:?}) nor a URI"
        )
    })
}

/// For a field name the object may not have (GS1's schema lets an object have its own fields
/// and extensions, whose names are URIs or CURIEs such as `example:myField`), a message
/// saying so.
fn field_name_message(error: &ValidationError<'_>) -> Option<String> {
    let ValidationErrorKind::PropertyNames { error: name_error } = error.kind() else {
        return None;
    };
    let Value::String(name) = name_error.instance().as_ref() else {
        return None;
    };
    if name.len() > SHOWN_STRING_LEN_MAX {
        return None;
    }
    Some(format!(
        "{name:?} is not a field this object may have, nor an extension's (named by a URI or \
         a CURIE such as \"example:{name}\")"
    ))
}

/// The standard word a URI ends with (`urn:epcglobal:cbv:bizstep:shipping`,
/// `https://gs1.org/voc/Temperature`), if it ends with one.
fn standard_word_in<'v>(vocabulary: &Vocabulary, value: &'v str) -> Option<&'v str> {
    let word = value.rsplit(['-', ':', '/']).next()?;
    vocabulary.contains(word).then_some(word)
}

/// The vocabulary of the field a JSON pointer ends at, if it is a vocabulary field: the
/// field is its last name (array indices skipped), the parent the name before it.
fn field_vocabulary(path: &str) -> Option<&'static Vocabulary> {
    let names: Vec<String> = path
        .split('/')
        .skip(1)
        .filter(|s| s.parse::<usize>().is_err())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let (field, rest) = names.split_last()?;
    vocab::for_field(rest.last().map(String::as_str), field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(event: Value) -> Value {
        json!({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-07-22T10:30:00Z",
            "epcisBody": {"eventList": [event]}
        })
    }

    fn event() -> Value {
        json!({
            "type": "ObjectEvent",
            "eventTime": "2026-07-22T06:45:00+02:00",
            "eventTimeZoneOffset": "+02:00",
            "action": "OBSERVE",
            "epcList": ["https://id.gs1.org/01/09521141012345/21/2017"],
            "bizStep": "shipping"
        })
    }

    #[test]
    fn a_conforming_document_passes() {
        assert_eq!(validate_document(&document(event())), Ok(()));
    }

    #[test]
    fn violations_say_where_and_what() {
        let mut bad = event();
        bad["action"] = json!("CREATE");
        let violations = validate_document(&document(bad)).unwrap_err();
        let at = "/epcisBody/eventList/0/action";
        assert!(
            violations
                .iter()
                .any(|v| v.instance_path == at && v.message.contains("CREATE")),
            "{violations:?}"
        );
    }

    #[test]
    fn vocabulary_fields_say_what_they_accept() {
        let mut bad = event();
        bad["bizStep"] = json!("transforming");
        let violations = validate_document(&document(bad.clone())).unwrap_err();
        let at = "/epcisBody/eventList/0/bizStep";
        let found = violations.iter().find(|v| v.instance_path == at);
        let message = found.map(|v| v.message.as_str()).unwrap_or_default();
        assert!(
            message.contains("standard words of bizStep"),
            "{violations:?}"
        );
        bad["bizStep"] = json!("urn:epcglobal:cbv:bizstep:shipping");
        let violations = validate_document(&document(bad.clone())).unwrap_err();
        let found = violations.iter().find(|v| v.instance_path == at);
        let message = found.map(|v| v.message.as_str()).unwrap_or_default();
        assert!(message.contains("bare word \"shipping\""), "{violations:?}");
        bad["bizStep"] = json!("https://ns.gs1.org/cbv/BizStep-shipping");
        let violations = validate_document(&document(bad.clone())).unwrap_err();
        let found = violations.iter().find(|v| v.instance_path == at);
        let message = found.map(|v| v.message.as_str()).unwrap_or_default();
        assert!(message.contains("bare word \"shipping\""), "{violations:?}");
        bad["bizStep"] = json!("https://ns.gs1.org/cbv/BizStep-transforming");
        let violations = validate_document(&document(bad.clone())).unwrap_err();
        let found = violations.iter().find(|v| v.instance_path == at);
        let message = found.map(|v| v.message.as_str()).unwrap_or_default();
        assert!(message.contains("namespace GS1 keeps"), "{violations:?}");
        bad["bizStep"] = json!("https://example.com/bizstep/transforming");
        assert_eq!(validate_document(&document(bad)), Ok(()));
    }

    #[test]
    fn unknown_fields_are_named() {
        let mut bad = event();
        bad["bizstep"] = json!("shipping");
        let violations = validate_document(&document(bad)).unwrap_err();
        let found = violations
            .iter()
            .find(|v| v.instance_path == "/epcisBody/eventList/0");
        let message = found.map(|v| v.message.as_str()).unwrap_or_default();
        assert!(
            message.starts_with("\"bizstep\" is not a field"),
            "{violations:?}"
        );
    }

    #[test]
    fn a_large_invalid_document_is_told_its_first_invalid_events_violations() {
        let mut doc = document(event());
        let mut events = vec![event(); VIOLATIONS_DETAIL_VALUES_MAX];
        events[7]["action"] = json!("MOVE");
        events[9]["action"] = json!("MOVE");
        doc["epcisBody"]["eventList"] = Value::Array(events.clone());
        let violations = validate_document(&doc).unwrap_err();
        let at = "/epcisBody/eventList/7/action";
        assert!(
            violations
                .iter()
                .all(|v| v.instance_path.starts_with("/epcisBody/eventList/7")),
            "{violations:?}"
        );
        assert!(
            violations
                .iter()
                .any(|v| v.instance_path == at && v.message.contains("MOVE")),
            "{violations:?}"
        );
        events[7]["action"] = json!("OBSERVE");
        let huge = events[9].as_object_mut().expect("an object");
        for i in 0..VIOLATIONS_DETAIL_VALUES_MAX {
            huge.insert(format!("k{i}"), json!("v"));
        }
        doc["epcisBody"]["eventList"] = Value::Array(events);
        let violations = validate_document(&doc).unwrap_err();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].instance_path, "/epcisBody/eventList/9");
        assert!(violations[0].message.contains("too many"), "{violations:?}");
    }

    #[test]
    fn a_large_valid_document_passes() {
        let mut doc = document(event());
        let events = vec![event(); VIOLATIONS_DETAIL_VALUES_MAX];
        doc["epcisBody"]["eventList"] = Value::Array(events);
        assert_eq!(validate_document(&doc), Ok(()));
    }

    #[test]
    fn violations_are_bounded() {
        let events: Vec<Value> = (0..2 * VIOLATIONS_MAX)
            .map(|_| json!({"type": "ObjectEvent"}))
            .collect();
        let mut doc = document(event());
        doc["epcisBody"]["eventList"] = Value::Array(events);
        let violations = validate_document(&doc).unwrap_err();
        assert_eq!(violations.len(), VIOLATIONS_MAX);
    }
}
