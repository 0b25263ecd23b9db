//! `epcis::validate_document` (GS1's EPCIS 2.0 JSON Schema) on the example documents of
//! `../shared/data`: GS1's own (`gs1/epcis/JSON`, gs1/EPCIS 2b888be) and openepcis' test
//! resources (`epcis-tests/openepcis/2.0/EPCIS/JSON/Capture`, openepcis-test-resources
//! 901e5d3).
//!
//! Which files count: every `*.json` and `*.jsonld` below those folders, read as JSON. Of
//! GS1's examples those whose top-level `type` is `EPCISDocument` must validate; the others
//! (query documents, which nothing captures) are counted and skipped. Of openepcis'
//! `Capture`, every document in `Documents` and every single event in `Events` (captured on
//! its own, with its `@context`) must validate, but for the ones listed in
//! [`VALID_BUT_REFUSED`], where GS1's schema disagrees with openepcis; every document in
//! `Invalid` must be refused, each for the reasons its name gives ([`INVALID`]), or be
//! listed in [`BEYOND_THE_SCHEMA`] with the rule that would refuse it.

mod common;

use epcis::{validate_document, SchemaViolation};
use std::path::{Path, PathBuf};

/// GS1's examples, in `../shared/data`.
const GS1_EXAMPLES: &str = "gs1/epcis/JSON";
/// openepcis' capture documents, in `../shared/data`.
const OPENEPCIS_CAPTURE: &str = "epcis-tests/openepcis/2.0/EPCIS/JSON/Capture";

