//! EPC (GS1 EPC Tag Data Standard): pure identity URIs, tag URIs and the binary
//! SGTIN-96, SSCC-96 and SGTIN-198 encodings, for GTIN + serial and SSCC.
//!
//! Converting a GTIN or SSCC to EPC form needs the length of the GS1 Company Prefix
//! (6 to 12 digits), which the digits alone do not tell: callers pass it.
//!
//! ```
//! use gs1::epc::{EpcId, EpcTag, TagScheme};
//! use gs1::Gtin;
//!
//! let id = EpcId::sgtin(Gtin::parse("80614141123458")?, "6789", 7)?;
//! assert_eq!(id.to_pure_uri(), "urn:epc:id:sgtin:0614141.812345.6789");
//! let tag = EpcTag::new(id, TagScheme::Sgtin96, 3)?;
//! assert_eq!(tag.to_tag_uri(), "urn:epc:tag:sgtin-96:3.0614141.812345.6789");
//! assert_eq!(tag.to_hex(), "3074257BF7194E4000001A85");
//! assert_eq!(EpcTag::from_hex("3074257BF7194E4000001A85")?, tag);
//! # Ok::<(), gs1::Gs1Error>(())
//! ```

use crate::ai::{validate_value, Ai, Cset};
use crate::check::{Gtin, Sscc};
use crate::element::ElementString;
use crate::error::Gs1Error;
use std::fmt;

/// Shortest GS1 Company Prefix, in digits.
pub const COMPANY_PREFIX_LEN_MIN: u8 = 6;
/// Longest GS1 Company Prefix, in digits.
pub const COMPANY_PREFIX_LEN_MAX: u8 = 12;
/// Largest serial number of SGTIN-96 (38 bits).
pub const SGTIN96_SERIAL_MAX: u64 = (1 << 38) - 1;
/// Longest serial number of SGTIN-198 (20 characters of 7 bits).
pub const SGTIN198_SERIAL_LEN_MAX: usize = 20;

/// An EPC pure identity: what an RFID tag identifies, without tag-specific fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EpcId {
    /// Serialised GTIN: `urn:epc:id:sgtin:CompanyPrefix.ItemRefAndIndicator.Serial`.
    Sgtin {
        /// The GTIN.
        gtin: Gtin,
        /// The serial number (AI 21 rules: GS1 character set 82, 1-20 characters).
        serial: String,
        /// Digits of the GS1 Company Prefix inside the GTIN (6-12).
        company_prefix_len: u8,
    },
    /// SSCC: `urn:epc:id:sscc:CompanyPrefix.SerialReference`.
    Sscc {
        /// The SSCC.
        sscc: Sscc,
        /// Digits of the GS1 Company Prefix inside the SSCC (6-12).
        company_prefix_len: u8,
    },
}

fn fmt_err(pos: usize, what: &'static str) -> Gs1Error {
    Gs1Error::BadFormat { pos, what }
}

fn check_cp_len(len: u8) -> Result<(), Gs1Error> {
    if (COMPANY_PREFIX_LEN_MIN..=COMPANY_PREFIX_LEN_MAX).contains(&len) {
        Ok(())
    } else {
        Err(fmt_err(
            0,
            "GS1 Company Prefix length must be 6 to 12 digits",
        ))
    }
}

/// Characters escaped in EPC URIs (TDS table: `"`, `%`, `&`, `/`, `<`, `>`, `?`).
fn push_escaped(out: &mut String, serial: &str) {
    for c in serial.chars() {
        match c {
            '"' => out.push_str("%22"),
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '/' => out.push_str("%2F"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '?' => out.push_str("%3F"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str, pos: usize) -> Result<String, Gs1Error> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .filter(u8::is_ascii)
                .ok_or(fmt_err(pos + i, "bad %-escape in EPC URI"))?;
            out.push(char::from(hex));
            i += 3;
        } else {
            // Multi-byte characters are copied whole and rejected by validation.
            let c = s[i..].chars().next().unwrap_or('?');
            out.push(c);
            i += c.len_utf8();
        }
    }
    Ok(out)
}

fn split_digits(s: &str, pos: usize) -> Result<(), Gs1Error> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(fmt_err(pos, "expected digits in EPC URI"));
    }
    Ok(())
}

