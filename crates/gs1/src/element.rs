//! [`ElementString`]: an ordered list of (AI, value), parsed from GS-separated raw data
//! or from the bracketed form, and printed back.

use crate::ai::{validate_value, Ai};
use crate::check::{Gtin, Sscc};
use crate::error::Gs1Error;
use std::fmt;
use std::str::FromStr;

/// ASCII 29, the group separator that stands for FNC1 in scanned data.
pub const GS: char = '\u{1d}';
const GS_BYTE: u8 = 0x1d;

/// Longest input accepted by the parsers, in bytes (a GS1 Data Matrix holds at most
/// 1,556 data characters; a Digital Link URI a little more after percent-encoding).
pub const INPUT_LEN_MAX: usize = 4096;
/// Most elements one element string may hold.
pub const ELEMENTS_MAX: usize = 64;

/// Symbology identifiers accepted (and dropped) in front of raw scan data: GS1 Data
/// Matrix, GS1-128, GS1 QR Code, GS1 DataBar, GS1 DotCode.
const SYMBOLOGY_IDS: [&[u8; 2]; 5] = [b"d2", b"C1", b"Q3", b"e0", b"J1"];

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Field {
    ai: Ai,
    start: u32,
    end: u32,
}

/// A GS1 element string: an ordered list of (AI, value) pairs, every value validated
/// against the AI table (length, character set, check digit, date) and no AI twice.
///
/// All values live in one buffer, so parsing costs two allocations whatever the number
/// of elements. Two element strings are equal when they hold the same pairs in the
/// same order.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct ElementString {
    buf: String,
    fields: Vec<Field>,
}

impl ElementString {
    /// An empty element string (to fill with [`ElementString::push`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The identification code pair `01` GTIN + `21` serial, validated.
    pub fn from_gtin_serial(gtin: Gtin, serial: &str) -> Result<Self, Gs1Error> {
        let mut es = Self::with_capacity(14 + serial.len(), 2);
        es.push(Ai::GTIN, &gtin.to_string())?;
        es.push(Ai::SERIAL, serial)?;
        Ok(es)
    }

    pub(crate) fn with_capacity(bytes: usize, fields: usize) -> Self {
        ElementString {
            buf: String::with_capacity(bytes),
            fields: Vec::with_capacity(fields),
        }
    }

    /// Appends one element after validating the value; rejects an AI already present.
    pub fn push(&mut self, ai: Ai, value: &str) -> Result<(), Gs1Error> {
        self.push_at(ai, value, 0)
    }

    /// Appends a value read from the input at byte position `pos` (error context).
    pub(crate) fn push_at(&mut self, ai: Ai, value: &str, pos: usize) -> Result<(), Gs1Error> {
        validate_value(ai, value.as_bytes(), pos)?;
        self.check_new(ai, pos)?;
        let start = self.buf.len();
        self.buf.push_str(value);
        self.commit(ai, start);
        Ok(())
    }

    /// Starts a value that the caller decodes into the buffer itself (escapes,
    /// percent-encoding): returns the start offset for [`Self::finish_decoded`].
    pub(crate) fn begin_decoded(&self) -> usize {
        self.buf.len()
    }

    /// Appends one ASCII byte of a value being decoded.
    pub(crate) fn push_decoded_byte(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.buf.push(char::from(b));
    }

    /// Ends a value started with [`Self::begin_decoded`]: validates and records it.
    pub(crate) fn finish_decoded(
        &mut self,
        ai: Ai,
        start: usize,
        pos: usize,
    ) -> Result<(), Gs1Error> {
        let r = validate_value(ai, &self.buf.as_bytes()[start..], pos)
            .and_then(|()| self.check_new(ai, pos));
        if r.is_err() {
            self.buf.truncate(start);
            return r;
        }
        self.commit(ai, start);
        Ok(())
    }

    fn check_new(&self, ai: Ai, pos: usize) -> Result<(), Gs1Error> {
        if self.fields.iter().any(|f| f.ai == ai) {
            return Err(Gs1Error::DuplicateAi { ai, pos });
        }
        if self.fields.len() >= ELEMENTS_MAX {
            return Err(Gs1Error::BadFormat {
                pos,
                what: "too many elements",
            });
        }
        Ok(())
    }

