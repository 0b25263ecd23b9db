//! What is wrong with a malformed code, in the shopper's words.
//!
//! The registry's answer names the fault by a stable word (`bad_check_digit`, …) and a
//! technical sentence; the page re-reads the code with the same GS1 parser to get the
//! fault's parts (which digit was expected, which character is not allowed) and says it
//! in the page's language.

use crate::strings::{fill, FaultText};
use gs1::{Ai, Gs1Error};

fn field(t: &FaultText, ai: Option<Ai>) -> String {
    match ai.map(|a| a.code()) {
        Some("01") => t.field_gtin.into(),
        Some("21") => t.field_serial.into(),
        Some("00") => t.field_sscc.into(),
        Some("91") => t.field_kid.into(),
        Some("92") => t.field_sig.into(),
        Some("93") => t.field_short.into(),
        Some(code) => fill(t.field_other, &[("ai", code)]),
        None => t.field_link.into(),
    }
}

/// The fault of `input` in words: from the GS1 parser's own error when the input does
/// not parse, else from the registry's `reason` (a well-formed element string that is
/// still no marking code: a GTIN without a serial, say).
pub fn describe(t: &FaultText, input: &str, reason: &str) -> String {
    match gs1::parse(input) {
        Err(e) => describe_error(t, &e),
        Ok(_) if reason == "empty" => t.empty.into(),
        Ok(_) => t.format.into(),
    }
}

/// One GS1 error in words.
pub fn describe_error(t: &FaultText, e: &Gs1Error) -> String {
    match e {
        Gs1Error::BadCheckDigit {
            ai,
            expected,
            found,
            ..
        } => fill(
            t.check_digit,
            &[
                ("field", &field(t, Some(*ai))),
                ("expected", &expected.to_string()),
                ("found", &found.to_string()),
            ],
        ),
        Gs1Error::BadLength {
            ai, len, min, max, ..
        } => {
            let expected = if min == max {
                min.to_string()
            } else {
                fill(
                    t.range,
                    &[("min", &min.to_string()), ("max", &max.to_string())],
                )
            };
            fill(
                t.length,
                &[
                    ("field", &field(t, Some(*ai))),
                    ("len", &len.to_string()),
                    ("expected", &expected),
                ],
            )
        }
        Gs1Error::BadCharacter { ai, ch, .. } => {
            // A control or invisible character is named by its code point.
            let shown = if ch.is_control() || ch.is_whitespace() {
                format!("U+{:04X}", u32::from(*ch))
            } else {
                ch.to_string()
            };
            fill(t.character, &[("field", &field(t, *ai)), ("ch", &shown)])
        }
        Gs1Error::UnknownAi { ai, .. } => fill(t.unknown_ai, &[("ai", ai)]),
        Gs1Error::Empty => t.empty.into(),
        Gs1Error::BadDate { ai, value, .. } => {
            fill(t.date, &[("field", &field(t, Some(*ai))), ("value", value)])
        }
        Gs1Error::DuplicateAi { ai, .. } => fill(t.duplicate, &[("field", &field(t, Some(*ai)))]),
        _ => t.format.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strings::{EN, RU};

    #[test]
    fn check_digit_in_words() {
        let link = "https://r.example/01/04650117240167/21/abc";
        assert_eq!(
            describe(&EN.fault, link, "bad_check_digit"),
            "The last digit of the GTIN should be 3, it is 7: the number was mistyped or the label is fake."
        );
        assert!(
            describe(&RU.fault, link, "bad_check_digit").contains("должна быть 3, а на этикетке 7")
        );
    }

    #[test]
    fn other_faults_in_words() {
        let en = &EN.fault;
        assert_eq!(
            describe(
                en,
                "https://r.example/01/0465011724016/21/abc",
                "bad_length"
            ),
            "The GTIN has 13 characters; it should have 14."
        );
        assert_eq!(describe(en, "", "empty"), "The code is empty.");
        // Parses, but no serial: no marking code.
        assert_eq!(describe(en, "0104650117240163", "bad_format"), en.format);
        let s = describe(
            en,
            "https://r.example/01/04650117240163/21/a b",
            "bad_character",
        );
        assert!(s.contains("not allowed"), "{s}");
    }
}
