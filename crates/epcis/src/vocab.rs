//! The CBV 2.0 and GS1 vocabularies that EPCIS 2.0 JSON-LD writes as bare words.
//!
//! In an EPCIS 2.0 JSON document a standard value of `bizStep`, `disposition` (and
//! `persistentDisposition`'s `set` and `unset`), a business transaction's, source's or
//! destination's `type`, a sensor report's `type`, `exception` and `component`, and an
//! error declaration's `reason` is a bare word (`shipping`), which GS1's JSON-LD context
//! expands to a web vocabulary IRI (`https://ref.gs1.org/cbv/BizStep-shipping`); any other
//! value must be a URI. EPCIS 1.x wrote the CBV ones as URNs
//! (`urn:epcglobal:cbv:bizstep:shipping`).
//!
//! The tables ([`BIZ_STEP`], [`DISPOSITION`], …) are generated from GS1's artefacts (the
//! JSON-LD context, the CBV ontology, checked against the JSON Schema) by the test
//! `tests/vocab_generated.rs`, which fails when they no longer match; see the header of
//! `src/vocab/tables.rs`.

mod tables;

pub use tables::*;

/// One vocabulary: the bare words an EPCIS 2.0 JSON-LD document may use for a field, and
/// the IRIs and URNs they stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vocabulary {
    /// The name of its definition in GS1's EPCIS JSON Schema (`bizStep`, `error-reason`).
    pub name: &'static str,
    /// What a bare word is appended to, to make its IRI (`https://ref.gs1.org/cbv/BizStep-`).
    pub iri_prefix: &'static str,
    /// What a word is appended to, to make its EPCIS 1.x URN (`urn:epcglobal:cbv:bizstep:`),
    /// when the CBV ontology gives one.
    pub urn_prefix: Option<&'static str>,
    /// The bare words, sorted (byte order).
    pub terms: &'static [&'static str],
}

impl Vocabulary {
    /// Whether `word` is one of its bare words.
    pub fn contains(&self, word: &str) -> bool {
        self.terms.binary_search(&word).is_ok()
    }

    /// The IRI of one of its bare words (`shipping` → `https://ref.gs1.org/cbv/BizStep-shipping`),
    /// or `None` for any other string.
    pub fn expand(&self, word: &str) -> Option<String> {
        self.contains(word)
            .then(|| format!("{}{word}", self.iri_prefix))
    }
}

/// The vocabulary of a field whose standard values are bare words, given its name and that
/// of the object holding it (a list's name for its items: `sourceList` for a source's
/// `type`), or `None` for any other field.
pub fn for_field(parent: Option<&str>, field: &str) -> Option<&'static Vocabulary> {
    match (parent, field) {
        (_, "bizStep") => Some(&BIZ_STEP),
        (_, "disposition") | (Some("persistentDisposition"), "set" | "unset") => Some(&DISPOSITION),
        (Some("bizTransactionList"), "type") => Some(&BIZ_TRANSACTION_TYPE),
        (Some("sourceList" | "destinationList"), "type") => Some(&SOURCE_DEST_TYPE),
        (Some("sensorReport"), "type") => Some(&MEASUREMENT_TYPE),
        (Some("sensorReport"), "exception") => Some(&SENSOR_ALERT_TYPE),
        (Some("sensorReport"), "component") => Some(&COMPONENT),
        (Some("errorDeclaration"), "reason") => Some(&ERROR_REASON),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_expand() {
        for vocabulary in ALL {
            assert!(
                vocabulary.terms.windows(2).all(|w| w[0] < w[1]),
                "{} is not sorted",
                vocabulary.name
            );
        }
        assert_eq!(
            BIZ_STEP.expand("shipping").as_deref(),
            Some("https://ref.gs1.org/cbv/BizStep-shipping")
        );
        assert_eq!(BIZ_STEP.expand("transforming"), None);
        assert_eq!(DISPOSITION.urn_prefix, Some("urn:epcglobal:cbv:disp:"));
        assert!(MEASUREMENT_TYPE.contains("Temperature"));
        assert_eq!(MEASUREMENT_TYPE.urn_prefix, None);
        assert_eq!(
            for_field(Some("sourceList"), "type"),
            Some(&SOURCE_DEST_TYPE)
        );
        assert_eq!(
            for_field(Some("sensorReport"), "type"),
            Some(&MEASUREMENT_TYPE)
        );
        assert_eq!(for_field(Some("epcisBody"), "type"), None);
    }
}
