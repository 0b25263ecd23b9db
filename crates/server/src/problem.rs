//! RFC 9457 problem details: every refusal the API gives, in one shape.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use registry::{CodeError, Error};
use serde::Serialize;

/// An `application/problem+json` answer (RFC 9457).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI reference naming the problem kind (`/problems/{slug}`, served as text).
    #[serde(rename = "type")]
    #[schema(example = "/problems/refused")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What exactly went wrong.
    pub detail: String,
    /// Every bad code of a refused document, with a stable reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<CodeError>,
    /// Seconds to wait before retrying, sent as `Retry-After` (not in the body). Every 503
    /// carries one (1 s when not set).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl Problem {
    /// A problem of a given status, slug, title and detail.
    pub fn new(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_string(),
            status,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 400 Malformed request.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::from(Error::BadRequest(detail.into()))
    }

    /// 401 Not signed in.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::from(Error::Unauthorized(detail.into()))
    }

    /// 404 Not found.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::from(Error::NotFound(detail.into()))
    }
}

/// `Retry-After` (seconds) of a write refused for a full disk: room comes back when an
/// operator frees it, not in a second.
pub const STORAGE_FULL_RETRY_AFTER_SECS: u32 = 30;

/// A refusal's HTTP shape: status, problem slug and title. The domain's errors know
/// nothing of HTTP; this is where they get a status.
pub fn shape(e: &Error) -> (u16, &'static str, &'static str) {
    match e {
        Error::BadRequest(_) => (400, "bad-request", "Malformed request"),
        Error::Unauthorized(_) => (401, "unauthorized", "Not signed in"),
        Error::Forbidden(_) => (403, "forbidden", "Not allowed"),
        Error::NotFound(_) => (404, "not-found", "Not found"),
        Error::Conflict(_) => (409, "conflict", "Conflict"),
        Error::TooLarge(_) => (413, "too-large", "Too large"),
        Error::Invalid { .. } => (422, "refused", "Refused by the registry's rules"),
        Error::TooMany(_) => (429, "too-many", "Too many"),
        Error::Unavailable(_) => (503, "unavailable", "Temporarily unavailable"),
        Error::StorageFull(_) => (503, "storage-full", "Storage full"),
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Problem {
        let (status, slug, title) = shape(&e);
        let mut p = Problem::new(status, slug, title, e.to_string());
        if let Error::StorageFull(_) = e {
            p.retry_after = Some(STORAGE_FULL_RETRY_AFTER_SECS);
        }
        if let Error::Invalid { errors, .. } = e {
            p.errors = errors;
        }
        p
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut r = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        let retry = match self.retry_after {
            Some(s) => Some(s),
            None => (status == StatusCode::SERVICE_UNAVAILABLE).then_some(1),
        };
        if let Some(s) = retry {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
        }
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// The problem kinds, for `GET /problems/{slug}` and the OpenAPI document.
pub const KINDS: &[(&str, u16, &str)] = &[
    ("bad-request", 400, "The request is malformed: not JSON, wrong types, missing or unknown fields, a bad query parameter."),
    ("unauthorized", 401, "No valid bearer token (missing, expired, of a suspended participant, or from before a key rotation, suspension or reinstatement), or a sign-in signature that does not verify."),
    ("bad-signature", 401, "The request's RFC 9421 signature is missing or wrong: Content-Digest, Signature-Input and Signature must cover @method, @path, @query and content-digest, with created within 300 s, a nonce never used before, keyid your TIN and alg ed25519, signed with your current key."),
    ("forbidden", 403, "Signed in, but this role may not do this."),
    ("not-found", 404, "No such resource, or not one the caller may see."),
    ("method-not-allowed", 405, "The path exists but not with this method."),
    ("conflict", 409, "Conflicts with what exists: a document id reused with another body, a shipment accepted twice, a TIN registered twice."),
    ("too-large", 413, "The body, a list or a document is over its limit (30,000 codes per document, 1,000 per query)."),
    ("unsupported-media-type", 415, "Send application/json (images: image/jpeg or image/png)."),
    ("timeout", 408, "The request's body did not arrive in time (see the serving limits); the connection is closed."),
    ("no-code-found", 422, "No Data Matrix or QR code with a GS1 marking code could be read in the image (`errors[0].reason`: `no_code_found` or `not_gs1`); try a sharper, closer picture."),
    ("refused", 422, "Well-formed, but refused by the registry's rules; `errors` names every bad code with a stable reason."),
    ("too-many", 429, "Too many requests (per address, or in flight from one address), active orders, codes waiting for production, signed requests in ten minutes, or failed crypto-tail checks."),
    ("internal", 500, "A bug: reported and logged; nothing was changed."),
    ("unavailable", 503, "The store failed; nothing was changed; retry."),
    ("storage-full", 503, "The registry's disk is full (the embedded store keeps a reserve free: `/health` shows `disk`); nothing was changed. Writes resume by themselves once there is room: retry after `Retry-After` seconds. Reads still answer."),
    ("not-writer", 503, "This server reads the registry's shared database but does not hold the writer's lease: send the change to the writer named in `writer` (when known), or retry after `Retry-After` seconds (a reader takes over a dead writer's lease within seconds). Nothing was changed."),
    ("busy", 503, "The server is at its connection limit, its store's readers or write slots are saturated, or it could not answer in time; retry after `Retry-After` seconds. A request that timed out may have taken effect: resend the same one (documents are idempotent by id)."),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A write refused for a full disk says so, with a `Retry-After` that gives an
    /// operator time to free space; other 503s keep theirs.
    #[test]
    fn a_full_disk_is_storage_full_with_a_longer_retry_after() {
        let r = Problem::from(Error::StorageFull("no room".into())).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            r.headers()[header::RETRY_AFTER],
            STORAGE_FULL_RETRY_AFTER_SECS.to_string().as_str()
        );
        let p = Problem::from(Error::StorageFull("no room".into()));
        assert_eq!(p.kind, "/problems/storage-full");
        assert!(KINDS
            .iter()
            .any(|(slug, status, _)| *slug == "storage-full" && *status == 503));
        let r = Problem::from(Error::Unavailable("down".into())).into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