/// A violation expected in a file: `(file name, instance path, part of the message)`.
type Expected = (&'static str, &'static str, &'static str);

/// openepcis' valid documents that GS1's schema refuses, each with what it refuses. GS1's
/// schema is what we check against, so these are refused; each reason is a disagreement
/// between openepcis' file and GS1's schema (see the comments).
const VALID_BUT_REFUSED: &[Expected] = &[
    // GS1's JSON Schema lets only ObjectEvent and TransformationEvent have a
    // persistentDisposition; GS1's XSD (EPCglobal-epcis-2_0.xsd) lets every event type.
    (
        "AggregationEvent_with_persistentDisposition.json",
        "/epcisBody/eventList/1",
        "\"persistentDisposition\" is not a field",
    ),
    // Not one of GS1's 72 measurement types (the context's and the schema's), nor a URI.
    (
        "SensorData_with_combined_events.json",
        "/epcisBody/eventList/7/sensorElementList/0/sensorReport/1/type",
        "\"Molar_concentration\" is neither one of the 72 standard words of measurementType",
    ),
    // A sensor report with an exception and no type: GS1's JSON Schema requires its type,
    // GS1's XSD has it optional.
    (
        "SensorData_with_combined_events.json",
        "/epcisBody/eventList/8/sensorElementList/0/sensorReport/0",
        "\"type\" is a required property",
    ),
    // Not one of GS1's 72 measurement types (there are AbsorbedDoseRate and
    // DoseEquivalentRate), nor a URI.
    (
        "TransactionEvent_with_userExtensions.json",
        "/epcisBody/eventList/0/sensorElementList/0/sensorReport/0/type",
        "\"EffectiveDoseRate\" is neither one of the 72 standard words of measurementType",
    ),
];

/// openepcis' invalid documents, each with the violations its name calls for.
const INVALID: &[Expected] = &[
    (
        "Combination_of_events_with_missing_mandatory_fields.json",
        "/epcisBody/eventList/0",
        "\"action\" is a required property",
    ),
    (
        "Combination_of_events_with_missing_mandatory_fields.json",
        "/epcisBody/eventList/1",
        "\"eventTimeZoneOffset\" is a required property",
    ),
    (
        "Combination_of_events_with_missing_mandatory_fields.json",
        "/epcisBody/eventList/1",
        "\"action\" is a required property",
    ),
    (
        "Combination_of_multiple_invalid_fields.json",
        "/epcisBody/eventList/0/bizStep",
        "\"transforming\" is neither one of the 41 standard words of bizStep",
    ),
    (
        "Combination_of_multiple_invalid_fields.json",
        "/epcisBody/eventList/1/disposition",
        "\"in_transport\" is neither one of the 33 standard words of disposition",
    ),
    (
        "Combination_of_multiple_invalid_fields.json",
        "/epcisBody/eventList/2/sourceList/0/type",
        "\"place\" is neither one of the 3 standard words of source-dest-type",
    ),
    (
        "Combination_of_multiple_invalid_fields.json",
        "/epcisBody/eventList/3/ilmd",
        "\"materialType\" is not a field",
    ),
    (
        "Combination_of_multiple_invalid_fields.json",
        "/epcisBody/eventList/4/eventTime",
        "\"22-07-2026\" is not a \"date-time\"",
    ),
    (
        "Combination_of_multiple_invalid_fields.json",
        "/epcisBody/eventList/4/action",
        "\"CREATE\" is not one of",
    ),
    (
        "Combination_of_non_standard_bizStep_and_disposition.json",
        "/epcisBody/eventList/0/bizStep",
        "\"transforming\" is neither one of the 41 standard words of bizStep",
    ),
    (
        "Combination_of_non_standard_bizStep_and_disposition.json",
        "/epcisBody/eventList/1/disposition",
        "\"in_transport\" is neither one of the 33 standard words of disposition",
    ),
    (
        "EPCISDocument_without_context.json",
        "",
        "\"@context\" is a required property",
    ),
    (
        "ObjectEvent_with_ilmd_field_without_namespace.json",
        "/epcisBody/eventList/0/ilmd",
        "\"materialType\" is not a field",
    ),
    (
        "ObjectEvent_with_invalid_action.json",
        "/epcisBody/eventList/0/action",
        "\"CREATE\" is not one of",
    ),
    (
        "ObjectEvent_with_invalid_certificationInfo.json",
        "/epcisBody/eventList/0/certificationInfo",
        "not valid under any of the schemas",
    ),
    (
        "ObjectEvent_with_invalid_eventTime_format.json",
        "/epcisBody/eventList/0/eventTime",
        "\"22-07-2026\" is not a \"date-time\"",
    ),
    (
        "ObjectEvent_with_non_standard_bizStep.json",
        "/epcisBody/eventList/0/bizStep",
        "\"transforming\" is neither one of the 41 standard words of bizStep",
    ),
    (
        "ObjectEvent_with_non_standard_bizStep_in_second_event.json",
        "/epcisBody/eventList/1/bizStep",
        "\"transforming\" is neither one of the 41 standard words of bizStep",
    ),
    (
        "ObjectEvent_with_non_standard_disposition.json",
        "/epcisBody/eventList/0/disposition",
        "\"in_transport\" is neither one of the 33 standard words of disposition",
    ),
    (
        "ObjectEvent_with_quantity_as_text.json",
        "/epcisBody/eventList/0/quantityList/0/quantity",
        "\"twenty\" is not of type \"number\"",
    ),
    (
        "ObjectEvent_with_unknown_field_in_quantityList.json",
        "/epcisBody/eventList/0/quantityList/0",
        "'weight' was unexpected",
    ),
    (
        "ObjectEvent_without_action_and_eventTime.json",
        "/epcisBody/eventList/0",
        "\"eventTime\" is a required property",
    ),
    (
        "ObjectEvent_without_action_and_eventTime.json",
        "/epcisBody/eventList/0",
        "\"action\" is a required property",
    ),
    // GS1's ObjectEvent: anyOf (an epcList, a quantityList)
    (
        "ObjectEvent_without_identifier_list.json",
        "/epcisBody/eventList/0",
        "not valid under any of the schemas listed in the 'anyOf' keyword",
    ),
];

/// openepcis' invalid documents that GS1's schema accepts, each with the rule beyond the
/// schema that refuses it: none. The schema refuses them all because `format` is asserted
/// (draft-07 leaves that to the validator): a non-standard bare word for bizStep,
/// disposition or a source's type, and an ilmd field without a namespace, are refused as not
/// URIs (`"format": "uri"`), and `22-07-2026` as not a date-time. With `format` as an
/// annotation only, six would pass: `Combination_of_non_standard_bizStep_and_disposition`,
/// `ObjectEvent_with_ilmd_field_without_namespace`, `ObjectEvent_with_invalid_eventTime_format`,
/// `ObjectEvent_with_non_standard_bizStep` (and `_in_second_event`) and
/// `ObjectEvent_with_non_standard_disposition`.
const BEYOND_THE_SCHEMA: &[(&str, &str)] = &[];

/// Every `*.json` and `*.jsonld` file below `dir`, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    common::files_with(dir, &["json", "jsonld"])
}

fn name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
}

/// A file's violations (none when it validates).
fn violations(path: &Path) -> Vec<SchemaViolation> {
    validate_document(&common::read_json(path))
        .err()
        .unwrap_or_default()
}

