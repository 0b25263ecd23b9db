//! Generates `src/vocab/tables.rs` from GS1's EPCIS 2.0 artefacts in
//! `../shared/data/gs1/epcis` and checks that the committed file is what they give now
//! (`TRACEMARK_REGENERATE=1` writes it instead).
//!
//! The bare words and the IRIs they expand to come from the JSON-LD context
//! (`epcis-context.jsonld`), which is what defines them for JSON-LD and what the event hash
//! expands; the EPCIS 1.x URNs come from the CBV ontology (`ontology/CBV.ttl`, each word's
//! `owl:sameAs`). Each vocabulary's words must also be those of the JSON Schema's enum
//! (`EPCIS-JSON-Schema.json`) and, for the CBV ones, the ontology's individuals of its
//! class: where GS1's files disagree, generation fails and says how.

mod common;

use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// GS1's EPCIS artefacts, in `../shared/data`.
const GS1_EPCIS: &str = "gs1/epcis";
/// The generated file, in this crate.
const TABLES: &str = "src/vocab/tables.rs";

/// One generated vocabulary.
struct Spec {
    /// The Rust constant.
    konst: &'static str,
    /// Its doc comment.
    doc: &'static str,
    /// The keys, from the context's top, to the term definition whose `@context` lists the
    /// bare words.
    path: &'static [&'static str],
    /// Other term definitions with the same words (checked).
    same_as: &'static [&'static [&'static str]],
    /// Its definition in the JSON Schema (an enum, or an `anyOf` with one).
    schema: &'static str,
    /// Its class in the CBV ontology, for the CBV vocabularies.
    class: Option<&'static str>,
}

const SENSOR_REPORT: [&str; 2] = ["sensorElementList", "sensorReport"];

const SPECS: &[Spec] = &[
    Spec {
        konst: "BIZ_STEP",
        doc: "Business steps: `bizStep`.",
        path: &["bizStep"],
        same_as: &[],
        schema: "bizStep",
        class: Some("BizStep"),
    },
    Spec {
        konst: "DISPOSITION",
        doc: "Dispositions: `disposition`, and `persistentDisposition`'s `set` and `unset`.",
        path: &["disposition"],
        same_as: &[&["persistentDisposition"]],
        schema: "disposition",
        class: Some("Disp"),
    },
    Spec {
        konst: "BIZ_TRANSACTION_TYPE",
        doc: "Business transaction types: `bizTransactionList[].type`.",
        path: &["bizTransactionList", "type"],
        same_as: &[],
        schema: "bizTransaction-type",
        class: Some("BTT"),
    },
    Spec {
        konst: "SOURCE_DEST_TYPE",
        doc: "Source and destination types: `sourceList[].type`, `destinationList[].type`.",
        path: &["sourceList", "type"],
        same_as: &[&["destinationList", "type"]],
        schema: "source-dest-type",
        class: Some("SDT"),
    },
    Spec {
        konst: "MEASUREMENT_TYPE",
        doc: "Measurement types (GS1 web vocabulary): `sensorReport[].type`.",
        path: &[SENSOR_REPORT[0], SENSOR_REPORT[1], "type"],
        same_as: &[],
        schema: "measurementType",
        class: None,
    },
    Spec {
        konst: "SENSOR_ALERT_TYPE",
        doc: "Sensor alert types (GS1 web vocabulary): `sensorReport[].exception`.",
        path: &[SENSOR_REPORT[0], SENSOR_REPORT[1], "exception"],
        same_as: &[],
        schema: "sensorAlertType",
        class: None,
    },
    Spec {
        konst: "COMPONENT",
        doc: "Components (of a coordinate): `sensorReport[].component`.",
        path: &[SENSOR_REPORT[0], SENSOR_REPORT[1], "component"],
        same_as: &[],
        schema: "component",
        class: Some("Comp"),
    },
    Spec {
        konst: "ERROR_REASON",
        doc: "Error reasons: `errorDeclaration.reason`.",
        path: &["errorDeclaration", "reason"],
        same_as: &[],
        schema: "error-reason",
        class: Some("ER"),
    },
];

/// A JSON-LD context's term definitions: the objects of an array, or an object.
fn definitions(context: &Value) -> Vec<(&String, &Value)> {
    match context {
        Value::Array(items) => items.iter().flat_map(definitions).collect(),
        Value::Object(map) => map.iter().collect(),
        _ => Vec::new(),
    }
}

/// The bare words the term definition at `path` lists in its `@context`, each with the
/// compact IRI it stands for (`shipping` → `cbv:BizStep-shipping`).
fn context_words(context: &Value, path: &[&str]) -> BTreeMap<String, String> {
    let mut scope = context;
    for key in path {
        let found = definitions(scope).into_iter().find(|(k, _)| k == key);
        let Some((_, definition)) = found else {
            panic!("epcis-context.jsonld: no term definition at {path:?}");
        };
        scope = definition.get("@context").unwrap_or(&Value::Null);
    }
    definitions(scope)
        .into_iter()
        .filter(|(k, _)| !k.starts_with('@'))
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .filter(|(_, iri)| iri.starts_with("cbv:") || iri.starts_with("gs1:"))
        .collect()
}

