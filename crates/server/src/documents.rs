//! Documents: submitted signed, read back.

use crate::caller::Target;
use crate::problem::Problem;
use crate::request::{body_bytes, check_json_type, parse_uuid};
use crate::{answers, AppState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry::Error;

#[utoipa::path(
    post,
    path = "/api/v1/documents",
    tag = "documents",
    summary = "Submit a signed document (all-or-nothing, idempotent by id)",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). Every code is checked; one bad code refuses the whole document (422, `errors` naming every bad code) and nothing changes. The same id with the same body answers the same again; the same id with another body is 409.",
    security(("bearer" = [])),
    params(
        crate::responses::SignatureHeaders,
    ),
    request_body = registry::documents::RawDocument,
    responses(
        (status = 201, description = "Accepted", body = registry::DocAnswer, headers(("Location" = String, description = "Where to read it"))),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 409, response = crate::responses::Conflict),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 422, response = crate::responses::Refused),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn submit_document(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    check_json_type(&headers)?;
    let body = body_bytes(body)?;
    let (p, sig) = s.signer(&Target { method, uri }, &headers, &body).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    // The document is read (JSON, every code parsed) on the blocking pool: a 16 MiB body
    // must not hold an async thread that verification requests are waiting on.
    let reg = s.registry.clone();
    s.blocking(move || {
        reg.submit_document_then(&p, body.to_vec(), sig, move |r| {
            let _ = tx.send(r);
        })
    })
    .await?;
    let answer = rx
        .await
        .map_err(|_| Problem::from(Error::Unavailable("the writer stopped".into())))?;
    match answer {
        Ok(a) => {
            metrics::counter!("tracemark_documents_accepted_total").increment(1);
            metrics::counter!("tracemark_code_events_total").increment(a.codes);
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, format!("/api/v1/documents/{}", a.id))],
                Json(a),
            )
                .into_response())
        }
        Err(e) => {
            metrics::counter!("tracemark_documents_refused_total").increment(1);
            Err(Problem::from(e))
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    summary = "A document with its legal record (body and signature)",
    description = "Access: a participant (bearer token). Its submitter, the receiver of a `ship` document, or a regulator (others are 404). The codes' crypto tails (AI 91/92/93) are returned only to the submitter (and a shipment's receiver) in a signed request (RFC 9421: `Content-Digest` of the empty body, `Signature-Input`, `Signature`; one sent is checked, 401 when bad); everyone else, and a request with the bearer token alone, reads every code by its identification code: `redacted` is then `true`, `redaction` says why, and `signature` and `body_base64` (the exact bytes, tails included) are left out. The stored record never changes.",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The document id (UUID)"),
        crate::responses::OptionalSignatureHeaders,
    ),
    responses(
        (status = 200, description = "The document", body = crate::answers::DocumentRecord),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn get_document(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    // A signature is not needed to read a document, but only a signed request of its
    // author (or a shipment's receiver) gets the codes' crypto tails; one sent is checked.
    let t = Target { method, uri };
    let signed = s.check_signature(&p, &t, &headers, b"").await?.is_some();
    let id = parse_uuid(&id)?;
    let reg = s.registry.clone();
    // Parsing and redacting up to 30,000 codes is CPU work: on the blocking pool.
    let record = s
        .read(move || {
            reg.document_view(&p, &id, signed)
                .map(|v| answers::DocumentRecord::from(&v))
        })
        .await?;
    Ok(Json(record).into_response())
}