/// The rows of `table` for `file` that none of its violations matches.
fn unmatched(table: &[Expected], file: &str, found: &[SchemaViolation]) -> Vec<String> {
    table
        .iter()
        .filter(|(f, _, _)| *f == file)
        .filter(|(_, at, what)| {
            !found
                .iter()
                .any(|v| v.instance_path == *at && v.message.contains(what))
        })
        .map(|(_, at, what)| format!("{file}: no violation at {at:?} saying {what:?}"))
        .collect()
}

fn listed(table: &[Expected], file: &str) -> bool {
    table.iter().any(|(f, _, _)| *f == file)
}

/// Each violation on its own line, for a failure's message.
fn show(file: &str, found: &[SchemaViolation]) -> String {
    let lines: Vec<String> = found.iter().map(|v| format!("    {v}")).collect();
    format!("{file}:\n{}", lines.join("\n"))
}

#[test]
fn gs1_examples_validate() {
    let Some(dir) = common::shared(GS1_EXAMPLES, "GS1's example documents") else {
        return;
    };
    let (mut valid, mut total, mut skipped, mut failures) = (0, 0, Vec::new(), Vec::new());
    for path in json_files(&dir) {
        let kind = common::read_json(&path)["type"]
            .as_str()
            .map(str::to_string);
        if kind.as_deref() != Some("EPCISDocument") {
            skipped.push(format!("{} ({})", name(&path), kind.unwrap_or_default()));
            continue;
        }
        total += 1;
        match violations(&path) {
            found if found.is_empty() => valid += 1,
            found => failures.push(show(name(&path), &found)),
        }
    }
    println!(
        "schema: GS1's examples: {valid}/{total} EPCIS documents valid; {} skipped, not \
         EPCISDocument: {}",
        skipped.len(),
        skipped.join(", ")
    );
    assert!(total > 0, "no EPCIS documents in {}", dir.display());
    assert!(
        failures.is_empty(),
        "GS1's examples refused:\n{}",
        failures.join("\n")
    );
}

#[test]
fn openepcis_capture_documents_and_events_validate() {
    let Some(dir) = common::shared(OPENEPCIS_CAPTURE, "openepcis' capture documents") else {
        return;
    };
    let mut problems = Vec::new();
    for folder in ["Documents", "Events"] {
        let (mut valid, mut refused_as_listed, mut total) = (0, 0, 0);
        for path in json_files(&dir.join(folder)) {
            let (file, found) = (name(&path), violations(&path));
            total += 1;
            if listed(VALID_BUT_REFUSED, file) {
                refused_as_listed += usize::from(!found.is_empty());
                problems.extend(unmatched(VALID_BUT_REFUSED, file, &found));
                if found.is_empty() {
                    problems.push(format!("{file} now validates: unlist it"));
                }
            } else if found.is_empty() {
                valid += 1;
            } else {
                problems.push(show(file, &found));
            }
        }
        println!(
            "schema: openepcis Capture/{folder}: {valid}/{total} valid, {refused_as_listed} \
             refused as listed (GS1's schema against openepcis)"
        );
        assert!(total > 0, "no files in {}", dir.join(folder).display());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn openepcis_invalid_documents_are_refused() {
    let Some(dir) = common::shared(OPENEPCIS_CAPTURE, "openepcis' invalid documents") else {
        return;
    };
    let (mut refused, mut total, mut problems) = (0, 0, Vec::new());
    for path in json_files(&dir.join("Invalid")) {
        let (file, found) = (name(&path), violations(&path));
        total += 1;
        let beyond = BEYOND_THE_SCHEMA.iter().find(|(f, _)| *f == file);
        match (found.first(), beyond) {
            (Some(first), None) => {
                refused += 1;
                println!("  refused {file}: {first}");
                if !listed(INVALID, file) {
                    problems.push(format!("{file} is not in INVALID: say why it is refused"));
                }
                problems.extend(unmatched(INVALID, file, &found));
            }
            (None, Some((_, rule))) => println!("  beyond the schema {file}: {rule}"),
            (None, None) => problems.push(format!("{file} is accepted by the schema")),
            (Some(_), Some(_)) => problems.push(format!("{file} is now refused: unlist it")),
        }
    }
    println!(
        "schema: openepcis Capture/Invalid: {refused}/{total} refused by the schema, {} need \
         a rule beyond it",
        BEYOND_THE_SCHEMA.len()
    );
    assert!(total > 0, "no files in {}", dir.join("Invalid").display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
