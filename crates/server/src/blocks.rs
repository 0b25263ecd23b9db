//! Blocks: a regulator blocks (recalls) goods and lifts the block.

use crate::caller::Target;
use crate::problem::Problem;
use crate::request::body_bytes;
use crate::{answers, AppState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry::{Error, NewBlock};
use types::model::{Role, Signed};

#[utoipa::path(
    post,
    path = "/api/v1/blocks",
    tag = "blocks",
    summary = "Block a GTIN, a batch or codes (regulator)",
    description = "Access: a regulator (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`).",
    security(("bearer" = [])),
    params(
        crate::responses::SignatureHeaders,
    ),
    request_body = NewBlock,
    responses(
        (status = 201, description = "The block", body = types::model::Block),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::UnsupportedMediaType),
        (status = 422, response = crate::responses::Refused),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn create_block(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let (p, req, signed): (_, NewBlock, _) = s
        .signed_json(&Target { method, uri }, &headers, body)
        .await?;
    let reg = s.registry.clone();
    let b = s
        .blocking(move || reg.create_block_signed(&p, req, signed))
        .await?;
    Ok((StatusCode::CREATED, Json(b)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/blocks",
    tag = "blocks",
    summary = "All blocks (regulator)",
    description = "Access: a regulator (bearer token).",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The blocks", body = crate::answers::BlockList),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn list_blocks(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    if !p.has(Role::Regulator) {
        return Err(Problem::from(Error::Forbidden(
            "only regulators list blocks".into(),
        )));
    }
    let reg = s.registry.clone();
    let blocks = s.read(move || reg.blocks()).await?;
    Ok(Json(answers::BlockList { blocks }).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/v1/blocks/{id}",
    tag = "blocks",
    summary = "Lift a block (regulator)",
    description = "Access: a regulator (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). The body is empty.",
    security(("bearer" = [])),
    params(
        ("id" = u64, Path, description = "The block id"),
        crate::responses::SignatureHeaders,
    ),
    responses(
        (status = 200, description = "The block, lifted", body = types::model::Block),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 403, response = crate::responses::Forbidden),
        (status = 404, response = crate::responses::NotFound),
        (status = 409, response = crate::responses::Conflict),
        (status = 413, response = crate::responses::TooLarge),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn lift_block(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = body_bytes(body)?;
    let (p, request) = s.signer(&Target { method, uri }, &headers, &body).await?;
    let id: u64 = id
        .parse()
        .map_err(|_| Problem::not_found(format!("no block {id}")))?;
    let reg = s.registry.clone();
    let signed = Signed {
        request,
        body: body.to_vec(),
    };
    let b = s
        .blocking(move || reg.lift_block_signed(&p, id, signed))
        .await?;
    Ok(Json(b).into_response())
}
