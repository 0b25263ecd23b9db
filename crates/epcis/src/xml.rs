//! EPCIS XML capture: an EPCIS 2.0 XML document read as the EPCIS 2.0 JSON-LD document it
//! is ([`document_from_xml`]), so that XML and JSON captures go through the same schema,
//! canonical event and event hash.
//!
//! The mapping is the standard's (EPCIS 2.0 section 12 and GS1's JSON examples beside the
//! XML ones):
//!
//! - an event element becomes an object whose `type` is the element's name; its fields keep
//!   their names; lists lose their item wrappers (`<epcList><epc>…` → `"epcList": […]`,
//!   `quantityList`, `bizTransactionList`, `sourceList`, `destinationList`,
//!   `sensorElementList`, `correctiveEventIDs`); `readPoint` and `bizLocation` are objects
//!   with their `id`; a business transaction, source or destination is an object with its
//!   `type` and its identifier under the list item's name;
//! - the `extension` and `baseExtension` wrappers (EPCIS 1.x put `quantityList`, `ilmd`,
//!   `eventID`, `errorDeclaration` … in them; EPCIS 2.0 user extensions too) are flattened:
//!   their fields are the event's own;
//! - a CBV value in any of its forms (`urn:epcglobal:cbv:bizstep:shipping`,
//!   `https://ref.gs1.org/cbv/BizStep-shipping`, `cbv:BizStep-shipping`; a sensor report's
//!   `gs1:Temperature`) is written as JSON writes it, the bare word (`shipping`); a value of
//!   one's own stays a URI (a `cbv:` or `gs1:` compact one expanded, as GS1's JSON-LD
//!   context and the reference event hash read it);
//! - numbers are numbers where GS1's XSD types them so (`quantity`, a sensor report's
//!   `value`, `minValue`, `maxValue`, `meanValue`, `sDev`, `percRank`, `percValue`), and
//!   `booleanValue` a boolean; everything else (times, offsets, user extensions, whatever
//!   their `xsi:type`) is a string as written, trimmed;
//! - a sensor element's `sensorMetadata` is an object of its attributes and its
//!   `sensorReport`s an array of objects of theirs;
//! - an element or attribute in another namespace (a user extension) becomes a key
//!   `prefix:name`, the prefix declared in the produced `@context` beside GS1's context (the
//!   document's own prefix where it is free, numbered where two namespaces share one); its
//!   value is its text, or an object of its attributes and child elements (a repeated
//!   child an array), with `#text` only when an element has both text and attributes;
//!   unqualified elements inside a user extension keep their bare names;
//! - an event element's attributes in another namespace are its fields as its extension
//!   elements are; unqualified ones name no field and are left (openepcis' single events
//!   carry the document's `schemaVersion` and `creationDate` there);
//! - the header's SBDH sender, receiver and instance identifier become `sender`,
//!   `receiver` and `instanceIdentifier`, its master data `epcisHeader.epcisMasterData`.
//!
//! What it reads: an `EPCISDocument` of EPCIS 2.0 (`urn:epcglobal:epcis:xsd:2`) or 1.x
//! (`urn:epcglobal:epcis:xsd:1`, given as a 2.0 document, its `TransformationEvent`s taken
//! out of the event list's `extension`), an `EPCISQueryDocument` with query results
//! (`EPCISBody/QueryResults`), and a single event (an event element at the root, given as
//! a JSON-LD event with its `@context`, as a capture of one event is). Refused: other
//! documents (master data documents, capture jobs), EPCIS 1.x's `QuantityEvent` (gone from
//! 2.0), and an event type of one's own (an element of another namespace in the event
//! list).
//!
//! What it checks: the XSD's order of an event's standard fields (the XML binding is that
//! sequence; so is a quantity element's), and that an unqualified element is one the XSD
//! has there; numbers and booleans are checked as they are typed. The rest of validity
//! (required fields, values) is left to [`crate::schema::validate_document`] of the result
//! and to [`crate::event::Event::from_json`].
//!
//! A hostile document is bounded: at most [`MAX_XML_BYTES`] bytes, [`MAX_XML_NODES`] nodes,
//! [`MAX_XML_DEPTH`] nested elements, [`MAX_XML_ATTRIBUTES`] attributes on an element and
//! [`MAX_XML_NAMESPACES`] namespace declarations in scope (the last three counted before
//! parsing: the parser's work grows with their square); a DTD is refused (no entity is
//! ever declared or expanded, nothing is ever fetched), except a bare `<!DOCTYPE name>`
//! that declares nothing, which some of GS1's examples carry.

