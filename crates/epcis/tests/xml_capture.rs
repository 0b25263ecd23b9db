//! EPCIS XML capture (`epcis::document_from_xml`) against the XML documents of `../shared`:
//!
//! 1. the reference event hash's XML vectors (`epcis-tests/event-hash/tests/examples`, one
//!    expected line per event in `X.hashes`): the converted document's events hash to them;
//! 2. GS1's examples given both in XML and in JSON (`gs1/epcis/XML`, `gs1/epcis/JSON`, the
//!    pairs listed in [`GS1_PAIRS`]) and openepcis' capture documents of the same name in
//!    `XML/Capture` and `JSON/Capture`: the converted XML events hash as the JSON ones;
//! 3. every GS1 XML example and every openepcis XML capture document and event converts,
//!    its events read as canonical events and it validates against GS1's JSON Schema, but
//!    for the files listed with why;
//! 4. every openepcis invalid XML capture document is refused, by the XML reader, by the
//!    schema or by the canonical event, as [`INVALID`] says for each.

mod common;

use epcis::event::Event;
use epcis::hash::{event_hash, HashContext};
use epcis::{document_from_xml, validate_document};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The reference implementation's vectors, in `../shared/data`.
const VECTORS: &str = "epcis-tests/event-hash/tests/examples";
/// GS1's examples, in `../shared/data`.
const GS1: &str = "gs1/epcis";
/// openepcis' capture documents, in `../shared/data`.
const OPENEPCIS: &str = "epcis-tests/openepcis/2.0/EPCIS";

/// `(file stem, event index or None for the whole document, why)`: XML vectors known not to
/// match. Any other mismatch fails the test, and so does a known failure that matches.
const KNOWN_VECTOR_FAILURES: &[(&str, Option<usize>, &str)] = &[
    (
        "epcisXmlQueryDocHavingEventWithIgnoreFields",
        None,
        "not an EPCISQueryDocument as GS1's XSD has it: `queryName` and `resultsBody` stand \
         directly under the root, without EPCISBody/QueryResults (its JSON twin \
         epcisQueryDocHavingEventWithIgnoreFields.jsonld has epcisBody.queryResults); the \
         reader refuses it",
    ),
    (
        "SensorDataExamples",
        None,
        "its TransformationEvent has `ilmd` before `sensorElementList`, against the XSD's \
         sequence (GS1's own copy, gs1/epcis/XML/WithSensorData/SensorDataExamples.xml, has \
         them in order and converts); the reader refuses it",
    ),
];

/// Every `*.<ext>` file below `dir`, sorted.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    common::files_with(dir, &[ext])
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `path` relative to `base`, as the tables below name files.
fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn convert(path: &Path) -> Result<Value, String> {
    document_from_xml(&common::read(path)).map_err(|e| e.to_string())
}

/// The events of a document, or the event itself for a single event.
fn events_of(document: &Value) -> Vec<&Value> {
    if document.get("epcisBody").is_some() {
        HashContext::events(document)
    } else {
        vec![document]
    }
}

/// The event hashes of a document's events (`Err` text for an event that has none). A
/// single event is hashed as an event of a document with its `@context`: the context is
/// no field of the event.
fn hashes(document: &Value) -> Vec<Result<String, String>> {
    if document.get("epcisBody").is_none() {
        let mut event = document.clone();
        let context = event
            .as_object_mut()
            .and_then(|e| e.remove("@context"))
            .unwrap_or_default();
        let context = HashContext::new(&context);
        return vec![event_hash(&event, &context).map_err(|e| e.to_string())];
    }
    // As the reference implementation hashes them: the document's `ignoreFields` honoured.
    let context = HashContext::from_document(document).with_document_ignore_fields(document);
    events_of(document)
        .into_iter()
        .map(|e| event_hash(e, &context).map_err(|e| e.to_string()))
        .collect()
}

fn expected_lines(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

/// Why `(stem, event)` is a known failure, if it is one; `event` None: the document.
fn known_vector_failure(stem: &str, event: Option<usize>) -> Option<&'static str> {
    KNOWN_VECTOR_FAILURES
        .iter()
        .find(|(s, e, _)| *s == stem && *e == event)
        .map(|(_, _, why)| *why)
}

