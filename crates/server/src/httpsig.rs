//! HTTP Message Signatures (RFC 9421) with `Content-Digest` (RFC 9530), exactly the profile
//! docs/api-guide.md ("Signing a change") fixes: one signature, label free (`sig1` by
//! convention), covering `"@method"`, `"@path"`, `"@query"` and `"content-digest"`, with
//! `created`, `nonce`, `keyid` (the participant's TIN) and `alg="ed25519"`.
//!
//! Written here rather than taken from a crate: the maintained RFC 9421 crates either
//! pull a whole HTTP-client stack or implement a different draft; this profile is one
//! fixed signature base of five lines, and the parsing below accepts nothing else, which is
//! what a registry wants (a verifier that understands less is attacked less).
//! The same functions sign (the demo, the bench, the tests) and verify (the server).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// How far a signature's `created` may be from the registry's clock, seconds.
pub const CREATED_SKEW_SECS_MAX: u64 = 300;
/// Shortest nonce accepted (characters).
pub const NONCE_LEN_MIN: usize = 16;
/// Longest nonce accepted (characters): a nonce is remembered, so it is bounded.
pub const NONCE_LEN_MAX: usize = 128;
/// Longest `Signature-Input` / `Signature` / `Content-Digest` header value accepted.
pub const HEADER_LEN_MAX: usize = 1_024;
/// The covered components, in the order they are signed.
pub const COMPONENTS: [&str; 4] = ["@method", "@path", "@query", "content-digest"];

/// Why a signature was refused: the text goes into the 401 problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SigError(pub String);

fn bad(s: impl Into<String>) -> SigError {
    SigError(s.into())
}

/// The `Content-Digest` value of a body: `sha-256=:<base64 SHA-256>:`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// A parsed `Signature-Input` member and its `Signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigInput {
    /// The label (`sig1`).
    pub label: String,
    /// The member value after `label=`: the `@signature-params` line of the base.
    pub params: String,
    /// `created` (Unix seconds).
    pub created: u64,
    /// `nonce`.
    pub nonce: String,
    /// `keyid`: the signer's TIN.
    pub keyid: String,
}

/// The request parts a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Method, upper case (`POST`).
    pub method: &'a str,
    /// The path as sent, percent-encoding kept.
    pub path: &'a str,
    /// The query as sent, without `?` (`None` or empty: none).
    pub query: Option<&'a str>,
}

/// The RFC 9421 §2.5 signature base of this profile.
pub fn signature_base(t: Target<'_>, digest: &str, params: &str) -> String {
    let path = if t.path.is_empty() { "/" } else { t.path };
    format!(
        "\"@method\": {}\n\"@path\": {}\n\"@query\": ?{}\n\"content-digest\": {}\n\"@signature-params\": {}",
        t.method,
        path,
        t.query.unwrap_or(""),
        digest,
        params
    )
}

/// Parses a `Signature-Input` header value of this profile.
pub fn parse_input(value: &str) -> Result<SigInput, SigError> {
    if value.len() > HEADER_LEN_MAX {
        return Err(bad("Signature-Input is too long"));
    }
    let (label, params) = value
        .trim()
        .split_once('=')
        .ok_or_else(|| bad("Signature-Input must be sig1=(\"@method\" …);created=…"))?;
    let label = label.trim();
    if label.is_empty()
        || !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b))
    {
        return Err(bad("Signature-Input: a bad label"));
    }
    if params.contains(',') {
        return Err(bad("Signature-Input: exactly one signature is accepted"));
    }
    let params = params.trim();
    let inner = params
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .ok_or_else(|| bad("Signature-Input: the covered components go in parentheses"))?;
    let (list, rest) = inner;
    let covered: Vec<&str> = list.split(' ').filter(|s| !s.is_empty()).collect();
    let want: Vec<String> = COMPONENTS.iter().map(|c| format!("\"{c}\"")).collect();
    if covered != want {
        return Err(bad(format!(
            "Signature-Input must cover exactly ({}) in that order",
            want.join(" ")
        )));
    }
    let (mut created, mut nonce, mut keyid, mut alg) = (None, None, None, None);
    for p in rest.split(';').skip(1) {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| bad(format!("Signature-Input: parameter {p:?} has no value")))?;
        let string = || -> Result<String, SigError> {
            v.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .filter(|s| !s.contains(['"', '\\']))
                .map(str::to_string)
                .ok_or_else(|| bad(format!("Signature-Input: {k} must be a quoted string")))
        };
        let dup = || bad(format!("Signature-Input: {k} given twice"));
        match k {
            "created" => {
                let c = v
                    .parse::<u64>()
                    .map_err(|_| bad("Signature-Input: created must be Unix seconds"))?;
                if created.replace(c).is_some() {
                    return Err(dup());
                }
            }
            "nonce" => {
                if nonce.replace(string()?).is_some() {
                    return Err(dup());
                }
            }
            "keyid" => {
                if keyid.replace(string()?).is_some() {
                    return Err(dup());
                }
            }
            "alg" => {
                if alg.replace(string()?).is_some() {
                    return Err(dup());
                }
            }
            _ => {
                return Err(bad(format!(
                    "Signature-Input: parameter {k} is not accepted (created, nonce, keyid, alg)"
                )))
            }
        }
    }
    let created = created.ok_or_else(|| bad("Signature-Input: created is required"))?;
    let nonce = nonce.ok_or_else(|| bad("Signature-Input: nonce is required"))?;
    let keyid = keyid.ok_or_else(|| bad("Signature-Input: keyid (your TIN) is required"))?;
    if alg.as_deref() != Some("ed25519") {
        return Err(bad("Signature-Input: alg must be \"ed25519\""));
    }
    let n = nonce.chars().count();
    if !(NONCE_LEN_MIN..=NONCE_LEN_MAX).contains(&n) || !nonce.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad(format!(
            "Signature-Input: nonce must be {NONCE_LEN_MIN} to {NONCE_LEN_MAX} printable characters"
        )));
    }
    Ok(SigInput {
        label: label.to_string(),
        params: params.to_string(),
        created,
        nonce,
        keyid,
    })
}