use crate::vocab::{self, Vocabulary};
use roxmltree::{Document, Node, ParsingOptions};
use serde_json::{Map, Number, Value};
use std::collections::{HashMap, HashSet};

/// The largest XML document read, in bytes (some ten thousand events of a kilobyte or two).
pub const MAX_XML_BYTES: usize = 16 * 1024 * 1024;

/// The most XML nodes (elements, texts, comments; an event has some thirty) a document may
/// have: what bounds the parsed tree's memory, whatever the bytes hold.
pub const MAX_XML_NODES: u32 = 1_000_000;

/// The deepest nesting of elements read (an event's user extensions nest; nothing in the
/// standard goes past 8).
pub const MAX_XML_DEPTH: usize = 64;

/// The most attributes (namespace declarations included) one element may have (GS1's and
/// openepcis' examples have 22 at most, on a sensor report): the parser's duplicate check
/// costs their square.
pub const MAX_XML_ATTRIBUTES: usize = 64;

/// The most namespace declarations in scope at once (GS1's and openepcis' examples declare
/// 11 at most): the parser copies them to every element that declares another and looks
/// each prefix up among them.
pub const MAX_XML_NAMESPACES: usize = 32;

/// GS1's EPCIS 2.0 JSON-LD context, the first item of every produced `@context`.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// The EPCIS 2.0 XML namespace.
pub const EPCIS_2_NAMESPACE: &str = "urn:epcglobal:epcis:xsd:2";
/// The EPCIS 1.x XML namespace.
pub const EPCIS_1_NAMESPACE: &str = "urn:epcglobal:epcis:xsd:1";
const QUERY_2_NAMESPACE: &str = "urn:epcglobal:epcis-query:xsd:2";
const QUERY_1_NAMESPACE: &str = "urn:epcglobal:epcis-query:xsd:1";
const SBDH_NAMESPACE: &str =
    "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader";
const XSI_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The prefixes GS1's EPCIS context defines: a user namespace gets another unless it is
/// the same namespace.
const CONTEXT_PREFIXES: [(&str, &str); 7] = [
    ("epcis", "https://ref.gs1.org/epcis/"),
    ("cbv", vocab::CBV_NAMESPACE),
    ("gs1", vocab::GS1_NAMESPACE),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("owl", "http://www.w3.org/2002/07/owl#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("dcterms", "http://purl.org/dc/terms/"),
];

/// Prefixes never declared in the produced context, though XML may use them: URI schemes
/// (a JSON-LD prefix `https` would read every `https:` value as a compact IRI) and JSON-LD's
/// blank node prefix.
const UNUSABLE_PREFIXES: [&str; 10] = [
    "http", "https", "urn", "ni", "tag", "mailto", "ftp", "file", "data", "_",
];

/// The five event types.
const EVENT_TYPES: [&str; 5] = [
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
];

/// The fields every event starts with, in the XSD's order (`EPCISEventType`).
const COMMON_FIELDS: [&str; 6] = [
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
];

/// The fields that follow, per event type, in the XSD's order.
fn type_fields(event_type: &str) -> Option<&'static [&'static str]> {
    Some(match event_type {
        "ObjectEvent" => &OBJECT_FIELDS,
        "AggregationEvent" => &AGGREGATION_FIELDS,
        "TransactionEvent" => &TRANSACTION_FIELDS,
        "TransformationEvent" => &TRANSFORMATION_FIELDS,
        "AssociationEvent" => &ASSOCIATION_FIELDS,
        _ => return None,
    })
}