/// Test 1's counts and findings.
#[derive(Default)]
struct VectorTally {
    documents: usize,
    documents_ok: usize,
    events: usize,
    events_ok: usize,
    /// Events of the documents the reader refuses, as listed.
    events_refused: usize,
    unexpected: Vec<String>,
    now_passing: Vec<String>,
}

impl VectorTally {
    fn check(&mut self, xml: &Path) {
        let stem = xml
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some(expected) = expected_lines(&xml.with_extension("hashes")) else {
            return;
        };
        self.documents += 1;
        self.events += expected.len();
        let known = known_vector_failure(&stem, None);
        let document = match (convert(xml), known) {
            (Ok(d), None) => d,
            (Err(e), Some(why)) => {
                self.events_refused += expected.len();
                return println!("  known: {stem} is not converted: {why}\n    ({e})");
            }
            (Err(e), None) => return self.unexpected.push(format!("{stem}: not converted: {e}")),
            (Ok(_), Some(_)) => return self.now_passing.push(format!("{stem} converts")),
        };
        let got = hashes(&document);
        let mut all = got.len() == expected.len();
        for (i, want) in expected.iter().enumerate() {
            let g = got.get(i).cloned().unwrap_or(Err("no such event".into()));
            let ok = g.as_deref() == Ok(want.as_str());
            all &= ok;
            self.events_ok += usize::from(ok);
            let known = known_vector_failure(&stem, Some(i)).is_some();
            if !ok && !known {
                self.unexpected.push(format!(
                    "{stem} event {i}:\n  expected {want}\n  got      {g:?}"
                ));
            }
            if ok && known {
                self.now_passing.push(format!("{stem} event {i}"));
            }
        }
        if got.len() != expected.len() {
            let n = (got.len(), expected.len());
            self.unexpected
                .push(format!("{stem}: {} events, {} expected lines", n.0, n.1));
        }
        self.documents_ok += usize::from(all);
    }
}

#[test]
fn xml_hash_vectors() {
    let Some(dir) = common::shared(VECTORS, "the event hash vectors") else {
        return;
    };
    let mut tally = VectorTally::default();
    for xml in files(&dir, "xml") {
        tally.check(&xml);
    }
    let t = tally;
    println!(
        "xml capture: hash vectors: {}/{} XML documents match whole, {}/{} events ({} in the \
         documents the reader refuses, as listed)",
        t.documents_ok, t.documents, t.events_ok, t.events, t.events_refused
    );
    assert!(t.documents > 0, "no XML vectors in {}", dir.display());
    assert!(
        t.unexpected.is_empty(),
        "{} unexpected:\n{}",
        t.unexpected.len(),
        t.unexpected.join("\n")
    );
    assert!(
        t.now_passing.is_empty(),
        "known failures that now pass (unlist them): {:?}",
        t.now_passing
    );
}

/// Valid documents of `../shared` that the reader refuses, each with why (paths relative to
/// `gs1/epcis` or openepcis' `2.0/EPCIS`, as in the tables below).
const NOT_CONVERTED: &[(&str, &str)] = &[(
    "XML/Capture/Documents/JumbledFieldsOrder.xml",
    "its TransactionEvent's fields are in no XSD order (eventTimeZoneOffset after \
     disposition, …): openepcis calls it valid here and calls \
     Invalid/ObjectEvent_with_wrong_element_order.xml (eventTime after action) invalid; GS1's \
     XSD is a sequence, and the reader keeps to it",
)];

