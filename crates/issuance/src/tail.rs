//! Crypto tails and the identification code they cover.
//!
//! | kind | element string after the serial | value |
//! |---|---|---|
//! | [`TailKind::Mac`] | `GS 91 kid GS 92 value` | 44 chars: padded standard base64 of a 32-byte keyed BLAKE3 MAC |
//! | [`TailKind::Signature`] | `GS 91 kid GS 92 value` | 88 chars: padded standard base64 of a 64-byte Ed25519 signature |
//! | [`TailKind::Short`] | `GS 93 value` | 4 chars: standard base64 of the first 3 bytes of a keyed BLAKE3 MAC |
//!
//! Every tail covers the UTF-8 bytes of the identification code `01{gtin14}21{serial}`.
//! All tail characters (`A–Z a–z 0–9 + / =`) and key ids (4 digits) are in GS1 CSET 82.

use crate::serial::{GTIN_LIMIT, SERIAL_LEN_MAX};
use crate::IssuanceError;
use serde::{Deserialize, Serialize};

/// ASCII group separator (GS, 29): ends every variable-length field.
pub const GS: char = '\u{1d}';

/// Length of a key id (AI 91 value).
pub const KID_LEN: usize = 4;
/// Length of AI 92 for a MAC tail.
pub const MAC_TAIL_LEN: usize = 44;
/// Length of AI 92 for a signature tail.
pub const SIGNATURE_TAIL_LEN: usize = 88;
/// Length of AI 93 (short tail).
pub const SHORT_TAIL_LEN: usize = 4;
/// Longest identification code: `01` + 14 + `21` + 20.
pub const ID_CODE_LEN_MAX: usize = 2 + 14 + 2 + SERIAL_LEN_MAX;

/// Which crypto tail a code carries (the `tail` field of a code order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TailKind {
    /// `91` key id + `92` 44-char keyed BLAKE3 MAC; checkable by the registry.
    Mac,
    /// `91` key id + `92` 88-char Ed25519 signature; checkable offline with the public key.
    Signature,
    /// `93` 4-char short MAC; checkable by the registry, which must store the issuing key id.
    Short,
}

impl TailKind {
    /// The order API's name: `mac`, `signature` or `short`.
    pub fn as_str(self) -> &'static str {
        match self {
            TailKind::Mac => "mac",
            TailKind::Signature => "signature",
            TailKind::Short => "short",
        }
    }

    /// Length of the tail value (AI 92 or 93).
    pub fn value_len(self) -> usize {
        match self {
            TailKind::Mac => MAC_TAIL_LEN,
            TailKind::Signature => SIGNATURE_TAIL_LEN,
            TailKind::Short => SHORT_TAIL_LEN,
        }
    }
}

impl core::str::FromStr for TailKind {
    type Err = IssuanceError;
    fn from_str(s: &str) -> Result<TailKind, IssuanceError> {
        match s {
            "mac" => Ok(TailKind::Mac),
            "signature" => Ok(TailKind::Signature),
            "short" => Ok(TailKind::Short),
            _ => Err(IssuanceError::BadTailKind(s.into())),
        }
    }
}

/// A key id: 4 characters (digits when made by this crate), the value of AI 91.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid([u8; KID_LEN]);

impl Kid {
    /// Parses a key id: exactly 4 characters of GS1 CSET 82.
    pub fn new(s: &str) -> Result<Kid, IssuanceError> {
        let bytes: [u8; KID_LEN] = s
            .as_bytes()
            .try_into()
            .map_err(|_| IssuanceError::BadKid(s.into()))?;
        if bytes.iter().all(|&b| is_cset82(b)) {
            Ok(Kid(bytes))
        } else {
            Err(IssuanceError::BadKid(s.into()))
        }
    }

    /// The key id `n` written as 4 decimal digits (`1` → `"0001"`); `n` in `1..=9999`.
    pub(crate) fn from_number(n: u32) -> Option<Kid> {
        if !(1..=9999).contains(&n) {
            return None;
        }
        let mut bytes = [b'0'; KID_LEN];
        let mut v = n;
        for b in bytes.iter_mut().rev() {
            *b = b'0' + (v % 10) as u8;
            v /= 10;
        }
        Some(Kid(bytes))
    }

    /// The number of a decimal key id, if it is one.
    pub(crate) fn number(&self) -> Option<u32> {
        self.as_str().parse().ok()
    }

    /// The key id as a string.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).expect("kid bytes are CSET 82 ASCII")
    }
}

impl core::fmt::Display for Kid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Debug for Kid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Kid({:?})", self.as_str())
    }
}

