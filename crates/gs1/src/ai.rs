//! Application Identifiers: the table generated from the GS1 Barcode Syntax Dictionary,
//! look-up, and validation of one AI's value.

use crate::ai_table::{AI_LEN_BY_PREFIX, AI_TABLE};
use crate::error::Gs1Error;
use std::fmt;

/// Character set of one component of an AI's data field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cset {
    /// `N`: digits `0`–`9`.
    Numeric,
    /// `X`: GS1 AI encodable character set 82
    /// (`!"%&'()*+,-./0-9:;<=>?A-Z_a-z`).
    Cset82,
    /// `Y`: GS1 AI encodable character set 39 (`#-/0-9A-Z`).
    Cset39,
    /// `Z`: GS1 AI encodable character set 64 (base64url `A-Za-z0-9-_`, with `=` padding
    /// allowed only at the end).
    Cset64,
}

impl Cset {
    /// Short human name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Cset::Numeric => "digits",
            Cset::Cset82 => "GS1 character set 82",
            Cset::Cset39 => "GS1 character set 39",
            Cset::Cset64 => "GS1 character set 64 (base64url)",
        }
    }

    /// Whether `b` belongs to this set (`=` is accepted for [`Cset::Cset64`]; its position
    /// is checked separately).
    #[inline]
    pub fn contains(self, b: u8) -> bool {
        let bit = match self {
            Cset::Numeric => NUM,
            Cset::Cset82 => C82,
            Cset::Cset39 => C39,
            Cset::Cset64 => C64,
        };
        b < 128 && CLASS[b as usize] & bit != 0
    }
}

/// Date or time format checked on a component (the dictionary's date/time linters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Temporal {
    /// `YYMMDD`, day `00` allowed (meaning "end of month").
    Yymmd0,
    /// `YYMMDD`.
    Yymmdd,
    /// `YYYYMMDD`.
    Yyyymmdd,
    /// `HHMI` (hours 00–23, minutes 00–59).
    Hhmi,
}

/// One component of an AI's data field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// Character set.
    pub cset: Cset,
    /// Minimum length.
    pub min: u8,
    /// Maximum length (equal to `min` for fixed-length components).
    pub max: u8,
    /// Whether the component may be absent (only trailing components are optional).
    pub optional: bool,
    /// Whether the last digit is a GS1 mod-10 check digit (linter `csum`).
    pub check_digit: bool,
    /// Date/time format validated on the component, if any.
    pub temporal: Option<Temporal>,
    /// All linter names of the dictionary (most are informational here).
    pub linters: &'static [&'static str],
}

/// The specification of one AI, as in the GS1 Barcode Syntax Dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiSpec {
    /// The AI digits, e.g. `"01"`.
    pub code: &'static str,
    /// Short title, e.g. `"GTIN"`.
    pub title: &'static str,
    /// Flag `*`: the AI has a pre-defined length and needs no separator after it.
    pub predefined_length: bool,
    /// Flag `?`: the AI may appear as a GS1 Digital Link data attribute (query).
    pub dl_data_attribute: bool,
    /// Minimum total value length.
    pub min_len: u8,
    /// Maximum total value length.
    pub max_len: u8,
    /// Components of the data field, in order.
    pub components: &'static [Component],
    /// `Some` if the AI is a Digital Link primary key: the alternative ordered lists of
    /// key qualifiers (empty slice: no qualifiers).
    pub dl_primary_key: Option<&'static [&'static [&'static str]]>,
    /// Raw `req=` attribute(s) (mandatory associations), space-separated; not enforced.
    pub req: &'static str,
    /// Raw `ex=` attribute(s) (invalid pairings), space-separated; not enforced.
    pub ex: &'static str,
}

/// An Application Identifier known to the table (a cheap copyable handle).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ai(u16);

const fn const_find(code: &str) -> Ai {
    let code = code.as_bytes();
    let mut i = 0;
    while i < AI_TABLE.len() {
        let c = AI_TABLE[i].code.as_bytes();
        if c.len() == code.len() {
            let mut j = 0;
            let mut same = true;
            while j < c.len() {
                if c[j] != code[j] {
                    same = false;
                }
                j += 1;
            }
            if same {
                return Ai(i as u16);
            }
        }
        i += 1;
    }
    panic!("AI missing from the table");
}

