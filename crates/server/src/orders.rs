//! Code orders: created, read, their codes fetched in pages, closed.

use crate::caller::Target;
use crate::problem::Problem;
use crate::request::{body_bytes, parse_uuid, query};
use crate::{answers, AppState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry::NewOrder;
use serde::Deserialize;
use types::model::Signed;

#[utoipa::path(
    post,
    path = "/api/v1/orders",
    tag = "orders",
    summary = "Order codes; produced in the background",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). A producer or importer, for a product card it owns; at most 100 active orders. Poll the order until `ready`, then read its codes in pages.",
    security(("bearer" = [])),
    params(
        crate::responses::SignatureHeaders,
    ),
    request_body = NewOrder,
    responses(
        (status = 202, description = "Accepted; produced in the background", body = crate::answers::OrderView, headers(("Location" = String, description = "Where to read it"))),
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
pub(crate) async fn create_order(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let (p, req, signed): (_, NewOrder, _) = s
        .signed_json(&Target { method, uri }, &headers, body)
        .await?;
    let reg = s.registry.clone();
    let o = s
        .blocking(move || reg.create_order_signed(&p, req, signed))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/orders/{}", o.id))],
        Json(answers::OrderView::from(&o)),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}",
    tag = "orders",
    summary = "An order",
    description = "Access: a participant (bearer token). The participant that ordered (others are 404).",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The order id (UUID)"),
    ),
    responses(
        (status = 200, description = "The order", body = crate::answers::OrderView),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn get_order(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let p = s.caller(&headers).await?;
    let id = parse_uuid(&id)?;
    let reg = s.registry.clone();
    let o = s.read(move || reg.order(&p, &id)).await?;
    Ok(Json(answers::OrderView::from(&o)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The first code's position in the order (0 when absent).
    #[serde(default)]
    pub(crate) offset: Option<u32>,
    /// Codes in the page (1,000 when absent; at most 10,000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 10000)]
    pub(crate) limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/codes",
    tag = "orders",
    summary = "A page of an order's codes (?offset=&limit=, limit ≤ 10,000)",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest` of the empty body, `Signature-Input`, `Signature`): the codes carry their crypto tails, which a bearer token alone never reveals (401 unsigned). The participant that ordered (others are 404). Full codes: identification code, GS, tail (GS written `\\u001d` in JSON).",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The order id (UUID)"),
        PageQuery,
        crate::responses::SignatureHeaders,
    ),
    responses(
        (status = 200, description = "A page", body = registry::OrderCodes),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 409, response = crate::responses::Conflict),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn order_codes(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, Problem> {
    let t = Target { method, uri };
    let p = s.tail_reader(&t, &headers).await?;
    let id = parse_uuid(&id)?;
    let q: PageQuery = query(q)?;
    let reg = s.registry.clone();
    let page = s
        .read(move || reg.order_codes(&p, &id, q.offset.unwrap_or(0), q.limit.unwrap_or(1_000)))
        .await?;
    Ok(Json(page).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/orders/{id}/close",
    tag = "orders",
    summary = "Close a ready order",
    description = "Access: a participant (bearer token), the request signed (RFC 9421: `Content-Digest`, `Signature-Input`, `Signature`). The participant that ordered. The body is empty.",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The order id (UUID)"),
        crate::responses::SignatureHeaders,
    ),
    responses(
        (status = 200, description = "The order, closed", body = crate::answers::OrderView),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 409, response = crate::responses::Conflict),
        (status = 413, response = crate::responses::TooLarge),
        (status = 429, response = crate::responses::TooMany),
        (status = 503, response = crate::responses::Unavailable),
    )
)]
pub(crate) async fn close_order(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = body_bytes(body)?;
    let (p, request) = s.signer(&Target { method, uri }, &headers, &body).await?;
    let id = parse_uuid(&id)?;
    let reg = s.registry.clone();
    let signed = Signed {
        request,
        body: body.to_vec(),
    };
    let o = s
        .blocking(move || reg.close_order_signed(&p, &id, signed))
        .await?;
    Ok(Json(answers::OrderView::from(&o)).into_response())
}