/// Whether `b` is in GS1 "AI encodable character set 82".
pub fn is_cset82(b: u8) -> bool {
    matches!(b,
        b'!' | b'"' | b'%' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'-' | b'.' | b'/'
        | b'0'..=b'9' | b':' | b';' | b'<' | b'=' | b'>' | b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
}

/// An identification code `01{gtin14}21{serial}`, held inline (no heap).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdCode {
    bytes: [u8; ID_CODE_LEN_MAX],
    len: u8,
}

impl IdCode {
    /// `01` + the GTIN as 14 digits (leading zeros) + `21` + serial.
    ///
    /// Fails for a GTIN of more than 14 digits, or a serial that is empty, longer than 20
    /// characters or has a character outside CSET 82. The GTIN check digit is not checked
    /// here (that is the `gs1` crate's job).
    pub fn new(gtin: u64, serial: &str) -> Result<IdCode, IssuanceError> {
        if gtin >= GTIN_LIMIT {
            return Err(IssuanceError::BadGtin(gtin));
        }
        let s = serial.as_bytes();
        if s.is_empty() || s.len() > SERIAL_LEN_MAX || !s.iter().all(|&b| is_cset82(b)) {
            return Err(IssuanceError::BadSerial(serial.into()));
        }
        Ok(IdCode::from_prefix(&IdCode::prefix(gtin), serial))
    }

    /// `01{gtin14}21` for a GTIN known to have at most 14 digits.
    pub(crate) fn prefix(gtin: u64) -> [u8; 18] {
        debug_assert!(gtin < GTIN_LIMIT);
        let mut prefix = [0u8; 18];
        prefix[..2].copy_from_slice(b"01");
        let mut g = gtin;
        for b in prefix[2..16].iter_mut().rev() {
            *b = b'0' + (g % 10) as u8;
            g /= 10;
        }
        prefix[16..18].copy_from_slice(b"21");
        prefix
    }

    /// The identification code from a [`IdCode::prefix`] and a serial known to be valid
    /// (an operator serial: 1–20 alphanumerics).
    #[inline]
    pub(crate) fn from_prefix(prefix: &[u8; 18], serial: &str) -> IdCode {
        let s = serial.as_bytes();
        debug_assert!(
            !s.is_empty() && s.len() <= SERIAL_LEN_MAX && s.iter().all(|&b| is_cset82(b))
        );
        let mut bytes = [0u8; ID_CODE_LEN_MAX];
        bytes[..18].copy_from_slice(prefix);
        bytes[18..18 + s.len()].copy_from_slice(s);
        IdCode {
            bytes,
            len: (18 + s.len()) as u8,
        }
    }

    /// The identification code as a string.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("id code is ASCII")
    }
}

impl AsRef<str> for IdCode {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl core::fmt::Display for IdCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Debug for IdCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "IdCode({:?})", self.as_str())
    }
}

/// An issued crypto tail, held inline (no heap).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tail {
    kind: TailKind,
    kid: Kid,
    value: [u8; SIGNATURE_TAIL_LEN],
}

impl Tail {
    /// Builds a tail from an already encoded value (`value.len() == kind.value_len()`).
    pub(crate) fn from_encoded(kind: TailKind, kid: Kid, encoded: &[u8]) -> Tail {
        assert_eq!(encoded.len(), kind.value_len(), "tail value length");
        let mut value = [0u8; SIGNATURE_TAIL_LEN];
        value[..encoded.len()].copy_from_slice(encoded);
        Tail { kind, kid, value }
    }

    /// The tail kind.
    pub fn kind(&self) -> TailKind {
        self.kind
    }

    /// The id of the key that issued this tail. For a [`TailKind::Short`] tail it is not
    /// printed on the code: the registry stores it with the code.
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// The check value: AI 92 for MAC and signature tails, AI 93 for short tails.
    pub fn value(&self) -> &str {
        core::str::from_utf8(&self.value[..self.kind.value_len()]).expect("base64 is ASCII")
    }

    /// The AI 91 value (key id), absent for short tails.
    pub fn ai91(&self) -> Option<&str> {
        match self.kind {
            TailKind::Short => None,
            TailKind::Mac | TailKind::Signature => Some(self.kid.as_str()),
        }
    }

    /// The AI 92 value, absent for short tails.
    pub fn ai92(&self) -> Option<&str> {
        match self.kind {
            TailKind::Short => None,
            TailKind::Mac | TailKind::Signature => Some(self.value()),
        }
    }

