//! HTTP Message Signatures (RFC 9421) with `Content-Digest` (RFC 9530), the profile of
//! API.md ("Identity and signatures"): one signature (any label), covering at least
//! `"@method"`, `"@path"`, `"@query"` and `"content-digest"` and whatever else the signer
//! chose (`"@authority"`, `"content-type"`, `"@target-uri"`, other header fields, in any
//! order), with `created`, `nonce`, `keyid` (the participant's TIN), `alg="ed25519"` (or no
//! `alg`: the key says it), and optionally `expires` and `tag`.
//!
//! The headers are Structured Fields (RFC 8941) and are parsed as such with the `sfv` crate
//! (maintained, RFC 8941/9651, the parser the IETF's test suite is run against): independent
//! signers put optional whitespace after `;`, drop base64 padding, send several digests in
//! one `Content-Digest` dictionary — all legal, and all things a hand-written splitter got
//! wrong. The `@signature-params` line of the base is the *canonical serialization* of the
//! parsed member (RFC 9421 §2.3), not the bytes as received, so a signer that wrote
//! `; nonce=` signed what every other implementation signs.
//!
//! What the profile still refuses (it needs to): fewer than the four required components,
//! component parameters (`;sf`, `;key`, `;bs`, `;req`, `;name`: nothing here needs them),
//! `@query-param` and `@status`, an `alg` other than `ed25519`, a nonce shorter than
//! [`NONCE_LEN_MIN`], an `expires` in the past, and more than one signature.
//! The same functions sign (the client, the bench) and verify (the server).

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sfv::{BareItem, Dictionary, FieldType, ListEntry, Parser};
use sha2::{Digest, Sha256, Sha512};

/// How far a signature's `created` may be from the registry's clock, seconds.
pub const CREATED_SKEW_SECS_MAX: u64 = 300;
/// Shortest nonce accepted (characters).
pub const NONCE_LEN_MIN: usize = 16;
/// Longest nonce accepted (characters): a nonce is remembered, so it is bounded.
pub const NONCE_LEN_MAX: usize = 128;
/// Longest `Signature-Input` / `Signature` / `Content-Digest` header value accepted: room
/// for two dozen covered components and several digests, far below the header limits.
pub const HEADER_LEN_MAX: usize = 4_096;
/// Most components one signature may cover: each is one line of the base to build; no
/// honest signer covers more than a handful.
pub const COMPONENTS_MAX: usize = 24;
/// Longest `tag` accepted (a deployment's URL).
pub const TAG_LEN_MAX: usize = 512;
/// The covered components every signature must include (in any order), and the order in
/// which [`sign`] covers them.
pub const COMPONENTS: [&str; 4] = ["@method", "@path", "@query", "content-digest"];
/// Derived components (RFC 9421 §2.2) this registry can rebuild from a request.
pub const DERIVED: [&str; 7] = [
    "@method",
    "@path",
    "@query",
    "@authority",
    "@scheme",
    "@target-uri",
    "@request-target",
];

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

/// A parsed `Signature-Input` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigInput {
    /// The label (`sig1`, or whatever the signer chose).
    pub label: String,
    /// The canonical serialization of the member's value: the `@signature-params` line
    /// of the base.
    pub params: String,
    /// The covered components, in the signer's order.
    pub components: Vec<String>,
    /// `created` (Unix seconds).
    pub created: u64,
    /// `expires` (Unix seconds), if given.
    pub expires: Option<u64>,
    /// `nonce`.
    pub nonce: String,
    /// `keyid`: the signer's TIN.
    pub keyid: String,
    /// `tag`, if given (a deployment's public URL, say).
    pub tag: Option<String>,
}

impl SigInput {
    /// Whether the signature covers component `name`.
    pub fn covers(&self, name: &str) -> bool {
        self.components.iter().any(|c| c == name)
    }
}

