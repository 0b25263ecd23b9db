//! What the OpenAPI document says of the requests and answers many operations share: the
//! signature headers, one reusable response per refusal (each an RFC 9457 problem), and raw
//! bytes. The handlers name these in their `#[utoipa::path]`; `openapi.rs` gathers the
//! handlers into the document.

use crate::problem::Problem;
use utoipa::{IntoParams, ToResponse};

/// The headers of a signed request (RFC 9421 with an RFC 9530 digest), documented on every
/// state-changing route of a participant.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documentation only: the handlers read the headers themselves.
pub(crate) struct SignatureHeaders {
    /// RFC 9530: sha-256=:<base64 SHA-256 of the body bytes (of the empty string when none)>: (a dictionary of several digests is accepted, sha-256 among them; sha-512 is checked too)
    #[param(rename = "Content-Digest")]
    content_digest: String,
    /// RFC 9421: sig1=("@method" "@path" "@query" "content-digest");created=<unix s>;nonce="<random, 16 to 128 chars>";keyid="<your TIN>";alg="ed25519". Those four components are the minimum: more may be covered (`@authority`, `content-type`, `@target-uri`, other headers) in any order, with `expires` and `tag`; a registry started with `--public-url` requires `"@authority"` (or `tag` = its public URL)
    #[param(rename = "Signature-Input")]
    signature_input: String,
    /// RFC 9421: sig1=:<base64 Ed25519 over the signature base (RFC 9421 §2.5)>:
    #[param(rename = "Signature")]
    signature: String,
}

/// The same headers where a signature is optional (read-only POSTs): one that is sent is
/// checked.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documentation only.
pub(crate) struct OptionalSignatureHeaders {
    /// RFC 9530: sha-256=:<base64 SHA-256 of the body bytes (of the empty string when none)>: (a dictionary of several digests is accepted, sha-256 among them; sha-512 is checked too)
    #[param(rename = "Content-Digest", nullable = false)]
    content_digest: Option<String>,
    /// RFC 9421: sig1=("@method" "@path" "@query" "content-digest");created=<unix s>;nonce="<random, 16 to 128 chars>";keyid="<your TIN>";alg="ed25519". Those four components are the minimum: more may be covered (`@authority`, `content-type`, `@target-uri`, other headers) in any order, with `expires` and `tag`; a registry started with `--public-url` requires `"@authority"` (or `tag` = its public URL)
    #[param(rename = "Signature-Input", nullable = false)]
    signature_input: Option<String>,
    /// RFC 9421: sig1=:<base64 Ed25519 over the signature base (RFC 9421 §2.5)>:
    #[param(rename = "Signature", nullable = false)]
    signature: Option<String>,
}

// The refusals, one reusable response per status, each an RFC 9457 problem.

/// Malformed request: not JSON, wrong types, missing or unknown fields, a bad query
/// parameter, a malformed code (`errors` names it).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct BadRequest(Problem);

/// No valid bearer token (or admin token), a suspended participant, or a missing or bad
/// request signature (`/problems/bad-signature`).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer`"))
)]
#[allow(dead_code)]
pub(crate) struct Unauthorized(Problem);

/// Signed in, but this role (or token) may not do this.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct Forbidden(Problem);

/// No such resource, or not one the caller may see.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct NotFound(Problem);

/// Conflicts with what exists: a document id reused with another body, a shipment accepted
/// twice, a TIN registered twice, an order not in the right status.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct Conflict(Problem);

/// The body, a list or a document is over its limit (a body announced larger than the
/// route takes is refused before it is read, and the connection closed).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct TooLarge(Problem);

/// Send `application/json`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct UnsupportedMediaType(Problem);

/// Well-formed, but refused by the registry's rules; `errors` names every bad code with a
/// stable reason.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct Refused(Problem);

/// Too many: requests (the public endpoints' per-address rate, requests in flight from one
/// address), failed crypto-tail checks, signed requests in the nonce window of one
/// participant, or active orders.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = String, description = "Seconds to wait (public endpoints' rate limit)"))
)]
#[allow(dead_code)]
pub(crate) struct TooMany(Problem);

/// The registry cannot answer now: the store or the writer failed (nothing was changed),
/// a projection is not running, or the server is at its connection cap or could not answer
/// in time (`/problems/busy`); retry.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct Unavailable(Problem);

/// The request's body did not arrive in time (`/problems/timeout`); the connection is
/// closed.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
#[allow(dead_code)]
pub(crate) struct Timeout(Problem);

/// Raw bytes, of the media type the content names: a log leaf, a photo, a PDF sheet, an
/// image to verify (not a JSON array of numbers).
pub(crate) struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::schema::KnownFormat::Binary,
            )))
            .description(Some("Raw bytes"))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}