/// XML files of GS1's that are no EPCIS event documents, refused by the reader by rule.
const NOT_EVENT_DOCUMENTS: &[(&str, &str)] = &[
    (
        "XML/CBV/CBV-11.4-2020-06-16a.xml",
        "an EPCISMasterDataDocument",
    ),
    (
        "XML/Mimasu/Example-masterData.xml",
        "an EPCISMasterDataDocument",
    ),
    (
        "XML/CaptureJob/Example-CaptureJobRunning.xml",
        "an EPCISCaptureJob (a capture interface's answer)",
    ),
    (
        "XML/CaptureJob/Example-CaptureJobSuccess.xml",
        "an EPCISCaptureJob (a capture interface's answer)",
    ),
    (
        "XML/CaptureJob/Example-CaptureJobWithErrorFile.xml",
        "an EPCISCaptureJob (a capture interface's answer)",
    ),
    (
        "XML/CaptureJob/Example-CaptureJobWithErrors.xml",
        "an EPCISCaptureJob (a capture interface's answer)",
    ),
];

/// Why a valid document (named as in [`NOT_CONVERTED`]) is not converted, if listed.
fn not_converted(file: &str) -> Option<&'static str> {
    NOT_CONVERTED
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, why)| *why)
}

/// GS1's examples given in both forms: an XML file (in `gs1/epcis/XML`) and the JSON files
/// (in `gs1/epcis/JSON`) holding the same events. One JSON file: the same events in the same
/// order; several (one event each): each is one of the XML file's events.
const GS1_PAIRS: &[(&str, &[&str])] = &[
    (
        "Example_9.6.1-ObjectEvent-2020_06_18a.xml",
        &["Example_9.6.1-ObjectEvent.jsonld"],
    ),
    (
        "Example-TransactionEvent-2020_07_03y.xml",
        &["Example-TransactionEvents-2020_07_03y.jsonld"],
    ),
    (
        "Example-PersistentDisposition.xml",
        &["PersistentDisposition-example.jsonld"],
    ),
    (
        "WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.xml",
        &["WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld"],
    ),
    (
        "WithFullCombinationOfFields/aggregation_event_all_possible_fields.xml",
        &["WithFullCombinationOfFields/aggregation_event_all_possible_fields.jsonld"],
    ),
    (
        "WithFullCombinationOfFields/association_event_all_possible_fields.xml",
        &["WithFullCombinationOfFields/association_event_all_possible_fields.jsonld"],
    ),
    (
        "WithFullCombinationOfFields/object_event_all_possible_fields.xml",
        &["WithFullCombinationOfFields/object_event_all_possible_fields.jsonld"],
    ),
    (
        "WithFullCombinationOfFields/transaction_event_all_possible_fields.xml",
        &["WithFullCombinationOfFields/transaction_event_all_possible_fields.jsonld"],
    ),
    (
        "WithFullCombinationOfFields/transformation_event_all_possible_fields.xml",
        &["WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld"],
    ),
    (
        "AssociationEvent/AssociationEventExamples.xml",
        &[
            "AssociationEvent/AssociationEvent-a.jsonld",
            "AssociationEvent/AssociationEvent-b.jsonld",
            "AssociationEvent/AssociationEvent-c.jsonld",
            "AssociationEvent/AssociationEvent-d.jsonld",
            "AssociationEvent/AssociationEvent-e.jsonld",
            "AssociationEvent/AssociationEvent-f.jsonld",
            "AssociationEvent/AssociationEvent-g.jsonld",
            "AssociationEvent/AssociationEvent-h.jsonld",
        ],
    ),
    (
        "WithSensorData/SensorDataExamples.xml",
        &[
            "WithSensorData/SensorDataExample1.jsonld",
            "WithSensorData/SensorDataExample1b.jsonld",
            "WithSensorData/SensorDataExample2.jsonld",
            "WithSensorData/SensorDataExample3.jsonld",
            "WithSensorData/SensorDataExample4.jsonld",
            "WithSensorData/SensorDataExample5.jsonld",
            "WithSensorData/SensorDataExample6.jsonld",
            "WithSensorData/SensorDataExample7.jsonld",
            "WithSensorData/SensorDataExample8.jsonld",
            "WithSensorData/SensorDataExample9.jsonld",
            "WithSensorData/SensorDataExample10.jsonld",
            "WithSensorData/SensorDataExample11.jsonld",
            "WithSensorData/SensorDataExample12.jsonld",
            "WithSensorData/SensorDataExample13.jsonld",
            "WithSensorData/SensorDataExample14.jsonld",
            "WithSensorData/SensorDataExample15.jsonld",
            "WithSensorData/SensorDataExample16.jsonld",
            "WithSensorData/SensorDataExample17.jsonld",
        ],
    ),
];

