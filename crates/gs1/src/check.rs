//! Mod-10 check digits and the typed identifiers [`Gtin`] and [`Sscc`].

use crate::ai::Ai;
use crate::error::Gs1Error;
use std::fmt;
use std::str::FromStr;

/// GS1 mod-10 check digit of `digits` (the body, without the check digit).
///
/// Accepts ASCII digits (`b'0'..=b'9'`) or digit values (`0..=9`); the result is the
/// digit value `0..=9`. Weights are 3, 1, 3, … counted from the rightmost body digit.
///
/// ```
/// assert_eq!(gs1::check_digit(b"0952114112345"), 4);
/// assert_eq!(gs1::check_digit(&[4, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]), 1);
/// ```
pub fn check_digit(digits: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let v = u32::from(d & 0x0f);
        sum += if i % 2 == 0 { v * 3 } else { v };
    }
    ((10 - sum % 10) % 10) as u8
}

fn digits_of(mut v: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn parse_digits(s: &str, ai: Ai, lens: &[usize], width: usize) -> Result<u64, Gs1Error> {
    let b = s.as_bytes();
    if let Some(i) = b.iter().position(|c| !c.is_ascii_digit()) {
        return Err(Gs1Error::BadCharacter {
            ai: Some(ai),
            pos: i,
            ch: s[i..].chars().next().unwrap_or('?'),
            expected: "digits",
        });
    }
    if !lens.contains(&b.len()) {
        return Err(Gs1Error::BadLength {
            ai,
            pos: 0,
            len: b.len(),
            min: lens[0],
            max: width,
        });
    }
    let (body, last) = b.split_at(b.len() - 1);
    let expected = check_digit(body);
    if expected != last[0] - b'0' {
        return Err(Gs1Error::BadCheckDigit {
            ai,
            pos: b.len() - 1,
            expected,
            found: last[0] - b'0',
        });
    }
    Ok(b.iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')))
}

/// A GTIN, normalised to 14 digits (GTIN-8/12/13 are left-padded with zeros), with a
/// valid check digit. Stored as a `u64`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Gtin(u64);

impl Gtin {
    /// Largest 14-digit value.
    pub const VALUE_MAX: u64 = 99_999_999_999_999;

    /// From the 14-digit number, checking the check digit.
    pub fn new(value: u64) -> Result<Self, Gs1Error> {
        if value > Self::VALUE_MAX {
            return Err(Gs1Error::BadLength {
                ai: Ai::GTIN,
                pos: 0,
                len: value.to_string().len(),
                min: 14,
                max: 14,
            });
        }
        let mut d = [0u8; 14];
        digits_of(value, &mut d);
        let expected = check_digit(&d[..13]);
        if expected != d[13] - b'0' {
            return Err(Gs1Error::BadCheckDigit {
                ai: Ai::GTIN,
                pos: 13,
                expected,
                found: d[13] - b'0',
            });
        }
        Ok(Gtin(value))
    }

    /// From the 13-digit body (indicator + company prefix + item reference): computes
    /// and appends the check digit.
    pub fn from_body(body: u64) -> Result<Self, Gs1Error> {
        if body > Self::VALUE_MAX / 10 {
            return Err(Gs1Error::BadLength {
                ai: Ai::GTIN,
                pos: 0,
                len: body.to_string().len(),
                min: 13,
                max: 13,
            });
        }
        let mut d = [0u8; 13];
        digits_of(body, &mut d);
        Ok(Gtin(body * 10 + u64::from(check_digit(&d))))
    }

    /// Parses 8, 12, 13 or 14 digits (GTIN-8, GTIN-12/UPC-A, GTIN-13/EAN-13, GTIN-14).
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        parse_digits(s, Ai::GTIN, &[8, 12, 13, 14], 14).map(Gtin)
    }

    /// The 14-digit number.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The 14 ASCII digits.
    pub fn digits(self) -> [u8; 14] {
        let mut d = [0u8; 14];
        digits_of(self.0, &mut d);
        d
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:014}", self.0)
    }
}

impl FromStr for Gtin {
    type Err = Gs1Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Gtin::parse(s)
    }
}

/// An SSCC (Serial Shipping Container Code): 18 digits with a valid check digit,
/// stored as a `u64`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Sscc(u64);

impl Sscc {
    /// Largest 18-digit value.
    pub const VALUE_MAX: u64 = 999_999_999_999_999_999;

    /// From the 18-digit number, checking the check digit.
    pub fn new(value: u64) -> Result<Self, Gs1Error> {
        if value > Self::VALUE_MAX {
            return Err(Gs1Error::BadLength {
                ai: Ai::SSCC,
                pos: 0,
                len: value.to_string().len(),
                min: 18,
                max: 18,
            });
        }
        let mut d = [0u8; 18];
        digits_of(value, &mut d);
        let expected = check_digit(&d[..17]);
        if expected != d[17] - b'0' {
            return Err(Gs1Error::BadCheckDigit {
                ai: Ai::SSCC,
                pos: 17,
                expected,
                found: d[17] - b'0',
            });
        }
        Ok(Sscc(value))
    }

    /// From the 17-digit body: computes and appends the check digit.
    pub fn from_body(body: u64) -> Result<Self, Gs1Error> {
        if body > Self::VALUE_MAX / 10 {
            return Err(Gs1Error::BadLength {
                ai: Ai::SSCC,
                pos: 0,
                len: body.to_string().len(),
                min: 17,
                max: 17,
            });
        }
        let mut d = [0u8; 17];
        digits_of(body, &mut d);
        Ok(Sscc(body * 10 + u64::from(check_digit(&d))))
    }

    /// Parses exactly 18 digits.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        parse_digits(s, Ai::SSCC, &[18], 18).map(Sscc)
    }

    /// The 18-digit number.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The 18 ASCII digits.
    pub fn digits(self) -> [u8; 18] {
        let mut d = [0u8; 18];
        digits_of(self.0, &mut d);
        d
    }
}

impl fmt::Display for Sscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:018}", self.0)
    }
}

impl FromStr for Sscc {
    type Err = Gs1Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sscc::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_forms() {
        let g = Gtin::parse("04650117240163").unwrap();
        assert_eq!(g.as_u64(), 4_650_117_240_163);
        assert_eq!(g.to_string(), "04650117240163");
        assert_eq!(Gtin::parse("4650117240163").unwrap(), g);
        assert_eq!(
            Gtin::parse("96385074").unwrap().to_string(),
            "00000096385074"
        );
        assert_eq!(
            Gtin::parse("036000291452").unwrap().to_string(),
            "00036000291452"
        );
        assert_eq!(
            Gtin::parse("04650117240164").unwrap_err().reason(),
            "bad_check_digit"
        );
        assert_eq!(Gtin::parse("123").unwrap_err().reason(), "bad_length");
        assert_eq!(Gtin::parse("12a").unwrap_err().reason(), "bad_character");
        assert_eq!(Gtin::from_body(465_011_724_016).unwrap(), g);
        assert_eq!(Gtin::new(g.as_u64()).unwrap(), g);
    }

    #[test]
    fn sscc_forms() {
        let s = Sscc::parse("106141412345678908").unwrap();
        assert_eq!(s.to_string(), "106141412345678908");
        assert_eq!(Sscc::from_body(10_614_141_234_567_890).unwrap(), s);
        assert!(Sscc::parse("106141412345678909").is_err());
    }
}