impl EpcId {
    /// An SGTIN from a GTIN, a serial (AI 21 rules) and the Company Prefix length.
    pub fn sgtin(gtin: Gtin, serial: &str, company_prefix_len: u8) -> Result<Self, Gs1Error> {
        check_cp_len(company_prefix_len)?;
        validate_value(Ai::SERIAL, serial.as_bytes(), 0)?;
        Ok(EpcId::Sgtin {
            gtin,
            serial: serial.to_owned(),
            company_prefix_len,
        })
    }

    /// An SSCC identity with the Company Prefix length.
    pub fn sscc(sscc: Sscc, company_prefix_len: u8) -> Result<Self, Gs1Error> {
        check_cp_len(company_prefix_len)?;
        Ok(EpcId::Sscc {
            sscc,
            company_prefix_len,
        })
    }

    /// From an element string holding `01` + `21` (SGTIN) or `00` (SSCC).
    pub fn from_element_string(
        es: &ElementString,
        company_prefix_len: u8,
    ) -> Result<Self, Gs1Error> {
        if let (Some(gtin), Some(serial)) = (es.gtin(), es.serial()) {
            Self::sgtin(gtin, serial, company_prefix_len)
        } else if let Some(sscc) = es.sscc() {
            Self::sscc(sscc, company_prefix_len)
        } else {
            Err(fmt_err(0, "element string holds neither 01+21 nor 00"))
        }
    }

    /// The element string `(01)…(21)…` or `(00)…`.
    pub fn to_element_string(&self) -> ElementString {
        let mut es = ElementString::new();
        // Both values were validated when the identity was built.
        let r = match self {
            EpcId::Sgtin { gtin, serial, .. } => es
                .push(Ai::GTIN, &gtin.to_string())
                .and_then(|()| es.push(Ai::SERIAL, serial)),
            EpcId::Sscc { sscc, .. } => es.push(Ai::SSCC, &sscc.to_string()),
        };
        debug_assert!(r.is_ok());
        es
    }

    /// The Company Prefix length.
    pub fn company_prefix_len(&self) -> u8 {
        match self {
            EpcId::Sgtin {
                company_prefix_len, ..
            }
            | EpcId::Sscc {
                company_prefix_len, ..
            } => *company_prefix_len,
        }
    }

    /// (company prefix, item reference with indicator / serial reference with extension),
    /// as digit strings.
    fn fields(&self) -> (String, String) {
        let l = usize::from(self.company_prefix_len());
        match self {
            EpcId::Sgtin { gtin, .. } => {
                let d = gtin.digits();
                let cp = String::from_utf8_lossy(&d[1..1 + l]).into_owned();
                let mut ir = String::with_capacity(13 - l);
                ir.push(char::from(d[0]));
                ir.push_str(&String::from_utf8_lossy(&d[1 + l..13]));
                (cp, ir)
            }
            EpcId::Sscc { sscc, .. } => {
                let d = sscc.digits();
                let cp = String::from_utf8_lossy(&d[1..1 + l]).into_owned();
                let mut sr = String::with_capacity(17 - l);
                sr.push(char::from(d[0]));
                sr.push_str(&String::from_utf8_lossy(&d[1 + l..17]));
                (cp, sr)
            }
        }
    }

    /// The pure identity URI (`urn:epc:id:sgtin:…` or `urn:epc:id:sscc:…`).
    pub fn to_pure_uri(&self) -> String {
        let (cp, rest) = self.fields();
        let mut s = String::with_capacity(64);
        match self {
            EpcId::Sgtin { serial, .. } => {
                s.push_str("urn:epc:id:sgtin:");
                s.push_str(&cp);
                s.push('.');
                s.push_str(&rest);
                s.push('.');
                push_escaped(&mut s, serial);
            }
            EpcId::Sscc { .. } => {
                s.push_str("urn:epc:id:sscc:");
                s.push_str(&cp);
                s.push('.');
                s.push_str(&rest);
            }
        }
        s
    }