/// `(JSON file, event index, why)`, the file relative to `gs1/epcis/JSON` or openepcis'
/// `JSON/Capture`: JSON events whose XML twin hashes otherwise, because
/// the two files say different things. Any other difference fails the test, and so does a
/// listed one that matches.
const KNOWN_PAIR_DIFFERENCES: &[(&str, usize, &str)] = &[
    // GS1's examples.
    (
        "Example_9.6.1-ObjectEvent.jsonld",
        1,
        "extension namespace http://ns.example.com/epcis (XML) against \
         http://ns.example.com/epcis/ (JSON)",
    ),
    (
        "Example-TransactionEvents-2020_07_03y.jsonld",
        1,
        "the JSON writes rail:vehicleUniquelyIdentified as a JSON boolean (the hash writes \
         `True`, the XML's text `true`) and leaves out an empty <rail:vehicleMasterGIAI/>",
    ),
    ("PersistentDisposition-example.jsonld", 0, OTHER_EVENT),
    ("PersistentDisposition-example.jsonld", 1, OTHER_EVENT),
    (
        "WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld",
        0,
        "the JSON has a quantity (500 KGM) and a readPoint the XML has not",
    ),
    (
        "WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld",
        1,
        "the JSON has a quantity (500 KGM) and a readPoint the XML has not",
    ),
    (
        "WithFullCombinationOfFields/aggregation_event_all_possible_fields.jsonld",
        0,
        "as association_event_all_possible_fields, and a sensor report's component is \
         example:x in the XML, cbv:Comp-latitude in the JSON",
    ),
    (
        "WithFullCombinationOfFields/association_event_all_possible_fields.jsonld",
        0,
        ALL_FIELDS,
    ),
    (
        "WithFullCombinationOfFields/object_event_all_possible_fields.jsonld",
        0,
        "as association_event_all_possible_fields, and the JSON's action is ADD with an ilmd, \
         the XML's OBSERVE without",
    ),
    (
        "WithFullCombinationOfFields/transaction_event_all_possible_fields.jsonld",
        0,
        ALL_FIELDS,
    ),
    (
        "WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld",
        0,
        "as association_event_all_possible_fields, and the ILMD's cbvmda namespace is \
         urn:epcglobal:cbv:mda in the XML, http://example.com/cbvmda/ in the JSON (which also \
         drops measurementUnitCode)",
    ),
    (
        "WithSensorData/SensorDataExample1b.jsonld",
        0,
        "a variant of case 1 without its epcList: no XML counterpart",
    ),
    (
        "WithSensorData/SensorDataExample4.jsonld",
        0,
        "the sensor reports' rawData URIs differ",
    ),
    (
        "WithSensorData/SensorDataExample6.jsonld",
        0,
        "the JSON adds an epcList, a quantityList and a sensor report",
    ),
    (
        "WithSensorData/SensorDataExample7.jsonld",
        0,
        "the XML has one more Temperature report, and its example namespace is \
         https://ns.example.com/epcis, the JSON's http://ns.example.com/epcis/",
    ),
    (
        "WithSensorData/SensorDataExample8.jsonld",
        0,
        "the JSON adds sensor metadata and a report field (example:cv)",
    ),
    (
        "WithSensorData/SensorDataExample9.jsonld",
        0,
        "the JSON has two sensor reports (Temperature, AbsoluteHumidity) the XML has not",
    ),
    (
        "WithSensorData/SensorDataExample10.jsonld",
        0,
        "the sensor reports' components and fields differ",
    ),
    (
        "WithSensorData/SensorDataExample11.jsonld",
        0,
        "the XML's sensor type is gs1:EffectiveDoseRate, the JSON's DoseEquivalentRate",
    ),
    (
        "WithSensorData/SensorDataExample12.jsonld",
        0,
        "the ILMD and location extensions differ (the JSON also leaves cbvmda undeclared)",
    ),
    (
        "WithSensorData/SensorDataExample13.jsonld",
        0,
        "other times and EPCs: no XML counterpart",
    ),
    ("WithSensorData/SensorDataExample14.jsonld", 0, BIZSTEP_TYPO),
    ("WithSensorData/SensorDataExample15.jsonld", 0, BIZSTEP_TYPO),
    (
        "WithSensorData/SensorDataExample16.jsonld",
        0,
        "other times and EPCs: no XML counterpart",
    ),
    (
        "WithSensorData/SensorDataExample17.jsonld",
        0,
        "other times and EPCs: no XML counterpart",
    ),
    // openepcis' capture documents and events.
    ("Documents/Combination_of_different_event.json", 0, CURIE),
    ("Documents/Combination_of_different_event.json", 5, CURIE),
    ("Documents/CurieString_document.json", 0, CURIE),
    (
        "Documents/Namespaces_at_different_level.json",
        0,
        INLINE_CONTEXT,
    ),
    (
        "Documents/Namespaces_at_different_level.json",
        1,
        INLINE_CONTEXT,
    ),
    (
        "Documents/Namespaces_at_different_level.json",
        2,
        INLINE_CONTEXT,
    ),
    (
        "Documents/Namespaces_at_different_level.json",
        3,
        INLINE_CONTEXT,
    ),
    (
        "Documents/Namespaces_at_different_level.json",
        4,
        INLINE_CONTEXT,
    ),
    (
        "Documents/ObjectEvent_all_possible_fields.json",
        0,
        UNDECLARED_CBVMDA,
    ),
    (
        "Documents/SensorData_with_combined_events.json",
        7,
        NOT_A_GS1_WORD,
    ),
    ("Documents/SensorData_with_combined_events.json", 8, CURIE),
    (
        "Documents/SensorData_with_combined_events.json",
        10,
        NOT_A_GS1_WORD,
    ),
    (
        "Documents/SensorData_with_combined_events.json",
        11,
        UNDECLARED_CBVMDA,
    ),
    ("Documents/SensorData_with_combined_events.json", 12, CURIE),
    (
        "Documents/TransactionEvent_with_userExtensions.json",
        0,
        NOT_A_GS1_WORD,
    ),
    (
        "Documents/TransformationEvent_with_userExtensions.json",
        0,
        UNDECLARED_CBVMDA,
    ),
    ("Documents/epcisDocWithSensorComponent.json", 0, CURIE),
    (
        "Events/TransactionEvent.json",
        0,
        "the JSON leaves out an empty <rail:vehicleMasterGIAI/>, which the converted XML \
         keeps (\"\")",
    ),
];