impl Ai {
    /// `00` SSCC.
    pub const SSCC: Ai = const_find("00");
    /// `01` GTIN.
    pub const GTIN: Ai = const_find("01");
    /// `10` batch or lot number.
    pub const BATCH: Ai = const_find("10");
    /// `17` expiration date (YYMMDD).
    pub const EXPIRY: Ai = const_find("17");
    /// `21` serial number.
    pub const SERIAL: Ai = const_find("21");
    /// `8005` price per unit of measure (used for tobacco maximum retail price).
    pub const PRICE_PER_UNIT: Ai = const_find("8005");
    /// `91` company internal information (crypto key id in marking codes).
    pub const INTERNAL_91: Ai = const_find("91");
    /// `92` company internal information (crypto check value / signature).
    pub const INTERNAL_92: Ai = const_find("92");
    /// `93` company internal information (short crypto code).
    pub const INTERNAL_93: Ai = const_find("93");

    /// Looks up an AI by its exact digits, e.g. `"3103"`.
    pub fn from_code(code: &str) -> Option<Ai> {
        lookup_digits(code.as_bytes())
    }

    /// Reads the AI at the start of `data` (its length follows from the first two
    /// digits); unknown prefixes give [`Gs1Error::UnknownAi`] at `pos`.
    pub(crate) fn read_prefix(data: &[u8], pos: usize) -> Result<Ai, Gs1Error> {
        let unknown = |n: usize| Gs1Error::UnknownAi {
            ai: String::from_utf8_lossy(&data[..data.len().min(n)]).into_owned(),
            pos,
        };
        if data.len() < 2 || !data[0].is_ascii_digit() || !data[1].is_ascii_digit() {
            return Err(unknown(2));
        }
        let prefix = usize::from(data[0] - b'0') * 10 + usize::from(data[1] - b'0');
        let len = usize::from(AI_LEN_BY_PREFIX[prefix]);
        if len == 0 || data.len() < len {
            return Err(unknown(4));
        }
        lookup_digits(&data[..len]).ok_or_else(|| unknown(len))
    }

    /// Every AI of the table, in lexical order.
    pub fn all() -> impl Iterator<Item = Ai> {
        (0..AI_TABLE.len()).map(|i| Ai(i as u16))
    }

    /// The full specification.
    #[inline]
    pub fn spec(self) -> &'static AiSpec {
        &AI_TABLE[usize::from(self.0)]
    }

    /// The AI digits, e.g. `"01"`.
    #[inline]
    pub fn code(self) -> &'static str {
        self.spec().code
    }

    /// Whether the AI has a pre-defined length (no separator needed after it).
    #[inline]
    pub fn is_predefined_length(self) -> bool {
        self.spec().predefined_length
    }

    /// Validates a complete value for this AI. `pos` is the byte offset of the value in
    /// the caller's input and is used only for error context.
    pub fn validate(self, value: &str, pos: usize) -> Result<(), Gs1Error> {
        validate_value(self, value.as_bytes(), pos)
    }
}

impl fmt::Display for Ai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Ai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ai({})", self.code())
    }
}

/// Numeric value of each code of [`AI_TABLE`] (codes sharing two leading digits share
/// a length, so numeric order is lexical order within such a block).
const AI_NUMS: [u16; AI_TABLE.len()] = {
    let mut t = [0u16; AI_TABLE.len()];
    let mut i = 0;
    while i < AI_TABLE.len() {
        let c = AI_TABLE[i].code.as_bytes();
        let mut v = 0u16;
        let mut j = 0;
        while j < c.len() {
            v = v * 10 + (c[j] - b'0') as u16;
            j += 1;
        }
        t[i] = v;
        i += 1;
    }
    t
};

/// Index in [`AI_TABLE`] of the first AI with each two-digit prefix (101 entries: the
/// block of prefix `p` is `PREFIX_START[p]..PREFIX_START[p + 1]`).
const PREFIX_START: [u16; 101] = {
    let mut t = [0u16; 101];
    let mut p = 0;
    let mut i = 0;
    while p <= 100 {
        while i < AI_TABLE.len() && {
            let c = AI_TABLE[i].code.as_bytes();
            (((c[0] - b'0') as usize) * 10 + (c[1] - b'0') as usize) < p
        } {
            i += 1;
        }
        t[p] = i as u16;
        p += 1;
    }
    t
};