/// The request parts a signature covers (the fixed four-component profile).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Method, upper case (`POST`).
    pub method: &'a str,
    /// The path as sent, percent-encoding kept.
    pub path: &'a str,
    /// The query as sent, without `?` (`None` or empty: none).
    pub query: Option<&'a str>,
}

/// A request as the verifier sees it, for any covered component.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// Method, path and query.
    pub target: Target<'a>,
    /// `http` or `https`: the scheme the signer used (the public URL's, behind a proxy).
    pub scheme: &'a str,
    /// The request's authority (the `Host` header, or the absolute-form URI's).
    pub authority: Option<&'a str>,
    /// The header fields.
    pub headers: &'a HeaderMap,
}

/// The RFC 9421 §2.5 signature base of the fixed four-component profile (what [`sign`]
/// signs and API.md shows line by line).
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

/// A deployment's public address (`serve --public-url`): requests signed for it cover its
/// authority (`"@authority"`) or name it in `tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// The URL as given, without a trailing `/` (what `tag` must equal).
    pub url: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Host and port as `"@authority"` carries them (lower case, no default port).
    pub authority: String,
}

impl PublicUrl {
    /// Parses `http(s)://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<PublicUrl, String> {
        let url = url.trim().trim_end_matches('/');
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?} is not a URL: give http(s)://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("{url:?}: the scheme must be http or https"));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.is_empty()
            || authority.contains('@')
            || !authority.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(format!("{url:?} has no host"));
        }
        Ok(PublicUrl {
            url: url.to_string(),
            authority: normalize_authority(&scheme, authority),
            scheme,
        })
    }

    /// Whether a verified signature was made for this deployment: it covers `"@authority"`
    /// (whose value, the request's `Host`, must then be this deployment's) or its `tag` is
    /// this URL.
    pub fn check(&self, i: &SigInput, request_authority: Option<&str>) -> Result<(), SigError> {
        let tag_ok = i
            .tag
            .as_deref()
            .is_some_and(|t| t.trim_end_matches('/') == self.url);
        if i.covers("@authority") || i.covers("@target-uri") {
            let got = request_authority
                .map(|a| normalize_authority(&self.scheme, a))
                .unwrap_or_default();
            if got != self.authority {
                return Err(bad(format!(
                    "the signature covers the authority {got:?}, not this registry's {:?}",
                    self.authority
                )));
            }
            return Ok(());
        }
        if tag_ok {
            return Ok(());
        }
        Err(bad(format!(
            "this registry is {}: cover \"@authority\" ({}) in the signature, or set tag=\"{}\", \
             so that the request cannot be replayed on another deployment",
            self.url, self.authority, self.url
        )))
    }
}

/// An authority as RFC 9421 §2.2.3 wants it: lower case, without the scheme's default port.
pub fn normalize_authority(scheme: &str, authority: &str) -> String {
    let a = authority.trim().to_ascii_lowercase();
    let default = match scheme {
        "https" => ":443",
        _ => ":80",
    };
    a.strip_suffix(default).map(str::to_string).unwrap_or(a)
}

/// The value of one covered component of `m` (RFC 9421 §2.1, §2.2).
pub fn component_value(m: &Message<'_>, name: &str) -> Result<String, SigError> {
    let t = m.target;
    let path = if t.path.is_empty() { "/" } else { t.path };
    let query = t.query.filter(|q| !q.is_empty());
    let authority = || {
        m.authority
            .map(|a| normalize_authority(m.scheme, a))
            .ok_or_else(|| bad("the signature covers \"@authority\" but the request has no Host"))
    };
    Ok(match name {
        "@method" => t.method.to_string(),
        "@path" => path.to_string(),
        "@query" => format!("?{}", query.unwrap_or("")),
        "@scheme" => m.scheme.to_ascii_lowercase(),
        "@authority" => authority()?,
        "@request-target" => match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        },
        "@target-uri" => format!(
            "{}://{}{}{}",
            m.scheme.to_ascii_lowercase(),
            authority()?,
            path,
            query.map(|q| format!("?{q}")).unwrap_or_default()
        ),
        d if d.starts_with('@') => {
            return Err(bad(format!(
                "Signature-Input: the derived component {d:?} is not accepted (accepted: {})",
                DERIVED.join(", ")
            )))
        }
        field => {
            let mut values = Vec::new();
            for v in m.headers.get_all(field) {
                let v = v
                    .to_str()
                    .map_err(|_| bad(format!("the covered header {field} is not visible ASCII")))?;
                values.push(v.trim());
            }
            if values.is_empty() {
                return Err(bad(format!(
                    "the signature covers the header {field:?}, which the request does not carry"
                )));
            }
            values.join(", ")
        }
    })
}