/// The JSON file holds other events than its XML twin.
const OTHER_EVENT: &str = "other events: AggregationEvents in the XML, ObjectEvents in the JSON";
/// GS1's `*_all_possible_fields` twins.
const ALL_FIELDS: &str = "the JSON has a certificationInfo the XML has not, and nests the user \
     extensions' `ext1:object` and `ext2:object` twice where the XML has one element";
/// GS1's sensor examples 14 and 15.
const BIZSTEP_TYPO: &str = "the XML's bizStep is https://ref.gs1.org/cbv/Bizstep-sensor_reporting \
     (`Bizstep`, no CBV IRI), the JSON's the word sensor_reporting";
/// A standard value written as a compact IRI in the JSON.
const CURIE: &str = "the JSON writes standard values as compact IRIs (cbv:Comp-latitude, \
     gs1:ALARM_CONDITION, gs1:Angle, cbv:my_own_party), the converted XML the bare word (or the \
     IRI for a value of one's own): the same IRIs, but the event hash (as the reference at \
     5d2f1c3 reads JSON) expands a compact IRI in a value only by prefixes the document's \
     @context declares, and GS1's context is not read";
/// openepcis' ILMD fields in `cbvmda`.
const UNDECLARED_CBVMDA: &str = "the JSON names ILMD fields cbvmda:… without declaring cbvmda in \
     its @context; the XML has them in namespace urn:epcglobal:cbv:mda";