/// Looks up an AI from its digits with integer comparisons only.
#[inline]
fn lookup_digits(code: &[u8]) -> Option<Ai> {
    if code.len() < 2 || code.len() > 4 || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let p = usize::from(code[0] - b'0') * 10 + usize::from(code[1] - b'0');
    if usize::from(AI_LEN_BY_PREFIX[p]) != code.len() {
        return None;
    }
    let v = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    let (lo, hi) = (
        usize::from(PREFIX_START[p]),
        usize::from(PREFIX_START[p + 1]),
    );
    AI_NUMS[lo..hi]
        .binary_search(&v)
        .ok()
        .map(|i| Ai((lo + i) as u16))
}

const NUM: u8 = 1;
const C82: u8 = 2;
const C39: u8 = 4;
const C64: u8 = 8;
/// URI unreserved characters (never percent-encoded).
pub(crate) const URI_UNRESERVED: u8 = 16;
/// Characters allowed anywhere in a URI (unreserved, reserved and `%`).
pub(crate) const URI_ALLOWED: u8 = 32;

const fn build_classes() -> [u8; 128] {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        let digit = c.is_ascii_digit();
        let upper = c.is_ascii_uppercase();
        let alpha = c.is_ascii_alphabetic();
        let mut v = 0;
        if digit {
            v |= NUM | C82 | C39 | C64 | URI_UNRESERVED | URI_ALLOWED;
        }
        if alpha {
            v |= C82 | C64 | URI_UNRESERVED | URI_ALLOWED;
        }
        if upper {
            v |= C39;
        }
        if matches!(
            c,
            b'!' | b'"'
                | b'%'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'-'
                | b'.'
                | b'/'
                | b':'
                | b';'
                | b'<'
                | b'='
                | b'>'
                | b'?'
                | b'_'
        ) {
            v |= C82;
        }
        if matches!(c, b'#' | b'-' | b'/') {
            v |= C39;
        }
        if matches!(c, b'-' | b'_' | b'=') {
            v |= C64;
        }
        if matches!(c, b'-' | b'.' | b'_' | b'~') {
            v |= URI_UNRESERVED | URI_ALLOWED;
        }
        if matches!(
            c,
            b':' | b'/'
                | b'?'
                | b'#'
                | b'['
                | b']'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'%'
        ) {
            v |= URI_ALLOWED;
        }
        t[b] = v;
        b += 1;
    }
    t
}

/// Character classes of ASCII bytes (bit set per class).
pub(crate) static CLASS: [u8; 128] = build_classes();

/// Whether `b` is in the class `bit` (see the constants above).
#[inline]
pub(crate) fn has_class(b: u8, bit: u8) -> bool {
    b < 128 && CLASS[b as usize] & bit != 0
}