    /// The AI 93 value, present for short tails only.
    pub fn ai93(&self) -> Option<&str> {
        match self.kind {
            TailKind::Short => Some(self.value()),
            TailKind::Mac | TailKind::Signature => None,
        }
    }

    /// [`tail_fingerprint`] of the value, for the registry to store.
    pub fn fingerprint(&self) -> u64 {
        tail_fingerprint(self.value())
    }

    /// Appends the tail's part of the element string: `GS 91 kid GS 92 value` or
    /// `GS 93 value`. The leading GS ends the serial (or whatever variable-length field
    /// precedes, such as tobacco's `8005` price); nothing follows the last field.
    pub fn push_element_string(&self, out: &mut String) {
        out.push(GS);
        match self.kind {
            TailKind::Mac | TailKind::Signature => {
                out.push_str("91");
                out.push_str(self.kid.as_str());
                out.push(GS);
                out.push_str("92");
            }
            TailKind::Short => out.push_str("93"),
        }
        out.push_str(self.value());
    }
}

impl core::fmt::Debug for Tail {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tail")
            .field("kind", &self.kind)
            .field("kid", &self.kid)
            .field("value", &self.value())
            .finish()
    }
}

/// A 64-bit fingerprint of a tail value: the first 8 bytes (little-endian) of its
/// unkeyed BLAKE3 hash.
///
/// # Why
///
/// Checking an Ed25519 signature costs about 30 µs (32 k/s per core): a till check load of
/// tens of thousands of codes per second would need a core for signatures alone. The
/// registry issued every tail itself, so it can store this fingerprint with the code and,
/// at a check, compare the fingerprint of the presented tail (one BLAKE3 block, ~0.1 µs).
///
/// # Why it is as strong as verifying
///
/// The stored fingerprint belongs to a tail the registry issued, which verifies by
/// construction. A presented value passes only if it equals that tail or is a second
/// preimage of a 64-bit truncated BLAKE3 under a fingerprint the forger does not know:
/// an online guess succeeds with probability 2^-64, far below the forgery probability of
/// a short (24-bit) tail, and even a forger who stole the fingerprints needs ~2^64 hashes
/// per code. It is in one way *stronger* than verifying: a tail that verifies under a
/// leaked key but was never issued is refused, and a copied genuine tail (a clone) passes
/// both checks alike — clones are caught by status and scan signals, not by crypto.
///
/// Better still, and cheap: key the fingerprint with a registry secret, so a stolen store
/// gives no offline foothold at all; the registry can do that by hashing with
/// `blake3::keyed_hash` instead. Full verification stays for codes whose fingerprint is
/// missing (e.g. imported), and for MAC tails costs about the same as the fingerprint.
pub fn tail_fingerprint(value: &str) -> u64 {
    let hash = blake3::hash(value.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// Constant-time equality of two byte strings of public length.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_code_layout() {
        let id = IdCode::new(4_650_117_240_163, "5100000005NgF").unwrap();
        assert_eq!(id.as_str(), "0104650117240163215100000005NgF");
        let id = IdCode::new(7, "a").unwrap();
        assert_eq!(id.as_str(), "010000000000000721a");
        assert!(IdCode::new(GTIN_LIMIT, "a").is_err());
        assert!(IdCode::new(1, "").is_err());
        assert!(IdCode::new(1, "abc\u{1d}").is_err());
        assert!(IdCode::new(1, "123456789012345678901").is_err());
        assert_eq!(
            IdCode::new(1, "12345678901234567890")
                .unwrap()
                .as_str()
                .len(),
            ID_CODE_LEN_MAX
        );
    }

    #[test]
    fn kids() {
        assert_eq!(Kid::from_number(1).unwrap().as_str(), "0001");
        assert_eq!(Kid::from_number(9999).unwrap().as_str(), "9999");
        assert!(Kid::from_number(0).is_none());
        assert!(Kid::from_number(10_000).is_none());
        assert_eq!(Kid::new("0024").unwrap().number(), Some(24));
        assert!(Kid::new("002").is_err());
        assert!(Kid::new("00\u{1d}2").is_err());
    }

    #[test]
    fn cset82_and_ct_eq() {
        let base64_chars = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
        assert!(base64_chars.iter().all(|&b| is_cset82(b)));
        assert_eq!((0u8..=127).filter(|&b| is_cset82(b)).count(), 82);
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn tail_kind_names() {
        for k in [TailKind::Mac, TailKind::Signature, TailKind::Short] {
            assert_eq!(k.as_str().parse::<TailKind>().unwrap(), k);
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert!("MAC".parse::<TailKind>().is_err());
    }
}