/// A sensor type GS1 does not have.
const NOT_A_GS1_WORD: &str = "a sensor type none of GS1's: the XML's gs1:Molar_concentration or \
     gs1:EffectiveDoseRate reads as the IRI https://gs1.org/voc/…, the JSON writes a bare word \
     (both documents are refused by the schema for it)";
/// openepcis' events with an `@context` each.
const INLINE_CONTEXT: &str = "the JSON gives each event an @context of its own, which the event \
     hash reads as one of its fields, and writes gs1:ALARM_CONDITION as a compact IRI";

/// Test 2's counts and findings.
#[derive(Default)]
struct PairTally {
    pairs: usize,
    pairs_ok: usize,
    events: usize,
    events_ok: usize,
    problems: Vec<String>,
}

impl PairTally {
    /// Compares the events of `json` (JSON documents) with those of `xml` converted:
    /// index by index for one JSON file, by membership for several.
    fn compare(&mut self, xml: &Path, json: &[PathBuf], json_base: &Path) {
        self.pairs += 1;
        let xml_hashes = match convert(xml) {
            Ok(d) => hashes(&d),
            Err(_) if NOT_CONVERTED.iter().any(|(f, _)| xml.ends_with(f)) => return,
            Err(e) => {
                return self
                    .problems
                    .push(format!("{}: not converted: {e}", name(xml)))
            }
        };
        let mut all = true;
        for file in json {
            let document = common::read_json(file);
            for (i, got) in hashes(&document).into_iter().enumerate() {
                let twin = if json.len() == 1 {
                    xml_hashes.get(i).is_some_and(|x| *x == got)
                } else {
                    xml_hashes.contains(&got)
                };
                all &= twin;
                self.events += 1;
                self.events_ok += usize::from(twin);
                let json_name = relative(file, json_base);
                let known = KNOWN_PAIR_DIFFERENCES
                    .iter()
                    .find(|(f, e, _)| *f == json_name && *e == i)
                    .map(|(_, _, why)| *why);
                match (twin, known) {
                    (false, Some(why)) => println!("  known: {json_name} event {i}: {why}"),
                    (false, None) => self.problems.push(format!(
                        "{json_name} event {i}: no XML twin in {} (hash {got:?})",
                        name(xml)
                    )),
                    (true, Some(_)) => self
                        .problems
                        .push(format!("{json_name} event {i} now matches: unlist it")),
                    _ => {}
                }
            }
        }
        if json.len() == 1 {
            let n = hashes(&common::read_json(&json[0])).len();
            if n != xml_hashes.len() {
                all = false;
                let xml_name = name(xml);
                self.problems.push(format!(
                    "{xml_name}: {} events, its JSON twin {n}",
                    xml_hashes.len()
                ));
            }
        }
        self.pairs_ok += usize::from(all);
    }
}

