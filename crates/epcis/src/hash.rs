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
use bounds::{Budget, Expansions};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

mod bounds;

/// The longest pre-hash computed, in bytes (as long as [`crate::xml::MAX_XML_BYTES`]).
/// A pre-hash is about as long as the event's JSON, but the canonical form multiplies some
/// repetitions: a key (or the namespace IRI its prefix stands for) is written again for
/// every item of a list, a value that is a `prefix:` or a bare vocabulary word is written
/// as the whole IRI, `1e308` as its 309 digits. Without a bound, a few kilobytes of event
/// asked for gigabytes; the budget is taken as the canonical form is built, so a refused
/// event costs no more than the budget.
pub const MAX_PRE_HASH_BYTES: usize = 16 * 1024 * 1024;

/// The deepest nesting of an event's JSON hashed (arrays and objects, the event itself
/// being level 1). The hash's passes recurse once per level: serde_json's own limit (128
/// for the whole document) and the XML reader's (`MAX_XML_DEPTH`, 64) keep what they parse
/// below it, but a `Value` built otherwise is checked here, before any recursion.
pub const MAX_EVENT_DEPTH: usize = 128;

/// The most JSON values (strings, numbers, …, arrays and objects) one event may hold: the
/// canonical tree costs some two hundred bytes of memory per value, whatever the value's
/// own size (a value `0,` is two bytes of JSON). A million is thirty times the most codes
/// one registry document may name.
pub const MAX_EVENT_VALUES: usize = 1_000_000;

/// The longest value quoted in full in a [`HashError`].
const QUOTED_LEN_MAX: usize = 120;

/// Why an event has no hash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// The event is not a JSON object.
    #[error("an EPCIS event must be a JSON object")]
    NotAnObject,
    /// The event has no string `type` (ObjectEvent, AggregationEvent, …).
    #[error("the event has no type")]
    NoType,
    /// A numeric value is out of range (the reference implementation fails on it too);
    /// the value is cut at 120 characters (followed by `…`).
    #[error("the value {0:?} is not a finite number")]
    NotFinite(String),
    /// The event's pre-hash would be longer than [`MAX_PRE_HASH_BYTES`].
    #[error(
        "the event's canonical form would be longer than {max} bytes (MAX_PRE_HASH_BYTES): \
         a long name or namespace repeated for every item of a list?"
    )]
    TooLarge {
        /// [`MAX_PRE_HASH_BYTES`].
        max: usize,
    },
    /// The event nests arrays and objects deeper than [`MAX_EVENT_DEPTH`].
    #[error("the event nests deeper than {max} levels (MAX_EVENT_DEPTH)")]
    TooDeep {
        /// [`MAX_EVENT_DEPTH`].
        max: usize,
    },
    /// The event holds more than [`MAX_EVENT_VALUES`] JSON values.
    #[error("the event holds more than {max} JSON values (MAX_EVENT_VALUES)")]
    TooManyValues {
        /// [`MAX_EVENT_VALUES`].
        max: usize,
    },
}

/// What the pre-hash of an event needs from the document it comes in.
///
/// Build it with [`HashContext::from_document`] (everything) or [`HashContext::new`] (the
/// `@context` only). The default is an empty context: no extension namespace prefixes.
#[derive(Debug, Clone, Default)]
pub struct HashContext {
    /// Prefix → namespace IRI, from the `@context` (the last definition of a prefix).
    namespaces: HashMap<String, String>,
    /// The first prefix the `@context` defines as [`IGNORE_FIELDS_NAMESPACE`].
    ignore_prefix: Option<String>,
    /// Top-level event fields left out of the hash (the reference's `ignoreFields`).
    ignore_fields: HashSet<String>,
    /// Expanded CBV / GS1 vocabulary IRIs found in the document (see [`expanded_values`]).
    vocabulary: Expansions,
}

/// The reference implementation's "internal domain" whose `ignoreFields` it honours.
const IGNORE_FIELDS_NAMESPACE: &str = "https://repository-x.example.com/";

/// A prefix's definition while an `@context` is read.
struct Definition {
    iri: String,
    /// When the first of its definitions still in force as [`IGNORE_FIELDS_NAMESPACE`]
    /// was read (the reference keeps a list in which a prefix's object definition
    /// replaces the ones before it and a string item is appended).
    ignore_since: Option<usize>,
}