    /// Parses a pure identity URI (`urn:epc:id:sgtin:…` or `urn:epc:id:sscc:…`).
    pub fn parse_pure_uri(uri: &str) -> Result<Self, Gs1Error> {
        if let Some(body) = uri.strip_prefix("urn:epc:id:sgtin:") {
            Self::parse_sgtin_body(body, uri.len() - body.len())
        } else if let Some(body) = uri.strip_prefix("urn:epc:id:sscc:") {
            Self::parse_sscc_body(body, uri.len() - body.len())
        } else {
            Err(fmt_err(0, "expected urn:epc:id:sgtin: or urn:epc:id:sscc:"))
        }
    }

    fn parse_sgtin_body(body: &str, pos: usize) -> Result<Self, Gs1Error> {
        let mut parts = body.splitn(3, '.');
        let (Some(cp), Some(ir), Some(serial)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(fmt_err(pos, "SGTIN URI needs CompanyPrefix.ItemRef.Serial"));
        };
        split_digits(cp, pos)?;
        split_digits(ir, pos + cp.len() + 1)?;
        if cp.len() + ir.len() != 13 {
            return Err(fmt_err(
                pos,
                "SGTIN company prefix + item reference must be 13 digits",
            ));
        }
        let mut body13 = String::with_capacity(13);
        body13.push_str(&ir[..1]);
        body13.push_str(cp);
        body13.push_str(&ir[1..]);
        let gtin = Gtin::from_body(body13.parse().map_err(|_| fmt_err(pos, "bad digits"))?)?;
        let serial = unescape(serial, pos + cp.len() + ir.len() + 2)?;
        Self::sgtin(gtin, &serial, cp.len() as u8)
    }

    fn parse_sscc_body(body: &str, pos: usize) -> Result<Self, Gs1Error> {
        let Some((cp, sr)) = body.split_once('.') else {
            return Err(fmt_err(pos, "SSCC URI needs CompanyPrefix.SerialReference"));
        };
        split_digits(cp, pos)?;
        split_digits(sr, pos + cp.len() + 1)?;
        if cp.len() + sr.len() != 17 {
            return Err(fmt_err(
                pos,
                "SSCC company prefix + serial reference must be 17 digits",
            ));
        }
        let mut body17 = String::with_capacity(17);
        body17.push_str(&sr[..1]);
        body17.push_str(cp);
        body17.push_str(&sr[1..]);
        let sscc = Sscc::from_body(body17.parse().map_err(|_| fmt_err(pos, "bad digits"))?)?;
        Self::sscc(sscc, cp.len() as u8)
    }
}

impl fmt::Display for EpcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_pure_uri())
    }
}

/// Binary tag encoding scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagScheme {
    /// SGTIN-96: numeric serial below 2^38 without leading zeros.
    Sgtin96,
    /// SGTIN-198: serial of up to 20 characters of GS1 character set 82.
    Sgtin198,
    /// SSCC-96.
    Sscc96,
}

impl TagScheme {
    fn name(self) -> &'static str {
        match self {
            TagScheme::Sgtin96 => "sgtin-96",
            TagScheme::Sgtin198 => "sgtin-198",
            TagScheme::Sscc96 => "sscc-96",
        }
    }

    fn header(self) -> u8 {
        match self {
            TagScheme::Sgtin96 => 0x30,
            TagScheme::Sgtin198 => 0x36,
            TagScheme::Sscc96 => 0x31,
        }
    }

    /// Bits of the encoding (without padding).
    pub fn bits(self) -> usize {
        match self {
            TagScheme::Sgtin96 | TagScheme::Sscc96 => 96,
            TagScheme::Sgtin198 => 198,
        }
    }
}

/// An EPC as written on a tag: identity, encoding scheme and filter value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EpcTag {
    id: EpcId,
    scheme: TagScheme,
    filter: u8,
}

/// Bits of (company prefix, item reference or serial reference) by partition value.
const SGTIN_PARTITIONS: [(u32, u32); 7] = [
    (40, 4),
    (37, 7),
    (34, 10),
    (30, 14),
    (27, 17),
    (24, 20),
    (20, 24),
];
const SSCC_PARTITIONS: [(u32, u32); 7] = [
    (40, 18),
    (37, 21),
    (34, 24),
    (30, 28),
    (27, 31),
    (24, 34),
    (20, 38),
];

struct BitWriter {
    bytes: [u8; 32],
    len: usize,
}