    fn commit(&mut self, ai: Ai, start: usize) {
        // INPUT_LEN_MAX bounds the buffer far below u32::MAX for parsed data; values
        // pushed by callers are bounded by the AI's maximum length (90).
        self.fields.push(Field {
            ai,
            start: start as u32,
            end: self.buf.len() as u32,
        });
    }

    /// Parses any supported form, detected from its start: a GS1 Digital Link URI
    /// (`http://` or `https://`), the bracketed form (`(01)…`), or raw GS-separated
    /// data (optionally with a symbology identifier `]d2`, `]C1`, `]Q3`, `]e0`, `]J1`
    /// and/or a leading GS standing for FNC1). Trailing CR/LF (scanner suffix) is
    /// ignored.
    pub fn parse(input: &str) -> Result<Self, Gs1Error> {
        let input = input.trim_end_matches(['\r', '\n']);
        let b = input.as_bytes();
        if b.first() == Some(&b'(') {
            Self::parse_brackets(input)
        } else if starts_with_ignore_case(b, b"https://") || starts_with_ignore_case(b, b"http://")
        {
            Self::parse_digital_link(input)
        } else {
            Self::parse_gs(input)
        }
    }

    /// Parses raw data where GS (ASCII 29) ends each variable-length value that is not
    /// last. A symbology identifier (`]d2`, `]C1`, `]Q3`, `]e0`, `]J1`) and a leading GS
    /// (FNC1 in first position) are accepted. Leniencies: a redundant GS after a
    /// pre-defined-length value and one trailing GS are ignored.
    pub fn parse_gs(input: &str) -> Result<Self, Gs1Error> {
        let b = input.as_bytes();
        check_input_len(b)?;
        let mut i = 0;
        if b.first() == Some(&b']') {
            if b.len() >= 3 && SYMBOLOGY_IDS.iter().any(|id| &b[1..3] == *id) {
                i = 3;
            } else {
                return Err(Gs1Error::BadFormat {
                    pos: 0,
                    what: "unknown symbology identifier (expected ]d2, ]C1, ]Q3, ]e0 or ]J1)",
                });
            }
        }
        if b.get(i) == Some(&GS_BYTE) {
            i += 1;
        }
        if i == b.len() {
            return Err(Gs1Error::Empty);
        }
        let mut es = Self::with_capacity(b.len(), 6);
        while i < b.len() {
            let ai = Ai::read_prefix(&b[i..], i)?;
            i += ai.code().len();
            let spec = ai.spec();
            let end = if spec.predefined_length {
                let end = i + usize::from(spec.max_len);
                if end > b.len() {
                    return Err(Gs1Error::BadLength {
                        ai,
                        pos: i,
                        len: b.len() - i,
                        min: usize::from(spec.min_len),
                        max: usize::from(spec.max_len),
                    });
                }
                end
            } else {
                b[i..]
                    .iter()
                    .position(|&c| c == GS_BYTE)
                    .map_or(b.len(), |p| i + p)
            };
            // A value may end inside a multi-byte character only when it is invalid
            // anyway: report that character rather than slicing through it.
            let Some(value) = input.get(i..end) else {
                let p = (i..end).find(|&p| !b[p].is_ascii()).unwrap_or(i);
                return Err(Gs1Error::BadCharacter {
                    ai: Some(ai),
                    pos: p,
                    ch: input[floor_char_boundary(input, p)..]
                        .chars()
                        .next()
                        .unwrap_or('?'),
                    expected: spec.components[0].cset.name(),
                });
            };
            es.push_at(ai, value, i)?;
            i = end;
            if b.get(i) == Some(&GS_BYTE) {
                i += 1;
            }
        }
        Ok(es)
    }