impl HashContext {
    /// A context from a JSON-LD `@context` value: every prefix an object in it defines
    /// (`{"example": "https://ns.example.com/epcis/"}`) names an extension namespace.
    pub fn new(context: &Value) -> HashContext {
        let mut definitions: HashMap<String, Definition> = HashMap::new();
        let items = match context {
            Value::Array(items) => items.as_slice(),
            _ => &[],
        };
        let mut order = 0usize;
        let mut define = |prefix: &String, iri: &String, replace: bool| {
            order += 1;
            let ignored = (iri == IGNORE_FIELDS_NAMESPACE).then_some(order);
            let entry = definitions.entry(prefix.clone()).or_insert(Definition {
                iri: String::new(),
                ignore_since: None,
            });
            entry.iri = iri.clone();
            entry.ignore_since = if replace {
                ignored
            } else {
                entry.ignore_since.or(ignored)
            };
        };
        for item in items {
            match item {
                Value::String(s) => define(s, s, false),
                Value::Object(map) => {
                    for (prefix, iri) in map {
                        if let Value::String(iri) = iri {
                            define(prefix, iri, true);
                        }
                    }
                }
                _ => {}
            }
        }
        let ignore_prefix = definitions
            .iter()
            .filter_map(|(p, d)| d.ignore_since.map(|at| (at, p)))
            .min()
            .map(|(_, p)| p.clone());
        HashContext {
            namespaces: definitions.into_iter().map(|(p, d)| (p, d.iri)).collect(),
            ignore_prefix,
            ..HashContext::default()
        }
    }

    /// A context from a whole EPCIS (query) document: its `@context` and the CBV and GS1
    /// vocabulary IRIs its values expand to (the reference implementation expands a bare
    /// word when exactly one of the document's expanded values ends with it).
    ///
    /// The document's `<prefix>:ignoreFields` is not honoured: what a capture names there
    /// would leave any field, `epcList` included, out of its events' hashes, and the hash
    /// is to be a function of the event. [`HashContext::with_document_ignore_fields`] adds
    /// it where the document is trusted (the reference implementation's vectors).
    pub fn from_document(document: &Value) -> HashContext {
        let mut context = HashContext::new(document.get("@context").unwrap_or(&Value::Null));
        let mut vocabulary = BTreeSet::new();
        expanded_values(document, None, &mut vocabulary, 0);
        context.vocabulary = Expansions::from_set(vocabulary);
        context
    }