impl BitWriter {
    fn put(&mut self, value: u64, bits: u32) {
        for k in (0..bits).rev() {
            if (value >> k) & 1 == 1 {
                self.bytes[self.len / 8] |= 0x80 >> (self.len % 8);
            }
            self.len += 1;
        }
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn get(&mut self, bits: u32) -> u64 {
        let mut v = 0u64;
        for _ in 0..bits {
            let bit = self
                .bytes
                .get(self.pos / 8)
                .map_or(0, |b| (b >> (7 - self.pos % 8)) & 1);
            v = (v << 1) | u64::from(bit);
            self.pos += 1;
        }
        v
    }
}

fn digits_value(s: &str) -> u64 {
    s.bytes().fold(0, |a, d| a * 10 + u64::from(d - b'0'))
}

impl EpcTag {
    /// Builds a tag encoding, checking that the identity fits the scheme: SGTIN
    /// identities need an SGTIN scheme (SGTIN-96 also needs a serial of digits without
    /// leading zeros, at most [`SGTIN96_SERIAL_MAX`]), SSCC needs SSCC-96; filter 0-7.
    pub fn new(id: EpcId, scheme: TagScheme, filter: u8) -> Result<Self, Gs1Error> {
        if filter > 7 {
            return Err(fmt_err(0, "EPC filter value must be 0-7"));
        }
        match (&id, scheme) {
            (EpcId::Sgtin { serial, .. }, TagScheme::Sgtin96) => {
                let numeric = serial.bytes().all(|c| c.is_ascii_digit());
                if !numeric
                    || (serial.len() > 1 && serial.starts_with('0'))
                    || serial.len() > 12
                    || digits_value(serial) > SGTIN96_SERIAL_MAX
                {
                    return Err(fmt_err(
                        0,
                        "SGTIN-96 serial must be digits without leading zeros, below 2^38",
                    ));
                }
            }
            (EpcId::Sgtin { serial, .. }, TagScheme::Sgtin198) => {
                if serial.len() > SGTIN198_SERIAL_LEN_MAX {
                    return Err(fmt_err(0, "SGTIN-198 serial is longer than 20 characters"));
                }
            }
            (EpcId::Sscc { .. }, TagScheme::Sscc96) => {}
            _ => return Err(fmt_err(0, "EPC identity does not match the tag scheme")),
        }
        Ok(EpcTag { id, scheme, filter })
    }

    /// The identity.
    pub fn id(&self) -> &EpcId {
        &self.id
    }

    /// The encoding scheme.
    pub fn scheme(&self) -> TagScheme {
        self.scheme
    }

    /// The filter value (0-7).
    pub fn filter(&self) -> u8 {
        self.filter
    }

    /// The tag URI, e.g. `urn:epc:tag:sgtin-96:3.0614141.812345.6789`.
    pub fn to_tag_uri(&self) -> String {
        let (cp, rest) = self.id.fields();
        let mut s = String::with_capacity(72);
        s.push_str("urn:epc:tag:");
        s.push_str(self.scheme.name());
        s.push(':');
        s.push(char::from(b'0' + self.filter));
        s.push('.');
        s.push_str(&cp);
        s.push('.');
        s.push_str(&rest);
        if let EpcId::Sgtin { serial, .. } = &self.id {
            s.push('.');
            push_escaped(&mut s, serial);
        }
        s
    }

    /// Parses a tag URI (`urn:epc:tag:sgtin-96:…`, `…:sgtin-198:…`, `…:sscc-96:…`).
    pub fn parse_tag_uri(uri: &str) -> Result<Self, Gs1Error> {
        let (scheme, body) = if let Some(b) = uri.strip_prefix("urn:epc:tag:sgtin-96:") {
            (TagScheme::Sgtin96, b)
        } else if let Some(b) = uri.strip_prefix("urn:epc:tag:sgtin-198:") {
            (TagScheme::Sgtin198, b)
        } else if let Some(b) = uri.strip_prefix("urn:epc:tag:sscc-96:") {
            (TagScheme::Sscc96, b)
        } else {
            return Err(fmt_err(
                0,
                "expected urn:epc:tag:sgtin-96:, urn:epc:tag:sgtin-198: or urn:epc:tag:sscc-96:",
            ));
        };
        let pos = uri.len() - body.len();
        let bb = body.as_bytes();
        if bb.len() < 2 || !(b'0'..=b'7').contains(&bb[0]) || bb[1] != b'.' {
            return Err(fmt_err(pos, "tag URI needs a filter value 0-7 and '.'"));
        }
        let filter = bb[0] - b'0';
        let id = match scheme {
            TagScheme::Sscc96 => EpcId::parse_sscc_body(&body[2..], pos + 2)?,
            _ => EpcId::parse_sgtin_body(&body[2..], pos + 2)?,
        };
        EpcTag::new(id, scheme, filter)
    }