    /// Parses the bracketed (human readable) form `(01)04650117240163(21)ABC…`.
    /// A literal `(` inside a value is written `\(`.
    pub fn parse_brackets(input: &str) -> Result<Self, Gs1Error> {
        let b = input.as_bytes();
        check_input_len(b)?;
        if b.is_empty() {
            return Err(Gs1Error::Empty);
        }
        if b[0] != b'(' {
            return Err(Gs1Error::BadFormat {
                pos: 0,
                what: "bracketed form must start with '('",
            });
        }
        let mut es = Self::with_capacity(b.len(), 6);
        let mut i = 0;
        while i < b.len() {
            // b[i] == '('
            let close = b[i + 1..]
                .iter()
                .take(5)
                .position(|&c| c == b')')
                .map(|p| i + 1 + p)
                .ok_or(Gs1Error::BadFormat {
                    pos: i,
                    what: "'(' not followed by an AI of 2-4 digits and ')'",
                })?;
            let code = &input[i + 1..close];
            if code.len() < 2 || !code.bytes().all(|c| c.is_ascii_digit()) {
                return Err(Gs1Error::BadFormat {
                    pos: i,
                    what: "'(' not followed by an AI of 2-4 digits and ')'",
                });
            }
            let ai = Ai::from_code(code).ok_or_else(|| Gs1Error::UnknownAi {
                ai: code.to_owned(),
                pos: i + 1,
            })?;
            let vpos = close + 1;
            let start = es.begin_decoded();
            let mut j = vpos;
            while j < b.len() && b[j] != b'(' {
                let c = if b[j] == b'\\' && b.get(j + 1) == Some(&b'(') {
                    j += 1;
                    b'('
                } else {
                    b[j]
                };
                if !c.is_ascii() {
                    return Err(Gs1Error::BadCharacter {
                        ai: Some(ai),
                        pos: j,
                        ch: input[floor_char_boundary(input, j)..]
                            .chars()
                            .next()
                            .unwrap_or('?'),
                        expected: ai.spec().components[0].cset.name(),
                    });
                }
                es.push_decoded_byte(c);
                j += 1;
            }
            es.finish_decoded(ai, start, vpos)?;
            i = j;
        }
        Ok(es)
    }

    /// Total length of the values, in bytes.
    pub(crate) fn buf_len(&self) -> usize {
        self.buf.len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The elements in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (Ai, &str)> + '_ {
        self.fields
            .iter()
            .map(|f| (f.ai, &self.buf[f.start as usize..f.end as usize]))
    }

    /// The value of `ai`, if present.
    pub fn get(&self, ai: Ai) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.ai == ai)
            .map(|f| &self.buf[f.start as usize..f.end as usize])
    }

    /// The value of the AI with digits `code` (e.g. `"92"`), if present.
    pub fn get_code(&self, code: &str) -> Option<&str> {
        Ai::from_code(code).and_then(|ai| self.get(ai))
    }

    /// Whether `ai` is present.
    pub fn contains(&self, ai: Ai) -> bool {
        self.fields.iter().any(|f| f.ai == ai)
    }

    /// The GTIN of AI `01`, if present.
    pub fn gtin(&self) -> Option<Gtin> {
        self.get(Ai::GTIN).and_then(|v| Gtin::parse(v).ok())
    }

    /// The SSCC of AI `00`, if present.
    pub fn sscc(&self) -> Option<Sscc> {
        self.get(Ai::SSCC).and_then(|v| Sscc::parse(v).ok())
    }

    /// The serial number of AI `21`, if present.
    pub fn serial(&self) -> Option<&str> {
        self.get(Ai::SERIAL)
    }

    /// The identification code `01{gtin}21{serial}` (no separators, no crypto tail),
    /// if both AIs are present.
    pub fn identification_code(&self) -> Option<String> {
        let gtin = self.get(Ai::GTIN)?;
        let serial = self.get(Ai::SERIAL)?;
        let mut s = String::with_capacity(4 + gtin.len() + serial.len());
        s.push_str("01");
        s.push_str(gtin);
        s.push_str("21");
        s.push_str(serial);
        Some(s)
    }

    /// Raw form: AI digits and values, GS after each variable-length value that is not
    /// last, no leading FNC1/GS.
    pub fn to_gs(&self) -> String {
        let mut s = String::with_capacity(self.buf.len() + 5 * self.fields.len());
        let n = self.fields.len();
        for (k, (ai, v)) in self.iter().enumerate() {
            s.push_str(ai.code());
            s.push_str(v);
            if !ai.is_predefined_length() && k + 1 < n {
                s.push(GS);
            }
        }
        s
    }

    /// Bracketed form `(01)…(21)…`; a `(` inside a value is written `\(`.
    pub fn to_brackets(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ElementString {
    /// The bracketed (human readable) form, as [`ElementString::to_brackets`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (ai, v) in self.iter() {
            write!(f, "({ai})")?;
            for (k, part) in v.split('(').enumerate() {
                if k > 0 {
                    f.write_str("\\(")?;
                }
                f.write_str(part)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ElementString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(ai, v)| (ai.code(), v)))
            .finish()
    }
}

