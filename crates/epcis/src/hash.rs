//! The CBV 2.0 event hash (CBV 2.0 section 8.9, "Event hash ID").
//!
//! An event's hash is `ni:///sha-256;<hex>?ver=CBV2.0`, the SHA-256 of its *pre-hash
//! string*: `eventType=<type>`, then the event's standard fields in the order the standard
//! fixes (each `name=value`, values canonicalised, repeated values sorted), then whatever
//! is left (business transactions, sources, destinations, ILMD, user extensions) sorted.
//! Canonical values are: timestamps in UTC at millisecond precision (`…T02:33:31.116Z`);
//! GS1 keys (EPC URIs, EPC class and pattern URIs, GS1 Digital Link URIs) as constrained
//! canonical Digital Link URIs (`https://id.gs1.org/01/…/21/…`); CBV values (bare words
//! such as `shipping`, old URNs such as `urn:epcglobal:cbv:bizstep:shipping`) as their
//! web vocabulary URIs (`https://ref.gs1.org/cbv/BizStep-shipping`); numbers without
//! leading `+`, leading or trailing zeros; extension names as `{namespace}name`.
//!
//! This follows the reference implementation (`RalphTro/epcis-event-hash-generator`,
//! commit 5d2f1c3) where the standard leaves room, and is checked against its vectors. It
//! takes events as JSON-LD (an EPCIS document's `epcisBody.eventList[i]`) together with a
//! [`HashContext`] built from the document (its `@context`'s namespace prefixes and the
//! vocabulary its bare words expand to).

use crate::normalise::normalise;
use crate::vocab::{self, Vocabulary, CBV_NAMESPACE, GS1_NAMESPACE};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Why an event has no hash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// The event is not a JSON object.
    #[error("an EPCIS event must be a JSON object")]
    NotAnObject,
    /// The event has no string `type` (ObjectEvent, AggregationEvent, …).
    #[error("the event has no type")]
    NoType,
    /// A numeric value is out of range (the reference implementation fails on it too).
    #[error("the value {0:?} is not a finite number")]
    NotFinite(String),
}

/// What the pre-hash of an event needs from the document it comes in.
///
/// Build it with [`HashContext::from_document`] (everything) or [`HashContext::new`] (the
/// `@context` only). The default is an empty context: no extension namespace prefixes.
#[derive(Debug, Clone, Default)]
pub struct HashContext {
    /// Prefix → namespace IRI, from the `@context`'s objects.
    namespaces: Vec<(String, String)>,
    /// Top-level event fields left out of the hash (the reference's `ignoreFields`).
    ignore_fields: Vec<String>,
    /// Expanded CBV / GS1 vocabulary IRIs found in the document (see [`expanded_values`]).
    vocabulary: BTreeSet<String>,
}

/// The reference implementation's "internal domain" whose `ignoreFields` it honours.
const IGNORE_FIELDS_NAMESPACE: &str = "https://repository-x.example.com/";