    /// The binary encoding as upper-case hex: 24 digits for the 96-bit schemes, 52
    /// digits for SGTIN-198 (198 bits zero-padded to 208, a whole number of 16-bit words
    /// as in the tag's EPC memory bank).
    pub fn to_hex(&self) -> String {
        let mut w = BitWriter {
            bytes: [0; 32],
            len: 0,
        };
        w.put(u64::from(self.scheme.header()), 8);
        w.put(u64::from(self.filter), 3);
        let l = u32::from(self.id.company_prefix_len());
        let partition = 12 - l;
        w.put(u64::from(partition), 3);
        let (cp, rest) = self.id.fields();
        let table = match self.scheme {
            TagScheme::Sscc96 => SSCC_PARTITIONS,
            _ => SGTIN_PARTITIONS,
        };
        let (cp_bits, rest_bits) = table[partition as usize];
        w.put(digits_value(&cp), cp_bits);
        w.put(digits_value(&rest), rest_bits);
        match (&self.id, self.scheme) {
            (EpcId::Sgtin { serial, .. }, TagScheme::Sgtin96) => {
                w.put(digits_value(serial), 38);
            }
            (EpcId::Sgtin { serial, .. }, _) => {
                for b in serial.bytes() {
                    w.put(u64::from(b), 7);
                }
                w.len = 8 + 3 + 3 + 44 + 140;
            }
            (EpcId::Sscc { .. }, _) => {
                w.put(0, 24);
            }
        }
        let total_bits = match self.scheme {
            TagScheme::Sgtin198 => 208,
            _ => 96,
        };
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut s = String::with_capacity(total_bits / 4);
        for byte in &w.bytes[..total_bits / 8] {
            s.push(char::from(HEX[usize::from(byte >> 4)]));
            s.push(char::from(HEX[usize::from(byte & 15)]));
        }
        s
    }

