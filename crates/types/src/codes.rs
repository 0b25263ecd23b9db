//! From what users send (GS-separated, bracketed, Digital Link) to a [`CodeKey`] and tail.

use crate::model::CodeKey;

/// The crypto tail a code was presented with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PresentedTail {
    /// No tail given (documents usually send identification codes only).
    None,
    /// AI 91 (key id) and AI 92 (MAC or signature).
    Long {
        /// AI 91.
        kid: String,
        /// AI 92.
        value: String,
    },
    /// AI 93.
    Short(String),
}

/// A parsed marking code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedCode {
    /// The identification code.
    pub key: CodeKey,
    /// The tail, if presented.
    pub tail: PresentedTail,
    /// AI 8005 (maximum retail price of a tobacco block, minor units), if present.
    pub max_price: Option<u64>,
}

/// Parses any accepted form of a code. The error is a stable reason word with a detail.
pub fn parse_code(input: &str) -> Result<ParsedCode, (&'static str, String)> {
    let es = gs1::ElementString::parse(input).map_err(|e| (e.reason(), e.to_string()))?;
    let mut gtin = None;
    let mut serial = None;
    let mut sscc = None;
    let mut kid = None;
    let mut value = None;
    let mut short = None;
    let mut max_price = None;
    for (ai, v) in es.iter() {
        match ai.code() {
            "01" => gtin = Some(v),
            "21" => serial = Some(v),
            "00" => sscc = Some(v),
            "91" => kid = Some(v),
            "92" => value = Some(v),
            "93" => short = Some(v),
            "8005" => max_price = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    let key = match (gtin, serial, sscc) {
        (Some(g), Some(s), None) => {
            let g: u64 = g
                .parse()
                .map_err(|_| ("bad_format", format!("GTIN {g} is not numeric")))?;
            CodeKey::unit(g, s.as_bytes())
        }
        (None, None, Some(s)) => CodeKey::sscc(
            s.parse()
                .map_err(|_| ("bad_format", format!("SSCC {s} is not numeric")))?,
        ),
        (Some(_), None, _) => {
            return Err((
                "bad_format",
                "a GTIN without a serial (AI 21) is not a code".into(),
            ))
        }
        _ => {
            return Err((
                "bad_format",
                "a code is 01 (GTIN) + 21 (serial) with its tail, or 00 (SSCC)".into(),
            ))
        }
    };
    let tail = match (kid, value, short) {
        (Some(k), Some(v), None) => PresentedTail::Long {
            kid: k.to_string(),
            value: v.to_string(),
        },
        (None, None, Some(s)) => PresentedTail::Short(s.to_string()),
        (None, None, None) => PresentedTail::None,
        _ => {
            return Err((
                "bad_crypto_tail",
                "a tail is AI 91 with AI 92, or AI 93 alone".into(),
            ))
        }
    };
    if key.is_sscc() && tail != PresentedTail::None {
        return Err(("bad_format", "an SSCC carries no crypto tail".into()));
    }
    Ok(ParsedCode {
        key,
        tail,
        max_price,
    })
}
