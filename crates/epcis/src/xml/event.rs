//! One event element as its JSON object.

use super::{
    elements, invalid, is_epcis, number_value, text, type_fields, vocabulary_value, Converter,
    XmlError, COMMON_FIELDS, SENSOR_NUMBERS, XSI_NAMESPACE,
};
use crate::vocab::{self, Vocabulary};
use roxmltree::Node;
use serde_json::{Map, Value};

/// How an item of a list is read.
type Item = fn(&mut Converter, Node<'_, '_>) -> Result<Value, XmlError>;

impl Converter {
    /// An event element (`ObjectEvent`, …) as its JSON object.
    pub(super) fn event(&mut self, node: Node<'_, '_>) -> Result<Map<String, Value>, XmlError> {
        let event_type = node.tag_name().name();
        let fields = type_fields(event_type)
            .ok_or_else(|| invalid(node, format!("`{event_type}` is no EPCIS 2.0 event type")))?;
        let mut out = Map::new();
        out.insert("type".into(), Value::String(event_type.into()));
        self.foreign_attributes(node, &mut out);
        let mut last = None;
        self.event_fields(node, fields, &mut out, &mut last)?;
        Ok(out)
    }

    /// The fields among `parent`'s children (an event, or an `extension` or
    /// `baseExtension` in it, flattened), each in the XSD's order after the last one read.
    fn event_fields(
        &mut self,
        parent: Node<'_, '_>,
        fields: &[&str],
        out: &mut Map<String, Value>,
        last: &mut Option<usize>,
    ) -> Result<(), XmlError> {
        for c in elements(parent) {
            if !is_epcis(c) {
                self.put_content(c, out);
                continue;
            }
            let name = c.tag_name().name();
            if matches!(name, "extension" | "baseExtension") {
                self.event_fields(c, fields, out, last)?;
                continue;
            }
            let position = COMMON_FIELDS
                .iter()
                .chain(fields)
                .position(|f| *f == name)
                .ok_or_else(|| invalid(c, format!("no field `{name}` in this event type")))?;
            if out.contains_key(name) {
                return Err(invalid(c, format!("`{name}` is given twice")));
            }
            if let Some(before) = last.filter(|before| position < *before) {
                let previous = COMMON_FIELDS.iter().chain(fields).nth(before);
                return Err(invalid(
                    c,
                    format!(
                        "`{name}` after `{}`: the XSD's order has it before",
                        previous.copied().unwrap_or_default()
                    ),
                ));
            }
            *last = Some(position);
            let value = self.field(c, name)?;
            out.insert(name.to_string(), value);
        }
        Ok(())
    }