/// Validates `value` (already separated from its neighbours) against `ai`'s components.
pub(crate) fn validate_value(ai: Ai, value: &[u8], pos: usize) -> Result<(), Gs1Error> {
    let spec = ai.spec();
    let len = value.len();
    if len < usize::from(spec.min_len) || len > usize::from(spec.max_len) {
        return Err(Gs1Error::BadLength {
            ai,
            pos,
            len,
            min: usize::from(spec.min_len),
            max: usize::from(spec.max_len),
        });
    }
    let mut off = 0;
    for c in spec.components {
        if off == len && c.optional {
            break;
        }
        let rest = len - off;
        let take = if c.min == c.max {
            usize::from(c.min)
        } else {
            rest.min(usize::from(c.max))
        };
        if take > rest || take < usize::from(c.min) {
            return Err(Gs1Error::BadLength {
                ai,
                pos,
                len,
                min: usize::from(spec.min_len),
                max: usize::from(spec.max_len),
            });
        }
        let part = &value[off..off + take];
        for (i, &b) in part.iter().enumerate() {
            if !c.cset.contains(b) {
                return Err(bad_char(ai, part, i, pos + off, c.cset));
            }
        }
        if c.cset == Cset::Cset64 {
            // '=' only as trailing padding.
            let body_end = part.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
            if let Some(i) = part[..body_end].iter().position(|&b| b == b'=') {
                return Err(bad_char(ai, part, i, pos + off, c.cset));
            }
        }
        if c.check_digit {
            let (body, last) = part.split_at(take - 1);
            let expected = crate::check::check_digit(body);
            let found = last[0] - b'0';
            if expected != found {
                return Err(Gs1Error::BadCheckDigit {
                    ai,
                    pos: pos + off + take - 1,
                    expected,
                    found,
                });
            }
        }
        if let Some(t) = c.temporal {
            if !temporal_ok(t, part) {
                return Err(Gs1Error::BadDate {
                    ai,
                    pos: pos + off,
                    value: String::from_utf8_lossy(part).into_owned(),
                });
            }
        }
        off += take;
    }
    if off != len {
        return Err(Gs1Error::BadLength {
            ai,
            pos,
            len,
            min: usize::from(spec.min_len),
            max: usize::from(spec.max_len),
        });
    }
    Ok(())
}

fn bad_char(ai: Ai, part: &[u8], i: usize, pos: usize, cset: Cset) -> Gs1Error {
    // Report the whole (possibly multi-byte) character when the input is UTF-8.
    let ch = std::str::from_utf8(&part[i..])
        .ok()
        .and_then(|s| s.chars().next())
        .unwrap_or(char::from(part[i]));
    Gs1Error::BadCharacter {
        ai: Some(ai),
        pos: pos + i,
        ch,
        expected: cset.name(),
    }
}

fn two(d: &[u8]) -> u32 {
    u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0')
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// Checks a date/time component; `part` is known to be all digits of the right length.
fn temporal_ok(t: Temporal, part: &[u8]) -> bool {
    let date = |year: u32, md: &[u8], zero_day: bool| {
        let (m, d) = (two(&md[0..2]), two(&md[2..4]));
        (1..=12).contains(&m) && (d <= days_in_month(year, m)) && (d >= 1 || zero_day)
    };
    match t {
        // Two-digit years: GS1 maps them into a sliding century window; for the leap
        // year rule every year divisible by 4 counts (exact for 2001-2099).
        Temporal::Yymmd0 if part.len() == 6 => date(2000 + two(part), &part[2..], true),
        Temporal::Yymmdd if part.len() == 6 => date(2000 + two(part), &part[2..], false),
        Temporal::Yyyymmdd if part.len() == 8 => {
            date(two(part) * 100 + two(&part[2..]), &part[4..], false)
        }
        Temporal::Hhmi if part.len() == 4 => two(part) <= 23 && two(&part[2..]) <= 59,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        assert_eq!(Ai::GTIN.code(), "01");
        assert_eq!(Ai::from_code("3103").map(Ai::code), Some("3103"));
        assert!(Ai::from_code("3106").is_none());
        assert!(Ai::all().all(|a| Ai::from_code(a.code()) == Some(a)));
        assert!(Ai::all().all(|a| Ai::read_prefix(a.code().as_bytes(), 0) == Ok(a)));
        for bad in ["", "0", "04", "000", "0100", "9", "999", "23", "abc"] {
            assert!(Ai::from_code(bad).is_none(), "{bad}");
        }
        assert_eq!(Ai::read_prefix(b"8005000350", 0).map(Ai::code), Ok("8005"));
        assert_eq!(Ai::read_prefix(b"93abc", 0).map(Ai::code), Ok("93"));
        assert_eq!(
            Ai::read_prefix(b"23", 0).map_err(|e| e.reason()),
            Err("unknown_ai")
        );
    }

    #[test]
    fn dates() {
        let ai = Ai::EXPIRY;
        assert!(ai.validate("261231", 0).is_ok());
        assert!(ai.validate("260200", 0).is_ok());
        assert!(ai.validate("280229", 0).is_ok());
        assert_eq!(ai.validate("270229", 0).unwrap_err().reason(), "bad_date");
        assert_eq!(ai.validate("261301", 0).unwrap_err().reason(), "bad_date");
    }
}