/// `ObjectEventType`'s own fields.
const OBJECT_FIELDS: [&str; 13] = [
    "epcList",
    "action",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "quantityList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
    "ilmd",
];

/// `AggregationEventType`'s own fields.
const AGGREGATION_FIELDS: [&str; 13] = [
    "parentID",
    "childEPCs",
    "action",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "childQuantityList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
];

/// `TransactionEventType`'s own fields.
const TRANSACTION_FIELDS: [&str; 13] = [
    "bizTransactionList",
    "parentID",
    "epcList",
    "action",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "quantityList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
];

/// `TransformationEventType`'s own fields.
const TRANSFORMATION_FIELDS: [&str; 15] = [
    "inputEPCList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "transformationID",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
    "ilmd",
];

/// `AssociationEventType`'s own fields.
const ASSOCIATION_FIELDS: [&str; 13] = [
    "parentID",
    "childEPCs",
    "childQuantityList",
    "action",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
];

/// A sensor report's attributes the XSD types `xsd:double`.
const SENSOR_NUMBERS: [&str; 7] = [
    "value",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
];

/// Why an XML document was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Longer than [`MAX_XML_BYTES`].
    #[error("the document has {size} bytes, more than the {max} read")]
    TooLarge {
        /// Its size.
        size: usize,
        /// [`MAX_XML_BYTES`].
        max: usize,
    },
    /// More than [`MAX_XML_NODES`] nodes.
    #[error("the document has more than {max} XML nodes")]
    TooManyNodes {
        /// [`MAX_XML_NODES`].
        max: u32,
    },
    /// An element with more than [`MAX_XML_ATTRIBUTES`] attributes.
    #[error("an element has more than {max} attributes")]
    TooManyAttributes {
        /// [`MAX_XML_ATTRIBUTES`].
        max: usize,
    },
    /// More than [`MAX_XML_NAMESPACES`] namespace declarations in scope at once.
    #[error("more than {max} namespace declarations are in scope at once")]
    TooManyNamespaces {
        /// [`MAX_XML_NAMESPACES`].
        max: usize,
    },
    /// Elements nested deeper than [`MAX_XML_DEPTH`].
    #[error("elements are nested deeper than {max}")]
    TooDeep {
        /// [`MAX_XML_DEPTH`].
        max: usize,
    },
    /// A DTD (entity declarations, an external DTD): never read.
    #[error("a DTD is refused (entities are never declared or expanded)")]
    Dtd,
    /// Not well-formed XML (or namespaces used wrongly).
    #[error("not well-formed XML: {0}")]
    Syntax(String),
    /// Well-formed, but not an EPCIS document, query document or event as the XSD has it.
    #[error("{at}: {why}")]
    Invalid {
        /// Where: the element's path (`/EPCISDocument/EPCISBody/EventList/ObjectEvent[2]`).
        at: String,
        /// What is wrong.
        why: String,
    },
}