/// The RFC 9421 §2.5 signature base of `m` for the components `i` covers.
pub fn base(m: &Message<'_>, i: &SigInput) -> Result<String, SigError> {
    let mut out = String::new();
    for c in &i.components {
        out.push_str(&format!("\"{c}\": {}\n", component_value(m, c)?));
    }
    out.push_str("\"@signature-params\": ");
    out.push_str(&i.params);
    Ok(out)
}

fn dictionary(name: &str, value: &str) -> Result<Dictionary, SigError> {
    if value.len() > HEADER_LEN_MAX {
        return Err(bad(format!(
            "{name} is too long (over {HEADER_LEN_MAX} bytes)"
        )));
    }
    Parser::new(value)
        .with_version(sfv::Version::Rfc8941)
        .parse::<Dictionary>()
        .map_err(|e| {
            bad(format!(
                "{name} is not a Structured Field dictionary (RFC 8941): {e}"
            ))
        })
}

fn non_negative(k: &str, v: &BareItem) -> Result<u64, SigError> {
    v.as_integer()
        .and_then(|i| u64::try_from(i64::from(i)).ok())
        .ok_or_else(|| {
            bad(format!(
                "Signature-Input: {k} must be Unix seconds (an integer)"
            ))
        })
}

fn text(k: &str, v: &BareItem) -> Result<String, SigError> {
    v.as_string()
        .map(|s| s.as_str().to_string())
        .ok_or_else(|| bad(format!("Signature-Input: {k} must be a quoted string")))
}