    /// Leaves out of the hash the fields the document asks to leave out, as the reference
    /// implementation does: `<prefix>:ignoreFields`, the prefix being the first the
    /// `@context` gives `https://repository-x.example.com/`, an array of field names or an
    /// object whose keys they are (as the XML form reads), in the document or, in a query
    /// document without `eventList`, in its `queryResults`. Never for a capture: whoever
    /// sends the document would choose what its events' hashes bind.
    pub fn with_document_ignore_fields(mut self, document: &Value) -> HashContext {
        let Some(prefix) = &self.ignore_prefix else {
            return self;
        };
        let key = format!("{prefix}:ignoreFields");
        let holder = match document.pointer("/epcisBody/queryResults") {
            Some(results) if document.pointer("/epcisBody/eventList").is_none() => results,
            _ => document,
        };
        self.ignore_fields = match holder.get(&key) {
            Some(Value::Array(fields)) => fields
                .iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect(),
            // A document read from XML (`crate::xml`) names them by empty elements.
            Some(Value::Object(fields)) => fields.keys().cloned().collect(),
            _ => HashSet::new(),
        };
        self
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
        self.namespaces.get(prefix).map(|iri| (iri.as_str(), rest))
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
///
/// Refused before any other work: an event nested deeper than [`MAX_EVENT_DEPTH`] or
/// holding more than [`MAX_EVENT_VALUES`] values; and, as it is built, one whose canonical
/// form would be longer than [`MAX_PRE_HASH_BYTES`].
pub fn pre_hash(event: &Value, context: &HashContext) -> Result<String, HashError> {
    let Value::Object(map) = event else {
        return Err(HashError::NotAnObject);
    };
    let Some(event_type) = map.get("type").and_then(Value::as_str) else {
        return Err(HashError::NoType);
    };
    bounds::check_shape(event)?;
    let mut own = BTreeSet::new();
    expanded_values(event, None, &mut own, 0);
    own.retain(|iri| !context.vocabulary.contains(iri));
    let mut canon = Canon {
        context,
        own: Expansions::from_set(own),
        budget: Budget::new(),
    };
    let raw = canon.raw(event, Some(&context.ignore_fields))?;
    let mut tree = correct(raw);
    let mut budget = Budget::new();
    budget.take(event_type.len())?;
    let ordered = ordered_children(&mut tree.children, PROP_ORDER, &mut budget)?;
    let rest: Vec<Item> =
        tree.children
            .into_iter()
            .filter(|c| match c {
                Item::Node(n) => !["recordTime", "eventID", "type", "errorDeclaration"]
                    .contains(&n.name.as_str()),
                Item::Pair(..) => true,
            })
            .collect();
    let rest = generic(&rest, &mut budget)?;
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

/// The Digital Link resolver a canonical identifier names.
const CANONICAL_DOMAIN: &str = "https://id.gs1.org";

/// An object identifier as one string whichever way it is written: a GS1 key's URI (an EPC
/// URI, an EPC class or pattern URI, a GS1 Digital Link URI on any domain) as its
/// constrained canonical Digital Link URI (`https://id.gs1.org/01/…/21/…`, the finest level
/// only), as the event hash writes it; anything else as written.
///
/// A Digital Link URI is read on `id.gs1.org` whatever its host: the hash's normaliser (the
/// reference implementation's patterns) leaves a host it takes for the canonical one
/// (`id.gs1.org` with each `.` read as any character: `https://id-gs1-org/01/…`) and one
/// without a `.` (`https://localhost/01/…`) as they are, and either would otherwise be a
/// second name for the code. A URI that is not ASCII is left as written (no GS1 key's URI
/// has anything else; the normaliser would misread it).
pub fn canonical_identifier(uri: &str) -> String {
    // The normaliser's `\d` matches any script's digits and it slices by bytes: what is not
    // ASCII would come out as some other code's name, so it is left as written.
    if !uri.is_ascii() {
        return uri.to_string();
    }
    let web_path = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .and_then(|rest| rest.find('/').map(|at| &rest[at..]));
    let on_resolver = web_path.map(|path| format!("{CANONICAL_DOMAIN}{path}"));
    normalise(on_resolver.as_deref().unwrap_or(uri)).unwrap_or_else(|| uri.to_string())
}

// ---------------------------------------------------------------------------------------
// Bare words: JSON-LD expansion of the CBV / GS1 vocabulary, and the reference's heuristic.

/// What the reference implementation takes for a CBV IRI: starting so (without the slash).
const REFERENCE_CBV: &str = "https://ref.gs1.org/cbv";

/// How deep [`expanded_values`] looks into a document: an event's limit and the
/// document's levels above its events.
const DOCUMENT_DEPTH_MAX: usize = MAX_EVENT_DEPTH + 8;

/// A compact IRI with the EPCIS context's `cbv:` or `gs1:` prefix, expanded.
fn expand_curie(s: &str) -> Option<String> {
    if let Some(rest) = s.strip_prefix("cbv:") {
        Some(format!("{CBV_NAMESPACE}{rest}"))
    } else {
        s.strip_prefix("gs1:")
            .map(|rest| format!("{GS1_NAMESPACE}{rest}"))
    }
}

/// Whether the reference takes `iri` for a CBV or GS1 vocabulary IRI.
fn is_vocabulary_iri(iri: &str) -> bool {
    iri.starts_with(REFERENCE_CBV) || iri.starts_with(GS1_NAMESPACE)
}

/// Collects the CBV and GS1 vocabulary IRIs among the values of `value` as JSON-LD
/// expansion gives them (bare words of vocabulary fields, `cbv:`/`gs1:` compact IRIs, full
/// IRIs): the candidates of the reference implementation's bare-word replacement. Nothing
/// below [`DOCUMENT_DEPTH_MAX`] (an event that deep is refused by [`pre_hash`]).
fn expanded_values(
    value: &Value,
    key: Option<(Option<&str>, &str)>,
    out: &mut BTreeSet<String>,
    depth: usize,
) {
    match value {
        Value::String(s) => {
            let vocab = key.and_then(|(parent, k)| vocab::for_field(parent, k));
            match vocab.and_then(|v| v.expand(s)).or_else(|| expand_curie(s)) {
                Some(expanded) if is_vocabulary_iri(&expanded) => {
                    out.insert(expanded);
                }
                Some(_) => {}
                None if is_vocabulary_iri(s) => {
                    out.insert(s.clone());
                }
                None => {}
            }
        }
        _ if depth >= DOCUMENT_DEPTH_MAX => {}
        Value::Array(items) => {
            for item in items {
                expanded_values(item, key, out, depth + 1);
            }
        }
        Value::Object(map) => {
            let parent = key.map(|(_, k)| k);
            for (k, v) in map {
                if k == "@context" {
                    continue;
                }
                expanded_values(v, Some((parent, k)), out, depth + 1);
            }
        }
        _ => {}
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

/// Turns one event into the reference's tree: what it needs of the document, the vocabulary
/// IRIs of the event's own values the document lacks, and the [`MAX_PRE_HASH_BYTES`] left.
struct Canon<'c> {
    context: &'c HashContext,
    /// The event's own vocabulary IRIs that are not the document's.
    own: Expansions,
    budget: Budget,
}

impl Canon<'_> {
    /// The reference's heuristic (its `replace_bare_words`): a string value becomes the one
    /// vocabulary IRI that ends with `-value` or `/value`, if there is exactly one.
    fn bare_word<'s>(&'s self, value: &'s str) -> &'s str {
        let mut found = None;
        let mut count = 0;
        for index in [&self.context.vocabulary, &self.own] {
            for separator in [b'-', b'/'] {
                let matches = index.ending_with(separator, value);
                count += matches.len();
                found = found.or(matches.first());
            }
        }
        match found {
            Some(only) if count == 1 => only,
            _ => value,
        }
    }

    /// The tree of `value` (an event when `ignore` is given: its top-level fields named
    /// there are left out).
    fn raw(&mut self, value: &Value, ignore: Option<&HashSet<String>>) -> Result<Raw, HashError> {
        match value {
            Value::Array(items) => {
                let mut children = items
                    .iter()
                    .map(|i| self.raw(i, None))
                    .collect::<Result<Vec<Raw>, HashError>>()?;
                children.sort();
                Ok(Raw {
                    children,
                    ..Raw::leaf(String::new())
                })
            }
            Value::Object(map) => self.object(map, ignore),
            scalar => Ok(Raw::leaf(self.scalar_text(scalar)?)),
        }
    }

    fn object(
        &mut self,
        map: &Map<String, Value>,
        ignore: Option<&HashSet<String>>,
    ) -> Result<Raw, HashError> {
        let mut node = Raw::leaf(String::new());
        if let Some(t) = map.get("type") {
            node.name = self.scalar_text(t)?;
        }
        if let Some(t) = map.get("#text") {
            node.text = self.scalar_text(t)?;
        }
        for (key, val) in map {
            if ["#text", "rdfs:comment", "comment"].contains(&key.as_str())
                || ignore.is_some_and(|i| i.contains(key))
                || key.starts_with("@xmlns")
            {
                continue;
            }
            let child = self.raw(val, None)?;
            let key = self.context.key_name(key);
            if val.is_array() {
                for element in child.children {
                    self.budget.take(key.len())?;
                    node.children.push(Raw {
                        name: key.clone(),
                        listed: true,
                        ..element
                    });
                }
            } else {
                self.budget.take(key.len())?;
                node.children.push(Raw { name: key, ..child });
            }
        }
        node.pair_keys = ["bizTransaction", "source", "destination"]
            .iter()
            .any(|k| map.contains_key(*k));
        if !node.pair_keys {
            node.children.sort();
        }
        Ok(node)
    }

    fn scalar_text(&mut self, value: &Value) -> Result<String, HashError> {
        let text = match value {
            Value::String(s) => self.context.value_text(self.bare_word(s)),
            Value::Number(n) => number_text(n),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Null => "None".into(),
            // An object or array where text is expected: the reference would fail; keep
            // JSON (its bare words replaced, as the reference replaces them first).
            other => self.replaced(other)?.to_string(),
        };
        self.budget.take(text.len())?;
        Ok(text)
    }

    /// `value` with its bare words replaced ([`Canon::bare_word`]).
    fn replaced(&mut self, value: &Value) -> Result<Value, HashError> {
        Ok(match value {
            Value::String(s) => {
                let word = self.bare_word(s).to_string();
                self.budget.take(word.len())?;
                Value::String(word)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.replaced(i))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.replaced(v)?)))
                    .collect::<Result<Map<String, Value>, HashError>>()?,
            ),
            other => other.clone(),
        })
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
    // List name → its place in `lists` (an object may have as many lists as fields).
    let mut places: HashMap<String, usize> = HashMap::new();
    let mut rest = Vec::new();
    for mut child in children {
        let Some(item) = child.name.strip_suffix("List").filter(|_| child.listed) else {
            rest.push(child);
            continue;
        };
        let item = item.to_string();
        let list_name = std::mem::replace(&mut child.name, item);
        match places.get(&list_name) {
            Some(&at) => lists[at].1.push(child),
            None => {
                places.insert(list_name.clone(), lists.len());
                lists.push((list_name, vec![child]));
            }
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
/// One pass over the children (one per field, or removing each consumed child from the
/// list, cost the square of an `epcList`'s length).
fn ordered_children(
    children: &mut Vec<Item>,
    order: &[Field],
    budget: &mut Budget,
) -> Result<String, HashError> {
    let extensions = take_user_extensions(children);
    let mut values: Vec<Vec<String>> = order.iter().map(|_| Vec::new()).collect();
    let mut kept = Vec::with_capacity(children.len());
    for mut item in std::mem::take(children) {
        if let Item::Node(child) = &mut item {
            if let Some(at) = order.iter().position(|f| f.name == child.name) {
                let s = child_string(child, order[at].children, budget)?;
                if !s.is_empty() {
                    values[at].push(s);
                }
                if child.children.is_empty() {
                    continue;
                }
            }
        }
        kept.push(item);
    }
    *children = kept;
    let mut out = String::new();
    for mut field_values in values {
        field_values.sort();
        out.extend(field_values);
    }
    if !extensions.is_empty() {
        out.push_str(&generic(&extensions, budget)?);
    }
    Ok(out)
}

fn child_string(
    child: &mut Node,
    order: &[Field],
    budget: &mut Budget,
) -> Result<String, HashError> {
    let grand = if order.is_empty() {
        String::new()
    } else {
        ordered_children(&mut child.children, order, budget)?
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
    budget.take(child.name.len() + text.len())?;
    Ok(format!("{}{text}{grand}", child.name))
}

/// Whether a node is a business transaction's, source's or destination's identifier: the
/// children it is among keep their order.
fn is_pair_identifier(node: &Node) -> bool {
    ["bizTransaction", "source", "destination"].contains(&node.name.as_str())
}

/// Everything not in the canonical order: `name=value` followed by its children, sorted
/// (a pair keeps its order: type, then identifier).
fn generic(children: &[Item], budget: &mut Budget) -> Result<String, HashError> {
    let mut values = Vec::new();
    let mut sort = true;
    for child in children {
        match child {
            Item::Pair(nodes) => {
                let mut pair = nodes
                    .iter()
                    .map(|n| node_string(n, budget))
                    .collect::<Result<Vec<String>, HashError>>()?;
                if !nodes.iter().any(is_pair_identifier) {
                    pair.sort();
                }
                values.push(pair.concat());
            }
            Item::Node(n) => {
                sort &= !is_pair_identifier(n);
                values.push(node_string(n, budget)?);
            }
        }
    }
    if sort {
        values.sort();
    }
    Ok(values.concat())
}

/// One node of the generic part: `name=value`, then its children.
fn node_string(n: &Node, budget: &mut Budget) -> Result<String, HashError> {
    let t = n.text.trim();
    let text = if t.is_empty() {
        String::new()
    } else {
        format!("={}", canonical_value(t)?)
    };
    budget.take(n.name.len() + text.len())?;
    Ok(format!("{}{text}{}", n.name, generic(&n.children, budget)?))
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
        return Err(HashError::NotFinite(quoted(text)));
    }
    if x.trunc() == x {
        if x == 0.0 {
            return Ok("0".into());
        }
        return Ok(integer_digits(x));
    }
    Ok(python_float_repr(x))
}

/// The largest integer below which every integral `f64` is formatted by `{:.0}` quickly.
const EXACT_SMALL: f64 = 9_007_199_254_740_992.0; // 2^53

/// The exact decimal digits of an integral `x` (Python's `str(int(x))`): as `{:.0}` writes
/// them, but without its cost for large values (`1e308`'s 309 digits took 17 µs each, so
/// an event of such numbers cost some 2 s of CPU per megabyte).
fn integer_digits(x: f64) -> String {
    if x.abs() < EXACT_SMALL {
        return format!("{x:.0}");
    }
    // x = mantissa × 2^exponent, exponent ≥ 0 for an integral value at least 2^53.
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    const BASE: u64 = 1_000_000_000;
    // Base 10^9 digits, least significant first.
    let mut limbs: Vec<u64> = vec![
        mantissa % BASE,
        mantissa / BASE % BASE,
        mantissa / BASE / BASE,
    ];
    let mut left = exponent.max(0);
    while left > 0 {
        let shift = left.min(30);
        left -= shift;
        let mut carry = 0u64;
        for limb in &mut limbs {
            let v = (*limb << shift) + carry;
            *limb = v % BASE;
            carry = v / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut out = String::from(if x < 0.0 { "-" } else { "" });
    let mut limbs = limbs.iter().rev();
    if let Some(top) = limbs.next() {
        let _ = write!(out, "{top}");
    }
    for limb in limbs {
        let _ = write!(out, "{limb:09}");
    }
    out
}

/// `text` as a [`HashError`] quotes it: cut at [`QUOTED_LEN_MAX`] characters.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_LEN_MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
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
    fn large_integers_are_exact() {
        let mut x = EXACT_SMALL / 4.0;
        while x.is_finite() {
            for v in [x, x + 2.0, x * 3.0, -x, x * 1.000_000_1] {
                let v = v.trunc();
                if v.is_finite() {
                    assert_eq!(integer_digits(v), format!("{v:.0}"));
                }
            }
            x *= 1.7;
        }
        assert_eq!(integer_digits(f64::MAX), format!("{:.0}", f64::MAX));
        assert_eq!(canonical_number("1e308").unwrap(), format!("{:.0}", 1e308));
    }

    #[test]
    fn identifiers_one_way() {
        let code = "https://id.gs1.org/01/10614141073464/21/2017";
        for written in [
            "urn:epc:id:sgtin:0614141.107346.2017",
            "https://id.gs1.org/01/10614141073464/21/2017",
            "https://example.com/01/10614141073464/21/2017",
            "http://id.gs1.org/01/10614141073464/21/2017",
            "https://ID.GS1.ORG/01/10614141073464/21/2017",
            "https://id.gs1.org/gtin/10614141073464/ser/2017",
            "https://id.gs1.org/01/10614141073464/10/LOT/21/2017",
            "https://id.gs1.org/01/10614141073464/21/2017?17=271231",
            "https://id-gs1-org/01/10614141073464/21/2017",
            "https://localhost/01/10614141073464/21/2017",
            "https://user@example.com:8443/a/b/01/10614141073464/21/2017",
        ] {
            assert_eq!(canonical_identifier(written), code, "{written}");
        }
        assert_eq!(canonical_identifier("urn:x:1"), "urn:x:1");
        // Another script's digit is no digit of a GS1 key.
        let arabic = "urn:epc:id:sgtin:0614141.10٣346.2017";
        assert_eq!(canonical_identifier(arabic), arabic);
    }

    #[test]
    fn hash_format() {
        assert_eq!(
            hash_of_pre_hash(""),
            "ni:///sha-256;e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855?ver=CBV2.0"
        );
    }
}
