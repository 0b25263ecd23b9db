//! The document around the events: `EPCISDocument`, `EPCISQueryDocument`, the header and
//! its master data.

use super::{
    child, elements, invalid, is_epcis, text, Converter, XmlError, EPCIS_1_NAMESPACE, EVENT_TYPES,
    QUERY_1_NAMESPACE, SBDH_NAMESPACE,
};
use roxmltree::Node;
use serde_json::{Map, Value};

impl Converter {
    /// An `EPCISDocument`.
    pub(super) fn document(&mut self, root: Node<'_, '_>) -> Result<Map<String, Value>, XmlError> {
        let mut out = self.document_start(root, "EPCISDocument");
        for c in elements(root) {
            match (is_epcis(c), c.tag_name().name()) {
                (false, _) => self.put_content(c, &mut out),
                (true, "EPCISHeader") => self.header(c, &mut out)?,
                (true, "EPCISBody") => {
                    let body = self.body(c)?;
                    out.insert("epcisBody".into(), Value::Object(body));
                }
                (true, "extension") => self.extension(c, &mut out),
                (true, name) => {
                    return Err(invalid(c, format!("no `{name}` in an EPCISDocument")));
                }
            }
        }
        Ok(out)
    }

    /// An `EPCISQueryDocument` with query results (`EPCISBody/QueryResults`).
    pub(super) fn query_document(
        &mut self,
        root: Node<'_, '_>,
    ) -> Result<Map<String, Value>, XmlError> {
        let mut out = self.document_start(root, "EPCISQueryDocument");
        for c in elements(root) {
            match (is_epcis(c), c.tag_name().name()) {
                (false, _) => self.put_content(c, &mut out),
                (true, "EPCISHeader") => self.header(c, &mut out)?,
                (true, "EPCISBody") => {
                    let results = child(c, "QueryResults")
                        .ok_or_else(|| invalid(c, "only query results (QueryResults) are read"))?;
                    let results = self.query_results(results)?;
                    let body = Map::from_iter([("queryResults".into(), Value::Object(results))]);
                    out.insert("epcisBody".into(), Value::Object(body));
                }
                (true, name) => {
                    return Err(invalid(
                        c,
                        format!("no `{name}` in an EPCISQueryDocument (EPCISHeader, EPCISBody)"),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// A document's `type`, `schemaVersion` (`2.0` for an EPCIS 1.x one: it is given as a
    /// 2.0 document), `creationDate` and attributes in user namespaces.
    fn document_start(&mut self, root: Node<'_, '_>, kind: &str) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("type".into(), Value::String(kind.into()));
        let one = matches!(
            root.tag_name().namespace(),
            Some(EPCIS_1_NAMESPACE | QUERY_1_NAMESPACE)
        );
        let version = match root.attribute("schemaVersion") {
            _ if one => Some("2.0"),
            version => version.map(str::trim),
        };
        if let Some(version) = version {
            out.insert("schemaVersion".into(), Value::String(version.into()));
        }
        if let Some(date) = root.attribute("creationDate") {
            out.insert("creationDate".into(), Value::String(date.trim().into()));
        }
        self.foreign_attributes(root, &mut out);
        out
    }

    /// `EPCISBody`: its `EventList` as `eventList`, and its user extensions.
    fn body(&mut self, node: Node<'_, '_>) -> Result<Map<String, Value>, XmlError> {
        let mut out = Map::new();
        out.insert("eventList".into(), Value::Array(Vec::new()));
        for c in elements(node) {
            match (is_epcis(c), c.tag_name().name()) {
                (false, _) => self.put_content(c, &mut out),
                (true, "EventList") => {
                    let mut events = Vec::new();
                    self.events(c, &mut events)?;
                    out.insert("eventList".into(), Value::Array(events));
                }
                (true, name) => return Err(invalid(c, format!("no `{name}` in an EPCISBody"))),
            }
        }
        Ok(out)
    }

    /// The events of an `EventList` (and of its `extension`, where EPCIS 1.x put
    /// `TransformationEvent`), in document order.
    fn events(&mut self, list: Node<'_, '_>, out: &mut Vec<Value>) -> Result<(), XmlError> {
        for c in elements(list) {
            let name = c.tag_name().name();
            if !is_epcis(c) {
                return Err(invalid(c, "an event type of one's own is not read"));
            }
            if name == "extension" {
                self.events(c, out)?;
            } else if EVENT_TYPES.contains(&name) {
                out.push(Value::Object(self.event(c)?));
            } else if name == "QuantityEvent" {
                return Err(invalid(c, "QuantityEvent is no event of EPCIS 2.0"));
            } else {
                return Err(invalid(c, format!("`{name}` is no EPCIS event type")));
            }
        }
        Ok(())
    }

    /// `QueryResults`: `queryName`, `subscriptionID`, and `resultsBody` with its events
    /// (`eventList`) or master data (`vocabularyList`).
    fn query_results(&mut self, node: Node<'_, '_>) -> Result<Map<String, Value>, XmlError> {
        let mut out = Map::new();
        for c in elements(node) {
            match (is_epcis(c), c.tag_name().name()) {
                (false, _) => self.put_content(c, &mut out),
                (true, name @ ("queryName" | "subscriptionID")) => {
                    out.insert(name.into(), Value::String(text(c)));
                }
                (true, "resultsBody") => {
                    let body = self.results_body(c)?;
                    out.insert("resultsBody".into(), Value::Object(body));
                }
                (true, "extension") => self.extension(c, &mut out),
                (true, name) => return Err(invalid(c, format!("no `{name}` in QueryResults"))),
            }
        }
        Ok(out)
    }

    /// `resultsBody`: `EventList` or `VocabularyList`.
    fn results_body(&mut self, node: Node<'_, '_>) -> Result<Map<String, Value>, XmlError> {
        let mut out = Map::new();
        for c in elements(node) {
            match (is_epcis(c), c.tag_name().name()) {
                (true, "EventList") => {
                    let mut events = Vec::new();
                    self.events(c, &mut events)?;
                    out.insert("eventList".into(), Value::Array(events));
                }
                (true, "VocabularyList") => {
                    let vocabularies = self.vocabulary_list(c)?;
                    out.insert("vocabularyList".into(), vocabularies);
                }
                (_, name) => return Err(invalid(c, format!("no `{name}` in resultsBody"))),
            }
        }
        Ok(out)
    }

    /// `EPCISHeader`: the SBDH's sender, receiver and instance identifier as the
    /// document's `sender`, `receiver` and `instanceIdentifier`; master data as
    /// `epcisHeader.epcisMasterData.vocabularyList`; user extensions in `epcisHeader`.
    fn header(&mut self, node: Node<'_, '_>, out: &mut Map<String, Value>) -> Result<(), XmlError> {
        let mut header = Map::new();
        for c in elements(node) {
            let sbdh = c.tag_name().namespace() == Some(SBDH_NAMESPACE);
            match (is_epcis(c), c.tag_name().name()) {
                (false, "StandardBusinessDocumentHeader") if sbdh => sbdh_fields(c, out),
                (false, _) => self.put_content(c, &mut header),
                (true, "extension") => self.header_extension(c, &mut header)?,
                (true, name) => return Err(invalid(c, format!("no `{name}` in an EPCISHeader"))),
            }
        }
        if !header.is_empty() {
            out.insert("epcisHeader".into(), Value::Object(header));
        }
        Ok(())
    }

    /// The header's `extension`: `EPCISMasterData` (and what follows it, as extensions).
    fn header_extension(
        &mut self,
        node: Node<'_, '_>,
        header: &mut Map<String, Value>,
    ) -> Result<(), XmlError> {
        for c in elements(node) {
            if is_epcis(c) && c.tag_name().name() == "EPCISMasterData" {
                let list = child(c, "VocabularyList")
                    .ok_or_else(|| invalid(c, "EPCISMasterData has no VocabularyList"))?;
                let vocabularies = self.vocabulary_list(list)?;
                let master = Map::from_iter([("vocabularyList".into(), vocabularies)]);
                header.insert("epcisMasterData".into(), Value::Object(master));
            } else if is_epcis(c) && c.tag_name().name() == "extension" {
                self.extension(c, header);
            } else {
                self.put_content(c, header);
            }
        }
        Ok(())
    }

    /// A `VocabularyList`: each `Vocabulary` as `{type, vocabularyElementList}`.
    fn vocabulary_list(&mut self, node: Node<'_, '_>) -> Result<Value, XmlError> {
        let mut out = Vec::new();
        for vocabulary in elements(node) {
            if !is_epcis(vocabulary) || vocabulary.tag_name().name() != "Vocabulary" {
                return Err(invalid(
                    vocabulary,
                    "a VocabularyList holds Vocabulary elements",
                ));
            }
            let mut v = Map::new();
            if let Some(t) = vocabulary.attribute("type") {
                v.insert("type".into(), Value::String(t.trim().into()));
            }
            let mut list = Vec::new();
            for c in elements(vocabulary) {
                match (is_epcis(c), c.tag_name().name()) {
                    (true, "VocabularyElementList") => {
                        for element in elements(c) {
                            list.push(self.vocabulary_element(element)?);
                        }
                    }
                    (false, _) => self.put_content(c, &mut v),
                    (true, name) => return Err(invalid(c, format!("no `{name}` in a Vocabulary"))),
                }
            }
            v.insert("vocabularyElementList".into(), Value::Array(list));
            out.push(Value::Object(v));
        }
        Ok(Value::Array(out))
    }

    /// A `VocabularyElement`: `{id, attributes: [{id, attribute}], children}`.
    fn vocabulary_element(&mut self, node: Node<'_, '_>) -> Result<Value, XmlError> {
        if !is_epcis(node) || node.tag_name().name() != "VocabularyElement" {
            return Err(invalid(
                node,
                "a VocabularyElementList holds VocabularyElement elements",
            ));
        }
        let mut out = Map::new();
        if let Some(id) = node.attribute("id") {
            out.insert("id".into(), Value::String(id.trim().into()));
        }
        let (mut attributes, mut children) = (Vec::new(), Vec::new());
        for c in elements(node) {
            match (is_epcis(c), c.tag_name().name()) {
                (true, "attribute") => {
                    let mut a = Map::new();
                    let id = c.attribute("id").unwrap_or_default().trim();
                    a.insert("id".into(), Value::String(id.into()));
                    a.insert("attribute".into(), self.content(c, true));
                    attributes.push(Value::Object(a));
                }
                (true, "children") => children.extend(elements(c).map(|i| Value::String(text(i)))),
                (true, "extension") => self.extension(c, &mut out),
                (false, _) => self.put_content(c, &mut out),
                (true, name) => {
                    return Err(invalid(c, format!("no `{name}` in a VocabularyElement")));
                }
            }
        }
        if !attributes.is_empty() {
            out.insert("attributes".into(), Value::Array(attributes));
        }
        if !children.is_empty() {
            out.insert("children".into(), Value::Array(children));
        }
        Ok(Value::Object(out))
    }
}

/// The SBDH's first sender's and receiver's identifiers and its instance identifier, as
/// GS1's JSON examples give them (`sender`, `receiver`, `instanceIdentifier`).
fn sbdh_fields(sbdh: Node<'_, '_>, out: &mut Map<String, Value>) {
    let found = [
        ("sender", ["Sender", "Identifier"]),
        ("receiver", ["Receiver", "Identifier"]),
        (
            "instanceIdentifier",
            ["DocumentIdentification", "InstanceIdentifier"],
        ),
    ];
    for (key, [outer, inner]) in found {
        if let Some(value) = child(sbdh, outer).and_then(|o| child(o, inner)) {
            out.insert(key.into(), Value::String(text(value)));
        }
    }
}