/// Reads an EPCIS XML document (an `EPCISDocument` of EPCIS 2.0 or 1.x, an
/// `EPCISQueryDocument`, or a single event) and gives the EPCIS 2.0 JSON-LD document (or
/// event) it is, with its `@context`: GS1's EPCIS context and the prefixes of the user
/// extension namespaces it uses. See the module's documentation for the mapping and the
/// limits.
pub fn document_from_xml(xml: &str) -> Result<Value, XmlError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(XmlError::TooLarge {
            size: xml.len(),
            max: MAX_XML_BYTES,
        });
    }
    let xml = xml.trim_start_matches('\u{feff}');
    shape::check(xml)?;
    let document = parse(xml)?;
    let root = document.root_element();
    let mut converter = Converter::default();
    let name = root.tag_name().name();
    let mut out = match root.tag_name().namespace() {
        Some(EPCIS_2_NAMESPACE | EPCIS_1_NAMESPACE) if name == "EPCISDocument" => {
            converter.document(root)?
        }
        Some(QUERY_2_NAMESPACE | QUERY_1_NAMESPACE) if name == "EPCISQueryDocument" => {
            converter.query_document(root)?
        }
        _ if is_epcis(root) && EVENT_TYPES.contains(&name) => converter.event(root)?,
        _ => return Err(invalid(
            root,
            "not an EPCIS document, query document or event (namespace urn:epcglobal:epcis:xsd:2)",
        )),
    };
    out.insert("@context".into(), converter.context());
    Ok(Value::Object(out))
}

/// Parses with the limits: no DTD but a bare `<!DOCTYPE name>`, at most [`MAX_XML_NODES`].
fn parse(xml: &str) -> Result<Document<'_>, XmlError> {
    let options = |allow_dtd| ParsingOptions {
        allow_dtd,
        nodes_limit: MAX_XML_NODES,
        ..ParsingOptions::default()
    };
    let parsed = match Document::parse_with_options(xml, options(false)) {
        Err(roxmltree::Error::DtdDetected) if bare_doctype(xml) => {
            Document::parse_with_options(xml, options(true))
        }
        other => other,
    };
    parsed.map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Dtd,
        roxmltree::Error::NodesLimitReached => XmlError::TooManyNodes { max: MAX_XML_NODES },
        other => XmlError::Syntax(other.to_string()),
    })
}

/// Whether the document's one DOCTYPE is `<!DOCTYPE name>`: no internal subset, no
/// external DTD, and no entity declared anywhere.
fn bare_doctype(xml: &str) -> bool {
    if xml.matches("<!DOCTYPE").count() != 1 || xml.contains("<!ENTITY") {
        return false;
    }
    let Some((_, rest)) = xml.split_once("<!DOCTYPE") else {
        return false;
    };
    let Some((declaration, _)) = rest.split_once('>') else {
        return false;
    };
    let starts_with_space = declaration.starts_with(|c: char| c.is_ascii_whitespace());
    starts_with_space
        && !declaration.contains('[')
        && declaration.split_ascii_whitespace().count() == 1
}

/// An [`XmlError::Invalid`] at `node`.
fn invalid(node: Node<'_, '_>, why: impl Into<String>) -> XmlError {
    XmlError::Invalid {
        at: path(node),
        why: why.into(),
    }
}

/// `node`'s path by element names, with positions among same-named siblings where there
/// are several (`/EPCISDocument/EPCISBody/EventList/ObjectEvent[2]/action`).
fn path(node: Node<'_, '_>) -> String {
    let mut parts: Vec<String> = node
        .ancestors()
        .filter(Node::is_element)
        .map(|n| {
            let name = n.tag_name().name();
            let same = |s: &Node<'_, '_>| s.is_element() && s.tag_name().name() == name;
            let before = n.prev_siblings().skip(1).filter(same).count();
            let after = n.next_siblings().skip(1).filter(same).count();
            if before + after == 0 {
                name.to_string()
            } else {
                format!("{name}[{}]", before + 1)
            }
        })
        .collect();
    parts.reverse();
    format!("/{}", parts.join("/"))
}

/// Whether an element is in the EPCIS namespaces (or none, as the XSD's local elements are).
fn is_epcis(node: Node<'_, '_>) -> bool {
    matches!(
        node.tag_name().namespace(),
        None | Some(EPCIS_2_NAMESPACE | EPCIS_1_NAMESPACE | QUERY_2_NAMESPACE | QUERY_1_NAMESPACE)
    )
}

/// The child elements.
fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

