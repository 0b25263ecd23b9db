//! Reading a request: its body within the route's limit, its JSON (the media type checked,
//! whole floats read as integers), its query, its bearer token, a UUID in its path.

use crate::problem::Problem;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use registry::Error;
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Problem> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::from(Error::TooLarge(
                "the body is over this endpoint's limit (see /openapi.json)".into(),
            ))
        } else {
            Problem::bad_request(format!("cannot read the body: {e}"))
        }
    })
}

/// A JSON body must say so: `Content-Type: application/json` (parameters such as
/// `; charset=utf-8` allowed) or an `application/*+json` type. Anything else, and no
/// Content-Type at all, is a 415: a web page can make a visitor's browser POST a body
/// without a Content-Type (`fetch(…, {mode: "no-cors", body: new Blob([json])})`) or as
/// `text/plain` with no CORS preflight, but never as `application/json` (issue 14,
/// finding 8) — so a cross-site page cannot file complaints or documents in a visitor's name.
pub(crate) fn check_json_type(headers: &HeaderMap) -> Result<(), Problem> {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not ASCII)"));
    let mime = sent
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if json {
        return Ok(());
    }
    Err(Problem::new(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        match sent {
            None => "this endpoint takes a JSON body: send `Content-Type: application/json` (no Content-Type was sent)".to_string(),
            Some(_) => format!(
                "this endpoint takes a JSON body: send `Content-Type: application/json`, not {:?}",
                mime.chars().take(80).collect::<String>()
            ),
        },
    ))
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).or_else(|e| {
        // JSON has one number type: `2.0` is the integer 2 to JSON Schema (and to the
        // OpenAPI document), so a body refused only for a whole number written with a
        // fraction is read again with such numbers as integers. Only refused bodies pay.
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .filter(has_whole_float)
            .and_then(|mut v| {
                whole_floats_as_integers(&mut v);
                serde_json::from_value(v).ok()
            })
            .ok_or_else(|| Problem::bad_request(format!("invalid JSON body: {e}")))
    })
}

/// Largest integer every `f64` between ±it spells exactly (2⁵³).
pub(crate) const EXACT_F64_INT: f64 = 9_007_199_254_740_992.0;

pub(crate) fn whole_float(n: &serde_json::Number) -> Option<i64> {
    let f = n.as_f64().filter(|_| n.is_f64())?;
    (f.fract() == 0.0 && f.abs() <= EXACT_F64_INT).then_some(f as i64)
}

pub(crate) fn has_whole_float(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => whole_float(n).is_some(),
        serde_json::Value::Array(a) => a.iter().any(has_whole_float),
        serde_json::Value::Object(o) => o.values().any(has_whole_float),
        _ => false,
    }
}

pub(crate) fn whole_floats_as_integers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(i) = whole_float(n) {
                *v = serde_json::Value::from(i);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(whole_floats_as_integers),
        serde_json::Value::Object(o) => o.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

pub(crate) fn query<T: DeserializeOwned>(raw: Option<String>) -> Result<T, Problem> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| Problem::bad_request(format!("bad query string: {e}")))
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A code that does not parse is a malformed request on verification (400, naming the
/// fault), not a refusal by the registry's rules.
pub(crate) fn malformed_code(p: Problem) -> Problem {
    if p.status != 422 {
        return p;
    }
    let mut b = Problem::bad_request(p.detail);
    b.errors = p.errors;
    b
}

pub(crate) fn parse_uuid(s: &str) -> Result<uuid::Uuid, Problem> {
    uuid::Uuid::parse_str(s).map_err(|_| Problem::not_found(format!("{s:?} is not an id")))
}

/// An empty JSON object.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Empty {}

/// The operator's requests about one participant: the admin token, a JSON body.
pub(crate) async fn admin_json<T: DeserializeOwned>(
    s: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Problem> {
    if !s.is_admin(headers) {
        return Err(Problem::from(Error::Forbidden(
            "this needs the operator's admin token".into(),
        )));
    }
    let body = body_bytes(body)?;
    if body.is_empty() {
        // No body (reinstate takes none): nothing to read, so no type to say.
        return parse_json(b"{}");
    }
    check_json_type(headers)?;
    parse_json(&body)
}

/// An optional RFC 3339 time parameter, as Unix seconds; a malformed one is a 400 naming it.
pub(crate) fn time_param(name: &str, v: Option<&str>) -> Result<Option<u64>, Problem> {
    v.map(|t| {
        types::time::parse_timestamp(t).ok_or_else(|| {
            Problem::bad_request(format!(
                "`{name}` must be an RFC 3339 time such as 2026-11-29T10:00:00Z"
            ))
        })
    })
    .transpose()
}
