//! Crypto tails kept from readers who may not see them.
//!
//! A code's crypto tail (AI 91 key id with AI 92, or AI 93) is what makes a printed label
//! verify `genuine`: whoever reads it can print a clone that passes. Tails are for the
//! code's holder (and a shipment's receiver), in a signed request; everyone else who may
//! read a document (a regulator, or its author with a bearer token alone) reads it with
//! every code reduced to its identification code (`01{gtin}21{serial}`, AIs other than the
//! tail kept), so its history stays readable. The stored body — the legal record, the
//! bytes the signature covers — is never changed: redaction works on a parsed copy at
//! read time.

use gs1::ElementString;
use serde_json::Value;

/// AIs of a crypto tail: key id, MAC or signature, short MAC.
const TAIL_AIS: [&str; 3] = ["91", "92", "93"];

/// Strings longer than this are not codes (a GS1 element string is at most a few hundred
/// bytes, a Digital Link URI with its tail under 1 KiB): not parsed, kept as they are.
const CODE_TEXT_LEN_MAX: usize = 1024;

/// A document body with its tails taken out.
#[derive(Clone, Debug, PartialEq)]
pub struct Redacted {
    /// The body as JSON, every code without its tail.
    pub body: Value,
    /// How many codes lost a tail.
    pub codes: u64,
}

/// `text` without its crypto tail, when it is a code that carries one (GS-separated form).
pub fn strip_tail(text: &str) -> Option<String> {
    if text.len() > CODE_TEXT_LEN_MAX || text.len() < 4 {
        return None;
    }
    let es = ElementString::parse(text).ok()?;
    if !es.iter().any(|(ai, _)| TAIL_AIS.contains(&ai.code())) {
        return None;
    }
    // Only codes are reduced: an element string without a GTIN and serial (or an SSCC) is
    // not a marking code and has no tail worth hiding, but keep it unchanged anyway.
    es.identification_code()?;
    let mut out = ElementString::new();
    for (ai, v) in es.iter() {
        if !TAIL_AIS.contains(&ai.code()) {
            out.push(ai, v).ok()?;
        }
    }
    Some(out.to_gs())
}

/// Whether any string in `v` (values and object keys) is a code with a crypto tail.
pub fn has_tails(v: &Value) -> bool {
    match v {
        Value::String(s) => strip_tail(s).is_some(),
        Value::Array(a) => a.iter().any(has_tails),
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| strip_tail(k).is_some() || has_tails(x)),
        _ => false,
    }
}

/// `v` with every code's tail removed (in values and object keys, such as a receipt's
/// `prices`), and how many codes lost one.
pub fn strip_tails(v: &Value) -> (Value, u64) {
    let mut n = 0;
    let out = walk(v, &mut n);
    (out, n)
}

fn walk(v: &Value, n: &mut u64) -> Value {
    match v {
        Value::String(s) => match strip_tail(s) {
            Some(t) => {
                *n += 1;
                Value::String(t)
            }
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, n)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let k = match strip_tail(k) {
                        Some(t) => {
                            *n += 1;
                            t
                        }
                        None => k.clone(),
                    };
                    (k, walk(x, n))
                })
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// At most this many short tails (AI 93, 24 bits each) in one document body can be found
/// again from the body's hash alone, which a document's log leaf names (`body_blake3`): the
/// redacted body gives every other byte, and 2^24 BLAKE3s take a second (2^48 for two, hours
/// on a GPU; 2^72 for three is out of reach). Such a leaf is read by its author alone.
pub const SHORT_TAILS_GUESSABLE_MAX: usize = 2;

/// How many codes in a document body (exact bytes) carry a short tail (AI 93).
pub fn short_tails(body: &[u8]) -> usize {
    // Most bodies hold no AI 93 at all (identification codes, MAC or signature tails): a
    // byte search spares parsing them.
    let marks: [&[u8]; 4] = [b"\\u001d93", b"\\u001D93", b"(93)", b"93="];
    if !marks.iter().any(|m| body.windows(m.len()).any(|w| w == *m)) {
        return 0;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    let mut n = 0;
    count_short(&v, &mut n);
    n
}

fn count_short(v: &Value, n: &mut usize) {
    let short = |s: &str| {
        s.len() <= CODE_TEXT_LEN_MAX
            && ElementString::parse(s).is_ok_and(|es| es.iter().any(|(ai, _)| ai.code() == "93"))
    };
    match v {
        Value::String(s) => *n += usize::from(short(s)),
        Value::Array(a) => a.iter().for_each(|x| count_short(x, n)),
        Value::Object(m) => {
            for (k, x) in m {
                *n += usize::from(short(k));
                count_short(x, n);
            }
        }
        _ => {}
    }
}

/// A stored document body (exact bytes, UTF-8 JSON) without its tails; `None` when it
/// holds none (then the body may be shown as it is).
pub fn redact_body(body: &[u8]) -> Option<Redacted> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let (body, codes) = strip_tails(&v);
    (codes > 0).then_some(Redacted { body, codes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GS: char = '\u{1d}';

    #[test]
    fn tails_go_and_identification_codes_stay() {
        let mac =
            format!("0104601234567893215Zx!q{GS}910001{GS}92c29tZXRoaW5nIHZlcnkgc2VjcmV0IQ==");
        let short = format!("0104601234567893215Zx!r{GS}93Ab/+");
        let dl = "https://id.example/01/04601234567893/21/5Zx%21s?91=0001&92=abcd";
        let plain = "0104601234567893215Zx!t";
        let sscc = "00146501172400000016";
        let body = json!({
            "id": "0f0e0d0c-0b0a-4909-8807-060504030201", "type": "sell",
            "codes": [mac, short, dl, plain, sscc],
            "receipt": {"prices": {mac.clone(): 100}, "store": "Nevsky 1"},
            "reason": "91 is not a code",
        });
        assert!(has_tails(&body));
        let r = redact_body(body.to_string().as_bytes()).expect("redacted");
        assert_eq!(r.codes, 4);
        assert_eq!(
            r.body["codes"],
            json!([
                "0104601234567893215Zx!q",
                "0104601234567893215Zx!r",
                "0104601234567893215Zx!s",
                plain,
                sscc
            ])
        );
        assert_eq!(r.body["receipt"]["prices"]["0104601234567893215Zx!q"], 100);
        assert_eq!(r.body["reason"], "91 is not a code");
        assert!(!r.body.to_string().contains("\\u001d9"), "{}", r.body);
        assert!(!has_tails(&r.body));
        assert_eq!(
            short_tails(body.to_string().as_bytes()),
            1,
            "the one code with AI 93"
        );
        assert_eq!(
            short_tails(json!({"codes": [mac, plain]}).to_string().as_bytes()),
            0
        );
        // A body without tails is shown as it is.
        assert_eq!(
            redact_body(json!({"codes": [plain, sscc]}).to_string().as_bytes()),
            None
        );
    }
}