/// Parses a `Signature-Input` header value of this profile.
pub fn parse_input(value: &str) -> Result<SigInput, SigError> {
    let dict = dictionary("Signature-Input", value)?;
    if dict.len() != 1 {
        return Err(bad(format!(
            "Signature-Input: exactly one signature is accepted ({} given)",
            dict.len()
        )));
    }
    let Some((label, entry)) = dict.iter().next() else {
        return Err(bad("Signature-Input is empty"));
    };
    let ListEntry::InnerList(list) = entry else {
        return Err(bad(
            "Signature-Input: the covered components go in parentheses: sig1=(\"@method\" …);created=…",
        ));
    };
    if list.items.len() > COMPONENTS_MAX {
        return Err(bad(format!(
            "Signature-Input: at most {COMPONENTS_MAX} covered components"
        )));
    }
    let mut components: Vec<String> = Vec::with_capacity(list.items.len());
    for item in &list.items {
        let name = item
            .bare_item
            .as_string()
            .map(|s| s.as_str().to_string())
            .ok_or_else(|| bad("Signature-Input: each covered component is a quoted string"))?;
        if !item.params.is_empty() {
            return Err(bad(format!(
                "Signature-Input: component parameters (on {name:?}) are not accepted"
            )));
        }
        if name.is_empty()
            || name.bytes().any(|b| b.is_ascii_uppercase())
            || !name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            return Err(bad(format!(
                "Signature-Input: {name:?} is not a component name (lower case, RFC 9421 §2)"
            )));
        }
        if components.contains(&name) {
            return Err(bad(format!("Signature-Input: {name:?} is covered twice")));
        }
        components.push(name);
    }
    let missing: Vec<&str> = COMPONENTS
        .iter()
        .copied()
        .filter(|c| !components.iter().any(|x| x == c))
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "Signature-Input must cover at least (\"@method\" \"@path\" \"@query\" \"content-digest\"); missing: {}",
            missing.join(", ")
        )));
    }
    let (mut created, mut expires, mut nonce, mut keyid, mut alg, mut tag) =
        (None, None, None, None, None, None);
    for (k, v) in &list.params {
        match k.as_str() {
            "created" => created = Some(non_negative("created", v)?),
            "expires" => expires = Some(non_negative("expires", v)?),
            "nonce" => nonce = Some(text("nonce", v)?),
            "keyid" => keyid = Some(text("keyid", v)?),
            "alg" => alg = Some(text("alg", v)?),
            "tag" => tag = Some(text("tag", v)?),
            // Other parameters are signed like the rest (they are in the base) and mean
            // nothing to this registry.
            _ => {}
        }
    }
    let created = created.ok_or_else(|| bad("Signature-Input: created is required"))?;
    let nonce = nonce.ok_or_else(|| bad("Signature-Input: nonce is required"))?;
    let keyid = keyid.ok_or_else(|| bad("Signature-Input: keyid (your TIN) is required"))?;
    if alg.as_deref().is_some_and(|a| a != "ed25519") {
        return Err(bad(
            "Signature-Input: alg must be \"ed25519\" (or left out: the key is Ed25519)",
        ));
    }
    if expires.is_some_and(|e| e < created) {
        return Err(bad("Signature-Input: expires is before created"));
    }
    if tag.as_ref().is_some_and(|t| t.len() > TAG_LEN_MAX) {
        return Err(bad(format!(
            "Signature-Input: tag is over {TAG_LEN_MAX} characters"
        )));
    }
    let n = nonce.chars().count();
    if !(NONCE_LEN_MIN..=NONCE_LEN_MAX).contains(&n) || !nonce.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad(format!(
            "Signature-Input: nonce must be {NONCE_LEN_MIN} to {NONCE_LEN_MAX} printable characters"
        )));
    }
    // A List of this one inner list serializes exactly as the inner list does.
    let params = vec![entry.clone()]
        .serialize()
        .ok_or_else(|| bad("Signature-Input: the member cannot be serialized"))?;
    Ok(SigInput {
        label: label.as_str().to_string(),
        params,
        components,
        created,
        expires,
        nonce,
        keyid,
        tag,
    })
}

/// The 64 signature bytes of a `Signature` header value for `label` (a byte sequence,
/// with or without base64 padding).
pub fn parse_signature(value: &str, label: &str) -> Result<[u8; 64], SigError> {
    let dict = dictionary("Signature", value)?;
    let (_, entry) = dict
        .iter()
        .find(|(k, _)| k.as_str() == label)
        .ok_or_else(|| {
            bad(format!(
                "Signature has no member {label:?} (Signature-Input's label)"
            ))
        })?;
    let ListEntry::Item(item) = entry else {
        return Err(bad("Signature: the value is a byte sequence :<base64>:"));
    };
    item.bare_item
        .as_byte_sequence()
        .ok_or_else(|| bad("Signature: the value is a byte sequence :<base64>:"))
        .and_then(|b| <[u8; 64]>::try_from(b).map_err(|_| bad("Signature: not base64 of 64 bytes")))
}