impl FromStr for ElementString {
    type Err = Gs1Error;
    /// As [`ElementString::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ElementString::parse(s)
    }
}

fn check_input_len(b: &[u8]) -> Result<(), Gs1Error> {
    if b.len() > INPUT_LEN_MAX {
        return Err(Gs1Error::BadFormat {
            pos: INPUT_LEN_MAX,
            what: "input longer than INPUT_LEN_MAX bytes",
        });
    }
    Ok(())
}

pub(crate) fn starts_with_ignore_case(b: &[u8], prefix: &[u8]) -> bool {
    b.len() >= prefix.len() && b[..prefix.len()].eq_ignore_ascii_case(prefix)
}

pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL1: &str = "0104650117240163215100000005NgF\u{1d}910024\u{1d}92UjpfAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ==";
    const REAL2: &str = "0104680029460908215jcmHzLmkdPML\u{1d}938p9E";

    #[test]
    fn real_codes() {
        let es = ElementString::parse(REAL1).unwrap();
        assert_eq!(es.gtin().unwrap().to_string(), "04650117240163");
        assert_eq!(es.serial(), Some("5100000005NgF"));
        assert_eq!(es.get(Ai::INTERNAL_91), Some("0024"));
        assert_eq!(
            es.get(Ai::INTERNAL_92),
            Some("UjpfAmE6elcVxvtPJHHGl/8ULzQB8YPU/XnOERdyuQ==")
        );
        assert_eq!(es.to_gs(), REAL1);
        assert_eq!(
            es.identification_code().unwrap(),
            "0104650117240163215100000005NgF"
        );
        let es2 = ElementString::parse(REAL2).unwrap();
        assert_eq!(es2.get_code("93"), Some("8p9E"));
        assert_eq!(es2.to_gs(), REAL2);
        for form in [
            format!("\u{1d}{REAL1}"),
            format!("]d2{REAL1}"),
            format!("]C1\u{1d}{REAL1}"),
            es.to_brackets(),
        ] {
            assert_eq!(ElementString::parse(&form).unwrap(), es, "{form:?}");
        }
    }

    #[test]
    fn errors() {
        let r = |s: &str| ElementString::parse(s).unwrap_err().reason();
        assert_eq!(r(""), "empty");
        assert_eq!(r("]d2"), "empty");
        assert_eq!(r("0104650117240164"), "bad_check_digit");
        assert_eq!(r("01046501172401"), "bad_length");
        assert_eq!(r("0104650117240163\u{1d}21"), "bad_length");
        assert_eq!(r("0104650117240163 21x"), "unknown_ai");
        assert_eq!(r("2301"), "unknown_ai");
        assert_eq!(r("0104650117240163217é"), "bad_character");
        assert_eq!(r("(01)04650117240163(21)a(21)b"), "duplicate_ai");
        assert_eq!(r("(01)04650117240163(17)261340"), "bad_date");
        assert_eq!(r("(01"), "bad_format");
        assert_eq!(r("]X9010"), "bad_format");
    }

    #[test]
    fn brackets_escape() {
        let mut es = ElementString::new();
        es.push(Ai::GTIN, "04650117240163").unwrap();
        es.push(Ai::SERIAL, "a(b)").unwrap();
        assert_eq!(es.to_brackets(), "(01)04650117240163(21)a\\(b)");
        assert_eq!(ElementString::parse(&es.to_brackets()).unwrap(), es);
    }
}