/// The 64 signature bytes of a `Signature` header value for `label`.
pub fn parse_signature(value: &str, label: &str) -> Result<[u8; 64], SigError> {
    if value.len() > HEADER_LEN_MAX {
        return Err(bad("Signature is too long"));
    }
    let (l, v) = value
        .trim()
        .split_once('=')
        .ok_or_else(|| bad("Signature must be sig1=:<base64>:"))?;
    if l.trim() != label {
        return Err(bad(format!(
            "Signature's label {:?} is not Signature-Input's {label:?}",
            l.trim()
        )));
    }
    STANDARD
        .decode(
            v.trim()
                .strip_prefix(':')
                .and_then(|s| s.strip_suffix(':'))
                .ok_or_else(|| bad("Signature: the value is a byte sequence :<base64>:"))?,
        )
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or_else(|| bad("Signature: not base64 of 64 bytes"))
}

/// Checks that `digest_header` is exactly the `sha-256` digest of `body`.
pub fn check_digest(digest_header: &str, body: &[u8]) -> Result<(), SigError> {
    if digest_header.trim() != content_digest(body) {
        return Err(bad(
            "Content-Digest is not sha-256=:<base64 SHA-256 of the body bytes>: of this body",
        ));
    }
    Ok(())
}

/// Verifies an Ed25519 signature over the signature base with any of `keys`.
pub fn verify(base: &str, sig: &[u8; 64], keys: &[[u8; 32]]) -> Result<(), SigError> {
    let sig = Signature::from_bytes(sig);
    for k in keys {
        if let Ok(vk) = VerifyingKey::from_bytes(k) {
            if vk.verify_strict(base.as_bytes(), &sig).is_ok() {
                return Ok(());
            }
        }
    }
    Err(bad(
        "the signature does not verify: sign the RFC 9421 signature base (method, path, query, \
         content-digest, signature params) with your registered key",
    ))
}

/// The three headers that sign a request: `(Content-Digest, Signature-Input, Signature)`.
pub fn sign(
    key: &SigningKey,
    tin: &str,
    t: Target<'_>,
    body: &[u8],
    created: u64,
    nonce: &str,
) -> (String, String, String) {
    let digest = content_digest(body);
    let params = format!(
        "(\"@method\" \"@path\" \"@query\" \"content-digest\");created={created};nonce=\"{nonce}\";keyid=\"{tin}\";alg=\"ed25519\""
    );
    let base = signature_base(t, &digest, &params);
    let sig = key.sign(base.as_bytes());
    (
        digest,
        format!("sig1={params}"),
        format!("sig1=:{}:", STANDARD.encode(sig.to_bytes())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target<'static> {
        Target {
            method: "POST",
            path: "/api/v1/documents",
            query: None,
        }
    }

    #[test]
    fn signs_and_verifies_and_refuses_any_change() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let pk = key.verifying_key().to_bytes();
        let body = br#"{"id":"x"}"#;
        let (digest, input, sig) = sign(&key, "7701", target(), body, 1_000, "nonce-0123456789ab");
        let i = parse_input(&input).expect("input");
        assert_eq!((i.created, i.keyid.as_str()), (1_000, "7701"));
        let s = parse_signature(&sig, &i.label).expect("sig");
        check_digest(&digest, body).expect("digest");
        verify(&signature_base(target(), &digest, &i.params), &s, &[pk]).expect("verifies");
        // Another path, method, query or body: refused.
        for t in [
            Target {
                path: "/api/v1/orders",
                ..target()
            },
            Target {
                method: "PUT",
                ..target()
            },
            Target {
                query: Some("a=1"),
                ..target()
            },
        ] {
            assert!(verify(&signature_base(t, &digest, &i.params), &s, &[pk]).is_err());
        }
        assert!(check_digest(&digest, b"{}").is_err());
        // The exact base docs/api-guide.md shows.
        assert_eq!(
            signature_base(target(), "sha-256=:X:", "(…)"),
            "\"@method\": POST\n\"@path\": /api/v1/documents\n\"@query\": ?\n\"content-digest\": sha-256=:X:\n\"@signature-params\": (…)"
        );
    }

    #[test]
    fn refuses_other_profiles() {
        let ok = "sig1=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;nonce=\"0123456789abcdef\";keyid=\"1\";alg=\"ed25519\"";
        assert!(parse_input(ok).is_ok());
        for bad in [
            ok.replace("\"@query\" ", ""),
            ok.replace(";alg=\"ed25519\"", ""),
            ok.replace("ed25519", "rsa-pss-sha512"),
            ok.replace("0123456789abcdef", "short"),
            ok.replace(";keyid=\"1\"", ""),
            ok.replace("created=1", "created=x"),
            format!("{ok};expires=5"),
            format!("{ok};created=2"),
            format!("{ok}, sig2=()"),
        ] {
            assert!(parse_input(&bad).is_err(), "{bad}");
        }
        assert!(parse_signature("sig2=:AAAA:", "sig1").is_err());
        assert!(parse_signature("sig1=AAAA", "sig1").is_err());
    }
}