/// Checks `digest_header` (RFC 9530: a dictionary of algorithm → byte sequence) against
/// `body`: `sha-256` must be among the digests and match; `sha-512`, when given, must match
/// too; other algorithms are ignored, as RFC 9530 §2 lets a recipient do.
pub fn check_digest(digest_header: &str, body: &[u8]) -> Result<(), SigError> {
    let dict = dictionary("Content-Digest", digest_header)?;
    let digest_of = |alg: &str| -> Result<Option<Vec<u8>>, SigError> {
        match dict.iter().find(|(k, _)| k.as_str() == alg) {
            None => Ok(None),
            Some((_, ListEntry::Item(i))) => i
                .bare_item
                .as_byte_sequence()
                .map(|b| Some(b.to_vec()))
                .ok_or_else(|| bad(format!("Content-Digest: {alg} is not a byte sequence"))),
            Some(_) => Err(bad(format!("Content-Digest: {alg} is not a byte sequence"))),
        }
    };
    let sha256 = digest_of("sha-256")?.ok_or_else(|| {
        bad("Content-Digest must include sha-256=:<base64 SHA-256 of the body bytes>:")
    })?;
    if sha256 != Sha256::digest(body).as_slice() {
        return Err(bad(
            "Content-Digest: sha-256 is not the SHA-256 of this body's bytes",
        ));
    }
    if let Some(sha512) = digest_of("sha-512")? {
        if sha512 != Sha512::digest(body).as_slice() {
            return Err(bad(
                "Content-Digest: sha-512 is not the SHA-512 of this body's bytes",
            ));
        }
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
        "the signature does not verify: sign the RFC 9421 signature base (each covered \
         component, then @signature-params) with your registered key",
    ))
}

/// The three headers that sign a request: `(Content-Digest, Signature-Input, Signature)`,
/// covering the four required components.
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