/// The common start of the words' IRIs, each being it followed by the word.
fn common_prefix(
    spec: &Spec,
    words: &BTreeMap<String, String>,
    prefixes: &[(&str, &str)],
) -> String {
    let mut common = BTreeSet::new();
    for (word, curie) in words {
        let (prefix, rest) = curie.split_once(':').unwrap_or(("", curie));
        let Some((_, namespace)) = prefixes.iter().find(|(p, _)| *p == prefix) else {
            panic!("{}: {word} is {curie}, an unknown prefix", spec.konst);
        };
        let Some(start) = rest.strip_suffix(word.as_str()) else {
            panic!(
                "{}: {word} is {curie}, which does not end with it",
                spec.konst
            );
        };
        common.insert(format!("{namespace}{start}"));
    }
    assert_eq!(
        common.len(),
        1,
        "{}: the words' IRIs start differently: {common:?}",
        spec.konst
    );
    common.pop_first().unwrap_or_default()
}

/// The enum of a JSON Schema definition (its own or that of one of its `anyOf`).
fn schema_enum(schema: &Value, name: &str) -> BTreeSet<String> {
    let definition = &schema["definitions"][name];
    let mut options = vec![definition];
    if let Some(Value::Array(any)) = definition.get("anyOf") {
        options.extend(any);
    }
    let Some(Value::Array(words)) = options.iter().find_map(|o| o.get("enum")) else {
        panic!("EPCIS-JSON-Schema.json: definitions/{name} has no enum");
    };
    words
        .iter()
        .filter_map(|w| Some(w.as_str()?.to_string()))
        .collect()
}

/// The CBV ontology's individuals: class → word → `owl:sameAs` URN, if any. Turtle read as
/// GS1 writes this file: each individual a block starting `cbv:<Class>-<word>  a  cbv:<Class>`.
fn ontology(ttl: &str) -> BTreeMap<String, BTreeMap<String, Option<String>>> {
    let subject = Regex::new(r"(?m)^cbv:(\w+)-(\S+)\s+a\s+cbv:(\w+)\s*[;.]").expect("regex");
    let same_as = Regex::new(r"owl:sameAs\s+<([^>]+)>").expect("regex");
    let starts: Vec<_> = subject.captures_iter(ttl).collect();
    let mut classes: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    for (i, caps) in starts.iter().enumerate() {
        let whole = caps.get(0).expect("a match");
        let end = starts
            .get(i + 1)
            .map_or(ttl.len(), |c| c.get(0).expect("a match").start());
        let block = &ttl[whole.start()..end];
        assert_eq!(
            &caps[1],
            &caps[3],
            "CBV.ttl: {} is not of its class",
            whole.as_str()
        );
        let urn = same_as.captures(block).map(|c| c[1].to_string());
        classes
            .entry(caps[1].to_string())
            .or_default()
            .insert(caps[2].to_string(), urn);
    }
    classes
}

/// The common start of the URNs of a class's words, each being it followed by the word.
fn urn_prefix(class: &str, words: &BTreeMap<String, Option<String>>) -> Option<String> {
    let starts: BTreeSet<Option<String>> = words
        .iter()
        .map(|(word, urn)| {
            urn.as_ref()
                .map(|u| u.strip_suffix(word.as_str()).unwrap_or(u).to_string())
        })
        .collect();
    assert_eq!(
        starts.len(),
        1,
        "CBV.ttl: cbv:{class}'s URNs start differently: {starts:?}"
    );
    starts.into_iter().next().flatten()
}