    /// One standard field's value.
    fn field(&mut self, node: Node<'_, '_>, name: &str) -> Result<Value, XmlError> {
        Ok(match name {
            "bizStep" => word(&vocab::BIZ_STEP, node),
            "disposition" => word(&vocab::DISPOSITION, node),
            "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => {
                self.list(node, "epc", |_, n| Ok(Value::String(text(n))))?
            }
            "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => {
                self.list(node, "quantityElement", Converter::quantity)?
            }
            "readPoint" | "bizLocation" => self.place(node)?,
            "bizTransactionList" => self.list(node, "bizTransaction", |_, n| {
                Ok(pair(n, "bizTransaction", &vocab::BIZ_TRANSACTION_TYPE))
            })?,
            "sourceList" => self.list(node, "source", |_, n| {
                Ok(pair(n, "source", &vocab::SOURCE_DEST_TYPE))
            })?,
            "destinationList" => self.list(node, "destination", |_, n| {
                Ok(pair(n, "destination", &vocab::SOURCE_DEST_TYPE))
            })?,
            "sensorElementList" => self.list(node, "sensorElement", Converter::sensor_element)?,
            "persistentDisposition" => self.persistent_disposition(node)?,
            "ilmd" => self.ilmd(node)?,
            "errorDeclaration" => self.error_declaration(node)?,
            _ => Value::String(text(node)),
        })
    }

    /// A list: its children, each an `item` read by `read`.
    fn list(&mut self, node: Node<'_, '_>, item: &str, read: Item) -> Result<Value, XmlError> {
        let mut out = Vec::new();
        for c in elements(node) {
            if !is_epcis(c) || c.tag_name().name() != item {
                return Err(invalid(
                    c,
                    format!("a list of `{item}` has no other element"),
                ));
            }
            out.push(read(self, c)?);
        }
        Ok(Value::Array(out))
    }

    /// A `quantityElement`: `epcClass`, then `quantity` (a number) and `uom`.
    fn quantity(&mut self, node: Node<'_, '_>) -> Result<Value, XmlError> {
        const ORDER: [&str; 3] = ["epcClass", "quantity", "uom"];
        let mut out = Map::new();
        let mut last = None;
        for c in elements(node) {
            let name = c.tag_name().name();
            let position = ORDER
                .iter()
                .position(|f| *f == name)
                .filter(|_| is_epcis(c))
                .ok_or_else(|| invalid(c, format!("no `{name}` in a quantityElement")))?;
            if last.is_some_and(|before| position <= before) {
                return Err(invalid(
                    c,
                    "out of the XSD's order (epcClass, quantity, uom)",
                ));
            }
            last = Some(position);
            let nil = c
                .attribute((XSI_NAMESPACE, "nil"))
                .is_some_and(|v| matches!(v.trim(), "true" | "1"));
            let value = match name {
                "quantity" if nil => continue,
                "quantity" => number_value(c, "quantity", &text(c))?,
                _ => Value::String(text(c)),
            };
            out.insert(name.to_string(), value);
        }
        Ok(Value::Object(out))
    }

    /// `readPoint` or `bizLocation`: its `id` and its extensions.
    fn place(&mut self, node: Node<'_, '_>) -> Result<Value, XmlError> {
        let mut out = Map::new();
        for c in elements(node) {
            match (is_epcis(c), c.tag_name().name()) {
                (false, _) => self.put_content(c, &mut out),
                (true, "id") => {
                    out.insert("id".into(), Value::String(text(c)));
                }
                (true, "extension") => self.extension(c, &mut out),
                (true, name) => return Err(invalid(c, format!("no `{name}` in a location"))),
            }
        }
        Ok(Value::Object(out))
    }

    /// The children of an `extension` wrapper, each as a user extension of `out`.
    pub(super) fn extension(&mut self, node: Node<'_, '_>, out: &mut Map<String, Value>) {
        for c in elements(node) {
            self.put_content(c, out);
        }
    }

    /// A `sensorElement`: `sensorMetadata` (an object of its attributes), its
    /// `sensorReport`s (an array of objects of theirs) and its extensions.
    fn sensor_element(&mut self, node: Node<'_, '_>) -> Result<Value, XmlError> {
        let mut out = Map::new();
        let mut reports = Vec::new();
        for c in elements(node) {
            match (is_epcis(c), c.tag_name().name()) {
                (false, _) => self.put_content(c, &mut out),
                (true, "sensorMetadata") => {
                    let metadata = self.sensor_attributes(c)?;
                    out.insert("sensorMetadata".into(), metadata);
                }
                (true, "sensorReport") => reports.push(self.sensor_attributes(c)?),
                (true, "extension") => self.extension(c, &mut out),
                (true, name) => {
                    return Err(invalid(c, format!("no `{name}` in a sensorElement")));
                }
            }
        }
        out.insert("sensorReport".into(), Value::Array(reports));
        Ok(Value::Object(out))
    }

    /// `sensorMetadata` or `sensorReport`: its attributes, typed as the XSD types them.
    fn sensor_attributes(&mut self, node: Node<'_, '_>) -> Result<Value, XmlError> {
        if !text(node).is_empty() {
            return Err(invalid(node, "a sensor's text content has no JSON form"));
        }
        let mut out = Map::new();
        for a in node.attributes() {
            let (ns, name, value) = (a.namespace(), a.name(), a.value().trim());
            if ns == Some(XSI_NAMESPACE) {
                continue;
            }
            let typed = match (ns, name) {
                (None, n) if SENSOR_NUMBERS.contains(&n) => number_value(node, n, value)?,
                (None, "booleanValue") => boolean(node, value)?,
                (None, "type") => Value::String(vocabulary_value(&vocab::MEASUREMENT_TYPE, value)),
                (None, "exception") => {
                    Value::String(vocabulary_value(&vocab::SENSOR_ALERT_TYPE, value))
                }
                (None, "component") => Value::String(vocabulary_value(&vocab::COMPONENT, value)),
                _ => Value::String(value.to_string()),
            };
            let key = self.key(ns, name, node);
            out.insert(key, typed);
        }
        Ok(Value::Object(out))
    }

    /// `persistentDisposition`: its `set` and `unset` dispositions.
    fn persistent_disposition(&mut self, node: Node<'_, '_>) -> Result<Value, XmlError> {
        let mut out = Map::new();
        for c in elements(node) {
            let name = c.tag_name().name();
            if !is_epcis(c) || !matches!(name, "set" | "unset") {
                return Err(invalid(
                    c,
                    format!("no `{name}` in a persistentDisposition"),
                ));
            }
            let list = out
                .entry(name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = list {
                items.push(word(&vocab::DISPOSITION, c));
            }
        }
        Ok(Value::Object(out))
    }

    /// `ilmd`: its user extensions (and those of its `extension`).
    fn ilmd(&mut self, node: Node<'_, '_>) -> Result<Value, XmlError> {
        let mut out = Map::new();
        for c in elements(node) {
            match (is_epcis(c), c.tag_name().name()) {
                (false, _) => self.put_content(c, &mut out),
                (true, "extension") => self.extension(c, &mut out),
                (true, name) => {
                    return Err(invalid(
                        c,
                        format!(
                            "`{name}` in ilmd has no namespace: ILMD fields are a namespace's own"
                        ),
                    ))
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// `errorDeclaration`: `declarationTime`, `reason`, `correctiveEventIDs` and extensions.
    fn error_declaration(&mut self, node: Node<'_, '_>) -> Result<Value, XmlError> {
        let mut out = Map::new();
        for c in elements(node) {
            let value = match (is_epcis(c), c.tag_name().name()) {
                (false, _) => {
                    self.put_content(c, &mut out);
                    continue;
                }
                (true, "extension") => {
                    self.extension(c, &mut out);
                    continue;
                }
                (true, "declarationTime") => Value::String(text(c)),
                (true, "reason") => word(&vocab::ERROR_REASON, c),
                (true, "correctiveEventIDs") => {
                    self.list(c, "correctiveEventID", |_, n| Ok(Value::String(text(n))))?
                }
                (true, name) => {
                    return Err(invalid(c, format!("no `{name}` in an errorDeclaration")));
                }
            };
            let name = c.tag_name().name();
            if out.contains_key(name) {
                return Err(invalid(c, format!("`{name}` is given twice")));
            }
            out.insert(name.to_string(), value);
        }
        Ok(Value::Object(out))
    }
}

/// An element's text as a value of `vocabulary` ([`vocabulary_value`]).
fn word(vocabulary: &Vocabulary, node: Node<'_, '_>) -> Value {
    Value::String(vocabulary_value(vocabulary, &text(node)))
}

/// A business transaction, source or destination: `{"type": …, "<name>": id}` (the type
/// left out when the element has none).
fn pair(node: Node<'_, '_>, name: &str, vocabulary: &Vocabulary) -> Value {
    let mut out = Map::new();
    if let Some(t) = node.attribute("type") {
        let t = vocabulary_value(vocabulary, t.trim());
        out.insert("type".into(), Value::String(t));
    }
    out.insert(name.into(), Value::String(text(node)));
    Value::Object(out)
}

/// An `xsd:boolean`.
fn boolean(node: Node<'_, '_>, s: &str) -> Result<Value, XmlError> {
    match s {
        "true" | "1" => Ok(Value::Bool(true)),
        "false" | "0" => Ok(Value::Bool(false)),
        _ => Err(invalid(
            node,
            format!("booleanValue `{s}` is not a boolean"),
        )),
    }
}