#[test]
fn xml_and_json_twins_hash_the_same() {
    let (Some(gs1), Some(openepcis)) = (
        common::shared(GS1, "GS1's examples"),
        common::shared(OPENEPCIS, "openepcis' capture documents"),
    ) else {
        return;
    };
    let mut gs1_tally = PairTally::default();
    for (xml, json) in GS1_PAIRS {
        let json: Vec<PathBuf> = json.iter().map(|j| gs1.join("JSON").join(j)).collect();
        gs1_tally.compare(&gs1.join("XML").join(xml), &json, &gs1.join("JSON"));
    }
    let mut openepcis_tally = PairTally::default();
    for folder in ["Documents", "Events"] {
        for xml in files(&openepcis.join("XML/Capture").join(folder), "xml") {
            let stem = xml
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let json = openepcis
                .join("JSON/Capture")
                .join(folder)
                .join(format!("{stem}.json"));
            if json.exists() {
                openepcis_tally.compare(&xml, &[json], &openepcis.join("JSON/Capture"));
            }
        }
    }
    for (who, t) in [("GS1", &gs1_tally), ("openepcis", &openepcis_tally)] {
        println!(
            "xml capture: {who}'s XML/JSON twins: {}/{} pairs hash the same throughout, {}/{} \
             JSON events have an XML twin of the same hash",
            t.pairs_ok, t.pairs, t.events_ok, t.events
        );
    }
    let problems: Vec<&String> = gs1_tally
        .problems
        .iter()
        .chain(&openepcis_tally.problems)
        .collect();
    assert!(
        gs1_tally.pairs > 0 && openepcis_tally.pairs > 0,
        "no pairs found"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Why a converted document is refused by the schema or the canonical event, if it is.
fn refusal(document: &Value) -> Option<String> {
    if let Err(violations) = validate_document(document) {
        let first: Vec<String> = violations.iter().take(3).map(|v| v.to_string()).collect();
        return Some(format!("schema: {}", first.join("; ")));
    }
    for (i, event) in events_of(document).into_iter().enumerate() {
        if let Err(e) = Event::from_json(event) {
            return Some(format!("event {i}: {e}"));
        }
    }
    None
}

/// `(file, part of why)`: documents that convert but are refused by the schema, which is
/// stricter than GS1's XSD there (the same as their JSON twins in schema_corpus.rs).
const CONVERTED_BUT_REFUSED: &[(&str, &str)] = &[
    // GS1's JSON Schema lets only ObjectEvent and TransformationEvent have a
    // persistentDisposition; GS1's XSD lets every event type (GS1's own XML example).
    (
        "XML/Example-PersistentDisposition.xml",
        "\"persistentDisposition\" is not a field",
    ),
    (
        "XML/Capture/Documents/AggregationEvent_with_persistentDisposition.xml",
        "\"persistentDisposition\" is not a field",
    ),
    // Sensor types none of GS1's 72 (gs1:Molar_concentration, gs1:EffectiveDoseRate), and a
    // sensor report with no type (the XSD has it optional, the JSON Schema required).
    (
        "XML/WithSensorData/SensorDataExamples.xml",
        "Molar_concentration\" is in a namespace GS1 keeps",
    ),
    (
        "XML/Capture/Documents/SensorData_with_combined_events.xml",
        "Molar_concentration\" is in a namespace GS1 keeps",
    ),
    (
        "XML/WithExtension/TransactionEvent.xml",
        "EffectiveDoseRate\" is in a namespace GS1 keeps",
    ),
    (
        "XML/Capture/Documents/TransactionEvent_with_userExtensions.xml",
        "EffectiveDoseRate\" is in a namespace GS1 keeps",
    ),
    // The same EPC twice in one epcList: JSON Schema's uniqueItems, nothing in the XSD.
    (
        "XML/Capture/Documents/epcisDocWithAllGS1Keys.xml",
        "/epcList: the value has non-unique elements",
    ),
];

#[test]
fn every_xml_example_converts_reads_and_validates() {
    let (Some(gs1), Some(openepcis)) = (
        common::shared(GS1, "GS1's examples"),
        common::shared(OPENEPCIS, "openepcis' capture documents"),
    ) else {
        return;
    };
    let sets = [
        ("GS1's XML examples", &gs1, "XML"),
        (
            "openepcis XML Capture/Documents",
            &openepcis,
            "XML/Capture/Documents",
        ),
        (
            "openepcis XML Capture/Events",
            &openepcis,
            "XML/Capture/Events",
        ),
    ];
    let mut problems = Vec::new();
    for (what, base, folder) in sets {
        let (mut valid, mut events, mut total, mut listed) = (0, 0, 0, 0);
        let dir = base.join(folder);
        for path in files(&dir, "xml") {
            let file = relative(&path, base);
            total += 1;
            let rule = NOT_EVENT_DOCUMENTS.iter().find(|(f, _)| *f == file);
            let expected = CONVERTED_BUT_REFUSED.iter().find(|(f, _)| *f == file);
            let outcome = convert(&path).map(|d| (events_of(&d).len(), refusal(&d)));
            match (
                outcome,
                rule.map(|r| r.1).or(not_converted(&file)),
                expected,
            ) {
                (Err(e), Some(why), None) => {
                    listed += 1;
                    println!("  not converted, as listed: {file} ({why}): {e}");
                }
                (Ok((n, None)), None, None) => (valid, events) = (valid + 1, events + n),
                (Ok((n, Some(r))), None, Some((_, part))) if r.contains(part) => {
                    (listed, events) = (listed + 1, events + n);
                    println!("  converted, refused as listed: {file}: {r}");
                }
                (Err(e), _, _) => problems.push(format!("{file}: not converted: {e}")),
                (Ok((_, Some(r))), _, _) => problems.push(format!("{file}: refused: {r}")),
                (Ok(_), _, _) => problems.push(format!("{file} is listed but passes: unlist it")),
            }
        }
        println!(
            "xml capture: {what}: {valid}/{total} convert, read and validate ({events} events \
             read), {listed} listed with why"
        );
        assert!(total > 0, "no XML files in {}", dir.display());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Which check refuses an invalid document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Catcher {
    /// `document_from_xml`.
    Reader,
    /// `validate_document` of the converted document.
    Schema,
    /// `Event::from_json` of its events.
    Event,
}

/// openepcis' invalid XML capture documents: what refuses each first (reader, then schema,
/// then canonical event), and a part of what it says.
const INVALID: &[(&str, Catcher, &str)] = &[
    (
        "ObjectEvent_bare_event_without_action.xml",
        Catcher::Schema,
        "\"action\" is a required property",
    ),
    (
        "ObjectEvent_with_invalid_action.xml",
        Catcher::Schema,
        "/epcisBody/eventList/0/action: \"CREATE\" is not one of",
    ),
    (
        "ObjectEvent_with_invalid_eventTime_format.xml",
        Catcher::Schema,
        "\"22-07-2026\" is not a \"date-time\"",
    ),
    (
        "ObjectEvent_with_near_miss_action.xml",
        Catcher::Schema,
        "\"OBSERV\" is not one of",
    ),
    (
        "ObjectEvent_with_unknown_element.xml",
        Catcher::Reader,
        "ObjectEvent/madeUpField: no field `madeUpField`",
    ),
    (
        "ObjectEvent_with_wrong_element_order.xml",
        Catcher::Reader,
        "ObjectEvent/eventTime: `eventTime` after `action`",
    ),
    (
        "ObjectEvent_without_eventTime.xml",
        Catcher::Schema,
        "\"eventTime\" is a required property",
    ),
];

/// What refuses a document first, and what it says; `None` when all accept it.
fn first_refusal(path: &Path) -> Option<(Catcher, String)> {
    let document = match convert(path) {
        Ok(d) => d,
        Err(e) => return Some((Catcher::Reader, e)),
    };
    if let Err(violations) = validate_document(&document) {
        let all: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        return Some((Catcher::Schema, all.join("; ")));
    }
    events_of(&document)
        .into_iter()
        .find_map(|e| Event::from_json(e).err())
        .map(|e| (Catcher::Event, e.to_string()))
}

#[test]
fn openepcis_invalid_xml_is_refused() {
    let Some(openepcis) = common::shared(OPENEPCIS, "openepcis' invalid documents") else {
        return;
    };
    let dir = openepcis.join("XML/Capture/Invalid");
    let (mut counts, mut total, mut problems) = ([0; 3], 0, Vec::new());
    for path in files(&dir, "xml") {
        let file = name(&path);
        total += 1;
        let listed = INVALID.iter().find(|(f, _, _)| *f == file);
        match (first_refusal(&path), listed) {
            (None, _) => problems.push(format!("{file} is accepted")),
            (Some((by, said)), Some((_, want, part))) if by == *want && said.contains(part) => {
                counts[by as usize] += 1;
                println!("  {file}: refused by the {by:?}: {said}");
            }
            (Some((by, said)), _) => problems.push(format!(
                "{file}: refused by the {by:?} ({said}), not as listed"
            )),
        }
    }
    println!(
        "xml capture: openepcis XML Capture/Invalid: {}/{total} refused: {} by the XML reader, \
         {} by the schema, {} by the canonical event",
        counts.iter().sum::<usize>(),
        counts[0],
        counts[1],
        counts[2]
    );
    assert!(total > 0, "no files in {}", dir.display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