/// Words found in one place and not the other, both ways, or `None` when they are equal.
fn difference(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Option<String> {
    let only_a: Vec<_> = a.difference(b).collect();
    let only_b: Vec<_> = b.difference(a).collect();
    (!only_a.is_empty() || !only_b.is_empty())
        .then(|| format!("only in the context: {only_a:?}; only in the other: {only_b:?}"))
}

/// One generated vocabulary, after checking GS1's files agree on it.
struct Generated {
    iri_prefix: String,
    urn_prefix: Option<String>,
    words: BTreeSet<String>,
}

/// What one spec generates to, from the parsed artefacts.
fn generate(spec: &Spec, gs1: &Artefacts) -> Generated {
    let prefixes = gs1.prefixes();
    let found = context_words(&gs1.context, spec.path);
    let words: BTreeSet<String> = found.keys().cloned().collect();
    assert!(
        !words.is_empty(),
        "epcis-context.jsonld: no words at {:?}",
        spec.path
    );
    for other in spec.same_as {
        let again: BTreeSet<String> = context_words(&gs1.context, other).into_keys().collect();
        if let Some(d) = difference(&words, &again) {
            panic!(
                "{}: epcis-context.jsonld at {other:?} differs: {d}",
                spec.konst
            );
        }
    }
    if let Some(d) = difference(&words, &schema_enum(&gs1.schema, spec.schema)) {
        panic!(
            "{}: the schema's definitions/{} differs: {d}",
            spec.konst, spec.schema
        );
    }
    let urn_prefix = spec.class.and_then(|class| {
        let Some(individuals) = gs1.ontology.get(class) else {
            panic!("CBV.ttl: no individuals of cbv:{class}");
        };
        let listed: BTreeSet<String> = individuals.keys().cloned().collect();
        if let Some(d) = difference(&words, &listed) {
            panic!("{}: CBV.ttl's cbv:{class} differs: {d}", spec.konst);
        }
        urn_prefix(class, individuals)
    });
    Generated {
        iri_prefix: common_prefix(spec, &found, &prefixes),
        urn_prefix,
        words,
    }
}

/// GS1's files, parsed.
struct Artefacts {
    source: String,
    context: Value,
    schema: Value,
    ontology: BTreeMap<String, BTreeMap<String, Option<String>>>,
}

impl Artefacts {
    /// The context's namespace prefixes used by the vocabularies.
    fn prefixes(&self) -> Vec<(&str, &str)> {
        ["cbv", "gs1"]
            .into_iter()
            .map(|p| match self.context[p].as_str() {
                Some(iri) => (p, iri),
                None => panic!("epcis-context.jsonld: no prefix {p}"),
            })
            .collect()
    }
}

const HEADER: &str = "\
// @generated by crates/epcis/tests/vocab_generated.rs: do not edit.
//
// From GS1's EPCIS 2.0 artefacts in ../shared/data/gs1/epcis, whose SOURCE.txt says:
";

/// The text of `src/vocab/tables.rs`.
fn render(gs1: &Artefacts) -> String {
    let mut out = String::from(HEADER);
    for line in gs1.source.lines().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(out, "//   {}", line.trim());
    }
    out.push_str(
        "// The bare words and their IRIs: epcis-context.jsonld (the JSON-LD context); the\n\
         // EPCIS 1.x URNs: ontology/CBV.ttl (each word's owl:sameAs); the words checked equal\n\
         // to the enums of EPCIS-JSON-Schema.json and to the individuals of CBV.ttl's classes.\n\
         // Regenerate: TRACEMARK_REGENERATE=1 cargo test -p epcis --test vocab_generated\n\n\
         use super::Vocabulary;\n",
    );
    for (name, prefix) in [("CBV_NAMESPACE", "cbv"), ("GS1_NAMESPACE", "gs1")] {
        let iri = gs1.context[prefix].as_str().unwrap_or_default();
        let _ = write!(
            out,
            "\n/// What the JSON-LD context's `{prefix}:` prefix stands for.\n\
             pub const {name}: &str = {iri:?};\n"
        );
    }
    for spec in SPECS {
        render_vocabulary(&mut out, spec, &generate(spec, gs1));
    }
    out.push_str(
        "\n/// Every vocabulary above.\n#[rustfmt::skip]\npub const ALL: &[&Vocabulary] = &[\n",
    );
    for spec in SPECS {
        let _ = writeln!(out, "    &{},", spec.konst);
    }
    out.push_str("];\n");
    out
}

fn render_vocabulary(out: &mut String, spec: &Spec, g: &Generated) {
    let urn = match &g.urn_prefix {
        Some(u) => format!("Some({u:?})"),
        None => "None".to_string(),
    };
    let _ = write!(
        out,
        "\n/// {}\n#[rustfmt::skip]\npub const {}: Vocabulary = Vocabulary {{\n    \
         name: {:?},\n    iri_prefix: {:?},\n    urn_prefix: {urn},\n    terms: &[\n",
        spec.doc, spec.konst, spec.schema, g.iri_prefix
    );
    for word in &g.words {
        let _ = writeln!(out, "        {word:?},");
    }
    out.push_str("    ],\n};\n");
}

#[test]
fn vocabulary_tables_are_generated_from_gs1() {
    let Some(dir) = common::shared(GS1_EPCIS, "the vocabulary tables' check") else {
        return;
    };
    let context = common::read_json(&dir.join("epcis-context.jsonld"));
    let gs1 = Artefacts {
        source: common::read(&dir.join("SOURCE.txt")),
        context: context["@context"].clone(),
        schema: common::read_json(&dir.join("EPCIS-JSON-Schema.json")),
        ontology: ontology(&common::read(&dir.join("ontology/CBV.ttl"))),
    };
    let text = render(&gs1);
    common::check_generated(TABLES, text.as_bytes(), "vocab_generated");
}