/// The first child element named `name` (any namespace).
fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    elements(node).find(|c| c.tag_name().name() == name)
}

/// An element's text (its text and CDATA children), trimmed.
fn text(node: Node<'_, '_>) -> String {
    let all: String = node
        .children()
        .filter(Node::is_text)
        .filter_map(|t| t.text())
        .collect();
    all.trim().to_string()
}

/// Adds `value` under `key`; a key given again gathers its values in an array.
fn push(out: &mut Map<String, Value>, key: String, value: Value) {
    match out.get_mut(&key) {
        None => {
            out.insert(key, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(first) => {
            let first = first.take();
            out.insert(key, Value::Array(vec![first, value]));
        }
    }
}

/// A value of a field with a CBV or GS1 vocabulary, as JSON writes it: the bare word when
/// it is one in any form (URN, IRI, `cbv:`/`gs1:` compact IRI), else the URI as written
/// (a `cbv:`/`gs1:` compact one expanded).
fn vocabulary_value(vocabulary: &Vocabulary, value: &str) -> String {
    let expanded = if let Some(rest) = value.strip_prefix("cbv:") {
        format!("{}{rest}", vocab::CBV_NAMESPACE)
    } else if let Some(rest) = value.strip_prefix("gs1:") {
        format!("{}{rest}", vocab::GS1_NAMESPACE)
    } else {
        value.to_string()
    };
    let prefixes = std::iter::once(vocabulary.iri_prefix).chain(vocabulary.urn_prefix);
    for prefix in prefixes {
        if let Some(word) = expanded.strip_prefix(prefix) {
            if vocabulary.contains(word) {
                return word.to_string();
            }
        }
    }
    expanded
}

/// An `xsd:decimal` or `xsd:double` as a JSON number: an integer as an integer, anything
/// else as a float; `None` for what is not a finite number.
fn number(s: &str) -> Option<Number> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Some(i.into());
        }
    }
    let lowered = digits.to_ascii_lowercase();
    if lowered.starts_with("inf") || lowered.starts_with("nan") {
        return None;
    }
    s.parse::<f64>().ok().and_then(Number::from_f64)
}

/// A number field's value, or why it is not one.
fn number_value(node: Node<'_, '_>, field: &str, s: &str) -> Result<Value, XmlError> {
    number(s)
        .map(Value::Number)
        .ok_or_else(|| invalid(node, format!("{field} `{s}` is not a number")))
}

/// What one conversion gathers: the prefixes of the user extension namespaces it met.
#[derive(Default)]
struct Converter {
    /// Prefix → namespace IRI, in the order first met.
    prefixes: Vec<(String, String)>,
    /// Namespace IRI → its place in `prefixes`.
    by_iri: HashMap<String, usize>,
    /// The prefixes in `prefixes`.
    taken: HashSet<String>,
    /// A prefix → the first number not yet tried after it (`ext2`, `ext3`, …): a document
    /// may give one prefix to as many namespaces as it has elements, and trying the numbers
    /// from 2 again each time, each against every prefix, cost the cube of their count
    /// (2 000 took 1.9 s, 71 KB of XML).
    next_number: HashMap<String, usize>,
}

impl Converter {
    /// The produced `@context`: GS1's, then an object of the extension prefixes.
    fn context(&self) -> Value {
        let mut items = vec![Value::String(EPCIS_CONTEXT.into())];
        if !self.prefixes.is_empty() {
            let prefixes: Map<String, Value> = self
                .prefixes
                .iter()
                .map(|(p, iri)| (p.clone(), Value::String(iri.clone())))
                .collect();
            items.push(Value::Object(prefixes));
        }
        Value::Array(items)
    }