impl HashContext {
    /// A context from a JSON-LD `@context` value: every prefix an object in it defines
    /// (`{"example": "https://ns.example.com/epcis/"}`) names an extension namespace.
    pub fn new(context: &Value) -> HashContext {
        let mut namespaces = Vec::new();
        if let Value::Array(items) = context {
            for item in items {
                match item {
                    Value::String(s) => namespaces.push((s.clone(), s.clone())),
                    Value::Object(map) => {
                        for (prefix, iri) in map {
                            if let Value::String(iri) = iri {
                                namespaces.retain(|(p, _)| p != prefix);
                                namespaces.push((prefix.clone(), iri.clone()));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        HashContext {
            namespaces,
            ..HashContext::default()
        }
    }

    /// A context from a whole EPCIS (query) document: its `@context`, the CBV and GS1
    /// vocabulary IRIs its values expand to (the reference implementation expands a bare
    /// word when exactly one of the document's expanded values ends with it), and the
    /// fields it asks to leave out (`<prefix>:ignoreFields`, the prefix being the one for
    /// `https://repository-x.example.com/`, as the reference implementation does: an array
    /// of field names, or an object whose keys they are, as the XML form reads).
    pub fn from_document(document: &Value) -> HashContext {
        let mut context = HashContext::new(document.get("@context").unwrap_or(&Value::Null));
        expanded_values(document, None, &mut context.vocabulary);
        let prefix = context
            .namespaces
            .iter()
            .find(|(_, iri)| iri == IGNORE_FIELDS_NAMESPACE)
            .map(|(p, _)| p.clone());
        if let Some(prefix) = prefix {
            let key = format!("{prefix}:ignoreFields");
            let holder = match document.pointer("/epcisBody/queryResults") {
                Some(results) if document.pointer("/epcisBody/eventList").is_none() => results,
                _ => document,
            };
            context.ignore_fields = match holder.get(&key) {
                Some(Value::Array(fields)) => fields
                    .iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect(),
                // A document read from XML (`crate::xml`) names them by empty elements.
                Some(Value::Object(fields)) => fields.keys().cloned().collect(),
                _ => Vec::new(),
            };
        }
        context
    }

    /// Leaves these top-level event fields (as written, e.g. `example:captureID`) out.
    pub fn with_ignored_fields(mut self, fields: &[&str]) -> HashContext {
        self.ignore_fields = fields.iter().map(|f| f.to_string()).collect();
        self
    }

    /// The events of an EPCIS document or EPCIS query document, in order.
    pub fn events(document: &Value) -> Vec<&Value> {
        let body = document.get("epcisBody");
        let list = body
            .and_then(|b| b.get("eventList"))
            .or_else(|| body.and_then(|b| b.pointer("/queryResults/resultsBody/eventList")));
        match list {
            Some(Value::Array(events)) => events.iter().collect(),
            Some(_) => Vec::new(),
            None => body.and_then(|b| b.get("event")).into_iter().collect(),
        }
    }

    /// `prefix:rest` with `prefix` a namespace → (namespace, rest).
    fn namespace<'a>(&'a self, s: &'a str) -> Option<(&'a str, &'a str)> {
        let (prefix, rest) = s.split_once(':')?;
        self.namespaces
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, iri)| (iri.as_str(), rest))
    }

    fn key_name(&self, key: &str) -> String {
        match self.namespace(key) {
            Some((iri, rest)) => format!("{{{iri}}}{rest}"),
            None => key.to_string(),
        }
    }

    fn value_text(&self, value: &str) -> String {
        match self.namespace(value) {
            Some((iri, rest)) => format!("{iri}{rest}"),
            None => value.to_string(),
        }
    }
}

/// The pre-hash string of one EPCIS 2.0 event given as JSON-LD.
///
/// `context` comes from the document the event is in ([`HashContext::from_document`]); an
/// event on its own can use [`HashContext::new`] with its `@context`, its bare CBV words
/// then expand by its own values only.
pub fn pre_hash(event: &Value, context: &HashContext) -> Result<String, HashError> {
    let Value::Object(map) = event else {
        return Err(HashError::NotAnObject);
    };
    let Some(event_type) = map.get("type").and_then(Value::as_str) else {
        return Err(HashError::NoType);
    };
    let mut vocabulary = context.vocabulary.clone();
    expanded_values(event, None, &mut vocabulary);
    let event = replace_bare_words(event, &vocabulary);
    let raw = to_raw(&event, context, &context.ignore_fields);
    let mut tree = correct(raw);
    let ordered = ordered_children(&mut tree.children, PROP_ORDER)?;
    let rest: Vec<Item> =
        tree.children
            .into_iter()
            .filter(|c| match c {
                Item::Node(n) => !["recordTime", "eventID", "type", "errorDeclaration"]
                    .contains(&n.name.as_str()),
                Item::Pair(..) => true,
            })
            .collect();
    let rest = generic(&rest)?;
    Ok(format!("eventType={event_type}{ordered}{rest}"))
}

/// The CBV 2.0 event hash of one EPCIS 2.0 event given as JSON-LD:
/// `ni:///sha-256;<hex of the SHA-256 of its pre-hash>?ver=CBV2.0`.
pub fn event_hash(event: &Value, context: &HashContext) -> Result<String, HashError> {
    Ok(hash_of_pre_hash(&pre_hash(event, context)?))
}

/// The event hash of a pre-hash string.
pub fn hash_of_pre_hash(pre_hash: &str) -> String {
    let digest = Sha256::digest(pre_hash.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    format!("ni:///sha-256;{hex}?ver=CBV2.0")
}

// ---------------------------------------------------------------------------------------
// Bare words: JSON-LD expansion of the CBV / GS1 vocabulary, and the reference's heuristic.

/// What the reference implementation takes for a CBV IRI: starting so (without the slash).
const REFERENCE_CBV: &str = "https://ref.gs1.org/cbv";

/// A compact IRI with the EPCIS context's `cbv:` or `gs1:` prefix, expanded.
fn expand_curie(s: &str) -> Option<String> {
    if let Some(rest) = s.strip_prefix("cbv:") {
        Some(format!("{CBV_NAMESPACE}{rest}"))
    } else {
        s.strip_prefix("gs1:")
            .map(|rest| format!("{GS1_NAMESPACE}{rest}"))
    }
}

/// Collects the CBV and GS1 vocabulary IRIs among the values of `value` as JSON-LD
/// expansion gives them (bare words of vocabulary fields, `cbv:`/`gs1:` compact IRIs, full
/// IRIs): the candidates of the reference implementation's bare-word replacement.
fn expanded_values(value: &Value, key: Option<(Option<&str>, &str)>, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            let vocab = key.and_then(|(parent, k)| vocab::for_field(parent, k));
            let expanded = vocab
                .and_then(|v| v.expand(s))
                .or_else(|| expand_curie(s))
                .unwrap_or_else(|| s.clone());
            if expanded.starts_with(REFERENCE_CBV) || expanded.starts_with(GS1_NAMESPACE) {
                out.insert(expanded);
            }
        }
        Value::Array(items) => {
            for item in items {
                expanded_values(item, key, out);
            }
        }
        Value::Object(map) => {
            let parent = key.map(|(_, k)| k);
            for (k, v) in map {
                if k == "@context" {
                    continue;
                }
                expanded_values(v, Some((parent, k)), out);
            }
        }
        _ => {}
    }
}

/// The reference's heuristic: a string value becomes the one vocabulary IRI that ends with
/// `-value` or `/value`, if there is exactly one.
fn replace_bare_words(value: &Value, vocabulary: &BTreeSet<String>) -> Value {
    match value {
        Value::String(s) => {
            let dash = format!("-{s}");
            let slash = format!("/{s}");
            let mut matches = vocabulary
                .iter()
                .filter(|x| x.ends_with(&dash) || x.ends_with(&slash));
            match (matches.next(), matches.next()) {
                (Some(only), None) => Value::String(only.clone()),
                _ => value.clone(),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| replace_bare_words(i, vocabulary))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), replace_bare_words(v, vocabulary)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------
// The event as a tree of (name, text, children), as the reference's XML-like model has it.

/// A node of the JSON converted to the reference's model, before structure correction;
/// ordered as Python orders its tuples.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Raw {
    name: String,
    text: String,
    children: Vec<Raw>,
    /// Field names of the JSON object it came from, when it holds a business transaction,
    /// source or destination (their `type` and identifier pair up).
    pair_keys: bool,
    /// An item of a JSON array. Only those make a `…List` field a list whose items are
    /// named after it (`epcList` → `epc`): a user extension `ex:wasteList` read from XML
    /// is an object holding its items by their own names (`ex:wasteElement`), which the
    /// reference hashes as such from the XML (its JSON reading renames whatever it finds
    /// under a `…List` key, so the same extension read from JSON would hash otherwise).
    listed: bool,
}

impl Raw {
    fn leaf(text: String) -> Raw {
        Raw {
            name: String::new(),
            text,
            children: Vec::new(),
            pair_keys: false,
            listed: false,
        }
    }
}

/// Python's `str()` of a JSON number, as the reference's JSON parser gives it.
fn number_text(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        n.to_string()
    } else {
        python_float_repr(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Python's `repr` of a float (shortest round trip; scientific below 1e-4 and from 1e16).
fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{x}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

fn to_raw(value: &Value, context: &HashContext, ignore: &[String]) -> Raw {
    match value {
        Value::Array(items) => {
            let mut children: Vec<Raw> = items.iter().map(|i| to_raw(i, context, &[])).collect();
            children.sort();
            Raw {
                children,
                ..Raw::leaf(String::new())
            }
        }
        Value::Object(map) => {
            let mut node = Raw::leaf(String::new());
            if let Some(t) = map.get("type") {
                node.name = scalar_text(t, context);
            }
            if let Some(t) = map.get("#text") {
                node.text = scalar_text(t, context);
            }
            for (key, val) in map {
                if ["#text", "rdfs:comment", "comment"].contains(&key.as_str())
                    || ignore.iter().any(|i| i == key)
                    || key.starts_with("@xmlns")
                {
                    continue;
                }
                let child = to_raw(val, context, &[]);
                let key = context.key_name(key);
                if val.is_array() {
                    for element in child.children {
                        node.children.push(Raw {
                            name: key.clone(),
                            listed: true,
                            ..element
                        });
                    }
                } else {
                    node.children.push(Raw { name: key, ..child });
                }
            }
            node.pair_keys = ["bizTransaction", "source", "destination"]
                .iter()
                .any(|k| map.contains_key(*k));
            if !node.pair_keys {
                node.children.sort();
            }
            node
        }
        scalar => Raw::leaf(scalar_text(scalar, context)),
    }
}

fn scalar_text(value: &Value, context: &HashContext) -> String {
    match value {
        Value::String(s) => context.value_text(s),
        Value::Number(n) => number_text(n),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        // An object or array where text is expected: the reference would fail; keep JSON.
        other => other.to_string(),
    }
}

/// A node after structure correction; a business transaction, source or destination is a
/// pair of nodes (type, identifier).
#[derive(Debug, Clone)]
enum Item {
    Node(Node),
    Pair(Vec<Node>),
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    text: String,
    children: Vec<Item>,
}

const PAIR_LISTS: [(&str, &str); 3] = [
    ("bizTransactionList", "bizTransaction"),
    ("sourceList", "source"),
    ("destinationList", "destination"),
];

fn plain(raw: Raw) -> Node {
    Node {
        name: raw.name,
        text: raw.text,
        children: raw
            .children
            .into_iter()
            .map(|c| Item::Node(plain(c)))
            .collect(),
    }
}

/// The reference's `deep_structure_correction`: JSON's `xxxList: [...]` to XML's
/// `xxxList` of `xxx` elements, `childEPCs`, `inputEPC`, quantity elements.
fn correct(raw: Raw) -> Node {
    let (lists, rest) = split_lists(raw.children);
    let mut children: Vec<Item> = Vec::new();
    let mut child_epcs = Vec::new();
    for child in rest {
        if child.name == "childEPCs" {
            child_epcs.push(Item::Node(Node {
                name: "epc".into(),
                text: child.text,
                children: Vec::new(),
            }));
        } else {
            children.push(Item::Node(correct(child)));
        }
    }
    for (list_name, elements) in lists {
        children.push(Item::Node(list_node(list_name, elements)));
    }
    if !child_epcs.is_empty() {
        children.push(Item::Node(Node {
            name: "childEPCs".into(),
            text: String::new(),
            children: child_epcs,
        }));
    }
    let name = match raw.name.as_str() {
        "inputEPC" | "outputEPC" => "epc".to_string(),
        "inputQuantity" | "outputQuantity" | "childQuantity" => "quantityElement".to_string(),
        "quantity" if !children.is_empty() => "quantityElement".to_string(),
        _ => raw.name,
    };
    Node {
        name,
        text: raw.text,
        children,
    }
}

/// The `xxxList` children, grouped by list in order of first appearance, each item renamed
/// `xxx`; and the other children.
fn split_lists(children: Vec<Raw>) -> (Vec<(String, Vec<Raw>)>, Vec<Raw>) {
    let mut lists: Vec<(String, Vec<Raw>)> = Vec::new();
    let mut rest = Vec::new();
    for child in children {
        if child.listed && child.name.ends_with("List") {
            let element = Raw {
                name: child.name[..child.name.len() - 4].to_string(),
                ..child.clone()
            };
            match lists.iter_mut().find(|(n, _)| *n == child.name) {
                Some((_, elements)) => elements.push(element),
                None => lists.push((child.name, vec![element])),
            }
        } else {
            rest.push(child);
        }
    }
    (lists, rest)
}

/// A list's node: pairs (type, identifier) for business transactions, sources and
/// destinations, else its corrected elements.
fn list_node(list_name: String, elements: Vec<Raw>) -> Node {
    let children = if let Some((_, id_key)) = PAIR_LISTS.iter().find(|(l, _)| *l == list_name) {
        // CBV 2.0: the type, then the identifier (the reference keeps the JSON order).
        elements
            .into_iter()
            .map(|e| {
                let pick = |name: &str| {
                    e.children
                        .iter()
                        .find(|c| c.name == name)
                        .cloned()
                        .map(plain)
                };
                Item::Pair(pick("type").into_iter().chain(pick(id_key)).collect())
            })
            .collect()
    } else {
        elements
            .into_iter()
            .map(|e| Item::Node(correct(e)))
            .collect()
    };
    Node {
        name: list_name,
        text: String::new(),
        children,
    }
}

// ---------------------------------------------------------------------------------------
// The pre-hash string.

/// One field of the canonical order, with the order of its children.
struct Field {
    name: &'static str,
    children: &'static [Field],
}

const fn f(name: &'static str) -> Field {
    Field {
        name,
        children: &[],
    }
}

const EPC: &[Field] = &[f("epc")];
const QUANTITY: &[Field] = &[Field {
    name: "quantityElement",
    children: &[f("epcClass"), f("quantity"), f("uom")],
}];
const ID: &[Field] = &[f("id")];

/// The canonical order of CBV 2.0 section 8.9.
const PROP_ORDER: &[Field] = &[
    f("eventTime"),
    f("eventTimeZoneOffset"),
    f("certificationInfo"),
    f("parentID"),
    Field {
        name: "epcList",
        children: EPC,
    },
    Field {
        name: "inputEPCList",
        children: EPC,
    },
    Field {
        name: "childEPCs",
        children: EPC,
    },
    Field {
        name: "quantityList",
        children: QUANTITY,
    },
    Field {
        name: "childQuantityList",
        children: QUANTITY,
    },
    Field {
        name: "inputQuantityList",
        children: QUANTITY,
    },
    Field {
        name: "outputEPCList",
        children: EPC,
    },
    Field {
        name: "outputQuantityList",
        children: QUANTITY,
    },
    f("action"),
    f("transformationID"),
    f("bizStep"),
    f("disposition"),
    Field {
        name: "persistentDisposition",
        children: &[f("set"), f("unset")],
    },
    Field {
        name: "readPoint",
        children: ID,
    },
    Field {
        name: "bizLocation",
        children: ID,
    },
    // bizTransactionList, sourceList, destinationList: in the reference's order too, but
    // its pairs never match there, so they come with the rest (sorted); here likewise.
    Field {
        name: "sensorElementList",
        children: &[Field {
            name: "sensorElement",
            children: &[
                Field {
                    name: "sensorMetadata",
                    children: &[
                        f("time"),
                        f("startTime"),
                        f("endTime"),
                        f("deviceID"),
                        f("deviceMetadata"),
                        f("rawData"),
                        f("dataProcessingMethod"),
                        f("bizRules"),
                    ],
                },
                Field {
                    name: "sensorReport",
                    children: &[
                        f("type"),
                        f("exception"),
                        f("deviceID"),
                        f("deviceMetadata"),
                        f("rawData"),
                        f("dataProcessingMethod"),
                        f("time"),
                        f("microorganism"),
                        f("chemicalSubstance"),
                        f("value"),
                        f("component"),
                        f("stringValue"),
                        f("booleanValue"),
                        f("hexBinaryValue"),
                        f("uriValue"),
                        f("minValue"),
                        f("maxValue"),
                        f("meanValue"),
                        f("sDev"),
                        f("percRank"),
                        f("percValue"),
                        f("uom"),
                        f("coordinateReferenceSystem"),
                    ],
                },
            ],
        }],
    },
];

/// User extensions (`{namespace/}name`) of a nested element, taken out to be appended to
/// it; none at the event's own level (nor when the element has one child only).
fn take_user_extensions(children: &mut Vec<Item>) -> Vec<Item> {
    if children.len() <= 1 {
        return Vec::new();
    }
    let top_level = children.iter().any(|c| match c {
        Item::Node(n) => n.name.contains("eventTime") || n.name.contains("action"),
        Item::Pair(_) => false,
    });
    if top_level {
        return Vec::new();
    }
    let (extensions, rest): (Vec<Item>, Vec<Item>) = std::mem::take(children)
        .into_iter()
        .partition(|c| matches!(c, Item::Node(n) if n.name.contains('{') && n.name.contains("/}")));
    *children = rest;
    extensions
}

/// The ordered part: for each field in `order`, the (sorted) strings of the children of
/// that name; consumed children leave `children`, what remains goes to the generic part.
fn ordered_children(children: &mut Vec<Item>, order: &[Field]) -> Result<String, HashError> {
    let extensions = take_user_extensions(children);
    let mut out = String::new();
    for field in order {
        let mut values = Vec::new();
        let mut i = 0;
        while i < children.len() {
            let Item::Node(child) = &mut children[i] else {
                i += 1;
                continue;
            };
            if child.name != field.name {
                i += 1;
                continue;
            }
            let s = child_string(child, field.children)?;
            if !s.is_empty() {
                values.push(s);
            }
            if child.children.is_empty() {
                children.remove(i);
            } else {
                i += 1;
            }
        }
        values.sort();
        out.extend(values);
    }
    if !extensions.is_empty() {
        out.push_str(&generic(&extensions)?);
    }
    Ok(out)
}

fn child_string(child: &mut Node, order: &[Field]) -> Result<String, HashError> {
    let grand = if order.is_empty() {
        String::new()
    } else {
        ordered_children(&mut child.children, order)?
    };
    let mut text = String::new();
    if !child.text.is_empty() {
        let t = child.text.trim();
        let lower = child.name.to_lowercase();
        let t = if lower.contains("time") && !lower.contains("offset") {
            normalise_time(t)
        } else {
            canonical_value(t)?
        };
        if !t.is_empty() {
            text = format!("={t}");
        }
    }
    if text.is_empty() && grand.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("{}{text}{grand}", child.name))
}

/// Everything not in the canonical order: `name=value` followed by its children, sorted
/// (a pair keeps its order: type, then identifier).
fn generic(children: &[Item]) -> Result<String, HashError> {
    let mut values = Vec::new();
    let mut sort = true;
    for child in children {
        match child {
            Item::Pair(nodes) => {
                let items: Vec<Item> = nodes.iter().cloned().map(Item::Node).collect();
                values.push(generic(&items)?);
            }
            Item::Node(n) => {
                if ["bizTransaction", "source", "destination"].contains(&n.name.as_str()) {
                    sort = false;
                }
                let t = n.text.trim();
                let text = if t.is_empty() {
                    String::new()
                } else {
                    format!("={}", canonical_value(t)?)
                };
                values.push(format!("{}{text}{}", n.name, generic(&n.children)?));
            }
        }
    }
    if sort {
        values.sort();
    }
    Ok(values.concat())
}

/// The vocabularies whose EPCIS 1.x URNs the reference implementation turns into web
/// vocabulary IRIs (not components: it leaves `urn:epcglobal:cbv:comp:` as it is).
const URN_VOCABULARIES: [&Vocabulary; 5] = [
    &vocab::BIZ_STEP,
    &vocab::DISPOSITION,
    &vocab::BIZ_TRANSACTION_TYPE,
    &vocab::SOURCE_DEST_TYPE,
    &vocab::ERROR_REASON,
];

/// A value through every canonicalisation: CBV URNs to web vocabulary, numbers, GS1 keys.
fn canonical_value(text: &str) -> Result<String, HashError> {
    let mut text = text.to_string();
    for v in URN_VOCABULARIES {
        if let Some(urn) = v.urn_prefix {
            text = text.replace(urn, v.iri_prefix);
        }
    }
    let text = canonical_number(&text)?;
    Ok(normalise(&text).unwrap_or(text))
}

/// A number without sign, padding or `.0` (Python's `str(float(x))`, an integral value
/// as an integer); anything else unchanged.
fn canonical_number(text: &str) -> Result<String, HashError> {
    let Some(x) = parse_python_float(text) else {
        return Ok(text.to_string());
    };
    if x.is_nan() {
        return Ok(text.to_string());
    }
    if x.is_infinite() {
        return Err(HashError::NotFinite(text.to_string()));
    }
    if x.trunc() == x {
        if x == 0.0 {
            return Ok("0".into());
        }
        return Ok(format!("{x:.0}"));
    }
    Ok(python_float_repr(x))
}

/// What Python's `float(str)` accepts: Rust's syntax plus `_` between digits.
fn parse_python_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Ok(x) = t.parse::<f64>() {
        return Some(x);
    }
    if t.contains('_') {
        let bytes = t.as_bytes();
        let ok = bytes.iter().enumerate().all(|(i, &b)| {
            b != b'_'
                || (i > 0
                    && i + 1 < bytes.len()
                    && bytes[i - 1].is_ascii_digit()
                    && bytes[i + 1].is_ascii_digit())
        });
        if ok {
            return t.replace('_', "").parse().ok();
        }
    }
    None
}

/// A timestamp in UTC at millisecond precision (`2005-04-05T02:33:31.116Z`): the fraction
/// cut to microseconds, then rounded half to even to milliseconds, as the reference does.
/// A value that is no timestamp is left as it is; one without offset is taken as UTC.
fn normalise_time(text: &str) -> String {
    let ts = text.parse::<jiff::Timestamp>().ok().or_else(|| {
        let civil = text.parse::<jiff::civil::DateTime>().ok().or_else(|| {
            text.parse::<jiff::civil::Date>()
                .ok()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })?;
        civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    });
    let Some(ts) = ts else {
        return text.to_string();
    };
    let civil = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let micros = civil.subsec_nanosecond() / 1000;
    let (mut ms, rem) = (micros / 1000, micros % 1000);
    if rem > 500 || (rem == 500 && ms % 2 == 1) {
        ms += 1;
    }
    let Ok(mut whole) = civil.with().subsec_nanosecond(0).build() else {
        return text.to_string();
    };
    if ms == 1000 {
        // The reference fails here (Python's datetime refuses 1 000 000 µs); the next
        // second is what rounding means.
        ms = 0;
        whole = match whole.checked_add(jiff::SignedDuration::from_secs(1)) {
            Ok(w) => w,
            Err(_) => return text.to_string(),
        };
    }
    let civil = whole;
    format!("{}.{ms:03}Z", civil.strftime("%Y-%m-%dT%H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(
            normalise_time("2022-02-16T20:33:31.116000-06:00"),
            "2022-02-17T02:33:31.116Z"
        );
        assert_eq!(
            normalise_time("2023-02-02T11:04:03.1415Z"),
            "2023-02-02T11:04:03.142Z"
        );
        assert_eq!(
            normalise_time("2023-02-02T11:04:03.1425Z"),
            "2023-02-02T11:04:03.142Z"
        );
        assert_eq!(
            normalise_time("2023-02-02T11:04:59.9996Z"),
            "2023-02-02T11:05:00.000Z"
        );
        assert_eq!(
            normalise_time("1969-12-31T23:59:59.5Z"),
            "1969-12-31T23:59:59.500Z"
        );
        assert_eq!(normalise_time("not a time"), "not a time");
    }

    #[test]
    fn numbers() {
        assert_eq!(canonical_number("+0012.50").unwrap(), "12.5");
        assert_eq!(canonical_number("1E3").unwrap(), "1000");
        assert_eq!(canonical_number("-0").unwrap(), "0");
        assert_eq!(canonical_number("0.00001").unwrap(), "1e-05");
        assert_eq!(canonical_number("2023-10-09").unwrap(), "2023-10-09");
        assert!(canonical_number("inf").is_err());
    }

    #[test]
    fn hash_format() {
        assert_eq!(
            hash_of_pre_hash(""),
            "ni:///sha-256;e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855?ver=CBV2.0"
        );
    }
}