/// As [`sign`], also covering `"@authority"` (`authority` as the request's `Host` carries
/// it, without the scheme's default port: see [`normalize_authority`]): what a registry
/// started with `--public-url` requires, so that the request cannot be replayed on another
/// deployment. Accepted by every registry.
pub fn sign_for(
    key: &SigningKey,
    tin: &str,
    t: Target<'_>,
    authority: &str,
    body: &[u8],
    created: u64,
    nonce: &str,
) -> (String, String, String) {
    let digest = content_digest(body);
    let params = format!(
        "(\"@method\" \"@authority\" \"@path\" \"@query\" \"content-digest\");created={created};nonce=\"{nonce}\";keyid=\"{tin}\";alg=\"ed25519\""
    );
    let path = if t.path.is_empty() { "/" } else { t.path };
    let base = format!(
        "\"@method\": {}\n\"@authority\": {}\n\"@path\": {}\n\"@query\": ?{}\n\"content-digest\": {}\n\"@signature-params\": {}",
        t.method,
        authority.trim().to_ascii_lowercase(),
        path,
        t.query.unwrap_or(""),
        digest,
        params
    );
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

    fn message<'a>(h: &'a HeaderMap) -> Message<'a> {
        Message {
            target: target(),
            scheme: "http",
            authority: Some("registry.example:8080"),
            headers: h,
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
        assert_eq!(format!("sig1={}", i.params), input, "canonical already");
        let s = parse_signature(&sig, &i.label).expect("sig");
        check_digest(&digest, body).expect("digest");
        verify(&signature_base(target(), &digest, &i.params), &s, &[pk]).expect("verifies");
        let mut h = HeaderMap::new();
        h.insert("content-digest", digest.parse().expect("value"));
        assert_eq!(
            base(&message(&h), &i).expect("base"),
            signature_base(target(), &digest, &i.params)
        );
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
        // The exact base API.md shows.
        assert_eq!(
            signature_base(target(), "sha-256=:X:", "(…)"),
            "\"@method\": POST\n\"@path\": /api/v1/documents\n\"@query\": ?\n\"content-digest\": sha-256=:X:\n\"@signature-params\": (…)"
        );
    }

    #[test]
    fn sign_for_covers_the_authority() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let (digest, input, sig) = sign_for(
            &key,
            "7701",
            target(),
            "Registry.Example:8080",
            b"{}",
            5,
            "nonce-0123456789ab",
        );
        let i = parse_input(&input).expect("input");
        assert!(i.covers("@authority"));
        let mut h = HeaderMap::new();
        h.insert("content-digest", digest.parse().expect("value"));
        let s = parse_signature(&sig, &i.label).expect("sig");
        let b = base(&message(&h), &i).expect("base");
        verify(&b, &s, &[key.verifying_key().to_bytes()]).expect("verifies");
    }

    #[test]
    fn accepts_what_rfc_8941_allows() {
        let ok = "sig1=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;nonce=\"0123456789abcdef\";keyid=\"1\";alg=\"ed25519\"";
        let canonical = parse_input(ok).expect("ok").params;
        // Whitespace after `;` and around the list's items, another order, more
        // components, expires and tag, another label.
        let spaced = "pyhttpsig=( \"content-digest\"  \"@method\" \"@path\" \"@query\" );created=1; nonce=\"0123456789abcdef\"; keyid=\"1\"";
        let i = parse_input(spaced).expect("spaced");
        assert_eq!(i.label, "pyhttpsig");
        assert_eq!(
            i.params,
            "(\"content-digest\" \"@method\" \"@path\" \"@query\");created=1;nonce=\"0123456789abcdef\";keyid=\"1\""
        );
        let more = ok.replace("\"@query\" ", "\"@query\" \"@authority\" \"content-type\" ")
            + ";expires=99;tag=\"https://a.example\"";
        let i = parse_input(&more).expect("more");
        assert_eq!(
            (i.expires, i.tag.as_deref()),
            (Some(99), Some("https://a.example"))
        );
        assert_ne!(i.params, canonical);
        // Padding-free base64.
        let sig = STANDARD.encode([1u8; 64]);
        let unpadded = format!("sig1=:{}:", sig.trim_end_matches('='));
        assert_eq!(
            parse_signature(&unpadded, "sig1").expect("unpadded"),
            [1; 64]
        );
        // Several digests.
        let body = b"{}";
        let both = format!(
            "sha-512=:{}:, sha-256=:{}:",
            STANDARD.encode(Sha512::digest(body)),
            STANDARD.encode(Sha256::digest(body))
        );
        check_digest(&both, body).expect("both");
        let wrong512 = format!(
            "sha-256=:{}:, sha-512=:{}:",
            STANDARD.encode(Sha256::digest(body)),
            STANDARD.encode(Sha512::digest(b"x"))
        );
        assert!(check_digest(&wrong512, body).is_err());
        assert!(check_digest(
            &format!("sha-512=:{}:", STANDARD.encode(Sha512::digest(body))),
            body
        )
        .is_err());
    }

    #[test]
    fn refuses_other_profiles() {
        let ok = "sig1=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1;nonce=\"0123456789abcdef\";keyid=\"1\";alg=\"ed25519\"";
        assert!(parse_input(ok).is_ok());
        for bad in [
            ok.replace("\"@query\" ", ""),
            ok.replace("\"content-digest\"", "\"content-type\""),
            ok.replace("ed25519", "rsa-pss-sha512"),
            ok.replace("0123456789abcdef", "short"),
            ok.replace(";keyid=\"1\"", ""),
            ok.replace(";created=1", ""),
            ok.replace("created=1", "created=x"),
            ok.replace("created=1", "created=-1"),
            ok.replace("\"@method\"", "\"@method\";req"),
            ok.replace("\"@path\"", "\"@path\" \"@path\""),
            ok.replace("\"@path\"", "\"@path\" \"Host\""),
            format!("{ok};expires=0"),
            format!("{ok}, sig2=()"),
            "sig1=\"@method\"".to_string(),
            "not a dictionary ((".to_string(),
        ] {
            assert!(parse_input(&bad).is_err(), "{bad}");
        }
        assert!(parse_signature("sig2=:AAAA:", "sig1").is_err());
        assert!(parse_signature("sig1=AAAA", "sig1").is_err());
        let h = HeaderMap::new();
        let i =
            parse_input(&ok.replace("\"@query\"", "\"@query\" \"@query-param\"")).expect("parses");
        assert!(
            base(&message(&h), &i).is_err(),
            "@query-param is not rebuilt"
        );
        let i = parse_input(&ok.replace("\"@query\"", "\"@query\" \"x-missing\"")).expect("parses");
        assert!(
            base(&message(&h), &i).is_err(),
            "a header the request lacks"
        );
    }
}