    /// The prefix of namespace `iri` in the produced context, met at `node`: the
    /// document's own prefix for it where that is free, else numbered (`ext2`).
    fn prefix(&mut self, iri: &str, node: Node<'_, '_>) -> String {
        if let Some(&at) = self.by_iri.get(iri) {
            return self.prefixes[at].0.clone();
        }
        let base = node
            .namespaces()
            .filter(|ns| ns.uri() == iri)
            .filter_map(|ns| ns.name())
            .find(|p| !UNUSABLE_PREFIXES.contains(p))
            .unwrap_or("ns");
        let context_taken = CONTEXT_PREFIXES
            .iter()
            .any(|(q, i)| *q == base && *i != iri);
        let candidate = if !context_taken && !self.taken.contains(base) {
            base.to_string()
        } else {
            // Numbered ones are no prefix of GS1's context (none ends in a number from 2),
            // and a prefix once taken stays taken: the search goes on where it stopped.
            let mut n = self.next_number.get(base).copied().unwrap_or(2);
            while self.taken.contains(&format!("{base}{n}")) {
                n += 1;
            }
            self.next_number.insert(base.to_string(), n + 1);
            format!("{base}{n}")
        };
        self.by_iri.insert(iri.to_string(), self.prefixes.len());
        self.taken.insert(candidate.clone());
        self.prefixes.push((candidate.clone(), iri.to_string()));
        candidate
    }

    /// The JSON key of a name in namespace `namespace` met at `node`: `prefix:name` for a
    /// user namespace, the bare name for none (or EPCIS's own).
    fn key(&mut self, namespace: Option<&str>, name: &str, node: Node<'_, '_>) -> String {
        match namespace {
            None
            | Some(EPCIS_2_NAMESPACE | EPCIS_1_NAMESPACE | QUERY_2_NAMESPACE | QUERY_1_NAMESPACE) => {
                name.to_string()
            }
            Some(iri) => format!("{}:{name}", self.prefix(iri, node)),
        }
    }

    /// An element's key ([`Converter::key`] of its name).
    fn element_key(&mut self, node: Node<'_, '_>) -> String {
        let tag = node.tag_name();
        self.key(tag.namespace(), tag.name(), node)
    }

    /// The value of a user extension element: its text when it has neither attributes
    /// (`xsi:` ones aside) nor child elements, else an object of them (a child given again
    /// an array), its text, if any, under `#text`. `skip_id` leaves out an unqualified `id`
    /// attribute (a master data attribute's own).
    fn content(&mut self, node: Node<'_, '_>, skip_id: bool) -> Value {
        let mut out = Map::new();
        for a in node.attributes() {
            let ns = a.namespace();
            if ns == Some(XSI_NAMESPACE) || (skip_id && ns.is_none() && a.name() == "id") {
                continue;
            }
            let key = self.key(ns, a.name(), node);
            out.insert(key, Value::String(a.value().trim().to_string()));
        }
        for c in elements(node) {
            let key = self.element_key(c);
            let value = self.content(c, false);
            push(&mut out, key, value);
        }
        let text = text(node);
        if out.is_empty() {
            return Value::String(text);
        }
        if !text.is_empty() {
            out.insert("#text".into(), Value::String(text));
        }
        Value::Object(out)
    }

    /// Adds a user extension element to `out` under its key.
    fn put_content(&mut self, node: Node<'_, '_>, out: &mut Map<String, Value>) {
        let key = self.element_key(node);
        let value = self.content(node, false);
        push(out, key, value);
    }

    /// Adds the attributes of `node` in a user namespace to `out` (unqualified ones name no
    /// field and are left).
    fn foreign_attributes(&mut self, node: Node<'_, '_>, out: &mut Map<String, Value>) {
        for a in node.attributes() {
            match a.namespace() {
                None | Some(XSI_NAMESPACE) => {}
                Some(ns) => {
                    let key = self.key(Some(ns), a.name(), node);
                    out.insert(key, Value::String(a.value().trim().to_string()));
                }
            }
        }
    }
}

mod document;
mod event;
mod shape;

#[cfg(test)]
mod tests;