    /// Decodes the binary encoding from hex (either case). SGTIN-198 accepts 50 or 52
    /// hex digits (padding to 200 or 208 bits); padding bits must be zero.
    pub fn from_hex(hex: &str) -> Result<Self, Gs1Error> {
        let hb = hex.as_bytes();
        if hb.len() > 64 || hb.len() < 2 {
            return Err(fmt_err(0, "EPC hex has a bad length"));
        }
        let mut bytes = [0u8; 32];
        for (i, &c) in hb.iter().enumerate() {
            let v = (c as char).to_digit(16).ok_or(Gs1Error::BadCharacter {
                ai: None,
                pos: i,
                ch: hex[crate::element::floor_char_boundary(hex, i)..]
                    .chars()
                    .next()
                    .unwrap_or('?'),
                expected: "hex digits",
            })? as u8;
            bytes[i / 2] |= if i % 2 == 0 { v << 4 } else { v };
        }
        let nbits = hb.len() * 4;
        let scheme = match bytes[0] {
            0x30 => TagScheme::Sgtin96,
            0x31 => TagScheme::Sscc96,
            0x36 => TagScheme::Sgtin198,
            _ => return Err(fmt_err(0, "unsupported EPC header (expected 30, 31 or 36)")),
        };
        let ok_len = match scheme {
            TagScheme::Sgtin198 => nbits == 200 || nbits == 208,
            _ => nbits == 96,
        };
        if !ok_len {
            return Err(fmt_err(0, "EPC hex length does not match its header"));
        }
        let mut r = BitReader {
            bytes: &bytes,
            pos: 8,
        };
        let filter = r.get(3) as u8;
        let partition = r.get(3) as usize;
        if partition > 6 {
            return Err(fmt_err(1, "EPC partition value 7 is reserved"));
        }
        let cp_len = 12 - partition;
        let table = match scheme {
            TagScheme::Sscc96 => SSCC_PARTITIONS,
            _ => SGTIN_PARTITIONS,
        };
        let (cp_bits, rest_bits) = table[partition];
        let rest_len = match scheme {
            TagScheme::Sscc96 => 17 - cp_len,
            _ => 13 - cp_len,
        };
        let cp = r.get(cp_bits);
        let rest = r.get(rest_bits);
        if cp >= 10u64.pow(cp_len as u32) || rest >= 10u64.pow(rest_len as u32) {
            return Err(fmt_err(2, "EPC field value exceeds its digits"));
        }
        let cp_s = format!("{cp:0cp_len$}");
        let rest_s = format!("{rest:0rest_len$}");
        let body = format!("{}{}{}", &rest_s[..1], cp_s, &rest_s[1..]);
        let id = match scheme {
            TagScheme::Sscc96 => {
                if r.get(24) != 0 {
                    return Err(fmt_err(9, "SSCC-96 reserved bits must be zero"));
                }
                EpcId::sscc(Sscc::from_body(digits_value(&body))?, cp_len as u8)?
            }
            TagScheme::Sgtin96 => {
                let serial = r.get(38);
                let gtin = Gtin::from_body(digits_value(&body))?;
                EpcId::sgtin(gtin, &serial.to_string(), cp_len as u8)?
            }
            TagScheme::Sgtin198 => {
                let mut serial = String::with_capacity(SGTIN198_SERIAL_LEN_MAX);
                let mut ended = false;
                for _ in 0..SGTIN198_SERIAL_LEN_MAX {
                    let c = r.get(7) as u8;
                    if c == 0 {
                        ended = true;
                    } else if ended {
                        return Err(fmt_err(7, "SGTIN-198 serial has data after its end"));
                    } else if !Cset::Cset82.contains(c) {
                        return Err(Gs1Error::BadCharacter {
                            ai: Some(Ai::SERIAL),
                            pos: (r.pos - 7) / 4,
                            ch: char::from(c),
                            expected: Cset::Cset82.name(),
                        });
                    } else {
                        serial.push(char::from(c));
                    }
                }
                let gtin = Gtin::from_body(digits_value(&body))?;
                EpcId::sgtin(gtin, &serial, cp_len as u8)?
            }
        };
        // Padding after the encoding must be zero.
        let pad = nbits - r.pos;
        if pad > 0 && r.get(pad as u32) != 0 {
            return Err(fmt_err(r.pos / 4, "EPC padding bits must be zero"));
        }
        EpcTag::new(id, scheme, filter)
    }
}

impl fmt::Display for EpcTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_tag_uri())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sscc_round_trip() {
        let id = EpcId::sscc(Sscc::parse("106141412345678908").unwrap(), 7).unwrap();
        assert_eq!(id.to_pure_uri(), "urn:epc:id:sscc:0614141.1234567890");
        assert_eq!(EpcId::parse_pure_uri(&id.to_pure_uri()).unwrap(), id);
        let tag = EpcTag::new(id, TagScheme::Sscc96, 0).unwrap();
        assert_eq!(tag.to_hex(), "3114257BF4499602D2000000");
        assert_eq!(EpcTag::from_hex(&tag.to_hex()).unwrap(), tag);
    }

    #[test]
    fn sgtin198_escapes() {
        let gtin = Gtin::parse("80614141123458").unwrap();
        let id = EpcId::sgtin(gtin, "a/b%c", 7).unwrap();
        assert_eq!(
            id.to_pure_uri(),
            "urn:epc:id:sgtin:0614141.812345.a%2Fb%25c"
        );
        let tag = EpcTag::new(id.clone(), TagScheme::Sgtin198, 1).unwrap();
        assert_eq!(EpcTag::parse_tag_uri(&tag.to_tag_uri()).unwrap(), tag);
        assert_eq!(EpcTag::from_hex(&tag.to_hex()).unwrap(), tag);
        assert!(EpcTag::new(id, TagScheme::Sgtin96, 1).is_err());
    }
}
